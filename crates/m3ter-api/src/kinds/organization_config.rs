//! Organization config: the org-wide settings (timezone, billing currency,
//! bill epochs, billing options). A singleton (GET/PUT
//! `/organizationconfig`).

use super::{Kind, KindSpec};
use crate::identity::{Identity, Key};
use crate::schema::{
    CREDIT_TYPES, CURRENCY_NON_EMPTY, Field, INT_GT0, NUM, NUM_GT0, STATEMENT_MODES, Type, int,
    opt, req, s,
};

const CURRENCY_CONVERSION: &[Field] = &[
    req("from", s(1, usize::MAX)),
    req("to", s(1, usize::MAX)),
    opt("multiplier", NUM_GT0),
];

/// `OrganizationConfigRequest`. The epochs are typed `string` in the spec
/// but documented (and defaulted) as dates, so they are dates here: they
/// then compare as dates. `autoApproveBillsGracePeriodUnit` and
/// `externalInvoiceDate` are strings in the request and enums in the
/// response; their descriptions list the values, so they are enums.
/// `currency` names a currency picklist entry by its code.
const FIELDS: &[Field] = &[
    req("timezone", Type::Text),
    req("yearEpoch", Type::Date),
    req("monthEpoch", Type::Date),
    req("weekEpoch", Type::Date),
    req("dayEpoch", Type::Date),
    req("currency", CURRENCY_NON_EMPTY),
    opt(
        "currencyConversions",
        Type::Array {
            item: &Type::Object(CURRENCY_CONVERSION),
            min: 0,
            max: None,
        },
    ),
    req("daysBeforeBillDue", INT_GT0),
    opt("scheduledBillInterval", NUM),
    opt("standingChargeBillInAdvance", Type::Bool),
    opt("commitmentFeeBillInAdvance", Type::Bool),
    opt("minimumSpendBillInAdvance", Type::Bool),
    opt("scheduledBillOffset", int(0, 23)),
    opt("autoApproveBillsGracePeriod", INT_GT0),
    opt(
        "autoApproveBillsGracePeriodUnit",
        Type::Enum(&["MINUTES", "HOURS", "DAYS"]),
    ),
    opt(
        "externalInvoiceDate",
        Type::Enum(&["LAST_DAY_OF_ARREARS", "FIRST_DAY_OF_NEXT_PERIOD"]),
    ),
    opt("suppressedEmptyBills", Type::Bool),
    opt("consolidateBills", Type::Bool),
    opt("defaultStatementDefinitionId", Type::Text),
    opt("autoGenerateStatementMode", Type::Enum(STATEMENT_MODES)),
    opt(
        "creditApplicationOrder",
        Type::Array {
            item: &Type::Enum(CREDIT_TYPES),
            min: 0,
            max: None,
        },
    ),
    opt("allowNegativeBalances", Type::Bool),
    opt("allowOverlappingPlans", Type::Bool),
    opt("billPrefix", Type::Text),
    opt(
        "sequenceStartNumber",
        Type::Integer {
            min: None,
            max: None,
            exclusive_min: false,
        },
    ),
];

pub(super) const SPEC: KindSpec = KindSpec {
    singleton: true,
    identity: Identity {
        key: Key::Singleton("organizationConfig"),
        adopt: &[],
        scope: &[],
    },
    ..KindSpec::new(
        Kind::OrganizationConfig,
        "organizationConfig",
        "organizationConfig",
        "organizationconfig",
        FIELDS,
    )
};
