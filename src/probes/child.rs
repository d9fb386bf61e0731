//! Running a probe child process with a timeout: its own process group (so a timeout or a signal kills
//! everything it started), stdout and stderr captured in full, never a hang.

use crate::cleanup;
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

fn drain(mut r: impl Read + Send + 'static) -> std::sync::mpsc::Receiver<String> {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut buf = Vec::new();
        let _ = r.read_to_end(&mut buf);
        let _ = tx.send(String::from_utf8_lossy(&buf).into_owned());
    });
    rx
}

/// Runs `cmd` to completion or until `timeout`, whichever comes first. On timeout the child's whole
/// process group is killed and never waited for: a process stuck in a dead mount may be unkillable, and
/// waiting for it (or for its pipes to close) would hang h5doctor too.
pub fn run(mut cmd: Command, timeout: Duration) -> std::io::Result<ChildOutput> {
    let start = Instant::now();
    cmd.stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0);
    let mut child = cmd.spawn()?;
    let pid = child.id() as i32;
    cleanup::register_child(pid);
    let out = drain(child.stdout.take().expect("piped"));
    let err = drain(child.stderr.take().expect("piped"));
    let status = loop {
        if let Some(s) = child.try_wait()? {
            break Some(s);
        }
        if start.elapsed() >= timeout {
            // SAFETY: signalling the process group we created for this child.
            unsafe { libc::kill(-pid, libc::SIGKILL) };
            break None;
        }
        std::thread::sleep(Duration::from_millis(2));
    };
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
    Ok(ChildOutput {
        status,
        stdout: collect(out),
        stderr: collect(err),
        elapsed: start.elapsed(),
    })
}
