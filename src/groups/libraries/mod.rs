//! The `libraries` group's home, one folder: HDF5, MPI and Python libraries visible to a job, and the
//! shared-library closure of each --binary.
//!
//! - `facts.rs`: its typed facts, its one-line summary and its unanswered (inconclusive) cases (`SPEC`);
//! - `catalog/`: its block of the facts catalogue, one file per fact namespace (`libraries`, `binary`,
//!   `parallel_filters`);
//! - `probe.rs`: the probe that gathers the facts.
//!
//! Layers inside the folder (tests/layering.rs): the probe is the probes stage and may read the facts;
//! everything else is the facts stage and never names the probe.

pub mod catalog {
    //! The `libraries` group's block of the facts catalogue: a module per fact namespace, and the list of them.
    pub mod binary;
    pub mod libraries;
    pub mod parallel_filters;

    use crate::facts::catalog::Namespace;

    /// The group's fact namespaces, each with its place in `h5doctor facts --list` (`Namespace::listed_at`).
    pub static NAMESPACES: &[Namespace] = &[
        Namespace { listed_at: 110, facts: libraries::FACTS },
        Namespace { listed_at: 120, facts: binary::FACTS },
        Namespace { listed_at: 160, facts: parallel_filters::FACTS },
    ];
}
pub mod facts;
pub mod probe;
