//! `cloudcx-shim emulator` flags through the real binary (shim-cli.md): --port, --data across a
//! restart, --seed, --client, --public-client, --callback, --api-limit, --duplicates,
//! --rotate-refresh-tokens, --code-ttl-secs, --latency-ms, --fail-next/--fail-kind,
//! --drop-after-write, --tls-cert and --instance-host.

mod emulator_process;

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use emulator_process::EmulatorProcess;
use serde_json::{json, Value};

const V: &str = "/services/data/v62.0";

#[derive(Debug)]
struct Resp {
    status: u16,
    location: Option<String>,
    limit_info: Option<String>,
    body: String,
}

impl Resp {
    fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("{e}: {}", self.body))
    }
}

fn send(method: &str, url: &str, headers: &[(&str, &str)], body: Option<&str>) -> Resp {
    let agent = ureq::Agent::new_with_config(
        ureq::Agent::config_builder()
            .http_status_as_error(false)
            .max_redirects(0)
            .max_redirects_will_error(false)
            .timeout_global(Some(Duration::from_secs(20)))
            .build(),
    );
    let mut request = ureq::http::Request::builder().method(method).uri(url);
    for (k, v) in headers {
        request = request.header(*k, *v);
    }
    let request = request
        .body(body.unwrap_or_default().as_bytes().to_vec())
        .expect("request");
    let mut response = agent
        .run(request)
        .unwrap_or_else(|e| panic!("{method} {url}: {e}"));
    let header = |name: &str| {
        response
            .headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    };
    Resp {
        status: response.status().as_u16(),
        location: header("location"),
        limit_info: header("sforce-limit-info"),
        body: response.body_mut().read_to_string().unwrap_or_default(),
    }
}

fn form(pairs: &[(&str, &str)]) -> String {
    let mut s = form_urlencoded::Serializer::new(String::new());
    for (k, v) in pairs {
        s.append_pair(k, v);
    }
    s.finish()
}

fn token(emulator: &EmulatorProcess, pairs: &[(&str, &str)]) -> Resp {
    send(
        "POST",
        &format!("{}/services/oauth2/token", emulator.url),
        &[("Content-Type", "application/x-www-form-urlencoded")],
        Some(&form(pairs)),
    )
}

/// An access token and where to use it (the token's `instance_url`).
struct Session {
    token: String,
    instance: String,
}

impl Session {
    fn of(tokens: &Value) -> Session {
        let text = |key: &str| tokens[key].as_str().expect(key).to_string();
        Session {
            token: text("access_token"),
            instance: text("instance_url"),
        }
    }
}

/// A session of a User of the demo app, by the username-password grant.
fn login(emulator: &EmulatorProcess, username: &str, password: &str) -> Session {
    let r = token(
        emulator,
        &[
            ("grant_type", "password"),
            ("client_id", "demo-client"),
            ("client_secret", "demo-secret"),
            ("username", username),
            ("password", password),
        ],
    );
    assert_eq!(r.status, 200, "{}", r.body);
    Session::of(&r.json())
}

/// A data API call at the session's instance URL.
fn data(session: &Session, method: &str, path: &str, body: Option<Value>) -> Resp {
    let auth = format!("Bearer {}", session.token);
    send(
        method,
        &format!("{}{V}{path}", session.instance),
        &[
            ("Authorization", &auth),
            ("Content-Type", "application/json"),
        ],
        body.map(|b| b.to_string()).as_deref(),
    )
}

fn dump(emulator: &EmulatorProcess) -> Value {
    send(
        "GET",
        &format!("{}/__emulator/dump", emulator.url),
        &[],
        None,
    )
    .json()
}

/// The code the authorize endpoint redirects with, or the whole answer when it does not.
fn authorize(emulator: &EmulatorProcess, client: &str, callback: &str) -> Result<String, Resp> {
    let query = form(&[
        ("response_type", "code"),
        ("client_id", client),
        ("redirect_uri", callback),
    ]);
    let r = send(
        "GET",
        &format!("{}/services/oauth2/authorize?{query}", emulator.url),
        &[],
        None,
    );
    let code = r.location.as_deref().and_then(|l| {
        let (_, query) = l.split_once('?')?;
        form_urlencoded::parse(query.as_bytes())
            .find(|(k, _)| k == "code")
            .map(|(_, v)| v.into_owned())
    });
    code.ok_or(r)
}

fn write_seed(dir: &Path, seed: Value) -> String {
    let path = dir.join("seed.json");
    std::fs::write(&path, seed.to_string()).expect("seed");
    path.to_str().expect("path").to_string()
}

#[test]
fn port_seed_and_data_across_a_restart() {
    let dir = tempfile::tempdir().expect("tempdir");
    let port = TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port();
    let seed = write_seed(
        dir.path(),
        json!({"records": [{"type": "User", "Email": "ops@example.com", "Password": "pw-1"}]}),
    );
    let data_file = dir.path().join("org.json");
    let cert = dir.path().join("ca.pem");
    let port_arg = port.to_string();
    let emulator = EmulatorProcess::start(
        dir.path(),
        &[
            "--port",
            &port_arg,
            "--data",
            data_file.to_str().expect("path"),
            "--seed",
            &seed,
            "--tls-cert",
            cert.to_str().expect("path"),
        ],
    );
    assert_eq!(emulator.url, format!("http://127.0.0.1:{port}"));
    let pem = std::fs::read_to_string(&cert).expect("--tls-cert wrote the certificate");
    assert!(pem.starts_with("-----BEGIN CERTIFICATE-----"));
    let session = login(&emulator, "ops@example.com", "pw-1");
    let r = data(
        &session,
        "POST",
        "/sobjects/Lead",
        Some(json!({"LastName": "Kept", "Company": "Across"})),
    );
    assert_eq!(r.status, 201, "{}", r.body);
    let lead = r.json()["id"].as_str().expect("id").to_string();
    let status = emulator.stop();
    assert!(status.success(), "a clean stop on SIGTERM: {status}");
    assert!(data_file.is_file(), "the data file was written");

    // Restarted on another port with the same data file: the org, its users' passwords and
    // its sessions are back (the data file wins over --seed).
    let other_seed = write_seed(
        dir.path(),
        json!({"records": [{"type": "User", "Email": "someone-else@example.com"}]}),
    );
    let again = EmulatorProcess::start(
        dir.path(),
        &[
            "--data",
            data_file.to_str().expect("path"),
            "--seed",
            &other_seed,
        ],
    );
    let on_the_new_port = login(&again, "ops@example.com", "pw-1").instance;
    let kept = Session {
        instance: on_the_new_port,
        ..session
    };
    let r = data(&kept, "GET", &format!("/sobjects/Lead/{lead}"), None);
    assert_eq!(
        (r.status, r.json()["LastName"].as_str()),
        (200, Some("Kept"))
    );
    let users = dump(&again)["objects"]["User"].clone();
    assert_eq!(users.as_array().map(Vec::len), Some(1), "{users}");
}

/// Sends a write on its own connection: its status, or `None` when closed unanswered.
fn status_or_dropped(session: &Session, path: &str, body: &Value) -> Option<u16> {
    let addr = session.instance.trim_start_matches("http://");
    let mut stream = TcpStream::connect(addr).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    let body = body.to_string();
    write!(
        stream,
        "POST {V}{path} HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        session.token,
        body.len()
    )
    .expect("write");
    let mut answer = String::new();
    stream
        .read_to_string(&mut answer)
        .expect("closed, not timed out");
    answer.split(' ').nth(1).map(|s| s.parse().expect("status"))
}

#[test]
fn fault_flags_apply_from_the_start() {
    let dir = tempfile::tempdir().expect("tempdir");
    let emulator = EmulatorProcess::start(
        dir.path(),
        &[
            "--fail-next",
            "1",
            "--fail-kind",
            "UNABLE_TO_LOCK_ROW",
            "--drop-after-write",
            "1",
            "--api-limit",
            "50",
            "--latency-ms",
            "250",
        ],
    );
    let session = login(&emulator, "admin@example.com", "demo-password");
    let started = Instant::now();
    let r = data(&session, "GET", "/limits", None);
    assert!(
        started.elapsed() >= Duration::from_millis(250),
        "--latency-ms"
    );
    assert_eq!(
        (r.status, r.json()[0]["errorCode"].as_str()),
        (400, Some("UNABLE_TO_LOCK_ROW")),
        "--fail-next 1 --fail-kind UNABLE_TO_LOCK_ROW"
    );
    let r = data(&session, "GET", "/limits", None);
    assert_eq!(r.status, 200, "only the first failed");
    assert_eq!(
        r.limit_info.as_deref(),
        Some("api-usage=1/50"),
        "--api-limit"
    );
    // --drop-after-write: a refused write is answered; the first applied one is not.
    assert_eq!(
        status_or_dropped(
            &session,
            "/sobjects/Lead",
            &json!({"LastName": "No company"})
        ),
        Some(400)
    );
    let lead = json!({"LastName": "Dropped", "Company": "C"});
    assert_eq!(status_or_dropped(&session, "/sobjects/Lead", &lead), None);
    assert_eq!(
        status_or_dropped(&session, "/sobjects/Lead", &lead),
        Some(201)
    );
    let names: Vec<Value> = dump(&emulator)["objects"]["Lead"]
        .as_array()
        .expect("leads")
        .iter()
        .map(|l| l["LastName"].clone())
        .collect();
    assert_eq!(names, [json!("Dropped"), json!("Dropped")], "both applied");
}

#[test]
fn app_flags() {
    let dir = tempfile::tempdir().expect("tempdir");
    let callback = "http://127.0.0.1:8765/callback";
    let emulator = EmulatorProcess::start(
        dir.path(),
        &[
            "--client",
            "app:s3cret",
            "--public-client",
            "mobile",
            "--callback",
            callback,
            "--rotate-refresh-tokens",
            "--code-ttl-secs",
            "1",
            "--duplicates",
            "block",
        ],
    );
    assert!(
        !emulator.stderr().contains("demo-client"),
        "no demo app with --client"
    );
    let refused = authorize(&emulator, "demo-client", callback).expect_err("no demo app");
    assert_eq!(refused.status, 400);
    let refused = authorize(&emulator, "app", "http://127.0.0.1:8765/other").expect_err("exact");
    assert!(
        refused.body.contains("redirect_uri_mismatch"),
        "{}",
        refused.body
    );

    let exchange = |client: &str, secret: Option<&str>| {
        let code = authorize(&emulator, client, callback).expect("a code");
        let mut pairs = vec![
            ("grant_type", "authorization_code"),
            ("code", code.as_str()),
            ("client_id", client),
            ("redirect_uri", callback),
        ];
        pairs.extend(secret.map(|s| ("client_secret", s)));
        token(&emulator, &pairs)
    };
    let r = exchange("app", Some("s3cret"));
    assert_eq!(r.status, 200, "{}", r.body);
    let tokens = r.json();
    let refresh = tokens["refresh_token"].as_str().expect("refresh");
    let r = token(
        &emulator,
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", refresh),
            ("client_id", "app"),
            ("client_secret", "s3cret"),
        ],
    );
    let rotated = r.json();
    assert!(
        rotated["refresh_token"]
            .as_str()
            .is_some_and(|new| new != refresh),
        "--rotate-refresh-tokens: {}",
        r.body
    );
    assert_eq!(
        exchange("mobile", None).status,
        200,
        "--public-client needs no secret"
    );
    assert_eq!(exchange("app", None).json()["error"], "invalid_client");

    let code = authorize(&emulator, "app", callback).expect("a code");
    std::thread::sleep(Duration::from_millis(1100));
    let r = token(
        &emulator,
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("client_id", "app"),
            ("client_secret", "s3cret"),
            ("redirect_uri", callback),
        ],
    );
    assert_eq!(
        r.json()["error_description"],
        "expired authorization code",
        "--code-ttl-secs"
    );

    // Rotation retired the first grant's sessions: the refresh's access token works.
    let session = Session::of(&rotated);
    let lead = json!({"LastName": "Twin", "Company": "C", "Email": "twin@example.com"});
    assert_eq!(
        data(&session, "POST", "/sobjects/Lead", Some(lead.clone())).status,
        201
    );
    let r = data(&session, "POST", "/sobjects/Lead", Some(lead));
    assert_eq!(
        r.json()[0]["errorCode"],
        "DUPLICATES_DETECTED",
        "--duplicates block"
    );
}

#[test]
fn the_instance_host_is_not_the_login_host_unless_asked() {
    let dir = tempfile::tempdir().expect("tempdir");
    let emulator = EmulatorProcess::start(dir.path(), &[]);
    let session = login(&emulator, "admin@example.com", "demo-password");
    let port = emulator.url.rsplit(':').next().expect("port");
    assert_eq!(session.instance, format!("http://localhost:{port}"));
    assert!(
        emulator.stderr().contains(&format!(
            "instance URL (data API): {}; login URL (OAuth, identity): {}",
            session.instance, emulator.url
        )),
        "{}",
        emulator.stderr()
    );
    let on_login = Session {
        instance: emulator.url.clone(),
        ..session
    };
    let r = data(&on_login, "GET", "/limits", None);
    assert_eq!(
        (r.status, r.json()[0]["errorCode"].as_str()),
        (400, Some("URL_NOT_RESET")),
        "{}",
        r.body
    );

    let one = EmulatorProcess::start(dir.path(), &["--instance-host", "127.0.0.1"]);
    let session = login(&one, "admin@example.com", "demo-password");
    assert_eq!(session.instance, one.url, "one host for both");
    assert_eq!(data(&session, "GET", "/limits", None).status, 200);
}

#[test]
fn bad_flags_exit_2_naming_the_problem() {
    let run = |args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_cloudcx-shim"))
            .arg("emulator")
            .args(args)
            .output()
            .expect("runs")
    };
    let out = run(&["--client", "no-secret"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("--client \"no-secret\": expected ID:SECRET")
    );
    let out = run(&["--seed", "/nonexistent/seed.json"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("/nonexistent/seed.json"));
    let out = run(&["--fail-kind", "404"]);
    assert_eq!(out.status.code(), Some(2), "clap refuses an unknown kind");
    let out = run(&["--instance-host", "10.0.0.1"]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("--instance-host")
            && stderr.contains("\"10.0.0.1\" is not a name of 127.0.0.1"),
        "{stderr}"
    );
}

#[test]
fn a_port_in_use_is_named_with_what_to_do() {
    let taken = TcpListener::bind("127.0.0.1:0").expect("a port");
    let port = taken.local_addr().expect("address").port().to_string();
    let out = Command::new(env!("CARGO_BIN_EXE_cloudcx-shim"))
        .args(["emulator", "--port", &port])
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(&format!("cannot listen on 127.0.0.1:{port}: "))
            && stderr.contains("--port P listens on another port, --port 0 on any free one"),
        "{stderr}"
    );
}
