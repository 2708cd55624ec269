//! The planner without HTTP: every trigger × action, every match policy, the rounds' requests.

use serde_json::{json, Value};

use super::*;
use crate::settings::{ChatTrigger, FieldName};
use crate::sync::api::{SubResponse, MAX_SUBREQUESTS};
use crate::sync::mapping::tests::{chat_ended, event, example};

/// The example settings with `patch` applied.
fn settings(patch: impl FnOnce(&mut Value)) -> TenantSettings {
    let host = crate::config::parse(
        r#"{"state_dir": "/tmp/x", "redirect_url": "http://127.0.0.1:8765/callback"}"#,
    )
    .unwrap();
    let mut value: Value =
        serde_json::from_str(include_str!("../../../examples/settings.json")).unwrap();
    patch(&mut value);
    TenantSettings::parse(&value.to_string(), &host).unwrap_or_else(|e| panic!("{e:?}"))
}

const ACTIONS: [(&str, Option<SyncObject>, SyncObject); 4] = [
    ("contact_case", Some(SyncObject::Contact), SyncObject::Case),
    ("lead_task", Some(SyncObject::Lead), SyncObject::Task),
    ("case", None, SyncObject::Case),
    ("contact_task", Some(SyncObject::Contact), SyncObject::Task),
];

fn write(person: Option<SyncObject>, activity: SyncObject, phase: Phase) -> Work {
    Work::Write {
        person,
        activity,
        phase,
    }
}

#[test]
fn every_trigger_and_action_of_web_chat_and_inbox() {
    // examples: 0 chat.started, 1 chat.ended, 3 offline message, 4 conversation started,
    // 5 conversation ended.
    let (started, ended, offline) = (example(0), example(1), example(3));
    let (conv_started, conv_ended) = (example(4), example(5));
    for (action, person, activity) in ACTIONS {
        for trigger_started in [false, true] {
            let tenant = settings(|s| {
                s["webchat"]["trigger"] = json!(if trigger_started {
                    "chat_started"
                } else {
                    "chat_ended"
                });
                s["webchat"]["action"] = json!(action);
                s["webchat"]["offline_message_action"] = json!(action);
                s["inbox"]["trigger"] = json!(if trigger_started {
                    "conversation_started"
                } else {
                    "conversation_ended"
                });
                s["inbox"]["action"] = json!(action);
            });
            let (at_start, at_end) = if trigger_started {
                (write(person, activity, Phase::Start), Phase::Complete)
            } else {
                (Work::Skip, Phase::Create)
            };
            let what = format!("{action}, started trigger: {trigger_started}");
            // A start an earlier try may have written goes on as a start, whatever the trigger
            // is now; anything else is retried as it would be tried.
            for event in [&started, &conv_started] {
                let start = write(person, activity, Phase::Start);
                assert_eq!(work_for_retry(event, &tenant), start, "{what}");
            }
            for event in [&ended, &conv_ended, &offline] {
                let first = work_for(event, &tenant);
                assert_eq!(work_for_retry(event, &tenant), first, "{what}");
            }
            assert_eq!(work_for(&started, &tenant), at_start, "{what}");
            assert_eq!(work_for(&conv_started, &tenant), at_start, "{what}");
            assert_eq!(
                work_for(&ended, &tenant),
                write(person, activity, at_end),
                "{what}"
            );
            assert_eq!(
                work_for(&conv_ended, &tenant),
                write(person, activity, at_end),
                "{what}"
            );
            // An offline message has no start: it is written at once, whatever the trigger.
            assert_eq!(
                work_for(&offline, &tenant),
                write(person, activity, Phase::Create),
                "{what}"
            );
        }
    }
    let nothing = settings(|s| {
        s["webchat"] = json!({"trigger": "chat_started", "action": "nothing",
                              "offline_message_action": "nothing"});
        s["inbox"]["action"] = json!("nothing");
    });
    let manual = settings(|s| s["mode"] = json!("manual"));
    for event in [&started, &ended, &offline, &conv_started, &conv_ended] {
        assert_eq!(work_for(event, &nothing), Work::Skip);
        assert_eq!(work_for(event, &manual), Work::Skip);
        assert_eq!(work_for_retry(event, &nothing), Work::Skip);
        assert_eq!(work_for_retry(event, &manual), Work::Skip);
    }
    assert_eq!(nothing.webchat.trigger, ChatTrigger::ChatStarted);
}

#[test]
fn the_match_policies_update_a_found_person() {
    let fields = fields(json!({"LastName": "jane", "Email": "jane@x.example", "Phone": "+1 555"}));
    let placeholders = ["LastName"];
    let row = json!({"Id": "003A", "LastName": "Doe", "Email": "", "Phone": null});
    let update = |policy, own| match_update(policy, own, &fields, &placeholders, &row);
    assert!(update(OnMatch::Keep, true).is_empty());
    assert_eq!(
        update(OnMatch::Overwrite, true),
        self::fields(json!({"Email": "jane@x.example", "Phone": "+1 555"})),
        "a placeholder never overwrites"
    );
    assert_eq!(
        update(OnMatch::FillEmpty, true),
        self::fields(json!({"Email": "jane@x.example", "Phone": "+1 555"})),
        "empty and null are filled"
    );
    let full = json!({"Id": "003A", "Email": "old@x.example", "Phone": "+1 000"});
    assert!(match_update(OnMatch::FillEmpty, true, &fields, &placeholders, &full).is_empty());
    // Not the chat's object (a converted Lead's Contact), or no row known: nothing.
    for policy in [OnMatch::Keep, OnMatch::Overwrite, OnMatch::FillEmpty] {
        assert!(update(policy, false).is_empty(), "{policy:?}");
    }
    assert!(empty_only(&fields, &placeholders, &Value::Null).is_empty());
    assert_eq!(
        without(&fields, &placeholders).keys().collect::<Vec<_>>(),
        ["Email", "Phone"]
    );
}

fn fields(value: Value) -> Fields {
    match value {
        Value::Object(map) => map,
        _ => panic!("not an object"),
    }
}

#[test]
fn the_end_finishes_a_made_person_with_what_its_start_lacked_and_a_new_owner() {
    // At the start: an email only; LastName and Company were placeholders.
    let start = fields(json!({"LastName": "sam", "Company": "Unknown company",
                              "Email": "sam@globex.example"}));
    let known = known_fields(&start, &["LastName", "Company"]);
    assert_eq!(known, vec!["Email".to_string()]);
    // At the end: a name, a company, a phone; the company still a placeholder for another.
    let end = fields(json!({"LastName": "Sam Lee", "Company": "StartCo",
                            "Email": "sam@other.example", "Phone": "+1 555"}));
    assert_eq!(
        finish_made(&end, &[], &known, None, None),
        fields(json!({"LastName": "Sam Lee", "Company": "StartCo", "Phone": "+1 555"})),
        "the start's own values stay; no agent at the end: the owner stays"
    );
    assert_eq!(
        finish_made(&end, &["Company"], &known, Some("005B"), Some("005A")),
        fields(json!({"LastName": "Sam Lee", "Phone": "+1 555", "OwnerId": "005B"})),
        "a placeholder at the end replaces nothing; a new owner goes"
    );
    assert!(
        finish_made(
            &start,
            &["LastName", "Company"],
            &known,
            Some("005A"),
            Some("005A")
        )
        .is_empty(),
        "nothing new, the same owner: no update"
    );
    assert_eq!(
        finish_made(&start, &["LastName", "Company"], &known, Some("005A"), None),
        fields(json!({"OwnerId": "005A"})),
        "owned by the connecting user's default at the start"
    );
}

fn error(code: &str, fields: &[&str]) -> SalesforceError {
    SalesforceError {
        status: 400,
        code: Some(code.into()),
        message: format!("{code} message"),
        fields: fields.iter().map(|f| f.to_string()).collect(),
    }
}

#[test]
fn repair_drops_the_fields_a_field_error_names() {
    let mut record = fields(json!({"Email": "bad", "Level__c": "Gold", "LastName": "Doe"}));
    let notes = repair(
        &mut record,
        &error(
            "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST",
            &["level__c", "Missing"],
        ),
    );
    assert_eq!(
        notes,
        [
            "Salesforce refused Level__c = \"Gold\" (INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST: \
          INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST message); CloudCX wrote the record without it."
        ]
    );
    assert_eq!(record.keys().collect::<Vec<_>>(), ["Email", "LastName"]);
    for code in [
        "INVALID_EMAIL_ADDRESS",
        "STRING_TOO_LONG",
        "INVALID_FIELD_FOR_INSERT_UPDATE",
    ] {
        let mut again = record.clone();
        assert_eq!(
            repair(&mut again, &error(code, &["Email"])).len(),
            1,
            "{code}"
        );
        assert!(!again.contains_key("Email"));
    }
    // Not about a field's value: nothing dropped.
    for (code, named) in [
        ("INVALID_FIELD", vec!["Email"]),
        ("DUPLICATES_DETECTED", vec![]),
    ] {
        let mut same = record.clone();
        assert!(repair(&mut same, &error(code, &named)).is_empty());
        assert_eq!(same, record);
    }
}

#[test]
fn a_draft_repairs_its_part_and_notes_it_in_the_description() {
    let mut draft = Draft::new(
        mapping::activity_fields(SyncObject::Case, &example(1), &settings(|_| {})),
        true,
    );
    draft.person = fields(json!({"LastName": "Doe", "Email": "bad"}));
    assert!(draft.repair(Part::Person, &error("INVALID_EMAIL_ADDRESS", &["Email"])));
    assert!(!draft.person.contains_key("Email"));
    assert!(draft
        .description()
        .unwrap()
        .contains("Salesforce refused Email = \"bad\""));
    assert!(!draft.repair(Part::Act, &error("INVALID_FIELD", &["Subject"])));
    assert!(draft.act.fields.contains_key("Subject"));
}

fn by_reference(round: &[SubRequest]) -> Vec<(String, String, String)> {
    round
        .iter()
        .map(|r| (r.reference.clone(), r.method.to_string(), r.path.clone()))
        .collect()
}

fn soql(request: &SubRequest) -> String {
    let query = request.path.strip_prefix("/query?q=").expect("a query");
    form_urlencoded::parse(format!("q={query}").as_bytes())
        .next()
        .unwrap()
        .1
        .into_owned()
}

struct Planned {
    settings: TenantSettings,
    event: Event,
    owner: Owner,
    upsert: bool,
}

impl Planned {
    fn new(settings: TenantSettings, event: Event) -> Planned {
        Planned {
            settings,
            event,
            owner: Owner::Known(None),
            upsert: false,
        }
    }

    fn chat(&self, activity: SyncObject) -> Chat<'_> {
        Chat {
            event: &self.event,
            settings: &self.settings,
            key: "acme/chat-1001",
            activity,
            upsert: self.upsert,
            owner: &self.owner,
        }
    }

    fn draft(
        &self,
        activity: SyncObject,
        person: Option<SyncObject>,
    ) -> (Draft, Vec<&'static str>) {
        let mut draft = Draft::new(
            mapping::activity_fields(activity, &self.event, &self.settings),
            true,
        );
        let placeholders = match person {
            Some(object) => {
                draft.person = mapping::person_fields(object, &self.event, &self.settings);
                mapping::placeholder_fields(object, &self.event, &self.settings)
            }
            None => Vec::new(),
        };
        (draft, placeholders)
    }

    fn first(&self, person: SyncObject, activity: SyncObject) -> Vec<SubRequest> {
        let (draft, placeholders) = self.draft(activity, Some(person));
        let lookups = self.lookups(person, &draft, &placeholders);
        first_round(&self.chat(activity), &lookups, &draft, &placeholders)
    }

    fn lookups(&self, person: SyncObject, draft: &Draft, placeholders: &[&str]) -> Lookups {
        Lookups::new(
            &self.event,
            &self.settings,
            person,
            &draft.person,
            placeholders,
            &self.owner,
        )
    }
}

fn s(items: &[(&str, &str, &str)]) -> Vec<(String, String, String)> {
    items
        .iter()
        .map(|(a, b, c)| (a.to_string(), b.to_string(), c.to_string()))
        .collect()
}

#[test]
fn the_first_round_writes_onto_the_first_rules_match_for_each_action_and_policy() {
    // chat.ended of Jane (email, phone, company Acme) with one attachment, agent not cached.
    let mut planned = Planned::new(settings(|_| {}), example(1));
    planned.owner = Owner::Ask("bob@cx.example.com".into());
    let round = planned.first(SyncObject::Contact, SyncObject::Case);
    assert_eq!(
        by_reference(&round)
            .into_iter()
            .map(|(r, m, _)| format!("{r} {m}"))
            .collect::<Vec<_>>(),
        [
            "p0 GET",
            "owner GET",
            "acct GET",
            "p1 GET",
            "act POST",
            "set_owner PATCH",
            "file0 POST"
        ],
        "fill_empty (the example's policy) writes no update in this round"
    );
    assert_eq!(
        soql(&round[0]),
        "SELECT Id, LastName, Email, Phone FROM Contact WHERE Email = 'jane@acme.example' \
         ORDER BY LastModifiedDate DESC, Id DESC LIMIT 2"
    );
    assert_eq!(
        soql(&round[1]),
        "SELECT Id, Email FROM User WHERE Email = 'bob@cx.example.com' AND IsActive = true \
         ORDER BY LastModifiedDate DESC, Id DESC LIMIT 1"
    );
    assert_eq!(
        soql(&round[2]),
        "SELECT Id FROM Account WHERE Name = 'Acme' ORDER BY LastModifiedDate DESC, Id DESC LIMIT 1"
    );
    assert!(soql(&round[3]).contains("WHERE Phone = '+1 415 555 0100'"));
    let act = round[4].body.as_ref().unwrap();
    assert_eq!(act["ContactId"], "@{p0.records[0].Id}");
    assert!(act.get("OwnerId").is_none(), "set by reference once found");
    assert_eq!(round[5].path, "/sobjects/Case/@{act.id}");
    assert_eq!(
        round[5].body,
        Some(json!({"OwnerId": "@{owner.records[0].Id}"}))
    );
    assert_eq!(
        round[6].body.as_ref().unwrap()["FirstPublishLocationId"],
        "@{act.id}"
    );

    // Overwrite: the found Contact is updated by reference, placeholders aside; a cached
    // owner is written at once.
    let mut planned = Planned::new(settings(|s| s["on_match"] = json!("overwrite")), example(1));
    planned.owner = Owner::Known(Some("005B".into()));
    let (mut draft, placeholders) = planned.draft(SyncObject::Case, Some(SyncObject::Contact));
    draft.act.fields.insert("OwnerId".into(), json!("005B"));
    let lookups = planned.lookups(SyncObject::Contact, &draft, &placeholders);
    let round = first_round(
        &planned.chat(SyncObject::Case),
        &lookups,
        &draft,
        &placeholders,
    );
    let person = round.iter().find(|r| r.reference == PERSON).unwrap();
    assert_eq!(person.path, "/sobjects/Contact/@{p0.records[0].Id}");
    assert_eq!(
        person.body,
        Some(
            json!({"LastName": "Jane Doe", "Email": "jane@acme.example", "Phone": "+1 415 555 0100"})
        )
    );
    let act = round.iter().find(|r| r.reference == ACT).unwrap();
    assert_eq!(act.body.as_ref().unwrap()["OwnerId"], "005B");
    assert!(round
        .iter()
        .all(|r| r.reference != "owner" && r.reference != "set_owner"));

    // Keep: no update. Lead + Task: the converted Lead is looked up, the Task is the Lead's.
    let planned = Planned::new(settings(|s| s["on_match"] = json!("keep")), example(1));
    let round = planned.first(SyncObject::Lead, SyncObject::Task);
    let references: Vec<&str> = round.iter().map(|r| r.reference.as_str()).collect();
    assert_eq!(references, ["p0", "conv", "act", "file0"]);
    assert!(soql(&round[0])
        .contains("FROM Lead WHERE Email = 'jane@acme.example' AND IsConverted = false"));
    assert!(soql(&round[1]).contains("AND IsConverted = true"));
    assert_eq!(round[2].path, "/sobjects/Task");
    assert_eq!(
        round[2].body.as_ref().unwrap()["WhoId"],
        "@{p0.records[0].Id}"
    );
    assert_eq!(round[2].body.as_ref().unwrap()["Status"], "Completed");

    // Contact + Task: WhoId, no Account on a Task.
    let round = planned.first(SyncObject::Contact, SyncObject::Task);
    let act = round.iter().find(|r| r.reference == ACT).unwrap();
    assert_eq!(act.path, "/sobjects/Task");
    assert_eq!(act.body.as_ref().unwrap()["WhoId"], "@{p0.records[0].Id}");

    // With the key field: an upsert on the chat's key.
    let mut planned = Planned::new(settings(|_| {}), example(1));
    planned.upsert = true;
    let round = planned.first(SyncObject::Contact, SyncObject::Case);
    let act = round.iter().find(|r| r.reference == ACT).unwrap();
    assert_eq!(act.method, http::Method::PATCH);
    assert_eq!(act.path, "/sobjects/Case/CloudCX_Key__c/acme%2Fchat-1001");
}

#[test]
fn a_visitor_without_values_for_any_rule_is_not_looked_up() {
    let planned = Planned::new(
        settings(|_| {}),
        chat_ended(r#""visitor":{"name":"Anonymous"}"#),
    );
    assert!(planned
        .first(SyncObject::Contact, SyncObject::Case)
        .is_empty());
    let (draft, placeholders) = planned.draft(SyncObject::Case, Some(SyncObject::Contact));
    assert!(planned
        .lookups(SyncObject::Contact, &draft, &placeholders)
        .rules
        .is_empty());
}

#[test]
fn a_round_never_holds_more_than_salesforce_takes_and_later_rules_are_asked_after() {
    let attachments: Vec<String> = (0..40)
        .map(|i| format!(r#"{{"name":"f{i}.txt","data_base64":"QQ=="}}"#))
        .collect();
    let planned = {
        let mut planned = Planned::new(
            settings(|s| {
                s["identification"]["contact"] = json!([
                    ["Email"],
                    ["Phone"],
                    ["LastName"],
                    ["LastName", "Phone"],
                    ["Email", "Phone"],
                    ["Email", "LastName"]
                ]);
            }),
            chat_ended(&format!(
                r#""visitor":{{"name":"Jane","email":"j@x.example","phone":"+1","company":"Acme"}},
                   "attachments":[{}]"#,
                attachments.join(",")
            )),
        );
        planned.owner = Owner::Ask("a@cx.example".into());
        planned
    };
    let round = planned.first(SyncObject::Contact, SyncObject::Case);
    assert_eq!(round.len(), MAX_SUBREQUESTS);
    let queries = round
        .iter()
        .filter(|r| r.method == http::Method::GET)
        .count();
    assert_eq!(queries, MAX_QUERIES);
    let (draft, placeholders) = planned.draft(SyncObject::Case, Some(SyncObject::Contact));
    let lookups = planned.lookups(SyncObject::Contact, &draft, &placeholders);
    let later = later_lookups(&lookups);
    let references: Vec<Vec<&str>> = later
        .iter()
        .map(|q| q.iter().map(|r| r.reference.as_str()).collect())
        .collect();
    assert_eq!(
        references,
        [["p3", "p4", "p5"]],
        "p0, owner, acct, p1, p2 went first"
    );
}

fn answer(reference: &str, body: Value) -> SubResponse {
    SubResponse {
        reference: reference.into(),
        status: 200,
        body,
    }
}

fn rows(rows: Value) -> Value {
    json!({"totalSize": rows.as_array().unwrap().len(), "done": true, "records": rows})
}

#[test]
fn a_later_rules_match_wins_over_a_converted_lead() {
    let planned = Planned::new(
        settings(|s| s["identification"]["lead"] = json!([["Email"], ["Phone"]])),
        example(1),
    );
    let (draft, placeholders) = planned.draft(SyncObject::Task, Some(SyncObject::Lead));
    let lookups = planned.lookups(SyncObject::Lead, &draft, &placeholders);
    let converted = answer(
        "conv",
        rows(json!([{"Id": "00QC", "ConvertedContactId": "003C"}])),
    );
    let nobody = Responses(vec![
        answer("p0", rows(json!([]))),
        answer("p1", rows(json!([]))),
        converted.clone(),
    ]);
    assert_eq!(
        lookups.match_after_first(&nobody, "c"),
        Some(Found {
            object: "Contact".into(),
            id: "003C".into(),
            row: Value::Null
        })
    );
    let by_phone = Responses(vec![
        answer("p0", rows(json!([]))),
        answer(
            "p1",
            rows(json!([{"Id": "00QB", "Phone": "+1"}, {"Id": "00QA"}])),
        ),
        converted,
    ]);
    assert!(lookups.later_rule_matched(&by_phone));
    let found = lookups.match_after_first(&by_phone, "c").unwrap();
    assert_eq!((found.object.as_str(), found.id.as_str()), ("Lead", "00QB"));
    assert!(lookups
        .match_after_first(&Responses(vec![answer("p0", rows(json!([])))]), "c")
        .is_none());
}

#[test]
fn the_second_round_writes_onto_a_match_or_a_new_person_in_its_account() {
    let mut planned = Planned::new(settings(|s| s["on_match"] = json!("overwrite")), example(1));
    planned.owner = Owner::Known(Some("005B".into()));
    let (draft, placeholders) = planned.draft(SyncObject::Case, Some(SyncObject::Contact));
    let chat = planned.chat(SyncObject::Case);
    // A new Contact: owned like the chat, in the visitor's Account; its Case too.
    let round = second_round(
        &chat,
        SyncObject::Contact,
        &draft,
        &placeholders,
        None,
        Some("001A"),
    );
    assert_eq!(
        by_reference(&round),
        s(&[
            ("person", "POST", "/sobjects/Contact"),
            ("act", "POST", "/sobjects/Case"),
            ("file0", "POST", "/sobjects/ContentVersion"),
        ])
    );
    let person = round[0].body.as_ref().unwrap();
    assert_eq!(person["OwnerId"], "005B");
    assert_eq!(person["AccountId"], "001A");
    let act = round[1].body.as_ref().unwrap();
    assert_eq!(act["ContactId"], "@{person.id}");
    assert_eq!(act["AccountId"], "001A");

    // A Contact found by a later rule: updated as the policy says, its Account left alone.
    let found = Found {
        object: "Contact".into(),
        id: "003F".into(),
        row: json!({"Id": "003F", "Email": "jane@acme.example"}),
    };
    let round = second_round(
        &chat,
        SyncObject::Contact,
        &draft,
        &placeholders,
        Some(&found),
        Some("001A"),
    );
    assert_eq!(round[0].path, "/sobjects/Contact/003F");
    assert_eq!(round[1].body.as_ref().unwrap()["ContactId"], "003F");
    assert!(round[1].body.as_ref().unwrap().get("AccountId").is_none());

    // The Contact an earlier try made for the chat: its values are the chat's already.
    let made = Found {
        object: "Contact".into(),
        id: "003M".into(),
        row: Value::Null,
    };
    let round = second_round(
        &chat,
        SyncObject::Contact,
        &draft,
        &placeholders,
        Some(&made),
        None,
    );
    assert_eq!(round[0].path, "/sobjects/Case", "no update: {round:#?}");
    assert_eq!(round[0].body.as_ref().unwrap()["ContactId"], "003M");

    // A converted Lead's Contact takes no Lead fields (Company), whatever the policy.
    let (lead_draft, lead_placeholders) = planned.draft(SyncObject::Task, Some(SyncObject::Lead));
    let converted = Found {
        object: "Contact".into(),
        id: "003C".into(),
        row: Value::Null,
    };
    let round = second_round(
        &planned.chat(SyncObject::Task),
        SyncObject::Lead,
        &lead_draft,
        &lead_placeholders,
        Some(&converted),
        None,
    );
    assert_eq!(
        by_reference(&round)[0],
        ("act".into(), "POST".into(), "/sobjects/Task".into())
    );
    assert_eq!(round[0].body.as_ref().unwrap()["WhoId"], "003C");
    // A new Lead has no Account.
    let round = second_round(
        &planned.chat(SyncObject::Task),
        SyncObject::Lead,
        &lead_draft,
        &lead_placeholders,
        None,
        Some("001A"),
    );
    assert!(round[0].body.as_ref().unwrap().get("AccountId").is_none());
    assert_eq!(round[0].body.as_ref().unwrap()["Company"], "Acme");
}

#[test]
fn a_case_alone_is_one_round_that_sets_its_account_and_owner_by_reference() {
    let mut planned = Planned::new(settings(|_| {}), example(1));
    planned.owner = Owner::Ask("bob@cx.example.com".into());
    let (draft, _) = planned.draft(SyncObject::Case, None);
    let round = case_only_round(&planned.chat(SyncObject::Case), &draft);
    assert_eq!(
        by_reference(&round),
        s(&[
            ("owner", "GET", &round[0].path),
            ("acct", "GET", &round[1].path),
            ("act", "POST", "/sobjects/Case"),
            ("set_account", "PATCH", "/sobjects/Case/@{act.id}"),
            ("set_owner", "PATCH", "/sobjects/Case/@{act.id}"),
            ("file0", "POST", "/sobjects/ContentVersion"),
        ])
    );
    assert_eq!(
        round[3].body,
        Some(json!({"AccountId": "@{acct.records[0].Id}"}))
    );
    // No company, agent cached: the Case and its file only.
    let planned = Planned::new(settings(|_| {}), chat_ended(r#""visitor":{"name":"Jane"}"#));
    let (draft, _) = planned.draft(SyncObject::Case, None);
    let round = case_only_round(&planned.chat(SyncObject::Case), &draft);
    assert_eq!(
        by_reference(&round),
        s(&[("act", "POST", "/sobjects/Case")])
    );
}

#[test]
fn files_go_only_while_owed_and_a_completion_keeps_the_subject() {
    let planned = Planned::new(settings(|_| {}), example(1));
    let (mut draft, _) = planned.draft(SyncObject::Case, None);
    let pending = draft.pending_files(&planned.event, "acme/chat-1001");
    assert_eq!(pending.len(), 1);
    draft.settled_files.push(pending[0].marker.clone());
    assert!(draft
        .pending_files(&planned.event, "acme/chat-1001")
        .is_empty());
    draft.settled_files.clear();
    draft.files_in_round = false;
    let round = case_only_round(&planned.chat(SyncObject::Case), &draft);
    assert!(round.iter().all(|r| !r.reference.starts_with("file")));
    draft.attach = false;
    assert!(draft
        .pending_files(&planned.event, "acme/chat-1001")
        .is_empty());
    let completed = completion(&draft);
    assert!(!completed.contains_key("Subject"));
    assert!(completed.contains_key("Description"));
}

#[test]
fn account_rules_read_the_company_the_phone_or_a_mapped_contact_field() {
    let tenant = settings(|s| {
        s["identification"]["account"] = json!([["Customer_No__c"], ["Name", "Phone"]]);
        s["field_mapping"]["Contact"] = json!({"Customer_No__c": "custom.plan"});
    });
    let chat = example(1); // custom variable plan = enterprise, company Acme
    assert_eq!(
        account_value(&chat, &tenant, "Customer_No__c").as_deref(),
        Some("enterprise")
    );
    assert_eq!(
        account_value(&chat, &tenant, "name").as_deref(),
        Some("Acme")
    );
    assert_eq!(
        account_condition(&chat, &tenant).as_deref(),
        Some("Customer_No__c = 'enterprise'")
    );
    assert!(account_rule_errors(&tenant).is_empty());
    let no_value = chat_ended(r#""visitor":{"company":"Acme","phone":"+1 5"}"#);
    assert_eq!(
        account_condition(&no_value, &tenant).as_deref(),
        Some("Name = 'Acme' AND Phone = '+1 5'"),
        "a rule whose values the visitor lacks is skipped"
    );
    let unusable = settings(|s| s["identification"]["account"] = json!([["Name"], ["Website"]]));
    let errors: Vec<String> = account_rule_errors(&unusable)
        .iter()
        .map(ToString::to_string)
        .collect();
    assert_eq!(
        errors,
        [
            "identification.account[1]: no visitor value maps to Account field \"Website\" (an \
          account rule may name Name, the visitor's company; Phone; or a field that \
          field_mapping.Contact maps)"
        ]
    );
}

#[test]
fn a_rule_names_fields_whatever_their_case_and_never_a_placeholder() {
    // The visitor has only an email: LastName is its placeholder.
    let visitor = chat_ended(r#""visitor":{"email":"jane@x.example"}"#);
    let fields = fields(json!({"LastName": "jane", "Email": "jane@x.example"}));
    let value_of = |placeholders: &'static [&'static str]| {
        let fields = fields.clone();
        let visitor = visitor.clone();
        move |f: &str| person_value(&visitor, &fields, placeholders, f)
    };
    assert_eq!(value_of(&[])("email").as_deref(), Some("jane@x.example"));
    assert_eq!(value_of(&["LastName"])("LastName"), None);
    let rule = Rule(vec![
        FieldName("Email".into()),
        FieldName("LastName".into()),
    ]);
    assert_eq!(
        condition(&rule, value_of(&[])).as_deref(),
        Some("Email = 'jane@x.example' AND LastName = 'jane'")
    );
    assert_eq!(condition(&rule, value_of(&["LastName"])), None);
    let quoted = event(
        r#"{"type":"chat.ended","tenant_id":"t","id":"c","channel":"w","at":"2026-11-24T10:05:00Z",
            "visitor":{"email":"o'b\\r@x.example"}}"#,
    );
    let email = mapping::person_of(&quoted).email.unwrap();
    let by_email = Rule(vec![FieldName("Email".into())]);
    assert_eq!(
        condition(&by_email, |_| Some(email.clone())).as_deref(),
        Some(r"Email = 'o\'b\\r@x.example'")
    );
}

#[test]
fn a_known_owner_is_learnt_from_its_query() {
    let mut owner = Owner::Ask("bob@cx.example".into());
    owner.learn(&Responses(vec![answer("p0", rows(json!([])))]));
    assert_eq!(owner, Owner::Ask("bob@cx.example".into()), "not asked yet");
    owner.learn(&Responses(vec![answer(
        "owner",
        rows(json!([{"Id": "005B"}])),
    )]));
    assert_eq!(owner, Owner::Known(Some("005B".into())));
    let mut nobody = Owner::Ask("x@cx.example".into());
    nobody.learn(&Responses(vec![answer("owner", rows(json!([])))]));
    assert_eq!(nobody, Owner::Known(None));
    assert_eq!(
        with_key("Subject", "[CloudCX a/b]"),
        "Subject [CloudCX a/b]"
    );
}

#[test]
fn rules_on_name_and_the_other_phones_compare_the_visitors_values_though_not_mapped() {
    // The reviewer's case (item 2): neither Name nor MobilePhone is written by the mapping.
    let tenant = settings(|s| s["identification"]["contact"] = json!([["Name"], ["MobilePhone"]]));
    let event = example(1); // chat.ended: Jane Doe, with email and phone
    let fields = mapping::person_fields(SyncObject::Contact, &event, &tenant);
    let placeholders = mapping::placeholder_fields(SyncObject::Contact, &event, &tenant);
    let value_of = |f: &str| person_value(&event, &fields, &placeholders, f);
    assert_eq!(
        condition(&tenant.identification.contact[0], value_of).as_deref(),
        Some("Name = 'Jane Doe'")
    );
    assert_eq!(
        condition(&tenant.identification.contact[1], value_of).as_deref(),
        Some("MobilePhone = '+1 415 555 0100'")
    );
    for (field, value) in [
        ("name", Some("Jane Doe")),
        ("HOMEPHONE", Some("+1 415 555 0100")),
        ("OtherPhone", Some("+1 415 555 0100")),
        ("Company", Some("Acme")),
        ("FirstName", None),
        ("Fax", None),
    ] {
        assert_eq!(value_of(field).as_deref(), value, "{field}");
    }
    // What the mapping writes wins; a field it unmaps still compares the visitor's value.
    let mapped = settings(|s| {
        s["field_mapping"]["Contact"] = json!({"MobilePhone": "literal:+1 000", "Phone": null})
    });
    let fields = mapping::person_fields(SyncObject::Contact, &event, &mapped);
    let value_of = |f: &str| person_value(&event, &fields, &[], f);
    assert_eq!(value_of("MobilePhone").as_deref(), Some("+1 000"));
    assert_eq!(value_of("Phone").as_deref(), Some("+1 415 555 0100"));
    // A visitor without a phone: the MobilePhone rule is skipped, not a query for nothing.
    let no_phone = chat_ended(r#""visitor":{"name":"Sam Lee"}"#);
    let fields = mapping::person_fields(SyncObject::Contact, &no_phone, &tenant);
    assert_eq!(
        condition(&tenant.identification.contact[1], |f| {
            person_value(&no_phone, &fields, &[], f)
        }),
        None
    );
}

#[test]
fn a_person_rule_on_a_field_no_chat_gives_a_value_is_a_problem_named_by_object() {
    let tenant = settings(|s| {
        s["field_mapping"]["Lead"] = json!({"Customer_No__c": "custom.customer_no", "Fax": null})
    });
    for (object, field) in [
        (SyncObject::Contact, "MobilePhone"),
        (SyncObject::Contact, "name"),
        (SyncObject::Lead, "Customer_No__c"),
        (SyncObject::Lead, "Company"),
    ] {
        assert_eq!(person_rule_problem(&tenant, object, field), None, "{field}");
    }
    assert_eq!(
        person_rule_problem(&tenant, SyncObject::Contact, "Customer_No__c").as_deref(),
        Some(
            "Contact field \"Customer_No__c\" gets no value from a chat (a rule may name Name, \
             LastName, Email, Phone, MobilePhone, HomePhone, OtherPhone, Lead Company, or a field \
             that field_mapping.Contact maps); map it in field_mapping.Contact or remove the rule"
        ),
        "mapped for Leads only"
    );
    assert!(
        person_rule_problem(&tenant, SyncObject::Lead, "Fax").is_some(),
        "unmapped"
    );
    assert!(person_rule_problem(&tenant, SyncObject::Lead, "FirstName").is_some());
}
