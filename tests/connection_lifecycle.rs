//! Issue 4 end to end: a tenant's Salesforce connection, from connect to disconnect, through the
//! real plugin library and the local Salesforce emulator (host contract §6, integration.md §1
//! and §5).
//!
//! The tests play the admin's browser: they open the authorize URL without following the
//! redirect, and hand the redirect's query to `connect_finish`, as the host does.

mod common;

use std::cell::RefCell;
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use cloudcx_salesforce_abi::abi_stable::std_types::{RResult, RSlice};
use cloudcx_salesforce_abi::{ErrorCode, JsonResult, PluginError};
use cloudcx_shim::emulator::{ClientApp, Emulator, EmulatorOptions};
use common::{answer, refusal, RecordedPlugin, ONE_PLUGIN_AT_A_TIME};
use parking_lot::MutexGuard;
use serde_json::{json, Map, Value};
use tempfile::TempDir;

const TENANT: &str = "acme";
/// The tenant of examples/events.jsonl.
const DEMO: &str = "demo";
/// The host's Authorized Redirect URL. Nobody listens there: the tests carry the redirect.
const REDIRECT_URL: &str = "http://127.0.0.1:8765/callback";
/// The tenant's own connected app, and the operator's default app of the host configuration.
const TENANT_APP: (&str, &str) = ("tenant-app", "tenant-secret");
const OPERATOR_APP: (&str, &str) = ("operator-app", "operator-secret");
const WAIT: Duration = Duration::from_secs(10);

/// An emulated org that knows both apps, each accepting exactly `callbacks` (any loopback URL
/// when empty).
fn org(callbacks: &[&str], data_file: Option<PathBuf>) -> Emulator {
    let app = |(id, secret): (&str, &str)| ClientApp {
        id: id.into(),
        secret: secret.into(),
        callbacks: callbacks.iter().map(|c| c.to_string()).collect(),
    };
    Emulator::start(EmulatorOptions {
        clients: vec![app(TENANT_APP), app(OPERATOR_APP)],
        data_file,
        ..EmulatorOptions::default()
    })
    .expect("the emulator starts")
}

/// The tenant's own app at `org`: the `connection` settings section.
fn custom_app(org: &Emulator, pkce: bool) -> Value {
    json!({
        "app": "custom", "client_id": TENANT_APP.0, "client_secret": TENANT_APP.1,
        "login_url": org.base_url(), "crm_url": org.base_url(), "pkce": pkce,
    })
}

/// The real plugin in this process, over an emulated org, with a host configuration whose
/// default app is the operator's at that org.
struct Rig {
    plugin: RecordedPlugin,
    org: Emulator,
    config: String,
    /// Settings handed to the plugin, applied again after a restart as the host does.
    settings: RefCell<Vec<(String, String)>>,
    dir: TempDir,
    _turn: MutexGuard<'static, ()>,
}

impl Rig {
    fn new() -> Rig {
        Rig::with(org(&[], None), REDIRECT_URL, |_, _| {})
    }

    /// `tweak` may change the host configuration, given the rig's directory.
    fn with(org: Emulator, redirect_url: &str, tweak: impl FnOnce(&Path, &mut Value)) -> Rig {
        let turn = ONE_PLUGIN_AT_A_TIME.lock();
        let dir = tempfile::tempdir().unwrap();
        let mut config = json!({
            "state_dir": dir.path().join("plugin"),
            "redirect_url": redirect_url,
            "default_app": {
                "client_id": OPERATOR_APP.0, "client_secret": OPERATOR_APP.1,
                "login_url": org.base_url(),
            },
        });
        tweak(dir.path(), &mut config);
        let config = config.to_string();
        Rig {
            plugin: common::load_recorded(&config),
            org,
            config,
            settings: RefCell::default(),
            dir,
            _turn: turn,
        }
    }

    /// Applies the example settings with this `connection` section.
    fn configure(&self, tenant: &str, connection: Value) {
        let example = common::repo_root().join("examples/settings.json");
        let mut settings: Value =
            serde_json::from_str(&fs::read_to_string(example).unwrap()).unwrap();
        settings["connection"] = connection;
        let settings = settings.to_string();
        answer(
            self.plugin
                .plugin
                .configure_tenant(tenant.into(), settings.as_str().into()),
        );
        self.settings.borrow_mut().push((tenant.into(), settings));
    }

    /// Shuts the plugin down; [`Rig::restart`] loads it again.
    fn stop(&self) {
        self.plugin.plugin.shutdown();
    }

    /// Stops the plugin and loads it again over the same state, with the same settings.
    fn restart(&mut self) {
        self.stop();
        self.plugin = common::load_recorded(&self.config);
        for (tenant, settings) in self.settings.borrow().iter() {
            answer(
                self.plugin
                    .plugin
                    .configure_tenant(tenant.as_str().into(), settings.as_str().into()),
            );
        }
    }

    fn start(&self, tenant: &str) -> String {
        let started = answer(self.plugin.plugin.connect_start(tenant.into()));
        started["authorize_url"].as_str().unwrap().to_string()
    }

    fn finish(&self, tenant: &str, query: &Value) -> JsonResult {
        self.plugin
            .plugin
            .connect_finish(tenant.into(), query.to_string().as_str().into())
    }

    /// The whole flow: start, sign in (Salesforce approves at once), finish.
    fn connect(&self, tenant: &str) -> Result<Value, PluginError> {
        let query = sign_in(&self.start(tenant)).expect("Salesforce redirects back");
        match self.finish(tenant, &query) {
            RResult::ROk(text) => Ok(serde_json::from_str(&text).unwrap()),
            RResult::RErr(e) => Err(e),
        }
    }

    fn status(&self, tenant: &str) -> Value {
        answer(self.plugin.plugin.status(tenant.into()))
    }

    fn disconnect(&self, tenant: &str) -> Value {
        answer(self.plugin.plugin.disconnect(tenant.into()))
    }

    fn connections_dir(&self) -> PathBuf {
        self.dir.path().join("plugin/connections")
    }

    /// The tenant's token file (named by the hex of its id, plugin/src/oauth/store.rs).
    fn token_file(&self, tenant: &str) -> PathBuf {
        let hex: String = tenant.bytes().map(|b| format!("{b:02x}")).collect();
        self.connections_dir().join(format!("tenant-{hex}.json"))
    }

    /// The stored connection's credentials, read from an unsealed token file.
    fn credentials(&self, tenant: &str) -> Value {
        let file: Value =
            serde_json::from_str(&fs::read_to_string(self.token_file(tenant)).unwrap()).unwrap();
        file["record"]["state"]["credentials"].clone()
    }

    /// Hands line `n` of examples/events.jsonl (a chat.ended of tenant demo) to its hook.
    fn chat_ended(&self, n: usize) {
        let events = common::repo_root().join("examples/events.jsonl");
        let events = fs::read_to_string(events).unwrap();
        let line = events.lines().nth(n).unwrap();
        assert!(line.contains(r#""type": "chat.ended""#), "{line}");
        let queued = self
            .plugin
            .plugin
            .chat_ended(RSlice::from_slice(line.as_bytes()));
        assert!(matches!(queued, RResult::ROk(())), "{queued:?}");
    }

    /// Waits until the tenant's queue is empty; answers the status then.
    fn delivered(&self, tenant: &str) -> Value {
        common::eventually("the queue to empty", WAIT, || {
            let status = self.status(tenant);
            (status["queue"]["pending"] == 0).then_some(status)
        })
    }
}

fn browser() -> ureq::Agent {
    ureq::Agent::config_builder()
        .max_redirects(0)
        .http_status_as_error(false)
        .timeout_global(Some(WAIT))
        .build()
        .new_agent()
}

/// Plays the admin's browser at the authorize URL (Salesforce approves at once): where it is
/// redirected, or Salesforce's status and page when it is not.
fn browse(authorize_url: &str) -> Result<String, (u16, String)> {
    let mut response = browser().get(authorize_url).call().unwrap();
    match response.headers().get("location") {
        Some(location) => Ok(location.to_str().unwrap().to_string()),
        None => Err((
            response.status().as_u16(),
            response.body_mut().read_to_string().unwrap(),
        )),
    }
}

/// [`browse`] to the host's redirect URL: its query, as `connect_finish` takes it.
fn sign_in(authorize_url: &str) -> Result<Value, (u16, String)> {
    let location = browse(authorize_url)?;
    assert!(location.starts_with(REDIRECT_URL), "{location}");
    Ok(Value::Object(query_of(&location)))
}

fn query_of(url: &str) -> Map<String, Value> {
    let query = url.split_once('?').map_or("", |(_, q)| q);
    form_urlencoded::parse(query.as_bytes())
        .map(|(k, v)| (k.into_owned(), Value::String(v.into_owned())))
        .collect()
}

/// A refresh grant at the emulator, as the plugin would send it: the status and the answer.
fn refresh_grant(org: &Emulator, refresh_token: &str) -> (u16, Value) {
    let mut response = browser()
        .post(format!("{}/services/oauth2/token", org.base_url()))
        .send_form([
            ("grant_type", "refresh_token"),
            ("client_id", TENANT_APP.0),
            ("client_secret", TENANT_APP.1),
            ("refresh_token", refresh_token),
        ])
        .unwrap();
    let body = response.body_mut().read_to_string().unwrap();
    (
        response.status().as_u16(),
        serde_json::from_str(&body).unwrap_or(Value::Null),
    )
}

fn mode(path: &Path) -> u32 {
    fs::metadata(path).unwrap().permissions().mode() & 0o777
}

#[test]
fn both_app_kinds_connect_with_and_without_pkce() {
    let rig = Rig::new();
    let user = rig.org.records("User")[0].clone();
    for (tenant, app, pkce, client_id) in [
        ("custom", "custom", false, TENANT_APP.0),
        ("custom-pkce", "custom", true, TENANT_APP.0),
        ("default", "default", false, OPERATOR_APP.0),
        ("default-pkce", "default", true, OPERATOR_APP.0),
    ] {
        let connection = match app {
            "custom" => custom_app(&rig.org, pkce),
            _ => json!({"app": "default", "pkce": pkce}),
        };
        rig.configure(tenant, connection);
        let url = rig.start(tenant);
        let params = query_of(&url);
        assert_eq!(params["client_id"], client_id, "{url}");
        assert_eq!(params["redirect_uri"], REDIRECT_URL, "{url}");
        assert_eq!(params["response_type"], "code", "{url}");
        let challenge = params.get("code_challenge_method").and_then(Value::as_str);
        assert_eq!(challenge, pkce.then_some("S256"), "{url}");

        // With PKCE, the emulator refuses a code exchange without the matching verifier.
        let connected = rig.finish(tenant, &sign_in(&url).unwrap());
        let connected = answer(connected);
        assert_eq!(connected["org_id"], rig.org.org_id(), "{tenant}");
        assert_eq!(connected["user_id"], rig.org.login_user_id(), "{tenant}");
        assert_eq!(connected["username"], user["Username"], "{tenant}");
        assert_eq!(
            connected["instance_url"],
            rig.org.instance_url(),
            "{tenant}"
        );
        assert_eq!(connected["without_refresh_token"], false, "{tenant}");

        let status = rig.status(tenant)["connection"].clone();
        assert_eq!(status["state"], "connected", "{status}");
        assert_eq!(status["username"], user["Username"], "{status}");
        assert_eq!(status["org_id"], rig.org.org_id(), "{status}");
        assert_eq!(status["last_error"], Value::Null, "{status}");
        // The default app's secret stays in the host configuration, not in the tenant's file.
        let stored_app = &rig.credentials(tenant)["app"];
        assert_eq!(stored_app["kind"], app, "{stored_app}");
        assert_eq!(stored_app.get("client_secret").is_some(), app == "custom");
    }
}

#[test]
fn a_wrong_state_is_refused() {
    let rig = Rig::new();
    rig.configure(TENANT, custom_app(&rig.org, false));
    rig.configure("other", custom_app(&rig.org, false));
    let mut query = sign_in(&rig.start(TENANT)).unwrap();
    let issued = query["state"].clone();
    let others = query_of(&rig.start("other"))["state"].clone();

    for wrong in [json!("forged-state"), Value::Null, others] {
        query["state"] = wrong.clone();
        let e = refusal(rig.finish(TENANT, &query));
        assert_eq!(e.code, ErrorCode::INVALID_INPUT, "{wrong}: {e}");
        assert_eq!(
            e.message.as_str(),
            "this Salesforce sign-in is unknown or was already completed: start connecting again"
        );
        assert_eq!(rig.status(TENANT)["connection"]["state"], "not_connected");
    }
    // Nothing was spent: the sign-in with its own state still finishes.
    query["state"] = issued;
    answer(rig.finish(TENANT, &query));
    assert_eq!(rig.status(TENANT)["connection"]["state"], "connected");
}

#[test]
fn a_replayed_state_is_refused() {
    let rig = Rig::new();
    rig.configure(TENANT, custom_app(&rig.org, false));
    let first = sign_in(&rig.start(TENANT)).unwrap();
    let connected = answer(rig.finish(TENANT, &first));

    let mut fresh_code = sign_in(&rig.start(TENANT)).unwrap();
    fresh_code["state"] = first["state"].clone();
    for replay in [&first, &fresh_code] {
        let e = refusal(rig.finish(TENANT, replay));
        assert_eq!(e.code, ErrorCode::INVALID_INPUT, "{e}");
        assert!(e.message.contains("already completed"), "{e}");
    }
    let status = rig.status(TENANT)["connection"].clone();
    assert_eq!(status["state"], "connected");
    assert_eq!(status["connected_since"], connected["connected_since"]);
}

#[test]
fn denied_consent_is_reported_and_the_tenant_stays_unconnected() {
    let rig = Rig::new();
    rig.configure(TENANT, custom_app(&rig.org, false));
    rig.org.deny_authorization(true);
    let url = rig.start(TENANT);
    let query = sign_in(&url).unwrap();
    assert_eq!(query["error"], "access_denied");
    assert_eq!(query["state"], query_of(&url)["state"]);

    let e = refusal(rig.finish(TENANT, &query));
    assert_eq!(e.code, ErrorCode::SALESFORCE, "{e}");
    assert_eq!(
        e.message.as_str(),
        "the Salesforce user did not allow CloudCX access (access_denied: end-user denied authorization)"
    );
    assert_eq!(rig.status(TENANT)["connection"]["state"], "not_connected");

    rig.org.deny_authorization(false);
    rig.connect(TENANT).unwrap();
    assert_eq!(rig.status(TENANT)["connection"]["state"], "connected");
}

#[test]
fn a_redirect_mismatch_stops_at_salesforce_and_is_explained() {
    const CALLBACK: &str = "https://cx.example.com/integrations/salesforce/callback";
    {
        // The connected app lists another callback than the host's Authorized Redirect URL:
        // Salesforce shows an error page and never redirects.
        let rig = Rig::with(org(&[CALLBACK], None), REDIRECT_URL, |_, _| {});
        rig.configure(TENANT, custom_app(&rig.org, false));
        let (status, page) = sign_in(&rig.start(TENANT)).unwrap_err();
        assert_eq!(status, 400);
        assert!(page.contains("error=redirect_uri_mismatch"), "{page}");
        // A host that passes Salesforce's error on gets the fix named.
        let query = json!({"error": "redirect_uri_mismatch", "error_description": "redirect_uri must match configuration"});
        let e = refusal(rig.finish(TENANT, &query));
        assert!(
            e.message.starts_with("the connected app's Callback URL does not match CloudCX's Authorized Redirect URL (redirect_uri_mismatch"),
            "{e}"
        );
        assert_eq!(rig.status(TENANT)["connection"]["state"], "not_connected");
    }
    // The plugin sends exactly its redirect URL, at authorize and at the code exchange.
    let rig = Rig::with(org(&[CALLBACK], None), CALLBACK, |_, _| {});
    rig.configure(TENANT, custom_app(&rig.org, false));
    let location = browse(&rig.start(TENANT)).unwrap();
    assert!(
        location.starts_with(&format!("{CALLBACK}?code=")),
        "{location}"
    );
    answer(rig.finish(TENANT, &Value::Object(query_of(&location))));
    assert_eq!(rig.status(TENANT)["connection"]["state"], "connected");
}

#[test]
fn a_bad_client_secret_fails_the_code_exchange() {
    let rig = Rig::new();
    let mut connection = custom_app(&rig.org, false);
    connection["client_secret"] = json!("not-the-secret");
    rig.configure(TENANT, connection);

    let e = rig.connect(TENANT).unwrap_err();
    assert_eq!(e.code, ErrorCode::SALESFORCE, "{e}");
    assert!(
        e.message.starts_with("exchanging the authorization code:")
            && e.message.contains("invalid_client"),
        "{e}"
    );
    assert!(!e.message.contains("not-the-secret"), "{e}");
    let status = rig.status(TENANT)["connection"].clone();
    assert_eq!(status["state"], "not_connected");
    assert_eq!(status["last_error"], e.message.as_str());
    assert!(!rig.token_file(TENANT).exists());

    rig.configure(TENANT, custom_app(&rig.org, false));
    rig.connect(TENANT).unwrap();
    let status = rig.status(TENANT)["connection"].clone();
    assert_eq!(status["state"], "connected");
    assert_eq!(status["last_error"], Value::Null);
}

#[test]
fn an_access_token_that_expires_mid_work_is_refreshed() {
    let rig = Rig::new();
    rig.configure(DEMO, custom_app(&rig.org, false));
    rig.connect(DEMO).unwrap();
    rig.chat_ended(1);
    assert_eq!(rig.delivered(DEMO)["queue"]["written"], 1);
    let before = rig.credentials(DEMO);

    rig.org.expire_access_tokens();
    rig.chat_ended(2);
    let status = rig.delivered(DEMO);
    assert_eq!(status["queue"]["written"], 2, "{status}");
    assert_eq!(status["queue"]["failed"], 0, "{status}");
    assert_eq!(status["connection"]["state"], "connected", "{status}");
    assert_eq!(rig.org.records("Case").len(), 2);
    let after = rig.credentials(DEMO);
    assert_ne!(after["access_token"], before["access_token"]);
    assert_eq!(after["refresh_token"], before["refresh_token"]);
}

#[test]
fn a_revoked_refresh_token_needs_reconnect_and_queued_work_resumes_after_it() {
    let mut rig = Rig::new();
    rig.configure(DEMO, custom_app(&rig.org, false));
    rig.connect(DEMO).unwrap();
    rig.org.revoke_refresh_tokens();
    rig.chat_ended(1);

    let held_for_reconnect = |rig: &Rig| {
        let status = rig.status(DEMO);
        let held = status["queue"]["held"]["reason"]
            .as_str()
            .unwrap_or_default();
        held.contains("must be made again").then_some(status)
    };
    common::eventually("the event held for a reconnect", WAIT, || {
        held_for_reconnect(&rig)
    });
    // Host contract §5: the host hears that the connection broke, and why, once.
    let broken = broken_notices(&rig);
    assert_eq!(broken.len(), 1, "{broken:?}");
    assert_eq!(broken[0]["tenant_id"], DEMO);
    assert!(
        broken[0]["reason"]
            .as_str()
            .unwrap()
            .contains("must be made again"),
        "{broken:?}"
    );
    // Settings applied again resume the lane, which meets the same break: no new notice.
    let (tenant, settings) = rig.settings.borrow()[0].clone();
    answer(
        rig.plugin
            .plugin
            .configure_tenant(tenant.as_str().into(), settings.as_str().into()),
    );
    common::eventually("the event held again", WAIT, || held_for_reconnect(&rig));
    assert_eq!(broken_notices(&rig).len(), 1);

    // The state is kept across a restart, and so is the event.
    rig.restart();
    let status = common::eventually("the event held again", WAIT, || held_for_reconnect(&rig));
    let connection = &status["connection"];
    assert_eq!(connection["state"], "needs_reconnect", "{status}");
    let reason = connection["reason"].as_str().unwrap();
    assert!(reason.contains("invalid_grant"), "{reason}");
    assert_eq!(
        connection["username"],
        rig.org.records("User")[0]["Username"]
    );
    assert_eq!(status["queue"]["pending"], 1, "{status}");
    assert!(rig.org.records("Case").is_empty());
    assert!(
        broken_notices(&rig).is_empty(),
        "told before the restart, not again"
    );

    rig.connect(DEMO).unwrap();
    let status = rig.delivered(DEMO);
    assert_eq!(status["connection"]["state"], "connected", "{status}");
    assert_eq!(status["connection"]["reason"], Value::Null, "{status}");
    assert_eq!(status["queue"]["written"], 1, "{status}");
    assert_eq!(rig.org.records("Case").len(), 1);
}

/// The `connection_broken` notifications the plugin sent its host.
fn broken_notices(rig: &Rig) -> Vec<Value> {
    rig.plugin
        .host
        .notifications
        .lock()
        .iter()
        .map(|n| serde_json::from_str(n).unwrap())
        .filter(|n: &Value| n["kind"] == "connection_broken")
        .collect()
}

#[test]
fn a_break_found_by_a_console_lookup_is_told_to_the_host_once() {
    let rig = Rig::new();
    rig.configure(DEMO, custom_app(&rig.org, false));
    rig.connect(DEMO).unwrap();
    rig.org.revoke_refresh_tokens();
    rig.org.expire_access_tokens();
    let request = json!({"tenant_id": DEMO, "visitor": {"email": "jane@acme.example"}});
    let lookup = || {
        refusal(
            rig.plugin
                .plugin
                .lookup(request.to_string().as_str().into(), 3_000),
        )
    };
    let refused = lookup();
    assert_eq!(refused.code, ErrorCode::NOT_CONNECTED, "{refused}");
    let broken = broken_notices(&rig);
    assert_eq!(broken.len(), 1, "nothing was queued, yet the host is told");
    assert_eq!(broken[0]["tenant_id"], DEMO);
    assert!(
        broken[0]["reason"]
            .as_str()
            .unwrap()
            .contains("invalid_grant"),
        "{broken:?}"
    );
    assert_eq!(lookup().code, ErrorCode::NOT_CONNECTED);
    assert_eq!(broken_notices(&rig).len(), 1, "once per break");
    assert_eq!(rig.status(DEMO)["connection"]["state"], "needs_reconnect");
}

#[test]
fn disconnect_revokes_the_refresh_token_and_forgets_the_tokens() {
    let rig = Rig::new();
    rig.configure(TENANT, custom_app(&rig.org, false));
    rig.connect(TENANT).unwrap();
    let credentials = rig.credentials(TENANT);
    let refresh_token = credentials["refresh_token"].as_str().unwrap();
    assert_eq!(refresh_grant(&rig.org, refresh_token).0, 200);

    let disconnected = rig.disconnect(TENANT);
    assert_eq!(disconnected["revoked"], true, "{disconnected}");
    assert_eq!(disconnected["revoke_error"], Value::Null, "{disconnected}");
    let (status, body) = refresh_grant(&rig.org, refresh_token);
    assert_eq!((status, &body["error"]), (400, &json!("invalid_grant")));

    let connection = rig.status(TENANT)["connection"].clone();
    assert_eq!(connection["state"], "disconnected", "{connection}");
    assert_eq!(connection["revoke_pending"], false, "{connection}");
    let stored = fs::read_to_string(rig.token_file(TENANT)).unwrap();
    for token in [refresh_token, credentials["access_token"].as_str().unwrap()] {
        assert!(!stored.contains(token), "{stored}");
    }
}

#[test]
fn secrets_are_absent_from_logs_answers_and_status() {
    let rig = Rig::new();
    let mut secrets: Vec<String> = vec![TENANT_APP.1.into(), OPERATOR_APP.1.into()];
    let mut said: Vec<String> = Vec::new();
    let mut keep = |result: JsonResult| match result {
        RResult::ROk(text) => said.push(text.into()),
        RResult::RErr(e) => said.push(e.message.into()),
    };

    // A refused code exchange, a denied consent, two connections (custom and default app).
    let mut wrong = custom_app(&rig.org, true);
    wrong["client_secret"] = json!("wrong-secret");
    secrets.push("wrong-secret".into());
    rig.configure(TENANT, wrong);
    let query = sign_in(&rig.start(TENANT)).unwrap();
    secrets.push(query["code"].as_str().unwrap().into());
    keep(rig.finish(TENANT, &query));
    rig.org.deny_authorization(true);
    keep(rig.finish(TENANT, &sign_in(&rig.start(TENANT)).unwrap()));
    rig.org.deny_authorization(false);
    rig.configure(TENANT, custom_app(&rig.org, true));
    rig.configure("other", json!({"app": "default"}));
    for tenant in [TENANT, "other"] {
        let query = sign_in(&rig.start(tenant)).unwrap();
        secrets.push(query["code"].as_str().unwrap().into());
        keep(rig.finish(tenant, &query));
        keep(rig.plugin.plugin.status(tenant.into()));
        let credentials = rig.credentials(tenant);
        for token in ["access_token", "refresh_token"] {
            secrets.push(credentials[token].as_str().unwrap().into());
        }
        keep(rig.plugin.plugin.disconnect(tenant.into()));
        keep(rig.plugin.plugin.status(tenant.into()));
    }
    // Work written through a session that expires and is refreshed, then a revoked grant.
    rig.configure(DEMO, custom_app(&rig.org, false));
    rig.connect(DEMO).unwrap();
    secrets.push(
        rig.credentials(DEMO)["access_token"]
            .as_str()
            .unwrap()
            .into(),
    );
    rig.org.expire_access_tokens();
    rig.chat_ended(1);
    rig.delivered(DEMO);
    let credentials = rig.credentials(DEMO);
    for token in ["access_token", "refresh_token"] {
        secrets.push(credentials[token].as_str().unwrap().into());
    }
    rig.org.revoke_refresh_tokens();
    rig.chat_ended(2);
    common::eventually("needs reconnect", WAIT, || {
        (rig.status(DEMO)["connection"]["state"] == "needs_reconnect").then_some(())
    });
    keep(rig.plugin.plugin.status(DEMO.into()));
    rig.stop();

    let host = &rig.plugin.host;
    let lines = host.lines.lock();
    assert!(
        lines
            .iter()
            .any(|(_, _, m)| m.contains("connected to Salesforce org")),
        "{lines:?}"
    );
    assert_eq!(said.len(), 11, "{said:?}");
    let texts = lines
        .iter()
        .map(|(_, target, message)| format!("{target}: {message}"))
        .chain(said)
        .chain(host.notifications.lock().clone());
    for text in texts {
        for secret in &secrets {
            assert!(!text.contains(secret.as_str()), "a secret in {text:?}");
        }
    }
}

#[test]
fn token_files_are_owner_only() {
    let rig = Rig::new();
    rig.configure(TENANT, custom_app(&rig.org, false));
    rig.connect(TENANT).unwrap();
    let file = rig.token_file(TENANT);
    assert_eq!(mode(&rig.dir.path().join("plugin")), 0o700);
    assert_eq!(mode(&rig.connections_dir()), 0o700);
    assert_eq!(mode(&file), 0o600);
    // Still after a rewrite, with no temporary file left beside it.
    rig.disconnect(TENANT);
    assert_eq!(mode(&file), 0o600);
    let names: Vec<_> = fs::read_dir(rig.connections_dir())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(names, [file.file_name().unwrap()]);
}

#[test]
fn tokens_are_sealed_when_a_key_is_configured() {
    let keep_org = tempfile::tempdir().unwrap();
    let org_file = keep_org.path().join("org.json");
    let mut rig = Rig::with(org(&[], Some(org_file.clone())), REDIRECT_URL, use_key);
    rig.configure(TENANT, custom_app(&rig.org, false));
    let connected = rig.connect(TENANT).unwrap();

    // The emulator keeps the tokens it issued in its data file.
    let tokens: Vec<String> = common::eventually("the org's data file", WAIT, || {
        let org: Value = serde_json::from_str(&fs::read_to_string(&org_file).ok()?).ok()?;
        let tokens: Vec<String> = ["grants", "sessions"]
            .iter()
            .flat_map(|k| {
                org[k]
                    .as_object()
                    .into_iter()
                    .flat_map(|m| m.keys().cloned())
            })
            .collect();
        (tokens.len() >= 2).then_some(tokens)
    });
    let plain = [TENANT_APP.1, connected["username"].as_str().unwrap()];
    assert_sealed(
        &rig.token_file(TENANT),
        tokens.iter().map(String::as_str).chain(plain),
    );
    // The plugin reads its sealed file back after a restart.
    rig.restart();
    assert_eq!(rig.status(TENANT)["connection"]["state"], "connected");
}

#[test]
fn a_token_file_written_before_a_key_is_sealed_once_one_is_configured() {
    let mut rig = Rig::new();
    rig.configure(TENANT, custom_app(&rig.org, false));
    rig.connect(TENANT).unwrap();
    let credentials = rig.credentials(TENANT);
    let refresh_token = credentials["refresh_token"].as_str().unwrap();

    let mut config: Value = serde_json::from_str(&rig.config).unwrap();
    use_key(rig.dir.path(), &mut config);
    rig.config = config.to_string();
    rig.restart();
    assert_eq!(rig.status(TENANT)["connection"]["state"], "connected");
    let access_token = credentials["access_token"].as_str().unwrap();
    assert_sealed(&rig.token_file(TENANT), [access_token, refresh_token]);
    // The tokens still work once sealed: the disconnect revokes the refresh token.
    assert_eq!(rig.disconnect(TENANT)["revoked"], true);
    assert_eq!(refresh_grant(&rig.org, refresh_token).0, 400);
}

/// Adds a key file in `dir` to the host configuration.
fn use_key(dir: &Path, config: &mut Value) {
    let key = dir.join("salesforce.key");
    fs::write(&key, "00112233445566778899aabbccddeeff".repeat(2)).unwrap();
    fs::set_permissions(&key, fs::Permissions::from_mode(0o600)).unwrap();
    config["secret_key_file"] = json!(key);
}

/// The token file is sealed and shows none of `secrets`.
fn assert_sealed<'a>(token_file: &Path, secrets: impl IntoIterator<Item = &'a str>) {
    let stored = fs::read_to_string(token_file).unwrap();
    let file: Value = serde_json::from_str(&stored).unwrap();
    assert_eq!(file["encryption"], "xchacha20poly1305", "{stored}");
    assert_eq!(file.get("record"), None, "{stored}");
    for secret in secrets {
        assert!(!stored.contains(secret), "{secret} in {stored}");
    }
}

#[test]
fn the_shim_binary_connects_reports_and_disconnects() {
    let org = org(&[], None);
    let tmp = tempfile::tempdir().unwrap();
    let port = common::free_port();
    let config = tmp.path().join("host.json");
    let host = json!({"state_dir": tmp.path().join("plugin"), "redirect_url": format!("http://127.0.0.1:{port}/callback")});
    fs::write(&config, host.to_string()).unwrap();
    let settings = tmp.path().join("settings.json");
    let mut example: Value = serde_json::from_str(
        &fs::read_to_string(common::repo_root().join("examples/settings.json")).unwrap(),
    )
    .unwrap();
    example["connection"] = custom_app(&org, true);
    fs::write(&settings, example.to_string()).unwrap();
    let run = |args: &[&str]| {
        let mut all = vec!["--config", config.to_str().unwrap()];
        all.extend(args);
        let out = common::shim(tmp.path(), &all, &[]);
        let stderr = common::text(&out.stderr);
        assert_eq!(out.status.code(), Some(0), "{args:?}: {stderr}");
        (common::text(&out.stdout), stderr)
    };

    let settings = settings.to_str().unwrap();
    let (connected, mut logs) = run(&[
        "connect",
        "--tenant",
        TENANT,
        "--settings",
        settings,
        "--auto",
    ]);
    assert!(connected.contains(&org.org_id()), "{connected}");
    let (status, more) = run(&["status", "--tenant", TENANT, "--json"]);
    logs += &more;
    let status: Value = serde_json::from_str(&status).unwrap();
    assert_eq!(status["connection"]["state"], "connected", "{status}");
    let hex: String = TENANT.bytes().map(|b| format!("{b:02x}")).collect();
    let token_file = tmp
        .path()
        .join(format!("plugin/connections/tenant-{hex}.json"));
    let stored: Value = serde_json::from_str(&fs::read_to_string(token_file).unwrap()).unwrap();
    let credentials = &stored["record"]["state"]["credentials"];

    let (disconnected, more) = run(&["disconnect", "--tenant", TENANT]);
    logs += &more;
    let disconnected: Value = serde_json::from_str(&disconnected).unwrap();
    assert_eq!(disconnected["revoked"], true, "{disconnected}");
    let (status, more) = run(&["status", "--tenant", TENANT, "--json"]);
    logs += &more;
    let status: Value = serde_json::from_str(&status).unwrap();
    assert_eq!(status["connection"]["state"], "disconnected", "{status}");

    assert!(logs.contains("connected to Salesforce org"), "{logs}");
    for secret in [
        TENANT_APP.1,
        credentials["access_token"].as_str().unwrap(),
        credentials["refresh_token"].as_str().unwrap(),
    ] {
        assert!(
            !logs.contains(secret) && !connected.contains(secret),
            "{logs}"
        );
    }
}
