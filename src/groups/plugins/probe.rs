//! Plugin probe: the directories HDF5 searches for filter plugins and what is in them.
//!
//! HDF5_PLUGIN_PATH (colon-separated) replaces the library's compiled-in default directory; the default is
//! searched only when the variable is unset. h5doctor checks each HDF5_PLUGIN_PATH directory itself (exists?
//! a directory? readable?), then runs `h5doctor-probe plugins DIR...` with the variable unset, which lists
//! those directories and the library's default one and loads every plugin library in a child of its own
//! to learn the filter it provides. Finally h5doctor reads each plugin's ELF dynamic section for the
//! libhdf5 it was linked against, and resolves it as the loader would when HDF5 dlopens it (a symbol version
//! its libraries lack, code on a noexec mount, an unreadable library, a missing one). Without a working
//! probe the directory checks and the static loader check still stand (h5doctor lists the plugins itself);
//! so do they, and nothing is loaded, when h5doctor runs as root and an HDF5_PLUGIN_PATH directory (or,
//! with the variable unset, a default directory of the probe's HDF5) or a plugin library in it could have
//! been written by another user.

use crate::elf::libraries::{classify, Kind};
use crate::elf::ElfObject;
use crate::errno;
use crate::facts::values::PluginDirSource;
use crate::facts::{Hdf5ProbeReport, PluginDirFacts, PluginFacts, PluginLibrary, ProbeStatus};
use crate::groups::hdf5::probe::{self as hdf5, ProbeAccess, ProbeCall};
use crate::groups::python::probe::linkage::Linker;
use std::path::Path;
use std::time::Duration;

/// A directory checked with plain file-system calls, without listing its plugins.
fn check_locally(path: &str, source: PluginDirSource) -> PluginDirFacts {
    let mut dir = PluginDirFacts {
        path: path.to_string(),
        source,
        ..PluginDirFacts::default()
    };
    let describe = |e: std::io::Error| match e.raw_os_error() {
        Some(n) => format!("{} ({})", errno::describe(n), errno::name(n)),
        None => e.to_string(),
    };
    match std::fs::metadata(path) {
        Ok(m) => {
            dir.exists = true;
            dir.is_dir = m.is_dir();
        }
        Err(e) => {
            dir.error = Some(describe(e));
            return dir;
        }
    }
    if !dir.is_dir {
        dir.error = Some("not a directory".into());
        return dir;
    }
    match std::fs::read_dir(path) {
        Ok(entries) => {
            dir.readable = true;
            dir.plugins = plugin_files(entries);
        }
        Err(e) => dir.error = Some(describe(e)),
    }
    dir
}

/// The files HDF5 would try as plugins (H5PL__find_plugin_in_path: a name starting with `lib` that holds
/// `.so`, not a directory), sorted.
fn plugin_files(entries: std::fs::ReadDir) -> Vec<PluginLibrary> {
    let mut files: Vec<String> = entries
        .filter_map(|e| e.ok())
        .filter(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            name.starts_with("lib") && name.contains(".so") && !e.path().is_dir()
        })
        .map(|e| e.path().display().to_string())
        .collect();
    files.sort();
    files
        .into_iter()
        .map(|file| PluginLibrary {
            file,
            ..PluginLibrary::default()
        })
        .collect()
}

/// Resolves every plugin as HDF5's dlopen in `host` (h5doctor-probe, when it runs) would load it, with
/// the job's LD_LIBRARY_PATH and LD_PRELOAD, and records what the loader would refuse.
fn check_loader(dirs: &mut [PluginDirFacts], host: Option<&Path>) {
    let env: std::collections::BTreeMap<String, String> = std::env::vars().collect();
    let linker = Linker::new(&env);
    for plugin in dirs.iter_mut().flat_map(|d| d.plugins.iter_mut()) {
        plugin.loader_refuses = match linker.module(host, Path::new(&plugin.file)) {
            Ok(module) => module.refusals(),
            Err(e) => vec![e],
        };
    }
}

/// Adds what each plugin library's ELF dynamic section says about the libhdf5 it needs.
fn read_elf(dirs: &mut [PluginDirFacts]) {
    for plugin in dirs.iter_mut().flat_map(|d| d.plugins.iter_mut()) {
        match ElfObject::read(Path::new(&plugin.file)) {
            Ok(elf) => plugin.needs_hdf5 = elf.needed.into_iter().filter(|n| classify(n) == Some(Kind::Hdf5)).collect(),
            Err(e) => plugin.elf_error = Some(e.to_string()),
        }
    }
}

/// The plugins group always runs by default; in `probes::gather`'s sequence (it reads the HDF5 probe's
/// outcome).
pub const PROBE: crate::probes::GroupProbe = crate::probes::GroupProbe {
    by_default: |_| true,
    run: crate::probes::Run::InSequence,
    reads: &[crate::groups::Group::Hdf5],
};

/// Gathers the plugin facts; the plugin libraries are loaded only when the probe works.
pub fn probe(access: &ProbeAccess, timeout: Duration) -> PluginFacts {
    probe_given(access, timeout, None)
}

/// [`probe`], with the report the HDF5 probe's `create` run already gave, when it gave one
/// ([`crate::groups::hdf5::probe::probe_with_plugins`]): the same answer without a probe run of its own.
pub fn probe_given(access: &ProbeAccess, timeout: Duration, given: Option<Hdf5ProbeReport>) -> PluginFacts {
    let value = std::env::var("HDF5_PLUGIN_PATH").ok();
    let env_dirs = value.as_deref().map(crate::trust::split_plugin_path).unwrap_or_default();
    let local: Vec<PluginDirFacts> = env_dirs.iter().map(|d| check_locally(d, PluginDirSource::Env)).collect();
    let mut facts = PluginFacts {
        hdf5_plugin_path: value,
        dirs: local,
        ..PluginFacts::default()
    };
    // As root, the probe loads (runs) every plugin library of the directories it is given: one that another
    // user could have written, or that holds such a library, is read statically only, as without a probe.
    // With HDF5_PLUGIN_PATH unset, the same holds for the default directories of the probe's HDF5 (as
    // root, read from its libhdf5 without running it): those are listed here, and only the others searched.
    let defaults = match (&facts.hdf5_plugin_path, access) {
        (None, ProbeAccess::Ready(p)) => crate::trust::default_plugin_dirs(&std::process::Command::new(p)),
        _ => crate::trust::DefaultPluginDirs::default(),
    };
    if !defaults.refused.is_empty() {
        facts.dirs = defaults.all.iter().map(|d| check_locally(d, PluginDirSource::Default)).collect();
    }
    let refused = env_dirs
        .iter()
        .filter(|d| Path::new(d).is_dir())
        .find_map(|d| crate::trust::plugin_dir_refusal(d))
        .or_else(|| defaults.refused.first().map(|(_, why)| why.clone()))
        .map(|reason| (ProbeStatus::Inconclusive, format!("plugin libraries not loaded: {reason}")));
    let usable = match (access, refused) {
        (ProbeAccess::Ready(p), None) => Ok(p),
        (_, Some(why)) => Err(why),
        (ProbeAccess::Broken(status, reason), None) => Err((*status, reason.clone())),
    };
    let probe_path = match usable {
        Ok(p) => p,
        Err((status, reason)) => {
            facts.status = status;
            facts.reason = Some(reason);
            for d in &mut facts.dirs {
                d.searched = !defaults.refused.iter().any(|(r, _)| *r == d.path);
            }
            read_elf(&mut facts.dirs);
            check_loader(&mut facts.dirs, None);
            return facts;
        }
    };
    let mut call = ProbeCall::default();
    call.args.push("plugins".as_ref());
    call.args.extend(env_dirs.iter().map(std::ffi::OsStr::new));
    call.remove_env.push("HDF5_PLUGIN_PATH");
    // Asked of the create run only when HDF5_PLUGIN_PATH is unset: the same call as below, without the run.
    let answer = match given.filter(|r| r.plugins.is_some() && env_dirs.is_empty()) {
        Some(report) => Ok(report),
        None => hdf5::run_probe(probe_path, &call, timeout),
    };
    match answer {
        Ok(report) => match report.plugins {
            Some(p) => {
                facts.status = ProbeStatus::Ok;
                facts.dirs = p.dirs;
                read_elf(&mut facts.dirs);
                check_loader(&mut facts.dirs, Some(probe_path));
                facts.hdf5_soname = report
                    .library
                    .path
                    .as_deref()
                    .and_then(|l| ElfObject::read(Path::new(l)).ok()?.soname);
                facts.hdf5_library_path = report.library.path;
            }
            None => {
                facts.status = ProbeStatus::Inconclusive;
                facts.reason = Some("h5doctor-probe answered without a plugin report; it may not match this h5doctor".into());
            }
        },
        Err((status, reason)) => {
            facts.status = if status == ProbeStatus::Unavailable {
                status
            } else {
                ProbeStatus::Inconclusive
            };
            facts.reason = Some(reason);
            read_elf(&mut facts.dirs);
            check_loader(&mut facts.dirs, None);
        }
    }
    let env_set = facts.hdf5_plugin_path.is_some();
    for d in &mut facts.dirs {
        d.searched = d.source == PluginDirSource::Env || !env_set;
    }
    facts
}
