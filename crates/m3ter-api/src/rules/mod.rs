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
//! never knows which side it runs on. A rule whose reference does not
//! resolve says nothing: a dangling reference is reported elsewhere (the
//! emulator's reference check, the loader's unknown-reference diagnostic).
//!
//! Every rule and its source is listed in [`RULES`].

use serde_json::{Map, Value};

use crate::Kind;

mod account;
mod aggregation;
mod commitment;
mod currency;
mod custom_fields;
mod dates;
mod meter;
mod notification;
mod plan_group;
mod pricing;
mod scheduled_event;
mod webhook;
mod window;

#[cfg(test)]
mod fixture;

pub use currency::ISO_4217;
pub use custom_fields::{entity_type as custom_fields_entity_type, sets_governed_fields};

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
    /// The entity of `kind` whose `code` is `code`, with its reference
    /// value. Formulas name aggregations by code on both sides, so this is
    /// the lookup they need; override it where codes are indexed.
    fn by_code(&self, kind: Kind, code: &str) -> Option<(&str, &Body)> {
        self.each(kind)
            .into_iter()
            .find(|(_, b)| b.get("code").and_then(Value::as_str) == Some(code))
    }
    /// Every entity of `kind` whose string field `field` is `value`, with
    /// its reference value: what a rule comparing an entity with its
    /// siblings (the account plans of one account) needs. Override it where
    /// the field is indexed, or a rule run on every entity is quadratic.
    fn each_where(&self, kind: Kind, field: &str, value: &str) -> Vec<(&str, &Body)> {
        self.each(kind)
            .into_iter()
            .filter(|(_, b)| b.get(field).and_then(Value::as_str) == Some(value))
            .collect()
    }
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
    /// The other entities the finding is about (kind and reference value):
    /// the one a conflict is with, the pricings around a gap. An offline
    /// report points at where each is written too.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub others: Vec<(Kind, String)>,
}

impl Finding {
    pub(crate) fn error(rule: &'static str, path: impl Into<String>, message: String) -> Self {
        Finding {
            rule,
            severity: Severity::Error,
            path: path.into(),
            message,
            others: Vec::new(),
        }
    }

    /// The finding, naming `reference` of `kind` as another entity it is
    /// about (the other side of a conflict); may be called more than once.
    pub(crate) fn with_other(mut self, kind: Kind, reference: &str) -> Self {
        self.others.push((kind, reference.to_owned()));
        self
    }

    pub(crate) fn warning(rule: &'static str, path: impl Into<String>, message: String) -> Self {
        Finding {
            rule,
            severity: Severity::Warning,
            path: path.into(),
            message,
            others: Vec::new(),
        }
    }
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

/// Every rule: its [`Finding::rule`] name, severity, and where it comes
/// from (SPEC = the OpenAPI document, DOCS = m3ter's documentation, both as
/// summarised in `shared/m3ter-api.md`; OURS = a choice of this project).
pub const RULES: &[(&str, Severity, &str)] = &[
    (
        dates::END_AFTER_START,
        Severity::Error,
        "design.md §6: endDate is exclusive, so it must come after startDate",
    ),
    (
        meter::UNIQUE_CODES,
        Severity::Error,
        "SPEC: field codes identify a meter's fields in measurements and targetField",
    ),
    (
        meter::UNIT,
        Severity::Error,
        "SPEC DataField.unit: required for numeric categories (MEASURE, INCOME, COST)",
    ),
    (
        meter::DERIVED_CALCULATION,
        Severity::Error,
        "SPEC DerivedField.calculation: an expression over the meter's fields",
    ),
    (
        aggregation::TARGET_FIELD,
        Severity::Error,
        "SPEC targetField: code of a data or derived field of the meter",
    ),
    (
        aggregation::SEGMENTED_FIELDS,
        Severity::Error,
        "SPEC segmentedFields: codes of string fields of the meter",
    ),
    (
        aggregation::SEGMENTS,
        Severity::Error,
        "SPEC segments: values keyed by the segmentedFields",
    ),
    (
        aggregation::FUNCTION,
        Severity::Error,
        "SPEC aggregation: SUM..MEAN on MEASURE/INCOME/COST, UNIQUE on text fields",
    ),
    (
        aggregation::CUSTOM_SQL,
        Severity::Error,
        "SPEC aggregation CUSTOM_SQL: the query goes in customSql",
    ),
    (
        aggregation::COMPOUND_CALCULATION,
        Severity::Error,
        "SPEC CompoundAggregation.calculation: a formula over simple aggregations",
    ),
    (
        pricing::OVERAGE,
        Severity::Error,
        "SPEC overagePricingBands: tiered only, not with tiersSpanPlan",
    ),
    (
        pricing::BANDS,
        Severity::Error,
        "OURS (the issue): bands start at 0 and have distinct lowerLimits",
    ),
    (
        pricing::SEGMENT,
        Severity::Error,
        "SPEC Pricing.segment: a segment the aggregation defines, else an error",
    ),
    (
        pricing::NEGATIVE_PRICE,
        Severity::Warning,
        "SPEC sets no minimum on prices; a negative one is suspicious",
    ),
    (
        pricing::ALL_ZERO,
        Severity::Warning,
        "OURS: a pricing that charges nothing is suspicious",
    ),
    (
        currency::ISO,
        Severity::Error,
        "SPEC PlanTemplate.currency: an ISO currency code (when no currencies are declared)",
    ),
    (
        currency::KNOWN,
        Severity::Error,
        "OURS: a currency field names a currency of the org's picklist, when it has any",
    ),
    (
        plan_group::LINK_CURRENCY,
        Severity::Error,
        "OURS (the issue): a plan group's plans bill in the group's currency",
    ),
    (
        account::PARENT_LOOP,
        Severity::Error,
        "OURS: a parent chain that loops has no root to bill",
    ),
    (
        account::BESPOKE_PLAN,
        Severity::Error,
        "SPEC AccountPlan: a bespoke plan only for its own account",
    ),
    (
        custom_fields::DECLARED,
        Severity::Error,
        "DOCS custom fields: an entity-level field needs an org-level default of its name first",
    ),
    (
        commitment::OVERLAP,
        Severity::Error,
        "OURS (the issue): one commitment at a time per account, so draw-down is unambiguous",
    ),
    (
        commitment::FEE_DATES,
        Severity::Error,
        "SPEC CommitmentFee: a service period starts before it ends; OURS: fees are billed within the commitment",
    ),
    (
        account::OVERLAP,
        Severity::Error,
        "SPEC AccountPlan: one active account plan per product per account",
    ),
    (
        window::OVERLAP,
        Severity::Error,
        "DOCS pricing: one pricing per plan (or template), aggregation or counter and segment at a time",
    ),
    (
        window::GAP,
        Severity::Warning,
        "OURS: an account plan's plans price what they price for as long as it is active",
    ),
    (
        webhook::URL,
        Severity::Error,
        "SPEC WebhookDestinationRequest.url: where m3ter sends events, so an absolute http(s) URL",
    ),
    (
        scheduled_event::FIELD,
        Severity::Error,
        "SPEC ScheduledEventConfigurationRequest.field: a DateTime field of the referenced entity",
    ),
    (
        scheduled_event::NAME,
        Severity::Error,
        "SPEC ScheduledEventConfigurationRequest.name: `scheduled.<entity>.<custom event name>`",
    ),
    (
        notification::EVENT_NAME,
        Severity::Error,
        "SPEC NotificationRequest.eventName: an Event type (GET /events/types) or a scheduled event",
    ),
    (
        notification::CALCULATION,
        Severity::Error,
        "SPEC NotificationRequest.calculation, DOCS calculation engine: a boolean over the event's fields",
    ),
];

/// Every finding of every rule for `subject`, errors first.
pub fn check(subject: &Subject<'_>, catalog: &dyn Catalog) -> Vec<Finding> {
    let mut out = Vec::new();
    dates::check(subject.body, &mut out);
    custom_fields::check(subject, catalog, &mut out);
    currency::check(subject.kind, subject.body, catalog, &mut out);
    match subject.kind {
        Kind::Meter => meter::check(subject.body, &mut out),
        Kind::Aggregation => aggregation::check(subject.body, catalog, &mut out),
        Kind::CompoundAggregation => aggregation::check_compound(subject.body, catalog, &mut out),
        // Counter pricings have bands too (no overage bands nor segments).
        Kind::Pricing | Kind::CounterPricing => {
            pricing::check(subject.body, catalog, &mut out);
            window::check_overlap(subject, catalog, &mut out);
        }
        Kind::PlanGroupLink => plan_group::check_link(subject, catalog, &mut out),
        Kind::Account => account::check_parent(subject, catalog, &mut out),
        Kind::AccountPlan => {
            account::check_account_plan(subject, catalog, &mut out);
            window::check_gaps(subject, catalog, &mut out);
        }
        Kind::Commitment => commitment::check(subject, catalog, &mut out),
        Kind::Webhook => webhook::check(subject.body, &mut out),
        Kind::ScheduledEventConfiguration => scheduled_event::check(subject.body, &mut out),
        Kind::NotificationConfiguration => notification::check(subject.body, catalog, &mut out),
        // Kinds whose rules are plain have none here.
        _ => {}
    }
    out.sort_by_key(|f| f.severity);
    out
}

pub(crate) fn str_of<'a>(body: &'a Body, key: &str) -> Option<&'a str> {
    body.get(key).and_then(Value::as_str)
}

/// An entity's code for a message, or `fallback` (its reference value)
/// when it has none.
pub(crate) fn code_or<'a>(body: Option<&'a Body>, fallback: &'a str) -> &'a str {
    body.and_then(|b| str_of(b, "code")).unwrap_or(fallback)
}

/// `a, b, c` (or `(none)`): the choices a message offers.
pub(crate) fn list(items: &[&str]) -> String {
    if items.is_empty() {
        "(none)".to_owned()
    } else {
        items.join(", ")
    }
}

/// ` (did you mean `x`?)` when one candidate is a likely typo of `word`,
/// else nothing: the closest by edit distance, within a third of its length.
pub(crate) fn did_you_mean(word: &str, candidates: &[&str]) -> String {
    let best = candidates
        .iter()
        .map(|c| (edit_distance(word, c), *c))
        .filter(|(d, c)| *d > 0 && *d <= (c.chars().count() / 3).max(1))
        .min_by_key(|(d, _)| *d);
    best.map(|(_, c)| format!(" (did you mean `{c}`?)"))
        .unwrap_or_default()
}

/// ` (did you mean `X`?)` for a value outside an enum: the member it spells
/// in another case or with `:`/`-` for `_` (m3ter's documentation writes
/// permission actions `config:create` where the spec's enum has
/// `CONFIG_CREATE`), else the nearest likely typo, else nothing. The same
/// text online (the emulator's 400) and offline (`validate`).
pub(crate) fn enum_suggestion(word: &str, values: &[&str]) -> String {
    let normal = word.to_ascii_uppercase().replace([':', '-'], "_");
    if let Some(v) = values.iter().find(|v| **v == normal) {
        return format!(" (did you mean `{v}`?)");
    }
    values
        .iter()
        .map(|v| (edit_distance(&normal, &v.to_ascii_uppercase()), *v))
        .filter(|(d, v)| *d <= (v.chars().count() / 3).max(1))
        .min_by_key(|(d, _)| *d)
        .map(|(_, v)| format!(" (did you mean `{v}`?)"))
        .unwrap_or_default()
}

/// Levenshtein distance over characters.
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut diagonal = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let above = row[j + 1];
            row[j + 1] = if ca == *cb {
                diagonal
            } else {
                1 + diagonal.min(above).min(row[j])
            };
            diagonal = above;
        }
    }
    row[b.len()]
}

/// A JSON number as written (`50`, `0.5`), for messages.
pub(crate) fn num_text(v: &Value) -> String {
    v.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rule_names_are_unique() {
        let mut names: Vec<&str> = RULES.iter().map(|r| r.0).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), RULES.len());
    }

    #[test]
    fn enum_values_are_suggested_across_case_and_separators() {
        let actions = ["CONFIG_CREATE", "CONFIG_RETRIEVE", "ALL"];
        assert_eq!(
            enum_suggestion("config:create", &actions),
            " (did you mean `CONFIG_CREATE`?)"
        );
        assert_eq!(
            enum_suggestion("CONFIG_RETREIVE", &actions),
            " (did you mean `CONFIG_RETRIEVE`?)"
        );
        assert_eq!(enum_suggestion("billing:everything", &actions), "");
    }

    #[test]
    fn suggestions_only_for_near_misses() {
        let codes = ["duration_api_6", "memory_api_6", "q"];
        assert_eq!(
            did_you_mean("duraton_api_6", &codes),
            " (did you mean `duration_api_6`?)"
        );
        assert_eq!(did_you_mean("x", &codes), " (did you mean `q`?)");
        assert_eq!(did_you_mean("cpu_seconds", &codes), "");
        assert_eq!(did_you_mean("q", &codes), "");
    }
}
