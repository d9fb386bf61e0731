//! The `modules` probe: which environment modules are loaded (Lmod's `_ModuleTable_`, else
//! LOADEDMODULES/_LMFILES_), the Lmod families, MODULEPATH, and the module index: every Lua (`.lua`) and
//! Tcl (`#%Module`) modulefile on MODULEPATH, read statically (never evaluated by a shell), with the
//! capabilities each provides (serial/parallel HDF5 read from the libhdf5 in the directories it adds, an
//! MPI family, Python, h5py). The scan is bounded in files and time; past a bound the index is marked
//! truncated and the group is inconclusive.

pub mod lua;
pub mod tcl;
pub mod verify;

use crate::elf::libraries::{self as kinds, Kind};
use crate::elf::FileCache;
use crate::facts::libraries::LibrariesFacts;
use crate::facts::modules::{ExtensionBuild, LibraryVersions, LoadedModule, ModuleHdf5, ModuleIndex, ModuleInfo, ModulesFacts};
use crate::facts::values::{Capability, DefaultBy, Hdf5Evidence, LoadedSource, ModuleFormat, ModuleMpiFamily, ModuleSystem};
use crate::facts::ProbeStatus;
use crate::groups::python::probe::h5py_static::KEY_MODULES;
use crate::groups::python::probe::markers;
use std::collections::{BTreeMap, HashMap};
use std::os::fd::AsFd;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// Largest modulefile read (bytes); bigger files are skipped.
const MAX_FILE_BYTES: u64 = 256 * 1024;
/// Deepest directory level below a MODULEPATH entry.
const MAX_DEPTH: usize = 6;
/// Default bound of files looked at (`H5DOCTOR_MODULES_MAX_FILES` changes it).
const MAX_FILES: usize = 50_000;
/// Longest index scan (or `--timeout`, when shorter): 2,000 files take about 0.05 s.
const MAX_SCAN: Duration = Duration::from_secs(5);

/// Path variables recorded from modulefiles.
const PATH_VARS: &[&str] = &["LD_LIBRARY_PATH", "PATH", "PYTHONPATH", "CRAY_LD_LIBRARY_PATH", "LIBRARY_PATH"];
/// Variables recorded from `setenv`.
const SET_VARS: &[&str] = &[
    "HDF5_DIR",
    "HDF5_ROOT",
    "HDF5_HOME",
    "HDF5_MPI",
    "HDF5_VARIANT",
    "MPI_HOME",
    "MPI_ROOT",
    "MPI_DIR",
    "CRAY_HDF5_DIR",
    "CRAY_HDF5_PARALLEL_DIR",
    "CRAY_HDF5_PREFIX",
    "CRAY_HDF5_PARALLEL_PREFIX",
    "H5PY_ALWAYS_USE_MPI",
];

/// What a modulefile says, before capabilities are derived.
#[derive(Debug, Default)]
pub struct Parsed {
    pub whatis: Vec<String>,
    pub help: Option<String>,
    pub family: Option<String>,
    pub conflicts: Vec<String>,
    pub requires: Vec<String>,
    pub paths: BTreeMap<String, Vec<String>>,
    pub setenv: BTreeMap<String, String>,
    pub conditional: bool,
    /// Directories it adds to MODULEPATH (`prepend_path("MODULEPATH", ...)`, `module use`).
    pub modulepath: Vec<String>,
    /// Environment variables it reads (`os.getenv`, `$env(X)`, `getenv`).
    pub reads_env: Vec<String>,
}

impl Parsed {
    /// One module command, Lua or Tcl spelling, with its evaluated arguments (owned, or borrowed from
    /// the modulefile: copied only where the result keeps them).
    pub fn call<S: AsRef<str> + Into<String>>(&mut self, f: &str, args: Vec<Option<S>>) {
        let mut rest = args.into_iter();
        match f {
            "whatis" | "module-whatis" => self.whatis.extend(rest.flatten().map(Into::into)),
            "help" => self.help = rest.flatten().next().map(Into::into),
            "family" => self.family = rest.flatten().next().map(Into::into),
            "conflict" => self.conflicts.extend(rest.flatten().map(Into::into)),
            "prereq" | "prereq_any" | "prereq-any" | "prereq-all" | "depends_on" | "depends-on" | "load" | "always_load"
            | "always-load" | "try_load" | "load_any" => self.requires.extend(rest.flatten().map(Into::into)),
            "module" => {
                let Some(Some(sub)) = rest.next() else { return };
                let names = rest.flatten().filter(|a| !a.as_ref().starts_with('-')).map(Into::into);
                match sub.as_ref() {
                    "load" | "try-load" | "load-any" | "switch" | "swap" => self.requires.extend(names),
                    "use" => self.modulepath.extend(names),
                    _ => {}
                }
            }
            "prepend_path" | "append_path" | "prepend-path" | "append-path" => {
                let Some(Some(var)) = rest.next() else { return };
                if var.as_ref() == "MODULEPATH" {
                    for v in rest.flatten() {
                        push_split(&mut self.modulepath, v);
                    }
                } else if PATH_VARS.contains(&var.as_ref()) {
                    let entry = self.paths.entry(var.into()).or_default();
                    for v in rest {
                        match v {
                            Some(v) => push_split(entry, v),
                            None => self.conditional = true,
                        }
                    }
                }
            }
            "setenv" | "pushenv" => {
                if let (Some(Some(var)), Some(val)) = (rest.next(), rest.next()) {
                    if SET_VARS.contains(&var.as_ref()) {
                        match val {
                            Some(v) => {
                                self.setenv.insert(var.into(), v.into());
                            }
                            None => self.conditional = true,
                        }
                    }
                }
            }
            _ => {}
        }
    }
}

/// The non-empty entries of a `:`-separated value, appended (a value without `:` is moved, not copied).
fn push_split<S: AsRef<str> + Into<String>>(to: &mut Vec<String>, value: S) {
    let text = value.as_ref();
    if text.contains(':') {
        to.extend(text.split(':').filter(|s| !s.is_empty()).map(str::to_string));
    } else if !text.is_empty() {
        to.push(value.into());
    }
}

/// Whether a file is a modulefile, and which language.
fn format_of(path: &Path, head: &[u8]) -> Option<ModuleFormat> {
    if path.extension().is_some_and(|e| e == "lua") {
        return Some(ModuleFormat::Lua);
    }
    head.starts_with(b"#%Module").then_some(ModuleFormat::Tcl)
}

/// `name`, `version` from a path below its tree: `hdf5/1.10.8.lua` -> (`hdf5`, `1.10.8`).
fn name_version(rel: &Path, format: ModuleFormat) -> (String, Option<String>) {
    let text = rel.to_string_lossy();
    // The components as `Path` splits them (no empty ones, no `.`), joined by one `/`.
    let parts: Vec<&str> = text.split('/').filter(|p| !p.is_empty() && *p != ".").collect();
    let Some((last, dirs)) = parts.split_last() else {
        return (String::new(), None);
    };
    let last = if format == ModuleFormat::Lua {
        last.strip_suffix(".lua").unwrap_or(last)
    } else {
        last
    };
    if dirs.is_empty() {
        return (last.to_string(), None);
    }
    (dirs.join("/"), Some(last.to_string()))
}

/// Reads one modulefile.
fn read_module(path: &Path, rel: &Path, format: ModuleFormat, text: &str, env: &HashMap<String, String>) -> ModuleInfo {
    let (name, version) = name_version(rel, format);
    let p = if format == ModuleFormat::Lua {
        lua::read(text, &name, version.as_deref(), env)
    } else {
        tcl::read(text, &name, version.as_deref(), env)
    };
    ModuleInfo {
        full_name: match &version {
            Some(v) => format!("{name}/{v}"),
            None => name.clone(),
        },
        name,
        version,
        file: path.to_str().map_or_else(|| path.display().to_string(), str::to_string),
        format,
        whatis: p.whatis,
        help: p.help,
        family: p.family,
        conflicts: p.conflicts,
        requires: p.requires,
        paths: p.paths,
        setenv: p.setenv,
        conditional: p.conditional,
        modulepath: p.modulepath,
        reads_env: dedup(p.reads_env),
        ..ModuleInfo::default()
    }
}

/// The list without repeats, first occurrence kept.
fn dedup(items: Vec<String>) -> Vec<String> {
    let mut seen = std::collections::HashSet::new();
    items.into_iter().filter(|i| seen.insert(i.clone())).collect()
}

/// The 1-based line of the first line of `text` that mentions `needle` (for `file:line` in problems).
fn line_of(text: &str, needle: &str) -> usize {
    text.lines().position(|l| l.contains(needle)).map_or(1, |i| i + 1)
}

/// Reads a file that may be a modulefile (bounded size; the first bytes decide) into `bytes` (cleared
/// first; one buffer serves every file of an index): `Ok(None)` when it is not one, an error when it
/// cannot be read. One open (by name in its open directory `dir`, when given) and the reads, plus one
/// fstat unless the directory listing already said it is a regular file (`regular`); no separate stat
/// by path: this is most of an index's work. Opened non-blocking, so a FIFO left in a tree is skipped
/// instead of waiting for a writer forever.
fn read_candidate(
    path: &Path,
    dir: Option<rustix::fd::BorrowedFd<'_>>,
    regular: bool,
    bytes: &mut Vec<u8>,
) -> std::io::Result<Option<ModuleFormat>> {
    use rustix::fs::{Mode, OFlags};
    use std::io::Read;
    let flags = OFlags::RDONLY | OFlags::NONBLOCK | OFlags::CLOEXEC;
    // By name in its open directory (the kernel walks one component), else by the whole path.
    let opened = match (dir, path.file_name()) {
        (Some(fd), Some(name)) => rustix::fs::openat(fd, name, flags, Mode::empty()),
        _ => rustix::fs::openat(rustix::fs::CWD, path, flags, Mode::empty()),
    };
    let mut file = match opened {
        Ok(fd) => std::fs::File::from(fd),
        // A dangling link is not a modulefile.
        Err(rustix::io::Errno::NOENT) => return Ok(None),
        Err(e) => return Err(e.into()),
    };
    bytes.clear();
    if !regular {
        let meta = file.metadata()?;
        if !meta.is_file() || meta.len() > MAX_FILE_BYTES {
            return Ok(None);
        }
        bytes.reserve(meta.len() as usize + 1);
    }
    // One byte past the bound tells a file that is too big (the listing gave no size).
    file.by_ref().take(MAX_FILE_BYTES + 1).read_to_end(bytes)?;
    if bytes.len() as u64 > MAX_FILE_BYTES {
        return Ok(None);
    }
    Ok(format_of(path, bytes))
}

/// The text of a modulefile's bytes: borrowed when it is UTF-8, as modulefiles are (checked with
/// `str::from_utf8`, which takes ASCII a word at a time; `from_utf8_lossy`'s chunk iterator goes byte by
/// byte and was 4 % of an index's instructions), else with U+FFFD for each bad sequence.
fn text_of(bytes: &[u8]) -> std::borrow::Cow<'_, str> {
    match std::str::from_utf8(bytes) {
        Ok(text) => std::borrow::Cow::Borrowed(text),
        Err(_) => String::from_utf8_lossy(bytes),
    }
}

/// The libhdf5 (and MPI family) a module's directories hold, read with the ELF reader (cached by dir).
struct LibReader {
    cache: FileCache,
    dirs: HashMap<String, Option<ModuleHdf5>>,
    mpi_dirs: HashMap<String, Option<ModuleMpiFamily>>,
    lib_names: HashMap<String, Vec<String>>,
    python_dirs: HashMap<String, Vec<(String, String)>>,
    existing: rustc_hash::FxHashMap<String, bool>,
    resolved: rustc_hash::FxHashMap<String, Option<String>>,
}

impl LibReader {
    fn new() -> Self {
        Self {
            cache: FileCache::new(),
            dirs: HashMap::new(),
            mpi_dirs: HashMap::new(),
            lib_names: HashMap::new(),
            python_dirs: HashMap::new(),
            existing: rustc_hash::FxHashMap::default(),
            resolved: rustc_hash::FxHashMap::default(),
        }
    }

    /// An existing directory as the kernel resolves it (symbolic links followed), when that differs from
    /// how it is written (without a trailing `/`); asked once per directory per run, and only for
    /// directories that exist (most prefixes of a big tree do not: nothing is asked for them).
    fn resolved(&mut self, dir: &str) -> Option<String> {
        if !self.exists(dir) {
            return None;
        }
        if let Some(r) = self.resolved.get(dir) {
            return r.clone();
        }
        let real = std::fs::canonicalize(dir)
            .ok()
            .map(|p| p.display().to_string())
            .filter(|r| r != dir.trim_end_matches('/'));
        self.resolved.insert(dir.to_string(), real.clone());
        real
    }

    /// Whether a directory exists (one stat per directory per run: most module prefixes of a big tree
    /// are not on this node, and everything else about them is then skipped).
    /// A directory whose parent is missing is missing too, without asking (and without an entry of its
    /// own): the prefixes of a big tree share a few roots (`/opt/site/...`), so one stat answers for all.
    fn exists(&mut self, dir: &str) -> bool {
        if let Some(e) = self.existing.get(dir) {
            return *e;
        }
        // The text before the last `/` (trailing ones first dropped): the kernel resolves a path from the
        // left, so when that prefix is not a directory neither is `dir`. (Not `Path::parent`, which
        // splits the path into components on every call: this runs for every module's directories.)
        let trimmed = dir.trim_end_matches('/');
        let parent = trimmed
            .rfind('/')
            .map(|at| trimmed[..at].trim_end_matches('/'))
            .filter(|p| !p.is_empty());
        match parent {
            Some(p) if !self.exists(p) => false,
            _ => {
                let e = Path::new(dir).is_dir();
                self.existing.insert(dir.to_string(), e);
                e
            }
        }
    }

    fn hdf5_in(&mut self, dir: &str) -> Option<ModuleHdf5> {
        if !self.exists(dir) {
            return None;
        }
        if let Some(v) = self.dirs.get(dir) {
            return v.clone();
        }
        let found = [
            "libhdf5.so",
            "libhdf5_serial.so",
            "libhdf5_openmpi.so",
            "libhdf5_mpich.so",
            "libhdf5_parallel.so",
        ]
        .iter()
        .map(|n| Path::new(dir).join(n))
        .find(|p| p.exists())
        .or_else(|| {
            // Versioned only (libhdf5.so.310, Cray's libhdf5_parallel_gnu.so.310).
            let rd = std::fs::read_dir(dir).ok()?;
            let mut names: Vec<PathBuf> = rd
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| {
                    p.file_name()
                        .and_then(|n| n.to_str())
                        .is_some_and(|n| kinds::classify(n) == Some(Kind::Hdf5))
                })
                .collect();
            names.sort();
            names.into_iter().next()
        });
        let info = found.and_then(|p| self.describe(&p));
        self.dirs.insert(dir.to_string(), info.clone());
        info
    }

    fn describe(&self, path: &Path) -> Option<ModuleHdf5> {
        let real = std::fs::canonicalize(path).ok()?.display().to_string();
        let file = self.cache.file(&real).ok()?;
        let symbols = file.symbols().ok()?;
        let mpi = file.elf.needed.iter().find(|n| kinds::classify(n) == Some(Kind::Mpi));
        Some(ModuleHdf5 {
            path: path.display().to_string(),
            soname: file.elf.soname.clone(),
            version: symbols.hdf5_version.clone(),
            parallel: symbols.exports("H5Pset_fapl_mpio"),
            flavour: Some(kinds::hdf5_flavour(&symbols)),
            mpi_family: mpi.map(|m| module_mpi_family(m, None)),
        })
    }

    /// File names of the shared libraries (`lib*.so*`) in a directory, sorted (at most 2,000).
    fn libs_in(&mut self, dir: &str) -> Vec<String> {
        if !self.exists(dir) {
            return Vec::new();
        }
        if let Some(v) = self.lib_names.get(dir) {
            return v.clone();
        }
        let mut names: Vec<String> = std::fs::read_dir(dir)
            .map(|rd| {
                rd.filter_map(|e| e.ok()?.file_name().into_string().ok())
                    .filter(|n| n.starts_with("lib") && (n.ends_with(".so") || n.contains(".so.")))
                    .take(2000)
                    .collect()
            })
            .unwrap_or_default();
        names.sort();
        self.lib_names.insert(dir.to_string(), names.clone());
        names
    }

    /// The Python packages h5doctor cares about (numpy, h5py, mpi4py) in a PYTHONPATH directory, as (name,
    /// version) from their `NAME-VERSION.dist-info` or `.egg-info` directory names.
    fn python_packages_in(&mut self, dir: &str) -> Vec<(String, String)> {
        if !self.exists(dir) {
            return Vec::new();
        }
        if let Some(v) = self.python_dirs.get(dir) {
            return v.clone();
        }
        let mut found: Vec<(String, String)> = std::fs::read_dir(dir)
            .map(|rd| {
                rd.filter_map(|e| {
                    let name = e.ok()?.file_name().into_string().ok()?;
                    let stem = name.strip_suffix(".dist-info").or_else(|| name.strip_suffix(".egg-info"))?;
                    let (package, version) = stem.split_once('-')?;
                    // Debian names its h5py builds' distributions `h5py._debian_h5py_serial` and
                    // `h5py._debian_h5py_mpi` (python3-h5py-serial, -mpi): both are h5py.
                    let package = if package.starts_with("h5py._debian_h5py_") {
                        "h5py"
                    } else {
                        package
                    };
                    let version = version.split('-').next()?;
                    matches!(package, "numpy" | "h5py" | "mpi4py").then(|| (package.to_string(), version.to_string()))
                })
                .collect()
            })
            .unwrap_or_default();
        found.sort();
        self.python_dirs.insert(dir.to_string(), found.clone());
        found
    }

    /// What an mpi4py package directory was built for: the Python series of its `MPI.cpython-3XY-*.so` and
    /// the MPI library that extension links, read with the ELF reader. mpi4py >= 4.1 ships one extension
    /// per MPI ABI (`MPI.mpich.*.so`, `MPI.openmpi.*.so`) and chooses at import: no library then.
    fn mpi4py_build(&mut self, pkg: &Path) -> Option<ExtensionBuild> {
        let mut names: Vec<String> = std::fs::read_dir(pkg)
            .ok()?
            .filter_map(|e| e.ok()?.file_name().into_string().ok())
            .filter(|n| n.starts_with("MPI.") && n.ends_with(".so"))
            .collect();
        names.sort();
        let first = names.first()?;
        let python = first.split('.').find_map(|part| {
            let digits = part.strip_prefix("cpython-")?.split('-').next()?;
            let (major, minor) = digits.split_at(1);
            (!minor.is_empty() && digits.chars().all(|c| c.is_ascii_digit())).then(|| format!("{major}.{minor}"))
        });
        let mut build = ExtensionBuild {
            python,
            ..ExtensionBuild::default()
        };
        if names.len() == 1 {
            let path = pkg.join(first).display().to_string();
            if let Ok(file) = self.cache.file(&path) {
                build.mpi_library = file.elf.needed.iter().find(|n| kinds::classify(n) == Some(Kind::Mpi)).cloned();
                build.mpi_family = build.mpi_library.as_deref().map(|l| module_mpi_family(l, None));
            }
        }
        Some(build)
    }

    /// What an h5py package directory (in the PYTHONPATH directory `site`) was built for: the Python series
    /// of its `*.cpython-3XY-*.so` extensions (else the `python3.X` of `site`) and the MPI they link, read
    /// with the ELF reader: the MPI library `h5p` (the module with the MPI-IO property calls) or another
    /// extension needs, else the family of the parallel libhdf5 they need (`libhdf5_openmpi.so.103`).
    /// Debian's MPI build (`_debian_h5py_mpi`, next to its serial one) is read before its serial one.
    fn h5py_build(&mut self, site: &str) -> Option<ExtensionBuild> {
        let pkg = Path::new(site).join("h5py");
        let extensions_in = |dir: &Path| -> Vec<String> {
            let mut names: Vec<String> = std::fs::read_dir(dir)
                .map(|rd| {
                    rd.filter_map(|e| e.ok()?.file_name().into_string().ok())
                        .filter(|n| n.ends_with(".so") && !n.starts_with('.'))
                        .collect()
                })
                .unwrap_or_default();
            // `h5p` first: it holds set_fapl_mpio, so it links MPI in an MPI build.
            names.sort_by_key(|n| (n.split('.').next() != Some("h5p"), n.clone()));
            names
        };
        let (dir, names) = ["_debian_h5py_mpi", "_debian_h5py_serial", ""]
            .iter()
            .map(|sub| if sub.is_empty() { pkg.clone() } else { pkg.join(sub) })
            .map(|d| {
                let n = extensions_in(&d);
                (d, n)
            })
            .find(|(_, n)| !n.is_empty())?;
        let from_name = names.iter().find_map(|n| {
            n.split('.').find_map(|part| {
                let digits = part.strip_prefix("cpython-")?.split('-').next()?;
                let (major, minor) = digits.split_at(1);
                (!minor.is_empty() && digits.chars().all(|c| c.is_ascii_digit())).then(|| format!("{major}.{minor}"))
            })
        });
        let from_dir = || {
            site.split('/').find_map(|part| {
                let minor = part.strip_prefix("python3.")?;
                (!minor.is_empty() && minor.chars().all(|c| c.is_ascii_digit())).then(|| format!("3.{minor}"))
            })
        };
        let mut build = ExtensionBuild {
            python: from_name.or_else(from_dir),
            ..ExtensionBuild::default()
        };
        // At most a few extensions are read: an MPI build's h5p links the MPI library.
        for name in names.iter().take(3) {
            let path = dir.join(name).display().to_string();
            let Ok(file) = self.cache.file(&path) else { continue };
            if let Some(lib) = file.elf.needed.iter().find(|n| kinds::classify(n) == Some(Kind::Mpi)) {
                build.mpi_family = Some(module_mpi_family(lib, None)).filter(|f| *f != ModuleMpiFamily::Unknown);
                build.mpi_library = Some(lib.clone());
                break;
            }
            let parallel_hdf5 = file.elf.needed.iter().find_map(|n| {
                let stem = n.split(".so").next().unwrap_or(n);
                match stem {
                    "libhdf5_openmpi" => Some(ModuleMpiFamily::Openmpi),
                    "libhdf5_mpich" => Some(ModuleMpiFamily::Mpich),
                    _ => None,
                }
            });
            if build.mpi_family.is_none() {
                build.mpi_family = parallel_hdf5;
            }
        }
        Some(build)
    }

    fn mpi_in(&mut self, dir: &str) -> Option<ModuleMpiFamily> {
        if !self.exists(dir) {
            return None;
        }
        if let Some(v) = self.mpi_dirs.get(dir) {
            return *v;
        }
        let found = std::fs::read_dir(dir).ok().and_then(|rd| {
            let mut names: Vec<String> = rd
                .filter_map(|e| e.ok()?.file_name().into_string().ok())
                .filter(|n| kinds::classify(n) == Some(Kind::Mpi))
                .collect();
            names.sort();
            let core = names.iter().find(|n| kinds::is_core_mpi(n, None)).or(names.first())?;
            // The file's own soname and symbols decide (a bare `libmpi.so` dev link has no number).
            let real = std::fs::canonicalize(Path::new(dir).join(core)).ok()?.display().to_string();
            let family = match self.cache.file(&real) {
                Ok(file) => {
                    let soname = file.elf.soname.clone().unwrap_or_else(|| core.clone());
                    module_mpi_family(&soname, file.symbols().ok().as_deref())
                }
                Err(_) => module_mpi_family(core, None),
            };
            Some(family)
        });
        self.mpi_dirs.insert(dir.to_string(), found);
        found
    }
}

/// Derives the capabilities of a module from its directories (ELF) and, failing that, its name and text.
fn derive(m: &mut ModuleInfo, libs: &mut LibReader) {
    let lower = m.name.to_ascii_lowercase();
    let base = lower.rsplit('/').next().unwrap_or(&lower);
    let mut lib_dirs: Vec<String> = Vec::new();
    for var in ["LD_LIBRARY_PATH", "CRAY_LD_LIBRARY_PATH", "LIBRARY_PATH"] {
        lib_dirs.extend(m.paths.get(var).into_iter().flatten().cloned());
    }
    for var in [
        "HDF5_DIR",
        "HDF5_ROOT",
        "HDF5_HOME",
        "CRAY_HDF5_DIR",
        "CRAY_HDF5_PARALLEL_DIR",
        "CRAY_HDF5_PREFIX",
        "CRAY_HDF5_PARALLEL_PREFIX",
    ] {
        if let Some(root) = m.setenv.get(var) {
            lib_dirs.push(format!("{root}/lib"));
        }
    }
    lib_dirs.dedup();
    // Only directories on this node hold anything (asked once each here, not once per question below).
    lib_dirs.retain(|d| libs.exists(d));
    let mut libraries: Vec<String> = lib_dirs.iter().flat_map(|d| libs.libs_in(d)).collect();
    libraries.sort();
    libraries.dedup();
    m.libraries = libraries;
    let python_dirs: Vec<String> = m.paths.get("PYTHONPATH").cloned().unwrap_or_default();
    // How the directories the rules compare with others resolve here: recorded, so a replay compares the
    // same forms (the rules never read the file system).
    let added: Vec<&String> = m.library_dirs().chain(python_dirs.iter()).collect();
    let resolved: Vec<(String, String)> = added.into_iter().filter_map(|d| Some((d.clone(), libs.resolved(d)?))).collect();
    m.resolved_dirs.extend(resolved);
    for dir in &python_dirs {
        for (package, version) in libs.python_packages_in(dir) {
            if package == "h5py" && !m.python_packages.contains_key("h5py") {
                // Only for the few directories that hold an h5py: what its extensions were built for.
                m.h5py_numpy = markers::h5py_numpy_build(&Path::new(dir).join("h5py"), KEY_MODULES);
                m.h5py_build = libs.h5py_build(dir);
            }
            if package == "mpi4py" && !m.python_packages.contains_key("mpi4py") {
                m.mpi4py = libs.mpi4py_build(&Path::new(dir).join("mpi4py"));
            }
            m.python_packages.entry(package).or_insert(version);
        }
    }
    let is_h5py = base.contains("h5py");
    let is_hdf5_name = !is_h5py && base.contains("hdf5") && !base.contains("netcdf");
    let mut caps: Vec<Capability> = Vec::new();

    // HDF5: the library in its directories decides; a module named for HDF5 without a readable library
    // (a prefix not on this node) is judged by its name and text.
    if !is_h5py {
        if let Some(h) = lib_dirs.iter().find_map(|d| libs.hdf5_in(d)) {
            caps.push(Capability::hdf5(h.parallel));
            m.hdf5_evidence = Some(Hdf5Evidence::Elf);
            m.hdf5 = Some(h);
        } else if is_hdf5_name {
            let says_parallel = base.contains("parallel")
                || base.contains("mpi")
                || m.setenv.get("HDF5_MPI").is_some_and(|v| v.eq_ignore_ascii_case("on"))
                || m.setenv.get("HDF5_VARIANT").is_some_and(|v| v != "serial")
                || {
                    let text = format!("{} {}", m.whatis.join(" "), m.help.as_deref().unwrap_or_default()).to_ascii_lowercase();
                    text.contains("mpi-io") || text.contains("parallel")
                };
            caps.push(Capability::hdf5(says_parallel));
            m.hdf5_evidence = Some(Hdf5Evidence::Name);
        }
    }
    // MPI: the family, a known name, or a libmpi in its directories (not HDF5 modules that merely link it).
    let mpi_names = [
        "openmpi",
        "mpich",
        "cray-mpich",
        "intel-mpi",
        "impi",
        "mvapich2",
        "mvapich",
        "hpcx",
        "mpt",
    ];
    if m.hdf5.is_none() && !is_hdf5_name && !is_h5py {
        let by_name = mpi_names
            .iter()
            .find(|n| base.strip_prefix(**n).is_some_and(|rest| rest.is_empty() || rest.starts_with('-')));
        let by_dir = lib_dirs.iter().find_map(|d| libs.mpi_in(d));
        if m.family.as_deref() == Some("mpi") || by_name.is_some() || by_dir.is_some() {
            caps.push(Capability::Mpi);
            m.mpi_family = by_dir.or_else(|| {
                by_name.map(|n| match *n {
                    "openmpi" => ModuleMpiFamily::Openmpi,
                    "hpcx" => ModuleMpiFamily::Hpcx,
                    "mpt" => ModuleMpiFamily::Mpt,
                    _ => ModuleMpiFamily::Mpich,
                })
            });
        }
    }
    if m.family.as_deref() == Some("python")
        || base == "python"
        || base == "python3"
        || base == "cray-python"
        || base.starts_with("anaconda")
    {
        caps.push(Capability::Python);
    }
    if is_h5py {
        caps.push(Capability::H5py);
        let parallel = base.contains("parallel")
            || base.contains("mpi")
            || m.setenv.contains_key("H5PY_ALWAYS_USE_MPI")
            || m.requires.iter().any(|r| r.contains("hdf5-parallel") || r.contains("mpi"));
        if parallel {
            caps.push(Capability::H5pyParallel);
        }
    }
    if m.python_packages.contains_key("mpi4py") || base.contains("mpi4py") {
        caps.push(Capability::Mpi4py);
    }
    m.capabilities = caps;
}

/// One directory of modulefiles to index: a MODULEPATH entry, or a hierarchy level that a module adds.
struct Level {
    /// Lua modulefiles count (Lmod); Environment Modules ignores `.lua` files.
    lua: bool,
    dir: String,
    /// The modules to load first for its modules to be visible.
    via: Vec<String>,
    /// The directories on the way to it (a level among them leads back: a cycle).
    chain: Vec<String>,
    /// The modulefile and line that add it (none for a MODULEPATH entry).
    added_by: Option<String>,
}

/// Deepest hierarchy (modules to load first) followed.
const MAX_LEVELS: usize = 8;

/// Walks the trees of MODULEPATH, then every hierarchy level a module adds (breadth first, each tree
/// once; a level that leads back to itself or does not exist is a problem, not a loop), within the bounds.
///
/// One level at a time, on this thread: each directory is listed and its modulefiles are read and parsed
/// by name while it is open (one path walk per directory, not one per file). Reading in parallel saved
/// wall time on an idle machine but cost CPU time (worker threads starting, spinning and parking, and
/// each growing its own malloc arena page by page); on a shared node the CPU time is what the index costs.
fn scan(trees: &[String], deadline: Instant, max_files: usize, libs: &mut LibReader, env: &HashMap<String, String>) -> ModuleIndex {
    let start = Instant::now();
    let mut index = ModuleIndex::default();
    // The names indexed so far, per hierarchy path (`via`, numbered: every module of a level has its
    // level's).
    let mut seen_names: rustc_hash::FxHashSet<(usize, String)> = rustc_hash::FxHashSet::default();
    let mut via_ids: rustc_hash::FxHashMap<Vec<String>, usize> = rustc_hash::FxHashMap::default();
    let mut scanned = std::collections::HashSet::new();
    let lua = env.contains_key("LMOD_CMD") || !env.contains_key("MODULES_CMD");
    let mut queue: std::collections::VecDeque<Level> = trees
        .iter()
        .map(|t| Level {
            lua,
            dir: t.clone(),
            via: Vec::new(),
            chain: Vec::new(),
            added_by: None,
        })
        .collect();
    // One buffer for every modulefile read.
    let mut bytes: Vec<u8> = Vec::with_capacity(16 * 1024);
    while let Some(level) = queue.pop_front() {
        // Skipped (a loop, seen, missing) or walked; a walk past a bound ends the scan.
        let opened = rustix::fs::openat(rustix::fs::CWD, level.dir.as_str(), DIR_FLAGS, rustix::fs::Mode::empty());
        let key = opened
            .as_ref()
            .ok()
            .and_then(fd_path)
            .unwrap_or_else(|| std::fs::canonicalize(&level.dir).map_or_else(|_| level.dir.clone(), |p| p.display().to_string()));
        if level.chain.contains(&key) {
            index.problems.push(format!(
                "{}: MODULEPATH level {} leads back to itself (through {}); not followed",
                level.added_by.as_deref().unwrap_or("MODULEPATH"),
                level.dir,
                level.via.join(" -> ")
            ));
            continue;
        }
        if !scanned.insert(key.clone()) {
            continue;
        }
        if opened.is_err() && !Path::new(&level.dir).is_dir() {
            index.problems.push(match &level.added_by {
                Some(at) => format!("{at}: MODULEPATH level {} does not exist", level.dir),
                None => format!("MODULEPATH entry {}: does not exist", level.dir),
            });
            continue;
        }
        let read = Reader {
            level: &level,
            deadline,
            env,
        };
        // The level's modules go straight into the index (in path order once the walk ends).
        let first = index.modules.len();
        let mut walk = walk_tree(&read, opened.ok(), index.files_seen, max_files, start, &mut bytes, &mut index.modules);
        index.files_seen += walk.counted;
        if index.files_seen > max_files {
            index.files_seen = max_files + 1;
            walk.truncated = Some(format!("more than {max_files} files below MODULEPATH"));
        }
        index.trees.push(level.dir.clone());
        index.problems.extend(walk.problems);
        if let Some(why) = walk.truncated {
            // Nothing of a level past a bound is indexed.
            index.modules.truncate(first);
            index.truncated = Some(why);
            break;
        }
        index.problems.extend(walk.read.into_iter().filter_map(|(_, read)| read.err()));
        mark_defaults(
            Path::new(&level.dir),
            &mut index.modules[first..],
            &walk.default_links,
            &walk.markers,
        );
        // The same name/version later on MODULEPATH is shadowed by the first (per hierarchy path):
        // dropped in place, the others derived and their hierarchy levels queued.
        let via_count = via_ids.len();
        let via_id = *via_ids.entry(level.via.clone()).or_insert(via_count);
        let mut kept = first;
        for i in first..index.modules.len() {
            let m = &index.modules[i];
            if !seen_names.insert((via_id, m.full_name.clone())) {
                continue;
            }
            index.modules.swap(kept, i);
            let m = &mut index.modules[kept];
            kept += 1;
            derive(m, libs);
            if level.via.len() < MAX_LEVELS && !m.modulepath.is_empty() {
                let text = std::fs::read_to_string(&m.file).unwrap_or_default();
                let at = format!("{}:{}", m.file, line_of(&text, "MODULEPATH").max(line_of(&text, "module use")));
                for dir in &m.modulepath {
                    let mut chain = level.chain.clone();
                    chain.push(key.clone());
                    let mut via = level.via.clone();
                    via.push(m.full_name.clone());
                    queue.push_back(Level {
                        lua: level.lua,
                        dir: dir.clone(),
                        via,
                        chain,
                        added_by: Some(at.clone()),
                    });
                }
            }
        }
        index.modules.truncate(kept);
    }
    index.elapsed_ms = start.elapsed().as_millis() as u64;
    index
}

/// How directories are opened for the walk.
const DIR_FLAGS: rustix::fs::OFlags = rustix::fs::OFlags::RDONLY
    .union(rustix::fs::OFlags::DIRECTORY)
    .union(rustix::fs::OFlags::CLOEXEC);

/// The path of an open directory with every link resolved (`/proc/self/fd/N`: one call, where
/// `realpath` asks for each component of the path); `None` when /proc cannot tell.
fn fd_path(fd: &rustix::fd::OwnedFd) -> Option<String> {
    use std::os::fd::AsRawFd;
    let target = std::fs::read_link(format!("/proc/self/fd/{}", fd.as_raw_fd())).ok()?;
    let target = target.into_os_string().into_string().ok()?;
    (target.starts_with('/') && !target.ends_with(" (deleted)")).then_some(target)
}

/// "The scan took too long", with the bound.
fn too_long(deadline: Instant, start: Instant) -> String {
    format!("module tree scan took longer than {:.1} s", (deadline - start).as_secs_f64())
}

/// A directory of a module tree open for the walk (its subdirectories are opened relative to it).
type OpenDir = std::sync::Arc<rustix::fd::OwnedFd>;

/// One level walked: its problems, what its modulefiles gave, its default markers.
struct Walk {
    /// Its directories' problems, in the order the walk met them (before its files' problems).
    problems: Vec<String>,
    /// What each modulefile gave, in `Path`'s order: its module (pushed onto the modules the walk was
    /// given, which it puts into this order at the end; here where it was pushed, counted from the
    /// first of the walk's), or the problem reading it.
    read: Vec<(PathBuf, Result<usize, String>)>,
    /// The `default` links, by the directory holding them.
    default_links: HashMap<PathBuf, String>,
    /// The default-marking files (`.version`, `.modulerc`, `.modulerc.lua`) the listing showed.
    markers: std::collections::HashSet<PathBuf>,
    /// Set when a bound was reached during the walk (nothing of this level is indexed then).
    truncated: Option<String>,
    /// The directory entries it counted (toward the bound of files looked at).
    counted: usize,
}

/// What reading a level's files needs: the level, the deadline, the environment its values read.
struct Reader<'a> {
    level: &'a Level,
    deadline: Instant,
    env: &'a HashMap<String, String>,
}

impl Reader<'_> {
    /// Reads and parses one file found in the open directory `dir`: `None` when it is not a modulefile
    /// of this level (a `.lua` file where Environment Modules reads the level), the problem when it
    /// cannot be read.
    fn read(&self, path: &Path, dir: rustix::fd::BorrowedFd<'_>, regular: bool, bytes: &mut Vec<u8>) -> Option<Result<ModuleInfo, String>> {
        let level = self.level;
        match read_candidate(path, Some(dir), regular, bytes) {
            Ok(Some(ModuleFormat::Lua)) if !level.lua => None,
            Ok(Some(format)) => {
                let rel = path.strip_prefix(&level.dir).unwrap_or(path);
                let mut m = read_module(path, rel, format, &text_of(bytes), self.env);
                m.via = level.via.clone();
                Some(Ok(m))
            }
            Ok(None) => None,
            Err(e) => Some(Err(format!("{}:1: cannot read ({e})", path.display()))),
        }
    }
}

/// What a directory entry of a module tree is, from the listing (a link to a directory counts as one).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Entry {
    Dir,
    File,
    Link,
}

/// The kind of a listed entry: from the listing's type, asking the file system only for a link (does it
/// lead to a directory?) or a file system that does not fill the type in. `None`: not a modulefile
/// (FIFOs, sockets and devices are never opened) or gone.
fn entry_kind(fd: rustix::fd::BorrowedFd<'_>, name: &std::ffi::CStr, listed: rustix::fs::FileType) -> Option<Entry> {
    use rustix::fs::{AtFlags, FileType};
    let listed = match listed {
        FileType::Unknown => FileType::from_raw_mode(rustix::fs::statat(fd, name, AtFlags::SYMLINK_NOFOLLOW).ok()?.st_mode),
        other => other,
    };
    match listed {
        FileType::Directory => Some(Entry::Dir),
        FileType::RegularFile => Some(Entry::File),
        FileType::Symlink => match rustix::fs::statat(fd, name, AtFlags::empty()) {
            Ok(st) if FileType::from_raw_mode(st.st_mode) == FileType::Directory => Some(Entry::Dir),
            _ => Some(Entry::Link),
        },
        _ => None,
    }
}

/// Walks one level's tree (its root already opened, when it could be) and reads its modulefiles: their
/// modules pushed onto `modules`, in `Path`'s order; its default markers, its problems. Counts its
/// entries on top of `base` (what was seen before it); past a bound (files, the deadline) the walk is
/// truncated and pushes nothing.
fn walk_tree(
    read: &Reader<'_>,
    root_fd: Option<rustix::fd::OwnedFd>,
    base: usize,
    max_files: usize,
    start: Instant,
    bytes: &mut Vec<u8>,
    modules: &mut Vec<ModuleInfo>,
) -> Walk {
    use std::os::unix::ffi::OsStrExt;
    let mut walk = Walk {
        problems: Vec::new(),
        read: Vec::new(),
        default_links: HashMap::new(),
        markers: std::collections::HashSet::new(),
        truncated: None,
        counted: 0,
    };
    let deadline = read.deadline;
    // Past a bound nothing of the level is indexed.
    let first = modules.len();
    let cut = |walk: &mut Walk, modules: &mut Vec<ModuleInfo>, why: String| {
        walk.truncated = Some(why);
        walk.read.clear();
        modules.truncate(first);
    };
    let root = PathBuf::from(&read.level.dir);
    // One buffer for every listing of the walk (getdents64 fills it; no per-directory allocation).
    let mut listing_buf: Vec<u8> = Vec::with_capacity(32 * 1024);
    // Directories to list: path, depth, and the open parent to open it relative to (none: by path).
    let mut stack: Vec<(PathBuf, usize, Option<OpenDir>)> = vec![(root, 0, None)];
    let mut root_fd = root_fd;
    while let Some((dir_path, depth, parent)) = stack.pop() {
        let opened = match (root_fd.take(), &parent) {
            (Some(fd), _) => Ok(fd),
            (None, Some(parent)) => match dir_path.file_name() {
                Some(name) => rustix::fs::openat(parent, name, DIR_FLAGS, rustix::fs::Mode::empty()),
                _ => rustix::fs::openat(rustix::fs::CWD, &dir_path, DIR_FLAGS, rustix::fs::Mode::empty()),
            },
            (None, None) => rustix::fs::openat(rustix::fs::CWD, &dir_path, DIR_FLAGS, rustix::fs::Mode::empty()),
        };
        drop(parent);
        let fd = match opened {
            Ok(fd) => fd,
            Err(e) => {
                walk.problems
                    .push(format!("{}: cannot read ({})", dir_path.display(), std::io::Error::from(e)));
                continue;
            }
        };
        // The listing, read with getdents64 from the descriptor itself (opendir would fstat it first).
        let mut names: Vec<(std::ffi::CString, rustix::fs::FileType)> = Vec::new();
        let mut failed = None;
        let mut listing = rustix::fs::RawDir::new(&fd, listing_buf.spare_capacity_mut());
        while let Some(entry) = listing.next() {
            match entry {
                Ok(e) => {
                    let name = e.file_name();
                    if name != c"." && name != c".." {
                        names.push((name.to_owned(), e.file_type()));
                    }
                }
                Err(e) => {
                    failed = Some(e);
                    break;
                }
            }
        }
        if let Some(e) = failed {
            walk.problems
                .push(format!("{}: cannot read ({})", dir_path.display(), std::io::Error::from(e)));
            continue;
        }
        let mut entries: Vec<(PathBuf, Entry)> = names
            .into_iter()
            .filter_map(|(name, listed)| {
                let os = std::ffi::OsStr::from_bytes(name.to_bytes());
                let hidden = os.as_bytes().starts_with(b".");
                if hidden && DEFAULT_MARKERS.iter().any(|m| os == *m) {
                    // Read later by name, and only where the listing showed one (no failed opens).
                    walk.markers.insert(dir_path.join(os));
                }
                if hidden {
                    return None;
                }
                // Directories (and links to them) are walked, links to files read; only a link costs a
                // stat. FIFOs, sockets and devices are not modulefiles: never opened.
                let kind = entry_kind(fd.as_fd(), &name, listed)?;
                Some((dir_path.join(os), kind))
            })
            .collect();
        entries.sort_unstable_by(|a, b| path_order(&a.0, &b.0));
        let dir = OpenDir::new(fd);
        for (path, kind) in entries {
            walk.counted += 1;
            if base + walk.counted > max_files {
                cut(&mut walk, modules, format!("more than {max_files} files below MODULEPATH"));
                return walk;
            }
            match kind {
                Entry::Dir => {
                    if depth < MAX_DEPTH {
                        stack.push((path, depth + 1, Some(dir.clone())));
                    }
                }
                Entry::Link if path.file_name().is_some_and(|n| n == "default") => {
                    // Lmod and Environment Modules: a `default` link names the default version.
                    if let Ok(target) = std::fs::read_link(&path) {
                        let t = target.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
                        walk.default_links
                            .insert(dir_path.clone(), t.strip_suffix(".lua").unwrap_or(&t).to_string());
                    }
                }
                _ => {
                    if Instant::now() > deadline {
                        cut(&mut walk, modules, too_long(deadline, start));
                        return walk;
                    }
                    // Read now, by name in the directory already open.
                    if let Some(result) = read.read(&path, dir.as_fd(), kind == Entry::File, bytes) {
                        walk.read.push((
                            path,
                            result.map(|m| {
                                modules.push(m);
                                modules.len() - 1 - first
                            }),
                        ));
                    }
                }
            }
        }
        if Instant::now() > deadline {
            cut(&mut walk, modules, too_long(deadline, start));
            return walk;
        }
    }
    // Listed depth first, directories popped last-pushed first: put into `Path`'s order. The paths are
    // sorted with where each module is (a module record is most of a kilobyte: moved once, below, not
    // at every step of the sort).
    walk.read.sort_unstable_by(|a, b| path_order(&a.0, &b.0));
    let order: Vec<usize> = walk.read.iter().filter_map(|(_, r)| r.as_ref().ok().copied()).collect();
    permute(&mut modules[first..], &order);
    walk
}

/// Reorders `items` so that the item at `k` is the one that was at `order[k]` (`order` is a
/// permutation of its indices): each cycle of the permutation walked once, an item moved at most once.
fn permute<T>(items: &mut [T], order: &[usize]) {
    debug_assert_eq!(items.len(), order.len());
    let mut placed = vec![false; items.len()];
    for start in 0..items.len() {
        let mut k = start;
        while !placed[k] {
            placed[k] = true;
            let from = order[k];
            if from == start {
                break;
            }
            items.swap(k, from);
            k = from;
        }
    }
}

/// The order of `Path`'s own comparison (component by component) for the paths a walk makes (joined
/// from one root, no `.` or doubled `/`), as one byte comparison with `/` below every other byte: the
/// same order, without splitting both paths into components at every comparison (a few per cent of
/// a 2,000-file index's time).
fn path_order(a: &Path, b: &Path) -> std::cmp::Ordering {
    use std::os::unix::ffi::OsStrExt;
    let (a, b) = (a.as_os_str().as_bytes(), b.as_os_str().as_bytes());
    // The common prefix needs no mapping: only the first differing byte does. Paths of one tree share
    // long prefixes: compared eight bytes at a time first.
    let n = a.len().min(b.len());
    let mut same = 0;
    while same + 8 <= n && a[same..same + 8] == b[same..same + 8] {
        same += 8;
    }
    while same < n && a[same] == b[same] {
        same += 1;
    }
    let key = |c: u8| if c == b'/' { 0 } else { c };
    match (a.get(same), b.get(same)) {
        (Some(&x), Some(&y)) => key(x).cmp(&key(y)),
        _ => a.len().cmp(&b.len()),
    }
}

/// The version a `.version` (`set ModulesVersion "1.10.8"`), `.modulerc` (`module-version /1.10.8 default`)
/// or `.modulerc.lua` (`module_version("1.10.8", "default")`) in a module's directory marks as default.
/// The files that mark a default version, in the order they are read.
const DEFAULT_MARKERS: [&str; 3] = [".modulerc.lua", ".modulerc", ".version"];

fn marked_default(dir: &Path, name: &str, markers: &std::collections::HashSet<PathBuf>) -> Option<(String, DefaultBy)> {
    let read = |marker: &str| {
        let path = dir.join(marker);
        markers.contains(&path).then(|| std::fs::read_to_string(path).ok()).flatten()
    };
    let strip = |v: &str| -> String {
        let v = v.trim().trim_matches(|c| c == '"' || c == '\'' || c == '{' || c == '}');
        let v = v.strip_prefix(&format!("{name}/")).unwrap_or(v);
        v.trim_start_matches('/').to_string()
    };
    if let Some(text) = read(".modulerc.lua") {
        for line in text.lines() {
            let l = line.trim();
            if let Some(args) = l.strip_prefix("module_version(") {
                let parts: Vec<&str> = args.trim_end_matches(')').split(',').collect();
                if parts.len() >= 2 && parts[1..].iter().any(|p| strip(p) == "default") {
                    return Some((strip(parts[0]), DefaultBy::ModulercLua));
                }
            }
        }
    }
    if let Some(text) = read(".modulerc") {
        for line in text.lines() {
            let words: Vec<&str> = line.split_whitespace().collect();
            if words.first() == Some(&"module-version") && words[2..].iter().any(|w| strip(w) == "default") {
                return Some((strip(words[1]), DefaultBy::Modulerc));
            }
        }
    }
    if let Some(text) = read(".version") {
        for line in text.lines() {
            let words: Vec<&str> = line.split_whitespace().collect();
            if words.len() >= 3 && words[0] == "set" && words[1] == "ModulesVersion" {
                return Some((strip(words[2]), DefaultBy::VersionFile));
            }
        }
    }
    None
}

/// Marks one module per name as the default: the marked one, else the highest version.
fn mark_defaults(root: &Path, found: &mut [ModuleInfo], links: &HashMap<PathBuf, String>, markers: &std::collections::HashSet<PathBuf>) {
    // The modules of each name, by index in their order: the versioned ones sorted by name (stable),
    // so each name's are one run; no copy of a name, no hash map.
    let mut by_name: Vec<usize> = (0..found.len()).filter(|&i| found[i].version.is_some()).collect();
    by_name.sort_by(|&a, &b| found[a].name.cmp(&found[b].name));
    let mut start = 0;
    while start < by_name.len() {
        let name = &found[by_name[start]].name;
        let end = start + by_name[start..].iter().take_while(|&&i| found[i].name == *name).count();
        let members = &by_name[start..end];
        start = end;
        // A directory's markers are looked for only where the listings showed some.
        let marked = if links.is_empty() && markers.is_empty() {
            None
        } else {
            let name = &found[members[0]].name;
            let dir = root.join(name);
            links
                .get(&dir)
                .map(|v| (v.clone(), DefaultBy::DefaultLink))
                .or_else(|| marked_default(&dir, name, markers))
        };
        let has = |v: &str| members.iter().any(|&i| found[i].version.as_deref() == Some(v));
        let chosen = match marked.filter(|(v, _)| has(v)) {
            Some((v, by)) => Some((v, by)),
            None => members
                .iter()
                .filter_map(|&i| found[i].version.as_deref())
                .max_by(|a, b| crate::facts::modules::version_cmp(a, b))
                .map(|v| (v.to_string(), DefaultBy::Highest)),
        };
        if let Some((v, by)) = chosen {
            for &i in members {
                if found[i].version.as_deref() == Some(v.as_str()) {
                    found[i].default = true;
                    found[i].default_by = Some(by);
                }
            }
        }
    }
}

/// Decodes standard base64 (padding optional); `None` on a bad character.
fn base64_decode(s: &str) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(s.len() * 3 / 4);
    let mut buf = 0u32;
    let mut bits = 0;
    for c in s.bytes() {
        let v = match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            b'=' | b'\n' | b'\r' => continue,
            _ => return None,
        };
        buf = (buf << 6) | u32::from(v);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((buf >> bits) as u8);
        }
    }
    Some(out)
}

/// Lmod's `_ModuleTable_`: the `_ModuleTable001_`.. chunks concatenated and decoded, as loaded modules
/// in load order (active ones only) with the families.
fn module_table(env: &HashMap<String, String>) -> Option<(Vec<LoadedModule>, BTreeMap<String, String>)> {
    let size: usize = env.get("_ModuleTable_Sz_")?.trim().parse().ok()?;
    let mut encoded = String::new();
    for k in 1..=size {
        encoded.push_str(env.get(&format!("_ModuleTable{k:03}_"))?);
    }
    let text = String::from_utf8(base64_decode(&encoded)?).ok()?;
    let table = lua::parse_table(&text)?;
    let mut loaded: Vec<(f64, LoadedModule)> = Vec::new();
    for (user, entry) in table.get("mT")?.as_object()? {
        if entry.get("status").and_then(|s| s.as_str()).is_some_and(|s| s != "active") {
            continue;
        }
        let full = entry.get("fullName").and_then(|s| s.as_str()).unwrap_or(user).to_string();
        let (name, version) = match full.rsplit_once('/') {
            Some((n, v)) if n == user || !user.contains('/') => (n.to_string(), Some(v.to_string())),
            _ => (full.clone(), None),
        };
        loaded.push((
            entry.get("loadOrder").and_then(|o| o.as_f64()).unwrap_or(f64::MAX),
            LoadedModule {
                full_name: full,
                name,
                version,
                file: entry.get("fn").and_then(|s| s.as_str()).map(str::to_string),
                // Lmod's mark of a module loaded by another one (`depends_on`, `load`), not by the user.
                tags: if entry.get("stackDepth").and_then(|d| d.as_f64()).is_some_and(|d| d > 0.0) {
                    vec!["auto-loaded".to_string()]
                } else {
                    Vec::new()
                },
                ..LoadedModule::default()
            },
        ));
    }
    loaded.sort_by(|a, b| a.0.total_cmp(&b.0));
    let families = table
        .get("family")
        .and_then(|f| f.as_object())
        .map(|o| o.iter().filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_string()))).collect())
        .unwrap_or_default();
    Some((loaded.into_iter().map(|(_, m)| m).collect(), families))
}

/// LOADEDMODULES with _LMFILES_ (Environment Modules, or Lmod without a readable table).
fn loaded_modules_var(env: &HashMap<String, String>) -> Option<Vec<LoadedModule>> {
    let names = env.get("LOADEDMODULES")?;
    let files: Vec<&str> = env.get("_LMFILES_").map(|f| f.split(':').collect()).unwrap_or_default();
    Some(
        names
            .split(':')
            .filter(|n| !n.is_empty())
            .enumerate()
            .map(|(i, full)| {
                let (name, version) = match full.rsplit_once('/') {
                    Some((n, v)) => (n.to_string(), Some(v.to_string())),
                    None => (full.to_string(), None),
                };
                LoadedModule {
                    full_name: full.to_string(),
                    name,
                    version,
                    file: files.get(i).filter(|f| !f.is_empty()).map(|f| f.to_string()),
                    ..LoadedModule::default()
                }
            })
            .collect(),
    )
}

/// One of Environment Modules' per-module records (`__MODULES_LMCONFLICT` in 5.x, `MODULES_LMCONFLICT` in
/// 4.x): `mod&value&value:mod&value`, as module -> values. A `&` or `:` inside a name is not possible there.
fn envmodules_record(env: &HashMap<String, String>, what: &str) -> HashMap<String, Vec<String>> {
    let Some(text) = env
        .get(&format!("__MODULES_{what}"))
        .or_else(|| env.get(&format!("MODULES_{what}")))
    else {
        return HashMap::new();
    };
    let mut out: HashMap<String, Vec<String>> = HashMap::new();
    for entry in text.split(':').filter(|e| !e.is_empty()) {
        let mut parts = entry.split('&');
        let Some(module) = parts.next().filter(|m| !m.is_empty()) else {
            continue;
        };
        out.entry(module.to_string())
            .or_default()
            .extend(parts.filter(|p| !p.is_empty()).map(str::to_string));
    }
    out
}

/// Adds what Environment Modules recorded for each loaded module when it loaded it: conflicts (its
/// family included), prerequisites, alternative names (`al|` alias and `as|` automatic symbol prefixes
/// dropped) and tags. Returns whether any record was there.
fn envmodules_state(env: &HashMap<String, String>, loaded: &mut [LoadedModule]) -> bool {
    let conflicts = envmodules_record(env, "LMCONFLICT");
    let prereqs = envmodules_record(env, "LMPREREQ");
    let alt_names = envmodules_record(env, "LMALTNAME");
    let tags = envmodules_record(env, "LMTAG");
    if conflicts.is_empty() && prereqs.is_empty() && alt_names.is_empty() && tags.is_empty() {
        return false;
    }
    for m in loaded.iter_mut() {
        let of = |record: &HashMap<String, Vec<String>>| record.get(&m.full_name).cloned().unwrap_or_default();
        m.conflicts = of(&conflicts);
        m.prereqs = of(&prereqs);
        m.alt_names = of(&alt_names)
            .into_iter()
            .map(|a| a.strip_prefix("al|").or_else(|| a.strip_prefix("as|")).unwrap_or(&a).to_string())
            .collect();
        m.tags = of(&tags);
    }
    true
}

/// The modules group runs by default unless the run is about files; in `probes::gather`'s sequence (a loaded
/// HDF5 module picks the HDF5 probe, which then waits for this group).
pub const PROBE: crate::probes::GroupProbe = crate::probes::GroupProbe {
    by_default: |o| o.files.is_empty(),
    run: crate::probes::Run::InSequence,
    reads: &[],
};

/// The probe of this process's environment, bounded in time (5 s, or `--timeout` when shorter) and files
/// (50,000, or `H5DOCTOR_MODULES_MAX_FILES`).
pub fn probe(timeout: Duration) -> ModulesFacts {
    let env: HashMap<String, String> = std::env::vars().collect();
    let max_files = env
        .get("H5DOCTOR_MODULES_MAX_FILES")
        .and_then(|v| v.parse().ok())
        .unwrap_or(MAX_FILES);
    probe_env(&env, timeout.min(MAX_SCAN), max_files)
}

/// Whether the environment names any loaded module (Lmod's module table, LOADEDMODULES). When it names
/// none, the modules group cannot find a loaded HDF5 module, so the HDF5 probe's pick does not wait for it.
pub fn any_loaded() -> bool {
    any_loaded_in(&std::env::vars().collect())
}

fn any_loaded_in(env: &HashMap<String, String>) -> bool {
    module_table(env).is_some_and(|(loaded, _)| !loaded.is_empty()) || loaded_modules_var(env).is_some_and(|l| !l.is_empty())
}

/// The probe over a given environment (tests give their own).
pub fn probe_env(env: &HashMap<String, String>, timeout: Duration, max_files: usize) -> ModulesFacts {
    let deadline = Instant::now() + timeout;
    let mut f = ModulesFacts {
        status: ProbeStatus::Ok,
        ..ModulesFacts::default()
    };
    f.lmod_version = env.get("LMOD_VERSION").cloned();
    f.system = if env.contains_key("LMOD_CMD") || env.contains_key("LMOD_VERSION") || env.contains_key("_ModuleTable_Sz_") {
        ModuleSystem::Lmod
    } else if env.contains_key("MODULES_CMD") || env.contains_key("MODULESHOME") {
        ModuleSystem::EnvironmentModules
    } else if env.contains_key("LOADEDMODULES") || env.contains_key("MODULEPATH") {
        ModuleSystem::Unknown
    } else {
        ModuleSystem::NoSystem
    };
    f.modulepath = env
        .get("MODULEPATH")
        .map(|p| p.split(':').filter(|s| !s.is_empty()).map(str::to_string).collect())
        .unwrap_or_default();
    f.modulepath.dedup();
    match module_table(env) {
        Some((loaded, families)) => {
            f.loaded = loaded;
            f.families = families;
            f.loaded_source = Some(LoadedSource::LmodModuleTable);
        }
        None => {
            if let Some(mut loaded) = loaded_modules_var(env) {
                let recorded = envmodules_state(env, &mut loaded);
                f.loaded = loaded;
                f.loaded_source = Some(if recorded {
                    LoadedSource::LoadedModulesRecorded
                } else {
                    LoadedSource::LoadedModules
                });
            }
        }
    }
    for (k, v) in env {
        // Lmod's LMOD_FAMILY_X, Environment Modules' MODULES_FAMILY_X.
        let fam = k.strip_prefix("LMOD_FAMILY_").or_else(|| k.strip_prefix("MODULES_FAMILY_"));
        if let Some(fam) = fam.filter(|s| !s.ends_with("_VERSION")) {
            f.families.entry(fam.to_ascii_lowercase()).or_insert_with(|| v.clone());
        }
    }
    if f.system == ModuleSystem::NoSystem {
        return f;
    }
    let mut libs = LibReader::new();
    f.index = scan(&f.modulepath, deadline, max_files, &mut libs, env);
    // The loaded modules, read from their own files (they may come from a tree no longer on MODULEPATH).
    for m in &mut f.loaded {
        if let Some(found) = f.index.modules.iter().find(|i| Some(&i.file) == m.file.as_ref()) {
            m.info = Some(found.clone());
            continue;
        }
        let Some(file) = m.file.clone() else { continue };
        let path = PathBuf::from(&file);
        let mut bytes = Vec::new();
        if let Ok(Some(format)) = read_candidate(&path, None, false, &mut bytes) {
            let text = text_of(&bytes);
            let rel = PathBuf::from(&m.full_name);
            let rel = if format == ModuleFormat::Lua {
                PathBuf::from(format!("{}.lua", m.full_name))
            } else {
                rel
            };
            let mut info = read_module(&path, &rel, format, &text, env);
            derive(&mut info, &mut libs);
            m.info = Some(info);
        }
    }
    if let Some(why) = &f.index.truncated {
        f.status = ProbeStatus::Inconclusive;
        f.reason = Some(format!("module index incomplete: {why}"));
    }
    f
}

/// The libraries whose symbol versions a binary of this run lacks (lib-version-missing: not glibc's, not
/// HDF5's or MPI's, which other findings cover), by soname.
fn sonames_lacking_versions(libraries: &LibrariesFacts) -> Vec<&str> {
    let mut sonames: Vec<&str> = libraries
        .binaries
        .iter()
        .flat_map(|b| &b.missing_versions)
        .filter(|v| !v.version.starts_with("GLIBC_") && !v.in_hdf5_or_mpi())
        .map(|v| v.file.as_str())
        .filter(|f| !f.is_empty())
        .collect();
    sonames.sort_unstable();
    sonames.dedup();
    sonames
}

/// For each library whose symbol versions a binary lacks, the version definitions of each indexed
/// module's copy of it ([`ModuleInfo::library_versions`]), read with the ELF reader: which module holds a
/// build that defines them. Only those sonames, only the modules whose directories hold one: an index
/// without such a finding reads nothing more.
pub fn read_library_versions(modules: &mut ModulesFacts, libraries: &LibrariesFacts) {
    let sonames = sonames_lacking_versions(libraries);
    if sonames.is_empty() {
        return;
    }
    let mut read: HashMap<PathBuf, Option<Option<Vec<String>>>> = HashMap::new();
    for m in &mut modules.index.modules {
        for soname in &sonames {
            if !m.libraries.iter().any(|l| l == soname) {
                continue;
            }
            let copy = m.library_dirs().map(|d| Path::new(d).join(soname)).find(|p| p.is_file());
            let Some(copy) = copy else { continue };
            let defines = read
                .entry(copy.clone())
                .or_insert_with(|| crate::elf::object::ElfObject::read(&copy).ok().map(|o| o.version_defs))
                .clone();
            if let Some(defines) = defines {
                m.library_versions.insert(
                    soname.to_string(),
                    LibraryVersions {
                        path: copy.display().to_string(),
                        defines,
                    },
                );
            }
        }
    }
}

/// The MPI family of a library as the module facts spell it: the ELF reader (which sits below the facts)
/// names only `openmpi`, `mpich`, `cray-mpich` and `unknown`, all [`ModuleMpiFamily`] values.
fn module_mpi_family(soname: &str, symbols: Option<&crate::elf::symbols::SymbolInfo>) -> ModuleMpiFamily {
    kinds::mpi_family(soname, symbols).parse().unwrap_or(ModuleMpiFamily::Unknown)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn permute_puts_each_item_where_the_order_says() {
        let orders: [&[usize]; 5] = [&[], &[0], &[2, 0, 1], &[3, 2, 1, 0], &[1, 0, 3, 4, 2, 5]];
        for order in orders {
            let mut items: Vec<String> = (0..order.len()).map(|i| format!("m{i}")).collect();
            permute(&mut items, order);
            let want: Vec<String> = order.iter().map(|i| format!("m{i}")).collect();
            assert_eq!(items, want, "{order:?}");
        }
    }

    #[test]
    fn a_directory_exists_only_where_its_ancestors_do() {
        let root = tempfile::tempdir().unwrap();
        let dir = root.path().join("a/b");
        std::fs::create_dir_all(&dir).unwrap();
        let dir = dir.to_str().unwrap().to_string();
        let mut libs = LibReader::new();
        assert!(libs.exists(&dir));
        assert!(libs.exists(&format!("{dir}/")));
        assert!(libs.exists(&format!("{dir}//")));
        assert!(!libs.exists(&format!("{dir}/c/d")));
        assert!(!libs.exists(&format!("{dir}x/b")));
        assert!(libs.exists(&format!("{dir}/../b")));
        assert!(!libs.exists("relative/nowhere"));
    }

    #[test]
    fn decodes_base64() {
        assert_eq!(base64_decode("aGVsbG8gd29ybGQ=").unwrap(), b"hello world");
        assert_eq!(base64_decode("YQ").unwrap(), b"a");
    }

    #[test]
    fn environment_modules_records_of_loaded_modules_are_read() {
        // As modulecmd.tcl 5.2 exports them after `module load hdf5 openmpi darshan`.
        let env: HashMap<String, String> = [
            ("LOADEDMODULES", "hdf5/1.10.8:openmpi/4.1:darshan/3.4"),
            ("_LMFILES_", "/m/hdf5/1.10.8:/m/openmpi/4.1:/m/darshan/3.4"),
            ("__MODULES_LMCONFLICT", "hdf5/1.10.8&hdf5-parallel&hdf5:openmpi/4.1&mpi"),
            ("__MODULES_LMPREREQ", "darshan/3.4&openmpi"),
            (
                "__MODULES_LMALTNAME",
                "hdf5/1.10.8&al|hdf5&as|hdf5/default&as|hdf5/latest:openmpi/4.1&al|mpi&as|openmpi/default",
            ),
            ("__MODULES_LMTAG", "openmpi/4.1&auto-loaded"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        let mut loaded = loaded_modules_var(&env).unwrap();
        assert!(envmodules_state(&env, &mut loaded));
        assert_eq!(loaded[0].conflicts, ["hdf5-parallel", "hdf5"]);
        assert_eq!(loaded[0].alt_names, ["hdf5", "hdf5/default", "hdf5/latest"]);
        assert_eq!(loaded[1].tags, ["auto-loaded"]);
        assert_eq!(loaded[1].alt_names, ["mpi", "openmpi/default"]);
        assert_eq!(loaded[2].prereqs, ["openmpi"]);
        assert!(loaded[2].conflicts.is_empty());
        // Environment Modules 4.x spells them without the leading underscores.
        let v4: HashMap<String, String> = [
            ("LOADEDMODULES", "hdf5/1.10.8"),
            ("MODULES_LMCONFLICT", "hdf5/1.10.8&hdf5-parallel"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        let mut loaded = loaded_modules_var(&v4).unwrap();
        assert!(envmodules_state(&v4, &mut loaded));
        assert_eq!(loaded[0].conflicts, ["hdf5-parallel"]);
        // Lmod sets none of them.
        let mut loaded = loaded_modules_var(&v4).unwrap();
        assert!(!envmodules_state(
            &[("LOADEDMODULES".to_string(), "x".to_string())].into(),
            &mut loaded
        ));
    }

    #[test]
    fn a_fifo_in_a_tree_is_skipped_not_waited_on_and_a_big_file_is_skipped() {
        let tree = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(tree.path().join("hdf5")).unwrap();
        std::fs::write(tree.path().join("hdf5/1.14.3.lua"), "family(\"hdf5\")\n").unwrap();
        std::fs::write(tree.path().join("hdf5/9.9.9.lua"), "-- x\n".repeat(60_000)).unwrap();
        let fifo = std::ffi::CString::new(tree.path().join("hdf5/1.0").to_str().unwrap()).unwrap();
        // SAFETY: a NUL-terminated path of our own temporary directory.
        assert_eq!(unsafe { libc::mkfifo(fifo.as_ptr(), 0o644) }, 0);
        // A link to the FIFO is opened (the listing cannot tell), but non-blocking, then skipped.
        std::os::unix::fs::symlink(tree.path().join("hdf5/1.0"), tree.path().join("hdf5/1.1")).unwrap();
        let env: HashMap<String, String> = [
            ("MODULEPATH".to_string(), tree.path().display().to_string()),
            ("LMOD_CMD".to_string(), "/usr/share/lmod/lmod/libexec/lmod".to_string()),
        ]
        .into();
        let facts = probe_env(&env, Duration::from_secs(5), 100);
        let names: Vec<&str> = facts.index.modules.iter().map(|m| m.full_name.as_str()).collect();
        assert_eq!(names, ["hdf5/1.14.3"], "{:?}", facts.index);
        assert!(facts.index.truncated.is_none());
    }

    #[test]
    fn the_walk_order_is_paths_own_order() {
        let mut paths: Vec<PathBuf> = ["/t/a-b/1", "/t/a/2.0", "/t/a/10", "/t/a.b/1", "/t/a", "/t/a/1.lua", "/t/ab/x"]
            .iter()
            .map(PathBuf::from)
            .collect();
        let mut by_path = paths.clone();
        by_path.sort();
        paths.sort_unstable_by(|a, b| path_order(a, b));
        assert_eq!(paths, by_path);
    }

    #[test]
    fn names_come_from_the_path() {
        assert_eq!(
            name_version(Path::new("hdf5/1.10.8.lua"), ModuleFormat::Lua),
            ("hdf5".into(), Some("1.10.8".into()))
        );
        assert_eq!(name_version(Path::new("a/b/2.0"), ModuleFormat::Tcl), ("a/b".into(), Some("2.0".into())));
        assert_eq!(name_version(Path::new("solo"), ModuleFormat::Tcl), ("solo".into(), None));
    }
}
