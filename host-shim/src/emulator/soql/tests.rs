//! End-to-end tests of `execute` over a small org: Account, Contact, Lead, Case, Task, User,
//! Group and ContentDocumentLink, with parent and child relationships.

use serde_json::{json, Value};

use super::{execute, execute_at, ids, Catalog, FieldInfo, QueryRows, Record, SoqlError};

/// 2026-11-24T12:00:00Z: "today" for relative date literals.
const NOW_MS: i64 = 1_795_521_600_000;

struct Object {
    name: &'static str,
    fields: Vec<FieldInfo>,
    /// (relationship name, child object, child's reference field)
    children: Vec<(&'static str, &'static str, &'static str)>,
}

struct Org {
    objects: Vec<Object>,
    records: Vec<(&'static str, Record)>,
}

fn field(name: &str, kind: &str) -> FieldInfo {
    FieldInfo {
        name: name.into(),
        kind: kind.into(),
        reference_to: vec![],
        relationship_name: None,
    }
}

fn reference(name: &str, to: &[&str], relationship: &str) -> FieldInfo {
    FieldInfo {
        name: name.into(),
        kind: "reference".into(),
        reference_to: to.iter().map(|s| s.to_string()).collect(),
        relationship_name: Some(relationship.into()),
    }
}

/// The 18-character form of a 15-character id.
fn id18(id15: &str) -> String {
    format!("{id15}{}", ids::checksum(id15))
}

// Ids with mixed case, so that case-sensitivity of the 15-character part is tested.
const USER_ADA: &str = "005Aa0000000001";
const USER_BOB: &str = "005Aa0000000002";
const QUEUE: &str = "00GAa0000000001";
const ACME: &str = "001Aa0000000001";
const GLOBEX: &str = "001Aa0000000002";
const JANE: &str = "003Aa0000000001";
const JOHN: &str = "003Aa0000000002";
const OBRIEN: &str = "003Aa0000000003";
const LEE: &str = "00QAa0000000001";
const LOU: &str = "00QAa0000000002";
const CASE1: &str = "500Aa0000000001";
const CASE2: &str = "500Aa0000000002";
const CASE3: &str = "500Aa0000000003";
const DOC: &str = "069Aa0000000001";

fn org() -> Org {
    let std_fields = |extra: Vec<FieldInfo>| {
        let mut fields = vec![field("Id", "id"), field("CreatedDate", "datetime")];
        fields.extend(extra);
        fields
    };
    let objects = vec![
        Object {
            name: "User",
            fields: std_fields(vec![
                field("Name", "string"),
                field("Email", "email"),
                field("IsActive", "boolean"),
                field("Username", "string"),
            ]),
            children: vec![],
        },
        Object {
            name: "Group",
            fields: std_fields(vec![
                field("Name", "string"),
                field("Type", "picklist"),
                field("IsActive", "boolean"),
            ]),
            children: vec![],
        },
        Object {
            name: "Account",
            fields: std_fields(vec![
                field("Name", "string"),
                field("Industry", "picklist"),
                field("AnnualRevenue", "currency"),
                field("NumberOfEmployees", "int"),
                reference("OwnerId", &["User"], "Owner"),
            ]),
            children: vec![
                ("Contacts", "Contact", "AccountId"),
                ("Cases", "Case", "AccountId"),
            ],
        },
        Object {
            name: "Contact",
            fields: std_fields(vec![
                field("FirstName", "string"),
                field("LastName", "string"),
                field("Name", "string"),
                field("Email", "email"),
                field("Birthdate", "date"),
                field("HasOptedOutOfEmail", "boolean"),
                field("Description", "textarea"),
                reference("AccountId", &["Account"], "Account"),
                reference("OwnerId", &["User"], "Owner"),
            ]),
            children: vec![("Cases", "Case", "ContactId"), ("Tasks", "Task", "WhoId")],
        },
        Object {
            name: "Lead",
            fields: std_fields(vec![
                field("LastName", "string"),
                field("Name", "string"),
                field("Company", "string"),
                field("Email", "email"),
                field("Status", "picklist"),
                reference("OwnerId", &["Group", "User"], "Owner"),
            ]),
            children: vec![
                ("Tasks", "Task", "WhoId"),
                (
                    "ContentDocumentLinks",
                    "ContentDocumentLink",
                    "LinkedEntityId",
                ),
            ],
        },
        Object {
            name: "Case",
            fields: std_fields(vec![
                field("CaseNumber", "string"),
                field("Subject", "string"),
                reference("ContactId", &["Contact"], "Contact"),
                reference("AccountId", &["Account"], "Account"),
                reference("OwnerId", &["Group", "User"], "Owner"),
            ]),
            children: vec![],
        },
        Object {
            name: "Task",
            fields: std_fields(vec![
                field("Subject", "combobox"),
                field("ActivityDate", "date"),
                reference("WhoId", &["Contact", "Lead"], "Who"),
                reference("WhatId", &["Account", "Case"], "What"),
            ]),
            children: vec![],
        },
        Object {
            name: "ContentDocumentLink",
            fields: vec![
                field("Id", "id"),
                reference("ContentDocumentId", &["ContentDocument"], "ContentDocument"),
                reference(
                    "LinkedEntityId",
                    &["Account", "Contact", "Lead", "Case", "User"],
                    "LinkedEntity",
                ),
                field("ShareType", "picklist"),
            ],
            children: vec![],
        },
    ];
    let record = |object: &'static str, value: Value| {
        let Value::Object(mut map) = value else {
            unreachable!()
        };
        let id = map["Id"].as_str().unwrap().to_string();
        map.insert("Id".into(), Value::String(id18(&id)));
        for (_, v) in map.iter_mut() {
            // References are stored in the 18-character form, like the core does.
            if let Some(s) = v
                .as_str()
                .filter(|s| s.len() == 15 && ids::parse(s).is_some() && s.contains("Aa"))
            {
                *v = Value::String(id18(s));
            }
        }
        (object, map)
    };
    let records = vec![
        record(
            "User",
            json!({"Id": USER_ADA, "Name": "Ada Admin", "Email": "ada@example.com", "IsActive": true}),
        ),
        record(
            "User",
            json!({"Id": USER_BOB, "Name": "Bob Gone", "Email": "bob@example.com", "IsActive": false}),
        ),
        record(
            "Group",
            json!({"Id": QUEUE, "Name": "Support Queue", "Type": "Queue"}),
        ),
        record(
            "Account",
            json!({"Id": ACME, "Name": "Acme", "Industry": "Tech", "AnnualRevenue": 1_000_000.0,
            "NumberOfEmployees": 50, "OwnerId": USER_ADA, "CreatedDate": "2026-11-20T09:00:00.000+0000"}),
        ),
        record(
            "Account",
            json!({"Id": GLOBEX, "Name": "Globex", "Industry": null, "AnnualRevenue": 2500.5,
            "NumberOfEmployees": 5, "OwnerId": USER_BOB, "CreatedDate": "2026-11-21T09:00:00.000+0000"}),
        ),
        record(
            "Contact",
            json!({"Id": JANE, "FirstName": "Jane", "LastName": "Doe", "Name": "Jane Doe",
            "Email": "jane@example.com", "AccountId": ACME, "OwnerId": USER_ADA, "Birthdate": "1990-05-01",
            "HasOptedOutOfEmail": false, "CreatedDate": "2026-11-24T10:00:00.000+0000"}),
        ),
        record(
            "Contact",
            json!({"Id": JOHN, "FirstName": "John", "LastName": "smith", "Name": "John smith",
            "Email": "John.Smith@Example.com", "AccountId": GLOBEX, "OwnerId": USER_BOB, "Birthdate": null,
            "HasOptedOutOfEmail": true, "CreatedDate": "2026-11-23T08:00:00.000+0000"}),
        ),
        record(
            "Contact",
            json!({"Id": OBRIEN, "FirstName": null, "LastName": "O'Brien", "Name": "O'Brien",
            "Email": null, "AccountId": null, "OwnerId": USER_ADA, "Birthdate": "1985-12-31",
            "HasOptedOutOfEmail": false, "Description": "50% off_sale \\ today",
            "CreatedDate": "2026-11-10T23:30:00.000+0000"}),
        ),
        record(
            "Lead",
            json!({"Id": LEE, "LastName": "Lee", "Name": "Lee", "Company": "Initech",
            "Email": "lee@initech.com", "Status": "Open", "OwnerId": QUEUE, "CreatedDate": "2026-11-24T01:00:00.000+0000"}),
        ),
        record(
            "Lead",
            json!({"Id": LOU, "LastName": "Lou", "Name": "Lou", "Company": "Umbrella",
            "Email": "lou@umbrella.com", "Status": "Working", "OwnerId": USER_ADA, "CreatedDate": "2026-11-01T00:00:00.000+0000"}),
        ),
        record(
            "Case",
            json!({"Id": CASE1, "CaseNumber": "00001001", "Subject": "Login broken", "ContactId": JANE,
            "AccountId": ACME, "OwnerId": QUEUE, "CreatedDate": "2026-11-20T10:00:00.000+0000"}),
        ),
        record(
            "Case",
            json!({"Id": CASE2, "CaseNumber": "00001002", "Subject": "Billing question", "ContactId": JANE,
            "AccountId": ACME, "OwnerId": USER_ADA, "CreatedDate": "2026-11-22T10:00:00.000+0000"}),
        ),
        record(
            "Case",
            json!({"Id": CASE3, "CaseNumber": "00001003", "Subject": "Other", "ContactId": JOHN,
            "AccountId": GLOBEX, "OwnerId": USER_BOB, "CreatedDate": "2026-11-21T10:00:00.000+0000"}),
        ),
        record(
            "Task",
            json!({"Id": "00TAa0000000001", "Subject": "Call", "WhoId": JANE, "WhatId": ACME,
            "ActivityDate": "2026-11-24", "CreatedDate": "2026-11-24T11:00:00.000+0000"}),
        ),
        record(
            "Task",
            json!({"Id": "00TAa0000000002", "Subject": "Chat transcript", "WhoId": LEE, "WhatId": null,
            "ActivityDate": "2026-11-23", "CreatedDate": "2026-11-23T11:00:00.000+0000"}),
        ),
        record(
            "Task",
            json!({"Id": "00TAa0000000003", "Subject": "Orphan", "WhoId": null, "WhatId": null,
            "ActivityDate": null, "CreatedDate": "2026-10-01T11:00:00.000+0000"}),
        ),
        record(
            "ContentDocumentLink",
            json!({"Id": "06AAa0000000001", "ContentDocumentId": DOC,
            "LinkedEntityId": LEE, "ShareType": "V"}),
        ),
    ];
    Org { objects, records }
}

impl Org {
    fn def(&self, object: &str) -> Option<&Object> {
        self.objects.iter().find(|o| o.name == object)
    }
}

impl Catalog for Org {
    fn object(&self, name: &str) -> Option<String> {
        let object = self
            .objects
            .iter()
            .find(|o| o.name.eq_ignore_ascii_case(name))?;
        Some(object.name.to_string())
    }

    fn field(&self, object: &str, field: &str) -> Option<FieldInfo> {
        let def = self.def(object)?;
        def.fields
            .iter()
            .find(|f| f.name.eq_ignore_ascii_case(field))
            .cloned()
    }

    fn parent_relationship(&self, object: &str, relationship: &str) -> Option<FieldInfo> {
        let def = self.def(object)?;
        let found = def.fields.iter().find(|f| {
            f.relationship_name
                .as_deref()
                .is_some_and(|r| r.eq_ignore_ascii_case(relationship))
        });
        found.cloned()
    }

    fn child_relationship(&self, object: &str, relationship: &str) -> Option<(String, String)> {
        let def = self.def(object)?;
        let (_, child, field) = def
            .children
            .iter()
            .find(|c| c.0.eq_ignore_ascii_case(relationship))?;
        Some((child.to_string(), field.to_string()))
    }

    fn child_relationship_name(&self, object: &str, relationship: &str) -> Option<String> {
        let def = self.def(object)?;
        let (name, _, _) = def
            .children
            .iter()
            .find(|c| c.0.eq_ignore_ascii_case(relationship))?;
        Some(name.to_string())
    }

    fn records(&self, object: &str) -> Vec<&Record> {
        self.records
            .iter()
            .filter(|(o, _)| *o == object)
            .map(|(_, r)| r)
            .collect()
    }

    fn record_by_id(&self, id: &str) -> Option<(String, &Record)> {
        let key = ids::key(id);
        let (object, record) = self
            .records
            .iter()
            .find(|(_, r)| r["Id"].as_str().is_some_and(|own| ids::key(own) == key))?;
        Some((object.to_string(), record))
    }
}

fn run(soql: &str) -> Result<QueryRows, SoqlError> {
    execute_at(&org(), soql, "v62.0", NOW_MS)
}

fn rows(soql: &str) -> Vec<Value> {
    match run(soql) {
        Ok(result) => result.records,
        Err(e) => panic!("{soql}: {} {}", e.error_code, e.message),
    }
}

/// One field of every row, as text.
fn column(soql: &str, field: &str) -> Vec<String> {
    rows(soql)
        .iter()
        .map(|r| match &r[field] {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        })
        .collect()
}

fn err(soql: &str) -> SoqlError {
    match run(soql) {
        Ok(result) => panic!("{soql}: expected an error, got {:?}", result.records),
        Err(e) => e,
    }
}

/// The last line of an error: the message without the position layout.
fn err_text(soql: &str) -> (&'static str, String) {
    let e = err(soql);
    (
        e.error_code,
        e.message.rsplit('\n').next().unwrap().to_string(),
    )
}

fn url(object: &str, id15: &str) -> String {
    format!("/services/data/v62.0/sobjects/{object}/{}", id18(id15))
}

// ---- shapes -------------------------------------------------------------------------------

#[test]
fn rows_carry_attributes_and_canonical_names() {
    let result = run("select id, lastname, EMAIL from contact where lastname = 'doe'").unwrap();
    assert_eq!(result.object, "Contact");
    assert_eq!(
        result.records,
        vec![json!({
            "attributes": {"type": "Contact", "url": url("Contact", JANE)},
            "Id": id18(JANE),
            "LastName": "Doe",
            "Email": "jane@example.com",
        })]
    );
}

#[test]
fn unsorted_rows_come_in_creation_order_and_missing_values_are_null() {
    let all = rows("SELECT FirstName FROM Contact");
    assert_eq!(all.len(), 3);
    assert_eq!(all[2]["FirstName"], Value::Null);
    assert_eq!(
        column("SELECT Name FROM Account", "Name"),
        ["Acme", "Globex"]
    );
}

#[test]
fn public_execute_uses_the_real_clock() {
    // Task dates around the machine's today: only the one dated today is TODAY.
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;
    let day = |offset: i64| {
        let (y, m, d) = super::temporal::civil_from_days(now.div_euclid(86_400_000) + offset);
        format!("{y:04}-{m:02}-{d:02}")
    };
    let mut org = org();
    for (i, (_, task)) in org
        .records
        .iter_mut()
        .filter(|(o, _)| *o == "Task")
        .enumerate()
    {
        task.insert("ActivityDate".into(), json!(day(i as i64 - 1)));
    }
    let result = execute(
        &org,
        "SELECT Subject FROM Task WHERE ActivityDate = TODAY",
        "v62.0",
    )
    .unwrap();
    assert_eq!(result.records.len(), 1, "{:?}", result.records);
    assert_eq!(result.records[0]["Subject"], "Chat transcript");
}

// ---- WHERE --------------------------------------------------------------------------------

#[test]
fn string_equality_ignores_case() {
    assert_eq!(
        column(
            "SELECT Name FROM Contact WHERE Email = 'JOHN.smith@example.COM'",
            "Name"
        ),
        ["John smith"]
    );
    assert_eq!(
        column(
            "SELECT Name FROM Contact WHERE Email IN ('JANE@example.com', 'x')",
            "Name"
        ),
        ["Jane Doe"]
    );
}

#[test]
fn not_equal_in_both_spellings_keeps_nulls() {
    let expected = ["John smith", "O'Brien"];
    assert_eq!(
        column(
            "SELECT Name FROM Contact WHERE Email != 'jane@example.com'",
            "Name"
        ),
        expected
    );
    assert_eq!(
        column(
            "SELECT Name FROM Contact WHERE Email <> 'jane@example.com'",
            "Name"
        ),
        expected
    );
}

#[test]
fn null_comparisons() {
    assert_eq!(
        column("SELECT Name FROM Contact WHERE Email = null", "Name"),
        ["O'Brien"]
    );
    assert_eq!(
        column("SELECT Name FROM Contact WHERE Email != NULL", "Name"),
        ["Jane Doe", "John smith"]
    );
    // An empty string literal is null: Salesforce stores no empty strings.
    assert_eq!(
        column("SELECT Name FROM Contact WHERE Email = ''", "Name"),
        ["O'Brien"]
    );
    // Ordering comparisons never match nulls.
    assert_eq!(
        column(
            "SELECT Name FROM Contact WHERE Birthdate < 2000-01-01",
            "Name"
        ),
        ["Jane Doe", "O'Brien"]
    );
    assert_eq!(
        column(
            "SELECT Name FROM Contact WHERE Email IN (null, 'jane@example.com')",
            "Name"
        ),
        ["Jane Doe", "O'Brien"]
    );
}

#[test]
fn and_or_not_and_parentheses() {
    let q = "SELECT Name FROM Contact WHERE (LastName = 'Doe' OR LastName = 'Smith') AND NOT Email = null";
    assert_eq!(column(q, "Name"), ["Jane Doe", "John smith"]);
    let q = "SELECT Name FROM Contact WHERE NOT (LastName = 'Doe' OR (LastName = 'Smith' AND HasOptedOutOfEmail = true))";
    assert_eq!(column(q, "Name"), ["O'Brien"]);
    let q = "SELECT Name FROM Contact WHERE LastName = 'Doe' OR LastName = 'Smith' OR Email = null";
    assert_eq!(column(q, "Name").len(), 3);
}

#[test]
fn mixing_and_with_or_needs_parentheses() {
    let (code, text) =
        err_text("SELECT Id FROM Contact WHERE LastName = 'Doe' AND Email = null OR Name = 'x'");
    assert_eq!(
        (code, text.as_str()),
        ("MALFORMED_QUERY", "unexpected token: 'OR'")
    );
}

#[test]
fn in_and_not_in_with_strings_numbers_and_ids() {
    assert_eq!(
        column(
            "SELECT Name FROM Account WHERE NumberOfEmployees IN (5, 7)",
            "Name"
        ),
        ["Globex"]
    );
    assert_eq!(
        column(
            "SELECT Name FROM Account WHERE NumberOfEmployees NOT IN (5)",
            "Name"
        ),
        ["Acme"]
    );
    let q = format!(
        "SELECT Name FROM Contact WHERE Id IN ('{JANE}', '{}')",
        id18(JOHN)
    );
    assert_eq!(column(&q, "Name"), ["Jane Doe", "John smith"]);
    let q = format!("SELECT Name FROM Contact WHERE AccountId NOT IN ('{ACME}')");
    assert_eq!(column(&q, "Name"), ["John smith", "O'Brien"]);
    assert_eq!(
        column("SELECT Name FROM Lead WHERE Status not in ('open')", "Name"),
        ["Lou"]
    );
}

#[test]
fn ids_compare_on_their_case_sensitive_15_characters() {
    let by = |id: &str| {
        column(
            &format!("SELECT Name FROM Contact WHERE Id = '{id}'"),
            "Name",
        )
    };
    assert_eq!(by(JANE), ["Jane Doe"]);
    assert_eq!(by(&id18(JANE)), ["Jane Doe"]);
    assert_eq!(
        by(&id18(JANE).to_uppercase()[..15].replace("AA", "Aa")),
        ["Jane Doe"]
    );
    // The checksum is case-insensitive, the 15 characters are not.
    assert_eq!(
        by(&format!("{JANE}{}", ids::checksum(JANE).to_lowercase())),
        ["Jane Doe"]
    );
    assert!(by(&JANE.to_lowercase()).is_empty());
    assert!(by(&JANE.to_uppercase()).is_empty());
}

#[test]
fn malformed_ids_are_refused() {
    let (code, text) = err_text("SELECT Id FROM Contact WHERE Id = 'abc'");
    assert_eq!(
        (code, text.as_str()),
        ("INVALID_QUERY_FILTER_OPERATOR", "invalid ID field: abc")
    );
    let wrong_checksum = format!("SELECT Id FROM Contact WHERE AccountId IN ('{ACME}AAA')");
    assert_eq!(
        err(&wrong_checksum).error_code,
        "INVALID_QUERY_FILTER_OPERATOR"
    );
}

#[test]
fn like_wildcards_escapes_and_case() {
    assert_eq!(
        column(
            "SELECT Name FROM Contact WHERE Email LIKE '%@EXAMPLE.com'",
            "Name"
        ),
        ["Jane Doe", "John smith"]
    );
    assert_eq!(
        column("SELECT Name FROM Contact WHERE LastName LIKE 'd_e'", "Name"),
        ["Jane Doe"]
    );
    assert_eq!(
        column(
            r"SELECT Name FROM Contact WHERE Description LIKE '50\% off\_%'",
            "Name"
        ),
        ["O'Brien"]
    );
    assert!(column(
        r"SELECT Name FROM Contact WHERE Description LIKE '50\%off%'",
        "Name"
    )
    .is_empty());
    assert!(column(
        r"SELECT Name FROM Contact WHERE Description LIKE '50\_%'",
        "Name"
    )
    .is_empty());
    assert_eq!(
        column(
            r"SELECT Name FROM Contact WHERE Description LIKE '%\\%'",
            "Name"
        ),
        ["O'Brien"]
    );
    assert_eq!(
        column("SELECT Name FROM Contact WHERE NOT Name LIKE 'j%'", "Name"),
        ["O'Brien"]
    );
}

#[test]
fn like_is_only_for_text() {
    let (code, text) = err_text(&format!(
        "SELECT Id FROM Contact WHERE AccountId LIKE '{ACME}'"
    ));
    assert_eq!(
        (code, text.as_str()),
        (
            "INVALID_QUERY_FILTER_OPERATOR",
            "invalid operator on id field"
        )
    );
}

#[test]
fn string_escapes_decode() {
    assert_eq!(
        column(
            r"SELECT Name FROM Contact WHERE LastName = 'O\'Brien'",
            "Name"
        ),
        ["O'Brien"]
    );
    assert_eq!(
        column(
            r"SELECT Name FROM Contact WHERE LastName = 'O\u0027brien'",
            "Name"
        ),
        ["O'Brien"]
    );
    assert!(column(
        r"SELECT Name FROM Contact WHERE LastName = 'O\\Brien'",
        "Name"
    )
    .is_empty());
}

#[test]
fn numbers_compare_numerically() {
    assert_eq!(
        column(
            "SELECT Name FROM Account WHERE NumberOfEmployees > 5",
            "Name"
        ),
        ["Acme"]
    );
    assert_eq!(
        column(
            "SELECT Name FROM Account WHERE NumberOfEmployees >= 5",
            "Name"
        ),
        ["Acme", "Globex"]
    );
    assert_eq!(
        column(
            "SELECT Name FROM Account WHERE NumberOfEmployees <= 5.0",
            "Name"
        ),
        ["Globex"]
    );
    assert_eq!(
        column(
            "SELECT Name FROM Account WHERE AnnualRevenue < 2500.6",
            "Name"
        ),
        ["Globex"]
    );
    assert_eq!(
        column("SELECT Name FROM Account WHERE AnnualRevenue > -1", "Name"),
        ["Acme", "Globex"]
    );
    assert_eq!(
        column(
            "SELECT Name FROM Account WHERE AnnualRevenue = 1000000",
            "Name"
        ),
        ["Acme"]
    );
}

#[test]
fn booleans() {
    // An unset checkbox is false, in filters and in rows; a missing parent stays null.
    let q = "SELECT Name, Account.Name FROM Contact WHERE Account.Owner.IsActive = false";
    assert_eq!(column(q, "Name"), ["John smith"]);
    let q = "SELECT Name, IsActive FROM Group WHERE IsActive = false";
    assert_eq!(rows(q)[0]["IsActive"], json!(false));
    assert!(column("SELECT Name FROM Group WHERE IsActive = null", "Name").is_empty());
    assert_eq!(
        column("SELECT Name FROM User WHERE IsActive = TRUE", "Name"),
        ["Ada Admin"]
    );
    assert_eq!(
        column("SELECT Name FROM User WHERE IsActive != true", "Name"),
        ["Bob Gone"]
    );
    assert_eq!(
        column(
            "SELECT Name FROM Contact WHERE HasOptedOutOfEmail = false",
            "Name"
        ),
        ["Jane Doe", "O'Brien"]
    );
}

#[test]
fn dates_and_datetimes_in_every_literal_form() {
    assert_eq!(
        column(
            "SELECT Name FROM Contact WHERE Birthdate = 1990-05-01",
            "Name"
        ),
        ["Jane Doe"]
    );
    assert_eq!(
        column(
            "SELECT Name FROM Contact WHERE Birthdate > 1986-01-01",
            "Name"
        ),
        ["Jane Doe"]
    );
    for literal in [
        "2026-11-24T10:00:00Z",
        "2026-11-24T11:00:00+01:00",
        "2026-11-24T10:00:00.000+0000",
        "2026-11-24T06:00:00-04:00",
    ] {
        let q = format!("SELECT Name FROM Contact WHERE CreatedDate = {literal}");
        assert_eq!(column(&q, "Name"), ["Jane Doe"], "{literal}");
    }
    let q = "SELECT Name FROM Contact WHERE CreatedDate >= 2026-11-23T08:00:00Z AND CreatedDate < 2026-11-24T10:00:00Z";
    assert_eq!(column(q, "Name"), ["John smith"]);
}

#[test]
fn relative_date_literals() {
    // Now is 2026-11-24T12:00Z, a Tuesday.
    let names = |filter: &str| column(&format!("SELECT Name FROM Contact WHERE {filter}"), "Name");
    assert_eq!(names("CreatedDate = THIS_WEEK"), ["Jane Doe", "John smith"]);
    assert_eq!(names("CreatedDate = N_DAYS_AGO:14"), ["O'Brien"]);
    assert_eq!(names("CreatedDate = this_month").len(), 3);
    assert!(names("CreatedDate < THIS_MONTH").is_empty());
    // [1986-01-01, 2026-01-01): O'Brien, born 1985-12-31, is just before.
    assert_eq!(names("Birthdate = LAST_N_YEARS:40"), ["Jane Doe"]);
    assert_eq!(names("Birthdate < LAST_N_YEARS:40"), ["O'Brien"]);
    assert_eq!(
        err_text("SELECT Id FROM Contact WHERE CreatedDate = THIS_DAY").1,
        "unexpected token: 'THIS_DAY'"
    );
    assert_eq!(
        column("SELECT Name FROM Contact WHERE CreatedDate = TODAY", "Name"),
        ["Jane Doe"]
    );
    assert_eq!(
        column(
            "SELECT Name FROM Contact WHERE CreatedDate = YESTERDAY",
            "Name"
        ),
        ["John smith"]
    );
    assert_eq!(
        column(
            "SELECT Name FROM Contact WHERE CreatedDate < YESTERDAY",
            "Name"
        ),
        ["O'Brien"]
    );
    assert_eq!(
        column(
            "SELECT Name FROM Contact WHERE CreatedDate > YESTERDAY",
            "Name"
        ),
        ["Jane Doe"]
    );
    assert_eq!(
        column(
            "SELECT Name FROM Contact WHERE CreatedDate <= YESTERDAY",
            "Name"
        ),
        ["John smith", "O'Brien"]
    );
    assert_eq!(
        column(
            "SELECT Name FROM Contact WHERE CreatedDate >= yesterday",
            "Name"
        ),
        ["Jane Doe", "John smith"]
    );
    assert_eq!(
        column(
            "SELECT Name FROM Contact WHERE CreatedDate = LAST_N_DAYS:1",
            "Name"
        ),
        ["Jane Doe", "John smith"]
    );
    assert_eq!(
        column(
            "SELECT Name FROM Contact WHERE CreatedDate = LAST_N_DAYS:14",
            "Name"
        )
        .len(),
        3
    );
    assert!(column(
        "SELECT Name FROM Contact WHERE CreatedDate = TOMORROW",
        "Name"
    )
    .is_empty());
    assert!(column(
        "SELECT Name FROM Contact WHERE CreatedDate = NEXT_N_DAYS:3",
        "Name"
    )
    .is_empty());
    assert_eq!(
        column(
            "SELECT Subject FROM Task WHERE ActivityDate = TODAY",
            "Subject"
        ),
        ["Call"]
    );
    assert_eq!(
        column(
            "SELECT Subject FROM Task WHERE ActivityDate < TODAY",
            "Subject"
        ),
        ["Chat transcript"]
    );
}

// ---- ORDER BY, LIMIT, OFFSET --------------------------------------------------------------

#[test]
fn order_by_directions_and_nulls() {
    // Text sorts ignoring case; nulls first by default in either direction.
    assert_eq!(
        column("SELECT Name FROM Contact ORDER BY LastName", "Name"),
        ["Jane Doe", "O'Brien", "John smith"]
    );
    assert_eq!(
        column("SELECT Name FROM Contact ORDER BY FirstName", "Name"),
        ["O'Brien", "Jane Doe", "John smith"]
    );
    assert_eq!(
        column("SELECT Name FROM Contact ORDER BY FirstName DESC", "Name"),
        ["O'Brien", "John smith", "Jane Doe"]
    );
    assert_eq!(
        column(
            "SELECT Name FROM Contact ORDER BY FirstName DESC NULLS LAST",
            "Name"
        ),
        ["John smith", "Jane Doe", "O'Brien"]
    );
    assert_eq!(
        column(
            "SELECT Name FROM Contact ORDER BY FirstName ASC NULLS FIRST",
            "Name"
        ),
        ["O'Brien", "Jane Doe", "John smith"]
    );
}

#[test]
fn order_by_several_keys_and_parent_fields() {
    let q = "SELECT CaseNumber FROM Case ORDER BY Account.Name DESC, CreatedDate";
    assert_eq!(
        column(q, "CaseNumber"),
        ["00001003", "00001001", "00001002"]
    );
    let q = "SELECT Name FROM Contact ORDER BY HasOptedOutOfEmail DESC, Birthdate DESC NULLS LAST";
    assert_eq!(column(q, "Name"), ["John smith", "Jane Doe", "O'Brien"]);
}

#[test]
fn limit_and_offset() {
    assert_eq!(
        column("SELECT Name FROM Contact ORDER BY Name LIMIT 2", "Name"),
        ["Jane Doe", "John smith"]
    );
    assert_eq!(
        column(
            "SELECT Name FROM Contact ORDER BY Name LIMIT 1 OFFSET 1",
            "Name"
        ),
        ["John smith"]
    );
    assert_eq!(
        column("SELECT Name FROM Contact ORDER BY Name OFFSET 2", "Name"),
        ["O'Brien"]
    );
    assert!(column("SELECT Name FROM Contact LIMIT 0", "Name").is_empty());
    assert!(column("SELECT Name FROM Contact OFFSET 2000", "Name").is_empty());
    let e = err("SELECT Name FROM Contact OFFSET 2001");
    assert_eq!(
        (e.error_code, e.message.as_str()),
        (
            "NUMBER_OUTSIDE_VALID_RANGE",
            "Maximum SOQL offset allowed is 2000"
        )
    );
    let (code, text) = err_text("SELECT Name FROM Contact LIMIT 2147483648");
    assert_eq!(
        (code, text.as_str()),
        ("MALFORMED_QUERY", "numeric value out of range: 2147483648")
    );
    assert_eq!(
        err_text("SELECT Name FROM Contact LIMIT -1").1,
        "unexpected token: '-1'"
    );
    assert_eq!(
        err_text("SELECT Name FROM Contact LIMIT 1 ORDER BY Name").1,
        "unexpected token: 'ORDER'"
    );
}

#[test]
fn paths_may_start_with_the_object_or_its_alias() {
    let q = "SELECT c.Name, Contact.Email, c.Account.Name FROM Contact c WHERE c.LastName = 'Doe' ORDER BY c.Name";
    let row = &rows(q)[0];
    assert_eq!(
        (&row["Name"], &row["Email"]),
        (&json!("Jane Doe"), &json!("jane@example.com"))
    );
    assert_eq!(row["Account"]["Name"], "Acme");
    assert_eq!(
        err("SELECT c.Name, Name FROM Contact c").error_code,
        "INVALID_FIELD"
    );
    assert_eq!(err_text("SELECT x.Name FROM Contact c").0, "INVALID_FIELD");
    assert_eq!(
        err_text("SELECT Name FROM Contact c d").1,
        "unexpected token: 'd'"
    );
    // A relationship named like the object wins over the qualifier.
    assert_eq!(rows("SELECT Account.Name FROM Account")[0]["Name"], "Acme");
}

#[test]
fn count_answers_a_number_and_no_rows() {
    let counted = |soql: &str| {
        let result = run(soql).unwrap();
        assert!(result.records.is_empty(), "{soql}");
        result.count
    };
    assert_eq!(counted("SELECT COUNT() FROM Contact"), Some(3));
    assert_eq!(
        counted("select count ( ) from contact where Email != null"),
        Some(2)
    );
    assert_eq!(counted("SELECT COUNT() FROM Contact LIMIT 1"), Some(1));
    assert_eq!(
        counted("SELECT COUNT() FROM Contact WHERE Account.Name = 'nobody'"),
        Some(0)
    );
    assert_eq!(run("SELECT Id FROM Contact").unwrap().count, None);
    assert_eq!(
        err_text("SELECT COUNT(), Id FROM Contact").1,
        "unexpected token: ','"
    );
    assert_eq!(
        err_text("SELECT Id, COUNT() FROM Contact").1,
        "unexpected token: '('"
    );
    assert_eq!(
        err_text("SELECT Id, (SELECT COUNT() FROM Cases) FROM Contact").1,
        "unexpected token: '('"
    );
    assert_eq!(err_text("SELECT COUNT() FROM Foo").0, "INVALID_TYPE");
    assert_eq!(err_text("SELECT COUNT FROM Contact").0, "INVALID_FIELD");
}

#[test]
fn semi_joins() {
    let q = "SELECT Name FROM Contact WHERE Id IN (SELECT ContactId FROM Case WHERE Subject LIKE '%o%')";
    assert_eq!(column(q, "Name"), ["Jane Doe", "John smith"]);
    let q = "SELECT Name FROM Contact WHERE Id NOT IN (SELECT WhoId FROM Task)";
    assert_eq!(column(q, "Name"), ["John smith", "O'Brien"]);
    // A null reference is in no sub-select.
    let q = "SELECT Name FROM Contact WHERE AccountId NOT IN (SELECT AccountId FROM Case WHERE CaseNumber = '00001003')";
    assert_eq!(column(q, "Name"), ["Jane Doe", "O'Brien"]);
    let q = "SELECT Name FROM Account WHERE Id IN (SELECT AccountId FROM Contact WHERE LastName = 'Doe') AND Name != null";
    assert_eq!(column(q, "Name"), ["Acme"]);
    // The sub-select's LIMIT and ORDER BY apply.
    let q = "SELECT Name FROM Contact WHERE Id IN (SELECT ContactId FROM Case ORDER BY CreatedDate DESC LIMIT 1)";
    assert_eq!(column(q, "Name"), ["Jane Doe"]);
}

#[test]
fn semi_join_errors() {
    let malformed = |q: &str| {
        let (code, text) = err_text(q);
        assert_eq!(code, "MALFORMED_QUERY", "{q}");
        text
    };
    assert!(
        malformed("SELECT Id FROM Contact WHERE Name IN (SELECT Subject FROM Case)")
            .starts_with("semi join on 'Name'")
    );
    assert!(
        malformed("SELECT Id FROM Contact WHERE Id IN (SELECT Subject FROM Case)")
            .starts_with("a semi join sub-select must select exactly one")
    );
    assert!(
        malformed("SELECT Id FROM Contact WHERE Id IN (SELECT Id, ContactId FROM Case)")
            .starts_with("a semi join sub-select must select exactly one")
    );
    assert_eq!(
        malformed("SELECT Id FROM Contact WHERE Id IN (SELECT ContactId FROM Case WHERE AccountId IN (SELECT Id FROM Account))"),
        "Nesting of semi join sub-selects is not supported"
    );
    assert_eq!(
        err_text("SELECT Id FROM Contact WHERE Id IN (SELECT Id FROM Nope)").0,
        "INVALID_TYPE"
    );
    assert_eq!(
        err_text("SELECT Id FROM Contact WHERE Id IN (SELECT Nope FROM Case)").0,
        "INVALID_FIELD"
    );
    assert_eq!(
        err_text("SELECT Id FROM Contact WHERE Id IN (SELECT ContactId FROM Case").1,
        "expecting a right parentheses, found '<EOF>'"
    );
}

// ---- relationships ------------------------------------------------------------------------

#[test]
fn parent_fields_nest_with_attributes_and_merge() {
    let row = &rows("SELECT Name, Account.Name, Account.Industry, Account.Owner.Name FROM Contact WHERE LastName = 'Doe'")[0];
    assert_eq!(
        row["Account"],
        json!({
            "attributes": {"type": "Account", "url": url("Account", ACME)},
            "Name": "Acme",
            "Industry": "Tech",
            "Owner": {"attributes": {"type": "User", "url": url("User", USER_ADA)}, "Name": "Ada Admin"},
        })
    );
}

#[test]
fn missing_parent_is_null() {
    let row =
        &rows("SELECT Account.Name, Account.Owner.Name FROM Contact WHERE LastName = 'O\\'Brien'")
            [0];
    assert_eq!(row["Account"], Value::Null);
    let row =
        &rows("SELECT Account.Owner.Name, Account.Name FROM Contact WHERE LastName = 'O\\'Brien'")
            [0];
    assert_eq!(row["Account"], Value::Null);
}

#[test]
fn polymorphic_parents_read_through_the_name_object() {
    let q = "SELECT Subject, Who.Name, Who.Type, Who.Email FROM Task ORDER BY CreatedDate DESC";
    let all = rows(q);
    assert_eq!(
        all[0]["Who"],
        json!({"attributes": {"type": "Name", "url": url("Contact", JANE)},
               "Name": "Jane Doe", "Type": "Contact", "Email": "jane@example.com"})
    );
    assert_eq!(
        all[1]["Who"],
        json!({"attributes": {"type": "Name", "url": url("Lead", LEE)},
               "Name": "Lee", "Type": "Lead", "Email": "lee@initech.com"})
    );
    assert_eq!(all[2]["Who"], Value::Null);
    // Owner on a Case is User or Group.
    assert_eq!(
        column("SELECT Owner.Name FROM Case ORDER BY CaseNumber", "Owner")
            .iter()
            .map(|o| serde_json::from_str::<Value>(o).unwrap()["Name"].clone())
            .collect::<Vec<_>>(),
        [
            json!("Support Queue"),
            json!("Ada Admin"),
            json!("Bob Gone")
        ]
    );
    assert_eq!(
        column(
            "SELECT CaseNumber FROM Case WHERE Owner.Type = 'Queue'",
            "CaseNumber"
        ),
        ["00001001"]
    );
    assert_eq!(
        column(
            "SELECT CaseNumber FROM Case WHERE Owner.Type = 'User'",
            "CaseNumber"
        ),
        ["00001002", "00001003"]
    );
    let (code, text) = err_text("SELECT Who.Company FROM Task");
    assert_eq!(code, "INVALID_FIELD");
    assert!(
        text.starts_with("No such column 'Company' on entity 'Name'."),
        "{text}"
    );
    let (code, text) = err_text("SELECT Who.Account.Name FROM Task");
    assert_eq!(code, "INVALID_FIELD");
    assert!(
        text.starts_with("Didn't understand relationship 'Account' in field path."),
        "{text}"
    );
}

#[test]
fn parent_fields_filter() {
    assert_eq!(
        column(
            "SELECT Name FROM Contact WHERE Account.Name = 'ACME'",
            "Name"
        ),
        ["Jane Doe"]
    );
    assert_eq!(
        column(
            "SELECT Name FROM Contact WHERE Account.Owner.IsActive = false",
            "Name"
        ),
        ["John smith"]
    );
    assert_eq!(
        column(
            "SELECT Subject FROM Task WHERE Who.Type = 'Lead'",
            "Subject"
        ),
        ["Chat transcript"]
    );
    assert_eq!(
        column(
            "SELECT Subject FROM Task WHERE Who.Name LIKE 'jane%'",
            "Subject"
        ),
        ["Call"]
    );
    // A missing parent reads as null.
    assert_eq!(
        column("SELECT Name FROM Contact WHERE Account.Name = null", "Name"),
        ["O'Brien"]
    );
    assert_eq!(
        column(
            "SELECT Name FROM Contact WHERE Account.Name != 'Acme'",
            "Name"
        ),
        ["John smith", "O'Brien"]
    );
}

#[test]
fn child_subqueries() {
    let q = format!(
        "SELECT Id, Name, (SELECT Id, CaseNumber, Subject FROM Cases ORDER BY CreatedDate DESC LIMIT 5) FROM Contact WHERE Id IN ('{JANE}', '{OBRIEN}') ORDER BY Name"
    );
    let all = rows(&q);
    assert_eq!(
        all[0]["Cases"],
        json!({"totalSize": 2, "done": true, "records": [
            {"attributes": {"type": "Case", "url": url("Case", CASE2)}, "Id": id18(CASE2), "CaseNumber": "00001002", "Subject": "Billing question"},
            {"attributes": {"type": "Case", "url": url("Case", CASE1)}, "Id": id18(CASE1), "CaseNumber": "00001001", "Subject": "Login broken"},
        ]})
    );
    assert_eq!(all[1]["Cases"], Value::Null);
}

#[test]
fn subqueries_filter_limit_and_answer_the_canonical_name() {
    let q = "SELECT Name, (select subject from CASES where Subject like 'login%') FROM Account ORDER BY Name";
    let all = rows(q);
    assert_eq!(all[0]["Cases"]["totalSize"], 1);
    assert_eq!(all[0]["Cases"]["records"][0]["Subject"], "Login broken");
    assert_eq!(all[1]["Cases"], Value::Null);
    let q = "SELECT Name, (SELECT Subject FROM Tasks LIMIT 1) FROM Lead";
    assert_eq!(
        rows(q)[0]["Tasks"]["records"][0]["Subject"],
        "Chat transcript"
    );
    let q = "SELECT Name, (SELECT Name FROM Contacts ORDER BY Name OFFSET 1) FROM Account WHERE Name = 'Acme'";
    assert_eq!(rows(q)[0]["Contacts"], Value::Null);
}

#[test]
fn subquery_errors() {
    let (code, text) = err_text("SELECT Id, (SELECT Id FROM Casez) FROM Contact");
    assert_eq!(code, "INVALID_TYPE");
    assert_eq!(text, "Didn't understand relationship 'Casez' in FROM part of query call. If you are attempting to use a custom relationship, be sure to append the '__r' after the custom relationship name. Please reference your WSDL or the describe call for the appropriate names.");
    let (code, text) = err_text("SELECT Id, (SELECT Nope FROM Cases) FROM Contact");
    assert_eq!(code, "INVALID_FIELD");
    assert!(text.starts_with("No such column 'Nope' on entity 'Case'."));
    assert_eq!(
        err_text("SELECT Id, (SELECT Id, (SELECT Id FROM Tasks) FROM Cases) FROM Contact").1,
        "unexpected token: '('"
    );
    assert_eq!(
        err_text("SELECT Id, (SELECT Id FROM Cases FROM Contact").1,
        "expecting a right parentheses, found 'FROM'"
    );
}

// ---- errors -------------------------------------------------------------------------------

#[test]
fn syntax_error_has_salesforces_layout() {
    let e = err("SELECT Id, CreatedDate, LastModifiedById, LastModifiedDate, From Account ");
    assert_eq!(e.error_code, "MALFORMED_QUERY");
    assert_eq!(
        e.message,
        "\nLastModifiedById, LastModifiedDate, From Account \n                                    ^\nERROR at Row:1:Column:61\nunexpected token: 'From'"
    );
    assert_eq!(err_text("SELECT Id FROM").1, "unexpected token: '<EOF>'");
    assert_eq!(
        err_text("SELECT FROM Contact").1,
        "unexpected token: 'FROM'"
    );
    assert_eq!(
        err_text("SELECT Id FROM Contact WHERE").1,
        "unexpected token: '<EOF>'"
    );
    assert_eq!(
        err_text("SELECT Id FROM Contact WHERE Name = ").1,
        "unexpected token: '<EOF>'"
    );
    // A token is quoted as written, quotes and all.
    assert_eq!(
        err_text("SELECT Id FROM Contact WHERE Name 'x'").1,
        "unexpected token: ''x''"
    );
    assert_eq!(
        err_text("SELECT Id FROM Contact WHERE Name = \"x\"").1,
        "unexpected token: '\"'"
    );
    assert_eq!(
        err_text("SELECT Id FROM Contact WHERE Name = 'x' extra").1,
        "unexpected token: 'extra'"
    );
    assert_eq!(
        err_text("SELECT Id FROM Contact WHERE (Name = 'x'").1,
        "expecting a right parentheses, found '<EOF>'"
    );
    assert_eq!(
        err_text("SELECT Id FROM Contact WHERE Name IN 'x'").1,
        "unexpected token: ''x''"
    );
    assert_eq!(
        err_text("SELECT Id FROM Contact WHERE CreatedDate = LAST_N_DAYS 3").1,
        "unexpected token: '3'"
    );
    assert_eq!(
        err_text("SELECT Id FROM Contact WHERE Birthdate = 2026-02-30").1,
        "unexpected token: '2026-02-30'"
    );
    assert_eq!(
        err_text("SELECT Id FROM Contact ORDER Name").1,
        "unexpected token: 'Name'"
    );
    assert_eq!(err_text("").1, "unexpected token: '<EOF>'");
}

#[test]
fn unknown_field_is_invalid_field_with_salesforces_wording() {
    let e = err("SELECT Id, Emial FROM Contact");
    assert_eq!(e.error_code, "INVALID_FIELD");
    assert_eq!(
        e.message,
        "\nSELECT Id, Emial FROM Contact\n           ^\nERROR at Row:1:Column:12\nNo such column 'Emial' on entity 'Contact'. If you are attempting to use a custom field, be sure to append the '__c' after the custom field name. Please reference your WSDL or the describe call for the appropriate names."
    );
    assert_eq!(
        err("SELECT Id FROM Contact WHERE Emial = 'x'").error_code,
        "INVALID_FIELD"
    );
    assert_eq!(
        err("SELECT Id FROM Contact ORDER BY Emial").error_code,
        "INVALID_FIELD"
    );
    let (code, text) = err_text("SELECT Account.Nmae FROM Contact");
    assert_eq!(code, "INVALID_FIELD");
    assert!(
        text.starts_with("No such column 'Nmae' on entity 'Account'."),
        "{text}"
    );
    let (code, text) = err_text("SELECT Acount.Name FROM Contact");
    assert_eq!(code, "INVALID_FIELD");
    assert_eq!(text, "Didn't understand relationship 'Acount' in field path. If you are attempting to use a custom relationship, be sure to append the '__r' after the custom relationship name. Please reference your WSDL or the describe call for the appropriate names.");
}

#[test]
fn unknown_object_is_invalid_type() {
    let e = err("SELECT Id FROM Foo");
    assert_eq!(e.error_code, "INVALID_TYPE");
    assert_eq!(
        e.message,
        "\nSELECT Id FROM Foo\n               ^\nERROR at Row:1:Column:16\nsObject type 'Foo' is not supported. If you are attempting to use a custom object, be sure to append the '__c' after the entity name. Please reference your WSDL or the describe call for the appropriate names."
    );
    // The object is checked before the fields.
    assert_eq!(err("SELECT Nope FROM Foo").error_code, "INVALID_TYPE");
}

#[test]
fn illegal_escapes_and_stray_quotes_are_malformed() {
    let (code, text) = err_text(r"SELECT Id FROM Contact WHERE Name = 'a\qb'");
    assert_eq!(code, "MALFORMED_QUERY");
    assert_eq!(
        text,
        r"Invalid string literal 'a\qb'. Illegal character sequence '\q' in string literal."
    );
    assert!(err(r"SELECT Id FROM Contact WHERE Name = 'a\qb'")
        .message
        .contains("ERROR at Row:1:Column:39\n"));
    // `\%` and `\_` belong to LIKE only.
    assert_eq!(
        err(r"SELECT Id FROM Contact WHERE Name = '50\%'").error_code,
        "MALFORMED_QUERY"
    );
    assert_eq!(
        err(r"SELECT Id FROM Contact WHERE Name IN ('a\_')").error_code,
        "MALFORMED_QUERY"
    );
    assert_eq!(
        err(r"SELECT Id FROM Contact WHERE Name = 'caf\u00'").error_code,
        "MALFORMED_QUERY"
    );
    // An unescaped quote ends the literal early.
    assert_eq!(
        err_text("SELECT Id FROM Contact WHERE Name = 'Bob's BBQ'"),
        ("MALFORMED_QUERY", "unexpected token: 's'".into())
    );
    assert_eq!(
        err_text("SELECT Id FROM Contact WHERE Name = 'Bob").1,
        "unterminated string literal"
    );
    assert_eq!(
        err_text(r"SELECT Id FROM Contact WHERE Name = 'Bob\'").1,
        "unterminated string literal"
    );
}

#[test]
fn values_of_the_wrong_type() {
    let cases = [
        ("Email = 5", "value of filter criterion for field 'Email' must be of type string and should be enclosed in quotes"),
        ("CreatedDate > '2026-11-24T10:00:00Z'", "value of filter criterion for field 'CreatedDate' must be of type dateTime and should not be enclosed in quotes"),
        ("CreatedDate > 2026-11-24", "value of filter criterion for field 'CreatedDate' must be of type dateTime and should not be enclosed in quotes"),
        ("Birthdate = '1990-05-01'", "value of filter criterion for field 'Birthdate' must be of type date and should not be enclosed in quotes"),
        ("HasOptedOutOfEmail = 'true'", "value of filter criterion for field 'HasOptedOutOfEmail' must be of type boolean and should not be enclosed in quotes"),
        ("Account.Name = true", "value of filter criterion for field 'Account.Name' must be of type string and should be enclosed in quotes"),
        ("Id IN ('003000000000001', 5)", "value of filter criterion for field 'Id' must be of type id and should be enclosed in quotes"),
        ("Account.NumberOfEmployees = '5'", "value of filter criterion for field 'Account.NumberOfEmployees' must be of type double and should not be enclosed in quotes"),
    ];
    for (filter, expected) in cases {
        let (code, text) = err_text(&format!("SELECT Id FROM Contact WHERE {filter}"));
        assert_eq!(
            (code, text.as_str()),
            ("INVALID_FIELD", expected),
            "{filter}"
        );
    }
}

#[test]
fn duplicate_fields_are_refused() {
    let e = err("SELECT Id, Name, id FROM Contact");
    assert_eq!(
        (e.error_code, e.message.as_str()),
        ("INVALID_FIELD", "duplicate field selected: id")
    );
    assert_eq!(
        err("SELECT Account.Name, account.name FROM Contact").error_code,
        "INVALID_FIELD"
    );
    assert_eq!(
        err("SELECT (SELECT Id FROM Cases), (SELECT Id FROM cases) FROM Contact").error_code,
        "INVALID_FIELD"
    );
}

#[test]
fn content_document_link_needs_a_document_or_entity_filter() {
    let restriction = "Implementation restriction: ContentDocumentLink requires a filter by a single Id on ContentDocumentId or LinkedEntityId using the equals operator or multiple Id's using the IN operator.";
    for q in [
        "SELECT Id FROM ContentDocumentLink".to_string(),
        "SELECT Id FROM ContentDocumentLink WHERE ShareType = 'V'".to_string(),
        format!("SELECT Id FROM ContentDocumentLink WHERE LinkedEntityId != '{LEE}'"),
        format!(
            "SELECT Id FROM ContentDocumentLink WHERE LinkedEntityId = '{LEE}' OR ShareType = 'V'"
        ),
        "SELECT Id FROM ContentDocumentLink WHERE LinkedEntityId = null".to_string(),
    ] {
        let e = err(&q);
        assert_eq!(
            (e.error_code, e.message.as_str()),
            ("MALFORMED_QUERY", restriction),
            "{q}"
        );
    }
    for q in [
        format!("SELECT Id, ShareType FROM ContentDocumentLink WHERE LinkedEntityId = '{LEE}'"),
        format!("SELECT Id FROM ContentDocumentLink WHERE ContentDocumentId IN ('{DOC}') AND ShareType = 'V'"),
    ] {
        assert_eq!(rows(&q).len(), 1, "{q}");
    }
    // Through a sub-query the parent already restricts the links.
    let q = format!(
        "SELECT Id, (SELECT ShareType FROM ContentDocumentLinks) FROM Lead WHERE Id = '{LEE}'"
    );
    assert_eq!(rows(&q).len(), 1);
}

#[test]
fn reserved_words_may_name_objects_and_follow_dots() {
    assert_eq!(column("SELECT Name FROM Group", "Name"), ["Support Queue"]);
    let (code, text) = err_text("SELECT Id FROM Where");
    assert_eq!(code, "INVALID_TYPE");
    assert!(text.starts_with("sObject type 'Where' is not supported."));
    let (code, text) = err_text("SELECT Account.Group FROM Contact");
    assert_eq!(code, "INVALID_FIELD");
    assert!(text.starts_with("No such column 'Group' on entity 'Account'."));
    assert_eq!(
        err_text("SELECT Group FROM Contact").1,
        "unexpected token: 'Group'"
    );
}

#[test]
fn access_modes_and_for_clauses_are_accepted() {
    let q = "SELECT Name FROM Contact WHERE LastName = 'Doe' WITH SECURITY_ENFORCED ORDER BY Name LIMIT 1 FOR VIEW";
    assert_eq!(column(q, "Name"), ["Jane Doe"]);
    assert_eq!(
        column("SELECT Name FROM Account with user_mode", "Name").len(),
        2
    );
    assert_eq!(
        column("SELECT Name FROM Account LIMIT 1 FOR UPDATE", "Name").len(),
        1
    );
    assert_eq!(
        err_text("SELECT Name FROM Account WITH DATA CATEGORY").1,
        "unexpected token: 'DATA'"
    );
    assert_eq!(
        err_text("SELECT Name FROM Account FOR SHARE").1,
        "unexpected token: 'SHARE'"
    );
    assert_eq!(
        err_text("SELECT Name FROM Account ORDER BY Name WITH USER_MODE").1,
        "unexpected token: 'WITH'"
    );
}

#[test]
fn keywords_are_case_insensitive() {
    let q = "sElEcT name FrOm contact wHeRe lastname = 'doe' Or email = NULL oRdEr By name DeSc NuLlS lAsT lImIt 5 OfFsEt 0";
    assert_eq!(column(q, "Name"), ["O'Brien", "Jane Doe"]);
}

#[test]
fn multi_line_queries_report_row_and_column() {
    let e = err("SELECT Id\nFROM Contact\nWHERE Emial = 'x'");
    assert!(
        e.message
            .starts_with("\nWHERE Emial = 'x'\n      ^\nERROR at Row:3:Column:7\n"),
        "{}",
        e.message
    );
}

// ---- hostile input ------------------------------------------------------------------------

#[test]
fn deep_nesting_is_an_error_not_a_stack_overflow() {
    for depth in [65, 10_000, 200_000] {
        let q = format!(
            "SELECT Id FROM Contact WHERE {}Name = 'x'{}",
            "(".repeat(depth),
            ")".repeat(depth)
        );
        assert_eq!(err(&q).error_code, "MALFORMED_QUERY");
        let q = format!(
            "SELECT Id FROM Contact WHERE {}Name = 'x'",
            "NOT ".repeat(depth)
        );
        assert_eq!(err(&q).error_code, "MALFORMED_QUERY");
    }
    let q = format!(
        "SELECT Id FROM Contact WHERE {}Name = 'x'{}",
        "(".repeat(60),
        ")".repeat(60)
    );
    assert!(rows(&q).is_empty());
}

#[test]
fn overlong_queries_are_refused() {
    let q = format!(
        "SELECT Id FROM Contact WHERE Name = '{}'",
        "x".repeat(100_000)
    );
    assert_eq!(err(&q).error_code, "MALFORMED_QUERY");
}

/// A tiny deterministic generator, so failures reproduce.
struct Lcg(u64);

impl Lcg {
    fn next(&mut self, bound: usize) -> usize {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        ((self.0 >> 33) as usize) % bound
    }
}

#[test]
fn random_token_soup_never_panics() {
    let pieces = [
        "SELECT",
        "FROM",
        "WHERE",
        "AND",
        "OR",
        "NOT",
        "IN",
        "LIKE",
        "ORDER",
        "BY",
        "LIMIT",
        "OFFSET",
        "DESC",
        "NULLS",
        "LAST",
        "(",
        ")",
        ",",
        ".",
        "=",
        "!=",
        "<>",
        "<",
        ">=",
        "'x'",
        "'\\'",
        "'",
        "\\",
        "null",
        "true",
        "5",
        "-1.5",
        "2026-11-24",
        "2026-11-24T10:00:00Z",
        "TODAY",
        "LAST_N_DAYS",
        ":",
        "Id",
        "Name",
        "Email",
        "Account",
        "Contact",
        "Cases",
        "Who",
        "Owner",
        "é",
        "\"",
        "%",
        "_",
        "\n",
        "2147483648",
        "ContentDocumentLink",
        "LinkedEntityId",
    ];
    let org = org();
    let mut rng = Lcg(42);
    for _ in 0..20_000 {
        let len = rng.next(24);
        let q: Vec<&str> = (0..len).map(|_| pieces[rng.next(pieces.len())]).collect();
        let _ = execute_at(&org, &q.join(" "), "v62.0", NOW_MS);
    }
}

#[test]
fn mutated_valid_queries_never_panic() {
    let valid = format!(
        "SELECT Id, Name, Account.Owner.Name, Who.Name, (SELECT Id, Subject FROM Cases WHERE Subject LIKE 'a\\%%' ORDER BY CreatedDate DESC NULLS LAST LIMIT 5) FROM Contact WHERE (Email = 'a@b.c' OR Id IN ('{JANE}')) AND NOT CreatedDate = LAST_N_DAYS:7 AND Birthdate > 2026-11-24T10:00:00.000+0000 ORDER BY Name DESC LIMIT 10 OFFSET 1"
    );
    let org = org();
    let chars: Vec<char> = valid.chars().collect();
    // Every prefix, and every single-character deletion.
    for cut in 0..=chars.len() {
        let prefix: String = chars[..cut].iter().collect();
        let _ = execute_at(&org, &prefix, "v62.0", NOW_MS);
        let deleted: String = chars
            .iter()
            .enumerate()
            .filter(|(i, _)| *i != cut)
            .map(|(_, c)| *c)
            .collect();
        let _ = execute_at(&org, &deleted, "v62.0", NOW_MS);
    }
    let mut rng = Lcg(7);
    let noise = [
        '\'', '\\', '(', ')', 'é', '%', ' ', '.', ',', '\0', '-', '9', 'T', ':',
    ];
    for _ in 0..20_000 {
        let mut mutated = chars.clone();
        for _ in 0..1 + rng.next(4) {
            let at = rng.next(mutated.len());
            mutated[at] = noise[rng.next(noise.len())];
        }
        let text: String = mutated.into_iter().collect();
        let _ = execute_at(&org, &text, "v62.0", NOW_MS);
    }
}

#[test]
fn random_bytes_never_panic() {
    let org = org();
    let mut rng = Lcg(1);
    for _ in 0..5_000 {
        let bytes: Vec<u8> = (0..rng.next(64)).map(|_| rng.next(256) as u8).collect();
        let text = String::from_utf8_lossy(&bytes);
        let _ = execute_at(&org, &text, "v62.0", NOW_MS);
        let _ = execute_at(
            &org,
            &format!("SELECT Id FROM Contact WHERE Name = '{text}'"),
            "v62.0",
            NOW_MS,
        );
    }
}
