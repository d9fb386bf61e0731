//! Facts named `env.*`: environment variables as HDF5 and the dynamic loader read them.

use super::{FactDef, Scope};
use serde_json::json;

pub static FACTS: &[FactDef] = &[
    FactDef {
        name: "env.HDF5_PLUGIN_PATH",
        scope: Scope::Global,
        label: "HDF5_PLUGIN_PATH",
        doc: "The raw value of HDF5_PLUGIN_PATH; unknown when unset.",
        read: |f, _| f.plugins.hdf5_plugin_path.as_ref().map(|v| json!(v)),
    },
    FactDef {
        name: "env.hdf5_plugin_path_usable",
        scope: Scope::Global,
        label: "HDF5_PLUGIN_PATH without the broken directories",
        doc: "HDF5_PLUGIN_PATH with the directories that do not exist or cannot be read left out (empty when none is left); unknown when unset.",
        read: |f, _| {
            f.plugins.hdf5_plugin_path.as_ref()?;
            let usable: Vec<&str> = f
                .plugins
                .dirs
                .iter()
                .filter(|d| d.source == crate::facts::SOURCE_ENV && d.exists && d.is_dir && d.readable)
                .map(|d| d.path.as_str())
                .collect();
            Some(json!(usable.join(":")))
        },
    },
    FactDef {
        name: "env.HDF5_USE_FILE_LOCKING",
        scope: Scope::Global,
        label: "HDF5_USE_FILE_LOCKING",
        doc: "The raw value of HDF5_USE_FILE_LOCKING; unknown when unset.",
        read: |f, _| f.env.hdf5_use_file_locking.as_ref().map(|v| json!(v)),
    },
    FactDef {
        name: "env.hdf5_locking_mode",
        scope: Scope::Global,
        label: "locking setting",
        doc: "How HDF5 >= 1.10.7 reads HDF5_USE_FILE_LOCKING: unset, disabled (FALSE/0), enabled (TRUE/1), \
              best-effort (BEST_EFFORT) or ignored (any other spelling, such as false or no).",
        read: |f, _| Some(json!(f.env.hdf5_locking_mode.as_str())),
    },
    FactDef {
        name: "env.LD_LIBRARY_PATH",
        scope: Scope::Global,
        label: "LD_LIBRARY_PATH",
        doc: "LD_LIBRARY_PATH as the job sees it; unknown when unset.",
        read: |f, _| f.env.vars.get("LD_LIBRARY_PATH").map(|v| json!(v)),
    },
    FactDef {
        name: "env.LD_PRELOAD",
        scope: Scope::Global,
        label: "LD_PRELOAD",
        doc: "LD_PRELOAD as the job sees it; unknown when unset.",
        read: |f, _| f.env.vars.get("LD_PRELOAD").map(|v| json!(v)),
    },
    FactDef {
        name: "env.job_ranks",
        scope: Scope::Global,
        label: "job ranks",
        doc: "How many processes the job runs, from SLURM_NTASKS, OMPI_COMM_WORLD_SIZE or PMI_SIZE (the largest); \
              unknown outside a parallel job.",
        read: |f, _| {
            ["SLURM_NTASKS", "OMPI_COMM_WORLD_SIZE", "PMI_SIZE"]
                .iter()
                .filter_map(|v| f.env.vars.get(*v)?.trim().parse::<u64>().ok())
                .max()
                .map(|n| json!(n))
        },
    },
];
