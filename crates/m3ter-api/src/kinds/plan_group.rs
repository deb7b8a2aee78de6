//! Plan group: plans sold together under one minimum spend and standing
//! charge (bespoke to one account when it has `accountId`); keyed by code.

use super::{IDS, Kind, KindSpec, by_field};
use crate::identity::{AdoptParam, Identity, Key};
use crate::schema::{CURRENCY_CODE, Field, NUM_GE0, Type, opt, req, s};

const FIELDS: &[Field] = &[
    req("name", s(1, 200)),
    // The API makes `code` optional; the tool keys plan groups by it.
    opt("code", Type::GeneralCode),
    req("currency", CURRENCY_CODE),
    opt("minimumSpend", NUM_GE0),
    opt("minimumSpendDescription", s(0, 200)),
    opt("minimumSpendBillInAdvance", Type::Bool),
    opt("minimumSpendAccountingProductId", Type::Ref(Kind::Product)),
    opt("standingCharge", NUM_GE0),
    opt("standingChargeDescription", s(0, 200)),
    opt("standingChargeBillInAdvance", Type::Bool),
    opt(
        "standingChargeAccountingProductId",
        Type::Ref(Kind::Product),
    ),
    opt("accountId", Type::Ref(Kind::Account)),
    opt("customFields", Type::CustomFields),
];

pub(super) const SPEC: KindSpec = KindSpec {
    max_page_size: 200,
    identity: Identity {
        key: Key::Code,
        // No `codes` filter: the lookup lists them all.
        adopt: &[] as &[AdoptParam],
        scope: &[],
    },
    // Like a bespoke plan's: a plan group made for one account does not move
    // to another (a decision, docs/emulator.md).
    immutable: &["accountId"],
    filters: &[by_field("accountId", "accountId", true), IDS],
    ..KindSpec::new(
        Kind::PlanGroup,
        "planGroup",
        "planGroups",
        "plangroups",
        FIELDS,
    )
};
