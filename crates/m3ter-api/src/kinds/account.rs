//! Account: a customer; keyed by code.

use super::{CODES, IDS, Kind, KindSpec};
use crate::identity::{AdoptParam, Identity, Key};
use crate::schema::{
    CREDIT_TYPES, CURRENCY_TEXT, Field, INT_GT0, STATEMENT_MODES, Type, opt, req, s,
};

const ADDRESS: &[Field] = &[
    opt("addressLine1", s(0, 50)),
    opt("addressLine2", s(0, 50)),
    opt("addressLine3", Type::Text),
    opt("addressLine4", Type::Text),
    opt("locality", s(0, 100)),
    opt("region", s(0, 50)),
    opt("postCode", s(0, 20)),
    opt("country", s(0, 100)),
];

const FIELDS: &[Field] = &[
    req("name", s(1, 200)),
    req("code", Type::GeneralCode),
    req("emailAddress", Type::Email),
    opt("address", Type::Object(ADDRESS)),
    opt("parentAccountId", Type::Ref(Kind::Account)),
    opt("billEpoch", Type::Date),
    opt("purchaseOrderNumber", s(0, 100)),
    opt("currency", CURRENCY_TEXT),
    opt("daysBeforeBillDue", INT_GT0),
    opt("statementDefinitionId", Type::Text),
    opt("autoGenerateStatementMode", Type::Enum(STATEMENT_MODES)),
    opt(
        "creditApplicationOrder",
        Type::Array {
            item: &Type::Enum(CREDIT_TYPES),
            min: 0,
            max: None,
        },
    ),
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
    filters: &[IDS, CODES],
    ..KindSpec::new(Kind::Account, "account", "accounts", "accounts", FIELDS)
};
