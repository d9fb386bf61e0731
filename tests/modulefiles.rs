//! h5doctor's own modulefiles (modulefiles/h5doctor/0.1.0.lua and the Tcl 0.1.0), loaded with real Lmod
//! the way a site installs them: binaries under <prefix>/bin, site rules under <prefix>/rules.d.

mod common;
use common::*;
use std::path::Path;
use std::process::Command;

const LMOD_INIT: &str = "/usr/share/lmod/lmod/init/bash";

/// Installs the built binaries under `prefix` and one shipped modulefile (its `prefix` pointed there)
/// into a MODULEPATH tree; returns the tree.
fn install(prefix: &Path, modulefile: &str, name: &str) -> tempfile::TempDir {
    std::fs::create_dir_all(prefix.join("bin")).unwrap();
    std::fs::create_dir_all(prefix.join("rules.d")).unwrap();
    std::os::unix::fs::symlink(env!("CARGO_BIN_EXE_h5doctor"), prefix.join("bin/h5doctor")).unwrap();
    std::os::unix::fs::symlink(bin("h5doctor-probe"), prefix.join("bin/h5doctor-probe")).unwrap();
    std::fs::write(
        prefix.join("rules.d/quiet.toml"),
        "silence = \"lock-local-only\"\nreason = \"site policy\"\n",
    )
    .unwrap();
    let shipped = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("modulefiles/h5doctor").join(modulefile)).unwrap();
    let text = shipped.replace("/opt/h5doctor/0.1.0", prefix.to_str().unwrap());
    assert_ne!(text, shipped, "the modulefile names its install prefix");
    let tree = tempdir();
    std::fs::create_dir_all(tree.path().join("h5doctor")).unwrap();
    std::fs::write(tree.path().join("h5doctor").join(name), text).unwrap();
    tree
}

/// `module load h5doctor/0.1.0`, then `h5doctor` from PATH: its version, the probe it finds, the site rules.
fn load_and_run(tree: &Path) -> (i32, String, String) {
    assert!(
        Path::new(LMOD_INIT).is_file(),
        "Lmod is not installed; scripts/dev.sh test installs it"
    );
    let home = tempdir();
    let work = tempdir();
    let script = format!(
        "source {LMOD_INIT}\nexport MODULEPATH={}\nexport LMOD_IGNORE_CACHE=1\nmodule load h5doctor/0.1.0 || exit 9\n\
         h5doctor --version\necho \"probe=$H5DOCTOR_PROBE\"\nh5doctor rules\n\
         h5doctor check --only hdf5 --no-default-dirs --dir {} --json > {}/report.json\necho \"check=$?\"",
        tree.display(),
        work.path().display(),
        work.path().display()
    );
    let out = Command::new("bash")
        .args(["--noprofile", "--norc", "-c", &script])
        .env_clear()
        .env("PATH", "/usr/bin:/bin")
        .env("HOME", home.path())
        .output()
        .expect("bash runs");
    let report = std::fs::read_to_string(work.path().join("report.json")).unwrap_or_default();
    assert_no_leftovers_except(work.path(), "report.json");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned() + &report;
    (out.status.code().unwrap_or(-1), stdout, String::from_utf8_lossy(&out.stderr).into())
}

fn assert_no_leftovers_except(dir: &Path, keep: &str) {
    let names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n != keep)
        .collect();
    assert!(names.is_empty(), "left behind in {}: {names:?}", dir.display());
}

fn assert_loaded_and_working(prefix: &Path, code: i32, stdout: &str, stderr: &str) {
    assert_eq!(code, 0, "stdout:\n{stdout}\nstderr:\n{stderr}");
    assert!(stdout.contains(&format!("h5doctor {}", env!("CARGO_PKG_VERSION"))), "{stdout}");
    assert!(
        stdout.contains(&format!("probe={}/bin/h5doctor-probe", prefix.display())),
        "{stdout}"
    );
    assert!(
        stdout.contains("silenced lock-local-only"),
        "the module's rules.d is in force: {stdout}"
    );
    assert!(stdout.contains("check=0"), "{stdout}");
    assert!(
        stdout.contains("\"status\": \"ok\""),
        "the probe found through the module ran: {stdout}"
    );
}

#[test]
fn the_lua_modulefile_puts_h5doctor_its_probe_and_site_rules_in_place() {
    let prefix_dir = tempdir();
    let prefix = prefix_dir.path().join("h5doctor-0.1.0");
    let tree = install(&prefix, "0.1.0.lua", "0.1.0.lua");
    let (code, stdout, stderr) = load_and_run(tree.path());
    assert_loaded_and_working(&prefix, code, &stdout, &stderr);
}

#[test]
fn the_tcl_modulefile_does_the_same() {
    let prefix_dir = tempdir();
    let prefix = prefix_dir.path().join("h5doctor-0.1.0");
    let tree = install(&prefix, "0.1.0", "0.1.0");
    let (code, stdout, stderr) = load_and_run(tree.path());
    assert_loaded_and_working(&prefix, code, &stdout, &stderr);
}
