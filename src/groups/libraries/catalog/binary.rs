//! Facts named `binary.*`: one set per checked binary (`check --binary`), about its shared-library
//! closure as h5doctor's ELF resolver found it. List facts are unknown (not empty) when there is
//! nothing to list, so `exists = true` means "there is at least one".

use crate::elf::resolve::LoadErrorKind;
use crate::facts::catalog::facts;
use crate::facts::catalog::non_empty;
use crate::facts::libraries::ClosureLib;
use crate::facts::values::MpiFamily;

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

facts! {
    Binary(f, b) {
        "binary.error" ["cannot read"]
            "Why the binary could not be read as an ELF file."
            => b.error.as_ref();
        "binary.glibc_missing" ["glibc versions missing"]
            "GLIBC_x.y versions the closure needs that this system's libc does not define (`version 'GLIBC_2.xx' not found`)."
            => non_empty(
                b.missing_versions
                    .iter()
                    .filter(|m| m.version.starts_with("GLIBC_"))
                    .map(|m| format!("{} (required by {}, not in {})", m.version, m.required_by, m.file_path))
                    .collect(),
            );
        "binary.glibc_required" ["glibc needed"]
            "The highest GLIBC_x.y any object of the closure needs, as x.y."
            => b.glibc_required.as_ref();
        "binary.hdf5_built_for" ["built for HDF5"]
            "The HDF5 release an importer was built against, where it can be read (the libhdf5 its own DT_NEEDED or search path names)."
            => non_empty(
                b.hdf5_mismatch
                    .iter()
                    .map(|m| format!("{} ({})", m.built_for, m.built_for_path))
                    .collect(),
            );
        "binary.hdf5_libraries" ["HDF5 libraries"]
            "Every libhdf5 (exporting H5open) in the closure, with its release and how it was found; two mean two HDF5s in one process."
            => non_empty(b.hdf5_libraries.iter().map(lib_line).collect());
        "binary.hdf5_mismatch" ["HDF5 mismatch"]
            "Importers that run with another HDF5 release than the one they were built against, and why."
            => non_empty(
                b.hdf5_mismatch
                    .iter()
                    .map(|m| format!("{} built for {} runs {}: {}", m.importer, m.built_for, m.runtime, m.reason))
                    .collect(),
            );
        "binary.hdf5_runtime" ["runs with HDF5"]
            "The HDF5 release the importer's H5* symbols bind to when it differs from the one it was built for."
            => non_empty(
                b.hdf5_mismatch
                    .iter()
                    .map(|m| format!("{} ({})", m.runtime, m.runtime_path))
                    .collect(),
            );
        "binary.interpreter" ["program interpreter"]
            "The program interpreter (PT_INTERP) the binary asks the kernel for, for a program."
            => b.interpreter.as_ref();
        "binary.interpreter_problem" ["interpreter problem"]
            "Why the kernel cannot run the program interpreter: it does not exist on this node, or is of another ELF class or machine, not ELF, or not executable."
            => non_empty(b.load_failures.iter().filter(|f| matches!(f.kind, LoadErrorKind::InterpreterMissing | LoadErrorKind::InterpreterUnusable)).map(|f| f.explanation.clone()).collect());
        "binary.loader_says" ["the loader says"]
            "The loader's (or, for the interpreter, the kernel's and shell's) own words for each reason it refuses to start the binary besides a missing library."
            => non_empty(b.load_failures.iter().map(|f| f.loader_says.clone()).collect());
        "binary.missing" ["not found"]
            "Libraries of the closure the loader cannot find (or cannot load)."
            => non_empty(b.missing.iter().map(|m| m.name.clone()).collect());
        "binary.missing_found_elsewhere" ["exists outside the search path"]
            "Files named like a missing library in module, wheel or prefix directories the loader does not search."
            => non_empty(b.missing.iter().flat_map(|m| m.found_elsewhere.clone()).collect());
        "binary.missing_found_elsewhere_dir" ["directory that has it"]
            "The directory of the first file in binary.missing_found_elsewhere (for LD_LIBRARY_PATH)."
            => b.missing.iter().flat_map(|m| m.found_elsewhere.first()).next().map(|p| dir_of(p));
        "binary.missing_needed_by" ["needed by"]
            "Each missing library with the object that needs it."
            => non_empty(b.missing.iter().map(|m| format!("{} <- {}", m.name, m.needed_by)).collect());
        "binary.missing_package" ["Debian package"]
            "The Debian package that ships a missing soname, when it is a well-known one."
            => non_empty(b.missing.iter().filter_map(|m| m.package.clone()).collect());
        "binary.missing_series" ["HDF5 series"]
            "The HDF5 release series a missing libhdf5 soname belongs to (.103 = 1.10.3-1.10.11, .200 = 1.12, .310 = 1.14, .320 = 2.x)."
            => non_empty(
                b.missing
                    .iter()
                    .filter_map(|m| m.series.as_ref().map(|s| format!("{}: {s}", m.name)))
                    .collect(),
            );
        "binary.mpi_families" ["MPI families"] in MpiFamily
            "The distinct MPI ABI families (openmpi, mpich, cray-mpich) of the MPI libraries in the closure."
            => {
                let mut fams: Vec<&str> = b.mpi_libraries.iter().filter_map(|m| Some(m.family?.as_str())).collect();
                fams.sort();
                fams.dedup();
                non_empty(fams)
            };
        "binary.mpi_libraries" ["MPI libraries"]
            "Every MPI library proper (exporting MPI_Init) in the closure, with its ABI family; two mean two MPIs in one process."
            => non_empty(b.mpi_libraries.iter().map(lib_line).collect());
        "binary.noexec" ["on a noexec mount"]
            "Objects of the closure on a file system mounted noexec: their code cannot be mapped (`failed to map segment from shared object`)."
            => non_empty(b.load_failures.iter().filter(|f| f.kind == LoadErrorKind::NoexecMount).map(|f| format!("{} (mounted noexec at {})", f.file, f.mount.as_deref().unwrap_or("?"))).collect());
        "binary.noexec_mount" ["noexec mount point"]
            "The mount point of the first object on a noexec file system."
            => b.load_failures.iter().filter(|f| f.kind == LoadErrorKind::NoexecMount).find_map(|f| f.mount.clone());
        "binary.objects" ["objects in closure"]
            "How many objects the closure holds, the binary included."
            => Some(b).filter(|b| b.error.is_none()).map(|b| &b.objects);
        "binary.origin" ["checked because"]
            "Why the binary is checked: --binary or h5doctor-probe."
            => Some(&b.origin);
        "binary.path" ["binary"]
            "The checked binary as given."
            => Some(&b.path);
        "binary.search_order" ["looked in"]
            "Every place the loader looks for the first missing library, in order, with the result of each."
            => b.missing.first().and_then(|m| non_empty(m.searched.clone()));
        "binary.undefined_symbols" ["undefined symbols"]
            "Undefined H5*/MPI_* symbols of the closure that no loaded object exports (in the version asked for)."
            => non_empty(
                b.undefined
                    .iter()
                    .map(|u| match &u.version {
                        Some(v) => format!("{}@{v} (needed by {})", u.symbol, u.needed_by),
                        None => format!("{} (needed by {})", u.symbol, u.needed_by),
                    })
                    .collect(),
            );
        "binary.unreadable" ["unreadable"]
            "Libraries that exist where the loader looks but that this user cannot read: the loader skips them and reports `cannot open shared object file`."
            => non_empty(b.load_failures.iter().filter(|f| f.kind == LoadErrorKind::Unreadable).map(|f| f.explanation.clone()).collect());
        "binary.unreadable_file" ["unreadable file"]
            "The first library file this user cannot read."
            => b.load_failures.iter().find(|f| f.kind == LoadErrorKind::Unreadable).map(|f| &f.file);
        "binary.versions_missing" ["versions missing"]
            "Symbol versions other than GLIBC_* that a library of the closure does not define (`version 'X' not found`)."
            => non_empty(
                b.missing_versions
                    .iter()
                    .filter(|m| !m.version.starts_with("GLIBC_"))
                    .map(|m| format!("{} (required by {}, not in {})", m.version, m.required_by, m.file_path))
                    .collect(),
            );
        "binary.versions_missing_hdf5_mpi" ["HDF5/MPI versions missing"]
            "Symbol versions an object needs that the HDF5 or MPI library loaded for it does not define."
            => non_empty(
                b.missing_versions
                    .iter()
                    .filter(|m| !m.version.starts_with("GLIBC_") && m.in_hdf5_or_mpi())
                    .map(|m| format!("{} (required by {}, not in {})", m.version, m.required_by, m.file_path))
                    .collect(),
            );
        "binary.versions_missing_other" ["versions missing"]
            "Symbol versions an object needs that a library other than glibc, HDF5 or MPI does not define (`version 'X' not found (required by ...)`)."
            => non_empty(
                b.missing_versions
                    .iter()
                    .filter(|m| !m.version.starts_with("GLIBC_") && !m.in_hdf5_or_mpi())
                    .map(|m| format!("{} (required by {}, not in {})", m.version, m.required_by, m.file_path))
                    .collect(),
            );
    }
}
