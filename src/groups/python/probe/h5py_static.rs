//! h5py as found on disk, without importing it: its layout (a PyPI wheel with its own HDF5, Debian's shim
//! over a serial and an MPI build, conda, a site build), its version, the extension modules this
//! interpreter can load, the libhdf5 they resolve and that library's embedded release, whether the build
//! links MPI, and the NumPy ABI and C-API version the extensions were compiled for.

use crate::facts::python::{H5pyStatic, PackageLocation};
use crate::facts::values::{DebianH5pyBuild, H5pyLayout, VersionFrom};
use crate::groups::python::probe::linkage::{self, Linker};
use crate::groups::python::probe::markers;
use crate::groups::python::probe::site_scan::{assigned_string, dist_version};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Extension modules worth reading: `defs` links every HDF5 call, `h5` records the NumPy it was built
/// against, `_conv` and `h5t` import NumPy's C-API, `_errors` is the first one imported.
pub const KEY_MODULES: &[&str] = &["defs", "h5", "_conv", "h5t", "_errors"];

/// `version_tuple = _H5PY_VERSION_CLS(3, 7, 0, None, None, None)` in h5py's version.py.
fn version_from_tuple(text: &str) -> Option<String> {
    let line = text.lines().find(|l| l.trim_start().starts_with("version_tuple"))?;
    let args = line.split_once('(')?.1.split(')').next()?;
    let parts: Vec<&str> = args.split(',').map(str::trim).collect();
    let nums: Vec<u32> = parts.iter().take(3).map(|p| p.parse().ok()).collect::<Option<_>>()?;
    let [major, minor, bugfix] = nums[..] else { return None };
    let mut v = format!("{major}.{minor}.{bugfix}");
    if let Some(pre) = parts.get(3).map(|p| p.trim_matches(['"', '\''])).filter(|p| *p != "None") {
        v.push_str(pre);
    }
    Some(v)
}

/// The variables Debian's shim tests (`getenv('OMPI_COMM_WORLD_SIZE')`, ...), read from its `__init__.py`.
fn debian_switches(init: &Path) -> Vec<String> {
    let text = std::fs::read_to_string(init).unwrap_or_default();
    let mut out = Vec::new();
    for part in text.split("getenv(").skip(1) {
        let quoted = part.trim_start();
        let Some(q) = quoted.chars().next().filter(|c| *c == '\'' || *c == '"') else {
            continue;
        };
        if let Some(end) = quoted[1..].find(q) {
            let name = quoted[1..1 + end].to_string();
            if !out.contains(&name) {
                out.push(name);
            }
        }
    }
    out
}

/// `.so.310` -> `1.14` (research/failure-catalog.md table 0.3).
fn hdf5_series_of(soname: &str) -> Option<String> {
    let series = match crate::elf::libraries::soname_major(soname)? {
        8..=10 => "1.8",
        100..=103 => "1.10",
        200 => "1.12",
        310 => "1.14",
        320 => "2.x",
        _ => return None,
    };
    Some(series.to_string())
}

/// The layout of the h5py at `pkg`, and the directory whose extension modules will load.
fn layout(pkg: &Path, env: &BTreeMap<String, String>, out: &mut H5pyStatic) -> PathBuf {
    let serial = pkg.join("_debian_h5py_serial");
    let mpi = pkg.join("_debian_h5py_mpi");
    if serial.is_dir() || mpi.is_dir() {
        out.layout = H5pyLayout::Debian;
        out.debian_builds = [(DebianH5pyBuild::Serial, &serial), (DebianH5pyBuild::Mpi, &mpi)]
            .iter()
            .filter(|(_, d)| d.is_dir())
            .map(|(b, _)| *b)
            .collect();
        out.debian_mpi_switches = debian_switches(&pkg.join("__init__.py"));
        let switched = out.debian_mpi_switches.iter().any(|v| env.contains_key(v));
        let pick = if (switched && mpi.is_dir()) || !serial.is_dir() {
            DebianH5pyBuild::Mpi
        } else {
            DebianH5pyBuild::Serial
        };
        out.debian_selects = Some(pick);
        return pkg.join(format!("_debian_h5py_{pick}"));
    }
    let parent = pkg.parent().unwrap_or(Path::new("/"));
    out.layout = if parent.join("h5py.libs").is_dir() {
        H5pyLayout::Wheel
    } else if parent.ancestors().take(5).any(|a| a.join("conda-meta").is_dir()) {
        H5pyLayout::Conda
    } else {
        H5pyLayout::Source
    };
    pkg.to_path_buf()
}

/// Reads h5py's facts at `location` for an interpreter whose extension modules end in `ext_suffix`.
/// `python` is the interpreter's executable, which loads the extension modules.
pub fn scan(
    mut location: PackageLocation,
    ext_suffix: Option<&str>,
    env: &BTreeMap<String, String>,
    linker: &Linker,
    python: Option<&Path>,
) -> H5pyStatic {
    let pkg = PathBuf::from(&location.dir);
    let mut out = H5pyStatic::default();
    let build = layout(&pkg, env, &mut out);
    out.build_dir = build.display().to_string();

    let from_file = std::fs::read_to_string(build.join("version.py"))
        .ok()
        .and_then(|t| version_from_tuple(&t).or_else(|| assigned_string(&t, &["version", "__version__"])));
    match from_file {
        Some(v) => {
            location.version = Some(v);
            location.version_from = Some(VersionFrom::VersionPy);
        }
        None => {
            if let Some((v, from)) = dist_version(Path::new(&location.entry), "h5py") {
                location.version = Some(v);
                location.version_from = Some(from);
            }
        }
    }
    out.location = location;

    let mut modules: BTreeMap<String, PathBuf> = BTreeMap::new();
    for e in std::fs::read_dir(&build).into_iter().flatten().filter_map(|e| e.ok()) {
        let name = e.file_name().to_string_lossy().into_owned();
        if !name.ends_with(".so") {
            continue;
        }
        match ext_suffix {
            Some(sfx) if name.ends_with(sfx) => {
                modules.insert(name[..name.len() - sfx.len()].to_string(), e.path());
            }
            Some(_) if name.ends_with(".abi3.so") => {
                modules.insert(name.split('.').next().unwrap_or(&name).to_string(), e.path());
            }
            Some(_) => {
                if let Some(dot) = name.find('.') {
                    let sfx = name[dot..].to_string();
                    if !out.foreign_extension_suffixes.contains(&sfx) {
                        out.foreign_extension_suffixes.push(sfx);
                    }
                }
            }
            None => {
                modules.insert(name.split('.').next().unwrap_or(&name).to_string(), e.path());
            }
        }
    }
    out.extensions = modules.keys().cloned().collect();

    let mut texts: Vec<(&str, Vec<u8>)> = Vec::new();
    let mut mpi_needed: Vec<String> = Vec::new();
    for key in KEY_MODULES {
        let Some(path) = modules.get(*key) else { continue };
        let Ok(module) = linker.module(python, path) else { continue };
        for e in module.load_errors() {
            if !out.cannot_load.contains(&e) {
                out.cannot_load.push(e);
            }
        }
        for n in module.needed().iter().filter(|n| linkage::is_mpi(n)) {
            if !mpi_needed.contains(n) {
                mpi_needed.push(n.clone());
            }
        }
        if out.libhdf5.is_none() {
            if let Some(needed) = module.needed().iter().find(|n| linkage::is_libhdf5(n)) {
                let lib = module.lib(linker, needed);
                out.hdf5_series = hdf5_series_of(needed);
                out.hdf5_bundled = Some(
                    lib.path
                        .as_deref()
                        .is_some_and(|p| Path::new(p).parent().and_then(|d| d.file_name()).is_some_and(|d| d == "h5py.libs")),
                );
                out.libhdf5 = Some(lib);
            }
        }
        if let Ok(data) = markers::string_data(path) {
            texts.push((key, data));
        }
    }
    if let Some(lib) = &out.libhdf5 {
        for n in &lib.mpi_needed {
            if !mpi_needed.contains(n) {
                mpi_needed.push(n.clone());
            }
        }
    }
    out.mpi = match out.libhdf5.as_ref().and_then(|l| l.hdf5_parallel) {
        Some(parallel) => Some(parallel || !mpi_needed.is_empty()),
        None if !modules.is_empty() => Some(!mpi_needed.is_empty()),
        None => None,
    };
    out.mpi_needed = mpi_needed;

    markers::numpy_abi(&texts, &mut out);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn h5py_version_tuple_is_read() {
        assert_eq!(
            version_from_tuple("version_tuple = _H5PY_VERSION_CLS(3, 7, 0, None, None, None)\n").as_deref(),
            Some("3.7.0")
        );
        assert_eq!(
            version_from_tuple("version_tuple = _H5PY_VERSION_CLS(3, 12, 0, 'rc1', None, None)\n").as_deref(),
            Some("3.12.0rc1")
        );
        assert_eq!(version_from_tuple("version_tuple = _H5PY_VERSION_CLS(3, 7)\n"), None);
    }

    #[test]
    fn hdf5_series_from_sonames() {
        assert_eq!(hdf5_series_of("libhdf5_serial.so.103").as_deref(), Some("1.10"));
        assert_eq!(hdf5_series_of("libhdf5-7f639dcd.so.310.2.0").as_deref(), Some("1.14"));
        assert_eq!(hdf5_series_of("libhdf5-9e18f0c6.so.320.0.0").as_deref(), Some("2.x"));
        assert_eq!(hdf5_series_of("libhdf5.so"), None);
    }

    #[test]
    fn debian_switches_are_read() {
        let dir = tempfile::tempdir().unwrap();
        let init = dir.path().join("__init__.py");
        std::fs::write(
            &init,
            "a = os_getenv('OMPI_COMM_WORLD_SIZE')\nb = getenv(\"H5PY_ALWAYS_USE_MPI\")\n",
        )
        .unwrap();
        assert_eq!(debian_switches(&init), ["OMPI_COMM_WORLD_SIZE", "H5PY_ALWAYS_USE_MPI"]);
    }
}
