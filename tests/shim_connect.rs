//! `cloudcx-shim connect` through the real binary: how `--auto` fails when the browser it plays
//! meets an error, and the pages its redirect listener shows the person.

mod common;

use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use cloudcx_shim::emulator::Emulator;
use serde_json::{json, Value};

/// Far below the 10 minutes a connect waits for a redirect: a hang fails the test.
const PROMPTLY: Duration = Duration::from_secs(30);

/// A state directory whose host configuration listens for the redirect on a free port, and the
/// example settings pointed at `login_url` with `client_id`; answers (state dir, settings file,
/// redirect URL).
fn prepare(dir: &Path, login_url: &str, client_id: &str) -> (PathBuf, String, String) {
    let state = dir.join("state");
    std::fs::create_dir_all(&state).unwrap();
    let redirect = format!("http://127.0.0.1:{}/callback", common::free_port());
    let host = json!({"state_dir": state.join("plugin"), "redirect_url": redirect});
    std::fs::write(state.join("host.json"), host.to_string()).unwrap();
    let mut settings: Value = serde_json::from_str(
        &std::fs::read_to_string(common::repo_root().join("examples/settings.json")).unwrap(),
    )
    .unwrap();
    settings["connection"]["login_url"] = json!(login_url);
    settings["connection"]["crm_url"] = json!(login_url);
    settings["connection"]["client_id"] = json!(client_id);
    let file = dir.join("settings.json");
    std::fs::write(&file, settings.to_string()).unwrap();
    (state, file.to_str().unwrap().to_string(), redirect)
}

fn connect_auto(state: &Path, settings: &str) -> (std::process::Output, Duration) {
    let started = Instant::now();
    let out = common::shim_within(
        state,
        &[
            "connect",
            "--tenant",
            "acme",
            "--settings",
            settings,
            "--auto",
        ],
        PROMPTLY,
    );
    (out, started.elapsed())
}

#[test]
fn auto_fails_at_once_when_salesforce_does_not_know_the_client_id() {
    let org = Emulator::start(Default::default()).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let (state, settings, _) = prepare(dir.path(), org.base_url(), "no-such-client");
    let (out, took) = connect_auto(&state, &settings);
    let stderr = common::text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains(&format!(
            "Salesforce refused the sign-in at {}/services/oauth2/authorize: 400 Bad Request: \
             invalid_client_id: client identifier invalid",
            org.base_url()
        )),
        "{stderr}"
    );
    assert!(took < Duration::from_secs(10), "took {took:?}");
    assert!(org.records("Case").is_empty());
}

#[test]
fn auto_fails_at_once_naming_the_url_when_salesforce_cannot_be_reached() {
    // A port nobody listens on: connection refused.
    let nobody = format!("http://127.0.0.1:{}", common::free_port());
    let dir = tempfile::tempdir().unwrap();
    let (state, settings, _) = prepare(dir.path(), &nobody, "demo-client");
    let (out, took) = connect_auto(&state, &settings);
    let stderr = common::text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains(&format!(
            "cannot reach the authorize URL {nobody}/services/oauth2/authorize: "
        )),
        "{stderr}"
    );
    assert!(took < Duration::from_secs(10), "took {took:?}");
}

#[test]
fn auto_reports_a_denied_sign_in_at_once() {
    let org = Emulator::start(Default::default()).unwrap();
    org.deny_authorization(true);
    let dir = tempfile::tempdir().unwrap();
    let (state, settings, _) = prepare(dir.path(), org.base_url(), "demo-client");
    let (out, _) = connect_auto(&state, &settings);
    let stderr = common::text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains(
            "the Salesforce user did not allow CloudCX access \
             (access_denied: end-user denied authorization)"
        ),
        "{stderr}"
    );
}

/// A `connect` without `--auto`, waiting for the person's browser (played by the test).
struct WaitingConnect {
    child: common::KillOnDrop,
    authorize_url: String,
    /// Kept open, for the shim to print what follows.
    stdout: BufReader<std::process::ChildStdout>,
    stderr: PathBuf,
}

impl WaitingConnect {
    fn start(dir: &Path, state: &Path, settings: &str) -> WaitingConnect {
        let stderr = dir.join("connect.stderr");
        let mut child = common::KillOnDrop(
            Command::new(env!("CARGO_BIN_EXE_cloudcx-shim"))
                .arg("--state-dir")
                .arg(state)
                .args(["connect", "--tenant", "acme", "--settings", settings])
                .stdin(Stdio::null())
                .stdout(Stdio::piped())
                .stderr(std::fs::File::create(&stderr).unwrap())
                .spawn()
                .unwrap(),
        );
        let mut stdout = BufReader::new(child.0.stdout.take().unwrap());
        let mut line = String::new();
        while !line.trim().starts_with("http") {
            line.clear();
            let read = stdout.read_line(&mut line).unwrap();
            assert!(read > 0, "no authorize URL: {}", self::read(&stderr));
        }
        WaitingConnect {
            child,
            authorize_url: line.trim().to_string(),
            stdout,
            stderr,
        }
    }

    /// Its exit code, the rest of its stdout and its stderr.
    fn finish(mut self) -> (Option<i32>, String, String) {
        let status = self.child.exit_within("connect", PROMPTLY);
        let mut stdout = String::new();
        self.stdout.read_to_string(&mut stdout).unwrap();
        (status.code(), stdout, read(&self.stderr))
    }
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_default()
}

/// A GET as a browser makes it, without following redirects: (status, Location, body).
fn browse(url: &str) -> (u16, Option<String>, String) {
    let agent = ureq::Agent::new_with_config(
        ureq::Agent::config_builder()
            .http_status_as_error(false)
            .max_redirects(0)
            .timeout_global(Some(PROMPTLY))
            .build(),
    );
    let mut response = agent
        .get(url)
        .call()
        .unwrap_or_else(|e| panic!("{url}: {e}"));
    let location = response
        .headers()
        .get("location")
        .map(|l| l.to_str().unwrap().to_string());
    let content_type = response.headers().get("content-type").cloned();
    let body = response.body_mut().read_to_string().unwrap_or_default();
    if response.status() != 404 && location.is_none() {
        assert_eq!(
            content_type.unwrap().to_str().unwrap(),
            "text/html; charset=utf-8"
        );
    }
    (response.status().as_u16(), location, body)
}

#[test]
fn the_browser_is_told_it_is_connected_and_may_close_the_window() {
    let org = Emulator::start(Default::default()).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let (state, settings, redirect) = prepare(dir.path(), org.base_url(), "demo-client");
    let connect = WaitingConnect::start(dir.path(), &state, &settings);
    // Something else the browser asks on that port is not the redirect: the wait goes on.
    let stray = redirect.replace("/callback", "/favicon.ico");
    assert_eq!(browse(&stray).0, 404);

    let (status, location, _) = browse(&connect.authorize_url);
    assert_eq!(status, 302);
    let location = location.unwrap();
    assert!(
        location.starts_with(&format!("{redirect}?code=")),
        "{location}"
    );
    let (status, _, page) = browse(&location);
    assert_eq!(status, 200, "{page}");
    assert!(page.contains("<h1>Connected to Salesforce</h1>"), "{page}");
    assert!(
        page.contains(
            "CloudCX is connected to Salesforce as admin@example.com. You may close this window."
        ),
        "{page}"
    );
    let (code, stdout, stderr) = connect.finish();
    assert_eq!(code, Some(0), "{stderr}");
    assert!(
        stdout.contains("\"username\": \"admin@example.com\""),
        "{stdout}"
    );
}

#[test]
fn a_refused_sign_in_shows_why_with_the_description_escaped() {
    let org = Emulator::start(Default::default()).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let (state, settings, redirect) = prepare(dir.path(), org.base_url(), "demo-client");
    let connect = WaitingConnect::start(dir.path(), &state, &settings);
    let hostile = r#"<script>alert("hi")</script> & 'more'"#;
    let query = form_urlencoded::Serializer::new(String::new())
        .append_pair("error", "access_denied")
        .append_pair("error_description", hostile)
        .finish();

    let (status, _, page) = browse(&format!("{redirect}?{query}"));
    assert_eq!(status, 400, "{page}");
    assert!(
        page.contains("<h1>Salesforce sign-in failed</h1>"),
        "{page}"
    );
    assert!(
        page.contains(
            "the Salesforce user did not allow CloudCX access (access_denied: \
             &lt;script&gt;alert(&quot;hi&quot;)&lt;/script&gt; &amp; &#39;more&#39;)"
        ),
        "{page}"
    );
    assert!(
        !page.contains("<script") && !page.contains("'more'"),
        "{page}"
    );
    assert!(
        page.contains("You may close this window and start connecting again."),
        "{page}"
    );
    let (code, _, stderr) = connect.finish();
    assert_eq!(code, Some(1), "{stderr}");
    assert!(
        stderr.contains("the Salesforce user did not allow CloudCX access (access_denied: "),
        "{stderr}"
    );
}
