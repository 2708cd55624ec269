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
