//! Counter: a unit count an account subscribes to (seats), priced by
//! counter pricings; global unless it names a product; keyed by code.

use super::{CODES, IDS, Kind, KindSpec, by_field};
use crate::identity::{AdoptParam, Identity, Key};
use crate::schema::{Field, Type, opt, req, s};

const FIELDS: &[Field] = &[
    req("name", s(1, 200)),
    // The API makes `code` optional; the tool keys counters by it.
    opt("code", Type::GeneralCode),
    opt("productId", Type::Ref(Kind::Product)),
    // At least one character, no documented maximum.
    req(
        "unit",
        Type::Str {
            min: 1,
            max: usize::MAX,
        },
    ),
];

pub(super) const SPEC: KindSpec = KindSpec {
    max_page_size: 200,
    identity: Identity {
        key: Key::Code,
        adopt: &[AdoptParam::Field {
            param: "codes",
            field: "code",
        }],
        scope: &[],
    },
    filters: &[by_field("productId", "productId", true), IDS, CODES],
    ..KindSpec::new(Kind::Counter, "counter", "counters", "counters", FIELDS)
};
