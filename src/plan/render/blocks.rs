//! A value, or a change of one, as Terraform-like nested blocks: objects as
//! `{ name = value }`, arrays as `[ element, ]`, multi-line strings as
//! heredocs diffed line by line, and a `+`/`-`/`~` marker on every line
//! that is added, removed or changed (unchanged context carries none).
//!
//! ```text
//!       ~ pricingBands = [
//!             {
//!                 fixedPrice = 0
//!                 lowerLimit = 0
//!             },
//!           ~ {
//!                 lowerLimit = 100
//!               ~ unitPrice  = 0.5 -> 0.4
//!             },
//!         ]
//! ```
//!
//! Pure: lines are produced here and painted by the caller.

use std::collections::BTreeSet;

use serde_json::Value;
use similar::{Algorithm, ChangeTag, DiffTag, TextDiff, capture_diff_slices};

/// What happens to the thing a line shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Mark {
    Add,
    Remove,
    Change,
    /// Unchanged context: no marker.
    Same,
}

impl Mark {
    /// The plan symbol, if the line has one.
    pub(crate) fn symbol(self) -> Option<&'static str> {
        match self {
            Mark::Add => Some("+"),
            Mark::Remove => Some("-"),
            Mark::Change => Some("~"),
            Mark::Same => None,
        }
    }
}

/// One line of an entity block's body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Line {
    /// Nesting below the entity: 0 for its own attributes, each block
    /// level one more. The marker sits at column `4 * depth + 6`, the text
    /// two columns later, under the text of an unmarked line.
    pub depth: usize,
    pub mark: Mark,
    pub text: String,
}

impl Line {
    /// The line as text, its marker written by `symbol` (which may paint
    /// it); trailing blanks dropped.
    pub(crate) fn render(&self, symbol: impl Fn(&str) -> String) -> String {
        let marker = self.mark.symbol().map_or_else(|| " ".to_string(), symbol);
        let line = format!("{}{marker} {}", " ".repeat(4 * self.depth + 6), self.text);
        line.trim_end().to_string()
    }
}

/// Name and alignment width of an attribute line (`name = value`).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Label<'a> {
    pub name: &'a str,
    /// The attribute names of one block are padded to this many
    /// characters, so that their `=` line up.
    pub width: usize,
}

/// The lines of one attribute (with a label) or array element (without)
/// going from `before` to `after` (`None` or null = absent): all `+` when
/// only `after` exists, all `-` when only `before` does, unmarked when
/// they are equal, field by field and element by element otherwise.
/// `bare` writes a string `after` (or the `before` of a removal) without
/// quotes (a reference shown as the target's address).
pub(crate) fn entry(
    depth: usize,
    label: Option<Label<'_>>,
    before: Option<&Value>,
    after: Option<&Value>,
    bare: bool,
) -> Vec<Line> {
    let before = before.filter(|v| !v.is_null());
    let after = after.filter(|v| !v.is_null());
    let mark = match (before, after) {
        (None, Some(_)) => Mark::Add,
        (Some(_), None) => Mark::Remove,
        (Some(b), Some(a)) if b != a => Mark::Change,
        _ => Mark::Same,
    };
    let (first, rest) = match (mark, before, after) {
        (Mark::Change, Some(b), Some(a)) if !same_shape(b, a) => {
            // A list that became a string, say: nothing to pair up, so the
            // old value goes and the new one comes.
            let mut lines = entry(depth, label, Some(b), None, false);
            lines.extend(entry(depth, label, None, Some(a), bare));
            return lines;
        }
        (Mark::Change, Some(b), Some(a)) => changed(depth, b, a, bare),
        (Mark::Remove, v, _) => whole(depth, v, mark, bare),
        (_, _, v) => whole(depth, v, mark, bare),
    };
    let text = match label {
        Some(l) => format!("{:w$} = {first}", l.name, w = l.width),
        None => first,
    };
    let mut lines = vec![Line { depth, mark, text }];
    lines.extend(rest);
    lines
}

/// A key as written: bare when it is a plain name, else quoted.
pub(crate) fn key_text(k: &str) -> String {
    let plain = k
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && k.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    if plain {
        k.to_string()
    } else {
        Value::String(k.to_string()).to_string()
    }
}

/// A scalar as text: JSON, or a bare string when asked.
fn scalar(v: &Value, bare: bool) -> String {
    match v {
        Value::String(s) if bare => s.clone(),
        other => other.to_string(),
    }
}

fn same_shape(a: &Value, b: &Value) -> bool {
    let shape = |v: &Value| match v {
        Value::Object(_) => 1,
        Value::Array(_) => 2,
        _ => 0,
    };
    shape(a) == shape(b)
}

fn multi_line(v: &Value) -> Option<&str> {
    v.as_str().filter(|s| s.contains('\n'))
}

/// The closing line of a block opened at `depth`.
fn close(depth: usize, text: &str) -> Line {
    Line {
        depth,
        mark: Mark::Same,
        text: text.to_string(),
    }
}

/// The attributes of an object, their names aligned.
fn attributes<'a>(
    depth: usize,
    keys: impl IntoIterator<Item = &'a String>,
    side: impl Fn(&str) -> (Option<&'a Value>, Option<&'a Value>),
) -> Vec<Line> {
    let names: Vec<(&String, String)> = keys.into_iter().map(|k| (k, key_text(k))).collect();
    let width = names
        .iter()
        .map(|(_, n)| n.chars().count())
        .max()
        .unwrap_or(0);
    let mut lines = Vec::new();
    for (key, name) in &names {
        let (b, a) = side(key);
        let label = Label { name, width };
        lines.extend(entry(depth, Some(label), b, a, false));
    }
    lines
}

/// An array element: an entry with a trailing comma.
fn element(depth: usize, before: Option<&Value>, after: Option<&Value>) -> Vec<Line> {
    let mut lines = entry(depth, None, before, after, false);
    if let Some(last) = lines.last_mut() {
        last.text.push(',');
    }
    lines
}

/// A value shown whole, every line with `mark`: the text that follows
/// `name = ` and the lines after it.
fn whole(depth: usize, v: Option<&Value>, mark: Mark, bare: bool) -> (String, Vec<Line>) {
    let Some(v) = v else {
        return ("null".into(), Vec::new());
    };
    let sides = |c| sides(mark, c);
    match v {
        Value::String(s) if s.contains('\n') => heredoc(depth, s.lines().map(|l| (mark, l))),
        Value::Object(o) if !o.is_empty() => {
            let mut rest = attributes(depth + 1, o.keys(), |k| sides(&o[k]));
            rest.push(close(depth, "}"));
            ("{".into(), rest)
        }
        Value::Array(items) if !items.is_empty() => {
            let mut rest = Vec::new();
            for it in items {
                let (b, a) = sides(it);
                rest.extend(element(depth + 1, b, a));
            }
            rest.push(close(depth, "]"));
            ("[".into(), rest)
        }
        other => (scalar(other, bare), Vec::new()),
    }
}

/// A value on the side(s) `mark` says it is on.
fn sides(mark: Mark, v: &Value) -> (Option<&Value>, Option<&Value>) {
    match mark {
        Mark::Add => (None, Some(v)),
        Mark::Remove => (Some(v), None),
        Mark::Change | Mark::Same => (Some(v), Some(v)),
    }
}

/// Two different values of the same shape, compared part by part.
fn changed(depth: usize, b: &Value, a: &Value, bare: bool) -> (String, Vec<Line>) {
    match (b, a) {
        (Value::Object(bo), Value::Object(ao)) => {
            let keys: BTreeSet<&String> = bo.keys().chain(ao.keys()).collect();
            let mut rest = attributes(depth + 1, keys, |k| (bo.get(k), ao.get(k)));
            rest.push(close(depth, "}"));
            ("{".into(), rest)
        }
        (Value::Array(bs), Value::Array(as_)) => {
            let mut rest = elements(depth + 1, bs, as_);
            rest.push(close(depth, "]"));
            ("[".into(), rest)
        }
        (Value::String(x), Value::String(y))
            if multi_line(b).is_some() || multi_line(a).is_some() =>
        {
            let diff = TextDiff::from_lines(x.as_str(), y.as_str());
            let lines: Vec<(Mark, String)> = diff
                .iter_all_changes()
                .map(|c| {
                    let mark = match c.tag() {
                        ChangeTag::Equal => Mark::Same,
                        ChangeTag::Delete => Mark::Remove,
                        ChangeTag::Insert => Mark::Add,
                    };
                    (mark, c.value().trim_end_matches('\n').to_string())
                })
                .collect();
            heredoc(depth, lines.iter().map(|(m, l)| (*m, l.as_str())))
        }
        _ => (
            format!("{} -> {}", scalar(b, false), scalar(a, bare)),
            Vec::new(),
        ),
    }
}

/// The elements of two arrays, matched by a longest common subsequence of
/// equal elements; where the arrays differ, objects at the same place are
/// compared field by field (a pricing band whose price changed is one `~`
/// element), anything else is removed and added.
fn elements(depth: usize, before: &[Value], after: &[Value]) -> Vec<Line> {
    let key = |v: &Value| v.to_string();
    let (bk, ak): (Vec<String>, Vec<String>) = (
        before.iter().map(key).collect(),
        after.iter().map(key).collect(),
    );
    let mut lines = Vec::new();
    for op in capture_diff_slices(Algorithm::Myers, &bk, &ak) {
        let (tag, old, new) = op.as_tag_tuple();
        let (old, new) = (&before[old], &after[new]);
        match tag {
            DiffTag::Equal => {
                for (b, a) in old.iter().zip(new) {
                    lines.extend(element(depth, Some(b), Some(a)));
                }
            }
            DiffTag::Delete | DiffTag::Insert | DiffTag::Replace => {
                let (mut gone, mut came) = (Vec::new(), Vec::new());
                for i in 0..old.len().max(new.len()) {
                    match (old.get(i), new.get(i)) {
                        (Some(b), Some(a)) if b.is_object() && a.is_object() => {
                            lines.extend(element(depth, Some(b), Some(a)));
                        }
                        (b, a) => {
                            gone.extend(b);
                            came.extend(a);
                        }
                    }
                }
                for b in gone {
                    lines.extend(element(depth, Some(b), None));
                }
                for a in came {
                    lines.extend(element(depth, None, Some(a)));
                }
            }
        }
    }
    lines
}

/// `<<-EOT`, the lines one level deeper with their marks, `EOT`.
fn heredoc<'a>(depth: usize, lines: impl Iterator<Item = (Mark, &'a str)>) -> (String, Vec<Line>) {
    let mut rest: Vec<Line> = lines
        .map(|(mark, text)| Line {
            depth: depth + 1,
            mark,
            text: text.to_string(),
        })
        .collect();
    rest.push(close(depth, "EOT"));
    ("<<-EOT".into(), rest)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn text(lines: &[Line]) -> String {
        lines
            .iter()
            .map(|l| l.render(str::to_string))
            .collect::<Vec<_>>()
            .join("\n")
    }

    fn label(name: &str) -> Option<Label<'_>> {
        Some(Label {
            name,
            width: name.len(),
        })
    }

    #[test]
    fn a_changed_band_is_one_changed_element_with_its_changed_field() {
        let before =
            json!([{"lowerLimit": 0, "unitPrice": 1}, {"lowerLimit": 100, "unitPrice": 0.5}]);
        let after =
            json!([{"lowerLimit": 0, "unitPrice": 1}, {"lowerLimit": 100, "unitPrice": 0.4}]);
        let lines = entry(0, label("bands"), Some(&before), Some(&after), false);
        assert_eq!(
            text(&lines),
            [
                "      ~ bands = [",
                "            {",
                "                lowerLimit = 0",
                "                unitPrice  = 1",
                "            },",
                "          ~ {",
                "                lowerLimit = 100",
                "              ~ unitPrice  = 0.5 -> 0.4",
                "            },",
                "        ]",
            ]
            .join("\n")
        );
    }

    #[test]
    fn scalar_elements_are_removed_and_added_and_odd_keys_quoted() {
        let lines = entry(
            1,
            label("m"),
            Some(&json!({"a b": ["x", "y"]})),
            Some(&json!({"a b": ["x", "z"], "n": 1})),
            false,
        );
        assert_eq!(
            text(&lines),
            [
                "          ~ m = {",
                "              ~ \"a b\" = [",
                "                    \"x\",",
                "                  - \"y\",",
                "                  + \"z\",",
                "                ]",
                "              + n     = 1",
                "            }",
            ]
            .join("\n")
        );
    }

    #[test]
    fn a_change_of_shape_removes_the_old_value_and_adds_the_new() {
        let lines = entry(0, label("v"), Some(&json!("s")), Some(&json!([1])), false);
        assert_eq!(
            text(&lines),
            [
                "      - v = \"s\"",
                "      + v = [",
                "          + 1,",
                "        ]"
            ]
            .join("\n")
        );
    }

    #[test]
    fn references_are_bare_and_empty_values_inline() {
        let lines = entry(0, label("product"), None, Some(&json!("product.p")), true);
        assert_eq!(text(&lines), "      + product = product.p");
        let lines = entry(0, label("d"), None, Some(&json!([])), false);
        assert_eq!(text(&lines), "      + d = []");
    }
}
