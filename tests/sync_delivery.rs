//! Chats and conversations written to Salesforce (the emulator) through the real plugin library:
//! what is written, how many API calls it costs, and that it is written exactly once whatever
//! Salesforce does.

mod common;
#[path = "common/connected.rs"]
#[allow(dead_code)] // The harness serves several test files; this one uses part of it.
mod connected;

use cloudcx_shim::emulator::FaultKind;
use connected::{chat_ended, Connected, TENANT};
use serde_json::{json, Value};

fn jane() -> Value {
    json!({"name": "Jane Doe", "email": "jane@acme.example", "phone": "+1 415 555 0100", "company": "Acme"})
}

fn only(records: Vec<Value>, what: &str) -> Value {
    assert_eq!(records.len(), 1, "exactly one {what}: {records:#?}");
    records.into_iter().next().unwrap()
}

#[test]
fn a_known_visitor_costs_one_call_and_a_new_visitor_with_a_file_two() {
    let rig = Connected::start(|_| {});
    let attachment = json!({"attachments": [
        {"name": "invoice.pdf", "content_type": "application/pdf", "data_base64": "JVBERi0xLjQK"}
    ]});
    let calls = rig.deliver(&[chat_ended("c1", jane(), attachment)]);
    assert_eq!(
        calls, 2,
        "a new visitor: look up, then Contact + Case + file in one request"
    );
    let contact = only(rig.records("Contact"), "Contact");
    assert_eq!(contact["Email"], "jane@acme.example");
    assert_eq!(contact["LastName"], "Jane Doe");
    let case = only(rig.records("Case"), "Case");
    assert_eq!(case["ContactId"], contact["Id"]);
    assert_eq!(case["SuppliedCompany"], "Acme");
    assert!(
        case["Subject"]
            .as_str()
            .unwrap()
            .ends_with("[CloudCX acme/c1]"),
        "{case}"
    );
    let file = only(rig.records("ContentVersion"), "file");
    assert_eq!(file["FirstPublishLocationId"], case["Id"]);
    assert_eq!(file["Title"], "invoice.pdf");

    let calls = rig.deliver(&[chat_ended("c2", jane(), json!({}))]);
    assert_eq!(calls, 1, "a returning visitor: one composite request");
    assert_eq!(
        rig.records("Contact").len(),
        1,
        "the Contact is found, not made again"
    );
    let cases = rig.records("Case");
    assert_eq!(cases.len(), 2);
    assert!(cases.iter().all(|c| c["ContactId"] == contact["Id"]));

    let status = rig.status();
    assert_eq!(status["queue"]["written"], 2);
    let notified = rig.heard("four records written", 4, |n| n["kind"] == "record_written");
    let objects: Vec<&str> = notified
        .iter()
        .filter_map(|n| n["object"].as_str())
        .collect();
    assert_eq!(
        objects,
        ["Contact", "Case", "Contact", "Case"],
        "{notified:#?}"
    );
}

#[test]
fn a_chat_started_and_ended_is_one_case_completed_at_the_end() {
    let rig = Connected::start(|s| s["webchat"]["trigger"] = json!("chat_started"));
    let started = json!({
        "type": "chat.started", "tenant_id": TENANT, "id": "c1", "channel": "webchat",
        "at": "2026-11-24T10:00:00Z", "visitor": jane(), "started_at": "2026-11-24T10:00:00Z",
    });
    rig.deliver(&[started]);
    let case = only(rig.records("Case"), "Case at the start");
    assert!(
        !case["Description"].as_str().unwrap().contains("Hi there"),
        "no transcript yet"
    );
    let ended = chat_ended(
        "c1",
        jane(),
        json!({"wrap_up": "Billing", "attachments": [{"name": "a.txt", "data_base64": "QQ=="}]}),
    );
    let calls = rig.deliver(&[ended]);
    assert_eq!(
        calls, 1,
        "the Case completed and the file attached in one request"
    );
    let completed = only(rig.records("Case"), "Case after the end");
    assert_eq!(completed["Id"], case["Id"]);
    let description = completed["Description"].as_str().unwrap();
    assert!(
        description.contains("Hi there") && description.contains("Billing"),
        "{description}"
    );
    assert_eq!(
        only(rig.records("ContentVersion"), "file")["FirstPublishLocationId"],
        case["Id"]
    );
}

#[test]
fn an_answer_lost_after_salesforce_applied_the_write_does_not_duplicate() {
    let rig = Connected::start(|_| {});
    rig.deliver(&[chat_ended("c0", jane(), json!({}))]); // Jane is known from here on
    rig.org.drop_after_write(1);
    rig.deliver(&[chat_ended("c1", jane(), json!({}))]);
    assert_eq!(
        rig.org.dropped_writes(),
        1,
        "the emulator applied a write and hung up"
    );
    let cases: Vec<Value> = rig
        .records("Case")
        .into_iter()
        .filter(|c| {
            c["Subject"]
                .as_str()
                .unwrap()
                .ends_with("[CloudCX acme/c1]")
        })
        .collect();
    only(cases, "Case for c1");
    assert_eq!(rig.status()["queue"]["written"], 2);
}

/// Whether the plugin logged that one of `chats` will be retried after Salesforce answered
/// `answer` (like `503 SERVER_UNAVAILABLE`).
fn retried_after(chats: &[Value], answer: &str) -> bool {
    let log = common::captured_log();
    chats.iter().any(|chat| {
        let line = format!(
            " {} will be retried: Salesforce answered {answer}",
            chat["id"].as_str().unwrap()
        );
        log.iter().any(|l| l.contains(&line))
    })
}

#[test]
fn outages_delay_delivery_but_lose_and_duplicate_nothing() {
    common::captured_log();
    let rig = Connected::start(|_| {});
    let chats = |from: usize| -> Vec<Value> {
        (from..from + 5)
            .map(|i| {
                let visitor = json!({"name": format!("V{i}"), "email": format!("v{i}@x.example")});
                chat_ended(&format!("outage-{i}"), visitor, json!({}))
            })
            .collect()
    };
    // Salesforce down for three calls, then rows locked for two: one fault at a time, since
    // the emulator's next fault replaces the one still pending. Once the chats are written,
    // every failure was answered: the calls that came after it succeeded.
    let faults = [
        (3, FaultKind::Unavailable, "503 SERVER_UNAVAILABLE"),
        (2, FaultKind::UnableToLockRow, "400 UNABLE_TO_LOCK_ROW"),
    ];
    for (n, (count, fault, answer)) in faults.into_iter().enumerate() {
        let chats = chats(n * 5);
        rig.org.fail_next(count, fault);
        rig.deliver(&chats);
        assert!(retried_after(&chats, answer), "no retry after {answer}");
    }
    assert_eq!(rig.records("Contact").len(), 10);
    assert_eq!(rig.records("Case").len(), 10);
    let cases = common::cases_by_key(&rig.org);
    assert!(cases.values().all(|&n| n == 1), "each chat once: {cases:?}");
    assert_eq!(rig.status()["queue"]["failed"], 0);
}

#[test]
fn an_expired_session_is_refreshed_mid_work() {
    let rig = Connected::start(|_| {});
    rig.deliver(&[chat_ended("c0", jane(), json!({}))]);
    rig.org.expire_access_tokens();
    rig.deliver(&[chat_ended("c1", jane(), json!({}))]);
    assert_eq!(rig.records("Case").len(), 2);
    assert_eq!(rig.status()["connection"]["state"], "connected");
}

#[test]
fn quotes_backslashes_and_unicode_in_visitor_text_stay_data() {
    let rig = Connected::start(|_| {});
    let tricky = json!({"name": "O'Brien \"Bob\" \\ Zoë 李", "email": "o'brien@x.example"});
    rig.deliver(&[chat_ended("c1", tricky.clone(), json!({}))]);
    rig.deliver(&[chat_ended("c2", tricky, json!({}))]);
    let contact = only(
        rig.records("Contact"),
        "Contact, found again by its quoted email",
    );
    assert_eq!(contact["LastName"], "O'Brien \"Bob\" \\ Zoë 李");
    // An injection attempt is only an email that matches nobody.
    let injection = json!({"name": "X", "email": "x' OR Email != '"});
    rig.deliver(&[chat_ended("c3", injection, json!({}))]);
    assert_eq!(rig.records("Contact").len(), 2);
}

#[test]
fn a_field_salesforce_refuses_is_dropped_and_noted() {
    let rig = Connected::start(|_| {});
    let visitor = json!({"name": "Nomail", "email": "not-an-email"});
    rig.deliver(&[chat_ended("c1", visitor, json!({}))]);
    let contact = only(rig.records("Contact"), "Contact");
    assert_eq!(
        contact["Email"],
        Value::Null,
        "written without the invalid email"
    );
    let case = only(rig.records("Case"), "Case");
    let description = case["Description"].as_str().unwrap();
    assert!(description.contains("Salesforce refused"), "{description}");
    assert_eq!(rig.status()["queue"]["failed"], 0);
}

#[test]
fn the_owner_is_the_agents_salesforce_user_or_the_connected_user() {
    let rig = Connected::start(|_| {});
    let ids = rig
        .org
        .seed(&json!({"records": [{"type": "User", "Email": "Bob@CX.example.com", "LastName": "Agent", "Username": "bob@cx.example.com"}]}))
        .unwrap();
    let bob = json!({"agent": {"name": "Bob", "email": "bob@cx.example.com"}});
    let stranger = json!({"agent": {"name": "Temp", "email": "temp@cx.example.com"}});
    rig.deliver(&[
        chat_ended("c1", jane(), bob),
        chat_ended("c2", jane(), stranger),
    ]);
    let owners: Vec<(String, String)> = rig
        .records("Case")
        .iter()
        .map(|c| {
            (
                c["Subject"].as_str().unwrap().to_string(),
                c["OwnerId"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    let owner_of = |chat: &str| {
        owners
            .iter()
            .find(|(s, _)| s.ends_with(&format!("/{chat}]")))
            .unwrap()
            .1
            .clone()
    };
    assert_eq!(owner_of("c1"), ids[0], "matched by email, case-insensitive");
    assert_eq!(
        owner_of("c2"),
        rig.org.login_user_id(),
        "no such user: the connected user"
    );
    assert_eq!(
        only(rig.records("Contact"), "Contact")["OwnerId"],
        json!(ids[0])
    );
}

#[test]
fn offline_messages_become_leads_with_tasks_and_a_converted_lead_uses_its_contact() {
    let rig = Connected::start(|_| {});
    let offline = |id: &str| {
        json!({"type": "chat.offline_message", "tenant_id": TENANT, "id": id, "channel": "webchat",
               "at": "2026-11-24T22:40:00Z", "visitor": {"name": "Sam Lee", "email": "sam@globex.example", "company": "Globex"},
               "message": "Call me back"})
    };
    rig.deliver(&[offline("o1")]);
    let lead = only(rig.records("Lead"), "Lead");
    assert_eq!(lead["Company"], "Globex");
    assert_eq!(
        lead["LeadSource"], "Web Chat",
        "the tenant's literal mapping"
    );
    let task = only(rig.records("Task"), "Task");
    assert_eq!(task["WhoId"], lead["Id"]);
    assert_eq!(task["Status"], "Completed");

    let (contact, _) = rig.org.convert_lead(lead["Id"].as_str().unwrap()).unwrap();
    rig.deliver(&[offline("o2")]);
    assert_eq!(
        rig.records("Lead").len(),
        1,
        "no new Lead for a converted one"
    );
    let second = rig
        .records("Task")
        .into_iter()
        .find(|t| t["Subject"].as_str().unwrap().ends_with("/o2]"))
        .unwrap();
    assert_eq!(second["WhoId"], json!(contact));
}

#[test]
fn fill_empty_adds_what_salesforce_lacks_and_never_overwrites() {
    let rig = Connected::start(|s| s["on_match"] = json!("fill_empty"));
    rig.org
        .seed(&json!({"records": [{"type": "Contact", "LastName": "Doe (CRM)", "Email": "jane@acme.example"}]}))
        .unwrap();
    rig.deliver(&[chat_ended("c1", jane(), json!({}))]);
    let contact = only(rig.records("Contact"), "Contact");
    assert_eq!(contact["LastName"], "Doe (CRM)", "not overwritten");
    assert_eq!(contact["Phone"], "+1 415 555 0100", "added");
}

#[test]
fn manual_mode_writes_nothing_on_hooks() {
    let rig = Connected::start(|s| s["mode"] = json!("manual"));
    let calls = rig.deliver(&[chat_ended("c1", jane(), json!({}))]);
    assert_eq!(calls, 0);
    assert!(rig.records("Case").is_empty() && rig.records("Contact").is_empty());
}

#[test]
fn a_long_transcript_is_cut_in_the_description_and_attached_whole() {
    let rig = Connected::start(|_| {});
    let messages: Vec<Value> = (0..400)
        .map(|i| json!({"from": "visitor", "name": "Jane", "text": format!("{i:04} {}", "x".repeat(100))}))
        .collect();
    rig.deliver(&[chat_ended("c1", jane(), json!({"messages": messages}))]);
    let case = only(rig.records("Case"), "Case");
    let description = case["Description"].as_str().unwrap();
    assert!(description.chars().count() <= 32_000);
    let file = only(rig.records("ContentVersion"), "transcript file");
    assert_eq!(file["FirstPublishLocationId"], case["Id"]);
    assert!(file["Title"].as_str().unwrap().contains("c1"), "{file}");
}

#[test]
fn an_exhausted_api_limit_pauses_the_tenant_and_keeps_its_events() {
    let rig = Connected::start(|_| {});
    rig.org.fail_next(1, FaultKind::RequestLimitExceeded);
    rig.send(&chat_ended("c1", jane(), json!({}))).unwrap();
    let status = rig.held();
    assert!(
        status["queue"]["held"]["reason"]
            .as_str()
            .unwrap()
            .contains("API limit"),
        "{status}"
    );
    assert!(status["queue"]["held"]["until"].is_string());
    assert_eq!(status["queue"]["pending"], 1);
}

#[test]
fn a_rejection_for_good_is_kept_with_its_reason_and_retried_once_the_admin_fixed_it() {
    let rig = Connected::start(|s| {
        s["field_mapping"]["Case"] = json!({"Chat_Rating__c": "literal:5"});
    });
    rig.send(&chat_ended("c1", jane(), json!({}))).unwrap();
    let status = rig.wait_for("a failure", |s| s["queue"]["failed"] == 1);
    let failure = &status["failures"][0];
    assert_eq!(failure["event_id"], "c1");
    assert_eq!(failure["error_code"], "INVALID_FIELD");
    assert!(
        failure["message"]
            .as_str()
            .unwrap()
            .contains("Chat_Rating__c"),
        "{failure}"
    );
    rig.heard("the failure of c1", 1, |n| {
        n["kind"] == "delivery_failed" && n["event_id"] == "c1"
    });
    assert!(rig.records("Case").is_empty());

    // The admin adds the field; the failed chat is queued again and goes through.
    rig.org
        .seed(&json!({"customFields": [{"object": "Case", "name": "Chat_Rating__c", "type": "string", "length": 10}]}))
        .unwrap();
    let answer = rig.plugin.plugin.retry(TENANT.into(), "c1".into());
    assert!(matches!(
        answer,
        cloudcx_salesforce_abi::abi_stable::std_types::RResult::ROk(_)
    ));
    let status = rig.delivered();
    assert_eq!(status["queue"]["failed"], 0);
    assert_eq!(only(rig.records("Case"), "Case")["Chat_Rating__c"], "5");
}

#[test]
fn nearing_the_tenants_api_ceiling_pauses_it_before_the_org_runs_out() {
    let rig = Connected::start(|s| s["max_api_usage_percent"] = json!(50));
    rig.deliver(&[chat_ended("c0", jane(), json!({}))]);
    // The org's other integrations used most of the day's calls.
    rig.org.set_api_limit(rig.org.api_calls() + 1);
    rig.deliver(&[chat_ended("c1", jane(), json!({}))]); // this call reports usage over 50%
    let calls = rig.org.api_calls();
    rig.send(&chat_ended("c2", jane(), json!({}))).unwrap();
    let status = rig.held();
    let reason = status["queue"]["held"]["reason"].as_str().unwrap();
    assert!(reason.contains("this tenant's ceiling is 50%"), "{reason}");
    assert_eq!(status["queue"]["pending"], 1);
    assert_eq!(rig.org.api_calls(), calls, "no call spent while paused");
}

#[test]
fn shutdown_cuts_a_slow_request_within_a_second_and_loses_nothing() {
    let mut rig = Connected::start(|_| {});
    let settings = connected::settings_for(&rig.org, |_| {});
    rig.deliver(&[chat_ended("c0", jane(), json!({}))]);
    rig.org.set_latency(std::time::Duration::from_secs(20));
    rig.send(&chat_ended("c1", jane(), json!({}))).unwrap();
    std::thread::sleep(std::time::Duration::from_millis(300)); // the request is on its way
    let stopping = std::time::Instant::now();
    rig.plugin.plugin.shutdown();
    assert!(
        stopping.elapsed() < std::time::Duration::from_secs(1),
        "{:?}",
        stopping.elapsed()
    );

    rig.org.set_latency(std::time::Duration::ZERO);
    rig.restart(&settings);
    rig.delivered();
    let c1: Vec<Value> = rig
        .records("Case")
        .into_iter()
        .filter(|c| c["Subject"].as_str().unwrap().ends_with("/c1]"))
        .collect();
    only(c1, "Case for c1, after the restart");
}
