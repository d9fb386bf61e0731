//! Where the plugin that HDF5_VOL_CONNECTOR or HDF5_DRIVER asks for is on this node, looked for only when
//! one of them is set, so that the fix pointing HDF5_PLUGIN_PATH at it names a real directory, or says where
//! h5doctor looked.
//!
//! What HDF5 looks for (H5VL__set_def_conn, H5P__facc_set_def_driver, H5PL_load; HDF5 1.12 to 2.0): the
//! first word of HDF5_VOL_CONNECTOR names a VOL connector (`native` and `pass_through` are built in); all
//! of HDF5_DRIVER names a file driver (the drivers HDF5 1.14 ships, `sec2` ... `ros3`, need no plugin).
//! Any other name is loaded as a plugin: HDF5 tries every `lib*.so*` file of each directory of
//! HDF5_PLUGIN_PATH (of its compiled-in default while that is unset) and takes the first whose
//! H5PLget_plugin_type is 1 (VOL) or 2 (driver) and whose class bears that name.
//!
//! The directories looked in, in order: HDF5_PLUGIN_PATH's entries and the default plugin directory of the
//! probe's HDF5 (the places HDF5 searched already), then HDF5's own install layout `PREFIX/lib/plugin`
//! for `$HDF5_DIR`, `$HDF5_ROOT`, `$HDF5_HOME`, beside the probe's libhdf5, beside each LD_LIBRARY_PATH
//! entry and each loader-cache directory holding a libhdf5 (with Debian's `hdf5/<flavour>/plugins` there),
//! and HDF5's defaults `/usr/local/hdf5/lib/plugin` and `/usr/local/lib/plugin` (HDF5 2.0). h5doctor-probe's
//! `plugins` lists them and loads each plugin library in a child of its own, with the plugin variables
//! unset. As root, a directory is handed to it only when it and every plugin library in it are trusted
//! ([`crate::trust::may_use`]): loading a library runs its code; so is a default directory of the probe's
//! HDF5 ([`crate::trust::default_plugin_dirs`]).

use super::{run_probe, ProbeCall};
use crate::elf::libraries::{classify, Kind};
use crate::elf::ElfObject;
use crate::facts::{FoundPlugin, PluginDirFacts, PluginEnvSearch, WantedPlugin, HDF5_PLUGIN_ENV};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// The file drivers HDF5 ships (H5P__facc_set_def_driver_check_predefined, HDF5 1.14): HDF5_DRIVER naming
/// one of them loads no plugin (one not built in fails with "... VFD is not enabled").
const BUILT_IN_DRIVERS: &[&str] = &[
    "sec2", "core", "core_paged", "log", "family", "multi", "split", "stdio", "splitter", "mpio", "direct", "mirror", "hdfs", "ros3",
    "subfiling", "windows",
];

/// H5PLget_plugin_type's answer for what each variable asks for: 1 a VOL connector, 2 a file driver.
fn plugin_type_of(var: &str) -> i32 {
    if var == "HDF5_VOL_CONNECTOR" {
        1
    } else {
        2
    }
}

/// What each plugin variable asks a plugin for, in [`HDF5_PLUGIN_ENV`]'s order; `env` reads a variable.
pub fn wanted(env: &dyn Fn(&str) -> Option<String>) -> Vec<WantedPlugin> {
    let mut out = Vec::new();
    if let Some(value) = env("HDF5_VOL_CONNECTOR") {
        // strtok_r(" \t\n\r"): the first word; the rest is the connector's info string.
        let name = value.split([' ', '\t', '\n', '\r']).find(|w| !w.is_empty());
        if let Some(name) = name.filter(|n| !["native", "pass_through"].contains(n)) {
            out.push(WantedPlugin {
                var: "HDF5_VOL_CONNECTOR".into(),
                name: name.to_string(),
            });
        }
    }
    if let Some(name) = env("HDF5_DRIVER").filter(|n| !n.is_empty() && !BUILT_IN_DRIVERS.contains(&n.as_str())) {
        out.push(WantedPlugin {
            var: "HDF5_DRIVER".into(),
            name,
        });
    }
    out
}

/// A directory to look in and why.
struct Candidate {
    dir: String,
    why: String,
}

/// The directories HDF5 searches for plugins with this HDF5_PLUGIN_PATH.
fn plugin_path_entries(env: &dyn Fn(&str) -> Option<String>) -> Vec<String> {
    crate::trust::split_plugin_path(&env("HDF5_PLUGIN_PATH").unwrap_or_default())
}

/// Whether `dir` holds HDF5's C library (`libhdf5.so*`, `libhdf5_serial.so*`; not `_hl` and the like).
fn holds_libhdf5(dir: &Path) -> bool {
    std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .filter_map(Result::ok)
        .any(|e| classify(&e.file_name().to_string_lossy()) == Some(Kind::Hdf5))
}

/// The plugin directories that belong to a library directory: HDF5's layout `PREFIX/lib/plugin`, and
/// Debian's `LIBDIR/hdf5/<flavour>/plugins`.
fn beside_library_dir(lib_dir: &Path) -> Vec<PathBuf> {
    let mut out = vec![lib_dir.join("plugin")];
    let mut flavours: Vec<PathBuf> = std::fs::read_dir(lib_dir.join("hdf5"))
        .into_iter()
        .flatten()
        .filter_map(Result::ok)
        .map(|e| e.path().join("plugins"))
        .collect();
    flavours.sort();
    out.extend(flavours);
    out
}

/// The directories to look in after HDF5's own (see the module doc), each once.
fn candidates(env: &dyn Fn(&str) -> Option<String>, library: Option<&str>, cached_libhdf5: &[String]) -> Vec<Candidate> {
    let mut out: Vec<Candidate> = Vec::new();
    let mut add = |dir: PathBuf, why: String| {
        let dir = dir.display().to_string();
        if !out.iter().any(|c| c.dir == dir) {
            out.push(Candidate { dir, why });
        }
    };
    for var in ["HDF5_DIR", "HDF5_ROOT", "HDF5_HOME"] {
        if let Some(prefix) = env(var).filter(|v| !v.is_empty()) {
            add(Path::new(&prefix).join("lib/plugin"), format!("${var}/lib/plugin"));
        }
    }
    if let Some(dir) = library.and_then(|l| Path::new(l).parent()) {
        for d in beside_library_dir(dir) {
            add(d, format!("beside the probe's libhdf5 {}", library.unwrap_or_default()));
        }
    }
    for entry in env("LD_LIBRARY_PATH").unwrap_or_default().split(':').filter(|e| !e.is_empty()) {
        if holds_libhdf5(Path::new(entry)) {
            for d in beside_library_dir(Path::new(entry)) {
                add(d, format!("LD_LIBRARY_PATH {entry} holds a libhdf5"));
            }
        }
    }
    // As the loader's cache names them (/lib/x86_64-linux-gnu), resolved (merged /usr: /usr/lib/...).
    let mut cache_dirs: Vec<PathBuf> = cached_libhdf5
        .iter()
        .filter_map(|l| Path::new(l).parent())
        .map(|d| std::fs::canonicalize(d).unwrap_or_else(|_| d.to_path_buf()))
        .collect();
    cache_dirs.dedup();
    for dir in &cache_dirs {
        for d in beside_library_dir(dir) {
            add(d, format!("ld.so.cache: a libhdf5 in {}", dir.display()));
        }
    }
    add(PathBuf::from("/usr/local/hdf5/lib/plugin"), "HDF5's default plugin directory".into());
    add(PathBuf::from("/usr/local/lib/plugin"), "HDF5 2.0's second default plugin directory".into());
    out
}

/// One line of `looked_in` for a directory the probe listed: what it held (`libvol.so: VOL connector
/// cache; none provides async`).
fn what_it_held(dir: &PluginDirFacts, providers: &[&FoundPlugin], wanted: &[WantedPlugin]) -> String {
    if let Some(e) = &dir.error {
        return e.clone();
    }
    let base = |file: &str| file.rsplit('/').next().unwrap_or(file).to_string();
    if !providers.is_empty() {
        return providers.iter().map(|p| p.describe_as(&base(&p.file))).collect::<Vec<_>>().join(", ");
    }
    if dir.plugins.is_empty() {
        return "no plugin library".into();
    }
    let each: Vec<String> = dir
        .plugins
        .iter()
        .map(|p| {
            let file = base(&p.file);
            match &p.load {
                Some(l) if l.ok => match (l.plugin_type, l.class_name.as_deref(), l.filter_id) {
                    (Some(1), Some(name), _) => format!("{file}: VOL connector {name}"),
                    (Some(2), Some(name), _) => format!("{file}: file driver {name}"),
                    (Some(0), _, Some(id)) => format!("{file}: filter {id}"),
                    (Some(t), ..) => format!("{file}: plugin type {t}"),
                    (None, ..) => format!("{file}: no plugin type"),
                },
                Some(l) => format!("{file}: could not be loaded here ({})", l.error.as_deref().unwrap_or("failed")),
                None => format!("{file}: not loaded"),
            }
        })
        .collect();
    let names: Vec<&str> = wanted.iter().map(|w| w.name.as_str()).collect();
    format!("{}; none provides {}", each.join(", "), names.join(" or "))
}

/// Looks for the plugins the variables ask for, with the probe at `probe_path` (whose libhdf5 is
/// `library`). `None` when no plugin variable is set, or when the probe could not list the directories.
pub fn search(probe_path: &Path, library: Option<&str>, timeout: Duration) -> Option<PluginEnvSearch> {
    let env = |v: &str| std::env::var(v).ok();
    if HDF5_PLUGIN_ENV.into_iter().all(|v| env(v).is_none()) {
        return None;
    }
    let wanted = wanted(&env);
    if wanted.is_empty() {
        return Some(PluginEnvSearch::default());
    }
    let env_dirs = plugin_path_entries(&env);
    let mut others = candidates(&env, library, &super::installs::cached_libhdf5());
    others.retain(|c| !env_dirs.contains(&c.dir));
    let mut refused: Vec<(String, String)> = Vec::new();
    let mut given: Vec<&str> = Vec::new();
    // As root with HDF5_PLUGIN_PATH unset, a default directory of the probe's HDF5 that fails the check is
    // kept out of the probe's search (trust::confine_plugin_path), so the probe does not list the defaults:
    // they are handed to it like the others, those that pass, and the rest are named with the reason.
    let defaults = match env("HDF5_PLUGIN_PATH") {
        None => crate::trust::default_plugin_dirs(&std::process::Command::new(probe_path)),
        Some(_) => crate::trust::DefaultPluginDirs::default(),
    };
    if !defaults.refused.is_empty() {
        refused.extend(defaults.refused.iter().cloned());
        given.extend(defaults.kept.iter().map(String::as_str));
        others.retain(|c| !defaults.all.contains(&c.dir));
    }
    for dir in env_dirs.iter().chain(others.iter().map(|c| &c.dir)) {
        match Path::new(dir).is_dir().then(|| crate::trust::plugin_dir_refusal(dir)).flatten() {
            Some(why) => refused.push((dir.clone(), why)),
            None => given.push(dir),
        }
    }
    let mut call = ProbeCall::default();
    call.args.push("plugins".as_ref());
    call.args.extend(given.iter().map(std::ffi::OsStr::new));
    call.remove_env.push("HDF5_PLUGIN_PATH");
    call.remove_env.extend(HDF5_PLUGIN_ENV);
    let report = match run_probe(probe_path, &call, timeout) {
        Ok(r) => r.plugins?,
        Err((_, reason)) => {
            tracing::warn!("listing plugin directories for {wanted:?} failed: {reason}");
            return None;
        }
    };
    // HDF5_PLUGIN_PATH's entries, the probe's default directories, then the others.
    let default_dirs = if defaults.refused.is_empty() {
        report.default_dirs.clone()
    } else {
        defaults.all.clone()
    };
    let mut order: Vec<(String, String, bool)> = env_dirs.iter().map(|d| (d.clone(), "HDF5_PLUGIN_PATH".into(), true)).collect();
    for d in &default_dirs {
        if !order.iter().any(|(o, _, _)| o == d) {
            order.push((d.clone(), "the default plugin directory of the probe's HDF5".into(), env_dirs.is_empty()));
        }
    }
    for c in &others {
        if !order.iter().any(|(o, _, _)| *o == c.dir) {
            order.push((c.dir.clone(), c.why.clone(), false));
        }
    }
    let mut search = PluginEnvSearch {
        wanted,
        ..PluginEnvSearch::default()
    };
    for (dir, why, already_searched) in order {
        let line = if let Some((_, reason)) = refused.iter().find(|(d, _)| *d == dir) {
            format!("not loaded: {reason}")
        } else if let Some(listed) = report.dirs.iter().find(|d| d.path == dir) {
            let first = search.found.len();
            for p in &listed.plugins {
                let Some(load) = p.load.as_ref().filter(|l| l.ok) else { continue };
                let Some(w) = search
                    .wanted
                    .iter()
                    .find(|w| load.plugin_type == Some(plugin_type_of(&w.var)) && load.class_name.as_deref() == Some(w.name.as_str()))
                else {
                    continue;
                };
                let needs_hdf5 = ElfObject::read(Path::new(&p.file))
                    .map(|elf| elf.needed.into_iter().filter(|n| classify(n) == Some(Kind::Hdf5)).collect())
                    .unwrap_or_default();
                search.found.push(FoundPlugin {
                    dir: dir.clone(),
                    file: p.file.clone(),
                    var: w.var.clone(),
                    name: w.name.clone(),
                    class_version: load.class_version,
                    needs_hdf5,
                    already_searched,
                });
            }
            let providers: Vec<&FoundPlugin> = search.found[first..].iter().collect();
            what_it_held(listed, &providers, &search.wanted)
        } else {
            "no such directory".to_string()
        };
        let searched = if already_searched { ", searched by HDF5 already" } else { "" };
        search.looked_in.push(format!("{dir} ({why}{searched}): {line}"));
    }
    Some(search)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env_of<'a>(vars: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<String> + 'a {
        move |name| vars.iter().find(|(k, _)| *k == name).map(|(_, v)| v.to_string())
    }

    #[test]
    fn the_variables_ask_for_what_hdf5_does_not_ship() {
        let names = |vars: &[(&str, &str)]| -> Vec<(String, String)> { wanted(&env_of(vars)).into_iter().map(|w| (w.var, w.name)).collect() };
        assert_eq!(
            names(&[("HDF5_VOL_CONNECTOR", "async under_vol=0;under_info={}")]),
            [("HDF5_VOL_CONNECTOR".to_string(), "async".to_string())]
        );
        assert_eq!(names(&[("HDF5_VOL_CONNECTOR", " \tcache_ext config=x")])[0].1, "cache_ext");
        assert!(names(&[("HDF5_VOL_CONNECTOR", "native"), ("HDF5_DRIVER", "ros3")]).is_empty());
        assert!(names(&[("HDF5_VOL_CONNECTOR", "pass_through under_vol=0;under_info={}")]).is_empty());
        assert_eq!(
            names(&[("HDF5_DRIVER", "gds"), ("HDF5_DRIVER_CONFIG", "x")]),
            [("HDF5_DRIVER".to_string(), "gds".to_string())]
        );
        assert!(names(&[("HDF5_VOL_CONNECTOR", "   ")]).is_empty());
    }

    #[test]
    fn candidates_follow_the_install_layouts_once_each() {
        let vars = [("HDF5_DIR", "/opt/hdf5"), ("HDF5_ROOT", "/opt/hdf5/")];
        let dirs: Vec<String> = candidates(&env_of(&vars), Some("/opt/hdf5/lib/libhdf5.so.310"), &[])
            .into_iter()
            .map(|c| c.dir)
            .collect();
        assert_eq!(dirs[0], "/opt/hdf5/lib/plugin");
        assert_eq!(dirs.iter().filter(|d| *d == "/opt/hdf5/lib/plugin").count(), 1, "{dirs:?}");
        assert!(dirs.ends_with(&["/usr/local/hdf5/lib/plugin".to_string(), "/usr/local/lib/plugin".to_string()]), "{dirs:?}");
    }
}
