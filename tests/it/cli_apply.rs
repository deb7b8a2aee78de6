//! `m3ter apply` and `m3ter destroy` end to end: credentials, confirmation,
//! saved plans, seed tasks 1–3, the safety rules, `--target`, `--json`.
//! Each test runs the real binary against its own emulator process.

use crate::common;

use std::path::Path;
use std::process::{Command, Output, Stdio};

use serde_json::{Value, json};

use common::apply::{census, count, posts, state_addresses, total};
use common::cli::{EmulatorProcess, bin, copy_example, m3ter, m3ter_cmd, stderr, stdout, text};

/// `apply --auto-approve --rate-limit 0 EXTRA...`.
fn apply(dir: &Path, emu: &EmulatorProcess, extra: &[&str]) -> Output {
    let args = [&["apply", "--auto-approve", "--rate-limit", "0"][..], extra].concat();
    m3ter(dir, emu, &args)
}

fn assert_ok(o: &Output) {
    assert!(o.status.success(), "{}", text(o));
}

/// Replaces `from` by `to` in a desired-state file; the text must be there.
fn edit(dir: &Path, file: &str, from: &str, to: &str) {
    let p = dir.join("desired-state").join(file);
    let t = std::fs::read_to_string(&p).expect("read yaml");
    assert!(t.contains(from), "{file} has no {from:?}");
    std::fs::write(&p, t.replacen(from, to, 1)).expect("write yaml");
}

/// The example (default suffix `api_6`), applied.
fn applied_example(dir: &Path, emu: &EmulatorProcess) {
    copy_example(dir);
    let out = apply(dir, emu, &[]);
    assert_ok(&out);
}

#[test]
fn no_credentials_and_no_local_names_what_to_set() {
    let dir = tempfile::tempdir().expect("tempdir");
    copy_example(dir.path());
    let mut cmd = Command::new(bin());
    cmd.current_dir(dir.path())
        .args(["apply", "--auto-approve"])
        .stdin(Stdio::null());
    for (k, _) in std::env::vars() {
        if k.starts_with("M3TER_") {
            cmd.env_remove(k);
        }
    }
    let out = cmd.output().expect("runs");
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let err = stderr(&out);
    for name in [
        "M3TER_ORG_ID",
        "M3TER_API_KEY",
        "M3TER_API_SECRET",
        "--local",
    ] {
        assert!(err.contains(name), "{name} not named:\n{err}");
    }
}

#[test]
fn bad_credentials_fail_without_printing_the_secret() {
    let emu = EmulatorProcess::start(&[]);
    let dir = tempfile::tempdir().expect("tempdir");
    copy_example(dir.path());
    let secret = "wr0ng-s3cret-zq9x";
    let out = m3ter_cmd(
        dir.path(),
        &emu,
        &["apply", "--auto-approve", "--rate-limit", "0"],
    )
    .env("M3TER_API_SECRET", secret)
    .output()
    .expect("runs");
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let all = text(&out);
    assert!(all.contains("authentication failed"), "{all}");
    assert!(!all.contains(secret), "the secret was printed:\n{all}");
    assert_eq!(posts(&emu), 0);
}

#[test]
fn without_a_tty_apply_refuses_unless_auto_approved() {
    let emu = EmulatorProcess::start(&["--strict"]);
    let dir = tempfile::tempdir().expect("tempdir");
    copy_example(dir.path());
    let out = m3ter(dir.path(), &emu, &["apply", "--rate-limit", "0"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(stderr(&out).contains("--auto-approve"), "{}", text(&out));
    // The plan was shown, nothing was created.
    assert!(stdout(&out).contains("14 to add"), "{}", text(&out));
    assert_eq!(posts(&emu), 0, "{}", emu.stats());
}

#[test]
fn a_stale_saved_plan_is_refused_and_a_fresh_one_applies_without_dir() {
    let emu = EmulatorProcess::start(&[]);
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    applied_example(d, &emu);
    edit(
        d,
        "product.yaml",
        "name: AWS Lambda ${var.suffix_title}",
        "name: AWS Lambda renamed",
    );
    let out = m3ter(d, &emu, &["plan", "-o", "stale.json", "--rate-limit", "0"]);
    assert_ok(&out);

    // Someone changes the product between plan and apply.
    let product = emu.by_code("products", "aws_lambda_api_6");
    let id = product["id"].as_str().expect("id");
    let (status, body) = emu.api(
        "PUT",
        &format!("products/{id}"),
        Some(json!({"code": "aws_lambda_api_6", "name": "Out of band",
                    "version": product["version"]})),
    );
    assert_eq!(status, 200, "{body}");
    let puts_before = count(&emu.stats(), "PUT /organizations");
    let out = m3ter(d, &emu, &["apply", "stale.json", "--rate-limit", "0"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let err = stderr(&out);
    assert!(
        err.contains("stale") && err.contains("product.aws_lambda_api_6"),
        "{}",
        text(&out)
    );
    assert_eq!(count(&emu.stats(), "PUT /organizations"), puts_before);

    // Two fresh plans of the same state; applying one moves the serial.
    for f in ["first.json", "second.json"] {
        let out = m3ter(d, &emu, &["plan", "-o", f, "--rate-limit", "0"]);
        assert_ok(&out);
    }
    // A saved plan needs no desired-state directory.
    std::fs::rename(d.join("desired-state"), d.join("moved-away")).expect("rename");
    let out = m3ter(d, &emu, &["apply", "first.json", "--rate-limit", "0"]);
    assert_ok(&out);
    assert!(
        stdout(&out).contains("Apply complete! 0 imported, 0 added, 1 changed, 0 destroyed."),
        "{}",
        text(&out)
    );
    assert_eq!(
        emu.by_code("products", "aws_lambda_api_6")["name"],
        "AWS Lambda renamed"
    );
    let out = m3ter(d, &emu, &["apply", "second.json", "--rate-limit", "0"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        stderr(&out).contains("the state has been written since the plan was made"),
        "{}",
        text(&out)
    );
    // A plan of another org is refused before any request.
    let total_before = emu.stats()["total"].as_u64();
    let other = "11111111-1111-4111-8111-111111111111";
    let out = m3ter_cmd(d, &emu, &["apply", "second.json", "--rate-limit", "0"])
        .env("M3TER_ORG_ID", other)
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        stderr(&out).contains(&format!("connected to org {other}")),
        "{}",
        text(&out)
    );
    // Only this stats call itself was counted since.
    assert_eq!(
        emu.stats()["total"].as_u64(),
        total_before.map(|t| t + 1),
        "requests were made"
    );
    // With a plan file, --target is refused.
    let out = m3ter(
        d,
        &emu,
        &[
            "apply",
            "first.json",
            "--target",
            "product.aws_lambda_api_6",
        ],
    );
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
}

#[test]
fn seed_tasks_end_to_end_with_a_fresh_suffix() {
    let emu = EmulatorProcess::start(&["--strict"]);
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    copy_example(d);
    let suffix = format!("t{}", std::process::id());
    let vars = [
        "--var",
        &format!("suffix={suffix}"),
        "--var",
        &format!("suffix_title=T {suffix}"),
    ]
    .map(str::to_string);
    let run = |args: &[&str]| {
        let mut all: Vec<&str> = args.to_vec();
        all.extend(vars.iter().map(String::as_str));
        all.extend(["--rate-limit", "0"]);
        m3ter(d, &emu, &all)
    };
    let out = run(&["apply", "--auto-approve"]);
    assert_ok(&out);
    assert!(
        stdout(&out).contains("Apply complete! 0 imported, 14 added, 0 changed, 0 destroyed."),
        "{}",
        text(&out)
    );
    let plan = run(&["plan", "--detailed-exitcode"]);
    assert_eq!(plan.status.code(), Some(0), "{}", text(&plan));
    let account = emu.by_code("accounts", &format!("mickey_mouse_inc_{suffix}"));
    assert_eq!(account["name"], format!("Mickey Mouse Inc T {suffix}"));

    // A changed unit price: exactly one update, old and new band shown.
    edit(d, "pricing.yaml", "unitPrice: 0.22}", "unitPrice: 0.25}");
    let plan = run(&["plan", "--detailed-exitcode"]);
    assert_eq!(plan.status.code(), Some(2), "{}", text(&plan));
    let p = stdout(&plan);
    assert!(
        p.contains("Plan: 0 to import, 0 to add, 1 to change, 0 to destroy."),
        "{p}"
    );
    let pricing =
        format!("pricing.lambda_plan_{suffix}/total_number_of_requests_{suffix}@2024-11-01");
    assert!(p.contains(&format!("~ {pricing}")), "{p}");
    assert!(
        p.contains("~ unitPrice  = 0.22 -> 0.25"),
        "the old and new band are not shown:\n{p}"
    );
    assert_eq!(p.matches(" will be updated in-place").count(), 1, "{p}");
    let out = run(&["apply", "--auto-approve"]);
    assert_ok(&out);
    assert!(
        stdout(&out).contains("Apply complete! 0 imported, 0 added, 1 changed, 0 destroyed."),
        "{}",
        text(&out)
    );
    let requests = emu
        .list_all("pricings")
        .into_iter()
        .find(|p| p["pricingBands"][0]["unitPrice"] == json!(0.25));
    assert!(requests.is_some(), "the new band is not live");
    let plan = run(&["plan", "--detailed-exitcode"]);
    assert_eq!(plan.status.code(), Some(0), "{}", text(&plan));

    // A removed account: its account plan goes first, then the account.
    edit(
        d,
        "accounts.yaml",
        "  - code: pluto_llp_${var.suffix}\n    name: Pluto LLP ${var.suffix_title}\n    emailAddress: billing@yakupdemo.com\n    address: *hq\n",
        "",
    );
    edit(
        d,
        "accounts.yaml",
        "  - account: pluto_llp_${var.suffix}\n    plan: lambda_plan_${var.suffix}\n    startDate: 2024-12-01\n    childBillingMode: PARENT_BREAKDOWN\n",
        "",
    );
    let out = run(&["apply", "--auto-approve"]);
    assert_ok(&out);
    let o = stdout(&out);
    assert!(
        o.contains("Apply complete! 0 imported, 0 added, 0 changed, 2 destroyed."),
        "{o}"
    );
    let plan_line = o
        .find(&format!(
            "accountPlan.pluto_llp_{suffix}/lambda_plan_{suffix}@2024-12-01: Destruction complete"
        ))
        .unwrap_or_else(|| panic!("no account plan deletion:\n{o}"));
    let account_line = o
        .find(&format!("account.pluto_llp_{suffix}: Destruction complete"))
        .unwrap_or_else(|| panic!("no account deletion:\n{o}"));
    assert!(plan_line < account_line, "wrong order:\n{o}");
    let accounts = emu.list_all("accounts");
    assert_eq!(accounts.len(), 2);
    assert!(
        accounts
            .iter()
            .all(|a| a["code"] != format!("pluto_llp_{suffix}"))
    );
    assert_eq!(emu.list_all("accountplans").len(), 2);
    assert_eq!(state_addresses(d).len(), 12);
    let plan = run(&["plan", "--detailed-exitcode"]);
    assert_eq!(plan.status.code(), Some(0), "{}", text(&plan));
}

#[test]
fn prevent_destroy_blocks_a_delete_and_destroy() {
    let emu = EmulatorProcess::start(&["--strict"]);
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    copy_example(d);
    edit(
        d,
        "accounts.yaml",
        "    name: Pluto LLP ${var.suffix_title}\n",
        "    name: Pluto LLP ${var.suffix_title}\n    lifecycle: {preventDestroy: true}\n",
    );
    assert_ok(&apply(d, &emu, &[]));
    let out = m3ter(d, &emu, &["destroy", "--auto-approve", "--rate-limit", "0"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        text(&out).contains("account.pluto_llp_api_6 has `lifecycle.preventDestroy: true`"),
        "{}",
        text(&out)
    );
    let stats = emu.stats();
    assert_eq!(count(&stats, "DELETE /organizations"), 0, "{stats}");
    assert_eq!(emu.list_all("accounts").len(), 3);
}

#[test]
fn ignore_changes_leaves_a_field_alone() {
    let emu = EmulatorProcess::start(&["--strict"]);
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    copy_example(d);
    edit(
        d,
        "product.yaml",
        "    name: AWS Lambda ${var.suffix_title}\n",
        "    name: AWS Lambda ${var.suffix_title}\n    lifecycle: {ignoreChanges: [name]}\n",
    );
    assert_ok(&apply(d, &emu, &[]));
    edit(
        d,
        "product.yaml",
        "name: AWS Lambda ${var.suffix_title}",
        "name: Renamed but ignored",
    );
    let plan = m3ter(d, &emu, &["plan", "--detailed-exitcode"]);
    assert_eq!(plan.status.code(), Some(0), "{}", text(&plan));
    let out = apply(d, &emu, &[]);
    assert_ok(&out);
    assert_eq!(count(&emu.stats(), "PUT /organizations"), 0);
    assert_eq!(
        emu.by_code("products", "aws_lambda_api_6")["name"],
        "AWS Lambda API 6"
    );
}

#[test]
fn mass_change_needs_force() {
    let emu = EmulatorProcess::start(&["--strict"]);
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    applied_example(d, &emu);
    // A new title renames most entities: far more than 30% of 14.
    let retitle = ["--var", "suffix_title=Renamed"];
    let out = apply(d, &emu, &retitle);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        stderr(&out).contains("--force") && stderr(&out).contains("of 14 managed entities"),
        "{}",
        text(&out)
    );
    assert_eq!(count(&emu.stats(), "PUT /organizations"), 0);
    let out = apply(d, &emu, &[&retitle[..], &["--force"]].concat());
    assert_ok(&out);
    let puts = count(&emu.stats(), "PUT /organizations");
    assert!(puts > 4, "{puts} updates");
    assert!(
        stdout(&out).contains(&format!("0 added, {puts} changed, 0 destroyed.")),
        "{}",
        text(&out)
    );
    assert_eq!(
        emu.by_code("products", "aws_lambda_api_6")["name"],
        "AWS Lambda Renamed"
    );
}

#[test]
fn target_applies_the_target_and_its_dependencies_only() {
    let emu = EmulatorProcess::start(&["--strict"]);
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    copy_example(d);
    let out = apply(d, &emu, &["--target", "plan.lambda_plan_api_6"]);
    assert_ok(&out);
    assert!(
        stdout(&out).contains("Apply complete! 0 imported, 3 added, 0 changed, 0 destroyed."),
        "{}",
        text(&out)
    );
    let (counts, _) = census(&emu);
    assert_eq!(counts["products"], 1);
    assert_eq!(counts["plantemplates"], 1);
    assert_eq!(counts["plans"], 1);
    assert_eq!(total(&counts), 3, "{counts:?}");
    let mut addrs = state_addresses(d);
    addrs.sort();
    assert_eq!(
        addrs,
        [
            "plan.lambda_plan_api_6",
            "planTemplate.lambda_template_api_6",
            "product.aws_lambda_api_6"
        ]
    );
}

#[test]
fn destroy_removes_managed_entities_only() {
    let emu = EmulatorProcess::start(&["--strict"]);
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    applied_example(d, &emu);
    let (status, v) = emu.api(
        "POST",
        "products",
        Some(json!({"code": "unmanaged_product", "name": "Not ours"})),
    );
    assert_eq!(status, 200, "{v}");
    let out = m3ter(d, &emu, &["destroy", "--rate-limit", "0"]);
    assert_eq!(out.status.code(), Some(1), "no TTY: {}", text(&out));
    let out = m3ter(d, &emu, &["destroy", "--auto-approve", "--rate-limit", "0"]);
    assert_ok(&out);
    assert!(
        stdout(&out).contains("0 added, 0 changed, 14 destroyed."),
        "{}",
        text(&out)
    );
    let (counts, _) = census(&emu);
    assert_eq!(total(&counts), 1, "{counts:?}");
    assert_eq!(emu.list_all("products")[0]["code"], "unmanaged_product");
    assert!(state_addresses(d).is_empty());
}

#[test]
fn a_delete_blocked_by_an_unmanaged_dependent_names_it() {
    let emu = EmulatorProcess::start(&["--strict"]);
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    applied_example(d, &emu);
    let template = emu.by_code("plantemplates", "lambda_template_api_6");
    let (status, v) = emu.api(
        "POST",
        "plans",
        Some(json!({"code": "unmanaged_plan", "name": "Not ours",
                    "planTemplateId": template["id"]})),
    );
    assert_eq!(status, 200, "{v}");
    let out = m3ter(d, &emu, &["destroy", "--auto-approve", "--rate-limit", "0"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let err = stderr(&out);
    assert!(
        err.contains("planTemplate.lambda_template_api_6") && err.contains("unmanaged_plan"),
        "{}",
        text(&out)
    );
    // The template and what it needs stay; the rest is gone.
    let (counts, _) = census(&emu);
    assert_eq!(counts["plantemplates"], 1);
    assert_eq!(counts["products"], 1);
    assert_eq!(counts["plans"], 1);
    assert_eq!(counts["accounts"], 0);
    let addrs = state_addresses(d);
    assert!(addrs.contains(&"planTemplate.lambda_template_api_6".to_string()));
    assert!(addrs.contains(&"product.aws_lambda_api_6".to_string()));
}

#[test]
fn json_apply_prints_json_lines_and_a_summary() {
    let emu = EmulatorProcess::start(&["--strict"]);
    let dir = tempfile::tempdir().expect("tempdir");
    copy_example(dir.path());
    let out = apply(dir.path(), &emu, &["--json"]);
    assert_ok(&out);
    let events: Vec<Value> = stdout(&out)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON: {l}: {e}")))
        .collect();
    let (summary, ops) = events.split_last().expect("some output");
    assert_eq!(summary["type"], "summary", "{summary}");
    assert_eq!(summary["added"], 14);
    assert_eq!(summary["complete"], true);
    // First the plan document, then one event per operation.
    assert_eq!(ops[0]["formatVersion"], 1, "{}", ops[0]);
    assert_eq!(ops[0]["summary"]["add"], 14, "{}", ops[0]);
    let operations: Vec<&Value> = ops.iter().filter(|e| e["type"] == "operation").collect();
    assert_eq!(operations.len(), 14);
    for e in operations {
        assert_eq!(e["action"], "create", "{e}");
        assert!(e["id"].is_string() && e["address"].is_string(), "{e}");
        assert!(e["duration"].is_number(), "{e}");
    }
}

#[test]
fn a_reader_that_goes_away_does_not_stop_the_apply() {
    use std::io::{BufRead, BufReader};
    let emu = EmulatorProcess::start(&["--strict", "--latency-ms", "30"]);
    let dir = tempfile::tempdir().expect("tempdir");
    copy_example(dir.path());
    let mut child = m3ter_cmd(
        dir.path(),
        &emu,
        &["apply", "--auto-approve", "--rate-limit", "0", "--json"],
    )
    .stdout(Stdio::piped())
    .stderr(Stdio::piped())
    .spawn()
    .expect("apply starts");
    // Read the plan document, then hang up (like `| head -1`).
    let mut first = String::new();
    BufReader::new(child.stdout.take().expect("stdout"))
        .read_line(&mut first)
        .expect("first line");
    assert!(first.contains("\"formatVersion\":1"), "{first}");
    let out = child.wait_with_output().expect("apply ends");
    assert_ok(&out);
    assert!(!stderr(&out).contains("panicked"), "{}", text(&out));
    let (counts, dups) = census(&emu);
    assert!(dups.is_empty(), "{dups:?}");
    assert_eq!(total(&counts), 14);
    assert_eq!(state_addresses(dir.path()).len(), 14);
}

/// `m3ter ARGS...` in `dir` with no M3TER_* variable at all (for `--local`).
fn m3ter_bare(dir: &Path, args: &[&str]) -> Output {
    let mut cmd = Command::new(bin());
    cmd.current_dir(dir).args(args).stdin(Stdio::null());
    for (k, _) in std::env::vars() {
        if k.starts_with("M3TER_") {
            cmd.env_remove(k);
        }
    }
    cmd.env("NO_COLOR", "1").output().expect("runs")
}

#[test]
fn local_apply_then_plan_needs_no_setup() {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    copy_example(d);
    let out = m3ter_bare(d, &["apply", "--local", "--auto-approve"]);
    assert_ok(&out);
    assert!(
        stdout(&out).contains("Apply complete! 0 imported, 14 added, 0 changed, 0 destroyed."),
        "{}",
        text(&out)
    );
    let plan = m3ter_bare(d, &["plan", "--local", "--detailed-exitcode"]);
    assert_eq!(plan.status.code(), Some(0), "{}", text(&plan));
    assert!(
        stdout(&plan).contains("No changes. The org matches the desired state."),
        "{}",
        text(&plan)
    );
    let state: Value = serde_json::from_str(
        &std::fs::read_to_string(d.join("state/local.json")).expect("state/local.json"),
    )
    .expect("state JSON");
    assert_eq!(state["resources"].as_object().map(|m| m.len()), Some(14));
    assert!(d.join("state/local-org.db").exists());
}

#[test]
fn replace_deletes_dependents_first_then_recreates_in_order() {
    let emu = EmulatorProcess::start(&["--strict"]);
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    copy_example(d);
    // A plan bespoke to an account (its `accountId` cannot change in place),
    // with no account plans attached (they would have to be that account's).
    let p = d.join("desired-state/accounts.yaml");
    let t = std::fs::read_to_string(&p).expect("read");
    let cut = t.find("accountPlans:").expect("accountPlans section");
    std::fs::write(&p, &t[..cut]).expect("write");
    edit(
        d,
        "pricing.yaml",
        "    planTemplate: lambda_template_${var.suffix}\n",
        "    planTemplate: lambda_template_${var.suffix}\n    account: mickey_mouse_inc_${var.suffix}\n",
    );
    assert_ok(&apply(d, &emu, &[]));
    let old_plan = emu.by_code("plans", "lambda_plan_api_6")["id"].clone();
    edit(
        d,
        "pricing.yaml",
        "    account: mickey_mouse_inc_${var.suffix}",
        "    account: donald_duck_ltd_${var.suffix}",
    );
    let out = apply(d, &emu, &["--force"]);
    assert_ok(&out);
    let o = stdout(&out);
    assert!(
        o.contains("Plan: 0 to import, 3 to add, 0 to change, 3 to destroy.")
            && o.contains("Apply complete! 0 imported, 3 added, 0 changed, 3 destroyed."),
        "{o}"
    );
    let at = |needle: &str| {
        o.find(needle)
            .unwrap_or_else(|| panic!("no {needle:?} in\n{o}"))
    };
    let pricing = "pricing.lambda_plan_api_6/duration_aggregation_api_6@2024-11-01";
    let pricing_gone = at(&format!("{pricing}: Destruction complete"));
    let plan_gone = at("plan.lambda_plan_api_6: Destruction complete");
    let plan_made = at("plan.lambda_plan_api_6: Creation complete");
    let pricing_made = at(&format!("{pricing}: Creation complete"));
    assert!(
        pricing_gone < plan_gone && plan_gone < plan_made && plan_made < pricing_made,
        "wrong order:\n{o}"
    );
    let plan = emu.by_code("plans", "lambda_plan_api_6");
    assert_ne!(plan["id"], old_plan);
    let donald = emu.by_code("accounts", "donald_duck_ltd_api_6");
    assert_eq!(plan["accountId"], donald["id"]);
    let (counts, dups) = census(&emu);
    assert!(dups.is_empty(), "{dups:?}");
    assert_eq!(counts["pricings"], 2);
    let plan = m3ter(d, &emu, &["plan", "--detailed-exitcode"]);
    assert_eq!(plan.status.code(), Some(0), "{}", text(&plan));
}

/// `apply` on a terminal (a pseudo-terminal from util-linux `script`),
/// answering `answer` to the confirmation prompt.
fn apply_on_a_tty(dir: &Path, emu: &EmulatorProcess, answer: &str) -> Output {
    let inner = format!("'{}' apply --rate-limit 0", bin().display());
    // The answer is typed once the prompt shows in script's log (flushed on
    // every write with -f), not after a guessed delay.
    let log = dir.join("tty.log");
    let _ = std::fs::remove_file(&log);
    let log = log.display();
    let outer = format!(
        "(i=0; until grep -q 'Enter a value' '{log}' 2>/dev/null || [ $i -ge 1200 ]; \
         do sleep 0.05; i=$((i+1)); done; echo {answer}) | script -qfec \"{inner}\" '{log}'"
    );
    let cmd = m3ter_cmd(dir, emu, &[]);
    let envs: Vec<(String, String)> = cmd
        .get_envs()
        .filter_map(|(k, v)| {
            Some((
                k.to_string_lossy().into_owned(),
                v?.to_string_lossy().into_owned(),
            ))
        })
        .collect();
    Command::new("sh")
        .args(["-c", &outer])
        .current_dir(dir)
        .envs(envs)
        .stdin(Stdio::null())
        .output()
        .expect("sh runs")
}

#[test]
fn on_a_terminal_apply_asks_and_only_yes_applies() {
    let emu = EmulatorProcess::start(&["--strict"]);
    let dir = tempfile::tempdir().expect("tempdir");
    copy_example(dir.path());
    let out = apply_on_a_tty(dir.path(), &emu, "no");
    let o = stdout(&out);
    assert!(o.contains("Only 'yes' will be accepted."), "{}", text(&out));
    assert!(o.contains("apply cancelled"), "{}", text(&out));
    assert_eq!(posts(&emu), 0);
    let out = apply_on_a_tty(dir.path(), &emu, "yes");
    assert!(
        stdout(&out).contains("Apply complete! 0 imported, 14 added, 0 changed, 0 destroyed."),
        "{}",
        text(&out)
    );
    assert_eq!(emu.list_all("accounts").len(), 3);
}

#[test]
fn json_errors_have_one_shape() {
    let emu = EmulatorProcess::start(&["--strict"]);
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    copy_example(d);
    // A failed run: one error document on stdout.
    let out = m3ter_cmd(
        d,
        &emu,
        &["apply", "--auto-approve", "--rate-limit", "0", "--json"],
    )
    .env("M3TER_API_SECRET", "not-the-secret")
    .output()
    .expect("runs");
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let line: Value = serde_json::from_str(stdout(&out).trim()).expect("one JSON line");
    let message = line["error"]["message"].as_str().expect("message");
    assert!(message.contains("authentication failed"), "{line}");
    assert!(!text(&out).contains("not-the-secret"));

    // A failed operation: its event carries the error with the address.
    assert_ok(&apply(d, &emu, &[]));
    let template = emu.by_code("plantemplates", "lambda_template_api_6");
    let (status, v) = emu.api(
        "POST",
        "plans",
        Some(json!({"code": "unmanaged_plan", "name": "Not ours",
                    "planTemplateId": template["id"]})),
    );
    assert_eq!(status, 200, "{v}");
    let out = m3ter(
        d,
        &emu,
        &["destroy", "--auto-approve", "--rate-limit", "0", "--json"],
    );
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let lines: Vec<Value> = stdout(&out)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON: {l}: {e}")))
        .collect();
    let failed: Vec<&Value> = lines.iter().filter(|l| l["error"].is_object()).collect();
    assert_eq!(failed.len(), 1, "{lines:?}");
    assert_eq!(
        failed[0]["error"]["address"],
        "planTemplate.lambda_template_api_6"
    );
    assert!(
        failed[0]["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("unmanaged_plan")),
        "{}",
        failed[0]
    );
    let summary = lines.last().expect("summary");
    assert_eq!(summary["type"], "summary");
    assert_eq!(summary["complete"], false);
    assert_eq!(summary["failed"], 1);
}
