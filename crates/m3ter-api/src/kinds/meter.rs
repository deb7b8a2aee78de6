//! Meter: the fields measurements carry; keyed by code.

use super::{CODES, DefaultBy, FieldDefault, IDS, Kind, KindSpec, Literal, by_field};
use crate::identity::{AdoptParam, Identity, Key};
use crate::schema::{DATA_FIELD_CATEGORIES, Field, Type, opt, req, s};

const DATA_FIELD: &[Field] = &[
    req("category", Type::Enum(DATA_FIELD_CATEGORIES)),
    req("code", Type::IdentCode),
    req("name", s(1, 200)),
    opt("unit", s(1, 50)),
];
const DERIVED_FIELD: &[Field] = &[
    req("category", Type::Enum(DATA_FIELD_CATEGORIES)),
    req("code", Type::IdentCode),
    req("name", s(1, 200)),
    opt("unit", s(1, 50)),
    req("calculation", s(1, 5000)),
];

const FIELDS: &[Field] = &[
    req("name", s(1, 200)),
    req("code", Type::GeneralCode),
    opt("productId", Type::Ref(Kind::Product)),
    opt("groupId", Type::Uuid),
    req(
        "dataFields",
        Type::Array {
            item: &Type::Object(DATA_FIELD),
            min: 1,
            max: Some(15),
        },
    ),
    req(
        "derivedFields",
        Type::Array {
            item: &Type::Object(DERIVED_FIELD),
            min: 0,
            max: Some(15),
        },
    ),
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
    // The API requires `derivedFields`; a meter without any means `[]`.
    defaults: &[FieldDefault {
        field: "derivedFields",
        value: Literal::EmptyList,
        by: DefaultBy::Tool,
    }],
    filters: &[by_field("productId", "productId", true), IDS, CODES],
    ..KindSpec::new(Kind::Meter, "meter", "meters", "meters", FIELDS)
};
