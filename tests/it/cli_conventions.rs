//! The Terraform conventions users reach for (issue 9 §4), end to end
//! through the real binary against an emulator process: `--var-file`,
//! `moved:` and `state mv`, `--replace`, `plan --destroy`, `completions`.

use crate::common;

use std::path::Path;
use std::process::{Command, Output, Stdio};

use serde_json::Value;

use common::apply::{read_state, state_addresses};
use common::cli::{EmulatorProcess, bin, m3ter, m3ter_bare, m3ter_cmd, stderr, stdout, text};

/// A product and a meter on it: the smallest set with a dependency.
fn minimal(product: &str, extra: &str) -> String {
    format!(
        "\
products:
  - code: {product}
    name: P One
meters:
  - code: m_one
    name: M One
    product: {product}
    dataFields:
      - code: q
        name: Q
        category: MEASURE
        unit: s
{extra}"
    )
}

fn write(dir: &Path, name: &str, text: &str) {
    let d = dir.join("desired-state");
    std::fs::create_dir_all(&d).expect("mkdir");
    std::fs::write(d.join(name), text).expect("write yaml");
}

fn run(dir: &Path, emu: &EmulatorProcess, args: &[&str]) -> Output {
    let mut all = args.to_vec();
    all.extend(["--rate-limit", "0"]);
    m3ter(dir, emu, &all)
}

fn ok(out: Output) -> Output {
    assert!(out.status.success(), "{}", text(&out));
    out
}

fn id_in_state(dir: &Path, addr: &str) -> String {
    read_state(dir)["resources"][addr]["id"]
        .as_str()
        .unwrap_or_else(|| panic!("{addr} not in state: {:?}", state_addresses(dir)))
        .to_string()
}

// ---------------------------------------------------------------- var files

const VARS: &str = "\
variables:
  a: def
  b: def
  c: def
  d: def
  e: def
products:
  - code: p_vars
    name: \"${var.a}-${var.b}-${var.c}-${var.d}-${var.e}\"
";

#[test]
fn var_files_sit_between_defaults_and_the_environment() {
    let emu = EmulatorProcess::start(&[]);
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    write(d, "vars.yaml", VARS);
    std::fs::write(d.join("one.yaml"), "b: one\nc: one\nd: one\ne: one\n").expect("write");
    std::fs::write(d.join("two.yaml"), "c: two\nd: two\ne: two\n").expect("write");
    let out = m3ter_cmd(
        d,
        &emu,
        &[
            "plan",
            "--json",
            "--rate-limit",
            "0",
            "--var-file",
            "one.yaml",
            "--var-file",
            "two.yaml",
            "--var",
            "e=cli",
            "-o",
            "p.json",
        ],
    )
    .env("M3TER_VAR_d", "env")
    .env("M3TER_VAR_e", "env")
    .output()
    .expect("runs");
    let out = ok(out);
    let doc: Value = serde_json::from_str(stdout(&out).lines().next().unwrap_or_default())
        .unwrap_or_else(|e| panic!("{e}: {}", text(&out)));
    assert_eq!(
        doc["changes"][0]["after"]["name"], "def-one-two-env-cli",
        "{doc}"
    );
    // The saved plan records the values as resolved.
    let saved: Value =
        serde_json::from_str(&std::fs::read_to_string(d.join("p.json")).expect("plan file"))
            .expect("json");
    assert_eq!(saved["desired"]["variables"]["b"], "one");
    assert_eq!(saved["desired"]["variables"]["e"], "cli");
}

#[test]
fn var_file_errors_name_the_place() {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    write(
        d,
        "vars.yaml",
        "variables:\n  limit: 10\n  suffix: x\nproducts: []\n",
    );
    let cases = [
        (
            "unknown.yaml",
            "limit: 3\nsufix: y\n",
            "unknown.yaml:2:1: `sufix` sets a variable that is not declared under `variables:`; did you mean `suffix`?",
        ),
        (
            "type.yaml",
            "limit: lots\n",
            "type.yaml:1:8: variable `limit` takes a number (its default is a number), found a string",
        ),
        (
            "quote.yaml",
            "suffix: 12\n",
            "quote.yaml:1:9: variable `suffix` takes a string (its default is a string), found a number; quote the value",
        ),
        (
            "list.yaml",
            "- limit\n",
            "list.yaml:1:1: a --var-file must be a mapping of variable names to values, found a list",
        ),
    ];
    for (name, body, expected) in cases {
        std::fs::write(d.join(name), body).expect("write");
        let out = m3ter_bare(d, &["validate", "--var-file", name]);
        assert_eq!(out.status.code(), Some(1), "{name}: {}", text(&out));
        assert!(stderr(&out).contains(expected), "{name}: {}", text(&out));
    }
    let out = m3ter_bare(d, &["validate", "--var-file", "missing.yaml"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        stderr(&out).contains("missing.yaml: cannot read the --var-file"),
        "{}",
        text(&out)
    );
}

// ------------------------------------------------------------------- moved

#[test]
fn moved_turns_a_code_change_into_an_update_of_the_same_entity() {
    let emu = EmulatorProcess::start(&["--strict"]);
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    write(d, "main.yaml", &minimal("p_old", ""));
    ok(run(d, &emu, &["apply", "--auto-approve"]));
    let id = id_in_state(d, "product.p_old");

    write(
        d,
        "main.yaml",
        &minimal(
            "p_new",
            "moved:\n  - from: product.p_old\n    to: product.p_new\n",
        ),
    );
    let out = ok(run(d, &emu, &["plan"]));
    let plan = stdout(&out);
    assert!(
        plan.contains("# product.p_old has moved to product.p_new"),
        "{plan}"
    );
    assert!(
        plan.contains("product.p_new will be updated in-place"),
        "{plan}"
    );
    assert!(
        plan.contains("Plan: 0 to import, 0 to add, 1 to change, 0 to destroy."),
        "{plan}"
    );

    let out = ok(run(d, &emu, &["plan", "--json"]));
    let doc: Value = serde_json::from_str(stdout(&out).trim()).expect("json");
    assert_eq!(doc["moved"][0]["from"], "product.p_old", "{doc}");
    assert_eq!(doc["changes"][0]["diff"][0]["field"], "code", "{doc}");

    let out = ok(run(d, &emu, &["plan", "--format", "markdown"]));
    let md = stdout(&out);
    assert!(md.contains("1 to change, 0 to destroy, 1 moved"), "{md}");
    assert!(
        md.contains("| moved | <code>product.p&#95;new</code> | moved from product.p&#95;old"),
        "{md}"
    );

    let out = ok(run(d, &emu, &["apply", "--auto-approve"]));
    assert!(
        stdout(&out).contains("product.p_old: moved to product.p_new in state"),
        "{}",
        text(&out)
    );
    assert_eq!(id_in_state(d, "product.p_new"), id, "the same entity");
    assert!(!state_addresses(d).contains(&"product.p_old".to_string()));
    assert_eq!(emu.by_code("products", "p_new")["id"], id.as_str());
    assert_eq!(emu.list_all("products").len(), 1);

    // The entry stays in the YAML: a no-op now that p_old is not in state.
    let out = ok(run(d, &emu, &["plan", "--detailed-exitcode"]));
    assert!(stdout(&out).contains("No changes."), "{}", text(&out));
}

#[test]
fn moved_onto_an_address_already_managed_is_refused() {
    let emu = EmulatorProcess::start(&["--strict"]);
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    let two = "products:\n  - code: p_old\n    name: Old\n  - code: p_new\n    name: New\n";
    write(d, "main.yaml", two);
    ok(run(d, &emu, &["apply", "--auto-approve"]));
    let managed = id_in_state(d, "product.p_new");
    write(
        d,
        "main.yaml",
        "products:\n  - code: p_new\n    name: New\nmoved:\n  - {from: product.p_old, to: product.p_new}\n",
    );
    let out = run(d, &emu, &["plan"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        stderr(&out).contains(&format!(
            "cannot move product.p_old to product.p_new: product.p_new is in state already (id {managed})"
        )),
        "{}",
        text(&out)
    );
}

#[test]
fn moved_entries_are_checked_at_load() {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    let cases = [
        (
            "moved:\n  - {from: meter.p_old, to: product.p_new}\n",
            "main.yaml:14:29: `to` is a product but `from` is a meter",
        ),
        (
            "moved:\n  - {from: product.p_old, to: product.p_other}\n",
            "main.yaml:14:31: `to` is product.p_other, which is not in the desired state",
        ),
        (
            "moved:\n  - {from: product.p_new, to: product.p_new}\n",
            "product.p_new is moved to itself",
        ),
        (
            "moved:\n  - {from: product.a, to: product.b}\n  - {from: product.b, to: product.p_new}\n",
            // A chain needs its middle address both desired (as a `to`)
            // and not (as a `from`): the first rule that fails says so.
            "main.yaml:14:27: `to` is product.b, which is not in the desired state",
        ),
        (
            "moved:\n  - {from: product.a, to: product.p_new}\n  - {from: product.b, to: product.p_new}\n",
            "two entries move to product.p_new",
        ),
        (
            "moved:\n  - {from: product.a, too: product.p_new}\n",
            "main.yaml:14:23: unknown key `too` in a `moved` entry",
        ),
    ];
    for (moved, expected) in cases {
        write(d, "main.yaml", &minimal("p_new", moved));
        let out = m3ter_bare(d, &["validate"]);
        assert_eq!(out.status.code(), Some(1), "{moved}: {}", text(&out));
        assert!(stderr(&out).contains(expected), "{moved}\n{}", text(&out));
    }
}

#[test]
fn state_mv_re_keys_and_refuses_what_it_cannot_do() {
    let emu = EmulatorProcess::start(&["--strict"]);
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    write(d, "main.yaml", &minimal("p_old", ""));
    ok(run(d, &emu, &["apply", "--auto-approve"]));
    let id = id_in_state(d, "product.p_old");

    let refused = [
        (
            ["product.nope", "product.p_new"],
            "product.nope is not in state",
        ),
        (["product.p_old", "meter.m_one"], "a move keeps the kind"),
        (
            ["meter.m_one", "meter.m_one"],
            "meter.m_one is in state already",
        ),
    ];
    for (args, expected) in refused {
        let out = m3ter(d, &emu, &["state", "mv", args[0], args[1]]);
        assert_eq!(out.status.code(), Some(1), "{args:?}: {}", text(&out));
        assert!(stderr(&out).contains(expected), "{args:?}: {}", text(&out));
    }

    let out = ok(m3ter(
        d,
        &emu,
        &["state", "mv", "product.p_old", "product.p_new"],
    ));
    assert!(
        stdout(&out).contains("Moved product.p_old to product.p_new"),
        "{}",
        text(&out)
    );
    assert_eq!(id_in_state(d, "product.p_new"), id);
    // The meter's recorded dependency follows the move.
    assert_eq!(
        read_state(d)["resources"]["meter.m_one"]["dependsOn"][0],
        "product.p_new",
        "{}",
        read_state(d)
    );
    write(d, "main.yaml", &minimal("p_new", ""));
    ok(run(d, &emu, &["apply", "--auto-approve"]));
    assert_eq!(id_in_state(d, "product.p_new"), id);
    assert_eq!(emu.by_code("products", "p_new")["id"], id.as_str());
    let out = ok(run(d, &emu, &["plan"]));
    assert!(stdout(&out).contains("No changes."), "{}", text(&out));
}

// ----------------------------------------------------------------- replace

#[test]
fn replace_recreates_the_entity_and_what_references_it() {
    let emu = EmulatorProcess::start(&["--strict"]);
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    write(d, "main.yaml", &minimal("p_one", ""));
    ok(run(d, &emu, &["apply", "--auto-approve"]));
    let old_product = id_in_state(d, "product.p_one");
    let old_meter = id_in_state(d, "meter.m_one");

    // The meter alone: nothing references it.
    let out = ok(run(d, &emu, &["plan", "--replace", "meter.m_one"]));
    let plan = stdout(&out);
    assert!(plan.contains("meter.m_one must be replaced"), "{plan}");
    assert!(plan.contains("(because --replace asked for it)"), "{plan}");
    assert!(
        plan.contains("Plan: 0 to import, 1 to add, 0 to change, 1 to destroy."),
        "{plan}"
    );

    // The product: the live meter points at it, so the API refuses its
    // delete until the meter is gone; the meter is replaced with it.
    let out = ok(run(d, &emu, &["plan", "--replace", "product.p_one"]));
    let plan = stdout(&out);
    assert!(plan.contains("product.p_one must be replaced"), "{plan}");
    assert!(plan.contains("meter.m_one must be replaced"), "{plan}");
    assert!(
        plan.contains("Plan: 0 to import, 2 to add, 0 to change, 2 to destroy."),
        "{plan}"
    );

    let out = run(d, &emu, &["plan", "--replace", "meter.nope"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        stderr(&out).contains("--replace meter.nope: no such entity in the desired state"),
        "{}",
        text(&out)
    );

    ok(run(
        d,
        &emu,
        &["apply", "--auto-approve", "--replace", "product.p_one"],
    ));
    let (new_product, new_meter) = (
        id_in_state(d, "product.p_one"),
        id_in_state(d, "meter.m_one"),
    );
    assert_ne!(new_product, old_product, "a new product");
    assert_ne!(new_meter, old_meter, "a new meter");
    assert_eq!(emu.by_code("products", "p_one")["id"], new_product.as_str());
    assert_eq!(
        emu.by_code("meters", "m_one")["productId"],
        new_product.as_str()
    );
    assert_eq!(emu.list_all("meters").len(), 1);
    let out = ok(run(d, &emu, &["plan"]));
    assert!(stdout(&out).contains("No changes."), "{}", text(&out));
}

// ------------------------------------------------------------ plan --destroy

#[test]
fn plan_destroy_saves_a_destroy_plan_that_apply_runs() {
    let emu = EmulatorProcess::start(&["--strict"]);
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    write(d, "main.yaml", &minimal("p_one", ""));
    ok(run(d, &emu, &["apply", "--auto-approve"]));

    let out = ok(run(d, &emu, &["plan", "--destroy", "-o", "destroy.json"]));
    let plan = stdout(&out);
    assert!(
        plan.contains("Plan: 0 to import, 0 to add, 0 to change, 2 to destroy."),
        "{plan}"
    );
    // Dependents first: the meter before its product.
    let meter = plan
        .find("meter.m_one will be destroyed")
        .expect("meter delete");
    let product = plan
        .find("product.p_one will be destroyed")
        .expect("product delete");
    assert!(meter < product, "{plan}");
    assert!(emu.list_all("products").len() == 1, "plan changes nothing");

    ok(run(d, &emu, &["apply", "destroy.json", "--auto-approve"]));
    assert!(state_addresses(d).is_empty(), "{:?}", state_addresses(d));
    assert!(emu.list_all("products").is_empty());
    assert!(emu.list_all("meters").is_empty());
}

// ------------------------------------------------------------- completions

#[test]
fn completion_scripts_come_from_the_command_definition() {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    let out = ok(m3ter_bare(d, &["completions", "bash"]));
    let script = stdout(&out);
    for word in [
        "plan",
        "apply",
        "destroy",
        "completions",
        "--var-file",
        "--replace",
        "mv",
    ] {
        assert!(script.contains(word), "bash script lacks {word}");
    }
    std::fs::write(d.join("m3ter.bash"), &script).expect("write");
    let check = Command::new("bash")
        .args(["-n", "m3ter.bash"])
        .current_dir(d)
        .stdin(Stdio::null())
        .output()
        .expect("bash runs");
    assert!(check.status.success(), "{}", text(&check));

    for (shell, marker) in [
        ("zsh", "#compdef m3ter"),
        ("fish", "complete -c m3ter"),
        ("powershell", "Register-ArgumentCompleter"),
    ] {
        let out = ok(m3ter_bare(d, &["completions", shell]));
        assert!(stdout(&out).contains(marker), "{shell}: {}", text(&out));
    }
    let out = m3ter_bare(d, &["completions", "tcsh"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let _ = bin();
}
