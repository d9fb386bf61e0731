//! The Python group end to end, against real environments: Debian's /usr/bin/python3 with python3-h5py,
//! venvs with real PyPI wheels (a healthy h5py, a NumPy-1-built h5py under NumPy 2, none at all),
//! PYTHONPATH pointing into another environment, a preloaded foreign libhdf5, Debian's serial-vs-MPI
//! choice under a Slurm step, and lock errnos injected under h5py's own file creation. Each test asserts
//! what the user sees: the slug, the fix text, the exit code, and nothing left behind.

mod common;
mod python_envs;

use common::*;
use python_envs::{venv, venv_with_system_site, Deps, Venv, DEBIAN_PYTHON};
use serde_json::Value;
use std::path::Path;
use std::time::{Duration, Instant};

/// Variables of the developer's shell that would change what Python imports; tests set their own.
const PYTHON_VARS: &[&str] = &[
    "PYTHONPATH",
    "PYTHONHOME",
    "PYTHONUSERBASE",
    "PYTHONNOUSERSITE",
    "VIRTUAL_ENV",
    "CONDA_PREFIX",
    "LD_PRELOAD",
    "H5PY_ALWAYS_USE_MPI",
    "OMPI_COMM_WORLD_SIZE",
    "MPI_LOCALNRANKS",
    "PMI_RANK",
    "PMI_SIZE",
    "SLURM_JOB_ID",
    "SLURM_NTASKS",
    "SLURM_STEP_ID",
    "SLURM_STEPID",
    "SLURM_STEP_NUM_TASKS",
];

/// `h5doctor check --json` (unless `extra` names a `--format`) for exactly these interpreters and this
/// directory, plus `extra`.
fn check_python(pythons: &[&Path], dir: &Path, inject: Option<(&str, i32)>, extra: &[&str]) -> H5doctor {
    let format = if extra.contains(&"--format") { None } else { Some("--json") };
    let mut args: Vec<&str> = vec!["check"];
    args.extend(format);
    args.extend(["--no-default-dirs", "--dir", dir.to_str().unwrap(), "--no-default-pythons"]);
    for p in pythons {
        args.extend(["--python", p.to_str().unwrap()]);
    }
    // The tests run as root in CI; these interpreters are the tests' own (tests/rootsafe.rs covers refusal).
    args.push("--allow-exec-as-root");
    args.extend_from_slice(extra);
    PYTHON_VARS
        .iter()
        .fold(H5doctor::injected(inject, &args), |cmd, var| cmd.env_remove(var))
}

/// The facts of the interpreter diagnosed as `path`.
fn interpreter<'a>(report: &'a Value, path: &Path) -> &'a Value {
    report["facts"]["python"]["interpreters"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["path"] == path.to_str().unwrap())
        .unwrap_or_else(|| panic!("{} was not diagnosed: {report:#}", path.display()))
}

/// Findings that are errors or warnings.
fn problems(report: &Value) -> Vec<&Value> {
    report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["severity"] != "info")
        .collect()
}

fn canonical(p: &str) -> std::path::PathBuf {
    std::fs::canonicalize(p).unwrap_or_else(|e| panic!("{p}: {e}"))
}

fn pypi_h5py() -> Venv {
    venv("pypi-h5py-3.16", &["h5py==3.16.0", "numpy==2.4.6"], Deps::Resolve)
}

/// h5py 3.10.0 (built against NumPy 1.23, before NumPy 2 existed) with NumPy 2 forced in beside it.
fn numpy1_h5py_on_numpy2() -> Venv {
    venv("h5py-3.10-numpy-2.4", &["h5py==3.10.0", "numpy==2.4.6"], Deps::Exact)
}

#[test]
fn debian_python_with_debian_h5py_is_healthy() {
    let dir = tempdir();
    let py = Path::new(DEBIAN_PYTHON);
    let run = check_python(&[py], dir.path(), None, &[]).run();
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    let report = run.json();
    assert!(problems(&report).is_empty(), "{report:#}");
    let i = interpreter(&report, py);
    assert_eq!(i["status"], "ok");
    assert!(i["version"].as_str().unwrap().starts_with("3."), "{i:#}");
    assert!(i["abi_tag"].as_str().unwrap().starts_with("cpython-3"), "{i:#}");
    assert!(!i["sys_path_isolated"].as_array().unwrap().is_empty());
    // Static facts, read without importing, agree with what the sandboxed import then reports.
    let h5py = &i["h5py"];
    let import = &i["import"];
    assert_eq!(import["ok"], true, "{import:#}");
    assert_eq!(h5py["layout"], "debian");
    assert_eq!(h5py["debian_selects"], "serial");
    assert_eq!(import["h5py_module"], "h5py._debian_h5py_serial");
    assert_eq!(h5py["location"]["version"], import["h5py_version"]);
    assert_eq!(h5py["location"]["entry_source"], "interpreter");
    let lib = &h5py["libhdf5"];
    assert!(lib["needed"].as_str().unwrap().starts_with("libhdf5_serial.so."), "{lib:#}");
    assert_eq!(
        lib["hdf5_version"], import["hdf5_version"],
        "the embedded release is the one that runs"
    );
    assert_eq!(lib["hdf5_parallel"], false);
    assert_eq!(
        canonical(lib["path"].as_str().unwrap()),
        canonical(import["loaded_hdf5"][0].as_str().unwrap()),
        "the static resolution names the file the import mapped"
    );
    assert_eq!(h5py["hdf5_bundled"], false);
    assert_eq!(h5py["mpi"], false);
    assert_eq!(import["mpi"], false);
    assert_eq!(h5py["numpy_abi"], "1.x");
    assert_eq!(h5py["numpy_built"], import["numpy_built"]);
    assert_eq!(i["numpy"]["location"]["version"], import["numpy_version"]);
    assert!(i["numpy"]["capi"].as_u64().unwrap() >= 0x10);
    let mpi4py = &i["mpi4py"];
    assert!(
        mpi4py["location"]["version"]
            .as_str()
            .is_some_and(|v| v.starts_with('3') || v.starts_with('4')),
        "python3-mpi4py (scripts/dev.sh installs it): {mpi4py:#}"
    );
    assert!(
        mpi4py["mpi_libraries"][0]["needed"].as_str().unwrap().starts_with("libmpi"),
        "{mpi4py:#}"
    );
    assert_eq!(import["creates"][0]["ok"], true, "{import:#}");
    assert_no_leftovers(dir.path());
}

#[test]
fn pypi_wheels_are_healthy_and_the_bundled_hdf5_is_reported() {
    let env = pypi_h5py();
    let py = env.python();
    let dir = tempdir();
    let run = check_python(&[&py], dir.path(), None, &[]).run();
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    let report = run.json();
    assert!(problems(&report).is_empty(), "{report:#}");
    let i = interpreter(&report, &py);
    assert_eq!(i["kind"], "venv");
    let h5py = &i["h5py"];
    assert_eq!(h5py["layout"], "wheel");
    assert_eq!(h5py["location"]["version"], "3.16.0");
    assert_eq!(h5py["hdf5_bundled"], true);
    let lib = &h5py["libhdf5"];
    assert_eq!(lib["found_by"], "rpath", "wheels link h5py.libs through $ORIGIN: {lib:#}");
    let lib_path = lib["path"].as_str().unwrap();
    assert!(lib_path.contains("/h5py.libs/libhdf5-"), "{lib_path}");
    assert!(
        canonical(lib_path).starts_with(canonical(env.root.to_str().unwrap())),
        "bundled in the venv: {lib_path}"
    );
    let import = &i["import"];
    assert_eq!(import["ok"], true, "{import:#}");
    assert_eq!(lib["hdf5_version"], import["hdf5_version"]);
    assert_eq!(canonical(lib_path), canonical(import["loaded_hdf5"][0].as_str().unwrap()));
    assert_eq!(h5py["numpy_abi"], "2.x");
    assert_eq!(h5py["mpi"], false, "PyPI wheels are serial");
    assert_eq!(i["numpy"]["location"]["version"], "2.4.6");
    assert_eq!(import["creates"][0]["ok"], true);

    // The human report's python line names the bundled HDF5 and its release.
    let human = check_python(&[&py], dir.path(), None, &["--format", "human", "--only", "python"])
        .run()
        .stdout;
    let expected = format!(
        "✓ python    {} (Python {}): h5py 3.16.0 [wheel], HDF5 {} bundled, numpy 2.4.6, import ok",
        py.display(),
        i["version"].as_str().unwrap(),
        import["hdf5_version"].as_str().unwrap()
    );
    assert!(human.contains(&expected), "{expected}\nnot in:\n{human}");
    assert_no_leftovers(dir.path());
}

#[test]
fn numpy_1_built_h5py_under_numpy_2_is_found_statically_and_confirmed_by_the_import() {
    let env = numpy1_h5py_on_numpy2();
    let py = env.python();
    let dir = tempdir();

    // Static only: nothing imports h5py or NumPy.
    let run = check_python(&[&py], dir.path(), None, &["--only", "python", "--no-python-import"]).run();
    assert_eq!(run.code, 1, "{}{}", run.stdout, run.stderr);
    let report = run.json();
    assert_eq!(slugs(&report), ["numpy-2-abi"], "{report:#}");
    let i = interpreter(&report, &py);
    assert_eq!(i["import"]["status"], "not-run");
    assert_eq!(i["h5py"]["numpy_abi"], "1.x");
    let f = finding(&report, "numpy-2-abi");
    assert_eq!(f["id"], "H5D401");
    assert_eq!(f["severity"], "error");
    assert_eq!(f["scope"]["kind"], "interpreter");
    assert_eq!(f["scope"]["path"], py.to_str().unwrap());
    assert_eq!(
        f["title"],
        format!(
            "{} (--python): h5py 3.10.0 was compiled for NumPy 1.x, but NumPy 2.4.6 is installed",
            py.display()
        )
    );
    assert_eq!(evidence(f, "python.h5py_numpy_built"), "1.23.2");
    assert_eq!(f["fixes"][0]["text"], "python -m pip install 'numpy<2'");

    // The sandboxed import proves it: the real error, and still one finding for one cause.
    let run = check_python(&[&py], dir.path(), None, &["--only", "python"]).run();
    assert_eq!(run.code, 1);
    let report = run.json();
    assert_eq!(slugs(&report), ["numpy-2-abi"], "{report:#}");
    let f = finding(&report, "numpy-2-abi");
    assert_eq!(evidence(f, "python.import"), "failed");
    let error =
        "ValueError: numpy.dtype size changed, may indicate binary incompatibility. Expected 96 from C header, got 88 from PyObject";
    assert!(
        evidence(f, "python.import_output").as_str().unwrap().trim_end().ends_with(error),
        "the real import error is the evidence: {f:#}"
    );
    assert_eq!(interpreter(&report, &py)["import"]["error"], error);
    assert!(interpreter(&report, &py)["import"]["traceback"]
        .as_str()
        .unwrap()
        .contains("h5py/_errors.pyx"));
    assert_no_leftovers(dir.path());
}

#[test]
fn pythonpath_into_debians_site_packages_is_python_path_pollution() {
    let env = pypi_h5py();
    let py = env.python();
    let dir = tempdir();
    let run = check_python(&[&py], dir.path(), None, &["--only", "python"])
        .env("PYTHONPATH", "/usr/lib/python3/dist-packages")
        .run();
    assert_eq!(run.code, 0, "a warning alone exits 0: {}", run.stdout);
    let report = run.json();
    assert_eq!(slugs(&report), ["python-path-pollution"], "{report:#}");
    let f = finding(&report, "python-path-pollution");
    assert_eq!(f["severity"], "warning", "the mixed import still works here: {f:#}");
    assert_eq!(f["fixes"][0]["text"], "unset PYTHONPATH");
    let polluting: Vec<&str> = evidence(f, "python.polluting_packages")
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    let numpy = polluting
        .iter()
        .find(|p| p.starts_with("numpy "))
        .unwrap_or_else(|| panic!("{polluting:?}"));
    assert!(numpy.contains("from /usr/lib/python3/dist-packages (PYTHONPATH"), "{numpy}");
    assert!(numpy.contains("another Python environment, /usr"), "{numpy}");
    assert!(
        numpy.contains("shadows ") && numpy.contains(env.root.file_name().unwrap().to_str().unwrap()),
        "{numpy}"
    );
    assert!(polluting.iter().any(|p| p.starts_with("h5py ")), "{polluting:?}");
    let i = interpreter(&report, &py);
    assert_eq!(i["h5py"]["layout"], "debian", "Debian's h5py is the one that would load");
    assert_eq!(
        i["import"]["h5py_file"], "/usr/lib/python3/dist-packages/h5py/__init__.py",
        "and the import agrees"
    );
    let strict = check_python(&[&py], dir.path(), None, &["--only", "python", "--strict"])
        .env("PYTHONPATH", "/usr/lib/python3/dist-packages")
        .run();
    assert_eq!(strict.code, 1);
    assert_no_leftovers(dir.path());
}

#[test]
fn pythonpath_into_a_broken_venv_is_an_error_with_its_cause_and_replays() {
    // Debian's python3 picks up a venv's NumPy-1-built h5py and its NumPy 2 through PYTHONPATH.
    let env = numpy1_h5py_on_numpy2();
    let site = env.site_packages();
    let py = Path::new(DEBIAN_PYTHON);
    let dir = tempdir();
    let run = check_python(&[py], dir.path(), None, &["--only", "python"])
        .env("PYTHONPATH", &site)
        .run();
    assert_eq!(run.code, 1);
    let report = run.json();
    assert_eq!(slugs(&report), ["numpy-2-abi", "python-path-pollution"], "{report:#}");
    let pollution = finding(&report, "python-path-pollution");
    assert_eq!(pollution["severity"], "error", "the import fails: {pollution:#}");
    assert!(
        evidence(pollution, "python.polluting_packages")[0]
            .as_str()
            .unwrap()
            .contains(&format!("another Python environment, {}", env.root.display())),
        "{pollution:#}"
    );

    // The same facts judged at the support desk give the same findings.
    let facts = check_python(&[py], dir.path(), None, &[]).env("PYTHONPATH", &site).run();
    let store = tempdir();
    let file = store.path().join("node.json");
    std::fs::write(&file, serde_json::to_string(&facts.json()["facts"]).unwrap()).unwrap();
    let replay = H5doctor::new(&["check", "--json", "--facts", file.to_str().unwrap()]).run();
    assert_eq!(replay.code, facts.code);
    assert_eq!(replay.json()["findings"], facts.json()["findings"]);
    assert_no_leftovers(dir.path());
}

#[test]
fn a_user_site_leaking_into_a_venv_is_pollution_fixed_by_pythonnousersite() {
    // PYTHONUSERBASE makes the user site the broken venv's site-packages: real h5py 3.10 and NumPy 2
    // packages in ~/.local's place, ahead of the Debian packages this venv sees.
    let env = venv_with_system_site("system-site");
    let user_base = numpy1_h5py_on_numpy2();
    let py = env.python();
    let dir = tempdir();
    let run = check_python(&[&py], dir.path(), None, &["--only", "python"])
        .env("PYTHONUSERBASE", &user_base.root)
        .run();
    assert_eq!(run.code, 1, "{}", run.stdout);
    let report = run.json();
    assert_eq!(slugs(&report), ["numpy-2-abi", "python-path-pollution"], "{report:#}");
    let f = finding(&report, "python-path-pollution");
    assert_eq!(evidence(f, "python.polluted_by"), &serde_json::json!(["user-site"]));
    let fixes: Vec<&str> = f["fixes"].as_array().unwrap().iter().map(|x| x["text"].as_str().unwrap()).collect();
    assert_eq!(
        fixes,
        ["export PYTHONNOUSERSITE=1", "python -I your_script.py"],
        "no PYTHONPATH fix: {f:#}"
    );
    let numpy = evidence(f, "python.polluting_packages")
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .find(|p| p.starts_with("numpy "))
        .unwrap();
    assert!(
        numpy.starts_with("numpy 2.4.6 from ") && numpy.contains("(the user site (pip install --user)"),
        "{numpy}"
    );
    assert!(numpy.contains("shadows /usr/lib/python3/dist-packages/numpy"), "{numpy}");

    // With the fix applied the venv imports Debian's matching h5py and NumPy again.
    let fixed = check_python(&[&py], dir.path(), None, &["--only", "python"])
        .env("PYTHONUSERBASE", &user_base.root)
        .env("PYTHONNOUSERSITE", "1")
        .run();
    assert_eq!(fixed.code, 0, "{}", fixed.stdout);
    assert!(slugs(&fixed.json()).is_empty());
    assert_no_leftovers(dir.path());
}

#[test]
fn a_venv_without_h5py_is_an_info_line_and_exits_0() {
    let env = venv("no-h5py", &[], Deps::Resolve);
    let py = env.python();
    let dir = tempdir();
    let run = check_python(
        &[&py, Path::new(DEBIAN_PYTHON)],
        dir.path(),
        None,
        &["--format", "human", "--only", "python"],
    )
    .run();
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    let out = &run.stdout;
    let header = format!(
        "✓ info H5D400 h5py-not-installed: {} (--python): h5py is not installed for this interpreter",
        py.display()
    );
    assert!(out.contains(&header), "{header}\nnot in:\n{out}");
    assert!(
        out.contains("h5py found with  /usr/bin/python3 (--python) (h5py 3."),
        "the report points at the interpreter that has h5py:\n{out}"
    );
    assert!(out.contains("fix (shell): python -m pip install h5py"), "{out}");
    assert!(
        out.trim_end().ends_with("0 errors, 0 warnings, 1 info, 0 inconclusive — exit 0"),
        "{out}"
    );
    let json = check_python(&[&py], dir.path(), None, &["--only", "python"]).run().json();
    assert_eq!(slugs(&json), ["h5py-not-installed"]);
    assert_eq!(interpreter(&json, &py)["import"]["status"], "not-run");
    assert_no_leftovers(dir.path());
}

#[test]
fn lock_errno_524_under_h5py_is_the_same_lock_finding_with_locking_false_verified() {
    let dir = tempdir();
    let py = Path::new(DEBIAN_PYTHON);
    let run = check_python(&[py], dir.path(), Some(("--flock", 524)), &[]).run();
    assert_eq!(run.code, 1, "{}", run.stderr);
    let report = run.json();
    assert_eq!(slugs(&report), ["lock-unsupported"], "one finding for one cause: {report:#}");
    let f = finding(&report, "lock-unsupported");
    assert!(
        evidence(f, "dir.h5py_error")
            .as_str()
            .unwrap()
            .starts_with("OSError: [Errno 524] Unable to create file (unable to lock file, errno = 524"),
        "{f:#}"
    );
    assert_eq!(evidence(f, "dir.h5py_interpreter")[0], "/usr/bin/python3 (--python)");
    let fixes = f["fixes"].as_array().unwrap();
    let env_fix = fixes.iter().find(|x| x["text"] == "export HDF5_USE_FILE_LOCKING=FALSE").unwrap();
    assert_eq!(env_fix["verified"], true, "the native probe agrees");
    let h5py_fix = fixes.iter().find(|x| x["text"] == "h5py.File(path, mode, locking=False)").unwrap();
    assert_eq!(
        h5py_fix["verified"], true,
        "h5py itself re-created the file with locking=False: {f:#}"
    );
    let create = &interpreter(&report, py)["import"]["creates"][0];
    assert_eq!(create["errno"], 524);
    assert_eq!(create["without_locking"]["ok"], true);
    assert_no_leftovers(dir.path());
}

#[test]
fn lock_errno_37_under_h5py_verifies_locking_false_for_lock_nfs_nolck() {
    let dir = tempdir();
    let py = Path::new(DEBIAN_PYTHON);
    let run = check_python(&[py], dir.path(), Some(("--flock", 37)), &["--only", "locking", "--only", "python"]).run();
    assert_eq!(run.code, 1);
    let report = run.json();
    assert_eq!(slugs(&report), ["lock-nfs-nolck"], "{report:#}");
    let f = finding(&report, "lock-nfs-nolck");
    assert!(evidence(f, "dir.h5py_error").as_str().unwrap().contains("[Errno 37]"), "{f:#}");
    let h5py_fix = f["fixes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|x| x["text"] == "h5py.File(path, mode, locking=False)")
        .unwrap();
    assert_eq!(h5py_fix["verified"], true);
    assert_no_leftovers(dir.path());
}

/// The environment of one task of `srun -n 4` (no OMPI_COMM_WORLD_* or MPI_LOCALNRANKS under srun).
fn srun_task(cmd: H5doctor) -> H5doctor {
    cmd.env("SLURM_JOB_ID", "4242")
        .env("SLURM_NTASKS", "4")
        .env("SLURM_STEP_ID", "0")
        .env("SLURM_STEP_NUM_TASKS", "4")
        .env("SLURM_PROCID", "0")
}

#[test]
fn debians_h5py_picks_its_serial_build_under_srun_and_the_variable_that_fixes_it_is_verified() {
    let mpi_build = Path::new("/usr/lib/python3/dist-packages/h5py/_debian_h5py_mpi");
    assert!(mpi_build.is_dir(), "python3-h5py-mpi is missing: run scripts/dev.sh test");
    let py = Path::new(DEBIAN_PYTHON);
    let dir = tempdir();
    let run = srun_task(check_python(&[py], dir.path(), None, &["--only", "python"])).run();
    assert_eq!(run.code, 1, "{}{}", run.stdout, run.stderr);
    let report = run.json();
    assert_eq!(slugs(&report), ["h5py-no-mpi"], "{report:#}");
    let f = finding(&report, "h5py-no-mpi");
    assert_eq!(f["id"], "H5D406");
    assert_eq!(f["severity"], "error", "the MPI build is installed but not used: {f:#}");
    assert!(f["title"].as_str().unwrap().contains("(srun step, 4 tasks)"), "{f:#}");
    assert_eq!(evidence(f, "python.h5py_build"), "serial");
    assert_eq!(f["fixes"][0]["text"], "export H5PY_ALWAYS_USE_MPI=1");
    assert_eq!(f["fixes"][0]["verified"], true, "h5py re-imported with it is the MPI build: {f:#}");

    let fixed = srun_task(check_python(&[py], dir.path(), None, &["--only", "python"]))
        .env("H5PY_ALWAYS_USE_MPI", "1")
        .run();
    assert_eq!(fixed.code, 0, "{}", fixed.stdout);
    let report = fixed.json();
    assert!(slugs(&report).is_empty(), "{report:#}");
    let i = interpreter(&report, py);
    assert_eq!(i["h5py"]["debian_selects"], "mpi");
    assert_eq!(i["h5py"]["mpi"], true);
    assert_eq!(i["import"]["mpi"], true);
    assert_eq!(i["import"]["h5py_module"], "h5py._debian_h5py_mpi");
    assert_no_leftovers(dir.path());
}

/// A PyPI h5py (always serial) in an srun step: the rebuild line names the parallel HDF5 this node really
/// has (Debian's Open MPI build, found by its header) and the compiler wrapper of that MPI, with this venv's
/// Python and its h5py release, where it used to say `CC=mpicc ... HDF5_DIR=/path/to/parallel-hdf5`.
/// Not verified on the spot (a build takes minutes): the test checks that what it names is real.
#[test]
fn a_serial_wheel_in_an_srun_step_gets_a_rebuild_line_naming_the_nodes_parallel_hdf5_and_its_mpicc() {
    let env = pypi_h5py();
    let py = env.python();
    let dir = tempdir();
    let run = srun_task(check_python(&[&py], dir.path(), None, &["--only", "python"])).run();
    assert_eq!(
        run.code, 0,
        "a warning only (no Debian MPI build to escalate): {}{}",
        run.stdout, run.stderr
    );
    let report = run.json();
    assert_eq!(slugs(&report), ["h5py-no-mpi"], "{report:#}");
    let f = finding(&report, "h5py-no-mpi");
    let version = interpreter(&report, &py)["h5py"]["location"]["version"]
        .as_str()
        .unwrap()
        .to_string();
    let rebuild: Vec<&Value> = f["fixes"].as_array().unwrap().iter().filter(|x| x["kind"] == "rebuild").collect();
    assert_eq!(rebuild.len(), 1, "{f:#}");
    let prefix = "/usr/lib/x86_64-linux-gnu/hdf5/openmpi";
    assert_eq!(
        rebuild[0]["text"],
        format!(
            "CC=/usr/bin/mpicc.openmpi HDF5_MPI=ON HDF5_DIR={prefix} {} -m pip install --no-binary=h5py --no-build-isolation h5py=={version}",
            py.display()
        ),
        "{f:#}"
    );
    assert_eq!(rebuild[0]["verified"], false);
    assert!(
        rebuild[0]["note"].as_str().unwrap().starts_with(&format!(
            "HDF5 1.10.8 built with openmpi at {prefix} (its H5pubconf.h says H5_HAVE_PARALLEL), compiled with that MPI's wrapper /usr/bin/mpicc.openmpi"
        )),
        "{f:#}"
    );
    assert!(!run.stdout.contains("/path/to/"), "{}", run.stdout);
    // What it names is real: Open MPI's wrapper, and a parallel HDF5 with its library.
    let wrapper = std::process::Command::new("/usr/bin/mpicc.openmpi")
        .arg("--showme:version")
        .output()
        .unwrap();
    let said = String::from_utf8_lossy(&wrapper.stdout).to_string() + &String::from_utf8_lossy(&wrapper.stderr);
    assert!(said.contains("Open MPI"), "{said}");
    let pubconf = std::fs::read_to_string(format!("{prefix}/include/H5pubconf.h")).unwrap();
    assert!(pubconf.contains("#define H5_HAVE_PARALLEL 1"));
    assert!(Path::new(&format!("{prefix}/lib/libhdf5.so")).exists());
    assert_no_leftovers(dir.path());
}

#[test]
fn a_preloaded_foreign_libhdf5_is_h5py_hdf5_mismatch() {
    let env = pypi_h5py();
    let py = env.python();
    let dir = tempdir();
    let preload = "/usr/lib/x86_64-linux-gnu/libhdf5_serial.so.103";
    let run = check_python(&[&py], dir.path(), None, &["--only", "python"])
        .env("LD_PRELOAD", preload)
        .run();
    assert_eq!(run.code, 1, "{}{}", run.stdout, run.stderr);
    let report = run.json();
    assert_eq!(slugs(&report), ["h5py-hdf5-mismatch"], "{report:#}");
    let f = finding(&report, "h5py-hdf5-mismatch");
    assert_eq!(f["fixes"][0]["text"], "unset LD_PRELOAD");
    let preloaded = evidence(f, "python.hdf5_preloaded")[0].as_str().unwrap();
    assert!(
        preloaded.starts_with(preload) && preloaded.ends_with("(HDF5 1.10.8)"),
        "{preloaded}"
    );
    let i = interpreter(&report, &py);
    let bundled = i["h5py"]["libhdf5"]["hdf5_version"].as_str().unwrap();
    assert_ne!(bundled, "1.10.8");
    let warned = format!("h5py is running against HDF5 1.10.8 when it was built against {bundled}");
    assert!(
        i["import"]["warnings"]
            .as_array()
            .unwrap()
            .iter()
            .any(|w| w.as_str().unwrap().contains(&warned)),
        "the import confirms it with h5py's own warning: {:#}",
        i["import"]
    );
    assert_no_leftovers(dir.path());
}

#[test]
fn numpy_older_than_h5py_needs_is_numpy_capi_version_when_facts_are_replayed() {
    // No NumPy old enough for Debian's h5py has a wheel for this Python, so the real facts of
    // /usr/bin/python3 are replayed with its NumPy downgraded on paper to 1.21 (C-API 0xe).
    let dir = tempdir();
    let py = Path::new(DEBIAN_PYTHON);
    let run = check_python(&[py], dir.path(), None, &["--only", "python", "--no-python-import"]).run();
    let mut facts = run.json()["facts"].clone();
    let numpy = &mut facts["python"]["interpreters"][0]["numpy"];
    numpy["location"]["version"] = "1.21.6".into();
    numpy["capi"] = 0xe.into();
    let store = tempdir();
    let file = store.path().join("node.json");
    std::fs::write(&file, serde_json::to_string(&facts).unwrap()).unwrap();
    let replay = H5doctor::new(&["check", "--json", "--facts", file.to_str().unwrap()]).run();
    assert_eq!(replay.code, 1, "{}", replay.stdout);
    let report = replay.json();
    assert_eq!(slugs(&report), ["numpy-capi-version"], "{report:#}");
    let f = finding(&report, "numpy-capi-version");
    assert!(
        f["title"]
            .as_str()
            .unwrap()
            .ends_with("NumPy 1.21.6 (C-API 0xe) is older than h5py 3.7.0 needs (C-API 0x10)"),
        "{f:#}"
    );
    assert_eq!(f["fixes"][0]["text"], "python -m pip install --upgrade numpy");
}

#[test]
fn a_hanging_interpreter_is_inconclusive_and_the_run_completes() {
    let tools = tempdir();
    let fake = tools.path().join("python3");
    std::fs::write(&fake, "#!/bin/sh\nexec sleep 60\n").unwrap();
    std::fs::set_permissions(&fake, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let dir = tempdir();
    let start = Instant::now();
    let run = check_python(&[&fake], dir.path(), None, &["--only", "python", "--timeout", "1"]).run();
    assert!(
        start.elapsed() < Duration::from_secs(15),
        "the run must end soon after the timeouts"
    );
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    let report = run.json();
    assert!(slugs(&report).is_empty(), "no finding on missing evidence: {report:#}");
    let inconclusive = report["inconclusive"].as_array().unwrap();
    assert!(
        inconclusive.iter().any(|i| i["group"] == "python"
            && i["scope"]["kind"] == "interpreter"
            && i["reason"].as_str().unwrap().contains("timed out after 1 s")),
        "{report:#}"
    );
    assert_no_leftovers(dir.path());
}

#[test]
fn a_missing_python_is_a_usage_error() {
    let run = H5doctor::new(&["check", "--python", "/nonexistent/bin/python"]).run();
    assert_eq!(run.code, 2);
    assert!(
        run.stderr.contains("--python /nonexistent/bin/python: no such file"),
        "{}",
        run.stderr
    );
}

#[test]
fn a_half_removed_h5py_is_h5py_import_failed_with_its_traceback() {
    // What an interrupted `pip uninstall` or a partial copy of site-packages leaves: h5py is there, but
    // one of its extension modules is gone. No specific rule explains it; the catch-all shows the error.
    let env = venv("h5py-3.16-half-removed", &["h5py==3.16.0", "numpy==2.4.6"], Deps::Resolve);
    let h5py_dir = env.site_packages().join("h5py");
    for entry in std::fs::read_dir(&h5py_dir).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        if name.starts_with("_errors.") && name.ends_with(".so") {
            std::fs::remove_file(&path).unwrap();
        }
    }
    let py = env.python();
    let dir = tempdir();
    let run = check_python(&[&py], dir.path(), None, &[]).run();
    assert_eq!(run.code, 1, "{}{}", run.stdout, run.stderr);
    let report = run.json();
    assert_eq!(slugs(&report), ["h5py-import-failed"], "{report:#}");
    let f = finding(&report, "h5py-import-failed");
    assert_eq!(f["severity"], "error");
    assert!(f["title"].as_str().unwrap().contains("`import numpy, h5py` fails"), "{f:#}");
    assert!(
        f["title"].as_str().unwrap().contains("_errors"),
        "the import error names the missing module: {f:#}"
    );
    assert!(f["fixes"][0]["text"]
        .as_str()
        .unwrap()
        .starts_with("h5doctor facts --json > node.json"));
    assert_no_leftovers(dir.path());
}

/// A bare venv of Debian's Python whose `.pth` file writes its process id to $H5DOCTOR_TEST_STARTS at every
/// interpreter start (the venv's `lib64 -> lib` makes `site` read the file twice per start) (and sleeps when $H5DOCTOR_TEST_HANG is set): it counts what h5doctor starts.
fn counting_venv(root: &Path) -> std::path::PathBuf {
    let made = std::process::Command::new(DEBIAN_PYTHON)
        .args(["-m", "venv", "--without-pip"])
        .arg(root)
        .status()
        .expect("python3 -m venv (Debian: python3-venv)");
    assert!(
        made.success(),
        "python3 -m venv --without-pip failed (Debian: apt-get install python3-venv)"
    );
    let site = std::fs::read_dir(root.join("lib"))
        .unwrap()
        .map(|e| e.unwrap().path().join("site-packages"))
        .find(|p| p.is_dir())
        .expect("the venv's site-packages");
    // Debian's own sitecustomize comes first on sys.path; a .pth line starting with `import` runs anyway.
    std::fs::write(
        site.join("h5doctor_test_count_starts.pth"),
        "import os, time; log = open(os.environ['H5DOCTOR_TEST_STARTS'], 'a'); log.write('%d\\n' % os.getpid()); log.close(); \
         os.environ.get('H5DOCTOR_TEST_HANG') and time.sleep(60)\n",
    )
    .unwrap();
    root.join("bin/python3")
}

#[test]
fn each_interpreter_starts_once_for_its_query_and_its_import() {
    let scratch = tempdir();
    let py = counting_venv(&scratch.path().join("venv"));
    let starts = scratch.path().join("starts.log");
    let count = || {
        let pids: std::collections::BTreeSet<String> = std::fs::read_to_string(&starts)
            .unwrap_or_default()
            .lines()
            .map(String::from)
            .collect();
        pids.len()
    };
    let dir = tempdir();
    let run = check_python(&[&py], dir.path(), None, &["--only", "python"])
        .env("H5DOCTOR_TEST_STARTS", &starts)
        .run();
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    let report = run.json();
    let facts = interpreter(&report, &py);
    // The job-view answer and the import both came from one start.
    assert_eq!(facts["status"], "ok", "{facts:#}");
    assert!(facts["version"].as_str().unwrap().starts_with("3."), "{facts:#}");
    assert!(facts["sys_path"]
        .as_array()
        .unwrap()
        .iter()
        .any(|p| p.as_str().unwrap().ends_with("site-packages")));
    assert_eq!(facts["import"]["status"], "not-run", "no h5py in this venv: {facts:#}");
    assert_eq!(slugs(&report), ["h5py-not-installed"]);
    assert_eq!(count(), 1, "the interpreter was started more than once for one check");
    // Without the import, the query runs alone: still one start.
    std::fs::remove_file(&starts).unwrap();
    let run = check_python(&[&py], dir.path(), None, &["--only", "python", "--no-python-import"])
        .env("H5DOCTOR_TEST_STARTS", &starts)
        .run();
    assert_eq!(interpreter(&run.json(), &py)["version"], facts["version"]);
    assert_eq!(count(), 1);
    // Hung at start-up: the query's timeout is reported as a timeout, once, and the run ends.
    let started = Instant::now();
    let run = check_python(&[&py], dir.path(), None, &["--only", "python", "--timeout", "1"])
        .env("H5DOCTOR_TEST_STARTS", &starts)
        .env("H5DOCTOR_TEST_HANG", "1")
        .run();
    assert!(
        started.elapsed() < Duration::from_secs(15),
        "the run must end soon after the timeout"
    );
    let report = run.json();
    let reason = interpreter(&report, &py)["reason"].as_str().unwrap_or_default().to_string();
    assert!(reason.contains("timed out after 1 s and was killed"), "{report:#}");
    assert_no_leftovers(dir.path());
}
