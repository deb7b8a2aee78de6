//! Balance: a prepaid or credit amount of an account over a period, drawn
//! down by its charges; keyed by code.

use super::{IDS, Kind, KindSpec, by_field};
use crate::identity::{AdoptParam, Identity, Key};
use crate::schema::{Field, NUM, NUM_GE0, Type, opt, req, s};

/// `BalanceLineItemType`: the charges that can draw down a balance.
pub(crate) const BALANCE_LINE_ITEM_TYPES: &[&str] = &[
    "STANDING_CHARGE",
    "USAGE",
    "MINIMUM_SPEND",
    "COUNTER_RUNNING_TOTAL_CHARGE",
    "COUNTER_ADJUSTMENT_DEBIT",
    "AD_HOC",
];

/// At least one character, no documented maximum.
const NON_EMPTY: Type = Type::Str {
    min: 1,
    max: usize::MAX,
};

const FIELDS: &[Field] = &[
    req("code", Type::GeneralCode),
    req("name", NON_EMPTY),
    opt("description", Type::Text),
    req("accountId", Type::Ref(Kind::Account)),
    req("startDate", Type::DateTime),
    req("endDate", Type::DateTime),
    req("currency", NON_EMPTY),
    opt("rolloverAmount", NUM_GE0),
    opt("rolloverEndDate", Type::DateTime),
    opt("balanceDrawDownDescription", s(0, 200)),
    // Negative for a discount on overage.
    opt("overageSurchargePercent", NUM),
    opt("overageDescription", s(0, 200)),
    opt(
        "productIds",
        Type::Array {
            item: &Type::Uuid,
            min: 0,
            max: None,
        },
    ),
    opt(
        "lineItemTypes",
        Type::Array {
            item: &Type::Enum(BALANCE_LINE_ITEM_TYPES),
            min: 0,
            max: None,
        },
    ),
    opt("contractId", Type::Ref(Kind::Contract)),
    opt("consumptionsAccountingProductId", Type::Ref(Kind::Product)),
    opt("feesAccountingProductId", Type::Ref(Kind::Product)),
    opt("allowOverdraft", Type::Bool),
    opt("customFields", Type::CustomFields),
];

pub(super) const SPEC: KindSpec = KindSpec {
    // The list has no `codes` filter: the account's balances are searched.
    identity: Identity {
        key: Key::Code,
        adopt: &[AdoptParam::Field {
            param: "accountId",
            field: "accountId",
        }],
        scope: &[],
    },
    // A balance belongs to one account for good: moving it is a replace.
    immutable: &["accountId"],
    // The balance's current amount, which only transactions change.
    response_only: &["amount"],
    filters: &[
        by_field("accountId", "accountId", false),
        by_field("contractId", "contractId", false),
        IDS,
    ],
    ..KindSpec::new(Kind::Balance, "balance", "balances", "balances", FIELDS)
};
