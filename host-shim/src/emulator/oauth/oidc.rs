//! OpenID Connect beyond the token endpoint: the `id_token` of a code grant with the `openid`
//! scope (an RS256 JWT), the key set that verifies it (`/id/keys`), and token introspection
//! (`/services/oauth2/introspect`, RFC 7662 as Salesforce answers it).

use std::sync::OnceLock;

use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine as _;
use ring::rand::SystemRandom;
use ring::rsa::PublicKeyComponents;
use ring::signature::{RsaKeyPair, RSA_PKCS1_SHA256};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use super::{client_credentials, millis_now};
use crate::emulator::shared::Shared;
use crate::emulator::wire::{param, Reply, Req};

/// A public test key, not a secret (see the file's first lines): fixed, because making an RSA
/// key at start is slow in debug builds.
const TEST_KEY_PEM: &str = include_str!("id_token_test_key.pem");

/// The `kid` of the one key in `/id/keys`.
pub const KEY_ID: &str = "emulator-test-key";

/// How long an access token lives, as introspection tells it: a default org's two-hour session
/// timeout. The emulator's tokens last until revoked or expired by a fault.
const SESSION_SECONDS: u64 = 2 * 60 * 60;

/// How long an id_token is valid [unverified: Salesforce's lifetime is not in the spec].
const ID_TOKEN_SECONDS: u64 = 5 * 60;

fn key() -> &'static RsaKeyPair {
    static KEY: OnceLock<RsaKeyPair> = OnceLock::new();
    KEY.get_or_init(|| {
        let body: String = TEST_KEY_PEM
            .lines()
            .skip_while(|l| !l.starts_with("-----BEGIN PRIVATE KEY-----"))
            .skip(1)
            .take_while(|l| !l.starts_with("-----END"))
            .collect();
        let der = STANDARD
            .decode(body)
            .expect("id_token_test_key.pem holds base64");
        RsaKeyPair::from_pkcs8(&der).expect("id_token_test_key.pem holds an RSA PKCS#8 key")
    })
}

/// Seconds since the epoch: tokens' issue times, and JWT times.
pub(super) fn seconds_now() -> u64 {
    (millis_now() / 1000) as u64
}

fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

/// `GET /id/keys`: the JSON Web Key Set that verifies id_tokens.
pub fn jwks() -> Reply {
    let public = PublicKeyComponents::<Vec<u8>>::from(key().public());
    Reply::json(
        200,
        json!({"keys": [{"kty": "RSA", "n": b64(&public.n), "e": b64(&public.e),
                         "alg": "RS256", "use": "sig", "kid": KEY_ID}]}),
    )
}

/// What an id_token says.
pub struct IdClaims<'a> {
    /// The base URL of the host that issued it (`https://login.salesforce.com`, or a My Domain).
    pub issuer: &'a str,
    /// The identity URL, Salesforce's `sub`.
    pub identity_url: &'a str,
    pub client_id: &'a str,
    /// The access token issued with it, for `at_hash`.
    pub access_token: &'a str,
    /// The authorize request's `nonce`, echoed.
    pub nonce: Option<&'a str>,
}

/// An RS256 JWT with Salesforce's core claims: `at_hash`, `sub`, `aud`, `iss`, `exp`, `iat`
/// (and `nonce` when the authorize request sent one).
pub fn id_token(claims: &IdClaims) -> String {
    let now = seconds_now();
    let header = json!({"kid": KEY_ID, "typ": "JWT", "alg": "RS256"});
    // OpenID Connect Core §3.1.3.6: the left half of the access token's SHA-256.
    let at_hash = b64(&Sha256::digest(claims.access_token.as_bytes())[..16]);
    let mut payload = json!({
        "at_hash": at_hash, "sub": claims.identity_url, "aud": claims.client_id,
        "iss": claims.issuer, "exp": now + ID_TOKEN_SECONDS, "iat": now,
    });
    if let Some(nonce) = claims.nonce {
        payload["nonce"] = json!(nonce);
    }
    let input = format!(
        "{}.{}",
        b64(header.to_string().as_bytes()),
        b64(payload.to_string().as_bytes())
    );
    let key = key();
    let mut signature = vec![0; key.public().modulus_len()];
    key.sign(
        &RSA_PKCS1_SHA256,
        &SystemRandom::new(),
        input.as_bytes(),
        &mut signature,
    )
    .expect("RSA signing with a valid key and buffer succeeds");
    format!("{input}.{}", b64(&signature))
}

/// `POST /services/oauth2/introspect` (`token`, optional `token_type_hint`, the client's id
/// and secret in the form or by Basic): what the token is, for the app it was issued to, or
/// `{"active": false}`.
pub fn introspect(shared: &Shared, req: &Req) -> Reply {
    let form = req.form();
    let (client_id, secret) = client_credentials(req, &form);
    let token = param(&form, "token").unwrap_or_default();
    // The org's lock before the OAuth state's (lock order: see `Shared`).
    let org = shared.org.lock();
    let auth = shared.auth.lock();
    let client = client_id
        .as_deref()
        .and_then(|id| auth.client(id))
        .filter(|c| c.authenticates(secret.as_deref(), "introspect"));
    let Some(client) = client else {
        // RFC 7662 §2.3 answers a failed client authentication with 401 [unverified for
        // Salesforce's status and wording].
        return Reply::json(
            401,
            json!({"error": "invalid_client", "error_description": "invalid client credentials"}),
        )
        .with_header("Cache-Control", "no-store");
    };
    let found = match (auth.sessions.get(token), auth.grants.get(token)) {
        (Some(s), _) => Some((
            "access_token",
            &s.user_id,
            &s.client_id,
            &s.scope,
            s.issued_at,
        )),
        (None, Some(g)) => Some((
            "refresh_token",
            &g.user_id,
            &g.client_id,
            &g.scope,
            g.issued_at,
        )),
        (None, None) => None,
    };
    let body = match found.filter(|(_, _, owner, _, _)| **owner == client.id) {
        None => json!({"active": false}),
        Some((kind, user_id, client_id, scope, issued_at)) => {
            let username = org
                .live(user_id)
                .and_then(|(_, user)| user.get("Username").cloned())
                .unwrap_or(Value::Null);
            let mut body = json!({
                "active": true, "scope": scope, "client_id": client_id, "username": username,
                "sub": shared.hosts.identity_url(&org.org_id, user_id), "token_type": kind,
            });
            // A refresh token lasts until revoked (the default policy): no `exp`.
            if kind == "access_token" {
                body["exp"] = json!(issued_at + SESSION_SECONDS);
            }
            body["iat"] = json!(issued_at);
            body["nbf"] = json!(issued_at);
            body
        }
    };
    Reply::json(200, body).with_header("Cache-Control", "no-store")
}
