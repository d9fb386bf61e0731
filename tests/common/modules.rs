//! Modulefile trees and the real module commands for the tests of the `modules` group and of module
//! fixes: a tree written from (path, text) pairs, Lmod (Debian's `lmod`) and Environment Modules'
//! modulecmd.tcl (Debian's `environment-modules`, unpacked into the test cache, never installed: it
//! conflicts with lmod as a package), and a clean bash in which `module` is the chosen tool's.

use std::path::{Path, PathBuf};
use std::process::Command;

/// Lmod's init script for bash (Debian package `lmod`).
pub const LMOD_INIT: &str = "/usr/share/lmod/lmod/init/bash";

/// Real Lmod is required (scripts/dev.sh installs Debian's `lmod`): without it these tests fail, loudly.
pub fn require_lmod() {
    assert!(
        Path::new(LMOD_INIT).is_file(),
        "Lmod is not installed ({LMOD_INIT}); `apt-get install lmod` (scripts/dev.sh installs it)"
    );
}

/// Writes a modulefile tree below `root`: each (relative path, text), directories made as needed.
pub fn write_tree<T: AsRef<str>>(root: &Path, files: &[(&str, T)]) {
    for (rel, text) in files {
        let p = root.join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, text.as_ref()).unwrap();
    }
}

/// The site's module system a test runs: Lmod, or Environment Modules' modulecmd.tcl.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tool {
    Lmod,
    EnvModules,
}

/// Debian's environment-modules 5.2.0, unpacked into ~/.cache/h5doctor-tests/environment-modules-5.2.0/root
/// on first use (`apt-get download` + `dpkg-deb -x`); its modulecmd.tcl.
pub fn envmodules_cmd() -> PathBuf {
    let cache = Path::new(&std::env::var("HOME").expect("HOME is set")).join(".cache/h5doctor-tests");
    let root = cache.join("environment-modules-5.2.0/root");
    let cmd = root.join("usr/lib/x86_64-linux-gnu/modulecmd.tcl");
    if !cmd.is_file() {
        let tmp = super::tempdir();
        let got = Command::new("apt-get")
            .args(["download", "environment-modules=5.2.0-1"])
            .current_dir(tmp.path())
            .output()
            .expect("apt-get runs");
        assert!(
            got.status.success(),
            "cannot download Debian's environment-modules 5.2.0-1 (apt-get download environment-modules): {}",
            String::from_utf8_lossy(&got.stderr)
        );
        let deb = tmp.path().join("environment-modules_5.2.0-1_amd64.deb");
        // Unique per test thread too: two tests of one binary may unpack at once.
        static UNPACKS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let staging = cache.join(format!(
            "environment-modules-5.2.0.{}.{}",
            std::process::id(),
            UNPACKS.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
        ));
        // dpkg-deb -x makes the last directory only.
        std::fs::create_dir_all(&staging).unwrap();
        let x = Command::new("dpkg-deb")
            .arg("-x")
            .arg(&deb)
            .arg(staging.join("root"))
            .status()
            .unwrap();
        assert!(x.success(), "dpkg-deb -x {} failed", deb.display());
        std::fs::create_dir_all(cache.join("environment-modules-5.2.0")).unwrap();
        // Another test may have unpacked it meanwhile: either copy is complete.
        let _ = std::fs::rename(staging.join("root"), &root);
        let _ = std::fs::remove_dir_all(&staging);
    }
    assert!(Path::new("/usr/bin/tclsh8.6").is_file(), "tclsh is missing: apt-get install tcl");
    cmd
}

/// Runs `script` in a clean bash (no profile, PATH=/usr/bin:/bin, a fresh HOME) where `module` is the
/// given tool's, as its init script defines it, and MODULEPATH is `modulepath`; `$H5DOCTOR` is the binary
/// under test. Returns (exit code, stdout, stderr) of the script.
pub fn shell(tool: Tool, modulepath: &str, script: &str) -> (i32, String, String) {
    let home = super::tempdir();
    let init = match tool {
        Tool::Lmod => {
            require_lmod();
            format!("source {LMOD_INIT}\nexport LMOD_IGNORE_CACHE=1")
        }
        Tool::EnvModules => {
            let cmd = envmodules_cmd();
            let home = cmd.ancestors().nth(3).unwrap().join("share/modules");
            format!(
                "export MODULES_CMD={}\nexport MODULESHOME={}\nmodule() {{ eval \"$(/usr/bin/tclsh8.6 \"$MODULES_CMD\" bash \"$@\")\"; }}",
                cmd.display(),
                home.display()
            )
        }
    };
    let full = format!("{init}\nexport MODULEPATH={modulepath}\n{script}");
    let out = Command::new("bash")
        .args(["--noprofile", "--norc", "-c", &full])
        .env_clear()
        .env("PATH", "/usr/bin:/bin")
        .env("HOME", home.path())
        .env("H5DOCTOR", env!("CARGO_BIN_EXE_h5doctor"))
        .output()
        .expect("bash runs");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into(),
        String::from_utf8_lossy(&out.stderr).into(),
    )
}

/// [`shell`] with Lmod.
pub fn lmod(modulepath: &str, script: &str) -> (i32, String, String) {
    shell(Tool::Lmod, modulepath, script)
}
