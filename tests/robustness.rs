//! What h5doctor does with bad input, unwritable places, hung probes and signals: a clear message or an
//! inconclusive result, never a panic, a hang, a false error or a file left behind.

mod common;
use common::*;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::time::{Duration, Instant};

fn is_root() -> bool {
    unsafe { libc::geteuid() == 0 }
}

#[test]
fn an_unwritable_directory_is_inconclusive_not_an_error() {
    let dir = tempdir();
    let locked = dir.path().join("readonly");
    std::fs::create_dir(&locked).unwrap();
    std::fs::set_permissions(&locked, std::fs::Permissions::from_mode(0o555)).unwrap();
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let args = [
        "check",
        "--no-default-dirs",
        "--no-default-pythons",
        "--json",
        "--dir",
        locked.to_str().unwrap(),
    ];
    // Root writes anywhere, so as root the run drops to `nobody` (setpriv) to meet a real EACCES.
    let run = if is_root() {
        let mut cmd = std::process::Command::new("setpriv");
        cmd.args(["--reuid=65534", "--regid=65534", "--clear-groups", env!("CARGO_BIN_EXE_h5doctor")])
            .args(args)
            .env_remove("HDF5_USE_FILE_LOCKING");
        let out = cmd.output().expect("setpriv runs");
        Run {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into(),
            stderr: String::from_utf8_lossy(&out.stderr).into(),
        }
    } else {
        H5doctor::new(&args).run()
    };
    assert_eq!(run.code, 0, "inconclusive is not an error: {}{}", run.stdout, run.stderr);
    let report = run.json();
    assert!(slugs(&report).is_empty(), "{report:#}");
    let inc = &report["inconclusive"][0];
    assert_eq!(inc["group"], "locking");
    assert!(inc["reason"].as_str().unwrap().contains("Permission denied"), "{inc}");
    assert!(inc["reason"].as_str().unwrap().contains("EACCES"), "{inc}");
    assert_eq!(report["summary"]["inconclusive"], 1);
}

#[test]
fn a_missing_directory_is_a_clear_usage_error() {
    let run = H5doctor::new(&["check", "--dir", "/nonexistent/h5doctor-test"]).run();
    assert_eq!(run.code, 2);
    assert_eq!(run.stderr.trim(), "h5doctor: --dir /nonexistent/h5doctor-test: no such directory");
    assert!(run.stdout.is_empty());
}

#[test]
fn a_file_given_as_directory_is_a_clear_usage_error() {
    let dir = tempdir();
    let file = dir.path().join("data.h5");
    std::fs::write(&file, b"not a directory").unwrap();
    let run = H5doctor::new(&["check", "--dir", file.to_str().unwrap()]).run();
    assert_eq!(run.code, 2);
    assert!(run.stderr.contains("not a directory"), "{}", run.stderr);
    assert_eq!(std::fs::read(&file).unwrap(), b"not a directory", "the user's file is untouched");
}

#[test]
fn an_unknown_group_and_a_bad_timeout_are_usage_errors() {
    let run = H5doctor::new(&["check", "--only", "lockign"]).run();
    assert_eq!(run.code, 2);
    assert!(
        run.stderr.contains("--only lockign: unknown group (known: locking, hdf5"),
        "{}",
        run.stderr
    );
    let run = H5doctor::new(&["check", "--timeout", "0"]).run();
    assert_eq!(run.code, 2);
    assert!(run.stderr.contains("--timeout 0: must be a positive number"), "{}", run.stderr);
    let run = H5doctor::new(&["check", "--frobnicate"]).run();
    assert_eq!(run.code, 2);
}

#[test]
fn only_selects_groups() {
    let dir = tempdir();
    let run = check_dir(dir.path(), Some(("--flock", 524)), &["--only", "hdf5"]).run();
    let report = run.json();
    assert_eq!(report["facts"]["groups"], serde_json::json!(["hdf5"]));
    assert!(
        slugs(&report).is_empty(),
        "locking rules are not judged when the locking group is not selected"
    );
    assert_no_leftovers(dir.path());
}

/// A stand-in probe that hangs, the way HDF5 hangs on a sick network mount.
fn hanging_probe(dir: &Path) -> std::path::PathBuf {
    let script = dir.join("hanging-probe");
    std::fs::write(&script, "#!/bin/sh\n# create the files we were given, then hang\nfor f in \"$@\"; do [ \"$f\" = create ] || : > \"$f\"; done\nexec sleep 60\n").unwrap();
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    script
}

#[test]
fn a_hung_hdf5_probe_times_out_and_the_run_completes() {
    let tools = tempdir();
    let target = tempdir();
    let probe = hanging_probe(tools.path());
    let start = Instant::now();
    let run = check_dir(target.path(), None, &["--timeout", "1"])
        .env("H5DOCTOR_PROBE", &probe)
        .run();
    assert!(start.elapsed() < Duration::from_secs(20), "the run must end soon after the timeout");
    assert_eq!(run.code, 0, "{}", run.stderr);
    let report = run.json();
    assert_eq!(report["facts"]["hdf5"]["status"], "inconclusive");
    assert!(
        report["facts"]["hdf5"]["reason"].as_str().unwrap().contains("timed out after 1 s"),
        "{report:#}"
    );
    assert!(report["inconclusive"].as_array().unwrap().iter().any(|i| i["group"] == "hdf5"));
    assert_no_leftovers(target.path());
}

#[test]
fn sigterm_kills_the_probe_and_removes_probe_files() {
    let tools = tempdir();
    let target = tempdir();
    let probe = hanging_probe(tools.path());
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_h5doctor"))
        .args([
            "check",
            "--no-default-dirs",
            "--no-default-pythons",
            "--timeout",
            "60",
            "--dir",
            target.path().to_str().unwrap(),
        ])
        .env("H5DOCTOR_PROBE", &probe)
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    // Wait until the hanging probe has created its file, then interrupt h5doctor.
    let deadline = Instant::now() + Duration::from_secs(10);
    while std::fs::read_dir(target.path()).unwrap().count() == 0 {
        assert!(Instant::now() < deadline, "the probe never started");
        std::thread::sleep(Duration::from_millis(20));
    }
    unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    let status = child.wait().unwrap();
    assert_eq!(std::os::unix::process::ExitStatusExt::into_raw(status) >> 8, 128 + libc::SIGTERM);
    assert_no_leftovers(target.path());
}

#[test]
fn probe_unavailable_when_its_libhdf5_cannot_be_found() {
    // A real copy of h5doctor-probe whose libhdf5 dependency names a soname no system has.
    let tools = tempdir();
    let target = tempdir();
    let broken = tools.path().join("h5doctor-probe");
    std::fs::copy(bin("h5doctor-probe"), &broken).unwrap();
    let needed = std::process::Command::new("patchelf")
        .arg("--print-needed")
        .arg(&broken)
        .output()
        .expect("patchelf is installed");
    let needed = String::from_utf8_lossy(&needed.stdout);
    let hdf5 = needed
        .lines()
        .find(|l| l.starts_with("libhdf5"))
        .expect("the probe links libhdf5")
        .to_string();
    let status = std::process::Command::new("patchelf")
        .args(["--replace-needed", &hdf5, "libhdf5_gone.so.999"])
        .arg(&broken)
        .status()
        .unwrap();
    assert!(status.success());
    let run = check_dir(target.path(), None, &[]).env("H5DOCTOR_PROBE", &broken).run();
    assert_eq!(run.code, 1, "{}", run.stdout);
    let report = run.json();
    let f = finding(&report, "probe-unavailable");
    assert_eq!(f["severity"], "error");
    let reason = f["evidence"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["fact"] == "hdf5.probe_reason")
        .unwrap();
    assert!(
        reason["value"]
            .as_str()
            .unwrap()
            .contains("libhdf5_gone.so.999: cannot open shared object file"),
        "{reason}"
    );
    assert_no_leftovers(target.path());
}

#[test]
fn a_missing_probe_binary_is_inconclusive() {
    let target = tempdir();
    let run = check_dir(target.path(), None, &[])
        .env("H5DOCTOR_PROBE", "/nonexistent/h5doctor-probe")
        .run();
    assert_eq!(run.code, 0);
    let report = run.json();
    assert_eq!(report["facts"]["hdf5"]["status"], "inconclusive");
    assert!(report["facts"]["hdf5"]["reason"]
        .as_str()
        .unwrap()
        .contains("/nonexistent/h5doctor-probe: not found"));
}
