//! Nothing left behind, even after SIGKILL (issue 16). Slurm ends a job that overruns with SIGTERM and,
//! KillWait later, SIGKILL of every process. Three cases:
//! - only h5doctor is SIGKILLed: its probe children get SIGTERM (PR_SET_PDEATHSIG) and remove their files;
//! - every process of the run is SIGKILLed at once (stopped first, so none can react): the files stay, and
//!   the next run that probes the directory removes them by name from the dead run's pending record;
//! - the same at several moments of a real default run, then one more run: no probe file left.
//!
//! The same for `mpio-test` under real mpirun: Open MPI's OMPIO side files (named from the job id, or read
//! back from rank 0's open descriptors) are in rank 0's record; tests/cluster.rs has the srun case.

mod common;

use common::process::{running, stat, wait_all_gone, ProcessHandle};
use common::{assert_no_leftovers, probe_files, wait_for_ompio_hang, H5doctor};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

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

/// Stops `child` and every process below it (until the tree no longer grows: a process may fork while
/// we look), so that none can react to what comes next.
fn stop_everything(child: &Child) -> Vec<(i32, ProcessHandle)> {
    stop_tree(child, true)
}

/// [`stop_everything`], `child` itself included or not.
fn stop_tree(child: &Child, with_root: bool) -> Vec<(i32, ProcessHandle)> {
    let mut stopped: Vec<(i32, ProcessHandle)> = Vec::new();
    let mut seen: Vec<i32> = if with_root { Vec::new() } else { vec![child.id() as i32] };
    loop {
        let now = tree(child.id() as i32);
        let new: Vec<i32> = now.into_iter().filter(|p| !seen.contains(p)).collect();
        if new.is_empty() {
            break;
        }
        for p in new {
            seen.push(p);
            // A process that ended meanwhile has nothing left to stop.
            if let Some(handle) = ProcessHandle::open(p) {
                handle.signal(libc::SIGSTOP);
                stopped.push((p, handle));
            }
        }
    }
    stopped
}

/// SIGKILLs the stopped processes of `child`'s run, given parents before children (as [`stop_tree`]
/// finds them), children first, and waits until they have ended.
///
/// Children first because of job control: a process that starts its children in process groups of their
/// own (mpirun does, for every rank; h5doctor for its probes) makes those groups orphaned when it dies,
/// and the kernel then sends SIGHUP and SIGCONT to every member of an orphaned group that has a stopped
/// process. A stopped rank killed after mpirun was woken in between and ran its SIGHUP handler, which
/// removed every probe file and the pending record before its own SIGKILL arrived (seen in CI: "no OMPIO
/// side file was left by the killed job: []"). Slurm's cgroup kill freezes, it does not stop: no
/// job-control signal reaches the job there. Killed children first, no group has a stopped member when
/// its parent dies.
fn kill_stopped(child: &mut Child, stopped: Vec<(i32, ProcessHandle)>) {
    for (_, handle) in stopped.iter().rev() {
        handle.signal(libc::SIGKILL);
    }
    child.wait().unwrap();
    let pids: Vec<i32> = stopped.iter().map(|(p, _)| *p).collect();
    wait_all_gone(&pids);
}

/// SIGKILLs the whole run at once, as Slurm's cgroup kill does: every process is stopped first (so no
/// handler and no death signal can run), then killed.
fn kill_everything(child: &mut Child) {
    let stopped = stop_everything(child);
    kill_stopped(child, stopped);
}

/// Waits until no running process has `dir` on its command line (every probe child names its directory).
/// A process inside execve or exit shows an empty command line for a moment, so "none" must hold on two
/// looks 50 ms apart.
fn wait_until_no_process_names(dir: &Path) {
    let needle = dir.as_os_str().as_encoded_bytes().to_vec();
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut clear_looks = 0;
    loop {
        let users: Vec<i32> = std::fs::read_dir("/proc")
            .unwrap()
            .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<i32>().ok())
            .filter(|pid| running(*pid))
            .filter(|pid| std::fs::read(format!("/proc/{pid}/cmdline")).is_ok_and(|c| c.windows(needle.len()).any(|w| w == needle)))
            .collect();
        if users.is_empty() {
            clear_looks += 1;
            if clear_looks == 2 {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
            continue;
        }
        clear_looks = 0;
        assert!(
            Instant::now() < deadline,
            "processes {users:?} still use {} 30 s after the kill",
            dir.display()
        );
        std::thread::sleep(Duration::from_millis(10));
    }
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

/// The pending records in an isolated record directory (the runs get `XDG_RUNTIME_DIR=runtime`).
fn pending_records(runtime: &Path) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(runtime.join("h5doctor")) else {
        return Vec::new();
    };
    entries
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "pending"))
        .collect()
}

/// Makes a record look `age` old (its run last wrote it then).
fn set_age(record: &Path, age: Duration) {
    let file = std::fs::File::options().write(true).open(record).unwrap();
    file.set_modified(std::time::SystemTime::now() - age).unwrap();
}

/// `check --json` of one group in one directory, without the default directories and interpreters.
fn only_group<'a>(group: &'a str, dir: &'a str) -> [&'a str; 8] {
    [
        "check",
        "--no-default-dirs",
        "--no-default-pythons",
        "--json",
        "--only",
        group,
        "--dir",
        dir,
    ]
}

/// h5doctor with `args`, as nobody (when this test runs as root) or as this user.
fn h5doctor_as(args: &[&str], as_nobody: bool) -> H5doctor {
    if as_nobody {
        H5doctor::as_nobody_if_root(args)
    } else {
        H5doctor::new(args)
    }
}

/// Kills outright a run whose (hanging) probe has created its file in `dir`; returns the dead run's
/// record, the only one in `runtime`.
fn killed_run_in(dir: &Path, runtime: &Path, as_nobody: bool) -> PathBuf {
    let tools = common::tempdir();
    std::fs::set_permissions(tools.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let probe = hanging_probe(tools.path());
    let args = only_group("hdf5", dir.to_str().unwrap());
    let cmd = h5doctor_as(&args, as_nobody);
    let mut child = spawn(cmd.env("H5DOCTOR_PROBE", &probe).env("XDG_RUNTIME_DIR", runtime));
    wait_for_probe_file(dir);
    kill_everything(&mut child);
    let records = pending_records(runtime);
    assert_eq!(records.len(), 1, "the killed run's record: {records:?}");
    records.into_iter().next().unwrap()
}

/// One `--only locking` run in `dir` with the isolated record directory.
fn run_elsewhere(dir: &Path, runtime: &Path, as_nobody: bool) {
    let args = only_group("locking", dir.to_str().unwrap());
    let cmd = h5doctor_as(&args, as_nobody);
    let run = cmd.env("XDG_RUNTIME_DIR", runtime).run();
    assert_eq!(run.code, 0, "{}", run.stderr);
}

#[test]
fn a_killed_runs_files_in_a_directory_never_probed_again_go_once_its_record_is_abandoned() {
    // A job killed outright in its scratch directory, which no run probes again: its record would list
    // the files forever. Once the record is abandoned (its run dead and silent for 10 minutes), a run
    // anywhere removes them, by name, if they still look like that run's files.
    let runtime = common::tempdir();
    let dir = common::tempdir();
    let record = killed_run_in(dir.path(), runtime.path(), false);
    let left = probe_files(dir.path());
    assert_eq!(left.len(), 1, "the hanging probe creates its one file: {left:?}");
    let created = dir.path().join(&left[0]);
    let run_pid = left[0]
        .trim_start_matches(".h5doctor-probe-")
        .split('-')
        .next()
        .unwrap()
        .to_string();
    // Two names that are not the dead run's files to remove: a listed name (the matrix's sec2 file) that is
    // now a symlink to a file of the user's, and a file named like one of that run's but never listed.
    let users = common::tempdir();
    let user_file = users.path().join("results.h5");
    std::fs::write(&user_file, b"the user's data").unwrap();
    let sec2 = dir.path().join(format!("{}-sec2.h5", left[0].trim_end_matches(".h5")));
    std::os::unix::fs::symlink(&user_file, &sec2).unwrap();
    let unlisted = dir.path().join(format!(".h5doctor-probe-{run_pid}-999-0.h5"));
    std::fs::write(&unlisted, b"not listed").unwrap();

    // While the record is recent, a run in another directory leaves it to the next run in its own.
    let other = common::tempdir();
    run_elsewhere(other.path(), runtime.path(), false);
    assert!(created.exists() && record.exists(), "a recent record was swept by a run elsewhere");

    set_age(&record, Duration::from_secs(11 * 60));
    run_elsewhere(other.path(), runtime.path(), false);
    assert!(
        !created.exists(),
        "the abandoned run's probe file {} is still there",
        created.display()
    );
    assert!(pending_records(runtime.path()).is_empty(), "the abandoned record is still there");
    assert!(
        std::fs::symlink_metadata(&sec2).unwrap().file_type().is_symlink(),
        "the symlink was removed"
    );
    assert_eq!(std::fs::read(&user_file).unwrap(), b"the user's data");
    assert_eq!(std::fs::read(&unlisted).unwrap(), b"not listed");
    std::fs::remove_file(&sec2).unwrap();
    std::fs::remove_file(&unlisted).unwrap();
    assert_no_leftovers(dir.path());
    assert_no_leftovers(other.path());
}

#[test]
fn a_record_whose_files_cannot_be_reached_is_forgotten_after_a_week() {
    // As a user (nobody), a killed run's directory becomes unreadable to that user: its files cannot be
    // removed (permission denied), so the abandoned record keeps them listed, until it is a week old.
    assert_eq!(
        unsafe { libc::geteuid() },
        0,
        "this test runs as root (it makes a directory unreadable to nobody)"
    );
    let runtime = common::tempdir();
    let dir = common::tempdir();
    for d in [runtime.path(), dir.path()] {
        std::os::unix::fs::chown(d, Some(65534), Some(65534)).unwrap();
    }
    let record = killed_run_in(dir.path(), runtime.path(), true);
    let left = probe_files(dir.path());
    assert_eq!(left.len(), 1, "{left:?}");
    std::os::unix::fs::chown(dir.path(), Some(0), Some(0)).unwrap();
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o700)).unwrap();
    let other = common::tempdir();
    std::os::unix::fs::chown(other.path(), Some(65534), Some(65534)).unwrap();

    set_age(&record, Duration::from_secs(11 * 60));
    let listed_before = std::fs::read(&record).unwrap();
    run_elsewhere(other.path(), runtime.path(), true);
    assert_eq!(
        std::fs::read(&record).ok(),
        Some(listed_before),
        "an unreachable file's entry was dropped"
    );
    assert_eq!(probe_files(dir.path()), left);

    set_age(&record, Duration::from_secs(8 * 24 * 3600));
    run_elsewhere(other.path(), runtime.path(), true);
    assert!(pending_records(runtime.path()).is_empty(), "the week-old record is still there");
    // Its file was not reachable, so it is still there: never touched by a guess.
    assert_eq!(probe_files(dir.path()), left);
    std::fs::remove_file(dir.path().join(&left[0])).unwrap();
}

/// A handler standing in for h5doctor's own (signal_hook's): SIGTERM is caught, not fatal.
extern "C" fn caught(_: libc::c_int) {}

#[test]
fn a_child_whose_parent_dies_before_its_exec_still_gets_the_death_signal() {
    // h5doctor catches SIGTERM (to clean up), and a forked child keeps that disposition until it execs. A
    // death signal arriving in that window (h5doctor SIGKILLed just as it starts a probe) was swallowed by
    // the inherited handler; after the exec the probe ran on as an orphan that nothing would stop. Widened
    // here by a pre-exec pause: a helper process that catches SIGTERM starts `sleep 30` through
    // die_with_parent and dies while the child is still paused before its exec.
    use std::os::unix::process::CommandExt;
    // Finds the child among all processes: its environment holds this marker.
    let marker = format!("h5doctor-swallowed-term-{}", std::process::id());
    // SAFETY: the forked helper only sets a handler, spawns one command and _exits.
    let helper = unsafe { libc::fork() };
    if helper == 0 {
        unsafe { libc::signal(libc::SIGTERM, caught as *const () as libc::sighandler_t) };
        let mut cmd = std::process::Command::new("sleep");
        cmd.arg("30")
            .env("H5DOCTOR_TEST_MARKER", &marker)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        h5doctor::probes::child::die_with_parent(&mut cmd);
        unsafe {
            cmd.pre_exec(|| {
                libc::usleep(400_000);
                Ok(())
            })
        };
        // spawn() returns only once the child has exec'd: the helper is killed inside it, as h5doctor is
        // when SIGKILLed while starting a probe (SIGALRM's default action ends it; alarms are not inherited).
        let in_100_ms = libc::itimerval {
            it_interval: libc::timeval { tv_sec: 0, tv_usec: 0 },
            it_value: libc::timeval {
                tv_sec: 0,
                tv_usec: 100_000,
            },
        };
        unsafe { libc::setitimer(libc::ITIMER_REAL, &in_100_ms, std::ptr::null_mut()) };
        let _ = cmd.spawn();
        // Not reached: SIGALRM ends the helper while the child pauses before its exec.
        unsafe { libc::_exit(1) };
    }
    let mut status = 0;
    unsafe { libc::waitpid(helper, &mut status, 0) };
    assert!(
        libc::WIFSIGNALED(status) && libc::WTERMSIG(status) == libc::SIGALRM,
        "the helper was to die inside spawn(), by SIGALRM (status {status:#x})"
    );
    // Well after the pause and the exec: the child must have ended on the death signal, not run `sleep 30`.
    std::thread::sleep(Duration::from_millis(1500));
    let child = std::fs::read_dir("/proc")
        .unwrap()
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<i32>().ok())
        .filter(|pid| running(*pid))
        .find(|pid| std::fs::read_to_string(format!("/proc/{pid}/environ")).is_ok_and(|e| e.contains(&marker)));
    if let Some(pid) = child {
        unsafe { libc::kill(pid, libc::SIGKILL) };
    }
    assert_eq!(
        child, None,
        "the child outlived its parent: the death signal was swallowed before its exec"
    );
}

#[test]
fn a_killed_mpio_tests_ompio_side_files_are_removed_by_the_next_run_in_that_directory() {
    // Open MPI's OMPIO makes side files next to the test file (NAME.locktest.RANK, NAME-JOBID-PID.lock,
    // NAME.data.RANK, NAME.metadata.RANK) and removes them at MPI_File_close. Here the ranks hang in
    // MPI_File_open as they do when fcntl locks fail on some nodes only: locks fail on rank 1 only, so
    // OMPIO's lockedfile component is chosen on rank 0 and individual on rank 1 (on one node OMPIO would
    // prefer its shared-memory component, so the choice is limited to those two; the check that stops
    // before the open is switched off). The whole job is SIGKILLed, and the next run in the directory
    // removes every side file by name from the dead rank 0's pending record.
    common::bin("h5doctor-probe-mpio");
    let runtime = common::tempdir();
    let dir = common::tempdir();
    // The job's stderr (the ranks' H5DOCTOR_MPIO_DEBUG lines and Open MPI's messages) goes to a file kept
    // for the failure messages, with the directory as seen at each step.
    let logs = common::tempdir();
    let stderr_path = logs.path().join("job.stderr");
    let h5doctor = env!("CARGO_BIN_EXE_h5doctor");
    let test = format!(
        "{h5doctor} mpio-test --dir {} --mib-per-rank 1 --timeout 120 --json",
        dir.path().display()
    );
    let per_rank = format!(
        "if [ \"$OMPI_COMM_WORLD_RANK\" = 1 ]; then exec {} --fcntl 37 -- {test}; else exec {test}; fi",
        common::bin("inject-errno").display()
    );
    let mut cmd = std::process::Command::new("mpirun");
    cmd.args(["--allow-run-as-root", "--oversubscribe", "-n", "2", "sh", "-c", &per_rank])
        .env("XDG_RUNTIME_DIR", runtime.path())
        .env("OMPI_MCA_io", "ompio")
        .env("OMPI_MCA_sharedfp", "lockedfile,individual")
        .env("H5DOCTOR_MPIO_NO_OMPIO_CHECK", "1")
        .env("H5DOCTOR_MPIO_DEBUG", "1")
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&stderr_path).unwrap());
    let mut job = cmd.spawn().expect("mpirun (openmpi-bin) runs");
    let mut steps: Vec<String> = Vec::new();
    let look = |step: &str, steps: &mut Vec<String>| {
        let names = probe_files(dir.path());
        steps.push(format!("{step}: {names:?}, records {:?}", recorded_names(runtime.path())));
        names
    };
    // The hang: rank 0's lock file and rank 1's data and metadata files are there.
    let side = |names: &[String]| names.iter().filter(|n| !n.ends_with(".h5") && !n.ends_with(".marker")).count();
    let seen = wait_for_ompio_hang(dir.path(), &mut job, Duration::from_secs(90));
    steps.push(format!("hang seen: {seen:?}"));
    let stopped = stop_everything(&job);
    common::process::wait_stopped(&stopped.iter().map(|(p, _)| *p).collect::<Vec<_>>());
    look("every process stopped", &mut steps);
    kill_stopped(&mut job, stopped);
    let left = look("every process killed", &mut steps);
    let evidence = |steps: &[String]| {
        format!(
            "\n{}\njob's stderr:\n{}",
            steps.join("\n"),
            std::fs::read_to_string(&stderr_path).unwrap_or_default()
        )
    };
    assert!(
        side(&left) > 0,
        "no OMPIO side file was left by the killed job: {left:?}{}",
        evidence(&steps)
    );
    eprintln!("left by the killed job: {left:?}");

    let run = common::check_dir(dir.path(), None, &["--only", "locking"])
        .env("XDG_RUNTIME_DIR", runtime.path())
        .run();
    assert_eq!(run.code, 0, "{}", run.stderr);
    look("after the next run in the directory", &mut steps);
    let names: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert!(
        names.is_empty(),
        "the next run left the killed job's files in {}: {names:?}{}",
        dir.path().display(),
        evidence(&steps)
    );
    assert!(
        pending_records(runtime.path()).is_empty(),
        "the dead rank 0's record is still there{}",
        evidence(&steps)
    );
}

/// The file names the pending records in `runtime` list (their `file HEX` lines).
fn recorded_names(runtime: &Path) -> Vec<String> {
    let unhex = |hex: &str| -> Option<String> {
        let bytes: Option<Vec<u8>> = (0..hex.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(hex.get(i..i + 2)?, 16).ok())
            .collect();
        let path = PathBuf::from(String::from_utf8(bytes?).ok()?);
        Some(path.file_name()?.to_string_lossy().into_owned())
    };
    pending_records(runtime)
        .iter()
        .filter_map(|r| std::fs::read_to_string(r).ok())
        .flat_map(|text| {
            text.lines()
                .filter_map(|l| l.strip_prefix("file ").and_then(unhex))
                .collect::<Vec<_>>()
        })
        .collect()
}

#[test]
fn an_mpio_tests_lock_file_whose_job_id_it_cannot_know_is_read_back_while_open_and_removed_after_a_kill() {
    // A launcher whose job id h5doctor cannot know from the environment (here mpirun with
    // OMPI_MCA_ess_base_jobid unset in the ranks: Open MPI then takes its job id from PMIx alone): rank 0
    // reads the lock file's real name back from its open descriptors once MPI_File_open returns, before
    // the timed work, and records it. The job runs normally (OMPIO's lockedfile component on both ranks)
    // and is SIGKILLed at a moment its lock file exists; the next run in the directory removes it.
    common::bin("h5doctor-probe-mpio");
    let runtime = common::tempdir();
    let dir = common::tempdir();
    let test = format!(
        "unset OMPI_MCA_ess_base_jobid; exec {} mpio-test --dir {} --mib-per-rank 16 --timeout 120 --json",
        env!("CARGO_BIN_EXE_h5doctor"),
        dir.path().display()
    );
    let mut cmd = std::process::Command::new("mpirun");
    cmd.args(["--allow-run-as-root", "--oversubscribe", "-n", "2", "sh", "-c", &test])
        .env("XDG_RUNTIME_DIR", runtime.path())
        .env("OMPI_MCA_io", "ompio")
        .env("OMPI_MCA_sharedfp", "lockedfile")
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    let mut job = cmd.spawn().expect("mpirun (openmpi-bin) runs");
    let lock_of = |names: &[String]| names.iter().find(|n| n.ends_with(".lock")).cloned();
    // The lock file exists only while the test file is open (the run opens it several times): stop the
    // job when it is there, and let it go on if it was removed before the stop.
    // Rank 0 records the name just after MPI_File_open created the file: a stop between the two is not
    // the moment looked for either. Without the read-back, the record never names the lock file.
    let deadline = Instant::now() + Duration::from_secs(90);
    let (lock, stopped) = loop {
        assert!(
            Instant::now() < deadline,
            "never stopped the job while its lock file existed and was recorded (recorded: {:?})",
            recorded_names(runtime.path())
        );
        assert!(
            job.try_wait().unwrap().is_none(),
            "the job ended before it was stopped with its lock file there"
        );
        let Some(lock) = lock_of(&probe_files(dir.path())) else {
            std::thread::sleep(Duration::from_millis(1));
            continue;
        };
        // The ranks only: mpirun forwards a SIGCONT it gets to them, which could wake them again just
        // after they were seen stopped.
        let stopped = stop_tree(&job, false);
        common::process::wait_stopped(&stopped.iter().map(|(p, _)| *p).collect::<Vec<_>>());
        if probe_files(dir.path()).contains(&lock) && recorded_names(runtime.path()).contains(&lock) {
            break (lock, stopped);
        }
        for (_, handle) in &stopped {
            handle.signal(libc::SIGCONT);
        }
    };
    // mpirun (not stopped) and its stopped ranks, parents first: the ranks are killed first.
    let mut mpirun_and_ranks: Vec<(i32, ProcessHandle)> = ProcessHandle::open(job.id() as i32)
        .map(|h| (job.id() as i32, h))
        .into_iter()
        .collect();
    mpirun_and_ranks.extend(stopped);
    kill_stopped(&mut job, mpirun_and_ranks);
    let left = probe_files(dir.path());
    eprintln!("left by the killed job: {left:?}");
    assert!(left.contains(&lock), "the killed job did not leave its lock file: {left:?}");

    let run = common::check_dir(dir.path(), None, &["--only", "locking"])
        .env("XDG_RUNTIME_DIR", runtime.path())
        .run();
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_no_leftovers(dir.path());
    assert!(
        pending_records(runtime.path()).is_empty(),
        "the dead rank 0's record is still there"
    );
}

#[test]
fn a_finished_mpio_test_leaves_neither_files_nor_a_pending_record() {
    // The MPI probe ends in exit(), which runs no destructors: its side-file guards were never dropped, and
    // every normal run left its record behind, listing files long gone.
    common::bin("h5doctor-probe-mpio");
    let runtime = common::tempdir();
    let dir = common::tempdir();
    let run = std::process::Command::new("mpirun")
        .args(["--allow-run-as-root", "--oversubscribe", "-n", "2"])
        .arg(env!("CARGO_BIN_EXE_h5doctor"))
        .args(["mpio-test", "--dir", dir.path().to_str().unwrap(), "--mib-per-rank", "1", "--json"])
        .env("XDG_RUNTIME_DIR", runtime.path())
        .env("OMPI_MCA_io", "ompio")
        .env("OMPI_MCA_sharedfp", "lockedfile")
        .output()
        .expect("mpirun (openmpi-bin) runs");
    let report: serde_json::Value =
        serde_json::from_slice(&run.stdout).unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&run.stderr)));
    assert_eq!(report["facts"]["mpi"]["passed"], true, "{report:#}");
    assert_no_leftovers(dir.path());
    assert_eq!(
        pending_records(runtime.path()),
        Vec::<PathBuf>::new(),
        "a finished run left its record"
    );
}
