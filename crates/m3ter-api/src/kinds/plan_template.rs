//! Plan template: a product's pricing structure; keyed by code.

use super::{IDS, Kind, KindSpec, by_field};
use crate::identity::{AdoptParam, Identity, Key};
use crate::schema::{
    BILL_FREQUENCIES, CURRENCY_CODE, Field, INT_GE0, NUM_GE0, Type, int, opt, req, s,
};

const FIELDS: &[Field] = &[
    req("productId", Type::Ref(Kind::Product)),
    req("name", s(1, 200)),
    req("currency", CURRENCY_CODE),
    req("standingCharge", NUM_GE0),
    req("billFrequency", Type::Enum(BILL_FREQUENCIES)),
    opt("billFrequencyInterval", int(1, 365)),
    opt("code", Type::GeneralCode),
    opt("standingChargeDescription", s(0, 200)),
    opt("standingChargeInterval", int(1, 365)),
    opt("standingChargeOffset", int(0, 364)),
    opt("standingChargeBillInAdvance", Type::Bool),
    opt("minimumSpend", NUM_GE0),
    opt("minimumSpendDescription", s(0, 200)),
    opt("minimumSpendBillInAdvance", Type::Bool),
    opt("ordinal", INT_GE0),
    opt("customFields", Type::CustomFields),
];

pub(super) const SPEC: KindSpec = KindSpec {
    identity: Identity {
        key: Key::Code,
        // No `codes` filter: the product narrows the search.
        adopt: &[AdoptParam::Field {
            param: "productId",
            field: "productId",
        }],
        scope: &[],
    },
    filters: &[by_field("productId", "productId", false), IDS],
    ..KindSpec::new(
        Kind::PlanTemplate,
        "planTemplate",
        "planTemplates",
        "plantemplates",
        FIELDS,
    )
};
