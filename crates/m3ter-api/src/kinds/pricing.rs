//! Pricing: the bands of one (compound) aggregation on a plan or plan
//! template from a start date; keyed `<plan>/<aggregation>@<date>[#segment]`
//! unless it has its own code.

use super::{ACTIVE_AT, DefaultBy, FieldDefault, IDS, Kind, KindSpec, Literal, by_field};
use crate::identity::{AdoptParam, Alt, Identity, Key, Part};
use crate::schema::{Field, NUM, NUM_GE0, PRICING_TYPES, Type, opt, req, s};

/// The spec's `PricingBand` (pricings and counter pricings).
pub(super) const BAND: &[Field] = &[
    req("lowerLimit", NUM_GE0),
    req("fixedPrice", NUM),
    req("unitPrice", NUM),
    opt("id", Type::Text),
    opt("creditTypeId", Type::Text),
];

const FIELDS: &[Field] = &[
    opt("planId", Type::Ref(Kind::Plan)),
    opt("planTemplateId", Type::Ref(Kind::PlanTemplate)),
    opt("aggregationId", Type::Ref(Kind::Aggregation)),
    opt(
        "compoundAggregationId",
        Type::Ref(Kind::CompoundAggregation),
    ),
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
    opt("type", Type::Enum(PRICING_TYPES)),
    opt("cumulative", Type::Bool),
    opt("tiersSpanPlan", Type::Bool),
    opt("segment", Type::StringMap),
    opt("code", Type::GeneralCode),
    opt("description", s(0, 200)),
    opt("accountingProductId", Type::Ref(Kind::Product)),
    opt("minimumSpend", NUM_GE0),
    opt("minimumSpendDescription", s(0, 200)),
    opt("minimumSpendBillInAdvance", Type::Bool),
    opt(
        "overagePricingBands",
        Type::Array {
            item: &Type::Object(BAND),
            min: 0,
            max: None,
        },
    ),
];

/// The plan or plan template a (counter) pricing belongs to: exactly one
/// of the two.
pub(super) const OWNER: &[&str] = &["planId", "planTemplateId"];

/// The owner's part of a (counter) pricing's key: the plan's code, or
/// `template:` and the plan template's.
pub(super) const OWNER_KEY: Part = Part::OneOf(&[
    Alt {
        field: "planId",
        prefix: "",
    },
    Alt {
        field: "planTemplateId",
        prefix: "template:",
    },
]);

/// The adoption lookup of a (counter) pricing: its owner's list. Exactly
/// one of the two fields is set, so this filters by the owner.
pub(super) const BY_OWNER: &[AdoptParam] = &[
    AdoptParam::Field {
        param: "planId",
        field: "planId",
    },
    AdoptParam::Field {
        param: "planTemplateId",
        field: "planTemplateId",
    },
];

/// Tiered unless it says otherwise (the spec's request and response docs
/// disagree; docs/emulator.md).
pub(super) const TIERED: FieldDefault = FieldDefault {
    field: "cumulative",
    value: Literal::Bool(true),
    by: DefaultBy::Server,
};
const AGGREGATION: &[&str] = &["aggregationId", "compoundAggregationId"];

pub(super) const SPEC: KindSpec = KindSpec {
    identity: Identity {
        key: Key::CodeOr(&[
            OWNER_KEY,
            Part::Text("/"),
            Part::OneOf(&[
                Alt {
                    field: "aggregationId",
                    prefix: "",
                },
                Alt {
                    field: "compoundAggregationId",
                    prefix: "",
                },
            ]),
            Part::Text("@"),
            Part::Date("startDate"),
            Part::Segment("segment"),
        ]),
        adopt: BY_OWNER,
        scope: &[OWNER, AGGREGATION],
    },
    defaults: &[
        TIERED,
        FieldDefault {
            field: "type",
            value: Literal::Str("DEBIT"),
            by: DefaultBy::Server,
        },
    ],
    response_only: &["aggregationType", "segmentString"],
    exactly_one_of: &[
        ("planId", "planTemplateId"),
        ("aggregationId", "compoundAggregationId"),
    ],
    bands: &["pricingBands", "overagePricingBands"],
    filters: &[
        ACTIVE_AT,
        by_field("planId", "planId", false),
        by_field("planTemplateId", "planTemplateId", false),
        by_field("aggregationId", "aggregationId", false),
        IDS,
    ],
    ..KindSpec::new(Kind::Pricing, "pricing", "pricings", "pricings", FIELDS)
};
