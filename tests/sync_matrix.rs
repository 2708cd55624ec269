//! Every trigger × action of Web Chat and the Inbox, through the real plugin library against
//! the emulator (integration.md §2): what each writes, and that a started chat's Case or Task
//! is the one completed at its end.

mod common;
#[path = "common/connected.rs"]
#[allow(dead_code)] // The harness serves several test files; this one uses part of it.
mod connected;

use connected::{
    chat_ended, chat_started, conversation_ended, conversation_started, offline_message,
    settings_for, Connected,
};
use serde_json::{json, Value};

const ACTIONS: [&str; 5] = [
    "contact_case",
    "lead_task",
    "case",
    "contact_task",
    "nothing",
];

/// What an action makes: (person object, activity object).
fn objects(action: &str) -> Option<(Option<&'static str>, &'static str)> {
    match action {
        "contact_case" => Some((Some("Contact"), "Case")),
        "lead_task" => Some((Some("Lead"), "Task")),
        "case" => Some((None, "Case")),
        "contact_task" => Some((Some("Contact"), "Task")),
        _ => None,
    }
}

/// The records of `object` with `field` = `value`.
fn with(rig: &Connected, object: &str, field: &str, value: &str) -> Vec<Value> {
    rig.records(object)
        .into_iter()
        .filter(|r| r[field] == value)
        .collect()
}

/// Checks what `chat` of a visitor with `email` became under `action`; answers its Case or
/// Task, if any.
fn check_written(rig: &Connected, action: &str, chat: &str, email: &str) -> Option<Value> {
    let Some((person, activity)) = objects(action) else {
        for object in ["Case", "Task"] {
            assert!(
                rig.activities_of(object, chat).is_empty(),
                "{action}: nothing"
            );
        }
        for object in ["Contact", "Lead"] {
            assert!(
                with(rig, object, "Email", email).is_empty(),
                "{action}: nobody"
            );
        }
        return None;
    };
    let act = rig.activity_of(activity, chat);
    let other = if activity == "Case" { "Task" } else { "Case" };
    assert!(
        rig.activities_of(other, chat).is_empty(),
        "{action}: no {other}"
    );
    match person {
        Some(object) => {
            let people = with(rig, object, "Email", email);
            assert_eq!(people.len(), 1, "{action}: one {object}");
            let link = if activity == "Case" {
                "ContactId"
            } else {
                "WhoId"
            };
            assert_eq!(
                act[link], people[0]["Id"],
                "{action}: the {activity} is the {object}'s"
            );
        }
        None => {
            assert!(act["ContactId"].is_null(), "{action}: a Case alone");
            assert_eq!(act["SuppliedEmail"], email);
            for object in ["Contact", "Lead"] {
                assert!(
                    with(rig, object, "Email", email).is_empty(),
                    "{action}: nobody"
                );
            }
        }
    }
    Some(act)
}

fn configure(rig: &Connected, patch: impl FnOnce(&mut Value)) {
    rig.configure(&settings_for(&rig.org, patch));
}

#[test]
fn web_chat_ended_and_offline_messages_for_every_action() {
    let rig = Connected::start(|_| {});
    for action in ACTIONS {
        configure(&rig, |s| {
            s["webchat"] = json!({"trigger": "chat_ended", "action": action,
                                  "offline_message_action": action});
        });
        let email = format!("{action}@chat.example");
        let visitor = json!({"name": "V", "email": email});
        rig.deliver(&[chat_ended(
            &format!("{action}-chat"),
            visitor.clone(),
            json!({}),
        )]);
        if let Some(act) = check_written(&rig, action, &format!("{action}-chat"), &email) {
            assert!(act["Description"].as_str().unwrap().contains("Hi there"));
        }
        // An offline message of the same visitor: found, not made again.
        rig.deliver(&[offline_message(
            &format!("{action}-off"),
            visitor,
            json!({}),
        )]);
        if let Some(act) = check_written(&rig, action, &format!("{action}-off"), &email) {
            assert!(act["Description"]
                .as_str()
                .unwrap()
                .contains("Please call me back"));
        }
    }
    assert_eq!(rig.status()["queue"]["failed"], 0);
}

#[test]
fn inbox_conversation_ended_for_every_action() {
    let rig = Connected::start(|_| {});
    for action in ACTIONS {
        configure(&rig, |s| {
            s["inbox"] = json!({"trigger": "conversation_ended", "action": action});
        });
        let email = format!("{action}@inbox.example");
        let contact =
            json!({"last_name": "Okafor", "email": email, "cell_phone": format!("+44 {action}")});
        rig.deliver(&[conversation_ended(
            &format!("{action}-conv"),
            contact,
            json!({}),
        )]);
        if let Some(act) = check_written(&rig, action, &format!("{action}-conv"), &email) {
            assert!(act["Description"].as_str().unwrap().contains("On its way"));
            if objects(action).unwrap().1 == "Case" {
                assert_eq!(act["Origin"], "Email", "the Inbox's email channel");
            }
        }
    }
}

/// A started chat or conversation and its end, for `action`: the records at the start, the
/// same Case or Task completed at the end.
fn started_then_ended(rig: &Connected, action: &str, start: Value, end: Value, email: &str) {
    let chat = start["id"].as_str().unwrap().to_string();
    rig.deliver(&[start]);
    let at_start = check_written(rig, action, &chat, email);
    let calls = rig.deliver(&[end]);
    let at_end = check_written(rig, action, &chat, email);
    match (at_start, at_end) {
        (Some(start), Some(end)) => {
            assert_eq!(
                start["Id"], end["Id"],
                "{action}: the same record completed"
            );
            assert_eq!(calls, 1, "{action}: completed in one call");
            let (_, activity) = objects(action).unwrap();
            if activity == "Task" {
                assert_eq!(start["Status"], "In Progress", "{action}");
                assert_eq!(end["Status"], "Completed", "{action}");
            }
            assert!(
                !start["Description"]
                    .as_str()
                    .unwrap()
                    .contains("--- Transcript"),
                "{action}: no transcript at the start"
            );
            assert!(
                end["Description"]
                    .as_str()
                    .unwrap()
                    .contains("--- Transcript"),
                "{action}: the transcript at the end"
            );
        }
        (None, None) => assert_eq!(calls, 0, "{action}: nothing, no call"),
        other => panic!("{action}: {other:?}"),
    }
}

#[test]
fn web_chat_started_for_every_action() {
    let rig = Connected::start(|_| {});
    for action in ACTIONS {
        configure(&rig, |s| {
            s["webchat"] = json!({"trigger": "chat_started", "action": action,
                                  "offline_message_action": "nothing"});
        });
        let email = format!("{action}@started.example");
        let visitor = json!({"name": "V", "email": email});
        let id = format!("{action}-started");
        started_then_ended(
            &rig,
            action,
            chat_started(&id, visitor.clone(), json!({})),
            chat_ended(&id, visitor, json!({})),
            &email,
        );
    }
    assert_eq!(rig.status()["queue"]["failed"], 0);
}

#[test]
fn inbox_conversation_started_for_every_action() {
    let rig = Connected::start(|_| {});
    for action in ACTIONS {
        configure(&rig, |s| {
            s["inbox"] = json!({"trigger": "conversation_started", "action": action});
        });
        let email = format!("{action}@conv-started.example");
        let contact = json!({"last_name": "Okafor", "email": email});
        let id = format!("{action}-conv-started");
        started_then_ended(
            &rig,
            action,
            conversation_started(&id, contact.clone(), json!({})),
            conversation_ended(&id, contact, json!({})),
            &email,
        );
    }
    assert_eq!(rig.status()["queue"]["failed"], 0);
}
