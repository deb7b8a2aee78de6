//! Counter pricing: the bands of one counter on a plan or plan template from
//! a start date (seats, priced per unit of the counter's running total);
//! keyed `<plan>/<counter>@<date>` unless it has its own code.

use super::{DefaultBy, FieldDefault, Filter, IDS, Kind, KindSpec, Literal, Match, by_field};
use crate::identity::{AdoptParam, Alt, Identity, Key, Part};
use crate::schema::{Field, Type, opt, req, s};

// The spec's `PricingBand`, the same object as a pricing's bands.
use super::pricing::BAND;

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

const OWNER: &[&str] = &["planId", "planTemplateId"];

pub(super) const SPEC: KindSpec = KindSpec {
    max_page_size: 200,
    identity: Identity {
        key: Key::CodeOr(&[
            Part::OneOf(&[
                Alt {
                    field: "planId",
                    prefix: "",
                },
                Alt {
                    field: "planTemplateId",
                    prefix: "template:",
                },
            ]),
            Part::Text("/"),
            Part::OneOf(&[Alt {
                field: "counterId",
                prefix: "",
            }]),
            Part::Text("@"),
            Part::Date("startDate"),
        ]),
        // Exactly one of the two is set, so this filters by the owner.
        adopt: &[
            AdoptParam::Field {
                param: "planId",
                field: "planId",
            },
            AdoptParam::Field {
                param: "planTemplateId",
                field: "planTemplateId",
            },
        ],
        // One counter pricing per plan and counter at a time, as pricings.
        scope: &[OWNER, &["counterId"]],
    },
    // As for pricings: tiered unless it says otherwise (the spec's request
    // and response docs disagree; docs/emulator.md).
    defaults: &[FieldDefault {
        field: "cumulative",
        value: Literal::Bool(true),
        by: DefaultBy::Server,
    }],
    exactly_one_of: &[("planId", "planTemplateId")],
    bands: &["pricingBands"],
    filters: &[
        Filter {
            param: "date",
            multi: false,
            matches: Match::ActiveAt,
            needs: None,
        },
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
