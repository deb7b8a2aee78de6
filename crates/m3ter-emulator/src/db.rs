//! The emulator's database: SQLite (bundled), a file for `--data FILE`, in
//! memory without it. Every change is one transaction, committed (WAL,
//! `synchronous=FULL`: the WAL is fsync'd at each commit) before the
//! request that made it is answered.
//!
//! Tables (inspect them with `sqlite3 FILE`):
//! - `entities(tbl, id, seq, code, body)`: config entities, bill jobs, bills
//!   and balance transactions; `tbl` is the collection name, `seq` the
//!   creation sequence (pages are newest first by it), `body` the JSON the
//!   API returns.
//! - `measurements(n, uid, account_id, meter_id, ts_ms, body)`: accepted
//!   measurements, `n` their arrival order, indexed by (account, meter,
//!   UTC day of `ts_ms`) for billing: within a day rows are in arrival
//!   order, so an insert appends to one of a few index pages instead of
//!   dirtying a random one.
//! - `measurement_uids(n, h)`: the 64-bit hash of each stored uid (ingest is
//!   idempotent on it), appended in arrival order; the emulator keeps them
//!   in memory (`uids.rs`) and compares the real uid on a hash hit.
//! - `meta(key, value)`: the schema version (2; a version 1 database, with
//!   a `uid UNIQUE` index, is rebuilt on open).
//!
//! Public items: [`remove`] (`m3ter emulator reset`), [`StoreError`] and
//! [`side_files`].
//!
//! An OS advisory lock on `FILE.lock` keeps two emulators off one database
//! (SQLite's own locks would let both in, taking turns).

use std::fs::{File, OpenOptions};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use rusqlite::{Connection, OptionalExtension, params};
use serde_json::Value;

use super::legacy;
use super::store::{Change, Object};
use super::uids::{self, Uids};

/// The schema version in `meta`.
const SCHEMA_VERSION: i64 = 2;

/// Milliseconds of a day: the index's bucket of `ts_ms` (the expression
/// `ts_ms / 86400000` must be spelled exactly so in queries for SQLite to
/// use the index).
const DAY_MS: i64 = 86_400_000;

const META: &str = "CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value ANY) STRICT;";

/// The measurement table of schema 2 (no uid index: see `uids.rs`).
const MEASUREMENTS: &str = "
CREATE TABLE IF NOT EXISTS measurements (
    n          INTEGER PRIMARY KEY,
    uid        TEXT,
    account_id TEXT NOT NULL,
    meter_id   TEXT NOT NULL,
    ts_ms      INTEGER NOT NULL,
    body       TEXT NOT NULL
) STRICT;
CREATE INDEX IF NOT EXISTS measurements_by_account_meter_day
    ON measurements (account_id, meter_id, ts_ms / 86400000);
CREATE TABLE IF NOT EXISTS measurement_uids (
    n INTEGER PRIMARY KEY,
    h INTEGER NOT NULL
) STRICT;
";

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS entities (
    tbl  TEXT NOT NULL,
    id   TEXT NOT NULL,
    seq  INTEGER NOT NULL,
    code TEXT,
    body TEXT NOT NULL,
    PRIMARY KEY (tbl, id)
) STRICT, WITHOUT ROWID;
";

/// Store failures: they name the file and what to do.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// Reading, writing or syncing a file failed.
    #[error("cannot use data file {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// SQLite refused an operation.
    #[error("cannot use database {path}: {source}")]
    Sql {
        /// The database file (`:memory:` without `--data`).
        path: PathBuf,
        /// SQLite's error.
        #[source]
        source: rusqlite::Error,
    },
    /// Another emulator holds the data file's lock.
    #[error(
        "data file {path} is in use by another emulator (lock {lock} is held); stop it or pass another --data file"
    )]
    Locked {
        /// The data file.
        path: PathBuf,
        /// Its lock file.
        lock: PathBuf,
    },
    /// A change came after the database was closed for shutdown.
    #[error("data file {path} is closed: the emulator is stopping")]
    Closed {
        /// The data file.
        path: PathBuf,
    },
    /// A line of an old JSON data file is not a journal record.
    #[error(
        "old JSON data file {path}, line {line}: not a journal record ({reason}); fix or remove the line, then start again to migrate it"
    )]
    Corrupt {
        /// The data file.
        path: PathBuf,
        /// The 1-based line number.
        line: usize,
        /// Why the line does not parse.
        reason: String,
    },
    /// The database was written by a newer emulator.
    #[error(
        "database {path} has schema version {found}; this emulator reads version {SCHEMA_VERSION}: use the m3ter that wrote it"
    )]
    Version {
        /// The database file.
        path: PathBuf,
        /// Its schema version.
        found: i64,
    },
}

pub(crate) fn io(path: &Path) -> impl FnOnce(std::io::Error) -> StoreError + '_ {
    move |source| StoreError::Io {
        path: path.to_owned(),
        source,
    }
}

fn sql(path: &Path) -> impl FnOnce(rusqlite::Error) -> StoreError + '_ {
    move |source| StoreError::Sql {
        path: path.to_owned(),
        source,
    }
}

/// One stored entity as loaded: its table name, sequence number and body.
pub(crate) struct Row {
    pub(crate) table: String,
    pub(crate) seq: u64,
    pub(crate) value: Object,
}

/// The connection, whether a group transaction is open on it, and the
/// uid index once read.
#[derive(Debug)]
struct Open {
    conn: Connection,
    in_tx: bool,
    /// None until the first ingest or uid lookup reads it.
    uids: Option<Uids>,
}

/// Counters of the group commit: change sets appended and committed.
#[derive(Debug, Default)]
struct Progress {
    written: u64,
    synced: u64,
}

/// The open database of a store.
///
/// Writes are grouped: [`Db::append`] adds a change set to the open
/// transaction (a savepoint each, so a failed one leaves the others) and
/// [`Db::sync`] commits it; concurrent writers share one commit (one WAL
/// fsync), as the JSON journal shared one fsync before.
#[derive(Debug)]
pub(crate) struct Db {
    path: PathBuf,
    /// None once closed.
    conn: Mutex<Option<Open>>,
    progress: Mutex<Progress>,
    /// Serialises commits; whoever commits covers every change appended before.
    sync_lock: Mutex<()>,
    /// Holds the advisory lock until [`Db::close`] or drop.
    lock: Mutex<Option<File>>,
}

impl Db {
    /// An in-memory database (no `--data`).
    pub(crate) fn memory() -> Result<Db, StoreError> {
        let path = PathBuf::from(":memory:");
        let conn = Connection::open_in_memory().map_err(sql(&path))?;
        init(&conn, &path)?;
        Ok(Db::on(path, conn, None))
    }

    fn on(path: PathBuf, conn: Connection, lock: Option<File>) -> Db {
        Db {
            path,
            conn: Mutex::new(Some(Open {
                conn,
                in_tx: false,
                uids: None,
            })),
            progress: Mutex::new(Progress::default()),
            sync_lock: Mutex::new(()),
            lock: Mutex::new(lock),
        }
    }

    /// Locks and opens the database at `path` (created if missing). An old
    /// JSON data file at `path`, or at `legacy` while `path` does not exist,
    /// is migrated first; the returned notice says so.
    pub(crate) fn open(
        path: &Path,
        legacy: Option<&Path>,
    ) -> Result<(Db, Option<String>), StoreError> {
        let lock_path = lock_path(path);
        let lock = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock_path)
            .map_err(io(&lock_path))?;
        try_lock(&lock, path, &lock_path)?;
        let notice = migrate(path, legacy)?;
        let (conn, upgraded) = connect(path)?;
        let notice = match (notice, upgraded) {
            (Some(a), Some(b)) => Some(format!("{a}\n{b}")),
            (a, b) => a.or(b),
        };
        Ok((Db::on(path.to_owned(), conn, Some(lock)), notice))
    }

    /// Runs `f` on the connection, or fails once closed.
    fn with<T>(&self, f: impl FnOnce(&mut Open) -> rusqlite::Result<T>) -> Result<T, StoreError> {
        let mut guard = self.conn.lock().unwrap_or_else(|e| e.into_inner());
        let Some(open) = guard.as_mut() else {
            return Err(StoreError::Closed {
                path: self.path.clone(),
            });
        };
        f(open).map_err(sql(&self.path))
    }

    /// Every stored entity, in creation order.
    pub(crate) fn entities(&self) -> Result<Vec<Row>, StoreError> {
        self.with(|o| {
            let mut st = o
                .conn
                .prepare("SELECT tbl, seq, body FROM entities ORDER BY seq")?;
            let rows = st.query_map([], |r| {
                let body: String = r.get(2)?;
                Ok(Row {
                    table: r.get(0)?,
                    seq: r.get::<_, i64>(1)? as u64,
                    value: serde_json::from_str(&body).unwrap_or_default(),
                })
            })?;
            let rows: rusqlite::Result<Vec<Row>> = rows.collect();
            drop(st);
            // The pages read for the index are not needed again soon: give
            // the page cache back (it refills on demand, up to its bound).
            o.conn.execute_batch("PRAGMA shrink_memory")?;
            rows
        })
    }

    /// Adds `changes` to the open group transaction (not yet durable);
    /// returns the ticket to pass to [`Db::sync`]. Call it under the store's
    /// write lock, so the database order is the decision order. On an error
    /// none of `changes` is kept.
    pub(crate) fn append(&self, changes: &[Change]) -> Result<u64, StoreError> {
        self.with(|o| {
            if !o.in_tx {
                o.conn.execute_batch("BEGIN IMMEDIATE")?;
                o.in_tx = true;
            }
            o.conn.execute_batch("SAVEPOINT change")?;
            // Uid entries of a rolled-back change stay: a hit is checked
            // against the stored row, so they never match.
            if let Err(e) = write_changes(&o.conn, &mut o.uids, changes) {
                o.conn.execute_batch("ROLLBACK TO change; RELEASE change")?;
                return Err(e);
            }
            o.conn.execute_batch("RELEASE change")?;
            let mut p = self.progress.lock().unwrap_or_else(|e| e.into_inner());
            p.written += 1;
            Ok(p.written)
        })
    }

    /// Commits every change set up to `ticket` (durable on return).
    /// Concurrent writers share one commit: a writer whose ticket another's
    /// commit covered returns at once.
    pub(crate) fn sync(&self, ticket: u64) -> Result<(), StoreError> {
        let _one = self.sync_lock.lock().unwrap_or_else(|e| e.into_inner());
        if self
            .progress
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .synced
            >= ticket
        {
            return Ok(());
        }
        let target = self.with(|o| {
            let target = self
                .progress
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .written;
            if o.in_tx {
                o.in_tx = false;
                if let Err(e) = o.conn.execute_batch("COMMIT") {
                    let _ = o.conn.execute_batch("ROLLBACK");
                    return Err(e);
                }
            }
            Ok(target)
        })?;
        let mut p = self.progress.lock().unwrap_or_else(|e| e.into_inner());
        p.synced = p.synced.max(target);
        Ok(())
    }

    /// Appends and commits `changes` (fixtures, migration-free tests).
    #[cfg(test)]
    pub(crate) fn write(&self, changes: &[Change]) -> Result<(), StoreError> {
        let t = self.append(changes)?;
        self.sync(t)
    }

    /// Whether a measurement with this uid is stored.
    pub(crate) fn has_uid(&self, uid: &str) -> Result<bool, StoreError> {
        self.with(|o| {
            let index = loaded(&o.conn, &mut o.uids)?;
            is_stored(&o.conn, index, uid)
        })
    }

    /// The ids of the accounts that have measurements of `meter_id`,
    /// sorted (a scan of the index alone: no body is read). For a usage
    /// query without `accountIds`.
    pub(crate) fn measurement_accounts(&self, meter_id: &str) -> Result<Vec<String>, StoreError> {
        self.with(|o| {
            let mut st = o.conn.prepare_cached(
                "SELECT DISTINCT account_id FROM measurements \
                 WHERE meter_id = ?1 ORDER BY account_id",
            )?;
            let rows = st.query_map([meter_id], |r| r.get(0))?;
            rows.collect()
        })
    }

    /// Visits the measurements of one account and meter with `ts` in
    /// `[from_ms, to_ms]` (both ends in, as [`Db::measurements`]) in the
    /// index's order: by day, and within a day in arrival order (so equal
    /// `ts` come in arrival order). `visit(n, body)` gets the row's arrival
    /// number and the stored body (without the id columns) undecoded, so a
    /// caller decodes each while the next is read and keeps what it needs.
    /// Not sorting by arrival spares a sort of every body read.
    pub(crate) fn visit_measurements(
        &self,
        account_id: &str,
        meter_id: &str,
        from_ms: i64,
        to_ms: i64,
        mut visit: impl FnMut(i64, &str),
    ) -> Result<(), StoreError> {
        self.with(|o| {
            let mut st = o.conn.prepare_cached(
                "SELECT n, body FROM measurements INDEXED BY measurements_by_account_meter_day \
                 WHERE account_id = ?1 AND meter_id = ?2 \
                 AND ts_ms / 86400000 BETWEEN ?5 AND ?6 AND ts_ms BETWEEN ?3 AND ?4",
            )?;
            let (from_day, to_day) = (from_ms / DAY_MS, to_ms / DAY_MS);
            let mut rows = st.query(params![
                account_id, meter_id, from_ms, to_ms, from_day, to_day
            ])?;
            while let Some(r) = rows.next()? {
                let body = r.get_ref(1)?.as_str().map_err(|e| {
                    rusqlite::Error::FromSqlConversionFailure(
                        1,
                        rusqlite::types::Type::Text,
                        e.into(),
                    )
                })?;
                visit(r.get(0)?, body);
            }
            Ok(())
        })
    }

    /// Whether reading the measurements of `accounts` and `meter_id` with
    /// `ts` in `[from_ms, to_ms]` is cheaper by one sequential scan of the
    /// table ([`Db::scan_measurements`]) than by an index range per account
    /// ([`Db::visit_measurements`]): when they are a tenth of the table or
    /// more, as arrival interleaves accounts and their rows then sit on most
    /// of its pages. Counting is an index scan of accounts' entries, so a
    /// sample of up to 8 accounts, spread over the list, estimates it, and
    /// counting stops as soon as the estimate gets there.
    pub(crate) fn scan_is_cheaper(
        &self,
        accounts: &[String],
        meter_id: &str,
        from_ms: i64,
        to_ms: i64,
    ) -> Result<bool, StoreError> {
        const SAMPLE: usize = 8;
        let step = accounts.len().div_ceil(SAMPLE).max(1);
        let sample: Vec<&String> = accounts.iter().step_by(step).collect();
        self.with(|o| {
            let rows: Option<i64> =
                o.conn
                    .query_row("SELECT max(n) FROM measurements", [], |r| r.get(0))?;
            let rows = rows.unwrap_or(0).max(0) as u64;
            // The sample's count at which the estimate for every account
            // (count x accounts / sample) reaches a tenth of the table:
            // counting stops there, so a job over most of a large table
            // does not count it all before scanning it.
            let needed = (rows.saturating_mul(sample.len() as u64))
                .div_ceil((accounts.len() as u64).saturating_mul(10).max(1))
                .max(1);
            // Those of the UTC days the window touches, counted in the
            // index alone (the exact bounds would need each row's `ts_ms`
            // from the table: a random page read per measurement).
            let mut count = o.conn.prepare_cached(
                "SELECT count(*) FROM (SELECT 1 FROM measurements \
                 WHERE account_id = ?1 AND meter_id = ?2 AND ts_ms / 86400000 BETWEEN ?3 AND ?4 \
                 LIMIT ?5)",
            )?;
            let (from_day, to_day) = (from_ms / DAY_MS, to_ms / DAY_MS);
            let mut counted = 0u64;
            for account in sample {
                let left = (needed - counted) as i64;
                let n: i64 = count
                    .query_row(params![account, meter_id, from_day, to_day, left], |r| {
                        r.get(0)
                    })?;
                counted += n.max(0) as u64;
                if counted >= needed {
                    return Ok(true);
                }
            }
            Ok(false)
        })
    }

    /// Visits every measurement of `meter_id` with `ts` in `[from_ms,
    /// to_ms]`, in arrival order, by one sequential scan of the table:
    /// `visit(account_id, body)`. When the measurements wanted are a good
    /// part of the table, each page read once in file order beats a range
    /// scan per account, whose rows are spread over every page.
    pub(crate) fn scan_measurements(
        &self,
        meter_id: &str,
        from_ms: i64,
        to_ms: i64,
        mut visit: impl FnMut(&str, &str),
    ) -> Result<(), StoreError> {
        self.with(|o| {
            let mut st = o.conn.prepare_cached(
                "SELECT account_id, body FROM measurements NOT INDEXED \
                 WHERE meter_id = ?1 AND ts_ms BETWEEN ?2 AND ?3 ORDER BY n",
            )?;
            let mut rows = st.query(params![meter_id, from_ms, to_ms])?;
            while let Some(r) = rows.next()? {
                let text = |i: usize| {
                    r.get_ref(i)?.as_str().map_err(|e| {
                        rusqlite::Error::FromSqlConversionFailure(
                            i,
                            rusqlite::types::Type::Text,
                            e.into(),
                        )
                    })
                };
                visit(text(0)?, text(1)?);
            }
            Ok(())
        })
    }

    /// Visits measurements with `ts` in `[from_ms, to_ms]`, most recently
    /// received first, until `visit(account_id, meter_id, body)` returns
    /// false: only these accounts' (index range scans per account and
    /// meter), or with `accounts` None every account's (a backward scan of
    /// the table, skipping other meters').
    pub(crate) fn visit_newest_first(
        &self,
        accounts: Option<&[&str]>,
        meters: &[&str],
        from_ms: i64,
        to_ms: i64,
        mut visit: impl FnMut(&str, &str, &str) -> bool,
    ) -> Result<(), StoreError> {
        let text = |r: &rusqlite::Row<'_>, i: usize| -> rusqlite::Result<String> { r.get(i) };
        self.with(|o| {
            let Some(accounts) = accounts else {
                let mut st = o.conn.prepare_cached(
                    "SELECT account_id, meter_id, body FROM measurements \
                     WHERE ts_ms BETWEEN ?1 AND ?2 ORDER BY n DESC",
                )?;
                let mut rows = st.query(params![from_ms, to_ms])?;
                while let Some(r) = rows.next()? {
                    let meter = text(r, 1)?;
                    if !meters.contains(&meter.as_str()) {
                        continue;
                    }
                    if !visit(&text(r, 0)?, &meter, &text(r, 2)?) {
                        break;
                    }
                }
                return Ok(());
            };
            // The row numbers from the index, then bodies newest first, only
            // as many as the visitor takes.
            let mut ns: Vec<i64> = Vec::new();
            let mut by_index = o.conn.prepare_cached(
                "SELECT n FROM measurements \
                 WHERE account_id = ?1 AND meter_id = ?2 \
                 AND ts_ms / 86400000 BETWEEN ?5 AND ?6 AND ts_ms BETWEEN ?3 AND ?4",
            )?;
            let (from_day, to_day) = (from_ms / DAY_MS, to_ms / DAY_MS);
            for account in accounts {
                for meter in meters {
                    let rows = by_index.query_map(
                        params![account, meter, from_ms, to_ms, from_day, to_day],
                        |r| r.get(0),
                    )?;
                    for n in rows {
                        ns.push(n?);
                    }
                }
            }
            ns.sort_unstable_by(|a, b| b.cmp(a));
            ns.dedup();
            let mut row_of = o.conn.prepare_cached(
                "SELECT account_id, meter_id, body FROM measurements WHERE n = ?1",
            )?;
            for n in ns {
                let (account, meter, body) =
                    row_of.query_row([n], |r| Ok((text(r, 0)?, text(r, 1)?, text(r, 2)?)))?;
                if !visit(&account, &meter, &body) {
                    break;
                }
            }
            Ok(())
        })
    }

    /// Number of stored measurements.
    #[cfg(test)]
    pub(crate) fn measurement_count(&self) -> Result<u64, StoreError> {
        self.with(|o| {
            o.conn
                .query_row("SELECT count(*) FROM measurements", [], |r| r.get(0))
        })
    }

    /// Commits what is appended, checkpoints the WAL into the database,
    /// then closes it and releases the lock: later writes fail (a straggling
    /// task cannot touch a file another emulator may own next).
    pub(crate) fn close(&self) -> Result<(), StoreError> {
        let _one = self.sync_lock.lock().unwrap_or_else(|e| e.into_inner());
        let open = self.conn.lock().unwrap_or_else(|e| e.into_inner()).take();
        let result = match open {
            Some(Open { conn: c, in_tx, .. }) => {
                let committed = if in_tx {
                    c.execute_batch("COMMIT").map_err(sql(&self.path))
                } else {
                    Ok(())
                };
                let checkpoint = c
                    .query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))
                    .map_err(sql(&self.path));
                committed
                    .and(checkpoint)
                    .and(c.close().map_err(|(_, e)| sql(&self.path)(e)))
            }
            None => Ok(()),
        };
        self.lock.lock().unwrap_or_else(|e| e.into_inner()).take();
        result
    }
}

/// Opens (creating) the database file with the store's settings; the
/// notice says when an older schema was upgraded.
fn connect(path: &Path) -> Result<(Connection, Option<String>), StoreError> {
    let conn = Connection::open(path).map_err(sql(path))?;
    conn.query_row("PRAGMA journal_mode = WAL", [], |_| Ok(()))
        .map_err(sql(path))?;
    let notice = init(&conn, path)?;
    Ok((conn, notice))
}

/// Pragmas and schema; upgrades a version 1 database, refuses one of a
/// newer schema.
fn init(conn: &Connection, path: &Path) -> Result<Option<String>, StoreError> {
    // FULL: in WAL mode the WAL is fsync'd at every commit, so a change is
    // durable before its response (NORMAL would only fsync at checkpoints).
    conn.execute_batch(
        "PRAGMA synchronous = FULL;
         PRAGMA foreign_keys = OFF;
         PRAGMA cache_size = -65536;
         PRAGMA wal_autocheckpoint = 16384;
         PRAGMA busy_timeout = 5000;",
    )
    .map_err(sql(path))?;
    conn.execute_batch(META).map_err(sql(path))?;
    conn.execute_batch(SCHEMA).map_err(sql(path))?;
    let found: Option<i64> = conn
        .query_row("SELECT value FROM meta WHERE key = 'schema'", [], |r| {
            r.get(0)
        })
        .optional()
        .map_err(sql(path))?;
    match found {
        None => {
            conn.execute_batch(MEASUREMENTS).map_err(sql(path))?;
            conn.execute(
                "INSERT INTO meta (key, value) VALUES ('schema', ?1)",
                [SCHEMA_VERSION],
            )
            .map_err(sql(path))?;
            Ok(None)
        }
        Some(v) if v > SCHEMA_VERSION => Err(StoreError::Version {
            path: path.to_owned(),
            found: v,
        }),
        Some(1) => upgrade_v1(conn).map_err(sql(path)).map(|n| {
            Some(format!(
                "Upgraded the emulator database {} to schema {SCHEMA_VERSION} ({n} measurements; their uids are now indexed by hash).",
                path.display()
            ))
        }),
        Some(_) => {
            conn.execute_batch(MEASUREMENTS).map_err(sql(path))?;
            Ok(None)
        }
    }
}

/// Rebuilds a schema 1 database's measurements (a `uid UNIQUE` index and an
/// (account, meter, ts) index) as schema 2, in one transaction: a crash
/// leaves the old schema, and the next open upgrades again. Rows keep their
/// `n` and `body`. Returns the number of measurements.
fn upgrade_v1(conn: &Connection) -> rusqlite::Result<i64> {
    conn.execute_batch("BEGIN IMMEDIATE")?;
    let done = (|| {
        conn.execute_batch(
            "ALTER TABLE measurements RENAME TO measurements_v1;
             DROP INDEX IF EXISTS measurements_by_account_meter_ts;",
        )?;
        conn.execute_batch(MEASUREMENTS)?;
        let n = conn.execute(
            "INSERT INTO measurements (n, uid, account_id, meter_id, ts_ms, body) \
             SELECT n, uid, account_id, meter_id, ts_ms, body FROM measurements_v1 ORDER BY n",
            [],
        )?;
        {
            let mut read = conn.prepare("SELECT n, uid FROM measurements WHERE uid IS NOT NULL")?;
            let mut write = conn.prepare("INSERT INTO measurement_uids (n, h) VALUES (?1, ?2)")?;
            let mut rows = read.query([])?;
            while let Some(r) = rows.next()? {
                let uid: String = r.get(1)?;
                write.execute(params![r.get::<_, i64>(0)?, uids::hash(&uid)])?;
            }
        }
        conn.execute_batch(
            "DROP TABLE measurements_v1;
             UPDATE meta SET value = 2 WHERE key = 'schema';",
        )?;
        Ok(n as i64)
    })();
    match done {
        Ok(n) => conn.execute_batch("COMMIT").map(|()| n),
        Err(e) => {
            let _ = conn.execute_batch("ROLLBACK");
            Err(e)
        }
    }
}

/// The uid index, read from `measurement_uids` on first use.
fn loaded<'a>(conn: &Connection, uids: &'a mut Option<Uids>) -> rusqlite::Result<&'a mut Uids> {
    if uids.is_none() {
        // max(n) is a bound on the count, found without a scan.
        let bound: Option<i64> =
            conn.query_row("SELECT max(n) FROM measurement_uids", [], |r| r.get(0))?;
        let mut entries = Vec::with_capacity(bound.unwrap_or(0).max(0) as usize);
        let mut st = conn.prepare("SELECT h, n FROM measurement_uids")?;
        let mut rows = st.query([])?;
        while let Some(r) = rows.next()? {
            entries.push((r.get(0)?, r.get(1)?));
        }
        *uids = Some(Uids::from_entries(entries));
    }
    Ok(uids.get_or_insert_with(Uids::default))
}

/// Whether a measurement with this uid is stored: the index's candidates,
/// each compared by its real uid.
fn is_stored(conn: &Connection, index: &Uids, uid: &str) -> rusqlite::Result<bool> {
    let mut st = conn.prepare_cached("SELECT uid FROM measurements WHERE n = ?1")?;
    for n in index.candidates(uids::hash(uid)) {
        let stored: Option<Option<String>> = st.query_row([n], |r| r.get(0)).optional()?;
        if stored.flatten().as_deref() == Some(uid) {
            return Ok(true);
        }
    }
    Ok(false)
}

/// A measurement's body as stored: every field but the ids (they are
/// columns), serialised without copying the object.
struct StoredBody<'a>(&'a Object);

impl serde::Serialize for StoredBody<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap as _;
        let mut map = s.serialize_map(None)?;
        for (k, v) in self.0 {
            if k != "meterId" && k != "accountId" {
                map.serialize_entry(k, v)?;
            }
        }
        map.end()
    }
}

fn write_changes(
    tx: &Connection,
    uids: &mut Option<Uids>,
    changes: &[Change],
) -> rusqlite::Result<()> {
    for c in changes {
        match c {
            Change::Put { table, seq, value } => {
                let Some(id) = value.get("id").and_then(Value::as_str) else {
                    continue;
                };
                let code = value.get("code").and_then(Value::as_str);
                let body = Value::Object(value.clone()).to_string();
                tx.prepare_cached(
                    "INSERT OR REPLACE INTO entities (tbl, id, seq, code, body) \
                     VALUES (?1, ?2, ?3, ?4, ?5)",
                )?
                .execute(params![table, id, *seq as i64, code, body])?;
            }
            Change::Delete { table, id } => {
                tx.prepare_cached("DELETE FROM entities WHERE tbl = ?1 AND id = ?2")?
                    .execute(params![table, id])?;
            }
            Change::Measurement { value } => {
                let s = |k: &str| value.get(k).and_then(Value::as_str);
                let ts = s("ts")
                    .and_then(m3ter_api::validate::parse_date_time)
                    .map_or(0, |t| t.timestamp_millis());
                let uid = s("uid");
                // A stored uid makes this a no-op: ingest is idempotent.
                let index = match uid {
                    Some(uid) => {
                        let index = loaded(tx, uids)?;
                        if is_stored(tx, index, uid)? {
                            continue;
                        }
                        Some(index)
                    }
                    None => None,
                };
                // The ids are columns; the body keeps the rest.
                let body = serde_json::to_string(&StoredBody(value))
                    .map_err(|e| rusqlite::Error::ToSqlConversionFailure(Box::new(e)))?;
                tx.prepare_cached(
                    "INSERT INTO measurements (uid, account_id, meter_id, ts_ms, body) \
                     VALUES (?1, ?2, ?3, ?4, ?5)",
                )?
                .execute(params![
                    uid,
                    s("accountId").unwrap_or_default(),
                    s("meterId").unwrap_or_default(),
                    ts,
                    body
                ])?;
                if let (Some(uid), Some(index)) = (uid, index) {
                    let n = tx.last_insert_rowid();
                    let h = uids::hash(uid);
                    tx.prepare_cached("INSERT INTO measurement_uids (n, h) VALUES (?1, ?2)")?
                        .execute(params![n, h])?;
                    index.insert(h, n);
                }
            }
        }
    }
    Ok(())
}

/// Whether the file at `path` is an old JSON data file (not SQLite's).
fn is_legacy(path: &Path) -> Result<bool, StoreError> {
    use std::io::Read as _;
    let mut f = match File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(false),
        Err(e) => return Err(io(path)(e)),
    };
    let mut head = [0u8; 16];
    let n = f.read(&mut head).map_err(io(path))?;
    Ok(n > 0 && head[..n] != b"SQLite format 3\0"[..n])
}

/// Migrates an old JSON data file (the journal format) into a new database
/// at `path`: the one at `path` itself, or `legacy` while `path` does not
/// exist. The database is built beside and renamed into place, so a crash
/// leaves either the old file or the whole new database; the old file is
/// kept as `OLD.migrated`.
fn migrate(path: &Path, legacy: Option<&Path>) -> Result<Option<String>, StoreError> {
    let source = if is_legacy(path)? {
        path.to_owned()
    } else if let Some(old) = legacy.filter(|_| !path.exists())
        && old.exists()
    {
        old.to_owned()
    } else {
        return Ok(None);
    };
    let changes = legacy::load(&source)?;
    let building = suffixed(path, ".migrating");
    for p in [
        building.clone(),
        suffixed(&building, "-wal"),
        suffixed(&building, "-shm"),
    ] {
        match std::fs::remove_file(&p) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(io(&p)(e)),
        }
    }
    {
        let (mut conn, _) = connect(&building)?;
        let tx = conn.transaction().map_err(sql(&building))?;
        write_changes(&tx, &mut Some(Uids::default()), &changes).map_err(sql(&building))?;
        tx.commit().map_err(sql(&building))?;
        conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))
            .map_err(sql(&building))?;
        conn.close().map_err(|(_, e)| sql(&building)(e))?;
    }
    let kept = suffixed(&source, ".migrated");
    if source == path {
        // Keep the old file under its new name first (a link: the rename
        // below replaces `path` atomically).
        let _ = std::fs::remove_file(&kept);
        std::fs::hard_link(&source, &kept)
            .or_else(|_| std::fs::copy(&source, &kept).map(|_| ()))
            .map_err(io(&kept))?;
        std::fs::rename(&building, path).map_err(io(path))?;
    } else {
        std::fs::rename(&building, path).map_err(io(path))?;
        std::fs::rename(&source, &kept).map_err(io(&kept))?;
    }
    sync_dir(path);
    let measurements = changes
        .iter()
        .filter(|c| matches!(c, Change::Measurement { .. }))
        .count();
    Ok(Some(format!(
        "Migrated the old JSON emulator data {} ({} records, {measurements} measurements) into the SQLite database {}; the old file is kept as {}.",
        source.display(),
        changes.len(),
        path.display(),
        kept.display()
    )))
}

fn sync_dir(path: &Path) {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        // Make the renames durable; not all platforms allow it, so best effort.
        if let Ok(d) = File::open(dir) {
            let _ = d.sync_all();
        }
    }
}

/// The files beside a database that belong to it: SQLite's `-wal` and
/// `-shm`, the emulator's `.lock`, and an interrupted migration's
/// `.migrating` (an old JSON data file's `.tmp` too).
pub fn side_files(path: &Path) -> Vec<PathBuf> {
    let building = suffixed(path, ".migrating");
    vec![
        suffixed(path, "-wal"),
        suffixed(path, "-shm"),
        suffixed(path, ".tmp"),
        suffixed(&building, "-wal"),
        suffixed(&building, "-shm"),
        building,
    ]
}

/// Deletes a database and its side files ([`side_files`], then the lock
/// file), refusing while an emulator holds the lock. Returns the files that
/// existed and were removed. An old file kept as `.migrated` stays.
pub fn remove(path: &Path) -> Result<Vec<PathBuf>, StoreError> {
    let lock_path = lock_path(path);
    // Take the lock first: a running emulator (or `--local` command) keeps it.
    let lock = match OpenOptions::new().write(true).open(&lock_path) {
        Ok(f) => Some(f),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(e) => return Err(io(&lock_path)(e)),
    };
    if let Some(f) = &lock {
        try_lock(f, path, &lock_path)?;
    }
    let mut removed = Vec::new();
    let mut files = vec![path.to_owned()];
    files.extend(side_files(path));
    // The lock file goes last, while we still hold it.
    files.push(lock_path);
    for p in files {
        match std::fs::remove_file(&p) {
            Ok(()) => removed.push(p),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(io(&p)(e)),
        }
    }
    Ok(removed)
}

/// Takes the OS lock on the data file's lock file, or says that another
/// emulator holds it. It retries for a quarter of a second: a process
/// forked by this one (to exec a command) shares the lock's open file until
/// its exec closes it, so a lock just released can look held for a moment.
fn try_lock(lock: &File, path: &Path, lock_path: &Path) -> Result<(), StoreError> {
    for attempt in 0.. {
        match lock.try_lock() {
            Ok(()) => return Ok(()),
            Err(std::fs::TryLockError::WouldBlock) if attempt < 25 => {
                std::thread::sleep(std::time::Duration::from_millis(10));
            }
            Err(std::fs::TryLockError::WouldBlock) => break,
            Err(std::fs::TryLockError::Error(e)) => return Err(io(lock_path)(e)),
        }
    }
    Err(StoreError::Locked {
        path: path.to_owned(),
        lock: lock_path.to_owned(),
    })
}

fn suffixed(path: &Path, suffix: &str) -> PathBuf {
    let mut p = path.as_os_str().to_owned();
    p.push(suffix);
    PathBuf::from(p)
}

fn lock_path(path: &Path) -> PathBuf {
    suffixed(path, ".lock")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn obj(v: Value) -> Object {
        v.as_object().cloned().unwrap_or_default()
    }

    fn measurement(uid: &str, ts: &str) -> Change {
        Change::Measurement {
            value: obj(json!({"uid": uid, "ts": ts, "accountId": "a", "meterId": "m"})),
        }
    }

    #[test]
    fn a_second_open_is_refused_while_locked() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("d.db");
        let (db, _) = Db::open(&path, None).unwrap();
        db.write(&[measurement("u1", "2024-01-01T00:00:00Z")])
            .unwrap();
        let err = Db::open(&path, None).unwrap_err();
        assert!(matches!(err, StoreError::Locked { .. }), "{err}");
        assert!(matches!(remove(&path), Err(StoreError::Locked { .. })));
        db.close().unwrap();
        assert!(matches!(
            db.write(&[measurement("u2", "2024-01-01T00:00:00Z")]),
            Err(StoreError::Closed { .. })
        ));
        let (db, _) = Db::open(&path, None).unwrap();
        assert_eq!(db.measurement_count().unwrap(), 1);
        db.close().unwrap();
        let removed = remove(&path).unwrap();
        assert!(removed.contains(&path) && !path.exists(), "{removed:?}");
    }

    /// The uids of an account's measurements of meter `m` in `[from, to]`,
    /// in arrival order (the arrival numbers visited).
    fn uids_of(db: &Db, account: &str, from: i64, to: i64) -> Vec<String> {
        let mut uids = Vec::new();
        db.visit_measurements(account, "m", from, to, |n, body| {
            let m: Object = serde_json::from_str(body).unwrap();
            let uid = m.get("uid").and_then(Value::as_str).unwrap_or("-");
            uids.push((n, uid.to_owned()));
        })
        .unwrap();
        uids.sort();
        uids.into_iter().map(|(_, uid)| uid).collect()
    }

    #[test]
    fn a_resubmitted_uid_is_a_no_op_and_reads_are_ranged_in_arrival_order() {
        let db = Db::memory().unwrap();
        db.write(&[
            measurement("u2", "2024-01-02T00:00:00Z"),
            measurement("u1", "2024-01-01T00:00:00Z"),
            measurement("u3", "2024-02-01T00:00:00Z"),
        ])
        .unwrap();
        db.write(&[measurement("u1", "2024-01-05T00:00:00Z")])
            .unwrap();
        assert_eq!(db.measurement_count().unwrap(), 3);
        assert!(db.has_uid("u1").unwrap() && !db.has_uid("u9").unwrap());
        let from = 1_704_067_200_000; // 2024-01-01
        let to = from + 30 * 86_400_000;
        assert_eq!(uids_of(&db, "a", from, to), ["u2", "u1"]);
        assert!(uids_of(&db, "b", from, to).is_empty());
    }

    #[test]
    fn uids_survive_a_reopen_and_a_hash_hit_is_checked_against_the_real_uid() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("d.db");
        let (db, _) = Db::open(&path, None).unwrap();
        db.write(&[
            measurement("u1", "2024-01-01T00:00:00Z"),
            measurement("u3", "2024-01-01T00:00:00Z"),
        ])
        .unwrap();
        db.close().unwrap();
        // A collision: u3's row listed under u2's hash.
        let conn = Connection::open(&path).unwrap();
        conn.execute(
            "UPDATE measurement_uids SET h = ?1 WHERE n = 2",
            [uids::hash("u2")],
        )
        .unwrap();
        drop(conn);
        let (db, _) = Db::open(&path, None).unwrap();
        assert!(db.has_uid("u1").unwrap());
        assert!(!db.has_uid("u2").unwrap(), "a hash hit alone is no match");
        db.write(&[
            measurement("u1", "2024-01-02T00:00:00Z"),
            measurement("u2", "2024-01-02T00:00:00Z"),
        ])
        .unwrap();
        assert_eq!(
            db.measurement_count().unwrap(),
            3,
            "u1 kept once, u2 stored"
        );
    }

    #[test]
    fn reads_use_the_day_index() {
        let db = Db::memory().unwrap();
        let plan: Vec<String> = db
            .with(|o| {
                let mut st = o.conn.prepare(
                    "EXPLAIN QUERY PLAN SELECT n FROM measurements \
                     WHERE account_id = ?1 AND meter_id = ?2 \
                     AND ts_ms / 86400000 BETWEEN ?5 AND ?6 AND ts_ms BETWEEN ?3 AND ?4",
                )?;
                let rows = st.query_map(params!["a", "m", 0, 1, 0, 1], |r| r.get(3))?;
                rows.collect()
            })
            .unwrap();
        assert!(
            plan.iter()
                .any(|l| l.contains("measurements_by_account_meter_day")),
            "{plan:?}"
        );
    }

    #[test]
    fn a_schema_1_database_is_upgraded_on_open_keeping_rows_and_uniqueness() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("v1.db");
        {
            let conn = Connection::open(&path).unwrap();
            conn.execute_batch(
                "CREATE TABLE meta (key TEXT PRIMARY KEY, value ANY) STRICT;
                 INSERT INTO meta VALUES ('schema', 1);
                 CREATE TABLE measurements (
                     n INTEGER PRIMARY KEY, uid TEXT UNIQUE, account_id TEXT NOT NULL,
                     meter_id TEXT NOT NULL, ts_ms INTEGER NOT NULL, body TEXT NOT NULL) STRICT;
                 CREATE INDEX measurements_by_account_meter_ts
                     ON measurements (account_id, meter_id, ts_ms);
                 INSERT INTO measurements VALUES
                     (1, 'u1', 'a', 'm', 1704067200000, '{\"uid\":\"u1\",\"ts\":\"2024-01-01T00:00:00Z\"}'),
                     (2, NULL, 'a', 'm', 1704153600000, '{\"ts\":\"2024-01-02T00:00:00Z\"}');",
            )
            .unwrap();
        }
        let (db, notice) = Db::open(&path, None).unwrap();
        let notice = notice.expect("an upgrade notice");
        assert!(
            notice.contains("schema 2") && notice.contains("2 measurements"),
            "{notice}"
        );
        assert!(db.has_uid("u1").unwrap());
        db.write(&[measurement("u1", "2024-01-03T00:00:00Z")])
            .unwrap();
        assert_eq!(db.measurement_count().unwrap(), 2);
        let got = uids_of(&db, "a", 1_704_067_200_000, 1_704_153_600_000);
        assert_eq!(got, ["u1", "-"], "both rows kept, in arrival order");
        db.close().unwrap();
        let (_db, notice) = Db::open(&path, None).unwrap();
        assert!(notice.is_none(), "upgraded once");
        let conn = Connection::open(&path).unwrap();
        let version: i64 = conn
            .query_row("SELECT value FROM meta WHERE key = 'schema'", [], |r| {
                r.get(0)
            })
            .unwrap();
        assert_eq!(version, 2);
    }

    #[test]
    fn an_old_json_file_is_migrated_once_and_kept() {
        let dir = tempfile::tempdir().unwrap();
        let old = dir.path().join("local-org.json");
        let path = dir.path().join("local-org.db");
        std::fs::write(
            &old,
            concat!(
                r#"{"op":"put","table":"products","seq":1,"value":{"id":"a","code":"a"}}"#,
                "\n",
                r#"{"op":"put","table":"products","seq":2,"value":{"id":"b","code":"b"}}"#,
                "\n",
                r#"{"op":"delete","table":"products","id":"a"}"#,
                "\n",
                r#"{"op":"measurement","value":{"uid":"u","ts":"2024-01-01T00:00:00Z","accountId":"x","meterId":"m"}}"#,
                "\n"
            ),
        )
        .unwrap();
        let (db, notice) = Db::open(&path, Some(&old)).unwrap();
        let notice = notice.unwrap();
        assert!(notice.contains("local-org.json.migrated"), "{notice}");
        let rows = db.entities().unwrap();
        assert_eq!(rows.len(), 1);
        assert_eq!(rows[0].value["id"], "b");
        assert_eq!(db.measurement_count().unwrap(), 1);
        db.close().unwrap();
        assert!(!old.exists() && dir.path().join("local-org.json.migrated").exists());
        let (_db, notice) = Db::open(&path, Some(&old)).unwrap();
        assert!(notice.is_none());
    }

    #[test]
    fn an_old_json_file_given_as_the_database_is_migrated_in_place() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("data.json");
        std::fs::write(
            &path,
            r#"{"op":"put","table":"meters","seq":4,"value":{"id":"m","code":"m"}}"#,
        )
        .unwrap();
        let (db, notice) = Db::open(&path, None).unwrap();
        assert!(notice.is_some());
        assert_eq!(db.entities().unwrap()[0].seq, 4);
        assert!(!is_legacy(&path).unwrap());
        assert!(dir.path().join("data.json.migrated").exists());
    }
}
