//! Composite batch and sObject Tree.

use serde_json::{json, Value};

use super::{Org, Resp, V};

fn batch(org: &Org, body: Value) -> Resp {
    org.send("POST", &format!("{V}/composite/batch"), Some(&body))
}

fn statuses(r: &Resp) -> Vec<u64> {
    r.json()["results"]
        .as_array()
        .expect("results")
        .iter()
        .filter_map(|s| s["statusCode"].as_u64())
        .collect()
}

#[test]
fn batch_runs_independent_subrequests_each_one_api_call() {
    let org = Org::start();
    let account = org.create("Account", json!({"Name": "Old"}));
    let before = org.emulator.api_calls();
    let r = batch(
        &org,
        json!({"batchRequests": [
            {"method": "PATCH", "url": format!("v62.0/sobjects/account/{account}"), "richInput": {"Name": "New"}},
            {"method": "GET", "url": format!("v62.0/sobjects/account/{account}?fields=Name,BillingCity")},
            {"method": "POST", "url": "v62.0/sobjects/Lead", "richInput": {"LastName": "No company"}},
            {"method": "GET", "url": "/v62.0/query?q=SELECT+Name+FROM+Account", "binaryPartName": "ignored"},
        ]}),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    let body = r.json();
    assert_eq!(body["hasErrors"], true);
    assert_eq!(statuses(&r), [204, 200, 400, 200]);
    assert_eq!(
        body["results"][0],
        json!({"statusCode": 204, "result": null})
    );
    assert_eq!(
        body["results"][1]["result"],
        json!({"attributes": {"type": "Account", "url": format!("{V}/sobjects/Account/{account}")}, "Name": "New", "BillingCity": null})
    );
    assert_eq!(
        body["results"][2]["result"][0]["errorCode"],
        "REQUIRED_FIELD_MISSING"
    );
    // The failure rolled nothing back: the query, after it, sees the update.
    assert_eq!(body["results"][3]["result"]["records"][0]["Name"], "New");
    assert_eq!(org.emulator.api_calls() - before, 4);
    assert_eq!(
        r.header("sforce-limit-info"),
        Some(format!("api-usage={}/15000", before + 4).as_str())
    );

    let r = batch(
        &org,
        json!({"batchRequests": [{"method": "GET", "url": "v62.0/limits"}]}),
    );
    assert_eq!(
        (r.json()["hasErrors"].as_bool(), statuses(&r)),
        (Some(false), vec![200])
    );
}

#[test]
fn batch_halt_on_error_answers_412_for_the_rest() {
    let org = Org::start();
    let before = org.emulator.api_calls();
    let lead = |name: &str, company: Option<&str>| {
        let mut body = json!({"LastName": name});
        if let Some(c) = company {
            body["Company"] = json!(c);
        }
        json!({"method": "POST", "url": "v62.0/sobjects/Lead", "richInput": body})
    };
    let r = batch(
        &org,
        json!({"haltOnError": true, "batchRequests": [
            lead("First", Some("C")),
            lead("Bad", None),
            lead("Third", Some("C")),
            {"method": "GET", "url": "v62.0/limits"},
        ]}),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(statuses(&r), [201, 400, 412, 412]);
    let body = r.json();
    assert_eq!(body["hasErrors"], true);
    assert_eq!(
        body["results"][2]["result"][0]["errorCode"],
        "BATCH_PROCESSING_HALTED"
    );
    let leads = org.emulator.records("Lead");
    assert_eq!(
        (leads.len(), leads[0]["LastName"].as_str()),
        (1, Some("First")),
        "the first committed, the third never ran"
    );
    assert_eq!(
        org.emulator.api_calls() - before,
        2,
        "halted ones cost nothing"
    );
}

#[test]
fn batch_refuses_malformed_subrequests_before_running_any() {
    let org = Org::start();
    let create =
        json!({"method": "POST", "url": "v62.0/sobjects/Account", "richInput": {"Name": "A"}});
    let refused = |body: Value, message: &str| {
        let r = batch(&org, body);
        assert_eq!(
            (r.status, r.error_code(), r.json()[0]["message"].as_str()),
            (400, "INVALID_INPUT".to_string(), Some(message)),
            "{}",
            r.body
        );
    };
    refused(
        json!({"batchRequests": [create, {"method": "FETCH", "url": "v62.0/limits"}]}),
        "batchRequests[1]: invalid method FETCH",
    );
    refused(
        json!({"batchRequests": [create, {"method": "GET"}]}),
        "batchRequests[1]: url is required",
    );
    // Subrequest versions run from v34.0 to the batch request's own.
    for url in ["v33.0/limits", "v63.0/limits", "limits"] {
        refused(
            json!({"batchRequests": [create, {"method": "GET", "url": url}]}),
            &format!("batchRequests[1]: invalid url {url}: it must start with an API version from v34.0 to v62.0, as in v62.0/sobjects/Account"),
        );
    }
    let r = org.send(
        "POST",
        "/services/data/v50.0/composite/batch",
        Some(&json!({"batchRequests": [{"method": "GET", "url": "v51.0/limits"}]})),
    );
    assert_eq!(r.status, 400, "{}", r.body);
    assert!(org.emulator.records("Account").is_empty());

    let many: Vec<Value> = (0..26)
        .map(|_| json!({"method": "GET", "url": "v62.0/limits"}))
        .collect();
    let r = batch(&org, json!({"batchRequests": many}));
    assert_eq!(
        (r.status, r.error_code()),
        (400, "LIMIT_EXCEEDED".to_string())
    );
    let r = batch(
        &org,
        json!({"batchRequests": [{"method": "POST", "url": "v62.0/composite/batch", "richInput": {"batchRequests": []}}]}),
    );
    assert_eq!(statuses(&r), [404], "batches do not nest");
}

#[test]
fn batch_subrequests_stop_at_the_api_budget() {
    let org = Org::start();
    org.emulator.set_api_limit(org.emulator.api_calls() + 2);
    let limits = json!({"method": "GET", "url": "v62.0/limits"});
    let r = batch(&org, json!({"batchRequests": [limits, limits, limits]}));
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(statuses(&r), [200, 200, 403]);
    assert_eq!(
        r.json()["results"][2]["result"][0]["errorCode"],
        "REQUEST_LIMIT_EXCEEDED"
    );
}

fn tree(org: &Org, object: &str, records: Value) -> Resp {
    org.send(
        "POST",
        &format!("{V}/composite/tree/{object}"),
        Some(&json!({"records": records})),
    )
}

/// Salesforce's example request: two Accounts, the first with two Contacts.
fn example_records(email: &str) -> Value {
    json!([
        {"attributes": {"type": "Account", "referenceId": "ref1"}, "name": "SampleAccount1", "phone": "1111111111",
         "Contacts": {"records": [
            {"attributes": {"type": "Contact", "referenceId": "ref2"}, "lastname": "Smith", "title": "President", "email": "sample@salesforce.com"},
            {"attributes": {"type": "Contact", "referenceId": "ref3"}, "lastname": "Evans", "title": "Vice President", "email": email},
         ]}},
        {"attributes": {"type": "Account", "referenceId": "ref4"}, "name": "SampleAccount2"},
    ])
}

#[test]
fn tree_creates_nested_records_level_by_level_in_one_call() {
    let org = Org::start();
    let before = org.emulator.api_calls();
    let r = tree(&org, "Account", example_records("evans@example.com"));
    assert_eq!(r.status, 201, "{}", r.body);
    let body = r.json();
    assert_eq!(body["hasErrors"], false);
    let results = body["results"].as_array().expect("results");
    let refs: Vec<&str> = results
        .iter()
        .filter_map(|r| r["referenceId"].as_str())
        .collect();
    assert_eq!(refs, ["ref1", "ref4", "ref2", "ref3"]);
    let id = |i: usize| results[i]["id"].as_str().expect("id").to_string();
    assert!(id(0).starts_with("001") && id(2).starts_with("003"));
    let contacts = org.emulator.records("Contact");
    assert_eq!(contacts.len(), 2);
    assert!(contacts.iter().all(|c| c["AccountId"] == id(0).as_str()));
    assert_eq!(org.emulator.records("Account").len(), 2);
    assert_eq!(org.emulator.api_calls() - before, 1);
}

#[test]
fn tree_failure_writes_nothing_and_names_the_record() {
    let org = Org::start();
    let r = tree(&org, "Account", example_records("Not a real email address"));
    assert_eq!(r.status, 400, "{}", r.body);
    assert_eq!(
        r.json(),
        json!({"hasErrors": true, "results": [{"referenceId": "ref3", "errors": [
            {"statusCode": "INVALID_EMAIL_ADDRESS", "message": "Email: invalid email address: Not a real email address", "fields": ["Email"]}]}]})
    );
    assert!(org.emulator.records("Account").is_empty());
    assert!(org.emulator.records("Contact").is_empty());

    // Duplicate reference Ids: one entry for each.
    let r = tree(
        &org,
        "Account",
        json!([
            {"attributes": {"type": "Account", "referenceId": "same"}, "Name": "A"},
            {"attributes": {"type": "Account", "referenceId": "other"}, "Name": "B"},
            {"attributes": {"type": "Account", "referenceId": "same"}, "Name": "C"},
        ]),
    );
    assert_eq!(r.status, 400);
    let results = r.json()["results"].clone();
    assert_eq!(results.as_array().map(Vec::len), Some(2));
    assert_eq!(
        (
            &results[1]["referenceId"],
            &results[1]["errors"][0]["statusCode"]
        ),
        (&json!("same"), &json!("INVALID_INPUT"))
    );
    assert!(org.emulator.records("Account").is_empty());
}

#[test]
fn tree_limits_and_malformed_records() {
    let org = Org::start();
    let accounts = |n: usize| -> Value {
        (0..n)
            .map(|i| json!({"attributes": {"type": "Account", "referenceId": format!("a{i}")}, "Name": format!("A{i}")}))
            .collect()
    };
    let r = tree(&org, "Account", accounts(201));
    assert_eq!(
        (r.status, r.error_code()),
        (400, "EXCEEDED_ID_LIMIT".to_string())
    );
    // 200 in all, children included.
    let mut records = accounts(199);
    records[0]["Contacts"] = json!({"records": [
        {"attributes": {"type": "Contact", "referenceId": "c0"}, "LastName": "C0"},
        {"attributes": {"type": "Contact", "referenceId": "c1"}, "LastName": "C1"},
    ]});
    let r = tree(&org, "Account", records.clone());
    assert_eq!(
        (r.status, r.error_code()),
        (400, "EXCEEDED_ID_LIMIT".to_string())
    );
    assert!(org.emulator.records("Account").is_empty());
    records[0]["Contacts"]["records"]
        .as_array_mut()
        .expect("contacts")
        .pop();
    let r = tree(&org, "Account", records);
    assert_eq!(r.status, 201, "{}", r.body);
    assert_eq!(org.emulator.records("Account").len(), 199);

    // At most five objects: Account and five kinds of children make six.
    let child = |object: &str, reference: &str| json!({"records": [{"attributes": {"type": object, "referenceId": reference}}]});
    let r = tree(
        &org,
        "Account",
        json!([{"attributes": {"type": "Account", "referenceId": "root"}, "Name": "Six",
            "Contacts": child("Contact", "r1"), "Cases": child("Case", "r2"), "Tasks": child("Task", "r3"),
            "Attachments": child("Attachment", "r4"), "ContentDocumentLinks": child("ContentDocumentLink", "r5")}]),
    );
    assert_eq!(
        r.json(),
        json!([{"errorCode": "LIMIT_EXCEEDED", "message": "Limit Exceeded: the request has records of 6 objects, more than 5"}])
    );

    let malformed = |records: Value, message: &str| {
        let r = tree(&org, "Account", records);
        assert_eq!(
            (r.status, r.error_code(), r.json()[0]["message"].as_str()),
            (400, "INVALID_INPUT".to_string(), Some(message)),
            "{}",
            r.body
        );
    };
    malformed(
        json!([{"attributes": {"type": "Account"}, "Name": "No ref"}]),
        "records[0]: attributes.referenceId is required",
    );
    malformed(
        json!([{"attributes": {"type": "Lead", "referenceId": "l"}, "LastName": "L"}]),
        "records[0]: the record's type is Lead, where Account is expected",
    );
    malformed(
        json!([{"attributes": {"type": "Account", "referenceId": "a"}, "Name": "A",
            "Contacts": {"records": [{"attributes": {"referenceId": "c"}, "LastName": "C"}]}}]),
        "records[0].Contacts.records[0]: attributes.type is required",
    );
    assert_eq!(org.emulator.records("Account").len(), 199);
    assert_eq!(
        tree(&org, "Nope", accounts(1)).status,
        404,
        "an unknown object"
    );
}
