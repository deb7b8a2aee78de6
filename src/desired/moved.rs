//! `moved:` entries (Terraform's `moved` blocks): `{from: ADDR, to: ADDR}`
//! says the entity managed as `from` is now written as `to`, so a code
//! change plans an update of the same live entity instead of a delete and a
//! create. The planner re-keys the state; apply saves it re-keyed.
//!
//! Rules, checked at load with file:line:column:
//! - `from` and `to` are addresses of one kind;
//! - `to` is in the desired state and `from` is not;
//! - each `from` is moved once, and each `to` is the target of one entry.
//!
//! Chains (`a -> b`, `b -> c`) and cycles cannot pass these rules: their
//! middle address would have to be desired (as a `to`) and not (as a
//! `from`). So what a move does is always readable from one entry; write
//! `a -> c` instead of a chain.
//!
//! An entry whose `from` is not in state does nothing, so it can stay in
//! the YAML after the apply that used it.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::diagnostic::{Diagnostic, Diagnostics};
use super::node::{At, Node};
use super::{DesiredEntity, Source};
use crate::address::Address;

/// Top-level key of the section.
pub(crate) const SECTION: &str = "moved";

/// One checked `moved:` entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MovedEntry {
    pub from: Address,
    pub to: Address,
    /// Where the entry was written; absent for entries read from a plan.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<Source>,
}

/// The entries of every `moved:` section as written, before checking.
#[derive(Debug, Default)]
pub(crate) struct Written(Vec<(PathBuf, At<Node>)>);

impl Written {
    /// Takes one `moved:` section: a list of entries.
    pub(crate) fn add(&mut self, file: &Path, section: At<Node>, diags: &mut Diagnostics) {
        match section.value {
            Node::Null => {}
            Node::Seq(items) => self
                .0
                .extend(items.into_iter().map(|n| (file.to_path_buf(), n))),
            other => diags.push(
                Diagnostic::at(
                    file,
                    section.pos,
                    format!(
                        "`moved` must be a list of `{{from: ADDR, to: ADDR}}` entries, found {}",
                        other.describe()
                    ),
                )
                .with_hint(
                    "write `moved:` then `  - {from: product.old_code, to: product.new_code}`",
                ),
            ),
        }
    }

    /// The entries, each with its file, for variable substitution.
    pub(crate) fn nodes_mut(&mut self) -> impl Iterator<Item = (&Path, &mut At<Node>)> {
        self.0.iter_mut().map(|(f, n)| (f.as_path(), n))
    }

    /// Checks every entry against the desired entities (see the module docs).
    pub(crate) fn check(
        self,
        entities: &BTreeMap<Address, DesiredEntity>,
        diags: &mut Diagnostics,
    ) -> Vec<MovedEntry> {
        let mut out: Vec<MovedEntry> = Vec::new();
        for (file, node) in self.0 {
            let Some(entry) = entry(&file, &node, entities, diags) else {
                continue;
            };
            let at = |m: &MovedEntry| {
                m.source
                    .as_ref()
                    .map_or_else(String::new, |s| s.to_string())
            };
            if let Some(first) = out.iter().find(|m| m.from == entry.from) {
                diags.push(Diagnostic::at(
                    &file,
                    node.pos,
                    format!("{} is moved twice: here and at {}", entry.from, at(first)),
                ));
                continue;
            }
            if let Some(first) = out.iter().find(|m| m.to == entry.to) {
                diags.push(Diagnostic::at(
                    &file,
                    node.pos,
                    format!(
                        "two entries move to {}: from {} here and from {} at {}; one entity has one address",
                        entry.to,
                        entry.from,
                        first.from,
                        at(first)
                    ),
                ));
                continue;
            }
            out.push(entry);
        }
        out
    }
}

/// One entry: a mapping of `from` and `to`, addresses of one kind, `to`
/// desired and `from` not.
fn entry(
    file: &Path,
    node: &At<Node>,
    entities: &BTreeMap<Address, DesiredEntity>,
    diags: &mut Diagnostics,
) -> Option<MovedEntry> {
    let Node::Map(fields) = &node.value else {
        diags.push(
            Diagnostic::at(
                file,
                node.pos,
                format!(
                    "a `moved` entry must be a mapping with `from` and `to`, found {}",
                    node.value.describe()
                ),
            )
            .with_hint("write `- {from: product.old_code, to: product.new_code}`"),
        );
        return None;
    };
    let mut from = None;
    let mut to = None;
    let mut ok = true;
    for (key, value) in fields {
        let slot = match key.value.as_str() {
            "from" => &mut from,
            "to" => &mut to,
            other => {
                diags.push(
                    Diagnostic::at(
                        file,
                        key.pos,
                        format!("unknown key `{other}` in a `moved` entry"),
                    )
                    .with_hint("a `moved` entry has only `from` and `to`"),
                );
                ok = false;
                continue;
            }
        };
        let Node::String(text) = &value.value else {
            diags.push(Diagnostic::at(
                file,
                value.pos,
                format!(
                    "`{}` must be an address such as `product.old_code`, found {}",
                    key.value,
                    value.value.describe()
                ),
            ));
            ok = false;
            continue;
        };
        match text.parse::<Address>() {
            Ok(a) => *slot = Some((a, value.pos)),
            Err(e) => {
                diags.push(Diagnostic::at(
                    file,
                    value.pos,
                    format!("`{}`: {e}", key.value),
                ));
                ok = false;
            }
        }
    }
    if !ok {
        return None;
    }
    let (Some((from, from_pos)), Some((to, to_pos))) = (from, to) else {
        diags.push(
            Diagnostic::at(file, node.pos, "a `moved` entry needs both `from` and `to`")
                .with_hint("write `- {from: product.old_code, to: product.new_code}`"),
        );
        return None;
    };
    if from.kind != to.kind {
        diags.push(Diagnostic::at(
            file,
            to_pos,
            format!(
                "`to` is a {} but `from` is a {}: a move keeps the kind (an entity cannot become another kind)",
                to.kind, from.kind
            ),
        ));
        return None;
    }
    if from == to {
        diags.push(Diagnostic::at(
            file,
            to_pos,
            format!("{from} is moved to itself"),
        ));
        return None;
    }
    if !entities.contains_key(&to) {
        diags.push(
            Diagnostic::at(
                file,
                to_pos,
                format!("`to` is {to}, which is not in the desired state"),
            )
            .with_hint("`to` names the entity's new address as the YAML now writes it"),
        );
        return None;
    }
    if entities.contains_key(&from) {
        diags.push(
            Diagnostic::at(
                file,
                from_pos,
                format!("`from` is {from}, which is still in the desired state"),
            )
            .with_hint(
                "`from` is the old address; remove the entity written under it, or this entry",
            ),
        );
        return None;
    }
    Some(MovedEntry {
        from,
        to,
        source: Some(Source {
            file: file.to_path_buf(),
            line: node.pos.line,
            column: node.pos.column,
        }),
    })
}
