//! Invariant 4, nothing is lost: every file a probe creates is registered here and removed when its guard
//! drops, when h5doctor exits early, and on SIGINT/SIGTERM/SIGHUP (the handler also kills running probe
//! children). Probe files get unique names and are created with O_EXCL, so no user file is ever touched.
//!
//! A probe that makes several files from one name (the HDF5 family, split and multi drivers, the open-mode
//! checks) gets a [`ProbeStem`]: a unique stem, and every file named `<stem>-...` in its directory belongs to
//! this run and is removed with it.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

static FILES: Mutex<Vec<PathBuf>> = Mutex::new(Vec::new());
static STEMS: Mutex<Vec<PathBuf>> = Mutex::new(Vec::new());
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

/// The stem of the drivers × modes matrix h5doctor-probe runs after creating `probe_file`: the probe file's
/// path without its extension (both binaries use this, so the matrix files are registered before they exist).
pub fn matrix_stem(probe_file: &Path) -> PathBuf {
    probe_file.with_extension("")
}

/// The files of a stem: the entries of its directory named `<stem>-...`.
fn stem_files(stem: &Path) -> Vec<PathBuf> {
    let (Some(dir), Some(name)) = (stem.parent(), stem.file_name().and_then(|n| n.to_str())) else {
        return Vec::new();
    };
    let prefix = format!("{name}-");
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    entries
        .filter_map(Result::ok)
        .filter(|e| e.file_name().to_str().is_some_and(|n| n.starts_with(&prefix)))
        .map(|e| e.path())
        .collect()
}

fn remove_stem(stem: &Path) {
    for file in stem_files(stem) {
        let _ = std::fs::remove_file(file);
    }
}

/// A family of probe files `<stem>-...` owned by this run: all removed when the guard drops.
#[derive(Debug)]
pub struct ProbeStem {
    stem: PathBuf,
}

impl ProbeStem {
    /// Registers a stem (unique, like [`matrix_stem`] of a [`unique_path`]) whose files this run (or its probe
    /// child) is about to create.
    pub fn register(stem: PathBuf) -> Self {
        STEMS.lock().unwrap_or_else(|e| e.into_inner()).push(stem.clone());
        Self { stem }
    }

    pub fn path(&self) -> &Path {
        &self.stem
    }

    /// The files of this stem that exist right now.
    pub fn files(&self) -> Vec<PathBuf> {
        stem_files(&self.stem)
    }
}

impl Drop for ProbeStem {
    fn drop(&mut self) {
        remove_stem(&self.stem);
        STEMS.lock().unwrap_or_else(|e| e.into_inner()).retain(|p| p != &self.stem);
    }
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

/// Kills registered children (their whole process groups) and removes registered files and stems.
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
    for stem in STEMS.lock().unwrap_or_else(|e| e.into_inner()).drain(..) {
        remove_stem(&stem);
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stem_owns_exactly_its_dash_files() {
        let dir = std::env::temp_dir().join(format!("h5doctor-stem-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let stem = matrix_stem(&unique_path(&dir, "h5"));
        let name = stem.file_name().unwrap().to_str().unwrap().to_string();
        for suffix in ["-sec2.h5", "-family-0.h5", "-family-1.h5"] {
            std::fs::write(dir.join(format!("{name}{suffix}")), b"x").unwrap();
        }
        let bystander = dir.join(format!("{name}x-not-ours.h5"));
        std::fs::write(&bystander, b"keep").unwrap();
        let guard = ProbeStem::register(stem);
        assert_eq!(guard.files().len(), 3);
        drop(guard);
        let left: Vec<_> = std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().path()).collect();
        assert_eq!(left, vec![bystander.clone()]);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
