//! The singletons (`customFields`, `organizationConfig`, `billConfig`) end
//! to end: the real binary against an emulator process. A singleton is one
//! mapping in YAML, addressed by its bare kind; it is adopted (never
//! created), compared on the fields YAML writes only, written by a PUT over
//! the live entity, forgotten (never deleted) when it leaves the YAML or on
//! destroy, and exported as a mapping.

use std::path::Path;

use crate::common;
use common::cli::{EmulatorProcess, m3ter, text};
use common::kind_flow::{apply, changes, plan_doc as plan, summary};
use serde_json::{Value, json};

/// Every field `organizationConfig` requires, so a first PUT (on an org
/// that never wrote it) is accepted.
const ORG_CONFIG: &str = "organizationConfig:\n  timezone: Europe/London\n  currency: GBP\n  \
    yearEpoch: 2024-01-01\n  monthEpoch: 2024-01-01\n  weekEpoch: 2024-01-01\n  \
    dayEpoch: 2024-01-01\n  daysBeforeBillDue: 30\n";

fn write(dir: &Path, file: &str, yaml: &str) {
    let d = dir.join("desired-state");
    std::fs::create_dir_all(&d).expect("mkdir");
    std::fs::write(d.join(file), yaml).expect("write desired state");
}

/// The live singleton of `collection` (it must exist).
fn live(emu: &EmulatorProcess, collection: &str) -> Value {
    let (status, v) = emu.api("GET", collection, None);
    assert_eq!(status, 200, "{collection}: {v}");
    v
}

/// PUTs a singleton out of band: the live body (if any) with `changes`
/// over it, at the live version.
fn put_live(emu: &EmulatorProcess, collection: &str, changes: Value) -> Value {
    let (status, current) = emu.api("GET", collection, None);
    let mut body = if status == 200 { current } else { json!({}) };
    let o = body.as_object_mut().expect("object");
    for k in [
        "id",
        "dtCreated",
        "dtLastModified",
        "createdBy",
        "lastModifiedBy",
    ] {
        o.remove(k);
    }
    o.extend(changes.as_object().cloned().unwrap_or_default());
    let (status, v) = emu.api("PUT", collection, Some(body));
    assert_eq!(status, 200, "{collection}: {v}");
    v
}

fn state_list(dir: &Path, emu: &EmulatorProcess) -> Vec<String> {
    let out = m3ter(dir, emu, &["state", "list"]);
    assert!(out.status.success(), "{}", text(&out));
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::to_string)
        .collect()
}

#[test]
fn an_unwritten_singleton_is_adopted_then_left_alone_and_updated() {
    let emu = EmulatorProcess::start(&[]);
    let dir = tempfile::tempdir().expect("tempdir");
    write(
        dir.path(),
        "main.yaml",
        &format!("{ORG_CONFIG}billConfig:\n  billLockDate: 2024-06-01\n"),
    );

    // The org never wrote them: an import that writes, not an add.
    let (c, s, _) = plan(dir.path(), &emu, &[]);
    assert_eq!(
        (c, s),
        (
            changes(&[("organizationConfig", "import"), ("billConfig", "import")]),
            summary(2, 0, 2, 0)
        )
    );
    let out = m3ter(dir.path(), &emu, &["plan", "--rate-limit", "0"]);
    let human = text(&out);
    assert!(
        human.contains("# organizationConfig will be imported and updated in-place")
            && human.contains("a singleton: every org has one, so it is adopted, never created")
            && !human.contains("will be created"),
        "{human}"
    );
    apply(dir.path(), &emu);
    let org = live(&emu, "organizationconfig");
    assert_eq!(
        (&org["timezone"], &org["currency"], &org["version"]),
        (&json!("Europe/London"), &json!("GBP"), &json!(1)),
        "{org}"
    );
    assert_eq!(live(&emu, "billconfig")["billLockDate"], "2024-06-01");
    assert_eq!(
        state_list(dir.path(), &emu),
        ["organizationConfig", "billConfig"]
    );

    let (c, s, _) = plan(dir.path(), &emu, &[]);
    assert_eq!((c, s), (vec![], summary(0, 0, 0, 0)));

    // One written field changed: one update, a PUT of the same entity.
    write(
        dir.path(),
        "main.yaml",
        &format!(
            "{}billConfig:\n  billLockDate: 2024-06-01\n",
            ORG_CONFIG.replace("Europe/London", "UTC")
        ),
    );
    let (c, _, doc) = plan(dir.path(), &emu, &[]);
    assert_eq!(c, changes(&[("organizationConfig", "update")]));
    assert_eq!(doc["changes"][0]["diff"][0]["field"], "timezone");
    apply(dir.path(), &emu);
    let updated = live(&emu, "organizationconfig");
    assert_eq!(
        (&updated["id"], &updated["timezone"], &updated["version"]),
        (&org["id"], &json!("UTC"), &json!(2)),
        "{updated}"
    );
}

#[test]
fn only_written_fields_are_compared_and_the_put_keeps_the_rest() {
    let emu = EmulatorProcess::start(&[]);
    let seeded = put_live(
        &emu,
        "organizationconfig",
        json!({"timezone": "UTC", "currency": "USD", "yearEpoch": "2022-01-01",
               "monthEpoch": "2022-01-01", "weekEpoch": "2022-01-04", "dayEpoch": "2022-01-01",
               "daysBeforeBillDue": 14, "billPrefix": "INV-"}),
    );
    let dir = tempfile::tempdir().expect("tempdir");
    // Only the timezone is written, and it matches: adopted, nothing to do.
    write(
        dir.path(),
        "main.yaml",
        "organizationConfig:\n  timezone: UTC\n",
    );
    let (c, s, _) = plan(dir.path(), &emu, &[]);
    assert_eq!(
        (c, s),
        (
            changes(&[("organizationConfig", "import")]),
            summary(1, 0, 0, 0)
        )
    );
    apply(dir.path(), &emu);
    assert_eq!(
        live(&emu, "organizationconfig")["version"],
        seeded["version"]
    );

    // A field YAML does not write changes live: neither drift nor a change.
    put_live(&emu, "organizationconfig", json!({"billPrefix": "BILL-"}));
    let (c, s, doc) = plan(dir.path(), &emu, &[]);
    assert_eq!((c, s), (vec![], summary(0, 0, 0, 0)));
    assert_eq!(doc["drift"], json!([]));

    // A written field changes live: drift, and one update puts it back,
    // keeping every field YAML leaves out (the PUT starts from live).
    put_live(
        &emu,
        "organizationconfig",
        json!({"timezone": "Asia/Tokyo"}),
    );
    let (c, _, doc) = plan(dir.path(), &emu, &[]);
    assert_eq!(c, changes(&[("organizationConfig", "update")]));
    assert_eq!(doc["drift"][0]["address"], "organizationConfig");
    apply(dir.path(), &emu);
    let after = live(&emu, "organizationconfig");
    assert_eq!(
        (
            &after["timezone"],
            &after["billPrefix"],
            &after["daysBeforeBillDue"]
        ),
        (&json!("UTC"), &json!("BILL-"), &json!(14)),
        "{after}"
    );
}

#[test]
fn removed_singletons_are_forgotten_and_destroy_leaves_them() {
    let emu = EmulatorProcess::start(&[]);
    let dir = tempfile::tempdir().expect("tempdir");
    write(
        dir.path(),
        "main.yaml",
        "customFields:\n  product: {team: none}\nbillConfig:\n  billLockDate: 2024-06-01\n\
         products:\n  - code: saas\n    name: SaaS\n    customFields: {team: core}\n",
    );
    let out = apply(dir.path(), &emu);
    // The org-level default is written before the product that sets it.
    let cf = out
        .find("customFields: Import complete")
        .expect("customFields");
    let product = out
        .find("product.saas: Creation complete")
        .expect("product");
    assert!(cf < product, "{out}");

    // billConfig leaves the YAML: forgotten, no request, still in the org.
    write(
        dir.path(),
        "main.yaml",
        "customFields:\n  product: {team: none}\n\
         products:\n  - code: saas\n    name: SaaS\n    customFields: {team: core}\n",
    );
    let (c, _, doc) = plan(dir.path(), &emu, &[]);
    assert_eq!(c, vec![]);
    assert_eq!(
        doc["forget"],
        json!([{"address": "billConfig", "action": "forget", "id": live(&emu, "billconfig")["id"],
                "reason": "removedFromDesired"}])
    );
    let human = text(&m3ter(dir.path(), &emu, &["plan", "--rate-limit", "0"]));
    assert!(
        human.contains("# billConfig will be forgotten (no longer in the desired state; left in place: singletons cannot be deleted)"),
        "{human}"
    );
    let version = live(&emu, "billconfig")["version"].clone();
    apply(dir.path(), &emu);
    assert_eq!(
        state_list(dir.path(), &emu),
        ["customFields", "product.saas"]
    );
    assert_eq!(live(&emu, "billconfig")["version"], version);

    // Destroy deletes the product and leaves customFields, saying so.
    let out = m3ter(
        dir.path(),
        &emu,
        &["destroy", "--auto-approve", "--rate-limit", "0"],
    );
    let said = text(&out);
    assert!(out.status.success(), "{said}");
    assert!(
        said.contains("customFields: forgotten (left in place: singletons cannot be deleted)"),
        "{said}"
    );
    assert_eq!(emu.list_all("products"), Vec::<Value>::new());
    assert_eq!(
        live(&emu, "customfields")["product"],
        json!({"team": "none"})
    );
    assert_eq!(state_list(dir.path(), &emu), Vec::<String>::new());
}

#[test]
fn export_writes_singletons_as_mappings_that_plan_as_imports_only() {
    let emu = EmulatorProcess::start(&[]);
    put_live(
        &emu,
        "organizationconfig",
        json!({"timezone": "UTC", "currency": "USD", "yearEpoch": "2022-01-01",
               "monthEpoch": "2022-01-01", "weekEpoch": "2022-01-04", "dayEpoch": "2022-01-01",
               "daysBeforeBillDue": 14, "creditApplicationOrder": ["BALANCE", "PREPAYMENT"],
               "currencyConversions": [{"from": "EUR", "to": "USD", "multiplier": 1.1}]}),
    );
    put_live(&emu, "billconfig", json!({"billLockDate": "2024-03-01"}));
    put_live(
        &emu,
        "customfields",
        json!({"account": {"tier": "silver"}, "organization": {"region": "eu"}}),
    );
    let dir = tempfile::tempdir().expect("tempdir");
    let out = m3ter(dir.path(), &emu, &["export", "--out", "exported"]);
    assert!(out.status.success(), "{}", text(&out));
    let yaml =
        std::fs::read_to_string(dir.path().join("exported/organizationConfig.yaml")).expect("file");
    assert!(
        yaml.contains("organizationConfig:\n  timezone: UTC\n")
            && yaml.contains("daysBeforeBillDue: 14"),
        "{yaml}"
    );
    let cf = std::fs::read_to_string(dir.path().join("exported/customFields.yaml")).expect("file");
    assert!(cf.contains("customFields:\n  organization:"), "{cf}");

    let (c, s, _) = plan(
        dir.path(),
        &emu,
        &["-d", "exported", "--state", "state/fresh.json"],
    );
    assert_eq!(
        (c, s),
        (
            changes(&[
                ("customFields", "import"),
                ("organizationConfig", "import"),
                ("billConfig", "import")
            ]),
            summary(3, 0, 0, 0)
        )
    );
}

/// Runs `validate` and `plan` on a bad desired state: both exit 1 with the
/// message, and the emulator sees no org request.
fn refused(files: &[(&str, &str)], message: &str) {
    let emu = EmulatorProcess::start(&[]);
    let dir = tempfile::tempdir().expect("tempdir");
    for (file, yaml) in files {
        write(dir.path(), file, yaml);
    }
    for args in [&["validate"][..], &["plan", "--rate-limit", "0"][..]] {
        let out = m3ter(dir.path(), &emu, args);
        let said = text(&out);
        assert_eq!(out.status.code(), Some(1), "{args:?}: {said}");
        assert!(said.contains(message), "{args:?}: {said}");
    }
    let requests = emu.stats()["requests"].clone();
    let org = requests
        .as_object()
        .expect("requests")
        .keys()
        // `plan` reads the org while it loads the desired state, so under
        // load a GET may go out before the error; nothing is ever written.
        .filter(|k| k.contains("/organizations/") && !k.starts_with("GET "))
        .count();
    assert_eq!(org, 0, "{requests}");
}

#[test]
fn a_singleton_written_twice_names_both_places() {
    refused(
        &[
            ("a.yaml", "billConfig:\n  billLockDate: 2024-06-01\n"),
            (
                "b.yaml",
                "products: []\n---\nbillConfig:\n  billLockDate: 2024-07-01\n",
            ),
        ],
        "desired-state/b.yaml:4:3: `billConfig` is written twice: here and at ",
    );
    refused(
        &[("a.yaml", "billConfig:\n  - billLockDate: 2024-06-01\n")],
        "desired-state/a.yaml:2:3: `billConfig` must be one mapping of fields (billConfig is a singleton: one per org), found a list",
    );
}

#[test]
fn a_field_the_api_does_not_accept_is_named_with_the_valid_ones() {
    refused(
        &[(
            "a.yaml",
            "organizationConfig:\n  timezone: UTC\n  colour: red\n",
        )],
        "desired-state/a.yaml:3:3: unknown field `colour` in organizationConfig; the fields of organizationConfig are: timezone, yearEpoch,",
    );
    refused(
        &[("a.yaml", "organizationConfig:\n  timezon: UTC\n")],
        "unknown field `timezon` in organizationConfig; did you mean `timezone`?",
    );
    refused(
        &[("a.yaml", "billConfig:\n  billLockDate: soon\n")],
        "desired-state/a.yaml:2:17: billConfig: `billLockDate` must be a date",
    );
}

#[test]
fn an_entity_custom_field_needs_its_org_level_default() {
    refused(
        &[(
            "a.yaml",
            "customFields:\n  account: {tier: silver}\naccounts:\n  - code: acme\n    name: Acme\n    \
             emailAddress: billing@acme.test\n    customFields: {tier: gold, regoin: eu}\n",
        )],
        "desired-state/a.yaml:7:40: account: custom field `regoin` is not declared at org level: m3ter requires an org-level default first, so add `regoin` to `customFields.account` (declared there: tier)",
    );
}

#[test]
fn the_emulator_enforces_org_level_custom_fields_once_written() {
    let emu = EmulatorProcess::start(&[]);
    let account = |code: &str, cf: Value| {
        emu.api(
            "POST",
            "accounts",
            Some(json!({"code": code, "name": code, "emailAddress": "a@example.com", "customFields": cf})),
        )
    };
    // Never written: nothing to check against (as before this rule).
    let (status, v) = account("before", json!({"anything": 1}));
    assert_eq!(status, 200, "{v}");
    put_live(&emu, "customfields", json!({"account": {"tier": "silver"}}));
    let (status, v) = account("declared", json!({"tier": "gold"}));
    assert_eq!(status, 200, "{v}");
    let (status, v) = account("undeclared", json!({"colour": "red"}));
    assert_eq!(status, 400, "{v}");
    assert!(
        v["message"]
            .as_str()
            .is_some_and(|m| m.contains("`colour`") && m.contains("customFields.account")),
        "{v}"
    );
}
