//! Request schemas of the nine config kinds, transcribed from m3ter's OpenAPI
//! document (`shared/openapi/`) and the API notes (`shared/m3ter-api.md` §3).

use std::fmt;

/// The nine configuration kinds the tool manages, in dependency-friendly order.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "camelCase")]
pub enum Kind {
    Product,
    Meter,
    Aggregation,
    CompoundAggregation,
    PlanTemplate,
    Plan,
    Pricing,
    Account,
    AccountPlan,
}

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
}

/// One field of a request schema.
#[derive(Debug, Clone, Copy)]
pub struct Field {
    pub name: &'static str,
    pub ty: Type,
    pub required: bool,
}

/// A field that holds the UUID of another managed entity. In desired state it
/// is written as `yaml_key: <code>` instead of `field: <uuid>`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Reference {
    /// API field, e.g. `productId`.
    pub field: &'static str,
    /// Desired-state key, e.g. `product`.
    pub yaml_key: &'static str,
    pub target: Kind,
}

/// A documented list filter (query parameter) of a kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Filter {
    pub param: &'static str,
    /// Accepts several values (comma-joined or repeated).
    pub multi: bool,
}

const fn req(name: &'static str, ty: Type) -> Field {
    Field {
        name,
        ty,
        required: true,
    }
}
const fn opt(name: &'static str, ty: Type) -> Field {
    Field {
        name,
        ty,
        required: false,
    }
}
const fn s(min: usize, max: usize) -> Type {
    Type::Str { min, max }
}
const NUM_GE0: Type = Type::Number {
    min: Some(0.0),
    exclusive_min: false,
};
const NUM_GT0: Type = Type::Number {
    min: Some(0.0),
    exclusive_min: true,
};
const NUM: Type = Type::Number {
    min: None,
    exclusive_min: false,
};
const fn int(min: i64, max: i64) -> Type {
    Type::Integer {
        min: Some(min),
        max: Some(max),
        exclusive_min: false,
    }
}
const INT_GE0: Type = Type::Integer {
    min: Some(0),
    max: None,
    exclusive_min: false,
};
const INT_GT0: Type = Type::Integer {
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
pub const CHILD_BILLING_MODES: &[&str] = &["PARENT_SUMMARY", "PARENT_BREAKDOWN", "CHILD"];

const DATA_FIELD: &[Field] = &[
    req("category", Type::Enum(DATA_FIELD_CATEGORIES)),
    req("code", Type::IdentCode),
    req("name", s(1, 200)),
    opt("unit", s(1, 50)),
];
const DERIVED_FIELD: &[Field] = &[
    req("category", Type::Enum(DATA_FIELD_CATEGORIES)),
    req("code", Type::IdentCode),
    req("name", s(1, 200)),
    opt("unit", s(1, 50)),
    req("calculation", s(1, 5000)),
];
const PRICING_BAND: &[Field] = &[
    req("lowerLimit", NUM_GE0),
    req("fixedPrice", NUM),
    req("unitPrice", NUM),
    opt("id", Type::Text),
    opt("creditTypeId", Type::Text),
];
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
const STRING_ITEM: Type = Type::Str {
    min: 0,
    max: usize::MAX,
};
const STRING_MAP_ITEM: Type = Type::StringMap;

const PRODUCT: &[Field] = &[
    req("name", s(1, 200)),
    req("code", Type::GeneralCode),
    opt("customFields", Type::CustomFields),
];
const METER: &[Field] = &[
    req("name", s(1, 200)),
    req("code", Type::GeneralCode),
    opt("productId", Type::Ref(Kind::Product)),
    opt("groupId", Type::Uuid),
    req(
        "dataFields",
        Type::Array {
            item: &Type::Object(DATA_FIELD),
            min: 1,
            max: Some(15),
        },
    ),
    req(
        "derivedFields",
        Type::Array {
            item: &Type::Object(DERIVED_FIELD),
            min: 0,
            max: Some(15),
        },
    ),
    opt("customFields", Type::CustomFields),
];
const AGGREGATION: &[Field] = &[
    req("name", s(1, 200)),
    req("meterId", Type::Ref(Kind::Meter)),
    req("targetField", s(1, 80)),
    req("aggregation", Type::Enum(AGGREGATIONS)),
    req("rounding", Type::Enum(ROUNDINGS)),
    req("quantityPerUnit", NUM_GT0),
    req("unit", s(1, 50)),
    opt("code", Type::IdentCode),
    opt("accountingProductId", Type::Ref(Kind::Product)),
    opt(
        "segmentedFields",
        Type::Array {
            item: &STRING_ITEM,
            min: 0,
            max: Some(5),
        },
    ),
    opt(
        "segments",
        Type::Array {
            item: &STRING_MAP_ITEM,
            min: 0,
            max: Some(1000),
        },
    ),
    opt("defaultValue", NUM_GE0),
    opt("customSql", s(0, 2048)),
    opt("customFields", Type::CustomFields),
];
const COMPOUND_AGGREGATION: &[Field] = &[
    req("name", s(1, 200)),
    req("rounding", Type::Enum(ROUNDINGS)),
    req("quantityPerUnit", NUM_GT0),
    req("unit", s(1, 50)),
    req("calculation", s(1, 5000)),
    opt("code", Type::IdentCode),
    opt("productId", Type::Ref(Kind::Product)),
    opt("accountingProductId", Type::Ref(Kind::Product)),
    opt("evaluateNullAggregations", Type::Bool),
    opt("customFields", Type::CustomFields),
];
const PLAN_TEMPLATE: &[Field] = &[
    req("productId", Type::Ref(Kind::Product)),
    req("name", s(1, 200)),
    req("currency", s(3, 3)),
    req("standingCharge", NUM_GE0),
    req("billFrequency", Type::Enum(BILL_FREQUENCIES)),
    opt("billFrequencyInterval", int(1, 365)),
    opt("code", Type::GeneralCode),
    opt("standingChargeDescription", s(0, 200)),
    opt("standingChargeInterval", int(1, 365)),
    opt("standingChargeOffset", int(0, 364)),
    opt("standingChargeBillInAdvance", Type::Bool),
    opt("minimumSpend", NUM_GE0),
    opt("minimumSpendDescription", s(0, 200)),
    opt("minimumSpendBillInAdvance", Type::Bool),
    opt("ordinal", INT_GE0),
    opt("customFields", Type::CustomFields),
];
const PLAN: &[Field] = &[
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
const PRICING: &[Field] = &[
    opt("planId", Type::Ref(Kind::Plan)),
    opt("planTemplateId", Type::Ref(Kind::PlanTemplate)),
    opt("aggregationId", Type::Ref(Kind::Aggregation)),
    opt(
        "compoundAggregationId",
        Type::Ref(Kind::CompoundAggregation),
    ),
    req(
        "pricingBands",
        Type::Array {
            item: &Type::Object(PRICING_BAND),
            min: 1,
            max: None,
        },
    ),
    req("startDate", Type::DateTime),
    opt("endDate", Type::DateTime),
    opt("type", Type::Enum(PRICING_TYPES)),
    opt("cumulative", Type::Bool),
    opt("tiersSpanPlan", Type::Bool),
    opt("segment", Type::StringMap),
    opt("code", Type::GeneralCode),
    opt("description", s(0, 200)),
    opt("accountingProductId", Type::Ref(Kind::Product)),
    opt("minimumSpend", NUM_GE0),
    opt("minimumSpendDescription", s(0, 200)),
    opt("minimumSpendBillInAdvance", Type::Bool),
    opt(
        "overagePricingBands",
        Type::Array {
            item: &Type::Object(PRICING_BAND),
            min: 0,
            max: None,
        },
    ),
];
const ACCOUNT: &[Field] = &[
    req("name", s(1, 200)),
    req("code", Type::GeneralCode),
    req("emailAddress", Type::Email),
    opt("address", Type::Object(ADDRESS)),
    opt("parentAccountId", Type::Ref(Kind::Account)),
    opt("billEpoch", Type::Date),
    opt("purchaseOrderNumber", s(0, 100)),
    opt("currency", Type::Text),
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
const ACCOUNT_PLAN: &[Field] = &[
    req("accountId", Type::Ref(Kind::Account)),
    opt("planId", Type::Ref(Kind::Plan)),
    opt("planGroupId", Type::Uuid),
    req("startDate", Type::DateTime),
    opt("endDate", Type::DateTime),
    opt("code", Type::GeneralCode),
    opt("billEpoch", Type::Date),
    opt("contractId", Type::Uuid),
    opt("childBillingMode", Type::Enum(CHILD_BILLING_MODES)),
    opt("customFields", Type::CustomFields),
];

/// Fields every config entity response carries that are never sent.
pub const COMMON_READ_ONLY: &[&str] = &[
    "id",
    "version",
    "dtCreated",
    "dtLastModified",
    "createdBy",
    "lastModifiedBy",
];

const fn f(param: &'static str, multi: bool) -> Filter {
    Filter { param, multi }
}

impl Kind {
    /// Every kind, in an order where a kind's references come before it.
    pub const ALL: [Kind; 9] = [
        Kind::Product,
        Kind::Meter,
        Kind::Aggregation,
        Kind::CompoundAggregation,
        Kind::PlanTemplate,
        Kind::Plan,
        Kind::Pricing,
        Kind::Account,
        Kind::AccountPlan,
    ];

    /// Name used in addresses (`product`, `compoundAggregation`, …).
    pub fn name(self) -> &'static str {
        match self {
            Kind::Product => "product",
            Kind::Meter => "meter",
            Kind::Aggregation => "aggregation",
            Kind::CompoundAggregation => "compoundAggregation",
            Kind::PlanTemplate => "planTemplate",
            Kind::Plan => "plan",
            Kind::Pricing => "pricing",
            Kind::Account => "account",
            Kind::AccountPlan => "accountPlan",
        }
    }

    /// Parses an address kind name.
    pub fn from_name(name: &str) -> Option<Kind> {
        Kind::ALL.into_iter().find(|k| k.name() == name)
    }

    /// Top-level key of the desired-state YAML (`products`, …).
    pub fn section(self) -> &'static str {
        match self {
            Kind::Product => "products",
            Kind::Meter => "meters",
            Kind::Aggregation => "aggregations",
            Kind::CompoundAggregation => "compoundAggregations",
            Kind::PlanTemplate => "planTemplates",
            Kind::Plan => "plans",
            Kind::Pricing => "pricings",
            Kind::Account => "accounts",
            Kind::AccountPlan => "accountPlans",
        }
    }

    /// Parses a desired-state top-level key.
    pub fn from_section(section: &str) -> Option<Kind> {
        Kind::ALL.into_iter().find(|k| k.section() == section)
    }

    /// Path segment of the collection under `/organizations/{orgId}/`.
    pub fn collection(self) -> &'static str {
        match self {
            Kind::Product => "products",
            Kind::Meter => "meters",
            Kind::Aggregation => "aggregations",
            Kind::CompoundAggregation => "compoundaggregations",
            Kind::PlanTemplate => "plantemplates",
            Kind::Plan => "plans",
            Kind::Pricing => "pricings",
            Kind::Account => "accounts",
            Kind::AccountPlan => "accountplans",
        }
    }

    /// Parses a collection path segment.
    pub fn from_collection(segment: &str) -> Option<Kind> {
        Kind::ALL.into_iter().find(|k| k.collection() == segment)
    }

    /// Largest `pageSize` the list endpoint accepts.
    pub fn max_page_size(self) -> u32 {
        match self {
            Kind::Product => 200,
            _ => 100,
        }
    }

    /// The request schema (same for POST and PUT), without `version`.
    pub fn fields(self) -> &'static [Field] {
        match self {
            Kind::Product => PRODUCT,
            Kind::Meter => METER,
            Kind::Aggregation => AGGREGATION,
            Kind::CompoundAggregation => COMPOUND_AGGREGATION,
            Kind::PlanTemplate => PLAN_TEMPLATE,
            Kind::Plan => PLAN,
            Kind::Pricing => PRICING,
            Kind::Account => ACCOUNT,
            Kind::AccountPlan => ACCOUNT_PLAN,
        }
    }

    /// Looks up a request field by name.
    pub fn field(self, name: &str) -> Option<&'static Field> {
        self.fields().iter().find(|f| f.name == name)
    }

    /// Whether the kind has a `code` field that identifies it (the tool
    /// requires `code` for these even where the API makes it optional).
    pub fn has_identity_code(self) -> bool {
        !matches!(self, Kind::Pricing | Kind::AccountPlan)
    }

    /// Pairs of fields of which exactly one must be given.
    pub fn exactly_one_of(self) -> &'static [(&'static str, &'static str)] {
        match self {
            Kind::Pricing => &[
                ("planId", "planTemplateId"),
                ("aggregationId", "compoundAggregationId"),
            ],
            Kind::AccountPlan => &[("planId", "planGroupId")],
            _ => &[],
        }
    }

    /// Response-only fields specific to the kind (besides [`COMMON_READ_ONLY`]).
    pub fn response_only(self) -> &'static [&'static str] {
        match self {
            Kind::Plan | Kind::AccountPlan => &["productId"],
            Kind::Pricing => &["aggregationType", "segmentString"],
            Kind::CompoundAggregation => &["segments"],
            _ => &[],
        }
    }

    /// Fields that cannot change after create: a change is a replace.
    pub fn immutable_fields(self) -> &'static [&'static str] {
        match self {
            Kind::Plan => &["accountId"],
            _ => &[],
        }
    }

    /// Reference fields of the kind: the UUID fields that point at managed kinds.
    pub fn references(self) -> Vec<Reference> {
        self.fields()
            .iter()
            .filter_map(|f| match f.ty {
                Type::Ref(target) => Some(Reference {
                    field: f.name,
                    yaml_key: yaml_key_of(f.name),
                    target,
                }),
                _ => None,
            })
            .collect()
    }

    /// The list filters the API documents for the kind.
    pub fn filters(self) -> &'static [Filter] {
        const PRODUCT_F: &[Filter] = &[f("ids", true)];
        const WITH_CODES: &[Filter] = &[f("productId", true), f("ids", true), f("codes", true)];
        const PLAN_TEMPLATE_F: &[Filter] = &[f("productId", false), f("ids", true)];
        const PLAN_F: &[Filter] = &[f("productId", false), f("accountId", true), f("ids", true)];
        const PRICING_F: &[Filter] = &[
            f("date", false),
            f("planId", false),
            f("planTemplateId", false),
            f("aggregationId", false),
            f("ids", true),
        ];
        const ACCOUNT_F: &[Filter] = &[f("ids", true), f("codes", true)];
        const ACCOUNT_PLAN_F: &[Filter] = &[
            f("account", false),
            f("plan", false),
            f("product", false),
            f("contract", false),
            f("date", false),
            f("includeall", false),
            f("ids", true),
        ];
        match self {
            Kind::Product => PRODUCT_F,
            Kind::Meter | Kind::Aggregation | Kind::CompoundAggregation => WITH_CODES,
            Kind::PlanTemplate => PLAN_TEMPLATE_F,
            Kind::Plan => PLAN_F,
            Kind::Pricing => PRICING_F,
            Kind::Account => ACCOUNT_F,
            Kind::AccountPlan => ACCOUNT_PLAN_F,
        }
    }
}

/// `productId` → `product`, `standingChargeAccountingProductId` →
/// `standingChargeAccountingProduct`, `parentAccountId` → `parentAccount`.
fn yaml_key_of(field: &'static str) -> &'static str {
    field.strip_suffix("Id").unwrap_or(field)
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for k in Kind::ALL {
            assert_eq!(Kind::from_name(k.name()), Some(k));
            assert_eq!(Kind::from_section(k.section()), Some(k));
            assert_eq!(Kind::from_collection(k.collection()), Some(k));
        }
    }

    #[test]
    fn reference_keys_drop_the_id_suffix() {
        let refs = Kind::Plan.references();
        let keys: Vec<_> = refs.iter().map(|r| r.yaml_key).collect();
        assert_eq!(
            keys,
            [
                "planTemplate",
                "standingChargeAccountingProduct",
                "minimumSpendAccountingProduct",
                "account"
            ]
        );
        assert_eq!(Kind::Account.references()[0].yaml_key, "parentAccount");
    }

    #[test]
    fn references_come_before_their_dependents_in_all() {
        for k in Kind::ALL {
            for r in k.references() {
                // Self-references (parentAccount) and the bespoke plan's
                // account are the only forward edges.
                let ok = r.target <= k || (k == Kind::Plan && r.target == Kind::Account);
                assert!(ok, "{k} -> {}", r.target);
            }
        }
    }
}
