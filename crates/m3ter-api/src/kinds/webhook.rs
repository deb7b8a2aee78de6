//! Webhook: an integration destination that m3ter signs its requests to
//! with an API key and secret (`WebhookDestinationRequest`); keyed by code.
//! Both credentials are sensitive: never shown, never stored by the tool.

use super::{IDS, Kind, KindSpec};
use crate::identity::{AdoptParam, Identity, Key};
use crate::schema::{Field, INT_GE0, Type, opt, req};

/// At least one character, no documented maximum.
const NON_EMPTY: Type = Type::Str {
    min: 1,
    max: usize::MAX,
};

/// `IntegrationM3terSignedCredentialsRequest` (with the base's `empty`).
const CREDENTIALS: &[Field] = &[
    req("type", Type::Enum(&["M3TER_SIGNED_REQUEST"])),
    req("apiKey", NON_EMPTY),
    req("secret", NON_EMPTY),
    opt("empty", Type::Bool),
    // The spec's credentials are an `AbstractRequest` too.
    opt("version", INT_GE0),
];

const FIELDS: &[Field] = &[
    req("name", NON_EMPTY),
    req("description", NON_EMPTY),
    // The API makes `code` optional (a plain string); the tool keys
    // webhooks by it.
    opt("code", Type::GeneralCode),
    opt("active", Type::Bool),
    req("url", NON_EMPTY),
    req("credentials", Type::Object(CREDENTIALS)),
];

pub(super) const SPEC: KindSpec = KindSpec {
    max_page_size: 200,
    identity: Identity {
        key: Key::Code,
        // The list has no `codes` filter: the lookup lists them all.
        adopt: &[] as &[AdoptParam],
        scope: &[],
    },
    sensitive: &["credentials.apiKey", "credentials.secret"],
    filters: &[IDS],
    ..KindSpec::new(
        Kind::Webhook,
        "webhook",
        "webhooks",
        "integrationdestinations/webhooks",
        FIELDS,
    )
};
