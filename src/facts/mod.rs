//! The fact model: everything the probes gathered about a node, typed, serde-serialisable and versioned.
//!
//! Facts are the only thing that crosses from probing to judging. `h5doctor facts --json` writes them;
//! `h5doctor check --facts FILE` reads them back and judges them again, possibly with newer rules. So a
//! field added here must be `#[serde(default)]`-tolerant, and a field removed or changed in meaning bumps
//! [`SCHEMA_VERSION`].

pub mod catalog;
mod files;
pub mod groups;
pub mod libraries;
mod matrix;
pub mod modules;
pub mod mpi;
mod plugins;
pub mod python;
pub mod values;

pub use files::{
    FileFacts, FileHdf5Facts, FileProbeReport, FilterNeed, LockHolder, NewerReaderCheck, ProcessRef, Superblock, UnreadableObject,
    VdsReadReport, VdsReread, VdsSource, VirtualMapping, RAISE_OPEN_FILES,
};
pub use matrix::{DriverAvailability, DriverCheck, MatrixFacts, MatrixReport, ModeCheck};
pub use plugins::{PluginDirFacts, PluginFacts, PluginLibrary, PluginLoad, PluginProbeReport};

use serde::{Deserialize, Serialize};
use std::path::PathBuf;

/// Version of the facts JSON layout. Bump it when a field changes meaning or disappears.
pub const SCHEMA_VERSION: u32 = 1;

/// Everything known about one node at one moment.
#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Facts {
    /// The layout version of the facts; a field that changes meaning or disappears bumps it.
    #[schemars(extend("const" = SCHEMA_VERSION))]
    pub schema_version: u32,
    /// The h5doctor that gathered these facts.
    pub h5doctor_version: String,
    #[serde(default)]
    pub host: HostFacts,
    /// Probe groups that were run (`locking`, `hdf5`, ...). Rules of other groups are not evaluated.
    #[serde(default)]
    pub groups: Vec<crate::groups::Group>,
    #[serde(default)]
    pub env: EnvFacts,
    #[serde(default)]
    pub hdf5: Hdf5Facts,
    /// HDF5, MPI and Python libraries visible to a job, and the closures of `--binary` files.
    #[serde(default)]
    pub libraries: libraries::LibrariesFacts,
    /// One entry per target directory (cwd, $HOME, $TMPDIR, scratch variables, every `--dir`).
    #[serde(default)]
    pub dirs: Vec<DirFacts>,
    /// The Python interpreters and their h5py, NumPy and mpi4py (group `python`).
    #[serde(default)]
    pub python: python::PythonFacts,
    /// HDF5 filter plugin directories and the plugins in them.
    #[serde(default)]
    pub plugins: PluginFacts,
    /// One entry per file given to `check FILE...`.
    #[serde(default)]
    pub files: Vec<FileFacts>,
    /// Parallel HDF5 over MPI-IO under a launcher (group `mpi`, gathered only by `h5doctor mpio-test`).
    #[serde(default)]
    pub mpi: mpi::MpiFacts,
    /// Environment modules: loaded, families, MODULEPATH, the module index (group `modules`).
    #[serde(default)]
    pub modules: modules::ModulesFacts,
}

/// Where the facts come from.
#[derive(Debug, Clone, Default, Serialize, Deserialize, schemars::JsonSchema)]
pub struct HostFacts {
    pub hostname: String,
    pub kernel: String,
    /// PRETTY_NAME from /etc/os-release.
    pub os: String,
    /// Seconds since the Unix epoch when the facts were gathered.
    pub collected_at_unix: u64,
    /// The user that ran h5doctor (for redaction in tickets).
    #[serde(default)]
    pub user: String,
    #[serde(default)]
    pub home: String,
    /// RLIMIT_NOFILE (soft, hard) as the job inherits it (`ulimit -Sn`, `ulimit -Hn`).
    #[serde(default)]
    pub open_files_limit: Option<(u64, u64)>,
    /// When the soft limit is too low for an examined virtual dataset and the hard one is not: that
    /// dataset read by h5doctor-probe as the job is now, then under `ulimit -n $(ulimit -Hn)` (the fix).
    #[serde(default)]
    pub open_files_rereads: Vec<VdsReread>,
}

/// Environment variables that change how HDF5 behaves, as the job would see them.
#[derive(Debug, Clone, Default, Serialize, Deserialize, schemars::JsonSchema)]
pub struct EnvFacts {
    /// The raw value of HDF5_USE_FILE_LOCKING, if set.
    pub hdf5_use_file_locking: Option<String>,
    /// How HDF5 >= 1.10.7 reads that value (its parser is a case-sensitive strcmp).
    pub hdf5_locking_mode: LockingMode,
    /// Other variables that matter to HDF5 and its launchers, name -> value.
    #[serde(default)]
    pub vars: std::collections::BTreeMap<String, String>,
}

/// The meaning HDF5 >= 1.10.7 gives HDF5_USE_FILE_LOCKING (src/H5Fint.c, `H5F__parse_file_lock_env_var`).
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, strum::IntoStaticStr, strum::VariantNames, schemars::JsonSchema,
)]
#[serde(rename_all = "kebab-case")]
#[strum(serialize_all = "kebab-case")]
pub enum LockingMode {
    /// Not set: the library default (locking on, ENOSYS ignored on 1.10.7+).
    #[default]
    Unset,
    /// `FALSE` or `0`: no locks are taken.
    Disabled,
    /// `TRUE` or `1`: locks are taken and every failure is an error.
    Enabled,
    /// `BEST_EFFORT`: locks are taken, ENOSYS (and only ENOSYS) is ignored.
    BestEffort,
    /// Any other value (`false`, `no`, `off`, ...): HDF5 silently treats it as not set.
    Ignored,
}

impl LockingMode {
    /// Reads a value the way HDF5 does: exact, case-sensitive matches only.
    pub fn from_value(value: Option<&str>) -> Self {
        match value {
            None => Self::Unset,
            Some("FALSE") | Some("0") => Self::Disabled,
            Some("TRUE") | Some("1") => Self::Enabled,
            Some("BEST_EFFORT") => Self::BestEffort,
            Some(_) => Self::Ignored,
        }
    }

    /// The spelling in facts and rules (`best-effort`).
    pub fn as_str(self) -> &'static str {
        self.into()
    }
}

/// How a probe ended: the three outcomes every risky probe has, plus "not run".
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, strum::IntoStaticStr, strum::VariantNames, schemars::JsonSchema,
)]
#[serde(rename_all = "kebab-case")]
#[strum(serialize_all = "kebab-case")]
pub enum ProbeStatus {
    /// The probe ran to the end; its facts are complete.
    Ok,
    /// It timed out, crashed, or cannot work here; `reason` says which.
    Inconclusive,
    /// The probe's own binary could not start (a shared library is missing, say).
    Unavailable,
    /// Not selected (`--only`) or not applicable.
    #[default]
    NotRun,
}

impl ProbeStatus {
    /// The spelling in facts and rules (`not-run`).
    pub fn as_str(self) -> &'static str {
        self.into()
    }
}

/// The HDF5 library as `h5doctor-probe` found it.
#[derive(Debug, Clone, Default, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Hdf5Facts {
    pub status: ProbeStatus,
    /// Why the probe is inconclusive or unavailable (timeout, loader message, ...).
    pub reason: Option<String>,
    /// The probe binary that was run.
    pub probe_path: Option<String>,
    pub library: Option<Hdf5Library>,
    /// When the probe is unavailable: its shared-library closure as h5doctor's resolver sees it
    /// (which library is missing and every place it was looked for).
    #[serde(default)]
    pub probe_loader: Option<libraries::BinaryFacts>,
    /// The DT_SONAME of the loaded libhdf5 (read by h5doctor from the library file).
    #[serde(default)]
    pub soname: Option<String>,
    /// The signal that killed the probe, when one did (11 SIGSEGV, 6 SIGABRT).
    #[serde(default)]
    pub signal: Option<i32>,
    /// The probe run again with HDF5's plugin variables unset, when it failed while one was set.
    #[serde(default)]
    pub without_plugin_env: Option<PluginEnvRetry>,
}

/// The variables that make HDF5 load a VOL connector or a file driver by name at initialisation.
pub const HDF5_PLUGIN_ENV: [&str; 3] = ["HDF5_VOL_CONNECTOR", "HDF5_DRIVER", "HDF5_DRIVER_CONFIG"];

/// A failed HDF5 or h5py probe run again with HDF5_VOL_CONNECTOR, HDF5_DRIVER and HDF5_DRIVER_CONFIG unset:
/// it proves (or disproves) that one of them is the cause before h5doctor says `unset`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct PluginEnvRetry {
    /// The variables removed for the re-run.
    pub unset: Vec<String>,
    /// The re-run worked (the library initialised; for h5py, the import and every create too).
    pub ok: bool,
    /// How the re-run failed, when it did.
    #[serde(default)]
    pub detail: Option<String>,
}

impl EnvFacts {
    /// HDF5_VOL_CONNECTOR, HDF5_DRIVER and HDF5_DRIVER_CONFIG, those that are set.
    pub fn hdf5_plugin_vars(&self) -> Vec<&'static str> {
        HDF5_PLUGIN_ENV.into_iter().filter(|v| self.vars.contains_key(*v)).collect()
    }
}

/// What the HDF5 library reports about itself (the probe's `library` object).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Hdf5Library {
    /// H5get_libversion, as "1.10.8".
    pub version: String,
    /// The file the library was loaded from (dladdr of H5open); absent when it is linked statically.
    pub path: Option<String>,
    /// `shared` (a libhdf5 loaded at run time) or `static` (HDF5 linked into the probe itself); absent in
    /// facts from h5doctor < 0.2, which knew only shared libraries.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub linking: Option<String>,
    /// For a static link: the program HDF5 is linked into (the probe).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub linked_into: Option<String>,
    /// Exports H5Pset_fapl_mpio: a parallel build.
    pub parallel: bool,
    pub threadsafe: bool,
    /// H5Pget_file_locking on a default fapl (1.10.7+), as (use_file_locking, ignore_when_disabled).
    pub default_locking: Option<(bool, bool)>,
    /// The HDF5_USE_FILE_LOCKING value the probe process saw.
    pub env_use_file_locking: Option<String>,
    /// How this HDF5 version reads HDF5_USE_FILE_LOCKING and what it makes of the value seen.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub locking_env: Option<LockingEnv>,
    /// File drivers and whether this library has them (mpio only in a parallel build).
    #[serde(default)]
    pub drivers: Vec<DriverAvailability>,
    /// The plugin search path the library uses (H5PLget), with the environment the probe saw.
    #[serde(default)]
    pub plugin_search_path: Vec<String>,
}

impl Hdf5Library {
    /// Where the library is, as a user reads it: its file, or `statically linked into PROGRAM`.
    pub fn location(&self) -> Option<String> {
        match (&self.path, &self.linked_into) {
            (Some(p), _) => Some(p.clone()),
            (None, Some(program)) => Some(format!("statically linked into {program}")),
            (None, None) => None,
        }
    }
}

/// How one HDF5 version reads HDF5_USE_FILE_LOCKING (from its source: H5Fint.c, H5FD*.c), and what it
/// makes of the value the probe saw.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct LockingEnv {
    /// The values this version recognises, exactly as spelled (the comparison is case-sensitive).
    pub accepted: Vec<String>,
    /// What the value seen does: `unset`, `disables-locking`, `enforces-locking` (a file system without
    /// locks is an error), `best-effort` (locks, but a file system without them is ignored),
    /// `not-recognised` (the library default applies), `no-locking-in-this-version`.
    pub effect: String,
    /// When the library reads it, where the source says: `library-initialisation` (a change after the
    /// first HDF5 call has no effect) or `every-open`.
    #[serde(default)]
    pub read_at: Option<String>,
}

/// One HDF5 file creation (or, for `inspect`, open) attempt by the probe.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Hdf5Create {
    pub file: String,
    pub ok: bool,
    /// The errno HDF5 reported in its error stack (`errno = N`), if any.
    pub errno: Option<i32>,
    /// The innermost (most specific) line of the HDF5 error stack.
    pub error_leaf: Option<String>,
    /// The whole HDF5 error stack as HDF5 prints it.
    pub error_stack: Option<String>,
}

/// The JSON that `h5doctor-probe` prints on stdout, one document per line: the wire format between the two
/// binaries. A probe that finishes part of its work early prints that part as a line of its own.
#[derive(Debug, Clone, Default, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Hdf5ProbeReport {
    /// Set in the first line of an answer; later lines may leave it out.
    #[serde(default)]
    pub library: Hdf5Library,
    #[serde(default)]
    pub creates: Vec<Hdf5Create>,
    /// `matrix STEM...`: the drivers × modes matrix, one per stem.
    #[serde(default)]
    pub matrices: Vec<MatrixReport>,
    /// `plugins DIR...`: plugin directories listed and their plugins loaded.
    #[serde(default)]
    pub plugins: Option<PluginProbeReport>,
    /// `inspect FILE...`: each file opened read-only, with the filters its datasets need.
    #[serde(default)]
    pub files: Vec<FileProbeReport>,
    /// `vds-read FILE DATASET...`: the virtual datasets read, and the files HDF5 then held open.
    #[serde(default)]
    pub vds_reads: Vec<VdsReadReport>,
}

/// A target directory and everything probed in it.
#[derive(Debug, Clone, Default, Serialize, Deserialize, schemars::JsonSchema)]
pub struct DirFacts {
    /// The path as given (before canonicalisation).
    pub path: String,
    /// Why it is a target: `cwd`, `$HOME`, `$TMPDIR`, `$SCRATCH`, `--dir`, ...
    pub origin: String,
    pub canonical: Option<PathBuf>,
    pub filesystem: Option<FsFacts>,
    pub lock: LockFacts,
    pub hdf5: DirHdf5Facts,
    /// Whether and how much a job can write here: read-only flag, free space, quotas, Lustre layout.
    #[serde(default)]
    pub storage: Option<StorageFacts>,
}

/// What the storage probe saw in a directory (statvfs, quotactl, LL_IOC_LOV_GETSTRIPE) and what a plain
/// create of a probe file answered.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct StorageFacts {
    /// statvfs f_flag has ST_RDONLY: the mount is read-only on this node.
    #[serde(default)]
    pub read_only: bool,
    /// open(O_CREAT|O_EXCL) of the lock probe's plain file: errno 0 is success, 30 EROFS, 13 EACCES, 28 ENOSPC.
    #[serde(default)]
    pub create: Option<SyscallResult>,
    /// Size of the file system, bytes (f_blocks * f_frsize).
    #[serde(default)]
    pub bytes_total: Option<u64>,
    /// Bytes an unprivileged user may still write (f_bavail * f_frsize).
    #[serde(default)]
    pub bytes_free: Option<u64>,
    /// Inodes of the file system; absent where the file system does not count them.
    #[serde(default)]
    pub inodes_total: Option<u64>,
    #[serde(default)]
    pub inodes_free: Option<u64>,
    /// `--expect-size`: how much the job means to write here, bytes.
    #[serde(default)]
    pub expect_bytes: Option<u64>,
    /// Block and inode quotas with a limit (user, group of new files, project), from quotactl or `lfs quota`.
    #[serde(default)]
    pub quotas: Vec<QuotaFacts>,
    /// Why no quota is known (quotas off, not supported), when none is.
    #[serde(default)]
    pub quota_note: Option<String>,
    /// On Lustre: the default layout of files created here.
    #[serde(default)]
    pub lustre: Option<LustreLayout>,
    /// On Lustre with `lfs` installed: each OST's space (`lfs df`).
    #[serde(default)]
    pub lustre_osts: Vec<OstUsage>,
    /// Why statvfs failed, when it did.
    #[serde(default)]
    pub reason: Option<String>,
}

/// One quota record: usage and limits (None: no limit of that kind).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct QuotaFacts {
    /// `user`, `group` or `project`.
    pub kind: String,
    pub id: u32,
    /// `quotactl` or `lfs quota`.
    pub source: String,
    pub bytes_used: u64,
    pub bytes_soft: Option<u64>,
    pub bytes_hard: Option<u64>,
    pub inodes_used: u64,
    pub inodes_soft: Option<u64>,
    pub inodes_hard: Option<u64>,
}

/// One Lustre OST's space as `lfs df` reports it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct OstUsage {
    /// `testfs-OST0001`.
    pub name: String,
    pub bytes_total: u64,
    /// Available to users (the `Available` column).
    pub bytes_free: u64,
}

/// A Lustre default layout as LL_IOC_LOV_GETSTRIPE returns it for a directory.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct LustreLayout {
    /// The ioctl's errno when it failed (61 ENODATA: no default layout of its own).
    #[serde(default)]
    pub errno: Option<i32>,
    /// lmm_magic of the answer (`0x0bd10bd0` v1, `0x0bd30bd0` v3 with a pool, `0x0bd60bd0` composite/PFL).
    #[serde(default)]
    pub magic: Option<String>,
    /// A composite (progressive file layout) whose first component is described below.
    #[serde(default)]
    pub composite: bool,
    /// lmm_stripe_count: 0 the file system default, -1 every OST.
    #[serde(default)]
    pub stripe_count: Option<i64>,
    /// lmm_stripe_size, bytes.
    #[serde(default)]
    pub stripe_size: Option<u64>,
    /// The directory had no layout of its own; this one is the file system root's.
    #[serde(default)]
    pub inherited_from: Option<String>,
}

/// The file system a directory lives on.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct FsFacts {
    /// statfs f_type, as hex (`0x0bd00bd0` is Lustre).
    pub magic: String,
    /// Type from /proc/self/mountinfo (`ext4`, `lustre`, `nfs4`, `dvs`, ...).
    pub fs_type: String,
    pub mount_point: String,
    pub source: String,
    /// Mount options and super options together (`rw`, `flock`, `local_lock=none`, ...).
    pub options: Vec<String>,
}

/// The raw lock syscalls in a directory, on a fresh probe file.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
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
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct SyscallResult {
    pub errno: i32,
    /// The symbolic name, `ENOTSUPP` for 524.
    pub errno_name: String,
}

/// What HDF5 itself does in the directory.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct DirHdf5Facts {
    pub status: ProbeStatus,
    pub reason: Option<String>,
    /// H5Fcreate with the default file access property list.
    pub create: Option<Hdf5Create>,
    /// The same create in a fresh process with HDF5_USE_FILE_LOCKING=FALSE, run only when `create`
    /// failed on a lock errno: it proves (or disproves) the fix before h5doctor shows it.
    pub create_without_locking: Option<Hdf5Create>,
    /// Every driver and open mode tried on probe files; run only where `create` worked.
    #[serde(default)]
    pub matrix: Option<MatrixFacts>,
}

impl Facts {
    /// An empty fact set stamped with this build's version.
    pub fn new() -> Self {
        Self {
            schema_version: SCHEMA_VERSION,
            h5doctor_version: env!("CARGO_PKG_VERSION").to_string(),
            host: HostFacts::default(),
            groups: Vec::new(),
            env: EnvFacts::default(),
            hdf5: Hdf5Facts::default(),
            libraries: libraries::LibrariesFacts::default(),
            dirs: Vec::new(),
            python: python::PythonFacts::default(),
            plugins: PluginFacts::default(),
            files: Vec::new(),
            mpi: mpi::MpiFacts::default(),
            modules: modules::ModulesFacts::default(),
        }
    }

    /// Reads facts JSON written by `h5doctor facts --json`, with the file and line of any error.
    pub fn from_json_file(path: &std::path::Path) -> Result<Self, crate::error::Error> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| crate::error::Error::with_source(format!("cannot read facts file {}", path.display()), e))?;
        let invalid = |e: serde_json::Error| {
            crate::error::Error::msg(format!("{}:{}:{}: invalid facts JSON: {}", path.display(), e.line(), e.column(), e))
        };
        // A JSON report (`check --json`, `mpio-test --json`) carries its facts under "facts": judge those,
        // read from the text so that an error still has its line in the file.
        #[derive(Deserialize)]
        struct Report {
            facts: Facts,
        }
        let is_report =
            serde_json::from_str::<serde_json::Value>(&text).is_ok_and(|v| v.get("findings").is_some() && v.get("facts").is_some());
        let facts: Facts = if is_report {
            serde_json::from_str::<Report>(&text).map_err(invalid)?.facts
        } else {
            serde_json::from_str(&text).map_err(invalid)?
        };
        if facts.schema_version > SCHEMA_VERSION {
            return Err(crate::error::Error::msg(format!(
                "{}: facts schema_version {} is newer than this h5doctor understands ({}); upgrade h5doctor",
                path.display(),
                facts.schema_version,
                SCHEMA_VERSION
            )));
        }
        Ok(facts)
    }
}

impl Default for Facts {
    fn default() -> Self {
        Self::new()
    }
}
