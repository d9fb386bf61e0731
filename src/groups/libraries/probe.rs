//! Library probe (group `libraries`): the HDF5, MPI and Python libraries a job can see, and the
//! shared-library closure of each `--binary`, through h5doctor's own ELF resolver (`crate::elf`). It
//! reads files and never runs them.
//!
//! Visible means: in /etc/ld.so.cache, in LD_LIBRARY_PATH or CRAY_LD_LIBRARY_PATH, under the prefix a
//! loaded module or environment names ($HDF5_DIR, $MPI_HOME, $CONDA_PREFIX, ...), in a wheel's
//! `site-packages/*.libs`, or in LD_PRELOAD. For a closure it records what is missing (with every place
//! looked and where a file of that name does exist), undefined H5*/MPI_* symbols, symbol versions the
//! loaded library lacks (`GLIBC_2.xx not found`), every libhdf5 and MPI library, and an HDF5 that is not
//! the one an importer was built against.

use crate::elf::libraries::{self as kinds, Kind};
use crate::elf::resolve::{How, LoadErrorKind, LoadedFile, Resolution};
use crate::elf::symbols::{compare_versions, SymbolInfo};
use crate::elf::{resolve, FileCache, LoaderConfig};
use crate::facts::libraries::{
    BinaryFacts, ClosureLib, Hdf5Mismatch, LibrariesFacts, LibraryInfo, LoadFailure, MissingLib, MissingVersion, UndefinedRef,
};
use crate::facts::values::MpiFamily;
use crate::facts::ProbeStatus;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Environment variables naming an installation prefix that modules and environments set.
const PREFIX_VARS: &[&str] = &[
    "HDF5_DIR",
    "HDF5_ROOT",
    "HDF5_HOME",
    "CRAY_HDF5_DIR",
    "CRAY_HDF5_PARALLEL_DIR",
    "MPI_HOME",
    "MPI_ROOT",
    "MPICH_DIR",
    "CRAY_MPICH_DIR",
    "OMPI_HOME",
    "CONDA_PREFIX",
];

/// A directory a job's libraries may come from, and why.
#[derive(Debug, Clone)]
struct ScanDir {
    dir: PathBuf,
    label: String,
}

fn env_list(var: &str) -> Vec<PathBuf> {
    std::env::var_os(var)
        .map(|v| std::env::split_paths(&v).filter(|p| !p.as_os_str().is_empty()).collect())
        .unwrap_or_default()
}

/// Python site directories where pip puts wheels, without running Python.
fn site_dirs() -> Vec<PathBuf> {
    let mut roots: Vec<PathBuf> = Vec::new();
    for var in ["VIRTUAL_ENV", "CONDA_PREFIX"] {
        if let Some(v) = std::env::var_os(var) {
            roots.push(PathBuf::from(v).join("lib"));
        }
    }
    if let Some(home) = std::env::var_os("HOME") {
        roots.push(PathBuf::from(home).join(".local/lib"));
    }
    roots.push("/usr/local/lib".into());
    let mut out: Vec<PathBuf> = env_list("PYTHONPATH");
    out.push("/usr/lib/python3/dist-packages".into());
    for root in roots {
        let Ok(entries) = std::fs::read_dir(&root) else { continue };
        for e in entries.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            if name.starts_with("python3") {
                out.push(e.path().join("site-packages"));
                out.push(e.path().join("dist-packages"));
            }
        }
    }
    out
}

/// Every directory the inventory scans, in order.
fn scan_dirs() -> Vec<ScanDir> {
    let mut dirs = Vec::new();
    for var in ["LD_LIBRARY_PATH", "CRAY_LD_LIBRARY_PATH"] {
        dirs.extend(env_list(var).into_iter().map(|dir| ScanDir { dir, label: var.into() }));
    }
    for var in PREFIX_VARS {
        if let Some(v) = std::env::var_os(var).filter(|v| !v.is_empty()) {
            for sub in ["lib", "lib64"] {
                dirs.push(ScanDir {
                    dir: PathBuf::from(&v).join(sub),
                    label: format!("${var}/{sub}"),
                });
            }
        }
    }
    for site in site_dirs() {
        let Ok(entries) = std::fs::read_dir(&site) else { continue };
        let mut wheels: Vec<PathBuf> = entries
            .flatten()
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|x| x == "libs") && p.is_dir())
            .collect();
        wheels.sort();
        for w in wheels {
            let label = format!("wheel {}", w.file_name().unwrap_or_default().to_string_lossy());
            dirs.push(ScanDir { dir: w, label });
        }
    }
    dirs
}

/// Directories where a missing library may exist although the loader does not look there.
fn elsewhere_dirs() -> Vec<PathBuf> {
    let mut dirs: Vec<PathBuf> = scan_dirs().into_iter().map(|d| d.dir).collect();
    for base in ["/opt", "/usr/local"] {
        if let Ok(entries) = std::fs::read_dir(base) {
            for e in entries.flatten() {
                for sub in ["lib", "lib64"] {
                    dirs.push(e.path().join(sub));
                }
            }
        }
    }
    dirs.push("/usr/local/lib".into());
    dirs.push("/usr/local/lib64".into());
    dirs.dedup();
    dirs
}

/// The build settings HDF5 installs beside its library (`lib/libhdf5.settings`; Debian names it after the
/// flavour, `libhdf5_openmpi.settings`), and its `Parallel Filtered Dataset Writes: yes|no` line.
fn build_settings(path: &str, real: &str) -> Option<(String, Option<bool>)> {
    for lib in [path, real] {
        let lib = std::path::Path::new(lib);
        let (Some(dir), Some(name)) = (lib.parent(), lib.file_name().and_then(|n| n.to_str())) else {
            continue;
        };
        let stem = name.split(".so").next().unwrap_or(name);
        for candidate in [dir.join(format!("{stem}.settings")), dir.join("libhdf5.settings")] {
            let Ok(text) = std::fs::read_to_string(&candidate) else { continue };
            let filtered = text
                .lines()
                .find_map(|l| l.trim().strip_prefix("Parallel Filtered Dataset Writes:"))
                .map(|v| v.trim().eq_ignore_ascii_case("yes"));
            return Some((candidate.display().to_string(), filtered));
        }
    }
    None
}

/// Builds the inventory entry of one file.
fn describe(path: &str, kind: Kind, cache: &FileCache) -> LibraryInfo {
    let real = std::fs::canonicalize(path).map_or_else(|_| path.to_string(), |p| p.display().to_string());
    let mut info = LibraryInfo {
        kind,
        path: path.to_string(),
        real_path: real.clone(),
        soname: None,
        visible_via: Vec::new(),
        hdf5_version: None,
        hdf5_series: None,
        flavour: None,
        parallel: None,
        mpi_family: None,
        mpi_soname: None,
        python_version: None,
        error: None,
        settings_file: None,
        parallel_filtered_writes: None,
    };
    let file = match cache.file(&real) {
        Ok(f) => f,
        Err(e) => {
            info.error = Some(e);
            return info;
        }
    };
    info.soname = file.elf.soname.clone();
    let name = info
        .soname
        .clone()
        .unwrap_or_else(|| path.rsplit('/').next().unwrap_or("").to_string());
    match kind {
        Kind::Hdf5 => {
            info.hdf5_series = kinds::hdf5_series(&name).map(str::to_string);
            match file.exports_of(&[kinds::MPIO_DRIVER_SYMBOL], true) {
                Ok(s) => {
                    info.hdf5_version = s.hdf5_version.clone();
                    info.flavour = Some(kinds::hdf5_flavour(&s));
                    info.parallel = Some(s.exports(kinds::MPIO_DRIVER_SYMBOL));
                }
                Err(e) => info.error = Some(e),
            }
            if let Some(mpi) = file.elf.needed.iter().find(|n| kinds::classify(n) == Some(Kind::Mpi)) {
                info.mpi_family = Some(mpi_family(mpi, None));
                info.mpi_soname = Some(mpi.clone());
            }
            if let Some((settings, filtered)) = build_settings(path, &real) {
                info.settings_file = Some(settings);
                info.parallel_filtered_writes = filtered;
            }
        }
        Kind::Mpi => {
            let symbols = file.exports_of(kinds::MPI_FAMILY_SYMBOLS, false).ok();
            info.mpi_family = Some(mpi_family(&name, symbols.as_deref()));
        }
        Kind::Python => info.python_version = kinds::python_version(&name),
        Kind::Hdf5Component => {}
    }
    info
}

/// The inventory: every HDF5, MPI and Python library a job can see, once per real file.
fn inventory(cfg: &LoaderConfig, cache: &FileCache) -> Vec<LibraryInfo> {
    let mut found: Vec<(String, String, Kind)> = Vec::new();
    if let Ok(ldcache) = &cfg.cache {
        let flags = crate::elf::ldcache::expected_flags(goblin::elf::header::EM_X86_64, true).unwrap_or(-1);
        for (name, entry) in ldcache.iter() {
            if entry.flags == flags {
                if let Some(kind) = kinds::classify(&name) {
                    found.push((entry.path, "ld.so.cache".into(), kind));
                }
            }
        }
    }
    for d in scan_dirs() {
        let Ok(entries) = std::fs::read_dir(&d.dir) else { continue };
        let mut names: Vec<String> = entries.flatten().map(|e| e.file_name().to_string_lossy().into_owned()).collect();
        names.sort();
        for name in names {
            if let Some(kind) = kinds::classify(&name) {
                found.push((d.dir.join(&name).display().to_string(), d.label.clone(), kind));
            }
        }
    }
    for (name, from) in cfg.preloads() {
        if let Some(kind) = kinds::classify(&name) {
            found.push((name, from.to_string(), kind));
        }
    }
    let mut by_real: BTreeMap<String, usize> = BTreeMap::new();
    let mut out: Vec<LibraryInfo> = Vec::new();
    for (path, label, kind) in found {
        let real = std::fs::canonicalize(&path).map_or_else(|_| path.clone(), |p| p.display().to_string());
        if let Some(&i) = by_real.get(&real) {
            if !out[i].visible_via.contains(&label) {
                out[i].visible_via.push(label);
            }
            continue;
        }
        // Development symlinks (libhdf5.so -> libhdf5_serial.so.103.3.1) name a file already listed
        // under its soname; their own entry would add nothing.
        let mut info = describe(&path, kind, cache);
        info.visible_via.push(label);
        by_real.insert(real, out.len());
        out.push(info);
    }
    out
}

/// The glibc release: the highest GLIBC_x.y version node of the libc.so.6 the loader finds.
fn system_glibc(cfg: &LoaderConfig, cache: &FileCache) -> Option<String> {
    let flags = crate::elf::ldcache::expected_flags(goblin::elf::header::EM_X86_64, true)?;
    let path = cfg.cache.as_ref().ok()?.lookup("libc.so.6", flags, &|| cfg.hwcaps())?.path;
    cache.file(&path).ok()?.versions().ok()?.max_glibc_node()
}

fn is_kind(node_name: &str, file: &LoadedFile, kind: Kind) -> bool {
    [Some(node_name), file.elf.soname.as_deref(), file.path.rsplit('/').next()]
        .into_iter()
        .flatten()
        .any(|n| kinds::classify(n) == Some(kind))
}

/// The MPI family of a library as the facts spell it. The ELF reader (which sits below the facts) names
/// only `MpiFamily` values; `elf_family_names_are_mpi_families` checks each.
fn mpi_family(soname: &str, symbols: Option<&SymbolInfo>) -> MpiFamily {
    kinds::mpi_family(soname, symbols).parse().unwrap_or(MpiFamily::Unknown)
}

/// The HDF5 and MPI libraries of a closure.
fn closure_libraries(res: &Resolution) -> (Vec<(usize, ClosureLib)>, Vec<ClosureLib>) {
    let mut hdf5 = Vec::new();
    let mut mpi = Vec::new();
    for (i, n) in res.objects.iter().enumerate() {
        if n.how == How::Interpreter {
            continue;
        }
        let lib = |version: Option<String>, family: Option<MpiFamily>| ClosureLib {
            path: n.path.clone(),
            name: n.name.clone(),
            how: n.how.tag(),
            version,
            family,
        };
        if is_kind(&n.name, &n.file, Kind::Hdf5) {
            if let Ok(s) = n.file.symbols() {
                if s.exports("H5open") {
                    hdf5.push((i, lib(s.hdf5_version.clone(), None)));
                }
            }
        } else if is_kind(&n.name, &n.file, Kind::Mpi) {
            let s = n.file.symbols().ok();
            let name = n.soname.clone().unwrap_or_else(|| n.name.clone());
            if kinds::is_core_mpi(&name, s.as_deref()) {
                mpi.push(lib(None, Some(mpi_family(&name, s.as_deref()))));
            }
        }
    }
    (hdf5, mpi)
}

/// The highest GLIBC_x.y any object of the closure needs.
fn glibc_required(res: &Resolution) -> Option<String> {
    let mut glibc: Option<String> = None;
    for n in &res.objects {
        for ver in n.file.elf.version_needs.iter().flat_map(|need| &need.versions) {
            if let Some(g) = ver.strip_prefix("GLIBC_").filter(|g| g.starts_with(|c: char| c.is_ascii_digit())) {
                if glibc.as_deref().is_none_or(|cur| compare_versions(g, cur).is_gt()) {
                    glibc = Some(g.to_string());
                }
            }
        }
    }
    glibc
}

/// The kind of library a file is (`hdf5`, `mpi`, ...), by its soname or file name.
fn library_kind(res: &Resolution, path: &str) -> Option<Kind> {
    let soname = res.objects.iter().find(|o| o.path == path).and_then(|o| o.soname.as_deref());
    [soname, path.rsplit('/').next()].into_iter().flatten().find_map(kinds::classify)
}

/// The loader's fatal errors besides "not found" (the resolver's [`crate::elf::resolve::LoadError`]s),
/// and the symbol versions among them in the older `missing_versions` form.
fn load_failures(res: &Resolution) -> (Vec<LoadFailure>, Vec<MissingVersion>) {
    let mut failures = Vec::new();
    let mut versions = Vec::new();
    for (node, e) in res.load_errors() {
        let library_kind = library_kind(res, &e.file);
        if let (LoadErrorKind::VersionMissing, Some(version)) = (e.kind, &e.version) {
            let file = res
                .objects
                .iter()
                .find(|o| o.path == e.file)
                .map(|o| o.soname.clone().unwrap_or_else(|| o.name.clone()))
                .unwrap_or_default();
            versions.push(MissingVersion {
                version: version.clone(),
                file,
                file_path: e.file.clone(),
                required_by: node.path.clone(),
                library_kind,
            });
        }
        failures.push(LoadFailure {
            kind: e.kind,
            object: node.path.clone(),
            file: e.file.clone(),
            library_kind,
            version: e.version.clone(),
            mount: e.mount.clone(),
            loader_says: e.loader_says.clone(),
            explanation: e.explanation.clone(),
        });
    }
    (failures, versions)
}

/// The directories of `paths` that resolve elsewhere (symbolic links followed): as written (without a
/// trailing `/`) -> as the kernel resolves them. Each directory is asked once.
fn resolved_dirs<'a>(paths: impl Iterator<Item = &'a str>) -> BTreeMap<String, String> {
    let mut seen = std::collections::BTreeSet::new();
    let mut out = BTreeMap::new();
    for path in paths {
        let Some((dir, _)) = path.rsplit_once('/') else { continue };
        let written = dir.trim_end_matches('/');
        if written.is_empty() || !seen.insert(written.to_string()) {
            continue;
        }
        if let Ok(real) = std::fs::canonicalize(written) {
            let real = real.display().to_string();
            if real != written {
                out.insert(written.to_string(), real);
            }
        }
    }
    out
}

/// Undefined H5*/MPI_* references that no object of the closure satisfies (versions honoured).
fn undefined_symbols(res: &Resolution) -> Vec<UndefinedRef> {
    let relevant = |i: usize| {
        let n = &res.objects[i];
        i == 0
            || is_kind(&n.name, &n.file, Kind::Hdf5)
            || is_kind(&n.name, &n.file, Kind::Hdf5Component)
            || is_kind(&n.name, &n.file, Kind::Mpi)
            || n.needs.iter().filter_map(|e| e.object()).any(|o| {
                let d = &res.objects[o];
                is_kind(&d.name, &d.file, Kind::Hdf5) || is_kind(&d.name, &d.file, Kind::Mpi)
            })
    };
    let symbols: Vec<Option<Arc<SymbolInfo>>> = (0..res.objects.len())
        .map(|i| if relevant(i) { res.objects[i].file.symbols().ok() } else { None })
        .collect();
    let mut others: Vec<Option<Arc<SymbolInfo>>> = vec![None; res.objects.len()];
    let mut out: Vec<UndefinedRef> = Vec::new();
    for (i, s) in symbols.iter().enumerate() {
        let Some(s) = s else { continue };
        for u in &s.undefined {
            if u.weak || !(u.name.starts_with("H5") || u.name.starts_with("MPI_") || u.name.starts_with("PMPI_")) {
                continue;
            }
            let satisfied = symbols.iter().flatten().any(|p| p.satisfies(&u.name, u.version.as_deref()))
                || (0..res.objects.len()).filter(|&j| symbols[j].is_none()).any(|j| {
                    let p = others[j].get_or_insert_with(|| res.objects[j].file.symbols().unwrap_or_default());
                    p.satisfies(&u.name, u.version.as_deref())
                });
            if !satisfied && !out.iter().any(|o| o.symbol == u.name) {
                out.push(UndefinedRef {
                    symbol: u.name.clone(),
                    version: u.version.clone(),
                    needed_by: res.objects[i].path.clone(),
                });
            }
        }
    }
    out
}

/// Importers whose HDF5 at run time is not the one they were built against.
fn hdf5_mismatches(res: &Resolution, hdf5: &[(usize, ClosureLib)], cfg: &LoaderConfig, cache: &FileCache) -> Vec<Hdf5Mismatch> {
    let mut out = Vec::new();
    // H5* symbols bind to the first libhdf5 in load order (the global scope: program, preloads, then
    // dependencies breadth-first).
    let Some((binding_idx, binding)) = hdf5.first() else {
        return out;
    };
    for n in &res.objects {
        for e in &n.needs {
            let Some(target) = e.object() else { continue };
            let Some((_, lib)) = hdf5.iter().find(|(i, _)| *i == target) else {
                continue;
            };
            if target != *binding_idx && lib.version != binding.version {
                out.push(Hdf5Mismatch {
                    importer: n.path.clone(),
                    built_for: lib.version.clone().unwrap_or_else(|| "?".into()),
                    built_for_path: lib.path.clone(),
                    runtime: binding.version.clone().unwrap_or_else(|| "?".into()),
                    runtime_path: binding.path.clone(),
                    reason: format!(
                        "{} ({}) is loaded first, so its H5* symbols are the ones bound",
                        binding.path, binding.how
                    ),
                });
                continue;
            }
            // The importer's own RPATH/RUNPATH holds the libhdf5 it was linked against, but the loader
            // took another one first (LD_LIBRARY_PATH before RUNPATH, typically).
            let origin = cfg.origin_of(&n.path);
            for list in n.file.elf.runpath.iter().chain(&n.file.elf.rpath) {
                for (_, dir) in cfg.split_dirs(list, origin.as_deref()) {
                    let candidate = format!("{dir}{}", e.name);
                    let Ok(file) = cache.file(&candidate) else { continue };
                    if file.id == res.objects[target].file.id {
                        continue;
                    }
                    let Ok(s) = file.symbols() else { continue };
                    if s.hdf5_version.is_some() && s.hdf5_version != lib.version {
                        out.push(Hdf5Mismatch {
                            importer: n.path.clone(),
                            built_for: s.hdf5_version.clone().unwrap_or_default(),
                            built_for_path: candidate.clone(),
                            runtime: lib.version.clone().unwrap_or_else(|| "?".into()),
                            runtime_path: lib.path.clone(),
                            reason: format!("its own search path holds {candidate}, but {} found {} first", lib.how, lib.path),
                        });
                    }
                }
            }
        }
    }
    out
}

/// Checks the closure of one binary.
pub fn check_binary(path: &Path, origin: &str, cfg: &LoaderConfig, cache: &FileCache) -> BinaryFacts {
    let path_str = path.to_string_lossy().into_owned();
    let res = resolve(&path_str, cfg, cache);
    let mut facts = BinaryFacts {
        path: path_str,
        origin: origin.to_string(),
        interpreter: res.objects.first().and_then(|o| o.file.elf.interpreter.clone()),
        error: res.error.clone(),
        objects: res.objects.len(),
        ..BinaryFacts::default()
    };
    if res.error.is_some() {
        return facts;
    }
    let debian = Path::new("/etc/debian_version").exists();
    let elsewhere = elsewhere_dirs();
    for m in res.missing() {
        let searched: Vec<String> = m.searched.iter().map(|a| a.line()).collect();
        let looked: Vec<&str> = m.searched.iter().filter_map(|a| a.path.as_deref()).collect();
        let mut found_elsewhere: Vec<String> = Vec::new();
        for dir in &elsewhere {
            let candidate = dir.join(&m.name);
            let shown = candidate.display().to_string();
            if candidate.is_file() && !looked.contains(&shown.as_str()) && !found_elsewhere.contains(&shown) {
                found_elsewhere.push(shown);
            }
        }
        facts.missing.push(MissingLib {
            series: (kinds::classify(&m.name) == Some(Kind::Hdf5))
                .then(|| kinds::hdf5_series(&m.name).map(str::to_string))
                .flatten(),
            package: if debian {
                kinds::debian_package(&m.name).map(str::to_string)
            } else {
                None
            },
            name: m.name,
            needed_by: m.needed_by,
            error: m.error,
            searched,
            found_elsewhere,
        });
    }
    let (hdf5, mpi) = closure_libraries(&res);
    let (load_failures, missing_versions) = load_failures(&res);
    facts.load_failures = load_failures;
    facts.missing_versions = missing_versions;
    facts.glibc_required = glibc_required(&res);
    facts.symbols_checked = facts.missing.is_empty();
    if facts.symbols_checked {
        facts.undefined = undefined_symbols(&res);
    }
    facts.hdf5_mismatch = hdf5_mismatches(&res, &hdf5, cfg, cache);
    facts.hdf5_libraries = hdf5.into_iter().map(|(_, l)| l).collect();
    facts.mpi_libraries = mpi;
    let mismatched = facts
        .hdf5_mismatch
        .iter()
        .flat_map(|m| [m.importer.as_str(), m.runtime_path.as_str(), m.built_for_path.as_str()]);
    facts.resolved_dirs = resolved_dirs(res.objects.iter().map(|o| o.path.as_str()).chain(mismatched));
    facts
}

/// Checks one binary with this process's loader configuration (for the HDF5 probe's own binary).
pub fn check_one(path: &Path, origin: &str) -> BinaryFacts {
    check_binary(path, origin, &LoaderConfig::from_env(), &FileCache::new())
}

/// The libraries group runs by default unless the run is about files, where it runs when a `--binary` is
/// named; alone, on a thread of its own (it needs no other group).
pub const PROBE: crate::probes::GroupProbe = crate::probes::GroupProbe {
    by_default: |o| o.files.is_empty() || !o.binaries.is_empty(),
    run: crate::probes::Run::Alone(|o| {
        let libraries = probe(&o.binaries);
        Box::new(move |facts| facts.libraries = libraries)
    }),
    reads: &[],
};

/// Runs the library probe: the inventory and every `--binary`.
pub fn probe(binaries: &[PathBuf]) -> LibrariesFacts {
    let cfg = LoaderConfig::from_env();
    let cache = FileCache::new();
    let mut facts = LibrariesFacts {
        status: ProbeStatus::Ok,
        glibc: system_glibc(&cfg, &cache),
        loader: Some(cfg.node().clone()),
        inventory: inventory(&cfg, &cache),
        ..LibrariesFacts::default()
    };
    if let Err(e) = &cfg.cache {
        facts.reason = Some(format!("ld.so.cache: {e}"));
    }
    for b in binaries {
        facts.binaries.push(check_binary(b, "--binary", &cfg, &cache));
    }
    facts
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn elf_family_names_are_mpi_families() {
        let cases = [
            ("libmpi.so.40", MpiFamily::Openmpi),
            ("libmpi.so.12", MpiFamily::Mpich),
            ("libmpich.so.12", MpiFamily::Mpich),
            ("libmpi_cray.so.12", MpiFamily::CrayMpich),
            ("libmpi.so.99", MpiFamily::Unknown),
        ];
        for (soname, family) in cases {
            let name = kinds::mpi_family(soname, None);
            assert_eq!(name.parse::<MpiFamily>().ok(), Some(family), "{soname}: {name}");
        }
    }
}
