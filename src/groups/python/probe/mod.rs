//! Python probe (group `python`): each interpreter a job may run, what it would import, and proof.
//!
//! For every interpreter (see `discover`), in parallel:
//! 1. ask it about itself, as the job runs it and isolated (`query`; a tiny script, no h5py or NumPy);
//! 2. find h5py, NumPy and mpi4py on its `sys.path` and read them from disk, never importing them
//!    (`site_scan`, `h5py_static`, `numpy_static`, `mpi4py_static`; the libraries their extension modules
//!    load come from `crate::elf`'s resolver through `linkage`, their NumPy strings from `markers`);
//! 3. prove it: `import numpy, h5py` and an h5py file creation in each writable target directory, in a
//!    child with a timeout (`import_probe`). The import runs alongside steps 1-2 to keep the group fast;
//!    the static facts never use its result. The job-view query of step 1 is answered by that same child
//!    before it imports anything (one interpreter start, as in the job).
//!
//! Interpreters reached by two names (a shim and the real file) are merged after the query.

pub mod discover;
pub mod h5py_static;
pub mod import_probe;
pub mod linkage;
pub mod markers;
pub mod mpi4py_static;
pub mod not_run;
pub mod numpy_static;
pub mod pyenv;
pub mod query;
pub mod rebuild;
pub mod site_scan;

use crate::facts::python::{InterpreterFacts, PythonFacts};
use crate::facts::values::{DebianH5pyBuild, PythonKind};
use crate::facts::{DirFacts, ProbeStatus};
use discover::Candidate;
use import_probe::{CreateTarget, LaterTargets};
use linkage::Linker;
use site_scan::PathView;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// What the Python probe does.
#[derive(Debug, Clone)]
pub struct PythonOptions {
    /// `--python` interpreters (already checked).
    pub pythons: Vec<PathBuf>,
    /// Also python3/python on PATH, $VIRTUAL_ENV, $CONDA_PREFIX, /usr/bin/python3.
    pub default_pythons: bool,
    /// Run the import probe (off with `--no-python-import`: static diagnosis only).
    pub import: bool,
    /// As root, run the `--python` interpreters (otherwise they are not run as root at all).
    pub allow_exec_as_root: bool,
    pub timeout: Duration,
}

/// Variables recorded in the facts: they decide what Python imports and which h5py build loads.
const RECORDED: &[&str] = &[
    "PYTHONPATH",
    "PYTHONHOME",
    "PYTHONNOUSERSITE",
    "PYTHONUSERBASE",
    "PYTHONSAFEPATH",
    "VIRTUAL_ENV",
    "CONDA_PREFIX",
    "CONDA_DEFAULT_ENV",
    "LD_LIBRARY_PATH",
    "LD_PRELOAD",
    "HDF5_USE_FILE_LOCKING",
    "OMPI_COMM_WORLD_SIZE",
    "MPI_LOCALNRANKS",
    "PMI_RANK",
    "PMI_SIZE",
    "PMIX_RANK",
    "SLURM_JOB_ID",
    "SLURM_NTASKS",
    "SLURM_STEP_ID",
    "SLURM_STEPID",
    "SLURM_STEP_NUM_TASKS",
    "SLURM_PROCID",
    "SLURM_MPI_TYPE",
];

fn recorded_env(full: &BTreeMap<String, String>) -> BTreeMap<String, String> {
    full.iter()
        .filter(|(k, _)| RECORDED.contains(&k.as_str()) || k.starts_with("H5PY_"))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}

/// Whether `path` (after symlinks) is an ELF executable rather than a script such as a pyenv shim.
fn is_elf(path: &Path) -> bool {
    use std::io::Read;
    let mut magic = [0u8; 4];
    std::fs::File::open(path).and_then(|mut f| f.read_exact(&mut magic)).is_ok() && &magic == b"\x7fELF"
}

/// Diagnoses one interpreter: query, static scan, import. `queried` is the job-view answer of a script
/// candidate (a pyenv shim, a site wrapper), asked beforehand so that two names of one interpreter are
/// diagnosed once; its `sys.executable` runs the isolated query (which ignores the environment anyway),
/// while the import still goes through the script, as the job's would (a wrapper may set variables).
/// An ELF interpreter or a shim resolved by reading files (`queried` is `None`) starts its import at once,
/// and that child answers the job-view query first (with `--no-python-import`, the query runs alone); a
/// resolved shim's program runs directly, with the variables the shim would have set.
fn diagnose(
    c: &Candidate,
    queried: Option<Result<query::QueryResult, String>>,
    opts: &PythonOptions,
    targets: &LaterTargets,
    env: &BTreeMap<String, String>,
    linker: &Linker,
) -> InterpreterFacts {
    let mut facts = InterpreterFacts {
        path: c.path.display().to_string(),
        origin: c.origin.clone(),
        real_path: std::fs::canonicalize(&c.path).ok().map(|p| p.display().to_string()),
        resolved_by: c.resolved.as_ref().map(|r| r.how.clone()),
        ..InterpreterFacts::default()
    };
    let timeout = opts.timeout;
    if let Some(reason) = not_run_as_root(c, opts) {
        facts.status = ProbeStatus::Inconclusive;
        facts.not_run = Some(not_run::inspect(&c.path, &reason));
        facts.reason = Some(reason.clone());
        facts.import.status = ProbeStatus::Inconclusive;
        facts.import.reason = Some(reason);
        return facts;
    }
    let runs_as = match &queried {
        Some(Ok(q)) => q
            .executable
            .as_deref()
            .map(PathBuf::from)
            .filter(|p| p.is_file())
            .unwrap_or_else(|| c.path.clone()),
        _ => c.program().to_path_buf(),
    };
    let program = c.program();
    let shim_env = c.env();
    // One start per interpreter: unless asked already, the import child answers the job-view query first.
    let (answer_to, answer) = std::sync::mpsc::channel();
    let answered_by_import = queried.is_none() && opts.import;
    std::thread::scope(|s| {
        let plugin_vars: Vec<&str> = crate::facts::HDF5_PLUGIN_ENV.into_iter().filter(|v| env.contains_key(*v)).collect();
        let answer_to = answered_by_import.then_some(answer_to);
        let import = opts
            .import
            .then(|| s.spawn(move || import_probe::run(program, shim_env, targets, timeout, &plugin_vars, answer_to)));
        let ask_isolated = || query::isolated_view(&runs_as, shim_env, timeout);
        let early = ISOLATION_VARS.iter().any(|v| env.contains_key(*v)).then(|| s.spawn(ask_isolated));
        let job = queried.unwrap_or_else(|| {
            // No answer (the child could not start, or ended without answering): ask as before.
            let from_import = answered_by_import.then(|| answer.recv().ok().flatten()).flatten();
            from_import.unwrap_or_else(|| query::job_view(program, shim_env, timeout))
        });
        let isolated = match early {
            Some(handle) => handle.join().unwrap_or_else(|_| Err("the isolated query panicked".into())),
            None => match &job {
                Ok(q) => isolated_from_job(q).map_or_else(ask_isolated, Ok),
                Err(_) => Err("not asked: the job-view query failed".into()),
            },
        };
        match job {
            Ok(q) => {
                facts.status = ProbeStatus::Ok;
                fill_static(&mut facts, q, isolated, env, linker);
            }
            Err(reason) => {
                facts.status = ProbeStatus::Inconclusive;
                // Refused by the trust gate (crate::trust::UntrustedReason reads "not run as root: ..."):
                // what the file tells without running it.
                if reason.starts_with("not run as root:") {
                    facts.not_run = Some(not_run::inspect(&c.path, &reason));
                }
                facts.reason = Some(reason);
            }
        }
        match import {
            Some(handle) => {
                facts.import = handle.join().unwrap_or_else(|_| crate::facts::python::ImportFacts {
                    status: ProbeStatus::Inconclusive,
                    reason: Some("the import probe panicked".into()),
                    ..Default::default()
                })
            }
            None => facts.import.reason = Some("switched off (--no-python-import)".into()),
        }
    });
    let trap = facts
        .h5py
        .as_ref()
        .is_some_and(|h| {
            h.debian_selects == Some(DebianH5pyBuild::Serial) && h.debian_builds.contains(&DebianH5pyBuild::Mpi)
        });
    let launch = PythonFacts {
        env: env.clone(),
        ..PythonFacts::default()
    };
    if opts.import && trap && launch.mpi_job().is_some() && facts.import.status == ProbeStatus::Ok {
        facts.import.always_use_mpi = Some(import_probe::debian_mpi_retry(program, shim_env, timeout));
    }
    facts
}

/// Variables the isolated view (`-I`, or `-E -s` on Python 2) ignores and the job's view obeys: with any of
/// them set, the two views are asked separately.
const ISOLATION_VARS: &[&str] = &[
    "PYTHONPATH",
    "PYTHONHOME",
    "PYTHONUSERBASE",
    "PYTHONNOUSERSITE",
    "PYTHONSAFEPATH",
    "PYTHONPLATLIBDIR",
    "PYTHONEXECUTABLE",
    "PYTHONSTARTUP",
];

/// The isolated view derived from the job's, where that is exact, instead of starting the interpreter once
/// more: with none of [`ISOLATION_VARS`] set, the only differences are the user site (added by `site` only
/// when enabled and an existing directory: then the interpreter is asked) and, with `-I` (Python >= 3.4),
/// the `''` that `-c` puts first on `sys.path`.
fn isolated_from_job(job: &query::QueryResult) -> Option<query::QueryResult> {
    if job.user_site_enabled && job.user_site.as_deref().is_some_and(|u| Path::new(u).is_dir()) {
        return None;
    }
    let mut numbers = job.version.as_deref()?.split('.').map(|n| n.parse::<u32>().ok());
    let (major, minor) = (numbers.next()??, numbers.next()??);
    let mut isolated = job.clone();
    if (major, minor) >= (3, 4) {
        if isolated.path.first().map(String::as_str) != Some("") {
            return None;
        }
        isolated.path.remove(0);
    }
    isolated.user_site_enabled = false;
    Some(isolated)
}

/// Why an interpreter given only with `--python` is not run: as root, such an interpreter runs only with
/// `--allow-exec-as-root` (it may come from a user's directory the admin did not look at).
fn not_run_as_root(c: &Candidate, opts: &PythonOptions) -> Option<String> {
    let explicit_only = c.origin.split(", ").all(|o| o == "--python");
    (explicit_only && !opts.allow_exec_as_root && crate::trust::running_as_root()).then(|| {
        format!(
            "not run as root: {} was given with --python; add --allow-exec-as-root to run it as root",
            c.path.display()
        )
    })
}

/// Fills the query's answers and the static package facts.
fn fill_static(
    facts: &mut InterpreterFacts,
    q: query::QueryResult,
    isolated: Result<query::QueryResult, String>,
    env: &BTreeMap<String, String>,
    linker: &Linker,
) {
    let iso_path = match isolated {
        Ok(iso) => iso.path,
        Err(reason) => {
            facts.reason = Some(format!(
                "isolated query failed ({reason}); entries from PYTHONPATH, the user site and cwd are treated as added"
            ));
            let pythonpath: Vec<&str> = env.get("PYTHONPATH").map(|p| p.split(':').collect()).unwrap_or_default();
            q.path
                .iter()
                .filter(|e| !e.is_empty() && !pythonpath.contains(&e.as_str()) && Some(*e) != q.user_site.as_ref())
                .cloned()
                .collect()
        }
    };
    facts.kind = Some(if q.prefix.is_some() && q.prefix != q.base_prefix {
        PythonKind::Venv
    } else if q.prefix.as_deref().is_some_and(|p| Path::new(p).join("conda-meta").is_dir()) {
        PythonKind::Conda
    } else {
        PythonKind::System
    });
    let view = PathView::new(
        &q.path,
        &iso_path,
        env.get("PYTHONPATH").map(String::as_str),
        q.user_site.as_deref().filter(|_| q.user_site_enabled),
        q.prefix.as_deref(),
    );
    let ext = q.ext_suffix.clone();
    let python = q.executable.as_deref().map(Path::new);
    facts.h5py = view
        .locate("h5py")
        .map(|l| h5py_static::scan(l, ext.as_deref(), env, linker, python));
    facts.numpy = view.locate("numpy").map(numpy_static::scan);
    let mut site_dirs = q.site_packages.clone();
    site_dirs.extend(q.user_site.clone().filter(|_| q.user_site_enabled));
    let ctx = mpi4py_static::Context {
        env,
        prefix: q.prefix.as_deref(),
        base_prefix: q.base_prefix.as_deref(),
        user_site: q.user_site.as_deref().filter(|_| q.user_site_enabled),
        site_dirs: &site_dirs,
    };
    facts.mpi4py = view
        .locate("mpi4py")
        .map(|l| mpi4py_static::scan(l, ext.as_deref(), linker, python, &ctx));
    facts.executable = q.executable;
    facts.version = q.version;
    facts.abi_tag = q.soabi;
    facts.ext_suffix = q.ext_suffix;
    facts.prefix = q.prefix;
    facts.base_prefix = q.base_prefix;
    facts.sys_path = q.path;
    facts.sys_path_isolated = iso_path;
    facts.site_packages = q.site_packages;
    facts.user_site = q.user_site;
    facts.user_site_enabled = q.user_site_enabled;
}

/// Merges interpreters that turned out to be the same (same executable and prefix), keeping the first.
fn merge_duplicates(list: Vec<InterpreterFacts>) -> Vec<InterpreterFacts> {
    let mut out: Vec<InterpreterFacts> = Vec::new();
    for i in list {
        let key = |f: &InterpreterFacts| {
            let exe = f
                .executable
                .as_deref()
                .map(|e| std::fs::canonicalize(e).unwrap_or_else(|_| PathBuf::from(e)));
            (f.status == ProbeStatus::Ok).then(|| (exe, f.prefix.clone()))
        };
        let k = key(&i);
        match out.iter_mut().find(|o| k.is_some() && key(o) == k) {
            Some(kept) => {
                for origin in i.origin.split(", ") {
                    if !kept.origin.split(", ").any(|o| o == origin) {
                        kept.origin = format!("{}, {origin}", kept.origin);
                    }
                }
            }
            None => out.push(i),
        }
    }
    out
}

/// A script candidate with its position among the candidates and its answer to the job-view query.
type Asked = (usize, Candidate, Result<query::QueryResult, String>);

/// The same interpreter reached through two script names (pyenv's `python3` and `python` shims) is
/// diagnosed once: scripts are asked for `sys.executable` first and merged before the expensive steps.
fn merge_scripts(asked: Vec<Asked>) -> Vec<Asked> {
    let mut out: Vec<Asked> = Vec::new();
    for (index, c, job) in asked {
        let key = job.as_ref().ok().map(|q| (q.executable.clone(), q.prefix.clone()));
        match out
            .iter_mut()
            .find(|(_, _, j)| key.is_some() && j.as_ref().ok().map(|q| (q.executable.clone(), q.prefix.clone())) == key)
        {
            Some((_, kept, _)) => kept.origin = format!("{}, {}", kept.origin, c.origin),
            None => out.push((index, c, job)),
        }
    }
    out
}

/// Diagnoses every candidate in parallel, in candidate order.
fn diagnose_all(
    candidates: &[Candidate],
    opts: &PythonOptions,
    targets: &LaterTargets,
    env: &BTreeMap<String, String>,
    linker: &Linker,
) -> Vec<InterpreterFacts> {
    let panicked = |c: &Candidate| InterpreterFacts {
        path: c.path.display().to_string(),
        origin: c.origin.clone(),
        status: ProbeStatus::Inconclusive,
        reason: Some("the probe of this interpreter panicked".into()),
        ..InterpreterFacts::default()
    };
    type Indexed<'a> = Vec<(usize, &'a Candidate)>;
    let (elf, scripts): (Indexed, Indexed) = candidates
        .iter()
        .enumerate()
        .partition(|(_, c)| c.resolved.is_some() || is_elf(&c.path));
    let mut done: Vec<(usize, InterpreterFacts)> = std::thread::scope(|s| {
        let direct: Vec<_> = elf
            .iter()
            .map(|&(i, c)| (i, c, s.spawn(move || diagnose(c, None, opts, targets, env, linker))))
            .collect();
        // Spawn every query before joining any (a lazy spawn-then-join chain would run them one by one).
        let spawned: Vec<_> = scripts
            .iter()
            .map(|&(i, c)| {
                let ask = move || match not_run_as_root(c, opts) {
                    Some(reason) => Err(reason),
                    None => query::job_view(&c.path, &[], opts.timeout),
                };
                (i, c, s.spawn(ask))
            })
            .collect();
        let asked: Vec<_> = spawned
            .into_iter()
            .map(|(i, c, h)| {
                (
                    i,
                    c.clone(),
                    h.join().unwrap_or_else(|_| Err("the interpreter query panicked".into())),
                )
            })
            .collect();
        let resolved: Vec<_> = merge_scripts(asked)
            .into_iter()
            .map(|(i, c, job)| {
                let handle = s.spawn({
                    let c = c.clone();
                    move || diagnose(&c, Some(job), opts, targets, env, linker)
                });
                (i, c, handle)
            })
            .collect();
        let mut out: Vec<(usize, InterpreterFacts)> = direct
            .into_iter()
            .map(|(i, c, h)| (i, h.join().unwrap_or_else(|_| panicked(c))))
            .collect();
        out.extend(resolved.into_iter().map(|(i, c, h)| (i, h.join().unwrap_or_else(|_| panicked(&c)))));
        out
    });
    done.sort_by_key(|(i, _)| *i);
    done.into_iter().map(|(_, f)| f).collect()
}

/// The directories an import may create its probe file in: those whose lock probe passed.
pub fn create_targets(dirs: &[DirFacts]) -> Vec<CreateTarget> {
    dirs.iter()
        .filter(|d| d.lock.status == ProbeStatus::Ok)
        .filter_map(|d| {
            d.canonical.clone().map(|canonical| CreateTarget {
                dir: d.path.clone(),
                canonical,
            })
        })
        .collect()
}

/// The python group runs by default unless the run is about files, where it runs when a `--python` is named;
/// in `probes::gather`'s sequence (it starts first, and its imports create files only where the lock probe
/// passed).
pub const PROBE: crate::probes::GroupProbe = crate::probes::GroupProbe {
    by_default: |o| o.files.is_empty() || !o.pythons.is_empty(),
    run: crate::probes::Run::InSequence,
    reads: &[],
};

/// Diagnoses the Python stack. `targets` (see [`create_targets`]) may be set later, once the directories
/// are lock-probed: interpreters are asked and start importing h5py before that.
pub fn probe(opts: &PythonOptions, targets: &LaterTargets) -> PythonFacts {
    let full_env: BTreeMap<String, String> = std::env::vars().collect();
    let env = recorded_env(&full_env);
    let linker = Linker::new(&full_env);
    let var = |k: &str| full_env.get(k).cloned();
    let candidates = discover::candidates(&opts.pythons, opts.default_pythons, &var);
    if opts.allow_exec_as_root {
        for p in &opts.pythons {
            crate::trust::allow_exec_as_root(p);
        }
    }
    let interpreters = diagnose_all(&candidates, opts, targets, &full_env, &linker);
    let reason = candidates.is_empty().then(|| {
        if opts.default_pythons {
            "no Python interpreter found (python3, python on PATH, $VIRTUAL_ENV, $CONDA_PREFIX, /usr/bin/python3)".to_string()
        } else {
            "no interpreter given (--python)".to_string()
        }
    });
    let mut facts = PythonFacts {
        status: ProbeStatus::Ok,
        reason,
        preloaded_hdf5: linker.preloaded_hdf5(),
        env,
        interpreters: merge_duplicates(interpreters),
        ..PythonFacts::default()
    };
    find_rebuild_places(&mut facts, &full_env);
    facts
}

/// What h5py-no-mpi's rebuild line and the cannot-load findings' venv line need, looked up only when an
/// interpreter has that problem: the node's parallel HDF5 installations (h5py serial in an MPI launch), a
/// writable directory mounted with exec (h5py's or mpi4py's extensions on a noexec mount).
fn find_rebuild_places(facts: &mut PythonFacts, full_env: &BTreeMap<String, String>) {
    let serial_in_mpi_job = facts.mpi_job().is_some()
        && facts
            .interpreters
            .iter()
            .any(|i| i.h5py.as_ref().is_some_and(|h| h.mpi == Some(false)));
    if serial_in_mpi_job {
        facts.parallel_hdf5 = rebuild::parallel_hdf5_installs(Path::new("/"));
    }
    let on_noexec = |refusals: &[String]| refusals.iter().any(|r| r.contains("mounted noexec"));
    let noexec = facts.interpreters.iter().any(|i| {
        i.h5py.as_ref().is_some_and(|h| on_noexec(&h.cannot_load))
            || i.mpi4py.as_ref().is_some_and(|m| on_noexec(&m.cannot_load))
    });
    if noexec {
        let home = full_env.get("HOME").map(PathBuf::from);
        let candidates = home.iter().map(PathBuf::as_path).chain([Path::new("/var/tmp")]);
        facts.exec_dir = rebuild::exec_dir(candidates);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn job(version: &str, path: &[&str], user_site: Option<&str>, enabled: bool) -> query::QueryResult {
        query::QueryResult {
            version: Some(version.into()),
            path: path.iter().map(|p| p.to_string()).collect(),
            user_site: user_site.map(String::from),
            user_site_enabled: enabled,
            ..Default::default()
        }
    }

    #[test]
    fn the_isolated_view_is_derived_only_where_that_is_exact() {
        let got = isolated_from_job(&job("3.11.2", &["", "/usr/lib/python3.11"], Some("/nonexistent/site"), true)).unwrap();
        assert_eq!(got.path, ["/usr/lib/python3.11"]);
        // Python 2's `-E -s` keeps the '' of `-c`.
        let got = isolated_from_job(&job("2.7.18", &["", "/usr/lib/python2.7"], None, false)).unwrap();
        assert_eq!(got.path, ["", "/usr/lib/python2.7"]);
        // An existing, enabled user site may add entries through .pth files: ask the interpreter.
        let dir = tempfile::tempdir().unwrap();
        let site = dir.path().to_str().unwrap();
        assert!(isolated_from_job(&job("3.11.2", &["", site], Some(site), true)).is_none());
        assert!(isolated_from_job(&job("3.11.2", &["", "/usr/lib/python3.11"], Some(site), false)).is_some());
        // A path without the leading '' is not what `-c` gives: ask.
        assert!(isolated_from_job(&job("3.11.2", &["/usr/lib/python3.11"], None, false)).is_none());
    }
}
