//! `plan --bill-impact` against the real emulator: the preview's "before"
//! is the bill the emulator ran, and after the change is applied and
//! billing runs again, the new bill is the preview's "after", to the cent.
//! On the whole example (plan, plan group, counter, commitment) with a fixed
//! measurement set, through four changes in turn: a unit price, a band
//! added, a standing charge, and an account plan ended mid-period.

use crate::common;

use std::collections::BTreeMap;
use std::path::Path;

use common::cli::{EmulatorProcess, copy_full_example, m3ter, stdout, text};
use serde_json::Value;

const METER: &str = "compute_and_requests_meter_api_6";
const ACCOUNTS: [&str; 4] = [
    "mickey_mouse_inc_api_6",
    "donald_duck_ltd_api_6",
    "pluto_llp_api_6",
    "goofy_corp_api_6",
];
const QUERY_ROUTE: &str = "POST /organizations/{orgId}/usage/query";

fn usage_queries(emu: &EmulatorProcess) -> u64 {
    emu.stats()["requests"][QUERY_ROUTE].as_u64().unwrap_or(0)
}

fn run_ok(dir: &Path, emu: &EmulatorProcess, args: &[&str]) -> String {
    let out = m3ter(dir, emu, args);
    assert!(out.status.success(), "{args:?}: {}", text(&out));
    stdout(&out)
}

/// The whole example applied, a fixed set of December 2024 measurements
/// ingested for every account, and December billed.
fn billed_example(dir: &Path, emu: &EmulatorProcess) {
    copy_full_example(dir);
    run_ok(dir, emu, &["apply", "--auto-approve", "--rate-limit", "0"]);
    let mut args = vec!["ingest", "--meter", METER];
    for a in ACCOUNTS {
        args.extend(["--account", a]);
    }
    args.extend([
        "--from",
        "2024-12-01T00:00:00Z",
        "--to",
        "2025-01-01T00:00:00Z",
        "--measure",
        "memory_consumption_api_6=1..100",
        "--measure",
        "execution_time_api_6=1000..5000",
        "--count",
        "2000",
        "--seed",
        "42",
    ]);
    run_ok(dir, emu, &args);
    bill_december(dir, emu);
}

fn bill_december(dir: &Path, emu: &EmulatorProcess) {
    run_ok(
        dir,
        emu,
        &[
            "bill",
            "run",
            "--bill-date",
            "2025-01-01",
            "--last-date-in-period",
            "2024-12-31",
        ],
    );
}

fn cents(v: &Value) -> i64 {
    (v.as_f64().unwrap_or_else(|| panic!("a number: {v}")) * 100.0).round() as i64
}

/// Each account's December 2024 bill total, in cents, by account code.
fn december_totals(emu: &EmulatorProcess) -> BTreeMap<String, i64> {
    let codes: BTreeMap<String, String> = emu
        .list_all("accounts")
        .iter()
        .map(|a| {
            (
                a["id"].as_str().unwrap_or_default().to_owned(),
                a["code"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect();
    emu.list_all("bills")
        .iter()
        .filter(|b| b["endDate"] == "2025-01-01")
        .map(|b| {
            let account = b["accountId"].as_str().unwrap_or_default();
            (codes[account].clone(), cents(&b["billTotal"]))
        })
        .collect()
}

/// `plan --bill-impact --period 2024-12 --json`'s `billImpact`.
fn preview(dir: &Path, emu: &EmulatorProcess) -> Value {
    let out = run_ok(
        dir,
        emu,
        &["plan", "--bill-impact", "--period", "2024-12", "--json"],
    );
    let doc: Value = serde_json::from_str(&out).expect("plan json");
    assert!(doc["changes"].is_array(), "the plan document: {doc}");
    doc["billImpact"].clone()
}

fn edit(dir: &Path, file: &str, from: &str, to: &str) {
    let path = dir.join("desired-state").join(file);
    let text = std::fs::read_to_string(&path).expect("read");
    assert!(text.contains(from), "{file} has {from:?}");
    std::fs::write(&path, text.replacen(from, to, 1)).expect("write");
}

/// The preview's accounts as code → (before, after) in cents.
fn amounts(impact: &Value) -> BTreeMap<String, (i64, i64)> {
    impact["accounts"]
        .as_array()
        .expect("accounts")
        .iter()
        .map(|a| {
            (
                a["account"].as_str().expect("code").to_owned(),
                (cents(&a["before"]), cents(&a["after"])),
            )
        })
        .collect()
}

/// One change: previewed, checked against the bills before, applied,
/// billed again and checked against the preview's "after".
fn check_change(dir: &Path, emu: &EmulatorProcess, what: &str, affected: &[&str]) -> Value {
    let billed = december_totals(emu);
    let queries = usage_queries(emu);
    let impact = preview(dir, emu);
    let previewed = amounts(&impact);
    let mut names: Vec<&str> = previewed.keys().map(String::as_str).collect();
    names.sort_unstable();
    let mut want = affected.to_vec();
    want.sort_unstable();
    assert_eq!(names, want, "{what}: the affected accounts: {impact}");
    for (account, (before, _)) in &previewed {
        assert_eq!(
            Some(before),
            billed.get(account),
            "{what}: {account}'s preview before is its December bill: {impact}"
        );
    }
    let sum: i64 = previewed.values().map(|(b, _)| b).sum();
    assert_eq!(cents(&impact["totals"]["before"]), sum, "{what}: {impact}");
    // One meter, one window per account plan window: a query per window.
    let sent = usage_queries(emu) - queries;
    assert!(
        (1..=2).contains(&sent),
        "{what}: {sent} usage queries: {impact}"
    );
    assert_eq!(impact["usageQueries"], sent, "{what}");

    run_ok(dir, emu, &["apply", "--auto-approve", "--rate-limit", "0"]);
    bill_december(dir, emu);
    let rebilled = december_totals(emu);
    for (account, (_, after)) in &previewed {
        assert_eq!(
            Some(after),
            rebilled.get(account),
            "{what}: {account}'s new bill is the preview's after: {impact}"
        );
    }
    let sum: i64 = previewed.values().map(|(_, a)| a).sum();
    assert_eq!(cents(&impact["totals"]["after"]), sum, "{what}: {impact}");
    impact
}

#[test]
fn the_preview_matches_the_bills_before_and_after_each_change() {
    let emu = EmulatorProcess::start(&[]);
    let dir = tempfile::tempdir().expect("tempdir");
    let dir = dir.path();
    billed_example(dir, &emu);

    // No change: no billing impact, and no usage read.
    let queries = usage_queries(&emu);
    let impact = preview(dir, &emu);
    assert_eq!(impact["accounts"], serde_json::json!([]), "{impact}");
    assert_eq!(impact["usageQueries"], 0);
    let human = run_ok(dir, &emu, &["plan", "--bill-impact", "--period", "2024-12"]);
    assert!(human.contains("no billing impact"), "{human}");
    assert_eq!(
        usage_queries(&emu),
        queries,
        "no usage query without a change"
    );

    // A unit price: everyone on the Lambda plan, Goofy Corp through its
    // plan group. The pull-request view says it in a sentence.
    edit(dir, "pricing.yaml", "unitPrice: 0.22}", "unitPrice: 0.25}");
    let md = run_ok(
        dir,
        &emu,
        &[
            "plan",
            "--bill-impact",
            "--period",
            "2024-12",
            "--format",
            "markdown",
        ],
    );
    assert!(md.contains("### Bill impact: December 2024"), "{md}");
    assert!(md.contains("This raises Mickey Mouse Inc"), "{md}");
    assert!(md.contains("December 2024 invoice by "), "{md}");
    assert!(md.contains("m3ter's exact maths is not public"), "{md}");
    let impact = check_change(dir, &emu, "a unit price", &ACCOUNTS);
    let account = |impact: &Value, code: &str| -> Value {
        impact["accounts"]
            .as_array()
            .expect("accounts")
            .iter()
            .find(|a| a["account"] == code)
            .unwrap_or_else(|| panic!("{code} in {impact}"))
            .clone()
    };
    let mickey = &account(&impact, "mickey_mouse_inc_api_6");
    let requests: Vec<&Value> = mickey["lineItems"]
        .as_array()
        .expect("lines")
        .iter()
        .filter(|l| l["description"] == "Requests" && l["lineItemType"] == "USAGE")
        .collect();
    assert_eq!(requests.len(), 1, "{mickey}");
    assert_eq!(requests[0]["change"], "changed", "{mickey}");
    // Same quantity at 0.25 instead of 0.22.
    let (before, after) = (
        requests[0]["before"].as_f64().expect("before"),
        requests[0]["after"].as_f64().expect("after"),
    );
    assert!(before > 0.0, "{mickey}");
    assert!((after - before * 0.25 / 0.22).abs() < 1e-6, "{mickey}");

    // A band added to the same pricing.
    edit(
        dir,
        "pricing.yaml",
        "      - {lowerLimit: 0, fixedPrice: 0.0, unitPrice: 0.25}\n",
        "      - {lowerLimit: 0, fixedPrice: 0.0, unitPrice: 0.25}\n      - {lowerLimit: 100, fixedPrice: 0.0, unitPrice: 0.1}\n",
    );
    check_change(dir, &emu, "a band added", &ACCOUNTS);

    // A standing charge on the plan template.
    edit(
        dir,
        "pricing.yaml",
        "standingCharge: 0.0",
        "standingCharge: 25.0",
    );
    let impact = check_change(dir, &emu, "a standing charge", &ACCOUNTS);
    let lines: Vec<&Value> = impact["accounts"]
        .as_array()
        .expect("accounts")
        .iter()
        .flat_map(|a| a["lineItems"].as_array().expect("lines"))
        .filter(|l| l["lineItemType"] == "STANDING_CHARGE")
        .collect();
    assert!(!lines.is_empty(), "{impact}");
    assert!(lines.iter().all(|l| l["change"] == "added"), "{impact}");

    // Donald Duck's account plan ends on 16 December: only its bill moves.
    edit(
        dir,
        "accounts.yaml",
        "  - account: donald_duck_ltd_${var.suffix}\n    plan: lambda_plan_${var.suffix}\n    startDate: 2024-12-01\n",
        "  - account: donald_duck_ltd_${var.suffix}\n    plan: lambda_plan_${var.suffix}\n    startDate: 2024-12-01\n    endDate: 2024-12-16\n",
    );
    let impact = check_change(
        dir,
        &emu,
        "an account plan ended mid-period",
        &["donald_duck_ltd_api_6"],
    );
    let donald = &account(&impact, "donald_duck_ltd_api_6");
    assert!(
        cents(&donald["after"]) < cents(&donald["before"]),
        "{donald}"
    );
}
