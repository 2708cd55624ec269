//! Fault injection and duplicate rules.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use serde_json::json;

use super::{chat_id_seed, raw, Org, V};
use crate::emulator::{DuplicateRules, EmulatorOptions, FaultKind};

#[test]
fn next_requests_fail_as_asked() {
    let org = Org::start();
    for (kind, status, code) in [
        (FaultKind::Unavailable, 503, "SERVER_UNAVAILABLE"),
        (FaultKind::ServerError, 500, "UNKNOWN_EXCEPTION"),
        (FaultKind::UnableToLockRow, 400, "UNABLE_TO_LOCK_ROW"),
        (
            FaultKind::RequestLimitExceeded,
            403,
            "REQUEST_LIMIT_EXCEEDED",
        ),
    ] {
        org.emulator.fail_next(2, kind);
        for _ in 0..2 {
            let r = org.send(
                "POST",
                &format!("{V}/sobjects/Account"),
                Some(&json!({"Name": "A"})),
            );
            assert_eq!((r.status, r.error_code()), (status, code.to_string()));
            assert!(r.header("sforce-limit-info").is_some());
        }
    }
    assert!(org.emulator.records("Account").is_empty());
    assert_eq!(
        org.send(
            "POST",
            &format!("{V}/sobjects/Account"),
            Some(&json!({"Name": "A"}))
        )
        .status,
        201
    );
}

#[test]
fn token_faults() {
    let org = Org::start();
    assert_eq!(org.get(&format!("{V}/limits")).status, 200);
    org.emulator.expire_access_tokens();
    assert_eq!(
        org.get(&format!("{V}/limits")).error_code(),
        "INVALID_SESSION_ID"
    );
    let refresh = org.emulator.issue_tokens().refresh_token.expect("refresh");
    org.emulator.revoke_refresh_tokens();
    assert_eq!(
        refresh_with(&org, &refresh).json()["error"],
        "invalid_grant"
    );
}

/// The demo app's refresh grant with `refresh`.
fn refresh_with(org: &Org, refresh: &str) -> super::Resp {
    let body = format!("grant_type=refresh_token&refresh_token={refresh}&client_id=demo-client&client_secret=demo-secret");
    raw(
        &org.agent,
        "POST",
        &org.url("/services/oauth2/token"),
        Some(body.into_bytes()),
        &[("Content-Type", "application/x-www-form-urlencoded".into())],
    )
}

#[test]
fn latency_delays_answers() {
    let org = Org::start();
    org.emulator.set_latency(Duration::from_millis(400));
    let started = Instant::now();
    assert_eq!(org.get(&format!("{V}/limits")).status, 200);
    assert!(started.elapsed() >= Duration::from_millis(400));
    org.emulator.set_latency(Duration::ZERO);
    let started = Instant::now();
    org.get(&format!("{V}/limits"));
    assert!(started.elapsed() < Duration::from_millis(400));
}

#[test]
fn a_write_is_applied_and_then_left_unanswered() {
    let org = Org::start();
    org.emulator.drop_after_write(1);
    // A refused request applies nothing, so it is answered and the drop still waits.
    let refused = raw(
        &org.agent,
        "POST",
        &org.url(&format!("{V}/sobjects/Lead")),
        Some(b"{}".to_vec()),
        &[],
    );
    assert_eq!(refused.status, 401);
    let addr = org
        .emulator
        .instance_url()
        .trim_start_matches("http://")
        .to_string();
    let mut stream = TcpStream::connect(&addr).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    let body = r#"{"LastName":"Ghost","Company":"Acme"}"#;
    write!(
        stream,
        "POST {V}/sobjects/Lead HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        org.token,
        body.len()
    )
    .expect("write");
    let mut answer = Vec::new();
    let read = stream.read_to_end(&mut answer);
    assert!(
        read.is_ok() || answer.is_empty(),
        "closed, not timed out: {read:?}"
    );
    assert!(
        answer.is_empty(),
        "no response at all, got {:?}",
        String::from_utf8_lossy(&answer)
    );
    assert_eq!(org.emulator.records("Lead").len(), 1, "the write happened");
    assert_eq!(org.emulator.dropped_writes(), 1);
    // Only the next write was dropped.
    assert_eq!(
        org.send(
            "POST",
            &format!("{V}/sobjects/Lead"),
            Some(&json!({"LastName": "B", "Company": "C"}))
        )
        .status,
        201
    );
}

#[test]
fn faults_over_http_for_the_command_line() {
    let org = Org::start();
    let post = |body: serde_json::Value| {
        raw(
            &org.agent,
            "POST",
            &org.url("/__emulator/faults"),
            Some(body.to_string().into_bytes()),
            &[],
        )
    };
    assert_eq!(
        post(json!({"failNext": {"count": 1, "kind": "UNABLE_TO_LOCK_ROW"}, "apiLimit": 50}))
            .status,
        200
    );
    assert_eq!(
        org.get(&format!("{V}/limits")).error_code(),
        "UNABLE_TO_LOCK_ROW"
    );
    let r = org.get(&format!("{V}/limits"));
    assert_eq!(r.header("sforce-limit-info"), Some("api-usage=1/50"));
    assert_eq!(post(json!({"expireAccessTokens": true})).status, 200);
    assert_eq!(org.get(&format!("{V}/limits")).status, 401);
    assert_eq!(post(json!({"bogus": 1})).status, 400);
}

#[test]
fn duplicate_rules_alert_or_block() {
    let org = Org::with(EmulatorOptions {
        duplicate_rules: DuplicateRules::Alert,
        ..EmulatorOptions::default()
    });
    let lead = json!({"LastName": "D", "Company": "C", "Email": "dup@example.com"});
    let first = org.create("Lead", lead.clone());
    let r = org.send("POST", &format!("{V}/sobjects/Lead"), Some(&lead));
    assert_eq!(r.status, 400);
    let error = &r.json()[0];
    assert_eq!(error["errorCode"], "DUPLICATES_DETECTED");
    assert_eq!(
        error["message"],
        "You're creating a duplicate record. We recommend you use an existing record instead."
    );
    let result = &error["duplicateResut"];
    assert_eq!(
        (
            result["allowSave"].as_bool(),
            result["duplicateRuleEntityType"].as_str()
        ),
        (Some(true), Some("Lead"))
    );
    assert_eq!(
        result["matchResults"][0]["matchRecords"][0]["record"]["Id"],
        first.as_str()
    );
    let r = org.send_with(
        "POST",
        &format!("{V}/sobjects/Lead"),
        Some(&lead),
        &[("Sforce-Duplicate-Rule-Header", "allowSave=true")],
    );
    assert_eq!(r.status, 201, "alert rules let allowSave through");
    // Rules look at changed match fields only: editing another field of a duplicate saves,
    // changing the email to another lead's does not.
    let r = org.send(
        "PATCH",
        &format!("{V}/sobjects/Lead/{first}"),
        Some(&json!({"Title": "CEO", "Email": "DUP@example.com"})),
    );
    assert_eq!(r.status, 204, "{}", r.body);
    let other = org.create(
        "Lead",
        json!({"LastName": "O", "Company": "C", "Email": "other@example.com"}),
    );
    let r = org.send(
        "PATCH",
        &format!("{V}/sobjects/Lead/{other}"),
        Some(&json!({"Email": "dup@example.com"})),
    );
    assert_eq!(r.error_code(), "DUPLICATES_DETECTED");

    org.emulator.set_duplicate_rules(DuplicateRules::Block);
    let r = org.send_with(
        "POST",
        &format!("{V}/sobjects/Lead"),
        Some(&lead),
        &[("Sforce-Duplicate-Rule-Header", "allowSave=true")],
    );
    assert_eq!(
        (r.status, r.json()[0]["message"].as_str()),
        (400, Some("Use one of these records?"))
    );
    assert_eq!(r.json()[0]["duplicateResut"]["allowSave"], false);
    let collections = json!({"records": [{"attributes": {"type": "Lead"}, "LastName": "D", "Company": "C", "Email": "dup@example.com"}]});
    let r = org
        .send(
            "POST",
            &format!("{V}/composite/sobjects"),
            Some(&collections),
        )
        .json();
    assert_eq!(r[0]["errors"][0]["statusCode"], "DUPLICATES_DETECTED");
    org.emulator.set_duplicate_rules(DuplicateRules::None);
    assert_eq!(
        org.send("POST", &format!("{V}/sobjects/Lead"), Some(&lead))
            .status,
        201
    );
}

/// Sends one request on its own connection (`Connection: close`): its status, or `None` when
/// the connection closed with no answer.
fn status_or_dropped(org: &Org, method: &str, path: &str, body: &serde_json::Value) -> Option<u16> {
    let addr = org.emulator.instance_url().trim_start_matches("http://");
    let mut stream = TcpStream::connect(addr).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    let body = body.to_string();
    write!(
        stream,
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        org.token,
        body.len()
    )
    .expect("write");
    let mut answer = String::new();
    stream
        .read_to_string(&mut answer)
        .expect("closed, not timed out");
    let status = answer.split(' ').nth(1)?;
    Some(status.parse().expect("a status code"))
}

#[test]
fn only_a_write_that_changed_the_org_is_dropped() {
    let org = Org::seeded(chat_id_seed(json!([
        {"type": "Lead", "LastName": "Twin", "Company": "C", "Chat_Id__c": "twin"},
        {"type": "Lead", "LastName": "Twin", "Company": "C", "Chat_Id__c": "TWIN"},
    ])));
    let lead = org.create("Lead", json!({"LastName": "Kept", "Company": "C"}));
    let deleted = org.create("Lead", json!({"LastName": "Gone", "Company": "C"}));
    assert_eq!(
        org.send("DELETE", &format!("{V}/sobjects/Lead/{deleted}"), None)
            .status,
        204
    );
    org.emulator.drop_after_write(1);
    let leads = || org.emulator.records("Lead");
    let before = leads();
    let missing = "00Q000000000099AAA";
    let refused = json!({"allOrNone": true, "records": [
        {"attributes": {"type": "Lead"}, "LastName": "Fine", "Company": "C"},
        {"attributes": {"type": "Lead"}, "LastName": "No company"},
    ]});
    let halted = json!({"allOrNone": true, "compositeRequest": [
        {"method": "POST", "url": format!("{V}/sobjects/Lead"), "referenceId": "ok", "body": {"LastName": "Fine", "Company": "C"}},
        {"method": "PATCH", "url": format!("{V}/sobjects/Lead/{missing}"), "referenceId": "bad", "body": {"Title": "x"}},
    ]});
    for (method, path, body, status) in [
        (
            "POST",
            format!("{V}/sobjects/Lead"),
            json!({"LastName": "No company"}),
            400,
        ),
        (
            "PATCH",
            format!("{V}/sobjects/Lead/{missing}"),
            json!({"Title": "x"}),
            404,
        ),
        (
            "DELETE",
            format!("{V}/sobjects/Lead/{deleted}"),
            json!({}),
            404,
        ),
        (
            "PATCH",
            format!("{V}/sobjects/Lead/Chat_Id__c/twin"),
            json!({"Title": "x"}),
            300,
        ),
        ("POST", format!("{V}/composite/sobjects"), refused, 200),
        ("POST", format!("{V}/composite"), halted, 200),
        ("GET", format!("{V}/sobjects/Lead/{lead}"), json!({}), 200),
    ] {
        assert_eq!(
            status_or_dropped(&org, method, &path, &body),
            Some(status),
            "{method} {path} changed nothing: answered"
        );
    }
    assert_eq!(leads(), before, "nothing was applied");
    assert_eq!(org.emulator.dropped_writes(), 0);

    // Each kind of write that changes the org is applied, then left unanswered.
    let create =
        json!({"records": [{"attributes": {"type": "Lead"}, "LastName": "Batch", "Company": "C"}]});
    let composite = json!({"compositeRequest": [
        {"method": "PATCH", "url": format!("{V}/sobjects/Lead/{lead}"), "referenceId": "p", "body": {"Title": "Composite"}},
    ]});
    let writes = [
        (
            "PATCH",
            format!("{V}/sobjects/Lead/{lead}"),
            json!({"Title": "Patched"}),
        ),
        ("POST", format!("{V}/composite/sobjects"), create),
        ("POST", format!("{V}/composite"), composite),
        ("DELETE", format!("{V}/sobjects/Lead/{lead}"), json!({})),
    ];
    for (n, (method, path, body)) in writes.into_iter().enumerate() {
        org.emulator.drop_after_write(1);
        assert_eq!(
            status_or_dropped(&org, method, &path, &body),
            None,
            "{method} {path}"
        );
        assert_eq!(org.emulator.dropped_writes(), n as u32 + 1);
    }
    let names: Vec<String> = org
        .emulator
        .records("Lead")
        .iter()
        .map(|l| l["LastName"].as_str().unwrap_or_default().to_string())
        .collect();
    assert!(names.contains(&"Batch".to_string()), "{names:?}");
    assert!(!names.contains(&"Kept".to_string()), "deleted: {names:?}");
    let kept = org.get(&format!(
        "{V}/queryAll?q=SELECT+Title+FROM+Lead+WHERE+Id='{lead}'"
    ));
    assert_eq!(kept.json()["records"][0]["Title"], "Composite");
}

#[test]
fn every_fault_key_over_http() {
    let org = Org::start();
    let post = |body: serde_json::Value| {
        let r = raw(
            &org.agent,
            "POST",
            &org.url("/__emulator/faults"),
            Some(body.to_string().into_bytes()),
            &[],
        );
        assert_eq!(r.status, 200, "{body}: {}", r.body);
    };
    let limits = || org.get(&format!("{V}/limits"));

    post(json!({"apiUsed": 40}));
    assert_eq!(
        limits().header("sforce-limit-info"),
        Some("api-usage=41/15000")
    );

    post(json!({"latencyMs": 300}));
    let started = Instant::now();
    limits();
    assert!(started.elapsed() >= Duration::from_millis(300));
    post(json!({"latencyMs": 0}));

    post(json!({"duplicateRules": "block"}));
    let lead = json!({"LastName": "D", "Company": "C", "Email": "d@example.com"});
    org.create("Lead", lead.clone());
    let r = org.send("POST", &format!("{V}/sobjects/Lead"), Some(&lead));
    assert_eq!(r.error_code(), "DUPLICATES_DETECTED");
    post(json!({"duplicateRules": "none"}));
    org.create("Lead", lead);

    post(json!({"dropAfterWrite": 1}));
    let body = json!({"LastName": "Dropped", "Company": "C"});
    assert_eq!(
        status_or_dropped(&org, "POST", &format!("{V}/sobjects/Lead"), &body),
        None
    );
    assert_eq!(org.emulator.dropped_writes(), 1);

    let authorize = "/services/oauth2/authorize?response_type=code&client_id=demo-client&redirect_uri=http://127.0.0.1:9/cb&state=s";
    post(json!({"denyAuthorization": true}));
    let denied = raw(&org.agent, "GET", &org.url(authorize), None, &[]);
    let location = denied.header("location").unwrap_or_default();
    assert!(
        location.starts_with("http://127.0.0.1:9/cb?error=access_denied"),
        "{location}"
    );
    post(json!({"denyAuthorization": false}));
    let approved = raw(&org.agent, "GET", &org.url(authorize), None, &[]);
    assert!(approved
        .header("location")
        .unwrap_or_default()
        .contains("?code="));

    let refresh = org.emulator.issue_tokens().refresh_token.expect("refresh");
    post(json!({"revokeRefreshTokens": true}));
    assert_eq!(
        refresh_with(&org, &refresh).json()["error"],
        "invalid_grant"
    );
    assert_eq!(limits().status, 401, "its sessions went with it");
}
