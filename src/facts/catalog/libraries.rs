//! Facts named `libraries.*`: the HDF5, MPI and Python libraries visible to a job on this node (the
//! inventory), and the node's glibc.

use super::{FactDef, Scope};
use crate::facts::libraries::LibraryInfo;
use crate::facts::Facts;
use serde_json::{json, Value};

fn of_kind(f: &Facts, kind: &str) -> Option<Value> {
    let items: Vec<String> = f
        .libraries
        .inventory
        .iter()
        .filter(|l| l.kind == kind)
        .map(LibraryInfo::summary)
        .collect();
    (!items.is_empty()).then(|| json!(items))
}

pub static FACTS: &[FactDef] = &[
    FactDef {
        name: "libraries.glibc",
        scope: Scope::Global,
        label: "system glibc",
        doc: "The glibc release of this node: the highest GLIBC_x.y version node of the libc.so.6 the loader finds.",
        read: |f, _| f.libraries.glibc.as_ref().map(|v| json!(v)),
    },
    FactDef {
        name: "libraries.hdf5",
        scope: Scope::Global,
        label: "HDF5 libraries",
        doc: "Every libhdf5 visible to a job (ld.so.cache, LD_LIBRARY_PATH, module prefixes, wheels, LD_PRELOAD): \
              soname, embedded release, flavour, real path, where it is visible.",
        read: |f, _| of_kind(f, "hdf5"),
    },
    FactDef {
        name: "libraries.hdf5_versions",
        scope: Scope::Global,
        label: "HDF5 releases",
        doc: "The distinct HDF5 releases (embedded version strings) of the visible libhdf5 files.",
        read: |f, _| {
            let mut v: Vec<String> = f.libraries.inventory.iter().filter_map(|l| l.hdf5_version.clone()).collect();
            v.sort();
            v.dedup();
            (!v.is_empty()).then(|| json!(v))
        },
    },
    FactDef {
        name: "libraries.mpi",
        scope: Scope::Global,
        label: "MPI libraries",
        doc: "Every libmpi*/libmpich* visible to a job, with its ABI family.",
        read: |f, _| of_kind(f, "mpi"),
    },
    FactDef {
        name: "libraries.python",
        scope: Scope::Global,
        label: "Python libraries",
        doc: "Every libpython* visible to a job.",
        read: |f, _| of_kind(f, "python"),
    },
];
