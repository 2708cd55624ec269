//! What every connection shares: the org, OAuth state, faults, API usage and query cursors.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicBool, Ordering};

use parking_lot::Mutex;
use serde_json::Value;

use super::faults::{Faults, Usage};
use super::hosts::Hosts;
use super::oauth::OAuth;
use super::store::Org;

/// Rows of a query not yet fetched through `nextRecordsUrl`.
pub struct Cursor {
    pub rows: Vec<Value>,
    pub batch: usize,
}

/// Open query cursors, oldest dropped first past [`Cursors::MAX`].
#[derive(Default)]
pub struct Cursors {
    pub open: HashMap<String, Cursor>,
    order: VecDeque<String>,
    seq: u64,
}

impl Cursors {
    const MAX: usize = 200;

    /// Keeps a query's rows and returns its query Id, an 18-character `01g…` Id as in
    /// Salesforce's locators (`01gD0000002HU6KIAW-2000`).
    pub fn add(&mut self, rows: Vec<Value>, batch: usize) -> String {
        self.seq += 1;
        let id = super::ids::make("01g", self.seq);
        self.open.insert(id.clone(), Cursor { rows, batch });
        self.order.push_back(id.clone());
        while self.order.len() > Cursors::MAX {
            if let Some(old) = self.order.pop_front() {
                self.open.remove(&old);
            }
        }
        id
    }
}

/// Lock order: code holding two of these locks at once takes `org` first (then `auth`, or
/// `cursors` while answering a query); the data-file writer holds `org` and `auth` together,
/// so taking `auth` before `org` can deadlock with it.
pub struct Shared {
    /// The login and instance base URLs.
    pub hosts: Hosts,
    pub org: Mutex<Org>,
    pub auth: Mutex<OAuth>,
    pub faults: Faults,
    pub usage: Usage,
    pub cursors: Mutex<Cursors>,
    /// Default page size of a query (Salesforce's 2,000; `Sforce-Query-Options` lowers it).
    pub batch_size: usize,
    /// Something changed since the data file was last written.
    pub dirty: AtomicBool,
}

impl Shared {
    pub fn mark_dirty(&self) {
        self.dirty.store(true, Ordering::Release);
    }
}
