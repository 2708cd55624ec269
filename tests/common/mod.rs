//! Shared by the end-to-end tests: where the built plugin and shim are, and how to run them.
#![allow(dead_code)] // each test binary uses its own part of this module

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::Arc;
use std::time::{Duration, Instant};

use cloudcx_salesforce_abi::abi_stable::sabi_trait::TD_Opaque;
use cloudcx_salesforce_abi::abi_stable::std_types::{RResult, RStr};
use cloudcx_salesforce_abi::{
    load_plugin_module, HostApi, HostApi_TO, JsonResult, LogLevel, PluginBox, PluginError,
};
use cloudcx_shim::loader::{self, LoadedPlugin};
use parking_lot::Mutex;
use serde_json::Value;

/// The plugin's log forwarder is one per process, like the `log` crate's logger: tests that
/// load the plugin in this process take turns, so each sees its own plugin's lines.
pub static ONE_PLUGIN_AT_A_TIME: Mutex<()> = Mutex::new(());

/// A host that keeps what the plugin sends it: log lines and notifications.
#[derive(Default)]
pub struct RecordingHost {
    /// (level, target, message), oldest first.
    pub lines: Mutex<Vec<(LogLevel, String, String)>>,
    pub notifications: Mutex<Vec<String>>,
}

/// The callback object handed to the plugin: a shared handle to a [`RecordingHost`].
pub struct Recorder(pub Arc<RecordingHost>);

impl HostApi for Recorder {
    fn log(&self, level: LogLevel, target: RStr<'_>, message: RStr<'_>) {
        self.0
            .lines
            .lock()
            .push((level, target.to_string(), message.to_string()));
    }

    fn notify(&self, notification_json: RStr<'_>) {
        self.0
            .notifications
            .lock()
            .push(notification_json.to_string());
    }
}

/// The real plugin loaded in this process with a [`RecordingHost`]; shut down when dropped.
pub struct RecordedPlugin {
    pub plugin: PluginBox,
    pub host: Arc<RecordingHost>,
}

impl Drop for RecordedPlugin {
    fn drop(&mut self) {
        self.plugin.shutdown();
    }
}

/// Loads the real shared library in this process with `config_json`, recording its calls back.
pub fn load_recorded(config_json: &str) -> RecordedPlugin {
    let module = load_plugin_module(&plugin_path()).unwrap_or_else(|e| panic!("{e}"));
    let host = Arc::new(RecordingHost::default());
    let callbacks = HostApi_TO::from_value(Recorder(host.clone()), TD_Opaque);
    match module.load()(callbacks, config_json.into()) {
        RResult::ROk(plugin) => RecordedPlugin { plugin, host },
        RResult::RErr(e) => panic!("the plugin refused to start: {e}"),
    }
}

/// The JSON a plugin call answered; panics with the plugin's error otherwise.
pub fn answer(result: JsonResult) -> Value {
    match result {
        RResult::ROk(text) => serde_json::from_str(&text).expect("the plugin answers JSON"),
        RResult::RErr(e) => panic!("the plugin refused: {e}"),
    }
}

/// The error a plugin call answered; panics if it succeeded.
pub fn refusal(result: JsonResult) -> PluginError {
    match result {
        RResult::ROk(text) => panic!("the plugin accepted: {text}"),
        RResult::RErr(e) => e,
    }
}

/// Polls `f` until it gives a value; panics after `timeout`, naming `what`.
pub fn eventually<T>(what: &str, timeout: Duration, mut f: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(value) = f() {
            return value;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(10));
    }
}

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

/// A port nothing listens on now, for a server a test starts (or a redirect it awaits).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port()
}

/// A child process, killed when dropped: a failing test leaves nothing running.
pub struct KillOnDrop(pub std::process::Child);

impl KillOnDrop {
    /// Its exit status; fails the test (killing it) if it has not exited within `limit`.
    pub fn exit_within(&mut self, what: &str, limit: Duration) -> std::process::ExitStatus {
        eventually(&format!("{what} to exit"), limit, || {
            self.0.try_wait().expect("try_wait")
        })
    }
}

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Runs the real `cloudcx-shim` binary like [`shim`], and fails the test if it has not exited
/// within `limit` (killing it first, so that a hang does not outlive the test).
pub fn shim_within(state_dir: &Path, args: &[&str], limit: Duration) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_cloudcx-shim"));
    command.arg("--state-dir").arg(state_dir).args(args);
    run_within(command, &format!("cloudcx-shim {args:?}"), limit)
}

/// Runs `command` (`what`, for the failure) to its end, with no input, and fails the test if it
/// has not exited within `limit` (killing it first).
pub fn run_within(mut command: Command, what: &str, limit: Duration) -> Output {
    use std::io::{Read, Seek};
    let mut stdout = tempfile::tempfile().expect("a file for stdout");
    let mut stderr = tempfile::tempfile().expect("a file for stderr");
    let mut child = KillOnDrop(
        command
            .stdin(std::process::Stdio::null())
            .stdout(stdout.try_clone().expect("stdout file"))
            .stderr(stderr.try_clone().expect("stderr file"))
            .spawn()
            .unwrap_or_else(|e| panic!("{what}: {e}")),
    );
    let status = child.exit_within(what, limit);
    let read = |file: &mut std::fs::File| {
        let mut bytes = Vec::new();
        file.rewind().expect("rewind");
        file.read_to_end(&mut bytes).expect("read");
        bytes
    };
    Output {
        status,
        stdout: read(&mut stdout),
        stderr: read(&mut stderr),
    }
}

/// A `cloudcx-shim` state directory under `dir` whose tenant `acme` is connected (through the
/// binary's `connect --auto`) to `org`, with the example settings changed by `patch`. Its host
/// configuration's redirect port is a free one, so that tests may run in parallel.
pub fn connected_shim_state(
    org: &cloudcx_shim::emulator::Emulator,
    dir: &Path,
    patch: impl FnOnce(&mut Value),
) -> PathBuf {
    let state = dir.join("state");
    std::fs::create_dir_all(&state).unwrap();
    let port = free_port();
    let host = serde_json::json!({"state_dir": state.join("plugin"),
        "redirect_url": format!("http://127.0.0.1:{port}/callback")});
    std::fs::write(state.join("host.json"), host.to_string()).unwrap();
    let mut settings: Value = serde_json::from_str(
        &std::fs::read_to_string(repo_root().join("examples/settings.json")).unwrap(),
    )
    .unwrap();
    settings["connection"]["login_url"] = serde_json::json!(org.base_url());
    settings["connection"]["crm_url"] = serde_json::json!(org.base_url());
    patch(&mut settings);
    let settings_file = dir.join("settings.json");
    std::fs::write(&settings_file, settings.to_string()).unwrap();
    let connect = shim(
        &state,
        &[
            "connect",
            "--tenant",
            "acme",
            "--auto",
            "--settings",
            settings_file.to_str().unwrap(),
        ],
        &[],
    );
    assert!(connect.status.success(), "{}", text(&connect.stderr));
    state
}

/// Per chat key (`tenant/chat`, the end of each Case's Subject), how many Cases `org` has.
pub fn cases_by_key(
    org: &cloudcx_shim::emulator::Emulator,
) -> std::collections::HashMap<String, usize> {
    let mut cases = std::collections::HashMap::new();
    for case in org.records("Case") {
        let subject = case["Subject"].as_str().unwrap();
        let key = subject
            .rsplit_once("[CloudCX ")
            .unwrap()
            .1
            .trim_end_matches(']');
        *cases.entry(key.to_string()).or_default() += 1;
    }
    cases
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

/// The log lines of every plugin loaded in this process through the shim's host (which hands
/// them to this process's `log`), from the first call of [`captured_log`] on.
static CAPTURED: Mutex<Vec<String>> = Mutex::new(Vec::new());

struct Capture;

impl log::Log for Capture {
    fn enabled(&self, _: &log::Metadata<'_>) -> bool {
        true
    }

    fn log(&self, record: &log::Record<'_>) {
        CAPTURED.lock().push(record.args().to_string());
    }

    fn flush(&self) {}
}

/// Starts capturing (once per process) and answers the lines captured so far.
pub fn captured_log() -> Vec<String> {
    static INSTALL: std::sync::Once = std::sync::Once::new();
    INSTALL.call_once(|| {
        log::set_logger(&Capture).expect("no other logger in this test process");
        log::set_max_level(log::LevelFilter::Info);
    });
    CAPTURED.lock().clone()
}
