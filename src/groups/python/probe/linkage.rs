//! Which shared libraries an interpreter's extension modules load, decided by h5doctor's ld.so emulation
//! (`crate::elf`) with the job's LD_LIBRARY_PATH and LD_PRELOAD: a module is resolved as the interpreter
//! `dlopen`s it, after the interpreter's own closure and the preloads, so the module's DT_RPATH (a
//! wheel's `$ORIGIN/../h5py.libs`), the interpreter's DT_RPATH, LD_LIBRARY_PATH, DT_RUNPATH,
//! /etc/ld.so.cache, the default directories, `$LIB`/`$PLATFORM` and glibc-hwcaps all count, and a name
//! already loaded (a preloaded libhdf5 with the same soname) is reused, as in ld.so.

use crate::elf::libraries::{self, Kind};
use crate::elf::resolve::{EdgeResult, Node};
use crate::elf::{resolve, resolve_dlopen, FileCache, LoaderConfig, Resolution};
use crate::facts::python::SharedLib;
use std::collections::BTreeMap;
use std::path::Path;

/// The job's loader configuration and the files read so far (shared by every interpreter and module).
pub struct Linker {
    cfg: LoaderConfig,
    cache: FileCache,
}

/// One extension module and the closure it loads with.
pub struct Module {
    res: Resolution,
    at: usize,
}

/// Whether a name is the HDF5 C library itself (not `_hl`, `_cpp`, `_fortran`, ...).
pub fn is_libhdf5(name: &str) -> bool {
    libraries::classify(name) == Some(Kind::Hdf5)
}

/// Whether a name is an MPI library (Open MPI, MPICH and its ABI family, Cray MPICH).
pub fn is_mpi(name: &str) -> bool {
    libraries::classify(name) == Some(Kind::Mpi)
}

impl Linker {
    /// The loader of a job run with `env` (its LD_LIBRARY_PATH and LD_PRELOAD) on this node.
    pub fn new(env: &BTreeMap<String, String>) -> Self {
        Self {
            cfg: LoaderConfig::with_vars(env.get("LD_LIBRARY_PATH").cloned(), env.get("LD_PRELOAD").cloned()),
            cache: FileCache::new(),
        }
    }

    /// The extension module at `path` as `python` (the interpreter's executable, when known) imports it;
    /// without a usable interpreter, the module is resolved on its own. An error when it is unreadable.
    pub fn module(&self, python: Option<&Path>, path: &Path) -> Result<Module, String> {
        let module = path.to_string_lossy();
        if let Some(exe) = python.and_then(|p| std::fs::canonicalize(p).ok()) {
            // ld.so's `$ORIGIN` of the program is the real file (/proc/self/exe), not a venv's symlink.
            let res = resolve_dlopen(&exe.to_string_lossy(), &module, &self.cfg, &self.cache);
            if let Some(at) = res.dlopened.as_ref().and_then(|e| e.object()) {
                return Ok(Module { res, at });
            }
        }
        let res = resolve(&module, &self.cfg, &self.cache);
        match res.error.clone() {
            Some(e) => Err(e),
            None => Ok(Module { res, at: 0 }),
        }
    }

    /// Each libhdf5 preloaded (LD_PRELOAD, /etc/ld.so.preload) and what the loader makes of it, as for
    /// any program of the job (h5doctor's own executable stands in: it has no DT_RPATH or DT_RUNPATH).
    pub fn preloaded_hdf5(&self) -> Vec<SharedLib> {
        let preloads = self.cfg.preloads();
        if !preloads.iter().any(|(name, _)| is_libhdf5(name)) {
            return Vec::new();
        }
        let Ok(program) = std::env::current_exe() else { return Vec::new() };
        let res = resolve(&program.to_string_lossy(), &self.cfg, &self.cache);
        res.preloads
            .iter()
            .filter(|e| is_libhdf5(&e.name))
            .map(|e| shared_lib(&res, &e.name, &e.result, &self.cfg))
            .collect()
    }
}

impl Module {
    fn node(&self) -> &Node {
        &self.res.objects[self.at]
    }

    /// The file the loader opened for it.
    pub fn path(&self) -> &str {
        &self.node().path
    }

    /// How the loader found it (`crate::elf::How::tag`).
    pub fn found_by(&self) -> String {
        self.node().how.tag()
    }

    /// For an MPI library: its ABI family (`openmpi`, `mpich`, `mpiabi` for the MPI-5 standard ABI's
    /// libmpi_abi), by its exports, else by its soname. (MPICH 5's libmpi.so.12 exports
    /// MPI_Abi_get_version too, but reports ABI 0 there: only libmpi_abi is the standard ABI.)
    pub fn mpi_family(&self) -> &'static str {
        let node = self.node();
        let soname = node.soname.as_deref().unwrap_or(&node.name);
        if soname.starts_with("libmpi_abi.so") {
            return "mpiabi";
        }
        libraries::mpi_family(soname, node.file.symbols().ok().as_deref())
    }

    /// Why the loader refuses the module (or a library it brings), in its own words with h5doctor's
    /// account: a symbol version not met, code on a `noexec` mount, a library this user cannot read.
    pub fn load_errors(&self) -> Vec<String> {
        self.res.objects[self.at..]
            .iter()
            .flat_map(|n| &n.errors)
            .map(|e| format!("{} ({})", e.loader_says, e.explanation))
            .collect()
    }

    /// Everything that would make the loader refuse the module: `load_errors`, then each library of its
    /// closure that the loader would not find (`NAME: cannot open shared object file: ...`, as dlerror says).
    pub fn refusals(&self) -> Vec<String> {
        let ours: Vec<&str> = self.res.objects[self.at..].iter().map(|n| n.path.as_str()).collect();
        let mut out = self.load_errors();
        for m in self.res.missing().into_iter().filter(|m| ours.contains(&m.needed_by.as_str())) {
            out.push(match m.error {
                Some(e) => format!("{}: {e} (needed by {})", m.name, m.needed_by),
                None => format!(
                    "{}: cannot open shared object file: No such file or directory (needed by {}; not found where the loader looks)",
                    m.name, m.needed_by
                ),
            });
        }
        out
    }

    /// The module's DT_NEEDED, in order.
    pub fn needed(&self) -> &[String] {
        &self.node().file.elf.needed
    }

    /// What one of the module's DT_NEEDED resolves to, with the HDF5 release and flavour of a libhdf5.
    pub fn lib(&self, linker: &Linker, needed: &str) -> SharedLib {
        match self.node().needs.iter().find(|e| e.name == needed) {
            Some(edge) => shared_lib(&self.res, needed, &edge.result, &linker.cfg),
            None => SharedLib {
                needed: needed.to_string(),
                ..SharedLib::default()
            },
        }
    }
}

/// A resolved (or missing) library as the Python facts record it.
fn shared_lib(res: &Resolution, needed: &str, result: &EdgeResult, cfg: &LoaderConfig) -> SharedLib {
    let mut lib = SharedLib {
        needed: needed.to_string(),
        ..SharedLib::default()
    };
    let searched = match result {
        EdgeResult::Loaded { object } | EdgeResult::Reused { object } => {
            let node = &res.objects[*object];
            lib.path = Some(node.path.clone());
            lib.found_by = Some(node.how.tag());
            lib.mpi_needed = node.file.elf.needed.iter().filter(|n| is_mpi(n)).cloned().collect();
            if is_libhdf5(needed) {
                if let Ok(symbols) = node.file.symbols() {
                    lib.hdf5_version = symbols.hdf5_version.clone();
                    lib.hdf5_parallel = Some(libraries::hdf5_flavour(&symbols).is_parallel());
                }
            }
            return lib;
        }
        EdgeResult::Missing { searched } => searched,
        EdgeResult::Failed { error, searched, .. } => {
            lib.looked_in.push(error.clone());
            searched
        }
    };
    // The directories tried, in order, and the cache when it was asked.
    let cache = cfg.cache_path.display().to_string();
    for a in searched {
        let place = match &a.path {
            Some(p) => p.rsplit_once('/').map_or(p.as_str(), |(dir, _)| dir).to_string(),
            None if a.source == cache => cache.clone(),
            None => continue,
        };
        if !lib.looked_in.contains(&place) {
            lib.looked_in.push(place);
        }
    }
    lib
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hdf5_and_mpi_names() {
        for yes in [
            "libhdf5.so.310",
            "libhdf5_serial.so.103",
            "libhdf5_openmpi.so.103",
            "libhdf5-9e18f0c6.so.320.0.0",
        ] {
            assert!(is_libhdf5(yes), "{yes}");
        }
        for no in [
            "libhdf5_hl.so.310",
            "libhdf5_serial_hl.so.100",
            "libhdf5_hl-69da89c9.so.320.0.0",
            "libhdf5_cpp.so.103",
            "libhdf5_fortran.so.102",
            "libz.so.1",
        ] {
            assert!(!is_libhdf5(no), "{no}");
        }
        assert!(is_mpi("libmpi.so.40") && is_mpi("libmpich.so.12") && is_mpi("libmpi_gnu_123.so.12"));
        assert!(!is_mpi("libmpfr.so.6") && !is_mpi("libm.so.6"));
    }

    #[test]
    fn a_module_is_resolved_as_the_interpreter_dlopens_it() {
        let linker = Linker::new(&BTreeMap::new());
        let lib = Path::new("/usr/lib/x86_64-linux-gnu/libhdf5_serial.so.103");
        let module = linker.module(Some(Path::new("/usr/bin/python3")), lib).unwrap();
        assert!(module.at > 0, "loaded after the interpreter's closure");
        let libc = module.lib(&linker, "libc.so.6");
        assert_eq!(libc.found_by.as_deref(), Some("ld.so.cache"), "{libc:?}");
        assert!(module.needed().iter().any(|n| n.starts_with("libz.so")));
        let missing = linker.module(None, Path::new("/nonexistent/module.so")).err().unwrap();
        assert!(missing.contains("no such file"), "{missing}");
    }
}
