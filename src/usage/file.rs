//! Measurements from a file for `m3ter ingest --file F`: JSON Lines (one
//! measurement object per line), or CSV when the name ends in `.csv`
//! (header `uid,meter,account,ts[,ets],<measure fields...>`).
//!
//! Every measurement is checked here, so a typo fails with the file, line
//! and field before anything is sent, instead of being half-ingested.

use std::fs::File;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};

use serde_json::{Map, Value};

use m3ter_api::validate::{general_code, parse_date_time};

/// Fields a measurement may carry (m3ter-api.md §4).
const KNOWN: &[&str] = &[
    "uid", "meter", "account", "ts", "ets", "measure", "cost", "income", "who", "what", "where",
    "other", "metadata",
];
const NUMBER_MAPS: &[&str] = &["measure", "cost", "income"];
const STRING_MAPS: &[&str] = &["who", "what", "where", "other", "metadata"];
/// Longest `uid` the API takes.
const MAX_UID: usize = 50;

/// A bad file, or a bad measurement at `path:line`.
#[derive(Debug, thiserror::Error)]
pub enum FileError {
    #[error("cannot read {}", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{}:{line}: {message}", path.display())]
    Line {
        path: PathBuf,
        line: usize,
        message: String,
    },
    #[error("{}: no measurements in the file", path.display())]
    Empty { path: PathBuf },
}

/// A measurement and the line it came from.
#[derive(Debug, Clone, PartialEq)]
pub struct Sourced {
    pub line: usize,
    pub value: Value,
}

/// Reads and checks every measurement of `path` into memory. A measurement
/// without a `uid` gets a fresh UUID, so that a retried batch cannot count
/// it twice. For a file of any size, stream it with [`open_measurements`].
pub fn read_measurements(path: &Path) -> Result<Vec<Sourced>, FileError> {
    let out = open_measurements(path)?.collect::<Result<Vec<_>, _>>()?;
    if out.is_empty() {
        return Err(FileError::Empty {
            path: path.to_path_buf(),
        });
    }
    Ok(out)
}

/// Opens `path` for streaming: its measurements one at a time, each checked
/// as it is read (JSON Lines, or CSV when the name ends in `.csv`), so a
/// file of any size is read in constant memory.
pub fn open_measurements(path: &Path) -> Result<Measurements<BufReader<File>>, FileError> {
    let read = |source| FileError::Read {
        path: path.to_path_buf(),
        source,
    };
    let file = File::open(path).map_err(read)?;
    let is_csv = path
        .extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| e.eq_ignore_ascii_case("csv"));
    let input = BufReader::with_capacity(1 << 16, file);
    if is_csv {
        Measurements::csv(path, input)
    } else {
        Ok(Measurements::jsonl(path, input))
    }
}

fn at(path: &Path, line: usize, message: String) -> FileError {
    FileError::Line {
        path: path.to_path_buf(),
        line,
        message,
    }
}

/// JSON Lines; blank lines are skipped.
pub fn parse_jsonl(path: &Path, text: &str) -> Result<Vec<Sourced>, FileError> {
    Measurements::jsonl(path, text.as_bytes()).collect()
}

/// CSV with a header; columns other than uid, meter, account, ts and ets
/// are numeric `measure` fields (an empty cell leaves the field out).
pub fn parse_csv(path: &Path, text: &str) -> Result<Vec<Sourced>, FileError> {
    Measurements::csv(path, text.as_bytes())?.collect()
}

/// The checked measurements of one input, read lazily (see
/// [`open_measurements`]). After an error it yields nothing more.
pub struct Measurements<R: BufRead> {
    path: PathBuf,
    format: Format<R>,
    done: bool,
}

enum Format<R: BufRead> {
    Jsonl {
        input: R,
        /// Number of the line read last.
        line: usize,
        /// Reused for every line.
        buf: String,
    },
    Csv {
        records: csv::StringRecordsIntoIter<R>,
        header: Vec<String>,
    },
}

impl<R: BufRead> Measurements<R> {
    /// JSON Lines from `input` (`path` names it in errors).
    pub fn jsonl(path: &Path, input: R) -> Self {
        Measurements {
            path: path.to_path_buf(),
            format: Format::Jsonl {
                input,
                line: 0,
                buf: String::new(),
            },
            done: false,
        }
    }

    /// CSV from `input`; reads and checks its header now.
    pub fn csv(path: &Path, input: R) -> Result<Self, FileError> {
        let mut reader = csv::ReaderBuilder::new()
            .trim(csv::Trim::All)
            .from_reader(input);
        let header: Vec<String> = reader
            .headers()
            .map_err(|e| at(path, 1, format!("unreadable CSV header: {e}")))?
            .iter()
            .map(str::to_string)
            .collect();
        for required in ["meter", "account", "ts"] {
            if !header.iter().any(|h| h == required) {
                return Err(at(
                    path,
                    1,
                    format!(
                        "the CSV header has no `{required}` column (expected uid,meter,account,ts,<measure fields...>)"
                    ),
                ));
            }
        }
        if let Some(dup) = header
            .iter()
            .enumerate()
            .find(|(i, h)| header[..*i].contains(h))
        {
            return Err(at(
                path,
                1,
                format!("column `{}` appears twice in the header", dup.1),
            ));
        }
        Ok(Measurements {
            path: path.to_path_buf(),
            format: Format::Csv {
                records: reader.into_records(),
                header,
            },
            done: false,
        })
    }

    fn next_jsonl(
        path: &Path,
        input: &mut R,
        line: &mut usize,
        buf: &mut String,
    ) -> Option<Result<Sourced, FileError>> {
        loop {
            buf.clear();
            match input.read_line(buf) {
                Ok(0) => return None,
                Ok(_) => {}
                Err(source) => {
                    return Some(Err(FileError::Read {
                        path: path.to_path_buf(),
                        source,
                    }));
                }
            }
            *line += 1;
            let raw = buf.trim();
            if raw.is_empty() {
                continue;
            }
            return Some(jsonl_line(path, *line, raw));
        }
    }

    fn next_csv(
        path: &Path,
        records: &mut csv::StringRecordsIntoIter<R>,
        header: &[String],
    ) -> Option<Result<Sourced, FileError>> {
        loop {
            let record = match records.next()? {
                Ok(r) => r,
                Err(e) => {
                    let line = e.position().map_or(0, |p| p.line() as usize);
                    return Some(Err(at(path, line, format!("bad CSV row: {e}"))));
                }
            };
            if record.iter().all(str::is_empty) {
                continue;
            }
            return Some(csv_row(path, header, &record));
        }
    }
}

impl<R: BufRead> Iterator for Measurements<R> {
    type Item = Result<Sourced, FileError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        let next = match &mut self.format {
            Format::Jsonl { input, line, buf } => Self::next_jsonl(&self.path, input, line, buf),
            Format::Csv { records, header } => Self::next_csv(&self.path, records, header),
        };
        if !matches!(next, Some(Ok(_))) {
            self.done = true;
        }
        next
    }
}

/// One non-blank JSON Lines line, checked.
fn jsonl_line(path: &Path, line: usize, raw: &str) -> Result<Sourced, FileError> {
    let value: Value = serde_json::from_str(raw).map_err(|e| {
        at(
            path,
            line,
            format!("not a JSON object: {e} (the file is read as JSON Lines: one measurement object per line; name a CSV file *.csv)"),
        )
    })?;
    let Value::Object(obj) = value else {
        return Err(at(path, line, "a measurement must be a JSON object".into()));
    };
    let obj = check(obj).map_err(|m| at(path, line, m))?;
    Ok(Sourced {
        line,
        value: Value::Object(obj),
    })
}

/// One non-empty CSV row, checked.
fn csv_row(
    path: &Path,
    header: &[String],
    record: &csv::StringRecord,
) -> Result<Sourced, FileError> {
    let line = record.position().map_or(0, |p| p.line() as usize);
    let mut obj = Map::new();
    let mut measure = Map::new();
    for (name, cell) in header.iter().zip(record.iter()) {
        match name.as_str() {
            "uid" | "meter" | "account" | "ts" | "ets" => {
                if !cell.is_empty() {
                    obj.insert(name.clone(), Value::String(cell.to_string()));
                }
            }
            field => {
                if cell.is_empty() {
                    continue;
                }
                let n = number(cell).ok_or_else(|| {
                    at(path, line, format!("`{field}`: `{cell}` is not a number"))
                })?;
                measure.insert(field.to_string(), n);
            }
        }
    }
    if !measure.is_empty() {
        obj.insert("measure".into(), Value::Object(measure));
    }
    let obj = check(obj).map_err(|m| at(path, line, m))?;
    Ok(Sourced {
        line,
        value: Value::Object(obj),
    })
}

/// An integer when the text is one (so `5` is sent as `5`, not `5.0`).
fn number(s: &str) -> Option<Value> {
    if let Ok(i) = s.parse::<i64>() {
        return Some(Value::from(i));
    }
    let f: f64 = s.parse().ok()?;
    serde_json::Number::from_f64(f).map(Value::Number)
}

/// Checks one measurement against m3ter-api.md §4; fills in a missing uid.
fn check(mut obj: Map<String, Value>) -> Result<Map<String, Value>, String> {
    if let Some(k) = obj.keys().find(|k| !KNOWN.contains(&k.as_str())) {
        return Err(format!(
            "unknown field `{k}` (a measurement has {})",
            KNOWN.join(", ")
        ));
    }
    for key in ["meter", "account"] {
        match obj.get(key) {
            None | Some(Value::Null) => return Err(format!("`{key}` is required")),
            Some(Value::String(s)) => general_code(s).map_err(|why| format!("`{key}` {why}"))?,
            Some(_) => return Err(format!("`{key}` must be a string")),
        }
    }
    for (key, required) in [("ts", true), ("ets", false)] {
        match obj.get(key) {
            None | Some(Value::Null) if !required => {}
            None | Some(Value::Null) => {
                return Err(format!(
                    "`{key}` is required (a date-time like 2024-12-05T10:00:00Z)"
                ));
            }
            Some(Value::String(s)) if parse_date_time(s).is_some() => {}
            Some(v) => {
                return Err(format!(
                    "`{key}` must be a date-time like 2024-12-05T10:00:00Z (got {v})"
                ));
            }
        }
    }
    match obj.get("uid") {
        None | Some(Value::Null) => {
            obj.insert(
                "uid".into(),
                Value::String(uuid::Uuid::new_v4().to_string()),
            );
        }
        Some(Value::String(s)) if !s.is_empty() && s.chars().count() <= MAX_UID => {}
        Some(Value::String(_)) => {
            return Err(format!("`uid` must be 1 to {MAX_UID} characters long"));
        }
        Some(_) => return Err("`uid` must be a string".into()),
    }
    for key in NUMBER_MAPS {
        check_map(&obj, key, "a number", |v| v.is_number())?;
    }
    for key in STRING_MAPS {
        check_map(&obj, key, "a string", Value::is_string)?;
    }
    Ok(obj)
}

fn check_map(
    obj: &Map<String, Value>,
    key: &str,
    what: &str,
    ok: impl Fn(&Value) -> bool,
) -> Result<(), String> {
    match obj.get(key) {
        None | Some(Value::Null) => Ok(()),
        Some(Value::Object(m)) => match m.iter().find(|(_, v)| !ok(v)) {
            Some((k, v)) => Err(format!("`{key}.{k}` must be {what} (got {v})")),
            None => Ok(()),
        },
        Some(_) => Err(format!("`{key}` must be an object of field code to {what}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p() -> &'static Path {
        Path::new("usage.jsonl")
    }

    #[test]
    fn jsonl_lines_are_checked_and_numbered() {
        let text = concat!(
            r#"{"uid":"a","meter":"m","account":"acme","ts":"2024-12-05T10:00:00Z","measure":{"q":3}}"#,
            "\n\n",
            r#"{"meter":"m","account":"acme","ts":"2024-12-06T10:00:00Z"}"#,
            "\n"
        );
        let got = parse_jsonl(p(), text).expect("valid");
        assert_eq!(got.iter().map(|s| s.line).collect::<Vec<_>>(), [1, 3]);
        assert_eq!(got[0].value["measure"]["q"], 3);
        // A missing uid is filled in.
        assert!(uuid::Uuid::parse_str(got[1].value["uid"].as_str().expect("uid")).is_ok());
    }

    #[test]
    fn jsonl_errors_name_the_line_and_the_field() {
        let bad = |text: &str| parse_jsonl(p(), text).unwrap_err().to_string();
        let ok = r#"{"meter":"m","account":"a","ts":"2024-12-05T10:00:00Z"}"#;
        let e = bad(&format!(
            "{ok}\n{{\"meter\":\"m\",\"account\":\"a\",\"ts\":\"monday\"}}"
        ));
        assert!(
            e.starts_with("usage.jsonl:2: `ts` must be a date-time"),
            "{e}"
        );
        let e = bad(&format!(
            "{ok}\n{ok}\n{{\"meter\":\"m\",\"ts\":\"2024-12-05T10:00:00Z\"}}"
        ));
        assert!(e.starts_with("usage.jsonl:3: `account` is required"), "{e}");
        let e =
            bad(r#"{"meter":"m","account":"a","ts":"2024-12-05T10:00:00Z","measure":{"q":"3"}}"#);
        assert!(e.contains("`measure.q` must be a number"), "{e}");
        let e = bad(r#"{"meter":"m","account":"a","ts":"2024-12-05T10:00:00Z","measures":{}}"#);
        assert!(e.contains("unknown field `measures`"), "{e}");
        let e = bad("uid,meter\n");
        assert!(e.starts_with("usage.jsonl:1: not a JSON object"), "{e}");
    }

    #[test]
    fn csv_rows_become_measurements() {
        let text = "uid,meter,account,ts,mem,time\n\
                    u1,m,acme,2024-12-05T10:00:00Z,5,1000\n\
                    u2, m ,acme,2024-12-05T11:00:00Z,,2.5\n";
        let got = parse_csv(Path::new("u.csv"), text).expect("valid");
        assert_eq!(got.len(), 2);
        assert_eq!(got[0].line, 2);
        assert_eq!(
            got[0].value["measure"],
            serde_json::json!({"mem": 5, "time": 1000})
        );
        assert_eq!(got[1].value["meter"], "m");
        assert_eq!(got[1].value["measure"], serde_json::json!({"time": 2.5}));
    }

    #[test]
    fn csv_errors_name_the_line_and_the_column() {
        let e = parse_csv(
            Path::new("u.csv"),
            "uid,meter,account,ts,mem\nu1,m,a,2024-12-05T10:00:00Z,lots\n",
        )
        .unwrap_err()
        .to_string();
        assert_eq!(e, "u.csv:2: `mem`: `lots` is not a number");
        let e = parse_csv(Path::new("u.csv"), "uid,account,ts\n")
            .unwrap_err()
            .to_string();
        assert!(
            e.starts_with("u.csv:1: the CSV header has no `meter` column"),
            "{e}"
        );
        let e = parse_csv(Path::new("u.csv"), "uid,meter,account,ts\nu1,m,a\n")
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("u.csv:2: bad CSV row"), "{e}");
    }
}
