//! Remote state in S3 (`--state s3://BUCKET/KEY`) against moto's real S3
//! server on loopback, and the lock options (`--lock-timeout`,
//! `force-unlock ID`) for local and remote state.

use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use serde_json::Value;

use crate::common::apply::{census, posts, signal, total, wait_until};
use crate::common::cli::{
    EmulatorProcess, ORG, copy_example, m3ter_bare, m3ter_cmd, stderr, stdout, text,
};
use crate::common::s3::{ACCESS_KEY, Moto, SECRET_KEY};

const BUCKET: &str = "team-state";

/// `m3ter ARGS` in `dir` against `emu`, with the AWS variables for `moto`.
fn cmd(dir: &Path, emu: &EmulatorProcess, moto: &Moto, args: &[&str]) -> Command {
    let mut c = m3ter_cmd(dir, emu, args);
    moto.env(&mut c);
    c
}

fn run(dir: &Path, emu: &EmulatorProcess, moto: &Moto, args: &[&str]) -> Output {
    cmd(dir, emu, moto, args).output().expect("m3ter runs")
}

fn ok(dir: &Path, emu: &EmulatorProcess, moto: &Moto, args: &[&str]) -> Output {
    let out = run(dir, emu, moto, args);
    assert!(out.status.success(), "m3ter {args:?}: {}", text(&out));
    out
}

/// A moto with the bucket, an emulator, and a directory with the example.
fn rig(emu_args: &[&str]) -> (Moto, EmulatorProcess, tempfile::TempDir) {
    let moto = Moto::start();
    moto.create_bucket(BUCKET);
    let emu = EmulatorProcess::start(emu_args);
    let dir = tempfile::tempdir().expect("tempdir");
    copy_example(dir.path());
    (moto, emu, dir)
}

fn no_secret(out: &Output) {
    let all = text(out);
    assert!(!all.contains(SECRET_KEY), "secret in output: {all}");
    assert!(!all.contains(ACCESS_KEY), "key id in output: {all}");
}

fn state_json(moto: &Moto, key: &str) -> Value {
    let body = moto.get(BUCKET, key).expect("state object");
    serde_json::from_str(&body).expect("state JSON")
}

/// The lock id in a "locked" error.
fn lock_id(msg: &str) -> String {
    msg.split("lock id ")
        .nth(1)
        .and_then(|rest| {
            rest.split(|c: char| !(c.is_ascii_hexdigit() || c == '-'))
                .next()
        })
        .filter(|id| id.len() == 36)
        .unwrap_or_else(|| panic!("no lock id in: {msg}"))
        .to_string()
}

#[test]
fn apply_with_s3_state_then_plan_says_no_changes() {
    let (moto, emu, dir) = rig(&[]);
    let d = dir.path();
    let url = format!("s3://{BUCKET}/m3ter/sandbox.json");
    let out = ok(
        d,
        &emu,
        &moto,
        &["apply", "--auto-approve", "--state", &url],
    );
    no_secret(&out);
    let state = state_json(&moto, "m3ter/sandbox.json");
    assert_eq!(state["orgId"], ORG);
    assert_eq!(state["resources"].as_object().map(|r| r.len()), Some(14));
    let raw = moto.get(BUCKET, "m3ter/sandbox.json").expect("state");
    assert!(!raw.contains(SECRET_KEY) && !raw.contains(ACCESS_KEY));
    // The previous version is kept; the lock is gone with the run.
    let backup: Value = serde_json::from_str(
        &moto
            .get(BUCKET, "m3ter/sandbox.json.backup")
            .expect("backup"),
    )
    .expect("backup JSON");
    assert!(backup["serial"].as_u64() < state["serial"].as_u64());
    assert_eq!(moto.get(BUCKET, "m3ter/sandbox.json.lock"), None);
    // Nothing on the local disk.
    assert!(!d.join("state").exists());

    // M3TER_STATE names it as well as --state.
    let out = cmd(d, &emu, &moto, &["plan", "--detailed-exitcode"])
        .env("M3TER_STATE", &url)
        .output()
        .expect("plan");
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(stdout(&out).contains("No changes"), "{}", text(&out));
    no_secret(&out);
}

#[test]
fn two_concurrent_applies_on_one_s3_state_exactly_one_proceeds_over_ten_rounds() {
    let (moto, emu, dir) = rig(&["--latency-ms", "50"]);
    let d = dir.path();
    for round in 0..10 {
        let url = format!("s3://{BUCKET}/rounds/{round}.json");
        let args = ["apply", "--auto-approve", "--state", url.as_str()];
        let children: Vec<_> = (0..2)
            .map(|_| {
                cmd(d, &emu, &moto, &args)
                    .stdout(Stdio::piped())
                    .stderr(Stdio::piped())
                    .spawn()
                    .expect("spawn")
            })
            .collect();
        let outs: Vec<Output> = children
            .into_iter()
            .map(|c| c.wait_with_output().expect("wait"))
            .collect();
        let winners = outs.iter().filter(|o| o.status.success()).count();
        assert_eq!(
            winners,
            1,
            "round {round}: {:?}",
            outs.iter().map(text).collect::<Vec<_>>()
        );
        let loser = outs.iter().find(|o| !o.status.success()).expect("a loser");
        assert_eq!(loser.status.code(), Some(1));
        let msg = stderr(loser);
        assert!(
            msg.contains("state is locked by pid "),
            "round {round}: {msg}"
        );
        lock_id(&msg);
        assert!(msg.contains(&format!("{url}.lock")), "{msg}");
        assert_eq!(moto.get(BUCKET, &format!("rounds/{round}.json.lock")), None);
        let state = state_json(&moto, &format!("rounds/{round}.json"));
        assert_eq!(state["resources"].as_object().map(|r| r.len()), Some(14));
    }
    let (_, dups) = census(&emu);
    assert!(dups.is_empty(), "{dups:?}");
}

#[test]
fn sigkill_mid_apply_then_force_unlock_then_reapply_completes_without_duplicates() {
    let (moto, emu, dir) = rig(&["--strict", "--latency-ms", "150"]);
    let d = dir.path();
    let url = format!("s3://{BUCKET}/killed.json");
    let mut child = cmd(
        d,
        &emu,
        &moto,
        &[
            "apply",
            "--auto-approve",
            "--parallelism",
            "1",
            "--state",
            &url,
        ],
    )
    .stdout(Stdio::null())
    .stderr(Stdio::null())
    .spawn()
    .expect("spawn");
    wait_until("two creates", Duration::from_secs(60), || posts(&emu) >= 2);
    signal(child.id(), "-KILL");
    let _ = child.wait();
    assert!(
        moto.get(BUCKET, "killed.json.lock").is_some(),
        "a killed run leaves its lock"
    );

    let out = run(
        d,
        &emu,
        &moto,
        &["apply", "--auto-approve", "--state", &url],
    );
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let msg = stderr(&out);
    let id = lock_id(&msg);
    assert!(msg.contains(&format!("m3ter force-unlock {id}")), "{msg}");

    // The wrong id is refused, the right one removes the lock.
    let out = run(
        d,
        &emu,
        &moto,
        &[
            "force-unlock",
            "00000000-0000-4000-8000-00000000dead",
            "--state",
            &url,
        ],
    );
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(stderr(&out).contains(&id), "{}", text(&out));
    let out = ok(d, &emu, &moto, &["force-unlock", &id, "--state", &url]);
    assert!(
        stdout(&out).contains("Removed the lock of pid"),
        "{}",
        text(&out)
    );
    assert_eq!(moto.get(BUCKET, "killed.json.lock"), None);

    ok(
        d,
        &emu,
        &moto,
        &["apply", "--auto-approve", "--state", &url],
    );
    let (counts, dups) = census(&emu);
    assert!(dups.is_empty(), "{dups:?}");
    assert_eq!(total(&counts), 14, "{counts:?}");
    let state = state_json(&moto, "killed.json");
    assert_eq!(state["resources"].as_object().map(|r| r.len()), Some(14));
    let out = ok(
        d,
        &emu,
        &moto,
        &["plan", "--detailed-exitcode", "--state", &url],
    );
    assert!(stdout(&out).contains("No changes"), "{}", text(&out));
}

#[test]
fn a_write_after_the_lock_was_broken_is_refused_and_nothing_is_lost() {
    let (moto, emu, dir) = rig(&["--strict", "--latency-ms", "200"]);
    let d = dir.path();
    let url = format!("s3://{BUCKET}/broken.json");
    let slow = cmd(
        d,
        &emu,
        &moto,
        &[
            "apply",
            "--auto-approve",
            "--parallelism",
            "4",
            "--state",
            &url,
        ],
    )
    .stdout(Stdio::piped())
    .stderr(Stdio::piped())
    .spawn()
    .expect("spawn");
    // Once it has written state: break its lock, and write over its state.
    wait_until("a first state write", Duration::from_secs(60), || {
        moto.get(BUCKET, "broken.json").is_some()
    });
    let lock: Value = serde_json::from_str(&moto.get(BUCKET, "broken.json.lock").expect("lock"))
        .expect("lock JSON");
    let id = lock["id"].as_str().expect("lock id").to_string();
    ok(d, &emu, &moto, &["force-unlock", &id, "--state", &url]);
    // The other writer: pull, then push. The slow run may write between the
    // two (its ETag still matches), refusing the push; pull again then, as a
    // user would, until the push lands.
    let mut pushed_ok = false;
    for _ in 0..20 {
        let pulled = ok(d, &emu, &moto, &["state", "pull", "--state", &url]);
        std::fs::write(d.join("other.json"), stdout(&pulled)).expect("write");
        let out = run(
            d,
            &emu,
            &moto,
            &["state", "push", "other.json", "--force", "--state", &url],
        );
        if out.status.success() {
            pushed_ok = true;
            break;
        }
        assert!(
            stderr(&out).contains("was changed by another run"),
            "{}",
            text(&out)
        );
    }
    assert!(pushed_ok, "the other writer's push never landed");
    let pushed = state_json(&moto, "broken.json");

    let out = slow.wait_with_output().expect("wait");
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let msg = stderr(&out);
    assert!(msg.contains("was changed by another run"), "{msg}");
    assert!(msg.contains("m3ter state push"), "{msg}");
    // The other run's state was not overwritten.
    assert_eq!(state_json(&moto, "broken.json"), pushed);
    // What the slow run could not write is in the file it names.
    let rescued = msg
        .split_whitespace()
        .find(|w| w.starts_with("m3ter-state-unsaved-"))
        .map(|w| w.trim_end_matches(['.', ',']))
        .unwrap_or_else(|| panic!("no rescue file in: {msg}"))
        .to_string();
    let saved: Value =
        serde_json::from_str(&std::fs::read_to_string(d.join(&rescued)).expect("rescue file"))
            .expect("rescued JSON");
    assert!(
        saved["resources"].as_object().map(|r| r.len())
            > pushed["resources"].as_object().map(|r| r.len()),
        "the rescued state holds what the run created after the pull"
    );
    // Every entity the run created is there, including the call that was
    // in flight when the write was refused.
    let (created, _) = census(&emu);
    assert_eq!(
        saved["resources"].as_object().map(|r| r.len()),
        Some(total(&created)),
        "{created:?}"
    );
    // The recovery the message gives, then a re-apply: complete, no duplicate.
    ok(
        d,
        &emu,
        &moto,
        &["state", "push", &rescued, "--force", "--state", &url],
    );
    ok(
        d,
        &emu,
        &moto,
        &["apply", "--auto-approve", "--state", &url],
    );
    let (counts, dups) = census(&emu);
    assert!(dups.is_empty(), "{dups:?}");
    assert_eq!(total(&counts), 14, "{counts:?}");
}

#[test]
fn state_push_and_pull_round_trip_between_a_file_and_s3() {
    let (moto, emu, dir) = rig(&[]);
    let d = dir.path();
    let url = format!("s3://{BUCKET}/moved.json");
    ok(d, &emu, &moto, &["apply", "--auto-approve"]);
    let file = format!("state/{ORG}.json");
    let local: Value =
        serde_json::from_str(&std::fs::read_to_string(d.join(&file)).expect("local"))
            .expect("JSON");
    let out = ok(d, &emu, &moto, &["state", "push", &file, "--state", &url]);
    assert!(
        stdout(&out).contains("14 managed entities"),
        "{}",
        text(&out)
    );
    let out = ok(d, &emu, &moto, &["state", "pull", "--state", &url]);
    let pulled: Value = serde_json::from_str(&stdout(&out)).expect("pulled JSON");
    assert_eq!(pulled, local);
    let out = ok(
        d,
        &emu,
        &moto,
        &["plan", "--detailed-exitcode", "--state", &url],
    );
    assert!(stdout(&out).contains("No changes"), "{}", text(&out));

    // A newer serial there: the older file is refused, with the way out.
    ok(
        d,
        &emu,
        &moto,
        &["state", "rm", "product.aws_lambda_api_6", "--state", &url],
    );
    let out = run(d, &emu, &moto, &["state", "push", &file, "--state", &url]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        stderr(&out).contains("is older than the serial"),
        "{}",
        text(&out)
    );
    // Another history: refused for the lineage.
    let mut other = local.clone();
    other["lineage"] = Value::String("11111111-1111-4111-8111-111111111111".into());
    other["serial"] = Value::from(1000);
    std::fs::write(d.join("other.json"), other.to_string()).expect("write");
    let out = run(
        d,
        &emu,
        &moto,
        &["state", "push", "other.json", "--state", &url],
    );
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(stderr(&out).contains("lineage"), "{}", text(&out));
    // Corrupt files are refused as for local state.
    std::fs::write(d.join("bad.json"), "{not json").expect("write");
    let out = run(
        d,
        &emu,
        &moto,
        &["state", "push", "bad.json", "--state", &url],
    );
    assert!(stderr(&out).contains("is corrupt"), "{}", text(&out));
}

#[test]
fn a_corrupt_or_other_orgs_state_object_is_refused() {
    let (moto, emu, dir) = rig(&[]);
    let d = dir.path();
    moto.put(BUCKET, "bad.json", "{not json");
    let out = run(
        d,
        &emu,
        &moto,
        &["plan", "--state", &format!("s3://{BUCKET}/bad.json")],
    );
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        stderr(&out).contains(&format!("state file s3://{BUCKET}/bad.json is corrupt")),
        "{}",
        text(&out)
    );
    let other = serde_json::json!({"formatVersion": 1, "lineage": "l", "serial": 1,
        "orgId": "00000000-0000-4000-8000-000000000999", "baseUrl": "http://x", "resources": {}});
    moto.put(BUCKET, "other.json", &other.to_string());
    let out = run(
        d,
        &emu,
        &moto,
        &["plan", "--state", &format!("s3://{BUCKET}/other.json")],
    );
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        stderr(&out).contains("belongs to org 00000000-0000-4000-8000-000000000999"),
        "{}",
        text(&out)
    );
}

#[test]
fn wrong_keys_missing_bucket_and_unreachable_endpoint_name_the_url_and_no_secret() {
    let emu = EmulatorProcess::start(&[]);
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    copy_example(d);

    let guarded = Moto::start_with_auth();
    let url = format!("s3://{BUCKET}/s.json");
    let out = run(
        d,
        &emu,
        &guarded,
        &["apply", "--auto-approve", "--state", &url],
    );
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let msg = stderr(&out);
    assert!(
        msg.contains(&url) && msg.contains(&guarded.endpoint),
        "{msg}"
    );
    assert!(msg.contains("access denied"), "{msg}");
    no_secret(&out);

    let moto = Moto::start();
    let missing = "s3://no-such-bucket/s.json";
    for args in [
        &["plan", "--state", missing][..],
        &["apply", "--auto-approve", "--state", missing],
    ] {
        let out = run(d, &emu, &moto, args);
        assert_eq!(out.status.code(), Some(1), "{}", text(&out));
        let msg = stderr(&out);
        assert!(
            msg.contains(missing) && msg.contains("bucket `no-such-bucket` does not exist"),
            "{msg}"
        );
        no_secret(&out);
    }

    let mut c = cmd(d, &emu, &moto, &["plan", "--state", &url]);
    let out = c
        .env("AWS_ENDPOINT_URL", "http://127.0.0.1:1")
        .output()
        .expect("plan");
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let msg = stderr(&out);
    assert!(
        msg.contains(&url) && msg.contains("http://127.0.0.1:1"),
        "{msg}"
    );
    no_secret(&out);
}

#[test]
fn lock_timeout_waits_for_a_held_remote_lock() {
    let (moto, emu, dir) = rig(&[]);
    let d = dir.path();
    let url = format!("s3://{BUCKET}/waited.json");
    let holder = serde_json::json!({"id": "6f1c1e9a-0000-4000-8000-000000000001", "user": "ann",
        "pid": 1, "host": "ci-runner-7", "since": "2026-01-01T00:00:00Z", "command": "m3ter apply"});
    moto.put(BUCKET, "waited.json.lock", &holder.to_string());
    let out = run(
        d,
        &emu,
        &moto,
        &["apply", "--auto-approve", "--state", &url],
    );
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let msg = stderr(&out);
    assert!(
        msg.contains("pid 1 on host ci-runner-7") && msg.contains("user ann"),
        "{msg}"
    );
    assert_eq!(lock_id(&msg), "6f1c1e9a-0000-4000-8000-000000000001");

    let waiting = cmd(
        d,
        &emu,
        &moto,
        &[
            "apply",
            "--auto-approve",
            "--lock-timeout",
            "2m",
            "--state",
            &url,
        ],
    )
    .stdout(Stdio::piped())
    .stderr(Stdio::piped())
    .spawn()
    .expect("spawn");
    std::thread::sleep(Duration::from_millis(500));
    moto.delete(BUCKET, "waited.json.lock");
    let out = waiting.wait_with_output().expect("wait");
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(
        state_json(&moto, "waited.json")["resources"]
            .as_object()
            .map(|r| r.len()),
        Some(14)
    );
}

/// A lock file held (OS lock) by this test, naming a holder with an id.
fn hold_local_lock(lock: &Path, id: &str) -> std::fs::File {
    use std::io::Write;
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .truncate(true)
        .write(true)
        .open(lock)
        .expect("lock file");
    f.try_lock().expect("lock");
    let holder = serde_json::json!({"id": id, "user": "bob", "pid": 1, "host": "elsewhere",
        "since": "2026-01-01T00:00:00Z", "command": "m3ter apply"});
    f.write_all(holder.to_string().as_bytes()).expect("holder");
    f
}

#[test]
fn lock_timeout_and_force_unlock_id_on_local_state() {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    copy_example(d);
    assert!(
        m3ter_bare(d, &["apply", "--local", "--auto-approve"])
            .status
            .success()
    );
    let id = "0b7e2f4c-0000-4000-8000-000000000002";
    let held = hold_local_lock(&d.join("state/local.json.lock"), id);

    let out = m3ter_bare(d, &["state", "rm", "product.aws_lambda_api_6", "--local"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert_eq!(lock_id(&stderr(&out)), id);

    // Waits while held, proceeds once released.
    let waiting = Command::new(crate::common::cli::bin())
        .current_dir(d)
        .args([
            "state",
            "rm",
            "product.aws_lambda_api_6",
            "--local",
            "--lock-timeout",
            "2m",
        ])
        .env_remove("M3TER_STATE")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    std::thread::sleep(Duration::from_millis(500));
    drop(held);
    let out = waiting.wait_with_output().expect("wait");
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        stdout(&out).contains("Removed product.aws_lambda_api_6"),
        "{}",
        text(&out)
    );

    // force-unlock ID: the wrong id is refused, the right one removes the lock.
    let _held = hold_local_lock(&d.join("state/local.json.lock"), id);
    let out = m3ter_bare(
        d,
        &[
            "force-unlock",
            "--local",
            "11111111-0000-4000-8000-000000000000",
        ],
    );
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        stderr(&out).contains(&format!("lock id {id}")),
        "{}",
        text(&out)
    );
    let out = m3ter_bare(d, &["force-unlock", "--local", id]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(!d.join("state/local.json.lock").exists());
}
