//! Top-level routing: OAuth, the identity URL, the versions list, the data API (with
//! authentication, API-call accounting and injected faults), the HTML view and the admin
//! endpoints, each on the host that serves it (see `hosts.rs`).

use serde_json::Value;
use time::format_description::well_known::Rfc2822;
use time::OffsetDateTime;

use super::data::{self, Call, Ctx};
use super::error::ApiError;
use super::faults::FaultRequest;
use super::hosts::Host;
use super::html;
use super::oauth;
use super::query;
use super::shared::Shared;
use super::wire::{self, Reply, Req};

/// What the server does with a request.
pub enum Outcome {
    Reply(Reply),
    /// The write was applied; close the connection without answering.
    Drop,
}

/// Whether a request's latency fault applies (everything Salesforce would serve).
pub fn delayed(path: &str) -> bool {
    path.starts_with("/services/") || path.starts_with("/id/")
}

pub fn route(shared: &Shared, req: &Req) -> Outcome {
    let path = req.path.as_str();
    // `/services/oauth2/token/` is the token endpoint too.
    let path = match path.strip_suffix('/') {
        Some(oauth) if oauth.starts_with("/services/oauth2/") => oauth,
        _ => path,
    };
    let host = shared.hosts.of(req.header("host"));
    let reply = match (req.method.as_str(), path) {
        ("GET", "/") => Reply::raw(
            200,
            "text/html;charset=UTF-8",
            html::page(&shared.org.lock()),
        ),
        ("GET", "/__emulator/dump") => Reply::json(200, shared.dump()),
        ("POST", "/__emulator/faults") => admin_faults(shared, req),
        ("POST", "/__emulator/convert-lead") => admin_convert(shared, req),
        ("GET" | "POST", "/services/oauth2/authorize") => oauth::authorize(shared, req),
        ("POST", "/services/oauth2/token") => oauth::token(shared, req),
        ("GET" | "POST", "/services/oauth2/revoke") => oauth::revoke(shared, req),
        ("GET" | "POST", "/services/oauth2/userinfo") => oauth::userinfo(shared, req),
        ("POST", "/services/oauth2/introspect") => oauth::introspect(shared, req),
        // The id_token keys, on each host, as each host's OpenID configuration names them.
        ("GET", "/id/keys") => oauth::jwks(),
        ("GET", "/.well-known/openid-configuration") => {
            oauth::openid_configuration(shared.hosts.base(host))
        }
        // The versions list needs no session: the emulator serves it on both hosts.
        ("GET", "/services/data" | "/services/data/") => Reply::json(200, data::versions()),
        (_, p) if p.starts_with("/services/data/") && host == Host::Login => {
            Reply::error(&ApiError::url_not_reset())
        }
        (_, p) if p.starts_with("/services/data/") => return data_request(shared, req),
        // The identity URL is on the login host only (§1.1): on the instance, the 404 below.
        ("GET" | "POST", p) if p.starts_with("/id/") && host != Host::Instance => match p
            .trim_start_matches("/id/")
            .trim_end_matches('/')
            .split_once('/')
        {
            Some((org, user)) => oauth::identity(shared, req, org, user),
            None => Reply::error(&ApiError::not_found()),
        },
        _ => Reply::error(&ApiError::not_found()),
    };
    Outcome::Reply(reply)
}

fn admin_faults(shared: &Shared, req: &Req) -> Reply {
    let request: FaultRequest = match serde_json::from_slice(&req.body) {
        Ok(r) => r,
        Err(e) => return Reply::error(&ApiError::json_parse(e.to_string())),
    };
    shared.apply_faults(&request);
    Reply::json(200, serde_json::json!({"ok": true}))
}

/// `{"leadId": "00Q…"}` → `{"contactId", "accountId"}`, or the Salesforce error.
fn admin_convert(shared: &Shared, req: &Req) -> Reply {
    let lead = req
        .json()
        .ok()
        .and_then(|v| v.get("leadId").and_then(Value::as_str).map(str::to_string));
    let Some(lead) = lead else {
        return Reply::error(&ApiError::json_parse("expected {\"leadId\": \"00Q...\"}"));
    };
    match shared.convert_lead(&lead) {
        Ok((contact, account)) => Reply::json(
            200,
            serde_json::json!({"contactId": contact, "accountId": account}),
        ),
        Err(e) => Reply::error(&e),
    }
}

/// The user behind the request's access token, or the 401 Salesforce gives.
fn authenticate(shared: &Shared, req: &Req) -> Result<String, ApiError> {
    let (scheme, token) = req.authorization().ok_or_else(ApiError::session)?;
    if !wire::is_bearer(scheme) {
        return Err(ApiError::new(
            401,
            "INVALID_AUTH_HEADER",
            "INVALID_HEADER_TYPE",
        ));
    }
    shared
        .auth
        .lock()
        .session_user(token)
        .map(str::to_string)
        .ok_or_else(ApiError::session)
}

fn data_request(shared: &Shared, req: &Req) -> Outcome {
    let rest = &req.path["/services/data/".len()..];
    let (version, path) = rest.split_once('/').unwrap_or((rest, ""));
    let Some(version) = data::version(version) else {
        return Outcome::Reply(Reply::error(&ApiError::not_found()));
    };
    let reply = match answer(shared, req, version, path) {
        Ok(Answer { reply, changed }) => {
            // Only a write that changed the org can be "applied, then dropped": a refused or
            // failed one (400, 404, 300, all of a collection refused) applied nothing.
            if changed {
                shared.mark_dirty();
                if shared.faults.take_drop() {
                    return Outcome::Drop;
                }
            }
            reply
        }
        Err(e) => Reply::error(&e),
    };
    Outcome::Reply(reply.with_header("Sforce-Limit-Info", shared.usage.header()))
}

/// A data request's reply, and whether it changed the org.
struct Answer {
    reply: Reply,
    changed: bool,
}

fn answer(shared: &Shared, req: &Req, version: String, path: &str) -> Result<Answer, ApiError> {
    let user_id = authenticate(shared, req)?;
    if let Some(failure) = shared.faults.take_failure() {
        return Err(failure);
    }
    shared.usage.charge()?;
    let body: Option<Value> = match req.method.as_str() {
        "POST" | "PATCH" | "PUT" if !req.body.iter().all(u8::is_ascii_whitespace) => {
            Some(req.json()?)
        }
        _ => None,
    };
    let ctx = Ctx {
        shared,
        version,
        user_id,
        allow_save: req
            .header("sforce-duplicate-rule-header")
            .is_some_and(|h| h.replace(' ', "").eq_ignore_ascii_case("allowSave=true")),
        batch_size: query::batch_size(req.header("sforce-query-options"), shared.batch_size),
        in_composite: false,
        if_modified_since: req
            .header("if-modified-since")
            .and_then(|date| OffsetDateTime::parse(date, &Rfc2822).ok()),
    };
    let mut org = shared.org.lock();
    let before = org.changes();
    let reply = data::handle(
        &mut org,
        &ctx,
        &Call {
            method: &req.method,
            path,
            query: &req.query,
            body: body.as_ref(),
        },
    );
    Ok(Answer {
        reply,
        changed: org.changes() != before,
    })
}
