//! Custom fields: the org-level defaults of the custom fields of each
//! entity type. A singleton (GET/PUT `/customfields`); m3ter requires a
//! name here before an entity may set a custom field of that name
//! (`crate::rules::custom_fields`).

use super::{Kind, KindSpec};
use crate::identity::{Identity, Key};
use crate::schema::{Field, Type, opt};

/// One map per entity type, each `name → string | number`. The spec caps
/// them with `maxItems: 25`, which JSON Schema ignores on an object; the
/// entity-level cap of 100 entries (`Type::CustomFields`) applies instead.
const FIELDS: &[Field] = &[
    opt("organization", Type::CustomFields),
    opt("account", Type::CustomFields),
    opt("accountPlan", Type::CustomFields),
    opt("meter", Type::CustomFields),
    opt("product", Type::CustomFields),
    opt("planTemplate", Type::CustomFields),
    opt("plan", Type::CustomFields),
    opt("aggregation", Type::CustomFields),
    opt("compoundAggregation", Type::CustomFields),
    opt("contract", Type::CustomFields),
];

pub(super) const SPEC: KindSpec = KindSpec {
    singleton: true,
    identity: Identity {
        key: Key::Singleton("customFields"),
        adopt: &[],
        scope: &[],
    },
    ..KindSpec::new(
        Kind::CustomFields,
        "customFields",
        "customFields",
        "customfields",
        FIELDS,
    )
};
