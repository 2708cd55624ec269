//! The host's side of the callbacks: the plugin's log lines and notifications.

use std::sync::Arc;

use cloudcx_salesforce_abi::abi_stable::std_types::RStr;
use cloudcx_salesforce_abi::{HostApi, LogLevel};
use parking_lot::Mutex;
use serde_json::Value;

/// What the shim keeps of the plugin's calls back.
#[derive(Default)]
pub struct ShimHost {
    notifications: Mutex<Vec<Value>>,
}

impl ShimHost {
    /// Every notification received so far, oldest first.
    pub fn notifications(&self) -> Vec<Value> {
        self.notifications.lock().clone()
    }
}

/// The object handed to the plugin: a shared handle, so the shim can read what arrived.
pub struct HostHandle(pub Arc<ShimHost>);

impl HostApi for HostHandle {
    fn log(&self, level: LogLevel, target: RStr<'_>, message: RStr<'_>) {
        let level = match level {
            LogLevel::ERROR => log::Level::Error,
            LogLevel::WARN => log::Level::Warn,
            LogLevel::INFO => log::Level::Info,
            LogLevel::DEBUG => log::Level::Debug,
            _ => log::Level::Trace,
        };
        log::log!(target: target.as_str(), level, "{}", message.as_str());
    }

    fn notify(&self, notification_json: RStr<'_>) {
        let value = serde_json::from_str(notification_json.as_str())
            .unwrap_or_else(|_| Value::String(notification_json.to_string()));
        log::info!(target: "cloudcx_shim::notification", "{value}");
        self.0.notifications.lock().push(value);
    }
}
