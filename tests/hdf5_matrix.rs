//! The drivers × modes matrix where the user writes: every driver and open mode on this machine's disk and
//! on /dev/shm, real failures (a file-size limit, storage that refuses O_TRUNC), and the cleanup of every
//! probe file (family members and split halves too) on success, on a timeout and on SIGTERM.

mod common;
use common::*;
use serde_json::Value;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// The (mode, case) pairs every directory is checked with.
const MODES: [(&str, &str); 9] = [
    ("r", "missing file"),
    ("r+", "missing file"),
    ("w-/x", "missing file"),
    ("w-/x", "existing file"),
    ("r", "existing file"),
    ("r+", "existing file"),
    ("a", "existing file"),
    ("a", "missing file"),
    ("w", "existing file"),
];

/// What the probe says of the direct driver where the file system refuses O_DIRECT.
const DIRECT_REFUSED: &str = "this file system refuses O_DIRECT (EINVAL; tmpfs before Linux 6.6 does): it runs only where direct I/O works";

/// Whether a new file in `dir` can be opened with O_DIRECT (tmpfs can from Linux 6.6 on).
fn o_direct_works_in(dir: &str) -> bool {
    use std::os::unix::fs::OpenOptionsExt;
    let probe = tempfile::Builder::new().prefix("o-direct-").tempdir_in(dir).unwrap();
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .custom_flags(libc::O_DIRECT)
        .open(probe.path().join("f"))
        .is_ok()
}

fn matrix(report: &Value, i: usize) -> &Value {
    &report["facts"]["dirs"][i]["hdf5"]["matrix"]
}

fn assert_everything_passes(m: &Value, where_: &str) {
    assert_eq!(m["status"], "ok", "{where_}: {m:#}");
    let drivers: Vec<&str> = m["drivers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["driver"].as_str().unwrap())
        .collect();
    let version = hdf5_version_under_test();
    assert_eq!(drivers, round_trip_drivers(&version), "{where_}");
    for d in m["drivers"].as_array().unwrap() {
        if d["driver"] == "direct" && where_ == "/dev/shm" && !o_direct_works_in("/dev/shm") {
            // tmpfs refuses O_DIRECT before Linux 6.6: the direct driver does not apply there, and says why.
            assert_eq!(d["ok"], false, "{where_}: {d:#}");
            assert_eq!(d["not_applicable"], DIRECT_REFUSED, "{d:#}");
            continue;
        }
        assert_eq!(d["ok"], true, "{where_}: {d:#}");
        assert!(d["not_applicable"].is_null(), "{where_}: {d:#}");
    }
    let family = m["drivers"].as_array().unwrap().iter().find(|d| d["driver"] == "family").unwrap();
    assert!(family["files_on_disk"].as_u64().unwrap() > 1, "small members: {family}");
    let split = m["drivers"].as_array().unwrap().iter().find(|d| d["driver"] == "split").unwrap();
    assert_eq!(split["files_on_disk"], 2, "metadata and raw data files");
    // The splitter's write-only copy is named after each directory's own file (its fapl is made per file;
    // the other drivers' fapls serve every directory): both halves are here, none elsewhere.
    let splitter = m["drivers"].as_array().unwrap().iter().find(|d| d["driver"] == "splitter").unwrap();
    assert_eq!(
        splitter["files_on_disk"], 2,
        "{where_}: the file and its write-only copy: {splitter:#}"
    );
    let modes: Vec<(&str, &str)> = m["modes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| (c["mode"].as_str().unwrap(), c["case"].as_str().unwrap()))
        .collect();
    assert_eq!(modes, MODES, "{where_}");
    for c in m["modes"].as_array().unwrap() {
        assert_eq!(c["ok"], true, "{where_}: {c:#}");
    }
}

#[test]
fn every_driver_and_mode_works_on_this_disk_and_on_dev_shm() {
    // The target dir is on the machine's disk; /tmp may be memory on some systems.
    let disk = tempfile::Builder::new()
        .prefix("h5doctor-test-")
        .tempdir_in(env!("CARGO_TARGET_TMPDIR"))
        .unwrap();
    let shm = tempfile::Builder::new().prefix("h5doctor-test-").tempdir_in("/dev/shm").unwrap();
    // The run's current directory is not a target: nothing may appear there (no log of the log driver, no
    // copy of the splitter, wherever their fapls were made).
    let cwd = tempdir();
    let mut h = H5doctor::new(&[
        "check",
        "--json",
        "--no-default-dirs",
        "--no-default-pythons",
        "--dir",
        disk.path().to_str().unwrap(),
        "--dir",
        shm.path().to_str().unwrap(),
    ]);
    h.command().current_dir(cwd.path());
    let run = h.run();
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    let report = run.json();
    assert!(slugs(&report).is_empty(), "{report:#}");
    assert_ne!(report["facts"]["dirs"][0]["filesystem"]["fs_type"], "tmpfs", "{report:#}");
    assert_eq!(report["facts"]["dirs"][1]["filesystem"]["fs_type"], "tmpfs");
    assert_everything_passes(matrix(&report, 0), "disk");
    assert_everything_passes(matrix(&report, 1), "/dev/shm");
    let mpio = report["facts"]["hdf5"]["library"]["drivers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["name"] == "mpio")
        .expect("mpio is listed, available or not");
    assert_eq!(mpio["available"], false, "Debian's serial HDF5 has no MPI-IO driver");
    assert_no_leftovers(disk.path());
    assert_no_leftovers(shm.path());
    let in_cwd: Vec<_> = std::fs::read_dir(cwd.path()).unwrap().map(|e| e.unwrap().file_name()).collect();
    assert!(in_cwd.is_empty(), "files made outside the target directories: {in_cwd:?}");

    let human = H5doctor::new(&[
        "check",
        "--no-default-dirs",
        "--no-default-pythons",
        "--dir",
        shm.path().to_str().unwrap(),
    ])
    .run();
    assert_eq!(human.code, 0);
    let version = hdf5_version_under_test();
    let tested: Vec<&str> = round_trip_drivers(&version).into_iter().filter(|d| *d != "direct").collect();
    let (tested, direct_note) = if version == "2.2.0" && !o_direct_works_in("/dev/shm") {
        (tested, format!(" (direct not run: {DIRECT_REFUSED})"))
    } else {
        (round_trip_drivers(&version), String::new())
    };
    assert!(
        human.stdout.contains(&format!(
            "drivers {}{direct_note} and open modes r r+ w w-/x a: all pass in 1 directories",
            tested.join(" ")
        )),
        "{}",
        human.stdout
    );
    assert!(human.stdout.contains("mpio not in this build"), "{}", human.stdout);
    assert_no_leftovers(shm.path());
}

#[test]
fn user_files_next_to_the_probe_files_are_left_alone() {
    let dir = tempdir();
    let data = dir.path().join("data.h5");
    let notes = dir.path().join("notes.txt");
    std::fs::write(&data, b"precious").unwrap();
    std::fs::write(&notes, b"keep me").unwrap();
    let (d, n) = (FileSnapshot::take(&data), FileSnapshot::take(&notes));
    let run = check_dir(dir.path(), None, &[]).run();
    assert_eq!(run.code, 0, "{}", run.stdout);
    d.assert_unchanged(&data);
    n.assert_unchanged(&notes);
    let mut names: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(names, ["data.h5", "notes.txt"]);
}

#[test]
fn a_file_size_limit_makes_drivers_fail_and_the_report_says_which_and_why() {
    // A per-process file-size limit (ulimit -f, PBS `-l file=`): writes past 12 KiB fail with EFBIG. An
    // empty HDF5 file still fits, and so do the family driver's 4 KiB members.
    // On the target dir's disk, so the direct driver (in the 2.2.0 build) runs too.
    let dir = tempfile::Builder::new()
        .prefix("h5doctor-test-")
        .tempdir_in(env!("CARGO_TARGET_TMPDIR"))
        .unwrap();
    let mut h = check_dir(dir.path(), None, &[]);
    unsafe {
        h.command().pre_exec(|| {
            let limit = libc::rlimit {
                rlim_cur: 12 * 1024,
                rlim_max: 12 * 1024,
            };
            libc::setrlimit(libc::RLIMIT_FSIZE, &limit);
            libc::signal(libc::SIGXFSZ, libc::SIG_IGN);
            Ok(())
        });
    }
    let run = h.run();
    assert_eq!(run.code, 1, "{}{}", run.stdout, run.stderr);
    let report = run.json();
    assert_eq!(slugs(&report), ["hdf5-driver-failed"], "{report:#}");
    let f = finding(&report, "hdf5-driver-failed");
    assert_eq!(f["id"], "H5D202");
    assert_eq!(f["severity"], "error", "sec2, the default driver, fails");
    assert_eq!(
        f["title"],
        format!(
            "HDF5 driver(s) {} fail in {}, although an empty HDF5 file can be created there",
            // Every driver that writes the 16 KiB dataset to one file; family's 4 KiB members fit.
            round_trip_drivers(&hdf5_version_under_test())
                .into_iter()
                .filter(|d| *d != "family")
                .collect::<Vec<_>>()
                .join(","),
            dir.path().display()
        )
    );
    let fixes: Vec<&str> = f["fixes"].as_array().unwrap().iter().map(|x| x["text"].as_str().unwrap()).collect();
    assert_eq!(fixes[0], "ulimit -f unlimited");
    assert_eq!(fixes[1], "Open files with a driver that works in this directory: family");
    let errors = f["evidence"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["fact"] == "dir.hdf5_driver_errors")
        .unwrap();
    // The frame number and source path differ per HDF5 version (#012 ../../../src/H5FDsec2.c in 1.10.8,
    // #016 and the full path in 1.14/2.x); the driver, the step and the file are the same.
    let sec2 = errors["value"][0].as_str().unwrap();
    assert!(sec2.starts_with("sec2: write failed: #"), "{errors}");
    assert!(sec2.contains("src/H5FDsec2.c line "), "{errors}");
    assert!(
        errors["value"][0].as_str().unwrap().contains("error message = 'File too large'"),
        "{errors}"
    );
    // The open modes write little and all pass.
    assert!(matrix(&report, 0)["modes"].as_array().unwrap().iter().all(|m| m["ok"] == true));
    assert_no_leftovers(dir.path());
}

#[test]
fn storage_that_refuses_o_trunc_breaks_mode_w_and_the_stdio_driver() {
    // The way append-only or write-once storage answers: every open with O_TRUNC fails with EPERM.
    let dir = tempdir();
    let run = H5doctor::injected(
        Some(("--open-trunc", 1)),
        &[
            "check",
            "--no-default-dirs",
            "--no-default-pythons",
            "--json",
            "--dir",
            dir.path().to_str().unwrap(),
        ],
    )
    .run();
    assert_eq!(run.code, 1, "{}{}", run.stdout, run.stderr);
    let report = run.json();
    assert_eq!(slugs(&report), ["hdf5-mode-deviation", "hdf5-driver-failed"], "{report:#}");
    let m = finding(&report, "hdf5-mode-deviation");
    assert_eq!(m["id"], "H5D203");
    assert_eq!(m["severity"], "error");
    let deviations = &m["evidence"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["fact"] == "dir.hdf5_mode_deviations")
        .unwrap()["value"];
    assert_eq!(deviations.as_array().unwrap().len(), 1, "{deviations}");
    let w = deviations[0].as_str().unwrap();
    assert!(
        // The frame is #003 in 1.10.8, deeper in 1.14/2.x.
        w.starts_with("w on an existing file: expected: truncates it; observed: could not re-create it (#"),
        "{w}"
    );
    assert!(w.contains("errno = 1, error message = 'Operation not permitted'"), "{w}");
    assert_eq!(
        m["fixes"][0]["text"],
        format!("h5doctor facts --json --no-default-dirs --dir {} > node.json", dir.path().display())
    );
    let d = finding(&report, "hdf5-driver-failed");
    assert_eq!(d["severity"], "warning", "only stdio and log fail; the default driver works");
    // stdio's fopen("wb+") and the log driver's log file (fopen "w") both truncate.
    assert!(
        d["title"].as_str().unwrap().starts_with("HDF5 driver(s) stdio,log fail in"),
        "{d:#}"
    );
    let log = matrix(&report, 0)["drivers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|x| x["driver"] == "log")
        .unwrap()
        .clone();
    assert_eq!(log["failed_step"], "log file", "{log:#}");
    assert_eq!(log["errno"], 1, "{log:#}");
    assert_no_leftovers(dir.path());
}

/// A stand-in probe named `name`: answers `create` like the real one (the creates on a first line), makes
/// of each stem the files `leftovers` names (`: > "$s-…"`, as the real matrix does) and then runs `then`.
fn stand_in_probe(dir: &Path, name: &str, leftovers: &str, then: &str) -> PathBuf {
    let script = dir.join(name);
    std::fs::write(
        &script,
        format!(
            r#"#!/bin/sh
lib='"library":{{"version":"1.10.8","parallel":false,"threadsafe":false}}'
case "$1" in
  create)
    shift; sep=""; creates=""
    for f in "$@"; do : > "$f"; creates="$creates$sep{{\"file\":\"$f\",\"ok\":true}}"; sep=","; done
    printf '{{%s,"creates":[%s]}}\n' "$lib" "$creates"
    for f in "$@"; do s="${{f%.h5}}"; {leftovers}; done
    {then} ;;
  *) printf '{{%s}}\n' "$lib" ;;
esac
"#
        ),
    )
    .unwrap();
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    script
}

/// A stand-in probe that starts the matrix the way the real one does, with family members and a split
/// half of each stem, and hangs the way HDF5 hangs on a sick network mount.
fn hanging_matrix_probe(dir: &Path) -> PathBuf {
    stand_in_probe(
        dir,
        "hanging-matrix-probe",
        r#": > "$s-family-0.h5"; : > "$s-family-1.h5"; : > "$s-split-m.h5""#,
        "exec sleep 60",
    )
}

#[test]
fn a_hung_matrix_times_out_as_inconclusive_and_its_files_are_removed() {
    let tools = tempdir();
    let target = tempdir();
    let probe = hanging_matrix_probe(tools.path());
    let start = Instant::now();
    let run = check_dir(target.path(), None, &["--timeout", "1", "--only", "hdf5"])
        .env("H5DOCTOR_PROBE", &probe)
        .run();
    assert!(start.elapsed() < Duration::from_secs(20));
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    let report = run.json();
    assert_eq!(
        report["facts"]["dirs"][0]["hdf5"]["create"]["ok"], true,
        "the creates came on the first line: {:#}",
        report["facts"]["hdf5"]
    );
    let m = matrix(&report, 0);
    assert_eq!(m["status"], "inconclusive");
    assert!(
        m["reason"]
            .as_str()
            .unwrap()
            .starts_with("drivers and modes not checked: h5doctor-probe timed out after 1 s"),
        "{m:#}"
    );
    let inc = report["inconclusive"].as_array().unwrap();
    assert!(
        inc.iter().any(|i| i["group"] == "hdf5" && i["scope"]["kind"] == "dir"),
        "{report:#}"
    );
    assert_no_leftovers(target.path());
}

/// A stand-in for a probe that answers `create` and exits normally but neither removes its files nor says
/// it did (`"removed_own_files":true`): an older h5doctor-probe. It leaves the probe file and, of each stem,
/// family members, a split half and an open-mode file.
fn probe_that_leaves_its_files(dir: &Path) -> PathBuf {
    stand_in_probe(
        dir,
        "probe-that-leaves-its-files",
        r#": > "$s-family-0.h5"; : > "$s-family-1.h5"; : > "$s-split-m.h5"; : > "$s-mode.h5""#,
        r#"printf '{"matrices":[]}\n'"#,
    )
}

#[test]
fn files_a_finished_probe_does_not_say_it_removed_are_removed_by_h5doctor() {
    // h5doctor lets go of a probe's files without removing them only when the probe's last line says it
    // removed them; a probe that ends without saying so has them removed by name, as a killed one does.
    let tools = tempdir();
    let target = tempdir();
    let probe = probe_that_leaves_its_files(tools.path());
    let run = check_dir(target.path(), None, &["--only", "hdf5"])
        .env("H5DOCTOR_PROBE", &probe)
        .run();
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    let report = run.json();
    assert_eq!(report["facts"]["dirs"][0]["hdf5"]["create"]["ok"], true, "{report:#}");
    assert_no_leftovers(target.path());
}

#[test]
fn sigint_during_the_matrix_removes_family_members_and_split_files() {
    let tools = tempdir();
    let target = tempdir();
    let probe = hanging_matrix_probe(tools.path());
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_h5doctor"))
        .args(["check", "--no-default-dirs", "--only", "hdf5", "--timeout", "60", "--dir"])
        .arg(target.path())
        .env("H5DOCTOR_PROBE", &probe)
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    let has_member = || {
        std::fs::read_dir(target.path())
            .unwrap()
            .any(|e| e.unwrap().file_name().to_string_lossy().ends_with("-family-1.h5"))
    };
    while !has_member() {
        assert!(Instant::now() < deadline, "the matrix never started");
        std::thread::sleep(Duration::from_millis(20));
    }
    unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
    let status = child.wait().unwrap();
    assert_eq!(std::os::unix::process::ExitStatusExt::into_raw(status) >> 8, 128 + libc::SIGINT);
    assert_no_leftovers(target.path());
}
