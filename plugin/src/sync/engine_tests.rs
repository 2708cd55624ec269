//! The executor against Salesforce's answers replayed beneath the client: refusals the
//! emulator does not make (a restricted picklist, a value longer than Salesforce says, a file
//! refused for good or for now), each written without losing the chat or writing it twice.

use std::sync::Arc;
use std::time::Duration;

use http::Method;
use serde_json::{json, Value};

use super::*;
use crate::replayed_org::{self, composite_answer, COMPOSITE};
use crate::salesforce::replay::ReplayTransport;
use crate::sync::mapping::tests::chat_ended;

struct Harness {
    replay: Arc<ReplayTransport>,
    engine: SyncEngine,
    settings: TenantSettings,
    /// How far the connections' clock runs ahead of the real one.
    ahead: Arc<parking_lot::Mutex<Duration>>,
    _dir: tempfile::TempDir,
}

/// The engine with tenant `acme` connected, the example settings changed by `patch`, and
/// Salesforce answering each composite request with the next of `answers` (its subrequests'
/// answers as `(reference, status, body)`).
fn harness(patch: impl FnOnce(&mut Value), answers: &[Vec<(&str, u16, Value)>]) -> Harness {
    harness_then(patch, answers, |replay| replay)
}

/// Like [`harness`], Salesforce's exchanges going on as `then` scripts them.
fn harness_then(
    patch: impl FnOnce(&mut Value),
    answers: &[Vec<(&str, u16, Value)>],
    then: impl FnOnce(ReplayTransport) -> ReplayTransport,
) -> Harness {
    let ahead = Arc::new(parking_lot::Mutex::new(Duration::ZERO));
    let clock = {
        let ahead = ahead.clone();
        Arc::new(move || SystemTime::now() + *ahead.lock())
    };
    let patch = |value: &mut Value| {
        value["on_match"] = json!("keep");
        value["identification"] =
            json!({"contact": [["Email"]], "lead": [["Email"]], "account": [["Name"]]});
        patch(value);
    };
    let org = replayed_org::connect(patch, clock, |mut replay| {
        for answer in answers {
            replay = replay.expect(Method::POST, COMPOSITE, 200, &composite_answer(answer));
        }
        then(replay)
    });
    let queue = Arc::new(Queue::open(org.dir.path()).unwrap());
    Harness {
        replay: org.replay,
        engine: SyncEngine::new(queue, org.connections, "v62.0"),
        settings: org.settings,
        ahead,
        _dir: org.dir,
    }
}

impl Harness {
    /// Moves the connections' clock on (the age of the API usage reading).
    fn advance(&self, by: Duration) {
        *self.ahead.lock() += by;
    }

    /// Writes the chat (Contact + Case) as the console's manual create would; answers the
    /// records written.
    fn write(&self, event: &Event) -> Vec<(String, String)> {
        let step = self.engine.write_now(
            "acme",
            &self.settings,
            event,
            &event.id,
            Some(SyncObject::Contact),
            SyncObject::Case,
        );
        self.replay.assert_done();
        match step {
            Ok(written) => written.records,
            Err(Stop::Outcome(outcome)) => panic!("not written: {outcome:?}"),
            Err(Stop::Hold(hold) | Stop::HoldAfterWrites(hold)) => panic!("held: {hold:?}"),
        }
    }

    /// The subrequests of the `n`th composite request sent, by reference.
    fn sent(&self, n: usize) -> Vec<Value> {
        let composites: Vec<_> = self
            .replay
            .requests()
            .into_iter()
            .filter(|r| r.uri == COMPOSITE)
            .collect();
        let body: Value = serde_json::from_slice(&composites[n].body).unwrap();
        body["compositeRequest"].as_array().unwrap().clone()
    }
}

fn sub<'a>(sent: &'a [Value], reference: &str) -> &'a Value {
    sent.iter()
        .find(|s| s["referenceId"] == reference)
        .unwrap_or_else(|| panic!("no {reference} in {sent:#?}"))
}

fn found(id: &str) -> Value {
    json!({"totalSize": 1, "done": true, "records": [{"attributes": {"type": "Contact"}, "Id": id}]})
}

fn nobody() -> Value {
    json!({"totalSize": 0, "done": true, "records": []})
}

fn created(id: &str) -> Value {
    json!({"id": id, "success": true, "errors": []})
}

fn refused(code: &str, message: &str, fields: &[&str]) -> Value {
    json!([{"errorCode": code, "message": message, "fields": fields}])
}

fn halted() -> Value {
    refused(
        "PROCESSING_HALTED",
        "The transaction was rolled back since another operation in the same transaction failed.",
        &[],
    )
}

fn written(outcome: &Outcome) -> Vec<(String, String)> {
    match outcome {
        Outcome::Delivered(records) => records
            .iter()
            .map(|r| (r.object.clone(), r.id.clone()))
            .collect(),
        other => panic!("not delivered: {other:?}"),
    }
}

#[test]
fn a_value_outside_a_restricted_picklist_is_dropped_and_noted() {
    let rig = harness(
        |s| s["field_mapping"]["Case"] = json!({"Priority": "literal:Urgent"}),
        &[
            vec![
                ("p0", 200, found("003A")),
                (
                    "act",
                    400,
                    refused(
                        "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST",
                        "Priority: bad value for restricted picklist field: Urgent",
                        &["Priority"],
                    ),
                ),
            ],
            vec![("p0", 200, found("003A")), ("act", 201, created("500A"))],
        ],
    );
    let records = rig.write(&chat_ended(
        r#""visitor":{"name":"Jane","email":"jane@x.example"}"#,
    ));
    assert_eq!(
        records,
        [
            ("Contact".into(), "003A".into()),
            ("Case".into(), "500A".into())
        ]
    );
    let again = rig.sent(1);
    let case = &sub(&again, "act")["body"];
    assert!(case.get("Priority").is_none());
    assert!(case["Description"].as_str().unwrap().contains(
        "Salesforce refused Priority = \"Urgent\" (INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST"
    ));
    assert_eq!(
        sub(&again, "act")["body"]["ContactId"],
        "@{p0.records[0].Id}"
    );
}

#[test]
fn a_value_salesforce_finds_too_long_is_dropped_from_a_new_contact_and_noted() {
    let rig = harness(
        |s| s["field_mapping"]["Contact"] = json!({"Title": "custom.title"}),
        &[
            vec![("p0", 200, nobody()), ("act", 400, halted())],
            vec![
                (
                    "person",
                    400,
                    refused(
                        "STRING_TOO_LONG",
                        "Title: data value too large: Chief (max length=5)",
                        &["Title"],
                    ),
                ),
                ("act", 400, halted()),
            ],
            vec![
                ("person", 201, created("003N")),
                ("act", 201, created("500N")),
            ],
        ],
    );
    let chat = chat_ended(
        r#""visitor":{"name":"Jane","email":"jane@x.example"},
           "custom_variables":{"title":"Chief"}"#,
    );
    let records = rig.write(&chat);
    assert_eq!(
        records,
        [
            ("Contact".into(), "003N".into()),
            ("Case".into(), "500N".into())
        ]
    );
    let last = rig.sent(2);
    assert!(sub(&last, "person")["body"].get("Title").is_none());
    assert_eq!(sub(&last, "person")["body"]["LastName"], "Jane");
    assert!(sub(&last, "act")["body"]["Description"]
        .as_str()
        .unwrap()
        .contains("Salesforce refused Title = \"Chief\" (STRING_TOO_LONG"));
}

/// A chat.ended with two files, as the host sends it.
fn with_files_json() -> Value {
    json!({"type": "chat.ended", "tenant_id": "acme", "id": "c-1", "channel": "webchat",
           "at": "2026-11-24T10:05:00Z", "visitor": {"name": "Jane", "email": "jane@x.example"},
           "attachments": [{"name": "big.bin", "data_base64": "QUJD"},
                           {"name": "small.txt", "data_base64": "QQ=="}]})
}

/// The event `json` as the queue hands it over for a first try.
fn queued(seq: u64, json: &Value) -> QueuedEvent {
    QueuedEvent {
        seq,
        meta: crate::queue::PendingMeta {
            kind: json["type"].as_str().unwrap().into(),
            event_id: json["id"].as_str().unwrap().into(),
            enqueued_ms: 0,
            attempts: 0,
            due_ms: 0,
            maybe_applied: false,
            in_flight: false,
            last_error: None,
        },
        payload: serde_json::to_vec(json).unwrap(),
    }
}

fn with_files() -> Event {
    crate::sync::mapping::tests::event(&with_files_json().to_string())
}

/// A known visitor's chat with two files: the first round writes the Case and the second
/// file, Salesforce refuses the first with `refusal`; `then` answers the follow-up.
fn known_visitor_with_files(refusal: Value, then: Vec<(&str, u16, Value)>) -> Harness {
    harness(
        |_| {},
        &[
            vec![
                ("p0", 200, found("003A")),
                ("act", 201, created("500A")),
                ("file0", 400, refusal),
                ("file1", 201, created("068B")),
            ],
            then,
        ],
    )
}

#[test]
fn a_file_refused_for_good_leaves_the_chat_written_and_says_so_on_its_case() {
    let refusal = refused("STORAGE_LIMIT_EXCEEDED", "storage limit exceeded", &[]);
    // The follow-up: the Description's note about the file.
    let rig = known_visitor_with_files(refusal, vec![("act", 204, Value::Null)]);
    let records = rig.write(&with_files());
    assert_eq!(records[1], ("Case".into(), "500A".into()));
    let follow = rig.sent(1);
    assert_eq!(follow.len(), 1, "no file sent again: {follow:#?}");
    let update = sub(&follow, "act");
    assert_eq!(update["method"], "PATCH");
    assert!(update["url"]
        .as_str()
        .unwrap()
        .ends_with("/sobjects/Case/500A"));
    assert!(update["body"]["Description"].as_str().unwrap().contains(
        "Salesforce refused the file \"big.bin\" (STORAGE_LIMIT_EXCEEDED: storage limit \
         exceeded); CloudCX did not attach it."
    ));
}

#[test]
fn a_file_refused_for_now_is_sent_again_to_the_written_case_not_the_case_again() {
    let refusal = refused(
        "UNABLE_TO_LOCK_ROW",
        "unable to obtain exclusive access to this record",
        &[],
    );
    let rig = known_visitor_with_files(refusal, vec![("file0", 201, created("068A"))]);
    let records = rig.write(&with_files());
    assert_eq!(records[1], ("Case".into(), "500A".into()));
    let follow = rig.sent(1);
    assert_eq!(follow.len(), 1, "{follow:#?}");
    let file = sub(&follow, "file0");
    assert_eq!(file["body"]["FirstPublishLocationId"], "500A");
    assert_eq!(file["body"]["Title"], "big.bin");
    assert_eq!(file["body"]["Description"], "[CloudCX acme/c-1 file 1]");
}

#[test]
fn a_chat_tried_before_sends_only_the_files_its_case_lacks_and_notes_a_refused_one() {
    let rig = harness(
        |_| {},
        &[
            describe_unknown(),
            vec![
                (
                    "files",
                    200,
                    json!({"totalSize": 1, "done": true, "records": [
                        {"Description": "[CloudCX acme/c-1 file 1]"}]}),
                ),
                (
                    "held",
                    200,
                    json!({"totalSize": 1, "done": true, "records": [
                        {"Description": "As written, with an earlier note"}]}),
                ),
            ],
            vec![(
                "file1",
                400,
                refused("STORAGE_LIMIT_EXCEEDED", "storage limit exceeded", &[]),
            )],
            vec![("act", 204, Value::Null)],
        ],
    );
    let event = with_files();
    // The first try wrote the Case and the first file, and its answer was lost.
    let case = ActivityRecord {
        object: "Case".into(),
        id: "500A".into(),
    };
    rig.engine
        .queue
        .remember_activity("acme", &event.id, &case)
        .unwrap();
    let mut queued = queued(7, &with_files_json());
    queued.meta.attempts = 1;
    queued.meta.maybe_applied = true;
    queued.meta.last_error = Some("the connection dropped".into());
    let delivery = rig
        .engine
        .deliver("acme", &rig.settings, &[queued], &StopSignal::default());
    rig.replay.assert_done();
    assert_eq!(delivery.outcomes.len(), 1);
    assert_eq!(
        written(&delivery.outcomes[0].1),
        [("Case".into(), "500A".into())]
    );
    let sent = rig.sent(2);
    assert_eq!(sent.len(), 1, "only the file the Case lacks: {sent:#?}");
    assert_eq!(sub(&sent, "file1")["body"]["Title"], "small.txt");
    let update = rig.sent(3);
    let description = sub(&update, "act")["body"]["Description"].as_str().unwrap();
    assert!(
        description.starts_with("As written, with an earlier note"),
        "{description}"
    );
    assert!(
        description.contains("Salesforce refused the file \"small.txt\""),
        "{description}"
    );
}

/// The org's describe, asked before a delivery, answered as if the org had none of the
/// objects: the engine goes on without it.
fn describe_unknown() -> Vec<(&'static str, u16, Value)> {
    ["Contact", "Lead", "Account", "Case", "Task"]
        .map(|object| {
            (
                object,
                404,
                refused("NOT_FOUND", "The requested resource does not exist", &[]),
            )
        })
        .to_vec()
}

#[test]
fn a_request_refused_because_the_plugin_shuts_down_leaves_its_events_as_they_were() {
    use crate::salesforce::TransportErrorKind;
    let chat = |n: usize| {
        let mut chat = with_files_json();
        chat["id"] = json!(format!("c-{n}"));
        chat["attachments"] = json!([]);
        chat
    };
    // One chat alone, then three together (the batch's way): the first request of each is
    // refused before it leaves.
    for chats in [1, 3] {
        let rig = harness_then(
            |_| {},
            &[describe_unknown()],
            |replay| replay.expect_failure(Method::POST, COMPOSITE, TransportErrorKind::ShutDown),
        );
        let batch: Vec<QueuedEvent> = (0..chats).map(|n| queued(n as u64, &chat(n))).collect();
        let delivery = rig
            .engine
            .deliver("acme", &rig.settings, &batch, &StopSignal::default());
        rig.replay.assert_done();
        // No outcome: the queue clears their in-flight mark and counts no attempt.
        assert!(
            delivery.outcomes.is_empty(),
            "{chats} chat(s): {:?}",
            delivery.outcomes
        );
        assert!(
            matches!(&delivery.hold, Some(Hold::Until(_, why)) if why.contains("shutting down")),
            "{:?}",
            delivery.hold
        );
    }
}

#[test]
fn a_chat_whose_contact_an_earlier_try_made_writes_its_case_to_it_without_a_lookup() {
    let rig = harness(
        |_| {},
        &[describe_unknown(), vec![("act", 201, created("500A"))]],
    );
    let mut chat = with_files_json();
    chat["attachments"] = json!([]);
    // The batch's way made the Contact, then was held before the Case.
    let contact = ActivityRecord {
        object: "Contact".into(),
        id: "003M".into(),
    };
    rig.engine
        .queue
        .remember_people("acme", &[("c-1", contact)])
        .unwrap();
    let delivery = rig.engine.deliver(
        "acme",
        &rig.settings,
        &[queued(1, &chat)],
        &StopSignal::default(),
    );
    rig.replay.assert_done();
    assert_eq!(
        written(&delivery.outcomes[0].1),
        [
            ("Contact".into(), "003M".into()),
            ("Case".into(), "500A".into())
        ]
    );
    let sent = rig.sent(1);
    assert_eq!(sent.len(), 1, "no lookup, no update: {sent:#?}");
    let case = sub(&sent, "act");
    assert_eq!(case["method"], "POST");
    assert_eq!(case["body"]["ContactId"], "003M");
}

const LIMITS: &str = "https://na1.salesforce.com/services/data/v62.0/limits";

/// Salesforce's answer to `GET /limits`, with the usage in its `Sforce-Limit-Info`.
fn limits_answer(replay: ReplayTransport, used: u64) -> ReplayTransport {
    let usage = format!("api-usage={used}/1000");
    replay.expect_with(
        Method::GET,
        LIMITS,
        200,
        &[("Sforce-Limit-Info", usage.as_str())],
        br#"{"DailyApiRequests": {"Max": 1000}}"#,
        Duration::ZERO,
    )
}

/// A tenant held at its ceiling (50%) by a reading of 600/1000, as a delivery's answer left it.
fn held_at_the_ceiling(rig: &Harness) {
    let usage = crate::salesforce::ApiUsage {
        used: 600,
        limit: 1000,
    };
    rig.engine.connections.record_api_usage("acme", usage);
    let held = rig.engine.admit("acme", &rig.settings);
    assert!(
        matches!(&held, Err(Hold::Until(_, why)) if why.contains("ceiling is 50%")),
        "{held:?}"
    );
}

#[test]
fn when_a_pause_at_the_ceiling_ends_the_expired_usage_is_read_afresh_once() {
    let rig = harness_then(
        |s| s["max_api_usage_percent"] = json!(50),
        &[],
        |replay| limits_answer(replay, 100),
    );
    held_at_the_ceiling(&rig);
    // The pause outlasts the reading's trust: no figure when it ends.
    rig.advance(LIMIT_PAUSE);
    assert_eq!(rig.engine.connections.api_usage("acme"), None);
    assert_eq!(rig.engine.admit("acme", &rig.settings), Ok(()));
    rig.replay.assert_done();
    let asked = rig.replay.requests().len();
    // Let go on a fresh figure, the tenant is no longer held on anything: an expired reading
    // later on (a quiet spell) costs no look.
    rig.advance(LIMIT_PAUSE);
    assert_eq!(rig.engine.admit("acme", &rig.settings), Ok(()));
    assert_eq!(rig.replay.requests().len(), asked);
}

#[test]
fn when_a_pause_at_the_ceiling_ends_still_over_it_the_tenant_is_held_again() {
    let rig = harness_then(
        |s| s["max_api_usage_percent"] = json!(50),
        &[],
        |replay| limits_answer(limits_answer(replay, 700), 100),
    );
    held_at_the_ceiling(&rig);
    rig.advance(LIMIT_PAUSE);
    let held = rig.engine.admit("acme", &rig.settings);
    assert!(
        matches!(&held, Err(Hold::Until(_, why)) if why.contains("(700/1000)")),
        "{held:?}"
    );
    // Held on the new figure: the next pause's end reads it afresh too.
    rig.advance(LIMIT_PAUSE);
    assert_eq!(rig.engine.admit("acme", &rig.settings), Ok(()));
    rig.replay.assert_done();
}

#[test]
fn salesforce_unavailable_stops_the_turn_at_the_first_failure_and_holds_the_tenant() {
    use crate::salesforce::TransportErrorKind;
    let chat = |n: usize| {
        let mut chat = with_files_json();
        chat["id"] = json!(format!("c-{n}"));
        chat["attachments"] = json!([]);
        chat
    };
    let unavailable = br#"[{"errorCode": "SERVER_UNAVAILABLE", "message": "Server Unavailable"}]"#;
    // Two chats one at a time, answered 503; then three together (the batch's way), not
    // answered at all. Only the first request of each goes.
    for chats in [2, 3] {
        let rig = harness_then(
            |_| {},
            &[describe_unknown()],
            |replay| match chats {
                2 => replay.expect(Method::POST, COMPOSITE, 503, unavailable),
                _ => replay.expect_failure(Method::POST, COMPOSITE, TransportErrorKind::Connect),
            },
        );
        let batch: Vec<QueuedEvent> = (0..chats).map(|n| queued(n as u64, &chat(n))).collect();
        let delivery = rig
            .engine
            .deliver("acme", &rig.settings, &batch, &StopSignal::default());
        rig.replay.assert_done();
        let retried: Vec<u64> = delivery
            .outcomes
            .iter()
            .map(|(seq, outcome)| {
                assert!(matches!(outcome, Outcome::Retry { .. }), "{outcome:?}");
                *seq
            })
            .collect();
        // The chat whose request failed (all of the batch's, in its one request) counts an
        // attempt; one tried alone leaves the others untouched.
        let expected: Vec<u64> = match chats {
            2 => vec![0],
            _ => vec![0, 1, 2],
        };
        assert_eq!(retried, expected, "{chats} chats");
        assert!(
            matches!(&delivery.hold, Some(Hold::Until(until, why))
                if why.starts_with("Salesforce is unavailable")
                    && *until <= SystemTime::now() + Duration::from_secs(2)),
            "{chats} chats: {:?}",
            delivery.hold
        );
    }
}

#[test]
fn a_chat_key_is_kept_whole_up_to_100_and_beyond_keeps_its_start_and_a_digest() {
    assert_eq!(chat_key("acme", "chat-1"), "acme/chat-1");
    let short = format!("acme/{}", "x".repeat(95));
    assert_eq!(
        chat_key("acme", &"x".repeat(95)),
        short,
        "100 exactly: whole"
    );
    let long = chat_key(&"t".repeat(255), &"c".repeat(255));
    assert_eq!(utf16_len(&long), 100, "{long}");
    assert!(long.starts_with("ttt") && long.contains('…'), "{long}");
    assert_eq!(
        long,
        chat_key(&"t".repeat(255), &"c".repeat(255)),
        "the same every time"
    );
    // Ids that differ only past the kept start still differ.
    let other = chat_key(&"t".repeat(255), &format!("{}d", "c".repeat(254)));
    assert_ne!(long, other);
    // Characters outside the BMP count as two, as Salesforce counts them.
    let emoji = chat_key("acme", &"😀".repeat(100));
    assert!(utf16_len(&emoji) <= 100, "{emoji}");
    // With its key, the Subject fits its 255.
    let subject = with_key(&"s".repeat(300), &format!("[CloudCX {long}]"));
    assert_eq!(utf16_len(&subject), mapping::SUBJECT_MAX_CHARS);
}
