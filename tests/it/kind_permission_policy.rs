//! The `permissionPolicy` kind end to end: the real binary against an
//! emulator process through create, no-op, update, delete, adopt by key
//! (the policy's name: the API gives it no code), export and destroy; a
//! statement with an unknown action refused before any request, with the
//! action it probably meant.

use crate::common;
use common::cli::{EmulatorProcess, text};
use common::kind_flow::{
    apply, changes, destroy, export_round_trip, only_live, org_requests, plan, summary,
    validate_fails, write_desired,
};
use serde_json::{Value, json};

const COLLECTION: &str = "permissionpolicies";

/// One policy, `Config readers`, allowing `actions` on every product.
fn desired(actions: &str) -> String {
    format!(
        "permissionPolicies:\n  - name: Config readers\n    permissionPolicy:\n      \
         - effect: ALLOW\n        action: [{actions}]\n        resource: ['config:product/*']\n"
    )
}

#[test]
fn a_permission_policy_is_created_left_alone_updated_and_deleted() {
    let emu = EmulatorProcess::start(&[]);
    let dir = tempfile::tempdir().expect("tempdir");
    let address = r#"permissionPolicy["Config readers"]"#;
    write_desired(dir.path(), &desired("CONFIG_RETRIEVE"));

    let (c, _) = plan(dir.path(), &emu, &[]);
    assert_eq!(c, changes(&[(address, "create")]));
    apply(dir.path(), &emu);
    let made = only_live(&emu, COLLECTION);
    assert_eq!(
        made["permissionPolicy"],
        json!([{"effect": "ALLOW", "action": ["CONFIG_RETRIEVE"], "resource": ["config:product/*"]}]),
        "{made}"
    );

    let (c, s) = plan(dir.path(), &emu, &[]);
    assert_eq!((c, s), (vec![], summary(0, 0, 0, 0)));

    write_desired(dir.path(), &desired("CONFIG_RETRIEVE, CONFIG_EXPORT"));
    let (c, _) = plan(dir.path(), &emu, &[]);
    assert_eq!(c, changes(&[(address, "update")]));
    apply(dir.path(), &emu);
    let updated = only_live(&emu, COLLECTION);
    assert_eq!(
        (
            &updated["id"],
            &updated["version"],
            &updated["permissionPolicy"][0]["action"]
        ),
        (
            &made["id"],
            &json!(2),
            &json!(["CONFIG_RETRIEVE", "CONFIG_EXPORT"])
        ),
        "{updated}"
    );
    let (c, _) = plan(dir.path(), &emu, &[]);
    assert_eq!(c, vec![]);

    write_desired(dir.path(), "permissionPolicies: []\n");
    let (c, _) = plan(dir.path(), &emu, &[]);
    assert_eq!(c, changes(&[(address, "delete")]));
    apply(dir.path(), &emu);
    assert_eq!(emu.list_all(COLLECTION), Vec::<Value>::new());
}

#[test]
fn a_live_permission_policy_is_adopted_by_name_exported_and_destroyed() {
    let emu = EmulatorProcess::start(&[]);
    let (status, made) = emu.api(
        "POST",
        COLLECTION,
        Some(json!({"name": "Config readers", "permissionPolicy": [
            {"effect": "ALLOW", "action": ["CONFIG_RETRIEVE"], "resource": ["config:product/*"]}]})),
    );
    assert_eq!(status, 200, "{made}");

    let dir = tempfile::tempdir().expect("tempdir");
    write_desired(dir.path(), &desired("CONFIG_RETRIEVE"));
    let (c, s) = plan(dir.path(), &emu, &[]);
    assert_eq!(
        (c, s),
        (
            changes(&[(r#"permissionPolicy["Config readers"]"#, "import")]),
            summary(1, 0, 0, 0)
        )
    );
    apply(dir.path(), &emu);
    assert_eq!(
        only_live(&emu, COLLECTION)["version"],
        json!(1),
        "an import sends nothing"
    );

    assert_eq!(export_round_trip(dir.path(), &emu), summary(1, 0, 0, 0));
    let yaml =
        std::fs::read_to_string(dir.path().join("exported/permissionPolicies.yaml")).expect("file");
    assert!(
        yaml.contains("name: Config readers") && yaml.contains("config:product/*"),
        "{yaml}"
    );

    destroy(dir.path(), &emu);
    assert_eq!(emu.list_all(COLLECTION), Vec::<Value>::new());
}

/// `config:create` is how m3ter's documentation writes the action; the
/// spec's enum (what the API takes) is `CONFIG_CREATE`.
#[test]
fn an_unknown_action_is_refused_before_any_request_with_a_suggestion() {
    let emu = EmulatorProcess::start(&[]);
    let dir = tempfile::tempdir().expect("tempdir");
    write_desired(dir.path(), &desired("CONFIG_RETRIEVE, config:create"));

    let out = validate_fails(dir.path(), &emu);
    assert!(
        out.contains("desired-state/main.yaml:5:35:")
            && out.contains("`permissionPolicy[0].action[1]`")
            && out.contains("(did you mean `CONFIG_CREATE`?)"),
        "{out}"
    );
    assert_eq!(org_requests(&emu, |_| true), 0, "validate makes no request");
    // `plan` reads the org while it loads; it writes nothing.
    let out = common::cli::m3ter(dir.path(), &emu, &["plan", "--rate-limit", "0"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let writes = org_requests(&emu, |route| !route.starts_with("GET "));
    assert_eq!(writes, 0, "no write: {}", text(&out));

    // The emulator refuses it too, with the same rule's words.
    let (status, body) = emu.api(
        "POST",
        COLLECTION,
        Some(json!({"name": "Writers", "permissionPolicy": [
            {"effect": "ALLOW", "action": ["CONFIG_CRATE"], "resource": ["config:*"]}]})),
    );
    assert_eq!(status, 400, "{body}");
    assert!(
        body.to_string().contains("did you mean `CONFIG_CREATE`?"),
        "{body}"
    );
}
