//! `cloudcx-shim demo`: the whole product in one command, on the built-in emulator.
//!
//! Starts the emulator with a small org (`examples/demo-org.json`), loads the plugin with its
//! state in a temporary directory (or `--state-dir`), applies `examples/settings.json` pointed
//! at the emulator, connects tenant `demo` through the full OAuth flow, replays
//! `examples/events.jsonl`, waits until every event is written, and prints what Salesforce got,
//! the API calls it cost and the customer view of a returning customer. The examples are built
//! in, so the demo runs from any directory.

use std::collections::HashMap;
use std::io::Cursor;
use std::path::{Path, PathBuf};
use std::time::Duration;

use clap::Args;
use cloudcx_salesforce_abi::abi_stable::std_types::RResult;
use serde_json::{json, Value};

use crate::cli::{exit, fail, start_plugin};
use crate::emulator::{self, Emulator, EmulatorOptions, SeedFile};
use crate::replay;
use crate::state::{self, ShimState};
use crate::tables::{self, cell, table};

const TENANT: &str = "demo";
const SEED: &str = include_str!("../../examples/demo-org.json");
const SETTINGS: &str = include_str!("../../examples/settings.json");
const EVENTS: &str = include_str!("../../examples/events.jsonl");
/// The returning customer, whose customer view the demo shows.
const RETURNING: &str = "jane@acme.example";
/// Long enough for a slow machine; the demo takes a second or two.
const DELIVERY_WAIT: Duration = Duration::from_secs(60);

#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Keep the emulator running after the report, to browse the org, until Ctrl-C
    #[arg(long)]
    pub keep: bool,
}

/// Runs the demo; `state_dir` is `--state-dir` when given.
pub fn run(args: &DemoArgs, state_dir: Option<&Path>, plugin: Option<&Path>) -> u8 {
    let temp;
    let dir: PathBuf = match state_dir {
        Some(dir) => dir.to_path_buf(),
        None => match tempfile::tempdir() {
            Ok(made) => {
                temp = made;
                temp.path().to_path_buf()
            }
            Err(e) => return fail(exit::FAILED, &format!("cannot make a state directory: {e}")),
        },
    };
    let seed = serde_json::from_str(SEED)
        .map_err(|e| e.to_string())
        .and_then(|v| SeedFile::from_json(&v));
    let org = match seed.and_then(|seed| {
        Emulator::start(EmulatorOptions {
            seed: Some(seed),
            ..EmulatorOptions::default()
        })
        .map_err(|e| format!("the emulator cannot start: {e}"))
    }) {
        Ok(org) => org,
        Err(message) => return fail(exit::FAILED, &message),
    };
    println!(
        "Salesforce emulator: {} (a small seeded org)",
        org.base_url()
    );
    let code = match Demo::prepare(&dir, &org, plugin) {
        Ok(demo) => demo.run(),
        Err(code) => code,
    };
    if args.keep {
        println!(
            "\nThe org stays at {}/ until Ctrl-C (state in {}).",
            org.base_url(),
            dir.display()
        );
        if let Err(e) = emulator::wait_for_signal() {
            return fail(exit::FAILED, &format!("waiting for Ctrl-C: {e}"));
        }
    } else {
        println!(
            "\nTo browse the org in a browser, run the demo with --keep and open {}/ \
             (every record, as the plugin left it).",
            org.base_url()
        );
    }
    org.stop();
    code
}

/// The plugin loaded for tenant `demo`, settings applied, beside the emulator.
struct Demo<'a> {
    org: &'a Emulator,
    loaded: crate::loader::LoadedPlugin,
}

impl<'a> Demo<'a> {
    fn prepare(dir: &Path, org: &'a Emulator, plugin: Option<&Path>) -> Result<Demo<'a>, u8> {
        let redirect = free_port()
            .map(|port| format!("http://127.0.0.1:{port}/callback"))
            .map_err(|e| fail(exit::FAILED, &format!("no free port for the redirect: {e}")))?;
        let config = json!({
            "state_dir": dir.join("plugin"), "redirect_url": redirect,
            "api_version": "v62.0", "workers": 4,
        });
        let text = serde_json::to_string_pretty(&config).expect("a JSON value serializes");
        std::fs::create_dir_all(dir)
            .map_err(|e| e.to_string())
            .and_then(|()| state::write_private(&dir.join("host.json"), &text))
            .map_err(|m| fail(exit::FAILED, &m))?;
        let state = ShimState::new(dir, None);
        let mut settings: Value = serde_json::from_str(SETTINGS).expect("the example settings");
        settings["connection"]["login_url"] = json!(org.base_url());
        settings["connection"]["crm_url"] = json!(org.base_url());
        let settings = settings.to_string();
        let loaded = start_plugin(&state, plugin)?;
        if let RResult::RErr(e) = loaded
            .plugin
            .configure_tenant(TENANT.into(), settings.as_str().into())
        {
            return Err(fail(exit::FAILED, &format!("example settings: {e}")));
        }
        // Kept for the shim's other commands on a --state-dir.
        state
            .save_settings(TENANT, &settings)
            .map_err(|m| fail(exit::FAILED, &m))?;
        println!("Settings: examples/settings.json, pointed at the emulator.\n");
        crate::connect::run(&loaded.plugin, TENANT, &redirect, true)
            .map_err(|m| fail(exit::FAILED, &m))?;
        let who = crate::tables::cell(&org.records("User")[0]["Username"]);
        println!(
            "Connected tenant {TENANT} through OAuth (authorize, redirect, token) as {who}.\n"
        );
        Ok(Demo { org, loaded })
    }

    fn run(&self) -> u8 {
        let plugin = &self.loaded.plugin;
        let seeded: Vec<Value> = ["Contact", "Lead", "Case", "Task", "ContentVersion"]
            .iter()
            .flat_map(|object| self.org.records(object))
            .map(|r| r["Id"].clone())
            .collect();
        let calls = self.org.api_calls();
        let tally = replay::feed(
            plugin,
            TENANT,
            Cursor::new(EVENTS),
            |line, message| eprintln!("examples/events.jsonl:{line}: {message}"),
            |_| {},
        )
        .expect("reading built-in text cannot fail");
        println!(
            "Replayed examples/events.jsonl: {} events accepted by the plugin's hooks.",
            tally.accepted
        );
        let queue = match replay::wait_for_delivery(plugin, TENANT, DELIVERY_WAIT) {
            Ok(queue) => queue,
            Err(e) => return fail(exit::FAILED, &format!("{} ({})", e.message, e.code)),
        };
        let spent = self.org.api_calls() - calls;
        self.report(&seeded);
        println!(
            "\n{} events written, {} failed, {} still queued; Salesforce API calls spent: {spent}.",
            queue.written, queue.failed, queue.pending
        );
        for failure in &queue.failures {
            println!("  failed: {failure}");
        }
        self.customer_view();
        let every_line = EVENTS.lines().filter(|l| !l.trim().is_empty()).count();
        if tally.accepted == every_line && queue.pending + queue.failed == 0 {
            exit::OK
        } else {
            fail(exit::FAILED, "not every example event was written")
        }
    }

    /// What the events made in Salesforce, one table per object.
    fn report(&self, seeded: &[Value]) {
        let names = self.names();
        let name = |v: &Value| names.get(&cell(v)).cloned().unwrap_or_else(|| cell(v));
        let made = |object: &str| -> Vec<Value> {
            let rows = self.org.records(object);
            rows.into_iter()
                .filter(|r| !seeded.contains(&r["Id"]))
                .collect()
        };
        let sections: [(&str, &str, &[&str]); 5] = [
            (
                "Contact",
                "Contacts",
                &["Name", "Email", "Phone", "Account", "Owner"],
            ),
            (
                "Lead",
                "Leads",
                &["Name", "Company", "Email", "LeadSource", "Owner"],
            ),
            (
                "Case",
                "Cases",
                &["CaseNumber", "Subject", "Contact", "Owner", "Status"],
            ),
            ("Task", "Tasks", &["Subject", "Who", "Owner", "Status"]),
            ("ContentVersion", "Files", &["Title", "Attached to"]),
        ];
        for (object, title, columns) in sections {
            let rows: Vec<Vec<String>> = made(object)
                .iter()
                .map(|r| {
                    columns
                        .iter()
                        .map(|c| match *c {
                            "Name" => names.get(&cell(&r["Id"])).cloned().unwrap_or_default(),
                            "Account" => name(&r["AccountId"]),
                            "Owner" => name(&r["OwnerId"]),
                            "Contact" => name(&r["ContactId"]),
                            "Who" => name(&r["WhoId"]),
                            "Attached to" => name(&r["FirstPublishLocationId"]),
                            field => cell(&r[field]),
                        })
                        .collect()
                })
                .collect();
            println!("\n{title} created: {}", rows.len());
            if !rows.is_empty() {
                println!("{}", table(columns, rows));
            }
        }
    }

    /// Record Id → a name a person knows it by, for every record in the org.
    fn names(&self) -> HashMap<String, String> {
        let mut names = HashMap::new();
        for object in ["User", "Account", "Contact", "Lead", "Case", "Task"] {
            for r in self.org.records(object) {
                let full = [&r["FirstName"], &r["LastName"]]
                    .into_iter()
                    .map(cell)
                    .filter(|p| !p.is_empty())
                    .collect::<Vec<_>>()
                    .join(" ");
                let label = match object {
                    "User" => format!("{full} <{}>", cell(&r["Email"])),
                    "Account" => cell(&r["Name"]),
                    "Case" => format!("Case {}", cell(&r["CaseNumber"])),
                    "Task" => format!("Task {}", cell(&r["Subject"])),
                    _ => full,
                };
                names.insert(cell(&r["Id"]), label);
            }
        }
        names
    }

    /// The agent console's view of the returning customer.
    fn customer_view(&self) {
        let request = json!({"tenant_id": TENANT, "visitor": {"email": RETURNING}});
        let answer = self
            .loaded
            .plugin
            .lookup(request.to_string().as_str().into(), 3_000);
        println!("\nThe agent console's customer view of {RETURNING} (cloudcx-shim lookup):");
        match answer {
            RResult::ROk(text) => match serde_json::from_str::<Value>(&text) {
                Ok(view) => println!("{}", tables::customer_view(&view)),
                Err(_) => println!("{text}"),
            },
            RResult::RErr(e) => println!("  {e}"),
        }
    }
}

fn free_port() -> std::io::Result<u16> {
    std::net::TcpListener::bind(("127.0.0.1", 0))?
        .local_addr()
        .map(|a| a.port())
}
