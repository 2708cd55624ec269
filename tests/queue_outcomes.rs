//! What becomes of queued events at Salesforce's and the host's hands (issue 5), against the
//! emulator: shutdown in the middle of a batch, retries of failures, storms, holds of one
//! tenant beside another, and the order of a chat's events under concurrent hooks.

mod common;
#[path = "common/connected.rs"]
#[allow(dead_code)] // The harness serves several test files; this one uses part of it.
mod connected;

use std::time::Duration;

use cloudcx_salesforce::queue::Queue;
use connected::{chat_ended, Connected, TENANT};
use serde_json::{json, Value};

fn jane() -> Value {
    json!({"name": "Jane Doe", "email": "jane@acme.example"})
}

#[test]
fn shutdown_mid_batch_cuts_the_request_under_way_and_leaves_the_rest_unattempted() {
    let rig = Connected::start(|_| {});
    rig.deliver(&[chat_ended("warm-up", jane(), json!({}))]);
    rig.org.set_latency(Duration::from_secs(2));
    // c0 keeps the lane busy while c1 and c2 arrive: they are then taken as one batch.
    rig.send(&chat_ended("c0", jane(), json!({}))).unwrap();
    std::thread::sleep(Duration::from_millis(200));
    rig.send(&chat_ended("c1", jane(), json!({}))).unwrap();
    rig.send(&chat_ended("c2", jane(), json!({}))).unwrap();
    rig.wait_for("c0 written", |s| s["queue"]["written"] == 2);
    std::thread::sleep(Duration::from_millis(500)); // c1's request is on its way
    rig.plugin.plugin.shutdown();

    let queue = Queue::open(&rig.state_dir()).unwrap();
    assert_eq!(queue.counts(TENANT).unwrap().pending, 2);
    let due: Vec<_> = queue.due(TENANT, 10).unwrap().events;
    let due: Vec<_> = due.into_iter().map(|e| e.meta).collect();
    // c1's request was cut: it waits for its back-off, as an attempt.
    assert_eq!(due.len(), 1, "{due:?}");
    let c2 = &due[0];
    assert_eq!(c2.event_id, "c2");
    assert_eq!(c2.attempts, 0, "c2 was never sent: {c2:?}");
    assert!(!c2.maybe_applied && !c2.in_flight, "{c2:?}");
}

fn chat_started(id: &str, extra: Value) -> Value {
    let mut event = json!({
        "type": "chat.started", "tenant_id": TENANT, "id": id, "channel": "webchat",
        "at": "2026-11-24T10:00:00Z", "visitor": jane(), "started_at": "2026-11-24T10:00:00Z",
    });
    if let (Some(event), Value::Object(extra)) = (event.as_object_mut(), extra) {
        event.extend(extra);
    }
    event
}

/// A chat whose start failed for good and whose end was written: the end made the whole Case
/// (the transcript does not wait on the admin), and a retry of the start afterwards finds that
/// Case and writes nothing more.
#[test]
fn a_start_retried_after_its_chats_end_was_written_adds_no_second_case() {
    let rig = Connected::start(|s| {
        s["webchat"]["trigger"] = json!("chat_started");
        // Only the start has a request page: the org lacks the field, so only the start fails.
        s["field_mapping"]["Case"] = json!({"Start_Page__c": "chat.request_page"});
    });
    rig.send(&chat_started(
        "c1",
        json!({"request_page": "https://shop.example/pricing"}),
    ))
    .unwrap();
    let status = rig.wait_for("the start failed", |s| s["queue"]["failed"] == 1);
    assert_eq!(
        status["failures"][0]["event_type"], "chat.started",
        "{status}"
    );
    rig.send(&chat_ended("c1", jane(), json!({}))).unwrap();
    rig.wait_for("the end written", |s| {
        s["queue"]["written"] == 1 && s["queue"]["pending"] == 0
    });
    let cases = rig.records("Case");
    assert_eq!(cases.len(), 1);
    let case_id = cases[0]["Id"].clone();
    assert!(
        cases[0]["Description"]
            .as_str()
            .unwrap()
            .contains("Hi there"),
        "the end wrote the transcript: {}",
        cases[0]
    );

    // The admin adds the field and retries the start.
    rig.org
        .seed(&json!({"customFields": [{"object": "Case", "name": "Start_Page__c", "type": "string", "length": 255}]}))
        .unwrap();
    let answer = common::answer(rig.plugin.plugin.retry(TENANT.into(), "c1".into()));
    assert_eq!(answer["requeued"], 1);
    let status = rig.wait_for("the start settled", |s| s["queue"]["written"] == 2);
    assert_eq!(status["queue"]["failed"], 0, "{status}");
    assert_eq!(status["queue"]["pending"], 0, "{status}");
    let cases = rig.records("Case");
    assert_eq!(cases.len(), 1, "no second Case: {cases:?}");
    assert_eq!(cases[0]["Id"], case_id);
    assert!(cases[0]["Description"]
        .as_str()
        .unwrap()
        .contains("Hi there"));
    let heard = rig.plugin.host.notifications();
    let written: Vec<_> = heard
        .iter()
        .filter(|n| n["kind"] == "record_written" && n["object"] == "Case")
        .collect();
    assert!(
        written.iter().all(|n| n["record_id"] == case_id),
        "{written:?}"
    );
}
