//! Environment probe: the variables that change how HDF5, h5py and MPI behave, as the job would see them.

use crate::facts::{EnvFacts, LockingMode};
use std::collections::BTreeMap;

/// Variables recorded by name (besides every HDF5_* and H5PY_* one).
const NAMES: &[&str] = &[
    "LD_LIBRARY_PATH",
    "LD_PRELOAD",
    "PYTHONPATH",
    "PYTHONHOME",
    "PYTHONNOUSERSITE",
    "VIRTUAL_ENV",
    "CONDA_PREFIX",
    "LOADEDMODULES",
    "MODULEPATH",
    "CRAY_LD_LIBRARY_PATH",
    "SLURM_JOB_ID",
    "PBS_JOBID",
    "LSB_JOBID",
    "FLUX_JOB_ID",
    "SLURM_NTASKS",
    "SLURM_PROCID",
    "OMPI_COMM_WORLD_SIZE",
    "PMI_SIZE",
    "PMIX_RANK",
    "TMPDIR",
    "SCRATCH",
];

/// The batch job this process runs in, in words (`Slurm job 42`), from the variables the batch systems
/// set (Slurm, PBS/Torque, LSF, Flux); none outside a job.
pub fn batch_job() -> Option<String> {
    let vars: BTreeMap<String, String> = std::env::vars().filter(|(k, _)| NAMES.contains(&k.as_str())).collect();
    crate::facts::batch_job(&vars)
}

pub fn probe() -> EnvFacts {
    let value = std::env::var("HDF5_USE_FILE_LOCKING").ok();
    let vars: BTreeMap<String, String> = std::env::vars()
        .filter(|(k, _)| k.starts_with("HDF5_") || k.starts_with("H5PY_") || NAMES.contains(&k.as_str()))
        .collect();
    EnvFacts {
        hdf5_locking_mode: LockingMode::from_value(value.as_deref()),
        hdf5_use_file_locking: value,
        vars,
    }
}
