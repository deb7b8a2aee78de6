//! `m3ter_reconcile::desired::load` on the shipped example and on small
//! directories: what the planner receives (fields, references, addresses).

use crate::common;

use std::path::Path;

use m3ter_reconcile::address::Address;
use m3ter_reconcile::desired::{DesiredState, Diagnostics, VarInputs, load};
use m3ter_reconcile::graph::Graph;
use serde_json::json;

fn a(s: &str) -> Address {
    s.parse().expect("address")
}

fn example(vars: &[&str]) -> DesiredState {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("desired-state");
    let inputs = VarInputs {
        cli: vars.iter().map(ToString::to_string).collect(),
        env: vec![],
        files: vec![],
    };
    load(&dir, &inputs).unwrap_or_else(|d| panic!("example invalid:\n{d}"))
}

/// Loads YAML files written to a temporary directory.
fn load_files(files: &[(&str, &str)]) -> Result<DesiredState, Diagnostics> {
    let tmp = tempfile::tempdir().expect("temp dir");
    for (name, text) in files {
        std::fs::write(tmp.path().join(name), text).expect("write");
    }
    load(tmp.path(), &VarInputs::default())
}

fn messages(d: &Diagnostics) -> Vec<String> {
    d.iter()
        .map(|d| {
            let name = d
                .file
                .as_ref()
                .and_then(|f| f.file_name())
                .map(|f| f.to_string_lossy().into_owned())
                .unwrap_or_default();
            format!(
                "{name}:{}:{}: {}{}",
                d.line.unwrap_or(0),
                d.column.unwrap_or(0),
                d.message,
                d.hint
                    .as_ref()
                    .map(|h| format!("; {h}"))
                    .unwrap_or_default()
            )
        })
        .collect()
}

#[test]
fn the_example_resolves_to_fields_and_references() {
    let state = example(&[]);
    // The seed's 14 entities and billing.yaml's 9.
    assert_eq!(state.entities.len(), 23);

    let pricing =
        &state.entities[&a("pricing.lambda_plan_api_6/duration_aggregation_api_6@2024-11-01")];
    assert_eq!(
        serde_json::Value::Object(pricing.fields.clone()),
        json!({
            "description": "Duration",
            "type": "DEBIT",
            "startDate": "2024-11-01T00:00:00Z",
            "cumulative": true,
            "tiersSpanPlan": false,
            "minimumSpend": 0,
            "pricingBands": [
                {"lowerLimit": 0, "fixedPrice": 0, "unitPrice": 0.00001833337},
                {"lowerLimit": 6_000_000_000_i64, "fixedPrice": 0, "unitPrice": 0.0000165},
                {"lowerLimit": 15_000_000_000_i64, "fixedPrice": 0, "unitPrice": 0.00001466674},
            ]
        })
    );
    assert_eq!(
        pricing
            .refs
            .iter()
            .map(|(k, v)| (k.as_str(), v.to_string()))
            .collect::<Vec<_>>(),
        [
            (
                "aggregationId",
                "aggregation.duration_aggregation_api_6".to_string()
            ),
            ("planId", "plan.lambda_plan_api_6".to_string()),
        ]
    );
    let source = pricing.source.as_ref().expect("source");
    assert!(source.file.ends_with("pricing.yaml"));
    assert_eq!((source.line, source.column), (20, 5));

    let meter = &state.entities[&a("meter.compute_and_requests_meter_api_6")];
    assert_eq!(
        meter.fields["derivedFields"][0]["calculation"],
        "memory_consumption_api_6*execution_time_api_6"
    );
    assert!(!meter.fields.contains_key("productId"));
    assert_eq!(meter.refs["productId"], a("product.aws_lambda_api_6"));

    let account = &state.entities[&a("account.pluto_llp_api_6")];
    assert_eq!(account.fields["address"]["postCode"], "60007");
    assert_eq!(account.fields["name"], "Pluto LLP API 6");

    let plan = &state.entities[&a("accountPlan.pluto_llp_api_6/lambda_plan_api_6@2024-12-01")];
    assert_eq!(plan.fields["startDate"], "2024-12-01T00:00:00Z");
    assert_eq!(plan.fields["childBillingMode"], "PARENT_BREAKDOWN");
    assert_eq!(plan.refs["accountId"], a("account.pluto_llp_api_6"));
}

#[test]
fn the_example_graph_orders_dependencies_first() {
    let state = example(&["suffix=x", "suffix_title=X"]);
    let graph = Graph::build(&state).expect("no cycle");
    let order = graph.topo_order();
    let at = |s: &str| order.iter().position(|x| *x == a(s)).expect(s);
    for (dep, dependent) in [
        ("product.aws_lambda_x", "meter.compute_and_requests_meter_x"),
        (
            "meter.compute_and_requests_meter_x",
            "aggregation.duration_aggregation_x",
        ),
        ("planTemplate.lambda_template_x", "plan.lambda_plan_x"),
        (
            "plan.lambda_plan_x",
            "accountPlan.pluto_llp_x/lambda_plan_x@2024-12-01",
        ),
        (
            "account.pluto_llp_x",
            "accountPlan.pluto_llp_x/lambda_plan_x@2024-12-01",
        ),
    ] {
        assert!(at(dep) < at(dependent), "{dep} before {dependent}");
    }
    let targets = [a(
        "pricing.lambda_plan_x/total_number_of_requests_x@2024-11-01",
    )];
    let closure: Vec<String> = graph
        .closure(&targets)
        .iter()
        .map(ToString::to_string)
        .collect();
    assert_eq!(
        closure,
        [
            "product.aws_lambda_x",
            "meter.compute_and_requests_meter_x",
            "aggregation.total_number_of_requests_x",
            "planTemplate.lambda_template_x",
            "plan.lambda_plan_x",
            "pricing.lambda_plan_x/total_number_of_requests_x@2024-11-01",
        ]
    );
}

const BASE: &str = "
products:
  - {code: p, name: P}
meters:
  - code: m
    name: M
    product: p
    dataFields: [{category: MEASURE, code: x, name: X, unit: n}, {category: WHO, code: tier, name: Tier}, {category: WHERE, code: region, name: Region}]
aggregations:
  - {code: a1, name: A1, meter: m, targetField: x, aggregation: SUM, rounding: NONE, quantityPerUnit: 1, unit: u, segmentedFields: [tier, region], segments: [{tier: gold, region: eu}]}
  - {code: a2, name: A2, meter: m, targetField: x, aggregation: MAX, rounding: NONE, quantityPerUnit: 1, unit: u}
";

#[test]
fn compound_aggregations_depend_on_the_aggregations_they_name() {
    let state = load_files(&[
        ("base.yaml", BASE),
        (
            "compound.yaml",
            "compoundAggregations:\n  - {code: c, name: C, calculation: 'aggregation.a2 + a1 * account.x', rounding: NONE, quantityPerUnit: 1, unit: u}\n",
        ),
    ])
    .unwrap_or_else(|d| panic!("{d}"));
    let c = &state.entities[&a("compoundAggregation.c")];
    assert_eq!(c.extra_deps, [a("aggregation.a2"), a("aggregation.a1")]);
    let graph = Graph::build(&state).expect("graph");
    assert_eq!(
        graph.dependencies_of(&a("compoundAggregation.c")),
        [a("aggregation.a1"), a("aggregation.a2")]
    );

    let err = load_files(&[
        ("base.yaml", BASE),
        (
            "compound.yaml",
            "compoundAggregations:\n  - {code: c, name: C, calculation: 'aggregation.a3 * 2', rounding: NONE, quantityPerUnit: 1, unit: u}\n",
        ),
    ])
    .unwrap_err();
    // The rule's own wording is snapshotted in m3ter-api; here, the place.
    let msgs = messages(&err);
    assert_eq!(msgs.len(), 1, "{msgs:?}");
    assert!(
        msgs[0].starts_with(
            "compound.yaml:2:37: compoundAggregation: `calculation` names `aggregation.a3`, which is no aggregation's code"
        ),
        "{msgs:?}"
    );
}

#[test]
fn documents_nulls_and_yaml_1_2_scalars() {
    let state = load_files(&[(
        "all.yaml",
        "products:\n  - {code: p, name: 'yes'}\n---\nproducts:\n  - code: no\n    name: No\n    customFields: {flag: yes, size: 6e9, gone: null}\n",
    )])
    .unwrap_or_else(|d| panic!("{d}"));
    let p = &state.entities[&a("product.no")];
    assert_eq!(p.fields["name"], "No");
    assert_eq!(
        p.fields["customFields"],
        json!({"flag": "yes", "size": 6_000_000_000_i64})
    );
    assert_eq!(state.entities[&a("product.p")].fields["name"], "yes");
}

#[test]
fn own_codes_and_segments_in_keys() {
    let state = load_files(&[
        ("base.yaml", BASE),
        (
            "more.yaml",
            "planTemplates:\n  - {code: t, name: T, product: p, currency: USD, standingCharge: 0, billFrequency: MONTHLY}\n\
             pricings:\n  - {planTemplate: t, aggregation: a1, startDate: '2024-11-30T23:00:00-02:00', segment: {tier: gold, region: eu}, pricingBands: [{lowerLimit: 0, fixedPrice: 0, unitPrice: 1}]}\n\
             \x20 - {code: special, planTemplate: t, aggregation: a2, startDate: 2024-11-01, pricingBands: [{lowerLimit: 0, fixedPrice: 0, unitPrice: 1}]}\n",
        ),
    ])
    .unwrap_or_else(|d| panic!("{d}"));
    let segmented =
        &state.entities[&a("pricing[\"template:t/a1@2024-12-01#region=eu,tier=gold\"]")];
    assert_eq!(segmented.fields["startDate"], "2024-12-01T01:00:00Z");
    assert!(state.entities.contains_key(&a("pricing.special")));
}

#[test]
fn a_broken_file_stops_before_reference_errors() {
    // The syntax error is reported alone: the entities of the broken file
    // would otherwise show up as unknown references.
    let err = load_files(&[
        ("a.yaml", "products: [\n"),
        ("b.yaml", "meters:\n  - {code: m, name: M, product: p, dataFields: [{category: MEASURE, code: x, name: X}]}\n"),
    ])
    .unwrap_err();
    let msgs = messages(&err);
    assert_eq!(msgs.len(), 1, "{msgs:?}");
    assert!(msgs[0].starts_with("a.yaml:"), "{msgs:?}");
    assert!(msgs[0].contains("invalid YAML"), "{msgs:?}");
}

#[test]
fn entity_errors_wait_for_a_later_broken_file() {
    // `a.yaml`'s meter needs no variables, so it is converted as soon as
    // its file is read; its error still waits for the files after it.
    let err = load_files(&[
        (
            "a.yaml",
            "meters:\n  - {code: m, name: M, dataFields: [{category: NOPE, code: x, name: X}]}\n",
        ),
        ("b.yaml", "products: [\n"),
    ])
    .unwrap_err();
    let msgs = messages(&err);
    assert_eq!(msgs.len(), 1, "{msgs:?}");
    assert!(msgs[0].starts_with("b.yaml:"), "{msgs:?}");
    assert!(msgs[0].contains("invalid YAML"), "{msgs:?}");
}

#[test]
fn a_duplicate_names_the_first_written_with_or_without_variables() {
    // The first is converted after the variables, the second at once: the
    // order written still decides which one is "also defined".
    let err = load_files(&[
        (
            "a.yaml",
            "variables:\n  label: First\nproducts:\n  - {code: p, name: \"${var.label}\"}\n",
        ),
        ("b.yaml", "products:\n  - {code: p, name: Second}\n"),
    ])
    .unwrap_err();
    let msgs = messages(&err);
    assert_eq!(msgs.len(), 1, "{msgs:?}");
    assert!(
        msgs[0].starts_with("b.yaml:2:5: duplicate address `product.p`: also defined at "),
        "{msgs:?}"
    );
    assert!(msgs[0].ends_with("/a.yaml:4:5"), "{msgs:?}");
}

#[test]
fn only_yaml_files_directly_in_the_directory_count() {
    let tmp = tempfile::tempdir().expect("temp dir");
    std::fs::write(tmp.path().join("p.yml"), "products: [{code: p, name: P}]\n").expect("write");
    std::fs::write(tmp.path().join("notes.txt"), "not: yaml: at all").expect("write");
    std::fs::create_dir(tmp.path().join("nested")).expect("dir");
    std::fs::write(
        tmp.path().join("nested/q.yaml"),
        "products: [{code: q, name: Q}]\n",
    )
    .expect("write");
    let state = load(tmp.path(), &VarInputs::default()).unwrap_or_else(|d| panic!("{d}"));
    assert_eq!(
        state.entities.keys().cloned().collect::<Vec<_>>(),
        [a("product.p")]
    );
}

#[test]
fn invalid_utf8_names_the_line_and_column_of_the_first_bad_byte() {
    // Through the binary, as a user meets it: `m3ter validate -d DIR`. The
    // bad byte is on line 3, after `  - {code: p, name: "é` (22 characters).
    let tmp = tempfile::tempdir().expect("temp dir");
    let mut bytes = b"# products\nproducts:\n  - {code: p, name: \"\xc3\xa9".to_vec();
    bytes.extend_from_slice(b"\xff\"}\n");
    std::fs::write(tmp.path().join("p.yaml"), &bytes).expect("write");
    let out = std::process::Command::new(common::cli::bin())
        .args(["validate", "--no-color", "-d"])
        .arg(tmp.path())
        .output()
        .expect("m3ter runs");
    let err = common::cli::stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{}", common::cli::text(&out));
    let file = tmp.path().join("p.yaml");
    assert!(
        err.contains(&format!(
            "{}:3:23: invalid UTF-8 (byte 0xff); save the file as UTF-8",
            file.display()
        )),
        "{err}"
    );
}
