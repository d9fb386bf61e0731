//! Lock probe: the raw lock syscalls HDF5, h5py and MPI-IO use, tried on a fresh probe file in a
//! directory, with no HDF5 involved. HDF5 takes `flock(LOCK_EX|LOCK_NB)` on create and read-write open
//! and `flock(LOCK_SH|LOCK_NB)` on read-only open; ROMIO uses fcntl(F_SETLK(W)).
//!
//! It runs in the directory probe child (`probes::dirs`), because a lock call on a sick network mount
//! can hang, and the parent gives up on the child at its deadline.

pub mod mounts;

use crate::cleanup::{self, ProbeFile};
use crate::errno;
use crate::facts::{LockFacts, ProbeStatus, SyscallResult};
use std::os::fd::AsRawFd;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;
use std::time::Instant;

fn result(rc: libc::c_int) -> SyscallResult {
    let errno = if rc == 0 {
        0
    } else {
        std::io::Error::last_os_error().raw_os_error().unwrap_or(-1)
    };
    SyscallResult {
        errno,
        errno_name: errno::name(errno),
    }
}

fn flock(fd: i32, op: libc::c_int) -> SyscallResult {
    // SAFETY: flock on a file descriptor we own.
    let r = result(unsafe { libc::flock(fd, op | libc::LOCK_NB) });
    if r.errno == 0 {
        unsafe { libc::flock(fd, libc::LOCK_UN) };
    }
    r
}

fn fcntl_lock(fd: i32, cmd: libc::c_int) -> SyscallResult {
    let mut lk: libc::flock = unsafe { std::mem::zeroed() };
    lk.l_type = libc::F_WRLCK as libc::c_short;
    lk.l_whence = libc::SEEK_SET as libc::c_short;
    // SAFETY: fcntl with a valid flock struct on our own descriptor.
    let r = result(unsafe { libc::fcntl(fd, cmd, &lk) });
    if r.errno == 0 {
        lk.l_type = libc::F_UNLCK as libc::c_short;
        unsafe { libc::fcntl(fd, cmd, &lk) };
    }
    r
}

/// Creates the probe file (O_EXCL, our unique name) and tries each lock call on it. Also returns what
/// the create answered (errno 0: created), the plain proof that a job can (or cannot) write here.
fn probe_blocking(dir: &Path, file: &Path) -> (LockFacts, SyscallResult) {
    let start = Instant::now();
    let created = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(file);
    let f = match created {
        Ok(f) => f,
        Err(e) => {
            let create_errno = e.raw_os_error().unwrap_or(-1);
            let lock = LockFacts {
                status: ProbeStatus::Inconclusive,
                reason: Some(format!(
                    "cannot create a probe file in {}: {}; h5doctor can only test locking where it can write",
                    dir.display(),
                    e.raw_os_error()
                        .map_or_else(|| e.to_string(), |n| format!("{} ({})", errno::describe(n), errno::name(n)))
                )),
                ..LockFacts::default()
            };
            return (
                lock,
                SyscallResult {
                    errno: create_errno,
                    errno_name: errno::name(create_errno),
                },
            );
        }
    };
    let fd = f.as_raw_fd();
    let facts = LockFacts {
        status: ProbeStatus::Ok,
        reason: None,
        flock_exclusive: Some(flock(fd, libc::LOCK_EX)),
        flock_shared: Some(flock(fd, libc::LOCK_SH)),
        fcntl_setlk: Some(fcntl_lock(fd, libc::F_SETLK)),
        fcntl_ofd_setlk: Some(fcntl_lock(fd, libc::F_OFD_SETLK)),
        elapsed_us: start.elapsed().as_micros() as u64,
    };
    drop(f);
    (
        facts,
        SyscallResult {
            errno: 0,
            errno_name: errno::name(0),
        },
    )
}

/// The locking group runs by default unless the run is about files alone (FILE arguments and no `--dir`); its
/// lock probe runs in each directory's probe child, in `probes::gather`'s sequence (the HDF5 probe and the
/// Python imports create files only where it passed).
pub const PROBE: crate::probes::GroupProbe = crate::probes::GroupProbe {
    by_default: |o| o.files.is_empty() || !o.dirs.is_empty(),
    run: crate::probes::Run::InSequence,
    reads: &[],
};

/// Probes one directory. Blocking: it runs in the directory probe child (see `probes::dirs`). The probe file
/// is registered before it is created, so if this call never returns, exit or a signal still removes it.
/// The second value is what creating the probe file answered.
pub fn probe(dir: &Path) -> (LockFacts, SyscallResult) {
    let guard = ProbeFile::register(cleanup::unique_path(dir, "lock"));
    probe_blocking(dir, guard.path())
}
