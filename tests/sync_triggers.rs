//! A chat whose records were made at its start (a `*_started` trigger), through the real plugin
//! library against the emulator: its end completes them whatever the trigger is by then
//! (host-contract.md §3), once, one chat at a time or in a batch; and the Contact or Lead the
//! start made gets what only the end knows, the ending agent as owner (integration.md §3) and
//! the visitor's values in place of placeholders (§4).

mod common;
#[path = "common/connected.rs"]
#[allow(dead_code)] // The harness serves several test files; this one uses part of it.
mod connected;

use std::time::Duration;

use cloudcx_shim::emulator::FaultKind;
use connected::{
    attachments, chat_ended, chat_started, conversation_ended, conversation_started, settings_for,
    Connected,
};
use serde_json::{json, Value};

const BOB: &str = "bob@cx.example.com";

fn webchat(rig: &Connected, trigger: &str, action: &str) {
    rig.configure(&settings_for(&rig.org, |s| {
        s["webchat"] = json!({"trigger": trigger, "action": action,
                              "offline_message_action": "nothing"});
    }));
}

/// Bob's User, seeded: the agent who ends the chats.
fn seed_bob(rig: &Connected) -> Value {
    let id = rig
        .org
        .seed(&json!({"records": [{"type": "User", "Email": BOB, "LastName": "Agent"}]}))
        .unwrap()
        .remove(0);
    json!(id)
}

fn by_bob() -> Value {
    json!({"name": "Bob", "email": BOB})
}

/// Files by name, with their bytes.
type Files = Vec<(String, Vec<u8>)>;

/// A chat's end with everything only an end carries: the transcript, a note, a wrap-up, the
/// agent, a file.
fn full_end(id: &str, visitor: Value) -> (Value, Files) {
    let (files, expected) = attachments(1);
    let end = chat_ended(
        id,
        visitor,
        json!({"note": "Refund promised", "wrap_up": "Billing > Refund",
               "agent": by_bob(), "attachments": files}),
    );
    (end, expected)
}

/// The fields a completion writes, as they compare between two chats of one visitor: all but
/// the record's own (its id and number, its Subject with the chat's key, its dates).
fn completed_fields(record: &Value, chat: &str) -> Value {
    let own = [
        "Id",
        "CaseNumber",
        "Subject",
        "SystemModstamp",
        "attributes",
    ];
    let mut fields = record.as_object().unwrap().clone();
    fields.retain(|name, _| !own.contains(&name.as_str()) && !name.ends_with("Date"));
    let text = Value::Object(fields).to_string().replace(chat, "CHAT");
    serde_json::from_str(&text).unwrap()
}

/// Chat `c1`'s Task is the one its start made, completed with [`full_end`]'s content, and its
/// Lead the only one.
fn completed_once(rig: &Connected, started: &Value, files: &Files) {
    let done = rig.activity_of("Task", "c1");
    assert_eq!(done["Id"], started["Id"]);
    assert_eq!(done["Status"], "Completed");
    assert!(done["Description"]
        .as_str()
        .unwrap()
        .contains("Refund promised"));
    rig.assert_files(&done, files);
    assert_eq!(rig.records("Lead").len(), 1);
}

fn written(rig: &Connected, count: u64) {
    let status = rig.delivered();
    assert_eq!(status["queue"]["written"], count, "{status}");
    assert_eq!(status["queue"]["failed"], 0, "{status}");
}

#[test]
fn an_end_arriving_after_the_switch_to_the_ended_trigger_completes_the_started_record_once() {
    let rig = Connected::start(|_| {});
    let bob = seed_bob(&rig);
    for (action, person, activity) in [
        ("lead_task", "Lead", "Task"),
        ("contact_case", "Contact", "Case"),
    ] {
        let visitor = json!({"name": "Jane", "email": format!("{action}@acme.example")});
        let (switched, unchanged) = (format!("{action}-switched"), format!("{action}-kept"));
        webchat(&rig, "chat_started", action);
        rig.deliver(&[
            chat_started(&switched, visitor.clone(), json!({})),
            chat_started(&unchanged, visitor.clone(), json!({})),
        ]);
        let started = rig.activity_of(activity, &switched);
        // The reference: an end under the trigger the chat started with.
        let (end, expected) = full_end(&unchanged, visitor.clone());
        rig.deliver(&[end]);
        let reference = rig.activity_of(activity, &unchanged);

        webchat(&rig, "chat_ended", action);
        let (end, _) = full_end(&switched, visitor.clone());
        rig.deliver(std::slice::from_ref(&end));
        let done = rig.activity_of(activity, &switched);
        assert_eq!(
            done["Id"], started["Id"],
            "{action}: the start's record, no second"
        );
        assert_eq!(
            completed_fields(&done, &switched),
            completed_fields(&reference, &unchanged),
            "{action}: completed as a chat_started end completes it"
        );
        let text = done["Description"].as_str().unwrap();
        for part in [
            "--- Transcript",
            "Hi there",
            "Refund promised",
            "Billing > Refund",
        ] {
            assert!(text.contains(part), "{action}: {part:?} in {text}");
        }
        assert_eq!(done["OwnerId"], bob, "{action}");
        if activity == "Task" {
            assert_eq!(done["Status"], "Completed", "{action}");
        }
        rig.assert_files(&done, &expected);
        assert_eq!(
            rig.records(person).len(),
            1,
            "{action}: one {person} for the visitor"
        );

        // The end delivered again: written already, nothing to do.
        let calls = rig.deliver(&[end]);
        assert_eq!(calls, 0, "{action}: a repeated end costs nothing");
        let again = rig.activity_of(activity, &switched);
        assert_eq!(again, done, "{action}: left as it was");
        rig.assert_files(&again, &expected);
    }
    written(&rig, 10);
}

#[test]
fn a_started_record_found_by_its_key_after_lost_answers_is_completed_once_after_the_switch() {
    let rig = Connected::start(|_| {});
    let jane = json!({"name": "Jane", "email": "jane@acme.example"});
    webchat(&rig, "chat_started", "lead_task");
    // The start's answer is lost: its retry finds the Task by its key.
    rig.org.drop_after_write(1);
    rig.deliver(&[chat_started("c1", jane.clone(), json!({}))]);
    assert_eq!(rig.org.dropped_writes(), 1);
    let started = rig.activity_of("Task", "c1");

    webchat(&rig, "chat_ended", "lead_task");
    // The end's answer is lost too: its retry sends only what the Task lacks.
    let (end, expected) = full_end("c1", jane);
    rig.org.drop_after_write(1);
    rig.deliver(&[end]);
    assert_eq!(rig.org.dropped_writes(), 2);
    completed_once(&rig, &started, &expected);
    written(&rig, 2);
}

#[test]
fn a_start_whose_answer_was_lost_and_retried_after_the_switch_is_one_record_completed_at_the_end() {
    let rig = Connected::start(|_| {});
    let jane = json!({"name": "Jane", "email": "jane@acme.example"});
    webchat(&rig, "chat_started", "lead_task");
    // The start's write is applied and its answer lost; Salesforce then answers 503, so that
    // the start is still to be retried when the tenant switches to the ended trigger. Each
    // request waits 500 ms before Salesforce looks at it: the retry cannot come before the 503s.
    rig.org.set_latency(Duration::from_millis(500));
    rig.org.drop_after_write(1);
    rig.send(&chat_started("c1", jane.clone(), json!({})))
        .unwrap();
    common::eventually("the start's write", connected::DELIVERY, || {
        (rig.org.dropped_writes() == 1).then_some(())
    });
    rig.org.fail_next(u32::MAX, FaultKind::Unavailable);
    assert_eq!(
        rig.status()["queue"]["pending"],
        1,
        "the start waits for its retry"
    );
    webchat(&rig, "chat_ended", "lead_task");
    rig.org.set_latency(Duration::ZERO);
    rig.org.fail_next(0, FaultKind::Unavailable);
    rig.delivered();
    let started = rig.activity_of("Task", "c1");
    assert_eq!(
        started["Status"], "In Progress",
        "found again by its key, not made twice"
    );

    let (end, expected) = full_end("c1", jane);
    rig.deliver(&[end]);
    completed_once(&rig, &started, &expected);
}

#[test]
fn a_chat_ended_under_the_ended_trigger_then_one_started_after_the_switch_are_each_one_record() {
    let rig = Connected::start(|_| {});
    let jane = json!({"name": "Jane", "email": "jane@acme.example"});
    webchat(&rig, "chat_ended", "lead_task");
    rig.deliver(&[chat_ended("before", jane.clone(), json!({}))]);
    let before = rig.activity_of("Task", "before");

    webchat(&rig, "chat_started", "lead_task");
    rig.deliver(&[chat_started("after", jane.clone(), json!({}))]);
    assert_eq!(rig.activity_of("Task", "after")["Status"], "In Progress");
    rig.deliver(&[chat_ended("after", jane, json!({}))]);
    let after = rig.activity_of("Task", "after");
    assert_eq!(after["Status"], "Completed");
    assert!(after["Description"].as_str().unwrap().contains("Hi there"));
    assert_eq!(rig.activity_of("Task", "before")["Id"], before["Id"]);
    assert_eq!(rig.records("Lead").len(), 1, "one Lead");
    written(&rig, 3);
}

/// Queues `events` while the tenant is disconnected, then reconnects it: they go together, as
/// one batch.
fn deliver_together(rig: &Connected, events: &[Value]) {
    rig.queue_disconnected(events);
    rig.connect();
    rig.wait_for("every chat settled", |s| s["queue"]["pending"] == 0);
}

#[test]
fn ends_arriving_together_after_the_switch_complete_their_started_records_and_made_leads() {
    let rig = Connected::start(|_| {});
    let bob = seed_bob(&rig);
    let chats = ["b1", "b2", "b3"];
    let visitor = |chat: &str| json!({"email": format!("{chat}@start.example")});
    webchat(&rig, "chat_started", "lead_task");
    for chat in chats {
        rig.deliver(&[chat_started(chat, visitor(chat), json!({}))]);
    }
    let started: Vec<Value> = chats
        .iter()
        .map(|chat| rig.activity_of("Task", chat))
        .collect();

    webchat(&rig, "chat_ended", "lead_task");
    let ends: Vec<(Value, Files)> = chats
        .iter()
        .map(|chat| {
            let mut visitor = visitor(chat);
            visitor["name"] = json!(format!("Visitor {chat}"));
            visitor["company"] = json!(format!("Company {chat}"));
            full_end(chat, visitor)
        })
        .collect();
    let events: Vec<Value> = ends.iter().map(|(end, _)| end.clone()).collect();
    deliver_together(&rig, &events);
    written(&rig, 6);
    for ((chat, start), (_, expected)) in chats.iter().zip(&started).zip(&ends) {
        let done = rig.activity_of("Task", chat);
        assert_eq!(done["Id"], start["Id"], "{chat}: no second Task");
        assert_eq!(done["Status"], "Completed", "{chat}");
        assert_eq!(done["OwnerId"], bob, "{chat}");
        let text = done["Description"].as_str().unwrap();
        assert!(text.contains("Refund promised"), "{chat}: {text}");
        rig.assert_files(&done, expected);
        let lead = rig
            .records("Lead")
            .into_iter()
            .find(|l| l["Id"] == done["WhoId"])
            .unwrap();
        assert_eq!(
            lead["Company"],
            format!("Company {chat}"),
            "{chat}: the end's company"
        );
        assert_eq!(
            lead["LastName"],
            format!("Visitor {chat}"),
            "{chat}: the end's name"
        );
        assert_eq!(lead["OwnerId"], bob, "{chat}: the ending agent's");
    }
    assert_eq!(rig.records("Lead").len(), 3);
}

#[test]
fn a_lead_made_at_the_start_takes_the_ending_agent_and_the_company_with_the_completion() {
    let rig = Connected::start(|_| {});
    let bob = seed_bob(&rig);
    webchat(&rig, "chat_started", "lead_task");
    // Bob's User is looked up once, by an earlier chat: the completion alone is measured.
    rig.deliver(&[chat_started(
        "warm",
        json!({"email": "w@x.example"}),
        json!({"agent": by_bob()}),
    )]);
    let sam = json!({"name": "Sam Lee", "email": "sam@globex.example"});
    rig.deliver(&[chat_started("c1", sam.clone(), json!({}))]);
    let sams_lead = || {
        let leads = rig.records("Lead").into_iter();
        let mut sams = leads.filter(|l| l["Email"] == "sam@globex.example");
        let lead = sams.next().expect("Sam's Lead");
        assert!(sams.next().is_none(), "one Lead for Sam");
        lead
    };
    let lead = sams_lead();
    assert_eq!(
        lead["Company"], "Unknown company",
        "a placeholder at the start"
    );
    assert_eq!(lead["OwnerId"], json!(rig.org.login_user_id()));

    let mut sam_at_end = sam;
    sam_at_end["company"] = json!("StartCo");
    let calls = rig.deliver(&[chat_ended("c1", sam_at_end, json!({"agent": by_bob()}))]);
    assert_eq!(calls, 1, "the Lead goes with the completion, in one call");
    let task = rig.activity_of("Task", "c1");
    assert_eq!(task["OwnerId"], bob);
    let lead = sams_lead();
    assert_eq!(lead["Id"], task["WhoId"]);
    assert_eq!(lead["Company"], "StartCo");
    assert_eq!(lead["LastName"], "Sam Lee", "the start's value stays");
    assert_eq!(lead["OwnerId"], bob);
    written(&rig, 3);
}

#[test]
fn a_name_arriving_at_the_end_replaces_the_last_name_placeholder() {
    let rig = Connected::start(|s| s["webchat"]["trigger"] = json!("chat_started"));
    let nameless = json!({"email": "anon@acme.example"});
    rig.deliver(&[chat_started("c1", nameless, json!({}))]);
    assert_eq!(
        rig.records("Contact")[0]["LastName"],
        "anon",
        "a placeholder"
    );
    rig.deliver(&[chat_ended(
        "c1",
        json!({"name": "Ann Onymous", "email": "anon@acme.example"}),
        json!({}),
    )]);
    let contact = &rig.records("Contact")[0];
    assert_eq!(contact["LastName"], "Ann Onymous");
    assert_eq!(
        contact["OwnerId"],
        json!(rig.org.login_user_id()),
        "no agent: as it was"
    );
    assert_eq!(rig.records("Contact").len(), 1);
    written(&rig, 2);
}

#[test]
fn a_contact_made_when_a_conversation_started_is_owned_by_the_agent_who_ended_it() {
    let rig = Connected::start(|s| {
        s["inbox"] = json!({"trigger": "conversation_started", "action": "contact_case"});
    });
    let bob = seed_bob(&rig);
    let okafor = json!({"last_name": "Okafor", "email": "c.okafor@initech.example"});
    rig.deliver(&[conversation_started("v1", okafor.clone(), json!({}))]);
    rig.deliver(&[conversation_ended("v1", okafor, json!({"agent": by_bob()}))]);
    let case = rig.activity_of("Case", "v1");
    assert_eq!(case["OwnerId"], bob);
    let contacts = rig.records("Contact");
    assert_eq!(contacts.len(), 1);
    assert_eq!(contacts[0]["OwnerId"], bob);
    written(&rig, 2);
}

#[test]
fn a_lead_found_at_the_start_is_left_to_the_match_policy_at_the_end() {
    let rig = Connected::start(|_| {});
    webchat(&rig, "chat_started", "lead_task");
    seed_bob(&rig);
    rig.org
        .seed(
            &json!({"records": [{"type": "Lead", "LastName": "Lee", "Company": "Seeded",
                                   "Email": "sam@globex.example"}]}),
        )
        .unwrap();
    let sam = json!({"name": "Sam Lee", "email": "sam@globex.example"});
    rig.deliver(&[chat_started("c1", sam.clone(), json!({}))]);
    let at_start = rig.records("Lead").remove(0);
    let mut sam_at_end = sam;
    sam_at_end["company"] = json!("StartCo");
    rig.deliver(&[chat_ended("c1", sam_at_end, json!({"agent": by_bob()}))]);
    let leads = rig.records("Lead");
    assert_eq!(leads.len(), 1, "found, not made");
    assert_eq!(leads[0]["Company"], "Seeded");
    assert_eq!(leads[0]["OwnerId"], at_start["OwnerId"]);
    assert_eq!(rig.activity_of("Task", "c1")["WhoId"], leads[0]["Id"]);
    written(&rig, 2);
}
