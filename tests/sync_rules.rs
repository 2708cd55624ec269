//! Identification, match policies, Accounts, owners, refusals and lost answers, through the
//! real plugin library against the emulator (issue 6), with what each costs in API calls.

mod common;
#[path = "common/connected.rs"]
#[allow(dead_code)] // The harness serves several test files; this one uses part of it.
mod connected;

use cloudcx_salesforce_abi::abi_stable::std_types::RResult;
use connected::{attachments, chat_ended, chat_started, settings_for, Connected, TENANT};
use serde_json::{json, Value};

fn jane() -> Value {
    json!({"name": "Jane Doe", "email": "jane@acme.example", "phone": "+1 415 555 0100",
           "company": "Acme"})
}

fn seed(rig: &Connected, records: Value) -> Vec<String> {
    rig.org.seed(&json!({ "records": records })).unwrap()
}

fn contact(rig: &Connected, id: &str) -> Value {
    rig.records("Contact")
        .into_iter()
        .find(|c| c["Id"] == id)
        .unwrap()
}

#[test]
fn keep_and_overwrite_cost_one_call_and_fill_empty_two_when_it_fills() {
    for (policy, calls, last_name, phone) in [
        ("keep", 1, "Doe (CRM)", Value::Null),
        ("overwrite", 1, "Jane Doe", json!("+1 415 555 0100")),
        ("fill_empty", 2, "Doe (CRM)", json!("+1 415 555 0100")),
    ] {
        let rig = Connected::start(|s| s["on_match"] = json!(policy));
        let id = seed(
            &rig,
            json!([{"type": "Contact", "LastName": "Doe (CRM)", "Email": "jane@acme.example"}]),
        )
        .remove(0);
        let spent = rig.deliver(&[chat_ended("c1", jane(), json!({}))]);
        assert_eq!(spent, calls, "{policy}");
        let found = contact(&rig, &id);
        assert_eq!(found["LastName"], last_name, "{policy}");
        assert_eq!(found["Phone"], phone, "{policy}");
        assert_eq!(
            rig.activity_of("Case", "c1")["ContactId"],
            json!(id),
            "{policy}"
        );
        if policy == "fill_empty" {
            // Nothing left to fill: the same one call as the others.
            assert_eq!(rig.deliver(&[chat_ended("c2", jane(), json!({}))]), 1);
        }
    }
}

fn logged(line: &str) -> bool {
    common::captured_log().iter().any(|l| l.contains(line))
}

#[test]
fn several_matches_take_the_most_recently_modified_by_any_rule_and_say_so() {
    common::captured_log();
    let rig = Connected::start(|_| {}); // contact rules: Email, then Phone
    let ids = seed(
        &rig,
        json!([
            {"type": "Contact", "LastName": "A", "Email": "dup@acme.example"},
            {"type": "Contact", "LastName": "B", "Email": "dup@acme.example"},
            {"type": "Contact", "LastName": "C", "Phone": "+1 555 0199"},
            {"type": "Contact", "LastName": "D", "Phone": "+1 555 0199"},
        ]),
    );
    // The most recently modified is the first made of one pair, the last of the other: neither
    // the order they were made in nor its reverse picks both.
    rig.make_newest("Contact", &ids[0], json!({"Title": "newest by email"}));
    rig.make_newest("Contact", &ids[3], json!({"Title": "newest by phone"}));
    rig.deliver(&[
        chat_ended("by-email", json!({"email": "dup@acme.example"}), json!({})),
        // No match by email: the second rule (phone) finds two.
        chat_ended(
            "by-phone",
            json!({"email": "nobody@acme.example", "phone": "+1 555 0199"}),
            json!({}),
        ),
    ]);
    assert_eq!(
        rig.activity_of("Case", "by-email")["ContactId"],
        json!(ids[0])
    );
    assert_eq!(
        rig.activity_of("Case", "by-phone")["ContactId"],
        json!(ids[3])
    );
    for chat in ["by-email", "by-phone"] {
        assert!(
            logged(&format!(
                "2 Contacts match the visitor of {chat}; using the most recently modified"
            )),
            "{chat}"
        );
    }
    assert_eq!(rig.records("Contact").len(), 4, "nobody made");
}

#[test]
fn matches_modified_in_the_same_second_are_told_apart_by_id_the_newest_first() {
    let rig = Connected::start(|_| {});
    // Two Contacts made in one second tie on LastModifiedDate, whose ties Salesforce returns
    // in no set order; the emulator returns them as made, so the first made would win.
    let (email, ids) = (1..=5)
        .find_map(|n| {
            let email = format!("twin{n}@acme.example");
            let ids = seed(
                &rig,
                json!([{"type": "Contact", "LastName": "A", "Email": email},
                       {"type": "Contact", "LastName": "B", "Email": email}]),
            );
            let modified = |id: &str| contact(&rig, id)["LastModifiedDate"].clone();
            (modified(&ids[0]) == modified(&ids[1])).then_some((email, ids))
        })
        .expect("two Contacts made within one second");
    assert!(ids[1] > ids[0], "{ids:?}");
    rig.deliver(&[chat_ended("twins", json!({"email": email}), json!({}))]);
    assert_eq!(
        rig.activity_of("Case", "twins")["ContactId"],
        json!(ids[1]),
        "the greater Id, whatever order Salesforce returns the tie in"
    );
}

#[test]
fn several_matches_in_a_batch_take_the_most_recently_modified_and_say_so() {
    common::captured_log();
    let rig = Connected::start(|_| {});
    let ids = seed(
        &rig,
        json!([
            {"type": "Contact", "LastName": "A", "Email": "dup@acme.example"},
            {"type": "Contact", "LastName": "B", "Email": "dup@acme.example"},
            {"type": "Contact", "LastName": "C", "Email": "dup2@acme.example"},
            {"type": "Contact", "LastName": "D", "Email": "dup2@acme.example"},
        ]),
    );
    // The most recently modified is the first made of one pair, the last of the other.
    rig.make_newest("Contact", &ids[0], json!({"Title": "newest"}));
    rig.make_newest("Contact", &ids[3], json!({"Title": "newest"}));
    // The first is tried and held; the others wait behind it, to be written together.
    let emails = [
        "v0@acme.example",
        "v1@acme.example",
        "dup@acme.example",
        "dup2@acme.example",
    ];
    let chats: Vec<Value> = (0..)
        .zip(emails)
        .map(|(n, email)| chat_ended(&format!("b{n}"), json!({"email": email}), json!({})))
        .collect();
    rig.queue_disconnected(&chats);
    rig.connect();
    rig.delivered();
    assert_eq!(rig.activity_of("Case", "b2")["ContactId"], json!(ids[0]));
    assert_eq!(rig.activity_of("Case", "b3")["ContactId"], json!(ids[3]));
    for chat in ["b2", "b3"] {
        assert!(
            logged(&format!(
                "2 Contact records match the visitor of {chat} by rule 1; using the most \
                 recently modified"
            )),
            "{chat}"
        );
    }
    assert_eq!(rig.records("Contact").len(), 6, "only b0's and b1's made");
}

#[test]
fn a_new_contact_and_its_case_are_in_the_visitors_account_and_a_case_alone_costs_one_call() {
    let rig = Connected::start(|_| {});
    let acme = seed(&rig, json!([{"type": "Account", "Name": "Acme"}])).remove(0);
    rig.deliver(&[chat_ended("c1", jane(), json!({}))]);
    let case = rig.activity_of("Case", "c1");
    assert_eq!(
        contact(&rig, case["ContactId"].as_str().unwrap())["AccountId"],
        json!(acme)
    );
    assert_eq!(case["AccountId"], json!(acme));

    rig.configure(&settings_for(&rig.org, |s| {
        s["webchat"]["action"] = json!("case")
    }));
    let agent = json!({"agent": {"name": "New", "email": "new@cx.example.com"}});
    let visitor = json!({"name": "Sam", "email": "sam@acme.example", "company": "ACME"});
    let calls = rig.deliver(&[chat_ended("c2", visitor, agent)]);
    assert_eq!(
        calls, 1,
        "the Account and the agent looked up in the Case's own request"
    );
    let alone = rig.activity_of("Case", "c2");
    assert_eq!(alone["AccountId"], json!(acme));
    assert!(alone["ContactId"].is_null());
    let elsewhere = json!({"name": "Kim", "email": "kim@x.example", "company": "Nobody Inc"});
    assert_eq!(rig.deliver(&[chat_ended("c3", elsewhere, json!({}))]), 1);
    assert!(rig.activity_of("Case", "c3")["AccountId"].is_null());
}

#[test]
fn an_account_rule_on_a_mapped_custom_field_finds_the_account_and_one_nothing_maps_is_refused() {
    let rig = Connected::start(|_| {});
    rig.org
        .seed(&json!({"customFields": [
            {"object": "Account", "name": "Customer_No__c", "type": "string", "length": 20},
            {"object": "Contact", "name": "Customer_No__c", "type": "string", "length": 20}
        ]}))
        .unwrap();
    let account = seed(
        &rig,
        json!([{"type": "Account", "Name": "Not The Company", "Customer_No__c": "C-77"}]),
    )
    .remove(0);
    rig.configure(&settings_for(&rig.org, |s| {
        s["identification"]["account"] = json!([["Customer_No__c"], ["Name"]]);
        s["field_mapping"]["Contact"] = json!({"Customer_No__c": "custom.customer_no"});
    }));
    rig.deliver(&[chat_ended(
        "c1",
        jane(),
        json!({"custom_variables": {"customer_no": "C-77"}}),
    )]);
    let case = rig.activity_of("Case", "c1");
    assert_eq!(case["AccountId"], json!(account));

    let unusable = settings_for(&rig.org, |s| {
        s["identification"]["account"] = json!([["Name"], ["Website"]]);
    });
    let answer = rig
        .plugin
        .plugin
        .configure_tenant(TENANT.into(), unusable.to_string().as_str().into());
    let RResult::RErr(refused) = answer else {
        panic!("a rule nothing can satisfy is accepted");
    };
    assert!(
        refused.to_string().contains(
            "identification.account[1]: no visitor value maps to Account field \"Website\""
        ),
        "{refused}"
    );
}

#[test]
fn a_known_visitor_costs_one_call_even_for_an_agents_first_chat() {
    let rig = Connected::start(|_| {});
    let bob = seed(
        &rig,
        json!([{"type": "User", "Email": "bob@cx.example.com"}]),
    )
    .remove(0);
    rig.deliver(&[chat_ended("c0", jane(), json!({}))]);
    let agent = json!({"agent": {"name": "Bob", "email": "Bob@CX.example.com"}});
    assert_eq!(rig.deliver(&[chat_ended("c1", jane(), agent)]), 1);
    assert_eq!(rig.activity_of("Case", "c1")["OwnerId"], json!(bob));
}

#[test]
fn an_inactive_agent_user_leaves_the_records_to_the_connected_user() {
    let rig = Connected::start(|_| {});
    seed(
        &rig,
        json!([{"type": "User", "Email": "gone@cx.example.com", "IsActive": false}]),
    );
    let agent = json!({"agent": {"name": "Gone", "email": "gone@cx.example.com"}});
    rig.deliver(&[chat_ended("c1", jane(), agent)]);
    let case = rig.activity_of("Case", "c1");
    assert_eq!(case["OwnerId"], json!(rig.org.login_user_id()));
    assert_eq!(
        contact(&rig, case["ContactId"].as_str().unwrap())["OwnerId"],
        json!(rig.org.login_user_id())
    );
}

#[test]
fn the_agents_owner_found_at_a_chats_start_is_cached_for_its_end() {
    let rig = Connected::start(|s| s["webchat"]["trigger"] = json!("chat_started"));
    let bob = seed(
        &rig,
        json!([{"type": "User", "Email": "bob@cx.example.com"}]),
    )
    .remove(0);
    let agent = json!({"agent": {"name": "Bob", "email": "bob@cx.example.com"}});
    rig.deliver(&[chat_started("c1", jane(), agent.clone())]);
    assert_eq!(
        rig.deliver(&[chat_ended("c1", jane(), agent)]),
        1,
        "no lookup of the agent: cached"
    );
    assert_eq!(rig.activity_of("Case", "c1")["OwnerId"], json!(bob));
}

#[test]
fn a_field_the_integration_user_may_not_write_is_dropped_and_noted() {
    let rig = Connected::start(|s| {
        // CaseNumber is Salesforce's, read-only.
        s["field_mapping"]["Case"] = json!({"CaseNumber": "chat.id"});
    });
    rig.deliver(&[
        chat_ended("new", jane(), json!({})), // a new Contact: the all-or-none round
        chat_ended("known", jane(), json!({})), // found: the first round
    ]);
    let status = rig.delivered();
    assert_eq!(status["queue"]["written"], 2, "{status}");
    for chat in ["new", "known"] {
        let case = rig.activity_of("Case", chat);
        let description = case["Description"].as_str().unwrap();
        assert!(
            description.contains(&format!(
                "Salesforce refused CaseNumber = \"{chat}\" (INVALID_FIELD_FOR_INSERT_UPDATE"
            )),
            "{description}"
        );
        assert_ne!(case["CaseNumber"], chat);
    }
}

#[test]
fn a_long_transcript_is_attached_whole_and_the_description_says_where_it_was_cut() {
    let rig = Connected::start(|_| {});
    let messages: Vec<Value> = (0..400)
        .map(|i| json!({"at": "2026-11-24T10:00:05Z", "from": if i % 2 == 0 { "visitor" } else { "agent" },
                        "name": "Jane", "text": format!("message {i:04} {}", "é".repeat(95))}))
        .collect();
    rig.deliver(&[chat_ended("c1", jane(), json!({"messages": messages}))]);
    let case = rig.activity_of("Case", "c1");
    let description = case["Description"].as_str().unwrap();
    assert!(description.chars().count() <= 32_000);
    assert!(
        description.contains(
            "more characters of the transcript cut by CloudCX: the full \
             transcript is attached as transcript-c1.txt]"
        ),
        "{}",
        &description[description.len() - 300..]
    );
    let files = rig.files_on(&case);
    assert_eq!(files.len(), 1);
    let whole = String::from_utf8(rig.file_bytes(&files[0])).expect("UTF-8 text");
    let mut from = 0;
    for i in 0..400 {
        let line = format!("message {i:04} {}", "é".repeat(95));
        let at = whole[from..]
            .find(&line)
            .unwrap_or_else(|| panic!("message {i} in order"));
        from += at + line.len();
    }
    // The Description is the file's beginning, up to where it was cut.
    let kept = description.split("[… ").next().unwrap().trim_end();
    assert!(
        whole.starts_with(kept),
        "the file begins as the Description"
    );
}

#[test]
fn a_new_visitors_lost_answer_makes_one_contact_one_case_and_each_file_once() {
    let rig = Connected::start(|_| {});
    let (files, expected) = attachments(3);
    // No email or phone: nothing to look up, the first write is the creating one.
    rig.org.drop_after_write(1);
    rig.deliver(&[chat_ended(
        "c1",
        json!({"name": "Anonymous"}),
        json!({"attachments": files}),
    )]);
    assert_eq!(rig.org.dropped_writes(), 1);
    assert_eq!(rig.status()["queue"]["written"], 1);
    assert_eq!(rig.records("Contact").len(), 1);
    rig.assert_files(&rig.activity_of("Case", "c1"), &expected);
}

#[test]
fn a_chat_with_the_longest_ids_keeps_its_key_in_the_subject_and_a_lost_answer_writes_it_once() {
    let rig = Connected::start(|_| {});
    // Tenant and chat ids may be 255 characters each: "tenant/chat" would not fit the
    // Subject, and a Subject refused as too long would lose the key a retry looks for.
    let id = "L".repeat(255);
    rig.org.drop_after_write(1);
    rig.deliver(&[chat_ended(&id, json!({"name": "Anonymous"}), json!({}))]);
    assert_eq!(rig.org.dropped_writes(), 1);
    let cases = rig.records("Case");
    assert_eq!(cases.len(), 1, "one chat, one Case: {cases:#?}");
    let subject = cases[0]["Subject"].as_str().unwrap();
    assert!(subject.chars().count() <= 255, "{subject}");
    assert!(
        subject.contains(&format!("[CloudCX {TENANT}/LLL")),
        "{subject}"
    );
    assert!(
        !cases[0]["Description"]
            .as_str()
            .unwrap()
            .contains("Subject"),
        "no field was refused: {}",
        cases[0]["Description"]
    );
    assert_eq!(rig.records("Contact").len(), 1);
}

#[test]
fn a_started_chat_whose_start_answer_was_lost_is_one_task_completed_with_its_files_once() {
    let rig = Connected::start(|s| {
        s["webchat"] = json!({"trigger": "chat_started", "action": "lead_task",
                              "offline_message_action": "nothing"});
    });
    let anonymous = json!({"name": "Anonymous"});
    rig.org.drop_after_write(1);
    rig.deliver(&[chat_started("c1", anonymous.clone(), json!({}))]);
    assert_eq!(rig.org.dropped_writes(), 1);
    let task = rig.activity_of("Task", "c1");
    assert_eq!(task["Status"], "In Progress");
    let (files, expected) = attachments(2);
    rig.deliver(&[chat_ended("c1", anonymous, json!({"attachments": files}))]);
    let done = rig.activity_of("Task", "c1");
    assert_eq!(done["Id"], task["Id"]);
    assert_eq!(done["Status"], "Completed");
    assert_eq!(rig.records("Lead").len(), 1);
    rig.assert_files(&done, &expected);
    assert_eq!(rig.status()["queue"]["written"], 2);
}

#[test]
fn rules_on_name_and_mobile_phone_find_the_contact_alone_and_in_a_batch_making_none() {
    // Neither field is written by the mapping: Name is the visitor's full name (Salesforce's
    // compound FirstName + LastName), MobilePhone the visitor's phone.
    let rig = Connected::start(|s| {
        s["identification"]["contact"] = json!([["Name"], ["MobilePhone"]]);
    });
    let ids = seed(
        &rig,
        json!([
            // Nothing for fill_empty to fill, so that finding her is all the chat costs.
            {"type": "Contact", "FirstName": "Jane", "LastName": "Doe",
             "Email": "jane@acme.example", "Phone": "+1 415 555 0100"},
            {"type": "Contact", "LastName": "Mobile", "MobilePhone": "+1 555 0142"},
        ]),
    );
    let by_name = chat_ended("by-name", jane(), json!({}));
    assert_eq!(rig.deliver(&[by_name]), 1, "a known visitor costs one call");
    assert_eq!(
        rig.activity_of("Case", "by-name")["ContactId"],
        json!(ids[0])
    );
    // Nobody by the name: the second rule finds the Contact by the visitor's phone.
    let sam = json!({"name": "Sam Lee", "phone": "+1 555 0142"});
    rig.deliver(&[chat_ended("by-mobile", sam.clone(), json!({}))]);
    assert_eq!(
        rig.activity_of("Case", "by-mobile")["ContactId"],
        json!(ids[1])
    );
    assert_eq!(rig.records("Contact").len(), 2, "no duplicate made");

    // The batch's way: the first chat is held, the others written together after it.
    rig.queue_disconnected(&[
        chat_ended("b0", json!({"name": "Kim New"}), json!({})),
        chat_ended("b1", jane(), json!({})),
        chat_ended("b2", sam, json!({})),
    ]);
    rig.connect();
    rig.delivered();
    assert_eq!(rig.activity_of("Case", "b1")["ContactId"], json!(ids[0]));
    assert_eq!(rig.activity_of("Case", "b2")["ContactId"], json!(ids[1]));
    assert_eq!(rig.records("Contact").len(), 3, "only Kim made");
}

#[test]
fn rules_on_home_and_other_phone_find_the_contact_by_the_visitors_phone() {
    let rig = Connected::start(|s| {
        s["identification"]["contact"] = json!([["HomePhone"], ["OtherPhone"]]);
    });
    let ids = seed(
        &rig,
        json!([
            {"type": "Contact", "LastName": "Home", "HomePhone": "+1 555 0100"},
            {"type": "Contact", "LastName": "Other", "OtherPhone": "+1 555 0199"},
        ]),
    );
    rig.deliver(&[
        chat_ended("home", json!({"phone": "+1 555 0100"}), json!({})),
        chat_ended("other", json!({"phone": "+1 555 0199"}), json!({})),
    ]);
    assert_eq!(rig.activity_of("Case", "home")["ContactId"], json!(ids[0]));
    assert_eq!(rig.activity_of("Case", "other")["ContactId"], json!(ids[1]));
    assert_eq!(rig.records("Contact").len(), 2, "no duplicate made");
}

#[test]
fn a_contact_or_lead_rule_on_a_field_no_chat_gives_a_value_is_refused_by_its_path() {
    let rig = Connected::start(|_| {});
    let unusable = settings_for(&rig.org, |s| {
        s["identification"]["contact"] = json!([["Email"], ["Title"]]);
        s["identification"]["lead"] = json!([["FirstName", "LastName"]]);
    });
    let answer = rig
        .plugin
        .plugin
        .configure_tenant(TENANT.into(), unusable.to_string().as_str().into());
    let RResult::RErr(refused) = answer else {
        panic!("a rule no chat gives a value is accepted");
    };
    let refused = refused.to_string();
    for expected in [
        "identification.contact[1]: Contact field \"Title\" gets no value from a chat",
        "identification.lead[0]: Lead field \"FirstName\" gets no value from a chat",
        "map it in field_mapping.Lead or remove the rule",
    ] {
        assert!(refused.contains(expected), "{expected} not in {refused}");
    }
    // Mapped, the same rule is taken and finds the Contact by the mapped value.
    let id = seed(
        &rig,
        json!([{"type": "Contact", "LastName": "Doe", "Title": "VIP"}]),
    )
    .remove(0);
    rig.configure(&settings_for(&rig.org, |s| {
        s["identification"]["contact"] = json!([["Email"], ["Title"]]);
        s["field_mapping"]["Contact"] = json!({"Title": "custom.title"});
    }));
    rig.deliver(&[chat_ended(
        "c1",
        json!({"email": "nobody@acme.example"}),
        json!({"custom_variables": {"title": "VIP"}}),
    )]);
    assert_eq!(rig.activity_of("Case", "c1")["ContactId"], json!(id));
}
