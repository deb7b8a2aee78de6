//! The state journal: what keeps a state write O(1) in the size of the
//! state.
//!
//! An apply saves the state after every group of finished calls. Rewriting
//! a 40,000-entity file each time made a large apply quadratic, so during a
//! run the file stays as it was and each save appends the entities it
//! changed, as one JSON line, to `<state>.journal` beside it, with an fsync
//! before the save counts as done. At the end of the run (or when the
//! journal outgrows the file) the store compacts: it writes the whole state
//! atomically, as before, and starts a fresh journal. A run killed in
//! between leaves the journal, and the next open replays it.
//!
//! Format (JSON lines): a header `{"journal":1,"lineage":…,"baseSerial":S}`
//! naming the state file it extends, then one record per save,
//! `{"serial":S+1,"set":{address: resource},"remove":[address]}`, serials
//! consecutive. A last line without its newline is a save that never
//! finished (its fsync did not return, so nothing relied on it) and is
//! ignored. Records at or below the file's serial are already in it (a
//! compaction that was killed before it reset the journal).

use std::collections::BTreeMap;
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::{Location, ResourceState, State, StateError};
use crate::address::Address;

/// Journal format version, in each header.
const JOURNAL_FORMAT: u32 = 1;

/// A journal is compacted into the file once it is larger than this or than
/// the file itself, whichever is more, so compaction costs stay linear in
/// the number of saves overall.
const MIN_COMPACT_BYTES: u64 = 1 << 20;

/// `<file>.journal`.
pub(crate) fn journal_path(state: &Path) -> PathBuf {
    let mut name = state
        .file_name()
        .map(|n| n.to_os_string())
        .unwrap_or_default();
    name.push(".journal");
    state.with_file_name(name)
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Header {
    journal: u32,
    lineage: String,
    base_serial: u64,
}

#[derive(Debug, Serialize, Deserialize)]
struct Record {
    serial: u64,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    set: BTreeMap<Address, ResourceState>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    remove: Vec<Address>,
}

/// What [`replay`] found.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Replayed {
    /// No journal file.
    None,
    /// A journal was there; this many records were applied to the state.
    Applied(usize),
    /// The journal extends a newer file than the one read: the state was
    /// compacted between the two reads (a reader without the lock); read
    /// both again.
    Newer,
}

/// Applies the journal of the state file `path` to `state`, just read from
/// that file.
pub(crate) fn replay(path: &Path, state: &mut State) -> Result<Replayed, StateError> {
    let journal = journal_path(path);
    let text = match std::fs::read(&journal) {
        Ok(bytes) => bytes,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Replayed::None),
        Err(e) => {
            return Err(StateError::Io {
                path: journal,
                what: "read".into(),
                source: e,
            });
        }
    };
    let file_serial = state.serial;
    let corrupt = |line: usize, message: String| StateError::Corrupt {
        path: Location::file(&journal),
        message: format!(
            "line {line}: {message} (delete the journal to go back to the state file's serial {file_serial}, losing what the journal recorded after it)"
        ),
    };
    // Only whole lines count: a torn last line is a save that never returned.
    let whole = match text.iter().rposition(|&b| b == b'\n') {
        Some(end) => &text[..=end],
        None => return Ok(Replayed::Applied(0)),
    };
    let mut lines = whole.split(|&b| b == b'\n').filter(|l| !l.is_empty());
    let Some(first) = lines.next() else {
        return Ok(Replayed::Applied(0));
    };
    let header: Header =
        serde_json::from_slice(first).map_err(|e| corrupt(1, format!("bad header: {e}")))?;
    if header.journal > JOURNAL_FORMAT {
        return Err(corrupt(
            1,
            format!(
                "journal format {} is newer than this m3ter understands ({JOURNAL_FORMAT}); upgrade m3ter",
                header.journal
            ),
        ));
    }
    if header.lineage != state.lineage {
        // Left over from a state this file replaced (`state push --force`):
        // it extends another history, so nothing in it applies here.
        tracing::warn!(journal = %journal.display(), "ignoring a journal of another lineage");
        return Ok(Replayed::Applied(0));
    }
    if header.base_serial > state.serial {
        return Ok(Replayed::Newer);
    }
    let mut applied = 0;
    for (i, line) in lines.enumerate() {
        let record: Record =
            serde_json::from_slice(line).map_err(|e| corrupt(i + 2, e.to_string()))?;
        if record.serial <= state.serial {
            continue;
        }
        if record.serial != state.serial + 1 {
            return Err(corrupt(
                i + 2,
                format!(
                    "serial {} does not follow serial {}",
                    record.serial, state.serial
                ),
            ));
        }
        for address in record.remove {
            state.resources.remove(&address);
        }
        state.resources.extend(record.set);
        state.serial = record.serial;
        applied += 1;
    }
    Ok(Replayed::Applied(applied))
}

/// An open journal that saves append to.
#[derive(Debug)]
pub(crate) struct Journal {
    path: PathBuf,
    file: File,
    /// Bytes in the file.
    len: u64,
    /// Records appended.
    records: usize,
    /// Size of the state file it extends: past that (or
    /// [`MIN_COMPACT_BYTES`]) compacting is cheaper than appending more.
    base_len: u64,
}

impl Journal {
    /// Starts a fresh journal for the state file `path`, just written with
    /// `serial` (`base_len` bytes): replaces any older journal, durably.
    pub(crate) fn start(
        path: &Path,
        lineage: &str,
        serial: u64,
        base_len: u64,
    ) -> Result<Journal, StateError> {
        let journal = journal_path(path);
        let io = |what: &str, e: std::io::Error| StateError::Io {
            path: journal.clone(),
            what: what.to_string(),
            source: e,
        };
        let mut line = serde_json::to_vec(&Header {
            journal: JOURNAL_FORMAT,
            lineage: lineage.to_string(),
            base_serial: serial,
        })
        .map_err(|e| io("serialize", std::io::Error::other(e)))?;
        line.push(b'\n');
        let mut file = OpenOptions::new()
            .create(true)
            .write(true)
            .truncate(true)
            .open(&journal)
            .map_err(|e| io("create", e))?;
        file.write_all(&line).map_err(|e| io("write", e))?;
        file.sync_all().map_err(|e| io("fsync", e))?;
        if let Some(dir) = journal.parent().and_then(|d| File::open(d).ok()) {
            // Makes the journal's directory entry durable; not supported everywhere.
            let _ = dir.sync_all();
        }
        Ok(Journal {
            path: journal,
            file,
            len: line.len() as u64,
            records: 0,
            base_len,
        })
    }

    /// Whether the state should be compacted instead of appended to.
    pub(crate) fn is_full(&self) -> bool {
        self.len > self.base_len.max(MIN_COMPACT_BYTES)
    }

    /// Whether anything was recorded since the file was written.
    pub(crate) fn has_records(&self) -> bool {
        self.records > 0
    }

    /// Appends one record (from [`record`]) and syncs it.
    pub(crate) fn append(&mut self, line: &[u8]) -> Result<(), StateError> {
        let io = |what: &str, e: std::io::Error| StateError::Io {
            path: self.path.clone(),
            what: what.to_string(),
            source: e,
        };
        self.file.write_all(line).map_err(|e| io("append to", e))?;
        self.file.sync_data().map_err(|e| io("fsync", e))?;
        self.len += line.len() as u64;
        self.records += 1;
        Ok(())
    }
}

/// The journal line of a save with `serial` that changed `changed` (their
/// entries as they are in `state` now; a missing one was removed).
pub(crate) fn record<'a>(
    state: &State,
    serial: u64,
    changed: impl IntoIterator<Item = &'a Address>,
) -> Result<Vec<u8>, serde_json::Error> {
    let mut record = Record {
        serial,
        set: BTreeMap::new(),
        remove: Vec::new(),
    };
    for address in changed {
        match state.resources.get(address) {
            Some(r) => {
                record.set.insert(address.clone(), r.clone());
            }
            None => record.remove.push(address.clone()),
        }
    }
    let mut line = serde_json::to_vec(&record)?;
    line.push(b'\n');
    Ok(line)
}

/// Removes the journal of `path` after a compaction left none to keep.
pub(crate) fn remove(path: &Path) {
    let journal = journal_path(path);
    if let Err(e) = std::fs::remove_file(&journal)
        && e.kind() != std::io::ErrorKind::NotFound
    {
        tracing::warn!(journal = %journal.display(), "cannot remove the state journal: {e}");
    }
}
