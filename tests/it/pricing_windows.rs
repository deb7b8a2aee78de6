//! Pricing windows checked offline and online (issue 13, part 4), on the
//! real binary and an emulator process: overlapping pricings of one plan,
//! aggregation and segment are refused by `validate` and `plan` before any
//! request, naming both places; a gap in pricing while an account plan is
//! active is a warning; overlapping account plans of one product name both
//! places; and the emulator's 400s say the same.

use std::path::Path;

use serde_json::json;

use crate::common;
use common::cli::{EmulatorProcess, m3ter, stderr, text};
use common::kind_flow::{api_requests, apply, org_requests, write_desired};

/// Everything but the pricings and account plans.
const BASE: &str = "\
products:
  - {code: p, name: P}
meters:
  - code: m
    name: M
    product: p
    dataFields:
      - {code: q, name: Q, category: MEASURE, unit: n}
aggregations:
  - {code: a, name: A, meter: m, targetField: q, aggregation: SUM, rounding: NONE, quantityPerUnit: 1, unit: u}
planTemplates:
  - {code: t, name: T, product: p, currency: USD, standingCharge: 0, billFrequency: MONTHLY}
plans:
  - {code: plan, name: Plan, planTemplate: t}
  - {code: gold, name: Gold, planTemplate: t}
accounts:
  - {code: acme, name: Acme, emailAddress: billing@acme.test}
";

/// A pricing of `plan` for `a`, `[start, end)`.
fn pricing(start: &str, end: Option<&str>, price: u32) -> String {
    let end = end.map_or(String::new(), |e| format!("    endDate: {e}\n"));
    format!(
        "  - plan: plan\n    aggregation: a\n    startDate: {start}\n{end}\
         \x20   pricingBands:\n      - {{lowerLimit: 0, fixedPrice: 0, unitPrice: {price}}}\n"
    )
}

/// The 1-based line of the first line of `yaml` holding `needle` from
/// line `after` on.
fn line_of(yaml: &str, needle: &str, after: usize) -> usize {
    yaml.lines()
        .enumerate()
        .skip(after)
        .find(|(_, l)| l.contains(needle))
        .map(|(i, _)| i + 1)
        .unwrap_or_else(|| panic!("no {needle:?} in {yaml}"))
}

fn desired(pricings: &[String], account_plans: &str) -> String {
    format!(
        "{BASE}pricings:\n{}accountPlans:\n{account_plans}",
        pricings.concat()
    )
}

/// `validate` and `plan` both exit 1 and make no change; `validate` makes
/// no request at all. Returns `validate`'s stderr.
fn refused_offline(d: &Path, emu: &EmulatorProcess) -> String {
    let before = api_requests(emu);
    let out = m3ter(d, emu, &["validate"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert_eq!(api_requests(emu), before, "validate sent a request");
    let err = stderr(&out);
    let out = m3ter(d, emu, &["plan", "--rate-limit", "0"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert_eq!(stderr(&out), err, "plan reports what validate does");
    // `plan` reads the org while it loads the YAML; the promise for it is
    // no write of any kind.
    let writes = org_requests(emu, |route| !route.starts_with("GET "));
    assert_eq!(writes, 0, "refused before any write: {err}");
    err
}

#[test]
fn overlapping_pricings_are_refused_offline_naming_both_places() {
    let emu = EmulatorProcess::start(&[]);
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    let yaml = desired(
        &[
            pricing("2024-11-01", Some("2025-06-01"), 1),
            pricing("2025-01-01", None, 2),
        ],
        "  - {account: acme, plan: plan, startDate: 2024-12-01}\n",
    );
    write_desired(d, &yaml);
    let err = refused_offline(d, &emu);
    let pricings = line_of(&yaml, "pricings:", 0);
    let (first, second) = (pricings + 1, line_of(&yaml, "- plan: plan", pricings + 1));
    // Each is reported at its `startDate`, naming the other by address and
    // where it is written.
    let at = |line: usize, column: usize| format!("desired-state/main.yaml:{line}:{column}");
    let one = format!(
        "{}: pricing: pricing `plan/a@2024-11-01`",
        at(first + 2, 16)
    );
    let two = format!(
        "{}: pricing: pricing `plan/a@2025-01-01`",
        at(second + 2, 16)
    );
    for (this, other, other_line) in [
        (&one, "plan/a@2025-01-01", second),
        (&two, "plan/a@2024-11-01", first),
    ] {
        let line = err
            .lines()
            .find(|l| l.contains(this.as_str()))
            .unwrap_or_else(|| panic!("{this:?} in {err}"));
        assert!(line.starts_with("error: "), "{line}");
        assert!(
            line.contains(&format!("overlaps pricing `{other}`")),
            "{line}"
        );
        assert!(
            line.contains(&format!("(that pricing is at {})", at(other_line, 5))),
            "{line}"
        );
    }
    assert!(err.contains("2 errors"), "{err}");

    // Another plan, or one ending when the other starts: valid.
    let yaml = desired(
        &[
            pricing("2024-11-01", Some("2025-01-01"), 1),
            pricing("2025-01-01", None, 2),
            pricing("2024-11-01", None, 3).replace("plan: plan", "plan: gold"),
        ],
        "  - {account: acme, plan: plan, startDate: 2024-12-01}\n",
    );
    write_desired(d, &yaml);
    let out = m3ter(d, &emu, &["validate"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(!stderr(&out).contains("warning"), "{}", text(&out));
}

#[test]
fn a_gap_in_pricing_while_an_account_plan_is_active_is_a_warning() {
    let emu = EmulatorProcess::start(&[]);
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    let yaml = desired(
        &[
            pricing("2024-11-01", Some("2025-01-01"), 1),
            pricing("2025-02-01", None, 2),
        ],
        "  - {account: acme, plan: plan, startDate: 2024-12-01}\n",
    );
    write_desired(d, &yaml);
    let out = m3ter(d, &emu, &["validate"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let err = stderr(&out);
    let pricings = line_of(&yaml, "pricings:", 0);
    let (first, second) = (pricings + 1, line_of(&yaml, "- plan: plan", pricings + 1));
    let account_plan = line_of(&yaml, "accountPlans:", 0) + 1;
    let warning = err
        .lines()
        .find(|l| l.starts_with("warning: "))
        .unwrap_or_else(|| panic!("a warning in {err}"));
    for part in [
        format!(
            "desired-state/main.yaml:{account_plan}:5: accountPlan: account plan `acme/plan@2024-12-01`"
        ),
        "for aggregation `a` from 2025-01-01".to_owned(),
        "to 2025-02-01".to_owned(),
        format!("pricing `plan/a@2024-11-01` is at desired-state/main.yaml:{first}:5"),
        format!("pricing `plan/a@2025-02-01` is at desired-state/main.yaml:{second}:5"),
    ] {
        assert!(warning.contains(&part), "{part:?} in {warning}");
    }
    assert_eq!(
        err.lines().filter(|l| l.starts_with("warning: ")).count(),
        1,
        "{err}"
    );
    // `plan` warns the same and goes on.
    let out = m3ter(d, &emu, &["plan", "--rate-limit", "0"]);
    assert!(matches!(out.status.code(), Some(0 | 2)), "{}", text(&out));
    assert!(stderr(&out).contains(warning), "{}", text(&out));
}

#[test]
fn overlapping_account_plans_of_one_product_name_both_places() {
    let emu = EmulatorProcess::start(&[]);
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    let yaml = desired(
        &[
            pricing("2024-11-01", None, 1),
            pricing("2024-11-01", None, 1).replace("plan: plan", "plan: gold"),
        ],
        "  - {account: acme, plan: plan, startDate: 2024-12-01}\n\
         \x20 - {account: acme, plan: gold, startDate: 2025-01-01}\n",
    );
    write_desired(d, &yaml);
    let err = refused_offline(d, &emu);
    let first = line_of(&yaml, "accountPlans:", 0) + 1;
    let line = err
        .lines()
        .find(|l| l.starts_with(&format!("error: desired-state/main.yaml:{}:", first + 1)))
        .unwrap_or_else(|| panic!("the second account plan in {err}"));
    assert!(
        line.contains("already has an account plan for product `p`")
            && line.contains("overlaps this one: account plan `acme/plan@2024-12-01`"),
        "{line}"
    );
    assert!(
        line.contains(&format!(
            "(that accountPlan is at desired-state/main.yaml:{first}:5)"
        )),
        "{line}"
    );
    assert!(
        err.contains(&format!(
            "(that accountPlan is at desired-state/main.yaml:{}:5)",
            first + 1
        )),
        "{err}"
    );
}

#[test]
fn the_emulator_refuses_an_overlapping_pricing_with_the_same_message() {
    let emu = EmulatorProcess::start(&[]);
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    write_desired(
        d,
        &desired(
            &[pricing("2024-11-01", Some("2025-06-01"), 1)],
            "  - {account: acme, plan: plan, startDate: 2024-12-01}\n",
        ),
    );
    apply(d, &emu);
    let plan = emu.by_code("plans", "plan");
    let agg = emu.by_code("aggregations", "a");
    let first = &emu.list_all("pricings")[0];
    let body = |start: &str| {
        json!({"planId": plan["id"], "aggregationId": agg["id"], "startDate": start,
               "pricingBands": [{"lowerLimit": 0, "fixedPrice": 0, "unitPrice": 2}]})
    };
    let (status, answer) = emu.api("POST", "pricings", Some(body("2025-01-01T00:00:00Z")));
    assert_eq!(status, 400, "{answer}");
    let message = answer["message"].as_str().unwrap_or_default();
    assert!(
        message.contains(&format!(
            "overlaps pricing `{}` (from 2024-11-01T00:00:00Z to 2025-06-01T00:00:00Z) of plan \
             `plan` for aggregation `a`",
            first["id"].as_str().unwrap_or_default()
        )),
        "{message}"
    );
    // Starting when the first ends is fine; moving it back over the first
    // (an update) is refused the same way.
    let (status, second) = emu.api("POST", "pricings", Some(body("2025-06-01T00:00:00Z")));
    assert_eq!(status, 200, "{second}");
    let mut moved = body("2025-05-01T00:00:00Z");
    moved["version"] = second["version"].clone();
    let path = format!("pricings/{}", second["id"].as_str().unwrap_or_default());
    let (status, answer) = emu.api("PUT", &path, Some(moved));
    assert_eq!(status, 400, "{answer}");
    assert!(
        answer["message"]
            .as_str()
            .unwrap_or_default()
            .contains("overlaps pricing"),
        "{answer}"
    );

    // An account plan overlapping acme's for the same product: the 400
    // names the other account plan.
    let gold = emu.by_code("plans", "gold");
    let acme = emu.by_code("accounts", "acme");
    let (status, answer) = emu.api(
        "POST",
        "accountplans",
        Some(json!({"accountId": acme["id"], "planId": gold["id"],
                    "startDate": "2025-01-01T00:00:00Z"})),
    );
    assert_eq!(status, 400, "{answer}");
    let existing = &emu.list_all("accountplans")[0];
    assert!(
        answer["message"]
            .as_str()
            .unwrap_or_default()
            .contains(&format!(
                "already has an account plan for product `p` (plan `plan`, from \
                 2024-12-01T00:00:00Z to open-ended) that overlaps this one: account plan `{}`",
                existing["id"].as_str().unwrap_or_default()
            )),
        "{answer}"
    );
}
