//! Bill config: the org-wide bill lock date (bills whose service period
//! ends on or before it are locked). A singleton (GET/PUT `/billconfig`).

use super::{Kind, KindSpec};
use crate::identity::{Identity, Key};
use crate::schema::{Field, Type, opt};

const FIELDS: &[Field] = &[opt("billLockDate", Type::Date)];

pub(super) const SPEC: KindSpec = KindSpec {
    singleton: true,
    identity: Identity {
        key: Key::Singleton("billConfig"),
        adopt: &[],
        scope: &[],
    },
    ..KindSpec::new(
        Kind::BillConfig,
        "billConfig",
        "billConfig",
        "billconfig",
        FIELDS,
    )
};
