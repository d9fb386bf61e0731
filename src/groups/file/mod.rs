//! The `file` group's home, one folder: each HDF5 file given as FILE: superblock, status flags, size, locks and
//! openers, the filters it needs.
//!
//! - `facts.rs`: its typed facts, its one-line summary and its unanswered (inconclusive) cases (`SPEC`);
//! - `catalog/`: its block of the facts catalogue, one file per fact namespace (`file`, `file_format`);
//! - `probe/`: the probe that gathers the facts (plain reads: superblock.rs, holders.rs; fix_rereads.rs: fixes
//!   proven by re-reading).
//!
//! Layers inside the folder (tests/layering.rs): the probe is the probes stage and may read the facts;
//! everything else is the facts stage and never names the probe.

pub mod catalog {
    //! The `file` group's block of the facts catalogue: a module per fact namespace, and the list of them.
    pub mod file;
    pub mod file_format;

    use crate::facts::catalog::Namespace;

    /// The group's fact namespaces, each with its place in `h5doctor facts --list` (`Namespace::listed_at`).
    pub static NAMESPACES: &[Namespace] = &[
        Namespace { listed_at: 90, facts: file::FACTS },
        Namespace { listed_at: 100, facts: file_format::FACTS },
    ];
}
pub mod facts;
pub mod probe;
