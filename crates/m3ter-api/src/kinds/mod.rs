//! The configuration kinds as data: one [`KindSpec`] per kind, each in its
//! own module, and the [`Kind`] accessors that read them.
//!
//! Everything that differs between kinds is a value here (names, request
//! schema, identity, defaults, filters, …) so that the loader, the planner,
//! the emulator and the JSON Schema interpret one table instead of each
//! matching on the kind. `docs/adding-a-kind.md` says how to add one.

use std::fmt;

use serde_json::Value;

use crate::identity::{Identity, Key};
use crate::schema::{Field, Type};

mod account;
mod account_plan;
mod aggregation;
mod balance;
mod bill_config;
mod commitment;
mod compound_aggregation;
mod contract;
mod counter;
mod counter_adjustment;
mod counter_pricing;
mod custom_fields;
mod external_mapping;
mod integration_configuration;
mod meter;
mod notification_configuration;
mod organization_config;
mod permission_policy;
mod picklist;
mod plan;
mod plan_group;
mod plan_group_link;
mod plan_template;
mod pricing;
mod product;
mod resource_group;
mod scheduled_event_configuration;
mod webhook;

/// The configuration kinds the tool manages, in dependency-friendly order
/// (the order of the table; `Ord` follows it).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "camelCase")]
pub enum Kind {
    CustomFields,
    Product,
    Counter,
    Meter,
    Aggregation,
    CompoundAggregation,
    Currency,
    TransactionType,
    CreditReason,
    DebitReason,
    OrganizationConfig,
    BillConfig,
    PlanTemplate,
    Plan,
    Pricing,
    CounterPricing,
    PlanGroup,
    PlanGroupLink,
    Account,
    Contract,
    AccountPlan,
    Commitment,
    Balance,
    CounterAdjustment,
    Webhook,
    IntegrationConfiguration,
    ScheduledEventConfiguration,
    NotificationConfiguration,
    ResourceGroup,
    PermissionPolicy,
    ExternalMapping,
}

/// The table: one spec per kind, in [`Kind`] declaration order.
const SPECS: &[&KindSpec] = &[
    &custom_fields::SPEC,
    &product::SPEC,
    &counter::SPEC,
    &meter::SPEC,
    &aggregation::SPEC,
    &compound_aggregation::SPEC,
    &picklist::CURRENCY,
    &picklist::TRANSACTION_TYPE,
    &picklist::CREDIT_REASON,
    &picklist::DEBIT_REASON,
    &organization_config::SPEC,
    &bill_config::SPEC,
    &plan_template::SPEC,
    &plan::SPEC,
    &pricing::SPEC,
    &counter_pricing::SPEC,
    &plan_group::SPEC,
    &plan_group_link::SPEC,
    &account::SPEC,
    &contract::SPEC,
    &account_plan::SPEC,
    &commitment::SPEC,
    &balance::SPEC,
    &counter_adjustment::SPEC,
    &webhook::SPEC,
    &integration_configuration::SPEC,
    &scheduled_event_configuration::SPEC,
    &notification_configuration::SPEC,
    &resource_group::SPEC,
    &permission_policy::SPEC,
    &external_mapping::SPEC,
];

/// Everything the tool, the emulator and the JSON Schema know about one
/// kind.
#[derive(Debug)]
pub struct KindSpec {
    pub kind: Kind,
    /// Name used in addresses and serde (`compoundAggregation`).
    pub name: &'static str,
    /// Top-level key of the desired-state YAML (`compoundAggregations`).
    pub section: &'static str,
    /// Path segment of the collection under `/organizations/{orgId}/`
    /// (`compoundaggregations`).
    pub collection: &'static str,
    /// Largest `pageSize` the list endpoint accepts.
    pub max_page_size: u32,
    /// One entity per org, read and written with GET/PUT on the collection
    /// path: no list, create or delete.
    pub singleton: bool,
    /// The request schema (same for POST and PUT), without `version`.
    /// References are the fields of type [`Type::Ref`].
    pub fields: &'static [Field],
    /// How an entity is keyed and found again.
    pub identity: Identity,
    /// Values a field takes when a request or the desired state omits it.
    pub defaults: &'static [FieldDefault],
    /// Fields that cannot change after create: a change is a replace.
    pub immutable: &'static [&'static str],
    /// Fields only responses carry (besides [`crate::schema::COMMON_READ_ONLY`]).
    pub response_only: &'static [&'static str],
    /// Values that are secrets, as dotted paths from the top-level field
    /// (`credentials.secret`), each a string: written only as a sensitive
    /// variable or `${env.NAME}`, never shown, and kept in state as a
    /// salted hash (README "Secrets").
    pub sensitive: &'static [&'static str],
    /// Request fields the response schema does not have: the API never
    /// returns them, so the emulator leaves them out of responses and the
    /// plan compares them with the state's last-applied value.
    pub write_only: &'static [&'static str],
    /// Pairs of fields of which exactly one must be given.
    pub exactly_one_of: &'static [(&'static str, &'static str)],
    /// Arrays of pricing bands: compared in `lowerLimit` order, and the ids
    /// the server gives bands are neither compared, shown nor exported.
    pub bands: &'static [&'static str],
    /// The list filters (query parameters) the API documents.
    pub filters: &'static [Filter],
    /// A typed collection: one of the kind's fields is a path segment
    /// after the collection (`resourcegroups/<type>`), not a body field.
    pub typed: Option<&'static Typed>,
    /// A member set managed by calls of its own rather than in the body
    /// (a resource group's items).
    pub members: Option<&'static Members>,
}

/// A kind's member set (a resource group's items): a request field the
/// client never sends, holding the members' addresses, compared as a set.
/// Each member is an entity of the kind the group's [`Typed`] value names
/// (`ITEM`), or another entity of this kind of the same type (`GROUP`);
/// refresh reads them with one paginated `POST <entity>/<contents>` per
/// entity, apply adds and removes them with `POST <entity>/<add>` and
/// `<remove>` (`{"targetType", "targetId"}`) after the create or PUT.
#[derive(Debug)]
pub struct Members {
    /// The field (`items`): an array of addresses in desired state.
    pub field: &'static str,
    /// The path segments after the entity's: list, add, remove.
    pub contents: &'static str,
    pub add: &'static str,
    pub remove: &'static str,
    /// Largest `pageSize` of the contents list.
    pub max_page_size: u32,
}

/// The key under which a live entity read by the client keeps its members'
/// `{targetType, targetId}` by address (never a request field: neither
/// compared nor sent).
pub const MEMBER_IDS: &str = "members@ids";

/// A kind whose collection is split by a field's value
/// (`/resourcegroups/<type>`): the client lists every value's collection,
/// sends the value in the path and never in a body, and marks the entities
/// it reads with it; the emulator routes `<collection>/{value}`.
#[derive(Debug)]
pub struct Typed {
    /// The request field holding the segment (`type`).
    pub field: &'static str,
    /// Its values, as the path spells them, each with the kind of the
    /// entities a group of that type holds.
    pub values: &'static [(&'static str, Kind)],
}

impl Typed {
    /// The kind of the entities a value's groups hold.
    pub fn kind_of(&self, value: &str) -> Option<Kind> {
        self.values
            .iter()
            .find(|(v, _)| *v == value)
            .map(|(_, k)| *k)
    }

    /// The values, as the path spells them.
    pub fn names(&self) -> impl Iterator<Item = &'static str> {
        self.values.iter().map(|(v, _)| *v)
    }
}

impl KindSpec {
    /// An entry with what most kinds share: keyed by `code` (adopted by
    /// listing them all), a page size of 100, not a singleton, and none of
    /// the optional attributes (defaults, immutable, response-only,
    /// sensitive, exactly-one-of, bands, filters). Entries set what differs
    /// and take the rest with `..KindSpec::new(…)`.
    pub const fn new(
        kind: Kind,
        name: &'static str,
        section: &'static str,
        collection: &'static str,
        fields: &'static [Field],
    ) -> KindSpec {
        KindSpec {
            kind,
            name,
            section,
            collection,
            max_page_size: 100,
            singleton: false,
            fields,
            identity: Identity {
                key: Key::Code,
                adopt: &[],
                scope: &[],
            },
            defaults: &[],
            immutable: &[],
            response_only: &[],
            sensitive: &[],
            write_only: &[],
            exactly_one_of: &[],
            bands: &[],
            filters: &[],
            typed: None,
            members: None,
        }
    }
}

/// Who supplies a [`FieldDefault`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DefaultBy {
    /// The API requires the field, but the desired state may omit it: the
    /// loader fills it in and a create sends it (meter `derivedFields`).
    Tool,
    /// The server stores this value when a request omits the field
    /// (pricing `cumulative`): the emulator fills it in, and the planner
    /// treats an absent live value as this one.
    Server,
}

/// A constant JSON value, for tables built at compile time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Literal {
    Bool(bool),
    Str(&'static str),
    EmptyList,
}

impl Literal {
    /// The value as JSON.
    pub fn to_json(self) -> Value {
        match self {
            Literal::Bool(b) => Value::Bool(b),
            Literal::Str(s) => Value::String(s.to_owned()),
            Literal::EmptyList => Value::Array(Vec::new()),
        }
    }
}

/// The value a field takes when it is omitted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FieldDefault {
    pub field: &'static str,
    pub value: Literal,
    pub by: DefaultBy,
}

/// A documented list filter (query parameter) of a kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Filter {
    pub param: &'static str,
    /// Accepts several values (comma-joined or repeated).
    pub multi: bool,
    /// What an entity must have to pass.
    pub matches: Match,
    /// Another parameter this one is only valid with.
    pub needs: Option<&'static str>,
}

/// How a [`Filter`] selects entities.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Match {
    /// The entity's string field equals one of the values.
    Field(&'static str),
    /// The entity's reference `via` points at an entity whose `field`
    /// equals one of the values (aggregations by their meter's product).
    Via {
        via: &'static str,
        field: &'static str,
    },
    /// A `true`/`false` value: the entity's boolean field, absent meaning
    /// `false`, equals it (picklists' `archived`).
    Flag(&'static str),
    /// Named behaviour: active at the date or date-time given
    /// (`startDate` ≤ t < `endDate`).
    ActiveAt,
    /// Named behaviour (account plans' `includeall`): unless `true`, a list
    /// filtered by the `scope` parameter shows only the entities active now.
    IncludeAll { scope: &'static str },
}

/// A filter on field `field`, parameter `param`.
pub(crate) const fn by_field(param: &'static str, field: &'static str, multi: bool) -> Filter {
    Filter {
        param,
        multi,
        matches: Match::Field(field),
        needs: None,
    }
}

/// The identity of a kind the API gives no code: keyed by its `name`, and
/// found again by listing the whole collection (no list filter matches a
/// name).
pub(crate) const BY_NAME: Identity = Identity {
    key: Key::CodeOr(&[crate::identity::Part::OneOf(&[crate::identity::Alt {
        field: "name",
        prefix: "",
    }])]),
    adopt: &[],
    scope: &[],
};

/// The `ids` filter every kind has.
pub(crate) const IDS: Filter = by_field("ids", "id", true);
/// The `codes` filter.
pub(crate) const CODES: Filter = by_field("codes", "code", true);
/// The `date` filter of kinds with a validity window: active at that date
/// or date-time.
pub(crate) const ACTIVE_AT: Filter = Filter {
    param: "date",
    multi: false,
    matches: Match::ActiveAt,
    needs: None,
};

impl Kind {
    /// Every kind, in an order where a kind's references come before it
    /// (the table order).
    pub const ALL: [Kind; SPECS.len()] = {
        let mut all = [Kind::Product; SPECS.len()];
        let mut i = 0;
        while i < SPECS.len() {
            all[i] = SPECS[i].kind;
            i += 1;
        }
        all
    };

    /// The kind's table entry.
    pub const fn spec(self) -> &'static KindSpec {
        SPECS[self as usize]
    }

    /// Name used in addresses (`product`, `compoundAggregation`, …).
    pub fn name(self) -> &'static str {
        self.spec().name
    }

    /// Parses an address kind name.
    pub fn from_name(name: &str) -> Option<Kind> {
        Kind::ALL.into_iter().find(|k| k.name() == name)
    }

    /// Top-level key of the desired-state YAML (`products`, …).
    pub fn section(self) -> &'static str {
        self.spec().section
    }

    /// Parses a desired-state top-level key.
    pub fn from_section(section: &str) -> Option<Kind> {
        Kind::ALL.into_iter().find(|k| k.section() == section)
    }

    /// Path segment of the collection under `/organizations/{orgId}/`.
    pub fn collection(self) -> &'static str {
        self.spec().collection
    }

    /// Parses a collection path segment.
    pub fn from_collection(segment: &str) -> Option<Kind> {
        Kind::ALL.into_iter().find(|k| k.collection() == segment)
    }

    /// Largest `pageSize` the list endpoint accepts.
    pub fn max_page_size(self) -> u32 {
        self.spec().max_page_size
    }

    /// Whether the kind is one per org (GET/PUT only).
    pub fn is_singleton(self) -> bool {
        self.spec().singleton
    }

    /// The request schema (same for POST and PUT), without `version`.
    pub fn fields(self) -> &'static [Field] {
        self.spec().fields
    }

    /// Looks up a request field by name.
    pub fn field(self, name: &str) -> Option<&'static Field> {
        self.fields().iter().find(|f| f.name == name)
    }

    /// Whether the kind's key is its `code` alone (the tool requires `code`
    /// for these even where the API makes it optional).
    pub fn has_identity_code(self) -> bool {
        self.spec().identity.requires_code()
    }

    /// Pairs of fields of which exactly one must be given.
    pub fn exactly_one_of(self) -> &'static [(&'static str, &'static str)] {
        self.spec().exactly_one_of
    }

    /// Response-only fields specific to the kind (besides
    /// [`crate::schema::COMMON_READ_ONLY`]).
    pub fn response_only(self) -> &'static [&'static str] {
        self.spec().response_only
    }

    /// Fields that cannot change after create: a change is a replace.
    pub fn immutable_fields(self) -> &'static [&'static str] {
        self.spec().immutable
    }

    /// Whether `field` is an array of pricing bands.
    pub fn is_bands(self, field: &str) -> bool {
        self.spec().bands.contains(&field)
    }

    /// Paths of the values that are secrets (`credentials.secret`).
    pub fn sensitive_paths(self) -> &'static [&'static str] {
        self.spec().sensitive
    }

    /// Request fields the API never returns.
    pub fn write_only(self) -> &'static [&'static str] {
        self.spec().write_only
    }

    /// Whether the top-level `field` holds a secret, or is an object with
    /// one inside.
    pub fn has_sensitive(self, field: &str) -> bool {
        self.sensitive_paths()
            .iter()
            .any(|p| p.split('.').next() == Some(field))
    }

    /// Defaults of omitted fields.
    pub fn defaults(self) -> &'static [FieldDefault] {
        self.spec().defaults
    }

    /// The default `by` supplies for `field`, if any.
    pub fn default_of(self, field: &str, by: DefaultBy) -> Option<Value> {
        self.defaults()
            .iter()
            .find(|d| d.field == field && d.by == by)
            .map(|d| d.value.to_json())
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

    /// Fields that name an entity by its code ([`Type::CodeRef`]): (API
    /// field, target kind), e.g. `("currency", Kind::Currency)`.
    pub fn code_refs(self) -> Vec<(&'static str, Kind)> {
        self.fields()
            .iter()
            .filter_map(|f| match f.ty {
                Type::CodeRef(target, _) => Some((f.name, target)),
                _ => None,
            })
            .collect()
    }

    /// Fields that point at an entity of one of several kinds
    /// ([`Type::AnyRef`]): (API field, its description).
    pub fn any_refs(self) -> Vec<(&'static str, &'static crate::schema::AnyRef)> {
        self.fields()
            .iter()
            .filter_map(|f| match f.ty {
                Type::AnyRef(any) => Some((f.name, any)),
                _ => None,
            })
            .collect()
    }

    /// The kind a live entity's [`Type::AnyRef`] field `field` points at:
    /// the one its kind field names.
    pub fn any_ref_target(self, field: &str, entity: &Value) -> Option<Kind> {
        let Type::AnyRef(any) = self.field(field)?.ty else {
            return None;
        };
        any.kind_named(entity.get(any.kind_field)?.as_str()?)
    }

    /// The kind a reference field points at, if `field` is one.
    pub fn ref_target(self, field: &str) -> Option<Kind> {
        match self.field(field)?.ty {
            Type::Ref(target) => Some(target),
            _ => None,
        }
    }

    /// The list filters the API documents for the kind.
    pub fn filters(self) -> &'static [Filter] {
        self.spec().filters
    }

    /// The collection paths under `/organizations/{orgId}/` that hold the
    /// kind's entities: its collection, or one per type of a typed kind
    /// (`resourcegroups/account`, …). A refresh lists each.
    pub fn list_paths(self) -> Vec<String> {
        match self.typed() {
            None => vec![self.collection().to_owned()],
            Some(t) => t
                .names()
                .map(|n| format!("{}/{n}", self.collection()))
                .collect(),
        }
    }

    /// The kind whose entities a [`Kind::list_paths`] path holds.
    pub fn from_list_path(path: &str) -> Option<Kind> {
        Kind::ALL
            .into_iter()
            .find(|k| k.list_paths().iter().any(|p| p == path))
    }

    /// The member set of the kind, if it has one.
    pub fn members(self) -> Option<&'static Members> {
        self.spec().members
    }

    /// The path field of a typed collection, if the kind has one.
    pub fn typed(self) -> Option<&'static Typed> {
        self.spec().typed
    }

    /// The documented filter with this parameter.
    pub fn filter(self, param: &str) -> Option<&'static Filter> {
        self.filters().iter().find(|f| f.param == param)
    }
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
mod tests;
