//! Operational behaviour of the emulator: durability, stats, fault
//! injection, rate limiting, latency, the CLI entry point.

use crate::common;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::Duration;

use common::{Emu, id, loopback, message};
use m3ter_emulator::{self as emulator, EmulatorConfig};
use reqwest::StatusCode;
use serde_json::{Value, json};

fn data_config(path: &std::path::Path) -> EmulatorConfig {
    EmulatorConfig {
        data: Some(path.to_owned()),
        ..Default::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn data_survives_a_graceful_restart() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("org.db");
    let e = Emu::with(data_config(&file)).await;
    let c = e.chain().await;
    let (_, p) = e.get(&format!("products/{}", c.product)).await;
    let mut body = p.clone();
    body["name"] = json!("Renamed");
    assert_eq!(
        e.put(&format!("products/{}", c.product), body).await.0,
        StatusCode::OK
    );
    let extra = e
        .create("products", json!({"name": "X", "code": "gone"}))
        .await;
    assert_eq!(
        e.delete(&format!("products/{}", id(&extra))).await.0,
        StatusCode::OK
    );
    e.post(
        "measurements",
        json!({"measurements": [{"uid": "u1", "meter": "meter", "account": "acme",
                                 "ts": "2024-12-05T00:00:00Z", "measure": {"q": 1}}]}),
    )
    .await;

    // A second emulator on the same data is refused while the first runs.
    let err = emulator::start(data_config(&file), loopback())
        .await
        .err()
        .expect("the data file is locked");
    assert!(err.to_string().contains("in use"), "{err:#}");

    e.emu.shutdown().await.unwrap();
    let e2 = Emu::with(data_config(&file)).await;
    let (status, p) = e2.get(&format!("products/{}", c.product)).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(p["name"], "Renamed");
    assert_eq!(p["version"], 2);
    assert_eq!(
        e2.get(&format!("products/{}", id(&extra))).await.0,
        StatusCode::NOT_FOUND
    );
    let (_, ap) = e2.get(&format!("accountplans/{}", c.account_plan)).await;
    assert_eq!(ap["productId"], c.product.as_str());
    // Order and tokens survive: newest first, and new ids sort above old ones.
    let n = e2
        .create("products", json!({"name": "N", "code": "new"}))
        .await;
    let (_, list) = e2.get("products").await;
    assert_eq!(list["data"][0]["id"], n["id"]);
    assert_eq!(list["data"][1]["id"], c.product.as_str());
    // The idempotency memory survived: re-sent uid is dropped (no auto-create).
    e2.post(
        "measurements",
        json!({"measurements": [{"uid": "u1", "meter": "meter", "account": "fresh",
                                 "ts": "2024-12-05T00:00:00Z"}]}),
    )
    .await;
    let (_, accts) = e2.get("accounts?codes=fresh").await;
    assert_eq!(accts["data"].as_array().unwrap().len(), 0);
    e2.emu.shutdown().await.unwrap();
}

/// Spawns the real binary; returns the child and its base URL.
fn spawn_binary(args: &[&str]) -> (std::process::Child, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_m3ter"))
        .args(["emulator", "--listen", "127.0.0.1:0"])
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn m3ter emulator");
    let stdout = child.stdout.take().expect("stdout");
    let mut line = String::new();
    BufReader::new(stdout)
        .read_line(&mut line)
        .expect("first line");
    let url = line
        .trim()
        .strip_prefix("listening on ")
        .unwrap_or_else(|| panic!("unexpected first line {line:?}"))
        .to_owned();
    assert!(
        url.starts_with("http://127.0.0.1:") && !url.ends_with(":0"),
        "{url}"
    );
    (child, url)
}

async fn create_product(http: &reqwest::Client, base: &str, token: &str, code: &str) -> Value {
    let url = format!("{base}/organizations/{}/products", common::ORG);
    let r = http
        .post(url)
        .bearer_auth(token)
        .json(&json!({"name": "P", "code": code}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    r.json().await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acknowledged_writes_survive_sigkill() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("org.db");
    let file_arg = file.to_str().unwrap();
    let (mut child, base) = spawn_binary(&["--data", file_arg]);
    let http = reqwest::Client::new();
    let token = common::fetch_token(&http, &base).await;
    let mut ids = Vec::new();
    for i in 0..20 {
        ids.push(id(
            &create_product(&http, &base, &token, &format!("k{i}")).await
        ));
    }
    child.kill().unwrap(); // SIGKILL: no graceful compaction
    child.wait().unwrap();

    let (child, base) = spawn_binary(&["--data", file_arg]);
    let list = first_products_page(&http, &base).await;
    let got: Vec<&str> = list["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["id"].as_str().unwrap())
        .collect();
    let mut want: Vec<&str> = ids.iter().map(String::as_str).collect();
    want.reverse();
    assert_eq!(got, want);

    // SIGTERM: a graceful stop with exit status 0.
    let pid = child.id().to_string();
    let status = Command::new("kill").args(["-TERM", &pid]).status().unwrap();
    assert!(status.success());
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{:?}: {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );

    // SIGINT right after the first line: handlers are in place by then.
    let (child, _) = spawn_binary(&["--data", file_arg]);
    let pid = child.id().to_string();
    assert!(
        Command::new("kill")
            .args(["-INT", &pid])
            .status()
            .unwrap()
            .success()
    );
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{:?}: {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stats_count_requests_by_route_template() {
    let e = Emu::start().await;
    let base = e.emu.base_url();
    let p = e
        .create("products", json!({"name": "P", "code": "p"}))
        .await;
    e.get(&format!("products/{}", id(&p))).await;
    e.get(&format!("products/{}", id(&p))).await;
    e.get("products/00000000-0000-4000-8000-00000000ffff").await; // 404, still counted
    let r = e.http.get(e.url("meters")).send().await.unwrap(); // 403, still counted
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    let stats: Value = e
        .http
        .get(format!("{base}/_emulator/stats"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let req = &stats["requests"];
    assert_eq!(req["GET /organizations/{orgId}/products/{id}"], 3);
    assert_eq!(req["POST /organizations/{orgId}/products"], 1);
    assert_eq!(req["GET /organizations/{orgId}/meters"], 1);
    assert_eq!(req["POST /oauth/token"], 1);
    // total counts this stats request too.
    assert_eq!(stats["total"], 7);
    let r = e
        .http
        .delete(format!("{base}/_emulator/stats"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let stats: Value = e
        .http
        .get(format!("{base}/_emulator/stats"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(stats["total"], 1);
    assert_eq!(stats["requests"], json!({"GET /_emulator/stats": 1}));
}

/// One request's outcome as a comparable string.
async fn outcome(e: &Emu, i: usize) -> String {
    let r = e
        .http
        .post(e.url("products"))
        .bearer_auth(&e.token)
        .json(&json!({"name": "P", "code": format!("f{i}")}))
        .send()
        .await;
    match r {
        Err(_) => "dropped".into(),
        Ok(r) => {
            let status = r.status().as_u16();
            let retry = r
                .headers()
                .get("retry-after")
                .map(|v| v.to_str().unwrap_or("").to_owned());
            match r.json::<Value>().await {
                Ok(v) if status == 500 && message(&v).contains("after the change") => {
                    "500-after".into()
                }
                Ok(_) => format!("{status} {retry:?}"),
                Err(_) => "dropped".into(),
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn faults_are_reproducible_with_a_seed_and_commit_then_fail_commits() {
    let dir = tempfile::tempdir().unwrap();
    let mut runs = Vec::new();
    for run in 0..2 {
        let file = dir.path().join(format!("run{run}.db"));
        let e = Emu::with(EmulatorConfig {
            fault_rate: 0.6,
            fault_seed: 42,
            data: Some(file.clone()),
            ..Default::default()
        })
        .await;
        let mut seq = Vec::new();
        for i in 0..60 {
            seq.push(outcome(&e, i).await);
        }
        e.emu.shutdown().await.unwrap();
        // Which creates were stored? Read back without faults.
        let check = Emu::with(data_config(&file)).await;
        let (_, list) = check.get("products?pageSize=200").await;
        let stored: Vec<String> = list["data"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["code"].as_str().unwrap().to_owned())
            .collect();
        check.emu.shutdown().await.unwrap();
        runs.push((seq, stored));
    }
    assert_eq!(
        runs[0], runs[1],
        "same seed, same arrival order, same faults"
    );
    let (seq, stored) = &runs[0];
    for kind in [
        "200 None",
        "500 None",
        "503 None",
        "429 Some(\"1\")",
        "dropped",
        "500-after",
    ] {
        assert!(seq.iter().any(|s| s == kind), "no {kind} in {seq:?}");
    }
    for (i, s) in seq.iter().enumerate() {
        let code = format!("f{i}");
        match s.as_str() {
            "200 None" | "500-after" => assert!(stored.contains(&code), "{code} ({s}) not stored"),
            "500 None" | "503 None" | "429 Some(\"1\")" => {
                assert!(!stored.contains(&code), "{code} ({s}) stored")
            }
            _ => {}
        }
    }
    // Some drops committed and some did not, both kinds exist in 60 tries.
    let dropped: Vec<_> = (0..seq.len()).filter(|i| seq[*i] == "dropped").collect();
    assert!(dropped.iter().any(|i| stored.contains(&format!("f{i}"))));
    assert!(dropped.iter().any(|i| !stored.contains(&format!("f{i}"))));

    // Faults hit /organizations only: tokens and stats never fail.
    let e = Emu::with(EmulatorConfig {
        fault_rate: 1.0,
        ..Default::default()
    })
    .await;
    for _ in 0..10 {
        common::fetch_token(&e.http, &e.emu.base_url()).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn injected_429s_carry_the_configured_retry_after() {
    for (after, header) in [(Duration::from_millis(50), "0.05"), (Duration::ZERO, "0")] {
        let e = Emu::with(EmulatorConfig {
            fault_rate: 1.0,
            fault_seed: 42,
            retry_after: after,
            ..Default::default()
        })
        .await;
        let mut seen = Vec::new();
        for i in 0..40 {
            seen.push(outcome(&e, i).await);
        }
        let want = format!("429 Some({header:?})");
        assert!(seen.contains(&want), "no {want} in {seen:?}");
        assert!(
            !seen.iter().any(|s| s.starts_with("429") && *s != want),
            "{seen:?}"
        );
    }
    // The flag: fractions and 0 are accepted, negatives are not.
    for (value, ok) in [("0.25", true), ("0", true), ("-1", false), ("soon", false)] {
        let out = Command::new(env!("CARGO_BIN_EXE_m3ter"))
            .args(["emulator", "--listen", "not-an-address"])
            .arg(format!("--retry-after={value}"))
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        // A good value gets as far as --listen; a bad one is named.
        assert_eq!(out.status.code(), Some(1), "{value}: {err}");
        assert_eq!(err.contains("--listen"), ok, "{value}: {err}");
        assert_eq!(err.contains("--retry-after"), !ok, "{value}: {err}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn max_rps_answers_429_with_retry_after() {
    let e = Emu::with(EmulatorConfig {
        max_rps: Some(5),
        ..Default::default()
    })
    .await;
    // Bursts of 12 at once: a burst spans at most a few one-second windows
    // of 5, so it is limited unless the machine stalls; bursts are repeated
    // until one is (no assumption on how fast requests go).
    let mut limited = None;
    for _ in 0..50 {
        let burst = (0..12).map(|_| e.http.get(e.url("products")).bearer_auth(&e.token).send());
        for r in futures_util::future::join_all(burst).await {
            let r = r.unwrap();
            if r.status() == StatusCode::TOO_MANY_REQUESTS {
                limited = Some(r);
            }
        }
        if limited.is_some() {
            break;
        }
    }
    let r = limited.expect("a burst of 12 at 5 requests/s was limited");
    assert_eq!(r.headers()["retry-after"], "1");
    let v: Value = r.json().await.unwrap();
    assert!(message(&v).contains("rate limit"));
    // A later window admits again (the sleep only has to outlast the window).
    tokio::time::sleep(Duration::from_millis(1100)).await;
    assert_eq!(e.get("products").await.0, StatusCode::OK);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn latency_applies_to_everything_but_stats() {
    // So long that a delayed request cannot be answered during the test
    // (which is why there is no token: /oauth/token is delayed too).
    let config = EmulatorConfig {
        latency: Duration::from_secs(600),
        ..Default::default()
    };
    let emu = emulator::start(config, loopback()).await.unwrap();
    let http = reqwest::Client::new();
    let url = format!("{}/organizations/{}/products", emu.base_url(), common::ORG);
    let delayed = tokio::spawn(http.get(url).send());
    // Stats answer while the product GET waits out its latency: it arrived
    // (it is counted) and is not answered.
    let stats_url = format!("{}/_emulator/stats", emu.base_url());
    let mut stats = Value::Null;
    for _ in 0..1000 {
        stats = http
            .get(&stats_url)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        if stats["requests"]["GET /organizations/{orgId}/products"] == 1 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(
        stats["requests"]["GET /organizations/{orgId}/products"], 1,
        "{stats}"
    );
    assert_eq!(stats["answered"], 0, "{stats}");
    assert!(!delayed.is_finished(), "the GET was not delayed");
    delayed.abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pages_stay_cheap_with_100k_entities() {
    use std::io::Write as _;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("big.db");
    {
        let mut out = std::io::BufWriter::new(std::fs::File::create(&file).unwrap());
        for i in 1..=100_000u64 {
            let rec = json!({"op": "put", "table": "products", "seq": i,
                             "value": {"id": format!("00000000-0000-4000-8000-{i:012}"),
                                       "version": 1, "name": "P", "code": format!("p{i}")}});
            writeln!(out, "{rec}").unwrap();
        }
    }
    let e = Emu::with(data_config(&file)).await;
    let codes = |v: &Value| -> Vec<String> {
        v["data"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["code"].as_str().unwrap().to_owned())
            .collect()
    };
    // The first and a far page hold the right entities. What they cost
    // (O(page size), not O(entities)) is a benchmark, not a test on a loaded
    // machine: bench/emulator.sh compares pages at 100 and 100,000 products.
    let (_, first) = e.get("products?pageSize=200").await;
    assert_eq!(codes(&first)[0], "p100000");
    let far = m3ter_emulator::store::encode_token(50_001);
    let (_, mid) = e
        .get(&format!("products?pageSize=200&nextToken={far}"))
        .await;
    assert_eq!(codes(&mid)[0], "p50000");
    assert_eq!(codes(&mid).len(), 200);
    e.emu.shutdown().await.unwrap();
}

/// `m3ter ARGS...` run in `dir`.
fn m3ter_in(dir: &std::path::Path, args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_m3ter"))
        .args(args)
        .current_dir(dir)
        .output()
        .expect("m3ter runs")
}

fn out_text(out: &std::process::Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn emulator_reset_local_deletes_the_embedded_data_unless_in_use() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let out = m3ter_in(d, &["emulator", "reset", "--local"]);
    assert!(out.status.success(), "{}", out_text(&out));
    assert!(
        out_text(&out).contains("Nothing to remove"),
        "{}",
        out_text(&out)
    );

    // The data `--local` uses, written by an emulator that is still running.
    std::fs::create_dir_all(d.join("state")).unwrap();
    let data = d.join("state/local-org.db");
    let (child, base) = spawn_binary(&["--data", data.to_str().unwrap()]);
    let http = reqwest::Client::new();
    let token = common::fetch_token(&http, &base).await;
    create_product(&http, &base, &token, "kept").await;
    let out = m3ter_in(d, &["emulator", "reset", "--local"]);
    assert_eq!(out.status.code(), Some(1), "{}", out_text(&out));
    assert!(out_text(&out).contains("in use"), "{}", out_text(&out));
    assert!(data.exists(), "nothing is removed while in use");

    common::apply::signal(child.id(), "-TERM");
    assert!(child.wait_with_output().unwrap().status.success());
    let out = m3ter_in(d, &["emulator", "reset", "--local"]);
    assert!(out.status.success(), "{}", out_text(&out));
    let said = out_text(&out);
    assert!(
        said.contains("Removed state/local-org.db, state/local-org.db.lock.")
            && said.contains("The next --local run starts with an empty org."),
        "{said}"
    );
    assert!(!data.exists() && !d.join("state/local-org.db.lock").exists());

    // The next run on that data starts empty.
    let (child, base) = spawn_binary(&["--data", data.to_str().unwrap()]);
    let list = first_products_page(&http, &base).await;
    assert_eq!(list["data"], json!([]));
    common::apply::signal(child.id(), "-TERM");
    assert!(child.wait_with_output().unwrap().status.success());

    // --data FILE resets another emulator's data; a subcommand takes no
    // server options, and reset needs to be told whose data.
    let out = m3ter_in(d, &["emulator", "reset", "--data", data.to_str().unwrap()]);
    assert!(out.status.success(), "{}", out_text(&out));
    assert!(out_text(&out).contains("Removed"), "{}", out_text(&out));
    for bad in [
        &["emulator", "--latency-ms", "5", "reset", "--local"][..],
        &["emulator", "reset"][..],
        &["emulator", "reset", "--local", "--data", "x.json"][..],
    ] {
        let out = m3ter_in(d, bad);
        assert_eq!(out.status.code(), Some(1), "{bad:?}: {}", out_text(&out));
    }
}

/// The first page (up to 100) of the products of the emulator at `base`,
/// with a fresh token.
async fn first_products_page(http: &reqwest::Client, base: &str) -> Value {
    let token = common::fetch_token(http, base).await;
    let url = format!("{base}/organizations/{}/products?pageSize=100", common::ORG);
    http.get(url)
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}
