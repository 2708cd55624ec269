//! Many waiting chats of one tenant written together (issue 6): what it costs in API calls, and
//! that each chat is still written exactly once, to the right person, with its own outcome.

mod common;
#[path = "common/connected.rs"]
#[allow(dead_code)] // The harness serves several test files; this one uses part of it.
mod connected;

use std::collections::HashMap;

use base64::Engine;

use connected::{chat_ended, Connected, TENANT};
use serde_json::{json, Value};

/// Queues `events` while the tenant is disconnected, then reconnects it and waits until all are
/// settled; answers the API calls that cost, the describe read afresh at the reconnect among
/// them.
fn deliver_after_outage(rig: &Connected, events: &[Value]) -> u64 {
    // The first is taken and held before any request leaves: not tried, it waits as it was and
    // goes with the others in the first batch; they wait behind the hold.
    rig.queue_disconnected(events);
    assert_eq!(rig.status()["queue"]["pending"], events.len());
    let before = rig.org.api_calls();
    rig.connect();
    rig.wait_for("every chat settled", |s| s["queue"]["pending"] == 0);
    rig.org.api_calls() - before
}

fn chat_of(id: &str, visitor: Value, agent: &str) -> Value {
    chat_ended(
        id,
        visitor,
        json!({"agent": {"name": "Agent", "email": agent}}),
    )
}

/// The chat id in a Case's or Task's Subject key.
fn chat_id(record: &Value) -> String {
    let subject = record["Subject"].as_str().unwrap();
    let key = subject.rsplit("[CloudCX acme/").next().unwrap();
    key.trim_end_matches(']').to_string()
}

#[test]
fn a_thousand_waiting_chats_cost_at_most_one_call_per_twenty_and_each_is_written_once() {
    let rig = Connected::start(|_| {});
    rig.org
        .seed(&json!({"records": [
            {"type": "User", "Email": "owner@cx.example", "LastName": "Owner"},
            {"type": "Account", "Name": "Acme"},
            {"type": "Contact", "LastName": "Known", "Email": "v0@acme.example"},
            {"type": "Contact", "LastName": "Phoned", "Phone": "+1 555 0001"},
        ]}))
        .unwrap();
    let user = rig
        .records("User")
        .into_iter()
        .find(|u| u["Email"] == "owner@cx.example")
        .unwrap();
    // 1,000 chats: 700 visitors by email (chats 0-599 one each, 600-999 the second chat of
    // visitors 0-399), one of them already a Contact; 100 of them from Acme; chat 0 from a
    // visitor known only by phone.
    let events: Vec<Value> = (0..1000)
        .map(|n| {
            let visitor = if n == 0 {
                json!({"name": "By Phone", "phone": "+1 555 0001"})
            } else {
                let v = if n < 600 { n } else { n - 600 };
                let company = if v % 7 == 0 { "Acme" } else { "Other" };
                json!({"name": format!("Visitor {v}"), "email": format!("v{v}@acme.example"),
                       "company": company})
            };
            let agent = if n % 2 == 0 {
                "OWNER@cx.example"
            } else {
                "nobody@cx.example"
            };
            chat_of(&format!("b{n}"), visitor, agent)
        })
        .collect();
    let calls = deliver_after_outage(&rig, &events);

    // The issue allows 50. The describe, the agents' owners (one query), then five batches of
    // 200 chats: the visitors looked up, the new ones' Contacts created, the Cases created; the
    // last two batches' visitors all exist by then (lookups, Cases). The held chat 0 going
    // alone, after a look for its key, would cost two more.
    assert_eq!(calls, 1 + 1 + 3 * 3 + 2 * 2, "API calls for 1,000 chats");
    let status = rig.status();
    assert_eq!(status["queue"]["written"], 1000, "{status}");
    assert_eq!(status["queue"]["failed"], 0, "{status}");

    let cases = rig.records("Case");
    assert_eq!(cases.len(), 1000, "one Case per chat");
    let by_chat: HashMap<String, &Value> = cases.iter().map(|c| (chat_id(c), c)).collect();
    assert_eq!(by_chat.len(), 1000, "no chat written twice");

    let contacts = rig.records("Contact");
    // Visitors 1-599 by email (v0 and the phone visitor were known).
    assert_eq!(contacts.len(), 2 + 599, "one Contact per visitor");
    let contact_of = |email: &str| {
        contacts
            .iter()
            .find(|c| c["Email"] == email)
            .unwrap_or_else(|| panic!("no Contact for {email}"))
    };
    let phoned = contacts.iter().find(|c| c["LastName"] == "Phoned").unwrap();
    assert_eq!(by_chat["b0"]["ContactId"], phoned["Id"], "found by phone");
    assert_eq!(
        by_chat["b600"]["ContactId"],
        contact_of("v0@acme.example")["Id"],
        "the known Contact"
    );
    for (first, second) in [(7, 607), (399, 999), (5, 605)] {
        let contact = &contact_of(&format!("v{first}@acme.example"))["Id"];
        assert_eq!(&by_chat[&format!("b{first}")]["ContactId"], contact);
        assert_eq!(&by_chat[&format!("b{second}")]["ContactId"], contact);
    }
    let acme = &rig.records("Account")[0];
    let acme_contact = contact_of("v7@acme.example");
    assert_eq!(
        acme_contact["AccountId"], acme["Id"],
        "a new Contact of Acme"
    );
    assert_eq!(by_chat["b7"]["AccountId"], acme["Id"]);
    assert!(contact_of("v8@acme.example")["AccountId"].is_null());
    assert_eq!(by_chat["b2"]["OwnerId"], user["Id"], "the agent's user");
    assert_eq!(contact_of("v2@acme.example")["OwnerId"], user["Id"]);
    assert_ne!(by_chat["b3"]["OwnerId"], user["Id"], "no such user");

    let notified = rig.heard("a Case per chat", 1000, |n| n["object"] == "Case");
    let cases_notified = notified.iter().filter(|n| n["object"] == "Case").count();
    assert_eq!(cases_notified, 1000, "each chat has its own outcome, once");
}

#[test]
fn in_a_batch_a_refused_value_is_dropped_and_a_refused_record_fails_alone() {
    let rig = Connected::start(|s| {
        s["field_mapping"]["Case"] = json!({"AccountId": "custom.account"});
    });
    let mut events: Vec<Value> = (0..5)
        .map(|n| {
            chat_ended(
                &format!("r{n}"),
                json!({"name": format!("V{n}"), "email": format!("r{n}@acme.example")}),
                json!({}),
            )
        })
        .collect();
    events[1]["visitor"]["email"] = json!("not an email");
    events[3]["custom_variables"] = json!({"account": "001000000000000AAA"});
    deliver_after_outage(&rig, &events);

    let status = rig.status();
    assert_eq!(status["queue"]["written"], 4, "{status}");
    assert_eq!(status["queue"]["failed"], 1, "{status}");
    assert_eq!(status["failures"][0]["event_id"], "r3", "{status}");
    let cases = rig.records("Case");
    assert_eq!(cases.len(), 4);
    let refused = cases.iter().find(|c| chat_id(c) == "r1").unwrap();
    let description = refused["Description"].as_str().unwrap();
    assert!(
        description.contains("Salesforce refused Email") && description.contains("INVALID_EMAIL"),
        "{description}"
    );
    let contacts = rig.records("Contact");
    assert_eq!(
        contacts.len(),
        5,
        "r3's Contact was written before its Case failed"
    );
    let without = contacts.iter().find(|c| c["LastName"] == "V1").unwrap();
    assert!(without["Email"].is_null(), "{without}");
    assert_eq!(refused["ContactId"], without["Id"]);
}

fn offline(id: &str, email: &str) -> Value {
    json!({"type": "chat.offline_message", "tenant_id": TENANT, "id": id, "channel": "webchat",
           "at": "2026-11-24T22:40:00Z", "visitor": {"name": "Sam", "email": email, "company": "Globex"},
           "message": "Call me"})
}

#[test]
fn in_a_batch_the_match_policy_and_converted_leads_work_as_one_chat_at_a_time() {
    let rig = Connected::start(|_| {}); // on_match: fill_empty
    let ids = rig
        .org
        .seed(&json!({"records": [
            {"type": "Contact", "LastName": "Known", "Email": "k@acme.example"},
            {"type": "Lead", "LastName": "Old", "Company": "Globex", "Email": "conv@globex.example"},
        ]}))
        .unwrap();
    let (contact, _) = rig.org.convert_lead(&ids[1]).unwrap();
    let known = |phone: &str| json!({"name": "K", "email": "k@acme.example", "phone": phone});
    let events = [
        chat_ended("first", json!({"email": "first@acme.example"}), json!({})),
        chat_ended("k1", known("+1 111"), json!({})),
        chat_ended("k2", known("+1 222"), json!({})),
        offline("o1", "conv@globex.example"),
        offline("o2", "new@globex.example"),
        offline("o3", "NEW@globex.example"),
    ];
    deliver_after_outage(&rig, &events);
    assert_eq!(rig.status()["queue"]["written"], 6);

    let contacts = rig.records("Contact");
    let known = contacts
        .iter()
        .find(|c| c["Email"] == "k@acme.example")
        .unwrap();
    assert_eq!(known["Phone"], "+1 111", "filled by the first chat only");
    assert_eq!(known["LastName"], "Known", "never overwritten");
    let tasks = rig.records("Task");
    let task_of = |chat: &str| {
        tasks
            .iter()
            .find(|t| chat_id(t) == chat)
            .unwrap_or_else(|| panic!("no Task for {chat}"))
    };
    assert_eq!(
        task_of("o1")["WhoId"],
        contact,
        "the converted Lead's Contact"
    );
    let leads: Vec<Value> = rig
        .records("Lead")
        .into_iter()
        .filter(|l| {
            l["Email"]
                .as_str()
                .unwrap_or_default()
                .eq_ignore_ascii_case("new@globex.example")
        })
        .collect();
    assert_eq!(leads.len(), 1, "one Lead for one visitor: {leads:#?}");
    assert_eq!(task_of("o2")["WhoId"], leads[0]["Id"]);
    assert_eq!(task_of("o3")["WhoId"], leads[0]["Id"]);
}

#[test]
fn a_thousand_waiting_chats_with_files_cost_at_most_one_call_per_twenty_and_each_file_lands_once() {
    let rig = Connected::start(|_| {});
    let events: Vec<Value> = (0..1000)
        .map(|n| {
            let visitor = json!({"name": format!("V{n}"), "email": format!("f{n}@acme.example")});
            let bytes = format!("file of chat {n}");
            let data = base64::engine::general_purpose::STANDARD.encode(bytes.as_bytes());
            let mut extra = json!({"attachments": [{"name": format!("f{n}.txt"), "data_base64": data}]});
            if n % 100 == 7 {
                // A transcript longer than the Description: attached whole, as a second file.
                let long: Vec<Value> = (0..400)
                    .map(|i| json!({"from": "visitor", "name": "V", "text": format!("{i:04} {}", "x".repeat(100))}))
                    .collect();
                extra["messages"] = json!(long);
            }
            chat_ended(&format!("f{n}"), visitor, extra)
        })
        .collect();
    let calls = deliver_after_outage(&rig, &events);
    // The issue allows 50. The describe, then five batches of 200 chats: the visitors looked
    // up, their Contacts, their Cases, their 202 files (200 a request). The held chat 0 going
    // alone, after a look for its key, would cost three more.
    assert_eq!(calls, 1 + 5 * 5, "API calls for 1,000 chats");
    let status = rig.status();
    assert_eq!(status["queue"]["written"], 1000, "{status}");
    assert_eq!(status["queue"]["failed"], 0, "{status}");
    let files = rig.records("ContentVersion");
    assert_eq!(
        files.len(),
        1000 + 10,
        "one attachment each, ten transcripts"
    );
    for n in [0, 1, 7, 499, 999] {
        let case = rig.activity_of("Case", &format!("f{n}"));
        let on_case = rig.files_on(&case);
        let attachment = on_case
            .iter()
            .find(|f| f["PathOnClient"] == format!("f{n}.txt"))
            .unwrap_or_else(|| panic!("the file of f{n}"));
        assert_eq!(
            rig.file_bytes(attachment),
            format!("file of chat {n}").into_bytes()
        );
        assert_eq!(on_case.len(), if n % 100 == 7 { 2 } else { 1 }, "f{n}");
    }
}

#[test]
fn a_thousand_waiting_started_chats_cost_at_most_one_call_per_twenty_and_each_is_one_record() {
    let rig = Connected::start(|s| {
        s["webchat"] = json!({"trigger": "chat_started", "action": "contact_task",
                              "offline_message_action": "nothing"});
    });
    let mut events = Vec::new();
    for n in 0..1000 {
        let visitor = json!({"name": format!("V{n}"), "email": format!("s{n}@acme.example")});
        events.push(connected::chat_started(
            &format!("s{n}"),
            visitor.clone(),
            json!({}),
        ));
        events.push(chat_ended(&format!("s{n}"), visitor, json!({})));
    }
    let calls = deliver_after_outage(&rig, &events);
    // The issue allows 50. The describe, then batches of 200 events, one of each chat: the
    // starts (the visitors looked up, their Contacts, their Tasks), then their ends (the Tasks
    // completed in one request). The held start of chat 0 going alone, after a look for its
    // key, would cost three more.
    assert_eq!(calls, 1 + 5 * (3 + 1), "API calls for 1,000 chats");
    let status = rig.status();
    assert_eq!(status["queue"]["written"], 2000, "{status}");
    assert_eq!(status["queue"]["failed"], 0, "{status}");
    let tasks = rig.records("Task");
    assert_eq!(tasks.len(), 1000, "one Task per chat");
    assert!(
        tasks.iter().all(|t| t["Status"] == "Completed"),
        "each completed"
    );
    assert!(tasks
        .iter()
        .all(|t| t["Description"].as_str().unwrap().contains("Hi there")));
    assert_eq!(rig.records("Contact").len(), 1000);
}
