//! Account plan: a plan (or plan group) attached to an account from a start
//! date; keyed `<account>/<plan or plan group>@<date>` unless it has its own
//! code.

use super::{ACTIVE_AT, Filter, IDS, Kind, KindSpec, Match, by_field};
use crate::identity::{AdoptParam, Alt, Identity, Key, Part};
use crate::schema::{CHILD_BILLING_MODES, Field, Type, opt, req};

const FIELDS: &[Field] = &[
    req("accountId", Type::Ref(Kind::Account)),
    opt("planId", Type::Ref(Kind::Plan)),
    opt("planGroupId", Type::Ref(Kind::PlanGroup)),
    req("startDate", Type::DateTime),
    opt("endDate", Type::DateTime),
    opt("code", Type::GeneralCode),
    opt("billEpoch", Type::Date),
    opt("contractId", Type::Ref(Kind::Contract)),
    opt("childBillingMode", Type::Enum(CHILD_BILLING_MODES)),
    opt("customFields", Type::CustomFields),
];

pub(super) const SPEC: KindSpec = KindSpec {
    identity: Identity {
        key: Key::CodeOr(&[
            Part::OneOf(&[Alt {
                field: "accountId",
                prefix: "",
            }]),
            Part::Text("/"),
            Part::OneOf(&[
                Alt {
                    field: "planId",
                    prefix: "",
                },
                Alt {
                    field: "planGroupId",
                    prefix: "",
                },
            ]),
            Part::Text("@"),
            Part::Date("startDate"),
        ]),
        // `includeall`: an ended or future plan is found too.
        adopt: &[
            AdoptParam::Field {
                param: "account",
                field: "accountId",
            },
            AdoptParam::Fixed {
                param: "includeall",
                value: "true",
            },
        ],
        // One active account plan per product of an account.
        scope: &[&["accountId"]],
    },
    response_only: &["productId"],
    exactly_one_of: &[("planId", "planGroupId")],
    filters: &[
        by_field("account", "accountId", false),
        by_field("plan", "planId", false),
        Filter {
            needs: Some("account"),
            ..by_field("product", "productId", false)
        },
        by_field("contract", "contractId", false),
        ACTIVE_AT,
        Filter {
            param: "includeall",
            multi: false,
            matches: Match::IncludeAll { scope: "account" },
            needs: None,
        },
        IDS,
    ],
    ..KindSpec::new(
        Kind::AccountPlan,
        "accountPlan",
        "accountPlans",
        "accountplans",
        FIELDS,
    )
};
