//! The fact model: everything the probes gathered about a node, typed, serde-serialisable and versioned.
//!
//! Facts are the only thing that crosses from probing to judging. `h5doctor facts --json` writes them;
//! `h5doctor check --facts FILE` reads them back and judges them again, possibly with newer rules. So a
//! field added here must be `#[serde(default)]`-tolerant, and a field removed or changed in meaning bumps
//! [`SCHEMA_VERSION`].
//!
//! Where docs live: a fact's meaning is documented once, in its entry of the facts catalogue
//! ([`catalog`], shown by `h5doctor facts --list`); a field that a fact reads as it is says only
//! "Fact `ns.name`" and points there; a closed set of values is documented on its enum ([`values`]); the
//! other fields (no fact reads them as they are) keep their own docs, which the JSON schema shows. Older
//! fields still repeat their fact's doc in places; move such a doc into the catalogue when touching it.

pub mod catalog;
pub mod groups;
pub mod values;

// Each group's facts live in its home (`crate::groups::<group>`); they are re-exported here, so the fact
// model reads as one tree.
pub use crate::groups::file::facts::{
    FileFacts, FileHdf5Facts, FileProbeReport, FilterNeed, LockHolder, NewerReaderCheck, ProcessRef, Superblock, UnreadableObject,
    VdsReadReport, VdsReread, VdsSource, VirtualMapping, RAISE_OPEN_FILES,
};
pub use crate::groups::hdf5::facts::{
    DirHdf5Facts, FoundPlugin, Hdf5Create, Hdf5Facts, Hdf5Install, Hdf5InstallSearch, Hdf5Library, Hdf5ProbeReport, LockingEnv,
    PluginEnvRetry, PluginEnvSearch, ProbeChoice, WantedHdf5, WantedPlugin, HDF5_PLUGIN_ENV, PLUGINS_WITH_CREATE_ENV,
};
pub use crate::groups::hdf5::matrix::{DriverAvailability, DriverCheck, MatrixFacts, MatrixReport, ModeCheck};
pub use crate::groups::hdf5::storage::{LustreLayout, OstUsage, QuotaFacts, StorageFacts};
pub use crate::groups::libraries::facts as libraries;
pub use crate::groups::locking::facts::{DirFacts, FsFacts, LockFacts, MissingDir, SyscallResult};
pub use crate::groups::modules::facts as modules;
pub use crate::groups::mpi::facts as mpi;
pub use crate::groups::plugins::facts::{PluginDirFacts, PluginFacts, PluginLibrary, PluginLoad, PluginProbeReport};
pub use crate::groups::python::facts as python;

use serde::{Deserialize, Serialize};
use std::path::PathBuf;

/// Version of the facts JSON layout. Bump it when a field changes meaning or disappears.
pub const SCHEMA_VERSION: u32 = 1;

/// Everything known about one node at one moment.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
pub struct Facts {
    /// The layout version of the facts; a field that changes meaning or disappears bumps it.
    #[cfg_attr(test, schemars(extend("const" = SCHEMA_VERSION)))]
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
    /// The login node's view of the same target directories, attached by `summarize --login FILE` or
    /// `check --login FILE` (never probed here): lets rules tell that a directory of the login node is
    /// not mounted on this node.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub login: Option<LoginFacts>,
}

/// What the login node's facts say about each target directory: where it is mounted there.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
pub struct LoginFacts {
    /// The login node's host name.
    pub host: String,
    /// The facts file it was read from.
    pub source: String,
    pub dirs: Vec<LoginDir>,
}

/// One target directory as the login node saw it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
pub struct LoginDir {
    /// The path as given there.
    pub path: String,
    pub canonical: Option<PathBuf>,
    /// The file system holding it there; none when it does not exist (or was not examined) there.
    pub filesystem: Option<FsFacts>,
    /// A plain file could be created there on the login node (the storage probe's create), when probed.
    pub writable: Option<bool>,
}

impl LoginFacts {
    /// The login node's view, from its own facts (`h5doctor facts --json` run there).
    pub fn of(login: &Facts, source: &str) -> Self {
        Self {
            host: login.host.hostname.clone(),
            source: source.to_string(),
            dirs: login
                .dirs
                .iter()
                .map(|d| LoginDir {
                    path: d.path.clone(),
                    canonical: d.canonical.clone(),
                    filesystem: d.filesystem.clone(),
                    writable: d
                        .storage
                        .as_ref()
                        .and_then(|s| s.create.as_ref().map(|c| c.errno == 0 && !s.read_only)),
                })
                .collect(),
        }
    }

    /// The login node's entry for a directory of this node: the same path as given, else the same
    /// canonical path.
    pub fn dir_for(&self, d: &DirFacts) -> Option<&LoginDir> {
        self.dirs
            .iter()
            .find(|l| l.path == d.path)
            .or_else(|| self.dirs.iter().find(|l| l.canonical.is_some() && l.canonical == d.canonical))
    }
}

/// Where the facts come from.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
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
    /// The descriptors open in h5doctor when it started (/proc/self/fd before it opened anything): what a
    /// program started the same way inherits (stdio, and whatever the job's shell left open). Each one
    /// below the soft limit takes a slot the program cannot use for its files.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub open_at_start: Option<Vec<u32>>,
}

/// Environment variables that change how HDF5 behaves, as the job would see them.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
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
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, strum::IntoStaticStr, strum::VariantNames)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
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
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, strum::IntoStaticStr, strum::VariantNames)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
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

impl EnvFacts {
    /// HDF5_VOL_CONNECTOR, HDF5_DRIVER and HDF5_DRIVER_CONFIG, those that are set.
    pub fn hdf5_plugin_vars(&self) -> Vec<&'static str> {
        HDF5_PLUGIN_ENV.into_iter().filter(|v| self.vars.contains_key(*v)).collect()
    }
}

/// The batch systems' job-id variables, with the name of the system that sets each.
pub const BATCH_JOB_VARS: &[(&str, &str)] = &[
    ("SLURM_JOB_ID", "Slurm"),
    ("PBS_JOBID", "PBS"),
    ("LSB_JOBID", "LSF"),
    ("FLUX_JOB_ID", "Flux"),
];

/// The batch job recorded variables describe, in words (`Slurm job 42`); none outside a job.
pub fn batch_job(vars: &std::collections::BTreeMap<String, String>) -> Option<String> {
    BATCH_JOB_VARS
        .iter()
        .find_map(|(var, system)| vars.get(*var).filter(|v| !v.is_empty()).map(|id| format!("{system} job {id}")))
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
            login: None,
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
