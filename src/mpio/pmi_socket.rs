//! Keeps the launcher's PMI socket (`PMI_FD`) open until this task has been reaped, so that its exit
//! never makes MPICH's hydra end the other tasks of the job.
//!
//! Under `mpiexec.hydra`, `h5doctor mpio-test --python` inherits the PMI socket from hydra's proxy and
//! hands it to the interpreter, whose MPI_Init speaks PMI on it. When the interpreter dies without
//! MPI_Finalize (the two-MPIs case: Open MPI aborts inside MPICH's job), this h5doctor still holds the
//! socket, so the proxy sees nothing until the h5doctor task itself exits. Then two events reach the
//! proxy at once: the task's exit and the socket's close. If it reaps the task first, all is well; if it
//! reads the close first, it takes it for a PMI task that died without finalising and SIGKILLs every
//! task still running on the node (its auto-cleanup) — another rank waiting for rank 0's report, whose
//! signal then becomes mpiexec's exit code (9 instead of rank 0's verdict). Seen in CI under load:
//! strace showed `kill(-pgid, SIGKILL)` before the proxy's `wait4` of the exited rank 0.
//!
//! The fix is ordering, not protocol: a small child of this task (the holder) keeps a copy of the socket
//! and nothing else (stdio on /dev/null, every other descriptor closed), sleeps until this task exits
//! (the parent-death signal), waits until the launcher has reaped it (`kill(pid, 0)` fails with ESRCH),
//! then exits; only then does the socket close, for a task the proxy already knows has ended. The holder
//! makes only async-signal-safe calls after fork, and lives at most [`REAP_WAIT_MS`] past this task.

use std::collections::BTreeMap;

/// How long the holder waits, after this task exits, for the launcher to reap it.
const REAP_WAIT_MS: u32 = 10_000;

/// The signal the kernel sends the holder when this task exits (blocked, then waited for).
const PARENT_GONE: libc::c_int = libc::SIGUSR2;

/// Starts the holder when the launcher gave this task a PMI socket (`PMI_FD` names an open descriptor
/// above stdio). Call it on the thread that lives until the process exits (the parent-death signal
/// follows the forking thread), before any child inherits the socket. Whether a holder was started: then
/// this task's exit, whenever it comes, ends no other task.
pub fn hold_until_reaped(launcher_env: &BTreeMap<String, String>) -> bool {
    let Some(fd) = launcher_env.get("PMI_FD").and_then(|v| v.trim().parse::<libc::c_int>().ok()) else {
        return false;
    };
    // SAFETY: fcntl(F_GETFD) only asks whether the descriptor is open.
    if fd <= 2 || unsafe { libc::fcntl(fd, libc::F_GETFD) } == -1 {
        return false;
    }
    // SAFETY: after fork the child makes only async-signal-safe calls (sigprocmask, prctl, getppid,
    // sigtimedwait, kill, usleep, open, dup2, close, syscall(close_range), _exit) on values built before.
    unsafe {
        let task = libc::getpid();
        let mut gone: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut gone);
        libc::sigaddset(&mut gone, PARENT_GONE);
        match libc::fork() {
            0 => {}
            -1 => return false,
            _ => return true,
        }
        libc::sigprocmask(libc::SIG_BLOCK, &gone, std::ptr::null_mut());
        keep_only(fd);
        libc::prctl(libc::PR_SET_PDEATHSIG, PARENT_GONE as libc::c_ulong);
        if libc::getppid() == task {
            while libc::sigtimedwait(&gone, std::ptr::null_mut(), std::ptr::null()) == -1 {}
        }
        let mut waited = 0;
        while libc::kill(task, 0) == 0 && waited < REAP_WAIT_MS {
            libc::usleep(1000);
            waited += 1;
        }
        libc::_exit(0);
    }
}

/// Stdio onto /dev/null and every descriptor but `fd` closed: the holder keeps no pipe of the launcher's
/// (mpiexec waits for those) and no file of this task's open.
unsafe fn keep_only(fd: libc::c_int) {
    let null = libc::open(c"/dev/null".as_ptr(), libc::O_RDWR);
    if null >= 0 {
        for stdio in 0..=2 {
            libc::dup2(null, stdio);
        }
    }
    let first = 3 as libc::c_uint;
    let fd = fd as libc::c_uint;
    let closed = (fd == first || libc::syscall(libc::SYS_close_range, first, fd - 1, 0) == 0)
        && libc::syscall(libc::SYS_close_range, fd + 1, libc::c_uint::MAX, 0) == 0;
    if !closed {
        // Kernels before 5.9: close one by one, as far as the descriptor limit goes.
        let mut limit: libc::rlimit = std::mem::zeroed();
        let last = if libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) == 0 {
            limit.rlim_cur.min(1 << 20) as libc::c_uint
        } else {
            1024
        };
        for other in first..last {
            if other != fd {
                libc::close(other as libc::c_int);
            }
        }
    }
}
