//! Variables (design §3.2): declared under `variables:`, set by
//! `--var-file FILE`, `$M3TER_VAR_<NAME>` or `--var NAME=VALUE`, used as
//! `${var.NAME}` in any string.
//!
//! Precedence, lowest first: the declared default, the var files (in the
//! order given, a later file winning), the environment, `--var`.
//!
//! A variable declared `name: {sensitive: true}` holds a secret (README
//! "Secrets"): it has no default, it is never recorded in state, and it may
//! only be the whole value of a sensitive field (`crate::sensitive`).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde_json::Number;

use super::diagnostic::{Diagnostic, Diagnostics, did_you_mean};
use super::node::{At, Node, Pos, normalize_number, parse_documents};

/// Prefix of the environment variables that set declared variables.
pub const ENV_PREFIX: &str = "M3TER_VAR_";

/// Where variable values come from besides their declared defaults.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct VarInputs {
    /// `--var NAME=VALUE` options, in command-line order (a later one wins).
    pub cli: Vec<String>,
    /// Environment variables (name, value); only `M3TER_VAR_*` ones matter.
    pub env: Vec<(String, String)>,
    /// `--var-file FILE` options (YAML `name: value`), in command-line order.
    pub files: Vec<PathBuf>,
}

impl VarInputs {
    /// The `--var` options plus this process's `M3TER_VAR_*` environment.
    pub fn from_env(cli: Vec<String>) -> Self {
        let env = std::env::vars_os()
            .filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?)))
            .filter(|(k, _)| k.starts_with(ENV_PREFIX))
            .collect();
        VarInputs {
            cli,
            env,
            files: Vec::new(),
        }
    }

    /// These inputs plus `--var-file` options.
    pub fn with_files(mut self, files: Vec<PathBuf>) -> Self {
        self.files = files;
        self
    }
}

/// A value given for a variable, before it is checked against the
/// declaration: text (from `--var` or the environment), or a typed YAML
/// value from a var file.
enum Given {
    Text { text: String, origin: String },
    File { value: At<Node>, file: PathBuf },
}

/// The value of a variable: a string or a number (design §3.2).
#[derive(Debug, Clone, PartialEq)]
pub enum VarValue {
    String(String),
    Number(Number),
}

impl VarValue {
    fn as_text(&self) -> String {
        match self {
            VarValue::String(s) => s.clone(),
            VarValue::Number(n) => n.to_string(),
        }
    }

    fn into_node(self) -> Node {
        match self {
            VarValue::String(s) => Node::String(s),
            VarValue::Number(n) => Node::Number(n),
        }
    }
}

/// One `variables:` entry.
#[derive(Debug, Clone)]
pub(crate) struct Declaration {
    /// `None`: required, no default.
    default: Option<VarValue>,
    /// Declared `{sensitive: true}`.
    sensitive: bool,
    file: PathBuf,
    pos: Pos,
}

/// Variable declarations gathered from every file.
#[derive(Debug, Default)]
pub(crate) struct Declarations(BTreeMap<String, Declaration>);

impl Declarations {
    /// Reads one `variables:` mapping.
    pub(crate) fn add(&mut self, file: &Path, node: &At<Node>, diags: &mut Diagnostics) {
        let entries = match &node.value {
            Node::Map(entries) => entries,
            Node::Null => return,
            other => {
                diags.push(
                    Diagnostic::at(
                        file,
                        node.pos,
                        format!(
                            "`variables` must be a mapping of names to defaults, found {}",
                            other.describe()
                        ),
                    )
                    .with_hint("write `variables: {suffix: api_6}`"),
                );
                return;
            }
        };
        for (name, value) in entries {
            if !is_name(&name.value) {
                diags.push(Diagnostic::at(
                    file,
                    name.pos,
                    format!(
                        "`{}` is not a valid variable name: use letters, digits and `_`, not starting with a digit",
                        name.value
                    ),
                ));
                continue;
            }
            let mut sensitive = false;
            let default = match &value.value {
                Node::Map(entries) => match sensitive_declaration(file, &name.value, entries) {
                    Ok(()) => {
                        sensitive = true;
                        None
                    }
                    Err(d) => {
                        diags.push(d);
                        continue;
                    }
                },
                Node::Null => None,
                Node::String(s) => Some(VarValue::String(s.clone())),
                Node::Number(n) => Some(VarValue::Number(n.clone())),
                other => {
                    diags.push(Diagnostic::at(
                        file,
                        value.pos,
                        format!(
                            "the default of variable `{}` must be a string or a number (or null for a required variable), found {}",
                            name.value,
                            other.describe()
                        ),
                    ));
                    continue;
                }
            };
            if let Some(first) = self.0.get(&name.value) {
                diags.push(Diagnostic::at(
                    file,
                    name.pos,
                    format!(
                        "variable `{}` is declared twice: here and at {}:{}:{}",
                        name.value,
                        first.file.display(),
                        first.pos.line,
                        first.pos.column
                    ),
                ));
                continue;
            }
            self.0.insert(
                name.value.clone(),
                Declaration {
                    default,
                    sensitive,
                    file: file.to_path_buf(),
                    pos: name.pos,
                },
            );
        }
    }

    /// Chooses each variable's value: `--var`, else the environment, else
    /// the default. Reports `--var`s for undeclared variables and required
    /// variables left unset.
    pub(crate) fn resolve(&self, inputs: &VarInputs, diags: &mut Diagnostics) -> Variables {
        let mut given: BTreeMap<String, Given> = BTreeMap::new();
        // Lowest precedence first: each later layer overwrites.
        for file in &inputs.files {
            self.read_var_file(file, &mut given, diags);
        }
        for (key, value) in &inputs.env {
            if let Some(name) = key.strip_prefix(ENV_PREFIX) {
                // Unmatched M3TER_VAR_* are ignored: the environment carries
                // unrelated ones (design §3.2).
                if self.0.contains_key(name) {
                    given.insert(
                        name.to_string(),
                        Given::Text {
                            text: value.clone(),
                            origin: format!("${key}"),
                        },
                    );
                }
            }
        }
        for opt in &inputs.cli {
            let Some((name, value)) = opt.split_once('=') else {
                let name = opt.as_str();
                diags.push(
                    Diagnostic::general(format!("`--var {name}` has no value"))
                        .with_hint(format!("write `--var {name}=VALUE`")),
                );
                continue;
            };
            if !self.0.contains_key(name) {
                diags.push(
                    Diagnostic::general(format!(
                        "`--var {name}=…` sets a variable that is not declared under `variables:`"
                    ))
                    .with_hint_opt(did_you_mean(name, self.0.keys().map(String::as_str))),
                );
                continue;
            }
            given.insert(
                name.to_string(),
                Given::Text {
                    text: value.to_string(),
                    origin: format!("--var {name}"),
                },
            );
        }

        let mut values = BTreeMap::new();
        for (name, decl) in &self.0 {
            let value = match (given.remove(name), &decl.default) {
                (Some(Given::Text { text, origin }), Some(VarValue::Number(_))) => {
                    match parse_number(&text) {
                        Some(n) => VarValue::Number(n),
                        None => {
                            diags.push(Diagnostic::general(format!(
                                "variable `{name}` takes a number (its default is a number), but {origin} is not a number"
                            )));
                            continue;
                        }
                    }
                }
                (Some(Given::Text { text, .. }), _) => VarValue::String(text),
                (Some(Given::File { value, file }), default) => {
                    match file_value(name, &file, value, default.as_ref()) {
                        Ok(v) => v,
                        Err(d) => {
                            diags.push(d);
                            continue;
                        }
                    }
                }
                (None, Some(default)) => default.clone(),
                (None, None) => {
                    diags.push(
                        Diagnostic::at(
                            &decl.file,
                            decl.pos,
                            format!("variable `{name}` is required and was not given"),
                        )
                        .with_hint(format!(
                            "set it with `--var {name}=VALUE`, ${ENV_PREFIX}{name} or a --var-file"
                        )),
                    );
                    continue;
                }
            };
            values.insert(name.clone(), value);
        }
        let sensitive = self
            .0
            .iter()
            .filter(|(_, d)| d.sensitive)
            .map(|(n, _)| n.clone())
            .collect();
        Variables { values, sensitive }
    }

    /// Reads one `--var-file`: a YAML mapping of declared names to values.
    /// Its entries go into `given` (a later file overwriting an earlier one).
    fn read_var_file(
        &self,
        file: &Path,
        given: &mut BTreeMap<String, Given>,
        diags: &mut Diagnostics,
    ) {
        let text = match std::fs::read_to_string(file) {
            Ok(t) => t,
            Err(e) => {
                diags.push(
                    Diagnostic::in_file(file, format!("cannot read the --var-file: {e}"))
                        .with_hint("pass an existing YAML file of `name: value` lines"),
                );
                return;
            }
        };
        let mut docs = match parse_documents(&text) {
            Ok(d) => d,
            Err(e) => {
                let message = format!("invalid YAML in the --var-file: {}", e.message);
                diags.push(match e.pos {
                    Some(pos) => Diagnostic::at(file, pos, message),
                    None => Diagnostic::in_file(file, message),
                });
                return;
            }
        };
        if docs.len() > 1 {
            diags.push(Diagnostic::at(
                file,
                docs[1].pos,
                "a --var-file holds one YAML document (one mapping of `name: value`)",
            ));
            return;
        }
        // An empty file sets nothing.
        let Some(doc) = docs.pop() else { return };
        let entries = match doc.value {
            Node::Map(entries) => entries,
            Node::Null => return,
            other => {
                diags.push(
                    Diagnostic::at(
                        file,
                        doc.pos,
                        format!(
                            "a --var-file must be a mapping of variable names to values, found {}",
                            other.describe()
                        ),
                    )
                    .with_hint("write one `name: value` line per variable, e.g. `suffix: api_6`"),
                );
                return;
            }
        };
        for (name, value) in entries {
            if !self.0.contains_key(&name.value) {
                let hint = did_you_mean(&name.value, self.0.keys().map(String::as_str))
                    .unwrap_or_else(|| {
                        format!(
                            "declare it under `variables:` in the desired state (e.g. `{}: null`), or remove it from this file",
                            name.value
                        )
                    });
                diags.push(
                    Diagnostic::at(
                        file,
                        name.pos,
                        format!(
                            "`{}` sets a variable that is not declared under `variables:`",
                            name.value
                        ),
                    )
                    .with_hint(hint),
                );
                continue;
            }
            given.insert(
                name.value,
                Given::File {
                    value,
                    file: file.to_path_buf(),
                },
            );
        }
    }
}

/// Checks a `name: {sensitive: true}` declaration: that one key, `true`.
/// A default would be a literal secret in YAML, so there is none.
fn sensitive_declaration(
    file: &Path,
    name: &str,
    entries: &[(At<String>, At<Node>)],
) -> Result<(), Diagnostic> {
    let hint = format!(
        "write `{name}: {{sensitive: true}}` and set it with ${ENV_PREFIX}{name}, `--var {name}=…` or a --var-file"
    );
    let mut flagged = false;
    for (key, value) in entries {
        match (key.value.as_str(), &value.value) {
            ("sensitive", Node::Bool(true)) => flagged = true,
            ("default", _) => {
                return Err(Diagnostic::at(
                    file,
                    key.pos,
                    format!("sensitive variable `{name}` cannot have a default: it would be a secret written in YAML"),
                )
                .with_hint(hint));
            }
            _ => {
                return Err(Diagnostic::at(
                    file,
                    key.pos,
                    format!("a variable declared as a mapping takes only `sensitive: true`, found `{}` in `{name}`", key.value),
                )
                .with_hint(hint));
            }
        }
    }
    if flagged {
        Ok(())
    } else {
        Err(Diagnostic::at(
            file,
            entries.first().map_or(Pos::default(), |e| e.0.pos),
            format!("variable `{name}` is declared as a mapping without `sensitive: true`"),
        )
        .with_hint(hint))
    }
}

/// Checks a var file's value against the declaration: a string or a number;
/// a variable whose default is a number takes a number, one whose default
/// is a string takes a string (quote a number to pass it as text); a
/// required variable takes either, with the type written.
fn file_value(
    name: &str,
    file: &Path,
    value: At<Node>,
    default: Option<&VarValue>,
) -> Result<VarValue, Diagnostic> {
    let wrong = |want: &str, hint: &str| {
        Diagnostic::at(
            file,
            value.pos,
            format!(
                "variable `{name}` takes {want}, found {}",
                value.value.describe()
            ),
        )
        .with_hint(hint.to_string())
    };
    match (&value.value, default) {
        (Node::Number(n), None | Some(VarValue::Number(_))) => Ok(VarValue::Number(n.clone())),
        (Node::String(s), None | Some(VarValue::String(_))) => Ok(VarValue::String(s.clone())),
        (Node::String(_), Some(VarValue::Number(_))) => Err(wrong(
            "a number (its default is a number)",
            "write the number without quotes",
        )),
        (Node::Number(_), Some(VarValue::String(_))) => Err(wrong(
            "a string (its default is a string)",
            "quote the value to pass it as text",
        )),
        _ => Err(wrong(
            "a string or a number",
            "write a single string or number after the name",
        )),
    }
}

fn parse_number(text: &str) -> Option<Number> {
    let text = text.trim();
    if let Ok(i) = text.parse::<i64>() {
        return Some(i.into());
    }
    text.parse::<f64>().ok().and_then(normalize_number)
}

/// A variable name: letters, digits and `_`, not starting with a digit.
pub(crate) fn is_name(s: &str) -> bool {
    let mut chars = s.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// The resolved variable values.
#[derive(Debug, Clone, Default)]
pub struct Variables {
    values: BTreeMap<String, VarValue>,
    /// The names declared `{sensitive: true}`.
    sensitive: std::collections::BTreeSet<String>,
}

/// The result of interpolating one string.
#[derive(Debug, Clone, PartialEq)]
pub enum Interpolated {
    /// The string was exactly `${var.NAME}`: the variable's own value and type.
    Whole(VarValue),
    /// Text with every `${var.NAME}` replaced and `$${` turned into `${`.
    Text(String),
}

/// Why a string could not be interpolated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InterpolationError {
    pub message: String,
    pub hint: Option<String>,
}

impl Variables {
    /// Variables with the given values (for tests and callers that resolve
    /// values themselves).
    pub fn new(values: BTreeMap<String, VarValue>) -> Self {
        Variables {
            values,
            sensitive: Default::default(),
        }
    }

    /// The value of sensitive variable `name`: `Err` says why there is
    /// none (undeclared, or declared without `sensitive: true`).
    pub(crate) fn secret(&self, name: &str) -> Result<String, InterpolationError> {
        if !self.values.contains_key(name) {
            return Err(self
                .lookup(name)
                .err()
                .unwrap_or_else(|| InterpolationError {
                    message: format!("undefined variable `{name}`"),
                    hint: None,
                }));
        }
        if !self.sensitive.contains(name) {
            return Err(InterpolationError {
                message: format!(
                    "variable `{name}` is not declared sensitive, so its value would be shown and recorded"
                ),
                hint: Some(format!(
                    "declare it `{name}: {{sensitive: true}}` under `variables:`"
                )),
            });
        }
        Ok(self.values[name].as_text())
    }

    /// Every value as JSON (a string or a number), by name; sensitive ones
    /// are left out (they are never recorded).
    pub fn to_json(&self) -> BTreeMap<String, serde_json::Value> {
        self.values
            .iter()
            .filter(|(name, _)| !self.sensitive.contains(*name))
            .map(|(name, v)| {
                let json = match v {
                    VarValue::String(s) => serde_json::Value::String(s.clone()),
                    VarValue::Number(n) => serde_json::Value::Number(n.clone()),
                };
                (name.clone(), json)
            })
            .collect()
    }

    /// Replaces `${var.NAME}` in `s` (see [`Interpolated`]).
    pub fn interpolate(&self, s: &str) -> Result<Interpolated, InterpolationError> {
        if let Some(name) = s
            .strip_prefix("${var.")
            .and_then(|r| r.strip_suffix('}'))
            .filter(|n| is_name(n))
        {
            return self.lookup(name).map(|v| Interpolated::Whole(v.clone()));
        }
        let mut out = String::with_capacity(s.len());
        let mut rest = s;
        while let Some(i) = rest.find('$') {
            out.push_str(&rest[..i]);
            let tail = &rest[i..];
            if let Some(after) = tail.strip_prefix("$${") {
                out.push_str("${");
                rest = after;
            } else if let Some(after) = tail.strip_prefix("${") {
                let Some(end) = after.find('}') else {
                    return Err(InterpolationError {
                        message: "unclosed `${` in a string".into(),
                        hint: Some("close it with `}`, or write `$${` for a literal `${`".into()),
                    });
                };
                let inner = &after[..end];
                let name = inner
                    .strip_prefix("var.")
                    .filter(|n| is_name(n))
                    .ok_or_else(|| InterpolationError {
                        message: format!("`${{{inner}}}` is not a variable reference"),
                        hint: Some(if inner.starts_with("env.") {
                            "`${env.NAME}` is only for sensitive fields, as their whole value (README \"Secrets\"); elsewhere write `${var.NAME}`".into()
                        } else {
                            "write `${var.NAME}`, or `$${` for a literal `${`".into()
                        }),
                    })?;
                out.push_str(&self.lookup(name)?.as_text());
                rest = &after[end + 1..];
            } else {
                out.push('$');
                rest = &tail[1..];
            }
        }
        out.push_str(rest);
        Ok(Interpolated::Text(out))
    }

    fn lookup(&self, name: &str) -> Result<&VarValue, InterpolationError> {
        if self.sensitive.contains(name) {
            return Err(InterpolationError {
                message: format!(
                    "variable `{name}` is sensitive: it can only be the whole value of a sensitive field, where it is never shown"
                ),
                hint: Some(
                    "use a variable that is not sensitive here, or remove the reference".into(),
                ),
            });
        }
        self.values.get(name).ok_or_else(|| InterpolationError {
            message: format!("undefined variable `{name}`"),
            hint: did_you_mean(name, self.values.keys().map(String::as_str)).or_else(|| {
                Some(format!(
                    "declare it under `variables:` (e.g. `{name}: null`)"
                ))
            }),
        })
    }

    /// Interpolates every string value of `node` (mapping keys are field
    /// names and stay as written).
    pub(crate) fn substitute(&self, file: &Path, node: &mut At<Node>, diags: &mut Diagnostics) {
        match &mut node.value {
            Node::String(s) => match self.interpolate(s) {
                Ok(Interpolated::Whole(v)) => node.value = v.into_node(),
                Ok(Interpolated::Text(t)) => *s = t,
                Err(e) => {
                    diags.push(Diagnostic::at(file, node.pos, e.message).with_hint_opt(e.hint))
                }
            },
            Node::Seq(items) => {
                for item in items {
                    self.substitute(file, item, diags);
                }
            }
            Node::Map(entries) => {
                for (_, value) in entries {
                    self.substitute(file, value, diags);
                }
            }
            Node::Null | Node::Bool(_) | Node::Number(_) => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars() -> Variables {
        Variables::new(BTreeMap::from([
            ("suffix".to_string(), VarValue::String("api_6".into())),
            (
                "limit".to_string(),
                VarValue::Number(6_000_000_000_i64.into()),
            ),
        ]))
    }

    #[test]
    fn whole_references_keep_the_type() {
        let v = vars();
        assert_eq!(
            v.interpolate("${var.limit}").unwrap(),
            Interpolated::Whole(VarValue::Number(6_000_000_000_i64.into()))
        );
        assert_eq!(
            v.interpolate("${var.suffix}").unwrap(),
            Interpolated::Whole(VarValue::String("api_6".into()))
        );
    }

    #[test]
    fn references_inside_text_are_text() {
        let v = vars();
        assert_eq!(
            v.interpolate("meter_${var.suffix} up to ${var.limit}")
                .unwrap(),
            Interpolated::Text("meter_api_6 up to 6000000000".into())
        );
        assert_eq!(
            v.interpolate("cost $5").unwrap(),
            Interpolated::Text("cost $5".into())
        );
    }

    #[test]
    fn double_dollar_is_a_literal() {
        let v = vars();
        assert_eq!(
            v.interpolate("$${var.suffix} is ${var.suffix}").unwrap(),
            Interpolated::Text("${var.suffix} is api_6".into())
        );
    }

    #[test]
    fn undefined_and_malformed_references() {
        let v = vars();
        let e = v.interpolate("x_${var.sufix}").unwrap_err();
        assert_eq!(e.message, "undefined variable `sufix`");
        assert_eq!(e.hint.as_deref(), Some("did you mean `suffix`?"));
        let e = v.interpolate("${env.HOME}").unwrap_err();
        assert_eq!(e.message, "`${env.HOME}` is not a variable reference");
        let e = v.interpolate("${var.suffix").unwrap_err();
        assert_eq!(e.message, "unclosed `${` in a string");
    }

    fn declarations(yaml: &str) -> (Declarations, Diagnostics) {
        let doc = parse_documents(yaml).unwrap().remove(0);
        let mut d = Declarations::default();
        let mut diags = Diagnostics::default();
        d.add(Path::new("v.yaml"), &doc, &mut diags);
        (d, diags)
    }

    #[test]
    fn cli_beats_env_beats_default_and_numbers_stay_numbers() {
        let (d, diags) = declarations("suffix: api_6\nlimit: 10\nother: x\n");
        assert!(diags.is_empty());
        let inputs = VarInputs {
            cli: vec!["suffix=cli".into(), "limit=2.5".into()],
            env: vec![
                ("M3TER_VAR_suffix".into(), "env".into()),
                ("M3TER_VAR_other".into(), "from-env".into()),
                ("M3TER_VAR_unrelated".into(), "ignored".into()),
                ("M3TER_VAR_SUFFIX".into(), "wrong case".into()),
            ],
            files: vec![],
        };
        let mut diags = Diagnostics::default();
        let v = d.resolve(&inputs, &mut diags);
        assert!(diags.is_empty(), "{diags}");
        assert_eq!(
            v.interpolate("${var.suffix}/${var.other}").unwrap(),
            Interpolated::Text("cli/from-env".into())
        );
        assert_eq!(
            v.interpolate("${var.limit}").unwrap(),
            Interpolated::Whole(VarValue::Number(Number::from_f64(2.5).unwrap()))
        );
    }

    #[test]
    fn declaration_and_input_errors() {
        let (d, diags) = declarations("needed: null\nlimit: 10\n");
        assert!(diags.is_empty());
        let inputs = VarInputs {
            cli: vec!["neded=1".into(), "limit=lots".into(), "novalue".into()],
            env: vec![],
            files: vec![],
        };
        let mut diags = Diagnostics::default();
        d.resolve(&inputs, &mut diags);
        let text: Vec<String> = diags.iter().map(ToString::to_string).collect();
        assert_eq!(
            text,
            [
                "`--var neded=…` sets a variable that is not declared under `variables:`; did you mean `needed`?",
                "`--var novalue` has no value; write `--var novalue=VALUE`",
                "variable `limit` takes a number (its default is a number), but --var limit is not a number",
                "v.yaml:1:1: variable `needed` is required and was not given; set it with `--var needed=VALUE`, $M3TER_VAR_needed or a --var-file",
            ]
        );
    }

    #[test]
    fn sensitive_variables_are_never_recorded_nor_interpolated() {
        let (d, diags) = declarations("key: {sensitive: true}\nsuffix: api_6\n");
        assert!(diags.is_empty(), "{diags}");
        let inputs = VarInputs {
            cli: vec!["key=s3cr3t".into()],
            env: vec![],
            files: vec![],
        };
        let mut diags = Diagnostics::default();
        let v = d.resolve(&inputs, &mut diags);
        assert!(diags.is_empty(), "{diags}");
        assert_eq!(v.secret("key").unwrap(), "s3cr3t");
        assert!(v.secret("suffix").is_err());
        assert_eq!(v.to_json().keys().collect::<Vec<_>>(), ["suffix"]);
        let e = v.interpolate("name ${var.key}").unwrap_err();
        assert!(
            e.message.starts_with("variable `key` is sensitive"),
            "{}",
            e.message
        );
        assert!(!e.message.contains("s3cr3t"));
    }

    #[test]
    fn sensitive_declarations_take_no_default() {
        for (yaml, want) in [
            (
                "k: {sensitive: true, default: x}\n",
                "sensitive variable `k` cannot have a default",
            ),
            ("k: {secret: true}\n", "takes only `sensitive: true`"),
            ("k: {sensitive: false}\n", "takes only `sensitive: true`"),
        ] {
            let (_, diags) = declarations(yaml);
            let text = diags.to_string();
            assert!(text.contains(want), "{yaml}: {text}");
            assert!(!text.contains("x;"), "{text}");
        }
    }

    #[test]
    fn a_variable_declared_twice_names_both_places() {
        let mut d = Declarations::default();
        let mut diags = Diagnostics::default();
        let a = parse_documents("suffix: a\n").unwrap().remove(0);
        let b = parse_documents("\nsuffix: b\n").unwrap().remove(0);
        d.add(Path::new("a.yaml"), &a, &mut diags);
        d.add(Path::new("b.yaml"), &b, &mut diags);
        assert_eq!(
            diags.iter().map(ToString::to_string).collect::<Vec<_>>(),
            ["b.yaml:2:1: variable `suffix` is declared twice: here and at a.yaml:1:1"]
        );
    }
}
