//! A tenant that moves to another Salesforce org (issue 4): disconnected from org A, connected
//! to org B, nothing known about org A is used in org B.

mod common;
#[path = "common/connected.rs"]
#[allow(dead_code)] // The harness serves several test files; this one uses part of it.
mod connected;

use cloudcx_salesforce_abi::abi_stable::std_types::RResult;
use cloudcx_shim::emulator::{Emulator, EmulatorOptions};
use connected::{chat_ended, settings_for, Connected, TENANT};
use serde_json::{json, Value};

fn jane() -> Value {
    json!({"name": "Jane Doe", "email": "jane@acme.example"})
}

fn seed_jane(org: &Emulator) -> String {
    org.seed(&json!({"records": [
        {"type": "Contact", "FirstName": "Jane", "LastName": "Doe", "Email": "jane@acme.example"},
    ]}))
    .unwrap()[0]
        .clone()
}

/// An org of its own Id (the rig's is the emulator's default). Its Jane is not the first
/// record after its login user, as org A's is: emulators number records alike, and the same
/// Id in both orgs would hide a record of org A's used in org B.
fn another_org() -> Emulator {
    let org = Emulator::start(EmulatorOptions {
        org_id: Some("00D000000000002".parse().unwrap()),
        ..EmulatorOptions::default()
    })
    .unwrap();
    org.seed(&json!({"records": [{"type": "Account", "Name": "Globex"}]}))
        .unwrap();
    org
}

fn lookup_jane(rig: &Connected) -> Value {
    let request = json!({"tenant_id": TENANT, "visitor": jane()});
    common::answer(
        rig.plugin
            .plugin
            .lookup(request.to_string().as_str().into(), 3_000),
    )
}

fn started_trigger(settings: &mut Value) {
    settings["webchat"]["trigger"] = json!("chat_started");
}

#[test]
fn after_a_disconnect_a_connect_to_another_org_forgets_the_old_orgs_records_and_views() {
    let rig = Connected::start(started_trigger);
    let org_a = &rig.org;
    let jane_in_a = seed_jane(org_a);
    let started = json!({
        "type": "chat.started", "tenant_id": TENANT, "id": "c1", "channel": "webchat",
        "at": "2026-11-24T10:00:00Z", "visitor": jane(), "started_at": "2026-11-24T10:00:00Z",
    });
    rig.deliver(&[started]);
    assert_eq!(org_a.records("Case").len(), 1, "the Case made at the start");
    let view = lookup_jane(&rig);
    assert!(view.to_string().contains(&jane_in_a), "{view}");

    let answer = rig.plugin.plugin.disconnect(TENANT.into());
    assert!(matches!(answer, RResult::ROk(_)));
    let org_b = another_org();
    let jane_in_b = seed_jane(&org_b);
    assert_ne!(org_b.org_id(), org_a.org_id());
    assert_ne!(jane_in_b, jane_in_a);
    rig.configure(&settings_for(&org_b, started_trigger));
    let connected = rig.connect();
    assert_eq!(
        connected["previous_org"]["org_id"],
        org_a.org_id(),
        "the change of org is reported: {connected}"
    );
    assert_eq!(connected["org_id"], org_b.org_id());

    // The console asks org B, not its cache of org A's answer.
    let view = lookup_jane(&rig);
    assert!(view.to_string().contains(&jane_in_b), "{view}");
    assert!(!view.to_string().contains(org_a.instance_url()), "{view}");

    // The chat's end makes a Case in org B; org A's Case is not touched from here.
    rig.send(&chat_ended("c1", jane(), json!({}))).unwrap();
    let status = rig.delivered();
    assert_eq!(status["queue"]["failed"], 0, "{status}");
    let in_b = org_b.records("Case");
    assert_eq!(in_b.len(), 1, "{in_b:?}");
    assert_eq!(in_b[0]["ContactId"], jane_in_b.as_str());
    assert!(in_b[0]["Description"]
        .as_str()
        .unwrap()
        .contains("Hi there"));
    let in_a = org_a.records("Case");
    assert_eq!(in_a.len(), 1);
    assert!(
        !in_a[0]["Description"]
            .as_str()
            .unwrap_or_default()
            .contains("Hi there"),
        "{}",
        in_a[0]
    );
}
