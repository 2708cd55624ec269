//! The plugin's errors, one variant per way a call can fail. `ffi` turns them into ABI codes.

use std::fmt;

use crate::decode::DecodeError;
use crate::events::InvalidEvent;

#[derive(Debug)]
pub enum Error {
    /// The host configuration given at load is invalid.
    InvalidConfig(DecodeError),
    /// An event was refused; nothing was accepted.
    InvalidEvent(InvalidEvent),
    /// The state directory cannot be used.
    Storage { path: String, reason: String },
    /// The entry point exists, but the work it names is not built yet.
    NotAvailable(&'static str),
    /// The plugin was shut down.
    ShutDown,
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::InvalidConfig(e) => write!(f, "host configuration: {e}"),
            Error::InvalidEvent(e) => e.fmt(f),
            Error::Storage { path, reason } => write!(f, "state directory {path}: {reason}"),
            Error::NotAvailable(what) => {
                write!(
                    f,
                    "{what} is not available yet in this version of the plugin"
                )
            }
            Error::ShutDown => f.write_str("the plugin has been shut down"),
        }
    }
}

impl std::error::Error for Error {}

impl From<InvalidEvent> for Error {
    fn from(e: InvalidEvent) -> Self {
        Error::InvalidEvent(e)
    }
}
