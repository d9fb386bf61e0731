//! The `locking` group's home: the file system of each target directory and what its lock syscalls
//! answer, the group's report line and when it is inconclusive.

use crate::facts::catalog::Item;
use crate::facts::groups::{GroupSpec, ListPosition, Section, Unanswered};
use crate::facts::{DirHdf5Facts, StorageFacts};
use crate::facts::{Facts, ProbeStatus};
use crate::groups::Group;
use serde::{Deserialize, Serialize};
use std::path::PathBuf;

/// The file system a directory lives on.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
pub struct FsFacts {
    /// statfs f_type, as hex (`0x0bd00bd0` is Lustre).
    pub magic: String,
    /// Fact `dir.fs_type` (documented once, in the facts catalogue: `h5doctor facts --list`).
    pub fs_type: String,
    pub mount_point: String,
    pub source: String,
    /// Mount options and super options together (`rw`, `flock`, `local_lock=none`, ...).
    pub options: Vec<String>,
}

/// The raw lock syscalls in a directory, on a fresh probe file.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
pub struct LockFacts {
    pub status: ProbeStatus,
    pub reason: Option<String>,
    /// flock(LOCK_EX|LOCK_NB): what HDF5 does on create and read-write open.
    pub flock_exclusive: Option<SyscallResult>,
    /// flock(LOCK_SH|LOCK_NB): what HDF5 does on read-only open.
    pub flock_shared: Option<SyscallResult>,
    /// fcntl(F_SETLK) write lock on the whole file: what ROMIO uses.
    pub fcntl_setlk: Option<SyscallResult>,
    /// fcntl(F_OFD_SETLK) write lock on the whole file.
    pub fcntl_ofd_setlk: Option<SyscallResult>,
    /// How long the whole lock probe took, in microseconds.
    pub elapsed_us: u64,
}

/// The outcome of one syscall: errno 0 is success.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
pub struct SyscallResult {
    pub errno: i32,
    /// The symbolic name, `ENOTSUPP` for 524.
    pub errno_name: String,
}

/// The locking group: its report line and its unanswered lock probes.
pub const SPEC: GroupSpec = GroupSpec {
    group: Group::Locking,
    summary,
    unanswered,
};

/// `/scratch (lustre, flock ok); /home (nfs4, flock ENOLCK)`.
fn summary(facts: &Facts) -> String {
    let dirs: Vec<String> = facts
        .dirs
        .iter()
        .map(|d| {
            let fs = d.filesystem.as_ref().map_or("?".to_string(), |f| f.fs_type.clone());
            let lock = match (&d.lock.status, &d.lock.flock_exclusive) {
                (ProbeStatus::Ok, Some(r)) if r.errno == 0 => "flock ok".to_string(),
                (ProbeStatus::Ok, Some(r)) => format!("flock {}", r.errno_name),
                _ => "not tested".to_string(),
            };
            format!("{} ({fs}, {lock})", d.path)
        })
        .collect();
    if dirs.is_empty() {
        "no directories".into()
    } else {
        dirs.join("; ")
    }
}

/// A directory whose lock probe timed out or could not run (first of the directory's entries).
fn unanswered(facts: &Facts) -> Vec<Unanswered<'_>> {
    facts
        .dirs
        .iter()
        .enumerate()
        .filter(|(_, d)| d.lock.status == ProbeStatus::Inconclusive)
        .map(|(n, d)| {
            Unanswered::new(
                ListPosition::item(Section::Dirs, n, 0),
                Item::Dir(d),
                d.lock.reason.clone().unwrap_or_default(),
            )
        })
        .collect()
}

/// A target directory and everything probed in it.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
pub struct DirFacts {
    /// The path as given (before canonicalisation).
    pub path: String,
    /// Why it is a target: `cwd`, `$HOME`, `$TMPDIR`, `$SCRATCH`, `--dir`, ... Text: the scratch variables
    /// are named as the environment spells them, and a site's own ones count too.
    pub origin: String,
    pub canonical: Option<PathBuf>,
    pub filesystem: Option<FsFacts>,
    pub lock: LockFacts,
    pub hdf5: DirHdf5Facts,
    /// Whether and how much a job can write here: read-only flag, free space, quotas, Lustre layout.
    #[serde(default)]
    pub storage: Option<StorageFacts>,
    /// Set when the directory does not exist on this node (then nothing else was probed in it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub missing: Option<MissingDir>,
}

/// A target directory that does not exist on this node: where its path stops and on which file system.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
pub struct MissingDir {
    /// How stat(2) of the path failed (ENOENT, ENOTDIR).
    pub errno_name: String,
    /// The nearest ancestor that exists on this node.
    pub existing_ancestor: Option<String>,
    /// The file system holding that ancestor.
    pub ancestor_filesystem: Option<FsFacts>,
}
