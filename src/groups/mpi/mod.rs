//! The `mpi` group's home, one folder: parallel HDF5 over MPI-IO under the job's launcher.
//!
//! - `facts.rs`: its typed facts, its one-line summary and its unanswered (inconclusive) cases (`SPEC`);
//! - `catalog/`: its block of the facts catalogue, one file per fact namespace (`mpi`);
//! - `probe.rs`: what h5doctor's library gathers for it: a rank's launcher environment and rank, Open MPI's
//!   job id, the facts document of a run.
//!
//! The MPI-IO test itself is not here: it needs MPI and a parallel HDF5, which h5doctor does not link, so
//! it is the MPI probe binary (`probe/src/mpio.rs`, its own crate, built against the job's MPI), which
//! `h5doctor mpio-test` (`src/mpio.rs`) runs under the launcher. The probe hands its facts to h5doctor
//! (`h5doctor check --facts`) to be judged.
//!
//! Layers inside the folder (tests/layering.rs): the probe is the probes stage and may read the facts;
//! everything else is the facts stage and never names the probe.

pub mod catalog {
    //! The `mpi` group's block of the facts catalogue: a module per fact namespace, and the list of them.
    pub mod mpi;

    use crate::facts::catalog::Namespace;

    /// The group's fact namespaces, each with its place in `h5doctor facts --list` (`Namespace::listed_at`).
    pub static NAMESPACES: &[Namespace] = &[
        Namespace { listed_at: 140, facts: mpi::FACTS },
    ];
}
pub mod facts;
pub mod probe;
