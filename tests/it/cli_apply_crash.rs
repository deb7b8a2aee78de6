//! The state journal across a SIGKILL: an apply killed between its group
//! commits leaves `STATE.journal` holding entities the state file lacks;
//! the next command replays it, and a re-apply creates only what neither
//! recorded, with no duplicate in the org and no entity forgotten.

use crate::common;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use common::apply::{census, posts, state_path, total, wait_until, write_copies};
use common::cli::{EmulatorProcess, m3ter, m3ter_cmd, stdout, text};
use serde_json::Value;

/// An unpaced, 8-wide apply.
const APPLY: [&str; 6] = [
    "apply",
    "--auto-approve",
    "--rate-limit",
    "0",
    "--parallelism",
    "8",
];

/// `<state>.journal`, as the store names it.
fn journal_path(dir: &Path) -> PathBuf {
    let state = state_path(dir);
    let mut name = state.file_name().expect("file name").to_os_string();
    name.push(".journal");
    state.with_file_name(name)
}

/// The journal's `baseSerial` (the state file serial it extends) and its
/// whole records (lines after the header); `None` without a journal.
fn journal_progress(dir: &Path) -> Option<(u64, usize)> {
    let bytes = std::fs::read(journal_path(dir)).ok()?;
    let header = bytes.split(|&b| b == b'\n').next()?;
    let header: Value = serde_json::from_slice(header).ok()?;
    let records = bytes
        .iter()
        .filter(|&&c| c == b'\n')
        .count()
        .saturating_sub(1);
    Some((header["baseSerial"].as_u64()?, records))
}

/// address → id of the state file alone (no journal), empty without one.
fn file_ids(dir: &Path) -> BTreeMap<String, String> {
    let Ok(text) = std::fs::read_to_string(state_path(dir)) else {
        return BTreeMap::new();
    };
    let v: Value = serde_json::from_str(&text).expect("state file parses");
    ids_of(&v["resources"])
}

fn ids_of(resources: &Value) -> BTreeMap<String, String> {
    resources
        .as_object()
        .map(|m| {
            m.iter()
                .filter_map(|(a, r)| Some((a.clone(), r["id"].as_str()?.to_string())))
                .collect()
        })
        .unwrap_or_default()
}

/// The file's entries with the journal's whole records applied in order,
/// read straight from the files (an independent reading of the format in
/// `src/state/journal.rs`), and the number of addresses only the journal
/// sets.
fn file_plus_journal(dir: &Path) -> (BTreeMap<String, String>, usize) {
    let mut ids = file_ids(dir);
    let file: BTreeSet<String> = ids.keys().cloned().collect();
    let bytes = std::fs::read(journal_path(dir)).expect("journal exists after the kill");
    let whole = &bytes[..bytes.iter().rposition(|&b| b == b'\n').map_or(0, |e| e + 1)];
    let mut lines = whole.split(|&b| b == b'\n').filter(|l| !l.is_empty());
    let header: Value = serde_json::from_slice(lines.next().expect("header")).expect("header");
    assert_eq!(header["journal"], 1, "journal header {header}");
    for line in lines {
        let record: Value = serde_json::from_slice(line).expect("journal record parses");
        for a in record["remove"].as_array().into_iter().flatten() {
            ids.remove(a.as_str().expect("address"));
        }
        ids.extend(ids_of(&record["set"]));
    }
    let only_journal = ids.keys().filter(|a| !file.contains(*a)).count();
    (ids, only_journal)
}

/// address → id as `m3ter state list/show` see them: the store's own load,
/// journal replayed.
fn loaded_ids(dir: &Path, emu: &EmulatorProcess) -> BTreeMap<String, String> {
    let out = m3ter(dir, emu, &["--json", "state", "list"]);
    assert!(out.status.success(), "{}", text(&out));
    let addrs: Vec<String> = serde_json::from_str(&stdout(&out)).expect("state list --json");
    addrs
        .into_iter()
        .map(|a| {
            let out = m3ter(dir, emu, &["--json", "state", "show", &a]);
            assert!(out.status.success(), "{}", text(&out));
            let v: Value = serde_json::from_str(&stdout(&out)).expect("state show --json");
            let id = v["id"]
                .as_str()
                .unwrap_or_else(|| panic!("no id in `state show {a}`: {v}"))
                .to_string();
            (a, id)
        })
        .collect()
}

/// Ids of every entity in the org.
fn live_ids(emu: &EmulatorProcess) -> BTreeSet<String> {
    common::apply::COLLECTIONS
        .iter()
        .flat_map(|c| emu.list_all(c))
        .filter_map(|e| e["id"].as_str().map(str::to_string))
        .collect()
}

/// Starts an apply and SIGKILLs it once it has started a journal of its
/// own (a newer base than the one a killed run left) holding `records`
/// whole records; returns how many it held.
fn apply_killed_after(dir: &Path, emu: &EmulatorProcess, records: usize) -> usize {
    let left = journal_progress(dir).map(|(base, _)| base);
    let mut child = m3ter_cmd(dir, emu, &APPLY)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("apply starts");
    wait_until(
        &format!("{records} journal records"),
        Duration::from_secs(60),
        || {
            journal_progress(dir)
                .is_some_and(|(base, n)| left.is_none_or(|l| base > l) && n >= records)
        },
    );
    child.kill().expect("SIGKILL");
    child.wait().expect("reaped");
    journal_progress(dir).map_or(0, |(_, n)| n)
}

/// Kills an apply twice between group commits (early, then later in a
/// second run that started by compacting the first one's journal), each
/// time checking that the journal is what completes the state, and then
/// lets a third run finish: nothing duplicated, nothing lost.
#[test]
fn sigkilled_applies_leave_a_journal_that_the_next_run_replays() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (_, n) = write_copies(dir.path(), 6, 24);
    // Slow enough that each group commit holds a few creates and the kill
    // lands while others are in flight.
    let emu = EmulatorProcess::start(&["--strict", "--latency-ms", "40"]);

    let mut created_before = 0;
    for (round, records) in [(1, 2), (2, 6)] {
        let held = apply_killed_after(dir.path(), &emu, records);
        assert!(held >= records, "round {round}: {held} records");
        let made = posts(&emu) as usize;
        assert!(
            made < n,
            "round {round}: the apply finished ({made} creates)"
        );
        assert!(
            journal_path(dir.path()).exists(),
            "round {round}: no journal after the kill"
        );

        // The journal holds entities the file does not: without replaying
        // it they would be forgotten.
        let (expected, only_journal) = file_plus_journal(dir.path());
        assert!(
            only_journal > 0,
            "round {round}: the journal adds nothing to the file ({} entries)",
            file_ids(dir.path()).len()
        );
        // The store's load is the file plus the journal, exactly.
        let loaded = loaded_ids(dir.path(), &emu);
        assert_eq!(loaded, expected, "round {round}: replayed state");
        assert!(loaded.len() > created_before, "round {round}: no progress");
        created_before = loaded.len();
        // Every recorded id is live; what is live and unrecorded is at most
        // the creates in flight at the kill (adopted by key on re-apply).
        let live = live_ids(&emu);
        for (a, id) in &loaded {
            assert!(live.contains(id), "round {round}: {a} ({id}) is not live");
        }
        // (8 in flight, and at most as many finished awaiting their commit.)
        let unrecorded = live.len() - loaded.len();
        assert!(
            unrecorded <= 16,
            "round {round}: {unrecorded} live entities unrecorded with parallelism 8"
        );
    }

    // The re-apply creates only what the replayed state lacks: an entity
    // the journal recorded is neither created again nor adopted again, and
    // one the killed run created without recording it (its reply was in
    // flight) is adopted by key, not created twice. The requests in flight
    // at the kill have landed by now (40 ms latency).
    std::thread::sleep(Duration::from_millis(500));
    let recorded = loaded_ids(dir.path(), &emu).len();
    let live = live_ids(&emu).len();
    let out = m3ter(dir.path(), &emu, &APPLY);
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        stdout(&out).contains(&format!(
            "Apply complete! {} imported, {} added, 0 changed, 0 destroyed.",
            live - recorded,
            n - live
        )),
        "{recorded} of {n} recorded and {live} live before the re-apply\n{}",
        text(&out)
    );
    let (counts, dups) = census(&emu);
    assert!(dups.is_empty(), "duplicates {dups:?}");
    assert_eq!(total(&counts), n, "{counts:?}");
    // Compacted at the end: the file alone is complete, the journal gone.
    assert!(
        !journal_path(dir.path()).exists(),
        "journal left after a whole run"
    );
    let ids: BTreeSet<String> = file_ids(dir.path()).into_values().collect();
    assert_eq!(ids, live_ids(&emu), "state file vs org");
    let plan = m3ter(
        dir.path(),
        &emu,
        &["plan", "--detailed-exitcode", "--rate-limit", "0"],
    );
    assert_eq!(plan.status.code(), Some(0), "{}", text(&plan));
}
