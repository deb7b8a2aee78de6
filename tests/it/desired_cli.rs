//! `m3ter validate` and `m3ter graph` over the shipped example and
//! hand-broken copies of it: every error names file:line:column and exits 1.

use std::path::{Path, PathBuf};

use assert_cmd::Command;
use tempfile::TempDir;

/// A copy of `desired-state/` in a temporary directory.
struct Case {
    tmp: TempDir,
}

impl Case {
    fn example() -> Self {
        let tmp = tempfile::tempdir().expect("temp dir");
        let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("desired-state");
        let dst = tmp.path().join("desired-state");
        std::fs::create_dir(&dst).expect("create dir");
        for entry in std::fs::read_dir(src).expect("example dir") {
            let path = entry.expect("entry").path();
            std::fs::copy(&path, dst.join(path.file_name().expect("name"))).expect("copy");
        }
        // The whole example, billing.yaml included: these tests are about
        // the shipped files themselves.
        Case { tmp }
    }

    fn empty() -> Self {
        let tmp = tempfile::tempdir().expect("temp dir");
        std::fs::create_dir(tmp.path().join("desired-state")).expect("create dir");
        Case { tmp }
    }

    /// Adds (or replaces) a file of the desired state.
    fn file(self, name: &str, text: &str) -> Self {
        std::fs::write(self.tmp.path().join("desired-state").join(name), text).expect("write");
        self
    }

    /// Replaces text in a file of the desired state.
    fn edit(self, name: &str, from: &str, to: &str) -> Self {
        let path = self.tmp.path().join("desired-state").join(name);
        let text = std::fs::read_to_string(&path).expect("read");
        assert!(text.contains(from), "{name} does not contain {from:?}");
        std::fs::write(&path, text.replacen(from, to, 1)).expect("write");
        self
    }

    /// Runs `m3ter ARGS --dir desired-state` in the temporary directory.
    fn run(&self, args: &[&str]) -> Output {
        let out = Command::cargo_bin("m3ter")
            .expect("binary")
            .current_dir(self.tmp.path())
            .env_remove("M3TER_VAR_suffix")
            .env_remove("M3TER_VAR_suffix_title")
            .env("NO_COLOR", "1")
            .args(args)
            .args(["--dir", "desired-state"])
            .output()
            .expect("run m3ter");
        Output {
            code: out.status.code(),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }

    fn validate(&self) -> Output {
        self.run(&["validate"])
    }
}

struct Output {
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

impl Output {
    /// Asserts exit 1 and that stderr holds each expected line fragment.
    fn fails_with(&self, expected: &[&str]) {
        assert_eq!(
            self.code,
            Some(1),
            "stdout: {}\nstderr: {}",
            self.stdout,
            self.stderr
        );
        for e in expected {
            assert!(
                self.stderr.contains(e),
                "stderr lacks {e:?}:\n{}",
                self.stderr
            );
        }
    }
}

fn p(rel: &str) -> String {
    PathBuf::from("desired-state")
        .join(rel)
        .display()
        .to_string()
}

#[test]
fn the_example_is_valid() {
    let out = Case::example().validate();
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    // The seed's 14 entities and billing.yaml's 9.
    assert_eq!(out.stdout, "Success! 23 entities valid.\n");

    let out = Case::example().run(&["validate", "--json"]);
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    let v: serde_json::Value = serde_json::from_str(&out.stdout).expect("JSON");
    assert_eq!(v, serde_json::json!({"valid": true, "entities": 23}));
}

#[test]
fn graph_prints_dot_with_one_edge_per_reference() {
    let out = Case::example().run(&["graph"]);
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    assert!(out.stdout.starts_with("digraph m3ter {\n"));
    assert!(out.stdout.contains(
        "\"product.aws_lambda_api_6\" -> \"meter.compute_and_requests_meter_api_6\" [label = \"productId\"];"
    ));
    assert!(out.stdout.contains(
        "\"account.pluto_llp_api_6\" -> \"accountPlan.pluto_llp_api_6/lambda_plan_api_6@2024-12-01\" [label = \"accountId\"];"
    ));
    // The seed's 15 references, and billing.yaml's 13: counter → product;
    // counter pricing → plan, counter; each of two adjustments → account,
    // counter; link → plan group, plan; Goofy's account plan → account,
    // plan group; commitment → account, billing plan.
    assert_eq!(out.stdout.matches(" -> ").count(), 28);
}

#[test]
fn variables_come_from_var_and_the_environment() {
    let case = Case::example();
    let out = case.run(&["graph", "--var", "suffix=api_7"]);
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    assert!(out.stdout.contains("\"product.aws_lambda_api_7\";"));

    let out = Command::cargo_bin("m3ter")
        .expect("binary")
        .current_dir(case.tmp.path())
        .env("M3TER_VAR_suffix", "from_env")
        .env("M3TER_VAR_not_declared", "ignored")
        .args(["graph", "--dir", "desired-state"])
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&out.stdout).contains("\"product.aws_lambda_from_env\";"));

    // --var wins over the environment.
    let out = Command::cargo_bin("m3ter")
        .expect("binary")
        .current_dir(case.tmp.path())
        .env("M3TER_VAR_suffix", "from_env")
        .args([
            "graph",
            "--dir",
            "desired-state",
            "--var",
            "suffix=from_cli",
        ])
        .output()
        .expect("run");
    assert!(String::from_utf8_lossy(&out.stdout).contains("\"product.aws_lambda_from_cli\";"));
}

#[test]
fn yaml_syntax_error() {
    Case::example()
        .file("broken.yaml", "products:\n  - code: [x\n    name: y\n")
        .validate()
        .fails_with(&[&format!("{}:3:", p("broken.yaml")), "invalid YAML"]);
}

#[test]
fn unknown_top_level_key_with_suggestion() {
    Case::example()
        .file("extra.yaml", "prodcts:\n  - code: x\n    name: X\n")
        .validate()
        .fails_with(&[&format!(
            "{}:1:1: unknown top-level key `prodcts`; did you mean `products`?",
            p("extra.yaml")
        )]);
}

#[test]
fn unknown_field_with_suggestion() {
    Case::example()
        .edit("product.yaml", "    dataFields:", "    dataFeilds:")
        .validate()
        .fails_with(&[
            &format!(
                "{}:23:5: unknown field `dataFeilds` in meter; did you mean `dataFields`?",
                p("product.yaml")
            ),
            // The real field is then missing.
            "meter: `dataFields` is required",
        ]);
}

#[test]
fn unknown_nested_field_with_suggestion() {
    Case::example()
        .edit("product.yaml", "        unit: GB\n", "        unti: GB\n")
        .validate()
        .fails_with(&[&format!(
            "{}:27:9: unknown field `unti` in meter `dataFields[0]`; did you mean `unit`?",
            p("product.yaml")
        )]);
}

#[test]
fn wrong_type() {
    Case::example()
        .file(
            "extra.yaml",
            "products:\n  - code: other\n    name: [a, b]\n",
        )
        .validate()
        .fails_with(&[&format!(
            "{}:3:11: product: `name` must be a string",
            p("extra.yaml")
        )]);
}

#[test]
fn missing_required_field() {
    Case::example()
        .file(
            "extra.yaml",
            "accounts:\n  - code: goofy\n    name: Goofy\n",
        )
        .validate()
        .fails_with(&[&format!(
            "{}:2:5: account: `emailAddress` is required",
            p("extra.yaml")
        )]);
}

#[test]
fn bad_enum() {
    Case::example()
        .edit("product.yaml", "aggregation: SUM", "aggregation: SUMM")
        .validate()
        .fails_with(&[&format!(
            "{}:54:18: aggregation: `aggregation` must be one of SUM, MIN, MAX, COUNT, LATEST, MEAN, UNIQUE, CUSTOM_SQL (got \"SUMM\")",
            p("product.yaml")
        )]);
}

#[test]
fn uuid_field_instead_of_reference() {
    Case::example()
        .edit(
            "product.yaml",
            "    product: aws_lambda_${var.suffix}",
            "    productId: 5f6b3c2a-0000-4000-8000-000000000001",
        )
        .validate()
        .fails_with(&[&format!(
            "{}:22:5: `productId` is not written in desired state: refer to the product by its code; use `product: <code>`",
            p("product.yaml")
        )]);
}

#[test]
fn unknown_reference_with_did_you_mean() {
    Case::example()
        .edit(
            "pricing.yaml",
            "planTemplate: lambda_template_${var.suffix}",
            "planTemplate: lambda_templat_${var.suffix}",
        )
        .validate()
        .fails_with(&[&format!(
            "{}:15:19: `planTemplate` refers to planTemplate.lambda_templat_api_6, which is not in the desired state; did you mean `lambda_template_api_6`?",
            p("pricing.yaml")
        )]);
}

#[test]
fn duplicate_address_names_both_places() {
    Case::example()
        .file(
            "extra.yaml",
            "# a copy\nproducts:\n  - code: aws_lambda_api_6\n    name: Again\n",
        )
        .validate()
        .fails_with(&[&format!(
            "{}:16:5: duplicate address `product.aws_lambda_api_6`: also defined at {}:3:5",
            p("product.yaml"),
            p("extra.yaml")
        )]);
}

#[test]
fn duplicate_pricing_address() {
    // Two pricings for the same plan, aggregation and start date.
    Case::example()
        .edit(
            "pricing.yaml",
            "aggregation: total_number_of_requests_${var.suffix}",
            "aggregation: duration_aggregation_${var.suffix}",
        )
        .validate()
        .fails_with(&[&format!(
            "{}:33:5: duplicate address `pricing.lambda_plan_api_6/duration_aggregation_api_6@2024-11-01`: also defined at {}:20:5",
            p("pricing.yaml"),
            p("pricing.yaml")
        )]);
}

#[test]
fn undefined_variable_names_where_it_is_used() {
    Case::example()
        .edit("pricing.yaml", "currency: USD", "currency: ${var.currency}")
        .validate()
        .fails_with(&[&format!(
            "{}:7:15: undefined variable `currency`",
            p("pricing.yaml")
        )]);
}

#[test]
fn var_for_an_undeclared_variable() {
    Case::example()
        .run(&["validate", "--var", "sufix=api_7"])
        .fails_with(&[
            "`--var sufix=…` sets a variable that is not declared under `variables:`; did you mean `suffix`?",
        ]);
}

#[test]
fn required_variable_not_given() {
    let case = Case::example().file("vars.yaml", "variables:\n  region: null\n");
    case.validate().fails_with(&[&format!(
        "{}:2:3: variable `region` is required and was not given",
        p("vars.yaml")
    )]);
    let out = case.run(&["validate", "--var", "region=eu"]);
    assert_eq!(out.code, Some(0), "{}", out.stderr);
}

#[test]
fn a_cycle_prints_the_whole_loop() {
    Case::example()
        .edit(
            "accounts.yaml",
            "    emailAddress: billing@yakupdemo.com\n    address: *hq\n\n  - code: pluto",
            "    emailAddress: billing@yakupdemo.com\n    parentAccount: pluto_llp_${var.suffix}\n    address: *hq\n\n  - code: pluto",
        )
        .edit(
            "accounts.yaml",
            "    name: Pluto LLP ${var.suffix_title}\n",
            "    name: Pluto LLP ${var.suffix_title}\n    parentAccount: donald_duck_ltd_${var.suffix}\n",
        )
        .validate()
        .fails_with(&[&format!(
            "{}:15:5: dependency cycle: account.donald_duck_ltd_api_6 -> account.pluto_llp_api_6 -> account.donald_duck_ltd_api_6",
            p("accounts.yaml")
        )]);
}

#[test]
fn a_self_reference_is_a_cycle() {
    Case::example()
        .edit(
            "accounts.yaml",
            "    name: Pluto LLP ${var.suffix_title}\n",
            "    name: Pluto LLP ${var.suffix_title}\n    parentAccount: pluto_llp_${var.suffix}\n",
        )
        .validate()
        .fails_with(&["dependency cycle: account.pluto_llp_api_6 -> account.pluto_llp_api_6"]);
}

#[test]
fn pricing_with_both_or_neither_owner() {
    Case::example()
        .edit(
            "pricing.yaml",
            "  - plan: lambda_plan_${var.suffix}\n    aggregation: duration",
            "  - plan: lambda_plan_${var.suffix}\n    planTemplate: lambda_template_${var.suffix}\n    aggregation: duration",
        )
        .validate()
        .fails_with(&[&format!(
            "{}:20:11: pricing: exactly one of `plan` and `planTemplate` must be given, not both",
            p("pricing.yaml")
        )]);
    Case::example()
        .edit(
            "pricing.yaml",
            "  - plan: lambda_plan_${var.suffix}\n    aggregation: total",
            "  - aggregation: total",
        )
        .validate()
        .fails_with(&[&format!(
            "{}:33:5: pricing: exactly one of `plan` and `planTemplate` is required",
            p("pricing.yaml")
        )]);
}

#[test]
fn all_errors_of_a_run_are_reported_in_order() {
    let out = Case::example()
        .edit("pricing.yaml", "currency: USD", "currency: US")
        .edit("product.yaml", "rounding: NONE", "rounding: UP_ISH")
        .validate();
    out.fails_with(&["The desired state is not valid: 2 errors."]);
    let errors: Vec<&str> = out
        .stderr
        .lines()
        .filter(|l| l.starts_with("error: "))
        .collect();
    assert_eq!(errors.len(), 2, "{}", out.stderr);
    assert!(errors[0].contains(&p("pricing.yaml")), "{errors:?}");
    assert!(errors[1].contains(&p("product.yaml")), "{errors:?}");
}

#[test]
fn json_errors() {
    let out = Case::example()
        .file("extra.yaml", "prodcts: []\n")
        .run(&["validate", "--json"]);
    assert_eq!(out.code, Some(1));
    let v: serde_json::Value = serde_json::from_str(out.stdout.trim()).expect("one JSON line");
    assert_eq!(
        v,
        serde_json::json!({"error": {
            "message": "unknown top-level key `prodcts`; did you mean `products`?",
            "file": p("extra.yaml"), "line": 1, "column": 1}})
    );
}

#[test]
fn empty_and_missing_directories() {
    Case::empty().validate().fails_with(&[
        "error: desired-state: the desired-state directory holds no *.yaml or *.yml files",
    ]);
    let case = Case::empty();
    let out = Command::cargo_bin("m3ter")
        .expect("binary")
        .current_dir(case.tmp.path())
        .args(["validate", "--dir", "nowhere"])
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&out.stderr)
            .contains("error: nowhere: the desired-state directory does not exist; pass the directory with `--dir DIR`"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
