//! Facts of the `mpi` group: what `h5doctor mpio-test` saw when it ran parallel HDF5 over MPI-IO under a
//! launcher (srun, mpirun, mpiexec.hydra). Gathered by `h5doctor-probe-mpio` (rank 0 collects them from
//! every rank) or, when MPI_Init itself cannot work, by h5doctor from the probe's failed start.

use crate::facts::catalog::Item;
use crate::facts::groups::{GroupSpec, ListPosition, Section, Unanswered};
use crate::facts::values::{IoComponent, MpiFamily, PythonStep, TransferMode};
use crate::facts::Facts;
use crate::facts::ProbeStatus;
use crate::groups::Group;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Variables a launcher sets for each task; recorded as each process saw them before MPI_Init.
pub const LAUNCHER_VARS: &[&str] = &[
    "SLURM_NTASKS",
    "SLURM_STEP_NUM_TASKS",
    "SLURM_PROCID",
    "SLURM_MPI_TYPE",
    "SLURM_STEP_ID",
    "SLURM_JOB_ID",
    "PMI_SIZE",
    "PMI_RANK",
    "PMI_FD",
    "PMIX_RANK",
    "PMIX_NAMESPACE",
    "OMPI_COMM_WORLD_SIZE",
    "OMPI_COMM_WORLD_RANK",
    "MPI_LOCALNRANKS",
    "ALPS_APP_PE",
    "PALS_RANKID",
];

/// Variables that choose or tune the MPI-IO layer (Open MPI MCA parameters, ROMIO hints).
pub const IO_VARS: &[&str] = &["OMPI_MCA_io", "OMPI_MCA_fcoll", "OMPI_MCA_fs", "ROMIO_HINTS", "ROMIO_FSTYPE_FORCE"];

/// The `mpi` group's facts.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
pub struct MpiFacts {
    /// ok: the test ran to its end (passed or failed); inconclusive: it could not run (timeout, the MPI
    /// probe could not start, MPI_Init failed); not-run: facts of `check`, which does not run it.
    pub status: ProbeStatus,
    pub reason: Option<String>,
    /// The MPI probe binary that ran.
    pub probe_path: Option<String>,
    /// Launcher variables (LAUNCHER_VARS) as the reporting process saw them before MPI_Init.
    #[serde(default)]
    pub launcher_env: BTreeMap<String, String>,
    /// MPI-IO variables (IO_VARS) as set for the run.
    #[serde(default)]
    pub io_env: BTreeMap<String, String>,
    /// Fact `mpi.launcher` (documented once, in the facts catalogue: `h5doctor facts --list`).
    pub launcher: Option<String>,
    /// Fact `mpi.launcher_size` (documented once, in the facts catalogue: `h5doctor facts --list`).
    pub launcher_size: Option<u32>,
    /// Fact `mpi.srun_mpi_plugins` (documented once, in the facts catalogue: `h5doctor facts --list`).
    pub srun_mpi_plugins: Option<Vec<String>>,
    /// Fact `mpi.library` (documented once, in the facts catalogue: `h5doctor facts --list`).
    pub library: Option<String>,
    /// See [`MpiFamily`] (fact `mpi.family`).
    pub family: Option<MpiFamily>,
    /// Fact `mpi.size` (documented once, in the facts catalogue: `h5doctor facts --list`).
    pub size: Option<u32>,
    /// The host of each rank, in rank order.
    #[serde(default)]
    pub hosts: Vec<String>,
    /// The parallel HDF5 the probe linked.
    pub hdf5_version: Option<String>,
    /// See [`IoComponent`] (fact `mpi.io_component`).
    pub io_component: Option<IoComponent>,
    /// Fact `mpi.dir` (documented once, in the facts catalogue: `h5doctor facts --list`).
    pub dir: Option<String>,
    pub fs_type: Option<String>,
    pub mib_per_rank: u64,
    /// Fact `mpi.fcntl_lock_errno` (documented once, in the facts catalogue: `h5doctor facts --list`); it also covers the
    /// lock every node takes on rank 0's marker: the errno of the first of them that failed.
    pub fcntl_lock_errno: Option<i32>,
    /// Every node of the job as its ranks saw the test directory, in node order (rank 0's first).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub nodes: Vec<MpiNode>,
    /// Fact `mpi.marker` (documented once, in the facts catalogue: `h5doctor facts --list`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub marker: Option<String>,
    /// Fact `mpi.tmpdir_origin` (documented once, in the facts catalogue: `h5doctor facts --list`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tmpdir_origin: Option<String>,
    /// Whether the neighbour each rank verified ran on another node (true whenever there are several).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub verified_across_nodes: Option<bool>,
    /// Fact `mpi.hints` (documented once, in the facts catalogue: `h5doctor facts --list`).
    #[serde(default)]
    pub hints: Vec<String>,
    /// One entry per transfer mode (`collective`, `independent`).
    #[serde(default)]
    pub results: Vec<MpioResult>,
    /// The test file's size in bytes when the first timed write began (rank 0's stat after H5Dcreate2 and
    /// the H5Fflush before any clock): HDF5's mpio driver has by then allocated both datasets and set the
    /// file's size to their end, where a raw MPI-IO program writing the same bytes starts from an empty file.
    /// Absent in facts written before it was measured, and for `mpio-test --python`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file_bytes_before_write: Option<u64>,
    /// Whether every step on every rank worked and every neighbour's slab read back as written.
    pub passed: Option<bool>,
    /// Fact `mpi.error` (documented once, in the facts catalogue: `h5doctor facts --list`):
    /// `rank 1: independent write: H5Dwrite failed`.
    pub error: Option<String>,
    /// Fact `mpi.error_stack` (documented once, in the facts catalogue: `h5doctor facts --list`).
    pub error_stack: Option<String>,
    /// Fact `mpi.init_error` (documented once, in the facts catalogue: `h5doctor facts --list`).
    pub init_error: Option<String>,
    /// Seconds from exec to the end of MPI_Init (rank 0).
    pub init_seconds: Option<f64>,
    /// The Python side of `mpio-test --python` (facts `mpi.python`, `mpi.python_*`, documented once, in the
    /// facts catalogue: `h5doctor facts --list`); `None` when h5doctor's own MPI probe ran the test.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub python: Option<MpioPython>,
    /// A deflate-filtered (compressed) chunked dataset written collectively by every rank after the test:
    /// `ok`, `failed` (the error is the run's first error), or `not-available` (this HDF5 has no deflate).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub filtered_write: Option<crate::facts::values::FilteredWrite>,
    /// After that, the same dataset written independently by every rank (H5FD_MPIO_INDEPENDENT): `ok`, or
    /// `refused` (HDF5 writes filtered data in parallel only collectively).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub filtered_independent: Option<crate::facts::values::IndependentFilteredWrite>,
    /// HDF5's words for that refusal (`Can't perform independent write with filters in pipeline. ...`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub filtered_independent_error: Option<String>,
}

/// The MPI-IO test run through a Python interpreter: what it imported before MPI_Init, and how it ended.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
pub struct MpioPython {
    /// The interpreter as given (`--python`).
    pub interpreter: String,
    /// `sys.executable`.
    pub executable: Option<String>,
    pub python_version: Option<String>,
    pub h5py_version: Option<String>,
    /// The h5py module that loaded (`h5py._debian_h5py_mpi` on Debian).
    pub h5py_module: Option<String>,
    /// `h5py.get_config().mpi`.
    pub h5py_mpi: Option<bool>,
    /// The MPI libraries mapped after `import h5py` (h5py's own), from /proc/self/maps.
    #[serde(default)]
    pub h5py_mpi_libraries: Vec<String>,
    pub mpi4py_version: Option<String>,
    /// mpi4py's `MPI` extension module that loaded (mpi4py >= 4 picks one per MPI ABI).
    pub mpi4py_module: Option<String>,
    /// The MPI libraries `from mpi4py import MPI` added (or shared, when h5py had loaded the same soname).
    #[serde(default)]
    pub mpi4py_mpi_libraries: Vec<String>,
    /// Every MPI library mapped before MPI_Init.
    #[serde(default)]
    pub loaded_mpi: Vec<String>,
    /// The step that stopped the test before it wrote anything: `import numpy`, `import h5py`,
    /// `import mpi4py`, `from mpi4py import MPI`, `h5py.File(driver='mpio')`, `MPI_Init`, as the
    /// interpreter-side script (src/mpio/scripts/mpio_test.py) names them.
    pub failed_step: Option<PythonStep>,
    /// The exception of that step, as Python prints its last line.
    pub error: Option<String>,
    pub traceback: Option<String>,
    /// How the interpreter ended when it gave no result (`was killed by signal 11 (SIGSEGV)`, `timed out
    /// after 120 s and was killed`).
    pub end: Option<String>,
    /// The signal that ended it, when one did.
    pub signal: Option<i32>,
    /// The last lines it wrote on stderr when it gave no result.
    pub output_tail: Option<String>,
    /// Debian's h5py picked its serial build: the whole test again with H5PY_ALWAYS_USE_MPI=1.
    pub always_use_mpi: Option<MpioRerun>,
    /// h5doctor's own MPI probe in the same job (`--compare FILE`), for the side-by-side.
    pub probe: Option<MpioRerun>,
}

/// Another run of the MPI-IO test next to the main one: its verdict and bandwidth.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
pub struct MpioRerun {
    /// What ran: `H5PY_ALWAYS_USE_MPI=1 /usr/bin/python3`, `h5doctor-probe-mpio`.
    pub what: String,
    pub passed: Option<bool>,
    /// The h5py module that loaded, for a Python run.
    pub h5py_module: Option<String>,
    pub library: Option<String>,
    pub size: Option<u32>,
    /// The first failure.
    pub error: Option<String>,
    #[serde(default)]
    pub results: Vec<MpioResult>,
}

/// One node of the job as its ranks saw the test directory; rank 0 gathers one from every rank and merges
/// them by host.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
pub struct MpiNode {
    /// MPI_Get_processor_name of its ranks.
    pub host: String,
    /// Its ranks.
    pub ranks: Vec<u32>,
    /// Whether every rank here read rank 0's marker with rank 0's token.
    pub sees_marker: bool,
    /// Why a rank here did not: fact `mpi.marker_error`, grouped by node (documented once, in the facts
    /// catalogue: `h5doctor facts --list`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub marker_error: Option<String>,
    /// The file system of the test directory on this node (of its nearest existing parent).
    pub fs_type: Option<String>,
    /// flock(LOCK_SH|LOCK_NB) on the marker from this node (HDF5's file locking): 0 or the first errno.
    pub flock_errno: Option<i32>,
    /// fcntl(F_SETLK) write lock on one byte of the marker from this node (ROMIO's): 0 or the first errno.
    pub fcntl_errno: Option<i32>,
    /// TMPDIR as this node's ranks saw it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tmpdir: Option<String>,
    /// The test directory is on a read-only mount on this node (statvfs ST_RDONLY).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub read_only: bool,
}

impl MpiNode {
    /// Adds one rank's view of the same host: a failure of any rank is the node's.
    pub fn merge(&mut self, other: MpiNode) {
        self.ranks.extend(other.ranks);
        if !other.sees_marker && self.sees_marker {
            self.sees_marker = false;
            self.marker_error = other.marker_error;
        }
        let worse = |a: Option<i32>, b: Option<i32>| match (a, b) {
            (Some(0) | None, b @ Some(_)) => b,
            (a, _) => a,
        };
        self.flock_errno = worse(self.flock_errno, other.flock_errno);
        self.fcntl_errno = worse(self.fcntl_errno, other.fcntl_errno);
        self.fs_type = self.fs_type.take().or(other.fs_type);
        self.read_only |= other.read_only;
        self.tmpdir = self.tmpdir.take().or(other.tmpdir);
    }

    /// One view per rank, merged into one per host in order of first appearance.
    pub fn merge_by_host(views: Vec<MpiNode>) -> Vec<MpiNode> {
        let mut nodes: Vec<MpiNode> = Vec::new();
        for view in views {
            match nodes.iter_mut().find(|n| n.host == view.host) {
                Some(node) => node.merge(view),
                None => nodes.push(view),
            }
        }
        nodes
    }
}

/// Bandwidth of one transfer mode: bytes over the slowest rank's time, barriers around each phase.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
pub struct MpioResult {
    /// `collective` or `independent`.
    pub mode: TransferMode,
    pub bytes: u64,
    /// H5Dwrite + H5Fflush, max over ranks.
    pub write_seconds: f64,
    /// Of `write_seconds`: H5Fflush (HDF5's dirty metadata, if any, and MPI_File_sync), measured as
    /// `write_seconds` minus the slowest rank's H5Dwrite, so that ranks waiting in the collective flush
    /// for a slower rank's H5Dwrite do not count as flush. Absent in facts written before it was measured.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub flush_seconds: Option<f64>,
    /// H5Dread, max over ranks.
    pub read_seconds: f64,
    pub write_mib_s: f64,
    pub read_mib_s: f64,
    /// Every rank read its neighbour's slab back correctly after a read-only reopen.
    pub verified: bool,
}

impl MpiFacts {
    pub fn result(&self, mode: TransferMode) -> Option<&MpioResult> {
        self.results.iter().find(|r| r.mode == mode)
    }
}

/// The launcher and its task count, named from the variables a process sees before MPI_Init.
pub fn launcher_of(env: &BTreeMap<String, String>) -> (String, Option<u32>) {
    let num = |k: &str| env.get(k).and_then(|v| v.trim().parse::<u32>().ok());
    if env.contains_key("OMPI_COMM_WORLD_SIZE") {
        return ("mpirun (Open MPI)".into(), num("OMPI_COMM_WORLD_SIZE"));
    }
    if env.contains_key("SLURM_STEP_ID") || env.contains_key("SLURM_PROCID") {
        let plugin = env.get("SLURM_MPI_TYPE").map_or("none", String::as_str);
        let size = num("SLURM_STEP_NUM_TASKS").or_else(|| num("SLURM_NTASKS"));
        return (format!("srun --mpi={plugin}"), size);
    }
    if env.contains_key("PMI_SIZE") || env.contains_key("MPI_LOCALNRANKS") {
        return ("mpiexec.hydra (MPICH)".into(), num("PMI_SIZE"));
    }
    if env.contains_key("PALS_RANKID") || env.contains_key("ALPS_APP_PE") {
        return ("Cray PALS/ALPS".into(), None);
    }
    ("none".into(), None)
}

/// `openmpi`, `mpich` or `unknown`, from MPI_Get_library_version's text.
pub fn family_of(library: &str) -> MpiFamily {
    if library.contains("Open MPI") {
        MpiFamily::Openmpi
    } else if library.contains("MPICH") || library.contains("CRAY MPICH") || library.contains("Intel(R) MPI") {
        MpiFamily::Mpich
    } else {
        MpiFamily::Unknown
    }
}

/// The mpi group: its report line and an MPI-IO test that gave no answer.
pub const SPEC: GroupSpec = GroupSpec {
    group: Group::Mpi,
    summary,
    unanswered,
};

/// `Open MPI v4.1.4, 4 ranks (mpirun (Open MPI)), ompio on ext4 /tmp/x: collective write 280.1 MiB/s, ...`,
/// and for `mpio-test --python` the interpreter's side: what it imported, how it ended, its reruns.
fn summary(facts: &Facts) -> String {
    let m = &facts.mpi;
    let Some(py) = &m.python else { return mpi_test_text(m) };
    let mut s = format!(
        "through {}: h5py {}{}, mpi4py {}\n            ",
        py.interpreter,
        py.h5py_version.as_deref().unwrap_or("?"),
        py.h5py_module.as_deref().map(|m| format!(" ({m})")).unwrap_or_default(),
        py.mpi4py_version.as_deref().unwrap_or("?")
    );
    match &py.failed_step {
        Some(step) => s.push_str(&format!(
            "stopped before MPI_Init at `{step}`: {} (findings below)",
            py.error.as_deref().unwrap_or("?")
        )),
        None => s.push_str(&mpi_test_text(m)),
    }
    if let Some(end) = &py.end {
        s.push_str(&format!("\n            the interpreter {end}"));
        if let Some(tail) = &py.output_tail {
            for line in tail.lines() {
                s.push_str(&format!("\n              | {line}"));
            }
        }
    }
    for (label, run) in [
        ("with H5PY_ALWAYS_USE_MPI=1", &py.always_use_mpi),
        ("h5doctor-probe-mpio (--compare)", &py.probe),
    ] {
        let Some(run) = run else { continue };
        let verdict = match run.passed {
            Some(true) => "passed".to_string(),
            Some(false) => "FAILED".to_string(),
            None => format!("did not run: {}", run.error.as_deref().unwrap_or("?")),
        };
        s.push_str(&format!("\n            {label}: {verdict}"));
        for r in &run.results {
            let mine = m.result(r.mode);
            let ratio = |this: f64, other: Option<f64>| match other {
                Some(o) if label.starts_with("h5doctor") && this > 0.0 && o > 0.0 => format!(" (Python {:.2}x)", o / this),
                _ => String::new(),
            };
            s.push_str(&format!(
                "\n            {:<11} write {:>8.1} MiB/s{}  read {:>8.1} MiB/s{}",
                r.mode.as_str(),
                r.write_mib_s,
                ratio(r.write_mib_s, mine.map(|x| x.write_mib_s)),
                r.read_mib_s,
                ratio(r.read_mib_s, mine.map(|x| x.read_mib_s))
            ));
        }
    }
    s
}

/// The MPI-IO test's own line: library, ranks, layer, file system and bandwidth.
fn mpi_test_text(m: &crate::facts::mpi::MpiFacts) -> String {
    if m.init_error.is_some() {
        return format!(
            "MPI_Init fails under {} ({} library, {} tasks; findings below)",
            m.launcher.as_deref().unwrap_or("the launcher"),
            m.family.map_or("unknown", |f| f.as_str()),
            m.launcher_size.map_or("?".to_string(), |n| n.to_string())
        );
    }
    if m.status != ProbeStatus::Ok {
        return format!("{}: {}", m.status.as_str(), m.reason.as_deref().unwrap_or("no reason recorded"));
    }
    let library = m.library.as_deref().unwrap_or("MPI ?");
    let library = library.split(',').next().unwrap_or(library);
    let mut s = format!(
        "{library}, {} rank{} ({}), HDF5 {}",
        m.size.unwrap_or(0),
        if m.size == Some(1) { "" } else { "s" },
        m.launcher.as_deref().unwrap_or("?"),
        m.hdf5_version.as_deref().unwrap_or("?")
    );
    if let Some(io) = &m.io_component {
        s.push_str(&format!(", {io}"));
    }
    if let (Some(dir), Some(fs)) = (&m.dir, &m.fs_type) {
        s.push_str(&format!(" on {fs} {dir}"));
    }
    s.push_str(&nodes_text(m));
    for r in &m.results {
        s.push_str(&format!(
            "\n            {:<11} write {:>8.1} MiB/s  read {:>8.1} MiB/s  ({} MiB){}",
            r.mode.as_str(),
            r.write_mib_s,
            r.read_mib_s,
            r.bytes >> 20,
            if r.verified { "  verified" } else { "  NOT verified" }
        ));
        // What of the write is H5Fflush (dirty metadata + MPI_File_sync), when the probe measured it.
        if let Some(flush) = r.flush_seconds.filter(|_| r.write_seconds > 0.0) {
            s.push_str(&format!(
                "\n            {:<11} write = H5Dwrite {:.3} s + H5Fflush {:.3} s",
                "",
                (r.write_seconds - flush).max(0.0),
                flush
            ));
        }
        // What of a collective transfer is HDF5's own path, not h5doctor's: bench/mpio.sh measures the same
        // view-based read in raw MPI-IO next to a plain MPI_File_read_at_all.
        if r.mode == TransferMode::Collective {
            s.push_str(&format!(
                "\n            {:<11} H5Dwrite/H5Dread set an MPI file view per call (HDF5's collective path)",
                ""
            ));
            if let Some(line) = romio_strided_write(m) {
                s.push_str(&format!("\n            {:<11} {line}", ""));
            }
        }
    }
    if let Some(line) = presized_file(m) {
        s.push_str(&format!("\n            {line}"));
    }
    match m.passed {
        Some(true) if m.verified_across_nodes == Some(true) => {
            s.push_str("\n            every rank read a slab written on another node back as written")
        }
        Some(true) => s.push_str("\n            every rank read its neighbour's slab back as written"),
        Some(false) => s.push_str("\n            the test FAILED (findings below)"),
        None => {}
    }
    s
}

/// What HDF5's collective write does under ROMIO, when ROMIO ran the test with its data sieving for writes
/// on: the file view with a derived filetype takes ROMIO's strided write path, which locks each rank's
/// extent (fcntl F_SETLKW) around its pwrite and unlocks it after (traced with strace under Open MPI's
/// romio321); a plain MPI_File_write_at_all of the same bytes is ROMIO's contiguous path, without a lock.
/// With `romio_ds_write=disable` (the hints mpio-test uses when ROMIO cannot lock) the strided path writes
/// without locking, so nothing is said.
fn romio_strided_write(m: &crate::facts::mpi::MpiFacts) -> Option<&'static str> {
    (m.io_component == Some(IoComponent::Romio) && !m.hints.iter().any(|h| h == "romio_ds_write=disable")).then_some(
        "under ROMIO that view takes its strided write path: an fcntl lock on each rank's extent around its write \
         (a plain MPI_File_write_at_all takes none)",
    )
}

/// The test file's size before the first timed write, when the probe measured it: HDF5's own early allocation
/// (the mpio driver allocates a dataset's space at H5Dcreate2; HDF5 1.10 does so whatever allocation time
/// the dataset asks for, H5Dint.c: H5FD_FEAT_ALLOCATE_EARLY) and the file's size set to the end of that space
/// at H5Fflush (H5FD_mpio_truncate), where a raw MPI-IO program writing the same bytes extends an empty file.
fn presized_file(m: &crate::facts::mpi::MpiFacts) -> Option<String> {
    let bytes = m.file_bytes_before_write.filter(|b| *b > 0 && !m.results.is_empty())?;
    let forced = if m.hdf5_version.as_deref().is_some_and(|v| v.starts_with("1.10")) {
        ", whatever allocation time the dataset asks for,"
    } else {
        ""
    };
    Some(format!(
        "HDF5's own: the file was {:.1} MiB before the first timed write: the mpio driver allocates the datasets \
         at H5Dcreate2{forced} and sets the file's size to their end at H5Fflush (raw MPI-IO writing the same bytes \
         extends an empty file)",
        bytes as f64 / (1024.0 * 1024.0)
    ))
}

/// The nodes of a multi-node run: `on 3 nodes nid[001-003], 1 rank each`, the nodes that cannot see the
/// directory rank 0 wrote in, and the nodes where a lock failed.
fn nodes_text(m: &crate::facts::mpi::MpiFacts) -> String {
    use crate::hostlist::compress;
    if m.nodes.is_empty() {
        return String::new();
    }
    let hosts: Vec<&str> = m.nodes.iter().map(|n| n.host.as_str()).collect();
    let counts: Vec<usize> = m.nodes.iter().map(|n| n.ranks.len()).collect();
    let per_node = if counts.iter().all(|c| *c == counts[0]) {
        format!("{} rank{} each", counts[0], if counts[0] == 1 { "" } else { "s" })
    } else {
        m.nodes
            .iter()
            .map(|n| format!("{} {}", n.host, n.ranks.len()))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let mut s = format!(
        "\n            on {} node{} {} ({per_node})",
        m.nodes.len(),
        if m.nodes.len() == 1 { "" } else { "s" },
        compress(&hosts)
    );
    let unseen: Vec<&str> = m.nodes.iter().filter(|n| !n.sees_marker).map(|n| n.host.as_str()).collect();
    if !unseen.is_empty() {
        s.push_str(&format!(
            "\n            NOT SHARED: {} cannot see the file rank 0 made on {}; no MPI-IO was attempted (findings below)",
            compress(&unseen),
            hosts[0]
        ));
    }
    type Errno = fn(&crate::facts::mpi::MpiNode) -> Option<i32>;
    let locks: [(&str, Errno); 2] = [("flock", |n| n.flock_errno), ("fcntl lock", |n| n.fcntl_errno)];
    for (label, errno) in locks {
        let failed: Vec<String> = m
            .nodes
            .iter()
            .filter_map(|n| {
                errno(n)
                    .filter(|e| *e != 0)
                    .map(|e| format!("{} ({})", n.host, crate::errno::name(e)))
            })
            .collect();
        if !failed.is_empty() {
            s.push_str(&format!("\n            {label} fails on {}", failed.join(", ")));
        }
    }
    s
}

/// A test that did not pass its way to an answer; an MPI_Init failure with a known text is a finding
/// (mpi-pmi-failure), not an inconclusive test.
fn unanswered(facts: &Facts) -> Vec<Unanswered<'_>> {
    if facts.mpi.status == ProbeStatus::Ok || facts.mpi.init_error.is_some() {
        return Vec::new();
    }
    let reason = facts.mpi.reason.clone().unwrap_or_else(|| "no reason recorded".into());
    vec![Unanswered::new(ListPosition::node(Section::Own(Group::Mpi)), Item::Node, reason)]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn launchers_are_named_from_their_variables() {
        assert_eq!(
            launcher_of(&env(&[("OMPI_COMM_WORLD_SIZE", "4"), ("PMIX_RANK", "0")])),
            ("mpirun (Open MPI)".into(), Some(4))
        );
        assert_eq!(
            launcher_of(&env(&[("SLURM_PROCID", "1"), ("SLURM_STEP_NUM_TASKS", "2"), ("SLURM_NTASKS", "2")])),
            ("srun --mpi=none".into(), Some(2))
        );
        // mpirun inside an allocation: SLURM_PROCID is 0 on every rank, OMPI_COMM_WORLD_SIZE is right.
        assert_eq!(
            launcher_of(&env(&[("SLURM_PROCID", "0"), ("SLURM_NTASKS", "1"), ("OMPI_COMM_WORLD_SIZE", "4")])).1,
            Some(4)
        );
        assert_eq!(
            launcher_of(&env(&[("PMI_SIZE", "2"), ("PMI_FD", "6")])),
            ("mpiexec.hydra (MPICH)".into(), Some(2))
        );
        assert_eq!(launcher_of(&env(&[])), ("none".into(), None));
        assert_eq!(family_of("Open MPI v4.1.4, package: Debian OpenMPI"), MpiFamily::Openmpi);
        assert_eq!(family_of("MPICH Version:      4.0.2"), MpiFamily::Mpich);
    }
}
