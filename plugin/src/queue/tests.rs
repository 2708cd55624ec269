use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use redb::backends::FileBackend;
use redb::StorageBackend;

// What redb's storage backends fail with (std builds).
type BackendIoError = std::io::Error;

use super::*;

fn append(queue: &Queue, tenant: &str, kind: &str, chat: &str) -> u64 {
    queue
        .append(
            tenant,
            kind,
            chat,
            format!("{{\"id\":\"{chat}\"}}").into_bytes(),
        )
        .unwrap()
}

fn ids(batch: &DueBatch) -> Vec<(String, String)> {
    batch
        .events
        .iter()
        .map(|e| (e.meta.kind.clone(), e.meta.event_id.clone()))
        .collect()
}

fn pair(kind: &str, chat: &str) -> (String, String) {
    (kind.to_string(), chat.to_string())
}

#[test]
fn events_survive_a_restart_and_come_back_in_order() {
    let dir = tempfile::tempdir().unwrap();
    {
        let queue = Queue::open(dir.path()).unwrap();
        append(&queue, "t1", "chat.started", "c1");
        append(&queue, "t2", "chat.ended", "x");
        append(&queue, "t1", "chat.ended", "c1");
        append(&queue, "t1", "chat.ended", "c2");
    }
    let queue = Queue::open(dir.path()).unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let file = std::fs::metadata(dir.path().join("queue.redb")).unwrap();
        assert_eq!(file.permissions().mode() & 0o777, 0o600, "owner only");
    }
    let mut tenants = queue.tenants_with_pending().unwrap();
    tenants.sort();
    assert_eq!(tenants, ["t1", "t2"]);
    let batch = queue.due("t1", 10).unwrap();
    // c1's end waits for its start; c2 is another chat and goes along.
    assert_eq!(
        ids(&batch),
        [pair("chat.started", "c1"), pair("chat.ended", "c2")]
    );
    assert_eq!(batch.events[0].payload, br#"{"id":"c1"}"#);
    assert_eq!(queue.counts("t1").unwrap().pending, 3);
}

#[test]
fn a_chat_whose_start_is_retried_does_not_end_before_it() {
    let dir = tempfile::tempdir().unwrap();
    let queue = Queue::open(dir.path()).unwrap();
    append(&queue, "t", "chat.started", "c1");
    append(&queue, "t", "chat.ended", "c1");
    append(&queue, "t", "chat.ended", "c2");
    let batch = queue.due("t", 10).unwrap();
    let started = &batch.events[0];
    let retry = Settlement::Retry {
        reason: "503".into(),
        maybe_applied: true,
    };
    queue
        .settle(
            "t",
            vec![(started, retry), (&batch.events[1], Settlement::Delivered)],
        )
        .unwrap();

    let later = queue.due("t", 10).unwrap();
    assert!(
        later.events.is_empty(),
        "c1's end waits behind its start's back-off"
    );
    let next = later.next_due.unwrap();
    assert!(next > SystemTime::now(), "the start is due again later");

    let store = &queue.store;
    let again = store.due("t", now_ms() + 3_600_000, 10).unwrap();
    let metas: Vec<_> = again.events.iter().map(|(_, m, _)| m.clone()).collect();
    assert_eq!(metas.len(), 1, "still only the start: the end follows it");
    assert_eq!(metas[0].attempts, 1);
    assert!(metas[0].maybe_applied, "a lost answer is remembered");
    assert_eq!(metas[0].last_error.as_deref(), Some("503"));
    assert_eq!(
        queue.counts("t").unwrap(),
        Counts {
            pending: 2,
            written: 1,
            failed: 0
        }
    );
}

#[test]
fn a_failure_for_good_is_kept_with_its_reason_and_can_be_requeued() {
    let dir = tempfile::tempdir().unwrap();
    let queue = Queue::open(dir.path()).unwrap();
    append(&queue, "t", "chat.ended", "c1");
    append(&queue, "t", "chat.ended", "c2");
    let batch = queue.due("t", 10).unwrap();
    let failed = |e| {
        (
            e,
            Settlement::Failed {
                code: "FIELD_CUSTOM_VALIDATION_EXCEPTION".into(),
                message: "Phone is required".into(),
            },
        )
    };
    queue
        .settle(
            "t",
            vec![failed(&batch.events[0]), failed(&batch.events[1])],
        )
        .unwrap();
    assert_eq!(
        queue.counts("t").unwrap(),
        Counts {
            pending: 0,
            written: 0,
            failed: 2
        }
    );
    let kept = queue.failed("t", 10).unwrap();
    assert_eq!(kept[0].code, "FIELD_CUSTOM_VALIDATION_EXCEPTION");
    assert_eq!(kept[0].message, "Phone is required");
    assert_eq!(kept[1].event_id, "c2");
    assert!(queue.due("t", 10).unwrap().events.is_empty());

    assert_eq!(queue.requeue_failed("t", Some("c2")).unwrap(), 1);
    assert_eq!(
        ids(&queue.due("t", 10).unwrap()),
        [pair("chat.ended", "c2")]
    );
    assert_eq!(queue.requeue_failed("t", None).unwrap(), 1);
    assert_eq!(
        queue.counts("t").unwrap(),
        Counts {
            pending: 2,
            written: 0,
            failed: 0
        }
    );
    assert_eq!(queue.failed("t", 10).unwrap(), vec![]);
}

#[test]
fn a_second_process_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let _first = Queue::open(dir.path()).unwrap();
    let second = Queue::open(dir.path()).err().unwrap();
    assert_eq!(second, QueueError::InUse(dir.path().join("queue.redb")));
    assert!(second
        .to_string()
        .contains("only one host process may use a state_dir"));
}

#[test]
fn concurrent_appends_all_land_with_distinct_sequence_numbers() {
    let dir = tempfile::tempdir().unwrap();
    let queue = Arc::new(Queue::open(dir.path()).unwrap());
    let threads: Vec<_> = (0..8)
        .map(|t| {
            let queue = queue.clone();
            std::thread::spawn(move || {
                (0..50)
                    .map(|i| append(&queue, "t", "chat.ended", &format!("c{t}-{i}")))
                    .collect::<Vec<_>>()
            })
        })
        .collect();
    let mut seqs: Vec<u64> = threads
        .into_iter()
        .flat_map(|t| t.join().unwrap())
        .collect();
    seqs.sort();
    seqs.dedup();
    assert_eq!(seqs.len(), 400);
    assert_eq!(queue.counts("t").unwrap().pending, 400);
    assert_eq!(queue.store.pending_len(), 400);
}

#[test]
fn appends_after_close_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let queue = Queue::open(dir.path()).unwrap();
    queue.close();
    assert_eq!(
        queue.append("t", "chat.ended", "c", b"{}".to_vec()),
        Err(QueueError::Closed)
    );
    assert_eq!(queue.counts("t").err(), Some(QueueError::Closed));
    // The file is released: another queue (a restart) may open it at once.
    Queue::open(dir.path()).unwrap();
}

/// A disk that refuses writes on demand, under redb's file backend.
#[derive(Debug)]
struct RefusingDisk {
    inner: FileBackend,
    refuse: Arc<AtomicBool>,
}

impl RefusingDisk {
    fn check(&self) -> Result<(), BackendIoError> {
        if self.refuse.load(Ordering::SeqCst) {
            Err(std::io::Error::new(
                std::io::ErrorKind::StorageFull,
                "No space left on device",
            ))
        } else {
            Ok(())
        }
    }
}

impl StorageBackend for RefusingDisk {
    fn len(&self) -> Result<u64, BackendIoError> {
        self.inner.len()
    }
    fn read(&self, offset: u64, out: &mut [u8]) -> Result<(), BackendIoError> {
        self.inner.read(offset, out)
    }
    fn set_len(&self, len: u64) -> Result<(), BackendIoError> {
        self.check()?;
        self.inner.set_len(len)
    }
    fn sync_data(&self) -> Result<(), BackendIoError> {
        self.check()?;
        self.inner.sync_data()
    }
    fn write(&self, offset: u64, data: &[u8]) -> Result<(), BackendIoError> {
        self.check()?;
        self.inner.write(offset, data)
    }
}

#[test]
fn a_disk_that_refuses_writes_is_an_error_answer_and_loses_nothing_accepted() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("queue.redb");
    let refuse = Arc::new(AtomicBool::new(false));
    let opener = {
        let (path, refuse) = (path.clone(), refuse.clone());
        Box::new(move || {
            let file = std::fs::OpenOptions::new()
                .read(true)
                .write(true)
                .create(true)
                .truncate(false)
                .open(&path)
                .map_err(redb::StorageError::from)?;
            let inner = FileBackend::new(file)?;
            store::builder().create_with_backend(RefusingDisk {
                inner,
                refuse: refuse.clone(),
            })
        })
    };
    let queue = Queue::start(Store::with_opener(&path, opener).unwrap()).unwrap();
    append(&queue, "t", "chat.ended", "before");

    refuse.store(true, Ordering::SeqCst);
    let refused = queue.append("t", "chat.ended", "during", b"{}".to_vec());
    assert!(
        matches!(&refused, Err(QueueError::Storage(m)) if m.contains("No space left")),
        "{refused:?}"
    );
    refuse.store(false, Ordering::SeqCst);
    append(&queue, "t", "chat.ended", "after");
    drop(queue);

    let queue = Queue::open(dir.path()).unwrap();
    let batch = queue.due("t", 10).unwrap();
    assert_eq!(
        ids(&batch),
        [pair("chat.ended", "before"), pair("chat.ended", "after")]
    );
}

#[test]
fn the_record_a_chat_became_is_remembered_across_restarts() {
    let dir = tempfile::tempdir().unwrap();
    let case = ActivityRecord {
        object: "Case".into(),
        id: "500000000000001AAA".into(),
    };
    {
        let queue = Queue::open(dir.path()).unwrap();
        assert_eq!(queue.activity("t", "c1").unwrap(), None);
        queue.remember_activity("t", "c1", &case).unwrap();
    }
    let queue = Queue::open(dir.path()).unwrap();
    assert_eq!(queue.activity("t", "c1").unwrap(), Some(case));
    assert_eq!(queue.activity("other", "c1").unwrap(), None, "per tenant");
}

#[test]
fn an_attempt_cut_short_by_a_crash_counts_as_possibly_applied() {
    let dir = tempfile::tempdir().unwrap();
    {
        let queue = Queue::open(dir.path()).unwrap();
        append(&queue, "t", "chat.ended", "c1");
        append(&queue, "t", "chat.ended", "c2");
        let batch = queue.due("t", 10).unwrap();
        assert!(!batch.events[0].meta.maybe_applied);
        queue.mark_in_flight("t", &batch.events).unwrap();
        // c2's attempt ends (Salesforce answered 503); c1's process dies mid-request.
        let retry = Settlement::Retry {
            reason: "503".into(),
            maybe_applied: false,
        };
        queue.settle("t", vec![(&batch.events[1], retry)]).unwrap();
    }
    let queue = Queue::open(dir.path()).unwrap();
    let store = &queue.store;
    let after = store.due("t", now_ms() + 3_600_000, 10).unwrap();
    let doubt: Vec<_> = after
        .events
        .iter()
        .map(|(_, m, _)| (m.event_id.clone(), m.maybe_applied))
        .collect();
    assert_eq!(doubt, [("c1".to_string(), true), ("c2".to_string(), false)]);
}

#[test]
fn a_tenant_whose_org_changed_forgets_its_records_and_only_its_own() {
    let dir = tempfile::tempdir().unwrap();
    let queue = Queue::open(dir.path()).unwrap();
    let case = |id: &str| ActivityRecord {
        object: "Case".into(),
        id: id.into(),
    };
    queue.remember_activity("t", "c1", &case("500A")).unwrap();
    queue.remember_activity("t", "c2", &case("500B")).unwrap();
    queue.remember_activity("u", "c1", &case("500C")).unwrap();
    queue.forget_activities("t").unwrap();
    assert_eq!(queue.activity("t", "c1").unwrap(), None);
    assert_eq!(queue.activity("t", "c2").unwrap(), None);
    assert_eq!(queue.activity("u", "c1").unwrap(), Some(case("500C")));
}

#[test]
fn the_people_made_for_chats_are_remembered_apart_from_their_cases_and_forgotten_with_them() {
    let dir = tempfile::tempdir().unwrap();
    let record = |object: &str, id: &str| ActivityRecord {
        object: object.into(),
        id: id.into(),
    };
    {
        let queue = Queue::open(dir.path()).unwrap();
        let contact = record("Contact", "003A");
        queue
            .remember_people("t", &[("c1", contact.clone()), ("c2", contact)])
            .unwrap();
    }
    let queue = Queue::open(dir.path()).unwrap();
    assert_eq!(
        queue.person("t", "c1").unwrap(),
        Some(record("Contact", "003A"))
    );
    assert_eq!(
        queue.person("t", "c2").unwrap(),
        Some(record("Contact", "003A"))
    );
    assert_eq!(queue.activity("t", "c1").unwrap(), None, "not its Case");
    assert_eq!(queue.person("u", "c1").unwrap(), None, "per tenant");
    queue
        .remember_activity("t", "c1", &record("Case", "500A"))
        .unwrap();
    assert_eq!(
        queue.person("t", "c1").unwrap(),
        Some(record("Contact", "003A"))
    );
    queue.forget_activities("t").unwrap();
    assert_eq!(queue.person("t", "c1").unwrap(), None, "another org");
}

#[test]
fn a_write_started_is_known_until_it_ends() {
    let dir = tempfile::tempdir().unwrap();
    {
        let queue = Queue::open(dir.path()).unwrap();
        assert!(!queue.start_write("t", "c1").unwrap());
        assert!(!queue.start_write("t", "c2").unwrap());
    }
    let queue = Queue::open(dir.path()).unwrap();
    assert!(queue.write_unfinished("t", "c1").unwrap(), "on disk");
    assert!(queue.start_write("t", "c1").unwrap());
    queue.end_write("t", "c1").unwrap();
    assert!(!queue.write_unfinished("t", "c1").unwrap());
    assert!(!queue.start_write("t", "c1").unwrap(), "ended");
    assert!(queue.start_write("t", "c2").unwrap(), "the other not");
    assert_eq!(
        queue.activity("t", "c1").unwrap(),
        None,
        "a mark, not a record"
    );
}

#[test]
fn a_record_remembered_until_settled_is_durable_with_the_settlement() {
    let dir = tempfile::tempdir().unwrap();
    let case = ActivityRecord {
        object: "Case".into(),
        id: "500L".into(),
    };
    {
        let queue = Queue::open(dir.path()).unwrap();
        append(&queue, "t", "chat.ended", "c1");
        let batch = queue.due("t", 10).unwrap();
        queue
            .remember_activity_until_settled("t", "c1", &case)
            .unwrap();
        assert_eq!(queue.activity("t", "c1").unwrap(), Some(case.clone()));
        queue
            .settle("t", vec![(&batch.events[0], Settlement::Delivered)])
            .unwrap();
    }
    let queue = Queue::open(dir.path()).unwrap();
    assert_eq!(queue.activity("t", "c1").unwrap(), Some(case));
}

/// A store in memory, for tests of large queues.
fn in_memory() -> Store {
    Store::with_opener(
        std::path::Path::new("in-memory"),
        Box::new(|| store::builder().create_with_backend(redb::backends::InMemoryBackend::new())),
    )
    .unwrap()
}

/// Appends the tenant's chats' events in one transaction, as if at `now_ms`.
fn append_at(store: &Store, tenant: &str, chats: impl Iterator<Item = String>, now_ms: u64) {
    let events: Vec<NewEvent> = chats
        .map(|chat| NewEvent {
            tenant: tenant.to_string(),
            kind: "chat.ended".to_string(),
            event_id: chat,
            payload: b"{}".to_vec(),
        })
        .collect();
    store
        .commit(true, |tx, pending| {
            store.append(tx, pending, &events, now_ms)
        })
        .unwrap();
}

#[test]
fn a_look_at_a_long_queue_reads_its_batch_and_one_row_more() {
    let store = in_memory();
    let now = now_ms();
    let later = now + 3_600_000;
    // 20,000 events waiting out a back-off (an outage), then a few due now.
    for block in 0..4 {
        let chats = (0..5_000).map(|n| format!("old-{block}-{n}"));
        append_at(&store, "t", chats, later);
    }
    let fresh = (0..5).map(|n| format!("new-{n}"));
    append_at(&store, "t", fresh, now);
    assert_eq!(store.pending("t").unwrap(), 20_005);

    let look = store.due("t", now, 200).unwrap();
    assert_eq!(
        look.events.len(),
        5,
        "the events due now, behind none in back-off"
    );
    assert_eq!(look.next_due_ms, Some(later));
    assert_eq!(look.rows_read, 6);

    let nothing_due = store.due("t", now - 1, 200).unwrap();
    assert!(nothing_due.events.is_empty());
    assert_eq!(nothing_due.next_due_ms, Some(now));
    assert_eq!(nothing_due.rows_read, 1);

    let all_due = store.due("t", later, 200).unwrap();
    assert_eq!(all_due.events.len(), 200);
    assert_eq!(all_due.rows_read, 201);
}

#[test]
fn a_look_hands_out_events_until_their_payloads_reach_the_byte_budget() {
    let chat = |n: usize, bytes: usize| NewEvent {
        tenant: "t".into(),
        kind: "chat.ended".into(),
        event_id: format!("big-{n}"),
        payload: vec![b' '; bytes],
    };
    let now = now_ms();
    let look = |events: Vec<NewEvent>| {
        let store = in_memory();
        store
            .commit(true, |tx, pending| store.append(tx, pending, &events, now))
            .unwrap();
        store.due("t", now, 200).unwrap()
    };
    // Chats with 4 MB attachments inline: four reach 16 MB, the rest wait for the next look.
    let four_mb = look((0..6).map(|n| chat(n, store::BATCH_BYTES / 4)).collect());
    assert_eq!(four_mb.events.len(), 4);
    assert_eq!(four_mb.next_due_ms, Some(now), "the rest are due at once");
    // One event larger than the budget still goes, alone.
    let huge = look(vec![chat(0, store::BATCH_BYTES + 1), chat(1, 10)]);
    assert_eq!(huge.events.len(), 1);
}

#[test]
fn a_look_reads_a_bounded_number_of_a_chats_later_events() {
    let store = in_memory();
    let now = now_ms();
    // One chat with 5,000 events, then another chat: the first chat's later events follow its
    // first in later batches; the look gives up on them after a bounded number of rows.
    let same = std::iter::repeat_n("busy".to_string(), 5_000);
    append_at(&store, "t", same, now);
    append_at(&store, "t", std::iter::once("other".into()), now);
    let look = store.due("t", now, 200).unwrap();
    let chats: Vec<_> = look
        .events
        .iter()
        .map(|(_, m, _)| m.event_id.clone())
        .collect();
    assert_eq!(chats, ["busy"]);
    assert!(look.rows_read <= 1 + 1024, "{}", look.rows_read);
    assert_eq!(look.next_due_ms, Some(now), "more is due now");
}

#[test]
fn a_chats_later_event_never_comes_due_before_an_earlier_one() {
    let dir = tempfile::tempdir().unwrap();
    let queue = Queue::open(dir.path()).unwrap();
    append(&queue, "t", "chat.started", "c1");
    let batch = queue.due("t", 10).unwrap();
    let retry = Settlement::Retry {
        reason: "503".into(),
        maybe_applied: false,
    };
    queue.settle("t", vec![(&batch.events[0], retry)]).unwrap();
    // The end arrives while the start waits out its back-off: it waits behind it.
    append(&queue, "t", "chat.ended", "c1");
    append(&queue, "t", "chat.ended", "c2");
    assert_eq!(
        ids(&queue.due("t", 10).unwrap()),
        [pair("chat.ended", "c2")]
    );
    let later = queue.store.due("t", now_ms() + 3_600_000, 10).unwrap();
    let c1: Vec<_> = later
        .events
        .iter()
        .filter(|(_, m, _)| m.event_id == "c1")
        .map(|(_, m, _)| m.kind.clone())
        .collect();
    assert_eq!(
        c1,
        ["chat.started"],
        "the start first, then (next batch) the end"
    );

    // A failed start re-queued goes before its chat's end, even if the end was due sooner.
    let dir = tempfile::tempdir().unwrap();
    let queue = Queue::open(dir.path()).unwrap();
    append(&queue, "t", "chat.started", "c1");
    let batch = queue.due("t", 10).unwrap();
    let failed = Settlement::Failed {
        code: "FIELD_CUSTOM_VALIDATION_EXCEPTION".into(),
        message: "no".into(),
    };
    queue.settle("t", vec![(&batch.events[0], failed)]).unwrap();
    append(&queue, "t", "chat.ended", "c1");
    std::thread::sleep(std::time::Duration::from_millis(5));
    assert_eq!(queue.requeue_failed("t", None).unwrap(), 1);
    assert_eq!(
        ids(&queue.due("t", 10).unwrap()),
        [pair("chat.started", "c1")]
    );
}

#[test]
fn concurrent_appends_share_commits() {
    let dir = tempfile::tempdir().unwrap();
    let queue = Arc::new(Queue::open(dir.path()).unwrap());
    let before = queue.store.commits.load(Ordering::SeqCst);
    let appenders: Vec<_> = (0..32)
        .map(|t| {
            let queue = queue.clone();
            std::thread::spawn(move || {
                for i in 0..20 {
                    append(&queue, "t", "chat.ended", &format!("c{t}-{i}"));
                }
            })
        })
        .collect();
    for appender in appenders {
        appender.join().unwrap();
    }
    let commits = queue.store.commits.load(Ordering::SeqCst) - before;
    assert_eq!(queue.counts("t").unwrap().pending, 640);
    assert!(
        commits < 640 / 2,
        "{commits} commits for 640 appends: flushes are shared"
    );
}

#[test]
fn a_file_of_the_first_format_is_read_and_moved_to_the_due_order() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("queue.redb");
    let first_pending: redb::TableDefinition<(&str, u64), &[u8]> =
        redb::TableDefinition::new("pending");
    let first_meta: redb::TableDefinition<&str, u64> = redb::TableDefinition::new("meta");
    let counters: redb::TableDefinition<(&str, &str), u64> = redb::TableDefinition::new("counters");
    let payloads: redb::TableDefinition<u64, &[u8]> = redb::TableDefinition::new("payloads");
    {
        let db = redb::Database::create(&path).unwrap();
        let tx = db.begin_write().unwrap();
        {
            let mut pending = tx.open_table(first_pending).unwrap();
            let mut payload = tx.open_table(payloads).unwrap();
            let now = now_ms();
            for (seq, kind, chat, due) in [
                (1, "chat.started", "c1", now + 3_600_000),
                (2, "chat.ended", "c1", now),
                (3, "chat.ended", "c2", now),
            ] {
                let meta = serde_json::json!({"kind": kind, "event_id": chat, "enqueued_ms": now,
                    "attempts": 0, "due_ms": due, "maybe_applied": false, "last_error": null});
                pending
                    .insert(("t", seq), meta.to_string().as_bytes())
                    .unwrap();
                payload.insert(seq, b"{}".as_slice()).unwrap();
            }
            tx.open_table(first_meta)
                .unwrap()
                .insert("next_seq", 4)
                .unwrap();
            let mut counts = tx.open_table(counters).unwrap();
            counts.insert(("t", "pending"), 3).unwrap();
            counts.insert(("t", "written"), 7).unwrap();
        }
        tx.commit().unwrap();
    }
    let queue = Queue::open(dir.path()).unwrap();
    assert_eq!(
        queue.counts("t").unwrap(),
        Counts {
            pending: 3,
            written: 7,
            failed: 0
        }
    );
    // c1's end was due before its start: it now waits behind it.
    assert_eq!(
        ids(&queue.due("t", 10).unwrap()),
        [pair("chat.ended", "c2")]
    );
    assert_eq!(append(&queue, "t", "chat.ended", "c3"), 4, "numbers go on");
}

#[test]
fn the_workers_writes_share_the_hooks_commits() {
    let dir = tempfile::tempdir().unwrap();
    let queue = Arc::new(Queue::open(dir.path()).unwrap());
    let before = queue.store.commits.load(Ordering::SeqCst);
    // Each thread a hook and a worker of its own tenant: append, mark in flight, settle.
    let threads: Vec<_> = (0..16)
        .map(|t| {
            let queue = queue.clone();
            std::thread::spawn(move || {
                let tenant = format!("t{t}");
                for i in 0..10 {
                    append(&queue, &tenant, "chat.ended", &format!("c{i}"));
                    let batch = queue.due(&tenant, 1).unwrap();
                    queue.mark_in_flight(&tenant, &batch.events).unwrap();
                    let delivered = vec![(&batch.events[0], Settlement::Delivered)];
                    queue.settle(&tenant, delivered).unwrap();
                }
            })
        })
        .collect();
    for thread in threads {
        thread.join().unwrap();
    }
    let commits = queue.store.commits.load(Ordering::SeqCst) - before;
    assert!(commits < 480 / 2, "{commits} commits for 480 writes");
    for t in 0..16 {
        assert_eq!(queue.counts(&format!("t{t}")).unwrap().written, 10);
    }
}

#[test]
fn a_write_that_fails_itself_fails_alone_and_the_rest_of_its_group_is_committed() {
    let store = Arc::new(in_memory());
    let committer = Arc::new(committer::Committer::start(store.clone()).unwrap());
    // The committer busy with a slow write while the others queue up behind it.
    let slow = {
        let committer = committer.clone();
        std::thread::spawn(move || {
            committer.write(true, |_, _| {
                std::thread::sleep(std::time::Duration::from_millis(200));
                Ok(())
            })
        })
    };
    std::thread::sleep(std::time::Duration::from_millis(50));
    let damaged = {
        let committer = committer.clone();
        std::thread::spawn(move || {
            committer.write(true, |_, _| -> Result<(), redb::Error> {
                Err(redb::Error::Corrupted(
                    "a row this version cannot read".into(),
                ))
            })
        })
    };
    let appends: Vec<_> = (0..10)
        .map(|n| {
            let (committer, store) = (committer.clone(), store.clone());
            std::thread::spawn(move || {
                let event = [NewEvent {
                    tenant: "t".into(),
                    kind: "chat.ended".into(),
                    event_id: format!("c{n}"),
                    payload: b"{}".to_vec(),
                }];
                committer.write(true, move |tables, pending| {
                    store.append(tables, pending, &event, now_ms())
                })
            })
        })
        .collect();
    slow.join().unwrap().unwrap();
    assert_eq!(
        damaged.join().unwrap(),
        Err(QueueError::Corrupt("a row this version cannot read".into()))
    );
    for append in appends {
        append.join().unwrap().unwrap();
    }
    assert_eq!(store.pending("t").unwrap(), 10);
    assert_eq!(store.due("t", now_ms(), 20).unwrap().events.len(), 10);
    committer.close();
}

/// The tenant's next event whatever its due time: a worker's look once its back-off has ended,
/// without waiting for it.
fn next_whenever(queue: &Queue, tenant: &str) -> QueuedEvent {
    let (seq, meta, payload) = queue
        .store
        .due(tenant, u64::MAX, 1)
        .unwrap()
        .events
        .remove(0);
    QueuedEvent { seq, meta, payload }
}

#[test]
fn an_event_retried_a_hundred_times_waits_at_most_the_cap_and_is_delivered_at_last() {
    use super::backoff::{CAP, FLOOR};
    let dir = tempfile::tempdir().unwrap();
    let queue = Queue::open(dir.path()).unwrap();
    append(&queue, "t", "chat.ended", "c1");
    let mut longest = 0;
    for attempt in 0..100 {
        let event = next_whenever(&queue, "t");
        assert_eq!(event.meta.attempts, attempt);
        let unavailable = Settlement::Retry {
            reason: "Salesforce answered 503 SERVER_UNAVAILABLE: Server Unavailable".into(),
            maybe_applied: false,
        };
        let before = now_ms();
        queue.settle("t", vec![(&event, unavailable)]).unwrap();
        let after = now_ms();
        // Waiting out its back-off: pending, not due now, due within the cap.
        assert!(queue.due("t", 10).unwrap().events.is_empty(), "{attempt}");
        let due = next_whenever(&queue, "t").meta.due_ms;
        let (floor, cap) = (FLOOR.as_millis() as u64, CAP.as_millis() as u64);
        assert!(
            before + floor <= due && due <= after + cap,
            "attempt {attempt}: due {} ms on",
            due - before
        );
        longest = longest.max(due - before);
    }
    // It grew to the cap's order, never beyond it: from the tenth attempt on, each draw is
    // from up to the cap, and 90 draws all under its half are beyond chance.
    assert!(longest > CAP.as_millis() as u64 / 2, "{longest} ms");
    let counts = queue.counts("t").unwrap();
    assert_eq!((counts.pending, counts.failed), (1, 0));

    // Salesforce is back.
    let event = next_whenever(&queue, "t");
    assert_eq!(event.meta.attempts, 100);
    assert_eq!(
        event.meta.last_error.as_deref(),
        Some("Salesforce answered 503 SERVER_UNAVAILABLE: Server Unavailable")
    );
    queue
        .settle("t", vec![(&event, Settlement::Delivered)])
        .unwrap();
    let counts = queue.counts("t").unwrap();
    assert_eq!((counts.pending, counts.written, counts.failed), (0, 1, 0));
}
