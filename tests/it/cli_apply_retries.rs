//! The write-retry rules of design §4, observed exactly: the real binary
//! applies against a scripted server that answers what each case needs,
//! and every request it made is checked.
//! - a first-attempt 409 on PUT is "changed since plan" with the address,
//!   never retried with a fresh version;
//! - a retried PUT that answers 409 is resolved by reading the entity;
//! - a create whose reply was lost is adopted, never sent twice;
//! - a retried DELETE that answers 404 counts as done.

use crate::common;

use std::path::Path;
use std::process::{Command, Output, Stdio};

use serde_json::{Value, json};

use common::apply::COLLECTIONS;
use common::cli::{ORG, bin, text};
use common::scenario::{Canned, Scenario};

const P1: &str = "pid-1";

fn org_path(rest: &str) -> String {
    format!("/organizations/{ORG}/{rest}")
}

fn product(id: &str, code: &str, name: &str, version: i64) -> Value {
    json!({"id": id, "code": code, "name": name, "version": version})
}

/// A state file recording `product.p1` (id P1, version 1, named "Old").
fn write_state(dir: &Path, base_url: &str) {
    let state = json!({
        "formatVersion": 1,
        "lineage": "7f1c0a52-5a4e-4a43-9a55-3f3c3b1f0b11",
        "serial": 1,
        "orgId": ORG,
        "baseUrl": base_url,
        "resources": {
            "product.p1": {
                "id": P1, "version": 1, "dependsOn": [], "adopted": false,
                "applied": {"code": "p1", "name": "Old"}
            }
        }
    });
    std::fs::create_dir_all(dir.join("state")).expect("mkdir");
    std::fs::write(
        dir.join("state").join(format!("{ORG}.json")),
        serde_json::to_string_pretty(&state).expect("json"),
    )
    .expect("write state");
}

fn write_desired(dir: &Path, yaml: &str) {
    std::fs::create_dir_all(dir.join("desired-state")).expect("mkdir");
    std::fs::write(dir.join("desired-state/products.yaml"), yaml).expect("write yaml");
}

/// Queues the refresh: `products` answers `live`, every other kind is empty.
fn queue_refresh(s: &Scenario, live: Vec<Value>) {
    for c in COLLECTIONS.iter().copied().filter(|c| *c != "products") {
        s.on("GET", &org_path(c), [Canned::ok(json!({"data": []}))]);
    }
    s.on(
        "GET",
        &org_path("products"),
        [Canned::ok(json!({ "data": live }))],
    );
}

/// Runs `m3ter apply --auto-approve` in `dir` against the scenario.
async fn apply(dir: &Path, s: &Scenario) -> Output {
    let mut cmd = Command::new(bin());
    cmd.current_dir(dir)
        .args(["apply", "--auto-approve", "--rate-limit", "0"])
        .stdin(Stdio::null());
    for (k, _) in std::env::vars() {
        if k.starts_with("M3TER_") {
            cmd.env_remove(k);
        }
    }
    cmd.env("M3TER_ORG_ID", ORG)
        .env("M3TER_API_KEY", "k")
        .env("M3TER_API_SECRET", "s")
        .env("M3TER_BASE_URL", &s.url)
        .env("NO_COLOR", "1");
    tokio::task::spawn_blocking(move || cmd.output().expect("m3ter runs"))
        .await
        .expect("join")
}

fn count(s: &Scenario, method: &str, path: &str) -> usize {
    s.requests()
        .iter()
        .filter(|r| r.method == method && r.path == path)
        .count()
}

async fn scenario() -> (tempfile::TempDir, Scenario) {
    let dir = tempfile::tempdir().expect("tempdir");
    let s = Scenario::start().await;
    s.auto_token(3600);
    write_state(dir.path(), &s.url);
    (dir, s)
}

#[tokio::test(flavor = "multi_thread")]
async fn a_first_409_is_changed_since_plan_and_never_overwritten() {
    let (dir, s) = scenario().await;
    write_desired(dir.path(), "products:\n  - code: p1\n    name: New\n");
    queue_refresh(&s, vec![product(P1, "p1", "Old", 1)]);
    s.on(
        "PUT",
        &org_path(&format!("products/{P1}")),
        [Canned::error(409, "version mismatch")],
    );
    let out = apply(dir.path(), &s).await;
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("product.p1") && err.contains("changed since plan"),
        "{}",
        text(&out)
    );
    let put = org_path(&format!("products/{P1}"));
    assert_eq!(count(&s, "PUT", &put), 1, "a 409 must not be retried");
    assert_eq!(count(&s, "GET", &put), 0);
    let sent = s.requests_to(&put);
    assert_eq!(sent[0].body.as_ref().expect("body")["version"], 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_retried_put_that_already_took_effect_is_done() {
    let (dir, s) = scenario().await;
    write_desired(dir.path(), "products:\n  - code: p1\n    name: New\n");
    queue_refresh(&s, vec![product(P1, "p1", "Old", 1)]);
    let put = org_path(&format!("products/{P1}"));
    s.on(
        "PUT",
        &put,
        [
            Canned::error(503, "unavailable"),
            Canned::error(409, "version mismatch"),
        ],
    );
    s.on("GET", &put, [Canned::ok(product(P1, "p1", "New", 2))]);
    let out = apply(dir.path(), &s).await;
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stdout)
            .contains("Apply complete! 0 imported, 0 added, 1 changed, 0 destroyed."),
        "{}",
        text(&out)
    );
    assert_eq!(count(&s, "PUT", &put), 2);
    // Both attempts carried the planned version, never a fresh one.
    for r in s.requests_to(&put).iter().filter(|r| r.method == "PUT") {
        assert_eq!(r.body.as_ref().expect("body")["version"], 1);
    }
    let state: Value = serde_json::from_str(
        &std::fs::read_to_string(dir.path().join(format!("state/{ORG}.json"))).expect("state"),
    )
    .expect("json");
    assert_eq!(state["resources"]["product.p1"]["version"], 2);
    assert_eq!(state["resources"]["product.p1"]["applied"]["name"], "New");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_retried_put_whose_409_is_someone_else_is_changed_since_plan() {
    let (dir, s) = scenario().await;
    write_desired(dir.path(), "products:\n  - code: p1\n    name: New\n");
    queue_refresh(&s, vec![product(P1, "p1", "Old", 1)]);
    let put = org_path(&format!("products/{P1}"));
    s.on(
        "PUT",
        &put,
        [
            Canned::error(500, "boom"),
            Canned::error(409, "version mismatch"),
        ],
    );
    s.on(
        "GET",
        &put,
        [Canned::ok(product(P1, "p1", "Someone else", 2))],
    );
    let out = apply(dir.path(), &s).await;
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("changed since plan"),
        "{}",
        text(&out)
    );
    assert_eq!(count(&s, "PUT", &put), 2);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_create_whose_reply_was_lost_is_adopted_not_duplicated() {
    let (dir, s) = scenario().await;
    write_desired(
        dir.path(),
        "products:\n  - code: p1\n    name: Old\n  - code: p2\n    name: Two\n",
    );
    queue_refresh(&s, vec![product(P1, "p1", "Old", 1)]);
    let products = org_path("products");
    s.on(
        "POST",
        &products,
        [Canned::error(500, "stored, then failed")],
    );
    // The lookup before the retry finds what the failed attempt stored.
    s.on(
        "GET",
        &products,
        [Canned::ok(
            json!({"data": [product("pid-2", "p2", "Two", 1), product(P1, "p1", "Old", 1)]}),
        )],
    );
    let out = apply(dir.path(), &s).await;
    assert!(out.status.success(), "{}", text(&out));
    let o = String::from_utf8_lossy(&out.stdout);
    assert!(
        o.contains("product.p2: Creation complete (adopted after a lost reply)")
            && o.contains("[id=pid-2]"),
        "{}",
        text(&out)
    );
    assert_eq!(count(&s, "POST", &products), 1, "the create was sent twice");
    // The API documents no `codes` filter for products: the lookup lists
    // them (a real server would ignore an undocumented filter and answer
    // everything anyway).
    let lookup = s
        .requests()
        .into_iter()
        .filter(|r| r.method == "GET" && r.path == products)
        .nth(1)
        .expect("a lookup");
    assert_eq!(lookup.param("codes"), None, "{:?}", lookup.query);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_retried_delete_that_answers_404_is_done() {
    let (dir, s) = scenario().await;
    // p1 leaves the desired state; p3 (unmanaged here) keeps it non-empty.
    write_desired(dir.path(), "products:\n  - code: p3\n    name: Three\n");
    queue_refresh(
        &s,
        vec![
            product(P1, "p1", "Old", 1),
            product("pid-3", "p3", "Three", 1),
        ],
    );
    let del = org_path(&format!("products/{P1}"));
    s.on(
        "DELETE",
        &del,
        [
            Canned::error(503, "unavailable"),
            Canned::error(404, "not found"),
        ],
    );
    let out = apply(dir.path(), &s).await;
    assert!(out.status.success(), "{}", text(&out));
    let o = String::from_utf8_lossy(&out.stdout);
    assert!(
        o.contains("Apply complete! 1 imported, 0 added, 0 changed, 1 destroyed.")
            && o.contains("1 to import"),
        "{}",
        text(&out)
    );
    assert_eq!(count(&s, "DELETE", &del), 2);
    let state: Value = serde_json::from_str(
        &std::fs::read_to_string(dir.path().join(format!("state/{ORG}.json"))).expect("state"),
    )
    .expect("json");
    assert!(state["resources"].get("product.p1").is_none(), "{state}");
    assert_eq!(state["resources"]["product.p3"]["adopted"], true);
}
