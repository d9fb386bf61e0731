//! Where HDF5 is installed on this node, looked up only when h5doctor-probe cannot start, so that the fix
//! that rebuilds the probe (`HDF5_DIR=DIR cargo build -p h5doctor-probe`) names a real prefix instead of a
//! placeholder, or says where it looked.
//!
//! A prefix counts when it has the layout `HDF5_DIR` must have for the probe's build (hdf5-sys reads
//! `DIR/include/H5pubconf.h` and links `DIR/lib`): `include/H5pubconf.h` (or `H5pubconf-64.h`) and
//! `lib/libhdf5.so` (or `lib64/`). The places, in order: the directory of a file named like the missing
//! library (the HDF5 the probe was built for, out of the loader's path), `$HDF5_DIR`, `$HDF5_ROOT` and
//! `$HDF5_HOME` (as HDF5 modules set them), each LD_LIBRARY_PATH entry holding a libhdf5, each libhdf5 in
//! the loader's cache (its directory's parent, and Debian's `hdf5/<flavour>` prefixes beside it), and
//! HDF5's own default prefix `/usr/local/hdf5`. Reading directories and one header per prefix; nothing is
//! run or written.

use crate::facts::values::Hdf5InstallFoundBy;
use crate::facts::{Hdf5Install, Hdf5InstallSearch};
use std::path::{Path, PathBuf};

/// The release and whether it is parallel, from an HDF5 `H5pubconf.h` (or `H5pubconf-64.h`) in
/// `include_dir`: `(version, parallel)`; `None` when there is no such header.
pub fn read_pubconf(include_dir: &Path) -> Option<(Option<String>, bool)> {
    let text = std::fs::read_to_string(include_dir.join("H5pubconf.h"))
        .or_else(|_| std::fs::read_to_string(include_dir.join("H5pubconf-64.h")))
        .ok()?;
    let parallel = text.lines().any(|l| l.trim() == "#define H5_HAVE_PARALLEL 1");
    let version = text
        .lines()
        .find_map(|l| l.trim().strip_prefix("#define H5_VERSION "))
        .map(|v| v.trim().trim_matches('"').to_string());
    Some((version, parallel))
}

/// What one candidate prefix is: an installation, or what it lacks.
fn examine(dir: &Path, found_by: Hdf5InstallFoundBy, how: &str, missing: &[String]) -> Result<Hdf5Install, &'static str> {
    if !dir.is_dir() {
        return Err("not found");
    }
    let (version, parallel) = read_pubconf(&dir.join("include")).ok_or("no include/H5pubconf.h")?;
    let lib_dir = ["lib", "lib64"]
        .iter()
        .map(|l| dir.join(l))
        .find(|l| l.join("libhdf5.so").exists())
        .ok_or("no lib/libhdf5.so")?;
    Ok(Hdf5Install {
        dir: dir.display().to_string(),
        lib_dir: lib_dir.display().to_string(),
        version,
        parallel,
        found_by,
        how: how.to_string(),
        has_missing_library: missing.iter().any(|m| lib_dir.join(m).exists()),
    })
}

/// A library's file name names HDF5's C library itself (`libhdf5.so`, `libhdf5_serial.so.103`,
/// `libhdf5_openmpi.so.310`), not one of its companions (`_hl`, `_cpp`, `_fortran`).
fn is_libhdf5(name: &str) -> bool {
    let Some(rest) = name.strip_prefix("libhdf5") else {
        return false;
    };
    let stem = rest.split(".so").next().unwrap_or(rest);
    rest.contains(".so") && !["hl", "cpp", "fortran"].iter().any(|c| stem.contains(c))
}

/// Whether `dir` holds a libhdf5.
fn holds_libhdf5(dir: &Path) -> bool {
    std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .filter_map(|e| e.ok())
        .any(|e| is_libhdf5(&e.file_name().to_string_lossy()))
}

/// The prefixes a library directory belongs to: its parent (`PREFIX/lib`), itself (Debian's flavour
/// directories have `lib -> .`), and the Debian flavour prefixes beside it (`DIR/hdf5/*`), flavours named
/// like `soname_flavour` first, then serial.
fn prefixes_of_lib_dir(lib_dir: &Path, soname_flavour: Option<&str>) -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = lib_dir.parent().map(Path::to_path_buf).into_iter().collect();
    out.push(lib_dir.to_path_buf());
    let mut flavours: Vec<PathBuf> = std::fs::read_dir(lib_dir.join("hdf5"))
        .into_iter()
        .flatten()
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .collect();
    let rank = |p: &PathBuf| {
        let name = p.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        (Some(name.as_str()) != soname_flavour, name != "serial", name)
    };
    flavours.sort_by_key(rank);
    out.extend(flavours);
    out
}

/// The flavour a Debian-style soname names (`libhdf5_openmpi.so.103` → `openmpi`), if any.
fn soname_flavour(soname: &str) -> Option<&str> {
    soname.strip_prefix("libhdf5_")?.split(".so").next().filter(|f| !f.is_empty())
}

/// Where the probe's missing libraries were found outside the loader's path, and their names.
pub struct Missing<'a> {
    pub names: Vec<&'a str>,
    pub found_elsewhere: Vec<&'a str>,
}

/// Looks for HDF5 installations in the places the module doc lists, in that order; `env` reads a variable
/// (the process environment in a run), `cache` the libhdf5 paths of the loader's cache.
pub fn search(missing: &Missing, env: &dyn Fn(&str) -> Option<String>, cache: &[String]) -> Hdf5InstallSearch {
    let flavour = missing.names.iter().find_map(|n| soname_flavour(n));
    let mut candidates: Vec<(PathBuf, Hdf5InstallFoundBy, String)> = Vec::new();
    for file in &missing.found_elsewhere {
        if let Some(dir) = Path::new(file).parent() {
            for p in prefixes_of_lib_dir(dir, flavour).into_iter().take(2) {
                candidates.push((p, Hdf5InstallFoundBy::MissingLibraryDir, format!("holds {file}")));
            }
        }
    }
    for var in ["HDF5_DIR", "HDF5_ROOT", "HDF5_HOME"] {
        if let Some(v) = env(var).filter(|v| !v.is_empty()) {
            candidates.push((PathBuf::from(v), Hdf5InstallFoundBy::EnvironmentVariable, format!("${var}")));
        }
    }
    for entry in env("LD_LIBRARY_PATH").unwrap_or_default().split(':').filter(|e| !e.is_empty()) {
        let dir = Path::new(entry);
        if holds_libhdf5(dir) {
            for p in prefixes_of_lib_dir(dir, flavour).into_iter().take(2) {
                candidates.push((p, Hdf5InstallFoundBy::LdLibraryPath, format!("LD_LIBRARY_PATH {entry}")));
            }
        }
    }
    let mut cache_dirs: Vec<PathBuf> = Vec::new();
    for lib in cache {
        let dir = Path::new(lib).parent().map(|d| std::fs::canonicalize(d).unwrap_or_else(|_| d.to_path_buf()));
        if let Some(dir) = dir.filter(|d| !cache_dirs.contains(d)) {
            cache_dirs.push(dir);
        }
    }
    for dir in &cache_dirs {
        for p in prefixes_of_lib_dir(dir, flavour) {
            candidates.push((p, Hdf5InstallFoundBy::LdSoCache, format!("ld.so.cache: a libhdf5 in {}", dir.display())));
        }
    }
    candidates.push((PathBuf::from("/usr/local/hdf5"), Hdf5InstallFoundBy::DefaultPrefix, "HDF5's default prefix".into()));

    let mut out = Hdf5InstallSearch::default();
    let mut seen: Vec<PathBuf> = Vec::new();
    let missing_names: Vec<String> = missing.names.iter().map(|n| n.to_string()).collect();
    for (dir, found_by, how) in candidates {
        let real = std::fs::canonicalize(&dir).unwrap_or_else(|_| dir.clone());
        if seen.contains(&real) {
            continue;
        }
        seen.push(real);
        match examine(&dir, found_by, &how, &missing_names) {
            Ok(install) => {
                out.looked_in.push(format!(
                    "{} ({how}): HDF5 {}{}",
                    dir.display(),
                    install.version.as_deref().unwrap_or("of unknown version"),
                    if install.parallel { ", parallel" } else { "" }
                ));
                out.installs.push(install);
            }
            Err(lacks) => out.looked_in.push(format!("{} ({how}): {lacks}", dir.display())),
        }
    }
    out
}

/// The paths of every libhdf5 the loader's cache lists, in the cache's order.
pub fn cached_libhdf5() -> Vec<String> {
    let cfg = crate::elf::search::LoaderConfig::from_env();
    let Ok(cache) = cfg.cache.as_ref() else {
        return Vec::new();
    };
    cache
        .iter()
        .filter(|(name, _)| is_libhdf5(name))
        .map(|(_, e)| e.path)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_c_library_counts_as_libhdf5() {
        for yes in ["libhdf5.so", "libhdf5_serial.so.103", "libhdf5_openmpi.so.103.3.0", "libhdf5.so.310"] {
            assert!(is_libhdf5(yes), "{yes}");
        }
        for no in ["libhdf5_hl.so", "libhdf5_serial_hl.so.100", "libhdf5_cpp.so", "libhdf5_serialhl_fortran.so", "libhdf5.a", "libz.so"] {
            assert!(!is_libhdf5(no), "{no}");
        }
        assert_eq!(soname_flavour("libhdf5_openmpi.so.103"), Some("openmpi"));
        assert_eq!(soname_flavour("libhdf5.so.310"), None);
    }

    #[test]
    fn a_prefix_needs_the_header_and_the_library_and_the_environment_comes_first() {
        let root = std::env::temp_dir().join(format!("h5d-installs-{}", std::process::id()));
        let make = |dir: &Path, header: bool, lib: bool| {
            std::fs::create_dir_all(dir.join("include")).unwrap();
            std::fs::create_dir_all(dir.join("lib")).unwrap();
            if header {
                std::fs::write(dir.join("include/H5pubconf.h"), "#define H5_VERSION \"1.14.5\"\n").unwrap();
            }
            if lib {
                std::fs::write(dir.join("lib/libhdf5.so"), b"").unwrap();
                std::fs::write(dir.join("lib/libhdf5.so.310"), b"").unwrap();
            }
        };
        let module = root.join("module");
        let headerless = root.join("headerless");
        make(&module, true, true);
        make(&headerless, false, true);
        let env = |var: &str| match var {
            "HDF5_ROOT" => Some(headerless.display().to_string()),
            "LD_LIBRARY_PATH" => Some(module.join("lib").display().to_string()),
            _ => None,
        };
        let missing = Missing {
            names: vec!["libhdf5.so.310"],
            found_elsewhere: vec![],
        };
        let found = search(&missing, &env, &[]);
        std::fs::remove_dir_all(&root).unwrap();
        assert_eq!(found.installs.len(), 1, "{found:#?}");
        let one = &found.installs[0];
        assert_eq!(one.dir, module.display().to_string());
        assert_eq!(one.lib_dir, module.join("lib").display().to_string());
        assert_eq!(one.version.as_deref(), Some("1.14.5"));
        assert_eq!(one.found_by, Hdf5InstallFoundBy::LdLibraryPath);
        assert!(one.has_missing_library);
        assert_eq!(found.looked_in[0], format!("{} ($HDF5_ROOT): no include/H5pubconf.h", headerless.display()));
        if !Path::new("/usr/local/hdf5").exists() {
            assert_eq!(found.looked_in.last().unwrap(), "/usr/local/hdf5 (HDF5's default prefix): not found");
        }
    }
}
