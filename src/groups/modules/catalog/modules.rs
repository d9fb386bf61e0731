//! Facts named `modules.*`: the module system, the loaded modules and what they provide, and the module
//! of THIS site that provides a capability (the site's pin, else the best match of the module index).

use crate::facts::catalog::facts;
use crate::facts::catalog::non_empty;
use crate::facts::modules::ModulesFacts;
use crate::facts::values::{Capability, ModuleMpiFamily, ModuleSystem};
use crate::facts::{Facts, ProbeStatus};
use serde_json::{json, Value};

/// The modules group ran and found a module system.
fn probed(f: &Facts) -> Option<&ModulesFacts> {
    let m = &f.modules;
    (m.status != ProbeStatus::NotRun && m.system.is_present()).then_some(m)
}

fn loaded_with(f: &Facts, cap: Capability) -> Option<Value> {
    non_empty(probed(f)?.loaded_with(cap).iter().map(|m| m.full_name.clone()).collect())
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
    non_empty(
        cray.split(':')
            .filter(|d| !d.is_empty() && !ld.contains(d))
            .map(str::to_string)
            .collect(),
    )
}

facts! {
    Global(f) {
        "modules.system" ["module system"] in ModuleSystem
            "lmod, environment-modules, unknown (module variables without a known tool) or none."
            => (f.modules.status != ProbeStatus::NotRun).then(|| json!(f.modules.system));
        "modules.loaded" ["loaded modules"]
            "The loaded modules (name/version) in load order, from Lmod's _ModuleTable_ or LOADEDMODULES."
            => non_empty(probed(f)?.loaded.iter().map(|m| m.full_name.clone()).collect());
        "modules.loaded_names" ["loaded module names"]
            "The names (without version) of the loaded modules."
            => non_empty(probed(f)?.loaded.iter().map(|m| m.name.clone()).collect());
        "modules.loaded_hdf5" ["loaded HDF5 modules"]
            "Loaded modules that provide an HDF5 library (serial or parallel)."
            => {
                let m = probed(f)?;
                non_empty(m.loaded_hdf5().iter().map(|l| l.full_name.clone()).collect())
            };
        "modules.loaded_hdf5_serial" ["loaded serial HDF5"]
            "The first loaded module whose HDF5 is serial (no MPI-IO), as name/version."
            => probed(f)?.loaded_with(Capability::Hdf5Serial).first().map(|m| &m.full_name);
        "modules.loaded_hdf5_serial_name" ["loaded serial HDF5 module"]
            "The name (without version) of the first loaded module whose HDF5 is serial: what `module swap` takes."
            => probed(f)?.loaded_with(Capability::Hdf5Serial).first().map(|m| &m.name);
        "modules.loaded_hdf5_libraries" ["their HDF5 libraries"]
            "For each loaded HDF5 module, the libhdf5 in the directories it adds as h5doctor read it (soname, release, \
            serial/parallel), or `by name` when no library could be read."
            => {
                let m = probed(f)?;
                non_empty(
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
                            let kind = if i.provides(Capability::Hdf5Parallel) {
                                "parallel"
                            } else if i.provides(Capability::Hdf5Serial) {
                                "serial"
                            } else {
                                return None;
                            };
                            Some(format!("{}: {kind} by name (no library read)", l.full_name))
                        })
                        .collect(),
                )
            };
        "modules.loaded_hdf5_parallel" ["loaded parallel HDF5"]
            "Loaded modules whose HDF5 is parallel (MPI-IO)."
            => loaded_with(f, Capability::Hdf5Parallel);
        "modules.loaded_hdf5_winner" ["HDF5 module that wins"]
            "Of the loaded HDF5 modules, the one loaded last: its lib dir comes first in LD_LIBRARY_PATH."
            => {
                let m = probed(f)?;
                m.loaded_hdf5().last().map(|l| json!(l.full_name))
            };
        "modules.loaded_hdf5_shadowed" ["HDF5 modules shadowed"]
            "Loaded HDF5 modules other than the one loaded last (their library loses in LD_LIBRARY_PATH)."
            => {
                let m = probed(f)?;
                let mut all: Vec<String> = m.loaded_hdf5().iter().map(|l| l.full_name.clone()).collect();
                all.pop();
                (!all.is_empty()).then(|| json!(all.join(" ")))
            };
        "modules.loaded_hdf5_carrier" ["module carrying its own libhdf5"]
            "Loaded modules that are not HDF5 modules by name but whose library directories hold a libhdf5 (an I/O \
            profiler such as Darshan, a bundle), when an HDF5 module by name is loaded too: the one to unload, \
            whichever comes first in LD_LIBRARY_PATH."
            => {
                let m = probed(f)?;
                let loaded = m.loaded_hdf5();
                let by_name = |l: &&crate::facts::modules::LoadedModule| l.name.to_ascii_lowercase().contains("hdf5");
                if !loaded.iter().any(by_name) {
                    return None;
                }
                let carriers: Vec<String> = loaded
                    .iter()
                    .filter(|l| !by_name(l) && l.info.as_ref().is_some_and(|i| i.hdf5.is_some()))
                    .map(|l| l.name.clone())
                    .collect();
                (!carriers.is_empty()).then(|| json!(carriers.join(" ")))
            };
        "modules.loaded_mpi" ["loaded MPI modules"]
            "Loaded modules that provide an MPI library."
            => loaded_with(f, Capability::Mpi);
        "modules.parallel_context" ["parallel environment"]
            "Why this environment is a parallel one: the loaded MPI modules, and SLURM_NTASKS, OMPI_COMM_WORLD_SIZE or \
            PMI_SIZE above 1; unknown when nothing says so."
            => {
                let m = probed(f)?;
                let mut why: Vec<String> = m.loaded_with(Capability::Mpi).iter().map(|l| format!("MPI module {}", l.full_name)).collect();
                for var in ["SLURM_NTASKS", "OMPI_COMM_WORLD_SIZE", "PMI_SIZE"] {
                    if let Some(v) = f.env.vars.get(var).filter(|v| v.trim().parse::<u64>().is_ok_and(|n| n > 1)) {
                        why.push(format!("{var}={v}"));
                    }
                }
                non_empty(why)
            };
        "modules.loaded_mpi_family" ["loaded MPI family"] in ModuleMpiFamily
            "The MPI family of the loaded MPI module (openmpi, mpich, ...)."
            => probed(f)?.loaded_mpi_family();
        "modules.loaded_h5py_parallel" ["loaded parallel h5py"]
            "Loaded modules that provide h5py built with MPI."
            => loaded_with(f, Capability::H5pyParallel);
        "modules.families" ["Lmod families"]
            "Lmod families as family=module (LMOD_FAMILY_*, _ModuleTable_)."
            => non_empty(probed(f)?.families.iter().map(|(k, v)| format!("{k}={v}")).collect());
        "modules.modulepath" ["MODULEPATH"]
            "The MODULEPATH directories, in order."
            => non_empty(probed(f)?.modulepath.clone());
        "modules.index_count" ["modules in the index"]
            "How many modulefiles the module index holds (every tree of MODULEPATH, read statically)."
            => probed(f).map(|m| json!(m.index.modules.len()));
        "modules.hdf5_parallel_module" ["parallel HDF5 module of this site"]
            "The module of this site that provides a parallel HDF5: the site pin (`[modules] hdf5-parallel`), \
            else the index's best match (same MPI family and HDF5 release as loaded, then the newest)."
            => probed(f)?.provider(Capability::Hdf5Parallel);
        "modules.hdf5_serial_module" ["serial HDF5 module of this site"]
            "The module of this site that provides a serial HDF5 (site pin `hdf5-serial`, else the index)."
            => probed(f)?.provider(Capability::Hdf5Serial);
        "modules.mpi_module" ["MPI module of this site"]
            "The module of this site that provides MPI (site pin `mpi`, else the index)."
            => probed(f)?.provider(Capability::Mpi);
        "modules.h5py_parallel_module" ["parallel h5py module of this site"]
            "The module of this site that provides h5py built with MPI (site pin `h5py-parallel`, else the index)."
            => probed(f)?.provider(Capability::H5pyParallel);
        "modules.cray_ld_library_path" ["CRAY_LD_LIBRARY_PATH"]
            "CRAY_LD_LIBRARY_PATH as the job sees it (Cray PE modules add their lib dirs here); unknown when unset."
            => f.env.vars.get("CRAY_LD_LIBRARY_PATH");
        "modules.cray_ld_library_path_missing" ["Cray lib dirs not in LD_LIBRARY_PATH"]
            "The directories of CRAY_LD_LIBRARY_PATH that LD_LIBRARY_PATH lacks (the loader then falls back to the \
            site-default libraries of /opt/cray/pe/lib64); unknown when none."
            => cray_missing(f);
    }
}
