//! OAuth: authorize, token grants, PKCE, revoke, userinfo, identity.

use std::time::Duration;

use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine as _;
use hmac::{Hmac, Mac};
use serde_json::json;
use sha2::{Digest, Sha256};

use super::{agent, assert_shape, fixture, raw, Org, Resp, V};
use crate::emulator::{ClientApp, Emulator, EmulatorOptions};

pub(super) const CALLBACK: &str = "http://127.0.0.1:8765/callback";

fn form(pairs: &[(&str, &str)]) -> Vec<u8> {
    let mut s = form_urlencoded::Serializer::new(String::new());
    for (k, v) in pairs {
        s.append_pair(k, v);
    }
    s.finish().into_bytes()
}

pub(super) fn post_form(
    emulator: &Emulator,
    path: &str,
    pairs: &[(&str, &str)],
    extra: &[(&str, String)],
) -> Resp {
    let mut headers = vec![(
        "Content-Type",
        "application/x-www-form-urlencoded".to_string(),
    )];
    headers.extend(extra.iter().cloned());
    raw(
        &agent(),
        "POST",
        &format!("{}{path}", emulator.base_url()),
        Some(form(pairs)),
        &headers,
    )
}

pub(super) fn authorize(emulator: &Emulator, params: &[(&str, &str)]) -> Resp {
    let query = String::from_utf8(form(params)).expect("utf8");
    raw(
        &agent(),
        "GET",
        &format!("{}/services/oauth2/authorize?{query}", emulator.base_url()),
        None,
        &[],
    )
}

/// The query parameters of a redirect's Location.
pub(super) fn redirect_params(r: &Resp) -> Vec<(String, String)> {
    assert_eq!(r.status, 302, "{}", r.body);
    let location = r.header("location").expect("Location");
    let (_, query) = location.split_once('?').expect("query");
    form_urlencoded::parse(query.as_bytes())
        .into_owned()
        .collect()
}

pub(super) fn param<'a>(pairs: &'a [(String, String)], name: &str) -> Option<&'a str> {
    pairs
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

pub(super) fn code_for(emulator: &Emulator, extra: &[(&str, &str)]) -> String {
    let mut params = vec![
        ("response_type", "code"),
        ("client_id", "demo-client"),
        ("redirect_uri", CALLBACK),
        ("state", "s1"),
    ];
    params.extend_from_slice(extra);
    let pairs = redirect_params(&authorize(emulator, &params));
    assert_eq!(param(&pairs, "state"), Some("s1"));
    param(&pairs, "code").expect("code").to_string()
}

pub(super) fn exchange(emulator: &Emulator, code: &str, extra: &[(&str, &str)]) -> Resp {
    exchange_at(emulator, "/services/oauth2/token", code, extra)
}

/// The demo app's code exchange, posted to `path`.
fn exchange_at(emulator: &Emulator, path: &str, code: &str, extra: &[(&str, &str)]) -> Resp {
    let mut pairs = vec![
        ("grant_type", "authorization_code"),
        ("code", code),
        ("client_id", "demo-client"),
        ("client_secret", "demo-secret"),
        ("redirect_uri", CALLBACK),
    ];
    pairs.extend_from_slice(extra);
    post_form(emulator, path, &pairs, &[])
}

/// An object's keys, in order.
pub(super) fn keys(object: &serde_json::Value) -> Vec<&str> {
    object
        .as_object()
        .expect("object")
        .keys()
        .map(String::as_str)
        .collect()
}

fn assert_oauth_error(r: &Resp, error: &str, description: &str) {
    assert_eq!(r.status, 400, "{}", r.body);
    assert_eq!(
        r.json(),
        json!({"error": error, "error_description": description})
    );
}

#[test]
fn web_server_flow_gives_salesforce_token_responses() {
    let emulator = Emulator::start(EmulatorOptions::default()).expect("start");
    let code = code_for(&emulator, &[("scope", "api refresh_token id")]);
    let r = exchange(&emulator, &code, &[]);
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(
        r.header("content-type"),
        Some("application/json;charset=UTF-8")
    );
    assert_eq!(r.header("cache-control"), Some("no-store"));
    let token = r.json();
    assert_shape(
        &token,
        &fixture("oauth_token_response.restforce.json"),
        false,
        "token",
    );
    assert_eq!(
        keys(&token),
        [
            "access_token",
            "refresh_token",
            "signature",
            "scope",
            "instance_url",
            "id",
            "token_type",
            "issued_at"
        ]
    );
    assert!(token.get("expires_in").is_none());
    assert_eq!(token["token_type"], "Bearer");
    // The instance is not the login host (§1.1): data calls go to one, OAuth to the other.
    let instance = token["instance_url"].as_str().expect("instance_url");
    assert_eq!(instance, emulator.instance_url());
    assert_ne!(instance, emulator.base_url());
    let issued_at = token["issued_at"].as_str().expect("issued_at is a string");
    assert!(issued_at.len() >= 13 && issued_at.bytes().all(|b| b.is_ascii_digit()));
    let id = token["id"].as_str().expect("id");
    assert_eq!(
        id,
        format!(
            "{}/id/{}/{}",
            emulator.base_url(),
            emulator.org_id(),
            emulator.login_user_id()
        )
    );
    let access = token["access_token"].as_str().expect("access");
    assert_eq!(&access[..16], format!("{}!", &emulator.org_id()[..15]));
    // signature = Base64(HMAC-SHA256(client secret, id + issued_at))
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(b"demo-secret").expect("key");
    mac.update(format!("{id}{issued_at}").as_bytes());
    assert_eq!(
        token["signature"].as_str(),
        Some(STANDARD.encode(mac.finalize().into_bytes()).as_str())
    );

    // The access token works on the data API, at the instance URL.
    let data = raw(
        &agent(),
        "GET",
        &format!("{instance}{V}/limits"),
        None,
        &[("Authorization", format!("Bearer {access}"))],
    );
    assert_eq!(data.status, 200, "{}", data.body);

    // Codes are single-use.
    assert_oauth_error(
        &exchange(&emulator, &code, &[]),
        "invalid_grant",
        "invalid authorization code",
    );

    // Refresh, with the client authenticated by Basic: no new refresh token.
    let refresh = token["refresh_token"].as_str().expect("refresh");
    let basic = format!("Basic {}", STANDARD.encode("demo-client:demo-secret"));
    let r = post_form(
        &emulator,
        "/services/oauth2/token",
        &[("grant_type", "refresh_token"), ("refresh_token", refresh)],
        &[("Authorization", basic)],
    );
    assert_eq!(r.status, 200, "{}", r.body);
    let refreshed = r.json();
    assert_shape(
        &refreshed,
        &fixture("oauth_refresh_token_response_no_refresh_token.restforce.json"),
        false,
        "refresh",
    );
    assert!(refreshed.get("refresh_token").is_none());
    assert_ne!(refreshed["access_token"], token["access_token"]);

    // Revoking the refresh token ends it and its access tokens.
    let r = post_form(
        &emulator,
        "/services/oauth2/revoke",
        &[("token", refresh)],
        &[],
    );
    assert_eq!((r.status, r.body.as_str()), (200, ""));
    let r = post_form(
        &emulator,
        "/services/oauth2/token",
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", refresh),
            ("client_id", "demo-client"),
            ("client_secret", "demo-secret"),
        ],
        &[],
    );
    assert_eq!(
        r.json(),
        fixture("oauth_error_invalid_grant_expired_refresh_token.restforce.json")
    );
    let data = raw(
        &agent(),
        "GET",
        &format!("{instance}{V}/limits"),
        None,
        &[("Authorization", format!("Bearer {access}"))],
    );
    assert_eq!(data.status, 401);
    assert_oauth_error(
        &post_form(
            &emulator,
            "/services/oauth2/revoke",
            &[("token", refresh)],
            &[],
        ),
        "invalid_token",
        "Token was invalid",
    );
}

#[test]
fn refresh_tokens_only_for_the_refresh_scope() {
    let emulator = Emulator::start(EmulatorOptions::default()).expect("start");
    let code = code_for(&emulator, &[("scope", "api id")]);
    let token = exchange(&emulator, &code, &[]).json();
    assert!(token.get("refresh_token").is_none(), "{token}");
    assert_eq!(token["scope"], "api id");
}

#[test]
fn rotation_issues_a_new_refresh_token_and_retires_the_old() {
    let emulator = Emulator::start(EmulatorOptions {
        rotate_refresh_tokens: true,
        ..EmulatorOptions::default()
    })
    .expect("start");
    let old = emulator.issue_tokens().refresh_token.expect("refresh");
    let pairs = |t: &str| {
        vec![
            ("grant_type", "refresh_token".to_string()),
            ("refresh_token", t.to_string()),
            ("client_id", "demo-client".into()),
            ("client_secret", "demo-secret".into()),
        ]
    };
    let send = |t: &str| {
        let p = pairs(t);
        let refs: Vec<(&str, &str)> = p.iter().map(|(k, v)| (*k, v.as_str())).collect();
        post_form(&emulator, "/services/oauth2/token", &refs, &[])
    };
    let r = send(&old);
    assert_eq!(r.status, 200);
    let new = r.json()["refresh_token"]
        .as_str()
        .expect("rotated")
        .to_string();
    assert_ne!(new, old);
    assert_eq!(send(&old).status, 400);
    assert_eq!(send(&new).status, 200);
}

#[test]
fn authorize_checks_client_and_exact_callback() {
    let emulator = Emulator::start(EmulatorOptions {
        clients: vec![ClientApp {
            id: "app".into(),
            secret: "s3cret".into(),
            callbacks: vec![CALLBACK.into()],
        }],
        ..EmulatorOptions::default()
    })
    .expect("start");
    let base = [("response_type", "code"), ("client_id", "app")];
    let with = |extra: &[(&str, &str)]| {
        let mut p = base.to_vec();
        p.extend_from_slice(extra);
        authorize(&emulator, &p)
    };
    let r = authorize(
        &emulator,
        &[
            ("response_type", "code"),
            ("client_id", "nope"),
            ("redirect_uri", CALLBACK),
        ],
    );
    assert_eq!(
        (r.status, r.body.as_str()),
        (
            400,
            "error=invalid_client_id&error_description=client%20identifier%20invalid"
        )
    );
    let r = with(&[("redirect_uri", "http://127.0.0.1:8765/other")]);
    assert_eq!(r.status, 400);
    assert_eq!(
        r.body,
        "error=redirect_uri_mismatch&error_description=redirect_uri%20must%20match%20configuration"
    );
    assert_eq!(with(&[]).status, 400, "missing redirect_uri");
    let pairs = redirect_params(&with(&[("redirect_uri", CALLBACK), ("state", "xyz")]));
    assert!(param(&pairs, "code").is_some());
    assert_eq!(param(&pairs, "state"), Some("xyz"));
    let pairs = redirect_params(&authorize(
        &emulator,
        &[
            ("response_type", "token"),
            ("client_id", "app"),
            ("redirect_uri", CALLBACK),
            ("state", "q"),
        ],
    ));
    assert_eq!(param(&pairs, "error"), Some("unsupported_response_type"));
    assert_eq!(param(&pairs, "state"), Some("q"));

    emulator.deny_authorization(true);
    let pairs = redirect_params(&with(&[("redirect_uri", CALLBACK), ("state", "d")]));
    assert_eq!(
        (
            param(&pairs, "error"),
            param(&pairs, "state"),
            param(&pairs, "code")
        ),
        (Some("access_denied"), Some("d"), None)
    );
}

#[test]
fn demo_app_accepts_only_loopback_callbacks() {
    let emulator = Emulator::start(EmulatorOptions::default()).expect("start");
    for ok in ["http://127.0.0.1:1/cb", "http://localhost:45678/x?y=1"] {
        let r = authorize(
            &emulator,
            &[
                ("response_type", "code"),
                ("client_id", "demo-client"),
                ("redirect_uri", ok),
            ],
        );
        assert_eq!(r.status, 302, "{ok}");
        assert!(
            r.header("location").is_some_and(|l| l.starts_with(ok)),
            "{ok}"
        );
    }
    for bad in [
        "https://127.0.0.1:1/cb",
        "http://example.com:80/cb",
        "http://127.0.0.1/cb",
        "http://127.0.0.1.evil:1/",
    ] {
        let r = authorize(
            &emulator,
            &[
                ("response_type", "code"),
                ("client_id", "demo-client"),
                ("redirect_uri", bad),
            ],
        );
        assert_eq!(r.status, 400, "{bad}");
    }
}

#[test]
fn token_endpoint_checks_client_redirect_pkce_and_expiry() {
    let emulator = Emulator::start(EmulatorOptions::default()).expect("start");
    let code = code_for(&emulator, &[]);
    let r = post_form(
        &emulator,
        "/services/oauth2/token",
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("client_id", "demo-client"),
            ("client_secret", "wrong"),
            ("redirect_uri", CALLBACK),
        ],
        &[],
    );
    assert_oauth_error(&r, "invalid_client", "invalid client credentials");
    assert_shape(
        &r.json(),
        &fixture("oauth_error_invalid_grant_authentication_failure.restforce.json"),
        true,
        "oauth error",
    );
    assert_oauth_error(
        &post_form(
            &emulator,
            "/services/oauth2/token",
            &[("grant_type", "client_credentials")],
            &[],
        ),
        "unsupported_grant_type",
        "grant type not supported",
    );
    assert_oauth_error(
        &post_form(&emulator, "/services/oauth2/token", &[], &[]),
        "invalid_request",
        "grant type is missing",
    );
    let code = code_for(&emulator, &[]);
    let r = post_form(
        &emulator,
        "/services/oauth2/token",
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("client_id", "demo-client"),
            ("client_secret", "demo-secret"),
            ("redirect_uri", "http://127.0.0.1:1/elsewhere"),
        ],
        &[],
    );
    assert_eq!(r.json()["error"], "invalid_grant");

    // PKCE S256.
    let verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
    let challenge = URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()));
    let code = code_for(
        &emulator,
        &[
            ("code_challenge", &challenge),
            ("code_challenge_method", "S256"),
        ],
    );
    assert_oauth_error(
        &exchange(&emulator, &code, &[]),
        "invalid_grant",
        "authentication failure",
    );
    let code = code_for(&emulator, &[("code_challenge", &challenge)]);
    assert_oauth_error(
        &exchange(&emulator, &code, &[("code_verifier", "not-the-verifier")]),
        "invalid_request",
        "invalid code verifier",
    );
    let code = code_for(&emulator, &[("code_challenge", &challenge)]);
    assert_eq!(
        exchange(&emulator, &code, &[("code_verifier", verifier)]).status,
        200
    );
    let pairs = redirect_params(&authorize(
        &emulator,
        &[
            ("response_type", "code"),
            ("client_id", "demo-client"),
            ("redirect_uri", CALLBACK),
            ("code_challenge", "x"),
            ("code_challenge_method", "plain"),
        ],
    ));
    assert_eq!(param(&pairs, "error"), Some("invalid_request"));

    // Codes expire.
    let short = Emulator::start(EmulatorOptions {
        code_ttl: Duration::from_millis(1),
        ..EmulatorOptions::default()
    })
    .expect("start");
    let code = code_for(&short, &[]);
    std::thread::sleep(Duration::from_millis(20));
    assert_oauth_error(
        &exchange(&short, &code, &[]),
        "invalid_grant",
        "expired authorization code",
    );
}

#[test]
fn a_sixth_grant_revokes_the_oldest() {
    let emulator = Emulator::start(EmulatorOptions::default()).expect("start");
    let first = emulator.issue_tokens();
    for _ in 0..4 {
        emulator.issue_tokens();
    }
    let still = raw(
        &agent(),
        "GET",
        &format!("{}{V}/limits", emulator.instance_url()),
        None,
        &[("Authorization", format!("Bearer {}", first.access_token))],
    );
    assert_eq!(still.status, 200);
    emulator.issue_tokens();
    let gone = raw(
        &agent(),
        "GET",
        &format!("{}{V}/limits", emulator.instance_url()),
        None,
        &[("Authorization", format!("Bearer {}", first.access_token))],
    );
    assert_eq!(gone.status, 401);
}

#[test]
fn identity_and_userinfo_describe_the_first_seeded_user() {
    let org = Org::seeded(json!({"records": [
        {"type": "User", "Email": "agent@example.com", "FirstName": "Ada", "LastName": "Lovelace"},
        {"type": "User", "Email": "second@example.com"},
    ]}));
    let user = org.emulator.login_user_id();
    let path = format!("/id/{}/{user}", org.emulator.org_id());
    let r = org.get_on_login_host(&path);
    assert_eq!(r.status, 200, "{}", r.body);
    let identity = r.json();
    assert_shape(
        &identity,
        &fixture("identity_url_response_200.postman.json"),
        true,
        "identity",
    );
    assert_eq!(
        (identity["email"].as_str(), identity["user_id"].as_str()),
        (Some("agent@example.com"), Some(user.as_str()))
    );
    assert_eq!(identity["first_name"], "Ada");
    let r = org.get("/services/oauth2/userinfo");
    let info = r.json();
    assert_eq!(info["email"], "agent@example.com");
    assert_eq!(info["organization_id"], org.emulator.org_id().as_str());
    assert_eq!(
        info["urls"]["rest"],
        format!(
            "{}/services/data/v{{version}}/",
            org.emulator.instance_url()
        )
        .as_str()
    );
    for key in [
        "sub",
        "user_id",
        "preferred_username",
        "name",
        "given_name",
        "family_name",
        "urls",
        "active",
    ] {
        assert!(info.get(key).is_some(), "userinfo lacks {key}");
    }
    let anon = raw(
        &org.agent,
        "GET",
        &org.url("/services/oauth2/userinfo"),
        None,
        &[],
    );
    assert_eq!((anon.status, anon.body.as_str()), (403, "Bad_OAuth_Token"));
    let other = org.get_on_login_host(&format!("/id/{}/005000000000009AAA", org.emulator.org_id()));
    assert_eq!(other.status, 403);
    let oidc = raw(
        &org.agent,
        "GET",
        &org.url("/.well-known/openid-configuration"),
        None,
        &[],
    )
    .json();
    // Salesforce's keys, but for the endpoints the emulator does not serve.
    let mut theirs = fixture("openid_configuration_well_known.postman.json");
    for unserved in ["registration_endpoint", "end_session_endpoint"] {
        theirs.as_object_mut().and_then(|o| o.remove(unserved));
    }
    assert_shape(&oidc, &theirs, true, "openid");
    assert_eq!(
        oidc["token_endpoint"],
        format!("{}/services/oauth2/token", org.emulator.instance_url()).as_str(),
        "the instance host, asked, names its own endpoints"
    );
}

#[test]
fn client_secrets_stay_out_of_debug_output() {
    let options = EmulatorOptions {
        clients: vec![ClientApp {
            id: "app".into(),
            secret: "s3cret-value".into(),
            callbacks: vec![],
        }],
        ..EmulatorOptions::default()
    };
    let shown = format!("{options:?}");
    assert!(
        shown.contains("app") && !shown.contains("s3cret-value"),
        "{shown}"
    );
}

fn basic(id: &str, secret: &str) -> (&'static str, String) {
    (
        "Authorization",
        format!("Basic {}", STANDARD.encode(format!("{id}:{secret}"))),
    )
}

#[test]
fn the_code_grant_takes_the_client_by_basic_auth() {
    let emulator = Emulator::start(EmulatorOptions::default()).expect("start");
    let grant = |code: &str| {
        vec![
            ("grant_type", "authorization_code".to_string()),
            ("code", code.to_string()),
            ("redirect_uri", CALLBACK.to_string()),
        ]
    };
    let send = |code: &str, auth: (&str, String)| {
        let pairs = grant(code);
        let refs: Vec<(&str, &str)> = pairs.iter().map(|(k, v)| (*k, v.as_str())).collect();
        post_form(&emulator, "/services/oauth2/token", &refs, &[auth])
    };
    let r = send(
        &code_for(&emulator, &[]),
        basic("demo-client", "demo-secret"),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(r.json()["access_token"].is_string());
    // The scheme is case-insensitive; the secret is not.
    let (name, value) = basic("demo-client", "demo-secret");
    let lower = (name, value.replacen("Basic", "basic", 1));
    assert_eq!(send(&code_for(&emulator, &[]), lower).status, 200);
    assert_oauth_error(
        &send(
            &code_for(&emulator, &[]),
            basic("demo-client", "Demo-Secret"),
        ),
        "invalid_client",
        "invalid client credentials",
    );
}

#[test]
fn revoking_an_access_token_ends_that_token_only() {
    let org = Org::start();
    let refresh = org.emulator.issue_tokens().refresh_token.expect("refresh");
    assert_eq!(org.get(&format!("{V}/limits")).status, 200);
    let r = post_form(
        &org.emulator,
        "/services/oauth2/revoke",
        &[("token", &org.token)],
        &[],
    );
    assert_eq!((r.status, r.body.as_str()), (200, ""));
    assert_eq!(
        org.get(&format!("{V}/limits")).error_code(),
        "INVALID_SESSION_ID"
    );
    // Its refresh token lives on.
    let r = post_form(
        &org.emulator,
        "/services/oauth2/token",
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", &refresh),
            ("client_id", "demo-client"),
            ("client_secret", "demo-secret"),
        ],
        &[],
    );
    assert_eq!(r.status, 200, "{}", r.body);
}

#[test]
fn oauth_endpoints_take_a_trailing_slash_and_bearer_in_any_case() {
    let emulator = Emulator::start(EmulatorOptions::default()).expect("start");
    let code = code_for(&emulator, &[]);
    let r = exchange_at(&emulator, "/services/oauth2/token/", &code, &[]);
    assert_eq!(r.status, 200, "{}", r.body);
    let token = r.json();
    let access = token["access_token"].as_str().expect("access");
    let identity = token["id"].as_str().expect("id");
    for scheme in ["bearer", "BEARER", "Bearer", "oauth"] {
        let auth = [("Authorization", format!("{scheme} {access}"))];
        let info = raw(
            &agent(),
            "GET",
            &format!("{}/services/oauth2/userinfo/", emulator.base_url()),
            None,
            &auth,
        );
        assert_eq!(info.status, 200, "{scheme}: {}", info.body);
        assert_eq!(raw(&agent(), "GET", identity, None, &auth).status, 200);
    }
}

#[test]
fn a_public_app_exchanges_codes_without_a_secret() {
    let emulator = Emulator::start(EmulatorOptions {
        clients: vec![ClientApp::public("mobile-app"), ClientApp::demo()],
        ..EmulatorOptions::default()
    })
    .expect("start");
    let verifier = "a-verifier-of-the-public-client-0123456789-abcdefgh";
    let challenge = URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()));
    let code = |client: &str| {
        let pairs = redirect_params(&authorize(
            &emulator,
            &[
                ("response_type", "code"),
                ("client_id", client),
                ("redirect_uri", CALLBACK),
                ("code_challenge", &challenge),
            ],
        ));
        param(&pairs, "code").expect("code").to_string()
    };
    let exchange_as = |client: &str, code: &str, extra: &[(&str, &str)]| {
        let mut pairs = vec![
            ("grant_type", "authorization_code"),
            ("code", code),
            ("client_id", client),
            ("redirect_uri", CALLBACK),
            ("code_verifier", verifier),
        ];
        pairs.extend_from_slice(extra);
        post_form(&emulator, "/services/oauth2/token", &pairs, &[])
    };
    let r = exchange_as("mobile-app", &code("mobile-app"), &[]);
    assert_eq!(r.status, 200, "{}", r.body);
    let refresh = r.json()["refresh_token"]
        .as_str()
        .expect("refresh")
        .to_string();
    let r = post_form(
        &emulator,
        "/services/oauth2/token",
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", &refresh),
            ("client_id", "mobile-app"),
        ],
        &[],
    );
    assert_eq!(r.status, 200, "{}", r.body);
    // A secret sent by a public client must still be right; an app that requires its
    // secret (the default, salesforce-api.md §1.5) refuses a request without it.
    assert_oauth_error(
        &exchange_as(
            "mobile-app",
            &code("mobile-app"),
            &[("client_secret", "guess")],
        ),
        "invalid_client",
        "invalid client credentials",
    );
    assert_oauth_error(
        &exchange_as("demo-client", &code("demo-client"), &[]),
        "invalid_client",
        "invalid client credentials",
    );
    // The username-password grant always needs the secret.
    assert_oauth_error(
        &post_form(
            &emulator,
            "/services/oauth2/token",
            &[
                ("grant_type", "password"),
                ("client_id", "mobile-app"),
                ("username", "admin@example.com"),
                ("password", crate::emulator::oauth::DEMO_PASSWORD),
            ],
            &[],
        ),
        "invalid_client",
        "invalid client credentials",
    );
}

fn password_grant(emulator: &Emulator, username: &str, password: &str) -> Resp {
    post_form(
        emulator,
        "/services/oauth2/token",
        &[
            ("grant_type", "password"),
            ("client_id", "demo-client"),
            ("client_secret", "demo-secret"),
            ("username", username),
            ("password", password),
        ],
        &[],
    )
}

#[test]
fn the_password_grant_logs_in_seeded_users() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("org.json");
    let options = || EmulatorOptions {
        data_file: Some(data.clone()),
        seed: Some(
            crate::emulator::SeedFile::from_json(&json!({"records": [
                {"type": "User", "Email": "ada@example.com", "Password": "engine-1843"},
                {"type": "User", "Email": "bob@example.com"},
                {"type": "User", "Email": "gone@example.com", "IsActive": false},
            ]}))
            .expect("seed"),
        ),
        ..EmulatorOptions::default()
    };
    let emulator = Emulator::start(options()).expect("start");
    let users: Vec<String> = emulator
        .records("User")
        .iter()
        .map(|u| u["Id"].as_str().expect("Id").to_string())
        .collect();

    // Bob, seeded without a password, has the demo password; usernames match in any case.
    let r = password_grant(&emulator, "BOB@example.com", "demo-password");
    assert_eq!(r.status, 200, "{}", r.body);
    let token = r.json();
    assert_eq!(
        keys(&token),
        [
            "access_token",
            "signature",
            "instance_url",
            "id",
            "token_type",
            "issued_at"
        ],
        "no refresh token from this grant"
    );
    assert!(token["id"].as_str().expect("id").ends_with(&users[1]));
    let access = token["access_token"].as_str().expect("access").to_string();
    let info = raw(
        &agent(),
        "GET",
        &format!("{}/services/oauth2/userinfo", emulator.base_url()),
        None,
        &[("Authorization", format!("Bearer {access}"))],
    );
    assert_eq!(info.json()["email"], "bob@example.com");

    let failure = json!({"error": "invalid_grant", "error_description": "authentication failure"});
    for (user, password) in [
        ("ada@example.com", "demo-password"),
        ("ada@example.com", "engine-1844"),
        ("nobody@example.com", "demo-password"),
        ("gone@example.com", "demo-password"),
        ("", ""),
    ] {
        let r = password_grant(&emulator, user, password);
        assert_eq!((r.status, r.json()), (400, failure.clone()), "{user}");
    }
    assert_eq!(
        password_grant(&emulator, "ada@example.com", "engine-1843").status,
        200
    );
    // The password is no field of the record.
    assert!(emulator.records("User")[0].get("Password").is_none());
    emulator.stop();
    let file = std::fs::read_to_string(&data).expect("data file");
    assert!(!file.contains("engine-1843"), "kept only as a digest");

    // The data file keeps it across a restart.
    let again = Emulator::start(options()).expect("restart");
    assert_eq!(
        password_grant(&again, "ada@example.com", "engine-1843").status,
        200
    );
    assert_eq!(
        raw(
            &agent(),
            "GET",
            &format!("{}{V}/limits", again.instance_url()),
            None,
            &[("Authorization", format!("Bearer {access}"))],
        )
        .status,
        200,
        "sessions survive the restart too"
    );
}

/// The text of `<tag>` in an XML answer.
fn xml_text<'a>(body: &'a str, tag: &str) -> Option<&'a str> {
    let start = body.find(&format!("<{tag}>"))? + tag.len() + 2;
    let end = body[start..].find(&format!("</{tag}>"))? + start;
    Some(&body[start..end])
}

#[test]
fn token_answers_come_in_the_format_asked() {
    let org = Org::start();
    let emulator = &org.emulator;
    let works = |token: &str| {
        let r = raw(
            &agent(),
            "GET",
            &org.url(&format!("{V}/limits")),
            None,
            &[("Authorization", format!("Bearer {token}"))],
        );
        r.status == 200
    };

    let code = code_for(emulator, &[("scope", "api refresh_token")]);
    let r = exchange(emulator, &code, &[("format", "urlencoded")]);
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(
        r.header("content-type"),
        Some("application/x-www-form-urlencoded;charset=UTF-8")
    );
    assert_eq!(r.header("cache-control"), Some("no-store"));
    let pairs: Vec<(String, String)> = form_urlencoded::parse(r.body.as_bytes())
        .into_owned()
        .collect();
    let names: Vec<&str> = pairs.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(
        names,
        [
            "access_token",
            "refresh_token",
            "signature",
            "scope",
            "instance_url",
            "id",
            "token_type",
            "issued_at"
        ]
    );
    assert_eq!(param(&pairs, "token_type"), Some("Bearer"));
    assert_eq!(param(&pairs, "scope"), Some("api refresh_token"));
    assert!(works(param(&pairs, "access_token").expect("token")));
    let refresh = param(&pairs, "refresh_token").expect("refresh").to_string();

    // `Accept` picks the format when `format` is absent.
    let refresh_form = [
        ("grant_type", "refresh_token"),
        ("refresh_token", refresh.as_str()),
        ("client_id", "demo-client"),
        ("client_secret", "demo-secret"),
    ];
    let xml = [("Accept", "application/xml".to_string())];
    let r = post_form(emulator, "/services/oauth2/token", &refresh_form, &xml);
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(
        r.header("content-type"),
        Some("application/xml;charset=UTF-8")
    );
    assert!(
        r.body
            .starts_with("<?xml version=\"1.0\" encoding=\"UTF-8\"?><OAuth><access_token>"),
        "{}",
        r.body
    );
    assert_eq!(xml_text(&r.body, "token_type"), Some("Bearer"));
    assert_eq!(xml_text(&r.body, "refresh_token"), None, "no rotation");
    assert!(works(xml_text(&r.body, "access_token").expect("token")));
    // `format` wins over `Accept`; anything else is JSON.
    let mut as_json = refresh_form.to_vec();
    as_json.push(("format", "json"));
    let r = post_form(emulator, "/services/oauth2/token", &as_json, &xml);
    assert_eq!(r.json()["token_type"], "Bearer", "{}", r.body);
    let any = [("Accept", "text/html, */*;q=0.8".to_string())];
    let r = post_form(emulator, "/services/oauth2/token", &refresh_form, &any);
    assert_eq!(r.json()["token_type"], "Bearer", "{}", r.body);

    // Refusals come in the format asked too.
    let r = exchange(emulator, "no-such-code", &[("format", "xml")]);
    assert_eq!(
        (r.status, r.header("content-type")),
        (400, Some("application/xml;charset=UTF-8"))
    );
    assert_eq!(
        r.body,
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?><OAuth><error>invalid_grant</error>\
         <error_description>invalid authorization code</error_description></OAuth>"
    );
    let urlencoded = [("Accept", "application/x-www-form-urlencoded".to_string())];
    let r = post_form(
        emulator,
        "/services/oauth2/token",
        &[("grant_type", "magic")],
        &urlencoded,
    );
    assert_eq!(r.status, 400);
    assert_eq!(
        r.body,
        "error=unsupported_grant_type&error_description=grant+type+not+supported"
    );
}
