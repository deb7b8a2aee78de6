//! The example workflow `examples/ci/github-actions/sandbox-sync.yml`, run
//! as GitHub would run it as far as m3ter is concerned: every `run:` step
//! that calls `m3ter` is run as written, with bash as Actions runs it, in
//! the job's order, against an emulator. The workflow's `${{ … }}`
//! expressions in `env:` are given test values; `uses:` steps and the
//! install step are skipped (the binary under test is first on `PATH`).
//! So the example cannot rot: a renamed flag or a wrong exit-code check
//! fails here.
//!
//! The state location comes from `$M3TER_STATE`, as the workflow reads it
//! (`vars.M3TER_STATE`): a local file, and an S3 object on moto.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::{Value, json};

use crate::common::cli::{self, EmulatorProcess, KEY, ORG, SECRET};
use crate::common::s3::{self, Moto};

fn workflow_path() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/ci/github-actions/sandbox-sync.yml")
}

/// The workflow as a JSON value.
fn workflow() -> Value {
    let text = std::fs::read_to_string(workflow_path()).expect("the example workflow");
    serde_saphyr::from_str(&text).expect("the example workflow is YAML")
}

/// The values the test gives the workflow's expressions.
struct Inputs {
    values: BTreeMap<&'static str, String>,
    /// Variables a runner would have that the workflow does not set
    /// (`AWS_ENDPOINT_URL` of a local S3).
    extra: Vec<(&'static str, String)>,
}

impl Inputs {
    fn new(state: &str) -> Inputs {
        let values = BTreeMap::from([
            ("vars.M3TER_ORG_ID", ORG.to_string()),
            ("secrets.M3TER_API_KEY", KEY.to_string()),
            ("secrets.M3TER_API_SECRET", SECRET.to_string()),
            ("vars.M3TER_STATE", state.to_string()),
            // Unused by local state; what a runner would have.
            ("secrets.AWS_ACCESS_KEY_ID", "test-key-id".to_string()),
            ("secrets.AWS_SECRET_ACCESS_KEY", "test-secret".to_string()),
            ("vars.AWS_REGION", "us-east-1".to_string()),
        ]);
        Inputs {
            values,
            extra: Vec::new(),
        }
    }

    /// Gives `expr` (`secrets.NAME`, `vars.NAME`) another value.
    fn set(mut self, expr: &'static str, value: &str) -> Inputs {
        assert!(self.values.contains_key(expr), "{expr} is not an input");
        self.values.insert(expr, value.to_string());
        self
    }

    /// Adds a variable of the runner's environment.
    fn env(mut self, name: &'static str, value: &str) -> Inputs {
        self.extra.push((name, value.to_string()));
        self
    }

    /// An `env:` value: a literal, or one `${{ name }}` expression.
    fn resolve(&self, value: &Value) -> String {
        let s = match value {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        };
        match s
            .trim()
            .strip_prefix("${{")
            .and_then(|r| r.strip_suffix("}}"))
        {
            Some(expr) => self
                .values
                .get(expr.trim())
                .unwrap_or_else(|| panic!("the test has no value for `{s}`: add it to Inputs"))
                .clone(),
            None => {
                assert!(!s.contains("${{"), "an expression inside a value: {s}");
                s
            }
        }
    }
}

/// The lines of a script that call m3ter (the first word is `m3ter`).
fn m3ter_lines(script: &str) -> Vec<String> {
    script
        .lines()
        .map(str::trim)
        .filter(|l| l.starts_with("m3ter "))
        .map(str::to_string)
        .collect()
}

/// One run of a job: the summary it wrote and where it stopped.
struct JobRun {
    /// The `m3ter` lines run, in order.
    lines: Vec<String>,
    /// `$GITHUB_STEP_SUMMARY` afterwards.
    summary: String,
    /// The failing step's name and exit code, if one failed.
    failed: Option<(String, i32)>,
}

/// Runs job `name`'s m3ter steps in `dir`, as Actions would: workflow, job
/// and step `env:` merged, `bash --noprofile --norc -eo pipefail`, stop at
/// the first failing step. Artifacts the job uploads must exist after it.
fn run_job(wf: &Value, name: &str, dir: &Path, emu: &EmulatorProcess, inputs: &Inputs) -> JobRun {
    let job = &wf["jobs"][name];
    assert!(job.is_object(), "no job {name} in the workflow");
    assert_eq!(
        wf["defaults"]["run"]["shell"], "bash",
        "the test runs scripts as `shell: bash` does"
    );
    let summary = dir.join(format!("summary-{name}.md"));
    let output = dir.join(format!("output-{name}.txt"));
    std::fs::write(&summary, "").expect("summary file");
    let bin_dir = cli::bin().parent().expect("bin dir").to_path_buf();
    let path = format!(
        "{}:{}",
        bin_dir.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let mut run = JobRun {
        lines: Vec::new(),
        summary: String::new(),
        failed: None,
    };
    for (i, step) in job["steps"].as_array().expect("steps").iter().enumerate() {
        let step_name = step["name"]
            .as_str()
            .map_or_else(|| format!("#{i}"), str::to_string);
        if let Some(uses) = step["uses"].as_str() {
            if uses.starts_with("actions/upload-artifact") && run.failed.is_none() {
                let paths = step["with"]["path"].as_str().expect("artifact path");
                for p in paths.lines().map(str::trim).filter(|p| !p.is_empty()) {
                    assert!(
                        dir.join(p).exists(),
                        "job {name} uploads {p}, which it did not write"
                    );
                }
            }
            continue;
        }
        let script = step["run"].as_str().expect("a run step");
        assert!(
            !script.contains("${{"),
            "step {step_name}: expressions belong in env:, not in run: (script injection)"
        );
        let lines = m3ter_lines(script);
        if lines.is_empty() || run.failed.is_some() {
            continue;
        }
        run.lines.extend(lines);
        let mut cmd = Command::new("bash");
        cmd.args(["--noprofile", "--norc", "-eo", "pipefail", "-c", script])
            .current_dir(dir)
            .stdin(std::process::Stdio::null());
        for (k, _) in std::env::vars() {
            if k.starts_with("M3TER_") || k.starts_with("AWS_") || k.starts_with("GITHUB_") {
                cmd.env_remove(k);
            }
        }
        for env in [&wf["env"], &job["env"], &step["env"]] {
            for (k, v) in env.as_object().into_iter().flatten() {
                cmd.env(k, inputs.resolve(v));
            }
        }
        cmd.env("PATH", &path)
            // The emulator instead of api.m3ter.com.
            .env("M3TER_BASE_URL", &emu.base_url)
            .env("GITHUB_STEP_SUMMARY", &summary)
            .env("GITHUB_OUTPUT", &output)
            .env("GITHUB_WORKSPACE", dir)
            .envs(inputs.extra.iter().map(|(k, v)| (k, v)));
        let out = cmd.output().expect("bash runs");
        if !out.status.success() {
            eprintln!("job {name}, step {step_name}:\n{}", cli::text(&out));
            run.failed = Some((step_name, out.status.code().unwrap_or(-1)));
        }
    }
    run.summary = std::fs::read_to_string(&summary).expect("summary");
    run
}

fn assert_ok(run: &JobRun, job: &str) {
    assert!(
        run.failed.is_none(),
        "job {job} failed at {:?}; summary:\n{}",
        run.failed,
        run.summary
    );
}

#[test]
fn the_workflow_has_the_jobs_the_readme_describes() {
    let wf = workflow();
    assert!(
        wf["concurrency"]["group"].is_string(),
        "a concurrency group"
    );
    let on = &wf["on"];
    for event in ["pull_request", "push", "schedule"] {
        assert!(on.get(event).is_some(), "triggered on {event}");
    }
    for (job, event) in [
        ("plan", "pull_request"),
        ("apply", "push"),
        ("drift", "schedule"),
    ] {
        let cond = wf["jobs"][job]["if"].as_str().unwrap_or_default();
        assert!(cond.contains(event), "job {job} runs on {event}: {cond}");
    }
    let lines = |job: &str| -> Vec<String> {
        wf["jobs"][job]["steps"]
            .as_array()
            .expect("steps")
            .iter()
            .filter_map(|s| s["run"].as_str())
            .flat_map(m3ter_lines)
            .collect()
    };
    let has = |job: &str, words: &[&str]| {
        let l = lines(job);
        assert!(
            l.iter().any(|line| words.iter().all(|w| line.contains(w))),
            "job {job} runs `m3ter … {}`: {l:?}",
            words.join(" ")
        );
    };
    has("plan", &["m3ter validate"]);
    has(
        "plan",
        &[
            "m3ter plan",
            "--detailed-exitcode",
            "-o plan.json",
            "--format markdown",
            "$M3TER_STATE",
        ],
    );
    has("apply", &["m3ter apply plan.json", "$M3TER_STATE"]);
    has(
        "drift",
        &[
            "m3ter plan",
            "--refresh-only",
            "--detailed-exitcode",
            "$M3TER_STATE",
        ],
    );
}

#[test]
fn pull_request_main_and_drift_check_run_as_written() {
    let dir = tempfile::tempdir().expect("tempdir");
    let state = dir.path().join("ci-state").join("sandbox.json");
    std::fs::create_dir_all(state.parent().expect("parent")).expect("mkdir");
    let inputs = Inputs::new(&state.to_string_lossy());
    sandbox_sync(dir.path(), &inputs, &|| state.exists());
}

/// A pull request on an empty sandbox, main applying it, a drift check
/// passing, an edit by hand, the drift check failing, the next pull
/// request: the workflow's jobs in `dir`, with the state where `inputs`
/// say; `state_exists` looks there.
fn sandbox_sync(dir: &Path, inputs: &Inputs, state_exists: &dyn Fn() -> bool) {
    let wf = workflow();
    let emu = EmulatorProcess::start(&[]);
    cli::copy_example(dir);

    // A pull request on an empty sandbox: changes (exit 2) pass the job.
    let pr = run_job(&wf, "plan", dir, &emu, inputs);
    assert_ok(&pr, "plan");
    assert!(
        pr.summary.starts_with("### Plan: 0 to import, 14 to add"),
        "{}",
        pr.summary
    );
    let output = std::fs::read_to_string(dir.join("output-plan.txt")).expect("output");
    assert_eq!(output.trim(), "exitcode=2");
    assert!(!state_exists(), "a pull request changes nothing");

    // Main: the plan in the summary is the plan applied.
    let main = run_job(&wf, "apply", dir, &emu, inputs);
    assert_ok(&main, "apply");
    assert!(
        main.summary.starts_with("### Plan: 0 to import, 14 to add"),
        "{}",
        main.summary
    );
    assert!(state_exists(), "the state is where $M3TER_STATE says");
    assert_eq!(emu.list_all("products").len(), 1);

    // The drift check passes on a synced org...
    let quiet = run_job(&wf, "drift", dir, &emu, inputs);
    assert_ok(&quiet, "drift");
    assert!(quiet.summary.contains("no changes"), "{}", quiet.summary);

    // ... and fails, exit 2, once someone edits the org by hand.
    let product = &emu.list_all("products")[0];
    let id = product["id"].as_str().expect("id");
    let (status, v) = emu.api(
        "PUT",
        &format!("products/{id}"),
        Some(json!({"code": product["code"], "name": "Renamed by hand", "version": product["version"]})),
    );
    assert_eq!(status, 200, "{v}");
    let drifted = run_job(&wf, "drift", dir, &emu, inputs);
    assert_eq!(
        drifted.failed.as_ref().map(|(_, code)| *code),
        Some(2),
        "the drift check fails on drift"
    );
    assert!(
        drifted
            .summary
            .starts_with("### Refresh-only plan: 1 object changed outside m3ter-reconcile"),
        "{}",
        drifted.summary
    );
    assert!(
        drifted.summary.contains("Renamed by hand"),
        "{}",
        drifted.summary
    );

    // The next pull request shows the revert; its job still passes.
    let pr = run_job(&wf, "plan", dir, &emu, inputs);
    assert_ok(&pr, "plan");
    assert!(pr.summary.contains("1 to change"), "{}", pr.summary);
    assert!(
        pr.summary
            .contains("#### Objects changed outside m3ter-reconcile"),
        "{}",
        pr.summary
    );
}

#[test]
fn a_broken_desired_state_fails_the_pull_request_job_at_validate() {
    let wf = workflow();
    let emu = EmulatorProcess::start(&[]);
    let dir = tempfile::tempdir().expect("tempdir");
    let desired = cli::copy_example(dir.path());
    std::fs::write(
        desired.join("broken.yaml"),
        "products:\n  - name: no code\n",
    )
    .expect("write");
    let inputs = Inputs::new(&dir.path().join("sandbox.json").to_string_lossy());
    let pr = run_job(&wf, "plan", dir.path(), &emu, &inputs);
    assert_eq!(
        pr.failed,
        Some(("Validate".to_string(), 1)),
        "{}",
        pr.summary
    );
    assert_eq!(
        pr.lines,
        ["m3ter validate"],
        "nothing after the failing step runs"
    );
}

#[test]
fn with_the_state_in_s3_on_moto() {
    let moto = Moto::start();
    moto.create_bucket("ci-state");
    let dir = tempfile::tempdir().expect("tempdir");
    let inputs = Inputs::new("s3://ci-state/m3ter/sandbox.json")
        .set("secrets.AWS_ACCESS_KEY_ID", s3::ACCESS_KEY)
        .set("secrets.AWS_SECRET_ACCESS_KEY", s3::SECRET_KEY)
        // The runner's S3 is AWS; here moto on loopback.
        .env("AWS_ENDPOINT_URL", &moto.endpoint);
    sandbox_sync(dir.path(), &inputs, &|| {
        moto.get("ci-state", "m3ter/sandbox.json").is_some()
    });
    assert!(
        !dir.path().join("state").exists(),
        "no local state beside the remote one"
    );
}
