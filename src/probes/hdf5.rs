//! HDF5 probe driver: runs `h5doctor-probe` (the only binary that links HDF5) as a child with a timeout
//! and reads its JSON. It learns which libhdf5 loads and what it is, and tries H5Fcreate of a probe file
//! in each target directory. A create that fails on a lock error is tried again in a fresh child with
//! HDF5_USE_FILE_LOCKING=FALSE, so the fix h5doctor shows is verified, not guessed. Where the create
//! works, a second run tries every file driver and open mode on probe files named after a stem h5doctor
//! registered for cleanup (the drivers × modes matrix).
//!
//! When the probe cannot start (its libhdf5 is gone), that is recorded as `unavailable` with the
//! loader's own message; a timeout or a crash is `inconclusive`. Neither aborts the run.

use super::child;
use crate::cleanup::{self, ProbeFile, ProbeStem};
use crate::facts::{DirFacts, Hdf5Create, Hdf5Facts, Hdf5ProbeReport, MatrixFacts, ProbeStatus};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

/// The probe binary's name.
pub const PROBE_NAME: &str = "h5doctor-probe";

/// Where to find h5doctor-probe: `$H5DOCTOR_PROBE`, next to this executable, then PATH.
pub fn locate() -> Result<PathBuf, String> {
    let mut looked = Vec::new();
    if let Some(p) = std::env::var_os("H5DOCTOR_PROBE") {
        return Ok(PathBuf::from(p));
    }
    if let Some(dir) = std::env::current_exe().ok().and_then(|e| e.parent().map(Path::to_path_buf)) {
        let sibling = dir.join(PROBE_NAME);
        if sibling.is_file() {
            return Ok(sibling);
        }
        looked.push(sibling.display().to_string());
    }
    match which::which(PROBE_NAME) {
        Ok(p) => Ok(p),
        Err(_) => {
            looked.push("$PATH".into());
            Err(format!(
                "{PROBE_NAME} not found (looked in {}; set H5DOCTOR_PROBE)",
                looked.join(", ")
            ))
        }
    }
}

/// True when an HDF5 error stack says the failure was the file lock.
pub fn is_lock_failure(c: &Hdf5Create) -> bool {
    c.error_stack
        .as_deref()
        .is_some_and(|s| s.contains("unable to lock file") || s.contains("file locking disabled on this file system"))
}

/// Recognises the dynamic loader's "cannot start" message.
fn loader_failure(stderr: &str) -> Option<String> {
    stderr
        .lines()
        .find(|l| {
            l.contains("error while loading shared libraries")
                || l.contains("cannot open shared object file")
                || l.contains("version `GLIBC_")
        })
        .map(|l| l.trim().to_string())
}

/// One invocation of the probe: its arguments and the environment changes it runs with.
#[derive(Debug, Default)]
pub struct ProbeCall<'a> {
    pub args: Vec<&'a std::ffi::OsStr>,
    pub set_env: Vec<(&'a str, &'a str)>,
    pub remove_env: Vec<&'a str>,
}

/// Runs the probe once; `Err` carries (status, reason) when it gave no report.
pub fn run_probe(probe: &Path, call: &ProbeCall, timeout: Duration) -> Result<Hdf5ProbeReport, (ProbeStatus, String)> {
    let mut cmd = Command::new(probe);
    cmd.args(&call.args);
    for (k, v) in &call.set_env {
        cmd.env(k, v);
    }
    for k in &call.remove_env {
        cmd.env_remove(k);
    }
    tracing::debug!(?cmd, "running HDF5 probe");
    let out = child::run(cmd, timeout).map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => (ProbeStatus::Inconclusive, format!("{}: not found", probe.display())),
        _ => (ProbeStatus::Inconclusive, format!("cannot run {}: {e}", probe.display())),
    })?;
    if let Some(msg) = loader_failure(&out.stderr) {
        return Err((ProbeStatus::Unavailable, msg));
    }
    if out.status.is_some_and(|s| s.success()) {
        return serde_json::from_str(&out.stdout).map_err(|e| {
            (
                ProbeStatus::Inconclusive,
                format!("{PROBE_NAME} printed invalid JSON ({e}); it may not match this h5doctor"),
            )
        });
    }
    let tail = out.stderr_tail(3);
    Err((
        ProbeStatus::Inconclusive,
        format!(
            "{PROBE_NAME} {}{}",
            out.describe_end(timeout),
            if tail.is_empty() { String::new() } else { format!(": {tail}") }
        ),
    ))
}

/// `create FILE...` (or `version` when there is nothing to create), optionally without locking.
fn run_create(probe: &Path, files: &[&Path], disable_locking: bool, timeout: Duration) -> Result<Hdf5ProbeReport, (ProbeStatus, String)> {
    let mut call = ProbeCall::default();
    if files.is_empty() {
        call.args.push("version".as_ref());
    } else {
        call.args.push("create".as_ref());
        call.args.extend(files.iter().map(|f| f.as_os_str()));
    }
    if disable_locking {
        call.set_env.push(("HDF5_USE_FILE_LOCKING", "FALSE"));
    }
    run_probe(probe, &call, timeout)
}

/// Probes the library and the directories that the lock probe could write to; fills `dirs[i].hdf5`.
pub fn probe(dirs: &mut [DirFacts], timeout: Duration) -> Hdf5Facts {
    let probe_path = match locate() {
        Ok(p) => p,
        Err(reason) => {
            return Hdf5Facts {
                status: ProbeStatus::Inconclusive,
                reason: Some(reason),
                probe_path: None,
                library: None,
                soname: None,
            }
        }
    };
    let mut facts = Hdf5Facts {
        probe_path: Some(probe_path.display().to_string()),
        ..Hdf5Facts::default()
    };
    let writable: Vec<usize> = (0..dirs.len()).filter(|&i| dirs[i].lock.status == ProbeStatus::Ok).collect();
    let guards: Vec<ProbeFile> = writable
        .iter()
        .map(|&i| {
            ProbeFile::register(cleanup::unique_path(
                dirs[i].canonical.as_deref().unwrap_or(Path::new(&dirs[i].path)),
                "h5",
            ))
        })
        .collect();
    let files: Vec<&Path> = guards.iter().map(ProbeFile::path).collect();
    match run_create(&probe_path, &files, false, timeout) {
        Err((status, reason)) => {
            facts.status = status;
            facts.reason = Some(reason.clone());
            for &i in &writable {
                dirs[i].hdf5.status = ProbeStatus::Inconclusive;
                dirs[i].hdf5.reason = Some(format!("HDF5 probe did not run: {reason}"));
            }
        }
        Ok(report) => {
            facts.status = ProbeStatus::Ok;
            facts.soname = report
                .library
                .path
                .as_deref()
                .and_then(|p| crate::elf_needed::read(Path::new(p)).ok()?.soname);
            facts.library = Some(report.library);
            for (&i, create) in writable.iter().zip(report.creates) {
                dirs[i].hdf5.status = ProbeStatus::Ok;
                dirs[i].hdf5.create = Some(create);
            }
            drop(guards);
            verify_without_locking(&probe_path, dirs, &writable, timeout);
            run_matrix(&probe_path, dirs, &writable, timeout);
        }
    }
    facts
}

/// Runs the drivers × modes matrix in every directory where the plain create worked, in one probe run.
fn run_matrix(probe_path: &Path, dirs: &mut [DirFacts], writable: &[usize], timeout: Duration) {
    let targets: Vec<usize> = writable
        .iter()
        .copied()
        .filter(|&i| dirs[i].hdf5.create.as_ref().is_some_and(|c| c.ok))
        .collect();
    if targets.is_empty() {
        return;
    }
    let stems: Vec<ProbeStem> = targets
        .iter()
        .map(|&i| {
            ProbeStem::register(cleanup::unique_stem(
                dirs[i].canonical.as_deref().unwrap_or(Path::new(&dirs[i].path)),
            ))
        })
        .collect();
    let mut call = ProbeCall::default();
    call.args.push("matrix".as_ref());
    call.args.extend(stems.iter().map(|s| s.path().as_os_str()));
    match run_probe(probe_path, &call, timeout) {
        Ok(report) => {
            for (&i, m) in targets.iter().zip(report.matrices) {
                dirs[i].hdf5.matrix = Some(match m.refused {
                    Some(why) => MatrixFacts {
                        status: ProbeStatus::Inconclusive,
                        reason: Some(why),
                        ..MatrixFacts::default()
                    },
                    None => MatrixFacts {
                        status: ProbeStatus::Ok,
                        reason: None,
                        drivers: m.drivers,
                        modes: m.modes,
                        elapsed_us: m.elapsed_us,
                    },
                });
            }
        }
        Err((_, reason)) => {
            for &i in &targets {
                dirs[i].hdf5.matrix = Some(MatrixFacts {
                    status: ProbeStatus::Inconclusive,
                    reason: Some(format!("drivers and modes not checked: {reason}")),
                    ..MatrixFacts::default()
                });
            }
        }
    }
}

/// Re-runs the creates that failed on a lock error with HDF5_USE_FILE_LOCKING=FALSE.
fn verify_without_locking(probe_path: &Path, dirs: &mut [DirFacts], writable: &[usize], timeout: Duration) {
    let retry: Vec<usize> = writable
        .iter()
        .copied()
        .filter(|&i| dirs[i].hdf5.create.as_ref().is_some_and(is_lock_failure))
        .collect();
    if retry.is_empty() {
        return;
    }
    let guards: Vec<ProbeFile> = retry
        .iter()
        .map(|&i| {
            ProbeFile::register(cleanup::unique_path(
                dirs[i].canonical.as_deref().unwrap_or(Path::new(&dirs[i].path)),
                "h5",
            ))
        })
        .collect();
    let files: Vec<&Path> = guards.iter().map(ProbeFile::path).collect();
    match run_create(probe_path, &files, true, timeout) {
        Ok(report) => {
            for (&i, create) in retry.iter().zip(report.creates) {
                dirs[i].hdf5.create_without_locking = Some(create);
            }
        }
        Err((_, reason)) => tracing::warn!("re-running the HDF5 probe with HDF5_USE_FILE_LOCKING=FALSE failed: {reason}"),
    }
}
