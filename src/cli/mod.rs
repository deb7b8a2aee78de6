//! Command line: clap definitions (what the user typed) and dispatch.
//!
//! Each command lives in `commands/<name>.rs` with a
//! `run(&Global, &Args) -> anyhow::Result<ExitCode>` entry point.

pub mod commands;
pub mod connect;
pub(crate) mod converge;
pub mod hint;
pub mod output;
pub mod profile;
pub(crate) mod render;
pub mod session;
pub(crate) mod workspace;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, CommandFactory, FromArgMatches, Parser, Subcommand};

/// Help heading of the options that pick the org and how to reach it.
const CONNECTION: &str = "Connection";
/// Help heading of the options that pick the state file and desired state.
const STATE: &str = "State and desired state";
/// Help heading of the output and logging options.
const OUTPUT: &str = "Output";

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
    #[arg(short = 'd', long, global = true, default_value = "desired-state", help_heading = STATE)]
    pub dir: PathBuf,
    /// State file, or s3://BUCKET/KEY for state in S3 (credentials and
    /// endpoint from the AWS_* variables) (default: state/<org-id>.json,
    /// with --local state/local.json; in a workspace
    /// state/<org-id>.<NAME>.json).
    #[arg(long, value_name = "FILE|URL", env = "M3TER_STATE", hide_env_values = true, global = true, help_heading = STATE)]
    pub state: Option<PathBuf>,
    /// How long to wait for a state lock held by another run, e.g. 30s or
    /// 2m (default 0: fail at once, naming the holder).
    #[arg(long, value_name = "DURATION", global = true, default_value = "0s",
        value_parser = parse_duration, help_heading = STATE)]
    pub lock_timeout: std::time::Duration,
    /// Workspace: an environment with its own state file
    /// (state/<org-id>.<NAME>.json, with --local state/local.<NAME>.json).
    #[arg(
        long,
        value_name = "NAME",
        env = "M3TER_WORKSPACE",
        hide_env_values = true,
        global = true,
        help_heading = STATE
    )]
    pub workspace: Option<String>,
    /// Set a declared variable (repeatable); also $M3TER_VAR_<NAME>.
    #[arg(long = "var", value_name = "NAME=VALUE", global = true, help_heading = STATE)]
    pub vars: Vec<String>,
    /// Set declared variables from a YAML file of `name: value` (repeatable;
    /// a later file wins). Precedence: defaults < var files < $M3TER_VAR_* < --var.
    #[arg(long = "var-file", value_name = "FILE", global = true, help_heading = STATE)]
    pub var_files: Vec<PathBuf>,
    /// Machine-readable output on stdout (logs stay on stderr).
    #[arg(long, global = true, help_heading = OUTPUT)]
    pub json: bool,
    /// No colors (also NO_COLOR, and stdout that is not a TTY).
    #[arg(long, global = true, help_heading = OUTPUT)]
    pub no_color: bool,
    /// More logging (repeatable; also RUST_LOG).
    #[arg(short, long, action = clap::ArgAction::Count, global = true, help_heading = OUTPUT)]
    pub verbose: u8,
    /// Less logging.
    #[arg(short, long, global = true, help_heading = OUTPUT)]
    pub quiet: bool,
    /// The flags hints repeat (filled in by [`main`] from the parsed
    /// arguments; empty when parsed otherwise).
    #[arg(skip)]
    pub invocation: hint::Invocation,
    /// The connection flags typed on the command line, which beat a
    /// profile (filled in by [`main`]; see [`profile::typed_flags`]).
    #[arg(skip)]
    pub typed_connection: Vec<&'static str>,
}

/// How to reach the org (commands that talk to one).
#[derive(Debug, Args, Clone, Default)]
pub struct Connection {
    /// Run against the embedded emulator: data in state/local-org.db,
    /// state in state/local.json; no credentials needed.
    #[arg(long, help_heading = CONNECTION)]
    pub local: bool,
    /// A named connection of ~/.config/m3ter/profiles.yaml (or
    /// $M3TER_CONFIG); typed flags beat it, it beats M3TER_* variables.
    #[arg(long, value_name = "NAME", env = "M3TER_PROFILE", hide_env_values = true, help_heading = CONNECTION)]
    pub profile: Option<String>,
    /// Organization id (a UUID).
    #[arg(long, value_name = "ID", env = "M3TER_ORG_ID", hide_env_values = true, help_heading = CONNECTION)]
    pub org_id: Option<String>,
    /// API key (client id) of a service user.
    #[arg(long, value_name = "KEY", env = "M3TER_API_KEY", hide_env_values = true, help_heading = CONNECTION)]
    pub api_key: Option<String>,
    /// API secret of that service user.
    #[arg(long, value_name = "SECRET", env = "M3TER_API_SECRET", hide_env_values = true, help_heading = CONNECTION)]
    pub api_secret: Option<String>,
    /// Pre-issued bearer token; skips /oauth/token.
    #[arg(long, value_name = "TOKEN", env = "M3TER_API_TOKEN", hide_env_values = true, help_heading = CONNECTION)]
    pub token: Option<String>,
    /// Config API URL (default https://api.m3ter.com).
    #[arg(long, value_name = "URL", env = "M3TER_BASE_URL", hide_env_values = true, help_heading = CONNECTION)]
    pub base_url: Option<String>,
    /// Ingest API URL (default: the base URL with a leading "api." of the
    /// host replaced by "ingest.").
    #[arg(long, value_name = "URL", env = "M3TER_INGEST_URL", hide_env_values = true, help_heading = CONNECTION)]
    pub ingest_url: Option<String>,
    /// Client pacing in requests/s (default 40; 0 = unlimited; --local defaults to 0).
    #[arg(long, value_name = "N", help_heading = CONNECTION)]
    pub rate_limit: Option<f64>,
}

/// Which state file, for commands that only read or edit it (they need no
/// credentials): the same default as the commands that connect.
#[derive(Debug, Args, Clone, Default)]
pub struct StateLocation {
    /// The state of --local runs: state/local.json.
    #[arg(long, help_heading = STATE)]
    pub local: bool,
    /// The org whose state this is: state/<org-id>.json.
    #[arg(long, value_name = "ID", env = "M3TER_ORG_ID", hide_env_values = true, help_heading = STATE)]
    pub org_id: Option<String>,
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
    /// The dependency graph in DOT (with --json: nodes and edges as JSON).
    Graph,
    /// Remove a lock left by a killed run, or by a process on another machine.
    ForceUnlock(commands::state::ForceUnlockArgs),
    /// Submit measurements.
    #[command(
        override_usage = "m3ter ingest [OPTIONS] --meter <CODE> --account <CODE>...\n       m3ter ingest [OPTIONS] --file <FILE>"
    )]
    Ingest(commands::ingest::IngestArgs),
    /// Run billing and read bills.
    #[command(subcommand)]
    Bill(commands::bill::BillCommand),
    /// What differs between two live orgs, named by profile.
    Compare(commands::compare::CompareArgs),
    /// Plan (and apply) one org to match another's configuration.
    Promote(commands::promote::PromoteArgs),
    /// Run the local m3ter API emulator as a server.
    Emulator(commands::emulator::EmulatorArgs),
    /// Print a shell completion script (bash, zsh, fish, powershell).
    Completions(commands::completions::CompletionsArgs),
}

/// `30s`, `2m`, `1h 30m`, `0`.
fn parse_duration(s: &str) -> Result<std::time::Duration, String> {
    if s.trim() == "0" {
        return Ok(std::time::Duration::ZERO);
    }
    humantime::parse_duration(s.trim())
        .map_err(|e| format!("{e}; give a duration like 30s, 2m or 1h"))
}

/// The command line definition: [`Cli`], with `emulator` free of the
/// global options (it reads no desired state, state file or variables).
pub fn command() -> clap::Command {
    let mut cmd = Cli::command();
    // Building copies the global options into every subcommand, and clap has
    // no opt-out; so `emulator` is replaced after the build by a definition
    // of its own options only (it is built when parsing reaches it).
    cmd.build();
    cmd.mut_subcommand("emulator", |built| {
        let own = commands::emulator::EmulatorArgs::augment_args(clap::Command::new("emulator"));
        match built.get_about() {
            Some(about) => own.about(about.clone()),
            None => own,
        }
    })
}

/// Parses the command line, runs the command and returns the exit code.
pub fn main() -> ExitCode {
    // Usage errors exit 1 like every other bad input (design §2), not
    // clap's default 2, which `plan --detailed-exitcode` reserves for "changes".
    let parsed = command()
        .try_get_matches()
        .and_then(|m| Cli::from_arg_matches(&m).map(|cli| (cli, m)));
    let cli = match parsed {
        Ok((mut cli, matches)) => {
            cli.global.invocation = hint::Invocation::from_matches(&matches);
            cli.global.typed_connection = profile::typed_flags(&matches);
            cli
        }
        Err(e) => {
            let _ = e.print();
            return if e.use_stderr() {
                ExitCode::from(1)
            } else {
                ExitCode::SUCCESS
            };
        }
    };
    output::init_logging(&cli.global);
    // Errors are reported with the flags of this invocation in their hints.
    let g = cli.global.clone();
    match run(cli) {
        Ok(code) => code,
        Err(err) => {
            output::report_error(&err, &g);
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
        Command::Compare(a) => commands::compare::run(g, a),
        Command::Promote(a) => commands::promote::run(g, a),
        Command::Emulator(a) => commands::emulator::run(a),
        Command::Completions(a) => commands::completions::run(a),
    }
}
