//! `srun h5doctor mpio-test` on a real one-node Slurm (munged, slurmctld, slurmd started without systemd
//! by testsupport/slurm.sh, with config, state and logs in a temp dir). The cluster is started once for
//! this test binary, by the first test that needs it, and stopped by PID when the binary exits. If it
//! cannot start, every test here fails with the daemons' logs: nothing is skipped.
//!
//! The research matrix (feasibility-slurm-modules.md §1): Debian's Open MPI works with `--mpi=pmix` and
//! aborts in MPI_Init with `--mpi=none` or `pmi2` ("OMPI was not built with SLURM's PMI support"); the
//! silent "rank 0 of 1" case under srun is MPICH's, tested here through mpirun.mpich (tests/mpio.rs).
//!
//! A second one-node Slurm, started with [`common::late_pmix_handshake_library`] preloaded into its
//! daemons, holds slurmstepd's PMIx handshake reply to a step's first rank: a rank that ends there (the
//! watchdog, a cancelled step, an interpreter killed at the timeout) left slurmstepd hung for good in its
//! PMIx finalize after srun had returned. Its tests run one at a time (the hold is per Slurm).

mod common;

use common::slurm::Slurm;
use common::{
    assert_ended_inside_mpi_init, assert_no_leftovers, bin, finding, late_pmix_handshake_library, pmix_reply_at, slugs, tempdir, Run,
};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Mutex, MutexGuard, OnceLock};
use std::time::{Duration, Instant};

static SLURM: OnceLock<Result<Slurm, String>> = OnceLock::new();

fn slurm() -> &'static Slurm {
    let s = SLURM.get_or_init(|| {
        let prefix = tempfile::Builder::new().prefix("h5doctor-slurm-").tempdir().unwrap().keep();
        common::slurm::up(prefix, None, &[])
    });
    match s {
        Ok(s) => s,
        Err(e) => panic!("{e}"),
    }
}

/// `timeout 120 srun -n 2 --mpi=PLUGIN h5doctor mpio-test --dir DIR --mib-per-rank 2 --json`.
fn srun(plugin: &str, dir: &Path) -> Run {
    bin("h5doctor-probe-mpio");
    let mut cmd = slurm().srun();
    cmd.args(["-n", "2", &format!("--mpi={plugin}")])
        .arg(env!("CARGO_BIN_EXE_h5doctor"))
        .args(["mpio-test", "--dir", dir.to_str().unwrap(), "--mib-per-rank", "2", "--json"]);
    Run::of(cmd)
}

#[test]
fn srun_with_pmix_passes() {
    let dir = tempdir();
    let run = srun("pmix", dir.path());
    assert_eq!(run.code, 0, "stdout:\n{}\nstderr:\n{}", run.stdout, run.stderr);
    let report = run.json();
    let mpi = &report["facts"]["mpi"];
    assert_eq!(mpi["passed"], true, "{report:#}");
    assert_eq!(mpi["size"], 2);
    assert_eq!(mpi["launcher"], "srun --mpi=pmix");
    assert_eq!(mpi["launcher_size"], 2);
    assert_eq!(mpi["launcher_env"]["SLURM_MPI_TYPE"], "pmix");
    assert!(mpi["launcher_env"]["PMIX_RANK"].is_string(), "{mpi:#}");
    assert_eq!(report["summary"]["errors"], 0, "{report:#}");
    for r in mpi["results"].as_array().unwrap() {
        assert!(r["write_mib_s"].as_f64().unwrap() > 0.0, "{r}");
    }
    assert_no_leftovers(dir.path());
}

#[test]
fn srun_without_pmix_is_mpi_pmi_failure_for_open_mpi() {
    let dir = tempdir();
    let run = srun("none", dir.path());
    assert_eq!(run.code, 1, "stdout:\n{}\nstderr:\n{}", run.stdout, run.stderr);
    // One report for the job (task 0), though both tasks failed.
    let report = run.json();
    assert_eq!(slugs(&report), ["mpi-pmi-failure"], "{report:#}");
    let f = finding(&report, "mpi-pmi-failure");
    assert_eq!(f["severity"], "error");
    assert_eq!(
        f["fixes"][0]["text"],
        "srun --mpi=pmix ...   (or export SLURM_MPI_TYPE=pmix in the job script)"
    );
    // The plugins of this Slurm (Debian's slurm-wlm: beside the libslurmfull.so srun loads), listed in
    // the fix as `srun --mpi=list` would list them, without running it.
    let plugins: Vec<String> = std::fs::read_dir("/usr/lib/x86_64-linux-gnu/slurm-wlm")
        .unwrap()
        .flatten()
        .filter_map(|e| Some(e.file_name().to_str()?.strip_prefix("mpi_")?.strip_suffix(".so")?.to_string()))
        .collect();
    assert!(plugins.iter().any(|p| p == "pmix"), "{plugins:?}");
    let mut sorted = plugins.clone();
    sorted.sort();
    assert_eq!(report["facts"]["mpi"]["srun_mpi_plugins"], serde_json::json!(sorted));
    let note = f["fixes"][0]["note"].as_str().unwrap();
    assert!(note.starts_with("This Slurm's MPI plugins: "), "{note}");
    assert!(sorted.iter().all(|p| note.contains(p.as_str())), "{note}");
    assert!(!f["fixes"].as_array().unwrap().iter().any(|x| x["kind"] == "admin"), "{f:#}");
    let evidence = f["evidence"].as_array().unwrap();
    let init_error = evidence
        .iter()
        .find(|e| e["fact"] == "mpi.init_error")
        .expect("the library's own text");
    assert!(
        init_error["value"]
            .as_str()
            .unwrap()
            .contains("OMPI was not built with SLURM's PMI support"),
        "{init_error}"
    );
    assert_eq!(report["facts"]["mpi"]["launcher"], "srun --mpi=none");
    assert_eq!(report["facts"]["mpi"]["family"], "openmpi");
    assert_no_leftovers(dir.path());
}

/// `timeout 150 srun -n 2 --mpi=pmix h5doctor mpio-test --python /usr/bin/python3 ... --json`, with
/// H5PY_ALWAYS_USE_MPI set or not.
fn srun_python(always_use_mpi: bool, dir: &Path) -> Run {
    srun_python_with("pmix", always_use_mpi, dir)
}

fn srun_python_with(plugin: &str, always_use_mpi: bool, dir: &Path) -> Run {
    let mut cmd = slurm().srun_within(150);
    cmd.args(["-n", "2", &format!("--mpi={plugin}")])
        .arg(env!("CARGO_BIN_EXE_h5doctor"))
        .args(["mpio-test", "--python", "/usr/bin/python3", "--dir", dir.to_str().unwrap()])
        .args(["--mib-per-rank", "2", "--timeout", "60", "--json"])
        .env_remove("PYTHONPATH")
        .env_remove("H5PY_ALWAYS_USE_MPI");
    if always_use_mpi {
        cmd.env("H5PY_ALWAYS_USE_MPI", "1");
    }
    Run::of(cmd)
}

/// Debian's h5py takes its serial build under srun (no OMPI_COMM_WORLD_SIZE): the Python test stops at
/// h5py.File(driver='mpio') with h5py's own error, and the whole test run again with
/// H5PY_ALWAYS_USE_MPI=1 passes, which verifies that fix.
#[test]
fn srun_python_debian_h5py_is_serial_and_h5py_always_use_mpi_is_verified_by_the_rerun() {
    let dir = tempdir();
    let run = srun_python(false, dir.path());
    assert_eq!(run.code, 1, "stdout:\n{}\nstderr:\n{}", run.stdout, run.stderr);
    let report = run.json();
    assert_eq!(slugs(&report), ["h5py-no-mpi"], "{report:#}");
    let py = &report["facts"]["mpi"]["python"];
    assert_eq!(py["failed_step"], "h5py.File(driver='mpio')");
    assert_eq!(py["error"], "ValueError: h5py was built without MPI support, can't use mpio driver");
    assert_eq!(py["h5py_module"], "h5py._debian_h5py_serial");
    let rerun = &py["always_use_mpi"];
    assert_eq!(rerun["passed"], true, "{rerun:#}");
    assert_eq!(rerun["h5py_module"], "h5py._debian_h5py_mpi");
    assert_eq!(rerun["size"], 2);
    assert_eq!(rerun["results"].as_array().unwrap().len(), 2);
    let f = finding(&report, "h5py-no-mpi");
    assert_eq!(f["severity"], "error");
    assert_eq!(f["fixes"][0]["text"], "export H5PY_ALWAYS_USE_MPI=1");
    assert_eq!(f["fixes"][0]["verified"], true, "{f:#}");
    assert_no_leftovers(dir.path());
}

#[test]
fn srun_python_with_h5py_always_use_mpi_passes() {
    let dir = tempdir();
    let run = srun_python(true, dir.path());
    assert_eq!(run.code, 0, "stdout:\n{}\nstderr:\n{}", run.stdout, run.stderr);
    let report = run.json();
    let mpi = &report["facts"]["mpi"];
    assert_eq!(mpi["passed"], true, "{report:#}");
    assert_eq!(mpi["size"], 2);
    assert_eq!(mpi["launcher"], "srun --mpi=pmix");
    assert_eq!(mpi["python"]["h5py_module"], "h5py._debian_h5py_mpi");
    assert!(mpi["python"]["always_use_mpi"].is_null(), "no rerun needed");
    assert_eq!(report["summary"]["errors"], 0, "{report:#}");
    assert_no_leftovers(dir.path());
}

/// srun without PMIx: Debian's h5py is serial there, and the rerun with H5PY_ALWAYS_USE_MPI=1 reaches
/// MPI_Init, which Open MPI cannot do without PMIx: both findings, with `--mpi=pmix` named.
#[test]
fn srun_python_without_pmix_is_h5py_no_mpi_and_then_mpi_pmi_failure() {
    let dir = tempdir();
    let run = srun_python_with("none", false, dir.path());
    assert_eq!(run.code, 1, "stdout:\n{}\nstderr:\n{}", run.stdout, run.stderr);
    let report = run.json();
    let mut found = slugs(&report);
    found.sort();
    assert_eq!(found, ["h5py-no-mpi", "mpi-pmi-failure"], "{report:#}");
    let f = finding(&report, "mpi-pmi-failure");
    assert_eq!(
        f["fixes"][0]["text"],
        "srun --mpi=pmix ...   (or export SLURM_MPI_TYPE=pmix in the job script)"
    );
    assert_eq!(
        report["facts"]["mpi"]["python"]["always_use_mpi"]["passed"],
        serde_json::Value::Null
    );
    assert_no_leftovers(dir.path());
}

/// The Slurm whose slurmstepd holds its first PMIx handshake reply while the file `reply_at` exists
/// ([`common::late_pmix_handshake_library`], preloaded into every daemon of it).
struct LateHandshakeSlurm {
    slurm: Slurm,
    library: PathBuf,
    reply_at: PathBuf,
}

static LATE_HANDSHAKE_SLURM: OnceLock<Result<LateHandshakeSlurm, String>> = OnceLock::new();
/// One test at a time on it: the file holds the first reply of whichever step starts next.
static LATE_HANDSHAKE_TURN: Mutex<()> = Mutex::new(());

fn late_handshake_slurm() -> (&'static LateHandshakeSlurm, MutexGuard<'static, ()>) {
    let turn = LATE_HANDSHAKE_TURN.lock().unwrap_or_else(|e| e.into_inner());
    let s = LATE_HANDSHAKE_SLURM.get_or_init(|| {
        let prefix = tempfile::Builder::new().prefix("h5doctor-slurm-late-").tempdir().unwrap().keep();
        let library = late_pmix_handshake_library();
        let reply_at = prefix.join("pmix-reply-at");
        // Its steps' PMIx directories go to its own TmpFS (PREFIX/tmp, as slurm.sh gives every one-node
        // Slurm), so a slurmstepd a failing test leaves hung cannot break another test Slurm's step.
        let slurm = common::slurm::up(
            prefix,
            None,
            &[
                ("LD_PRELOAD", library.display().to_string()),
                ("H5DOCTOR_TEST_PMIX_REPLY_AT", reply_at.display().to_string()),
            ],
        )?;
        Ok(LateHandshakeSlurm { slurm, library, reply_at })
    });
    match s {
        Ok(s) => (s, turn),
        Err(e) => panic!("{e}"),
    }
}

impl LateHandshakeSlurm {
    /// What slurmstepd leaves in slurmd's spool while it runs: its socket `stepd.slurm.pmix.JOB.STEP` and
    /// the PMIx plugin's directory `pmix.JOB.STEP`.
    fn running_steps(&self) -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(self.slurm.prefix.join("spool"))
            .map(|d| d.flatten().map(|e| e.file_name().to_string_lossy().into_owned()).collect())
            .unwrap_or_default();
        names.retain(|n| n.starts_with("stepd.slurm.pmix.") || n.starts_with("pmix."));
        names.sort();
        names
    }

    /// Waits (60 s at most) until no slurmstepd of this Slurm runs; what is still there otherwise. A
    /// slurmstepd still there is then ended (SIGKILL): only processes named slurmstepd whose LD_PRELOAD is
    /// this test binary's own library, so only this Slurm's; and what it left in the spool is removed, so
    /// that the next test sees its own step only.
    fn steps_left_after(&self, run: &Run) -> Vec<String> {
        let deadline = Instant::now() + Duration::from_secs(60);
        while !self.running_steps().is_empty() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(100));
        }
        let left = self.running_steps();
        if !left.is_empty() {
            for pid in self.stuck_stepds() {
                // SAFETY: kill(2) of a slurmstepd of this test's own Slurm (see above).
                unsafe { libc::kill(pid, libc::SIGKILL) };
            }
            let spool = self.slurm.prefix.join("spool");
            for name in &left {
                let _ = std::fs::remove_file(spool.join(name));
                let _ = std::fs::remove_dir_all(spool.join(name));
            }
            let _ = std::fs::remove_file(&self.reply_at);
            eprintln!("srun's stderr:\n{}", run.stderr);
        }
        left
    }

    /// Asserts that every step of `run` ended with its slurmstepd ([`Self::steps_left_after`]); the reply
    /// file is removed first, whatever the outcome, so the next test's step is not held.
    fn assert_steps_ended(&self, run: &Run) {
        let left = self.steps_left_after(run);
        let _ = std::fs::remove_file(&self.reply_at);
        assert!(left.is_empty(), "slurmstepd did not end (hung in its PMIx finalize): {left:?}");
    }

    fn stuck_stepds(&self) -> Vec<i32> {
        let preload = format!("LD_PRELOAD={}", self.library.display());
        let Ok(procs) = std::fs::read_dir("/proc") else {
            return Vec::new();
        };
        procs
            .flatten()
            .filter_map(|e| e.file_name().to_str()?.parse::<i32>().ok())
            .filter(|pid| {
                std::fs::read_to_string(format!("/proc/{pid}/comm")).is_ok_and(|c| c.starts_with("slurmstepd"))
                    && std::fs::read(format!("/proc/{pid}/environ"))
                        .is_ok_and(|env| env.split(|b| *b == 0).any(|v| v == preload.as_bytes()))
            })
            .collect()
    }
}

/// `srun -n 2 --mpi=pmix -J NAME h5doctor mpio-test --dir DIR --mib-per-rank 1 --json --timeout T EXTRA`
/// on the late-handshake Slurm, with H5DOCTOR_MPIO_DEBUG (the ranks say when they waited).
fn late_srun(slurm: &LateHandshakeSlurm, name: &str, dir: &Path, timeout: &str, extra: &[&str]) -> Command {
    bin("h5doctor-probe-mpio");
    let mut cmd = slurm.slurm.srun_within(150);
    cmd.args(["-n", "2", "--mpi=pmix", "-J", name])
        .arg(env!("CARGO_BIN_EXE_h5doctor"))
        .args(["mpio-test", "--dir", dir.to_str().unwrap(), "--mib-per-rank", "1", "--json"])
        .args(["--timeout", timeout])
        .args(extra)
        .env("H5DOCTOR_MPIO_DEBUG", "1")
        .env_remove("PYTHONPATH")
        .env_remove("H5PY_ALWAYS_USE_MPI");
    cmd
}

#[test]
fn the_watchdog_firing_inside_mpi_init_under_srun_ends_the_step_and_its_slurmstepd() {
    // slurmstepd answers the first rank's PMIx handshake 9 s after the launch; the watchdog fires at 4 s,
    // while that rank (and the other, behind it) waits in MPI_Init. A rank that _exit-ed there left Slurm
    // 22.05's slurmstepd hung for good in PMIx_server_finalize (gdb: pmixp_stepd_finalize →
    // PMIx_server_finalize → pmix_rte_finalize → a mutex), its spool socket and pmix.JOB.0 directory kept,
    // although srun returned (3 of 3 runs by hand with the probe before c71da37). The ranks now let their
    // handshake finish first, then end.
    let (slurm, _turn) = late_handshake_slurm();
    let dir = tempdir();
    pmix_reply_at(&slurm.reply_at, Duration::from_secs(9));
    let run = Run::of(late_srun(slurm, "late-handshake-watchdog", dir.path(), "4", &[]));
    slurm.assert_steps_ended(&run);
    assert_eq!(run.code, 2, "stdout:\n{}\nstderr:\n{}", run.stdout, run.stderr);
    assert!(run.stderr.contains("h5doctor mpio-test: no result after 4 s"), "{}", run.stderr);
    assert_ended_inside_mpi_init(&run, "rank");
    assert_no_leftovers(dir.path());
}

/// The PIDs of job `name`'s tasks (`scontrol listpids`), once it has some.
fn task_commands(slurm: &Slurm, name: &str) -> Vec<String> {
    let squeue = Command::new("squeue")
        .args(["-h", "-o", "%i", "-n", name])
        .env("SLURM_CONF", &slurm.conf)
        .output()
        .unwrap();
    let Some(job) = String::from_utf8_lossy(&squeue.stdout)
        .split_whitespace()
        .next()
        .map(str::to_string)
    else {
        return Vec::new();
    };
    let pids = Command::new("scontrol")
        .args(["listpids", &job])
        .env("SLURM_CONF", &slurm.conf)
        .output()
        .unwrap();
    String::from_utf8_lossy(&pids.stdout)
        .lines()
        .skip(1)
        .filter_map(|l| l.split_whitespace().next()?.parse::<u32>().ok())
        .filter_map(|pid| std::fs::read_to_string(format!("/proc/{pid}/comm")).ok())
        .map(|c| c.trim().to_string())
        .collect()
}

#[test]
fn a_step_cancelled_inside_mpi_init_ends_with_its_slurmstepd() {
    // scancel (SIGTERM to every process of the step, SIGKILL only after KillWait) while both ranks wait in
    // MPI_Init for slurmstepd's handshake reply (12 s after the launch): the signal handler used to end
    // the rank there, and slurmstepd hung for good as above (3 of 3 by hand before c71da37).
    let (slurm, _turn) = late_handshake_slurm();
    let dir = tempdir();
    let name = "late-handshake-scancel";
    let launched = Instant::now();
    pmix_reply_at(&slurm.reply_at, Duration::from_secs(12));
    let job = late_srun(slurm, name, dir.path(), "100", &[])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Both tasks have exec'd the MPI probe, whose first step is MPI_Init.
    while task_commands(&slurm.slurm, name)
        .iter()
        .filter(|c| c.starts_with("h5doctor-probe"))
        .count()
        < 2
    {
        assert!(
            launched.elapsed() < Duration::from_secs(8),
            "the ranks did not reach MPI_Init within 8 s: the case cannot be made (load?)"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    // The signal must come within the probe's 10 s wait of the reply (12 s after the launch), whatever the
    // load: at least 1 s after the ranks are in MPI_Init and not before 4 s after the launch (a quiet
    // machine has them there in under a second, and a cancel at 1.5 s let the wait end at 11.5 s, before
    // the reply).
    std::thread::sleep(Duration::from_secs(1).max(Duration::from_secs(4).saturating_sub(launched.elapsed())));
    let cancel = Command::new("scancel")
        .args(["-n", name])
        .env("SLURM_CONF", &slurm.slurm.conf)
        .status()
        .unwrap();
    assert!(cancel.success());
    let out = job.wait_with_output().unwrap();
    let run = Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into(),
        stderr: String::from_utf8_lossy(&out.stderr).into(),
    };
    slurm.assert_steps_ended(&run);
    assert_ne!(run.code, 124, "srun did not end:\n{}", run.stderr);
    assert!(run.stderr.contains("CANCELLED"), "{}", run.stderr);
    assert_ended_inside_mpi_init(&run, "rank");
    assert_no_leftovers(dir.path());
}

#[test]
fn an_interpreter_timing_out_inside_mpi_init_under_srun_ends_the_step_and_its_slurmstepd() {
    // mpio-test --python: the interpreter is h5doctor's child, killed (SIGKILL) at --timeout. Here it is
    // inside MPI_Init (slurmstepd answers the first handshake 21 s after the launch): killed there, it left
    // slurmstepd hung for good as above (by hand: "PMIX ERROR: UNREACHABLE ... ptl_base_connection_hdlr.c
    // at line 388", then the hang). mpi4py's MPI.Init() holds the GIL, so the interpreter cannot wait for
    // itself; h5doctor now holds the kill until its MPI_Init has returned.
    let (slurm, _turn) = late_handshake_slurm();
    let dir = tempdir();
    pmix_reply_at(&slurm.reply_at, Duration::from_secs(21));
    let mut cmd = late_srun(slurm, "late-handshake-python", dir.path(), "15", &["--python", "/usr/bin/python3"]);
    cmd.env("H5PY_ALWAYS_USE_MPI", "1");
    let run = Run::of(cmd);
    slurm.assert_steps_ended(&run);
    assert_ne!(run.code, 124, "srun did not end:\n{}", run.stderr);
    assert_ended_inside_mpi_init(&run, "interpreter");
    // Rank 0's report: the interpreter timed out.
    let report = run.json();
    let reason = report["inconclusive"][0]["reason"].as_str().unwrap_or_default();
    assert!(reason.contains("/usr/bin/python3 timed out after 15 s"), "{report:#}");
    assert_no_leftovers(dir.path());
}
