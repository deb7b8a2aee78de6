//! Reading and writing the state file.
//!
//! Expected flow: a command opens the store (taking the lock when it will
//! write), reads `state()`, changes it, and calls `save` after every remote
//! change. Guarantees: a save is atomic (a reader or a crash sees the old
//! file or the new one, never a torn one), durable when `save` returns, and
//! the previous file survives as `<file>.backup`.

use std::collections::{BTreeSet, HashMap};
use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use serde_json::Value;

use super::journal::{self, Journal, Replayed};
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
    /// Addresses changed through [`StateStore::change`] since the last
    /// write began: what the next journal record holds.
    changed: BTreeSet<Address>,
    /// Changed through [`StateStore::state_mut`] since the last write
    /// began: the next write is the whole state.
    whole: bool,
    /// The next whole write ends the run's journal instead of starting a
    /// new one (set by [`StateStore::compact`]).
    closing: bool,
}

/// Where writes go, and the lock held until the store is dropped (end of
/// the command).
#[derive(Debug)]
enum Backend {
    File {
        path: PathBuf,
        lock: Option<StateLock>,
        /// The journal the next saves may append to: started by a whole
        /// write, and cleared by any failed write (so the next is whole).
        journal: Arc<Mutex<Option<Journal>>>,
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
                let found = read_with_journal(path)?;
                Ok(StateStore {
                    existed: found.is_some(),
                    state: found.unwrap_or_else(empty),
                    backend: Backend::File {
                        path: path.clone(),
                        lock,
                        journal: Arc::default(),
                    },
                    changed: BTreeSet::new(),
                    whole: false,
                    closing: false,
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
                    changed: BTreeSet::new(),
                    whole: false,
                    closing: false,
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
    /// lock, if held, after compacting the journal: see [`StateStore::compact`]).
    pub fn into_state(mut self) -> State {
        self.compact_or_warn();
        std::mem::replace(&mut self.state, State::new("", ""))
    }

    /// The current state, to change before a [`StateStore::commit`]; the
    /// next write is then the whole state.
    pub fn state_mut(&mut self) -> &mut State {
        self.whole = true;
        &mut self.state
    }

    /// The current state, to change the entry of `address` only (add,
    /// replace or remove it) before a [`StateStore::begin_commit`]: the
    /// write can then append just that entry to the journal.
    pub fn change(&mut self, address: &Address) -> &mut State {
        self.changed.insert(address.clone());
        &mut self.state
    }

    /// Writes the whole state if saves since the last whole write went to
    /// the journal, so the file alone is complete again. Runs at the end
    /// of a command (from `Drop` at the latest).
    pub fn compact(&mut self) -> Result<(), StateError> {
        let pending = match &self.backend {
            Backend::File {
                journal,
                lock: Some(_),
                path,
            } => {
                let mut slot = lock_slot(journal);
                match slot.as_ref().map(Journal::has_records) {
                    Some(true) => true,
                    // Started by the last whole write, never used: the
                    // file is complete, so the journal goes.
                    Some(false) => {
                        *slot = None;
                        journal::remove(path);
                        false
                    }
                    None => false,
                }
            }
            _ => false,
        };
        if pending {
            self.whole = true;
            self.closing = true;
            let done = self.commit();
            self.closing = false;
            done?;
        }
        Ok(())
    }

    fn compact_or_warn(&mut self) {
        if let Err(e) = self.compact() {
            tracing::warn!(
                "the state journal stays beside the state file, and is replayed on the next run: {e}"
            );
        }
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
        self.whole = true;
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
        self.whole = true;
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
        let serialize = |e: serde_json::Error| StateError::Io {
            path: PathBuf::from(self.at.to_string()),
            what: "serialize".into(),
            source: std::io::Error::other(e),
        };
        let sink = match &self.backend {
            Backend::File {
                path,
                lock: Some(_),
                journal,
            } => {
                let append = !self.whole
                    && self.state.format_version == FORMAT_VERSION
                    && lock_slot(journal).as_ref().is_some_and(|j| !j.is_full());
                if append {
                    let serial = self.state.serial + 1;
                    let bytes =
                        journal::record(&self.state, serial, &self.changed).map_err(serialize)?;
                    self.state.serial = serial;
                    self.changed.clear();
                    return Ok(PendingWrite {
                        sink: Sink::Journal(journal.clone()),
                        bytes,
                        serial,
                    });
                }
                Sink::File {
                    path: path.clone(),
                    journal: journal.clone(),
                    lineage: self.state.lineage.clone(),
                    then_journal: !self.closing,
                }
            }
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
        self.whole = false;
        self.changed.clear();
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

impl Drop for StateStore {
    fn drop(&mut self) {
        self.compact_or_warn();
    }
}

/// Where a [`PendingWrite`] goes.
#[derive(Debug)]
enum Sink {
    /// The whole state, then a fresh journal for the next saves.
    File {
        path: PathBuf,
        journal: Arc<Mutex<Option<Journal>>>,
        lineage: String,
        /// Start a journal for the next saves; else remove it (the run is
        /// done, and the file alone is the state).
        then_journal: bool,
    },
    /// One record appended to the journal.
    Journal(Arc<Mutex<Option<Journal>>>),
    Object(Arc<RemoteWriter>),
}

fn lock_slot(slot: &Mutex<Option<Journal>>) -> std::sync::MutexGuard<'_, Option<Journal>> {
    // A panic while holding it cannot leave a half-updated journal handle
    // that matters: the worst case is one more whole write.
    slot.lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
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
            Sink::File {
                path,
                journal,
                lineage,
                then_journal,
            } => {
                let mut slot = lock_slot(&journal);
                *slot = None;
                write_bytes_atomic(&path, &self.bytes)?;
                if !then_journal {
                    journal::remove(&path);
                } else {
                    match Journal::start(&path, &lineage, self.serial, self.bytes.len() as u64) {
                        Ok(j) => *slot = Some(j),
                        // The file is written; the next save is whole again.
                        Err(e) => tracing::warn!("cannot start the state journal: {e}"),
                    }
                }
            }
            Sink::Journal(journal) => {
                let mut slot = lock_slot(&journal);
                let Some(j) = slot.as_mut() else {
                    // Only one write is in flight and a failed one stops
                    // the saves, so this is a caller's bug, kept loud.
                    return Err(StateError::Io {
                        path: PathBuf::from("state journal"),
                        what: "append to".into(),
                        source: std::io::Error::other("the journal was closed by a failed write"),
                    });
                };
                if let Err(e) = j.append(&self.bytes) {
                    // What the journal holds now is unknown: the next save
                    // rewrites the whole state.
                    *slot = None;
                    return Err(e);
                }
            }
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

/// Reads and checks a state file with its journal replayed; `None` when it
/// does not exist.
pub(crate) fn read_with_journal(path: &Path) -> Result<Option<State>, StateError> {
    // A reader without the lock can see a compaction land between reading
    // the file and its journal; it then reads both again.
    for _ in 0..5 {
        let Some(mut state) = read(path)? else {
            return Ok(None);
        };
        match journal::replay(path, &mut state)? {
            Replayed::None | Replayed::Applied(_) => return Ok(Some(state)),
            Replayed::Newer => continue,
        }
    }
    Err(StateError::Corrupt {
        path: Location::file(path),
        message: format!(
            "its journal {} extends a newer state than the file, read five times; if no other m3ter is writing it, the file was restored from an older copy: delete the journal",
            journal::journal_path(path).display()
        ),
    })
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
    /// Just the version, read without building the rest.
    #[derive(serde::Deserialize)]
    struct Probe {
        #[serde(rename = "formatVersion")]
        format_version: Option<Value>,
    }
    let probe: Probe = serde_json::from_str(text).map_err(|e| corrupt(e.to_string()))?;
    // The version is checked before the shape: a newer format may have a
    // shape this build cannot read, and that deserves the clearer message.
    let version = probe.format_version.as_ref().and_then(Value::as_u64);
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
    // Straight into the state (not through a `Value` of the whole file, a
    // second copy), then each entry's fields at their exact size: at 40,000
    // entries the slack of parsed maps is a third of their memory.
    let mut state: State = serde_json::from_str(text).map_err(|e| corrupt(e.to_string()))?;
    for r in state.resources.values_mut() {
        r.applied = crate::live::exact_map(std::mem::take(&mut r.applied));
    }
    Ok(state)
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
    use crate::state::ResourceState;
    use std::fs::OpenOptions;

    #[test]
    fn a_prepared_write_lands_with_its_serial_and_keeps_a_backup() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("s.json");
        let mut store = StateStore::open(&path, "org-1", "http://127.0.0.1:1", true).expect("open");
        assert_eq!(store.commit().expect("first"), 1);
        // A change of the whole state: written whole, not journaled.
        store
            .state_mut()
            .variables
            .insert("v".into(), Value::from(1));
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

    fn entity(id: &str) -> ResourceState {
        ResourceState {
            id: id.to_string(),
            version: 1,
            depends_on: Vec::new(),
            adopted: false,
            applied: serde_json::Map::new(),
        }
    }

    fn put(store: &mut StateStore, address: &Address, id: &str) -> u64 {
        store
            .change(address)
            .resources
            .insert(address.clone(), entity(id));
        store.commit().expect("commit")
    }

    /// Saves of single entries append to the journal, each the same size
    /// however large the state is; the file is rewritten only when the
    /// run compacts.
    #[test]
    fn single_entry_saves_are_journaled_at_a_constant_cost_and_compacted_at_the_end() {
        use m3ter_api::Kind;
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("s.json");
        let journal = journal::journal_path(&path);
        let mut store = StateStore::open(&path, "org-1", "http://x", true).expect("open");
        for i in 0..1000 {
            store.state_mut().resources.insert(
                Address::new(Kind::Product, format!("p{i:04}")),
                entity(&format!("id-{i:04}")),
            );
        }
        assert_eq!(store.commit().expect("base"), 1);
        let file_len = std::fs::metadata(&path).expect("file").len();

        let mut sizes = Vec::new();
        for i in 0..3 {
            let before = std::fs::metadata(&journal).expect("journal").len();
            let a = Address::new(Kind::Meter, format!("m{i}"));
            assert_eq!(put(&mut store, &a, &format!("meter-{i}")), 2 + i);
            sizes.push(std::fs::metadata(&journal).expect("journal").len() - before);
        }
        let gone = Address::new(Kind::Product, "p0000");
        store.change(&gone).resources.remove(&gone);
        assert_eq!(store.commit().expect("remove"), 5);

        assert!(sizes.iter().all(|&n| n == sizes[0] && n < 200), "{sizes:?}");
        assert!(
            sizes[0] * 50 < file_len,
            "a record is not a copy of the state: {sizes:?} vs {file_len}"
        );
        // The file is as the base write left it; the journal completes it.
        assert_eq!(read(&path).expect("read").expect("file").serial, 1);
        let seen = read_with_journal(&path).expect("read").expect("file");
        assert_eq!(seen.serial, 5);
        assert_eq!(seen.resources.len(), 1002);
        assert_eq!(
            seen.resources[&Address::new(Kind::Meter, "m2")].id,
            "meter-2"
        );
        assert!(!seen.resources.contains_key(&gone));

        store.compact().expect("compact");
        let file = read(&path).expect("read").expect("file");
        assert_eq!((file.serial, file.resources), (6, seen.resources));
        assert!(!journal.exists(), "a compacted run leaves no journal");
    }

    /// A run that dies without compacting (here: the store is leaked, as a
    /// SIGKILL would leave it) loses no save; a torn last line, a save
    /// whose fsync never returned, is ignored.
    #[test]
    fn a_killed_run_is_replayed_from_its_journal_without_its_torn_last_line() {
        use m3ter_api::Kind;
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("s.json");
        let mut store = StateStore::open(&path, "org-1", "http://x", true).expect("open");
        store.state_mut();
        store.commit().expect("base");
        let a = Address::new(Kind::Product, "a");
        put(&mut store, &a, "id-a");
        std::mem::forget(store);
        let mut torn = OpenOptions::new()
            .append(true)
            .open(journal::journal_path(&path))
            .expect("journal");
        torn.write_all(br#"{"serial":3,"set":{"product.b""#)
            .expect("tear");
        drop(torn);
        // The leaked lock belongs to this live process: a new run would be
        // told to force-unlock; the test removes it as that would.
        std::fs::remove_file(crate::state::lock_path(&path)).expect("unlock");

        let mut store = StateStore::open(&path, "org-1", "http://x", true).expect("reopen");
        assert_eq!(store.state().serial, 2);
        assert_eq!(store.state().resources[&a].id, "id-a");
        assert_eq!(store.state().resources.len(), 1);
        // The next save is whole (this run has no journal yet), and the
        // run then leaves a complete file.
        let b = Address::new(Kind::Product, "b");
        assert_eq!(put(&mut store, &b, "id-b"), 3);
        drop(store);
        let file = read(&path).expect("read").expect("file");
        assert_eq!(file.resources.len(), 2);
        assert!(!journal::journal_path(&path).exists());
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
