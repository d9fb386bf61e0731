//! Facts of the drivers × modes matrix: what HDF5 really does in a target directory with each file driver
//! (create, write, close, reopen read-only, read back, compare) and with each open mode the user relies on
//! (`r`, `r+`, `w`, `w-`/`x`, `a`). Gathered by `h5doctor-probe matrix`, on probe files only.

use crate::facts::values::{DriverStep, FileDriver, ModeCase, OpenMode};
use crate::facts::ProbeStatus;
use serde::{Deserialize, Serialize};

/// Whether the loaded HDF5 has a file driver, as the probe asked HDF5 itself.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
pub struct DriverAvailability {
    /// The driver's name as HDF5's setter says it (`sec2` for `H5Pset_fapl_sec2`, `mpio`, `ros3`, ...).
    pub name: FileDriver,
    pub available: bool,
    /// How the probe asked HDF5 (`H5Pset_fapl_stdio succeeded on a fresh fapl`, `built without it:
    /// H5_HAVE_DIRECT is not set in H5pubconf.h`); absent in facts from h5doctor < 0.2.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub how: Option<String>,
}

/// One driver's round trip: create, write a dataset, close, reopen read-only, read back and compare.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
pub struct DriverCheck {
    /// The local-file driver: sec2, stdio, core, family, split, multi, log, direct, splitter, onion.
    pub driver: FileDriver,
    pub ok: bool,
    /// The step that failed: fapl, create, write, close, reopen, read, close after read, compare, or `log
    /// file` (the log driver's own file refused before it ran).
    pub failed_step: Option<DriverStep>,
    /// The errno in HDF5's error stack, if any.
    pub errno: Option<i32>,
    /// The innermost line of HDF5's error stack.
    pub error_leaf: Option<String>,
    pub error_stack: Option<String>,
    /// How many files the driver left on disk for one HDF5 file (family members, split halves, ...).
    pub files_on_disk: usize,
    pub elapsed_us: u64,
    /// Why the driver cannot apply to this directory, when it cannot (the direct driver on a file system
    /// that refuses O_DIRECT, such as tmpfs before Linux 6.6): then it was not run, and `ok` is false without a failure.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub not_applicable: Option<String>,
}

/// One open-mode expectation, checked with the default (sec2) driver.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
pub struct ModeCheck {
    /// The h5py spelling: r, r+, w, w-/x, a.
    pub mode: OpenMode,
    /// On what: `missing file` or `existing file`.
    pub case: ModeCase,
    /// What the user relies on, in words.
    pub expected: String,
    /// What happened, in words.
    pub observed: String,
    pub ok: bool,
    pub errno: Option<i32>,
    pub error_leaf: Option<String>,
    pub elapsed_us: u64,
}

/// The matrix of one directory, as `h5doctor-probe matrix STEM` reports it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
pub struct MatrixReport {
    /// The stem h5doctor chose; every file of the matrix is named `<stem>-...`.
    pub stem: String,
    /// Why the probe refused to run the matrix (a file with the stem already exists), if it did.
    pub refused: Option<String>,
    pub drivers: Vec<DriverCheck>,
    pub modes: Vec<ModeCheck>,
    /// Time spent inside the probe on this directory.
    pub elapsed_us: u64,
}

/// The matrix as recorded for a directory.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
pub struct MatrixFacts {
    pub status: ProbeStatus,
    pub reason: Option<String>,
    #[serde(default)]
    pub drivers: Vec<DriverCheck>,
    #[serde(default)]
    pub modes: Vec<ModeCheck>,
    /// Time spent inside the probe on this directory, in microseconds.
    pub elapsed_us: u64,
}

impl MatrixFacts {
    /// The drivers whose round trip failed.
    pub fn failed_drivers(&self) -> impl Iterator<Item = &DriverCheck> {
        self.drivers.iter().filter(|d| !d.ok && d.not_applicable.is_none())
    }

    /// The mode checks that did not behave as expected.
    pub fn deviations(&self) -> impl Iterator<Item = &ModeCheck> {
        self.modes.iter().filter(|m| !m.ok)
    }
}
