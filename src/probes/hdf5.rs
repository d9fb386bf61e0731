//! HDF5 probe driver: runs `h5doctor-probe` (the only binary that links HDF5) as a child with a timeout
//! and reads its JSON. It learns which libhdf5 loads and what it is, and tries H5Fcreate of a probe file
//! in each target directory. A create that fails on a lock error is tried again in a fresh child with
//! HDF5_USE_FILE_LOCKING=FALSE, so the fix h5doctor shows is verified, not guessed.
//!
//! When the probe cannot start (its libhdf5 is gone), that is recorded as `unavailable` with the
//! loader's own message and h5doctor's own resolution of the probe binary (which library is missing,
//! every place it was looked for, where a file of that name does exist); a timeout or a crash is
//! `inconclusive`. Neither aborts the run.

use super::child;
use crate::cleanup::{self, ProbeFile};
use crate::facts::{DirFacts, Hdf5Create, Hdf5Facts, Hdf5ProbeReport, ProbeStatus};
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

/// One run of the probe over `files`; `Err` carries (status, reason) when it gave no report.
fn run_probe(probe: &Path, files: &[&Path], disable_locking: bool, timeout: Duration) -> Result<Hdf5ProbeReport, (ProbeStatus, String)> {
    let mut cmd = Command::new(probe);
    if files.is_empty() {
        cmd.arg("version");
    } else {
        cmd.arg("create").args(files);
    }
    if disable_locking {
        cmd.env("HDF5_USE_FILE_LOCKING", "FALSE");
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
                probe_loader: None,
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
    match run_probe(&probe_path, &files, false, timeout) {
        Err((status, reason)) => {
            if status == ProbeStatus::Unavailable {
                // The loader's message names one library; h5doctor's resolver says where it looked.
                facts.probe_loader = Some(super::libraries::check_one(&probe_path, PROBE_NAME));
            }
            facts.status = status;
            facts.reason = Some(reason.clone());
            for &i in &writable {
                dirs[i].hdf5.status = ProbeStatus::Inconclusive;
                dirs[i].hdf5.reason = Some(format!("HDF5 probe did not run: {reason}"));
            }
        }
        Ok(report) => {
            facts.status = ProbeStatus::Ok;
            facts.library = Some(report.library);
            for (&i, create) in writable.iter().zip(report.creates) {
                dirs[i].hdf5.status = ProbeStatus::Ok;
                dirs[i].hdf5.create = Some(create);
            }
            verify_without_locking(&probe_path, dirs, &writable, timeout);
        }
    }
    facts
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
    match run_probe(probe_path, &files, true, timeout) {
        Ok(report) => {
            for (&i, create) in retry.iter().zip(report.creates) {
                dirs[i].hdf5.create_without_locking = Some(create);
            }
        }
        Err((_, reason)) => tracing::warn!("re-running the HDF5 probe with HDF5_USE_FILE_LOCKING=FALSE failed: {reason}"),
    }
}
