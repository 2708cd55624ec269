//! The org around the API: HTML view, dump, seed, data file, command line, concurrency.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use serde_json::json;

use super::{agent, raw, Org, V};
use crate::emulator::{run_with_output, Emulator, EmulatorArgs, EmulatorOptions, FaultKind, OrgId};

#[test]
fn html_view_and_json_dump() {
    let org = Org::start();
    org.create("Lead", json!({"LastName": "<Doe>", "Company": "Acme & Co"}));
    let r = raw(&org.agent, "GET", &org.url("/"), None, &[]);
    assert_eq!(r.status, 200);
    assert_eq!(r.header("content-type"), Some("text/html;charset=UTF-8"));
    assert!(
        r.body.contains("<h2 id=\"Lead\">Lead (1)</h2>"),
        "{}",
        r.body
    );
    assert!(r.body.contains("&lt;Doe&gt;") && r.body.contains("Acme &amp; Co"));
    let dump = raw(&org.agent, "GET", &org.url("/__emulator/dump"), None, &[]).json();
    assert_eq!(dump["objects"]["Lead"][0]["Company"], "Acme & Co");
    assert_eq!(dump["loginUserId"], org.emulator.login_user_id().as_str());
    assert_eq!(dump["apiUsage"]["used"], 1);
    assert_eq!(
        org.emulator.dump(),
        raw(&org.agent, "GET", &org.url("/__emulator/dump"), None, &[]).json()
    );
}

#[test]
fn seed_files_declare_fields_and_records() {
    let org = Org::seeded(json!({
        "customFields": [{"object": "Contact", "name": "Loyalty__c", "type": "int"}],
        "records": [
            {"type": "Account", "Name": "Acme"},
            {"type": "User", "Email": "first@example.com"},
            {"type": "Contact", "LastName": "Doe", "Loyalty__c": 3},
        ],
    }));
    let users = org.emulator.records("User");
    assert_eq!(
        users[0]["Email"], "first@example.com",
        "the first seeded User logs in"
    );
    assert_eq!(
        org.emulator.login_user_id(),
        users[0]["Id"].as_str().unwrap_or_default()
    );
    assert_eq!(
        org.emulator.records("Account")[0]["OwnerId"],
        users[0]["Id"]
    );
    assert_eq!(org.emulator.records("Contact")[0]["Loyalty__c"], 3);
    assert!(org
        .emulator
        .seed(&json!({"records": [{"type": "Nope"}]}))
        .is_err());
    assert!(
        org.emulator
            .seed(&json!({"records": [{"type": "Lead", "LastName": "x"}]}))
            .is_err(),
        "Company is required"
    );
    assert!(Emulator::start(EmulatorOptions {
        seed: Some(
            crate::emulator::SeedFile::from_json(&json!({"records": [{"Name": "no type"}]}))
                .expect("parse")
        ),
        ..EmulatorOptions::default()
    })
    .is_err());
    let ids = org
        .emulator
        .seed(&json!({"records": [{"type": "Lead", "LastName": "x", "Company": "y"}]}))
        .expect("seeded");
    assert!(ids[0].starts_with("00Q"));
}

#[test]
fn data_file_keeps_the_org_across_restarts() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path: PathBuf = dir.path().join("org.json");
    let options = EmulatorOptions {
        data_file: Some(path.clone()),
        ..EmulatorOptions::default()
    };
    let (lead, token, org_id) = {
        let org = Org::with(options.clone());
        let lead = org.create("Lead", json!({"LastName": "Kept", "Company": "Acme"}));
        org.create(
            "ContentVersion",
            json!({"PathOnClient": "a.txt", "VersionData": "aGk="}),
        );
        let token = org.token.clone();
        (lead, token, org.emulator.org_id())
    };
    assert!(path.exists());
    assert!(!path.with_extension("tmp").exists());
    let again = Emulator::start(options).expect("restart");
    assert_eq!(again.org_id(), org_id);
    assert_eq!(again.records("Lead")[0]["Id"], lead.as_str());
    assert_eq!(again.api_calls(), 2);
    let r = raw(
        &agent(),
        "GET",
        &format!("{}{V}/sobjects/Lead/{lead}", again.instance_url()),
        None,
        &[("Authorization", format!("Bearer {token}"))],
    );
    assert_eq!(r.status, 200, "sessions survive: {}", r.body);
    let version = again.records("ContentVersion")[0]["Id"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let r = raw(
        &agent(),
        "GET",
        &format!(
            "{}{V}/sobjects/ContentVersion/{version}/VersionData",
            again.instance_url()
        ),
        None,
        &[("Authorization", format!("Bearer {token}"))],
    );
    assert_eq!(r.body, "hi");
    let next = raw(
        &agent(),
        "POST",
        &format!("{}{V}/sobjects/Lead", again.instance_url()),
        Some(br#"{"LastName":"N","Company":"C"}"#.to_vec()),
        &[
            ("Authorization", format!("Bearer {token}")),
            ("Content-Type", "application/json".into()),
        ],
    );
    assert_ne!(next.json()["id"], lead.as_str(), "Ids keep counting");
    again.stop();
    let text = std::fs::read_to_string(&path).expect("read");
    std::fs::write(&path, text.replace(&org_id, "00Dbad")).expect("write");
    assert!(Emulator::start(EmulatorOptions {
        data_file: Some(path.clone()),
        ..EmulatorOptions::default()
    })
    .is_err());
    std::fs::write(&path, "{broken").expect("write");
    assert!(Emulator::start(EmulatorOptions {
        data_file: Some(path),
        ..EmulatorOptions::default()
    })
    .is_err());
}

#[test]
fn an_org_id_of_its_own_is_the_orgs_everywhere() {
    let id: OrgId = "00D5g000004FyZc".parse().expect("an org Id");
    let org = Org::with(EmulatorOptions {
        org_id: Some(id.clone()),
        ..EmulatorOptions::default()
    });
    assert_eq!(org.emulator.org_id(), "00D5g000004FyZcEAK");
    assert!(
        org.token.starts_with("00D5g000004FyZc!"),
        "the session's org"
    );
    let info = org.get("/services/oauth2/userinfo").json();
    assert_eq!(info["organization_id"], id.as_str());
    let identity = org.get_on_login_host(&format!("/id/{id}/{}", org.emulator.login_user_id()));
    assert_eq!(identity.status, 200, "{}", identity.body);
    assert_eq!(identity.json()["organization_id"], id.as_str());
    assert_eq!(org.emulator.dump()["organizationId"], id.as_str());
    // Another org's Id is not this one's.
    let default = org.get_on_login_host(&format!(
        "/id/{}/{}",
        OrgId::default(),
        org.emulator.login_user_id()
    ));
    assert_eq!(default.status, 403, "{}", default.body);
    // Ids are minted per org as before.
    let (a, b) = (
        org.create("Lead", json!({"LastName": "A", "Company": "C"})),
        org.create("Lead", json!({"LastName": "B", "Company": "C"})),
    );
    assert_ne!(a, b);
    assert_eq!(Org::start().emulator.org_id(), OrgId::default().as_str());
}

#[test]
fn a_data_file_keeps_its_org_id_and_refuses_another() {
    let dir = tempfile::tempdir().expect("tempdir");
    let options = |org_id: Option<&str>| EmulatorOptions {
        org_id: org_id.map(|id| id.parse().expect("an org Id")),
        data_file: Some(dir.path().join("org.json")),
        ..EmulatorOptions::default()
    };
    Emulator::start(options(Some("00DB00000000001")))
        .expect("start")
        .stop();
    for same in [None, Some("00DB00000000001MAA")] {
        let again = Emulator::start(options(same)).expect("restart");
        assert_eq!(again.org_id(), "00DB00000000001MAA");
        again.stop();
    }
    let err = Emulator::start(options(Some("00D000000000002")))
        .map(|_| ())
        .unwrap_err();
    assert_eq!(err.kind(), std::io::ErrorKind::InvalidInput);
    assert!(
        err.to_string()
            .contains("holds org 00DB00000000001MAA, not 00D000000000002EAA"),
        "{err}"
    );
}

#[test]
fn command_line_flags_become_options() {
    use clap::Parser;
    #[derive(clap::Parser)]
    struct Cli {
        #[command(flatten)]
        args: EmulatorArgs,
    }
    let cli = Cli::try_parse_from([
        "x",
        "--client",
        "app:secret",
        "--client",
        "other:pw",
        "--callback",
        "http://127.0.0.1:9/cb",
        "--api-limit",
        "7",
        "--duplicates",
        "block",
        "--fail-next",
        "2",
        "--fail-kind",
        "UNABLE_TO_LOCK_ROW",
        "--latency-ms",
        "5",
        "--org-id",
        "00D5g000004FyZcEAK",
    ])
    .expect("parses");
    let options = cli.args.options().expect("options");
    assert_eq!(options.clients.len(), 2);
    assert_eq!(
        (
            options.clients[1].id.as_str(),
            options.clients[1].secret.as_str()
        ),
        ("other", "pw")
    );
    assert_eq!(
        options.clients[0].callbacks,
        vec!["http://127.0.0.1:9/cb".to_string()]
    );
    assert_eq!(
        (options.api_limit, options.duplicate_rules),
        (7, crate::emulator::DuplicateRules::Block)
    );
    let faults = cli.args.faults();
    assert_eq!(
        faults.fail_next.map(|f| (f.count, f.kind)),
        Some((2, FaultKind::UnableToLockRow))
    );
    assert_eq!(faults.latency_ms, Some(5));
    assert_eq!(
        options.org_id.as_ref().map(OrgId::as_str),
        Some("00D5g000004FyZcEAK")
    );
    let bad = Cli::try_parse_from(["x", "--org-id", "001000000000001"])
        .err()
        .expect("an Account's Id is no org's");
    assert!(
        bad.to_string()
            .contains("\"001000000000001\" is not an org Id"),
        "{bad}"
    );
    assert!(Cli::try_parse_from(["x", "--client", "nosecret"])
        .expect("parses")
        .args
        .options()
        .is_err());
    assert!(Cli::try_parse_from(["x", "--duplicates", "maybe"]).is_err());
    let demo = Cli::try_parse_from(["x", "--callback", "http://localhost:7/cb"])
        .expect("parses")
        .args
        .options()
        .expect("options");
    assert_eq!(demo.clients.len(), 1);
    assert_eq!(
        (demo.clients[0].id.as_str(), demo.clients[0].callbacks.len()),
        ("demo-client", 1)
    );
    let plain = Cli::try_parse_from(["x"]).expect("parses").args;
    assert!(
        plain.options().expect("options").clients.is_empty(),
        "the demo app"
    );
    assert!(plain.faults().fail_next.is_none());
    assert_eq!(plain.options().expect("options").org_id, None);
    assert_eq!(
        plain.options().expect("options").port,
        8766,
        "the port examples/settings.json names"
    );
}

#[test]
fn the_command_prints_its_url_first_and_serves_until_told() {
    use clap::Parser;
    #[derive(clap::Parser)]
    struct Cli {
        #[command(flatten)]
        args: EmulatorArgs,
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let seed = dir.path().join("seed.json");
    std::fs::write(
        &seed,
        r#"{"records": [{"type": "User", "Email": "cli@example.com"}]}"#,
    )
    .expect("seed");
    let cert = dir.path().join("cert.pem");
    let args = Cli::try_parse_from([
        "x",
        "--port",
        "0",
        "--seed",
        seed.to_str().unwrap_or_default(),
        "--tls-cert",
        cert.to_str().unwrap_or_default(),
        "--org-id",
        "00DB00000000001",
    ])
    .expect("parses")
    .args;
    let (tx, rx) = std::sync::mpsc::channel::<String>();
    let (stop_tx, stop_rx) = std::sync::mpsc::channel::<()>();
    let runner = std::thread::spawn(move || {
        let mut out = Vec::new();
        let code = run_with_output(args, &mut LineSink(tx.clone(), &mut out), || {
            let _ = stop_rx.recv();
            Ok(())
        });
        (code, out)
    });
    let url = rx
        .recv_timeout(Duration::from_secs(10))
        .expect("first line");
    assert!(url.starts_with("http://127.0.0.1:"), "{url}");
    let r = raw(&agent(), "GET", &format!("{url}/services/data/"), None, &[]);
    assert_eq!(r.status, 200);
    let dump = raw(
        &agent(),
        "GET",
        &format!("{url}/__emulator/dump"),
        None,
        &[],
    )
    .json();
    assert_eq!(dump["objects"]["User"][0]["Email"], "cli@example.com");
    assert_eq!(dump["organizationId"], "00DB00000000001MAA");
    let pem = std::fs::read_to_string(&cert).expect("certificate written");
    assert!(pem.starts_with("-----BEGIN CERTIFICATE-----"), "{pem}");
    stop_tx.send(()).expect("stop");
    let (code, out) = runner.join().expect("joined");
    assert_eq!(code, 0);
    assert_eq!(
        String::from_utf8_lossy(&out).lines().next(),
        Some(url.as_str())
    );
    let started = Instant::now();
    while raw_connect(&url) && started.elapsed() < Duration::from_secs(5) {
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(!raw_connect(&url), "stopped serving");

    let bad = Cli::try_parse_from(["x", "--seed", "/nonexistent/seed.json"])
        .expect("parses")
        .args;
    assert_eq!(run_with_output(bad, &mut Vec::new(), || Ok(())), 2);
}

fn raw_connect(url: &str) -> bool {
    std::net::TcpStream::connect(url.trim_start_matches("http://")).is_ok()
}

/// Captures output and reports the first line as soon as it is written.
struct LineSink<'a>(std::sync::mpsc::Sender<String>, &'a mut Vec<u8>);

impl std::io::Write for LineSink<'_> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.1.extend_from_slice(buf);
        if let Some(line) = String::from_utf8_lossy(self.1)
            .lines()
            .next()
            .filter(|_| self.1.contains(&b'\n'))
        {
            let _ = self.0.send(line.to_string());
        }
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[test]
fn many_keep_alive_clients_at_once() {
    let org = Org::start();
    let threads: Vec<_> = (0..32)
        .map(|t| {
            let base = org.emulator.instance_url().to_string();
            let token = org.token.clone();
            std::thread::spawn(move || {
                let agent = agent();
                for i in 0..10 {
                    let body = format!(r#"{{"LastName":"T{t}-{i}","Company":"C"}}"#);
                    let r = raw(
                        &agent,
                        "POST",
                        &format!("{base}{V}/sobjects/Lead"),
                        Some(body.into_bytes()),
                        &[("Authorization", format!("Bearer {token}"))],
                    );
                    assert_eq!(r.status, 201);
                }
            })
        })
        .collect();
    let started = Instant::now();
    for t in threads {
        t.join().expect("thread");
    }
    assert_eq!(org.emulator.records("Lead").len(), 320);
    assert_eq!(org.emulator.api_calls(), 320);
    assert!(started.elapsed() < Duration::from_secs(20));
}

#[test]
fn headers_on_the_wire_are_spelled_like_salesforce() {
    use std::io::{Read, Write};
    let org = Org::start();
    let addr = org
        .emulator
        .instance_url()
        .trim_start_matches("http://")
        .to_string();
    let mut stream = std::net::TcpStream::connect(&addr).expect("connect");
    write!(stream, "GET {V}/limits HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {}\r\nConnection: close\r\n\r\n", org.token).expect("write");
    let mut answer = String::new();
    stream.read_to_string(&mut answer).expect("read");
    assert!(answer.starts_with("HTTP/1.1 200 OK\r\n"), "{answer}");
    assert!(
        answer.contains("\r\nSforce-Limit-Info: api-usage=1/15000\r\n"),
        "{answer}"
    );
    assert!(
        answer.contains("\r\nContent-Type: application/json;charset=UTF-8\r\n"),
        "{answer}"
    );
}

#[test]
fn the_emulator_can_be_shared_across_threads() {
    fn shareable<T: Send + Sync + 'static>(_: &T) {}
    let emulator = Emulator::start(EmulatorOptions::default()).expect("start");
    shareable(&emulator);
    let shared = std::sync::Arc::new(emulator);
    let other = shared.clone();
    let calls = std::thread::spawn(move || other.api_calls())
        .join()
        .expect("thread");
    assert_eq!(calls, 0);
}

#[test]
fn https_on_the_same_port_with_the_emulator_authority() {
    use ureq::tls::{Certificate, RootCerts, TlsConfig};
    let org = Org::start();
    let pem = org.emulator.tls_cert_pem().as_bytes().to_vec();
    let cert = Certificate::from_pem(&pem).expect("PEM").to_owned();
    let tls = TlsConfig::builder()
        .root_certs(RootCerts::Specific(std::sync::Arc::new(vec![cert])))
        .build();
    let secure = ureq::Agent::new_with_config(
        ureq::Agent::config_builder()
            .http_status_as_error(false)
            .tls_config(tls)
            .build(),
    );
    let https = |base: &str| base.replacen("http://", "https://", 1);
    let url = format!("{}{V}/limits", https(org.emulator.instance_url()));
    assert!(url.starts_with("https://localhost:"));
    let r = raw(
        &secure,
        "GET",
        &url,
        None,
        &[("Authorization", format!("Bearer {}", org.token))],
    );
    assert_eq!(
        (r.status, r.header("sforce-limit-info")),
        (200, Some("api-usage=1/15000"))
    );
    // The login host too; plain HTTP still works on the same port; an untrusted client is
    // refused.
    let login = format!("{}/services/data/", https(org.emulator.base_url()));
    assert!(login.starts_with("https://127.0.0.1:"));
    assert_eq!(raw(&secure, "GET", &login, None, &[]).status, 200);
    assert_eq!(
        raw(&agent(), "GET", &org.url("/services/data/"), None, &[]).status,
        200
    );
    let untrusting = ureq::Agent::new_with_config(ureq::Agent::config_builder().build());
    assert!(untrusting.get(&login).call().is_err());
}

/// OpenSSL (Python, Node) does not take a self-signed server certificate as its own trust
/// anchor: the server's certificate is signed by the authority clients trust, which the
/// server sends after it.
#[test]
fn the_https_certificate_is_signed_by_the_authority_clients_trust() {
    use base64::Engine as _;
    use std::sync::Arc;
    use tokio_rustls::rustls::{self, pki_types::CertificateDer, pki_types::ServerName};
    let org = Org::start();
    let body: String = org
        .emulator
        .tls_cert_pem()
        .lines()
        .filter(|l| !l.starts_with("-----"))
        .collect();
    let authority = CertificateDer::from(
        base64::engine::general_purpose::STANDARD
            .decode(body)
            .expect("PEM body"),
    );
    let mut roots = rustls::RootCertStore::empty();
    roots.add(authority.clone()).expect("a usable root");
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .expect("versions")
    .with_root_certificates(roots)
    .with_no_client_auth();
    let name = ServerName::try_from("127.0.0.1").expect("name");
    let mut tls = rustls::ClientConnection::new(Arc::new(config), name).expect("client");
    let mut tcp =
        std::net::TcpStream::connect(org.emulator.base_url().trim_start_matches("http://"))
            .expect("connect");
    while tls.is_handshaking() {
        tls.complete_io(&mut tcp).expect("handshake verifies");
    }
    let chain = tls.peer_certificates().expect("certificates");
    assert_eq!(chain.len(), 2, "server certificate, then the authority");
    assert_ne!(chain[0], authority, "not self-signed");
    assert_eq!(chain[1], authority);
}
