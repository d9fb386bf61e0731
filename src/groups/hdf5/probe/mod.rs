//! HDF5 probe driver: runs `h5doctor-probe` (the only binary that links HDF5) as a child with a timeout
//! and reads its JSON. It learns which libhdf5 loads and what it is, and tries H5Fcreate of a probe file
//! in each target directory. A create that fails on a lock error is tried again in a fresh child with
//! HDF5_USE_FILE_LOCKING=FALSE, so the fix h5doctor shows is verified, not guessed. Where the create
//! works, a second run tries every file driver and open mode on probe files named after a stem h5doctor
//! registered for cleanup (the drivers × modes matrix).
//!
//! When the probe cannot start (its libhdf5 is gone), that is recorded as `unavailable` with the
//! loader's own message and h5doctor's own resolution of the probe binary (which library is missing,
//! every place it was looked for, where a file of that name does exist); a timeout or a crash is
//! `inconclusive`. Neither aborts the run. An unavailable probe also gets the HDF5 installations of the
//! node it could be rebuilt against (`installs`). When HDF5_VOL_CONNECTOR or HDF5_DRIVER is set, the
//! directories holding the plugin it names are looked for (`plugin_env`).

pub mod installs;
pub mod lfs;
pub mod pick;
pub mod plugin_env;
pub mod storage;

use crate::cleanup::{self, ProbeFile, ProbeStem};
use crate::facts::modules::ModulesFacts;
use crate::facts::{DirFacts, Hdf5Create, Hdf5Facts, Hdf5ProbeReport, MatrixFacts, PluginEnvRetry, ProbeChoice, ProbeStatus, HDF5_PLUGIN_ENV};
use crate::probes::child;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

/// The probe binary's name.
pub const PROBE_NAME: &str = "h5doctor-probe";

/// Where to find h5doctor-probe when nothing says which HDF5 the job loads: `$H5DOCTOR_PROBE`, a probe
/// named for the libhdf5 on LD_LIBRARY_PATH, else the default beside this executable or on PATH (see
/// [`crate::groups::hdf5::probe::pick`]).
pub fn locate() -> Result<PathBuf, String> {
    crate::groups::hdf5::probe::pick::choose(None).map(|(path, _)| path)
}

/// Whether later groups may run the probe: found and, when the hdf5 group ran, working. A probe that timed
/// out or could not start there is not run again (each run would cost another timeout).
#[derive(Debug, Clone)]
pub enum ProbeAccess {
    Ready(PathBuf),
    Broken(ProbeStatus, String),
}

impl ProbeAccess {
    /// After the hdf5 group (`Some`) or without it (`None`).
    pub fn after(hdf5: Option<&Hdf5Facts>) -> Self {
        match hdf5 {
            Some(f) if f.status != ProbeStatus::Ok => ProbeAccess::Broken(
                f.status,
                format!(
                    "{PROBE_NAME} did not work in the hdf5 group: {}",
                    f.reason.as_deref().unwrap_or("no reason recorded")
                ),
            ),
            // The probe the hdf5 group picked for the job's HDF5.
            Some(f) if f.probe_path.is_some() => ProbeAccess::Ready(PathBuf::from(f.probe_path.clone().unwrap_or_default())),
            _ => match locate() {
                Ok(p) => ProbeAccess::Ready(p),
                Err(reason) => ProbeAccess::Broken(ProbeStatus::Inconclusive, reason),
            },
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
    /// A shell line run by /bin/sh before it execs the probe (a fix being verified, such as
    /// `ulimit -n $(ulimit -Hn)`); the probe runs only when the line succeeds.
    pub shell_prefix: Option<&'a str>,
}

/// What one probe run printed: its complete JSON lines, and why it did not finish, if it did not. The
/// probe prints a line as soon as a part of its answer is ready (`create` prints the creates, then the
/// drivers × modes matrices), so a run killed at its timeout still gives the parts it finished.
#[derive(Debug, Default)]
pub struct ProbeAnswer {
    pub lines: Vec<Hdf5ProbeReport>,
    pub failure: Option<(ProbeStatus, String)>,
    /// The signal that killed the probe, when one did.
    pub signal: Option<i32>,
    /// The probe said, last, that it removed every file it was given ([`Hdf5ProbeReport::removed_own_files`]).
    pub removed_own_files: bool,
}

/// Runs the probe once and keeps every complete answer line.
pub fn run_probe_lines(probe: &Path, call: &ProbeCall, timeout: Duration) -> ProbeAnswer {
    let mut cmd = match call.shell_prefix {
        Some(line) => {
            let mut sh = Command::new("/bin/sh");
            sh.arg("-c").arg(format!("{line} && exec \"$0\" \"$@\"")).arg(probe);
            sh
        }
        None => Command::new(probe),
    };
    cmd.args(&call.args);
    for (k, v) in &call.set_env {
        cmd.env(k, v);
    }
    for k in &call.remove_env {
        cmd.env_remove(k);
    }
    tracing::debug!(?cmd, "running HDF5 probe");
    let out = match child::run(cmd, timeout) {
        Ok(out) => out,
        Err(e) => {
            return ProbeAnswer {
                failure: Some((ProbeStatus::Inconclusive, e.reason(probe))),
                ..ProbeAnswer::default()
            };
        }
    };
    if let Some(msg) = loader_failure(&out.stderr) {
        return ProbeAnswer {
            failure: Some((ProbeStatus::Unavailable, msg)),
            ..ProbeAnswer::default()
        };
    }
    let succeeded = out.status.is_some_and(|s| s.success());
    let mut answer = ProbeAnswer {
        signal: out.status.and_then(|s| std::os::unix::process::ExitStatusExt::signal(&s)),
        ..ProbeAnswer::default()
    };
    for line in out.stdout.lines().filter(|l| !l.trim().is_empty()) {
        match serde_json::from_str::<Hdf5ProbeReport>(line) {
            Ok(report) if report.removed_own_files => answer.removed_own_files = true,
            Ok(report) => answer.lines.push(report),
            // A line cut off by a kill is expected; garbage from a finished probe is not.
            Err(e) if succeeded => {
                answer.failure = Some((
                    ProbeStatus::Inconclusive,
                    format!("{PROBE_NAME} printed invalid JSON ({e}); it may not match this h5doctor"),
                ));
                return answer;
            }
            Err(_) => {}
        }
    }
    if succeeded && answer.lines.is_empty() {
        answer.failure = Some((ProbeStatus::Inconclusive, format!("{PROBE_NAME} printed nothing")));
    } else if !succeeded {
        let tail = out.stderr_tail(3);
        answer.failure = Some((
            ProbeStatus::Inconclusive,
            format!(
                "{PROBE_NAME} {}{}",
                out.describe_end(timeout),
                if tail.is_empty() { String::new() } else { format!(": {tail}") }
            ),
        ));
    }
    answer
}

/// Runs the probe once and merges its answer lines; `Err` carries (status, reason) unless it finished.
pub fn run_probe(probe: &Path, call: &ProbeCall, timeout: Duration) -> Result<Hdf5ProbeReport, (ProbeStatus, String)> {
    let answer = run_probe_lines(probe, call, timeout);
    if let Some(failure) = answer.failure {
        return Err(failure);
    }
    let mut lines = answer.lines.into_iter();
    let mut report = lines.next().unwrap_or_default();
    for more in lines {
        report.creates.extend(more.creates);
        report.matrices.extend(more.matrices);
        report.files.extend(more.files);
        report.plugins = report.plugins.or(more.plugins);
        report.vds_reads.extend(more.vds_reads);
    }
    Ok(report)
}

/// `create FILE...` (or `version` when there is nothing to create), optionally without locking. For each
/// file it creates, the probe then runs the drivers × modes matrix on files named after
/// [`cleanup::matrix_stem`] of it, and prints those results as a second line.
fn run_create(probe: &Path, files: &[&Path], disable_locking: bool, plugins_too: bool, timeout: Duration) -> ProbeAnswer {
    let mut call = ProbeCall::default();
    if files.is_empty() {
        call.args.push("version".as_ref());
    } else {
        call.args.push("create".as_ref());
        call.args.extend(files.iter().map(|f| f.as_os_str()));
        if plugins_too {
            call.set_env.push((crate::facts::PLUGINS_WITH_CREATE_ENV, "1"));
        }
    }
    if disable_locking {
        call.set_env.push(("HDF5_USE_FILE_LOCKING", "FALSE"));
    }
    run_probe_lines(probe, &call, timeout)
}

/// For each directory, a probe file for H5Fcreate and the stem of the matrix the probe runs after it; all
/// registered with one record rewrite.
fn register_creates<'a>(dirs: impl Iterator<Item = &'a DirFacts>) -> Vec<(ProbeFile, ProbeStem)> {
    let files: Vec<PathBuf> = dirs
        .map(|dir| cleanup::unique_path(dir.canonical.as_deref().unwrap_or(Path::new(&dir.path)), "h5"))
        .collect();
    let stems = files.iter().map(|f| cleanup::matrix_stem(f)).collect();
    let (files, stems) = cleanup::register_files_and_stems(files, stems);
    files.into_iter().zip(stems).collect()
}

/// Lets go of the probe files and stems of a `create` run: when the probe said it removed them itself, without
/// removing them again (~25 names per directory that are gone); otherwise (it was killed at its timeout,
/// crashed, or is an older probe that does not say) the guards' drop removes them by name.
fn release_creates(guards: Vec<(ProbeFile, ProbeStem)>, removed_by_probe: bool) {
    if !removed_by_probe {
        drop(guards);
        return;
    }
    for (file, stem) in guards {
        file.removed_by_child();
        stem.removed_by_child();
    }
}

/// The matrix facts from the probe's matrix reports (by stem), or why there are none.
fn matrix_facts(stem: &Path, matrices: &[crate::facts::MatrixReport], failure: &Option<(ProbeStatus, String)>) -> MatrixFacts {
    match matrices.iter().find(|m| Path::new(&m.stem) == stem) {
        Some(m) => match &m.refused {
            Some(why) => MatrixFacts {
                status: ProbeStatus::Inconclusive,
                reason: Some(why.clone()),
                ..MatrixFacts::default()
            },
            None => MatrixFacts {
                status: ProbeStatus::Ok,
                reason: None,
                drivers: m.drivers.clone(),
                modes: m.modes.clone(),
                elapsed_us: m.elapsed_us,
            },
        },
        None => MatrixFacts {
            status: ProbeStatus::Inconclusive,
            reason: Some(format!(
                "drivers and modes not checked: {}",
                failure.as_ref().map_or("the probe gave no result for them", |(_, r)| r.as_str())
            )),
            ..MatrixFacts::default()
        },
    }
}

/// The hdf5 group always runs by default; in `probes::gather`'s sequence (it creates files only where the lock
/// probe passed, the plugins and file groups read its outcome, a loaded module picks its probe).
pub const PROBE: crate::probes::GroupProbe = crate::probes::GroupProbe {
    by_default: |_| true,
    run: crate::probes::Run::InSequence,
    reads: &[],
};

/// Probes the library and the directories that the lock probe could write to; fills `dirs[i].hdf5`. The
/// probe is the one named for the HDF5 the job will load (the loaded module's, from `modules`).
pub fn probe(dirs: &mut [DirFacts], modules: Option<&ModulesFacts>, timeout: Duration) -> Hdf5Facts {
    probe_with_plugins(dirs, pick::choose(modules), timeout, false).0
}

/// [`probe`], and with `plugins_too` the plugins report asked of the same probe run
/// ([`crate::facts::PLUGINS_WITH_CREATE_ENV`]; the caller asks only when HDF5_PLUGIN_PATH is unset, so the
/// environment is the one the `plugins` probe would have): a report whose `library` is the probe's and whose
/// `plugins` is set, or `None` when the run gave none (no writable directory, an older probe, a failure),
/// and the plugins group then runs its own probe. `picked` is [`pick::choose`]'s answer (the caller may
/// pick early, before the directory probe, when no loaded module decides).
pub fn probe_with_plugins(
    dirs: &mut [DirFacts],
    picked: Result<(PathBuf, ProbeChoice), String>,
    timeout: Duration,
    plugins_too: bool,
) -> (Hdf5Facts, Option<Hdf5ProbeReport>) {
    let (probe_path, choice) = match picked {
        Ok(p) => p,
        Err(reason) => {
            let facts = Hdf5Facts {
                status: ProbeStatus::Inconclusive,
                reason: Some(reason),
                probe_path: None,
                ..Hdf5Facts::default()
            };
            return (facts, None);
        }
    };
    tracing::info!(probe = %probe_path.display(), by = %choice.by, why = %choice.why, "HDF5 probe picked");
    let mut facts = Hdf5Facts {
        probe_path: Some(probe_path.display().to_string()),
        probe_choice: Some(choice),
        ..Hdf5Facts::default()
    };
    let writable: Vec<usize> = (0..dirs.len()).filter(|&i| dirs[i].lock.status == ProbeStatus::Ok).collect();
    let guards = register_creates(writable.iter().map(|&i| &dirs[i]));
    let files: Vec<&Path> = guards.iter().map(|(f, _)| f.path()).collect();
    // As root, not when a default plugin directory is refused: the plugins group then lists them itself.
    let plugins_too = plugins_too && crate::trust::default_plugin_dirs(&std::process::Command::new(&probe_path)).refused.is_empty();
    let answer = run_create(&probe_path, &files, false, plugins_too, timeout);
    let removed_by_probe = answer.removed_own_files;
    let mut lines = answer.lines.into_iter();
    let Some(first) = lines.next() else {
        let (status, reason) = answer
            .failure
            .unwrap_or((ProbeStatus::Inconclusive, format!("{PROBE_NAME} printed nothing")));
        if status == ProbeStatus::Unavailable {
            // The loader's message names one library; h5doctor's resolver says where it looked.
            let loader = crate::groups::libraries::probe::check_one(&probe_path, PROBE_NAME);
            // Where an HDF5 to rebuild the probe against is (the fix names it, or where it looked).
            let missing = installs::Missing {
                names: loader.missing.iter().map(|m| m.name.as_str()).collect(),
                found_elsewhere: loader.missing.iter().flat_map(|m| &m.found_elsewhere).map(String::as_str).collect(),
            };
            facts.install_search = Some(installs::search(&missing, &|v| std::env::var(v).ok(), &installs::cached_libhdf5()));
            facts.probe_loader = Some(loader);
        }
        facts.signal = answer.signal;
        facts.without_plugin_env = retry_without_plugin_env(&probe_path, timeout);
        if facts.without_plugin_env.as_ref().is_some_and(|r| r.ok) {
            // The probe works without the variables: it can list where their plugins could be.
            facts.plugin_env_search = plugin_env::search(&probe_path, None, timeout);
        }
        facts.status = status;
        facts.reason = Some(reason.clone());
        for &i in &writable {
            dirs[i].hdf5.status = ProbeStatus::Inconclusive;
            dirs[i].hdf5.reason = Some(format!("HDF5 probe did not run: {reason}"));
        }
        return (facts, None);
    };
    facts.status = ProbeStatus::Ok;
    facts.soname = first
        .library
        .path
        .as_deref()
        .and_then(|p| crate::elf::ElfObject::read(Path::new(p)).ok()?.soname);
    let lines: Vec<Hdf5ProbeReport> = lines.collect();
    let plugins = lines.iter().find_map(|l| l.plugins.clone()).map(|p| Hdf5ProbeReport {
        library: first.library.clone(),
        plugins: Some(p),
        ..Hdf5ProbeReport::default()
    });
    facts.library = Some(first.library);
    let library_path = facts.library.as_ref().and_then(|l| l.path.as_deref());
    facts.plugin_env_search = plugin_env::search(&probe_path, library_path, timeout);
    let matrices: Vec<_> = lines.into_iter().flat_map(|l| l.matrices).collect();
    for ((&i, create), (_, stem)) in writable.iter().zip(first.creates).zip(&guards) {
        dirs[i].hdf5.status = ProbeStatus::Ok;
        if create.ok {
            dirs[i].hdf5.matrix = Some(matrix_facts(stem.path(), &matrices, &answer.failure));
        }
        dirs[i].hdf5.create = Some(create);
    }
    release_creates(guards, removed_by_probe);
    verify_without_locking(&probe_path, dirs, &writable, timeout);
    (facts, plugins)
}

/// When HDF5_VOL_CONNECTOR, HDF5_DRIVER or HDF5_DRIVER_CONFIG is set and the probe failed, runs `version`
/// once more without them: HDF5 >= 1.12 loads the connector (>= 1.14 the driver) when it initialises and
/// fails, or crashes, when it cannot.
fn retry_without_plugin_env(probe_path: &Path, timeout: Duration) -> Option<PluginEnvRetry> {
    let unset: Vec<&str> = HDF5_PLUGIN_ENV.into_iter().filter(|v| std::env::var_os(v).is_some()).collect();
    if unset.is_empty() {
        return None;
    }
    let call = ProbeCall {
        args: vec!["version".as_ref()],
        remove_env: unset.clone(),
        ..ProbeCall::default()
    };
    let answer = run_probe_lines(probe_path, &call, timeout);
    let ok = !answer.lines.is_empty() && answer.failure.is_none();
    Some(PluginEnvRetry {
        unset: unset.iter().map(|v| v.to_string()).collect(),
        ok,
        detail: answer.failure.map(|(_, reason)| reason),
    })
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
    let guards = register_creates(retry.iter().map(|&i| &dirs[i]));
    let files: Vec<&Path> = guards.iter().map(|(f, _)| f.path()).collect();
    let answer = run_create(probe_path, &files, true, false, timeout);
    release_creates(guards, answer.removed_own_files);
    match answer.lines.into_iter().next() {
        Some(report) => {
            for (&i, create) in retry.iter().zip(report.creates) {
                dirs[i].hdf5.create_without_locking = Some(create);
            }
        }
        None => tracing::warn!(
            "re-running the HDF5 probe with HDF5_USE_FILE_LOCKING=FALSE failed: {}",
            answer.failure.map_or_else(String::new, |(_, r)| r)
        ),
    }
}
