//! `m3ter emulator`: runs the `m3ter-emulator` crate's server until SIGINT or
//! SIGTERM, and `m3ter emulator reset` deletes an emulator's data. The
//! options live here so the emulator library stays free of clap.

use std::io::Write as _;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context as _;
use m3ter_emulator::{
    DEFAULT_API_KEY, DEFAULT_API_SECRET, DEFAULT_ORG_ID, DEFAULT_RETRY_AFTER, DEFAULT_TOKEN_TTL,
    EmulatorConfig, db, start,
};

/// Options of `m3ter emulator` (`shared/design.md` §6); with a subcommand
/// (`m3ter emulator reset`) the server options do not apply.
#[derive(Debug, Clone, clap::Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct EmulatorArgs {
    #[command(subcommand)]
    pub command: Option<EmulatorCommand>,
    /// Address to listen on; port 0 picks a free port.
    #[arg(long, default_value = "127.0.0.1:8080")]
    pub listen: String,
    /// Keep data in this SQLite database file; in memory without it. An
    /// old JSON data file here is migrated (kept as FILE.migrated).
    #[arg(long)]
    pub data: Option<PathBuf>,
    /// Organization id served.
    #[arg(long = "org", default_value = DEFAULT_ORG_ID)]
    pub org: String,
    /// API key (client id) accepted by /oauth/token.
    #[arg(long, default_value = DEFAULT_API_KEY)]
    pub key: String,
    /// API secret accepted by /oauth/token.
    #[arg(long, default_value = DEFAULT_API_SECRET, hide_default_value = true)]
    pub secret: String,
    /// Lifetime of issued tokens, in seconds.
    #[arg(long, default_value_t = DEFAULT_TOKEN_TTL)]
    pub token_ttl: u64,
    /// Delay added to every request but /_emulator/stats, in milliseconds.
    #[arg(long, default_value_t = 0)]
    pub latency_ms: u64,
    /// Probability (0..=1) of an injected fault per /organizations request.
    #[arg(long, default_value_t = 0.0)]
    pub fault_rate: f64,
    /// Seed of the fault decisions (same seed + arrival order = same faults).
    #[arg(long, default_value_t = 0)]
    pub fault_seed: u64,
    /// Requests per second per organization before 429.
    #[arg(long)]
    pub max_rps: Option<u32>,
    /// Reject unknown request fields and query parameters with 400 instead
    /// of ignoring them.
    #[arg(long)]
    pub strict: bool,
    /// `Retry-After` seconds of injected 429 faults (fractions and 0 allowed).
    #[arg(long, default_value_t = DEFAULT_RETRY_AFTER, value_parser = parse_retry_after)]
    pub retry_after: f64,
}

/// Subcommands of `m3ter emulator`.
#[derive(Debug, Clone, clap::Subcommand)]
pub enum EmulatorCommand {
    /// Delete an emulator's data so it starts empty next time.
    Reset(ResetArgs),
}

/// Options of `m3ter emulator reset`: whose data to delete.
#[derive(Debug, Clone, clap::Args)]
#[group(required = true, multiple = false)]
pub struct ResetArgs {
    /// The embedded emulator of `--local` (state/local-org.db and its side files).
    #[arg(long)]
    pub local: bool,
    /// The data file of `m3ter emulator --data FILE` (and its side files).
    #[arg(long, value_name = "FILE")]
    pub data: Option<PathBuf>,
}

/// `--retry-after`: a finite number of seconds, at least 0.
fn parse_retry_after(raw: &str) -> Result<f64, String> {
    match raw.trim().parse::<f64>() {
        Ok(v) if v.is_finite() && v >= 0.0 => Ok(v),
        _ => Err(format!(
            "{raw:?} is not a number of seconds >= 0 (e.g. 1, 0.05 or 0)"
        )),
    }
}

impl From<&EmulatorArgs> for EmulatorConfig {
    fn from(a: &EmulatorArgs) -> Self {
        EmulatorConfig {
            org_id: a.org.clone(),
            api_key: a.key.clone(),
            api_secret: a.secret.clone(),
            token_ttl: Duration::from_secs(a.token_ttl),
            latency: Duration::from_millis(a.latency_ms),
            fault_rate: a.fault_rate,
            fault_seed: a.fault_seed,
            max_rps: a.max_rps,
            strict: a.strict,
            data: a.data.clone(),
            legacy_data: None,
            retry_after: Duration::from_secs_f64(a.retry_after),
        }
    }
}

/// Runs `m3ter emulator` until SIGINT/SIGTERM, or its subcommand.
pub fn run(args: &EmulatorArgs) -> anyhow::Result<ExitCode> {
    if let Some(EmulatorCommand::Reset(r)) = &args.command {
        return reset(r);
    }
    let listen: SocketAddr = args.listen.parse().with_context(|| {
        format!(
            "--listen {:?} is not HOST:PORT (e.g. 127.0.0.1:8080)",
            args.listen
        )
    })?;
    if !(0.0..=1.0).contains(&args.fault_rate) {
        anyhow::bail!(
            "--fault-rate must be between 0 and 1 (got {})",
            args.fault_rate
        );
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(async {
        // Watch the signals before announcing the address: a script may send
        // SIGTERM as soon as it has read the first line.
        let stop = stop_signal()?;
        let emu = start(EmulatorConfig::from(args), listen).await?;
        if let Some(notice) = emu.notice() {
            eprintln!("{notice}");
        }
        {
            let mut out = std::io::stdout().lock();
            writeln!(out, "listening on {}", emu.base_url())?;
            out.flush()?;
        }
        stop.await?;
        emu.shutdown().await?;
        Ok(ExitCode::SUCCESS)
    })
}

/// `m3ter emulator reset`: deletes the data file and its side files,
/// refused while an emulator (a `--local` command, or `m3ter emulator
/// --data`) has it open.
fn reset(args: &ResetArgs) -> anyhow::Result<ExitCode> {
    let path = match &args.data {
        Some(p) => p.clone(),
        None => PathBuf::from(crate::cli::session::LOCAL_DATA),
    };
    let mut paths = vec![path.clone()];
    if args.local {
        // An old JSON file not yet migrated would be migrated by the next run.
        paths.push(PathBuf::from(crate::cli::session::LEGACY_LOCAL_DATA));
    }
    let mut removed = Vec::new();
    for p in &paths {
        removed.extend(db::remove(p).with_context(|| {
            format!(
                "cannot reset the emulator data {}: wait for the command or emulator using it to finish, or stop it, then retry",
                p.display()
            )
        })?);
    }
    let mut text = if removed.is_empty() {
        format!("Nothing to remove: {} does not exist.", path.display())
    } else {
        let names: Vec<String> = removed.iter().map(|p| p.display().to_string()).collect();
        format!("Removed {}.", names.join(", "))
    };
    if args.local {
        text.push_str(&format!(
            " The next --local run starts with an empty org. The tool's state ({}/local.json, and local.<workspace>.json of each workspace) was kept; remove it too to start from scratch.",
            crate::cli::connect::STATE_DIR
        ));
    }
    crate::cli::output::emit(&text);
    Ok(ExitCode::SUCCESS)
}

/// Registers SIGINT/SIGTERM handlers now; the future resolves on either.
fn stop_signal() -> anyhow::Result<impl std::future::Future<Output = anyhow::Result<()>>> {
    let stop = crate::signals::stop_signal().context("cannot watch SIGINT/SIGTERM")?;
    Ok(async move {
        stop.await;
        Ok(())
    })
}
