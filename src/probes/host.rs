//! Host probe: which node, kernel, OS and user the facts describe, the open-files limit (RLIMIT_NOFILE)
//! every process of the job inherits, and the descriptors h5doctor itself inherited (noted by `main`
//! before it opens anything), which take slots of that limit in any program started the same way.

use crate::facts::HostFacts;
use std::sync::OnceLock;

/// The descriptors open when h5doctor started.
static OPEN_AT_START: OnceLock<Vec<u32>> = OnceLock::new();

/// The open descriptors of this process, from /proc/self/fd (without the one reading it).
fn open_descriptors() -> Option<Vec<u32>> {
    let listed: Vec<u32> = std::fs::read_dir("/proc/self/fd")
        .ok()?
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
        .collect();
    // The directory's own descriptor is closed by now: its link is gone.
    let mut fds: Vec<u32> = listed
        .into_iter()
        .filter(|&fd| std::fs::read_link(format!("/proc/self/fd/{fd}")).is_ok())
        .collect();
    fds.sort_unstable();
    Some(fds)
}

/// Records the descriptors h5doctor inherited; `main` calls it first, before logging, signal handling or
/// any probe opens one.
pub fn note_open_at_start() {
    if let Some(fds) = open_descriptors() {
        let _ = OPEN_AT_START.set(fds);
    }
}

fn read_trimmed(path: &str) -> String {
    std::fs::read_to_string(path).map(|s| s.trim().to_string()).unwrap_or_default()
}

fn os_pretty_name() -> String {
    let text = std::fs::read_to_string("/etc/os-release").unwrap_or_default();
    text.lines()
        .find_map(|l| l.strip_prefix("PRETTY_NAME="))
        .map(|v| v.trim_matches('"').to_string())
        .unwrap_or_default()
}

fn user_name() -> String {
    if let Ok(u) = std::env::var("USER") {
        return u;
    }
    // SAFETY: getpwuid returns a pointer into static storage or null; we copy the name out at once.
    unsafe {
        let pw = libc::getpwuid(libc::geteuid());
        if pw.is_null() || (*pw).pw_name.is_null() {
            return String::new();
        }
        std::ffi::CStr::from_ptr((*pw).pw_name).to_string_lossy().into_owned()
    }
}

pub fn probe() -> HostFacts {
    HostFacts {
        hostname: read_trimmed("/proc/sys/kernel/hostname"),
        kernel: read_trimmed("/proc/sys/kernel/osrelease"),
        os: os_pretty_name(),
        collected_at_unix: std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs()),
        user: user_name(),
        home: std::env::var("HOME").unwrap_or_default(),
        open_files_limit: open_files_limit(),
        open_files_rereads: Vec::new(),
        open_at_start: OPEN_AT_START.get().cloned(),
    }
}

/// RLIMIT_NOFILE as (soft, hard); RLIM_INFINITY as u64::MAX.
fn open_files_limit() -> Option<(u64, u64)> {
    let mut lim: libc::rlimit = unsafe { std::mem::zeroed() };
    // SAFETY: getrlimit writes one struct rlimit.
    (unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) } == 0).then_some((lim.rlim_cur, lim.rlim_max))
}
