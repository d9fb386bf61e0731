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
    //! The `modules` group's block of the facts catalogue: a module per fact namespace, and the list of them.
    pub mod module_fixes;
    pub mod modules;

    use crate::facts::catalog::Namespace;

    /// The group's fact namespaces, each with its place in `h5doctor facts --list` (`Namespace::listed_at`).
    pub static NAMESPACES: &[Namespace] = &[
        Namespace { listed_at: 150, facts: modules::FACTS },
        Namespace { listed_at: 170, facts: module_fixes::FACTS },
    ];
}
pub mod facts;
pub mod probe;
