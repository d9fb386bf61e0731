//! Nothing left behind, even after SIGKILL (issue 16). Slurm ends a job that overruns with SIGTERM and,
//! KillWait later, SIGKILL of every process. Three cases:
//! - only h5doctor is SIGKILLed: its probe children get SIGTERM (PR_SET_PDEATHSIG) and remove their files;
//! - every process of the run is SIGKILLed at once (stopped first, so none can react): the files stay, and
//!   the next run that probes the directory removes them by name from the dead run's pending record;
//! - the same at several moments of a real default run, then one more run: no probe file left.

mod common;

use common::{assert_no_leftovers, H5doctor};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

/// The parent PID and state of a process, from /proc/PID/stat.
fn stat(pid: i32) -> Option<(i32, char)> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let mut rest = text[text.rfind(')')? + 1..].split_whitespace();
    let state = rest.next()?.chars().next()?;
    Some((rest.next()?.parse().ok()?, state))
}

/// `root` and every process below it.
fn tree(root: i32) -> Vec<i32> {
    let all: Vec<(i32, i32)> = std::fs::read_dir("/proc")
        .unwrap()
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<i32>().ok())
        .filter_map(|pid| stat(pid).map(|(ppid, _)| (pid, ppid)))
        .collect();
    let mut out = vec![root];
    let mut i = 0;
    while i < out.len() {
        let parent = out[i];
        out.extend(all.iter().filter(|(_, pp)| *pp == parent).map(|(p, _)| *p));
        i += 1;
    }
    out
}

fn running(pid: i32) -> bool {
    stat(pid).is_some_and(|(_, state)| state != 'Z' && state != 'X')
}

/// Waits until none of `pids` runs (zombies count as ended).
fn wait_all_gone(pids: &[i32]) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while pids.iter().any(|p| running(*p)) {
        assert!(Instant::now() < deadline, "processes {pids:?} still run 30 s after the kill");
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// SIGKILLs the whole run at once, as Slurm's cgroup kill does: every process is stopped first (so no
/// handler and no death signal can run), then killed.
fn kill_everything(child: &mut Child) {
    let mut stopped: Vec<i32> = Vec::new();
    // Stop until the tree no longer grows (a process may fork while we look).
    loop {
        let now = tree(child.id() as i32);
        let new: Vec<i32> = now.iter().copied().filter(|p| !stopped.contains(p)).collect();
        if new.is_empty() {
            break;
        }
        for p in new {
            unsafe { libc::kill(p, libc::SIGSTOP) };
            stopped.push(p);
        }
    }
    for p in &stopped {
        unsafe { libc::kill(*p, libc::SIGKILL) };
    }
    child.wait().unwrap();
    wait_all_gone(&stopped);
}

/// Waits until no running process has `dir` on its command line (every probe child names its directory).
fn wait_until_no_process_names(dir: &Path) {
    let needle = dir.as_os_str().as_encoded_bytes().to_vec();
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let users: Vec<i32> = std::fs::read_dir("/proc")
            .unwrap()
            .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<i32>().ok())
            .filter(|pid| running(*pid))
            .filter(|pid| std::fs::read(format!("/proc/{pid}/cmdline")).is_ok_and(|c| c.windows(needle.len()).any(|w| w == needle)))
            .collect();
        if users.is_empty() {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "processes {users:?} still use {} 30 s after the kill",
            dir.display()
        );
        std::thread::sleep(Duration::from_millis(10));
    }
}

fn probe_files(dir: &Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with(".h5doctor-probe-"))
        .collect()
}

fn spawn(mut cmd: H5doctor) -> Child {
    cmd.command().stdout(Stdio::null()).stderr(Stdio::null()).spawn().unwrap()
}

/// A stand-in for h5doctor-probe that creates the files it is given and then hangs, ignoring SIGTERM: the
/// worst case, a probe stuck where no handler runs.
fn hanging_probe(dir: &Path) -> PathBuf {
    let path = dir.join("h5doctor-probe");
    std::fs::write(
        &path,
        "#!/bin/sh\ntrap '' TERM INT HUP\nshift\nfor f in \"$@\"; do : > \"$f\"; done\nwhile :; do sleep 1; done\n",
    )
    .unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    path
}

/// Waits for the hanging probe's file (an `.h5`; the lock probe's short-lived `.lock` files do not count).
fn wait_for_probe_file(dir: &Path) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while !probe_files(dir).iter().any(|n| n.ends_with(".h5")) {
        assert!(Instant::now() < deadline, "no probe file appeared in {}", dir.display());
        std::thread::sleep(Duration::from_millis(5));
    }
}

#[test]
fn files_of_a_run_killed_outright_are_removed_by_the_next_run_in_that_directory() {
    let dir = common::tempdir();
    let tools = common::tempdir();
    let probe = hanging_probe(tools.path());
    let mut child = spawn(common::check_dir(dir.path(), None, &["--only", "hdf5"]).env("H5DOCTOR_PROBE", &probe));
    wait_for_probe_file(dir.path());
    kill_everything(&mut child);
    let left = probe_files(dir.path());
    assert!(!left.is_empty(), "the killed run left nothing: the test proves nothing");

    // A run that probes another directory leaves them alone (it never looks where it does not probe)...
    let other = common::tempdir();
    let run = common::check_dir(other.path(), None, &["--only", "locking"]).run();
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(probe_files(dir.path()), left);
    // ...the next run in this directory removes them.
    let run = common::check_dir(dir.path(), None, &["--only", "locking"]).run();
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_no_leftovers(dir.path());
}

#[test]
fn a_run_whose_writer_still_runs_keeps_its_files() {
    // The pending record of a live run is not touched: its files are in use.
    let dir = common::tempdir();
    let tools = common::tempdir();
    let probe = hanging_probe(tools.path());
    let mut child = spawn(common::check_dir(dir.path(), None, &["--only", "hdf5", "--timeout", "60"]).env("H5DOCTOR_PROBE", &probe));
    wait_for_probe_file(dir.path());
    let before = probe_files(dir.path());
    let run = common::check_dir(dir.path(), None, &["--only", "locking"]).run();
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(probe_files(dir.path()), before, "a live run's probe files were removed");
    kill_everything(&mut child);
    let run = common::check_dir(dir.path(), None, &["--only", "locking"]).run();
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_no_leftovers(dir.path());
}

/// A default run: every group (locking, the HDF5 probe and its matrix, the Python import probe in the
/// directory, plugins, libraries, modules).
fn default_run(dir: &Path) -> H5doctor {
    H5doctor::new(&["check", "--json", "--no-default-dirs", "--dir", dir.to_str().unwrap()])
}

#[test]
fn sigkill_of_everything_at_several_moments_then_one_more_run_leaves_no_probe_file() {
    let dir = common::tempdir();
    let mut left_after_kills = 0;
    // Fixed moments, then the moments the first, third and tenth probe file appear.
    let moments = [20, 60, 120, 200, 350, 500, 800, 1200].map(Some).into_iter().chain([None; 3]);
    for (n, delay_ms) in moments.enumerate() {
        let mut child = spawn(default_run(dir.path()));
        match delay_ms {
            Some(ms) => std::thread::sleep(Duration::from_millis(ms)),
            None => {
                let wanted = [1, 3, 10][n % 3];
                let deadline = Instant::now() + Duration::from_secs(20);
                let mut seen = std::collections::BTreeSet::new();
                while seen.len() < wanted && Instant::now() < deadline && child.try_wait().unwrap().is_none() {
                    seen.extend(probe_files(dir.path()));
                }
            }
        }
        kill_everything(&mut child);
        left_after_kills += probe_files(dir.path()).len();
    }
    eprintln!("probe files on disk after the kills, before the next run (summed): {left_after_kills}");
    let run = common::check_dir(dir.path(), None, &["--only", "locking"]).run();
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_no_leftovers(dir.path());
}

#[test]
fn sigkill_of_h5doctor_alone_makes_its_probe_children_clean_up() {
    let dir = common::tempdir();
    for delay_ms in [50, 150, 300, 500, 800, 1200] {
        let mut child = spawn(default_run(dir.path()));
        std::thread::sleep(Duration::from_millis(delay_ms));
        unsafe { libc::kill(child.id() as i32, libc::SIGKILL) };
        child.wait().unwrap();
        wait_until_no_process_names(dir.path());
        assert_no_leftovers(dir.path());
    }
}
