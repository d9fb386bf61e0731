//! Shared helpers for the integration tests: the built binaries, running them (optionally under the
//! seccomp errno injector), and checking that no probe file is left behind.
#![allow(dead_code)]

pub mod modules;
pub mod plugin;
pub mod process;
pub mod slurm;

use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Command;

/// A binary of the workspace, next to h5doctor in the target dir (`cargo build --workspace` builds them).
pub fn bin(name: &str) -> PathBuf {
    let h5doctor = PathBuf::from(env!("CARGO_BIN_EXE_h5doctor"));
    let path = h5doctor.parent().unwrap().join(name);
    assert!(
        path.is_file(),
        "{} is missing: run `cargo build --workspace` (with HDF5_DIR set) before the tests",
        path.display()
    );
    path
}

/// The outcome of one run.
#[derive(Debug)]
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("stdout is not JSON ({e}):\n{}\nstderr:\n{}", self.stdout, self.stderr))
    }
}

/// Tests control the environment HDF5 sees; nothing from the developer's shell leaks in.
pub fn remove_uncontrolled_env(cmd: &mut Command) {
    for var in [
        "HDF5_USE_FILE_LOCKING",
        "HDF5_PLUGIN_PATH",
        "H5DOCTOR_RULES_PATH",
        "H5DOCTOR_PROBE",
        "NO_COLOR",
        // Inside a batch job a missing directory is a finding (dir-not-on-compute-nodes), outside one a
        // usage error: a suite run from a CI job must see what it sees on a workstation.
        "SLURM_JOB_ID",
        "PBS_JOBID",
        "LSB_JOBID",
        "FLUX_JOB_ID",
    ] {
        cmd.env_remove(var);
    }
    if let Some(probe) = probe_under_test() {
        cmd.env("H5DOCTOR_PROBE", probe);
    }
}

/// The HDF5 versions the suite runs against besides Debian's (scripts/dev.sh hdf5-matrix builds them from
/// the source in hdf5-metno-src and a probe against each): (version, probe file name in target/<profile>/probes).
pub const HDF5_MATRIX: [(&str, &str); 2] = [
    ("1.14.5", "h5doctor-probe-1.14.5-serial"),
    ("2.2.0", "h5doctor-probe-2.2.0-serial-static"),
];

/// The local drivers the drivers × modes round trip runs with an HDF5 version, in order: splitter from
/// 1.10.7, onion from 1.14; direct only in the 2.2.0 build of the matrix (scripts/build-hdf5.sh builds it
/// with HDF5_ENABLE_DIRECT_VFD; Debian's 1.10.8 and the 1.14.5 build have no direct driver).
pub fn round_trip_drivers(version: &str) -> Vec<&'static str> {
    let mut drivers = vec!["sec2", "stdio", "core", "family", "split", "multi", "log"];
    if version == "2.2.0" {
        drivers.push("direct");
    }
    drivers.push("splitter");
    if !version.starts_with("1.10.") {
        drivers.push("onion");
    }
    drivers
}

/// One probe of the HDF5 matrix; a missing one fails the test with what to run.
pub fn matrix_probe(file_name: &str) -> PathBuf {
    let h5doctor = PathBuf::from(env!("CARGO_BIN_EXE_h5doctor"));
    let path = h5doctor.parent().unwrap().join("probes").join(file_name);
    assert!(
        path.is_file(),
        "{} is missing: run `scripts/dev.sh hdf5-matrix` (builds HDF5 1.14.5 shared and 2.2.0 static from \
         hdf5-metno-src into ~/.cache/h5doctor-tests, CMake from PyPI, and a probe against each)",
        path.display()
    );
    path
}

/// `H5DOCTOR_TEST_PROBE`: the probe the whole run uses instead of the default one (scripts/dev.sh runs the
/// locking, hdf5 and file-doctor tests once per probe of the HDF5 matrix with it).
pub fn probe_under_test() -> Option<PathBuf> {
    let probe = PathBuf::from(std::env::var_os("H5DOCTOR_TEST_PROBE").filter(|p| !p.is_empty())?);
    assert!(
        probe.is_file(),
        "H5DOCTOR_TEST_PROBE={} does not exist: run `scripts/dev.sh hdf5-matrix` to build the probes",
        probe.display()
    );
    Some(probe)
}

/// The HDF5 version of the probe the run uses ("1.10.8" for the default build against Debian's HDF5).
pub fn hdf5_version_under_test() -> String {
    let probe = probe_under_test().unwrap_or_else(|| bin("h5doctor-probe"));
    let out = Command::new(&probe).arg("version").output().expect("the probe runs");
    let report: Value = serde_json::from_slice(&out.stdout).expect("the probe answers JSON");
    report["library"]["version"].as_str().unwrap_or_default().to_string()
}

impl Run {
    /// Runs any command to completion (a launcher such as mpirun or srun, wrapped in `timeout`).
    pub fn of(mut cmd: Command) -> Run {
        let out = cmd.output().unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"));
        Run {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into(),
            stderr: String::from_utf8_lossy(&out.stderr).into(),
        }
    }
}

/// A command line to run h5doctor with; `inject` is (`--flock`|`--fcntl`, errno).
pub struct H5doctor {
    cmd: Command,
}

impl H5doctor {
    pub fn new(args: &[&str]) -> Self {
        Self::injected(None, args)
    }

    pub fn injected(inject: Option<(&str, i32)>, args: &[&str]) -> Self {
        let mut cmd = match inject {
            Some((flag, errno)) => {
                let mut c = Command::new(bin("inject-errno"));
                c.arg(flag).arg(errno.to_string()).arg("--").arg(env!("CARGO_BIN_EXE_h5doctor"));
                c
            }
            None => Command::new(env!("CARGO_BIN_EXE_h5doctor")),
        };
        cmd.args(args);
        remove_uncontrolled_env(&mut cmd);
        Self { cmd }
    }

    /// h5doctor run as `nobody` (setpriv) when the tests run as root, who may read and write anything.
    pub fn as_nobody_if_root(args: &[&str]) -> Self {
        if unsafe { libc::geteuid() } != 0 {
            return Self::new(args);
        }
        let mut cmd = Command::new("setpriv");
        cmd.args(["--reuid=65534", "--regid=65534", "--clear-groups", env!("CARGO_BIN_EXE_h5doctor")])
            .args(args);
        remove_uncontrolled_env(&mut cmd);
        Self { cmd }
    }

    /// The command itself, for what the builder methods do not cover (limits, signals).
    pub fn command(&mut self) -> &mut Command {
        &mut self.cmd
    }

    pub fn env(mut self, k: &str, v: impl AsRef<std::ffi::OsStr>) -> Self {
        self.cmd.env(k, v);
        self
    }

    pub fn env_remove(mut self, k: &str) -> Self {
        self.cmd.env_remove(k);
        self
    }

    pub fn run(mut self) -> Run {
        let out = self.cmd.output().expect("h5doctor runs");
        Run {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into(),
            stderr: String::from_utf8_lossy(&out.stderr).into(),
        }
    }
}

/// `h5doctor check --no-default-dirs --no-default-pythons --dir DIR --json` (plus `extra`), optionally with an
/// injected errno. No interpreter is diagnosed unless `extra` names one with `--python`: which Pythons a
/// machine has must not change the locking and HDF5 verdicts.
pub fn check_dir(dir: &Path, inject: Option<(&str, i32)>, extra: &[&str]) -> H5doctor {
    let mut args = vec![
        "check",
        "--no-default-dirs",
        "--no-default-pythons",
        "--json",
        "--dir",
        dir.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    H5doctor::injected(inject, &args)
}

/// The slugs of the findings in a JSON report.
pub fn slugs(report: &Value) -> Vec<String> {
    report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["slug"].as_str().unwrap().to_string())
        .collect()
}

/// The finding with this slug.
pub fn finding<'a>(report: &'a Value, slug: &str) -> &'a Value {
    report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["slug"] == slug)
        .unwrap_or_else(|| panic!("no {slug} finding in {report:#}"))
}

/// The value of one evidence fact of a finding.
pub fn evidence<'a>(finding: &'a Value, fact: &str) -> &'a Value {
    finding["evidence"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["fact"] == fact)
        .map(|e| &e["value"])
        .unwrap_or_else(|| panic!("no {fact} evidence in {finding:#}"))
}

/// The texts of a finding's fixes, in order.
pub fn fix_texts(finding: &Value) -> Vec<String> {
    finding["fixes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["text"].as_str().unwrap().to_string())
        .collect()
}

/// Asserts that a probed directory holds exactly the names it held before (nothing left behind).
pub fn assert_no_leftovers(dir: &Path) {
    let names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert!(names.is_empty(), "probe files left behind in {}: {names:?}", dir.display());
}

/// The names in `dir` that start with h5doctor's probe prefix, sorted.
pub fn probe_files(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with(".h5doctor-probe-"))
        .collect();
    names.sort();
    names
}

/// Waits until an mpio-test job hangs in MPI_File_open with OMPIO's side files in `dir` (rank 0's
/// `.lock`, rank 1's `.data.1` and `.metadata.1`); fails if they do not appear `within` or the job ends.
/// Returns the probe files seen then.
pub fn wait_for_ompio_hang(dir: &Path, job: &mut std::process::Child, within: std::time::Duration) -> Vec<String> {
    let hung = |names: &[String]| {
        [".lock", ".data.1", ".metadata.1"]
            .iter()
            .all(|end| names.iter().any(|n| n.ends_with(end)))
    };
    let deadline = std::time::Instant::now() + within;
    loop {
        let names = probe_files(dir);
        if hung(&names) {
            return names;
        }
        assert!(std::time::Instant::now() < deadline, "OMPIO's side files did not appear: {names:?}");
        assert!(job.try_wait().unwrap().is_none(), "the job ended without hanging in MPI_File_open");
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}

/// `source` compiled with the system C compiler into a shared library in the target dir, one per caller
/// (each test removes its own when done, while another may still use its).
pub fn preload_library(stem: &str, source: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("preload");
    std::fs::create_dir_all(&dir).unwrap();
    static BUILT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let nth = BUILT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let name = format!("{stem}-{}-{nth}", std::process::id());
    let c_file = dir.join(format!("{name}.c"));
    std::fs::write(&c_file, source).unwrap();
    let lib = dir.join(format!("{name}.so"));
    let out = Command::new("cc")
        .args(["-shared", "-fPIC", "-O2", "-o"])
        .arg(&lib)
        .arg(&c_file)
        .arg("-ldl")
        .output()
        .unwrap_or_else(|e| panic!("cc (build-essential) is needed to build the test's preload library: {e}"));
    assert!(out.status.success(), "cc failed: {}", String::from_utf8_lossy(&out.stderr));
    let _ = std::fs::remove_file(&c_file);
    lib
}

/// A preload library for the launcher's PMIx server (mpirun, or Slurm's slurmstepd when slurmd is started
/// with it): in a process of that name, the first handshake reply (PMIx 4's 4-byte status, 0, sent to the
/// first client that connects) waits until the wall-clock time in milliseconds written in the file
/// `$H5DOCTOR_TEST_PMIX_REPLY_AT` ([`pmix_reply_at`]), when that file exists when the reply is sent.
/// Slurm's own messages of 4 bytes (length headers) are never 0. Loaded into other processes (the ranks,
/// munged, slurmd) it does nothing. The file, not the environment, says when: slurmstepd gets the
/// environment slurmd had when the test Slurm started.
pub fn late_pmix_handshake_library() -> PathBuf {
    preload_library(
        "late_pmix_handshake",
        r#"#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
static int answered;
static int is_pmix_server(void) {
  static int known = -1;
  if (known < 0) {
    char comm[32] = {0};
    FILE *f = fopen("/proc/self/comm", "r");
    if (f) { if (!fgets(comm, sizeof comm, f)) comm[0] = 0; fclose(f); }
    known = !strcmp(comm, "mpirun\n") || !strncmp(comm, "slurmstepd", 10);
  }
  return known;
}
ssize_t send(int fd, const void *buf, size_t len, int flags) {
  const char *at_file = getenv("H5DOCTOR_TEST_PMIX_REPLY_AT");
  if (at_file && len == 4 && *(const int *)buf == 0 && !answered && is_pmix_server()) {
    long long at = 0;
    FILE *f = fopen(at_file, "r");
    if (f) {
      answered = 1;
      if (fscanf(f, "%lld", &at) != 1) at = 0;
      fclose(f);
      struct timespec now;
      clock_gettime(CLOCK_REALTIME, &now);
      long long ms = at - (now.tv_sec * 1000LL + now.tv_nsec / 1000000);
      if (ms > 0) usleep((useconds_t)(ms * 1000));
    }
  }
  return ((ssize_t (*)(int, const void *, size_t, int))dlsym(RTLD_NEXT, "send"))(fd, buf, len, flags);
}
"#,
    )
}

/// Makes [`late_pmix_handshake_library`] hold the next launcher's first handshake reply until `after`
/// from now: writes the time into `file` (the library's `$H5DOCTOR_TEST_PMIX_REPLY_AT`).
pub fn pmix_reply_at(file: &Path, after: std::time::Duration) {
    let at = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap() + after;
    std::fs::write(file, at.as_millis().to_string()).unwrap();
}

/// A fresh empty directory under the target dir (on the same file system the tests run on).
pub fn tempdir() -> tempfile::TempDir {
    tempfile::Builder::new().prefix("h5doctor-test-").tempdir().unwrap()
}

/// `h5doctor check --json --facts FILE` of a facts JSON value (written to a temporary file).
pub fn replay_facts(facts: &Value) -> Run {
    let dir = tempdir();
    let path = dir.path().join("facts.json");
    std::fs::write(&path, facts.to_string()).unwrap();
    H5doctor::new(&["check", "--json", "--facts", path.to_str().unwrap()]).run()
}

/// Asserts that the case a launch test is built for happened: h5doctor ended a `who` (`rank`,
/// `interpreter`) only after waiting for it inside MPI_Init (its H5DOCTOR_MPIO_DEBUG line on stderr).
pub fn assert_ended_inside_mpi_init(run: &Run, who: &str) {
    assert!(
        run.stderr.contains("inside MPI_Init: waited"),
        "no {who} was ended inside MPI_Init:\n{}",
        run.stderr
    );
}

/// A file's bytes and modification time, to prove h5doctor left it alone.
#[derive(Debug, PartialEq, Eq)]
pub struct FileSnapshot {
    bytes: Vec<u8>,
    modified: std::time::SystemTime,
}

impl FileSnapshot {
    pub fn take(path: &Path) -> Self {
        Self {
            bytes: std::fs::read(path).unwrap(),
            modified: std::fs::metadata(path).unwrap().modified().unwrap(),
        }
    }

    /// Panics when the file's content or modification time changed since the snapshot.
    pub fn assert_unchanged(&self, path: &Path) {
        let now = Self::take(path);
        assert!(now.bytes == self.bytes, "{} was modified", path.display());
        assert_eq!(now.modified, self.modified, "{} was touched", path.display());
    }
}

/// Runs Debian's Python (which has h5py) with a script and arguments; panics with its stderr on failure.
pub fn debian_python(script: &str, args: &[&str]) -> String {
    let out = Command::new("/usr/bin/python3")
        .arg("-c")
        .arg(script)
        .args(args)
        .output()
        .expect("/usr/bin/python3 runs (python3-h5py is in scripts/dev.sh)");
    assert!(
        out.status.success(),
        "python failed: {}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// `mpirun --oversubscribe -n N` (Open MPI's launcher, more ranks than cores).
pub fn mpirun(n: &str) -> Vec<&str> {
    vec!["mpirun", "--oversubscribe", "-n", n]
}

/// `timeout 120 [inject-errno ...] LAUNCHER... h5doctor mpio-test --dir DIR --mib-per-rank N --json EXTRA...`,
/// allowed to run as root, with the variables that would change the MPI-IO layer, the rules or the probe
/// removed. Needs `h5doctor-probe-mpio` next to h5doctor (scripts/dev.sh's build_mpio).
pub fn mpio_test(launcher: &[&str], inject: Option<(&str, i32)>, dir: &Path, mib_per_rank: &str, extra: &[&str]) -> Run {
    bin("h5doctor-probe-mpio");
    let mut cmd = Command::new("timeout");
    cmd.args(["-k", "5", "120"]);
    if let Some((flag, errno)) = inject {
        cmd.arg(bin("inject-errno")).arg(flag).arg(errno.to_string()).arg("--");
    }
    cmd.args(launcher)
        .arg(env!("CARGO_BIN_EXE_h5doctor"))
        .args([
            "mpio-test",
            "--dir",
            dir.to_str().unwrap(),
            "--mib-per-rank",
            mib_per_rank,
            "--json",
        ])
        .args(extra)
        .env("OMPI_ALLOW_RUN_AS_ROOT", "1")
        .env("OMPI_ALLOW_RUN_AS_ROOT_CONFIRM", "1");
    for var in [
        "OMPI_MCA_io",
        "OMPI_MCA_fcoll",
        "ROMIO_HINTS",
        "H5DOCTOR_RULES_PATH",
        "H5DOCTOR_PROBE_MPIO",
        "H5DOCTOR_MPIO_NO_HINTS",
    ] {
        cmd.env_remove(var);
    }
    Run::of(cmd)
}
