//! HDF5's plugin variables end to end: HDF5_VOL_CONNECTOR / HDF5_DRIVER naming something the HDF5 of the
//! h5py 3.16 wheel (HDF5 2.0) cannot load makes the real h5py.File() crash with SIGSEGV; h5doctor re-runs
//! the import with the variables unset and shows `unset ...` as verified. Debian's HDF5 1.10.8 ignores
//! them (a warning). An import killed by a signal with no known cause is h5py-import-failed with the
//! signal, not only "inconclusive".
//!
//! The wheel lives in a venv cached at ~/.cache/h5doctor-tests/h5py-3.16.0 (built with pip on first use).

mod common;
use common::*;
use std::path::PathBuf;
use std::process::Command;

/// The venv with the h5py 3.16.0 wheel (HDF5 2.0.0), built once under ~/.cache/h5doctor-tests.
fn h5py_wheel_venv() -> PathBuf {
    let home = std::env::var_os("HOME").expect("HOME is set");
    let cache = PathBuf::from(home).join(".cache/h5doctor-tests");
    std::fs::create_dir_all(&cache).unwrap();
    let root = cache.join("h5py-3.16.0");
    let stamp = root.join(".h5doctor-test-ready");
    let lock = std::fs::File::create(cache.join("h5py-3.16.0.lock")).unwrap();
    use std::os::fd::AsRawFd;
    assert_eq!(unsafe { libc::flock(lock.as_raw_fd(), libc::LOCK_EX) }, 0);
    if !stamp.exists() {
        let _ = std::fs::remove_dir_all(&root);
        let make = Command::new("/usr/bin/python3").args(["-m", "venv"]).arg(&root).output().unwrap();
        assert!(make.status.success(), "python3 -m venv failed (needs python3-venv): {make:?}");
        let pip = Command::new(root.join("bin/pip"))
            .args(["install", "-q", "--only-binary=:all:", "h5py==3.16.0"])
            .env("PIP_DISABLE_PIP_VERSION_CHECK", "1")
            .output()
            .unwrap();
        assert!(
            pip.status.success(),
            "pip install h5py==3.16.0 failed (needs PyPI): {}",
            String::from_utf8_lossy(&pip.stderr)
        );
        std::fs::write(&stamp, "h5py==3.16.0\n").unwrap();
    }
    root.join("bin/python")
}

fn check_python(python: &std::path::Path, dir: &std::path::Path) -> H5doctor {
    H5doctor::new(&[
        "check",
        "--no-default-dirs",
        "--no-default-pythons",
        "--json",
        "--python",
        python.to_str().unwrap(),
        "--dir",
        dir.to_str().unwrap(),
        "--only",
        "hdf5",
        "--only",
        "python",
        // The test's own venvs, written by the user running the tests.
        "--allow-exec-as-root",
    ])
}

#[test]
fn a_missing_vol_connector_crashes_the_wheel_and_unset_is_verified() {
    let python = h5py_wheel_venv();
    let dir = tempdir();
    let run = check_python(&python, dir.path()).env("HDF5_VOL_CONNECTOR", "no_such_vol").run();
    assert_eq!(run.code, 1, "{}", run.stdout);
    let report = run.json();
    assert_eq!(slugs(&report), ["hdf5-env-plugin-unavailable"], "{report:#}");
    let f = finding(&report, "hdf5-env-plugin-unavailable");
    assert_eq!(f["severity"], "error");
    assert_eq!(f["id"], "H5D223");
    let failures = evidence(f, "hdf5.plugin_env_failures").to_string();
    assert!(failures.contains("killed by signal 11 (SIGSEGV)"), "{failures}");
    assert!(failures.contains("h5py 3.16.0"), "{failures}");
    // Debian's HDF5 1.10.8 (h5doctor-probe) has no VOL layer: it ignores the variable.
    assert!(evidence(f, "hdf5.plugin_env_ignored_by").to_string().contains("1.10.8"), "{f:#}");
    assert_eq!(f["fixes"][0]["text"], "unset HDF5_VOL_CONNECTOR");
    assert_eq!(f["fixes"][0]["verified"], true, "the import re-run without it must work: {f:#}");
    let interp = &report["facts"]["python"]["interpreters"][0]["import"];
    assert_eq!(interp["signal"], 11);
    assert_eq!(interp["without_plugin_env"]["ok"], true);
    assert!(
        report["inconclusive"].as_array().unwrap().is_empty(),
        "a crash with a cause is a finding: {report:#}"
    );
    assert_no_leftovers(dir.path());
}

#[test]
fn hdf5_driver_ros3_crashes_the_wheel_too() {
    let python = h5py_wheel_venv();
    let dir = tempdir();
    let run = check_python(&python, dir.path()).env("HDF5_DRIVER", "ros3").run();
    assert_eq!(run.code, 1, "{}", run.stdout);
    let report = run.json();
    assert_eq!(slugs(&report), ["hdf5-env-plugin-unavailable"], "{report:#}");
    let f = finding(&report, "hdf5-env-plugin-unavailable");
    assert_eq!(f["fixes"][0]["text"], "unset HDF5_DRIVER");
    assert_eq!(f["fixes"][0]["verified"], true);
    assert_no_leftovers(dir.path());
}

#[test]
fn a_vol_connector_that_debian_hdf5_ignores_is_a_warning() {
    let dir = tempdir();
    let run = check_dir(dir.path(), None, &["--only", "hdf5"])
        .env("HDF5_VOL_CONNECTOR", "async under_vol=0;under_info={}")
        .run();
    assert_eq!(run.code, 0, "a warning alone exits 0: {}", run.stdout);
    let report = run.json();
    assert_eq!(slugs(&report), ["hdf5-env-plugin-unavailable"], "{report:#}");
    let f = finding(&report, "hdf5-env-plugin-unavailable");
    assert_eq!(f["severity"], "warning");
    assert!(
        evidence(f, "hdf5.plugin_env_ignored_by")
            .to_string()
            .contains("HDF5 1.10.8 (/usr/lib/x86_64-linux-gnu/libhdf5_serial.so"),
        "{f:#}"
    );
    assert_eq!(
        fix_texts(f),
        [
            "export HDF5_PLUGIN_PATH=/path/to/the/connector/lib",
            "Load an HDF5 >= 1.12 (VOL) or >= 1.14 (driver plugins) built with the connector, and build the program against it"
        ]
    );
}

#[test]
fn an_import_killed_by_a_signal_without_a_known_cause_is_h5py_import_failed() {
    // A venv over Debian's packages whose numpy crashes the interpreter for real (SIGSEGV through ctypes):
    // the cause is synthetic, the signal and the way h5doctor sees it are not.
    let venv = tempdir();
    let made = Command::new("/usr/bin/python3")
        .args(["-m", "venv", "--without-pip", "--system-site-packages"])
        .arg(venv.path())
        .output()
        .unwrap();
    assert!(made.status.success(), "python3 -m venv failed (needs python3-venv): {made:?}");
    let site = std::fs::read_dir(venv.path().join("lib"))
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path()
        .join("site-packages/numpy");
    std::fs::create_dir_all(&site).unwrap();
    std::fs::write(
        site.join("__init__.py"),
        "import ctypes, sys\nsys.stderr.write('numpy stand-in: about to crash\\n')\nctypes.string_at(0)\n",
    )
    .unwrap();
    let dir = tempdir();
    let run = check_python(&venv.path().join("bin/python"), dir.path()).run();
    let report = run.json();
    let f = finding(&report, "h5py-import-failed");
    let title = f["title"].as_str().unwrap();
    assert!(title.contains("killed by signal 11 (SIGSEGV)"), "{title}");
    assert!(title.contains("numpy stand-in: about to crash"), "the child's last words: {title}");
    assert!(!slugs(&report).contains(&"hdf5-env-plugin-unavailable".to_string()));
    assert_eq!(run.code, 1, "{}", run.stdout);
}
