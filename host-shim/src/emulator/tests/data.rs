//! sObject resources, validation, upsert, describe, versions, limits and accounting.

use serde_json::{json, Value};

use super::{assert_shape, chat_id_seed, fixture, raw, Org, V};

#[test]
fn versions_need_no_auth_and_cost_nothing() {
    let org = Org::start();
    let r = raw(&org.agent, "GET", &org.url("/services/data/"), None, &[]);
    assert_eq!(r.status, 200);
    assert!(r.header("sforce-limit-info").is_none());
    let ours = r.json();
    let theirs = fixture("versions_list_services_data.postman.json");
    assert_shape(&ours, &theirs, true, "versions");
    let ours = ours.as_array().expect("array");
    for entry in theirs.as_array().expect("array") {
        assert!(ours.contains(entry), "missing {entry}");
    }
    assert_eq!(
        ours.last().map(|v| v["label"].clone()),
        Some(json!("Winter '25"))
    );
    assert_eq!(org.emulator.api_calls(), 0);
}

#[test]
fn create_retrieve_update_delete() {
    let org = Org::start();
    let body = json!({"LastName": "Doe", "Company": "Acme", "Email": "jd@example.com", "attributes": {"type": "Lead"}});
    let r = org.send("POST", &format!("{V}/sobjects/Lead/"), Some(&body));
    assert_eq!(r.status, 201, "{}", r.body);
    assert_eq!(
        r.header("content-type"),
        Some("application/json;charset=UTF-8")
    );
    let created = r.json();
    assert_shape(
        &created,
        &fixture("sobject_create_response_201.postman.json"),
        true,
        "create",
    );
    let id = created["id"].as_str().expect("id").to_string();
    assert!(id.starts_with("00Q") && id.len() == 18);
    assert_eq!(
        r.header("location"),
        Some(format!("{V}/sobjects/Lead/{id}").as_str())
    );

    let r = org.get(&format!("{V}/sobjects/Lead/{id}"));
    assert_eq!(r.status, 200);
    let record = r.json();
    let theirs = fixture("get_record_response_custom_object.restforce.json");
    assert_shape(
        &record["attributes"],
        &theirs["attributes"],
        true,
        "record attributes",
    );
    for (ours, fixture_field) in [
        ("Id", "Id"),
        ("OwnerId", "OwnerId"),
        ("IsDeleted", "IsDeleted"),
        ("CreatedDate", "DateTime_Label"),
    ] {
        assert_shape(&record[ours], &theirs[fixture_field], true, ours);
    }
    assert_eq!(
        record
            .as_object()
            .and_then(|m| m.keys().next().cloned())
            .as_deref(),
        Some("attributes")
    );
    assert_eq!(
        record["attributes"]["url"],
        format!("{V}/sobjects/Lead/{id}").as_str()
    );
    assert_eq!(record["Status"], "Open - Not Contacted");
    assert_eq!(record["Name"], "Doe");
    assert_eq!(record["IsConverted"], false);
    assert_eq!(record["OwnerId"], org.emulator.login_user_id().as_str());
    assert!(
        record.get("FirstName").is_some_and(Value::is_null),
        "nulls are returned"
    );
    assert!(
        record["CreatedDate"]
            .as_str()
            .is_some_and(|d| d.ends_with(".000+0000") && d.len() == 28),
        "to the second, as Salesforce keeps datetimes: {}",
        record["CreatedDate"]
    );

    // 15-character Ids work too, and ?fields= picks fields.
    let r = org.get(&format!(
        "{V}/sobjects/lead/{}?fields=Company,email",
        &id[..15]
    ));
    assert_eq!(r.status, 200);
    let keys: Vec<String> = r
        .json()
        .as_object()
        .expect("object")
        .keys()
        .cloned()
        .collect();
    assert_eq!(keys, ["attributes", "Company", "Email"]);

    let r = org.send(
        "PATCH",
        &format!("{V}/sobjects/Lead/{id}"),
        Some(&json!({"FirstName": "Jane", "Status": "Working - Contacted"})),
    );
    assert_eq!((r.status, r.body.as_str()), (204, ""));
    let record = org.get(&format!("{V}/sobjects/Lead/{id}")).json();
    assert_eq!(
        (record["Name"].as_str(), record["Status"].as_str()),
        (Some("Jane Doe"), Some("Working - Contacted"))
    );

    let r = org.send("DELETE", &format!("{V}/sobjects/Lead/{id}"), None);
    assert_eq!((r.status, r.body.as_str()), (204, ""));
    for method in ["GET", "DELETE"] {
        let r = org.send(method, &format!("{V}/sobjects/Lead/{id}"), None);
        assert_eq!(r.status, 404);
        assert_eq!(
            r.json(),
            json!([{"errorCode": "ENTITY_IS_DELETED", "message": "entity is deleted", "fields": []}])
        );
    }
    assert!(org.emulator.records("Lead").is_empty());
}

#[test]
fn unknown_things_get_salesforce_404s() {
    let org = Org::start();
    let r = org.get(&format!("{V}/sobjects/Whizbang/describe"));
    assert_eq!(r.status, 404);
    assert_eq!(
        r.json(),
        fixture("error_404_not_found_resource.restforce.json")
    );
    let r = org.get(&format!("{V}/sobjects/Lead/23foo"));
    assert_eq!(r.status, 404);
    assert_eq!(
        r.json()[0]["message"],
        "Provided external ID field does not exist or is not accessible: 23foo"
    );
    let contact = org.create("Contact", json!({"LastName": "X"}));
    assert_eq!(
        org.get(&format!("{V}/sobjects/Lead/{contact}")).status,
        404,
        "an Id of another object"
    );
    assert_eq!(org.get("/services/data/v99.0/limits").status, 404);
    assert_eq!(
        org.send(
            "PUT",
            &format!("{V}/sobjects/Lead/{contact}"),
            Some(&json!({}))
        )
        .status,
        405
    );
}

#[test]
fn writes_are_validated_like_salesforce() {
    let org = Org::start();
    let lead = |body: Value| org.send("POST", &format!("{V}/sobjects/Lead"), Some(&body));
    let cases: Vec<(Value, u16, Value)> = vec![
        (
            json!({"Email": "a@b.co"}),
            400,
            json!([{"errorCode": "REQUIRED_FIELD_MISSING", "message": "Required fields are missing: [LastName, Company]", "fields": ["LastName", "Company"]}]),
        ),
        (
            json!({"LastName": "x".repeat(81), "Company": "A"}),
            400,
            json!([{"errorCode": "STRING_TOO_LONG", "message": format!("Last Name: data value too large: {} (max length=80)", "x".repeat(81)), "fields": ["LastName"]}]),
        ),
        (
            json!({"LastName": "D", "Company": "A", "Email": "Not a real email address"}),
            400,
            json!([{"errorCode": "INVALID_EMAIL_ADDRESS", "message": "Email: invalid email address: Not a real email address", "fields": ["Email"]}]),
        ),
        (
            json!({"LastName": "D", "Company": "A", "foo": 1}),
            400,
            json!([{"errorCode": "INVALID_FIELD", "message": "No such column 'foo' on sobject of type Lead"}]),
        ),
        (
            json!({"LastName": "D", "Company": "A", "IsConverted": true}),
            400,
            json!([{"errorCode": "INVALID_FIELD_FOR_INSERT_UPDATE", "message": "Unable to create/update fields: IsConverted. Please check the security settings of this field and verify that it is read/write for your profile or permission set.", "fields": ["IsConverted"]}]),
        ),
        (
            json!({"Id": "00Q000000000001AAA", "LastName": "D", "Company": "A"}),
            400,
            json!([{"errorCode": "INVALID_FIELD", "message": "The Id field should not be specified in the sobject data."}]),
        ),
        (
            json!({"LastName": "D", "Company": "A", "OwnerId": "nope"}),
            400,
            json!([{"errorCode": "MALFORMED_ID", "message": "Owner ID: id value of incorrect type: nope", "fields": ["OwnerId"]}]),
        ),
        (
            json!({"LastName": "D", "Company": "A", "OwnerId": "005000000000099AAA"}),
            400,
            json!([{"errorCode": "INVALID_CROSS_REFERENCE_KEY", "message": "invalid cross reference id", "fields": []}]),
        ),
    ];
    let unknown = lead(json!({"LastName": "D", "Company": "A", "foo": 1})).json();
    assert_shape(
        &unknown,
        &fixture("error_400_invalid_field_on_write.restforce.json"),
        true,
        "INVALID_FIELD",
    );
    for (body, status, expected) in cases {
        let r = lead(body.clone());
        assert_eq!((r.status, r.json()), (status, expected), "for {body}");
    }
    let r = org.send("POST", &format!("{V}/sobjects/Lead"), None);
    assert_eq!(r.error_code(), "JSON_PARSER_ERROR");
    let bad_json = super::raw(
        &org.agent,
        "POST",
        &org.url(&format!("{V}/sobjects/Lead")),
        Some(b"{not json".to_vec()),
        &[("Authorization", format!("Bearer {}", org.token))],
    );
    assert_eq!(bad_json.error_code(), "JSON_PARSER_ERROR");

    // References: by key prefix, then existence.
    let contact = org.create("Contact", json!({"LastName": "C"}));
    let r = org.send(
        "POST",
        &format!("{V}/sobjects/Case"),
        Some(&json!({"AccountId": contact})),
    );
    assert_eq!(
        r.json(),
        json!([{"errorCode": "FIELD_INTEGRITY_EXCEPTION", "message": format!("Account ID: id value of incorrect type: {contact}"), "fields": ["AccountId"]}])
    );
    // Update can't null a required field; a bad type is a parser error.
    let lead_id = org.create("Lead", json!({"LastName": "L", "Company": "C"}));
    let r = org.send(
        "PATCH",
        &format!("{V}/sobjects/Lead/{lead_id}"),
        Some(&json!({"Company": null})),
    );
    assert_eq!(
        r.json()[0]["message"],
        "Required fields are missing: [Company]"
    );
    let r = org.send(
        "PATCH",
        &format!("{V}/sobjects/Task/{lead_id}"),
        Some(&json!({"Subject": "x"})),
    );
    assert_eq!(r.status, 404);
    let task = org.create("Task", json!({"Subject": "Call"}));
    let r = org.send(
        "PATCH",
        &format!("{V}/sobjects/Task/{task}"),
        Some(&json!({"CallDurationInSeconds": "long"})),
    );
    assert_eq!(r.error_code(), "JSON_PARSER_ERROR");
}

#[test]
fn defaults_and_object_rules() {
    let org = Org::start();
    let case = org.create("Case", json!({"Subject": "Help", "Origin": "Web"}));
    let c = org.get(&format!("{V}/sobjects/Case/{case}")).json();
    assert_eq!(
        (
            c["Status"].as_str(),
            c["Priority"].as_str(),
            c["IsClosed"].as_bool()
        ),
        (Some("New"), Some("Medium"), Some(false))
    );
    assert_eq!(c["CaseNumber"], "00001001");
    let second = org.create("Case", json!({}));
    assert_eq!(
        org.get(&format!("{V}/sobjects/Case/{second}")).json()["CaseNumber"],
        "00001002"
    );
    let r = org.send(
        "PATCH",
        &format!("{V}/sobjects/Case/{case}"),
        Some(&json!({"CaseNumber": "1"})),
    );
    assert_eq!(r.error_code(), "INVALID_FIELD_FOR_INSERT_UPDATE");

    let lead = org.create("Lead", json!({"LastName": "L", "Company": "C"}));
    let account = org.create("Account", json!({"Name": "Acme"}));
    let task = org.create("Task", json!({"WhoId": lead, "Subject": "Chat"}));
    let t = org.get(&format!("{V}/sobjects/Task/{task}")).json();
    assert_eq!(
        (
            t["Status"].as_str(),
            t["Priority"].as_str(),
            t["TaskSubtype"].as_str()
        ),
        (Some("Not Started"), Some("Normal"), Some("Task"))
    );
    let r = org.send(
        "POST",
        &format!("{V}/sobjects/Task"),
        Some(&json!({"WhoId": lead, "WhatId": account})),
    );
    assert_eq!(
        (r.status, r.error_code()),
        (400, "FIELD_INTEGRITY_EXCEPTION".to_string())
    );
    let contact = org.create("Contact", json!({"LastName": "C", "AccountId": account}));
    let task = org.create(
        "Task",
        json!({"WhoId": contact, "WhatId": account, "Status": "Completed"}),
    );
    let t = org.get(&format!("{V}/sobjects/Task/{task}")).json();
    assert_eq!(
        (t["AccountId"].as_str(), t["IsClosed"].as_bool()),
        (Some(account.as_str()), Some(true))
    );
}

#[test]
fn restricted_picklists_take_only_their_values() {
    let org = Org::start();
    let describe = org.get(&format!("{V}/sobjects/Task/describe")).json();
    let restricted = |name: &str| {
        describe["fields"]
            .as_array()
            .and_then(|f| f.iter().find(|f| f["name"] == name))
            .map(|f| f["restrictedPicklist"].clone())
    };
    assert_eq!(restricted("TaskSubtype"), Some(json!(true)));
    assert_eq!(restricted("Status"), Some(json!(false)));

    let lead = org.create("Lead", json!({"LastName": "L", "Company": "C"}));
    let call = org.create("Task", json!({"WhoId": lead, "TaskSubtype": "Call"}));
    assert_eq!(
        org.get(&format!("{V}/sobjects/Task/{call}")).json()["TaskSubtype"],
        "Call"
    );
    let r = org.send(
        "POST",
        &format!("{V}/sobjects/Task"),
        Some(&json!({"WhoId": lead, "TaskSubtype": "Meeting"})),
    );
    assert_eq!(r.status, 400);
    assert_eq!(
        r.json(),
        json!([{"message": "Task Subtype: bad value for restricted picklist field: Meeting",
                "errorCode": "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST", "fields": ["TaskSubtype"]}])
    );
    // Set on create only: an update is refused for that before its value is looked at.
    let r = org.send(
        "PATCH",
        &format!("{V}/sobjects/Task/{call}"),
        Some(&json!({"TaskSubtype": "Meeting"})),
    );
    assert_eq!(r.error_code(), "INVALID_FIELD_FOR_INSERT_UPDATE");
    // An unrestricted picklist takes any value, as Salesforce's API lets it.
    org.create("Task", json!({"WhoId": lead, "Priority": "Urgent"}));
}

#[test]
fn converted_leads_refuse_updates_and_references() {
    let org = Org::seeded(json!({"records": [
        {"type": "Account", "Id": "001000000000A01", "Name": "Acme"},
        {"type": "Contact", "Id": "003000000000A02", "LastName": "Doe", "AccountId": "001000000000A01"},
        {"type": "Lead", "LastName": "Doe", "Company": "Acme", "IsConverted": true, "Status": "Closed - Converted",
         "ConvertedContactId": "003000000000A02", "ConvertedAccountId": "001000000000A01"},
    ]}));
    let lead = org.emulator.records("Lead")[0].clone();
    assert_eq!(
        lead["ConvertedContactId"],
        crate::emulator::ids::normalize("003000000000A02")
            .as_deref()
            .unwrap_or_default()
    );
    let id = lead["Id"].as_str().expect("id");
    let r = org.send(
        "PATCH",
        &format!("{V}/sobjects/Lead/{id}"),
        Some(&json!({"Title": "x"})),
    );
    assert_eq!(
        (r.status, r.json()),
        (
            400,
            json!([{"errorCode": "CANNOT_UPDATE_CONVERTED_LEAD", "message": "cannot reference converted lead"}])
        )
    );
    let r = org.send(
        "POST",
        &format!("{V}/sobjects/Task"),
        Some(&json!({"WhoId": id})),
    );
    assert_eq!(r.error_code(), "CANNOT_UPDATE_CONVERTED_LEAD");
}

#[test]
fn leads_convert_into_contacts_and_accounts() {
    let org = Org::start();
    let lead = org.create("Lead", json!({"FirstName": "Ada", "LastName": "Doe", "Company": "Acme", "Email": "ada@example.com"}));
    let task = org.create("Task", json!({"WhoId": lead, "Subject": "Chat"}));
    let (contact, account) = org.emulator.convert_lead(&lead).expect("converted");
    let l = org.get(&format!("{V}/sobjects/Lead/{lead}")).json();
    assert_eq!(
        (l["IsConverted"].as_bool(), l["Status"].as_str()),
        (Some(true), Some("Closed - Converted"))
    );
    assert_eq!(
        (
            l["ConvertedContactId"].as_str(),
            l["ConvertedAccountId"].as_str()
        ),
        (Some(contact.as_str()), Some(account.as_str()))
    );
    assert!(l["ConvertedDate"].as_str().is_some_and(|d| d.len() == 10));
    let c = org.get(&format!("{V}/sobjects/Contact/{contact}")).json();
    assert_eq!(
        (
            c["Email"].as_str(),
            c["AccountId"].as_str(),
            c["Name"].as_str()
        ),
        (
            Some("ada@example.com"),
            Some(account.as_str()),
            Some("Ada Doe")
        )
    );
    assert_eq!(
        org.get(&format!("{V}/sobjects/Account/{account}")).json()["Name"],
        "Acme"
    );
    assert_eq!(
        org.get(&format!("{V}/sobjects/Task/{task}")).json()["WhoId"],
        contact.as_str()
    );
    assert_eq!(
        org.emulator.convert_lead(&lead).map_err(|e| e.code),
        Err("CANNOT_UPDATE_CONVERTED_LEAD")
    );
    assert_eq!(
        org.emulator.records("Account").len(),
        1,
        "a failed conversion leaves nothing behind"
    );
    let other = org.create("Lead", json!({"LastName": "Bo", "Company": "Beta"}));
    let r = super::raw(
        &org.agent,
        "POST",
        &org.url("/__emulator/convert-lead"),
        Some(json!({"leadId": other}).to_string().into_bytes()),
        &[],
    );
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(r.json()["contactId"]
        .as_str()
        .is_some_and(|c| c.starts_with("003")));
    let r = super::raw(
        &org.agent,
        "POST",
        &org.url("/__emulator/convert-lead"),
        Some(b"{}".to_vec()),
        &[],
    );
    assert_eq!(r.status, 400);
}

#[test]
fn inactive_users_cannot_own_records() {
    let org = Org::seeded(json!({"records": [
        {"type": "User", "Email": "admin@example.com"},
        {"type": "User", "Id": "005000000000Z01", "Email": "gone@example.com", "IsActive": false},
    ]}));
    let r = org.send(
        "POST",
        &format!("{V}/sobjects/Lead"),
        Some(&json!({"LastName": "L", "Company": "C", "OwnerId": "005000000000Z01"})),
    );
    assert_eq!(r.error_code(), "INACTIVE_OWNER_OR_USER");
}

#[test]
fn upsert_by_external_id() {
    let org = Org::seeded(chat_id_seed(json!([
        {"type": "Lead", "LastName": "A", "Company": "C", "Chat_Id__c": "dup"},
        {"type": "Lead", "LastName": "B", "Company": "C", "Chat_Id__c": "DUP"},
    ])));
    let path = format!("{V}/sobjects/Lead/Chat_Id__c/chat%2F42");
    let r = org.send(
        "PATCH",
        &path,
        Some(&json!({"LastName": "New", "Company": "Acme"})),
    );
    assert_eq!(r.status, 201, "{}", r.body);
    let created = r.json();
    assert_eq!(
        (created["created"].as_bool(), created["success"].as_bool()),
        (Some(true), Some(true))
    );
    let id = created["id"].as_str().expect("id").to_string();
    let r = org.send("PATCH", &path, Some(&json!({"Title": "CEO"})));
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(
        r.json(),
        json!({"id": id, "success": true, "errors": [], "created": false})
    );
    let record = org.get(&format!("{V}/sobjects/Lead/{id}")).json();
    assert_eq!(
        (record["Chat_Id__c"].as_str(), record["Title"].as_str()),
        (Some("chat/42"), Some("CEO"))
    );
    assert_eq!(org.get(&path).json()["Id"], id.as_str());

    let r = org.send(
        "PATCH",
        &format!("{V}/sobjects/Lead/Chat_Id__c/dup"),
        Some(&json!({"Title": "x"})),
    );
    assert_eq!(r.status, 300);
    assert_shape(
        &r.json(),
        &fixture("upsert_300_multiple_choices_body.restforce.json"),
        true,
        "300",
    );
    assert_eq!(r.json().as_array().map(Vec::len), Some(2));

    let r = org.send(
        "PATCH",
        &format!("{V}/sobjects/Lead/Email/a@b.c"),
        Some(&json!({"LastName": "x"})),
    );
    assert_eq!(
        (r.status, r.json()[0]["message"].as_str()),
        (
            404,
            Some("Provided external ID field does not exist or is not accessible: Email")
        )
    );
    let r = org.send(
        "PATCH",
        &format!("{V}/sobjects/Lead/Chat_Id__c/none?updateOnly=true"),
        Some(&json!({"LastName": "x"})),
    );
    assert_eq!(r.status, 404);

    // A deleted record no longer matches; a rolled-back create never did.
    assert_eq!(
        org.send("DELETE", &format!("{V}/sobjects/Lead/{id}"), None)
            .status,
        204
    );
    let r = org.send(
        "PATCH",
        &path,
        Some(&json!({"LastName": "Again", "Company": "Acme"})),
    );
    assert_eq!(r.status, 201, "{}", r.body);
    let rolled_back = json!({"allOrNone": true, "compositeRequest": [
        {"method": "PATCH", "url": format!("{V}/sobjects/Lead/Chat_Id__c/fresh"), "referenceId": "up", "body": {"LastName": "F", "Company": "C"}},
        {"method": "POST", "url": format!("{V}/sobjects/Lead"), "referenceId": "bad", "body": {}},
    ]});
    org.send("POST", &format!("{V}/composite"), Some(&rolled_back));
    let r = org.send(
        "PATCH",
        &format!("{V}/sobjects/Lead/Chat_Id__c/fresh"),
        Some(&json!({"LastName": "F", "Company": "C"})),
    );
    assert_eq!(r.json()["created"], true, "{}", r.body);
}

#[test]
fn an_upsert_refuses_its_key_or_id_in_the_body() {
    let org = Org::seeded(chat_id_seed(json!([
        {"type": "Lead", "LastName": "A", "Company": "C", "Chat_Id__c": "chat/1"},
    ])));
    let lead = org
        .get(&format!("{V}/sobjects/Lead/Chat_Id__c/chat%2F1"))
        .json()["Id"]
        .clone();
    for (path, body, named) in [
        // Even the value the URL carries, and whatever the key's case.
        (
            "chat%2F1",
            json!({"Title": "x", "chat_id__c": "chat/1"}),
            "Chat_Id__c",
        ),
        (
            "chat%2F2",
            json!({"LastName": "B", "Company": "C", "Chat_Id__c": "chat/2"}),
            "Chat_Id__c",
        ),
        ("chat%2F1", json!({"Title": "x", "Id": lead}), "Id"),
    ] {
        let r = org.send(
            "PATCH",
            &format!("{V}/sobjects/Lead/Chat_Id__c/{path}"),
            Some(&body),
        );
        assert_eq!(r.status, 400, "{body}: {}", r.body);
        assert_eq!(
            r.json(),
            json!([{"message": format!("The {named} field should not be specified in the sobject data."),
                    "errorCode": "INVALID_FIELD"}])
        );
    }
    let leads = org
        .get(&format!("{V}/query?q=SELECT+Id,Title+FROM+Lead"))
        .json();
    assert_eq!(leads["totalSize"], 1, "nothing was written: {leads}");
    assert_eq!(leads["records"][0]["Title"], Value::Null);

    // sObject Collections upsert is the other way round: each record names its key.
    let r = org.send(
        "PATCH",
        &format!("{V}/composite/sobjects/Lead/Chat_Id__c"),
        Some(&json!({"records": [{"attributes": {"type": "Lead"}, "Chat_Id__c": "chat/1", "Title": "y"}]})),
    );
    assert_eq!(r.json()[0]["created"], false, "{}", r.body);
}

#[test]
fn posting_to_the_id_external_id_creates_a_record() {
    let org = Org::start();
    let body = json!({"LastName": "Doe", "Company": "Acme"});
    let r = org.send("POST", &format!("{V}/sobjects/Lead/Id"), Some(&body));
    assert_eq!(r.status, 201, "{}", r.body);
    let id = r.json()["id"].as_str().expect("id").to_string();
    assert_eq!(
        r.json(),
        json!({"id": id, "success": true, "errors": [], "created": true})
    );
    assert_eq!(
        r.header("location"),
        Some(format!("{V}/sobjects/Lead/{id}").as_str())
    );
    assert_eq!(
        org.get(&format!("{V}/sobjects/Lead/{id}")).json()["LastName"],
        "Doe"
    );
    // The same URI again makes another record.
    let r = org.send("POST", &format!("{V}/sobjects/Lead/Id"), Some(&body));
    assert_ne!(r.json()["id"], id.as_str(), "{}", r.body);

    let r = org.send(
        "POST",
        &format!("{V}/sobjects/Lead/Id"),
        Some(&json!({"Id": id, "LastName": "Doe", "Company": "Acme"})),
    );
    assert_eq!(
        (r.status, r.json()[0]["message"].as_str()),
        (
            400,
            Some("The Id field should not be specified in the sobject data.")
        )
    );
    // Before v37.0 it is a record URI, which takes no POST.
    let r = org.send("POST", "/services/data/v36.0/sobjects/Lead/Id", Some(&body));
    assert_eq!(
        (r.status, r.error_code()),
        (405, "METHOD_NOT_ALLOWED".into())
    );
}

#[test]
fn unique_fields_refuse_duplicate_values() {
    let org = Org::seeded(json!({"customFields": [
        {"object": "Contact", "name": "Chat_Key__c", "type": "string", "externalId": true, "unique": true}
    ]}));
    let first = org.create("Contact", json!({"LastName": "A", "Chat_Key__c": "k1"}));
    let r = org.send(
        "POST",
        &format!("{V}/sobjects/Contact"),
        Some(&json!({"LastName": "B", "Chat_Key__c": "K1"})),
    );
    assert_eq!(
        r.json(),
        json!([{"errorCode": "DUPLICATE_VALUE", "message": format!("duplicate value found: Chat_Key__c duplicates value on record with id: {first}"), "fields": ["Chat_Key__c"]}])
    );
    let r = org.send(
        "PATCH",
        &format!("{V}/sobjects/Contact/{first}"),
        Some(&json!({"Chat_Key__c": "k1", "Title": "same value, same record"})),
    );
    assert_eq!(r.status, 204, "{}", r.body);
}

#[test]
fn values_are_typed_and_written_as_salesforce_writes_them() {
    let org = Org::seeded(json!({"customFields": [
        {"object": "Case", "name": "Started__c", "type": "datetime"},
        {"object": "Case", "name": "Score__c", "type": "double"},
        {"object": "Case", "name": "Urgent__c", "type": "boolean"},
    ]}));
    let case = org.create(
        "Case",
        json!({"Started__c": "2024-05-01T10:00:00+02:00", "Score__c": "2.5", "Urgent__c": true}),
    );
    let c = org.get(&format!("{V}/sobjects/Case/{case}")).json();
    assert_eq!(c["Started__c"], "2024-05-01T08:00:00.000+0000");
    assert_eq!(
        (c["Score__c"].as_f64(), c["Urgent__c"].as_bool()),
        (Some(2.5), Some(true))
    );
    let r = org.send(
        "PATCH",
        &format!("{V}/sobjects/Case/{case}"),
        Some(&json!({"Started__c": "2024-05-01T10:00:00.123+0000"})),
    );
    assert_eq!(r.status, 204);
    assert_eq!(
        org.get(&format!("{V}/sobjects/Case/{case}")).json()["Started__c"],
        "2024-05-01T10:00:00.123+0000"
    );
    for bad in [
        json!({"Started__c": "yesterday"}),
        json!({"Urgent__c": "yes"}),
        json!({"Score__c": [1]}),
    ] {
        let r = org.send("PATCH", &format!("{V}/sobjects/Case/{case}"), Some(&bad));
        assert_eq!(r.error_code(), "JSON_PARSER_ERROR", "{bad}");
    }
    let task = org.create("Task", json!({"ActivityDate": "2024-05-01"}));
    assert_eq!(
        org.get(&format!("{V}/sobjects/Task/{task}")).json()["ActivityDate"],
        "2024-05-01"
    );
    let r = org.send(
        "PATCH",
        &format!("{V}/sobjects/Task/{task}"),
        Some(&json!({"ActivityDate": "2024-13-01"})),
    );
    assert_eq!(r.error_code(), "JSON_PARSER_ERROR");
}

#[test]
fn external_id_get_and_delete() {
    let org = Org::seeded(chat_id_seed(json!([
        {"type": "Lead", "LastName": "A", "Company": "C", "Chat_Id__c": "one"},
        {"type": "Lead", "LastName": "B", "Company": "C", "Chat_Id__c": "two"},
        {"type": "Lead", "LastName": "C", "Company": "C", "Chat_Id__c": "two"},
    ])));
    assert_eq!(
        org.get(&format!("{V}/sobjects/Lead/Chat_Id__c/ONE?fields=LastName"))
            .json()["LastName"],
        "A"
    );
    assert_eq!(
        org.get(&format!("{V}/sobjects/Lead/Chat_Id__c/two")).status,
        300
    );
    assert_eq!(
        org.get(&format!("{V}/sobjects/Lead/Chat_Id__c/none"))
            .status,
        404
    );
    assert_eq!(
        org.send("DELETE", &format!("{V}/sobjects/Lead/Chat_Id__c/two"), None)
            .status,
        300
    );
    assert_eq!(
        org.send("DELETE", &format!("{V}/sobjects/Lead/Chat_Id__c/one"), None)
            .status,
        204
    );
    assert_eq!(org.emulator.records("Lead").len(), 2);
}

#[test]
fn describe_matches_the_fixture_and_the_schema() {
    let org = Org::seeded(chat_id_seed(json!([])));
    let r = org.get(&format!("{V}/sobjects/Lead/describe/"));
    assert_eq!(r.status, 200);
    let ours = r.json();
    let theirs = fixture("sobject_describe_trimmed_to_3_fields.restforce.json");
    assert_shape(&ours, &theirs, false, "describe");
    let field = |name: &str| {
        ours["fields"]
            .as_array()
            .and_then(|f| f.iter().find(|f| f["name"] == name))
            .cloned()
            .expect(name)
    };
    let expected_keys: Vec<&String> = theirs["fields"][0]
        .as_object()
        .expect("obj")
        .keys()
        .collect();
    for f in ours["fields"].as_array().expect("fields") {
        for k in &expected_keys {
            assert!(f.get(k.as_str()).is_some(), "{} lacks {k}", f["name"]);
        }
    }
    let last = field("LastName");
    assert_eq!(
        (
            last["label"].as_str(),
            last["type"].as_str(),
            last["length"].as_u64()
        ),
        (Some("Last Name"), Some("string"), Some(80))
    );
    assert_eq!(
        (
            last["nillable"].as_bool(),
            last["createable"].as_bool(),
            last["updateable"].as_bool()
        ),
        (Some(false), Some(true), Some(true))
    );
    assert_eq!(last["byteLength"], 240);
    let custom = field("Chat_Id__c");
    assert_eq!(
        (
            custom["externalId"].as_bool(),
            custom["custom"].as_bool(),
            custom["length"].as_u64()
        ),
        (Some(true), Some(true), Some(40))
    );
    let owner = field("OwnerId");
    assert_eq!(owner["referenceTo"], json!(["Group", "User"]));
    assert_eq!(field("Status")["defaultValue"], "Open - Not Contacted");
    assert_eq!(field("IsConverted")["updateable"], false);
    assert!(ours["childRelationships"].as_array().is_some_and(|c| c
        .iter()
        .any(|r| r["relationshipName"] == "Tasks" && r["field"] == "WhoId")));

    let global = org.get(&format!("{V}/sobjects")).json();
    let names: Vec<&str> = global["sobjects"]
        .as_array()
        .expect("list")
        .iter()
        .filter_map(|o| o["name"].as_str())
        .collect();
    for object in [
        "Lead",
        "Contact",
        "Account",
        "Case",
        "Task",
        "User",
        "ContentVersion",
        "ContentDocument",
        "ContentDocumentLink",
        "Attachment",
    ] {
        assert!(names.contains(&object), "{object}");
    }
    let basic = org.get(&format!("{V}/sobjects/Case")).json();
    assert_eq!(basic["objectDescribe"]["keyPrefix"], "500");
}

#[test]
fn each_data_call_counts_once_and_the_budget_ends_in_403() {
    let org = Org::start();
    org.emulator.set_api_limit(3);
    let r = org.get(&format!("{V}/"));
    assert_eq!(r.status, 200);
    assert_eq!(r.header("sforce-limit-info"), Some("api-usage=1/3"));
    assert!(r.json()["sobjects"]
        .as_str()
        .is_some_and(|s| s.ends_with("/sobjects")));
    let limits = org.get(&format!("{V}/limits"));
    let body = limits.json();
    assert_shape(
        &body,
        &fixture("limits_response_200.postman.json"),
        true,
        "limits",
    );
    for (name, value) in body.as_object().expect("obj") {
        assert!(
            value["Max"].is_u64() && value["Remaining"].is_u64(),
            "{name}"
        );
    }
    assert_eq!(body["DailyApiRequests"], json!({"Max": 3, "Remaining": 1}));
    assert_eq!(org.emulator.api_calls(), 2);
    assert_eq!(org.get(&format!("{V}/limits")).status, 200);
    let r = org.get(&format!("{V}/limits"));
    assert_eq!(r.status, 403);
    assert_eq!(
        r.json(),
        json!([{"errorCode": "REQUEST_LIMIT_EXCEEDED", "message": "TotalRequests Limit exceeded."}])
    );
    assert_eq!(r.header("sforce-limit-info"), Some("api-usage=3/3"));
    org.emulator.set_api_limit(10);
    assert_eq!(org.get(&format!("{V}/limits")).status, 200);
}

#[test]
fn record_count_counts_live_records_of_the_objects_named() {
    let org = Org::start();
    let gone = org.create("Account", json!({"Name": "Gone"}));
    org.create("Account", json!({"Name": "Acme"}));
    org.create("Lead", json!({"LastName": "L", "Company": "C"}));
    assert_eq!(
        org.send("DELETE", &format!("{V}/sobjects/Account/{gone}"), None)
            .status,
        204
    );
    let r = org.get(&format!(
        "{V}/limits/recordCount?sObjects=Account,lead,NoSuchObject,Contact"
    ));
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(
        r.json(),
        json!({"sObjects": [{"count": 1, "name": "Account"}, {"count": 1, "name": "Lead"},
                            {"count": 0, "name": "Contact"}]})
    );
    // Without the list: every object of the org.
    let all = org.get(&format!("{V}/limits/recordCount")).json();
    let counts: Vec<(&str, u64)> = all["sObjects"]
        .as_array()
        .expect("list")
        .iter()
        .filter_map(|o| Some((o["name"].as_str()?, o["count"].as_u64()?)))
        .collect();
    assert!(
        counts.contains(&("Lead", 1)) && counts.contains(&("Case", 0)),
        "{all}"
    );
    assert!(
        counts.iter().any(|(name, n)| *name == "User" && *n >= 1),
        "{all}"
    );
    // The resource came in v40.0, and takes only GET.
    assert_eq!(
        org.get("/services/data/v39.0/limits/recordCount")
            .error_code(),
        "NOT_FOUND"
    );
    let r = org.send("POST", &format!("{V}/limits/recordCount"), Some(&json!({})));
    assert_eq!(
        (r.status, r.error_code()),
        (405, "METHOD_NOT_ALLOWED".into())
    );
}

#[test]
fn sessions_are_checked() {
    let org = Org::start();
    let url = org.url(&format!("{V}/limits"));
    let r = raw(&org.agent, "GET", &url, None, &[]);
    assert_eq!(
        (r.status, r.json()),
        (401, fixture("error_401_invalid_session_id.restforce.json"))
    );
    let r = raw(
        &org.agent,
        "GET",
        &url,
        None,
        &[("Authorization", "Bearer nope".into())],
    );
    assert_eq!(r.status, 401);
    let r = raw(
        &org.agent,
        "GET",
        &url,
        None,
        &[("Authorization", format!("Token {}", org.token))],
    );
    assert_eq!(
        (r.status, r.json()),
        (
            401,
            json!([{"errorCode": "INVALID_AUTH_HEADER", "message": "INVALID_HEADER_TYPE"}])
        )
    );
    let r = raw(
        &org.agent,
        "GET",
        &url,
        None,
        &[("Authorization", format!("OAuth {}", org.token))],
    );
    assert_eq!(r.status, 200);
    assert_eq!(org.emulator.api_calls(), 1, "refused calls are not counted");
}

#[test]
fn files_make_documents_links_and_blobs() {
    let org = Org::start();
    let lead = org.create("Lead", json!({"LastName": "L", "Company": "C"}));
    let version = org.create("ContentVersion", json!({"Title": "chat", "PathOnClient": "chat.txt", "VersionData": "aGVsbG8=", "FirstPublishLocationId": lead}));
    let v = org
        .get(&format!("{V}/sobjects/ContentVersion/{version}"))
        .json();
    assert_eq!(
        (
            v["ContentSize"].as_u64(),
            v["FileType"].as_str(),
            v["VersionNumber"].as_str()
        ),
        (Some(5), Some("TEXT"), Some("1"))
    );
    assert_eq!(
        v["VersionData"],
        format!("{V}/sobjects/ContentVersion/{version}/VersionData").as_str()
    );
    let doc = v["ContentDocumentId"]
        .as_str()
        .expect("document")
        .to_string();
    assert!(doc.starts_with("069"));
    let links = org.emulator.records("ContentDocumentLink");
    assert_eq!(
        (
            links.len(),
            links[0]["LinkedEntityId"].as_str(),
            links[0]["ContentDocumentId"].as_str()
        ),
        (1, Some(lead.as_str()), Some(doc.as_str()))
    );
    let blob = org.get(&format!(
        "{V}/sobjects/ContentVersion/{version}/VersionData"
    ));
    assert_eq!((blob.status, blob.body.as_str()), (200, "hello"));

    let second = org.create("ContentVersion", json!({"ContentDocumentId": doc, "PathOnClient": "chat.txt", "VersionData": "aGk=", "ReasonForChange": "more"}));
    let v2 = org
        .get(&format!("{V}/sobjects/ContentVersion/{second}"))
        .json();
    assert_eq!(
        (v2["VersionNumber"].as_str(), v2["IsLatest"].as_bool()),
        (Some("2"), Some(true))
    );
    assert_eq!(
        org.get(&format!("{V}/sobjects/ContentVersion/{version}"))
            .json()["IsLatest"],
        false
    );
    assert_eq!(
        org.get(&format!("{V}/sobjects/ContentDocument/{doc}"))
            .json()["LatestPublishedVersionId"],
        second.as_str()
    );
    let r = org.send(
        "POST",
        &format!("{V}/sobjects/ContentDocument"),
        Some(&json!({"Title": "x"})),
    );
    assert_eq!(r.status, 400);

    let attachment = org.create("Attachment", json!({"ParentId": lead, "Name": "log.txt", "Body": "aGVsbG8=", "ContentType": "text/plain"}));
    assert_eq!(
        org.get(&format!("{V}/sobjects/Attachment/{attachment}"))
            .json()["BodyLength"],
        5
    );
    let r = org.send(
        "POST",
        &format!("{V}/sobjects/Attachment"),
        Some(&json!({"ParentId": lead, "Name": "x", "Body": "%%%"})),
    );
    assert_eq!(r.error_code(), "JSON_PARSER_ERROR");
    let r = org.send(
        "POST",
        &format!("{V}/sobjects/ContentDocumentLink"),
        Some(&json!({"ContentDocumentId": doc, "LinkedEntityId": attachment})),
    );
    assert_eq!(r.status, 400, "an Attachment can't be linked: {}", r.body);
}

#[test]
fn describe_answers_304_when_the_schema_is_not_newer() {
    use time::format_description::well_known::Rfc2822;
    let org = Org::start();
    // Clients send RFC 7231 dates: `Sun, 06 Nov 1994 08:49:37 GMT`.
    let http_date =
        |t: time::OffsetDateTime| t.format(&Rfc2822).expect("date").replace("+0000", "GMT");
    let since = |date: &str| {
        let describe = org.send_with(
            "GET",
            &format!("{V}/sobjects/Lead/describe"),
            None,
            &[("If-Modified-Since", date)],
        );
        let global = org.send_with(
            "GET",
            &format!("{V}/sobjects/"),
            None,
            &[("If-Modified-Since", date)],
        );
        assert_eq!(describe.status, global.status, "{date}");
        if describe.status == 304 {
            assert_eq!((describe.body.as_str(), global.body.as_str()), ("", ""));
        }
        describe.status
    };
    let now = http_date(time::OffsetDateTime::now_utc());
    assert_eq!(since(&now), 304);
    assert_eq!(since("Sat, 01 Jan 2000 00:00:00 GMT"), 200);
    assert_eq!(since("not a date"), 200);
    // A custom field added later is a change.
    std::thread::sleep(std::time::Duration::from_millis(1100));
    org.emulator
        .seed(&chat_id_seed(json!([])))
        .expect("custom field");
    assert_eq!(since(&now), 200);
    let later = http_date(time::OffsetDateTime::now_utc());
    assert_eq!(since(&later), 304);
}

#[test]
fn head_is_get_without_the_body() {
    let org = Org::start();
    let lead = org.create("Lead", json!({"LastName": "Head", "Company": "C"}));
    for path in [
        format!("{V}/sobjects/Lead/{lead}"),
        format!("{V}/sobjects/Lead/describe"),
        format!("{V}/sobjects/Lead"),
        format!("{V}/limits"),
    ] {
        let get = org.get(&path);
        let head = org.send("HEAD", &path, None);
        assert_eq!((head.status, head.body.as_str()), (200, ""), "{path}");
        assert_eq!(
            head.header("content-length"),
            Some(get.body.len().to_string().as_str()),
            "{path}"
        );
        assert_eq!(head.header("content-type"), get.header("content-type"));
    }
    // The connection stays usable after a HEAD (no stray body on it).
    assert_eq!(org.get(&format!("{V}/limits")).status, 200);
}

#[test]
fn the_latest_alias_and_trailing_slashes() {
    let org = Org::start();
    let resources = org.get("/services/data/latest/").json();
    assert_eq!(resources["sobjects"], format!("{V}/sobjects").as_str());
    assert_eq!(
        org.get("/services/data/latest/sobjects/Lead/describe")
            .json()["name"],
        "Lead"
    );
    let global = org.get(&format!("{V}/sobjects/"));
    assert_eq!(global.status, 200);
    assert!(global.json()["sobjects"]
        .as_array()
        .is_some_and(|s| s.iter().any(|o| o["name"] == "Lead")));
    assert_eq!(
        org.get("/services/data/v63.0/limits").error_code(),
        "NOT_FOUND"
    );
}
