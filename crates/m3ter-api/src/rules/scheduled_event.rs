//! Scheduled event configurations: based on a date field of an entity
//! m3ter has events for, and named as the spec requires.

use super::{Body, Finding, did_you_mean, list, str_of};
use crate::events;

pub(crate) const FIELD: &str = "scheduledEventConfiguration.field";
pub(crate) const NAME: &str = "scheduledEventConfiguration.name";

/// `entity` is one of [`events::scheduled_entities`], `field` one of its
/// date fields, and `name` is `scheduled.<entity>.<event name>`.
pub(crate) fn check(body: &Body, out: &mut Vec<Finding>) {
    let Some(entity) = str_of(body, "entity") else {
        return; // missing or not a string: a field-level violation
    };
    match events::date_fields(entity) {
        None => {
            let entities = events::scheduled_entities();
            out.push(Finding::error(
                FIELD,
                "entity",
                format!(
                    "`entity` \"{entity}\" is not an entity a scheduled event can be based on{}; \
                     write one of {}",
                    did_you_mean(entity, &entities),
                    list(&entities)
                ),
            ));
        }
        Some(dates) => {
            if let Some(field) = str_of(body, "field")
                && !dates.contains(&field)
            {
                out.push(Finding::error(
                    FIELD,
                    "field",
                    format!(
                        "`field` \"{field}\" is not a date field of {entity}{}; write one of {}",
                        did_you_mean(field, &dates),
                        list(&dates)
                    ),
                ));
            }
        }
    }
    let Some(name) = str_of(body, "name") else {
        return;
    };
    let parts = name
        .strip_prefix("scheduled.")
        .and_then(|rest| rest.split_once('.'));
    let named_entity =
        parts.is_some_and(|(e, event)| e.eq_ignore_ascii_case(entity) && !event.is_empty());
    if !named_entity {
        out.push(Finding::error(
            NAME,
            "name",
            format!(
                "`name` \"{name}\" is not of the form `scheduled.<entity>.<event name>`; \
                 write e.g. `scheduled.{}.{}Event`",
                entity.to_ascii_lowercase(),
                str_of(body, "field").unwrap_or("date")
            ),
        ));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn findings(v: serde_json::Value) -> Vec<String> {
        let mut out = Vec::new();
        check(v.as_object().expect("object"), &mut out);
        out.into_iter().map(|f| f.message).collect()
    }

    #[test]
    fn entity_field_and_name() {
        assert_eq!(
            findings(
                json!({"name": "scheduled.bill.overdue", "entity": "Bill", "field": "dueDate", "offset": 10})
            ),
            Vec::<String>::new()
        );
        assert_eq!(
            findings(
                json!({"name": "scheduled.Bill.x", "entity": "Bill", "field": "endDate", "offset": -1})
            ),
            Vec::<String>::new()
        );
        let bad_field =
            findings(json!({"name": "scheduled.bill.x", "entity": "Bill", "field": "dueDat"}));
        assert_eq!(bad_field.len(), 1);
        assert!(
            bad_field[0].starts_with("`field` \"dueDat\" is not a date field of Bill (did you mean `dueDate`?); write one of "),
            "{bad_field:?}"
        );
        let not_a_date =
            findings(json!({"name": "scheduled.bill.x", "entity": "Bill", "field": "accountCode"}));
        assert!(
            not_a_date[0].contains("is not a date field of Bill;"),
            "{not_a_date:?}"
        );
        let bad_entity =
            findings(json!({"name": "scheduled.bil.x", "entity": "Bil", "field": "dueDate"}));
        assert!(
            bad_entity[0].starts_with("`entity` \"Bil\" is not an entity a scheduled event can be based on (did you mean `Bill`?); write one of "),
            "{bad_entity:?}"
        );
        assert_eq!(
            findings(json!({"name": "Ten days after due", "entity": "Bill", "field": "dueDate"})),
            [
                "`name` \"Ten days after due\" is not of the form `scheduled.<entity>.<event name>`; write e.g. `scheduled.bill.dueDateEvent`"
            ]
        );
    }
}
