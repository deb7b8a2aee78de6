//! The rule set offline: `m3ter validate` (and `plan`/`apply`, which load
//! the same way) rejects what the emulator would refuse, at the
//! file:line:column of the field, before any request. One case per gap the
//! issue names, each on the real binary.

use std::path::Path;
use std::process::Output;

use crate::common::cli::{EmulatorProcess, bin, copy_example, m3ter, stderr, stdout, text};

/// A desired state small enough to read at a glance; every rule holds.
/// Line numbers matter: the cases below point into it.
const BASE: &str = "\
products:
  - {code: p, name: P}
meters:
  - code: m
    name: M
    product: p
    dataFields:
      - {code: q, name: Q, category: MEASURE, unit: n}
      - {code: user, name: User, category: WHO}
aggregations:
  - code: a
    name: A
    meter: m
    targetField: q
    aggregation: SUM
    rounding: NONE
    quantityPerUnit: 1
    unit: u
planTemplates:
  - {code: t, name: T, product: p, currency: USD, standingCharge: 0, billFrequency: MONTHLY}
plans:
  - {code: plan, name: Plan, planTemplate: t}
pricings:
  - plan: plan
    aggregation: a
    startDate: 2024-11-01
    pricingBands:
      - {lowerLimit: 0, fixedPrice: 0, unitPrice: 1}
      - {lowerLimit: 100, fixedPrice: 0, unitPrice: 0.5}
accounts:
  - {code: acme, name: Acme, emailAddress: billing@acme.test}
accountPlans:
  - {account: acme, plan: plan, startDate: 2024-12-01}
";

/// A temporary directory holding `desired-state/`.
struct Case {
    tmp: tempfile::TempDir,
}

impl Case {
    fn base() -> Case {
        let tmp = tempfile::tempdir().expect("temp dir");
        std::fs::create_dir(tmp.path().join("desired-state")).expect("mkdir");
        let case = Case { tmp };
        case.write("base.yaml", BASE);
        case
    }

    fn example() -> Case {
        let tmp = tempfile::tempdir().expect("temp dir");
        copy_example(tmp.path());
        Case { tmp }
    }

    fn dir(&self) -> &Path {
        self.tmp.path()
    }

    fn write(&self, name: &str, text: &str) {
        std::fs::write(self.dir().join("desired-state").join(name), text).expect("write");
    }

    /// Replaces the first `from` by `to` in a file; the text must be there.
    fn edit(self, name: &str, from: &str, to: &str) -> Case {
        let path = self.dir().join("desired-state").join(name);
        let text = std::fs::read_to_string(&path).expect("read");
        assert!(text.contains(from), "{name} has no {from:?}");
        std::fs::write(&path, text.replacen(from, to, 1)).expect("write");
        self
    }

    /// `m3ter validate` with no M3TER_* variable from outside.
    fn validate(&self) -> Output {
        let mut cmd = std::process::Command::new(bin());
        cmd.current_dir(self.dir()).arg("validate");
        for (k, _) in std::env::vars() {
            if k.starts_with("M3TER_") {
                cmd.env_remove(k);
            }
        }
        cmd.env("NO_COLOR", "1").output().expect("m3ter runs")
    }
}

/// Asserts that validate exits 1 with exactly one error, which starts
/// with `at` (`desired-state/<file>:<line>:<column>: <kind>: `) and holds
/// every fragment of `says`.
fn rejects(case: &Case, at: &str, says: &[&str]) {
    let out = case.validate();
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let err = stderr(&out);
    let errors: Vec<&str> = err.lines().filter(|l| l.starts_with("error: ")).collect();
    assert_eq!(errors.len(), 1, "one error expected:\n{err}");
    let line = errors[0].strip_prefix("error: ").unwrap_or_default();
    assert!(line.starts_with(at), "expected at {at}:\n{err}");
    for s in says {
        assert!(line.contains(s), "expected {s:?} in:\n{err}");
    }
    assert!(
        err.contains("The desired state is not valid: 1 error."),
        "{err}"
    );
}

#[test]
fn the_base_is_valid() {
    let out = Case::base().validate();
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(stdout(&out), "Success! 8 entities valid.\n");
    assert!(!stderr(&out).contains("warning"), "{}", text(&out));
}

/// The first case: apply used to fail after creating 12 of 14.
#[test]
fn a_target_field_typo_in_the_example() {
    let case = Case::example().edit(
        "product.yaml",
        "targetField: duration_${var.suffix}",
        "targetField: duraton_${var.suffix}",
    );
    rejects(
        &case,
        "desired-state/product.yaml:53:18: aggregation: `targetField` \"duraton_api_6\"",
        &["compute_and_requests_meter_api_6", "duration_api_6"],
    );
}

/// The second case: this one used to apply and bill 0.
#[test]
fn a_derived_calculation_naming_an_unknown_field_in_the_example() {
    let case = Case::example().edit(
        "product.yaml",
        "*execution_time_${var.suffix}",
        "*executon_time_${var.suffix}",
    );
    rejects(
        &case,
        "desired-state/product.yaml:37:22: meter: `derivedFields[0].calculation`",
        &["executon_time_api_6"],
    );
}

#[test]
fn segmented_fields_naming_no_field() {
    let case = Case::base().edit(
        "base.yaml",
        "    unit: u\n",
        "    unit: u\n    segmentedFields: [user, usr]\n",
    );
    rejects(
        &case,
        "desired-state/base.yaml:19:29: aggregation: `segmentedFields[1]` \"usr\"",
        &["meter `m`"],
    );
}

#[test]
fn overage_bands_on_a_volume_pricing() {
    let case = Case::base().edit(
        "base.yaml",
        "    startDate: 2024-11-01\n",
        "    startDate: 2024-11-01\n    cumulative: false\n    overagePricingBands: [{lowerLimit: 0, fixedPrice: 0, unitPrice: 2}]\n",
    );
    rejects(
        &case,
        "desired-state/base.yaml:28:26: pricing: `overagePricingBands`",
        &["`cumulative` is false"],
    );
}

#[test]
fn end_date_not_after_start_date() {
    let case = Case::base().edit(
        "base.yaml",
        "    startDate: 2024-11-01\n",
        "    startDate: 2024-11-01\n    endDate: 2024-11-01\n",
    );
    rejects(
        &case,
        "desired-state/base.yaml:27:14: pricing: `endDate`",
        &["`startDate`"],
    );
}

#[test]
fn overlapping_account_plans_for_one_product() {
    let case = Case::base();
    case.write(
        "more.yaml",
        "plans:\n  - {code: plan2, name: Plan 2, planTemplate: t}\naccountPlans:\n  - {account: acme, plan: plan2, startDate: 2025-01-01, endDate: 2025-06-01}\n",
    );
    let out = case.validate();
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    // Each of the two sees the other: both are reported, each at its own
    // start date.
    let err = stderr(&out);
    assert!(
        err.contains("error: desired-state/base.yaml:33:44: accountPlan: account `acme` already has an account plan for product `p` (plan `plan2`"),
        "{err}"
    );
    assert!(
        err.contains("error: desired-state/more.yaml:4:45: accountPlan: account `acme` already has an account plan for product `p` (plan `plan`"),
        "{err}"
    );
}

#[test]
fn a_bespoke_plan_attached_to_another_account() {
    let case = Case::base();
    case.write(
        "more.yaml",
        "accounts:\n  - {code: other, name: Other, emailAddress: o@acme.test}\nplans:\n  - {code: mine, name: Mine, planTemplate: t, account: acme}\naccountPlans:\n  - {account: other, plan: mine, startDate: 2024-12-01}\n",
    );
    // At the plan's code, under its YAML name.
    rejects(
        &case,
        "desired-state/more.yaml:6:28: accountPlan: `plan`: plan `mine` is bespoke to account `acme`",
        &["account `other`"],
    );
}

#[test]
fn duplicate_field_codes_within_a_meter() {
    let case = Case::base().edit(
        "base.yaml",
        "{code: user, name: User, category: WHO}",
        "{code: q, name: User, category: WHO}",
    );
    rejects(
        &case,
        "desired-state/base.yaml:9:16: meter: `dataFields[1].code`",
        &["\"q\""],
    );
}

#[test]
fn a_compound_calculation_naming_an_unknown_aggregation() {
    let case = Case::base();
    case.write(
        "more.yaml",
        "compoundAggregations:\n  - {code: c, name: C, calculation: 'aggregation.b * 2', rounding: NONE, quantityPerUnit: 1, unit: u}\n",
    );
    rejects(
        &case,
        "desired-state/more.yaml:2:37: compoundAggregation: `calculation` names `aggregation.b`",
        &["known: a"],
    );
}

#[test]
fn a_band_not_starting_at_zero_points_at_its_lower_limit() {
    let case = Case::base().edit(
        "base.yaml",
        "{lowerLimit: 0, fixedPrice: 0, unitPrice: 1}",
        "{lowerLimit: 5, fixedPrice: 0, unitPrice: 1}",
    );
    rejects(
        &case,
        "desired-state/base.yaml:28:22: pricing: `pricingBands[0].lowerLimit`",
        &[],
    );
}

/// Legal but suspicious: validate says so and succeeds.
#[test]
fn a_negative_unit_price_is_a_warning() {
    let case = Case::base().edit("base.yaml", "unitPrice: 0.5}", "unitPrice: -0.5}");
    let out = case.validate();
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(stdout(&out), "Success! 8 entities valid.\n");
    let err = stderr(&out);
    assert!(
        err.starts_with(
            "warning: desired-state/base.yaml:29:53: pricing: `pricingBands[1].unitPrice`"
        ),
        "{err}"
    );
    assert_eq!(err.lines().count(), 1, "{err}");

    let mut cmd = std::process::Command::new(bin());
    let out = cmd
        .current_dir(case.dir())
        .args(["validate", "--json"])
        .output()
        .expect("m3ter runs");
    assert!(out.status.success(), "{}", text(&out));
    let doc: serde_json::Value = serde_json::from_str(&stdout(&out)).expect("one JSON document");
    assert_eq!(doc["valid"], true);
    let w = &doc["warnings"][0];
    assert_eq!(
        (&w["file"], &w["line"], &w["column"]),
        (&"desired-state/base.yaml".into(), &29.into(), &53.into()),
        "{doc}"
    );
}

/// `plan --json` carries the warnings in the plan's `warnings`; the human
/// plan leaves them to stderr.
#[test]
fn plan_shows_the_warnings() {
    let case = Case::base().edit("base.yaml", "unitPrice: 0.5}", "unitPrice: -0.5}");
    let emu = EmulatorProcess::start(&[]);
    let out = m3ter(case.dir(), &emu, &["plan", "--json"]);
    assert!(out.status.success(), "{}", text(&out));
    let plan: serde_json::Value = serde_json::from_str(&stdout(&out)).expect("one JSON document");
    let warnings = plan["warnings"].as_array().expect("warnings");
    assert_eq!(warnings.len(), 1, "{plan}");
    assert!(
        warnings[0].as_str().is_some_and(|w| w.starts_with(
            "desired-state/base.yaml:29:53: pricing: `pricingBands[1].unitPrice` is negative"
        )),
        "{plan}"
    );

    let out = m3ter(case.dir(), &emu, &["plan"]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        stderr(&out).starts_with("warning: desired-state/base.yaml:29:53: pricing: "),
        "{}",
        text(&out)
    );
    assert!(!stdout(&out).contains("is negative"), "{}", text(&out));
}

/// `apply` checks the same rules before its first write.
#[test]
fn apply_of_a_rejected_state_writes_nothing() {
    let case = Case::example().edit(
        "product.yaml",
        "targetField: duration_${var.suffix}",
        "targetField: duraton_${var.suffix}",
    );
    let emu = EmulatorProcess::start(&[]);
    let out = m3ter(case.dir(), &emu, &["apply", "--auto-approve"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        stderr(&out).contains(
            "error: desired-state/product.yaml:53:18: aggregation: `targetField` \"duraton_api_6\""
        ),
        "{}",
        text(&out)
    );
    let stats = emu.stats();
    let writes: Vec<_> = stats["requests"]
        .as_object()
        .expect("requests")
        .keys()
        .filter(|k| k.contains("/organizations/") && !k.starts_with("GET "))
        .collect();
    assert!(writes.is_empty(), "apply wrote: {writes:?}");
}
