//! Errors in the desired state, each with the file, line and column it is
//! about, collected so one run reports all of them.

use std::fmt;
use std::path::{Path, PathBuf};

use super::Source;
use super::node::Pos;

/// One problem in the desired state.
///
/// Displays as `file:line:column: message; hint`, e.g.
/// ``desired-state/meters.yaml:12:7: unknown field `dataFeilds` in meter; did you mean `dataFields`?``.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    /// The file (or directory) the problem is in; `None` for command-line
    /// input such as `--var`.
    pub file: Option<PathBuf>,
    pub line: Option<usize>,
    pub column: Option<usize>,
    pub message: String,
    /// How to fix it, e.g. "did you mean `dataFields`?".
    pub hint: Option<String>,
}

impl Diagnostic {
    /// A problem at a position in a file.
    pub fn at(file: &Path, pos: Pos, message: impl Into<String>) -> Self {
        Diagnostic {
            file: Some(file.to_path_buf()),
            line: Some(pos.line),
            column: Some(pos.column),
            message: message.into(),
            hint: None,
        }
    }

    /// A problem with a whole file or directory.
    pub fn in_file(file: &Path, message: impl Into<String>) -> Self {
        Diagnostic {
            file: Some(file.to_path_buf()),
            line: None,
            column: None,
            message: message.into(),
            hint: None,
        }
    }

    /// A problem that is not in a file (a `--var` option, say).
    pub fn general(message: impl Into<String>) -> Self {
        Diagnostic {
            file: None,
            line: None,
            column: None,
            message: message.into(),
            hint: None,
        }
    }

    /// A problem at an entity's recorded source, or a general one.
    pub fn at_source(source: Option<&Source>, message: impl Into<String>) -> Self {
        match source {
            Some(s) => Diagnostic::at(
                &s.file,
                Pos {
                    line: s.line,
                    column: s.column,
                },
                message,
            ),
            None => Diagnostic::general(message),
        }
    }

    /// Adds a hint (shown after the message).
    #[must_use]
    pub fn with_hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }

    /// Adds a hint when there is one.
    #[must_use]
    pub fn with_hint_opt(mut self, hint: Option<String>) -> Self {
        if hint.is_some() {
            self.hint = hint;
        }
        self
    }

    /// `file:line:column` (as much of it as is known).
    pub fn location(&self) -> Option<String> {
        let file = self.file.as_ref()?.display().to_string();
        Some(match (self.line, self.column) {
            (Some(l), Some(c)) => format!("{file}:{l}:{c}"),
            (Some(l), None) => format!("{file}:{l}"),
            _ => file,
        })
    }

    /// The `--json` form (design §4): `{"error": {"message", "file"?,
    /// "line"?, "column"?}}`; the hint is part of the message.
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::json!({ "error": self.fields_json() })
    }

    /// `{"message", "file"?, "line"?, "column"?}`, the hint part of the
    /// message: the body of [`Diagnostic::to_json`], and a warning's form.
    pub fn fields_json(&self) -> serde_json::Value {
        let mut error = serde_json::Map::new();
        let message = match &self.hint {
            Some(h) => format!("{}; {h}", self.message),
            None => self.message.clone(),
        };
        error.insert("message".into(), message.into());
        if let Some(f) = &self.file {
            error.insert("file".into(), f.display().to_string().into());
        }
        if let Some(l) = self.line {
            error.insert("line".into(), l.into());
        }
        if let Some(c) = self.column {
            error.insert("column".into(), c.into());
        }
        serde_json::Value::Object(error)
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(loc) = self.location() {
            write!(f, "{loc}: ")?;
        }
        f.write_str(&self.message)?;
        if let Some(h) = &self.hint {
            write!(f, "; {h}")?;
        }
        Ok(())
    }
}

/// Every problem found in one run, sorted by file, line and column.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Diagnostics(pub Vec<Diagnostic>);

impl Diagnostics {
    /// Records a problem.
    pub fn push(&mut self, d: Diagnostic) {
        self.0.push(d);
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn iter(&self) -> std::slice::Iter<'_, Diagnostic> {
        self.0.iter()
    }

    /// Sorts by place (general problems first) and drops exact repeats.
    pub fn sort(&mut self) {
        self.0.sort_by(|a, b| {
            (&a.file, a.line, a.column, &a.message).cmp(&(&b.file, b.line, b.column, &b.message))
        });
        self.0.dedup();
    }

    /// `Ok(value)` when nothing was recorded, else the sorted problems.
    pub fn into_result<T>(mut self, value: T) -> Result<T, Diagnostics> {
        if self.is_empty() {
            Ok(value)
        } else {
            self.sort();
            Err(self)
        }
    }
}

impl From<Diagnostic> for Diagnostics {
    fn from(d: Diagnostic) -> Self {
        Diagnostics(vec![d])
    }
}

impl std::error::Error for Diagnostic {}
impl std::error::Error for Diagnostics {}

impl fmt::Display for Diagnostics {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, d) in self.0.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{d}")?;
        }
        Ok(())
    }
}

/// "did you mean `x`?" for the known name closest to `given`, if any is
/// close enough to be a plausible typo.
pub fn did_you_mean<'a>(given: &str, known: impl IntoIterator<Item = &'a str>) -> Option<String> {
    closest(given, known).map(|k| format!("did you mean `{k}`?"))
}

/// The known name closest to `given` (Jaro-Winkler ≥ 0.8, or the same
/// letters ignoring case), if any.
pub fn closest<'a>(given: &str, known: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    let lower = given.to_lowercase();
    known
        .into_iter()
        .map(|k| {
            let score = if k.to_lowercase() == lower {
                1.0
            } else {
                strsim::jaro_winkler(given, k)
            };
            (score, k)
        })
        .filter(|(score, _)| *score >= 0.8)
        .max_by(|a, b| a.0.total_cmp(&b.0).then_with(|| b.1.cmp(a.1)))
        .map(|(_, k)| k)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_has_place_message_and_hint() {
        let d = Diagnostic::at(
            Path::new("desired-state/meters.yaml"),
            Pos {
                line: 12,
                column: 7,
            },
            "unknown field `dataFeilds` in meter",
        )
        .with_hint("did you mean `dataFields`?");
        assert_eq!(
            d.to_string(),
            "desired-state/meters.yaml:12:7: unknown field `dataFeilds` in meter; did you mean `dataFields`?"
        );
        assert_eq!(
            d.to_json(),
            serde_json::json!({"error": {
                "message": "unknown field `dataFeilds` in meter; did you mean `dataFields`?",
                "file": "desired-state/meters.yaml", "line": 12, "column": 7}})
        );
        assert_eq!(
            Diagnostic::general("x").to_json(),
            serde_json::json!({"error": {"message": "x"}})
        );
    }

    #[test]
    fn suggestions_pick_the_closest_plausible_name() {
        let known = ["dataFields", "derivedFields", "name", "code"];
        assert_eq!(closest("dataFeilds", known), Some("dataFields"));
        assert_eq!(closest("NAME", known), Some("name"));
        assert_eq!(closest("zzzz", known), None);
    }

    #[test]
    fn sorted_by_place() {
        let f = Path::new("a.yaml");
        let mut ds = Diagnostics::default();
        ds.push(Diagnostic::at(f, Pos { line: 9, column: 1 }, "late"));
        ds.push(Diagnostic::at(f, Pos { line: 2, column: 5 }, "early"));
        ds.push(Diagnostic::general("general"));
        let err = ds.into_result(()).unwrap_err();
        let msgs: Vec<_> = err.iter().map(|d| d.message.as_str()).collect();
        assert_eq!(msgs, ["general", "early", "late"]);
    }
}
