//! `m3ter ingest`: submit generated or file-read measurements (design §5).

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use serde_json::{Value, json};

use crate::cli::session::Session;
use crate::cli::{Connection, Global, connect};
use crate::client::Client;
use crate::usage::batch::{ENVELOPE_BYTES, MAX_BODY_BYTES, MAX_MEASUREMENTS};
use crate::usage::file::Sourced;
use crate::usage::submit::DEFAULT_CONCURRENCY;
use crate::usage::uids::UidSieve;
use crate::usage::{self, Batcher, GenerateSpec, MeasureRange, Window};
use m3ter_api::Kind;
use m3ter_api::validate::general_code;

/// Help heading of the options that generate measurements.
const GENERATE: &str = "Generate measurements (--meter and --account are required)";
/// Help heading of `--file`.
const FROM_FILE: &str = "Or submit a file (instead of generating)";

/// Arguments of `ingest`.
#[derive(Debug, clap::Args)]
pub struct IngestArgs {
    #[command(flatten)]
    pub conn: Connection,
    /// Meter code of the generated measurements (required without --file).
    #[arg(
        long,
        value_name = "CODE",
        required_unless_present = "file",
        conflicts_with = "file",
        help_heading = GENERATE
    )]
    pub meter: Option<String>,
    /// Account codes, used round-robin (repeatable; at least one without
    /// --file).
    #[arg(
        long = "account",
        value_name = "CODE",
        required_unless_present = "file",
        conflicts_with = "file",
        help_heading = GENERATE
    )]
    pub accounts: Vec<String>,
    /// How many measurements to generate.
    #[arg(long, value_name = "N", default_value_t = 100, conflicts_with = "file", help_heading = GENERATE)]
    pub count: usize,
    /// Start of the time window (date-time or YYYY-MM-DD; default: the
    /// first day of the previous calendar month, UTC).
    #[arg(long, value_name = "TS", conflicts_with = "file", help_heading = GENERATE)]
    pub from: Option<String>,
    /// End of the time window, exclusive.
    #[arg(long, value_name = "TS", conflicts_with = "file", help_heading = GENERATE)]
    pub to: Option<String>,
    /// A random integer in MIN..MAX (inclusive) for FIELD (repeatable);
    /// default: 1..100 for every MEASURE data field of the meter.
    #[arg(
        long = "measure",
        value_name = "FIELD=MIN..MAX",
        conflicts_with = "file",
        help_heading = GENERATE
    )]
    pub measures: Vec<MeasureRange>,
    /// Seed for reproducible measurements (uids included).
    #[arg(long, value_name = "N", conflicts_with = "file", help_heading = GENERATE)]
    pub seed: Option<u64>,
    /// Submit measurements from a JSON Lines file, or CSV when named *.csv
    /// (header: uid,meter,account,ts,<measure fields...>).
    #[arg(long, value_name = "FILE", help_heading = FROM_FILE)]
    pub file: Option<PathBuf>,
}

/// Where the measurements come from, checked before anything is sent.
enum Source {
    Generate(GenerateSpec),
    /// A file, read once to check it ([`scan`]) and again to send it.
    File(PathBuf, Scanned),
}

/// What the checking pass over a file found. The file itself is not kept:
/// it is read again, lazily, to be sent, so any size fits in memory.
struct Scanned {
    count: usize,
    /// Meter code → first line naming it.
    meters: BTreeMap<String, usize>,
    accounts: BTreeSet<String>,
    uids: UidSieve,
}

/// Reads and checks every measurement of `path` without keeping them: a
/// bad line, or one too large for any request, fails here with its line,
/// before anything is sent.
fn scan(path: &Path) -> anyhow::Result<Scanned> {
    let mut found = Scanned {
        count: 0,
        meters: BTreeMap::new(),
        accounts: BTreeSet::new(),
        uids: UidSieve::for_bytes(std::fs::metadata(path).map_or(0, |m| m.len())),
    };
    for m in usage::open_measurements(path)? {
        let Sourced { line, value } = m?;
        let bytes = ENVELOPE_BYTES + serialized_len(&value);
        if bytes >= MAX_BODY_BYTES {
            anyhow::bail!(
                "{}:{line}: the measurement serializes to {bytes} bytes; an ingest request must stay under {MAX_BODY_BYTES} bytes",
                path.display()
            );
        }
        let text = |k: &str| value.get(k).and_then(Value::as_str);
        if let Some(meter) = text("meter")
            && !found.meters.contains_key(meter)
        {
            found.meters.insert(meter.to_string(), line);
        }
        if let Some(account) = text("account")
            && !found.accounts.contains(account)
        {
            found.accounts.insert(account.to_string());
        }
        if let Some(uid) = text("uid") {
            found.uids.add(uid);
        }
        found.count += 1;
    }
    if found.count == 0 {
        return Err(usage::FileError::Empty {
            path: path.to_path_buf(),
        }
        .into());
    }
    Ok(found)
}

/// Bytes of `v` serialized compactly, as the request carries it, counted
/// without building the text.
fn serialized_len(v: &Value) -> usize {
    struct Count(usize);
    impl std::io::Write for Count {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0 += buf.len();
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let mut n = Count(0);
    match serde_json::to_writer(&mut n, v) {
        Ok(()) => n.0,
        Err(_) => usize::MAX / 2,
    }
}

/// Runs the command.
pub fn run(g: &Global, a: &IngestArgs) -> anyhow::Result<ExitCode> {
    let source = source(a)?;
    connect::runtime()?.block_on(async {
        let session = Session::open(g, &a.conn).await?;
        let result = ingest(g, &session.client, source).await;
        session.close().await?;
        result
    })?;
    Ok(ExitCode::SUCCESS)
}

/// Checks the options (or reads the file) without touching the network.
fn source(a: &IngestArgs) -> anyhow::Result<Source> {
    if let Some(path) = &a.file {
        return Ok(Source::File(path.clone(), scan(path)?));
    }
    let meter = a
        .meter
        .clone()
        .context("--meter is required without --file")?;
    general_code(&meter).map_err(|why| anyhow::anyhow!("--meter `{meter}` {why}"))?;
    for code in &a.accounts {
        general_code(code).map_err(|why| anyhow::anyhow!("--account `{code}` {why}"))?;
    }
    if a.accounts.is_empty() {
        anyhow::bail!("give at least one --account CODE");
    }
    if a.count == 0 {
        anyhow::bail!("--count must be at least 1");
    }
    let window = Window::from_options(a.from.as_deref(), a.to.as_deref(), chrono::Utc::now())
        .map_err(anyhow::Error::msg)?;
    Ok(Source::Generate(GenerateSpec {
        meter,
        accounts: a.accounts.clone(),
        count: a.count,
        window,
        measures: a.measures.clone(),
        seed: a.seed,
    }))
}

async fn ingest(g: &Global, client: &Client, source: Source) -> anyhow::Result<()> {
    let (result, duplicates) = match source {
        Source::Generate(mut spec) => {
            spec.measures = measure_fields(client, &spec.meter, &spec.measures).await?;
            warn_unknown_accounts(client, spec.accounts.iter().map(String::as_str)).await?;
            // Generated lazily, batch by batch: any --count fits in memory.
            // Fresh v4 uids never repeat, so there is nothing to count.
            let batches = Batcher::new(usage::generate(&spec), MAX_MEASUREMENTS, MAX_BODY_BYTES);
            (send(g, client, spec.count, batches).await, 0)
        }
        Source::File(path, scanned) => {
            check_file_meters(client, &path, &scanned.meters).await?;
            warn_unknown_accounts(client, scanned.accounts.iter().map(String::as_str)).await?;
            // Read again and sent as it is read: batches are pulled only as
            // requests free up, so memory stays bounded by the in-flight ones.
            let mut uids = scanned.uids.into_count();
            let mut changed = None;
            let measurements = usage::open_measurements(&path)?.map_while(|m| match m {
                Ok(m) => {
                    if let Some(uid) = m.value.get("uid").and_then(Value::as_str) {
                        uids.add(uid);
                    }
                    Some(m.value)
                }
                Err(e) => {
                    changed = Some(e);
                    None
                }
            });
            let batches = Batcher::new(measurements, MAX_MEASUREMENTS, MAX_BODY_BYTES);
            let sent = send(g, client, scanned.count, batches).await;
            if let Some(e) = changed {
                return Err(anyhow::Error::new(e).context(format!(
                    "{} changed while it was being sent (it was checked whole first); what was sent before stays ingested",
                    path.display()
                )));
            }
            let duplicates = uids.repeats();
            if duplicates > 0 {
                eprintln!(
                    "warning: {duplicates} measurement(s) repeat an earlier uid; m3ter keeps the first and drops the repeats"
                );
            }
            (sent, duplicates)
        }
    };
    let summary = result?;
    if g.json {
        crate::cli::output::emit(&format!(
            "{}",
            json!({
                "measurements": summary.measurements,
                "batches": summary.batches,
                "duplicateUids": duplicates,
                "seconds": summary.elapsed.as_secs_f64(),
                "perSecond": summary.per_second(),
            })
        ));
    } else {
        crate::cli::output::emit(&summary.line().to_string());
    }
    Ok(())
}

/// Submits the batches with a progress bar (on a terminal).
async fn send(
    g: &Global,
    client: &Client,
    total: usize,
    batches: impl Iterator<Item = Result<usage::Batch, usage::BatchError>>,
) -> Result<usage::IngestSummary, usage::IngestFailure> {
    let bar = progress_bar(g, total as u64);
    let tick = |n: usize| bar.inc(n as u64);
    let result = usage::submit(client, batches, DEFAULT_CONCURRENCY, &tick).await;
    bar.finish_and_clear();
    result
}

/// The meter's data fields (code → category), or an error naming the code.
async fn meter_fields(client: &Client, meter: &str) -> anyhow::Result<BTreeMap<String, String>> {
    let found = client
        .list_all(Kind::Meter, &[("codes", meter.to_string())])
        .await
        .with_context(|| format!("cannot look up meter `{meter}`"))?;
    let m = found
        .iter()
        .find(|m| m.get("code").and_then(Value::as_str) == Some(meter))
        .with_context(|| {
            format!("no meter with code `{meter}` in the org (m3ter would accept its measurements and drop them); create it first, e.g. with `m3ter apply`")
        })?;
    Ok(m.get("dataFields")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|f| {
            Some((
                f.get("code")?.as_str()?.to_string(),
                f.get("category")
                    .and_then(Value::as_str)
                    .unwrap_or("")
                    .to_string(),
            ))
        })
        .collect())
}

/// The measurement map of each numeric data-field category.
fn numeric_map(category: &str) -> Option<&'static str> {
    match category {
        "MEASURE" => Some("measure"),
        "COST" => Some("cost"),
        "INCOME" => Some("income"),
        _ => None,
    }
}

/// The ranges to generate: the given ones (each must name a numeric data
/// field of the meter; the value goes in the map of its category), else
/// 1..100 for every MEASURE data field.
async fn measure_fields(
    client: &Client,
    meter: &str,
    given: &[MeasureRange],
) -> anyhow::Result<Vec<MeasureRange>> {
    let fields = meter_fields(client, meter).await?;
    if given.is_empty() {
        let measures: Vec<MeasureRange> = fields
            .iter()
            .filter(|(_, cat)| cat.as_str() == "MEASURE")
            .map(|(code, _)| MeasureRange {
                field: code.clone(),
                min: 1,
                max: 100,
                map: "measure",
            })
            .collect();
        if measures.is_empty() {
            anyhow::bail!(
                "meter `{meter}` has no MEASURE data field to generate values for; name fields with --measure FIELD=MIN..MAX"
            );
        }
        return Ok(measures);
    }
    let numeric = || {
        fields
            .iter()
            .filter(|(_, cat)| numeric_map(cat).is_some())
            .map(|(k, _)| format!("`{k}`"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    given
        .iter()
        .map(|r| {
            let Some(category) = fields.get(&r.field) else {
                anyhow::bail!(
                    "--measure {}: meter `{meter}` has no data field `{}` (its numeric data fields: {})",
                    r.field,
                    r.field,
                    numeric()
                );
            };
            let Some(map) = numeric_map(category) else {
                anyhow::bail!(
                    "--measure {}: data field `{}` of meter `{meter}` is a {category} field, which holds text; --measure takes MEASURE, COST or INCOME fields ({})",
                    r.field,
                    r.field,
                    numeric()
                );
            };
            Ok(MeasureRange {
                map,
                ..r.clone()
            })
        })
        .collect()
}

/// Every meter a file names must exist: m3ter silently drops measurements
/// of an unknown meter, which is never what a file meant.
async fn check_file_meters(
    client: &Client,
    path: &Path,
    first_line: &BTreeMap<String, usize>,
) -> anyhow::Result<()> {
    let codes: Vec<&str> = first_line.keys().map(String::as_str).collect();
    let mut known: HashSet<String> = HashSet::new();
    for chunk in codes.chunks(50) {
        let found = client
            .list_all(Kind::Meter, &[("codes", chunk.join(","))])
            .await
            .context("cannot look up the file's meters")?;
        known.extend(
            found
                .iter()
                .filter_map(|m| m.get("code")?.as_str().map(str::to_string)),
        );
    }
    if let Some((code, line)) = first_line.iter().find(|(c, _)| !known.contains(*c)) {
        anyhow::bail!(
            "{}:{line}: `meter`: no meter with code `{code}` in the org (m3ter would accept its measurements and drop them)",
            path.display()
        );
    }
    Ok(())
}

/// m3ter auto-creates an account for an unknown code; a typo would leave a
/// stray account behind, so say so (it is not an error: it is the API's
/// documented behaviour, and sometimes wanted).
async fn warn_unknown_accounts<'a>(
    client: &Client,
    codes: impl Iterator<Item = &'a str>,
) -> anyhow::Result<()> {
    let mut codes: Vec<&str> = codes.collect();
    codes.sort_unstable();
    codes.dedup();
    let mut known: HashSet<String> = HashSet::new();
    for chunk in codes.chunks(50) {
        let found = client
            .list_all(Kind::Account, &[("codes", chunk.join(","))])
            .await
            .context("cannot look up the accounts")?;
        known.extend(
            found
                .iter()
                .filter_map(|a| a.get("code")?.as_str().map(str::to_string)),
        );
    }
    for code in codes.iter().filter(|c| !known.contains(**c)) {
        eprintln!(
            "warning: no account with code `{code}`; m3ter will create one named `{code}-autocreated`"
        );
    }
    Ok(())
}

/// A bar on stderr when it is a terminal (and output is for people).
fn progress_bar(g: &Global, total: u64) -> indicatif::ProgressBar {
    if g.json || g.quiet || !std::io::stderr().is_terminal() {
        return indicatif::ProgressBar::hidden();
    }
    let bar = indicatif::ProgressBar::new(total);
    if let Ok(style) =
        indicatif::ProgressStyle::with_template("{wide_bar} {pos}/{len} measurements, {eta} left")
    {
        bar.set_style(style);
    }
    bar
}
