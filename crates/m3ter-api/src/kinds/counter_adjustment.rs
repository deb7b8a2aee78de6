//! Counter adjustment: the value of a counter for an account from a date
//! (seats bought or released); keyed `<account>/<counter>@<date>`.

use super::{Kind, KindSpec, by_field};
use crate::identity::{AdoptParam, Alt, Identity, Key, Part};
use crate::schema::{Field, Type, int, opt, req, s};

const FIELDS: &[Field] = &[
    req("accountId", Type::Ref(Kind::Account)),
    req("counterId", Type::Ref(Kind::Counter)),
    // The spec gives a date example without a format; m3ter takes a date.
    req("date", Type::Date),
    // `int32`, at least 0.
    req("value", int(0, i32::MAX as i64)),
    opt("purchaseOrderNumber", s(0, 100)),
];

pub(super) const SPEC: KindSpec = KindSpec {
    identity: Identity {
        key: Key::CodeOr(&[
            Part::OneOf(&[Alt {
                field: "accountId",
                prefix: "",
            }]),
            Part::Text("/"),
            Part::OneOf(&[Alt {
                field: "counterId",
                prefix: "",
            }]),
            Part::Text("@"),
            Part::Date("date"),
        ]),
        adopt: &[
            AdoptParam::Field {
                param: "accountId",
                field: "accountId",
            },
            AdoptParam::Field {
                param: "counterId",
                field: "counterId",
            },
        ],
        scope: &[],
    },
    // No `ids` filter is documented for counter adjustments.
    filters: &[
        by_field("accountId", "accountId", false),
        by_field("counterId", "counterId", false),
        by_field("date", "date", false),
    ],
    ..KindSpec::new(
        Kind::CounterAdjustment,
        "counterAdjustment",
        "counterAdjustments",
        "counteradjustments",
        FIELDS,
    )
};
