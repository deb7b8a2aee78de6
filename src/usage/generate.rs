//! Random measurements for `m3ter ingest --meter ... --account ...`.
//!
//! Generation is a pure function of its [`GenerateSpec`]: with a seed the
//! same spec yields the same measurements (uids included), which is what
//! makes `--seed` runs reproducible and re-runs idempotent on the server.

use std::str::FromStr;

use chrono::{DateTime, Datelike, Duration, NaiveDate, SecondsFormat, TimeZone, Utc};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::{Map, Value, json};

use m3ter_api::validate::parse_date_time;

/// `FIELD=MIN..MAX`: a numeric data field and its inclusive integer range.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MeasureRange {
    pub field: String,
    pub min: i64,
    pub max: i64,
    /// The measurement map the value goes in: `measure` (as parsed), or
    /// `cost`/`income` for data fields of those categories.
    pub map: &'static str,
}

impl FromStr for MeasureRange {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let usage = "expected FIELD=MIN..MAX, e.g. execution_time=1000..5000";
        let (field, range) = s.split_once('=').ok_or_else(|| format!("`{s}`: {usage}"))?;
        let field = field.trim();
        if field.is_empty() {
            return Err(format!("`{s}`: the field name is empty; {usage}"));
        }
        let (min, max) = range
            .split_once("..")
            .ok_or_else(|| format!("`{s}`: {usage}"))?;
        let int = |v: &str| {
            v.trim()
                .parse::<i64>()
                .map_err(|_| format!("`{s}`: `{}` is not an integer; {usage}", v.trim()))
        };
        let (min, max) = (int(min)?, int(max)?);
        if min > max {
            return Err(format!("`{s}`: MIN {min} is greater than MAX {max}"));
        }
        Ok(MeasureRange {
            field: field.to_string(),
            min,
            max,
            map: "measure",
        })
    }
}

/// A half-open time window `[from, to)` for measurement timestamps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
}

impl Window {
    /// The calendar month (UTC) before the one `now` is in.
    pub fn previous_month(now: DateTime<Utc>) -> Window {
        let first = NaiveDate::from_ymd_opt(now.year(), now.month(), 1).unwrap_or(now.date_naive());
        let prev = first
            .checked_sub_months(chrono::Months::new(1))
            .unwrap_or(first);
        let at = |d: NaiveDate| Utc.from_utc_datetime(&d.and_time(chrono::NaiveTime::MIN));
        Window {
            from: at(prev),
            to: at(first),
        }
    }

    /// `--from`/`--to`: both or neither (then the previous month).
    pub fn from_options(
        from: Option<&str>,
        to: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<Window, String> {
        let w = match (from, to) {
            (None, None) => return Ok(Window::previous_month(now)),
            (Some(f), Some(t)) => Window {
                from: parse_instant("--from", f)?,
                to: parse_instant("--to", t)?,
            },
            _ => {
                return Err(
                    "give both --from and --to, or neither (the previous calendar month, UTC)"
                        .into(),
                );
            }
        };
        if w.from >= w.to {
            return Err(format!(
                "--from {} must be before --to {}",
                stamp(w.from),
                stamp(w.to)
            ));
        }
        Ok(w)
    }
}

/// An RFC 3339 date-time, or a `YYYY-MM-DD` date meaning its midnight UTC.
pub fn parse_instant(option: &str, s: &str) -> Result<DateTime<Utc>, String> {
    if let Some(t) = parse_date_time(s) {
        return Ok(t);
    }
    NaiveDate::parse_from_str(s, "%Y-%m-%d")
        .map(|d| Utc.from_utc_datetime(&d.and_time(chrono::NaiveTime::MIN)))
        .map_err(|_| {
            format!("{option} `{s}` is not a date-time like 2024-12-01T00:00:00Z or a date like 2024-12-01")
        })
}

/// A measurement timestamp as m3ter's examples write them (ms, `Z`).
pub fn stamp(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// What to generate.
#[derive(Debug, Clone)]
pub struct GenerateSpec {
    pub meter: String,
    /// Account codes, used round-robin.
    pub accounts: Vec<String>,
    pub count: usize,
    pub window: Window,
    /// One random integer per range in each measurement's `measure` map.
    pub measures: Vec<MeasureRange>,
    /// `None`: a fresh random sequence.
    pub seed: Option<u64>,
}

/// Generates `spec.count` measurements: a UUID v4 `uid`, `ts` uniform in
/// the window (millisecond resolution), accounts round-robin, and a random
/// integer for each measure range.
///
/// The measurements come lazily, in order, so a large `count` is batched
/// and sent without being held in memory as a whole.
pub fn generate(spec: &GenerateSpec) -> impl Iterator<Item = Value> + use<'_> {
    let mut rng = match spec.seed {
        Some(seed) => StdRng::seed_from_u64(seed),
        None => StdRng::from_rng(&mut rand::rng()),
    };
    let span_ms = (spec.window.to - spec.window.from)
        .num_milliseconds()
        .max(1);
    (0..spec.count).map(move |i| {
        let uid = uuid::Builder::from_random_bytes(rng.random()).into_uuid();
        let ts = spec.window.from + Duration::milliseconds(rng.random_range(0..span_ms));
        let mut maps: Map<String, Value> = Map::new();
        for r in &spec.measures {
            let value = json!(rng.random_range(r.min..=r.max));
            if let Value::Object(m) = maps.entry(r.map).or_insert_with(|| json!({})) {
                m.insert(r.field.clone(), value);
            }
        }
        let account = spec
            .accounts
            .get(i % spec.accounts.len().max(1))
            .cloned()
            .unwrap_or_default();
        let mut m = json!({
            "uid": uid.to_string(),
            "meter": spec.meter,
            "account": account,
            "ts": stamp(ts),
        });
        if let Value::Object(obj) = &mut m {
            obj.extend(maps);
        }
        m
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(seed: Option<u64>) -> GenerateSpec {
        GenerateSpec {
            meter: "m".into(),
            accounts: vec!["a".into(), "b".into(), "c".into()],
            count: 300,
            window: Window::from_options(Some("2024-12-01"), Some("2025-01-01"), Utc::now())
                .expect("window"),
            measures: vec![
                "mem=1..100".parse().expect("range"),
                "time=1000..5000".parse().expect("range"),
                MeasureRange {
                    map: "cost",
                    ..("price=3..3".parse().expect("range"))
                },
            ],
            seed,
        }
    }

    #[test]
    fn measure_ranges_parse_and_explain_mistakes() {
        let r: MeasureRange = "x=-5..7".parse().expect("range");
        assert_eq!((r.field.as_str(), r.min, r.max), ("x", -5, 7));
        assert!(
            "x=5..1"
                .parse::<MeasureRange>()
                .unwrap_err()
                .contains("greater")
        );
        assert!(
            "x=a..1"
                .parse::<MeasureRange>()
                .unwrap_err()
                .contains("`a` is not an integer")
        );
        assert!(
            "x".parse::<MeasureRange>()
                .unwrap_err()
                .contains("FIELD=MIN..MAX")
        );
        assert!(
            "=1..2"
                .parse::<MeasureRange>()
                .unwrap_err()
                .contains("empty")
        );
    }

    #[test]
    fn generated_values_stay_in_their_ranges_and_window() {
        let s = spec(None);
        let ms: Vec<Value> = generate(&s).collect();
        assert_eq!(ms.len(), 300);
        let mut uids = std::collections::HashSet::new();
        for (i, m) in ms.iter().enumerate() {
            let uid = m["uid"].as_str().expect("uid");
            assert_eq!(
                uuid::Uuid::parse_str(uid).expect("uuid").get_version_num(),
                4
            );
            assert!(uids.insert(uid.to_string()), "duplicate uid {uid}");
            assert_eq!(m["account"], ["a", "b", "c"][i % 3]);
            let ts = parse_date_time(m["ts"].as_str().expect("ts")).expect("rfc3339");
            assert!(ts >= s.window.from && ts < s.window.to, "{ts}");
            let mem = m["measure"]["mem"].as_i64().expect("mem");
            let time = m["measure"]["time"].as_i64().expect("time");
            assert!((1..=100).contains(&mem) && (1000..=5000).contains(&time));
            assert_eq!(m["cost"], json!({"price": 3}));
        }
    }

    #[test]
    fn a_seed_makes_generation_reproducible() {
        let run = |seed| generate(&spec(Some(seed))).collect::<Vec<_>>();
        assert_eq!(run(7), run(7));
        assert_ne!(run(7), run(8));
    }

    #[test]
    fn the_default_window_is_the_previous_calendar_month() {
        let now = Utc.with_ymd_and_hms(2025, 1, 15, 10, 0, 0).unwrap();
        let w = Window::from_options(None, None, now).expect("window");
        assert_eq!(stamp(w.from), "2024-12-01T00:00:00.000Z");
        assert_eq!(stamp(w.to), "2025-01-01T00:00:00.000Z");
        assert!(Window::from_options(Some("2024-12-01"), None, now).is_err());
        let err = Window::from_options(Some("2025-01-01"), Some("2024-12-01"), now).unwrap_err();
        assert!(err.contains("must be before"), "{err}");
        let err = Window::from_options(Some("yesterday"), Some("2024-12-01"), now).unwrap_err();
        assert!(err.contains("--from `yesterday`"), "{err}");
    }
}
