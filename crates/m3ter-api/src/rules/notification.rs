//! Notification configurations: the event they are based on exists, and
//! their calculation is a boolean expression over that event's fields
//! ([`crate::condition`], [`crate::events`]).

use super::{Body, Catalog, Finding, did_you_mean, str_of};
use crate::Kind;
use crate::condition::{self, Value};
use crate::events::{self, FieldType, Fields};

pub(crate) const EVENT_NAME: &str = "notificationConfiguration.eventName";
pub(crate) const CALCULATION: &str = "notificationConfiguration.calculation";

/// `eventName` names an m3ter event type or a scheduled event
/// configuration; `calculation` parses, names only that event's fields,
/// and is a condition rather than a number or a string.
pub(crate) fn check(body: &Body, catalog: &dyn Catalog, out: &mut Vec<Finding>) {
    // An empty calculation is none: the event alone triggers.
    let calculation = str_of(body, "calculation").filter(|c| !c.trim().is_empty());
    let Some(event) = str_of(body, "eventName") else {
        return; // missing or not a string: a field-level violation
    };
    let fields = match events::fields(event) {
        Some(fields) => Some(fields),
        None => scheduled(event, catalog).map(Fields::Known),
    };
    if fields.is_none() {
        let types = events::event_types();
        let mut names: Vec<&str> = types.iter().map(String::as_str).collect();
        let each = catalog.each(Kind::ScheduledEventConfiguration);
        names.extend(each.iter().filter_map(|(_, b)| str_of(b, "name")));
        out.push(Finding::error(
            EVENT_NAME,
            "eventName",
            format!(
                "`eventName` \"{event}\" is neither an m3ter event type nor the name of a \
                 scheduled event configuration{}; write a type such as \
                 `configuration.commitment.updated` (`GET /events/types` lists them)",
                did_you_mean(event, &names)
            ),
        ));
    }
    let Some(calculation) = calculation else {
        return;
    };
    let parsed = match condition::parse(calculation) {
        Ok(c) => c,
        Err(e) => {
            out.push(Finding::error(
                CALCULATION,
                "calculation",
                format!("`calculation` does not parse: {e}"),
            ));
            return;
        }
    };
    // Unknown event: already reported, and there are no fields to check.
    let Some(Fields::Known(fields)) = fields else {
        return;
    };
    let names: Vec<&str> = fields.iter().map(|(n, _)| n.as_str()).collect();
    for name in parsed.names() {
        if field_type(&fields, name).is_none() {
            out.push(Finding::error(
                CALCULATION,
                "calculation",
                format!(
                    "`calculation` names `{name}`, which is not a field of event `{event}`{}; \
                     its fields are `new.` and `old.` followed by a field of the entity \
                     (`GET /events/fields?eventName={event}` lists them)",
                    did_you_mean(name, &names)
                ),
            ));
        }
    }
    let type_of = |n: &str| {
        field_type(&fields, n).map(|t| match t {
            FieldType::Boolean => Value::Boolean,
            FieldType::String => Value::String,
            FieldType::Int | FieldType::Long | FieldType::Double => Value::Number,
            FieldType::Array | FieldType::Map => Value::Unknown,
        })
    };
    let what = match parsed.value(&type_of) {
        Value::Number => Some("a number"),
        Value::String => Some("a string"),
        Value::Null => Some("null"),
        Value::Boolean | Value::Unknown => None,
    };
    if let Some(what) = what {
        out.push(Finding::error(
            CALCULATION,
            "calculation",
            format!(
                "`calculation` evaluates to {what}, not to true or false; compare it, \
                 e.g. `new.amount > 100`"
            ),
        ));
    }
}

/// The fields of the scheduled event configuration named `event`.
fn scheduled(event: &str, catalog: &dyn Catalog) -> Option<Vec<(String, FieldType)>> {
    let each = catalog.each(Kind::ScheduledEventConfiguration);
    let (_, config) = each
        .iter()
        .find(|(_, b)| str_of(b, "name") == Some(event))?;
    events::scheduled_fields(str_of(config, "entity")?)
}

/// The type of field `name`: one of the event's, or a key inside one of
/// its map fields (`new.customFields.tier`).
fn field_type(fields: &[(String, FieldType)], name: &str) -> Option<FieldType> {
    fields.iter().find_map(|(f, t)| {
        if f == name {
            Some(*t)
        } else if *t == FieldType::Map && name.strip_prefix(f.as_str())?.starts_with('.') {
            // A map's values may be of any type.
            Some(FieldType::Map)
        } else {
            None
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::fixture::Fixture;
    use serde_json::json;

    fn findings(body: serde_json::Value, world: &Fixture) -> Vec<String> {
        let body = body.as_object().expect("object").clone();
        let mut out = Vec::new();
        check(&body, world, &mut out);
        out.into_iter().map(|f| f.message).collect()
    }

    fn notification(event: &str, calculation: &str) -> serde_json::Value {
        json!({"code": "n", "name": "n", "description": "d",
               "eventName": event, "calculation": calculation})
    }

    #[test]
    fn a_calculation_over_the_events_fields_passes() {
        let world = Fixture::default();
        let ok = notification(
            "configuration.commitment.updated",
            "(new.amountSpent >= ((new.amount*90)/100)) AND ((old.amountSpent <= ((old.amount*90)/100)) OR (old.amountSpent == null))",
        );
        assert_eq!(findings(ok, &world), Vec::<String>::new());
        let custom = notification(
            "configuration.account.created",
            "new.customFields.tier == 'gold'",
        );
        assert_eq!(findings(custom, &world), Vec::<String>::new());
        // Without a calculation (or with an empty one), any known event will do.
        let always = json!({"eventName": "ingest.validation.failure", "alwaysFireEvent": true});
        assert_eq!(findings(always, &world), Vec::<String>::new());
        let empty = notification("configuration.product.created", " ");
        assert_eq!(findings(empty, &world), Vec::<String>::new());
    }

    #[test]
    fn unknown_events_fields_and_non_conditions_are_named() {
        let world = Fixture::default();
        assert_eq!(
            findings(
                notification("configuration.comitment.updated", "true"),
                &world
            ),
            [
                "`eventName` \"configuration.comitment.updated\" is neither an m3ter event type nor the name of a scheduled event configuration (did you mean `configuration.commitment.updated`?); write a type such as `configuration.commitment.updated` (`GET /events/types` lists them)"
            ]
        );
        assert_eq!(
            findings(
                notification(
                    "configuration.commitment.created",
                    "new.amout > 1 AND old.amount > 1"
                ),
                &world
            ),
            [
                "`calculation` names `new.amout`, which is not a field of event `configuration.commitment.created` (did you mean `new.amount`?); its fields are `new.` and `old.` followed by a field of the entity (`GET /events/fields?eventName=configuration.commitment.created` lists them)",
                "`calculation` names `old.amount`, which is not a field of event `configuration.commitment.created` (did you mean `new.amount`?); its fields are `new.` and `old.` followed by a field of the entity (`GET /events/fields?eventName=configuration.commitment.created` lists them)",
            ]
        );
        assert_eq!(
            findings(
                notification("configuration.commitment.created", "new.amount * 2"),
                &world
            ),
            [
                "`calculation` evaluates to a number, not to true or false; compare it, e.g. `new.amount > 100`"
            ]
        );
        assert_eq!(
            findings(
                notification("configuration.commitment.created", "new.amount >"),
                &world
            ),
            [
                "`calculation` does not parse: unexpected end at character 13, expected a number, a string, a name or `(`"
            ]
        );
    }

    #[test]
    fn a_scheduled_event_is_an_event_with_its_entitys_fields() {
        let world = Fixture::default().with(
            Kind::ScheduledEventConfiguration,
            "scheduled.bill.overdue",
            json!({"name": "scheduled.bill.overdue", "entity": "Bill", "field": "dueDate", "offset": 10}),
        );
        let ok = notification(
            "scheduled.bill.overdue",
            "new.billTotal > 0 AND new.locked == false",
        );
        assert_eq!(findings(ok, &world), Vec::<String>::new());
        let old = notification("scheduled.bill.overdue", "old.billTotal > 0");
        assert_eq!(findings(old, &world).len(), 1);
        let missing = notification("scheduled.bill.overdu", "true");
        assert!(findings(missing, &world)[0].contains("(did you mean `scheduled.bill.overdue`?)"),);
    }
}
