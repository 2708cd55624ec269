//! Every hook of the real plugin library answers hostile input with a clear error: never a
//! panic, a hang, or an acceptance.

mod common;

use std::sync::{mpsc, Arc};
use std::time::{Duration, Instant};

use cloudcx_salesforce_abi::abi_stable::std_types::{RResult, RSlice};
use cloudcx_salesforce_abi::{ErrorCode, PluginBox, PluginError};
use cloudcx_shim::loader::LoadedPlugin;

const HOOKS: [&str; 5] = [
    "chat.started",
    "chat.ended",
    "chat.offline_message",
    "inbox.conversation_started",
    "inbox.conversation_ended",
];

/// Even a 50 MB payload is decided well within this, in a debug build.
const DEADLINE: Duration = Duration::from_secs(30);

fn call_hook(plugin: &PluginBox, hook: &str, payload: &[u8]) -> Result<(), PluginError> {
    let payload = RSlice::from_slice(payload);
    let answer = match hook {
        "chat.started" => plugin.chat_started(payload),
        "chat.ended" => plugin.chat_ended(payload),
        "chat.offline_message" => plugin.chat_offline_message(payload),
        "inbox.conversation_started" => plugin.inbox_conversation_started(payload),
        "inbox.conversation_ended" => plugin.inbox_conversation_ended(payload),
        other => panic!("no hook {other}"),
    };
    match answer {
        RResult::ROk(()) => Ok(()),
        RResult::RErr(e) => Err(e),
    }
}

/// Calls `hook` on another thread, so that a hang fails the test instead of stalling it.
fn answer_within_deadline(
    plugin: &Arc<LoadedPlugin>,
    hook: &'static str,
    payload: Vec<u8>,
) -> Result<(), PluginError> {
    let (tx, rx) = mpsc::channel();
    let plugin = plugin.clone();
    std::thread::spawn(move || tx.send(call_hook(&plugin.plugin, hook, &payload)));
    rx.recv_timeout(DEADLINE)
        .unwrap_or_else(|_| panic!("{hook} did not answer within {DEADLINE:?}"))
}

fn assert_refused(plugin: &Arc<LoadedPlugin>, name: &str, payload: &[u8]) {
    for hook in HOOKS {
        let started = Instant::now();
        match answer_within_deadline(plugin, hook, payload.to_vec()) {
            Err(e) if e.code == ErrorCode::INVALID_INPUT => {
                assert!(
                    e.message.starts_with(hook),
                    "{name} → {hook}: message names the event type: {e}"
                );
                assert!(
                    e.message.len() < 2_000,
                    "{name} → {hook}: the message stays readable ({} bytes)",
                    e.message.len()
                );
            }
            other => panic!("{name} → {hook}: expected invalid input, got {other:?}"),
        }
        assert!(started.elapsed() < DEADLINE);
    }
}

#[test]
fn every_hook_refuses_the_corpus() {
    let tmp = tempfile::tempdir().unwrap();
    let plugin = Arc::new(common::load_plugin(tmp.path()));
    let corpus = common::repo_root().join("tests/corpus/events");
    let mut files: Vec<_> = std::fs::read_dir(&corpus)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "json" || e == "bin"))
        .collect();
    files.sort();
    assert!(files.len() >= 40, "the corpus is in {}", corpus.display());
    for file in files {
        let name = file.file_name().unwrap().to_string_lossy().into_owned();
        assert_refused(&plugin, &name, &std::fs::read(&file).unwrap());
    }
}

#[test]
fn every_hook_refuses_huge_and_deep_input() {
    let tmp = tempfile::tempdir().unwrap();
    let plugin = Arc::new(common::load_plugin(tmp.path()));
    let ten_mb = 10 * 1024 * 1024;
    assert_refused(&plugin, "10 MB of 'a'", &vec![b'a'; ten_mb]);
    assert_refused(&plugin, "10 MB of '['", &vec![b'['; ten_mb]);
    assert_refused(
        &plugin,
        "10 MB of '{\"a\":'",
        &"{\"a\":".repeat(ten_mb / 5).into_bytes(),
    );
    assert_refused(
        &plugin,
        "10 MB of random bytes",
        &pseudo_random_bytes(ten_mb),
    );
    let mut unterminated = b"{\"type\":\"chat.ended\",\"visitor\":{\"name\":\"".to_vec();
    unterminated.resize(ten_mb, b'x');
    assert_refused(&plugin, "an unterminated 10 MB string", &unterminated);
    let over_limit = event_with_attachment(49 * 1024 * 1024);
    assert_refused(&plugin, "an event over the size limit", &over_limit);
}

#[test]
fn a_large_valid_event_is_not_refused_for_its_size() {
    let tmp = tempfile::tempdir().unwrap();
    let plugin = Arc::new(common::load_plugin(tmp.path()));
    let answer = answer_within_deadline(
        &plugin,
        "chat.ended",
        event_with_attachment(10 * 1024 * 1024),
    );
    if let Err(e) = answer {
        assert!(
            e.code != ErrorCode::INVALID_INPUT && e.code != ErrorCode::PANIC,
            "a valid 10 MB event is not invalid: {e}"
        );
    }
}

/// A valid `chat.ended` whose attachment makes it about `size` bytes long.
fn event_with_attachment(size: usize) -> Vec<u8> {
    let data = "QUJD".repeat(size / 4);
    serde_json::json!({
        "type": "chat.ended", "tenant_id": "t1", "id": "c1", "channel": "webchat",
        "at": "2026-11-24T10:05:00Z", "visitor": {"name": "Jane"},
        "attachments": [{"name": "big.bin", "data_base64": data}],
    })
    .to_string()
    .into_bytes()
}

/// Deterministic noise (xorshift), so a failure can be reproduced.
fn pseudo_random_bytes(len: usize) -> Vec<u8> {
    let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
    (0..len)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state >> 24) as u8
        })
        .collect()
}
