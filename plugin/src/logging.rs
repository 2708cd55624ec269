//! Forwards the plugin's `log` records to the host's logger.
//!
//! The plugin links its own copy of the `log` crate, so the host's `set_logger` never reaches it:
//! the plugin installs this forwarder once per process, and each load points it at the host
//! callbacks it was given.

use std::sync::Arc;

use parking_lot::RwLock;

/// Where log lines go: the host.
pub trait LogSink: Send + Sync {
    fn log(&self, level: log::Level, target: &str, message: &str);
}

static SINK: RwLock<Option<Arc<dyn LogSink>>> = RwLock::new(None);

struct Forwarder;

impl log::Log for Forwarder {
    fn enabled(&self, _: &log::Metadata<'_>) -> bool {
        SINK.read().is_some()
    }

    fn log(&self, record: &log::Record<'_>) {
        if let Some(sink) = SINK.read().as_ref() {
            sink.log(record.level(), record.target(), &record.args().to_string());
        }
    }

    fn flush(&self) {}
}

static FORWARDER: Forwarder = Forwarder;

/// Sends this copy of `log`'s records to `sink` from now on.
pub fn install(sink: Arc<dyn LogSink>) {
    *SINK.write() = Some(sink);
    // Fails only when already installed in this process, which is fine: the sink was replaced.
    if log::set_logger(&FORWARDER).is_ok() {
        log::set_max_level(log::LevelFilter::Debug);
    }
}
