//! The reference CloudCX host (`cloudcx-shim`): loads the Salesforce plugin exactly as the host
//! does, drives it from the command line, and carries the local Salesforce emulator.

pub mod cli;
pub mod connect;
pub mod demo;
pub mod emulator;
pub mod host;
pub mod loader;
pub mod replay;
pub mod state;
pub mod status;
pub mod tables;
