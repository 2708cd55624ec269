//! What the benchmarks stand on: the real plugin library loaded as the host loads it, tenants
//! connected to an in-process emulator, chats to send, and the naive client they are compared to.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use cloudcx_salesforce_abi::abi_stable::std_types::{RResult, RSlice};
use cloudcx_shim::emulator::{ClientApp, Emulator, EmulatorOptions};
use cloudcx_shim::loader::{self, LoadedPlugin};
use serde_json::{json, Value};

/// No benchmark runs into the org's daily API budget.
const API_LIMIT: u64 = 1_000_000_000;

/// Where the benchmarks' queues live: on the project's disk (fsync is real there).
pub fn state_dir() -> tempfile::TempDir {
    tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).expect("a state directory")
}

/// The plugin library cargo built beside this benchmark.
pub fn plugin_path() -> PathBuf {
    let exe = std::env::current_exe().expect("the benchmark knows its executable");
    loader::plugin_beside(exe.parent().expect("in a directory"))
        .expect("cargo builds the plugin library with the benchmark")
}

/// The plugin loaded with `workers` workers and its state in `dir`.
pub fn load(dir: &std::path::Path, workers: usize) -> LoadedPlugin {
    let config = json!({"state_dir": dir.join("plugin"), "redirect_url": "http://127.0.0.1:8765/callback", "workers": workers});
    loader::start(&plugin_path(), &config.to_string()).unwrap_or_else(|e| panic!("{e}"))
}

pub fn tenant(n: usize) -> String {
    format!("t{n}")
}

/// The example settings for tenant `n` (its own connected app), with Salesforce at `url`.
pub fn settings(n: usize, url: &str) -> String {
    let mut settings: Value =
        serde_json::from_str(include_str!("../../../examples/settings.json")).unwrap();
    let connection = &mut settings["connection"];
    connection["client_id"] = json!(format!("app-{n}"));
    connection["client_secret"] = json!(format!("secret-{n}"));
    connection["login_url"] = json!(url);
    connection["crm_url"] = json!(url);
    settings.to_string()
}

pub fn configure(plugin: &LoadedPlugin, n: usize, url: &str) {
    let answer = plugin
        .plugin
        .configure_tenant(tenant(n).as_str().into(), settings(n, url).as_str().into());
    if let RResult::RErr(e) = answer {
        panic!("settings refused: {e}");
    }
}

/// Hands a `chat.ended` to its hook; answers how long the hook took.
pub fn send(plugin: &LoadedPlugin, event: &[u8]) -> Duration {
    let started = Instant::now();
    let answer = plugin.plugin.chat_ended(RSlice::from_slice(event));
    let took = started.elapsed();
    if let RResult::RErr(e) = answer {
        panic!("the hook refused: {e}");
    }
    took
}

/// A `chat.ended` of tenant `n`, from `email`; with a small file when `file`.
pub fn chat(n: usize, id: &str, email: &str, file: bool) -> Vec<u8> {
    let mut event = json!({
        "type": "chat.ended", "tenant_id": tenant(n), "id": id, "channel": "webchat",
        "at": "2026-11-24T10:07:30Z", "visitor": {"name": format!("Visitor {email}"), "email": email},
        "started_at": "2026-11-24T10:00:00Z", "ended_at": "2026-11-24T10:07:30Z",
        "messages": [
            {"at": "2026-11-24T10:00:05Z", "from": "visitor", "name": "V", "text": "Hello, my invoice is wrong"},
            {"at": "2026-11-24T10:00:20Z", "from": "agent", "name": "A", "text": "Let me check that for you"}
        ],
    });
    if file {
        event["attachments"] = json!([{"name": "invoice.pdf", "content_type": "application/pdf", "data_base64": "JVBERi0xLjQK"}]);
    }
    event.to_string().into_bytes()
}

/// An emulator with a connected app per tenant, and the plugin with `tenants` tenants
/// configured (and connected when `connect`).
pub struct Rig {
    pub org: Emulator,
    pub plugin: LoadedPlugin,
    _state: tempfile::TempDir,
}

impl Rig {
    pub fn start(tenants: usize, workers: usize, connect: bool) -> Rig {
        let org = emulator(tenants);
        let state = state_dir();
        let plugin = load(state.path(), workers);
        let rig = Rig {
            org,
            plugin,
            _state: state,
        };
        for n in 0..tenants {
            configure(&rig.plugin, n, rig.org.base_url());
            if connect {
                rig.connect(n);
            }
        }
        rig
    }

    /// Runs the OAuth flow as a browser would; the emulator approves at once.
    pub fn connect(&self, n: usize) {
        let start = answer(self.plugin.plugin.connect_start(tenant(n).as_str().into()));
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .max_redirects(0)
            .build()
            .into();
        let response = agent
            .get(start["authorize_url"].as_str().unwrap())
            .call()
            .unwrap();
        let location = response.headers()["location"].to_str().unwrap();
        let query = location.split_once('?').map_or("", |(_, q)| q);
        let redirect: serde_json::Map<String, Value> = form_urlencoded::parse(query.as_bytes())
            .map(|(k, v)| (k.into_owned(), Value::String(v.into_owned())))
            .collect();
        answer(self.plugin.plugin.connect_finish(
            tenant(n).as_str().into(),
            Value::Object(redirect).to_string().as_str().into(),
        ));
    }

    /// The tenant's `written` counter.
    pub fn written(&self, n: usize) -> u64 {
        let status = answer(self.plugin.plugin.status(tenant(n).as_str().into()));
        status["queue"]["written"].as_u64().unwrap()
    }

    /// Waits until `count` events of each of the first `tenants` tenants are written.
    pub fn wait_written(&self, tenants: usize, count: u64) {
        let deadline = Instant::now() + Duration::from_secs(1800);
        while (0..tenants).any(|n| self.written(n) < count) {
            assert!(Instant::now() < deadline, "delivery did not finish");
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    /// Sends chats and waits for them; answers the API calls they cost.
    pub fn deliver(&self, chats: &[Vec<u8>]) -> u64 {
        let before = self.org.api_calls();
        let written = self.written(0);
        for chat in chats {
            send(&self.plugin, chat);
        }
        self.wait_written(1, written + chats.len() as u64);
        self.org.api_calls() - before
    }
}

/// A fresh emulator with an app per tenant (`app-N` / `secret-N`).
pub fn emulator(tenants: usize) -> Emulator {
    Emulator::start(EmulatorOptions {
        clients: (0..tenants.max(1))
            .map(|n| ClientApp {
                id: format!("app-{n}"),
                secret: format!("secret-{n}"),
                callbacks: Vec::new(),
            })
            .collect(),
        api_limit: API_LIMIT,
        ..EmulatorOptions::default()
    })
    .expect("the emulator starts")
}

fn answer(result: cloudcx_salesforce_abi::JsonResult) -> Value {
    match result {
        RResult::ROk(text) => serde_json::from_str(&text).unwrap(),
        RResult::RErr(e) => panic!("the plugin refused: {e}"),
    }
}

/// The baseline client: per chat, a query for the Contact, a create of the Contact (unless the
/// query found it), a create of the Case. Nothing combined, nothing remembered. Clones share
/// one token (the emulator keeps five grants per user and app).
#[derive(Clone)]
pub struct Naive {
    agent: ureq::Agent,
    data: String,
    bearer: String,
}

impl Naive {
    pub fn new(org: &Emulator) -> Naive {
        Naive {
            agent: ureq::Agent::new_with_defaults(),
            data: format!("{}/services/data/v62.0", org.instance_url()),
            bearer: format!("Bearer {}", org.issue_tokens().access_token),
        }
    }

    pub fn chat(&self, id: &str, email: &str) {
        let soql = format!("SELECT Id FROM Contact WHERE Email = '{email}' LIMIT 1");
        let q: String = form_urlencoded::byte_serialize(soql.as_bytes()).collect();
        let found = self.get(&format!("/query?q={q}"));
        let contact = match found["records"][0]["Id"].as_str() {
            Some(id) => id.to_string(),
            None => self.create(
                "Contact",
                json!({"LastName": format!("Visitor {email}"), "Email": email}),
            ),
        };
        self.create(
            "Case",
            json!({"Subject": format!("Chat {id}"), "ContactId": contact, "Origin": "Web"}),
        );
    }

    /// One simple request (the emulator's request-rate benchmark).
    pub fn get(&self, path: &str) -> Value {
        self.agent
            .get(format!("{}{path}", self.data))
            .header("Authorization", &self.bearer)
            .call()
            .unwrap()
            .body_mut()
            .read_json()
            .unwrap()
    }

    fn create(&self, object: &str, record: Value) -> String {
        let created: Value = self
            .agent
            .post(format!("{}/sobjects/{object}", self.data))
            .header("Authorization", &self.bearer)
            .send_json(record)
            .unwrap()
            .body_mut()
            .read_json()
            .unwrap();
        created["id"].as_str().unwrap().to_string()
    }
}
