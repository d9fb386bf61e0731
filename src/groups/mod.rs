//! The probe groups: the vocabulary every stage uses to say which part of the node a fact, a rule, a
//! finding or a report line is about.
//!
//! A group is named once, here, as a variant of [`Group`]; its spelling (`locking`, `hdf5`, ...) in
//! facts JSON, report JSON, rule files and `--only` comes from the variant name (kebab-case), so every
//! `match` on a group is exhaustive and a new group fails to compile until each stage says what it does
//! with it. This file sits below every stage and imports none of them.
//!
//! Each group also has a folder of its own here, its home (`groups/<group>/`, cargo-deny's folder per
//! check): its typed facts with its one-line summary and inconclusive cases (`facts.rs`), its block of the
//! facts catalogue (`catalog/`) and its probe (`probe.rs` or `probe/`). Adding a group is adding a folder
//! (plus the one-line registrations the compiler asks for: this enum, `facts::groups::spec`,
//! `ProbeOptions::wants`). The folders hold two stages, kept apart by tests/layering.rs: a group's probe
//! is the probes stage, the rest of its folder is the facts stage, and this file is the vocabulary below both.
//! Facts that belong to no group (the host, the environment) stay in `facts` and `probes`.

pub mod file;
pub mod hdf5;
pub mod libraries;
pub mod locking;
pub mod modules;
pub mod mpi;
pub mod plugins;
pub mod python;

use serde::{Deserialize, Serialize};

/// One probe group. The order of the variants is the report order; each variant's doc is what the group
/// probes (`h5doctor check --help` shows it under `--only`).
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Serialize,
    Deserialize,
    clap::ValueEnum,
    strum::EnumIter,
    strum::IntoStaticStr,
    strum::EnumString,
    strum::Display,
    schemars::JsonSchema,
)]
#[serde(rename_all = "kebab-case")]
#[strum(serialize_all = "kebab-case")]
#[clap(rename_all = "kebab-case")]
pub enum Group {
    /// File systems of the target directories and whether their locks work.
    Locking,
    /// The HDF5 library (via h5doctor-probe), HDF5 file creation and every file driver and open mode in
    /// each directory.
    Hdf5,
    /// The directories HDF5 searches for filter plugins (HDF5_PLUGIN_PATH or its default) and the
    /// plugins in them.
    Plugins,
    /// Each HDF5 file given as FILE: superblock, status flags, size, locks, the filters it needs.
    File,
    /// HDF5, MPI and Python libraries visible to a job, and the shared-library closure of each --binary.
    Libraries,
    /// Each Python interpreter: h5py, NumPy and mpi4py read from disk, then proven by a sandboxed import.
    Python,
    /// Parallel HDF5 over MPI-IO under the job's launcher (only `h5doctor mpio-test` runs it, inside
    /// srun/mpirun).
    Mpi,
    /// Environment modules: which are loaded, and what the module tree (MODULEPATH) offers: HDF5, MPI,
    /// Python, h5py.
    Modules,
}

impl Group {
    /// Every group, in report order.
    pub fn all() -> impl Iterator<Item = Group> {
        <Group as strum::IntoEnumIterator>::iter()
    }

    /// The spelling in facts, rules, reports and `--only` (`locking`, `hdf5`, ...).
    pub fn as_str(self) -> &'static str {
        self.into()
    }

    /// Every group's spelling, comma-separated (for error messages).
    pub fn known() -> String {
        Group::all().map(Group::as_str).collect::<Vec<_>>().join(", ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spellings_are_the_same_in_serde_strum_and_clap() {
        use clap::ValueEnum;
        for g in Group::all() {
            let json = serde_json::to_value(g).unwrap();
            assert_eq!(json, serde_json::Value::String(g.as_str().to_string()));
            assert_eq!(g.as_str().parse::<Group>().unwrap(), g);
            assert_eq!(g.to_possible_value().unwrap().get_name(), g.as_str());
        }
        assert_eq!(Group::known(), "locking, hdf5, plugins, file, libraries, python, mpi, modules");
    }
}
