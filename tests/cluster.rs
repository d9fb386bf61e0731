//! h5doctor beyond one node, on a real three-node Slurm on this one machine: testsupport/slurm.sh starts
//! `slurmd -N nid001..nid003`, each in its own UTS and mount namespace with its own hostname and a private
//! tmpfs on /tmp (so node-local /tmp is real, and a directory outside /tmp is shared by the nodes), with a
//! TaskProlog that points TMPDIR at a per-job directory in the node's /tmp, as sites do. The cluster is
//! started once for this test binary and stopped by PID when it exits; Slurm's state lives outside /tmp,
//! under the target dir. If it cannot start, every test here fails with the daemons' logs.

mod common;

use common::slurm::Slurm;
use common::{assert_no_leftovers, bin, evidence, finding, fix_texts, preload_library, probe_files, slugs, wait_for_ompio_hang, Run};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

struct Cluster {
    slurm: Slurm,
    task_prolog: PathBuf,
    /// A shared directory that nid002 sees read-only (a bind mount in that node's mount namespace).
    scratch: PathBuf,
}

static CLUSTER: OnceLock<Result<Cluster, String>> = OnceLock::new();

/// A directory outside /tmp (so every emulated node sees the same one), under the target dir.
fn shared_tempdir(prefix: &str) -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix(prefix)
        .tempdir_in(env!("CARGO_TARGET_TMPDIR"))
        .unwrap()
}

fn cluster() -> &'static Cluster {
    let c = CLUSTER.get_or_init(|| {
        let prefix = shared_tempdir("h5doctor-cluster-").keep();
        let task_prolog = prefix.join("taskprolog.sh");
        let contrib_prolog = Path::new(env!("CARGO_MANIFEST_DIR")).join("contrib/slurm/h5doctor-taskprolog.sh");
        std::fs::write(
            &task_prolog,
            format!(
                "#!/bin/sh\n# node-local scratch for every job, as many sites do\nmkdir -p /tmp/job$SLURM_JOB_ID\necho \"export TMPDIR=/tmp/job$SLURM_JOB_ID\"\n\
                 # then contrib's h5doctor TaskProlog, for the jobs that ask for it\n\
                 if [ -n \"$H5DOCTOR_PROLOG_DIRS\" ]; then exec {}; fi\n",
                contrib_prolog.display()
            ),
        )
        .unwrap();
        let scratch = prefix.join("scratch");
        std::fs::create_dir_all(&scratch).unwrap();
        std::process::Command::new("chmod").arg("0755").arg(&task_prolog).status().unwrap();
        let slurm = common::slurm::up(
            prefix,
            Some(3),
            &[
                ("SLURM_SH_EXTRA_CONF", format!("TaskProlog={}", task_prolog.display())),
                (
                    "SLURM_SH_NODE_SETUP",
                    format!("if [ \"$1\" = nid002 ]; then mount --bind -o ro {s} {s}; fi", s = scratch.display()),
                ),
            ],
        )?;
        Ok(Cluster {
            slurm,
            task_prolog,
            scratch,
        })
    });
    match c {
        Ok(c) => c,
        Err(e) => panic!("{e}"),
    }
}

/// `timeout 120 srun ARGS` on the three-node cluster, with the test's environment under control.
fn srun(args: &[&str]) -> Run {
    let mut cmd = cluster().slurm.srun();
    cmd.args(args);
    Run::of(cmd)
}

fn h5doctor() -> &'static str {
    env!("CARGO_BIN_EXE_h5doctor")
}

#[test]
fn the_emulated_nodes_have_their_own_names_and_their_own_tmp() {
    let run = srun(&[
        "-N",
        "3",
        "--ntasks-per-node=1",
        "-l",
        "sh",
        "-c",
        "echo $(hostname) $TMPDIR; ls -d $TMPDIR",
    ]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let mut lines: Vec<&str> = run.stdout.lines().collect();
    lines.sort();
    assert_eq!(lines.len(), 6, "{}", run.stdout);
    for (i, node) in ["nid001", "nid002", "nid003"].iter().enumerate() {
        assert!(
            lines.iter().any(|l| l.starts_with(&format!("{i}: {node} /tmp/job"))),
            "{}",
            run.stdout
        );
    }
}

#[test]
fn each_emulated_node_has_its_own_dev_shm() {
    // As on real nodes: Open MPI's shared-memory segments (/dev/shm/vader_segment.HOST.0.JOBID.RANK, the
    // job id a hash of slurm.pmix.JOB.STEP) of two test Slurms running the same job number must not meet.
    let tag = format!("h5doctor-shm-test-{}", std::process::id());
    let script = format!("touch /dev/shm/{tag}-$(hostname); sleep 2; ls /dev/shm | grep {tag}; rm -f /dev/shm/{tag}-$(hostname)");
    let run = srun(&["-N", "3", "--ntasks-per-node=1", "-l", "sh", "-c", &script]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let mut lines: Vec<&str> = run.stdout.lines().collect();
    lines.sort();
    let expected: Vec<String> = ["nid001", "nid002", "nid003"]
        .iter()
        .enumerate()
        .map(|(i, node)| format!("{i}: {tag}-{node}"))
        .collect();
    assert_eq!(lines, expected, "each node sees its own file only");
    let on_host = std::fs::read_dir("/dev/shm")
        .unwrap()
        .filter(|e| e.as_ref().unwrap().file_name().to_string_lossy().starts_with(&tag))
        .count();
    assert_eq!(on_host, 0, "the nodes' files were in this host's /dev/shm");
}

#[test]
fn mpio_test_on_node_local_tmpdir_names_the_nodes_within_seconds() {
    let start = Instant::now();
    bin("h5doctor-probe-mpio");
    let command = format!("exec {} mpio-test --dir \"$TMPDIR\" --mib-per-rank 1 --json", h5doctor());
    let run = srun(&["-N", "3", "--ntasks-per-node=1", "--mpi=pmix", "sh", "-c", &command]);
    let elapsed = start.elapsed();
    assert_eq!(run.code, 1, "stdout:\n{}\nstderr:\n{}", run.stdout, run.stderr);
    assert!(
        elapsed < Duration::from_secs(60),
        "took {elapsed:?}: the watchdog, not the marker check"
    );
    let report = run.json();
    assert_eq!(slugs(&report), ["mpiio-path-not-shared"], "{report:#}");
    let f = finding(&report, "mpiio-path-not-shared");
    assert_eq!(f["severity"], "error");
    assert_eq!(evidence(f, "mpi.unshared_nodes"), "nid[002-003]");
    assert_eq!(evidence(f, "mpi.rank0_node"), "nid001");
    assert_eq!(evidence(f, "mpi.fs_type"), "tmpfs");
    assert_eq!(evidence(f, "mpi.unshared_fs_types"), "nid[002-003]: tmpfs");
    assert_eq!(evidence(f, "mpi.nodes"), "nid[001-003]");
    assert_eq!(evidence(f, "mpi.ranks_per_node"), "nid[001-003]: 1");
    assert!(
        evidence(f, "mpi.marker_error")
            .as_str()
            .unwrap()
            .contains("No such file or directory"),
        "{f:#}"
    );
    let prolog = cluster().task_prolog.display().to_string();
    let origin = evidence(f, "mpi.tmpdir_origin").as_str().unwrap();
    assert!(
        origin.contains(&format!(
            "is set per task by the Slurm TaskProlog {prolog} (line 4: `echo \"export TMPDIR=/tmp/job$SLURM_JOB_ID\"`"
        )),
        "{origin}"
    );
    let fixes = fix_texts(f);
    assert!(
        fixes[0].starts_with("write the shared file on a shared file system: h5doctor mpio-test --dir $SCRATCH"),
        "{fixes:?}"
    );
    assert!(fixes[1].starts_with("keep TMPDIR for node-local scratch only"), "{fixes:?}");
    let mpi = &report["facts"]["mpi"];
    assert_eq!(mpi["passed"], Value::Null, "no MPI-IO was attempted: {mpi:#}");
    assert_eq!(mpi["hosts"], serde_json::json!(["nid001", "nid002", "nid003"]));
    // The marker is gone from rank 0's node-local directory.
    let marker = mpi["marker"].as_str().unwrap();
    let job_dir = Path::new(marker).parent().unwrap().to_str().unwrap().to_string();
    let left = srun(&["-N", "1", "-w", "nid001", "ls", "-A", &job_dir]);
    assert!(!left.stdout.contains(".h5doctor-probe-"), "left on nid001: {}", left.stdout);
}

#[test]
fn mpio_test_human_report_shows_nodes_and_the_hostlist() {
    bin("h5doctor-probe-mpio");
    let command = format!("exec {} mpio-test --dir \"$TMPDIR\" --mib-per-rank 1", h5doctor());
    let run = srun(&["-N", "3", "--ntasks-per-node=2", "--mpi=pmix", "sh", "-c", &command]);
    assert_eq!(run.code, 1, "stdout:\n{}\nstderr:\n{}", run.stdout, run.stderr);
    assert!(run.stdout.contains("on 3 nodes nid[001-003] (2 ranks each)"), "{}", run.stdout);
    assert!(
        run.stdout
            .contains("NOT SHARED: nid[002-003] cannot see the file rank 0 made on nid001; no MPI-IO was attempted"),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout.contains("✗ error H5D512 mpiio-path-not-shared: /tmp/job"),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout.contains("1 error, 0 warnings, 0 info, 0 inconclusive — exit 1"),
        "{}",
        run.stdout
    );
}

#[test]
fn mpio_test_on_a_shared_dir_spans_nodes_and_verifies_a_slab_from_another_node() {
    bin("h5doctor-probe-mpio");
    let dir = shared_tempdir("h5doctor-shared-");
    let d = dir.path().to_str().unwrap();
    let run = srun(&[
        "-N",
        "3",
        "--ntasks-per-node=2",
        "--mpi=pmix",
        h5doctor(),
        "mpio-test",
        "--dir",
        d,
        "--mib-per-rank",
        "1",
        "--json",
    ]);
    assert!(run.code == 0 || run.code == 1, "stdout:\n{}\nstderr:\n{}", run.stdout, run.stderr);
    let report = run.json();
    let mpi = &report["facts"]["mpi"];
    assert_eq!(mpi["passed"], true, "{mpi:#}");
    assert_eq!(mpi["verified_across_nodes"], true, "{mpi:#}");
    assert_eq!(mpi["size"], 6);
    let nodes = mpi["nodes"].as_array().unwrap();
    let summary: Vec<(String, Value, Value, Value, Value)> = nodes
        .iter()
        .map(|n| {
            (
                n["host"].as_str().unwrap().to_string(),
                n["ranks"].clone(),
                n["sees_marker"].clone(),
                n["flock_errno"].clone(),
                n["fcntl_errno"].clone(),
            )
        })
        .collect();
    let ok = |r: Value| (r, Value::Bool(true), Value::from(0), Value::from(0));
    let expected: Vec<_> = [("nid001", [0, 1]), ("nid002", [2, 3]), ("nid003", [4, 5])]
        .iter()
        .map(|(h, r)| {
            let (a, b, c, d) = ok(serde_json::json!(r));
            (h.to_string(), a, b, c, d)
        })
        .collect();
    assert_eq!(summary, expected);
    // Only a warning may fire here (collective I/O is slow on one disk); never an error.
    assert_eq!(report["summary"]["errors"], 0, "{report:#}");
    assert!(!slugs(&report).contains(&"mpiio-path-not-shared".to_string()));
    assert_no_leftovers(dir.path());
}

/// A preload library for the MPI probe and the Python test: on the rank named by H5DOCTOR_TEST_LATE_RANK
/// (SLURM_PROCID), MPI_Init_thread (the probe's) and MPI_Init (mpi4py's MPI.Init()) return
/// H5DOCTOR_TEST_LATE_MS milliseconds after the real one did.
fn late_mpi_init_library() -> PathBuf {
    preload_library(
        "late_mpi_init",
        r#"#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
/* The real function: the next definition after this library, or libmpi's own when a Python extension
   loaded libmpi outside the global scope (RTLD_LOCAL), where RTLD_NEXT does not look. */
static void *real(const char *name) {
  void *f = dlsym(RTLD_NEXT, name);
  if (!f) {
    void *mpi = dlopen("libmpi.so.40", RTLD_NOW | RTLD_NOLOAD);
    if (mpi) f = dlsym(mpi, name);
  }
  return f;
}
static void late(void) {
  const char *late = getenv("H5DOCTOR_TEST_LATE_RANK"), *me = getenv("SLURM_PROCID"), *ms = getenv("H5DOCTOR_TEST_LATE_MS");
  if (late && me && ms && !strcmp(late, me)) usleep(1000u * (unsigned)atoi(ms));
}
int MPI_Init_thread(int *argc, char ***argv, int required, int *provided) {
  int rc = ((int (*)(int *, char ***, int, int *))real("MPI_Init_thread"))(argc, argv, required, provided);
  late();
  return rc;
}
/* mpi4py's MPI.Init(), which the Python test calls. */
int MPI_Init(int *argc, char ***argv) {
  int rc = ((int (*)(int *, char ***))real("MPI_Init"))(argc, argv);
  late();
  return rc;
}
"#,
    )
}

/// A preload library for the MPI probe: the rank named by H5DOCTOR_TEST_KILLED_RANK (SLURM_PROCID) is
/// killed (SIGKILL, as by the OOM killer) in its first H5Dwrite, while the others wait for it in the
/// collective write.
fn killed_in_h5dwrite_library() -> PathBuf {
    preload_library(
        "killed_in_h5dwrite",
        r#"#define _GNU_SOURCE
#include <dlfcn.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
int H5Dwrite(long long dset, long long mem_type, long long mem_space, long long file_space, long long dxpl, const void *buf) {
  const char *killed = getenv("H5DOCTOR_TEST_KILLED_RANK"), *me = getenv("SLURM_PROCID");
  if (killed && me && !strcmp(killed, me)) kill(getpid(), SIGKILL);
  void *real = dlsym(RTLD_NEXT, "H5Dwrite");
  if (!real) { /* h5py loaded Debian's parallel libhdf5 outside the global scope (RTLD_LOCAL) */
    void *hdf5 = dlopen("libhdf5_openmpi.so.103", RTLD_NOW | RTLD_NOLOAD);
    if (hdf5) real = dlsym(hdf5, "H5Dwrite");
  }
  return ((int (*)(long long, long long, long long, long long, long long, const void *))real)(dset, mem_type, mem_space, file_space, dxpl, buf);
}
"#,
    )
}

/// Rank 0 (the probe, or its interpreter) said, under H5DOCTOR_MPIO_DEBUG, that it waited at least 2.5 s
/// for every rank's MPI_Init: nid003's is 3 s late in the tests below.
fn assert_rank_0_waited_for_the_late_rank(run: &Run) {
    let waited: f64 = run
        .stderr
        .lines()
        .find_map(|l| l.strip_prefix("rank 0: every rank had finished MPI_Init "))
        .and_then(|rest| rest.strip_suffix(" s later"))
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("rank 0 did not wait for every rank's MPI_Init:\n{}", run.stderr));
    assert!(
        waited >= 2.5,
        "rank 0 waited only {waited} s for nid003's late MPI_Init:\n{}",
        run.stderr
    );
}

/// CI once saw rank 2 of the sbatch script's mpio-test die of SIGSEGV inside MPI_Init: rank 0 had left
/// MPI_Init (Open MPI 4.1's closing PMIx fence under Slurm let it out) and sent its first broadcast
/// before rank 2's MPI library had registered its receive handlers; ranks 0 and 1 then waited for the
/// dead rank until the watchdog. Now rank 0 sends nothing before every rank has said (a PMIx key) that
/// its MPI_Init returned. Here nid003's MPI_Init_thread returns 3 s late: rank 0 waits those 3 s before
/// its first message (H5DOCTOR_MPIO_DEBUG prints how long), and the test then runs and passes.
#[test]
fn rank_0_sends_nothing_before_every_rank_has_left_mpi_init() {
    bin("h5doctor-probe-mpio");
    let lib = late_mpi_init_library();
    let dir = shared_tempdir("h5doctor-shared-");
    let mut cmd = cluster().slurm.srun();
    cmd.args(["-N", "3", "--ntasks-per-node=1", "--mpi=pmix", h5doctor(), "mpio-test", "--dir"])
        .arg(dir.path())
        .args(["--mib-per-rank", "1", "--json"])
        .env("LD_PRELOAD", &lib)
        .env("H5DOCTOR_TEST_LATE_RANK", "2")
        .env("H5DOCTOR_TEST_LATE_MS", "3000")
        .env("H5DOCTOR_MPIO_DEBUG", "1");
    let run = Run::of(cmd);
    let _ = std::fs::remove_file(&lib);
    assert!(run.code == 0 || run.code == 1, "stdout:\n{}\nstderr:\n{}", run.stdout, run.stderr);
    assert_rank_0_waited_for_the_late_rank(&run);
    let report = run.json();
    assert_eq!(report["facts"]["mpi"]["passed"], true, "{report:#}");
    assert_eq!(report["summary"]["errors"], 0, "{report:#}");
    assert!(!run.stderr.contains("Segmentation fault"), "{}", run.stderr);
    assert_no_leftovers(dir.path());
}

/// A rank that dies in the middle of the test (SIGKILL in its first H5Dwrite, as the OOM killer does)
/// ends the test at once. Open MPI under srun often leaves the other ranks waiting for it in the
/// collective write (before the lifeline they waited until the watchdog, here 240 s); sometimes its own
/// TCP error path ends them first (a connect to the dead rank fails, or a rank sees its peer disconnect).
/// Either way no rank may reach the watchdog; when rank 0's lifeline is what ends it, rank 0 names the
/// rank and its node.
#[test]
fn a_rank_killed_mid_test_ends_the_test_at_once_with_its_node_named() {
    bin("h5doctor-probe-mpio");
    let lib = killed_in_h5dwrite_library();
    let dir = shared_tempdir("h5doctor-shared-");
    let mut cmd = cluster().slurm.srun_within(300);
    cmd.args(["-N", "3", "--ntasks-per-node=1", "--mpi=pmix", h5doctor(), "mpio-test", "--dir"])
        .arg(dir.path())
        .args(["--mib-per-rank", "1", "--timeout", "240", "--json"])
        .env("LD_PRELOAD", &lib)
        .env("H5DOCTOR_TEST_KILLED_RANK", "2");
    let started = std::time::Instant::now();
    let run = Run::of(cmd);
    let took = started.elapsed();
    let _ = std::fs::remove_file(&lib);
    assert!(
        !run.stderr.contains("no result after 240"),
        "a rank waited for the watchdog:\n{}",
        run.stderr
    );
    assert!(took.as_secs() < 120, "the test ran {took:?}, not ended at once:\n{}", run.stderr);
    assert_ne!(run.code, 0, "{}", run.stderr);
    let lifeline = run
        .stderr
        .contains("h5doctor mpio-test: rank 2 on nid003 ended before the test did");
    // Open MPI's own ends: a connect to the dead rank fails, or the TCP transport sees the peer go and names
    // its host ("Peer host:  nid003"; seen in a clean-clone CI run).
    let by_mpi = run.stderr.contains("Open MPI failed to TCP connect to a peer")
        || (run.stderr.contains("peer process has unexpectedly disconnected")
            && run.stderr.lines().any(|l| l.contains("Peer host:") && l.contains("nid003")));
    assert!(
        lifeline || by_mpi,
        "neither rank 0's lifeline nor MPI ended the test:\n{}\nstdout:\n{}",
        run.stderr,
        run.stdout
    );
    assert!(run.stderr.contains("nid003: task 2: Killed"), "{}", run.stderr);
    assert_no_leftovers(dir.path());
}

/// The same for the user's parallel h5py (`mpio-test --python`): its script broadcasts right after
/// mpi4py's MPI.Init(), so it waits the same way for every rank's key. Here nid003's MPI_Init returns
/// 3 s late; rank 0's interpreter waits those 3 s before its broadcast (H5DOCTOR_MPIO_DEBUG passes the
/// interpreter's stderr on), and the test across three nodes passes with Debian's parallel h5py.
#[test]
fn parallel_h5py_rank_0_sends_nothing_before_every_rank_has_left_mpi_init() {
    let lib = late_mpi_init_library();
    let dir = shared_tempdir("h5doctor-shared-");
    let mut cmd = cluster().slurm.srun();
    cmd.args(["-N", "3", "--ntasks-per-node=1", "--mpi=pmix", h5doctor(), "mpio-test"])
        .args(["--python", "/usr/bin/python3", "--dir"])
        .arg(dir.path())
        .args(["--mib-per-rank", "1", "--json"])
        .env_remove("PYTHONPATH")
        .env("H5PY_ALWAYS_USE_MPI", "1")
        .env("LD_PRELOAD", &lib)
        .env("H5DOCTOR_TEST_LATE_RANK", "2")
        .env("H5DOCTOR_TEST_LATE_MS", "3000")
        .env("H5DOCTOR_MPIO_DEBUG", "1");
    let run = Run::of(cmd);
    let _ = std::fs::remove_file(&lib);
    assert_eq!(run.code, 0, "stdout:\n{}\nstderr:\n{}", run.stdout, run.stderr);
    assert_rank_0_waited_for_the_late_rank(&run);
    let report = run.json();
    let mpi = &report["facts"]["mpi"];
    assert_eq!(mpi["passed"], true, "{report:#}");
    assert_eq!(mpi["size"], 3, "{mpi:#}");
    assert_eq!(mpi["python"]["h5py_module"], "h5py._debian_h5py_mpi", "{mpi:#}");
    assert_eq!(report["summary"]["errors"], 0, "{report:#}");
    assert_no_leftovers(dir.path());
}

/// `sh -c` that runs mpio-test on DIR, under inject-errno INJECT on nid002 only.
fn on_nid002_injected(inject: &str, dir: &Path) -> String {
    format!(
        "if [ \"$(hostname)\" = nid002 ]; then exec {} {inject} -- {h} mpio-test --dir {d} --mib-per-rank 1 --timeout 30 --json; \
         else exec {h} mpio-test --dir {d} --mib-per-rank 1 --timeout 30 --json; fi",
        bin("inject-errno").display(),
        h = h5doctor(),
        d = dir.display()
    )
}

#[test]
fn a_flock_failure_on_one_node_is_named() {
    bin("h5doctor-probe-mpio");
    let dir = shared_tempdir("h5doctor-shared-");
    // flock fails with ENOLCK (37) on nid002 only, as on a node whose lock service is gone.
    let run = srun(&[
        "-N",
        "3",
        "--ntasks-per-node=1",
        "--mpi=pmix",
        "sh",
        "-c",
        &on_nid002_injected("--flock 37", dir.path()),
    ]);
    let report = run.json();
    let mpi = &report["facts"]["mpi"];
    assert_eq!(mpi["nodes"][1]["host"], "nid002", "{mpi:#}");
    assert_eq!(mpi["nodes"][1]["flock_errno"], 37, "{mpi:#}");
    assert_eq!(mpi["nodes"][0]["flock_errno"], 0, "{mpi:#}");
    assert_eq!(mpi["nodes"][2]["flock_errno"], 0, "{mpi:#}");
    assert_eq!(mpi["passed"], true, "{mpi:#}");
    let human = Command::new(h5doctor())
        .args(["check", "--facts", "/dev/stdin"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .and_then(|mut child| {
            use std::io::Write;
            child.stdin.take().unwrap().write_all(report["facts"].to_string().as_bytes())?;
            child.wait_with_output()
        })
        .unwrap();
    let text = String::from_utf8_lossy(&human.stdout);
    assert!(text.contains("flock fails on nid002 (ENOLCK)"), "{text}");
    assert_no_leftovers(dir.path());
}

#[test]
fn romio_locks_failing_on_one_node_are_named_and_the_hints_are_proved() {
    bin("h5doctor-probe-mpio");
    let dir = shared_tempdir("h5doctor-shared-");
    let mut cmd = cluster().slurm.srun();
    cmd.args(["-N", "3", "--ntasks-per-node=1", "--mpi=pmix", "sh", "-c"])
        .arg(on_nid002_injected("--fcntl 37", dir.path()))
        .env("OMPI_MCA_io", "romio321");
    let run = Run::of(cmd);
    let report = run.json();
    // mpiio-collective-slow (a warning) may fire too: ROMIO's collective I/O on one disk is slow.
    assert_eq!(report["summary"]["errors"], 1, "{report:#}");
    let f = finding(&report, "mpiio-romio-lock");
    assert_eq!(evidence(f, "mpi.fcntl_failed_nodes"), "nid002: ENOLCK");
    assert_eq!(report["facts"]["mpi"]["fcntl_lock_errno"], 37);
    assert_eq!(f["fixes"][0]["verified"], true, "{f:#}");
    assert_eq!(report["facts"]["mpi"]["passed"], true);
    assert_no_leftovers(dir.path());
}

/// With Open MPI's default OMPIO, fcntl locks failing on one node only made every rank hang in
/// MPI_File_open until the watchdog, leaving OMPIO's side files (`*.h5-*.lock`, `*.data.1`,
/// `*.metadata.1`) behind. Now mpio-test stops before MPI-IO within seconds, names the node and the fix,
/// and the same run with that fix passes; OMPIO's own hang (the check switched off) ends at the watchdog
/// with nothing left behind either.
#[test]
fn an_fcntl_failure_on_one_node_under_ompio_stops_before_the_hang_and_leaves_nothing() {
    bin("h5doctor-probe-mpio");
    let dir = shared_tempdir("h5doctor-shared-");
    let ompio = |extra: &[(&str, &str)]| {
        let mut cmd = cluster().slurm.srun();
        cmd.args(["-N", "3", "--ntasks-per-node=1", "--mpi=pmix", "sh", "-c"])
            .arg(on_nid002_injected("--fcntl 37", dir.path()))
            .env_remove("OMPI_MCA_sharedfp")
            .env_remove("H5DOCTOR_MPIO_NO_OMPIO_CHECK");
        for (k, v) in extra {
            cmd.env(k, v);
        }
        let started = Instant::now();
        (Run::of(cmd), started.elapsed())
    };
    let (run, took) = ompio(&[]);
    assert_eq!(run.code, 1, "{}{}", run.stdout, run.stderr);
    assert!(took < Duration::from_secs(25), "stopped before the 30 s watchdog: {took:?}");
    let report = run.json();
    assert_eq!(slugs(&report), ["mpiio-ompio-lock-split"], "{report:#}");
    let f = finding(&report, "mpiio-ompio-lock-split");
    assert_eq!(f["id"], "H5D513");
    assert_eq!(evidence(f, "mpi.fcntl_failed_nodes"), "nid002: ENOLCK");
    assert_eq!(evidence(f, "mpi.io_component"), "ompio");
    assert_eq!(fix_texts(f)[0], "export OMPI_MCA_sharedfp=^lockedfile");
    assert_no_leftovers(dir.path());

    // The fix, proven by the same run with it.
    let (fixed, _) = ompio(&[("OMPI_MCA_sharedfp", "^lockedfile")]);
    let report = fixed.json();
    assert_eq!(report["facts"]["mpi"]["passed"], true, "{report:#}");
    assert_eq!(report["summary"]["errors"], 0, "{report:#}");
    assert_no_leftovers(dir.path());

    // OMPIO's own hang: every rank ends at the watchdog, and its side files go with the test file.
    let (hung, took) = ompio(&[("H5DOCTOR_MPIO_NO_OMPIO_CHECK", "1")]);
    assert_ne!(hung.code, 0, "{}{}", hung.stdout, hung.stderr);
    assert!(hung.stderr.contains("no result after 30 s"), "{}", hung.stderr);
    assert!(took < Duration::from_secs(60), "{took:?}");
    assert_no_leftovers(dir.path());
}

/// SIGKILLs the tasks of a job at once, as Slurm does past KillWait: every process whose command line
/// names `dir` (srun and timeout aside: the launcher side, which Slurm does not kill) is stopped first, so
/// no rank can react to another's death, then killed.
fn kill_tasks_naming(dir: &Path) {
    use common::process::{all_pids, cmdline, running, wait_all_gone, ProcessHandle};
    let needle = dir.to_str().unwrap();
    let mut stopped: Vec<(i32, ProcessHandle)> = Vec::new();
    // Stop until no new one shows up (a process may be exec'ing or forking while we look).
    loop {
        let new: Vec<i32> = all_pids()
            .into_iter()
            .filter(|p| running(*p) && !stopped.iter().any(|(s, _)| s == p))
            .filter(|p| {
                let args = cmdline(*p);
                let launcher = args.first().is_some_and(|a| a.ends_with("srun") || a.ends_with("timeout"));
                !launcher && args.iter().any(|a| a.contains(needle))
            })
            .collect();
        if new.is_empty() {
            break;
        }
        for p in new {
            if let Some(handle) = ProcessHandle::open(p) {
                handle.signal(libc::SIGSTOP);
                stopped.push((p, handle));
            }
        }
    }
    assert!(!stopped.is_empty(), "no task of the job names {needle}");
    for (_, handle) in &stopped {
        handle.signal(libc::SIGKILL);
    }
    wait_all_gone(&stopped.iter().map(|(p, _)| *p).collect::<Vec<_>>());
}

/// A direct launch (`srun --mpi=pmix`) gives Open MPI no job id in the environment: it hashes the PMIx
/// namespace, and OMPIO's lock file `NAME-JOBID-PID.lock` carries that id. Here the job hangs in
/// MPI_File_open as it does under OMPIO when fcntl locks fail on one node only (nid002; the check that
/// stops before the hang is switched off): rank 0 has made the lock file and nid002's rank its data and
/// metadata files. The whole job is SIGKILLed, as Slurm does past KillWait; every side file is left.
/// A run on another host leaves them (the dead rank 0 ran on nid001, and is judged only there); the next
/// run in the directory on nid001 removes every one of them by name from the dead rank 0's pending
/// record, and the record.
#[test]
fn a_killed_srun_mpio_tests_side_files_are_removed_by_the_next_run_in_the_directory_on_its_node() {
    bin("h5doctor-probe-mpio");
    let dir = shared_tempdir("h5doctor-shared-");
    let runtime = shared_tempdir("h5doctor-runtime-");
    let d = dir.path().to_str().unwrap();
    let test = format!("{} mpio-test --dir {d} --mib-per-rank 1 --timeout 120 --json", h5doctor());
    let per_node = format!(
        "if [ \"$(hostname)\" = nid002 ]; then exec {} --fcntl 37 -- {test}; else exec {test}; fi",
        bin("inject-errno").display()
    );
    let mut cmd = cluster().slurm.srun_within(150);
    cmd.args(["-N", "3", "--ntasks-per-node=1", "--mpi=pmix", "sh", "-c", &per_node])
        .env("XDG_RUNTIME_DIR", runtime.path())
        .env("OMPI_MCA_io", "ompio")
        .env_remove("OMPI_MCA_sharedfp")
        .env("H5DOCTOR_MPIO_NO_OMPIO_CHECK", "1")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null());
    let mut job = cmd.spawn().expect("srun runs");
    wait_for_ompio_hang(dir.path(), &mut job, Duration::from_secs(100));
    kill_tasks_naming(dir.path());
    let deadline = Instant::now() + Duration::from_secs(60);
    while job.try_wait().unwrap().is_none() {
        assert!(Instant::now() < deadline, "srun still runs 60 s after its tasks were killed");
        std::thread::sleep(Duration::from_millis(50));
    }
    let left = probe_files(dir.path());
    eprintln!("left by the killed job: {left:?}");
    let lock = left.iter().find(|n| n.ends_with(".lock")).expect("the lock file was left");
    // Open MPI's own name for it: the test file's name, the job id, rank 0's PID.
    let h5 = left.iter().find(|n| n.ends_with(".h5")).expect("the test file was left");
    let rank0_pid = h5.trim_start_matches(".h5doctor-probe-").split('-').next().unwrap();
    let jobid = lock
        .strip_prefix(&format!("{h5}-"))
        .and_then(|rest| rest.strip_suffix(&format!("-{rank0_pid}.lock")))
        .unwrap_or_else(|| panic!("{lock} is not {h5}-JOBID-{rank0_pid}.lock"));
    assert!(jobid.bytes().all(|b| b.is_ascii_digit()), "{lock}");
    let records = || -> Vec<PathBuf> {
        std::fs::read_dir(runtime.path().join("h5doctor"))
            .map(|entries| {
                entries
                    .map(|e| e.unwrap().path())
                    .filter(|p| p.extension().is_some_and(|e| e == "pending"))
                    .collect()
            })
            .unwrap_or_default()
    };
    assert_eq!(records().len(), 1, "the dead rank 0's record: {:?}", records());

    // On this host, the dead rank 0 (it ran on nid001) is not judged: its files stay.
    let here = common::check_dir(dir.path(), None, &["--only", "locking"])
        .env("XDG_RUNTIME_DIR", runtime.path())
        .run();
    assert_eq!(here.code, 0, "{}", here.stderr);
    assert_eq!(probe_files(dir.path()), left, "a run on another host removed nid001's files");

    // The next run in the directory on nid001 removes them all, and the record.
    let mut next = cluster().slurm.srun();
    next.args([
        "-N",
        "1",
        "-w",
        "nid001",
        h5doctor(),
        "check",
        "--no-default-dirs",
        "--no-default-pythons",
        "--json",
    ])
    .args(["--only", "locking", "--dir", d])
    .env("XDG_RUNTIME_DIR", runtime.path());
    let next = Run::of(next);
    assert_eq!(next.code, 0, "stdout:\n{}\nstderr:\n{}", next.stdout, next.stderr);
    assert_no_leftovers(dir.path());
    assert!(records().is_empty(), "the dead rank 0's record is still there: {:?}", records());
}

#[test]
fn hostlists_are_compressed_exactly_as_scontrol_does() {
    let c = cluster();
    for list in [
        "nid001,nid002,nid003,nid007",
        "nid007,nid001,nid002,nid002",
        "n9,n10,n11,n13",
        "n09,n10,a1,a2,b",
        "c1-0,c1-1,c2-0,node1-ib",
        "login1,nid0001,nid002,nid003",
    ] {
        let out = Command::new("scontrol")
            .args(["show", "hostlist", list])
            .env("SLURM_CONF", &c.slurm.conf)
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        let names: Vec<&str> = list.split(',').collect();
        assert_eq!(
            h5doctor::hostlist::compress_in_order(&names),
            String::from_utf8_lossy(&out.stdout).trim(),
            "{list}"
        );
    }
}

/// A sweep as the docs show it: `srun -N 3 --ntasks-per-node=1 --output=DIR/%N.json h5doctor facts
/// --json --dir SCRATCH`, where nid002 sees SCRATCH read-only.
fn sweep(facts: &Path) {
    let scratch = cluster().scratch.display().to_string();
    let output = format!("--output={}/%N.json", facts.display());
    let run = srun(&[
        "-N",
        "3",
        "--ntasks-per-node=1",
        &output,
        h5doctor(),
        "facts",
        "--json",
        "--no-default-dirs",
        "--dir",
        &scratch,
        "--only",
        "locking",
        "--only",
        "hdf5",
    ]);
    assert_eq!(run.code, 0, "{}", run.stderr);
}

fn summarize(args: &[&str]) -> Run {
    let mut cmd = Command::new(h5doctor());
    cmd.arg("summarize").args(args).env_remove("H5DOCTOR_RULES_PATH");
    Run::of(cmd)
}

#[test]
fn summarize_a_sweep_names_the_one_bad_node() {
    let facts = shared_tempdir("h5doctor-facts-");
    sweep(facts.path());
    let run = summarize(&[facts.path().to_str().unwrap(), "--json"]);
    assert_eq!(run.code, 1, "{}\n{}", run.stdout, run.stderr);
    let doc = run.json();
    assert_eq!(doc["summary"]["nodes"], "nid[001-003]");
    assert_eq!(doc["summary"]["exit_code"], 1);
    let findings = doc["findings"].as_array().unwrap();
    assert_eq!(findings.len(), 1, "{doc:#}");
    assert_eq!(findings[0]["slug"], "output-fs-readonly");
    assert_eq!(findings[0]["nodes"], "nid002");
    assert_eq!(doc["nodes_without_findings"], "nid[001,003]");
    let differences = doc["differences"].as_array().unwrap();
    let fs = differences
        .iter()
        .find(|d| d["aspect"] == format!("file system of {}", cluster().scratch.display()))
        .unwrap_or_else(|| panic!("no file-system difference: {doc:#}"));
    assert_eq!(fs["values"][0]["nodes"], "nid[001,003]");
    assert!(fs["values"][0]["value"].as_str().unwrap().contains("(rw,"), "{fs:#}");
    assert_eq!(fs["values"][1]["nodes"], "nid002");
    assert!(fs["values"][1]["value"].as_str().unwrap().contains("(ro,"), "{fs:#}");
    let human = summarize(&[facts.path().to_str().unwrap()]);
    assert_eq!(human.code, 1);
    assert!(
        human.stdout.starts_with("h5doctor summarize · 3 nodes nid[001-003]\n"),
        "{}",
        human.stdout
    );
    assert!(
        human.stdout.contains("✗ error H5D220 output-fs-readonly on nid002 (1 of 3)"),
        "{}",
        human.stdout
    );
    assert!(human.stdout.contains("✓ no findings on nid[001,003] (2 of 3)"), "{}", human.stdout);
    assert!(
        human.stdout.contains("1 error, 0 warnings, 0 info on 3 nodes — exit 1"),
        "{}",
        human.stdout
    );
}

#[test]
fn summarize_names_and_skips_every_bad_file() {
    let facts = shared_tempdir("h5doctor-facts-");
    sweep(facts.path());
    let dir = facts.path();
    let good = std::fs::read_to_string(dir.join("nid001.json")).unwrap();
    std::fs::write(dir.join("nid004.json"), &good[..good.len() / 2]).unwrap();
    std::fs::write(dir.join("nid005.json"), "").unwrap();
    std::fs::write(dir.join("nid006.json"), "[1, 2]\n").unwrap();
    let mut newer: Value = serde_json::from_str(&good).unwrap();
    newer["schema_version"] = Value::from(99);
    newer["host"]["hostname"] = Value::from("nid007");
    std::fs::write(dir.join("nid007.json"), newer.to_string()).unwrap();
    std::fs::write(dir.join("zz-copy.json"), &good).unwrap();
    let empty = shared_tempdir("h5doctor-empty-");
    let missing = dir.join("no-such.json");
    let run = summarize(&[
        dir.to_str().unwrap(),
        missing.to_str().unwrap(),
        empty.path().to_str().unwrap(),
        "--json",
    ]);
    assert_eq!(run.code, 1, "{}\n{}", run.stdout, run.stderr);
    let doc = run.json();
    assert_eq!(doc["summary"]["nodes"], "nid[001-003]", "{doc:#}");
    let skipped: Vec<(String, String)> = doc["skipped"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| (s["file"].as_str().unwrap().to_string(), s["reason"].as_str().unwrap().to_string()))
        .collect();
    let reason = |name: &str| -> String {
        skipped
            .iter()
            .find(|(f, _)| f.ends_with(name))
            .map(|(_, r)| r.clone())
            .unwrap_or_else(|| panic!("{name} not skipped: {skipped:#?}"))
    };
    assert!(
        reason("nid004.json").starts_with("truncated: the JSON ends at line"),
        "{}",
        reason("nid004.json")
    );
    assert!(reason("nid005.json").starts_with("empty"), "{}", reason("nid005.json"));
    assert!(reason("nid006.json").starts_with("line 1 column"), "{}", reason("nid006.json"));
    assert!(
        reason("nid007.json").starts_with("schema_version 99 is newer"),
        "{}",
        reason("nid007.json")
    );
    assert!(
        reason("zz-copy.json").starts_with("a second facts file for host nid001 (the first is"),
        "{}",
        reason("zz-copy.json")
    );
    assert!(reason("no-such.json").starts_with("missing: "), "{}", reason("no-such.json"));
    let empty_name = empty.path().file_name().unwrap().to_str().unwrap();
    assert_eq!(reason(empty_name), "a directory without *.json facts files");
    // Only an empty directory: a clear error naming it, exit 2.
    let only_empty = summarize(&[empty.path().to_str().unwrap()]);
    assert_eq!(only_empty.code, 2, "{}", only_empty.stderr);
    assert!(only_empty.stderr.contains("no usable facts files"), "{}", only_empty.stderr);
    assert!(only_empty.stderr.contains(empty_name), "{}", only_empty.stderr);
    assert!(!only_empty.stderr.contains("panicked"));
}

/// A file system of the login node that the compute nodes do not mount, for real: the "login node" is
/// this host in a mount namespace of its own (`unshare --mount --propagation private`) with a tmpfs on
/// PROJECT and PROJECT/out inside it; the emulated nodes' slurmd namespaces were made before, so on them
/// PROJECT is the empty directory on the target dir's file system and PROJECT/out does not exist. GOOD is
/// a directory every node and the login node have on the same file system. Returns the login node's facts
/// file (`h5doctor facts --json` with the same --dir as the sweep).
struct LoginOnlyMount {
    base: tempfile::TempDir,
    project: PathBuf,
    out: PathBuf,
    good: PathBuf,
    login_facts: PathBuf,
}

impl LoginOnlyMount {
    fn new() -> Self {
        let base = shared_tempdir("h5doctor-loginonly-");
        let (project, good) = (base.path().join("project"), base.path().join("good"));
        std::fs::create_dir_all(&project).unwrap();
        std::fs::create_dir_all(&good).unwrap();
        let out = project.join("out");
        let login_facts = base.path().join("login.json");
        let run = Run::of({
            let mut cmd = Command::new("unshare");
            cmd.args(["--mount", "--propagation", "private", "sh", "-c"])
                .arg(
                    "mount -t tmpfs -o size=8m login-project \"$1\" && mkdir \"$1/out\" && \
                     exec \"$2\" facts --json --no-default-dirs --dir \"$1\" --dir \"$1/out\" --dir \"$3\" --only hdf5 > \"$4\"",
                )
                .arg("sh")
                .args([
                    project.as_os_str(),
                    Path::new(h5doctor()).as_os_str(),
                    good.as_os_str(),
                    login_facts.as_os_str(),
                ])
                .env_remove("SLURM_JOB_ID");
            cmd
        });
        assert_eq!(run.code, 0, "the login node's facts (unshare needs root): {}", run.stderr);
        let facts: Value = serde_json::from_str(&std::fs::read_to_string(&login_facts).unwrap()).unwrap();
        let fs_types: Vec<&str> = facts["dirs"]
            .as_array()
            .unwrap()
            .iter()
            .map(|d| d["filesystem"]["fs_type"].as_str().unwrap())
            .collect();
        assert_eq!(fs_types[..2], ["tmpfs", "tmpfs"], "{facts:#}");
        assert!(!out.exists(), "the login node's tmpfs leaked out of its namespace");
        Self {
            base,
            project,
            out,
            good,
            login_facts,
        }
    }

    /// `--no-default-dirs --dir PROJECT --dir PROJECT/out --dir GOOD --only hdf5` (without PROJECT when
    /// `project` is false).
    fn dir_args(&self, project: bool) -> Vec<String> {
        let mut args = vec!["--no-default-dirs".to_string()];
        let dirs = if project {
            vec![&self.project, &self.out, &self.good]
        } else {
            vec![&self.out, &self.good]
        };
        for d in dirs {
            args.extend(["--dir".to_string(), d.display().to_string()]);
        }
        args.extend(["--only".to_string(), "hdf5".to_string()]);
        args
    }
}

#[test]
fn a_file_system_mounted_on_the_login_node_only_is_dir_not_on_compute_nodes_in_the_sweep() {
    let setup = LoginOnlyMount::new();
    let facts = setup.base.path().join("facts");
    std::fs::create_dir_all(&facts).unwrap();
    let output = format!("--output={}/%N.json", facts.display());
    let mut args: Vec<String> = ["-N", "3", "--ntasks-per-node=1", &output, h5doctor(), "facts", "--json"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    args.extend(setup.dir_args(true));
    let sweep = srun(&args.iter().map(String::as_str).collect::<Vec<_>>());
    assert_eq!(sweep.code, 0, "{}", sweep.stderr);
    // The login node's file among the nodes' ones: it is the reference, not a node.
    std::fs::copy(&setup.login_facts, facts.join("login.json")).unwrap();
    let login_arg = facts.join("login.json");
    let run = summarize(&[facts.to_str().unwrap(), "--login", login_arg.to_str().unwrap(), "--json"]);
    assert_eq!(run.code, 1, "{}\n{}", run.stdout, run.stderr);
    let doc = run.json();
    assert_eq!(doc["summary"]["nodes"], "nid[001-003]", "{doc:#}");
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap().trim().to_string();
    assert_eq!(doc["login"], format!("{host} ({})", login_arg.display()));
    let findings = doc["findings"].as_array().unwrap();
    assert_eq!(findings.len(), 1, "only the two project directories, on every node: {doc:#}");
    let f = &findings[0];
    assert_eq!(f["slug"], "dir-not-on-compute-nodes");
    assert_eq!(f["id"], "H5D228");
    assert_eq!(f["severity"], "error");
    assert_eq!(f["nodes"], "nid[001-003]");
    let titles: Vec<&str> = f["titles"].as_array().unwrap().iter().map(|t| t.as_str().unwrap()).collect();
    assert_eq!(titles.len(), 2, "{titles:#?}");
    let login_words = format!(
        "on the login node {host} it is on {} (tmpfs login-project)",
        setup.project.display()
    );
    // PROJECT exists on the nodes, but as the bare mount-point directory: writes there stay on the node.
    let project_title = titles
        .iter()
        .find(|t| t.starts_with(&format!("{} is not on", setup.project.display())))
        .unwrap_or_else(|| panic!("{titles:#?}"));
    assert!(project_title.contains(&login_words), "{project_title}");
    assert!(
        project_title.contains(&format!("here {} is not mounted and the path lands on", setup.project.display())),
        "{project_title}"
    );
    // PROJECT/out does not exist on the nodes at all.
    let out_title = titles
        .iter()
        .find(|t| t.starts_with(&format!("{} is not on", setup.out.display())))
        .unwrap_or_else(|| panic!("{titles:#?}"));
    assert!(out_title.contains(&login_words), "{out_title}");
    assert!(
        out_title.contains(&format!(
            "here it does not exist (the nearest existing directory, {}, is on",
            setup.project.display()
        )),
        "{out_title}"
    );
    // The fix names the directory the nodes share with the login node, proven writable on each node.
    let fixes = f["fixes"].as_array().unwrap();
    assert_eq!(fixes[0]["text"], format!("cd {}", setup.good.display()), "{fixes:#?}");
    assert_eq!(fixes[0]["verified_on"], "nid[001-003]", "{fixes:#?}");
    assert!(
        fixes.iter().any(|x| x["text"]
            == format!(
                "Ask the administrators whether {} is meant to be mounted on compute nodes",
                setup.project.display()
            )),
        "{fixes:#?}"
    );
    assert_eq!(doc["nodes_without_findings"], "");
    let human = summarize(&[facts.to_str().unwrap(), "--login", login_arg.to_str().unwrap()]);
    assert_eq!(human.code, 1);
    assert!(
        human.stdout.starts_with(&format!(
            "h5doctor summarize · 3 nodes nid[001-003] · compared with login node {host} ("
        )),
        "{}",
        human.stdout
    );
    assert!(
        human
            .stdout
            .contains("✗ error H5D228 dir-not-on-compute-nodes on nid[001-003] (3 of 3)\n"),
        "{}",
        human.stdout
    );
    assert!(
        human
            .stdout
            .contains(&format!("    fix: cd {}   (verified on nid[001-003])\n", setup.good.display())),
        "{}",
        human.stdout
    );
    // Without the login node's facts (and without its file, which would count as a node) only the
    // directory missing inside the job is reported.
    std::fs::remove_file(&login_arg).unwrap();
    let alone = summarize(&[facts.to_str().unwrap(), "--json"]).json();
    let alone_findings = alone["findings"].as_array().unwrap();
    assert_eq!(alone_findings.len(), 1, "{alone:#}");
    assert_eq!(alone_findings[0]["slug"], "dir-not-on-compute-nodes");
    assert_eq!(alone_findings[0]["nodes"], "nid[001-003]");
    let alone_titles = alone_findings[0]["titles"].as_array().unwrap();
    assert_eq!(alone_titles.len(), 1, "{alone:#}");
    let t = alone_titles[0].as_str().unwrap();
    assert!(t.starts_with(&format!("{} is not on", setup.out.display())), "{t}");
    assert!(t.contains("it does not exist on this node, inside Slurm job "), "{t}");
}

#[test]
fn check_in_a_job_names_a_directory_missing_on_its_node() {
    let setup = LoginOnlyMount::new();
    let base: Vec<String> = ["-N", "1", "-w", "nid002", h5doctor(), "check", "--json"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    // Without the login node's view PROJECT (the bare mount-point directory here) would look like any
    // writable directory, so that run names PROJECT/out and GOOD only.
    let mut args = base.clone();
    args.extend(setup.dir_args(false));
    let mut with_login = base;
    with_login.extend(setup.dir_args(true));
    with_login.extend(["--login".to_string(), setup.login_facts.display().to_string()]);
    for (args, login) in [(&args, false), (&with_login, true)] {
        let run = srun(&args.iter().map(String::as_str).collect::<Vec<_>>());
        assert_eq!(run.code, 1, "{}\n{}", run.stdout, run.stderr);
        let report = run.json();
        let out = setup.out.display().to_string();
        let f = report["findings"]
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f["slug"] == "dir-not-on-compute-nodes" && f["scope"]["path"] == out.as_str())
            .unwrap_or_else(|| panic!("no dir-not-on-compute-nodes for {out}: {report:#}"));
        let title = f["title"].as_str().unwrap();
        let missing = evidence(f, "dir.missing").as_str().unwrap();
        assert!(missing.starts_with("ENOENT; the nearest existing directory, "), "{missing}");
        assert!(evidence(f, "env.batch_job").as_str().unwrap().starts_with("Slurm job "), "{f:#}");
        if login {
            assert!(title.contains("(tmpfs login-project); here it does not exist"), "{title}");
            assert_eq!(fix_texts(f)[0], format!("cd {}", setup.good.display()));
            assert_eq!(f["fixes"][0]["verified"], true);
            // PROJECT too: on nid002 it is the bare mount-point directory.
            assert_eq!(
                slugs(&report).iter().filter(|s| *s == "dir-not-on-compute-nodes").count(),
                2,
                "{report:#}"
            );
        } else {
            assert!(title.contains("it does not exist on this node, inside Slurm job"), "{title}");
            assert!(
                title.ends_with("its file system is probably not mounted on the compute nodes"),
                "{title}"
            );
            // Without the login node's view the writable directory is offered, but not as proven shared.
            assert_eq!(fix_texts(f)[0], format!("cd {}", setup.good.display()));
            assert_eq!(f["fixes"][0]["verified"], false);
            assert_eq!(slugs(&report), ["dir-not-on-compute-nodes"], "{report:#}");
        }
    }
    // Outside a job a missing --dir stays a usage error (a typo), as before.
    let mut outside = Command::new(h5doctor());
    outside
        .args(["check", "--no-default-dirs", "--only", "hdf5", "--dir"])
        .arg(&setup.out)
        .env_remove("SLURM_JOB_ID");
    let run = Run::of(outside);
    assert_eq!(run.code, 2, "{}", run.stdout);
    assert!(run.stderr.contains("no such directory"), "{}", run.stderr);
}

/// The ReFrame venv (reframe-hpc from PyPI), made once in ~/.cache/h5doctor-tests.
fn reframe() -> PathBuf {
    const VERSION: &str = "4.10.4";
    let home = std::env::var("HOME").expect("HOME");
    let venv = Path::new(&home).join(format!(".cache/h5doctor-tests/reframe-{VERSION}"));
    let done = venv.join(".complete");
    if !done.exists() {
        std::fs::create_dir_all(venv.parent().unwrap()).unwrap();
        let lock = std::fs::File::create(venv.with_extension("lock")).unwrap();
        // SAFETY: flock on a file we own; released when `lock` drops.
        unsafe { libc::flock(std::os::fd::AsRawFd::as_raw_fd(&lock), libc::LOCK_EX) };
        if !done.exists() {
            let _ = std::fs::remove_dir_all(&venv);
            let ok = Command::new("/usr/bin/python3")
                .args(["-m", "venv"])
                .arg(&venv)
                .status()
                .unwrap()
                .success()
                && Command::new(venv.join("bin/pip"))
                    .args(["install", "-q", &format!("reframe-hpc=={VERSION}")])
                    .status()
                    .unwrap()
                    .success();
            assert!(
                ok,
                "cannot install reframe-hpc {VERSION} from PyPI into {} (needs python3-venv and network)",
                venv.display()
            );
            std::fs::write(&done, "").unwrap();
        }
    }
    venv.join("bin/reframe")
}

#[test]
fn the_reframe_test_fails_with_the_slug_and_the_node() {
    let c = cluster();
    let work = shared_tempdir("h5doctor-reframe-");
    let config = work.path().join("config.py");
    std::fs::write(
        &config,
        "site_configuration = {\n\
         'systems': [{'name': 'h5dtest', 'descr': 'three emulated nodes', 'hostnames': ['.*'],\n\
           'partitions': [{'name': 'debug', 'scheduler': 'squeue', 'launcher': 'srun',\n\
                           'access': ['--partition=debug'], 'environs': ['plain']}]}],\n\
         'environments': [{'name': 'plain'}],\n\
         }\n",
    )
    .unwrap();
    let test = Path::new(env!("CARGO_MANIFEST_DIR")).join("contrib/reframe/h5doctor_check.py");
    let run_with = |dirs: &str, prefix: &str| {
        let mut cmd = Command::new("timeout");
        cmd.args(["-k", "5", "300"])
            .arg(reframe())
            .arg("-C")
            .arg(&config)
            .arg("-c")
            .arg(&test)
            .arg("--prefix")
            .arg(work.path().join(prefix))
            .args(["--nocolor", "-r", "-S", &format!("dirs={dirs}"), "-S", "num_nodes=3", "-S"])
            .arg(format!("h5doctor={}", h5doctor()))
            .env("SLURM_CONF", &c.slurm.conf)
            .env_remove("H5DOCTOR_RULES_PATH")
            .env_remove("H5DOCTOR_PROLOG_DIRS")
            .current_dir(work.path());
        Run::of(cmd)
    };
    let bad = run_with(c.scratch.to_str().unwrap(), "bad");
    assert_ne!(bad.code, 0, "{}\n{}", bad.stdout, bad.stderr);
    assert!(bad.stdout.contains("[  FAILED  ]"), "{}", bad.stdout);
    assert!(
        bad.stdout.contains("h5doctor error findings: output-fs-readonly on nid002:"),
        "{}\n{}",
        bad.stdout,
        bad.stderr
    );
    let good_dir = shared_tempdir("h5doctor-good-");
    let good = run_with(good_dir.path().to_str().unwrap(), "good");
    assert_eq!(good.code, 0, "{}\n{}", good.stdout, good.stderr);
    assert!(good.stdout.contains("[  PASSED  ]"), "{}", good.stdout);
}

#[test]
fn the_task_prolog_tells_the_job_and_never_drains_the_node() {
    let c = cluster();
    let mut cmd = Command::new("timeout");
    cmd.args(["-k", "5", "120", "srun", "-N", "3", "--ntasks-per-node=1", "true"])
        .env("SLURM_CONF", &c.slurm.conf)
        .env("H5DOCTOR", h5doctor())
        .env("H5DOCTOR_PROLOG_DIRS", &c.scratch)
        .env_remove("H5DOCTOR_RULES_PATH")
        .current_dir(&c.scratch);
    let run = Run::of(cmd);
    assert_eq!(run.code, 0, "every task ran: {}\n{}", run.stdout, run.stderr);
    let lines: Vec<&str> = run.stdout.lines().collect();
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with("h5doctor on nid002: H5D220 output-fs-readonly: ")),
        "{}",
        run.stdout
    );
    assert!(!run.stdout.contains("h5doctor on nid001"), "{}", run.stdout);
    assert!(!run.stdout.contains("h5doctor on nid003"), "{}", run.stdout);
    let state = Command::new("sinfo")
        .args(["-h", "-N", "-o", "%N %T"])
        .env("SLURM_CONF", &c.slurm.conf)
        .output()
        .unwrap();
    let state = String::from_utf8_lossy(&state.stdout);
    let states: Vec<&str> = state.lines().map(|l| l.split_whitespace().nth(1).unwrap_or("")).collect();
    assert!(states.iter().all(|s| !s.contains("drain")), "no node drained: {state}");
}

#[test]
fn the_sbatch_script_checks_every_node_then_runs_mpio_test_across_them() {
    bin("h5doctor-probe-mpio");
    let c = cluster();
    let work = shared_tempdir("h5doctor-sbatch-");
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("contrib/slurm/h5doctor.sbatch");
    let out = Command::new("sbatch")
        .args(["--parsable", "-N", "3", "--output"])
        .arg(work.path().join("job.out"))
        .arg(&script)
        .arg(&c.scratch)
        .env("SLURM_CONF", &c.slurm.conf)
        .env("H5DOCTOR", h5doctor())
        .env("H5DOCTOR_MIB_PER_RANK", "1")
        .env_remove("H5DOCTOR_RULES_PATH")
        .env_remove("H5DOCTOR_PROLOG_DIRS")
        .current_dir(work.path())
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let job = String::from_utf8_lossy(&out.stdout).trim().to_string();
    let start = Instant::now();
    loop {
        let q = Command::new("squeue")
            .args(["-h", "-j", &job])
            .env("SLURM_CONF", &c.slurm.conf)
            .output()
            .unwrap();
        if String::from_utf8_lossy(&q.stdout).trim().is_empty() {
            break;
        }
        assert!(start.elapsed() < Duration::from_secs(180), "job {job} still queued or running");
        std::thread::sleep(Duration::from_millis(300));
    }
    let text = std::fs::read_to_string(work.path().join("job.out")).unwrap();
    assert!(text.contains("== h5doctor facts on every node (nid[001-003])"), "{text}");
    assert!(text.contains("✗ error H5D220 output-fs-readonly on nid002 (1 of 3)"), "{text}");
    assert!(text.contains("== h5doctor mpio-test on 3 nodes"), "{text}");
    assert!(text.contains("on 3 nodes nid[001-003] (1 rank each)"), "{text}");
    // nid002 cannot write there: said within seconds, not at the watchdog.
    assert!(
        text.contains("mpiio-failed: Parallel HDF5 over MPI-IO fails in")
            && text.contains("rank 1: ")
            && text.contains("is on a read-only mount on nid002 (no rank there can create the file; MPI-IO was not attempted)"),
        "{text}"
    );
    assert!(!text.contains("no result after"), "{text}");
    let show = Command::new("scontrol")
        .args(["show", "job", &job])
        .env("SLURM_CONF", &c.slurm.conf)
        .output()
        .unwrap();
    let show = String::from_utf8_lossy(&show.stdout);
    assert!(show.contains("JobState=FAILED") && show.contains("ExitCode=1:0"), "{show}");
    let facts_dir = work.path().join(format!("facts-{job}"));
    for node in ["nid001", "nid002", "nid003"] {
        assert!(facts_dir.join(format!("{node}.json")).is_file(), "{node}'s facts");
    }
}
