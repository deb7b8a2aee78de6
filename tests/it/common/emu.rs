//! An emulator on 127.0.0.1:0 with a token, called over real HTTP.

use std::net::SocketAddr;

use m3ter_emulator::{self as emulator, EmulatorConfig, RunningEmulator};
use reqwest::StatusCode;
use serde_json::{Value, json};

pub const ORG: &str = emulator::DEFAULT_ORG_ID;

/// A running emulator plus an authenticated client.
pub struct Emu {
    pub emu: RunningEmulator,
    pub http: reqwest::Client,
    pub token: String,
}

pub fn loopback() -> SocketAddr {
    "127.0.0.1:0".parse().expect("loopback address")
}

impl Emu {
    /// Starts an emulator with default settings.
    pub async fn start() -> Emu {
        Emu::with(EmulatorConfig::default()).await
    }

    /// Starts an emulator with `config` and fetches a token.
    pub async fn with(config: EmulatorConfig) -> Emu {
        let emu = emulator::start(config, loopback())
            .await
            .expect("emulator starts");
        let http = reqwest::Client::new();
        let token = fetch_token(&http, &emu.base_url()).await;
        Emu { emu, http, token }
    }

    /// `http://HOST:PORT/organizations/{org}/<path>`.
    pub fn url(&self, path: &str) -> String {
        format!("{}/organizations/{ORG}/{path}", self.emu.base_url())
    }

    /// Sends a request with the token and a JSON body; returns status and JSON.
    pub async fn call(&self, method: &str, path: &str, body: Option<Value>) -> (StatusCode, Value) {
        let method = reqwest::Method::from_bytes(method.as_bytes()).expect("method");
        let mut req = self
            .http
            .request(method, self.url(path))
            .bearer_auth(&self.token);
        if let Some(b) = body {
            req = req.json(&b);
        }
        let resp = req.send().await.expect("request sent");
        let status = resp.status();
        let text = resp.text().await.expect("body read");
        let value = serde_json::from_str(&text).unwrap_or(Value::String(text));
        (status, value)
    }

    pub async fn get(&self, path: &str) -> (StatusCode, Value) {
        self.call("GET", path, None).await
    }
    pub async fn post(&self, path: &str, body: Value) -> (StatusCode, Value) {
        self.call("POST", path, Some(body)).await
    }
    pub async fn put(&self, path: &str, body: Value) -> (StatusCode, Value) {
        self.call("PUT", path, Some(body)).await
    }
    pub async fn delete(&self, path: &str) -> (StatusCode, Value) {
        self.call("DELETE", path, None).await
    }

    /// Creates an entity, asserting 200; returns it.
    pub async fn create(&self, collection: &str, body: Value) -> Value {
        let (status, v) = self.post(collection, body.clone()).await;
        assert_eq!(status, StatusCode::OK, "create {collection} {body}: {v}");
        v
    }

    /// Creates a product → meter → aggregation → template → plan → pricing
    /// and account → account plan chain; returns their ids by name.
    pub async fn chain(&self) -> Chain {
        let product = self
            .create("products", json!({"name": "P", "code": "prod"}))
            .await;
        let meter = self
            .create("meters", meter_body("meter", Some(id(&product))))
            .await;
        let aggregation = self
            .create(
                "aggregations",
                json!({"name": "A", "code": "agg", "meterId": id(&meter), "targetField": "q",
                       "aggregation": "SUM", "rounding": "NONE", "quantityPerUnit": 1, "unit": "u"}),
            )
            .await;
        let template = self
            .create(
                "plantemplates",
                json!({"name": "T", "code": "tmpl", "productId": id(&product), "currency": "USD",
                       "standingCharge": 0, "billFrequency": "MONTHLY"}),
            )
            .await;
        let plan = self
            .create(
                "plans",
                json!({"name": "Plan", "code": "plan", "planTemplateId": id(&template)}),
            )
            .await;
        let pricing = self
            .create(
                "pricings",
                json!({"planId": id(&plan), "aggregationId": id(&aggregation),
                       "startDate": "2024-01-01T00:00:00Z",
                       "pricingBands": [{"lowerLimit": 0, "fixedPrice": 0, "unitPrice": 1}]}),
            )
            .await;
        let account = self.create("accounts", account_body("acme")).await;
        let account_plan = self
            .create(
                "accountplans",
                json!({"accountId": id(&account), "planId": id(&plan),
                       "startDate": "2024-01-01T00:00:00Z"}),
            )
            .await;
        Chain {
            product: id(&product),
            meter: id(&meter),
            aggregation: id(&aggregation),
            template: id(&template),
            plan: id(&plan),
            pricing: id(&pricing),
            account: id(&account),
            account_plan: id(&account_plan),
        }
    }
}

/// Ids of the entities [`Emu::chain`] made.
pub struct Chain {
    pub product: String,
    pub meter: String,
    pub aggregation: String,
    pub template: String,
    pub plan: String,
    pub pricing: String,
    pub account: String,
    pub account_plan: String,
}

/// The `id` of an entity.
pub fn id(v: &Value) -> String {
    v["id"].as_str().expect("entity has an id").to_owned()
}

/// The `message` of an error body.
pub fn message(v: &Value) -> &str {
    v["message"].as_str().unwrap_or_default()
}

pub fn meter_body(code: &str, product: Option<String>) -> Value {
    let mut m = json!({"name": "M", "code": code,
        "dataFields": [{"category": "MEASURE", "code": "q", "name": "Quantity", "unit": "n"},
                       {"category": "WHO", "code": "user", "name": "User"}],
        "derivedFields": []});
    if let Some(p) = product {
        m["productId"] = json!(p);
    }
    m
}

pub fn account_body(code: &str) -> Value {
    json!({"name": "Acme", "code": code, "emailAddress": "billing@acme.test"})
}

/// Fetches a token with the default credentials.
pub async fn fetch_token(http: &reqwest::Client, base: &str) -> String {
    let resp = http
        .post(format!("{base}/oauth/token"))
        .basic_auth(
            emulator::DEFAULT_API_KEY,
            Some(emulator::DEFAULT_API_SECRET),
        )
        .json(&json!({"grant_type": "client_credentials"}))
        .send()
        .await
        .expect("token request");
    assert_eq!(resp.status(), StatusCode::OK);
    let v: Value = resp.json().await.expect("token json");
    v["access_token"].as_str().expect("access_token").to_owned()
}
