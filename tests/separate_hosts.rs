//! The plugin against an org whose login host and instance host differ, as on Salesforce
//! (salesforce-api.md §1.1): given only the login URL, it connects there, reads the identity URL
//! the token names (on the login host), and sends every data call to the token's
//! `instance_url`. The emulator answers a data call on the login host with 400 URL_NOT_RESET and
//! the identity URL on the instance host with 404, so a plugin that mixed them up fails here.

mod common;
#[path = "common/connected.rs"]
#[allow(dead_code)] // The harness serves several test files; this one uses part of it.
mod connected;

use connected::{chat_ended, chat_started, Connected};
use serde_json::{json, Value};

/// (host, port) of an `http://HOST:PORT` URL.
fn host_and_port(url: &str) -> (&str, &str) {
    url.trim_start_matches("http://")
        .rsplit_once(':')
        .unwrap_or_else(|| panic!("no port in {url}"))
}

fn jane() -> Value {
    json!({"name": "Jane Doe", "email": "jane@acme.example", "company": "Acme"})
}

#[test]
fn the_plugin_connects_on_the_login_host_and_writes_on_the_instance() {
    let rig = Connected::start(|settings| {
        // The only addresses the plugin is given are the login host's.
        assert_eq!(
            settings["connection"]["login_url"],
            settings["connection"]["crm_url"]
        );
    });
    let (login, instance) = (rig.org.base_url(), rig.org.instance_url());
    let (login_host, login_port) = host_and_port(login);
    let (instance_host, instance_port) = host_and_port(instance);
    assert_ne!(login_host, instance_host, "two hosts");
    assert_eq!(login_port, instance_port, "one emulator");

    let connection = rig.status()["connection"].clone();
    assert_eq!(connection["state"], "connected", "{connection}");
    assert_eq!(
        connection["instance_url"], instance,
        "the instance comes from the token, not the login URL: {connection}"
    );

    let calls = rig.deliver(&[
        chat_started("c1", jane(), json!({})),
        chat_ended("c1", jane(), json!({})),
    ]);
    assert!(calls > 0, "the chat was written through the data API");
    rig.activity_of("Case", "c1");

    // An expired session is refreshed on the login host; the next chat still goes to the
    // instance.
    rig.org.expire_access_tokens();
    rig.deliver(&[chat_ended("c2", jane(), json!({}))]);
    rig.activity_of("Case", "c2");
    let status = rig.status();
    assert_eq!(status["queue"]["failed"], 0, "{status}");
    assert_eq!(status["connection"]["state"], "connected", "{status}");
    assert_eq!(rig.records("Contact").len(), 1, "Jane once");
}
