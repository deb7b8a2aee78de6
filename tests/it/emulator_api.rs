//! The emulator's config API over real HTTP: auth, CRUD of the nine kinds,
//! validation and cross-entity rules, versions, deletes, lists.

use crate::common;

use std::time::Duration;

use common::{Emu, ORG, account_body, fetch_token, id, message, meter_body};
use m3ter_emulator::EmulatorConfig;
use reqwest::StatusCode;
use serde_json::{Value, json};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn token_endpoint_accepts_json_and_form_and_rejects_bad_credentials() {
    let e = Emu::start().await;
    let base = e.emu.base_url();
    let form = e
        .http
        .post(format!("{base}/oauth/token"))
        .basic_auth("local-key", Some("local-secret"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body("grant_type=client_credentials")
        .send()
        .await
        .unwrap();
    assert_eq!(form.status(), StatusCode::OK);
    let v: Value = form.json().await.unwrap();
    assert_eq!(v["token_type"], "Bearer");
    assert_eq!(v["expires_in"], 18000);
    assert!(v["scope"].is_null());
    assert!(v["access_token"].as_str().is_some_and(|t| t.len() >= 32));

    let bad = e
        .http
        .post(format!("{base}/oauth/token"))
        .basic_auth("local-key", Some("wrong"))
        .json(&json!({"grant_type": "client_credentials"}))
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), StatusCode::UNAUTHORIZED);
    let body: Value = bad.json().await.unwrap();
    assert!(!message(&body).contains("wrong"), "secret echoed: {body}");

    let none = e
        .http
        .post(format!("{base}/oauth/token"))
        .json(&json!({"grant_type": "client_credentials"}))
        .send()
        .await
        .unwrap();
    assert_eq!(none.status(), StatusCode::UNAUTHORIZED);

    let grant = e
        .http
        .post(format!("{base}/oauth/token"))
        .basic_auth("local-key", Some("local-secret"))
        .json(&json!({"grant_type": "password"}))
        .send()
        .await
        .unwrap();
    assert_eq!(grant.status(), StatusCode::BAD_REQUEST);

    // Unlimited token requests.
    for _ in 0..50 {
        fetch_token(&e.http, &base).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn org_paths_need_a_valid_token_and_the_right_org() {
    let e = Emu::start().await;
    let base = e.emu.base_url();
    let url = e.url("products");
    let no_token = e.http.get(&url).send().await.unwrap();
    assert_eq!(no_token.status(), StatusCode::FORBIDDEN);
    let v: Value = no_token.json().await.unwrap();
    assert!(message(&v).contains("Authorization"));

    let wrong = e.http.get(&url).bearer_auth("nope").send().await.unwrap();
    assert_eq!(wrong.status(), StatusCode::FORBIDDEN);

    let other_org = format!("{base}/organizations/11111111-0000-4000-8000-000000000001/products");
    let r = e
        .http
        .get(&other_org)
        .bearer_auth(&e.token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    let v: Value = r.json().await.unwrap();
    assert!(message(&v).contains("unknown organization"));

    let ok = e.http.get(&url).bearer_auth(&e.token).send().await.unwrap();
    assert_eq!(ok.status(), StatusCode::OK);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tokens_expire_after_their_ttl() {
    let e = Emu::with(EmulatorConfig {
        token_ttl: Duration::from_secs(1),
        ..Default::default()
    })
    .await;
    // No call before the sleep: it could come after the second on a loaded
    // machine. The sleep is a lower bound, so the token has always expired.
    tokio::time::sleep(Duration::from_millis(1200)).await;
    let (status, v) = e.get("products").await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert!(message(&v).contains("expired"), "{v}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_kind_supports_create_get_update_list_delete() {
    let e = Emu::start().await;
    let c = e.chain().await;
    let cases: [(&str, &String, &str, Value); 8] = [
        ("products", &c.product, "name", json!("Renamed")),
        ("meters", &c.meter, "name", json!("Renamed")),
        ("aggregations", &c.aggregation, "unit", json!("calls")),
        ("plantemplates", &c.template, "standingCharge", json!(5.5)),
        ("plans", &c.plan, "name", json!("Gold")),
        ("pricings", &c.pricing, "description", json!("per call")),
        ("accounts", &c.account, "name", json!("Acme Ltd")),
        ("accountplans", &c.account_plan, "code", json!("ap1")),
    ];
    for (coll, eid, field, value) in cases {
        let (status, got) = e.get(&format!("{coll}/{eid}")).await;
        assert_eq!(status, StatusCode::OK, "{coll}");
        assert_eq!(got["version"], 1);
        assert_eq!(got["createdBy"], "service-user:local-key");
        assert!(got["dtCreated"].as_str().unwrap().ends_with('Z'));
        assert!(!got.to_string().contains("local-secret"));
        let mut body = got.clone();
        body[field] = value.clone();
        let (status, updated) = e.put(&format!("{coll}/{eid}"), body).await;
        assert_eq!(status, StatusCode::OK, "{coll}: {updated}");
        assert_eq!(updated["version"], 2);
        assert_eq!(updated[field], value);
        assert_eq!(updated["dtCreated"], got["dtCreated"]);
        let (_, list) = e.get(coll).await;
        assert!(
            list["data"]
                .as_array()
                .unwrap()
                .iter()
                .any(|x| x["id"] == *eid.as_str())
        );
    }
    // Compound aggregations too.
    let ca = e
        .create(
            "compoundaggregations",
            json!({"name": "C", "code": "calls2", "rounding": "UP", "quantityPerUnit": 1,
                   "unit": "u", "calculation": "agg * 2", "productId": c.product}),
        )
        .await;
    let mut body = ca.clone();
    body["calculation"] = json!("agg * 3");
    let (status, v) = e
        .put(&format!("compoundaggregations/{}", id(&ca)), body)
        .await;
    assert_eq!(status, StatusCode::OK, "{v}");
    assert_eq!(
        (v["version"].clone(), v["calculation"].clone()),
        (json!(2), json!("agg * 3"))
    );
    // Deletes in reverse dependency order answer the deleted entity.
    for (coll, eid) in [
        ("compoundaggregations", id(&ca)),
        ("accountplans", c.account_plan.clone()),
        ("pricings", c.pricing.clone()),
        ("plans", c.plan.clone()),
        ("plantemplates", c.template.clone()),
        ("aggregations", c.aggregation.clone()),
        ("meters", c.meter.clone()),
        ("products", c.product.clone()),
        ("accounts", c.account.clone()),
    ] {
        let (status, v) = e.delete(&format!("{coll}/{eid}")).await;
        assert_eq!(status, StatusCode::OK, "{coll}: {v}");
        assert_eq!(v["id"], eid.as_str());
        assert_eq!(
            e.get(&format!("{coll}/{eid}")).await.0,
            StatusCode::NOT_FOUND
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn response_only_fields_are_derived() {
    let e = Emu::start().await;
    let c = e.chain().await;
    let (_, plan) = e.get(&format!("plans/{}", c.plan)).await;
    assert_eq!(plan["productId"], c.product.as_str());
    let (_, ap) = e.get(&format!("accountplans/{}", c.account_plan)).await;
    assert_eq!(ap["productId"], c.product.as_str());
    let (_, pricing) = e.get(&format!("pricings/{}", c.pricing)).await;
    assert_eq!(pricing["aggregationType"], "SIMPLE");
    assert_eq!(pricing["cumulative"], true);
    assert_eq!(pricing["type"], "DEBIT");
    let band_id = pricing["pricingBands"][0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(band_id.len(), 36);

    // A PUT keeping the band's lowerLimit keeps its id; a new band gets a new one.
    let mut body = pricing.clone();
    body["pricingBands"] = json!([{"lowerLimit": 0, "fixedPrice": 0, "unitPrice": 2},
                                  {"lowerLimit": 100, "fixedPrice": 0, "unitPrice": 1}]);
    let (status, p2) = e.put(&format!("pricings/{}", c.pricing), body).await;
    assert_eq!(status, StatusCode::OK, "{p2}");
    assert_eq!(p2["pricingBands"][0]["id"], band_id.as_str());
    assert_ne!(p2["pricingBands"][1]["id"], band_id.as_str());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_bodies_are_400_json_naming_the_field() {
    let e = Emu::start().await;
    let url = e.url("products");
    // Malformed JSON and wrong content type: JSON messages, not framework text.
    let r = e
        .http
        .post(&url)
        .bearer_auth(&e.token)
        .header("content-type", "application/json")
        .body("{\"name\": ")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    let v: Value = r.json().await.unwrap();
    assert!(message(&v).contains("not valid JSON"), "{v}");
    let r = e
        .http
        .post(&url)
        .bearer_auth(&e.token)
        .header("content-type", "text/plain")
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    let v: Value = r.json().await.unwrap();
    assert!(message(&v).contains("Content-Type"), "{v}");

    let cases = [
        ("products", json!({"code": "x"}), "`name` is required"),
        (
            "products",
            json!({"name": 5, "code": "x"}),
            "`name` must be a string",
        ),
        (
            "products",
            json!({"name": "x".repeat(201), "code": "x"}),
            "`name` must be 1 to 200",
        ),
        (
            "products",
            json!({"name": "n", "code": " x"}),
            "`code` must not start or end",
        ),
        (
            "products",
            json!({"name": "n", "code": "x".repeat(81)}),
            "`code` must be 1 to 80",
        ),
        (
            "meters",
            json!({"name": "n", "code": "m", "dataFields": [], "derivedFields": []}),
            "`dataFields` must hold 1 to 15",
        ),
        (
            "meters",
            json!({"name": "n", "code": "m", "dataFields": [{"category": "MEASURE", "code": "1q", "name": "q"}], "derivedFields": []}),
            "`dataFields[0].code` must hold only letters",
        ),
        (
            "meters",
            json!({"name": "n", "code": "m", "dataFields": [{"category": "BAD", "code": "q", "name": "q"}], "derivedFields": []}),
            "`dataFields[0].category` must be one of",
        ),
        (
            "meters",
            json!({"name": "n", "code": "m", "dataFields": [{"category": "MEASURE", "code": "q", "name": "q"}], "derivedFields": null}),
            "`derivedFields` is required",
        ),
        (
            "meters",
            json!({"name": "n", "code": "m", "productId": "00000000-0000-4000-8000-00000000abcd", "dataFields": [{"category": "MEASURE", "code": "q", "name": "q"}], "derivedFields": []}),
            "`productId` refers to no product",
        ),
        (
            "meters",
            json!({"name": "n", "code": "m", "productId": "short", "dataFields": [{"category": "MEASURE", "code": "q", "name": "q"}], "derivedFields": []}),
            "`productId` must be a 36-character UUID",
        ),
        (
            "accounts",
            json!({"name": "n", "code": "a", "emailAddress": "not-an-email"}),
            "`emailAddress` must be an email",
        ),
        (
            "pricings",
            json!({"startDate": "2024-01-01T00:00:00Z", "pricingBands": [{"lowerLimit": 0, "fixedPrice": 0, "unitPrice": 1}]}),
            "exactly one of `planId` and `planTemplateId` is required",
        ),
    ];
    for (coll, body, expected) in cases {
        let (status, v) = e.post(coll, body.clone()).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{coll} {body}");
        assert!(
            message(&v).contains(expected),
            "{coll} {body}: got {v}, want {expected}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cross_entity_rules() {
    let e = Emu::start().await;
    let c = e.chain().await;

    // Duplicate code within a kind.
    let (status, v) = e
        .post("products", json!({"name": "Q", "code": "prod"}))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(
        message(&v).contains("`code` \"prod\" is already used"),
        "{v}"
    );

    // Exactly one of plan/planTemplate.
    let (status, v) = e
        .post(
            "pricings",
            json!({"planId": c.plan, "planTemplateId": c.template, "aggregationId": c.aggregation,
                   "startDate": "2024-01-01T00:00:00Z",
                   "pricingBands": [{"lowerLimit": 0, "fixedPrice": 0, "unitPrice": 1}]}),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(message(&v).contains("not both"), "{v}");

    // targetField must be a field of the meter.
    let (status, v) = e
        .post(
            "aggregations",
            json!({"name": "A2", "code": "agg2", "meterId": c.meter, "targetField": "nope",
                   "aggregation": "SUM", "rounding": "NONE", "quantityPerUnit": 1, "unit": "u"}),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(message(&v).contains("`targetField` \"nope\""), "{v}");

    // A meter PUT that removes a targeted field.
    let (_, meter) = e.get(&format!("meters/{}", c.meter)).await;
    let mut body = meter.clone();
    body["dataFields"] = json!([{"category": "WHO", "code": "user", "name": "User"}]);
    let (status, v) = e.put(&format!("meters/{}", c.meter), body).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(message(&v).contains("removes field \"q\""), "{v}");

    // Overlapping account plan for the same product (endDate exclusive).
    let (status, v) = e
        .post(
            "accountplans",
            json!({"accountId": c.account, "planId": c.plan, "startDate": "2025-01-01T00:00:00Z"}),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(
        message(&v).contains("only one account plan per product"),
        "{v}"
    );
    // Ending the first plan makes room exactly at its end date.
    let (_, ap) = e.get(&format!("accountplans/{}", c.account_plan)).await;
    let mut body = ap.clone();
    body["endDate"] = json!("2025-01-01T00:00:00Z");
    assert_eq!(
        e.put(&format!("accountplans/{}", c.account_plan), body)
            .await
            .0,
        StatusCode::OK
    );
    e.create(
        "accountplans",
        json!({"accountId": c.account, "planId": c.plan, "startDate": "2025-01-01T00:00:00Z"}),
    )
    .await;

    // A bespoke plan attaches only to its own account.
    let other = e.create("accounts", account_body("other")).await;
    let bespoke = e
        .create(
            "plans",
            json!({"name": "B", "code": "bespoke", "planTemplateId": c.template,
                   "bespoke": true, "accountId": id(&other)}),
        )
        .await;
    let (status, v) = e
        .post(
            "accountplans",
            json!({"accountId": c.account, "planId": id(&bespoke), "startDate": "2030-01-01T00:00:00Z"}),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(message(&v).contains("bespoke"), "{v}");

    // Parent accounts: not itself, and no cycles.
    let child = e
        .create(
            "accounts",
            json!({"name": "C", "code": "child", "emailAddress": "c@x.test",
                                   "parentAccountId": c.account}),
        )
        .await;
    let (_, parent) = e.get(&format!("accounts/{}", c.account)).await;
    for (pid, want) in [(c.account.clone(), "itself"), (id(&child), "cycle")] {
        let mut body = parent.clone();
        body["parentAccountId"] = json!(pid);
        let (status, v) = e.put(&format!("accounts/{}", c.account), body).await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert!(
            message(&v).contains("`parentAccountId`") && message(&v).contains(want),
            "{v}"
        );
    }

    let (status, v) = e.get(&format!("accounts/{}/children", c.account)).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(v["data"].as_array().unwrap().len(), 1);
    assert_eq!(v["data"][0]["id"], child["id"]);
    let (status, _) = e
        .get(&format!("accounts/{}/children?pageSize=201", c.account))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);

    // Unknown id in the path → 404.
    let (status, v) = e.get("meters/00000000-0000-4000-8000-0000000000ff").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(message(&v).contains("no meter"), "{v}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn versions_guard_updates() {
    let e = Emu::start().await;
    let p = e
        .create("products", json!({"name": "P", "code": "p", "version": 7}))
        .await;
    assert_eq!(p["version"], 1, "version on create is ignored");
    let path = format!("products/{}", id(&p));
    let (status, v) = e.put(&path, json!({"name": "P2", "code": "p"})).await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert!(message(&v).contains("`version` is required"), "{v}");
    let (status, v) = e
        .put(&path, json!({"name": "P2", "code": "p", "version": 5}))
        .await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert!(message(&v).contains("stale"), "{v}");
    let (status, v) = e
        .put(&path, json!({"name": "P2", "code": "p", "version": "1"}))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(message(&v).contains("`version` must be an integer"), "{v}");
    let (status, v) = e
        .put(&path, json!({"name": "P2", "code": "p", "version": 1}))
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(v["version"], 2);
    // A full replacement: fields left out are gone.
    let (status, v) = e
        .put(
            &path,
            json!({"name": "P3", "code": "p", "version": 2, "customFields": {"a": 1}}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let (_, v2) = e
        .put(&path, json!({"name": "P3", "code": "p", "version": 3}))
        .await;
    assert_eq!(v["customFields"]["a"], 1);
    assert!(v2.get("customFields").is_none());
    // A failed update changed nothing.
    let (_, now) = e.get(&path).await;
    assert_eq!(now["version"], 4);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deletes_with_dependents_are_refused_naming_one() {
    let e = Emu::start().await;
    let c = e.chain().await;
    let cases = [
        ("products", &c.product, "meter"),
        ("meters", &c.meter, "aggregation"),
        ("aggregations", &c.aggregation, "pricing"),
        ("plantemplates", &c.template, "plan"),
        ("plans", &c.plan, "pricing"),
        ("accounts", &c.account, "accountPlan"),
    ];
    for (coll, eid, dependent) in cases {
        let (status, v) = e.delete(&format!("{coll}/{eid}")).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{coll}");
        let m = message(&v);
        assert!(
            m.contains(&format!("{dependent} ")) && m.contains("code"),
            "{coll}: {m}"
        );
        assert_eq!(e.get(&format!("{coll}/{eid}")).await.0, StatusCode::OK);
    }
    // A compound aggregation naming the aggregation in its calculation blocks it too.
    e.delete(&format!("pricings/{}", c.pricing)).await;
    e.create(
        "compoundaggregations",
        json!({"name": "C", "code": "double", "rounding": "UP", "quantityPerUnit": 1,
               "unit": "u", "calculation": "aggregation.agg * 2"}),
    )
    .await;
    let (status, v) = e.delete(&format!("aggregations/{}", c.aggregation)).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(message(&v).contains("compoundAggregation"), "{v}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_fields_are_ignored_unless_strict() {
    let lax = Emu::start().await;
    let p = lax
        .create("products", json!({"name": "P", "code": "p", "junk": 1}))
        .await;
    assert!(p.get("junk").is_none());
    let mut body = meter_body("m", None);
    body["dataFields"][0]["junk"] = json!(true);
    let m = lax.create("meters", body).await;
    assert!(m["dataFields"][0].get("junk").is_none(), "{m}");
    assert_eq!(m["dataFields"][0]["code"], "q");

    let strict = Emu::with(EmulatorConfig {
        strict: true,
        ..Default::default()
    })
    .await;
    let (status, v) = strict
        .post("products", json!({"name": "P", "code": "p", "junk": 1}))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(message(&v).contains("`junk`"), "{v}");
    let (status, v) = strict
        .post(
            "products",
            json!({"name": "P", "code": "p", "dtCreated": "2024-01-01T00:00:00Z"}),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(message(&v).contains("`dtCreated`"), "{v}");
    let p = strict
        .create("products", json!({"name": "P", "code": "p"}))
        .await;
    let (status, _) = strict
        .put(
            &format!("products/{}", id(&p)),
            json!({"name": "P", "code": "p", "version": 1}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "version is allowed in strict mode");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lists_page_newest_first_with_stable_tokens() {
    let e = Emu::start().await;
    for i in 0..25 {
        e.create("products", json!({"name": "P", "code": format!("p{i:02}")}))
            .await;
    }
    let codes = |v: &Value| -> Vec<String> {
        v["data"]
            .as_array()
            .unwrap()
            .iter()
            .map(|x| x["code"].as_str().unwrap().to_owned())
            .collect()
    };
    let (_, first) = e.get("products").await;
    assert_eq!(codes(&first).len(), 10, "default page size");
    assert_eq!(codes(&first)[0], "p24");
    let (_, p1) = e.get("products?pageSize=7").await;
    assert_eq!(
        codes(&p1),
        ["p24", "p23", "p22", "p21", "p20", "p19", "p18"]
    );
    let token = p1["nextToken"].as_str().unwrap().to_owned();
    // New entities do not shift later pages.
    e.create("products", json!({"name": "P", "code": "late"}))
        .await;
    let (_, p2) = e
        .get(&format!("products?pageSize=7&nextToken={token}"))
        .await;
    assert_eq!(codes(&p2)[0], "p17");
    // Walk to the end: the last page has no token.
    let mut seen = codes(&p1);
    seen.extend(codes(&p2));
    let mut next = p2["nextToken"].as_str().map(str::to_owned);
    while let Some(t) = next {
        let (_, p) = e.get(&format!("products?pageSize=7&nextToken={t}")).await;
        seen.extend(codes(&p));
        next = p["nextToken"].as_str().map(str::to_owned);
    }
    assert_eq!(seen.len(), 25);
    assert_eq!(seen.last().unwrap(), "p00");

    // Page size limits: 200 for products, 100 elsewhere.
    assert_eq!(e.get("products?pageSize=200").await.0, StatusCode::OK);
    for bad in [
        "products?pageSize=201",
        "products?pageSize=0",
        "products?pageSize=x",
        "meters?pageSize=101",
    ] {
        let (status, v) = e.get(bad).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{bad}");
        assert!(message(&v).contains("`pageSize`"), "{v}");
    }
    let (status, v) = e.get("products?nextToken=garbage").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(message(&v).contains("nextToken"), "{v}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lists_filter_by_documented_params_only() {
    let e = Emu::start().await;
    let a = e
        .create("products", json!({"name": "A", "code": "a"}))
        .await;
    let b = e
        .create("products", json!({"name": "B", "code": "b"}))
        .await;
    e.create("products", json!({"name": "C", "code": "c"}))
        .await;
    let count = |v: &Value| v["data"].as_array().unwrap().len();
    let (_, v) = e.get(&format!("products?ids={},{}", id(&a), id(&b))).await;
    assert_eq!(count(&v), 2);
    let (_, v) = e
        .get(&format!("products?ids={}&ids={}", id(&a), id(&b)))
        .await;
    assert_eq!(count(&v), 2);
    // `codes` is not documented for products: ignored.
    let (_, v) = e.get("products?codes=a").await;
    assert_eq!(count(&v), 3);

    let m1 = e.create("meters", meter_body("m1", Some(id(&a)))).await;
    e.create("meters", meter_body("m2", Some(id(&b)))).await;
    e.create("meters", meter_body("m3", None)).await;
    let (_, v) = e.get("meters?codes=m1,m3").await;
    assert_eq!(count(&v), 2);
    let (_, v) = e.get(&format!("meters?productId={}", id(&a))).await;
    assert_eq!(v["data"][0]["id"], m1["id"]);
    assert_eq!(count(&v), 1);
    let (_, v) = e.get("meters?name=m1").await;
    assert_eq!(count(&v), 3, "undocumented filter ignored");

    // Aggregations filter by product through their meter.
    e.create(
        "aggregations",
        json!({"name": "A", "code": "ag", "meterId": id(&m1), "targetField": "q",
               "aggregation": "SUM", "rounding": "NONE", "quantityPerUnit": 1, "unit": "u"}),
    )
    .await;
    let (_, v) = e.get(&format!("aggregations?productId={}", id(&a))).await;
    assert_eq!(count(&v), 1);
    let (_, v) = e.get(&format!("aggregations?productId={}", id(&b))).await;
    assert_eq!(count(&v), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn account_plan_and_pricing_filters() {
    let e = Emu::start().await;
    let c = e.chain().await;
    let count = |v: &Value| v["data"].as_array().unwrap().len();
    // End the current plan in the past, add a future one.
    let (_, ap) = e.get(&format!("accountplans/{}", c.account_plan)).await;
    let mut body = ap.clone();
    body["endDate"] = json!("2024-06-01T00:00:00Z");
    assert_eq!(
        e.put(&format!("accountplans/{}", c.account_plan), body)
            .await
            .0,
        StatusCode::OK
    );
    e.create(
        "accountplans",
        json!({"accountId": c.account, "planId": c.plan, "startDate": "2099-01-01T00:00:00Z"}),
    )
    .await;
    let (_, v) = e.get(&format!("accountplans?account={}", c.account)).await;
    assert_eq!(count(&v), 0, "only active plans by default: {v}");
    let (_, v) = e
        .get(&format!(
            "accountplans?account={}&includeall=true",
            c.account
        ))
        .await;
    assert_eq!(count(&v), 2);
    let (_, v) = e
        .get(&format!(
            "accountplans?account={}&date=2024-03-01",
            c.account
        ))
        .await;
    assert_eq!(count(&v), 1);
    assert_eq!(v["data"][0]["id"], c.account_plan.as_str());
    let (_, v) = e.get(&format!("accountplans?plan={}", c.plan)).await;
    assert_eq!(count(&v), 2);
    let (status, v) = e.get(&format!("accountplans?product={}", c.product)).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(message(&v).contains("`account`"), "{v}");
    let (_, v) = e
        .get(&format!(
            "accountplans?account={}&product={}&includeall=true",
            c.account, c.product
        ))
        .await;
    assert_eq!(count(&v), 2);

    let (_, v) = e.get("pricings?date=2023-06-01T00:00:00Z").await;
    assert_eq!(count(&v), 0);
    let (_, v) = e.get("pricings?date=2024-06-01").await;
    assert_eq!(count(&v), 1);
    let (_, v) = e.get(&format!("pricings?planId={}", c.plan)).await;
    assert_eq!(count(&v), 1);
    let (_, v) = e
        .get(&format!("pricings?planTemplateId={}", c.template))
        .await;
    assert_eq!(count(&v), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_routes_and_methods_answer_json() {
    let e = Emu::start().await;
    let base = e.emu.base_url();
    let r = e.http.get(format!("{base}/nope")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    let v: Value = r.json().await.unwrap();
    assert!(message(&v).contains("no route"));
    let r = e
        .http
        .patch(e.url("products"))
        .bearer_auth(&e.token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::METHOD_NOT_ALLOWED);
    let v: Value = r.json().await.unwrap();
    assert!(message(&v).contains("PATCH"));
    let _ = ORG;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn spec_paths_not_emulated_answer_no_route_not_a_missing_id() {
    let e = Emu::start().await;
    for (method, path) in [
        ("GET", "accounts/search"),
        ("GET", "bills/search"),
        ("POST", "bills/preview"),
    ] {
        let (status, v) = e.call(method, path, Some(json!({}))).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{method} {path}: {v}");
        assert_eq!(
            message(&v),
            format!("no route for {method} /organizations/{ORG}/{path}"),
            "{method} {path}"
        );
    }
    // An unknown id is still a missing entity.
    let (_, v) = e.get("accounts/nope").await;
    assert!(message(&v).contains("no account with id nope"), "{v}");
    let r = e
        .http
        .get(format!("{}/_emulator/stats", e.emu.base_url()))
        .send()
        .await
        .unwrap();
    let stats: Value = r.json().await.unwrap();
    assert_eq!(stats["requests"]["GET (unmatched)"], 2, "{stats}");
    assert_eq!(stats["requests"]["POST (unmatched)"], 1, "{stats}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn empty_query_values_count_as_absent() {
    let e = Emu::start().await;
    let c = e.chain().await;
    for path in [
        "products?pageSize=&nextToken=",
        "accountplans?date=",
        &format!("accountplans?account={}&date=&includeall=", c.account),
        "pricings?date=&planId=",
        "billjobs?active=&status=",
        "bills?locked=&billDateStart=&pageSize=",
    ] {
        let (status, v) = e.get(path).await;
        assert_eq!(status, StatusCode::OK, "{path}: {v}");
    }
    let (_, v) = e.get("accountplans?date=").await;
    assert_eq!(v["data"].as_array().unwrap().len(), 1, "{v}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unimplemented_query_parameters_are_refused_only_when_strict() {
    let lax = Emu::start().await;
    let strict = Emu::with(EmulatorConfig {
        strict: true,
        ..Default::default()
    })
    .await;
    let c = strict.chain().await;
    let bill = "bills/00000000-0000-4000-8000-00000000b111";
    for (path, named) in [
        (
            "bills?includeBillTotal=true&pageSize=5",
            "`includeBillTotal`",
        ),
        (&format!("{bill}?additional=x") as &str, "`additional`"),
        ("products?codes=p&colour=red", "`codes`, `colour` are"),
    ] {
        let (status, v) = strict.get(path).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{path}: {v}");
        assert!(message(&v).contains(named), "{path}: {v}");
        assert!(message(&v).contains("--strict"), "{v}");
        let (status, v) = lax.get(path).await;
        assert_ne!(status, StatusCode::BAD_REQUEST, "{path}: {v}");
    }
    // What the emulator implements passes under --strict.
    for path in [
        "products?pageSize=5&ids=x",
        &format!("accountplans?account={}&includeall=true", c.account),
        "bills?accountId=a&excludeLineItems=true",
        "billjobs?active=true",
    ] {
        let (status, v) = strict.get(path).await;
        assert_eq!(status, StatusCode::OK, "{path}: {v}");
    }
}
