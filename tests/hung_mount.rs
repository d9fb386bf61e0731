//! Every probe ends: a FUSE file system that behaves like an NFS mount whose server died (statfs and
//! file creation block forever) must give an inconclusive result at the deadline, and h5doctor must
//! exit, while the healthy directories of the same run are still judged.

mod common;
use common::*;
use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::time::{Duration, Instant};

/// A mounted hanging file system; unmounted and stopped on drop.
struct HangingMount {
    dir: tempfile::TempDir,
    server: Child,
}

impl HangingMount {
    fn start() -> Self {
        let dir = tempdir();
        let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/hanging_fs.py");
        let server = Command::new("/usr/bin/python3")
            .arg(script)
            .arg(dir.path())
            .spawn()
            .expect("python3 with fusepy (scripts/dev.sh installs it)");
        let mount = Self { dir, server };
        let deadline = Instant::now() + Duration::from_secs(10);
        while !std::fs::read_to_string("/proc/self/mountinfo")
            .unwrap()
            .contains(mount.path().to_str().unwrap())
        {
            assert!(
                Instant::now() < deadline,
                "the FUSE file system did not mount (is /dev/fuse usable?)"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        mount
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }
}

impl Drop for HangingMount {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(self.dir.path()).status();
        let _ = self.server.kill();
        let _ = self.server.wait();
    }
}

#[test]
fn a_hung_mount_is_inconclusive_at_the_deadline_and_the_run_ends() {
    let mount = HangingMount::start();
    let healthy = tempdir();
    let start = Instant::now();
    let run = H5doctor::new(&[
        "check",
        "--json",
        "--no-default-dirs",
        "--no-default-pythons",
        "--timeout",
        "2",
        "--dir",
        mount.path().to_str().unwrap(),
        "--dir",
        healthy.path().to_str().unwrap(),
    ])
    .run();
    let elapsed = start.elapsed();
    assert!(
        elapsed < Duration::from_secs(15),
        "h5doctor must exit soon after its 2 s deadline, took {elapsed:?}"
    );
    assert_eq!(run.code, 0, "inconclusive is not an error: {}", run.stderr);
    let report = run.json();
    let inconclusive = report["inconclusive"].as_array().unwrap();
    assert_eq!(inconclusive.len(), 1, "{report:#}");
    assert_eq!(inconclusive[0]["group"], "locking");
    assert_eq!(inconclusive[0]["scope"]["path"], mount.path().to_str().unwrap());
    assert!(
        inconclusive[0]["reason"].as_str().unwrap().contains("did not return within 2 s"),
        "{}",
        inconclusive[0]
    );
    // The healthy directory of the same run was probed completely, HDF5 included.
    let healthy_facts = report["facts"]["dirs"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["path"] == healthy.path().to_str().unwrap())
        .unwrap();
    assert_eq!(healthy_facts["lock"]["status"], "ok");
    assert_eq!(healthy_facts["hdf5"]["create"]["ok"], true);
    assert_no_leftovers(healthy.path());
}
