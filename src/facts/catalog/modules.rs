//! Facts named `modules.*`: the module system, the loaded modules and what they provide, and the module
//! of THIS site that provides a capability (the site's pin, else the best match of the module index).

use super::{FactDef, Scope};
use crate::facts::modules::ModulesFacts;
use crate::facts::{Facts, ProbeStatus};
use serde_json::{json, Value};

/// A list fact: unknown when empty.
fn list(items: Vec<String>) -> Option<Value> {
    (!items.is_empty()).then(|| json!(items))
}

/// The modules group ran and found a module system.
fn probed(f: &Facts) -> Option<&ModulesFacts> {
    let m = &f.modules;
    (m.status != ProbeStatus::NotRun && m.system != "none" && !m.system.is_empty()).then_some(m)
}

fn loaded_with(f: &Facts, cap: &str) -> Option<Value> {
    list(probed(f)?.loaded_with(cap).iter().map(|m| m.full_name.clone()).collect())
}

/// The dirs of CRAY_LD_LIBRARY_PATH that LD_LIBRARY_PATH lacks.
fn cray_missing(f: &Facts) -> Option<Value> {
    let cray = f.env.vars.get("CRAY_LD_LIBRARY_PATH")?;
    let ld: Vec<&str> = f
        .env
        .vars
        .get("LD_LIBRARY_PATH")
        .map(|v| v.split(':').collect())
        .unwrap_or_default();
    list(
        cray.split(':')
            .filter(|d| !d.is_empty() && !ld.contains(d))
            .map(str::to_string)
            .collect(),
    )
}

pub static FACTS: &[FactDef] = &[
    FactDef {
        name: "modules.system",
        scope: Scope::Global,
        label: "module system",
        doc: "lmod, environment-modules, unknown (module variables without a known tool) or none.",
        read: |f, _| (f.modules.status != ProbeStatus::NotRun).then(|| json!(f.modules.system)),
    },
    FactDef {
        name: "modules.loaded",
        scope: Scope::Global,
        label: "loaded modules",
        doc: "The loaded modules (name/version) in load order, from Lmod's _ModuleTable_ or LOADEDMODULES.",
        read: |f, _| list(probed(f)?.loaded.iter().map(|m| m.full_name.clone()).collect()),
    },
    FactDef {
        name: "modules.loaded_names",
        scope: Scope::Global,
        label: "loaded module names",
        doc: "The names (without version) of the loaded modules.",
        read: |f, _| list(probed(f)?.loaded.iter().map(|m| m.name.clone()).collect()),
    },
    FactDef {
        name: "modules.loaded_hdf5",
        scope: Scope::Global,
        label: "loaded HDF5 modules",
        doc: "Loaded modules that provide an HDF5 library (serial or parallel).",
        read: |f, _| {
            let m = probed(f)?;
            list(m.loaded_hdf5().iter().map(|l| l.full_name.clone()).collect())
        },
    },
    FactDef {
        name: "modules.loaded_hdf5_serial",
        scope: Scope::Global,
        label: "loaded serial HDF5",
        doc: "The first loaded module whose HDF5 is serial (no MPI-IO), as name/version.",
        read: |f, _| probed(f)?.loaded_with("hdf5-serial").first().map(|m| json!(m.full_name)),
    },
    FactDef {
        name: "modules.loaded_hdf5_serial_name",
        scope: Scope::Global,
        label: "loaded serial HDF5 module",
        doc: "The name (without version) of the first loaded module whose HDF5 is serial: what `module swap` takes.",
        read: |f, _| probed(f)?.loaded_with("hdf5-serial").first().map(|m| json!(m.name)),
    },
    FactDef {
        name: "modules.loaded_hdf5_libraries",
        scope: Scope::Global,
        label: "their HDF5 libraries",
        doc: "For each loaded HDF5 module, the libhdf5 in the directories it adds as h5doctor read it (soname, release, \
              serial/parallel), or `by name` when no library could be read.",
        read: |f, _| {
            let m = probed(f)?;
            list(
                m.loaded
                    .iter()
                    .filter_map(|l| {
                        let i = l.info.as_ref()?;
                        if let Some(h) = &i.hdf5 {
                            let kind = if h.parallel { "parallel" } else { "serial" };
                            let soname = h.soname.clone().unwrap_or_else(|| h.path.clone());
                            let version = h.version.clone().unwrap_or_else(|| "?".into());
                            return Some(format!("{}: {soname} HDF5 {version} {kind} ({})", l.full_name, h.path));
                        }
                        let kind = if i.provides("hdf5-parallel") {
                            "parallel"
                        } else if i.provides("hdf5-serial") {
                            "serial"
                        } else {
                            return None;
                        };
                        Some(format!("{}: {kind} by name (no library read)", l.full_name))
                    })
                    .collect(),
            )
        },
    },
    FactDef {
        name: "modules.loaded_hdf5_parallel",
        scope: Scope::Global,
        label: "loaded parallel HDF5",
        doc: "Loaded modules whose HDF5 is parallel (MPI-IO).",
        read: |f, _| loaded_with(f, "hdf5-parallel"),
    },
    FactDef {
        name: "modules.loaded_hdf5_winner",
        scope: Scope::Global,
        label: "HDF5 module that wins",
        doc: "Of the loaded HDF5 modules, the one loaded last: its lib dir comes first in LD_LIBRARY_PATH.",
        read: |f, _| {
            let m = probed(f)?;
            m.loaded_hdf5().last().map(|l| json!(l.full_name))
        },
    },
    FactDef {
        name: "modules.loaded_hdf5_shadowed",
        scope: Scope::Global,
        label: "HDF5 modules shadowed",
        doc: "Loaded HDF5 modules other than the one loaded last (their library loses in LD_LIBRARY_PATH).",
        read: |f, _| {
            let m = probed(f)?;
            let mut all: Vec<String> = m.loaded_hdf5().iter().map(|l| l.full_name.clone()).collect();
            all.pop();
            (!all.is_empty()).then(|| json!(all.join(" ")))
        },
    },
    FactDef {
        name: "modules.loaded_mpi",
        scope: Scope::Global,
        label: "loaded MPI modules",
        doc: "Loaded modules that provide an MPI library.",
        read: |f, _| loaded_with(f, "mpi"),
    },
    FactDef {
        name: "modules.parallel_context",
        scope: Scope::Global,
        label: "parallel environment",
        doc: "Why this environment is a parallel one: the loaded MPI modules, and SLURM_NTASKS, OMPI_COMM_WORLD_SIZE or \
              PMI_SIZE above 1; unknown when nothing says so.",
        read: |f, _| {
            let m = probed(f)?;
            let mut why: Vec<String> = m.loaded_with("mpi").iter().map(|l| format!("MPI module {}", l.full_name)).collect();
            for var in ["SLURM_NTASKS", "OMPI_COMM_WORLD_SIZE", "PMI_SIZE"] {
                if let Some(v) = f.env.vars.get(var).filter(|v| v.trim().parse::<u64>().is_ok_and(|n| n > 1)) {
                    why.push(format!("{var}={v}"));
                }
            }
            list(why)
        },
    },
    FactDef {
        name: "modules.loaded_mpi_family",
        scope: Scope::Global,
        label: "loaded MPI family",
        doc: "The MPI family of the loaded MPI module (openmpi, mpich, ...).",
        read: |f, _| probed(f)?.loaded_mpi_family().map(|v| json!(v)),
    },
    FactDef {
        name: "modules.loaded_h5py_parallel",
        scope: Scope::Global,
        label: "loaded parallel h5py",
        doc: "Loaded modules that provide h5py built with MPI.",
        read: |f, _| loaded_with(f, "h5py-parallel"),
    },
    FactDef {
        name: "modules.families",
        scope: Scope::Global,
        label: "Lmod families",
        doc: "Lmod families as family=module (LMOD_FAMILY_*, _ModuleTable_).",
        read: |f, _| list(probed(f)?.families.iter().map(|(k, v)| format!("{k}={v}")).collect()),
    },
    FactDef {
        name: "modules.modulepath",
        scope: Scope::Global,
        label: "MODULEPATH",
        doc: "The MODULEPATH directories.",
        read: |f, _| list(probed(f)?.modulepath.clone()),
    },
    FactDef {
        name: "modules.index_count",
        scope: Scope::Global,
        label: "modules in the index",
        doc: "How many modulefiles the module index holds (every tree of MODULEPATH, read statically).",
        read: |f, _| probed(f).map(|m| json!(m.index.modules.len())),
    },
    FactDef {
        name: "modules.hdf5_parallel_module",
        scope: Scope::Global,
        label: "parallel HDF5 module of this site",
        doc: "The module of this site that provides a parallel HDF5: the site pin (`[modules] hdf5-parallel`), \
              else the index's best match (same MPI family and HDF5 release as loaded, then the newest).",
        read: |f, _| probed(f)?.provider("hdf5-parallel").map(|v| json!(v)),
    },
    FactDef {
        name: "modules.hdf5_serial_module",
        scope: Scope::Global,
        label: "serial HDF5 module of this site",
        doc: "The module of this site that provides a serial HDF5 (site pin `hdf5-serial`, else the index).",
        read: |f, _| probed(f)?.provider("hdf5-serial").map(|v| json!(v)),
    },
    FactDef {
        name: "modules.mpi_module",
        scope: Scope::Global,
        label: "MPI module of this site",
        doc: "The module of this site that provides MPI (site pin `mpi`, else the index).",
        read: |f, _| probed(f)?.provider("mpi").map(|v| json!(v)),
    },
    FactDef {
        name: "modules.h5py_parallel_module",
        scope: Scope::Global,
        label: "parallel h5py module of this site",
        doc: "The module of this site that provides h5py built with MPI (site pin `h5py-parallel`, else the index).",
        read: |f, _| probed(f)?.provider("h5py-parallel").map(|v| json!(v)),
    },
    FactDef {
        name: "modules.cray_ld_library_path",
        scope: Scope::Global,
        label: "CRAY_LD_LIBRARY_PATH",
        doc: "CRAY_LD_LIBRARY_PATH as the job sees it (Cray PE modules add their lib dirs here); unknown when unset.",
        read: |f, _| f.env.vars.get("CRAY_LD_LIBRARY_PATH").map(|v| json!(v)),
    },
    FactDef {
        name: "modules.cray_ld_library_path_missing",
        scope: Scope::Global,
        label: "Cray lib dirs not in LD_LIBRARY_PATH",
        doc: "The directories of CRAY_LD_LIBRARY_PATH that LD_LIBRARY_PATH lacks (the loader then falls back to the \
              site-default libraries of /opt/cray/pe/lib64); unknown when none.",
        read: |f, _| cray_missing(f),
    },
];
