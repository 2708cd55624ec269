//! [`Connections`]: every tenant's Salesforce connection, from connect to disconnect.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::SystemTime;

use http::header::{HeaderValue, AUTHORIZATION};
use oauth2::{AuthorizationCode, ClientSecret, RedirectUrl, RefreshToken};
use parking_lot::Mutex;
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

use super::callback::CallbackQuery;
use super::error::{ConnectionError, Step};
use super::identity::{self, Identity, IdentityError};
use super::pending::{Pending, PendingStates, STATE_LIFETIME};
use super::secret_key::SecretKey;
use super::settings::{default_login_url, is_safe_endpoint, AppChoice, ConnectionSettings};
use super::status::{
    AuthorizeUrl, ConnectedUser, ConnectionState, Disconnected, PreviousOrg, Session, TenantStatus,
};
use super::store::{
    Credentials, PendingRevoke, StoredApp, StoredState, TenantRecord, TokenStore,
    MAX_TENANT_ID_BYTES,
};
use super::token::{self, App, TokenError};
use crate::config::HostConfig;
use crate::decode::DecodeError;
use crate::salesforce::{
    self, ApiError, ApiUsage, Disposition, Transport, TransportError, TransportErrorKind,
};
use crate::workers::Notify;

type Clock = Arc<dyn Fn() -> SystemTime + Send + Sync>;

/// How long an org's API usage, as Salesforce last reported it, is taken for its present one.
/// Shorter than a pause for the limit, so that the call after a pause learns the usage anew.
const USAGE_TRUSTED: std::time::Duration = std::time::Duration::from_secs(10 * 60);

/// All tenants' connections. Cheap to share behind an `Arc`; every method may be called from
/// any thread.
pub struct Connections {
    redirect_url: RedirectUrl,
    default_app: Option<App>,
    transport: Arc<dyn Transport>,
    store: TokenStore,
    pending: Mutex<PendingStates>,
    tenants: Mutex<HashMap<String, Arc<Tenant>>>,
    clock: Clock,
    /// Told when a tenant's connection breaks (host contract §5).
    notify: Arc<dyn Notify>,
}

struct Tenant {
    /// Held for a whole refresh, network included: one refresh per tenant at a time.
    refresh: Mutex<()>,
    /// Held briefly, never across the network.
    entry: Mutex<Entry>,
}

#[derive(Default)]
struct Entry {
    /// `None` until read from disk (a failed read is tried again next time).
    record: Option<Option<TenantRecord>>,
    /// Bumped whenever the access token or the state changes.
    generation: u64,
    last_error: Option<String>,
    /// The latest `Sforce-Limit-Info`, and when it came.
    api_usage: Option<(ApiUsage, SystemTime)>,
    /// Counts failed refreshes, so that callers queued behind one get its error.
    refresh_failures: u64,
    last_refresh_error: Option<ConnectionError>,
}

impl Connections {
    /// Opens the token store under `state_dir`, loading `secret_key_file` when configured.
    /// `notify` hears of every connection that breaks.
    pub fn new(
        host: &HostConfig,
        transport: Arc<dyn Transport>,
        notify: Arc<dyn Notify>,
    ) -> Result<Connections, ConnectionError> {
        Self::with_clock(host, transport, notify, Arc::new(SystemTime::now))
    }

    pub(crate) fn with_clock(
        host: &HostConfig,
        transport: Arc<dyn Transport>,
        notify: Arc<dyn Notify>,
        clock: Clock,
    ) -> Result<Connections, ConnectionError> {
        let key = host
            .secret_key_file
            .as_deref()
            .map(SecretKey::load)
            .transpose()
            .map_err(ConnectionError::KeyFile)?;
        let default_app = match &host.default_app {
            Some(app) => Some(App {
                client_id: app.client_id.clone(),
                client_secret: ClientSecret::new(app.client_secret.expose().to_string()),
                login_url: default_login_url(app).map_err(ConnectionError::HostConfig)?,
            }),
            None => None,
        };
        Ok(Connections {
            redirect_url: RedirectUrl::new(host.redirect_url.clone()).map_err(|e| {
                ConnectionError::HostConfig(DecodeError::new(
                    "redirect_url",
                    format!("is not a usable URL ({e})"),
                ))
            })?,
            default_app,
            transport,
            store: TokenStore::open(&host.state_dir, key)?,
            pending: Mutex::new(PendingStates::default()),
            tenants: Mutex::new(HashMap::new()),
            clock,
            notify,
        })
    }

    /// Starts connecting `tenant`: the URL to open in the admin's browser. It carries a
    /// one-time `state` valid for ten minutes, and a PKCE S256 challenge when the settings ask.
    pub fn connect_start(
        &self,
        tenant: &str,
        settings: &ConnectionSettings,
    ) -> Result<AuthorizeUrl, ConnectionError> {
        check_tenant(tenant)?;
        let (url, state, verifier) =
            token::authorize_url(&app_of(settings), &self.redirect_url, settings.pkce)
                .map_err(|e| token_error(Step::CodeExchange, e))?;
        let now = (self.clock)();
        self.pending.lock().insert(
            state.into_secret(),
            Pending {
                tenant: tenant.to_string(),
                started: now,
                client_id: settings.client_id.clone(),
                login_url: settings.login_url.clone(),
                verifier,
            },
            now,
        );
        Ok(AuthorizeUrl {
            url,
            expires_at: rfc3339(now + STATE_LIFETIME),
        })
    }

    /// Finishes connecting `tenant` from Salesforce's redirect: checks the `state`, exchanges
    /// the code, reads who connected and stores the connection. Connecting to another org
    /// than the last one (connected, needing reconnect or disconnected since) is allowed and
    /// reported in [`ConnectedUser::previous_org`]; `leaving` is called with the old org
    /// before the new connection is stored, for what was known of it to be forgotten first.
    pub fn connect_finish<E: From<ConnectionError>>(
        &self,
        tenant: &str,
        settings: &ConnectionSettings,
        callback: &CallbackQuery,
        leaving: impl FnOnce(&PreviousOrg) -> Result<(), E>,
    ) -> Result<ConnectedUser, E> {
        check_tenant(tenant)?;
        let now = (self.clock)();
        let state = callback.state.as_deref().unwrap_or("");
        if let Some(code) = &callback.error {
            // The state is spent either way; a denial needs no valid one to be reported.
            let _ = self.pending.lock().take(state, tenant, now);
            return Err(ConnectionError::Denied {
                code: code.replace('-', "_"),
                description: callback.error_description.as_deref().map(printable),
            }
            .into());
        }
        let pending = self.pending.lock().take(state, tenant, now)?;
        if pending.client_id != settings.client_id || pending.login_url != settings.login_url {
            return Err(ConnectionError::SettingsChanged.into());
        }
        let code = callback.code.clone().ok_or(ConnectionError::MissingCode)?;
        let result = self.exchange(settings, code, pending.verifier);
        let (credentials, identity) = match result {
            Ok(done) => done,
            Err(e) => {
                self.record_error(tenant, &e.to_string());
                return Err(e.into());
            }
        };
        let without_refresh_token = credentials.refresh_token.is_none();
        let instance_url = credentials.instance_url.clone();
        let connected_since = rfc3339(now);
        let previous_org = self
            .replace_entry(tenant, |entry| {
                entry.record_ref().and_then(|r| r.state.org())
            })?
            .filter(|old| old.org_id != identity.org_id);
        if let Some(old) = &previous_org {
            leaving(old)?;
        }
        self.replace_entry(tenant, |entry| {
            let record = entry.record_mut();
            let pending_revokes = record.take().map(|r| r.pending_revokes).unwrap_or_default();
            *record = Some(TenantRecord {
                state: StoredState::Connected {
                    credentials,
                    identity: identity.clone(),
                    connected_since: connected_since.clone(),
                },
                pending_revokes,
            });
            entry.generation += 1;
            entry.last_error = None;
        })?;
        self.save(tenant)?;
        match &previous_org {
            Some(old) => log::warn!(
                "tenant {tenant} connected to Salesforce org {} as {}, replacing org {}",
                identity.org_id,
                identity.username,
                old.org_id
            ),
            None => log::info!(
                "tenant {tenant} connected to Salesforce org {} as {}",
                identity.org_id,
                identity.username
            ),
        }
        if without_refresh_token {
            log::warn!(
                "tenant {tenant}: Salesforce issued no refresh token; add the refresh_token scope \
                 to the connected app, or the connection ends with the session"
            );
        }
        Ok(ConnectedUser {
            identity,
            instance_url,
            connected_since,
            previous_org,
            without_refresh_token,
        })
    }

    fn exchange(
        &self,
        settings: &ConnectionSettings,
        code: AuthorizationCode,
        verifier: Option<oauth2::PkceCodeVerifier>,
    ) -> Result<(Credentials, Identity), ConnectionError> {
        let token = token::exchange_code(
            self.transport.as_ref(),
            &app_of(settings),
            &self.redirect_url,
            code,
            verifier,
        )
        .map_err(|e| token_error(Step::CodeExchange, e))?;
        check_endpoint("the instance URL", &token.instance_url)?;
        check_endpoint("the identity URL", &token.id)?;
        let access_token = oauth2::TokenResponse::access_token(&token).clone();
        let identity = identity::fetch(self.transport.as_ref(), &token.id, &access_token).map_err(
            |e| match e {
                IdentityError::Api(error) => ConnectionError::Salesforce {
                    step: Step::Identity,
                    error,
                },
                IdentityError::Unreadable(problem) => ConnectionError::Unreadable {
                    step: Step::Identity,
                    problem,
                },
            },
        )?;
        let app = match settings.app {
            AppChoice::Default => StoredApp::Default,
            AppChoice::Custom => StoredApp::Custom {
                client_id: settings.client_id.clone(),
                client_secret: settings.client_secret.clone(),
            },
        };
        let credentials = Credentials {
            app,
            login_url: settings.login_url.clone(),
            access_token,
            refresh_token: oauth2::TokenResponse::refresh_token(&token).cloned(),
            instance_url: token.instance_url.trim_end_matches('/').to_string(),
        };
        Ok((credentials, identity))
    }

    /// The tenant's current access token and instance URL.
    pub fn session(&self, tenant: &str) -> Result<Session, ConnectionError> {
        self.with_entry(tenant, |entry| entry.session())?
    }

    /// Call after a 401 `INVALID_SESSION_ID` with the generation of the session that got it.
    /// One refresh per tenant runs at a time: callers that arrive while it runs wait, and get
    /// its result (the new session, or its error); a caller whose generation is already stale
    /// gets the newer session at once.
    /// A refresh refused with `invalid_grant` marks the tenant as needing reconnect, on disk.
    pub fn refresh_after_401(
        &self,
        tenant: &str,
        seen_generation: u64,
    ) -> Result<Session, ConnectionError> {
        let slot = self.tenant(tenant)?;
        let failures_seen = slot.entry.lock().refresh_failures;
        let _one_at_a_time = slot.refresh.lock();
        let (credentials, identity, connected_since) = {
            let mut entry = slot.entry.lock();
            self.load(tenant, &mut entry)?;
            if entry.generation != seen_generation {
                return entry.session();
            }
            // The refresh this caller waited for failed: share its error rather than send
            // one more request to a Salesforce that just failed.
            if entry.refresh_failures != failures_seen {
                if let Some(error) = &entry.last_refresh_error {
                    return Err(error.clone());
                }
            }
            match entry.record_mut() {
                Some(TenantRecord {
                    state:
                        StoredState::Connected {
                            credentials,
                            identity,
                            connected_since,
                        },
                    ..
                }) => (
                    credentials.clone(),
                    identity.clone(),
                    connected_since.clone(),
                ),
                _ => return entry.session(),
            }
        };
        let result = match &credentials.refresh_token {
            None => Err(ConnectionError::NeedsReconnect {
                reason: "the session ended and Salesforce issued no refresh token (add the \
                         refresh_token scope to the connected app)"
                    .into(),
            }),
            Some(refresh_token) => self.refresh(&credentials, refresh_token),
        };
        let mut entry = slot.entry.lock();
        if entry.generation != seen_generation {
            // Disconnected or reconnected meanwhile: that state wins.
            return entry.session();
        }
        let now = rfc3339((self.clock)());
        let mut broke = None;
        let outcome = match result {
            Ok(token) => {
                let mut credentials = credentials;
                credentials.access_token = oauth2::TokenResponse::access_token(&token).clone();
                credentials.instance_url = token.instance_url.trim_end_matches('/').to_string();
                // Without rotation Salesforce sends no new refresh token: keep the old one.
                if let Some(rotated) = oauth2::TokenResponse::refresh_token(&token) {
                    credentials.refresh_token = Some(rotated.clone());
                }
                set_state(
                    &mut entry,
                    StoredState::Connected {
                        credentials,
                        identity,
                        connected_since,
                    },
                );
                entry.last_error = None;
                log::info!("tenant {tenant}: Salesforce session refreshed");
                Ok(())
            }
            Err(ConnectionError::NeedsReconnect { reason }) => {
                log::warn!("tenant {tenant}: the Salesforce connection broke: {reason}");
                set_state(
                    &mut entry,
                    StoredState::NeedsReconnect {
                        identity,
                        instance_url: credentials.instance_url,
                        connected_since,
                        reason: reason.clone(),
                        since: now,
                    },
                );
                broke = Some(ConnectionError::NeedsReconnect {
                    reason: reason.clone(),
                });
                entry.last_error = Some(reason);
                Ok(())
            }
            Err(e) => {
                entry.last_error = Some(e.to_string());
                entry.refresh_failures += 1;
                entry.last_refresh_error = Some(e.clone());
                Err(e)
            }
        };
        outcome?;
        if let Some(record) = entry.record_ref() {
            self.store.save(tenant, record)?;
        }
        if let Some(broken) = broke {
            // Once per break, whoever's call found it: this refresh alone moved the tenant to
            // needing reconnect, and no refresh is tried again until it reconnects.
            self.notify.notify(serde_json::json!({
                "kind": "connection_broken", "tenant_id": tenant, "reason": broken.to_string(),
            }));
        }
        entry.session()
    }

    fn refresh(
        &self,
        credentials: &Credentials,
        refresh_token: &RefreshToken,
    ) -> Result<token::SalesforceToken, ConnectionError> {
        let app = self.stored_app(credentials)?;
        let token = token::refresh(
            self.transport.as_ref(),
            &app,
            &self.redirect_url,
            refresh_token,
        )
        .map_err(|e| match e {
            TokenError::Api(ApiError::Salesforce(e))
                if e.code.as_deref() == Some("invalid_grant") =>
            {
                ConnectionError::NeedsReconnect {
                    reason: format!(
                        "Salesforce refused the refresh token (invalid_grant: {})",
                        e.message
                    ),
                }
            }
            e => token_error(Step::Refresh, e),
        })?;
        check_endpoint("the instance URL", &token.instance_url)?;
        Ok(token)
    }

    fn stored_app(&self, credentials: &Credentials) -> Result<App, ConnectionError> {
        match &credentials.app {
            StoredApp::Default => self
                .default_app
                .as_ref()
                .map(|app| App {
                    login_url: credentials.login_url.clone(),
                    ..app.clone()
                })
                .ok_or(ConnectionError::DefaultAppMissing),
            StoredApp::Custom {
                client_id,
                client_secret,
            } => Ok(App {
                client_id: client_id.clone(),
                client_secret: client_secret.clone(),
                login_url: credentials.login_url.clone(),
            }),
        }
    }

    /// Disconnects `tenant`: forgets its tokens at once, then revokes the refresh token at
    /// Salesforce. An unreachable Salesforce does not stop the disconnect: the revoke is kept
    /// (sealed like any token) and retried by [`retry_pending_revokes`](Self::retry_pending_revokes).
    pub fn disconnect(&self, tenant: &str) -> Result<Disconnected, ConnectionError> {
        let now = rfc3339((self.clock)());
        self.replace_entry(tenant, |entry| {
            let mut record = entry.record_mut().take().unwrap_or(TenantRecord {
                state: StoredState::Disconnected {
                    since: now.clone(),
                    last_org: None,
                },
                pending_revokes: Vec::new(),
            });
            if let StoredState::Connected { credentials, .. } = &record.state {
                if let Some(token) = &credentials.refresh_token {
                    record.pending_revokes.push(PendingRevoke {
                        login_url: credentials.login_url.clone(),
                        token: token.clone(),
                        since: now.clone(),
                    });
                }
            }
            if !matches!(record.state, StoredState::Disconnected { .. }) {
                record.state = StoredState::Disconnected {
                    since: now.clone(),
                    last_org: record.state.org(),
                };
            }
            *entry.record_mut() = Some(record);
            entry.generation += 1;
        })?;
        self.save(tenant)?;
        log::info!("tenant {tenant} disconnected from Salesforce");
        let revoke_error = self.revoke_pending(tenant)?;
        Ok(Disconnected {
            revoked: revoke_error.is_none(),
            revoke_error,
        })
    }

    /// Tries every revoke that a disconnect could not do. Returns the tenants whose revoke
    /// still waits, with the reason.
    pub fn retry_pending_revokes(&self) -> Result<Vec<(String, String)>, ConnectionError> {
        let mut waiting = Vec::new();
        for tenant in self.store.tenants()? {
            // One tenant's unreadable file must not hold up the others.
            match self.revoke_pending(&tenant) {
                Ok(None) => {}
                Ok(Some(error)) => waiting.push((tenant, error)),
                Err(error) => waiting.push((tenant, error.to_string())),
            }
        }
        Ok(waiting)
    }

    /// Revokes the tenant's pending tokens; `Some(why)` if any must wait for a later try.
    fn revoke_pending(&self, tenant: &str) -> Result<Option<String>, ConnectionError> {
        let pending = self.with_entry(tenant, |entry| {
            entry
                .record_ref()
                .map(|r| r.pending_revokes.clone())
                .unwrap_or_default()
        })?;
        if pending.is_empty() {
            return Ok(None);
        }
        let mut revoked: Vec<&String> = Vec::new();
        let mut failure = None;
        for revoke in &pending {
            match token::revoke(self.transport.as_ref(), &revoke.login_url, &revoke.token) {
                // 400 invalid_token: already revoked or expired, which is what we wanted.
                Ok(()) => revoked.push(revoke.token.secret()),
                Err(ApiError::Salesforce(e)) if e.status == 400 => {
                    revoked.push(revoke.token.secret())
                }
                Err(e) => failure = Some(format!("revoking the refresh token: {e}")),
            }
        }
        self.with_entry(tenant, |entry| {
            if let Some(record) = entry.record_mut() {
                // By token, not position: a disconnect meanwhile may have added one.
                record
                    .pending_revokes
                    .retain(|r| !revoked.contains(&r.token.secret()));
            }
            if let Some(error) = &failure {
                entry.last_error = Some(error.clone());
            }
        })?;
        self.save(tenant)?;
        if let Some(error) = &failure {
            log::warn!("tenant {tenant}: {error}; will retry");
        }
        Ok(failure)
    }

    /// Sends an authenticated REST call for `tenant`. `build` makes the request from the
    /// tenant's instance URL (again for the retry); the bearer token is added here, so callers
    /// never hold it. A 401 `INVALID_SESSION_ID` refreshes the session (one refresh per tenant
    /// at a time) and retries once. Every response's `Sforce-Limit-Info` is recorded for the
    /// status. Failures of the call itself are [`ConnectionError::Salesforce`] with
    /// [`Step::Call`]: see [`ConnectionError::api_error`].
    pub fn send(
        &self,
        tenant: &str,
        build: impl Fn(&str) -> Result<http::Request<Vec<u8>>, http::Error>,
    ) -> Result<http::Response<Vec<u8>>, ConnectionError> {
        let failed = |error: ApiError| ConnectionError::Salesforce {
            step: Step::Call,
            error,
        };
        let unsendable = |e: http::Error| {
            failed(TransportError::new(TransportErrorKind::InvalidRequest, e.to_string()).into())
        };
        let mut session = self.session(tenant)?;
        let mut refreshed = false;
        loop {
            let mut request = build(&session.instance_url).map_err(unsendable)?;
            let mut bearer =
                HeaderValue::try_from(format!("Bearer {}", session.access_token.secret()))
                    .map_err(|e| unsendable(e.into()))?;
            bearer.set_sensitive(true);
            request.headers_mut().insert(AUTHORIZATION, bearer);
            let response = self.transport.send(request).map_err(|e| failed(e.into()))?;
            if let Some(usage) = ApiUsage::from_headers(response.headers()) {
                self.record_api_usage(tenant, usage);
            }
            match salesforce::check(response) {
                Err(ApiError::Salesforce(e))
                    if !refreshed && e.disposition() == Disposition::RefreshSession =>
                {
                    session = self.refresh_after_401(tenant, session.generation)?;
                    refreshed = true;
                }
                result => return result.map_err(failed),
            }
        }
    }

    /// The tenant's connection as the settings page and the status call show it.
    pub fn status(&self, tenant: &str) -> Result<TenantStatus, ConnectionError> {
        self.with_entry(tenant, |entry| {
            let mut status = TenantStatus {
                tenant_id: tenant.to_string(),
                state: ConnectionState::NotConnected,
                reason: None,
                identity: None,
                instance_url: None,
                connected_since: None,
                since: None,
                last_error: entry.last_error.clone(),
                api_usage: entry.api_usage.map(|(usage, _)| usage),
                revoke_pending: false,
            };
            let Some(record) = entry.record_ref() else {
                return status;
            };
            status.revoke_pending = !record.pending_revokes.is_empty();
            match &record.state {
                StoredState::Connected {
                    credentials,
                    identity,
                    connected_since,
                } => {
                    status.state = ConnectionState::Connected;
                    status.identity = Some(identity.clone());
                    status.instance_url = Some(credentials.instance_url.clone());
                    status.connected_since = Some(connected_since.clone());
                }
                StoredState::NeedsReconnect {
                    identity,
                    instance_url,
                    connected_since,
                    reason,
                    since,
                } => {
                    status.state = ConnectionState::NeedsReconnect;
                    status.reason = Some(reason.clone());
                    status.identity = Some(identity.clone());
                    status.instance_url = Some(instance_url.clone());
                    status.connected_since = Some(connected_since.clone());
                    status.since = Some(since.clone());
                }
                StoredState::Disconnected { since, .. } => {
                    status.state = ConnectionState::Disconnected;
                    status.since = Some(since.clone());
                }
            }
            status
        })
    }

    /// Remembers the org's API usage from a response's `Sforce-Limit-Info`, for the status.
    /// Does not need the stored connection, so it works whatever state the file is in.
    pub fn record_api_usage(&self, tenant: &str, usage: ApiUsage) {
        if let Ok(slot) = self.tenant(tenant) {
            slot.entry.lock().api_usage = Some((usage, (self.clock)()));
        }
    }

    /// The org's API usage at the tenant's last call, for throttling near the daily limit.
    /// `None` once the reading is older than [`USAGE_TRUSTED`]: the org's usage falls as its
    /// 24-hour window moves, and a tenant paused on an old reading would never call again to
    /// learn it.
    pub fn api_usage(&self, tenant: &str) -> Option<ApiUsage> {
        let (usage, at) = self.tenant(tenant).ok()?.entry.lock().api_usage?;
        let age = (self.clock)().duration_since(at).unwrap_or_default();
        (age < USAGE_TRUSTED).then_some(usage)
    }

    /// Remembers a failure of the tenant's Salesforce work, for the status.
    pub fn record_error(&self, tenant: &str, error: &str) {
        if let Ok(slot) = self.tenant(tenant) {
            slot.entry.lock().last_error = Some(error.to_string());
        }
    }

    fn tenant(&self, tenant: &str) -> Result<Arc<Tenant>, ConnectionError> {
        check_tenant(tenant)?;
        Ok(self
            .tenants
            .lock()
            .entry(tenant.to_string())
            .or_insert_with(|| {
                Arc::new(Tenant {
                    refresh: Mutex::new(()),
                    entry: Mutex::new(Entry::default()),
                })
            })
            .clone())
    }

    /// Runs `f` on the tenant's entry, read from disk first if need be.
    fn with_entry<T>(
        &self,
        tenant: &str,
        f: impl FnOnce(&mut Entry) -> T,
    ) -> Result<T, ConnectionError> {
        let slot = self.tenant(tenant)?;
        let mut entry = slot.entry.lock();
        self.load(tenant, &mut entry)?;
        Ok(f(&mut entry))
    }

    fn load(&self, tenant: &str, entry: &mut Entry) -> Result<(), ConnectionError> {
        if entry.record.is_none() {
            entry.record = Some(self.store.load(tenant)?);
            entry.generation += 1;
        }
        Ok(())
    }

    /// Like [`with_entry`](Self::with_entry), for calls that replace the stored connection
    /// (connect, disconnect): an unreadable file (damaged, or sealed with another key) must
    /// not lock the tenant out, so it counts as no connection.
    fn replace_entry<T>(
        &self,
        tenant: &str,
        f: impl FnOnce(&mut Entry) -> T,
    ) -> Result<T, ConnectionError> {
        let slot = self.tenant(tenant)?;
        let mut entry = slot.entry.lock();
        if let Err(e) = self.load(tenant, &mut entry) {
            log::warn!("tenant {tenant}: {e}; it is replaced");
            entry.record = Some(None);
            entry.generation += 1;
        }
        Ok(f(&mut entry))
    }

    fn save(&self, tenant: &str) -> Result<(), ConnectionError> {
        let slot = self.tenant(tenant)?;
        let entry = slot.entry.lock();
        if let Some(record) = entry.record_ref() {
            self.store.save(tenant, record)?;
        }
        Ok(())
    }
}

impl Entry {
    fn record_mut(&mut self) -> &mut Option<TenantRecord> {
        self.record.get_or_insert(None)
    }

    fn record_ref(&self) -> Option<&TenantRecord> {
        self.record.as_ref().and_then(Option::as_ref)
    }

    fn session(&self) -> Result<Session, ConnectionError> {
        match self.record_ref().map(|r| &r.state) {
            Some(StoredState::Connected { credentials, .. }) => Ok(Session {
                access_token: credentials.access_token.clone(),
                instance_url: credentials.instance_url.clone(),
                generation: self.generation,
            }),
            Some(StoredState::NeedsReconnect { reason, .. }) => {
                Err(ConnectionError::NeedsReconnect {
                    reason: reason.clone(),
                })
            }
            _ => Err(ConnectionError::NotConnected),
        }
    }
}

fn set_state(entry: &mut Entry, state: StoredState) {
    if let Some(record) = entry.record_mut() {
        record.state = state;
    }
    entry.generation += 1;
}

fn app_of(settings: &ConnectionSettings) -> App {
    App {
        client_id: settings.client_id.clone(),
        client_secret: settings.client_secret.clone(),
        login_url: settings.login_url.clone(),
    }
}

fn check_tenant(tenant: &str) -> Result<(), ConnectionError> {
    if tenant.is_empty() {
        Err(ConnectionError::InvalidTenant("must not be empty".into()))
    } else if tenant.len() > MAX_TENANT_ID_BYTES {
        Err(ConnectionError::InvalidTenant(format!(
            "must be at most {MAX_TENANT_ID_BYTES} bytes long"
        )))
    } else {
        Ok(())
    }
}

fn check_endpoint(what: &'static str, url: &str) -> Result<(), ConnectionError> {
    if is_safe_endpoint(url) {
        Ok(())
    } else {
        Err(ConnectionError::UnsafeEndpoint {
            what,
            url: printable(url),
        })
    }
}

fn token_error(step: Step, error: TokenError) -> ConnectionError {
    match error {
        TokenError::Api(error) => ConnectionError::Salesforce { step, error },
        TokenError::Unreadable(problem) => ConnectionError::Unreadable { step, problem },
        TokenError::Endpoint(problem) => ConnectionError::BadEndpoint(problem),
    }
}

/// Text from a redirect's query, fit for a message: one line, bounded.
fn printable(text: &str) -> String {
    text.chars().filter(|c| !c.is_control()).take(200).collect()
}

fn rfc3339(at: SystemTime) -> String {
    OffsetDateTime::from(at)
        .format(&Rfc3339)
        .unwrap_or_else(|_| "unknown".to_string())
}
