//! Contract: an account's agreement over a period, which commitments,
//! balances and account plans can be linked to; keyed by code.

use super::{CODES, IDS, Kind, KindSpec, by_field};
use crate::identity::{AdoptParam, Identity, Key};
use crate::schema::{Field, Type, opt, req, s};

/// `UsageFilterMode`.
const USAGE_FILTER_MODES: &[&str] = &["INCLUDE", "EXCLUDE"];

/// `UsageFilter`: charge only for usage whose meter dimension has (or has
/// not) this value.
const USAGE_FILTER: &[Field] = &[
    req(
        "dimensionCode",
        Type::Str {
            min: 1,
            max: usize::MAX,
        },
    ),
    req(
        "value",
        Type::Str {
            min: 1,
            max: usize::MAX,
        },
    ),
    req("mode", Type::Enum(USAGE_FILTER_MODES)),
];

const FIELDS: &[Field] = &[
    req("accountId", Type::Ref(Kind::Account)),
    req("name", s(1, 200)),
    // The API makes `code` optional; the tool keys contracts by it.
    opt("code", Type::GeneralCode),
    opt("description", s(0, 500)),
    opt("purchaseOrderNumber", s(0, 100)),
    opt("applyContractPeriodLimits", Type::Bool),
    opt(
        "usageFilters",
        Type::Array {
            item: &Type::Object(USAGE_FILTER),
            min: 0,
            max: None,
        },
    ),
    // A bill grouping key is no kind the tool manages.
    opt("billGroupingKeyId", Type::Text),
    req("startDate", Type::Date),
    req("endDate", Type::Date),
    opt("customFields", Type::CustomFields),
];

pub(super) const SPEC: KindSpec = KindSpec {
    identity: Identity {
        key: Key::Code,
        adopt: &[AdoptParam::Field {
            param: "codes",
            field: "code",
        }],
        scope: &[],
    },
    // A contract belongs to one account for good: moving it is a replace.
    immutable: &["accountId"],
    filters: &[IDS, CODES, by_field("accountId", "accountId", false)],
    ..KindSpec::new(Kind::Contract, "contract", "contracts", "contracts", FIELDS)
};
