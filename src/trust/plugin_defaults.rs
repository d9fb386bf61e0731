//! As root, the compiled-in default plugin directories of the HDF5 a child would load when its
//! HDF5_PLUGIN_PATH is unset: HDF5 then searches the directories built into the library
//! (`H5_DEFAULT_PLUGINDIR`), and dlopens every `lib*.so` there on demand, so a default directory another
//! user could write is code run as root like a set HDF5_PLUGIN_PATH entry ([`super::confine_plugin_path`]).
//!
//! Which HDF5 the child loads is found without running anything: for an ELF program, the libhdf5 of its
//! start-up closure as h5doctor's resolver finds it with the child's LD_LIBRARY_PATH and LD_PRELOAD (or the
//! program itself, when HDF5 is linked into it); for a Python interpreter, the libhdf5 that h5py's first
//! extension module brings when the interpreter imports it (`h5py/` in PYTHONPATH or a site directory; each
//! flavour of Debian's, which picks one at import). A script other than an interpreter's is not followed
//! (what it runs is its own business, as for every program root may run).
//! The directories are read from that file ([`crate::elf::plugindir`]). A program without HDF5 (bash, a
//! launcher, h5doctor itself, whose own children are confined in turn) has none. What was read is kept
//! for the run, per program (or h5py module) and loader variables, as the library verdicts are.

use super::{child_var, is_python, kept, plugin_dir_refusal, python_site_dirs, startup_closure, LoaderKey};
use crate::elf::libraries::{classify, Kind};
use crate::elf::plugindir::default_plugin_dirs;
use crate::elf::{resolve_dlopen, FileCache, LoaderConfig};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, Mutex};

/// The default plugin directories of a child's HDF5, split by the ownership check (as root).
#[derive(Debug, Default, PartialEq)]
pub struct DefaultPluginDirs {
    /// All of them, in HDF5's order.
    pub all: Vec<String>,
    /// Those HDF5 may search, in its order.
    pub kept: Vec<String>,
    /// Those it must not, each with [`plugin_dir_refusal`]'s reason (or why the default was not found).
    pub refused: Vec<(String, String)>,
}

/// Default directories read, per (program or h5py module, LD_LIBRARY_PATH, LD_PRELOAD).
type Read = Result<Vec<String>, String>;
static READ: Mutex<Vec<(LoaderKey, Read)>> = Mutex::new(Vec::new());

/// The first extension module of the h5py the interpreter `program` would import (in `h5py/`, and in each
/// directory below it: Debian's h5py imports `_debian_h5py_serial` or `_debian_h5py_mpi`), if any.
fn h5py_modules(cmd: &Command, program: &Path) -> Vec<PathBuf> {
    let mut dirs: Vec<PathBuf> = child_var(cmd, "PYTHONPATH")
        .map(|v| std::env::split_paths(&v).collect())
        .unwrap_or_default();
    dirs.extend(python_site_dirs(cmd, program).0);
    let first_module = |dir: &Path| {
        let mut modules: Vec<PathBuf> = std::fs::read_dir(dir)
            .ok()?
            .flatten()
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|e| e == "so") && p.is_file())
            .collect();
        modules.sort();
        modules.into_iter().next()
    };
    let Some(package) = dirs.iter().map(|d| d.join("h5py")).find(|p| p.is_dir()) else {
        return Vec::new();
    };
    let mut below: Vec<PathBuf> = std::fs::read_dir(&package)
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.is_dir())
        .collect();
    below.sort();
    std::iter::once(package).chain(below).filter_map(|d| first_module(&d)).collect()
}

/// The default plugin directories of every libhdf5 in the closure of `root` (or of `module` dlopened
/// into it), or of `root` itself when HDF5 is linked into it.
fn read_defaults(root: &Path, module: Option<&Path>, key: &LoaderKey) -> Result<Vec<String>, String> {
    let resolution = match module {
        Some(m) => {
            // Which files the loader maps, not whether their symbol versions match: no version tables read.
            let cfg = LoaderConfig::with_vars(key.1.clone(), key.2.clone());
            Arc::new(resolve_dlopen(
                &root.to_string_lossy(),
                &m.to_string_lossy(),
                &cfg,
                &FileCache::without_versions(),
            ))
        }
        // The closure the library verdict of the same start resolved (or will find resolved).
        None => startup_closure(root, key.1.clone(), key.2.clone()),
    };
    let mut files: Vec<PathBuf> = resolution
        .objects
        .iter()
        .filter(|n| {
            Path::new(&n.path)
                .file_name()
                .is_some_and(|f| classify(&f.to_string_lossy()) == Some(Kind::Hdf5))
        })
        .map(|n| PathBuf::from(&n.path))
        .collect();
    if files.is_empty() && module.is_none() {
        files.push(root.to_path_buf());
    }
    let mut dirs: Vec<String> = Vec::new();
    for file in files {
        for d in default_plugin_dirs(&file)?.unwrap_or_default() {
            if !dirs.contains(&d) {
                dirs.push(d);
            }
        }
    }
    Ok(dirs)
}

/// As root, the default plugin directories the HDF5 of `cmd`'s program (at `program`) would search, split
/// into those it may and those it must not. Empty for a program without HDF5.
pub fn split(cmd: &Command, program: &Path) -> DefaultPluginDirs {
    let var = |name: &str| child_var(cmd, name).map(|v| v.to_string_lossy().into_owned());
    let (ld_library_path, ld_preload) = (var("LD_LIBRARY_PATH"), var("LD_PRELOAD"));
    let roots: Vec<Option<PathBuf>> = if is_python(program) {
        h5py_modules(cmd, program).into_iter().map(Some).collect()
    } else {
        vec![None]
    };
    let mut read: Read = Ok(Vec::new());
    for module in roots {
        let key = (
            module.clone().unwrap_or_else(|| program.to_path_buf()),
            ld_library_path.clone(),
            ld_preload.clone(),
        );
        let one = kept(&READ, key, |key| read_defaults(program, module.as_deref(), key));
        read = match (read, one) {
            (Ok(mut dirs), Ok(more)) => {
                dirs.extend(more.into_iter().filter(|d| !dirs.contains(d)).collect::<Vec<_>>());
                Ok(dirs)
            }
            (Err(e), _) | (_, Err(e)) => Err(e),
        };
    }
    let mut out = DefaultPluginDirs::default();
    match read {
        Ok(dirs) => {
            for d in dirs {
                out.all.push(d.clone());
                match plugin_dir_refusal(&d) {
                    Some(why) => out.refused.push((d, why)),
                    None => out.kept.push(d),
                }
            }
        }
        Err(why) => out
            .refused
            .push(("HDF5's default plugin directory".into(), format!("not run as root: {why}"))),
    }
    out
}
