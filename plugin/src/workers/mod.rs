//! The worker pool: per-tenant lanes over the durable queue.
//!
//! A tenant is worked by one worker at a time, which takes its due events as one batch (so the
//! sync engine can combine them), hands them to a [`Deliver`], and records each outcome in the
//! queue before taking the next batch. Tenants are served round-robin, so one tenant's outage,
//! broken connection or exhausted API limit (a [`Hold`]) never delays another.

mod lanes;

use std::collections::HashSet;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime};

use parking_lot::{Condvar, Mutex};
use serde_json::json;

use crate::queue::{Queue, QueuedEvent, Settlement};
use lanes::{Lanes, Next};

/// Events handed to the deliverer at once, at most.
pub const BATCH_MAX: usize = 200;

/// How long to wait before looking again after the queue itself failed.
const QUEUE_TROUBLE_PAUSE: Duration = Duration::from_secs(5);

/// Delivers a tenant's events to Salesforce (the sync engine implements it).
pub trait Deliver: Send + Sync + 'static {
    /// Delivers a batch of one tenant's due events, in arrival order. Answers an outcome for
    /// each event it attempted; events it did not attempt stay due (it must then say why with a
    /// [`Hold`]). It should return promptly once `stop` is set.
    fn deliver(&self, tenant: &str, batch: &[QueuedEvent], stop: &StopSignal) -> Delivery;
}

/// What the host hears about deliveries (host contract §5), as JSON.
pub trait Notify: Send + Sync + 'static {
    fn notify(&self, notification: serde_json::Value);
}

#[derive(Debug, Default)]
pub struct Delivery {
    pub outcomes: Vec<(u64, Outcome)>,
    /// Set when the tenant must pause (rate limit, broken connection).
    pub hold: Option<Hold>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Written to Salesforce.
    Delivered(Vec<WrittenRecord>),
    /// Not now: try again after a back-off. `maybe_applied` when the request may have been
    /// applied although its answer was lost (a timeout, a dropped connection).
    Retry { reason: String, maybe_applied: bool },
    /// Salesforce rejected it for good.
    Failed { code: String, message: String },
}

/// A Salesforce record a delivery wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WrittenRecord {
    pub object: String,
    pub id: String,
    pub url: String,
}

/// Why a tenant's lane pauses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Hold {
    /// Until a time (an API limit window).
    Until(SystemTime, String),
    /// Until [`Workers::resume`] (a connection that needs the admin: reconnect, disconnected).
    UntilResumed(String),
}

/// Set when the pool shuts down.
#[derive(Clone, Default)]
pub struct StopSignal(Arc<AtomicBool>);

impl StopSignal {
    pub fn is_set(&self) -> bool {
        self.0.load(Ordering::SeqCst)
    }

    fn set(&self) {
        self.0.store(true, Ordering::SeqCst);
    }
}

struct Shared {
    queue: Arc<Queue>,
    deliver: Arc<dyn Deliver>,
    notify: Arc<dyn Notify>,
    lanes: Mutex<Lanes>,
    changed: Condvar,
    /// Told whenever a turn ends.
    turn_ended: Condvar,
    stop: StopSignal,
}

pub struct Workers {
    shared: Arc<Shared>,
    threads: Mutex<Vec<JoinHandle<()>>>,
}

impl Workers {
    /// Starts `count` workers, with every tenant that has events waiting already in line.
    pub fn start(
        count: usize,
        queue: Arc<Queue>,
        deliver: Arc<dyn Deliver>,
        notify: Arc<dyn Notify>,
    ) -> std::io::Result<Workers> {
        let shared = Arc::new(Shared {
            queue,
            deliver,
            notify,
            lanes: Mutex::new(Lanes::default()),
            changed: Condvar::new(),
            turn_ended: Condvar::new(),
            stop: StopSignal::default(),
        });
        match shared.queue.tenants_with_pending() {
            Ok(tenants) => {
                let mut lanes = shared.lanes.lock();
                for tenant in tenants {
                    lanes.wake(&tenant);
                }
            }
            Err(e) => log::error!("cannot list the waiting events: {e}"),
        }
        let mut threads = Vec::with_capacity(count);
        for n in 0..count {
            let shared = shared.clone();
            threads.push(
                std::thread::Builder::new()
                    .name(format!("cloudcx-salesforce-worker-{n}"))
                    .spawn(move || work(&shared))?,
            );
        }
        Ok(Workers {
            shared,
            threads: Mutex::new(threads),
        })
    }

    /// The tenant has new events.
    pub fn wake(&self, tenant: &str) {
        if self.shared.lanes.lock().wake(tenant) {
            self.shared.changed.notify_one();
        }
    }

    /// Lifts a tenant's hold (it reconnected) and looks at its events again.
    pub fn resume(&self, tenant: &str) {
        let mut lanes = self.shared.lanes.lock();
        lanes.release(tenant);
        if lanes.wake(tenant) {
            self.shared.changed.notify_one();
        }
    }

    /// Holds the tenant's lane until [`resume`](Self::resume), and waits for a turn under way
    /// to end: once this returns, nothing of the tenant is being delivered.
    pub fn pause(&self, tenant: &str, why: &str) {
        let mut lanes = self.shared.lanes.lock();
        lanes.pause(tenant, Hold::UntilResumed(why.to_string()));
        while lanes.is_busy(tenant) {
            self.shared.turn_ended.wait(&mut lanes);
        }
    }

    /// Why the tenant's lane is paused, if it is.
    pub fn hold(&self, tenant: &str) -> Option<Hold> {
        self.shared.lanes.lock().hold(tenant)
    }

    /// Stops taking work: no worker takes another batch, and a delivery under way is told to
    /// stop before its next event (see [`Deliver::deliver`]). Does not wait for them.
    pub fn stop(&self) {
        self.shared.stop.set();
        // Taking the lock orders the stop before any worker's next wait.
        let _lanes = self.shared.lanes.lock();
        self.shared.changed.notify_all();
    }

    /// Stops taking work and joins every worker; what was not delivered stays queued.
    pub fn shutdown(&self) {
        self.stop();
        for thread in self.threads.lock().drain(..) {
            let _ = thread.join();
        }
    }
}

impl Drop for Workers {
    fn drop(&mut self) {
        self.shutdown();
    }
}

fn work(shared: &Shared) {
    while let Some(tenant) = next_tenant(shared) {
        let next = run_lane(shared, &tenant);
        let mut lanes = shared.lanes.lock();
        if lanes.finish(&tenant, next) {
            shared.changed.notify_one();
        }
        shared.turn_ended.notify_all();
    }
}

/// Waits for a tenant with due work; `None` once the pool stops.
fn next_tenant(shared: &Shared) -> Option<String> {
    let mut lanes = shared.lanes.lock();
    loop {
        if shared.stop.is_set() {
            return None;
        }
        let now = Instant::now();
        if let Some(tenant) = lanes.take_ready(now) {
            return Some(tenant);
        }
        match lanes.next_timer() {
            Some(at) => {
                shared.changed.wait_until(&mut lanes, at);
            }
            None => shared.changed.wait(&mut lanes),
        }
    }
}

/// One turn of a tenant's lane: a batch delivered and settled.
fn run_lane(shared: &Shared, tenant: &str) -> Next {
    let batch = match shared.queue.due(tenant, BATCH_MAX) {
        Ok(batch) => batch,
        Err(e) => {
            log::error!("tenant {tenant}: cannot read waiting events: {e}");
            return Next::At(Instant::now() + QUEUE_TROUBLE_PAUSE);
        }
    };
    if batch.events.is_empty() {
        return batch
            .next_due
            .map_or(Next::Idle, |due| Next::At(instant_of(due)));
    }
    // Before any request leaves: a crash from here on leaves the events "may have been applied".
    // All of the batch, since which the deliverer will attempt is not known yet; those it does
    // not attempt are cleared when the turn is settled.
    if let Err(e) = shared.queue.mark_in_flight(tenant, &batch.events) {
        log::error!("tenant {tenant}: cannot record the attempt: {e}");
        return Next::At(Instant::now() + QUEUE_TROUBLE_PAUSE);
    }
    let delivery = catch_unwind(AssertUnwindSafe(|| {
        shared.deliver.deliver(tenant, &batch.events, &shared.stop)
    }))
    .unwrap_or_else(|panic| {
        let what = crate::panic_message(&*panic);
        log::error!("tenant {tenant}: delivery panicked ({what}); its events will be retried");
        Delivery {
            outcomes: batch
                .events
                .iter()
                .map(|e| {
                    let reason = format!("the plugin failed unexpectedly: {what}");
                    (
                        e.seq,
                        Outcome::Retry {
                            reason,
                            maybe_applied: true,
                        },
                    )
                })
                .collect(),
            hold: None,
        }
    });
    let attempted = delivery.outcomes.len();
    // Settled in the same commit: each outcome, and the events the deliverer did not get to,
    // which are no longer in flight (a restart must not take them for possibly applied).
    if let Err(e) = settle(shared, tenant, &batch.events, delivery.outcomes) {
        log::error!("tenant {tenant}: cannot record delivery outcomes: {e}");
        return Next::At(Instant::now() + QUEUE_TROUBLE_PAUSE);
    }
    match delivery.hold {
        Some(hold) => Next::Hold(hold),
        None if attempted == 0 => {
            log::error!(
                "tenant {tenant}: the deliverer attempted none of {} events",
                batch.events.len()
            );
            Next::At(Instant::now() + QUEUE_TROUBLE_PAUSE)
        }
        None => Next::Again,
    }
}

fn settle(
    shared: &Shared,
    tenant: &str,
    events: &[QueuedEvent],
    outcomes: Vec<(u64, Outcome)>,
) -> Result<(), crate::queue::QueueError> {
    let mut settlements = Vec::with_capacity(outcomes.len());
    let mut notifications = Vec::new();
    for (seq, outcome) in outcomes {
        let Some(event) = events.iter().find(|e| e.seq == seq) else {
            log::error!("tenant {tenant}: an outcome for event {seq}, which was not in the batch");
            continue;
        };
        let settlement = match outcome {
            Outcome::Delivered(records) => {
                notifications.extend(records.into_iter().map(|r| {
                    json!({"kind": "record_written", "tenant_id": tenant, "event_id": event.meta.event_id,
                           "object": r.object, "record_id": r.id, "url": r.url})
                }));
                Settlement::Delivered
            }
            Outcome::Retry {
                reason,
                maybe_applied,
            } => {
                log::warn!(
                    "tenant {tenant}: {} {} will be retried: {reason}",
                    event.meta.kind,
                    event.meta.event_id
                );
                Settlement::Retry {
                    reason,
                    maybe_applied,
                }
            }
            Outcome::Failed { code, message } => {
                log::error!(
                    "tenant {tenant}: {} {} failed for good: {code}: {message}",
                    event.meta.kind,
                    event.meta.event_id
                );
                notifications.push(json!({"kind": "delivery_failed", "tenant_id": tenant,
                    "event_id": event.meta.event_id, "event_type": event.meta.kind,
                    "error_code": code, "message": message}));
                Settlement::Failed { code, message }
            }
        };
        settlements.push((event, settlement));
    }
    let attempted: HashSet<u64> = settlements.iter().map(|(e, _)| e.seq).collect();
    settlements.extend(
        events
            .iter()
            .filter(|e| !attempted.contains(&e.seq))
            .map(|e| (e, Settlement::NotAttempted)),
    );
    shared.queue.settle(tenant, settlements)?;
    // Only once the outcome is on disk: a notification never announces what a crash could undo.
    for notification in notifications {
        shared.notify.notify(notification);
    }
    Ok(())
}

fn instant_of(at: SystemTime) -> Instant {
    let now = Instant::now();
    match at.duration_since(SystemTime::now()) {
        Ok(ahead) => now + ahead,
        Err(_) => now,
    }
}

#[cfg(test)]
mod tests;
