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

use serde_json::Value;

use super::lock::StateLock;
use super::{FORMAT_VERSION, State, StateError};
use crate::address::Address;

/// A state file opened for a command.
#[derive(Debug)]
pub struct StateStore {
    path: PathBuf,
    state: State,
    /// Held until the store is dropped (end of the command).
    lock: Option<StateLock>,
}

impl StateStore {
    /// Opens the state of `org_id` at `path`, taking the lock when `lock`.
    ///
    /// A missing file is a new, empty state with a fresh lineage (written on
    /// the first save). Refused: a file that is not valid state JSON, a
    /// file of another org, a newer `formatVersion`, and a lock held by
    /// another process, and a file in which two addresses share one id.
    /// `base_url` replaces the recorded one (the same org may be reached
    /// through a different URL, e.g. an emulator port).
    pub fn open(
        path: &Path,
        org_id: &str,
        base_url: &str,
        lock: bool,
    ) -> Result<StateStore, StateError> {
        let lock = if lock {
            Some(StateLock::acquire(path, &command_name())?)
        } else {
            None
        };
        let state = match read(path)? {
            None => State::new(org_id, base_url),
            Some(mut s) => {
                if s.org_id != org_id {
                    return Err(StateError::OtherOrg {
                        path: path.to_path_buf(),
                        file_org: s.org_id,
                        org: org_id.to_string(),
                    });
                }
                check_unique_ids(path, &s)?;
                if s.base_url != base_url {
                    tracing::debug!(old = %s.base_url, new = %base_url, "base URL changed");
                    s.base_url = base_url.to_string();
                }
                s
            }
        };
        Ok(StateStore {
            path: path.to_path_buf(),
            state,
            lock,
        })
    }

    /// Opens an existing state file whatever its org (the `state`
    /// subcommands given only `--state`). Unlike [`StateStore::open`] it
    /// accepts two addresses sharing one id: `state rm` is how that is
    /// fixed.
    pub fn open_existing(path: &Path, lock: bool) -> Result<StateStore, StateError> {
        let lock = if lock {
            Some(StateLock::acquire(path, &command_name())?)
        } else {
            None
        };
        let state = read(path)?.ok_or_else(|| StateError::Missing {
            path: path.to_path_buf(),
        })?;
        Ok(StateStore {
            path: path.to_path_buf(),
            state,
            lock,
        })
    }

    /// The state file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Whether this store holds the lock.
    pub fn is_locked(&self) -> bool {
        self.lock.is_some()
    }

    /// The current state: as loaded, then as last saved.
    pub fn state(&self) -> &State {
        &self.state
    }

    /// The state, for a reader that is done with the store (releases the
    /// lock, if held).
    pub fn into_state(self) -> State {
        self.state
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
        if self.lock.is_none() {
            // Writing without the lock could interleave with another writer.
            return Err(StateError::NotLocked {
                path: self.path.clone(),
            });
        }
        self.state.format_version = FORMAT_VERSION;
        self.state.serial += 1;
        if let Err(e) = write_atomic(&self.path, &self.state) {
            self.state.serial -= 1;
            return Err(e);
        }
        Ok(self.state.serial)
    }

    /// Like [`StateStore::commit`], in two halves: this one takes the next
    /// serial and serializes the current state; [`PendingWrite::write`]
    /// (blocking: fsync) can then run on another thread while the caller
    /// goes on, so a slow disk does not stall a concurrent apply. The
    /// caller must finish one write before beginning the next (writes
    /// share a temp file and must land in serial order), and must not treat
    /// the state as saved until `write` returned `Ok`. If it fails, the
    /// serial it took is not reused: stop writing.
    pub fn begin_commit(&mut self) -> Result<PendingWrite, StateError> {
        if self.lock.is_none() {
            return Err(StateError::NotLocked {
                path: self.path.clone(),
            });
        }
        self.state.format_version = FORMAT_VERSION;
        self.state.serial += 1;
        let mut bytes = Vec::with_capacity(1 << 16);
        serde_json::to_writer_pretty(&mut bytes, &self.state).map_err(|e| StateError::Io {
            path: self.path.clone(),
            what: "serialize".into(),
            source: std::io::Error::other(e),
        })?;
        bytes.push(b'\n');
        Ok(PendingWrite {
            path: self.path.clone(),
            bytes,
            serial: self.state.serial,
        })
    }
}

/// A serialized state waiting to be written (see
/// [`StateStore::begin_commit`]); owns everything it needs, so it can move
/// to a blocking thread.
#[derive(Debug)]
pub struct PendingWrite {
    path: PathBuf,
    bytes: Vec<u8>,
    serial: u64,
}

impl PendingWrite {
    /// Writes atomically and durably (as [`StateStore::commit`] does);
    /// returns the serial written.
    pub fn write(self) -> Result<u64, StateError> {
        write_bytes_atomic(&self.path, &self.bytes)?;
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
    const STATE_SUBCOMMANDS: &[&str] = &["list", "show", "rm"];
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
fn read(path: &Path) -> Result<Option<State>, StateError> {
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
    let corrupt = |message: String| StateError::Corrupt {
        path: path.to_path_buf(),
        message,
    };
    let value: Value = serde_json::from_str(&text).map_err(|e| corrupt(e.to_string()))?;
    // The version is checked before the shape: a newer format may have a
    // shape this build cannot read, and that deserves the clearer message.
    let version = value.get("formatVersion").and_then(Value::as_u64);
    match version {
        Some(v) if v > u64::from(FORMAT_VERSION) => {
            return Err(StateError::NewerFormat {
                path: path.to_path_buf(),
                found: v,
            });
        }
        // Versions start at 1; 0 was never written (serde would accept it).
        Some(0) => {
            return Err(StateError::UnsupportedFormat {
                path: path.to_path_buf(),
                found: 0,
            });
        }
        Some(_) => {}
        None => return Err(corrupt("`formatVersion` is missing or not a number".into())),
    }
    let state: State = serde_json::from_value(value).map_err(|e| corrupt(e.to_string()))?;
    Ok(Some(state))
}

/// Refuses a state in which two addresses record the same id: the planner
/// would match both to one live entity, so an apply could rewrite one
/// entity into the other or delete an entity another address still owns.
/// Entities of different kinds never share an id (m3ter ids are UUIDs), so
/// any repeat is an error, whatever the kinds. An empty id matches nothing
/// live and is left to the planner.
fn check_unique_ids(path: &Path, state: &State) -> Result<(), StateError> {
    let mut owner: HashMap<&str, &Address> = HashMap::with_capacity(state.resources.len());
    for (address, r) in &state.resources {
        if r.id.is_empty() {
            continue;
        }
        if let Some(first) = owner.insert(r.id.as_str(), address) {
            return Err(StateError::DuplicateId {
                path: path.to_path_buf(),
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
fn write_atomic(path: &Path, state: &State) -> Result<(), StateError> {
    let mut bytes = Vec::with_capacity(1 << 16);
    serde_json::to_writer_pretty(&mut bytes, state).map_err(|e| StateError::Io {
        path: path.to_path_buf(),
        what: "serialize".into(),
        source: std::io::Error::other(e),
    })?;
    bytes.push(b'\n');
    write_bytes_atomic(path, &bytes)
}

/// The file half of [`write_atomic`]: `bytes` are a whole state file.
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
