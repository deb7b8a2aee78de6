//! `m3ter refresh` and `m3ter import` as a user runs them: the binary
//! against a scripted server on loopback.

use crate::common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Duration;

use assert_cmd::cargo::CommandCargoExt;
use common::scenario::{Canned, Scenario};
use m3ter_api::Kind;
use m3ter_reconcile::address::Address;
use m3ter_reconcile::state::{ResourceState, StateStore, lock_path};
use serde_json::{Value, json};

const ORG: &str = "00000000-0000-4000-8000-0000000000aa";

fn m3ter(s: &Scenario, state: &Path) -> Command {
    let mut cmd = Command::cargo_bin("m3ter").expect("binary");
    for var in ["M3TER_API_KEY", "M3TER_API_SECRET", "M3TER_INGEST_URL"] {
        cmd.env_remove(var);
    }
    // Connection options are per command; the environment reaches them all.
    cmd.env("M3TER_ORG_ID", ORG)
        .env("M3TER_API_TOKEN", "test-token")
        .env("M3TER_BASE_URL", &s.url)
        .arg("--state")
        .arg(state);
    cmd
}

async fn run(cmd: Command) -> Output {
    let mut cmd = cmd;
    tokio::task::spawn_blocking(move || cmd.output().expect("run m3ter"))
        .await
        .expect("join")
}

fn list_path(kind: Kind) -> String {
    format!("/organizations/{ORG}/{}", kind.collection())
}

/// Every list path of a kind (one per type of a typed kind).
fn list_paths(kind: Kind) -> Vec<String> {
    kind.list_paths()
        .into_iter()
        .map(|p| format!("/organizations/{ORG}/{p}"))
        .collect()
}

fn seed_state(path: &Path, resources: &[(Address, &str, i64, Value)]) {
    let mut store = StateStore::open(path, ORG, "http://old", true).expect("lock");
    for (addr, id, version, applied) in resources {
        store.state_mut().resources.insert(
            addr.clone(),
            ResourceState {
                id: id.to_string(),
                version: *version,
                depends_on: vec![],
                adopted: false,
                applied: applied.as_object().cloned().unwrap_or_default(),
            },
        );
    }
    store.commit().expect("save");
}

fn read_state(path: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(path).expect("state")).expect("json")
}

fn empty_lists_except(s: &Scenario, except: &[Kind]) {
    for kind in Kind::ALL {
        if !except.contains(&kind) {
            for path in list_paths(kind) {
                s.on("GET", &path, [Canned::ok(json!({"data": []}))]);
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refresh_accepts_live_values_and_drops_deleted_entities() {
    let s = Scenario::start().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let state = dir.path().join("org.json");
    let product = Address::new(Kind::Product, "p");
    let meter = Address::new(Kind::Meter, "m");
    let account = Address::new(Kind::Account, "a");
    seed_state(
        &state,
        &[
            (product.clone(), "p1", 1, json!({"name": "P", "code": "p"})),
            (meter.clone(), "m1", 1, json!({"name": "M"})),
            (account.clone(), "a1", 2, json!({"name": "A"})),
        ],
    );
    empty_lists_except(&s, &[Kind::Product, Kind::Account]);
    s.on(
        "GET",
        &list_path(Kind::Product),
        [Canned::ok(json!({"data": [
            {"id": "p1", "version": 3, "name": "Renamed", "code": "p", "dtCreated": "2024-01-01T00:00:00Z"},
            {"id": "unmanaged", "version": 1, "name": "X", "code": "x"}
        ]}))],
    );
    s.on(
        "GET",
        &list_path(Kind::Account),
        [Canned::ok(
            json!({"data": [{"id": "a1", "version": 2, "name": "A", "code": "a"}]}),
        )],
    );

    let out = run({
        let mut c = m3ter(&s, &state);
        c.arg("refresh");
        c
    })
    .await;
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains("~ product.p: live values accepted"),
        "{stdout}"
    );
    assert!(
        stdout.contains("- meter.m: deleted outside m3ter-reconcile, removed from state"),
        "{stdout}"
    );
    assert!(
        stdout.contains("Refresh complete: 2 in state, 1 updated, 1 removed, 1 unchanged (3 live entities read)."),
        "{stdout}"
    );

    let saved = read_state(&state);
    assert_eq!(saved["serial"], 2);
    assert_eq!(saved["baseUrl"], s.url.as_str());
    assert_eq!(saved["resources"]["product.p"]["version"], 3);
    assert_eq!(
        saved["resources"]["product.p"]["applied"],
        json!({"name": "Renamed", "code": "p"})
    );
    assert!(saved["resources"].get("meter.m").is_none());
    assert_eq!(saved["resources"]["account.a"]["version"], 2);

    // One list per kind at the largest page size, never a GET per entity
    // (a singleton: one GET of its collection, without paging).
    let reqs = s.requests();
    let lists: usize = Kind::ALL.iter().map(|k| k.list_paths().len()).sum();
    assert_eq!(reqs.len(), lists, "{reqs:?}");
    for (kind, path) in Kind::ALL
        .into_iter()
        .flat_map(|k| list_paths(k).into_iter().map(move |p| (k, p)))
    {
        let r: Vec<_> = reqs.iter().filter(|r| r.path == path).collect();
        assert_eq!(r.len(), 1, "{path}");
        let size = kind.max_page_size().to_string();
        let expected = (!kind.is_singleton()).then_some(size.as_str());
        assert_eq!(r[0].param("pageSize"), expected, "{kind}");
        assert_eq!(r[0].auth(), Some("Bearer test-token"));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_running_command_holds_the_lock_and_the_file_names_it() {
    let s = Scenario::start().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let state = dir.path().join("org.json");
    empty_lists_except(&s, &[Kind::Product]);
    // The product list answers slowly, so the refresh holds the lock a while.
    s.on(
        "GET",
        &list_path(Kind::Product),
        [Canned::ok(json!({"data": []})).delayed(Duration::from_secs(3))],
    );
    let mut child = m3ter(&s, &state)
        .arg("refresh")
        .stdout(std::process::Stdio::null())
        .spawn()
        .expect("spawn refresh");
    let lock = lock_path(&state);
    let mut info = Value::Null;
    for _ in 0..100 {
        if let Ok(text) = std::fs::read_to_string(&lock)
            && let Ok(v) = serde_json::from_str::<Value>(&text)
        {
            info = v;
            break;
        }
        tokio::time::sleep(Duration::from_millis(30)).await;
    }
    assert_eq!(info["pid"], child.id(), "{info}");
    assert_eq!(info["command"], "m3ter refresh");

    let out = run({
        let mut c = m3ter(&s, &state);
        c.args(["state", "rm", "product.p"]);
        c
    })
    .await;
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(&format!("state is locked by pid {} on host", child.id())),
        "{stderr}"
    );
    assert!(stderr.contains("(m3ter refresh)"), "{stderr}");
    // Secrets never reach the lock file.
    assert!(
        !std::fs::read_to_string(&lock)
            .unwrap_or_default()
            .contains("test-token")
    );

    let status = tokio::task::spawn_blocking(move || child.wait().expect("wait"))
        .await
        .expect("join");
    assert!(status.success());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn import_records_the_live_entity_as_adopted() {
    let s = Scenario::start().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let state: PathBuf = dir.path().join("org.json");
    let path = format!("/organizations/{ORG}/meters/m-42");
    s.on(
        "GET",
        &path,
        [Canned::ok(
            json!({"id": "m-42", "version": 7, "code": "usage", "name": "Usage"}),
        )],
    );
    s.on(
        "GET",
        &format!("/organizations/{ORG}/meters/nope"),
        [Canned::error(404, "Not found")],
    );

    let out = run({
        let mut c = m3ter(&s, &state);
        c.args(["import", "meter.usage", "m-42"]);
        c
    })
    .await;
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "Imported meter.usage (id m-42, version 7).\n"
    );
    let saved = read_state(&state);
    assert_eq!(
        saved["resources"]["meter.usage"],
        json!({"id": "m-42", "version": 7, "dependsOn": [], "adopted": true, "applied": {}})
    );

    // Importing into an address already in state is refused without a call.
    let before = s.requests().len();
    let out = run({
        let mut c = m3ter(&s, &state);
        c.args(["import", "meter.usage", "m-42"]);
        c
    })
    .await;
    assert_eq!(out.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("meter.usage is already in state (id m-42)")
    );
    assert_eq!(s.requests().len(), before);

    let out = run({
        let mut c = m3ter(&s, &state);
        c.args(["import", "meter.other", "nope"]);
        c
    })
    .await;
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("no meter with id nope"), "{stderr}");
}

#[test]
fn commands_that_need_the_org_fail_without_credentials() {
    let mut cmd = Command::cargo_bin("m3ter").expect("binary");
    for var in [
        "M3TER_ORG_ID",
        "M3TER_API_KEY",
        "M3TER_API_SECRET",
        "M3TER_API_TOKEN",
    ] {
        cmd.env_remove(var);
    }
    let out = cmd.arg("refresh").output().expect("run");
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    for needle in [
        "M3TER_ORG_ID",
        "M3TER_API_KEY",
        "M3TER_API_SECRET",
        "--local",
    ] {
        assert!(stderr.contains(needle), "{needle}: {stderr}");
    }
}
