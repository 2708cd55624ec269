//! The real `cloudcx-shim` binary: the one-command demo, and the console commands (`lookup`,
//! `create`) as a person or a script uses them.

mod common;

use cloudcx_shim::emulator::{Emulator, EmulatorOptions, SeedFile};
use common::{repo_root, shim, text};
use serde_json::{json, Value};

#[test]
fn the_demo_writes_every_example_event_and_shows_it() {
    let dir = tempfile::tempdir().unwrap();
    let started = std::time::Instant::now();
    let out = shim(dir.path(), &["demo"], &[("RUST_LOG", "warn")]);
    let stdout = text(&out.stdout);
    assert!(
        out.status.success(),
        "exit {:?}\n{stdout}\n{}",
        out.status,
        text(&out.stderr)
    );
    assert!(started.elapsed().as_secs() < 30, "it finishes in seconds");
    for expected in [
        "Connected tenant demo through OAuth",
        "6 events accepted",
        "Contacts created: 1",
        "Leads created: 1",
        "Cases created: 2",
        "Tasks created: 2",
        "Files created: 2",
        "6 events written, 0 failed, 0 still queued",
        "Salesforce API calls spent:",
        // The agent with a Salesforce user owns what he handled; the other's go to the admin.
        "Bob Agent <bob@cx.example.com>",
        "Ada Admin <ada.admin@demo-org.example>",
        // The returning customer's Cases are under her seeded Contact and Account.
        "customer view of jane@acme.example",
        "Account: Acme",
        "Recent Cases",
        "invoice-4411.txt",
        "/lightning/r/Case/",
    ] {
        assert!(
            stdout.contains(expected),
            "{expected:?} missing in\n{stdout}"
        );
    }
    assert!(
        stdout.contains("┆ Jane Doe ┆"),
        "the Case table names her: {stdout}"
    );
    // How to look at the org in a browser: the emulator's own URL, which --keep keeps open.
    let url = stdout
        .lines()
        .find_map(|l| l.strip_prefix("Salesforce emulator: "))
        .and_then(|l| l.split_whitespace().next())
        .unwrap_or_else(|| panic!("no emulator URL in\n{stdout}"));
    assert!(
        stdout.contains(&format!(
            "To browse the org in a browser, run the demo with --keep and open {url}/ "
        )),
        "no browse hint in\n{stdout}"
    );
}

/// Host configuration, tenant settings and an event for tenant `acme` on `org`.
fn files(dir: &std::path::Path, org: &Emulator) -> (String, String, String) {
    let port = common::free_port();
    let config = dir.join("host.json");
    std::fs::write(
        &config,
        json!({"state_dir": dir.join("plugin"), "redirect_url": format!("http://127.0.0.1:{port}/cb")})
            .to_string(),
    )
    .unwrap();
    let mut settings: Value = serde_json::from_str(
        &std::fs::read_to_string(repo_root().join("examples/settings.json")).unwrap(),
    )
    .unwrap();
    settings["connection"]["login_url"] = json!(org.base_url());
    settings["connection"]["crm_url"] = json!(org.base_url());
    settings["mode"] = json!("manual");
    let settings_file = dir.join("settings.json");
    std::fs::write(&settings_file, settings.to_string()).unwrap();
    let event = dir.join("chat.json");
    std::fs::write(
        &event,
        json!({"type": "chat.ended", "tenant_id": "acme", "id": "c1", "channel": "webchat",
               "at": "2026-11-24T10:07:30Z",
               "visitor": {"name": "Jane Doe", "email": "jane@acme.example"}})
        .to_string(),
    )
    .unwrap();
    let path = |p: std::path::PathBuf| p.to_str().unwrap().to_string();
    (path(config), path(settings_file), path(event))
}

#[test]
fn lookup_and_create_print_tables_or_json_and_exit_3_when_not_found() {
    let org = Emulator::start(EmulatorOptions::default()).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let (run, event) = connected_shim(dir.path(), &org);

    let missing = run(&["lookup", "--tenant", "acme", "--email", "jane@acme.example"]);
    assert_eq!(missing.status.code(), Some(3), "{}", text(&missing.stderr));
    assert!(text(&missing.stderr).contains("matches no Contact or Lead"));

    let created = run(&[
        "create", "--tenant", "acme", "--object", "Case", "--event", &event,
    ]);
    let shown = text(&created.stdout);
    assert!(created.status.success(), "{}", text(&created.stderr));
    assert!(
        shown.contains("Case") && shown.contains("created") && shown.contains("attached to"),
        "{shown}"
    );
    assert_eq!(org.records("Case").len(), 1);

    let again = run(&[
        "create", "--tenant", "acme", "--object", "Case", "--event", &event, "--json",
    ]);
    let answer: Value = serde_json::from_slice(&again.stdout).unwrap();
    assert_eq!(answer["already_made"], true, "{answer}");
    assert_eq!(answer["id"], org.records("Case")[0]["Id"]);

    let view = run(&["lookup", "--tenant", "acme", "--email", "jane@acme.example"]);
    let shown = text(&view.stdout);
    assert!(view.status.success(), "{}", text(&view.stderr));
    assert!(
        shown.contains("Contact") && shown.contains("Jane Doe") && shown.contains("Recent Cases"),
        "{shown}"
    );
    let json = run(&[
        "lookup",
        "--tenant",
        "acme",
        "--email",
        "jane@acme.example",
        "--json",
    ]);
    let answer: Value = serde_json::from_slice(&json.stdout).unwrap();
    assert_eq!(answer["matches"][0]["fields"]["Name"], "Jane Doe");
}

#[test]
fn with_keep_the_org_stays_open_for_a_browser() {
    use std::io::{BufRead, BufReader};
    let dir = tempfile::tempdir().unwrap();
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_cloudcx-shim"))
        .arg("--state-dir")
        .arg(dir.path())
        .args(["demo", "--keep"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let kept = lines
        .map_while(Result::ok)
        .find(|l| l.starts_with("The org stays at "));
    let page = kept.as_deref().and_then(|line| {
        let url = line.split_whitespace().nth(4)?;
        ureq::get(url)
            .call()
            .ok()?
            .into_body()
            .read_to_string()
            .ok()
    });
    child.kill().unwrap();
    child.wait().unwrap();
    let page = page.unwrap_or_else(|| panic!("no org to browse after: {kept:?}"));
    assert!(page.contains("Okafor") && page.contains("Sam"), "{page}");
}

/// Tenant `acme` of the shim in `dir`, connected (through the binary) to an emulator seeded with
/// `examples/demo-org.json`; answers the org and a runner of shim commands.
fn seeded_demo_org(dir: &std::path::Path) -> (Emulator, impl Fn(&[&str]) -> std::process::Output) {
    let seed: Value = serde_json::from_str(
        &std::fs::read_to_string(repo_root().join("examples/demo-org.json")).unwrap(),
    )
    .unwrap();
    let org = Emulator::start(EmulatorOptions {
        seed: Some(SeedFile::from_json(&seed).unwrap()),
        ..EmulatorOptions::default()
    })
    .unwrap();
    let (run, _) = connected_shim(dir, &org);
    (org, run)
}

/// Tenant `acme` of the shim in `dir`, connected (through the binary) to `org`; answers a
/// runner of shim commands (warnings and errors on stderr, a minute at most each) and the path
/// of an example chat event.
fn connected_shim(
    dir: &std::path::Path,
    org: &Emulator,
) -> (impl Fn(&[&str]) -> std::process::Output, String) {
    let (config, settings, event) = files(dir, org);
    let state = dir.to_path_buf();
    let run = move |args: &[&str]| {
        let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_cloudcx-shim"));
        command
            .arg("--state-dir")
            .arg(&state)
            .arg("--config")
            .arg(&config)
            .args(args)
            .env("RUST_LOG", "warn");
        common::run_within(
            command,
            &format!("cloudcx-shim {args:?}"),
            std::time::Duration::from_secs(60),
        )
    };
    let connect = run(&[
        "connect",
        "--tenant",
        "acme",
        "--settings",
        &settings,
        "--auto",
    ]);
    assert!(connect.status.success(), "{}", text(&connect.stderr));
    (run, event)
}

#[test]
fn lookup_by_phone_or_by_an_events_visitor_shows_the_seeded_record() {
    let dir = tempfile::tempdir().unwrap();
    let (org, run) = seeded_demo_org(dir.path());
    let jane = org
        .records("Contact")
        .into_iter()
        .find(|c| c["LastName"] == "Doe")
        .unwrap();

    let by_phone = run(&["lookup", "--tenant", "acme", "--phone", "+1 415 555 0100"]);
    let shown = text(&by_phone.stdout);
    assert_eq!(
        by_phone.status.code(),
        Some(0),
        "{}",
        text(&by_phone.stderr)
    );
    assert!(
        shown.contains(&format!(
            "1. Contact {} (matched by Phone)",
            jane["Id"].as_str().unwrap()
        )),
        "{shown}"
    );
    assert!(
        shown.contains("Jane Doe") && shown.contains("Account: Acme"),
        "{shown}"
    );

    // A chat of Priya's: its visitor is looked up.
    let event = dir.path().join("priya.json");
    std::fs::write(
        &event,
        json!({"type": "chat.ended", "tenant_id": "acme", "id": "c7", "channel": "webchat",
               "at": "2026-11-24T10:07:30Z",
               "visitor": {"name": "Priya P.", "email": "priya@initech.example"}})
        .to_string(),
    )
    .unwrap();
    let by_event = run(&[
        "lookup",
        "--tenant",
        "acme",
        "--event",
        event.to_str().unwrap(),
    ]);
    let shown = text(&by_event.stdout);
    assert_eq!(
        by_event.status.code(),
        Some(0),
        "{}",
        text(&by_event.stderr)
    );
    assert!(
        shown.contains("(matched by Email)")
            && shown.contains("Priya Patel")
            && shown.contains("Account: Initech"),
        "{shown}"
    );
    assert!(!shown.contains("Jane Doe"), "{shown}");
}

#[test]
fn lookup_names_an_event_file_it_cannot_use() {
    let dir = tempfile::tempdir().unwrap();
    let (_org, run) = seeded_demo_org(dir.path());
    let lookup = |file: &std::path::Path| {
        let out = run(&[
            "lookup",
            "--tenant",
            "acme",
            "--event",
            file.to_str().unwrap(),
        ]);
        assert_eq!(
            out.status.code(),
            Some(2),
            "bad input: {}",
            text(&out.stdout)
        );
        text(&out.stderr)
    };
    let missing = dir.path().join("no-such-event.json");
    let stderr = lookup(&missing);
    assert!(
        stderr.contains(&format!(
            "cloudcx-shim: {}: No such file",
            missing.display()
        )),
        "{stderr}"
    );
    let broken = dir.path().join("broken.json");
    std::fs::write(&broken, "{\"type\": \"chat.ended\",").unwrap();
    let stderr = lookup(&broken);
    assert!(
        stderr.contains(&format!(
            "cloudcx-shim: {}: EOF while parsing",
            broken.display()
        )),
        "{stderr}"
    );
    let nobody = dir.path().join("nobody.json");
    std::fs::write(
        &nobody,
        json!({"type": "chat.ended", "id": "c1"}).to_string(),
    )
    .unwrap();
    let stderr = lookup(&nobody);
    assert!(
        stderr.contains(&format!(
            "cloudcx-shim: {}: the event has neither visitor nor contact",
            nobody.display()
        )),
        "{stderr}"
    );
}
