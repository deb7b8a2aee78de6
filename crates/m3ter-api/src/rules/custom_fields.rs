//! Entity-level custom fields need an org-level default of the same name
//! (DOCS, the SDK's `custom_fields.py`: "The Organizational level field
//! provides a default value and *must be added* if you want to also add a
//! Custom Field of the same name at the corresponding individual entity
//! level").
//!
//! The org-level defaults are the `customFields` singleton, one map per
//! entity type, keyed by the kind's name (`account`, `planTemplate`, …).
//! The rule holds only where those defaults are known: offline, when the
//! desired state declares `customFields`; online, once the org has written
//! them. Before that, nothing is checked, so an org (or a desired state)
//! that never touches org-level custom fields keeps working as it did.
//! Kinds without an org-level map (plan groups, balances, …) may set
//! custom fields freely, as m3ter allows.

use super::{Body, Catalog, Finding, Subject, did_you_mean, list};
use crate::Kind;

pub(crate) const DECLARED: &str = "customFields.declared";

/// The key of `kind`'s map in the org-level `customFields`, when m3ter
/// keeps org-level custom fields for it.
pub fn entity_type(kind: Kind) -> Option<&'static str> {
    Kind::CustomFields.field(kind.name()).map(|f| f.name)
}

pub(crate) fn check(subject: &Subject<'_>, catalog: &dyn Catalog, out: &mut Vec<Finding>) {
    let Some(set) = subject.body.get("customFields").and_then(|v| v.as_object()) else {
        return;
    };
    let Some(entity_type) = entity_type(subject.kind) else {
        return;
    };
    let Some((_, org)) = catalog.each(Kind::CustomFields).into_iter().next() else {
        return;
    };
    let declared: Vec<&str> = org
        .get(entity_type)
        .and_then(|v| v.as_object())
        .map(|m| m.keys().map(String::as_str).collect())
        .unwrap_or_default();
    for name in set.keys() {
        if declared.contains(&name.as_str()) {
            continue;
        }
        out.push(Finding::error(
            DECLARED,
            format!("customFields.{name}"),
            format!(
                "custom field `{name}` is not declared at org level{}: m3ter requires an org-level default first, so add `{name}` to `customFields.{entity_type}` (declared there: {})",
                did_you_mean(name, &declared),
                list(&declared)
            ),
        ));
    }
}

/// Whether `body` (of `kind`) sets custom fields that the org-level
/// `customFields` governs: the loader orders such an entity after
/// `customFields`, so the org-level default is written first.
pub fn sets_governed_fields(kind: Kind, body: &Body) -> bool {
    entity_type(kind).is_some()
        && body
            .get("customFields")
            .and_then(|v| v.as_object())
            .is_some_and(|m| !m.is_empty())
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use crate::Kind;
    use crate::rules::fixture::{Fixture, body};

    #[test]
    fn entity_custom_fields_are_declared_at_org_level() {
        let account = body(json!({"code": "a", "customFields": {"tier": "gold", "regoin": "eu"}}));
        // No org-level defaults known: nothing to check against.
        assert_eq!(Fixture::default().render(Kind::Account, &account), "");
        let f = Fixture::default().with(
            Kind::CustomFields,
            "customFields",
            json!({"account": {"tier": "silver", "region": "us"}, "meter": {"unit": "x"}}),
        );
        let declared = body(json!({"code": "a", "customFields": {"tier": "gold"}}));
        assert_eq!(f.render(Kind::Account, &declared), "");
        // A kind without an org-level map is not governed.
        assert_eq!(
            f.render(Kind::Counter, &body(json!({"customFields": {"any": 1}}))),
            ""
        );
        insta::assert_snapshot!(
            f.render(Kind::Account, &account)
                + &f.render(Kind::Product, &body(json!({"customFields": {"team": "x"}})))
        );
    }
}
