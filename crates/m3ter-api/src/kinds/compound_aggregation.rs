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
    kind: Kind::CompoundAggregation,
    name: "compoundAggregation",
    section: "compoundAggregations",
    collection: "compoundaggregations",
    max_page_size: 100,
    singleton: false,
    fields: FIELDS,
    identity: Identity {
        key: Key::Code,
        adopt: &[AdoptParam::Field {
            param: "codes",
            field: "code",
        }],
        scope: &[],
    },
    defaults: &[],
    immutable: &[],
    response_only: &["segments"],
    sensitive: &[],
    exactly_one_of: &[],
    bands: &[],
    filters: &[by_field("productId", "productId", true), IDS, CODES],
};
