//! Resource group: a named, typed group of entities (`ResourceGroupRequest`),
//! that permission policies can name. The group's `type` is a path segment
//! (`/resourcegroups/<type>`), not part of the body: in YAML it is a field
//! like any other, and [`super::Typed`] tells the client and the emulator
//! to move it into the path. The API gives a group no code: keyed
//! `<type>/<name>` (`resourceGroup["account/Big customers"]`), so a rename
//! or a change of type is a replace.

use super::{Kind, KindSpec, Members, Typed};
use crate::identity::{AdoptParam, Alt, Identity, Key, Part};
use crate::schema::{Field, Type, opt, req, s};

/// The group types, as the path spells them, and the kind of their items.
/// The spec leaves `{type}` a free string; these are the code-keyed kinds
/// m3ter groups, in the lower case of its paths.
const TYPES: Typed = Typed {
    field: "type",
    values: &[
        ("account", Kind::Account),
        ("aggregation", Kind::Aggregation),
        ("compoundaggregation", Kind::CompoundAggregation),
        ("contract", Kind::Contract),
        ("counter", Kind::Counter),
        ("meter", Kind::Meter),
        ("plan", Kind::Plan),
        ("plantemplate", Kind::PlanTemplate),
        ("product", Kind::Product),
    ],
};

/// [`TYPES`]' names, for the `type` field's enum.
const TYPE_NAMES: &[&str] = &[
    "account",
    "aggregation",
    "compoundaggregation",
    "contract",
    "counter",
    "meter",
    "plan",
    "plantemplate",
    "product",
];

/// An address (`account.acme`, `resourceGroup["account/Big"]`), checked
/// against the group's type by the loader.
const ADDRESS: Type = Type::Str {
    min: 1,
    max: usize::MAX,
};

const FIELDS: &[Field] = &[
    // The path's `{type}` ([`TYPES`]): never sent in a body.
    req("type", Type::Enum(TYPE_NAMES)),
    req("name", s(1, 100)),
    // [`ITEMS`]: managed by `addresource`/`removeresource`, never sent in
    // a body.
    opt(
        "items",
        Type::Array {
            item: &ADDRESS,
            min: 0,
            max: None,
        },
    ),
];

/// `ResourceGroupItemRequest` (`targetType` ITEM or GROUP, `targetId`);
/// the contents list's `pageSize` is at most 100.
const ITEMS: Members = Members {
    field: "items",
    contents: "contents",
    add: "addresource",
    remove: "removeresource",
    max_page_size: 100,
};

pub(super) const SPEC: KindSpec = KindSpec {
    identity: Identity {
        key: Key::CodeOr(&[
            Part::OneOf(&[Alt {
                field: "type",
                prefix: "",
            }]),
            Part::Text("/"),
            Part::OneOf(&[Alt {
                field: "name",
                prefix: "",
            }]),
        ]),
        // The list has no filter: the lookup lists the group's type.
        adopt: &[] as &[AdoptParam],
        scope: &[],
    },
    typed: Some(&TYPES),
    members: Some(&ITEMS),
    ..KindSpec::new(
        Kind::ResourceGroup,
        "resourceGroup",
        "resourceGroups",
        "resourcegroups",
        FIELDS,
    )
};
