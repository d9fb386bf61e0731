//! Facts named `libraries.*`: the HDF5, MPI and Python libraries visible to a job on this node (the
//! inventory), and the node's glibc.

use crate::elf::libraries::Kind;
use crate::facts::catalog::facts;
use crate::facts::libraries::LibraryInfo;
use crate::facts::Facts;
use serde_json::{json, Value};

fn of_kind(f: &Facts, kind: Kind) -> Option<Value> {
    let items: Vec<String> = f
        .libraries
        .inventory
        .iter()
        .filter(|l| l.kind == kind)
        .map(LibraryInfo::summary)
        .collect();
    (!items.is_empty()).then(|| json!(items))
}

facts! {
    Global(f) {
        "libraries.glibc" ["system glibc"]
            "The glibc release of this node: the highest GLIBC_x.y version node of the libc.so.6 the loader finds."
            => f.libraries.glibc.as_ref();
        "libraries.hdf5" ["HDF5 libraries"]
            "Every libhdf5 visible to a job (ld.so.cache, LD_LIBRARY_PATH, module prefixes, wheels, LD_PRELOAD): \
            soname, embedded release, flavour, real path, where it is visible."
            => of_kind(f, Kind::Hdf5);
        "libraries.hdf5_versions" ["HDF5 releases"]
            "The distinct HDF5 releases (embedded version strings) of the visible libhdf5 files."
            => {
                let mut v: Vec<String> = f.libraries.inventory.iter().filter_map(|l| l.hdf5_version.clone()).collect();
                v.sort();
                v.dedup();
                (!v.is_empty()).then(|| json!(v))
            };
        "libraries.mpi" ["MPI libraries"]
            "Every libmpi*/libmpich* visible to a job, with its ABI family."
            => of_kind(f, Kind::Mpi);
        "libraries.python" ["Python libraries"]
            "Every libpython* visible to a job."
            => of_kind(f, Kind::Python);
    }
}
