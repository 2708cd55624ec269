//! OpenID Connect: the id_token and the keys that verify it, token introspection, and a
//! discovery document that names only what is served.

use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine as _;
use ring::signature::{RsaPublicKeyComponents, RSA_PKCS1_2048_8192_SHA256};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use super::oauth::{code_for, exchange, keys, post_form};
use super::{agent, raw, Org, Resp, V};
use crate::emulator::{ClientApp, Emulator, EmulatorOptions};

fn decode_part(part: &str) -> Value {
    let bytes = URL_SAFE_NO_PAD.decode(part).expect("base64url");
    serde_json::from_slice(&bytes).expect("JSON")
}

/// The id_token's header and claims, once its signature checks out against `{base}/id/keys`.
fn verified(base: &str, id_token: &str) -> (Value, Value) {
    let parts: Vec<&str> = id_token.split('.').collect();
    assert_eq!(parts.len(), 3, "{id_token}");
    let header = decode_part(parts[0]);
    let jwks = raw(&agent(), "GET", &format!("{base}/id/keys"), None, &[]);
    assert_eq!(jwks.status, 200, "{}", jwks.body);
    let jwks = jwks.json();
    let key = jwks["keys"]
        .as_array()
        .and_then(|k| k.iter().find(|k| k["kid"] == header["kid"]))
        .unwrap_or_else(|| panic!("no key {} in {jwks}", header["kid"]));
    assert_eq!(
        (&key["kty"], &key["alg"], &key["use"]),
        (&json!("RSA"), &json!("RS256"), &json!("sig"))
    );
    let component = |name: &str| {
        URL_SAFE_NO_PAD
            .decode(key[name].as_str().expect("component"))
            .expect("base64url")
    };
    let signature = URL_SAFE_NO_PAD.decode(parts[2]).expect("signature");
    RsaPublicKeyComponents {
        n: component("n"),
        e: component("e"),
    }
    .verify(
        &RSA_PKCS1_2048_8192_SHA256,
        format!("{}.{}", parts[0], parts[1]).as_bytes(),
        &signature,
    )
    .expect("the published key verifies the id_token");
    (header, decode_part(parts[1]))
}

#[test]
fn the_openid_scope_brings_an_id_token_the_published_keys_verify() {
    let emulator = Emulator::start(EmulatorOptions::default()).expect("start");
    let code = code_for(
        &emulator,
        &[("scope", "openid api refresh_token"), ("nonce", "n-0S6")],
    );
    let r = exchange(&emulator, &code, &[]);
    assert_eq!(r.status, 200, "{}", r.body);
    let token = r.json();
    // The order of the Postman collection's "Successful Web Server Flow".
    assert_eq!(
        keys(&token),
        [
            "access_token",
            "refresh_token",
            "signature",
            "scope",
            "id_token",
            "instance_url",
            "id",
            "token_type",
            "issued_at"
        ]
    );
    let (header, claims) = verified(
        emulator.base_url(),
        token["id_token"].as_str().expect("id_token"),
    );
    assert_eq!(
        (&header["alg"], &header["typ"]),
        (&json!("RS256"), &json!("JWT"))
    );
    assert_eq!(claims["sub"], token["id"]);
    assert_eq!(claims["aud"], "demo-client");
    assert_eq!(claims["iss"], emulator.base_url());
    assert_eq!(claims["nonce"], "n-0S6");
    let access = token["access_token"].as_str().expect("access");
    assert_eq!(
        claims["at_hash"].as_str(),
        Some(
            URL_SAFE_NO_PAD
                .encode(&Sha256::digest(access.as_bytes())[..16])
                .as_str()
        )
    );
    let (iat, exp) = (claims["iat"].as_u64(), claims["exp"].as_u64());
    assert!(iat.zip(exp).is_some_and(|(iat, exp)| exp > iat), "{claims}");

    // No openid, no id_token; a refresh brings none either, as Salesforce's answers show.
    let code = code_for(&emulator, &[("scope", "api refresh_token")]);
    assert!(exchange(&emulator, &code, &[])
        .json()
        .get("id_token")
        .is_none());
    let r = post_form(
        &emulator,
        "/services/oauth2/token",
        &[
            ("grant_type", "refresh_token"),
            (
                "refresh_token",
                token["refresh_token"].as_str().expect("refresh"),
            ),
            ("client_id", "demo-client"),
            ("client_secret", "demo-secret"),
        ],
        &[],
    );
    assert!(r.json().get("id_token").is_none(), "{}", r.body);
}

#[test]
fn an_id_token_from_the_instance_host_names_it_as_issuer() {
    let emulator = Emulator::start(EmulatorOptions::default()).expect("start");
    let code = code_for(&emulator, &[("scope", "openid")]);
    let pairs = [
        ("grant_type", "authorization_code"),
        ("code", code.as_str()),
        ("client_id", "demo-client"),
        ("client_secret", "demo-secret"),
        ("redirect_uri", super::oauth::CALLBACK),
    ];
    let body = form_urlencoded::Serializer::new(String::new())
        .extend_pairs(pairs)
        .finish();
    let r = raw(
        &agent(),
        "POST",
        &format!("{}/services/oauth2/token", emulator.instance_url()),
        Some(body.into_bytes()),
        &[(
            "Content-Type",
            "application/x-www-form-urlencoded".to_string(),
        )],
    );
    assert_eq!(r.status, 200, "{}", r.body);
    let (_, claims) = verified(
        emulator.instance_url(),
        r.json()["id_token"].as_str().expect("id_token"),
    );
    assert_eq!(claims["iss"], emulator.instance_url());
}

fn introspect(emulator: &Emulator, token: &str, client: (&str, &str)) -> Resp {
    post_form(
        emulator,
        "/services/oauth2/introspect",
        &[
            ("token", token),
            ("token_type_hint", "access_token"),
            ("client_id", client.0),
            ("client_secret", client.1),
        ],
        &[],
    )
}

#[test]
fn introspection_tells_an_apps_own_live_tokens() {
    let org = Org::with(EmulatorOptions {
        clients: vec![
            ClientApp::demo(),
            ClientApp {
                id: "other".into(),
                secret: "other-secret".into(),
                callbacks: Vec::new(),
            },
        ],
        ..EmulatorOptions::default()
    });
    let emulator = &org.emulator;
    let demo = ("demo-client", "demo-secret");
    let code = code_for(emulator, &[("scope", "api refresh_token")]);
    let token = exchange(emulator, &code, &[]).json();
    let access = token["access_token"].as_str().expect("access");
    let refresh = token["refresh_token"].as_str().expect("refresh");

    let r = introspect(emulator, access, demo);
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.header("cache-control"), Some("no-store"));
    let about = r.json();
    assert_eq!(
        keys(&about),
        [
            "active",
            "scope",
            "client_id",
            "username",
            "sub",
            "token_type",
            "exp",
            "iat",
            "nbf"
        ]
    );
    let user = org.get(&format!("{V}/sobjects/User/{}", emulator.login_user_id()));
    assert_eq!(
        (
            &about["active"],
            &about["scope"],
            &about["client_id"],
            &about["username"],
            &about["sub"],
            &about["token_type"]
        ),
        (
            &json!(true),
            &json!("api refresh_token"),
            &json!("demo-client"),
            &user.json()["Username"],
            &token["id"],
            &json!("access_token")
        )
    );
    let iat = about["iat"].as_u64().expect("iat");
    assert_eq!(about["nbf"], iat);
    assert_eq!(about["exp"], iat + 7200);

    // A refresh token, the client by Basic.
    let basic = format!("Basic {}", STANDARD.encode("demo-client:demo-secret"));
    let r = post_form(
        emulator,
        "/services/oauth2/introspect",
        &[("token", refresh)],
        &[("Authorization", basic)],
    );
    let about = r.json();
    assert_eq!(
        (&about["active"], &about["token_type"]),
        (&json!(true), &json!("refresh_token")),
        "{about}"
    );
    assert!(about.get("exp").is_none(), "lasts until revoked: {about}");

    // Another app's token, an unknown one and a revoked one are not active.
    let inactive = json!({"active": false});
    assert_eq!(
        introspect(emulator, access, ("other", "other-secret")).json(),
        inactive
    );
    assert_eq!(introspect(emulator, "nope", demo).json(), inactive);
    let r = post_form(
        emulator,
        "/services/oauth2/revoke",
        &[("token", access)],
        &[],
    );
    assert_eq!(r.status, 200);
    assert_eq!(introspect(emulator, access, demo).json(), inactive);

    // The app must authenticate.
    let r = introspect(emulator, refresh, ("demo-client", "wrong"));
    assert_eq!(
        (r.status, r.json()["error"].as_str()),
        (401, Some("invalid_client"))
    );
}

#[test]
fn the_discovery_document_names_only_what_is_served() {
    let org = Org::start();
    for base in [org.emulator.base_url(), org.emulator.instance_url()] {
        let r = raw(
            &agent(),
            "GET",
            &format!("{base}/.well-known/openid-configuration"),
            None,
            &[],
        );
        let document = r.json();
        let urls: Vec<(&str, &str)> = document
            .as_object()
            .expect("object")
            .iter()
            .filter(|(k, _)| k.ends_with("_endpoint") || k.ends_with("_uri"))
            .filter_map(|(k, v)| Some((k.as_str(), v.as_str()?)))
            .collect();
        assert_eq!(urls.len(), 6, "{document}");
        for (key, url) in urls {
            assert!(url.starts_with(base), "{key}: {url}");
            let method = match key {
                "token_endpoint" | "revocation_endpoint" | "introspection_endpoint" => "POST",
                _ => "GET",
            };
            let r = raw(&agent(), method, url, None, &[]);
            assert_ne!(r.status, 404, "{key}: {method} {url} is not served");
        }
    }
}
