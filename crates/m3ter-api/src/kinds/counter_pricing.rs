//! Counter pricing: the bands of one counter on a plan or plan template from
//! a start date (seats, priced per unit of the counter's running total);
//! keyed `<plan>/<counter>@<date>` unless it has its own code.

// A counter pricing is a pricing of a counter: the same bands, owner, key
// prefix, adoption lookup and default.
use super::pricing::{BAND, BY_OWNER, OWNER, OWNER_KEY, TIERED};
use super::{ACTIVE_AT, IDS, Kind, KindSpec, by_field};
use crate::identity::{Alt, Identity, Key, Part};
use crate::schema::{Field, Type, opt, req, s};

const FIELDS: &[Field] = &[
    opt("planId", Type::Ref(Kind::Plan)),
    opt("planTemplateId", Type::Ref(Kind::PlanTemplate)),
    req("counterId", Type::Ref(Kind::Counter)),
    req(
        "pricingBands",
        Type::Array {
            item: &Type::Object(BAND),
            min: 1,
            max: None,
        },
    ),
    req("startDate", Type::DateTime),
    opt("endDate", Type::DateTime),
    opt("cumulative", Type::Bool),
    opt("code", Type::GeneralCode),
    opt("description", s(0, 200)),
    opt("accountingProductId", Type::Ref(Kind::Product)),
    opt("runningTotalBillInAdvance", Type::Bool),
    opt("proRateRunningTotal", Type::Bool),
    opt("proRateAdjustmentDebit", Type::Bool),
    opt("proRateAdjustmentCredit", Type::Bool),
];

pub(super) const SPEC: KindSpec = KindSpec {
    max_page_size: 200,
    identity: Identity {
        key: Key::CodeOr(&[
            OWNER_KEY,
            Part::Text("/"),
            Part::OneOf(&[Alt {
                field: "counterId",
                prefix: "",
            }]),
            Part::Text("@"),
            Part::Date("startDate"),
        ]),
        adopt: BY_OWNER,
        // One counter pricing per plan and counter at a time, as pricings.
        scope: &[OWNER, &["counterId"]],
    },
    defaults: &[TIERED],
    exactly_one_of: &[("planId", "planTemplateId")],
    bands: &["pricingBands"],
    filters: &[
        ACTIVE_AT,
        by_field("planId", "planId", false),
        by_field("planTemplateId", "planTemplateId", false),
        IDS,
    ],
    ..KindSpec::new(
        Kind::CounterPricing,
        "counterPricing",
        "counterPricings",
        "counterpricings",
        FIELDS,
    )
};
