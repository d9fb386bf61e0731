//! Facts of the `modules` group: the module system of the node (Lmod, Environment Modules), which
//! modules are loaded, and the module index (every modulefile on MODULEPATH, read statically) with the
//! capabilities each module provides (a serial or parallel HDF5, an MPI family, a Python, h5py).
//!
//! `site_pins` are not probed: they come from the site rules dirs (`[modules]` tables) and are put in
//! by the judge (`rules::evaluate::diagnose`), so `check --facts` applies the pins in force at judging.

pub mod resolve;

use crate::facts::catalog::Item;
use crate::facts::groups::{GroupSpec, ListPosition, Section, Unanswered};
use crate::facts::values::{Capability, DefaultBy, LoadedSource, ModuleFormat, ModuleMpiFamily, ModuleSystem, NumpyAbi};
use crate::facts::Facts;
use crate::facts::ProbeStatus;
use crate::groups::Group;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The `modules` group's facts.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
pub struct ModulesFacts {
    pub status: ProbeStatus,
    pub reason: Option<String>,
    /// Fact `modules.system` (documented once, in the facts catalogue: `h5doctor facts --list`).
    #[serde(default)]
    pub system: ModuleSystem,
    /// LMOD_VERSION, when Lmod is in use.
    pub lmod_version: Option<String>,
    /// Fact `modules.modulepath` (documented once, in the facts catalogue: `h5doctor facts --list`).
    #[serde(default)]
    pub modulepath: Vec<String>,
    /// Where the list of loaded modules came from: `_ModuleTable_` (Lmod's own state), `LOADEDMODULES`,
    /// or `LOADEDMODULES+__MODULES_*` (Environment Modules' record of conflicts, prerequisites, alternative
    /// names and tags of each loaded module read as well).
    pub loaded_source: Option<LoadedSource>,
    /// Fact `modules.loaded`, by full name (documented once, in the facts catalogue: `h5doctor facts --list`).
    #[serde(default)]
    pub loaded: Vec<LoadedModule>,
    /// Fact `modules.families` (documented once, in the facts catalogue: `h5doctor facts --list`): family -> module.
    #[serde(default)]
    pub families: BTreeMap<String, String>,
    #[serde(default)]
    pub index: ModuleIndex,
    /// capability -> module name pinned by the site (rules dirs), applied when judging.
    #[serde(default)]
    pub site_pins: BTreeMap<Capability, String>,
}

/// One loaded module.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
pub struct LoadedModule {
    /// `hdf5-parallel/1.10.8`.
    pub full_name: String,
    /// `hdf5-parallel`.
    pub name: String,
    pub version: Option<String>,
    /// The modulefile (`_LMFILES_` or the `fn` of `_ModuleTable_`).
    pub file: Option<String>,
    /// What the modulefile says about it (read statically); `None` when the file could not be read.
    pub info: Option<ModuleInfo>,
    /// What Environment Modules (4.x/5.x) recorded when it loaded the module (`__MODULES_LMCONFLICT`,
    /// `MODULES_LMCONFLICT` in 4.x): the names it conflicts with, its family included. Authoritative
    /// even when the modulefile changed or is gone since; empty under Lmod.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub conflicts: Vec<String>,
    /// The prerequisites recorded at load (`__MODULES_LMPREREQ`); alternatives as `a|b`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub prereqs: Vec<String>,
    /// Other names it answers to (`__MODULES_LMALTNAME`): symbolic versions (`hdf5/default`) and aliases
    /// (a family name such as `mpi`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub alt_names: Vec<String>,
    /// Tags (`__MODULES_LMTAG`): `auto-loaded` (loaded as another module's dependency), `sticky`, ...
    /// Under Lmod `auto-loaded` is recorded for a module its `_ModuleTable_` gives a `stackDepth` above 0
    /// (loaded by another module's `depends_on`/`load`, not by the user).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<String>,
}

/// The module index: every modulefile found on MODULEPATH.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
pub struct ModuleIndex {
    /// The trees scanned (existing MODULEPATH directories).
    #[serde(default)]
    pub trees: Vec<String>,
    #[serde(default)]
    pub modules: Vec<ModuleInfo>,
    /// Files looked at (modulefiles and others).
    pub files_seen: usize,
    pub elapsed_ms: u64,
    /// The scan stopped at its file or time limit: the index is incomplete.
    pub truncated: Option<String>,
    /// What could not be indexed, each as `file:line: reason` (or `dir: reason`): unreadable files,
    /// MODULEPATH entries that do not exist, hierarchy levels that lead back to themselves. The rest is
    /// indexed all the same.
    #[serde(default)]
    pub problems: Vec<String>,
}

/// The HDF5 library a module's lib directory holds, read with h5doctor's ELF reader.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
pub struct ModuleHdf5 {
    pub path: String,
    pub soname: Option<String>,
    pub version: Option<String>,
    pub parallel: bool,
    /// `serial`, `openmpi`, `mpich`, `parallel`.
    pub flavour: Option<crate::elf::libraries::Hdf5Flavour>,
    /// The family of the MPI library it links.
    pub mpi_family: Option<ModuleMpiFamily>,
}

/// What one modulefile provides, read statically (never run).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
pub struct ModuleInfo {
    pub full_name: String,
    pub name: String,
    pub version: Option<String>,
    pub file: String,
    /// The language of the modulefile: `lua` or `tcl`.
    pub format: ModuleFormat,
    #[serde(default)]
    pub whatis: Vec<String>,
    pub help: Option<String>,
    pub family: Option<String>,
    #[serde(default)]
    pub conflicts: Vec<String>,
    /// prereq / depends_on / load of other modules.
    #[serde(default)]
    pub requires: Vec<String>,
    /// Path variables it changes: LD_LIBRARY_PATH, PATH, PYTHONPATH, CRAY_LD_LIBRARY_PATH -> dirs.
    #[serde(default)]
    pub paths: BTreeMap<String, Vec<String>>,
    /// Variables it sets that matter here (HDF5_DIR, HDF5_ROOT, MPI_HOME, ...).
    #[serde(default)]
    pub setenv: BTreeMap<String, String>,
    /// Some value depends on the environment (os.getenv, $env, is-loaded, mode): read with it unset.
    #[serde(default)]
    pub conditional: bool,
    /// The libhdf5 found in the directories it adds, if any.
    pub hdf5: Option<ModuleHdf5>,
    /// The MPI family it provides (`openmpi`, `mpich`, `cray-mpich`, ...; see [`ModuleMpiFamily`]).
    pub mpi_family: Option<ModuleMpiFamily>,
    /// What it provides (an HDF5's is known from its library or its name: `hdf5_evidence`).
    #[serde(default)]
    pub capabilities: Vec<Capability>,
    /// How the HDF5 capability is known: `elf` (the library was read) or `name` (the module's name/text).
    pub hdf5_evidence: Option<crate::facts::values::Hdf5Evidence>,
    /// The version `module load NAME` picks: marked default (`.version`, `.modulerc`, `.modulerc.lua`, a
    /// `default` link), else the highest version of that name in its tree.
    #[serde(default)]
    pub default: bool,
    /// Why it is the default: `default link`, `.version`, `.modulerc`, `.modulerc.lua` or `highest`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default_by: Option<DefaultBy>,
    /// Hierarchy: the modules to load first, in order, to make it visible (`gcc/12`, `openmpi/4.1`), the
    /// way `module spider NAME/VERSION` explains it; empty when it is visible now.
    #[serde(default)]
    pub via: Vec<String>,
    /// Directories it adds to MODULEPATH (a hierarchy level below it).
    #[serde(default)]
    pub modulepath: Vec<String>,
    /// File names of the shared libraries (`lib*.so*`) in the library directories it adds.
    #[serde(default)]
    pub libraries: Vec<String>,
    /// The directories it adds (library directories, PYTHONPATH entries) that resolve elsewhere on this
    /// node (a symbolic link on the way, a trailing `/`): as written -> as the kernel resolves them, read by
    /// the probe. Directories that resolve to themselves or do not exist are left out. The rules compare
    /// these recorded forms ([`ModuleInfo::resolved_dir`]), so a replayed facts file compares directories
    /// as the node did, without reading the file system it is replayed on.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub resolved_dirs: BTreeMap<String, String>,
    /// For the libraries whose symbol versions a binary of this run lacks (lib-version-missing), and only
    /// for those: soname -> the version definitions of this module's copy, read by the ELF reader. Not
    /// read for the rest of the index (it costs nothing there).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub library_versions: BTreeMap<String, LibraryVersions>,
    /// Environment variables its computed values read (`os.getenv`, `$env(X)`), from the environment
    /// h5doctor ran in.
    #[serde(default)]
    pub reads_env: Vec<String>,
    /// Python packages that matter here (`numpy`, `h5py`) found in the PYTHONPATH directories it adds,
    /// as name -> version, read from their `NAME-VERSION.dist-info` / `.egg-info` directory names.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub python_packages: BTreeMap<String, String>,
    /// For the h5py found on its PYTHONPATH: the NumPy its extension modules were built for, read from
    /// their strings (never imported).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub h5py_numpy: Option<H5pyNumpyBuild>,
    /// For the mpi4py found on its PYTHONPATH: the Python and the MPI its `MPI` extension was built for,
    /// read from the extension's file name and the libraries it links (never imported).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mpi4py: Option<ExtensionBuild>,
    /// For the h5py found on its PYTHONPATH: the Python and the MPI its extension modules were built for,
    /// read from their file names (`*.cpython-3XY-*.so`, else the `python3.X` of the directory) and the
    /// libraries they link (never imported). Debian's MPI build (`h5py/_debian_h5py_mpi`) is read first.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub h5py_build: Option<ExtensionBuild>,
}

/// The Python and MPI a package's extension modules were built for (mpi4py's `MPI` extension, h5py's
/// extension modules), read from their file names and the libraries they link (never imported).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
pub struct ExtensionBuild {
    /// The Python release series of its `*.cpython-3XY-*.so` extensions (`3.11`), else (h5py) of the
    /// `lib/python3.X/site-packages` directory that holds it; none for an `abi3` mpi4py build.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub python: Option<String>,
    /// The MPI library its extensions link (`libmpi.so.40`); none for a serial h5py, and for mpi4py >= 4.1,
    /// which picks one at import.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mpi_library: Option<String>,
    /// The MPI family of that library (h5py: else of the parallel libhdf5 they link,
    /// `libhdf5_openmpi.so.103`); none for mpi4py >= 4.1 wheels (one extension per ABI).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mpi_family: Option<ModuleMpiFamily>,
}

/// The symbol versions a module's copy of a library defines.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
pub struct LibraryVersions {
    /// The copy read: the first of the module's library directories that holds the soname.
    pub path: String,
    /// The version nodes its version table defines (`.gnu.version_d`, the base entry left out); none when
    /// it has no version table, which the loader accepts for any version asked of it.
    pub defines: Option<Vec<String>>,
}

impl LibraryVersions {
    /// Whether the loader accepts this copy for every one of `versions` (ld.so's `match_symbol`).
    pub fn defines_all<'a>(&self, mut versions: impl Iterator<Item = &'a str>) -> bool {
        match &self.defines {
            Some(defs) => versions.all(|v| defs.iter().any(|d| d == v)),
            None => true,
        }
    }
}

/// The NumPy an h5py build was made for, read from its extension modules' strings.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
pub struct H5pyNumpyBuild {
    /// `1.x` (NumPy-1 headers: runs on NumPy 1.x only) or `2.x` (NumPy-2 headers: runs on NumPy 2 and on
    /// NumPy 1.x down to `oldest`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub abi: Option<NumpyAbi>,
    /// The NumPy release it was built against.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub built: Option<String>,
    /// The oldest NumPy it runs on, from its C-API check message (builds with NumPy >= 1.25 headers).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub oldest: Option<String>,
}

impl ModuleInfo {
    /// The directories it adds that hold libraries (LD_LIBRARY_PATH, CRAY_LD_LIBRARY_PATH, LIBRARY_PATH).
    pub fn library_dirs(&self) -> impl Iterator<Item = &String> {
        ["LD_LIBRARY_PATH", "CRAY_LD_LIBRARY_PATH", "LIBRARY_PATH"]
            .into_iter()
            .flat_map(|v| self.paths.get(v).into_iter().flatten())
    }

    /// A directory it adds as the node resolved it when probed ([`ModuleInfo::resolved_dirs`]), else as
    /// written without a trailing `/`.
    pub fn resolved_dir<'a>(&'a self, dir: &'a str) -> &'a str {
        self.resolved_dirs
            .get(dir)
            .map_or_else(|| dir.trim_end_matches('/'), String::as_str)
    }

    pub fn provides(&self, cap: Capability) -> bool {
        self.capabilities.contains(&cap)
    }

    /// Provides an HDF5, serial or parallel.
    pub fn provides_hdf5(&self) -> bool {
        self.provides(Capability::Hdf5Serial) || self.provides(Capability::Hdf5Parallel)
    }
}

impl ModulesFacts {
    /// The loaded modules that provide a capability.
    pub fn loaded_with(&self, cap: Capability) -> Vec<&LoadedModule> {
        self.loaded
            .iter()
            .filter(|m| m.info.as_ref().is_some_and(|i| i.provides(cap)))
            .collect()
    }

    /// The loaded modules that provide an HDF5 (serial or parallel), in load order.
    pub fn loaded_hdf5(&self) -> Vec<&LoadedModule> {
        self.loaded
            .iter()
            .filter(|m| m.info.as_ref().is_some_and(ModuleInfo::provides_hdf5))
            .collect()
    }

    /// The MPI family of the loaded MPI module, if one is loaded.
    pub fn loaded_mpi_family(&self) -> Option<ModuleMpiFamily> {
        self.loaded.iter().filter_map(|m| m.info.as_ref()?.mpi_family).next()
    }

    /// The module of this site that provides a capability: the site's pin, else the best module of the
    /// index (one matching the loaded MPI family and HDF5 version, then the default, then one visible
    /// without loading others first, then the highest version).
    pub fn provider(&self, cap: Capability) -> Option<String> {
        if let Some(pinned) = self.site_pins.get(&cap) {
            return Some(pinned.clone());
        }
        let mpi = self.loaded_mpi_family();
        let hdf5_version = self
            .loaded
            .iter()
            .filter_map(|m| m.info.as_ref()?.hdf5.as_ref()?.version.clone())
            .next()
            .or_else(|| self.loaded_hdf5().first().and_then(|m| m.version.clone()));
        let mut candidates: Vec<&ModuleInfo> = self.index.modules.iter().filter(|m| m.provides(cap)).collect();
        if candidates.is_empty() {
            // A loaded module may come from a tree no longer on MODULEPATH.
            candidates = self
                .loaded
                .iter()
                .filter_map(|m| m.info.as_ref())
                .filter(|i| i.provides(cap))
                .collect();
        }
        let score = |m: &ModuleInfo| {
            let mpi_match = match (&mpi, m.hdf5.as_ref().and_then(|h| h.mpi_family).or(m.mpi_family)) {
                (Some(a), Some(b)) => a == &b,
                _ => false,
            };
            let version_match = match (
                &hdf5_version,
                m.hdf5.as_ref().and_then(|h| h.version.clone()).or_else(|| m.version.clone()),
            ) {
                (Some(a), Some(b)) => a == &b,
                _ => false,
            };
            (
                mpi_match,
                version_match,
                m.default,
                m.via.is_empty(),
                version_key(m.version.as_deref().unwrap_or("")),
            )
        };
        candidates
            .into_iter()
            .max_by(|a, b| score(a).cmp(&score(b)))
            .map(|m| m.full_name.clone())
    }
}

/// A sort key for versions: numeric parts compare as numbers (`1.10.8` > `1.9.2`).
pub fn version_key(v: &str) -> Vec<(u64, String)> {
    version_parts(v).map(|(n, rest)| (n, rest.to_string())).collect()
}

/// The order of [`version_key`], without building the keys (a big index compares thousands).
pub fn version_cmp(a: &str, b: &str) -> std::cmp::Ordering {
    version_parts(a).cmp(version_parts(b))
}

/// The parts of a version as [`version_key`] orders them: the leading number of each `.`/`-`/`_`
/// separated part (0 when there is none or it is too big) and the text after it.
fn version_parts(v: &str) -> impl Iterator<Item = (u64, &str)> {
    v.split(['.', '-', '_']).map(|p| {
        let digits = p.bytes().take_while(u8::is_ascii_digit).count();
        (p[..digits].parse().unwrap_or(0), &p[digits..])
    })
}

/// The modules group: its report line and its unanswered module probe.
pub const SPEC: GroupSpec = GroupSpec {
    group: Group::Modules,
    summary,
    unanswered,
};

/// `loaded: openmpi/4.1.4, hdf5-parallel/1.10.8; index: 5 modules in 1 tree`.
fn summary(facts: &Facts) -> String {
    let m = &facts.modules;
    match m.system {
        ModuleSystem::NotProbed => return "not probed".into(),
        ModuleSystem::NoSystem => return "no module system in this environment (no Lmod or Environment Modules variables)".into(),
        _ => {}
    }
    let loaded = if m.loaded.is_empty() {
        "none".to_string()
    } else {
        m.loaded.iter().map(|l| l.full_name.as_str()).collect::<Vec<_>>().join(", ")
    };
    let trees = m.index.trees.len();
    let mut s = format!(
        "{}{}: loaded: {loaded}; index: {} module{} in {trees} tree{}",
        m.system,
        m.lmod_version.as_ref().map_or(String::new(), |v| format!(" {v}")),
        m.index.modules.len(),
        if m.index.modules.len() == 1 { "" } else { "s" },
        if trees == 1 { "" } else { "s" },
    );
    if let Some(why) = &m.index.truncated {
        s.push_str(&format!(" (incomplete: {why})"));
    }
    s
}

/// The module system or its index could not be read in time.
fn unanswered(facts: &Facts) -> Vec<Unanswered<'_>> {
    if facts.modules.status != ProbeStatus::Inconclusive {
        return Vec::new();
    }
    let reason = facts.modules.reason.clone().unwrap_or_else(|| "no reason recorded".into());
    vec![Unanswered::new(
        ListPosition::node(Section::Own(Group::Modules)),
        Item::Node,
        reason,
    )]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn module(full: &str, caps: &[Capability], hdf5_mpi: Option<&str>, mpi: Option<&str>) -> ModuleInfo {
        let (name, version) = full.split_once('/').unwrap();
        ModuleInfo {
            full_name: full.into(),
            name: name.into(),
            version: Some(version.into()),
            capabilities: caps.to_vec(),
            hdf5: hdf5_mpi.map(|m| ModuleHdf5 {
                parallel: true,
                mpi_family: Some(m.parse().unwrap()),
                version: Some(version.split('-').next().unwrap().into()),
                ..ModuleHdf5::default()
            }),
            mpi_family: mpi.map(|m| m.parse().unwrap()),
            ..ModuleInfo::default()
        }
    }

    #[test]
    fn the_provider_matches_the_loaded_mpi_then_prefers_the_newest_and_a_pin_wins() {
        let mpich = module("mpich/4.0", &[Capability::Mpi], None, Some("mpich"));
        let mut f = ModulesFacts {
            loaded: vec![LoadedModule {
                full_name: "mpich/4.0".into(),
                name: "mpich".into(),
                version: Some("4.0".into()),
                file: None,
                info: Some(mpich.clone()),
                ..LoadedModule::default()
            }],
            ..ModulesFacts::default()
        };
        f.index.modules = vec![
            mpich,
            module("phdf5/1.14.3-openmpi", &[Capability::Hdf5Parallel], Some("openmpi"), None),
            module("phdf5/1.10.8-mpich", &[Capability::Hdf5Parallel], Some("mpich"), None),
            module("phdf5/1.12.2-mpich", &[Capability::Hdf5Parallel], Some("mpich"), None),
        ];
        assert_eq!(f.provider(Capability::Hdf5Parallel).as_deref(), Some("phdf5/1.12.2-mpich"));
        assert_eq!(f.provider(Capability::H5pyParallel), None);
        f.site_pins.insert(Capability::Hdf5Parallel, "hdf5/site".into());
        assert_eq!(f.provider(Capability::Hdf5Parallel).as_deref(), Some("hdf5/site"));
        assert!(version_key("1.10.8") > version_key("1.9.12"));
    }
}
