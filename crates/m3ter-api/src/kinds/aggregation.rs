//! Aggregation: how a meter field becomes billable units; keyed by code.

use super::{CODES, Filter, IDS, Kind, KindSpec, Match};
use crate::identity::{AdoptParam, Identity, Key};
use crate::schema::{AGGREGATIONS, Field, NUM_GE0, NUM_GT0, ROUNDINGS, Type, opt, req, s};

const STRING_ITEM: Type = Type::Str {
    min: 0,
    max: usize::MAX,
};
const STRING_MAP_ITEM: Type = Type::StringMap;

const FIELDS: &[Field] = &[
    req("name", s(1, 200)),
    req("meterId", Type::Ref(Kind::Meter)),
    req("targetField", s(1, 80)),
    req("aggregation", Type::Enum(AGGREGATIONS)),
    req("rounding", Type::Enum(ROUNDINGS)),
    req("quantityPerUnit", NUM_GT0),
    req("unit", s(1, 50)),
    opt("code", Type::IdentCode),
    opt("accountingProductId", Type::Ref(Kind::Product)),
    opt(
        "segmentedFields",
        Type::Array {
            item: &STRING_ITEM,
            min: 0,
            max: Some(5),
        },
    ),
    opt(
        "segments",
        Type::Array {
            item: &STRING_MAP_ITEM,
            min: 0,
            max: Some(1000),
        },
    ),
    opt("defaultValue", NUM_GE0),
    opt("customSql", s(0, 2048)),
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
    filters: &[
        // An aggregation has no product of its own: its meter's counts.
        Filter {
            param: "productId",
            multi: true,
            matches: Match::Via {
                via: "meterId",
                field: "productId",
            },
            needs: None,
        },
        IDS,
        CODES,
    ],
    ..KindSpec::new(
        Kind::Aggregation,
        "aggregation",
        "aggregations",
        "aggregations",
        FIELDS,
    )
};
