//! `cloudcx-shim settings --tenant T --file FILE` (shared/spec/shim-cli.md): the real binary
//! loading the real plugin library. 0 and saved when valid; otherwise 2, with each error on
//! stderr naming its JSON path, and nothing saved.

mod common;

use std::fs;
use std::path::{Path, PathBuf};

use cloudcx_shim::emulator::{Emulator, EmulatorOptions};
use serde_json::{json, Value};

/// The example settings (a custom app on the emulator's usual address), changed by `patch`.
fn example(patch: impl FnOnce(&mut Value)) -> Value {
    let text = fs::read_to_string(common::repo_root().join("examples/settings.json")).unwrap();
    let mut settings: Value = serde_json::from_str(&text).unwrap();
    patch(&mut settings);
    settings
}

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let file = dir.join(name);
    fs::write(&file, text).unwrap();
    file
}

fn settings(state: &Path, tenant: &str, file: &Path) -> std::process::Output {
    common::shim(
        state,
        &[
            "settings",
            "--tenant",
            tenant,
            "--file",
            file.to_str().unwrap(),
        ],
        &[],
    )
}

fn saved(state: &Path, tenant: &str) -> Option<String> {
    fs::read_to_string(state.join("tenants").join(format!("{tenant}.json"))).ok()
}

#[test]
fn valid_settings_are_saved_and_answered_as_applied_without_the_secret() {
    let tmp = tempfile::tempdir().unwrap();
    let state = tmp.path().join("state");
    let mut text = example(|s| {
        s.as_object_mut().unwrap().remove("max_api_usage_percent");
    })
    .to_string();
    text.push('\n');
    let file = write(tmp.path(), "settings.json", &text);

    let out = settings(&state, "demo", &file);
    assert_eq!(out.status.code(), Some(0), "{}", common::text(&out.stderr));
    assert_eq!(saved(&state, "demo").as_deref(), Some(text.as_str()));
    let applied: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(applied["max_api_usage_percent"], 90, "the default applied");
    assert_eq!(applied["inbox"]["action"], "contact_task");
    assert!(
        !common::text(&out.stdout).contains("demo-secret"),
        "{applied}"
    );
}

#[test]
fn every_error_is_on_stderr_with_its_json_path_and_nothing_is_saved() {
    let tmp = tempfile::tempdir().unwrap();
    let state = tmp.path().join("state");
    let bad = example(|s| {
        s["mode"] = json!("auto");
        s["webchat"]["trigger"] = json!("chat_begun");
        s["webchat"]["acton"] = json!("case");
        s["identification"]["contact"] = json!([["Email"], ["E-mail"]]);
        s["identification"]["lead"] = json!([[]]);
        s["field_mapping"]["Lead"]["Industry"] = json!("custom.");
        s["colour"] = json!("blue");
    });
    let file = write(tmp.path(), "bad.json", &bad.to_string());

    let out = settings(&state, "demo", &file);
    assert_eq!(out.status.code(), Some(2));
    let stderr = common::text(&out.stderr);
    let name = file.display();
    for error in [
        "colour is not a known setting",
        "mode must be automatic or manual (found \"auto\")",
        "webchat.trigger must be chat_started or chat_ended (found \"chat_begun\")",
        "webchat.acton is not a known field",
        "identification.contact[1][0] must be a Salesforce field name",
        "identification.lead[0] must list at least one field",
        "field_mapping.Lead.Industry must name the custom field or variable",
    ] {
        assert!(
            stderr
                .lines()
                .any(|l| l.starts_with(&format!("{name}: {error}"))),
            "{error:?} not on stderr:\n{stderr}"
        );
    }
    let errors = stderr
        .lines()
        .filter(|l| l.starts_with(&format!("{name}: ")));
    assert_eq!(errors.count(), 7, "one line per error:\n{stderr}");
    assert_eq!(saved(&state, "demo"), None);
}

#[test]
fn a_missing_file_is_named_and_invalid_json_gets_its_line_and_column() {
    let tmp = tempfile::tempdir().unwrap();
    let state = tmp.path().join("state");
    let missing = tmp.path().join("no-such-settings.json");
    let out = settings(&state, "demo", &missing);
    assert_eq!(out.status.code(), Some(2));
    let stderr = common::text(&out.stderr);
    assert!(
        stderr.contains(&format!(
            "cloudcx-shim: {}: No such file",
            missing.display()
        )),
        "{stderr}"
    );

    let broken = write(
        tmp.path(),
        "broken.json",
        "{\n  \"mode\": \"manual\",\n  \"webchat\": {,\n}\n",
    );
    let out = settings(&state, "demo", &broken);
    assert_eq!(out.status.code(), Some(2));
    let stderr = common::text(&out.stderr);
    assert!(
        stderr.contains(&format!("{}: is not valid JSON", broken.display())),
        "{stderr}"
    );
    assert!(stderr.contains("line 3 column 15"), "{stderr}");
    assert_eq!(saved(&state, "demo"), None);
}

#[test]
fn with_a_connected_tenant_a_field_the_org_does_not_have_is_refused_by_name() {
    let org = Emulator::start(EmulatorOptions::default()).unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let state = tmp.path().join("state");
    fs::create_dir_all(&state).unwrap();
    // A free port for the OAuth redirect, so parallel tests do not collide.
    let port = common::free_port();
    let host = json!({"state_dir": state.join("plugin"),
                      "redirect_url": format!("http://127.0.0.1:{port}/callback")});
    fs::write(state.join("host.json"), host.to_string()).unwrap();
    let good = example(|s| {
        s["connection"]["login_url"] = json!(org.base_url());
        s["connection"]["crm_url"] = json!(org.base_url());
    });
    let file = write(tmp.path(), "settings.json", &good.to_string());
    let connect = common::shim(
        &state,
        &[
            "connect",
            "--tenant",
            "acme",
            "--auto",
            "--settings",
            file.to_str().unwrap(),
        ],
        &[],
    );
    assert_eq!(
        connect.status.code(),
        Some(0),
        "{}",
        common::text(&connect.stderr)
    );

    let mut typo = good.clone();
    // Title the org has, but no chat gives it a value (nothing maps it): refused the same way.
    typo["identification"]["contact"] = json!([["Email"], ["Emial"], ["Title"]]);
    typo["display_fields"]["Lead"] = json!(["Name", "Compnay"]);
    let bad = write(tmp.path(), "typo.json", &typo.to_string());
    let out = settings(&state, "acme", &bad);
    assert_eq!(out.status.code(), Some(2));
    let stderr = common::text(&out.stderr);
    let name = bad.display();
    // The wording between the path and the field's name is the describe check's own.
    for (path, field) in [
        ("identification.contact[1]", "\"Emial\""),
        (
            "identification.contact[2]",
            "\"Title\" gets no value from a chat",
        ),
        ("display_fields.Lead[1]", "\"Compnay\""),
    ] {
        assert!(
            stderr
                .lines()
                .any(|l| l.starts_with(&format!("{name}: {path}")) && l.contains(field)),
            "{path} {field} not on stderr:\n{stderr}"
        );
    }
    assert_eq!(
        saved(&state, "acme").as_deref(),
        Some(good.to_string().as_str()),
        "the settings in force stay"
    );
}
