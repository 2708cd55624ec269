//! Shared by the end-to-end tests: where the built plugin and shim are, and how to run them.
#![allow(dead_code)] // each test binary uses its own part of this module

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use cloudcx_shim::loader::{self, LoadedPlugin};

/// The plugin library cargo built for this test run (next to the test executable).
pub fn plugin_path() -> PathBuf {
    let exe = std::env::current_exe().expect("the test knows its executable");
    loader::plugin_beside(exe.parent().expect("the executable is in a directory"))
        .expect("cargo builds the plugin library before the tests")
}

/// A host configuration whose state lives in `dir`.
pub fn host_config(dir: &Path) -> String {
    serde_json::json!({
        "state_dir": dir.join("plugin"),
        "redirect_url": "http://127.0.0.1:8765/callback",
    })
    .to_string()
}

/// Loads the real shared library in this process, as the host does.
pub fn load_plugin(dir: &Path) -> LoadedPlugin {
    loader::start(&plugin_path(), &host_config(dir)).unwrap_or_else(|e| panic!("{e}"))
}

/// Runs the real `cloudcx-shim` binary with its state in `state_dir`.
pub fn shim(state_dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_cloudcx-shim"));
    command.arg("--state-dir").arg(state_dir).args(args);
    for (key, value) in env {
        command.env(key, value);
    }
    command.output().expect("cloudcx-shim runs")
}

/// The repository's root directory.
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("host-shim is inside the repository")
        .to_path_buf()
}

pub fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}
