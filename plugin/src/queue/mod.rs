//! The durable queue: when a hook returns OK, its event is on disk.
//!
//! Every write goes through one committer thread ([`committer`]), which writes all that wait at
//! that moment in one transaction (one flush) and then answers each: many concurrent hooks share
//! a flush (group commit) instead of queueing behind one fsync each, and the workers' writes
//! (in-flight marks, settlements, remembered records) share the hooks' flushes. A failed commit
//! is an error answer to every write in it; nothing is acknowledged that is not on disk.
//!
//! The queue lives in `state_dir/queue.redb`; redb locks the file, so a second host process
//! opening the same `state_dir` is refused ([`QueueError::InUse`]).

mod backoff;
mod committer;
mod store;

use std::fmt;
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

pub use backoff::retry_delay;
use committer::Committer;
pub use store::{FailedMeta, PendingMeta};
use store::{NewEvent, Place, Settle, Store};

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum QueueError {
    /// Another process holds the queue file.
    InUse(PathBuf),
    /// The disk or the file failed (full, unwritable, I/O error); nothing was accepted.
    Storage(String),
    /// The file holds something this version cannot read.
    Corrupt(String),
    /// The queue is closed (the plugin is shutting down).
    Closed,
}

impl QueueError {
    fn storage(path: &Path, e: impl fmt::Display) -> QueueError {
        QueueError::Storage(format!("{}: {e}", path.display()))
    }
}

impl fmt::Display for QueueError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            QueueError::InUse(path) => write!(
                f,
                "{} is in use by another process: only one host process may use a state_dir",
                path.display()
            ),
            QueueError::Storage(e) => write!(f, "the event queue cannot be written: {e}"),
            QueueError::Corrupt(e) => write!(f, "the event queue holds unreadable data: {e}"),
            QueueError::Closed => f.write_str("the event queue is closed"),
        }
    }
}

impl std::error::Error for QueueError {}

/// An event taken from the queue for delivery.
#[derive(Debug, Clone)]
pub struct QueuedEvent {
    pub seq: u64,
    pub meta: PendingMeta,
    /// The event as the host sent it.
    pub payload: Vec<u8>,
}

impl QueuedEvent {
    fn place(&self) -> Place {
        Place {
            seq: self.seq,
            chat: self.meta.event_id.clone(),
        }
    }
}

/// What became of an attempted event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Settlement {
    Delivered,
    /// Try again after a back-off.
    Retry {
        reason: String,
        maybe_applied: bool,
    },
    /// Rejected for good: kept with the reason.
    Failed {
        code: String,
        message: String,
    },
    /// Taken for a delivery that did not get to it (a hold, a shutdown): due as before, and no
    /// longer in flight.
    NotAttempted,
}

/// A tenant's events due now, and when its next waiting one is due.
pub struct DueBatch {
    pub events: Vec<QueuedEvent>,
    pub next_due: Option<SystemTime>,
}

/// A Salesforce record a chat became: its Case or Task, or the Contact or Lead made for it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ActivityRecord {
    pub object: String,
    pub id: String,
}

/// What a chat's start wrote (a `*_started` trigger), kept until its end completes the Case or
/// Task: the end completes it whatever the trigger is by then, and finishes the Contact or Lead
/// the start made with what only the end knows.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Started {
    /// The owner the start gave the records (`None`: the connecting user's default).
    pub owner: Option<String>,
    /// The Contact or Lead the start made (not one it found), and the fields it wrote with the
    /// visitor's own values (not placeholders).
    pub made: Option<(ActivityRecord, Vec<String>)>,
}

/// A tenant's counts, for `status`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Counts {
    pub pending: u64,
    pub written: u64,
    pub failed: u64,
}

pub struct Queue {
    store: std::sync::Arc<Store>,
    committer: Committer,
}

impl Queue {
    /// Opens (or creates) the queue in `state_dir`.
    pub fn open(state_dir: &Path) -> Result<Queue, QueueError> {
        let path = state_dir.join("queue.redb");
        let store = Store::open(&path)?;
        // Chats are personal data: the owner only.
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600))
                .map_err(|e| QueueError::storage(&path, e))?;
        }
        Self::start(store)
    }

    fn start(store: Store) -> Result<Queue, QueueError> {
        let store = std::sync::Arc::new(store);
        Ok(Queue {
            committer: Committer::start(store.clone())?,
            store,
        })
    }

    /// Appends an event and returns once it is durable.
    pub fn append(
        &self,
        tenant: &str,
        kind: &str,
        event_id: &str,
        payload: Vec<u8>,
    ) -> Result<u64, QueueError> {
        let event = [NewEvent {
            tenant: tenant.to_string(),
            kind: kind.to_string(),
            event_id: event_id.to_string(),
            payload,
        }];
        let store = self.store.clone();
        let seqs = self.committer.write(true, move |tables, pending| {
            store.append(tables, pending, &event, now_ms())
        })?;
        Ok(seqs.start)
    }

    /// Up to `max` of the tenant's due events, the earliest due first, each chat's events in
    /// order (one at a time).
    pub fn due(&self, tenant: &str, max: usize) -> Result<DueBatch, QueueError> {
        let due = self.store.due(tenant, now_ms(), max)?;
        Ok(DueBatch {
            events: due
                .events
                .into_iter()
                .map(|(seq, meta, payload)| QueuedEvent { seq, meta, payload })
                .collect(),
            next_due: due.next_due_ms.map(from_ms),
        })
    }

    /// Records what became of attempted events; a retry is scheduled with a back-off that grows
    /// with the event's attempts.
    pub fn settle(
        &self,
        tenant: &str,
        outcomes: Vec<(&QueuedEvent, Settlement)>,
    ) -> Result<(), QueueError> {
        let now = now_ms();
        let settles = outcomes
            .into_iter()
            .map(|(event, outcome)| {
                let settle = match outcome {
                    Settlement::Delivered => Settle::Delivered,
                    // Once possibly applied, always: only a delivery settles the doubt.
                    Settlement::Retry {
                        reason,
                        maybe_applied,
                    } => Settle::Retry {
                        due_ms: now + retry_delay(event.meta.attempts).as_millis() as u64,
                        reason,
                        maybe_applied: maybe_applied || event.meta.maybe_applied,
                    },
                    Settlement::Failed { code, message } => Settle::Failed {
                        code,
                        message,
                        now_ms: now,
                    },
                    // A doubt from before this attempt (a crash mid-attempt) stays.
                    Settlement::NotAttempted => Settle::NotAttempted {
                        maybe_applied: event.meta.maybe_applied,
                    },
                };
                (event.place(), settle)
            })
            .collect::<Vec<_>>();
        let tenant = tenant.to_string();
        self.committer.write(true, move |tables, pending| {
            store::settle(tables, pending, &tenant, &settles)
        })
    }

    /// Records that attempts on these events start now (see [`PendingMeta::in_flight`]).
    pub fn mark_in_flight(&self, tenant: &str, events: &[QueuedEvent]) -> Result<(), QueueError> {
        let places: Vec<Place> = events.iter().map(QueuedEvent::place).collect();
        let tenant = tenant.to_string();
        self.committer.write(true, move |tx, _| {
            store::mark_in_flight(tx, &tenant, &places)
        })
    }

    /// Re-queues the tenant's failed events (all, or one chat's); answers how many.
    pub fn requeue_failed(
        &self,
        tenant: &str,
        event_id: Option<&str>,
    ) -> Result<usize, QueueError> {
        let (tenant, event_id) = (tenant.to_string(), event_id.map(str::to_string));
        let now = now_ms();
        self.committer.write(true, move |tables, pending| {
            store::requeue_failed(tables, pending, &tenant, event_id.as_deref(), now)
        })
    }

    /// The tenant's failed events, oldest first, at most `max`.
    pub fn failed(&self, tenant: &str, max: usize) -> Result<Vec<FailedMeta>, QueueError> {
        self.store.failed(tenant, max)
    }

    pub fn counts(&self, tenant: &str) -> Result<Counts, QueueError> {
        Ok(Counts {
            pending: self.store.pending(tenant)?,
            written: self.store.count(tenant, store::WRITTEN_COUNT)?,
            failed: self.store.count(tenant, store::FAILED_COUNT)?,
        })
    }

    /// Remembers the Salesforce record (Case or Task) written for a chat or conversation, on
    /// disk when this returns.
    pub fn remember_activity(
        &self,
        tenant: &str,
        event_id: &str,
        record: &ActivityRecord,
    ) -> Result<(), QueueError> {
        self.remember(tenant, event_id, record, true)
    }

    /// Remembers it without a flush of its own, for a delivery whose settlement follows: the
    /// settlement's commit makes it durable. If the process dies before, the event is still
    /// in flight, and its retry finds the record by its key in Salesforce instead.
    pub fn remember_activity_until_settled(
        &self,
        tenant: &str,
        event_id: &str,
        record: &ActivityRecord,
    ) -> Result<(), QueueError> {
        self.remember(tenant, event_id, record, false)
    }

    fn remember(
        &self,
        tenant: &str,
        event_id: &str,
        record: &ActivityRecord,
        durable: bool,
    ) -> Result<(), QueueError> {
        let bytes = encode_record(record);
        let (tenant, event_id) = (tenant.to_string(), event_id.to_string());
        self.committer.write(durable, move |tables, _| {
            store::remember_activity(tables, &tenant, &event_id, &bytes)
        })
    }

    /// The Case or Task written for a chat or conversation, if one was.
    pub fn activity(
        &self,
        tenant: &str,
        event_id: &str,
    ) -> Result<Option<ActivityRecord>, QueueError> {
        self.record(tenant, event_id)
    }

    /// Remembers the Contact or Lead made for each chat of `people` (chat id, record), on disk
    /// when this returns, in one commit: until the chat's Case or Task is written, a retry
    /// goes to that person instead of identifying the visitor again (a visitor with no value
    /// for any identification rule would get a second one).
    pub fn remember_people(
        &self,
        tenant: &str,
        people: &[(&str, ActivityRecord)],
    ) -> Result<(), QueueError> {
        let people: Vec<(String, Vec<u8>)> = people
            .iter()
            .map(|(chat, record)| (person_key(chat), encode_record(record)))
            .collect();
        let tenant = tenant.to_string();
        self.committer.write(true, move |tables, _| {
            people
                .iter()
                .try_for_each(|(key, bytes)| store::remember_activity(tables, &tenant, key, bytes))
        })
    }

    /// The Contact or Lead made for a chat or conversation, if one was (see
    /// [`Queue::remember_people`]).
    pub fn person(
        &self,
        tenant: &str,
        event_id: &str,
    ) -> Result<Option<ActivityRecord>, QueueError> {
        self.record(tenant, &person_key(event_id))
    }

    /// What is remembered under `key` beside a tenant's records (JSON).
    fn record<T: serde::de::DeserializeOwned>(
        &self,
        tenant: &str,
        key: &str,
    ) -> Result<Option<T>, QueueError> {
        match self.store.activity(tenant, key)? {
            Some(bytes) => serde_json::from_slice(&bytes)
                .map(Some)
                .map_err(|e| QueueError::Corrupt(e.to_string())),
            None => Ok(None),
        }
    }

    /// Remembers what a chat's start wrote (see [`Started`]) until its end completes it,
    /// without a flush of its own, like the record beside it: a start retried after a crash
    /// finds its record by its key and remembers this again.
    pub fn remember_started(
        &self,
        tenant: &str,
        event_id: &str,
        started: &Started,
    ) -> Result<(), QueueError> {
        let bytes = serde_json::to_vec(started).expect("a start's memory serializes");
        let (tenant, key) = (tenant.to_string(), started_key(event_id));
        self.committer.write(false, move |tables, _| {
            store::remember_activity(tables, &tenant, &key, &bytes)
        })
    }

    /// What the chat's start wrote, while its end has not completed it.
    pub fn started(&self, tenant: &str, event_id: &str) -> Result<Option<Started>, QueueError> {
        self.record(tenant, &started_key(event_id))
    }

    /// Forgets what the chat's start wrote: its end completed the record (durable with the
    /// end's settlement; a crash before it completes the record once more, the same way).
    pub fn forget_started(&self, tenant: &str, event_id: &str) -> Result<(), QueueError> {
        let (tenant, key) = (tenant.to_string(), started_key(event_id));
        self.committer.write(false, move |tables, _| {
            store::forget_activity(tables, &tenant, &key)
        })
    }

    /// Records, on disk when this returns, that a write of the record for `event_id` starts
    /// outside a queued event (the console's manual create); answers whether one had started
    /// before and not ended ([`Queue::end_write`]): such a write may have been applied, its
    /// answer lost, or left its record without all its files. Forgotten with the tenant's
    /// records.
    pub fn start_write(&self, tenant: &str, event_id: &str) -> Result<bool, QueueError> {
        if self.write_unfinished(tenant, event_id)? {
            return Ok(true);
        }
        let (tenant, key) = (tenant.to_string(), write_key(event_id));
        self.committer.write(true, move |tables, _| {
            store::remember_activity(tables, &tenant, &key, &[])
        })?;
        Ok(false)
    }

    /// Whether a write [`Queue::start_write`] recorded for `event_id` has not ended.
    pub fn write_unfinished(&self, tenant: &str, event_id: &str) -> Result<bool, QueueError> {
        Ok(self.store.activity(tenant, &write_key(event_id))?.is_some())
    }

    /// Records, on disk when this returns, that the write [`Queue::start_write`] recorded
    /// ended: its record is whole, or it wrote nothing.
    pub fn end_write(&self, tenant: &str, event_id: &str) -> Result<(), QueueError> {
        let (tenant, key) = (tenant.to_string(), write_key(event_id));
        self.committer.write(true, move |tables, _| {
            store::forget_activity(tables, &tenant, &key)
        })
    }

    /// Forgets every record the tenant's chats became (its org changed).
    pub fn forget_activities(&self, tenant: &str) -> Result<(), QueueError> {
        let tenant = tenant.to_string();
        self.committer.write(true, move |tables, _| {
            store::forget_activities(tables, &tenant)
        })
    }

    /// Every tenant with events waiting.
    pub fn tenants_with_pending(&self) -> Result<Vec<String>, QueueError> {
        self.store.tenants_with_pending()
    }

    /// Stops accepting writes, commits what was handed over, joins the committer and releases
    /// the file.
    pub fn close(&self) {
        self.committer.close();
        self.store.close();
    }
}

impl Drop for Queue {
    fn drop(&mut self) {
        self.close();
    }
}

fn encode_record(record: &ActivityRecord) -> Vec<u8> {
    serde_json::to_vec(record).expect("a record reference serializes")
}

// Beside the chats' records: an event's id holds no control character, so no chat has these
// keys.

/// Where the person made for a chat is remembered.
fn person_key(event_id: &str) -> String {
    format!("{event_id}\u{0}person")
}

/// Where what a chat's start wrote is kept until its end.
fn started_key(event_id: &str) -> String {
    format!("{event_id}\u{0}started")
}

/// Where a write started outside a queued event is marked.
fn write_key(event_id: &str) -> String {
    format!("{event_id}\u{0}write started")
}

pub fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

fn from_ms(ms: u64) -> SystemTime {
    UNIX_EPOCH + std::time::Duration::from_millis(ms)
}

#[cfg(test)]
mod tests;
