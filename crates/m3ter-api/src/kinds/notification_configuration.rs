//! Notification configuration: a rule that sends a notification when an
//! event of type `eventName` occurs and its `calculation` holds
//! (`NotificationRequest`); keyed by code. The calculation is checked
//! against the event's fields (`crate::condition`, `crate::events`).

use super::{Filter, IDS, Kind, KindSpec, Match, by_field};
use crate::identity::{AdoptParam, Identity, Key};
use crate::schema::{Field, Type, opt, req};

/// At least one character, no documented maximum.
const NON_EMPTY: Type = Type::Str {
    min: 1,
    max: usize::MAX,
};

const FIELDS: &[Field] = &[
    req("name", NON_EMPTY),
    req("description", NON_EMPTY),
    // Required by the spec (a plain string of at least one character).
    req("code", NON_EMPTY),
    opt("active", Type::Bool),
    opt("alwaysFireEvent", Type::Bool),
    // A system event type, or the name of a scheduled event configuration:
    // then it depends on that configuration, which is created first.
    req(
        "eventName",
        Type::CodeRef(Kind::ScheduledEventConfiguration, &NON_EMPTY),
    ),
    opt("calculation", Type::Text),
];

pub(super) const SPEC: KindSpec = KindSpec {
    identity: Identity {
        key: Key::Code,
        // The list has no `codes` filter: the lookup lists them all.
        adopt: &[] as &[AdoptParam],
        scope: &[],
    },
    filters: &[
        IDS,
        by_field("eventName", "eventName", false),
        Filter {
            param: "active",
            multi: false,
            matches: Match::Flag("active"),
            needs: None,
        },
    ],
    ..KindSpec::new(
        Kind::NotificationConfiguration,
        "notificationConfiguration",
        "notificationConfigurations",
        "notifications/configurations",
        FIELDS,
    )
};
