//! `h5doctor mpio-test --python [PYTHON]`: the MPI-IO test run the way a parallel h5py program runs, through
//! the user's interpreter: `from mpi4py import MPI` and `h5py.File(path, 'w', driver='mpio',
//! comm=MPI.COMM_WORLD)`, collective and independent writes, a read-back, the neighbour's slab after a
//! read-only reopen, bandwidth (`scripts/mpio_test.py`).
//!
//! Under the launcher, each task is an h5doctor process that runs the interpreter as a child with the
//! timeout of `--timeout` (its own process group, killed on timeout or SIGINT/SIGTERM, but not while it is
//! inside MPI_Init, at most 10 s: see `settle_interpreter`): the child, not h5doctor, calls MPI_Init, so the launcher's PMI environment and descriptors reach it unchanged. Each
//! h5doctor names and registers one unique file in the target directory and passes it on; MPI rank 0's
//! name is broadcast, so the process that started rank 0 removes the one file used, whatever happens to
//! the interpreter. The script reports what it imported and which MPI libraries are mapped *before*
//! MPI_Init, so a library that aborts in MPI_Init (an MPICH wheel under Open MPI's mpirun) still leaves
//! the evidence; the launcher's rank 0 then scans the interpreter statically (`groups::python::probe`, no
//! import) and judges everything with the rules: `python` and `mpi` facts side by side.
//!
//! Debian's h5py picks its serial build unless the launcher sets one of a few variables (srun sets none):
//! then every task runs the test again with H5PY_ALWAYS_USE_MPI=1 (the first run stopped before MPI_Init,
//! so the second is the first MPI_Init of the job), which verifies that fix on the spot.

use crate::cleanup::{self, ProbeFile};
use crate::cli::MpioArgs;
use crate::error::Error;
use crate::facts::mpi::{family_of, launcher_of, MpiFacts, MpioPython, MpioRerun, MpioResult, IO_VARS, LAUNCHER_VARS};
use crate::facts::python::{DebianMpiRetry, ImportFacts};
use crate::facts::values::PythonStep;
use crate::facts::{Facts, ProbeStatus};
use crate::mpio::{env_map, launcher_rank};
use crate::probes::child::{self, ChildOutput};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

const SCRIPT: &str = include_str!("scripts/mpio_test.py");
const MARK: &str = "H5DOCTOR-MPIO-PY ";
/// The script's lines around MPI_Init: `PHASE mpi_init` before it, `PHASE mpi_init_returned` after.
const PHASE_MARK: &str = "H5DOCTOR-MPIO-PY-PHASE ";
/// How long the end of an interpreter (the timeout, a signal to h5doctor) waits at most for its MPI_Init
/// to return, as h5doctor-probe-mpio's watchdog waits for its PMIx handshake: the handshake takes
/// milliseconds, and a server that has not answered by then will not.
const MPI_INIT_GRACE: Duration = Duration::from_secs(10);

/// Whether this task's interpreter is inside MPI_Init (between the script's two phase lines), for
/// [`settle_interpreter`]; with the condition variable its changes are signalled on.
static INSIDE_MPI_INIT: (std::sync::Mutex<bool>, std::sync::Condvar) = (std::sync::Mutex::new(false), std::sync::Condvar::new());

fn set_inside_mpi_init(inside: bool) {
    let (flag, changed) = &INSIDE_MPI_INIT;
    *flag.lock().unwrap_or_else(|e| e.into_inner()) = inside;
    changed.notify_all();
}

fn inside_mpi_init() -> bool {
    *INSIDE_MPI_INIT.0.lock().unwrap_or_else(|e| e.into_inner())
}

/// Before a signal ends h5doctor (whose cleanup SIGKILLs the interpreter): while the interpreter is inside
/// MPI_Init, waits until it has returned or ended, at most [`MPI_INIT_GRACE`]. An MPI process killed in
/// its PMIx handshake hangs the launcher's PMIx server for good: Open MPI 4.1.4's mpirun (PMIx 4.2.2) in
/// PMIx_server_finalize, or died of SIGPIPE; Slurm 22.05's slurmstepd of `srun --mpi=pmix` the same way,
/// in its step cleanup (gdb: pmixp_stepd_finalize → PMIx_server_finalize → a PMIx mutex, for good),
/// after srun itself has returned. The interpreter cannot wait for itself: mpi4py 3.1's MPI.Init() holds
/// the GIL, so no Python signal handler or thread runs until MPI_Init returns. A signal to the interpreter
/// itself (Slurm signals every process of the step) is handled by the script once MPI_Init has returned.
fn settle_interpreter() {
    let (flag, changed) = &INSIDE_MPI_INIT;
    let waiting = std::time::Instant::now();
    let inside = flag.lock().unwrap_or_else(|e| e.into_inner());
    if !*inside {
        return;
    }
    let (inside, _) = changed
        .wait_timeout_while(inside, MPI_INIT_GRACE, |inside| *inside)
        .unwrap_or_else(|e| e.into_inner());
    report_settling(*inside, waiting.elapsed());
}

/// H5DOCTOR_MPIO_DEBUG: how long the end of the interpreter waited for its MPI_Init.
fn report_settling(still_inside: bool, waited: Duration) {
    if std::env::var_os("H5DOCTOR_MPIO_DEBUG").is_some() {
        if still_inside {
            eprintln!("the interpreter's MPI_Init did not return; ending it anyway");
        } else {
            eprintln!(
                "inside MPI_Init: waited {:.3} s for the interpreter's MPI_Init before ending it",
                waited.as_secs_f64()
            );
        }
    }
}
/// Lines of the interpreter's stderr kept when it gave no result.
const TAIL_LINES: usize = 12;
/// How long a task other than the launcher's rank 0 waits after a failed test, so that rank 0 reports.
const REPORT_GRACE_SECONDS: f64 = 10.0;

/// One line the script printed (stage `pre`, `result` or `done`).
#[derive(Debug, Default, Deserialize)]
struct Record {
    #[serde(default)]
    stage: String,
    executable: Option<String>,
    python_version: Option<String>,
    #[serde(default)]
    warnings: Vec<String>,
    numpy_version: Option<String>,
    numpy_file: Option<String>,
    h5py_version: Option<String>,
    h5py_file: Option<String>,
    h5py_module: Option<String>,
    h5py_mpi: Option<bool>,
    #[serde(default)]
    h5py_debian_mpi_build: bool,
    hdf5_version: Option<String>,
    #[serde(default)]
    h5py_mpi_libraries: Vec<String>,
    #[serde(default)]
    loaded_hdf5: Vec<String>,
    mpi4py_version: Option<String>,
    mpi4py_module: Option<String>,
    #[serde(default)]
    mpi4py_mpi_libraries: Vec<String>,
    #[serde(default)]
    loaded_mpi: Vec<String>,
    library: Option<String>,
    failed_step: Option<PythonStep>,
    failed_import: Option<String>,
    error: Option<String>,
    traceback: Option<String>,
    size: Option<u32>,
    #[serde(default)]
    hosts: Vec<String>,
    init_seconds: Option<f64>,
    passed: Option<bool>,
    #[serde(default)]
    results: Vec<MpioResult>,
}

/// One run of the interpreter on this task.
struct Run {
    pre: Option<Record>,
    /// MPI rank 0's `result` (or another rank's `done`).
    end: Option<Record>,
    out: ChildOutput,
}

impl Run {
    /// The test stopped before MPI_Init at a step the script named.
    fn failed_step(&self) -> Option<PythonStep> {
        self.pre.as_ref().and_then(|p| p.failed_step)
    }
}

/// The last record of each stage on stdout.
fn parse(stdout: &str) -> Result<(Option<Record>, Option<Record>), String> {
    let (mut pre, mut end) = (None, None);
    for line in stdout.lines().filter_map(|l| l.strip_prefix(MARK)) {
        let r: Record = serde_json::from_str(line).map_err(|e| format!("the test script printed invalid JSON ({e})"))?;
        if r.stage == "pre" {
            pre = Some(r);
        } else {
            end = Some(r);
        }
    }
    Ok((pre, end))
}

/// Runs the script once on this task, with its own registered test file.
fn run_once(python: &Path, dir: &Path, args: &MpioArgs, always_use_mpi: bool) -> Result<Run, Error> {
    // With its side files: OMPIO's `NAME-JOBID-PID.lock` stays when an interpreter ends inside the test
    // (a rank that died, the lifeline ending the others).
    let file = ProbeFile::register_with_siblings(cleanup::unique_path(dir, "h5"));
    let mut cmd = Command::new(python);
    cmd.arg("-c").arg(SCRIPT).arg(file.path()).arg(args.mib_per_rank.to_string());
    if args.before_mpi_init {
        cmd.arg("before-mpi-init");
    }
    // Probes write only their own files: no __pycache__ in the user's environment.
    cmd.env("PYTHONDONTWRITEBYTECODE", "1");
    if always_use_mpi {
        cmd.env("H5PY_ALWAYS_USE_MPI", "1");
    }
    let follow: child::Follow = (
        PHASE_MARK,
        Box::new(|phase: &str| match phase.trim() {
            "mpi_init" => set_inside_mpi_init(true),
            "mpi_init_returned" => set_inside_mpi_init(false),
            _ => {}
        }),
    );
    // At the timeout, an interpreter inside MPI_Init is killed only once MPI_Init has returned (see
    // `settle_interpreter`), at most MPI_INIT_GRACE later.
    let reprieve = child::Reprieve {
        busy: Box::new(inside_mpi_init),
        grace: MPI_INIT_GRACE,
    };
    let timeout = Duration::from_secs_f64(args.timeout);
    let out = child::run_following(cmd, timeout, follow, reprieve);
    // The interpreter has ended.
    set_inside_mpi_init(false);
    let out = out.map_err(|e| Error::msg(e.reason(python)))?;
    if let Some((waited, still_inside)) = out.reprieved {
        report_settling(still_inside, waited);
    }
    drop(file);
    // H5DOCTOR_MPIO_DEBUG: the interpreter's own stderr (the script's timings, MPI's messages) goes on to
    // ours, as h5doctor-probe-mpio's does.
    if std::env::var_os("H5DOCTOR_MPIO_DEBUG").is_some() {
        eprint!("{}", out.stderr);
    }
    let (pre, end) = parse(&out.stdout).map_err(Error::msg)?;
    Ok(Run { pre, end, out })
}

/// The interpreter: a path as given, or a name looked up on PATH.
fn interpreter(given: &Path) -> Result<PathBuf, Error> {
    if given.components().count() > 1 {
        return if given.is_file() {
            Ok(given.to_path_buf())
        } else {
            Err(Error::msg(format!("--python {}: no such file", given.display())))
        };
    }
    which::which(given).map_err(|_| Error::msg(format!("--python {}: not found on PATH", given.display())))
}

/// `SIGSEGV` for 11.
fn signal_name(sig: i32) -> String {
    let names = [
        (libc::SIGSEGV, "SIGSEGV"),
        (libc::SIGABRT, "SIGABRT"),
        (libc::SIGBUS, "SIGBUS"),
        (libc::SIGFPE, "SIGFPE"),
        (libc::SIGILL, "SIGILL"),
        (libc::SIGKILL, "SIGKILL"),
        (libc::SIGTERM, "SIGTERM"),
        (libc::SIGINT, "SIGINT"),
    ];
    names
        .iter()
        .find(|(n, _)| *n == sig)
        .map_or_else(|| format!("signal {sig}"), |(_, name)| name.to_string())
}

/// Runs `h5doctor mpio-test --python`.
pub fn run(args: &MpioArgs, given: &Path) -> Result<(u8, String), Error> {
    let python = interpreter(given)?;
    cleanup::before_signal_exit(settle_interpreter);
    if args.allow_exec_as_root {
        crate::trust::allow_exec_as_root(&python);
    }
    let dir = std::fs::canonicalize(&args.dir).map_err(|e| Error::msg(format!("--dir {}: {e}", args.dir.display())))?;
    let launcher_env = env_map(LAUNCHER_VARS);
    let pmi_socket_held = crate::mpio::pmi_socket::hold_until_reaped(&launcher_env);
    let reporter = launcher_rank(&launcher_env).is_none_or(|r| r == 0);
    let first = run_once(&python, &dir, args, false)?;
    // Debian's h5py took its serial build: prove H5PY_ALWAYS_USE_MPI=1 with the whole test. Every task
    // sees the same environment, so every task decides the same.
    let debian_serial = first.failed_step() == Some(PythonStep::H5pyFileMpio)
        && first.pre.as_ref().is_some_and(|p| p.h5py_debian_mpi_build)
        && std::env::var_os("H5PY_ALWAYS_USE_MPI").is_none();
    let rerun = if debian_serial {
        Some(run_once(&python, &dir, args, true)?)
    } else {
        None
    };
    if !reporter {
        // The launcher's rank 0 reports and carries the verdict in its exit code. When the test failed,
        // a task that ends first makes mpirun kill every task, rank 0 before it has reported: wait until
        // rank 0's exit ends this task too (bounded, for srun, which lets it run). Where this task's PMI
        // socket is held until it is reaped (hydra, srun --mpi=pmi2), its exit ends no other task.
        if !pmi_socket_held && rerun.as_ref().unwrap_or(&first).end.is_none() {
            std::thread::sleep(Duration::from_secs_f64(args.timeout.min(REPORT_GRACE_SECONDS)));
        }
        return Ok((0, String::new()));
    }
    let facts = build_facts(args, &python, &dir, launcher_env, &first, rerun.as_ref())?;
    let compare = match &args.compare {
        Some(path) => Some(Facts::from_json_file(path)?),
        None => None,
    };
    let mut facts = facts;
    if let (Some(other), Some(py)) = (compare, facts.mpi.python.as_mut()) {
        py.probe = Some(rerun_of(&other.mpi, "h5doctor-probe-mpio"));
    }
    if args.before_mpi_init {
        return crate::commands::report_mpio(&facts, args.json);
    }
    let rerun = |env: &std::collections::HashMap<String, String>| imports_again(args, &python, &dir, env);
    crate::commands::report_mpio_verified(&facts, args.json, Duration::from_secs_f64(args.timeout), &rerun)
}

/// The failing step again in the environment a module fix produced: this h5doctor runs as
/// `mpio-test --python ... --before-mpi-init --json` in a child with that environment (the launcher's
/// variables included, so it reports as this task does), which re-runs the test's imports and stops before
/// MPI_Init (a second MPI_Init under the same launcher slot is not possible), then gathers the facts as
/// the test does. Its facts, or why there are none.
fn imports_again(args: &MpioArgs, python: &Path, dir: &Path, env: &std::collections::HashMap<String, String>) -> Result<Facts, String> {
    let me = std::env::current_exe().map_err(|e| format!("cannot find h5doctor's own executable: {e}"))?;
    let timeout = Duration::from_secs_f64(args.timeout);
    let mut cmd = Command::new(&me);
    cmd.arg("mpio-test")
        .arg("--python")
        .arg(python)
        .arg("--dir")
        .arg(dir)
        .args(["--mib-per-rank", "1", "--timeout"])
        .arg(args.timeout.to_string())
        .args(["--json", "--before-mpi-init"]);
    if args.allow_exec_as_root {
        cmd.arg("--allow-exec-as-root");
    }
    cmd.env_clear().envs(env);
    let out = child::run(cmd, timeout + Duration::from_secs(5)).map_err(|e| e.reason(&me))?;
    // The facts are read from the text, not from a `serde_json::Value`: that would compile all of the facts'
    // Deserialize code a second time, for Values (0.8 MB of h5doctor's 8.8 MB of machine code).
    #[derive(Deserialize)]
    struct Rerun {
        facts: Facts,
    }
    serde_json::from_str::<Rerun>(&out.stdout).map(|r| r.facts).map_err(|e| {
        if e.is_syntax() || e.is_eof() {
            format!(
                "the re-run {} without a readable report ({e}): {}",
                out.describe_end(timeout),
                out.stderr_tail(2)
            )
        } else {
            format!("the re-run's facts are not readable: {e}")
        }
    })
}

/// The verdict and bandwidth of another run, from its `mpi` facts.
fn rerun_of(m: &MpiFacts, what: &str) -> MpioRerun {
    MpioRerun {
        what: what.to_string(),
        passed: m.passed,
        h5py_module: m.python.as_ref().and_then(|p| p.h5py_module.clone()),
        library: m.library.clone(),
        size: m.size,
        error: m.error.clone().or_else(|| m.init_error.clone()).or_else(|| m.reason.clone()),
        results: m.results.clone(),
    }
}

/// The `mpi` facts of one run (the first, or the H5PY_ALWAYS_USE_MPI=1 rerun).
fn mpi_facts(args: &MpioArgs, python: &Path, dir: &Path, launcher_env: &BTreeMap<String, String>, run: &Run) -> MpiFacts {
    let (launcher, launcher_size) = launcher_of(launcher_env);
    let pre = run.pre.as_ref();
    let library = pre.and_then(|p| p.library.clone());
    let mut py = MpioPython {
        interpreter: python.display().to_string(),
        ..MpioPython::default()
    };
    if let Some(p) = pre {
        py.executable = p.executable.clone();
        py.python_version = p.python_version.clone();
        py.h5py_version = p.h5py_version.clone();
        py.h5py_module = p.h5py_module.clone();
        py.h5py_mpi = p.h5py_mpi;
        py.h5py_mpi_libraries = p.h5py_mpi_libraries.clone();
        py.mpi4py_version = p.mpi4py_version.clone();
        py.mpi4py_module = p.mpi4py_module.clone();
        py.mpi4py_mpi_libraries = p.mpi4py_mpi_libraries.clone();
        py.loaded_mpi = p.loaded_mpi.clone();
        py.failed_step = p.failed_step;
        py.error = p.error.clone();
        py.traceback = p.traceback.clone();
    }
    let mut m = MpiFacts {
        status: ProbeStatus::Ok,
        probe_path: Some(python.display().to_string()),
        launcher_env: launcher_env.clone(),
        io_env: env_map(IO_VARS),
        srun_mpi_plugins: crate::probes::slurm_conf::mpi_plugins_under(&launcher),
        launcher: Some(launcher.clone()),
        launcher_size,
        family: library.as_deref().map(family_of),
        library,
        hdf5_version: pre.and_then(|p| p.hdf5_version.clone()),
        dir: Some(dir.display().to_string()),
        fs_type: crate::groups::locking::probe::mounts::probe(dir).map(|f| f.fs_type),
        mib_per_rank: args.mib_per_rank,
        ..MpiFacts::default()
    };
    match (&run.end, py.failed_step.is_some()) {
        (_, true) => {} // stopped before MPI_Init: the step's own finding explains it
        (Some(end), false) => {
            m.size = end.size;
            m.hosts = end.hosts.clone();
            m.init_seconds = end.init_seconds;
            m.passed = end.passed;
            m.results = end.results.clone();
            m.error = end.error.clone();
            m.error_stack = end.traceback.clone();
            if end.stage != "result" {
                // This task's interpreter was not MPI rank 0: the launcher's rank 0 was not MPI's.
                m.status = ProbeStatus::Inconclusive;
                m.reason = Some("the launcher's rank 0 did not become MPI rank 0; run with the launcher's own rank numbering".into());
            }
        }
        (None, false) if args.before_mpi_init && pre.is_some() => {
            m.status = ProbeStatus::Inconclusive;
            m.reason = Some("the test stopped before MPI_Init, as asked (--before-mpi-init)".into());
        }
        (None, false) => {
            let out = &run.out;
            let tail = out.stderr_tail(TAIL_LINES);
            py.end = Some(match out.status.and_then(|s| s.signal()) {
                Some(sig) => format!("was killed by signal {sig} ({})", signal_name(sig)),
                None => out.describe_end(Duration::from_secs_f64(args.timeout)),
            });
            py.signal = out.status.and_then(|s| s.signal());
            py.output_tail = (!tail.is_empty()).then(|| tail.clone());
            m.status = ProbeStatus::Inconclusive;
            let pmi_text = crate::mpio::PMI_FAILURE_TEXTS.iter().find(|t| out.stderr.contains(**t));
            match pmi_text {
                Some(text) => {
                    m.init_error = Some(crate::mpio::init_error_excerpt(&out.stderr, text));
                    m.reason = Some(format!("MPI_Init failed under {launcher}"));
                }
                None => {
                    // The library's own message, not the launcher's noise after it.
                    let telling = |l: &&str| ["***", "Error", "error", "Abort", "abort"].iter().any(|w| l.contains(w));
                    let last = tail.lines().find(telling).or_else(|| tail.lines().last()).unwrap_or("no output");
                    let account = format!(
                        "{} {} before the test ended{}: {last}",
                        python.display(),
                        py.end.as_deref().unwrap_or("ended"),
                        if pre.is_some() { " (after its imports)" } else { "" }
                    );
                    if py.signal.is_some() {
                        // A crash of the user's own stack is a failed test (mpiio-failed), not an unknown.
                        m.status = ProbeStatus::Ok;
                        m.passed = Some(false);
                        m.error = Some(account);
                    } else {
                        m.reason = Some(account);
                    }
                }
            }
        }
    }
    m.python = Some(py);
    m
}

/// The facts of the whole command: `mpi` from the runs, `python` from a static scan of the interpreter
/// (no import) completed with what the first run imported.
fn build_facts(
    args: &MpioArgs,
    python: &Path,
    dir: &Path,
    launcher_env: BTreeMap<String, String>,
    first: &Run,
    rerun: Option<&Run>,
) -> Result<Facts, Error> {
    let mut facts = Facts::new();
    facts.host = crate::probes::host::probe();
    facts.env = crate::probes::env::probe();
    facts.groups = vec![
        crate::groups::Group::Mpi,
        crate::groups::Group::Python,
        crate::groups::Group::Modules,
    ];
    // The site's modules, so that a fix can name the module that provides what is missing (mpi4py).
    facts.modules = crate::groups::modules::probe::probe(Duration::from_secs_f64(args.timeout.min(10.0)));
    let mut mpi = mpi_facts(args, python, dir, &launcher_env, first);
    let again = rerun.map(|rerun| mpi_facts(args, python, dir, &launcher_env, rerun));
    // The rerun reached MPI_Init, which the launcher's PMI then failed: that is the next thing the job
    // meets once h5py is parallel, so it is judged (mpi-pmi-failure) with the library that failed.
    if let Some(init_error) = again.as_ref().and_then(|a| a.init_error.clone()) {
        mpi.init_error = Some(init_error);
        mpi.family = again.as_ref().and_then(|a| a.family);
        mpi.library = again.as_ref().and_then(|a| a.library.clone());
    }
    if let (Some(again), Some(py)) = (again, mpi.python.as_mut()) {
        let mut r = rerun_of(&again, &format!("H5PY_ALWAYS_USE_MPI=1 {}", python.display()));
        r.h5py_module = again.python.as_ref().and_then(|p| p.h5py_module.clone());
        if r.error.is_none() {
            r.error = again.python.as_ref().and_then(|p| p.error.clone().or_else(|| p.end.clone()));
        }
        py.always_use_mpi = Some(r);
    }
    facts.mpi = mpi;
    let opts = crate::groups::python::probe::PythonOptions {
        pythons: vec![python.to_path_buf()],
        default_pythons: false,
        import: false,
        timeout: Duration::from_secs_f64(args.timeout.min(60.0)),
        // The test itself has run it already (allowed, or trusted as root by child::run).
        allow_exec_as_root: true,
    };
    facts.python = crate::groups::python::probe::probe(&opts, &crate::groups::python::probe::import_probe::LaterTargets::now(Vec::new()));
    if let Some(interp) = facts.python.interpreters.first_mut() {
        interp.origin = "--python".into();
        if let Some(pre) = &first.pre {
            interp.import = import_facts(pre, first.out.elapsed);
        }
        if let Some(rerun) = rerun {
            interp.import.always_use_mpi = Some(DebianMpiRetry {
                status: if rerun.pre.is_some() {
                    ProbeStatus::Ok
                } else {
                    ProbeStatus::Inconclusive
                },
                reason: rerun.pre.is_none().then(|| {
                    format!(
                        "the test with H5PY_ALWAYS_USE_MPI=1 {}",
                        rerun.out.describe_end(Duration::from_secs_f64(args.timeout))
                    )
                }),
                mpi: rerun.pre.as_ref().and_then(|p| p.h5py_mpi),
                h5py_module: rerun.pre.as_ref().and_then(|p| p.h5py_module.clone()),
                error: rerun.pre.as_ref().and_then(|p| p.error.clone()),
            });
        }
    }
    Ok(facts)
}

/// The import facts of the `python` group, from what the test script imported before MPI_Init.
fn import_facts(pre: &Record, elapsed: Duration) -> ImportFacts {
    let import_failed = pre.failed_import.is_some();
    ImportFacts {
        status: ProbeStatus::Ok,
        reason: None,
        ok: Some(!import_failed),
        failed_import: pre.failed_import.clone(),
        error: pre.error.clone().filter(|_| import_failed),
        traceback: pre.traceback.clone().filter(|_| import_failed),
        warnings: pre.warnings.clone(),
        numpy_version: pre.numpy_version.clone(),
        numpy_file: pre.numpy_file.clone(),
        h5py_version: pre.h5py_version.clone(),
        h5py_file: pre.h5py_file.clone(),
        h5py_module: pre.h5py_module.clone(),
        hdf5_version: pre.hdf5_version.clone(),
        mpi: pre.h5py_mpi,
        loaded_hdf5: pre.loaded_hdf5.clone(),
        elapsed_ms: elapsed.as_millis() as u64,
        ..ImportFacts::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The steps the script names in its `fail("STEP", e)` calls, in order.
    fn steps_the_script_names() -> Vec<&'static str> {
        SCRIPT
            .split("fail(\"")
            .skip(1)
            .map(|rest| rest.split_once("\", ").expect("fail(\"STEP\", e)").0)
            .collect()
    }

    #[test]
    fn the_script_names_exactly_the_steps_of_python_step() {
        // The facts read the script's step as a `PythonStep`: a step spelt differently in the script would
        // make its record unreadable, and a rule's `mpi.python_failed_step` value would never match.
        use strum::VariantNames;
        assert_eq!(steps_the_script_names(), PythonStep::VARIANTS);
        let record: Record = serde_json::from_str(r#"{"stage": "pre", "failed_step": "import mpi4py"}"#).unwrap();
        assert_eq!(record.failed_step, Some(PythonStep::ImportMpi4py));
    }

    #[test]
    fn records_are_read_by_stage_amid_other_output() {
        let stdout = format!(
            "hello from the user's sitecustomize\n{MARK}{{\"stage\": \"pre\", \"h5py_mpi\": true}}\nnoise\n{MARK}{{\"stage\": \"result\", \"size\": 2, \"passed\": true}}\n"
        );
        let (pre, end) = parse(&stdout).unwrap();
        assert_eq!(pre.unwrap().h5py_mpi, Some(true));
        let end = end.unwrap();
        assert_eq!((end.stage.as_str(), end.size, end.passed), ("result", Some(2), Some(true)));
        assert!(parse(&format!("{MARK}{{not json")).unwrap_err().contains("invalid JSON"));
        assert!(matches!(parse("nothing"), Ok((None, None))));
    }

    #[test]
    fn signals_are_named() {
        assert_eq!(signal_name(11), "SIGSEGV");
        assert_eq!(signal_name(64), "signal 64");
    }
}
