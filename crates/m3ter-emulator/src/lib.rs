//! The local m3ter API emulator: a real HTTP server (axum) speaking m3ter's
//! paths, auth, JSON, pagination, versioning and errors (`design.md` §6).
//!
//! Use it as a test server for an m3ter client: [`start`] an instance with an
//! [`EmulatorConfig`] on a loopback port, point the client at
//! [`RunningEmulator::base_url`], and [`RunningEmulator::shutdown`] it at the
//! end. The crate's README shows a whole example.
//!
//! Layout (private modules): `router` builds the router and the gate every
//! request passes (stats, latency, rate limit, auth, faults); the handlers
//! (`crud` for the nine config kinds with `rules`, `ingest` for
//! measurements, `billing` for bill jobs and bills, `auth` for tokens) read
//! requests through `extract`. [`store`] holds the data in [`db`], an
//! SQLite database (a file with `--data`, else in memory), and `legacy`
//! reads the old JSON data files it migrates; `conn` gives hyper's own parse-error answers a JSON
//! body; `surface` lists the spec paths answered "no route" and the query
//! parameters each route implements (`--strict`).

#![warn(missing_docs)]

/// The README's example, compiled and run as a doctest so it stays true.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeExample;

mod auth;
mod billing;
mod conn;
mod crud;
pub mod db;
mod error;
mod events;
mod extract;
mod faults;
mod ingest;
mod legacy;
mod members;
mod money;
mod parallel;
mod rated;
mod rating;
mod router;
mod rules;
mod scan;
mod stats;
pub mod store;
mod surface;
mod uids;
mod usage;
mod usage_rows;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use db::Db;
use error::{ApiError, ApiResult};
use store::{Change, Store};

/// Default organization id (also used by `--local`).
pub const DEFAULT_ORG_ID: &str = "00000000-0000-4000-8000-000000000001";
/// Default API key.
pub const DEFAULT_API_KEY: &str = "local-key";
/// Default API secret.
pub const DEFAULT_API_SECRET: &str = "local-secret";
/// Default token lifetime in seconds (m3ter's: 5 h).
pub const DEFAULT_TOKEN_TTL: u64 = 18000;

/// Default `Retry-After` of injected 429 faults, in seconds.
pub const DEFAULT_RETRY_AFTER: f64 = 1.0;

/// Configuration of an emulator instance.
#[derive(Debug, Clone)]
pub struct EmulatorConfig {
    /// The one organization served; other org ids in a path answer 403.
    pub org_id: String,
    /// The API key (client id) `POST /oauth/token` accepts.
    pub api_key: String,
    /// The API secret `POST /oauth/token` accepts.
    pub api_secret: String,
    /// Lifetime of issued bearer tokens (m3ter's: 5 h).
    pub token_ttl: Duration,
    /// Delay added before every request is handled.
    pub latency: Duration,
    /// Share of org requests (0.0–1.0) answered with an injected fault.
    pub fault_rate: f64,
    /// Seed of the fault decisions: the same seed and arrival order give
    /// the same faults.
    pub fault_seed: u64,
    /// Most requests per second per org (fixed one-second windows; more
    /// answer 429); unlimited when None.
    pub max_rps: Option<u32>,
    /// Refuse unknown body fields and unimplemented query parameters (400)
    /// instead of ignoring them.
    pub strict: bool,
    /// Keep the data in this SQLite database file; in memory when None.
    /// An old JSON data file here is migrated into it (kept as `FILE.migrated`).
    pub data: Option<PathBuf>,
    /// An old JSON data file to migrate into `data` while `data` does not
    /// exist (`--local`: `state/local-org.json`); kept as `OLD.migrated`.
    pub legacy_data: Option<PathBuf>,
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
            legacy_data: None,
            retry_after: Duration::from_secs_f64(DEFAULT_RETRY_AFTER),
        }
    }
}

/// Why an emulator could not start or stop cleanly.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The listen address could not be bound.
    #[error("cannot listen on {addr}: {source}")]
    Listen {
        /// The address asked for.
        addr: SocketAddr,
        /// Why binding failed.
        #[source]
        source: std::io::Error,
    },
    /// The database could not be opened, locked, migrated or closed.
    #[error(transparent)]
    Store(#[from] db::StoreError),
    /// The HTTP server stopped with an error.
    #[error("emulator server failed: {0}")]
    Serve(#[source] std::io::Error),
    /// The server task panicked or was cancelled.
    #[error("emulator task failed: {0}")]
    Task(String),
}

/// State shared by every request of one emulator.
#[derive(Debug)]
pub(crate) struct Shared {
    pub(crate) config: EmulatorConfig,
    pub(crate) store: RwLock<Store>,
    pub(crate) tokens: auth::Tokens,
    pub(crate) stats: stats::Stats,
    pub(crate) faults: faults::Faults,
    pub(crate) rate: faults::RateLimiter,
    /// Name written to `createdBy`/`lastModifiedBy` (never the secret).
    pub(crate) actor: String,
}

impl Shared {
    /// Reads the store.
    pub(crate) fn read(&self) -> std::sync::RwLockReadGuard<'_, Store> {
        self.store.read().unwrap_or_else(|e| e.into_inner())
    }

    /// Runs `decide` on the store under the write lock; if it succeeds, its
    /// changes are written to the database and indexed, and committed
    /// (durable) before this returns; concurrent requests share a commit.
    /// A failed decision changes nothing.
    pub(crate) fn commit<T>(
        &self,
        decide: impl FnOnce(&mut Store) -> ApiResult<(Vec<Change>, T)>,
    ) -> ApiResult<T> {
        let failed =
            |e: db::StoreError| ApiError::internal(format!("cannot store the change: {e}"));
        let (db, ticket, out) = {
            let mut store = self.store.write().unwrap_or_else(|e| e.into_inner());
            let (changes, out) = decide(&mut store)?;
            let ticket = store.append(changes).map_err(failed)?;
            (store.db().clone(), ticket, out)
        };
        // Outside the write lock: requests that come meanwhile join the
        // same commit.
        if let Some(t) = ticket {
            db.sync(t).map_err(failed)?;
        }
        Ok(out)
    }
}

/// A running emulator; drop it or call [`RunningEmulator::shutdown`].
pub struct RunningEmulator {
    addr: SocketAddr,
    shared: Arc<Shared>,
    notice: Option<String>,
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

    /// What starting did besides opening the database: the message of a
    /// migrated old JSON data file, for the caller to show.
    pub fn notice(&self) -> Option<&str> {
        self.notice.as_deref()
    }

    /// Stops accepting, finishes in-flight requests and closes the database
    /// (its WAL checkpointed).
    pub async fn shutdown(mut self) -> Result<(), Error> {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        (&mut self.task)
            .await
            .map_err(|e| Error::Task(e.to_string()))?
            .map_err(Error::Serve)?;
        // Under the write lock: no change can slip in between.
        let store = self.shared.store.write().unwrap_or_else(|e| e.into_inner());
        store.db().close()?;
        Ok(())
    }
}

impl Drop for RunningEmulator {
    /// Stops the server if [`RunningEmulator::shutdown`] was not called
    /// (every change is already committed to the database).
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

/// Starts an emulator on `listen` (port 0 picks a free port).
pub async fn start(config: EmulatorConfig, listen: SocketAddr) -> Result<RunningEmulator, Error> {
    let (db, notice) = match &config.data {
        Some(path) => Db::open(path, config.legacy_data.as_deref())?,
        None => (Db::memory()?, None),
    };
    let store = Store::load(db)?;
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .map_err(|source| Error::Listen {
            addr: listen,
            source,
        })?;
    let addr = listener.local_addr().map_err(|source| Error::Listen {
        addr: listen,
        source,
    })?;
    let shared = Arc::new(Shared {
        actor: format!("service-user:{}", config.api_key),
        tokens: auth::Tokens::new(config.token_ttl),
        stats: stats::Stats::default(),
        faults: faults::Faults::new(config.fault_rate, config.fault_seed),
        rate: faults::RateLimiter::new(config.max_rps),
        store: RwLock::new(store),
        config,
    });
    billing::resume_jobs(&shared);
    let app = router::router(shared.clone());
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
        notice,
        stop: Some(stop),
        task,
    })
}
