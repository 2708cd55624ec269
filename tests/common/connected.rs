//! A tenant connected to an in-process emulator through the real plugin library: the ground on
//! which delivery tests stand. Included by `#[path = "common/connected.rs"] mod connected;`.

use std::path::Path;
use std::time::{Duration, Instant};

use cloudcx_salesforce_abi::abi_stable::std_types::{RResult, RSlice};
use cloudcx_salesforce_abi::PluginError;
use cloudcx_shim::emulator::{Emulator, EmulatorOptions};
use cloudcx_shim::loader::{self, LoadedPlugin};
use serde_json::{json, Map, Value};

pub const TENANT: &str = "acme";

/// How long a test waits for delivery, at most.
pub const DELIVERY: Duration = Duration::from_secs(30);

pub struct Connected {
    pub org: Emulator,
    pub plugin: LoadedPlugin,
    /// The plugin's state directory, removed when the test ends.
    state: tempfile::TempDir,
}

/// The example settings, pointed at `org`, with `patch` applied.
pub fn settings_for(org: &Emulator, patch: impl FnOnce(&mut Value)) -> Value {
    let text =
        std::fs::read_to_string(crate::common::repo_root().join("examples/settings.json")).unwrap();
    let mut settings: Value = serde_json::from_str(&text).unwrap();
    settings["connection"]["login_url"] = json!(org.base_url());
    settings["connection"]["crm_url"] = json!(org.base_url());
    patch(&mut settings);
    settings
}

impl Connected {
    /// An emulator, the plugin with its state in a new directory, the tenant's settings (the
    /// examples', changed by `patch`), and the OAuth flow run to the end.
    pub fn start(patch: impl FnOnce(&mut Value)) -> Connected {
        let org = Emulator::start(EmulatorOptions::default()).expect("the emulator starts");
        let dir = tempfile::tempdir().unwrap();
        let plugin = start_plugin(dir.path());
        let settings = settings_for(&org, patch);
        let connected = Connected {
            org,
            plugin,
            state: dir,
        };
        connected.configure(&settings);
        connected.connect();
        connected
    }

    pub fn configure(&self, settings: &Value) {
        self.configure_tenant(TENANT, settings);
    }

    /// Enables another tenant of the same plugin (or changes one's settings).
    pub fn configure_tenant(&self, tenant: &str, settings: &Value) {
        let answer = self
            .plugin
            .plugin
            .configure_tenant(tenant.into(), settings.to_string().as_str().into());
        if let RResult::RErr(e) = answer {
            panic!("settings refused: {e}");
        }
    }

    /// Runs the OAuth flow as a browser would against the emulator, which approves at once.
    pub fn connect(&self) -> Value {
        self.connect_tenant(TENANT)
    }

    /// Connects a tenant through the OAuth flow, to the org its settings name; answers who is
    /// connected.
    pub fn connect_tenant(&self, tenant: &str) -> Value {
        let start = crate::common::answer(self.plugin.plugin.connect_start(tenant.into()));
        let redirect = follow(start["authorize_url"].as_str().unwrap());
        crate::common::answer(self.plugin.plugin.connect_finish(
            tenant.into(),
            Value::Object(redirect).to_string().as_str().into(),
        ))
    }

    /// The plugin's state directory (its `state_dir`, under the host's).
    #[allow(dead_code)] // not every test file looks at the plugin's files
    pub fn state_dir(&self) -> std::path::PathBuf {
        self.state.path().join("plugin")
    }

    /// Hands an event to its hook.
    pub fn send(&self, event: &Value) -> Result<(), PluginError> {
        let bytes = event.to_string().into_bytes();
        let payload = RSlice::from_slice(&bytes);
        let plugin = &self.plugin.plugin;
        let answer = match event["type"].as_str().unwrap() {
            "chat.started" => plugin.chat_started(payload),
            "chat.ended" => plugin.chat_ended(payload),
            "chat.offline_message" => plugin.chat_offline_message(payload),
            "inbox.conversation_started" => plugin.inbox_conversation_started(payload),
            "inbox.conversation_ended" => plugin.inbox_conversation_ended(payload),
            other => panic!("no hook for {other}"),
        };
        match answer {
            RResult::ROk(()) => Ok(()),
            RResult::RErr(e) => Err(e),
        }
    }

    /// Stops the plugin as the host does at exit and starts it again on the same state (the
    /// host hands the settings over again).
    pub fn restart(&mut self, settings: &Value) {
        self.plugin.plugin.shutdown();
        self.plugin = start_plugin(self.state.path());
        self.configure(settings);
    }

    pub fn status(&self) -> Value {
        self.status_of(TENANT)
    }

    pub fn status_of(&self, tenant: &str) -> Value {
        crate::common::answer(self.plugin.plugin.status(tenant.into()))
    }

    /// Waits until the tenant's status satisfies `done`; answers it then.
    pub fn wait_for(&self, what: &str, done: impl Fn(&Value) -> bool) -> Value {
        self.wait_for_tenant(TENANT, what, done)
    }

    /// Waits until a tenant's status satisfies `done`; answers it then.
    pub fn wait_for_tenant(
        &self,
        tenant: &str,
        what: &str,
        done: impl Fn(&Value) -> bool,
    ) -> Value {
        let deadline = Instant::now() + DELIVERY;
        loop {
            let status = self.status_of(tenant);
            if done(&status) {
                return status;
            }
            assert!(
                Instant::now() < deadline,
                "waited in vain for {what}: {status}"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Waits until the tenant's queue is empty; answers the status then.
    pub fn delivered(&self) -> Value {
        self.wait_for("an empty queue", |s| s["queue"]["pending"] == 0)
    }

    /// Waits until the host has heard `count` notifications that satisfy `which`; answers all
    /// it heard. The plugin notifies once an outcome is on disk, a moment after `status` can
    /// already show it.
    pub fn heard(&self, what: &str, count: usize, which: impl Fn(&Value) -> bool) -> Vec<Value> {
        crate::common::eventually(what, DELIVERY, || {
            let heard = self.plugin.host.notifications();
            (heard.iter().filter(|n| which(n)).count() >= count).then_some(heard)
        })
    }

    /// Waits until the tenant's lane is paused; answers the status then.
    pub fn held(&self) -> Value {
        self.wait_for("a hold", |s| !s["queue"]["held"].is_null())
    }

    /// Sends events and waits for them to be delivered; answers the API calls they cost.
    pub fn deliver(&self, events: &[Value]) -> u64 {
        let before = self.org.api_calls();
        for event in events {
            self.send(event).unwrap_or_else(|e| panic!("{e}"));
        }
        self.delivered();
        self.org.api_calls() - before
    }

    pub fn records(&self, object: &str) -> Vec<Value> {
        self.org.records(object)
    }
}

/// Loads the real plugin library with its state under `dir`.
pub fn start_plugin(dir: &Path) -> LoadedPlugin {
    loader::start(
        &crate::common::plugin_path(),
        &crate::common::host_config(dir),
    )
    .unwrap_or_else(|e| panic!("{e}"))
}

/// GETs the authorize URL without following the redirect; answers the redirect's query.
fn follow(authorize_url: &str) -> Map<String, Value> {
    let agent = ureq::Agent::config_builder()
        .max_redirects(0)
        .http_status_as_error(false)
        .build()
        .new_agent();
    let response = agent.get(authorize_url).call().unwrap();
    let location = response.headers()["location"].to_str().unwrap().to_string();
    let query = location.split_once('?').map_or("", |(_, q)| q);
    form_urlencoded::parse(query.as_bytes())
        .map(|(k, v)| (k.into_owned(), Value::String(v.into_owned())))
        .collect()
}

/// A `chat.ended` of the tenant, with `visitor`, and `extra` fields merged in.
pub fn chat_ended(id: &str, visitor: Value, extra: Value) -> Value {
    let mut event = json!({
        "type": "chat.ended", "tenant_id": TENANT, "id": id, "channel": "webchat",
        "at": "2026-11-24T10:07:30Z", "visitor": visitor,
        "started_at": "2026-11-24T10:00:00Z", "ended_at": "2026-11-24T10:07:30Z",
        "messages": [
            {"at": "2026-11-24T10:00:05Z", "from": "visitor", "name": "V", "text": "Hello"},
            {"at": "2026-11-24T10:00:20Z", "from": "agent", "name": "A", "text": "Hi there"}
        ],
    });
    if let (Some(event), Value::Object(extra)) = (event.as_object_mut(), extra) {
        event.extend(extra);
    }
    event
}

/// A `chat.started` of the tenant, with `visitor`, and `extra` fields merged in.
pub fn chat_started(id: &str, visitor: Value, extra: Value) -> Value {
    merged(
        json!({
            "type": "chat.started", "tenant_id": TENANT, "id": id, "channel": "webchat",
            "at": "2026-11-24T10:00:00Z", "visitor": visitor, "started_at": "2026-11-24T10:00:00Z",
        }),
        extra,
    )
}

/// A `chat.offline_message` of the tenant, with `visitor`, and `extra` fields merged in.
pub fn offline_message(id: &str, visitor: Value, extra: Value) -> Value {
    merged(
        json!({
            "type": "chat.offline_message", "tenant_id": TENANT, "id": id, "channel": "webchat",
            "at": "2026-11-24T22:40:00Z", "visitor": visitor, "message": "Please call me back",
        }),
        extra,
    )
}

/// An `inbox.conversation_started` of the tenant, with `contact` (Inbox names).
pub fn conversation_started(id: &str, contact: Value, extra: Value) -> Value {
    merged(
        json!({
            "type": "inbox.conversation_started", "tenant_id": TENANT, "id": id,
            "channel": "email", "at": "2026-11-24T09:00:00Z", "contact": contact,
            "subject": "Order 77", "started_at": "2026-11-24T09:00:00Z",
        }),
        extra,
    )
}

/// An `inbox.conversation_ended` of the tenant, with `contact` (Inbox names).
pub fn conversation_ended(id: &str, contact: Value, extra: Value) -> Value {
    merged(
        json!({
            "type": "inbox.conversation_ended", "tenant_id": TENANT, "id": id,
            "channel": "email", "at": "2026-11-24T09:30:00Z", "contact": contact,
            "subject": "Order 77", "started_at": "2026-11-24T09:00:00Z",
            "ended_at": "2026-11-24T09:30:00Z",
            "messages": [
                {"at": "2026-11-24T09:00:05Z", "from": "visitor", "name": "C", "text": "Where is order 77?"},
                {"at": "2026-11-24T09:10:00Z", "from": "agent", "name": "A", "text": "On its way"}
            ],
        }),
        extra,
    )
}

fn merged(mut event: Value, extra: Value) -> Value {
    if let (Some(event), Value::Object(extra)) = (event.as_object_mut(), extra) {
        event.extend(extra);
    }
    event
}

/// `n` attachments named `file-<i>.bin`, each of different bytes; answers them with their
/// bytes.
pub fn attachments(n: usize) -> (Value, Vec<(String, Vec<u8>)>) {
    use base64::Engine;
    let files: Vec<(String, Vec<u8>)> = (0..n)
        .map(|i| {
            let bytes: Vec<u8> = (0..(100 + i * 7)).map(|b| (b * 31 + i) as u8).collect();
            (format!("file-{i}.bin"), bytes)
        })
        .collect();
    let json: Vec<Value> = files
        .iter()
        .map(|(name, bytes)| {
            json!({"name": name, "content_type": "application/octet-stream",
                   "data_base64": base64::engine::general_purpose::STANDARD.encode(bytes)})
        })
        .collect();
    (Value::Array(json), files)
}

impl Connected {
    /// The Cases or Tasks (`object`) whose Subject carries the chat's key.
    pub fn activities_of(&self, object: &str, chat: &str) -> Vec<Value> {
        let key = format!("[CloudCX {TENANT}/{chat}]");
        self.records(object)
            .into_iter()
            .filter(|r| r["Subject"].as_str().is_some_and(|s| s.ends_with(&key)))
            .collect()
    }

    /// The one Case or Task the chat became; panics unless there is exactly one.
    pub fn activity_of(&self, object: &str, chat: &str) -> Value {
        let found = self.activities_of(object, chat);
        assert_eq!(found.len(), 1, "one {object} for {chat}: {found:#?}");
        found.into_iter().next().unwrap()
    }

    /// The files (ContentVersions) first published on `record`.
    pub fn files_on(&self, record: &Value) -> Vec<Value> {
        self.records("ContentVersion")
            .into_iter()
            .filter(|f| f["FirstPublishLocationId"] == record["Id"])
            .collect()
    }

    /// A file's bytes, as Salesforce serves them (one API call).
    pub fn file_bytes(&self, file: &Value) -> Vec<u8> {
        let tokens = self.org.issue_tokens();
        let url = format!(
            "{}/services/data/v62.0/sobjects/ContentVersion/{}/VersionData",
            self.org.instance_url(),
            file["Id"].as_str().unwrap()
        );
        let mut response = ureq::get(&url)
            .header("Authorization", &format!("Bearer {}", tokens.access_token))
            .call()
            .unwrap();
        response.body_mut().read_to_vec().unwrap()
    }

    /// Every attachment in `expected` is on `record` exactly once, byte for byte.
    pub fn assert_files(&self, record: &Value, expected: &[(String, Vec<u8>)]) {
        let files = self.files_on(record);
        let titles: Vec<&str> = files.iter().filter_map(|f| f["Title"].as_str()).collect();
        assert_eq!(
            files.len(),
            expected.len(),
            "files on the record: {titles:?}"
        );
        for (name, bytes) in expected {
            let stem = name.rsplit_once('.').map_or(name.as_str(), |(s, _)| s);
            let same: Vec<&Value> = files
                .iter()
                .filter(|f| f["PathOnClient"] == name.as_str() || f["Title"] == stem)
                .collect();
            assert_eq!(same.len(), 1, "{name} once: {titles:?}");
            assert_eq!(&self.file_bytes(same[0]), bytes, "{name} byte for byte");
        }
    }
}

impl Connected {
    /// Like [`Connected::start`], against an emulator the test started itself.
    pub fn start_on(org: Emulator, patch: impl FnOnce(&mut Value)) -> Connected {
        let dir = tempfile::tempdir().unwrap();
        let plugin = start_plugin(dir.path());
        let settings = settings_for(&org, patch);
        let connected = Connected {
            org,
            plugin,
            state: dir,
        };
        connected.configure(&settings);
        connected.connect();
        connected
    }

    /// Enables and connects another tenant of the same plugin to the same org.
    pub fn add_tenant(&self, tenant: &str, settings: &Value) {
        let plugin = &self.plugin.plugin;
        let answer = plugin.configure_tenant(tenant.into(), settings.to_string().as_str().into());
        if let RResult::RErr(e) = answer {
            panic!("settings refused: {e}");
        }
        let start = crate::common::answer(plugin.connect_start(tenant.into()));
        let redirect = follow(start["authorize_url"].as_str().unwrap());
        crate::common::answer(plugin.connect_finish(
            tenant.into(),
            Value::Object(redirect).to_string().as_str().into(),
        ));
    }

    /// Queues `events` while the tenant is disconnected: the first is taken and held before any
    /// request leaves, the others wait behind the hold. Reconnecting sends them as one batch.
    pub fn queue_disconnected(&self, events: &[Value]) {
        let answer = self.plugin.plugin.disconnect(TENANT.into());
        assert!(matches!(answer, RResult::ROk(_)), "disconnected");
        self.send(&events[0]).unwrap_or_else(|e| panic!("{e}"));
        self.held();
        for event in &events[1..] {
            self.send(event).unwrap_or_else(|e| panic!("{e}"));
        }
    }

    /// Changes record `id` as a user of the org would, again until it is the most recently
    /// modified of its object's records: Salesforce (and the emulator) keep a LastModifiedDate
    /// to the second, so a change just after another may tie with it.
    pub fn make_newest(&self, object: &str, id: &str, fields: Value) {
        let modified = |r: &Value| {
            r["LastModifiedDate"]
                .as_str()
                .unwrap_or_default()
                .to_string()
        };
        crate::common::eventually(
            &format!("{object} {id} the most recently modified"),
            DELIVERY,
            || {
                self.org.update(object, id, &fields).unwrap();
                let records = self.records(object);
                let newest = modified(records.iter().find(|r| r["Id"] == id)?);
                let others = records.iter().filter(|r| r["Id"] != id);
                others.map(modified).all(|m| m < newest).then_some(())
            },
        );
    }
}

impl Connected {
    /// Gives the org the external-ID field that makes CloudCX upsert Cases, and reconnects
    /// the tenant so that the org's describe is read again.
    pub fn with_the_key_field(&self) {
        self.org
            .seed(
                &json!({"customFields": [{"object": "Case", "name": "CloudCX_Key__c",
                                            "type": "string", "length": 255, "externalId": true}]}),
            )
            .unwrap();
        self.plugin.plugin.disconnect(TENANT.into());
        self.connect();
    }
}
