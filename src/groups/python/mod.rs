//! The `python` group's home, one folder: each Python interpreter: h5py, NumPy and mpi4py read from disk, then
//! proven by a sandboxed import.
//!
//! - `facts.rs`: its typed facts, its one-line summary and its unanswered (inconclusive) cases (`SPEC`);
//! - `catalog/`: its block of the facts catalogue, one file per fact namespace (`python`);
//! - `probe/`: the probe that gathers the facts.
//!
//! Layers inside the folder (tests/layering.rs): the probe is the probes stage and may read the facts;
//! everything else is the facts stage and never names the probe.

pub mod catalog {
    //! The `python` group's block of the facts catalogue: a module per fact namespace, and the list of them.
    pub mod python;
    pub mod reinstall;

    use crate::facts::catalog::Namespace;

    /// The group's fact namespaces, each with its place in `h5doctor facts --list` (`Namespace::listed_at`).
    pub static NAMESPACES: &[Namespace] = &[
        Namespace { listed_at: 130, facts: python::FACTS },
    ];
}
pub mod facts;
pub mod probe;
