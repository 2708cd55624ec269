//! The plugin behind the ABI: what each entry point does, in plain Rust.

use std::fs;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use oauth2::AuthorizationCode;
use serde::Deserialize;
use serde_json::{json, Value};

use crate::clock;
use crate::config::{self, HostConfig};
use crate::console::Console;
use crate::decode;
use crate::delivery::{Deliverer, TenantDirectory};
use crate::error::Error;
use crate::events::{self, EventKind};
use crate::oauth::{CallbackQuery, Connections, PreviousOrg};
use crate::queue::Queue;
use crate::salesforce::{Transport, TransportConfig, UreqTransport};
use crate::settings::TenantSettings;
use crate::sync::engine::SyncEngine;
use crate::workers::{Hold, Notify, Workers};

/// Failures shown by `status`, at most.
const FAILURES_SHOWN: usize = 50;

pub struct Service {
    config: HostConfig,
    queue: Arc<Queue>,
    connections: Arc<Connections>,
    engine: Arc<SyncEngine>,
    console: Arc<Console>,
    housekeeping: Housekeeping,
    tenants: Arc<TenantDirectory>,
    workers: Workers,
    transport: Arc<UreqTransport>,
    shut_down: AtomicBool,
}

impl Service {
    /// Starts the plugin: checks the configuration, opens the queue and the token store, and
    /// starts the workers, which pick up whatever an earlier run left undelivered.
    pub fn start(config_json: &str, notify: Arc<dyn Notify>) -> Result<Service, Error> {
        let config = config::parse(config_json).map_err(Error::InvalidConfig)?;
        prepare_state_dir(&config.state_dir)?;
        let queue = Arc::new(Queue::open(&config.state_dir)?);
        let transport = Arc::new(UreqTransport::new(TransportConfig::default()));
        let connections = Arc::new(Connections::new(
            &config,
            transport.clone() as Arc<dyn Transport>,
            notify.clone(),
        )?);
        let tenants = Arc::new(TenantDirectory::default());
        let engine = Arc::new(SyncEngine::new(
            queue.clone(),
            connections.clone(),
            &config.api_version,
        ));
        let deliverer = Arc::new(Deliverer {
            tenants: tenants.clone(),
            connections: connections.clone(),
            engine: engine.clone(),
        });
        let workers =
            Workers::start(config.workers, queue.clone(), deliverer, notify).map_err(|e| {
                Error::Storage {
                    path: config.state_dir.display().to_string(),
                    reason: format!("cannot start the workers: {e}"),
                }
            })?;
        log::info!(
            "Salesforce plugin {} started (state in {}, API {}, {} workers)",
            env!("CARGO_PKG_VERSION"),
            config.state_dir.display(),
            config.api_version,
            config.workers
        );
        let housekeeping = Housekeeping::start(connections.clone())?;
        let console = Arc::new(Console::new(
            engine.clone(),
            queue.clone(),
            connections.clone(),
        ));
        Ok(Service {
            config,
            queue,
            connections,
            engine,
            console,
            housekeeping,
            tenants,
            workers,
            transport,
            shut_down: AtomicBool::new(false),
        })
    }

    /// Enables a tenant or applies its changed settings; answers them as applied.
    pub fn configure_tenant(&self, tenant: &str, settings_json: &str) -> Result<String, Error> {
        self.check_running()?;
        check_tenant(tenant)?;
        let settings =
            TenantSettings::parse(settings_json, &self.config).map_err(Error::InvalidSettings)?;
        // Field names checked against the org's describe when connected, else at connect.
        self.engine
            .check_settings(tenant, &settings)
            .map_err(Error::InvalidSettings)?;
        let applied = settings.applied_json();
        self.tenants.set(tenant, settings);
        self.workers.resume(tenant);
        log::info!("tenant {tenant}: settings applied");
        Ok(applied.to_string())
    }

    /// A lifecycle hook: validates the event and returns once it is durable.
    pub fn handle_event(&self, kind: EventKind, payload: &[u8]) -> Result<(), Error> {
        self.check_running()?;
        let event = events::decode(kind, payload)?;
        self.queue.append(
            &event.tenant_id,
            kind.type_name(),
            &event.id,
            payload.to_vec(),
        )?;
        self.workers.wake(&event.tenant_id);
        log::debug!("tenant {}: {kind} {} queued", event.tenant_id, event.id);
        Ok(())
    }

    pub fn connect_start(&self, tenant: &str) -> Result<String, Error> {
        self.check_running()?;
        let settings = self.settings_of(tenant)?;
        let start = self
            .connections
            .connect_start(tenant, &settings.connection)?;
        Ok(json!({"authorize_url": start.url, "expires_at": start.expires_at}).to_string())
    }

    pub fn connect_finish(&self, tenant: &str, redirect_query_json: &str) -> Result<String, Error> {
        self.check_running()?;
        let settings = self.settings_of(tenant)?;
        let query = redirect_query(redirect_query_json)?;
        let connected = self
            .connections
            .connect_finish(tenant, &settings.connection, &query, |old| {
                self.leave_org(tenant, old)
            })
            .inspect_err(|_| {
                // Paused by `leave_org`, perhaps: a failed connect leaves the lane as it was.
                self.workers.resume(tenant);
            })?;
        // Settings given before connecting are checked now (reading the org's describe afresh,
        // which spares the first delivery that call); the status shows what does not fit.
        if let Err(errors) = self.engine.check_settings_afresh(tenant, &settings) {
            let errors: Vec<String> = errors.iter().map(ToString::to_string).collect();
            let problem = format!(
                "the settings name fields the Salesforce org does not have: {}",
                errors.join("; ")
            );
            log::warn!("tenant {tenant}: {problem}");
            self.connections.record_error(tenant, &problem);
        }
        self.workers.resume(tenant);
        Ok(serde_json::to_string(&connected).expect("the connected user serializes"))
    }

    /// The tenant is connecting to another org than `old`: nothing known about the old one may
    /// be used in the new one. Its lane is paused first (a turn under way ends with the old
    /// org), then the old org's owners, describe, the records its chats became and the
    /// console's answers are forgotten, all before the new connection is stored.
    fn leave_org(&self, tenant: &str, old: &PreviousOrg) -> Result<(), Error> {
        self.workers.pause(
            tenant,
            &format!(
                "tenant {tenant} is connecting to another Salesforce org than {}",
                old.org_id
            ),
        );
        self.engine.forget_org(tenant)?;
        self.console.forget_tenant(tenant);
        Ok(())
    }

    pub fn disconnect(&self, tenant: &str) -> Result<String, Error> {
        self.check_running()?;
        let disconnected = self.connections.disconnect(tenant)?;
        let pending = self.queue.counts(tenant)?.pending;
        log::info!("tenant {tenant}: disconnected from Salesforce; {pending} events stay queued");
        let mut answer = serde_json::to_value(&disconnected).expect("the answer serializes");
        answer["events_kept"] = json!(pending);
        Ok(answer.to_string())
    }

    /// Connection, queue and failures (host contract §6). Never holds a secret.
    pub fn status(&self, tenant: &str) -> Result<String, Error> {
        self.check_running()?;
        check_tenant(tenant)?;
        let connection = self.connections.status(tenant)?;
        let counts = self.queue.counts(tenant)?;
        let failures: Vec<Value> = self
            .queue
            .failed(tenant, FAILURES_SHOWN)?
            .into_iter()
            .map(|f| {
                json!({
                    "event_id": f.event_id, "event_type": f.kind, "error_code": f.code,
                    "message": f.message, "failed_at": clock::rfc3339_ms(f.failed_ms),
                    "attempts": f.attempts, "may_have_been_applied": f.maybe_applied,
                })
            })
            .collect();
        let held = self.workers.hold(tenant).map(|hold| match hold {
            Hold::Until(until, reason) => {
                json!({"reason": reason, "until": clock::rfc3339(until)})
            }
            Hold::UntilResumed(reason) => json!({"reason": reason}),
        });
        Ok(json!({
            "tenant_id": tenant,
            "enabled": self.tenants.get(tenant).is_some(),
            "connection": connection,
            "queue": {"pending": counts.pending, "written": counts.written, "failed": counts.failed, "held": held},
            "failures": failures,
        })
        .to_string())
    }

    /// Re-queues failed deliveries (all of the tenant's, or one chat's).
    pub fn retry(&self, tenant: &str, event_id: &str) -> Result<String, Error> {
        self.check_running()?;
        check_tenant(tenant)?;
        let event_id = Some(event_id).filter(|id| !id.is_empty());
        let requeued = self.queue.requeue_failed(tenant, event_id)?;
        self.workers.wake(tenant);
        Ok(json!({"tenant_id": tenant, "requeued": requeued}).to_string())
    }

    /// The agent console's customer view (host contract §4), within `deadline_ms`.
    pub fn lookup(&self, request_json: &str, deadline_ms: u64) -> Result<String, Error> {
        self.check_running()?;
        self.console
            .lookup(request_json, deadline_ms, |tenant| self.settings_of(tenant))
            .map(|answer| answer.to_string())
    }

    /// The agent console's manual create (host contract §4), within `deadline_ms`.
    pub fn create(&self, request_json: &str, deadline_ms: u64) -> Result<String, Error> {
        self.check_running()?;
        self.console
            .create(request_json, deadline_ms, |tenant| self.settings_of(tenant))
            .map(|answer| answer.to_string())
    }

    /// Stops taking work: in-flight requests are cut, the workers and the console's actions
    /// joined, the queue closed. What was not delivered stays queued for the next start.
    pub fn shutdown(&self) {
        if self.shut_down.swap(true, Ordering::SeqCst) {
            return;
        }
        // The workers first: a delivery whose request is cut must not go on to its next event
        // against a transport that refuses everything (each would count as one more attempt).
        self.workers.stop();
        self.transport.shutdown();
        self.console.shutdown();
        self.housekeeping.stop();
        self.workers.shutdown();
        self.queue.close();
        log::info!(
            "Salesforce plugin stopped (state kept in {})",
            self.config.state_dir.display()
        );
    }

    fn settings_of(&self, tenant: &str) -> Result<Arc<TenantSettings>, Error> {
        check_tenant(tenant)?;
        self.tenants
            .get(tenant)
            .ok_or_else(|| Error::NotEnabled(tenant.to_string()))
    }

    fn check_running(&self) -> Result<(), Error> {
        if self.shut_down.load(Ordering::SeqCst) {
            Err(Error::ShutDown)
        } else {
            Ok(())
        }
    }
}

/// Background chores: revokes that a disconnect could not do (Salesforce unreachable then) are
/// retried at start and every few minutes.
struct Housekeeping {
    stop: crossbeam_channel::Sender<()>,
    thread: parking_lot::Mutex<Option<std::thread::JoinHandle<()>>>,
}

const HOUSEKEEPING_PERIOD: std::time::Duration = std::time::Duration::from_secs(10 * 60);

impl Housekeeping {
    fn start(connections: Arc<Connections>) -> Result<Housekeeping, Error> {
        let (stop, stopped) = crossbeam_channel::bounded::<()>(1);
        let thread = std::thread::Builder::new()
            .name("cloudcx-salesforce-housekeeping".into())
            .spawn(move || loop {
                match connections.retry_pending_revokes() {
                    Ok(waiting) => {
                        for (tenant, why) in waiting {
                            log::warn!("tenant {tenant}: a disconnect's revoke still waits: {why}");
                        }
                    }
                    Err(e) => log::warn!("pending revokes could not be retried: {e}"),
                }
                if stopped.recv_timeout(HOUSEKEEPING_PERIOD).is_ok() {
                    return;
                }
            })
            .map_err(|e| Error::Storage {
                path: String::new(),
                reason: format!("cannot start a thread: {e}"),
            })?;
        Ok(Housekeeping {
            stop,
            thread: parking_lot::Mutex::new(Some(thread)),
        })
    }

    fn stop(&self) {
        let _ = self.stop.try_send(());
        if let Some(thread) = self.thread.lock().take() {
            let _ = thread.join();
        }
    }
}

fn check_tenant(tenant: &str) -> Result<(), Error> {
    events::check_id("tenant_id", tenant).map_err(Error::InvalidRequest)
}

/// The redirect's query parameters, as a JSON object of strings.
fn redirect_query(json: &str) -> Result<CallbackQuery, Error> {
    #[derive(Deserialize)]
    struct Query {
        #[serde(default)]
        code: Option<String>,
        #[serde(default)]
        state: Option<String>,
        #[serde(default)]
        error: Option<String>,
        #[serde(default)]
        error_description: Option<String>,
    }
    let value = decode::parse_json(json.as_bytes(), 64 * 1024).map_err(Error::InvalidRequest)?;
    let query: Query = decode::from_value(&value).map_err(Error::InvalidRequest)?;
    Ok(CallbackQuery {
        code: query.code.map(AuthorizationCode::new),
        state: query.state,
        error: query.error,
        error_description: query.error_description,
    })
}

/// Creates the state directory, readable by the plugin's user only: it holds tokens.
fn prepare_state_dir(dir: &Path) -> Result<(), Error> {
    let storage = |reason: std::io::Error| Error::Storage {
        path: dir.display().to_string(),
        reason: reason.to_string(),
    };
    fs::create_dir_all(dir).map_err(storage)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        fs::set_permissions(dir, fs::Permissions::from_mode(0o700)).map_err(storage)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use parking_lot::Mutex;

    #[derive(Default)]
    struct Heard(Mutex<Vec<Value>>);
    impl Notify for Heard {
        fn notify(&self, notification: Value) {
            self.0.lock().push(notification);
        }
    }

    fn config(dir: &Path) -> String {
        json!({"state_dir": dir, "redirect_url": "http://127.0.0.1:1/cb"}).to_string()
    }

    fn start(dir: &Path) -> Service {
        Service::start(&config(dir), Arc::new(Heard::default())).unwrap()
    }

    #[test]
    fn creates_a_private_state_dir() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("state");
        start(&dir).shutdown();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = fs::metadata(&dir).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o700);
        }
    }

    #[test]
    fn an_unusable_state_dir_is_an_error() {
        let tmp = tempfile::tempdir().unwrap();
        let file = tmp.path().join("file");
        fs::write(&file, "").unwrap();
        let err = Service::start(&config(&file.join("state")), Arc::new(Heard::default()))
            .err()
            .unwrap();
        assert!(matches!(err, Error::Storage { .. }), "{err}");
    }

    #[test]
    fn refuses_work_after_shutdown() {
        let tmp = tempfile::tempdir().unwrap();
        let service = start(tmp.path());
        service.shutdown();
        let err = service
            .handle_event(EventKind::ChatEnded, b"{}")
            .unwrap_err();
        assert!(matches!(err, Error::ShutDown));
    }

    #[test]
    fn accepted_events_wait_durably_for_a_connection_and_status_says_why() {
        let tmp = tempfile::tempdir().unwrap();
        let service = start(tmp.path());
        let examples = include_str!("../../examples/events.jsonl");
        for line in examples.lines() {
            let kind: Value = serde_json::from_str(line).unwrap();
            let kind = EventKind::from_type_name(kind["type"].as_str().unwrap()).unwrap();
            service.handle_event(kind, line.as_bytes()).unwrap();
        }
        let settings = include_str!("../../examples/settings.json");
        service.configure_tenant("demo", settings).unwrap();
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
        let status = loop {
            let status: Value = serde_json::from_str(&service.status("demo").unwrap()).unwrap();
            if !status["queue"]["held"].is_null() || std::time::Instant::now() > deadline {
                break status;
            }
            std::thread::sleep(std::time::Duration::from_millis(20));
        };
        assert_eq!(status["queue"]["pending"], 6, "{status}");
        assert_eq!(status["connection"]["state"], "not_connected", "{status}");
        assert_eq!(
            status["queue"]["held"]["reason"],
            "tenant demo is not connected to Salesforce: connect it to deliver its events"
        );
        service.shutdown();

        // A restart finds them all again.
        let service = start(tmp.path());
        let status: Value = serde_json::from_str(&service.status("demo").unwrap()).unwrap();
        assert_eq!(status["queue"]["pending"], 6);
        assert_eq!(
            status["enabled"], false,
            "settings come from the host at each start"
        );
        service.shutdown();
    }
}
