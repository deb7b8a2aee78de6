//! Integration configuration: how entities of one type (`Bill`, …) go to an
//! integration destination (`IntegrationConfigRequest`). The API gives it
//! no code: keyed `<destination>/<entityType>`.
//!
//! Its `credentials` are the spec's `IntegrationCredentialsRequestBase`:
//! a type, a name, a destination and an `empty` flag, none of them a secret
//! (the secret parts live in integration credentials, named by
//! `integrationCredentialsId`), so the kind has no sensitive path. The
//! response schema has no `credentials`: they are write-only.

use super::{Kind, KindSpec, by_field};
use crate::identity::{AdoptParam, Alt, Identity, Key, Part};
use crate::schema::{Field, INT_GE0, Type, opt, req};

/// `^[a-zA-Z0-9_-]*$` with at least one character: written as is.
const NAME_TOKEN: Type = Type::Str {
    min: 1,
    max: usize::MAX,
};

const CREDENTIAL_TYPES: &[&str] = &[
    "HTTP_BASIC",
    "OAUTH_CLIENT_CREDENTIALS",
    "M3TER_SIGNED_REQUEST",
    "AWS_INTEGRATION",
    "PADDLE_AUTH",
    "NETSUITE_AUTH",
    "CHARGEBEE_AUTH",
    "M3TER_APP_SIGNATURE",
    "M3TER_SERVICE_USER",
    "STRIPE_SIGNED_REQUEST",
    "HUBSPOT_ACCESS_TOKEN",
    "HUBSPOT_CLIENT_SECRET",
    "OPSGENIE_KEY",
    "SAP_BYD",
    "SLACK_WEBHOOK",
    "SAGE_INTACCT_CLIENT_CREDENTIALS",
    "SAGE_INTACCT_CLIENT_SECRET",
    "STATIC_API_KEY",
];

/// `DestinationType`.
const DESTINATION_TYPES: &[&str] = &[
    "WEBHOOK",
    "NETSUITE",
    "STRIPE",
    "STRIPE_TEST",
    "AWS",
    "PADDLE",
    "PADDLE_SANDBOX",
    "SALESFORCE",
    "XERO",
    "CHARGEBEE",
    "QUICKBOOKS",
    "QUICKBOOKS_SANDBOX",
    "M3TER",
];

/// `IntegrationCredentialsRequestBase`.
const CREDENTIALS: &[Field] = &[
    req("type", Type::Enum(CREDENTIAL_TYPES)),
    opt("empty", Type::Bool),
    opt("name", Type::Text),
    opt("destination", Type::Enum(DESTINATION_TYPES)),
    opt("version", INT_GE0),
];

const FIELDS: &[Field] = &[
    req("entityType", NAME_TOKEN),
    opt("entityId", Type::Uuid),
    req("destination", NAME_TOKEN),
    opt("destinationId", Type::Uuid),
    opt("configData", Type::AnyObject),
    opt("credentials", Type::Object(CREDENTIALS)),
    opt("integrationCredentialsId", Type::Uuid),
    opt("name", Type::Text),
];

pub(super) const SPEC: KindSpec = KindSpec {
    max_page_size: 200,
    identity: Identity {
        // Both parts are what the configuration is for: a change is a replace.
        key: Key::CodeOr(&[
            Part::OneOf(&[Alt {
                field: "destination",
                prefix: "",
            }]),
            Part::Text("/"),
            Part::OneOf(&[Alt {
                field: "entityType",
                prefix: "",
            }]),
        ]),
        // The list filters only by `destinationId`: the lookup lists them all.
        adopt: &[] as &[AdoptParam],
        scope: &[],
    },
    response_only: &["authorized", "enabled", "triggerType"],
    write_only: &["credentials"],
    filters: &[by_field("destinationId", "destinationId", false)],
    ..KindSpec::new(
        Kind::IntegrationConfiguration,
        "integrationConfiguration",
        "integrationConfigurations",
        "integrationconfigs",
        FIELDS,
    )
};
