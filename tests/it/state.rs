//! The state file: atomic saves with a backup, serials, refusals, and the
//! lock as another process (the `m3ter` binary) sees it.

use std::path::{Path, PathBuf};
use std::process::Command;

use assert_cmd::cargo::CommandCargoExt;
use m3ter_api::Kind;
use m3ter_reconcile::address::Address;
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
    let mut store = StateStore::open(state_file(&dir), ORG, BASE, false).expect("open");
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
    // The hint names the lock id and repeats the --state of the failed command.
    let held_id = store_lock_id(&stderr);
    assert!(
        stderr.contains(&format!(
            "run `m3ter force-unlock {held_id} --state {}`",
            path.display()
        )),
        "{stderr}"
    );
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

    // No state file and no way to find one (in `dir`, the only state file
    // there would be used).
    let empty = tempfile::tempdir().expect("tempdir");
    let out = m3ter()
        .current_dir(empty.path())
        .args(["state", "list"])
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("M3TER_ORG_ID"));
}

/// The id in "…, lock id ID; …".
fn store_lock_id(msg: &str) -> &str {
    msg.split("lock id ")
        .nth(1)
        .and_then(|rest| rest.split(';').next())
        .unwrap_or_else(|| panic!("no lock id in {msg}"))
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

/// A state document with these fields over a valid base.
fn write_doc(path: &Path, edit: impl FnOnce(&mut serde_json::Map<String, Value>)) {
    let mut doc = serde_json::to_value(State::new(ORG, BASE)).expect("json");
    let obj = doc.as_object_mut().expect("object");
    obj.insert("serial".into(), json!(1));
    edit(obj);
    std::fs::write(path, doc.to_string()).expect("write");
}

#[test]
fn a_missing_format_version_is_refused_as_corrupt() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("s.json");
    write_doc(&path, |o| {
        o.remove("formatVersion");
    });
    let err = StateStore::open(&path, ORG, BASE, false).expect_err("no version");
    let msg = err.to_string();
    assert!(matches!(err, StateError::Corrupt { .. }), "{msg}");
    assert!(msg.contains("`formatVersion` is missing"), "{msg}");
    assert!(msg.contains(&path.display().to_string()), "{msg}");
    // Not a number is the same refusal.
    write_doc(&path, |o| {
        o.insert("formatVersion".into(), json!("1"));
    });
    let err = StateStore::open_existing(&path, false).expect_err("string version");
    assert!(matches!(err, StateError::Corrupt { .. }), "{err}");
}

#[test]
fn format_version_zero_is_refused_as_unsupported() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("s.json");
    write_doc(&path, |o| {
        o.insert("formatVersion".into(), json!(0));
    });
    let before = std::fs::read_to_string(&path).expect("read");
    for err in [
        StateStore::open(&path, ORG, BASE, true).expect_err("version 0"),
        StateStore::open_existing(&path, false).expect_err("version 0"),
    ] {
        let msg = err.to_string();
        assert!(
            matches!(err, StateError::UnsupportedFormat { found: 0, .. }),
            "{msg}"
        );
        assert!(msg.contains("formatVersion 0"), "{msg}");
        assert!(msg.contains(&format!("only {FORMAT_VERSION}")), "{msg}");
    }
    // The binary's readers refuse it too (`show` used to print it).
    for args in [&["show"][..], &["state", "list"]] {
        let out = m3ter()
            .args(args)
            .arg("--state")
            .arg(&path)
            .output()
            .expect("run m3ter");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{args:?}: {stderr}");
        assert!(stderr.contains("formatVersion 0"), "{args:?}: {stderr}");
    }
    // Refused, not rewritten.
    assert_eq!(std::fs::read_to_string(&path).expect("read"), before);
}

#[test]
fn two_addresses_sharing_one_id_are_refused_naming_both() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = state_file(&dir);
    let mut store = StateStore::open(&path, ORG, BASE, true).expect("lock");
    for key in ["mickey", "donald", "pluto"] {
        let id = if key == "pluto" { "a-2" } else { "a-1" };
        store
            .state_mut()
            .resources
            .insert(Address::new(Kind::Account, key), resource(id));
    }
    store.commit().expect("save");
    drop(store);

    let err = StateStore::open(&path, ORG, BASE, false).expect_err("shared id");
    let msg = err.to_string();
    assert!(matches!(err, StateError::DuplicateId { .. }), "{msg}");
    assert!(
        msg.contains("account.donald") && msg.contains("account.mickey"),
        "{msg}"
    );
    assert!(msg.contains("id a-1"), "{msg}");
    assert!(msg.contains("m3ter state rm account.mickey"), "{msg}");
    assert!(msg.contains(&path.display().to_string()), "{msg}");

    // The fix the message names works: `state rm` opens such a file.
    let out = m3ter()
        .args(["state", "rm", "account.mickey", "--state"])
        .arg(&path)
        .output()
        .expect("run m3ter");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let store = StateStore::open(&path, ORG, BASE, false).expect("fixed");
    assert_eq!(store.state().resources.len(), 2);
}

/// Holds the OS lock on the lock file of `path` as a winner does between
/// its flock and writing its name: locked, and empty.
fn hold_lock_without_a_name(path: &Path) -> std::fs::File {
    let lock = lock_path(path);
    std::fs::create_dir_all(lock.parent().expect("parent")).expect("mkdir");
    let file = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(true)
        .open(&lock)
        .expect("open lock file");
    file.try_lock().expect("lock it first");
    file
}

#[test]
fn a_loser_waits_for_the_winner_to_write_its_name() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = state_file(&dir);
    let mut held = hold_lock_without_a_name(&path);
    let holder = json!({"pid": 424242, "host": "build-7", "since": "2025-01-01T00:00:00Z",
                        "command": "m3ter apply"});
    let writer = std::thread::spawn(move || {
        // The winner writes its name a moment after locking.
        std::thread::sleep(std::time::Duration::from_millis(300));
        use std::io::Write;
        held.write_all(holder.to_string().as_bytes())
            .and_then(|()| held.flush())
            .expect("write holder");
        held
    });
    let err = StateStore::open(&path, ORG, BASE, true).expect_err("locked");
    let msg = err.to_string();
    assert!(matches!(err, StateError::Locked { .. }), "{msg}");
    assert!(
        msg.contains("pid 424242 on host build-7") && msg.contains("(m3ter apply)"),
        "{msg}"
    );
    // Still held by the other file handle: the loser did not take it.
    let held = writer.join().expect("writer");
    assert!(StateStore::open(&path, ORG, BASE, true).is_err());
    drop(held);
    assert!(StateStore::open(&path, ORG, BASE, true).is_ok());
}

#[test]
fn a_holder_that_never_writes_its_name_is_still_reported() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = state_file(&dir);
    let _held = hold_lock_without_a_name(&path);
    let err = StateStore::open(&path, ORG, BASE, true).expect_err("locked");
    let msg = err.to_string();
    assert!(matches!(err, StateError::Locked { .. }), "{msg}");
    assert!(msg.contains("has not written its pid and host"), "{msg}");
    assert!(msg.contains("m3ter force-unlock"), "{msg}");
    assert!(
        msg.contains(&lock_path(&path).display().to_string()),
        "{msg}"
    );
}
