//! The agent console through the real plugin library against the emulator: the customer view
//! (`lookup`) and manual create, their API calls, deadline and errors.

mod common;
#[path = "common/connected.rs"]
#[allow(dead_code)] // each test binary uses its own part of the harness
mod connected;

use std::time::{Duration, Instant};

use cloudcx_salesforce_abi::abi_stable::std_types::RResult;
use cloudcx_salesforce_abi::{ErrorCode, PluginError};
use cloudcx_shim::emulator::FaultKind;
use connected::{chat_ended, Connected, TENANT};
use serde_json::{json, Value};

const DEADLINE_MS: u64 = 3_000;

fn lookup(rig: &Connected, who: Value, deadline_ms: u64) -> Result<Value, PluginError> {
    let mut request = json!({"tenant_id": TENANT});
    let key = if who.get("last_name").is_some() || who.get("cell_phone").is_some() {
        "contact"
    } else {
        "visitor"
    };
    request[key] = who;
    answer(
        rig.plugin
            .plugin
            .lookup(request.to_string().as_str().into(), deadline_ms),
    )
}

fn create(rig: &Connected, object: &str, event: &Value) -> Result<Value, PluginError> {
    create_within(rig, object, event, DEADLINE_MS)
}

fn create_within(
    rig: &Connected,
    object: &str,
    event: &Value,
    deadline_ms: u64,
) -> Result<Value, PluginError> {
    let request = json!({"tenant_id": TENANT, "object": object, "event": event});
    answer(
        rig.plugin
            .plugin
            .create(request.to_string().as_str().into(), deadline_ms),
    )
}

fn answer(result: cloudcx_salesforce_abi::JsonResult) -> Result<Value, PluginError> {
    match result {
        RResult::ROk(text) => Ok(serde_json::from_str(&text).expect("JSON")),
        RResult::RErr(e) => Err(e),
    }
}

fn jane() -> Value {
    json!({"name": "Jane Doe", "email": "jane@acme.example", "phone": "+1 415 555 0100", "company": "Acme"})
}

/// An Account, Jane as its Contact with two Cases, and an unrelated Contact.
fn seed_jane(rig: &Connected) -> (String, String) {
    let ids = rig
        .org
        .seed(&json!({"records": [{"type": "Account", "Name": "Acme"}]}))
        .unwrap();
    let account = ids[0].clone();
    let ids = rig
        .org
        .seed(&json!({"records": [
            {"type": "Contact", "FirstName": "Jane", "LastName": "Doe", "Email": "jane@acme.example",
             "Phone": "+1 415 555 0100", "AccountId": account},
            {"type": "Contact", "LastName": "Other", "Email": "other@acme.example"},
        ]}))
        .unwrap();
    let contact = ids[0].clone();
    rig.org
        .seed(&json!({"records": [
            {"type": "Case", "Subject": "Older", "ContactId": contact, "Status": "Closed"},
            {"type": "Case", "Subject": "Newer", "ContactId": contact},
        ]}))
        .unwrap();
    (account, contact)
}

fn url(rig: &Connected, object: &str, id: &str) -> String {
    format!("{}/lightning/r/{object}/{id}/view", rig.org.instance_url())
}

#[test]
fn one_match_with_account_and_recent_cases_costs_one_call_then_none() {
    let rig = Connected::start(|_| {});
    let (account, contact) = seed_jane(&rig);
    let before = rig.org.api_calls();
    let view = lookup(&rig, json!({"email": "jane@acme.example"}), DEADLINE_MS).unwrap();
    assert_eq!(rig.org.api_calls() - before, 1, "one composite request");
    let matches = view["matches"].as_array().unwrap();
    assert_eq!(matches.len(), 1, "{view:#}");
    let jane = &matches[0];
    assert_eq!(jane["object"], "Contact");
    assert_eq!(jane["id"], contact.as_str());
    assert_eq!(jane["url"], url(&rig, "Contact", &contact));
    assert_eq!(jane["matched_by"], "Email");
    // The example settings' display fields, in their order.
    let fields: Vec<(&String, &Value)> = jane["fields"].as_object().unwrap().iter().collect();
    assert_eq!(
        fields,
        [
            (&"Name".to_string(), &json!("Jane Doe")),
            (&"Email".to_string(), &json!("jane@acme.example")),
            (&"Phone".to_string(), &json!("+1 415 555 0100")),
            (&"Account.Name".to_string(), &json!("Acme")),
        ]
    );
    assert_eq!(jane["account"]["id"], account.as_str());
    assert_eq!(jane["account"]["url"], url(&rig, "Account", &account));
    assert_eq!(jane["account"]["fields"], json!({"Name": "Acme"}));
    let recent = jane["recent"].as_array().unwrap();
    let subjects: Vec<&Value> = recent.iter().map(|c| &c["fields"]["Subject"]).collect();
    assert_eq!(subjects, [&json!("Newer"), &json!("Older")], "newest first");
    assert_eq!(recent[0]["object"], "Case");
    let case_id = recent[0]["id"].as_str().unwrap();
    assert_eq!(recent[0]["url"], url(&rig, "Case", case_id));
    assert!(recent[0]["fields"]["CaseNumber"].is_string(), "{recent:#?}");

    // The agent opens the chat again: the cache answers.
    let again = lookup(&rig, json!({"email": "jane@acme.example"}), DEADLINE_MS).unwrap();
    assert_eq!(again, view);
    assert_eq!(rig.org.api_calls() - before, 1, "no second call");
}

#[test]
fn several_matches_come_best_first_contacts_then_leads_with_their_tasks() {
    let rig = Connected::start(|_| {});
    let ids = rig
        .org
        .seed(&json!({"records": [
            {"type": "Contact", "LastName": "Doe A", "Email": "jane@acme.example"},
            {"type": "Contact", "LastName": "Doe B", "Email": "jane@acme.example"},
            {"type": "Lead", "LastName": "Doe", "Company": "Acme", "Email": "jane@acme.example"},
        ]}))
        .unwrap();
    rig.org
        .seed(&json!({"records": [{"type": "Task", "Subject": "Called her", "WhoId": ids[2]}]}))
        .unwrap();
    // An Inbox contact, with the Inbox's names.
    let view = lookup(
        &rig,
        json!({"last_name": "Doe", "email": "jane@acme.example"}),
        DEADLINE_MS,
    )
    .unwrap();
    let objects: Vec<&str> = view["matches"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["object"].as_str().unwrap())
        .collect();
    assert_eq!(objects, ["Contact", "Contact", "Lead"], "{view:#}");
    let lead = &view["matches"][2];
    assert_eq!(lead["id"], ids[2].as_str());
    assert_eq!(
        lead["fields"],
        json!({"Name": "Doe", "Email": "jane@acme.example", "Company": "Acme", "Status": "Open - Not Contacted"})
    );
    assert_eq!(lead["account"], Value::Null, "a Lead has no Account");
    assert_eq!(lead["recent"][0]["object"], "Task");
    assert_eq!(lead["recent"][0]["fields"]["Subject"], "Called her");
}

/// The Ids and rules of a view's matches, best first.
fn ranked(view: &Value) -> Vec<(String, String)> {
    view["matches"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            let id = m["id"].as_str().unwrap().to_string();
            (id, m["matched_by"].as_str().unwrap().to_string())
        })
        .collect()
}

#[test]
fn every_rule_is_asked_even_more_than_one_request_has_query_slots_for() {
    // Five Contact rules and a Lead rule: a query per rule would need more than the five one
    // composite request holds. Only the last Contact rule finds Jane.
    let rig = Connected::start(|s| {
        s["identification"]["contact"] = json!([
            ["Email"],
            ["Phone"],
            ["LastName", "Email"],
            ["LastName", "Phone"],
            ["LastName"]
        ]);
    });
    let ids = rig
        .org
        .seed(&json!({"records": [
            {"type": "Contact", "LastName": "Jane Doe", "Email": "jd@old.example", "Phone": "+1 415 555 0199"},
            {"type": "Contact", "LastName": "John Doe", "Email": "john@acme.example"},
        ]}))
        .unwrap();
    let before = rig.org.api_calls();
    let view = lookup(&rig, jane(), DEADLINE_MS).unwrap();
    assert_eq!(rig.org.api_calls() - before, 1, "one composite request");
    assert_eq!(
        ranked(&view),
        [(ids[0].clone(), "LastName".to_string())],
        "{view:#}"
    );
}

#[test]
fn two_contacts_come_by_the_earliest_rule_they_match_then_newest_first() {
    let rig = Connected::start(|_| {}); // Contacts by Email, then by Phone.
    let ids = rig
        .org
        .seed(&json!({"records": [
            {"type": "Contact", "LastName": "Doe", "Email": "jane@acme.example"},
            {"type": "Contact", "LastName": "Desk", "Email": "desk@acme.example", "Phone": "+1 415 555 0100"},
        ]}))
        .unwrap();
    let (by_email, by_phone) = (&ids[0], &ids[1]);
    rig.make_newest("Contact", by_phone, json!({"Title": "Changed"}));
    let view = lookup(&rig, jane(), DEADLINE_MS).unwrap();
    assert_eq!(
        ranked(&view),
        [
            (by_email.clone(), "Email".to_string()),
            (by_phone.clone(), "Phone".to_string())
        ],
        "the earlier rule's match first, though older: {view:#}"
    );

    // Two found by the same rule: the one changed last first, whichever was made first.
    let rig = Connected::start(|_| {});
    let ids = rig
        .org
        .seed(&json!({"records": [
            {"type": "Contact", "LastName": "Doe A", "Email": "jane@acme.example"},
            {"type": "Contact", "LastName": "Doe B", "Email": "jane@acme.example"},
        ]}))
        .unwrap();
    rig.make_newest("Contact", &ids[0], json!({"Title": "Changed"}));
    let view = lookup(&rig, json!({"email": "jane@acme.example"}), DEADLINE_MS).unwrap();
    assert_eq!(
        ranked(&view),
        [
            (ids[0].clone(), "Email".to_string()),
            (ids[1].clone(), "Email".to_string())
        ],
        "{view:#}"
    );
}

#[test]
fn no_match_is_not_found_and_so_is_a_visitor_without_values() {
    let rig = Connected::start(|_| {});
    seed_jane(&rig);
    let before = rig.org.api_calls();
    let e = lookup(&rig, json!({"email": "nobody@acme.example"}), DEADLINE_MS).unwrap_err();
    assert_eq!(e.code, ErrorCode::NOT_FOUND, "{e}");
    assert!(e.message.contains("matches no Contact or Lead"), "{e}");
    let e = lookup(&rig, json!({"name": "Anonymous"}), DEADLINE_MS).unwrap_err();
    assert_eq!(e.code, ErrorCode::NOT_FOUND, "{e}");
    assert_eq!(
        rig.org.api_calls() - before,
        1,
        "nothing to compare: no call"
    );
    let e = lookup(&rig, json!({}), DEADLINE_MS).unwrap_err();
    assert_eq!(e.code, ErrorCode::NOT_FOUND, "{e}");
    let bad = rig.plugin.plugin.lookup(
        json!({"tenant_id": TENANT}).to_string().as_str().into(),
        100,
    );
    assert_eq!(answer(bad).unwrap_err().code, ErrorCode::INVALID_INPUT);
}

#[test]
fn a_converted_lead_shows_the_contact_it_became() {
    // Contacts are matched by phone only: the visitor's email finds her through her Lead.
    let rig = Connected::start(|s| s["identification"]["contact"] = json!([["Phone"]]));
    let ids = rig
        .org
        .seed(&json!({"records": [
            {"type": "Lead", "LastName": "Doe", "Company": "Acme", "Email": "jane@acme.example"},
        ]}))
        .unwrap();
    let (contact, account) = rig.org.convert_lead(&ids[0]).unwrap();
    let view = lookup(&rig, json!({"email": "jane@acme.example"}), DEADLINE_MS).unwrap();
    let matches = view["matches"].as_array().unwrap();
    assert_eq!(matches.len(), 1, "not the converted Lead itself: {view:#}");
    assert_eq!(matches[0]["object"], "Contact");
    assert_eq!(matches[0]["id"], contact.as_str());
    assert_eq!(matches[0]["converted_lead"], true);
    assert_eq!(matches[0]["account"]["id"], account.as_str());
}

#[test]
fn display_fields_are_the_tenants_or_the_defaults() {
    let rig = Connected::start(|s| {
        s["display_fields"] = json!({"Contact": ["LastName", "Account.Name"], "Case": ["Subject"]})
    });
    seed_jane(&rig);
    let view = lookup(&rig, json!({"email": "jane@acme.example"}), DEADLINE_MS).unwrap();
    let jane = &view["matches"][0];
    assert_eq!(
        jane["fields"],
        json!({"LastName": "Doe", "Account.Name": "Acme"})
    );
    assert_eq!(jane["recent"][0]["fields"], json!({"Subject": "Newer"}));

    // Without display_fields: the defaults.
    let defaults = connected::settings_for(&rig.org, |s| {
        s.as_object_mut().unwrap().remove("display_fields");
    });
    rig.configure(&defaults);
    let view = lookup(&rig, json!({"email": "jane@acme.example"}), DEADLINE_MS).unwrap();
    let jane = &view["matches"][0];
    let names: Vec<&String> = jane["fields"].as_object().unwrap().keys().collect();
    assert_eq!(names, ["Name", "Email", "Phone", "Account.Name"]);
    let case_fields: Vec<&String> = jane["recent"][0]["fields"]
        .as_object()
        .unwrap()
        .keys()
        .collect();
    assert_eq!(case_fields, ["CaseNumber", "Subject", "Status"]);
}

#[test]
fn a_slow_salesforce_is_a_timeout_and_its_late_answer_serves_the_next_look() {
    let rig = Connected::start(|_| {});
    seed_jane(&rig);
    rig.org.set_latency(Duration::from_millis(600));
    let started = Instant::now();
    let e = lookup(&rig, json!({"email": "jane@acme.example"}), 150).unwrap_err();
    assert_eq!(e.code, ErrorCode::TIMEOUT, "{e}");
    assert!(
        started.elapsed() < Duration::from_millis(500),
        "answered at the deadline, not when Salesforce did: {:?}",
        started.elapsed()
    );
    std::thread::sleep(Duration::from_millis(800));
    rig.org.set_latency(Duration::ZERO);
    let calls = rig.org.api_calls();
    let view = lookup(&rig, json!({"email": "jane@acme.example"}), 150).unwrap();
    assert_eq!(view["matches"][0]["fields"]["Name"], "Jane Doe");
    assert_eq!(rig.org.api_calls(), calls, "the late answer was kept");
}

#[test]
fn a_lookup_without_a_deadline_from_the_host_gets_three_seconds() {
    let rig = Connected::start(|_| {});
    seed_jane(&rig);
    rig.org.set_latency(Duration::from_secs(8));
    let started = Instant::now();
    let e = lookup(&rig, json!({"email": "jane@acme.example"}), 0).unwrap_err();
    let waited = started.elapsed();
    assert_eq!(e.code, ErrorCode::TIMEOUT, "{e}");
    assert!(e.message.contains("did not answer within 3000 ms"), "{e}");
    assert!(
        Duration::from_millis(2_500) < waited && waited < Duration::from_secs(6),
        "answered after {waited:?}"
    );
}

#[test]
fn a_tenant_that_must_reconnect_or_is_disconnected_gets_a_clear_error() {
    let rig = Connected::start(|_| {});
    seed_jane(&rig);
    let other = json!({"email": "other@acme.example"});
    lookup(&rig, other.clone(), DEADLINE_MS).unwrap(); // now in the cache
    rig.org.revoke_refresh_tokens();
    rig.org.expire_access_tokens();
    let e = lookup(&rig, json!({"email": "jane@acme.example"}), DEADLINE_MS).unwrap_err();
    assert_eq!(e.code, ErrorCode::NOT_CONNECTED, "{e}");
    assert!(e.message.contains("connect"), "{e}");
    let event = chat_ended("c1", jane(), json!({}));
    let e = create(&rig, "Case", &event).unwrap_err();
    assert_eq!(e.code, ErrorCode::NOT_CONNECTED, "{e}");

    rig.plugin.plugin.disconnect(TENANT.into());
    let e = lookup(&rig, other, DEADLINE_MS).unwrap_err();
    assert_eq!(e.code, ErrorCode::NOT_CONNECTED, "not from the cache: {e}");
    assert!(rig.records("Case").len() == 2, "nothing written");
}

fn manual(s: &mut Value) {
    s["mode"] = json!("manual");
}

#[test]
fn manual_mode_hooks_write_nothing_and_each_object_can_be_created() {
    let rig = Connected::start(manual);
    rig.org
        .seed(&json!({"records": [
            {"type": "User", "Email": "bob@cx.example.com", "LastName": "Agent"},
            {"type": "Account", "Name": "Acme"},
        ]}))
        .unwrap();
    let bob = rig.org.records("User")[1]["Id"].clone();
    let account = rig.org.records("Account")[0]["Id"].clone();
    let agent = json!({"agent": {"name": "Bob", "email": "bob@cx.example.com"}});
    let event = chat_ended("c1", jane(), agent.clone());
    let calls = rig.deliver(std::slice::from_ref(&event));
    assert_eq!(calls, 0, "manual mode: the hook writes nothing");
    for object in ["Lead", "Contact", "Case", "Task"] {
        assert!(rig.records(object).is_empty(), "no {object} yet");
    }

    let lead = create(&rig, "Lead", &event).unwrap();
    assert_eq!(lead["object"], "Lead");
    assert_eq!(lead["already_made"], false);
    let lead_id = lead["id"].as_str().unwrap();
    assert_eq!(lead["url"], url(&rig, "Lead", lead_id));
    let made = &rig.records("Lead")[0];
    assert_eq!(made["Id"], lead_id);
    assert_eq!(made["LeadSource"], "Web Chat", "the tenant's mapping");
    assert_eq!(made["Company"], "Acme");
    assert_eq!(made["OwnerId"], bob, "the agent's Salesforce user owns it");

    let contact = create(&rig, "Contact", &event).unwrap();
    assert_eq!(contact["object"], "Contact");
    let made = &rig.records("Contact")[0];
    assert_eq!(made["Id"], contact["id"]);
    assert_eq!(
        made["AccountId"], account,
        "the Account by the visitor's company"
    );
    assert_eq!(made["OwnerId"], bob);

    let case = create(&rig, "Case", &event).unwrap();
    assert_eq!(case["object"], "Case");
    assert_eq!(case["person"]["id"], contact["id"], "the Contact found");
    let made = &rig.records("Case")[0];
    assert_eq!(made["ContactId"], contact["id"]);
    assert!(made["Description"].as_str().unwrap().contains("Hi there"));

    let task = create(&rig, "Task", &event).unwrap();
    assert_eq!(task["object"], "Task");
    assert_eq!(
        rig.records("Task")[0]["WhoId"],
        contact["id"],
        "a Task goes to the Contact when there is one"
    );
    assert_eq!(rig.records("Contact").len(), 1);
    assert_eq!(rig.records("Lead").len(), 1);
}

#[test]
fn a_task_for_a_stranger_makes_a_lead_and_an_unknown_object_is_refused() {
    let rig = Connected::start(manual);
    let event = chat_ended(
        "c9",
        json!({"name": "Sam", "email": "sam@globex.example"}),
        json!({}),
    );
    let task = create(&rig, "Task", &event).unwrap();
    let lead = &rig.records("Lead")[0];
    assert_eq!(task["person"]["object"], "Lead");
    assert_eq!(task["person"]["id"], lead["Id"]);
    assert_eq!(rig.records("Task")[0]["WhoId"], lead["Id"]);
    assert!(rig.records("Contact").is_empty());

    // A visitor whose Lead was converted: "Create Lead" answers the Contact it became.
    let ids = rig
        .org
        .seed(
            &json!({"records": [{"type": "Lead", "LastName": "Roe", "Company": "Initech",
            "Email": "roe@initech.example"}]}),
        )
        .unwrap();
    let (contact, _) = rig.org.convert_lead(&ids[0]).unwrap();
    let roe = chat_ended("c10", json!({"email": "roe@initech.example"}), json!({}));
    let answer = create(&rig, "Lead", &roe).unwrap();
    assert_eq!(answer["object"], "Contact", "{answer}");
    assert_eq!(answer["id"], contact.as_str());

    let e = create(&rig, "Opportunity", &event).unwrap_err();
    assert_eq!(e.code, ErrorCode::INVALID_INPUT, "{e}");
    let started = json!({"type": "chat.started", "tenant_id": TENANT, "id": "c9", "channel": "webchat",
        "at": "2026-11-24T10:00:00Z", "visitor": {}, "started_at": "2026-11-24T10:00:00Z"});
    let e = create(&rig, "Case", &started).unwrap_err();
    assert_eq!(e.code, ErrorCode::INVALID_INPUT, "{e}");
}

#[test]
fn a_double_click_makes_one_record() {
    let rig = Connected::start(manual);
    let event = chat_ended("c1", jane(), json!({}));
    let answers: Vec<Value> = std::thread::scope(|s| {
        let clicks: Vec<_> = (0..2)
            .map(|_| s.spawn(|| create(&rig, "Case", &event).unwrap()))
            .collect();
        clicks.into_iter().map(|c| c.join().unwrap()).collect()
    });
    assert_eq!(answers[0]["id"], answers[1]["id"], "{answers:#?}");
    assert_eq!(rig.records("Case").len(), 1);
    assert_eq!(rig.records("Contact").len(), 1);
    let again = create(&rig, "Case", &event).unwrap();
    assert_eq!(again["id"], answers[0]["id"]);
    assert_eq!(again["already_made"], true);
    let lead = create(&rig, "Lead", &event).unwrap();
    let lead_again = create(&rig, "Lead", &event).unwrap();
    assert_eq!(lead_again["id"], lead["id"]);
    assert_eq!(rig.records("Lead").len(), 1);
    assert_eq!(
        rig.records("Case").len(),
        1,
        "another object is another record"
    );
}

#[test]
fn a_first_click_spends_no_call_looking_for_an_earlier_one() {
    let rig = Connected::start(manual);
    let event = chat_ended("c1", jane(), json!({}));
    let before = rig.org.api_calls();
    let case = create(&rig, "Case", &event).unwrap();
    assert_eq!(case["already_made"], false);
    // The visitor looked up with the Case written onto a match (there is none), then the
    // Contact and the Case created together.
    assert_eq!(
        rig.org.api_calls() - before,
        2,
        "no look for the chat's key"
    );
}

#[test]
fn a_click_after_one_whose_answer_was_lost_answers_the_case_it_made_even_after_a_restart() {
    let mut rig = Connected::start(manual);
    let event = chat_ended("c1", jane(), json!({}));
    rig.org.drop_after_write(1);
    let e = create(&rig, "Case", &event).unwrap_err();
    assert_eq!(rig.org.dropped_writes(), 1, "{e}");
    let cases = rig.records("Case");
    assert_eq!(cases.len(), 1, "Salesforce wrote it all the same");

    // What the first click started is on disk: a restart between the clicks forgets nothing.
    rig.restart(&connected::settings_for(&rig.org, manual));
    let before = rig.org.api_calls();
    let again = create(&rig, "Case", &event).unwrap();
    assert_eq!(again["id"], cases[0]["Id"], "{again}");
    assert_eq!(again["already_made"], true, "{again}");
    assert_eq!(
        rig.org.api_calls() - before,
        1,
        "one look for the chat's key"
    );
    assert_eq!(rig.records("Case").len(), 1, "not written twice");
    assert_eq!(rig.records("Contact").len(), 1);

    let before = rig.org.api_calls();
    let third = create(&rig, "Case", &event).unwrap();
    assert_eq!(third["id"], cases[0]["Id"]);
    assert_eq!(rig.org.api_calls(), before, "remembered once found");
}

#[test]
fn with_the_key_field_a_click_after_a_lost_answer_upserts_the_same_case() {
    let rig = Connected::start(manual);
    rig.with_the_key_field();
    let event = chat_ended("c1", jane(), json!({}));
    rig.org.drop_after_write(1);
    create(&rig, "Case", &event).unwrap_err();
    let cases = rig.records("Case");
    assert_eq!(cases.len(), 1, "Salesforce wrote it all the same");

    let again = create(&rig, "Case", &event).unwrap();
    assert_eq!(again["id"], cases[0]["Id"], "{again}");
    assert_eq!(again["already_made"], true, "the upsert found it: {again}");
    assert_eq!(rig.records("Case").len(), 1, "not written twice");
    assert_eq!(rig.records("Contact").len(), 1);
}

#[test]
fn with_the_key_field_a_click_after_a_lost_answer_makes_no_second_contact_for_an_anonymous_visitor()
{
    let rig = Connected::start(manual);
    rig.with_the_key_field();
    // No email, no phone: identification cannot find the Contact the first click made.
    let event = chat_ended("c1", json!({"name": "Anonymous"}), json!({}));
    rig.org.drop_after_write(1);
    create(&rig, "Case", &event).unwrap_err();
    let cases = rig.records("Case");
    assert_eq!(cases.len(), 1, "Salesforce wrote it all the same");
    assert_eq!(rig.records("Contact").len(), 1);

    let again = create(&rig, "Case", &event).unwrap();
    assert_eq!(again["id"], cases[0]["Id"], "{again}");
    assert_eq!(again["already_made"], true, "{again}");
    assert_eq!(rig.records("Contact").len(), 1, "no second Contact");
    assert_eq!(rig.records("Case").len(), 1);
    assert_eq!(rig.records("Case")[0]["ContactId"], cases[0]["ContactId"]);
}

#[test]
fn a_lead_whose_answer_was_lost_is_found_again_or_not_made_twice() {
    let rig = Connected::start(manual);
    // A visitor with an email: the next click finds the Lead the first one made.
    let known = chat_ended(
        "c1",
        json!({"name": "Sam", "email": "sam@globex.example"}),
        json!({}),
    );
    rig.org.drop_after_write(1);
    let e = create(&rig, "Lead", &known).unwrap_err();
    assert!(
        e.message.contains("creating it again is safe"),
        "the agent is told the click after is safe: {e}"
    );
    let leads = rig.records("Lead");
    assert_eq!(leads.len(), 1, "Salesforce wrote it all the same");
    let again = create(&rig, "Lead", &known).unwrap();
    assert_eq!(again["id"], leads[0]["Id"], "{again}");
    assert_eq!(rig.records("Lead").len(), 1);

    // A visitor with nothing to be found by: no second Lead, and the agent is told why.
    let anonymous = chat_ended("c2", json!({"name": "Anonymous"}), json!({}));
    rig.org.drop_after_write(1);
    let e = create(&rig, "Lead", &anonymous).unwrap_err();
    assert!(
        e.message.contains("nothing to find it by") && !e.message.contains("again is safe"),
        "the agent is told to look before making another: {e}"
    );
    assert_eq!(rig.records("Lead").len(), 2, "written all the same");
    for _ in 0..2 {
        let e = create(&rig, "Lead", &anonymous).unwrap_err();
        assert!(
            e.message.contains("may have made it") && e.message.contains("look for it"),
            "{e}"
        );
    }
    assert_eq!(rig.records("Lead").len(), 2, "no second Lead");

    // A create Salesforce refused made nothing: the next click makes the Lead.
    let refused = chat_ended("c3", json!({"name": "Anonymous"}), json!({}));
    rig.org.fail_next(1, FaultKind::RequestLimitExceeded);
    let e = create(&rig, "Lead", &refused).unwrap_err();
    assert!(e.message.contains("REQUEST_LIMIT_EXCEEDED"), "{e}");
    assert_eq!(rig.records("Lead").len(), 2);
    let made = create(&rig, "Lead", &refused).unwrap();
    assert_eq!(made["already_made"], false);
    assert_eq!(rig.records("Lead").len(), 3);
}

#[test]
fn a_click_after_one_whose_files_did_not_all_land_attaches_the_others_once() {
    let rig = Connected::start(manual);
    let (files, expected) = connected::attachments(30);
    let event = chat_ended("c1", jane(), json!({"attachments": files}));
    // Two calls left: the visitor looked up, then the Contact, the Case and the files that
    // fit created together. The other files' request is refused.
    rig.org.set_api_limit(rig.org.api_calls() + 2);
    let e = create(&rig, "Case", &event).unwrap_err();
    assert!(e.message.contains("API limit"), "{e}");
    let cases = rig.records("Case");
    assert_eq!(cases.len(), 1);
    let on_it = rig.files_on(&cases[0]).len();
    assert!(0 < on_it && on_it < expected.len(), "{on_it} files");

    rig.org.set_api_limit(1_000_000);
    let again = create(&rig, "Case", &event).unwrap();
    assert_eq!(again["id"], cases[0]["Id"], "{again}");
    assert_eq!(again["already_made"], true);
    rig.assert_files(&cases[0], &expected);

    let before = rig.org.api_calls();
    let third = create(&rig, "Case", &event).unwrap();
    assert_eq!(third["id"], cases[0]["Id"]);
    assert_eq!(rig.org.api_calls(), before, "nothing left to send");
    assert_eq!(rig.records("Case").len(), 1);
    assert_eq!(rig.records("Contact").len(), 1);
}

#[test]
fn in_automatic_mode_an_extra_case_is_a_new_one_and_the_view_shows_it() {
    let rig = Connected::start(|_| {});
    let event = chat_ended("c1", jane(), json!({}));
    rig.deliver(std::slice::from_ref(&event));
    let view = lookup(&rig, json!({"email": "jane@acme.example"}), DEADLINE_MS).unwrap();
    assert_eq!(view["matches"][0]["recent"].as_array().unwrap().len(), 1);
    let extra = create(&rig, "Case", &event).unwrap();
    assert_eq!(extra["already_made"], false);
    assert_eq!(rig.records("Case").len(), 2, "the agent asked for another");
    let view = lookup(&rig, json!({"email": "jane@acme.example"}), DEADLINE_MS).unwrap();
    assert_eq!(
        view["matches"][0]["recent"].as_array().unwrap().len(),
        2,
        "a create forgets the cached view"
    );
}

/// A visitor name longer than LastName's 80 characters, and a field the integration user may
/// not write (the read-only `Name`) mapped by the tenant.
fn long_name_and_read_only_name(s: &mut Value) {
    manual(s);
    s["field_mapping"]["Lead"]["Name"] = json!("visitor.name");
    s["field_mapping"]["Contact"] = json!({"Name": "visitor.name"});
}

fn long_name() -> String {
    let name = "Wolfeschlegelsteinhausenbergerdorff ".repeat(3);
    name.trim_end().to_string()
}

#[test]
fn a_manual_lead_is_cut_to_its_fields_and_written_without_the_fields_salesforce_refuses() {
    let rig = Connected::start(long_name_and_read_only_name);
    let event = chat_ended(
        "c1",
        json!({"name": long_name(), "email": "jane@", "company": "Acme"}),
        json!({}),
    );
    let lead = create(&rig, "Lead", &event).unwrap();
    let made = &rig.records("Lead")[0];
    assert_eq!(made["Id"], lead["id"]);
    let last_name = made["LastName"].as_str().unwrap();
    assert!(last_name.chars().count() <= 80, "{last_name}");
    assert!(last_name.starts_with("Wolfeschlegel"), "{last_name}");
    assert!(last_name.contains("[cut by CloudCX"), "{last_name}");
    assert_eq!(made["Email"], Value::Null, "the invalid email left out");
    assert_eq!(made["Company"], "Acme", "the rest written");
    let description = made["Description"].as_str().unwrap();
    for said in [
        "LastName was cut from 107 to 80 characters",
        "Salesforce refused Email = \"jane@\" (INVALID_EMAIL_ADDRESS",
        "Salesforce refused Name = ",
    ] {
        assert!(
            description.contains(said),
            "{said:?} not in:\n{description}"
        );
    }
}

#[test]
fn a_manual_contact_found_and_overwritten_is_cut_and_keeps_what_salesforce_accepts() {
    let rig = Connected::start(|s| {
        long_name_and_read_only_name(s);
        s["on_match"] = json!("overwrite");
    });
    let ids = rig
        .org
        .seed(
            &json!({"records": [{"type": "Contact", "LastName": "Doe", "Email": "jane@acme.example",
                                    "Description": "A loyal customer"}]}),
        )
        .unwrap();
    let event = chat_ended(
        "c1",
        json!({"name": long_name(), "email": "jane@acme.example", "phone": "+1 415 555 0199"}),
        json!({}),
    );
    let contact = create(&rig, "Contact", &event).unwrap();
    assert_eq!(contact["id"], ids[0].as_str(), "the Contact found");
    let contacts = rig.records("Contact");
    assert_eq!(contacts.len(), 1);
    let last_name = contacts[0]["LastName"].as_str().unwrap();
    assert!(last_name.chars().count() <= 80, "{last_name}");
    assert!(last_name.contains("[cut by CloudCX"), "{last_name}");
    assert_eq!(contacts[0]["Phone"], "+1 415 555 0199", "overwritten");
    assert_eq!(
        contacts[0]["Description"], "A loyal customer",
        "a found record's Description is its own"
    );
}

#[test]
fn the_view_shows_the_five_most_recent_cases_or_tasks_newest_first() {
    let rig = Connected::start(|_| {});
    let ids = rig
        .org
        .seed(&json!({"records": [
            {"type": "Contact", "LastName": "Doe", "Email": "jane@acme.example"},
            {"type": "Lead", "LastName": "Roe", "Company": "Initech", "Email": "roe@initech.example"},
        ]}))
        .unwrap();
    let (contact, lead) = (&ids[0], &ids[1]);
    let cases: Vec<Value> = (1..=7)
        .map(|i| json!({"type": "Case", "Subject": format!("Case {i}"), "ContactId": contact}))
        .collect();
    let tasks: Vec<Value> = (1..=7)
        .map(|i| json!({"type": "Task", "Subject": format!("Task {i}"), "WhoId": lead}))
        .collect();
    rig.org.seed(&json!({"records": cases})).unwrap();
    rig.org.seed(&json!({"records": tasks})).unwrap();

    for (who, expected) in [
        (
            "jane@acme.example",
            ["Case 7", "Case 6", "Case 5", "Case 4", "Case 3"],
        ),
        (
            "roe@initech.example",
            ["Task 7", "Task 6", "Task 5", "Task 4", "Task 3"],
        ),
    ] {
        let view = lookup(&rig, json!({"email": who}), DEADLINE_MS).unwrap();
        let subjects: Vec<&str> = view["matches"][0]["recent"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["fields"]["Subject"].as_str().unwrap())
            .collect();
        assert_eq!(subjects, expected, "{view:#}");
    }
}

#[test]
fn a_manual_task_for_a_visitor_with_only_a_lead_goes_to_that_lead() {
    let rig = Connected::start(manual);
    let ids = rig
        .org
        .seed(&json!({"records": [
            {"type": "Lead", "LastName": "Roe", "Company": "Initech", "Email": "roe@initech.example"},
        ]}))
        .unwrap();
    let event = chat_ended(
        "c1",
        json!({"name": "Rita Roe", "email": "roe@initech.example"}),
        json!({}),
    );
    let task = create(&rig, "Task", &event).unwrap();
    assert_eq!(task["person"]["object"], "Lead", "{task}");
    assert_eq!(task["person"]["id"], ids[0].as_str());
    assert_eq!(rig.records("Task")[0]["WhoId"], ids[0].as_str());
    assert_eq!(rig.records("Lead").len(), 1, "no new Lead");
    assert!(rig.records("Contact").is_empty(), "no Contact");
}

#[test]
fn a_manual_case_goes_to_a_new_contact_when_none_is_found_even_beside_a_lead() {
    let rig = Connected::start(manual);
    rig.org
        .seed(&json!({"records": [
            {"type": "Lead", "LastName": "Roe", "Company": "Initech", "Email": "roe@initech.example"},
        ]}))
        .unwrap();
    let event = chat_ended(
        "c1",
        json!({"name": "Rita Roe", "email": "roe@initech.example"}),
        json!({}),
    );
    let case = create(&rig, "Case", &event).unwrap();
    let contacts = rig.records("Contact");
    assert_eq!(contacts.len(), 1, "a Contact made for the Case");
    assert_eq!(contacts[0]["Email"], "roe@initech.example");
    assert_eq!(case["person"]["object"], "Contact");
    assert_eq!(case["person"]["id"], contacts[0]["Id"]);
    assert_eq!(rig.records("Case")[0]["ContactId"], contacts[0]["Id"]);
    assert_eq!(rig.records("Lead").len(), 1, "the Lead left alone");
}

#[test]
fn a_manual_create_past_its_deadline_is_a_clear_error_and_the_next_click_finds_the_record() {
    let rig = Connected::start(manual);
    let event = chat_ended("c1", jane(), json!({}));
    rig.org.set_latency(Duration::from_millis(400));
    let started = Instant::now();
    let e = create_within(&rig, "Case", &event, 150).unwrap_err();
    assert_eq!(e.code, ErrorCode::TIMEOUT, "{e}");
    assert!(e.message.contains("did not answer within 150 ms"), "{e}");
    assert!(
        started.elapsed() < Duration::from_millis(400),
        "answered at the deadline"
    );

    // Salesforce writes it all the same; the agent clicks again as soon as it has.
    let case = common::eventually("the Case", Duration::from_secs(10), || {
        rig.records("Case").first().cloned()
    });
    rig.org.set_latency(Duration::ZERO);
    let again = create(&rig, "Case", &event).unwrap();
    assert_eq!(again["id"], case["Id"], "{again}");
    assert_eq!(again["already_made"], true);
    assert_eq!(rig.records("Case").len(), 1, "not written twice");
    assert_eq!(rig.records("Contact").len(), 1);
}

/// A Salesforce that accepts connections, reads each request and closes the connection
/// without answering, on `port` until dropped.
struct Dropping {
    port: u16,
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Dropping {
    fn on(port: u16) -> Dropping {
        let listener = std::net::TcpListener::bind(("127.0.0.1", port)).unwrap();
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let stopped = stop.clone();
        let thread = std::thread::spawn(move || {
            for stream in listener.incoming() {
                if stopped.load(std::sync::atomic::Ordering::SeqCst) {
                    return;
                }
                if let Ok(mut stream) = stream {
                    read_request(&mut stream);
                }
            }
        });
        Dropping {
            port,
            stop,
            thread: Some(thread),
        }
    }
}

impl Drop for Dropping {
    fn drop(&mut self) {
        self.stop.store(true, std::sync::atomic::Ordering::SeqCst);
        let _ = std::net::TcpStream::connect(("127.0.0.1", self.port));
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// Reads one HTTP request whole (headers, then a body of its Content-Length).
fn read_request(stream: &mut std::net::TcpStream) {
    use std::io::Read;
    let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
    let mut request = Vec::new();
    let mut chunk = [0u8; 8192];
    let head_end = loop {
        if let Some(at) = request.windows(4).position(|w| w == b"\r\n\r\n") {
            break at + 4;
        }
        match stream.read(&mut chunk) {
            Ok(0) | Err(_) => return,
            Ok(n) => request.extend_from_slice(&chunk[..n]),
        }
    };
    let head = String::from_utf8_lossy(&request[..head_end]).to_ascii_lowercase();
    let length: usize = head
        .lines()
        .find_map(|l| l.strip_prefix("content-length:"))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0);
    while request.len() < head_end + length {
        match stream.read(&mut chunk) {
            Ok(0) | Err(_) => return,
            Ok(n) => request.extend_from_slice(&chunk[..n]),
        }
    }
}

/// The port of an `http://HOST:PORT` URL.
fn port_of(url: &str) -> u16 {
    url.rsplit_once(':')
        .unwrap()
        .1
        .trim_end_matches('/')
        .parse()
        .unwrap()
}

/// A lookup and a create, twice, each answered before its deadline by a Salesforce error that
/// names `cause`.
fn clicks_fail(rig: &Connected, event: &Value, cause: &str) {
    for _ in 0..2 {
        let started = Instant::now();
        let looked = lookup(rig, json!({"email": "jane@acme.example"}), DEADLINE_MS);
        let created = create(rig, "Case", event);
        for (what, answer) in [("lookup", looked), ("create", created)] {
            let e = answer.unwrap_err();
            assert_eq!(e.code, ErrorCode::SALESFORCE, "{what}: {e}");
            assert!(e.message.contains(cause), "{what}: {e}");
        }
        assert!(
            started.elapsed() < Duration::from_millis(DEADLINE_MS),
            "answered after {:?}",
            started.elapsed()
        );
    }
}

#[test]
fn a_refused_or_dropped_connection_is_a_clear_error_and_the_click_after_it_writes_once() {
    let keep = tempfile::tempdir().unwrap();
    let data = keep.path().join("org.json");
    let org = |port: u16| {
        cloudcx_shim::emulator::Emulator::start(cloudcx_shim::emulator::EmulatorOptions {
            port,
            data_file: Some(data.clone()),
            ..Default::default()
        })
        .expect("the emulator starts")
    };
    let mut rig = Connected::start_on(org(0), manual);
    let port = port_of(rig.org.instance_url());
    let (_, contact) = seed_jane(&rig);
    let event = chat_ended("c1", jane(), json!({}));

    // Nothing listens on the instance's port (the emulator, standing in, is elsewhere).
    drop(std::mem::replace(
        &mut rig.org,
        cloudcx_shim::emulator::Emulator::start(Default::default()).unwrap(),
    ));
    clicks_fail(
        &rig,
        &event,
        "Salesforce could not be reached (io: Connection refused",
    );

    // Something listens there, and drops each connection without answering.
    let dropping = Dropping::on(port);
    clicks_fail(&rig, &event, "the connection to Salesforce failed");
    drop(dropping);

    // Salesforce is back: the agent clicks again.
    rig.org = org(port);
    let view = lookup(&rig, json!({"email": "jane@acme.example"}), DEADLINE_MS).unwrap();
    assert_eq!(view["matches"][0]["fields"]["Name"], "Jane Doe");
    let case = create(&rig, "Case", &event).unwrap();
    let again = create(&rig, "Case", &event).unwrap();
    assert_eq!(again["id"], case["id"]);
    assert_eq!(again["already_made"], true);
    let cases = rig.activities_of("Case", "c1 (manual Case)");
    assert_eq!(cases.len(), 1, "{cases:#?}");
    assert_eq!(
        cases[0]["ContactId"],
        contact.as_str(),
        "Jane's Contact, found"
    );
    assert_eq!(rig.records("Contact").len(), 2, "none made");

    // The emulator's own fault: it writes the Case, then drops the connection unanswered.
    let event = chat_ended("c2", jane(), json!({}));
    rig.org.drop_after_write(1);
    let e = create(&rig, "Case", &event).unwrap_err();
    assert_eq!(rig.org.dropped_writes(), 1, "{e}");
    assert_eq!(e.code, ErrorCode::SALESFORCE, "{e}");
    assert!(
        e.message.contains("the connection to Salesforce failed"),
        "{e}"
    );
    assert!(
        e.message.contains("creating it again is safe"),
        "the agent is told the click after is safe: {e}"
    );
    let again = create(&rig, "Case", &event).unwrap();
    assert_eq!(again["already_made"], true, "{again}");
    let cases = rig.activities_of("Case", "c2 (manual Case)");
    assert_eq!(cases.len(), 1, "{cases:#?}");
    assert_eq!(again["id"], cases[0]["Id"]);
    assert_eq!(rig.records("Contact").len(), 2, "none made");
}

#[test]
fn the_lookup_finds_a_contact_by_name_and_by_mobile_phone_though_neither_is_mapped() {
    let rig = Connected::start(|s| {
        s["identification"]["contact"] = json!([["Name"], ["MobilePhone"]]);
        s["identification"]["lead"] = json!([["Name"]]);
    });
    let (_, jane) = seed_jane(&rig);
    let mobile = rig
        .org
        .seed(&json!({"records": [
            {"type": "Contact", "LastName": "Mobile", "MobilePhone": "+1 555 0142"},
        ]}))
        .unwrap()
        .remove(0);
    let found = |who: Value| ranked(&lookup(&rig, who, DEADLINE_MS).unwrap());
    assert_eq!(
        found(json!({"name": "Jane Doe"})),
        [(jane, "Name".to_string())]
    );
    assert_eq!(
        found(json!({"name": "Sam Lee", "phone": "+1 555 0142"})),
        [(mobile, "MobilePhone".to_string())]
    );
}
