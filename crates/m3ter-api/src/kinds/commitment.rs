//! Commitment: an amount an account commits to spend (prepay) over a
//! period, drawn down by its charges; the API gives it no code, so it is
//! keyed `<account>@<startDate>`.

use super::{ACTIVE_AT, IDS, Kind, KindSpec, by_field};
use crate::identity::{AdoptParam, Alt, Identity, Key, Part};
use crate::schema::{
    CHILD_BILLING_MODES, CURRENCY_NON_EMPTY, Field, NUM, NUM_GE0, NUM_GT0, Type, int, opt, req, s,
};

/// `CommitmentLineItemType`: the charges that can draw down a commitment.
pub(crate) const COMMITMENT_LINE_ITEM_TYPES: &[&str] = &[
    "STANDING_CHARGE",
    "USAGE",
    "MINIMUM_SPEND",
    "COUNTER_RUNNING_TOTAL_CHARGE",
    "COUNTER_ADJUSTMENT_DEBIT",
];

/// `CommitmentFee`: one scheduled bill of the commitment fee.
const FEE: &[Field] = &[
    req("date", Type::Date),
    req("amount", NUM_GT0),
    req("servicePeriodStartDate", Type::DateTime),
    req("servicePeriodEndDate", Type::DateTime),
];

const FIELDS: &[Field] = &[
    req("accountId", Type::Ref(Kind::Account)),
    // The plan whose bills carry the fees (instead of `feeDates`).
    opt("billingPlanId", Type::Ref(Kind::Plan)),
    opt(
        "productIds",
        Type::Array {
            item: &Type::Uuid,
            min: 0,
            max: Some(100),
        },
    ),
    req("startDate", Type::Date),
    req("endDate", Type::Date),
    req("currency", CURRENCY_NON_EMPTY),
    req("amount", NUM_GT0),
    opt("amountPrePaid", NUM_GE0),
    opt("amountFirstBill", NUM_GE0),
    // Negative for a discount on overage.
    opt("overageSurchargePercent", NUM),
    opt("separateOverageUsage", Type::Bool),
    opt("billingInterval", int(1, 365)),
    opt("billingOffset", int(0, 364)),
    opt("commitmentFeeDescription", s(0, 200)),
    opt("commitmentUsageDescription", s(0, 200)),
    opt("overageDescription", s(0, 200)),
    opt("commitmentFeeBillInAdvance", Type::Bool),
    opt("billEpoch", Type::Date),
    opt("contractId", Type::Ref(Kind::Contract)),
    opt("accountingProductId", Type::Ref(Kind::Product)),
    opt("feesAccountingProductId", Type::Ref(Kind::Product)),
    opt("drawdownsAccountingProductId", Type::Ref(Kind::Product)),
    opt(
        "feeDates",
        Type::Array {
            item: &Type::Object(FEE),
            min: 0,
            max: None,
        },
    ),
    opt("childBillingMode", Type::Enum(CHILD_BILLING_MODES)),
    opt(
        "lineItemTypes",
        Type::Array {
            item: &Type::Enum(COMMITMENT_LINE_ITEM_TYPES),
            min: 0,
            max: None,
        },
    ),
];

pub(super) const SPEC: KindSpec = KindSpec {
    identity: Identity {
        key: Key::CodeOr(&[
            Part::OneOf(&[Alt {
                field: "accountId",
                prefix: "",
            }]),
            Part::Text("@"),
            Part::Date("startDate"),
        ]),
        adopt: &[AdoptParam::Field {
            param: "accountId",
            field: "accountId",
        }],
        // One commitment at a time per account (rules::commitment): a new
        // one waits for the deletes of the account's others.
        scope: &[&["accountId"]],
    },
    response_only: &["amountSpent"],
    filters: &[
        by_field("accountId", "accountId", false),
        by_field("contractId", "contractId", false),
        ACTIVE_AT,
        IDS,
    ],
    ..KindSpec::new(
        Kind::Commitment,
        "commitment",
        "commitments",
        "commitments",
        FIELDS,
    )
};
