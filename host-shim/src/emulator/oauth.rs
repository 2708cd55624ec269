//! OAuth 2.0 as Salesforce runs it (salesforce-api.md §1): authorize (approves at once), token
//! (authorization_code with PKCE S256, refresh_token, and the username-password grant),
//! revoke, userinfo and the identity URL. Codes, tokens, passwords and client secrets are never
//! logged.

use std::collections::HashMap;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine as _;
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use super::shared::Shared;
use super::store::Org;
use super::wire::{param, Reply, Req};

mod oidc;
pub use oidc::{introspect, jwks};

/// A connected app: its consumer key and secret (empty for a public app, see
/// [`ClientApp::public`]), and the callback URLs it accepts exactly. With no callbacks it
/// accepts any `http://127.0.0.1:*` or `http://localhost:*` URL.
#[derive(Clone, PartialEq, Eq)]
pub struct ClientApp {
    pub id: String,
    pub secret: String,
    pub callbacks: Vec<String>,
}

/// Leaves the secret out, so that logging options never shows it.
impl std::fmt::Debug for ClientApp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientApp")
            .field("id", &self.id)
            .field("secret", &"<redacted>")
            .field("callbacks", &self.callbacks)
            .finish()
    }
}

impl ClientApp {
    /// The demo app of the `emulator` command: `demo-client` / `demo-secret`, loopback callbacks.
    pub fn demo() -> ClientApp {
        ClientApp {
            id: "demo-client".into(),
            secret: "demo-secret".into(),
            callbacks: Vec::new(),
        }
    }

    /// A public app: "Require Secret for Web Server Flow" is off (an empty `secret`), so its
    /// token requests may leave the secret out (salesforce-api.md §1.5).
    pub fn public(id: &str) -> ClientApp {
        ClientApp {
            id: id.into(),
            secret: String::new(),
            callbacks: Vec::new(),
        }
    }

    /// Whether a token request's client secret is right: the app's secret, or none for a
    /// public app, except with the username-password grant, which always needs it.
    fn authenticates(&self, secret: Option<&str>, grant_type: &str) -> bool {
        match secret.filter(|s| !s.is_empty()) {
            Some(secret) => secret == self.secret,
            None => self.secret.is_empty() && grant_type != "password",
        }
    }

    fn accepts(&self, redirect_uri: &str) -> bool {
        if !self.callbacks.is_empty() {
            return self.callbacks.iter().any(|c| c == redirect_uri);
        }
        let Some(rest) = redirect_uri.strip_prefix("http://") else {
            return false;
        };
        let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
        let (host, port) = authority.rsplit_once(':').unwrap_or((authority, ""));
        matches!(host, "127.0.0.1" | "localhost") && port.parse::<u16>().is_ok()
    }
}

struct Code {
    client_id: String,
    redirect_uri: String,
    challenge: Option<String>,
    scope: Option<String>,
    /// The authorize request's `nonce`, for the id_token.
    nonce: Option<String>,
    user_id: String,
    expires: Instant,
}

/// A refresh token's grant.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Grant {
    pub client_id: String,
    pub user_id: String,
    pub scope: String,
    /// Order of issue: the sixth grant for a user and app revokes the oldest.
    pub seq: u64,
    /// Seconds since the epoch (0 in data files older than it).
    #[serde(default)]
    pub issued_at: u64,
}

/// An access token's session.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Session {
    pub user_id: String,
    pub client_id: String,
    /// The refresh token it came from, revoked together with it.
    pub refresh_token: Option<String>,
    /// What introspection tells (empty and 0 in data files older than them).
    #[serde(default)]
    pub scope: String,
    /// Seconds since the epoch.
    #[serde(default)]
    pub issued_at: u64,
}

/// OAuth state. Grants and sessions are kept in the data file; codes are not.
pub struct OAuth {
    pub clients: Vec<ClientApp>,
    pub code_ttl: Duration,
    pub rotate_refresh_tokens: bool,
    codes: HashMap<String, Code>,
    pub grants: HashMap<String, Grant>,
    pub sessions: HashMap<String, Session>,
    pub seq: u64,
    /// Fault: the next authorizations are denied (`error=access_denied`).
    pub deny: bool,
}

/// Tokens issued by [`OAuth::issue`].
#[derive(Debug, Clone)]
pub struct Tokens {
    pub access_token: String,
    pub refresh_token: Option<String>,
}

/// The password of every User seeded without a `Password` (username-password grant).
pub const DEMO_PASSWORD: &str = "demo-password";

/// How a User's password is kept (in the data file too): its SHA-256, base64.
pub fn password_digest(password: &str) -> String {
    STANDARD.encode(Sha256::digest(password.as_bytes()))
}

/// The most grants one user may hold for one app (salesforce-api.md §1.9).
const MAX_GRANTS: usize = 5;

fn random_token(prefix: &str, len: usize) -> String {
    const ALPHABET: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz._";
    let tail: String = (0..len)
        .map(|_| ALPHABET[fastrand::usize(..ALPHABET.len())] as char)
        .collect();
    format!("{prefix}{tail}")
}

fn millis_now() -> u128 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis())
        .unwrap_or_default()
}

fn oauth_error(error: &str, description: &str) -> Reply {
    Reply::json(
        400,
        json!({"error": error, "error_description": description}),
    )
    .with_header("Cache-Control", "no-store")
}

/// A token request refused: `error` and `error_description` (salesforce-api.md §1.7).
struct Refusal(&'static str, &'static str);

/// The token endpoint's reply format: the `format` parameter, else the `Accept` header, else
/// JSON (salesforce-api.md §1.3); refusals come in it too.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum TokenFormat {
    Json,
    Urlencoded,
    Xml,
}

impl TokenFormat {
    fn of(req: &Req, form: &[(String, String)]) -> TokenFormat {
        if let Some(format) = param(form, "format").or_else(|| req.param("format")) {
            return match format {
                "urlencoded" => TokenFormat::Urlencoded,
                "xml" => TokenFormat::Xml,
                _ => TokenFormat::Json,
            };
        }
        let accept = req
            .header("accept")
            .unwrap_or_default()
            .to_ascii_lowercase();
        accept
            .split(',')
            .find_map(
                |media| match media.split(';').next().unwrap_or_default().trim() {
                    "application/json" => Some(TokenFormat::Json),
                    "application/x-www-form-urlencoded" => Some(TokenFormat::Urlencoded),
                    "application/xml" => Some(TokenFormat::Xml),
                    _ => None,
                },
            )
            .unwrap_or(TokenFormat::Json)
    }

    /// `body`, a flat object of strings, in this format.
    fn reply(self, status: u16, body: &Value) -> Reply {
        let pairs = body.as_object().into_iter().flatten().map(|(k, v)| {
            let v = v.as_str().map_or_else(|| v.to_string(), str::to_string);
            (k.as_str(), v)
        });
        match self {
            TokenFormat::Json => Reply::json(status, body.clone()),
            TokenFormat::Urlencoded => {
                let mut form = form_urlencoded::Serializer::new(String::new());
                for (k, v) in pairs {
                    form.append_pair(k, &v);
                }
                Reply::raw(
                    status,
                    "application/x-www-form-urlencoded;charset=UTF-8",
                    form.finish(),
                )
            }
            // The `<OAuth>` root is as Salesforce's older guides show it [unverified today].
            TokenFormat::Xml => {
                let elements: String = pairs
                    .map(|(k, v)| format!("<{k}>{}</{k}>", xml_escape(&v)))
                    .collect();
                Reply::raw(
                    status,
                    "application/xml;charset=UTF-8",
                    format!("<?xml version=\"1.0\" encoding=\"UTF-8\"?><OAuth>{elements}</OAuth>"),
                )
            }
        }
    }
}

fn xml_escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&apos;")
}

/// The 400 page Salesforce shows when it cannot trust the redirect URI.
fn error_page(error: &str, description: &str) -> Reply {
    let body: String = form_urlencoded::Serializer::new(String::new())
        .append_pair("error", error)
        .append_pair("error_description", description)
        .finish()
        // Salesforce's page spells spaces %20 (`redirect_uri%20must%20match%20configuration`).
        .replace('+', "%20");
    Reply::raw(400, "text/plain;charset=UTF-8", body)
}

fn redirect(uri: &str, pairs: &[(&str, &str)]) -> Reply {
    let mut query = form_urlencoded::Serializer::new(String::new());
    for (k, v) in pairs {
        query.append_pair(k, v);
    }
    let sep = if uri.contains('?') { '&' } else { '?' };
    Reply::empty(302).with_header("Location", format!("{uri}{sep}{}", query.finish()))
}

impl OAuth {
    pub fn new(clients: Vec<ClientApp>, code_ttl: Duration, rotate_refresh_tokens: bool) -> OAuth {
        let clients = if clients.is_empty() {
            vec![ClientApp::demo()]
        } else {
            clients
        };
        OAuth {
            clients,
            code_ttl,
            rotate_refresh_tokens,
            codes: HashMap::new(),
            grants: HashMap::new(),
            sessions: HashMap::new(),
            seq: 0,
            deny: false,
        }
    }

    fn client(&self, id: &str) -> Option<&ClientApp> {
        self.clients.iter().find(|c| c.id == id)
    }

    /// The user behind an access token.
    pub fn session_user(&self, access_token: &str) -> Option<&str> {
        self.sessions.get(access_token).map(|s| s.user_id.as_str())
    }

    /// Issues an access token (and, when `refresh`, a refresh token) without the browser step.
    pub fn issue(
        &mut self,
        org_id: &str,
        client_id: &str,
        user_id: &str,
        scope: &str,
        refresh: bool,
    ) -> Tokens {
        let refresh_token = refresh.then(|| {
            let token = random_token("5Aep861", 80);
            self.seq += 1;
            self.grants.insert(
                token.clone(),
                Grant {
                    client_id: client_id.into(),
                    user_id: user_id.into(),
                    scope: scope.into(),
                    seq: self.seq,
                    issued_at: oidc::seconds_now(),
                },
            );
            self.enforce_grant_cap(client_id, user_id);
            token
        });
        let access_token =
            self.new_session(org_id, client_id, user_id, scope, refresh_token.clone());
        Tokens {
            access_token,
            refresh_token,
        }
    }

    fn new_session(
        &mut self,
        org_id: &str,
        client_id: &str,
        user_id: &str,
        scope: &str,
        refresh_token: Option<String>,
    ) -> String {
        let token = random_token(&format!("{}!", &org_id[..15]), 96);
        self.sessions.insert(
            token.clone(),
            Session {
                user_id: user_id.into(),
                client_id: client_id.into(),
                refresh_token,
                scope: scope.into(),
                issued_at: oidc::seconds_now(),
            },
        );
        token
    }

    fn enforce_grant_cap(&mut self, client_id: &str, user_id: &str) {
        let mut mine: Vec<(u64, String)> = self
            .grants
            .iter()
            .filter(|(_, g)| g.client_id == client_id && g.user_id == user_id)
            .map(|(t, g)| (g.seq, t.clone()))
            .collect();
        mine.sort();
        let excess = mine.len().saturating_sub(MAX_GRANTS);
        for (_, token) in mine.into_iter().take(excess) {
            self.revoke_refresh(&token);
        }
    }

    fn revoke_refresh(&mut self, token: &str) {
        self.grants.remove(token);
        self.sessions
            .retain(|_, s| s.refresh_token.as_deref() != Some(token));
    }

    /// Fault: every access token stops working (401 INVALID_SESSION_ID).
    pub fn expire_sessions(&mut self) {
        self.sessions.clear();
    }

    /// Fault: every refresh token is revoked (and its sessions with it).
    pub fn revoke_all(&mut self) {
        self.grants.clear();
        self.sessions.clear();
    }
}

/// `GET /services/oauth2/authorize`.
pub fn authorize(shared: &Shared, req: &Req) -> Reply {
    let mut pairs = req.query.clone();
    if req.method == "POST" {
        pairs.extend(req.form());
    }
    let get = |k: &str| param(&pairs, k);
    // The org's lock before the OAuth state's (lock order: see `Shared`).
    let user_id = shared.org.lock().login_user.clone();
    let mut auth = shared.auth.lock();
    let Some(client) = get("client_id").and_then(|id| auth.client(id)).cloned() else {
        return error_page("invalid_client_id", "client identifier invalid");
    };
    let Some(redirect_uri) = get("redirect_uri") else {
        return error_page("redirect_uri_missing", "redirect_uri must be provided");
    };
    if !client.accepts(redirect_uri) {
        return error_page(
            "redirect_uri_mismatch",
            "redirect_uri must match configuration",
        );
    }
    let state = get("state");
    let fail = |error: &str, description: &str| {
        let mut out = vec![("error", error), ("error_description", description)];
        out.extend(state.map(|s| ("state", s)));
        redirect(redirect_uri, &out)
    };
    if get("response_type") != Some("code") {
        return fail("unsupported_response_type", "response type not supported");
    }
    if get("code_challenge_method").is_some_and(|m| m != "S256") {
        return fail("invalid_request", "invalid code_challenge_method");
    }
    if auth.deny {
        return fail("access_denied", "end-user denied authorization");
    }
    let code = random_token("aPrx", 60);
    auth.codes.retain(|_, c| c.expires > Instant::now());
    let expires = Instant::now() + auth.code_ttl;
    auth.codes.insert(
        code.clone(),
        Code {
            client_id: client.id,
            redirect_uri: redirect_uri.to_string(),
            challenge: get("code_challenge").map(str::to_string),
            scope: get("scope").map(str::to_string),
            nonce: get("nonce").map(str::to_string),
            user_id,
            expires,
        },
    );
    let mut out = vec![("code", code.as_str())];
    out.extend(state.map(|s| ("state", s)));
    redirect(redirect_uri, &out)
}

/// The client's id and secret from `Authorization: Basic` or the form body.
fn client_credentials(req: &Req, form: &[(String, String)]) -> (Option<String>, Option<String>) {
    let basic = req
        .authorization()
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("Basic"))
        .and_then(|(_, b)| STANDARD.decode(b).ok())
        .and_then(|b| String::from_utf8(b).ok())
        .and_then(|s| {
            s.split_once(':')
                .map(|(id, secret)| (decode_component(id), decode_component(secret)))
        });
    match basic {
        Some((id, secret)) => (Some(id), Some(secret)),
        None => (
            param(form, "client_id").map(str::to_string),
            param(form, "client_secret").map(str::to_string),
        ),
    }
}

/// RFC 6749 §2.3.1 form-encodes the Basic credentials.
fn decode_component(s: &str) -> String {
    form_urlencoded::parse(format!("x={s}").as_bytes())
        .next()
        .map(|(_, v)| v.into_owned())
        .unwrap_or_default()
}

/// What a grant gives.
struct Granted {
    user_id: String,
    /// The scope to report (the username-password grant reports none).
    scope: Option<String>,
    tokens: Tokens,
    /// A code grant with the `openid` scope: an id_token goes with the tokens.
    openid: Option<OpenId>,
}

/// What the authorize request asked of the id_token.
struct OpenId {
    nonce: Option<String>,
}

/// `authorization_code`: the one-time code, its app and redirect URI, and PKCE.
fn code_grant(
    auth: &mut OAuth,
    org_id: &str,
    client: &ClientApp,
    form: &[(String, String)],
) -> Result<Granted, Refusal> {
    let get = |k: &str| param(form, k);
    let Some(code) = get("code").and_then(|c| auth.codes.remove(c)) else {
        return Err(Refusal("invalid_grant", "invalid authorization code"));
    };
    if code.expires <= Instant::now() {
        return Err(Refusal("invalid_grant", "expired authorization code"));
    }
    if code.client_id != client.id {
        return Err(Refusal("invalid_grant", "authentication failure"));
    }
    if get("redirect_uri") != Some(code.redirect_uri.as_str()) {
        return Err(Refusal(
            "invalid_grant",
            "redirect_uri must match configuration",
        ));
    }
    if let Some(challenge) = &code.challenge {
        let Some(verifier) = get("code_verifier") else {
            return Err(Refusal("invalid_grant", "authentication failure"));
        };
        if URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes())) != *challenge {
            return Err(Refusal("invalid_request", "invalid code verifier"));
        }
    }
    let scope = code
        .scope
        .unwrap_or_else(|| "api refresh_token id".to_string());
    let wants_refresh = scope
        .split(' ')
        .any(|s| matches!(s, "refresh_token" | "offline_access" | "full"));
    let tokens = auth.issue(org_id, &client.id, &code.user_id, &scope, wants_refresh);
    let openid = scope
        .split(' ')
        .any(|s| s == "openid")
        .then_some(OpenId { nonce: code.nonce });
    Ok(Granted {
        user_id: code.user_id,
        scope: Some(scope),
        tokens,
        openid,
    })
}

/// `refresh_token`: a new access token for a live grant of this app (and a new refresh
/// token when rotating).
fn refresh_grant(
    auth: &mut OAuth,
    org_id: &str,
    client: &ClientApp,
    form: &[(String, String)],
) -> Result<Granted, Refusal> {
    let presented = param(form, "refresh_token").unwrap_or_default().to_string();
    let Some(grant) = auth
        .grants
        .get(&presented)
        .filter(|g| g.client_id == client.id)
        .cloned()
    else {
        return Err(Refusal("invalid_grant", "expired access/refresh token"));
    };
    let tokens = if auth.rotate_refresh_tokens {
        auth.revoke_refresh(&presented);
        auth.issue(org_id, &client.id, &grant.user_id, &grant.scope, true)
    } else {
        let access_token = auth.new_session(
            org_id,
            &client.id,
            &grant.user_id,
            &grant.scope,
            Some(presented),
        );
        Tokens {
            access_token,
            refresh_token: None,
        }
    };
    // The refresh answers Salesforce shows carry no id_token, even with `openid` (§1.4).
    Ok(Granted {
        user_id: grant.user_id,
        scope: Some(grant.scope),
        tokens,
        openid: None,
    })
}

/// The active User whose `Username` (any case) and password these are, for the
/// username-password grant. A User has its seeded `Password`, or [`DEMO_PASSWORD`]. No
/// security token is asked for, as from a trusted IP range.
fn password_user(org: &Org, username: Option<&str>, password: Option<&str>) -> Option<String> {
    let (username, password) = (username?, password?);
    let digest = password_digest(password);
    org.find("User", "Username", username)
        .into_iter()
        .find(|id| {
            let active = org
                .live(id)
                .is_some_and(|(_, user)| user.get("IsActive") != Some(&Value::Bool(false)));
            let expected = org
                .passwords
                .get(id)
                .cloned()
                .unwrap_or_else(|| password_digest(DEMO_PASSWORD));
            active && expected == digest
        })
}

/// `POST /services/oauth2/token`: the `authorization_code`, `refresh_token` and `password`
/// grants.
pub fn token(shared: &Shared, req: &Req) -> Reply {
    let form = req.form();
    let (status, body) = match grant(shared, req, &form) {
        Ok(body) => (200, body),
        Err(Refusal(error, description)) => (
            400,
            json!({"error": error, "error_description": description}),
        ),
    };
    TokenFormat::of(req, &form)
        .reply(status, &body)
        .with_header("Cache-Control", "no-store")
}

/// A token request's answer, or why it is refused.
fn grant(shared: &Shared, req: &Req, form: &[(String, String)]) -> Result<Value, Refusal> {
    let get = |k: &str| param(form, k);
    let (client_id, secret) = client_credentials(req, form);
    let grant_type = match get("grant_type") {
        None => return Err(Refusal("invalid_request", "grant type is missing")),
        Some(g @ ("authorization_code" | "refresh_token" | "password")) => g,
        Some(_) => {
            return Err(Refusal(
                "unsupported_grant_type",
                "grant type not supported",
            ))
        }
    };
    // The org's lock before the OAuth state's (lock order: see `Shared`).
    let (org_id, password_user) = {
        let org = shared.org.lock();
        let user = (grant_type == "password")
            .then(|| password_user(&org, get("username"), get("password")))
            .flatten();
        (org.org_id.clone(), user)
    };
    let mut auth = shared.auth.lock();
    let Some(client) = client_id.as_deref().and_then(|id| auth.client(id)).cloned() else {
        return Err(Refusal("invalid_client_id", "client identifier invalid"));
    };
    if !client.authenticates(secret.as_deref(), grant_type) {
        return Err(Refusal("invalid_client", "invalid client credentials"));
    }
    let granted = match grant_type {
        "authorization_code" => code_grant(&mut auth, &org_id, &client, form),
        "refresh_token" => refresh_grant(&mut auth, &org_id, &client, form),
        _ => password_user
            .map(|user| {
                // Salesforce's username-password flow gives no refresh token.
                let tokens = auth.issue(&org_id, &client.id, &user, "api", false);
                Granted {
                    user_id: user,
                    scope: None,
                    tokens,
                    openid: None,
                }
            })
            .ok_or(Refusal("invalid_grant", "authentication failure")),
    };
    let Granted {
        user_id,
        scope,
        tokens,
        openid,
    } = granted?;
    drop(auth);
    shared.mark_dirty();
    let id = shared.hosts.identity_url(&org_id, &user_id);
    let issued_at = millis_now().to_string();
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(client.secret.as_bytes())
        .expect("HMAC takes any key length");
    mac.update(id.as_bytes());
    mac.update(issued_at.as_bytes());
    let signature = STANDARD.encode(mac.finalize().into_bytes());
    let mut body = json!({"access_token": &tokens.access_token});
    if let Some(refresh) = tokens.refresh_token {
        body["refresh_token"] = json!(refresh);
    }
    body["signature"] = json!(signature);
    if let Some(scope) = scope {
        body["scope"] = json!(scope);
    }
    if let Some(openid) = openid {
        let issuer = shared.hosts.base(shared.hosts.of(req.header("host")));
        body["id_token"] = json!(oidc::id_token(&oidc::IdClaims {
            issuer,
            identity_url: &id,
            client_id: &client.id,
            access_token: &tokens.access_token,
            nonce: openid.nonce.as_deref(),
        }));
    }
    for (k, v) in [
        ("instance_url", shared.hosts.instance().to_string()),
        ("id", id),
        ("token_type", "Bearer".to_string()),
        ("issued_at", issued_at),
    ] {
        body[k] = json!(v);
    }
    Ok(body)
}

/// `POST /services/oauth2/revoke` (`token=` in the form or the query).
pub fn revoke(shared: &Shared, req: &Req) -> Reply {
    let form = req.form();
    let token = param(&form, "token")
        .or_else(|| req.param("token"))
        .unwrap_or_default()
        .to_string();
    let mut auth = shared.auth.lock();
    if auth.grants.contains_key(&token) {
        auth.revoke_refresh(&token);
    } else if auth.sessions.remove(&token).is_none() {
        return oauth_error("invalid_token", "Token was invalid");
    }
    drop(auth);
    shared.mark_dirty();
    Reply::empty(200)
}

/// The user behind a request's `Authorization: Bearer` (or `?oauth_token=`) for the identity
/// endpoints, which answer a plain 403 `Bad_OAuth_Token` otherwise.
fn identity_user(shared: &Shared, req: &Req) -> Result<String, Reply> {
    let token = req
        .bearer_token()
        .or_else(|| req.param("oauth_token"))
        .unwrap_or_default();
    shared
        .auth
        .lock()
        .session_user(token)
        .map(str::to_string)
        .ok_or_else(|| Reply::raw(403, "text/plain;charset=UTF-8", "Bad_OAuth_Token"))
}

/// The identity answers' `urls`: on the instance (`rest` is where the data API lives).
fn urls(base: &str, org_id: &str, user_id: &str, version: &str) -> Value {
    let data = |p: &str| format!("{base}/services/data/v{version}/{p}");
    json!({
        "enterprise": format!("{base}/services/Soap/c/{version}/{}", &org_id[..15]),
        "metadata": format!("{base}/services/Soap/m/{version}/{}", &org_id[..15]),
        "partner": format!("{base}/services/Soap/u/{version}/{}", &org_id[..15]),
        "rest": data(""),
        "sobjects": data("sobjects/"),
        "search": data("search/"),
        "query": data("query/"),
        "recent": data("recent/"),
        "tooling_soap": format!("{base}/services/Soap/T/{version}/{}", &org_id[..15]),
        "tooling_rest": data("tooling/"),
        "profile": format!("{base}/{user_id}"),
        "feeds": data("chatter/feeds"),
        "groups": data("chatter/groups"),
        "users": data("chatter/users"),
        "feed_items": data("chatter/feed-items"),
        "feed_elements": data("chatter/feed-elements"),
        "custom_domain": base,
    })
}

/// The logged-in user's record fields the identity answers need.
struct Person {
    username: String,
    email: String,
    first: Value,
    last: Value,
    name: String,
    active: bool,
}

fn person(shared: &Shared, user_id: &str) -> (String, Person) {
    let org = shared.org.lock();
    let user = org
        .live(user_id)
        .map(|(_, r)| r.clone())
        .unwrap_or_default();
    let text = |f: &str| {
        user.get(f)
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string()
    };
    let person = Person {
        username: text("Username"),
        email: text("Email"),
        first: user.get("FirstName").cloned().unwrap_or(Value::Null),
        last: user.get("LastName").cloned().unwrap_or(Value::Null),
        name: text("Name"),
        active: user.get("IsActive") != Some(&Value::Bool(false)),
    };
    (org.org_id.clone(), person)
}

/// `GET /services/oauth2/userinfo`.
pub fn userinfo(shared: &Shared, req: &Req) -> Reply {
    let user_id = match identity_user(shared, req) {
        Ok(u) => u,
        Err(reply) => return reply,
    };
    let (org_id, p) = person(shared, &user_id);
    let base = shared.hosts.instance();
    let version = req.param("version").unwrap_or("{version}");
    Reply::json(
        200,
        json!({
            "sub": shared.hosts.identity_url(&org_id, &user_id),
            "user_id": user_id, "organization_id": org_id,
            "preferred_username": p.username, "nickname": p.username.split('@').next().unwrap_or_default(),
            "name": p.name, "email": p.email, "email_verified": true,
            "given_name": p.first, "family_name": p.last, "zoneinfo": "America/Los_Angeles",
            "photos": {"picture": format!("{base}/profilephoto/005/F"), "thumbnail": format!("{base}/profilephoto/005/T")},
            "profile": format!("{base}/{user_id}"), "picture": format!("{base}/profilephoto/005/F"),
            "address": {"country": "US"}, "is_salesforce_integration_user": false,
            "urls": urls(base, &org_id, &user_id, version),
            "active": p.active, "user_type": "STANDARD", "language": "en_US", "locale": "en_US",
            "utcOffset": -28800000, "updated_at": "2024-01-01T00:00:00Z", "is_app_installed": true,
        }),
    )
}

/// `GET /id/{orgId}/{userId}`.
pub fn identity(shared: &Shared, req: &Req, org_id: &str, user_id: &str) -> Reply {
    let token_user = match identity_user(shared, req) {
        Ok(u) => u,
        Err(reply) => return reply,
    };
    let (real_org, p) = person(shared, &token_user);
    if super::ids::normalize(user_id).as_deref() != Some(token_user.as_str())
        || super::ids::normalize(org_id).as_deref() != Some(real_org.as_str())
    {
        return Reply::raw(403, "text/plain;charset=UTF-8", "Bad_Id");
    }
    let base = shared.hosts.instance();
    let version = req.param("version").unwrap_or("{version}");
    Reply::json(
        200,
        json!({
            "id": shared.hosts.identity_url(&real_org, &token_user),
            "asserted_user": true, "user_id": token_user, "organization_id": real_org,
            "username": p.username, "nick_name": p.username.split('@').next().unwrap_or_default(),
            "display_name": p.name, "email": p.email, "email_verified": true,
            "first_name": p.first, "last_name": p.last, "timezone": "America/Los_Angeles",
            "photos": {"picture": format!("{base}/profilephoto/005/F"), "thumbnail": format!("{base}/profilephoto/005/T")},
            "addr_street": null, "addr_city": null, "addr_state": null, "addr_country": "US", "addr_zip": null,
            "mobile_phone": null, "mobile_phone_verified": false, "is_lightning_login_user": false,
            "status": {"created_date": null, "body": null},
            "urls": urls(base, &real_org, &token_user, version),
            "active": p.active, "user_type": "STANDARD", "language": "en_US", "locale": "en_US",
            "utcOffset": -28800000, "last_modified_date": "2024-01-01T00:00:00.000+0000", "is_app_installed": true,
        }),
    )
}

/// `GET /.well-known/openid-configuration`: the keys Salesforce publishes, on the host asked
/// (`base`), as a My Domain answers with its own endpoints. It names only what the emulator
/// serves: Salesforce's also name dynamic client registration and single logout
/// (`registration_endpoint`, `end_session_endpoint`), which the emulator lacks.
pub fn openid_configuration(base: &str) -> Reply {
    Reply::json(
        200,
        json!({
            "frontchannel_logout_supported": false,
            "frontchannel_logout_session_supported": false,
            "issuer": base,
            "authorization_endpoint": format!("{base}/services/oauth2/authorize"),
            "token_endpoint": format!("{base}/services/oauth2/token"),
            "revocation_endpoint": format!("{base}/services/oauth2/revoke"),
            "userinfo_endpoint": format!("{base}/services/oauth2/userinfo"),
            "jwks_uri": format!("{base}/id/keys"),
            "introspection_endpoint": format!("{base}/services/oauth2/introspect"),
            "scopes_supported": ["id", "api", "email", "openid", "profile", "refresh_token", "offline_access", "full", "web"],
            "response_types_supported": ["code"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "display_values_supported": ["page", "popup", "touch"],
            "token_endpoint_auth_methods_supported": ["client_secret_post", "client_secret_basic"],
            "claims_supported": CLAIMS,
        }),
    )
}

const CLAIMS: &[&str] = &[
    "active",
    "address",
    "email",
    "email_verified",
    "family_name",
    "given_name",
    "is_app_installed",
    "language",
    "locale",
    "name",
    "nickname",
    "organization_id",
    "phone_number",
    "phone_number_verified",
    "photos",
    "picture",
    "preferred_username",
    "profile",
    "sub",
    "updated_at",
    "urls",
    "user_id",
    "user_type",
    "zoneinfo",
];
