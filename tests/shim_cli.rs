//! `cloudcx-shim` as scripts use it (shared/spec/shim-cli.md): the real binary loading the real
//! plugin library.

mod common;

use std::fs;

#[test]
fn replay_reports_bad_lines_by_number_and_feeds_the_rest() {
    let tmp = tempfile::tempdir().unwrap();
    let examples = fs::read_to_string(common::repo_root().join("examples/events.jsonl")).unwrap();
    let mut lines: Vec<&str> = examples.lines().collect();
    lines.insert(1, "{not json");
    lines.insert(3, "");
    lines.insert(4, r#"{"type": "chat.ended", "tenant_id": "someone-else"}"#);
    lines.push(r#"{"type":"chat.ended","tenant_id":"demo","id":"c9","channel":"w","at":"2026-11-24T10:00:00Z","visitor":{"email":5}}"#);
    let file = tmp.path().join("events.jsonl");
    fs::write(&file, lines.join("\n")).unwrap();

    let out = common::shim(
        tmp.path(),
        &["replay", "--tenant", "demo", file.to_str().unwrap()],
        &[],
    );
    let stderr = common::text(&out.stderr);
    let name = file.display();
    assert!(
        stderr.contains(&format!(
            "{name}:2: not a JSON event: key must be a string at line 1 column 2"
        )),
        "{stderr}"
    );
    assert!(
        stderr.contains(&format!(
            "{name}:5: tenant_id is \"someone-else\", but this replay is for tenant \"demo\""
        )),
        "{stderr}"
    );
    assert!(
        stderr.contains(&format!("{name}:10: chat.ended: visitor.email must be a string (found integer `5`) (invalid input)")),
        "{stderr}"
    );
    assert!(
        !stderr.contains(&format!("{name}:4:")),
        "a blank line is not an event: {stderr}"
    );
    // Every example line, after the bad ones too, reached the plugin and was accepted; the
    // tenant is not enabled yet, so they wait in its queue.
    let stdout = common::text(&out.stdout);
    let summary = format!("{name}: 6 events accepted, 1 refused by the plugin, 2 malformed lines");
    assert!(stdout.contains(&summary), "{stdout}");
    let queued = "tenant demo: 0 written, 0 failed for good, 6 still queued";
    assert!(stdout.contains(queued), "{stdout}");
    let paused = "tenant demo is paused: tenant demo has no settings: its events wait until the host enables it";
    assert!(stdout.contains(paused), "{stdout}");
    assert_eq!(out.status.code(), Some(1), "events are still queued");
}

#[test]
fn a_missing_events_file_is_bad_input() {
    let tmp = tempfile::tempdir().unwrap();
    let out = common::shim(
        tmp.path(),
        &["replay", "--tenant", "demo", "no-such.jsonl"],
        &[],
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(common::text(&out.stderr).contains("cloudcx-shim: no-such.jsonl: No such file"));
}

#[test]
fn status_prints_what_the_plugin_answers() {
    let tmp = tempfile::tempdir().unwrap();
    let out = common::shim(tmp.path(), &["status", "--tenant", "demo", "--json"], &[]);
    assert_eq!(out.status.code(), Some(0), "{}", common::text(&out.stderr));
    let status: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(status["tenant_id"], "demo");
    assert_eq!(status["connection"]["state"], "not_connected");
    assert_eq!(status["queue"]["pending"], 0);
}

#[test]
fn the_host_configuration_is_written_once_and_checked_by_the_plugin() {
    let tmp = tempfile::tempdir().unwrap();
    common::shim(tmp.path(), &["status", "--tenant", "demo"], &[]);
    let config: serde_json::Value =
        serde_json::from_str(&fs::read_to_string(tmp.path().join("host.json")).unwrap()).unwrap();
    assert_eq!(config["redirect_url"], "http://127.0.0.1:8765/callback");
    assert!(
        tmp.path().join("plugin").is_dir(),
        "the plugin made its state_dir"
    );

    let bad = tmp.path().join("bad.json");
    fs::write(
        &bad,
        r#"{"state_dir": "x", "redirect_url": "http://h/", "workers": "four"}"#,
    )
    .unwrap();
    let out = common::shim(
        tmp.path(),
        &[
            "--config",
            bad.to_str().unwrap(),
            "status",
            "--tenant",
            "demo",
        ],
        &[],
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(
        common::text(&out.stderr).contains(
            "the plugin refused to start: host configuration: workers must be a whole number (found string \"four\")"
        ),
        "{}",
        common::text(&out.stderr)
    );
}

#[test]
fn a_missing_plugin_library_is_named() {
    let tmp = tempfile::tempdir().unwrap();
    let out = common::shim(
        tmp.path(),
        &["--plugin", "/nowhere/libx.so", "status", "--tenant", "demo"],
        &[],
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(common::text(&out.stderr).contains("plugin library /nowhere/libx.so does not exist"));
}

#[test]
fn the_emulator_prints_its_base_url_on_the_first_line_and_serves_there() {
    use std::io::{BufRead, BufReader};
    use std::process::{Command, Stdio};
    let mut emulator = Command::new(env!("CARGO_BIN_EXE_cloudcx-shim"))
        .args(["emulator", "--port", "0"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut first = String::new();
    BufReader::new(emulator.stdout.take().unwrap())
        .read_line(&mut first)
        .unwrap();
    let base = first.trim().to_string();
    let answer = ureq::get(format!("{base}/services/data/")).call();
    emulator.kill().unwrap();
    emulator.wait().unwrap();
    assert!(base.starts_with("http://127.0.0.1:"), "{first}");
    let versions: serde_json::Value = answer.unwrap().body_mut().read_json().unwrap();
    assert!(
        versions
            .as_array()
            .unwrap()
            .iter()
            .any(|v| v["version"] == "62.0"),
        "{versions}"
    );
}

#[test]
fn a_second_host_process_on_the_same_state_dir_is_refused() {
    use std::io::{BufRead, BufReader};
    let org = cloudcx_shim::emulator::Emulator::start(Default::default()).unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let state = common::connected_shim_state(&org, tmp.path(), |_| {});
    // The first host: a connect that waits for the admin's browser keeps the plugin loaded.
    let mut first = std::process::Command::new(env!("CARGO_BIN_EXE_cloudcx-shim"))
        .arg("--state-dir")
        .arg(&state)
        .args(["connect", "--tenant", "acme"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(first.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    assert!(line.starts_with("Open this address"), "{line}");

    let second = common::shim(&state, &["status", "--tenant", "acme"], &[]);
    first.kill().unwrap();
    first.wait().unwrap();
    assert_eq!(second.status.code(), Some(1));
    let stderr = common::text(&second.stderr);
    assert!(
        stderr.contains(
            "queue.redb is in use by another process: only one host process may use a state_dir"
        ),
        "{stderr}"
    );
    // Once the first is gone, the state_dir is free again.
    let third = common::shim(&state, &["status", "--tenant", "acme"], &[]);
    assert_eq!(
        third.status.code(),
        Some(0),
        "{}",
        common::text(&third.stderr)
    );
}

#[test]
fn retry_requeues_one_failed_event_or_all_of_a_tenants() {
    let org = cloudcx_shim::emulator::Emulator::start(Default::default()).unwrap();
    // A field every Case must have, which the tenant's settings do not fill: every chat fails
    // for good until the admin maps it.
    org.seed(&serde_json::json!({"customFields": [
        {"object": "Case", "name": "Region__c", "type": "string", "length": 10, "required": true}]}))
    .unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let state = common::connected_shim_state(&org, tmp.path(), |_| {});
    let events = tmp.path().join("events.jsonl");
    let chat = |id: &str| {
        serde_json::json!({"type": "chat.ended", "tenant_id": "acme", "id": id, "channel": "webchat",
            "at": "2026-11-24T10:07:30Z", "visitor": {"name": "V", "email": format!("{id}@x.example")}})
        .to_string()
    };
    fs::write(&events, [chat("c1"), chat("c2")].join("\n")).unwrap();
    let replay = |file: &std::path::Path| {
        common::shim(
            &state,
            &["replay", "--tenant", "acme", file.to_str().unwrap()],
            &[],
        )
    };
    let out = replay(&events);
    assert_eq!(out.status.code(), Some(1), "failed for good");
    let stdout = common::text(&out.stdout);
    assert!(
        stdout.contains("tenant acme: 0 written, 2 failed for good, 0 still queued"),
        "{stdout}"
    );
    assert!(
        stdout.contains("failed: chat.ended c1: REQUIRED_FIELD_MISSING"),
        "{stdout}"
    );

    // The admin maps the field.
    let mut settings: serde_json::Value =
        serde_json::from_str(&fs::read_to_string(tmp.path().join("settings.json")).unwrap())
            .unwrap();
    settings["field_mapping"]["Case"] = serde_json::json!({"Region__c": "literal:EU"});
    let fixed = tmp.path().join("fixed.json");
    fs::write(&fixed, settings.to_string()).unwrap();
    let applied = common::shim(
        &state,
        &[
            "settings",
            "--tenant",
            "acme",
            "--file",
            fixed.to_str().unwrap(),
        ],
        &[],
    );
    assert_eq!(
        applied.status.code(),
        Some(0),
        "{}",
        common::text(&applied.stderr)
    );
    let empty = tmp.path().join("empty.jsonl");
    fs::write(&empty, "").unwrap();

    let one = common::shim(&state, &["retry", "--tenant", "acme", "--event", "c1"], &[]);
    assert_eq!(one.status.code(), Some(0), "{}", common::text(&one.stderr));
    let answer: serde_json::Value = serde_json::from_slice(&one.stdout).unwrap();
    assert_eq!(answer["requeued"], 1);
    let out = replay(&empty);
    let stdout = common::text(&out.stdout);
    assert!(
        stdout.contains("tenant acme: 1 written, 1 failed for good, 0 still queued"),
        "{stdout}"
    );
    assert!(stdout.contains("failed: chat.ended c2"), "{stdout}");

    let all = common::shim(&state, &["retry", "--tenant", "acme"], &[]);
    assert_eq!(all.status.code(), Some(0), "{}", common::text(&all.stderr));
    let answer: serde_json::Value = serde_json::from_slice(&all.stdout).unwrap();
    assert_eq!(answer["requeued"], 1, "the one still failed");
    let out = replay(&empty);
    assert_eq!(out.status.code(), Some(0), "{}", common::text(&out.stdout));
    let cases = org.records("Case");
    assert_eq!(cases.len(), 2);
    assert!(cases.iter().all(|c| c["Region__c"] == "EU"), "{cases:?}");
}
