//! A private Slurm for the tests (testsupport/slurm.sh: munged, slurmctld and slurmd without systemd,
//! config, state and logs under a prefix, ports of its own): started once per test binary by the first
//! test that needs it, stopped by PID when the binary exits, and `srun` against it with the test's
//! environment under control. If it cannot start, the tests that need it fail with the daemons' logs.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Mutex;

/// A running Slurm of this test binary.
#[derive(Debug)]
pub struct Slurm {
    /// Config, state, sockets and logs live below it; removed when the binary exits.
    pub prefix: PathBuf,
    /// `PREFIX/etc/slurm.conf`, for SLURM_CONF.
    pub conf: PathBuf,
}

/// The prefixes started by this test binary, stopped by [`stop_all`] at exit.
static STARTED: Mutex<Vec<PathBuf>> = Mutex::new(Vec::new());

fn script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("testsupport/slurm.sh")
}

fn down(prefix: &Path) {
    let _ = Command::new(script()).arg("down").arg(prefix).status();
}

extern "C" fn stop_all() {
    let prefixes = STARTED.lock().map(|p| p.clone()).unwrap_or_default();
    for prefix in prefixes {
        down(&prefix);
        let _ = std::fs::remove_dir_all(&prefix);
    }
}

/// Starts a Slurm under `prefix` (created by the caller, removed at exit): one node with this host's name
/// when `nodes` is `None`, else `nodes` emulated nodes nid001.. each in its own UTS and mount namespace
/// (`prefix` must then be outside /tmp). `env` passes SLURM_SH_EXTRA_CONF / SLURM_SH_NODE_SETUP.
pub fn up(prefix: PathBuf, nodes: Option<usize>, env: &[(&str, String)]) -> Result<Slurm, String> {
    let mut cmd = Command::new(script());
    cmd.arg("up").arg(&prefix);
    if let Some(n) = nodes {
        cmd.arg(n.to_string());
    }
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().expect("testsupport/slurm.sh runs");
    {
        let mut started = STARTED.lock().unwrap();
        if started.is_empty() {
            // SAFETY: registering a plain extern "C" function to run at process exit.
            unsafe { libc::atexit(stop_all) };
        }
        started.push(prefix.clone());
    }
    if !out.status.success() {
        down(&prefix);
        let what = nodes.map_or("one-node Slurm".to_string(), |n| format!("{n}-node Slurm"));
        return Err(format!(
            "{what} did not start (testsupport/slurm.sh up {}{}):\n{}{}",
            prefix.display(),
            nodes.map(|n| format!(" {n}")).unwrap_or_default(),
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    let conf = prefix.join("etc/slurm.conf");
    Ok(Slurm { prefix, conf })
}

impl Slurm {
    /// `timeout -k 5 120 srun` against this Slurm, without the variables of the developer's shell that
    /// change what srun, MPI or h5doctor do; the caller adds srun's arguments.
    pub fn srun(&self) -> Command {
        self.srun_within(120)
    }

    /// [`Slurm::srun`] killed after `seconds` instead of 120.
    pub fn srun_within(&self, seconds: u32) -> Command {
        let mut cmd = Command::new("timeout");
        cmd.args(["-k", "5", &seconds.to_string(), "srun"]).env("SLURM_CONF", &self.conf);
        // Every job gets Open MPI session directories of its own (created by Open MPI on each node's /tmp):
        // tests run jobs on the same nodes at once, and one job's finalize removing the shared
        // /tmp/ompi.NODE.UID tree while another job sets up its shared memory made that job fail with
        // "A system call failed during shared memory initialization ... open(2) ... errno 2" (seen once).
        static JOBS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let job = JOBS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        cmd.env("OMPI_MCA_orte_tmpdir_base", format!("/tmp/ompi-test-{}-{job}", std::process::id()));
        for var in [
            "SLURM_MPI_TYPE",
            "OMPI_MCA_io",
            "ROMIO_HINTS",
            "H5DOCTOR_RULES_PATH",
            "H5DOCTOR_PROBE_MPIO",
            "HDF5_USE_FILE_LOCKING",
        ] {
            cmd.env_remove(var);
        }
        cmd
    }
}
