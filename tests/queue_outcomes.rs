//! What becomes of queued events at Salesforce's and the host's hands (issue 5), against the
//! emulator: shutdown in the middle of a batch, retries of failures, storms, holds of one
//! tenant beside another, and the order of a chat's events under concurrent hooks.

mod common;
#[path = "common/connected.rs"]
#[allow(dead_code)] // The harness serves several test files; this one uses part of it.
mod connected;

use std::time::{Duration, Instant};

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
