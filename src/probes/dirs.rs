//! Directory probing in a child process: file system (statfs, mountinfo) and raw lock calls for every
//! target directory.
//!
//! Every call that touches a target directory (canonicalize, stat, statfs, open, flock, unlink) can block
//! forever on a dead network mount, and a thread blocked in such a call keeps its whole process from
//! exiting. So h5doctor never makes those calls itself: it runs `h5doctor probe-dirs PATH...` (a hidden
//! subcommand, this module's [`serve`]), which probes each directory in its own thread and prints one
//! JSON line per directory as soon as it is done. The parent reads lines until it has them all or the
//! deadline passes, then stops the child (SIGTERM so it can remove its probe files, then SIGKILL) and
//! never waits for it. A directory without a line is inconclusive.

use super::targets::Target;
use crate::cleanup;
use crate::error::Error;
use crate::facts::{DirFacts, LockFacts, MissingDir, ProbeStatus, StorageFacts};
use crate::groups::hdf5::probe::storage;
use crate::groups::locking::probe::{self as lock, mounts};
use serde::{Deserialize, Serialize};
use std::io::{BufRead, BufReader, Write};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// The hidden subcommand that runs [`serve`].
pub const SUBCOMMAND: &str = "probe-dirs";

/// What the child reports for one directory.
#[derive(Debug, Serialize, Deserialize)]
pub struct DirReport {
    /// Position of the directory in the child's arguments.
    pub index: usize,
    pub canonical: Option<PathBuf>,
    /// Set when the path is missing or not a directory.
    pub problem: Option<PathProblem>,
    pub filesystem: Option<crate::facts::FsFacts>,
    pub lock: LockFacts,
    #[serde(default)]
    pub storage: Option<StorageFacts>,
    /// For a missing path: where it stops on this node.
    #[serde(default)]
    pub missing: Option<MissingDir>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum PathProblem {
    Missing,
    NotADirectory,
    Unreadable,
}

/// Probes one directory; `mounts` is this node's mount table, read once for every directory.
fn probe_one(index: usize, path: &Path, mounts: &[mounts::MountEntry]) -> DirReport {
    let mut report = DirReport {
        index,
        canonical: None,
        problem: None,
        filesystem: None,
        lock: LockFacts::default(),
        storage: None,
        missing: None,
    };
    match std::fs::metadata(path) {
        Ok(m) if m.is_dir() => {}
        Ok(_) => report.problem = Some(PathProblem::NotADirectory),
        Err(e) if matches!(e.raw_os_error(), Some(libc::ENOENT) | Some(libc::ENOTDIR)) => {
            report.problem = Some(PathProblem::Missing);
            report.missing = Some(where_it_stops(path, e.raw_os_error().unwrap_or(libc::ENOENT), mounts));
        }
        Err(_) => report.problem = Some(PathProblem::Unreadable),
    }
    report.canonical = std::fs::canonicalize(path).ok();
    if report.problem.is_none() {
        let dir = report.canonical.clone().unwrap_or_else(|| path.to_path_buf());
        // Files an earlier run left here when it was killed outright: removed by name, in this child
        // that may hang on the directory, never by listing it.
        let swept = cleanup::sweep_stale(&dir);
        if swept > 0 {
            tracing::info!(dir = %dir.display(), swept, "removed probe files of runs killed outright");
        }
        report.filesystem = filesystem_of(mounts, &dir);
        let magic = report
            .filesystem
            .as_ref()
            .and_then(|f| u64::from_str_radix(f.magic.trim_start_matches("0x"), 16).ok());
        let mount_point = report.filesystem.as_ref().map(|f| Path::new(&f.mount_point));
        let mut space = storage::probe(&dir, magic, mount_point);
        let (lock, create) = lock::probe(&dir);
        report.lock = lock;
        space.create = Some(create);
        report.storage = Some(space);
    }
    report
}

/// The file system that holds `dir` (canonical, already looked at), from the mount table read when the
/// probe started; read again when that shows `dir` under an automounter's trigger (`autofs`): looking at
/// `dir` may just have mounted the real file system on top of it.
fn filesystem_of(mounts: &[mounts::MountEntry], dir: &Path) -> Option<crate::facts::FsFacts> {
    match mounts::probe_in(mounts, dir) {
        Some(fs) if fs.fs_type == "autofs" => mounts::probe(dir),
        found => found,
    }
}

/// A missing path: its nearest existing ancestor (absolute, from the working directory for a relative
/// path) and the file system that holds it, as this node's mount table (`mounts`) says.
fn where_it_stops(path: &Path, errno: i32, mounts: &[mounts::MountEntry]) -> MissingDir {
    let absolute = std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf());
    let ancestor = absolute.ancestors().skip(1).find(|a| a.is_dir()).map(Path::to_path_buf);
    let canonical = ancestor.as_ref().map(|a| std::fs::canonicalize(a).unwrap_or_else(|_| a.clone()));
    MissingDir {
        errno_name: crate::errno::name(errno),
        existing_ancestor: ancestor.map(|a| a.display().to_string()),
        ancestor_filesystem: canonical.and_then(|c| filesystem_of(mounts, &c)),
    }
}

/// The child side: probes each path in its own thread, printing one JSON line per directory.
pub fn serve(paths: &[PathBuf]) -> Result<(u8, String), Error> {
    // The record directory's janitor runs alongside (files of dead runs in directories not probed now,
    // only on node-local file systems, so it cannot hang); the answer never waits for it more than a moment.
    // The mount table is read once, for the janitor and every directory.
    let table = std::sync::Arc::new(mounts::table());
    let (janitor_done, janitor) = mpsc::channel();
    let janitors_table = std::sync::Arc::clone(&table);
    std::thread::spawn(move || {
        let swept = cleanup::sweep_abandoned(|dir| mounts::is_node_local(&janitors_table, dir));
        if swept > 0 {
            tracing::info!(swept, "removed probe files of abandoned runs");
        }
        let _ = janitor_done.send(());
    });
    let (tx, rx) = mpsc::channel();
    for (index, path) in paths.iter().cloned().enumerate() {
        let tx = tx.clone();
        let table = std::sync::Arc::clone(&table);
        std::thread::spawn(move || {
            let _ = tx.send(probe_one(index, &path, &table));
        });
    }
    drop(tx);
    let mut out = std::io::stdout().lock();
    for report in rx {
        let line = serde_json::to_string(&report).expect("report serialises");
        if writeln!(out, "{line}").and_then(|_| out.flush()).is_err() {
            break;
        }
    }
    drop(out);
    let _ = janitor.recv_timeout(JANITOR_GRACE);
    Ok((0, String::new()))
}

/// How long the directory probe waits, once it has answered, for the record janitor to finish (it resumes
/// at the next run where it stopped: every record it changes is rewritten whole).
const JANITOR_GRACE: Duration = Duration::from_millis(500);

/// Stops a child without ever blocking on it: SIGTERM to its group, a short grace, then SIGKILL.
fn stop(child: &mut std::process::Child) {
    let pid = child.id() as i32;
    // SAFETY: signalling the process group created for this child.
    unsafe { libc::kill(-pid, libc::SIGTERM) };
    let grace = Instant::now() + Duration::from_millis(200);
    while Instant::now() < grace {
        if matches!(child.try_wait(), Ok(Some(_))) {
            return;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    unsafe { libc::kill(-pid, libc::SIGKILL) };
    // Not waited for: a process stuck in a dead mount may never be reapable. It is reparented at exit.
}

fn timed_out(target: &Target, timeout: Duration) -> DirFacts {
    DirFacts {
        path: target.path.display().to_string(),
        origin: target.origin.clone(),
        lock: LockFacts {
            status: ProbeStatus::Inconclusive,
            reason: Some(format!(
                "the file system calls in {} did not return within {} s (a hung network mount?)",
                target.path.display(),
                timeout.as_secs_f64()
            )),
            ..LockFacts::default()
        },
        ..DirFacts::default()
    }
}

/// A `probe-dirs` child that has answered for every directory and is left to end on its own (its record
/// janitor may still be at work): reaped by [`Answered::reap`] once the caller has done what it waits for.
#[must_use = "the child is reaped by Answered::reap"]
pub struct Answered(Option<std::process::Child>);

impl Answered {
    /// Waits for the child to end (it has answered: it ends within the janitor's grace) and forgets it.
    pub fn reap(self) {
        if let Some(mut child) = self.0 {
            let _ = child.wait();
            cleanup::unregister_child(child.id() as i32);
        }
    }
}

/// The parent side: probes `targets` through a `probe-dirs` child, giving up at `timeout`. Explicit
/// (`--dir`) targets that are missing or not directories are usage errors. `expect_bytes` (`--expect-size`)
/// is recorded with each directory's storage facts, for the rules that compare it with the free space.
///
/// `meanwhile` runs on this thread once the child has started, before its answers are read: work that does
/// not need them is done while the child probes (its answers wait in the pipe). A child that answered for
/// every directory is not waited for here ([`Answered`]: its janitor may run on a moment after the last
/// answer); one that did not is stopped, as before.
pub fn probe_meanwhile<T>(
    targets: &[Target],
    timeout: Duration,
    expect_bytes: Option<u64>,
    meanwhile: impl FnOnce() -> T,
) -> Result<(Vec<DirFacts>, T, Answered), Error> {
    if targets.is_empty() {
        return Ok((Vec::new(), meanwhile(), Answered(None)));
    }
    let exe =
        std::env::current_exe().map_err(|e| Error::msg(format!("cannot find the h5doctor executable to run the directory probe: {e}")))?;
    let mut cmd = Command::new(exe);
    cmd.arg(SUBCOMMAND).args(targets.iter().map(|t| &t.path));
    // stderr is not inherited: a child stuck in a dead mount would hold the caller's pipe open forever.
    cmd.stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .process_group(0);
    // This is h5doctor itself, already running: the gate still refuses a binary a user could replace.
    crate::trust::vet_command(&cmd).map_err(|r| Error::msg(format!("the directory probe: {r}")))?;
    super::child::die_with_parent(&mut cmd);
    let mut child = cmd
        .spawn()
        .map_err(|e| Error::msg(format!("cannot start the directory probe: {e}")))?;
    cleanup::register_child(child.id() as i32);
    let stdout = child.stdout.take().expect("piped");
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let deadline = Instant::now() + timeout;
    let done_meanwhile = meanwhile();
    let mut reports: Vec<Option<DirReport>> = targets.iter().map(|_| None).collect();
    let mut received = 0;
    while received < targets.len() {
        let Ok(line) = rx.recv_timeout(deadline.saturating_duration_since(Instant::now())) else {
            break;
        };
        let report: DirReport =
            serde_json::from_str(&line).map_err(|e| Error::msg(format!("the directory probe printed invalid JSON ({e}): {line}")))?;
        if let Some(slot) = reports.get_mut(report.index) {
            if slot.is_none() {
                received += 1;
            }
            *slot = Some(report);
        }
    }
    let answered = if received < targets.len() {
        stop(&mut child);
        cleanup::unregister_child(child.id() as i32);
        Answered(None)
    } else {
        Answered(Some(child))
    };

    let mut dirs = Vec::new();
    for (target, report) in targets.iter().zip(reports) {
        let Some(r) = report else {
            dirs.push(timed_out(target, timeout));
            continue;
        };
        if target.explicit {
            match r.problem {
                // Inside a batch job a directory given on the login node but missing here is what the
                // dir-not-on-compute-nodes rule reports; outside one it is a typo.
                Some(PathProblem::Missing) if super::env::batch_job().is_none() => {
                    answered.reap();
                    return Err(Error::msg(format!("--dir {}: no such directory", target.path.display())));
                }
                Some(PathProblem::NotADirectory) => {
                    answered.reap();
                    return Err(Error::msg(format!(
                        "--dir {}: not a directory (h5doctor probes directories; give the directory that holds the file)",
                        target.path.display()
                    )));
                }
                _ => {}
            }
        }
        let mut lock = r.lock;
        if let Some(problem) = r.problem {
            lock.status = ProbeStatus::Inconclusive;
            lock.reason = Some(format!(
                "{} ({}) {}",
                target.path.display(),
                target.origin,
                match problem {
                    PathProblem::Missing => "does not exist",
                    PathProblem::NotADirectory => "is not a directory",
                    PathProblem::Unreadable => "cannot be examined (permission denied?)",
                }
            ));
        }
        dirs.push(DirFacts {
            path: target.path.display().to_string(),
            origin: target.origin.clone(),
            canonical: r.canonical,
            filesystem: r.filesystem,
            lock,
            storage: r.storage.map(|s| StorageFacts { expect_bytes, ..s }),
            missing: r.missing,
            ..DirFacts::default()
        });
    }
    Ok((merge_same_directory(dirs), done_meanwhile, answered))
}

/// Keeps one entry per canonical directory, merging the reasons it is a target (`cwd, $HOME`).
fn merge_same_directory(dirs: Vec<DirFacts>) -> Vec<DirFacts> {
    let mut out: Vec<DirFacts> = Vec::new();
    for d in dirs {
        match out.iter_mut().find(|o| o.canonical.is_some() && o.canonical == d.canonical) {
            Some(o) => {
                if !o.origin.split(", ").any(|x| x == d.origin) {
                    o.origin = format!("{}, {}", o.origin, d.origin);
                }
            }
            None => out.push(d),
        }
    }
    out
}
