//! The `integrationConfiguration` kind end to end: the real binary against
//! an emulator process through create, no-op, update, delete, adopt by key
//! and export. Its `credentials` are write-only (the response schema has
//! none): never returned, compared with what state last applied, and a
//! change of them is one update.

use crate::common;
use common::cli::{EmulatorProcess, m3ter, text};
use common::kind_flow::{
    apply, changes, export_round_trip, only_live, plan, summary, write_desired,
};
use serde_json::{Value, json};

const COLLECTION: &str = "integrationconfigs";

/// One configuration of bills for Stripe.
fn desired(batch: u32, credentials_name: &str) -> String {
    format!(
        "integrationConfigurations:\n  - destination: Stripe\n    entityType: Bill\n    \
         name: Bills to Stripe\n    configData:\n      mode: live\n      batch: {{size: {batch}}}\n    \
         credentials:\n      type: STRIPE_SIGNED_REQUEST\n      name: {credentials_name}\n"
    )
}

#[test]
fn an_integration_configuration_is_created_left_alone_updated_and_deleted() {
    let emu = EmulatorProcess::start(&[]);
    let dir = tempfile::tempdir().expect("tempdir");
    let address = "integrationConfiguration.Stripe/Bill";
    write_desired(dir.path(), &desired(10, "Stripe key"));

    let (c, _) = plan(dir.path(), &emu, &[]);
    assert_eq!(c, changes(&[(address, "create")]));
    apply(dir.path(), &emu);
    let made = only_live(&emu, COLLECTION);
    assert_eq!(
        made["configData"],
        json!({"mode": "live", "batch": {"size": 10}}),
        "{made}"
    );
    assert!(
        made.get("credentials").is_none(),
        "write-only: never returned: {made}"
    );

    let (c, s) = plan(dir.path(), &emu, &[]);
    assert_eq!((c, s), (vec![], summary(0, 0, 0, 0)));

    // A nested configData change, then a credentials change: one update each.
    write_desired(dir.path(), &desired(20, "Stripe key"));
    let (c, _) = plan(dir.path(), &emu, &[]);
    assert_eq!(c, changes(&[(address, "update")]));
    apply(dir.path(), &emu);
    assert_eq!(
        only_live(&emu, COLLECTION)["configData"]["batch"]["size"],
        json!(20)
    );
    write_desired(dir.path(), &desired(20, "Rotated key"));
    let (c, _) = plan(dir.path(), &emu, &[]);
    assert_eq!(c, changes(&[(address, "update")]));
    apply(dir.path(), &emu);
    assert_eq!(only_live(&emu, COLLECTION)["version"], json!(3));
    let (c, _) = plan(dir.path(), &emu, &[]);
    assert_eq!(c, vec![]);

    write_desired(dir.path(), "integrationConfigurations: []\n");
    let (c, _) = plan(dir.path(), &emu, &[]);
    assert_eq!(c, changes(&[(address, "delete")]));
    apply(dir.path(), &emu);
    assert_eq!(emu.list_all(COLLECTION), Vec::<Value>::new());
}

#[test]
fn a_live_integration_configuration_is_adopted_exported_and_destroyed() {
    let emu = EmulatorProcess::start(&[]);
    let (status, made) = emu.api(
        "POST",
        COLLECTION,
        Some(
            json!({"destination": "Stripe", "entityType": "Bill", "name": "Bills to Stripe",
                    "configData": {"mode": "live", "batch": {"size": 10}},
                    "credentials": {"type": "STRIPE_SIGNED_REQUEST", "name": "Stripe key"}}),
        ),
    );
    assert_eq!(status, 200, "{made}");

    // Adopted by its key with a fresh state; the desired credentials are taken as live.
    let dir = tempfile::tempdir().expect("tempdir");
    write_desired(dir.path(), &desired(10, "Stripe key"));
    let (c, s) = plan(dir.path(), &emu, &[]);
    assert_eq!(
        (c, s),
        (
            changes(&[("integrationConfiguration.Stripe/Bill", "import")]),
            summary(1, 0, 0, 0)
        )
    );
    apply(dir.path(), &emu);
    assert_eq!(
        only_live(&emu, COLLECTION)["version"],
        json!(1),
        "an import sends nothing"
    );

    // Export (without the credentials the API never returned): imports only.
    assert_eq!(export_round_trip(dir.path(), &emu), summary(1, 0, 0, 0));
    let yaml = std::fs::read_to_string(dir.path().join("exported/integrationConfigurations.yaml"))
        .expect("file");
    assert!(
        yaml.contains("size: 10") && !yaml.contains("credentials"),
        "{yaml}"
    );

    let out = m3ter(
        dir.path(),
        &emu,
        &["destroy", "--auto-approve", "--rate-limit", "0"],
    );
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(emu.list_all(COLLECTION), Vec::<Value>::new());
}

/// The emulator's collection: the request schema and the one list filter.
#[test]
fn the_emulator_validates_and_filters_integration_configurations() {
    let emu = EmulatorProcess::start(&[]);
    let (status, body) = emu.api("POST", COLLECTION, Some(json!({"destination": "Stripe"})));
    assert_eq!(status, 400, "{body}");
    assert!(body.to_string().contains("entityType"), "{body}");
    let (status, body) = emu.api(
        "POST",
        COLLECTION,
        Some(json!({"destination": "Stripe", "entityType": "Bill", "configData": "x"})),
    );
    assert_eq!(status, 400, "{body}");
    assert!(body.to_string().contains("configData"), "{body}");

    let dest = "6a1f4c8e-2b7d-4e39-9c51-0d8e7f3a2b14";
    for (entity, destination_id) in [("Bill", Some(dest)), ("Invoice", None)] {
        let mut b = json!({"destination": "Webhook", "entityType": entity});
        if let Some(d) = destination_id {
            b["destinationId"] = json!(d);
        }
        let (status, made) = emu.api("POST", COLLECTION, Some(b));
        assert_eq!(status, 200, "{made}");
    }
    let (status, page) = emu.api("GET", &format!("{COLLECTION}?destinationId={dest}"), None);
    assert_eq!(status, 200, "{page}");
    let types: Vec<&Value> = page["data"]
        .as_array()
        .expect("data")
        .iter()
        .map(|e| &e["entityType"])
        .collect();
    assert_eq!(types, [&json!("Bill")]);
}
