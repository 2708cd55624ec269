//! The agent console against a slow Salesforce: actions past their deadline do not pile up,
//! and shutdown leaves none of them running (host contract: shutdown joins every thread the
//! plugin started). One test in this file: it counts the plugin's threads in this process.

mod common;
#[path = "common/connected.rs"]
#[allow(dead_code)] // The harness serves several test files; this one uses part of it.
mod connected;

use std::time::{Duration, Instant};

use cloudcx_salesforce_abi::abi_stable::std_types::RResult;
use cloudcx_salesforce_abi::{ErrorCode, PluginError};
use connected::{Connected, TENANT};
use serde_json::json;

/// Threads of this process whose name starts like the plugin's (`cloudcx-salesforce-…`,
/// which Linux cuts to 15 bytes).
fn plugin_threads() -> usize {
    std::fs::read_dir("/proc/self/task")
        .unwrap()
        .filter_map(|task| std::fs::read_to_string(task.ok()?.path().join("comm")).ok())
        .filter(|name| name.starts_with("cloudcx-salesfo"))
        .count()
}

fn lookup(rig: &Connected, n: usize) -> PluginError {
    let request = json!({"tenant_id": TENANT, "visitor": {"email": format!("v{n}@x.example")}});
    match rig
        .plugin
        .plugin
        .lookup(request.to_string().as_str().into(), 100)
    {
        RResult::ROk(answer) => panic!("answered despite the latency: {answer}"),
        RResult::RErr(e) => e,
    }
}

#[test]
fn console_actions_past_their_deadline_are_bounded_and_joined_at_shutdown() {
    let rig = Connected::start(|_| {});
    rig.org.set_latency(Duration::from_secs(20));
    for n in 0..8 {
        let late = lookup(&rig, n);
        assert_eq!(late.code, ErrorCode::TIMEOUT, "{late}");
        assert!(late.message.contains("did not answer within"), "{late}");
    }
    // Eight of the tenant's lookups still wait for Salesforce: the ninth is refused at once.
    let started = Instant::now();
    let busy = lookup(&rig, 8);
    assert!(started.elapsed() < Duration::from_millis(100));
    assert_eq!(busy.code, ErrorCode::TIMEOUT, "{busy}");
    assert!(
        busy.message
            .contains("8 console actions still waiting for Salesforce"),
        "{busy}"
    );

    let stopping = Instant::now();
    rig.plugin.plugin.shutdown();
    assert!(
        stopping.elapsed() < Duration::from_secs(2),
        "{:?}",
        stopping.elapsed()
    );
    assert_eq!(plugin_threads(), 0, "every thread of the plugin was joined");
}
