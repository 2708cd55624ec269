//! `cloudcx-shim replay`: feeds a JSON-lines file of events to the plugin's hooks.
//!
//! A line that is not an event is reported with its line number; the rest of the file still
//! goes through.

use std::fs::File;
use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use clap::Args;
use cloudcx_salesforce_abi::abi_stable::std_types::{RResult, RSlice};
use cloudcx_salesforce_abi::{PluginBox, PluginError};
use indicatif::{ProgressBar, ProgressStyle};
use serde_json::Value;

use crate::cli::{exit, fail};
use crate::loader::LoadedPlugin;

#[derive(Debug, Args)]
pub struct ReplayArgs {
    /// The tenant whose events these are
    #[arg(long, value_name = "T")]
    pub tenant: String,
    /// JSON lines, one event (host contract §3) per line
    pub file: PathBuf,
    /// Seconds to wait for the tenant's queue to drain
    #[arg(long, value_name = "SECS", default_value_t = 60)]
    pub wait: u64,
}

/// What became of the file's lines.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Tally {
    pub accepted: usize,
    /// Lines that are not events of this tenant (reported with their line numbers).
    pub malformed: usize,
    /// Events the plugin refused.
    pub refused: usize,
}

pub fn run(loaded: &LoadedPlugin, args: &ReplayArgs) -> u8 {
    let file = match File::open(&args.file) {
        Ok(file) => file,
        Err(e) => return fail(exit::BAD_INPUT, &format!("{}: {e}", args.file.display())),
    };
    let size = file.metadata().map(|m| m.len()).unwrap_or(0);
    let progress = ProgressBar::new(size).with_style(
        ProgressStyle::with_template("{spinner} [{bar:30}] {bytes}/{total_bytes} {msg}")
            .expect("a valid template")
            .progress_chars("=> "),
    );
    let name = args.file.display().to_string();
    let tally = feed(
        &loaded.plugin,
        &args.tenant,
        BufReader::new(file),
        |line, message| progress.suspend(|| eprintln!("{name}:{line}: {message}")),
        |bytes| progress.inc(bytes as u64),
    );
    progress.finish_and_clear();
    let tally = match tally {
        Ok(tally) => tally,
        Err(e) => return fail(exit::BAD_INPUT, &format!("{name}: {e}")),
    };
    println!(
        "{name}: {} events accepted, {} refused by the plugin, {} malformed lines",
        tally.accepted, tally.refused, tally.malformed
    );
    let settled = wait_for_delivery(&loaded.plugin, &args.tenant, Duration::from_secs(args.wait));
    match settled {
        Ok(queue) => {
            println!(
                "tenant {}: {} written, {} failed for good, {} still queued",
                args.tenant, queue.written, queue.failed, queue.pending
            );
            if let Some(reason) = &queue.held {
                println!("tenant {} is paused: {reason}", args.tenant);
            }
            for failure in &queue.failures {
                println!("  failed: {failure}");
            }
            if (tally.refused + tally.malformed) as u64 + queue.failed + queue.pending == 0 {
                exit::OK
            } else {
                exit::FAILED
            }
        }
        Err(e) => fail(exit::FAILED, &format!("{} ({})", e.message, e.code)),
    }
}

/// The tenant's queue as `status` tells it.
pub(crate) struct QueueState {
    pub pending: u64,
    pub written: u64,
    pub failed: u64,
    pub held: Option<String>,
    pub failures: Vec<String>,
}

/// Waits until the tenant's queue is empty, or paused, or `wait` has passed.
pub(crate) fn wait_for_delivery(
    plugin: &PluginBox,
    tenant: &str,
    wait: Duration,
) -> Result<QueueState, PluginError> {
    let deadline = Instant::now() + wait;
    loop {
        let status: Value = match plugin.status(tenant.into()) {
            RResult::ROk(text) => serde_json::from_str(&text).unwrap_or(Value::Null),
            RResult::RErr(e) => return Err(e),
        };
        let queue = &status["queue"];
        let state = QueueState {
            pending: queue["pending"].as_u64().unwrap_or(0),
            written: queue["written"].as_u64().unwrap_or(0),
            failed: queue["failed"].as_u64().unwrap_or(0),
            held: queue["held"]["reason"].as_str().map(str::to_string),
            failures: status["failures"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|f| {
                    format!(
                        "{} {}: {}: {}",
                        f["event_type"].as_str().unwrap_or("?"),
                        f["event_id"].as_str().unwrap_or("?"),
                        f["error_code"].as_str().unwrap_or("?"),
                        f["message"].as_str().unwrap_or("?")
                    )
                })
                .collect(),
        };
        if state.pending == 0 || state.held.is_some() || Instant::now() >= deadline {
            return Ok(state);
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Feeds every line of `input` to the hook its `type` names, reporting each bad line by number.
pub fn feed(
    plugin: &PluginBox,
    tenant: &str,
    mut input: impl BufRead,
    mut report: impl FnMut(usize, &str),
    mut advanced: impl FnMut(usize),
) -> std::io::Result<Tally> {
    let mut tally = Tally::default();
    let mut line = Vec::new();
    let mut number = 0;
    loop {
        line.clear();
        let read = input.read_until(b'\n', &mut line)?;
        if read == 0 {
            return Ok(tally);
        }
        number += 1;
        advanced(read);
        if line.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        match send(plugin, tenant, &line) {
            Ok(()) => tally.accepted += 1,
            Err(Problem::Malformed(message)) => {
                tally.malformed += 1;
                report(number, &message);
            }
            Err(Problem::Refused(e)) => {
                tally.refused += 1;
                report(number, &format!("{} ({})", e.message, e.code));
            }
        }
    }
}

enum Problem {
    Malformed(String),
    Refused(PluginError),
}

fn send(plugin: &PluginBox, tenant: &str, line: &[u8]) -> Result<(), Problem> {
    let event: Value = serde_json::from_slice(line)
        .map_err(|e| Problem::Malformed(format!("not a JSON event: {e}")))?;
    let kind = event.get("type").and_then(Value::as_str).ok_or_else(|| {
        Problem::Malformed("the event has no \"type\" (like \"chat.ended\")".to_string())
    })?;
    match event.get("tenant_id").and_then(Value::as_str) {
        Some(id) if id == tenant => {}
        other => {
            return Err(Problem::Malformed(format!(
                "tenant_id is {}, but this replay is for tenant \"{tenant}\"",
                other.map_or("missing".to_string(), |id| format!("\"{id}\""))
            )))
        }
    }
    let payload = RSlice::from_slice(line);
    let answer = match kind {
        "chat.started" => plugin.chat_started(payload),
        "chat.ended" => plugin.chat_ended(payload),
        "chat.offline_message" => plugin.chat_offline_message(payload),
        "inbox.conversation_started" => plugin.inbox_conversation_started(payload),
        "inbox.conversation_ended" => plugin.inbox_conversation_ended(payload),
        other => {
            return Err(Problem::Malformed(format!(
                "type \"{other}\" is not an event type (chat.started, chat.ended, \
                 chat.offline_message, inbox.conversation_started, inbox.conversation_ended)"
            )))
        }
    };
    match answer {
        RResult::ROk(()) => Ok(()),
        RResult::RErr(e) => Err(Problem::Refused(e)),
    }
}
