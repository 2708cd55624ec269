//! `cloudcx-shim connect` through the real binary: how `--auto` fails when the browser it plays
//! meets an error, and the pages its redirect listener shows the person.

mod common;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use cloudcx_shim::emulator::Emulator;
use serde_json::{json, Value};

/// Far below the 10 minutes a connect waits for a redirect: a hang fails the test.
const PROMPTLY: Duration = Duration::from_secs(30);

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A state directory whose host configuration listens for the redirect on a free port, and the
/// example settings pointed at `login_url` with `client_id`; answers (state dir, settings file,
/// redirect URL).
fn prepare(dir: &Path, login_url: &str, client_id: &str) -> (PathBuf, String, String) {
    let state = dir.join("state");
    std::fs::create_dir_all(&state).unwrap();
    let redirect = format!("http://127.0.0.1:{}/callback", free_port());
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
    let nobody = format!("http://127.0.0.1:{}", free_port());
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
