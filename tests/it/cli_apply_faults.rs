//! `m3ter apply` when things go wrong: a faulty server, a process killed
//! mid-apply, two applies at once, Ctrl-C. Each test drives the real binary
//! against an emulator process and then checks the org by listing it: no
//! duplicate, nothing lost, and the state knows every entity.

use crate::common;

use std::collections::BTreeSet;
use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use common::apply::{
    COLLECTIONS, census, count, posts, read_state, signal, state_addresses, state_path, total,
    wait_until, write_copies, write_titled_copies,
};
use common::cli::{EmulatorProcess, m3ter, m3ter_cmd, stdout, text};

/// Fields by which one entity of the example references another.
const REF_FIELDS: [&str; 6] = [
    "productId",
    "meterId",
    "planTemplateId",
    "planId",
    "aggregationId",
    "accountId",
];

/// Apply flags of the fault tests: unpaced, wide.
const FAST: [&str; 5] = [
    "apply",
    "--auto-approve",
    "--rate-limit",
    "0",
    "--parallelism",
];

/// 200 entities against `--fault-rate 0.2 --fault-seed SEED`: one apply
/// converges, a plan (faults still on) shows no changes, the state has every
/// entity, and a fault-free restart on the same data lists each key once.
fn converges_under_faults(seed: u64) {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("org.json");
    let data = data.to_str().expect("utf-8 path");
    let (_, n) = write_copies(dir.path(), 14, 4);
    assert_eq!(n, 200);
    let seed_s = seed.to_string();
    let emu = EmulatorProcess::start(&[
        "--strict",
        "--data",
        data,
        "--fault-rate",
        "0.2",
        "--fault-seed",
        &seed_s,
        // Injected 429s ask for no wait: the client's own back-off remains.
        "--retry-after",
        "0",
    ]);
    let out = m3ter(dir.path(), &emu, &[&FAST[..], &["16"]].concat());
    assert!(
        out.status.success(),
        "fault seed {seed}: apply failed\n{}",
        text(&out)
    );
    assert!(
        stdout(&out).contains(&format!(
            "Apply complete! 0 imported, {n} added, 0 changed, 0 destroyed."
        )),
        "fault seed {seed}\n{}",
        text(&out)
    );
    let faults_seen = emu.stats()["total"].as_u64().unwrap_or(0);
    // The premise: faults hit the creates (some were sent again) and some
    // committed before failing (adopted by key, not duplicated).
    let sent = posts(&emu);
    assert!(sent > n as u64, "fault seed {seed}: only {sent} POSTs");
    assert!(
        stdout(&out).contains("Creation complete (adopted after a lost reply)"),
        "fault seed {seed}: no lost reply was adopted\n{}",
        text(&out)
    );

    // Plan still under faults: reads are retried, nothing left to do.
    let plan = m3ter(
        dir.path(),
        &emu,
        &["plan", "--detailed-exitcode", "--rate-limit", "0"],
    );
    assert_eq!(
        plan.status.code(),
        Some(0),
        "fault seed {seed}: follow-up plan\n{}",
        text(&plan)
    );
    assert_eq!(
        state_addresses(dir.path()).len(),
        n,
        "fault seed {seed}: state entries"
    );

    // Same data, no faults: list everything.
    drop(emu);
    let clean = EmulatorProcess::start(&["--strict", "--data", data]);
    let (counts, dups) = census(&clean);
    assert!(dups.is_empty(), "fault seed {seed}: duplicates {dups:?}");
    assert_eq!(
        total(&counts),
        n,
        "fault seed {seed}: live entities {counts:?} (after {faults_seen} requests)"
    );
}

#[test]
fn faults_seed_1() {
    converges_under_faults(1);
}

#[test]
fn faults_seed_7() {
    converges_under_faults(7);
}

#[test]
fn faults_seed_42() {
    converges_under_faults(42);
}

#[test]
fn faults_seed_2024() {
    converges_under_faults(2024);
}

/// Waits for `n` creates to have reached the emulator.
fn wait_for_posts(emu: &EmulatorProcess, n: u64) {
    wait_until(
        &format!("{n} POSTs at the emulator"),
        Duration::from_secs(60),
        || posts(emu) >= n,
    );
}

/// Plan must report nothing to do.
fn assert_no_changes(dir: &Path, emu: &EmulatorProcess) {
    let plan = m3ter(
        dir,
        emu,
        &["plan", "--detailed-exitcode", "--rate-limit", "0"],
    );
    assert_eq!(plan.status.code(), Some(0), "{}", text(&plan));
}

#[test]
fn sigkill_mid_apply_then_apply_finishes_without_duplicates() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (_, n) = write_copies(dir.path(), 4, 0);
    let emu = EmulatorProcess::start(&["--strict", "--latency-ms", "50"]);
    let mut child = m3ter_cmd(dir.path(), &emu, &[&FAST[..], &["8"]].concat())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("apply starts");
    wait_for_posts(&emu, 6);
    child.kill().expect("SIGKILL");
    child.wait().expect("reaped");
    // Proof it was mid-apply: some creates reached the org, not all.
    let made = posts(&emu);
    assert!(
        (6..n as u64).contains(&made),
        "{made} POSTs of {n} at the kill"
    );
    let (before, _) = census(&emu);
    assert!(total(&before) < n, "all {n} existed before the rerun");
    // A dependent starts only once what it references is saved: every id a
    // live entity references is in the state the killed run left.
    let saved_ids: Vec<String> = if state_path(dir.path()).exists() {
        read_state(dir.path())["resources"]
            .as_object()
            .map(|m| {
                m.values()
                    .filter_map(|r| r["id"].as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default()
    } else {
        Vec::new()
    };
    for c in COLLECTIONS.iter().copied() {
        for e in emu.list_all(c) {
            for field in REF_FIELDS {
                if let Some(id) = e[field].as_str() {
                    assert!(
                        saved_ids.iter().any(|s| s == id),
                        "{c} {} references {field} {id}, which the state does not record",
                        e["id"]
                    );
                }
            }
        }
    }

    // No manual step: the OS lock died with the process.
    let out = m3ter(dir.path(), &emu, &[&FAST[..], &["8"]].concat());
    assert!(out.status.success(), "{}", text(&out));
    assert!(stdout(&out).contains("Apply complete!"), "{}", text(&out));
    let (counts, dups) = census(&emu);
    assert!(dups.is_empty(), "duplicates {dups:?}");
    assert_eq!(total(&counts), n, "{counts:?}");
    assert_eq!(state_addresses(dir.path()).len(), n);
    assert_no_changes(dir.path(), &emu);
}

#[test]
fn second_apply_on_the_same_state_is_refused_naming_the_holder() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (_, n) = write_copies(dir.path(), 4, 0);
    let emu = EmulatorProcess::start(&["--strict", "--latency-ms", "50"]);
    let first = m3ter_cmd(dir.path(), &emu, &[&FAST[..], &["4"]].concat())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("first apply starts");
    let pid = first.id();
    // The first holds the lock from before its reads until it ends; its
    // first create proves it is well inside the run.
    wait_for_posts(&emu, 1);
    let second = m3ter(dir.path(), &emu, &[&FAST[..], &["4"]].concat());
    assert_eq!(second.status.code(), Some(1), "{}", text(&second));
    let err = String::from_utf8_lossy(&second.stderr);
    assert!(
        err.contains(&format!("pid {pid}")) && err.contains("apply"),
        "the holder (pid {pid}, apply) is not named:\n{}",
        text(&second)
    );
    let first = first.wait_with_output().expect("first apply ends");
    assert!(first.status.success(), "{}", text(&first));
    let (counts, dups) = census(&emu);
    assert!(dups.is_empty(), "duplicates {dups:?}");
    assert_eq!(total(&counts), n, "{counts:?}");
}

#[test]
fn ctrl_c_lets_in_flight_calls_finish_and_saves_them() {
    stop_mid_apply("-INT", "SIGINT");
}

/// CI runners cancel a job with SIGTERM: it must stop an apply as Ctrl-C does.
#[test]
fn sigterm_stops_like_ctrl_c_and_saves_every_created_entity() {
    stop_mid_apply("-TERM", "SIGTERM");
}

/// Sends `sig` to an apply with calls in flight: the in-flight calls finish
/// and are saved, the process exits 1 by itself (not by the signal), the
/// org holds exactly what the state records, and a re-apply finishes the
/// job without a duplicate.
fn stop_mid_apply(sig: &str, name: &str) {
    let dir = tempfile::tempdir().expect("tempdir");
    let (_, n) = write_copies(dir.path(), 4, 0);
    let emu = EmulatorProcess::start(&["--strict", "--latency-ms", "50"]);
    let child = m3ter_cmd(dir.path(), &emu, &[&FAST[..], &["8"]].concat())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("apply starts");
    wait_for_posts(&emu, 6);
    signal(child.id(), sig);
    let out = child.wait_with_output().expect("apply ends");
    // An exit code (not death by the signal), and it is 1.
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(&format!("Interrupt received ({name})")),
        "{}",
        text(&out)
    );
    let done = stdout(&out).matches("Creation complete").count();
    assert!(done < n, "interrupted too late: {}", text(&out));
    assert!(done > 0, "interrupted before any create: {}", text(&out));
    assert!(stdout(&out).contains("Apply incomplete:"), "{}", text(&out));
    // Every call that was in flight finished and was saved: the org holds
    // exactly what the state records.
    let saved = state_addresses(dir.path()).len();
    assert_eq!(saved, done, "state vs reported creates\n{}", text(&out));
    let (counts, dups) = census(&emu);
    assert!(dups.is_empty(), "duplicates {dups:?}");
    assert_eq!(total(&counts), saved, "live {counts:?} vs state {saved}");
    assert_eq!(state_ids(dir.path()), live_ids(&emu), "{}", text(&out));

    let again = m3ter(dir.path(), &emu, &[&FAST[..], &["8"]].concat());
    assert!(again.status.success(), "{}", text(&again));
    assert!(
        stdout(&again).contains(&format!(
            "Apply complete! 0 imported, {} added, 0 changed, 0 destroyed.",
            n - saved
        )),
        "{}",
        text(&again)
    );
    let (counts, dups) = census(&emu);
    assert!(dups.is_empty(), "duplicates {dups:?}");
    assert_eq!(total(&counts), n);
    assert_eq!(state_ids(dir.path()), live_ids(&emu));
    assert_no_changes(dir.path(), &emu);
}

/// Ids recorded in the state file of `dir`.
fn state_ids(dir: &Path) -> BTreeSet<String> {
    read_state(dir)["resources"]
        .as_object()
        .map(|m| {
            m.values()
                .filter_map(|r| r["id"].as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

/// Ids of every entity in the org.
fn live_ids(emu: &EmulatorProcess) -> BTreeSet<String> {
    COLLECTIONS
        .iter()
        .flat_map(|c| emu.list_all(c))
        .filter_map(|e| e["id"].as_str().map(str::to_string))
        .collect()
}

/// Updates and deletes under faults: a retried PUT that already took effect
/// (409 on retry) or a retried DELETE that already took effect (404) counts
/// as done; the org ends renamed, then empty.
fn updates_and_deletes_under_faults(seed: u64) {
    let dir = tempfile::tempdir().expect("tempdir");
    let (_, n) = write_titled_copies(dir.path(), 7, 2, "C");
    let seed_s = seed.to_string();
    let data = dir.path().join("org.json");
    let data = data.to_str().expect("utf-8 path");
    let faulty = [
        "--strict",
        "--data",
        data,
        "--fault-rate",
        "0.2",
        "--fault-seed",
        &seed_s,
        // Injected 429s ask for no wait: the client's own back-off remains.
        "--retry-after",
        "0",
    ];
    let emu = EmulatorProcess::start(&faulty);
    let wide = [&FAST[..], &["16"]].concat();
    let out = m3ter(dir.path(), &emu, &wide);
    assert!(
        out.status.success(),
        "fault seed {seed}: create\n{}",
        text(&out)
    );

    write_titled_copies(dir.path(), 7, 2, "Renamed ");
    let out = m3ter(dir.path(), &emu, &[&wide[..], &["--force"]].concat());
    assert!(
        out.status.success(),
        "fault seed {seed}: update\n{}",
        text(&out)
    );
    let o = stdout(&out);
    let changed: u64 = o
        .split("Apply complete! 0 imported, 0 added, ")
        .nth(1)
        .and_then(|rest| rest.split(' ').next())
        .and_then(|k| k.parse().ok())
        .unwrap_or_else(|| panic!("fault seed {seed}: no summary\n{}", text(&out)));
    assert!(changed > 0, "fault seed {seed}\n{o}");
    // The premise: some PUT was sent more than once.
    let puts = count(&emu.stats(), "PUT /organizations");
    assert!(
        puts > changed,
        "fault seed {seed}: {puts} PUTs for {changed} updates"
    );
    let plan = m3ter(
        dir.path(),
        &emu,
        &["plan", "--detailed-exitcode", "--rate-limit", "0"],
    );
    assert_eq!(
        plan.status.code(),
        Some(0),
        "fault seed {seed}: after update\n{}",
        text(&plan)
    );
    drop(emu);
    let clean = EmulatorProcess::start(&["--strict", "--data", data]);
    let products = clean.list_all("products");
    assert_eq!(products.len(), 9, "fault seed {seed}");
    assert!(
        products
            .iter()
            .all(|p| p["name"].as_str().is_some_and(|n| n.contains("Renamed "))),
        "fault seed {seed}: {products:?}"
    );
    drop(clean);
    let emu = EmulatorProcess::start(&faulty);

    let out = m3ter(
        dir.path(),
        &emu,
        &[
            "destroy",
            "--auto-approve",
            "--rate-limit",
            "0",
            "--parallelism",
            "16",
        ],
    );
    assert!(
        out.status.success(),
        "fault seed {seed}: destroy\n{}",
        text(&out)
    );
    assert!(
        stdout(&out).contains(&format!("0 changed, {n} destroyed.")),
        "fault seed {seed}\n{}",
        text(&out)
    );
    assert!(state_addresses(dir.path()).is_empty(), "fault seed {seed}");
    let stats = emu.stats();
    assert!(
        count(&stats, "DELETE /organizations") >= n as u64,
        "{stats}"
    );
    drop(emu);
    let clean = EmulatorProcess::start(&["--strict", "--data", data]);
    let (counts, _) = census(&clean);
    assert_eq!(total(&counts), 0, "fault seed {seed}: left {counts:?}");
}

#[test]
fn updates_and_deletes_under_faults_seed_3() {
    updates_and_deletes_under_faults(3);
}

#[test]
fn updates_and_deletes_under_faults_seed_11() {
    updates_and_deletes_under_faults(11);
}
