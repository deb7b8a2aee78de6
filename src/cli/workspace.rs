//! Workspaces (`--workspace NAME`, `$M3TER_WORKSPACE`): several environments
//! of one org (e.g. one per `suffix` of the example), each with its own
//! state file `state/<org-id>.<NAME>.json` (`state/local.<NAME>.json` with
//! `--local`), so applying one never plans to delete another.

use anyhow::bail;

use super::connect::is_safe_name;

/// The file name of a state file: `<base>.json`, or `<base>.<NAME>.json` in
/// workspace NAME (`base` is an org id or `local`).
pub(crate) fn state_file_name(base: &str, workspace: Option<&str>) -> String {
    match workspace {
        Some(ws) => format!("{base}.{ws}.json"),
        None => format!("{base}.json"),
    }
}

/// The workspace name, checked: it becomes part of a file name.
pub(crate) fn checked(name: Option<&str>) -> anyhow::Result<Option<&str>> {
    let Some(name) = name.map(str::trim).filter(|n| !n.is_empty()) else {
        return Ok(None);
    };
    if !is_safe_name(name) {
        bail!(
            "--workspace `{name}` is not a workspace name: use letters, digits, `_` and `-` only (e.g. --workspace api_7)"
        );
    }
    Ok(Some(name))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_checked() {
        assert_eq!(checked(Some("api_7")).expect("ok"), Some("api_7"));
        assert_eq!(checked(None).expect("ok"), None);
        assert_eq!(checked(Some(" ")).expect("ok"), None);
        for bad in ["a.b", "../x", "a b", "ü"] {
            let err = checked(Some(bad)).expect_err(bad).to_string();
            assert!(err.contains("letters, digits"), "{err}");
        }
        assert_eq!(state_file_name("local", Some("w")), "local.w.json");
        assert_eq!(state_file_name("org", None), "org.json");
    }
}
