//! Compound aggregation: a formula over aggregations; keyed by code.

use super::{CODES, IDS, Kind, KindSpec, by_field};
use crate::identity::{AdoptParam, Identity, Key};
use crate::schema::{Field, NUM_GT0, ROUNDINGS, Type, opt, req, s};

const FIELDS: &[Field] = &[
    req("name", s(1, 200)),
    req("rounding", Type::Enum(ROUNDINGS)),
    req("quantityPerUnit", NUM_GT0),
    req("unit", s(1, 50)),
    req("calculation", s(1, 5000)),
    opt("code", Type::IdentCode),
    opt("productId", Type::Ref(Kind::Product)),
    opt("accountingProductId", Type::Ref(Kind::Product)),
    opt("evaluateNullAggregations", Type::Bool),
    opt("customFields", Type::CustomFields),
];

pub(super) const SPEC: KindSpec = KindSpec {
    identity: Identity {
        key: Key::Code,
        adopt: &[AdoptParam::Field {
            param: "codes",
            field: "code",
        }],
        scope: &[],
    },
    response_only: &["segments"],
    filters: &[by_field("productId", "productId", true), IDS, CODES],
    ..KindSpec::new(
        Kind::CompoundAggregation,
        "compoundAggregation",
        "compoundAggregations",
        "compoundaggregations",
        FIELDS,
    )
};
