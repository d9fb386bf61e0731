//! The `mpi` group's gathering that h5doctor's library holds: what both the MPI probe binary
//! (`h5doctor-probe-mpio`, `probe/src/mpio.rs`, which runs MPI-IO on every rank) and the `mpio-test`
//! command (`src/mpio.rs`, which runs the probe or, under `--python`, an interpreter) read from a rank's
//! environment, and the facts document a run makes. The test itself needs MPI and a parallel HDF5, which
//! h5doctor does not link, so it stays in the probe crate.

use crate::facts::mpi::MpiFacts;
use crate::facts::Facts;
use std::collections::BTreeMap;

/// `check` never gathers the mpi group: only `h5doctor mpio-test` does, inside a launcher.
pub const PROBE: crate::probes::GroupProbe = crate::probes::GroupProbe {
    by_default: |_| false,
    run: crate::probes::Run::Elsewhere(
        "the mpi group runs inside a job, as `srun h5doctor mpio-test` or `mpirun -n N h5doctor mpio-test`",
    ),
    reads: &[],
};

/// The facts document of an mpio-test run: this node's host and environment facts and the `mpi` group.
pub fn facts_of_run(mpi: MpiFacts) -> Facts {
    let mut facts = Facts::new();
    facts.host = crate::probes::host::probe();
    facts.env = crate::probes::env::probe();
    facts.groups = vec![crate::groups::Group::Mpi];
    facts.mpi = mpi;
    facts
}

/// The variables among `names` that are set, with their values (the launcher's and the I/O layer's
/// environment, recorded in the facts by h5doctor, the MPI probe and the Python test alike).
pub fn env_map(names: &[&str]) -> BTreeMap<String, String> {
    names
        .iter()
        .filter_map(|k| std::env::var(k).ok().map(|v| (k.to_string(), v)))
        .collect()
}

/// This task's rank as its launcher numbered it, when a launcher did (to print one report only, even
/// when every process is a singleton "rank 0 of 1").
pub fn launcher_rank(env: &BTreeMap<String, String>) -> Option<u32> {
    let num = |k: &str| env.get(k).and_then(|v| v.parse().ok());
    num("OMPI_COMM_WORLD_RANK")
        .or_else(|| num("PMIX_RANK"))
        .or_else(|| num("PMI_RANK"))
        .or_else(|| num("SLURM_PROCID"))
}

/// Open MPI's job id, as its OMPIO `lockedfile` component writes it into the lock file's name
/// (`NAME-JOBID-PID.lock`), read from this process's environment: mpirun gives it
/// (OMPI_MCA_ess_base_jobid); under a direct launch (`srun --mpi=pmix`) Open MPI 4.x makes it the hash of
/// the PMIx namespace ([`ompi_jobid_of_namespace`]). `None` when neither is there, or when Open MPI's own
/// launcher started the process without giving the id (it then parses the namespace, not hashes it).
pub fn ompi_jobid(env: impl Fn(&str) -> Option<String>) -> Option<u32> {
    if let Some(jobid) = env("OMPI_MCA_ess_base_jobid") {
        return jobid.parse().ok();
    }
    if env("OMPI_MCA_orte_launch").is_some() {
        return None;
    }
    env("PMIX_NAMESPACE").filter(|n| !n.is_empty()).map(|n| ompi_jobid_of_namespace(&n))
}

/// Open MPI 4.x's job id for a namespace it did not make (a direct launch): `OPAL_HASH_JOBID`, Jenkins'
/// one-at-a-time hash of the namespace with bit 15 cleared (opal/mca/pmix's client init). Checked against
/// the lock file Open MPI 4.1.4 made under `srun --mpi=pmix` (namespace `slurm.pmix.1.0`: 916606297).
pub fn ompi_jobid_of_namespace(namespace: &str) -> u32 {
    let mut hash: u32 = 0;
    for b in namespace.bytes() {
        hash = hash.wrapping_add(u32::from(b));
        hash = hash.wrapping_add(hash << 10);
        hash ^= hash >> 6;
    }
    hash = hash.wrapping_add(hash << 3);
    hash ^= hash >> 11;
    hash = hash.wrapping_add(hash << 15);
    hash & !0x8000
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn open_mpi_job_ids_come_from_mpirun_or_from_the_pmix_namespace() {
        let env = |pairs: &'static [(&'static str, &'static str)]| {
            move |k: &str| pairs.iter().find(|(name, _)| *name == k).map(|(_, v)| v.to_string())
        };
        // Seen on Open MPI 4.1.4: srun --mpi=pmix job 1 step 0 made `NAME-916606297-PID.lock`.
        assert_eq!(ompi_jobid(env(&[("PMIX_NAMESPACE", "slurm.pmix.1.0")])), Some(916_606_297));
        assert_eq!(ompi_jobid_of_namespace("slurm.pmix.1.0"), 916_606_297);
        // Bit 15 is always clear.
        assert!((0..200).all(|j| ompi_jobid_of_namespace(&format!("slurm.pmix.{j}.0")) & 0x8000 == 0));
        // mpirun says it outright (and its namespace is not hashed).
        let mpirun = env(&[
            ("OMPI_MCA_ess_base_jobid", "1650262017"),
            ("OMPI_MCA_orte_launch", "1"),
            ("PMIX_NAMESPACE", "1650262017"),
        ]);
        assert_eq!(ompi_jobid(mpirun), Some(1_650_262_017));
        assert_eq!(ompi_jobid(env(&[("OMPI_MCA_orte_launch", "1"), ("PMIX_NAMESPACE", "x")])), None);
        assert_eq!(ompi_jobid(env(&[])), None);
    }
}
