//! The plugin's side of the stable ABI: the only module that touches `abi_stable`.
//!
//! Every entry point runs inside [`guard`], which catches panics (an unwinding panic across an
//! `extern "C"` boundary would end the host) and turns errors into [`PluginError`]s.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Arc;

use abi_stable::{
    export_root_module,
    prefix_type::PrefixTypeTrait,
    sabi_extern_fn,
    sabi_trait::TD_Opaque,
    std_types::{RResult, RSlice, RStr, RString},
};
use cloudcx_salesforce_abi::{
    ErrorCode, HostApiBox, JsonResult, LogLevel, Plugin, PluginBox, PluginError, PluginModule,
    PluginModuleRef, Plugin_TO,
};

use crate::console::ConsoleError;
use crate::error::Error;
use crate::events::EventKind;
use crate::logging::{self, LogSink};
use crate::oauth::ConnectionError;
use crate::service::Service;
use crate::workers::Notify;

/// Names an entry point that panics on purpose, so that a host developer can check that their
/// host survives a plugin panic (the plugin answers [`ErrorCode::PANIC`] and goes on working).
pub const PANIC_PROBE_ENV: &str = "CLOUDCX_SALESFORCE_PANIC_PROBE";

#[export_root_module]
pub fn root_module() -> PluginModuleRef {
    PluginModule { load }.leak_into_prefix()
}

#[sabi_extern_fn]
fn load(host: HostApiBox, config_json: RStr<'_>) -> RResult<PluginBox, PluginError> {
    let probe = std::env::var(PANIC_PROBE_ENV).ok();
    guard(probe.clone().as_deref(), "load", || {
        let host = Arc::new(HostLog(host));
        logging::install(host.clone());
        let service = Service::start(config_json.as_str(), host)?;
        Ok(Plugin_TO::from_value(
            Exported { service, probe },
            TD_Opaque,
        ))
    })
}

/// The host's callbacks: its logger, and its notifications.
struct HostLog(HostApiBox);

impl Notify for HostLog {
    fn notify(&self, notification: serde_json::Value) {
        self.0.notify(notification.to_string().as_str().into());
    }
}

impl LogSink for HostLog {
    fn log(&self, level: log::Level, target: &str, message: &str) {
        let level = match level {
            log::Level::Error => LogLevel::ERROR,
            log::Level::Warn => LogLevel::WARN,
            log::Level::Info => LogLevel::INFO,
            log::Level::Debug => LogLevel::DEBUG,
            log::Level::Trace => LogLevel::TRACE,
        };
        self.0.log(level, target.into(), message.into());
    }
}

/// The loaded plugin, as exported to the host.
struct Exported {
    service: Service,
    probe: Option<String>,
}

impl Exported {
    fn call<T>(
        &self,
        entry: &'static str,
        f: impl FnOnce() -> Result<T, Error>,
    ) -> RResult<T, PluginError> {
        guard(self.probe.as_deref(), entry, f)
    }

    fn hook(
        &self,
        entry: &'static str,
        kind: EventKind,
        payload: RSlice<'_, u8>,
    ) -> RResult<(), PluginError> {
        self.call(entry, || {
            self.service.handle_event(kind, payload.as_slice())
        })
    }

    fn json(&self, entry: &'static str, f: impl FnOnce() -> Result<String, Error>) -> JsonResult {
        self.call(entry, || f().map(RString::from))
    }
}

impl Plugin for Exported {
    fn configure_tenant(&self, tenant_id: RStr<'_>, settings_json: RStr<'_>) -> JsonResult {
        self.json("configure_tenant", || {
            self.service
                .configure_tenant(tenant_id.as_str(), settings_json.as_str())
        })
    }

    fn chat_started(&self, event_json: RSlice<'_, u8>) -> RResult<(), PluginError> {
        self.hook("chat_started", EventKind::ChatStarted, event_json)
    }

    fn chat_ended(&self, event_json: RSlice<'_, u8>) -> RResult<(), PluginError> {
        self.hook("chat_ended", EventKind::ChatEnded, event_json)
    }

    fn chat_offline_message(&self, event_json: RSlice<'_, u8>) -> RResult<(), PluginError> {
        self.hook(
            "chat_offline_message",
            EventKind::ChatOfflineMessage,
            event_json,
        )
    }

    fn inbox_conversation_started(&self, event_json: RSlice<'_, u8>) -> RResult<(), PluginError> {
        self.hook(
            "inbox_conversation_started",
            EventKind::InboxConversationStarted,
            event_json,
        )
    }

    fn inbox_conversation_ended(&self, event_json: RSlice<'_, u8>) -> RResult<(), PluginError> {
        self.hook(
            "inbox_conversation_ended",
            EventKind::InboxConversationEnded,
            event_json,
        )
    }

    fn lookup(&self, request_json: RStr<'_>, deadline_ms: u64) -> JsonResult {
        self.json("lookup", || {
            self.service.lookup(request_json.as_str(), deadline_ms)
        })
    }

    fn create(&self, request_json: RStr<'_>, deadline_ms: u64) -> JsonResult {
        self.json("create", || {
            self.service.create(request_json.as_str(), deadline_ms)
        })
    }

    fn connect_start(&self, tenant_id: RStr<'_>) -> JsonResult {
        self.json("connect_start", || {
            self.service.connect_start(tenant_id.as_str())
        })
    }

    fn connect_finish(&self, tenant_id: RStr<'_>, redirect_query_json: RStr<'_>) -> JsonResult {
        self.json("connect_finish", || {
            self.service
                .connect_finish(tenant_id.as_str(), redirect_query_json.as_str())
        })
    }

    fn status(&self, tenant_id: RStr<'_>) -> JsonResult {
        self.json("status", || self.service.status(tenant_id.as_str()))
    }

    fn disconnect(&self, tenant_id: RStr<'_>) -> JsonResult {
        self.json("disconnect", || self.service.disconnect(tenant_id.as_str()))
    }

    fn retry(&self, tenant_id: RStr<'_>, event_id: RStr<'_>) -> JsonResult {
        self.json("retry", || {
            self.service.retry(tenant_id.as_str(), event_id.as_str())
        })
    }

    fn shutdown(&self) {
        // A panic while shutting down is logged by the guard; there is no one to answer.
        let _ = self.call("shutdown", || {
            self.service.shutdown();
            Ok(())
        });
    }
}

/// Runs an entry point: a panic becomes [`ErrorCode::PANIC`], an error its code and message.
fn guard<T>(
    probe: Option<&str>,
    entry: &'static str,
    f: impl FnOnce() -> Result<T, Error>,
) -> RResult<T, PluginError> {
    let outcome = catch_unwind(AssertUnwindSafe(|| {
        if probe == Some(entry) {
            panic!("{PANIC_PROBE_ENV} asked {entry} to panic");
        }
        f()
    }));
    match outcome {
        Ok(Ok(value)) => RResult::ROk(value),
        Ok(Err(e)) => RResult::RErr(PluginError::new(code(&e), e.to_string())),
        Err(payload) => {
            let what = crate::panic_message(&*payload);
            log::error!("the plugin panicked in {entry}: {what}");
            RResult::RErr(PluginError::new(
                ErrorCode::PANIC,
                format!("the plugin panicked in {entry} ({what}); the call was not carried out"),
            ))
        }
    }
}

fn code(e: &Error) -> ErrorCode {
    match e {
        Error::InvalidConfig(_)
        | Error::InvalidEvent(_)
        | Error::InvalidRequest(_)
        | Error::InvalidSettings(_) => ErrorCode::INVALID_INPUT,
        Error::NotEnabled(_) => ErrorCode::NOT_FOUND,
        Error::Storage { .. } | Error::Queue(_) => ErrorCode::STORAGE,
        Error::ShutDown => ErrorCode::SHUT_DOWN,
        Error::Console(e) => console_code(e),
        Error::Connection(e) => connection_code(e),
    }
}

fn console_code(e: &ConsoleError) -> ErrorCode {
    match e {
        ConsoleError::NoMatch(_) => ErrorCode::NOT_FOUND,
        // The answer cannot come within the deadline: the host's "try again later".
        ConsoleError::Timeout(_) | ConsoleError::Busy(_) => ErrorCode::TIMEOUT,
        ConsoleError::NotConnected(_) => ErrorCode::NOT_CONNECTED,
        ConsoleError::Salesforce(_) => ErrorCode::SALESFORCE,
        ConsoleError::Internal(_) => ErrorCode::INTERNAL,
    }
}

fn connection_code(e: &ConnectionError) -> ErrorCode {
    match e {
        ConnectionError::NotConnected | ConnectionError::NeedsReconnect { .. } => {
            ErrorCode::NOT_CONNECTED
        }
        ConnectionError::InvalidTenant(_)
        | ConnectionError::UnknownState
        | ConnectionError::ExpiredState
        | ConnectionError::SettingsChanged
        | ConnectionError::MissingCode
        | ConnectionError::HostConfig(_) => ErrorCode::INVALID_INPUT,
        ConnectionError::Storage(_) | ConnectionError::KeyFile(_) => ErrorCode::STORAGE,
        _ => ErrorCode::SALESFORCE,
    }
}
