//! Queries: paging and composite references into results. These need the SOQL module.

use serde_json::{json, Value};

use super::{assert_shape, fixture, Org, V};

/// The page's keys exactly, and each record's `attributes`.
fn assert_page_shape(ours: &Value, theirs: &Value) {
    let without_records = |v: &Value| {
        let mut v = v.clone();
        v["records"] = json!([]);
        v
    };
    assert_shape(
        &without_records(ours),
        &without_records(theirs),
        true,
        "page",
    );
    assert_shape(
        &ours["records"][0]["attributes"],
        &theirs["records"][0]["attributes"],
        true,
        "record",
    );
}

fn q(soql: &str) -> String {
    let encoded: String = form_urlencoded::byte_serialize(soql.as_bytes()).collect();
    format!("{V}/query?q={encoded}")
}

#[test]
fn queries_page_with_next_records_url() {
    let org = Org::start();
    let records: Vec<Value> = (0..250).map(|i| json!({"attributes": {"type": "Lead"}, "LastName": format!("L{i:03}"), "Company": "C"})).collect();
    assert_eq!(
        org.send(
            "POST",
            &format!("{V}/composite/sobjects"),
            Some(&json!({"records": &records[..200]}))
        )
        .status,
        200
    );
    assert_eq!(
        org.send(
            "POST",
            &format!("{V}/composite/sobjects"),
            Some(&json!({"records": &records[200..]}))
        )
        .status,
        200
    );

    let r = org.send_with(
        "GET",
        &q("SELECT Id, LastName FROM Lead"),
        None,
        &[("Sforce-Query-Options", "batchSize=200")],
    );
    assert_eq!(r.status, 200, "{}", r.body);
    let first = r.json();
    assert_page_shape(
        &first,
        &fixture("query_page1_not_done_nextRecordsUrl.restforce.json"),
    );
    assert_eq!(
        (first["totalSize"].as_u64(), first["done"].as_bool()),
        (Some(250), Some(false))
    );
    assert_eq!(first["records"].as_array().map(Vec::len), Some(200));
    let next = first["nextRecordsUrl"].as_str().expect("nextRecordsUrl");
    // `{query Id}-{offset}`, the query Id an 18-character Id as Salesforce's
    // (`01gD0000002HU6KIAW-2000`).
    let (query_id, offset) = next
        .strip_prefix(&format!("{V}/query/"))
        .and_then(|l| l.split_once('-'))
        .expect("locator");
    assert_eq!(offset, "200");
    assert!(query_id.starts_with("01g"), "{next}");
    assert_eq!(
        crate::emulator::ids::normalize(query_id).as_deref(),
        Some(query_id)
    );
    let second = org.get(next).json();
    assert_page_shape(&second, &fixture("query_page2_done.restforce.json"));
    assert_eq!(
        (second["totalSize"].as_u64(), second["done"].as_bool()),
        (Some(250), Some(true))
    );
    assert_eq!(second["records"].as_array().map(Vec::len), Some(50));
    assert_eq!(second["records"][49]["LastName"], "L249");
    assert_eq!(second["records"][0]["attributes"]["type"], "Lead");

    let all = org
        .get(&q("SELECT Id FROM Lead").replace("/query?", "/queryAll?"))
        .json();
    assert_eq!(
        (
            all["done"].as_bool(),
            all["records"].as_array().map(Vec::len)
        ),
        (Some(true), Some(250))
    );
    assert_eq!(
        org.get(&format!("{V}/query/01gnope-200")).error_code(),
        "INVALID_QUERY_LOCATOR"
    );
    assert_eq!(
        org.get(&q("SELEKT Id FROM Lead")).error_code(),
        "MALFORMED_QUERY"
    );
    assert_eq!(
        org.get(&format!("{V}/query")).error_code(),
        "MALFORMED_QUERY"
    );
}

#[test]
fn composite_references_query_results() {
    let org = Org::start();
    let account = org.create("Account", json!({"Name": "Acme"}));
    let request = json!({"allOrNone": true, "compositeRequest": [
        {"method": "GET", "url": format!("{V}/query?q=SELECT+Id+FROM+Account+WHERE+Name+=+'Acme'"), "referenceId": "refQuery"},
        {"method": "POST", "url": format!("{V}/sobjects/Contact"), "referenceId": "refContact",
         "body": {"LastName": "Doe", "AccountId": "@{refQuery.records[0].Id}"}},
    ]});
    let body = org
        .send("POST", &format!("{V}/composite"), Some(&request))
        .json();
    assert_eq!(
        body["compositeResponse"][1]["httpStatusCode"], 201,
        "{body}"
    );
    assert_eq!(
        org.emulator.records("Contact")[0]["AccountId"],
        account.as_str()
    );
}

#[test]
fn query_results_have_the_fixture_shape_for_relationships() {
    let org = Org::start();
    let account = org.create("Account", json!({"Name": "Acme"}));
    org.create("Contact", json!({"LastName": "Doe", "AccountId": account}));
    let r = org.get(&q(
        "SELECT Name, Account.Name, (SELECT Subject FROM Tasks) FROM Contact",
    ));
    assert_eq!(r.status, 200, "{}", r.body);
    let body = r.json();
    assert_eq!(body["records"][0]["Account"]["Name"], "Acme");
    assert_eq!(
        body["records"][0]["Account"]["attributes"]["type"],
        "Account"
    );
    let theirs = fixture("query_response_with_parent_and_child_relationships.restforce.json");
    assert_page_shape(&body, &theirs);
    let record = &body["records"][0];
    assert_shape(
        &record["Account"]["attributes"],
        &theirs["records"][0]["ParentWhizbang__r"]["attributes"],
        true,
        "parent",
    );
    assert_eq!(record["Tasks"], Value::Null, "no children: null");
    let task = org.create("Task", json!({"Subject": "Chat", "WhoId": body["records"][0]["attributes"]["url"].as_str().and_then(|u| u.rsplit('/').next())}));
    let body = org
        .get(&q(
            "SELECT Name, Account.Name, (SELECT Subject FROM Tasks) FROM Contact",
        ))
        .json();
    assert_page_shape(
        &body["records"][0]["Tasks"],
        &theirs["records"][0]["Whizbangs__r"],
    );
    assert_eq!(
        body["records"][0]["Tasks"]["records"][0]["attributes"]["url"],
        format!("{V}/sobjects/Task/{task}").as_str()
    );
}

#[test]
fn query_all_returns_deleted_records_and_query_does_not() {
    let org = Org::start();
    let kept = org.create("Lead", json!({"LastName": "Kept", "Company": "C"}));
    let gone = org.create("Lead", json!({"LastName": "Gone", "Company": "C"}));
    assert_eq!(
        org.send("DELETE", &format!("{V}/sobjects/Lead/{gone}"), None)
            .status,
        204
    );
    let soql = "SELECT Id, IsDeleted FROM Lead ORDER BY LastName";
    let rows = |path: String| -> Vec<(String, Value)> {
        let page = org.get(&path).json();
        page["records"]
            .as_array()
            .expect("records")
            .iter()
            .map(|r| {
                (
                    r["Id"].as_str().unwrap_or_default().to_string(),
                    r["IsDeleted"].clone(),
                )
            })
            .collect()
    };
    assert_eq!(rows(q(soql)), vec![(kept.clone(), json!(false))]);
    let all = q(soql).replace("/query?", "/queryAll?");
    assert_eq!(
        rows(all),
        vec![(gone.clone(), json!(true)), (kept, json!(false))]
    );
    let count = |path: String| org.get(&path).json()["totalSize"].clone();
    let soql = "SELECT COUNT() FROM Lead WHERE IsDeleted = true";
    assert_eq!(count(q(soql)), 0);
    assert_eq!(count(q(soql).replace("/query?", "/queryAll?")), 1);
    // A deleted record is still gone for everything else.
    assert_eq!(
        org.get(&format!("{V}/sobjects/Lead/{gone}")).error_code(),
        "ENTITY_IS_DELETED"
    );
}

#[test]
fn accounts_and_contacts_are_owned_by_users_cases_and_leads_also_by_queues() {
    let org = Org::start();
    let account = org.create("Account", json!({"Name": "Acme"}));
    org.create("Contact", json!({"LastName": "Doe", "AccountId": account}));
    org.create("Case", json!({"Subject": "Help"}));
    org.create("Lead", json!({"LastName": "Roe", "Company": "Acme"}));
    for (object, owners, owner_type) in [
        ("Account", json!(["User"]), "User"),
        ("Contact", json!(["User"]), "User"),
        ("Case", json!(["Group", "User"]), "Name"),
        ("Lead", json!(["Group", "User"]), "Name"),
    ] {
        let describe = org.get(&format!("{V}/sobjects/{object}/describe")).json();
        let owner = describe["fields"]
            .as_array()
            .and_then(|f| f.iter().find(|f| f["name"] == "OwnerId"))
            .cloned()
            .expect("OwnerId");
        assert_eq!(owner["referenceTo"], owners, "{object}");
        let row = &org
            .get(&q(&format!("SELECT Owner.Name FROM {object}")))
            .json()["records"][0];
        // A polymorphic parent comes back as the `Name` pseudo-object, a User as a User.
        assert_eq!(
            row["Owner"]["attributes"]["type"], owner_type,
            "{object}: {row}"
        );
        assert!(row["Owner"]["Name"].is_string(), "{object}: {row}");
    }
}
