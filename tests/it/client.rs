//! The API client against a scripted server on loopback: auth, token cache,
//! re-authentication, retries, pagination, pacing and secret hygiene.

use crate::common;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use base64::Engine;
use common::scenario::{Canned, Scenario};
use m3ter_api::Kind;
use m3ter_reconcile::client::{ApiError, Auth, Client, ClientConfig, RetryPolicy, Secret};
use reqwest::Method;
use serde_json::{Value, json};

const ORG: &str = "org-1";
const KEY: &str = "key-AKID-123";
const SECRET: &str = "s3cr3t-value-xyz";
const PRODUCT: &str = "/organizations/org-1/products/p1";

fn fast_retries(max_attempts: u32) -> RetryPolicy {
    RetryPolicy {
        max_attempts,
        base: Duration::from_millis(2),
        cap: Duration::from_millis(20),
    }
}

fn config(url: &str, auth: Auth) -> ClientConfig {
    let mut cfg = ClientConfig::new(url, ORG, auth);
    cfg.retry = fast_retries(8);
    cfg
}

fn creds() -> Auth {
    Auth::Credentials {
        key: Secret::new(KEY),
        secret: Secret::new(SECRET),
    }
}

fn client(s: &Scenario) -> Client {
    Client::new(config(&s.url, creds())).expect("client")
}

fn product(id: &str) -> Canned {
    Canned::ok(json!({"id": id, "version": 1, "name": "P", "code": "p"}))
}

fn assert_no_secrets(text: &str) {
    for s in [KEY, SECRET, "tok-1", "tok-2", "given-token-abc"] {
        assert!(!text.contains(s), "`{s}` leaked into: {text}");
    }
}

#[tokio::test]
async fn fetches_a_token_with_basic_auth_once_and_reuses_it() {
    let s = Scenario::start().await;
    s.auto_token(3600);
    s.on(
        "GET",
        PRODUCT,
        [product("p1"), product("p1"), product("p1")],
    );
    let c = client(&s);
    for _ in 0..3 {
        let p = c.get(Kind::Product, "p1").await.expect("get");
        assert_eq!(p["id"], "p1");
    }
    let tokens = s.requests_to("/oauth/token");
    assert_eq!(tokens.len(), 1);
    let basic = base64::engine::general_purpose::STANDARD.encode(format!("{KEY}:{SECRET}"));
    assert_eq!(tokens[0].auth(), Some(format!("Basic {basic}").as_str()));
    assert_eq!(tokens[0].method, "POST");
    assert_eq!(
        tokens[0].body,
        Some(json!({"grant_type": "client_credentials"}))
    );
    assert!(
        tokens[0].headers["content-type"].starts_with("application/json"),
        "{:?}",
        tokens[0].headers
    );
    for r in s.requests_to(PRODUCT) {
        assert_eq!(r.auth(), Some("Bearer tok-1"));
    }
}

#[tokio::test]
async fn concurrent_first_calls_share_one_token_request() {
    let s = Scenario::start().await;
    s.auto_token_delayed(3600, Duration::from_millis(200));
    s.on("GET", PRODUCT, (0..10).map(|_| product("p1")));
    let c = client(&s);
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..10 {
        let c = c.clone();
        tasks.spawn(async move { c.get(Kind::Product, "p1").await });
    }
    while let Some(r) = tasks.join_next().await {
        r.expect("task").expect("get");
    }
    assert_eq!(s.requests_to("/oauth/token").len(), 1);
    assert_eq!(s.requests_to(PRODUCT).len(), 10);
}

#[tokio::test]
async fn renews_the_token_before_it_expires() {
    let s = Scenario::start().await;
    // TTL 2 s: renewal margin min(300 s, 1 s) = 1 s, so renewal 1 s after
    // the token was fetched. The sleep is a lower bound, so the second call
    // always renews, however loaded the machine; that a token is reused
    // before its renewal time is checked by
    // `fetches_a_token_with_basic_auth_once_and_reuses_it` (TTL 1 h, no sleep).
    s.auto_token(2);
    s.on("GET", PRODUCT, (0..2).map(|_| product("p1")));
    let c = client(&s);
    c.get(Kind::Product, "p1").await.expect("first");
    tokio::time::sleep(Duration::from_millis(1100)).await;
    c.get(Kind::Product, "p1").await.expect("second, renewed");
    assert_eq!(s.requests_to("/oauth/token").len(), 2);
    let auths: Vec<_> = s
        .requests_to(PRODUCT)
        .iter()
        .map(|r| r.auth().unwrap_or("").to_string())
        .collect();
    assert_eq!(auths, ["Bearer tok-1", "Bearer tok-2"]);
}

#[tokio::test]
async fn a_given_token_never_calls_the_token_endpoint() {
    let s = Scenario::start().await;
    s.on("GET", PRODUCT, [product("p1")]);
    let c =
        Client::new(config(&s.url, Auth::Token(Secret::new("given-token-abc")))).expect("client");
    c.get(Kind::Product, "p1").await.expect("get");
    assert!(s.requests_to("/oauth/token").is_empty());
    assert_eq!(
        s.requests_to(PRODUCT)[0].auth(),
        Some("Bearer given-token-abc")
    );
}

#[tokio::test]
async fn a_rejected_given_token_is_an_auth_error_at_once() {
    let s = Scenario::start().await;
    s.on("GET", PRODUCT, [Canned::error(403, "Forbidden")]);
    let c =
        Client::new(config(&s.url, Auth::Token(Secret::new("given-token-abc")))).expect("client");
    let err = c.get(Kind::Product, "p1").await.expect_err("403");
    assert!(err.is_auth(), "{err:?}");
    assert_no_secrets(&err.to_string());
    assert_no_secrets(&format!("{err:?}"));
    assert_eq!(s.requests().len(), 1);
}

#[tokio::test]
async fn unauthorized_reauthenticates_once_then_succeeds() {
    let s = Scenario::start().await;
    s.auto_token(3600);
    s.on(
        "GET",
        PRODUCT,
        [Canned::error(401, "token expired"), product("p1")],
    );
    let c = client(&s);
    let p = c.get(Kind::Product, "p1").await.expect("get after re-auth");
    assert_eq!(p["id"], "p1");
    assert_eq!(s.requests_to("/oauth/token").len(), 2);
    let auths: Vec<_> = s
        .requests_to(PRODUCT)
        .iter()
        .map(|r| r.auth().unwrap_or("").to_string())
        .collect();
    assert_eq!(auths, ["Bearer tok-1", "Bearer tok-2"]);
}

#[tokio::test]
async fn forbidden_twice_is_an_auth_error_without_secrets() {
    let s = Scenario::start().await;
    s.auto_token(3600);
    s.on(
        "GET",
        PRODUCT,
        [
            Canned::error(403, "Forbidden"),
            Canned::error(403, "Forbidden"),
            product("p1"),
        ],
    );
    let c = client(&s);
    let err = c.get(Kind::Product, "p1").await.expect_err("403 twice");
    assert!(err.is_auth(), "{err:?}");
    assert!(!err.is_retryable());
    let msg = err.to_string();
    assert!(msg.starts_with("authentication failed"), "{msg}");
    assert!(msg.contains("403"), "{msg}");
    assert_no_secrets(&msg);
    assert_no_secrets(&format!("{err:?}"));
    // One re-authentication, no retry loop on top.
    assert_eq!(s.requests_to(PRODUCT).len(), 2);
    assert_eq!(s.requests_to("/oauth/token").len(), 2);
}

#[tokio::test]
async fn bad_credentials_at_the_token_endpoint_are_an_auth_error() {
    let s = Scenario::start().await;
    s.on(
        "POST",
        "/oauth/token",
        [Canned::error(401, "bad client credentials")],
    );
    let c = client(&s);
    let err = c.get(Kind::Product, "p1").await.expect_err("401");
    assert!(err.is_auth(), "{err:?}");
    let msg = err.to_string();
    assert!(
        msg.contains("API key") && msg.contains("bad client credentials"),
        "{msg}"
    );
    assert_no_secrets(&msg);
    assert!(s.requests_to(PRODUCT).is_empty());
}

#[tokio::test]
async fn rate_limited_waits_for_retry_after() {
    let s = Scenario::start().await;
    s.auto_token(3600);
    s.on(
        "GET",
        PRODUCT,
        [
            Canned::error(429, "slow down").header("Retry-After", "1"),
            product("p1"),
        ],
    );
    let c = client(&s);
    let started = Instant::now();
    c.get(Kind::Product, "p1").await.expect("get after 429");
    assert!(
        started.elapsed() >= Duration::from_millis(950),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(s.requests_to(PRODUCT).len(), 2);
}

#[tokio::test]
async fn server_errors_are_retried_up_to_the_limit() {
    let s = Scenario::start().await;
    s.auto_token(3600);
    s.on("GET", PRODUCT, (0..6).map(|_| Canned::error(500, "boom")));
    let mut cfg = config(&s.url, creds());
    cfg.retry = fast_retries(4);
    let c = Client::new(cfg).expect("client");
    let err = c.get(Kind::Product, "p1").await.expect_err("always 500");
    assert_eq!(err.status(), Some(500));
    assert!(err.is_retryable());
    assert!(err.to_string().contains("boom"), "{err}");
    assert_eq!(s.requests_to(PRODUCT).len(), 4);
}

#[tokio::test]
async fn transient_errors_then_success() {
    let s = Scenario::start().await;
    s.auto_token(3600);
    s.on(
        "GET",
        PRODUCT,
        [
            Canned::error(503, "unavailable"),
            Canned::error(502, "bad gateway"),
            product("p1"),
        ],
    );
    let c = client(&s);
    assert_eq!(c.get(Kind::Product, "p1").await.expect("get")["id"], "p1");
    assert_eq!(s.requests_to(PRODUCT).len(), 3);
}

#[tokio::test]
async fn client_errors_are_not_retried_and_keep_the_server_message() {
    let s = Scenario::start().await;
    s.auto_token(3600);
    s.on("GET", PRODUCT, [Canned::error(404, "Product not found")]);
    s.on(
        "POST",
        "/organizations/org-1/products",
        [Canned::error(400, "code must be unique")],
    );
    let c = client(&s);
    let err = c.get(Kind::Product, "p1").await.expect_err("404");
    assert!(err.is_not_found());
    assert!(!err.is_retryable());
    assert_eq!(
        err.to_string(),
        "GET /organizations/org-1/products/p1 failed with HTTP 404: Product not found"
    );
    let body = json!({"name": "P", "code": "p"});
    let err = c
        .create_once(Kind::Product, body.as_object().expect("object"))
        .await
        .expect_err("400");
    assert_eq!(err.status(), Some(400));
    assert!(err.to_string().contains("code must be unique"));
    assert_eq!(s.requests().len(), 3); // token + one GET + one POST
}

#[tokio::test]
async fn writes_are_single_attempts() {
    let s = Scenario::start().await;
    s.auto_token(3600);
    s.on(
        "POST",
        "/organizations/org-1/meters",
        [Canned::error(500, "boom"), Canned::ok(json!({"id": "m1"}))],
    );
    s.on(
        "PUT",
        "/organizations/org-1/meters/m1",
        [Canned::error(409, "version conflict")],
    );
    s.on(
        "DELETE",
        "/organizations/org-1/meters/m1",
        [
            Canned::error(503, "busy"),
            Canned::ok(json!({"id": "m1", "version": 2})),
        ],
    );
    let c = client(&s);
    let body = json!({"name": "M", "code": "m", "dataFields": [], "derivedFields": []});
    let body = body.as_object().expect("object");
    let err = c.create_once(Kind::Meter, body).await.expect_err("500");
    assert!(err.is_retryable());
    let posts = s.requests_to("/organizations/org-1/meters");
    assert_eq!(posts.len(), 1);
    assert_eq!(posts[0].body.as_ref(), Some(&Value::Object(body.clone())));

    let mut put = body.clone();
    put.insert("version".into(), json!(1));
    let err = c
        .update_once(Kind::Meter, "m1", &put)
        .await
        .expect_err("409");
    assert!(err.is_conflict());
    assert!(!err.is_retryable());

    let err = c
        .delete_once(Kind::Meter, None, "m1")
        .await
        .expect_err("503");
    assert_eq!(err.status(), Some(503));
    let deleted = c
        .delete_once(Kind::Meter, None, "m1")
        .await
        .expect("second delete");
    assert_eq!(deleted["version"], 2);
    assert_eq!(s.requests_to("/organizations/org-1/meters/m1").len(), 3);
}

#[tokio::test]
async fn list_all_follows_next_token_at_the_largest_page_size() {
    let s = Scenario::start().await;
    s.auto_token(3600);
    s.on(
        "GET",
        "/organizations/org-1/products",
        [
            Canned::ok(json!({"data": [{"id": "a"}, {"id": "b"}], "nextToken": "t/1+"})),
            Canned::error(503, "blip"),
            Canned::ok(json!({"data": [{"id": "c"}], "nextToken": "t2"})),
            Canned::ok(json!({"data": []})),
        ],
    );
    s.on(
        "GET",
        "/organizations/org-1/meters",
        [Canned::ok(json!({"data": [{"id": "m"}], "nextToken": ""}))],
    );
    let c = client(&s);
    let all = c.list_all(Kind::Product, &[]).await.expect("list");
    let ids: Vec<_> = all.iter().map(|e| e["id"].as_str().unwrap_or("")).collect();
    assert_eq!(ids, ["a", "b", "c"]);
    let pages = s.requests_to("/organizations/org-1/products");
    assert_eq!(pages.len(), 4);
    assert!(pages.iter().all(|p| p.param("pageSize") == Some("200")));
    let tokens: Vec<_> = pages.iter().map(|p| p.param("nextToken")).collect();
    assert_eq!(tokens, [None, Some("t/1+"), Some("t/1+"), Some("t2")]);

    let meters = c
        .list_all(Kind::Meter, &[("codes", "a,b".to_string())])
        .await
        .expect("meters");
    assert_eq!(meters.len(), 1);
    let req = &s.requests_to("/organizations/org-1/meters")[0];
    assert_eq!(req.param("pageSize"), Some("100"));
    assert_eq!(req.param("codes"), Some("a,b"));
}

#[tokio::test]
async fn an_undocumented_filter_is_refused_before_any_request() {
    let s = Scenario::start().await;
    let c = client(&s);
    let err = c
        .list_all(Kind::Product, &[("codes", "x".to_string())])
        .await
        .expect_err("products have no codes filter");
    assert!(err.to_string().contains("`codes`"), "{err}");
    assert!(s.requests().is_empty());
}

#[tokio::test]
async fn generic_requests_and_ingest_use_the_right_hosts() {
    let s = Scenario::start().await;
    let ingest = Scenario::start().await;
    s.auto_token(3600);
    s.on(
        "GET",
        "/organizations/org-1/bills/b1/lineitems",
        [Canned::ok(json!({"data": []}))],
    );
    ingest.on(
        "POST",
        "/organizations/org-1/measurements",
        [Canned::ok(json!({"result": "accepted"}))],
    );
    let mut cfg = config(&s.url, creds());
    cfg.ingest_url = ingest.url.clone();
    let c = Client::new(cfg).expect("client");
    let v = c
        .request(
            Method::GET,
            "bills/b1/lineitems",
            &[("pageSize", "100".to_string())],
            None,
        )
        .await
        .expect("line items");
    assert_eq!(v, json!({"data": []}));
    s.on(
        "POST",
        "/organizations/org-1/billjobs",
        [Canned::error(500, "boom"), Canned::ok(json!({"id": "j1"}))],
    );
    let err = c
        .request_once(
            Method::POST,
            "billjobs",
            &[],
            Some(&json!({"billDate": "2025-01-01"})),
        )
        .await
        .expect_err("one attempt only");
    assert_eq!(err.status(), Some(500));
    assert_eq!(s.requests_to("/organizations/org-1/billjobs").len(), 1);
    let batch = json!({"measurements": [{"uid": "u1", "meter": "m", "account": "a", "ts": "2024-12-01T00:00:00Z"}]});
    let v = c.ingest_once(&batch).await.expect("ingest");
    assert_eq!(v["result"], "accepted");
    let sent = &ingest.requests()[0];
    assert_eq!(sent.body.as_ref(), Some(&batch));
    assert_eq!(sent.auth(), Some("Bearer tok-1"));
}

#[tokio::test]
async fn pacing_spaces_requests_across_tasks() {
    let s = Scenario::start().await;
    s.on("GET", PRODUCT, (0..11).map(|_| product("p1")));
    let mut cfg = config(&s.url, Auth::Token(Secret::new("t")));
    cfg.rate_limit = Some(20.0);
    let c = Client::new(cfg).expect("client");
    let started = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..11 {
        let c = c.clone();
        tasks.spawn(async move { c.get(Kind::Product, "p1").await });
    }
    while let Some(r) = tasks.join_next().await {
        r.expect("task").expect("get");
    }
    // 11 requests at 20/s: the last starts ≥ 10 intervals (0.5 s) after the first.
    let elapsed = started.elapsed();
    // A lower bound only: the pacer makes requests wait, and no machine is
    // too fast for that; how slow a loaded one is says nothing.
    assert!(elapsed >= Duration::from_millis(480), "{elapsed:?}");
}

#[tokio::test]
async fn dropped_connections_are_retried() {
    // A server that accepts and hangs up without answering.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let accepted = Arc::new(AtomicUsize::new(0));
    let counter = accepted.clone();
    tokio::spawn(async move {
        while let Ok((sock, _)) = listener.accept().await {
            counter.fetch_add(1, Ordering::SeqCst);
            drop(sock);
        }
    });
    let mut cfg = config(&format!("http://{addr}"), Auth::Token(Secret::new("t")));
    cfg.retry = fast_retries(3);
    let c = Client::new(cfg).expect("client");
    let err = c.get(Kind::Product, "p1").await.expect_err("no answer");
    assert!(matches!(err, ApiError::Transport { .. }), "{err:?}");
    assert!(err.is_retryable());
    assert!(accepted.load(Ordering::SeqCst) >= 3);
}

#[test]
fn secrets_never_show_in_debug_output() {
    let cfg = config("http://127.0.0.1:1", creds());
    let dbg = format!("{cfg:?}");
    assert_no_secrets(&dbg);
    assert!(dbg.contains("***"), "{dbg}");
    let c = Client::new(cfg).expect("client");
    assert_no_secrets(&format!("{c:?}"));
    let token = Auth::Token(Secret::new("given-token-abc"));
    assert_no_secrets(&format!("{token:?}"));
    assert_eq!(Secret::new(SECRET).to_string(), "***");
}
