//! Durability for `--data FILE`: an append-only journal of JSON lines
//! (`store::Change` records), fsync'd before a response is sent, rewritten as a
//! snapshot (temp file + rename) on start and on graceful stop.
//!
//! Its public items are [`remove`] (`m3ter emulator reset`) and [`JournalError`].
//!
//! An OS advisory lock on `FILE.lock` (a sidecar, because compaction
//! replaces the data file's inode) keeps two emulators off the same data.

use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use super::store::{Change, Store};

/// Journal failures: they name the file and what to do.
#[derive(Debug, thiserror::Error)]
pub enum JournalError {
    /// Reading, writing or syncing a file failed.
    #[error("cannot use data file {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The OS error.
        #[source]
        source: std::io::Error,
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
    /// A change came after the journal was closed for shutdown.
    #[error("data file {path} is closed: the emulator is stopping")]
    Closed {
        /// The data file.
        path: PathBuf,
    },
    /// A line of the data file is not a journal record.
    #[error(
        "data file {path}, line {line}: not a journal record ({reason}); fix or remove the line"
    )]
    Corrupt {
        /// The data file.
        path: PathBuf,
        /// The 1-based line number.
        line: usize,
        /// Why the line does not parse.
        reason: String,
    },
}

/// Counters of the group commit: how many records were written and synced.
#[derive(Debug, Default)]
struct Progress {
    written: u64,
    synced: u64,
}

/// The open journal of a running emulator.
#[derive(Debug)]
pub(crate) struct Journal {
    path: PathBuf,
    /// The append handle and the file's length after the last whole record;
    /// None once closed.
    file: Mutex<Option<(File, u64)>>,
    progress: Mutex<Progress>,
    /// Serialises fsyncs; whoever syncs covers every record written before.
    sync_lock: Mutex<()>,
    /// Holds the advisory lock until [`Journal::close`] or drop.
    lock: Mutex<Option<File>>,
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> JournalError + '_ {
    move |source| JournalError::Io {
        path: path.to_owned(),
        source,
    }
}

impl Journal {
    /// Locks `path`, loads it into a store, compacts it and opens it for appends.
    pub(crate) fn open(path: &Path) -> Result<(Journal, Store), JournalError> {
        let lock_path = lock_path(path);
        let lock = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock_path)
            .map_err(io(&lock_path))?;
        try_lock(&lock, path, &lock_path)?;
        let store = load(path)?;
        write_snapshot(path, &store)?;
        let file = OpenOptions::new()
            .append(true)
            .create(true)
            .open(path)
            .map_err(io(path))?;
        let len = file.metadata().map_err(io(path))?.len();
        Ok((
            Journal {
                path: path.to_owned(),
                file: Mutex::new(Some((file, len))),
                progress: Mutex::new(Progress::default()),
                sync_lock: Mutex::new(()),
                lock: Mutex::new(Some(lock)),
            },
            store,
        ))
    }

    /// Appends records (not yet durable); returns the ticket to pass to
    /// [`Journal::sync`]. Call it while holding the store's write lock so
    /// the journal order equals the apply order.
    pub(crate) fn append(&self, changes: &[Change]) -> Result<u64, JournalError> {
        let mut buf = Vec::new();
        for c in changes {
            // Serialising our own JSON values cannot fail.
            serde_json::to_writer(&mut buf, c).map_err(|e| io(&self.path)(e.into()))?;
            buf.push(b'\n');
        }
        let mut guard = self.file.lock().unwrap_or_else(|e| e.into_inner());
        let Some((file, len)) = guard.as_mut() else {
            return Err(JournalError::Closed {
                path: self.path.clone(),
            });
        };
        if let Err(e) = file.write_all(&buf) {
            // Cut a partial record off, so later records stay readable.
            let _ = file.set_len(*len);
            return Err(io(&self.path)(e));
        }
        *len += buf.len() as u64;
        let mut p = self.progress.lock().unwrap_or_else(|e| e.into_inner());
        p.written += 1;
        Ok(p.written)
    }

    /// Makes every record up to `ticket` durable. Concurrent writers share
    /// one fsync: a writer whose ticket was covered by another's sync returns.
    pub(crate) fn sync(&self, ticket: u64) -> Result<(), JournalError> {
        let _one = self.sync_lock.lock().unwrap_or_else(|e| e.into_inner());
        let target = {
            let p = self.progress.lock().unwrap_or_else(|e| e.into_inner());
            if p.synced >= ticket {
                return Ok(());
            }
            p.written
        };
        let handle = {
            let f = self.file.lock().unwrap_or_else(|e| e.into_inner());
            match f.as_ref() {
                Some((file, _)) => file.try_clone().map_err(io(&self.path))?,
                // Closed: close() compacted (and fsync'd) everything written.
                None => return Ok(()),
            }
        };
        handle.sync_data().map_err(io(&self.path))?;
        let mut p = self.progress.lock().unwrap_or_else(|e| e.into_inner());
        p.synced = p.synced.max(target);
        Ok(())
    }

    /// Rewrites the data file as a snapshot of `store` and reopens it.
    pub(crate) fn compact(&self, store: &Store) -> Result<(), JournalError> {
        let mut guard = self.file.lock().unwrap_or_else(|e| e.into_inner());
        if guard.is_none() {
            return Err(JournalError::Closed {
                path: self.path.clone(),
            });
        }
        write_snapshot(&self.path, store)?;
        let file = OpenOptions::new()
            .append(true)
            .open(&self.path)
            .map_err(io(&self.path))?;
        let len = file.metadata().map_err(io(&self.path))?.len();
        *guard = Some((file, len));
        Ok(())
    }

    /// Compacts, then closes the journal and releases the lock: later
    /// writes fail (a straggling task cannot touch a file another emulator
    /// may own next).
    pub(crate) fn close(&self, store: &Store) -> Result<(), JournalError> {
        let compacted = self.compact(store);
        self.file.lock().unwrap_or_else(|e| e.into_inner()).take();
        self.lock.lock().unwrap_or_else(|e| e.into_inner()).take();
        compacted
    }
}

/// Deletes a data file and its side files (the snapshot temp file and the
/// lock file), refusing while an emulator holds the lock. Returns the files
/// that existed and were removed.
pub fn remove(path: &Path) -> Result<Vec<PathBuf>, JournalError> {
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
    // The lock file goes last, while we still hold it.
    for p in [path.to_owned(), tmp_path(path), lock_path] {
        match std::fs::remove_file(&p) {
            Ok(()) => removed.push(p),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(io(&p)(e)),
        }
    }
    Ok(removed)
}

/// Takes the OS lock on the data file's lock file at once, or says that
/// another emulator holds it.
fn try_lock(lock: &File, path: &Path, lock_path: &Path) -> Result<(), JournalError> {
    match lock.try_lock() {
        Ok(()) => Ok(()),
        Err(std::fs::TryLockError::WouldBlock) => Err(JournalError::Locked {
            path: path.to_owned(),
            lock: lock_path.to_owned(),
        }),
        Err(std::fs::TryLockError::Error(e)) => Err(io(lock_path)(e)),
    }
}

fn tmp_path(path: &Path) -> PathBuf {
    let mut p = path.as_os_str().to_owned();
    p.push(".tmp");
    PathBuf::from(p)
}

fn lock_path(path: &Path) -> PathBuf {
    let mut p = path.as_os_str().to_owned();
    p.push(".lock");
    PathBuf::from(p)
}

/// Reads a data file (snapshot + journal). A torn last line (a process
/// killed mid-write) is dropped; a bad line elsewhere is an error.
pub(crate) fn load(path: &Path) -> Result<Store, JournalError> {
    let mut store = Store::default();
    let file = match File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(store),
        Err(e) => return Err(io(path)(e)),
    };
    let lines: Vec<String> = BufReader::new(file)
        .lines()
        .collect::<Result<_, _>>()
        .map_err(io(path))?;
    let last = lines.len();
    for (i, line) in lines.iter().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        match serde_json::from_str::<Change>(line) {
            Ok(c) => store.apply(c),
            Err(_) if i + 1 == last => {} // torn final write: never acknowledged
            Err(e) => {
                return Err(JournalError::Corrupt {
                    path: path.to_owned(),
                    line: i + 1,
                    reason: e.to_string(),
                });
            }
        }
    }
    Ok(store)
}

fn write_snapshot(path: &Path, store: &Store) -> Result<(), JournalError> {
    let tmp = tmp_path(path);
    let mut out = std::io::BufWriter::new(File::create(&tmp).map_err(io(&tmp))?);
    for c in store.snapshot() {
        serde_json::to_writer(&mut out, &c).map_err(|e| io(&tmp)(e.into()))?;
        out.write_all(b"\n").map_err(io(&tmp))?;
    }
    let file = out.into_inner().map_err(|e| io(&tmp)(e.into_error()))?;
    file.sync_all().map_err(io(&tmp))?;
    std::fs::rename(&tmp, path).map_err(io(path))?;
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        // Make the rename itself durable; not all platforms allow it, so best effort.
        if let Ok(d) = File::open(dir) {
            let _ = d.sync_all();
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use m3ter_api::Kind;

    const PUT: &str = r#"{"op":"put","table":"products","seq":1,"value":{"id":"a","code":"a"}}"#;

    #[test]
    fn a_torn_last_line_is_dropped_but_a_bad_middle_line_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("d.json");
        std::fs::write(&path, format!("{PUT}\n{{\"op\":\"put\",\"tab")).unwrap();
        let store = load(&path).unwrap();
        assert_eq!(store.kind(Kind::Product).len(), 1);

        std::fs::write(&path, format!("{PUT}\nnot json\n{PUT}\n")).unwrap();
        let err = load(&path).unwrap_err().to_string();
        assert!(err.contains("line 2"), "{err}");
    }

    #[test]
    fn a_second_open_is_refused_while_locked() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("d.json");
        let (j, _) = Journal::open(&path).unwrap();
        let t = j
            .append(&[Change::Delete {
                table: "products".into(),
                id: "x".into(),
            }])
            .unwrap();
        j.sync(t).unwrap();
        let err = Journal::open(&path).unwrap_err();
        assert!(matches!(err, JournalError::Locked { .. }), "{err}");
        drop(j);
        assert!(Journal::open(&path).is_ok());
    }
}
