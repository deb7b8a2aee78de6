//! Helpers for the `m3ter apply` end-to-end tests: generated desired
//! states of any size, duplicate detection by listing the org, state-file
//! reading, and waiting on the emulator's request counters.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use m3ter_api::Kind;
use serde_json::Value;

use super::cli::{EmulatorProcess, ORG};

/// Every collection apply writes to: one per kind of the kind table, one
/// per type of a typed kind (`resourcegroups/account`, …).
pub static COLLECTIONS: std::sync::LazyLock<Vec<&'static str>> = std::sync::LazyLock::new(|| {
    Kind::ALL
        .into_iter()
        .flat_map(Kind::list_paths)
        .map(|p| &*Box::leak(p.into_boxed_str()))
        .collect()
});

/// Entities in one copy of the example desired state (seed tasks 1–3).
pub const EXAMPLE_ENTITIES: usize = 14;

/// The example's text with its variables replaced by `suffix`/`title` and
/// its `variables:` block removed, so many copies can sit in one directory.
fn example_copy(file: &str, suffix: &str, title: &str) -> String {
    let src = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("desired-state")
        .join(file);
    let text = std::fs::read_to_string(&src).expect("example file");
    let mut out = String::new();
    let mut in_vars = false;
    for line in text.lines() {
        if line.starts_with("variables:") {
            in_vars = true;
            continue;
        }
        if in_vars && (line.starts_with(' ') || line.is_empty()) {
            continue;
        }
        in_vars = false;
        out.push_str(line);
        out.push('\n');
    }
    out.replace("${var.suffix_title}", title)
        .replace("${var.suffix}", suffix)
}

/// Writes `copies` copies of the example (codes ending `_c<i>`) plus
/// `extras` lone products into `dir/desired-state`; returns the directory
/// and the number of entities.
pub fn write_copies(dir: &Path, copies: usize, extras: usize) -> (PathBuf, usize) {
    write_titled_copies(dir, copies, extras, "C")
}

/// [`write_copies`] with names ending `<title><i>` (codes stay `c<i>`), so
/// a second call with another title renames every named entity.
pub fn write_titled_copies(
    dir: &Path,
    copies: usize,
    extras: usize,
    title: &str,
) -> (PathBuf, usize) {
    let dst = dir.join("desired-state");
    std::fs::create_dir_all(&dst).expect("mkdir");
    for i in 0..copies {
        for file in ["product.yaml", "pricing.yaml", "accounts.yaml"] {
            let text = example_copy(file, &format!("c{i}"), &format!("{title}{i}"));
            std::fs::write(dst.join(format!("c{i}_{file}")), text).expect("write copy");
        }
    }
    if extras > 0 {
        let mut text = String::from("products:\n");
        for j in 0..extras {
            text.push_str(&format!(
                "  - code: extra_{j}\n    name: Extra {title}{j}\n"
            ));
        }
        std::fs::write(dst.join("extras.yaml"), text).expect("write extras");
    }
    (dst, copies * EXAMPLE_ENTITIES + extras)
}

/// The identity of a live entity as the tool matches it: its code, or for
/// pricings and account plans the fields that make up their key (the kind
/// table's key fields), ids standing in for codes.
fn live_key(collection: &str, e: &Value) -> String {
    let s = |k: &str| e.get(k).and_then(Value::as_str).unwrap_or("").to_string();
    let fields = Kind::from_list_path(collection)
        .map(|k| k.spec().identity.key_fields())
        .unwrap_or_default();
    if fields.is_empty() {
        return s("code");
    }
    fields
        .iter()
        .map(|f| e.get(*f).map_or_else(String::new, Value::to_string))
        .collect::<Vec<_>>()
        .join("|")
}

/// Lists every collection; returns (entities per collection, keys seen more
/// than once as `collection:key`). The emulator must be fault-free.
pub fn census(emu: &EmulatorProcess) -> (BTreeMap<&'static str, usize>, Vec<String>) {
    let mut counts = BTreeMap::new();
    let mut dups = Vec::new();
    for c in COLLECTIONS.iter().copied() {
        let all = emu.list_all(c);
        let mut seen = BTreeMap::<String, usize>::new();
        for e in &all {
            *seen.entry(live_key(c, e)).or_default() += 1;
        }
        dups.extend(
            seen.into_iter()
                .filter(|(_, n)| *n > 1)
                .map(|(k, n)| format!("{c}:{k} (x{n})")),
        );
        counts.insert(c, all.len());
    }
    (counts, dups)
}

/// Total entities of a census.
pub fn total(counts: &BTreeMap<&'static str, usize>) -> usize {
    counts.values().sum()
}

/// The default state file of a run in `dir` against the emulator's org.
pub fn state_path(dir: &Path) -> PathBuf {
    dir.join("state").join(format!("{ORG}.json"))
}

/// The state file as JSON (panics with the path when missing or bad).
pub fn read_state(dir: &Path) -> Value {
    let p = state_path(dir);
    let text = std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

/// Addresses recorded in the state file of `dir`.
pub fn state_addresses(dir: &Path) -> Vec<String> {
    read_state(dir)["resources"]
        .as_object()
        .map(|m| m.keys().cloned().collect())
        .unwrap_or_default()
}

/// Requests counted by the emulator whose route starts with `prefix`
/// (e.g. `"POST /organizations"`).
pub fn count(stats: &Value, prefix: &str) -> u64 {
    stats["requests"]
        .as_object()
        .map(|m| {
            m.iter()
                .filter(|(k, _)| k.starts_with(prefix))
                .filter_map(|(_, v)| v.as_u64())
                .sum()
        })
        .unwrap_or(0)
}

/// Creates the emulator has been asked for so far (token requests aside).
pub fn posts(emu: &EmulatorProcess) -> u64 {
    count(&emu.stats(), "POST /organizations")
}

/// Polls `cond` every 20 ms until it holds; panics with `what` after
/// `timeout`.
pub fn wait_until(what: &str, timeout: Duration, mut cond: impl FnMut() -> bool) {
    let start = Instant::now();
    while !cond() {
        assert!(start.elapsed() < timeout, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Sends a signal to a child process by pid (via `kill`, no libc needed).
pub fn signal(pid: u32, sig: &str) {
    let st = std::process::Command::new("kill")
        .args([sig, &pid.to_string()])
        .status()
        .expect("kill runs");
    assert!(st.success(), "kill {sig} {pid}");
}
