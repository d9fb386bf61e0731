//! Facts about HDF5's plugin variables (`env.hdf5_plugin_*`, `hdf5.plugin_env_*`): HDF5_VOL_CONNECTOR,
//! HDF5_DRIVER and HDF5_DRIVER_CONFIG make HDF5 load a VOL connector or a file driver by name when it
//! initialises. These facts say which are set, which HDF5s on the node fail (or crash) with them and work
//! without them (proved by re-running the HDF5 probe and each Python import with them unset), which
//! HDF5s ignore them (VOL connectors came with 1.12, driver plugins with 1.14), and where the plugins they
//! name are on this node (`hdf5.plugin_env_*`: the directory a fix puts on HDF5_PLUGIN_PATH).

use crate::facts::catalog::facts;
use crate::facts::catalog::non_empty;
use crate::facts::{Facts, FoundPlugin, PluginEnvRetry, ProbeStatus};
use serde_json::json;

/// The HDF5 release that first reads a variable.
pub(crate) fn first_reader(var: &str) -> (u64, u64) {
    match var {
        "HDF5_VOL_CONNECTOR" => (1, 12),
        _ => (1, 14),
    }
}

pub(crate) fn major_minor(version: &str) -> Option<(u64, u64)> {
    let mut parts = version.split('.').map(|p| p.trim().parse::<u64>().ok());
    Some((parts.next()??, parts.next()??))
}

/// `killed by signal 11 (SIGSEGV)`.
pub fn signal_text(signal: i32) -> String {
    let name = match signal {
        4 => "SIGILL",
        6 => "SIGABRT",
        7 => "SIGBUS",
        8 => "SIGFPE",
        9 => "SIGKILL",
        11 => "SIGSEGV",
        15 => "SIGTERM",
        _ => "",
    };
    if name.is_empty() {
        format!("killed by signal {signal}")
    } else {
        format!("killed by signal {signal} ({name})")
    }
}

/// Each HDF5 user that failed with the variables set and worked without them, with how it failed.
fn failures(f: &Facts) -> Vec<(String, &PluginEnvRetry)> {
    let mut out = Vec::new();
    if let Some(retry) = f.hdf5.without_plugin_env.as_ref().filter(|r| r.ok) {
        let how = f
            .hdf5
            .signal
            .map_or_else(|| f.hdf5.reason.clone().unwrap_or_else(|| "failed".into()), signal_text);
        out.push((format!("h5doctor-probe (this node's HDF5): {how}"), retry));
    }
    for i in &f.python.interpreters {
        let Some(retry) = i.import.without_plugin_env.as_ref().filter(|r| r.ok) else {
            continue;
        };
        let how = match (i.import.signal, &i.import.error) {
            (Some(sig), _) => signal_text(sig),
            (None, Some(e)) => e.clone(),
            (None, None) => i
                .import
                .creates
                .iter()
                .find(|c| !c.ok)
                .and_then(|c| c.error.clone())
                .unwrap_or_else(|| "failed".into()),
        };
        let h5py = i.h5py.as_ref().map_or(String::new(), |h| {
            format!(", h5py {}", h.location.version.as_deref().unwrap_or("?"))
        });
        out.push((format!("{}{h5py}: {how}", i.path), retry));
    }
    out
}

/// Each HDF5 on the node that ignores a set variable (too old to read it).
pub(crate) fn ignored_by(f: &Facts) -> Vec<String> {
    let set = f.env.hdf5_plugin_vars();
    let mut readers: Vec<(String, String)> = Vec::new();
    if let Some(lib) = f.hdf5.library.as_ref().filter(|_| f.hdf5.status == ProbeStatus::Ok) {
        readers.push((
            format!(
                "HDF5 {} ({})",
                lib.version,
                lib.location().unwrap_or_else(|| "h5doctor-probe".into())
            ),
            lib.version.clone(),
        ));
    }
    for i in &f.python.interpreters {
        if let Some(v) = &i.import.hdf5_version {
            readers.push((format!("HDF5 {v} of h5py in {}", i.path), v.clone()));
        }
    }
    let mut out = Vec::new();
    for (who, version) in readers {
        let Some(have) = major_minor(&version) else { continue };
        let ignored: Vec<&str> = set.iter().copied().filter(|v| have < first_reader(v)).collect();
        if !ignored.is_empty() {
            out.push(format!("{who} ignores {}", ignored.join(" and ")));
        }
    }
    out
}

/// `VOL connector` for HDF5_VOL_CONNECTOR, `file driver` for HDF5_DRIVER.
fn what_is_wanted(var: &str) -> &'static str {
    if var == "HDF5_VOL_CONNECTOR" {
        "VOL connector"
    } else {
        "file driver"
    }
}

/// The HDF5_PLUGIN_PATH that adds, for each name asked for, the directory of the first plugin library
/// found for it that HDF5 does not search already (then keeps HDF5_PLUGIN_PATH's own entries), and what
/// those libraries are; `None` when no such library was found.
fn plugin_env_path(f: &Facts) -> Option<(String, String)> {
    let search = f.hdf5.plugin_env_search.as_ref()?;
    let mut dirs: Vec<&str> = Vec::new();
    let mut why: Vec<String> = Vec::new();
    for w in &search.wanted {
        let Some(p) = search.found.iter().find(|p| p.var == w.var && p.name == w.name && !p.already_searched) else {
            continue;
        };
        if !dirs.contains(&p.dir.as_str()) {
            dirs.push(&p.dir);
        }
        why.push(p.describe());
    }
    if dirs.is_empty() {
        return None;
    }
    let own = f.env.vars.get("HDF5_PLUGIN_PATH").map_or("", String::as_str);
    for entry in own.split(':').filter(|e| !e.is_empty()) {
        if !dirs.contains(&entry) {
            dirs.push(entry);
        }
    }
    Some((dirs.join(":"), why.join("; ")))
}

facts! {
    Global(f) {
        "env.HDF5_VDS_PREFIX" ["HDF5_VDS_PREFIX"]
            "The raw value of HDF5_VDS_PREFIX (where HDF5 looks for virtual-dataset source files first); unknown when unset."
            => f.env.vars.get("HDF5_VDS_PREFIX");
        "env.hdf5_plugin_vars" ["HDF5 plugin variables"]
            "HDF5_VOL_CONNECTOR, HDF5_DRIVER and HDF5_DRIVER_CONFIG as set for the job, NAME=value (a list; unknown when none is set)."
            => non_empty(
                f.env
                    .hdf5_plugin_vars()
                    .into_iter()
                    .map(|v| format!("{v}={}", f.env.vars.get(v).map_or("", String::as_str)))
                    .collect(),
            );
        "env.hdf5_plugin_var_names" ["HDF5 plugin variable names"]
            "The names of the HDF5 plugin variables that are set, separated by spaces (for `unset ...`)."
            => {
                let names = f.env.hdf5_plugin_vars();
                (!names.is_empty()).then(|| json!(names.join(" ")))
            };
        "hdf5.plugin_env_failures" ["fails with them set"]
            "Each HDF5 user on the node (the HDF5 probe, each Python's h5py) that failed or crashed with the HDF5 plugin \
            variables set and worked when re-run without them, with how it failed (a list)."
            => non_empty(failures(f).into_iter().map(|(who, _)| who).collect());
        "hdf5.plugin_env_unset_works" ["works with them unset"]
            "true when every HDF5 user that failed with the HDF5 plugin variables set worked when re-run with them unset."
            => {
                let fails = failures(f);
                (!fails.is_empty()).then(|| json!(fails.iter().all(|(_, r)| r.ok)))
            };
        "hdf5.plugin_env_ignored_by" ["ignored by"]
            "Each HDF5 on the node too old to read a set plugin variable (VOL connectors came with 1.12, driver plugins \
            with 1.14): programs linked to it silently run without the connector or driver (a list)."
            => non_empty(ignored_by(f));
        "hdf5.plugin_env_searched" ["looked for their plugins"]
            "true when h5doctor looked for the plugins HDF5_VOL_CONNECTOR and HDF5_DRIVER name (unknown in facts from \
            before it did, and when the probe could not list directories)."
            => f.hdf5.plugin_env_search.as_ref().map(|_| json!(true));
        "hdf5.plugin_env_wanted" ["plugins asked for"]
            "The VOL connector or file driver plugins the HDF5 plugin variables ask for, beyond what HDF5 ships \
            (`VOL connector async (HDF5_VOL_CONNECTOR)`), joined with ` and `."
            => {
                let wanted = &f.hdf5.plugin_env_search.as_ref()?.wanted;
                let names: Vec<String> = wanted.iter().map(|w| format!("{} {} ({})", what_is_wanted(&w.var), w.name, w.var)).collect();
                (!names.is_empty()).then(|| json!(names.join(" and ")))
            };
        "hdf5.plugin_env_search" ["looked for the plugins in"]
            "Every directory looked in for a plugin library providing what the HDF5 plugin variables ask for, in \
            order, with why and what it held (a list)."
            => f.hdf5.plugin_env_search.as_ref().and_then(|s| non_empty(s.looked_in.clone()));
        "hdf5.plugin_env_looked_in" ["looked for the plugins in"]
            "hdf5.plugin_env_search as one sentence, for a fix's note: the directories joined with `; `."
            => f.hdf5.plugin_env_search.as_ref().filter(|s| !s.looked_in.is_empty()).map(|s| json!(s.looked_in.join("; ")));
        "hdf5.plugin_env_found" ["plugins found"]
            "Each plugin library found that provides a connector or driver the HDF5 plugin variables ask for, with \
            its class version and the libhdf5 it links (a list)."
            => non_empty(
                f.hdf5
                    .plugin_env_search
                    .as_ref()
                    .map(|s| s.found.iter().map(FoundPlugin::describe).collect::<Vec<String>>())
                    .unwrap_or_default(),
            );
        "hdf5.plugin_env_path" ["HDF5_PLUGIN_PATH to set"]
            "HDF5_PLUGIN_PATH naming the directory of the first plugin library found for each name asked for that \
            HDF5 does not search already, followed by HDF5_PLUGIN_PATH's own entries; unknown when there is none."
            => plugin_env_path(f).map(|(path, _)| json!(path));
        "hdf5.plugin_env_path_why" ["what that directory holds"]
            "The plugin libraries hdf5.plugin_env_path adds, and what each provides, joined with `; `."
            => plugin_env_path(f).map(|(_, why)| json!(why));
        "hdf5.probe_signal" ["HDF5 probe ended"]
            "How the HDF5 probe died, when a signal killed it (killed by signal 11 (SIGSEGV))."
            => f.hdf5.signal.map(|s| json!(signal_text(s)));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_before_the_first_reader_ignore_the_variable() {
        assert!(major_minor("1.10.8").unwrap() < first_reader("HDF5_VOL_CONNECTOR"));
        assert!(major_minor("1.12.0").unwrap() >= first_reader("HDF5_VOL_CONNECTOR"));
        assert!(major_minor("1.12.2").unwrap() < first_reader("HDF5_DRIVER"));
        assert!(major_minor("2.0.0").unwrap() >= first_reader("HDF5_DRIVER"));
        assert_eq!(signal_text(11), "killed by signal 11 (SIGSEGV)");
    }
}
