//! Profiles, `compare` and `promote` between two emulators started side by
//! side on loopback, each its own org with its own keys, named by a
//! profiles file given with `M3TER_CONFIG`.

use std::path::Path;
use std::process::{Command, Output, Stdio};

use serde_json::{Value, json};

use crate::common;
use common::cli::{EmulatorProcess, ORG, bin, copy_example, stderr, stdout, text};

/// The second org, with keys of its own.
const ORG_B: &str = "00000000-0000-4000-8000-0000000000b2";
const KEY_B: &str = "prod-key";
const SECRET_B: &str = "prod-secret-value";

/// Two orgs and a temporary directory holding `profiles.yaml` with the
/// profiles `sandbox` (the first org) and `prod` (the second).
struct Orgs {
    sandbox: EmulatorProcess,
    prod: EmulatorProcess,
    dir: tempfile::TempDir,
}

impl Orgs {
    fn start() -> Orgs {
        let sandbox = EmulatorProcess::start(&[]);
        let prod = EmulatorProcess::start(&["--org", ORG_B, "--key", KEY_B, "--secret", SECRET_B]);
        let dir = tempfile::tempdir().expect("tempdir");
        let profiles = format!(
            "profiles:\n  sandbox:\n    orgId: {ORG}\n    baseUrl: {}\n    apiKeyEnv: SANDBOX_KEY\n    apiSecretEnv: SANDBOX_SECRET\n  prod:\n    orgId: {ORG_B}\n    baseUrl: {}\n    apiKeyEnv: PROD_KEY\n    apiSecretEnv: PROD_SECRET\n  moved:\n    orgId: {ORG}\n    baseUrl: http://127.0.0.1:9\n    apiKeyEnv: SANDBOX_KEY\n    apiSecretEnv: SANDBOX_SECRET\n",
            sandbox.base_url, prod.base_url
        );
        std::fs::write(dir.path().join("profiles.yaml"), profiles).expect("profiles");
        Orgs { sandbox, prod, dir }
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    /// `m3ter ARGS...` with the profiles file and both orgs' keys in the
    /// environment, and M3TER_* connection variables pointing nowhere (a
    /// profile must win over them).
    fn m3ter(&self, args: &[&str]) -> Output {
        self.cmd(args).output().expect("m3ter runs")
    }

    fn cmd(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(bin());
        cmd.current_dir(self.path()).args(args).stdin(Stdio::null());
        for (k, _) in std::env::vars() {
            if k.starts_with("M3TER_") {
                cmd.env_remove(k);
            }
        }
        cmd.env("M3TER_CONFIG", self.path().join("profiles.yaml"))
            .env("SANDBOX_KEY", common::cli::KEY)
            .env("SANDBOX_SECRET", common::cli::SECRET)
            .env("PROD_KEY", KEY_B)
            .env("PROD_SECRET", SECRET_B)
            .env("M3TER_ORG_ID", "00000000-0000-4000-8000-00000000dead")
            .env("M3TER_API_KEY", "wrong")
            .env("M3TER_API_SECRET", "wrong")
            .env("M3TER_BASE_URL", "http://127.0.0.1:9")
            .env("NO_COLOR", "1");
        cmd
    }

    /// A direct API call to the prod org.
    fn prod_api(&self, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
        let token = token(&self.prod.base_url, KEY_B, SECRET_B);
        let url = format!("{}/organizations/{ORG_B}/{path}", self.prod.base_url);
        http(method, &url, body, &token)
    }
}

fn token(base: &str, key: &str, secret: &str) -> String {
    let (key, secret, url) = (
        key.to_string(),
        secret.to_string(),
        format!("{base}/oauth/token"),
    );
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("rt");
        rt.block_on(async move {
            let v: Value = reqwest::Client::new()
                .post(url)
                .basic_auth(key, Some(secret))
                .json(&json!({"grant_type": "client_credentials"}))
                .send()
                .await
                .expect("token request")
                .json()
                .await
                .expect("token json");
            v["access_token"].as_str().expect("token").to_string()
        })
    })
    .join()
    .expect("token thread")
}

fn http(method: &str, url: &str, body: Option<Value>, token: &str) -> (u16, Value) {
    let (method, url, token) = (method.to_string(), url.to_string(), token.to_string());
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("rt");
        rt.block_on(async move {
            let mut req = reqwest::Client::new()
                .request(
                    reqwest::Method::from_bytes(method.as_bytes()).expect("method"),
                    url,
                )
                .bearer_auth(token);
            if let Some(b) = body {
                req = req.json(&b);
            }
            let resp = req.send().await.expect("request");
            let status = resp.status().as_u16();
            let text = resp.text().await.expect("body");
            (
                status,
                serde_json::from_str(&text).unwrap_or(Value::String(text)),
            )
        })
    })
    .join()
    .expect("request thread")
}

fn code(o: &Output) -> Option<i32> {
    o.status.code()
}

/// The sandbox holds the example setup (8 configuration entities and 6
/// account-level ones); prod holds, managed by its state, the example's
/// product under another name and a product the sandbox does not have.
fn seeded() -> Orgs {
    let orgs = Orgs::start();
    copy_example(orgs.path());
    let out = orgs.m3ter(&[
        "apply",
        "--profile",
        "sandbox",
        "--auto-approve",
        "--rate-limit",
        "0",
    ]);
    assert!(out.status.success(), "{}", text(&out));
    let prod_dir = orgs.path().join("prod-desired");
    std::fs::create_dir_all(&prod_dir).expect("mkdir");
    std::fs::write(
        prod_dir.join("products.yaml"),
        "products:\n  - code: aws_lambda_api_6\n    name: Lambda in prod\n  - code: legacy\n    name: Legacy\n",
    )
    .expect("write");
    let out = orgs.m3ter(&[
        "apply",
        "-d",
        "prod-desired",
        "--profile",
        "prod",
        "--auto-approve",
    ]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        orgs.path().join(format!("state/{ORG_B}.json")).exists(),
        "prod's state is state/<its org id>.json"
    );
    orgs
}

#[test]
fn compare_promote_apply_then_compare_matches() {
    let orgs = seeded();

    // Before: every kind of difference, exit 2 under --detailed-exitcode.
    let out = orgs.m3ter(&[
        "compare",
        "--from",
        "sandbox",
        "--to",
        "prod",
        "--detailed-exitcode",
    ]);
    assert_eq!(code(&out), Some(2), "{}", text(&out));
    let human = stdout(&out);
    for needle in [
        "Only in sandbox (7):",
        "< meter.compute_and_requests_meter_api_6",
        "Only in prod (1):",
        "> product.legacy",
        "Different (1):",
        "~ product.aws_lambda_api_6",
        r#"name: "AWS Lambda API 6" (sandbox) → "Lambda in prod" (prod)"#,
    ] {
        assert!(human.contains(needle), "{needle:?} not in\n{human}");
    }
    assert!(
        !human.contains("account"),
        "accounts are left out by default:\n{human}"
    );
    let out = orgs.m3ter(&["compare", "--from", "sandbox", "--to", "prod", "--json"]);
    assert_eq!(
        code(&out),
        Some(0),
        "without --detailed-exitcode: {}",
        text(&out)
    );
    let doc: Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(doc["equal"], false);
    assert_eq!(doc["onlyInTo"], json!(["product.legacy"]));
    assert_eq!(
        doc["different"],
        json!([{"address": "product.aws_lambda_api_6",
                "fields": [{"field": "name", "from": "AWS Lambda API 6", "to": "Lambda in prod"}]}])
    );
    assert_eq!(doc["from"]["excluded"], 6, "{doc}");

    // Promote to a plan file: update, creates, and the delete of the
    // product prod's state manages and the sandbox lacks.
    let out = orgs.m3ter(&[
        "promote",
        "--from",
        "sandbox",
        "--to",
        "prod",
        "-o",
        "promote.json",
    ]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        stdout(&out).contains("`m3ter apply promote.json --profile prod`"),
        "{}",
        text(&out)
    );
    let plan: Value = serde_json::from_str(
        &std::fs::read_to_string(orgs.path().join("promote.json")).expect("plan"),
    )
    .expect("plan json");
    assert_eq!(plan["orgId"], ORG_B);
    let actions: Vec<(String, String)> = plan["changes"]
        .as_array()
        .expect("changes")
        .iter()
        .map(|c| {
            (
                c["action"].as_str().unwrap_or("").into(),
                c["address"].as_str().unwrap_or("").into(),
            )
        })
        .collect();
    assert!(
        actions.contains(&("update".into(), "product.aws_lambda_api_6".into())),
        "{actions:?}"
    );
    assert!(
        actions.contains(&("delete".into(), "product.legacy".into())),
        "{actions:?}"
    );
    assert_eq!(
        actions.iter().filter(|(a, _)| a == "create").count(),
        7,
        "{actions:?}"
    );
    assert!(
        actions.iter().all(|(_, addr)| !addr.starts_with("account")),
        "{actions:?}"
    );

    // The plan is for prod: the sandbox's connection refuses it.
    let out = orgs.m3ter(&["apply", "promote.json", "--profile", "sandbox"]);
    assert_eq!(code(&out), Some(1), "{}", text(&out));
    assert!(stderr(&out).contains("is for org"), "{}", text(&out));

    let out = orgs.m3ter(&["apply", "promote.json", "--profile", "prod"]);
    assert!(out.status.success(), "{}", text(&out));

    let out = orgs.m3ter(&[
        "compare",
        "--from",
        "sandbox",
        "--to",
        "prod",
        "--detailed-exitcode",
    ]);
    assert_eq!(code(&out), Some(0), "{}", text(&out));
    assert!(
        stdout(&out).contains("No differences: both hold the same 8 entities."),
        "{}",
        text(&out)
    );
    let (_, legacy) = orgs.prod_api("GET", "products?pageSize=100", None);
    assert!(!legacy.to_string().contains("\"legacy\""), "{legacy}");

    // Account-level kinds only on request: the sandbox's accounts are not
    // in prod.
    let out = orgs.m3ter(&[
        "compare",
        "--from",
        "sandbox",
        "--to",
        "prod",
        "--include-accounts",
        "--format",
        "markdown",
    ]);
    assert_eq!(code(&out), Some(0), "{}", text(&out));
    let md = stdout(&out);
    assert!(md.starts_with("### Compare `sandbox` → `prod`"), "{md}");
    assert!(
        md.contains("| only in sandbox | `account.pluto_llp_api_6` | | | |"),
        "{md}"
    );
}

#[test]
fn promote_applies_with_auto_approve_and_a_plan_file_goes_stale() {
    let orgs = seeded();
    // Without a terminal and without --auto-approve: refused, nothing sent.
    let before = orgs.prod.stats();
    let out = orgs.m3ter(&["promote", "--from", "sandbox", "--to", "prod"]);
    assert_eq!(code(&out), Some(1), "{}", text(&out));
    assert!(stderr(&out).contains("--auto-approve"), "{}", text(&out));
    let (_, products) = orgs.prod_api("GET", "products?pageSize=100", None);
    assert_eq!(
        products["data"].as_array().map(Vec::len),
        Some(2),
        "{products} {before}"
    );

    let out = orgs.m3ter(&[
        "promote", "--from", "sandbox", "--to", "prod", "-o", "p.json",
    ]);
    assert!(out.status.success(), "{}", text(&out));
    let out = orgs.m3ter(&[
        "promote",
        "--from",
        "sandbox",
        "--to",
        "prod",
        "--auto-approve",
    ]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(stdout(&out).contains("Promoting sandbox"), "{}", text(&out));
    // The saved plan was made from the state before that apply.
    let out = orgs.m3ter(&["apply", "p.json", "--profile", "prod"]);
    assert_eq!(code(&out), Some(1), "{}", text(&out));
    assert!(stderr(&out).contains("is stale"), "{}", text(&out));

    let out = orgs.m3ter(&[
        "compare",
        "--from",
        "sandbox",
        "--to",
        "prod",
        "--detailed-exitcode",
    ]);
    assert_eq!(code(&out), Some(0), "{}", text(&out));
    // Promoting again changes nothing.
    let out = orgs.m3ter(&[
        "promote",
        "--from",
        "sandbox",
        "--to",
        "prod",
        "--json",
        "--auto-approve",
    ]);
    assert!(out.status.success(), "{}", text(&out));
    let first: Value =
        serde_json::from_str(stdout(&out).lines().next().expect("plan line")).expect("json");
    assert_eq!(first["changes"], json!([]), "{first}");
}

#[test]
fn promote_between_two_profiles_of_one_org_is_refused() {
    let orgs = Orgs::start();
    let text_ = format!(
        "profiles:\n  a:\n    orgId: {ORG}\n    baseUrl: {}\n    apiKeyEnv: SANDBOX_KEY\n    apiSecretEnv: SANDBOX_SECRET\n  b:\n    orgId: {ORG}\n    baseUrl: {}\n    apiKeyEnv: SANDBOX_KEY\n    apiSecretEnv: SANDBOX_SECRET\n",
        orgs.sandbox.base_url, orgs.sandbox.base_url
    );
    std::fs::write(orgs.path().join("profiles.yaml"), text_).expect("write");
    let before = orgs.sandbox.stats();
    let out = orgs.m3ter(&["promote", "--from", "a", "--to", "b", "--auto-approve"]);
    assert_eq!(code(&out), Some(1), "{}", text(&out));
    assert!(
        stderr(&out).contains(&format!("profiles `a` and `b` are the same org ({ORG})")),
        "{}",
        text(&out)
    );
    assert_eq!(
        orgs.sandbox.stats()["answered"],
        before["answered"],
        "nothing was read or written"
    );
}

#[test]
fn a_profile_file_readable_by_others_holding_a_secret_is_refused() {
    use std::os::unix::fs::PermissionsExt;
    let orgs = Orgs::start();
    let path = orgs.path().join("profiles.yaml");
    std::fs::write(
        &path,
        format!(
            "profiles:\n  sandbox:\n    orgId: {ORG}\n    baseUrl: {}\n    apiKey: {}\n    apiSecret: {}\n",
            orgs.sandbox.base_url,
            common::cli::KEY,
            common::cli::SECRET
        ),
    )
    .expect("write");
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).expect("chmod");
    copy_example(orgs.path());
    let out = orgs.m3ter(&["plan", "--profile", "sandbox"]);
    assert_eq!(code(&out), Some(1), "{}", text(&out));
    let err = stderr(&out);
    assert!(
        err.contains(&format!("chmod 600 {}", path.display())),
        "{err}"
    );
    assert!(
        err.contains("mode 0644") && !err.contains(common::cli::SECRET),
        "{err}"
    );

    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).expect("chmod");
    let out = orgs.m3ter(&["plan", "--profile", "sandbox"]);
    assert!(out.status.success(), "{}", text(&out));
}

#[test]
fn profile_errors_name_what_is_known_and_what_is_missing() {
    let orgs = Orgs::start();
    let out = orgs.m3ter(&["compare", "--from", "sandbx", "--to", "prod"]);
    assert_eq!(code(&out), Some(1), "{}", text(&out));
    let err = stderr(&out);
    assert!(err.contains("no profile `sandbx`"), "{err}");
    assert!(
        err.contains("the profiles are: moved, prod, sandbox") && err.contains("`sandbox`"),
        "{err}"
    );

    copy_example(orgs.path());
    let out = orgs
        .cmd(&["plan", "--profile", "prod"])
        .env_remove("PROD_SECRET")
        .output()
        .expect("runs");
    assert_eq!(code(&out), Some(1), "{}", text(&out));
    let err = stderr(&out);
    assert!(err.contains("$PROD_SECRET, which is not set"), "{err}");
    assert!(!err.contains(KEY_B), "values are never printed: {err}");

    // A flag typed on the command line beats the profile (whose URL is
    // dead); M3TER_PROFILE picks a profile too.
    let sandbox = orgs.sandbox.base_url.as_str();
    let out = orgs.m3ter(&[
        "plan",
        "--profile",
        "moved",
        "--base-url",
        sandbox,
        "--rate-limit",
        "0",
    ]);
    assert!(out.status.success(), "{}", text(&out));
    let out = orgs
        .cmd(&["plan", "--rate-limit", "0"])
        .env("M3TER_PROFILE", "prod")
        .output()
        .expect("runs");
    assert!(out.status.success(), "{}", text(&out));
}

#[test]
fn promote_kind_takes_what_it_depends_on_and_deletes_only_that_kind() {
    let orgs = seeded();
    let out = orgs.m3ter(&[
        "promote", "--from", "sandbox", "--to", "prod", "--kind", "pricings", "-o", "k.json",
    ]);
    assert!(out.status.success(), "{}", text(&out));
    let plan: Value =
        serde_json::from_str(&std::fs::read_to_string(orgs.path().join("k.json")).expect("plan"))
            .expect("plan json");
    let addresses: Vec<&str> = plan["changes"]
        .as_array()
        .expect("changes")
        .iter()
        .filter_map(|c| c["address"].as_str())
        .collect();
    assert!(
        addresses.iter().any(|a| a.starts_with("pricing.")),
        "{addresses:?}"
    );
    assert!(
        addresses.contains(&"plan.lambda_plan_api_6"),
        "a dependency: {addresses:?}"
    );
    assert!(
        !addresses.contains(&"product.legacy"),
        "products are not promoted, so none is deleted: {addresses:?}"
    );

    let out = orgs.m3ter(&[
        "promote", "--from", "sandbox", "--to", "prod", "--kind", "account",
    ]);
    assert_eq!(code(&out), Some(1), "{}", text(&out));
    assert!(
        stderr(&out).contains("add --include-accounts"),
        "{}",
        text(&out)
    );
    let out = orgs.m3ter(&[
        "promote", "--from", "sandbox", "--to", "prod", "--kind", "prodcts",
    ]);
    assert_eq!(code(&out), Some(1), "{}", text(&out));
    assert!(
        stderr(&out).contains("not a kind; the kinds are: ") && stderr(&out).contains(" product,"),
        "{}",
        text(&out)
    );
}
