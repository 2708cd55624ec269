//! The queue's tables in redb, and every transaction on them.
//!
//! ```text
//! payloads  seq -> the event as the host sent it (bytes), written once
//! pending   (tenant, seq) -> PendingMeta (JSON): attempts, when due, "may have been applied"
//! failed    (tenant, seq) -> FailedMeta (JSON): Salesforce's code and message, when
//! counters  (tenant, name) -> u64: pending, written, failed
//! meta      "next_seq" -> u64
//! ```
//!
//! Keys are `(tenant, seq)` so that one tenant's events are a contiguous range in arrival order:
//! a lane reads its tenant's due events with one range scan and never loads the whole queue.

use std::path::{Path, PathBuf};

use parking_lot::RwLock;
use redb::{
    Database, Durability, ReadableDatabase, ReadableTable, TableDefinition, WriteTransaction,
};
use serde::{Deserialize, Serialize};

use super::QueueError;

const PAYLOADS: TableDefinition<u64, &[u8]> = TableDefinition::new("payloads");
const PENDING: TableDefinition<(&str, u64), &[u8]> = TableDefinition::new("pending");
const FAILED: TableDefinition<(&str, u64), &[u8]> = TableDefinition::new("failed");
const COUNTERS: TableDefinition<(&str, &str), u64> = TableDefinition::new("counters");
const META: TableDefinition<&str, u64> = TableDefinition::new("meta");
/// (tenant, chat or conversation id) -> the Case or Task written for it (JSON), so that a chat
/// completed at its end updates the record made at its start, and never makes a second one.
const ACTIVITIES: TableDefinition<(&str, &str), &[u8]> = TableDefinition::new("activities");

pub const PENDING_COUNT: &str = "pending";
pub const WRITTEN_COUNT: &str = "written";
pub const FAILED_COUNT: &str = "failed";

/// redb's page cache is the queue's main memory use: keep it small, the disk holds the queue.
const CACHE_BYTES: usize = 8 * 1024 * 1024;

pub fn builder() -> redb::Builder {
    let mut builder = Database::builder();
    builder.set_cache_size(CACHE_BYTES);
    builder
}

/// What the queue keeps about an event waiting for delivery.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PendingMeta {
    /// The event's `type` (`chat.ended`).
    pub kind: String,
    /// The chat or conversation id.
    pub event_id: String,
    pub enqueued_ms: u64,
    pub attempts: u32,
    /// Not to be tried before this time (ms since the Unix epoch).
    pub due_ms: u64,
    /// A request for this event timed out or lost its connection: Salesforce may have applied it.
    pub maybe_applied: bool,
    /// An attempt started and has not been settled: if the process died meanwhile, Salesforce
    /// may have applied it too.
    #[serde(default)]
    pub in_flight: bool,
    /// Why the last attempt did not deliver it.
    pub last_error: Option<String>,
}

/// What the queue keeps about an event Salesforce rejected for good.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FailedMeta {
    pub kind: String,
    pub event_id: String,
    pub enqueued_ms: u64,
    pub attempts: u32,
    pub failed_ms: u64,
    /// Salesforce's error code (`FIELD_CUSTOM_VALIDATION_EXCEPTION`), or the plugin's.
    pub code: String,
    pub message: String,
    pub maybe_applied: bool,
}

/// One new event to append.
pub struct NewEvent {
    pub tenant: String,
    pub kind: String,
    pub event_id: String,
    pub payload: Vec<u8>,
}

/// What became of one attempted event.
pub enum Settle {
    Delivered,
    Retry {
        due_ms: u64,
        reason: String,
        maybe_applied: bool,
    },
    Failed {
        code: String,
        message: String,
        now_ms: u64,
    },
    /// Not attempted after all: no longer in flight, otherwise unchanged.
    NotAttempted,
}

type Opener = Box<dyn Fn() -> Result<Database, redb::DatabaseError> + Send + Sync>;

pub struct Store {
    path: PathBuf,
    open: Opener,
    /// `None` between an I/O failure and a successful reopen: redb refuses every transaction
    /// after an I/O error until the database is opened again.
    db: RwLock<Option<Database>>,
    closed: std::sync::atomic::AtomicBool,
}

impl Store {
    pub fn open(path: &Path) -> Result<Store, QueueError> {
        let file = path.to_path_buf();
        Self::with_opener(path, Box::new(move || builder().create(&file)))
    }

    /// Opens through `open`, which is called again to reopen after an I/O failure (tests pass
    /// one that builds a storage backend able to refuse writes).
    pub fn with_opener(path: &Path, open: Opener) -> Result<Store, QueueError> {
        let db = open().map_err(|e| match e {
            redb::DatabaseError::DatabaseAlreadyOpen => QueueError::InUse(path.to_path_buf()),
            other => QueueError::storage(path, other),
        })?;
        let store = Store {
            path: path.to_path_buf(),
            open,
            db: RwLock::new(Some(db)),
            closed: std::sync::atomic::AtomicBool::new(false),
        };
        // Create every table up front, so that readers never meet a missing one.
        store.write(|tx| {
            tx.open_table(PAYLOADS)?;
            tx.open_table(PENDING)?;
            tx.open_table(FAILED)?;
            tx.open_table(COUNTERS)?;
            tx.open_table(META)?;
            tx.open_table(ACTIVITIES)?;
            Ok(())
        })?;
        Ok(store)
    }

    /// Runs `f` on the database; after a storage failure, reopens it for the next caller.
    fn with_db<T>(
        &self,
        f: impl FnOnce(&Database) -> Result<T, QueueError>,
    ) -> Result<T, QueueError> {
        if self.db.read().is_none() {
            self.reopen();
        }
        let result = match self.db.read().as_ref() {
            Some(db) => f(db),
            None if self.closed.load(std::sync::atomic::Ordering::SeqCst) => {
                Err(QueueError::Closed)
            }
            None => Err(QueueError::storage(&self.path, "cannot be reopened")),
        };
        if matches!(result, Err(QueueError::Storage(_))) {
            self.reopen();
        }
        result
    }

    /// Closes the file and releases its lock, for good: a later start in this process (or
    /// another process) may open it.
    pub fn close(&self) {
        self.closed.store(true, std::sync::atomic::Ordering::SeqCst);
        self.db.write().take();
    }

    fn reopen(&self) {
        let mut db = self.db.write();
        if self.closed.load(std::sync::atomic::Ordering::SeqCst) {
            return;
        }
        db.take(); // closes the file and releases its lock before opening it again
        match (self.open)() {
            Ok(reopened) => *db = Some(reopened),
            Err(e) => log::error!(
                "the event queue {} cannot be reopened: {e}",
                self.path.display()
            ),
        }
    }

    /// Appends events in one transaction (one flush), answering their sequence numbers.
    pub fn append(&self, events: &[NewEvent], now_ms: u64) -> Result<Vec<u64>, QueueError> {
        self.write(|tx| {
            let mut meta = tx.open_table(META)?;
            let mut next = meta.get("next_seq")?.map(|v| v.value()).unwrap_or(1);
            let mut payloads = tx.open_table(PAYLOADS)?;
            let mut pending = tx.open_table(PENDING)?;
            let mut counters = tx.open_table(COUNTERS)?;
            let mut seqs = Vec::with_capacity(events.len());
            for event in events {
                let meta = PendingMeta {
                    kind: event.kind.clone(),
                    event_id: event.event_id.clone(),
                    enqueued_ms: now_ms,
                    attempts: 0,
                    due_ms: now_ms,
                    maybe_applied: false,
                    in_flight: false,
                    last_error: None,
                };
                payloads.insert(next, event.payload.as_slice())?;
                pending.insert((event.tenant.as_str(), next), encode(&meta).as_slice())?;
                add(&mut counters, &event.tenant, PENDING_COUNT, 1)?;
                seqs.push(next);
                next += 1;
            }
            meta.insert("next_seq", next)?;
            Ok(seqs)
        })
    }

    /// Up to `max` of the tenant's events that are due at `now_ms`, in arrival order, skipping
    /// any whose chat has an earlier event still waiting (events of one chat apply in order).
    /// Also answers when the earliest event left behind becomes due.
    pub fn due(&self, tenant: &str, now_ms: u64, max: usize) -> Result<Due, QueueError> {
        self.with_db(|db| {
            let tx = db.begin_read().map_err(QueueError::from_redb)?;
            let pending = tx.open_table(PENDING).map_err(QueueError::from_redb)?;
            let payloads = tx.open_table(PAYLOADS).map_err(QueueError::from_redb)?;
            let mut due = Due::default();
            let mut waiting_chats = std::collections::HashSet::new();
            for row in pending
                .range((tenant, 0)..=(tenant, u64::MAX))
                .map_err(QueueError::from_redb)?
            {
                let (key, value) = row.map_err(QueueError::from_redb)?;
                let seq = key.value().1;
                let mut meta: PendingMeta = decode(value.value())?;
                // Left in flight by a process that died mid-attempt: it may have been applied.
                meta.maybe_applied |= meta.in_flight;
                if waiting_chats.contains(&meta.event_id) {
                    continue;
                }
                if meta.due_ms > now_ms || due.events.len() >= max {
                    due.next_due_ms = Some(
                        due.next_due_ms
                            .map_or(meta.due_ms, |d: u64| d.min(meta.due_ms)),
                    );
                    waiting_chats.insert(meta.event_id);
                    if due.events.len() >= max {
                        break;
                    }
                    continue;
                }
                let payload = payloads
                    .get(seq)
                    .map_err(QueueError::from_redb)?
                    .ok_or(QueueError::Corrupt(format!("event {seq} has no payload")))?
                    .value()
                    .to_vec();
                waiting_chats.insert(meta.event_id.clone());
                due.events.push((seq, meta, payload));
            }
            Ok(due)
        })
    }

    /// Records what became of attempted events, in one transaction.
    pub fn settle(&self, tenant: &str, outcomes: Vec<(u64, Settle)>) -> Result<(), QueueError> {
        self.write(|tx| {
            let mut pending = tx.open_table(PENDING)?;
            let mut payloads = tx.open_table(PAYLOADS)?;
            let mut failed = tx.open_table(FAILED)?;
            let mut counters = tx.open_table(COUNTERS)?;
            for (seq, outcome) in outcomes {
                let Some(meta) = pending.get((tenant, seq))?.map(|v| v.value().to_vec()) else {
                    continue; // settled already (a retry raced a re-queue): nothing to do
                };
                let mut meta: PendingMeta = decode(&meta).map_err(redb::Error::from)?;
                match outcome {
                    Settle::Delivered => {
                        pending.remove((tenant, seq))?;
                        payloads.remove(seq)?;
                        add(&mut counters, tenant, PENDING_COUNT, -1)?;
                        add(&mut counters, tenant, WRITTEN_COUNT, 1)?;
                    }
                    Settle::Retry {
                        due_ms,
                        reason,
                        maybe_applied,
                    } => {
                        meta.attempts = meta.attempts.saturating_add(1);
                        meta.due_ms = due_ms;
                        meta.maybe_applied |= maybe_applied;
                        meta.in_flight = false;
                        meta.last_error = Some(reason);
                        pending.insert((tenant, seq), encode(&meta).as_slice())?;
                    }
                    Settle::Failed {
                        code,
                        message,
                        now_ms,
                    } => {
                        let record = FailedMeta {
                            kind: meta.kind,
                            event_id: meta.event_id,
                            enqueued_ms: meta.enqueued_ms,
                            attempts: meta.attempts.saturating_add(1),
                            failed_ms: now_ms,
                            code,
                            message,
                            maybe_applied: meta.maybe_applied,
                        };
                        pending.remove((tenant, seq))?;
                        failed.insert((tenant, seq), encode(&record).as_slice())?;
                        add(&mut counters, tenant, PENDING_COUNT, -1)?;
                        add(&mut counters, tenant, FAILED_COUNT, 1)?;
                    }
                    Settle::NotAttempted => {
                        meta.in_flight = false;
                        pending.insert((tenant, seq), encode(&meta).as_slice())?;
                    }
                }
            }
            Ok(())
        })
    }

    /// Records that attempts on these events start now, before any request leaves: after a
    /// crash mid-attempt they count as possibly applied.
    pub fn mark_in_flight(&self, tenant: &str, seqs: &[u64]) -> Result<(), QueueError> {
        self.write(|tx| {
            let mut pending = tx.open_table(PENDING)?;
            for &seq in seqs {
                let Some(bytes) = pending.get((tenant, seq))?.map(|v| v.value().to_vec()) else {
                    continue;
                };
                let mut meta: PendingMeta = decode(&bytes).map_err(redb::Error::from)?;
                meta.in_flight = true;
                pending.insert((tenant, seq), encode(&meta).as_slice())?;
            }
            Ok(())
        })
    }

    /// Moves the tenant's failed events (all, or those of one chat) back to pending, due now.
    /// Answers how many.
    pub fn requeue_failed(
        &self,
        tenant: &str,
        event_id: Option<&str>,
        now_ms: u64,
    ) -> Result<usize, QueueError> {
        self.write(|tx| {
            let mut failed = tx.open_table(FAILED)?;
            let mut pending = tx.open_table(PENDING)?;
            let mut counters = tx.open_table(COUNTERS)?;
            let mut moved = Vec::new();
            for row in failed.range((tenant, 0)..=(tenant, u64::MAX))? {
                let (key, value) = row?;
                let meta: FailedMeta = decode(value.value()).map_err(redb::Error::from)?;
                if event_id.is_none_or(|id| id == meta.event_id) {
                    moved.push((key.value().1, meta));
                }
            }
            for (seq, meta) in &moved {
                failed.remove((tenant, *seq))?;
                let again = PendingMeta {
                    kind: meta.kind.clone(),
                    event_id: meta.event_id.clone(),
                    enqueued_ms: meta.enqueued_ms,
                    attempts: 0,
                    due_ms: now_ms,
                    maybe_applied: meta.maybe_applied,
                    in_flight: false,
                    last_error: Some(format!("re-queued after {}: {}", meta.code, meta.message)),
                };
                pending.insert((tenant, *seq), encode(&again).as_slice())?;
                add(&mut counters, tenant, FAILED_COUNT, -1)?;
                add(&mut counters, tenant, PENDING_COUNT, 1)?;
            }
            Ok(moved.len())
        })
    }

    /// The tenant's failed events, oldest first, at most `max`.
    pub fn failed(&self, tenant: &str, max: usize) -> Result<Vec<FailedMeta>, QueueError> {
        self.with_db(|db| {
            let tx = db.begin_read().map_err(QueueError::from_redb)?;
            let failed = tx.open_table(FAILED).map_err(QueueError::from_redb)?;
            let mut out = Vec::new();
            for row in failed
                .range((tenant, 0)..=(tenant, u64::MAX))
                .map_err(QueueError::from_redb)?
                .take(max)
            {
                let (_, value) = row.map_err(QueueError::from_redb)?;
                out.push(decode(value.value())?);
            }
            Ok(out)
        })
    }

    /// Remembers the Case or Task written for a chat.
    /// `durable`: on disk when this returns; otherwise with the next durable commit.
    pub fn remember_activity(
        &self,
        tenant: &str,
        event_id: &str,
        record: &[u8],
        durable: bool,
    ) -> Result<(), QueueError> {
        let durability = if durable {
            Durability::Immediate
        } else {
            Durability::None
        };
        self.write_with(durability, |tx| {
            tx.open_table(ACTIVITIES)?
                .insert((tenant, event_id), record)?;
            Ok(())
        })
    }

    pub fn forget_activities(&self, tenant: &str) -> Result<(), QueueError> {
        self.write(|tx| {
            let mut table = tx.open_table(ACTIVITIES)?;
            table.retain_in((tenant, "")..(tenant, "\u{10FFFF}"), |_, _| false)?;
            Ok(())
        })
    }

    /// The Case or Task written for a chat, if any.
    pub fn activity(&self, tenant: &str, event_id: &str) -> Result<Option<Vec<u8>>, QueueError> {
        self.with_db(|db| {
            let tx = db.begin_read().map_err(QueueError::from_redb)?;
            let table = tx.open_table(ACTIVITIES).map_err(QueueError::from_redb)?;
            Ok(table
                .get((tenant, event_id))
                .map_err(QueueError::from_redb)?
                .map(|v| v.value().to_vec()))
        })
    }

    /// A counter of the tenant's (`PENDING_COUNT`, `WRITTEN_COUNT`, `FAILED_COUNT`).
    pub fn count(&self, tenant: &str, name: &str) -> Result<u64, QueueError> {
        self.with_db(|db| {
            let tx = db.begin_read().map_err(QueueError::from_redb)?;
            let counters = tx.open_table(COUNTERS).map_err(QueueError::from_redb)?;
            Ok(counters
                .get((tenant, name))
                .map_err(QueueError::from_redb)?
                .map_or(0, |v| v.value()))
        })
    }

    /// Every tenant with events waiting (read at start, to pick up where the last run stopped).
    pub fn tenants_with_pending(&self) -> Result<Vec<String>, QueueError> {
        self.with_db(|db| {
            let tx = db.begin_read().map_err(QueueError::from_redb)?;
            let counters = tx.open_table(COUNTERS).map_err(QueueError::from_redb)?;
            let mut tenants = Vec::new();
            for row in counters.iter().map_err(QueueError::from_redb)? {
                let (key, value) = row.map_err(QueueError::from_redb)?;
                let (tenant, name) = key.value();
                if name == PENDING_COUNT && value.value() > 0 {
                    tenants.push(tenant.to_string());
                }
            }
            Ok(tenants)
        })
    }

    /// Every row of the pending table (for tests and diagnostics; not on a hot path).
    #[cfg(test)]
    pub fn pending_len(&self) -> u64 {
        use redb::ReadableTableMetadata;
        self.with_db(|db| {
            Ok(db
                .begin_read()
                .unwrap()
                .open_table(PENDING)
                .unwrap()
                .len()
                .unwrap())
        })
        .unwrap()
    }

    fn write<T>(
        &self,
        f: impl FnOnce(&WriteTransaction) -> Result<T, redb::Error>,
    ) -> Result<T, QueueError> {
        self.write_with(Durability::Immediate, f)
    }

    fn write_with<T>(
        &self,
        durability: Durability,
        f: impl FnOnce(&WriteTransaction) -> Result<T, redb::Error>,
    ) -> Result<T, QueueError> {
        self.with_db(|db| {
            let mut tx = db.begin_write().map_err(QueueError::from_redb)?;
            tx.set_durability(durability)
                .map_err(|e| QueueError::Storage(e.to_string()))?;
            let value = f(&tx).map_err(QueueError::from_redb)?;
            tx.commit().map_err(QueueError::from_redb)?;
            Ok(value)
        })
    }
}

/// Events due now, and when the next one left behind is due.
#[derive(Default)]
pub struct Due {
    pub events: Vec<(u64, PendingMeta, Vec<u8>)>,
    pub next_due_ms: Option<u64>,
}

fn add(
    counters: &mut redb::Table<(&str, &str), u64>,
    tenant: &str,
    name: &str,
    delta: i64,
) -> Result<(), redb::Error> {
    let current = counters.get((tenant, name))?.map_or(0, |v| v.value());
    counters.insert((tenant, name), current.saturating_add_signed(delta))?;
    Ok(())
}

fn encode<T: Serialize>(value: &T) -> Vec<u8> {
    serde_json::to_vec(value).expect("queue metadata serializes")
}

fn decode<T: for<'de> Deserialize<'de>>(bytes: &[u8]) -> Result<T, QueueError> {
    serde_json::from_slice(bytes).map_err(|e| QueueError::Corrupt(e.to_string()))
}

impl From<QueueError> for redb::Error {
    fn from(e: QueueError) -> Self {
        redb::Error::Corrupted(e.to_string())
    }
}

impl QueueError {
    fn from_redb(e: impl Into<redb::Error>) -> QueueError {
        QueueError::Storage(e.into().to_string())
    }
}
