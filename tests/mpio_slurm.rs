//! `srun h5doctor mpio-test` on a real one-node Slurm (munged, slurmctld, slurmd started without systemd
//! by testsupport/slurm.sh, with config, state and logs in a temp dir). The cluster is started once for
//! this test binary, by the first test that needs it, and stopped by PID when the binary exits. If it
//! cannot start, every test here fails with the daemons' logs: nothing is skipped.
//!
//! The research matrix (feasibility-slurm-modules.md §1): Debian's Open MPI works with `--mpi=pmix` and
//! aborts in MPI_Init with `--mpi=none` or `pmi2` ("OMPI was not built with SLURM's PMI support"); the
//! silent "rank 0 of 1" case under srun is MPICH's, tested here through mpirun.mpich (tests/mpio.rs).

mod common;

use common::slurm::Slurm;
use common::{assert_no_leftovers, bin, finding, slugs, tempdir, Run};
use std::path::Path;
use std::sync::OnceLock;

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
