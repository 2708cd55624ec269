//! The agent console's actions (host contract §4): the customer view (`lookup`) and manual
//! create, each answered within the host's deadline.
//!
//! Deadline: an action runs on a thread of its own and the caller waits for it at most the
//! deadline, then answers [`ConsoleError::Timeout`]. The late answer is dropped, but the work
//! goes on to its end: a lookup still fills the cache and a create still remembers its record,
//! so the agent's next click is answered at once and never writes twice. A per-request timeout
//! in the transport could not do that: it would bound each HTTP request rather than the action
//! (a refresh and a retry, or a create's several calls, can add up past the deadline), and it
//! would cut writes in flight, leaving it unknown whether they were applied.
//!
//! Actions still running are bounded, per tenant and in all, so that a slow Salesforce does
//! not pile up threads: past the bound an action is refused at once ([`ConsoleError::Busy`]).
//! Shutdown refuses new actions and joins those still running (the plugin cuts the transport
//! first, so they end quickly).

#[cfg(test)]
mod cache_tests;
mod create;
mod identify;
mod view;

use std::collections::HashMap;
use std::fmt;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{mpsc, Arc};
use std::time::{Duration, Instant};

use parking_lot::Mutex;
use serde::Deserialize;
use serde_json::{json, Value};
use time::OffsetDateTime;

use crate::decode;
use crate::error::Error;
use crate::events::{
    ChatStarted, Event, EventBody, InboxContact, InboxConversationStarted, Visitor,
};
use crate::oauth::Connections;
use crate::queue::Queue;
use crate::settings::TenantSettings;
use crate::sync::engine::SyncEngine;
use identify::{Found, Identify, Scope};

/// The deadline when the host gives none (0).
const DEFAULT_DEADLINE: Duration = Duration::from_secs(3);
/// How long a lookup's answer serves again: an agent re-opening a chat costs no API call.
const CACHE_TTL: Duration = Duration::from_secs(30);
/// Answers kept per tenant, at most.
const CACHE_ENTRIES: usize = 512;
/// The largest console request: an event (attachments included) and a little more.
const MAX_REQUEST_BYTES: usize = crate::events::MAX_EVENT_BYTES + 64 * 1024;

/// A console action's request, decoded with its JSON paths named in errors.
fn decode_request<T: serde::de::DeserializeOwned>(request_json: &str) -> Result<T, Error> {
    let value = decode::parse_json(request_json.as_bytes(), MAX_REQUEST_BYTES)
        .map_err(Error::InvalidRequest)?;
    decode::from_value(&value).map_err(Error::InvalidRequest)
}
/// Actions of one tenant running at once, at most (those past their deadline included).
const RUNNING_PER_TENANT: usize = 8;
/// Actions running at once, at most, all tenants together.
const RUNNING_MAX: usize = 64;

/// Why a console action has no answer.
#[derive(Debug, Clone)]
pub enum ConsoleError {
    /// No Contact or Lead matches the visitor.
    NoMatch(String),
    /// The deadline passed first.
    Timeout(Duration),
    /// The tenant's connection needs its admin (reconnect, or connect).
    NotConnected(String),
    /// Salesforce refused or failed the action.
    Salesforce(String),
    /// Too many of the tenant's actions (or of all tenants') are still waiting for
    /// Salesforce.
    Busy(String),
    /// The plugin failed (a panic, no thread to run on).
    Internal(String),
}

impl fmt::Display for ConsoleError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ConsoleError::NoMatch(why) => f.write_str(why),
            ConsoleError::Timeout(deadline) => write!(
                f,
                "Salesforce did not answer within {} ms; try again in a moment",
                deadline.as_millis()
            ),
            ConsoleError::NotConnected(why)
            | ConsoleError::Salesforce(why)
            | ConsoleError::Busy(why)
            | ConsoleError::Internal(why) => f.write_str(why),
        }
    }
}

pub struct Console {
    /// The sync engine's, shared: its owner cache, and what a reconnect makes it forget.
    engine: Arc<SyncEngine>,
    queue: Arc<Queue>,
    connections: Arc<Connections>,
    /// Per tenant, the answers of recent lookups.
    cache: Mutex<HashMap<String, Answers>>,
    /// Bumped whenever a tenant's answers are forgotten: a lookup under way at that moment
    /// does not keep its answer, which may be out of date (another org's).
    forgotten: AtomicU64,
    /// Manual creates under way, by tenant and chat: a double click waits for the first.
    creating: Mutex<Slots>,
    /// The actions' threads.
    actions: Actions,
    /// Now, for the cache's answers' age.
    clock: Clock,
}

/// A monotonic clock: [`Instant::now`], or a test's.
type Clock = Arc<dyn Fn() -> Instant + Send + Sync>;

/// Identification request → (when, the answer; null for "no match").
type Answers = HashMap<String, (Instant, Value)>;
/// (tenant, chat and object) → the lock its create holds.
type Slots = HashMap<(String, String), Arc<Mutex<()>>>;

#[derive(Deserialize)]
struct LookupRequest {
    tenant_id: String,
    #[serde(default)]
    visitor: Option<Visitor>,
    #[serde(default)]
    contact: Option<InboxContact>,
}

impl Console {
    pub fn new(
        engine: Arc<SyncEngine>,
        queue: Arc<Queue>,
        connections: Arc<Connections>,
    ) -> Console {
        Self::with_clock(engine, queue, connections, Arc::new(Instant::now))
    }

    fn with_clock(
        engine: Arc<SyncEngine>,
        queue: Arc<Queue>,
        connections: Arc<Connections>,
        clock: Clock,
    ) -> Console {
        Console {
            engine,
            queue,
            connections,
            cache: Mutex::new(HashMap::new()),
            forgotten: AtomicU64::new(0),
            creating: Mutex::new(HashMap::new()),
            actions: Actions::default(),
            clock,
        }
    }

    /// The customer view: `{"tenant_id", "matches": [...]}`, best match first.
    pub fn lookup(
        self: &Arc<Self>,
        request_json: &str,
        deadline_ms: u64,
        settings_of: impl FnOnce(&str) -> Result<Arc<TenantSettings>, Error>,
    ) -> Result<Value, Error> {
        let request: LookupRequest = decode_request(request_json)?;
        let settings = settings_of(&request.tenant_id)?;
        let event = request.as_event()?;
        let tenant = request.tenant_id;
        let identify = Identify::new(&event, &settings, Scope::Everyone);
        if identify.is_empty() {
            return Err(no_match(
                &tenant,
                "has none of the values its identification rules compare",
            ));
        }
        // Not connected (or disconnected since a cached answer) or needing reconnect:
        // answered at once, from what is stored here.
        self.connections.session(&tenant)?;
        let key = identify.key();
        if let Some(answer) = self.cached(&tenant, &key) {
            log::debug!("tenant {tenant}: customer view from the cache");
            return answer;
        }
        let console = self.clone();
        let forgotten = self.forgotten.load(Ordering::SeqCst);
        self.actions.run(
            &tenant.clone(),
            deadline(deadline_ms),
            "lookup",
            move || {
                let found = console.identify(&tenant, &identify)?;
                let instance = console.connections.session(&tenant)?.instance_url;
                let matches: Vec<Value> = found
                    .matches
                    .iter()
                    .map(|m| view::person(m, &settings, &instance))
                    .collect();
                let answer = if matches.is_empty() {
                    Value::Null
                } else {
                    json!({"tenant_id": tenant, "matches": matches})
                };
                console.keep(&tenant, key, answer.clone(), forgotten);
                answered(&tenant, answer)
            },
        )
    }

    /// Runs an identification request: one API call.
    fn identify(&self, tenant: &str, identify: &Identify) -> Result<Found, Error> {
        let answers = self
            .engine
            .api(tenant)
            .composite(identify.requests(), false)?;
        identify
            .read(&answers)
            .map_err(|e| ConsoleError::Salesforce(e.to_string()).into())
    }

    fn cached(&self, tenant: &str, key: &str) -> Option<Result<Value, Error>> {
        let now = (self.clock)();
        let cache = self.cache.lock();
        let (at, answer) = cache.get(tenant)?.get(key)?;
        fresh(*at, now).then(|| answered(tenant, answer.clone()))
    }

    fn keep(&self, tenant: &str, key: String, answer: Value, forgotten: u64) {
        let mut cache = self.cache.lock();
        if self.forgotten.load(Ordering::SeqCst) != forgotten {
            return;
        }
        let now = (self.clock)();
        let answers = cache.entry(tenant.to_string()).or_default();
        answers.retain(|_, (at, _)| fresh(*at, now));
        if answers.len() < CACHE_ENTRIES {
            answers.insert(key, (now, answer));
        }
    }

    /// The tenant's records changed (here, or its org did): the next view asks Salesforce.
    pub(crate) fn forget_tenant(&self, tenant: &str) {
        let mut cache = self.cache.lock();
        self.forgotten.fetch_add(1, Ordering::SeqCst);
        cache.remove(tenant);
    }
}

impl LookupRequest {
    /// The visitor or contact as an event of its own, so that the tenant's field mapping
    /// gives the values its identification rules compare, exactly as for a chat.
    fn as_event(&self) -> Result<Event, Error> {
        let now = OffsetDateTime::now_utc();
        let body = match (&self.visitor, &self.contact) {
            (Some(visitor), None) => EventBody::ChatStarted(ChatStarted {
                visitor: visitor.clone(),
                agent: None,
                started_at: now,
                request_page: None,
                custom_variables: None,
            }),
            (None, Some(contact)) => {
                EventBody::InboxConversationStarted(InboxConversationStarted {
                    contact: contact.clone(),
                    agent: None,
                    subject: None,
                    started_at: now,
                })
            }
            _ => {
                return Err(Error::InvalidRequest(decode::DecodeError::new(
                    "",
                    "must have either \"visitor\" (Web Chat) or \"contact\" (Inbox)",
                )))
            }
        };
        Ok(Event {
            tenant_id: self.tenant_id.clone(),
            id: "customer-view".into(),
            channel: "console".into(),
            at: now,
            body,
        })
    }
}

/// Whether an answer kept `at` still serves `now`.
fn fresh(at: Instant, now: Instant) -> bool {
    now.saturating_duration_since(at) < CACHE_TTL
}

/// A cached or fresh answer: null stands for "no match".
fn answered(tenant: &str, answer: Value) -> Result<Value, Error> {
    if answer.is_null() {
        Err(no_match(tenant, "matches no Contact or Lead of"))
    } else {
        Ok(answer)
    }
}

fn no_match(tenant: &str, what: &str) -> Error {
    ConsoleError::NoMatch(format!(
        "the visitor {what} tenant {tenant}'s Salesforce org"
    ))
    .into()
}

fn deadline(ms: u64) -> Duration {
    if ms == 0 {
        DEFAULT_DEADLINE
    } else {
        Duration::from_millis(ms)
    }
}

impl Console {
    /// Refuses new actions and waits for those under way to end.
    pub fn shutdown(&self) {
        self.actions.shutdown();
    }
}

/// The threads of actions under way, bounded per tenant and in all.
#[derive(Default)]
struct Actions(Arc<Mutex<Running>>);

#[derive(Default)]
struct Running {
    /// Set at shutdown: no action starts any more.
    closed: bool,
    per_tenant: HashMap<String, usize>,
    threads: Vec<std::thread::JoinHandle<()>>,
}

impl Actions {
    /// Runs `work`, an action of `tenant`, on a thread of its own; answers what it answers, or
    /// a timeout once `deadline` has passed (the work then finishes unheard).
    fn run<T: Send + 'static>(
        &self,
        tenant: &str,
        deadline: Duration,
        what: &'static str,
        work: impl FnOnce() -> Result<T, Error> + Send + 'static,
    ) -> Result<T, Error> {
        let (answer, heard) = mpsc::sync_channel(1);
        let mut running = self.0.lock();
        if running.closed {
            return Err(Error::ShutDown);
        }
        running.threads.retain(|t| !t.is_finished());
        let of_tenant = running.per_tenant.get(tenant).copied().unwrap_or(0);
        if of_tenant >= RUNNING_PER_TENANT || running.threads.len() >= RUNNING_MAX {
            return Err(ConsoleError::Busy(format!(
                "tenant {tenant} has {of_tenant} console actions still waiting for Salesforce \
                 ({} in all); try again in a moment",
                running.threads.len()
            ))
            .into());
        }
        let done = {
            let (actions, tenant) = (self.0.clone(), tenant.to_string());
            move || {
                let mut running = actions.lock();
                if let Some(count) = running.per_tenant.get_mut(&tenant) {
                    *count -= 1;
                    if *count == 0 {
                        running.per_tenant.remove(&tenant);
                    }
                }
            }
        };
        let thread = std::thread::Builder::new()
            .name(format!("cloudcx-salesforce-{what}"))
            .spawn(move || {
                let outcome = catch_unwind(AssertUnwindSafe(work)).unwrap_or_else(|panic| {
                    let why = crate::panic_message(&*panic);
                    log::error!("the plugin panicked in {what}: {why}");
                    Err(
                        ConsoleError::Internal(format!("the plugin panicked in {what} ({why})"))
                            .into(),
                    )
                });
                done();
                // The caller may have stopped waiting.
                let _ = answer.send(outcome);
            })
            .map_err(|e| ConsoleError::Internal(format!("cannot start {what}: {e}")))?;
        *running.per_tenant.entry(tenant.to_string()).or_default() += 1;
        running.threads.push(thread);
        drop(running);
        heard
            .recv_timeout(deadline)
            .unwrap_or_else(|_| Err(ConsoleError::Timeout(deadline).into()))
    }

    /// Refuses new actions and waits for those under way to end.
    fn shutdown(&self) {
        let threads = {
            let mut running = self.0.lock();
            running.closed = true;
            std::mem::take(&mut running.threads)
        };
        for thread in threads {
            let _ = thread.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An action that runs until the test lets it end.
    fn blocked(actions: &Actions, tenant: &str) -> (Result<(), Error>, mpsc::Sender<()>) {
        let (release, released) = mpsc::channel::<()>();
        let answer = actions.run(tenant, Duration::from_millis(20), "test", move || {
            let _ = released.recv();
            Ok(())
        });
        (answer, release)
    }

    #[test]
    fn actions_past_their_deadline_are_bounded_per_tenant_and_joined_at_shutdown() {
        let actions = Arc::new(Actions::default());
        let mut releases = Vec::new();
        for _ in 0..RUNNING_PER_TENANT {
            let (answer, release) = blocked(&actions, "a");
            assert!(matches!(
                answer,
                Err(Error::Console(ConsoleError::Timeout(_)))
            ));
            releases.push(release);
        }
        let (busy, _) = blocked(&actions, "a");
        assert!(
            matches!(&busy, Err(Error::Console(ConsoleError::Busy(m))) if m.contains("tenant a has 8")),
            "{busy:?}"
        );
        let (other, release) = blocked(&actions, "b");
        assert!(
            matches!(other, Err(Error::Console(ConsoleError::Timeout(_)))),
            "another tenant"
        );
        releases.push(release);

        // One ends: the tenant may start another.
        releases.remove(0).send(()).unwrap();
        std::thread::sleep(Duration::from_millis(50));
        let (again, release) = blocked(&actions, "a");
        assert!(
            matches!(again, Err(Error::Console(ConsoleError::Timeout(_)))),
            "{again:?}"
        );
        releases.push(release);

        let stopped = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let shutdown = {
            let (actions, stopped) = (actions.clone(), stopped.clone());
            std::thread::spawn(move || {
                actions.shutdown();
                stopped.store(true, Ordering::SeqCst);
            })
        };
        std::thread::sleep(Duration::from_millis(100));
        assert!(
            !stopped.load(Ordering::SeqCst),
            "waits for the actions under way"
        );
        assert!(matches!(blocked(&actions, "c").0, Err(Error::ShutDown)));
        for release in releases {
            release.send(()).unwrap();
        }
        shutdown.join().unwrap();
        assert!(stopped.load(Ordering::SeqCst));
    }
}
