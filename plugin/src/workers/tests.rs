use std::collections::HashMap;
use std::time::Duration;

use super::*;

/// A deliverer whose behaviour per tenant the test sets, recording what it was given.
#[derive(Default)]
struct Scripted {
    /// Tenant → what to answer for each event of a batch.
    plans: Mutex<HashMap<String, Plan>>,
    delivered: Mutex<Vec<(String, String, String)>>,
}

#[derive(Clone)]
enum Plan {
    Deliver,
    /// Retry this many times, then deliver.
    RetryFirst(u32),
    Fail,
    HoldUntilResumed,
    /// Deliver this many events of a batch, then hold (an API limit met mid-batch).
    DeliverThenHold(usize),
    /// Take this long per batch (a slow or unreachable Salesforce).
    Slow(Duration),
}

impl Deliver for Scripted {
    fn deliver(&self, tenant: &str, batch: &[QueuedEvent], stop: &StopSignal) -> Delivery {
        let plan = self
            .plans
            .lock()
            .get(tenant)
            .cloned()
            .unwrap_or(Plan::Deliver);
        let mut delivery = Delivery::default();
        match plan {
            Plan::HoldUntilResumed => {
                delivery.hold = Some(Hold::UntilResumed("needs reconnect".into()));
                return delivery;
            }
            Plan::DeliverThenHold(n) => {
                for event in batch.iter().take(n) {
                    let outcome = Outcome::Delivered(Vec::new());
                    delivery.outcomes.push((event.seq, outcome));
                }
                let until = SystemTime::now() + Duration::from_secs(3600);
                delivery.hold = Some(Hold::Until(until, "API limit".into()));
                return delivery;
            }
            Plan::Slow(pause) => {
                let until = Instant::now() + pause;
                while Instant::now() < until && !stop.is_set() {
                    std::thread::sleep(Duration::from_millis(10));
                }
                if stop.is_set() {
                    let interrupted = |e: &QueuedEvent| {
                        let reason = "interrupted by shutdown".to_string();
                        (
                            e.seq,
                            Outcome::Retry {
                                reason,
                                maybe_applied: false,
                            },
                        )
                    };
                    delivery.outcomes = batch.iter().map(interrupted).collect();
                    return delivery;
                }
            }
            _ => {}
        }
        for event in batch {
            let outcome = match plan {
                Plan::RetryFirst(n) if event.meta.attempts < n => Outcome::Retry {
                    reason: "503 Service Unavailable".into(),
                    maybe_applied: false,
                },
                Plan::Fail => Outcome::Failed {
                    code: "REQUIRED_FIELD_MISSING".into(),
                    message: "Required fields are missing: [LastName]".into(),
                },
                _ => {
                    self.delivered.lock().push((
                        tenant.to_string(),
                        event.meta.kind.clone(),
                        event.meta.event_id.clone(),
                    ));
                    Outcome::Delivered(vec![WrittenRecord {
                        object: "Case".into(),
                        id: format!("500{}", event.seq),
                        url: "https://x/lightning/r/Case/500/view".into(),
                    }])
                }
            };
            delivery.outcomes.push((event.seq, outcome));
        }
        delivery
    }
}

#[derive(Default)]
struct Heard(Mutex<Vec<serde_json::Value>>);

impl Notify for Heard {
    fn notify(&self, notification: serde_json::Value) {
        self.0.lock().push(notification);
    }
}

struct Rig {
    _dir: tempfile::TempDir,
    queue: Arc<Queue>,
    deliver: Arc<Scripted>,
    heard: Arc<Heard>,
    workers: Workers,
}

fn rig(workers: usize, plans: &[(&str, Plan)]) -> Rig {
    let dir = tempfile::tempdir().unwrap();
    let queue = Arc::new(Queue::open(dir.path()).unwrap());
    let deliver = Arc::new(Scripted::default());
    for (tenant, plan) in plans {
        deliver
            .plans
            .lock()
            .insert(tenant.to_string(), plan.clone());
    }
    let heard = Arc::new(Heard::default());
    let workers = Workers::start(workers, queue.clone(), deliver.clone(), heard.clone()).unwrap();
    Rig {
        _dir: dir,
        queue,
        deliver,
        heard,
        workers,
    }
}

impl Rig {
    fn enqueue(&self, tenant: &str, kind: &str, chat: &str) {
        self.queue
            .append(tenant, kind, chat, b"{}".to_vec())
            .unwrap();
        self.workers.wake(tenant);
    }

    fn wait_until(&self, what: &str, done: impl Fn() -> bool) {
        let deadline = Instant::now() + Duration::from_secs(10);
        while !done() {
            assert!(Instant::now() < deadline, "timed out waiting until {what}");
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    fn delivered_of(&self, tenant: &str) -> Vec<(String, String)> {
        self.deliver
            .delivered
            .lock()
            .iter()
            .filter(|(t, _, _)| t == tenant)
            .map(|(_, kind, chat)| (kind.clone(), chat.clone()))
            .collect()
    }
}

#[test]
fn every_event_is_delivered_once_and_each_chat_in_order() {
    let rig = rig(4, &[]);
    for chat in 0..30 {
        for tenant in ["a", "b", "c"] {
            rig.enqueue(tenant, "chat.started", &format!("c{chat}"));
        }
    }
    for chat in 0..30 {
        for tenant in ["a", "b", "c"] {
            rig.enqueue(tenant, "chat.ended", &format!("c{chat}"));
        }
    }
    rig.wait_until("all delivered", || {
        ["a", "b", "c"]
            .iter()
            .all(|t| rig.queue.counts(t).unwrap().written == 60)
    });
    for tenant in ["a", "b", "c"] {
        let delivered = rig.delivered_of(tenant);
        for chat in 0..30 {
            let chat = format!("c{chat}");
            let positions: Vec<_> = delivered
                .iter()
                .enumerate()
                .filter(|(_, (_, c))| *c == chat)
                .map(|(i, (kind, _))| (kind.clone(), i))
                .collect();
            assert_eq!(
                positions.len(),
                2,
                "{tenant}/{chat} delivered exactly twice: {positions:?}"
            );
            assert_eq!(
                positions[0].0, "chat.started",
                "{tenant}/{chat}: start first"
            );
        }
        assert_eq!(rig.queue.counts(tenant).unwrap().written, 60);
        assert_eq!(rig.queue.counts(tenant).unwrap().pending, 0);
    }
    assert_eq!(
        rig.heard.0.lock().len(),
        180,
        "one record_written per record"
    );
}

#[test]
fn one_tenants_outage_does_not_delay_another() {
    let rig = rig(2, &[("down", Plan::Slow(Duration::from_secs(30)))]);
    rig.enqueue("down", "chat.ended", "d1");
    std::thread::sleep(Duration::from_millis(50)); // the slow delivery is under way
    let started = Instant::now();
    for chat in 0..20 {
        rig.enqueue("up", "chat.ended", &format!("u{chat}"));
    }
    rig.wait_until("the healthy tenant is delivered", || {
        rig.delivered_of("up").len() == 20
    });
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
    assert!(rig.delivered_of("down").is_empty());

    // Shutdown interrupts the slow delivery promptly and loses nothing.
    let stopping = Instant::now();
    rig.workers.shutdown();
    assert!(
        stopping.elapsed() < Duration::from_secs(1),
        "{:?}",
        stopping.elapsed()
    );
    assert_eq!(rig.queue.counts("down").unwrap().pending, 1);
}

#[test]
fn retries_after_a_back_off_until_delivered() {
    let rig = rig(1, &[("t", Plan::RetryFirst(1))]);
    rig.enqueue("t", "chat.ended", "c1");
    rig.wait_until("delivered after a retry", || {
        rig.queue.counts("t").unwrap().written == 1
    });
    assert_eq!(rig.delivered_of("t").len(), 1);
}

#[test]
fn a_failure_for_good_is_kept_and_notified() {
    let rig = rig(1, &[("t", Plan::Fail)]);
    rig.enqueue("t", "chat.ended", "c1");
    rig.wait_until("failed", || rig.queue.counts("t").unwrap().failed == 1);
    let failed = rig.queue.failed("t", 10).unwrap();
    assert_eq!(failed[0].code, "REQUIRED_FIELD_MISSING");
    rig.wait_until("notified", || !rig.heard.0.lock().is_empty());
    let heard = rig.heard.0.lock()[0].clone();
    assert_eq!(heard["kind"], "delivery_failed");
    assert_eq!(heard["event_id"], "c1");
    assert_eq!(heard["error_code"], "REQUIRED_FIELD_MISSING");
}

#[test]
fn a_held_tenant_keeps_its_events_until_resumed() {
    let rig = rig(2, &[("t", Plan::HoldUntilResumed)]);
    rig.enqueue("t", "chat.ended", "c1");
    rig.wait_until("held", || rig.workers.hold("t").is_some());
    rig.enqueue("t", "chat.ended", "c2");
    std::thread::sleep(Duration::from_millis(100));
    assert_eq!(
        rig.queue.counts("t").unwrap().pending,
        2,
        "nothing dropped while held"
    );
    rig.deliver.plans.lock().insert("t".into(), Plan::Deliver);
    rig.workers.resume("t");
    rig.wait_until("delivered after resume", || {
        rig.delivered_of("t").len() == 2
    });
    assert_eq!(rig.workers.hold("t"), None);
}

#[test]
fn events_waiting_at_start_are_picked_up() {
    let dir = tempfile::tempdir().unwrap();
    {
        let queue = Queue::open(dir.path()).unwrap();
        queue
            .append("t", "chat.ended", "c1", b"{}".to_vec())
            .unwrap();
    }
    let queue = Arc::new(Queue::open(dir.path()).unwrap());
    let deliver = Arc::new(Scripted::default());
    let workers = Workers::start(
        1,
        queue.clone(),
        deliver.clone(),
        Arc::new(Heard::default()),
    )
    .unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while queue.counts("t").unwrap().written == 0 {
        assert!(Instant::now() < deadline, "the waiting event was delivered");
        std::thread::sleep(Duration::from_millis(10));
    }
    workers.shutdown();
}

#[test]
fn events_a_hold_kept_from_being_attempted_are_not_taken_for_possibly_applied() {
    let rig = rig(
        1,
        &[
            ("t", Plan::HoldUntilResumed),
            ("u", Plan::DeliverThenHold(1)),
        ],
    );
    rig.enqueue("t", "chat.ended", "c1");
    rig.enqueue("u", "chat.ended", "d1");
    rig.enqueue("u", "chat.ended", "d2");
    rig.wait_until("both held", || {
        rig.workers.hold("t").is_some() && rig.workers.hold("u").is_some()
    });
    rig.workers.shutdown();
    // As a restart reads them.
    for tenant in ["t", "u"] {
        for event in rig.queue.due(tenant, 10).unwrap().events {
            assert!(!event.meta.in_flight, "{tenant}: {:?}", event.meta);
            assert!(!event.meta.maybe_applied, "{tenant}: {:?}", event.meta);
            assert_eq!(event.meta.attempts, 0, "{tenant}: {:?}", event.meta);
        }
    }
    assert_eq!(rig.queue.counts("u").unwrap().written, 1);
    assert_eq!(rig.queue.counts("u").unwrap().pending, 1);
}

#[test]
fn a_doubt_left_by_a_crash_outlives_a_hold_at_the_next_start() {
    let dir = tempfile::tempdir().unwrap();
    {
        let queue = Queue::open(dir.path()).unwrap();
        queue
            .append("t", "chat.ended", "c1", b"{}".to_vec())
            .unwrap();
        let batch = queue.due("t", 10).unwrap();
        queue.mark_in_flight("t", &batch.events).unwrap();
        // The process dies mid-attempt.
    }
    let queue = Arc::new(Queue::open(dir.path()).unwrap());
    let deliver = Arc::new(Scripted::default());
    deliver
        .plans
        .lock()
        .insert("t".into(), Plan::HoldUntilResumed); // no settings yet, say
    let workers = Workers::start(1, queue.clone(), deliver, Arc::new(Heard::default())).unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while workers.hold("t").is_none() {
        assert!(Instant::now() < deadline, "held");
        std::thread::sleep(Duration::from_millis(10));
    }
    workers.shutdown();
    let meta = &queue.due("t", 10).unwrap().events[0].meta;
    assert!(meta.maybe_applied && !meta.in_flight, "{meta:?}");
}

#[test]
fn a_pause_waits_for_the_turn_under_way_and_holds_the_tenant_until_resumed() {
    let rig = rig(2, &[("t", Plan::Slow(Duration::from_millis(300)))]);
    rig.enqueue("t", "chat.ended", "c1");
    std::thread::sleep(Duration::from_millis(50)); // the slow delivery is under way
    rig.workers.pause("t", "switching orgs");
    assert_eq!(
        rig.queue.counts("t").unwrap().written,
        1,
        "the turn under way ended (and settled) before the pause returned"
    );
    rig.enqueue("t", "chat.ended", "c2");
    std::thread::sleep(Duration::from_millis(400));
    assert_eq!(rig.queue.counts("t").unwrap().pending, 1, "paused");
    assert_eq!(
        rig.workers.hold("t"),
        Some(Hold::UntilResumed("switching orgs".into()))
    );
    rig.workers.resume("t");
    rig.wait_until("delivered after resume", || {
        rig.queue.counts("t").unwrap().written == 2
    });
}
