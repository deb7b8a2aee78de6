//! The steps of a kind's end-to-end test (`tests/it/kind_*.rs`): write a
//! desired state, plan it as JSON, apply, validate, destroy, export, each by
//! the real binary against an emulator process.

use std::path::Path;
use std::process::Output;

use serde_json::{Value, json};

use super::cli::{EmulatorProcess, m3ter, m3ter_cmd, text};

/// Writes `yaml` as the whole desired state (`desired-state/main.yaml`).
pub fn write_desired(dir: &Path, yaml: &str) {
    let d = dir.join("desired-state");
    std::fs::create_dir_all(&d).expect("mkdir");
    std::fs::write(d.join("main.yaml"), yaml).expect("write desired state");
}

/// `m3ter plan --json ARGS` (exit 0 or 2): (address, action) per change,
/// in the plan's order, and the summary.
pub fn plan(dir: &Path, emu: &EmulatorProcess, args: &[&str]) -> (Vec<(String, String)>, Value) {
    let (changes, summary, _) = plan_doc(dir, emu, args);
    (changes, summary)
}

/// [`plan`], and the whole plan document.
pub fn plan_doc(
    dir: &Path,
    emu: &EmulatorProcess,
    args: &[&str],
) -> (Vec<(String, String)>, Value, Value) {
    plan_doc_env(dir, emu, &[], args)
}

/// [`plan_doc`] with these environment variables set (the secrets of a
/// desired state).
pub fn plan_doc_env(
    dir: &Path,
    emu: &EmulatorProcess,
    env: &[(&str, &str)],
    args: &[&str],
) -> (Vec<(String, String)>, Value, Value) {
    let mut all = vec!["plan", "--json", "--rate-limit", "0"];
    all.extend_from_slice(args);
    let mut cmd = m3ter_cmd(dir, emu, &all);
    cmd.envs(env.iter().copied());
    let out = cmd.output().expect("m3ter runs");
    assert!(matches!(out.status.code(), Some(0 | 2)), "{}", text(&out));
    let plan: Value =
        serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}", text(&out)));
    let changes = plan["changes"]
        .as_array()
        .expect("changes")
        .iter()
        .map(|c| {
            (
                c["address"].as_str().unwrap_or("").to_string(),
                c["action"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect();
    (changes, plan["summary"].clone(), plan)
}

/// `m3ter apply --auto-approve`, which must succeed; its stdout and stderr.
pub fn apply(dir: &Path, emu: &EmulatorProcess) -> String {
    let out = m3ter(dir, emu, &["apply", "--auto-approve", "--rate-limit", "0"]);
    assert!(out.status.success(), "{}", text(&out));
    text(&out)
}

/// `m3ter destroy --auto-approve`, which must succeed.
pub fn destroy(dir: &Path, emu: &EmulatorProcess) {
    let out = m3ter(
        dir,
        emu,
        &["destroy", "--auto-approve", "--rate-limit", "0"],
    );
    assert!(out.status.success(), "{}", text(&out));
}

/// `m3ter validate`, which must fail with exit 1; returns its stderr and
/// stdout.
pub fn validate_fails(dir: &Path, emu: &EmulatorProcess) -> String {
    let out: Output = m3ter(dir, emu, &["validate"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    text(&out)
}

/// `m3ter export --out exported`, then a plan of the export with a fresh
/// state: its summary (an export round trip is imports only).
pub fn export_round_trip(dir: &Path, emu: &EmulatorProcess) -> Value {
    let out = m3ter(dir, emu, &["export", "--out", "exported"]);
    assert!(out.status.success(), "{}", text(&out));
    let (_, s) = plan(dir, emu, &["-d", "exported", "--state", "state/fresh.json"]);
    s
}

/// Owned (address, action) pairs, to compare with [`plan`]'s.
pub fn changes(list: &[(&str, &str)]) -> Vec<(String, String)> {
    list.iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect()
}

/// A plan summary.
pub fn summary(import: u64, add: u64, change: u64, destroy: u64) -> Value {
    json!({"import": import, "add": add, "change": change, "destroy": destroy})
}

/// The position of `action` on `address` in a plan's changes (panics when
/// absent), to check order.
pub fn position(changes: &[(String, String)], address: &str, action: &str) -> usize {
    changes
        .iter()
        .position(|(a, b)| a == address && b == action)
        .unwrap_or_else(|| panic!("no {action} of {address} in {changes:?}"))
}

/// Requests the emulator has answered on `/organizations/` routes whose
/// `METHOD /template` key `keep` accepts (to check that bad input is
/// refused before any request).
pub fn org_requests(emu: &EmulatorProcess, keep: impl Fn(&str) -> bool) -> u64 {
    emu.stats()["requests"]
        .as_object()
        .expect("requests")
        .iter()
        .filter(|(route, _)| route.contains("/organizations/") && keep(route))
        .map(|(_, n)| n.as_u64().unwrap_or(0))
        .sum()
}

/// Requests the emulator has answered, its own `/_emulator` routes aside
/// (the token included, so "no request" means none at all).
pub fn api_requests(emu: &EmulatorProcess) -> u64 {
    emu.stats()["requests"]
        .as_object()
        .into_iter()
        .flatten()
        .filter(|(route, _)| !route.contains("_emulator"))
        .map(|(_, n)| n.as_u64().unwrap_or(0))
        .sum()
}

/// Each case (desired YAML, the same entity as a POST body of
/// `collection`, the expected error) is refused by `validate` and `plan`
/// with that error before any request, and by the emulator with a 400
/// whose message is the error without its position and kind (from its
/// first backtick, else after its last `: `): one rule, offline and online.
pub fn refused_offline_and_online(
    dir: &Path,
    emu: &EmulatorProcess,
    collection: &str,
    cases: &[(String, Value, &str)],
) {
    for (yaml, body, want) in cases {
        write_desired(dir, yaml);
        let before = api_requests(emu);
        let out = validate_fails(dir, emu);
        assert!(out.contains(want), "want {want:?} in {out}");
        assert_eq!(api_requests(emu), before, "validate sent a request");
        let out = m3ter(dir, emu, &["plan"]);
        assert_eq!(out.status.code(), Some(1), "{}", text(&out));
        assert!(text(&out).contains(want), "{}", text(&out));

        let (status, answer) = emu.api("POST", collection, Some(body.clone()));
        assert_eq!(status, 400, "{answer}");
        let message = want.rsplit(": ").next().unwrap_or(want);
        let message = want.find('`').map_or(message, |i| &want[i..]);
        assert!(
            answer["message"].as_str().unwrap_or("").contains(message),
            "{message:?} in {answer}"
        );
    }
}

/// The one entity of `collection` in the emulator (asserting there is
/// exactly one).
pub fn only_live(emu: &EmulatorProcess, collection: &str) -> Value {
    let all = emu.list_all(collection);
    assert_eq!(all.len(), 1, "{all:?}");
    all[0].clone()
}
