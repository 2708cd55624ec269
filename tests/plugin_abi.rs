//! The real plugin library through the stable ABI: host callbacks, the panic guard, shutdown.

mod common;

use std::sync::Arc;

use cloudcx_salesforce_abi::abi_stable::sabi_trait::TD_Opaque;
use cloudcx_salesforce_abi::abi_stable::std_types::{RResult, RSlice};
use cloudcx_salesforce_abi::{load_plugin_module, ErrorCode, HostApi_TO, LogLevel};
use common::{Recorder, ONE_PLUGIN_AT_A_TIME};

#[test]
fn the_plugins_log_lines_reach_the_host() {
    let _turn = ONE_PLUGIN_AT_A_TIME.lock();
    let tmp = tempfile::tempdir().unwrap();
    let loaded = common::load_recorded(&common::host_config(tmp.path()));
    loaded.plugin.shutdown();
    let lines = loaded.host.lines.lock();
    let started = lines
        .iter()
        .find(|(_, _, message)| message.starts_with("Salesforce plugin 0.1.0 started"))
        .unwrap_or_else(|| panic!("a start line among {lines:?}"));
    assert_eq!(started.0, LogLevel::INFO);
    assert_eq!(started.1, "cloudcx_salesforce::service");
    assert!(
        lines
            .iter()
            .any(|(_, _, m)| m.starts_with("Salesforce plugin stopped")),
        "{lines:?}"
    );
}

#[test]
fn a_bad_configuration_is_refused_with_its_field() {
    let _turn = ONE_PLUGIN_AT_A_TIME.lock();
    let tmp = tempfile::tempdir().unwrap();
    let module = load_plugin_module(&common::plugin_path()).unwrap();
    let callbacks = HostApi_TO::from_value(Recorder(Arc::default()), TD_Opaque);
    let config =
        serde_json::json!({"state_dir": tmp.path(), "redirect_url": "nowhere"}).to_string();
    let RResult::RErr(e) = module.load()(callbacks, config.as_str().into()) else {
        panic!("a bad redirect_url is refused")
    };
    assert_eq!(e.code, ErrorCode::INVALID_INPUT);
    assert_eq!(
        e.message.as_str(),
        "host configuration: redirect_url must be an http:// or https:// URL (found \"nowhere\")"
    );
}

#[test]
fn after_shutdown_every_call_answers_shut_down() {
    let _turn = ONE_PLUGIN_AT_A_TIME.lock();
    let tmp = tempfile::tempdir().unwrap();
    let loaded = common::load_plugin(tmp.path());
    loaded.plugin.shutdown();
    let event = std::fs::read_to_string(common::repo_root().join("examples/events.jsonl")).unwrap();
    let first = event.lines().next().unwrap();
    let RResult::RErr(e) = loaded
        .plugin
        .chat_started(RSlice::from_slice(first.as_bytes()))
    else {
        panic!("a hook after shutdown is refused")
    };
    assert_eq!(e.code, ErrorCode::SHUT_DOWN);
    let RResult::RErr(e) = loaded.plugin.status("demo".into()) else {
        panic!()
    };
    assert_eq!(e.code, ErrorCode::SHUT_DOWN);
}

#[test]
fn a_panic_in_a_hook_is_an_error_answer_and_the_host_goes_on() {
    let tmp = tempfile::tempdir().unwrap();
    let events = common::repo_root().join("examples/events.jsonl");
    let out = common::shim(
        tmp.path(),
        &["replay", "--tenant", "demo", events.to_str().unwrap()],
        &[
            ("CLOUDCX_SALESFORCE_PANIC_PROBE", "chat_ended"),
            ("RUST_BACKTRACE", "0"),
        ],
    );
    let stderr = common::text(&out.stderr);
    // Exit 1 is replay's "something was not accepted": the process was not killed or aborted.
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains(":2: the plugin panicked in chat_ended (CLOUDCX_SALESFORCE_PANIC_PROBE asked chat_ended to panic); the call was not carried out (plugin panic)"),
        "{stderr}"
    );
    assert!(
        stderr.contains(":3: the plugin panicked in chat_ended"),
        "{stderr}"
    );
    // The other lines, after the panics too, reached the plugin, which accepted them.
    let stdout = common::text(&out.stdout);
    assert!(
        stdout.contains("4 events accepted, 2 refused by the plugin"),
        "{stdout}"
    );
}

#[test]
fn a_panic_while_loading_is_a_refusal_not_a_crash() {
    let tmp = tempfile::tempdir().unwrap();
    for (probe, command) in [("load", "status"), ("status", "status")] {
        let out = common::shim(
            tmp.path(),
            &[command, "--tenant", "demo"],
            &[
                ("CLOUDCX_SALESFORCE_PANIC_PROBE", probe),
                ("RUST_BACKTRACE", "0"),
            ],
        );
        let stderr = common::text(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{stderr}");
        assert!(
            stderr.contains(&format!("the plugin panicked in {probe}")),
            "{stderr}"
        );
    }
}

#[test]
fn a_disk_that_refuses_writes_is_a_storage_error_from_the_hook_and_loses_no_accepted_event() {
    let tmp = tempfile::tempdir().unwrap();
    let state = tmp.path().join("state");
    let events = tmp.path().join("events.jsonl");
    let note = "x".repeat(20_000);
    let lines: Vec<String> = (0..200)
        .map(|n| {
            serde_json::json!({"type": "chat.ended", "tenant_id": "demo", "id": format!("c{n}"),
                "channel": "webchat", "at": "2026-11-24T10:07:30Z",
                "visitor": {"email": "v@x.example"}, "note": note})
            .to_string()
        })
        .collect();
    std::fs::write(&events, lines.join("\n")).unwrap();
    // The shim's hooks with files limited in size (the signal ignored, so that a write past
    // the limit fails with EFBIG instead of ending the process): the queue fills "the disk".
    let out = std::process::Command::new("sh")
        .args([
            "-c",
            r#"trap '' XFSZ; ulimit -f 4096; exec "$0" --state-dir "$1" replay --tenant demo --wait 1 "$2""#,
            env!("CARGO_BIN_EXE_cloudcx-shim"),
        ])
        .arg(&state)
        .arg(&events)
        .output()
        .unwrap();
    let stdout = common::text(&out.stdout);
    let stderr = common::text(&out.stderr);
    let summary = stdout.lines().next().unwrap_or_default();
    let counts: Vec<usize> = summary
        .split(' ')
        .filter_map(|word| word.parse().ok())
        .collect();
    let (accepted, refused) = (counts[0], counts[1]);
    assert!(accepted > 0 && refused > 0, "{summary}");
    assert_eq!(accepted + refused, 200, "{summary}");
    assert!(
        stderr.contains("the event queue cannot be written")
            && stderr.contains("File too large")
            && stderr.contains("(storage error)"),
        "{stderr}"
    );

    // Room again: every event the hooks accepted is there, and new ones are accepted.
    let status = common::shim(&state, &["status", "--tenant", "demo", "--json"], &[]);
    let status: serde_json::Value = serde_json::from_slice(&status.stdout).unwrap();
    assert_eq!(status["queue"]["pending"], accepted, "{status}");
    let out = common::shim(
        &state,
        &[
            "replay",
            "--tenant",
            "demo",
            "--wait",
            "1",
            events.to_str().unwrap(),
        ],
        &[],
    );
    assert!(
        common::text(&out.stdout).contains("200 events accepted, 0 refused"),
        "{}",
        common::text(&out.stdout)
    );
}
