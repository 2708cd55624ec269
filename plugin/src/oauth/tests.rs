//! The connection lifecycle, with Salesforce's real response bodies replayed beneath the
//! client through the `Transport` seam.

use std::path::Path;
use std::sync::{Arc, Barrier};
use std::time::{Duration, SystemTime};

use http::Method;
use oauth2::url::Url;
use oauth2::{PkceCodeChallenge, PkceCodeVerifier};
use parking_lot::Mutex;
use serde_json::{json, Value};

use super::*;
use crate::config::HostConfig;
use crate::salesforce::fixtures::fixture;
use crate::salesforce::replay::ReplayTransport;
use crate::salesforce::{ApiUsage, TransportErrorKind};

const TENANT: &str = "acme";
const LOGIN: &str = "https://login.salesforce.com";
const TOKEN_URL: &str = "https://login.salesforce.com/services/oauth2/token";
const REVOKE_URL: &str = "https://login.salesforce.com/services/oauth2/revoke";
/// The identity URL in `oauth_token_response.restforce.json`.
const ID_URL: &str = "https://login.salesforce.com/id/00Dx0000000BV7z/005x00000012Q9P";
/// The access token in the same fixture.
const ACCESS: &str = "00Dx0000000BV7z!AR8AQAxo9UfVkh8AlV0Gomt9Czx9LjHnSSpwBMmbRcgKFmxOtvxjTrKW19ye6PE3Ds1eQz3z8jr3W7_VbWmEu4Q8TVGSTHxs";
const REFRESH: &str = "5Aep861refresh-secret-value";
const CLIENT_SECRET: &str = "client-secret-value";
const CODE: &str = "aPrxcode-secret-value";
const REDIRECT: &str = "https://cx.example.com/integrations/salesforce/callback";
const KEY_HEX: &str = "8c5f0e6a1b2d3c4e5f60718293a4b5c6d7e8f90112233445566778899aabbcc0";

struct Harness {
    replay: Arc<ReplayTransport>,
    connections: Connections,
    /// The orgs connects left, as told to their `leaving` callback, with the org the tenant
    /// was connected to at that moment.
    left: Mutex<Vec<(PreviousOrg, Option<String>)>>,
    /// What the host was told.
    heard: Arc<Heard>,
    now: Arc<Mutex<SystemTime>>,
    _dir: tempfile::TempDir,
    host: HostConfig,
}

fn host_config(dir: &Path, key: Option<&str>) -> HostConfig {
    let mut config = json!({"state_dir": dir.join("state"), "redirect_url": REDIRECT});
    if let Some(key) = key {
        let path = dir.join("salesforce.key");
        std::fs::write(&path, key).unwrap();
        config["secret_key_file"] = json!(path);
    }
    crate::config::parse(&config.to_string()).unwrap()
}

fn harness(replay: ReplayTransport, key: Option<&str>) -> Harness {
    let dir = tempfile::tempdir().unwrap();
    let host = host_config(dir.path(), key);
    let replay = Arc::new(replay);
    let now = Arc::new(Mutex::new(
        SystemTime::UNIX_EPOCH + Duration::from_secs(1_795_000_000),
    ));
    let heard = Arc::new(Heard::default());
    let connections = open(&host, &replay, &heard, &now);
    Harness {
        replay,
        connections,
        left: Mutex::new(Vec::new()),
        heard,
        now,
        _dir: dir,
        host,
    }
}

fn open(
    host: &HostConfig,
    replay: &Arc<ReplayTransport>,
    heard: &Arc<Heard>,
    now: &Arc<Mutex<SystemTime>>,
) -> Connections {
    let clock = now.clone();
    Connections::with_clock(
        host,
        replay.clone(),
        heard.clone(),
        Arc::new(move || *clock.lock()),
    )
    .unwrap()
}

#[derive(Default)]
struct Heard(Mutex<Vec<Value>>);

impl crate::workers::Notify for Heard {
    fn notify(&self, notification: Value) {
        self.0.lock().push(notification);
    }
}

impl Harness {
    /// A fresh `Connections` over the same state directory: a host restart.
    fn restart(&mut self, replay: ReplayTransport) {
        self.replay = Arc::new(replay);
        self.connections = open(&self.host, &self.replay, &self.heard, &self.now);
    }

    fn advance(&self, by: Duration) {
        *self.now.lock() += by;
    }

    fn start(&self, settings: &ConnectionSettings) -> (Url, String) {
        let url = Url::parse(
            &self
                .connections
                .connect_start(TENANT, settings)
                .unwrap()
                .url,
        )
        .unwrap();
        let state = param(&url, "state").unwrap();
        (url, state)
    }

    fn finish(
        &self,
        settings: &ConnectionSettings,
        state: &str,
    ) -> Result<ConnectedUser, ConnectionError> {
        let query = format!("code={CODE}&state={state}");
        self.connections.connect_finish(
            TENANT,
            settings,
            &CallbackQuery::from_query_string(&query),
            |old| {
                let current = self.connections.status(TENANT)?.identity.map(|i| i.org_id);
                self.left.lock().push((old.clone(), current));
                Ok::<(), ConnectionError>(())
            },
        )
    }

    fn connect(&self, settings: &ConnectionSettings) -> ConnectedUser {
        let (_, state) = self.start(settings);
        self.finish(settings, &state).unwrap()
    }

    fn stored_file(&self) -> String {
        let dir = self.host.state_dir.join("connections");
        let file = std::fs::read_dir(dir)
            .unwrap()
            .next()
            .unwrap()
            .unwrap()
            .path();
        std::fs::read_to_string(file).unwrap()
    }
}

fn param(url: &Url, key: &str) -> Option<String> {
    url.query_pairs()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.into_owned())
}

fn settings(login_url: &str, pkce: bool) -> ConnectionSettings {
    let section = json!({"app": "custom", "client_id": "3MVG9client", "client_secret": CLIENT_SECRET, "login_url": login_url, "pkce": pkce});
    let host =
        crate::config::parse(&json!({"state_dir": "/x", "redirect_url": REDIRECT}).to_string())
            .unwrap();
    ConnectionSettings::from_value(&section, &host).unwrap()
}

/// The real token response, with the refresh token a web server flow adds.
fn token_body() -> Vec<u8> {
    token_body_with(REFRESH)
}

fn token_body_with(refresh_token: &str) -> Vec<u8> {
    let mut body: Value =
        serde_json::from_slice(&fixture("oauth_token_response.restforce.json")).unwrap();
    body["refresh_token"] = json!(refresh_token);
    body["token_type"] = json!("Bearer");
    serde_json::to_vec(&body).unwrap()
}

fn identity_body(org_id: &str) -> Vec<u8> {
    let mut body: Value =
        serde_json::from_slice(&fixture("identity_url_response_200.postman.json")).unwrap();
    body["organization_id"] = json!(org_id);
    serde_json::to_vec(&body).unwrap()
}

/// Code exchange then identity, as Salesforce answers them.
/// For connects that fail before they know the org.
fn no_org_change(old: &PreviousOrg) -> Result<(), ConnectionError> {
    panic!("not a change of org: {old:?}")
}

fn connect_script(replay: ReplayTransport, org_id: &str) -> ReplayTransport {
    replay
        .expect(Method::POST, TOKEN_URL, 200, &token_body())
        .expect(Method::GET, ID_URL, 200, &identity_body(org_id))
}

#[test]
fn authorize_url_carries_what_salesforce_needs() {
    let h = harness(ReplayTransport::new(), None);
    let start = h
        .connections
        .connect_start(TENANT, &settings(LOGIN, false))
        .unwrap();
    assert_eq!(
        start.expires_at, "2026-11-18T11:16:40Z",
        "ten minutes from now"
    );
    let (url, state) = h.start(&settings("https://login.salesforce.com/", false));
    assert_eq!(url.origin().ascii_serialization(), LOGIN);
    assert_eq!(url.path(), "/services/oauth2/authorize");
    assert_eq!(param(&url, "response_type").as_deref(), Some("code"));
    assert_eq!(param(&url, "client_id").as_deref(), Some("3MVG9client"));
    assert_eq!(param(&url, "redirect_uri").as_deref(), Some(REDIRECT));
    assert_eq!(param(&url, "scope").as_deref(), Some("api refresh_token"));
    assert!(state.len() >= 43, "32 random bytes: {state}");
    assert_eq!(param(&url, "code_challenge"), None);
    assert!(!url.as_str().contains(CLIENT_SECRET));
    let (_, other) = h.start(&settings(LOGIN, false));
    assert_ne!(state, other, "each start has its own state");
    h.replay.assert_done();
}

#[test]
fn login_url_case_and_slashes_do_not_matter() {
    let h = harness(ReplayTransport::new(), None);
    for (given, expected) in [
        (
            "HTTPS://Test.Salesforce.COM///",
            "https://test.salesforce.com/services/oauth2/authorize?",
        ),
        (
            "https://acme.my.salesforce.com",
            "https://acme.my.salesforce.com/services/oauth2/authorize?",
        ),
        (
            "http://127.0.0.1:8443/",
            "http://127.0.0.1:8443/services/oauth2/authorize?",
        ),
    ] {
        let url = h
            .connections
            .connect_start(TENANT, &settings(given, false))
            .unwrap()
            .url;
        assert!(url.starts_with(expected), "{given}: {url}");
    }
}

#[test]
fn pkce_sends_a_s256_challenge_and_then_its_verifier() {
    let h = harness(connect_script(ReplayTransport::new(), "00Dorg"), None);
    let settings = settings(LOGIN, true);
    let (url, state) = h.start(&settings);
    let challenge = param(&url, "code_challenge").expect("a challenge");
    assert_eq!(
        param(&url, "code_challenge_method").as_deref(),
        Some("S256")
    );
    h.finish(&settings, &state).unwrap();
    let verifier = h.replay.requests()[0]
        .form_value("code_verifier")
        .expect("a verifier");
    let expected = PkceCodeChallenge::from_code_verifier_sha256(&PkceCodeVerifier::new(verifier));
    assert_eq!(expected.as_str(), challenge);
    h.replay.assert_done();
}

#[test]
fn refuses_a_wrong_reused_foreign_or_expired_state() {
    let h = harness(connect_script(ReplayTransport::new(), "00Dorg"), None);
    let settings = settings(LOGIN, false);
    let (_, state) = h.start(&settings);
    assert!(matches!(
        h.finish(&settings, "forged"),
        Err(ConnectionError::UnknownState)
    ));
    assert!(matches!(
        h.finish(&settings, ""),
        Err(ConnectionError::UnknownState)
    ));
    // Another tenant cannot use it (and does not spend it).
    let other = h.connections.connect_finish(
        "globex",
        &settings,
        &CallbackQuery::from_query_string(&format!("?code=x&state={state}")),
        no_org_change,
    );
    assert!(matches!(other, Err(ConnectionError::UnknownState)));
    h.finish(&settings, &state).unwrap();
    let again = h.finish(&settings, &state).unwrap_err();
    assert!(matches!(again, ConnectionError::UnknownState), "{again}");
    assert!(again.to_string().contains("already completed"), "{again}");

    let (_, state) = h.start(&settings);
    h.advance(Duration::from_secs(10 * 60 + 1));
    let late = h.finish(&settings, &state).unwrap_err();
    assert!(matches!(late, ConnectionError::ExpiredState), "{late}");
    assert!(matches!(
        h.finish(&settings, &state),
        Err(ConnectionError::UnknownState)
    ));
    h.replay.assert_done();
}

#[test]
fn a_state_just_inside_ten_minutes_works() {
    let h = harness(connect_script(ReplayTransport::new(), "00Dorg"), None);
    let settings = settings(LOGIN, false);
    let (_, state) = h.start(&settings);
    h.advance(Duration::from_secs(10 * 60 - 1));
    h.finish(&settings, &state).unwrap();
}

#[test]
fn settings_changed_during_sign_in_are_refused() {
    let h = harness(ReplayTransport::new(), None);
    let (_, state) = h.start(&settings(LOGIN, false));
    let err = h
        .finish(&settings("https://test.salesforce.com", false), &state)
        .unwrap_err();
    assert!(matches!(err, ConnectionError::SettingsChanged), "{err}");
}

#[test]
fn access_denied_is_explained_and_spends_the_state() {
    let h = harness(ReplayTransport::new(), None);
    let settings = settings(LOGIN, false);
    let (_, state) = h.start(&settings);
    let query = format!(
        "error=access_denied&error_description=end-user+denied+authorization&state={state}"
    );
    let err = h
        .connections
        .connect_finish(
            TENANT,
            &settings,
            &CallbackQuery::from_query_string(&query),
            no_org_change,
        )
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "the Salesforce user did not allow CloudCX access (access_denied: end-user denied authorization)"
    );
    assert!(matches!(
        h.finish(&settings, &state),
        Err(ConnectionError::UnknownState)
    ));
    // Salesforce's help page spells it with a hyphen.
    let err = h
        .connections
        .connect_finish(
            TENANT,
            &settings,
            &CallbackQuery::from_query_string("error=access-denied"),
            no_org_change,
        )
        .unwrap_err();
    assert!(
        err.to_string()
            .starts_with("the Salesforce user did not allow"),
        "{err}"
    );
    h.replay.assert_done();
}

#[test]
fn exchanges_the_code_and_reads_who_connected() {
    let h = harness(connect_script(ReplayTransport::new(), "00Dorg"), None);
    let user = h.connect(&settings(LOGIN, false));
    assert_eq!(user.identity.username, "<username>");
    assert_eq!(user.identity.email.as_deref(), Some("<email>"));
    assert_eq!(user.identity.user_id, "005...");
    assert_eq!(user.identity.org_id, "00Dorg");
    assert_eq!(
        user.identity.display_name.as_deref(),
        Some("<display_name>")
    );
    assert_eq!(user.instance_url, "https://na1.salesforce.com");
    assert_eq!(user.previous_org, None);
    assert!(!user.without_refresh_token);

    let requests = h.replay.requests();
    let token = &requests[0];
    assert_eq!(
        token.form_value("grant_type").as_deref(),
        Some("authorization_code")
    );
    assert_eq!(token.form_value("code").as_deref(), Some(CODE));
    assert_eq!(
        token.form_value("client_id").as_deref(),
        Some("3MVG9client")
    );
    assert_eq!(
        token.form_value("client_secret").as_deref(),
        Some(CLIENT_SECRET)
    );
    assert_eq!(token.form_value("redirect_uri").as_deref(), Some(REDIRECT));
    assert_eq!(
        token.header("authorization"),
        None,
        "credentials go in the body"
    );
    assert_eq!(
        requests[1].header("authorization"),
        Some(format!("Bearer {ACCESS}").as_str())
    );

    let session = h.connections.session(TENANT).unwrap();
    assert_eq!(session.access_token.secret(), ACCESS);
    assert_eq!(session.instance_url, "https://na1.salesforce.com");
    let status = h.connections.status(TENANT).unwrap();
    assert_eq!(status.state, ConnectionState::Connected);
    assert_eq!(
        status.connected_since.as_deref(),
        Some("2026-11-18T11:06:40Z")
    );
    h.replay.assert_done();
}

#[test]
fn the_fixture_without_a_refresh_token_connects_but_says_so() {
    let replay = ReplayTransport::new()
        .expect(
            Method::POST,
            TOKEN_URL,
            200,
            &fixture("oauth_token_response.restforce.json"),
        )
        .expect(Method::GET, ID_URL, 200, &identity_body("00Dorg"));
    let h = harness(replay, None);
    let user = h.connect(&settings(LOGIN, false));
    assert!(user.without_refresh_token);
    let session = h.connections.session(TENANT).unwrap();
    let err = h
        .connections
        .refresh_after_401(TENANT, session.generation)
        .unwrap_err();
    assert!(
        matches!(err, ConnectionError::NeedsReconnect { .. }),
        "{err}"
    );
    assert!(err.to_string().contains("no refresh token"), "{err}");
    h.replay.assert_done();
}

#[test]
fn a_refused_code_is_reported_and_nothing_is_stored() {
    let replay = ReplayTransport::new().expect(
        Method::POST,
        TOKEN_URL,
        400,
        &fixture("oauth_error_invalid_grant_authentication_failure.restforce.json"),
    );
    let h = harness(replay, None);
    let settings = settings(LOGIN, false);
    let (_, state) = h.start(&settings);
    let err = h.finish(&settings, &state).unwrap_err();
    assert_eq!(
        err.to_string(),
        "exchanging the authorization code: Salesforce answered 400 invalid_grant: authentication failure - Invalid Password"
    );
    let status = h.connections.status(TENANT).unwrap();
    assert_eq!(status.state, ConnectionState::NotConnected);
    assert_eq!(status.last_error.as_deref(), Some(err.to_string().as_str()));
}

#[test]
fn tokens_are_stored_owner_only_and_survive_a_restart() {
    let mut h = harness(connect_script(ReplayTransport::new(), "00Dorg"), None);
    h.connect(&settings(LOGIN, false));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let dir = h.host.state_dir.join("connections");
        let file = std::fs::read_dir(&dir)
            .unwrap()
            .next()
            .unwrap()
            .unwrap()
            .path();
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&dir), 0o700);
        assert_eq!(mode(&file), 0o600);
    }
    h.restart(ReplayTransport::new());
    assert_eq!(
        h.connections.session(TENANT).unwrap().access_token.secret(),
        ACCESS
    );
    assert_eq!(
        h.connections.status(TENANT).unwrap().state,
        ConnectionState::Connected
    );
}

#[test]
fn tokens_are_encrypted_at_rest_with_a_key() {
    let mut h = harness(
        connect_script(ReplayTransport::new(), "00Dorg"),
        Some(KEY_HEX),
    );
    h.connect(&settings(LOGIN, false));
    let raw = h.stored_file();
    for secret in [ACCESS, REFRESH, CLIENT_SECRET, "00Dorg"] {
        assert!(!raw.contains(secret), "{secret} stored in clear");
    }
    h.restart(ReplayTransport::new());
    assert_eq!(
        h.connections.session(TENANT).unwrap().access_token.secret(),
        ACCESS
    );
}

#[test]
fn a_bad_key_file_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let host = host_config(dir.path(), Some("not a key"));
    let err = Connections::new(
        &host,
        Arc::new(ReplayTransport::new()),
        Arc::new(Heard::default()),
    )
    .err()
    .unwrap();
    assert!(matches!(err, ConnectionError::KeyFile(_)), "{err}");
    assert!(
        err.to_string().contains("64 hexadecimal characters"),
        "{err}"
    );
    assert!(!err.to_string().contains("not a key"));
}

#[test]
fn concurrent_401s_share_one_refresh() {
    const THREADS: usize = 8;
    let replay = connect_script(ReplayTransport::new(), "00Dorg").expect_with(
        Method::POST,
        TOKEN_URL,
        200,
        &[("content-type", "application/json")],
        &fixture("oauth_refresh_token_response_no_refresh_token.restforce.json"),
        Duration::from_millis(200),
    );
    let mut h = harness(replay, None);
    h.connect(&settings(LOGIN, false));
    let before = h.connections.session(TENANT).unwrap();
    let barrier = Barrier::new(THREADS);
    let sessions: Vec<Session> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..THREADS)
            .map(|_| {
                scope.spawn(|| {
                    barrier.wait();
                    h.connections
                        .refresh_after_401(TENANT, before.generation)
                        .unwrap()
                })
            })
            .collect();
        handles.into_iter().map(|t| t.join().unwrap()).collect()
    });
    for session in &sessions {
        assert_eq!(session.access_token.secret(), "refreshed_access_token");
        assert_eq!(session.generation, before.generation + 1);
    }
    let refreshes: Vec<_> = h
        .replay
        .requests()
        .into_iter()
        .filter(|r| r.form_value("grant_type").as_deref() == Some("refresh_token"))
        .collect();
    assert_eq!(refreshes.len(), 1, "exactly one refresh request");
    assert_eq!(
        refreshes[0].form_value("refresh_token").as_deref(),
        Some(REFRESH)
    );
    h.replay.assert_done();

    // No new refresh token came: the old one is kept, on disk too.
    h.restart(ReplayTransport::new().expect(
        Method::POST,
        TOKEN_URL,
        200,
        &fixture("oauth_refresh_token_response_no_refresh_token.restforce.json"),
    ));
    let session = h.connections.session(TENANT).unwrap();
    assert_eq!(session.access_token.secret(), "refreshed_access_token");
    h.connections
        .refresh_after_401(TENANT, session.generation)
        .unwrap();
    assert_eq!(
        h.replay.requests()[0]
            .form_value("refresh_token")
            .as_deref(),
        Some(REFRESH)
    );
}

#[test]
fn callers_queued_behind_a_failed_refresh_share_its_error() {
    const THREADS: usize = 6;
    let replay = connect_script(ReplayTransport::new(), "00Dorg").expect_with(
        Method::POST,
        TOKEN_URL,
        503,
        &[],
        b"<html>Service Unavailable</html>",
        Duration::from_millis(200),
    );
    let h = harness(replay, None);
    h.connect(&settings(LOGIN, false));
    let before = h.connections.session(TENANT).unwrap();
    let barrier = Barrier::new(THREADS);
    let errors: Vec<ConnectionError> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..THREADS)
            .map(|_| {
                scope.spawn(|| {
                    barrier.wait();
                    h.connections
                        .refresh_after_401(TENANT, before.generation)
                        .unwrap_err()
                })
            })
            .collect();
        handles.into_iter().map(|t| t.join().unwrap()).collect()
    });
    for err in &errors {
        assert!(err.is_temporary(), "{err}");
        assert_eq!(
            err.to_string(),
            "refreshing the session: Salesforce answered 503: <html>Service Unavailable</html>"
        );
    }
    h.replay.assert_done();
    assert_eq!(
        h.connections.status(TENANT).unwrap().state,
        ConnectionState::Connected
    );
}

#[test]
fn a_stale_generation_gets_the_new_session_without_a_request() {
    let replay = connect_script(ReplayTransport::new(), "00Dorg").expect(
        Method::POST,
        TOKEN_URL,
        200,
        &fixture("oauth_refresh_token_response_no_refresh_token.restforce.json"),
    );
    let h = harness(replay, None);
    h.connect(&settings(LOGIN, false));
    let old = h.connections.session(TENANT).unwrap();
    let new = h
        .connections
        .refresh_after_401(TENANT, old.generation)
        .unwrap();
    let again = h
        .connections
        .refresh_after_401(TENANT, old.generation)
        .unwrap();
    assert_eq!(again.generation, new.generation);
    h.replay.assert_done();
}

#[test]
fn invalid_grant_on_refresh_needs_reconnect_across_restarts() {
    let replay = connect_script(ReplayTransport::new(), "00Dorg").expect(
        Method::POST,
        TOKEN_URL,
        400,
        &fixture("oauth_error_invalid_grant_expired_refresh_token.restforce.json"),
    );
    let mut h = harness(replay, None);
    h.connect(&settings(LOGIN, false));
    let session = h.connections.session(TENANT).unwrap();
    let err = h
        .connections
        .refresh_after_401(TENANT, session.generation)
        .unwrap_err();
    assert!(
        matches!(err, ConnectionError::NeedsReconnect { .. }),
        "{err}"
    );
    assert_eq!(
        err.to_string(),
        "the Salesforce connection must be made again: Salesforce refused the refresh token (invalid_grant: expired access/refresh token)"
    );
    h.replay.assert_done();
    assert!(
        !h.stored_file().contains(REFRESH),
        "a refused token is not kept"
    );
    // The host hears it once, however many calls meet the broken connection afterwards.
    assert!(h.connections.session(TENANT).is_err());
    assert!(h
        .connections
        .refresh_after_401(TENANT, session.generation)
        .is_err());
    assert_eq!(
        *h.heard.0.lock(),
        [json!({"kind": "connection_broken", "tenant_id": TENANT, "reason": err.to_string()})]
    );

    h.restart(ReplayTransport::new());
    let status = h.connections.status(TENANT).unwrap();
    assert_eq!(status.state, ConnectionState::NeedsReconnect);
    assert!(status
        .reason
        .unwrap()
        .contains("expired access/refresh token"));
    assert_eq!(status.identity.unwrap().username, "<username>");
    assert!(matches!(
        h.connections.session(TENANT),
        Err(ConnectionError::NeedsReconnect { .. })
    ));
}

#[test]
fn a_network_failure_on_refresh_keeps_the_connection() {
    let replay = connect_script(ReplayTransport::new(), "00Dorg").expect_failure(
        Method::POST,
        TOKEN_URL,
        TransportErrorKind::Connect,
    );
    let h = harness(replay, None);
    h.connect(&settings(LOGIN, false));
    let session = h.connections.session(TENANT).unwrap();
    let err = h
        .connections
        .refresh_after_401(TENANT, session.generation)
        .unwrap_err();
    assert!(err.is_temporary(), "{err}");
    let status = h.connections.status(TENANT).unwrap();
    assert_eq!(status.state, ConnectionState::Connected);
    assert!(status
        .last_error
        .unwrap()
        .starts_with("refreshing the session: Salesforce could not be reached"));
    assert_eq!(
        h.connections.session(TENANT).unwrap().generation,
        session.generation
    );
}

#[test]
fn reconnecting_to_another_org_is_reported() {
    let replay = connect_script(
        connect_script(
            connect_script(ReplayTransport::new(), "00Dfirst"),
            "00Dfirst",
        ),
        "00Dsecond",
    );
    let h = harness(replay, None);
    let settings = settings(LOGIN, false);
    assert_eq!(h.connect(&settings).previous_org, None);
    assert_eq!(h.connect(&settings).previous_org, None, "same org again");
    let generation = h.connections.session(TENANT).unwrap().generation;
    let user = h.connect(&settings);
    assert_eq!(
        user.previous_org,
        Some(PreviousOrg {
            org_id: "00Dfirst".into(),
            username: "<username>".into()
        })
    );
    assert_eq!(
        h.connections
            .status(TENANT)
            .unwrap()
            .identity
            .unwrap()
            .org_id,
        "00Dsecond"
    );
    assert!(h.connections.session(TENANT).unwrap().generation > generation);
    let first = PreviousOrg {
        org_id: "00Dfirst".into(),
        username: "<username>".into(),
    };
    assert_eq!(
        *h.left.lock(),
        [(first, Some("00Dfirst".to_string()))],
        "told once, while the old org was still the one connected"
    );
    h.replay.assert_done();
}

#[test]
fn connecting_to_another_org_after_a_disconnect_is_a_change_of_org() {
    let replay = connect_script(ReplayTransport::new(), "00Dfirst").expect(
        Method::POST,
        REVOKE_URL,
        200,
        b"",
    );
    let mut h = harness(replay, None);
    let settings = settings(LOGIN, false);
    h.connect(&settings);
    h.connections.disconnect(TENANT).unwrap();
    // Across a restart too: the last org is kept with the disconnected state.
    h.restart(connect_script(
        connect_script(ReplayTransport::new(), "00Dsecond").expect(
            Method::POST,
            REVOKE_URL,
            200,
            b"",
        ),
        "00Dsecond",
    ));
    let user = h.connect(&settings);
    let first = PreviousOrg {
        org_id: "00Dfirst".into(),
        username: "<username>".into(),
    };
    assert_eq!(user.previous_org, Some(first.clone()));
    assert_eq!(*h.left.lock(), [(first, None)]);
    h.connections.disconnect(TENANT).unwrap();
    let again = h.connect(&settings);
    assert_eq!(again.previous_org, None, "the same org again");
    assert_eq!(h.left.lock().len(), 1);
    h.replay.assert_done();
}

#[test]
fn disconnect_revokes_and_forgets() {
    let replay =
        connect_script(ReplayTransport::new(), "00Dorg").expect(Method::POST, REVOKE_URL, 200, b"");
    let h = harness(replay, None);
    h.connect(&settings(LOGIN, false));
    let done = h.connections.disconnect(TENANT).unwrap();
    assert!(done.revoked && done.revoke_error.is_none());
    let revoke = &h.replay.requests()[2];
    assert_eq!(revoke.form(), [("token".to_string(), REFRESH.to_string())]);
    assert_eq!(
        revoke.header("content-type"),
        Some("application/x-www-form-urlencoded")
    );
    let raw = h.stored_file();
    assert!(
        !raw.contains(REFRESH) && !raw.contains(ACCESS) && !raw.contains(CLIENT_SECRET),
        "{raw}"
    );
    assert_eq!(
        h.connections.status(TENANT).unwrap().state,
        ConnectionState::Disconnected
    );
    assert!(matches!(
        h.connections.session(TENANT),
        Err(ConnectionError::NotConnected)
    ));
    h.replay.assert_done();
}

#[test]
fn disconnect_with_salesforce_unreachable_still_disconnects_and_retries_later() {
    let replay = connect_script(ReplayTransport::new(), "00Dorg").expect_failure(
        Method::POST,
        REVOKE_URL,
        TransportErrorKind::Connect,
    );
    let mut h = harness(replay, Some(KEY_HEX));
    h.connect(&settings(LOGIN, false));
    let done = h.connections.disconnect(TENANT).unwrap();
    assert!(!done.revoked);
    assert!(done.revoke_error.unwrap().contains("could not be reached"));
    let status = h.connections.status(TENANT).unwrap();
    assert_eq!(status.state, ConnectionState::Disconnected);
    assert!(status.revoke_pending);
    assert!(matches!(
        h.connections.session(TENANT),
        Err(ConnectionError::NotConnected)
    ));
    assert!(
        !h.stored_file().contains(REFRESH),
        "the pending revoke is sealed too"
    );

    // After a restart, Salesforce answers.
    h.restart(ReplayTransport::new().expect(Method::POST, REVOKE_URL, 200, b""));
    assert_eq!(
        h.connections.retry_pending_revokes().unwrap(),
        Vec::<(String, String)>::new()
    );
    assert_eq!(
        h.replay.requests()[0].form_value("token").as_deref(),
        Some(REFRESH)
    );
    assert!(!h.connections.status(TENANT).unwrap().revoke_pending);
    h.replay.assert_done();
}

#[test]
fn status_reports_api_usage_and_not_connected_tenants() {
    let h = harness(ReplayTransport::new(), None);
    let status = h.connections.status("nobody").unwrap();
    assert_eq!(status.state, ConnectionState::NotConnected);
    h.connections.record_api_usage(
        TENANT,
        ApiUsage {
            used: 18,
            limit: 5000,
        },
    );
    let status = serde_json::to_value(h.connections.status(TENANT).unwrap()).unwrap();
    assert_eq!(status["state"], "not_connected");
    assert_eq!(status["api_usage"], json!({"used": 18, "limit": 5000}));
    assert!(matches!(
        h.connections.status(""),
        Err(ConnectionError::InvalidTenant(_))
    ));
}

#[test]
fn an_old_api_usage_reading_is_not_taken_for_the_present_one() {
    let h = harness(ReplayTransport::new(), None);
    let full = ApiUsage {
        used: 5000,
        limit: 5000,
    };
    h.connections.record_api_usage(TENANT, full);
    h.advance(Duration::from_secs(9 * 60));
    assert_eq!(h.connections.api_usage(TENANT), Some(full));
    // After a pause for the limit, the next call must learn the usage anew.
    h.advance(Duration::from_secs(60));
    assert_eq!(h.connections.api_usage(TENANT), None);
    assert_eq!(
        h.connections.status(TENANT).unwrap().api_usage,
        Some(full),
        "status shows the latest reading, however old"
    );
}

#[test]
fn secrets_never_show_in_debug_display_errors_or_status() {
    let replay = connect_script(ReplayTransport::new(), "00Dorg")
        .expect(
            Method::POST,
            TOKEN_URL,
            200,
            format!(r#"{{"access_token": {{"leak": "{ACCESS}"}}}}"#).as_bytes(),
        )
        .expect_failure(Method::POST, REVOKE_URL, TransportErrorKind::Timeout);
    let h = harness(replay, Some(KEY_HEX));
    let settings = settings(LOGIN, true);
    let (_, state) = h.start(&settings);
    let callback = CallbackQuery::from_query_string(&format!("code={CODE}&state={state}"));
    let mut shown = vec![format!("{settings:?}"), format!("{callback:?}")];
    let user = h
        .connections
        .connect_finish(TENANT, &settings, &callback, no_org_change)
        .unwrap();
    let session = h.connections.session(TENANT).unwrap();
    shown.push(format!("{user:?}"));
    shown.push(serde_json::to_string(&user).unwrap());
    shown.push(format!("{session:?}"));
    shown.push(serde_json::to_string(&h.connections.status(TENANT).unwrap()).unwrap());
    // A 200 whose token field is malformed: the message must not quote it.
    let err = h
        .connections
        .refresh_after_401(TENANT, session.generation)
        .unwrap_err();
    assert!(matches!(err, ConnectionError::Unreadable { .. }), "{err}");
    shown.push(err.to_string());
    shown.push(format!("{err:?}"));
    let done = h.connections.disconnect(TENANT).unwrap();
    shown.push(format!("{done:?}"));
    shown.push(serde_json::to_string(&h.connections.status(TENANT).unwrap()).unwrap());
    // And the state itself stays out of the authorize answer's debug form.
    for text in &shown {
        for secret in [ACCESS, REFRESH, CLIENT_SECRET, CODE, state.as_str()] {
            assert!(!text.contains(secret), "secret shown in: {text}");
        }
    }
    h.replay.assert_done();
}

#[test]
fn send_refreshes_once_on_401_and_records_api_usage() {
    const QUERY: &str =
        "https://na1.salesforce.com/services/data/v62.0/query?q=SELECT+Id+FROM+User";
    let expired = fixture("error_401_invalid_session_id.restforce.json");
    let replay = connect_script(ReplayTransport::new(), "00Dorg")
        .expect(Method::GET, QUERY, 401, &expired)
        .expect(
            Method::POST,
            TOKEN_URL,
            200,
            &fixture("oauth_refresh_token_response_no_refresh_token.restforce.json"),
        )
        .expect_with(
            Method::GET,
            QUERY,
            200,
            &[("sforce-limit-info", "api-usage=4500/5000")],
            br#"{"totalSize":0,"done":true,"records":[]}"#,
            Duration::ZERO,
        )
        .expect(Method::GET, QUERY, 401, &expired)
        .expect(
            Method::POST,
            TOKEN_URL,
            200,
            &fixture("oauth_refresh_token_response_no_refresh_token.restforce.json"),
        )
        .expect(Method::GET, QUERY, 401, &expired);
    let h = harness(replay, None);
    h.connect(&settings(LOGIN, false));
    let query = |instance: &str| {
        http::Request::get(format!(
            "{instance}/services/data/v62.0/query?q=SELECT+Id+FROM+User"
        ))
        .body(Vec::new())
    };
    let response = h.connections.send(TENANT, query).unwrap();
    assert_eq!(response.status(), 200);
    let requests = h.replay.requests();
    assert_eq!(
        requests[2].header("authorization"),
        Some(format!("Bearer {ACCESS}").as_str())
    );
    assert_eq!(
        requests[4].header("authorization"),
        Some("Bearer refreshed_access_token")
    );
    let usage = h.connections.status(TENANT).unwrap().api_usage.unwrap();
    assert_eq!((usage.used, usage.limit), (4500, 5000));
    assert_eq!(h.connections.api_usage(TENANT), Some(usage));
    assert_eq!(h.connections.api_usage("globex"), None);

    // A session refused again right after a refresh is not retried in a loop.
    let err = h.connections.send(TENANT, query).unwrap_err();
    let api = err.api_error().expect("Salesforce's answer");
    assert_eq!(
        api.disposition(),
        crate::salesforce::Disposition::RefreshSession
    );
    assert!(
        err.to_string()
            .starts_with("calling Salesforce: Salesforce answered 401 INVALID_SESSION_ID"),
        "{err}"
    );
    h.replay.assert_done();
}

#[test]
fn send_needs_a_connection() {
    let h = harness(ReplayTransport::new(), None);
    let err = h
        .connections
        .send(TENANT, |i| http::Request::get(i).body(Vec::new()))
        .unwrap_err();
    assert!(matches!(err, ConnectionError::NotConnected), "{err}");
    h.replay.assert_done();
}

#[test]
fn an_unreadable_stored_connection_does_not_lock_the_tenant_out() {
    let replay = connect_script(ReplayTransport::new(), "00Dorg");
    let mut h = harness(replay, Some(KEY_HEX));
    let dir = h.host.state_dir.join("connections");
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join(format!("tenant-{}.json", "61636d65"));
    std::fs::write(&file, "{ damaged").unwrap();
    h.restart(connect_script(ReplayTransport::new(), "00Dorg"));
    let err = h.connections.status(TENANT).unwrap_err();
    assert!(matches!(err, ConnectionError::Storage(_)), "{err}");
    h.connect(&settings(LOGIN, false));
    assert_eq!(
        h.connections.status(TENANT).unwrap().state,
        ConnectionState::Connected
    );
    h.replay.assert_done();
}

#[test]
fn a_token_salesforce_no_longer_knows_counts_as_revoked() {
    let replay = connect_script(ReplayTransport::new(), "00Dorg").expect(
        Method::POST,
        REVOKE_URL,
        400,
        br#"{"error":"invalid_token","error_description":"Token was invalid"}"#,
    );
    let h = harness(replay, None);
    h.connect(&settings(LOGIN, false));
    let done = h.connections.disconnect(TENANT).unwrap();
    assert!(done.revoked, "{done:?}");
    assert!(!h.connections.status(TENANT).unwrap().revoke_pending);
    h.replay.assert_done();
}

#[test]
fn each_pending_revoke_is_retried_until_done() {
    const SECOND: &str = "5Aep861second-refresh-value";
    let replay = connect_script(ReplayTransport::new(), "00Dorg")
        .expect_failure(Method::POST, REVOKE_URL, TransportErrorKind::Connect)
        .expect(Method::POST, TOKEN_URL, 200, &token_body_with(SECOND))
        .expect(Method::GET, ID_URL, 200, &identity_body("00Dorg"))
        .expect_failure(Method::POST, REVOKE_URL, TransportErrorKind::Connect)
        .expect_failure(Method::POST, REVOKE_URL, TransportErrorKind::Connect)
        // The retry: the first token goes, the second meets a 503 and waits.
        .expect(Method::POST, REVOKE_URL, 200, b"")
        .expect(Method::POST, REVOKE_URL, 503, b"")
        .expect(Method::POST, REVOKE_URL, 200, b"");
    let h = harness(replay, None);
    let settings = settings(LOGIN, false);
    h.connect(&settings);
    assert!(!h.connections.disconnect(TENANT).unwrap().revoked);
    h.connect(&settings);
    assert!(!h.connections.disconnect(TENANT).unwrap().revoked);

    let waiting = h.connections.retry_pending_revokes().unwrap();
    assert_eq!(waiting.len(), 1);
    assert_eq!(waiting[0].0, TENANT);
    assert!(waiting[0].1.contains("503"), "{waiting:?}");
    assert!(h.connections.status(TENANT).unwrap().revoke_pending);
    assert!(h.connections.retry_pending_revokes().unwrap().is_empty());
    assert!(!h.connections.status(TENANT).unwrap().revoke_pending);

    let tokens: Vec<String> = h
        .replay
        .requests()
        .iter()
        .filter_map(|r| r.form_value("token"))
        .collect();
    assert_eq!(tokens, [REFRESH, REFRESH, SECOND, REFRESH, SECOND, SECOND]);
    h.replay.assert_done();
}

/// Captures the plugin's log lines (all tests' lines while it runs: none may hold a secret).
struct CapturedLog(Mutex<Vec<String>>);

impl crate::logging::LogSink for CapturedLog {
    fn log(&self, level: log::Level, _target: &str, message: &str) {
        self.0.lock().push(format!("{level} {message}"));
    }
}

#[test]
fn secrets_never_reach_the_log() {
    let log = Arc::new(CapturedLog(Mutex::new(Vec::new())));
    crate::logging::install(log.clone());
    let replay = connect_script(ReplayTransport::new(), "00Dorg")
        .expect(
            Method::POST,
            TOKEN_URL,
            200,
            &fixture("oauth_refresh_token_response_no_refresh_token.restforce.json"),
        )
        .expect(
            Method::POST,
            TOKEN_URL,
            400,
            &fixture("oauth_error_invalid_grant_expired_refresh_token.restforce.json"),
        );
    let replay = connect_script(replay, "00Dother").expect_failure(
        Method::POST,
        REVOKE_URL,
        TransportErrorKind::Timeout,
    );
    let h = harness(replay, Some(KEY_HEX));
    let settings = settings(LOGIN, true);
    h.connect(&settings);
    let session = h.connections.session(TENANT).unwrap();
    let session = h
        .connections
        .refresh_after_401(TENANT, session.generation)
        .unwrap();
    h.connections
        .refresh_after_401(TENANT, session.generation)
        .unwrap_err();
    h.connect(&settings);
    h.connections.disconnect(TENANT).unwrap();
    h.replay.assert_done();

    let lines = log.0.lock().clone();
    for expected in [
        "INFO tenant acme connected to Salesforce org 00Dorg as <username>",
        "INFO tenant acme: Salesforce session refreshed",
        "WARN tenant acme: the Salesforce connection broke",
        "WARN tenant acme connected to Salesforce org 00Dother as <username>, replacing org 00Dorg",
        "INFO tenant acme disconnected from Salesforce",
        "WARN tenant acme: revoking the refresh token: Salesforce did not answer in time",
    ] {
        assert!(
            lines.iter().any(|l| l.starts_with(expected)),
            "no line {expected:?} in {lines:#?}"
        );
    }
    for line in &lines {
        for secret in [
            ACCESS,
            "refreshed_access_token",
            REFRESH,
            CLIENT_SECRET,
            CODE,
        ] {
            assert!(!line.contains(secret), "secret in log line: {line}");
        }
    }
}

#[test]
fn an_unusable_redirect_url_fails_at_start() {
    let dir = tempfile::tempdir().unwrap();
    let config = json!({"state_dir": dir.path(), "redirect_url": "http://[::1"});
    let host = crate::config::parse(&config.to_string()).unwrap();
    let err = Connections::new(
        &host,
        Arc::new(ReplayTransport::new()),
        Arc::new(Heard::default()),
    )
    .err()
    .unwrap();
    assert!(
        err.to_string()
            .starts_with("host configuration: redirect_url is not a usable URL"),
        "{err}"
    );
}
