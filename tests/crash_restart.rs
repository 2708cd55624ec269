//! The host process killed (SIGKILL) in the middle of delivering, or while its hooks are still
//! appending, started again: every accepted event reaches Salesforce, none twice. A real
//! `cloudcx-shim` process, not a simulation.

mod common;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use cloudcx_shim::emulator::{Emulator, EmulatorOptions};
use serde_json::json;

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
    let state = common::connected_shim_state(&org, tmp.path(), |_| {});

    let events = events_file(tmp.path(), CHATS);

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

    resume(&state, tmp.path());

    let cases = common::cases_by_key(&org);
    assert_eq!(cases.len(), CHATS, "every chat has its Case");
    assert!(
        cases.values().all(|&n| n == 1),
        "and only one ({at_kill} written when killed): {cases:?}"
    );
    assert_eq!(
        org.records("Contact").len(),
        CHATS,
        "one Contact per visitor"
    );
}

#[test]
fn killed_while_hooks_still_append_every_accepted_event_lands_exactly_once() {
    const EVENTS: usize = 2_000;
    let org = Emulator::start(EmulatorOptions::default()).unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let state = common::connected_shim_state(&org, tmp.path(), |_| {});
    let events = events_file(tmp.path(), EVENTS);

    // The plugin logs each event it accepted, once its hook's answer is on its way.
    let mut first = shim(&state)
        .args(["replay", "--tenant", "acme", "--wait", "120"])
        .arg(&events)
        .env("RUST_LOG", "cloudcx_salesforce::service=debug")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut log = BufReader::new(first.stderr.take().unwrap()).lines();
    let accepted = |line: &str| line.ends_with(" queued");
    let mut seen = 0;
    while seen < 300 {
        let line = log.next().expect("the replay goes on").unwrap();
        seen += usize::from(accepted(&line));
    }
    first.kill().unwrap(); // SIGKILL, hooks still appending
    first.wait().unwrap();
    // What it wrote before it died: every hook that answered OK.
    let accepted = seen + log.map_while(Result::ok).filter(|l| accepted(l)).count();
    assert!(
        accepted < EVENTS,
        "killed before the end ({accepted} accepted)"
    );

    resume(&state, tmp.path());
    let cases = common::cases_by_key(&org);
    for n in 0..accepted {
        let chat = format!("acme/chat-{n}");
        assert_eq!(cases.get(&chat), Some(&1), "{chat}, accepted, once");
    }
    // The event whose hook had not answered yet may be on disk too, and then written once.
    assert!(cases.len() <= accepted + 1, "{} Cases", cases.len());
    assert!(cases.values().all(|&n| n == 1), "{cases:?}");
    assert!(cases.keys().all(|chat| {
        let n: usize = chat["acme/chat-".len()..].parse().unwrap();
        n <= accepted
    }));
}

/// A replay file of `n` chats, `chat-0` to `chat-{n-1}`, each its own visitor.
fn events_file(dir: &Path, n: usize) -> PathBuf {
    let lines: Vec<String> = (0..n)
        .map(|i| {
            json!({"type": "chat.ended", "tenant_id": "acme", "id": format!("chat-{i}"), "channel": "webchat",
                   "at": "2026-11-24T10:07:30Z", "visitor": {"name": format!("Visitor {i}"), "email": format!("v{i}@x.example")},
                   "messages": [{"from": "visitor", "text": "hello"}]})
            .to_string()
        })
        .collect();
    let file = dir.join("events.jsonl");
    std::fs::write(&file, lines.join("\n")).unwrap();
    file
}

/// Starts the shim again on `state` with nothing new to feed: it resumes the queue and waits for
/// it to drain.
fn resume(state: &Path, dir: &Path) {
    let empty = dir.join("empty.jsonl");
    std::fs::write(&empty, "").unwrap();
    let second = shim(state)
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
}
