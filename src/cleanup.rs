//! Invariant 4, nothing is lost: every file a probe creates is registered here and removed when its guard
//! drops, when h5doctor exits early, and on SIGINT/SIGTERM/SIGHUP (the handler also kills running probe
//! children). Probe files get unique names and are created with O_EXCL, so no user file is ever touched.
//!
//! A probe that makes several files from one name (the HDF5 family, split and multi drivers, the open-mode
//! checks) gets a [`ProbeStem`]: a unique stem whose files are named by [`stem_names`] and removed with it.
//! Removal goes by those names, never by listing the directory: a scratch directory may hold millions of
//! files, and listing it would take longer than every probe together.

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

/// The names of the files of a matrix stem, as suffixes of the stem. h5doctor-probe names its files with
/// these and nothing else; cleanup removes exactly these.
pub mod stem_names {
    pub const SEC2: &str = "-sec2.h5";
    pub const STDIO: &str = "-stdio.h5";
    pub const CORE: &str = "-core.h5";
    /// The family driver's printf pattern; members are `-family-0.h5`, `-family-1.h5`, ... without gaps.
    pub const FAMILY: &str = "-family-%d.h5";
    /// The name given to the split driver; it adds `-m.h5` (metadata) and `-r.h5` (raw data).
    pub const SPLIT: &str = "-split";
    pub const SPLIT_META_EXT: &str = "-m.h5";
    pub const SPLIT_RAW_EXT: &str = "-r.h5";
    /// The name given to the multi driver; its default members add `-s.h5`, `-b.h5`, `-r.h5`, `-g.h5`,
    /// `-l.h5` and `-o.h5`.
    pub const MULTI: &str = "-multi";
    pub const MULTI_MEMBER_EXTS: [&str; 6] = ["-s.h5", "-b.h5", "-r.h5", "-g.h5", "-l.h5", "-o.h5"];
    pub const MODE: &str = "-mode.h5";
    pub const MODE_MISSING: &str = "-mode-missing.h5";
    pub const MODE_APPEND: &str = "-mode-append.h5";

    /// Every fixed file name (family members aside), as suffixes of the stem.
    pub fn fixed() -> Vec<String> {
        let mut names: Vec<String> = [SEC2, STDIO, CORE, MODE, MODE_MISSING, MODE_APPEND].map(String::from).to_vec();
        names.extend([SPLIT_META_EXT, SPLIT_RAW_EXT].map(|e| format!("{SPLIT}{e}")));
        names.extend(MULTI_MEMBER_EXTS.map(|e| format!("{MULTI}{e}")));
        names
    }

    /// The suffix of family member `i`.
    pub fn family_member(i: usize) -> String {
        FAMILY.replace("%d", &i.to_string())
    }
}

/// A file of a stem: the stem's path with a suffix from [`stem_names`].
pub fn stem_file(stem: &Path, suffix: &str) -> PathBuf {
    let mut s = stem.as_os_str().to_owned();
    s.push(suffix);
    PathBuf::from(s)
}

/// Removes the stem's files by name; family members until the first one that is not there.
fn remove_stem(stem: &Path) {
    for suffix in stem_names::fixed() {
        let _ = std::fs::remove_file(stem_file(stem, &suffix));
    }
    for i in 0..100_000 {
        if std::fs::remove_file(stem_file(stem, &stem_names::family_member(i))).is_err() {
            break;
        }
    }
}

/// The probe files of one stem owned by this run: all removed when the guard drops.
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
    fn a_stem_removes_exactly_its_named_files() {
        let dir = std::env::temp_dir().join(format!("h5doctor-stem-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let stem = matrix_stem(&unique_path(&dir, "h5"));
        let mut ours: Vec<String> = stem_names::fixed();
        ours.extend((0..3).map(stem_names::family_member));
        for suffix in &ours {
            std::fs::write(stem_file(&stem, suffix), b"x").unwrap();
        }
        let name = stem.file_name().unwrap().to_str().unwrap().to_string();
        let bystanders = [dir.join(format!("{name}x-not-ours.h5")), dir.join(format!("{name}-other.h5"))];
        for b in &bystanders {
            std::fs::write(b, b"keep").unwrap();
        }
        drop(ProbeStem::register(stem));
        let mut left: Vec<_> = std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().path()).collect();
        left.sort();
        let mut expected = bystanders.to_vec();
        expected.sort();
        assert_eq!(left, expected);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
