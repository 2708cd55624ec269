//! Composite batch.

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
