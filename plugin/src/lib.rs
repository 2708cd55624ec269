//! CloudCX's Salesforce integration, as a plugin the CloudCX host loads through the stable ABI
//! of `cloudcx-salesforce-abi`.
//!
//! The host calls [`ffi`]'s exported root module; everything else is plain Rust:
//! [`service`] does what each entry point asks, [`events`] and [`config`] decode the host's
//! JSON, with [`decode`]'s path-naming errors.

// Public so that fuzz targets and tests can reach the pure decoders.
pub mod clock;
pub mod config;
mod console;
pub mod decode;
mod delivery;
mod error;
pub mod events;
pub mod ffi;
mod logging;
pub mod oauth;
pub mod queue;
#[cfg(test)]
mod replayed_org;
pub mod salesforce;
mod service;
pub mod settings;
pub mod sync;
pub mod workers;

/// The message a panic carried, for logs and error answers.
pub(crate) fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    payload
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "unknown cause".to_string())
}
