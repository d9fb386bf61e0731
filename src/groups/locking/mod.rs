//! The `locking` group's home, one folder: file systems of the target directories and whether their lock
//! syscalls work.
//!
//! - `facts.rs`: its typed facts, its one-line summary and its unanswered (inconclusive) cases (`SPEC`);
//! - `catalog/`: its block of the facts catalogue, one file per fact namespace (`dir`, `dir_h5py`);
//! - `probe/`: the probe that gathers the facts (the lock syscalls, run in the directory probe child;
//!   mounts.rs: the file system of a path).
//!
//! Layers inside the folder (tests/layering.rs): the probe is the probes stage and may read the facts;
//! everything else is the facts stage and never names the probe.

pub mod catalog {
    //! The `locking` group's block of the facts catalogue: a module per fact namespace, and the list of them.
    pub mod dir;
    pub mod dir_h5py;

    use crate::facts::catalog::Namespace;

    /// The group's fact namespaces, each with its place in `h5doctor facts --list` (`Namespace::listed_at`).
    pub static NAMESPACES: &[Namespace] = &[
        Namespace { listed_at: 30, facts: dir::FACTS },
        Namespace { listed_at: 50, facts: dir_h5py::FACTS },
    ];
}
pub mod facts;
pub mod probe;
