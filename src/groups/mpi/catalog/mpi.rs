//! Facts named `mpi.*`: parallel HDF5 over MPI-IO under a launcher, as `h5doctor mpio-test` saw it.

use crate::facts::catalog::facts;
use crate::facts::catalog::non_empty;
use crate::facts::mpi::{MpiFacts, MpiNode};
use crate::facts::values::IoComponent;
use crate::facts::values::MpiFamily;
use crate::facts::values::PythonStep;
use crate::facts::values::TestResult;
use crate::facts::values::TransferMode;
use crate::facts::{Facts, ProbeStatus};
use serde_json::{json, Value};

fn mpi(f: &Facts) -> Option<&MpiFacts> {
    (f.mpi.status != ProbeStatus::NotRun).then_some(&f.mpi)
}

/// A bandwidth figure, rounded to 0.1 MiB/s.
fn mib_s(f: &Facts, mode: TransferMode, write: bool) -> Option<Value> {
    let r = mpi(f)?.result(mode)?;
    let v = if write { r.write_mib_s } else { r.read_mib_s };
    (v.is_finite() && v > 0.0).then(|| json!((v * 10.0).round() / 10.0))
}

/// How many times faster independent I/O was than collective I/O, the worse of write and read (1 decimal).
fn slowdown(f: &Facts) -> Option<Value> {
    let m = mpi(f)?;
    let (c, i) = (m.result(TransferMode::Collective)?, m.result(TransferMode::Independent)?);
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

facts! {
    Global(f) {
        "mpi.python" ["Python interpreter"]
            "mpio-test --python: the interpreter the test ran through (mpi4py and h5py's mpio driver)."
            => py(f).map(|p| &p.interpreter);
        "mpi.python_failed_step" ["stopped at"] in PythonStep
            "mpio-test --python: the step that stopped the test before MPI_Init (import numpy, import h5py, import mpi4py, from mpi4py import MPI, h5py.File(driver='mpio'))."
            => py(f)?.failed_step.as_ref();
        "mpi.python_error" ["Python error"]
            "mpio-test --python: the exception of the step that stopped the test, as Python prints its last line."
            => py(f)?.error.as_ref();
        "mpi.python_end" ["interpreter ended"]
            "mpio-test --python: how the interpreter ended when it gave no result (a signal, a timeout, an exit status)."
            => py(f)?.end.as_ref();
        "mpi.python_signal" ["signal"]
            "mpio-test --python: the signal that ended the interpreter, when one did."
            => py(f)?.signal;
        "mpi.python_output" ["last output"]
            "mpio-test --python: the last lines the interpreter wrote on stderr when it gave no result."
            => py(f)?.output_tail.as_ref();
        "mpi.python_loaded_mpi" ["MPI libraries in the process"]
            "mpio-test --python: every MPI library mapped into the interpreter after importing h5py and mpi4py, before MPI_Init."
            => non_empty(py(f)?.loaded_mpi.iter().collect());
        "mpi.python_h5py_mpi_libraries" ["h5py's MPI (loaded)"]
            "mpio-test --python: the MPI libraries mapped by `import h5py`."
            => non_empty(py(f)?.h5py_mpi_libraries.iter().collect());
        "mpi.python_mpi4py_mpi_libraries" ["mpi4py's MPI (loaded)"]
            "mpio-test --python: the MPI libraries `from mpi4py import MPI` added, or shared with h5py."
            => non_empty(py(f)?.mpi4py_mpi_libraries.iter().collect());
        "mpi.python_always_use_mpi_test" ["test with H5PY_ALWAYS_USE_MPI=1"]
            "mpio-test --python with Debian's h5py on its serial build: passed or failed, the whole test run again with H5PY_ALWAYS_USE_MPI=1."
            => {
                let r = py(f)?.always_use_mpi.as_ref()?;
                Some(json!(if r.passed == Some(true) { "passed" } else { "failed" }))
            };
        "mpi.probe" ["MPI-IO test"] in ProbeStatus
            "How the MPI-IO test ended: ok (ran to its end, passed or not), inconclusive, unavailable or not-run (check does not run it)."
            => Some(&f.mpi.status.as_str());
        "mpi.probe_reason" ["why"]
            "Why the MPI-IO test could not run (the MPI probe is missing, a timeout, ...)."
            => mpi(f)?.reason.as_ref();
        "mpi.test" ["MPI-IO test result"] in TestResult
            "passed or failed: every rank wrote, read and verified its neighbour's slab, collectively and independently."
            => mpi(f)?.passed.map(|p| json!(if p { TestResult::Passed } else { TestResult::Failed }));
        "mpi.error" ["failing step"]
            "The first step of the MPI-IO test that failed, with its rank."
            => mpi(f)?.error.as_ref();
        "mpi.error_stack" ["HDF5 error stack"]
            "HDF5's whole error stack of the failing step."
            => mpi(f)?.error_stack.as_ref().filter(|s| !s.trim().is_empty());
        "mpi.hdf5_error" ["HDF5 error"]
            "The innermost line of HDF5's error stack of the failing step (MPI_File_open failed: ...)."
            => {
                let stack = mpi(f)?.error_stack.as_ref()?;
                stack.lines().map(str::trim).rfind(|l| l.starts_with('#')).map(|l| json!(l))
            };
        "mpi.init_error" ["MPI_Init error"]
            "What the MPI library printed when MPI_Init failed under this launcher."
            => mpi(f)?.init_error.as_ref();
        "mpi.size" ["MPI size"]
            "MPI_Comm_size(MPI_COMM_WORLD) in the test."
            => mpi(f)?.size;
        "mpi.launcher" ["launcher"]
            "The launcher, named from the variables seen before MPI_Init: `srun --mpi=PLUGIN`, `mpirun (Open MPI)`, `mpiexec.hydra (MPICH)` or none."
            => mpi(f)?.launcher.as_ref();
        "mpi.launcher_size" ["tasks started"]
            "How many tasks the launcher started (SLURM_STEP_NUM_TASKS, OMPI_COMM_WORLD_SIZE or PMI_SIZE)."
            => mpi(f)?.launcher_size;
        "mpi.launcher_vars" ["launcher variables"]
            "The launcher's variables (SLURM_*, PMI_*, PMIX_*, OMPI_COMM_WORLD_*) as rank 0 saw them before MPI_Init."
            => {
                let v: Vec<String> = mpi(f)?.launcher_env.iter().map(|(k, v)| format!("{k}={v}")).collect();
                (!v.is_empty()).then(|| json!(v))
            };
        "mpi.srun_mpi_plugins" ["srun --mpi plugins"]
            "The MPI plugins this Slurm has (what `srun --mpi=list` names), read under srun from its plugin directory: slurm.conf's PluginDir, else beside the libslurmfull.so that srun loads."
            => mpi(f)?.srun_mpi_plugins.as_ref();
        "mpi.slurm_mpi_type" ["srun --mpi"]
            "SLURM_MPI_TYPE: the PMI plugin srun used (unset means --mpi=none)."
            => mpi(f)?.launcher_env.get("SLURM_MPI_TYPE");
        "mpi.library" ["MPI library"]
            "MPI_Get_library_version, first line."
            => mpi(f)?.library.as_ref();
        "mpi.family" ["MPI family"] in MpiFamily
            "openmpi, mpich, cray-mpich (Cray's libmpi_*.so, known only from the library the probe links) or unknown."
            => mpi(f)?.family.as_ref();
        "mpi.io_component" ["MPI-IO layer"] in IoComponent
            "The MPI-IO implementation that opened the test file: romio or ompio (from the file's hints)."
            => mpi(f)?.io_component.as_ref();
        "mpi.io_vars" ["MPI-IO settings"]
            "OMPI_MCA_io, OMPI_MCA_fcoll, OMPI_MCA_fs, ROMIO_HINTS as set for the run."
            => {
                let v: Vec<String> = mpi(f)?.io_env.iter().map(|(k, v)| format!("{k}={v}")).collect();
                (!v.is_empty()).then(|| json!(v))
            };
        "mpi.dir" ["directory"]
            "The directory the MPI-IO test wrote its file in."
            => mpi(f)?.dir.as_ref();
        "mpi.fs_type" ["file system"]
            "The file system of mpi.dir (on rank 0's node)."
            => mpi(f)?.fs_type.as_ref();
        "mpi.nodes" ["nodes"]
            "The nodes the ranks ran on, as a Slurm hostlist (nid[001-003])."
            => hostlist_of(f, |_| true);
        "mpi.node_count" ["node count"]
            "How many nodes the ranks ran on."
            => {
                let n = mpi(f)?.nodes.len();
                (n > 0).then(|| json!(n))
            };
        "mpi.ranks_per_node" ["ranks per node"]
            "How many ranks ran on each node, grouped by node (nid[001-002]: 2; nid003: 1)."
            => grouped(f, |_| true, |n| n.ranks.len().to_string());
        "mpi.rank0_node" ["rank 0's node"]
            "The node of rank 0, which made the marker file and the test file."
            => mpi(f)?.nodes.first().map(|n| &n.host);
        "mpi.marker" ["marker file"]
            "The file rank 0 made in mpi.dir with a random token before any MPI-IO; every rank looked for it."
            => mpi(f)?.marker.as_ref();
        "mpi.shared_dir" ["directory shared"]
            "shared: every rank on every node read rank 0's marker with its token; not-shared: some could not."
            => {
                let nodes = &mpi(f)?.nodes;
                (!nodes.is_empty()).then(|| json!(if nodes.iter().all(|n| n.sees_marker) { "shared" } else { "not-shared" }))
            };
        "mpi.unshared_nodes" ["nodes that cannot see it"]
            "The nodes whose ranks could not read rank 0's marker (with its token), as a Slurm hostlist."
            => hostlist_of(f, |n| !n.sees_marker);
        "mpi.unshared_fs_types" ["file system there"]
            "The file system of mpi.dir on the nodes that cannot see the marker, grouped by node."
            => grouped(f, |n| !n.sees_marker, |n| n.fs_type.clone().unwrap_or_else(|| "unknown".into()));
        "mpi.marker_error" ["what they see"]
            "Why those nodes could not read the marker, grouped by node (No such file or directory, another token)."
            => grouped(f, |n| !n.sees_marker, |n| n.marker_error.clone().unwrap_or_default());
        "mpi.tmpdir_origin" ["TMPDIR from"]
            "Where TMPDIR came from, when mpi.dir is under it (a Slurm TaskProlog, job_container/tmpfs, the job's environment)."
            => mpi(f)?.tmpdir_origin.as_ref();
        "mpi.flock_failed_nodes" ["flock fails on"]
            "The nodes where flock(2) on a file in mpi.dir failed, with the errno (HDF5's file locking)."
            => grouped(f, |n| failed(n.flock_errno), |n| crate::errno::name(n.flock_errno.unwrap_or(0)).to_string());
        "mpi.fcntl_failed_nodes" ["fcntl locks fail on"]
            "The nodes where an fcntl(2) byte-range lock on a file in mpi.dir failed, with the errno (ROMIO's locks)."
            => grouped(f, |n| failed(n.fcntl_errno), |n| crate::errno::name(n.fcntl_errno.unwrap_or(0)).to_string());
        "mpi.fcntl_lock_errno" ["fcntl lock errno"]
            "fcntl(F_SETLK) write lock on the test file, as ROMIO takes it: 0 works, else the errno."
            => mpi(f)?.fcntl_lock_errno;
        "mpi.fcntl_lock_error" ["fcntl lock error"]
            "The symbolic name of mpi.fcntl_lock_errno (OK when it works)."
            => errno_name(f);
        "mpi.hints" ["hints used by the test"]
            "MPI-IO hints the test applied to its own file (romio_ds_write=disable when ROMIO cannot lock)."
            => {
                let h = &mpi(f)?.hints;
                (!h.is_empty()).then(|| json!(h))
            };
        "mpi.collective_write_mib_s" ["collective write MiB/s"]
            "Collective H5Dwrite + H5Fflush bandwidth (all ranks' bytes over the slowest rank's time)."
            => mib_s(f, TransferMode::Collective, true);
        "mpi.collective_read_mib_s" ["collective read MiB/s"]
            "Collective H5Dread bandwidth."
            => mib_s(f, TransferMode::Collective, false);
        "mpi.independent_write_mib_s" ["independent write MiB/s"]
            "Independent H5Dwrite + H5Fflush bandwidth."
            => mib_s(f, TransferMode::Independent, true);
        "mpi.independent_read_mib_s" ["independent read MiB/s"]
            "Independent H5Dread bandwidth."
            => mib_s(f, TransferMode::Independent, false);
        "mpi.collective_slowdown" ["independent / collective"]
            "How many times faster independent I/O was than collective I/O on the same file, the worse of write and read."
            => slowdown(f);
    }
}
