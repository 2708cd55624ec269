//! What becomes of queued events at Salesforce's and the host's hands (issue 5), against the
//! emulator: shutdown in the middle of a batch, retries of failures, storms, holds of one
//! tenant beside another, and the order of a chat's events under concurrent hooks.

mod common;
#[path = "common/connected.rs"]
#[allow(dead_code)] // The harness serves several test files; this one uses part of it.
mod connected;

use std::collections::HashMap;
use std::time::{Duration, Instant};

use cloudcx_salesforce::queue::Queue;
use cloudcx_salesforce_abi::abi_stable::std_types::RResult;
use cloudcx_salesforce_abi::ErrorCode;
use cloudcx_shim::emulator::FaultKind;
use connected::{chat_ended, Connected, TENANT};
use serde_json::{json, Value};

fn jane() -> Value {
    json!({"name": "Jane Doe", "email": "jane@acme.example"})
}

#[test]
fn shutdown_mid_batch_cuts_the_request_under_way_and_leaves_the_rest_unattempted() {
    let rig = Connected::start(|_| {});
    rig.deliver(&[chat_ended("warm-up", jane(), json!({}))]);
    rig.org.set_latency(Duration::from_secs(2));
    // c0 keeps the lane busy while c1 and c2 arrive: they are then taken as one batch.
    rig.send(&chat_ended("c0", jane(), json!({}))).unwrap();
    std::thread::sleep(Duration::from_millis(200));
    rig.send(&chat_ended("c1", jane(), json!({}))).unwrap();
    rig.send(&chat_ended("c2", jane(), json!({}))).unwrap();
    rig.wait_for("c0 written", |s| s["queue"]["written"] == 2);
    std::thread::sleep(Duration::from_millis(500)); // c1's request is on its way
    rig.plugin.plugin.shutdown();

    let queue = Queue::open(&rig.state_dir()).unwrap();
    assert_eq!(queue.counts(TENANT).unwrap().pending, 2);
    let due: Vec<_> = queue.due(TENANT, 10).unwrap().events;
    let due: Vec<_> = due.into_iter().map(|e| e.meta).collect();
    // c1's request was cut: it waits for its back-off, as an attempt.
    assert_eq!(due.len(), 1, "{due:?}");
    let c2 = &due[0];
    assert_eq!(c2.event_id, "c2");
    assert_eq!(c2.attempts, 0, "c2 was never sent: {c2:?}");
    assert!(!c2.maybe_applied && !c2.in_flight, "{c2:?}");
}

fn chat_started(id: &str, extra: Value) -> Value {
    let mut event = json!({
        "type": "chat.started", "tenant_id": TENANT, "id": id, "channel": "webchat",
        "at": "2026-11-24T10:00:00Z", "visitor": jane(), "started_at": "2026-11-24T10:00:00Z",
    });
    if let (Some(event), Value::Object(extra)) = (event.as_object_mut(), extra) {
        event.extend(extra);
    }
    event
}

/// A chat whose start failed for good and whose end was written: the end made the whole Case
/// (the transcript does not wait on the admin), and a retry of the start afterwards finds that
/// Case and writes nothing more.
#[test]
fn a_start_retried_after_its_chats_end_was_written_adds_no_second_case() {
    let rig = Connected::start(|s| {
        s["webchat"]["trigger"] = json!("chat_started");
        // Only the start has a request page: the org lacks the field, so only the start fails.
        s["field_mapping"]["Case"] = json!({"Start_Page__c": "chat.request_page"});
    });
    rig.send(&chat_started(
        "c1",
        json!({"request_page": "https://shop.example/pricing"}),
    ))
    .unwrap();
    let status = rig.wait_for("the start failed", |s| s["queue"]["failed"] == 1);
    assert_eq!(
        status["failures"][0]["event_type"], "chat.started",
        "{status}"
    );
    rig.send(&chat_ended("c1", jane(), json!({}))).unwrap();
    rig.wait_for("the end written", |s| {
        s["queue"]["written"] == 1 && s["queue"]["pending"] == 0
    });
    let cases = rig.records("Case");
    assert_eq!(cases.len(), 1);
    let case_id = cases[0]["Id"].clone();
    assert!(
        cases[0]["Description"]
            .as_str()
            .unwrap()
            .contains("Hi there"),
        "the end wrote the transcript: {}",
        cases[0]
    );

    // The admin adds the field and retries the start.
    rig.org
        .seed(&json!({"customFields": [{"object": "Case", "name": "Start_Page__c", "type": "string", "length": 255}]}))
        .unwrap();
    let answer = common::answer(rig.plugin.plugin.retry(TENANT.into(), "c1".into()));
    assert_eq!(answer["requeued"], 1);
    let status = rig.wait_for("the start settled", |s| s["queue"]["written"] == 2);
    assert_eq!(status["queue"]["failed"], 0, "{status}");
    assert_eq!(status["queue"]["pending"], 0, "{status}");
    let cases = rig.records("Case");
    assert_eq!(cases.len(), 1, "no second Case: {cases:?}");
    assert_eq!(cases[0]["Id"], case_id);
    assert!(cases[0]["Description"]
        .as_str()
        .unwrap()
        .contains("Hi there"));
    let heard = rig.heard("the Case written", 1, |n| {
        n["kind"] == "record_written" && n["object"] == "Case"
    });
    let written: Vec<_> = heard
        .iter()
        .filter(|n| n["kind"] == "record_written" && n["object"] == "Case")
        .collect();
    assert!(
        written.iter().all(|n| n["record_id"] == case_id),
        "{written:?}"
    );
}

/// The plugin's log lines that say an event will be retried, by "tenant/chat", and those that
/// hold a tenant because Salesforce is unavailable, by tenant: the plugin logs through the
/// host (the shim's callbacks), into this process's logger.
#[derive(Default)]
struct RetryLog {
    retries: parking_lot::Mutex<HashMap<String, usize>>,
    outage_holds: parking_lot::Mutex<HashMap<String, usize>>,
}

impl RetryLog {
    /// The tenant's chats retried (each try), and its holds for an unavailable Salesforce.
    fn of(&self, tenant: &str) -> (usize, usize) {
        let prefix = format!("{tenant}/");
        // Holds first: the engine logs a turn's hold before the queue logs its retry.
        let holds = self.outage_holds.lock().get(tenant).copied().unwrap_or(0);
        let retries = self.retries.lock();
        let tried = retries.iter().filter(|(k, _)| k.starts_with(&prefix));
        (tried.map(|(_, n)| n).sum(), holds)
    }
}

impl log::Log for RetryLog {
    fn enabled(&self, _: &log::Metadata<'_>) -> bool {
        true
    }

    fn log(&self, record: &log::Record<'_>) {
        let line = record.args().to_string();
        let Some((tenant, said)) = line
            .strip_prefix("tenant ")
            .and_then(|l| l.split_once(": "))
        else {
            return;
        };
        // "tenant T: chat.ended C will be retried: ..."
        if let Some((head, _)) = said.split_once(" will be retried: ") {
            if let Some((_, chat)) = head.split_once(' ') {
                let key = format!("{tenant}/{chat}");
                *self.retries.lock().entry(key).or_default() += 1;
            }
        // "tenant T: Salesforce is unavailable: ...; its other events wait until ..."
        } else if said.starts_with("Salesforce is unavailable") {
            *self
                .outage_holds
                .lock()
                .entry(tenant.to_string())
                .or_default() += 1;
        }
    }

    fn flush(&self) {}
}

fn retry_log() -> &'static RetryLog {
    static LOG: std::sync::OnceLock<&'static RetryLog> = std::sync::OnceLock::new();
    LOG.get_or_init(|| {
        let log: &'static RetryLog = Box::leak(Box::default());
        log::set_logger(log).expect("the only logger of this test binary");
        log::set_max_level(log::LevelFilter::Warn);
        log
    })
}

/// Chat `id` of `tenant`, ended.
fn chat_of(tenant: &str, id: &str) -> Value {
    let mut chat = chat_ended(
        id,
        json!({"email": format!("{id}@{tenant}.example")}),
        json!({}),
    );
    chat["tenant_id"] = json!(tenant);
    chat
}

#[test]
fn a_503_storm_over_several_tenants_is_waited_out_with_back_off_and_loses_nothing() {
    const STORM: Duration = Duration::from_millis(1500);
    let retries = retry_log();
    let rig = Connected::start(|_| {});
    let tenants = ["acme", "storm-b", "storm-c"];
    for tenant in &tenants[1..] {
        rig.configure_tenant(tenant, &connected::settings_for(&rig.org, |_| {}));
        rig.connect_tenant(tenant);
    }
    // Salesforce answers every data request 503 for the length of the storm.
    let org = &rig.org;
    org.fail_next(u32::MAX, FaultKind::Unavailable);
    let started = Instant::now();
    for tenant in tenants {
        for n in 0..4 {
            rig.send(&chat_of(tenant, &format!("c{n}"))).unwrap();
        }
    }
    std::thread::sleep(STORM.saturating_sub(started.elapsed()));
    for tenant in tenants {
        let status = rig.status_of(tenant);
        assert_eq!(status["queue"]["pending"], 4, "{status}");
        assert_eq!(
            status["queue"]["failed"], 0,
            "never failed for good: {status}"
        );
    }
    let during: HashMap<String, usize> = retries.retries.lock().clone();
    org.fail_next(0, FaultKind::Unavailable);
    let storm = started.elapsed();
    assert!(!during.is_empty(), "the storm was met");
    // Never a tight loop: at least the back-off's floor (100 ms) between two tries of an event.
    let most = (storm.as_millis() / 100 + 1) as usize;
    assert!(
        during.values().all(|&n| n <= most),
        "at most {most} tries each in {storm:?}: {during:?}"
    );

    for tenant in tenants {
        rig.wait_for_tenant(tenant, "the storm waited out", |s| {
            s["queue"]["written"] == 4
        });
    }
    let cases = common::cases_by_key(org);
    assert_eq!(cases.len(), 12, "{cases:?}");
    assert!(cases.values().all(|&n| n == 1), "each chat once: {cases:?}");
}

#[test]
fn a_tenant_on_a_limit_hold_or_needing_reconnect_does_not_hold_up_another() {
    let rig = Connected::start(|_| {});
    let other = cloudcx_shim::emulator::Emulator::start(Default::default()).unwrap();
    rig.configure_tenant("beta", &connected::settings_for(&other, |_| {}));
    rig.connect_tenant("beta");

    // acme's org has spent its API calls for the day.
    rig.org.set_api_limit(rig.org.api_calls());
    rig.send(&chat_of(TENANT, "a1")).unwrap();
    let held = rig.held();
    let reason = held["queue"]["held"]["reason"].as_str().unwrap();
    assert!(reason.contains("API limit"), "{held}");
    let started = Instant::now();
    for n in 0..3 {
        rig.send(&chat_of("beta", &format!("b{n}"))).unwrap();
    }
    rig.wait_for_tenant("beta", "beta written", |s| s["queue"]["written"] == 3);
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(rig.status()["queue"]["pending"], 1, "acme still waits");

    // acme's connection breaks (its refresh token revoked), found by an agent's lookup: acme
    // waits for its admin, beta goes on.
    rig.org.set_api_limit(15_000);
    rig.org.revoke_refresh_tokens();
    rig.org.expire_access_tokens();
    let lookup = json!({"tenant_id": TENANT, "visitor": jane()});
    let refused = rig
        .plugin
        .plugin
        .lookup(lookup.to_string().as_str().into(), 3_000);
    assert!(
        matches!(&refused, RResult::RErr(e) if e.code == ErrorCode::NOT_CONNECTED),
        "{refused:?}"
    );
    rig.wait_for("acme needs reconnect", |s| {
        s["connection"]["state"] == "needs_reconnect" && !s["queue"]["held"].is_null()
    });
    let started = Instant::now();
    for n in 3..6 {
        rig.send(&chat_of("beta", &format!("b{n}"))).unwrap();
    }
    rig.wait_for_tenant("beta", "beta written", |s| s["queue"]["written"] == 6);
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(rig.status()["queue"]["pending"], 1);

    rig.connect();
    rig.delivered();
    assert_eq!(common::cases_by_key(&rig.org).get("acme/a1"), Some(&1));
    assert_eq!(common::cases_by_key(&other).len(), 6);
}

#[test]
fn a_chats_start_and_end_apply_in_order_under_concurrent_hooks() {
    const THREADS: usize = 8;
    const CHATS: usize = 10;
    let rig = Connected::start(|s| {
        s["webchat"]["trigger"] = json!("chat_started");
        // Only the start carries a request page: a Case that has it was made by the start and
        // completed by the end (an end applied first makes the whole Case, and the start after
        // it adds nothing).
        s["field_mapping"]["Case"] = json!({"SuppliedCompany": "chat.request_page"});
    });
    std::thread::scope(|scope| {
        for t in 0..THREADS {
            let rig = &rig;
            scope.spawn(move || {
                for n in 0..CHATS {
                    let id = format!("t{t}-c{n}");
                    let page = json!({"request_page": format!("page-{id}")});
                    rig.send(&chat_started(&id, page)).unwrap();
                    rig.send(&chat_ended(&id, jane(), json!({}))).unwrap();
                }
            });
        }
    });
    let status = rig.wait_for("every event written", |s| {
        s["queue"]["written"] == THREADS * CHATS * 2
    });
    assert_eq!(status["queue"]["failed"], 0, "{status}");
    let cases = rig.records("Case");
    assert_eq!(cases.len(), THREADS * CHATS);
    for case in &cases {
        let subject = case["Subject"].as_str().unwrap();
        let id = subject
            .rsplit_once("[CloudCX acme/")
            .unwrap()
            .1
            .trim_end_matches(']');
        assert_eq!(
            case["SuppliedCompany"],
            format!("page-{id}"),
            "made at the start: {case}"
        );
        assert!(
            case["Description"].as_str().unwrap().contains("Hi there"),
            "completed at the end: {case}"
        );
    }
}

/// Starts the rig's plugin again on its state with one worker: whatever time it spends on one
/// tenant, the others wait for. The host hands the settings over again.
fn with_one_worker(rig: &mut Connected) {
    rig.plugin.plugin.shutdown();
    let state = rig.state_dir();
    let mut config: Value =
        serde_json::from_str(&common::host_config(state.parent().unwrap())).unwrap();
    config["workers"] = json!(1);
    rig.plugin = cloudcx_shim::loader::start(&common::plugin_path(), &config.to_string())
        .unwrap_or_else(|e| panic!("{e}"));
    rig.configure(&connected::settings_for(&rig.org, |_| {}));
}

#[test]
fn one_worker_delivers_a_tenant_promptly_while_anothers_salesforce_is_down_and_each_chat_once() {
    // Tenants of their own: the other tests of this binary log retries of theirs meanwhile.
    let (down, up) = ("down", "up");
    let log = retry_log();
    let mut rig = Connected::start(|_| {});
    with_one_worker(&mut rig);
    rig.configure_tenant(down, &connected::settings_for(&rig.org, |_| {}));
    rig.connect_tenant(down);
    let other = cloudcx_shim::emulator::Emulator::start(Default::default()).unwrap();
    rig.configure_tenant(up, &connected::settings_for(&other, |_| {}));
    rig.connect_tenant(up);

    // The first tenant's Salesforce answers every call 503, and slowly.
    rig.org.set_latency(Duration::from_millis(200));
    rig.org.fail_next(u32::MAX, FaultKind::Unavailable);
    for n in 0..10 {
        rig.send(&chat_of(down, &format!("c{n}"))).unwrap();
    }
    let held = rig.wait_for_tenant(down, "a hold", |s| !s["queue"]["held"].is_null());
    let reason = held["queue"]["held"]["reason"].as_str().unwrap();
    assert!(
        reason.starts_with("Salesforce is unavailable") && reason.contains("503"),
        "{held}"
    );
    let started = Instant::now();
    for n in 0..5 {
        rig.send(&chat_of(up, &format!("c{n}"))).unwrap();
    }
    rig.wait_for_tenant(up, "the other written", |s| s["queue"]["written"] == 5);
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
    // Meanwhile the first tenant's turns stopped at their first failure: one chat tried per
    // hold, the others left waiting untried.
    let (retries, holds) = log.of(down);
    assert!(
        1 <= retries && retries <= holds,
        "{retries} tries, {holds} holds"
    );
    let status = rig.status_of(down);
    assert_eq!(status["queue"]["pending"], 10, "{status}");
    assert_eq!(status["queue"]["failed"], 0, "{status}");

    rig.org.fail_next(0, FaultKind::Unavailable);
    rig.org.set_latency(Duration::ZERO);
    rig.wait_for_tenant(down, "its Salesforce back", |s| s["queue"]["pending"] == 0);
    for (org, tenant, chats) in [(&rig.org, down, 10), (&other, up, 5)] {
        let cases = common::cases_by_key(org);
        assert_eq!(cases.len(), chats, "{tenant}: {cases:?}");
        assert!(cases.values().all(|&n| n == 1), "each chat once: {cases:?}");
    }
}
