//! Host probe: which node, kernel, OS and user the facts describe, and the open-files limit (RLIMIT_NOFILE)
//! every process of the job inherits.

use crate::facts::HostFacts;

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
    }
}

/// RLIMIT_NOFILE as (soft, hard); RLIM_INFINITY as u64::MAX.
fn open_files_limit() -> Option<(u64, u64)> {
    let mut lim: libc::rlimit = unsafe { std::mem::zeroed() };
    // SAFETY: getrlimit writes one struct rlimit.
    (unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) } == 0).then_some((lim.rlim_cur, lim.rlim_max))
}
