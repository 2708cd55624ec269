//! The org's daily API limit and the tenant's ceiling on it (`max_api_usage_percent`): a
//! tenant slows down near the ceiling, is held at it, and goes on once the rolling window has
//! freed calls, although nothing it sent while held could tell it so.

mod common;
#[path = "common/connected.rs"]
#[allow(dead_code)] // The harness serves several test files; this one uses part of it.
mod connected;

use cloudcx_shim::emulator::FaultKind;
use connected::{attachments, chat_ended, settings_for, Connected};
use serde_json::{json, Value};

fn jane() -> Value {
    json!({"name": "Jane", "email": "jane@acme.example"})
}

fn held_reason(status: &Value) -> String {
    status["queue"]["held"]["reason"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

/// Sets the org's daily usage and limit, as its other integrations would have spent it.
fn org_usage(rig: &Connected, used: u64, limit: u64) {
    let url = format!(
        "{}/__emulator/faults",
        rig.org.base_url().trim_end_matches('/')
    );
    ureq::post(&url)
        .header("Content-Type", "application/json")
        .send(json!({"apiUsed": used, "apiLimit": limit}).to_string())
        .unwrap();
}

/// The lane comes back before its pause ends: the admin saving the settings lifts a hold at
/// once, while the usage reading is still the one the tenant was held on. When a 15-minute
/// pause ends by itself that reading has expired (it is trusted ten minutes): the tenant reads
/// the usage afresh all the same, which the engine's unit tests check with a clock.
fn pause_ends(rig: &Connected, settings: &Value) {
    rig.configure(settings);
}

#[test]
fn a_tenant_held_at_its_ceiling_goes_on_once_the_window_freed_calls() {
    let rig = Connected::start(|s| s["max_api_usage_percent"] = json!(50));
    let settings = settings_for(&rig.org, |s| s["max_api_usage_percent"] = json!(50));
    rig.deliver(&[chat_ended("c0", jane(), json!({}))]);
    rig.org.set_api_limit(rig.org.api_calls() + 1);
    rig.deliver(&[chat_ended("c1", jane(), json!({}))]); // reports usage over 50%
    rig.send(&chat_ended("c2", jane(), json!({}))).unwrap();
    let status = rig.held();
    assert!(held_reason(&status).contains("ceiling is 50%"), "{status}");

    // A day later the rolling window has freed the calls; nothing the tenant sent says so.
    rig.org.set_api_limit(1_000_000);
    pause_ends(&rig, &settings);
    let status = rig.delivered();
    assert!(status["queue"]["held"].is_null(), "{status}");
    assert_eq!(status["queue"]["written"], 3);
    assert_eq!(
        status["connection"]["api_usage"]["limit"], 1_000_000,
        "read afresh"
    );
}

#[test]
fn a_tenant_still_over_its_ceiling_after_the_pause_is_held_again_for_one_call() {
    let rig = Connected::start(|s| s["max_api_usage_percent"] = json!(50));
    let settings = settings_for(&rig.org, |s| s["max_api_usage_percent"] = json!(50));
    rig.deliver(&[chat_ended("c0", jane(), json!({}))]);
    rig.org.set_api_limit(rig.org.api_calls() + 1);
    rig.deliver(&[chat_ended("c1", jane(), json!({}))]);
    rig.send(&chat_ended("c2", jane(), json!({}))).unwrap();
    rig.held();
    // The org's other integrations still use most of the day's calls.
    org_usage(&rig, 9_000, 10_000);
    let before = rig.org.api_calls();
    pause_ends(&rig, &settings);
    std::thread::sleep(std::time::Duration::from_millis(300));
    let status = rig.held();
    assert!(held_reason(&status).contains("ceiling is 50%"), "{status}");
    assert_eq!(status["queue"]["pending"], 1);
    assert_eq!(
        rig.org.api_calls() - before,
        1,
        "only the look at the usage"
    );
    assert_eq!(status["connection"]["api_usage"]["used"], 9_001);
}

#[test]
fn an_org_out_of_calls_holds_the_tenant_until_the_window_frees_some() {
    let rig = Connected::start(|_| {});
    let settings = settings_for(&rig.org, |_| {});
    rig.deliver(&[chat_ended("c0", jane(), json!({}))]);
    rig.org.set_api_limit(rig.org.api_calls()); // every call now: REQUEST_LIMIT_EXCEEDED
    rig.send(&chat_ended("c1", jane(), json!({}))).unwrap();
    let status = rig.held();
    assert!(held_reason(&status).contains("API limit"), "{status}");
    rig.org.set_api_limit(1_000_000);
    pause_ends(&rig, &settings);
    let status = rig.delivered();
    assert_eq!(status["queue"]["written"], 2, "{status}");
}

#[test]
fn a_request_limit_fault_holds_the_tenant_and_its_events_wait() {
    let rig = Connected::start(|_| {});
    let settings = settings_for(&rig.org, |_| {});
    rig.org.fail_next(1, FaultKind::RequestLimitExceeded);
    rig.send(&chat_ended("c1", jane(), json!({}))).unwrap();
    let status = rig.held();
    assert!(held_reason(&status).contains("API limit"), "{status}");
    assert_eq!(status["queue"]["pending"], 1);
    pause_ends(&rig, &settings);
    assert_eq!(rig.delivered()["queue"]["written"], 1);
}

#[test]
fn near_its_ceiling_a_tenant_delivers_then_rests_so_its_chats_gather() {
    let rig = Connected::start(|s| s["max_api_usage_percent"] = json!(50));
    rig.deliver(&[chat_ended("c0", jane(), json!({}))]);
    org_usage(&rig, 4_700, 10_000); // within 5 points of 50%
    rig.send(&chat_ended("c1", jane(), json!({}))).unwrap();
    let status = rig.wait_for("a rest", |s| s["queue"]["written"] == 2);
    let status = if status["queue"]["held"].is_null() {
        rig.held()
    } else {
        status
    };
    assert!(held_reason(&status).ends_with("slowing down"), "{status}");
    let calls = rig.org.api_calls();
    rig.send(&chat_ended("c2", jane(), json!({}))).unwrap();
    std::thread::sleep(std::time::Duration::from_millis(300));
    assert_eq!(
        rig.status()["queue"]["pending"],
        1,
        "it waits for the rest to end"
    );
    assert_eq!(rig.org.api_calls(), calls);
}

#[test]
fn a_chat_held_after_its_case_was_written_gets_its_other_files_once_when_the_limit_lifts() {
    let rig = Connected::start(|_| {});
    let settings = settings_for(&rig.org, |_| {});
    let (files, expected) = attachments(30);
    // Two calls left: the visitor looked up (with the Case written onto a match: none), then
    // the Contact, the Case and the files that fit created together. The other files'
    // request is refused.
    rig.org.set_api_limit(rig.org.api_calls() + 2);
    rig.send(&chat_ended("c1", jane(), json!({"attachments": files})))
        .unwrap();
    let status = rig.held();
    assert!(held_reason(&status).contains("API limit"), "{status}");
    let case = rig.activity_of("Case", "c1");
    let with_the_case = rig.files_on(&case).len();
    assert!(
        0 < with_the_case && with_the_case < expected.len(),
        "{with_the_case} files"
    );

    rig.org.set_api_limit(1_000_000);
    pause_ends(&rig, &settings);
    assert_eq!(rig.delivered()["queue"]["written"], 1);
    assert_eq!(
        rig.activity_of("Case", "c1")["Id"],
        case["Id"],
        "the same Case"
    );
    assert_eq!(rig.records("Contact").len(), 1);
    rig.assert_files(&case, &expected);
}

/// Sends `events` so that they go as one batch, which Salesforce's limit stops after `calls`
/// calls: once it made the visitors' Contacts, before their Cases.
fn hold_a_batch_after_its_contacts(
    rig: &Connected,
    settings: &Value,
    events: &[Value],
    calls: u64,
) {
    // The first is held before it sends anything; the others wait behind it: one batch.
    rig.org.fail_next(1, FaultKind::RequestLimitExceeded);
    rig.send(&events[0]).unwrap();
    rig.held();
    for event in &events[1..] {
        rig.send(event).unwrap();
    }
    rig.org.set_api_limit(rig.org.api_calls() + calls);
    pause_ends(rig, settings);
    let status = rig.wait_for("a hold after the Contacts", |s| {
        !s["queue"]["held"].is_null() && rig.records("Contact").len() == events.len()
    });
    assert!(held_reason(&status).contains("API limit"), "{status}");
    assert!(rig.records("Case").is_empty());
    assert_eq!(status["queue"]["pending"], events.len());
}

#[test]
fn a_batch_held_after_its_contacts_were_made_goes_on_together_and_writes_each_chat_once() {
    let rig = Connected::start(|_| {});
    let settings = settings_for(&rig.org, |_| {});
    let events: Vec<Value> = (0..5)
        .map(|n| {
            let visitor = json!({"name": format!("V{n}"), "email": format!("v{n}@acme.example")});
            chat_ended(&format!("b{n}"), visitor, json!({}))
        })
        .collect();
    // Two calls: the visitors looked up, their Contacts created.
    hold_a_batch_after_its_contacts(&rig, &settings, &events, 2);

    rig.org.set_api_limit(1_000_000);
    let before = rig.org.api_calls();
    pause_ends(&rig, &settings);
    assert_eq!(rig.delivered()["queue"]["written"], 5);
    // The usage read afresh, then their Cases created for the Contacts made for them (known
    // here, not looked up again): together, as before the hold, not one by one after a look
    // for each chat's key.
    assert_eq!(rig.org.api_calls() - before, 2);
    let contacts = rig.records("Contact");
    assert_eq!(contacts.len(), 5, "no second Contact");
    for n in 0..5 {
        let case = rig.activity_of("Case", &format!("b{n}"));
        let contact = contacts
            .iter()
            .find(|c| c["Email"] == format!("v{n}@acme.example"))
            .unwrap();
        assert_eq!(case["ContactId"], contact["Id"]);
    }
    assert_eq!(rig.records("Case").len(), 5, "no second Case");
}

#[test]
fn anonymous_visitors_held_after_their_contacts_were_made_get_no_second_one_even_after_a_restart() {
    let mut rig = Connected::start(|_| {});
    let settings = settings_for(&rig.org, |_| {});
    // No email, no phone: nothing the identification rules could find them by again.
    let events: Vec<Value> = (0..5)
        .map(|n| chat_ended(&format!("a{n}"), json!({}), json!({})))
        .collect();
    // One call: their Contacts created (nobody to look up).
    hold_a_batch_after_its_contacts(&rig, &settings, &events, 1);

    // The host goes away and comes back; the org's limit is lifted meanwhile.
    rig.org.set_api_limit(1_000_000);
    rig.restart(&settings);
    assert_eq!(rig.delivered()["queue"]["written"], 5);
    let contacts = rig.records("Contact");
    assert_eq!(contacts.len(), 5, "no second Contact: {contacts:#?}");
    let mut linked: Vec<String> = (0..5)
        .map(|n| {
            let case = rig.activity_of("Case", &format!("a{n}"));
            assert!(
                contacts.iter().any(|c| c["Id"] == case["ContactId"]),
                "{case:#?}"
            );
            case["ContactId"].as_str().unwrap().to_string()
        })
        .collect();
    linked.sort_unstable();
    linked.dedup();
    assert_eq!(linked.len(), 5, "one Contact per chat");
    assert_eq!(rig.records("Case").len(), 5, "no second Case");
}
