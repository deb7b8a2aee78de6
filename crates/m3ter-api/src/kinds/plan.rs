//! Plan: a plan template made concrete (bespoke to one account when it has
//! `accountId`); keyed by code.

use super::{IDS, Kind, KindSpec, by_field};
use crate::identity::{AdoptParam, Identity, Key};
use crate::schema::{Field, INT_GE0, NUM_GE0, Type, opt, req, s};

const FIELDS: &[Field] = &[
    req("planTemplateId", Type::Ref(Kind::PlanTemplate)),
    req("name", s(1, 200)),
    req("code", Type::GeneralCode),
    opt("standingCharge", NUM_GE0),
    opt("standingChargeDescription", s(0, 200)),
    opt("standingChargeBillInAdvance", Type::Bool),
    opt(
        "standingChargeAccountingProductId",
        Type::Ref(Kind::Product),
    ),
    opt("minimumSpend", NUM_GE0),
    opt("minimumSpendDescription", s(0, 200)),
    opt("minimumSpendBillInAdvance", Type::Bool),
    opt("minimumSpendAccountingProductId", Type::Ref(Kind::Product)),
    opt("bespoke", Type::Bool),
    opt("accountId", Type::Ref(Kind::Account)),
    opt("ordinal", INT_GE0),
    opt("customFields", Type::CustomFields),
];

pub(super) const SPEC: KindSpec = KindSpec {
    identity: Identity {
        key: Key::Code,
        // No `codes` filter: the lookup lists them all.
        adopt: &[] as &[AdoptParam],
        scope: &[],
    },
    immutable: &["accountId"],
    response_only: &["productId"],
    filters: &[
        by_field("productId", "productId", false),
        by_field("accountId", "accountId", true),
        IDS,
    ],
    ..KindSpec::new(Kind::Plan, "plan", "plans", "plans", FIELDS)
};
