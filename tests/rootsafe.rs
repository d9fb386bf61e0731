//! Safe as root (issue 16): run as root, h5doctor executes nothing a non-root user could have written. Each
//! test plants a program that would write a marker file if it ever ran, in a place a user (`nobody`) controls,
//! runs h5doctor as root, and checks that the marker is absent and the part is inconclusive with the reason.
//! A control plants the same program root-owned and sees it run, so a missing marker proves a refusal.
//!
//! These tests need root (CI runs as root): as any other user they fail with a message saying so.

mod common;
mod python_envs;

use common::H5doctor;
use python_envs::{venv, Deps};
use serde_json::Value;
use std::os::unix::fs::{chown, PermissionsExt};
use std::path::{Path, PathBuf};

const NOBODY: u32 = 65534;

fn require_root() {
    assert!(
        unsafe { libc::geteuid() } == 0,
        "tests/rootsafe.rs checks what h5doctor does as root: run it as root (CI does)"
    );
}

/// A script that writes `marker` when run, then behaves like python3 (so a run would otherwise succeed).
fn plant_python(path: &Path, marker: &Path) {
    std::fs::write(
        path,
        format!("#!/bin/sh\necho ran >> '{}'\nexec /usr/bin/python3 \"$@\"\n", marker.display()),
    )
    .unwrap();
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).unwrap();
}

fn give_to_nobody(path: &Path) {
    chown(path, Some(NOBODY), Some(NOBODY)).unwrap();
}

/// A root-owned scratch directory (mode 0755) with a `dir` to probe.
fn scratch() -> (tempfile::TempDir, PathBuf) {
    let tmp = tempfile::tempdir().unwrap();
    std::fs::set_permissions(tmp.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let dir = tmp.path().join("dir");
    std::fs::create_dir(&dir).unwrap();
    (tmp, dir)
}

/// `check --only python --json` as root, with PATH and the other variables as given.
fn check_python(dir: &Path, extra: &[&str]) -> H5doctor {
    let format = if extra.contains(&"--format") { None } else { Some("--json") };
    let mut args: Vec<&str> = vec!["check"];
    args.extend(format);
    args.extend(["--only", "python", "--no-default-dirs", "--dir", dir.to_str().unwrap()]);
    args.extend_from_slice(extra);
    [
        "VIRTUAL_ENV",
        "CONDA_PREFIX",
        "PYTHONPATH",
        "PYTHONHOME",
        "PYTHONUSERBASE",
        "LD_PRELOAD",
        "LD_LIBRARY_PATH",
    ]
    .iter()
    .fold(H5doctor::new(&args), |cmd, var| cmd.env_remove(var))
}

fn interpreters(report: &Value) -> Vec<Value> {
    report["facts"]["python"]["interpreters"].as_array().cloned().unwrap_or_default()
}

fn interpreter(report: &Value, path: &Path) -> Value {
    interpreters(report)
        .into_iter()
        .find(|i| i["path"] == path.to_str().unwrap())
        .unwrap_or_else(|| panic!("{} was not diagnosed: {report:#}", path.display()))
}

/// The interpreter is inconclusive (and so is its import) with a reason starting `expected`.
fn assert_refused(report: &Value, path: &Path, expected: &str) {
    let i = interpreter(report, path);
    assert_eq!(i["status"], "inconclusive", "{i:#}");
    let reason = i["reason"].as_str().unwrap_or_default();
    assert!(reason.starts_with(expected), "reason {reason:?} should start with {expected:?}");
    assert_eq!(i["import"]["status"], "inconclusive", "{i:#}");
}

fn assert_not_run(marker: &Path) {
    assert!(
        !marker.exists(),
        "the planted program ran as root: {}",
        std::fs::read_to_string(marker).unwrap_or_default()
    );
}

#[test]
fn a_root_owned_python_on_path_runs_so_the_markers_prove_something() {
    require_root();
    let (tmp, dir) = scratch();
    let bin = tmp.path().join("bin");
    std::fs::create_dir(&bin).unwrap();
    std::fs::set_permissions(&bin, std::fs::Permissions::from_mode(0o755)).unwrap();
    let marker = tmp.path().join("marker");
    plant_python(&bin.join("python3"), &marker);
    let run = check_python(&dir, &[])
        .env("PATH", format!("{}:/usr/bin:/bin", bin.display()))
        .run();
    let report = run.json();
    assert_eq!(interpreter(&report, &bin.join("python3"))["status"], "ok", "{report:#}");
    assert!(marker.exists(), "the root-owned control did not run: {}", run.stderr);
}

#[test]
fn a_python3_in_a_nobody_owned_directory_first_on_path_is_not_run_as_root() {
    require_root();
    let (tmp, dir) = scratch();
    let bin = tmp.path().join("bin");
    std::fs::create_dir(&bin).unwrap();
    let marker = tmp.path().join("marker");
    plant_python(&bin.join("python3"), &marker);
    give_to_nobody(&bin);
    let run = check_python(&dir, &[])
        .env("PATH", format!("{}:/usr/bin:/bin", bin.display()))
        .run();
    let report = run.json();
    assert_refused(
        &report,
        &bin.join("python3"),
        &format!(
            "not run as root: {} is writable by uid 65534 ({} is owned by it)",
            bin.join("python3").display(),
            bin.display()
        ),
    );
    // The system interpreter is still diagnosed: one refusal does not stop the group.
    assert_eq!(interpreter(&report, Path::new("/usr/bin/python3"))["status"], "ok");
    assert_not_run(&marker);
    // The human report says so too: the reason is shown, never silent.
    let human = check_python(&dir, &["--format", "human"])
        .env("PATH", format!("{}:/usr/bin:/bin", bin.display()))
        .env("NO_COLOR", "1")
        .run();
    assert!(human.stdout.contains("not run as root"), "{}", human.stdout);
    assert_not_run(&marker);
}

#[test]
fn a_user_owned_venv_is_not_run_as_root() {
    require_root();
    let (tmp, dir) = scratch();
    let venv = tmp.path().join("venv");
    // A venv's python is a symlink to the root-owned base interpreter; what runs as root is the user's
    // site-packages: a sitecustomize there would write the marker at start-up.
    let site = make_venv(&venv);
    let marker = tmp.path().join("marker");
    std::fs::write(
        site.join("sitecustomize.py"),
        format!("open({:?}, 'a').write('ran\\n')\n", marker.display().to_string()),
    )
    .unwrap();
    let status = std::process::Command::new("chown")
        .args(["-R", "-h", "65534:65534"])
        .arg(&venv)
        .status()
        .unwrap();
    assert!(status.success());
    let python = venv.join("bin/python");
    let run = check_python(&dir, &[]).env("VIRTUAL_ENV", &venv).env("PATH", "/usr/bin:/bin").run();
    let report = run.json();
    assert_refused(
        &report,
        &python,
        &format!("not run as root: {} is writable by uid 65534", python.display()),
    );
    assert_not_run(&marker);
}

#[test]
fn a_user_writable_directory_in_the_middle_of_a_root_owned_path_is_not_trusted() {
    require_root();
    let (tmp, dir) = scratch();
    // root-owned a/, world-writable (no sticky bit) a/mid/, root-owned a/mid/bin/python3.
    let mid = tmp.path().join("a/mid");
    let bin = mid.join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    for d in [tmp.path().join("a"), bin.clone()] {
        std::fs::set_permissions(&d, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    std::fs::set_permissions(&mid, std::fs::Permissions::from_mode(0o777)).unwrap();
    let marker = tmp.path().join("marker");
    let python = bin.join("python3");
    plant_python(&python, &marker);
    let run = check_python(&dir, &[])
        .env("PATH", format!("{}:/usr/bin:/bin", bin.display()))
        .run();
    assert_refused(
        &run.json(),
        &python,
        &format!(
            "not run as root: {} is writable by every user ({} is world-writable)",
            python.display(),
            mid.display()
        ),
    );
    // The same through a symlink from a root-owned directory: the link's target is walked too.
    let clean = tmp.path().join("clean");
    std::fs::create_dir(&clean).unwrap();
    std::fs::set_permissions(&clean, std::fs::Permissions::from_mode(0o755)).unwrap();
    std::os::unix::fs::symlink(&python, clean.join("python3")).unwrap();
    let run = check_python(&dir, &[])
        .env("PATH", format!("{}:/usr/bin:/bin", clean.display()))
        .run();
    assert_refused(
        &run.json(),
        &clean.join("python3"),
        &format!("not run as root: {} is writable by every user", clean.join("python3").display()),
    );
    assert_not_run(&marker);
}

#[test]
fn a_pyenv_style_shim_owned_by_a_user_is_not_run_as_root() {
    require_root();
    let (tmp, dir) = scratch();
    let root = tmp.path().join("pyenv");
    let shims = root.join("shims");
    std::fs::create_dir_all(&shims).unwrap();
    let marker = tmp.path().join("marker");
    // A shim as pyenv writes it: a bash script that execs pyenv, which picks the real interpreter.
    let shim = shims.join("python3");
    std::fs::write(
        &shim,
        format!(
            "#!/usr/bin/env bash\nset -e\necho ran >> '{}'\nexec /usr/bin/python3 \"$@\"\n",
            marker.display()
        ),
    )
    .unwrap();
    std::fs::set_permissions(&shim, std::fs::Permissions::from_mode(0o755)).unwrap();
    let status = std::process::Command::new("chown")
        .args(["-R", "65534:65534"])
        .arg(&root)
        .status()
        .unwrap();
    assert!(status.success());
    let run = check_python(&dir, &[])
        .env("PYENV_ROOT", &root)
        .env("PATH", format!("{}:/usr/bin:/bin", shims.display()))
        .run();
    assert_refused(
        &run.json(),
        &shim,
        &format!("not run as root: {} is writable by uid 65534", shim.display()),
    );
    assert_not_run(&marker);

    // A root-owned shim whose `#!/usr/bin/env bash` finds a user's bash first on PATH is refused too.
    let (tmp2, _) = scratch();
    let trusted_shims = tmp2.path().join("shims");
    let user_bin = tmp2.path().join("userbin");
    std::fs::create_dir_all(&trusted_shims).unwrap();
    std::fs::create_dir_all(&user_bin).unwrap();
    std::fs::set_permissions(&trusted_shims, std::fs::Permissions::from_mode(0o755)).unwrap();
    let root_shim = trusted_shims.join("python3");
    std::fs::write(&root_shim, "#!/usr/bin/env bash\nexec /usr/bin/python3 \"$@\"\n").unwrap();
    std::fs::set_permissions(&root_shim, std::fs::Permissions::from_mode(0o755)).unwrap();
    std::fs::write(
        user_bin.join("bash"),
        format!(
            "#!/bin/sh\necho ran >> '{}'\nshift\nexec /usr/bin/python3 \"$@\"\n",
            marker.display()
        ),
    )
    .unwrap();
    std::fs::set_permissions(user_bin.join("bash"), std::fs::Permissions::from_mode(0o755)).unwrap();
    give_to_nobody(&user_bin.join("bash"));
    give_to_nobody(&user_bin);
    let run = check_python(&dir, &[])
        .env("PATH", format!("{}:{}:/usr/bin:/bin", user_bin.display(), trusted_shims.display()))
        .run();
    assert_refused(
        &run.json(),
        &root_shim,
        &format!(
            "not run as root: {} (the interpreter of {}) is writable by uid 65534",
            user_bin.join("bash").display(),
            root_shim.display()
        ),
    );
    assert_not_run(&marker);
}

#[test]
fn pythonpath_into_a_user_directory_keeps_a_root_owned_python_from_running() {
    require_root();
    let (tmp, dir) = scratch();
    let user_lib = tmp.path().join("userlib");
    std::fs::create_dir(&user_lib).unwrap();
    let marker = tmp.path().join("marker");
    // `encodings` is imported by every interpreter at start-up, before any script runs.
    std::fs::create_dir(user_lib.join("encodings")).unwrap();
    std::fs::write(
        user_lib.join("encodings/__init__.py"),
        format!("open({:?}, 'a').write('ran\\n')\n", marker.display().to_string()),
    )
    .unwrap();
    give_to_nobody(&user_lib);
    let run = check_python(&dir, &[])
        .env("PATH", "/usr/bin:/bin")
        .env("PYTHONPATH", &user_lib)
        .run();
    assert_refused(
        &run.json(),
        Path::new("/usr/bin/python3"),
        &format!(
            "not run as root: /usr/bin/python3 would load code from PYTHONPATH entry {}, which is writable by uid 65534",
            user_lib.display()
        ),
    );
    assert_not_run(&marker);
}

#[test]
fn an_explicit_python_is_run_as_root_only_with_allow_exec_as_root() {
    require_root();
    let (tmp, dir) = scratch();
    let marker = tmp.path().join("marker");
    // Root-owned, in a root-owned directory: trusted, but named on the command line.
    let python = tmp.path().join("python3");
    plant_python(&python, &marker);
    let args = ["--no-default-pythons", "--python", python.to_str().unwrap()];
    let run = check_python(&dir, &args).run();
    assert_refused(
        &run.json(),
        &python,
        &format!(
            "not run as root: {} was given with --python; add --allow-exec-as-root to run it as root",
            python.display()
        ),
    );
    assert_not_run(&marker);
    // A nobody-owned one, allowed explicitly, runs: the admin vouched for it.
    give_to_nobody(&python);
    let mut allowed = args.to_vec();
    allowed.push("--allow-exec-as-root");
    let run = check_python(&dir, &allowed).run();
    assert_eq!(interpreter(&run.json(), &python)["status"], "ok", "{}", run.stderr);
    assert!(marker.exists(), "--allow-exec-as-root did not run the interpreter");
}

#[test]
fn h5doctor_probe_pointing_at_a_user_file_is_not_run_as_root() {
    require_root();
    let (tmp, dir) = scratch();
    let marker = tmp.path().join("marker");
    let fake = tmp.path().join("h5doctor-probe");
    std::fs::write(&fake, format!("#!/bin/sh\necho ran >> '{}'\n", marker.display())).unwrap();
    std::fs::set_permissions(&fake, std::fs::Permissions::from_mode(0o755)).unwrap();
    give_to_nobody(&fake);
    let run = common::check_dir(&dir, None, &["--only", "hdf5"])
        .env("H5DOCTOR_PROBE", &fake)
        .run();
    let report = run.json();
    let hdf5 = &report["facts"]["hdf5"];
    assert_eq!(hdf5["status"], "inconclusive", "{hdf5:#}");
    assert_eq!(
        hdf5["reason"].as_str().unwrap_or_default(),
        format!("not run as root: {} is writable by uid 65534", fake.display()),
        "{hdf5:#}"
    );
    assert_not_run(&marker);
    // The plugins group, which runs the same probe, refuses it too.
    let run = common::check_dir(&dir, None, &["--only", "plugins"])
        .env("H5DOCTOR_PROBE", &fake)
        .run();
    assert!(run.stdout.contains("not run as root"), "{}", run.stdout);
    assert_not_run(&marker);
}

/// The report's inconclusive reasons that name `path`.
fn inconclusive_reasons_naming<'a>(report: &'a Value, path: &Path) -> Vec<&'a str> {
    let path = path.to_str().unwrap();
    report["inconclusive"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|i| i["reason"].as_str())
        .filter(|r| r.contains(path))
        .collect()
}

/// `python3 -m venv --without-pip` at `venv` (root-owned); returns its site-packages directory.
fn make_venv(venv: &Path) -> PathBuf {
    let made = std::process::Command::new("/usr/bin/python3")
        .args(["-m", "venv", "--without-pip"])
        .arg(venv)
        .status()
        .unwrap();
    assert!(made.success(), "python3 -m venv failed: install python3-venv");
    std::fs::read_dir(venv.join("lib"))
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path()
        .join("site-packages")
}

#[test]
fn a_pth_file_naming_a_user_directory_keeps_a_root_owned_venv_from_running() {
    require_root();
    let (tmp, dir) = scratch();
    let venv = tmp.path().join("venv");
    let site = make_venv(&venv);
    // A directory a .pth file puts on sys.path, holding an `h5py` (so the import probe imports) and a
    // `numpy` that writes the marker when imported.
    let added = tmp.path().join("added");
    std::fs::create_dir_all(added.join("numpy")).unwrap();
    std::fs::create_dir_all(added.join("h5py")).unwrap();
    std::fs::write(added.join("h5py/__init__.py"), "").unwrap();
    std::fs::set_permissions(&added, std::fs::Permissions::from_mode(0o755)).unwrap();
    let marker = tmp.path().join("marker");
    std::fs::write(
        added.join("numpy/__init__.py"),
        format!("open({:?}, 'a').write('ran\\n')\n", marker.display().to_string()),
    )
    .unwrap();
    let pth = site.join("site-extra.pth");
    std::fs::write(&pth, format!("# a site's extra packages\n{}\n", added.display())).unwrap();
    let python = venv.join("bin/python");
    let run_check = || {
        check_python(&dir, &[])
            .env("VIRTUAL_ENV", &venv)
            .env("PATH", "/usr/bin:/bin")
            .run()
            .json()
    };

    // Control: everything root-owned, so it runs, and the import probe imports the planted numpy.
    let report = run_check();
    assert_eq!(interpreter(&report, &python)["status"], "ok", "{report:#}");
    assert!(marker.exists(), "the .pth-added numpy was not imported: the marker proves nothing");
    std::fs::remove_file(&marker).unwrap();

    // The added directory becomes a user's: root would run that user's code.
    give_to_nobody(&added);
    let report = run_check();
    assert_refused(
        &report,
        &python,
        &format!(
            "not run as root: {} would add {} to sys.path (named by {}), which is writable by uid 65534",
            python.display(),
            added.display(),
            pth.display()
        ),
    );
    assert_not_run(&marker);

    // The directory root's again, the .pth file a user's (its `import` lines would run as root).
    chown(&added, Some(0), Some(0)).unwrap();
    give_to_nobody(&pth);
    let report = run_check();
    assert_refused(
        &report,
        &python,
        &format!(
            "not run as root: {} would run the .pth file {}, which is writable by uid 65534",
            python.display(),
            pth.display()
        ),
    );
    assert_not_run(&marker);
}

/// A copy of h5doctor-probe in `bin` that needs `library` and finds it through RUNPATH `$ORIGIN/../lib`.
fn probe_needing(bin: &Path, library: &str) -> PathBuf {
    let probe = bin.join("h5doctor-probe");
    std::fs::copy(common::bin("h5doctor-probe"), &probe).unwrap();
    // One change per patchelf call (0.14 asserts when given both at once).
    for change in [["--set-rpath", "$ORIGIN/../lib"], ["--add-needed", library]] {
        let patched = std::process::Command::new("patchelf")
            .args(change)
            .arg(&probe)
            .status()
            .expect("patchelf: install patchelf");
        assert!(patched.success(), "patchelf {change:?} failed");
    }
    probe
}

/// `check --only hdf5 --json` in `dir`, with `probe` as the HDF5 probe.
fn check_hdf5_with(dir: &Path, probe: &Path) -> Value {
    common::check_dir(dir, None, &["--only", "hdf5"])
        .env("H5DOCTOR_PROBE", probe)
        .run()
        .json()
}

#[test]
fn a_runpath_into_a_user_directory_keeps_a_root_owned_probe_from_running() {
    require_root();
    let (tmp, dir) = scratch();
    let bin = tmp.path().join("bin");
    let lib = tmp.path().join("lib");
    for d in [&bin, &lib] {
        std::fs::create_dir(d).unwrap();
        std::fs::set_permissions(d, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    // A library whose constructor writes the marker, and a copy of h5doctor-probe that needs it and finds
    // it through RUNPATH $ORIGIN/../lib.
    let marker = tmp.path().join("marker");
    let source = tmp.path().join("marker.c");
    std::fs::write(
        &source,
        format!(
            "#include <stdio.h>\n__attribute__((constructor)) static void planted(void) {{ FILE *f = fopen(\"{}\", \"a\"); if (f) {{ fputs(\"ran\\n\", f); fclose(f); }} }}\n",
            marker.display()
        ),
    )
    .unwrap();
    let built = std::process::Command::new("cc")
        .args(["-shared", "-fPIC", "-o"])
        .arg(lib.join("libh5dmarker.so"))
        .arg(&source)
        .status()
        .expect("cc: install build-essential");
    assert!(built.success());
    let probe = probe_needing(&bin, "libh5dmarker.so");
    let run_check = || check_hdf5_with(&dir, &probe);

    // Control: all root-owned, so the probe runs and loads the library.
    let report = run_check();
    assert_eq!(report["facts"]["hdf5"]["status"], "ok", "{:#}", report["facts"]["hdf5"]);
    assert!(marker.exists(), "the RUNPATH library was not loaded: the marker proves nothing");
    std::fs::remove_file(&marker).unwrap();

    // The RUNPATH directory becomes a user's: a library planted there would load as root.
    give_to_nobody(&lib);
    let report = run_check();
    let hdf5 = &report["facts"]["hdf5"];
    assert_eq!(hdf5["status"], "inconclusive", "{hdf5:#}");
    assert_eq!(
        hdf5["reason"].as_str().unwrap_or_default(),
        format!(
            "not run as root: {probe} would load libraries from the RUNPATH entry $ORIGIN/../lib ({bin}/../lib) of {probe}, \
             which is writable by uid 65534 ({lib} is owned by it)",
            probe = probe.display(),
            bin = bin.display(),
            lib = lib.display()
        ),
        "{hdf5:#}"
    );
    assert_not_run(&marker);

    // A RUNPATH entry that does not exist in a sticky world-writable directory: any user may create it.
    chown(&lib, Some(0), Some(0)).unwrap();
    let missing = format!("/tmp/h5doctor-rootsafe-missing-{}", std::process::id());
    let patched = std::process::Command::new("patchelf")
        .args(["--set-rpath", &format!("{missing}/lib:$ORIGIN/../lib")])
        .arg(&probe)
        .status()
        .unwrap();
    assert!(patched.success());
    let report = run_check();
    let hdf5 = &report["facts"]["hdf5"];
    assert_eq!(
        hdf5["reason"].as_str().unwrap_or_default(),
        format!(
            "not run as root: {probe} would load libraries from the RUNPATH entry {missing}/lib of {probe}, \
             which does not exist, and any user may create it (/tmp is world-writable)",
            probe = probe.display()
        ),
        "{hdf5:#}"
    );
    assert_not_run(&marker);
}

#[test]
fn an_interpreter_not_run_as_root_still_gets_what_its_file_tells() {
    require_root();
    let (tmp, dir) = scratch();
    let bin = tmp.path().join("bin");
    std::fs::create_dir(&bin).unwrap();
    // A copy of the system interpreter (an ELF file) in a directory nobody owns, reached through a symlink.
    let real = bin.join("python3.11");
    std::fs::copy(std::fs::canonicalize("/usr/bin/python3").unwrap(), &real).unwrap();
    std::os::unix::fs::symlink("python3.11", bin.join("python3")).unwrap();
    give_to_nobody(&real);
    give_to_nobody(&bin);
    let python = bin.join("python3");
    let report = check_python(&dir, &[])
        .env("PATH", format!("{}:/usr/bin:/bin", bin.display()))
        .run()
        .json();
    let refusal = format!(
        "not run as root: {} is writable by uid 65534 ({} is owned by it)",
        python.display(),
        bin.display()
    );
    assert_refused(&report, &python, &refusal);
    let seen = &interpreter(&report, &python)["not_run"];
    assert_eq!(seen["kind"], "elf", "{seen:#}");
    assert_eq!(seen["file"], real.to_str().unwrap());
    assert_eq!(seen["owner_uid"], NOBODY);
    assert_eq!(seen["mode"], "0755");
    assert_eq!(seen["version_from_name"], "3.11");
    assert_eq!(seen["elf_arch"], "ELFCLASS64 X86_64");
    assert_eq!(seen["elf_interpreter"], "/lib64/ld-linux-x86-64.so.2");
    assert!(seen["needed"].as_array().unwrap().iter().any(|n| n == "libc.so.6"), "{seen:#}");
    // The report says which part was skipped, why, and what the file alone tells.
    let reasons = inconclusive_reasons_naming(&report, &python);
    assert_eq!(
        reasons,
        [format!(
            "{refusal}; skipped asking it about itself (version, sys.path), the h5py/NumPy/mpi4py scan of its sys.path and \
             the import probe; from the file alone: ELFCLASS64 X86_64, Python 3.11 by its name, file {}, owner uid 65534, mode 0755",
            real.display()
        )],
        "{:#}",
        report["inconclusive"]
    );
    // A planted script is described as one, with its #! line.
    let marker = tmp.path().join("marker");
    std::fs::remove_file(bin.join("python3")).unwrap();
    plant_python(&bin.join("python3"), &marker);
    give_to_nobody(&bin.join("python3"));
    let report = check_python(&dir, &[])
        .env("PATH", format!("{}:/usr/bin:/bin", bin.display()))
        .run()
        .json();
    let seen = &interpreter(&report, &python)["not_run"];
    assert_eq!(seen["kind"], "script", "{seen:#}");
    assert_eq!(seen["shebang"], "#!/bin/sh");
    assert_not_run(&marker);
}

/// h5doctor picks the probe named for the job's HDF5 (here the libhdf5 on LD_LIBRARY_PATH) from `probes/`
/// beside itself; a picked probe is vetted like any other: in a directory `nobody` owns, it is not run as
/// root. The control (the same layout, root-owned) runs it and reports HDF5 1.14.5.
#[test]
fn a_probe_picked_for_the_jobs_hdf5_from_a_user_owned_directory_is_not_run_as_root() {
    require_root();
    let base = tempfile::Builder::new()
        .prefix("h5doctor-pick-")
        .tempdir_in(env!("CARGO_TARGET_TMPDIR"))
        .unwrap();
    std::fs::set_permissions(base.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let bin = base.path().join("bin");
    let probes = bin.join("probes");
    std::fs::create_dir_all(&probes).unwrap();
    for d in [&bin, &probes] {
        std::fs::set_permissions(d, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    // A hard link: h5doctor sees bin/ as its own directory (the target dir is one file system).
    std::fs::hard_link(common::bin("h5doctor"), bin.join("h5doctor")).unwrap();
    let picked = probes.join("h5doctor-probe-1.14.5-serial");
    std::fs::copy(common::matrix_probe("h5doctor-probe-1.14.5-serial"), &picked).unwrap();
    let lib = Path::new(&std::env::var("HOME").unwrap()).join(".cache/h5doctor-tests/hdf5-1.14.5-shared/lib");
    let (_tmp, dir) = scratch();
    let check = || {
        let mut cmd = std::process::Command::new(bin.join("h5doctor"));
        common::remove_uncontrolled_env(&mut cmd);
        cmd.env_remove("H5DOCTOR_PROBE")
            .env("LD_LIBRARY_PATH", &lib)
            .args([
                "check",
                "--json",
                "--no-default-dirs",
                "--no-default-pythons",
                "--only",
                "hdf5",
                "--dir",
            ])
            .arg(&dir);
        common::Run::of(cmd).json()
    };
    // Control: root-owned, so the picked probe runs.
    let report = check();
    let hdf5 = &report["facts"]["hdf5"];
    assert_eq!(hdf5["probe_choice"]["by"], "environment", "{hdf5:#}");
    assert_eq!(hdf5["probe_path"], picked.to_str().unwrap(), "{hdf5:#}");
    assert_eq!(hdf5["library"]["version"], "1.14.5", "{hdf5:#}");
    // The probes directory given to nobody: picked all the same, and refused.
    give_to_nobody(&probes);
    let report = check();
    let hdf5 = &report["facts"]["hdf5"];
    assert_eq!(hdf5["probe_path"], picked.to_str().unwrap(), "{hdf5:#}");
    assert_eq!(hdf5["status"], "inconclusive", "{hdf5:#}");
    assert_eq!(
        hdf5["reason"].as_str().unwrap_or_default(),
        format!(
            "not run as root: {} is writable by uid 65534 ({} is owned by it)",
            picked.display(),
            probes.display()
        ),
        "{hdf5:#}"
    );
    assert!(hdf5["library"].is_null(), "{hdf5:#}");
}

/// A user's venv with real h5py and NumPy wheels installed (pip, from the test wheel cache) is refused as
/// root; the report still names the h5py and NumPy versions its site-packages holds, from their install
/// metadata, without running anything of it (its planted `sitecustomize` would write the marker).
#[test]
fn a_refused_venv_still_gets_its_h5py_and_numpy_versions_from_its_layout() {
    require_root();
    // The cached venv provides pip and fills the wheel cache (target/test-wheels) on first use.
    let cached = venv("h5py-3.10-numpy-2.4", &["h5py==3.10.0", "numpy==2.4.6"], Deps::Exact);
    let (tmp, dir) = scratch();
    let venv = tmp.path().join("venv");
    let site = make_venv(&venv);
    assert_eq!(
        site,
        venv.join("lib/python3.11/site-packages"),
        "the test expects Debian's Python 3.11"
    );
    assert!(
        site.is_dir(),
        "{} is not there: the test expects Debian's Python 3.11",
        site.display()
    );
    let wheels = python_envs::target_dir().join("test-wheels");
    let out = std::process::Command::new(cached.python())
        .args([
            "-m",
            "pip",
            "install",
            "-q",
            "--no-index",
            "--no-deps",
            "--only-binary=:all:",
            "--find-links",
        ])
        .arg(&wheels)
        .arg("--target")
        .arg(&site)
        .args(["h5py==3.10.0", "numpy==2.4.6"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "pip install --target failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let marker = tmp.path().join("marker");
    std::fs::write(
        site.join("sitecustomize.py"),
        format!("open({:?}, 'a').write('ran')\n", marker.display()),
    )
    .unwrap();
    let chowned = std::process::Command::new("chown")
        .args(["-R", "65534:65534"])
        .arg(&venv)
        .status()
        .unwrap();
    assert!(chowned.success());
    let python = venv.join("bin/python3");
    let report = check_python(&dir, &[])
        .env("PATH", format!("{}:/usr/bin:/bin", venv.join("bin").display()))
        .run()
        .json();
    let i = interpreter(&report, &python);
    assert_eq!(i["status"], "inconclusive", "{i:#}");
    let seen = &i["not_run"];
    let packages: Vec<(String, String, String)> = seen["packages_from_layout"]
        .as_array()
        .unwrap_or_else(|| panic!("no packages_from_layout: {seen:#}"))
        .iter()
        .map(|p| {
            (
                p["name"].as_str().unwrap().to_string(),
                p["version"].as_str().unwrap().to_string(),
                p["metadata"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(
        packages,
        [
            (
                "h5py".into(),
                "3.10.0".into(),
                site.join("h5py-3.10.0.dist-info").display().to_string()
            ),
            (
                "numpy".into(),
                "2.4.6".into(),
                site.join("numpy-2.4.6.dist-info").display().to_string()
            ),
        ],
        "{seen:#}"
    );
    // The report's inconclusive entry says it in words.
    let said = inconclusive_reasons_naming(&report, &python);
    assert_eq!(said.len(), 1, "{:#}", report["inconclusive"]);
    assert!(
        said[0].ends_with("from the file alone: ELFCLASS64 X86_64, Python 3.11 by its name, h5py 3.10.0, NumPy 2.4.6 installed by their metadata, file /usr/bin/python3.11, owner uid 0, mode 0755"),
        "{}",
        said[0]
    );
    assert_not_run(&marker);
}

/// Builds `path`, a shared library whose constructor appends `name` to `marker`, linked with `extra`.
fn marker_library(path: &Path, name: &str, marker: &Path, extra: &[&str]) {
    let source = path.with_extension("c");
    std::fs::write(
        &source,
        format!(
            "#include <stdio.h>\n__attribute__((constructor)) static void planted(void) {{ FILE *f = fopen(\"{}\", \"a\"); if (f) {{ fputs(\"{name}\\n\", f); fclose(f); }} }}\n",
            marker.display()
        ),
    )
    .unwrap();
    let built = std::process::Command::new("cc")
        .args(["-shared", "-fPIC", "-o"])
        .arg(path)
        .arg(&source)
        .args(extra)
        .status()
        .expect("cc: install build-essential");
    assert!(built.success(), "cc {}", path.display());
    std::fs::remove_file(&source).unwrap();
}

/// One vetting walks each directory once for the ~50 libraries of a probe (ownership::Vetting); a
/// directory already found safe must not vouch for what lies below it. Two libraries the probe loads from
/// the same root-owned directory, the second through a symlink into a subdirectory: both load while all is
/// root's; when the subdirectory, or the second library's own file, becomes group-writable by a user's
/// group, the probe is refused with the component at fault named, although the first library was walked
/// through the same directory before it.
#[test]
fn a_library_beside_a_trusted_one_is_still_refused_when_its_own_directory_is_group_writable() {
    require_root();
    let (tmp, dir) = scratch();
    let (bin, lib, sub) = (tmp.path().join("bin"), tmp.path().join("lib"), tmp.path().join("lib/sub"));
    for d in [&bin, &lib, &sub] {
        std::fs::create_dir(d).unwrap();
        std::fs::set_permissions(d, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    let marker = tmp.path().join("marker");
    // lib/libh5dsecond.so -> sub/libh5dsecond.so; lib/libh5dfirst.so needs it (found through its RUNPATH
    // $ORIGIN, lib/ again), so the resolver reaches it after walking lib/ for the first.
    let second = sub.join("libh5dsecond.so");
    marker_library(&second, "second", &marker, &["-Wl,-soname,libh5dsecond.so"]);
    std::os::unix::fs::symlink("sub/libh5dsecond.so", lib.join("libh5dsecond.so")).unwrap();
    marker_library(
        &lib.join("libh5dfirst.so"),
        "first",
        &marker,
        &["-Wl,--no-as-needed", "-Wl,-rpath,$ORIGIN", second.to_str().unwrap()],
    );
    let probe = probe_needing(&bin, "libh5dfirst.so");
    let run_check = || check_hdf5_with(&dir, &probe);
    let refused = |report: &Value, expected: String| {
        let hdf5 = &report["facts"]["hdf5"];
        assert_eq!(hdf5["status"], "inconclusive", "{hdf5:#}");
        assert_eq!(hdf5["reason"].as_str().unwrap_or_default(), expected, "{hdf5:#}");
        assert_not_run(&marker);
    };

    // Control: all root's, so the probe runs and loads both libraries.
    let report = run_check();
    assert_eq!(report["facts"]["hdf5"]["status"], "ok", "{:#}", report["facts"]["hdf5"]);
    assert_eq!(
        std::fs::read_to_string(&marker).unwrap(),
        "second\nfirst\n",
        "both libraries load, so a refusal means something"
    );
    std::fs::remove_file(&marker).unwrap();

    // The subdirectory becomes writable by a user's group.
    chown(&sub, Some(0), Some(NOBODY)).unwrap();
    std::fs::set_permissions(&sub, std::fs::Permissions::from_mode(0o775)).unwrap();
    refused(
        &run_check(),
        format!(
            "not run as root: {} would load {}/../lib/libh5dsecond.so, which is writable by group 65534 ({} is group-writable)",
            probe.display(),
            bin.display(),
            sub.display()
        ),
    );

    // The subdirectory root's again, the library file itself group-writable.
    chown(&sub, Some(0), Some(0)).unwrap();
    std::fs::set_permissions(&sub, std::fs::Permissions::from_mode(0o755)).unwrap();
    chown(&second, Some(0), Some(NOBODY)).unwrap();
    std::fs::set_permissions(&second, std::fs::Permissions::from_mode(0o775)).unwrap();
    refused(
        &run_check(),
        format!(
            "not run as root: {} would load {}/../lib/libh5dsecond.so, which is writable by group 65534 ({} is group-writable)",
            probe.display(),
            bin.display(),
            second.display()
        ),
    );
}

/// A filter plugin library whose constructor writes `marker` (loading it runs it).
fn plant_plugin(path: &Path, marker: &Path) {
    let src = path.with_file_name("plugin-source.c");
    std::fs::write(
        &src,
        format!(
            "#include <stdio.h>\n__attribute__((constructor)) static void ran(void) {{ FILE *f = fopen(\"{}\", \"a\"); if (f) {{ fputs(\"ran\\n\", f); fclose(f); }} }}\n\
             int H5PLget_plugin_type(void) {{ return 0; }}\nconst void *H5PLget_plugin_info(void) {{ return 0; }}\n",
            marker.display()
        ),
    )
    .unwrap();
    let built = std::process::Command::new("cc")
        .args(["-shared", "-fPIC", "-o"])
        .arg(path)
        .arg(&src)
        .output()
        .unwrap();
    assert!(built.status.success(), "cc: {}", String::from_utf8_lossy(&built.stderr));
}

#[test]
fn plugin_libraries_in_a_directory_a_user_owns_are_not_loaded_as_root() {
    require_root();
    let (tmp, dir) = scratch();
    let marker = tmp.path().join("marker");
    let plugins = tmp.path().join("plugins");
    std::fs::create_dir(&plugins).unwrap();
    plant_plugin(&plugins.join("libplanted.so"), &marker);
    // Control: root's own directory is listed and its plugin loaded (the probe runs its constructor).
    let run = common::check_dir(&dir, None, &["--only", "plugins"])
        .env("HDF5_PLUGIN_PATH", &plugins)
        .run();
    assert!(marker.exists(), "the control plugin was not loaded: {}", run.stdout);
    std::fs::remove_file(&marker).unwrap();

    give_to_nobody(&plugins);
    for (only, var) in [("plugins", None), ("hdf5", Some(("HDF5_VOL_CONNECTOR", "planted_vol")))] {
        let mut h5doctor = common::check_dir(&dir, None, &["--only", only]).env("HDF5_PLUGIN_PATH", &plugins);
        if let Some((k, v)) = var {
            h5doctor = h5doctor.env(k, v);
        }
        let report = h5doctor.run().json();
        assert_not_run(&marker);
        let refusal = format!("not run as root: {} is writable by uid 65534", plugins.display());
        if only == "plugins" {
            let facts = &report["facts"]["plugins"];
            assert_eq!(facts["status"], "inconclusive", "{facts:#}");
            assert_eq!(facts["reason"], format!("plugin libraries not loaded: {refusal}"), "{facts:#}");
            assert_eq!(report["inconclusive"][0]["reason"], facts["reason"], "{report:#}");
            assert_eq!(
                facts["dirs"][0]["plugins"][0]["file"],
                plugins.join("libplanted.so").to_str().unwrap()
            );
        } else {
            let looked = report["facts"]["hdf5"]["plugin_env_search"]["looked_in"][0]
                .as_str()
                .unwrap_or_default()
                .to_string();
            assert_eq!(
                looked,
                format!(
                    "{} (HDF5_PLUGIN_PATH, searched by HDF5 already): not loaded: {refusal}",
                    plugins.display()
                )
            );
        }
    }
}

/// An HDF5 file whose dataset `/filtered` went through filter 32123, which HDF5 must find as a plugin to
/// read it (the writer registered the filter itself, H5Zregister, as hdf5plugin does).
fn file_needing_filter_32123(path: &Path) {
    let src = path.with_extension("c");
    std::fs::write(
        &src,
        "#include <hdf5.h>\n\
         static size_t pass(unsigned f, size_t n, const unsigned v[], size_t nb, size_t *bs, void **b) { (void)f; (void)n; (void)v; (void)bs; (void)b; return nb; }\n\
         int main(int argc, char **argv) { (void)argc;\n\
           H5Z_class2_t c = {H5Z_CLASS_T_VERS, 32123, 1, 1, \"planted\", NULL, NULL, pass};\n\
           hsize_t dims[1] = {16}; int data[16] = {0};\n\
           if (H5Zregister(&c) < 0) return 1;\n\
           hid_t file = H5Fcreate(argv[1], H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);\n\
           hid_t space = H5Screate_simple(1, dims, NULL), dcpl = H5Pcreate(H5P_DATASET_CREATE);\n\
           H5Pset_chunk(dcpl, 1, dims); H5Pset_filter(dcpl, 32123, H5Z_FLAG_MANDATORY, 0, NULL);\n\
           hid_t d = H5Dcreate2(file, \"filtered\", H5T_NATIVE_INT, space, H5P_DEFAULT, dcpl, H5P_DEFAULT);\n\
           if (d < 0 || H5Dwrite(d, H5T_NATIVE_INT, H5S_ALL, H5S_ALL, H5P_DEFAULT, data) < 0) return 1;\n\
           H5Dclose(d); H5Pclose(dcpl); H5Sclose(space); return H5Fclose(file) < 0; }\n",
    )
    .unwrap();
    let exe = path.with_extension("writer");
    let built = std::process::Command::new("cc")
        .arg("-o")
        .arg(&exe)
        .arg(&src)
        .args(["-I/usr/include/hdf5/serial", "-L/usr/lib/x86_64-linux-gnu/hdf5/serial", "-lhdf5"])
        .output()
        .unwrap();
    assert!(built.status.success(), "cc: {}", String::from_utf8_lossy(&built.stderr));
    let wrote = std::process::Command::new(&exe).arg(path).output().unwrap();
    assert!(wrote.status.success(), "writer: {}", String::from_utf8_lossy(&wrote.stderr));
}

#[test]
fn a_filtered_dataset_does_not_make_hdf5_load_a_plugin_from_a_user_directory_as_root() {
    require_root();
    let (tmp, dir) = scratch();
    let file = tmp.path().join("filtered.h5");
    file_needing_filter_32123(&file);
    let (trusted, users) = (tmp.path().join("root-plugins"), tmp.path().join("user-plugins"));
    let (trusted_marker, users_marker) = (tmp.path().join("root-marker"), tmp.path().join("user-marker"));
    for (plugins, marker) in [(&trusted, &trusted_marker), (&users, &users_marker)] {
        std::fs::create_dir(plugins).unwrap();
        plant_plugin(&plugins.join("libfilter32123.so"), marker);
    }
    let check = |plugin_path: String| {
        let _ = (std::fs::remove_file(&trusted_marker), std::fs::remove_file(&users_marker));
        let run = common::H5doctor::new(&[
            "check",
            "--no-default-dirs",
            "--no-default-pythons",
            "--json",
            "--only",
            "file",
            "--dir",
            dir.to_str().unwrap(),
            file.to_str().unwrap(),
        ])
        .env("HDF5_PLUGIN_PATH", plugin_path)
        .run();
        (run.code, run.json())
    };
    let both = format!("{}:{}", users.display(), trusted.display());

    // Control: both directories root-owned. HDF5 in the file group's probe looks for filter 32123 in the
    // first and loads its library (which gives no filter: HDF5 gives up there), so the filter is missing.
    let (code, report) = check(both.clone());
    assert!(users_marker.exists(), "the control plugin was not loaded: {report:#}");
    assert_eq!(code, 1, "{report:#}");
    assert_eq!(common::slugs(&report), ["plugin-filter-missing"], "{report:#}");

    // The first directory owned by nobody: HDF5 still searches root's, never the user's, and the missing
    // filter is not called missing (it may be in the directory not searched): inconclusive, with the reason.
    give_to_nobody(&users);
    let (code, report) = check(both);
    assert_not_run(&users_marker);
    assert!(trusted_marker.exists(), "root's plugin directory was not searched: {report:#}");
    let refusal = format!(
        "filter(s) 32123 not found, and not looked for in {0} (not run as root: {0} is writable by uid 65534)",
        users.display()
    );
    let hdf5 = &report["facts"]["files"][0]["hdf5"];
    assert_eq!(hdf5["status"], "inconclusive", "{hdf5:#}");
    assert_eq!(hdf5["reason"], refusal.as_str(), "{hdf5:#}");
    assert_eq!(hdf5["filters"], serde_json::json!([]), "{hdf5:#}");
    assert!(common::slugs(&report).is_empty(), "{report:#}");
    assert_eq!(code, 0, "{report:#}");
    assert_eq!(
        report["inconclusive"][0]["reason"],
        format!("opened with HDF5, but {refusal}"),
        "{report:#}"
    );

    // Only the user's directory: HDF5 loads no plugin at all (HDF5_PLUGIN_PRELOAD=::).
    let (_, report) = check(users.display().to_string());
    assert_not_run(&users_marker);
    assert_eq!(report["facts"]["files"][0]["hdf5"]["status"], "inconclusive", "{report:#}");
}

/// Debian's serial libhdf5 and the default plugin directory compiled into it (HDF5 searches it when
/// HDF5_PLUGIN_PATH is unset).
const SERIAL_LIBHDF5: &str = "/usr/lib/x86_64-linux-gnu/libhdf5_serial.so.103";
const SERIAL_DEFAULT_PLUGINS: &str = "/usr/lib/x86_64-linux-gnu/hdf5/serial/plugins";

/// A copy of Debian's serial libhdf5 in `lib` (as `libhdf5_serial.so.103`) whose compiled-in default plugin
/// directory is `plugins`: the real library, with the string it copies when HDF5_PLUGIN_PATH is unset
/// (H5_DEFAULT_PLUGINDIR) overwritten in place.
fn libhdf5_with_default_plugin_dir(lib: &Path, plugins: &Path) {
    let mut bytes = std::fs::read(SERIAL_LIBHDF5).expect("libhdf5-dev (serial) is installed");
    let (old, new) = (SERIAL_DEFAULT_PLUGINS.as_bytes(), plugins.to_str().unwrap().as_bytes());
    assert!(
        new.len() <= old.len(),
        "{} is longer than {SERIAL_DEFAULT_PLUGINS}",
        plugins.display()
    );
    let mut needle = old.to_vec();
    needle.push(0);
    let at = bytes
        .windows(needle.len())
        .position(|w| w == needle)
        .expect("the default plugin directory string");
    bytes[at..at + old.len()].fill(0);
    bytes[at..at + new.len()].copy_from_slice(new);
    std::fs::create_dir_all(lib).unwrap();
    std::fs::set_permissions(lib, std::fs::Permissions::from_mode(0o755)).unwrap();
    std::fs::write(lib.join("libhdf5_serial.so.103"), bytes).unwrap();
}

/// `file` made to find its libraries in `dir` first (RUNPATH).
fn set_runpath(file: &Path, dir: &str) {
    let patched = std::process::Command::new("patchelf")
        .args(["--set-rpath", dir])
        .arg(file)
        .status()
        .expect("patchelf: install patchelf");
    assert!(patched.success(), "patchelf --set-rpath failed");
}

/// A copy of h5doctor-probe in `bin` that loads [`libhdf5_with_default_plugin_dir`] from `lib` (RUNPATH
/// `$ORIGIN/../lib`).
fn probe_with_default_plugin_dir(bin: &Path, lib: &Path, plugins: &Path) -> PathBuf {
    libhdf5_with_default_plugin_dir(lib, plugins);
    std::fs::create_dir_all(bin).unwrap();
    std::fs::set_permissions(bin, std::fs::Permissions::from_mode(0o755)).unwrap();
    let probe = bin.join("h5doctor-probe");
    std::fs::copy(common::bin("h5doctor-probe"), &probe).unwrap();
    set_runpath(&probe, "$ORIGIN/../lib");
    probe
}

/// With HDF5_PLUGIN_PATH unset HDF5 searches its compiled-in default plugin directory: as root, when a
/// user could write that directory, no child of h5doctor loads a plugin from it (the file group's filter
/// lookup, the plugins group's listing, the HDF5 group's create run), and a filter not found is
/// inconclusive with the reason instead of missing. A control with the directory root's shows the same
/// probe loading its plugin there.
#[test]
fn hdf5s_default_plugin_directory_is_not_searched_as_root_when_a_user_can_write_it() {
    require_root();
    let (tmp, dir) = scratch();
    let file = tmp.path().join("filtered.h5");
    file_needing_filter_32123(&file);
    let (plugins, marker) = (tmp.path().join("plugins"), tmp.path().join("marker"));
    std::fs::create_dir(&plugins).unwrap();
    plant_plugin(&plugins.join("libfilter32123.so"), &marker);
    let probe = probe_with_default_plugin_dir(&tmp.path().join("bin"), &tmp.path().join("lib"), &plugins);
    let check = |only: &[&str], with_file: bool| {
        let _ = std::fs::remove_file(&marker);
        let mut extra: Vec<&str> = only.iter().flat_map(|g| ["--only", g]).collect();
        if with_file {
            extra.push(file.to_str().unwrap());
        }
        let run = common::check_dir(&dir, None, &extra)
            .env("H5DOCTOR_PROBE", &probe)
            .env_remove("HDF5_PLUGIN_PATH")
            .env_remove("HDF5_PLUGIN_PRELOAD")
            .run();
        (run.code, run.json())
    };

    // Control: the directory is root's. The file group's probe looks for filter 32123 there and loads the
    // plugin (which gives no filter), so the filter is missing; the plugins group lists it as the default.
    let (code, report) = check(&["file"], true);
    assert!(marker.exists(), "the control plugin was not loaded: {report:#}");
    assert_eq!(common::slugs(&report), ["plugin-filter-missing"], "{report:#}");
    assert_eq!(code, 1, "{report:#}");
    let (_, report) = check(&["hdf5", "plugins"], false);
    assert!(marker.exists(), "the plugins group did not load the control plugin: {report:#}");
    assert_eq!(report["facts"]["plugins"]["status"], "ok", "{:#}", report["facts"]["plugins"]);
    assert_eq!(
        report["facts"]["hdf5"]["library"]["plugin_search_path"],
        serde_json::json!([plugins.to_str().unwrap()]),
        "the probe's HDF5 searches the patched default: {:#}",
        report["facts"]["hdf5"]
    );

    // The directory owned by nobody: nothing loads it, and what it might have held is not called missing.
    give_to_nobody(&plugins);
    let refusal = format!("not run as root: {} is writable by uid 65534", plugins.display());
    let (code, report) = check(&["file"], true);
    assert_not_run(&marker);
    let hdf5 = &report["facts"]["files"][0]["hdf5"];
    let reason = format!("filter(s) 32123 not found, and not looked for in {} ({refusal})", plugins.display());
    assert_eq!(hdf5["status"], "inconclusive", "{hdf5:#}");
    assert_eq!(hdf5["reason"], reason.as_str(), "{hdf5:#}");
    assert!(common::slugs(&report).is_empty(), "{report:#}");
    assert_eq!(code, 0, "{report:#}");
    assert_eq!(
        report["inconclusive"][0]["reason"],
        format!("opened with HDF5, but {reason}"),
        "{report:#}"
    );

    let (_, report) = check(&["hdf5", "plugins"], false);
    assert_not_run(&marker);
    let facts = &report["facts"]["plugins"];
    assert_eq!(facts["status"], "inconclusive", "{facts:#}");
    assert_eq!(facts["reason"], format!("plugin libraries not loaded: {refusal}"), "{facts:#}");
    assert_eq!(facts["dirs"][0]["path"], plugins.to_str().unwrap(), "{facts:#}");
    assert_eq!(facts["dirs"][0]["source"], "default", "{facts:#}");
    assert_eq!(facts["dirs"][0]["searched"], false, "{facts:#}");
    assert_eq!(
        facts["dirs"][0]["plugins"][0]["file"],
        plugins.join("libfilter32123.so").to_str().unwrap(),
        "{facts:#}"
    );

    // A VOL connector asked for by name: the search for its plugin names the default directory unsearched.
    let _ = std::fs::remove_file(&marker);
    let report = common::check_dir(&dir, None, &["--only", "hdf5"])
        .env("H5DOCTOR_PROBE", &probe)
        .env("HDF5_VOL_CONNECTOR", "planted_vol")
        .env_remove("HDF5_PLUGIN_PATH")
        .env_remove("HDF5_PLUGIN_PRELOAD")
        .run()
        .json();
    assert_not_run(&marker);
    assert_eq!(
        report["facts"]["hdf5"]["plugin_env_search"]["looked_in"][0],
        format!(
            "{} (the default plugin directory of the probe's HDF5, searched by HDF5 already): not loaded: {refusal}",
            plugins.display()
        ),
        "{:#}",
        report["facts"]["hdf5"]["plugin_env_search"]
    );
}

/// For a Python interpreter the default plugin directories are those of the libhdf5 its h5py's extension
/// modules load (here Debian's layout, `h5py/_debian_h5py_serial/`, on PYTHONPATH, the module finding a
/// libhdf5 whose default is a temporary directory): root's, the child's environment is left alone; a
/// user's, the child gets an empty HDF5_PLUGIN_PATH and HDF5_PLUGIN_PRELOAD=:: (nothing else to search).
#[test]
fn an_interpreters_default_plugin_directory_is_read_from_the_libhdf5_its_h5py_loads() {
    require_root();
    let (tmp, _dir) = scratch();
    let (plugins, lib, site) = (tmp.path().join("plugins"), tmp.path().join("lib"), tmp.path().join("site"));
    std::fs::create_dir(&plugins).unwrap();
    libhdf5_with_default_plugin_dir(&lib, &plugins);
    let flavour = site.join("h5py/_debian_h5py_serial");
    std::fs::create_dir_all(&flavour).unwrap();
    for d in [&site, &site.join("h5py"), &flavour] {
        std::fs::set_permissions(d, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    let module = flavour.join("_conv.cpython-311-x86_64-linux-gnu.so");
    std::fs::copy(
        "/usr/lib/python3/dist-packages/h5py/_debian_h5py_serial/_conv.cpython-311-x86_64-linux-gnu.so",
        &module,
    )
    .expect("python3-h5py (Debian) is installed");
    set_runpath(&module, lib.to_str().unwrap());
    let python = || {
        let mut cmd = std::process::Command::new("/usr/bin/python3");
        cmd.env("PYTHONPATH", &site)
            .env_remove("HDF5_PLUGIN_PATH")
            .env_remove("LD_LIBRARY_PATH")
            .env_remove("LD_PRELOAD");
        cmd
    };
    let child_env = |mut cmd: std::process::Command| {
        h5doctor::trust::confine_plugin_path(&mut cmd);
        let mut set: Vec<(String, Option<String>)> = cmd
            .get_envs()
            .filter(|(k, _)| k.to_str().is_some_and(|k| k.starts_with("HDF5_PLUGIN")))
            .map(|(k, v)| (k.to_string_lossy().into_owned(), v.map(|v| v.to_string_lossy().into_owned())))
            .collect();
        set.sort();
        set
    };
    let path = plugins.to_str().unwrap().to_string();

    let found = h5doctor::trust::default_plugin_dirs(&python());
    assert_eq!(
        (found.all, found.kept, found.refused),
        (vec![path.clone()], vec![path.clone()], vec![])
    );
    assert_eq!(child_env(python()), [("HDF5_PLUGIN_PATH".to_string(), None)], "unchanged");

    give_to_nobody(&plugins);
    let found = h5doctor::trust::default_plugin_dirs(&python());
    let refusal = format!("not run as root: {path} is writable by uid 65534");
    assert_eq!((found.kept, found.refused), (vec![], vec![(path, refusal)]));
    assert_eq!(
        child_env(python()),
        [
            ("HDF5_PLUGIN_PATH".to_string(), Some(String::new())),
            ("HDF5_PLUGIN_PRELOAD".to_string(), Some("::".to_string()))
        ]
    );
}
