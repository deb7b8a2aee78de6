//! Saved plans (`plan -o FILE`): JSON with `formatVersion: 1`, written
//! atomically so a crash never leaves half a plan behind.

use std::io::Write;
use std::path::{Path, PathBuf};

use super::{FORMAT_VERSION, Plan};

/// Why a plan file cannot be written or read.
#[derive(Debug, thiserror::Error)]
pub enum PlanFileError {
    #[error("cannot {action} plan file {path}: {source}")]
    Io {
        action: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("plan file {path} is not a saved plan (line {line}, column {column}): {message}")]
    Parse {
        path: PathBuf,
        line: usize,
        column: usize,
        message: String,
    },
    #[error(
        "plan file {path} has formatVersion {found}; this build reads formatVersion {FORMAT_VERSION}: make a new plan with `m3ter plan -o FILE`"
    )]
    FormatVersion { path: PathBuf, found: String },
}

fn io(action: &'static str, path: &Path) -> impl FnOnce(std::io::Error) -> PlanFileError {
    let path = path.to_path_buf();
    move |source| PlanFileError::Io {
        action,
        path,
        source,
    }
}

impl Plan {
    /// Writes the plan as JSON: a temporary file next to `path`, fsync,
    /// rename over `path`.
    pub fn save(&self, path: &Path) -> Result<(), PlanFileError> {
        let json = serde_json::to_vec_pretty(self).map_err(|e| PlanFileError::Parse {
            path: path.to_path_buf(),
            line: e.line(),
            column: e.column(),
            message: e.to_string(),
        })?;
        let dir = match path.parent() {
            Some(d) if !d.as_os_str().is_empty() => d,
            _ => Path::new("."),
        };
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| "plan".to_string());
        let tmp = dir.join(format!(".{name}.tmp-{}", std::process::id()));
        let written = (|| {
            let mut f = std::fs::File::create(&tmp)?;
            f.write_all(&json)?;
            f.write_all(b"\n")?;
            f.sync_all()?;
            std::fs::rename(&tmp, path)
        })();
        if written.is_err() {
            let _ = std::fs::remove_file(&tmp);
        }
        written.map_err(io("write", path))
    }

    /// Reads a saved plan, refusing another `formatVersion` with a message
    /// that says how to get a plan this build reads.
    pub fn load(path: &Path) -> Result<Plan, PlanFileError> {
        let text = std::fs::read_to_string(path).map_err(io("read", path))?;
        let parse_err = |e: serde_json::Error| PlanFileError::Parse {
            path: path.to_path_buf(),
            line: e.line(),
            column: e.column(),
            message: e.to_string(),
        };
        let value: serde_json::Value = serde_json::from_str(&text).map_err(parse_err)?;
        match value.get("formatVersion") {
            Some(v) if v.as_u64() == Some(u64::from(FORMAT_VERSION)) => {}
            Some(v) => {
                return Err(PlanFileError::FormatVersion {
                    path: path.to_path_buf(),
                    found: v.to_string(),
                });
            }
            None => {
                return Err(PlanFileError::FormatVersion {
                    path: path.to_path_buf(),
                    found: "(none)".to_string(),
                });
            }
        }
        serde_json::from_value(value).map_err(parse_err)
    }
}
