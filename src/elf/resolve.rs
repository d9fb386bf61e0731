//! The resolver: which file glibc's ld.so loads for every DT_NEEDED of a program's closure, how it
//! found it, and for a library it cannot find, every place it looked, in order.
//!
//! It follows `_dl_map_object` and `_dl_map_object_deps` (glibc 2.36) step by step:
//!
//! 1. Objects are loaded breadth-first: the program, then LD_PRELOAD and /etc/ld.so.preload, then each
//!    object's DT_NEEDED in order. The dynamic loader itself (PT_INTERP) is loaded from the start.
//! 2. A name already loaded (the name an object was opened under, or its SONAME) is reused, and so is a
//!    file already loaded under another name (same device and inode).
//! 3. A name with a `/` is a path (tokens expanded). Otherwise, in order: DT_RPATH of the requesting
//!    object, then of the object that loaded it, up to the program (only when the requester has no
//!    DT_RUNPATH; an object with DT_RUNPATH has no effective DT_RPATH), LD_LIBRARY_PATH, the
//!    requester's own DT_RUNPATH, /etc/ld.so.cache (entries in default directories skipped under
//!    DF_1_NODEFLIB), the default directories (not under NODEFLIB). Each directory is tried with the
//!    active glibc-hwcaps subdirectories first.
//! 4. A candidate of the wrong ELF class or machine is skipped and the search goes on; a file that is
//!    not ELF at all stops the search with an error, as in ld.so.
//!
//! Files are opened and parsed once per run ([`FileCache`], shared between threads), so resolving a
//! whole directory of libraries reads each dependency once; once per file *and* `noexec` verdict of the
//! mount it was reached through, since each program maps its libraries through its own paths' mounts.

use super::object::{map_file, ElfObject};
use super::search::LoaderConfig;
use super::symbols::SymbolInfo;
use rustc_hash::FxHashMap;
use serde::Serialize;
use std::cell::{OnceCell, RefCell};
use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::rc::Rc;
use std::sync::{Arc, Mutex, OnceLock};

/// How a library was found: the provenance libtree prints in brackets.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum How {
    /// The file given on the command line (the program).
    Main,
    /// The dynamic loader itself (PT_INTERP, or the system loader for a library).
    Interpreter,
    /// LD_PRELOAD or /etc/ld.so.preload.
    Preload {
        from: String,
    },
    /// A DT_NEEDED that is a path.
    Direct,
    /// DT_RPATH of `of`; depth 0 is the requesting object itself, 1 the object that loaded it, ...
    Rpath {
        of: String,
        depth: usize,
    },
    LdLibraryPath,
    /// DT_RUNPATH of the requesting object `of`.
    Runpath {
        of: String,
    },
    LdSoCache,
    DefaultPath,
}

impl How {
    /// The short tag of human output: `rpath`, `rpath of 2 up`, `runpath`, `ld.so.cache`, ...
    pub fn tag(&self) -> String {
        let mut tag = String::new();
        self.write_tag(&mut tag);
        tag
    }

    /// Appends [`Self::tag`] to `out` (the tree's renderer, without a string per line).
    pub fn write_tag(&self, out: &mut String) {
        use std::fmt::Write as _;
        match self {
            How::Main => out.push_str("main"),
            How::Interpreter => out.push_str("interpreter"),
            How::Preload { from } => out.push_str(from),
            How::Direct => out.push_str("direct"),
            How::Rpath { depth: 0, .. } => out.push_str("rpath"),
            How::Rpath { depth, .. } => {
                let _ = write!(out, "rpath of {depth} up");
            }
            How::LdLibraryPath => out.push_str("LD_LIBRARY_PATH"),
            How::Runpath { .. } => out.push_str("runpath"),
            How::LdSoCache => out.push_str("ld.so.cache"),
            How::DefaultPath => out.push_str("default path"),
        }
    }

    /// A longer account for search lists: `DT_RPATH of /opt/app/bin/app`.
    pub fn describe(&self) -> String {
        match self {
            How::Rpath { of, .. } => format!("DT_RPATH of {of}"),
            How::Runpath { of } => format!("DT_RUNPATH of {of}"),
            How::LdLibraryPath => "LD_LIBRARY_PATH".into(),
            How::LdSoCache => "/etc/ld.so.cache".into(),
            How::DefaultPath => "default directory".into(),
            other => other.tag(),
        }
    }
}

/// One place the resolver looked for a library, or a step it skipped and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
pub struct Attempt {
    /// The file tried; `None` for a skipped step ("LD_LIBRARY_PATH is not set").
    pub path: Option<String>,
    pub source: String,
    /// `not found`, `wrong ELF class: ELFCLASS32`, `skipped: ...`.
    pub result: String,
    /// The file exists but this user may not open it (EACCES): ld.so skips it silently.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub denied: bool,
}

/// What makes the loader (or the kernel, for the program interpreter) refuse to start a program
/// besides a library it cannot find.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize, strum::IntoStaticStr, strum::VariantNames, strum::EnumString,
)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
#[serde(rename_all = "kebab-case")]
#[strum(serialize_all = "kebab-case")]
pub enum LoadErrorKind {
    /// PT_INTERP names a file that does not exist on this node.
    InterpreterMissing,
    /// PT_INTERP names a file the kernel cannot use: another ELF class or machine, not ELF, not
    /// executable.
    InterpreterUnusable,
    /// A symbol version (DT_VERNEED) the object needs is not defined by the library loaded for it.
    VersionMissing,
    /// The object lies on a file system mounted `noexec`: its code cannot be mapped.
    NoexecMount,
    /// A library exists where the loader looks, but this user cannot read it: ld.so skips it and
    /// finds no other.
    Unreadable,
}

impl LoadErrorKind {
    /// The spelling in facts and reports (`noexec-mount`, ...).
    pub fn as_str(self) -> &'static str {
        self.into()
    }
}

/// A fatal loader error, on the object it concerns.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
pub struct LoadError {
    pub kind: LoadErrorKind,
    /// The file at fault: the interpreter, the library lacking the version, the object on the
    /// `noexec` mount, the file this user cannot read.
    pub file: String,
    /// The version asked for (version-missing).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    /// The mount point (noexec-mount).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mount: Option<String>,
    /// What the loader says, in its own words (for the interpreter: the kernel's and the shell's).
    pub loader_says: String,
    /// h5doctor's account of it.
    pub explanation: String,
}

impl Attempt {
    /// `/opt/lib/libfoo.so.1 (DT_RUNPATH of /opt/bin/app): not found`.
    pub fn line(&self) -> String {
        match &self.path {
            Some(p) => format!("{p} ({}): {}", self.source, self.result),
            None => format!("{}: {}", self.source, self.result),
        }
    }
}

/// The outcome of one DT_NEEDED (or preload) of one object.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
#[serde(tag = "result", rename_all = "kebab-case")]
pub enum EdgeResult {
    /// Loaded for this need: the index of the new object.
    Loaded { object: usize },
    /// Already loaded (by name, SONAME or same file).
    Reused { object: usize },
    /// Not found anywhere; every place looked, in order.
    Missing { searched: Vec<Attempt> },
    /// A file was found but cannot be loaded (not ELF, an executable, ...).
    Failed {
        path: String,
        error: String,
        searched: Vec<Attempt>,
    },
}

/// One need of an object.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
pub struct Edge {
    pub name: String,
    #[serde(flatten)]
    pub result: EdgeResult,
}

impl Edge {
    pub fn object(&self) -> Option<usize> {
        match self.result {
            EdgeResult::Loaded { object } | EdgeResult::Reused { object } => Some(object),
            _ => None,
        }
    }
}

/// A file opened and parsed once per run.
#[derive(Debug)]
pub struct LoadedFile {
    /// (st_dev, st_ino): ld.so's identity of a file.
    pub id: (u64, u64),
    pub path: String,
    pub elf: ElfObject,
    /// The mount this file was reached through is `noexec` (the same file through another mount is
    /// another `LoadedFile` when that mount's verdict differs: [`FileCache`]).
    pub noexec: bool,
    pub size: u64,
    /// Some execute permission bit is set (the kernel runs a program interpreter only then).
    pub executable: bool,
    symbols: OnceLock<Result<Arc<SymbolInfo>, String>>,
    versions: OnceLock<Result<Arc<SymbolInfo>, String>>,
}

impl LoadedFile {
    fn read_with(&self, parse: fn(&[u8]) -> Result<SymbolInfo, String>) -> Result<Arc<SymbolInfo>, String> {
        let file = std::fs::File::open(&self.path).map_err(|e| format!("{}: {e}", self.path))?;
        let bytes = map_file(&file).map_err(|e| format!("{}: {e}", self.path))?;
        parse(&bytes).map(Arc::new).map_err(|e| format!("{}: {e}", self.path))
    }

    /// Symbols, versions and the embedded HDF5 version, read on first use.
    pub fn symbols(&self) -> Result<Arc<SymbolInfo>, String> {
        self.symbols.get_or_init(|| self.read_with(SymbolInfo::parse)).clone()
    }

    /// Whether the object defines each of `names` (answered by [`SymbolInfo::exports`] for those names
    /// only), its versions, and the embedded HDF5 version when `hdf5_version`: from the full symbols when
    /// they were read already, else without reading every symbol (not kept).
    pub fn exports_of(&self, names: &[&str], hdf5_version: bool) -> Result<Arc<SymbolInfo>, String> {
        if let Some(full) = self.symbols.get() {
            return full.clone();
        }
        let file = std::fs::File::open(&self.path).map_err(|e| format!("{}: {e}", self.path))?;
        let bytes = map_file(&file).map_err(|e| format!("{}: {e}", self.path))?;
        SymbolInfo::parse_exports_of(&bytes, names, hdf5_version)
            .map(Arc::new)
            .map_err(|e| format!("{}: {e}", self.path))
    }

    /// Version definitions and needs only (no symbols), read on first use.
    pub fn versions(&self) -> Result<Arc<SymbolInfo>, String> {
        if let Some(full) = self.symbols.get() {
            return full.clone();
        }
        self.versions.get_or_init(|| self.read_with(SymbolInfo::parse_versions)).clone()
    }
}

/// An object in a resolved closure.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
pub struct Node {
    /// The name ld.so knows it by (the path it opened).
    pub path: String,
    /// The name it was first loaded under (the DT_NEEDED, or the path given).
    pub name: String,
    pub soname: Option<String>,
    pub how: How,
    /// The search-list element it came from, before token expansion (`$ORIGIN/../lib`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub entry: Option<String>,
    /// The glibc-hwcaps subdirectory it was found in.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hwcaps: Option<String>,
    /// The legacy hwcap subdirectory (`tls`, `x86_64`, `tls/x86_64`) it was found in.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hwcap_subdir: Option<String>,
    /// The object whose need loaded it (ld.so's `l_loader`).
    pub loader: Option<usize>,
    pub needs: Vec<Edge>,
    /// Why the loader refuses this object (or the program, because of it); empty when it loads.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<LoadError>,
    #[serde(skip)]
    pub file: Arc<LoadedFile>,
    #[serde(skip)]
    names: Vec<String>,
}

/// The closure of one program or library.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
pub struct Resolution {
    /// The path as given.
    pub root: String,
    /// Why the file itself could not be read; then `objects` is empty.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// Index 0 is the root, then load order (preloads, dependencies breadth-first); the loader is
    /// among them when the root is dynamically linked.
    pub objects: Vec<Node>,
    /// Preloaded names and what became of them.
    pub preloads: Vec<Edge>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub interpreter: Option<usize>,
    /// The module opened with dlopen after the program's start-up ([`resolve_dlopen`]).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dlopened: Option<Edge>,
}

/// A missing library of a closure, with who needs it and where it was looked for.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
pub struct MissingLibrary {
    pub name: String,
    pub needed_by: String,
    /// Set when a file was found but could not be loaded.
    pub error: Option<String>,
    pub searched: Vec<Attempt>,
}

impl Resolution {
    /// Every unresolved need, first occurrence of each name, in load order.
    pub fn missing(&self) -> Vec<MissingLibrary> {
        let mut out: Vec<MissingLibrary> = Vec::new();
        let all = self
            .preloads
            .iter()
            .map(|e| (self.root.as_str(), e))
            .chain(self.objects.iter().flat_map(|n| n.needs.iter().map(move |e| (n.path.as_str(), e))));
        for (by, edge) in all {
            let (error, searched) = match &edge.result {
                EdgeResult::Missing { searched } => (None, searched),
                EdgeResult::Failed { error, searched, .. } => (Some(error.clone()), searched),
                _ => continue,
            };
            if out.iter().any(|m| m.name == edge.name) {
                continue;
            }
            out.push(MissingLibrary {
                name: edge.name.clone(),
                needed_by: by.to_string(),
                error,
                searched: searched.clone(),
            });
        }
        out
    }

    /// Every fatal loader error of the closure, with the object it is on, in load order.
    pub fn load_errors(&self) -> impl Iterator<Item = (&Node, &LoadError)> {
        self.objects.iter().flat_map(|n| n.errors.iter().map(move |e| (n, e)))
    }

    /// Whether the program would start: readable, every library found and loadable, no fatal
    /// loader error.
    pub fn starts(&self) -> bool {
        self.error.is_none() && self.missing().is_empty() && self.load_errors().next().is_none()
    }

    /// What `ldd` prints: (name, path) per loaded object other than the root, and (name, None) for
    /// each name not found. The dynamic loader counts only when something needs it (ld.so takes its
    /// own map out of the list otherwise). Empty for an object without DT_NEEDED (`ldd` says
    /// "statically linked").
    pub fn ldd_view(&self) -> Vec<(String, Option<String>)> {
        let Some(root) = self.objects.first() else {
            return Vec::new();
        };
        if root.file.elf.needed.is_empty() {
            return Vec::new();
        }
        let loader_used = self.interpreter.is_some_and(|i| {
            self.preloads
                .iter()
                .chain(self.objects.iter().flat_map(|n| n.needs.iter()))
                .any(|e| e.object() == Some(i))
        });
        let mut out: Vec<(String, Option<String>)> = self.objects[1..]
            .iter()
            .filter(|n| n.how != How::Interpreter || loader_used)
            .map(|n| {
                let name = if n.how == How::Interpreter {
                    n.soname.clone().unwrap_or_else(|| n.name.clone())
                } else {
                    n.name.clone()
                };
                (name, Some(n.path.clone()))
            })
            .collect();
        for m in self.missing() {
            out.push((m.name, None));
        }
        out
    }
}

/// What opening one candidate path gave.
#[derive(Debug, Clone)]
enum Opened {
    File(Arc<LoadedFile>),
    /// The file does not exist (or a directory on the way does not).
    Absent,
    /// It exists but cannot be opened or mapped; `true` when this user may not (EACCES).
    Unreadable(String, bool),
    /// It exists but is not a valid ELF object.
    Invalid(String),
}

/// A file (device, inode) and whether the mount it was reached through is `noexec`: what [`FileCache`]
/// shares a parsed file by.
type FileThroughMount = ((u64, u64), bool);

/// Files opened and parsed during a run, shared by every resolution (and thread).
///
/// A path always leads through the same mounts during a run, so `paths` keys by the path. A file does
/// not: one file (one device and inode) can be reached through two mounts of which only one is
/// `noexec` (a directory bind-mounted twice), and each program maps it through the mount its own path
/// crosses, so the loader starts one and refuses the other. Within one closure ld.so reuses a file it
/// already mapped, whatever path reaches it again ([`LoadedFile::id`], compared by the resolver); across
/// programs nothing is shared. So the parsed file is shared by `(device, inode, noexec)`: the verdict of
/// the mount, the only thing about a loaded file the resolver takes from the mount, is part of the key
/// (asked once per mount ID), and a file reached through exec and noexec mounts is two entries.
#[derive(Default)]
pub struct FileCache {
    /// The files are parsed without their symbol version tables ([`FileCache::without_versions`]).
    without_versions: bool,
    paths: Mutex<FxHashMap<String, Opened>>,
    ids: Mutex<FxHashMap<FileThroughMount, Arc<LoadedFile>>>,
    dirs: Mutex<FxHashMap<String, bool>>,
    /// Whether each mount (by its mount ID) is `noexec`.
    noexec_mounts: Mutex<FxHashMap<u64, bool>>,
}

/// What the resolver needs of an open file's status.
struct FileStatus {
    id: (u64, u64),
    size: u64,
    mode: u32,
    is_dir: bool,
    /// The ID of the mount the file was opened through (statx's STATX_MNT_ID, Linux >= 5.8).
    mount_id: Option<u64>,
}

impl FileStatus {
    /// One statx of the open file (with the mount ID); std's fstat where statx is unavailable.
    fn of(file: &std::fs::File) -> std::io::Result<Self> {
        use rustix::fs::{AtFlags, StatxFlags};
        match rustix::fs::statx(file, "", AtFlags::EMPTY_PATH, StatxFlags::BASIC_STATS | StatxFlags::MNT_ID) {
            Ok(st) => Ok(FileStatus {
                id: (rustix::fs::makedev(st.stx_dev_major, st.stx_dev_minor), st.stx_ino),
                size: st.stx_size,
                mode: u32::from(st.stx_mode),
                is_dir: u32::from(st.stx_mode) & libc::S_IFMT == libc::S_IFDIR,
                mount_id: (st.stx_mask & StatxFlags::MNT_ID.bits() != 0).then_some(st.stx_mnt_id),
            }),
            Err(_) => {
                let meta = file.metadata()?;
                Ok(FileStatus {
                    id: (meta.dev(), meta.ino()),
                    size: meta.len(),
                    mode: meta.mode(),
                    is_dir: meta.is_dir(),
                    mount_id: None,
                })
            }
        }
    }
}

impl FileCache {
    pub fn new() -> Self {
        Self::default()
    }

    /// A cache for resolutions that are read only for which files the loader maps (root vetting,
    /// `crate::trust`): the files' symbol version tables are not read, so such a resolution finds no
    /// missing version (`LoadErrorKind::VersionMissing`); which files it maps, and from where, are the
    /// same (the loader's search never looks at versions).
    pub fn without_versions() -> Self {
        FileCache {
            without_versions: true,
            ..Self::default()
        }
    }

    fn open(&self, path: &str, cwd: &Path) -> Opened {
        if let Some(o) = self.paths.lock().expect("cache lock").get(path) {
            return o.clone();
        }
        let opened = self.open_uncached(path, cwd);
        self.paths.lock().expect("cache lock").insert(path.to_string(), opened.clone());
        opened
    }

    fn open_uncached(&self, path: &str, cwd: &Path) -> Opened {
        let full = if path.starts_with('/') {
            Path::new(path).to_path_buf()
        } else {
            cwd.join(path)
        };
        let file = match std::fs::File::open(&full) {
            Ok(f) => f,
            Err(e) if matches!(e.kind(), std::io::ErrorKind::NotFound | std::io::ErrorKind::NotADirectory) => return Opened::Absent,
            Err(e) => return Opened::Unreadable(e.to_string(), e.kind() == std::io::ErrorKind::PermissionDenied),
        };
        let status = match FileStatus::of(&file) {
            Ok(m) => m,
            Err(e) => return Opened::Unreadable(e.to_string(), false),
        };
        if status.is_dir {
            return Opened::Unreadable("is a directory".into(), false);
        }
        let id = status.id;
        let noexec = self.on_noexec_mount(&file, status.mount_id);
        if let Some(f) = self.ids.lock().expect("cache lock").get(&(id, noexec)) {
            return Opened::File(f.clone());
        }
        let parse = if self.without_versions {
            ElfObject::parse_file_without_versions
        } else {
            ElfObject::parse_file
        };
        match parse(&file, status.size) {
            Ok(elf) => {
                let loaded = Arc::new(LoadedFile {
                    id,
                    path: full.to_string_lossy().into_owned(),
                    noexec,
                    size: status.size,
                    executable: status.mode & 0o111 != 0,
                    elf,
                    symbols: OnceLock::new(),
                    versions: OnceLock::new(),
                });
                self.ids
                    .lock()
                    .expect("cache lock")
                    .entry((id, noexec))
                    .or_insert_with(|| loaded.clone());
                Opened::File(loaded)
            }
            Err(e) => Opened::Invalid(e),
        }
    }

    /// Whether a directory exists (cached).
    fn dir_exists(&self, dir: &str) -> bool {
        if let Some(&b) = self.dirs.lock().expect("cache lock").get(dir) {
            return b;
        }
        let b = Path::new(dir).is_dir();
        self.dirs.lock().expect("cache lock").insert(dir.to_string(), b);
        b
    }

    /// Reads one file (for the inventory), sharing the parse with resolutions.
    pub fn file(&self, path: &str) -> Result<Arc<LoadedFile>, String> {
        match self.open(path, Path::new("/")) {
            Opened::File(f) => Ok(f),
            Opened::Absent => Err(format!("{path}: no such file")),
            Opened::Unreadable(e, _) | Opened::Invalid(e) => Err(format!("{path}: {e}")),
        }
    }

    /// Whether the open file lies on a mount with `noexec` (fstatvfs: the flag of the very mount the
    /// file was opened through, bind mounts included). `noexec` is a flag of the mount, not of the
    /// file system (a bind mount of the same device may differ; `statfs` reports ST_NOEXEC from the
    /// mount's flags only), so one answer per mount ID serves every file opened through that mount.
    /// Without a mount ID (Linux < 5.8) every file is asked.
    fn on_noexec_mount(&self, file: &std::fs::File, mount_id: Option<u64>) -> bool {
        let ask = || rustix::fs::fstatvfs(file).is_ok_and(|st| st.f_flag.contains(rustix::fs::StatVfsMountFlags::NOEXEC));
        let Some(mount_id) = mount_id else {
            return ask();
        };
        if let Some(&noexec) = self.noexec_mounts.lock().expect("cache lock").get(&mount_id) {
            return noexec;
        }
        let noexec = ask();
        self.noexec_mounts.lock().expect("cache lock").insert(mount_id, noexec);
        noexec
    }
}

/// The mount point a path lies under and its mount options, from /proc/self/mountinfo (the last,
/// longest mount point that is a prefix of the path's real location).
pub fn mount_of(path: &str) -> Option<(String, String)> {
    let real = std::fs::canonicalize(path).ok()?;
    let info = std::fs::read_to_string("/proc/self/mountinfo").ok()?;
    let unescape = |s: &str| {
        s.replace("\\040", " ")
            .replace("\\011", "\t")
            .replace("\\012", "\n")
            .replace("\\134", "\\")
    };
    let mut best: Option<(String, String)> = None;
    for line in info.lines() {
        let fields: Vec<&str> = line.split(' ').collect();
        let (Some(point), Some(options)) = (fields.get(4), fields.get(5)) else {
            continue;
        };
        let point = unescape(point);
        if real.starts_with(&point) && best.as_ref().is_none_or(|(b, _)| point.len() >= b.len()) {
            best = Some((point, options.to_string()));
        }
    }
    best
}

/// A library found by a search.
struct Found {
    file: Arc<LoadedFile>,
    /// The path it was opened at.
    path: String,
    how: How,
    /// The search-list element, unexpanded.
    entry: Option<String>,
    /// The glibc-hwcaps subdirectory it was found in.
    hwcaps: Option<String>,
    /// The legacy hwcap subdirectory it was found in.
    hwcap_subdir: Option<String>,
}

impl Found {
    fn new(file: Arc<LoadedFile>, path: String, how: How) -> Self {
        Found {
            file,
            path,
            how,
            entry: None,
            hwcaps: None,
            hwcap_subdir: None,
        }
    }
}

/// What one candidate gave during a search.
enum Try {
    Found(Arc<LoadedFile>),
    Next(Attempt),
    /// Stop the search: ld.so reports this file's error.
    Fatal(String, Attempt),
}

/// The hwcap subdirectories of one search directory that exist, in the loader's order.
struct Subdirs {
    /// The active glibc-hwcaps subdirectories (`x86-64-v3`) present under `DIR/glibc-hwcaps/`.
    hwcaps: Vec<String>,
    /// The legacy hwcap subdirectories (`tls`, `x86_64`) present, looked up when first searched.
    legacy: OnceCell<Vec<String>>,
}

/// One resolution in progress.
struct Resolver<'a> {
    cfg: &'a LoaderConfig,
    cache: &'a FileCache,
    /// Per search directory, its hwcap subdirectories.
    subdirs: RefCell<FxHashMap<String, Rc<Subdirs>>>,
    objects: Vec<Node>,
    origins: Vec<Option<String>>,
    /// Resolving a module for dlopen: errors reach the caller (dlerror), without the program's name.
    dlopen: bool,
}

impl<'a> Resolver<'a> {
    fn verify(&self, path: &str, source: &str, main_arch: super::object::Arch) -> Try {
        let attempt = |result: String| Attempt {
            path: Some(path.to_string()),
            source: source.to_string(),
            result,
            denied: false,
        };
        match self.cache.open(path, &self.cfg.cwd) {
            Opened::Absent => Try::Next(attempt("not found".into())),
            Opened::Unreadable(e, denied) => Try::Next(Attempt {
                denied,
                ..attempt(format!("cannot open: {e}"))
            }),
            Opened::Invalid(e) => Try::Fatal(e.clone(), attempt(e)),
            Opened::File(f) => {
                let a = f.elf.arch;
                if a.is_64 != main_arch.is_64 || a.little_endian != main_arch.little_endian {
                    Try::Next(attempt(format!("skipped: wrong ELF class ({})", a.describe())))
                } else if a.machine != main_arch.machine {
                    Try::Next(attempt(format!("skipped: wrong machine ({})", a.describe())))
                } else {
                    Try::Found(f)
                }
            }
        }
    }

    /// One candidate of a search list: found (then `label` adds where in the list it was), skipped with
    /// the reason recorded in `attempts`, or a fatal error that ends the search (as ld.so stops there).
    fn try_candidate(
        &self,
        path: String,
        how: &How,
        attempts: &mut Vec<Attempt>,
        label: impl FnOnce(Found) -> Found,
    ) -> Result<Option<Found>, String> {
        let arch = self.objects[0].file.elf.arch;
        match self.verify(&path, &how.describe(), arch) {
            Try::Found(f) => Ok(Some(label(Found::new(f, path, how.clone())))),
            Try::Next(a) => {
                attempts.push(a);
                Ok(None)
            }
            Try::Fatal(e, a) => {
                attempts.push(a);
                Err(format!("{path}: {e}"))
            }
        }
    }

    /// Tries `name` in each directory of a search list: the active glibc-hwcaps subdirectories first,
    /// then the legacy hwcap subdirectories (glibc <= 2.36), then the directory itself.
    fn try_dirs(&self, name: &str, dirs: &[(String, String)], how: &How, attempts: &mut Vec<Attempt>) -> Result<Option<Found>, String> {
        for (template, dir) in dirs {
            let entry = Some(template.clone());
            let subdirs = self.subdirs_of(dir);
            for sub in &subdirs.hwcaps {
                let hwcaps = Some(sub.clone());
                let label = |found: Found| Found {
                    entry: entry.clone(),
                    hwcaps,
                    ..found
                };
                if let Some(found) = self.try_candidate(format!("{dir}glibc-hwcaps/{sub}/{name}"), how, attempts, label)? {
                    return Ok(Some(found));
                }
            }
            let legacy = subdirs.legacy.get_or_init(|| {
                let exists = |d: &str| self.cache.dir_exists(d);
                self.cfg.legacy_subdirs(dir, &exists).into_iter().map(String::from).collect()
            });
            for sub in legacy {
                let hwcap_subdir = Some(sub.clone());
                let label = |found: Found| Found {
                    entry: entry.clone(),
                    hwcap_subdir,
                    ..found
                };
                if let Some(found) = self.try_candidate(format!("{dir}{sub}/{name}"), how, attempts, label)? {
                    return Ok(Some(found));
                }
            }
            let label = |found: Found| Found {
                entry: entry.clone(),
                ..found
            };
            if let Some(found) = self.try_candidate(format!("{dir}{name}"), how, attempts, label)? {
                return Ok(Some(found));
            }
        }
        Ok(None)
    }

    /// The hwcap subdirectories of a search directory that exist, looked up once per resolution (a
    /// directory is searched for many names).
    fn subdirs_of(&self, dir: &str) -> Rc<Subdirs> {
        if let Some(s) = self.subdirs.borrow().get(dir) {
            return s.clone();
        }
        let hwcaps = if self.cache.dir_exists(&format!("{dir}glibc-hwcaps")) {
            self.cfg
                .hwcaps()
                .iter()
                .filter(|sub| self.cache.dir_exists(&format!("{dir}glibc-hwcaps/{sub}/")))
                .cloned()
                .collect()
        } else {
            Vec::new()
        };
        let s = Rc::new(Subdirs {
            hwcaps,
            legacy: OnceCell::new(),
        });
        self.subdirs.borrow_mut().insert(dir.to_string(), s.clone());
        s
    }

    /// The search of `_dl_map_object` for a name without a slash.
    fn search(&self, name: &str, loader: usize, attempts: &mut Vec<Attempt>) -> Result<Option<Found>, String> {
        let req = &self.objects[loader];
        let skipped = |source: &str, why: &str| Attempt {
            path: None,
            source: source.to_string(),
            result: why.to_string(),
            denied: false,
        };
        // 1. DT_RPATH of the loader chain, unless the requester has DT_RUNPATH.
        if req.file.elf.runpath.is_empty() {
            let mut at = Some(loader);
            let mut depth = 0;
            while let Some(i) = at {
                let o = &self.objects[i];
                if o.file.elf.runpath.is_empty() {
                    for rpath in &o.file.elf.rpath {
                        let dirs = self.cfg.split_dirs(rpath, self.origins[i].as_deref());
                        let how = How::Rpath { of: o.path.clone(), depth };
                        if let Some(found) = self.try_dirs(name, &dirs, &how, attempts)? {
                            return Ok(Some(found));
                        }
                    }
                }
                at = o.loader;
                depth += 1;
            }
        } else if self.chain_has_rpath(loader) {
            attempts.push(skipped(
                "DT_RPATH",
                &format!("not searched: {} has DT_RUNPATH, which disables DT_RPATH", req.path),
            ));
        }
        // 2. LD_LIBRARY_PATH, with tokens relative to the program.
        match &self.cfg.ld_library_path {
            Some(llp) => {
                let dirs = self.cfg.split_dirs(llp, self.origins[0].as_deref());
                if let Some(found) = self.try_dirs(name, &dirs, &How::LdLibraryPath, attempts)? {
                    return Ok(Some(found));
                }
            }
            None => attempts.push(skipped("LD_LIBRARY_PATH", "not set")),
        }
        // 3. DT_RUNPATH of the requester only.
        for runpath in &req.file.elf.runpath {
            let dirs = self.cfg.split_dirs(runpath, self.origins[loader].as_deref());
            let how = How::Runpath { of: req.path.clone() };
            if let Some(found) = self.try_dirs(name, &dirs, &how, attempts)? {
                return Ok(Some(found));
            }
        }
        let nodeflib = req.file.elf.nodeflib;
        // 4. /etc/ld.so.cache.
        let arch = self.objects[0].file.elf.arch;
        let cache_source = self.cfg.cache_path.display().to_string();
        match &self.cfg.cache {
            Err(e) => attempts.push(skipped(&cache_source, &format!("unreadable: {e}"))),
            Ok(cache) => {
                let flags = super::ldcache::expected_flags(arch.machine, arch.is_64).unwrap_or(-1);
                match cache.lookup(name, flags, &|| self.cfg.hwcaps()) {
                    None => attempts.push(skipped(&cache_source, "no entry")),
                    Some(e) if nodeflib && self.cfg.in_system_dir(&e.path) => attempts.push(Attempt {
                        path: Some(e.path.clone()),
                        source: cache_source.clone(),
                        result: format!("skipped: {} has DF_1_NODEFLIB", req.path),
                        denied: false,
                    }),
                    Some(e) => match self.verify(&e.path, &cache_source, arch) {
                        Try::Found(f) => {
                            return Ok(Some(Found {
                                hwcaps: e.hwcaps,
                                ..Found::new(f, e.path.clone(), How::LdSoCache)
                            }))
                        }
                        Try::Next(a) => attempts.push(a),
                        Try::Fatal(err, a) => {
                            attempts.push(a);
                            return Err(format!("{}: {err}", e.path));
                        }
                    },
                }
            }
        }
        // 5. The default directories.
        if nodeflib {
            attempts.push(skipped(
                "default directories",
                &format!("not searched: {} has DF_1_NODEFLIB", req.path),
            ));
        } else {
            let dirs: Vec<(String, String)> = self.cfg.system_dirs.iter().map(|d| (d.clone(), d.clone())).collect();
            if let Some(found) = self.try_dirs(name, &dirs, &How::DefaultPath, attempts)? {
                return Ok(Some(found));
            }
        }
        Ok(None)
    }

    fn chain_has_rpath(&self, from: usize) -> bool {
        let mut at = Some(from);
        while let Some(i) = at {
            if !self.objects[i].file.elf.rpath.is_empty() {
                return true;
            }
            at = self.objects[i].loader;
        }
        false
    }

    /// An already loaded object answering to `name` (its opened path, a name it was loaded under, or
    /// its SONAME), as `_dl_map_object`'s first loop.
    fn loaded_by_name(&mut self, name: &str) -> Option<usize> {
        let i = self
            .objects
            .iter()
            .position(|o| o.path == name || o.names.iter().any(|n| n == name) || o.soname.as_deref() == Some(name))?;
        if !self.objects[i].names.iter().any(|n| n == name) {
            self.objects[i].names.push(name.to_string());
        }
        Some(i)
    }

    /// `_dl_map_object`: reuse, or find and load `name` for `loader`.
    fn map_object(&mut self, name: &str, loader: usize, preload_from: Option<&str>) -> EdgeResult {
        if let Some(i) = self.loaded_by_name(name) {
            return EdgeResult::Reused { object: i };
        }
        let mut searched = Vec::new();
        let found = if name.contains('/') {
            let arch = self.objects[0].file.elf.arch;
            let Some(path) = self.cfg.expand(name, self.origins[loader].as_deref()) else {
                return EdgeResult::Missing {
                    searched: vec![Attempt {
                        path: Some(name.to_string()),
                        source: "direct".into(),
                        result: "cannot expand $ORIGIN".into(),
                        denied: false,
                    }],
                };
            };
            match self.verify(&path, "path in DT_NEEDED", arch) {
                Try::Found(f) => Ok(Some(Found::new(f, path.clone(), How::Direct))),
                Try::Next(a) => {
                    searched.push(a);
                    Ok(None)
                }
                Try::Fatal(e, a) => {
                    searched.push(a);
                    Err(format!("{path}: {e}"))
                }
            }
        } else {
            self.search(name, loader, &mut searched)
        };
        let Found {
            file,
            path,
            how,
            entry,
            hwcaps,
            hwcap_subdir,
        } = match found {
            Ok(Some(f)) => f,
            Ok(None) => return EdgeResult::Missing { searched },
            Err(error) => {
                let path = searched.last().and_then(|a| a.path.clone()).unwrap_or_default();
                return EdgeResult::Failed { path, error, searched };
            }
        };
        if let Some(i) = self.objects.iter().position(|o| o.file.id == file.id) {
            if !self.objects[i].names.iter().any(|n| n == name) {
                self.objects[i].names.push(name.to_string());
            }
            return EdgeResult::Reused { object: i };
        }
        if file.elf.e_type != goblin::elf::header::ET_DYN {
            return EdgeResult::Failed {
                path: path.clone(),
                error: format!("{path}: cannot dynamically load executable"),
                searched,
            };
        }
        let how = match preload_from {
            Some(from) => How::Preload { from: from.to_string() },
            None => how,
        };
        let origin = self.cfg.origin_of(&path);
        self.objects.push(Node {
            soname: file.elf.soname.clone(),
            names: vec![name.to_string()],
            name: name.to_string(),
            path,
            how,
            entry,
            hwcaps,
            hwcap_subdir,
            loader: Some(loader),
            needs: Vec::new(),
            errors: Vec::new(),
            file,
        });
        self.origins.push(origin);
        EdgeResult::Loaded {
            object: self.objects.len() - 1,
        }
    }
}

/// Resolves the closure of one file.
pub fn resolve(path: &str, cfg: &LoaderConfig, cache: &FileCache) -> Resolution {
    resolve_inner(path, None, cfg, cache)
}

fn resolve_inner(path: &str, dlopen: Option<&str>, cfg: &LoaderConfig, cache: &FileCache) -> Resolution {
    let mut res = Resolution {
        root: path.to_string(),
        error: None,
        objects: Vec::new(),
        preloads: Vec::new(),
        interpreter: None,
        dlopened: None,
    };
    let root = match cache.open(path, &cfg.cwd) {
        Opened::File(f) => f,
        Opened::Absent => {
            res.error = Some(format!("{path}: no such file"));
            return res;
        }
        Opened::Unreadable(e, _) | Opened::Invalid(e) => {
            res.error = Some(format!("{path}: {e}"));
            return res;
        }
    };
    let mut r = Resolver {
        cfg,
        cache,
        objects: vec![Node {
            path: path.to_string(),
            name: path.to_string(),
            soname: root.elf.soname.clone(),
            how: How::Main,
            entry: None,
            hwcaps: None,
            hwcap_subdir: None,
            loader: None,
            needs: Vec::new(),
            errors: Vec::new(),
            names: vec![path.to_string()],
            file: root.clone(),
        }],
        origins: vec![cfg.origin_of(path)],
        dlopen: dlopen.is_some(),
        subdirs: RefCell::default(),
    };
    if !root.elf.dynamic {
        // A PT_INTERP is run by the kernel even without PT_DYNAMIC.
        if let Some(interp) = &root.elf.interpreter {
            let opened = cache.open(interp, &cfg.cwd);
            r.objects[0]
                .errors
                .extend(interpreter_problem(path, interp, &opened, root.elf.arch));
        }
        res.objects = r.objects;
        return res;
    }
    // The dynamic loader is in the link map from the start.
    let interp = root
        .elf
        .interpreter
        .clone()
        .or_else(|| root.elf.arch.default_interpreter().map(str::to_string));
    if let Some(interp) = interp {
        let opened = cache.open(&interp, &cfg.cwd);
        // Only a program's own PT_INTERP is run by the kernel; a library's stand-in is not checked.
        let problem = root
            .elf
            .interpreter
            .as_ref()
            .and_then(|_| interpreter_problem(path, &interp, &opened, root.elf.arch));
        match opened {
            Opened::File(f) if problem.is_none() => {
                r.objects.push(Node {
                    path: interp.clone(),
                    name: interp.clone(),
                    soname: f.elf.soname.clone(),
                    how: How::Interpreter,
                    entry: None,
                    hwcaps: None,
                    hwcap_subdir: None,
                    loader: None,
                    needs: Vec::new(),
                    errors: Vec::new(),
                    names: vec![interp.clone()],
                    file: f,
                });
                r.origins.push(cfg.origin_of(&interp));
                res.interpreter = Some(1);
            }
            _ => r.objects[0].errors.extend(problem),
        }
    }
    let mut queue = std::collections::VecDeque::from([0usize]);
    for (name, from) in cfg.preloads() {
        let result = r.map_object(&name, 0, Some(from));
        if let EdgeResult::Loaded { object } = result {
            queue.push_back(object);
        }
        res.preloads.push(Edge { name, result });
    }
    r.load_needs(queue);
    if let Some(module) = dlopen {
        // dlopen maps the module for its caller: the program's libpython when it has one, else the
        // program itself; the module's DT_RPATH search then goes on up that chain to the program.
        let caller = r
            .objects
            .iter()
            .position(|o| {
                o.soname
                    .as_deref()
                    .is_some_and(|s| super::libraries::classify(s) == Some(super::libraries::Kind::Python))
            })
            .unwrap_or(0);
        let result = r.map_object(module, caller, None);
        if let EdgeResult::Loaded { object } = result {
            r.load_needs(std::collections::VecDeque::from([object]));
        }
        res.dlopened = Some(Edge {
            name: module.to_string(),
            result,
        });
    }
    r.check_loadable(&res.preloads);
    res.objects = r.objects;
    res
}

/// What the kernel makes of a program's PT_INTERP (`load_elf_binary`): `None` when it can run it.
fn interpreter_problem(program: &str, interp: &str, opened: &Opened, arch: super::object::Arch) -> Option<LoadError> {
    let error = |kind, errno: &str, why: String| LoadError {
        kind,
        file: interp.to_string(),
        version: None,
        mount: None,
        loader_says: if kind == LoadErrorKind::InterpreterMissing {
            format!("bash: {program}: cannot execute: required file not found (execve: {errno})")
        } else {
            format!("{program}: {errno}")
        },
        explanation: why,
    };
    let built_for = if interp.contains("musl") {
        "musl libc, not glibc".to_string()
    } else {
        arch.describe()
    };
    Some(match opened {
        Opened::Absent => error(
            LoadErrorKind::InterpreterMissing,
            "No such file or directory",
            format!(
                "its program interpreter (PT_INTERP) {interp} does not exist on this node: the program was built for another system ({built_for}), so the kernel cannot start it although the file is there"
            ),
        ),
        Opened::Unreadable(e, _) => error(
            LoadErrorKind::InterpreterUnusable,
            "Permission denied",
            format!("its program interpreter {interp} cannot be opened ({e})"),
        ),
        Opened::Invalid(e) => {
            // The kernel reads a whole ELF header first: a shorter file is a read error.
            let errno = if std::fs::metadata(interp).is_ok_and(|m| m.len() < 64) {
                "Input/output error"
            } else {
                "Accessing a corrupted shared library"
            };
            error(
                LoadErrorKind::InterpreterUnusable,
                errno,
                format!("its program interpreter {interp} is not an ELF loader ({e})"),
            )
        }
        Opened::File(f) if !f.executable || f.noexec => error(
            LoadErrorKind::InterpreterUnusable,
            "Permission denied",
            format!(
                "its program interpreter {interp} {}",
                if f.noexec {
                    "lies on a file system mounted noexec"
                } else {
                    "has no execute permission"
                }
            ),
        ),
        Opened::File(f) if f.elf.arch != arch => error(
            LoadErrorKind::InterpreterUnusable,
            "Accessing a corrupted shared library",
            format!(
                "its program interpreter {interp} is {}, the program {}: the kernel refuses the pair",
                f.elf.arch.describe(),
                arch.describe()
            ),
        ),
        Opened::File(_) => return None,
    })
}

/// The closure of `module` as `program` loads it at run time with `dlopen` (a Python extension module
/// imported by an interpreter): the program's own closure and preloads are in place first, so names
/// already loaded are reused, and the module's DT_RPATH search continues with its caller's and the
/// program's. `dlopened` tells what became of the module; its needs are in its node.
pub fn resolve_dlopen(program: &str, module: &str, cfg: &LoaderConfig, cache: &FileCache) -> Resolution {
    resolve_inner(program, Some(module), cfg, cache)
}

impl Resolver<'_> {
    /// The prefix of ld.so's fatal messages: the program's name when the root is a program
    /// (`./prog: error while loading shared libraries: `); nothing for a library, whose errors reach
    /// the caller of dlopen.
    fn message_prefix(&self, startup: bool) -> String {
        let root = &self.objects[0];
        if self.dlopen {
            return String::new();
        }
        match (&root.file.elf.interpreter, startup) {
            (Some(_), true) => format!("{}: error while loading shared libraries: ", root.path),
            (Some(_), false) => format!("{}: ", root.path),
            (None, _) => String::new(),
        }
    }

    /// The loader's fatal checks after mapping (besides "not found"): objects on a `noexec` mount,
    /// libraries skipped because this user cannot read them, and `_dl_check_map_versions`.
    fn check_loadable(&mut self, preloads: &[Edge]) {
        let prefix = self.message_prefix(true);
        for i in 0..self.objects.len() {
            let node = &self.objects[i];
            if node.how == How::Interpreter || !node.file.noexec || !node.file.elf.exec_segment {
                continue;
            }
            let mount = mount_of(&node.path);
            let on = mount.as_ref().map_or_else(String::new, |(m, o)| format!(" {m} ({o})"));
            let (loader_says, how) = if i == 0 && node.file.elf.interpreter.is_some() {
                (format!("{}: Permission denied", node.path), "the kernel may not execute it")
            } else if i == 0 {
                (
                    format!("{}: failed to map segment from shared object", node.path),
                    "ld.so cannot map its code",
                )
            } else {
                (
                    format!("{prefix}{}: failed to map segment from shared object", node.name),
                    "ld.so cannot map its code",
                )
            };
            let error = LoadError {
                kind: LoadErrorKind::NoexecMount,
                file: node.path.clone(),
                version: None,
                mount: mount.map(|(m, _)| m),
                loader_says,
                explanation: format!("{} lies on the file system mounted noexec at{on}: {how}", node.path),
            };
            self.objects[i].errors.push(error);
        }
        // A need that ends "not found" although a file exists where the loader looked, unreadable to
        // this user: ld.so skips it silently and reports only "No such file or directory".
        let edges: Vec<(usize, Edge)> = preloads
            .iter()
            .map(|e| (0, e.clone()))
            .chain(
                self.objects
                    .iter()
                    .enumerate()
                    .flat_map(|(i, n)| n.needs.iter().map(move |e| (i, e.clone()))),
            )
            .collect();
        for (i, edge) in edges {
            let EdgeResult::Missing { searched } = &edge.result else { continue };
            for denied in searched.iter().filter(|a| a.denied) {
                let file = denied.path.clone().unwrap_or_default();
                self.objects[i].errors.push(LoadError {
                    kind: LoadErrorKind::Unreadable,
                    version: None,
                    mount: None,
                    loader_says: format!(
                        "{prefix}{}: cannot open shared object file: No such file or directory",
                        edge.name
                    ),
                    explanation: format!(
                        "{file} is where the loader looks for {} ({}), but this user cannot read it: the loader skips it and finds no other",
                        edge.name, denied.source
                    ),
                    file,
                });
            }
        }
        self.check_versions();
    }

    /// `_dl_check_map_versions`: every version an object needs (DT_VERNEED) must be defined by the
    /// object loaded under that name, unless that object has no version definitions or the need is
    /// weak.
    fn check_versions(&mut self) {
        let prefix = self.message_prefix(false);
        let mut found = Vec::new();
        for (i, node) in self.objects.iter().enumerate() {
            if node.how == How::Interpreter && i != 0 {
                continue; // ld.so checks itself when it is built
            }
            for need in &node.file.elf.version_needs {
                let provider = node.needs.iter().find(|e| e.name == need.file).and_then(Edge::object).or_else(|| {
                    self.objects
                        .iter()
                        .position(|o| o.soname.as_deref() == Some(need.file.as_str()) || o.names.contains(&need.file))
                });
                let Some(p) = provider.map(|p| &self.objects[p]) else { continue };
                for version in need.versions.iter().filter(|v| !need.weak.contains(v)) {
                    if p.file.elf.defines_version(version) {
                        continue;
                    }
                    found.push((
                        i,
                        LoadError {
                            kind: LoadErrorKind::VersionMissing,
                            file: p.path.clone(),
                            version: Some(version.clone()),
                            mount: None,
                            loader_says: format!("{prefix}{}: version `{version}' not found (required by {})", p.path, node.path),
                            explanation: format!(
                                "{} needs version {version} of {}, but the {} loaded for it ({}) does not define it: it was built against a newer or different build of that library",
                                node.path,
                                need.file,
                                need.file,
                                p.path
                            ),
                        },
                    ));
                }
            }
        }
        for (i, e) in found {
            self.objects[i].errors.push(e);
        }
    }

    /// Maps the DT_NEEDED of every object in `queue` and of what they load, breadth-first.
    fn load_needs(&mut self, mut queue: std::collections::VecDeque<usize>) {
        while let Some(i) = queue.pop_front() {
            let needed = self.objects[i].file.elf.needed.clone();
            for name in needed {
                let result = self.map_object(&name, i, None);
                if let EdgeResult::Loaded { object } = result {
                    queue.push_back(object);
                }
                self.objects[i].needs.push(Edge { name, result });
            }
        }
    }
}

/// Resolves many files in parallel, sharing every parsed dependency.
pub fn resolve_all(paths: &[String], cfg: &LoaderConfig, cache: &FileCache) -> Vec<Resolution> {
    resolve_each(paths, cfg, cache, |r| r)
}

/// Resolves many files in parallel and hands each resolution to `then` at once (in the files' order in
/// the result): what `then` keeps (a rendered file) is all that stays in memory, not every closure.
pub fn resolve_each<T: Send>(paths: &[String], cfg: &LoaderConfig, cache: &FileCache, then: impl Fn(Resolution) -> T + Sync) -> Vec<T> {
    use rayon::prelude::*;
    if paths.len() == 1 {
        // No thread pool for one file: starting it costs more than the work.
        return vec![then(resolve(&paths[0], cfg, cache))];
    }
    paths.par_iter().map(|p| then(resolve(p, cfg, cache))).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_resolution_without_version_tables_maps_the_same_files_from_the_same_places() {
        let cfg = LoaderConfig::from_env();
        let program = "/usr/lib/x86_64-linux-gnu/libhdf5_serial.so.103";
        let full = resolve(program, &cfg, &FileCache::new());
        let lean = resolve(program, &cfg, &FileCache::without_versions());
        let mapped = |r: &Resolution| r.objects.iter().map(|n| (n.path.clone(), n.how.clone())).collect::<Vec<_>>();
        assert!(full.objects.len() > 10, "{:?}", mapped(&full));
        assert_eq!(mapped(&lean), mapped(&full));
        assert!(lean.objects.iter().all(|n| n.file.elf.version_needs.is_empty()));
    }
}
