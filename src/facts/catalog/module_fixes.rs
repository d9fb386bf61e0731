//! Module fixes as facts: for a finding whose cure is "load the other module", the exact `module` line of
//! THIS site (resolved against the module index, hierarchy levels and prerequisites first, a conflicting
//! loaded module swapped out; a site pin wins) and a `*_why` sentence naming the module's evidence and the
//! alternatives. Each fact is unknown when no module on MODULEPATH fits, so a rule can offer the line
//! when it exists and say plainly that none exists otherwise (`modules.index_summary`).

use super::{FactDef, Item, Scope};
use crate::facts::libraries::BinaryFacts;
use crate::facts::modules::resolve::{Hdf5Need, Resolution};
use crate::facts::modules::ModulesFacts;
use crate::facts::{Facts, ProbeStatus};
use serde_json::{json, Value};

/// The module facts when a module system was probed and its index holds something.
fn index(f: &Facts) -> Option<&ModulesFacts> {
    let m = &f.modules;
    (m.status != ProbeStatus::NotRun && !m.system.is_empty() && m.system != "none" && !m.index.modules.is_empty()).then_some(m)
}

fn line(r: Option<Resolution>) -> Option<Value> {
    r.map(|r| json!(r.line))
}

fn why(r: Option<Resolution>) -> Option<Value> {
    r.map(|r| json!(r.why))
}

/// `1.10.8`, `(1, 10, 8)`, `1.10.8-patch1` -> `1.10.8`.
fn release(v: &str) -> Option<String> {
    let nums: Vec<&str> = v.split(|c: char| !c.is_ascii_digit()).filter(|p| !p.is_empty()).take(3).collect();
    (nums.len() >= 2).then(|| nums.join("."))
}

/// The first missing library of a binary that a module of the index holds.
fn missing_module(f: &Facts, b: &BinaryFacts) -> Option<Resolution> {
    let m = index(f)?;
    b.missing.iter().find_map(|miss| m.resolve_soname(&miss.name))
}

/// The HDF5 module a binary needs: the release it was built for (a mismatch), or one exporting the
/// undefined H5* symbols (parallel for `*_mpio`) with the soname it links.
fn hdf5_module(f: &Facts, b: &BinaryFacts) -> Option<Resolution> {
    let m = index(f)?;
    if let Some(mm) = b.hdf5_mismatch.first() {
        return m.resolve_hdf5(&Hdf5Need {
            version: release(&mm.built_for),
            ..Hdf5Need::default()
        });
    }
    let h5: Vec<_> = b.undefined.iter().filter(|u| u.symbol.starts_with("H5")).collect();
    if h5.is_empty() {
        return None;
    }
    m.resolve_hdf5(&Hdf5Need {
        parallel: h5.iter().any(|u| u.symbol.contains("mpio") || u.symbol.contains("_mpi")),
        soname: b.hdf5_libraries.first().map(|l| l.name.clone()),
        ..Hdf5Need::default()
    })
}

/// `module unload NAME` for the loaded module that brings a second libhdf5 into the closure: of the
/// loaded modules whose library directories hold one, an HDF5 module (by name) is kept before one that
/// merely carries a libhdf5 (an I/O profiler, a bundle), then the one whose library comes first; the
/// next one is unloaded.
fn hdf5_unload(f: &Facts, b: &BinaryFacts) -> Option<Value> {
    let m = &f.modules;
    if m.status == ProbeStatus::NotRun || m.loaded.is_empty() {
        return None;
    }
    let mut owners: Vec<(bool, usize, &crate::facts::modules::LoadedModule)> = Vec::new();
    for (pos, lib) in b.hdf5_libraries.iter().enumerate() {
        if let Some(owner) = m.loaded_owner_of(&lib.path) {
            if !owners.iter().any(|(_, _, o)| o.full_name == owner.full_name) {
                let by_name = owner.name.to_ascii_lowercase().contains("hdf5");
                owners.push((by_name, pos, owner));
            }
        }
    }
    owners.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
    if b.hdf5_libraries.len() < 2 {
        return None;
    }
    // One owner only: it brings the second library when the first comes from elsewhere.
    let unload = match owners.as_slice() {
        [] => return None,
        [(_, pos, only)] => (*pos > 0).then_some(*only)?,
        [_, (_, _, second), ..] => *second,
    };
    Some(json!(format!("module unload {}", unload.name)))
}

fn binary(it: Item<'_>) -> Option<&BinaryFacts> {
    it.binary()
}

fn probe_missing_module(f: &Facts) -> Option<Resolution> {
    let m = index(f)?;
    let missing = f.hdf5.probe_loader.as_ref()?;
    missing.missing.iter().find_map(|miss| m.resolve_soname(&miss.name))
}

fn h5py_parallel(f: &Facts) -> Option<Resolution> {
    index(f)?.resolve_capability("h5py-parallel")
}

/// The Python (or h5py) module that holds this interpreter's h5py, else a Python module of its version.
fn h5py_python(f: &Facts, it: Item<'_>) -> Option<Resolution> {
    let i = it.interpreter()?;
    let location = i.h5py.as_ref().map(|h| h.location.dir.clone());
    index(f)?.resolve_python_for(location.as_deref(), None)
}

/// The HDF5 module of the release h5py was built against.
fn h5py_hdf5(f: &Facts, it: Item<'_>) -> Option<Resolution> {
    let i = it.interpreter()?;
    let built = i.import.hdf5_built.as_deref().and_then(release)?;
    index(f)?.resolve_hdf5(&Hdf5Need {
        version: Some(built),
        ..Hdf5Need::default()
    })
}

pub static FACTS: &[FactDef] = &[
    FactDef {
        name: "binary.missing_module",
        scope: Scope::Binary,
        label: "module that provides it",
        doc: "The `module` line of this site that provides the binary's missing library (a module whose library \
              directories hold that soname; the default version first), with what must be loaded before it.",
        read: |f, it| line(missing_module(f, binary(it)?)),
    },
    FactDef {
        name: "binary.missing_module_why",
        scope: Scope::Binary,
        label: "why that module",
        doc: "Which directory of the module holds the missing soname, and the other modules that do.",
        read: |f, it| why(missing_module(f, binary(it)?)),
    },
    FactDef {
        name: "binary.hdf5_module",
        scope: Scope::Binary,
        label: "HDF5 module it needs",
        doc: "The `module` line of this site for the HDF5 the binary needs: the release it was built for (a \
              mismatch), or a build that exports its undefined H5* symbols (parallel for *_mpio) with its soname.",
        read: |f, it| line(hdf5_module(f, binary(it)?)),
    },
    FactDef {
        name: "binary.hdf5_module_why",
        scope: Scope::Binary,
        label: "why that HDF5 module",
        doc: "The HDF5 release and build the module's library has, and the other modules that fit.",
        read: |f, it| why(hdf5_module(f, binary(it)?)),
    },
    FactDef {
        name: "binary.hdf5_unload_module",
        scope: Scope::Binary,
        label: "module to unload",
        doc: "`module unload NAME` for the loaded module whose libhdf5 is the second one in the closure (not \
              the one the program was built with).",
        read: |f, it| hdf5_unload(f, binary(it)?),
    },
    FactDef {
        name: "hdf5.probe_missing_module",
        scope: Scope::Global,
        label: "module that provides it",
        doc: "The `module` line of this site that provides the library h5doctor-probe cannot find.",
        read: |f, _| line(probe_missing_module(f)),
    },
    FactDef {
        name: "hdf5.probe_missing_module_why",
        scope: Scope::Global,
        label: "why that module",
        doc: "Which directory of the module holds the probe's missing soname, and the other modules that do.",
        read: |f, _| why(probe_missing_module(f)),
    },
    FactDef {
        name: "python.h5py_parallel_module",
        scope: Scope::Interpreter,
        label: "parallel h5py module",
        doc: "The `module` line of this site that loads h5py built with MPI and everything it needs, in load \
              order (site pin `h5py-parallel`, else the index; the default version first).",
        read: |f, _| line(h5py_parallel(f)),
    },
    FactDef {
        name: "python.h5py_parallel_module_why",
        scope: Scope::Interpreter,
        label: "why that h5py module",
        doc: "What the parallel h5py module needs, and the other modules that provide one.",
        read: |f, _| why(h5py_parallel(f)),
    },
    FactDef {
        name: "python.h5py_python_module",
        scope: Scope::Interpreter,
        label: "Python module h5py is for",
        doc: "The `module` line of the Python (or h5py) module whose prefix holds this interpreter's h5py.",
        read: |f, it| line(h5py_python(f, it)),
    },
    FactDef {
        name: "python.h5py_python_module_why",
        scope: Scope::Interpreter,
        label: "why that Python module",
        doc: "Which directory of the module holds h5py, and the other modules that fit.",
        read: |f, it| why(h5py_python(f, it)),
    },
    FactDef {
        name: "python.h5py_hdf5_module",
        scope: Scope::Interpreter,
        label: "HDF5 module h5py was built for",
        doc: "The `module` line of the HDF5 module of the release h5py was built against (same release \
              first, then the same series).",
        read: |f, it| line(h5py_hdf5(f, it)),
    },
    FactDef {
        name: "python.h5py_hdf5_module_why",
        scope: Scope::Interpreter,
        label: "why that HDF5 module",
        doc: "The HDF5 release and build the module's library has, and the other modules that fit.",
        read: |f, it| why(h5py_hdf5(f, it)),
    },
    FactDef {
        name: "modules.index_summary",
        scope: Scope::Global,
        label: "module index",
        doc: "What the module index covers, in words: modules, trees (hierarchy levels included) and the \
              module system; unknown without a module system.",
        read: |f, _| {
            let m = &f.modules;
            if m.status == ProbeStatus::NotRun || m.system.is_empty() || m.system == "none" {
                return None;
            }
            let levels = m.index.modules.iter().filter(|x| !x.via.is_empty()).count();
            let mut s = format!("{} modules in {} trees of MODULEPATH", m.index.modules.len(), m.index.trees.len());
            if levels > 0 {
                s.push_str(&format!(", {levels} of them in hierarchy levels"));
            }
            Some(json!(s))
        },
    },
];
