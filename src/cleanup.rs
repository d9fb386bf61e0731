//! Invariant 4, nothing is lost: every file a probe creates is registered here and removed when its guard
//! drops, when h5doctor exits early, and on SIGINT/SIGTERM/SIGHUP (the handler also kills running probe
//! children). Probe files get unique names and are created with O_EXCL, so no user file is ever touched.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

static FILES: Mutex<Vec<PathBuf>> = Mutex::new(Vec::new());
static CHILDREN: Mutex<Vec<i32>> = Mutex::new(Vec::new());
static COUNTER: AtomicU64 = AtomicU64::new(0);

/// The prefix of every file h5doctor creates; a leftover (after SIGKILL) is recognisable by it.
pub const PREFIX: &str = ".h5doctor-probe-";

/// A name in `dir` that no other h5doctor run or file uses: prefix, pid, counter, nanoseconds.
pub fn unique_path(dir: &Path, ext: &str) -> PathBuf {
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    dir.join(format!("{PREFIX}{}-{n}-{nanos:08x}.{ext}", std::process::id()))
}

/// A probe file owned by this run: removed (if it exists) when the guard drops.
#[derive(Debug)]
pub struct ProbeFile {
    path: PathBuf,
}

impl ProbeFile {
    /// Registers a path that this run (or its probe child) is about to create with O_EXCL.
    pub fn register(path: PathBuf) -> Self {
        FILES.lock().unwrap_or_else(|e| e.into_inner()).push(path.clone());
        Self { path }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for ProbeFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
        FILES.lock().unwrap_or_else(|e| e.into_inner()).retain(|p| p != &self.path);
    }
}

/// Remembers a running child process so a signal can kill it.
pub fn register_child(pid: i32) {
    CHILDREN.lock().unwrap_or_else(|e| e.into_inner()).push(pid);
}

pub fn unregister_child(pid: i32) {
    CHILDREN.lock().unwrap_or_else(|e| e.into_inner()).retain(|p| *p != pid);
}

/// Kills registered children (their whole process groups) and removes registered files.
pub fn remove_all() {
    for pid in CHILDREN.lock().unwrap_or_else(|e| e.into_inner()).drain(..) {
        // SAFETY: kill(2) with a negative pid signals a process group we created; no memory is touched.
        unsafe {
            libc::kill(-pid, libc::SIGKILL);
        }
    }
    for path in FILES.lock().unwrap_or_else(|e| e.into_inner()).drain(..) {
        let _ = std::fs::remove_file(path);
    }
}

/// Installs the SIGINT/SIGTERM/SIGHUP handler: clean up, then exit with 128 + the signal number.
pub fn install_signal_handler() {
    use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
    let Ok(mut signals) = signal_hook::iterator::Signals::new([SIGINT, SIGTERM, SIGHUP]) else {
        tracing::warn!("cannot install signal handlers; probe files are still removed on normal exit");
        return;
    };
    std::thread::spawn(move || {
        if let Some(sig) = signals.forever().next() {
            remove_all();
            std::process::exit(128 + sig);
        }
    });
}
