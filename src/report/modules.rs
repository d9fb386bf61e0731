//! `h5doctor modules`: the module index as users see it, one block per module (name/version with the
//! default marker, file, what it provides, the paths it adds, the modules to load first, the line that
//! loads it), or the same as JSON ([`ModulesDocument`]). When nothing matches it says so plainly, with what
//! the index covers.

use crate::facts::modules::resolve::Listing;
use crate::facts::modules::{ModuleInfo, ModulesFacts};
use crate::facts::values::Capability;
use serde::Serialize;
use std::fmt::Write as _;

/// What a module provides, in words: `HDF5 1.10.8 parallel (openmpi; read from libhdf5_openmpi.so.103)`.
fn provides_text(m: &ModuleInfo) -> Vec<String> {
    let mut out = Vec::new();
    if let Some(h) = &m.hdf5 {
        let kind = if h.parallel {
            format!("parallel, {}", h.mpi_family.map_or("MPI", |f| f.as_str()))
        } else {
            "serial".to_string()
        };
        let file = h.soname.clone().unwrap_or_else(|| h.path.clone());
        out.push(format!("HDF5 {} {kind} (read from {file})", h.version.as_deref().unwrap_or("?")));
    } else if m.provides(Capability::Hdf5Parallel) {
        out.push("HDF5 parallel (by its name; no library read)".into());
    } else if m.provides(Capability::Hdf5Serial) {
        out.push("HDF5 serial (by its name; no library read)".into());
    }
    if m.provides(Capability::Mpi) {
        out.push(format!("MPI {}", m.mpi_family.map_or("(family unknown)", |f| f.as_str())));
    }
    if m.provides(Capability::Python) {
        out.push(format!("Python {}", m.version.as_deref().unwrap_or("?")));
    }
    if m.provides(Capability::H5pyParallel) {
        out.push("h5py with MPI".into());
    } else if m.provides(Capability::H5py) {
        out.push("h5py without MPI".into());
    }
    for (package, version) in &m.python_packages {
        let built = match (package.as_str(), &m.h5py_numpy) {
            ("h5py", Some(b)) => {
                let mut words = vec![format!(
                    "built for NumPy {}",
                    b.abi.as_ref().map_or("?", |a| -> &'static str { a.into() })
                )];
                words.extend(b.built.as_ref().map(|v| format!("against {v}")));
                words.extend(b.oldest.as_ref().map(|v| format!("runs on NumPy >= {v}")));
                format!(", {}", words.join(", "))
            }
            ("mpi4py", _) => match &m.mpi4py {
                Some(b) => {
                    let mut words: Vec<String> = Vec::new();
                    words.extend(b.python.as_ref().map(|p| format!("Python {p}")));
                    words.extend(b.mpi_library.as_ref().map(|l| match b.mpi_family {
                        Some(f) => format!("{l} ({f})"),
                        None => l.clone(),
                    }));
                    if words.is_empty() {
                        String::new()
                    } else {
                        format!(", built for {}", words.join(" and "))
                    }
                }
                None => String::new(),
            },
            _ => String::new(),
        };
        out.push(format!("{package} {version} (on its PYTHONPATH{built})"));
    }
    out
}

/// The human listing.
pub fn human(facts: &ModulesFacts, listing: &Listing) -> String {
    let mut out = String::new();
    if !facts.system.is_present() {
        return "No module system in this environment (no MODULEPATH, LMOD_CMD or MODULESHOME).\n".into();
    }
    for (m, line) in &listing.modules {
        let marker = if m.default { " (default)" } else { "" };
        let _ = writeln!(out, "{}{marker}", m.full_name);
        let _ = writeln!(out, "    file:        {} ({})", m.file, m.format);
        let provides = provides_text(m);
        if !provides.is_empty() {
            let _ = writeln!(out, "    provides:    {}", provides.join("; "));
        }
        for (var, dirs) in &m.paths {
            let _ = writeln!(out, "    {:<12} {}", format!("{var}:"), dirs.join(":"));
        }
        if !m.modulepath.is_empty() {
            let _ = writeln!(out, "    opens level: {}", m.modulepath.join(":"));
        }
        if !m.via.is_empty() {
            let _ = writeln!(out, "    load first:  {}", m.via.join(" "));
        }
        if !m.requires.is_empty() {
            let _ = writeln!(out, "    requires:    {}", m.requires.join(", "));
        }
        if !m.conflicts.is_empty() || m.family.is_some() {
            let mut c = m.conflicts.clone();
            if let Some(f) = &m.family {
                c.push(format!("family {f}"));
            }
            let _ = writeln!(out, "    excludes:    {}", c.join(", "));
        }
        if let Some(p) = &listing.provides {
            let held: Vec<&String> = m.libraries.iter().filter(|l| l.starts_with(p.as_str())).collect();
            if !held.is_empty() {
                let held: Vec<&str> = held.iter().map(|s| s.as_str()).collect();
                let _ = writeln!(out, "    libraries:   {}", held.join(", "));
            }
        }
        if !m.reads_env.is_empty() {
            let _ = writeln!(out, "    reads env:   {}", m.reads_env.join(", "));
        }
        if m.conditional {
            let _ = writeln!(out, "    conditional: some values depend on mode() or the loaded modules");
        }
        match line {
            Some(l) => {
                let _ = writeln!(out, "    load with:   {l}");
            }
            None => {
                let _ = writeln!(out, "    loaded");
            }
        }
    }
    if listing.modules.is_empty() {
        let what = match (&listing.query, &listing.provides) {
            (Some(q), Some(p)) => format!("matches {q:?} and provides {p}"),
            (Some(q), None) => format!("matches {q:?}"),
            (None, Some(p)) => format!("provides {p}"),
            (None, None) => "is indexed".to_string(),
        };
        let _ = writeln!(
            out,
            "No module on MODULEPATH {what} ({} modules in {} trees, hierarchy levels included). Ask the administrators for one.",
            facts.index.modules.len(),
            facts.index.trees.len()
        );
    } else {
        let _ = writeln!(
            out,
            "{} of {} modules ({} trees, hierarchy levels included)",
            listing.modules.len(),
            facts.index.modules.len(),
            facts.index.trees.len()
        );
    }
    if let Some(t) = &facts.index.truncated {
        let _ = writeln!(out, "! the index is incomplete: {t}");
    }
    for p in &facts.index.problems {
        let _ = writeln!(out, "! {p}");
    }
    out
}

/// The JSON listing: every module's index entry with `line` (null when loaded) and `provides_text`.
/// The layout version of `modules --json`.
pub const MODULES_SCHEMA_VERSION: u32 = 1;

/// `h5doctor modules --json`: the modules listed, and what the index covers.
#[derive(Debug, Serialize)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
pub struct ModulesDocument<'a> {
    /// The layout version of this document.
    #[cfg_attr(test, schemars(extend("const" = MODULES_SCHEMA_VERSION)))]
    pub schema_version: u32,
    /// The module system (`lmod`, `environment-modules`, ...).
    pub system: &'a str,
    pub modulepath: &'a [String],
    pub query: Option<&'a str>,
    pub provides: Option<&'a str>,
    pub modules: Vec<ListedModule<'a>>,
    pub index: IndexSummary<'a>,
}

/// One module listed, with the line that loads it and what it provides in words.
#[derive(Debug, Serialize)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
pub struct ListedModule<'a> {
    #[serde(flatten)]
    pub module: &'a ModuleInfo,
    /// The command that loads it from the modules loaded now (`null`: loaded already).
    pub line: Option<&'a str>,
    pub provides_text: Vec<String>,
}

/// What the module index covers.
#[derive(Debug, Serialize)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
pub struct IndexSummary<'a> {
    /// How many modulefiles the index holds.
    pub modules: usize,
    pub trees: &'a [String],
    /// Why the scan stopped early, when it did.
    pub truncated: Option<&'a str>,
    pub problems: &'a [String],
}

pub fn json(facts: &ModulesFacts, listing: &Listing) -> String {
    let doc = ModulesDocument {
        schema_version: MODULES_SCHEMA_VERSION,
        system: facts.system.as_str(),
        modulepath: &facts.modulepath,
        query: listing.query.as_deref(),
        provides: listing.provides.as_deref(),
        modules: listing
            .modules
            .iter()
            .map(|(m, line)| ListedModule {
                module: m,
                line: line.as_deref(),
                provides_text: provides_text(m),
            })
            .collect(),
        index: IndexSummary {
            modules: facts.index.modules.len(),
            trees: &facts.index.trees,
            truncated: facts.index.truncated.as_deref(),
            problems: &facts.index.problems,
        },
    };
    serde_json::to_string_pretty(&doc).expect("serialises") + "\n"
}
