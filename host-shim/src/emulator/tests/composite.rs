//! Composite and sObject Collections.

use serde_json::{json, Value};

use super::{assert_shape, chat_id_seed, fixture, Org, V};

fn sub(method: &str, url: &str, reference: &str, body: Option<Value>) -> Value {
    let mut s = json!({"method": method, "url": format!("{V}{url}"), "referenceId": reference});
    if let Some(b) = body {
        s["body"] = b;
    }
    s
}

/// `n` query subrequests, `q0`, `q1`...
fn query_subs(n: usize) -> Vec<Value> {
    (0..n)
        .map(|i| {
            sub(
                "GET",
                "/query?q=SELECT+Id+FROM+Lead",
                &format!("q{i}"),
                None,
            )
        })
        .collect()
}

#[test]
fn composite_runs_subrequests_with_references_as_one_call() {
    let org = Org::start();
    let request = json!({"allOrNone": true, "compositeRequest": [
        sub("POST", "/sobjects/Account", "refAccount", Some(json!({"Name": "Sample Account"}))),
        sub("POST", "/sobjects/Contact", "refContact", Some(json!({"LastName": "Sample Contact", "AccountId": "@{refAccount.id}"}))),
        sub("GET", "/sobjects/Contact/@{refContact.id}?fields=AccountId", "refGet", None),
        sub("PATCH", "/sobjects/Contact/@{refContact.id}", "refPatch", Some(json!({"FirstName": "Ann"}))),
    ]});
    let r = org.send("POST", &format!("{V}/composite"), Some(&request));
    assert_eq!(r.status, 200, "{}", r.body);
    let body = r.json();
    let responses = body["compositeResponse"].as_array().expect("responses");
    assert_shape(
        &json!({"compositeResponse": &responses[..2]}),
        &fixture("composite_response_200.postman.json"),
        true,
        "composite",
    );
    let account = responses[0]["body"]["id"].as_str().expect("account");
    assert_eq!(
        responses[0]["httpHeaders"]["Location"],
        format!("{V}/sobjects/Account/{account}").as_str()
    );
    assert_eq!(responses[2]["body"]["AccountId"], account);
    assert_eq!(
        (
            responses[3]["httpStatusCode"].as_u64(),
            &responses[3]["body"]
        ),
        (Some(204), &Value::Null)
    );
    assert_eq!(
        org.emulator.records("Contact")[0]["Name"],
        "Ann Sample Contact"
    );
    assert_eq!(org.emulator.api_calls(), 1);
}

#[test]
fn all_or_none_rolls_back_and_halts_the_rest() {
    let org = Org::start();
    let request = json!({"allOrNone": true, "compositeRequest": [
        sub("POST", "/sobjects/Account", "refAccount", Some(json!({"Name": "Kept?"}))),
        sub("POST", "/sobjects/Contact", "refContact", Some(json!({"LastName": "C", "Email": "Not a real email address"}))),
        sub("POST", "/sobjects/Lead", "refLead", Some(json!({"LastName": "L", "Company": "C"}))),
    ]});
    let body = org
        .send("POST", &format!("{V}/composite"), Some(&request))
        .json();
    let r = &body["compositeResponse"];
    let halted = json!([{"errorCode": "PROCESSING_HALTED", "message": "The transaction was rolled back since another operation in the same transaction failed."}]);
    assert_eq!(
        (r[0]["httpStatusCode"].as_u64(), &r[0]["body"]),
        (Some(400), &halted)
    );
    assert_eq!(
        r[1]["body"],
        json!([{"errorCode": "INVALID_EMAIL_ADDRESS", "message": "Email: invalid email address: Not a real email address", "fields": ["Email"]}])
    );
    assert_eq!(
        (r[2]["httpStatusCode"].as_u64(), &r[2]["body"]),
        (Some(400), &halted)
    );
    assert_eq!(r[2]["referenceId"], "refLead");
    assert!(org.emulator.records("Account").is_empty(), "rolled back");

    // Without allOrNone, independent subrequests still run; dependents do not.
    let request = json!({"allOrNone": false, "compositeRequest": [
        sub("POST", "/sobjects/Contact", "bad", Some(json!({"Email": "x@y.z"}))),
        sub("POST", "/sobjects/Task", "dependent", Some(json!({"WhoId": "@{bad.id}"}))),
        sub("POST", "/sobjects/Account", "good", Some(json!({"Name": "Kept"}))),
    ]});
    let body = org
        .send("POST", &format!("{V}/composite"), Some(&request))
        .json();
    let r = &body["compositeResponse"];
    assert_eq!(r[0]["body"][0]["errorCode"], "REQUIRED_FIELD_MISSING");
    assert_eq!(r[1]["body"][0]["errorCode"], "PROCESSING_HALTED");
    assert_eq!(r[2]["httpStatusCode"], 201);
    assert_eq!(org.emulator.records("Account").len(), 1);
    assert!(org.emulator.records("Task").is_empty());
}

#[test]
fn composite_limits() {
    let org = Org::start();
    let many: Vec<Value> = (0..26)
        .map(|i| sub("GET", "/limits", &format!("r{i}"), None))
        .collect();
    let r = org.send(
        "POST",
        &format!("{V}/composite"),
        Some(&json!({"compositeRequest": many})),
    );
    assert_eq!(r.status, 400);
    let queries = query_subs(6);
    let r = org.send(
        "POST",
        &format!("{V}/composite"),
        Some(&json!({"compositeRequest": queries})),
    );
    assert_eq!(r.status, 400);
    let dup = vec![
        sub("GET", "/limits", "same", None),
        sub("GET", "/limits", "same", None),
    ];
    assert_eq!(
        org.send(
            "POST",
            &format!("{V}/composite"),
            Some(&json!({"compositeRequest": dup}))
        )
        .status,
        400
    );
    let nested = vec![sub(
        "POST",
        "/composite",
        "inner",
        Some(json!({"compositeRequest": []})),
    )];
    let body = org
        .send(
            "POST",
            &format!("{V}/composite"),
            Some(&json!({"compositeRequest": nested})),
        )
        .json();
    assert_eq!(body["compositeResponse"][0]["httpStatusCode"], 404);
}

#[test]
fn collections_create_update_retrieve_delete() {
    let org = Org::start();
    let create = json!({"allOrNone": false, "records": [
        {"attributes": {"type": "Account"}, "Name": "A"},
        {"attributes": {"type": "Contact"}, "LastName": "C"},
        {"attributes": {"type": "Lead"}, "LastName": "L"},
    ]});
    let r = org.send("POST", &format!("{V}/composite/sobjects"), Some(&create));
    assert_eq!(r.status, 200, "{}", r.body);
    let results = r.json();
    assert_shape(
        &json!(results.as_array().expect("array")[..2]),
        &fixture("sobject_collections_create_response_200.postman.json"),
        true,
        "create",
    );
    assert_eq!(
        results[2],
        json!({"success": false, "errors": [{"statusCode": "REQUIRED_FIELD_MISSING", "message": "Required fields are missing: [Company]", "fields": ["Company"]}]})
    );
    let account = results[0]["id"].as_str().expect("id").to_string();
    let contact = results[1]["id"].as_str().expect("id").to_string();
    assert_eq!(org.emulator.api_calls(), 1);

    let update = json!({"records": [
        {"attributes": {"type": "Account"}, "id": account, "Name": "A2"},
        {"attributes": {"type": "Contact"}, "LastName": "no id"},
    ]});
    let results = org
        .send("PATCH", &format!("{V}/composite/sobjects"), Some(&update))
        .json();
    assert_eq!(
        results[0],
        json!({"id": account, "success": true, "errors": []})
    );
    assert_eq!(results[1]["errors"][0]["statusCode"], "MISSING_ARGUMENT");

    let got = org
        .get(&format!(
            "{V}/composite/sobjects/Account?ids={account},001000000000zzzAAA&fields=Name"
        ))
        .json();
    assert_eq!(got[0]["Name"], "A2");
    assert_eq!(got[1], Value::Null);

    let r = org
        .send(
            "DELETE",
            &format!("{V}/composite/sobjects?ids={account},{contact},bogus&allOrNone=false"),
            None,
        )
        .json();
    assert_eq!(
        (r[0]["success"].as_bool(), r[1]["success"].as_bool()),
        (Some(true), Some(true))
    );
    assert_eq!(
        r[2]["errors"][0],
        json!({"statusCode": "MALFORMED_ID", "message": "malformed id bogus", "fields": []})
    );
    assert!(org.emulator.records("Account").is_empty());
}

#[test]
fn collections_all_or_none_and_limits() {
    let org = Org::start();
    let create = json!({"allOrNone": true, "records": [
        {"attributes": {"type": "Account"}, "Name": "A"},
        {"attributes": {"type": "Account"}},
    ]});
    let results = org
        .send("POST", &format!("{V}/composite/sobjects"), Some(&create))
        .json();
    assert_eq!(
        results[0]["errors"][0]["statusCode"],
        "ALL_OR_NONE_OPERATION_ROLLED_BACK"
    );
    assert_eq!(results[0]["success"], false);
    assert_eq!(
        results[1]["errors"][0]["statusCode"],
        "REQUIRED_FIELD_MISSING"
    );
    assert!(org.emulator.records("Account").is_empty());

    let records: Vec<Value> = (0..201)
        .map(|i| json!({"attributes": {"type": "Account"}, "Name": format!("A{i}")}))
        .collect();
    let r = org.send(
        "POST",
        &format!("{V}/composite/sobjects"),
        Some(&json!({"records": records})),
    );
    assert_eq!(
        (r.status, r.error_code()),
        (400, "EXCEEDED_ID_LIMIT".to_string())
    );
    let records: Vec<Value> = (0..200)
        .map(|i| json!({"attributes": {"type": "Account"}, "Name": format!("A{i}")}))
        .collect();
    let r = org.send(
        "POST",
        &format!("{V}/composite/sobjects"),
        Some(&json!({"records": records})),
    );
    assert_eq!(r.status, 200);
    assert_eq!(org.emulator.records("Account").len(), 200);
}

#[test]
fn collections_upsert_reports_created() {
    let org = Org::seeded(chat_id_seed(
        json!([{"type": "Lead", "LastName": "Old", "Company": "C", "Chat_Id__c": "c1"}]),
    ));
    let body = json!({"allOrNone": false, "records": [
        {"attributes": {"type": "Lead"}, "Chat_Id__c": "c1", "Title": "Updated"},
        {"attributes": {"type": "Lead"}, "Chat_Id__c": "c2", "LastName": "New", "Company": "C"},
        {"attributes": {"type": "Lead"}, "LastName": "No key"},
    ]});
    let r = org.send(
        "PATCH",
        &format!("{V}/composite/sobjects/Lead/Chat_Id__c"),
        Some(&body),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    let results = r.json();
    assert_shape(
        &json!([results[0].clone()]),
        &fixture("sobject_collections_upsert_response_200.postman.json"),
        true,
        "upsert",
    );
    assert_eq!(
        (
            results[0]["created"].as_bool(),
            results[1]["created"].as_bool()
        ),
        (Some(false), Some(true))
    );
    assert_eq!(results[2]["success"], false);
    let leads = org.emulator.records("Lead");
    assert_eq!(
        (leads.len(), leads[0]["Title"].as_str()),
        (2, Some("Updated"))
    );
}

#[test]
fn composite_can_carry_collections_and_roll_them_back() {
    let org = Org::start();
    let request = json!({"allOrNone": true, "compositeRequest": [
        sub("POST", "/composite/sobjects", "batch", Some(json!({"records": [{"attributes": {"type": "Account"}, "Name": "A"}]}))),
        sub("POST", "/sobjects/Lead", "bad", Some(json!({"LastName": "L"}))),
    ]});
    let body = org
        .send("POST", &format!("{V}/composite"), Some(&request))
        .json();
    assert_eq!(
        body["compositeResponse"][0]["body"][0]["errorCode"],
        "PROCESSING_HALTED"
    );
    assert!(org.emulator.records("Account").is_empty());
}

#[test]
fn graphs_are_each_all_or_nothing() {
    let org = Org::start();
    let request = json!({"graphs": [
        {"graphId": "graph1", "compositeRequest": [
            sub("POST", "/sobjects/Account", "newAccount", Some(json!({"Name": "Acme"}))),
            sub("POST", "/sobjects/Contact", "newContact", Some(json!({"LastName": "Doe", "AccountId": "@{newAccount.id}"}))),
        ]},
        {"graphId": "graph2", "compositeRequest": [
            sub("POST", "/sobjects/Account", "other", Some(json!({"Name": "Beta"}))),
            sub("POST", "/sobjects/Lead", "bad", Some(json!({"LastName": "L"}))),
        ]},
    ]});
    let r = org.send("POST", &format!("{V}/composite/graph"), Some(&request));
    assert_eq!(r.status, 200, "{}", r.body);
    let body = r.json();
    assert_shape(
        &json!({"graphs": [body["graphs"][0].clone()]}),
        &fixture("composite_graph_response_200.postman.json"),
        true,
        "graph",
    );
    assert_eq!(
        (
            body["graphs"][0]["isSuccessful"].as_bool(),
            body["graphs"][1]["isSuccessful"].as_bool()
        ),
        (Some(true), Some(false))
    );
    assert_eq!(
        body["graphs"][1]["graphResponse"]["compositeResponse"][0]["body"][0]["errorCode"],
        "PROCESSING_HALTED"
    );
    let accounts = org.emulator.records("Account");
    assert_eq!(
        (accounts.len(), accounts[0]["Name"].as_str()),
        (1, Some("Acme"))
    );
    assert_eq!(org.emulator.api_calls(), 1);
    let r = org.send(
        "POST",
        &format!("{V}/composite/graph"),
        Some(&json!({"graphs": [{"compositeRequest": []}]})),
    );
    assert_eq!(r.status, 400);
}

#[test]
fn rollback_restores_blobs() {
    let org = Org::start();
    let lead = org.create("Lead", json!({"LastName": "L", "Company": "C"}));
    let attachment = org.create(
        "Attachment",
        json!({"ParentId": lead, "Name": "a.txt", "Body": "b2xk"}),
    );
    let request = json!({"allOrNone": true, "compositeRequest": [
        sub("PATCH", &format!("/sobjects/Attachment/{attachment}"), "body", Some(json!({"Body": "bmV3"}))),
        sub("POST", "/sobjects/Lead", "bad", Some(json!({}))),
    ]});
    org.send("POST", &format!("{V}/composite"), Some(&request));
    let blob = org.get(&format!("{V}/sobjects/Attachment/{attachment}/Body"));
    assert_eq!(blob.body, "old");
    let request = json!({"compositeRequest": [sub("PATCH", &format!("/sobjects/Attachment/{attachment}"), "body", Some(json!({"Body": "bmV3"})))]});
    org.send("POST", &format!("{V}/composite"), Some(&request));
    assert_eq!(
        org.get(&format!("{V}/sobjects/Attachment/{attachment}/Body"))
            .body,
        "new"
    );
}

#[test]
fn composite_takes_exactly_25_subrequests_and_5_queries() {
    let org = Org::start();
    let mut subs = query_subs(5);
    subs.extend((5..25).map(|i| {
        sub(
            "POST",
            "/sobjects/Lead",
            &format!("l{i}"),
            Some(json!({"LastName": format!("L{i}"), "Company": "C"})),
        )
    }));
    let r = org.send(
        "POST",
        &format!("{V}/composite"),
        Some(&json!({"compositeRequest": subs})),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    let statuses: Vec<u64> = r.json()["compositeResponse"]
        .as_array()
        .expect("responses")
        .iter()
        .filter_map(|s| s["httpStatusCode"].as_u64())
        .collect();
    assert_eq!(statuses, [[200; 5].as_slice(), &[201; 20]].concat());
    assert_eq!(org.emulator.records("Lead").len(), 20);
    assert_eq!(org.emulator.api_calls(), 1);
}

#[test]
fn collections_retrieve_by_post_delete_all_or_none_and_the_id_limit() {
    let org = Org::start();
    let a = org.create("Account", json!({"Name": "A"}));
    let b = org.create("Account", json!({"Name": "B"}));
    let missing = "001000000000099AAA";
    let r = org.send(
        "POST",
        &format!("{V}/composite/sobjects/Account"),
        Some(&json!({"ids": [&b, missing, &a], "fields": ["Id", "Name"]})),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    let records = r.json();
    assert_eq!(
        (&records[0]["Name"], &records[1], &records[2]["Id"]),
        (&json!("B"), &Value::Null, &json!(a))
    );
    assert_eq!(records[0]["attributes"]["type"], "Account");

    // allOrNone: one bad id keeps every record.
    let r = org.send(
        "DELETE",
        &format!("{V}/composite/sobjects?ids={a},{missing}&allOrNone=true"),
        None,
    );
    let results = r.json();
    assert_eq!(
        (
            results[0]["errors"][0]["statusCode"].as_str(),
            results[1]["errors"][0]["statusCode"].as_str()
        ),
        (
            Some("ALL_OR_NONE_OPERATION_ROLLED_BACK"),
            Some("INVALID_CROSS_REFERENCE_KEY")
        )
    );
    assert_eq!(org.emulator.records("Account").len(), 2);
    let r = org.send(
        "DELETE",
        &format!("{V}/composite/sobjects?ids={a},{b}&allOrNone=true"),
        None,
    );
    assert!(r
        .json()
        .as_array()
        .is_some_and(|r| r.iter().all(|i| i["success"] == true)));
    assert!(org.emulator.records("Account").is_empty());

    let ids: Vec<String> = (0..201).map(|_| a.clone()).collect();
    let r = org.send(
        "DELETE",
        &format!("{V}/composite/sobjects?ids={}", ids.join(",")),
        None,
    );
    assert_eq!(
        (r.status, r.error_code()),
        (400, "EXCEEDED_ID_LIMIT".to_string())
    );
}

/// `n` copies of `id`, comma-separated.
fn id_list(id: &str, n: usize) -> String {
    vec![id; n].join(",")
}

#[test]
fn collections_retrieve_takes_800_ids_by_get_and_2000_by_post() {
    let org = Org::start();
    let a = org.create("Account", json!({"Name": "A"}));
    let get = |n: usize| {
        org.get(&format!(
            "{V}/composite/sobjects/Account?ids={}&fields=Name",
            id_list(&a, n)
        ))
    };
    let r = get(800);
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.json().as_array().map(Vec::len), Some(800));
    let r = get(801);
    assert_eq!(
        r.json(),
        json!([{"errorCode": "EXCEEDED_ID_LIMIT", "message": "record limit reached. cannot submit more than 800 records into this call"}])
    );
    assert_eq!(r.status, 400);

    let post = |n: usize| {
        let ids = vec![a.clone(); n];
        org.send(
            "POST",
            &format!("{V}/composite/sobjects/Account"),
            Some(&json!({"ids": ids, "fields": ["Name"]})),
        )
    };
    let r = post(2000);
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.json()[1999]["Name"], "A");
    let r = post(2001);
    assert_eq!(
        (r.status, r.json()[0]["message"].as_str()),
        (
            400,
            Some("record limit reached. cannot submit more than 2000 records into this call")
        )
    );

    // Writes stay at 200.
    let records: Vec<Value> = (0..201)
        .map(|_| json!({"attributes": {"type": "Account"}, "id": a, "Name": "B"}))
        .collect();
    let r = org.send(
        "PATCH",
        &format!("{V}/composite/sobjects"),
        Some(&json!({"records": records})),
    );
    assert_eq!(
        (r.status, r.error_code()),
        (400, "EXCEEDED_ID_LIMIT".to_string())
    );
}

#[test]
fn collections_update_answers_malformed_deleted_and_missing_ids_per_record() {
    let org = Org::start();
    let kept = org.create("Account", json!({"Name": "Kept"}));
    let gone = org.create("Account", json!({"Name": "Gone"}));
    assert_eq!(
        org.send("DELETE", &format!("{V}/sobjects/Account/{gone}"), None)
            .status,
        204
    );
    let update = json!({"allOrNone": false, "records": [
        {"attributes": {"type": "Account"}, "id": "001RM000003oLrB000", "Name": "X"},
        {"attributes": {"type": "Account"}, "id": gone, "Name": "X"},
        {"attributes": {"type": "Account"}, "id": "001000000000099AAA", "Name": "X"},
        {"attributes": {"type": "Account"}, "id": &kept[..15], "Name": "Renamed"},
    ]});
    let r = org.send("PATCH", &format!("{V}/composite/sobjects"), Some(&update));
    assert_eq!(r.status, 200, "{}", r.body);
    let results = r.json();
    assert_eq!(
        (&results[0]["success"], &results[0]["errors"]),
        (
            &json!(false),
            &json!([{"statusCode": "MALFORMED_ID", "message": "malformed id 001RM000003oLrB000", "fields": []}])
        )
    );
    assert_eq!(
        results[1]["errors"],
        json!([{"statusCode": "ENTITY_IS_DELETED", "message": "entity is deleted", "fields": []}])
    );
    assert_eq!(
        (
            results[2]["success"].as_bool(),
            results[2]["errors"][0]["statusCode"].as_str()
        ),
        (Some(false), Some("NOT_FOUND"))
    );
    // A 15-character Id is an Id: the answer carries its 18-character form.
    assert_eq!(
        results[3],
        json!({"id": kept, "success": true, "errors": []})
    );
    assert_eq!(org.emulator.records("Account")[0]["Name"], "Renamed");
}

#[test]
fn composite_counts_collections_among_its_five_queries() {
    let org = Org::start();
    let a = org.create("Account", json!({"Name": "A"}));
    let collections_get = sub(
        "GET",
        &format!("/composite/sobjects/Account?ids={a}&fields=Name"),
        "get",
        None,
    );
    let collections_create = sub(
        "POST",
        "/composite/sobjects",
        "create",
        Some(json!({"records": [{"attributes": {"type": "Account"}, "Name": "B"}]})),
    );
    let run = |extra: &Value, queries: usize| {
        let mut subs = query_subs(queries);
        subs.push(extra.clone());
        org.send(
            "POST",
            &format!("{V}/composite"),
            Some(&json!({"compositeRequest": subs})),
        )
    };
    let r = run(&collections_get, 4);
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.json()["compositeResponse"][4]["body"][0]["Name"], "A");
    for extra in [&collections_get, &collections_create] {
        let r = run(extra, 5);
        assert_eq!(
            r.json(),
            json!([{"errorCode": "LIMIT_EXCEEDED", "message": "Limit Exceeded: the composite request has more than 5 query or sObject Collections subrequests"}])
        );
        assert_eq!(r.status, 400);
    }
    assert_eq!(org.emulator.records("Account").len(), 1, "nothing ran");
}

/// A graph of `nodes` Leads, each created from the one before through a reference when
/// `chained`.
fn lead_graph(id: &str, nodes: usize, chained: bool) -> Value {
    let subs: Vec<Value> = (0..nodes)
        .map(|i| {
            let mut body = json!({"LastName": format!("L{i}"), "Company": "C"});
            if chained && i > 0 {
                body["Description"] = json!(format!("after @{{{id}n{}.id}}", i - 1));
            }
            sub("POST", "/sobjects/Lead", &format!("{id}n{i}"), Some(body))
        })
        .collect();
    json!({"graphId": id, "compositeRequest": subs})
}

fn post_graphs(org: &Org, graphs: Vec<Value>) -> super::Resp {
    org.send(
        "POST",
        &format!("{V}/composite/graph"),
        Some(&json!({"graphs": graphs})),
    )
}

#[test]
fn graph_limits_refuse_the_request_before_anything_runs() {
    let org = Org::start();
    let limit = |r: &super::Resp| {
        assert_eq!(r.status, 400, "{}", r.body);
        assert!(org.emulator.records("Lead").is_empty(), "nothing ran");
        (
            r.error_code(),
            r.json()[0]["message"]
                .as_str()
                .unwrap_or_default()
                .to_string(),
        )
    };

    // Depth: fifteen nodes each referring to the one before are fine, sixteen are not.
    let r = post_graphs(&org, vec![lead_graph("g", 16, true)]);
    assert_eq!(
        limit(&r),
        (
            "LIMIT_EXCEEDED".to_string(),
            "Limit Exceeded: graph g is 16 nodes deep, more than 15".to_string()
        )
    );
    // Nodes per request: 500 in all, whatever the graphs.
    let r = post_graphs(
        &org,
        vec![lead_graph("a", 250, false), lead_graph("b", 251, false)],
    );
    assert_eq!(
        limit(&r).1,
        "Limit Exceeded: the request has 501 nodes, more than 500"
    );
    // Different nodes: sixteen API versions of the same create.
    let versions: Vec<Value> = (47..=62)
        .map(|v| {
            json!({"graphId": format!("v{v}"), "compositeRequest": [{
                "method": "POST", "url": format!("/services/data/v{v}.0/sobjects/Lead"),
                "referenceId": "lead", "body": {"LastName": "L", "Company": "C"}}]})
        })
        .collect();
    let r = post_graphs(&org, versions.clone());
    assert_eq!(
        limit(&r).1,
        "Limit Exceeded: the request has 16 different nodes (API version, method, object), more than 15"
    );
    // A query is no graph node.
    let query = json!({"graphId": "q", "compositeRequest": [
        sub("POST", "/sobjects/Lead", "lead", Some(json!({"LastName": "L", "Company": "C"}))),
        sub("GET", "/query?q=SELECT+Id+FROM+Lead", "rows", None),
    ]});
    let r = post_graphs(&org, vec![query]);
    let (code, message) = limit(&r);
    assert_eq!(code, "INVALID_INPUT");
    assert!(
        message.starts_with(&format!(
            "Graph q, node rows: GET {V}/query?q=SELECT+Id+FROM+Lead is not supported in a composite graph."
        )),
        "{message}"
    );

    // At the limits, everything runs.
    let r = post_graphs(&org, vec![lead_graph("g", 15, true)]);
    assert_eq!(r.json()["graphs"][0]["isSuccessful"], true, "{}", r.body);
    let r = post_graphs(&org, versions[1..].to_vec());
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(org.emulator.records("Lead").len(), 30);
}

#[test]
fn graphs_after_the_fourteenth_failure_are_halted() {
    let org = Org::start();
    let bad = |i: usize| {
        json!({"graphId": format!("bad{i}"), "compositeRequest": [
            sub("POST", "/sobjects/Lead", "lead", Some(json!({"LastName": "No company"}))),
        ]})
    };
    let mut graphs: Vec<Value> = (0..13).map(bad).collect();
    graphs.push(lead_graph("early", 1, false));
    graphs.push(bad(13));
    graphs.push(lead_graph("late", 2, false));
    let r = post_graphs(&org, graphs);
    assert_eq!(r.status, 200, "{}", r.body);
    let body = r.json();
    let results = body["graphs"].as_array().expect("graphs");
    let successful: Vec<bool> = results
        .iter()
        .map(|g| g["isSuccessful"].as_bool().unwrap_or(true))
        .collect();
    assert!(successful[13], "13 failures do not halt");
    assert_eq!(
        successful.iter().filter(|ok| **ok).count(),
        1,
        "{successful:?}"
    );
    let late = &results[15]["graphResponse"]["compositeResponse"];
    assert_eq!(late.as_array().map(Vec::len), Some(2));
    for node in late.as_array().into_iter().flatten() {
        assert_eq!(
            (&node["httpStatusCode"], &node["body"][0]["errorCode"]),
            (&json!(400), &json!("PROCESSING_HALTED"))
        );
    }
    let leads = org.emulator.records("Lead");
    assert_eq!(
        (leads.len(), leads[0]["LastName"].as_str()),
        (1, Some("L0"))
    );
}
