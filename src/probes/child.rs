//! Running a probe child process with a timeout: its own process group (so a timeout or a signal kills
//! everything it started), stdout and stderr captured in full, never a hang. Every child goes through
//! [`run`], which first asks [`crate::trust::vet_command`] whether it may run (as root, nothing a user
//! could have written runs; HDF5 in it searches no plugin directory a user could have written,
//! [`crate::trust::confine_plugin_path`]), and makes the child receive SIGTERM when h5doctor dies ([`die_with_parent`]),
//! so it removes its probe files even when h5doctor is killed with SIGKILL.

use crate::cleanup;
use crate::trust::{self, UntrustedReason};
use std::io::Read;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::process::{Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

/// What a child did.
#[derive(Debug)]
pub struct ChildOutput {
    /// None when it was killed at the timeout.
    pub status: Option<ExitStatus>,
    pub stdout: String,
    pub stderr: String,
    pub elapsed: Duration,
    /// How long the kill at the timeout waited on the [`Reprieve`], and whether the child was still busy
    /// when it came; `None` when the kill did not wait (no timeout, no reprieve, or the child not busy).
    pub reprieved: Option<(Duration, bool)>,
}

impl ChildOutput {
    /// A one-line account of how the child ended, for "inconclusive" reasons.
    pub fn describe_end(&self, timeout: Duration) -> String {
        match self.status {
            None => format!("timed out after {} s and was killed", timeout.as_secs_f64()),
            Some(s) => match (s.code(), s.signal()) {
                (Some(c), _) => format!("exited with status {c}"),
                (None, Some(sig)) => format!("was killed by signal {sig}{}", if s.core_dumped() { " (core dumped)" } else { "" }),
                _ => "ended abnormally".into(),
            },
        }
    }

    /// The last non-empty stderr lines, for evidence.
    pub fn stderr_tail(&self, lines: usize) -> String {
        let all: Vec<&str> = self.stderr.lines().filter(|l| !l.trim().is_empty()).collect();
        all[all.len().saturating_sub(lines)..].join("\n")
    }
}

/// Why a child did not run.
#[derive(Debug)]
pub enum RunError {
    /// Running as root and the program is not trusted (see [`crate::trust`]).
    Untrusted(UntrustedReason),
    /// The program could not be started.
    Spawn(std::io::Error),
}

impl RunError {
    /// The reason to record for `program`: the trust reason as it is, or "cannot run PROGRAM: error".
    pub fn reason(&self, program: &std::path::Path) -> String {
        match self {
            RunError::Untrusted(r) => r.to_string(),
            RunError::Spawn(e) if e.kind() == std::io::ErrorKind::NotFound => format!("{}: not found", program.display()),
            RunError::Spawn(e) => format!("cannot run {}: {e}", program.display()),
        }
    }
}

/// Makes the child get SIGTERM when the thread that started it (h5doctor) dies, SIGKILL included; the
/// child's own handlers then remove its probe files (h5doctor-probe, the Python scripts and `probe-dirs`
/// all handle SIGTERM). Must be called on a command before it is spawned.
///
/// Until it execs, the forked child still has h5doctor's SIGTERM handler, which in the child only notes
/// the signal for a thread the child does not have: a death signal arriving then (h5doctor SIGKILLed while
/// starting a probe; spawn returns only after the exec) was swallowed, and the probe then ran on as an
/// orphan that nothing would stop. So SIGTERM's default action is restored first: a death signal before
/// the exec ends the child before it has created anything.
pub fn die_with_parent(cmd: &mut Command) {
    // SAFETY: getpid before fork; in the child, only async-signal-safe calls (signal, prctl, getppid, _exit).
    let parent = unsafe { libc::getpid() };
    unsafe {
        cmd.pre_exec(move || {
            if libc::signal(libc::SIGTERM, libc::SIG_DFL) == libc::SIG_ERR {
                return Err(std::io::Error::last_os_error());
            }
            if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGTERM as libc::c_ulong, 0, 0, 0) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            // The parent may have died before prctl took effect.
            if libc::getppid() != parent {
                libc::_exit(128 + libc::SIGTERM);
            }
            Ok(())
        });
    }
}

fn drain(r: impl Read + Send + 'static) -> std::sync::mpsc::Receiver<String> {
    drain_watching(r, None)
}

/// Reads `r` to its end on a thread; `follow` (a line prefix and what to do with such a line) is called
/// with every complete line starting with the prefix as soon as it is read, without waiting for the end.
fn drain_watching(mut r: impl Read + Send + 'static, follow: Option<Follow>) -> std::sync::mpsc::Receiver<String> {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        // Room for a probe's whole answer: read_to_end into an empty Vec starts with 32-byte reads and
        // doubles (13 reads for the HDF5 probe's 6 KB), into this one reads as the lines come.
        let mut buf = Vec::with_capacity(16 * 1024);
        match follow {
            None => {
                let _ = r.read_to_end(&mut buf);
            }
            Some((prefix, mut on_line)) => {
                let mut chunk = [0u8; 8192];
                // Lines before `scanned` have been looked at.
                let mut scanned = 0;
                loop {
                    match r.read(&mut chunk) {
                        Ok(0) => break,
                        Ok(n) => buf.extend_from_slice(&chunk[..n]),
                        Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                        Err(_) => break,
                    }
                    while let Some(end) = buf[scanned..].iter().position(|&b| b == b'\n') {
                        let line = &buf[scanned..scanned + end];
                        scanned += end + 1;
                        if let Some(rest) = line.strip_prefix(prefix.as_bytes()) {
                            on_line(&String::from_utf8_lossy(rest));
                        }
                    }
                }
            }
        }
        let _ = tx.send(String::from_utf8_lossy(&buf).into_owned());
    });
    rx
}

/// A stdout line prefix to watch for, and what to do with the rest of the first line carrying it.
pub type Watch = (&'static str, Box<dyn FnOnce(&str) + Send>);

/// A stdout line prefix to follow, and what to do with the rest of every line carrying it, as it is read.
pub type Follow = (&'static str, Box<dyn FnMut(&str) + Send>);

/// The first line only, as [`Watch`] asks.
fn follow_first((prefix, on_line): Watch) -> Follow {
    let mut on_line = Some(on_line);
    (
        prefix,
        Box::new(move |line: &str| {
            if let Some(call) = on_line.take() {
                call(line)
            }
        }),
    )
}

/// What a timeout waits for before it kills the child: while `busy` answers true the child is somewhere
/// a kill must not reach it (an MPI process in its PMIx handshake with the launcher), so the kill waits,
/// until `busy` answers false, the child exits, or `grace` has passed.
pub struct Reprieve {
    pub busy: Box<dyn Fn() -> bool + Send>,
    pub grace: Duration,
}

/// Runs `cmd` to completion or until `timeout`, whichever comes first. On timeout the child's whole
/// process group is killed and never waited for: a process stuck in a dead mount may be unkillable, and
/// waiting for it (or for its pipes to close) would hang h5doctor too.
pub fn run(cmd: Command, timeout: Duration) -> Result<ChildOutput, RunError> {
    run_inner(cmd, timeout, None, None, None)
}

/// [`run`], with every stdout line carrying `follow`'s prefix handed to it as it comes, and the kill at
/// the timeout held back by `reprieve`. The child ended by the timeout counts as timed out (`status`
/// `None`) even when it exits during the reprieve.
pub fn run_following(cmd: Command, timeout: Duration, follow: Follow, reprieve: Reprieve) -> Result<ChildOutput, RunError> {
    run_inner(cmd, timeout, None, Some(follow), Some(reprieve))
}

/// Like [`run`], but the child's stdin gets what `feed` returns, once it returns: the child starts at once
/// (an interpreter imports h5py) while h5doctor still works out what to tell it (where it may create
/// files). The timeout counts from the moment `feed` returns; `feed` itself must end (it waits for another
/// probe, which has its own timeout).
pub fn run_fed(cmd: Command, timeout: Duration, feed: impl FnOnce() -> Vec<u8>) -> Result<ChildOutput, RunError> {
    run_inner(cmd, timeout, Some(Box::new(feed)), None, None)
}

/// Like [`run_fed`], and `watch` gets the first stdout line with its prefix as soon as the child prints it
/// (an interpreter answers the query about itself before it imports h5py): one child, two answers.
pub fn run_fed_watching(cmd: Command, timeout: Duration, feed: impl FnOnce() -> Vec<u8>, watch: Watch) -> Result<ChildOutput, RunError> {
    run_inner(cmd, timeout, Some(Box::new(feed)), Some(follow_first(watch)), None)
}

/// What a fed child gets on stdin, computed once the child runs.
type Feed<'a> = Box<dyn FnOnce() -> Vec<u8> + 'a>;

fn run_inner(
    mut cmd: Command,
    timeout: Duration,
    feed: Option<Feed>,
    follow: Option<Follow>,
    reprieve: Option<Reprieve>,
) -> Result<ChildOutput, RunError> {
    trust::vet_command(&cmd).map_err(RunError::Untrusted)?;
    trust::confine_plugin_path(&mut cmd);
    let spawned = Instant::now();
    die_with_parent(&mut cmd);
    cmd.stdin(if feed.is_some() { Stdio::piped() } else { Stdio::null() })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0);
    let mut child = cmd.spawn().map_err(RunError::Spawn)?;
    let pid = child.id() as i32;
    cleanup::register_child(pid);
    let out = drain_watching(child.stdout.take().expect("piped"), follow);
    let err = drain(child.stderr.take().expect("piped"));
    let start = match (feed, child.stdin.take()) {
        (Some(feed), Some(mut stdin)) => {
            let bytes = feed();
            // Written by a thread: a child that never reads must not block h5doctor on a full pipe.
            std::thread::spawn(move || {
                use std::io::Write;
                let _ = stdin.write_all(&bytes);
            });
            Instant::now()
        }
        _ => spawned,
    };
    // Waited for on its stdout: the child's exit closes it and wakes this thread at once (a child that only
    // exits is noticed without polling a clock every few milliseconds, which cost CPU in every waiting
    // thread and up to one period of latency). A grandchild may keep stdout open after the child's exit
    // (or the child may close it early): the child is then looked at every 50 ms. After stdout closed (an
    // exit closes the descriptors just before the process ends), the wait is on the child's pidfd, which
    // wakes this thread when the child has ended, or, on a kernel without pidfd_open (before Linux 5.3),
    // a look every millisecond until it is reaped.
    let exit_watch = ExitWatch::open(pid);
    let mut stdout: Option<String> = None;
    let mut reprieved = None;
    let status = loop {
        match child.try_wait() {
            Ok(Some(s)) => break Some(s),
            Ok(None) => {}
            Err(e) => {
                // SAFETY: as below; the child cannot be waited for, so it must not keep running.
                unsafe { libc::kill(-pid, libc::SIGKILL) };
                cleanup::unregister_child(pid);
                return Err(RunError::Spawn(e));
            }
        }
        let elapsed = start.elapsed();
        if elapsed >= timeout {
            if let Some(reprieve) = &reprieve {
                let held = Instant::now();
                let mut busy = (reprieve.busy)();
                if busy {
                    while busy && held.elapsed() < reprieve.grace && !has_exited(pid) {
                        std::thread::sleep(Duration::from_millis(10));
                        busy = (reprieve.busy)();
                    }
                    reprieved = Some((held.elapsed(), busy));
                }
            }
            // SAFETY: signalling the process group we created for this child.
            unsafe { libc::kill(-pid, libc::SIGKILL) };
            // The caller removes the child's files next: not before a create in flight has returned (a
            // second at most; a child stuck in the kernel is not waited for).
            cleanup::wait_until_ended(&[pid], Duration::from_secs(1));
            break None;
        }
        let left = timeout - elapsed;
        if stdout.is_none() {
            match out.recv_timeout(left.min(Duration::from_millis(50))) {
                Ok(text) => stdout = Some(text),
                Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {}
                // The reading thread is gone without an answer (it cannot panic): poll as below.
                Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => stdout = Some(String::new()),
            }
        } else {
            exit_watch.wait(left);
        }
    };
    drop(exit_watch);
    cleanup::unregister_child(pid);
    // After an exit the pipes close at once (a grandchild may keep them a moment); after a kill, what the
    // child printed before it was killed still counts (a probe prints its first answers early), unless
    // the child is stuck in the kernel and its pipes never close.
    let grace = if status.is_some() {
        Duration::from_secs(2)
    } else {
        Duration::from_millis(500)
    };
    let collect = |rx: std::sync::mpsc::Receiver<String>| rx.recv_timeout(grace).unwrap_or_default();
    let stdout = match stdout {
        Some(text) => text,
        None => collect(out),
    };
    Ok(ChildOutput {
        status,
        stdout,
        stderr: collect(err),
        elapsed: spawned.elapsed(),
        reprieved,
    })
}

/// A child's pidfd (Linux 5.3+): readable once the child has ended, so a thread can sleep until then
/// instead of looking every millisecond (each look after stdout closed cost up to a millisecond of the
/// run: the child's exit closes its pipes about a millisecond before it can be reaped, while its address
/// space is torn down).
struct ExitWatch(Option<std::os::fd::OwnedFd>);

impl ExitWatch {
    fn open(pid: i32) -> Self {
        use std::os::fd::FromRawFd;
        // SAFETY: pidfd_open(2) with no flags returns a new descriptor we own, or -1.
        let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) };
        // SAFETY: a valid descriptor returned just now and owned by nobody else.
        Self((fd >= 0).then(|| unsafe { std::os::fd::OwnedFd::from_raw_fd(fd as i32) }))
    }

    /// Waits until the child has ended or `at_most` has passed (`at_most`, capped at a millisecond, without
    /// a pidfd).
    fn wait(&self, at_most: Duration) {
        use std::os::fd::AsRawFd;
        let Some(fd) = &self.0 else {
            std::thread::sleep(at_most.min(Duration::from_millis(1)));
            return;
        };
        let mut ready = libc::pollfd {
            fd: fd.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        };
        // Rounded up, so a wait shorter than a millisecond does not become a busy loop.
        let ms = at_most.as_micros().div_ceil(1000).min(i32::MAX as u128) as i32;
        // SAFETY: one valid pollfd; poll only writes its revents.
        unsafe { libc::poll(&mut ready, 1, ms) };
    }
}

/// Whether the child `pid` has exited, without reaping it (its process group stays ours to kill).
fn has_exited(pid: i32) -> bool {
    // SAFETY: waitid with WNOWAIT only reads the child's state into a zeroed siginfo_t.
    unsafe {
        let mut info: libc::siginfo_t = std::mem::zeroed();
        libc::waitid(
            libc::P_PID,
            pid as libc::id_t,
            &mut info,
            libc::WEXITED | libc::WNOHANG | libc::WNOWAIT,
        ) == 0
            && info.si_pid() != 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_child_is_waited_for_until_it_ends_and_its_timeout_still_holds() {
        let mut quick = Command::new("/bin/sh");
        quick.args(["-c", "sleep 0.2; echo done"]);
        let t = Instant::now();
        let out = run(quick, Duration::from_secs(20)).unwrap();
        assert!(out.status.is_some_and(|s| s.success()) && out.stdout == "done\n", "{out:?}");
        assert!(t.elapsed() < Duration::from_secs(5), "{:?}", t.elapsed());
        let mut hung = Command::new("/bin/sh");
        hung.args(["-c", "sleep 30"]);
        let t = Instant::now();
        let out = run(hung, Duration::from_millis(300)).unwrap();
        assert!(out.status.is_none(), "killed at its timeout: {out:?}");
        assert!(
            t.elapsed() >= Duration::from_millis(300) && t.elapsed() < Duration::from_secs(10),
            "{:?}",
            t.elapsed()
        );
    }

    #[test]
    fn a_child_that_closed_its_output_is_waited_for_until_it_exits_and_killed_at_its_timeout() {
        // After stdout closed, the wait is on the child's exit (its pidfd): it still ends with the child,
        // with the child's own status, and still at the timeout when the child does not end.
        let mut quiet = Command::new("/bin/sh");
        quiet.args(["-c", "exec >&- 2>&-; sleep 0.3; exit 3"]);
        let out = run(quiet, Duration::from_secs(20)).unwrap();
        assert_eq!(out.status.and_then(|s| s.code()), Some(3), "{out:?}");
        let mut hung = Command::new("/bin/sh");
        hung.args(["-c", "exec >&- 2>&-; sleep 30"]);
        let t = Instant::now();
        let out = run(hung, Duration::from_millis(300)).unwrap();
        assert!(out.status.is_none(), "killed at its timeout: {out:?}");
        assert!(t.elapsed() < Duration::from_secs(10), "{:?}", t.elapsed());
    }

    #[test]
    fn the_kill_at_the_timeout_waits_while_the_reprieve_says_busy() {
        // The child says it is busy, sleeps past the timeout, says it is free and marks that in a file, then
        // sleeps on: the kill must come after the mark (without the reprieve it came before the mark).
        let dir = tempfile::tempdir().unwrap();
        let mark = dir.path().join("free");
        let mut cmd = Command::new("/bin/sh");
        cmd.args(["-c", "echo 'PHASE busy'; sleep 1; touch \"$1\"; echo 'PHASE free'; sleep 30", "sh"])
            .arg(&mark);
        let busy = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let seen = busy.clone();
        let follow: Follow = (
            "PHASE ",
            Box::new(move |phase: &str| seen.store(phase == "busy", std::sync::atomic::Ordering::SeqCst)),
        );
        let reprieve = Reprieve {
            busy: Box::new(move || busy.load(std::sync::atomic::Ordering::SeqCst)),
            grace: Duration::from_secs(60),
        };
        let out = run_following(cmd, Duration::from_millis(200), follow, reprieve).unwrap();
        assert!(out.status.is_none(), "killed at its timeout: {out:?}");
        assert!(mark.exists(), "killed while busy: {out:?}");
        assert!(out.reprieved.is_some_and(|(_, busy)| !busy), "{out:?}");
    }

    #[test]
    fn a_watched_line_arrives_while_the_child_still_runs() {
        // The child prints the watched line, then waits for its stdin: the feed answers only once the
        // watch has seen the line, so the line must come before the child ends.
        let mut cmd = Command::new("/bin/sh");
        cmd.args(["-c", "echo noise; echo 'MARK first'; echo 'MARK second'; read x; echo \"got $x\""]);
        let (tx, rx) = std::sync::mpsc::channel();
        let watch: Watch = ("MARK ", Box::new(move |line: &str| tx.send(line.to_string()).unwrap()));
        let feed = || {
            let line = rx.recv_timeout(Duration::from_secs(20)).expect("the watched line before the feed");
            format!("{line}\n").into_bytes()
        };
        let out = run_fed_watching(cmd, Duration::from_secs(20), feed, watch).unwrap();
        assert!(out.status.is_some_and(|s| s.success()), "{out:?}");
        assert!(out.stdout.ends_with("got first\n"), "{}", out.stdout);
    }
}
