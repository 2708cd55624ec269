//! The org's describe at work (issue 6): values cut to their field's length, and the tenant's
//! field names checked against the org.

mod common;
#[path = "common/connected.rs"]
#[allow(dead_code)] // The harness serves several test files; this one uses part of it.
mod connected;

use cloudcx_salesforce_abi::abi_stable::std_types::RResult;
use cloudcx_shim::emulator::{Emulator, EmulatorOptions};
use connected::{chat_ended, settings_for, Connected, TENANT};
use serde_json::{json, Value};

/// Hands the tenant new settings; answers the plugin's refusal, if any.
fn configure(rig: &Connected, settings: &Value) -> Result<(), String> {
    match rig
        .plugin
        .plugin
        .configure_tenant(TENANT.into(), settings.to_string().as_str().into())
    {
        RResult::ROk(_) => Ok(()),
        RResult::RErr(e) => Err(e.to_string()),
    }
}

#[test]
fn a_value_longer_than_its_field_is_cut_and_the_cut_noted() {
    let rig = Connected::start(|_| {});
    let name = format!("Jane {}", "Doe".repeat(40)); // 125 characters
    let visitor = json!({"name": name, "email": "jane@acme.example"});
    let calls = rig.deliver(&[chat_ended("c1", visitor, json!({}))]);
    assert_eq!(calls, 2, "the describe was read at connect");

    let contact = &rig.records("Contact")[0];
    let last_name = contact["LastName"].as_str().unwrap();
    assert!(last_name.chars().count() <= 80, "{last_name}");
    assert!(last_name.ends_with("more characters]"), "{last_name}");
    let case = &rig.records("Case")[0];
    let supplied = case["SuppliedName"].as_str().unwrap();
    assert!(supplied.starts_with("Jane Doe") && supplied.chars().count() <= 80);
    let description = case["Description"].as_str().unwrap();
    for field in ["LastName", "SuppliedName"] {
        assert!(
            description.contains(&format!("{field} was cut from 125 to 80 characters")),
            "{description}"
        );
    }
    assert_eq!(rig.status()["queue"]["written"], 1);
}

#[test]
fn a_connected_tenants_settings_naming_a_field_the_org_lacks_are_refused_by_name() {
    let rig = Connected::start(|_| {});
    let wrong = settings_for(&rig.org, |s| {
        s["identification"]["contact"] = json!([["Email"], ["Emial"]]);
        s["field_mapping"]["Case"] = json!({"Chat_Id__c": "chat.id"});
        s["display_fields"]["Contact"] = json!(["Name", "Acount.Name"]);
    });
    let refused = configure(&rig, &wrong).unwrap_err();
    assert_eq!(
        refused.strip_prefix("invalid input: ").unwrap(),
        [
            "identification.contact[1]: Contact has no field \"Emial\"",
            "field_mapping.Case.Chat_Id__c: Case has no field \"Chat_Id__c\"",
            "display_fields.Contact[1]: Contact has no relationship \"Acount\"",
        ]
        .join("\n")
    );

    // Once the org has the field, the mapping is taken.
    rig.org
        .seed(&json!({"customFields": [
            {"object": "Case", "name": "Chat_Id__c", "type": "string", "length": 64}
        ]}))
        .unwrap();
    let mapped = settings_for(&rig.org, |s| {
        s["field_mapping"]["Case"] = json!({"Chat_Id__c": "chat.id"});
    });
    configure(&rig, &mapped).expect("the org is asked again before a refusal");
    rig.deliver(&[chat_ended("c1", json!({"email": "a@b.example"}), json!({}))]);
    assert_eq!(rig.records("Case")[0]["Chat_Id__c"], "c1");
}

#[test]
fn settings_given_before_connecting_are_checked_at_connect() {
    let rig = Connected::start(|_| {});
    rig.plugin.plugin.disconnect(TENANT.into());
    let wrong = settings_for(&rig.org, |s| {
        s["identification"]["contact"] = json!([["Emial"]]);
    });
    configure(&rig, &wrong).expect("not connected: nothing to check against");
    rig.send(&chat_ended(
        "c1",
        json!({"email": "a@b.example"}),
        json!({}),
    ))
    .unwrap();
    rig.connect();
    let status = rig.delivered();
    assert_eq!(
        status["connection"]["last_error"],
        "the settings name fields the Salesforce org does not have: \
         identification.contact[0]: Contact has no field \"Emial\""
    );
}

fn case_of(rig: &Connected, chat: &str) -> Value {
    let cases: Vec<Value> = rig
        .records("Case")
        .into_iter()
        .filter(|c| {
            c["Subject"]
                .as_str()
                .unwrap()
                .ends_with(&format!("acme/{chat}]"))
        })
        .collect();
    assert_eq!(cases.len(), 1, "one Case for {chat}: {cases:#?}");
    cases.into_iter().next().unwrap()
}

#[test]
fn with_the_key_field_a_case_is_upserted_so_a_lost_answer_needs_no_lookup() {
    let rig = Connected::start(|_| {});
    rig.with_the_key_field();
    let jane = json!({"name": "Jane", "email": "jane@acme.example"});
    rig.deliver(&[chat_ended("c0", jane.clone(), json!({}))]);
    assert_eq!(case_of(&rig, "c0")["CloudCX_Key__c"], "acme/c0");

    rig.org.drop_after_write(1);
    let calls = rig.deliver(&[chat_ended("c1", jane, json!({}))]);
    assert_eq!(rig.org.dropped_writes(), 1);
    assert_eq!(calls, 2, "the write, then the same upsert again");
    assert_eq!(case_of(&rig, "c1")["CloudCX_Key__c"], "acme/c1");
    assert_eq!(rig.status()["queue"]["written"], 2);
}

#[test]
fn with_the_key_field_a_lost_answer_for_an_anonymous_visitor_makes_no_second_contact() {
    let rig = Connected::start(|_| {});
    rig.with_the_key_field();
    // No email, no phone: the Contact made with the lost Case cannot be found by the rules.
    rig.org.drop_after_write(1);
    let calls = rig.deliver(&[chat_ended("c1", json!({"name": "Anon"}), json!({}))]);
    assert_eq!(rig.org.dropped_writes(), 1);
    assert_eq!(calls, 2, "the write, then a look for its key");
    let case = case_of(&rig, "c1");
    let contacts = rig.records("Contact");
    assert_eq!(contacts.len(), 1, "no second Contact: {contacts:#?}");
    assert_eq!(case["ContactId"], contacts[0]["Id"]);
}

#[test]
fn with_the_key_field_waiting_chats_are_upserted_together() {
    let rig = Connected::start(|_| {});
    let visitors: Vec<Value> = (0..5)
        .map(|n| json!({"type": "Contact", "LastName": format!("V{n}"), "Email": format!("v{n}@acme.example")}))
        .collect();
    rig.org.seed(&json!({ "records": visitors })).unwrap();
    rig.with_the_key_field();
    rig.plugin.plugin.disconnect(TENANT.into());
    for n in 0..5 {
        let visitor = json!({"email": format!("v{n}@acme.example")});
        rig.send(&chat_ended(&format!("k{n}"), visitor, json!({})))
            .unwrap();
    }
    let before = rig.org.api_calls();
    rig.connect();
    rig.delivered();
    for n in 0..5 {
        let case = case_of(&rig, &format!("k{n}"));
        assert_eq!(case["CloudCX_Key__c"], format!("acme/k{n}"));
    }
    assert_eq!(rig.status()["queue"]["written"], 5);
    assert_eq!(
        rig.org.api_calls() - before,
        3,
        "the describe, the lookups, one upsert of the five Cases"
    );
}

#[test]
fn a_reconnect_to_another_org_reads_that_orgs_describe() {
    let rig = Connected::start(|_| {});
    let note = |length: u32| json!({"customFields": [{"object": "Case", "name": "Note__c", "type": "string", "length": length}]});
    rig.org.seed(&note(10)).unwrap();
    let other = Emulator::start(EmulatorOptions {
        org_id: Some("00D000000000002".parse().unwrap()),
        ..EmulatorOptions::default()
    })
    .unwrap();
    assert_ne!(other.org_id(), rig.org.org_id(), "two orgs");
    other.seed(&note(20)).unwrap();
    let to_other = settings_for(&other, |s| {
        s["field_mapping"]["Case"] = json!({"Note__c": "chat.note"});
    });
    configure(&rig, &to_other).expect("the first org has the field too");
    rig.connect(); // to the other org

    let chat = chat_ended(
        "c1",
        json!({"email": "a@b.example"}),
        json!({"note": "fifteen chars!!"}),
    );
    rig.send(&chat).unwrap();
    rig.delivered();
    let cases = other.records("Case");
    assert_eq!(cases.len(), 1);
    assert_eq!(
        cases[0]["Note__c"], "fifteen chars!!",
        "not cut to the first org's 10 characters"
    );
}

#[test]
fn tenants_connected_to_one_org_share_its_describe() {
    let mut rig = Connected::start(|_| {});
    let settings = settings_for(&rig.org, |_| {});
    rig.add_tenant("globex", &settings);
    // A restart forgets every describe; the host hands both tenants their settings again.
    let before = rig.org.api_calls();
    rig.restart(&settings);
    assert_eq!(
        rig.org.api_calls() - before,
        1,
        "acme's check reads the org's describe"
    );
    let before = rig.org.api_calls();
    configure_tenant(&rig, "globex", &settings);
    assert_eq!(
        rig.org.api_calls() - before,
        0,
        "globex's check uses the same one"
    );

    let mut chat = chat_ended("g1", json!({"email": "g@globex.example"}), json!({}));
    chat["tenant_id"] = json!("globex");
    let before = rig.org.api_calls();
    rig.send(&chat).unwrap();
    common::eventually("globex's chat", connected::DELIVERY, || {
        let status = common::answer(rig.plugin.plugin.status("globex".into()));
        (status["queue"]["written"] == 1).then_some(())
    });
    assert_eq!(
        rig.org.api_calls() - before,
        2,
        "a new visitor; no describe read"
    );
    assert!(rig.records("Case")[0]["Subject"]
        .as_str()
        .unwrap()
        .ends_with("[CloudCX globex/g1]"));
}

fn configure_tenant(rig: &Connected, tenant: &str, settings: &Value) {
    let answer = rig
        .plugin
        .plugin
        .configure_tenant(tenant.into(), settings.to_string().as_str().into());
    assert!(matches!(answer, RResult::ROk(_)), "{tenant} configured");
}

/// Removes `field` from every object of a JSON document.
fn without_field(value: &mut Value, field: &str) {
    match value {
        Value::Object(map) => {
            map.remove(field);
            map.values_mut().for_each(|v| without_field(v, field));
        }
        Value::Array(items) => items.iter_mut().for_each(|v| without_field(v, field)),
        _ => {}
    }
}

#[test]
fn a_field_the_describe_promised_that_is_gone_is_noticed_and_the_chat_written_anyway() {
    let port = common::free_port();
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("org.json");
    let options = || EmulatorOptions {
        port,
        data_file: Some(data.clone()),
        ..EmulatorOptions::default()
    };
    let org = Emulator::start(options()).unwrap();
    org.seed(
        &json!({"customFields": [{"object": "Case", "name": "CloudCX_Key__c",
                                       "type": "string", "length": 255, "externalId": true}]}),
    )
    .unwrap();
    let mut rig = Connected::start_on(org, |_| {});
    let jane = json!({"name": "Jane", "email": "jane@acme.example"});
    rig.deliver(&[chat_ended("c0", jane.clone(), json!({}))]);
    assert_eq!(
        case_of(&rig, "c0")["CloudCX_Key__c"],
        "acme/c0",
        "upserted by key"
    );

    // The admin deletes the key field (the org is stopped, edited and started again).
    let stand_in = Emulator::start(EmulatorOptions::default()).unwrap();
    std::mem::replace(&mut rig.org, stand_in).stop();
    let mut saved: Value = serde_json::from_slice(&std::fs::read(&data).unwrap()).unwrap();
    without_field(&mut saved, "CloudCX_Key__c");
    saved["customFields"] = json!([]);
    std::fs::write(&data, saved.to_string()).unwrap();
    let org = Emulator::start(options()).unwrap();
    std::mem::replace(&mut rig.org, org).stop();

    rig.deliver(&[chat_ended("c1", jane, json!({}))]);
    let status = rig.status();
    assert_eq!(status["queue"]["written"], 2, "{status}");
    assert_eq!(status["queue"]["failed"], 0, "{status}");
    assert!(case_of(&rig, "c1")["CloudCX_Key__c"].is_null());
}
