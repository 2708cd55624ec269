//! The plugin's errors, one variant per way a call can fail. `ffi` turns them into ABI codes.

use std::fmt;

use crate::console::ConsoleError;
use crate::decode::DecodeError;
use crate::events::InvalidEvent;
use crate::oauth::ConnectionError;
use crate::queue::QueueError;

#[derive(Debug)]
pub enum Error {
    /// The host configuration given at load is invalid.
    InvalidConfig(DecodeError),
    /// An event was refused; nothing was accepted.
    InvalidEvent(InvalidEvent),
    /// A console or connection request is malformed (a tenant id, a redirect query).
    InvalidRequest(DecodeError),
    /// Tenant settings are invalid: every section's error, each with its JSON path.
    InvalidSettings(Vec<DecodeError>),
    /// The tenant has no settings yet (the host has not enabled it).
    NotEnabled(String),
    /// The state directory cannot be used.
    Storage { path: String, reason: String },
    /// The durable queue failed; nothing was accepted.
    Queue(QueueError),
    /// Connecting, refreshing or calling Salesforce failed.
    Connection(ConnectionError),
    /// The plugin was shut down.
    ShutDown,
    /// An agent console action has no answer (no match, the deadline, Salesforce).
    Console(ConsoleError),
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::InvalidConfig(e) => write!(f, "host configuration: {e}"),
            Error::InvalidEvent(e) => e.fmt(f),
            Error::InvalidRequest(e) => e.fmt(f),
            Error::InvalidSettings(errors) => {
                let lines: Vec<String> = errors.iter().map(ToString::to_string).collect();
                f.write_str(&lines.join("\n"))
            }
            Error::NotEnabled(tenant) => write!(
                f,
                "tenant {tenant} has no Salesforce settings: the host must enable it with its settings first"
            ),
            Error::Storage { path, reason } => write!(f, "state directory {path}: {reason}"),
            Error::Queue(e) => e.fmt(f),
            Error::Connection(e) => e.fmt(f),
            Error::ShutDown => f.write_str("the plugin has been shut down"),
            Error::Console(e) => e.fmt(f),
        }
    }
}

impl std::error::Error for Error {}

impl From<InvalidEvent> for Error {
    fn from(e: InvalidEvent) -> Self {
        Error::InvalidEvent(e)
    }
}

impl From<QueueError> for Error {
    fn from(e: QueueError) -> Self {
        Error::Queue(e)
    }
}

impl From<ConnectionError> for Error {
    fn from(e: ConnectionError) -> Self {
        Error::Connection(e)
    }
}

impl From<ConsoleError> for Error {
    fn from(e: ConsoleError) -> Self {
        Error::Console(e)
    }
}
