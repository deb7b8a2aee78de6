//! The local m3ter API emulator: a real HTTP server (axum) speaking m3ter's
//! paths, auth, JSON, pagination, versioning and errors (`design.md` §6).
//!
//! Layout: [`server`] builds the router and the gate every request passes
//! (stats, latency, rate limit, auth, faults); [`crud`] serves the nine
//! config kinds with [`rules`]; [`ingest`] takes measurements; [`billing`]
//! runs bill jobs; [`store`] holds the data, [`journal`] makes it durable.
//! `conn` gives hyper's own parse-error answers a JSON body; `surface` lists
//! the spec paths answered "no route" and the query parameters each route
//! implements (`--strict`).

pub mod auth;
pub mod billing;
mod conn;
pub mod crud;
pub mod error;
pub mod expr;
pub mod faults;
pub mod ingest;
pub mod journal;
pub mod rating;
pub mod rules;
pub mod server;
pub mod stats;
pub mod store;
mod surface;

use std::io::Write as _;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use anyhow::Context as _;

use error::{ApiError, ApiResult};
use journal::Journal;
use store::{Change, Store};

/// Default organization id (also used by `--local`).
pub const DEFAULT_ORG_ID: &str = "00000000-0000-4000-8000-000000000001";
/// Default API key.
pub const DEFAULT_API_KEY: &str = "local-key";
/// Default API secret.
pub const DEFAULT_API_SECRET: &str = "local-secret";
/// Default token lifetime in seconds (m3ter's: 5 h).
pub const DEFAULT_TOKEN_TTL: u64 = 18000;

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
    /// Keep data in this file (journal + snapshot); in memory without it.
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
    /// The embedded emulator of `--local` (state/local-org.json and its side files).
    #[arg(long)]
    pub local: bool,
    /// The data file of `m3ter emulator --data FILE` (and its side files).
    #[arg(long, value_name = "FILE")]
    pub data: Option<PathBuf>,
}

/// Default `Retry-After` of injected 429 faults, in seconds.
pub const DEFAULT_RETRY_AFTER: f64 = 1.0;

/// `--retry-after`: a finite number of seconds, at least 0.
fn parse_retry_after(raw: &str) -> Result<f64, String> {
    match raw.trim().parse::<f64>() {
        Ok(v) if v.is_finite() && v >= 0.0 => Ok(v),
        _ => Err(format!(
            "{raw:?} is not a number of seconds >= 0 (e.g. 1, 0.05 or 0)"
        )),
    }
}

/// Configuration of an emulator instance.
#[derive(Debug, Clone)]
pub struct EmulatorConfig {
    pub org_id: String,
    pub api_key: String,
    pub api_secret: String,
    pub token_ttl: Duration,
    pub latency: Duration,
    pub fault_rate: f64,
    pub fault_seed: u64,
    pub max_rps: Option<u32>,
    pub strict: bool,
    pub data: Option<PathBuf>,
    /// `Retry-After` of injected 429 faults (`--retry-after`; default 1 s).
    pub retry_after: Duration,
}

impl Default for EmulatorConfig {
    fn default() -> Self {
        EmulatorConfig {
            org_id: DEFAULT_ORG_ID.into(),
            api_key: DEFAULT_API_KEY.into(),
            api_secret: DEFAULT_API_SECRET.into(),
            token_ttl: Duration::from_secs(DEFAULT_TOKEN_TTL),
            latency: Duration::ZERO,
            fault_rate: 0.0,
            fault_seed: 0,
            max_rps: None,
            strict: false,
            data: None,
            retry_after: Duration::from_secs_f64(DEFAULT_RETRY_AFTER),
        }
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
            retry_after: Duration::from_secs_f64(a.retry_after),
        }
    }
}

/// State shared by every request of one emulator.
#[derive(Debug)]
pub struct Shared {
    pub config: EmulatorConfig,
    pub store: RwLock<Store>,
    pub journal: Option<Journal>,
    pub tokens: auth::Tokens,
    pub stats: stats::Stats,
    pub faults: faults::Faults,
    pub rate: faults::RateLimiter,
    /// Name written to `createdBy`/`lastModifiedBy` (never the secret).
    pub actor: String,
}

impl Shared {
    /// Reads the store.
    pub fn read(&self) -> std::sync::RwLockReadGuard<'_, Store> {
        self.store.read().unwrap_or_else(|e| e.into_inner())
    }

    /// Runs `decide` on the store under the write lock; if it succeeds, its
    /// changes are journaled, then applied, and made durable before this
    /// returns. A failed decision changes nothing.
    pub fn commit<T>(
        &self,
        decide: impl FnOnce(&mut Store) -> ApiResult<(Vec<Change>, T)>,
    ) -> ApiResult<T> {
        let ticket = {
            let mut store = self.store.write().unwrap_or_else(|e| e.into_inner());
            let (changes, out) = decide(&mut store)?;
            let ticket = match &self.journal {
                Some(j) if !changes.is_empty() => Some((
                    j,
                    j.append(&changes)
                        .map_err(|e| ApiError::internal(format!("cannot store the change: {e}")))?,
                )),
                _ => None,
            };
            for c in changes {
                store.apply(c);
            }
            (ticket, out)
        };
        let (ticket, out) = ticket;
        if let Some((j, t)) = ticket {
            j.sync(t)
                .map_err(|e| ApiError::internal(format!("cannot store the change: {e}")))?;
        }
        Ok(out)
    }
}

/// A running emulator; drop it or call [`RunningEmulator::shutdown`].
pub struct RunningEmulator {
    addr: SocketAddr,
    shared: Arc<Shared>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<std::io::Result<()>>,
}

impl RunningEmulator {
    /// The bound address (the real port when started on port 0).
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://HOST:PORT`, the base URL for clients.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Stops accepting, finishes in-flight requests and compacts the journal.
    pub async fn shutdown(mut self) -> anyhow::Result<()> {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        (&mut self.task)
            .await
            .context("emulator task failed")?
            .context("emulator server failed")?;
        if let Some(j) = &self.shared.journal {
            // Under the write lock: no change can slip in between.
            let store = self.shared.store.write().unwrap_or_else(|e| e.into_inner());
            j.close(&store)?;
        }
        Ok(())
    }
}

impl Drop for RunningEmulator {
    /// Stops the server if [`RunningEmulator::shutdown`] was not called
    /// (without compaction: the journal already holds every change).
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

/// Starts an emulator on `listen` (port 0 picks a free port).
pub async fn start(config: EmulatorConfig, listen: SocketAddr) -> anyhow::Result<RunningEmulator> {
    let (journal, store) = match &config.data {
        Some(path) => {
            let (j, s) = Journal::open(path)?;
            (Some(j), s)
        }
        None => (None, Store::default()),
    };
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .with_context(|| format!("cannot listen on {listen}"))?;
    let addr = listener.local_addr()?;
    let shared = Arc::new(Shared {
        actor: format!("service-user:{}", config.api_key),
        tokens: auth::Tokens::new(config.token_ttl),
        stats: stats::Stats::default(),
        faults: faults::Faults::new(config.fault_rate, config.fault_seed),
        rate: faults::RateLimiter::new(config.max_rps),
        store: RwLock::new(store),
        journal,
        config,
    });
    billing::resume_jobs(&shared);
    let app = server::router(shared.clone());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        // Our listener: hyper's own parse-error answers get JSON bodies.
        axum::serve(conn::JsonErrorListener(listener), app)
            .with_graceful_shutdown(async move {
                let _ = stopped.await;
            })
            .await
    });
    Ok(RunningEmulator {
        addr,
        shared,
        stop: Some(stop),
        task,
    })
}

/// Runs `m3ter emulator` until SIGINT/SIGTERM, or its subcommand.
pub fn run_cli(args: &EmulatorArgs) -> anyhow::Result<ExitCode> {
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
    let removed = journal::remove(&path).with_context(|| {
        format!(
            "cannot reset the emulator data {}: wait for the command or emulator using it to finish, or stop it, then retry",
            path.display()
        )
    })?;
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
