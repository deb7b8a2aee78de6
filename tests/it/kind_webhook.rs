//! The `webhook` kind end to end, and the secrets it carries (README
//! "Secrets"): the real binary against an emulator process through create,
//! no-op, update, a changed secret, delete, adopt, export and destroy; the
//! bad inputs refused before any request; and the secret grep, which runs
//! a whole cycle at `-vv` and `RUST_LOG=trace` and finds the secret values
//! in none of its outputs, logs or files.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Output, Stdio};

use crate::common;
use common::cli::{EmulatorProcess, bin, m3ter_cmd, text};
use common::kind_flow::{changes, plan_doc_env, summary, write_desired};
use serde_json::{Value, json};

const KEY: &str = "apikey-Zq81xWv2-distinct";
const SECRET: &str = "signing-Hk47pLm9-distinct";
const ROTATED: &str = "signing-Rt55bNq3-rotated";

/// A webhook whose API key is the sensitive variable `hook_key` and whose
/// secret is `${env.<secret_env>}`.
fn desired(name: &str, url: &str, secret_env: &str) -> String {
    format!(
        "variables:\n  hook_key: {{sensitive: true}}\n\
         webhooks:\n  - code: orders_hook\n    name: {name}\n    description: Order events\n    \
         url: {url}\n    credentials:\n      type: M3TER_SIGNED_REQUEST\n      \
         apiKey: ${{var.hook_key}}\n      secret: ${{env.{secret_env}}}\n"
    )
}

/// `m3ter ARGS` in `dir` against `emu`, with `env` set.
fn run(dir: &Path, emu: &EmulatorProcess, env: &[(&str, &str)], args: &[&str]) -> Output {
    let mut cmd = m3ter_cmd(dir, emu, args);
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().expect("m3ter runs")
}

/// `plan --json` with `env`: (address, action) pairs and the summary.
fn plan(
    dir: &Path,
    emu: &EmulatorProcess,
    env: &[(&str, &str)],
    args: &[&str],
) -> (Vec<(String, String)>, Value) {
    let (changes, summary, _) = plan_doc_env(dir, emu, env, args);
    (changes, summary)
}

fn apply(dir: &Path, emu: &EmulatorProcess, env: &[(&str, &str)]) {
    let out = run(
        dir,
        emu,
        env,
        &["apply", "--auto-approve", "--rate-limit", "0"],
    );
    assert!(out.status.success(), "{}", text(&out));
}

fn webhook(emu: &EmulatorProcess) -> Value {
    emu.by_code("integrationdestinations/webhooks", "orders_hook")
}

#[test]
fn a_webhook_is_created_left_alone_updated_rotated_and_deleted() {
    let emu = EmulatorProcess::start(&[]);
    let dir = tempfile::tempdir().expect("tempdir");
    let env = [("M3TER_VAR_hook_key", KEY), ("WH_SECRET_A", SECRET)];
    write_desired(
        dir.path(),
        &desired("Orders", "https://example.com/m3ter", "WH_SECRET_A"),
    );

    let (c, _) = plan(dir.path(), &emu, &env, &[]);
    assert_eq!(c, changes(&[("webhook.orders_hook", "create")]));
    apply(dir.path(), &emu, &env);
    let live = webhook(&emu);
    assert_eq!(
        (&live["name"], &live["url"], &live["credentials"]),
        (
            &json!("Orders"),
            &json!("https://example.com/m3ter"),
            &json!({"type": "M3TER_SIGNED_REQUEST", "apiKey": "********", "secret": "********"})
        ),
        "the emulator stores the credentials and returns them masked: {live}"
    );

    // Unchanged secrets: no update, though the API never returns them.
    let (c, s) = plan(dir.path(), &emu, &env, &[]);
    assert_eq!((c, s), (vec![], summary(0, 0, 0, 0)));

    // A changed name is one update; the PUT carries the secret again.
    write_desired(
        dir.path(),
        &desired("Order events", "https://example.com/m3ter", "WH_SECRET_A"),
    );
    let (c, _) = plan(dir.path(), &emu, &env, &[]);
    assert_eq!(c, changes(&[("webhook.orders_hook", "update")]));
    apply(dir.path(), &emu, &env);
    assert_eq!(webhook(&emu)["version"], json!(2));

    // A rotated secret (same variable, new value) is one update, then none.
    let rotated = [("M3TER_VAR_hook_key", KEY), ("WH_SECRET_A", ROTATED)];
    let (c, s) = plan(dir.path(), &emu, &rotated, &[]);
    assert_eq!(
        (c, s),
        (
            changes(&[("webhook.orders_hook", "update")]),
            summary(0, 0, 1, 0)
        )
    );
    apply(dir.path(), &emu, &rotated);
    assert_eq!(webhook(&emu)["version"], json!(3));
    let (c, _) = plan(dir.path(), &emu, &rotated, &[]);
    assert_eq!(c, vec![]);

    write_desired(dir.path(), "webhooks: []\n");
    let (c, _) = plan(dir.path(), &emu, &[], &[]);
    assert_eq!(c, changes(&[("webhook.orders_hook", "delete")]));
    apply(dir.path(), &emu, &[]);
    assert_eq!(
        emu.list_all("integrationdestinations/webhooks"),
        Vec::<Value>::new()
    );
}

#[test]
fn a_live_webhook_is_adopted_exported_with_placeholders_and_destroyed() {
    let emu = EmulatorProcess::start(&[]);
    let (status, made) = emu.api(
        "POST",
        "integrationdestinations/webhooks",
        Some(json!({"code": "orders_hook", "name": "Orders", "description": "Order events",
                    "url": "https://example.com/m3ter",
                    "credentials": {"type": "M3TER_SIGNED_REQUEST", "apiKey": KEY, "secret": SECRET}})),
    );
    assert_eq!(status, 200, "{made}");
    assert_eq!(made["credentials"]["secret"], "********", "{made}");

    // Adopted by code with a fresh state; the desired secret is taken as the live one.
    let dir = tempfile::tempdir().expect("tempdir");
    let env = [("M3TER_VAR_hook_key", KEY), ("WH_SECRET_B", SECRET)];
    write_desired(
        dir.path(),
        &desired("Orders", "https://example.com/m3ter", "WH_SECRET_B"),
    );
    let (c, s) = plan(dir.path(), &emu, &env, &[]);
    assert_eq!(
        (c, s),
        (
            changes(&[("webhook.orders_hook", "import")]),
            summary(1, 0, 0, 0)
        )
    );
    apply(dir.path(), &emu, &env);
    assert_eq!(
        webhook(&emu)["version"],
        json!(1),
        "an import sends nothing"
    );

    // Export writes placeholders and names them; the export plans as imports only.
    let out = run(dir.path(), &emu, &[], &["export", "--out", "exported"]);
    assert!(out.status.success(), "{}", text(&out));
    let yaml = std::fs::read_to_string(dir.path().join("exported/webhooks.yaml")).expect("file");
    for name in [
        "WEBHOOK_ORDERS_HOOK_CREDENTIALS_API_KEY",
        "WEBHOOK_ORDERS_HOOK_CREDENTIALS_SECRET",
    ] {
        assert!(yaml.contains(&format!("${{env.{name}}}")), "{yaml}");
        assert!(yaml.contains(&format!("#   {name}")), "{yaml}");
        assert!(text(&out).contains(name), "{}", text(&out));
    }
    assert!(!yaml.contains("********"), "{yaml}");
    let exported_env = [
        ("WEBHOOK_ORDERS_HOOK_CREDENTIALS_API_KEY", KEY),
        ("WEBHOOK_ORDERS_HOOK_CREDENTIALS_SECRET", SECRET),
    ];
    let fresh = ["-d", "exported", "--state", "state/fresh.json"];
    let (c, s) = plan(dir.path(), &emu, &exported_env, &fresh);
    assert_eq!(
        (c, s),
        (
            changes(&[("webhook.orders_hook", "import")]),
            summary(1, 0, 0, 0)
        )
    );
    let out = run(
        dir.path(),
        &emu,
        &exported_env,
        &[
            "apply",
            "--auto-approve",
            "-d",
            "exported",
            "--state",
            "state/fresh.json",
        ],
    );
    assert!(out.status.success(), "{}", text(&out));
    // After the import, a changed secret is one update.
    let changed = [
        exported_env[0],
        ("WEBHOOK_ORDERS_HOOK_CREDENTIALS_SECRET", ROTATED),
    ];
    let (_, s) = plan(dir.path(), &emu, &changed, &fresh);
    assert_eq!(s, summary(0, 0, 1, 0));

    let out = run(
        dir.path(),
        &emu,
        &env,
        &["destroy", "--auto-approve", "--rate-limit", "0"],
    );
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(
        emu.list_all("integrationdestinations/webhooks"),
        Vec::<Value>::new()
    );
}

/// `m3ter import ADDR ID` records the desired secrets' hashes (the only
/// record of them): the next plan is empty, a rotated secret one update.
#[test]
fn an_imported_webhook_notices_a_rotated_secret() {
    let emu = EmulatorProcess::start(&[]);
    let (status, made) = emu.api(
        "POST",
        "integrationdestinations/webhooks",
        Some(json!({"code": "orders_hook", "name": "Orders", "description": "Order events",
                    "url": "https://example.com/m3ter",
                    "credentials": {"type": "M3TER_SIGNED_REQUEST", "apiKey": KEY, "secret": SECRET}})),
    );
    assert_eq!(status, 200, "{made}");
    let dir = tempfile::tempdir().expect("tempdir");
    write_desired(
        dir.path(),
        &desired("Orders", "https://example.com/m3ter", "WH_SECRET_E"),
    );
    let env = [("M3TER_VAR_hook_key", KEY), ("WH_SECRET_E", SECRET)];
    let id = made["id"].as_str().expect("id");
    let out = run(
        dir.path(),
        &emu,
        &env,
        &["import", "webhook.orders_hook", id],
    );
    assert!(out.status.success(), "{}", text(&out));
    let (c, _) = plan(dir.path(), &emu, &env, &[]);
    assert_eq!(c, vec![]);
    let rotated = [("M3TER_VAR_hook_key", KEY), ("WH_SECRET_E", ROTATED)];
    let (c, s) = plan(dir.path(), &emu, &rotated, &[]);
    assert_eq!(
        (c, s),
        (
            changes(&[("webhook.orders_hook", "update")]),
            summary(0, 0, 1, 0)
        )
    );
}

/// A desired state, its environment, and the error it must give.
type BadCase = (
    String,
    &'static [(&'static str, &'static str)],
    &'static str,
);

/// Each bad input is exit 1 with file:line:column, before any request.
#[test]
fn bad_secrets_and_urls_are_refused_offline_with_their_position() {
    let emu = EmulatorProcess::start(&[]);
    let dir = tempfile::tempdir().expect("tempdir");
    let cases: [BadCase; 5] = [
        (
            desired("Orders", "https://example.com", "WH_SECRET_C").replace("${var.hook_key}", KEY),
            &[("M3TER_VAR_hook_key", KEY), ("WH_SECRET_C", SECRET)],
            "main.yaml:10:15: `credentials.apiKey` of a webhook is sensitive: a literal secret in YAML is refused",
        ),
        (
            desired("Orders", "https://example.com", "WH_SECRET_UNSET"),
            &[("M3TER_VAR_hook_key", KEY)],
            "main.yaml:11:15: environment variable `WH_SECRET_UNSET` (for sensitive `credentials.secret`) is not set",
        ),
        (
            desired("Orders", "https://example.com", "WH_SECRET_C")
                .replace("${var.hook_key}", "${var.nope}"),
            &[("M3TER_VAR_hook_key", KEY), ("WH_SECRET_C", SECRET)],
            "main.yaml:10:15: undefined variable `nope`; declare it `nope: {sensitive: true}`",
        ),
        (
            desired("Orders", "https://example.com", "WH_SECRET_C")
                .replace("{sensitive: true}", "plainvalue"),
            &[("WH_SECRET_C", SECRET)],
            "main.yaml:10:15: variable `hook_key` is not declared sensitive",
        ),
        (
            desired("Orders", "example.com/hook", "WH_SECRET_C"),
            &[("M3TER_VAR_hook_key", KEY), ("WH_SECRET_C", SECRET)],
            "main.yaml:7:10: webhook: `url` is not a valid webhook URL: it has no `scheme://`",
        ),
    ];
    // Plan reads the org while it loads the YAML: it may list, never write;
    // validate sends nothing at all.
    let sent = |cmd: &str| -> u64 {
        let stats = emu.stats();
        let Some(requests) = stats["requests"].as_object() else {
            return 0;
        };
        requests
            .iter()
            .filter(|(route, _)| {
                cmd == "validate" || !route.starts_with("GET") && route.contains("/organizations")
            })
            .filter(|(route, _)| !route.contains("_emulator"))
            .map(|(_, n)| n.as_u64().unwrap_or(0))
            .sum()
    };
    for (yaml, env, want) in &cases {
        write_desired(dir.path(), yaml);
        for cmd in ["validate", "plan"] {
            let before = sent(cmd);
            let out = run(dir.path(), &emu, env, &[cmd]);
            assert_eq!(out.status.code(), Some(1), "{cmd}: {}", text(&out));
            assert!(
                text(&out).contains(want),
                "{cmd}: want {want:?} in {}",
                text(&out)
            );
            assert!(
                !text(&out).contains(KEY) && !text(&out).contains(SECRET),
                "{}",
                text(&out)
            );
            assert_eq!(sent(cmd), before, "{cmd} sent a request");
        }
    }
    // A sensitive variable anywhere but a sensitive field is refused too.
    write_desired(
        dir.path(),
        &desired(
            "Orders ${var.hook_key}",
            "https://example.com",
            "WH_SECRET_C",
        ),
    );
    let out = run(
        dir.path(),
        &emu,
        &[("M3TER_VAR_hook_key", KEY), ("WH_SECRET_C", SECRET)],
        &["validate"],
    );
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        text(&out).contains("main.yaml:5:11: variable `hook_key` is sensitive"),
        "{}",
        text(&out)
    );
    assert!(!text(&out).contains(KEY), "{}", text(&out));

    // Online, the same URL rule answers 400.
    let (status, body) = emu.api(
        "POST",
        "integrationdestinations/webhooks",
        Some(json!({"code": "h", "name": "H", "description": "D", "url": "ftp://example.com",
                    "credentials": {"type": "M3TER_SIGNED_REQUEST", "apiKey": KEY, "secret": SECRET}})),
    );
    assert_eq!(status, 400, "{body}");
    assert!(
        body["message"]
            .as_str()
            .unwrap_or("")
            .contains("`url` is not a valid webhook URL"),
        "{body}"
    );
    assert!(!body.to_string().contains(SECRET), "{body}");
}

/// An emulator process at trace level, its stderr going to `log`.
fn traced_emulator(log: &Path) -> EmulatorProcess {
    let mut child = Command::new(bin())
        .args(["emulator", "--listen", "127.0.0.1:0"])
        .env("RUST_LOG", "trace")
        .stdout(Stdio::piped())
        .stderr(std::fs::File::create(log).expect("log file"))
        .spawn()
        .expect("emulator starts");
    let mut line = String::new();
    BufReader::new(child.stdout.take().expect("stdout"))
        .read_line(&mut line)
        .expect("first line");
    let base_url = line
        .trim()
        .strip_prefix("listening on ")
        .expect("listening line")
        .to_string();
    EmulatorProcess { child, base_url }
}

/// Every file under `dir`, recursively, as text.
fn files_text(dir: &Path, out: &mut Vec<(String, String)>) {
    for entry in std::fs::read_dir(dir).expect("read dir").flatten() {
        let path = entry.path();
        if path.is_dir() {
            files_text(&path, out);
        } else {
            let bytes = std::fs::read(&path).expect("read file");
            out.push((
                path.display().to_string(),
                String::from_utf8_lossy(&bytes).into_owned(),
            ));
        }
    }
}

/// The secret grep: a full validate / plan / apply / show / plan /
/// rotate / export / destroy cycle at `-vv` and `RUST_LOG=trace`, for the
/// tool and the emulator process; every stdout, stderr, log and file
/// written holds none of the secret values.
#[test]
fn the_secret_grep_finds_nothing() {
    let logs = tempfile::tempdir().expect("tempdir");
    let emu_log = logs.path().join("emulator.log");
    let emu = traced_emulator(&emu_log);
    let dir = tempfile::tempdir().expect("tempdir");
    write_desired(
        dir.path(),
        &desired("Orders", "https://example.com/m3ter", "WH_SECRET_D"),
    );
    let first = [
        ("M3TER_VAR_hook_key", KEY),
        ("WH_SECRET_D", SECRET),
        ("RUST_LOG", "trace"),
    ];
    let rotated = [
        ("M3TER_VAR_hook_key", KEY),
        ("WH_SECRET_D", ROTATED),
        ("RUST_LOG", "trace"),
    ];
    let mut outputs: Vec<(String, String)> = Vec::new();
    let mut step = |env: &[(&str, &str)], args: &[&str], ok: &[i32]| -> String {
        let mut all = args.to_vec();
        all.push("-vv");
        let out = run(dir.path(), &emu, env, &all);
        assert!(
            out.status.code().is_some_and(|c| ok.contains(&c)),
            "{args:?}: {}",
            text(&out)
        );
        outputs.push((format!("{args:?}"), text(&out)));
        text(&out)
    };

    step(&first, &["validate"], &[0]);
    step(&first[..2], &["validate"], &[0]); // -vv alone, no RUST_LOG
    step(&first, &["plan", "--json"], &[0, 2]);
    step(&first, &["plan", "--format", "markdown"], &[0, 2]);
    step(&first, &["plan", "-o", "saved.plan"], &[0, 2]);
    step(&first, &["show", "saved.plan"], &[0]);
    step(&first, &["show", "saved.plan", "--format", "json"], &[0]);
    step(
        &first,
        &["show", "saved.plan", "--format", "markdown"],
        &[0],
    );
    // The saved plan re-reads its secrets: another value is refused, unsent.
    let refused = step(&rotated, &["apply", "saved.plan"], &[1]);
    assert!(
        refused.contains("changed since the plan was made"),
        "{refused}"
    );
    // The command that refusal suggests repeats the flags typed, but never
    // a `--var` that set a secret.
    let typed = format!("hook_key={KEY}");
    let refused = step(
        &[("WH_SECRET_D", ROTATED), ("RUST_LOG", "trace")],
        &["apply", "saved.plan", "--var", typed.as_str()],
        &[1],
    );
    assert!(refused.contains("`m3ter plan -o FILE"), "{refused}");
    let applied = step(&first, &["apply", "saved.plan"], &[0]);
    assert!(applied.contains("http"), "trace logging was on: {applied}");
    step(&first, &["show"], &[0]);
    step(&first, &["show", "--json"], &[0]);
    step(&first, &["state", "show", "webhook.orders_hook"], &[0]);
    step(&first, &["state", "pull"], &[0]);
    step(&first, &["graph"], &[0]);
    let noop = step(&first, &["plan", "--json", "--detailed-exitcode"], &[0]);
    assert!(noop.contains("\"changes\":[]"), "{noop}");
    let one = step(&rotated, &["plan", "--json", "--detailed-exitcode"], &[2]);
    assert!(
        one.contains("\"change\":1") && one.contains("\"update\""),
        "{one}"
    );
    step(&rotated, &["plan"], &[0]);
    step(&rotated, &["apply", "--auto-approve"], &[0]);
    step(&rotated, &["refresh"], &[0]);
    step(&rotated, &["export", "--out", "exported"], &[0]);
    step(
        &rotated,
        &["export", "--out", "exported-json", "--json"],
        &[0],
    );
    step(&rotated, &["destroy", "--auto-approve"], &[0]);

    // The retry and error paths: an emulator that fails a third of the
    // requests (500, 503, 429, dropped connections, commit-then-fail).
    let faulty = EmulatorProcess::start(&[
        "--fault-rate",
        "0.3",
        "--fault-seed",
        "11",
        "--retry-after",
        "0",
    ]);
    for args in [
        &["apply", "--auto-approve", "--state", "state/faulty.json"][..],
        &["apply", "--auto-approve", "--state", "state/faulty.json"],
    ] {
        let mut all = args.to_vec();
        all.push("-vv");
        let out = run(dir.path(), &faulty, &first, &all);
        assert!(
            matches!(out.status.code(), Some(0..=2)),
            "{args:?}: {}",
            text(&out)
        );
        outputs.push((format!("faulty {args:?}"), text(&out)));
    }
    assert!(
        outputs.iter().any(|(_, t)| t.contains("retrying")),
        "the faults exercised the retry path"
    );

    let mut files = Vec::new();
    files_text(dir.path(), &mut files);
    assert!(
        files.iter().any(|(p, _)| p.ends_with("saved.plan")),
        "{files:?}"
    );
    assert!(
        files
            .iter()
            .any(|(p, t)| p.ends_with("webhooks.yaml") && t.contains("${env."))
    );
    drop(emu); // ends the emulator, so its log is complete
    let emu_text = std::fs::read_to_string(&emu_log).expect("emulator log");
    let everything = outputs
        .into_iter()
        .chain(files)
        .chain([("emulator.log".to_string(), emu_text)]);
    let mut leaks = Vec::new();
    for (what, body) in everything {
        for secret in [KEY, SECRET, ROTATED] {
            if body.contains(secret) {
                leaks.push(format!("{secret} in {what}"));
            }
        }
    }
    assert_eq!(leaks, Vec::<String>::new());
}
