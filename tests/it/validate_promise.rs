//! `validate` is a promise (issue 7): generated desired states, most with
//! one semantic mutation, each written as YAML and checked with the real
//! binary against fresh in-process emulators, both ways:
//!
//! 1. `validate` accepts ⇒ `apply --auto-approve` succeeds;
//! 2. every entity the emulator refuses (its bodies POSTed straight to it,
//!    no offline check in between) is one `validate` reported, and when
//!    `validate` reports errors the emulator refuses one of those entities.
//!
//! Each entity is one line of JSON-in-YAML, so a diagnostic's line names
//! the entity it is about. The seed is fixed: CI runs the same cases.

use std::collections::{BTreeSet, HashMap};
use std::path::Path;
use std::process::Output;

use m3ter_api::Kind;
use proptest::prelude::*;
use proptest::test_runner::{Config, RngSeed, TestCaseError, TestRunner};
use serde_json::{Map, Value, json};

use crate::common::Emu;
use crate::common::cli::{KEY, ORG, SECRET, bin};

/// One way to break a valid state; `None` keeps it valid and
/// `NegativePrice` only earns a warning.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mutation {
    None,
    NegativePrice,
    TargetFieldTypo,
    DerivedUnknownField,
    DerivedBadFormula,
    SegmentedUnknownField,
    OverageOnVolume,
    PricingEndNotAfterStart,
    AccountPlanEndBeforeStart,
    OverlappingAccountPlans,
    BespokeOnOtherAccount,
    DuplicateFieldCode,
    BandsNotFromZero,
    DuplicateLowerLimit,
    CompoundUnknownAggregation,
    CompoundBadFormula,
    CurrencyNotIso,
    MeasureWithoutUnit,
    SumOverText,
    UniqueOverMeasure,
    CustomSqlWithoutQuery,
}

impl Mutation {
    const ALL: [Mutation; 21] = [
        Mutation::None,
        Mutation::NegativePrice,
        Mutation::TargetFieldTypo,
        Mutation::DerivedUnknownField,
        Mutation::DerivedBadFormula,
        Mutation::SegmentedUnknownField,
        Mutation::OverageOnVolume,
        Mutation::PricingEndNotAfterStart,
        Mutation::AccountPlanEndBeforeStart,
        Mutation::OverlappingAccountPlans,
        Mutation::BespokeOnOtherAccount,
        Mutation::DuplicateFieldCode,
        Mutation::BandsNotFromZero,
        Mutation::DuplicateLowerLimit,
        Mutation::CompoundUnknownAggregation,
        Mutation::CompoundBadFormula,
        Mutation::CurrencyNotIso,
        Mutation::MeasureWithoutUnit,
        Mutation::SumOverText,
        Mutation::UniqueOverMeasure,
        Mutation::CustomSqlWithoutQuery,
    ];

    /// Whether the mutated state breaks a rule (an error, not a warning).
    fn breaks_a_rule(self) -> bool {
        !matches!(self, Mutation::None | Mutation::NegativePrice)
    }
}

/// The shape of a generated state.
#[derive(Debug, Clone)]
struct Shape {
    meters: usize,
    extra_measure: bool,
    derived: bool,
    aggregations_per_meter: usize,
    segmented: bool,
    compound: bool,
    plans: usize,
    bespoke: bool,
    bands: usize,
    accounts: usize,
    price: u8,
    mutation: Mutation,
}

fn shapes() -> impl Strategy<Value = Shape> {
    let mutation = prop_oneof![
        2 => Just(Mutation::None),
        8 => proptest::sample::select(Mutation::ALL.to_vec()),
    ];
    (
        (1..=2usize, any::<bool>(), any::<bool>(), 1..=2usize),
        (any::<bool>(), any::<bool>(), 1..=2usize, any::<bool>()),
        (1..=3usize, 1..=2usize, 1..=9u8, mutation),
    )
        .prop_map(
            |(
                (meters, extra_measure, derived, aggregations_per_meter),
                (segmented, compound, plans, bespoke),
                (bands, accounts, price, mutation),
            )| Shape {
                meters,
                extra_measure,
                derived,
                aggregations_per_meter,
                segmented,
                compound,
                plans,
                bespoke,
                bands,
                accounts,
                price,
                mutation,
            },
        )
}

/// One entity as written: its kind and its YAML mapping (references by
/// code under their YAML keys).
#[derive(Debug, Clone)]
struct Entity {
    kind: Kind,
    yaml: Map<String, Value>,
}

fn obj(v: Value) -> Map<String, Value> {
    match v {
        Value::Object(m) => m,
        other => panic!("not an object: {other}"),
    }
}

const START: &str = "2024-11-01T00:00:00Z";
const AP_START: &str = "2024-12-01T00:00:00Z";
const AP_SWITCH: &str = "2025-06-01T00:00:00Z";

/// The entities of `s`, the mutation applied.
fn generate(s: &Shape) -> Vec<Entity> {
    use Mutation as M;
    let m = s.mutation;
    let derived = s.derived || matches!(m, M::DerivedUnknownField | M::DerivedBadFormula);
    let compound = s.compound || matches!(m, M::CompoundUnknownAggregation | M::CompoundBadFormula);
    let plans = if m == M::BespokeOnOtherAccount {
        2
    } else {
        s.plans
    };
    let bespoke = s.bespoke || m == M::BespokeOnOtherAccount;
    let bands = if m == M::DuplicateLowerLimit {
        s.bands.max(2)
    } else {
        s.bands
    };
    let mut out = Vec::new();
    let mut add = |kind: Kind, v: Value| out.push(Entity { kind, yaml: obj(v) });

    add(Kind::Product, json!({"code": "p", "name": "P"}));
    for i in 0..s.meters {
        let mut data = vec![
            json!({"code": "q", "name": "Q", "category": "MEASURE", "unit": "n"}),
            json!({"code": "user", "name": "User", "category": "WHO"}),
        ];
        if s.extra_measure {
            data.push(json!({"code": "r", "name": "R", "category": "MEASURE", "unit": "n"}));
        }
        if i == 0 && m == M::DuplicateFieldCode {
            data.push(json!({"code": "q", "name": "Q again", "category": "MEASURE", "unit": "n"}));
        }
        if i == 0 && m == M::MeasureWithoutUnit {
            data[0].as_object_mut().expect("field").remove("unit");
        }
        let mut derived_fields = Vec::new();
        if derived {
            let calculation = match m {
                M::DerivedUnknownField if i == 0 => "q * nope",
                M::DerivedBadFormula if i == 0 => "q * (",
                _ if s.extra_measure => "q * r",
                _ => "q * 2",
            };
            derived_fields.push(
                json!({"code": "d", "name": "D", "category": "MEASURE", "unit": "n",
                                       "calculation": calculation}),
            );
        }
        add(
            Kind::Meter,
            json!({"code": format!("m{i}"), "name": format!("M{i}"), "product": "p",
                   "dataFields": data, "derivedFields": derived_fields}),
        );
    }
    for i in 0..s.meters {
        for j in 0..s.aggregations_per_meter {
            let (mut target, mut function) = match j {
                0 => ("q", "SUM"),
                _ if derived => ("d", "MAX"),
                _ => ("user", "UNIQUE"),
            };
            let first = i == 0 && j == 0;
            if first {
                match m {
                    M::TargetFieldTypo => target = "qq",
                    M::SumOverText => target = "user",
                    M::UniqueOverMeasure => function = "UNIQUE",
                    M::CustomSqlWithoutQuery => function = "CUSTOM_SQL",
                    _ => {}
                }
            }
            let mut a = json!({"code": format!("a{i}_{j}"), "name": format!("A{i} {j}"),
                               "meter": format!("m{i}"), "targetField": target,
                               "aggregation": function, "rounding": "NONE",
                               "quantityPerUnit": 1, "unit": "u"});
            if first && m == M::SegmentedUnknownField {
                a["segmentedFields"] = json!(["usr"]);
            } else if j == 0 && s.segmented {
                a["segmentedFields"] = json!(["user"]);
            }
            add(Kind::Aggregation, a);
        }
    }
    if compound {
        let calculation = match m {
            M::CompoundUnknownAggregation => "aggregation.zz * 2",
            M::CompoundBadFormula => "aggregation.a0_0 *",
            _ => "aggregation.a0_0 * 2",
        };
        add(
            Kind::CompoundAggregation,
            json!({"code": "c", "name": "C", "calculation": calculation, "rounding": "NONE",
                   "quantityPerUnit": 1, "unit": "u"}),
        );
    }
    let currency = if m == M::CurrencyNotIso { "ZZZ" } else { "USD" };
    add(
        Kind::PlanTemplate,
        json!({"code": "t", "name": "T", "product": "p", "currency": currency,
               "standingCharge": 0, "billFrequency": "MONTHLY"}),
    );
    let mut accounts: Vec<String> = (0..s.accounts).map(|k| format!("acc{k}")).collect();
    if m == M::BespokeOnOtherAccount {
        accounts.push("intruder".into());
    }
    for a in &accounts {
        add(
            Kind::Account,
            json!({"code": a, "name": a, "emailAddress": format!("{a}@billing.test")}),
        );
    }
    for k in 0..plans {
        let mut p =
            json!({"code": format!("plan{k}"), "name": format!("Plan {k}"), "planTemplate": "t"});
        if k == 1 && bespoke {
            p["account"] = json!("acc0");
        }
        add(Kind::Plan, p);
    }
    let band = |b: usize| {
        let lower = if b == 0 { 0 } else { 10_i64.pow(b as u32 + 1) };
        json!({"lowerLimit": lower, "fixedPrice": 0, "unitPrice": f64::from(s.price) / (b as f64 + 1.0)})
    };
    for (k, owner) in (0..plans).map(|k| (k, format!("plan{k}"))) {
        let mut bs: Vec<Value> = (0..bands).map(band).collect();
        let mut p = json!({"plan": owner, "aggregation": "a0_0", "startDate": START});
        if k == 0 {
            match m {
                M::NegativePrice => bs[0]["unitPrice"] = json!(-1),
                M::BandsNotFromZero => bs[0]["lowerLimit"] = json!(5),
                M::DuplicateLowerLimit => bs[1]["lowerLimit"] = json!(0),
                M::PricingEndNotAfterStart => p["endDate"] = json!(START),
                M::OverageOnVolume => {
                    p["cumulative"] = json!(false);
                    p["overagePricingBands"] =
                        json!([{"lowerLimit": 0, "fixedPrice": 0, "unitPrice": 2}]);
                }
                _ => {}
            }
        }
        p["pricingBands"] = json!(bs);
        add(Kind::Pricing, p);
    }
    if compound {
        add(
            Kind::Pricing,
            json!({"plan": "plan0", "compoundAggregation": "c", "startDate": START,
                   "pricingBands": [band(0)]}),
        );
    }
    // acc0 moves from plan0 to plan1 at AP_SWITCH (end exclusive: no
    // overlap); acc1 stays on plan0.
    let mut ap0 = json!({"account": "acc0", "plan": "plan0", "startDate": AP_START});
    if plans == 2 {
        ap0["endDate"] = json!(AP_SWITCH);
    }
    if m == M::AccountPlanEndBeforeStart {
        ap0["endDate"] = json!(START);
    }
    add(Kind::AccountPlan, ap0);
    if plans == 2 {
        add(
            Kind::AccountPlan,
            json!({"account": "acc0", "plan": "plan1", "startDate": AP_SWITCH}),
        );
    }
    if s.accounts == 2 {
        add(
            Kind::AccountPlan,
            json!({"account": "acc1", "plan": "plan0", "startDate": AP_START}),
        );
    }
    if m == M::OverlappingAccountPlans {
        add(
            Kind::AccountPlan,
            json!({"account": "acc0", "plan": "plan0", "startDate": "2025-01-01T00:00:00Z"}),
        );
    }
    if m == M::BespokeOnOtherAccount {
        add(
            Kind::AccountPlan,
            json!({"account": "intruder", "plan": "plan1", "startDate": AP_START}),
        );
    }
    out
}

/// The YAML of `entities` (one flow mapping per line, grouped by kind)
/// and the line each entity is on, in the order of `entities`.
fn render(entities: &[Entity]) -> (String, Vec<usize>) {
    let mut text = String::new();
    let mut lines = vec![0; entities.len()];
    let mut line = 0;
    for kind in Kind::ALL {
        let of_kind: Vec<usize> = (0..entities.len())
            .filter(|&i| entities[i].kind == kind)
            .collect();
        if of_kind.is_empty() {
            continue;
        }
        text.push_str(kind.section());
        text.push_str(":\n");
        line += 1;
        for i in of_kind {
            line += 1;
            lines[i] = line;
            text.push_str(&format!(
                "  - {}\n",
                Value::Object(entities[i].yaml.clone())
            ));
        }
    }
    (text, lines)
}

/// The order the emulator needs: a kind after the kinds it references
/// (bespoke plans name accounts).
const POST_ORDER: [Kind; 9] = [
    Kind::Product,
    Kind::Meter,
    Kind::Aggregation,
    Kind::CompoundAggregation,
    Kind::PlanTemplate,
    Kind::Account,
    Kind::Plan,
    Kind::Pricing,
    Kind::AccountPlan,
];

/// POSTs every entity straight to `emu`, references replaced by the ids
/// the emulator gave their targets. Returns the indexes of the entities it
/// refused (4xx) with its messages; an entity whose target was refused is
/// not sent.
async fn post_all(emu: &Emu, entities: &[Entity]) -> Vec<(usize, String)> {
    let mut ids: HashMap<(Kind, String), String> = HashMap::new();
    let mut refused = Vec::new();
    for kind in POST_ORDER {
        'entity: for (i, e) in entities.iter().enumerate().filter(|(_, e)| e.kind == kind) {
            if !formula_targets_exist(e, entities, &ids) {
                continue;
            }
            let mut body = e.yaml.clone();
            for r in kind.references() {
                let Some(code) = body.remove(r.yaml_key) else {
                    continue;
                };
                let code = code.as_str().expect("a code").to_owned();
                match ids.get(&(r.target, code)) {
                    Some(id) => {
                        body.insert(r.field.into(), json!(id));
                    }
                    None => continue 'entity,
                }
            }
            let (status, v) = emu.post(kind.collection(), Value::Object(body)).await;
            if status.is_client_error() {
                refused.push((i, format!("{status} {v}")));
            } else {
                assert!(
                    status.is_success(),
                    "{kind} {}: {status} {v}",
                    Value::Object(e.yaml.clone())
                );
                if let Some(code) = e.yaml.get("code").and_then(Value::as_str) {
                    ids.insert((kind, code.to_owned()), crate::common::id(&v));
                }
            }
        }
    }
    refused
}

/// Whether every aggregation of the state that a compound's formula names
/// was created: one the emulator refused would make the compound's refusal
/// a consequence, not a finding of its own.
fn formula_targets_exist(
    e: &Entity,
    entities: &[Entity],
    ids: &HashMap<(Kind, String), String>,
) -> bool {
    let Some(calc) = e.yaml.get("calculation").and_then(Value::as_str) else {
        return true;
    };
    if e.kind != Kind::CompoundAggregation {
        return true;
    }
    let Ok(expr) = m3ter_api::calc::parse(calc) else {
        return true;
    };
    expr.names().into_iter().all(|name| {
        let code = name.strip_prefix("aggregation.").unwrap_or(name);
        let desired = entities
            .iter()
            .any(|a| a.kind == Kind::Aggregation && a.yaml.get("code") == Some(&json!(code)));
        !desired || ids.contains_key(&(Kind::Aggregation, code.to_owned()))
    })
}

/// Runs the binary in `dir` against `emu` (or none).
async fn m3ter(dir: &Path, emu: Option<&Emu>, args: &[&str]) -> Output {
    let mut cmd = tokio::process::Command::new(bin());
    cmd.current_dir(dir)
        .args(args)
        .stdin(std::process::Stdio::null());
    for (k, _) in std::env::vars() {
        if k.starts_with("M3TER_") {
            cmd.env_remove(k);
        }
    }
    if let Some(e) = emu {
        cmd.env("M3TER_ORG_ID", ORG)
            .env("M3TER_API_KEY", KEY)
            .env("M3TER_API_SECRET", SECRET)
            .env("M3TER_BASE_URL", e.emu.base_url());
    }
    cmd.env("NO_COLOR", "1").output().await.expect("m3ter runs")
}

/// The lines (of `state.yaml`) of the errors validate printed.
fn error_lines(stderr: &str) -> Result<BTreeSet<usize>, String> {
    stderr
        .lines()
        .filter_map(|l| l.strip_prefix("error: "))
        .map(|l| {
            let rest = l
                .strip_prefix("desired-state/state.yaml:")
                .ok_or_else(|| format!("an error not in state.yaml: {l}"))?;
            rest.split(':')
                .next()
                .and_then(|n| n.parse().ok())
                .ok_or_else(|| format!("an error without a line: {l}"))
        })
        .collect()
}

/// What one case exercised.
#[derive(Debug, PartialEq, Eq)]
enum Seen {
    /// validate accepted and apply applied.
    Applied,
    /// validate rejected and the emulator refused a reported entity.
    Refused,
}

/// Checks both directions for one shape.
async fn check(shape: &Shape) -> Result<Seen, String> {
    let entities = generate(shape);
    let (yaml, lines) = render(&entities);
    let tmp = tempfile::tempdir().expect("temp dir");
    std::fs::create_dir(tmp.path().join("desired-state")).expect("mkdir");
    std::fs::write(tmp.path().join("desired-state/state.yaml"), &yaml).expect("write");
    let fail = |what: String| Err(format!("{what}\n--- {shape:?}\n--- state.yaml\n{yaml}"));

    let validate = m3ter(tmp.path(), None, &["validate"]).await;
    let stderr = String::from_utf8_lossy(&validate.stderr).into_owned();
    let accepted = validate.status.success();
    if accepted == shape.mutation.breaks_a_rule() {
        return fail(format!(
            "validate {} a state with mutation {:?}:\n{stderr}",
            if accepted { "accepted" } else { "rejected" },
            shape.mutation
        ));
    }
    let flagged: BTreeSet<usize> = match error_lines(&stderr) {
        Ok(lines) => lines,
        Err(e) => return fail(e),
    };
    let line_of = |i: usize| lines[i];

    // Direction 2: straight to the emulator, no offline check.
    let direct = Emu::start().await;
    let refused = post_all(&direct, &entities).await;
    direct.emu.shutdown().await.expect("emulator stops");
    let missed: Vec<_> = refused
        .iter()
        .filter(|(i, _)| !flagged.contains(&line_of(*i)))
        .collect();
    if !missed.is_empty() {
        return fail(format!(
            "the emulator refused entities validate did not report (line, answer): {:?}\nvalidate said:\n{stderr}",
            missed
                .iter()
                .map(|(i, m)| (line_of(*i), m))
                .collect::<Vec<_>>()
        ));
    }
    if !flagged.is_empty() && refused.is_empty() {
        return fail(format!(
            "validate reported errors but the emulator accepted every entity:\n{stderr}"
        ));
    }

    // Direction 1: what validate accepts, apply applies.
    if !accepted {
        return Ok(Seen::Refused);
    }
    {
        let fresh = Emu::start().await;
        let out = m3ter(
            tmp.path(),
            Some(&fresh),
            &["apply", "--auto-approve", "--rate-limit", "0"],
        )
        .await;
        fresh.emu.shutdown().await.expect("emulator stops");
        if !out.status.success() {
            return fail(format!(
                "validate accepted, apply failed:\n{}\n{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            ));
        }
    }
    Ok(Seen::Applied)
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime")
}

/// Every mutation once, on a shape that has every kind.
#[test]
fn every_mutation_keeps_the_promise() {
    let rt = runtime();
    let mut failures = Vec::new();
    for mutation in Mutation::ALL {
        let shape = Shape {
            meters: 2,
            extra_measure: true,
            derived: true,
            aggregations_per_meter: 2,
            segmented: true,
            compound: true,
            plans: 2,
            bespoke: true,
            bands: 3,
            accounts: 2,
            price: 3,
            mutation,
        };
        match rt.block_on(check(&shape)) {
            Ok(seen) => assert_eq!(
                seen == Seen::Refused,
                mutation.breaks_a_rule(),
                "{mutation:?}"
            ),
            Err(e) => failures.push(e),
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n=====\n\n"));
}

/// Random shapes and mutations, from a fixed seed.
#[test]
fn generated_states_keep_the_promise() {
    let rt = runtime();
    let config = Config {
        cases: 48,
        failure_persistence: None,
        rng_seed: RngSeed::Fixed(7),
        max_shrink_iters: 64,
        ..Config::default()
    };
    let mut runner = TestRunner::new(config);
    let seen = std::cell::RefCell::new(Vec::new());
    let result = runner.run(&shapes(), |shape| {
        let s = rt.block_on(check(&shape)).map_err(TestCaseError::fail)?;
        seen.borrow_mut().push(s);
        Ok(())
    });
    if let Err(e) = result {
        panic!("{e}");
    }
    // Both directions ran: the seed yields valid and broken states.
    let seen = seen.into_inner();
    let applied = seen.iter().filter(|s| **s == Seen::Applied).count();
    assert!(
        applied > 0 && applied < seen.len(),
        "{applied} of {} cases applied",
        seen.len()
    );
}
