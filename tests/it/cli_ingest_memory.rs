//! `m3ter ingest --file` over a large file: the client streams it (a pass
//! to check it, a pass to send it) instead of holding it, so its peak RSS
//! stays bounded whatever the file's size.

use crate::common;

use std::fmt::Write as _;
use std::process::Stdio;

use common::cli::{EmulatorProcess, copy_example, m3ter, m3ter_cmd, text};
use common::rss::run_peak_rss;
use serde_json::Value;

const METER: &str = "compute_and_requests_meter_api_6";
const ACCOUNT: &str = "mickey_mouse_inc_api_6";
/// Measurements in the file: about 35 MB of JSON Lines, which held whole
/// (the text and a `Value` per line) took well over 200 MB.
const LINES: usize = 250_000;
/// Lines that repeat the uid of an earlier line.
const REPEATS: usize = 7;
/// The client's budget (issue 12: ingest client at <= 50 MB RSS).
const MAX_RSS_KIB: u64 = 50 * 1024;

#[test]
fn ingesting_a_large_file_keeps_the_client_under_50_mb() {
    let dir = tempfile::tempdir().expect("tempdir");
    let emu = EmulatorProcess::start(&["--strict"]);
    copy_example(dir.path());
    let out = m3ter(
        dir.path(),
        &emu,
        &["apply", "--auto-approve", "--rate-limit", "0"],
    );
    assert!(out.status.success(), "{}", text(&out));

    let mut lines = String::with_capacity(LINES * 150);
    for i in 0..LINES + REPEATS {
        // The last REPEATS lines reuse uids from the start of the file.
        let uid = if i < LINES { i } else { i - LINES };
        writeln!(
            lines,
            "{{\"uid\":\"m-{uid:08}\",\"meter\":\"{METER}\",\"account\":\"{ACCOUNT}\",\"ts\":\"2024-12-{:02}T{:02}:00:00Z\",\"measure\":{{\"memory_consumption_api_6\":{},\"execution_time_api_6\":{}}}}}",
            1 + i % 28,
            i % 24,
            i % 100,
            1000 + i % 4000
        )
        .expect("format");
    }
    let path = dir.path().join("large.jsonl");
    std::fs::write(&path, lines).expect("write the file");

    let summary = dir.path().join("summary.json");
    let err = dir.path().join("ingest.err");
    let mut cmd = m3ter_cmd(
        dir.path(),
        &emu,
        &["ingest", "--json", "--file", "large.jsonl"],
    );
    cmd.stdout(Stdio::from(
        std::fs::File::create(&summary).expect("summary file"),
    ))
    .stderr(Stdio::from(
        std::fs::File::create(&err).expect("stderr file"),
    ));
    let (code, peak_kib) = run_peak_rss(&mut cmd);
    let err = std::fs::read_to_string(&err).unwrap_or_default();
    assert_eq!(code, Some(0), "ingest failed:\n{err}");
    let v: Value = serde_json::from_str(&std::fs::read_to_string(&summary).expect("summary"))
        .unwrap_or_else(|e| panic!("summary: {e}\n{err}"));
    // All of it sent, in full batches, and the repeats counted exactly.
    assert_eq!(v["measurements"], LINES + REPEATS, "{v}");
    assert_eq!(v["batches"], (LINES + REPEATS).div_ceil(1000), "{v}");
    assert_eq!(v["duplicateUids"], REPEATS, "{v}");
    assert!(
        err.contains(&format!("{REPEATS} measurement(s) repeat an earlier uid")),
        "{err}"
    );
    assert!(
        peak_kib <= MAX_RSS_KIB,
        "the client peaked at {peak_kib} KiB over a {LINES}-line file (budget {MAX_RSS_KIB} KiB)"
    );
}
