//! Processes of the tests' runs, read from /proc and signalled through pidfds: a PID seen in /proc may be
//! freed and reused by another test's process before the signal is sent, and a pidfd checked by start time
//! reaches the process that was seen or nobody.

use std::time::{Duration, Instant};

/// The parent PID and state of a process, from /proc/PID/stat.
pub fn stat(pid: i32) -> Option<(i32, char)> {
    stat_with_start(pid).map(|(ppid, state, _)| (ppid, state))
}

/// The parent PID, state and start time (clock ticks after boot) of a process: with the PID, the start
/// time names one process even when the PID is reused.
pub fn stat_with_start(pid: i32) -> Option<(i32, char, u64)> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let mut rest = text[text.rfind(')')? + 1..].split_whitespace();
    let state = rest.next()?.chars().next()?;
    let ppid = rest.next()?.parse().ok()?;
    Some((ppid, state, rest.nth(17)?.parse().ok()?))
}

/// Whether a process runs (zombies count as ended: PID 1 here reaps late).
pub fn running(pid: i32) -> bool {
    stat(pid).is_some_and(|(_, state)| state != 'Z' && state != 'X')
}

/// Every PID in /proc.
pub fn all_pids() -> Vec<i32> {
    std::fs::read_dir("/proc")
        .unwrap()
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<i32>().ok())
        .collect()
}

/// The command line of a process, its arguments split at the NULs.
pub fn cmdline(pid: i32) -> Vec<String> {
    std::fs::read(format!("/proc/{pid}/cmdline"))
        .map(|c| {
            c.split(|b| *b == 0)
                .filter(|a| !a.is_empty())
                .map(|a| String::from_utf8_lossy(a).into_owned())
                .collect()
        })
        .unwrap_or_default()
}

/// A handle on one process (a pidfd) whose PID and parent were seen in /proc: signals sent through it
/// reach that process or nobody, never a process that got its PID since.
pub struct ProcessHandle(std::os::fd::OwnedFd);

impl ProcessHandle {
    pub fn open(pid: i32) -> Option<Self> {
        use std::os::fd::FromRawFd;
        let seen = stat_with_start(pid)?;
        // SAFETY: pidfd_open(2) with a PID and no flags; returns a new file descriptor or -1.
        let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) };
        if fd < 0 {
            return None;
        }
        // SAFETY: fd is a new descriptor that nothing else owns.
        let handle = Self(unsafe { std::os::fd::OwnedFd::from_raw_fd(fd as i32) });
        // The same parent and start time after the open: the pidfd names the process that was seen.
        (stat_with_start(pid).map(|(ppid, _, start)| (ppid, start)) == Some((seen.0, seen.2))).then_some(handle)
    }

    pub fn signal(&self, sig: i32) {
        use std::os::fd::AsRawFd;
        // SAFETY: pidfd_send_signal(2) on our pidfd, no siginfo, no flags.
        unsafe {
            libc::syscall(
                libc::SYS_pidfd_send_signal,
                self.0.as_raw_fd(),
                sig,
                std::ptr::null::<libc::siginfo_t>(),
                0,
            )
        };
    }
}

/// Waits until none of `pids` runs.
pub fn wait_all_gone(pids: &[i32]) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while pids.iter().any(|p| running(*p)) {
        assert!(Instant::now() < deadline, "processes {pids:?} still run 30 s after the kill");
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Waits until every thread of each of `pids` is stopped (or the process has ended): SIGSTOP takes
/// effect asynchronously, and a thread inside a system call (an unlink, say) finishes it first.
pub fn wait_stopped(pids: &[i32]) {
    let stopped = |pid: i32| {
        let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
            return true;
        };
        tasks.flatten().all(|t| {
            std::fs::read_to_string(t.path().join("stat")).map_or(true, |stat| {
                let state = stat[stat.rfind(')').map_or(0, |i| i + 1)..]
                    .split_whitespace()
                    .next()
                    .unwrap_or("X");
                matches!(state, "T" | "t" | "Z" | "X")
            })
        })
    };
    let deadline = Instant::now() + Duration::from_secs(30);
    while !pids.iter().all(|p| stopped(*p)) {
        assert!(Instant::now() < deadline, "processes {pids:?} not stopped 30 s after SIGSTOP");
        std::thread::sleep(Duration::from_millis(1));
    }
}
