//! End-to-end tests: an emulator in-process on a free port, spoken to over HTTP with ureq.

mod batch_tree;
mod composite;
mod data;
mod faults;
mod hosts;
mod oauth;
mod openid;
mod org;
mod queries;

use std::path::PathBuf;

use serde_json::{json, Value};
use ureq::http;

use super::{Emulator, EmulatorOptions, SeedFile};

pub const V: &str = "/services/data/v62.0";

pub struct Resp {
    pub status: u16,
    pub headers: http::HeaderMap,
    pub body: String,
}

impl Resp {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.body))
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// The first error's code of a REST error array.
    pub fn error_code(&self) -> String {
        self.json()[0]["errorCode"]
            .as_str()
            .unwrap_or_default()
            .to_string()
    }
}

pub fn agent() -> ureq::Agent {
    ureq::Agent::new_with_config(
        ureq::Agent::config_builder()
            .http_status_as_error(false)
            .max_redirects(0)
            .max_redirects_will_error(false)
            .timeout_global(Some(std::time::Duration::from_secs(20)))
            .build(),
    )
}

/// A test org: an emulator plus an access token for its login user.
pub struct Org {
    pub emulator: Emulator,
    pub token: String,
    pub agent: ureq::Agent,
}

impl Org {
    pub fn start() -> Org {
        Org::with(EmulatorOptions::default())
    }

    pub fn with(options: EmulatorOptions) -> Org {
        let emulator = Emulator::start(options).expect("emulator starts");
        let token = emulator.issue_tokens().access_token;
        Org {
            emulator,
            token,
            agent: agent(),
        }
    }

    /// Starts with a seed document.
    pub fn seeded(seed: Value) -> Org {
        Org::with(EmulatorOptions {
            seed: Some(SeedFile::from_json(&seed).expect("seed")),
            ..EmulatorOptions::default()
        })
    }

    /// `path` on the instance host, where a client sends data calls.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.emulator.instance_url())
    }

    /// A GET with the org's token on the login host, where the identity URL lives.
    pub fn get_on_login_host(&self, path: &str) -> Resp {
        raw(
            &self.agent,
            "GET",
            &format!("{}{path}", self.emulator.base_url()),
            None,
            &[("Authorization", format!("Bearer {}", self.token))],
        )
    }

    /// A request with the org's token; `path` is absolute (`/services/...`).
    pub fn send(&self, method: &str, path: &str, body: Option<&Value>) -> Resp {
        self.send_with(method, path, body, &[])
    }

    pub fn send_with(
        &self,
        method: &str,
        path: &str,
        body: Option<&Value>,
        headers: &[(&str, &str)],
    ) -> Resp {
        let mut all = vec![("Authorization", format!("Bearer {}", self.token))];
        all.extend(headers.iter().map(|(k, v)| (*k, v.to_string())));
        raw(
            &self.agent,
            method,
            &self.url(path),
            body.map(|b| b.to_string().into_bytes()),
            &all,
        )
    }

    pub fn get(&self, path: &str) -> Resp {
        self.send("GET", path, None)
    }

    /// Creates a record through the API and returns its Id.
    pub fn create(&self, object: &str, body: Value) -> String {
        let r = self.send("POST", &format!("{V}/sobjects/{object}/"), Some(&body));
        assert_eq!(r.status, 201, "create {object}: {}", r.body);
        r.json()["id"].as_str().expect("id").to_string()
    }
}

/// Any request; `body` is sent as JSON unless a Content-Type header is given.
pub fn raw(
    agent: &ureq::Agent,
    method: &str,
    url: &str,
    body: Option<Vec<u8>>,
    headers: &[(&str, String)],
) -> Resp {
    let mut builder = http::Request::builder().method(method).uri(url);
    let has_type = headers
        .iter()
        .any(|(k, _)| k.eq_ignore_ascii_case("content-type"));
    for (k, v) in headers {
        builder = builder.header(*k, v);
    }
    if body.is_some() && !has_type {
        builder = builder.header("Content-Type", "application/json");
    }
    let request = builder.body(body.unwrap_or_default()).expect("request");
    let mut response = agent
        .run(request)
        .unwrap_or_else(|e| panic!("{method} {url}: {e}"));
    Resp {
        status: response.status().as_u16(),
        headers: response.headers().clone(),
        body: response.body_mut().read_to_string().unwrap_or_default(),
    }
}

pub fn fixture(name: &str) -> Value {
    let path: PathBuf = [
        env!("CARGO_MANIFEST_DIR"),
        "..",
        "tests",
        "fixtures",
        "salesforce",
        name,
    ]
    .iter()
    .collect();
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).expect("fixture JSON")
}

/// Asserts `ours` has the fixture's structure: the same JSON types, every key of each fixture
/// object (exactly the same key set when `exact`), recursively; arrays by their first element.
pub fn assert_shape(ours: &Value, theirs: &Value, exact: bool, at: &str) {
    match (ours, theirs) {
        (_, Value::Null) | (Value::Null, _) => {}
        (Value::Object(a), Value::Object(b)) => {
            for (k, v) in b {
                let mine = a.get(k).unwrap_or_else(|| {
                    panic!(
                        "{at}: missing key {k:?} (have {:?})",
                        a.keys().collect::<Vec<_>>()
                    )
                });
                assert_shape(mine, v, exact, &format!("{at}.{k}"));
            }
            if exact {
                let extra: Vec<_> = a.keys().filter(|k| !b.contains_key(*k)).collect();
                assert!(extra.is_empty(), "{at}: keys the fixture lacks: {extra:?}");
            }
        }
        (Value::Array(a), Value::Array(b)) => {
            if let (Some(x), Some(y)) = (a.first(), b.first()) {
                assert_shape(x, y, exact, &format!("{at}[0]"));
            }
        }
        (a, b) => assert_eq!(
            std::mem::discriminant(a),
            std::mem::discriminant(b),
            "{at}: ours {a} vs fixture {b}"
        ),
    }
}

/// A seed with a Lead custom external ID field.
pub fn chat_id_seed(records: Value) -> Value {
    json!({
        "customFields": [{"object": "Lead", "name": "Chat_Id__c", "type": "string", "length": 40, "externalId": true}],
        "records": records,
    })
}
