//! The vocabulary of request schemas: field types and limits, the enum
//! values kinds share, and helpers to write schemas as constants. The
//! schemas themselves are in each kind's table entry (`crate::kinds`),
//! transcribed from m3ter's OpenAPI document (`shared/openapi/`) and the API
//! notes (`shared/m3ter-api.md` §3).

pub use crate::kinds::{
    DefaultBy, FieldDefault, Filter, Kind, KindSpec, Literal, Match, Reference,
};

/// The JSON type and limits of one request field.
#[derive(Debug, Clone, Copy)]
pub enum Type {
    /// A string with a length range (characters).
    Str {
        min: usize,
        max: usize,
    },
    /// A string without a documented length limit.
    Text,
    /// "General code": 1–80 characters, no control characters, no leading or
    /// trailing whitespace (inner spaces allowed).
    GeneralCode,
    /// "Identifier code": ≤80 characters, letters, digits, `_` and `$`, not
    /// starting with a digit.
    IdentCode,
    /// A 36-character UUID of an entity of a kind this tool does not manage.
    Uuid,
    /// A 36-character UUID of an entity of the given kind (a reference).
    Ref(Kind),
    /// The code (not the id) of an entity of the given kind, with the
    /// limits of the given type: the API field holds the code itself
    /// (`currency: USD`), so nothing is translated. When the desired state
    /// declares an entity of that kind with that key, it becomes a
    /// dependency (`Kind::code_refs`, docs/emulator.md); whether an
    /// undeclared one is allowed is the kind's rule (`currency.known`; a
    /// notification's `eventName` names a scheduled event configuration by
    /// its key, its name, or else a system event type).
    CodeRef(Kind, &'static Type),
    /// The UUID of an entity of any of several kinds, the kind named by a
    /// sibling field (an external mapping's `m3terId`, whose kind is its
    /// `m3terEntity`). In YAML it is written as the target's address under
    /// [`AnyRef::yaml_key`] (`entity: account.acme`); the loader fills in
    /// the kind field from the address's kind.
    AnyRef(&'static AnyRef),
    /// A JSON number with an optional lower bound.
    Number {
        min: Option<f64>,
        exclusive_min: bool,
    },
    /// A JSON integer with optional bounds.
    Integer {
        min: Option<i64>,
        max: Option<i64>,
        exclusive_min: bool,
    },
    Bool,
    Enum(&'static [&'static str]),
    /// `YYYY-MM-DD`.
    Date,
    /// ISO-8601 date-time with `Z` or an offset.
    DateTime,
    Email,
    /// `customFields`: map of name → string | number, at most 100 entries.
    CustomFields,
    /// Map of string → string.
    StringMap,
    Array {
        item: &'static Type,
        min: usize,
        max: Option<usize>,
    },
    Object(&'static [Field]),
    /// An object of any properties (`additionalProperties: true`), compared
    /// whole (an integration's `configData`).
    AnyObject,
}

/// A reference to an entity of one of several kinds ([`Type::AnyRef`]).
#[derive(Debug, Clone, Copy)]
pub struct AnyRef {
    /// The sibling field that names the target's kind (`m3terEntity`).
    pub kind_field: &'static str,
    /// The desired-state key the address is written under (`entity`).
    pub yaml_key: &'static str,
    /// The kinds it may point at, each with the name the kind field gives
    /// it (`(Kind::Account, "Account")`). Only kinds keyed by `code`, so
    /// that a live target's address follows from its code.
    pub kinds: &'static [(Kind, &'static str)],
}

impl AnyRef {
    /// The kind the kind field's value `name` stands for.
    pub fn kind_named(&self, name: &str) -> Option<Kind> {
        self.kinds.iter().find(|(_, n)| *n == name).map(|(k, _)| *k)
    }

    /// The kind field's value for `kind`.
    pub fn name_of(&self, kind: Kind) -> Option<&'static str> {
        self.kinds.iter().find(|(k, _)| *k == kind).map(|(_, n)| *n)
    }
}

/// One field of a request schema.
#[derive(Debug, Clone, Copy)]
pub struct Field {
    pub name: &'static str,
    pub ty: Type,
    pub required: bool,
}

pub(crate) const fn req(name: &'static str, ty: Type) -> Field {
    Field {
        name,
        ty,
        required: true,
    }
}
pub(crate) const fn opt(name: &'static str, ty: Type) -> Field {
    Field {
        name,
        ty,
        required: false,
    }
}
pub(crate) const fn s(min: usize, max: usize) -> Type {
    Type::Str { min, max }
}
/// An ISO 4217 code as plan templates and plan groups hold it: exactly 3
/// characters.
const CODE3: Type = s(3, 3);
/// A currency field of exactly 3 characters, naming a `currency` picklist
/// entry by its code.
pub(crate) const CURRENCY_CODE: Type = Type::CodeRef(Kind::Currency, &CODE3);
/// A currency field with no documented length (account `currency`).
pub(crate) const CURRENCY_TEXT: Type = Type::CodeRef(Kind::Currency, &Type::Text);
/// A required currency field of at least one character and no documented
/// maximum (commitment, balance, organization config `currency`).
pub(crate) const CURRENCY_NON_EMPTY: Type = Type::CodeRef(
    Kind::Currency,
    &Type::Str {
        min: 1,
        max: usize::MAX,
    },
);
pub(crate) const NUM_GE0: Type = Type::Number {
    min: Some(0.0),
    exclusive_min: false,
};
pub(crate) const NUM_GT0: Type = Type::Number {
    min: Some(0.0),
    exclusive_min: true,
};
pub(crate) const NUM: Type = Type::Number {
    min: None,
    exclusive_min: false,
};
pub(crate) const fn int(min: i64, max: i64) -> Type {
    Type::Integer {
        min: Some(min),
        max: Some(max),
        exclusive_min: false,
    }
}
pub(crate) const INT_GE0: Type = Type::Integer {
    min: Some(0),
    max: None,
    exclusive_min: false,
};
pub(crate) const INT_GT0: Type = Type::Integer {
    min: Some(0),
    max: None,
    exclusive_min: true,
};

pub const DATA_FIELD_CATEGORIES: &[&str] = &[
    "WHO", "WHERE", "WHAT", "OTHER", "METADATA", "MEASURE", "INCOME", "COST",
];
/// Categories whose values are numbers (the rest are strings).
pub const NUMERIC_CATEGORIES: &[&str] = &["MEASURE", "INCOME", "COST"];
pub const ROUNDINGS: &[&str] = &["UP", "DOWN", "NEAREST", "NONE"];
pub const AGGREGATIONS: &[&str] = &[
    "SUM",
    "MIN",
    "MAX",
    "COUNT",
    "LATEST",
    "MEAN",
    "UNIQUE",
    "CUSTOM_SQL",
];
pub const BILL_FREQUENCIES: &[&str] =
    &["DAILY", "WEEKLY", "MONTHLY", "ANNUALLY", "AD_HOC", "MIXED"];
pub const PRICING_TYPES: &[&str] = &["DEBIT", "PRODUCT_CREDIT", "GLOBAL_CREDIT"];
pub const STATEMENT_MODES: &[&str] = &["NONE", "JSON", "JSON_AND_CSV"];
pub const CREDIT_TYPES: &[&str] = &["PREPAYMENT", "BALANCE"];
/// A currency's `roundingMode` (Java's `RoundingMode`).
pub const ROUNDING_MODES: &[&str] = &[
    "UP",
    "DOWN",
    "CEILING",
    "FLOOR",
    "HALF_UP",
    "HALF_DOWN",
    "HALF_EVEN",
    "UNNECESSARY",
];
pub const CHILD_BILLING_MODES: &[&str] = &["PARENT_SUMMARY", "PARENT_BREAKDOWN", "CHILD"];

/// Fields every config entity response carries that are never sent.
pub const COMMON_READ_ONLY: &[&str] = &[
    "id",
    "version",
    "dtCreated",
    "dtLastModified",
    "createdBy",
    "lastModifiedBy",
];

/// Whether the dotted `path` (`credentials.secret`) names a string field of
/// `fields`, through object fields: what a sensitive path must be.
pub fn path_is_string(fields: &[Field], path: &str) -> bool {
    let (head, rest) = match path.split_once('.') {
        Some((h, r)) => (h, Some(r)),
        None => (path, None),
    };
    let Some(field) = fields.iter().find(|f| f.name == head) else {
        return false;
    };
    match (field.ty, rest) {
        (Type::Object(inner), Some(rest)) => path_is_string(inner, rest),
        (Type::Str { .. } | Type::Text, None) => true,
        _ => false,
    }
}
