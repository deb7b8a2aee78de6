//! The order of dependent changes (issue 7, "Order matters"): an update that
//! removes something a dependent uses waits for that dependent's change.
//! Each test applies a small desired state with the real binary, changes it,
//! and applies again against the same emulator, which refuses a meter update
//! that drops a field an aggregation still targets.

use crate::common;

use std::path::Path;
use std::process::Output;

use common::cli::{EmulatorProcess, m3ter, stderr, stdout, text};

/// A product, one meter with these data fields, and these aggregations
/// (`code: targetField`), as `dir/desired-state/order.yaml`.
fn write_desired(dir: &Path, fields: &[&str], aggregations: &[(&str, &str)]) {
    let mut y = String::from(
        "products:\n  - code: p\n    name: P\n\nmeters:\n  - code: m\n    name: M\n    product: p\n    dataFields:\n",
    );
    for f in fields {
        y.push_str(&format!(
            "      - code: {f}\n        name: {f}\n        category: MEASURE\n        unit: s\n"
        ));
    }
    if !aggregations.is_empty() {
        y.push_str("\naggregations:\n");
    }
    for (code, target) in aggregations {
        y.push_str(&format!(
            "  - code: {code}\n    name: {code}\n    meter: m\n    targetField: {target}\n    aggregation: SUM\n    rounding: NONE\n    quantityPerUnit: 1\n    unit: s\n"
        ));
    }
    let d = dir.join("desired-state");
    std::fs::create_dir_all(&d).expect("mkdir");
    std::fs::write(d.join("order.yaml"), y).expect("write yaml");
}

fn apply(dir: &Path, emu: &EmulatorProcess) -> Output {
    m3ter(
        dir,
        emu,
        &[
            "apply",
            "--auto-approve",
            "--rate-limit",
            "0",
            "--parallelism",
            "1",
        ],
    )
}

fn assert_ok(o: &Output) {
    assert!(o.status.success(), "{}", text(o));
}

/// The codes of the live meter's data fields.
fn live_fields(emu: &EmulatorProcess) -> Vec<String> {
    let meter = emu.by_code("meters", "m");
    meter["dataFields"]
        .as_array()
        .expect("dataFields")
        .iter()
        .map(|f| f["code"].as_str().expect("code").to_string())
        .collect()
}

/// The index in apply's output of the progress line that starts with `address:`.
fn line_of(out: &str, address: &str) -> usize {
    out.lines()
        .position(|l| l.starts_with(&format!("{address}: ")))
        .unwrap_or_else(|| panic!("no progress line for {address}:\n{out}"))
}

/// After both changes, a plan finds nothing left to do.
fn assert_converged(dir: &Path, emu: &EmulatorProcess) {
    let plan = m3ter(
        dir,
        emu,
        &["plan", "--detailed-exitcode", "--rate-limit", "0"],
    );
    assert_eq!(plan.status.code(), Some(0), "{}", text(&plan));
}

#[test]
fn dropping_a_field_with_the_aggregation_that_targets_it_deletes_the_aggregation_first() {
    let emu = EmulatorProcess::start(&[]);
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    write_desired(
        d,
        &["keep", "gone"],
        &[("on_keep", "keep"), ("on_gone", "gone")],
    );
    assert_ok(&apply(d, &emu));

    write_desired(d, &["keep"], &[("on_keep", "keep")]);
    let out = apply(d, &emu);
    assert_ok(&out);
    let o = stdout(&out);
    assert!(
        o.contains("Apply complete! 0 imported, 0 added, 1 changed, 1 destroyed."),
        "{}",
        text(&out)
    );
    assert!(
        line_of(&o, "aggregation.on_gone") < line_of(&o, "meter.m"),
        "the meter was updated before the aggregation was deleted:\n{o}"
    );
    assert_eq!(live_fields(&emu), ["keep"]);
    assert!(
        emu.list_all("aggregations")
            .iter()
            .all(|a| a["code"] != "on_gone"),
        "on_gone is still live"
    );
    assert_converged(d, &emu);
}

#[test]
fn retargeting_an_aggregation_and_dropping_the_old_field_updates_the_aggregation_first() {
    let emu = EmulatorProcess::start(&[]);
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    write_desired(d, &["keep", "old"], &[("agg", "old")]);
    assert_ok(&apply(d, &emu));

    write_desired(d, &["keep"], &[("agg", "keep")]);
    let out = apply(d, &emu);
    assert_ok(&out);
    let o = stdout(&out);
    assert!(
        o.contains("Apply complete! 0 imported, 0 added, 2 changed, 0 destroyed."),
        "{}",
        text(&out)
    );
    assert!(
        line_of(&o, "aggregation.agg") < line_of(&o, "meter.m"),
        "the meter was updated before the aggregation:\n{o}"
    );
    assert_eq!(live_fields(&emu), ["keep"]);
    assert_eq!(emu.by_code("aggregations", "agg")["targetField"], "keep");
    assert_converged(d, &emu);
}

#[test]
fn an_update_that_both_adds_and_drops_what_a_dependent_uses_is_refused_before_any_request() {
    let emu = EmulatorProcess::start(&[]);
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    write_desired(d, &["keep", "old"], &[("agg", "old")]);
    assert_ok(&apply(d, &emu));

    // The aggregation moves to a field the same meter update adds, while
    // the update drops the field the aggregation targets now.
    write_desired(d, &["keep", "new"], &[("agg", "new")]);
    let puts = |emu: &EmulatorProcess| common::apply::count(&emu.stats(), "PUT /organizations");
    let before = puts(&emu);
    let out = apply(d, &emu);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let err = stderr(&out);
    for part in [
        "meter.m",
        "aggregation.agg",
        "`new`",
        "`old`",
        "two applies",
    ] {
        assert!(err.contains(part), "{part:?} not named:\n{}", text(&out));
    }
    assert_eq!(puts(&emu), before, "requests were sent");
    assert_eq!(live_fields(&emu), ["keep", "old"]);

    // `plan --json` names the entity in its error document.
    let out = m3ter(d, &emu, &["plan", "--json", "--rate-limit", "0"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let doc: serde_json::Value =
        serde_json::from_str(stdout(&out).trim()).expect("one JSON document");
    assert_eq!(doc["error"]["address"], "meter.m", "{doc}");
}
