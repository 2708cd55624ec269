//! For unit tests beneath the Salesforce client: tenant `acme` connected, with the example
//! settings, to a Salesforce replayed by [`ReplayTransport`] (the token and identity answers
//! are real response shapes from the fixtures), so that tests script only what comes after.

use std::sync::Arc;
use std::time::SystemTime;

use http::Method;
use serde_json::{json, Value};

use crate::oauth::{CallbackQuery, ConnectionError, ConnectionSettings, Connections};
use crate::salesforce::fixtures::fixture;
use crate::salesforce::replay::ReplayTransport;
use crate::settings::TenantSettings;

pub const TENANT: &str = "acme";
const TOKEN_URL: &str = "https://login.salesforce.com/services/oauth2/token";
/// The identity URL and instance in `oauth_token_response.restforce.json`.
const ID_URL: &str = "https://login.salesforce.com/id/00Dx0000000BV7z/005x00000012Q9P";
pub const COMPOSITE: &str = "https://na1.salesforce.com/services/data/v62.0/composite";

/// These tests look at what reaches Salesforce, not at what the host hears.
struct NobodyListens;

impl crate::workers::Notify for NobodyListens {
    fn notify(&self, _: Value) {}
}

pub struct ReplayedOrg {
    pub replay: Arc<ReplayTransport>,
    pub connections: Arc<Connections>,
    pub settings: TenantSettings,
    /// The plugin's state directory, removed when the test ends.
    pub dir: tempfile::TempDir,
}

/// Connects tenant `acme` with the example settings changed by `patch`, on `clock`;
/// Salesforce's exchanges after the connect go as `then` scripts them.
pub fn connect(
    patch: impl FnOnce(&mut Value),
    clock: Arc<dyn Fn() -> SystemTime + Send + Sync>,
    then: impl FnOnce(ReplayTransport) -> ReplayTransport,
) -> ReplayedOrg {
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
    let replay = ReplayTransport::new()
        .expect(Method::POST, TOKEN_URL, 200, token.to_string().as_bytes())
        .expect(Method::GET, ID_URL, 200, identity.to_string().as_bytes());
    let replay = Arc::new(then(replay));
    let connections = Arc::new(
        Connections::with_clock(&host, replay.clone(), Arc::new(NobodyListens), clock).unwrap(),
    );
    let mut value: Value =
        serde_json::from_str(include_str!("../../examples/settings.json")).unwrap();
    value["connection"]["login_url"] = json!("https://login.salesforce.com/");
    value["connection"]["pkce"] = json!(false);
    patch(&mut value);
    let settings = TenantSettings::parse(&value.to_string(), &host).unwrap();
    let section = ConnectionSettings::from_value(&value["connection"], &host).unwrap();
    let start = connections.connect_start(TENANT, &section).unwrap();
    let state = form_urlencoded::parse(start.url.split_once('?').unwrap().1.as_bytes())
        .find(|(k, _)| k == "state")
        .unwrap()
        .1
        .into_owned();
    let query = CallbackQuery::from_query_string(&format!("code=c0de&state={state}"));
    connections
        .connect_finish(TENANT, &section, &query, |_| Ok::<_, ConnectionError>(()))
        .unwrap();
    ReplayedOrg {
        replay,
        connections,
        settings,
        dir,
    }
}

/// A composite request's answer: its subrequests' answers as `(reference, status, body)`.
pub fn composite_answer(answers: &[(&str, u16, Value)]) -> Vec<u8> {
    let responses: Vec<Value> = answers
        .iter()
        .map(|(reference, status, body)| {
            json!({"body": body, "httpHeaders": {}, "httpStatusCode": status,
                   "referenceId": reference})
        })
        .collect();
    json!({ "compositeResponse": responses })
        .to_string()
        .into_bytes()
}
