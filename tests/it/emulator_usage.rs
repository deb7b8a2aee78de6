//! The emulator's ingest and billing endpoints over real HTTP.

use crate::common;

use std::time::Duration;

use common::{Emu, id, message};
use reqwest::StatusCode;
use serde_json::{Value, json};

fn measurement(uid: &str, meter: &str, account: &str) -> Value {
    json!({"uid": uid, "meter": meter, "account": account,
           "ts": "2024-12-05T10:00:00Z", "measure": {"q": 3}, "who": {"user": "u1"}})
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ingest_accepts_valid_batches_and_auto_creates_accounts() {
    let e = Emu::start().await;
    let c = e.chain().await;
    let _ = c;
    let (status, v) = e
        .post(
            "measurements",
            json!({"measurements": [measurement("u1", "meter", "acme"),
                                    measurement("u2", "meter", "newco"),
                                    measurement("u3", "no-such-meter", "acme")]}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{v}");
    assert_eq!(v, json!({"result": "accepted"}));
    let (_, accounts) = e.get("accounts?codes=newco").await;
    let created = &accounts["data"][0];
    assert_eq!(created["name"], "newco-autocreated");
    assert!(
        created["emailAddress"]
            .as_str()
            .unwrap()
            .ends_with("-autocreated@example.com")
    );
    // An unknown meter alone does not create its account.
    let (_, v) = e
        .post(
            "measurements",
            json!({"measurements": [measurement("u9", "ghost", "ghostco")]}),
        )
        .await;
    assert_eq!(v["result"], "accepted");
    let (_, accounts) = e.get("accounts?codes=ghostco").await;
    assert_eq!(accounts["data"].as_array().unwrap().len(), 0);
    // Re-sending a uid is accepted and dropped (idempotent): no second account.
    let (status, _) = e
        .post(
            "measurements",
            json!({"measurements": [measurement("u2", "meter", "other")]}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let (_, accounts) = e.get("accounts?codes=other").await;
    assert_eq!(
        accounts["data"].as_array().unwrap().len(),
        0,
        "duplicate uid was dropped"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ingest_limits_and_validation() {
    let e = Emu::start().await;
    let (status, v) = e.post("measurements", json!({"measurements": []})).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(message(&v).contains("1 to 1000"), "{v}");
    let many: Vec<Value> = (0..1001)
        .map(|i| measurement(&format!("u{i}"), "m", "a"))
        .collect();
    let (status, _) = e.post("measurements", json!({"measurements": many})).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (status, _) = e.post("measurements", json!({})).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);

    // ≥ 512,000 bytes → 403.
    let pad = "x".repeat(250);
    let big: Vec<Value> = (0..1000)
        .map(|i| {
            let mut m = measurement(&format!("u{i}"), "m", "a");
            m["what"] = json!({"pad": pad, "pad2": pad});
            m
        })
        .collect();
    let body = json!({"measurements": big});
    assert!(body.to_string().len() >= 512_000);
    let (status, v) = e.post("measurements", body).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert!(message(&v).contains("512000"), "{v}");

    let cases = [
        (
            json!({"meter": "m", "ts": "2024-12-01T00:00:00Z"}),
            "`measurements[0].account` is required",
        ),
        (
            json!({"meter": " m", "account": "a", "ts": "2024-12-01T00:00:00Z"}),
            "`measurements[0].meter` must not start",
        ),
        (
            json!({"meter": "m", "account": "a", "ts": "yesterday"}),
            "`measurements[0].ts` must be an ISO-8601",
        ),
        (
            json!({"meter": "m", "account": "a", "ts": "2024-12-01T00:00:00Z", "uid": "u".repeat(51)}),
            "`measurements[0].uid` must be at most 50",
        ),
        (
            json!({"meter": "m", "account": "a", "ts": "2024-12-01T00:00:00Z", "measure": {"q": "3"}}),
            "`measurements[0].measure.q` must be a number",
        ),
        (
            json!({"meter": "m", "account": "a", "ts": "2024-12-01T00:00:00Z", "who": {"u": 3}}),
            "`measurements[0].who.u` must be a string",
        ),
    ];
    for (m, expected) in cases {
        let (status, v) = e.post("measurements", json!({"measurements": [m]})).await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert!(message(&v).contains(expected), "got {v}, want {expected}");
    }
}

/// Polls a bill job until it is finished. The bound only stops a stuck
/// test: a job takes about 200 ms, far longer on a loaded machine is fine.
async fn wait_for_job(e: &Emu, job: &str) -> Value {
    for _ in 0..4000 {
        let (status, v) = e.get(&format!("billjobs/{job}")).await;
        assert_eq!(status, StatusCode::OK);
        if v["status"] == "COMPLETE" || v["status"] == "CANCELLED" {
            return v;
        }
        tokio::time::sleep(Duration::from_millis(30)).await;
    }
    panic!("bill job {job} did not finish");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bill_jobs_run_to_completion_and_make_bills() {
    let e = Emu::start().await;
    let c = e.chain().await;
    // An account without an account plan gets no bill.
    e.create("accounts", common::account_body("idle")).await;
    let (status, job) = e
        .post(
            "billjobs",
            json!({"billDate": "2025-01-01", "lastDateInBillingPeriod": "2024-12-31",
                   "billingFrequency": "MONTHLY"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{job}");
    assert_eq!(job["status"], "PENDING");
    let done = wait_for_job(&e, job["id"].as_str().unwrap()).await;
    assert_eq!(done["status"], "COMPLETE");
    let bill_ids = done["billIds"].as_array().unwrap();
    assert_eq!(bill_ids.len(), 1);

    let (_, bills) = e.get(&format!("bills?billJobId={}", id(&job))).await;
    let bill = &bills["data"][0];
    assert_eq!(bill["id"], bill_ids[0]);
    assert_eq!(bill["accountId"], c.account.as_str());
    assert_eq!(bill["accountCode"], "acme");
    assert_eq!(bill["startDate"], "2024-12-01");
    assert_eq!(bill["billDate"], "2025-01-01");
    assert_eq!(bill["currency"], "USD");
    assert_eq!(bill["status"], "PENDING");
    // No usage: one USAGE line at 0, no standing charge (the template's is 0).
    let lines = bill["lineItems"].as_array().unwrap();
    assert_eq!(lines.len(), 1, "{bill}");
    assert_eq!(lines[0]["lineItemType"], "USAGE");
    assert_eq!(lines[0]["subtotal"], 0.0);
    assert_eq!(bill["billTotal"], 0.0);
    let bill_id = id(bill);

    let (_, v) = e
        .get(&format!(
            "bills?accountId={}&excludeLineItems=true",
            c.account
        ))
        .await;
    assert!(v["data"][0].get("lineItems").is_none());
    let (status, v) = e.get(&format!("bills/{bill_id}/lineitems")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(v["data"][0]["id"], lines[0]["id"]);
    assert_eq!(v["data"][0]["billId"], bill_id.as_str());
    let line_id = lines[0]["id"].as_str().unwrap();
    let (status, v) = e.get(&format!("bills/{bill_id}/lineitems/{line_id}")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(v["lineItemType"], "USAGE");
    let (status, v) = e.get(&format!("bills/latest/{}", c.account)).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(v["id"], bill_id.as_str());

    // Lock needs APPROVED.
    let (status, v) = e.call("PUT", &format!("bills/{bill_id}/lock"), None).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(message(&v).contains("APPROVED"), "{v}");
    let (status, v) = e.post("bills/approve", json!({"billIds": [bill_id]})).await;
    assert_eq!(status, StatusCode::OK);
    assert!(message(&v).contains("approved"));
    let (_, v) = e.get(&format!("bills/{bill_id}")).await;
    assert_eq!(v["status"], "APPROVED");
    let (status, v) = e.call("PUT", &format!("bills/{bill_id}/lock"), None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(v["locked"], true);
    let (status, _) = e
        .put(
            &format!("bills/{bill_id}/status"),
            json!({"status": "PENDING"}),
        )
        .await;
    assert_eq!(
        status,
        StatusCode::BAD_REQUEST,
        "locked bills do not change"
    );
    let (status, _) = e.delete(&format!("bills/{bill_id}")).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);

    // Explicit accountIds bill just those; unknown ones are a 400.
    let (status, v) = e
        .post(
            "billjobs",
            json!({"accountIds": ["00000000-0000-4000-8000-0000000000aa"]}),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(message(&v).contains("`accountIds[0]`"), "{v}");
    let (status, v) = e
        .post("billjobs", json!({"billingFrequency": "HOURLY"}))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(message(&v).contains("`billingFrequency`"), "{v}");
    let (status, v) = e.post("billjobs", json!({"billDate": "01/01/2025"})).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(message(&v).contains("`billDate`"), "{v}");

    // A second bill for the same account can be moved back to PENDING and deleted.
    let (_, job2) = e
        .post(
            "billjobs",
            json!({"billDate": "2025-02-01", "accountIds": [c.account]}),
        )
        .await;
    let done = wait_for_job(&e, job2["id"].as_str().unwrap()).await;
    let b2 = done["billIds"][0].as_str().unwrap().to_owned();
    let (status, v) = e
        .put(&format!("bills/{b2}/status"), json!({"status": "APPROVED"}))
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(v["status"], "APPROVED");
    let (status, v) = e.delete(&format!("bills/{b2}")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(v["id"], b2.as_str());
    assert_eq!(e.get(&format!("bills/{b2}")).await.0, StatusCode::NOT_FOUND);

    let (_, jobs) = e.get("billjobs?status=COMPLETE").await;
    assert_eq!(jobs["data"].as_array().unwrap().len(), 2);
    let (_, jobs) = e.get("billjobs?active=true").await;
    assert_eq!(jobs["data"].as_array().unwrap().len(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn at_most_ten_jobs_run_and_jobs_can_be_cancelled() {
    let e = Emu::start().await;
    let mut ids = Vec::new();
    for _ in 0..10 {
        let (status, v) = e.post("billjobs", json!({})).await;
        assert_eq!(status, StatusCode::OK);
        ids.push(id(&v));
    }
    let (status, v) = e.post("billjobs", json!({})).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "{v}");
    let (status, v) = e
        .post(&format!("billjobs/{}/cancel", ids[0]), json!({}))
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(v["status"], "CANCELLED");
    let (status, _) = e
        .post(&format!("billjobs/{}/cancel", ids[0]), json!({}))
        .await;
    assert_eq!(
        status,
        StatusCode::BAD_REQUEST,
        "a cancelled job cannot be cancelled again"
    );
    let (status, _) = e.post("billjobs", json!({})).await;
    assert_eq!(status, StatusCode::OK, "cancelling freed a slot");
    // The cancelled job stays cancelled while the others run to the end.
    for other in &ids[1..] {
        assert_eq!(wait_for_job(&e, other).await["status"], "COMPLETE");
    }
    let (_, v) = e.get(&format!("billjobs/{}", ids[0])).await;
    assert_eq!(v["status"], "CANCELLED");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn strict_ingest_names_unknown_fields() {
    let m = json!({"meter": "m", "account": "a", "ts": "2024-12-01T00:00:00Z", "colour": "red"});
    let lax = Emu::start().await;
    let (status, _) = lax
        .post("measurements", json!({"measurements": [m.clone()]}))
        .await;
    assert_eq!(status, StatusCode::OK);
    let strict = Emu::with(m3ter_emulator::EmulatorConfig {
        strict: true,
        ..Default::default()
    })
    .await;
    let (status, v) = strict
        .post("measurements", json!({"measurements": [m]}))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(message(&v).contains("`measurements[0].colour`"), "{v}");
}

async fn bill_for(e: &Emu, account: &str) -> Value {
    let (status, job) = e
        .post(
            "billjobs",
            json!({"billDate": "2025-01-01", "lastDateInBillingPeriod": "2024-12-31",
                   "billingFrequency": "MONTHLY", "accountIds": [account]}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{job}");
    let done = wait_for_job(e, job["id"].as_str().unwrap()).await;
    let (_, bill) = e
        .get(&format!("bills/{}", done["billIds"][0].as_str().unwrap()))
        .await;
    bill
}

fn lines_of<'a>(bill: &'a Value, kind: &str) -> Vec<&'a Value> {
    bill["lineItems"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|l| l["lineItemType"] == kind)
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rating_follows_the_documented_rules() {
    let e = Emu::start().await;
    let c = e.chain().await;
    // Template: standing charge 31 and minimum spend 100; the plan overrides
    // the standing charge with 62.
    let (_, t) = e.get(&format!("plantemplates/{}", c.template)).await;
    let mut body = t.clone();
    body["standingCharge"] = json!(31);
    body["minimumSpend"] = json!(100);
    assert_eq!(
        e.put(&format!("plantemplates/{}", c.template), body)
            .await
            .0,
        StatusCode::OK
    );
    let (_, p) = e.get(&format!("plans/{}", c.plan)).await;
    let mut body = p.clone();
    body["standingCharge"] = json!(62);
    assert_eq!(
        e.put(&format!("plans/{}", c.plan), body).await.0,
        StatusCode::OK
    );
    // The plan-level pricing gets a minimum spend of 12 ...
    let (_, pr) = e.get(&format!("pricings/{}", c.pricing)).await;
    let mut body = pr.clone();
    body["minimumSpend"] = json!(12);
    assert_eq!(
        e.put(&format!("pricings/{}", c.pricing), body).await.0,
        StatusCode::OK
    );
    // ... and replaces a template-level pricing of the same aggregation.
    e.create(
        "pricings",
        json!({"planTemplateId": c.template, "aggregationId": c.aggregation,
               "startDate": "2024-01-01T00:00:00Z",
               "pricingBands": [{"lowerLimit": 0, "fixedPrice": 0, "unitPrice": 100}]}),
    )
    .await;
    // A compound aggregation (raw quantity × 2, 1.5 per unit, rounded up)
    // priced by volume at the template level.
    let ca = e
        .create(
            "compoundaggregations",
            json!({"name": "Double", "code": "double", "rounding": "UP", "quantityPerUnit": 1.5,
                   "unit": "d", "calculation": "agg * 2", "productId": c.product}),
        )
        .await;
    let volume = e
        .create(
            "pricings",
            json!({"planTemplateId": c.template, "compoundAggregationId": id(&ca),
                   "startDate": "2024-01-01T00:00:00Z", "cumulative": false,
                   "pricingBands": [{"lowerLimit": 0, "fixedPrice": 0, "unitPrice": 1},
                                    {"lowerLimit": 10, "fixedPrice": 5, "unitPrice": 0.5}]}),
        )
        .await;
    let m = |uid: &str, ts: &str, q: f64| json!({"uid": uid, "meter": "meter", "account": "acme", "ts": ts, "measure": {"q": q}});
    let (status, _) = e
        .post(
            "measurements",
            json!({"measurements": [
                m("a", "2024-12-01T00:00:00Z", 4.0),
                m("b", "2024-12-31T23:59:59.999Z", 5.5),
                m("a", "2024-12-02T00:00:00Z", 1000.0),   // duplicate uid: dropped
                m("c", "2025-01-01T00:00:00Z", 1000.0),   // end exclusive
                m("d", "2024-11-30T23:59:59Z", 1000.0),   // before the period
            ]}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);

    let bill = bill_for(&e, &c.account).await;
    let usage = lines_of(&bill, "USAGE");
    assert_eq!(usage.len(), 2, "{bill}");
    // Simple: 9.5 units, tiered at 1 each, from the plan-level pricing.
    assert_eq!(usage[0]["pricingId"], c.pricing.as_str());
    assert_eq!(usage[0]["quantity"], 9.5);
    assert_eq!(usage[0]["subtotal"], 9.5);
    // Compound: 19 raw → 12.67 → 13 units; volume: 5 + 13 × 0.5.
    assert_eq!(usage[1]["pricingId"], volume["id"]);
    assert_eq!(usage[1]["compoundAggregationId"], ca["id"]);
    assert_eq!(usage[1]["units"], 13.0);
    assert_eq!(usage[1]["subtotal"], 11.5);
    let minimums: Vec<f64> = lines_of(&bill, "MINIMUM_SPEND")
        .iter()
        .map(|l| l["subtotal"].as_f64().unwrap())
        .collect();
    // Pricing minimum 12 tops up 9.5; the template's 100 tops up 9.5 + 2.5 + 11.5.
    assert_eq!(minimums, [2.5, 76.5]);
    let standing = lines_of(&bill, "STANDING_CHARGE");
    assert_eq!(standing[0]["subtotal"], 62.0);
    assert_eq!(bill["billTotal"], 162.0);

    // An account plan starting on 16 December pays 16/31 of the standing charge.
    let late = e.create("accounts", common::account_body("late")).await;
    e.create(
        "accountplans",
        json!({"accountId": id(&late), "planId": c.plan, "startDate": "2024-12-16T00:00:00Z"}),
    )
    .await;
    let bill = bill_for(&e, &id(&late)).await;
    let standing = lines_of(&bill, "STANDING_CHARGE");
    assert_eq!(standing[0]["subtotal"], 62.0 * 16.0 / 31.0);
    assert_eq!(
        standing[0]["servicePeriodStartDate"],
        "2024-12-16T00:00:00.000Z"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn recalculation_rerates_bills_and_empty_totals_are_positive_zero() {
    let e = Emu::start().await;
    let c = e.chain().await;
    let usage = |uid: &str, q: f64| {
        json!({"measurements": [{"uid": uid, "meter": "meter", "account": "acme",
                                 "ts": "2024-12-10T00:00:00Z", "measure": {"q": q}}]})
    };
    e.post("measurements", usage("one", 3.0)).await;
    let bill = bill_for(&e, &c.account).await;
    assert_eq!(bill["billTotal"], 3.0);
    e.post("measurements", usage("two", 4.0)).await;

    let (status, job) = e
        .post("billjobs/recalculate", json!({"billIds": [bill["id"]]}))
        .await;
    assert_eq!(status, StatusCode::OK, "{job}");
    assert_eq!(job["type"], "RECALCULATE");
    let done = wait_for_job(&e, job["id"].as_str().unwrap()).await;
    assert_eq!(done["billIds"], json!([bill["id"]]));
    let (_, again) = e.get(&format!("bills/{}", id(&bill))).await;
    assert_eq!(again["billTotal"], 7.0);
    assert_eq!(again["version"], 2);
    let (status, v) = e.post("billjobs/recalculate", json!({"billIds": []})).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(message(&v).contains("`billIds`"), "{v}");

    // No account plan: a bill with no lines and a total of +0 (never -0).
    let lone = e.create("accounts", common::account_body("lone")).await;
    let bill = bill_for(&e, &id(&lone)).await;
    assert_eq!(bill["lineItems"], json!([]));
    let raw = e
        .http
        .get(e.url(&format!("bills/{}", id(&bill))))
        .bearer_auth(&e.token)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(raw.contains("\"billTotal\":0.0"), "{raw}");
}

/// Runs a bill job for December 2024 over every account; returns it finished.
async fn december_job(e: &Emu) -> Value {
    let (status, job) = e
        .post(
            "billjobs",
            json!({"billDate": "2025-01-01", "lastDateInBillingPeriod": "2024-12-31",
                   "billingFrequency": "MONTHLY"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{job}");
    wait_for_job(e, job["id"].as_str().unwrap()).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rerun_for_the_same_period_recalculates_unlocked_bills_and_reports_locked_ones() {
    let e = Emu::start().await;
    let c = e.chain().await;
    let second = e.create("accounts", common::account_body("second")).await;
    e.create(
        "accountplans",
        json!({"accountId": id(&second), "planId": c.plan, "startDate": "2024-01-01T00:00:00Z"}),
    )
    .await;
    let usage = |uid: &str, account: &str, q: f64| {
        json!({"measurements": [{"uid": uid, "meter": "meter", "account": account,
                                 "ts": "2024-12-10T00:00:00Z", "measure": {"q": q}}]})
    };
    e.post("measurements", usage("one", "acme", 3.0)).await;
    let first = december_job(&e).await;
    assert_eq!(first["total"], 2, "{first}");
    let (_, before) = e
        .get(&format!("bills/{}", first["billIds"][0].as_str().unwrap()))
        .await;

    // More usage, same period: the same two bills, recalculated in place.
    e.post("measurements", usage("two", "acme", 4.0)).await;
    let again = december_job(&e).await;
    let ids = |job: &Value| {
        let mut v: Vec<String> = job["billIds"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| i.as_str().unwrap().to_owned())
            .collect();
        v.sort();
        v
    };
    assert_eq!(ids(&again), ids(&first));
    assert!(again.get("lockedBillIds").is_none(), "{again}");
    let (_, all) = e.get("bills?pageSize=100").await;
    assert_eq!(all["data"].as_array().unwrap().len(), 2, "{all}");
    let acme = bill_of(&e, &c.account).await;
    assert_eq!(acme["billTotal"], 7.0);
    assert_eq!(acme["version"], 2);
    assert_eq!(acme["billJobId"], again["id"]);
    assert_eq!(acme["createdDate"], before["createdDate"]);
    assert_ne!(acme["lastCalculatedDate"], before["lastCalculatedDate"]);

    // A locked bill is left alone and reported; the other is recalculated.
    let acme_id = id(&acme);
    e.put(
        &format!("bills/{acme_id}/status"),
        json!({"status": "APPROVED"}),
    )
    .await;
    let (status, v) = e.call("PUT", &format!("bills/{acme_id}/lock"), None).await;
    assert_eq!(status, StatusCode::OK, "{v}");
    e.post("measurements", usage("three", "acme", 5.0)).await;
    let third = december_job(&e).await;
    assert_eq!(third["lockedBillIds"], json!([acme_id]), "{third}");
    assert_eq!(third["billIds"].as_array().unwrap().len(), 1, "{third}");
    assert_eq!(third["total"], 1);
    let locked = bill_of(&e, &c.account).await;
    assert_eq!(locked["billTotal"], 7.0);
    assert_eq!(locked["version"], v["version"]);

    // RECALCULATE reports a locked bill the same way.
    let (_, job) = e
        .post("billjobs/recalculate", json!({"billIds": [acme_id]}))
        .await;
    let done = wait_for_job(&e, job["id"].as_str().unwrap()).await;
    assert_eq!(done["billIds"], json!([]));
    assert_eq!(done["lockedBillIds"], json!([acme_id]));
}

/// The one bill of an account.
async fn bill_of(e: &Emu, account: &str) -> Value {
    let (_, bills) = e.get(&format!("bills?accountId={account}")).await;
    let data = bills["data"].as_array().unwrap();
    assert_eq!(data.len(), 1, "{bills}");
    data[0].clone()
}

/// The USAGE lines' quantities of a job's bills, per account id and
/// pricing id (the job's billIds fetched one by one).
async fn quantities(e: &Emu, body: Value) -> std::collections::BTreeMap<(String, String), f64> {
    let (status, job) = e.post("billjobs", body).await;
    assert_eq!(status, StatusCode::OK, "{job}");
    let done = wait_for_job(e, job["id"].as_str().unwrap()).await;
    let mut out = std::collections::BTreeMap::new();
    for bill_id in done["billIds"].as_array().unwrap() {
        let (_, bill) = e.get(&format!("bills/{}", bill_id.as_str().unwrap())).await;
        for line in lines_of(&bill, "USAGE") {
            out.insert(
                (
                    bill["accountId"].as_str().unwrap().to_owned(),
                    line["pricingId"].as_str().unwrap().to_owned(),
                ),
                line["quantity"].as_f64().unwrap(),
            );
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_job_over_many_accounts_reads_one_scan_and_rates_as_each_account_alone() {
    let e = Emu::start().await;
    let c = e.chain().await;
    // SUM is the chain's; LATEST, MAX and COUNT of the same field beside it.
    let mut pricing_of = vec![("SUM", c.pricing.clone())];
    for function in ["LATEST", "MAX", "COUNT"] {
        let agg = e
            .create(
                "aggregations",
                json!({"name": function, "code": format!("agg_{}", function.to_lowercase()),
                       "meterId": c.meter, "targetField": "q", "aggregation": function,
                       "rounding": "NONE", "quantityPerUnit": 1, "unit": "u"}),
            )
            .await;
        let pricing = e
            .create(
                "pricings",
                json!({"planId": c.plan, "aggregationId": id(&agg),
                       "startDate": "2024-01-01T00:00:00Z",
                       "pricingBands": [{"lowerLimit": 0, "fixedPrice": 0, "unitPrice": 1}]}),
            )
            .await;
        pricing_of.push((function, id(&pricing)));
    }
    let mut accounts = vec![("acme".to_owned(), c.account.clone())];
    for code in ["beta", "gamma"] {
        let a = e.create("accounts", common::account_body(code)).await;
        e.create(
            "accountplans",
            json!({"accountId": id(&a), "planId": c.plan, "startDate": "2024-01-01T00:00:00Z"}),
        )
        .await;
        accounts.push((code.to_owned(), id(&a)));
    }
    // 3 × 3,000 measurements, interleaved by account (several chunks of
    // 2,048 per worker). Each account's latest instant has two measurements,
    // in the scan's second and third chunks (another worker's each, on two
    // cores or more): LATEST is the later arrival's, whichever worker's
    // accumulator is merged last.
    const PER: usize = 3000;
    let mut expected = std::collections::BTreeMap::new();
    let mut all = Vec::new();
    for i in 0..PER {
        for (k, (code, _)) in accounts.iter().enumerate() {
            let q = ((i * 7 + k * 13) % 101) as f64;
            let ts = if i == 1000 || i == 1500 {
                "2024-12-31T12:00:00Z".to_owned()
            } else {
                format!("2024-12-{:02}T{:02}:00:00Z", 1 + i % 30, i % 24)
            };
            all.push(
                json!({"uid": format!("{code}-{i}"), "meter": "meter", "account": code,
                            "ts": ts, "measure": {"q": q}}),
            );
            let e = expected
                .entry(code.clone())
                .or_insert((0.0, 0.0, 0.0_f64, 0.0));
            e.0 += q;
            if i == 1500 {
                e.1 = q;
            }
            e.2 = e.2.max(q);
            e.3 += 1.0;
        }
    }
    for batch in all.chunks(1000) {
        let (status, v) = e.post("measurements", json!({"measurements": batch})).await;
        assert_eq!(status, StatusCode::OK, "{v}");
    }
    let period = json!({"billDate": "2025-01-01", "lastDateInBillingPeriod": "2024-12-31",
                        "billingFrequency": "MONTHLY"});
    let mut together_body = period.clone();
    together_body["accountIds"] = json!(accounts.iter().map(|(_, id)| id).collect::<Vec<_>>());
    let together = quantities(&e, together_body).await;
    for (code, account) in &accounts {
        let mut alone_body = period.clone();
        alone_body["accountIds"] = json!([account]);
        let alone = quantities(&e, alone_body).await;
        let (sum, latest, max, count) = expected[code];
        for (function, pricing) in &pricing_of {
            let want = match *function {
                "SUM" => sum,
                "LATEST" => latest,
                "MAX" => max,
                _ => count,
            };
            let key = (account.clone(), pricing.clone());
            assert_eq!(alone.get(&key), Some(&want), "{code} {function} alone");
            assert_eq!(
                together.get(&key),
                Some(&want),
                "{code} {function} together"
            );
        }
    }
}
