//! `m3ter plan` and its read-side companions (`show`, `refresh`, `import`,
//! `state`, `validate`) end to end: the real binary against an emulator
//! process over loopback, the way a user or CI pipeline drives them.

use crate::common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Output;

use common::apply::COLLECTIONS;
use common::cli::{EmulatorProcess, ORG, SECRET, copy_example, m3ter_cmd, stderr, stdout, text};
use serde_json::{Value, json};

const PRODUCT: &str = "product.aws_lambda_api_6";
const PLAN: &str = "plan.lambda_plan_api_6";
const PLUTO: &str = "account.pluto_llp_api_6";

/// `m3ter ARGS...` in `dir` against `emu`, unpaced (`--rate-limit 0`) on
/// the commands that talk to the org, so each test stays well under 2 s.
fn m3ter(dir: &Path, emu: &EmulatorProcess, args: &[&str]) -> Output {
    let mut all = args.to_vec();
    if matches!(
        args.first(),
        Some(&("plan" | "apply" | "refresh" | "import"))
    ) {
        all.extend(["--rate-limit", "0"]);
    }
    common::cli::m3ter(dir, emu, &all)
}

/// A temp dir holding a copy of the example desired state.
fn workspace() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    copy_example(dir.path());
    dir
}

/// The default state file of the emulator's org, relative to the workspace.
fn state_file(dir: &Path) -> PathBuf {
    dir.join("state").join(format!("{ORG}.json"))
}

/// Runs `m3ter plan --json ARGS` and parses its stdout.
fn plan_json(dir: &Path, emu: &EmulatorProcess, args: &[&str]) -> Value {
    let mut all = vec!["plan", "--json"];
    all.extend_from_slice(args);
    let out = m3ter(dir, emu, &all);
    assert!(matches!(out.status.code(), Some(0 | 2)), "{}", text(&out));
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}", text(&out)))
}

/// `(address, action)` of every change of a `--json` plan.
fn json_actions(plan: &Value) -> Vec<(String, String)> {
    plan["changes"]
        .as_array()
        .expect("changes")
        .iter()
        .map(|c| {
            (
                c["address"].as_str().expect("address").to_string(),
                c["action"].as_str().expect("action").to_string(),
            )
        })
        .collect()
}

/// Applies the example and checks it worked.
fn apply(dir: &Path, emu: &EmulatorProcess) {
    let out = m3ter(dir, emu, &["apply", "--auto-approve"]);
    assert!(out.status.success(), "{}", text(&out));
}

/// Requests the org saw that change something (POST/PUT/DELETE under
/// `/organizations`).
fn writes(emu: &EmulatorProcess) -> u64 {
    emu.stats()["requests"]
        .as_object()
        .expect("requests")
        .iter()
        .filter(|(route, _)| route.contains("/organizations/") && !route.starts_with("GET "))
        .map(|(_, n)| n.as_u64().unwrap_or(0))
        .sum()
}

/// Requests to the org of any method.
fn org_requests(emu: &EmulatorProcess) -> u64 {
    emu.stats()["requests"]
        .as_object()
        .expect("requests")
        .iter()
        .filter(|(route, _)| route.contains("/organizations/"))
        .map(|(_, n)| n.as_u64().unwrap_or(0))
        .sum()
}

/// POSTs `body` to a collection with a plain API client and returns the id.
fn create(emu: &EmulatorProcess, collection: &str, body: Value) -> String {
    let (status, v) = emu.api("POST", collection, Some(body));
    assert_eq!(status, 200, "POST {collection}: {v}");
    v["id"].as_str().expect("id").to_string()
}

/// Builds the seed billing setup the way another client would: direct API
/// calls with UUIDs, full timestamps and numbers written differently from
/// the desired state (which must not count as a difference).
fn seed_by_hand(emu: &EmulatorProcess) {
    let product = create(
        emu,
        "products",
        json!({"code": "aws_lambda_api_6", "name": "AWS Lambda API 6"}),
    );
    let meter = create(
        emu,
        "meters",
        json!({
            "code": "compute_and_requests_meter_api_6",
            "name": "Compute and Requests Meter API 6",
            "productId": product,
            "dataFields": [
                {"code": "memory_consumption_api_6", "name": "Memory Consumption API 6",
                 "category": "MEASURE", "unit": "GB"},
                {"code": "execution_time_api_6", "name": "Execution Time API 6",
                 "category": "MEASURE", "unit": "seconds"}
            ],
            "derivedFields": [
                {"code": "duration_api_6", "name": "Duration API 6", "category": "MEASURE",
                 "unit": "GB-seconds",
                 "calculation": "memory_consumption_api_6*execution_time_api_6"}
            ]
        }),
    );
    let requests = create(
        emu,
        "aggregations",
        json!({
            "code": "total_number_of_requests_api_6", "name": "Total Number of Requests API 6",
            "meterId": meter, "targetField": "memory_consumption_api_6", "aggregation": "COUNT",
            "rounding": "NONE", "quantityPerUnit": 1e6, "unit": "Requests"
        }),
    );
    let duration = create(
        emu,
        "aggregations",
        json!({
            "code": "duration_aggregation_api_6", "name": "Duration Aggregation API 6",
            "meterId": meter, "targetField": "duration_api_6", "aggregation": "SUM",
            "rounding": "NONE", "quantityPerUnit": 1.0, "unit": "GB-seconds"
        }),
    );
    let template = create(
        emu,
        "plantemplates",
        json!({
            "code": "lambda_template_api_6", "name": "Lambda Template API 6",
            "productId": product, "currency": "USD", "standingCharge": 0,
            "billFrequency": "MONTHLY", "billFrequencyInterval": 1
        }),
    );
    let plan = create(
        emu,
        "plans",
        json!({"code": "lambda_plan_api_6", "name": "Lambda Plan API 6", "planTemplateId": template}),
    );
    create(
        emu,
        "pricings",
        json!({
            "planId": plan, "aggregationId": duration, "description": "Duration",
            "type": "DEBIT", "startDate": "2024-11-01T00:00:00.000Z", "cumulative": true,
            "tiersSpanPlan": false, "minimumSpend": 0,
            // Out of lowerLimit order: bands compare in lowerLimit order.
            "pricingBands": [
                {"lowerLimit": 15000000000u64, "fixedPrice": 0, "unitPrice": 0.00001466674},
                {"lowerLimit": 0, "fixedPrice": 0, "unitPrice": 0.00001833337},
                {"lowerLimit": 6.0e9, "fixedPrice": 0, "unitPrice": 0.0000165}
            ]
        }),
    );
    create(
        emu,
        "pricings",
        json!({
            "planId": plan, "aggregationId": requests, "description": "Requests",
            "type": "DEBIT", "startDate": "2024-11-01T00:00:00Z", "cumulative": true,
            "tiersSpanPlan": false, "minimumSpend": 0.0,
            "pricingBands": [{"lowerLimit": 0, "fixedPrice": 0, "unitPrice": 0.22}]
        }),
    );
    for (code, name) in [
        ("mickey_mouse_inc_api_6", "Mickey Mouse Inc API 6"),
        ("donald_duck_ltd_api_6", "Donald Duck Ltd API 6"),
        ("pluto_llp_api_6", "Pluto LLP API 6"),
    ] {
        let account = create(
            emu,
            "accounts",
            json!({
                "code": code, "name": name, "emailAddress": "billing@yakupdemo.com",
                "address": {"addressLine1": "1235 E Higgins Rd", "locality": "Schaumburg",
                            "region": "IL", "postCode": "60007", "country": "US"}
            }),
        );
        create(
            emu,
            "accountplans",
            json!({
                "accountId": account, "planId": plan, "startDate": "2024-12-01T00:00:00Z",
                "childBillingMode": "PARENT_BREAKDOWN"
            }),
        );
    }
}

/// Replaces text in a file of the workspace's desired state.
fn edit(dir: &Path, file: &str, from: &str, to: &str) {
    let path = dir.join("desired-state").join(file);
    let s = std::fs::read_to_string(&path).expect("read");
    assert!(s.contains(from), "{from:?} not in {file}");
    std::fs::write(&path, s.replacen(from, to, 1)).expect("write");
}

#[test]
fn plan_on_an_empty_org_creates_everything_and_changes_nothing() {
    let emu = EmulatorProcess::start(&[]);
    let dir = workspace();

    let out = m3ter(dir.path(), &emu, &["plan", "--detailed-exitcode"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    let s = stdout(&out);
    assert_eq!(s.matches(" will be created").count(), 14, "{s}");
    assert!(
        s.contains("Plan: 0 to import, 14 to add, 0 to change, 0 to destroy."),
        "{s}"
    );
    assert!(!s.contains("changed outside m3ter-reconcile"), "{s}");

    // Without --detailed-exitcode a plan with actions is still a success.
    let out = m3ter(dir.path(), &emu, &["plan"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));

    let plan = plan_json(dir.path(), &emu, &[]);
    assert_eq!(
        plan["summary"],
        json!({"import": 0, "add": 14, "change": 0, "destroy": 0})
    );
    assert!(json_actions(&plan).iter().all(|(_, a)| a == "create"));

    // Planning is read-only: only lists reached the org, and no state file
    // was written.
    assert_eq!(writes(&emu), 0);
    assert!(!state_file(dir.path()).exists());
}

#[test]
fn entities_made_by_another_client_are_imported_not_duplicated() {
    let emu = EmulatorProcess::start(&["--strict"]);
    seed_by_hand(&emu);
    let dir = workspace();

    let out = m3ter(dir.path(), &emu, &["plan", "--detailed-exitcode"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    let s = stdout(&out);
    assert_eq!(s.matches(" will be imported\n").count(), 14, "{s}");
    assert!(!s.contains("will be created"), "{s}");
    assert!(!s.contains("updated in-place"), "{s}");
    assert!(
        s.contains("Plan: 14 to import, 0 to add, 0 to change, 0 to destroy."),
        "{s}"
    );
    let plan = plan_json(dir.path(), &emu, &[]);
    assert!(
        json_actions(&plan).iter().all(|(_, a)| a == "import"),
        "{plan}"
    );

    let out = m3ter(dir.path(), &emu, &["apply", "--auto-approve"]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        stdout(&out).contains("Apply complete! 14 imported, 0 added, 0 changed, 0 destroyed."),
        "{}",
        text(&out)
    );

    // One live entity per desired one, codes unique.
    let expected = BTreeMap::from([
        ("products", 1),
        ("meters", 1),
        ("aggregations", 2),
        ("plantemplates", 1),
        ("plans", 1),
        ("pricings", 2),
        ("accounts", 3),
        ("accountplans", 3),
    ]);
    for collection in COLLECTIONS.iter() {
        let n = expected.get(collection).copied().unwrap_or(0);
        let all = emu.list_all(collection);
        assert_eq!(all.len(), n, "{collection}: {all:?}");
        let mut codes: Vec<&str> = all.iter().filter_map(|e| e["code"].as_str()).collect();
        codes.sort_unstable();
        codes.dedup();
        if collection != &"pricings" && collection != &"accountplans" {
            assert_eq!(codes.len(), n, "{collection}");
        }
    }

    let state: Value =
        serde_json::from_str(&std::fs::read_to_string(state_file(dir.path())).expect("state"))
            .expect("state json");
    let resources = state["resources"].as_object().expect("resources");
    assert_eq!(resources.len(), 14);
    assert!(resources.values().all(|r| r["adopted"] == json!(true)));

    let out = m3ter(dir.path(), &emu, &["plan", "--detailed-exitcode"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(stdout(&out).contains("No changes. The org matches the desired state."));
}

#[test]
fn drift_after_an_out_of_band_put_is_reported_and_refresh_accepts_it() {
    let emu = EmulatorProcess::start(&[]);
    let dir = workspace();
    apply(dir.path(), &emu);

    // No drift yet: a refresh-only plan has nothing to record, and refresh
    // agrees (server-written band ids and number formats are no change).
    let out = m3ter(
        dir.path(),
        &emu,
        &["plan", "--refresh-only", "--detailed-exitcode"],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let state_before = std::fs::read_to_string(state_file(dir.path())).expect("state");
    let out = m3ter(dir.path(), &emu, &["refresh"]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        stdout(&out).contains(
            "Refresh complete: 14 in state, 0 updated, 0 removed, 14 unchanged (14 live entities read)."
        ),
        "{}",
        text(&out)
    );
    assert_eq!(
        std::fs::read_to_string(state_file(dir.path())).expect("state"),
        state_before,
        "a refresh that changes nothing does not write"
    );

    let product = &emu.list_all("products")[0];
    let id = product["id"].as_str().expect("id");
    let (status, v) = emu.api(
        "PUT",
        &format!("products/{id}"),
        Some(json!({"code": "aws_lambda_api_6", "name": "Renamed by hand", "version": product["version"]})),
    );
    assert_eq!(status, 200, "{v}");

    let out = m3ter(dir.path(), &emu, &["plan", "--detailed-exitcode"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    let s = stdout(&out);
    let (drift, actions) = s
        .split_once("m3ter-reconcile will perform the following actions:")
        .unwrap_or_else(|| panic!("no actions section: {s}"));
    assert!(
        drift.contains("Objects have changed outside m3ter-reconcile:"),
        "{s}"
    );
    assert!(drift.contains(&format!("# {PRODUCT} has changed")), "{s}");
    assert!(
        drift.contains(r#"~ name = "AWS Lambda API 6" -> "Renamed by hand""#),
        "{s}"
    );
    assert!(
        actions.contains(&format!("# {PRODUCT} will be updated in-place")),
        "{s}"
    );
    assert!(
        actions.contains(r#"~ name = "Renamed by hand" -> "AWS Lambda API 6""#),
        "{s}"
    );
    assert!(s.contains("Plan: 0 to import, 0 to add, 1 to change, 0 to destroy."));

    let plan = plan_json(dir.path(), &emu, &[]);
    assert_eq!(
        plan["drift"],
        json!([{
            "address": PRODUCT,
            "before": {"name": "AWS Lambda API 6"},
            "after": {"name": "Renamed by hand"}
        }])
    );
    assert_eq!(
        json_actions(&plan),
        vec![(PRODUCT.to_string(), "update".to_string())]
    );

    // --refresh-only: only the drift section, exit 2 while state would change.
    let out = m3ter(
        dir.path(),
        &emu,
        &["plan", "--refresh-only", "--detailed-exitcode"],
    );
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(!stdout(&out).contains("will be updated"), "{}", text(&out));
    assert!(stdout(&out).contains("# product.aws_lambda_api_6 has changed"));

    let out = m3ter(dir.path(), &emu, &["refresh"]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        stdout(&out).contains(&format!("~ {PRODUCT}: live values accepted")),
        "{}",
        text(&out)
    );

    // The drift is now in state: refresh-only has nothing left, but the
    // desired name still differs from the live one.
    let out = m3ter(
        dir.path(),
        &emu,
        &["plan", "--refresh-only", "--detailed-exitcode"],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let plan = plan_json(dir.path(), &emu, &[]);
    assert_eq!(plan["drift"], json!([]));
    assert_eq!(plan["summary"]["change"], 1);
    assert_eq!(writes(&emu), 14 + 1, "plan and refresh write nothing");
}

/// `(address, action)` of the action headers of a human plan, in order.
fn text_actions(s: &str) -> Vec<(String, String)> {
    let Some((_, actions)) = s.split_once("will perform the following actions:") else {
        return Vec::new();
    };
    let verbs = [
        ("will be created", "create"),
        ("will be imported and updated in-place", "import"),
        ("will be imported", "import"),
        ("will be updated in-place", "update"),
        ("must be replaced", "replace"),
        ("will be destroyed", "delete"),
    ];
    actions
        .lines()
        .filter_map(|line| line.trim_start().strip_prefix("# "))
        .filter_map(|rest| {
            let (addr, verb) = rest.split_once(' ')?;
            let action = verbs.iter().find(|(v, _)| verb.starts_with(v))?.1;
            Some((addr.to_string(), action.to_string()))
        })
        .collect()
}

/// The four numbers of the summary line of a human plan.
fn text_summary(s: &str) -> Value {
    let line = s
        .lines()
        .find(|l| l.starts_with("Plan: "))
        .unwrap_or_else(|| panic!("no summary: {s}"));
    let n: Vec<u64> = line
        .split(|c: char| !c.is_ascii_digit())
        .filter(|w| !w.is_empty())
        .map(|w| w.parse().expect("number"))
        .collect();
    json!({"import": n[0], "add": n[1], "change": n[2], "destroy": n[3]})
}

#[test]
fn json_plan_matches_the_text_plan_and_a_saved_plan_shows_the_same() {
    let emu = EmulatorProcess::start(&[]);
    let dir = workspace();
    apply(dir.path(), &emu);

    // One of each: an update (desired edit), drift plus update (out-of-band
    // PUT), two deletes (an account and its account plan leave the desired
    // state), a create (a new product) and an import (dropped from state).
    edit(
        dir.path(),
        "pricing.yaml",
        "name: Lambda Plan ${var.suffix_title}",
        "name: Lambda Plan ${var.suffix_title} v2",
    );
    let meter = &emu.list_all("meters")[0];
    let mut body = meter.clone();
    let obj = body.as_object_mut().expect("object");
    for k in [
        "id",
        "dtCreated",
        "dtLastModified",
        "createdBy",
        "lastModifiedBy",
    ] {
        obj.remove(k);
    }
    obj.insert("name".into(), json!("Meter renamed by hand"));
    let (status, v) = emu.api(
        "PUT",
        &format!("meters/{}", meter["id"].as_str().expect("id")),
        Some(body),
    );
    assert_eq!(status, 200, "{v}");
    let accounts =
        std::fs::read_to_string(dir.path().join("desired-state/accounts.yaml")).expect("accounts");
    let without_pluto: String = accounts
        .split("\n\n")
        .filter(|block| !block.contains("pluto_llp"))
        .collect::<Vec<_>>()
        .join("\n\n");
    std::fs::write(
        dir.path().join("desired-state/accounts.yaml"),
        without_pluto,
    )
    .expect("write");
    std::fs::write(
        dir.path().join("desired-state/extra.yml"),
        "products:\n  - code: extra_product\n    name: Extra product\n",
    )
    .expect("write");
    let out = m3ter(
        dir.path(),
        &emu,
        &["state", "rm", "account.donald_duck_ltd_api_6"],
    );
    assert!(out.status.success(), "{}", text(&out));

    let plan_file = dir.path().join("tfplan.json");
    let out = m3ter(
        dir.path(),
        &emu,
        &[
            "plan",
            "-o",
            plan_file.to_str().expect("utf-8"),
            "--detailed-exitcode",
        ],
    );
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    let human = stdout(&out);
    assert!(
        human.contains(&format!(
            "Saved the plan to {}. Apply exactly it with `m3ter apply {}`.",
            plan_file.display(),
            plan_file.display()
        )),
        "{human}"
    );
    let json_plan = plan_json(dir.path(), &emu, &[]);

    let mut from_text = text_actions(&human);
    let mut from_json = json_actions(&json_plan);
    from_text.sort();
    from_json.sort();
    assert_eq!(from_text, from_json, "{human}\n{json_plan}");
    let expected: BTreeMap<&str, &str> = [
        ("product.extra_product", "create"),
        (PLAN, "update"),
        ("meter.compute_and_requests_meter_api_6", "update"),
        (PLUTO, "delete"),
        (
            "accountPlan.pluto_llp_api_6/lambda_plan_api_6@2024-12-01",
            "delete",
        ),
        ("account.donald_duck_ltd_api_6", "import"),
    ]
    .into_iter()
    .collect();
    let got: BTreeMap<&str, &str> = from_json
        .iter()
        .map(|(a, b)| (a.as_str(), b.as_str()))
        .collect();
    assert_eq!(got, expected);
    assert_eq!(text_summary(&human), json_plan["summary"]);
    assert_eq!(
        json_plan["summary"],
        json!({"import": 1, "add": 1, "change": 2, "destroy": 2})
    );
    assert_eq!(
        json_plan["drift"][0]["address"],
        "meter.compute_and_requests_meter_api_6"
    );

    // `show FILE` renders the saved plan as `plan` printed it, and
    // `show --json FILE` as `plan --json` does.
    let out = m3ter(
        dir.path(),
        &emu,
        &["show", plan_file.to_str().expect("utf-8")],
    );
    assert!(out.status.success(), "{}", text(&out));
    let (printed, _) = human.split_once("\nSaved the plan to").expect("saved line");
    assert_eq!(stdout(&out).trim_end(), printed.trim_end());
    let out = m3ter(
        dir.path(),
        &emu,
        &["show", "--json", plan_file.to_str().expect("utf-8")],
    );
    assert!(out.status.success(), "{}", text(&out));
    let shown: Value = serde_json::from_slice(&out.stdout).expect("show --json");
    assert_eq!(shown, json_plan);

    // `--json -o FILE`: stdout stays one JSON document; the file is saved.
    let second = dir.path().join("second.json");
    let out = m3ter(
        dir.path(),
        &emu,
        &["plan", "--json", "-o", second.to_str().expect("utf-8")],
    );
    assert!(out.status.success(), "{}", text(&out));
    let doc: Value = serde_json::from_slice(&out.stdout).expect("one JSON document");
    assert_eq!(doc, json_plan);
    let out = m3ter(
        dir.path(),
        &emu,
        &["show", "--json", second.to_str().expect("utf-8")],
    );
    assert_eq!(
        serde_json::from_slice::<Value>(&out.stdout).expect("show --json"),
        json_plan
    );
}

#[test]
fn target_limits_the_plan_to_the_target_and_its_dependencies() {
    let emu = EmulatorProcess::start(&[]);
    let dir = workspace();

    let plan = plan_json(dir.path(), &emu, &["--target", PLAN]);
    let mut got: Vec<String> = json_actions(&plan).into_iter().map(|(a, _)| a).collect();
    got.sort();
    assert_eq!(
        got,
        vec![
            PLAN.to_string(),
            "planTemplate.lambda_template_api_6".to_string(),
            PRODUCT.to_string(),
        ]
    );

    // Two targets: their closures are merged; the quoted form is accepted.
    let pricing = r#"pricing["lambda_plan_api_6/total_number_of_requests_api_6@2024-11-01"]"#;
    let plan = plan_json(dir.path(), &emu, &["--target", pricing, "--target", PLUTO]);
    let mut got: Vec<String> = json_actions(&plan).into_iter().map(|(a, _)| a).collect();
    got.sort();
    assert_eq!(
        got,
        vec![
            PLUTO,
            "aggregation.total_number_of_requests_api_6",
            "meter.compute_and_requests_meter_api_6",
            PLAN,
            "planTemplate.lambda_template_api_6",
            "pricing.lambda_plan_api_6/total_number_of_requests_api_6@2024-11-01",
            PRODUCT,
        ]
    );
    assert_eq!(plan["summary"]["add"], 7);

    // A bad target is reported without waiting for the (here slow) org.
    let slow = EmulatorProcess::start(&["--latency-ms", NEVER_ANSWERS]);
    let out = m3ter(dir.path(), &slow, &["plan", "--target", "plan.nope"]);
    assert_eq!(slow.stats()["answered"], 0, "plan waited for the org");
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        stderr(&out).contains("--target plan.nope: no such entity in the desired state"),
        "{}",
        text(&out)
    );
    let out = m3ter(dir.path(), &emu, &["plan", "--target", "nope.x"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        stderr(&out).contains("`nope` is not a kind"),
        "{}",
        text(&out)
    );
}

/// `--latency-ms` of an org that answers nothing while a test runs: a
/// command that exits with no request answered (`answered` in the stats)
/// did not wait for the org. (One that did would take this long to fail.)
const NEVER_ANSWERS: &str = "600000";

#[test]
fn hand_broken_copies_fail_with_file_line_and_column_without_waiting_for_the_org() {
    // The org answers slowly: plan reads it while the YAML loads, but a
    // desired-state error is reported as soon as it is known.
    let emu = EmulatorProcess::start(&["--latency-ms", NEVER_ANSWERS]);
    let cases: [(&str, &str, &str, &str); 3] = [
        (
            "pricing.yaml",
            "billFrequency: MONTHLY",
            "billFrequency: MONTHLYY",
            "pricing.yaml:9:20: planTemplate: `billFrequency` must be one of",
        ),
        (
            "accounts.yaml",
            "  - account: pluto_llp_${var.suffix}",
            "  - account: pluto_lp_${var.suffix}",
            "accounts.yaml:38:14: `account` refers to account.pluto_lp_api_6, which is not in \
             the desired state; did you mean `pluto_llp_api_6`?",
        ),
        (
            "product.yaml",
            "    name: AWS Lambda ${var.suffix_title}",
            "    name: AWS Lambda ${var.sufix_title}",
            "product.yaml:17:11: undefined variable `sufix_title`; did you mean `suffix_title`?",
        ),
    ];
    for (file, from, to, needle) in cases {
        let dir = workspace();
        edit(dir.path(), file, from, to);
        for cmd in [&["validate"][..], &["plan", "--detailed-exitcode"][..]] {
            let out = m3ter(dir.path(), &emu, cmd);
            assert_eq!(emu.stats()["answered"], 0, "{cmd:?} waited for the org");
            assert_eq!(out.status.code(), Some(1), "{cmd:?} {}", text(&out));
            let err = stderr(&out);
            assert!(
                err.contains(&format!("desired-state/{needle}")),
                "{cmd:?} {needle}: {err}"
            );
            assert!(err.contains("The desired state is not valid"), "{err}");
            assert!(!err.contains("panicked"), "{err}");
            assert_eq!(stdout(&out), "", "{cmd:?}");
        }
    }
    // Without credentials too, the desired-state error is what is reported.
    let dir = workspace();
    edit(
        dir.path(),
        "pricing.yaml",
        "billFrequency: MONTHLY",
        "billFrequency: X",
    );
    let out = m3ter_cmd(dir.path(), &emu, &["plan"])
        .env_remove("M3TER_API_KEY")
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        stderr(&out).contains("desired-state/pricing.yaml:9:20:"),
        "{}",
        text(&out)
    );
    assert!(!stderr(&out).contains("M3TER_API_KEY"), "{}", text(&out));
}

#[test]
fn a_corrupt_foreign_or_newer_state_file_is_refused() {
    let emu = EmulatorProcess::start(&[]);
    let dir = workspace();
    apply(dir.path(), &emu);
    let path = state_file(dir.path());
    let good = std::fs::read_to_string(&path).expect("state");
    let parsed: Value = serde_json::from_str(&good).expect("json");

    let mut foreign = parsed.clone();
    foreign["orgId"] = json!("11111111-0000-4000-8000-000000000001");
    let mut newer = parsed.clone();
    newer["formatVersion"] = json!(2);
    let cases = [
        (good[..good.len() / 2].to_string(), "is corrupt".to_string()),
        (
            foreign.to_string(),
            format!("belongs to org 11111111-0000-4000-8000-000000000001, not {ORG}"),
        ),
        (
            newer.to_string(),
            "has formatVersion 2, but this m3ter understands only 1".to_string(),
        ),
    ];
    for (content, needle) in cases {
        std::fs::write(&path, &content).expect("write");
        for cmd in ["plan", "refresh"] {
            let out = m3ter(dir.path(), &emu, &[cmd]);
            assert_eq!(out.status.code(), Some(1), "{cmd}: {}", text(&out));
            let err = stderr(&out);
            assert!(err.contains(&needle), "{cmd}: {needle}: {err}");
            assert!(err.contains(&format!("{ORG}.json")), "{err}");
            assert!(!err.contains("panicked"), "{err}");
        }
        // With --json the same message is one error document on stdout.
        let out = m3ter(dir.path(), &emu, &["plan", "--json"]);
        assert_eq!(out.status.code(), Some(1), "{}", text(&out));
        let doc: Value = serde_json::from_slice(&out.stdout).expect("one JSON document");
        let message = doc["error"]["message"].as_str().unwrap_or_default();
        assert!(message.contains(&needle), "{doc}");
        // The refused file is left as it was.
        assert_eq!(std::fs::read_to_string(&path).expect("state"), content);
    }
}

#[test]
fn a_held_lock_stops_refresh_but_not_plan() {
    let emu = EmulatorProcess::start(&[]);
    let dir = workspace();
    apply(dir.path(), &emu);
    let path = state_file(dir.path());
    let lock = m3ter_reconcile::state::StateLock::acquire(&path, "m3ter apply").expect("lock");

    let out = m3ter(dir.path(), &emu, &["refresh"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let err = stderr(&out);
    assert!(
        err.contains(&format!(
            "state is locked by pid {} on host",
            std::process::id()
        )),
        "{err}"
    );
    assert!(err.contains("(m3ter apply)"), "{err}");
    for cmd in [&["import", PLUTO, "x"][..], &["state", "rm", PLUTO][..]] {
        let out = m3ter(dir.path(), &emu, cmd);
        assert_eq!(out.status.code(), Some(1), "{cmd:?} {}", text(&out));
        assert!(
            stderr(&out).contains("state is locked by pid"),
            "{}",
            text(&out)
        );
    }

    // plan takes no lock.
    let out = m3ter(dir.path(), &emu, &["plan", "--detailed-exitcode"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));

    drop(lock);
    let out = m3ter(dir.path(), &emu, &["refresh"]);
    assert!(out.status.success(), "{}", text(&out));
}

#[test]
fn import_state_list_show_and_rm() {
    let emu = EmulatorProcess::start(&[]);
    let dir = workspace();
    apply(dir.path(), &emu);

    let out = m3ter(dir.path(), &emu, &["state", "list"]);
    assert!(out.status.success(), "{}", text(&out));
    let listed: Vec<String> = stdout(&out).lines().map(str::to_string).collect();
    assert_eq!(listed.len(), 14, "{listed:?}");
    assert!(listed.contains(&PLUTO.to_string()));

    // `show` without a plan lists the org's state file (M3TER_ORG_ID).
    let out = m3ter(dir.path(), &emu, &["show"]);
    assert!(out.status.success(), "{}", text(&out));
    let listing = stdout(&out);
    assert!(
        listing.starts_with(&format!(
            "# state/{ORG}.json: org {ORG}, serial {}, 14 managed entities\n",
            serde_json::from_str::<Value>(
                &std::fs::read_to_string(state_file(dir.path())).expect("state")
            )
            .expect("json")["serial"]
        )),
        "{listing}"
    );
    assert_eq!(listing.lines().count(), 15, "{listing}");

    let out = m3ter(dir.path(), &emu, &["state", "show", PLUTO]);
    assert!(out.status.success(), "{}", text(&out));
    let shown: Value = serde_json::from_slice(&out.stdout).expect("state show json");
    let pluto = emu
        .list_all("accounts")
        .into_iter()
        .find(|a| a["code"] == "pluto_llp_api_6")
        .expect("pluto");
    let id = pluto["id"].as_str().expect("id").to_string();
    assert_eq!(shown["address"], PLUTO);
    assert_eq!(shown["id"], id.as_str());
    assert_eq!(shown["adopted"], false);
    assert_eq!(shown["applied"]["name"], "Pluto LLP API 6");

    let out = m3ter(dir.path(), &emu, &["state", "rm", PLUTO]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(stdout(&out).contains(&format!("Removed {PLUTO} (id {id})")));
    // Left alone in the org; the next plan adopts it back.
    assert_eq!(emu.list_all("accounts").len(), 3);
    let plan = plan_json(dir.path(), &emu, &[]);
    assert_eq!(
        json_actions(&plan),
        vec![(PLUTO.to_string(), "import".to_string())]
    );

    let out = m3ter(dir.path(), &emu, &["import", PLUTO, &id]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        stdout(&out).contains(&format!("Imported {PLUTO} (id {id}, version 1).")),
        "{}",
        text(&out)
    );
    let out = m3ter(dir.path(), &emu, &["plan", "--detailed-exitcode"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let out = m3ter(dir.path(), &emu, &["state", "show", PLUTO]);
    let shown: Value = serde_json::from_slice(&out.stdout).expect("state show json");
    assert_eq!(shown["adopted"], true);
    assert_eq!(shown["id"], id.as_str());

    // Unknown addresses are errors naming the address.
    for cmd in [
        &["state", "show", "account.nope"][..],
        &["state", "rm", "account.nope"][..],
    ] {
        let out = m3ter(dir.path(), &emu, cmd);
        assert_eq!(out.status.code(), Some(1), "{cmd:?} {}", text(&out));
        assert!(stderr(&out).contains("account.nope"), "{}", text(&out));
    }
    assert_eq!(emu.list_all("accounts").len(), 3);
}

#[test]
fn commands_without_credentials_or_local_name_what_to_set() {
    let emu = EmulatorProcess::start(&[]);
    let dir = workspace();
    for cmd in [&["plan"][..], &["refresh"][..], &["import", PLUTO, "x"][..]] {
        let out = m3ter_cmd(dir.path(), &emu, cmd)
            .env_remove("M3TER_ORG_ID")
            .env_remove("M3TER_API_KEY")
            .env_remove("M3TER_API_SECRET")
            .output()
            .expect("runs");
        assert_eq!(out.status.code(), Some(1), "{cmd:?} {}", text(&out));
        let err = stderr(&out);
        for needle in [
            "M3TER_ORG_ID",
            "M3TER_API_KEY",
            "M3TER_API_SECRET",
            "--local",
        ] {
            assert!(err.contains(needle), "{cmd:?} {needle}: {err}");
        }
    }
    assert_eq!(org_requests(&emu), 0);
}

#[test]
fn secrets_never_reach_the_output_even_at_vv() {
    let emu = EmulatorProcess::start(&[]);
    let dir = workspace();
    let token = emu.token();
    let mut runs = Vec::new();
    for args in [
        &["plan", "-vv"][..],
        &["apply", "--auto-approve", "-vv"][..],
        &["refresh", "-vv"][..],
        &["plan", "-vv", "--json"][..],
    ] {
        runs.push(m3ter(dir.path(), &emu, args));
    }
    // A pre-issued token, and a wrong secret (the error must not echo it).
    runs.push(
        m3ter_cmd(dir.path(), &emu, &["plan", "-vv", "--rate-limit", "0"])
            .env_remove("M3TER_API_KEY")
            .env_remove("M3TER_API_SECRET")
            .env("M3TER_API_TOKEN", &token)
            .output()
            .expect("runs"),
    );
    let wrong = m3ter_cmd(dir.path(), &emu, &["plan", "-vv", "--rate-limit", "0"])
        .env("M3TER_API_SECRET", "wrong-secret-9f8e7d")
        .output()
        .expect("runs");
    assert_eq!(wrong.status.code(), Some(1), "{}", text(&wrong));
    runs.push(wrong);

    for (i, out) in runs.iter().enumerate() {
        if i < 5 {
            assert!(out.status.success(), "run {i}: {}", text(out));
        }
        let all = text(out);
        assert!(all.contains("DEBUG"), "run {i} logs at -vv: {all}");
        for secret in [SECRET, "wrong-secret-9f8e7d", token.as_str()] {
            assert!(!all.contains(secret), "run {i} leaks a secret: {all}");
        }
    }
    let state = std::fs::read_to_string(state_file(dir.path())).expect("state");
    for secret in [SECRET, token.as_str()] {
        assert!(!state.contains(secret));
    }
}
