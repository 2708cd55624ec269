//! The host process killed (SIGKILL) in the middle of delivering, started again: every accepted
//! event reaches Salesforce, none twice. A real `cloudcx-shim` process, not a simulation.

mod common;

use std::collections::HashSet;
use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use cloudcx_shim::emulator::{Emulator, EmulatorOptions};
use serde_json::{json, Value};

const CHATS: usize = 120;

fn shim(state: &Path) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_cloudcx-shim"));
    command.arg("--state-dir").arg(state);
    command
}

#[test]
fn killed_mid_delivery_and_restarted_every_chat_lands_exactly_once() {
    let org = Emulator::start(EmulatorOptions::default()).unwrap();
    // Slow enough that the kill finds requests in flight.
    org.set_latency(Duration::from_millis(25));
    let tmp = tempfile::tempdir().unwrap();
    let state = tmp.path().join("state");
    std::fs::create_dir_all(&state).unwrap();
    // A free port for the OAuth redirect, so parallel tests do not collide.
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let host = json!({"state_dir": state.join("plugin"), "redirect_url": format!("http://127.0.0.1:{port}/callback")});
    std::fs::write(state.join("host.json"), host.to_string()).unwrap();
    let settings_file = tmp.path().join("settings.json");
    let mut settings: Value = serde_json::from_str(
        &std::fs::read_to_string(common::repo_root().join("examples/settings.json")).unwrap(),
    )
    .unwrap();
    settings["connection"]["login_url"] = json!(org.base_url());
    settings["connection"]["crm_url"] = json!(org.base_url());
    std::fs::write(&settings_file, settings.to_string()).unwrap();

    let connect = shim(&state)
        .args(["connect", "--tenant", "acme", "--auto", "--settings"])
        .arg(&settings_file)
        .output()
        .unwrap();
    assert!(
        connect.status.success(),
        "{}",
        common::text(&connect.stderr)
    );

    let events = tmp.path().join("events.jsonl");
    let lines: Vec<String> = (0..CHATS)
        .map(|i| {
            json!({"type": "chat.ended", "tenant_id": "acme", "id": format!("chat-{i}"), "channel": "webchat",
                   "at": "2026-11-24T10:07:30Z", "visitor": {"name": format!("Visitor {i}"), "email": format!("v{i}@x.example")},
                   "messages": [{"from": "visitor", "text": "hello"}]})
            .to_string()
        })
        .collect();
    std::fs::write(&events, lines.join("\n")).unwrap();

    // First run: every event accepted (durable), then killed while delivering.
    let mut first = shim(&state)
        .args(["replay", "--tenant", "acme", "--wait", "120"])
        .arg(&events)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut stdout = BufReader::new(first.stdout.take().unwrap());
    let mut summary = String::new();
    stdout.read_line(&mut summary).unwrap();
    assert!(
        summary.contains(&format!("{CHATS} events accepted")),
        "{summary}"
    );
    let deadline = Instant::now() + Duration::from_secs(60);
    while org.records("Case").len() < 10 {
        assert!(Instant::now() < deadline, "delivery started");
        std::thread::sleep(Duration::from_millis(5));
    }
    first.kill().unwrap(); // SIGKILL
    first.wait().unwrap();
    let at_kill = org.records("Case").len();
    assert!(at_kill < CHATS, "killed before the end ({at_kill} written)");

    // Second run: nothing new to feed; it resumes the queue and waits for it to drain.
    let empty = tmp.path().join("empty.jsonl");
    std::fs::write(&empty, "").unwrap();
    let second = shim(&state)
        .args(["replay", "--tenant", "acme", "--wait", "120"])
        .arg(&empty)
        .output()
        .unwrap();
    let out = common::text(&second.stdout);
    assert!(
        second.status.success(),
        "{out}\n{}",
        common::text(&second.stderr)
    );

    let cases = org.records("Case");
    let keys: HashSet<String> = cases
        .iter()
        .map(|c| {
            c["Subject"]
                .as_str()
                .unwrap()
                .rsplit_once(' ')
                .unwrap()
                .1
                .to_string()
        })
        .collect();
    assert_eq!(keys.len(), CHATS, "every chat has its Case");
    assert_eq!(
        cases.len(),
        CHATS,
        "and only one ({} written when killed)",
        at_kill
    );
    assert_eq!(
        org.records("Contact").len(),
        CHATS,
        "one Contact per visitor"
    );
}
