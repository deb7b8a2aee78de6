//! `m3ter show`: a saved plan (human and `--json`), the state, and the
//! errors when there is nothing to show.

use assert_cmd::Command;
use m3ter_api::Kind;
use m3ter_reconcile::address::Address;
use m3ter_reconcile::desired::{DesiredEntity, DesiredState};
use m3ter_reconcile::live::LiveSnapshot;
use m3ter_reconcile::plan::{PlanOptions, plan};
use m3ter_reconcile::state::{ResourceState, State};
use serde_json::{Value, json};

fn state() -> State {
    let mut s = State::new("org-1", "http://127.0.0.1:1");
    s.serial = 3;
    s.resources.insert(
        Address::new(Kind::Product, "p"),
        ResourceState {
            id: "prod-1".into(),
            version: 2,
            depends_on: vec![],
            adopted: false,
            applied: serde_json::from_value(json!({"code": "p", "name": "P"})).expect("map"),
        },
    );
    s.resources.insert(
        Address::new(Kind::Account, "Mickey Mouse"),
        ResourceState {
            id: "acc-1".into(),
            version: 5,
            depends_on: vec![],
            adopted: true,
            applied: Default::default(),
        },
    );
    s
}

fn m3ter(dir: &std::path::Path) -> Command {
    let mut cmd = Command::cargo_bin("m3ter").expect("binary");
    cmd.current_dir(dir).env("NO_COLOR", "1");
    cmd
}

/// The stdout of a successful `m3ter show FLAGS [FILE]`.
fn show_ok(dir: &std::path::Path, flags: &[&str], file: Option<&std::path::Path>) -> Vec<u8> {
    let mut cmd = m3ter(dir);
    cmd.arg("show").args(flags);
    if let Some(f) = file {
        cmd.arg(f);
    }
    cmd.assert().success().get_output().stdout.clone()
}

/// A desired entity; `refs` are (API field, target address).
fn entity(address: &str, fields: Value, refs: &[(&str, &str)]) -> DesiredEntity {
    DesiredEntity {
        address: address.parse().expect("address"),
        fields: serde_json::from_value(fields).expect("map"),
        refs: refs
            .iter()
            .map(|(f, t)| (f.to_string(), t.parse().expect("address")))
            .collect(),
        extra_deps: vec![],
        lifecycle: Default::default(),
        source: None,
    }
}

/// `tfplan.json` in `dir`: the plan that creates `entities` in an empty org.
fn save_plan(dir: &std::path::Path, entities: Vec<DesiredEntity>) -> std::path::PathBuf {
    let mut desired = DesiredState::default();
    for e in entities {
        desired.entities.insert(e.address.clone(), e);
    }
    let p = plan(
        &desired,
        &State::new("org-1", "http://127.0.0.1:1"),
        &LiveSnapshot::default(),
        &PlanOptions::default(),
    )
    .expect("plan");
    let path = dir.join("tfplan.json");
    p.save(&path).expect("save");
    path
}

fn saved_plan(dir: &std::path::Path) -> std::path::PathBuf {
    save_plan(
        dir,
        vec![entity("product.n", json!({"code": "n", "name": "N"}), &[])],
    )
}

#[test]
fn show_renders_a_saved_plan() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = saved_plan(dir.path());
    let out = show_ok(dir.path(), &[], Some(&path));
    let text = String::from_utf8(out).expect("utf-8");
    assert!(
        text.contains("  # product.n will be created\n  + product.n {\n"),
        "{text}"
    );
    assert!(text.ends_with("Plan: 0 to import, 1 to add, 0 to change, 0 to destroy.\n"));
    assert!(!text.contains('\x1b'), "no colors without a TTY");

    let out = show_ok(dir.path(), &["--json"], Some(&path));
    let doc: Value = serde_json::from_slice(&out).expect("one JSON document");
    assert_eq!(doc["formatVersion"], json!(1));
    assert_eq!(doc["changes"][0]["action"], json!("create"));
    assert_eq!(doc["changes"][0]["address"], json!("product.n"));
    assert_eq!(
        doc["summary"],
        json!({"import": 0, "add": 1, "change": 0, "destroy": 0})
    );
}

#[test]
fn show_refuses_a_plan_of_another_format_version() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("old.json");
    std::fs::write(&path, r#"{"formatVersion": 0, "changes": []}"#).expect("write");
    let out = m3ter(dir.path())
        .arg("show")
        .arg(&path)
        .assert()
        .code(1)
        .get_output()
        .stderr
        .clone();
    let err = String::from_utf8(out).expect("utf-8");
    assert!(
        err.contains("has formatVersion 0; this build reads formatVersion 1"),
        "{err}"
    );
}

#[test]
fn show_without_a_plan_lists_the_state() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("org.json");
    std::fs::write(&path, serde_json::to_string(&state()).expect("json")).expect("write");
    let out = show_ok(dir.path(), &["--state"], Some(&path));
    let text = String::from_utf8(out).expect("utf-8");
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 3, "{text}");
    assert!(lines[0].ends_with("org.json: org org-1, serial 3, 2 managed entities"));
    assert_eq!(lines[1], "product.p                id prod-1  version 2");
    assert_eq!(
        lines[2],
        "account[\"Mickey Mouse\"]  id acc-1   version 5  (adopted)"
    );

    let out = show_ok(dir.path(), &["--json", "--state"], Some(&path));
    let doc: Value = serde_json::from_slice(&out).expect("json");
    assert_eq!(doc["serial"], json!(3));
    assert_eq!(
        doc["resources"][1]["address"],
        json!("account[\"Mickey Mouse\"]")
    );
    assert_eq!(doc["resources"][1]["adopted"], json!(true));
}

#[test]
fn show_defaults_to_the_local_state_and_else_asks_for_state() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = m3ter(dir.path())
        .arg("show")
        .assert()
        .code(1)
        .get_output()
        .stderr
        .clone();
    let err = String::from_utf8(out).expect("utf-8");
    assert!(err.contains("state/local.json does not exist"), "{err}");
    assert!(err.contains("--state FILE"), "{err}");

    std::fs::create_dir(dir.path().join("state")).expect("mkdir");
    std::fs::write(
        dir.path().join("state/local.json"),
        serde_json::to_string(&state()).expect("json"),
    )
    .expect("write");
    let out = show_ok(dir.path(), &[], None);
    let text = String::from_utf8(out).expect("utf-8");
    assert!(text.starts_with("# state/local.json: org org-1"), "{text}");
    assert!(text.contains("product.p"), "{text}");
}

#[test]
fn show_names_fields_as_the_yaml_does_and_nests_blocks() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = save_plan(
        dir.path(),
        vec![
            entity("product.n", json!({"code": "n", "name": "N"}), &[]),
            entity(
                "meter.m",
                json!({"code": "m", "name": "M", "derivedFields": [],
                       "dataFields": [{"category": "MEASURE", "code": "q", "name": "Q"}]}),
                &[("productId", "product.n")],
            ),
        ],
    );
    let out = show_ok(dir.path(), &[], Some(&path));
    let text = String::from_utf8(out).expect("utf-8");
    let start = text.find("  + meter.m {\n").expect("meter block");
    let end = start + text[start..].find("\n    }\n").expect("block end");
    assert_eq!(
        &text[start..end],
        [
            "  + meter.m {",
            "      + code          = \"m\"",
            "      + dataFields    = [",
            "          + {",
            "              + category = \"MEASURE\"",
            "              + code     = \"q\"",
            "              + name     = \"Q\"",
            "            },",
            "        ]",
            "      + derivedFields = []",
            "      + name          = \"M\"",
            "      + product       = product.n",
        ]
        .join("\n"),
        "{text}"
    );

    // The JSON document keeps the API's names.
    let out = show_ok(dir.path(), &["--json"], Some(&path));
    let doc: Value = serde_json::from_slice(&out).expect("one JSON document");
    let meter = &doc["changes"][1];
    assert_eq!(meter["address"], json!("meter.m"));
    assert_eq!(meter["after"]["productId"], json!("product.n"));
    assert!(meter["after"].get("product").is_none(), "{meter}");
}
