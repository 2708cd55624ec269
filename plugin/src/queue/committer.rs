//! The committer: the one thread that writes the queue's file.
//!
//! Every write goes through it: a hook's append, a worker's in-flight mark and settlement, a
//! remembered record. It runs every write waiting at that moment in one transaction, with one
//! flush, and then answers each: many concurrent hooks share a flush (group commit), and the
//! workers' writes share it too instead of queueing for redb's single writer between the hooks'.
//! A write is answered only once its transaction is committed (and flushed, if it asked).
//!
//! A write that fails itself (a damaged row, say) is answered its error, and the rest of its
//! group is committed without it; a commit that fails (a full disk) fails the whole group.

use std::sync::Arc;
use std::thread::JoinHandle;

use super::store::{Pending, Store, Tables};
use super::QueueError;
use crossbeam_channel::{bounded, unbounded, Receiver, Sender};
use parking_lot::Mutex;

/// Most writes in one transaction: bounds the memory a burst can pin.
const MAX_GROUP: usize = 1024;

type Op = Box<dyn FnMut(&mut Tables<'_>, &mut Pending) -> Result<(), redb::Error> + Send>;

struct Job {
    op: Op,
    /// Flushed before it is answered.
    durable: bool,
    done: Sender<Result<(), QueueError>>,
}

pub struct Committer {
    jobs: Mutex<Option<Sender<Job>>>,
    thread: Mutex<Option<JoinHandle<()>>>,
}

impl Committer {
    pub fn start(store: Arc<Store>) -> Result<Committer, QueueError> {
        let (jobs, queued) = unbounded();
        let thread = std::thread::Builder::new()
            .name("cloudcx-salesforce-queue".into())
            .spawn(move || commit_loop(&store, &queued))
            .map_err(|e| QueueError::Storage(format!("cannot start the queue's thread: {e}")))?;
        Ok(Committer {
            jobs: Mutex::new(Some(jobs)),
            thread: Mutex::new(Some(thread)),
        })
    }

    /// Runs `write` in the next group's transaction; answers what it answered once that is
    /// committed, and on disk if `durable`. `write` runs again if another write of its group
    /// failed, so it must not consume what it writes.
    pub fn write<T: Send + 'static>(
        &self,
        durable: bool,
        mut write: impl FnMut(&mut Tables<'_>, &mut Pending) -> Result<T, redb::Error> + Send + 'static,
    ) -> Result<T, QueueError> {
        let answer = Arc::new(Mutex::new(None));
        let op: Op = {
            let answer = answer.clone();
            Box::new(move |tables, pending| {
                *answer.lock() = Some(write(tables, pending)?);
                Ok(())
            })
        };
        let (done, committed) = bounded(1);
        let sender = self.jobs.lock().clone().ok_or(QueueError::Closed)?;
        sender
            .send(Job { op, durable, done })
            .map_err(|_| QueueError::Closed)?;
        committed.recv().map_err(|_| QueueError::Closed)??;
        let value = answer.lock().take();
        Ok(value.expect("a committed write has its answer"))
    }

    /// Refuses new writes, commits those handed over and joins the thread.
    pub fn close(&self) {
        self.jobs.lock().take();
        if let Some(thread) = self.thread.lock().take() {
            let _ = thread.join();
        }
    }
}

fn commit_loop(store: &Store, queued: &Receiver<Job>) {
    while let Ok(first) = queued.recv() {
        let mut group = vec![first];
        while group.len() < MAX_GROUP {
            match queued.try_recv() {
                Ok(next) => group.push(next),
                Err(_) => break,
            }
        }
        // Writes that need no flush of their own (a record remembered until its event is
        // settled) are committed apart, first: a worker remembering chat after chat must not
        // wait for the hooks' flush at each.
        let (durable, lazy): (Vec<Job>, Vec<Job>) = group.into_iter().partition(|j| j.durable);
        commit_group(store, lazy);
        commit_group(store, durable);
    }
}

/// Commits the group's writes together and answers each. A write that fails itself (a damaged
/// row) is answered its error and the others are committed without it; a commit that fails
/// (the disk) fails them all.
fn commit_group(store: &Store, mut group: Vec<Job>) {
    while !group.is_empty() {
        let durable = group.iter().any(|job| job.durable);
        let mut failed_write = None;
        let committed = store.commit(durable, |tables, pending| {
            for (n, job) in group.iter_mut().enumerate() {
                (job.op)(tables, pending).inspect_err(|_| failed_write = Some(n))?;
            }
            Ok(())
        });
        match (committed, failed_write) {
            (Ok(()), _) => {
                for job in group.drain(..) {
                    let _ = job.done.send(Ok(()));
                }
            }
            (Err(e), Some(n)) => {
                log::error!("a write to the event queue failed: {e}");
                let _ = group.remove(n).done.send(Err(e));
            }
            (Err(e), None) => {
                log::error!("{} writes to the event queue failed: {e}", group.len());
                for job in group.drain(..) {
                    let _ = job.done.send(Err(e.clone()));
                }
            }
        }
    }
}
