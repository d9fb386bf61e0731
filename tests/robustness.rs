//! What h5doctor does with bad input, unwritable places, hung probes and signals: a clear message or an
//! inconclusive result, never a panic, a hang, a false error or a file left behind.

mod common;
use common::*;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::time::{Duration, Instant};

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
    let run = H5doctor::as_nobody_if_root(&args).run();
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
    // clap validates --only against the Group enum: the known groups and the nearest one.
    assert!(
        run.stderr.contains("invalid value 'lockign' for '--only <GROUP>'")
            && run.stderr.contains("[possible values: locking, hdf5")
            && run.stderr.contains("a similar value exists: 'locking'"),
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

/// A real copy of h5doctor-probe in `dir` whose libhdf5 dependency is renamed to `soname`; returns the
/// copy and the soname it needed before.
fn probe_needing(dir: &Path, soname: &str) -> (std::path::PathBuf, String) {
    let copy = dir.join("h5doctor-probe");
    std::fs::copy(bin("h5doctor-probe"), &copy).unwrap();
    let needed = std::process::Command::new("patchelf")
        .arg("--print-needed")
        .arg(&copy)
        .output()
        .expect("patchelf is installed");
    let hdf5 = String::from_utf8_lossy(&needed.stdout)
        .lines()
        .find(|l| l.starts_with("libhdf5"))
        .expect("the probe links libhdf5")
        .to_string();
    let status = std::process::Command::new("patchelf")
        .args(["--replace-needed", &hdf5, soname])
        .arg(&copy)
        .status()
        .unwrap();
    assert!(status.success());
    (copy, hdf5)
}

#[test]
fn probe_unavailable_when_its_libhdf5_cannot_be_found() {
    // A real copy of h5doctor-probe whose libhdf5 dependency names a soname no system has.
    let tools = tempdir();
    let target = tempdir();
    let (broken, _) = probe_needing(tools.path(), "libhdf5_gone.so.999");
    let run = check_dir(target.path(), None, &[]).env("H5DOCTOR_PROBE", &broken).run();
    assert_eq!(run.code, 1, "{}", run.stdout);
    let report = run.json();
    let f = finding(&report, "probe-unavailable");
    assert_eq!(f["severity"], "error");
    let reason = evidence(f, "hdf5.probe_reason");
    assert!(
        reason
            .as_str()
            .unwrap()
            .contains("libhdf5_gone.so.999: cannot open shared object file"),
        "{reason}"
    );
    // h5doctor's own resolver names the library and every place the loader looked for it.
    assert_eq!(
        evidence(f, "hdf5.probe_missing_library"),
        &serde_json::json!([format!("libhdf5_gone.so.999 (needed by {})", broken.display())])
    );
    let looked = evidence(f, "hdf5.probe_search_order");
    let looked: Vec<&str> = looked.as_array().unwrap().iter().map(|l| l.as_str().unwrap()).collect();
    assert!(looked.contains(&"/etc/ld.so.cache: no entry"), "{looked:#?}");
    assert!(
        looked
            .last()
            .unwrap()
            .starts_with("/usr/lib/libhdf5_gone.so.999 (default directory): not found"),
        "{looked:#?}"
    );
    let human = H5doctor::new(&["check", "--no-default-dirs", "--dir", target.path().to_str().unwrap()])
        .env("H5DOCTOR_PROBE", &broken)
        .run();
    assert!(human.stdout.contains("missing library"), "{}", human.stdout);
    assert!(human.stdout.contains("looked in:"), "{}", human.stdout);
    assert_no_leftovers(target.path());
}

#[test]
fn probe_unavailable_points_at_the_hidden_libhdf5_and_the_fix_works() {
    // The probe's libhdf5 exists, but only under a prefix the loader does not search (a module's
    // directory that is not loaded): h5doctor says where it is, and the LD_LIBRARY_PATH it offers works.
    let tools = tempdir();
    let target = tempdir();
    let (broken, hdf5) = probe_needing(tools.path(), "libhdf5_hidden.so.103");
    let real = std::fs::canonicalize(format!("/usr/lib/x86_64-linux-gnu/{hdf5}")).unwrap();
    let prefix = tools.path().join("hdf5-module");
    std::fs::create_dir_all(prefix.join("lib")).unwrap();
    std::fs::copy(&real, prefix.join("lib/libhdf5_hidden.so.103")).unwrap();
    let run = check_dir(target.path(), None, &["--only", "hdf5"])
        .env("H5DOCTOR_PROBE", &broken)
        .env("HDF5_DIR", &prefix)
        .run();
    assert_eq!(run.code, 1, "{}", run.stdout);
    let report = run.json();
    let f = finding(&report, "probe-unavailable");
    let lib_dir = prefix.join("lib").display().to_string();
    assert_eq!(f["fixes"][0]["text"], format!("export LD_LIBRARY_PATH={lib_dir}:$LD_LIBRARY_PATH"));
    assert_eq!(
        evidence(f, "hdf5.probe_missing_series"),
        &serde_json::json!(["libhdf5_hidden.so.103: HDF5 1.10.3-1.10.11"])
    );
    // Applying the fix: the probe starts and HDF5 works.
    let fixed = check_dir(target.path(), None, &["--only", "hdf5"])
        .env("H5DOCTOR_PROBE", &broken)
        .env("LD_LIBRARY_PATH", &lib_dir)
        .run();
    assert_eq!(fixed.code, 0, "{}", fixed.stdout);
    assert_eq!(fixed.json()["facts"]["hdf5"]["status"], "ok");
    assert_no_leftovers(target.path());
}

/// Builds and runs a C program against the HDF5 prefix `dir` the way `HDF5_DIR=dir cargo build -p
/// h5doctor-probe` does (`-I dir/include`, `-L dir/lib -lhdf5`): it prints H5get_libversion. `lib_path` is
/// the LD_LIBRARY_PATH it runs with.
fn build_and_run_against_hdf5_dir(dir: &str, work: &Path, lib_path: Option<&str>) -> String {
    let source = work.join("hdf5_dir_check.c");
    std::fs::write(
        &source,
        "#include <hdf5.h>\n#include <stdio.h>\nint main(void) { unsigned a, b, c; H5get_libversion(&a, &b, &c); printf(\"%u.%u.%u\\n\", a, b, c); return 0; }\n",
    )
    .unwrap();
    let program = work.join("hdf5_dir_check");
    let cc = std::process::Command::new("cc")
        .arg(format!("-I{dir}/include"))
        .arg(&source)
        .arg(format!("-L{dir}/lib"))
        .arg("-lhdf5")
        .arg("-o")
        .arg(&program)
        .output()
        .expect("cc runs");
    assert!(cc.status.success(), "cc against {dir}: {}", String::from_utf8_lossy(&cc.stderr));
    let mut run = std::process::Command::new(&program);
    run.env_remove("LD_LIBRARY_PATH");
    if let Some(p) = lib_path {
        run.env("LD_LIBRARY_PATH", p);
    }
    let out = run.output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// The `rebuild` fix of a finding.
fn rebuild_fix(f: &serde_json::Value) -> &serde_json::Value {
    f["fixes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|x| x["kind"] == "rebuild")
        .unwrap_or_else(|| panic!("no rebuild fix: {f:#}"))
}

#[test]
fn probe_unavailable_names_the_nodes_hdf5_to_rebuild_the_probe_against_and_that_prefix_builds() {
    // Nothing in the environment names an HDF5: the node's own (Debian's serial HDF5, which the loader's
    // cache lists) is the one the rebuild line names, and a program built against that HDF5_DIR runs.
    let tools = tempdir();
    let target = tempdir();
    let (broken, _) = probe_needing(tools.path(), "libhdf5_gone.so.999");
    let run = check_dir(target.path(), None, &["--only", "hdf5"])
        .env("H5DOCTOR_PROBE", &broken)
        .env_remove("HDF5_DIR")
        .env_remove("HDF5_ROOT")
        .env_remove("HDF5_HOME")
        .run();
    assert_eq!(run.code, 1, "{}", run.stdout);
    let report = run.json();
    let f = finding(&report, "probe-unavailable");
    let dir = "/usr/lib/x86_64-linux-gnu/hdf5/serial";
    let fix = rebuild_fix(f);
    assert_eq!(fix["text"], format!("HDF5_DIR={dir} cargo build --release -p h5doctor-probe"));
    assert_eq!(fix["verified"], false);
    let note = fix["note"].as_str().unwrap();
    assert!(
        note.starts_with(&format!(
            "Rebuild the probe against the HDF5 your jobs use: {dir} has HDF5 1.10.8 (include/H5pubconf.h, {dir}/lib/libhdf5.so), \
             found by ld.so.cache: a libhdf5 in /usr/lib/x86_64-linux-gnu; the loader finds its library, so the rebuilt probe starts as it is"
        )),
        "{note}"
    );
    let installs = evidence(f, "hdf5.installs").as_array().unwrap();
    assert_eq!(
        installs[0],
        format!("{dir} (HDF5 1.10.8; ld.so.cache: a libhdf5 in /usr/lib/x86_64-linux-gnu)")
    );
    // What the line names builds: headers and library from that prefix, and it runs without LD_LIBRARY_PATH.
    assert_eq!(build_and_run_against_hdf5_dir(dir, tools.path(), None), "1.10.8");
    let human = H5doctor::new(&[
        "check",
        "--no-default-dirs",
        "--only",
        "hdf5",
        "--dir",
        target.path().to_str().unwrap(),
    ])
    .env("H5DOCTOR_PROBE", &broken)
    .env_remove("HDF5_DIR")
    .run();
    assert!(
        human
            .stdout
            .contains(&format!("fix (rebuild): HDF5_DIR={dir} cargo build --release -p h5doctor-probe\n")),
        "{}",
        human.stdout
    );
    assert_no_leftovers(target.path());
}

#[test]
fn probe_unavailable_rebuilds_against_the_hdf5_the_environment_names_before_the_nodes() {
    // A prefix named by $HDF5_ROOT (as an HDF5 module sets it), laid out as installed HDF5 is: it comes
    // before the node's own, and the note says its library directory must be on LD_LIBRARY_PATH.
    let tools = tempdir();
    let target = tempdir();
    let (broken, hdf5) = probe_needing(tools.path(), "libhdf5_gone.so.999");
    let prefix = tools.path().join("hdf5-1.10.8");
    std::fs::create_dir_all(prefix.join("lib")).unwrap();
    std::os::unix::fs::symlink("/usr/include/hdf5/serial", prefix.join("include")).unwrap();
    let real = std::fs::canonicalize(format!("/usr/lib/x86_64-linux-gnu/{hdf5}")).unwrap();
    std::fs::copy(&real, prefix.join("lib").join(&hdf5)).unwrap();
    std::os::unix::fs::symlink(&hdf5, prefix.join("lib/libhdf5.so")).unwrap();
    let dir = prefix.display().to_string();
    let run = check_dir(target.path(), None, &["--only", "hdf5"])
        .env("H5DOCTOR_PROBE", &broken)
        .env_remove("HDF5_DIR")
        .env("HDF5_ROOT", &prefix)
        .run();
    assert_eq!(run.code, 1, "{}", run.stdout);
    let report = run.json();
    let f = finding(&report, "probe-unavailable");
    let fix = rebuild_fix(f);
    assert_eq!(fix["text"], format!("HDF5_DIR={dir} cargo build --release -p h5doctor-probe"));
    assert_eq!(fix["verified"], false);
    assert_eq!(
        fix["note"],
        format!(
            "Rebuild the probe against the HDF5 your jobs use: {dir} has HDF5 1.10.8 (include/H5pubconf.h, {dir}/lib/libhdf5.so), \
             found by $HDF5_ROOT; put its library directory on LD_LIBRARY_PATH when h5doctor runs the rebuilt probe. \
             Also here: /usr/lib/x86_64-linux-gnu/hdf5/serial, /usr/lib/x86_64-linux-gnu/hdf5/openmpi."
        )
    );
    let lib_dir = prefix.join("lib").display().to_string();
    assert_eq!(build_and_run_against_hdf5_dir(&dir, tools.path(), Some(&lib_dir)), "1.10.8");
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

/// Runs `h` under a per-process file-size limit (`ulimit -f`, PBS `-l file=`), SIGXFSZ ignored as a
/// shell's `ulimit -f` job sees it: writes past the limit fail with EFBIG.
fn with_file_size_limit(mut h: H5doctor, bytes: u64) -> H5doctor {
    use std::os::unix::process::CommandExt;
    unsafe {
        h.command().pre_exec(move || {
            let limit = libc::rlimit {
                rlim_cur: bytes,
                rlim_max: bytes,
            };
            libc::setrlimit(libc::RLIMIT_FSIZE, &limit);
            libc::signal(libc::SIGXFSZ, libc::SIG_IGN);
            Ok(())
        });
    }
    h
}

#[test]
fn hdf5_create_fails_where_plain_files_and_locks_work_and_the_errno_picks_the_fix() {
    // With a file-size limit of 0 bytes the lock probe's empty file and its locks work, but HDF5 cannot
    // write its superblock: H5Fcreate fails with EFBIG.
    let dir = tempdir();
    let h = check_dir(dir.path(), None, &["--only", "locking", "--only", "hdf5"]);
    let run = with_file_size_limit(h, 0).run();
    assert_eq!(run.code, 1, "{}{}", run.stdout, run.stderr);
    let report = run.json();
    assert_eq!(slugs(&report), ["hdf5-create-failed"], "{report:#}");
    let f = finding(&report, "hdf5-create-failed");
    assert_eq!(f["severity"], "error");
    assert_eq!(f["id"], "H5D201");
    let fixes: Vec<&str> = f["fixes"].as_array().unwrap().iter().map(|x| x["text"].as_str().unwrap()).collect();
    assert_eq!(fixes[0], "ulimit -f unlimited", "{fixes:?}");
    assert!(!fixes.iter().any(|t| t.starts_with("df -h")), "no quota fix for EFBIG: {fixes:?}");
    let error = evidence(f, "dir.hdf5_error");
    assert!(
        error.as_str().unwrap().contains("errno = 27, error message = 'File too large'"),
        "{error}"
    );
    assert_no_leftovers(dir.path());
}

#[test]
fn an_unwritable_stdout_and_stderr_is_exit_2_not_a_panic() {
    // Both output streams go to files that cannot grow (ulimit -f 0): h5doctor cannot say anything, and
    // says so with exit 2 rather than a panic (101).
    let out = tempdir();
    let dir = tempdir();
    let stdout = std::fs::File::create(out.path().join("stdout")).unwrap();
    let stderr = std::fs::File::create(out.path().join("stderr")).unwrap();
    let mut h = with_file_size_limit(check_dir(dir.path(), None, &["--only", "locking"]), 0);
    h.command().stdout(stdout).stderr(stderr);
    let status = h.command().status().unwrap();
    assert_eq!(status.code(), Some(2));
    assert_no_leftovers(dir.path());
}
