//! mpi4py as found on disk: its version and the MPI library its `MPI` extension links (resolved), plus the
//! `mpicc` its `mpi.cfg` records. mpi4py >= 4.1.1 wheels choose their MPI at import time (dlopen), which
//! no static reading can see; their list of linked MPI libraries is then empty.

use super::linkage::{self, Linker};
use super::site_scan::{assigned_string, dist_version};
use crate::facts::python::{Mpi4pyStatic, PackageLocation};
use std::path::Path;

/// Reads mpi4py's facts at `location`.
/// `python` is the interpreter's executable, which loads the `MPI` extension.
pub fn scan(mut location: PackageLocation, ext_suffix: Option<&str>, linker: &Linker, python: Option<&Path>) -> Mpi4pyStatic {
    let pkg = Path::new(&location.dir).to_path_buf();
    let from_init = std::fs::read_to_string(pkg.join("__init__.py"))
        .ok()
        .and_then(|t| assigned_string(&t, &["__version__"]))
        .map(|v| (v, "__init__.py"));
    if let Some((v, from)) = from_init.or_else(|| dist_version(Path::new(&location.entry), "mpi4py")) {
        location.version = Some(v);
        location.version_from = Some(from.into());
    }
    let mut mpi_libraries = Vec::new();
    let mut entries: Vec<_> = std::fs::read_dir(&pkg)
        .into_iter()
        .flatten()
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .filter(|p| {
            p.file_name().and_then(|n| n.to_str()).is_some_and(|n| {
                n.starts_with("MPI.") && n.ends_with(".so") && ext_suffix.is_none_or(|s| n.ends_with(s) || n.ends_with(".abi3.so"))
            })
        })
        .collect();
    entries.sort();
    for path in entries {
        let Ok(module) = linker.module(python, &path) else { continue };
        for needed in module.needed().iter().filter(|n| linkage::is_mpi(n)) {
            if !mpi_libraries.iter().any(|l: &crate::facts::python::SharedLib| &l.needed == needed) {
                mpi_libraries.push(module.lib(linker, needed));
            }
        }
    }
    let mpicc = std::fs::read_to_string(pkg.join("mpi.cfg")).ok().and_then(|t| {
        assigned_string(&t, &["mpicc"]).or_else(|| {
            t.lines()
                .find_map(|l| l.trim().strip_prefix("mpicc"))
                .map(|r| r.trim_start_matches([' ', '=']).trim().to_string())
        })
    });
    Mpi4pyStatic {
        location,
        mpi_libraries,
        mpicc,
    }
}
