//! The emulator's SQLite store through the real binary: a SIGKILL mid-ingest
//! keeps exactly the acknowledged batches, an old JSON data file is migrated
//! once, and a `--local` command's memory does not grow with stored usage.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};

use serde_json::{Value, json};

use crate::common::cli::{EmulatorProcess, ORG, bin, copy_full_example, m3ter_bare, text};
use crate::common::emu::{account_body, meter_body};

/// A direct API call with a fresh token (async; the test's own runtime).
async fn call(http: &reqwest::Client, base: &str, token: &str, path: &str, body: Value) -> Value {
    let r = http
        .post(format!("{base}/organizations/{ORG}/{path}"))
        .bearer_auth(token)
        .json(&body)
        .send()
        .await
        .expect("request");
    assert!(r.status().is_success(), "{path}: {}", r.status());
    r.json().await.expect("json")
}

/// The uids stored in a database, read with SQLite itself.
fn stored_uids(db: &Path) -> BTreeSet<String> {
    let conn = rusqlite::Connection::open(db).expect("open db");
    let mut st = conn
        .prepare("SELECT uid FROM measurements")
        .expect("prepare");
    st.query_map([], |r| r.get::<_, String>(0))
        .expect("query")
        .map(|u| u.expect("row"))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sigkill_mid_ingest_keeps_every_acknowledged_batch_and_nothing_else() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("org.db");
    let emu = EmulatorProcess::start(&["--data", db.to_str().unwrap()]);
    let base = emu.base_url.clone();
    let http = reqwest::Client::new();
    let token = crate::common::emu::fetch_token(&http, &base).await;
    call(&http, &base, &token, "meters", meter_body("meter", None)).await;
    call(&http, &base, &token, "accounts", account_body("acme")).await;

    // Four writers send batches of 100 until the emulator dies; each batch
    // is recorded as acknowledged (200) or not (error, or no answer).
    const WRITERS: usize = 4;
    const BATCH: usize = 100;
    let acked: Arc<Mutex<BTreeMap<String, bool>>> = Arc::default();
    let mut tasks = Vec::new();
    for w in 0..WRITERS {
        let (http, base, token, acked) = (http.clone(), base.clone(), token.clone(), acked.clone());
        tasks.push(tokio::spawn(async move {
            for b in 0.. {
                let batch = format!("w{w}b{b}");
                let items: Vec<Value> = (0..BATCH)
                    .map(|i| {
                        json!({"uid": format!("{batch}-{i}"), "meter": "meter", "account": "acme",
                               "ts": "2024-12-05T00:00:00Z", "measure": {"q": i}})
                    })
                    .collect();
                acked.lock().unwrap().insert(batch.clone(), false);
                let sent = http
                    .post(format!("{base}/organizations/{ORG}/measurements"))
                    .bearer_auth(&token)
                    .json(&json!({"measurements": items}))
                    .send()
                    .await;
                match sent {
                    Ok(r) if r.status().is_success() => {
                        acked.lock().unwrap().insert(batch, true);
                    }
                    _ => return,
                }
            }
        }));
    }
    // Kill once a good number of batches is in, with writers mid-request.
    crate::common::apply::wait_until(
        "40 acknowledged batches",
        std::time::Duration::from_secs(60),
        || acked.lock().unwrap().values().filter(|a| **a).count() >= 40,
    );
    crate::common::apply::signal(emu.child.id(), "-KILL");
    for t in tasks {
        t.await.unwrap();
    }
    drop(emu);

    // A restarted emulator opens the database (SQLite recovers its WAL),
    // answers, and stops cleanly; then read what it holds.
    let emu = EmulatorProcess::start(&["--data", db.to_str().unwrap()]);
    let (status, _) = emu.api("GET", "meters", None);
    assert_eq!(status, 200);
    crate::common::apply::signal(emu.child.id(), "-TERM");
    drop(emu);
    let uids = stored_uids(&db);
    let acked = acked.lock().unwrap().clone();
    let mut kept = 0;
    for (batch, ok) in &acked {
        let present = (0..BATCH)
            .filter(|i| uids.contains(&format!("{batch}-{i}")))
            .count();
        if *ok {
            assert_eq!(present, BATCH, "acknowledged batch {batch} is whole");
            kept += 1;
        } else {
            // One transaction per request: all of it or none.
            assert!(
                present == 0 || present == BATCH,
                "{batch}: {present} of {BATCH}"
            );
            kept += usize::from(present == BATCH);
        }
    }
    assert!(kept >= 40);
    assert_eq!(uids.len(), kept * BATCH, "no measurement of another batch");
}

#[test]
fn an_old_local_org_json_is_migrated_once_with_a_message() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::create_dir_all(d.join("state")).unwrap();
    // The journal format of earlier versions: a product, and a measurement.
    let old = [
        json!({"op": "put", "table": "products", "seq": 7,
               "value": {"id": "00000000-0000-4000-8000-0000000000aa", "version": 1,
                         "name": "Old", "code": "old_product"}}),
        json!({"op": "measurement", "value": {"uid": "m1", "meter": "x", "account": "y",
               "ts": "2024-01-01T00:00:00Z", "meterId": "mid", "accountId": "aid"}}),
    ]
    .iter()
    .map(|v| format!("{v}\n"))
    .collect::<String>();
    std::fs::write(d.join("state/local-org.json"), old).unwrap();

    let out = m3ter_bare(d, &["export", "--local", "--out", "exported"]);
    let said = text(&out);
    assert!(out.status.success(), "{said}");
    let exported: String = std::fs::read_dir(d.join("exported"))
        .unwrap()
        .map(|e| std::fs::read_to_string(e.unwrap().path()).unwrap())
        .collect();
    assert!(
        said.contains("Migrated the old JSON emulator data state/local-org.json")
            && said.contains("kept as state/local-org.json.migrated"),
        "{said}"
    );
    assert!(
        exported.contains("old_product"),
        "the migrated product is served: {exported}"
    );
    assert!(d.join("state/local-org.db").exists());
    assert!(!d.join("state/local-org.json").exists());
    assert!(d.join("state/local-org.json.migrated").exists());
    assert_eq!(
        stored_uids(&d.join("state/local-org.db")),
        BTreeSet::from(["m1".to_owned()])
    );

    // Once: the next command says nothing about it.
    let out = m3ter_bare(d, &["export", "--local", "--out", "exported"]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(!text(&out).contains("Migrated"), "{}", text(&out));
}

/// Runs `cmd` to its end; returns whether it succeeded, its peak RSS in
/// KiB and its output. The peak is the child's own `VmHWM` (the high-water
/// mark of its address space since exec), read from /proc every 2 ms while
/// it runs: wait4's `ru_maxrss` would also count the test process it was
/// spawned from (Linux records the pre-exec address space's high-water mark,
/// and that is this large, busy test binary's).
fn run_measured(cmd: &mut Command) -> (bool, i64, String) {
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    let status_file = format!("/proc/{}/status", child.id());
    // Drain the pipes on threads so the child never blocks on a full one.
    let mut out = child.stdout.take().unwrap();
    let mut err = child.stderr.take().unwrap();
    let o = std::thread::spawn(move || {
        let mut s = String::new();
        std::io::Read::read_to_string(&mut out, &mut s).ok();
        s
    });
    let e = std::thread::spawn(move || {
        let mut s = String::new();
        std::io::Read::read_to_string(&mut err, &mut s).ok();
        s
    });
    let mut peak = 0i64;
    let status = loop {
        if let Ok(text) = std::fs::read_to_string(&status_file)
            && let Some(kib) = text
                .lines()
                .find_map(|l| l.strip_prefix("VmHWM:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<i64>().ok())
        {
            peak = peak.max(kib);
        }
        if let Some(status) = child.try_wait().expect("wait") {
            break status;
        }
        std::thread::sleep(std::time::Duration::from_millis(2));
    };
    let said = format!("{}{}", o.join().unwrap(), e.join().unwrap());
    assert!(peak > 0, "read the child's VmHWM at least once");
    (status.success(), peak, said)
}

#[test]
fn plan_local_with_a_million_stored_measurements_stays_under_100_mb() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    copy_full_example(d);
    let out = m3ter_bare(d, &["apply", "--local", "--auto-approve"]);
    assert!(out.status.success(), "{}", text(&out));

    // 1,000,000 measurements straight into the database, one transaction.
    let db = d.join("state/local-org.db");
    {
        let mut conn = rusqlite::Connection::open(&db).unwrap();
        let tx = conn.transaction().unwrap();
        {
            let mut st = tx
                .prepare(
                    "INSERT INTO measurements (uid, account_id, meter_id, ts_ms, body) \
                     VALUES (?1, ?2, ?3, ?4, ?5)",
                )
                .unwrap();
            for i in 0..1_000_000i64 {
                let uid = format!("u{i}");
                let body = format!(
                    r#"{{"uid":"{uid}","meter":"m","account":"a{}","ts":"2024-12-01T00:00:00Z","measure":{{"q":{i}}},"meterId":"mid","accountId":"aid{}"}}"#,
                    i % 3,
                    i % 3
                );
                st.execute(rusqlite::params![
                    uid,
                    format!("aid{}", i % 3),
                    "mid",
                    1_733_011_200_000i64 + i,
                    body
                ])
                .unwrap();
            }
        }
        tx.commit().unwrap();
    }
    let mut cmd = Command::new(bin());
    cmd.current_dir(d)
        .args(["plan", "--local"])
        .env("NO_COLOR", "1");
    for (k, _) in std::env::vars() {
        if k.starts_with("M3TER_") {
            cmd.env_remove(k);
        }
    }
    let (ok, rss_kib, said) = run_measured(&mut cmd);
    assert!(ok, "{said}");
    let n: i64 = rusqlite::Connection::open(&db)
        .unwrap()
        .query_row("SELECT count(*) FROM measurements", [], |r| r.get(0))
        .unwrap();
    assert_eq!(n, 1_000_000);
    eprintln!(
        "plan --local peak RSS with {n} measurements: {} KiB",
        rss_kib
    );
    assert!(
        said.contains("No changes"),
        "the applied example is in sync: {said}"
    );
    assert!(
        rss_kib < 100 * 1024,
        "plan --local peaked at {} MiB with 1,000,000 stored measurements",
        rss_kib / 1024
    );
}
