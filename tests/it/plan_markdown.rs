//! `plan --format markdown`: the renderer snapshotted on plans the planner
//! made from small desired / state / live fixtures (one per action, drift,
//! warnings, hostile values, the cut), then the flag through the binary.

use m3ter_api::Kind;
use m3ter_reconcile::plan::render::{COMMENT_LIMIT, markdown, markdown_within};
use m3ter_reconcile::plan::{Plan, PlanOptions, PlanWarning};
use serde_json::{Value, json};

use crate::common::cli::{self, EmulatorProcess};
use crate::common::world::{World, addr};

/// Checks what must hold of any markdown plan: within the limit, every
/// `<details>` closed, every fence closed, no table row broken.
fn well_formed(md: &str, limit: usize) {
    assert!(md.len() <= limit, "{} bytes > {limit}", md.len());
    // Outside the fences (whose content is literal, whatever it says).
    let mut fence: Option<&str> = None;
    let (mut open, mut close) = (0, 0);
    for line in md.lines() {
        match fence {
            Some(f) if line == f => fence = None,
            Some(_) => {}
            None if line.starts_with("```") => {
                fence = Some(line.trim_end_matches(|c: char| c.is_ascii_alphabetic()));
            }
            None => {
                open += line.matches("<details>").count();
                close += line.matches("</details>").count();
                if line.starts_with('|') {
                    assert!(line.ends_with(" |"), "a broken row: {line:?}");
                }
            }
        }
    }
    assert_eq!(fence, None, "an unclosed fence in\n{md}");
    assert_eq!(open, close, "unbalanced <details> in\n{md}");
}

fn snapshot(p: &Plan) -> String {
    let md = markdown(p);
    well_formed(&md, COMMENT_LIMIT);
    md
}

#[test]
fn no_changes() {
    insta::assert_snapshot!("md_no_changes", snapshot(&World::basic().plan()));
}

#[test]
fn create_update_and_delete() {
    let mut w = World::basic();
    w.want("product.q", json!({"code": "q", "name": "Q"}), &[]);
    w.want(
        "meter.m",
        json!({"code": "m", "name": "M2",
        "dataFields": [{"category": "MEASURE", "code": "q", "name": "Q", "unit": "ms"}],
        "derivedFields": []}),
        &[("productId", "product.q")],
    );
    w.desired.entities.remove(&addr("account.a"));
    let p = w.plan();
    insta::assert_snapshot!("md_create_update_delete", snapshot(&p));
}

#[test]
fn replace() {
    let mut w = World::basic();
    w.synced(
        "account.b",
        "acc-2",
        json!({"code": "b", "name": "B", "emailAddress": "b@example.com"}),
        &[],
    );
    w.synced(
        "planTemplate.t",
        "tpl-1",
        json!({"code": "t", "name": "T", "currency": "USD", "standingCharge": 0,
               "billFrequency": "MONTHLY"}),
        &[("productId", "product.p")],
    );
    w.synced(
        "plan.x",
        "plan-1",
        json!({"code": "x", "name": "X"}),
        &[
            ("planTemplateId", "planTemplate.t"),
            ("accountId", "account.a"),
        ],
    );
    // accountId cannot be updated: moving the bespoke plan is a replace.
    w.want(
        "plan.x",
        json!({"code": "x", "name": "X"}),
        &[
            ("planTemplateId", "planTemplate.t"),
            ("accountId", "account.b"),
        ],
    );
    insta::assert_snapshot!("md_replace", snapshot(&w.plan()));
}

#[test]
fn imports_as_it_is_and_with_changes() {
    let mut w = World::basic();
    w.want("product.q", json!({"code": "q", "name": "Q"}), &[]);
    w.live(
        Kind::Product,
        "prod-7",
        1,
        json!({"code": "q", "name": "Q"}),
    );
    w.want("product.r", json!({"code": "r", "name": "R new"}), &[]);
    w.live(
        Kind::Product,
        "prod-8",
        1,
        json!({"code": "r", "name": "R old"}),
    );
    insta::assert_snapshot!("md_import", snapshot(&w.plan()));
}

#[test]
fn drift_changed_and_deleted() {
    let mut w = World::basic();
    w.live_mut(Kind::Product, "prod-1")
        .insert("name".into(), json!("Renamed in the console"));
    w.live
        .entities
        .get_mut(&Kind::Account)
        .expect("accounts")
        .clear();
    insta::assert_snapshot!("md_drift", snapshot(&w.plan()));
    let refresh = w
        .plan_with(&PlanOptions {
            refresh_only: true,
            ..Default::default()
        })
        .expect("plan");
    insta::assert_snapshot!("md_drift_refresh_only", snapshot(&refresh));
}

#[test]
fn warnings_are_alerts() {
    let mut w = World::basic();
    w.want("product.p", json!({"code": "p", "name": "P2"}), &[]);
    let mut p = w.plan();
    p.warnings.push(PlanWarning::MassChange {
        touched: 4,
        managed: 10,
    });
    p.warnings.push(PlanWarning::Text(
        "products.yaml:3:5: a <b>bold</b> | claim".into(),
    ));
    insta::assert_snapshot!("md_warnings", snapshot(&p));
}

#[test]
fn hostile_values_cannot_break_out() {
    let hostile = "x | y `z` <img src=x onerror=alert(1)> </details> **b** [l](http://e) $m$ @team\n| row |\n\n```";
    let mut w = World::new();
    w.want(
        &format!("product[{}]", serde_json::to_string(hostile).expect("json")),
        json!({"code": "h", "name": hostile}),
        &[],
    );
    w.synced(
        "product.p",
        "prod-1",
        json!({"code": "p", "name": "P"}),
        &[],
    );
    w.want("product.p", json!({"code": "p", "name": hostile}), &[]);
    let md = snapshot(&w.plan());
    // Outside the fences nothing of the value is left as written.
    let mut fence: Option<&str> = None;
    for line in md.lines() {
        match fence {
            Some(f) if line == f => fence = None,
            Some(_) => {}
            None if line.starts_with("```") => {
                fence = Some(line.trim_end_matches(|c: char| c.is_ascii_alphabetic()));
            }
            None => {
                for bad in [
                    "<img",
                    "</details> **",
                    "`z`",
                    "[l]",
                    "$m$",
                    "@team",
                    "| row |",
                ] {
                    assert!(
                        !line.contains(bad),
                        "{bad:?} escaped the escaping in {line:?}"
                    );
                }
            }
        }
    }
    // The fences outgrow the value's own triple backticks.
    assert!(md.contains("````diff\n"), "{md}");
    insta::assert_snapshot!("md_hostile", md);
}

/// `n` products to create, with names long enough to make details weigh.
fn many_creates(n: usize) -> Plan {
    let mut w = World::new();
    for i in 0..n {
        w.want(
            &format!("product.p{i:04}"),
            json!({"code": format!("p{i:04}"), "name": format!("Product {i} {}", "x".repeat(60))}),
            &[],
        );
    }
    w.plan()
}

#[test]
fn a_small_limit_cuts_details_then_rows_with_a_note() {
    let p = many_creates(12);
    // Room for every row and some details.
    let md = markdown_within(&p, 2_400);
    well_formed(&md, 2_400);
    assert!(md.contains("the details of"), "{md}");
    insta::assert_snapshot!("md_cut_details", md);
    // Room for some rows only: no details at all.
    let md = markdown_within(&p, 1_200);
    well_formed(&md, 1_200);
    assert!(!md.contains("<details>"), "{md}");
    insta::assert_snapshot!("md_cut_rows", md);
}

#[test]
fn a_large_plan_is_cut_to_fit_a_github_comment() {
    let p = many_creates(2_000);
    let md = markdown(&p);
    well_formed(&md, COMMENT_LIMIT);
    assert!(
        md.len() > COMMENT_LIMIT - 2_000,
        "the room is used: {}",
        md.len()
    );
    let listed = md.lines().filter(|l| l.starts_with("| create")).count();
    assert!(listed > 100 && listed < 2_000, "{listed} rows");
    let note = format!("{} of 2000 changes are not listed", 2_000 - listed);
    assert!(md.contains(&note), "expected {note:?} in the note");
    assert!(
        md.contains("m3ter show PLANFILE"),
        "the note names the artifact"
    );
}

// ---- Through the binary ---------------------------------------------------

fn write_desired(dir: &std::path::Path, name: &str) {
    let d = dir.join("desired-state");
    std::fs::create_dir_all(&d).expect("mkdir");
    std::fs::write(
        d.join("products.yaml"),
        format!("products:\n  - code: p\n    name: {name:?}\n"),
    )
    .expect("write");
}

#[test]
fn plan_format_markdown_with_a_plan_file_and_show() {
    let emu = EmulatorProcess::start(&[]);
    let dir = tempfile::tempdir().expect("tempdir");
    write_desired(dir.path(), "Pro | <b>");
    let out = cli::m3ter(
        dir.path(),
        &emu,
        &[
            "plan",
            "--format",
            "markdown",
            "--detailed-exitcode",
            "-o",
            "plan.json",
        ],
    );
    assert_eq!(out.status.code(), Some(2), "{}", cli::text(&out));
    let md = cli::stdout(&out);
    assert!(
        md.starts_with("### Plan: 0 to import, 1 to add, 0 to change, 0 to destroy\n"),
        "{md}"
    );
    assert!(
        md.contains("| create | <code>product.p</code> | (new) |"),
        "{md}"
    );
    assert!(
        md.contains("Pro &#124; &lt;b&gt;") || md.contains("\"Pro | <b>\""),
        "{md}"
    );
    assert!(
        !md.contains("Saved the plan"),
        "the hint is not markdown: {md}"
    );
    assert!(cli::stderr(&out).contains("Saved the plan to plan.json"));
    // The plan file stays JSON, and `show` renders the same markdown.
    let saved: Value =
        serde_json::from_slice(&std::fs::read(dir.path().join("plan.json")).expect("plan file"))
            .expect("the plan file is JSON");
    assert_eq!(saved["changes"][0]["action"], "create");
    let shown = cli::m3ter(
        dir.path(),
        &emu,
        &["show", "--format", "markdown", "plan.json"],
    );
    assert!(shown.status.success(), "{}", cli::text(&shown));
    assert_eq!(cli::stdout(&shown), md);
    // `--format json` is `--json`.
    let json = cli::m3ter(dir.path(), &emu, &["show", "--format", "json", "plan.json"]);
    let doc: Value = serde_json::from_slice(&json.stdout).expect("json");
    assert_eq!(doc["summary"]["add"], 1);
}

#[test]
fn format_markdown_refuses_what_it_cannot_do() {
    let emu = EmulatorProcess::start(&[]);
    let dir = tempfile::tempdir().expect("tempdir");
    write_desired(dir.path(), "P");
    let both = cli::m3ter(
        dir.path(),
        &emu,
        &["plan", "--json", "--format", "markdown"],
    );
    assert_eq!(both.status.code(), Some(1), "{}", cli::text(&both));
    assert!(
        cli::text(&both).contains("--json and --format markdown"),
        "{}",
        cli::text(&both)
    );
    let state = cli::m3ter(dir.path(), &emu, &["show", "--format", "markdown"]);
    assert_eq!(state.status.code(), Some(1));
    assert!(
        cli::stderr(&state).contains("`m3ter show --format markdown PLANFILE`"),
        "{}",
        cli::text(&state)
    );
}
