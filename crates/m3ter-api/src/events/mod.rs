//! m3ter's event types and the fields of each: what a notification's
//! `eventName` may name and its `calculation` may use, and the date fields a
//! scheduled event configuration may be based on. The emulator serves them
//! as `GET /events/types` and `GET /events/fields`.
//!
//! The data ([`catalog`]) is generated from the OpenAPI document by
//! `scripts/gen-event-catalog.py`: the event types are the spec's list, and
//! an entity's event fields are its response schema's properties (the spec
//! documents one payload, `configuration.commitment.created`, and it matches
//! them). Two things are decisions of this project, not the spec's
//! (docs/emulator.md "Events"): an `updated` event has both `new.` and
//! `old.` fields, a `created` one `new.` only and a `deleted` one `old.`
//! only (the spec's description of `/events/fields`); and a scheduled
//! event's fields are its entity's, under `new.`.

mod catalog;

/// The type of an event field, as `GET /events/fields` names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum FieldType {
    String,
    Int,
    Long,
    Double,
    Boolean,
    Array,
    Map,
}

impl FieldType {
    /// The name `GET /events/fields` gives the type (`double`).
    pub fn as_str(self) -> &'static str {
        match self {
            FieldType::String => "string",
            FieldType::Int => "int",
            FieldType::Long => "long",
            FieldType::Double => "double",
            FieldType::Boolean => "boolean",
            FieldType::Array => "array",
            FieldType::Map => "map",
        }
    }
}

/// The created/updated/deleted events of one entity.
#[derive(Debug)]
pub(crate) struct EntityEvents {
    /// `configuration.commitment`.
    prefix: &'static str,
    /// The entity's name in the API (`Commitment`), when the spec has its
    /// response schema.
    entity: Option<&'static str>,
    /// Its fields: name, type, and whether it holds a date or date-time.
    fields: Option<&'static [(&'static str, FieldType, bool)]>,
}

const ACTIONS: [&str; 3] = ["created", "deleted", "updated"];

/// What is known of an event type's fields.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fields {
    /// The documented fields (`new.amount`), sorted.
    Known(Vec<(String, FieldType)>),
    /// A type whose payload the spec does not document: a calculation on
    /// it is parsed, but the fields it names are not checked.
    Undocumented,
}

/// Every system event type, in the spec's order (`GET /events/types`).
pub fn event_types() -> Vec<String> {
    let mut out: Vec<String> = catalog::ENTITIES
        .iter()
        .flat_map(|e| ACTIONS.iter().map(move |a| format!("{}.{a}", e.prefix)))
        .collect();
    out.extend(catalog::OTHER_EVENTS.iter().map(|s| (*s).to_owned()));
    out
}

/// The fields of system event type `event`, or `None` when m3ter has no
/// such type.
pub fn fields(event: &str) -> Option<Fields> {
    if catalog::OTHER_EVENTS.contains(&event) {
        return Some(Fields::Undocumented);
    }
    let (prefix, action) = event.rsplit_once('.')?;
    let sides: &[&str] = match action {
        "created" => &["new"],
        "updated" => &["new", "old"],
        "deleted" => &["old"],
        _ => return None,
    };
    let entity = catalog::ENTITIES.iter().find(|e| e.prefix == prefix)?;
    let Some(fields) = entity.fields else {
        return Some(Fields::Undocumented);
    };
    Some(Fields::Known(prefixed(sides, fields)))
}

/// The fields of a scheduled event on entity `entity` (`Bill`): the
/// entity's, under `new.`.
pub fn scheduled_fields(entity: &str) -> Option<Vec<(String, FieldType)>> {
    let fields = entity_fields(entity)?;
    Some(prefixed(&["new"], fields))
}

fn prefixed(sides: &[&str], fields: &[(&str, FieldType, bool)]) -> Vec<(String, FieldType)> {
    let mut out: Vec<(String, FieldType)> = sides
        .iter()
        .flat_map(|side| {
            fields
                .iter()
                .map(move |(n, t, _)| (format!("{side}.{n}"), *t))
        })
        .collect();
    out.sort();
    out
}

fn entity_fields(entity: &str) -> Option<&'static [(&'static str, FieldType, bool)]> {
    catalog::ENTITIES
        .iter()
        .find(|e| e.entity == Some(entity))
        .and_then(|e| e.fields)
}

/// The entities a scheduled event may be based on: those with a date
/// field, in the spec's order (`Bill`, …).
pub fn scheduled_entities() -> Vec<&'static str> {
    catalog::ENTITIES
        .iter()
        .filter(|e| e.fields.is_some_and(|f| f.iter().any(|(_, _, date)| *date)))
        .filter_map(|e| e.entity)
        .collect()
}

/// The date and date-time fields of `entity`, or `None` when it is not an
/// entity a scheduled event may be based on.
pub fn date_fields(entity: &str) -> Option<Vec<&'static str>> {
    let dates: Vec<&str> = entity_fields(entity)?
        .iter()
        .filter(|(_, _, date)| *date)
        .map(|(n, _, _)| *n)
        .collect();
    (!dates.is_empty()).then_some(dates)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_spec_lists_its_types_and_documents_the_commitment_payload() {
        let types = event_types();
        assert_eq!(
            types.first().map(String::as_str),
            Some("billing.balance.created")
        );
        assert!(types.contains(&"configuration.commitment.updated".to_owned()));
        assert!(types.contains(&"ingest.validation.failure".to_owned()));
        // The spec's list: 33 entities with three types each, and 7 others.
        assert_eq!(types.len(), 106);

        let Some(Fields::Known(created)) = fields("configuration.commitment.created") else {
            panic!("commitment events have fields");
        };
        let names: Vec<&str> = created.iter().map(|(n, _)| n.as_str()).collect();
        // Every field of the spec's example payload, with its type.
        for (name, ty) in [
            ("new.accountCode", FieldType::String),
            ("new.amount", FieldType::Double),
            ("new.billingInterval", FieldType::Int),
            ("new.commitmentFeeBillInAdvance", FieldType::Boolean),
            ("new.customFields", FieldType::Map),
            ("new.feeDates", FieldType::Array),
        ] {
            assert!(created.contains(&(name.to_owned(), ty)), "{name}");
        }
        assert!(!names.iter().any(|n| n.starts_with("old.")));

        let Some(Fields::Known(updated)) = fields("configuration.commitment.updated") else {
            panic!("commitment events have fields");
        };
        assert!(updated.iter().any(|(n, _)| n == "old.amountSpent"));
        assert_eq!(updated.len(), 2 * created.len());
        assert_eq!(fields("dataexport.job.failure"), Some(Fields::Undocumented));
        assert_eq!(fields("configuration.commitment.renamed"), None);
        assert_eq!(fields("configuration.nothing.created"), None);
    }

    #[test]
    fn scheduled_events_are_based_on_date_fields() {
        assert!(scheduled_entities().contains(&"Bill"));
        let bill = date_fields("Bill").expect("bills have dates");
        assert!(
            bill.contains(&"dueDate") && bill.contains(&"endDate"),
            "{bill:?}"
        );
        assert!(!bill.contains(&"accountCode"));
        assert_eq!(date_fields("Nothing"), None);
        let fields = scheduled_fields("Bill").expect("bill");
        assert!(fields.iter().all(|(n, _)| n.starts_with("new.")));
    }
}
