//! The queue's tables in redb, and every transaction on them.
//!
//! ```text
//! payloads    seq -> the event as the host sent it (bytes), while pending or failed
//! due         (tenant, due_ms, seq) -> PendingMeta (JSON): a tenant's waiting events in the
//!             order they come due
//! chats       (tenant, chat, seq) -> due_ms: each chat's waiting events, in arrival order
//! failed      (tenant, seq) -> FailedMeta (JSON): Salesforce's code and message, when
//! counters    (tenant, name) -> u64: written, failed
//! activities  (tenant, chat) -> the Case or Task written for the chat (JSON); beside them
//!             (tenant, chat + "\0person"), the Contact or Lead made for it, and the marks of
//!             the console's writes
//! ```
//!
//! A chat's events apply in arrival order, so none of them comes due before an earlier one:
//! placing an event (appended, retried, re-queued) keeps it no sooner than the chat's earlier
//! waiting events, and moves the later ones that would come due sooner to its time. Read from
//! the start of a tenant's range, `due` then meets each chat's events in order, and a lane
//! reads its batch and the row after it, however long the queue: a queue of 100,000 events in
//! back-off costs one row per look, not 100,000.
//!
//! Pending counts and the next sequence number live in memory, rebuilt from the file at every
//! open: an append writes three tables and nothing else.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};

use parking_lot::{Mutex, RwLock};
use redb::{
    Database, Durability, ReadableDatabase, ReadableTable, TableDefinition, TableHandle,
    WriteTransaction,
};
use serde::{Deserialize, Serialize};

use super::QueueError;

const PAYLOADS: TableDefinition<u64, &[u8]> = TableDefinition::new("payloads");
const DUE: TableDefinition<(&str, u64, u64), &[u8]> = TableDefinition::new("due");
const CHATS: TableDefinition<(&str, &str, u64), u64> = TableDefinition::new("chats");
const FAILED: TableDefinition<(&str, u64), &[u8]> = TableDefinition::new("failed");
const COUNTERS: TableDefinition<(&str, &str), u64> = TableDefinition::new("counters");
/// (tenant, chat or conversation id) -> the Case or Task written for it (JSON), so that a chat
/// completed at its end updates the record made at its start, and never makes a second one
/// (and, under keys of their own, the person made for it and the console's marks: see
/// `Queue::remember_people`, `Queue::start_write`).
const ACTIVITIES: TableDefinition<(&str, &str), &[u8]> = TableDefinition::new("activities");
/// The first format's waiting events, (tenant, seq) -> PendingMeta, and its counter of them
/// and of sequence numbers: moved to `due` and `chats` at open.
const FIRST_PENDING: TableDefinition<(&str, u64), &[u8]> = TableDefinition::new("pending");
const FIRST_META: TableDefinition<&str, u64> = TableDefinition::new("meta");
const FIRST_PENDING_COUNT: &str = "pending";

pub const WRITTEN_COUNT: &str = "written";
pub const FAILED_COUNT: &str = "failed";

/// Rows one look at a tenant's due events reads past its batch, at most: the later events of
/// chats already in the batch. Bounds a look however many events such chats have.
const SKIPPED_MAX: usize = 1024;

/// Payload bytes after which one look hands out no more events (it always hands out one,
/// however large): events
/// carry their attachments inline, up to 48 MB each, and each worker holds its batch (and the
/// engine its decoded copy) until it is settled. 200 chats of text are far below it.
pub const BATCH_BYTES: usize = 16 * 1024 * 1024;

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
#[derive(Clone)]
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
    NotAttempted {
        maybe_applied: bool,
    },
}

type Opener = Box<dyn Fn() -> Result<Database, redb::DatabaseError> + Send + Sync>;

/// A waiting event's place: its sequence number and chat (its due time is looked up).
#[derive(Debug, Clone)]
pub struct Place {
    pub seq: u64,
    pub chat: String,
}

pub struct Store {
    path: PathBuf,
    open: Opener,
    /// `None` between an I/O failure and a successful reopen: redb refuses every transaction
    /// after an I/O error until the database is opened again.
    db: RwLock<Option<Database>>,
    closed: std::sync::atomic::AtomicBool,
    /// What the file says, kept in memory; rebuilt at every (re)open.
    memory: Mutex<Memory>,
    /// Write transactions committed, for tests of group commit.
    #[cfg(test)]
    pub commits: std::sync::atomic::AtomicU64,
}

#[derive(Default)]
struct Memory {
    /// Per tenant, its waiting events.
    pending: HashMap<String, u64>,
    /// The next sequence number: past every event kept.
    next_seq: u64,
}

/// Changes to the pending counts, applied once their transaction committed.
#[derive(Default)]
pub struct Pending(HashMap<String, i64>);

impl Pending {
    fn add(&mut self, tenant: &str, delta: i64) {
        *self.0.entry(tenant.to_string()).or_default() += delta;
    }
}

/// The tables of a write transaction, opened once for every write of a group.
pub struct Tables<'tx> {
    payloads: redb::Table<'tx, u64, &'static [u8]>,
    due: redb::Table<'tx, (&'static str, u64, u64), &'static [u8]>,
    chats: redb::Table<'tx, (&'static str, &'static str, u64), u64>,
    failed: redb::Table<'tx, (&'static str, u64), &'static [u8]>,
    counters: redb::Table<'tx, (&'static str, &'static str), u64>,
    activities: redb::Table<'tx, (&'static str, &'static str), &'static [u8]>,
}

impl<'tx> Tables<'tx> {
    fn open(tx: &'tx WriteTransaction) -> Result<Tables<'tx>, redb::Error> {
        Ok(Tables {
            payloads: tx.open_table(PAYLOADS)?,
            due: tx.open_table(DUE)?,
            chats: tx.open_table(CHATS)?,
            failed: tx.open_table(FAILED)?,
            counters: tx.open_table(COUNTERS)?,
            activities: tx.open_table(ACTIVITIES)?,
        })
    }

    /// Puts a waiting event in the `due` order at `due_ms`, or later if an earlier event of its
    /// chat comes due later; moves the chat's later events that would come due sooner to its
    /// time.
    fn place(
        &mut self,
        tenant: &str,
        seq: u64,
        mut meta: PendingMeta,
        due_ms: u64,
    ) -> Result<(), redb::Error> {
        let chat = meta.event_id.clone();
        let chat = chat.as_str();
        let earlier = self
            .chats
            .range((tenant, chat, 0)..(tenant, chat, seq))?
            .next_back()
            .transpose()?
            .map(|(_, due)| due.value());
        meta.due_ms = due_ms.max(earlier.unwrap_or(0));
        self.due
            .insert((tenant, meta.due_ms, seq), encode(&meta).as_slice())?;
        self.chats.insert((tenant, chat, seq), meta.due_ms)?;
        let mut sooner = Vec::new();
        for row in self
            .chats
            .range((tenant, chat, seq + 1)..=(tenant, chat, u64::MAX))?
        {
            let (key, due) = row?;
            if due.value() < meta.due_ms {
                sooner.push((key.value().2, due.value()));
            }
        }
        for (later, was) in sooner {
            let mut moved = self.take(tenant, was, later)?;
            moved.due_ms = meta.due_ms;
            self.due
                .insert((tenant, moved.due_ms, later), encode(&moved).as_slice())?;
            self.chats.insert((tenant, chat, later), moved.due_ms)?;
        }
        Ok(())
    }

    /// The waiting event at `place`, with its due time; `None` once settled.
    fn find(&self, tenant: &str, place: &Place) -> Result<Option<PendingMeta>, redb::Error> {
        let Some(due) = self.chats.get((tenant, place.chat.as_str(), place.seq))? else {
            return Ok(None);
        };
        let due = due.value();
        let bytes = self
            .due
            .get((tenant, due, place.seq))?
            .ok_or_else(|| corrupt(format!("event {} is not in the due order", place.seq)))?;
        Ok(Some(decode(bytes.value())?))
    }

    /// Removes a waiting event from the `due` order (its chat index stays); answers its meta.
    fn take(&mut self, tenant: &str, due: u64, seq: u64) -> Result<PendingMeta, redb::Error> {
        let bytes = self
            .due
            .remove((tenant, due, seq))?
            .ok_or_else(|| corrupt(format!("event {seq} is not in the due order")))?;
        Ok(decode(bytes.value())?)
    }

    /// Rewrites a waiting event's meta where it is.
    fn update(&mut self, tenant: &str, seq: u64, meta: &PendingMeta) -> Result<(), redb::Error> {
        self.due
            .insert((tenant, meta.due_ms, seq), encode(meta).as_slice())?;
        Ok(())
    }

    /// Ends a waiting event's wait (delivered, or failed for good).
    fn remove(&mut self, tenant: &str, seq: u64, meta: &PendingMeta) -> Result<(), redb::Error> {
        self.due.remove((tenant, meta.due_ms, seq))?;
        self.chats.remove((tenant, meta.event_id.as_str(), seq))?;
        Ok(())
    }

    fn add(&mut self, tenant: &str, name: &str, delta: i64) -> Result<(), redb::Error> {
        let current = self.counters.get((tenant, name))?.map_or(0, |v| v.value());
        self.counters
            .insert((tenant, name), current.saturating_add_signed(delta))?;
        Ok(())
    }
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
            memory: Mutex::new(Memory::default()),
            #[cfg(test)]
            commits: std::sync::atomic::AtomicU64::new(0),
        };
        // Every table up front, so that readers never meet a missing one; a file of the first
        // format moved to this one.
        store.transact(true, |tx, _| {
            Tables::open(tx)?;
            upgrade_first_format(tx)
        })?;
        store.with_db(|db| store.remember(db))?;
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
        let reopened = (self.open)()
            .map_err(|e| QueueError::storage(&self.path, e))
            // A failed commit may have reached the disk after all: read what it holds.
            .and_then(|reopened| self.remember(&reopened).map(|()| reopened));
        match reopened {
            Ok(reopened) => *db = Some(reopened),
            Err(e) => log::error!(
                "the event queue {} cannot be reopened: {e}",
                self.path.display()
            ),
        }
    }

    /// Rebuilds what is kept in memory from the file: one pass over the waiting events.
    fn remember(&self, db: &Database) -> Result<(), QueueError> {
        let tx = db.begin_read().map_err(QueueError::from_redb)?;
        let due = tx.open_table(DUE).map_err(QueueError::from_redb)?;
        let payloads = tx.open_table(PAYLOADS).map_err(QueueError::from_redb)?;
        let mut pending: HashMap<String, u64> = HashMap::new();
        for row in due.iter().map_err(QueueError::from_redb)? {
            let (key, _) = row.map_err(QueueError::from_redb)?;
            *pending.entry(key.value().0.to_string()).or_default() += 1;
        }
        let last = payloads
            .last()
            .map_err(QueueError::from_redb)?
            .map_or(0, |(seq, _)| seq.value());
        let mut memory = self.memory.lock();
        memory.pending = pending;
        // Never back: a sequence number handed out in this process is not handed out again.
        memory.next_seq = memory.next_seq.max(last + 1);
        Ok(())
    }

    /// Appends events, answering their sequence numbers (in commit order: numbered under the
    /// writer's lock; a transaction that fails leaves a gap).
    pub fn append(
        &self,
        tables: &mut Tables<'_>,
        pending: &mut Pending,
        events: &[NewEvent],
        now_ms: u64,
    ) -> Result<std::ops::Range<u64>, redb::Error> {
        let seqs = {
            let mut memory = self.memory.lock();
            let first = memory.next_seq;
            memory.next_seq += events.len() as u64;
            first..memory.next_seq
        };
        for (event, seq) in events.iter().zip(seqs.clone()) {
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
            tables.payloads.insert(seq, event.payload.as_slice())?;
            tables.place(&event.tenant, seq, meta, now_ms)?;
            pending.add(&event.tenant, 1);
        }
        Ok(seqs)
    }

    /// Up to `max` of the tenant's events that are due at `now_ms`, the earliest due first, at
    /// most one of each chat (its earliest: the others follow it), and none more once their
    /// payloads reach [`BATCH_BYTES`]. Also answers when the first event left behind comes
    /// due.
    pub fn due(&self, tenant: &str, now_ms: u64, max: usize) -> Result<Due, QueueError> {
        self.with_db(|db| {
            let tx = db.begin_read().map_err(QueueError::from_redb)?;
            let table = tx.open_table(DUE).map_err(QueueError::from_redb)?;
            let payloads = tx.open_table(PAYLOADS).map_err(QueueError::from_redb)?;
            let mut due = Due::default();
            let mut chats = HashSet::new();
            let mut skipped = 0;
            let mut bytes = 0;
            for row in table
                .range((tenant, 0, 0)..=(tenant, u64::MAX, u64::MAX))
                .map_err(QueueError::from_redb)?
            {
                let (key, value) = row.map_err(QueueError::from_redb)?;
                #[cfg(test)]
                {
                    due.rows_read += 1;
                }
                let (_, due_ms, seq) = key.value();
                if due_ms > now_ms || due.events.len() >= max || bytes >= BATCH_BYTES {
                    due.next_due_ms = Some(due_ms);
                    break;
                }
                let mut meta: PendingMeta = decode(value.value())?;
                if !chats.insert(meta.event_id.clone()) {
                    // A later event of a chat in the batch: it follows in a later one.
                    skipped += 1;
                    if skipped >= SKIPPED_MAX {
                        due.next_due_ms = Some(due_ms);
                        break;
                    }
                    continue;
                }
                // Left in flight by a process that died mid-attempt: it may have been applied.
                meta.maybe_applied |= meta.in_flight;
                let payload = payloads
                    .get(seq)
                    .map_err(QueueError::from_redb)?
                    .ok_or(QueueError::Corrupt(format!("event {seq} has no payload")))?
                    .value()
                    .to_vec();
                bytes += payload.len();
                due.events.push((seq, meta, payload));
            }
            Ok(due)
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

    /// The tenant's waiting events.
    pub fn pending(&self, tenant: &str) -> Result<u64, QueueError> {
        self.check_open()?;
        Ok(self.memory.lock().pending.get(tenant).copied().unwrap_or(0))
    }

    /// A counter of the tenant's (`WRITTEN_COUNT`, `FAILED_COUNT`).
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
        self.check_open()?;
        let memory = self.memory.lock();
        Ok(memory
            .pending
            .iter()
            .filter(|(_, &n)| n > 0)
            .map(|(tenant, _)| tenant.clone())
            .collect())
    }

    fn check_open(&self) -> Result<(), QueueError> {
        if self.closed.load(std::sync::atomic::Ordering::SeqCst) {
            Err(QueueError::Closed)
        } else {
            Ok(())
        }
    }

    fn apply(&self, changes: Pending) {
        let mut memory = self.memory.lock();
        for (tenant, delta) in changes.0 {
            let count = memory.pending.entry(tenant).or_default();
            *count = count.saturating_add_signed(delta);
        }
    }

    /// Every row of the due table (for tests; not on a hot path).
    #[cfg(test)]
    pub fn pending_len(&self) -> u64 {
        use redb::ReadableTableMetadata;
        self.with_db(|db| {
            Ok(db
                .begin_read()
                .unwrap()
                .open_table(DUE)
                .unwrap()
                .len()
                .unwrap())
        })
        .unwrap()
    }

    /// Runs `f` on the tables in a write transaction and commits it, flushed when `durable`;
    /// the changes to the pending counts it records are applied once committed, before a
    /// reopen can rebuild them. Only the committer calls it once the queue is open.
    pub fn commit<T>(
        &self,
        durable: bool,
        f: impl FnOnce(&mut Tables<'_>, &mut Pending) -> Result<T, redb::Error>,
    ) -> Result<T, QueueError> {
        self.transact(durable, |tx, pending| f(&mut Tables::open(tx)?, pending))
    }

    fn transact<T>(
        &self,
        durable: bool,
        f: impl FnOnce(&WriteTransaction, &mut Pending) -> Result<T, redb::Error>,
    ) -> Result<T, QueueError> {
        self.with_db(|db| {
            let mut tx = db.begin_write().map_err(QueueError::from_redb)?;
            let durability = if durable {
                Durability::Immediate
            } else {
                Durability::None
            };
            tx.set_durability(durability)
                .map_err(|e| QueueError::Storage(e.to_string()))?;
            let mut pending = Pending::default();
            let value = f(&tx, &mut pending).map_err(QueueError::from_redb)?;
            tx.commit().map_err(QueueError::from_redb)?;
            #[cfg(test)]
            self.commits
                .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            self.apply(pending);
            Ok(value)
        })
    }
}

/// Records what became of attempted events.
pub fn settle(
    tables: &mut Tables<'_>,
    pending: &mut Pending,
    tenant: &str,
    outcomes: &[(Place, Settle)],
) -> Result<(), redb::Error> {
    for (place, outcome) in outcomes {
        let Some(mut meta) = tables.find(tenant, place)? else {
            continue; // settled already (a retry raced a re-queue): nothing to do
        };
        let seq = place.seq;
        match outcome.clone() {
            Settle::Delivered => {
                tables.remove(tenant, seq, &meta)?;
                tables.payloads.remove(seq)?;
                tables.add(tenant, WRITTEN_COUNT, 1)?;
                pending.add(tenant, -1);
            }
            Settle::Retry {
                due_ms,
                reason,
                maybe_applied,
            } => {
                tables.take(tenant, meta.due_ms, seq)?;
                meta.attempts = meta.attempts.saturating_add(1);
                meta.maybe_applied |= maybe_applied;
                meta.in_flight = false;
                meta.last_error = Some(reason);
                tables.place(tenant, seq, meta, due_ms)?;
            }
            Settle::Failed {
                code,
                message,
                now_ms,
            } => {
                tables.remove(tenant, seq, &meta)?;
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
                tables
                    .failed
                    .insert((tenant, seq), encode(&record).as_slice())?;
                tables.add(tenant, FAILED_COUNT, 1)?;
                pending.add(tenant, -1);
            }
            Settle::NotAttempted { maybe_applied } => {
                meta.maybe_applied |= maybe_applied;
                meta.in_flight = false;
                tables.update(tenant, seq, &meta)?;
            }
        }
    }
    Ok(())
}

/// Records that attempts on these events start now, before any request leaves: after a crash
/// mid-attempt they count as possibly applied.
pub fn mark_in_flight(
    tables: &mut Tables<'_>,
    tenant: &str,
    places: &[Place],
) -> Result<(), redb::Error> {
    for place in places {
        if let Some(mut meta) = tables.find(tenant, place)? {
            meta.in_flight = true;
            tables.update(tenant, place.seq, &meta)?;
        }
    }
    Ok(())
}

/// Moves the tenant's failed events (all, or those of one chat) back to pending, due at
/// `now_ms`. Answers how many.
pub fn requeue_failed(
    tables: &mut Tables<'_>,
    pending: &mut Pending,
    tenant: &str,
    event_id: Option<&str>,
    now_ms: u64,
) -> Result<usize, redb::Error> {
    let mut moved = Vec::new();
    for row in tables.failed.range((tenant, 0)..=(tenant, u64::MAX))? {
        let (key, value) = row?;
        let meta: FailedMeta = decode(value.value())?;
        if event_id.is_none_or(|id| id == meta.event_id) {
            moved.push((key.value().1, meta));
        }
    }
    for (seq, meta) in &moved {
        tables.failed.remove((tenant, *seq))?;
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
        tables.place(tenant, *seq, again, now_ms)?;
        tables.add(tenant, FAILED_COUNT, -1)?;
        pending.add(tenant, 1);
    }
    Ok(moved.len())
}

/// Remembers the Case or Task written for a chat.
pub fn remember_activity(
    tables: &mut Tables<'_>,
    tenant: &str,
    event_id: &str,
    record: &[u8],
) -> Result<(), redb::Error> {
    tables.activities.insert((tenant, event_id), record)?;
    Ok(())
}

/// Forgets one record a chat became (or a mark beside them).
pub fn forget_activity(
    tables: &mut Tables<'_>,
    tenant: &str,
    key: &str,
) -> Result<(), redb::Error> {
    tables.activities.remove((tenant, key))?;
    Ok(())
}

/// Forgets every record the tenant's chats became.
pub fn forget_activities(tables: &mut Tables<'_>, tenant: &str) -> Result<(), redb::Error> {
    tables
        .activities
        .retain_in((tenant, "")..(tenant, "\u{10FFFF}"), |_, _| false)?;
    Ok(())
}

/// Moves the waiting events of a file of the first format (one `pending` table in arrival
/// order, counters of pending events and sequence numbers) to the `due` order.
fn upgrade_first_format(tx: &WriteTransaction) -> Result<(), redb::Error> {
    let first = tx
        .list_tables()?
        .any(|table| table.name() == FIRST_PENDING.name());
    if !first {
        return Ok(());
    }
    let mut tables = Tables::open(tx)?;
    {
        let old = tx.open_table(FIRST_PENDING)?;
        for row in old.iter()? {
            let (key, value) = row?;
            let (tenant, seq) = key.value();
            let meta: PendingMeta = decode(value.value())?;
            let due_ms = meta.due_ms;
            tables.place(tenant, seq, meta, due_ms)?;
        }
    }
    tables
        .counters
        .retain(|(_, name), _| name != FIRST_PENDING_COUNT)?;
    drop(tables);
    tx.delete_table(FIRST_PENDING)?;
    tx.delete_table(FIRST_META)?;
    Ok(())
}

/// Events due now, and when the next one left behind is due.
#[derive(Default)]
pub struct Due {
    pub events: Vec<(u64, PendingMeta, Vec<u8>)>,
    pub next_due_ms: Option<u64>,
    /// Rows of the due order read for this answer.
    #[cfg(test)]
    pub rows_read: usize,
}

fn encode<T: Serialize>(value: &T) -> Vec<u8> {
    serde_json::to_vec(value).expect("queue metadata serializes")
}

fn decode<T: for<'de> Deserialize<'de>>(bytes: &[u8]) -> Result<T, QueueError> {
    serde_json::from_slice(bytes).map_err(|e| QueueError::Corrupt(e.to_string()))
}

fn corrupt(what: String) -> redb::Error {
    redb::Error::Corrupted(what)
}

impl From<QueueError> for redb::Error {
    fn from(e: QueueError) -> Self {
        redb::Error::Corrupted(e.to_string())
    }
}

impl QueueError {
    fn from_redb(e: impl Into<redb::Error>) -> QueueError {
        match e.into() {
            // A row this version cannot read (see `decode`): no reason to reopen the file.
            redb::Error::Corrupted(what) => QueueError::Corrupt(what),
            other => QueueError::Storage(other.to_string()),
        }
    }
}
