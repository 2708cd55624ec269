//! The lookup cache's 30 s, on a clock the test moves: Salesforce is replayed beneath the
//! client, and each composite request it receives is one API call.

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use http::Method;
use parking_lot::Mutex;
use serde_json::{json, Value};

use super::*;
use crate::replayed_org::{self, composite_answer, COMPOSITE};
use crate::salesforce::replay::ReplayTransport;

struct Harness {
    replay: Arc<ReplayTransport>,
    console: Arc<Console>,
    settings: Arc<TenantSettings>,
    now: Arc<Mutex<Instant>>,
    _dir: tempfile::TempDir,
}

/// The console of tenant `acme`, connected with the example settings, on a clock that moves
/// only when the test says; Salesforce answers `lookups` identification requests, each
/// finding Jane's Contact.
fn harness(lookups: usize) -> Harness {
    let jane = composite_answer(&[(
        "q0",
        200,
        json!({"totalSize": 1, "done": true, "records": [
            {"Id": "003x0000004TmiQAAS", "Name": "Jane Doe", "Email": "jane@acme.example"}
        ]}),
    )]);
    let org = replayed_org::connect(
        |_| {},
        Arc::new(SystemTime::now),
        |mut replay| {
            for _ in 0..lookups {
                replay = replay.expect(Method::POST, COMPOSITE, 200, &jane);
            }
            replay
        },
    );
    let queue = Arc::new(Queue::open(org.dir.path()).unwrap());
    let engine = Arc::new(SyncEngine::new(
        queue.clone(),
        org.connections.clone(),
        "v62.0",
    ));
    let now = Arc::new(Mutex::new(Instant::now()));
    let clock = now.clone();
    Harness {
        replay: org.replay,
        console: Arc::new(Console::with_clock(
            engine,
            queue,
            org.connections,
            Arc::new(move || *clock.lock()),
        )),
        settings: Arc::new(org.settings),
        now,
        _dir: org.dir,
    }
}

impl Harness {
    /// Jane's customer view.
    fn lookup(&self) -> Value {
        let request = json!({"tenant_id": "acme", "visitor": {"email": "jane@acme.example"}});
        let settings = self.settings.clone();
        self.console
            .lookup(&request.to_string(), 5_000, |_| Ok(settings))
            .unwrap_or_else(|e| panic!("{e}"))
    }

    /// Identification requests Salesforce received so far.
    fn calls(&self) -> usize {
        let requests = self.replay.requests();
        requests.iter().filter(|r| r.uri == COMPOSITE).count()
    }

    fn advance(&self, by: Duration) {
        *self.now.lock() += by;
    }
}

#[test]
fn a_lookup_within_30_s_costs_no_call_and_one_after_costs_one() {
    let h = harness(2);
    let view = h.lookup();
    assert_eq!(view["matches"][0]["id"], "003x0000004TmiQAAS", "{view:#}");
    assert_eq!(h.calls(), 1);

    h.advance(Duration::from_millis(29_999));
    assert_eq!(h.lookup(), view);
    assert_eq!(h.calls(), 1, "from the cache");

    h.advance(Duration::from_millis(1));
    assert_eq!(h.lookup(), view);
    assert_eq!(h.calls(), 2, "30 s on: asked again");
    assert_eq!(h.lookup(), view);
    assert_eq!(h.calls(), 2, "the new answer is kept in turn");
    h.replay.assert_done();
}
