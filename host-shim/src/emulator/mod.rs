//! The local Salesforce emulator: a library module, so tests start one in-process, and the
//! `cloudcx-shim emulator` command.
//!
//! **Two hosts on one port** (salesforce-api.md §1.1): the login URL `http://127.0.0.1:PORT`
//! ([`Emulator::base_url`], what a client is configured with) serves OAuth and the identity URL
//! (a token's `id`); the instance URL `http://localhost:PORT` ([`Emulator::instance_url`], a
//! token's `instance_url`) serves the data API, and OAuth too, as a My Domain does. Requests are
//! told apart by their `Host` header. A data call on the login host gets what Salesforce
//! answers there, 400 `URL_NOT_RESET` "Destination URL not reset. The URL returned from login
//! must be set" (reported by clients; the spec does not say); the identity URL on the instance
//! host gets 404 `NOT_FOUND` (the emulator's choice: the spec puts it on the login host only).
//! The versions list, the HTML view and the test endpoints answer on both.
//! [`EmulatorOptions::instance_host`] (`--instance-host`) names another instance host, a name of
//! 127.0.0.1; `127.0.0.1` makes one host of both, serving everything.
//!
//! The org's Id is `00D000000000001EAA` unless [`EmulatorOptions::org_id`] (`--org-id`) gives
//! another: two emulators with different Ids are two orgs to a client (an org switch, say).
//!
//! The same port serves HTTPS on both hosts (for clients that insist on `https://`, such as
//! simple-salesforce) with a server certificate signed by a local authority made at start: trust
//! [`Emulator::tls_cert_pem`] (`--tls-cert FILE` writes it).
//!
//! **OAuth** (salesforce-api.md §1): `GET /services/oauth2/authorize` checks the client id and the
//! exact callback, approves at once and redirects with `code` and `state` (or `error=`);
//! `POST /services/oauth2/token` takes `authorization_code` (PKCE S256 checked when a challenge
//! was sent; codes are single-use and expire), `refresh_token` and `password` grants, with the
//! client secret in the body or as Basic (a public app, [`ClientApp::public`], needs none but
//! for the password grant); answers have no `expires_in`, `issued_at` is a string, a refresh
//! brings no new refresh token (unless [`EmulatorOptions::rotate_refresh_tokens`]); at most five
//! grants per user and app. The username-password grant (`username`, `password`: jsforce's
//! `conn.login` with an OAuth2 client, simple-salesforce's consumer-key login) logs in any
//! active User by `Username` with the `Password` the seed gave it, or `demo-password`
//! ([`oauth::DEMO_PASSWORD`]); no security token is asked for (as from a trusted IP range), no
//! refresh token is issued, and anything else is 400 `invalid_grant` "authentication failure".
//! Token answers come as `format=` or `Accept` asks (JSON, urlencoded or XML); a code grant with
//! the `openid` scope brings an RS256 `id_token` whose key `/id/keys` publishes (a fixed public
//! test key). Also `/services/oauth2/revoke` (access or refresh token),
//! `/services/oauth2/introspect`, `/services/oauth2/userinfo`, `/id/{org}/{user}` and
//! `/.well-known/openid-configuration` (naming only these endpoints). The demo app is `demo-client` /
//! `demo-secret` and accepts any `http://127.0.0.1:*` or `http://localhost:*` callback.
//!
//! **Data API** under `/services/data/vNN.N/` (v21.0 to v62.0, or `latest`; `GET
//! /services/data/` needs no token and costs nothing): resources, `limits`,
//! `limits/recordCount`, `sobjects` (describe global), `sobjects/{O}` (POST create, GET basic
//! info; POST `sobjects/{O}/Id` creates too), `sobjects/{O}/describe` (both
//! describes answer 304 to an `If-Modified-Since` no older than the schema),
//! `sobjects/{O}/{id}` (GET with `?fields=`, PATCH, DELETE), `sobjects/{O}/{id}/{VersionData|Body}`,
//! `sobjects/{O}/{ExtField}/{value}` (GET, PATCH upsert: 201 / 200 with `created` / 300,
//! `?updateOnly=true`, DELETE), `query` and `queryAll` (deleted records too, `IsDeleted` true;
//! `?q=`, pages by `nextRecordsUrl`, `Sforce-Query-Options: batchSize=N`), `composite` (25
//! subrequests, at most 5 of them queries or sObject Collections, `@{ref.path}` references,
//! `allOrNone`), `composite/graph` (75 graphs, each all or nothing; 500 nodes, 15 deep, 15
//! different nodes; sObject create, retrieve, update, upsert and delete nodes only; graphs after
//! the 14th failure halted), `composite/batch` (25 independent subrequests with URLs such as
//! `v62.0/sobjects/Lead` and bodies in `richInput`, `haltOnError` answering 412
//! BATCH_PROCESSING_HALTED), `composite/tree/{O}` (nested records by child relationship, 200 in
//! all, 5 levels, 5 objects, all or none, 201 with each `referenceId`'s Id) and
//! `composite/sobjects` (create, update, upsert and delete of 200 records; retrieve of 800 Ids
//! by GET, 2,000 by POST). HEAD is GET without the body. Every answer carries
//! `Sforce-Limit-Info: api-usage=N/M`; each request counts one call (a composite, graph, tree or
//! collections request too; a batch, one per subrequest run) and 403 REQUEST_LIMIT_EXCEEDED
//! follows once the budget is spent. Records follow Salesforce's rules and errors: see
//! `rules.rs`.
//!
//! **For people and tests**: `GET /` shows the records as HTML; `GET /__emulator/dump` is
//! [`Emulator::dump`]; `POST /__emulator/faults` takes a [`FaultRequest`]
//! (`{"failNext": {"count": 2, "kind": "503"}, "dropAfterWrite": 1, "latencyMs": 200,
//! "expireAccessTokens": true, "revokeRefreshTokens": true, "apiLimit": 100, "apiUsed": 0,
//! "duplicateRules": "block", "denyAuthorization": true}`, every key optional; `dropAfterWrite`
//! counts only writes that changed the org); `POST /__emulator/convert-lead` takes
//! `{"leadId": "00Q…"}`.
//!
//! **Seed** ([`SeedFile`]): `{"customFields": [{"object": "Lead", "name": "Chat_Id__c", "type":
//! "string", "length": 64, "externalId": true}], "records": [{"type": "User", "Email":
//! "agent@example.com", "Password": "s3cret"}, {"type": "Lead", "LastName": "Doe", "Company":
//! "Acme"}]}`. Records may give their `Id` and read-only fields (`IsConverted`, `CaseNumber`,
//! ...); a User's `Password` is kept apart (never a field); the first User is the one who logs
//! in through the authorize endpoint (a demo admin, `admin@example.com`, is made when there is
//! none).
//!
//! Tests use [`Emulator`], whose API is synchronous:
//!
//! ```no_run
//! use cloudcx_shim::emulator::{Emulator, EmulatorOptions, FaultKind};
//! use serde_json::json;
//!
//! let emulator = Emulator::start(EmulatorOptions::default()).expect("emulator");
//! emulator.seed(&json!({"records": [{"type": "Lead", "LastName": "Doe", "Company": "Acme"}]})).unwrap();
//! // Point the plugin's login URL at emulator.base_url() and run the OAuth flow against the
//! // demo app, or skip the browser step (data calls then go to emulator.instance_url()):
//! let tokens = emulator.issue_tokens();
//! emulator.fail_next(2, FaultKind::Unavailable); // the next two data calls get 503
//! emulator.drop_after_write(1); // the next write is applied, then its connection is closed
//! // ... drive the plugin ...
//! assert_eq!(emulator.records("Lead").len(), 1);
//! assert!(emulator.api_calls() <= 10);
//! # drop(tokens);
//! emulator.stop();
//! ```

mod composite;
mod data;
pub mod error;
pub mod faults;
mod hosts;
mod html;
mod ids;
pub mod oauth;
mod persist;
mod query;
mod router;
mod rules;
pub mod schema;
pub mod seed;
mod server;
mod shared;
mod sobjects;
pub mod soql;
mod store;
mod tls;
mod wire;

#[cfg(test)]
mod tests;

use std::io;
use std::net::TcpListener;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use parking_lot::Mutex;
use serde_json::{json, Value};

pub use error::ApiError;
pub use faults::{FaultKind, FaultRequest};
pub use hosts::DEFAULT_INSTANCE_HOST;
pub use ids::{BadOrgId, OrgId};
pub use oauth::{ClientApp, Tokens};
pub use seed::SeedFile;
pub use store::DuplicateRules;

use faults::{Faults, Usage};
use hosts::Hosts;
use oauth::OAuth;
use server::Server;
use shared::{Cursors, Shared};
use store::Org;

/// How to start an emulator. `Default` gives the demo app, 15,000 API calls, no data file.
#[derive(Debug, Clone)]
pub struct EmulatorOptions {
    /// Port on 127.0.0.1 (0: any free port).
    pub port: u16,
    /// The instance URL's host, a name of 127.0.0.1 other than `127.0.0.1` (the login host);
    /// `127.0.0.1` serves login and instance as one host. Default [`DEFAULT_INSTANCE_HOST`].
    pub instance_host: String,
    /// The org's Id; `None`: the data file's, else [`OrgId::default`]. Tokens and identity
    /// URLs carry it, so that emulators given different Ids are different orgs to a client.
    pub org_id: Option<OrgId>,
    /// Keeps the whole org in this file across restarts. An existing file wins over `seed`, and
    /// must hold `org_id` when it is given.
    pub data_file: Option<PathBuf>,
    /// Custom fields and records to start with; the first User logs in.
    pub seed: Option<SeedFile>,
    /// Connected apps; empty means the demo app ([`ClientApp::demo`]).
    pub clients: Vec<ClientApp>,
    /// Daily API budget (`Sforce-Limit-Info`, 403 REQUEST_LIMIT_EXCEEDED once spent).
    pub api_limit: u64,
    /// Lifetime of an authorization code.
    pub code_ttl: Duration,
    /// Issue a new refresh token (and revoke the old one) on every refresh.
    pub rotate_refresh_tokens: bool,
    pub duplicate_rules: DuplicateRules,
    /// Default query page size.
    pub batch_size: usize,
}

impl Default for EmulatorOptions {
    fn default() -> Self {
        EmulatorOptions {
            port: 0,
            instance_host: DEFAULT_INSTANCE_HOST.to_string(),
            org_id: None,
            data_file: None,
            seed: None,
            clients: Vec::new(),
            api_limit: 15_000,
            code_ttl: Duration::from_secs(15 * 60),
            rotate_refresh_tokens: false,
            duplicate_rules: DuplicateRules::None,
            batch_size: 2000,
        }
    }
}

impl Shared {
    /// The org as JSON: ids, API usage, and every live record per object.
    pub fn dump(&self) -> Value {
        let org = self.org.lock();
        let mut out = org.dump();
        out["loginUserId"] = json!(org.login_user);
        out["apiUsage"] = json!({"used": self.usage.used.load(Ordering::SeqCst), "max": self.usage.max.load(Ordering::SeqCst)});
        out
    }

    /// Converts a Lead in one transaction.
    pub fn convert_lead(&self, lead_id: &str) -> Result<(String, String), ApiError> {
        let mut org = self.org.lock();
        let user = org.login_user.clone();
        let savepoint = org.begin();
        let converted = org.convert_lead(lead_id, rules::Writer::api(&user));
        match converted {
            Ok(_) => org.commit(savepoint),
            Err(_) => org.rollback(savepoint),
        }
        drop(org);
        self.mark_dirty();
        converted
    }

    pub fn apply_faults(&self, request: &FaultRequest) {
        if request.expire_access_tokens {
            self.auth.lock().expire_sessions();
        }
        if request.revoke_refresh_tokens {
            self.auth.lock().revoke_all();
        }
        if let Some(fail) = &request.fail_next {
            self.faults.fail_next(fail.count, fail.kind);
        }
        if let Some(ms) = request.latency_ms {
            self.faults.set_latency(Duration::from_millis(ms));
        }
        if let Some(n) = request.drop_after_write {
            self.faults.drop_after_write(n);
        }
        if let Some(max) = request.api_limit {
            self.usage.max.store(max, Ordering::SeqCst);
        }
        if let Some(used) = request.api_used {
            self.usage.used.store(used, Ordering::SeqCst);
        }
        if let Some(rules) = request.duplicate_rules {
            self.org.lock().duplicate_rules = rules;
        }
        if let Some(deny) = request.deny_authorization {
            self.auth.lock().deny = deny;
        }
        self.mark_dirty();
    }
}

/// Writes the data file shortly after changes, and once more when stopped.
struct Flusher {
    stop: mpsc::Sender<()>,
    thread: JoinHandle<()>,
}

/// A running emulator. Stops (closing its connections and writing its data file) on
/// [`Emulator::stop`] or drop.
pub struct Emulator {
    shared: Arc<Shared>,
    server: Server,
    flusher: Mutex<Option<Flusher>>,
    tls_cert_pem: String,
}

impl Emulator {
    /// Binds 127.0.0.1:`options.port`, loads the data file or the seed, and starts serving.
    /// An `instance_host` that is not a name of 127.0.0.1 is an `InvalidInput` error.
    pub fn start(options: EmulatorOptions) -> io::Result<Emulator> {
        let listener = TcpListener::bind((hosts::LOGIN_HOST, options.port))?;
        let hosts = Hosts::new(listener.local_addr()?.port(), &options.instance_host)?;
        let tls = tls::Tls::self_signed(hosts.instance_name())?;
        let mut org = Org::new(schema::Schema::standard());
        org.duplicate_rules = options.duplicate_rules;
        let shared = Arc::new(Shared {
            hosts,
            org: Mutex::new(org),
            auth: Mutex::new(OAuth::new(
                options.clients.clone(),
                options.code_ttl,
                options.rotate_refresh_tokens,
            )),
            faults: Faults::default(),
            usage: Usage::new(options.api_limit),
            cursors: Mutex::new(Cursors::default()),
            batch_size: options.batch_size.clamp(1, 2000),
            dirty: AtomicBool::new(false),
        });
        let loaded = match &options.data_file {
            Some(path) => persist::load(&shared, path, options.org_id.as_ref())?,
            None => false,
        };
        if !loaded {
            let mut org = shared.org.lock();
            if let Some(id) = &options.org_id {
                org.org_id = id.to_string();
            }
            let seeded = match &options.seed {
                Some(seed) => seed::apply(&mut org, seed).map(|_| ()),
                None => seed::ensure_login_user(&mut org),
            };
            seeded.map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))?;
            shared.dirty.store(true, Ordering::Release);
        }
        let flusher = options.data_file.clone().map(|path| {
            let (stop, stopped) = mpsc::channel::<()>();
            let shared = shared.clone();
            let thread = std::thread::spawn(move || loop {
                let stopping = !matches!(
                    stopped.recv_timeout(Duration::from_millis(200)),
                    Err(mpsc::RecvTimeoutError::Timeout)
                );
                if shared.dirty.swap(false, Ordering::AcqRel) || stopping {
                    if let Err(e) = persist::save(&shared, &path) {
                        log::error!("emulator: cannot write {}: {e}", path.display());
                    }
                }
                if stopping {
                    return;
                }
            });
            Flusher { stop, thread }
        });
        let server = Server::start(listener, shared.clone(), tls.acceptor)?;
        Ok(Emulator {
            shared,
            server,
            flusher: Mutex::new(flusher),
            tls_cert_pem: tls.cert_pem,
        })
    }

    /// `http://127.0.0.1:PORT`, the login URL: OAuth and the identity URL.
    pub fn base_url(&self) -> &str {
        self.shared.hosts.login()
    }

    /// The token's `instance_url` (`http://localhost:PORT` by default): the data API.
    pub fn instance_url(&self) -> &str {
        self.shared.hosts.instance()
    }

    /// The certificate of the local authority that signed the HTTPS certificate (127.0.0.1,
    /// localhost and the instance host): what HTTPS clients must trust.
    pub fn tls_cert_pem(&self) -> &str {
        &self.tls_cert_pem
    }

    /// The org's 18-character Id (`00D…`).
    pub fn org_id(&self) -> String {
        self.shared.org.lock().org_id.clone()
    }

    /// The User who logs in through OAuth.
    pub fn login_user_id(&self) -> String {
        self.shared.org.lock().login_user.clone()
    }

    /// Data API calls counted so far.
    pub fn api_calls(&self) -> u64 {
        self.shared.usage.used.load(Ordering::SeqCst)
    }

    /// Sets the daily API budget.
    pub fn set_api_limit(&self, max: u64) {
        self.shared.usage.max.store(max, Ordering::SeqCst);
    }

    /// Issues an access and a refresh token for the first connected app and the login user,
    /// as the OAuth flow would, without the browser step.
    pub fn issue_tokens(&self) -> Tokens {
        let (org_id, user) = {
            let org = self.shared.org.lock();
            (org.org_id.clone(), org.login_user.clone())
        };
        let mut auth = self.shared.auth.lock();
        let client = auth.clients[0].id.clone();
        let tokens = auth.issue(&org_id, &client, &user, "api refresh_token id", true);
        drop(auth);
        self.shared.mark_dirty();
        tokens
    }

    /// Every access token stops working: the next data call gets 401 INVALID_SESSION_ID.
    pub fn expire_access_tokens(&self) {
        self.shared.apply_faults(&FaultRequest {
            expire_access_tokens: true,
            ..FaultRequest::default()
        });
    }

    /// Every refresh token is revoked: refreshing gets `invalid_grant`.
    pub fn revoke_refresh_tokens(&self) {
        self.shared.apply_faults(&FaultRequest {
            revoke_refresh_tokens: true,
            ..FaultRequest::default()
        });
    }

    /// Answers the next `count` authenticated data requests with `kind` (0 clears it).
    pub fn fail_next(&self, count: u32, kind: FaultKind) {
        self.shared.faults.fail_next(count, kind);
    }

    /// Delays every Salesforce request by `latency`.
    pub fn set_latency(&self, latency: Duration) {
        self.shared.faults.set_latency(latency);
    }

    /// Applies the next `count` data writes that change the org (a refused or failed write
    /// changes nothing and is answered), then closes their connections without answering.
    pub fn drop_after_write(&self, count: u32) {
        self.shared.faults.drop_after_write(count);
    }

    /// Writes applied and left unanswered so far.
    pub fn dropped_writes(&self) -> u32 {
        self.shared.faults.dropped_writes.load(Ordering::SeqCst)
    }

    /// Makes the authorize endpoint redirect with `error=access_denied` (until set back).
    pub fn deny_authorization(&self, deny: bool) {
        self.shared.auth.lock().deny = deny;
    }

    pub fn set_duplicate_rules(&self, rules: DuplicateRules) {
        self.shared.org.lock().duplicate_rules = rules;
    }

    /// Adds a seed document's custom fields and records; returns the new Ids in order.
    pub fn seed(&self, seed: &Value) -> Result<Vec<String>, String> {
        let seed = SeedFile::from_json(seed)?;
        let ids = seed::apply(&mut self.shared.org.lock(), &seed)?;
        self.shared.mark_dirty();
        Ok(ids)
    }

    /// Changes a record as the login user would in Salesforce (its `LastModifiedDate` too),
    /// without an API call or a token: Salesforce revokes a user's oldest grant for an app
    /// after five, so a test that issued tokens to change records would sign its plugin out.
    pub fn update(&self, object: &str, id: &str, fields: &Value) -> Result<(), ApiError> {
        let body = fields.as_object().cloned().unwrap_or_default();
        let mut org = self.shared.org.lock();
        let user = org.login_user.clone();
        let updated = org.update(object, id, &body, rules::Writer::api(&user));
        drop(org);
        self.shared.mark_dirty();
        updated
    }

    /// Converts a Lead (as a user would in Salesforce): makes an Account and a Contact, marks
    /// the Lead converted (`IsConverted`, `ConvertedContactId`, `ConvertedAccountId`) and moves
    /// its Tasks to the Contact. Returns (Contact Id, Account Id).
    pub fn convert_lead(&self, lead_id: &str) -> Result<(String, String), ApiError> {
        self.shared.convert_lead(lead_id)
    }

    /// The org as JSON: `{"organizationId", "loginUserId", "apiUsage": {"used", "max"},
    /// "objects": {"Lead": [records...], ...}}`.
    pub fn dump(&self) -> Value {
        self.shared.dump()
    }

    /// The live records of one object, in creation order.
    pub fn records(&self, object: &str) -> Vec<Value> {
        self.dump()["objects"][object]
            .as_array()
            .cloned()
            .unwrap_or_default()
    }

    /// Stops serving and writes the data file.
    pub fn stop(self) {
        drop(self);
    }

    fn shut_down(&mut self) {
        self.server.stop();
        if let Some(flusher) = self.flusher.lock().take() {
            let _ = flusher.stop.send(());
            let _ = flusher.thread.join();
        }
    }
}

impl Drop for Emulator {
    fn drop(&mut self) {
        self.shut_down();
    }
}

/// The port `cloudcx-shim emulator` listens on unless told: fixed, so that the example settings
/// (`examples/settings.json`) reach it without edits.
pub const DEFAULT_CLI_PORT: u16 = 8766;

/// `cloudcx-shim emulator` options.
#[derive(Debug, clap::Args)]
pub struct EmulatorArgs {
    /// Port to listen on, on 127.0.0.1 (0: any free port).
    #[arg(long, default_value_t = DEFAULT_CLI_PORT)]
    pub port: u16,
    /// The instance URL's host (the data API), told apart from the login host 127.0.0.1 by
    /// each request's Host header; a name of 127.0.0.1. 127.0.0.1: one host for both.
    #[arg(long, value_name = "HOST", default_value = DEFAULT_INSTANCE_HOST, value_parser = hosts::check_instance_host)]
    pub instance_host: String,
    /// The org's Id (00D..., 15 or 18 characters); default: the --data file's, else
    /// 00D000000000001EAA.
    #[arg(long, value_name = "ID")]
    pub org_id: Option<OrgId>,
    /// Keeps the whole org in FILE across restarts (written atomically).
    #[arg(long, value_name = "FILE")]
    pub data: Option<PathBuf>,
    /// Loads custom fields and records from FILE (`{"records": [{"type": "User", ...}]}`).
    #[arg(long, value_name = "FILE")]
    pub seed: Option<PathBuf>,
    /// A connected app as ID:SECRET (repeatable); without it (or --public-client), the demo
    /// app demo-client:demo-secret.
    #[arg(long = "client", value_name = "ID:SECRET")]
    pub clients: Vec<String>,
    /// A public connected app by ID (repeatable): no client secret is needed, as with
    /// "Require Secret for Web Server Flow" off (not for the password grant).
    #[arg(long = "public-client", value_name = "ID")]
    pub public_clients: Vec<String>,
    /// A callback URL the apps accept exactly (repeatable); without it, any loopback URL.
    #[arg(long = "callback", value_name = "URL")]
    pub callbacks: Vec<String>,
    /// Daily API budget.
    #[arg(long, value_name = "CALLS", default_value_t = 15_000)]
    pub api_limit: u64,
    /// Duplicate rules on Lead/Contact Email and Account Name: none, alert or block.
    #[arg(long, value_name = "RULES", default_value = "none", value_parser = ["none", "alert", "block"])]
    pub duplicates: String,
    /// Issue a new refresh token on every refresh.
    #[arg(long)]
    pub rotate_refresh_tokens: bool,
    /// Authorization code lifetime in seconds.
    #[arg(long, value_name = "SECS", default_value_t = 900)]
    pub code_ttl_secs: u64,
    /// Delay every Salesforce request by this many milliseconds.
    #[arg(long, value_name = "MS", default_value_t = 0)]
    pub latency_ms: u64,
    /// Answer the first N data requests with --fail-kind.
    #[arg(long, value_name = "N", default_value_t = 0)]
    pub fail_next: u32,
    /// 503, 500, UNABLE_TO_LOCK_ROW or REQUEST_LIMIT_EXCEEDED.
    #[arg(long, value_name = "KIND", default_value = "503", value_parser = ["503", "500", "UNABLE_TO_LOCK_ROW", "REQUEST_LIMIT_EXCEEDED"])]
    pub fail_kind: String,
    /// Apply the first N writes that change the org, then close each connection without
    /// answering.
    #[arg(long, value_name = "N", default_value_t = 0)]
    pub drop_after_write: u32,
    /// Writes the HTTPS certificate (PEM) to FILE, for clients to trust.
    #[arg(long, value_name = "FILE")]
    pub tls_cert: Option<PathBuf>,
}

impl EmulatorArgs {
    /// The options these flags describe (reading the seed file).
    pub fn options(&self) -> Result<EmulatorOptions, String> {
        let clients = self
            .clients
            .iter()
            .map(|c| {
                c.split_once(':')
                    .filter(|(id, secret)| !id.is_empty() && !secret.is_empty())
                    .map(|(id, secret)| ClientApp {
                        id: id.into(),
                        secret: secret.into(),
                        callbacks: self.callbacks.clone(),
                    })
                    .ok_or_else(|| format!("--client {c:?}: expected ID:SECRET"))
            })
            .chain(self.public_clients.iter().map(|id| {
                Ok(ClientApp {
                    callbacks: self.callbacks.clone(),
                    ..ClientApp::public(id)
                })
            }))
            .collect::<Result<Vec<_>, _>>()?;
        let clients = if clients.is_empty() && !self.callbacks.is_empty() {
            vec![ClientApp {
                callbacks: self.callbacks.clone(),
                ..ClientApp::demo()
            }]
        } else {
            clients
        };
        let seed = match &self.seed {
            Some(path) => {
                let text = std::fs::read_to_string(path)
                    .map_err(|e| format!("{}: {e}", path.display()))?;
                let value: Value =
                    serde_json::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))?;
                Some(SeedFile::from_json(&value).map_err(|e| format!("{}: {e}", path.display()))?)
            }
            None => None,
        };
        let duplicate_rules = serde_json::from_value(json!(self.duplicates))
            .map_err(|e| format!("--duplicates: {e}"))?;
        Ok(EmulatorOptions {
            port: self.port,
            instance_host: self.instance_host.clone(),
            org_id: self.org_id.clone(),
            data_file: self.data.clone(),
            seed,
            clients,
            api_limit: self.api_limit,
            code_ttl: Duration::from_secs(self.code_ttl_secs),
            rotate_refresh_tokens: self.rotate_refresh_tokens,
            duplicate_rules,
            batch_size: 2000,
        })
    }

    /// The faults the flags ask for from the start.
    pub fn faults(&self) -> FaultRequest {
        FaultRequest {
            fail_next: (self.fail_next > 0)
                .then(|| {
                    FaultKind::parse(&self.fail_kind).map(|kind| faults::FailNext {
                        count: self.fail_next,
                        kind,
                    })
                })
                .flatten(),
            latency_ms: (self.latency_ms > 0).then_some(self.latency_ms),
            drop_after_write: (self.drop_after_write > 0).then_some(self.drop_after_write),
            ..FaultRequest::default()
        }
    }
}

/// Waits for Ctrl-C or SIGTERM.
pub fn wait_for_signal() -> io::Result<()> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_io()
        .build()?;
    runtime.block_on(async {
        #[cfg(unix)]
        {
            let mut term =
                tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
            tokio::select! {
                r = tokio::signal::ctrl_c() => r,
                _ = term.recv() => Ok(()),
            }
        }
        #[cfg(not(unix))]
        tokio::signal::ctrl_c().await
    })
}

/// Runs the emulator in the foreground: prints the base URL on the first line of stdout,
/// serves until Ctrl-C or SIGTERM, then writes the data file.
pub fn run_cli(args: EmulatorArgs) -> u8 {
    run_with_output(args, &mut io::stdout(), wait_for_signal)
}

/// [`run_cli`] with its stdout and its wait for the end given: writes the base URL as the
/// first line of `out`, serves until `wait` returns, then stops. Exit codes: 0 after a clean
/// stop, 2 for bad arguments or seed, 1 when the emulator cannot start or run.
pub fn run_with_output(
    args: EmulatorArgs,
    out: &mut dyn io::Write,
    wait: impl FnOnce() -> io::Result<()>,
) -> u8 {
    let options = match args.options() {
        Ok(o) => o,
        Err(e) => {
            eprintln!("cloudcx-shim emulator: {e}");
            return 2;
        }
    };
    let demo = options.clients.is_empty();
    let port = options.port;
    let emulator = match Emulator::start(options) {
        Ok(e) => e,
        Err(e) if e.kind() == io::ErrorKind::AddrInUse => {
            eprintln!(
                "cloudcx-shim emulator: cannot listen on 127.0.0.1:{port}: {e} (another emulator \
                 may be running there; --port P listens on another port, --port 0 on any free one)"
            );
            return 1;
        }
        Err(e) => {
            eprintln!("cloudcx-shim emulator: {e}");
            return 1;
        }
    };
    emulator.shared.apply_faults(&args.faults());
    if let Some(path) = &args.tls_cert {
        if let Err(e) = std::fs::write(path, emulator.tls_cert_pem()) {
            eprintln!("cloudcx-shim emulator: {}: {e}", path.display());
            return 1;
        }
    }
    let printed = writeln!(out, "{}", emulator.base_url()).and_then(|_| out.flush());
    if let Err(e) = printed {
        eprintln!("cloudcx-shim emulator: cannot write the base URL: {e}");
        return 1;
    }
    if demo {
        eprintln!("connected app: client id demo-client, secret demo-secret, any http://127.0.0.1:* or http://localhost:* callback");
    }
    eprintln!(
        "instance URL (data API): {}; login URL (OAuth, identity): {}",
        emulator.instance_url(),
        emulator.base_url()
    );
    eprintln!(
        "https: the same URLs with https:// (self-signed; --tls-cert FILE writes the certificate)"
    );
    eprintln!(
        "records: {0}/  dump: {0}/__emulator/dump  faults: POST {0}/__emulator/faults",
        emulator.base_url()
    );
    let result = wait();
    emulator.stop();
    match result {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("cloudcx-shim emulator: {e}");
            1
        }
    }
}
