//! The state file: atomic saves with a backup, serials, refusals, and the
//! lock as another process (the `m3ter` binary) sees it.

use std::path::{Path, PathBuf};
use std::process::Command;

use assert_cmd::cargo::CommandCargoExt;
use m3ter_reconcile::address::Address;
use m3ter_reconcile::api::Kind;
use m3ter_reconcile::state::{
    FORMAT_VERSION, ResourceState, State, StateError, StateStore, backup_path, force_unlock,
    lock_path,
};
use serde_json::{Value, json};

const ORG: &str = "00000000-0000-4000-8000-000000000001";
const BASE: &str = "http://127.0.0.1:8080";

fn resource(id: &str) -> ResourceState {
    ResourceState {
        id: id.to_string(),
        version: 1,
        depends_on: vec![],
        adopted: false,
        applied: json!({"name": "P"})
            .as_object()
            .cloned()
            .unwrap_or_default(),
    }
}

fn read_json(p: &Path) -> Value {
    let text = std::fs::read_to_string(p).expect("readable");
    serde_json::from_str(&text).expect("json")
}

fn state_file(dir: &tempfile::TempDir) -> PathBuf {
    dir.path().join("state").join(format!("{ORG}.json"))
}

fn m3ter() -> Command {
    let mut cmd = Command::cargo_bin("m3ter").expect("binary");
    for var in [
        "M3TER_ORG_ID",
        "M3TER_API_KEY",
        "M3TER_API_SECRET",
        "M3TER_API_TOKEN",
    ] {
        cmd.env_remove(var);
    }
    cmd
}

#[test]
fn a_missing_file_is_a_fresh_state_and_saves_are_atomic_with_a_backup() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = state_file(&dir);
    let mut store = StateStore::open(&path, ORG, BASE, true).expect("open");
    let lineage = store.state().lineage.clone();
    assert!(uuid::Uuid::parse_str(&lineage).is_ok(), "{lineage}");
    assert_eq!(store.state().serial, 0);
    assert!(store.state().resources.is_empty());
    assert!(!path.exists(), "nothing written before the first save");

    let addr = Address::new(Kind::Product, "p");
    store
        .state_mut()
        .resources
        .insert(addr.clone(), resource("p1"));
    assert_eq!(store.commit().expect("first save"), 1);
    let first = read_json(&path);
    assert_eq!(first["serial"], 1);
    assert_eq!(first["formatVersion"], FORMAT_VERSION);
    assert_eq!(first["orgId"], ORG);
    assert_eq!(first["baseUrl"], BASE);
    assert_eq!(first["lineage"], lineage.as_str());
    assert_eq!(first["resources"]["product.p"]["id"], "p1");
    assert!(!backup_path(&path).exists(), "no previous file to back up");

    // save(&State) of a caller's copy: serial still goes up from the store's.
    let mut copy: State = store.state().clone();
    copy.serial = 0;
    copy.resources
        .insert(Address::new(Kind::Meter, "m"), resource("m1"));
    assert_eq!(store.save(&copy).expect("second save"), 2);
    assert_eq!(store.state().serial, 2);
    let second = read_json(&path);
    assert_eq!(second["serial"], 2);
    assert_eq!(second["resources"]["meter.m"]["id"], "m1");
    assert_eq!(second["lineage"], lineage.as_str());
    // The previous file is kept as the backup.
    assert_eq!(read_json(&backup_path(&path)), first);
    // No temp files left behind.
    let leftovers: Vec<_> = std::fs::read_dir(path.parent().expect("dir"))
        .expect("list")
        .filter_map(Result::ok)
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains("tmp"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
    drop(store);

    // Reopened: same lineage and content, new base URL accepted.
    let store = StateStore::open(&path, ORG, "http://127.0.0.1:9999", false).expect("reopen");
    assert_eq!(store.state().lineage, lineage);
    assert_eq!(store.state().serial, 2);
    assert_eq!(store.state().resources.len(), 2);
    assert_eq!(store.state().base_url, "http://127.0.0.1:9999");
}

#[test]
fn writing_without_the_lock_is_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut store = StateStore::open(&state_file(&dir), ORG, BASE, false).expect("open");
    let err = store.commit().expect_err("not locked");
    assert!(matches!(err, StateError::NotLocked { .. }), "{err}");
}

#[test]
fn a_corrupt_file_is_refused_with_path_and_line() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("s.json");
    std::fs::write(
        &path,
        "{\n  \"formatVersion\": 1,\n  \"serial\": 3,\n  oops\n}\n",
    )
    .expect("write");
    let err = StateStore::open(&path, ORG, BASE, false).expect_err("corrupt");
    let msg = err.to_string();
    assert!(matches!(err, StateError::Corrupt { .. }), "{msg}");
    assert!(msg.contains(&path.display().to_string()), "{msg}");
    assert!(msg.contains("line 4"), "{msg}");
    // The file is left as it was.
    assert!(
        std::fs::read_to_string(&path)
            .expect("read")
            .contains("oops")
    );
}

#[test]
fn another_orgs_file_is_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("s.json");
    let other = State::new("org-a", BASE);
    std::fs::write(&path, serde_json::to_string(&other).expect("json")).expect("write");
    let err = StateStore::open(&path, "org-b", BASE, false).expect_err("other org");
    assert_eq!(
        err.to_string(),
        format!(
            "state file {} belongs to org org-a, not org-b; pass --state for this org's file",
            path.display()
        )
    );
}

#[test]
fn a_newer_format_is_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("s.json");
    let doc = json!({"formatVersion": FORMAT_VERSION + 1, "lineage": "x", "serial": 1,
                     "orgId": ORG, "baseUrl": BASE, "resources": {}, "newThing": true});
    std::fs::write(&path, doc.to_string()).expect("write");
    let err = StateStore::open(&path, ORG, BASE, false).expect_err("newer");
    assert!(
        matches!(err, StateError::NewerFormat { found, .. } if found == u64::from(FORMAT_VERSION) + 1)
    );
    assert!(err.to_string().contains("upgrade m3ter"), "{err}");
}

#[test]
fn a_second_writer_in_process_fails_at_once_naming_the_holder() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = state_file(&dir);
    let held = StateStore::open(&path, ORG, BASE, true).expect("first lock");
    let err = StateStore::open(&path, ORG, BASE, true).expect_err("second lock");
    let msg = err.to_string();
    assert!(
        msg.starts_with(&format!(
            "state is locked by pid {} on host ",
            std::process::id()
        )),
        "{msg}"
    );
    assert!(msg.contains("m3ter force-unlock"), "{msg}");
    // Readers do not need the lock.
    assert!(StateStore::open(&path, ORG, BASE, false).is_ok());
    drop(held);
    // Released on drop, and the holder's name is cleared.
    assert_eq!(
        std::fs::read_to_string(lock_path(&path)).expect("lock file"),
        ""
    );
    assert!(StateStore::open(&path, ORG, BASE, true).is_ok());
}

#[test]
fn the_binary_fails_on_a_held_lock_and_names_the_holder() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = state_file(&dir);
    let mut store = StateStore::open(&path, ORG, BASE, true).expect("lock");
    store
        .state_mut()
        .resources
        .insert(Address::new(Kind::Product, "p"), resource("p1"));
    store.commit().expect("save");

    let out = m3ter()
        .args(["state", "rm", "product.p", "--state"])
        .arg(&path)
        .output()
        .expect("run m3ter");
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(&format!(
            "state is locked by pid {} on host",
            std::process::id()
        )),
        "{stderr}"
    );
    assert!(stderr.contains("run `m3ter force-unlock`"), "{stderr}");
    assert_eq!(store.state().resources.len(), 1);
    drop(store);

    // Once released, the same command works and the entity is forgotten.
    let out = m3ter()
        .args(["state", "rm", "product.p", "--state"])
        .arg(&path)
        .output()
        .expect("run m3ter");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("Removed product.p (id p1)"));
    let saved = read_json(&path);
    assert_eq!(saved["resources"], json!({}));
    assert_eq!(saved["serial"], 2);
}

#[test]
fn the_lock_file_names_the_holder() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = state_file(&dir);
    // (tests/client_commands.rs checks a child process's lock file.)
    let _held = StateStore::open(&path, ORG, BASE, true).expect("lock");
    let info: Value = read_json(&lock_path(&path));
    assert_eq!(info["pid"], std::process::id());
    assert!(info["host"].as_str().is_some_and(|h| !h.is_empty()));
    assert!(
        info["since"]
            .as_str()
            .is_some_and(|t| chrono::DateTime::parse_from_rfc3339(t).is_ok()),
        "{info}"
    );
    assert!(
        info["command"]
            .as_str()
            .is_some_and(|c| c.starts_with("m3ter"))
    );
}

#[test]
fn state_commands_list_show_and_rm() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = state_file(&dir);
    let mut store = StateStore::open(&path, ORG, BASE, true).expect("lock");
    for (kind, key, id) in [
        (Kind::Product, "p", "p1"),
        (Kind::Account, "Mickey Mouse", "a1"),
    ] {
        store
            .state_mut()
            .resources
            .insert(Address::new(kind, key), resource(id));
    }
    store.commit().expect("save");
    drop(store);

    // Found through the org id alone (default path), run from the temp dir.
    let out = m3ter()
        .current_dir(dir.path())
        .args(["state", "list", "--org-id", ORG])
        .output()
        .expect("run");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "product.p\naccount[\"Mickey Mouse\"]\n"
    );

    let out = m3ter()
        .args(["state", "show", "account[\"Mickey Mouse\"]", "--state"])
        .arg(&path)
        .output()
        .expect("run");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let shown: Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(shown["address"], "account[\"Mickey Mouse\"]");
    assert_eq!(shown["id"], "a1");
    assert_eq!(shown["applied"], json!({"name": "P"}));

    let out = m3ter()
        .args(["state", "rm", "product.q", "--state"])
        .arg(&path)
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("product.q is not in state"), "{stderr}");
    assert!(stderr.contains("did you mean product.p?"), "{stderr}");

    // Another org's id with an explicit file is refused.
    let out = m3ter()
        .args(["state", "list", "--org-id", "other-org", "--state"])
        .arg(&path)
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("belongs to org"));

    // No state file and no way to find one.
    let out = m3ter()
        .current_dir(dir.path())
        .args(["state", "list"])
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("M3TER_ORG_ID"));
}

#[test]
fn force_unlock_removes_only_stale_locks() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = state_file(&dir);
    // Held by this (live) process on this host: refused.
    let held = StateStore::open(&path, ORG, BASE, true).expect("lock");
    let err = force_unlock(&path).expect_err("live holder");
    assert!(
        err.to_string().contains("running process on this host"),
        "{err}"
    );
    drop(held);
    // A leftover file nobody holds: nothing to unlock, file removed.
    assert_eq!(
        force_unlock(&path).expect("free"),
        m3ter_reconcile::state::Unlocked::NotLocked
    );
    assert!(!lock_path(&path).exists());

    let out = m3ter()
        .args(["force-unlock", "--state"])
        .arg(&path)
        .output()
        .expect("run");
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).contains("is not locked"));
}

#[test]
fn ten_thousand_resources_save_and_reopen() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = state_file(&dir);
    let mut store = StateStore::open(&path, ORG, BASE, true).expect("lock");
    for i in 0..10_000 {
        let mut r = resource(&format!("{i:036}"));
        r.applied = json!({"name": format!("Entity {i}"), "code": format!("e{i}"),
                           "dataFields": [{"category": "MEASURE", "code": "q", "name": "Q", "unit": "s"}]})
            .as_object()
            .cloned()
            .unwrap_or_default();
        store
            .state_mut()
            .resources
            .insert(Address::new(Kind::Meter, format!("e{i}")), r);
    }
    store.commit().expect("first");
    // Repeated saves of a big state work. Their speed (~50 ms each) is not
    // asserted on a shared machine; bench/apply.sh times applies, which save
    // after every change.
    for _ in 0..5 {
        store.commit().expect("save");
    }
    assert_eq!(store.state().serial, 6);
    drop(store);
    let reopened = StateStore::open(&path, ORG, BASE, false).expect("reopen");
    assert_eq!(reopened.state().resources.len(), 10_000);
}
