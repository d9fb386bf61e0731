//! Rules: data files that turn facts into findings.
//!
//! One TOML file per rule (see `rules/README.md` for the format). The shipped rules are embedded in the
//! binary; site rules dirs (`$H5DOCTOR_RULES_PATH`, `/etc/h5doctor/rules.d`) add rules, replace shipped
//! ones (same id) or silence them (`silence = "slug"` with a mandatory `reason`). Loading validates every
//! file completely and reports errors as `file:line:column: message`.

pub mod condition;
pub mod evaluate;
mod load;

pub use load::{default_site_dirs, RuleSet, Silence};

use crate::facts::catalog::{FactDef, Scope};
use condition::Condition;
use serde::{Deserialize, Serialize};

/// How bad a finding is. `error` stops the job from working, `warning` makes it fragile or slow,
/// `info` is context.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Info,
    Warning,
    Error,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Info => "info",
            Self::Warning => "warning",
            Self::Error => "error",
        }
    }
}

/// What kind of change a fix asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FixKind {
    /// Set or change an environment variable.
    Env,
    /// Change the program's HDF5/h5py calls.
    Api,
    /// Load, swap or unload a module.
    Module,
    /// Run a shell command.
    Shell,
    /// Rebuild or reinstall software.
    Rebuild,
    /// Ask the system administrators.
    Admin,
}

/// Whether applying a fix can lose data.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Safety {
    Safe,
    Unsafe,
}

/// The explanation sections shown by `h5doctor explain` (ruff's what / why / example / known problems).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Explain {
    pub what: String,
    pub why: String,
    pub example: String,
    #[serde(default)]
    pub known_problems: String,
}

/// One fix of a rule.
#[derive(Debug, Clone)]
pub struct Fix {
    pub kind: FixKind,
    /// The exact text to type.
    pub text: String,
    pub safety: Safety,
    /// Why the fix is unsafe; required when `safety = "unsafe"`.
    pub unsafe_reason: Option<String>,
    /// A caveat or where the fix applies ("h5py >= 3.5").
    pub note: Option<String>,
    /// A condition on the subject's facts that proves the fix works here (a re-run that succeeded).
    pub verified_by: Option<Condition>,
    /// The fix is offered only where this holds.
    pub when: Option<Condition>,
}

/// A validated rule.
#[derive(Debug, Clone)]
pub struct Rule {
    pub id: String,
    pub slug: String,
    /// The probe group the rule belongs to (`locking`, `hdf5`, ...).
    pub group: String,
    pub scope: Scope,
    pub severity: Severity,
    /// A one-line title; `{fact.name}` placeholders are replaced with the subject's values.
    pub title: String,
    pub when: Condition,
    /// A stricter severity where a further condition holds (e.g. HDF5 actually failed).
    pub escalate: Option<(Severity, Condition)>,
    /// Facts shown as evidence, in order (the facts of `when` follow).
    pub evidence: Vec<&'static FactDef>,
    pub explain: Explain,
    pub fixes: Vec<Fix>,
    pub references: Vec<String>,
    /// Where the rule was loaded from (`builtin:locking/lock-unsupported.toml` or a path).
    pub source: String,
    /// Shipped with h5doctor (embedded), as opposed to a site rule.
    pub shipped: bool,
}

/// The probe groups `check` knows. Rules name one of them; `--only` selects among them.
pub const GROUPS: &[(&str, &str)] = &[
    ("locking", "file systems of the target directories and whether their locks work"),
    (
        "hdf5",
        "the HDF5 library (via h5doctor-probe), HDF5 file creation and every file driver and open mode in each directory",
    ),
    (
        "plugins",
        "the directories HDF5 searches for filter plugins (HDF5_PLUGIN_PATH or its default) and the plugins in them",
    ),
    (
        "file",
        "each HDF5 file given as FILE: superblock, status flags, size, locks, the filters it needs",
    ),
    (
        "libraries",
        "HDF5, MPI and Python libraries visible to a job, and the shared-library closure of each --binary",
    ),
    (
        "python",
        "each Python interpreter: h5py, NumPy and mpi4py read from disk, then proven by a sandboxed import",
    ),
    (
        "mpi",
        "parallel HDF5 over MPI-IO under the job's launcher (only `h5doctor mpio-test` runs it, inside srun/mpirun)",
    ),
    (
        "modules",
        "environment modules: which are loaded, and what the module tree (MODULEPATH) offers: HDF5, MPI, Python, h5py",
    ),
];
