//! The file-locking diagnosis end to end: real lock failures injected at the syscall level with seccomp
//! (flock -> errno 524, 95, 38, 37), the real HDF5 probe, and the verdict a user sees.

mod common;
use common::*;

#[test]
fn errno_524_is_lock_unsupported_with_the_fix_verified_by_hdf5() {
    let dir = tempdir();
    let run = check_dir(dir.path(), Some(("--flock", 524)), &[]).run();
    assert_eq!(run.code, 1, "{}", run.stderr);
    let report = run.json();
    assert_eq!(slugs(&report), ["lock-unsupported"]);
    let f = finding(&report, "lock-unsupported");
    assert_eq!(f["severity"], "error");
    assert_eq!(f["id"], "H5D101");
    let fix = &f["fixes"][0];
    assert_eq!(fix["text"], "export HDF5_USE_FILE_LOCKING=FALSE");
    assert_eq!(fix["verified"], true, "the FALSE re-run of the real HDF5 probe must succeed: {f:#}");
    let hdf5_error = evidence(f, "dir.hdf5_error");
    assert!(
        hdf5_error.as_str().unwrap().contains("unable to lock file, errno = 524"),
        "{hdf5_error}"
    );
    assert_eq!(report["summary"]["exit_code"], 1);
    assert_no_leftovers(dir.path());
}

#[test]
fn errno_524_in_the_human_report() {
    let dir = tempdir();
    let run = H5doctor::injected(
        Some(("--flock", 524)),
        &[
            "check",
            "--no-default-dirs",
            "--no-default-pythons",
            "--dir",
            dir.path().to_str().unwrap(),
        ],
    )
    .run();
    assert_eq!(run.code, 1);
    assert!(run.stdout.contains("✗ locking"), "{}", run.stdout);
    assert!(run.stdout.contains("✗ error H5D101 lock-unsupported"), "{}", run.stdout);
    assert!(
        run.stdout.contains("fix (env, verified here): export HDF5_USE_FILE_LOCKING=FALSE"),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout.contains("flock error") && run.stdout.contains("ENOTSUPP"),
        "{}",
        run.stdout
    );
    assert!(!run.stdout.contains('\x1b'), "no colour when stdout is not a terminal");
    assert!(
        run.stdout
            .trim_end()
            .ends_with("1 error, 0 warnings, 0 info, 0 inconclusive — exit 1"),
        "{}",
        run.stdout
    );
    assert_no_leftovers(dir.path());
}

#[test]
fn errno_95_is_lock_unsupported() {
    let dir = tempdir();
    let run = check_dir(dir.path(), Some(("--flock", 95)), &[]).run();
    assert_eq!(run.code, 1);
    let report = run.json();
    assert_eq!(slugs(&report), ["lock-unsupported"]);
    assert!(finding(&report, "lock-unsupported")["title"]
        .as_str()
        .unwrap()
        .contains("EOPNOTSUPP"));
    assert_eq!(finding(&report, "lock-unsupported")["fixes"][0]["verified"], true);
    assert_no_leftovers(dir.path());
}

#[test]
fn errno_38_is_lock_disabled_a_warning_that_hdf5_1_10_8_survives() {
    let dir = tempdir();
    let run = check_dir(dir.path(), Some(("--flock", 38)), &[]).run();
    assert_eq!(run.code, 0, "a warning alone exits 0");
    let report = run.json();
    assert_eq!(slugs(&report), ["lock-disabled"]);
    let f = finding(&report, "lock-disabled");
    assert_eq!(f["severity"], "warning");
    // HDF5 1.10.7+ ignores ENOSYS by default, so the real create succeeded and nothing needed verifying.
    assert_eq!(report["facts"]["dirs"][0]["hdf5"]["create"]["ok"], true);
    let strict = check_dir(dir.path(), Some(("--flock", 38)), &["--strict"]).run();
    assert_eq!(strict.code, 1, "--strict counts warnings");
    assert_no_leftovers(dir.path());
}

#[test]
fn errno_38_with_locking_forced_on_escalates_to_an_error() {
    let dir = tempdir();
    let run = check_dir(dir.path(), Some(("--flock", 38)), &[])
        .env("HDF5_USE_FILE_LOCKING", "TRUE")
        .run();
    assert_eq!(run.code, 1);
    let report = run.json();
    let f = finding(&report, "lock-disabled");
    assert_eq!(f["severity"], "error", "TRUE makes HDF5 fail on ENOSYS: {f:#}");
    assert_eq!(f["fixes"][0]["text"], "export HDF5_USE_FILE_LOCKING=FALSE");
    assert_eq!(f["fixes"][0]["verified"], true);
}

#[test]
fn errno_37_is_lock_nfs_nolck() {
    let dir = tempdir();
    let run = check_dir(dir.path(), Some(("--flock", 37)), &[]).run();
    assert_eq!(run.code, 1);
    let report = run.json();
    assert_eq!(slugs(&report), ["lock-nfs-nolck"]);
    let f = finding(&report, "lock-nfs-nolck");
    assert_eq!(f["severity"], "error");
    assert_eq!(f["fixes"][0]["text"], "export HDF5_USE_FILE_LOCKING=FALSE");
    assert_eq!(f["fixes"][0]["verified"], true);
    assert_no_leftovers(dir.path());
}

#[test]
fn lower_case_false_with_524_is_lock_env_ignored() {
    let dir = tempdir();
    let run = check_dir(dir.path(), Some(("--flock", 524)), &[])
        .env("HDF5_USE_FILE_LOCKING", "false")
        .run();
    assert_eq!(run.code, 1);
    let report = run.json();
    let f = finding(&report, "lock-env-ignored");
    assert_eq!(f["severity"], "error");
    assert!(f["title"].as_str().unwrap().contains("HDF5_USE_FILE_LOCKING=false"), "{f:#}");
    assert_eq!(f["fixes"][0]["text"], "export HDF5_USE_FILE_LOCKING=FALSE");
    assert_eq!(f["fixes"][0]["verified"], true);
    // The real HDF5 saw `false` and still failed: the value is really ignored.
    let dir_facts = &report["facts"]["dirs"][0]["hdf5"];
    assert_eq!(dir_facts["create"]["ok"], false);
    assert_eq!(report["facts"]["hdf5"]["library"]["env_use_file_locking"], "false");
    assert_no_leftovers(dir.path());
}

#[test]
fn best_effort_does_not_cover_524() {
    let dir = tempdir();
    let run = check_dir(dir.path(), Some(("--flock", 524)), &[])
        .env("HDF5_USE_FILE_LOCKING", "BEST_EFFORT")
        .run();
    assert_eq!(run.code, 1);
    let report = run.json();
    assert!(slugs(&report).contains(&"lock-env-ignored".to_string()), "{report:#}");
    assert_eq!(
        report["facts"]["dirs"][0]["hdf5"]["create"]["ok"], false,
        "BEST_EFFORT ignores only ENOSYS"
    );
}

#[test]
fn upper_case_false_works_around_524_and_is_not_an_error() {
    let dir = tempdir();
    let run = check_dir(dir.path(), Some(("--flock", 524)), &[])
        .env("HDF5_USE_FILE_LOCKING", "FALSE")
        .run();
    assert_eq!(run.code, 0, "{}", run.stdout);
    let report = run.json();
    assert!(slugs(&report).is_empty(), "{report:#}");
    assert_eq!(report["facts"]["dirs"][0]["hdf5"]["create"]["ok"], true);
    assert_eq!(
        report["facts"]["dirs"][0]["lock"]["flock_exclusive"]["errno"], 524,
        "the raw probe still sees the failure"
    );
}

#[test]
fn a_healthy_directory_has_no_lock_finding_and_exits_0() {
    let dir = tempdir();
    let run = check_dir(dir.path(), None, &[]).run();
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    let report = run.json();
    assert!(slugs(&report).is_empty(), "{report:#}");
    let d = &report["facts"]["dirs"][0];
    assert_eq!(d["lock"]["status"], "ok");
    for call in ["flock_exclusive", "flock_shared", "fcntl_setlk", "fcntl_ofd_setlk"] {
        assert_eq!(d["lock"][call]["errno"], 0, "{call}");
    }
    assert_eq!(d["hdf5"]["create"]["ok"], true);
    assert_eq!(report["facts"]["hdf5"]["library"]["version"], hdf5_version_under_test().as_str());
    assert_no_leftovers(dir.path());
}

#[test]
fn fcntl_failures_are_recorded_without_blaming_hdf5() {
    // HDF5 uses flock only; a broken fcntl (what ROMIO needs) must not produce an HDF5 lock finding.
    let dir = tempdir();
    let run = check_dir(dir.path(), Some(("--fcntl", 524)), &[]).run();
    assert_eq!(run.code, 0);
    let report = run.json();
    assert!(slugs(&report).is_empty(), "{report:#}");
    assert_eq!(report["facts"]["dirs"][0]["lock"]["fcntl_setlk"]["errno"], 524);
    assert_eq!(report["facts"]["dirs"][0]["lock"]["fcntl_setlk"]["errno_name"], "ENOTSUPP");
    assert_eq!(report["facts"]["dirs"][0]["lock"]["flock_exclusive"]["errno"], 0);
}
