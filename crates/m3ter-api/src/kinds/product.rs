//! Product: the top of the graph; keyed by code.

use super::{IDS, Kind, KindSpec};
use crate::identity::{AdoptParam, Identity, Key};
use crate::schema::{Field, Type, opt, req, s};

const FIELDS: &[Field] = &[
    req("name", s(1, 200)),
    req("code", Type::GeneralCode),
    opt("customFields", Type::CustomFields),
];

pub(super) const SPEC: KindSpec = KindSpec {
    max_page_size: 200,
    identity: Identity {
        key: Key::Code,
        // No `codes` filter: the lookup lists them all.
        adopt: &[] as &[AdoptParam],
        scope: &[],
    },
    filters: &[IDS],
    ..KindSpec::new(Kind::Product, "product", "products", "products", FIELDS)
};
