//! Scheduled event configuration: a custom event type that fires `offset`
//! days after a date field of a billing or configuration entity
//! (`ScheduledEventConfigurationRequest`). The API gives it no code; its
//! `name` is the event type notifications are based on
//! (`scheduled.bill.endDateEvent`), so it is the key: a new name is a new
//! event type, a replace.

use super::{BY_NAME, IDS, Kind, KindSpec};
use crate::schema::{Field, Type, int, req};

/// At least one character, no documented maximum.
const NON_EMPTY: Type = Type::Str {
    min: 1,
    max: usize::MAX,
};

const FIELDS: &[Field] = &[
    req("name", NON_EMPTY),
    req("entity", NON_EMPTY),
    req("field", NON_EMPTY),
    // `format: int32`, no documented bounds: days after (or, negative,
    // before) the date.
    req("offset", int(i32::MIN as i64, i32::MAX as i64)),
];

pub(super) const SPEC: KindSpec = KindSpec {
    identity: BY_NAME,
    filters: &[IDS],
    ..KindSpec::new(
        Kind::ScheduledEventConfiguration,
        "scheduledEventConfiguration",
        "scheduledEventConfigurations",
        "scheduledevents/configurations",
        FIELDS,
    )
};
