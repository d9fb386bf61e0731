//! The contract every probe group's home fills in: [`GroupSpec`], the one-line summary the report prints
//! after the group's mark (`✓ locking   /scratch (lustre, flock ok)`) and the probes of the group that gave
//! no answer (the report's `inconclusive` list).
//!
//! Each group keeps its spec next to its facts, in its home (`groups::locking::facts::SPEC`, ...), the
//! way cargo-deny keeps a check in one folder. [`spec`] is an exhaustive `match` on [`Group`], built from the
//! groups' registration list, so a new group does not compile until its home says how it is summed up and when it is inconclusive.

use super::catalog::Item;
use super::Facts;
use crate::groups::Group;

/// What h5doctor knows about one probe group beyond its facts.
#[derive(Debug, Clone, Copy)]
pub struct GroupSpec {
    pub group: Group,
    /// A one-line account of what the group saw (no judgement: the marks and findings come from the rules).
    pub summary: fn(&Facts) -> String,
    /// The group's probes that gave no answer (timed out, crashed, could not run), each with its place in
    /// the report's list. Called only when the group ran.
    pub unanswered: fn(&Facts) -> Vec<Unanswered<'_>>,
}

/// One probe that gave no answer: what it was about and why. The judge turns it into the report's
/// `Inconclusive` entry (the item becomes the entry's scope).
#[derive(Debug, Clone)]
pub struct Unanswered<'a> {
    /// Where the entry sits in the report's `inconclusive` list.
    pub at: ListPosition,
    /// The node, directory, file, binary or interpreter the probe was about.
    pub item: Item<'a>,
    pub reason: String,
}

/// The place of an entry in the report's `inconclusive` list. The list has always been ordered by what
/// the entries are about, not by group (a directory's locking and HDF5 entries sit together), and report
/// JSON keeps that order: entries are sorted by section, then by the index of their item, then by step.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct ListPosition {
    pub section: Section,
    /// The index of the item in its list (`facts.dirs`, `facts.files`, ...); 0 for the node.
    pub index: usize,
    /// Several entries about one item: their order.
    pub step: u8,
}

/// The sections of the report's `inconclusive` list, in list order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Section {
    /// Per target directory: its lock probe (locking), its H5Fcreate, its drivers × modes matrix (hdf5).
    Dirs,
    /// Each `--binary` whose closure could not be read (libraries).
    Binaries,
    /// The HDF5 probe itself (hdf5).
    Hdf5Probe,
    /// The plugin probe (plugins).
    Plugins,
    /// Each examined file (file).
    Files,
    /// Each Python interpreter: itself, its import, its import under H5PY_ALWAYS_USE_MPI (python).
    Interpreters,
    /// The node-wide entries of a group that shares no section above (mpi: the MPI-IO test; modules: the
    /// module system), after them, in report order of the groups: a new group's entries need no section of
    /// their own.
    Own(Group),
}

impl ListPosition {
    /// The place of the node-wide entry of a section.
    pub fn node(section: Section) -> Self {
        Self {
            section,
            index: 0,
            step: 0,
        }
    }

    /// The place of an entry about the `index`th item of a section.
    pub fn item(section: Section, index: usize, step: u8) -> Self {
        Self { section, index, step }
    }
}

impl<'a> Unanswered<'a> {
    pub fn new(at: ListPosition, item: Item<'a>, reason: impl Into<String>) -> Self {
        Self {
            at,
            item,
            reason: reason.into(),
        }
    }
}

/// The spec of a group, from its home: an exhaustive `match` built from the registration list
/// (`crate::groups::groups!`), so every group's home must have its `facts::SPEC`.
macro_rules! spec_of_each_group {
    ($($variant:ident => $home:ident,)+) => {
        pub fn spec(group: Group) -> GroupSpec {
            match group {
                $(Group::$variant => crate::groups::$home::facts::SPEC,)+
            }
        }
    };
}
crate::groups::for_each_group!(spec_of_each_group);

/// Whether a probe status is no answer (timed out, crashed, or its binary could not start).
pub fn unanswered_status(status: super::ProbeStatus) -> bool {
    matches!(status, super::ProbeStatus::Inconclusive | super::ProbeStatus::Unavailable)
}

/// An unavailable HDF5 probe is already the probe-unavailable finding when the hdf5 group ran, so the
/// groups that needed it (plugins, file) do not say it again as inconclusive.
pub fn probe_unavailable_is_a_finding(facts: &Facts) -> bool {
    facts.groups.contains(&Group::Hdf5) && facts.hdf5.status == super::ProbeStatus::Unavailable
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_group_gets_its_own_spec() {
        for group in Group::all() {
            assert_eq!(spec(group).group, group);
        }
    }
}
