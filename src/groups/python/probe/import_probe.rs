//! The sandboxed import: `import numpy, h5py` in a child interpreter with a timeout, in the job's own
//! environment, then `h5py.File(probe_file, "w-")` in each writable target directory. A create that fails
//! on a lock error is tried again in the same child with `locking=False` (h5py >= 3.5), so that fix is
//! verified, not guessed. The probe files are named and registered here, so they are removed even when
//! the child is killed. The script is `scripts/import_probe.py`. Asked to, the same child first answers the
//! interpreter query (`crate::groups::python::probe::query`'s script runs before the import script, its answer is read as soon as
//! it is printed), so an interpreter starts once for both, as a job's Python starts once.
//!
//! Debian's h5py picks its serial build unless one of a few variables is set; when it does so for an MPI
//! job, a second child imports it with `H5PY_ALWAYS_USE_MPI=1` to verify that fix.

use crate::cleanup::{self, ProbeFile};
use crate::facts::python::{DebianMpiRetry, H5pyCreate, ImportFacts};
use crate::facts::{PluginEnvRetry, ProbeStatus};
use crate::probes::child;
use serde::Deserialize;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

const SCRIPT: &str = include_str!("scripts/import_probe.py");
const MARK: &str = "H5DOCTOR-IMPORT-PROBE ";
/// How much of the child's stderr is kept in the facts.
const STDERR_KEEP: usize = 8000;

/// A directory the import probe creates a file in.
#[derive(Debug, Clone)]
pub struct CreateTarget {
    /// The directory as named in the facts (`dirs[].path`).
    pub dir: String,
    /// Where to create the file.
    pub canonical: PathBuf,
}

/// The create targets, known once the directory probe has run. The import starts before that (importing
/// h5py is the slow part) and reads them on stdin when its imports are done.
#[derive(Debug, Default)]
pub struct LaterTargets {
    value: std::sync::Mutex<Option<Vec<CreateTarget>>>,
    ready: std::sync::Condvar,
}

impl LaterTargets {
    /// Targets known from the start.
    pub fn now(targets: Vec<CreateTarget>) -> Self {
        let later = Self::default();
        later.set(targets);
        later
    }

    /// Sets the targets (the first call wins) and wakes every import waiting for them.
    pub fn set(&self, targets: Vec<CreateTarget>) {
        let mut value = self.value.lock().unwrap_or_else(|e| e.into_inner());
        if value.is_none() {
            *value = Some(targets);
        }
        self.ready.notify_all();
    }

    /// Waits until the targets are set.
    pub fn get(&self) -> Vec<CreateTarget> {
        let mut value = self.value.lock().unwrap_or_else(|e| e.into_inner());
        loop {
            if let Some(targets) = value.as_ref() {
                return targets.clone();
            }
            value = self.ready.wait(value).unwrap_or_else(|e| e.into_inner());
        }
    }
}

/// The script's report.
#[derive(Debug, Default, Deserialize)]
struct Report {
    #[serde(default)]
    ok: bool,
    #[serde(default)]
    h5py_missing: bool,
    failed_import: Option<String>,
    error: Option<String>,
    traceback: Option<String>,
    #[serde(default)]
    warnings: Vec<String>,
    numpy_version: Option<String>,
    numpy_file: Option<String>,
    h5py_version: Option<String>,
    h5py_file: Option<String>,
    h5py_module: Option<String>,
    numpy_built: Option<String>,
    mpi: Option<bool>,
    hdf5_version: Option<String>,
    hdf5_built: Option<String>,
    #[serde(default)]
    loaded_hdf5: Vec<String>,
    #[serde(default)]
    creates: Vec<H5pyCreate>,
}

/// The last `MARK` line of stdout, parsed.
fn parse(stdout: &str) -> Option<Result<Report, String>> {
    let line = stdout.lines().rev().find_map(|l| l.strip_prefix(MARK))?;
    Some(serde_json::from_str(line).map_err(|e| format!("the import probe printed invalid JSON ({e})")))
}

/// The tail of a long text, cut at a line boundary.
fn keep_tail(text: &str, max: usize) -> Option<String> {
    let t = text.trim();
    if t.is_empty() {
        return None;
    }
    if t.len() <= max {
        return Some(t.to_string());
    }
    let mut start = t.len() - max;
    while !t.is_char_boundary(start) {
        start += 1;
    }
    let cut = t[start..].find('\n').map_or(start, |n| start + n + 1);
    Some(format!("[...]\n{}", &t[cut..]))
}

fn command(python: &Path, env: &[(String, String)], args: &[&std::ffi::OsStr]) -> Command {
    command_with(python, env, SCRIPT, args)
}

fn command_with(python: &Path, env: &[(String, String)], script: &str, args: &[&std::ffi::OsStr]) -> Command {
    // As root: started in `/`, a relative path made absolute (query::interpreter_command).
    let mut cmd = super::query::interpreter_command(python);
    cmd.arg("-c").arg(script).args(args);
    cmd.envs(env.iter().map(|(k, v)| (k, v)));
    // The import must not write __pycache__ into the user's environment: probes write only their own files.
    cmd.env("PYTHONDONTWRITEBYTECODE", "1");
    cmd
}

/// Imports NumPy and h5py with `python` and creates a probe file in each target. When it crashes or fails
/// while HDF5_VOL_CONNECTOR, HDF5_DRIVER or HDF5_DRIVER_CONFIG is set, it runs once more with them unset,
/// which proves (or disproves) that fix. `env`: variables a resolved shim would set.
///
/// With `query` set, the first child answers the job-view interpreter query before it imports anything and
/// the answer goes to `query` as soon as it is printed; `None` is sent instead when the child could not
/// start or ended without answering (the caller then asks with its own query, which words the failure as
/// before), an error when it timed out without answering.
pub fn run(
    python: &Path,
    env: &[(String, String)],
    targets: &LaterTargets,
    timeout: Duration,
    plugin_vars: &[&str],
    query: Option<QueryAnswer>,
) -> ImportFacts {
    let mut facts = run_once(python, env, targets, timeout, &[], query);
    let failed = facts.signal.is_some()
        || facts.ok == Some(false)
        || facts.creates.iter().any(|c| !c.ok)
        || facts.status == ProbeStatus::Inconclusive;
    if failed && !plugin_vars.is_empty() {
        let again = run_once(python, env, targets, timeout, plugin_vars, None);
        let ok = again.status == ProbeStatus::Ok && again.ok == Some(true) && again.creates.iter().all(|c| c.ok);
        facts.without_plugin_env = Some(PluginEnvRetry {
            unset: plugin_vars.iter().map(|v| v.to_string()).collect(),
            ok,
            detail: (!ok).then(|| again.reason.or(again.error).unwrap_or_else(|| "an h5py create failed".into())),
        });
    }
    facts
}

/// Where the import child's answer to the interpreter query goes (see [`run`]).
pub type QueryAnswer = std::sync::mpsc::Sender<Option<Result<crate::groups::python::probe::query::QueryResult, String>>>;

/// One import child; `unset` names variables removed from its environment. The child starts at once; its
/// create targets (each file named and registered here before the child hears of it) follow on stdin.
fn run_once(
    python: &Path,
    env: &[(String, String)],
    targets: &LaterTargets,
    timeout: Duration,
    unset: &[&str],
    query: Option<QueryAnswer>,
) -> ImportFacts {
    let mut guards: Vec<(ProbeFile, ProbeFile)> = Vec::new();
    let args: [&std::ffi::OsStr; 2] = ["import".as_ref(), "-".as_ref()];
    let mut cmd = match query {
        Some(_) => command_with(
            python,
            env,
            &format!("{}\n{SCRIPT}", crate::groups::python::probe::query::SCRIPT),
            &args,
        ),
        None => command(python, env, &args),
    };
    for var in unset {
        cmd.env_remove(var);
    }
    tracing::debug!(python = %python.display(), ?unset, "import probe");
    let feed = || {
        let targets = targets.get();
        let mut triples = Vec::new();
        // Every name registered with one record rewrite.
        let names = targets
            .iter()
            .flat_map(|t| [cleanup::unique_path(&t.canonical, "h5"), cleanup::unique_path(&t.canonical, "h5")])
            .collect();
        let mut registered = ProbeFile::register_all(names).into_iter();
        for t in &targets {
            let (Some(file), Some(retry)) = (registered.next(), registered.next()) else {
                break;
            };
            // The file names as hex bytes: a directory's name need not be UTF-8.
            let hex = |p: &Path| {
                use std::os::unix::ffi::OsStrExt;
                p.as_os_str().as_bytes().iter().map(|b| format!("{b:02x}")).collect::<String>()
            };
            triples.push([t.dir.clone(), hex(file.path()), hex(retry.path())]);
            guards.push((file, retry));
        }
        let mut line = serde_json::to_vec(&triples).unwrap_or_default();
        line.push(b'\n');
        line
    };
    let answered = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let ran = match &query {
        Some(tx) => {
            let (tx, answered, python) = (tx.clone(), answered.clone(), python.to_path_buf());
            let watch: child::Watch = (
                crate::groups::python::probe::query::MARK,
                Box::new(move |line: &str| {
                    answered.store(true, std::sync::atomic::Ordering::SeqCst);
                    let _ = tx.send(Some(crate::groups::python::probe::query::parse(&python, line)));
                }),
            );
            child::run_fed_watching(cmd, timeout, feed, watch)
        }
        None => child::run_fed(cmd, timeout, feed),
    };
    if let Some(tx) = &query {
        if !answered.load(std::sync::atomic::Ordering::SeqCst) {
            let timed_out = ran.as_ref().ok().filter(|out| out.status.is_none());
            let _ = tx.send(timed_out.map(|out| Err(crate::groups::python::probe::query::no_answer(python, out, timeout))));
        }
    }
    let out = match ran {
        Ok(out) => out,
        Err(e) => {
            return ImportFacts {
                status: ProbeStatus::Inconclusive,
                reason: Some(e.reason(python)),
                ..ImportFacts::default()
            }
        }
    };
    let elapsed_ms = out.elapsed.as_millis() as u64;
    let stderr = keep_tail(&out.stderr, STDERR_KEEP);
    let report = match parse(&out.stdout) {
        Some(Ok(r)) => r,
        Some(Err(reason)) => {
            return ImportFacts {
                status: ProbeStatus::Inconclusive,
                reason: Some(reason),
                stderr,
                elapsed_ms,
                ..ImportFacts::default()
            }
        }
        None => {
            let tail = out.stderr_tail(3);
            return ImportFacts {
                status: ProbeStatus::Inconclusive,
                reason: Some(format!(
                    "`import numpy, h5py` with {} {}{}",
                    python.display(),
                    out.describe_end(timeout),
                    if tail.is_empty() { String::new() } else { format!(": {tail}") }
                )),
                stderr,
                elapsed_ms,
                signal: out.status.and_then(|s| std::os::unix::process::ExitStatusExt::signal(&s)),
                ..ImportFacts::default()
            };
        }
    };
    if report.h5py_missing {
        return ImportFacts {
            status: ProbeStatus::NotRun,
            reason: Some("h5py is not importable with this interpreter".into()),
            elapsed_ms,
            ..ImportFacts::default()
        };
    }
    ImportFacts {
        status: ProbeStatus::Ok,
        reason: None,
        ok: Some(report.ok),
        failed_import: report.failed_import,
        error: report.error,
        traceback: report.traceback,
        stderr,
        warnings: report.warnings,
        numpy_version: report.numpy_version,
        numpy_file: report.numpy_file,
        h5py_version: report.h5py_version,
        h5py_file: report.h5py_file,
        h5py_module: report.h5py_module,
        hdf5_version: report.hdf5_version,
        hdf5_built: report.hdf5_built,
        numpy_built: report.numpy_built,
        mpi: report.mpi,
        loaded_hdf5: report.loaded_hdf5,
        creates: report.creates,
        always_use_mpi: None,
        elapsed_ms,
        signal: None,
        without_plugin_env: None,
    }
}

/// Imports Debian's h5py with H5PY_ALWAYS_USE_MPI=1 and reports whether it then is the MPI build.
pub fn debian_mpi_retry(python: &Path, env: &[(String, String)], timeout: Duration) -> DebianMpiRetry {
    let mut cmd = command(python, env, &["mpi-check".as_ref()]);
    cmd.env("H5PY_ALWAYS_USE_MPI", "1");
    let out = match child::run(cmd, timeout) {
        Ok(out) => out,
        Err(e) => {
            return DebianMpiRetry {
                status: ProbeStatus::Inconclusive,
                reason: Some(e.reason(python)),
                ..DebianMpiRetry::default()
            }
        }
    };
    match parse(&out.stdout) {
        Some(Ok(r)) => DebianMpiRetry {
            status: ProbeStatus::Ok,
            reason: None,
            mpi: r.mpi,
            h5py_module: r.h5py_module,
            error: r.error,
        },
        Some(Err(reason)) => DebianMpiRetry {
            status: ProbeStatus::Inconclusive,
            reason: Some(reason),
            ..DebianMpiRetry::default()
        },
        None => DebianMpiRetry {
            status: ProbeStatus::Inconclusive,
            reason: Some(format!(
                "`import h5py` with H5PY_ALWAYS_USE_MPI=1 {}: {}",
                out.describe_end(timeout),
                out.stderr_tail(3)
            )),
            ..DebianMpiRetry::default()
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_report_is_the_last_marked_line() {
        let stdout = format!("noise\n{MARK}{{\"ok\": false}}\nmore noise\n{MARK}{{\"ok\": true, \"h5py_version\": \"3.7.0\"}}\n");
        let r = parse(&stdout).unwrap().unwrap();
        assert!(r.ok);
        assert_eq!(r.h5py_version.as_deref(), Some("3.7.0"));
        assert!(parse("no report").is_none());
    }

    #[test]
    fn long_stderr_keeps_its_tail() {
        let long = "line\n".repeat(5000);
        let kept = keep_tail(&long, 100).unwrap();
        assert!(kept.starts_with("[...]\n") && kept.len() < 120, "{kept}");
        assert_eq!(keep_tail("  \n", 10), None);
    }
}
