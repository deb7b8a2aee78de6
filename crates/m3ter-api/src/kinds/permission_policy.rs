//! Permission policy: named permission statements (`PermissionPolicyRequest`).
//! The API gives a policy no code: keyed by its `name`, so a rename is a
//! replace (a new policy under the new name, the old one deleted).
//!
//! A statement's `resource` strings are written as m3ter writes them
//! (`config:product/<id>`, `config:product/*`, `config:*`, …): the spec
//! types them as free strings, so the tool passes them through and compares
//! them as given.

use super::{BY_NAME, Kind, KindSpec};
use crate::schema::{Field, Type, req, s};

/// `PermissionEffect`.
const EFFECTS: &[&str] = &["ALLOW", "DENY"];

/// `PermissionAction`.
const ACTIONS: &[&str] = &[
    "ALL",
    "CONFIG_CREATE",
    "CONFIG_RETRIEVE",
    "CONFIG_UPDATE",
    "CONFIG_DELETE",
    "CONFIG_EXPORT",
    "ANALYTICS_QUERY",
    "MEASUREMENTS_UPLOAD",
    "MEASUREMENTS_FILEUPLOAD",
    "MEASUREMENTS_RETRIEVE",
    "MEASUREMENTS_EXPORT",
    "FORECAST_RETRIEVE",
    "HEALTHSCORES_RETRIEVE",
    "ANOMALIES_RETRIEVE",
    "EXPORTS_DOWNLOAD",
    "MARKETPLACE_USAGE_CREATE",
    "MARKETPLACE_USAGE_RETRIEVE",
    "AUDIT_RETRIEVE",
];

const ACTION: Type = Type::Enum(ACTIONS);
/// Not empty; the spec gives no maximum length.
const RESOURCE: Type = Type::Str {
    min: 1,
    max: usize::MAX,
};

/// `PermissionStatement`. The spec sets no `minItems` on `action`.
const STATEMENT: &[Field] = &[
    req("effect", Type::Enum(EFFECTS)),
    req(
        "action",
        Type::Array {
            item: &ACTION,
            min: 0,
            max: None,
        },
    ),
    req(
        "resource",
        Type::Array {
            item: &RESOURCE,
            min: 1,
            max: None,
        },
    ),
];

const STATEMENT_OBJECT: Type = Type::Object(STATEMENT);

const FIELDS: &[Field] = &[
    req("name", s(1, 100)),
    req(
        "permissionPolicy",
        Type::Array {
            item: &STATEMENT_OBJECT,
            min: 1,
            max: None,
        },
    ),
];

pub(super) const SPEC: KindSpec = KindSpec {
    identity: BY_NAME,
    // Set by m3ter on the policies it manages itself.
    response_only: &["managedPolicy"],
    ..KindSpec::new(
        Kind::PermissionPolicy,
        "permissionPolicy",
        "permissionPolicies",
        "permissionpolicies",
        FIELDS,
    )
};
