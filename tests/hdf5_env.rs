//! HDF5's plugin variables end to end: HDF5_VOL_CONNECTOR / HDF5_DRIVER naming something the HDF5 of the
//! h5py 3.16 wheel (HDF5 2.0) cannot load makes the real h5py.File() crash with SIGSEGV; h5doctor re-runs
//! the import with the variables unset and shows `unset ...` as verified. Debian's HDF5 1.10.8 ignores
//! them (a warning). An import killed by a signal with no known cause is h5py-import-failed with the
//! signal, not only "inconclusive".
//!
//! Where the plugin a variable names is on the node, h5doctor's fix points HDF5_PLUGIN_PATH at it: a real VOL
//! connector built here against HDF5 1.14.5, found under $HDF5_ROOT/lib/plugin, and a program of that HDF5
//! that starts with the fix's line and not without it; where none is, the fix says where it looked.
//!
//! The wheel lives in a venv cached at ~/.cache/h5doctor-tests/h5py-3.16.0 (built with pip on first use).

mod common;
use common::*;
use std::path::{Path, PathBuf};
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
    // ros3 is a driver HDF5 ships (or lacks): no plugin directory can provide it.
    assert!(!fix_texts(f).iter().any(|t| t.contains("HDF5_PLUGIN_PATH")), "{f:#}");
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
    // No plugin library on the node provides `async`: h5doctor says where it looked.
    assert_eq!(
        fix_texts(f),
        [
            "Ask the administrators for the VOL connector async (HDF5_VOL_CONNECTOR) plugin built for the HDF5 your job uses, and the directory to put on HDF5_PLUGIN_PATH",
            "Load an HDF5 >= 1.12 (VOL) or >= 1.14 (driver plugins) built with the connector, and build the program against it"
        ]
    );
    assert_eq!(f["fixes"][0]["kind"], "admin");
    let note = f["fixes"][0]["note"].as_str().unwrap();
    assert!(
        note.starts_with("No plugin library on this node provides it outside the directories HDF5 already searches; looked in: "),
        "{note}"
    );
    assert!(
        note.contains("/usr/local/hdf5/lib/plugin (HDF5's default plugin directory): "),
        "{note}"
    );
    assert!(evidence(f, "hdf5.plugin_env_search").as_array().unwrap().len() >= 2, "{f:#}");
}

/// A real VOL connector plugin, built here with cc against HDF5 1.14.5's own headers (H5VLconnector.h): a
/// connector named `name` with no callbacks, which HDF5 loads and registers (as the HDF Group's
/// vol-template does) but that serves no file.
fn vol_connector(out: &Path, name: &str, hdf5: &Path) {
    std::fs::create_dir_all(out.parent().unwrap()).unwrap();
    // Not named `lib*.so*`: HDF5 and h5doctor try only those as plugins.
    let src = out.with_file_name("vol-source.c");
    std::fs::write(
        &src,
        format!(
            "#include <hdf5.h>\n#include <H5VLconnector.h>\n#include <H5PLextern.h>\n\
             static const H5VL_class_t CLASS = {{ .version = H5VL_VERSION, .value = (H5VL_class_value_t)300, .name = \"{name}\", .conn_version = 1 }};\n\
             H5PL_type_t H5PLget_plugin_type(void) {{ return H5PL_TYPE_VOL; }}\n\
             const void *H5PLget_plugin_info(void) {{ return &CLASS; }}\n"
        ),
    )
    .unwrap();
    let built = Command::new("cc")
        .args(["-shared", "-fPIC", "-o"])
        .arg(out)
        .arg(&src)
        .arg(format!("-I{}/include", hdf5.display()))
        .arg(format!("-L{}/lib", hdf5.display()))
        .arg(format!("-Wl,-rpath,{}/lib", hdf5.display()))
        // Linked to its libhdf5 as every real connector is (it calls nothing of it, so --as-needed would drop it).
        .args(["-Wl,--no-as-needed", "-lhdf5"])
        .output()
        .unwrap();
    assert!(built.status.success(), "cc: {}", String::from_utf8_lossy(&built.stderr));
}

/// HDF5 1.14.5 (scripts/dev.sh hdf5-matrix builds it into ~/.cache/h5doctor-tests).
fn hdf5_1_14() -> PathBuf {
    let prefix = PathBuf::from(std::env::var("HOME").unwrap()).join(".cache/h5doctor-tests/hdf5-1.14.5-shared");
    assert!(
        prefix.join("lib/libhdf5.so.310").is_file(),
        "{} is missing: run `scripts/dev.sh hdf5-matrix`",
        prefix.display()
    );
    prefix
}

#[test]
fn a_vol_connector_on_the_node_is_named_for_hdf5_plugin_path_and_hdf5_1_14_loads_it_from_there() {
    let hdf5 = hdf5_1_14();
    // An HDF5 prefix as a site installs one ($HDF5_ROOT), whose lib/plugin holds the connector.
    let root = tempdir();
    let plugin_dir = root.path().join("lib/plugin");
    let plugin = plugin_dir.join("libh5doctor_test_vol.so");
    vol_connector(&plugin, "h5doctor_test_vol", &hdf5);
    let dir = tempdir();
    let run = check_dir(dir.path(), None, &["--only", "hdf5"])
        .env("HDF5_VOL_CONNECTOR", "h5doctor_test_vol")
        .env("HDF5_ROOT", root.path())
        .env_remove("HDF5_DIR")
        .env_remove("HDF5_HOME")
        .run();
    assert_eq!(run.code, 0, "Debian's HDF5 1.10.8 ignores it: a warning: {}", run.stdout);
    let report = run.json();
    assert_eq!(slugs(&report), ["hdf5-env-plugin-unavailable"], "{report:#}");
    let f = finding(&report, "hdf5-env-plugin-unavailable");
    let provides = format!(
        "{} provides VOL connector h5doctor_test_vol (class version 3; links libhdf5.so.310)",
        plugin.display()
    );
    assert_eq!(
        f["fixes"][0]["text"],
        format!("export HDF5_PLUGIN_PATH={}", plugin_dir.display()),
        "{f:#}"
    );
    assert_eq!(f["fixes"][0]["kind"], "env");
    assert_eq!(f["fixes"][0]["verified"], false, "h5doctor does not run the connector's HDF5");
    assert_eq!(
        f["fixes"][0]["note"],
        format!(
            "{provides}. Set it for the steps whose HDF5 is the one the plugin was built for (the libhdf5 it links), with that \
             HDF5 loaded: another release refuses it, and an h5py wheel's bundled HDF5 cannot use it. HDF5_PLUGIN_PATH \
             replaces HDF5's default plugin directory."
        )
    );
    assert!(!fix_texts(f).iter().any(|t| t.contains("/path/to")), "{f:#}");
    assert_eq!(evidence(f, "hdf5.plugin_env_found"), &serde_json::json!([provides]));
    let looked = evidence(f, "hdf5.plugin_env_search").to_string();
    assert!(
        looked.contains(&format!(
            "{} ($HDF5_ROOT/lib/plugin): libh5doctor_test_vol.so provides VOL connector h5doctor_test_vol",
            plugin_dir.display()
        )),
        "{looked}"
    );

    // The line works with a real HDF5 that reads the variable: a program built against HDF5 1.14.5 cannot
    // start HDF5 with the variable alone, and can with the fix's HDF5_PLUGIN_PATH.
    let prog = root.path().join("vol_user");
    let src = root.path().join("vol_user.c");
    std::fs::write(
        &src,
        "#include <hdf5.h>\n#include <stdio.h>\n\
         int main(void) { if (H5open() < 0) return 2; printf(\"%d\\n\", (int)H5VLis_connector_registered_by_name(\"h5doctor_test_vol\")); return 0; }\n",
    )
    .unwrap();
    let built = Command::new("cc")
        .arg("-o")
        .arg(&prog)
        .arg(&src)
        .arg(format!("-I{}/include", hdf5.display()))
        .arg(format!("-L{}/lib", hdf5.display()))
        .arg(format!("-Wl,-rpath,{}/lib", hdf5.display()))
        .arg("-lhdf5")
        .output()
        .unwrap();
    assert!(built.status.success(), "cc: {}", String::from_utf8_lossy(&built.stderr));
    let start = |plugin_path: Option<&str>| {
        let mut cmd = Command::new(&prog);
        cmd.env("HDF5_VOL_CONNECTOR", "h5doctor_test_vol").env_remove("HDF5_PLUGIN_PATH");
        if let Some(p) = plugin_path {
            cmd.env("HDF5_PLUGIN_PATH", p);
        }
        cmd.output().unwrap()
    };
    let without = start(None);
    assert!(!without.status.success(), "HDF5 1.14.5 finds no connector by itself: {without:?}");
    assert!(
        String::from_utf8_lossy(&without.stderr).contains("can't find plugin"),
        "{without:?}"
    );
    let fixed = f["fixes"][0]["text"]
        .as_str()
        .unwrap()
        .strip_prefix("export HDF5_PLUGIN_PATH=")
        .unwrap();
    let with = start(Some(fixed));
    assert!(with.status.success(), "with the fix's HDF5_PLUGIN_PATH: {with:?}");
    assert_eq!(String::from_utf8_lossy(&with.stdout).trim(), "1", "the connector is registered");
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
