//! The `hdf5` group's home, one folder: the HDF5 library (h5doctor-probe), HDF5 file creation, the drivers ×
//! modes matrix and the storage of each target directory.
//!
//! - `facts.rs`: its typed facts, its one-line summary and its unanswered (inconclusive) cases (`SPEC`);
//! - `matrix.rs`, `storage.rs`: more of its typed facts (the drivers × modes matrix, the directories' storage);
//! - `catalog/`: its block of the facts catalogue, one file per fact namespace (`hdf5`, `hdf5_env`,
//!   `dir_matrix`, `dir_storage`, `dir_mounts`);
//! - `probe/`: the probe that gathers the facts (runs h5doctor-probe; pick.rs chooses it; storage.rs and
//!   lfs.rs: space, inodes, quotas).
//!
//! Layers inside the folder (tests/layering.rs): the probe is the probes stage and may read the facts;
//! everything else is the facts stage and never names the probe.

pub mod catalog {
    //! The `hdf5` group's block of the facts catalogue: a module per fact namespace, and the list of them.
    pub mod dir_matrix;
    pub mod dir_mounts;
    pub mod dir_storage;
    pub mod hdf5;
    pub mod hdf5_env;

    use crate::facts::catalog::Namespace;

    /// The group's fact namespaces, each with its place in `h5doctor facts --list` (`Namespace::listed_at`).
    pub static NAMESPACES: &[Namespace] = &[
        Namespace { listed_at: 10, facts: hdf5::FACTS },
        Namespace { listed_at: 20, facts: hdf5_env::FACTS },
        Namespace { listed_at: 40, facts: dir_matrix::FACTS },
        Namespace { listed_at: 60, facts: dir_storage::FACTS },
        Namespace { listed_at: 70, facts: dir_mounts::FACTS },
    ];
}
pub mod facts;
pub mod matrix;
pub mod probe;
pub mod storage;
