//! Facts named `mpi.*`: parallel HDF5 over MPI-IO under a launcher, as `h5doctor mpio-test` saw it.

use super::{FactDef, Scope};
use crate::facts::mpi::{MpiFacts, MpiNode};
use crate::facts::values::TestResult;
use crate::facts::{Facts, ProbeStatus};
use serde_json::{json, Value};

fn mpi(f: &Facts) -> Option<&MpiFacts> {
    (f.mpi.status != ProbeStatus::NotRun).then_some(&f.mpi)
}

/// A bandwidth figure, rounded to 0.1 MiB/s.
fn mib_s(f: &Facts, mode: &str, write: bool) -> Option<Value> {
    let r = mpi(f)?.result(mode)?;
    let v = if write { r.write_mib_s } else { r.read_mib_s };
    (v.is_finite() && v > 0.0).then(|| json!((v * 10.0).round() / 10.0))
}

/// How many times faster independent I/O was than collective I/O, the worse of write and read (1 decimal).
fn slowdown(f: &Facts) -> Option<Value> {
    let m = mpi(f)?;
    let (c, i) = (m.result("collective")?, m.result("independent")?);
    let ratio = |coll: f64, ind: f64| (coll > 0.0 && ind > 0.0).then(|| ind / coll);
    let worst = [ratio(c.write_mib_s, i.write_mib_s), ratio(c.read_mib_s, i.read_mib_s)]
        .into_iter()
        .flatten()
        .fold(f64::NAN, f64::max);
    worst.is_finite().then(|| json!((worst * 10.0).round() / 10.0))
}

fn errno_name(f: &Facts) -> Option<Value> {
    let e = mpi(f)?.fcntl_lock_errno?;
    Some(json!(crate::errno::name(e)))
}

/// The nodes that pass `keep`, as a Slurm hostlist; None when there are no node records (one-node
/// runs before the marker check existed) or none passes.
fn hostlist_of(f: &Facts, keep: impl Fn(&MpiNode) -> bool) -> Option<Value> {
    let hosts: Vec<&str> = mpi(f)?.nodes.iter().filter(|n| keep(n)).map(|n| n.host.as_str()).collect();
    (!hosts.is_empty()).then(|| json!(crate::hostlist::compress(&hosts)))
}

/// `nid[002-003]: tmpfs; nid004: ext4`: the nodes that pass `keep`, grouped by `value`.
fn grouped(f: &Facts, keep: impl Fn(&MpiNode) -> bool, value: impl Fn(&MpiNode) -> String) -> Option<Value> {
    let mut groups: Vec<(String, Vec<&str>)> = Vec::new();
    for n in mpi(f)?.nodes.iter().filter(|n| keep(n)) {
        let v = value(n);
        match groups.iter_mut().find(|(g, _)| *g == v) {
            Some((_, hosts)) => hosts.push(&n.host),
            None => groups.push((v, vec![&n.host])),
        }
    }
    let parts: Vec<String> = groups
        .iter()
        .map(|(v, hosts)| format!("{}: {v}", crate::hostlist::compress(hosts)))
        .collect();
    (!parts.is_empty()).then(|| json!(parts.join("; ")))
}

fn failed(e: Option<i32>) -> bool {
    e.is_some_and(|e| e != 0)
}

/// The Python side of `mpio-test --python`.
fn py(f: &Facts) -> Option<&crate::facts::mpi::MpioPython> {
    mpi(f)?.python.as_ref()
}

fn list(v: &[String]) -> Option<Value> {
    (!v.is_empty()).then(|| json!(v))
}

pub static FACTS: &[FactDef] = &[
    FactDef {
        name: "mpi.python",
        scope: Scope::Global,
        label: "Python interpreter",
        doc: "mpio-test --python: the interpreter the test ran through (mpi4py and h5py's mpio driver).",
        read: |f, _| py(f).map(|p| json!(p.interpreter)),
    },
    FactDef {
        name: "mpi.python_failed_step",
        scope: Scope::Global,
        label: "stopped at",
        doc: "mpio-test --python: the step that stopped the test before MPI_Init (import numpy, import h5py, import mpi4py, from mpi4py import MPI, h5py.File(driver='mpio')).",
        read: |f, _| py(f)?.failed_step.as_ref().map(|v| json!(v)),
    },
    FactDef {
        name: "mpi.python_error",
        scope: Scope::Global,
        label: "Python error",
        doc: "mpio-test --python: the exception of the step that stopped the test, as Python prints its last line.",
        read: |f, _| py(f)?.error.as_ref().map(|v| json!(v)),
    },
    FactDef {
        name: "mpi.python_end",
        scope: Scope::Global,
        label: "interpreter ended",
        doc: "mpio-test --python: how the interpreter ended when it gave no result (a signal, a timeout, an exit status).",
        read: |f, _| py(f)?.end.as_ref().map(|v| json!(v)),
    },
    FactDef {
        name: "mpi.python_signal",
        scope: Scope::Global,
        label: "signal",
        doc: "mpio-test --python: the signal that ended the interpreter, when one did.",
        read: |f, _| py(f)?.signal.map(|v| json!(v)),
    },
    FactDef {
        name: "mpi.python_output",
        scope: Scope::Global,
        label: "last output",
        doc: "mpio-test --python: the last lines the interpreter wrote on stderr when it gave no result.",
        read: |f, _| py(f)?.output_tail.as_ref().map(|v| json!(v)),
    },
    FactDef {
        name: "mpi.python_loaded_mpi",
        scope: Scope::Global,
        label: "MPI libraries in the process",
        doc: "mpio-test --python: every MPI library mapped into the interpreter after importing h5py and mpi4py, before MPI_Init.",
        read: |f, _| list(&py(f)?.loaded_mpi),
    },
    FactDef {
        name: "mpi.python_h5py_mpi_libraries",
        scope: Scope::Global,
        label: "h5py's MPI (loaded)",
        doc: "mpio-test --python: the MPI libraries mapped by `import h5py`.",
        read: |f, _| list(&py(f)?.h5py_mpi_libraries),
    },
    FactDef {
        name: "mpi.python_mpi4py_mpi_libraries",
        scope: Scope::Global,
        label: "mpi4py's MPI (loaded)",
        doc: "mpio-test --python: the MPI libraries `from mpi4py import MPI` added, or shared with h5py.",
        read: |f, _| list(&py(f)?.mpi4py_mpi_libraries),
    },
    FactDef {
        name: "mpi.python_always_use_mpi_test",
        scope: Scope::Global,
        label: "test with H5PY_ALWAYS_USE_MPI=1",
        doc: "mpio-test --python with Debian's h5py on its serial build: passed or failed, the whole test run again with H5PY_ALWAYS_USE_MPI=1.",
        read: |f, _| {
            let r = py(f)?.always_use_mpi.as_ref()?;
            Some(json!(if r.passed == Some(true) { "passed" } else { "failed" }))
        },
    },
    FactDef {
        name: "mpi.probe",
        scope: Scope::Global,
        label: "MPI-IO test",
        doc: "How the MPI-IO test ended: ok (ran to its end, passed or not), inconclusive, unavailable or not-run (check does not run it).",
        read: |f, _| Some(json!(f.mpi.status.as_str())),
    },
    FactDef {
        name: "mpi.probe_reason",
        scope: Scope::Global,
        label: "why",
        doc: "Why the MPI-IO test could not run (the MPI probe is missing, a timeout, ...).",
        read: |f, _| mpi(f)?.reason.as_ref().map(|r| json!(r)),
    },
    FactDef {
        name: "mpi.test",
        scope: Scope::Global,
        label: "MPI-IO test result",
        doc: "passed or failed: every rank wrote, read and verified its neighbour's slab, collectively and independently.",
        read: |f, _| {
            mpi(f)?
                .passed
                .map(|p| json!(if p { TestResult::Passed } else { TestResult::Failed }))
        },
    },
    FactDef {
        name: "mpi.error",
        scope: Scope::Global,
        label: "failing step",
        doc: "The first step of the MPI-IO test that failed, with its rank.",
        read: |f, _| mpi(f)?.error.as_ref().map(|e| json!(e)),
    },
    FactDef {
        name: "mpi.error_stack",
        scope: Scope::Global,
        label: "HDF5 error stack",
        doc: "HDF5's whole error stack of the failing step.",
        read: |f, _| mpi(f)?.error_stack.as_ref().filter(|s| !s.trim().is_empty()).map(|e| json!(e)),
    },
    FactDef {
        name: "mpi.hdf5_error",
        scope: Scope::Global,
        label: "HDF5 error",
        doc: "The innermost line of HDF5's error stack of the failing step (MPI_File_open failed: ...).",
        read: |f, _| {
            let stack = mpi(f)?.error_stack.as_ref()?;
            stack.lines().map(str::trim).rfind(|l| l.starts_with('#')).map(|l| json!(l))
        },
    },
    FactDef {
        name: "mpi.init_error",
        scope: Scope::Global,
        label: "MPI_Init error",
        doc: "What the MPI library printed when MPI_Init failed under this launcher.",
        read: |f, _| mpi(f)?.init_error.as_ref().map(|e| json!(e)),
    },
    FactDef {
        name: "mpi.size",
        scope: Scope::Global,
        label: "MPI size",
        doc: "MPI_Comm_size(MPI_COMM_WORLD) in the test.",
        read: |f, _| mpi(f)?.size.map(|s| json!(s)),
    },
    FactDef {
        name: "mpi.launcher",
        scope: Scope::Global,
        label: "launcher",
        doc: "The launcher, named from the variables seen before MPI_Init: `srun --mpi=PLUGIN`, `mpirun (Open MPI)`, `mpiexec.hydra (MPICH)` or none.",
        read: |f, _| mpi(f)?.launcher.as_ref().map(|l| json!(l)),
    },
    FactDef {
        name: "mpi.launcher_size",
        scope: Scope::Global,
        label: "tasks started",
        doc: "How many tasks the launcher started (SLURM_STEP_NUM_TASKS, OMPI_COMM_WORLD_SIZE or PMI_SIZE).",
        read: |f, _| mpi(f)?.launcher_size.map(|s| json!(s)),
    },
    FactDef {
        name: "mpi.launcher_vars",
        scope: Scope::Global,
        label: "launcher variables",
        doc: "The launcher's variables (SLURM_*, PMI_*, PMIX_*, OMPI_COMM_WORLD_*) as rank 0 saw them before MPI_Init.",
        read: |f, _| {
            let v: Vec<String> = mpi(f)?.launcher_env.iter().map(|(k, v)| format!("{k}={v}")).collect();
            (!v.is_empty()).then(|| json!(v))
        },
    },
    FactDef {
        name: "mpi.slurm_mpi_type",
        scope: Scope::Global,
        label: "srun --mpi",
        doc: "SLURM_MPI_TYPE: the PMI plugin srun used (unset means --mpi=none).",
        read: |f, _| mpi(f)?.launcher_env.get("SLURM_MPI_TYPE").map(|v| json!(v)),
    },
    FactDef {
        name: "mpi.library",
        scope: Scope::Global,
        label: "MPI library",
        doc: "MPI_Get_library_version, first line.",
        read: |f, _| mpi(f)?.library.as_ref().map(|l| json!(l)),
    },
    FactDef {
        name: "mpi.family",
        scope: Scope::Global,
        label: "MPI family",
        doc: "openmpi, mpich or unknown.",
        read: |f, _| mpi(f)?.family.as_ref().map(|l| json!(l)),
    },
    FactDef {
        name: "mpi.io_component",
        scope: Scope::Global,
        label: "MPI-IO layer",
        doc: "The MPI-IO implementation that opened the test file: romio or ompio.",
        read: |f, _| mpi(f)?.io_component.as_ref().map(|l| json!(l)),
    },
    FactDef {
        name: "mpi.io_vars",
        scope: Scope::Global,
        label: "MPI-IO settings",
        doc: "OMPI_MCA_io, OMPI_MCA_fcoll, OMPI_MCA_fs, ROMIO_HINTS as set for the run.",
        read: |f, _| {
            let v: Vec<String> = mpi(f)?.io_env.iter().map(|(k, v)| format!("{k}={v}")).collect();
            (!v.is_empty()).then(|| json!(v))
        },
    },
    FactDef {
        name: "mpi.dir",
        scope: Scope::Global,
        label: "directory",
        doc: "The directory the MPI-IO test wrote its file in.",
        read: |f, _| mpi(f)?.dir.as_ref().map(|d| json!(d)),
    },
    FactDef {
        name: "mpi.fs_type",
        scope: Scope::Global,
        label: "file system",
        doc: "The file system of mpi.dir (on rank 0's node).",
        read: |f, _| mpi(f)?.fs_type.as_ref().map(|d| json!(d)),
    },
    FactDef {
        name: "mpi.nodes",
        scope: Scope::Global,
        label: "nodes",
        doc: "The nodes the ranks ran on, as a Slurm hostlist (nid[001-003]).",
        read: |f, _| hostlist_of(f, |_| true),
    },
    FactDef {
        name: "mpi.node_count",
        scope: Scope::Global,
        label: "node count",
        doc: "How many nodes the ranks ran on.",
        read: |f, _| {
            let n = mpi(f)?.nodes.len();
            (n > 0).then(|| json!(n))
        },
    },
    FactDef {
        name: "mpi.ranks_per_node",
        scope: Scope::Global,
        label: "ranks per node",
        doc: "How many ranks ran on each node, grouped by node (nid[001-002]: 2; nid003: 1).",
        read: |f, _| grouped(f, |_| true, |n| n.ranks.len().to_string()),
    },
    FactDef {
        name: "mpi.rank0_node",
        scope: Scope::Global,
        label: "rank 0's node",
        doc: "The node of rank 0, which made the marker file and the test file.",
        read: |f, _| mpi(f)?.nodes.first().map(|n| json!(n.host)),
    },
    FactDef {
        name: "mpi.marker",
        scope: Scope::Global,
        label: "marker file",
        doc: "The file rank 0 made in mpi.dir with a random token before any MPI-IO; every rank looked for it.",
        read: |f, _| mpi(f)?.marker.as_ref().map(|m| json!(m)),
    },
    FactDef {
        name: "mpi.shared_dir",
        scope: Scope::Global,
        label: "directory shared",
        doc: "shared: every rank on every node read rank 0's marker with its token; not-shared: some could not.",
        read: |f, _| {
            let nodes = &mpi(f)?.nodes;
            (!nodes.is_empty()).then(|| json!(if nodes.iter().all(|n| n.sees_marker) { "shared" } else { "not-shared" }))
        },
    },
    FactDef {
        name: "mpi.unshared_nodes",
        scope: Scope::Global,
        label: "nodes that cannot see it",
        doc: "The nodes whose ranks could not read rank 0's marker (with its token), as a Slurm hostlist.",
        read: |f, _| hostlist_of(f, |n| !n.sees_marker),
    },
    FactDef {
        name: "mpi.unshared_fs_types",
        scope: Scope::Global,
        label: "file system there",
        doc: "The file system of mpi.dir on the nodes that cannot see the marker, grouped by node.",
        read: |f, _| {
            grouped(f, |n| !n.sees_marker, |n| n.fs_type.clone().unwrap_or_else(|| "unknown".into()))
        },
    },
    FactDef {
        name: "mpi.marker_error",
        scope: Scope::Global,
        label: "what they see",
        doc: "Why those nodes could not read the marker, grouped by node (No such file or directory, another token).",
        read: |f, _| grouped(f, |n| !n.sees_marker, |n| n.marker_error.clone().unwrap_or_default()),
    },
    FactDef {
        name: "mpi.tmpdir_origin",
        scope: Scope::Global,
        label: "TMPDIR from",
        doc: "Where TMPDIR came from, when mpi.dir is under it (a Slurm TaskProlog, job_container/tmpfs, the job's environment).",
        read: |f, _| mpi(f)?.tmpdir_origin.as_ref().map(|o| json!(o)),
    },
    FactDef {
        name: "mpi.flock_failed_nodes",
        scope: Scope::Global,
        label: "flock fails on",
        doc: "The nodes where flock(2) on a file in mpi.dir failed, with the errno (HDF5's file locking).",
        read: |f, _| grouped(f, |n| failed(n.flock_errno), |n| crate::errno::name(n.flock_errno.unwrap_or(0)).to_string()),
    },
    FactDef {
        name: "mpi.fcntl_failed_nodes",
        scope: Scope::Global,
        label: "fcntl locks fail on",
        doc: "The nodes where an fcntl(2) byte-range lock on a file in mpi.dir failed, with the errno (ROMIO's locks).",
        read: |f, _| grouped(f, |n| failed(n.fcntl_errno), |n| crate::errno::name(n.fcntl_errno.unwrap_or(0)).to_string()),
    },
    FactDef {
        name: "mpi.fcntl_lock_errno",
        scope: Scope::Global,
        label: "fcntl lock errno",
        doc: "fcntl(F_SETLK) write lock on the test file, as ROMIO takes it: 0 works, else the errno.",
        read: |f, _| mpi(f)?.fcntl_lock_errno.map(|e| json!(e)),
    },
    FactDef {
        name: "mpi.fcntl_lock_error",
        scope: Scope::Global,
        label: "fcntl lock error",
        doc: "The symbolic name of mpi.fcntl_lock_errno (OK when it works).",
        read: |f, _| errno_name(f),
    },
    FactDef {
        name: "mpi.hints",
        scope: Scope::Global,
        label: "hints used by the test",
        doc: "MPI-IO hints the test applied to its own file (romio_ds_write=disable when ROMIO cannot lock).",
        read: |f, _| {
            let h = &mpi(f)?.hints;
            (!h.is_empty()).then(|| json!(h))
        },
    },
    FactDef {
        name: "mpi.collective_write_mib_s",
        scope: Scope::Global,
        label: "collective write MiB/s",
        doc: "Collective H5Dwrite + H5Fflush bandwidth (all ranks' bytes over the slowest rank's time).",
        read: |f, _| mib_s(f, "collective", true),
    },
    FactDef {
        name: "mpi.collective_read_mib_s",
        scope: Scope::Global,
        label: "collective read MiB/s",
        doc: "Collective H5Dread bandwidth.",
        read: |f, _| mib_s(f, "collective", false),
    },
    FactDef {
        name: "mpi.independent_write_mib_s",
        scope: Scope::Global,
        label: "independent write MiB/s",
        doc: "Independent H5Dwrite + H5Fflush bandwidth.",
        read: |f, _| mib_s(f, "independent", true),
    },
    FactDef {
        name: "mpi.independent_read_mib_s",
        scope: Scope::Global,
        label: "independent read MiB/s",
        doc: "Independent H5Dread bandwidth.",
        read: |f, _| mib_s(f, "independent", false),
    },
    FactDef {
        name: "mpi.collective_slowdown",
        scope: Scope::Global,
        label: "independent / collective",
        doc: "How many times faster independent I/O was than collective I/O on the same file, the worse of write and read.",
        read: |f, _| slowdown(f),
    },
];
