//! `h5doctor mpio-test` under real launchers: Open MPI's mpirun (pass with bandwidth; ROMIO with fcntl
//! locks failing via the seccomp injector), MPICH's mpirun.mpich launching the Open MPI build (the silent
//! singleton mismatch), a missing or unstartable MPI probe, the watchdog, and facts replay.
//!
//! Needs `h5doctor-probe-mpio` next to h5doctor (scripts/dev.sh builds it with feature `mpio` against
//! Debian's Open MPI HDF5) and the packages openmpi-bin, mpich, patchelf.

mod common;

use common::{
    assert_ended_inside_mpi_init, assert_no_leftovers, bin, evidence, finding, fix_texts, mpio_test, mpirun, slugs, tempdir, Run,
};
use serde_json::Value;
use std::path::Path;
use std::process::Command;

/// The slugs of a real MPI run without `mpiio-collective-slow` and `mpiio-filters-independent`: the
/// warning depends on how busy the machine is (OMPIO's collective transfers at a few ranks on two shared
/// cores), so a test of another finding must not depend on it (its own test replays recorded figures);
/// the info comes with every run that gets as far as the filtered writes (HDF5 refuses the independent
/// one), and `mpirun_four_ranks_pass_with_bandwidth_and_replay` asserts it.
fn slugs_besides_timing(report: &Value) -> Vec<String> {
    slugs(report)
        .into_iter()
        .filter(|s| s != "mpiio-collective-slow" && s != "mpiio-filters-independent")
        .collect()
}

/// `h5doctor mpio-test --mib-per-rank 2` under a launcher (`common::mpio_test`).
fn launch(launcher: &[&str], inject: Option<(&str, i32)>, dir: &Path, extra: &[&str]) -> Run {
    mpio_test(launcher, inject, dir, "2", extra)
}

#[test]
fn mpirun_four_ranks_pass_with_bandwidth_and_replay() {
    let dir = tempdir();
    let run = launch(&mpirun("4"), None, dir.path(), &[]);
    assert_eq!(run.code, 0, "stdout:\n{}\nstderr:\n{}", run.stdout, run.stderr);
    let report = run.json();
    let mpi = &report["facts"]["mpi"];
    assert_eq!(mpi["passed"], true);
    // Debian's Open MPI HDF5 1.10.8 is built with parallel filtered writes: a deflate-compressed dataset
    // written collectively by the 4 ranks works (mpiio-filters-independent's static check agrees).
    assert_eq!(mpi["filtered_write"], "ok");
    assert_eq!(mpi["size"], 4);
    assert_eq!(mpi["launcher"], "mpirun (Open MPI)");
    assert_eq!(mpi["launcher_size"], 4);
    assert_eq!(mpi["family"], "openmpi");
    assert_eq!(mpi["io_component"], "ompio");
    let results = mpi["results"].as_array().unwrap();
    assert_eq!(results.len(), 2);
    for r in results {
        assert!(
            r["write_mib_s"].as_f64().unwrap() > 0.0 && r["read_mib_s"].as_f64().unwrap() > 0.0,
            "{r}"
        );
        assert_eq!(r["verified"], true);
        assert_eq!(r["bytes"], 4 * 2 * 1024 * 1024);
        // The H5Fflush part of the timed write is measured and is a part of it.
        let (flush, write) = (r["flush_seconds"].as_f64().unwrap(), r["write_seconds"].as_f64().unwrap());
        assert!(flush > 0.0 && flush <= write, "{r}");
    }
    // HDF5's own, measured on the run: before the first timed write the file already reached the end of both
    // datasets (metadata below 1 MiB, then 2 datasets x 4 ranks x 2 MiB), where raw MPI-IO starts empty.
    assert_eq!(mpi["file_bytes_before_write"], MIB + 2 * 4 * 2 * MIB, "{mpi:#}");
    assert_eq!(report["summary"]["errors"], 0, "{report:#}");
    // OMPIO's collective reads at 4 ranks are often far slower here (perf-anchors §4): a warning, not a failure.
    assert_eq!(slugs_besides_timing(&report), Vec::<String>::new(), "{report:#}");
    // The same filtered dataset written independently: Debian's parallel HDF5 1.10.8 refuses it in its own
    // words, and mpiio-filters-independent gives the collective transfer as the fix, verified by the
    // collective filtered write of the same run.
    assert_eq!(mpi["filtered_independent"], "refused");
    let refusal = mpi["filtered_independent_error"].as_str().unwrap();
    assert!(
        refusal.contains("Can't perform independent write with filters in pipeline.")
            && refusal.contains("Local causes: independent I/O was requested"),
        "{refusal}"
    );
    let f = finding(&report, "mpiio-filters-independent");
    assert_eq!(f["severity"], "info", "advice, not a failure of the test: {f:#}");
    assert!(
        evidence(f, "mpi.filters_independent_error")
            .as_str()
            .unwrap()
            .ends_with("H5D__ioinfo_adjust(): Can't perform independent write with filters in pipeline."),
        "{f:#}"
    );
    assert_eq!(f["fixes"].as_array().unwrap().len(), 1, "only the fix that fits: {f:#}");
    assert_eq!(f["fixes"][0]["text"], "with dset.collective: dset[sel] = data");
    assert!(
        f["fixes"][0]["note"]
            .as_str()
            .unwrap()
            .contains("H5Pset_dxpl_mpio(dxpl, H5FD_MPIO_COLLECTIVE)"),
        "{f:#}"
    );
    assert_eq!(f["fixes"][0]["verified"], true, "the collective filtered write worked: {f:#}");
    assert_no_leftovers(dir.path());

    // Replay: the JSON report is a facts file for `check --facts`, with the same findings.
    let saved = dir.path().join("mpio.json");
    std::fs::write(&saved, &run.stdout).unwrap();
    let replay = common::H5doctor::new(&["check", "--facts", saved.to_str().unwrap(), "--json"]).run();
    assert_eq!(replay.code, 0, "{}", replay.stderr);
    assert_eq!(slugs(&replay.json()), slugs(&report));
    // The probe gathers and h5doctor judges (`h5doctor check --facts`): the report is the replay of its
    // own facts, byte for byte.
    assert_eq!(replay.stdout, run.stdout);
    let human = common::H5doctor::new(&["check", "--facts", saved.to_str().unwrap()]).run();
    assert!(human.stdout.contains("4 ranks (mpirun (Open MPI))"), "{}", human.stdout);
    assert!(human.stdout.contains("collective  write"), "{}", human.stdout);
    assert!(human.stdout.contains("write = H5Dwrite "), "{}", human.stdout);
    assert!(human.stdout.contains(" s + H5Fflush "), "{}", human.stdout);
    assert!(
        human
            .stdout
            .contains("H5Dwrite/H5Dread set an MPI file view per call (HDF5's collective path)"),
        "{}",
        human.stdout
    );
    assert!(
        human.stdout.contains(
            "HDF5's own: the file was 17.0 MiB before the first timed write: the mpio driver allocates the \
             datasets at H5Dcreate2, whatever allocation time the dataset asks for, and sets the file's size to \
             their end at H5Fflush (raw MPI-IO writing the same bytes extends an empty file)"
        ),
        "{}",
        human.stdout
    );
    assert!(
        !human.stdout.contains("strided write path"),
        "OMPIO has no such path: {}",
        human.stdout
    );
    std::fs::remove_file(saved).unwrap();
}

const MIB: u64 = 1024 * 1024;

/// The human report of a run's JSON report, as `h5doctor check --facts` renders it (the probe hands its facts
/// to that same command for the report it prints).
fn human_report(dir: &Path, run: &Run) -> String {
    let saved = dir.join("mpio.json");
    std::fs::write(&saved, &run.stdout).unwrap();
    let human = common::H5doctor::new(&["check", "--facts", saved.to_str().unwrap()]).run();
    std::fs::remove_file(saved).unwrap();
    human.stdout
}

#[test]
fn romio_collective_write_is_reported_with_its_strided_lock() {
    // ROMIO with working locks (no hints): HDF5's collective write goes through its file view, which is
    // ROMIO's strided write path, locking each rank's extent (strace: fcntl F_SETLKW around the pwrite).
    let dir = tempdir();
    let mut launcher = mpirun("2");
    launcher.extend(["--mca", "io", "romio321"]);
    let run = launch(&launcher, None, dir.path(), &[]);
    assert_eq!(run.code, 0, "stdout:\n{}\nstderr:\n{}", run.stdout, run.stderr);
    let report = run.json();
    let mpi = &report["facts"]["mpi"];
    assert_eq!(mpi["io_component"], "romio");
    assert_eq!(mpi["hints"], serde_json::json!([]));
    assert_eq!(mpi["file_bytes_before_write"], MIB + 2 * 2 * 2 * MIB, "{mpi:#}");
    let human = human_report(dir.path(), &run);
    assert!(
        human.contains(
            "under ROMIO that view takes its strided write path: an fcntl lock on each rank's extent around its \
             write (a plain MPI_File_write_at_all takes none)"
        ),
        "{human}"
    );
    assert!(
        human.contains("HDF5's own: the file was 9.0 MiB before the first timed write"),
        "{human}"
    );
    assert_no_leftovers(dir.path());
}

#[test]
fn romio_with_failing_fcntl_locks_is_mpiio_romio_lock_with_a_verified_fix() {
    let dir = tempdir();
    let mut launcher = mpirun("2");
    launcher.extend(["--mca", "io", "romio321"]);
    let run = launch(&launcher, Some(("--fcntl", 524)), dir.path(), &[]);
    assert_eq!(run.code, 1, "stdout:\n{}\nstderr:\n{}", run.stdout, run.stderr);
    let report = run.json();
    assert_eq!(slugs_besides_timing(&report), ["mpiio-romio-lock"], "{report:#}");
    let f = finding(&report, "mpiio-romio-lock");
    assert_eq!(f["severity"], "error");
    assert!(f["title"].as_str().unwrap().contains("ENOTSUPP"), "{f:#}");
    let hint_fix = &f["fixes"][0];
    assert!(
        hint_fix["text"].as_str().unwrap().contains("\"romio_ds_write\", \"disable\""),
        "{f:#}"
    );
    assert_eq!(hint_fix["verified"], true, "the test itself ran with the hints and passed: {f:#}");
    assert!(fix_texts(f).iter().any(|t| t.contains("--mca io ompio")), "{f:#}");
    assert_eq!(report["facts"]["mpi"]["fcntl_lock_errno"], 524);
    assert_eq!(report["facts"]["mpi"]["passed"], true);
    // With data sieving for writes disabled ROMIO's strided path writes without a lock: nothing to report.
    let human = human_report(dir.path(), &run);
    assert!(human.contains("H5Dwrite/H5Dread set an MPI file view per call"), "{human}");
    assert!(!human.contains("strided write path"), "{human}");
    assert_no_leftovers(dir.path());
}

#[test]
fn mpich_launcher_with_the_open_mpi_build_is_mpi_singleton() {
    let dir = tempdir();
    let run = launch(&["mpirun.mpich", "-n", "2"], None, dir.path(), &[]);
    assert_eq!(run.code, 1, "stdout:\n{}\nstderr:\n{}", run.stdout, run.stderr);
    // One report for the job, from the task the launcher numbered 0, although both are "rank 0 of 1".
    let report = run.json();
    assert_eq!(slugs_besides_timing(&report), ["mpi-singleton"], "{report:#}");
    let f = finding(&report, "mpi-singleton");
    assert!(f["title"].as_str().unwrap().contains("started 2 tasks"), "{f:#}");
    assert_eq!(
        fix_texts(f),
        ["mpirun.openmpi -n 2 ...   (Open MPI's own mpirun, not MPICH's mpiexec.hydra)"],
        "the task count of this launch, where it said `-n N`"
    );
    assert_eq!(f["fixes"][0]["verified"], false);
    assert!(
        f["fixes"][0]["note"]
            .as_str()
            .unwrap()
            .starts_with("The program runs on Open MPI (Open MPI v4.1.4"),
        "{f:#}"
    );
    let evidence: Vec<&str> = f["evidence"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["fact"].as_str().unwrap())
        .collect();
    assert!(evidence.contains(&"mpi.launcher_vars"), "{evidence:?}");
    assert_no_leftovers(dir.path());
}

#[test]
fn an_mpi_io_error_is_mpiio_failed_with_the_hdf5_error() {
    // /proc/self is a directory in which no file can be created, not even by root.
    let run = launch(&mpirun("2"), None, Path::new("/proc/self"), &[]);
    assert_eq!(run.code, 1, "stdout:\n{}\nstderr:\n{}", run.stdout, run.stderr);
    let report = run.json();
    assert_eq!(slugs_besides_timing(&report), ["mpiio-failed"], "{report:#}");
    let f = finding(&report, "mpiio-failed");
    assert!(f["title"].as_str().unwrap().contains("rank 0: H5Fcreate (mpio driver)"), "{f:#}");
    let hdf5_error = f["evidence"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["fact"] == "mpi.hdf5_error")
        .expect("HDF5's error");
    assert!(
        hdf5_error["value"].as_str().unwrap().contains("MPI_File_open failed"),
        "{hdf5_error}"
    );
    assert!(report["facts"]["mpi"]["error_stack"]
        .as_str()
        .unwrap()
        .contains("H5Fcreate(): unable to create file"));
    assert!(fix_texts(f)[0].starts_with("h5doctor check --dir /proc/"), "{f:#}");
}

/// The MPI probe judges nothing itself: its rank 0 hands the facts to the h5doctor named by $H5DOCTOR_EXE
/// (set by `mpio-test`), and a judge that cannot run is a clear tool failure.
#[test]
fn the_mpi_probe_hands_its_facts_to_h5doctor_to_be_judged() {
    let dir = tempdir();
    let scratch = tempdir();
    let log = scratch.path().join("judge.log");
    let judge = scratch.path().join("judge.sh");
    std::fs::write(
        &judge,
        format!(
            "#!/bin/sh\necho \"$@\" > {}\nexec {} \"$@\"\n",
            log.display(),
            env!("CARGO_BIN_EXE_h5doctor")
        ),
    )
    .unwrap();
    std::fs::set_permissions(&judge, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let probe = |exe: &Path| {
        let mut cmd = Command::new("timeout");
        cmd.args(["-k", "5", "120"])
            .args(mpirun("1"))
            .arg(bin("h5doctor-probe-mpio"))
            .args(["mpio-test", "--dir", dir.path().to_str().unwrap(), "--mib-per-rank", "1", "--json"])
            .env("H5DOCTOR_EXE", exe)
            .env("OMPI_ALLOW_RUN_AS_ROOT", "1")
            .env("OMPI_ALLOW_RUN_AS_ROOT_CONFIRM", "1")
            .env_remove("H5DOCTOR_RULES_PATH");
        Run::of(cmd)
    };
    let run = probe(&judge);
    assert_eq!(run.code, 0, "stdout:\n{}\nstderr:\n{}", run.stdout, run.stderr);
    assert_eq!(run.json()["facts"]["mpi"]["passed"], true, "{}", run.stdout);
    assert_eq!(std::fs::read_to_string(&log).unwrap().trim(), "check --facts /dev/stdin --json");

    let run = probe(Path::new("/nonexistent/h5doctor"));
    assert_eq!(run.code, 2, "stdout:\n{}\nstderr:\n{}", run.stdout, run.stderr);
    assert!(
        run.stderr
            .contains("h5doctor mpio-test: cannot run /nonexistent/h5doctor: No such file"),
        "{}",
        run.stderr
    );
    assert!(run.stdout.is_empty(), "{}", run.stdout);
    assert_no_leftovers(dir.path());
}

#[test]
fn a_missing_or_unstartable_mpi_probe_is_a_clear_tool_failure() {
    let dir = tempdir();
    let run = common::H5doctor::new(&["mpio-test", "--dir", dir.path().to_str().unwrap()])
        .env("H5DOCTOR_PROBE_MPIO", "/nonexistent/h5doctor-probe-mpio")
        .run();
    assert_eq!(run.code, 2);
    assert!(
        run.stderr
            .contains("H5DOCTOR_PROBE_MPIO=/nonexistent/h5doctor-probe-mpio: no such file"),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("--features mpio"), "{}", run.stderr);

    // A probe whose MPI library cannot be found: h5doctor's resolver names it before any exec.
    let broken = dir.path().join("h5doctor-probe-mpio");
    std::fs::copy(bin("h5doctor-probe-mpio"), &broken).unwrap();
    let st = Command::new("patchelf")
        .arg("--add-needed")
        .arg("libmpi-gone.so.40")
        .arg(&broken)
        .status()
        .unwrap();
    assert!(st.success());
    let run = common::H5doctor::new(&["mpio-test", "--dir", dir.path().to_str().unwrap()])
        .env("H5DOCTOR_PROBE_MPIO", &broken)
        .run();
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(run.stderr.contains("cannot start: the loader cannot find"), "{}", run.stderr);
    assert!(run.stderr.contains("libmpi-gone.so.40"), "{}", run.stderr);
    assert!(run.stdout.is_empty());
    std::fs::remove_file(broken).unwrap();
    assert_no_leftovers(dir.path());
}

#[test]
fn the_watchdog_ends_every_rank_instead_of_hanging() {
    // Ranks stuck in MPI for real: under OMPIO, fcntl locks failing on rank 1 only make the ranks pick
    // different shared-file-pointer components and hang in MPI_File_open (the check that stops before it
    // is switched off; on one node the choice is limited to the two components that hang). The watchdog
    // ends them at 3 s, and the job ends with it, its files and OMPIO's side files removed.
    // (This test used --timeout 0.05, which fired inside MPI_Init: a rank that exits while it connects to
    // mpirun's PMIx server makes Open MPI 4.1.4's mpirun hang for good after "PMIX ERROR: UNREACHABLE in
    // ptl_base_connection_hdlr.c at line 388", in 4 of 6 runs at load 12, so the test failed its bound.)
    let dir = tempdir();
    let test = format!(
        "{} mpio-test --dir {} --mib-per-rank 1 --json --timeout 3",
        env!("CARGO_BIN_EXE_h5doctor"),
        dir.path().display()
    );
    let per_rank = format!(
        "if [ \"$OMPI_COMM_WORLD_RANK\" = 1 ]; then exec {} --fcntl 37 -- {test}; else exec {test}; fi",
        bin("inject-errno").display()
    );
    bin("h5doctor-probe-mpio");
    let mut cmd = Command::new("timeout");
    cmd.args(["-k", "5", "120"])
        .args(mpirun("2"))
        .args(["sh", "-c", &per_rank])
        .env("OMPI_ALLOW_RUN_AS_ROOT", "1")
        .env("OMPI_ALLOW_RUN_AS_ROOT_CONFIRM", "1")
        .env("OMPI_MCA_io", "ompio")
        .env("OMPI_MCA_sharedfp", "lockedfile,individual")
        .env("H5DOCTOR_MPIO_NO_OMPIO_CHECK", "1")
        .env_remove("H5DOCTOR_PROBE_MPIO")
        .env_remove("H5DOCTOR_RULES_PATH");
    let start = std::time::Instant::now();
    let run = Run::of(cmd);
    assert!(start.elapsed().as_secs() < 60, "{:?}", start.elapsed());
    assert_eq!(run.code, 2, "stdout:\n{}\nstderr:\n{}", run.stdout, run.stderr);
    assert!(run.stderr.contains("h5doctor mpio-test: no result after 3 s"), "{}", run.stderr);
    assert_no_leftovers(dir.path());
}

/// A preload library for mpirun: its PMIx server answers the first rank that connects (its first 4-byte
/// send on a socket, PMIx's handshake reply) H5DOCTOR_TEST_PMIX_REPLY_MS milliseconds late. Loaded into
/// the ranks too (LD_PRELOAD is inherited), where it does nothing.
fn slow_first_pmix_reply_library() -> std::path::PathBuf {
    common::preload_library(
        "slow_first_pmix_reply",
        r#"#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
static int answered;
ssize_t send(int fd, const void *buf, size_t len, int flags) {
  const char *ms = getenv("H5DOCTOR_TEST_PMIX_REPLY_MS");
  struct sockaddr_storage addr;
  socklen_t addr_len = sizeof addr;
  if (ms && len == 4 && !answered && !strcmp(program_invocation_short_name, "mpirun") &&
      getsockname(fd, (struct sockaddr *)&addr, &addr_len) == 0) {
    answered = 1;
    usleep(1000u * (unsigned)atoi(ms));
  }
  return ((ssize_t (*)(int, const void *, size_t, int))dlsym(RTLD_NEXT, "send"))(fd, buf, len, flags);
}
"#,
    )
}

#[test]
fn the_watchdog_firing_inside_mpi_init_ends_the_job() {
    // The watchdog fires (--timeout 2) while the first rank to connect waits in MPI_Init for mpirun's
    // PMIx server to answer its connection (6 s late here). A rank that exited there left Open MPI 4.1.4's
    // mpirun to send its reply to a dead process: here mpirun died of SIGPIPE (exit 141, every run); by
    // chance, with --timeout 0.05, it logged "PMIX ERROR: UNREACHABLE in ptl_base_connection_hdlr.c at
    // line 388" and hung for good in its PMIx finalize (2 of 20 runs). The rank now lets its handshake
    // finish, then ends (and so does a rank that mpirun's abort SIGTERMs meanwhile): the job ends, with the
    // watchdog's message and exit code 2.
    let dir = tempdir();
    let lib = slow_first_pmix_reply_library();
    bin("h5doctor-probe-mpio");
    let mut cmd = Command::new("timeout");
    cmd.args(["-k", "5", "90"])
        .args(mpirun("2"))
        .arg(env!("CARGO_BIN_EXE_h5doctor"))
        .args([
            "mpio-test",
            "--dir",
            dir.path().to_str().unwrap(),
            "--mib-per-rank",
            "1",
            "--json",
            "--timeout",
            "2",
        ])
        .env("OMPI_ALLOW_RUN_AS_ROOT", "1")
        .env("OMPI_ALLOW_RUN_AS_ROOT_CONFIRM", "1")
        .env("LD_PRELOAD", &lib)
        .env("H5DOCTOR_TEST_PMIX_REPLY_MS", "6000")
        .env("H5DOCTOR_MPIO_DEBUG", "1")
        .env_remove("H5DOCTOR_PROBE_MPIO")
        .env_remove("H5DOCTOR_RULES_PATH");
    let run = Run::of(cmd);
    let _ = std::fs::remove_file(&lib);
    assert_ne!(
        run.code, 124,
        "mpirun hung after the watchdog ended a rank (killed at 90 s):\n{}",
        run.stderr
    );
    assert_ne!(
        run.code, -1,
        "mpirun died of a signal (SIGPIPE: it answered a rank that had died in its PMIx handshake):\n{}",
        run.stderr
    );
    assert_eq!(run.code, 2, "stdout:\n{}\nstderr:\n{}", run.stdout, run.stderr);
    assert!(run.stderr.contains("h5doctor mpio-test: no result after 2 s"), "{}", run.stderr);
    // The case under test happened: a rank was ended inside MPI_Init, after its handshake.
    assert_ended_inside_mpi_init(&run, "rank");
    assert_no_leftovers(dir.path());
}

#[test]
fn collective_far_slower_than_independent_is_a_warning_with_both_figures() {
    // Replayed facts (the real 4-rank figures of this machine vary too much to make this fire on
    // demand): collective reads ten times slower than independent ones.
    let dir = tempdir();
    let mut facts: Value = serde_json::from_str(include_str!("fixtures/mpio-ompio-4ranks.json")).unwrap();
    let run_facts = |facts: &Value, strict: bool| {
        let path = dir.path().join("facts.json");
        std::fs::write(&path, facts.to_string()).unwrap();
        let mut args = vec!["check", "--facts", path.to_str().unwrap(), "--json"];
        if strict {
            args.push("--strict");
        }
        let run = common::H5doctor::new(&args).run();
        std::fs::remove_file(path).unwrap();
        run
    };
    let run = run_facts(&facts, false);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let report = run.json();
    assert_eq!(slugs(&report), ["mpiio-collective-slow"]);
    let f = finding(&report, "mpiio-collective-slow");
    assert_eq!(f["severity"], "warning");
    assert!(f["title"].as_str().unwrap().contains("10.0x slower"), "{f:#}");
    let value = |fact: &str| {
        f["evidence"]
            .as_array()
            .unwrap()
            .iter()
            .find(|e| e["fact"] == fact)
            .map(|e| e["value"].clone())
    };
    assert_eq!(value("mpi.collective_read_mib_s"), Some(serde_json::json!(60.0)));
    assert_eq!(value("mpi.independent_read_mib_s"), Some(serde_json::json!(600.0)));
    assert!(fix_texts(f).iter().any(|t| t.starts_with("mpirun --mca io romio321")), "{f:#}");
    assert!(fix_texts(f).iter().any(|t| t.starts_with("mpirun --mca fcoll individual")), "{f:#}");
    assert_eq!(run_facts(&facts, true).code, 1, "--strict counts the warning");

    // Comparable figures: no finding.
    facts["mpi"]["results"][0]["read_mib_s"] = serde_json::json!(500.0);
    let run = run_facts(&facts, false);
    assert_eq!(run.code, 0);
    assert!(slugs(&run.json()).is_empty());
}
