//! `h5doctor check FILE.h5`: real HDF5 files made broken the way jobs break them (a writer SIGKILLed with
//! the file open, a truncated copy, a file held by a live process, a filter whose plugin is absent), a
//! healthy file, and bad input. Every test also proves the examined file was not modified.

mod common;
use common::*;
use serde_json::Value;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

/// `h5doctor check --json FILE...`.
fn check_files(files: &[&Path]) -> H5doctor {
    let mut args = vec!["check", "--json"];
    args.extend(files.iter().map(|f| f.to_str().unwrap()));
    H5doctor::new(&args)
}

/// A healthy file written and closed by Debian's h5py (HDF5 1.10.8), with `libver` as given.
fn healthy_file(dir: &Path, name: &str, libver: &str) -> PathBuf {
    let path = dir.join(name);
    debian_python(
        "import sys, h5py, numpy as np\n\
         with h5py.File(sys.argv[1], 'w', libver=sys.argv[2]) as f:\n\
         \x20   f.create_dataset('grid/t', data=np.arange(20000.0), chunks=(1000,), compression='gzip')\n\
         \x20   f.attrs['note'] = 'healthy'\n",
        &[path.to_str().unwrap(), libver],
    );
    path
}

/// A Python process that has `path` open for writing (HDF5's exclusive flock) until it is killed.
struct Writer(Child);

impl Writer {
    fn start(path: &Path, libver: &str) -> Self {
        Self::start_with_env(path, libver, &[])
    }

    fn start_with_env(path: &Path, libver: &str, env: &[(&str, &str)]) -> Self {
        let mut child = Command::new("/usr/bin/python3")
            .arg("-c")
            .arg(
                "import sys, time, h5py, numpy as np\n\
                 f = h5py.File(sys.argv[1], 'w', libver=sys.argv[2])\n\
                 f.create_dataset('d', data=np.arange(5000))\n\
                 f.flush()\n\
                 print('ready', flush=True)\n\
                 time.sleep(120)\n",
            )
            .arg(path)
            .arg(libver)
            .envs(env.iter().copied())
            .stdout(Stdio::piped())
            .spawn()
            .expect("/usr/bin/python3 runs");
        let mut line = String::new();
        BufReader::new(child.stdout.as_mut().unwrap()).read_line(&mut line).unwrap();
        assert_eq!(line.trim(), "ready", "the writer did not start");
        Writer(child)
    }

    fn pid(&self) -> u32 {
        self.0.id()
    }

    /// SIGKILL, the way the scheduler ends a job at its walltime: no chance to close the file.
    fn kill(mut self) {
        self.0.kill().unwrap();
        self.0.wait().unwrap();
    }
}

impl Drop for Writer {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn a_writer_killed_with_the_file_open_leaves_a_stale_write_flag_and_h5clear_fixes_it() {
    let dir = tempdir();
    let path = dir.path().join("run.h5");
    Writer::start(&path, "latest").kill();
    let before = FileSnapshot::take(&path);
    let run = check_files(&[&path]).run();
    assert_eq!(run.code, 1, "{}{}", run.stdout, run.stderr);
    let report = run.json();
    assert_eq!(slugs(&report), ["file-stale-write-flag"], "{report:#}");
    let f = finding(&report, "file-stale-write-flag");
    assert_eq!(f["id"], "H5D204");
    assert_eq!(f["severity"], "error");
    assert_eq!(fix_texts(f)[0], format!("h5clear -s {}", path.display()));
    assert_eq!(evidence(f, "file.superblock_version"), 3);
    assert_eq!(evidence(f, "file.status_flags"), 1, "bit 0: open for write");
    assert!(
        evidence(f, "file.hdf5_error")
            .as_str()
            .unwrap()
            .contains("file is already open for write"),
        "HDF5 itself refuses the file: {f:#}"
    );
    before.assert_unchanged(&path);

    // The fix, applied as the report says, makes the file open again.
    let status = Command::new("h5clear").args(["-s", path.to_str().unwrap()]).status().unwrap();
    assert!(status.success());
    let run = check_files(&[&path]).run();
    assert_eq!(run.code, 0, "{}", run.stdout);
    assert!(slugs(&run.json()).is_empty(), "{}", run.stdout);
}

#[test]
fn a_killed_writer_of_a_default_format_file_is_not_flagged_because_hdf5_ignores_the_flag_there() {
    // HDF5 1.10 writes the flag into superblock version 0 too, but checks it only in version 3.
    let dir = tempdir();
    let path = dir.path().join("old-format.h5");
    Writer::start(&path, "earliest").kill();
    let run = check_files(&[&path]).run();
    let report = run.json();
    assert_eq!(report["facts"]["files"][0]["superblock"]["version"], 0);
    assert_eq!(report["facts"]["files"][0]["superblock"]["status_flags"], 1);
    assert!(!slugs(&report).contains(&"file-stale-write-flag".to_string()), "{report:#}");
    assert_eq!(report["facts"]["files"][0]["hdf5"]["open"]["ok"], true, "HDF5 opens it");
}

#[test]
fn a_truncated_copy_is_file_truncated_with_the_missing_bytes() {
    let dir = tempdir();
    let good = healthy_file(dir.path(), "good.h5", "earliest");
    let size = std::fs::metadata(&good).unwrap().len();
    let cut = dir.path().join("cut.h5");
    std::fs::copy(&good, &cut).unwrap();
    let status = Command::new("truncate").args(["-s", "6000"]).arg(&cut).status().unwrap();
    assert!(status.success());
    let before = FileSnapshot::take(&cut);
    let run = check_files(&[&cut]).run();
    assert_eq!(run.code, 1);
    let report = run.json();
    assert_eq!(slugs(&report), ["file-truncated"], "{report:#}");
    let f = finding(&report, "file-truncated");
    assert_eq!(f["id"], "H5D205");
    assert_eq!(
        f["title"],
        format!(
            "{} is truncated: 6000 of {size} bytes: the last {} bytes are missing",
            cut.display(),
            size - 6000
        )
    );
    assert_eq!(fix_texts(f)[0], format!("sha256sum {}", cut.display()));
    assert!(
        evidence(f, "file.hdf5_error")
            .as_str()
            .unwrap()
            .contains("truncated file: eof = 6000"),
        "{f:#}"
    );
    before.assert_unchanged(&cut);
}

#[test]
fn a_file_held_by_a_live_process_is_lock_held_naming_its_pid_and_the_risk_of_disabling_locks() {
    let dir = tempdir();
    let path = dir.path().join("live.h5");
    let writer = Writer::start(&path, "latest");
    let run = check_files(&[&path]).run();
    assert_eq!(run.code, 1, "{}{}", run.stdout, run.stderr);
    let report = run.json();
    // The superblock says "open for write" too, but the writer is alive: not a stale flag.
    assert_eq!(slugs(&report), ["lock-held"], "{report:#}");
    let f = finding(&report, "lock-held");
    assert_eq!(f["id"], "H5D106");
    assert_eq!(f["severity"], "error", "a writer's lock blocks every open");
    assert_eq!(
        f["title"],
        format!("{} is held open by PID {} (python3) on this node", path.display(), writer.pid())
    );
    assert_eq!(
        fix_texts(f)[0],
        format!(
            "Close the file in PID {} (python3): f.close() in h5py, H5Fclose() in C, or let that job finish",
            writer.pid()
        )
    );
    let unsafe_fix = f["fixes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|x| x["text"] == "export HDF5_USE_FILE_LOCKING=FALSE")
        .expect("the locking switch is offered only with its risk");
    assert_eq!(unsafe_fix["safety"], "unsafe");
    assert!(unsafe_fix["unsafe_reason"].as_str().unwrap().contains("risks corrupting the file"));
    assert!(evidence(f, "file.lock_holders")[0]
        .as_str()
        .unwrap()
        .contains("holds a FLOCK WRITE lock"));

    let human = H5doctor::new(&["check", path.to_str().unwrap()]).run();
    assert_eq!(human.code, 1);
    assert!(human.stdout.contains("✗ error H5D106 lock-held"), "{}", human.stdout);
    assert!(
        human.stdout.contains("fix (env, UNSAFE): export HDF5_USE_FILE_LOCKING=FALSE"),
        "{}",
        human.stdout
    );
    assert!(
        human.stdout.contains("unsafe: Another process has this file open right now"),
        "{}",
        human.stdout
    );
    writer.kill();
}

/// A venv under target/ with the h5py and hdf5plugin wheels (PyPI), made once and reused.
fn hdf5plugin_venv() -> PathBuf {
    const PINS: &[&str] = &["h5py==3.16.0", "hdf5plugin==7.1.0"];
    let target = Path::new(env!("CARGO_BIN_EXE_h5doctor")).parent().unwrap().parent().unwrap();
    let venvs = target.join("test-venvs");
    std::fs::create_dir_all(&venvs).unwrap();
    let venv = venvs.join("hdf5plugin");
    let stamp = venv.join(".h5doctor-ready");
    // One test process at a time builds it; the others wait on the lock and find it ready.
    let lock = std::fs::File::create(venvs.join(".hdf5plugin.lock")).unwrap();
    unsafe { libc::flock(std::os::fd::AsRawFd::as_raw_fd(&lock), libc::LOCK_EX) };
    if std::fs::read_to_string(&stamp).ok().as_deref() != Some(&PINS.join(" ")) {
        let _ = std::fs::remove_dir_all(&venv);
        let ok = Command::new("/usr/bin/python3").args(["-m", "venv"]).arg(&venv).status().unwrap();
        assert!(ok.success(), "python3 -m venv failed (python3-venv is in scripts/dev.sh)");
        let out = Command::new(venv.join("bin/pip"))
            .args(["install", "--disable-pip-version-check", "-q"])
            .args(PINS)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "pip install {PINS:?} failed (PyPI must be reachable):\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        std::fs::write(&stamp, PINS.join(" ")).unwrap();
    }
    venv
}

/// A file whose dataset uses the Zstandard filter (32015) from the hdf5plugin wheel, and hdf5plugin's
/// plugin directory.
fn zstd_file(dir: &Path) -> (PathBuf, String) {
    let venv = hdf5plugin_venv();
    let path = dir.join("zstd.h5");
    let out = Command::new(venv.join("bin/python"))
        .arg("-c")
        .arg(
            "import sys, h5py, hdf5plugin, numpy as np\n\
             with h5py.File(sys.argv[1], 'w') as f:\n\
             \x20   f.create_dataset('images/raw', data=np.arange(50000), chunks=(5000,), **hdf5plugin.Zstd())\n\
             print(hdf5plugin.PLUGIN_PATH)\n",
        )
        .arg(&path)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    (path, String::from_utf8_lossy(&out.stdout).trim().to_string())
}

#[test]
fn a_file_needing_an_absent_filter_plugin_names_the_filter_and_hdf5plugin_and_the_fix_works() {
    let dir = tempdir();
    let (path, plugin_dir) = zstd_file(dir.path());
    let before = FileSnapshot::take(&path);
    let run = check_files(&[&path]).run();
    assert_eq!(run.code, 1, "{}{}", run.stdout, run.stderr);
    let report = run.json();
    assert_eq!(slugs(&report), ["plugin-filter-missing"], "{report:#}");
    let f = finding(&report, "plugin-filter-missing");
    assert_eq!(f["id"], "H5D601");
    assert_eq!(
        f["title"],
        format!("{} needs HDF5 filter(s) 32015 that this HDF5 cannot find", path.display())
    );
    let missing = evidence(f, "file.missing_filters")[0].as_str().unwrap();
    assert!(missing.starts_with("32015 Zstandard (provided by hdf5plugin"), "{missing}");
    assert!(missing.ends_with("needed by 1 dataset(s) such as /images/raw"), "{missing}");
    assert_eq!(fix_texts(f)[0], "pip install hdf5plugin");
    assert_eq!(
        fix_texts(f)[1],
        "export HDF5_PLUGIN_PATH=$(python3 -c 'import hdf5plugin; print(hdf5plugin.PLUGIN_PATH)')"
    );

    // The fix: HDF5_PLUGIN_PATH at hdf5plugin's plugins; the same HDF5 then finds the filter.
    let fixed = check_files(&[&path]).env("HDF5_PLUGIN_PATH", &plugin_dir).run();
    assert_eq!(fixed.code, 0, "{}", fixed.stdout);
    let report = fixed.json();
    assert!(slugs(&report).is_empty(), "{report:#}");
    assert_eq!(report["facts"]["files"][0]["hdf5"]["filters"][0]["available"], true);
    // The plugins group loaded every plugin of the directory and read what it provides.
    let plugin_dir_facts = &report["facts"]["plugins"]["dirs"][0];
    let zstd = plugin_dir_facts["plugins"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["file"].as_str().unwrap().ends_with("libh5zstd.so"))
        .expect("libh5zstd.so is listed");
    assert_eq!(zstd["load"]["filter_id"], 32015);
    assert_eq!(zstd["needs_hdf5"], serde_json::json!([]), "hdf5plugin's plugins link no libhdf5");
    before.assert_unchanged(&path);
}

#[test]
fn a_missing_directory_first_in_hdf5_plugin_path_hides_the_plugins_after_it_in_1_10_only() {
    // HDF5 1.10 stops its plugin search at the first directory it cannot open; 1.14 and 2.x go on.
    let dir = tempdir();
    let (path, plugin_dir) = zstd_file(dir.path());
    let missing = dir.path().join("no-such-plugins");
    let value = format!("{}:{plugin_dir}", missing.display());
    let run = check_files(&[&path]).env("HDF5_PLUGIN_PATH", &value).run();
    let report = run.json();
    // Measured: HDF5 1.14.5 and 2.2.0 skip the missing directory and load the plugin after it; there the
    // missing directory is a warning that says so, and the file reads (exit 0).
    let version = hdf5_version_under_test();
    if version.starts_with("1.14.") || version.starts_with("2.") {
        assert_eq!(slugs(&report), ["plugin-dir-missing"], "{version}: {report:#}");
        let f = finding(&report, "plugin-dir-missing");
        assert_eq!(f["severity"], "warning", "{version}: {f:#}");
        assert_eq!(
            evidence(f, "plugin_dir.missing_effect"),
            &format!("HDF5 {version} skips a directory it cannot open and searches the ones after it")
        );
        assert_eq!(fix_texts(f), [format!("export HDF5_PLUGIN_PATH={plugin_dir}")]);
        assert_eq!(run.code, 0, "{version}: {}", run.stdout);
        return;
    }
    assert_eq!(run.code, 1);
    assert_eq!(slugs(&report), ["plugin-filter-missing", "plugin-dir-missing"], "{report:#}");
    let f = finding(&report, "plugin-dir-missing");
    assert_eq!(f["severity"], "error", "{f:#}");
    assert_eq!(
        evidence(f, "plugin_dir.missing_effect"),
        &format!("HDF5 {version} stops its plugin search at a directory it cannot open: plugins in the directories after it are not found")
    );
    assert_eq!(fix_texts(f), [format!("export HDF5_PLUGIN_PATH={plugin_dir}")]);
    let errors = evidence(finding(&report, "plugin-filter-missing"), "file.filter_errors");
    assert!(
        errors[0]
            .as_str()
            .unwrap()
            .contains(&format!("can't open directory: {}", missing.display())),
        "{errors}"
    );
}

#[test]
fn a_healthy_file_gives_no_finding() {
    let dir = tempdir();
    let path = healthy_file(dir.path(), "healthy.h5", "latest");
    let before = FileSnapshot::take(&path);
    let run = check_files(&[&path]).run();
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    let report = run.json();
    assert!(slugs(&report).is_empty(), "{report:#}");
    assert!(report["inconclusive"].as_array().unwrap().is_empty(), "{report:#}");
    let facts = &report["facts"]["files"][0];
    assert_eq!(facts["format"], "hdf5");
    assert_eq!(facts["superblock"]["version"], 3);
    assert_eq!(facts["superblock"]["status_flags"], 0, "closed cleanly");
    assert_eq!(facts["superblock"]["eof_address"], facts["size"]);
    assert_eq!(facts["hdf5"]["datasets"], 1);
    assert_eq!(facts["hdf5"]["filters"][0]["id"], 1, "gzip is deflate, built in");
    assert_eq!(report["facts"]["groups"], serde_json::json!(["hdf5", "plugins", "file"]));
    let human = H5doctor::new(&["check", path.to_str().unwrap()]).run();
    assert!(
        human
            .stdout
            .contains(&format!("✓ file      {} (HDF5, superblock v3,", path.display())),
        "{}",
        human.stdout
    );
    assert!(human.stdout.contains("1 datasets, filters 1)"), "{}", human.stdout);
    before.assert_unchanged(&path);
}

#[test]
fn a_user_block_moves_the_superblock_and_is_still_read() {
    let dir = tempdir();
    let path = dir.path().join("ub.h5");
    debian_python(
        "import sys, h5py\nwith h5py.File(sys.argv[1], 'w', userblock_size=1024, libver='latest') as f:\n    f['x'] = [1, 2, 3]\n",
        &[path.to_str().unwrap()],
    );
    let run = check_files(&[&path]).run();
    assert_eq!(run.code, 0, "{}", run.stdout);
    let facts = &run.json()["facts"]["files"][0];
    assert_eq!(facts["signature_offset"], 1024);
    assert_eq!(facts["superblock"]["base_address"], 1024);
    assert_eq!(
        facts["superblock"]["eof_address"], facts["size"],
        "the stored end of file is absolute"
    );
}

#[test]
fn files_that_are_not_hdf5_say_what_they_look_like() {
    let dir = tempdir();
    let text = dir.path().join("notes.h5");
    std::fs::write(&text, "temperature,pressure\n1,2\n").unwrap();
    let netcdf = dir.path().join("classic.nc");
    std::fs::write(&netcdf, b"CDF\x01\x00\x00\x00\x00\x00\x00\x00\x00").unwrap();
    let empty = dir.path().join("empty.h5");
    std::fs::write(&empty, b"").unwrap();
    let snapshots: Vec<_> = [&text, &netcdf, &empty].iter().map(|p| FileSnapshot::take(p)).collect();
    let run = check_files(&[&text, &netcdf, &empty]).run();
    assert_eq!(run.code, 1);
    assert!(!run.stderr.contains("panicked"), "{}", run.stderr);
    let report = run.json();
    let by_file = |p: &Path| -> Vec<&Value> {
        report["findings"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|f| f["scope"]["path"] == p.to_str().unwrap())
            .collect()
    };
    let t = by_file(&text);
    assert_eq!(t.len(), 1);
    assert_eq!(t[0]["slug"], "file-not-hdf5");
    assert!(t[0]["title"].as_str().unwrap().ends_with("(it looks like text)"));
    assert_eq!(fix_texts(t[0]), [format!("file {}", text.display())]);
    let n = by_file(&netcdf);
    assert_eq!(n[0]["slug"], "file-not-hdf5");
    assert_eq!(fix_texts(n[0]), ["xarray.open_dataset(path, engine='scipy')"]);
    let e = by_file(&empty);
    assert_eq!(e[0]["slug"], "file-truncated");
    assert!(e[0]["title"].as_str().unwrap().contains("the file is empty (0 bytes)"));
    for (s, p) in snapshots.iter().zip([&text, &netcdf, &empty]) {
        s.assert_unchanged(p);
    }
}

#[test]
fn a_directory_a_missing_path_or_a_fifo_is_a_clear_usage_error() {
    let dir = tempdir();
    let run = H5doctor::new(&["check", dir.path().to_str().unwrap()]).run();
    assert_eq!(run.code, 2);
    assert_eq!(
        run.stderr.trim(),
        format!(
            "h5doctor: {0}: is a directory (`h5doctor check FILE` examines one HDF5 file; `--dir {0}` probes a directory)",
            dir.path().display()
        )
    );
    assert!(run.stdout.is_empty());
    let missing = dir.path().join("nope.h5");
    let run = H5doctor::new(&["check", missing.to_str().unwrap()]).run();
    assert_eq!(run.code, 2);
    assert_eq!(run.stderr.trim(), format!("h5doctor: {}: no such file", missing.display()));
    // A FIFO would block a plain read forever.
    let fifo = dir.path().join("pipe.h5");
    let c = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
    let run = H5doctor::new(&["check", fifo.to_str().unwrap()]).run();
    assert_eq!(run.code, 2);
    assert_eq!(
        run.stderr.trim(),
        format!(
            "h5doctor: {}: not a regular file (a FIFO, socket or device); `h5doctor check FILE` examines HDF5 files",
            fifo.display()
        )
    );
}

#[test]
fn a_file_this_user_cannot_read_is_file_unreadable() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempdir();
    let path = healthy_file(dir.path(), "private.h5", "earliest");
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let before = FileSnapshot::take(&path);
    let run = H5doctor::as_nobody_if_root(&["check", "--json", path.to_str().unwrap()]).run();
    assert_eq!(run.code, 1, "{}{}", run.stdout, run.stderr);
    assert!(!run.stderr.contains("panicked"), "{}", run.stderr);
    let report = run.json();
    // A probe of the HDF5 matrix links a libhdf5 in root's ~/.cache, which `nobody` cannot load: h5doctor
    // rightly says so too (the file verdict is the same).
    let probe_unreadable = probe_under_test().is_some_and(|p| {
        (unsafe { libc::geteuid() }) == 0
            && !Command::new("setpriv")
                .args(["--reuid=65534", "--regid=65534", "--clear-groups"])
                .arg(&p)
                .arg("version")
                .output()
                .is_ok_and(|o| o.status.success())
    });
    if probe_unreadable {
        assert_eq!(slugs(&report), ["file-unreadable", "probe-unavailable"], "{report:#}");
    } else {
        assert_eq!(slugs(&report), ["file-unreadable"], "{report:#}");
    }
    let f = finding(&report, "file-unreadable");
    assert_eq!(
        f["title"],
        format!("{} cannot be read by this user: Permission denied (EACCES)", path.display())
    );
    assert_eq!(fix_texts(f), [format!("namei -l {}", path.display())]);
    before.assert_unchanged(&path);
}

#[test]
fn file_facts_replay_to_the_same_findings() {
    let dir = tempdir();
    let path = dir.path().join("run.h5");
    Writer::start(&path, "latest").kill();
    let facts = H5doctor::new(&["facts", "--json", path.to_str().unwrap()]).run();
    assert_eq!(facts.code, 0, "{}", facts.stderr);
    let store = tempdir();
    let saved = store.path().join("node.json");
    std::fs::write(&saved, &facts.stdout).unwrap();
    let live = check_files(&[&path]).run();
    let replay = H5doctor::new(&["check", "--json", "--facts", saved.to_str().unwrap()]).run();
    assert_eq!(replay.code, live.code);
    assert_eq!(replay.json()["findings"], live.json()["findings"]);
    assert_eq!(slugs(&replay.json()), ["file-stale-write-flag"]);
}

#[test]
fn without_a_working_probe_the_plain_reads_still_find_the_stale_flag() {
    // The superblock checks need no HDF5: they work on a node whose HDF5 is broken or missing.
    let dir = tempdir();
    let path = dir.path().join("run.h5");
    Writer::start(&path, "latest").kill();
    let run = check_files(&[&path]).env("H5DOCTOR_PROBE", "/nonexistent/h5doctor-probe").run();
    assert_eq!(run.code, 1, "{}{}", run.stdout, run.stderr);
    let report = run.json();
    assert_eq!(slugs(&report), ["file-stale-write-flag"], "{report:#}");
    let file_inconclusive = report["inconclusive"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["group"] == "file")
        .expect("the HDF5 part of the file check is inconclusive");
    assert_eq!(file_inconclusive["scope"]["path"], path.to_str().unwrap());
    assert!(
        file_inconclusive["reason"]
            .as_str()
            .unwrap()
            .contains("/nonexistent/h5doctor-probe: not found"),
        "{file_inconclusive}"
    );
}

#[test]
fn damaged_metadata_is_file_metadata_unreadable_with_hdf5s_own_error() {
    // A healthy superblock-3 file whose root group object header (checksummed) was overwritten.
    let dir = tempdir();
    let path = healthy_file(dir.path(), "damaged.h5", "latest");
    let mut bytes = std::fs::read(&path).unwrap();
    let root = u64::from_le_bytes(bytes[36..44].try_into().unwrap()) as usize;
    assert_eq!(&bytes[root..root + 4], b"OHDR", "the root group's object header");
    bytes[root + 8..root + 16].fill(0xff);
    std::fs::write(&path, &bytes).unwrap();
    let before = FileSnapshot::take(&path);
    let run = check_files(&[&path]).run();
    assert_eq!(run.code, 1, "{}{}", run.stdout, run.stderr);
    let report = run.json();
    assert_eq!(slugs(&report), ["file-metadata-unreadable"], "{report:#}");
    let f = finding(&report, "file-metadata-unreadable");
    assert_eq!(f["id"], "H5D208");
    assert_eq!(
        f["title"],
        format!(
            "HDF5 fails on {} when reading its objects, and the superblock checks do not explain why",
            path.display()
        )
    );
    assert!(
        evidence(f, "file.hdf5_error")
            .as_str()
            .unwrap()
            .contains("incorrect metadata checksum"),
        "{f:#}"
    );
    assert_eq!(fix_texts(f)[0], format!("h5dump -H {}", path.display()));
    before.assert_unchanged(&path);
}

#[test]
fn the_rules_of_the_file_doctor_are_listed_and_explained() {
    let run = H5doctor::new(&["rules"]).run();
    assert_eq!(run.code, 0);
    for slug in [
        "file-stale-write-flag",
        "file-truncated",
        "lock-held",
        "plugin-filter-missing",
        "plugin-dir-missing",
        "plugin-abi",
        "hdf5-driver-failed",
        "hdf5-mode-deviation",
    ] {
        assert!(run.stdout.contains(slug), "{slug} missing from:\n{}", run.stdout);
    }
    let explain = H5doctor::new(&["explain", "lock-held"]).run();
    assert_eq!(explain.code, 0);
    assert!(
        explain
            .stdout
            .contains("- (env) export HDF5_USE_FILE_LOCKING=FALSE — UNSAFE: Another process has this file open right now."),
        "{}",
        explain.stdout
    );
}

#[test]
fn a_live_writer_without_file_locking_is_still_named_and_not_mistaken_for_a_dead_one() {
    // Sites that set HDF5_USE_FILE_LOCKING=FALSE everywhere: no lock in /proc/locks, but the open-for-write
    // flag of superblock 3 refuses other opens, and /proc/PID/fd shows who has the file.
    let dir = tempdir();
    let path = dir.path().join("unlocked.h5");
    let writer = Writer::start_with_env(&path, "latest", &[("HDF5_USE_FILE_LOCKING", "FALSE")]);
    let run = check_files(&[&path]).run();
    assert_eq!(run.code, 1, "{}{}", run.stdout, run.stderr);
    let report = run.json();
    assert_eq!(slugs(&report), ["lock-held"], "not file-stale-write-flag: {report:#}");
    let f = finding(&report, "lock-held");
    assert_eq!(f["severity"], "error");
    assert_eq!(
        f["title"],
        format!("{} is held open by PID {} (python3) on this node", path.display(), writer.pid())
    );
    assert!(
        report["facts"]["files"][0]["locks"].as_array().unwrap().is_empty(),
        "no lock was taken"
    );
    let fixes = fix_texts(f);
    assert!(
        !fixes.contains(&"export HDF5_USE_FILE_LOCKING=FALSE".to_string()),
        "locking is already off: {fixes:?}"
    );
    writer.kill();
}
