//! The old `--data FILE` format, read once to migrate it into the database
//! (`db::migrate`): JSON lines, one `store::Change` record each (a snapshot
//! followed by a journal of later changes).

use std::fs::File;
use std::io::{BufRead, BufReader};
use std::path::Path;

use super::db::{StoreError, io};
use super::store::Change;

/// Reads an old data file's records in order. A torn last line (a process
/// killed mid-write, never acknowledged) is dropped; a bad line elsewhere
/// is an error naming it.
pub(crate) fn load(path: &Path) -> Result<Vec<Change>, StoreError> {
    let file = File::open(path).map_err(io(path))?;
    let mut out = Vec::new();
    let mut pending: Option<(usize, String)> = None;
    for (i, line) in BufReader::new(file).lines().enumerate() {
        let line = line.map_err(io(path))?;
        // A bad line is an error only when another line follows it.
        if let Some((n, reason)) = pending.take() {
            return Err(StoreError::Corrupt {
                path: path.to_owned(),
                line: n,
                reason,
            });
        }
        if line.trim().is_empty() {
            continue;
        }
        match serde_json::from_str::<Change>(&line) {
            Ok(c) => out.push(c),
            Err(e) => pending = Some((i + 1, e.to_string())),
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    const PUT: &str = r#"{"op":"put","table":"products","seq":1,"value":{"id":"a","code":"a"}}"#;

    #[test]
    fn a_torn_last_line_is_dropped_but_a_bad_middle_line_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("d.json");
        std::fs::write(&path, format!("{PUT}\n{{\"op\":\"put\",\"tab")).unwrap();
        assert_eq!(load(&path).unwrap().len(), 1);

        std::fs::write(&path, format!("{PUT}\nnot json\n{PUT}\n")).unwrap();
        let err = load(&path).unwrap_err().to_string();
        assert!(err.contains("line 2"), "{err}");
    }
}
