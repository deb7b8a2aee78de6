//! External mapping: an m3ter entity ↔ its id in an external system
//! (`ExternalMappingRequest`). The API gives it no code: keyed
//! `<externalSystem>/<externalTable>/<address of the m3ter entity>`
//! (`externalMapping.Stripe/Customer/account.acme`).
//!
//! `m3terId` points at an entity of the kind `m3terEntity` names
//! ([`Type::AnyRef`]): YAML writes the entity's address (`entity:
//! account.acme`) and the loader fills in `m3terEntity` (`Account`).

use super::{Kind, KindSpec, by_field};
use crate::identity::{AdoptParam, Alt, Identity, Key, Part};
use crate::schema::{AnyRef, Field, Type, opt, req};

/// The spec's pattern: no control characters, no leading or trailing
/// whitespace, at least one character; no maximum. The general-code check
/// is that pattern (its 80-character cap aside), so a plain string with a
/// minimum is the closest transcription.
const TOKEN: Type = Type::Str {
    min: 1,
    max: usize::MAX,
};

/// The m3ter entities a mapping may name, as `m3terEntity` spells them:
/// the kinds keyed by code (a live target's address follows from its code).
const ENTITIES: AnyRef = AnyRef {
    kind_field: "m3terEntity",
    yaml_key: "entity",
    kinds: &[
        (Kind::Account, "Account"),
        (Kind::Aggregation, "Aggregation"),
        (Kind::Balance, "Balance"),
        (Kind::CompoundAggregation, "CompoundAggregation"),
        (Kind::Contract, "Contract"),
        (Kind::Counter, "Counter"),
        (Kind::Meter, "Meter"),
        (Kind::Plan, "Plan"),
        (Kind::PlanGroup, "PlanGroup"),
        (Kind::PlanTemplate, "PlanTemplate"),
        (Kind::Product, "Product"),
    ],
};

const FIELDS: &[Field] = &[
    req("m3terEntity", TOKEN),
    req("m3terId", Type::AnyRef(&ENTITIES)),
    req("externalSystem", TOKEN),
    req("externalTable", TOKEN),
    req("externalId", TOKEN),
    // The integration configuration's UUID: integration configurations
    // have no code to write it by, so it stays an id.
    opt("integrationConfigId", Type::Uuid),
];

pub(super) const SPEC: KindSpec = KindSpec {
    max_page_size: 200,
    identity: Identity {
        key: Key::CodeOr(&[
            Part::OneOf(&[Alt {
                field: "externalSystem",
                prefix: "",
            }]),
            Part::Text("/"),
            Part::OneOf(&[Alt {
                field: "externalTable",
                prefix: "",
            }]),
            Part::Text("/"),
            Part::OneOf(&[Alt {
                field: "m3terId",
                prefix: "",
            }]),
        ]),
        adopt: &[AdoptParam::Field {
            param: "m3terIds",
            field: "m3terId",
        }],
        scope: &[],
    },
    filters: &[
        by_field("externalSystemId", "externalSystem", false),
        by_field("m3terIds", "m3terId", true),
        by_field("integrationConfigId", "integrationConfigId", false),
    ],
    ..KindSpec::new(
        Kind::ExternalMapping,
        "externalMapping",
        "externalMappings",
        "externalmappings",
        FIELDS,
    )
};
