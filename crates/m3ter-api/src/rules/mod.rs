//! The cross-field and cross-entity rules of the config kinds, written once
//! as functions over entities and used on both sides of the wire:
//!
//! - online, the emulator checks every create and update body against the
//!   store (references are UUIDs) and answers 400 with the message;
//! - offline, `validate`, `plan` and `apply` check every desired entity
//!   against the rest of the desired state (references are codes) and report
//!   `file:line:column` before any request is sent.
//!
//! Field-level checks (types, lengths, enums, required fields) are
//! [`crate::validate`]; this module is what needs more than one field, or
//! more than one entity. A rule sees the world through a [`Catalog`], so it
//! never knows which side it runs on.

use serde_json::{Map, Value};

use crate::Kind;

/// A request body under its API field names.
pub type Body = Map<String, Value>;

/// How a rule finds the entities around the one it checks.
///
/// A *reference value* is what a reference field holds: a UUID online, the
/// target's key (its code) offline. Rules compare and look up reference
/// values only through this trait.
pub trait Catalog {
    /// The entity of `kind` that the reference value `reference` names.
    fn get(&self, kind: Kind, reference: &str) -> Option<&Body>;
    /// Every entity of `kind`, each with the reference value that names it.
    fn each(&self, kind: Kind) -> Vec<(&str, &Body)>;
}

/// Whether a finding stops the change or only deserves a look.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// The API refuses the change (online: 400).
    Error,
    /// Legal but suspicious (a negative unit price); reported, not refused.
    Warning,
}

/// One broken rule.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Finding {
    /// Stable name of the rule, e.g. `aggregation.targetField`.
    pub rule: &'static str,
    pub severity: Severity,
    /// The field the finding is about, in API names with indexes:
    /// `targetField`, `pricingBands[1].lowerLimit`, `dataFields[2].code`.
    /// Empty when it is about the entity as a whole.
    pub path: String,
    /// What is wrong and how to fix it, naming entities by code.
    pub message: String,
}

/// The entity being checked.
#[derive(Debug, Clone, Copy)]
pub struct Subject<'a> {
    pub kind: Kind,
    /// The body as it will be stored (create, or full replacement).
    pub body: &'a Body,
    /// The reference value that names this entity, when it exists already
    /// (online: its id on update; offline: its key). Rules that compare an
    /// entity with its siblings skip this one.
    pub own: Option<&'a str>,
}

/// Every finding of every rule for `subject`, errors first.
pub fn check(subject: &Subject<'_>, catalog: &dyn Catalog) -> Vec<Finding> {
    let _ = (subject, catalog);
    Vec::new()
}
