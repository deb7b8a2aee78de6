//! Reading and writing the state file.
//!
//! Expected flow: a command opens the store (taking the lock when it will
//! write), reads `state()`, changes it, and calls `save` after every remote
//! change. Guarantees: a save is atomic (a reader or a crash sees the old
//! file or the new one, never a torn one), durable when `save` returns, and
//! the previous file survives as `<file>.backup`.

use std::collections::HashMap;
use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use serde_json::Value;

use super::location::{Location, Place};
use super::lock::{StateLock, Unlocked, force_unlock_id};
use super::remote::{Remote, RemoteLock, RemoteWriter};
use super::{FORMAT_VERSION, State, StateError};
use crate::address::Address;

/// A state file (or object) opened for a command.
#[derive(Debug)]
pub struct StateStore {
    at: Location,
    state: State,
    /// Whether the state existed when opened.
    existed: bool,
    backend: Backend,
}

/// Where writes go, and the lock held until the store is dropped (end of
/// the command).
#[derive(Debug)]
enum Backend {
    File {
        path: PathBuf,
        lock: Option<StateLock>,
    },
    Object {
        writer: Arc<RemoteWriter>,
        /// Dropped after `writer` is done: see [`RemoteLock`].
        lock: Option<RemoteLock>,
    },
}

impl StateStore {
    /// Opens the state of `org_id` at `at` (a path or a [`Location`]),
    /// taking the lock when `lock` (waiting for it up to the location's
    /// lock timeout).
    ///
    /// A missing file is a new, empty state with a fresh lineage (written on
    /// the first save). Refused: a file that is not valid state JSON, a
    /// file of another org, a newer `formatVersion`, and a lock held by
    /// another process, and a file in which two addresses share one id.
    /// `base_url` replaces the recorded one (the same org may be reached
    /// through a different URL, e.g. an emulator port).
    pub fn open(
        at: impl Into<Location>,
        org_id: &str,
        base_url: &str,
        lock: bool,
    ) -> Result<StateStore, StateError> {
        let mut store = StateStore::open_any(at.into(), lock, || State::new(org_id, base_url))?;
        let path = store.at.clone();
        let s = &mut store.state;
        if s.org_id != org_id {
            return Err(StateError::OtherOrg {
                path,
                file_org: s.org_id.clone(),
                org: org_id.to_string(),
            });
        }
        check_unique_ids(&path, s)?;
        if s.base_url != base_url {
            tracing::debug!(old = %s.base_url, new = %base_url, "base URL changed");
            s.base_url = base_url.to_string();
        }
        Ok(store)
    }

    /// Opens an existing state file whatever its org (the `state`
    /// subcommands given only `--state`). Unlike [`StateStore::open`] it
    /// accepts two addresses sharing one id: `state rm` is how that is
    /// fixed.
    pub fn open_existing(at: impl Into<Location>, lock: bool) -> Result<StateStore, StateError> {
        let at = at.into();
        let missing = StateError::Missing { path: at.clone() };
        let store = StateStore::open_any(at, lock, || State::new("", ""))?;
        if !store.existed {
            return Err(missing);
        }
        Ok(store)
    }

    /// Takes the lock if asked, then reads the state (`empty()` when there
    /// is none yet).
    fn open_any(
        at: Location,
        lock: bool,
        empty: impl FnOnce() -> State,
    ) -> Result<StateStore, StateError> {
        match &*at.place {
            Place::File(path) => {
                let lock = if lock {
                    Some(StateLock::acquire_waiting(
                        path,
                        &command_name(),
                        at.lock_timeout,
                    )?)
                } else {
                    None
                };
                let found = read(path)?;
                Ok(StateStore {
                    existed: found.is_some(),
                    state: found.unwrap_or_else(empty),
                    backend: Backend::File {
                        path: path.clone(),
                        lock,
                    },
                    at,
                })
            }
            Place::Object(url) => {
                let remote = Remote::connect(url)?;
                let lock = if lock {
                    let info = super::LockInfo::current(&command_name());
                    Some(remote.lock(info, at.lock_timeout)?)
                } else {
                    None
                };
                let (state, version, previous) = match remote.read()? {
                    Some((bytes, version)) => {
                        let text =
                            String::from_utf8(bytes.clone()).map_err(|e| StateError::Corrupt {
                                path: at.clone(),
                                message: e.to_string(),
                            })?;
                        (Some(parse(&text, &at)?), Some(version), Some(bytes))
                    }
                    None => (None, None, None),
                };
                Ok(StateStore {
                    existed: state.is_some(),
                    state: state.unwrap_or_else(empty),
                    backend: Backend::Object {
                        writer: Arc::new(RemoteWriter {
                            remote,
                            version: Mutex::new(version),
                            previous: Mutex::new(previous),
                        }),
                        lock,
                    },
                    at,
                })
            }
        }
    }

    /// Where the state is. (`display()` on it reads like a path's.)
    pub fn path(&self) -> &Location {
        &self.at
    }

    /// Whether this store holds the lock.
    pub fn is_locked(&self) -> bool {
        match &self.backend {
            Backend::File { lock, .. } => lock.is_some(),
            Backend::Object { lock, .. } => lock.is_some(),
        }
    }

    /// Whether the state existed when the store was opened.
    pub fn existed(&self) -> bool {
        self.existed
    }

    /// The current state: as loaded, then as last saved.
    pub fn state(&self) -> &State {
        &self.state
    }

    /// The state, for a reader that is done with the store (releases the
    /// lock, if held).
    pub fn into_state(self) -> State {
        let StateStore { state, .. } = self;
        state
    }

    /// The current state, to change before a [`StateStore::commit`].
    pub fn state_mut(&mut self) -> &mut State {
        &mut self.state
    }

    /// Makes `state` the current state and writes it with the next serial.
    /// The store keeps its lineage, org id and base URL; returns the serial
    /// written.
    pub fn save(&mut self, state: &State) -> Result<u64, StateError> {
        let (lineage, org, base) = (
            std::mem::take(&mut self.state.lineage),
            std::mem::take(&mut self.state.org_id),
            std::mem::take(&mut self.state.base_url),
        );
        let serial = self.state.serial;
        self.state = state.clone();
        self.state.lineage = lineage;
        self.state.org_id = org;
        self.state.base_url = base;
        self.state.serial = serial;
        self.commit()
    }

    /// Writes the current state (after changes through
    /// [`StateStore::state_mut`]) with the next serial; returns it.
    pub fn commit(&mut self) -> Result<u64, StateError> {
        let pending = self.begin_commit()?;
        let serial = pending.serial;
        match pending.write() {
            Ok(s) => Ok(s),
            Err(e) => {
                // Not written: the serial may be taken again.
                if self.state.serial == serial {
                    self.state.serial -= 1;
                }
                Err(e)
            }
        }
    }

    /// Replaces the state with `incoming` (`m3ter state push`): refused
    /// when its lineage differs from the current one, or its serial is
    /// below the current one, unless `force`. Written with a serial above
    /// both, so serials never go backwards. Returns the serial written.
    pub fn push(&mut self, file: &Path, incoming: State, force: bool) -> Result<u64, StateError> {
        let refuse = |why: String| StateError::PushRefused {
            file: file.to_path_buf(),
            path: self.at.clone(),
            why,
        };
        let current = &self.state;
        if self.existed && !force {
            if incoming.lineage != current.lineage {
                return Err(refuse(format!(
                    "its lineage {} is not the lineage {} of the state there (another history); pass --force to replace that state anyway",
                    incoming.lineage, current.lineage
                )));
            }
            if incoming.serial < current.serial {
                return Err(refuse(format!(
                    "its serial {} is older than the serial {} there (the state was written since); pass --force to replace it anyway",
                    incoming.serial, current.serial
                )));
            }
        }
        check_unique_ids(&Location::file(file), &incoming)?;
        let floor = if self.existed { current.serial } else { 0 };
        let serial = incoming.serial.max(floor + 1) - 1;
        self.state = incoming;
        self.state.serial = serial;
        self.commit()
    }

    /// Like [`StateStore::commit`], in two halves: this one takes the next
    /// serial and serializes the current state; [`PendingWrite::write`]
    /// (blocking: fsync, or a request) can then run on another thread while
    /// the caller goes on, so a slow disk does not stall a concurrent
    /// apply. The caller must finish one write before beginning the next
    /// (writes share a temp file and must land in serial order), and must
    /// not treat the state as saved until `write` returned `Ok`. If it
    /// fails, the serial it took is not reused: stop writing.
    pub fn begin_commit(&mut self) -> Result<PendingWrite, StateError> {
        let sink = match &self.backend {
            Backend::File {
                path,
                lock: Some(_),
            } => Sink::File(path.clone()),
            Backend::Object {
                writer,
                lock: Some(_),
            } => Sink::Object(writer.clone()),
            // Writing without the lock could interleave with another writer.
            _ => {
                return Err(StateError::NotLocked {
                    path: self.at.clone(),
                });
            }
        };
        self.state.format_version = FORMAT_VERSION;
        self.state.serial += 1;
        let mut bytes = Vec::with_capacity(1 << 16);
        serde_json::to_writer_pretty(&mut bytes, &self.state).map_err(|e| StateError::Io {
            path: PathBuf::from(self.at.to_string()),
            what: "serialize".into(),
            source: std::io::Error::other(e),
        })?;
        bytes.push(b'\n');
        Ok(PendingWrite {
            sink,
            bytes,
            serial: self.state.serial,
        })
    }
}

/// Removes a stuck lock of the state at `at`: the lock file (see
/// [`super::force_unlock`]) or the lock object. With `id`, only the lock
/// of that id; a lock object is removed only by id.
pub fn force_unlock_at(at: &Location, id: Option<&str>) -> Result<Unlocked, StateError> {
    match &*at.place {
        Place::File(path) => force_unlock_id(path, id),
        Place::Object(url) => {
            let remote = Remote::connect(url)?;
            let Some(holder) = remote.read_lock()? else {
                return Ok(Unlocked::NotLocked);
            };
            let named = holder
                .as_ref()
                .map(|h| h.id.as_str())
                .filter(|i| !i.is_empty());
            match (named, id) {
                (Some(held), Some(given)) if held != given => Err(StateError::WrongLockId {
                    path: at.lock(),
                    given: given.to_string(),
                    holder: holder
                        .as_ref()
                        .map(super::LockInfo::describe)
                        .unwrap_or_default(),
                }),
                (Some(held), None) => Err(StateError::WrongLockId {
                    path: at.lock(),
                    given: "(none given)".to_string(),
                    holder: format!(
                        "{}; run `m3ter force-unlock {held}`",
                        holder
                            .as_ref()
                            .map(super::LockInfo::describe)
                            .unwrap_or_default()
                    ),
                }),
                _ => {
                    remote.delete_lock()?;
                    Ok(Unlocked::Removed(holder))
                }
            }
        }
    }
}

/// Where a [`PendingWrite`] goes.
#[derive(Debug)]
enum Sink {
    File(PathBuf),
    Object(Arc<RemoteWriter>),
}

/// A serialized state waiting to be written (see
/// [`StateStore::begin_commit`]); owns everything it needs, so it can move
/// to a blocking thread.
#[derive(Debug)]
pub struct PendingWrite {
    sink: Sink,
    bytes: Vec<u8>,
    serial: u64,
}

impl PendingWrite {
    /// Writes atomically and durably (as [`StateStore::commit`] does);
    /// returns the serial written.
    pub fn write(self) -> Result<u64, StateError> {
        match self.sink {
            Sink::File(path) => write_bytes_atomic(&path, &self.bytes)?,
            Sink::Object(writer) => writer.write(self.bytes, self.serial)?,
        }
        Ok(self.serial)
    }
}

/// The command for the lock file: `m3ter` plus the subcommand words found
/// in the arguments. Only known command names are copied, never values
/// (an argument may be a secret).
fn command_name() -> String {
    const COMMANDS: &[&str] = &[
        "plan",
        "apply",
        "destroy",
        "import",
        "export",
        "refresh",
        "show",
        "state",
        "graph",
        "force-unlock",
        "ingest",
        "bill",
    ];
    const STATE_SUBCOMMANDS: &[&str] = &["list", "show", "rm", "mv", "pull", "push"];
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut words = vec!["m3ter"];
    if let Some(i) = args.iter().position(|a| COMMANDS.contains(&a.as_str())) {
        words.push(
            COMMANDS
                .iter()
                .find(|c| **c == args[i])
                .copied()
                .unwrap_or(""),
        );
        if args[i] == "state"
            && let Some(sub) = args
                .get(i + 1)
                .and_then(|a| STATE_SUBCOMMANDS.iter().find(|s| **s == a.as_str()))
        {
            words.push(sub);
        }
    }
    words.join(" ")
}

/// Reads and checks a state file; `None` when it does not exist.
pub(crate) fn read(path: &Path) -> Result<Option<State>, StateError> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => {
            return Err(StateError::Io {
                path: path.to_path_buf(),
                what: "read".into(),
                source: e,
            });
        }
    };
    parse(&text, &Location::file(path)).map(Some)
}

/// Checks and reads the text of a state at `path`.
pub(crate) fn parse(text: &str, path: &Location) -> Result<State, StateError> {
    let corrupt = |message: String| StateError::Corrupt {
        path: path.clone(),
        message,
    };
    let value: Value = serde_json::from_str(text).map_err(|e| corrupt(e.to_string()))?;
    // The version is checked before the shape: a newer format may have a
    // shape this build cannot read, and that deserves the clearer message.
    let version = value.get("formatVersion").and_then(Value::as_u64);
    match version {
        Some(v) if v > u64::from(FORMAT_VERSION) => {
            return Err(StateError::NewerFormat {
                path: path.clone(),
                found: v,
            });
        }
        // Versions start at 1; 0 was never written (serde would accept it).
        Some(0) => {
            return Err(StateError::UnsupportedFormat {
                path: path.clone(),
                found: 0,
            });
        }
        Some(_) => {}
        None => return Err(corrupt("`formatVersion` is missing or not a number".into())),
    }
    serde_json::from_value(value).map_err(|e| corrupt(e.to_string()))
}

/// Refuses a state in which two addresses record the same id: the planner
/// would match both to one live entity, so an apply could rewrite one
/// entity into the other or delete an entity another address still owns.
/// Entities of different kinds never share an id (m3ter ids are UUIDs), so
/// any repeat is an error, whatever the kinds. An empty id matches nothing
/// live and is left to the planner.
fn check_unique_ids(path: &Location, state: &State) -> Result<(), StateError> {
    let mut owner: HashMap<&str, &Address> = HashMap::with_capacity(state.resources.len());
    for (address, r) in &state.resources {
        if r.id.is_empty() {
            continue;
        }
        if let Some(first) = owner.insert(r.id.as_str(), address) {
            return Err(StateError::DuplicateId {
                path: path.clone(),
                id: r.id.clone(),
                first: first.clone(),
                second: address.clone(),
            });
        }
    }
    Ok(())
}

/// Temp file in the same directory, fsync, previous file kept as
/// `<file>.backup` (a hard link: no copy), rename over, fsync the directory.
/// `bytes` are a whole state file.
fn write_bytes_atomic(path: &Path, bytes: &[u8]) -> Result<(), StateError> {
    let io = |what: &str, p: &Path, e: std::io::Error| StateError::Io {
        path: p.to_path_buf(),
        what: what.to_string(),
        source: e,
    };
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    std::fs::create_dir_all(&dir).map_err(|e| io("create directory", &dir, e))?;
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "state.json".to_string());
    let tmp = dir.join(format!(".{name}.tmp-{}", std::process::id()));
    let result = (|| {
        let mut file = File::create(&tmp).map_err(|e| io("create", &tmp, e))?;
        file.write_all(bytes).map_err(|e| io("write", &tmp, e))?;
        file.sync_all().map_err(|e| io("fsync", &tmp, e))?;
        if path.exists() {
            let backup = backup_path(path);
            let _ = std::fs::remove_file(&backup);
            if std::fs::hard_link(path, &backup).is_err() {
                // Filesystems without hard links: fall back to a copy.
                std::fs::copy(path, &backup).map_err(|e| io("back up", &backup, e))?;
            }
        }
        std::fs::rename(&tmp, path).map_err(|e| io("replace", path, e))?;
        if let Ok(d) = File::open(&dir) {
            // Makes the rename itself durable; not supported everywhere.
            let _ = d.sync_all();
        }
        Ok(())
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

/// `<file>.backup`.
pub fn backup_path(path: &Path) -> PathBuf {
    let mut name = path
        .file_name()
        .map(|n| n.to_os_string())
        .unwrap_or_default();
    name.push(".backup");
    path.with_file_name(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_prepared_write_lands_with_its_serial_and_keeps_a_backup() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("s.json");
        let mut store = StateStore::open(&path, "org-1", "http://127.0.0.1:1", true).expect("open");
        assert_eq!(store.commit().expect("first"), 1);
        let pending = store.begin_commit().expect("begin");
        // Prepared but not written: the file still holds serial 1.
        assert_eq!(read(&path).expect("read").expect("file").serial, 1);
        let written = std::thread::spawn(move || pending.write())
            .join()
            .expect("thread")
            .expect("write");
        assert_eq!(written, 2);
        assert_eq!(read(&path).expect("read").expect("file").serial, 2);
        assert_eq!(
            read(&backup_path(&path))
                .expect("read")
                .expect("backup")
                .serial,
            1
        );
    }

    #[test]
    fn a_prepared_write_needs_the_lock() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("s.json");
        let mut store = StateStore::open(&path, "org-1", "http://x", false).expect("open");
        assert!(matches!(
            store.begin_commit(),
            Err(StateError::NotLocked { .. })
        ));
        assert!(!path.exists());
    }
}
