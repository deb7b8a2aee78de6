//! Peak resident memory of a child process: an RSS assertion, stable where
//! a time one is not.
//!
//! Read as `VmHWM` of `/proc/<pid>/status`, the high-water mark of the
//! child's own address space, polled until it exits. (`wait4`'s `ru_maxrss`
//! is no good here: it keeps the test process's high-water mark across the
//! spawn's exec, so it measures the test harness too.)

use std::process::Command;
use std::time::Duration;

/// Runs `cmd` to its end (its stdout and stderr as the caller set them; do
/// not pipe them, nothing reads a pipe here) and returns its exit code
/// (`None` when a signal ended it) and its peak RSS in KiB, as last seen
/// (sampled every 2 ms; the mark only grows, so a sample holds every peak
/// before it).
pub fn run_peak_rss(cmd: &mut Command) -> (Option<i32>, u64) {
    let mut child = cmd.spawn().expect("the command starts");
    let status = format!("/proc/{}/status", child.id());
    let mut peak = 0;
    loop {
        // Read before reaping: once reaped, the pid's files are gone.
        if let Some(kib) = std::fs::read_to_string(&status)
            .ok()
            .as_deref()
            .and_then(vm_hwm_kib)
        {
            peak = peak.max(kib);
        }
        if let Some(exit) = child.try_wait().expect("try_wait") {
            assert!(peak > 0, "no VmHWM was read from {status}");
            return (exit.code(), peak);
        }
        std::thread::sleep(Duration::from_millis(2));
    }
}

/// The `VmHWM:` line of a `/proc/<pid>/status` text, in KiB.
fn vm_hwm_kib(status: &str) -> Option<u64> {
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))?
        .trim()
        .strip_suffix("kB")?
        .trim()
        .parse()
        .ok()
}
