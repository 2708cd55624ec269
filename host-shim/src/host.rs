//! The host's side of the callbacks: the plugin's log lines and notifications.

use std::collections::VecDeque;
use std::sync::Arc;

use cloudcx_salesforce_abi::abi_stable::std_types::RStr;
use cloudcx_salesforce_abi::{HostApi, LogLevel};
use parking_lot::Mutex;
use serde_json::Value;

/// The notifications kept, at most: a long replay must not grow the shim without bound.
const KEPT_NOTIFICATIONS: usize = 10_000;

/// What the shim keeps of the plugin's calls back.
#[derive(Default)]
pub struct ShimHost {
    notifications: Mutex<VecDeque<Value>>,
}

impl ShimHost {
    /// The latest notifications (up to 10,000), oldest first.
    pub fn notifications(&self) -> Vec<Value> {
        self.notifications.lock().iter().cloned().collect()
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
        let mut kept = self.0.notifications.lock();
        if kept.len() == KEPT_NOTIFICATIONS {
            kept.pop_front();
        }
        kept.push_back(value);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_the_latest_notifications_only() {
        let host = Arc::new(ShimHost::default());
        let handle = HostHandle(host.clone());
        for n in 0..KEPT_NOTIFICATIONS + 5 {
            handle.notify(format!("{{\"n\": {n}}}").as_str().into());
        }
        let kept = host.notifications();
        assert_eq!(kept.len(), KEPT_NOTIFICATIONS);
        assert_eq!(kept[0]["n"], 5);
        assert_eq!(kept[KEPT_NOTIFICATIONS - 1]["n"], KEPT_NOTIFICATIONS + 4);
    }
}
