//! What a new user trips over (issue #8), through the real binary: hints
//! that run as printed, one state-file rule for every command, workspaces,
//! and the help texts.

use crate::common;

use std::io::Write;
use std::path::Path;

use common::cli::{ORG, copy_example, m3ter_bare, shell_bare, stderr, stdout, text};
use serde_json::{Value, json};

/// The first `` `m3ter ...` `` after `marker` in `text`, without the
/// backticks.
fn suggested(text: &str, marker: &str) -> String {
    let at = text
        .find(marker)
        .unwrap_or_else(|| panic!("{marker:?} not in {text}"));
    let rest = &text[at..];
    let start = rest
        .find("`m3ter")
        .unwrap_or_else(|| panic!("no suggested command after {marker:?} in {text}"))
        + 1;
    let len = rest[start..].find('`').expect("closing backtick");
    rest[start..start + len].to_string()
}

/// Runs `m3ter ARGS` and asserts exit 0.
fn ok(dir: &Path, args: &[&str]) -> std::process::Output {
    let out = m3ter_bare(dir, args);
    assert!(out.status.success(), "m3ter {args:?}: {}", text(&out));
    out
}

#[test]
fn the_saved_plan_and_stale_plan_hints_run_as_printed() {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    copy_example(d);
    let out = ok(
        d,
        &[
            "plan",
            "--local",
            "--state",
            "my state.json",
            "--var",
            "suffix_title=API 7",
            "-o",
            "p.json",
        ],
    );
    let apply = suggested(&stdout(&out), "Apply exactly it with");
    assert_eq!(
        apply,
        "m3ter apply p.json --local --state 'my state.json' --var 'suffix_title=API 7'"
    );
    let out = shell_bare(d, &apply);
    assert!(out.status.success(), "{apply}: {}", text(&out));
    assert!(
        stdout(&out).contains("Apply complete! 0 imported, 14 added, 0 changed, 0 destroyed."),
        "{}",
        text(&out)
    );
    assert!(d.join("my state.json").is_file());

    // Applied once: the plan is stale now, and the error says how to make
    // a new one, for the same org, state and variables.
    let out = shell_bare(d, &apply);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let replan = suggested(&stderr(&out), "is stale");
    assert_eq!(
        replan,
        "m3ter plan -o p.json --local --state 'my state.json' --var 'suffix_title=API 7'"
    );
    let out = shell_bare(d, &replan);
    assert!(out.status.success(), "{replan}: {}", text(&out));
    assert!(
        stdout(&out).contains("No changes. The org matches the desired state."),
        "{}",
        text(&out)
    );
}

#[test]
fn the_lock_hint_from_the_state_library_names_the_same_state_file() {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    std::fs::create_dir_all(d.join("state")).expect("mkdir");
    let state = json!({"formatVersion": 1, "lineage": "l", "serial": 1, "orgId": ORG,
        "baseUrl": "http://127.0.0.1:1", "resources": {}});
    std::fs::write(d.join("state/local.w1.json"), state.to_string()).expect("state");
    // A lock held by a process on another machine.
    let mut lock = std::fs::File::options()
        .create(true)
        .truncate(true)
        .write(true)
        .open(d.join("state/local.w1.json.lock"))
        .expect("lock file");
    lock.try_lock().expect("lock");
    let holder = json!({"pid": 1, "host": "elsewhere", "since": "2025-01-01T00:00:00Z",
        "command": "m3ter apply"});
    lock.write_all(holder.to_string().as_bytes())
        .expect("holder");

    let out = m3ter_bare(
        d,
        &["state", "rm", "product.p", "--local", "--workspace", "w1"],
    );
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let unlock = suggested(&stderr(&out), "is locked");
    assert_eq!(unlock, "m3ter force-unlock --local --workspace w1");
    let out = shell_bare(d, &unlock);
    assert!(out.status.success(), "{unlock}: {}", text(&out));
    assert!(
        stdout(&out).contains("Removed the lock of pid 1 on host elsewhere"),
        "{}",
        text(&out)
    );
    drop(lock);
}

#[test]
fn every_command_finds_the_state_file_by_one_rule() {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    copy_example(d);
    ok(d, &["apply", "--local", "--auto-approve"]);

    // No flag: the only state file there is, for every command.
    let listed = stdout(&ok(d, &["state", "list"]));
    assert_eq!(listed.lines().count(), 14, "{listed}");
    assert_eq!(stdout(&ok(d, &["state", "list", "--local"])), listed);
    let shown = stdout(&ok(d, &["show", "--local"]));
    assert!(shown.starts_with("# state/local.json: org "), "{shown}");
    assert_eq!(stdout(&ok(d, &["show"])), shown);
    let one = stdout(&ok(
        d,
        &["state", "show", "--local", "product.aws_lambda_api_6"],
    ));
    let doc: Value = serde_json::from_str(&one).expect("JSON");
    assert_eq!(doc["address"], "product.aws_lambda_api_6");
    let out = ok(d, &["force-unlock"]);
    assert!(
        stdout(&out).contains("state/local.json is not locked"),
        "{}",
        text(&out)
    );

    // Two state files: which one is no longer obvious.
    std::fs::copy(
        d.join("state/local.json"),
        d.join(format!("state/{ORG}.json")),
    )
    .expect("copy");
    let out = m3ter_bare(d, &["state", "list"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        stderr(&out).contains(&format!(
            "which state file? state/ holds several: state/{ORG}.json, state/local.json; pass --state FILE, or --local for state/local.json, or --org-id ID (also M3TER_ORG_ID) for state/<org-id>.json"
        )),
        "{}",
        text(&out)
    );
    // An org id picks that org's file, the one plan and apply use for it,
    // whether it exists or not.
    assert_eq!(stdout(&ok(d, &["state", "list", "--org-id", ORG])), listed);
    let other = "00000000-0000-4000-8000-0000000000ff";
    let out = m3ter_bare(d, &["show", "--org-id", other]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        stderr(&out).contains(&format!("state file state/{other}.json does not exist")),
        "{}",
        text(&out)
    );
}

#[test]
fn a_new_suffix_warns_and_a_workspace_keeps_both_environments() {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    copy_example(d);
    ok(d, &["apply", "--local", "--auto-approve"]);
    let api_7 = ["--var", "suffix=api_7", "--var", "suffix_title=API 7"];

    let out = ok(d, &[&["plan", "--local"][..], &api_7].concat());
    assert!(
        stdout(&out).contains(
            "Warning: this plan deletes 14 entities last applied with suffix=api_6, suffix_title=API 6 (now api_7, API 7); to keep both environments, give each its own workspace: --workspace api_7"
        ),
        "{}",
        text(&out)
    );

    let in_ws = [&["--local", "--workspace", "api_7"][..], &api_7].concat();
    let out = ok(d, &[&["plan", "--json"][..], &in_ws].concat());
    let doc: Value = serde_json::from_slice(&out.stdout).expect("plan JSON");
    assert_eq!(
        doc["summary"],
        json!({"import": 0, "add": 14, "change": 0, "destroy": 0})
    );
    assert!(doc.get("warnings").is_none(), "{doc}");
    ok(d, &[&["apply", "--auto-approve"][..], &in_ws].concat());
    assert!(d.join("state/local.api_7.json").is_file());

    // Both environments are converged, each in its own state.
    for args in [
        vec!["plan", "--local", "--detailed-exitcode"],
        [&["plan", "--detailed-exitcode"][..], &in_ws].concat(),
    ] {
        let out = m3ter_bare(d, &args);
        assert_eq!(out.status.code(), Some(0), "{args:?}: {}", text(&out));
    }

    let out = m3ter_bare(d, &["plan", "--local", "--workspace", "api.7"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        stderr(&out).contains("--workspace `api.7` is not a workspace name"),
        "{}",
        text(&out)
    );
}

fn help(args: &[&str]) -> String {
    let dir = tempfile::tempdir().expect("tempdir");
    stdout(&ok(dir.path(), args))
}

#[test]
fn help_groups_the_options_and_offers_only_what_applies() {
    let plan = help(&["plan", "--help"]);
    let at = |s: &str| {
        plan.find(s)
            .unwrap_or_else(|| panic!("{s:?} not in {plan}"))
    };
    // The command's own options first, then one heading per group.
    assert!(at("--out <FILE>") < at("\nConnection:\n"), "{plan}");
    assert!(at("\nConnection:\n") < at("--org-id <ID>"), "{plan}");
    assert!(
        at("--rate-limit") < at("\nState and desired state:\n"),
        "{plan}"
    );
    assert!(
        at("\nState and desired state:\n") < at("--workspace <NAME>"),
        "{plan}"
    );
    assert!(at("\nOutput:\n") < at("--json"), "{plan}");
    assert!(plan.contains("[env: M3TER_ORG_ID]"), "{plan}");
    assert!(!plan.contains("=]"), "{plan}");

    for emulator in [help(&["emulator", "--help"]), help(&["help", "emulator"])] {
        assert!(emulator.contains("--listen <LISTEN>"), "{emulator}");
        for global in ["--dir", "--state", "--var", "--workspace", "--json"] {
            assert!(!emulator.contains(global), "{global} in {emulator}");
        }
    }

    let ingest = help(&["ingest", "--help"]);
    assert!(
        ingest.contains(
            "Usage: m3ter ingest [OPTIONS] --meter <CODE> --account <CODE>...\n       m3ter ingest [OPTIONS] --file <FILE>"
        ),
        "{ingest}"
    );
    let generate = ingest
        .find("Generate measurements (--meter and --account are required):")
        .expect("heading");
    assert!(ingest.find("\n      --meter <CODE>").expect("--meter") > generate);

    let state_show = help(&["state", "show", "--help"]);
    assert!(
        state_show.contains("<ADDRESS>  Address in state, e.g. product.aws_lambda_api_6"),
        "{state_show}"
    );
    assert!(
        help(&["state", "--help"]).contains("show  Show one entity's state"),
        "state --help"
    );
}

#[test]
fn graph_json_is_nodes_and_edges() {
    let dir = tempfile::tempdir().expect("tempdir");
    copy_example(dir.path());
    let out = ok(dir.path(), &["graph", "--json"]);
    let doc: Value = serde_json::from_slice(&out.stdout).expect("graph JSON");
    assert_eq!(doc["nodes"].as_array().map(Vec::len), Some(14), "{doc}");
    assert!(
        doc["nodes"]
            .as_array()
            .expect("nodes")
            .contains(&json!({"address": "product.aws_lambda_api_6"}))
    );
    let edges = doc["edges"].as_array().expect("edges");
    assert!(
        edges.contains(&json!({"from": "product.aws_lambda_api_6",
            "to": "meter.compute_and_requests_meter_api_6", "field": "productId"})),
        "{doc}"
    );
    let dot = stdout(&ok(dir.path(), &["graph"]));
    assert!(dot.starts_with("digraph m3ter {"), "{dot}");
    assert_eq!(
        dot.matches(" -> ").count(),
        edges.len(),
        "the same edges as the DOT"
    );
}
