//! The one rule set (m3ter_api::rules) as the emulator enforces it over
//! HTTP: each rule that neither side enforced before is a 400 naming the
//! field, nothing is stored, and a warning-only body is accepted.

use crate::common;

use common::{Chain, Emu, account_body, id, message, meter_body};
use reqwest::StatusCode;
use serde_json::{Value, json};

/// How many entities a collection lists.
async fn count(e: &Emu, collection: &str) -> usize {
    let (status, v) = e.get(&format!("{collection}?pageSize=100")).await;
    assert_eq!(status, StatusCode::OK, "{v}");
    v["data"].as_array().map_or(0, Vec::len)
}

/// POSTs `body`, asserting a 400 whose message holds every needle and that
/// the collection did not grow; returns the message.
async fn refused(e: &Emu, collection: &str, body: Value, needles: &[&str]) -> String {
    let before = count(e, collection).await;
    let (status, v) = e.post(collection, body).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{v}");
    let msg = message(&v).to_owned();
    for n in needles {
        assert!(msg.contains(n), "{n:?} not in {msg:?}");
    }
    assert_eq!(
        count(e, collection).await,
        before,
        "a refused body was stored"
    );
    msg
}

fn aggregation(c: &Chain, extra: Value) -> Value {
    let mut a = json!({"name": "A2", "code": "agg2", "meterId": c.meter, "targetField": "q",
                       "aggregation": "SUM", "rounding": "NONE", "quantityPerUnit": 1, "unit": "u"});
    a.as_object_mut()
        .unwrap()
        .extend(extra.as_object().unwrap().clone());
    a
}

fn pricing(c: &Chain, extra: Value) -> Value {
    // On the template: the chain's plan prices the aggregation already, and
    // a second pricing of it there would overlap that one.
    let mut p = json!({"planTemplateId": c.template, "aggregationId": c.aggregation,
                       "startDate": "2026-01-01T00:00:00Z",
                       "pricingBands": [{"lowerLimit": 0, "fixedPrice": 0, "unitPrice": 1}]});
    p.as_object_mut()
        .unwrap()
        .extend(extra.as_object().unwrap().clone());
    p
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn derived_formulas_parse_and_name_fields_of_the_meter() {
    let e = Emu::start().await;
    let with_derived = |calc: &str| {
        let mut m = meter_body("m2", None);
        m["derivedFields"] = json!([{"category": "MEASURE", "code": "d", "name": "D", "unit": "n",
                                     "calculation": calc}]);
        m
    };
    refused(
        &e,
        "meters",
        with_derived("q * qq"),
        &["`derivedFields[0].calculation` names `qq`", "q, user"],
    )
    .await;
    refused(
        &e,
        "meters",
        with_derived("q *"),
        &["`derivedFields[0].calculation`", "does not parse"],
    )
    .await;
    refused(
        &e,
        "meters",
        with_derived("d + 1"),
        &["loop of derived fields: d -> d"],
    )
    .await;
    e.create("meters", with_derived("q * 2 / (1 + 1)")).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn compound_formulas_name_existing_aggregations() {
    let e = Emu::start().await;
    // The chain's aggregation `agg` is the one a formula may name.
    e.chain().await;
    let compound = |calc: &str| {
        json!({"name": "C", "code": "c", "rounding": "NONE", "quantityPerUnit": 1, "unit": "u",
               "calculation": calc})
    };
    let msg = refused(
        &e,
        "compoundaggregations",
        compound("aggregation.agx * 2"),
        &["`calculation` names `aggregation.agx`"],
    )
    .await;
    assert!(msg.contains("known: agg"), "{msg}");
    refused(
        &e,
        "compoundaggregations",
        compound("agg +"),
        &["`calculation`", "does not parse"],
    )
    .await;
    let ok = e
        .create(
            "compoundaggregations",
            compound("agg * 2 + aggregation.agg"),
        )
        .await;
    assert_eq!(ok["calculation"], "agg * 2 + aggregation.agg");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_aggregation_function_suits_the_field_category() {
    let e = Emu::start().await;
    let c = e.chain().await;
    refused(
        &e,
        "aggregations",
        aggregation(&c, json!({"targetField": "user"})),
        &["`aggregation` SUM", "`user`", "WHO"],
    )
    .await;
    refused(
        &e,
        "aggregations",
        aggregation(&c, json!({"aggregation": "UNIQUE"})),
        &["`aggregation` UNIQUE", "MEASURE"],
    )
    .await;
    refused(
        &e,
        "aggregations",
        aggregation(&c, json!({"aggregation": "CUSTOM_SQL"})),
        &["`customSql`"],
    )
    .await;
    e.create(
        "aggregations",
        aggregation(&c, json!({"targetField": "user", "aggregation": "UNIQUE"})),
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pricing_segments_are_values_the_aggregation_defines() {
    let e = Emu::start().await;
    let c = e.chain().await;
    let segmented = e
        .create(
            "aggregations",
            aggregation(&c, json!({"segmentedFields": ["user"], "segments": [{"user": "alice"}, {"user": "bob"}]})),
        )
        .await;
    let on = |seg: Value| pricing(&c, json!({"aggregationId": id(&segmented), "segment": seg}));
    refused(
        &e,
        "pricings",
        on(json!({"user": "carol"})),
        &["`segment` {user=carol}", "{user=alice}, {user=bob}"],
    )
    .await;
    refused(
        &e,
        "pricings",
        pricing(&c, json!({"segment": {"user": "alice"}})),
        &["`segment`", "defines no `segments`"],
    )
    .await;
    refused(
        &e,
        "aggregations",
        aggregation(&c, json!({"code": "agg3", "segmentedFields": ["q"]})),
        &["`segmentedFields[0]`", "MEASURE"],
    )
    .await;
    e.create("pricings", on(json!({"user": "bob"}))).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bands_start_at_zero_with_distinct_lower_limits() {
    let e = Emu::start().await;
    let c = e.chain().await;
    let bands = |b: Value| pricing(&c, json!({"pricingBands": b}));
    refused(
        &e,
        "pricings",
        bands(json!([{"lowerLimit": 10, "fixedPrice": 0, "unitPrice": 1}])),
        &["`pricingBands[0].lowerLimit` is 10", "start at 0"],
    )
    .await;
    refused(
        &e,
        "pricings",
        bands(json!([{"lowerLimit": 0, "fixedPrice": 0, "unitPrice": 1}, {"lowerLimit": 0, "fixedPrice": 0, "unitPrice": 2}])),
        &["`pricingBands[1].lowerLimit` 0 repeats `pricingBands[0].lowerLimit`"],
    )
    .await;
    refused(
        &e,
        "pricings",
        pricing(
            &c,
            json!({"overagePricingBands": [{"lowerLimit": 5, "fixedPrice": 0, "unitPrice": 1}]}),
        ),
        &["`overagePricingBands[0].lowerLimit` is 5"],
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn currencies_are_iso_4217_and_numeric_fields_have_units() {
    let e = Emu::start().await;
    let c = e.chain().await;
    let template = json!({"name": "T2", "code": "t2", "productId": c.product, "currency": "usd",
                          "standingCharge": 0, "billFrequency": "MONTHLY"});
    refused(
        &e,
        "plantemplates",
        template,
        &["`currency` \"usd\"", "`USD`"],
    )
    .await;
    let mut account = account_body("globex");
    account["currency"] = json!("XYZ");
    refused(
        &e,
        "accounts",
        account,
        &["`currency` \"XYZ\" is not an ISO 4217"],
    )
    .await;
    let mut meter = meter_body("m3", None);
    meter["dataFields"][0]
        .as_object_mut()
        .unwrap()
        .remove("unit");
    refused(&e, "meters", meter, &["`dataFields[0].unit` is missing"]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_broken_rule_is_in_one_answer() {
    let e = Emu::start().await;
    let c = e.chain().await;
    let body = pricing(
        &c,
        json!({"endDate": "2025-01-01T00:00:00Z",
               "pricingBands": [{"lowerLimit": 1, "fixedPrice": 0, "unitPrice": 1}]}),
    );
    refused(
        &e,
        "pricings",
        body,
        &["`endDate`", "`pricingBands[0].lowerLimit` is 1"],
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn warnings_do_not_refuse_a_body() {
    let e = Emu::start().await;
    let c = e.chain().await;
    // It ends when the next starts: overlapping pricings are an error.
    // (The warnings are the point here.)
    let negative = pricing(
        &c,
        json!({"endDate": "2027-01-01T00:00:00Z",
               "pricingBands": [{"lowerLimit": 0, "fixedPrice": -5, "unitPrice": -0.5}]}),
    );
    let created = e.create("pricings", negative).await;
    assert_eq!(created["pricingBands"][0]["unitPrice"], -0.5);
    let zero = pricing(
        &c,
        json!({"startDate": "2027-01-01T00:00:00Z",
               "pricingBands": [{"lowerLimit": 0, "fixedPrice": 0, "unitPrice": 0}]}),
    );
    e.create("pricings", zero).await;
}

/// On update the rules see the stored world without the entity's old
/// version: an account plan does not overlap itself.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_update_is_not_compared_with_its_old_self() {
    let e = Emu::start().await;
    let c = e.chain().await;
    let (status, v) = e
        .put(
            &format!("accountplans/{}", c.account_plan),
            json!({"accountId": c.account, "planId": c.plan, "startDate": "2024-01-01T00:00:00Z",
                   "endDate": "2030-01-01T00:00:00Z", "version": 1}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{v}");
    let second =
        json!({"accountId": c.account, "planId": c.plan, "startDate": "2029-01-01T00:00:00Z"});
    refused(
        &e,
        "accountplans",
        second,
        &[
            "account `acme` already has an account plan for product `prod`",
            "plan `plan`",
        ],
    )
    .await;
}
