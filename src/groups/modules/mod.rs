//! The `modules` group's home, one folder: environment modules: which are loaded, and what the module tree
//! (MODULEPATH) offers.
//!
//! - `facts.rs`: its typed facts, its one-line summary and its unanswered (inconclusive) cases (`SPEC`);
//! - `catalog/`: its block of the facts catalogue, one file per fact namespace (`modules`, `module_fixes`);
//! - `probe/`: the probe that gathers the facts (Lmod and Tcl modulefiles read statically, verify.rs: a fix
//!   proven by loading it).
//!
//! Layers inside the folder (tests/layering.rs): the probe is the probes stage and may read the facts;
//! everything else is the facts stage and never names the probe.

pub mod catalog {
    //! The `modules` group's block of the facts catalogue (listed once in `facts::catalog::TABLES`).
    pub mod module_fixes;
    pub mod modules;
}
pub mod facts;
pub mod probe;
