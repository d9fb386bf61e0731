//! The lines a user types to rebuild or reinstall a Python package, made from the facts instead of
//! placeholders (the `python.*_rebuild` and `python.*_venv_reinstall` facts of `python.rs`):
//!
//! - h5py with MPI (h5py-no-mpi): built against the parallel HDF5 this site has — a module's prefix
//!   (`HDF5_DIR` of the modulefile, after `module load` of it and its MPI), else a distribution's install
//!   found by the probe — with the MPI compiler wrapper of the same MPI, by this interpreter, the same
//!   h5py release;
//! - h5py or mpi4py on a noexec mount (h5py-cannot-load, mpi4py-cannot-load): a new venv, made by the
//!   Python the broken one was made from, in a writable directory on a file system mounted with exec.
//!
//! Each is unknown when the facts lack what it needs, so the rule says plainly what is missing instead.

use crate::facts::modules::resolve::Hdf5Need;
use crate::facts::python::{InterpreterFacts, ParallelHdf5Install};
use crate::facts::values::{LauncherMpiFamily, ModuleMpiFamily, PythonKind};
use crate::facts::{Facts, ProbeStatus};

/// A line and the sentence that says where its parts come from.
pub struct Line {
    pub text: String,
    pub why: String,
}

/// The MPI a parallel h5py must be built with here: the launcher's, else the one mpi4py uses, else the
/// loaded MPI module's.
fn wanted_family(f: &Facts, i: &InterpreterFacts) -> Option<ModuleMpiFamily> {
    match super::python::launcher_family(&f.python.env) {
        Some(LauncherMpiFamily::Openmpi) => return Some(ModuleMpiFamily::Openmpi),
        Some(LauncherMpiFamily::Mpich) => return Some(ModuleMpiFamily::Mpich),
        _ => {}
    }
    let mpi4py = i.mpi4py.as_ref().and_then(|m| m.mpi_family.as_deref()?.parse().ok());
    mpi4py.or_else(|| f.modules.loaded_mpi_family())
}

/// `h5py==3.7.0`, or `h5py` when the release is not known.
fn pinned(name: &str, version: Option<&str>) -> String {
    version.map_or_else(|| name.to_string(), |v| format!("{name}=={v}"))
}

/// The pip command that builds h5py against a parallel HDF5 at `hdf5` (`HDF5_DIR=...`) with `cc`.
fn pip_build(i: &InterpreterFacts, cc: &str, hdf5: &str) -> String {
    let version = i.h5py.as_ref().and_then(|h| h.location.version.as_deref());
    format!(
        "CC={cc} HDF5_MPI=ON {hdf5} {} -m pip install --no-binary=h5py --no-build-isolation {}",
        i.path,
        pinned("h5py", version)
    )
}

/// `HDF5_DIR=prefix` when the prefix holds `include/` and `lib/`, else the two directories h5py's build reads.
fn hdf5_location(p: &ParallelHdf5Install) -> String {
    if p.include_dir == format!("{}/include", p.dir) && p.lib_dir == format!("{}/lib", p.dir) {
        format!("HDF5_DIR={}", p.dir)
    } else {
        format!("HDF5_INCLUDEDIR={} HDF5_LIBDIR={}", p.include_dir, p.lib_dir)
    }
}

/// A parallel HDF5 module of this site whose modulefile names its prefix (`HDF5_DIR`, `HDF5_ROOT`), built with
/// `family` when that is known: `module load ... && CC=mpicc ...` (the MPI module the line loads puts its
/// own `mpicc` first on PATH).
fn from_module(f: &Facts, i: &InterpreterFacts, family: Option<ModuleMpiFamily>) -> Option<Line> {
    let m = &f.modules;
    if m.status == ProbeStatus::NotRun || !m.system.is_present() {
        return None;
    }
    let r = m.resolve_hdf5(&Hdf5Need {
        parallel: true,
        ..Hdf5Need::default()
    })?;
    let module = m.index.modules.iter().find(|x| x.full_name == r.module)?;
    let built_with = module.hdf5.as_ref().and_then(|h| h.mpi_family).or(module.mpi_family);
    if family.is_some_and(|want| built_with.is_some_and(|has| has != want)) {
        return None;
    }
    let (var, prefix) = ["HDF5_DIR", "HDF5_ROOT"]
        .into_iter()
        .find_map(|v| module.setenv.get(v).map(|p| (v, p)))?;
    Some(Line {
        text: format!("{} && {}", r.line, pip_build(i, "mpicc", &format!("HDF5_DIR={prefix}"))),
        why: format!(
            "{} sets {var}={prefix}; {}; `mpicc` is then the wrapper of the MPI that line loads",
            r.module, r.why
        ),
    })
}

/// h5py-no-mpi's rebuild line: this site's parallel HDF5 module, else the node's installed parallel HDF5
/// of the launch's MPI with that MPI's compiler wrapper.
pub fn h5py_mpi_rebuild(f: &Facts, i: &InterpreterFacts) -> Option<Line> {
    i.h5py.as_ref()?;
    let family = wanted_family(f, i);
    if let Some(line) = from_module(f, i, family) {
        return Some(line);
    }
    let installs = &f.python.parallel_hdf5;
    let pick = installs
        .iter()
        .filter(|p| p.mpicc.is_some())
        .find(|p| family.is_none_or(|want| p.mpi_family == want))?;
    let cc = pick.mpicc.as_deref()?;
    let others: Vec<String> = installs
        .iter()
        .filter(|p| *p != pick)
        .map(|p| format!("{} ({})", p.dir, p.mpi_family))
        .collect();
    let mut why = format!(
        "HDF5 {} built with {} at {} (its H5pubconf.h says H5_HAVE_PARALLEL), compiled with that MPI's wrapper {cc}",
        pick.version.as_deref().unwrap_or("?"),
        pick.mpi_family,
        pick.dir
    );
    if let Some(want) = family {
        why.push_str(&format!(", the MPI of this launch ({want})"));
    }
    if !others.is_empty() {
        why.push_str(&format!("; also installed: {}", others.join(", ")));
    }
    Some(Line {
        text: pip_build(i, cc, &hdf5_location(pick)),
        why,
    })
}

/// What was looked for when no parallel HDF5 to build against was found: the places, the module index.
pub fn h5py_mpi_rebuild_missing(f: &Facts, i: &InterpreterFacts) -> Option<String> {
    if h5py_mpi_rebuild(f, i).is_some() || i.h5py.is_none() {
        return None;
    }
    let family = wanted_family(f, i);
    let mut text = String::from(
        "no parallel HDF5 with its MPI compiler wrapper was found here (looked in /usr/lib/<triplet>/hdf5/{openmpi,mpich} \
         and /usr/lib64/{openmpi,mpich}",
    );
    if let Some(want) = family {
        text.push_str(&format!(", for {want}"));
    }
    text.push(')');
    if f.modules.system.is_present() && f.modules.status != ProbeStatus::NotRun {
        text.push_str(" and no module of the index provides one with its prefix set");
    }
    Some(text)
}

/// The Python a venv made from `i` runs: a venv's base interpreter (`{base_prefix}/bin/python3.11`), else
/// the interpreter's own file.
fn base_python(i: &InterpreterFacts) -> Option<String> {
    let series: Option<String> = i.version.as_deref().map(|v| v.split('.').take(2).collect::<Vec<_>>().join("."));
    match (i.kind.as_ref(), &i.base_prefix, series) {
        (Some(PythonKind::Venv), Some(base), Some(series)) => Some(format!("{base}/bin/python{series}")),
        _ => i.real_path.clone().or_else(|| Some(i.path.clone())),
    }
}

/// A new venv for `package` (`h5py`, `mpi4py`) in the writable exec-mounted directory found:
/// `/usr/bin/python3.11 -m venv /home/u/venvs/h5py-3.7.0 && /home/u/venvs/h5py-3.7.0/bin/pip install h5py==3.7.0`.
pub fn venv_reinstall(f: &Facts, i: &InterpreterFacts, package: &str, version: Option<&str>) -> Option<Line> {
    let dir = f.python.exec_dir.as_ref()?;
    let python = base_python(i)?;
    let name = version.map_or_else(|| package.to_string(), |v| format!("{package}-{v}"));
    let venv = format!("{}/venvs/{name}", dir.path.trim_end_matches('/'));
    let mount = match (&dir.mount_point, &dir.mount_options) {
        (Some(point), Some(options)) => format!(" (mounted at {point} with {options})"),
        _ => String::new(),
    };
    Some(Line {
        text: format!("{python} -m venv {venv} && {venv}/bin/pip install {}", pinned(package, version)),
        why: format!(
            "{} is writable and not mounted noexec{mount}; {python} is the Python this interpreter runs; then run the job with {venv}/bin/python",
            dir.path
        ),
    })
}
