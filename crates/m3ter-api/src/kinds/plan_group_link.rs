//! Plan group link: one plan's membership of a plan group; keyed
//! `<planGroup>/<plan>` (the API gives links no code).

use super::{IDS, Kind, KindSpec, by_field};
use crate::identity::{AdoptParam, Alt, Identity, Key, Part};
use crate::schema::{Field, Type, req};

const FIELDS: &[Field] = &[
    req("planGroupId", Type::Ref(Kind::PlanGroup)),
    req("planId", Type::Ref(Kind::Plan)),
];

pub(super) const SPEC: KindSpec = KindSpec {
    identity: Identity {
        // Both parts are the whole request: a changed one is a replace.
        key: Key::CodeOr(&[
            Part::OneOf(&[Alt {
                field: "planGroupId",
                prefix: "",
            }]),
            Part::Text("/"),
            Part::OneOf(&[Alt {
                field: "planId",
                prefix: "",
            }]),
        ]),
        adopt: &[AdoptParam::Field {
            param: "planGroup",
            field: "planGroupId",
        }],
        scope: &[],
    },
    filters: &[
        by_field("planGroup", "planGroupId", false),
        by_field("plan", "planId", false),
        IDS,
    ],
    ..KindSpec::new(
        Kind::PlanGroupLink,
        "planGroupLink",
        "planGroupLinks",
        "plangrouplinks",
        FIELDS,
    )
};
