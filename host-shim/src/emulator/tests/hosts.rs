//! The login host and the instance host on one port (salesforce-api.md §1.1).

use serde_json::json;

use super::{agent, raw, Org, Resp, V};
use crate::emulator::{Emulator, EmulatorOptions};

/// A request with the org's token on one host's base URL.
fn on(org: &Org, base: &str, method: &str, path: &str) -> Resp {
    raw(
        &org.agent,
        method,
        &format!("{base}{path}"),
        None,
        &[("Authorization", format!("Bearer {}", org.token))],
    )
}

/// The host of a URL (`http://HOST:PORT/...`).
fn host_of(url: &str) -> &str {
    let rest = url.trim_start_matches("http://");
    rest.split([':', '/']).next().unwrap_or(rest)
}

#[test]
fn data_calls_are_refused_on_the_login_host_and_served_on_the_instance() {
    let org = Org::start();
    let (login, instance) = (org.emulator.base_url(), org.emulator.instance_url());
    assert_eq!(host_of(login), "127.0.0.1");
    assert_eq!(host_of(instance), "localhost");
    assert_eq!(
        login.rsplit(':').next(),
        instance.rsplit(':').next(),
        "one port"
    );

    for (method, path) in [
        ("GET", format!("{V}/limits")),
        ("GET", format!("{V}/sobjects/Lead/describe")),
        ("POST", format!("{V}/sobjects/Lead")),
        ("GET", format!("{V}/query?q=SELECT+Id+FROM+Lead")),
    ] {
        let refused = on(&org, login, method, &path);
        assert_eq!(
            (refused.status, refused.json()),
            (
                400,
                json!([{"message": "Destination URL not reset. The URL returned from login must be set",
                        "errorCode": "URL_NOT_RESET"}])
            ),
            "{method} {path} on the login host"
        );
        assert_eq!(refused.header("sforce-limit-info"), None);
    }
    assert_eq!(org.emulator.api_calls(), 0, "a refused call costs nothing");
    let served = on(&org, instance, "GET", &format!("{V}/limits"));
    assert_eq!(served.status, 200, "{}", served.body);
    assert_eq!(org.emulator.api_calls(), 1);

    // The identity URL lives on the login host only.
    let identity = format!(
        "/id/{}/{}",
        org.emulator.org_id(),
        org.emulator.login_user_id()
    );
    assert_eq!(on(&org, login, "GET", &identity).status, 200);
    let elsewhere = on(&org, instance, "GET", &identity);
    assert_eq!(
        (elsewhere.status, elsewhere.error_code()),
        (404, "NOT_FOUND".to_string())
    );

    // Both serve OAuth (the instance is a My Domain), the versions list and the HTML view.
    for base in [login, instance] {
        let userinfo = on(&org, base, "GET", "/services/oauth2/userinfo");
        assert_eq!(userinfo.status, 200, "{base}: {}", userinfo.body);
        for path in ["/services/data/", "/"] {
            assert_eq!(on(&org, base, "GET", path).status, 200, "{base}{path}");
        }
    }
}

#[test]
fn tokens_name_the_instance_and_an_identity_url_on_the_login_host() {
    let org = Org::start();
    let (login, instance) = (org.emulator.base_url(), org.emulator.instance_url());
    let identity_path = format!(
        "/id/{}/{}",
        org.emulator.org_id(),
        org.emulator.login_user_id()
    );
    let identity_url = format!("{login}{identity_path}");
    // Whichever host grants the token, it points at the same two places.
    for base in [login, instance] {
        let token = raw(
            &agent(),
            "POST",
            &format!("{base}/services/oauth2/token"),
            Some(b"grant_type=password&client_id=demo-client&client_secret=demo-secret&username=admin@example.com&password=demo-password".to_vec()),
            &[("Content-Type", "application/x-www-form-urlencoded".to_string())],
        );
        assert_eq!(token.status, 200, "{base}: {}", token.body);
        let token = token.json();
        assert_eq!(token["instance_url"], instance, "{base}");
        assert_eq!(token["id"], identity_url.as_str(), "{base}");
    }

    // The identity answers: `id`/`sub` on the login host, the API's URLs on the instance.
    let identity = org.get_on_login_host(&identity_path).json();
    assert_eq!(identity["id"], identity_url.as_str());
    assert_eq!(
        identity["urls"]["rest"],
        format!("{instance}/services/data/v{{version}}/").as_str()
    );
    let userinfo = on(&org, instance, "GET", "/services/oauth2/userinfo").json();
    assert_eq!(userinfo["sub"], identity_url.as_str());
    assert_eq!(userinfo["urls"]["custom_domain"], instance);
    let resources = on(&org, instance, "GET", &format!("{V}/")).json();
    assert_eq!(resources["identity"], identity_url.as_str());
    let lead = on(&org, instance, "GET", &format!("{V}/sobjects/Lead")).json();
    assert_eq!(
        lead["objectDescribe"]["urls"]["uiDetailTemplate"],
        format!("{instance}/{{ID}}").as_str()
    );
    // Each host's OpenID configuration names its own endpoints.
    for base in [login, instance] {
        let oidc = on(&org, base, "GET", "/.well-known/openid-configuration").json();
        assert_eq!(oidc["issuer"], base);
        assert_eq!(
            oidc["token_endpoint"],
            format!("{base}/services/oauth2/token").as_str()
        );
    }
}

#[test]
fn the_instance_host_127_0_0_1_makes_one_host_of_both() {
    let org = Org::with(EmulatorOptions {
        instance_host: "127.0.0.1".into(),
        ..EmulatorOptions::default()
    });
    let base = org.emulator.base_url();
    assert_eq!(org.emulator.instance_url(), base);
    assert_eq!(on(&org, base, "GET", &format!("{V}/limits")).status, 200);
    let identity = format!(
        "/id/{}/{}",
        org.emulator.org_id(),
        org.emulator.login_user_id()
    );
    assert_eq!(on(&org, base, "GET", &identity).status, 200);
    // Any name of it reaches everything too.
    let localhost = base.replace("127.0.0.1", "localhost");
    assert_eq!(
        on(&org, &localhost, "GET", &format!("{V}/limits")).status,
        200
    );
}

#[test]
fn an_instance_host_that_is_not_a_name_of_127_0_0_1_is_refused() {
    for host in ["10.0.0.1", "::1"] {
        let refused = Emulator::start(EmulatorOptions {
            instance_host: host.into(),
            ..EmulatorOptions::default()
        })
        .err()
        .unwrap_or_else(|| panic!("{host} accepted"));
        assert_eq!(refused.kind(), std::io::ErrorKind::InvalidInput);
        assert!(
            refused
                .to_string()
                .contains(&format!("{host:?} is not a name of 127.0.0.1")),
            "{refused}"
        );
    }
}
