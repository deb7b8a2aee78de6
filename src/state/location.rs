//! Where a state lives: a local file, or an object in an S3 bucket
//! (`s3://BUCKET/KEY`), and how long to wait for its lock.

use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// A state's location, as `--state` (or `M3TER_STATE`, or the default
/// file rule) names it, with the `--lock-timeout` of the command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Location {
    /// Boxed: a location is in most state errors, which stay small.
    pub(crate) place: Box<Place>,
    /// How long to wait for a lock held by another run (0: fail at once).
    pub lock_timeout: Duration,
}

/// The two kinds of location.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Place {
    File(PathBuf),
    Object(ObjectUrl),
}

/// `s3://BUCKET/KEY`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ObjectUrl {
    pub bucket: String,
    pub key: String,
}

impl ObjectUrl {
    /// The same bucket, the key with `suffix` appended (`KEY.lock`).
    pub fn with_suffix(&self, suffix: &str) -> ObjectUrl {
        ObjectUrl {
            bucket: self.bucket.clone(),
            key: format!("{}{suffix}", self.key),
        }
    }
}

impl fmt::Display for ObjectUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "s3://{}/{}", self.bucket, self.key)
    }
}

/// Why a `--state` value names no usable location.
#[derive(Debug, thiserror::Error)]
#[error("--state {given}: {why}")]
pub struct BadLocation {
    given: String,
    why: String,
}

impl Location {
    /// A local state file.
    pub fn file(path: impl Into<PathBuf>) -> Location {
        Location {
            place: Box::new(Place::File(path.into())),
            lock_timeout: Duration::ZERO,
        }
    }

    /// Reads a `--state` value: `s3://BUCKET/KEY` is an object, anything
    /// without a `scheme://` a file path. Other schemes are refused by name
    /// (`gs://` and `az://` are not built into this m3ter).
    pub fn parse(given: &str) -> Result<Location, BadLocation> {
        let bad = |why: &str| BadLocation {
            given: given.to_string(),
            why: why.to_string(),
        };
        let Some((scheme, rest)) = given.split_once("://") else {
            return Ok(Location::file(given));
        };
        if scheme != "s3" {
            return Err(bad(&format!(
                "`{scheme}://` is not a supported state location; give a file path or s3://BUCKET/KEY (S3-compatible stores through AWS_ENDPOINT_URL)"
            )));
        }
        let Some((bucket, key)) = rest.split_once('/') else {
            return Err(bad(
                "no key: give s3://BUCKET/KEY, e.g. s3://my-bucket/m3ter/sandbox.json",
            ));
        };
        let bucket_ok = (3..=63).contains(&bucket.len())
            && bucket
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '.');
        if !bucket_ok {
            return Err(bad(&format!(
                "`{bucket}` is not an S3 bucket name (3 to 63 lowercase letters, digits, `-` and `.`)"
            )));
        }
        let segments_ok = !key.is_empty()
            && key
                .split('/')
                .all(|s| !s.is_empty() && s != "." && s != ".." && !s.contains(char::is_control));
        if !segments_ok {
            return Err(bad(&format!(
                "`{key}` is not an object key: use `/`-separated names without empty, `.` or `..` parts, e.g. m3ter/sandbox.json"
            )));
        }
        Ok(Location {
            place: Box::new(Place::Object(ObjectUrl {
                bucket: bucket.to_string(),
                key: key.to_string(),
            })),
            lock_timeout: Duration::ZERO,
        })
    }

    /// The same location with another lock timeout.
    pub fn with_lock_timeout(mut self, timeout: Duration) -> Location {
        self.lock_timeout = timeout;
        self
    }

    /// The local file, when this is one.
    pub fn as_file(&self) -> Option<&Path> {
        match &*self.place {
            Place::File(p) => Some(p),
            Place::Object(_) => None,
        }
    }

    /// Itself: messages written for paths (`path.display()`) read the same
    /// with a location.
    pub fn display(&self) -> &Location {
        self
    }

    /// Whether this is an object in a bucket.
    pub fn is_remote(&self) -> bool {
        matches!(*self.place, Place::Object(_))
    }

    /// Where the previous version is kept: `<file>.backup`, `KEY.backup`.
    pub fn backup(&self) -> Location {
        self.with_suffix(".backup")
    }

    /// Where the lock is: `<file>.lock`, `KEY.lock`.
    pub fn lock(&self) -> Location {
        self.with_suffix(".lock")
    }

    fn with_suffix(&self, suffix: &str) -> Location {
        let place = match &*self.place {
            Place::File(p) => {
                let mut name = p.file_name().map(|n| n.to_os_string()).unwrap_or_default();
                name.push(suffix);
                Place::File(p.with_file_name(name))
            }
            Place::Object(o) => Place::Object(o.with_suffix(suffix)),
        };
        Location {
            place: Box::new(place),
            lock_timeout: self.lock_timeout,
        }
    }
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &*self.place {
            Place::File(p) => write!(f, "{}", p.display()),
            Place::Object(o) => write!(f, "{o}"),
        }
    }
}

impl From<&Path> for Location {
    fn from(p: &Path) -> Location {
        Location::file(p)
    }
}

impl From<&PathBuf> for Location {
    fn from(p: &PathBuf) -> Location {
        Location::file(p.clone())
    }
}

impl From<PathBuf> for Location {
    fn from(p: PathBuf) -> Location {
        Location::file(p)
    }
}

impl From<&Location> for Location {
    fn from(l: &Location) -> Location {
        l.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_and_paths() {
        let l = Location::parse("s3://my-bucket/m3ter/a.json").expect("s3");
        assert!(l.is_remote());
        assert_eq!(l.to_string(), "s3://my-bucket/m3ter/a.json");
        assert_eq!(l.lock().to_string(), "s3://my-bucket/m3ter/a.json.lock");
        assert_eq!(l.backup().to_string(), "s3://my-bucket/m3ter/a.json.backup");
        let f = Location::parse("state/x.json").expect("file");
        assert_eq!(f.as_file(), Some(Path::new("state/x.json")));
        assert_eq!(f.lock().to_string(), "state/x.json.lock");
        for bad in [
            "gs://b/k",
            "az://b/k",
            "s3://bucket",
            "s3://bucket/",
            "s3://Bucket/k",
            "s3://b/k",
            "s3://bucket/a//b",
            "s3://bucket/../k",
        ] {
            assert!(Location::parse(bad).is_err(), "{bad}");
        }
    }
}
