//! Command line: clap definitions (what the user typed) and dispatch.
//!
//! Each command lives in `commands/<name>.rs` with a
//! `run(&Global, &Args) -> anyhow::Result<ExitCode>` entry point.

pub mod commands;
pub mod connect;
pub mod output;
pub mod session;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};

/// Keeps a whole m3ter billing setup in version-controlled YAML and
/// converges a live m3ter organization to it.
#[derive(Debug, Parser)]
#[command(name = "m3ter", version, about)]
pub struct Cli {
    #[command(flatten)]
    pub global: Global,
    #[command(subcommand)]
    pub command: Command,
}

/// Options every command accepts.
#[derive(Debug, Args, Clone)]
pub struct Global {
    /// Desired-state directory: its *.yaml/*.yml files, not recursive.
    #[arg(short = 'd', long, global = true, default_value = "desired-state")]
    pub dir: PathBuf,
    /// State file (default state/<org-id>.json; with --local, state/local.json).
    #[arg(long, global = true)]
    pub state: Option<PathBuf>,
    /// Set a declared variable (repeatable); also $M3TER_VAR_<NAME>.
    #[arg(long = "var", value_name = "NAME=VALUE", global = true)]
    pub vars: Vec<String>,
    /// Machine-readable output on stdout (logs stay on stderr).
    #[arg(long, global = true)]
    pub json: bool,
    /// No colors (also NO_COLOR, and stdout that is not a TTY).
    #[arg(long, global = true)]
    pub no_color: bool,
    /// More logging (repeatable).
    #[arg(short, long, action = clap::ArgAction::Count, global = true)]
    pub verbose: u8,
    /// Less logging.
    #[arg(short, long, global = true)]
    pub quiet: bool,
}

/// How to reach the org (commands that talk to one).
#[derive(Debug, Args, Clone, Default)]
pub struct Connection {
    /// Run against the embedded emulator, data in state/local-org.json.
    #[arg(long)]
    pub local: bool,
    #[arg(long, env = "M3TER_ORG_ID")]
    pub org_id: Option<String>,
    #[arg(long, env = "M3TER_API_KEY", hide_env_values = true)]
    pub api_key: Option<String>,
    #[arg(long, env = "M3TER_API_SECRET", hide_env_values = true)]
    pub api_secret: Option<String>,
    /// Pre-issued bearer token; skips /oauth/token.
    #[arg(long, env = "M3TER_API_TOKEN", hide_env_values = true)]
    pub token: Option<String>,
    #[arg(long, env = "M3TER_BASE_URL")]
    pub base_url: Option<String>,
    /// Default: the base URL with a leading "api." of the host replaced by "ingest.".
    #[arg(long, env = "M3TER_INGEST_URL")]
    pub ingest_url: Option<String>,
    /// Client pacing in requests/s (default 40; 0 = unlimited; --local defaults to 0).
    #[arg(long)]
    pub rate_limit: Option<f64>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Offline: parse, resolve, check every documented limit and the graph.
    Validate,
    /// Show what apply would change.
    Plan(commands::plan::PlanArgs),
    /// Converge the org to the desired state.
    Apply(commands::apply::ApplyArgs),
    /// Delete every managed entity, in reverse dependency order.
    Destroy(commands::destroy::DestroyArgs),
    /// Adopt an existing live entity into state.
    Import(commands::import::ImportArgs),
    /// Write the live org as desired-state YAML.
    Export(commands::export::ExportArgs),
    /// Accept live values into state.
    Refresh(commands::refresh::RefreshArgs),
    /// Render a saved plan, or the state when no file is given.
    Show(commands::show::ShowArgs),
    /// Read or edit the state file.
    #[command(subcommand)]
    State(commands::state::StateCommand),
    /// The dependency graph in DOT.
    Graph,
    /// Remove a lock left by a process on another machine.
    ForceUnlock(commands::state::ForceUnlockArgs),
    /// Submit measurements.
    Ingest(commands::ingest::IngestArgs),
    /// Run billing and read bills.
    #[command(subcommand)]
    Bill(commands::bill::BillCommand),
    /// Run the local m3ter API emulator as a server.
    Emulator(crate::emulator::EmulatorArgs),
}

/// Parses the command line, runs the command and returns the exit code.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    output::init_logging(&cli.global);
    let json = cli.global.json;
    match run(cli) {
        Ok(code) => code,
        Err(err) => {
            output::report_error(&err, json);
            ExitCode::from(1)
        }
    }
}

/// Runs a parsed command line.
pub fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    let g = &cli.global;
    match &cli.command {
        Command::Validate => commands::validate::run(g),
        Command::Plan(a) => commands::plan::run(g, a),
        Command::Apply(a) => commands::apply::run(g, a),
        Command::Destroy(a) => commands::destroy::run(g, a),
        Command::Import(a) => commands::import::run(g, a),
        Command::Export(a) => commands::export::run(g, a),
        Command::Refresh(a) => commands::refresh::run(g, a),
        Command::Show(a) => commands::show::run(g, a),
        Command::State(c) => commands::state::run(g, c),
        Command::Graph => commands::graph::run(g),
        Command::ForceUnlock(a) => commands::state::force_unlock(g, a),
        Command::Ingest(a) => commands::ingest::run(g, a),
        Command::Bill(c) => commands::bill::run(g, c),
        Command::Emulator(a) => crate::emulator::run_cli(a),
    }
}
