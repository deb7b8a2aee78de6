//! `m3ter ingest` and `m3ter bill` end to end: the real binary against an
//! `m3ter emulator` process (and against `--local`).

use crate::common;

use std::path::Path;
use std::process::{Command, Output, Stdio};

use common::cli::{EmulatorProcess, bin, copy_example, m3ter, stderr, stdout, text};
use serde_json::Value;

const METER: &str = "compute_and_requests_meter_api_6";
const ACCOUNTS: [&str; 3] = [
    "mickey_mouse_inc_api_6",
    "donald_duck_ltd_api_6",
    "pluto_llp_api_6",
];
const INGEST_ROUTE: &str = "POST /organizations/{orgId}/measurements";

fn ingest_posts(emu: &EmulatorProcess) -> u64 {
    emu.stats()["requests"][INGEST_ROUTE].as_u64().unwrap_or(0)
}

/// `ingest --meter METER --account (all three) --from/--to December 2024`
/// plus `extra`.
fn generate_args<'a>(extra: &[&'a str]) -> Vec<&'a str> {
    let mut args = vec!["ingest", "--meter", METER];
    for a in ACCOUNTS {
        args.extend(["--account", a]);
    }
    args.extend([
        "--from",
        "2024-12-01T00:00:00Z",
        "--to",
        "2025-01-01T00:00:00Z",
        "--measure",
        "memory_consumption_api_6=1..100",
        "--measure",
        "execution_time_api_6=1000..5000",
    ]);
    args.extend_from_slice(extra);
    args
}

/// The quantity of a bill's "Requests" line (the example's COUNT pricing).
fn requests(bill: &Value) -> Option<f64> {
    bill["lineItems"]
        .as_array()?
        .iter()
        .find(|li| li["description"] == "Requests")?["quantity"]
        .as_f64()
}

fn apply_example(dir: &Path, emu: &EmulatorProcess) {
    copy_example(dir);
    let out = m3ter(dir, emu, &["apply", "--auto-approve", "--rate-limit", "0"]);
    assert!(out.status.success(), "{}", text(&out));
}

#[test]
fn generated_and_file_usage_is_ingested_in_batches() {
    let emu = EmulatorProcess::start(&["--strict"]);
    let dir = tempfile::tempdir().expect("tempdir");
    apply_example(dir.path(), &emu);
    let before = ingest_posts(&emu);

    let out = m3ter(
        dir.path(),
        &emu,
        &generate_args(&["--count", "1200", "--seed", "42"]),
    );
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        stdout(&out).starts_with("Ingested 1200 measurements in 2 batches ("),
        "{}",
        text(&out)
    );
    assert!(stdout(&out).trim_end().ends_with("/s)."), "{}", text(&out));
    // Known accounts: no auto-create warning; not a TTY: no progress bar.
    assert_eq!(stderr(&out), "", "{}", text(&out));
    assert_eq!(ingest_posts(&emu), before + 2);

    // --json: a summary object.
    let out = m3ter(
        dir.path(),
        &emu,
        &generate_args(&["--count", "10", "--json"]),
    );
    assert!(out.status.success(), "{}", text(&out));
    let v: Value = serde_json::from_slice(&out.stdout).expect("json summary");
    assert_eq!(v["measurements"], 10);
    assert_eq!(v["batches"], 1);
    assert_eq!(v["duplicateUids"], 0);
    assert!(v["perSecond"].as_f64().expect("rate") > 0.0, "{v}");
    assert_eq!(ingest_posts(&emu), before + 3);

    // JSON Lines.
    let jsonl = dir.path().join("usage.jsonl");
    let mut lines = String::new();
    for (i, acct) in ACCOUNTS.iter().enumerate() {
        lines.push_str(&format!(
            "{{\"uid\":\"file-{i}\",\"meter\":\"{METER}\",\"account\":\"{acct}\",\"ts\":\"2024-12-1{i}T08:00:00Z\",\"measure\":{{\"memory_consumption_api_6\":{}}}}}\n",
            10 + i
        ));
    }
    std::fs::write(&jsonl, lines).expect("write jsonl");
    let out = m3ter(dir.path(), &emu, &["ingest", "--file", "usage.jsonl"]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        stdout(&out).starts_with("Ingested 3 measurements in 1 batch ("),
        "{}",
        text(&out)
    );
    assert_eq!(ingest_posts(&emu), before + 4);

    // CSV with a repeated uid: sent, and the repeat is pointed out.
    let csv = dir.path().join("usage.csv");
    std::fs::write(
        &csv,
        format!(
            "uid,meter,account,ts,memory_consumption_api_6,execution_time_api_6\n\
             csv-1,{METER},{a},2024-12-03T10:00:00Z,5,1500\n\
             csv-2,{METER},{b},2024-12-04T10:00:00Z,6,2500\n\
             csv-1,{METER},{a},2024-12-03T10:00:00Z,5,1500\n",
            a = ACCOUNTS[0],
            b = ACCOUNTS[1]
        ),
    )
    .expect("write csv");
    let out = m3ter(dir.path(), &emu, &["ingest", "--file", "usage.csv"]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        stdout(&out).starts_with("Ingested 3 measurements in 1 batch ("),
        "{}",
        text(&out)
    );
    assert!(
        stderr(&out).contains("1 measurement(s) repeat an earlier uid"),
        "{}",
        text(&out)
    );
    assert_eq!(ingest_posts(&emu), before + 5);

    // A bad line: nothing is sent, the error names file:line and field.
    std::fs::write(
        dir.path().join("bad.jsonl"),
        format!(
            "{{\"meter\":\"{METER}\",\"account\":\"a\",\"ts\":\"2024-12-01T00:00:00Z\"}}\n\
             {{\"meter\":\"{METER}\",\"account\":\"a\",\"ts\":\"1st of December\"}}\n"
        ),
    )
    .expect("write bad");
    let out = m3ter(dir.path(), &emu, &["ingest", "--file", "bad.jsonl"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        stderr(&out).contains("bad.jsonl:2: `ts` must be a date-time"),
        "{}",
        text(&out)
    );
    std::fs::write(
        dir.path().join("bad.csv"),
        format!(
            "uid,meter,account,ts,execution_time_api_6\nx,{METER},a,2024-12-01T00:00:00Z,fast\n"
        ),
    )
    .expect("write bad csv");
    let out = m3ter(dir.path(), &emu, &["ingest", "--file", "bad.csv"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        stderr(&out).contains("bad.csv:2: `execution_time_api_6`: `fast` is not a number"),
        "{}",
        text(&out)
    );
    // A measurement too large for any request, named by its line.
    std::fs::write(
        dir.path().join("big.jsonl"),
        format!(
            "{{\"meter\":\"{METER}\",\"account\":\"a\",\"ts\":\"2024-12-01T00:00:00Z\"}}\n\
             {{\"meter\":\"{METER}\",\"account\":\"a\",\"ts\":\"2024-12-01T00:00:00Z\",\"other\":{{\"x\":\"{}\"}}}}\n",
            "x".repeat(520_000)
        ),
    )
    .expect("write big");
    let out = m3ter(dir.path(), &emu, &["ingest", "--file", "big.jsonl"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        stderr(&out).contains("big.jsonl:2: the measurement serializes to 520"),
        "{}",
        text(&out)
    );
    // A file naming an unknown meter.
    std::fs::write(
        dir.path().join("ghost.jsonl"),
        "{\"meter\":\"ghost_meter\",\"account\":\"a\",\"ts\":\"2024-12-01T00:00:00Z\"}\n",
    )
    .expect("write ghost");
    let out = m3ter(dir.path(), &emu, &["ingest", "--file", "ghost.jsonl"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        stderr(&out).contains("ghost.jsonl:1: `meter`: no meter with code `ghost_meter`"),
        "{}",
        text(&out)
    );

    // An unknown meter, or a field the meter does not have.
    let out = m3ter(
        dir.path(),
        &emu,
        &[
            "ingest",
            "--meter",
            "no_such_meter",
            "--account",
            ACCOUNTS[0],
        ],
    );
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        stderr(&out).contains("no meter with code `no_such_meter`"),
        "{}",
        text(&out)
    );
    let out = m3ter(
        dir.path(),
        &emu,
        &[
            "ingest",
            "--meter",
            METER,
            "--account",
            ACCOUNTS[0],
            "--measure",
            "cpu=1..2",
        ],
    );
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        stderr(&out).contains("has no data field `cpu`"),
        "{}",
        text(&out)
    );
    assert_eq!(ingest_posts(&emu), before + 5, "failed runs sent nothing");

    // Without --measure every MEASURE data field gets a value; an unknown
    // account is auto-created by m3ter, which the tool warns about.
    let out = m3ter(
        dir.path(),
        &emu,
        &[
            "ingest",
            "--meter",
            METER,
            "--account",
            "newcomer",
            "--count",
            "5",
        ],
    );
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        stderr(&out).contains("no account with code `newcomer`; m3ter will create one"),
        "{}",
        text(&out)
    );
    assert_eq!(ingest_posts(&emu), before + 6);
    let (_, found) = emu.api("GET", "accounts?codes=newcomer", None);
    assert_eq!(found["data"][0]["name"], "newcomer-autocreated", "{found}");
}

#[test]
fn bill_run_prints_the_bills_of_the_job() {
    let emu = EmulatorProcess::start(&["--strict"]);
    let dir = tempfile::tempdir().expect("tempdir");
    apply_example(dir.path(), &emu);
    let out = m3ter(
        dir.path(),
        &emu,
        &generate_args(&["--count", "300", "--seed", "1"]),
    );
    assert!(out.status.success(), "{}", text(&out));

    let out = m3ter(
        dir.path(),
        &emu,
        &[
            "bill",
            "run",
            "--bill-date",
            "2025-01-01",
            "--last-date-in-period",
            "2024-12-31",
        ],
    );
    assert!(out.status.success(), "{}", text(&out));
    let human = stdout(&out);
    assert!(
        human.contains(" completed: 3 bills for the period ending 2024-12-31."),
        "{human}"
    );
    assert_eq!(human.matches("\nBill ").count(), 3, "{human}");
    for a in ACCOUNTS {
        assert!(human.contains(&format!("account {a} ")), "{human}");
    }
    // Exactly one job was created.
    let jobs = emu.list_all("billjobs");
    assert_eq!(jobs.len(), 1);
    assert_eq!(jobs[0]["status"], "COMPLETE");
    assert_eq!(jobs[0]["billDate"], "2025-01-01");
    assert_eq!(jobs[0]["lastDateInBillingPeriod"], "2024-12-31");

    // What was printed is what the emulator holds.
    let out = m3ter(dir.path(), &emu, &["bill", "list", "--json"]);
    assert!(out.status.success(), "{}", text(&out));
    let bills: Value = serde_json::from_slice(&out.stdout).expect("json bills");
    let bills = bills.as_array().expect("array").clone();
    assert_eq!(bills.len(), 3);
    for b in &bills {
        let id = b["id"].as_str().expect("id");
        assert_eq!(b["billJobId"], jobs[0]["id"]);
        assert!(human.contains(&format!("Bill {id}  account ")), "{human}");
        let items = b["lineItems"].as_array().cloned().unwrap_or_default();
        let out = m3ter(dir.path(), &emu, &["bill", "show", id]);
        assert!(out.status.success(), "{}", text(&out));
        let shown = stdout(&out);
        assert!(
            shown.starts_with(&format!(
                "Bill {id}  account {} ",
                b["accountCode"].as_str().expect("code")
            )),
            "{shown}"
        );
        // The period reads as its first and last (inclusive) day, though
        // the API's `endDate` is the exclusive 2025-01-01.
        assert_eq!(b["endDate"], "2025-01-01", "{b}");
        assert!(
            shown.contains("  period 2024-12-01 \u{2013} 2024-12-31  "),
            "{shown}"
        );
        // Money is shown in cents (the example bills in USD), while
        // `--json` keeps the API's exact value.
        assert_eq!(b["currency"], "USD", "{b}");
        let total = b["billTotal"].as_f64().expect("total");
        let exact = emu.api("GET", &format!("bills/{id}"), None).1;
        assert_eq!(b["billTotal"], exact["billTotal"]);
        assert!(
            shown.contains(&format!(" total {total:.2} USD ")),
            "{shown}"
        );
        // The emulator rates usage (design §7): 300 measurements round-robin
        // over three accounts are 100 requests each.
        assert_eq!(requests(b), Some(100.0), "{b}");
        assert!(shown.contains("DESCRIPTION"), "{shown}");
        for li in &items {
            let d = li["description"].as_str().expect("description");
            let sub = li["subtotal"].as_f64().expect("subtotal");
            assert!(
                shown
                    .lines()
                    .any(|l| l.contains(d) && l.ends_with(&format!(" {sub:.2}"))),
                "{d}: {shown}"
            );
        }
    }

    let out = m3ter(
        dir.path(),
        &emu,
        &["bill", "list", "--account", ACCOUNTS[1]],
    );
    assert!(out.status.success(), "{}", text(&out));
    let listed = stdout(&out);
    assert_eq!(listed.matches("Bill ").count(), 1, "{listed}");
    assert!(
        listed.contains(&format!("account {} ", ACCOUNTS[1])),
        "{listed}"
    );

    let out = m3ter(
        dir.path(),
        &emu,
        &["bill", "show", "00000000-0000-4000-8000-00000000dead"],
    );
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        stderr(&out).contains("no bill with id 00000000-0000-4000-8000-00000000dead"),
        "{}",
        text(&out)
    );

    // Unknown account codes are named, and no job is created.
    let out = m3ter(
        dir.path(),
        &emu,
        &[
            "bill",
            "run",
            "--bill-date",
            "2025-01-01",
            "--account",
            "nobody",
            "--account",
            ACCOUNTS[0],
        ],
    );
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        stderr(&out).contains("no account with code `nobody`"),
        "{}",
        text(&out)
    );
    let out = m3ter(
        dir.path(),
        &emu,
        &["bill", "run", "--bill-date", "01/01/2025"],
    );
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        stderr(&out).contains("--bill-date `01/01/2025` is not a date"),
        "{}",
        text(&out)
    );
    assert_eq!(emu.list_all("billjobs").len(), 1);

    // --account bills only that account; the period defaults to the day
    // before the bill date.
    let out = m3ter(
        dir.path(),
        &emu,
        &[
            "bill",
            "run",
            "--bill-date",
            "2025-01-01",
            "--account",
            ACCOUNTS[2],
            "--json",
        ],
    );
    assert!(out.status.success(), "{}", text(&out));
    let v: Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(v["billJob"]["status"], "COMPLETE");
    assert_eq!(v["billJob"]["lastDateInBillingPeriod"], "2024-12-31");
    assert_eq!(v["bills"].as_array().map(Vec::len), Some(1));
    assert_eq!(v["bills"][0]["accountCode"], ACCOUNTS[2]);

    // A locked bill of the period is left alone by the next run, and the
    // output says so (the emulator lists it in the job's lockedBillIds).
    let bill_id = v["bills"][0]["id"].as_str().expect("bill id").to_string();
    let (status, body) = emu.api(
        "PUT",
        &format!("bills/{bill_id}/status"),
        Some(serde_json::json!({"status": "APPROVED"})),
    );
    assert_eq!(status, 200, "{body}");
    let (status, body) = emu.api("PUT", &format!("bills/{bill_id}/lock"), None);
    assert_eq!(status, 200, "{body}");
    let out = m3ter(
        dir.path(),
        &emu,
        &[
            "bill",
            "run",
            "--bill-date",
            "2025-01-01",
            "--account",
            ACCOUNTS[2],
        ],
    );
    assert!(out.status.success(), "{}", text(&out));
    let human = stdout(&out);
    assert!(
        human.contains(&format!(
            "Left alone (locked, not recalculated): {bill_id}."
        )),
        "{human}"
    );
}

#[test]
fn retried_batches_get_through_a_faulty_ingest_api() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("org.json");
    let data = data.to_str().expect("utf-8 path");
    {
        let emu = EmulatorProcess::start(&["--data", data]);
        apply_example(dir.path(), &emu);
    }
    let emu = EmulatorProcess::start(&[
        "--data",
        data,
        "--fault-rate",
        "0.3",
        "--fault-seed",
        "11",
        "--retry-after",
        "0",
    ]);
    let out = m3ter(
        dir.path(),
        &emu,
        &generate_args(&["--count", "3000", "--seed", "5"]),
    );
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        stdout(&out).starts_with("Ingested 3000 measurements in 3 batches ("),
        "{}",
        text(&out)
    );
    assert!(
        ingest_posts(&emu) > 3,
        "faults made the client retry: {}",
        emu.stats()
    );
    drop(emu);
    // Billing on a healthy emulator counts every measurement once, although
    // some batches were stored and then failed, and were sent again.
    let emu = EmulatorProcess::start(&["--data", data]);
    let out = m3ter(
        dir.path(),
        &emu,
        &["bill", "run", "--bill-date", "2025-01-01", "--json"],
    );
    assert!(out.status.success(), "{}", text(&out));
    let v: Value = serde_json::from_slice(&out.stdout).expect("json");
    let bills = v["bills"].as_array().expect("bills");
    assert_eq!(bills.len(), 3, "{v}");
    for b in bills {
        assert_eq!(requests(b), Some(1000.0), "{b}");
    }
}

/// `m3ter ARGS...` in `dir` with no M3TER_* variable at all (for --local).
fn m3ter_local(dir: &Path, args: &[&str]) -> Output {
    let mut cmd = Command::new(bin());
    cmd.current_dir(dir).args(args).stdin(Stdio::null());
    for (k, _) in std::env::vars() {
        if k.starts_with("M3TER_") {
            cmd.env_remove(k);
        }
    }
    cmd.env("NO_COLOR", "1").output().expect("m3ter runs")
}

#[test]
fn local_ingest_and_billing() {
    let dir = tempfile::tempdir().expect("tempdir");
    copy_example(dir.path());
    let out = m3ter_local(dir.path(), &["apply", "--local", "--auto-approve"]);
    assert!(out.status.success(), "{}", text(&out));
    let mut args = generate_args(&["--count", "50", "--local"]);
    args.push("--seed");
    args.push("3");
    let out = m3ter_local(dir.path(), &args);
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        stdout(&out).starts_with("Ingested 50 measurements in 1 batch ("),
        "{}",
        text(&out)
    );
    let out = m3ter_local(
        dir.path(),
        &[
            "bill",
            "run",
            "--local",
            "--bill-date",
            "2025-01-01",
            "--last-date-in-period",
            "2024-12-31",
        ],
    );
    assert!(out.status.success(), "{}", text(&out));
    assert!(stdout(&out).contains("3 bills"), "{}", text(&out));
    let out = m3ter_local(dir.path(), &["bill", "list", "--local", "--json"]);
    assert!(out.status.success(), "{}", text(&out));
    let v: Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(v.as_array().map(Vec::len), Some(3), "{v}");
    // The bills were kept in the local org's data file.
    assert!(dir.path().join("state/local-org.db").exists());
}

/// The library under the command: a batch the API refuses stops the run,
/// later batches are not sent, and the error says what got in.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_batch_stops_the_submission_and_reports_what_got_in() {
    use m3ter_reconcile::client::{Auth, Client, ClientConfig, Secret};
    use m3ter_reconcile::usage::{
        self,
        submit::{BatchFailure, IngestFailure},
    };
    use serde_json::json;

    let e = common::Emu::start().await;
    e.chain().await;
    let base = e.emu.base_url();
    let auth = Auth::Credentials {
        key: Secret::new(common::cli::KEY),
        secret: Secret::new(common::cli::SECRET),
    };
    let client = Client::new(ClientConfig::new(&base, common::ORG, auth)).expect("client");
    let m = |i: usize, account: &str| {
        json!({"uid": format!("u{i}"), "meter": "meter", "account": account,
               "ts": "2024-12-05T10:00:00Z", "measure": {"q": 1}})
    };
    // Batches of two; the second holds an account code with a tab (400).
    let all = vec![
        m(1, "acme"),
        m(2, "acme"),
        m(3, "acme"),
        m(4, "bad\tcode"),
        m(5, "acme"),
    ];
    let batches = usage::batches(all, 2, usage::batch::MAX_BODY_BYTES).expect("batches");
    assert_eq!(batches.len(), 3);
    let seen = std::sync::atomic::AtomicUsize::new(0);
    let tick = |n: usize| {
        seen.fetch_add(n, std::sync::atomic::Ordering::SeqCst);
    };
    let err: IngestFailure = usage::submit(&client, batches.into_iter().map(Ok), 1, &tick)
        .await
        .expect_err("the second batch is refused");
    assert_eq!((err.from, err.to), (3, 4));
    match &err.source {
        BatchFailure::Api(e) => assert_eq!(e.status(), Some(400), "{e}"),
        other => panic!("expected the API's refusal, got {other}"),
    }
    assert_eq!((err.accepted_measurements, err.accepted_batches), (2, 1));
    assert_eq!(seen.load(std::sync::atomic::Ordering::SeqCst), 2);
    let msg = err.to_string();
    assert!(
        msg.starts_with("batch of measurements 3..=4 failed: POST "),
        "{msg}"
    );
    assert!(
        msg.contains("; the remaining batches were not sent."),
        "{msg}"
    );
    assert!(
        msg.contains("sending the same measurements again is safe"),
        "{msg}"
    );
}

/// A failed bill-job create is never retried (a retry could start a second
/// job); when its outcome is unknown the error says so.
#[test]
fn a_failed_bill_job_create_is_sent_once() {
    let dir = tempfile::tempdir().expect("tempdir");
    // With these seeds the first decision is a dropped connection, a 500
    // after storing the job, and a 429 (the fault sequence is seeded).
    let mut refused = 0;
    for seed in ["1", "8", "11"] {
        let emu = EmulatorProcess::start(&["--fault-rate", "1", "--fault-seed", seed]);
        let out = m3ter(
            dir.path(),
            &emu,
            &["bill", "run", "--bill-date", "2025-01-01"],
        );
        assert_eq!(out.status.code(), Some(1), "{}", text(&out));
        let stats = emu.stats();
        assert_eq!(
            stats["requests"]["POST /organizations/{orgId}/billjobs"], 1,
            "{stats}"
        );
        let err = stderr(&out);
        if err.contains("HTTP 429") {
            refused += 1;
            assert!(!err.contains("may have been created"), "{err}");
        } else {
            assert!(
                err.contains("may have been created anyway; check with `m3ter bill list`"),
                "{err}"
            );
        }
    }
    assert_eq!(refused, 1, "one seed answers 429");
}

/// The whole shipped example, `billing.yaml` included, converges with
/// `apply --local` and its December bill for Mickey Mouse Inc has the lines
/// the new kinds give. No usage is ingested, so every amount follows from
/// the YAML: 3 seats at 12.40 from 1 December, 2 more from the 17th (15 of
/// 31 days), the commitment's fee, and the commitment consuming the rest;
/// Goofy Corp, on the plan group with no charges, pays the group's minimum.
#[test]
fn the_full_example_converges_and_bills_its_new_lines() {
    let dir = tempfile::tempdir().expect("tempdir");
    common::cli::copy_full_example(dir.path());
    let out = m3ter_local(dir.path(), &["apply", "--local", "--auto-approve"]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        stdout(&out).contains("Apply complete! 0 imported, 23 added, 0 changed, 0 destroyed."),
        "{}",
        text(&out)
    );
    let out = m3ter_local(dir.path(), &["plan", "--local"]);
    assert!(stdout(&out).contains("No changes."), "{}", text(&out));
    let out = m3ter_local(
        dir.path(),
        &[
            "bill",
            "run",
            "--local",
            "--bill-date",
            "2025-01-01",
            "--last-date-in-period",
            "2024-12-31",
        ],
    );
    assert!(out.status.success(), "{}", text(&out));
    let out = m3ter_local(
        dir.path(),
        &[
            "bill",
            "list",
            "--local",
            "--json",
            "--account",
            "mickey_mouse_inc_api_6",
        ],
    );
    assert!(out.status.success(), "{}", text(&out));
    let bills: Value = serde_json::from_slice(&out.stdout).expect("json");
    let lines = bills[0]["lineItems"]
        .as_array()
        .expect("line items")
        .clone();
    let amount = |kind: &str| -> f64 {
        let found: Vec<f64> = lines
            .iter()
            .filter(|l| l["lineItemType"] == kind)
            .map(|l| l["subtotal"].as_f64().expect("subtotal"))
            .collect();
        assert_eq!(found.len(), 1, "one {kind} line in {lines:?}");
        found[0]
    };
    let cents = |x: f64| (x * 100.0).round() as i64;
    let seat = 12.40;
    let running = 3.0 * seat;
    let debit = 2.0 * seat * 15.0 / 31.0;
    assert_eq!(
        cents(amount("COUNTER_RUNNING_TOTAL_CHARGE")),
        cents(running)
    );
    assert_eq!(cents(amount("COUNTER_ADJUSTMENT_DEBIT")), cents(debit));
    // 1,200 over twelve monthly fees.
    assert_eq!(cents(amount("COMMITMENT_FEE")), cents(1200.0 / 12.0));
    // The commitment pays for what the account used: no usage, so the seats.
    assert_eq!(
        cents(amount("COMMITMENT_CONSUMED")),
        -(cents(running) + cents(debit))
    );

    let out = m3ter_local(
        dir.path(),
        &[
            "bill",
            "list",
            "--local",
            "--json",
            "--account",
            "goofy_corp_api_6",
        ],
    );
    assert!(out.status.success(), "{}", text(&out));
    let bills: Value = serde_json::from_slice(&out.stdout).expect("json");
    let lines = bills[0]["lineItems"].as_array().expect("line items");
    let charged: i64 = lines
        .iter()
        .filter(|l| l["lineItemType"] != "MINIMUM_SPEND")
        .map(|l| cents(l["subtotal"].as_f64().expect("subtotal")))
        .sum();
    let top_up: Vec<i64> = lines
        .iter()
        .filter(|l| l["lineItemType"] == "MINIMUM_SPEND")
        .map(|l| cents(l["subtotal"].as_f64().expect("subtotal")))
        .collect();
    // The group's minimum of 2,000 less what its plans charged.
    assert_eq!(top_up, vec![cents(2000.0) - charged], "{lines:?}");
}
