//! The local Salesforce emulator (issue #3 builds it): a library module, so tests can start one
//! in-process, and the `cloudcx-shim emulator` command.

pub mod soql;

/// `cloudcx-shim emulator` options.
#[derive(Debug, clap::Args)]
pub struct EmulatorArgs {
    /// Port to listen on, on 127.0.0.1 (0: any free port).
    #[arg(long, default_value_t = 0)]
    pub port: u16,
}

/// Runs the emulator in the foreground.
pub fn run_cli(_args: EmulatorArgs) -> u8 {
    eprintln!("cloudcx-shim: the Salesforce emulator is not available yet");
    1
}
