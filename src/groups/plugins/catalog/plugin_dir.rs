//! Facts named `plugin_dir.*`: one set per directory HDF5 searches for filter plugins (each entry of
//! HDF5_PLUGIN_PATH, or the library's default directory when the variable is unset).

use crate::facts::catalog::facts;
use crate::facts::catalog::non_empty;
use crate::facts::values::PluginDirSource;
use crate::facts::{Facts, PluginDirFacts};
use serde_json::{json, Value};

/// What is wrong with the directory itself, in words; None when it can be listed.
pub fn problem(d: &PluginDirFacts) -> Option<String> {
    if !d.exists {
        Some("does not exist".into())
    } else if !d.is_dir {
        Some("is not a directory".into())
    } else if !d.readable {
        Some(format!("cannot be read: {}", d.error.as_deref().unwrap_or("unknown error")))
    } else {
        None
    }
}

fn file_name(path: &str) -> &str {
    path.rsplit('/').next().unwrap_or(path)
}

/// Plugins linked against a libhdf5 other than the one in use (unknown when the one in use is unknown).
fn foreign(f: &Facts, d: &PluginDirFacts) -> Option<Value> {
    let in_use = f.hdf5.soname.as_deref().or(f.plugins.hdf5_soname.as_deref())?;
    non_empty(
        d.plugins
            .iter()
            .filter(|p| !p.needs_hdf5.is_empty() && !p.needs_hdf5.iter().any(|n| n == in_use))
            .map(|p| format!("{} needs {}", file_name(&p.file), p.needs_hdf5.join(", ")))
            .collect(),
    )
}

/// What the HDF5 in use does at a directory it cannot open, by version; unknown without a version.
/// src/H5PLpath.c, H5PL__find_plugin_in_path_table: up to the fix for HDF5 issue #3248 (Aug 2023) a path
/// whose search fails ends the whole search (HGOTO_ERROR "search in path %s encountered an error"); after
/// it the error is only pushed (HERROR) and the loop goes on. Read in HDF5's git history: tags
/// hdf5-1_10_8, hdf5-1_12_0, hdf5-1_12_2 and hdf5_1_14_0 stop; the hdf5_1_12 branch at 1.12.3 (commit
/// 89b4afd4b3) and the 1.14.5 and 2.2.0 sources skip. Measured: Debian's 1.10.8 stops, 1.14.5 and 2.2.0
/// skip (tests/file_doctor.rs). 1.14.2 and 1.10.11 were not checked: counted as stopping (1.14.3 is the
/// first 1.14 release made after the fix).
fn missing_effect(f: &Facts, d: &PluginDirFacts) -> Option<String> {
    problem(d)?;
    let version = &f.hdf5.library.as_ref()?.version;
    let mut parts = version.split(['.', '-']).map(|p| p.parse::<u32>().unwrap_or(0));
    let v = (parts.next()?, parts.next().unwrap_or(0), parts.next().unwrap_or(0));
    let skips = v >= (1, 14, 3) || ((1, 12, 3)..(1, 13, 0)).contains(&v);
    Some(if skips {
        format!("HDF5 {version} skips a directory it cannot open and searches the ones after it")
    } else {
        format!("HDF5 {version} stops its plugin search at a directory it cannot open: plugins in the directories after it are not found")
    })
}

facts! {
    PluginDir(f, d) {
        "plugin_dir.error" ["error"]
            "Why the directory cannot be listed (No such file or directory (ENOENT), ...)."
            => d.error.as_ref();
        "plugin_dir.filter_ids" ["filter ids"]
            "The filter ids the directory's plugins provide (each plugin loaded in a child of h5doctor-probe)."
            => {
                Some(json!(d
                    .plugins
                    .iter()
                    .filter_map(|p| p.load.as_ref()?.filter_id)
                    .collect::<Vec<_>>()))
            };
        "plugin_dir.foreign_hdf5_plugins" ["linked against another HDF5"]
            "Plugins whose ELF DT_NEEDED names a libhdf5 other than the one in use (hdf5.soname); unknown when there are none."
            => foreign(f, d);
        "plugin_dir.load_failures" ["plugins that fail to load"]
            "Plugin libraries that could not be loaded, with the loader's message; unknown when there are none."
            => {
                non_empty(
                    d.plugins
                        .iter()
                        .filter_map(|p| {
                            let load = p.load.as_ref()?;
                            (!load.ok).then(|| format!("{}: {}", file_name(&p.file), load.error.as_deref().unwrap_or("failed")))
                        })
                        .collect(),
                )
            };
        "plugin_dir.loader_refuses" ["the loader would refuse"]
            "Plugin libraries glibc's loader would refuse when HDF5 dlopens them, by h5doctor's resolver (a symbol version \
             not met, code on a noexec mount, a library this user cannot read or that is missing), in the loader's words \
             with h5doctor's account; unknown when there are none."
            => {
                non_empty(
                    d.plugins
                        .iter()
                        .flat_map(|p| p.loader_refuses.iter().map(move |e| format!("{}: {e}", file_name(&p.file))))
                        .collect(),
                )
            };
        "plugin_dir.missing_effect" ["what HDF5 does there"]
            "What the HDF5 in use (hdf5.version) does at this directory when it cannot open it: up to 1.12.2 and 1.14.2 it \
             stops the plugin search there (the plugins after it are not found), 1.12.3+, 1.14.3+ and 2.x skip it; unknown \
             when the directory is fine or the version is unknown."
            => missing_effect(f, d);
        "plugin_dir.path" ["plugin directory"]
            "The directory."
            => Some(&d.path);
        "plugin_dir.plugins" ["plugins"]
            "The plugin libraries in the directory (files named lib*.so*), each with the filter it provides."
            => {
                Some(json!(d
                    .plugins
                    .iter()
                    .map(|p| {
                        let what = match &p.load {
                            Some(l) if l.ok => match (l.filter_id, &l.filter_name) {
                                (Some(id), Some(n)) => format!("filter {id} ({n})"),
                                (Some(id), None) => format!("filter {id}"),
                                _ => format!("plugin type {}", l.plugin_type.unwrap_or(-1)),
                            },
                            Some(l) => format!("does not load: {}", l.error.as_deref().unwrap_or("?")),
                            None => "not loaded".into(),
                        };
                        format!("{}: {what}", file_name(&p.file))
                    })
                    .collect::<Vec<_>>()))
            };
        "plugin_dir.problem" ["problem"]
            "What is wrong with the directory itself: does not exist, is not a directory, cannot be read: ...; unknown when it is fine."
            => problem(d);
        "plugin_dir.searched" ["searched by HDF5"]
            "Whether HDF5 searches the directory: every HDF5_PLUGIN_PATH entry; the default directory only while HDF5_PLUGIN_PATH is unset."
            => Some(&d.searched);
        "plugin_dir.source" ["listed in"] in PluginDirSource
            "Where the directory comes from: HDF5_PLUGIN_PATH, or default (the library's compiled-in directory, searched only when HDF5_PLUGIN_PATH is unset)."
            => Some(&d.source);
    }
}
