//! The `externalMapping` kind end to end: the real binary against an
//! emulator process through create, no-op, update, delete order, adopt by
//! key, export and destroy. The mapped m3ter entity is written by its
//! address (`entity: account.acme`), resolved to its id, and the mapping's
//! `m3terEntity` follows from the address's kind; an address that is not in
//! the desired state is refused before any request.

use crate::common;
use common::cli::{EmulatorProcess, m3ter, stderr, text};
use common::kind_flow::{
    apply, changes, destroy, export_round_trip, only_live, org_requests, plan, position, summary,
    validate_fails, write_desired,
};
use serde_json::{Value, json};

const COLLECTION: &str = "externalmappings";
const ADDRESS: &str = "externalMapping.Stripe/Customer/account.acme";

/// Account `acme` and its Stripe customer `customer`.
fn desired(customer: &str) -> String {
    format!(
        "accounts:\n  - code: acme\n    name: Acme\n    emailAddress: billing@acme.example\n\
         externalMappings:\n  - entity: account.acme\n    externalSystem: Stripe\n    \
         externalTable: Customer\n    externalId: {customer}\n"
    )
}

#[test]
fn an_external_mapping_is_created_left_alone_updated_and_deleted_before_its_entity() {
    let emu = EmulatorProcess::start(&[]);
    let dir = tempfile::tempdir().expect("tempdir");
    write_desired(dir.path(), &desired("cus_001"));

    let (c, _) = plan(dir.path(), &emu, &[]);
    assert_eq!(
        c,
        changes(&[("account.acme", "create"), (ADDRESS, "create")])
    );
    apply(dir.path(), &emu);
    let account = emu.by_code("accounts", "acme");
    let made = only_live(&emu, COLLECTION);
    assert_eq!(
        (&made["m3terEntity"], &made["m3terId"], &made["externalId"]),
        (&json!("Account"), &account["id"], &json!("cus_001")),
        "{made}"
    );

    let (c, s) = plan(dir.path(), &emu, &[]);
    assert_eq!((c, s), (vec![], summary(0, 0, 0, 0)));

    write_desired(dir.path(), &desired("cus_002"));
    let (c, _) = plan(dir.path(), &emu, &[]);
    assert_eq!(c, changes(&[(ADDRESS, "update")]));
    apply(dir.path(), &emu);
    let updated = only_live(&emu, COLLECTION);
    assert_eq!(
        (&updated["id"], &updated["version"], &updated["externalId"]),
        (&made["id"], &json!(2), &json!("cus_002")),
        "{updated}"
    );

    // Both go: the mapping first, since it points at the account.
    write_desired(dir.path(), "externalMappings: []\n");
    let (c, _) = plan(dir.path(), &emu, &[]);
    assert!(
        position(&c, ADDRESS, "delete") < position(&c, "account.acme", "delete"),
        "{c:?}"
    );
    apply(dir.path(), &emu);
    assert_eq!(emu.list_all(COLLECTION), Vec::<Value>::new());
    assert_eq!(emu.list_all("accounts"), Vec::<Value>::new());
}

#[test]
fn a_live_external_mapping_is_adopted_exported_by_address_and_destroyed() {
    let emu = EmulatorProcess::start(&[]);
    let (status, account) = emu.api(
        "POST",
        "accounts",
        Some(json!({"code": "acme", "name": "Acme", "emailAddress": "billing@acme.example"})),
    );
    assert_eq!(status, 200, "{account}");
    let (status, made) = emu.api(
        "POST",
        COLLECTION,
        Some(json!({"m3terEntity": "Account", "m3terId": account["id"],
                    "externalSystem": "Stripe", "externalTable": "Customer", "externalId": "cus_001"})),
    );
    assert_eq!(status, 200, "{made}");

    let dir = tempfile::tempdir().expect("tempdir");
    write_desired(dir.path(), &desired("cus_001"));
    let (c, s) = plan(dir.path(), &emu, &[]);
    assert_eq!(
        (c, s),
        (
            changes(&[("account.acme", "import"), (ADDRESS, "import")]),
            summary(2, 0, 0, 0)
        )
    );
    apply(dir.path(), &emu);
    assert_eq!(
        only_live(&emu, COLLECTION)["version"],
        json!(1),
        "an import sends nothing"
    );

    assert_eq!(export_round_trip(dir.path(), &emu), summary(2, 0, 0, 0));
    let yaml =
        std::fs::read_to_string(dir.path().join("exported/externalMappings.yaml")).expect("file");
    assert!(
        yaml.contains("entity: account.acme")
            && !yaml.contains("m3terId")
            && !yaml.contains("m3terEntity"),
        "{yaml}"
    );

    destroy(dir.path(), &emu);
    assert_eq!(emu.list_all(COLLECTION), Vec::<Value>::new());
}

#[test]
fn a_mapping_of_an_entity_not_in_the_desired_state_is_refused_before_any_request() {
    let emu = EmulatorProcess::start(&[]);
    let dir = tempfile::tempdir().expect("tempdir");
    write_desired(
        dir.path(),
        &desired("cus_001").replace("entity: account.acme", "entity: account.acem"),
    );
    let out = validate_fails(dir.path(), &emu);
    assert!(
        out.contains("desired-state/main.yaml:6:13:")
            && out.contains("refers to account.acem, which is not in the desired state")
            && out.contains("did you mean `account.acme`?"),
        "{out}"
    );
    assert_eq!(org_requests(&emu, |_| true), 0, "validate makes no request");
    let out = m3ter(dir.path(), &emu, &["plan", "--rate-limit", "0"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(stderr(&out).contains("main.yaml:6:13:"), "{}", text(&out));
    let writes = org_requests(&emu, |route| !route.starts_with("GET "));
    assert_eq!(writes, 0, "no write: {}", text(&out));

    // No entity at all: one error, under the YAML key.
    write_desired(
        dir.path(),
        "externalMappings:\n  - externalSystem: Stripe\n    externalTable: Customer\n    externalId: c\n",
    );
    let out = validate_fails(dir.path(), &emu);
    assert!(out.contains("`entity` is required"), "{out}");
    assert!(
        !out.contains("m3terEntity") && !out.contains("m3terId"),
        "{out}"
    );

    // A kind a mapping cannot name, and the derived fields written by hand.
    write_desired(
        dir.path(),
        "webhooks: []\nexternalMappings:\n  - entity: webhook.orders\n    externalSystem: Stripe\n    \
         externalTable: Customer\n    externalId: c\n    m3terEntity: Account\n",
    );
    let out = validate_fails(dir.path(), &emu);
    assert!(
        out.contains("main.yaml:3:13: `entity` names webhook.orders, a webhook, which externalMappings cannot map")
            && out.contains("the kinds it may name are: account, aggregation,")
            && out.contains("main.yaml:7:5: `m3terEntity` is not written in desired state"),
        "{out}"
    );
}

/// The emulator checks the id against the kind `m3terEntity` names.
#[test]
fn the_emulator_checks_the_mapped_entity() {
    let emu = EmulatorProcess::start(&[]);
    let (status, body) = emu.api(
        "POST",
        COLLECTION,
        Some(
            json!({"m3terEntity": "Account", "m3terId": "6a1f4c8e-2b7d-4e39-9c51-0d8e7f3a2b14",
                    "externalSystem": "Stripe", "externalTable": "Customer", "externalId": "c"}),
        ),
    );
    assert_eq!(status, 400, "{body}");
    assert!(body.to_string().contains("refers to no account"), "{body}");
}
