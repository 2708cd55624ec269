//! CloudCX's Salesforce integration, as a plugin the CloudCX host loads through the stable ABI
//! of `cloudcx-salesforce-abi`.
//!
//! The host calls [`ffi`]'s exported root module; everything else is plain Rust:
//! [`service`] does what each entry point asks, [`events`] and [`config`] decode the host's
//! JSON, with [`decode`]'s path-naming errors.

// Public so that fuzz targets and tests can reach the pure decoders.
pub mod config;
pub mod decode;
mod error;
pub mod events;
pub mod ffi;
mod logging;
pub mod queue;
mod service;
