//! The lookup cache's 30 s, on a clock the test moves: Salesforce is replayed beneath the
//! client, and each composite request it receives is one API call.

use std::sync::Arc;
use std::time::{Duration, Instant};

use http::Method;
use parking_lot::Mutex;
use serde_json::{json, Value};

use super::*;
use crate::oauth::{CallbackQuery, ConnectionSettings};
use crate::salesforce::fixtures::fixture;
use crate::salesforce::replay::ReplayTransport;

const TOKEN_URL: &str = "https://login.salesforce.com/services/oauth2/token";
/// The identity URL and instance in `oauth_token_response.restforce.json`.
const ID_URL: &str = "https://login.salesforce.com/id/00Dx0000000BV7z/005x00000012Q9P";
const COMPOSITE: &str = "https://na1.salesforce.com/services/data/v62.0/composite";

struct NobodyListens;

impl crate::workers::Notify for NobodyListens {
    fn notify(&self, _: Value) {}
}

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
    let dir = tempfile::tempdir().unwrap();
    let host = crate::config::parse(
        &json!({"state_dir": dir.path(), "redirect_url": "https://cx.example.com/callback"})
            .to_string(),
    )
    .unwrap();
    let mut token: Value =
        serde_json::from_slice(&fixture("oauth_token_response.restforce.json")).unwrap();
    token["refresh_token"] = json!("5Aep861refresh");
    token["token_type"] = json!("Bearer");
    let mut identity: Value =
        serde_json::from_slice(&fixture("identity_url_response_200.postman.json")).unwrap();
    identity["organization_id"] = json!("00Dx0000000BV7zEAG");
    identity["user_id"] = json!("005x00000012Q9PAAU");
    let jane = json!({"compositeResponse": [{
        "referenceId": "q0", "httpStatusCode": 200, "httpHeaders": {},
        "body": {"totalSize": 1, "done": true, "records": [
            {"Id": "003x0000004TmiQAAS", "Name": "Jane Doe", "Email": "jane@acme.example"}
        ]},
    }]});
    let mut replay = ReplayTransport::new()
        .expect(Method::POST, TOKEN_URL, 200, token.to_string().as_bytes())
        .expect(Method::GET, ID_URL, 200, identity.to_string().as_bytes());
    for _ in 0..lookups {
        replay = replay.expect(Method::POST, COMPOSITE, 200, jane.to_string().as_bytes());
    }
    let replay = Arc::new(replay);
    let connections =
        Arc::new(Connections::new(&host, replay.clone(), Arc::new(NobodyListens)).unwrap());
    let mut value: Value =
        serde_json::from_str(include_str!("../../../examples/settings.json")).unwrap();
    value["connection"]["login_url"] = json!("https://login.salesforce.com/");
    value["connection"]["pkce"] = json!(false);
    let settings = Arc::new(TenantSettings::parse(&value.to_string(), &host).unwrap());
    let section = ConnectionSettings::from_value(&value["connection"], &host).unwrap();
    let start = connections.connect_start("acme", &section).unwrap();
    let state = form_urlencoded::parse(start.url.split_once('?').unwrap().1.as_bytes())
        .find(|(k, _)| k == "state")
        .unwrap()
        .1
        .into_owned();
    let query = CallbackQuery::from_query_string(&format!("code=c0de&state={state}"));
    connections
        .connect_finish("acme", &section, &query, |_| {
            Ok::<_, crate::oauth::ConnectionError>(())
        })
        .unwrap();
    let queue = Arc::new(Queue::open(dir.path()).unwrap());
    let engine = Arc::new(SyncEngine::new(queue.clone(), connections.clone(), "v62.0"));
    let now = Arc::new(Mutex::new(Instant::now()));
    let clock = now.clone();
    Harness {
        replay,
        console: Arc::new(Console::with_clock(
            engine,
            queue,
            connections,
            Arc::new(move || *clock.lock()),
        )),
        settings,
        now,
        _dir: dir,
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
