//! The closed sets of values some facts take, each spelled once as an enum: serde writes the same
//! strings the facts JSON always had, strum gives the list that rule loading checks `equals`, `in`,
//! `not_equals` and `not_in` against (`catalog::domain`), so `equals = "faild"` is an error with file,
//! line and a "did you mean", not a rule that never fires.

use serde::{Deserialize, Serialize};

/// Derives shared by every closed set: serde and strum spell a variant the same way.
macro_rules! closed_set {
    ($(#[$meta:meta])* $vis:vis enum $name:ident { $($(#[$vmeta:meta])* $variant:ident),+ $(,)? }) => {
        #[derive(
            Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize,
            strum::IntoStaticStr, strum::VariantNames, strum::EnumString, strum::EnumIter, strum::Display,
        )]
        #[cfg_attr(test, derive(schemars::JsonSchema))]
        $(#[$meta])*
        $vis enum $name { $($(#[$vmeta])* $variant),+ }

        impl $name {
            /// The spelling in facts and rules.
            pub fn as_str(self) -> &'static str {
                self.into()
            }
        }
    };
}

closed_set! {
    /// What an HDF5 library makes of the HDF5_USE_FILE_LOCKING value it sees (`hdf5.locking_env_effect`):
    /// `unset`; `disables-locking`; `enforces-locking` (a file system without locks is an error);
    /// `best-effort` (locks, but a file system without them is ignored); `not-recognised` (the library
    /// default applies); `not-read-by-this-version` (1.10.0 ignores the variable and always locks);
    /// `no-locking-in-this-version` (before 1.10).
    #[derive(Default)]
    #[serde(rename_all = "kebab-case")]
    #[strum(serialize_all = "kebab-case")]
    pub enum LockingEffect {
        #[default]
        Unset,
        DisablesLocking,
        EnforcesLocking,
        BestEffort,
        NotRecognised,
        NotReadByThisVersion,
        NoLockingInThisVersion,
    }
}

closed_set! {
    /// Where h5doctor learnt of an HDF5 installation (`hdf5.installs`), in the order it looks:
    /// `missing-library-dir` (the directory holding a file named like the library h5doctor-probe cannot
    /// find), `environment-variable` (`$HDF5_DIR`, `$HDF5_ROOT` or `$HDF5_HOME`, as a loaded module sets
    /// them), `ld-library-path` (an LD_LIBRARY_PATH entry holding a libhdf5), `ld-so-cache` (a libhdf5 the
    /// loader's cache lists, with the distribution's layout beside it: Debian's `hdf5/<flavour>`),
    /// `default-prefix` (HDF5's own install prefix, `/usr/local/hdf5`).
    #[serde(rename_all = "kebab-case")]
    #[strum(serialize_all = "kebab-case")]
    pub enum Hdf5InstallFoundBy { MissingLibraryDir, EnvironmentVariable, LdLibraryPath, LdSoCache, DefaultPrefix }
}

impl Hdf5InstallFoundBy {
    /// Named by this job's environment (the HDF5 it was set up for), not only present on the node.
    pub fn from_environment(self) -> bool {
        matches!(self, Self::MissingLibraryDir | Self::EnvironmentVariable | Self::LdLibraryPath)
    }
}

closed_set! {
    /// How one attempt went (H5Fcreate, a re-run, an import): `ok` or `failed`.
    #[serde(rename_all = "kebab-case")]
    #[strum(serialize_all = "kebab-case")]
    pub enum Outcome { Ok, Failed }
}

impl Outcome {
    pub fn of(ok: bool) -> Self {
        if ok {
            Self::Ok
        } else {
            Self::Failed
        }
    }
}

closed_set! {
    /// What a file's bytes are (`file.format`).
    #[serde(rename_all = "kebab-case")]
    #[strum(serialize_all = "kebab-case")]
    pub enum FileFormat {
        /// The HDF5 signature was found.
        Hdf5,
        Empty,
        Netcdf3,
        GitLfsPointer,
        Html,
        DamagedHdf5Signature,
        Zeros,
        Text,
        Unknown,
        /// The file could not be read in time.
        NotRead,
    }
}

impl Default for FileFormat {
    /// What a file is until its bytes have been read.
    fn default() -> Self {
        Self::NotRead
    }
}

closed_set! {
    /// Whether h5py is installed for an interpreter (`python.h5py`).
    #[serde(rename_all = "kebab-case")]
    #[strum(serialize_all = "kebab-case")]
    pub enum Presence { Found, Missing }
}

closed_set! {
    /// The NumPy ABI h5py's extensions were compiled for (`python.h5py_numpy_abi`).
    pub enum NumpyAbi {
        #[serde(rename = "1.x")]
        #[strum(serialize = "1.x")]
        V1,
        #[serde(rename = "2.x")]
        #[strum(serialize = "2.x")]
        V2,
    }
}

closed_set! {
    /// How the MPI-IO test ended (`mpi.test`).
    #[serde(rename_all = "kebab-case")]
    #[strum(serialize_all = "kebab-case")]
    pub enum TestResult { Passed, Failed }
}

closed_set! {
    /// The MPI-IO implementation that opened the test file (`mpi.io_component`).
    #[serde(rename_all = "kebab-case")]
    #[strum(serialize_all = "kebab-case")]
    pub enum IoComponent { Romio, Ompio }
}

closed_set! {
    /// The MPI library family (`mpi.family`): from MPI_Get_library_version when MPI_Init worked, else from
    /// the MPI library the probe links (where Cray's `libmpi_*.so` is `cray-mpich`).
    #[serde(rename_all = "kebab-case")]
    #[strum(serialize_all = "kebab-case")]
    pub enum MpiFamily { Openmpi, Mpich, CrayMpich, Unknown }
}

closed_set! {
    /// How HDF5 is linked (`hdf5.linking`): `shared` (a libhdf5 loaded at run time) or `static` (linked
    /// into the program; for the HDF5 a job will load: only a libhdf5.a was found).
    #[serde(rename_all = "kebab-case")]
    #[strum(serialize_all = "kebab-case")]
    pub enum Linking { Shared, Static }
}

closed_set! {
    /// `serial` or `parallel`, as the names of the per-HDF5 probes say it (`h5doctor-probe-1.14.5-parallel`):
    /// every [`crate::elf::libraries::Hdf5Flavour`] but `serial` is `parallel`.
    #[serde(rename_all = "kebab-case")]
    #[strum(serialize_all = "kebab-case")]
    pub enum ProbeFlavour { Serial, Parallel }
}

impl ProbeFlavour {
    /// The probe flavour of a libhdf5 of flavour `flavour`, or (unread) of a library that is `parallel`.
    pub fn of(flavour: Option<crate::elf::libraries::Hdf5Flavour>, parallel: bool) -> Self {
        if flavour.map_or(parallel, |f| f.is_parallel()) {
            Self::Parallel
        } else {
            Self::Serial
        }
    }
}

closed_set! {
    /// How h5doctor picked the HDF5 probe it ran (`ProbeChoice::by`): `H5DOCTOR_PROBE` (set explicitly),
    /// `module` (named for the loaded HDF5 module's library), `environment` (named for the libhdf5
    /// LD_LIBRARY_PATH resolves) or `default` (the unnamed h5doctor-probe).
    #[derive(Default)]
    pub enum ProbePickedBy {
        #[serde(rename = "H5DOCTOR_PROBE")]
        #[strum(serialize = "H5DOCTOR_PROBE")]
        Explicit,
        #[serde(rename = "module")]
        #[strum(serialize = "module")]
        Module,
        #[serde(rename = "environment")]
        #[strum(serialize = "environment")]
        Environment,
        #[serde(rename = "default")]
        #[strum(serialize = "default")]
        #[default]
        Default,
    }
}

closed_set! {
    /// How the MPI-IO test's collective write of a deflate-filtered dataset went (`mpi.filtered_write`):
    /// `ok`, `failed`, or `not-available` (this HDF5 has no deflate).
    #[serde(rename_all = "kebab-case")]
    #[strum(serialize_all = "kebab-case")]
    pub enum FilteredWrite { Ok, Failed, NotAvailable }
}

closed_set! {
    /// How the MPI-IO test's independent write of that filtered dataset went (`mpi.filtered_independent`):
    /// `ok`, or `refused` (the HDF5 writes filtered data in parallel only collectively).
    #[serde(rename_all = "kebab-case")]
    #[strum(serialize_all = "kebab-case")]
    pub enum IndependentFilteredWrite { Ok, Refused }
}

closed_set! {
    /// Why a `sys.path` entry is on a job's path (`python.polluted_by`): `interpreter` (also on the
    /// interpreter's own, isolated path), `PYTHONPATH`, `user-site`, `cwd` or `added` (a .pth file or
    /// PYTHONHOME, say).
    #[derive(Default)]
    pub enum EntrySource {
        /// Also the value until the probe has placed the entry (it always does before facts are written).
        #[serde(rename = "interpreter")]
        #[strum(serialize = "interpreter")]
        #[default]
        Interpreter,
        #[serde(rename = "PYTHONPATH")]
        #[strum(serialize = "PYTHONPATH")]
        Pythonpath,
        #[serde(rename = "user-site")]
        #[strum(serialize = "user-site")]
        UserSite,
        #[serde(rename = "cwd")]
        #[strum(serialize = "cwd")]
        Cwd,
        #[serde(rename = "added")]
        #[strum(serialize = "added")]
        Added,
    }
}

closed_set! {
    /// How a module's HDF5 capability is known (`ModuleInfo::hdf5_evidence`): `elf` (its libhdf5 was read)
    /// or `name` (the module's name or text).
    #[serde(rename_all = "kebab-case")]
    #[strum(serialize_all = "kebab-case")]
    pub enum Hdf5Evidence { Elf, Name }
}

closed_set! {
    /// The MPI family a module provides or its libhdf5 links (`modules.loaded_mpi_family`): read from the
    /// libmpi in its directories like [`MpiFamily`] (`openmpi`, `mpich`, `cray-mpich`, `unknown`), else
    /// from its name, where `hpcx` and `mpt` (HPE MPT) are kept as named and Intel MPI, MVAPICH and
    /// Cray MPICH count as `mpich`.
    #[serde(rename_all = "kebab-case")]
    #[strum(serialize_all = "kebab-case")]
    pub enum ModuleMpiFamily { Openmpi, Mpich, CrayMpich, Hpcx, Mpt, Unknown }
}

closed_set! {
    /// The MPI family the launcher of this run can start (`python.launcher_mpi_family`): `openmpi` (Open
    /// MPI's mpirun, srun --mpi=pmix), `mpich` (mpiexec.hydra, srun --mpi=pmi2) or `none` (srun
    /// --mpi=none); absent outside a launch.
    #[serde(rename_all = "kebab-case")]
    #[strum(serialize_all = "kebab-case")]
    pub enum LauncherMpiFamily { Openmpi, Mpich, None }
}

closed_set! {
    /// The kind of a lock someone holds on a file (`file.lock_access`), as /proc/locks writes it: READ (a
    /// reader: writers are refused), WRITE (a writer: everyone is refused) or UNLCK (a lease being broken).
    #[serde(rename_all = "UPPERCASE")]
    #[strum(serialize_all = "UPPERCASE")]
    pub enum LockAccess { Read, Write, Unlck }
}

closed_set! {
    /// Where a plugin directory comes from (`plugin_dir.source`): an entry of HDF5_PLUGIN_PATH, or the
    /// library's compiled-in directory (searched only while HDF5_PLUGIN_PATH is unset).
    #[derive(Default)]
    pub enum PluginDirSource {
        #[serde(rename = "HDF5_PLUGIN_PATH")]
        #[strum(serialize = "HDF5_PLUGIN_PATH")]
        #[default]
        Env,
        #[serde(rename = "default")]
        #[strum(serialize = "default")]
        Default,
    }
}

closed_set! {
    /// Which open-files limit is too low (`host.open_files_short`).
    #[serde(rename_all = "kebab-case")]
    #[strum(serialize_all = "kebab-case")]
    pub enum LimitKind { Soft, Hard }
}

closed_set! {
    /// How h5py is installed (`python.h5py_layout`): `wheel` (PyPI, its own HDF5 in h5py.libs), `debian`
    /// (python3-h5py: a shim over _debian_h5py_serial and _debian_h5py_mpi), `conda`, or `source` (built on
    /// site against some HDF5). The probe reads it from the package's files.
    #[derive(Default)]
    #[serde(rename_all = "kebab-case")]
    #[strum(serialize_all = "kebab-case")]
    pub enum H5pyLayout {
        Wheel,
        Debian,
        Conda,
        /// Also the value until the probe has read the package (it always does before facts are written).
        #[default]
        Source,
    }
}

closed_set! {
    /// The kind of Python environment an interpreter runs (`python.kind`): a `venv` (its prefix differs
    /// from its base prefix), a `conda` environment (`conda-meta` in its prefix) or the `system` Python.
    #[serde(rename_all = "kebab-case")]
    #[strum(serialize_all = "kebab-case")]
    pub enum PythonKind { Venv, Conda, System }
}

closed_set! {
    /// The lock types /proc/locks writes (the kernel's `lock_get_status`): FLOCK (what HDF5 takes), POSIX,
    /// OFDLCK (open file description locks), ACCESS, LEASE and DELEG. A line with any other type is skipped.
    #[serde(rename_all = "UPPERCASE")]
    #[strum(serialize_all = "UPPERCASE")]
    pub enum LockType { Flock, Posix, Ofdlck, Access, Lease, Deleg }
}

closed_set! {
    /// Whose quota a record is (`dir.quota_exhausted_kinds`): the user's, the group new files get, or the
    /// directory's project.
    #[serde(rename_all = "kebab-case")]
    #[strum(serialize_all = "kebab-case")]
    pub enum QuotaKind { User, Group, Project }
}

closed_set! {
    /// The language a modulefile is written in (`ModuleInfo::format`): `lua` (Lmod only) or `tcl` (Lmod and
    /// Environment Modules), from the file's name and first line.
    #[derive(Default)]
    #[serde(rename_all = "lowercase")]
    #[strum(serialize_all = "lowercase")]
    pub enum ModuleFormat {
        Lua,
        /// Also the value of a `ModuleInfo` built in code; the probe always sets it from the file.
        #[default]
        Tcl,
    }
}

closed_set! {
    /// What a module can provide (`ModuleInfo::capabilities`), as fix texts, site pins (`[modules]
    /// hdf5-parallel = "..."`) and `h5doctor modules --provides` name it. Ordered by its spelling, so the
    /// site pins (a map keyed by capability) keep the order the facts JSON always had.
    #[serde(rename_all = "kebab-case")]
    #[strum(serialize_all = "kebab-case")]
    pub enum Capability {
        /// An HDF5 without MPI-IO.
        Hdf5Serial,
        /// An HDF5 with MPI-IO (exports H5Pset_fapl_mpio).
        Hdf5Parallel,
        Mpi,
        Python,
        /// h5py, any build.
        H5py,
        /// h5py built with MPI.
        H5pyParallel,
        Mpi4py,
    }
}

impl Capability {
    /// The capability in words, for fix texts (`an HDF5 with MPI-IO (exports H5Pset_fapl_mpio)`).
    pub fn words(self) -> &'static str {
        match self {
            Self::Hdf5Serial => "an HDF5 without MPI-IO",
            Self::Hdf5Parallel => "an HDF5 with MPI-IO (exports H5Pset_fapl_mpio)",
            Self::Mpi => "an MPI library",
            Self::Python => "a Python interpreter",
            Self::H5py => "h5py (any build)",
            Self::H5pyParallel => "h5py built with MPI",
            Self::Mpi4py => "mpi4py (MPI for Python)",
        }
    }

    /// The HDF5 capability of a library that is, or is not, parallel.
    pub fn hdf5(parallel: bool) -> Self {
        if parallel {
            Self::Hdf5Parallel
        } else {
            Self::Hdf5Serial
        }
    }
}

impl PartialOrd for Capability {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Capability {
    /// By spelling (`h5py` < `h5py-parallel` < `hdf5-parallel` < ...), as the text keys it replaces sorted.
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.as_str().cmp(other.as_str())
    }
}

closed_set! {
    /// An h5py open mode the drivers × modes matrix checks (`ModeCheck::mode`), as h5py spells it.
    #[derive(Default)]
    pub enum OpenMode {
        /// Read-only: H5Fopen(RDONLY). Also the value of a `ModeCheck` built in code.
        #[serde(rename = "r")]
        #[strum(serialize = "r")]
        #[default]
        Read,
        /// Read-write: H5Fopen(RDWR).
        #[serde(rename = "r+")]
        #[strum(serialize = "r+")]
        ReadWrite,
        /// Create, truncating: H5Fcreate(TRUNC).
        #[serde(rename = "w")]
        #[strum(serialize = "w")]
        Truncate,
        /// Create, failing if it exists: H5Fcreate(EXCL).
        #[serde(rename = "w-/x")]
        #[strum(serialize = "w-/x")]
        Exclusive,
        /// Read-write if it exists, else create: H5Fopen(RDWR), else H5Fcreate(EXCL).
        #[serde(rename = "a")]
        #[strum(serialize = "a")]
        Append,
    }
}

closed_set! {
    /// What an open-mode check opens (`ModeCheck::case`): a `missing file` or an `existing file`.
    #[derive(Default)]
    pub enum ModeCase {
        #[serde(rename = "missing file")]
        #[strum(serialize = "missing file")]
        #[default]
        MissingFile,
        #[serde(rename = "existing file")]
        #[strum(serialize = "existing file")]
        ExistingFile,
    }
}

closed_set! {
    /// One of Debian's two h5py builds (`python.h5py_build`, `H5pyStatic::debian_builds`): `serial`
    /// (`h5py/_debian_h5py_serial`, python3-h5py-serial) or `mpi` (`h5py/_debian_h5py_mpi`, python3-h5py-mpi).
    #[serde(rename_all = "kebab-case")]
    #[strum(serialize_all = "kebab-case")]
    pub enum DebianH5pyBuild {
        Serial,
        Mpi,
    }
}

closed_set! {
    /// How the MPI library mpi4py will use was chosen (`Mpi4pyStatic::mpi_selected_by`): `linked` (the DT_NEEDED
    /// of its MPI extension, mpi4py < 4.1), else as mpi4py >= 4.1's `_mpiabi` picks one at import: `MPI4PY_MPIABI`
    /// (the ABI named, no library), `MPI4PY_LIBMPI` (an entry of that variable), the `venv lib`, `user base lib`
    /// or `prefix lib` directory, or the dynamic loader's own search (`loader search`).
    pub enum MpiSelectedBy {
        #[serde(rename = "linked")]
        #[strum(serialize = "linked")]
        Linked,
        #[serde(rename = "MPI4PY_MPIABI")]
        #[strum(serialize = "MPI4PY_MPIABI")]
        Mpi4pyMpiabi,
        #[serde(rename = "MPI4PY_LIBMPI")]
        #[strum(serialize = "MPI4PY_LIBMPI")]
        Mpi4pyLibmpi,
        #[serde(rename = "venv lib")]
        #[strum(serialize = "venv lib")]
        VenvLib,
        #[serde(rename = "user base lib")]
        #[strum(serialize = "user base lib")]
        UserBaseLib,
        #[serde(rename = "prefix lib")]
        #[strum(serialize = "prefix lib")]
        PrefixLib,
        #[serde(rename = "loader search")]
        #[strum(serialize = "loader search")]
        LoaderSearch,
    }
}

closed_set! {
    /// Where the list of loaded modules came from (`ModulesFacts::loaded_source`): `_ModuleTable_` (Lmod's own
    /// state), `LOADEDMODULES`, or `LOADEDMODULES+__MODULES_*` (Environment Modules' record of conflicts,
    /// prerequisites, alternative names and tags of each loaded module read as well).
    pub enum LoadedSource {
        #[serde(rename = "_ModuleTable_")]
        #[strum(serialize = "_ModuleTable_")]
        LmodModuleTable,
        #[serde(rename = "LOADEDMODULES")]
        #[strum(serialize = "LOADEDMODULES")]
        LoadedModules,
        #[serde(rename = "LOADEDMODULES+__MODULES_*")]
        #[strum(serialize = "LOADEDMODULES+__MODULES_*")]
        LoadedModulesRecorded,
    }
}

closed_set! {
    /// Why a module is the one `module load NAME` picks (`ModuleInfo::default_by`): a `default link`, a
    /// `.version`, `.modulerc` or `.modulerc.lua` file that marks it, else it is the `highest` version.
    pub enum DefaultBy {
        #[serde(rename = "default link")]
        #[strum(serialize = "default link")]
        DefaultLink,
        #[serde(rename = ".version")]
        #[strum(serialize = ".version")]
        VersionFile,
        #[serde(rename = ".modulerc")]
        #[strum(serialize = ".modulerc")]
        Modulerc,
        #[serde(rename = ".modulerc.lua")]
        #[strum(serialize = ".modulerc.lua")]
        ModulercLua,
        #[serde(rename = "highest")]
        #[strum(serialize = "highest")]
        Highest,
    }
}

closed_set! {
    /// How the MPI-IO test moved its data (`MpioResult::mode`): `collective` or `independent` MPI-IO.
    #[derive(Default)]
    #[serde(rename_all = "kebab-case")]
    #[strum(serialize_all = "kebab-case")]
    pub enum TransferMode {
        /// Also the value of an `MpioResult` built in code.
        #[default]
        Collective,
        Independent,
    }
}

closed_set! {
    /// What an interpreter refused as root is, from its file alone (`NotRunInterpreter::kind`): an `elf`
    /// program, a `script` (a `#!` line) or `other`.
    #[derive(Default)]
    #[serde(rename_all = "kebab-case")]
    #[strum(serialize_all = "kebab-case")]
    pub enum InterpreterFileKind {
        Elf,
        Script,
        /// Also the value until the file has been read.
        #[default]
        Other,
    }
}

closed_set! {
    /// Where a quota record was read (`QuotaFacts::source`): the `quotactl` system call or `lfs quota` (Lustre).
    pub enum QuotaSource {
        #[serde(rename = "quotactl")]
        #[strum(serialize = "quotactl")]
        Quotactl,
        #[serde(rename = "lfs quota")]
        #[strum(serialize = "lfs quota")]
        LfsQuota,
    }
}

closed_set! {
    /// When an HDF5 library reads HDF5_USE_FILE_LOCKING, where the source says (`LockingEnv::read_at`):
    /// `library-initialisation` (a change after the first HDF5 call has no effect) or `every-open`.
    #[serde(rename_all = "kebab-case")]
    #[strum(serialize_all = "kebab-case")]
    pub enum LockingEnvReadAt {
        LibraryInitialisation,
        EveryOpen,
    }
}

closed_set! {
    /// An HDF5 file driver, as HDF5's setter names it (`H5Pset_fapl_sec2` is `sec2`): the drivers the probe
    /// asks the library about (`DriverAvailability::name`, `hdf5.drivers`) and the local-file drivers of the
    /// round trip (`DriverCheck::driver`, `dir.hdf5_drivers_failed`/`_ok`). h5doctor-probe's driver tables
    /// (probe/src/drivers.rs, probe/src/library.rs) are keyed by this enum, so the probe writes these spellings.
    #[derive(Default)]
    #[serde(rename_all = "lowercase")]
    #[strum(serialize_all = "lowercase")]
    pub enum FileDriver {
        /// POSIX read/write: HDF5's default driver (also the value of a `DriverCheck` built in code).
        #[default]
        Sec2,
        Stdio,
        Core,
        Family,
        Split,
        Multi,
        Log,
        Direct,
        Splitter,
        Onion,
        Mpio,
        Ros3,
        Hdfs,
        Mirror,
        Subfiling,
    }
}

closed_set! {
    /// The step of a driver round trip that failed (`DriverCheck::failed_step`), as h5doctor-probe names it
    /// (probe/src/drivers.rs): `fapl`, `create`, `write`, `close`, `reopen`, `read`, `close after read`,
    /// `compare`, or `log file` (the log driver's own file refused before it ran).
    #[serde(rename_all = "kebab-case")]
    #[strum(serialize_all = "kebab-case")]
    pub enum DriverStep {
        Fapl,
        Create,
        Write,
        Close,
        Reopen,
        Read,
        #[serde(rename = "close after read")]
        #[strum(serialize = "close after read")]
        CloseAfterRead,
        Compare,
        #[serde(rename = "log file")]
        #[strum(serialize = "log file")]
        LogFile,
    }
}

closed_set! {
    /// The step that stopped `mpio-test --python` before MPI_Init (`MpioPython::failed_step`,
    /// `mpi.python_failed_step`), as the interpreter-side script names it in its `fail(..)` calls
    /// (src/mpio/scripts/mpio_test.py; a unit test in src/mpio/python.rs reads the script and checks both
    /// lists are the same).
    pub enum PythonStep {
        #[serde(rename = "import numpy")]
        #[strum(serialize = "import numpy")]
        ImportNumpy,
        #[serde(rename = "import h5py")]
        #[strum(serialize = "import h5py")]
        ImportH5py,
        #[serde(rename = "import mpi4py")]
        #[strum(serialize = "import mpi4py")]
        ImportMpi4py,
        #[serde(rename = "from mpi4py import MPI")]
        #[strum(serialize = "from mpi4py import MPI")]
        ImportMpi4pyMpi,
        /// Opening the test file with h5py's mpio driver (a serial h5py stops here).
        #[serde(rename = "h5py.File(driver='mpio')")]
        #[strum(serialize = "h5py.File(driver='mpio')")]
        H5pyFileMpio,
        #[serde(rename = "MPI_Init")]
        #[strum(serialize = "MPI_Init")]
        MpiInit,
    }
}

closed_set! {
    /// Where a Python package's version was read (`PackageLocation::version_from`): its `dist-info`
    /// (METADATA) or `egg-info` (PKG-INFO) metadata (`site_scan::dist_version`), or the package's own
    /// `version.py` or `__init__.py`. Ordered as spelt (`dist-info` < `egg-info`), which is how
    /// `dist_version` breaks a tie between two metadata directories of the same version.
    #[derive(PartialOrd, Ord)]
    pub enum VersionFrom {
        #[serde(rename = "dist-info")]
        #[strum(serialize = "dist-info")]
        DistInfo,
        #[serde(rename = "egg-info")]
        #[strum(serialize = "egg-info")]
        EggInfo,
        #[serde(rename = "version.py")]
        #[strum(serialize = "version.py")]
        VersionPy,
        #[serde(rename = "__init__.py")]
        #[strum(serialize = "__init__.py")]
        InitPy,
    }
}

closed_set! {
    /// Which candidate found a virtual dataset's source file (`VdsSource::found_by`), in the order HDF5 tries
    /// them: the name `as stored` (absolute), an `HDF5_VDS_PREFIX` entry, `the VDS file's directory`, `the
    /// working directory`.
    pub enum VdsFoundBy {
        #[serde(rename = "as stored")]
        #[strum(serialize = "as stored")]
        AsStored,
        #[serde(rename = "HDF5_VDS_PREFIX")]
        #[strum(serialize = "HDF5_VDS_PREFIX")]
        Hdf5VdsPrefix,
        #[serde(rename = "the VDS file's directory")]
        #[strum(serialize = "the VDS file's directory")]
        VdsFileDirectory,
        #[serde(rename = "the working directory")]
        #[strum(serialize = "the working directory")]
        WorkingDirectory,
    }
}

/// The module system of this environment (`modules.system`): `lmod`, `environment-modules`, `unknown`
/// (module variables without a known tool) or `none`. Facts hold `""` ([`ModuleSystem::NotProbed`]) until
/// the modules probe runs; that is no value of the fact, so the domain rules are checked against
/// ([`strum::VariantNames`]) is written out by hand with only the four (strum's derive would list `""`).
#[derive(
    Debug,
    Clone,
    Copy,
    Default,
    PartialEq,
    Eq,
    Serialize,
    Deserialize,
    strum::IntoStaticStr,
    strum::EnumString,
    strum::EnumIter,
    strum::Display,
)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
pub enum ModuleSystem {
    #[serde(rename = "lmod")]
    #[strum(serialize = "lmod")]
    Lmod,
    #[serde(rename = "environment-modules")]
    #[strum(serialize = "environment-modules")]
    EnvironmentModules,
    #[serde(rename = "unknown")]
    #[strum(serialize = "unknown")]
    Unknown,
    #[serde(rename = "none")]
    #[strum(serialize = "none")]
    NoSystem,
    /// Not probed (the modules probe has not run).
    #[default]
    #[serde(rename = "")]
    #[strum(serialize = "")]
    NotProbed,
}

impl strum::VariantNames for ModuleSystem {
    const VARIANTS: &'static [&'static str] = &["lmod", "environment-modules", "unknown", "none"];
}

impl ModuleSystem {
    /// The spelling in facts and rules (`""` when not probed).
    pub fn as_str(self) -> &'static str {
        self.into()
    }

    /// Whether a module system was found: not `none`, and probed.
    pub fn is_present(self) -> bool {
        !matches!(self, Self::NoSystem | Self::NotProbed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use strum::{IntoEnumIterator, VariantNames};

    fn same_spelling<T>()
    where
        T: IntoEnumIterator + Serialize + Into<&'static str> + VariantNames + Copy,
    {
        for (v, name) in T::iter().zip(T::VARIANTS) {
            assert_eq!(serde_json::to_value(v).unwrap(), serde_json::json!(name));
            assert_eq!(v.into(), *name);
        }
    }

    #[test]
    fn serde_and_strum_spell_every_value_alike() {
        same_spelling::<Outcome>();
        same_spelling::<FileFormat>();
        same_spelling::<Presence>();
        same_spelling::<NumpyAbi>();
        same_spelling::<TestResult>();
        same_spelling::<IoComponent>();
        same_spelling::<MpiFamily>();
        same_spelling::<ModuleMpiFamily>();
        // ModuleSystem lists its domain by hand: every variant but NotProbed ("") in order.
        same_spelling::<ModuleSystem>();
        assert_eq!(ModuleSystem::VARIANTS.len(), 4);
        assert_eq!(serde_json::to_value(ModuleSystem::NotProbed).unwrap(), serde_json::json!(""));
        assert_eq!(serde_json::from_str::<ModuleSystem>("\"\"").unwrap(), ModuleSystem::NotProbed);
        same_spelling::<LockAccess>();
        same_spelling::<PluginDirSource>();
        same_spelling::<H5pyLayout>();
        same_spelling::<PythonKind>();
        same_spelling::<LockType>();
        same_spelling::<QuotaKind>();
        same_spelling::<LimitKind>();
        same_spelling::<LauncherMpiFamily>();
        // A module's libmpi is named by the ELF reader like any other: every MpiFamily is a module family.
        for f in MpiFamily::iter() {
            assert_eq!(f.as_str().parse::<ModuleMpiFamily>().map(ModuleMpiFamily::as_str), Ok(f.as_str()));
        }
        assert_eq!(FileFormat::VARIANTS[3], "git-lfs-pointer");
        assert_eq!(FileFormat::NotRead.as_str(), "not-read");
        same_spelling::<Linking>();
        same_spelling::<ProbeFlavour>();
        same_spelling::<ProbePickedBy>();
        same_spelling::<FilteredWrite>();
        same_spelling::<IndependentFilteredWrite>();
        same_spelling::<EntrySource>();
        same_spelling::<Hdf5Evidence>();
        same_spelling::<ModuleFormat>();
        same_spelling::<Capability>();
        same_spelling::<OpenMode>();
        same_spelling::<ModeCase>();
        same_spelling::<DebianH5pyBuild>();
        same_spelling::<Hdf5InstallFoundBy>();
        same_spelling::<MpiSelectedBy>();
        same_spelling::<LoadedSource>();
        same_spelling::<DefaultBy>();
        same_spelling::<TransferMode>();
        same_spelling::<InterpreterFileKind>();
        same_spelling::<QuotaSource>();
        same_spelling::<LockingEnvReadAt>();
    }

    /// The round-5 sets keep the spellings facts files have always held, and refuse any other value
    /// (a facts file with one fails to load, at its line and column, instead of replaying as something else).
    #[test]
    fn the_hdf5_link_probe_and_filtered_write_sets_are_spelled_as_before_and_closed() {
        assert_eq!(Linking::VARIANTS, ["shared", "static"]);
        assert_eq!(ProbeFlavour::VARIANTS, ["serial", "parallel"]);
        assert_eq!(ProbePickedBy::VARIANTS, ["H5DOCTOR_PROBE", "module", "environment", "default"]);
        assert_eq!(FilteredWrite::VARIANTS, ["ok", "failed", "not-available"]);
        assert_eq!(IndependentFilteredWrite::VARIANTS, ["ok", "refused"]);
        assert_eq!(EntrySource::VARIANTS, ["interpreter", "PYTHONPATH", "user-site", "cwd", "added"]);
        let err = serde_json::from_str::<Linking>("\n  \"dynamic\"").unwrap_err();
        assert_eq!((err.line(), err.column()), (2, 11), "{err}");
        assert!(
            err.to_string().contains("unknown variant `dynamic`, expected `shared` or `static`"),
            "{err}"
        );
        assert!("not_available".parse::<FilteredWrite>().is_err());
        use crate::elf::libraries::Hdf5Flavour;
        for (flavour, parallel, probe) in [
            (Some(Hdf5Flavour::Serial), true, ProbeFlavour::Serial),
            (Some(Hdf5Flavour::Openmpi), false, ProbeFlavour::Parallel),
            (Some(Hdf5Flavour::Mpich), false, ProbeFlavour::Parallel),
            (Some(Hdf5Flavour::Parallel), false, ProbeFlavour::Parallel),
            (None, true, ProbeFlavour::Parallel),
            (None, false, ProbeFlavour::Serial),
        ] {
            assert_eq!(ProbeFlavour::of(flavour, parallel), probe, "{flavour:?} {parallel}");
        }
    }

    /// The round-7 sets keep the spellings facts files, the modules JSON and site pins have always held.
    #[test]
    fn the_module_and_open_mode_sets_are_spelled_as_before() {
        assert_eq!(ModuleFormat::VARIANTS, ["lua", "tcl"]);
        assert_eq!(
            Capability::VARIANTS,
            ["hdf5-serial", "hdf5-parallel", "mpi", "python", "h5py", "h5py-parallel", "mpi4py"]
        );
        assert_eq!(OpenMode::VARIANTS, ["r", "r+", "w", "w-/x", "a"]);
        assert_eq!(ModeCase::VARIANTS, ["missing file", "existing file"]);
        // Capabilities sort as their spellings did when they were text (the site pins' map order).
        let mut caps: Vec<Capability> = Capability::iter().collect();
        caps.sort();
        let mut names: Vec<&str> = Capability::VARIANTS.to_vec();
        names.sort();
        assert_eq!(caps.iter().map(|c| c.as_str()).collect::<Vec<_>>(), names);
        assert!("hdf5_parallel".parse::<Capability>().is_err());
        // The audit's sets, as the probes wrote them when they were text.
        assert_eq!(DebianH5pyBuild::VARIANTS, ["serial", "mpi"]);
        assert_eq!(
            MpiSelectedBy::VARIANTS,
            [
                "linked",
                "MPI4PY_MPIABI",
                "MPI4PY_LIBMPI",
                "venv lib",
                "user base lib",
                "prefix lib",
                "loader search"
            ]
        );
        assert_eq!(
            LoadedSource::VARIANTS,
            ["_ModuleTable_", "LOADEDMODULES", "LOADEDMODULES+__MODULES_*"]
        );
        assert_eq!(
            DefaultBy::VARIANTS,
            ["default link", ".version", ".modulerc", ".modulerc.lua", "highest"]
        );
        assert_eq!(TransferMode::VARIANTS, ["collective", "independent"]);
        assert_eq!(InterpreterFileKind::VARIANTS, ["elf", "script", "other"]);
        assert_eq!(QuotaSource::VARIANTS, ["quotactl", "lfs quota"]);
        assert_eq!(LockingEnvReadAt::VARIANTS, ["library-initialisation", "every-open"]);
    }
}
