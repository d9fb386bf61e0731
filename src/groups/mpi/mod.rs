//! The `mpi` group's home, one folder: parallel HDF5 over MPI-IO under the job's launcher.
//!
//! - `facts.rs`: its typed facts, its one-line summary and its unanswered (inconclusive) cases (`SPEC`);
//! - `catalog/`: its block of the facts catalogue, one file per fact namespace (`mpi`);
//!
//! Its probe is not here: `h5doctor mpio-test` gathers the facts inside a launcher, in the MPI probe
//! binary (`probe/src/mpio.rs`, its own crate, built against the job's MPI) and in the `mpio` command
//! (`src/mpio.rs`), which runs it.
//!
//! Layers inside the folder (tests/layering.rs): the probe is the probes stage and may read the facts;
//! everything else is the facts stage and never names the probe.

pub mod catalog {
    //! The `mpi` group's block of the facts catalogue (listed once in `facts::catalog::TABLES`).
    pub mod mpi;
}
pub mod facts;
