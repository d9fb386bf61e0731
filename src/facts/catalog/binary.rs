//! Facts named `binary.*`: one set per checked binary (`check --binary`), about its shared-library
//! closure as h5doctor's ELF resolver found it. List facts are unknown (not empty) when there is
//! nothing to list, so `exists = true` means "there is at least one".

use super::{FactDef, Item, Scope};
use crate::facts::libraries::{BinaryFacts, ClosureLib};
use serde_json::{json, Value};

fn b<'a>(it: Item<'a>) -> Option<&'a BinaryFacts> {
    it.binary()
}

/// A list fact: unknown when empty.
fn list(items: Vec<String>) -> Option<Value> {
    (!items.is_empty()).then(|| json!(items))
}

fn lib_line(l: &ClosureLib) -> String {
    let mut s = l.path.clone();
    if let Some(v) = &l.version {
        s.push_str(&format!(" (HDF5 {v}"));
    } else if let Some(f) = &l.family {
        s.push_str(&format!(" ({f}"));
    } else {
        s.push_str(" (");
    }
    s.push_str(&format!(", {})", l.how));
    s
}

/// The directory of a path (`/a/b/libx.so` -> `/a/b`).
fn dir_of(path: &str) -> String {
    path.rsplit_once('/')
        .map_or_else(|| ".".to_string(), |(d, _)| if d.is_empty() { "/".into() } else { d.to_string() })
}

pub static FACTS: &[FactDef] = &[
    FactDef {
        name: "binary.error",
        scope: Scope::Binary,
        label: "cannot read",
        doc: "Why the binary could not be read as an ELF file.",
        read: |_, it| b(it).and_then(|b| b.error.as_ref()).map(|e| json!(e)),
    },
    FactDef {
        name: "binary.glibc_missing",
        scope: Scope::Binary,
        label: "glibc versions missing",
        doc: "GLIBC_x.y versions the closure needs that this system's libc does not define (`version 'GLIBC_2.xx' not found`).",
        read: |_, it| {
            b(it).and_then(|b| {
                list(
                    b.missing_versions
                        .iter()
                        .filter(|m| m.version.starts_with("GLIBC_"))
                        .map(|m| format!("{} (required by {}, not in {})", m.version, m.required_by, m.file_path))
                        .collect(),
                )
            })
        },
    },
    FactDef {
        name: "binary.glibc_required",
        scope: Scope::Binary,
        label: "glibc needed",
        doc: "The highest GLIBC_x.y any object of the closure needs, as x.y.",
        read: |_, it| b(it).and_then(|b| b.glibc_required.as_ref()).map(|v| json!(v)),
    },
    FactDef {
        name: "binary.hdf5_built_for",
        scope: Scope::Binary,
        label: "built for HDF5",
        doc: "The HDF5 release an importer was built against, where it can be read (the libhdf5 its own DT_NEEDED or search path names).",
        read: |_, it| {
            b(it).and_then(|b| {
                list(
                    b.hdf5_mismatch
                        .iter()
                        .map(|m| format!("{} ({})", m.built_for, m.built_for_path))
                        .collect(),
                )
            })
        },
    },
    FactDef {
        name: "binary.hdf5_libraries",
        scope: Scope::Binary,
        label: "HDF5 libraries",
        doc: "Every libhdf5 (exporting H5open) in the closure, with its release and how it was found; two mean two HDF5s in one process.",
        read: |_, it| b(it).and_then(|b| list(b.hdf5_libraries.iter().map(lib_line).collect())),
    },
    FactDef {
        name: "binary.hdf5_mismatch",
        scope: Scope::Binary,
        label: "HDF5 mismatch",
        doc: "Importers that run with another HDF5 release than the one they were built against, and why.",
        read: |_, it| {
            b(it).and_then(|b| {
                list(
                    b.hdf5_mismatch
                        .iter()
                        .map(|m| format!("{} built for {} runs {}: {}", m.importer, m.built_for, m.runtime, m.reason))
                        .collect(),
                )
            })
        },
    },
    FactDef {
        name: "binary.hdf5_runtime",
        scope: Scope::Binary,
        label: "runs with HDF5",
        doc: "The HDF5 release the importer's H5* symbols bind to when it differs from the one it was built for.",
        read: |_, it| {
            b(it).and_then(|b| {
                list(
                    b.hdf5_mismatch
                        .iter()
                        .map(|m| format!("{} ({})", m.runtime, m.runtime_path))
                        .collect(),
                )
            })
        },
    },
    FactDef {
        name: "binary.interpreter",
        scope: Scope::Binary,
        label: "program interpreter",
        doc: "The program interpreter (PT_INTERP) the binary asks the kernel for, for a program.",
        read: |_, it| b(it).and_then(|b| b.interpreter.as_ref()).map(|i| json!(i)),
    },
    FactDef {
        name: "binary.interpreter_problem",
        scope: Scope::Binary,
        label: "interpreter problem",
        doc: "Why the kernel cannot run the program interpreter: it does not exist on this node, or is of another ELF class or machine, not ELF, or not executable.",
        read: |_, it| b(it).and_then(|b| list(b.load_failures.iter().filter(|f| f.kind.starts_with("interpreter-")).map(|f| f.explanation.clone()).collect())),
    },
    FactDef {
        name: "binary.loader_says",
        scope: Scope::Binary,
        label: "the loader says",
        doc: "The loader's (or, for the interpreter, the kernel's and shell's) own words for each reason it refuses to start the binary besides a missing library.",
        read: |_, it| b(it).and_then(|b| list(b.load_failures.iter().map(|f| f.loader_says.clone()).collect())),
    },
    FactDef {
        name: "binary.missing",
        scope: Scope::Binary,
        label: "not found",
        doc: "Libraries of the closure the loader cannot find (or cannot load).",
        read: |_, it| b(it).and_then(|b| list(b.missing.iter().map(|m| m.name.clone()).collect())),
    },
    FactDef {
        name: "binary.missing_found_elsewhere",
        scope: Scope::Binary,
        label: "exists outside the search path",
        doc: "Files named like a missing library in module, wheel or prefix directories the loader does not search.",
        read: |_, it| b(it).and_then(|b| list(b.missing.iter().flat_map(|m| m.found_elsewhere.clone()).collect())),
    },
    FactDef {
        name: "binary.missing_found_elsewhere_dir",
        scope: Scope::Binary,
        label: "directory that has it",
        doc: "The directory of the first file in binary.missing_found_elsewhere (for LD_LIBRARY_PATH).",
        read: |_, it| {
            b(it)
                .and_then(|b| b.missing.iter().flat_map(|m| m.found_elsewhere.first()).next())
                .map(|p| json!(dir_of(p)))
        },
    },
    FactDef {
        name: "binary.missing_needed_by",
        scope: Scope::Binary,
        label: "needed by",
        doc: "Each missing library with the object that needs it.",
        read: |_, it| b(it).and_then(|b| list(b.missing.iter().map(|m| format!("{} <- {}", m.name, m.needed_by)).collect())),
    },
    FactDef {
        name: "binary.missing_package",
        scope: Scope::Binary,
        label: "Debian package",
        doc: "The Debian package that ships a missing soname, when it is a well-known one.",
        read: |_, it| b(it).and_then(|b| list(b.missing.iter().filter_map(|m| m.package.clone()).collect())),
    },
    FactDef {
        name: "binary.missing_series",
        scope: Scope::Binary,
        label: "HDF5 series",
        doc: "The HDF5 release series a missing libhdf5 soname belongs to (.103 = 1.10.3-1.10.11, .200 = 1.12, .310 = 1.14, .320 = 2.x).",
        read: |_, it| {
            b(it).and_then(|b| {
                list(
                    b.missing
                        .iter()
                        .filter_map(|m| m.series.as_ref().map(|s| format!("{}: {s}", m.name)))
                        .collect(),
                )
            })
        },
    },
    FactDef {
        name: "binary.mpi_families",
        scope: Scope::Binary,
        label: "MPI families",
        doc: "The distinct MPI ABI families (openmpi, mpich, cray-mpich) of the MPI libraries in the closure.",
        read: |_, it| {
            b(it).and_then(|b| {
                let mut fams: Vec<String> = b.mpi_libraries.iter().filter_map(|m| m.family.clone()).collect();
                fams.sort();
                fams.dedup();
                list(fams)
            })
        },
    },
    FactDef {
        name: "binary.mpi_libraries",
        scope: Scope::Binary,
        label: "MPI libraries",
        doc: "Every MPI library proper (exporting MPI_Init) in the closure, with its ABI family; two mean two MPIs in one process.",
        read: |_, it| b(it).and_then(|b| list(b.mpi_libraries.iter().map(lib_line).collect())),
    },
    FactDef {
        name: "binary.noexec",
        scope: Scope::Binary,
        label: "on a noexec mount",
        doc: "Objects of the closure on a file system mounted noexec: their code cannot be mapped (`failed to map segment from shared object`).",
        read: |_, it| b(it).and_then(|b| list(b.load_failures.iter().filter(|f| f.kind == "noexec-mount").map(|f| format!("{} (mounted noexec at {})", f.file, f.mount.as_deref().unwrap_or("?"))).collect())),
    },
    FactDef {
        name: "binary.noexec_mount",
        scope: Scope::Binary,
        label: "noexec mount point",
        doc: "The mount point of the first object on a noexec file system.",
        read: |_, it| b(it).and_then(|b| b.load_failures.iter().filter(|f| f.kind == "noexec-mount").find_map(|f| f.mount.clone())).map(|m| json!(m)),
    },
    FactDef {
        name: "binary.objects",
        scope: Scope::Binary,
        label: "objects in closure",
        doc: "How many objects the closure holds, the binary included.",
        read: |_, it| b(it).filter(|b| b.error.is_none()).map(|b| json!(b.objects)),
    },
    FactDef {
        name: "binary.origin",
        scope: Scope::Binary,
        label: "checked because",
        doc: "Why the binary is checked: --binary or h5doctor-probe.",
        read: |_, it| b(it).map(|b| json!(b.origin)),
    },
    FactDef {
        name: "binary.path",
        scope: Scope::Binary,
        label: "binary",
        doc: "The checked binary as given.",
        read: |_, it| b(it).map(|b| json!(b.path)),
    },
    FactDef {
        name: "binary.search_order",
        scope: Scope::Binary,
        label: "looked in",
        doc: "Every place the loader looks for the first missing library, in order, with the result of each.",
        read: |_, it| b(it).and_then(|b| b.missing.first()).and_then(|m| list(m.searched.clone())),
    },
    FactDef {
        name: "binary.undefined_symbols",
        scope: Scope::Binary,
        label: "undefined symbols",
        doc: "Undefined H5*/MPI_* symbols of the closure that no loaded object exports (in the version asked for).",
        read: |_, it| {
            b(it).and_then(|b| {
                list(
                    b.undefined
                        .iter()
                        .map(|u| match &u.version {
                            Some(v) => format!("{}@{v} (needed by {})", u.symbol, u.needed_by),
                            None => format!("{} (needed by {})", u.symbol, u.needed_by),
                        })
                        .collect(),
                )
            })
        },
    },
    FactDef {
        name: "binary.unreadable",
        scope: Scope::Binary,
        label: "unreadable",
        doc: "Libraries that exist where the loader looks but that this user cannot read: the loader skips them and reports `cannot open shared object file`.",
        read: |_, it| b(it).and_then(|b| list(b.load_failures.iter().filter(|f| f.kind == "unreadable").map(|f| f.explanation.clone()).collect())),
    },
    FactDef {
        name: "binary.unreadable_file",
        scope: Scope::Binary,
        label: "unreadable file",
        doc: "The first library file this user cannot read.",
        read: |_, it| b(it).and_then(|b| b.load_failures.iter().find(|f| f.kind == "unreadable")).map(|f| json!(f.file)),
    },
    FactDef {
        name: "binary.versions_missing",
        scope: Scope::Binary,
        label: "versions missing",
        doc: "Symbol versions other than GLIBC_* that a library of the closure does not define (`version 'X' not found`).",
        read: |_, it| {
            b(it).and_then(|b| {
                list(
                    b.missing_versions
                        .iter()
                        .filter(|m| !m.version.starts_with("GLIBC_"))
                        .map(|m| format!("{} (required by {}, not in {})", m.version, m.required_by, m.file_path))
                        .collect(),
                )
            })
        },
    },
    FactDef {
        name: "binary.versions_missing_hdf5_mpi",
        scope: Scope::Binary,
        label: "HDF5/MPI versions missing",
        doc: "Symbol versions an object needs that the HDF5 or MPI library loaded for it does not define.",
        read: |_, it| {
            b(it).and_then(|b| {
                list(
                    b.missing_versions
                        .iter()
                        .filter(|m| !m.version.starts_with("GLIBC_") && m.in_hdf5_or_mpi())
                        .map(|m| format!("{} (required by {}, not in {})", m.version, m.required_by, m.file_path))
                        .collect(),
                )
            })
        },
    },
    FactDef {
        name: "binary.versions_missing_other",
        scope: Scope::Binary,
        label: "versions missing",
        doc: "Symbol versions an object needs that a library other than glibc, HDF5 or MPI does not define (`version 'X' not found (required by ...)`).",
        read: |_, it| {
            b(it).and_then(|b| {
                list(
                    b.missing_versions
                        .iter()
                        .filter(|m| !m.version.starts_with("GLIBC_") && !m.in_hdf5_or_mpi())
                        .map(|m| format!("{} (required by {}, not in {})", m.version, m.required_by, m.file_path))
                        .collect(),
                )
            })
        },
    },
];
