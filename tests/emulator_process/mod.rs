//! `cloudcx-shim emulator` as a separate process, the way a person or another tool runs it.
#![allow(dead_code)] // each test binary uses its own part of this module

use std::fs::File;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

/// A running `cloudcx-shim emulator`; killed when dropped if not stopped.
pub struct EmulatorProcess {
    child: Child,
    /// The base URL it printed on its first line.
    pub url: String,
    stderr: PathBuf,
}

impl EmulatorProcess {
    /// Starts `cloudcx-shim emulator ARGS...`, its stderr kept in `dir`, and waits for the URL.
    /// Without `--port` in ARGS, on any free port (not the command's fixed default), so that
    /// tests may run side by side.
    pub fn start(dir: &Path, args: &[&str]) -> EmulatorProcess {
        EmulatorProcess::start_in(dir, Path::new("."), args)
    }

    /// [`EmulatorProcess::start`] in the working directory `cwd` (for relative paths in ARGS).
    pub fn start_in(dir: &Path, cwd: &Path, args: &[&str]) -> EmulatorProcess {
        let stderr = dir.join(format!("emulator-{}.stderr", next_number()));
        let any_port = !args.contains(&"--port");
        let mut child = Command::new(env!("CARGO_BIN_EXE_cloudcx-shim"))
            .current_dir(cwd)
            .arg("emulator")
            .args(any_port.then_some(["--port", "0"]).into_iter().flatten())
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(File::create(&stderr).expect("stderr file"))
            .spawn()
            .expect("cloudcx-shim runs");
        let mut line = String::new();
        BufReader::new(child.stdout.take().expect("stdout"))
            .read_line(&mut line)
            .expect("reads the first line");
        let url = line.trim().to_string();
        let process = EmulatorProcess { child, url, stderr };
        assert!(
            process.url.starts_with("http://127.0.0.1:"),
            "first line {:?}; stderr: {}",
            process.url,
            process.stderr()
        );
        process
    }

    /// What it wrote on stderr so far.
    pub fn stderr(&self) -> String {
        std::fs::read_to_string(&self.stderr).unwrap_or_default()
    }

    /// Stops it as Ctrl-C or a service manager would (SIGTERM) and waits for its exit.
    pub fn stop(mut self) -> ExitStatus {
        let sent = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .expect("kill runs");
        assert!(sent.success());
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Some(status) = self.child.try_wait().expect("try_wait") {
                return status;
            }
            assert!(Instant::now() < deadline, "the emulator did not stop");
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for EmulatorProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Distinguishes the stderr files of several emulators in one directory.
fn next_number() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(0);
    NEXT.fetch_add(1, Ordering::Relaxed)
}
