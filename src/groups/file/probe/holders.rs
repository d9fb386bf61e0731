//! Who holds a lock on a file, or has it open, on this node right now: /proc/locks (the kernel's table of
//! flock, POSIX and OFD locks, keyed by device and inode) and the /proc/PID/fd links h5doctor may read
//! (all of them as root, the user's own otherwise). Other nodes of a cluster are invisible from here.

use crate::facts::values::{LockAccess, LockType};
use crate::facts::{LockHolder, ProcessRef};
use std::os::unix::fs::MetadataExt;
use std::path::Path;

/// One held lock from /proc/locks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LockEntry {
    pub lock_type: LockType,
    pub access: LockAccess,
    pub pid: i32,
    pub major: u32,
    pub minor: u32,
    pub inode: u64,
}

/// Parses /proc/locks. Lines look like `1: FLOCK  ADVISORY  WRITE 24276 fe:00:10027091 0 EOF`; a line
/// with `->` is a process waiting for the lock, not holding it, and is skipped, as is a line whose access
/// is none of READ, WRITE and UNLCK, or whose type is not a `LockType` (a kernel newer than h5doctor). Device numbers are hex.
pub fn parse_proc_locks(text: &str) -> Vec<LockEntry> {
    text.lines()
        .filter_map(|line| {
            let fields: Vec<&str> = line.split_whitespace().collect();
            if fields.get(1) == Some(&"->") || fields.len() < 6 {
                return None;
            }
            let mut dev = fields[5].split(':');
            let major = u32::from_str_radix(dev.next()?, 16).ok()?;
            let minor = u32::from_str_radix(dev.next()?, 16).ok()?;
            let inode = dev.next()?.parse().ok()?;
            Some(LockEntry {
                lock_type: fields[1].parse().ok()?,
                access: fields[3].parse().ok()?,
                pid: fields[4].parse().ok()?,
                major,
                minor,
                inode,
            })
        })
        .collect()
}

/// The command name of a process (/proc/PID/comm), when it can be read.
pub fn command_of(pid: i32) -> Option<String> {
    std::fs::read_to_string(format!("/proc/{pid}/comm"))
        .ok()
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
}

/// The locks on the file with this metadata, writers first.
pub fn locks_on(meta: &std::fs::Metadata) -> Vec<LockHolder> {
    let text = std::fs::read_to_string("/proc/locks").unwrap_or_default();
    let (major, minor) = (libc::major(meta.dev()), libc::minor(meta.dev()));
    let mut holders: Vec<LockHolder> = parse_proc_locks(&text)
        .into_iter()
        .filter(|l| l.inode == meta.ino() && l.major == major && l.minor == minor)
        .map(|l| LockHolder {
            command: (l.pid > 0).then(|| command_of(l.pid)).flatten(),
            pid: l.pid,
            lock_type: l.lock_type,
            access: l.access,
        })
        .collect();
    holders.sort_by_key(|h| (h.access != LockAccess::Write, h.lock_type != LockType::Flock, h.pid));
    holders.dedup();
    holders
}

/// Processes (other than this one) with an open descriptor on the file, as far as /proc lets us see.
pub fn openers_of(path: &Path, meta: &std::fs::Metadata) -> Vec<ProcessRef> {
    let me = std::process::id() as i32;
    let Some(name) = path.file_name() else {
        return Vec::new();
    };
    let Ok(procs) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for pid in procs.filter_map(|e| e.ok()?.file_name().to_str()?.parse::<i32>().ok()) {
        if pid == me {
            continue;
        }
        let Ok(fds) = std::fs::read_dir(format!("/proc/{pid}/fd")) else {
            continue;
        };
        let holds = fds.filter_map(Result::ok).any(|fd| {
            let Ok(target) = std::fs::read_link(fd.path()) else {
                return false;
            };
            target.file_name() == Some(name) && std::fs::metadata(fd.path()).is_ok_and(|m| m.dev() == meta.dev() && m.ino() == meta.ino())
        });
        if holds {
            out.push(ProcessRef {
                pid,
                command: command_of(pid),
            });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_holders_and_skips_waiters() {
        let text = "1: FLOCK  ADVISORY  WRITE 24276 fe:00:10027091 0 EOF\n\
                    1: -> FLOCK  ADVISORY  WRITE 24300 fe:00:10027091 0 EOF\n\
                    2: OFDLCK ADVISORY  READ  -1 00:2b:77 0 EOF\n\
                    3: POSIX  ADVISORY  WRITE 99 103:1a0:5 0 EOF\n";
        let locks = parse_proc_locks(text);
        assert_eq!(locks.len(), 3);
        assert_eq!(
            locks[0],
            LockEntry {
                lock_type: LockType::Flock,
                access: LockAccess::Write,
                pid: 24276,
                major: 0xfe,
                minor: 0,
                inode: 10027091
            }
        );
        assert_eq!((locks[1].pid, locks[1].minor), (-1, 0x2b));
        assert_eq!((locks[2].major, locks[2].minor), (0x103, 0x1a0));
    }

    #[test]
    fn a_lease_being_broken_is_unlck_and_an_unknown_access_is_skipped() {
        let text = "1: LEASE  BREAKING  UNLCK 7 fe:00:12 0 EOF\n\
                    2: FLOCK  ADVISORY  SHARED 8 fe:00:13 0 EOF\n";
        let locks = parse_proc_locks(text);
        assert_eq!(locks.len(), 1, "{locks:?}");
        assert_eq!((locks[0].access, locks[0].pid), (LockAccess::Unlck, 7));
    }
}
