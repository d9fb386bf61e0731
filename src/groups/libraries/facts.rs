//! Facts of the `libraries` group: the HDF5, MPI and Python libraries a job can see (the inventory),
//! and for each checked binary (`check --binary`) what its shared-library closure holds and lacks, as
//! h5doctor's ELF resolver found it (`crate::elf`).

use crate::elf::libraries::Kind;
use crate::facts::catalog::Item;
use crate::facts::groups::{GroupSpec, ListPosition, Section, Unanswered};
use crate::facts::values::MpiFamily;
use crate::facts::Facts;
use crate::facts::ProbeStatus;
use crate::groups::Group;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The `libraries` group's facts.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
pub struct LibrariesFacts {
    pub status: ProbeStatus,
    pub reason: Option<String>,
    /// Fact `libraries.glibc` (documented once, in the facts catalogue: `h5doctor facts --list`).
    pub glibc: Option<String>,
    /// The dynamic loader as it describes itself on this node (`$PLATFORM`, glibc-hwcaps, legacy hwcap
    /// subdirectories): `h5doctor ldd --facts` resolves with it as this node did.
    #[serde(default)]
    pub loader: Option<crate::elf::search::NodeLoader>,
    /// Every libhdf5*, libmpi*/libmpich*, libpython* visible to a job.
    #[serde(default)]
    pub inventory: Vec<LibraryInfo>,
    /// One entry per `--binary`.
    #[serde(default)]
    pub binaries: Vec<BinaryFacts>,
}

/// One library of the inventory.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
pub struct LibraryInfo {
    /// What it is: `hdf5` (the C library), `hdf5-component` (hl, cpp, fortran, ...), `mpi`, `python`.
    pub kind: crate::elf::libraries::Kind,
    /// The path it is visible at (a soname symlink, usually).
    pub path: String,
    pub real_path: String,
    pub soname: Option<String>,
    /// Where a job sees it: `ld.so.cache`, `LD_LIBRARY_PATH`, `$HDF5_DIR/lib`, `wheel h5py.libs`, ...
    pub visible_via: Vec<String>,
    /// The release from the embedded `HDF5 library version:` string.
    pub hdf5_version: Option<String>,
    /// The release series its soname number belongs to (`.103` = HDF5 1.10.3-1.10.11).
    pub hdf5_series: Option<String>,
    /// `serial`, `openmpi`, `mpich` (Debian's symbol version nodes) or `parallel`.
    pub flavour: Option<crate::elf::libraries::Hdf5Flavour>,
    /// Exports H5Pset_fapl_mpio.
    pub parallel: Option<bool>,
    /// For an MPI library its ABI family; for a libhdf5 the family of the MPI it links.
    pub mpi_family: Option<crate::facts::values::MpiFamily>,
    /// The MPI soname a parallel libhdf5 needs.
    pub mpi_soname: Option<String>,
    pub python_version: Option<String>,
    /// Why the file could not be read, if it could not.
    pub error: Option<String>,
    /// A libhdf5's build settings file (`libhdf5.settings`, or `libhdf5_openmpi.settings` beside it), when found.
    #[serde(default)]
    pub settings_file: Option<String>,
    /// Its `Parallel Filtered Dataset Writes:` line: whether parallel writes of filtered (compressed) datasets work.
    #[serde(default)]
    pub parallel_filtered_writes: Option<bool>,
}

impl LibraryInfo {
    /// One line for evidence: `libhdf5_serial.so.103 HDF5 1.10.8 serial /usr/lib/.../libhdf5_serial.so.103.3.1 (ld.so.cache)`.
    pub fn summary(&self) -> String {
        let name = self
            .soname
            .clone()
            .unwrap_or_else(|| self.path.rsplit('/').next().unwrap_or("").to_string());
        let mut parts = vec![name];
        if let Some(v) = &self.hdf5_version {
            parts.push(format!("HDF5 {v}"));
        }
        if let Some(f) = self.flavour {
            parts.push(f.to_string());
        }
        if self.kind == crate::elf::libraries::Kind::Mpi {
            if let Some(f) = self.mpi_family {
                parts.push(f.to_string());
            }
        }
        if let Some(v) = &self.python_version {
            parts.push(format!("Python {v}"));
        }
        parts.push(self.real_path.clone());
        format!("{} ({})", parts.join(" "), self.visible_via.join(", "))
    }
}

/// A library of a closure that is not found (or cannot be loaded).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
pub struct MissingLib {
    pub name: String,
    pub needed_by: String,
    /// Set when a file was found but cannot be loaded.
    pub error: Option<String>,
    /// Every place looked, in order (`path (source): result`).
    pub searched: Vec<String>,
    /// The HDF5 series of an HDF5 soname.
    pub series: Option<String>,
    /// Files with exactly this name outside the search path (module, wheel and prefix directories).
    pub found_elsewhere: Vec<String>,
    /// The Debian package that ships this soname, on Debian.
    pub package: Option<String>,
}

/// A symbol reference no object of the closure satisfies.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
pub struct UndefinedRef {
    pub symbol: String,
    pub version: Option<String>,
    pub needed_by: String,
}

/// A symbol version an object needs from a library that does not define it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
pub struct MissingVersion {
    pub version: String,
    /// The library (DT_NEEDED name) that should define it, and the file that was loaded for it.
    pub file: String,
    pub file_path: String,
    pub required_by: String,
    /// What that library is (`hdf5`, `hdf5-component`, `mpi`, `python`), when h5doctor knows the kind.
    #[serde(default)]
    pub library_kind: Option<crate::elf::libraries::Kind>,
}

impl MissingVersion {
    /// Whether the library lacking the version is an HDF5 or MPI library (facts from before
    /// `library_kind` was recorded: judged by the name).
    pub fn in_hdf5_or_mpi(&self) -> bool {
        match &self.library_kind {
            Some(k) => matches!(k, Kind::Hdf5 | Kind::Hdf5Component | Kind::Mpi),
            None => ["libhdf5", "libmpi"].iter().any(|p| self.file.starts_with(p)),
        }
    }
}

/// A reason the loader (or the kernel) refuses to start the binary besides a library it cannot find.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
pub struct LoadFailure {
    /// What the loader refuses (the values are documented on the enum).
    pub kind: crate::elf::resolve::LoadErrorKind,
    /// The object the error is on.
    pub object: String,
    /// The file at fault (the interpreter, the library, the unreadable file).
    pub file: String,
    /// What that file is (`hdf5`, `hdf5-component`, `mpi`, `python`), when h5doctor knows the kind.
    pub library_kind: Option<crate::elf::libraries::Kind>,
    /// The version asked for (version-missing).
    pub version: Option<String>,
    /// The mount point (noexec-mount).
    pub mount: Option<String>,
    /// The loader's own words.
    pub loader_says: String,
    /// h5doctor's account of it.
    pub explanation: String,
}

/// An HDF5 or MPI library in a closure.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
pub struct ClosureLib {
    pub path: String,
    pub name: String,
    /// How the resolver found it (`ld.so.cache`, `LD_PRELOAD`, `rpath`, ...). Text: the ELF resolver's `How`
    /// tag, which sits below the facts (`closed_set!` cannot serve it; see src/elf).
    pub how: String,
    pub version: Option<String>,
    /// MPI family, for an MPI library (`unknown` when neither its symbols nor its soname tell).
    pub family: Option<crate::facts::values::MpiFamily>,
}

/// An importer whose HDF5 at run time is not the one it was built against.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
pub struct Hdf5Mismatch {
    pub importer: String,
    pub built_for: String,
    pub built_for_path: String,
    pub runtime: String,
    pub runtime_path: String,
    /// How the two come apart (an LD_PRELOAD interposes, LD_LIBRARY_PATH overrides RUNPATH, ...).
    pub reason: String,
}

/// The shared-library closure of one binary.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
pub struct BinaryFacts {
    pub path: String,
    /// Fact `binary.origin` (documented once, in the facts catalogue: `h5doctor facts --list`).
    pub origin: String,
    /// Fact `binary.interpreter` (documented once, in the facts catalogue: `h5doctor facts --list`).
    #[serde(default)]
    pub interpreter: Option<String>,
    /// Every reason the loader refuses to start it besides a missing library, in load order.
    #[serde(default)]
    pub load_failures: Vec<LoadFailure>,
    /// Fact `binary.error` (documented once, in the facts catalogue: `h5doctor facts --list`).
    pub error: Option<String>,
    /// Fact `binary.objects` (documented once, in the facts catalogue: `h5doctor facts --list`).
    pub objects: usize,
    pub missing: Vec<MissingLib>,
    /// Whether symbols were checked (not when a library is missing: everything it defines would be).
    pub symbols_checked: bool,
    pub undefined: Vec<UndefinedRef>,
    pub missing_versions: Vec<MissingVersion>,
    pub hdf5_libraries: Vec<ClosureLib>,
    pub mpi_libraries: Vec<ClosureLib>,
    /// Fact `binary.glibc_required` (documented once, in the facts catalogue: `h5doctor facts --list`).
    pub glibc_required: Option<String>,
    pub hdf5_mismatch: Vec<Hdf5Mismatch>,
    /// The directories of the closure's files (and of the libraries named in `hdf5_mismatch`) that resolve
    /// elsewhere on the node (a symbolic link on the way): as written -> as the kernel resolves them, read
    /// by the probe. The rules compare a library's directory with a module's through these recorded forms
    /// ([`BinaryFacts::resolved_dir_of`]), so a replay reads no file system.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub resolved_dirs: BTreeMap<String, String>,
}

impl BinaryFacts {
    /// The directory of `path` (a file of the closure) as the node resolved it when probed, else as
    /// written without a trailing `/`.
    pub fn resolved_dir_of<'a>(&'a self, path: &'a str) -> &'a str {
        let dir = path.rsplit_once('/').map_or("", |(d, _)| d);
        self.resolved_dirs
            .get(dir)
            .map_or_else(|| dir.trim_end_matches('/'), String::as_str)
    }
}

/// The libraries group: its report line and the binaries whose closure could not be read.
pub const SPEC: GroupSpec = GroupSpec {
    group: Group::Libraries,
    summary,
    unanswered,
};

/// `HDF5 1.10.8 serial, 1.10.8 openmpi; MPI openmpi; Python 3.11; glibc 2.36; 1 binary checked`.
fn summary(facts: &Facts) -> String {
    let l = &facts.libraries;
    let mut hdf5: Vec<String> = l
        .inventory
        .iter()
        .filter(|i| i.kind == Kind::Hdf5)
        .map(|i| {
            format!(
                "{} {}",
                i.hdf5_version.as_deref().unwrap_or("?"),
                i.flavour.map_or("", |f| f.as_str())
            )
            .trim_end()
            .to_string()
        })
        .collect();
    hdf5.dedup();
    let mut mpi: Vec<String> = l
        .inventory
        .iter()
        .filter(|i| i.kind == Kind::Mpi)
        .filter(|i| i.mpi_family != Some(MpiFamily::Unknown))
        .filter_map(|i| i.mpi_family.map(|f| f.to_string()))
        .collect();
    mpi.sort();
    mpi.dedup();
    let python: Vec<String> = l.inventory.iter().filter_map(|i| i.python_version.clone()).collect();
    let none = |v: &[String]| if v.is_empty() { "none".to_string() } else { v.join(", ") };
    let mut s = format!("HDF5 {}; MPI {}; Python {}", none(&hdf5), none(&mpi), none(&python));
    if let Some(g) = &l.glibc {
        s.push_str(&format!("; glibc {g}"));
    }
    match l.binaries.len() {
        0 => {}
        1 => s.push_str(&format!("; {} ({} objects) checked", l.binaries[0].path, l.binaries[0].objects)),
        n => s.push_str(&format!("; {n} binaries checked")),
    }
    s
}

/// Each `--binary` the ELF resolver could not read.
fn unanswered(facts: &Facts) -> Vec<Unanswered<'_>> {
    facts
        .libraries
        .binaries
        .iter()
        .enumerate()
        .filter_map(|(n, b)| {
            let error = b.error.clone()?;
            Some(Unanswered::new(ListPosition::item(Section::Binaries, n, 0), Item::Binary(b), error))
        })
        .collect()
}
