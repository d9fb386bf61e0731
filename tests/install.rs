//! `scripts/dev.sh install PREFIX` into a temporary prefix, then used as a site user would: the installed
//! modulefile loaded with real Lmod from a clean environment, `h5doctor --version`, `man h5doctor` (found by
//! man-db through PATH, and through a MANPATH a site already sets), and completion in bash (through
//! bash-completion's own loader) and fish (through its vendor completions directory).

mod common;
use common::*;
use std::path::{Path, PathBuf};
use std::process::Command;

const LMOD_INIT: &str = "/usr/share/lmod/lmod/init/bash";
const BASH_COMPLETION: &str = "/usr/share/bash-completion/bash_completion";

/// Installs the binaries of this test build into `prefix` with the real install script.
fn install(prefix: &Path) {
    let bin_dir = PathBuf::from(env!("CARGO_BIN_EXE_h5doctor")).parent().unwrap().to_path_buf();
    bin("h5doctor-probe");
    let out = Command::new("bash")
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/dev.sh"))
        .args(["install", prefix.to_str().unwrap()])
        .env("BIN_DIR", &bin_dir)
        .output()
        .expect("bash runs");
    assert!(
        out.status.success(),
        "install failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Runs `script` in a login-like bash with nothing from the test's environment but PATH=/usr/bin:/bin,
/// after Lmod's init and `module use PREFIX/modulefiles`.
fn in_clean_shell(prefix: &Path, extra_env: &[(&str, &str)], script: &str) -> (i32, String, String) {
    for needed in [LMOD_INIT, BASH_COMPLETION] {
        assert!(
            Path::new(needed).is_file(),
            "{needed} is missing: apt-get install lmod bash-completion (scripts/dev.sh installs them)"
        );
    }
    let home = tempdir();
    let full = format!(
        "source {LMOD_INIT}\nexport LMOD_IGNORE_CACHE=1\nmodule use {}/modulefiles\n{script}",
        prefix.display()
    );
    let mut cmd = Command::new("bash");
    cmd.args(["--noprofile", "--norc", "-c", &full])
        .env_clear()
        .env("PATH", "/usr/bin:/bin")
        .env("HOME", home.path())
        .env("MANWIDTH", "80")
        .env("PAGER", "cat");
    for (k, v) in extra_env {
        cmd.env(k, v);
    }
    let out = cmd.output().expect("bash runs");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Loads h5doctor and proves the three things a user tries first.
const USE_IT: &str = r#"
module load h5doctor || exit 9
echo "which=$(command -v h5doctor)"
h5doctor --version
echo "manfile=$(man -w h5doctor)"
man h5doctor | col -b | head -n 1
echo "checkpage=$(man -w h5doctor-check)"
source /usr/share/bash-completion/bash_completion
_completion_loader h5doctor
fn=$(complete -p h5doctor | sed -E 's/.*-F ([^ ]+).*/\1/')
COMP_WORDS=(h5doctor ch); COMP_CWORD=1; COMP_LINE="h5doctor ch"; COMP_POINT=${#COMP_LINE}; COMPREPLY=()
"$fn" h5doctor ch h5doctor
echo "bash=${COMPREPLY[*]}"
echo "fish=$(fish -c 'complete -C "h5doctor mpio-"' | cut -f1)"
module unload h5doctor
echo "after=$(command -v h5doctor || echo none)"
"#;

fn assert_used(prefix: &Path, code: i32, stdout: &str, stderr: &str) {
    let context = format!("stdout:\n{stdout}\nstderr:\n{stderr}");
    assert_eq!(code, 0, "{context}");
    let line = |key: &str| -> String {
        stdout
            .lines()
            .find_map(|l| l.strip_prefix(&format!("{key}=")))
            .unwrap_or_else(|| panic!("no {key}= in {context}"))
            .to_string()
    };
    assert_eq!(line("which"), format!("{}/bin/h5doctor", prefix.display()), "{context}");
    assert!(stdout.contains(&format!("h5doctor {}", env!("CARGO_PKG_VERSION"))), "{context}");
    assert_eq!(
        line("manfile"),
        format!("{}/share/man/man1/h5doctor.1", prefix.display()),
        "{context}"
    );
    assert!(
        stdout.lines().any(|l| l.starts_with("H5DOCTOR(1)")),
        "man h5doctor rendered the page: {context}"
    );
    assert_eq!(
        line("checkpage"),
        format!("{}/share/man/man1/h5doctor-check.1", prefix.display()),
        "{context}"
    );
    assert_eq!(line("bash"), "check", "{context}");
    assert_eq!(line("fish"), "mpio-test", "{context}");
    assert_eq!(line("after"), "none", "unload takes h5doctor off PATH: {context}");
}

#[test]
fn installed_h5doctor_loads_with_lmod_and_has_its_man_pages_and_completions() {
    let dir = tempdir();
    let prefix = dir.path().join("apps/h5doctor-0.1.0");
    install(&prefix);
    for file in [
        "bin/h5doctor",
        "bin/h5doctor-probe",
        "share/man/man1/h5doctor.1",
        "share/man/man1/h5doctor-mpio-test.1",
        "share/bash-completion/completions/h5doctor",
        "share/zsh/site-functions/_h5doctor",
        "share/fish/vendor_completions.d/h5doctor.fish",
    ] {
        assert!(prefix.join(file).is_file(), "{file} not installed");
    }
    let lua = std::fs::read_to_string(prefix.join(format!("modulefiles/h5doctor/{}.lua", env!("CARGO_PKG_VERSION")))).unwrap();
    assert!(
        lua.contains(&format!("local prefix = \"{}\"", prefix.display())),
        "the installed modulefile names its prefix:\n{lua}"
    );
    let (code, stdout, stderr) = in_clean_shell(&prefix, &[], USE_IT);
    assert_used(&prefix, code, &stdout, &stderr);
}

#[test]
fn the_installed_tcl_modulefile_does_the_same_with_a_site_manpath() {
    let dir = tempdir();
    let prefix = dir.path().join("h5doctor");
    install(&prefix);
    std::fs::remove_file(prefix.join(format!("modulefiles/h5doctor/{}.lua", env!("CARGO_PKG_VERSION")))).unwrap();
    // A site that sets MANPATH: man-db then looks only there, so the module must add its pages to it.
    let (code, stdout, stderr) = in_clean_shell(&prefix, &[("MANPATH", "/usr/share/man")], USE_IT);
    assert_used(&prefix, code, &stdout, &stderr);
}

#[test]
fn install_without_a_prefix_is_a_usage_error() {
    let out = Command::new("bash")
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/dev.sh"))
        .arg("install")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("usage: scripts/dev.sh install PREFIX"));
}
