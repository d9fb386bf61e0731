//! Facts named `env.*`: environment variables as HDF5 and the dynamic loader read them.

use crate::facts::values::PluginDirSource;
use crate::facts::LockingMode;
use serde_json::json;

facts! {
    Global(f) {
        "env.HDF5_PLUGIN_PATH" ["HDF5_PLUGIN_PATH"]
            "The raw value of HDF5_PLUGIN_PATH; unknown when unset."
            => f.plugins.hdf5_plugin_path.as_ref();
        "env.hdf5_plugin_path_usable" ["HDF5_PLUGIN_PATH without the broken directories"]
            "HDF5_PLUGIN_PATH with the directories that do not exist or cannot be read left out (empty when none is left); unknown when unset."
            => {
                f.plugins.hdf5_plugin_path.as_ref()?;
                let usable: Vec<&str> = f
                    .plugins
                    .dirs
                    .iter()
                    .filter(|d| d.source == PluginDirSource::Env && d.exists && d.is_dir && d.readable)
                    .map(|d| d.path.as_str())
                    .collect();
                Some(json!(usable.join(":")))
            };
        "env.HDF5_USE_FILE_LOCKING" ["HDF5_USE_FILE_LOCKING"]
            "The raw value of HDF5_USE_FILE_LOCKING; unknown when unset."
            => f.env.hdf5_use_file_locking.as_ref();
        "env.hdf5_locking_mode" ["locking setting"] in LockingMode
            "How HDF5 >= 1.10.7 reads HDF5_USE_FILE_LOCKING: unset, disabled (FALSE/0), enabled (TRUE/1), \
            best-effort (BEST_EFFORT) or ignored (any other spelling, such as false or no)."
            => Some(&f.env.hdf5_locking_mode.as_str());
        "env.LD_LIBRARY_PATH" ["LD_LIBRARY_PATH"]
            "LD_LIBRARY_PATH as the job sees it; unknown when unset."
            => f.env.vars.get("LD_LIBRARY_PATH");
        "env.LD_PRELOAD" ["LD_PRELOAD"]
            "LD_PRELOAD as the job sees it; unknown when unset."
            => f.env.vars.get("LD_PRELOAD");
        "env.job_ranks" ["job ranks"]
            "How many processes the job runs, from SLURM_NTASKS, OMPI_COMM_WORLD_SIZE or PMI_SIZE (the largest); \
            unknown outside a parallel job."
            => ["SLURM_NTASKS", "OMPI_COMM_WORLD_SIZE", "PMI_SIZE"]
                .iter()
                .filter_map(|v| f.env.vars.get(*v)?.trim().parse::<u64>().ok())
                .max();
    }
}
