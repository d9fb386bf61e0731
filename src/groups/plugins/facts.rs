//! Facts about HDF5 filter plugins: the directories HDF5 searches (HDF5_PLUGIN_PATH, or the library's
//! compiled-in default), the plugin libraries in them, which filter each provides (loaded in the probe
//! child) and which libhdf5 each is linked against (read from its ELF dynamic section by h5doctor).

use crate::facts::catalog::Item;
use crate::facts::groups::{probe_unavailable_is_a_finding, unanswered_status, GroupSpec, ListPosition, Section, Unanswered};
use crate::facts::values::PluginDirSource;
use crate::facts::Facts;
use crate::facts::ProbeStatus;
use crate::groups::Group;
use serde::{Deserialize, Serialize};

/// All plugin directories and what is in them.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
pub struct PluginFacts {
    /// How loading the plugins in h5doctor-probe ended (the directory checks never need the probe).
    pub status: ProbeStatus,
    pub reason: Option<String>,
    /// The raw HDF5_PLUGIN_PATH, if set.
    pub hdf5_plugin_path: Option<String>,
    /// The libhdf5 that loaded the plugins (the probe's), and its DT_SONAME.
    #[serde(default)]
    pub hdf5_library_path: Option<String>,
    #[serde(default)]
    pub hdf5_soname: Option<String>,
    #[serde(default)]
    pub dirs: Vec<PluginDirFacts>,
}

/// One directory HDF5 looks for plugins in.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
pub struct PluginDirFacts {
    pub path: String,
    /// See [`PluginDirSource`] (fact `plugin_dir.source`).
    pub source: PluginDirSource,
    /// Fact `plugin_dir.searched` (documented once, in the facts catalogue: `h5doctor facts --list`).
    #[serde(default)]
    pub searched: bool,
    pub exists: bool,
    pub is_dir: bool,
    pub readable: bool,
    /// Fact `plugin_dir.error` (documented once, in the facts catalogue: `h5doctor facts --list`).
    pub error: Option<String>,
    #[serde(default)]
    pub plugins: Vec<PluginLibrary>,
}

/// A plugin library in a plugin directory (HDF5 considers `lib*.so*` files).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
pub struct PluginLibrary {
    pub file: String,
    /// The outcome of loading it in a child of h5doctor-probe.
    pub load: Option<PluginLoad>,
    /// Its DT_NEEDED entries that are a libhdf5 (`libhdf5_serial.so.103`, `libhdf5.so.310`, ...).
    #[serde(default)]
    pub needs_hdf5: Vec<String>,
    /// Why its ELF dynamic section could not be read.
    pub elf_error: Option<String>,
    /// Why glibc's loader would refuse it or a library it brings, by h5doctor's resolver (as HDF5's dlopen
    /// in h5doctor-probe would load it): the loader's words, then h5doctor's account in parentheses. Empty
    /// when the loader would accept it.
    #[serde(default)]
    pub loader_refuses: Vec<String>,
}

/// What loading one plugin library gave.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
pub struct PluginLoad {
    pub ok: bool,
    /// dlerror(), a missing entry point, or the signal that killed the loader.
    pub error: Option<String>,
    /// H5PLget_plugin_type(): 0 filter, 1 VOL, 2 VFD.
    pub plugin_type: Option<i32>,
    /// The filter id from H5PLget_plugin_info() for a filter plugin.
    pub filter_id: Option<i32>,
    pub filter_name: Option<String>,
    /// The name a VOL connector or file driver plugin gives HDF5 (its class's `name`: what
    /// HDF5_VOL_CONNECTOR's first word or HDF5_DRIVER must equal for HDF5 to take it). Absent for filters,
    /// and in facts from before h5doctor read it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub class_name: Option<String>,
    /// The version of that class struct (`H5VL_class_t.version`: an HDF5 loads a VOL connector only when it
    /// equals its own H5VL_VERSION, 3 in HDF5 1.14).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub class_version: Option<u32>,
}

/// The probe's answer to `h5doctor-probe plugins DIR...` (run with HDF5_PLUGIN_PATH unset, so the
/// library's search path is its compiled-in default).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
pub struct PluginProbeReport {
    /// The library's default plugin search path (H5PLget with HDF5_PLUGIN_PATH unset).
    pub default_dirs: Vec<String>,
    /// The directories given, then the default ones, each listed and its plugins loaded.
    pub dirs: Vec<PluginDirFacts>,
}

/// The plugins group: its report line and its unanswered plugin probe.
pub const SPEC: GroupSpec = GroupSpec {
    group: Group::Plugins,
    summary,
    unanswered,
};

/// The plugins line: where HDF5 looks for filter plugins and what it finds.
fn summary(facts: &Facts) -> String {
    let p = &facts.plugins;
    let state = |d: &crate::facts::PluginDirFacts| {
        if !d.exists {
            return format!("{} (does not exist)", d.path);
        }
        if !d.readable {
            return format!("{} (unreadable: {})", d.path, d.error.as_deref().unwrap_or("?"));
        }
        let ids: Vec<String> = d
            .plugins
            .iter()
            .filter_map(|l| l.load.as_ref()?.filter_id.map(|i| i.to_string()))
            .collect();
        match (d.plugins.len(), ids.is_empty()) {
            (0, _) => format!("{} (no plugins)", d.path),
            (n, true) => format!("{} ({n} plugin(s))", d.path),
            (n, false) => format!("{} ({n} plugin(s), filters {})", d.path, ids.join(" ")),
        }
    };
    let env: Vec<String> = p.dirs.iter().filter(|d| d.source == PluginDirSource::Env).map(state).collect();
    let mut parts = vec![match &p.hdf5_plugin_path {
        Some(_) if env.is_empty() => "HDF5_PLUGIN_PATH is set but names no directory".to_string(),
        Some(_) => format!("HDF5_PLUGIN_PATH: {}", env.join(", ")),
        None => "HDF5_PLUGIN_PATH unset".to_string(),
    }];
    for d in p.dirs.iter().filter(|d| d.source != PluginDirSource::Env) {
        let searched = if d.searched {
            ""
        } else {
            ", not searched while HDF5_PLUGIN_PATH is set"
        };
        parts.push(format!("default {}{searched}", state(d)));
    }
    if p.status != ProbeStatus::Ok {
        parts.push(format!("plugins not loaded: {}", p.reason.as_deref().unwrap_or(p.status.as_str())));
    }
    parts.join("; ")
}

/// The plugin libraries not loaded (unless the HDF5 probe's absence already is a finding).
fn unanswered(facts: &Facts) -> Vec<Unanswered<'_>> {
    let p = &facts.plugins;
    if !unanswered_status(p.status) || (p.status == ProbeStatus::Unavailable && probe_unavailable_is_a_finding(facts)) {
        return Vec::new();
    }
    // The reason may say so itself already (as root, a plugin directory a user could write).
    const NOT_LOADED: &str = "plugin libraries not loaded: ";
    let reason = p.reason.as_deref().unwrap_or("no reason recorded");
    vec![Unanswered::new(
        ListPosition::node(Section::Plugins),
        Item::Node,
        if reason.starts_with(NOT_LOADED) { reason.to_string() } else { format!("{NOT_LOADED}{reason}") },
    )]
}
