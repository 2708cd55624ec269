//! The plugin behind the ABI: what each entry point does, in plain Rust.

use std::fs;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};

use crate::config::{self, HostConfig};
use crate::error::Error;
use crate::events::{self, EventKind};

pub struct Service {
    config: HostConfig,
    shut_down: AtomicBool,
}

impl Service {
    /// Starts the plugin: checks the configuration and prepares the state directory.
    pub fn start(config_json: &str) -> Result<Service, Error> {
        let config = config::parse(config_json).map_err(Error::InvalidConfig)?;
        prepare_state_dir(&config.state_dir)?;
        log::info!(
            "Salesforce plugin {} started (state in {}, API {}, {} workers)",
            env!("CARGO_PKG_VERSION"),
            config.state_dir.display(),
            config.api_version,
            config.workers
        );
        Ok(Service {
            config,
            shut_down: AtomicBool::new(false),
        })
    }

    /// A lifecycle hook: the event is decoded and validated before anything else happens.
    pub fn handle_event(&self, kind: EventKind, payload: &[u8]) -> Result<(), Error> {
        self.check_running()?;
        let event = events::decode(kind, payload)?;
        log::debug!("{kind} {} of tenant {} is valid", event.id, event.tenant_id);
        Err(Error::NotAvailable("durable delivery to Salesforce"))
    }

    /// Every entry point whose work later parts of the plugin bring.
    pub fn not_available(&self, what: &'static str) -> Result<String, Error> {
        self.check_running()?;
        Err(Error::NotAvailable(what))
    }

    /// Stops taking work. The plugin starts no threads yet, so there is nothing to join.
    pub fn shutdown(&self) {
        if !self.shut_down.swap(true, Ordering::SeqCst) {
            log::info!(
                "Salesforce plugin stopped (state kept in {})",
                self.config.state_dir.display()
            );
        }
    }

    fn check_running(&self) -> Result<(), Error> {
        if self.shut_down.load(Ordering::SeqCst) {
            Err(Error::ShutDown)
        } else {
            Ok(())
        }
    }
}

/// Creates the state directory, readable by the plugin's user only: it will hold tokens.
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

    fn config(dir: &Path) -> String {
        serde_json::json!({"state_dir": dir, "redirect_url": "http://127.0.0.1:1/cb"}).to_string()
    }

    #[test]
    fn creates_a_private_state_dir() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("state");
        Service::start(&config(&dir)).unwrap();
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
        let err = Service::start(&config(&file.join("state"))).err().unwrap();
        assert!(matches!(err, Error::Storage { .. }), "{err}");
    }

    #[test]
    fn refuses_work_after_shutdown() {
        let tmp = tempfile::tempdir().unwrap();
        let service = Service::start(&config(tmp.path())).unwrap();
        service.shutdown();
        let err = service
            .handle_event(EventKind::ChatEnded, b"{}")
            .unwrap_err();
        assert!(matches!(err, Error::ShutDown));
    }
}
