//! Picklists: the org's lists of currencies, transaction types, credit
//! reasons and debit reasons, under `/picklists/…`; each entry keyed by its
//! code. The three plain lists share one schema (`AbstractPickListRequest`);
//! currency adds decimal places and rounding.

use super::{CODES, Filter, IDS, Kind, KindSpec, Match};
use crate::identity::{AdoptParam, Identity, Key};
use crate::schema::{Field, ROUNDING_MODES, Type, int, opt, req, s};

/// `AbstractPickListRequest`.
const FIELDS: &[Field] = &[
    // The API makes `code` optional; the tool keys picklist entries by it.
    opt("code", Type::IdentCode),
    req("name", s(1, 200)),
    opt("archived", Type::Bool),
];

/// `CurrencyRequest`: the picklist fields and the currency's rounding.
const CURRENCY_FIELDS: &[Field] = &[
    opt("code", Type::IdentCode),
    req("name", s(1, 200)),
    opt("archived", Type::Bool),
    opt("maxDecimalPlaces", int(0, 5)),
    opt("roundingMode", Type::Enum(ROUNDING_MODES)),
];

/// `archived=true|false`: the archived entries, or the others.
const ARCHIVED: Filter = Filter {
    param: "archived",
    multi: false,
    matches: Match::Flag("archived"),
    needs: None,
};

/// What every picklist shares: keyed by code, adopted by `codes`, filtered
/// by `ids`, `codes` and `archived`, pages of at most 100.
const fn picklist(
    kind: Kind,
    name: &'static str,
    section: &'static str,
    collection: &'static str,
    fields: &'static [Field],
) -> KindSpec {
    KindSpec {
        identity: Identity {
            key: Key::Code,
            adopt: &[AdoptParam::Field {
                param: "codes",
                field: "code",
            }],
            scope: &[],
        },
        filters: &[IDS, CODES, ARCHIVED],
        ..KindSpec::new(kind, name, section, collection, fields)
    }
}

pub(super) const CURRENCY: KindSpec = picklist(
    Kind::Currency,
    "currency",
    "currencies",
    "picklists/currency",
    CURRENCY_FIELDS,
);

pub(super) const TRANSACTION_TYPE: KindSpec = picklist(
    Kind::TransactionType,
    "transactionType",
    "transactionTypes",
    "picklists/transactiontypes",
    FIELDS,
);

pub(super) const CREDIT_REASON: KindSpec = picklist(
    Kind::CreditReason,
    "creditReason",
    "creditReasons",
    "picklists/creditreasons",
    FIELDS,
);

pub(super) const DEBIT_REASON: KindSpec = picklist(
    Kind::DebitReason,
    "debitReason",
    "debitReasons",
    "picklists/debitreasons",
    FIELDS,
);
