//! `cloudcx-shim`'s command line (shared/spec/shim-cli.md).

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};
use cloudcx_salesforce_abi::abi_stable::std_types::RResult;
use cloudcx_salesforce_abi::{ErrorCode, JsonResult, PluginError};

use crate::connect;
use crate::demo::{self, DemoArgs};
use crate::emulator::{self, EmulatorArgs};
use crate::loader::{self, LoadedPlugin};
use crate::replay::{self, ReplayArgs};
use crate::state::ShimState;
use crate::status;
use crate::tables;

/// Exit statuses scripts may rely on.
pub mod exit {
    pub const OK: u8 = 0;
    /// Something failed: the plugin, Salesforce, a delivery.
    pub const FAILED: u8 = 1;
    /// Bad input: a file, a flag, settings.
    pub const BAD_INPUT: u8 = 2;
    /// The thing looked up does not exist.
    pub const NOT_FOUND: u8 = 3;
}

/// The reference CloudCX host: loads the Salesforce plugin like the host does and drives it.
#[derive(Debug, Parser)]
#[command(name = "cloudcx-shim", version, about)]
pub struct Cli {
    /// The plugin's shared library [default: the one built with this shim]
    #[arg(long, global = true, value_name = "PATH")]
    pub plugin: Option<PathBuf>,

    /// Where the shim keeps host configuration, tenant settings and the plugin's state
    /// [default: .cloudcx-shim; for the demo, a temporary directory]
    #[arg(long, global = true, value_name = "DIR")]
    pub state_dir: Option<PathBuf>,

    /// The host configuration (host contract §1) [default: STATE_DIR/host.json]
    #[arg(long, global = true, value_name = "FILE")]
    pub config: Option<PathBuf>,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Runs the whole product against the built-in Salesforce emulator
    Demo(DemoArgs),
    /// Runs the local Salesforce emulator in the foreground
    Emulator(EmulatorArgs),
    /// Connects a tenant to Salesforce through OAuth
    Connect(ConnectArgs),
    /// Validates and saves a tenant's settings, and hands them to the plugin
    Settings(SettingsArgs),
    /// Feeds a JSON-lines file of events to the plugin's hooks
    Replay(ReplayArgs),
    /// The agent console's customer view
    Lookup(LookupArgs),
    /// The agent console's manual create
    Create(CreateArgs),
    /// Re-queues deliveries that failed for good
    Retry(RetryArgs),
    /// Connection, queue depth, written, failed with reasons, API calls used
    Status(StatusArgs),
    /// Revokes and forgets a tenant's connection
    Disconnect(TenantArg),
}

#[derive(Debug, Args)]
pub struct TenantArg {
    /// The tenant id
    #[arg(long, value_name = "T")]
    pub tenant: String,
}

#[derive(Debug, Args)]
pub struct ConnectArgs {
    #[command(flatten)]
    pub tenant: TenantArg,
    /// Settings to apply before connecting
    #[arg(long, value_name = "FILE")]
    pub settings: Option<PathBuf>,
    /// Follow the authorize URL without a browser (for the emulator, which approves at once)
    #[arg(long)]
    pub auto: bool,
}

#[derive(Debug, Args)]
pub struct SettingsArgs {
    #[command(flatten)]
    pub tenant: TenantArg,
    /// The tenant settings (host contract §2)
    #[arg(long, value_name = "FILE")]
    pub file: PathBuf,
}

#[derive(Debug, Args)]
#[group(required = true, multiple = false, id = "who")]
pub struct LookupArgs {
    #[command(flatten)]
    pub tenant: TenantArg,
    #[arg(long, group = "who")]
    pub email: Option<String>,
    #[arg(long, group = "who")]
    pub phone: Option<String>,
    /// An event whose visitor or contact to look up
    #[arg(long, group = "who", value_name = "FILE")]
    pub event: Option<PathBuf>,
    /// Print the answer as JSON
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct CreateArgs {
    #[command(flatten)]
    pub tenant: TenantArg,
    /// Lead, Contact, Case or Task
    #[arg(long, value_name = "OBJ")]
    pub object: String,
    /// The chat or conversation to create it from
    #[arg(long, value_name = "FILE")]
    pub event: PathBuf,
    /// Print the answer as JSON
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct RetryArgs {
    #[command(flatten)]
    pub tenant: TenantArg,
    /// Only this event (chat or conversation id)
    #[arg(long, value_name = "ID")]
    pub event: Option<String>,
}

#[derive(Debug, Args)]
pub struct StatusArgs {
    #[command(flatten)]
    pub tenant: TenantArg,
    /// Print the plugin's answer as JSON
    #[arg(long)]
    pub json: bool,
}

/// How long the agent console waits for an answer, as the host would.
const CONSOLE_DEADLINE_MS: u64 = 3_000;

pub fn main() -> ExitCode {
    let cli = Cli::parse();
    // The demo's report is its tables: the plugin's progress lines only when RUST_LOG asks.
    let level = match cli.command {
        Command::Demo(_) => "warn",
        _ => "info",
    };
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or(level))
        .format_timestamp(None)
        .init();
    ExitCode::from(run(cli))
}

fn run(cli: Cli) -> u8 {
    match cli.command {
        Command::Emulator(args) => return emulator::run_cli(args),
        Command::Demo(args) => {
            return demo::run(&args, cli.state_dir.as_deref(), cli.plugin.as_deref())
        }
        _ => {}
    }
    let state_dir = cli
        .state_dir
        .as_deref()
        .unwrap_or(Path::new(".cloudcx-shim"));
    let state = ShimState::new(state_dir, cli.config.as_deref());
    let loaded = match start_plugin(&state, cli.plugin.as_deref()) {
        Ok(loaded) => loaded,
        Err(code) => return code,
    };
    let plugin = &loaded.plugin;
    match cli.command {
        Command::Emulator(_) | Command::Demo(_) => {
            unreachable!("handled before loading the plugin")
        }
        Command::Replay(args) => replay::run(&loaded, &args),
        Command::Settings(args) => settings(&state, &loaded, &args),
        Command::Connect(args) => {
            if let Some(file) = &args.settings {
                let args = SettingsArgs {
                    tenant: TenantArg {
                        tenant: args.tenant.tenant.clone(),
                    },
                    file: file.clone(),
                };
                let code = settings(&state, &loaded, &args);
                if code != exit::OK {
                    return code;
                }
            }
            let redirect_url = match state.redirect_url() {
                Ok(url) => url,
                Err(message) => return fail(exit::BAD_INPUT, &message),
            };
            match connect::run(plugin, args.tenant.as_str(), &redirect_url, args.auto) {
                Ok(connected) => print_answer(RResult::ROk(connected.into()), false),
                Err(message) => fail(exit::FAILED, &message),
            }
        }
        Command::Lookup(args) => {
            let request = match lookup_request(&args) {
                Ok(request) => request,
                Err(message) => return fail(exit::BAD_INPUT, &message),
            };
            show(
                plugin.lookup(request.to_string().as_str().into(), CONSOLE_DEADLINE_MS),
                args.json,
                tables::customer_view,
            )
        }
        Command::Create(args) => {
            let event = match read_json(&args.event) {
                Ok(event) => event,
                Err(message) => return fail(exit::BAD_INPUT, &message),
            };
            let request = serde_json::json!({
                "tenant_id": args.tenant.tenant, "object": args.object, "event": event,
            });
            show(
                plugin.create(request.to_string().as_str().into(), CONSOLE_DEADLINE_MS),
                args.json,
                tables::created,
            )
        }
        Command::Retry(args) => print_answer(
            plugin.retry(
                args.tenant.tenant.as_str().into(),
                args.event.as_deref().unwrap_or("").into(),
            ),
            true,
        ),
        Command::Status(args) => match plugin.status(args.tenant.as_str().into()) {
            RResult::ROk(text) if !args.json => {
                let status = serde_json::from_str(&text).unwrap_or_default();
                for line in status::summary(&status) {
                    println!("{line}");
                }
                exit::OK
            }
            answer => print_answer(answer, true),
        },
        Command::Disconnect(args) => {
            print_answer(plugin.disconnect(args.tenant.as_str().into()), true)
        }
    }
}

impl TenantArg {
    fn as_str(&self) -> &str {
        &self.tenant
    }
}

/// Loads the plugin with the host configuration and hands it every saved tenant's settings, as
/// the host does at startup.
pub(crate) fn start_plugin(state: &ShimState, path: Option<&Path>) -> Result<LoadedPlugin, u8> {
    let config = state.host_config().map_err(|m| fail(exit::BAD_INPUT, &m))?;
    let path = match path {
        Some(path) => path.to_path_buf(),
        None => loader::default_plugin_path().map_err(|e| fail(exit::FAILED, &e.to_string()))?,
    };
    let loaded = loader::start(&path, &config).map_err(|e| fail(exit::FAILED, &e.to_string()))?;
    for (tenant, settings) in state.saved_settings().map_err(|m| fail(exit::FAILED, &m))? {
        if let RResult::RErr(e) = loaded
            .plugin
            .configure_tenant(tenant.as_str().into(), settings.as_str().into())
        {
            log::warn!("saved settings of tenant {tenant} were not applied: {e}");
        }
    }
    Ok(loaded)
}

fn settings(state: &ShimState, loaded: &LoadedPlugin, args: &SettingsArgs) -> u8 {
    let text = match std::fs::read_to_string(&args.file) {
        Ok(text) => text,
        Err(e) => return fail(exit::BAD_INPUT, &format!("{}: {e}", args.file.display())),
    };
    let tenant = args.tenant.as_str();
    match loaded
        .plugin
        .configure_tenant(tenant.into(), text.as_str().into())
    {
        RResult::ROk(applied) => match state.save_settings(tenant, &text) {
            Ok(()) => {
                println!("{applied}");
                exit::OK
            }
            Err(message) => fail(exit::FAILED, &message),
        },
        RResult::RErr(e) if e.code == ErrorCode::INVALID_INPUT => {
            for line in e.message.lines() {
                eprintln!("{}: {line}", args.file.display());
            }
            exit::BAD_INPUT
        }
        RResult::RErr(e) => plugin_failure(&e),
    }
}

fn lookup_request(args: &LookupArgs) -> Result<serde_json::Value, String> {
    let tenant = args.tenant.as_str();
    if let Some(file) = &args.event {
        let event = read_json(file)?;
        let person = ["visitor", "contact"]
            .into_iter()
            .find_map(|key| event.get(key).map(|v| (key, v.clone())))
            .ok_or_else(|| {
                format!(
                    "{}: the event has neither visitor nor contact",
                    file.display()
                )
            })?;
        return Ok(serde_json::json!({ "tenant_id": tenant, person.0: person.1 }));
    }
    Ok(serde_json::json!({
        "tenant_id": tenant,
        "visitor": { "email": args.email, "phone": args.phone },
    }))
}

fn read_json(path: &Path) -> Result<serde_json::Value, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    serde_json::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))
}

/// Prints a plugin's JSON answer (pretty, or compact with `--json`) or its error.
fn print_answer(answer: JsonResult, json: bool) -> u8 {
    match answer {
        RResult::ROk(text) => {
            match serde_json::from_str::<serde_json::Value>(&text) {
                Ok(value) if !json => {
                    println!(
                        "{}",
                        serde_json::to_string_pretty(&value).unwrap_or(text.into())
                    )
                }
                _ => println!("{text}"),
            }
            exit::OK
        }
        RResult::RErr(e) => plugin_failure(&e),
    }
}

/// Prints a console answer as tables, or its JSON with `--json`.
fn show(answer: JsonResult, json: bool, render: fn(&serde_json::Value) -> String) -> u8 {
    match answer {
        RResult::ROk(text) if !json => {
            match serde_json::from_str(&text) {
                Ok(value) => println!("{}", render(&value)),
                Err(_) => println!("{text}"),
            }
            exit::OK
        }
        answer => print_answer(answer, true),
    }
}

fn plugin_failure(e: &PluginError) -> u8 {
    let code = match e.code {
        ErrorCode::INVALID_INPUT => exit::BAD_INPUT,
        ErrorCode::NOT_FOUND => exit::NOT_FOUND,
        _ => exit::FAILED,
    };
    fail(code, &format!("{} ({})", e.message, e.code))
}

pub(crate) fn fail(code: u8, message: &str) -> u8 {
    eprintln!("cloudcx-shim: {message}");
    code
}
