//! The stable ABI between the CloudCX host and the Salesforce plugin.
//!
//! This crate is all that the host and the plugin share. The host loads the plugin's shared
//! library (`libcloudcx_salesforce.so`, `cloudcx_salesforce.dll`, `libcloudcx_salesforce.dylib`)
//! with [`load_plugin_module`], which checks the ABI version and the layout of every type that
//! crosses before any plugin code runs. It then calls [`PluginModule::load`] once with its
//! configuration and a [`HostApi`] of callbacks, and gets a [`Plugin`] back.
//!
//! # Payloads cross as JSON
//!
//! Everything the host contract describes (host configuration, tenant settings, events, console
//! actions and their answers, status, notifications) crosses the boundary as UTF-8 JSON text,
//! exactly in the shapes of the host contract. The ABI itself is only the envelope: which entry
//! point, which tenant, a payload, an answer or a [`PluginError`]. This is deliberate:
//!
//! - the contract is JSON already, and hosts add fields to events over time: JSON lets an old
//!   plugin ignore them and a new plugin accept them, with no ABI change;
//! - a decoding error can name the JSON path of the offending field, which a typed struct
//!   crossing the boundary could not;
//! - the ABI stays thin, so the unsafe surface (and the `abi_stable` dependency, which may one
//!   day be swapped out) stays in this crate and one module of the plugin.
//!
//! Event payloads cross as bytes ([`RSlice<u8>`]), not as `RStr`, so that a host written in any
//! language may hand over whatever it received; the plugin checks UTF-8 itself and answers
//! invalid input with an error.
//!
//! # How the ABI may evolve
//!
//! - Adding a field to an event, a setting or an answer is a JSON change, not an ABI change.
//! - A new entry point is a new method appended **after** the last method of [`Plugin`] (or of
//!   [`HostApi`]), in a new minor version of this crate. `abi_stable` lets a host built against
//!   the older, shorter interface load the newer plugin; a host that needs the new method
//!   must be shipped with (or after) the plugin that has it. While this crate is `0.y.z`,
//!   `abi_stable` reads it as cargo does: `y` is the major version and `z` the minor one, so an
//!   added method goes from 0.1.0 to 0.1.1, and 0.2.0 is a break. This crate's version is its
//!   own (not the workspace's): a plugin release that leaves the ABI alone keeps it.
//! - A new [`ErrorCode`] or [`LogLevel`] is a new associated constant: hosts treat unknown codes
//!   as [`ErrorCode::INTERNAL`].
//! - Removing or reordering anything, or changing a signature, is a new major version, and the
//!   host refuses to load a plugin of another major version with
//!   [`LoadError::IncompatibleAbi`], which names both versions.
//!
//! Panics never cross the boundary: the plugin catches them in every entry point and answers
//! [`ErrorCode::PANIC`]. Both sides must be built with `panic = "unwind"`.

// `#[sabi_trait]` expands to impls that trip this lint on current compilers.
#![allow(non_local_definitions)]

use std::fmt;
use std::path::Path;

use abi_stable::{
    declare_root_module_statics,
    library::{lib_header_from_path, LibraryError, RootModule},
    package_version_strings, sabi_trait,
    sabi_types::VersionStrings,
    std_types::{RBox, RResult, RSlice, RStr, RString},
    StableAbi,
};

pub use abi_stable;

/// The base name of the plugin's shared library (`lib{BASE_NAME}.so` and friends).
pub const LIBRARY_BASE_NAME: &str = "cloudcx_salesforce";

/// The version of this ABI crate that the caller was built with.
pub const ABI_VERSION: &str = env!("CARGO_PKG_VERSION");

/// What went wrong in a call into the plugin.
#[repr(C)]
#[derive(StableAbi, Debug, Clone, PartialEq, Eq)]
pub struct PluginError {
    pub code: ErrorCode,
    /// A message for a person: which tenant, field, file or JSON path, and why. Never holds a
    /// secret.
    pub message: RString,
}

impl PluginError {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        PluginError {
            code,
            message: RString::from(message.into()),
        }
    }
}

impl fmt::Display for PluginError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.code, self.message)
    }
}

impl std::error::Error for PluginError {}

/// The kind of a [`PluginError`]. New codes may be added in minor versions.
#[repr(transparent)]
#[derive(StableAbi, Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ErrorCode(pub u16);

impl ErrorCode {
    /// The input (event, settings, configuration, action) is malformed or invalid.
    pub const INVALID_INPUT: ErrorCode = ErrorCode(1);
    /// The entry point exists but what it does is not built yet.
    pub const NOT_AVAILABLE: ErrorCode = ErrorCode(2);
    /// The plugin panicked; it caught the panic and is still usable.
    pub const PANIC: ErrorCode = ErrorCode(3);
    /// A bug or an unexpected state in the plugin.
    pub const INTERNAL: ErrorCode = ErrorCode(4);
    /// The plugin was shut down.
    pub const SHUT_DOWN: ErrorCode = ErrorCode(5);
    /// Local storage (the state directory) failed; nothing was accepted.
    pub const STORAGE: ErrorCode = ErrorCode(6);
    /// The tenant is not connected to Salesforce (or must reconnect).
    pub const NOT_CONNECTED: ErrorCode = ErrorCode(7);
    /// Salesforce refused or failed the request.
    pub const SALESFORCE: ErrorCode = ErrorCode(8);
    /// The answer did not come within the host's deadline.
    pub const TIMEOUT: ErrorCode = ErrorCode(9);
    /// The thing asked for does not exist (a tenant, a record).
    pub const NOT_FOUND: ErrorCode = ErrorCode(10);

    /// A stable, lower-case name for logs and command-line output.
    pub fn name(self) -> &'static str {
        match self {
            Self::INVALID_INPUT => "invalid input",
            Self::NOT_AVAILABLE => "not available yet",
            Self::PANIC => "plugin panic",
            Self::INTERNAL => "internal error",
            Self::SHUT_DOWN => "shut down",
            Self::STORAGE => "storage error",
            Self::NOT_CONNECTED => "not connected",
            Self::SALESFORCE => "salesforce error",
            Self::TIMEOUT => "timeout",
            Self::NOT_FOUND => "not found",
            _ => "error",
        }
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The severity of a log line sent to the host.
#[repr(transparent)]
#[derive(StableAbi, Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct LogLevel(pub u8);

impl LogLevel {
    pub const ERROR: LogLevel = LogLevel(1);
    pub const WARN: LogLevel = LogLevel(2);
    pub const INFO: LogLevel = LogLevel(3);
    pub const DEBUG: LogLevel = LogLevel(4);
    pub const TRACE: LogLevel = LogLevel(5);
}

/// The answer of an entry point that returns a JSON document.
pub type JsonResult = RResult<RString, PluginError>;

/// What the host offers the plugin. Implemented by the host, called by the plugin from any of
/// its threads.
#[sabi_trait]
pub trait HostApi: Send + Sync + 'static {
    /// One log line. The plugin never puts a secret in `message`.
    fn log(&self, level: LogLevel, target: RStr<'_>, message: RStr<'_>);

    /// A notification for the tenant's administrators and agents, as JSON (host contract §5):
    /// `{"kind": "record_written" | "delivery_failed" | "connection_broken", "tenant_id", ...}`.
    #[sabi(last_prefix_field)]
    fn notify(&self, notification_json: RStr<'_>);
}

/// A host callback object, owned by the plugin once handed over.
pub type HostApiBox = HostApi_TO<RBox<()>>;

/// The plugin, as the host sees it once loaded. Every method may be called from any host thread
/// at any time; none of them panics across the boundary.
#[sabi_trait]
pub trait Plugin: Send + Sync + 'static {
    /// Enables a tenant or applies changed settings (host contract §2, JSON). Answers the
    /// settings as applied, with defaults filled in.
    fn configure_tenant(&self, tenant_id: RStr<'_>, settings_json: RStr<'_>) -> JsonResult;

    /// Hook: a chat started (host contract §3, `chat.started`).
    fn chat_started(&self, event_json: RSlice<'_, u8>) -> RResult<(), PluginError>;

    /// Hook: a chat ended (`chat.ended`).
    fn chat_ended(&self, event_json: RSlice<'_, u8>) -> RResult<(), PluginError>;

    /// Hook: a visitor left an offline message (`chat.offline_message`).
    fn chat_offline_message(&self, event_json: RSlice<'_, u8>) -> RResult<(), PluginError>;

    /// Hook: an Inbox conversation started (`inbox.conversation_started`).
    fn inbox_conversation_started(&self, event_json: RSlice<'_, u8>) -> RResult<(), PluginError>;

    /// Hook: an Inbox conversation ended (`inbox.conversation_ended`).
    fn inbox_conversation_ended(&self, event_json: RSlice<'_, u8>) -> RResult<(), PluginError>;

    /// Console action: the customer view (host contract §4, JSON request), answered within
    /// `deadline_ms` milliseconds.
    fn lookup(&self, request_json: RStr<'_>, deadline_ms: u64) -> JsonResult;

    /// Console action: create a record from a chat or conversation, within `deadline_ms`.
    fn create(&self, request_json: RStr<'_>, deadline_ms: u64) -> JsonResult;

    /// Connection: starts the OAuth flow; answers `{"authorize_url": ...}`.
    fn connect_start(&self, tenant_id: RStr<'_>) -> JsonResult;

    /// Connection: finishes the OAuth flow with the redirect's query parameters as a JSON object
    /// (`code` and `state`, or `error` and `error_description`); answers the connected user.
    fn connect_finish(&self, tenant_id: RStr<'_>, redirect_query_json: RStr<'_>) -> JsonResult;

    /// The tenant's status (host contract §6) as JSON.
    fn status(&self, tenant_id: RStr<'_>) -> JsonResult;

    /// Revokes and forgets the tenant's connection.
    fn disconnect(&self, tenant_id: RStr<'_>) -> JsonResult;

    /// Re-queues deliveries that failed for good: all of the tenant's, or the one whose event id
    /// is given (empty for all).
    fn retry(&self, tenant_id: RStr<'_>, event_id: RStr<'_>) -> JsonResult;

    /// Stops taking work and joins every thread the plugin started. Later calls answer
    /// [`ErrorCode::SHUT_DOWN`].
    #[sabi(last_prefix_field)]
    fn shutdown(&self);
}

/// A loaded plugin, owned by the host.
pub type PluginBox = Plugin_TO<RBox<()>>;

/// The root module the plugin's shared library exports.
#[repr(C)]
#[derive(StableAbi)]
#[sabi(kind(Prefix(prefix_ref = PluginModuleRef)))]
#[sabi(missing_field(panic))]
pub struct PluginModule {
    /// Starts the plugin with the host configuration (host contract §1, JSON). Heavy work
    /// (opening storage, starting threads) happens here, never at library load.
    #[sabi(last_prefix_field)]
    pub load:
        extern "C" fn(host: HostApiBox, config_json: RStr<'_>) -> RResult<PluginBox, PluginError>,
}

impl RootModule for PluginModuleRef {
    declare_root_module_statics! {PluginModuleRef}
    const BASE_NAME: &'static str = LIBRARY_BASE_NAME;
    const NAME: &'static str = "CloudCX Salesforce plugin";
    const VERSION_STRINGS: VersionStrings = package_version_strings!();
}

/// Why the host could not load the plugin library.
#[derive(Debug)]
pub enum LoadError {
    /// The plugin was built against another, incompatible version of this ABI.
    IncompatibleAbi { host: String, plugin: String },
    /// Same version, but the types that cross the boundary differ (a mismatched build).
    LayoutMismatch { version: String, detail: String },
    /// The file could not be opened or is not a CloudCX Salesforce plugin.
    Library(String),
}

impl fmt::Display for LoadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LoadError::IncompatibleAbi { host, plugin } => write!(
                f,
                "the plugin was built against ABI version {plugin}, but this host speaks ABI \
                 version {host}; rebuild the plugin and the host from the same release"
            ),
            LoadError::LayoutMismatch { version, detail } => write!(
                f,
                "the plugin (ABI version {version}) does not match this host's types; rebuild \
                 both from the same source. Details: {detail}"
            ),
            LoadError::Library(detail) => f.write_str(detail),
        }
    }
}

impl std::error::Error for LoadError {}

/// Loads the plugin's root module from a shared library, checking the ABI version and type
/// layouts first. The library stays loaded for the life of the process.
pub fn load_plugin_module(path: &Path) -> Result<PluginModuleRef, LoadError> {
    let header = lib_header_from_path(path).map_err(|e| library_error(path, e))?;
    let plugin_version = header.version_strings().version.to_string();
    header
        .init_root_module::<PluginModuleRef>()
        .map_err(|e| match e {
            LibraryError::IncompatibleVersionNumber { .. } => LoadError::IncompatibleAbi {
                host: ABI_VERSION.to_string(),
                plugin: plugin_version.clone(),
            },
            LibraryError::AbiInstability(detail) => {
                if plugin_version != ABI_VERSION {
                    LoadError::IncompatibleAbi {
                        host: ABI_VERSION.to_string(),
                        plugin: plugin_version.clone(),
                    }
                } else {
                    LoadError::LayoutMismatch {
                        version: plugin_version.clone(),
                        detail: detail.to_string(),
                    }
                }
            }
            other => library_error(path, other),
        })
}

fn library_error(path: &Path, e: LibraryError) -> LoadError {
    LoadError::Library(format!("cannot load plugin {}: {e}", path.display()))
}
