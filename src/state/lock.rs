//! The state lock: an OS advisory lock on `<state>.lock`, held for a whole
//! command.
//!
//! The OS releases the lock when the process ends, however it ends, so a
//! killed run never leaves the state locked on a local disk. The file's
//! content (pid, host, time, command) only *names* the holder for the error
//! a second writer gets. The file itself is never deleted on release:
//! deleting it would let a waiting process lock the old, unlinked file
//! while a third locks a new one. `force-unlock` deletes it, for locks
//! stuck on a network filesystem.

use std::fs::{File, OpenOptions, TryLockError};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use super::{Location, StateError};

/// Who holds a lock, as written into the lock file (or lock object).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LockInfo {
    /// A UUID naming this hold of the lock, for `m3ter force-unlock ID`
    /// (empty in lock files of older versions).
    #[serde(default)]
    pub id: String,
    /// The user name of the holder (`$USER`), best effort.
    #[serde(default)]
    pub user: String,
    pub pid: u32,
    pub host: String,
    /// RFC 3339 UTC time the lock was taken.
    pub since: String,
    /// The command, e.g. `m3ter apply` (never its arguments, which may hold
    /// secrets).
    pub command: String,
}

impl LockInfo {
    /// Describes the current process.
    pub fn current(command: &str) -> Self {
        LockInfo {
            id: uuid::Uuid::new_v4().to_string(),
            user: std::env::var("USER")
                .or_else(|_| std::env::var("USERNAME"))
                .unwrap_or_default(),
            pid: std::process::id(),
            host: hostname(),
            since: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            command: command.to_string(),
        }
    }

    /// "pid 12 on host ci-3 since … (m3ter apply), user ann, lock id …".
    pub(crate) fn describe(&self) -> String {
        let mut text = format!(
            "pid {} on host {} since {} ({})",
            self.pid, self.host, self.since, self.command
        );
        if !self.user.is_empty() {
            text.push_str(&format!(", user {}", self.user));
        }
        if !self.id.is_empty() {
            text.push_str(&format!(", lock id {}", self.id));
        }
        text
    }
}

/// A held state lock; dropping it releases the lock.
#[derive(Debug)]
pub struct StateLock {
    file: File,
    path: PathBuf,
    id: String,
}

/// `<state>.lock` next to the state file.
pub fn lock_path(state_path: &Path) -> PathBuf {
    let mut name = state_path
        .file_name()
        .map(|n| n.to_os_string())
        .unwrap_or_default();
    name.push(".lock");
    state_path.with_file_name(name)
}

fn io_err(path: &Path, what: &str, e: std::io::Error) -> StateError {
    StateError::Io {
        path: path.to_path_buf(),
        what: what.to_string(),
        source: e,
    }
}

impl StateLock {
    /// Takes the lock on `<state_path>.lock` at once, or fails naming the
    /// holder ([`StateLock::acquire_waiting`] without waiting).
    pub fn acquire(state_path: &Path, command: &str) -> Result<StateLock, StateError> {
        StateLock::acquire_waiting(state_path, command, Duration::ZERO)
    }

    /// Takes the lock on `<state_path>.lock`, waiting up to `timeout` while
    /// another process holds it, or fails naming the holder. When it is
    /// held but the file does not name the holder yet, waits at least a
    /// bounded short time (2 s) for the name to appear.
    pub fn acquire_waiting(
        state_path: &Path,
        command: &str,
        timeout: Duration,
    ) -> Result<StateLock, StateError> {
        let path = lock_path(state_path);
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|e| io_err(dir, "create directory", e))?;
        }
        // No truncate on open: the content belongs to the holder until we
        // hold the lock ourselves.
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(|e| io_err(&path, "open lock file", e))?;
        super::remote::wait_blocking(|| wait_for_holder(&mut file, &path, timeout))?;
        let info = LockInfo::current(command);
        let text = serde_json::to_string_pretty(&info).unwrap_or_default();
        file.set_len(0)
            .and_then(|()| file.seek(SeekFrom::Start(0)).map(|_| ()))
            .and_then(|()| file.write_all(text.as_bytes()))
            .and_then(|()| file.sync_all())
            .map_err(|e| io_err(&path, "write lock file", e))?;
        Ok(StateLock {
            file,
            path,
            id: info.id,
        })
    }

    /// The id of this hold of the lock.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The lock file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for StateLock {
    fn drop(&mut self) {
        // Clear the holder's name while still holding the lock, so a stale
        // name never outlives us; closing the file releases the OS lock.
        let _ = self.file.set_len(0);
        let _ = self.file.unlock();
    }
}

/// How long a loser waits for a locked file to name its holder. The winner
/// writes its name right after its flock, so an empty (or half-written)
/// file under a held lock is a race this wait outlasts; only a holder that
/// never writes (not an m3ter, or stopped in between) reaches the end.
const NAME_WAIT: Duration = Duration::from_secs(2);

/// Locks `file`, or fails with an error naming the holder. While the lock
/// is held, re-reads the file until the lock comes free (then takes it: the
/// holder has finished), or `timeout` runs out with the holder named, or
/// [`NAME_WAIT`] (or `timeout`, if longer) runs out with nobody named.
fn wait_for_holder(file: &mut File, path: &Path, timeout: Duration) -> Result<(), StateError> {
    let start = Instant::now();
    let mut pause = Duration::from_millis(10);
    loop {
        match file.try_lock() {
            Ok(()) => return Ok(()),
            Err(TryLockError::WouldBlock) => {}
            Err(TryLockError::Error(e)) => return Err(io_err(path, "lock", e)),
        }
        let holder = read_info(file);
        let waited = start.elapsed();
        match &holder {
            Some(h) if waited >= timeout => {
                return Err(StateError::Locked {
                    path: Location::file(path).with_lock_timeout(timeout),
                    holder: h.describe(),
                    id: Some(h.id.clone()).filter(|id| !id.is_empty()),
                });
            }
            None if waited >= timeout.max(NAME_WAIT) => {
                return Err(StateError::Locked {
                    path: Location::file(path).with_lock_timeout(timeout),
                    holder: format!(
                        "another process, which has not written its pid and host into the lock file within {} s (not an m3ter run, or one stopped right after locking)",
                        NAME_WAIT.as_secs()
                    ),
                    id: None,
                });
            }
            _ => {}
        }
        std::thread::sleep(pause);
        if holder.is_some() {
            // Named: a real wait for a run to end, no need to poll fast.
            pause = (pause * 2).min(Duration::from_millis(500));
        }
    }
}

fn read_info(file: &mut File) -> Option<LockInfo> {
    let mut text = String::new();
    file.seek(SeekFrom::Start(0)).ok()?;
    file.read_to_string(&mut text).ok()?;
    serde_json::from_str(&text).ok()
}

/// What `force-unlock` did.
#[derive(Debug, PartialEq, Eq)]
pub enum Unlocked {
    /// Nobody held the lock (a leftover file, if any, was removed).
    NotLocked,
    /// The lock file of this holder was removed.
    Removed(Option<LockInfo>),
}

/// Removes a stuck lock file. Refuses when the holder is a live process on
/// this host: the OS lock is real then, and that process must be stopped
/// instead.
pub fn force_unlock(state_path: &Path) -> Result<Unlocked, StateError> {
    force_unlock_id(state_path, None)
}

/// [`force_unlock`], refusing also when `id` is given and the lock file
/// names another lock id (the lock was taken again since).
pub(crate) fn force_unlock_id(state_path: &Path, id: Option<&str>) -> Result<Unlocked, StateError> {
    let path = lock_path(state_path);
    let mut file = match OpenOptions::new().read(true).write(true).open(&path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Unlocked::NotLocked),
        Err(e) => return Err(io_err(&path, "open lock file", e)),
    };
    match file.try_lock() {
        Ok(()) => {
            // Free: nothing to unlock. Remove the file while holding it.
            let _ = std::fs::remove_file(&path);
            Ok(Unlocked::NotLocked)
        }
        Err(TryLockError::WouldBlock) => {
            let holder = read_info(&mut file);
            if let (Some(h), Some(id)) = (&holder, id)
                && !h.id.is_empty()
                && h.id != id
            {
                return Err(StateError::WrongLockId {
                    path: Location::file(&path),
                    given: id.to_string(),
                    holder: h.describe(),
                });
            }
            if let Some(h) = &holder
                && h.host == hostname()
                && process_alive(h.pid)
            {
                return Err(StateError::HeldByLiveProcess {
                    path: Location::file(&path),
                    holder: h.describe(),
                });
            }
            std::fs::remove_file(&path).map_err(|e| io_err(&path, "remove lock file", e))?;
            Ok(Unlocked::Removed(holder))
        }
        Err(TryLockError::Error(e)) => Err(io_err(&path, "lock", e)),
    }
}

fn process_alive(pid: u32) -> bool {
    if cfg!(target_os = "linux") {
        Path::new(&format!("/proc/{pid}")).exists()
    } else {
        // Without a portable check, assume alive: refusing is the safe side.
        true
    }
}

/// This machine's host name, best effort.
pub fn hostname() -> String {
    ["/proc/sys/kernel/hostname", "/etc/hostname"]
        .iter()
        .find_map(|p| std::fs::read_to_string(p).ok())
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .or_else(|| std::env::var("HOSTNAME").ok().filter(|s| !s.is_empty()))
        .unwrap_or_else(|| "unknown-host".to_string())
}
