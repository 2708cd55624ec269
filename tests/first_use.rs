//! README's "Step by step, and the agent console" as a newcomer runs it on a fresh clone: the
//! commands are read from the README itself and run in order, each through `sh` in a directory
//! laid out like a clone's (its own `examples/`, state in `.cloudcx-shim/`), with
//! `cargo run -p cloudcx-shim --` standing for the built binary. Only ports differ, so that
//! tests can run side by side: the emulator gets `--port` (and the example settings' 8766 is
//! rewritten to it), and the shim's first-use host configuration a free redirect port.

mod common;
mod emulator_process;

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use cloudcx_shim::state::{ShimState, DEFAULT_REDIRECT_URL};
use emulator_process::EmulatorProcess;
use serde_json::Value;

const SECTION: &str = "### Step by step, and the agent console";
const CARGO_RUN: &str = "cargo run -p cloudcx-shim --";
/// Each command ends by itself well within this; a hang fails the test.
const LIMIT: Duration = Duration::from_secs(120);

/// The README section's shell commands, in order, without their comments.
fn readme_commands() -> Vec<String> {
    let readme = std::fs::read_to_string(common::repo_root().join("README.md")).unwrap();
    let section = readme.split_once(SECTION).expect("the README section").1;
    let block = section
        .split_once("```sh\n")
        .and_then(|(_, rest)| rest.split_once("```"))
        .expect("a sh block in the section")
        .0;
    block
        .lines()
        .map(|line| {
            line.split_once(" #")
                .map_or(line, |(command, _)| command)
                .trim()
        })
        .filter(|line| !line.is_empty() && !line.starts_with('#'))
        .map(str::to_string)
        .collect()
}

/// `examples/` as a clone has it; the settings with their emulator port changed to `port`.
fn lay_out_examples(clone: &Path, port: u16) {
    let examples = common::repo_root().join("examples");
    std::fs::create_dir(clone.join("examples")).unwrap();
    for file in ["demo-org.json", "events.jsonl"] {
        std::fs::copy(examples.join(file), clone.join("examples").join(file)).unwrap();
    }
    let settings = std::fs::read_to_string(examples.join("settings.json")).unwrap();
    let default_url = "http://127.0.0.1:8766/";
    assert_eq!(
        settings.matches(default_url).count(),
        2,
        "login_url and crm_url name the emulator's default port: {settings}"
    );
    std::fs::write(
        clone.join("examples/settings.json"),
        settings.replace(default_url, &format!("http://127.0.0.1:{port}/")),
    )
    .unwrap();
}

#[test]
fn the_readme_step_by_step_runs_as_written() {
    let commands = readme_commands();
    let (emulator_line, rest) = commands.split_first().expect("commands");
    let emulator_args: Vec<&str> = emulator_line
        .strip_prefix(CARGO_RUN)
        .expect("the emulator is the first command")
        .split_whitespace()
        .collect();
    assert_eq!(emulator_args[0], "emulator", "{emulator_line}");
    assert!(
        !emulator_args.contains(&"--port"),
        "the README relies on the default port: {emulator_line}"
    );

    let clone = tempfile::tempdir().unwrap();
    let port = common::free_port();
    lay_out_examples(clone.path(), port);
    let port_arg = port.to_string();
    let mut args = emulator_args[1..].to_vec();
    args.extend(["--port", &port_arg]);
    let emulator = EmulatorProcess::start_in(clone.path(), clone.path(), &args);
    assert_eq!(emulator.url, format!("http://127.0.0.1:{port}"));

    // The host configuration the shim writes on first use, its redirect on a free port.
    let state = clone.path().join(".cloudcx-shim");
    let written = ShimState::new(&state, None).host_config().unwrap();
    assert!(written.contains(DEFAULT_REDIRECT_URL), "{written}");
    let redirect = format!("http://127.0.0.1:{}/callback", common::free_port());
    std::fs::write(
        state.join("host.json"),
        written.replace(DEFAULT_REDIRECT_URL, &redirect),
    )
    .unwrap();

    let shim = format!("'{}'", env!("CARGO_BIN_EXE_cloudcx-shim"));
    let mut printed = Vec::new();
    for line in rest {
        let mut command = Command::new("sh");
        command
            .current_dir(clone.path())
            .env("RUST_LOG", "warn")
            .args(["-c", &line.replace(CARGO_RUN, &shim)]);
        let out = common::run_within(command, line, LIMIT);
        let stdout = common::text(&out.stdout);
        assert!(
            out.status.success(),
            "{line}: {:?}\n{stdout}\n{}\nemulator: {}",
            out.status,
            common::text(&out.stderr),
            emulator.stderr()
        );
        printed.push((line.as_str(), stdout));
    }
    let output_of = |command: &str| {
        printed
            .iter()
            .find(|(line, _)| line.starts_with(&format!("{CARGO_RUN} {command} ")))
            .map(|(_, stdout)| stdout.as_str())
            .unwrap_or_else(|| panic!("no {command} in the README"))
    };
    let admin = "ada.admin@demo-org.example";
    assert!(
        output_of("connect").contains(admin),
        "{}",
        output_of("connect")
    );
    let replayed = output_of("replay");
    assert!(
        replayed.contains("tenant demo: 6 written, 0 failed for good, 0 still queued"),
        "{replayed}"
    );
    let status = output_of("status");
    assert!(
        status.contains(&format!("tenant demo: connected to Salesforce as {admin}"))
            && status.contains("events: 6 written, 0 queued, 0 failed for good"),
        "{status}"
    );
    assert!(
        output_of("lookup").contains("Jane Doe"),
        "{}",
        output_of("lookup")
    );
    assert!(
        output_of("create").contains("Task"),
        "{}",
        output_of("create")
    );

    // What Salesforce got: the events' records, and the agent's extra Task.
    let dump: Value = ureq::get(format!("{}/__emulator/dump", emulator.url))
        .call()
        .unwrap()
        .body_mut()
        .read_json()
        .unwrap();
    let count = |object: &str| dump["objects"][object].as_array().map_or(0, Vec::len);
    assert_eq!(count("Case"), 2, "Jane's two chats");
    assert_eq!(
        count("Task"),
        3,
        "the offline message's, the conversation's, create's"
    );
    assert_eq!(
        count("ContentVersion"),
        3,
        "the chat's and the conversation's attachments, and the chat's again on create's Task"
    );
}
