//! The probe groups: the vocabulary every stage uses to say which part of the node a fact, a rule, a
//! finding or a report line is about.
//!
//! A group is named once, in the one registration list below ([`groups!`]): a variant of [`Group`] and its
//! home, the folder `groups/<home>/`. Its spelling (`locking`, `hdf5`, ...) in facts JSON, report JSON, rule
//! files and `--only` comes from the variant name (kebab-case), so every `match` on a group is exhaustive and
//! a new group fails to compile until each stage says what it does with it. This file sits below every stage
//! and imports none of them.
//!
//! Each group's home is a folder of its own (cargo-deny's folder per check) that gives every stage its part:
//! - `facts.rs` (or `facts/`): its typed facts and its `SPEC`, the one-line summary (the report line) and the
//!   inconclusive cases (`facts::groups::GroupSpec`);
//! - `catalog`: its block of the facts catalogue, one file per fact namespace, and `NAMESPACES`, each
//!   namespace with its place in `h5doctor facts --list` (`facts::catalog::Namespace`);
//! - `probe.rs` (or `probe/`): its probe and `PROBE`, when the group runs by default and how `probes::gather`
//!   runs it (`probes::GroupProbe`).
//!
//! The stages derive their per-group tables from the list through [`for_each_group!`] (the spec in
//! `facts::groups`, the catalogue in `facts::catalog`, the probes in `probes`), so adding a group is its
//! folder, one line in the list, and the field that places its facts in the facts JSON (`facts::Facts`,
//! which is the JSON layout). The folders hold two stages, kept apart by tests/layering.rs: a group's probe
//! is the probes stage, the rest of its folder is the facts stage, and this file is the vocabulary below
//! both. Facts that belong to no group (the host, the environment) stay in `facts` and `probes`.

use serde::{Deserialize, Serialize};

/// Declares the groups, each once: its doc (what it probes; `h5doctor check --help` shows it under
/// `--only`), its variant and its home. It expands to a `pub mod` per home, the [`Group`] enum and the
/// [`for_each_group!`] macro that hands the list to the stages. The first token is `$`, passed through so the
/// expansion can declare a macro with variables of its own.
macro_rules! groups {
    ($d:tt $($(#[doc = $doc:literal])+ $variant:ident => $home:ident,)+) => {
        $(pub mod $home;)+

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
        )]
        #[cfg_attr(test, derive(schemars::JsonSchema))]
        #[serde(rename_all = "kebab-case")]
        #[strum(serialize_all = "kebab-case")]
        #[clap(rename_all = "kebab-case")]
        pub enum Group {
            $($(#[doc = $doc])+ $variant,)+
        }

        /// Calls the macro `callback` with every group as `Variant => home,`, in report order: how a stage
        /// builds its per-group table (an exhaustive `match` on [`Group`]) from the one registration list.
        macro_rules! for_each_group {
            ($d callback:ident) => {
                $d callback! { $($variant => $home,)+ }
            };
        }
        pub(crate) use for_each_group;
    };
}

// The one registration list of the probe groups, in report order.
groups! { $
    /// File systems of the target directories and whether their locks work.
    Locking => locking,
    /// The HDF5 library (via h5doctor-probe), HDF5 file creation and every file driver and open mode in
    /// each directory.
    Hdf5 => hdf5,
    /// The directories HDF5 searches for filter plugins (HDF5_PLUGIN_PATH or its default) and the
    /// plugins in them.
    Plugins => plugins,
    /// Each HDF5 file given as FILE: superblock, status flags, size, locks, the filters it needs.
    File => file,
    /// HDF5, MPI and Python libraries visible to a job, and the shared-library closure of each --binary.
    Libraries => libraries,
    /// Each Python interpreter: h5py, NumPy and mpi4py read from disk, then proven by a sandboxed import.
    Python => python,
    /// Parallel HDF5 over MPI-IO under the job's launcher (only `h5doctor mpio-test` runs it, inside
    /// srun/mpirun).
    Mpi => mpi,
    /// Environment modules: which are loaded, and what the module tree (MODULEPATH) offers: HDF5, MPI,
    /// Python, h5py.
    Modules => modules,
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
