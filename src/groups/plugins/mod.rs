//! The `plugins` group's home, one folder: the directories HDF5 searches for filter plugins and the plugins in
//! them.
//!
//! - `facts.rs`: its typed facts, its one-line summary and its unanswered (inconclusive) cases (`SPEC`);
//! - `catalog/`: its block of the facts catalogue, one file per fact namespace (`plugin_dir`);
//! - `probe.rs`: the probe that gathers the facts.
//!
//! Layers inside the folder (tests/layering.rs): the probe is the probes stage and may read the facts;
//! everything else is the facts stage and never names the probe.

pub mod catalog {
    //! The `plugins` group's block of the facts catalogue: a module per fact namespace, and the list of them.
    pub mod plugin_dir;

    use crate::facts::catalog::Namespace;

    /// The group's fact namespaces, each with its place in `h5doctor facts --list` (`Namespace::listed_at`).
    pub static NAMESPACES: &[Namespace] = &[
        Namespace { listed_at: 80, facts: plugin_dir::FACTS },
    ];
}
pub mod facts;
pub mod probe;
