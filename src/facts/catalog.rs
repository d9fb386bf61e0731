//! The catalogue of fact names: the vocabulary rules are written in.
//!
//! Each name is documented, belongs to a scope (`global` facts exist once per node, `dir` facts once per
//! target directory) and reads its value out of the typed [`Facts`]. A rule that names a fact missing
//! from this table fails to load, so a typo in a site rule is an error with file and line, not a rule
//! that silently never matches.

use super::{DirFacts, Facts, Hdf5Create, SyscallResult};
use serde::Serialize;
use serde_json::{json, Value};

/// What a rule is evaluated over: the node once, or each target directory.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Scope {
    Global,
    Dir,
}

/// One thing a rule is evaluated against: the node, or one of its directories.
#[derive(Debug, Clone, Copy)]
pub struct Subject<'a> {
    pub facts: &'a Facts,
    pub dir: Option<&'a DirFacts>,
}

impl<'a> Subject<'a> {
    /// Every subject of a scope in these facts.
    pub fn all(facts: &'a Facts, scope: Scope) -> Vec<Subject<'a>> {
        match scope {
            Scope::Global => vec![Subject { facts, dir: None }],
            Scope::Dir => facts.dirs.iter().map(|d| Subject { facts, dir: Some(d) }).collect(),
        }
    }

    /// The value of a fact for this subject; `None` when it is unknown (not probed, or not applicable).
    pub fn get(&self, name: &str) -> Option<Value> {
        let def = lookup(name)?;
        match def.scope {
            Scope::Global => (def.read)(self.facts, None),
            Scope::Dir => self.dir.and_then(|d| (def.read)(self.facts, Some(d))),
        }
    }
}

/// The definition of one fact name.
pub struct FactDef {
    pub name: &'static str,
    pub scope: Scope,
    /// A short label for evidence lines ("file system", "flock errno").
    pub label: &'static str,
    pub doc: &'static str,
    read: fn(&Facts, Option<&DirFacts>) -> Option<Value>,
}

impl std::fmt::Debug for FactDef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name)
    }
}

fn syscall_errno(r: &Option<SyscallResult>) -> Option<Value> {
    r.as_ref().map(|r| json!(r.errno))
}

fn syscall_name(r: &Option<SyscallResult>) -> Option<Value> {
    r.as_ref().map(|r| json!(r.errno_name))
}

fn create_outcome(c: &Option<Hdf5Create>) -> Option<Value> {
    c.as_ref().map(|c| json!(if c.ok { "ok" } else { "failed" }))
}

/// Every fact a rule may name. Keep it sorted by scope, then name.
pub static FACTS: &[FactDef] = &[
    FactDef {
        name: "env.HDF5_USE_FILE_LOCKING",
        scope: Scope::Global,
        label: "HDF5_USE_FILE_LOCKING",
        doc: "The raw value of HDF5_USE_FILE_LOCKING; unknown when unset.",
        read: |f, _| f.env.hdf5_use_file_locking.as_ref().map(|v| json!(v)),
    },
    FactDef {
        name: "env.hdf5_locking_mode",
        scope: Scope::Global,
        label: "HDF5 reads it as",
        doc: "How HDF5 >= 1.10.7 reads HDF5_USE_FILE_LOCKING: unset, disabled (FALSE/0), enabled (TRUE/1), \
              best-effort (BEST_EFFORT) or ignored (any other spelling, such as false or no).",
        read: |f, _| Some(json!(f.env.hdf5_locking_mode.as_str())),
    },
    FactDef {
        name: "hdf5.library_path",
        scope: Scope::Global,
        label: "HDF5 library",
        doc: "The libhdf5 file h5doctor-probe loaded.",
        read: |f, _| f.hdf5.library.as_ref().and_then(|l| l.path.as_ref()).map(|p| json!(p)),
    },
    FactDef {
        name: "hdf5.parallel",
        scope: Scope::Global,
        label: "parallel HDF5",
        doc: "Whether the loaded libhdf5 exports H5Pset_fapl_mpio.",
        read: |f, _| f.hdf5.library.as_ref().map(|l| json!(l.parallel)),
    },
    FactDef {
        name: "hdf5.probe",
        scope: Scope::Global,
        label: "HDF5 probe",
        doc: "How the HDF5 probe ended: ok, inconclusive, unavailable (h5doctor-probe could not start) or not-run.",
        read: |f, _| Some(json!(f.hdf5.status.as_str())),
    },
    FactDef {
        name: "hdf5.probe_reason",
        scope: Scope::Global,
        label: "HDF5 probe problem",
        doc: "Why the HDF5 probe is inconclusive or unavailable (the loader's message, a timeout, ...).",
        read: |f, _| f.hdf5.reason.as_ref().map(|r| json!(r)),
    },
    FactDef {
        name: "hdf5.probe_path",
        scope: Scope::Global,
        label: "probe binary",
        doc: "The h5doctor-probe binary that was run.",
        read: |f, _| f.hdf5.probe_path.as_ref().map(|p| json!(p)),
    },
    FactDef {
        name: "hdf5.threadsafe",
        scope: Scope::Global,
        label: "thread-safe HDF5",
        doc: "H5is_library_threadsafe of the loaded library.",
        read: |f, _| f.hdf5.library.as_ref().map(|l| json!(l.threadsafe)),
    },
    FactDef {
        name: "hdf5.version",
        scope: Scope::Global,
        label: "HDF5 version",
        doc: "H5get_libversion of the library h5doctor-probe loaded, as 1.10.8.",
        read: |f, _| f.hdf5.library.as_ref().map(|l| json!(l.version)),
    },
    FactDef {
        name: "dir.fcntl_errno",
        scope: Scope::Dir,
        label: "fcntl(F_SETLK) errno",
        doc: "errno of a whole-file fcntl(F_SETLK) write lock on a probe file (0 = success); ROMIO locks this way.",
        read: |_, d| d.and_then(|d| syscall_errno(&d.lock.fcntl_setlk)),
    },
    FactDef {
        name: "dir.flock_errno",
        scope: Scope::Dir,
        label: "flock errno",
        doc: "errno of flock(LOCK_EX|LOCK_NB) on a fresh probe file (0 = success): what HDF5 does on create.",
        read: |_, d| d.and_then(|d| syscall_errno(&d.lock.flock_exclusive)),
    },
    FactDef {
        name: "dir.flock_errno_name",
        scope: Scope::Dir,
        label: "flock error",
        doc: "The symbolic name of dir.flock_errno (ENOTSUPP, EOPNOTSUPP, ENOSYS, ENOLCK, ...).",
        read: |_, d| d.and_then(|d| syscall_name(&d.lock.flock_exclusive)),
    },
    FactDef {
        name: "dir.flock_shared_errno",
        scope: Scope::Dir,
        label: "flock(LOCK_SH) errno",
        doc: "errno of flock(LOCK_SH|LOCK_NB): what HDF5 does on a read-only open.",
        read: |_, d| d.and_then(|d| syscall_errno(&d.lock.flock_shared)),
    },
    FactDef {
        name: "dir.fs_type",
        scope: Scope::Dir,
        label: "file system",
        doc: "The file system type from /proc/self/mountinfo (ext4, lustre, nfs4, gpfs, dvs, ...).",
        read: |_, d| d.and_then(|d| d.filesystem.as_ref()).map(|fs| json!(fs.fs_type)),
    },
    FactDef {
        name: "dir.hdf5_create",
        scope: Scope::Dir,
        label: "HDF5 create",
        doc: "Whether H5Fcreate of a probe file with the default fapl succeeded: ok or failed.",
        read: |_, d| d.and_then(|d| create_outcome(&d.hdf5.create)),
    },
    FactDef {
        name: "dir.hdf5_create_errno",
        scope: Scope::Dir,
        label: "HDF5 errno",
        doc: "The errno in HDF5's error stack when dir.hdf5_create failed.",
        read: |_, d| d.and_then(|d| d.hdf5.create.as_ref()).and_then(|c| c.errno).map(|e| json!(e)),
    },
    FactDef {
        name: "dir.hdf5_create_without_locking",
        scope: Scope::Dir,
        label: "HDF5 create with HDF5_USE_FILE_LOCKING=FALSE",
        doc: "The same H5Fcreate re-run in a fresh process with HDF5_USE_FILE_LOCKING=FALSE: ok or failed. \
              Only run when dir.hdf5_create failed on a lock errno.",
        read: |_, d| d.and_then(|d| create_outcome(&d.hdf5.create_without_locking)),
    },
    FactDef {
        name: "dir.hdf5_error",
        scope: Scope::Dir,
        label: "HDF5 error",
        doc: "The innermost line of HDF5's error stack when dir.hdf5_create failed.",
        read: |_, d| d.and_then(|d| d.hdf5.create.as_ref()).and_then(|c| c.error_leaf.as_ref()).map(|e| json!(e)),
    },
    FactDef {
        name: "dir.lock_probe",
        scope: Scope::Dir,
        label: "lock probe",
        doc: "How the lock probe ended in this directory: ok, inconclusive or not-run.",
        read: |_, d| d.map(|d| json!(d.lock.status.as_str())),
    },
    FactDef {
        name: "dir.mount_options",
        scope: Scope::Dir,
        label: "mount options",
        doc: "Mount and super options of the file system (a list: flock, localflock, nolock, local_lock=all, ...).",
        read: |_, d| d.and_then(|d| d.filesystem.as_ref()).map(|fs| json!(fs.options)),
    },
    FactDef {
        name: "dir.mount_point",
        scope: Scope::Dir,
        label: "mount point",
        doc: "Where the file system holding the directory is mounted.",
        read: |_, d| d.and_then(|d| d.filesystem.as_ref()).map(|fs| json!(fs.mount_point)),
    },
    FactDef {
        name: "dir.ofd_errno",
        scope: Scope::Dir,
        label: "fcntl(F_OFD_SETLK) errno",
        doc: "errno of a whole-file open-file-description lock (0 = success).",
        read: |_, d| d.and_then(|d| syscall_errno(&d.lock.fcntl_ofd_setlk)),
    },
    FactDef {
        name: "dir.path",
        scope: Scope::Dir,
        label: "directory",
        doc: "The target directory as given.",
        read: |_, d| d.map(|d| json!(d.path)),
    },
];

/// The definition of a fact name, if it exists.
pub fn lookup(name: &str) -> Option<&'static FactDef> {
    FACTS.iter().find(|f| f.name == name)
}

/// Levenshtein distance between two short strings.
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut prev = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let cur = row[j + 1];
            row[j + 1] = (prev + usize::from(ca != *cb)).min(row[j] + 1).min(cur + 1);
            prev = cur;
        }
    }
    row[b.len()]
}

/// The known fact name closest to a misspelt one, for "did you mean" hints.
pub fn suggest(name: &str) -> Option<&'static str> {
    FACTS
        .iter()
        .map(|f| (edit_distance(name, f.name), f.name))
        .filter(|(d, _)| *d <= 3)
        .min()
        .map(|(_, n)| n)
}

/// Renders a fact value for a person: strings bare, lists comma-separated.
pub fn display_value(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Array(items) => items.iter().map(display_value).collect::<Vec<_>>().join(","),
        Value::Null => "-".into(),
        other => other.to_string(),
    }
}
