//! The architecture's invariants, checked on the built binaries.

mod common;
use common::*;

fn needed(path: &std::path::Path) -> String {
    let out = std::process::Command::new("ldd").arg(path).output().expect("ldd runs");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn the_doctor_never_links_the_patient() {
    let doctor = needed(std::path::Path::new(env!("CARGO_BIN_EXE_h5doctor")));
    for lib in ["hdf5", "mpi", "python"] {
        assert!(!doctor.contains(lib), "h5doctor must not link {lib}:\n{doctor}");
    }
    // ... while the probe is what links HDF5, so this test can tell the two apart.
    let probe = needed(&bin("h5doctor-probe"));
    assert!(probe.contains("libhdf5"), "h5doctor-probe links libhdf5:\n{probe}");
}

#[test]
fn version_and_help_work_and_help_has_examples() {
    let v = H5doctor::new(&["--version"]).run();
    assert_eq!(v.code, 0);
    assert_eq!(v.stdout.trim(), format!("h5doctor {}", env!("CARGO_PKG_VERSION")));
    let h = H5doctor::new(&["--help"]).run();
    assert_eq!(h.code, 0);
    assert!(
        h.stdout.contains("Examples:") && h.stdout.contains("h5doctor check --facts node.json"),
        "{}",
        h.stdout
    );
}

/// Runs h5doctor on a real pseudo-terminal (script(1) from util-linux) and returns what it printed.
fn on_a_terminal(no_color: Option<&str>) -> String {
    let dir = tempdir();
    let cmdline = format!(
        "{} check --only locking --no-default-dirs --dir {}",
        env!("CARGO_BIN_EXE_h5doctor"),
        dir.path().display()
    );
    let mut cmd = std::process::Command::new("script");
    cmd.args(["-qec", &cmdline, "/dev/null"]).env_remove("NO_COLOR");
    if let Some(v) = no_color {
        cmd.env("NO_COLOR", v);
    }
    let out = cmd.output().expect("script(1) runs");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn colour_on_a_terminal_only_and_never_with_no_color() {
    let coloured = on_a_terminal(None);
    assert!(coloured.contains("\x1b[32m✓\x1b[0m"), "a terminal gets colour: {coloured:?}");
    let plain = on_a_terminal(Some("1"));
    assert!(plain.contains("✓ locking"), "{plain:?}");
    assert!(!plain.contains('\x1b'), "NO_COLOR turns colour off: {plain:?}");
    // Not a terminal (a pipe): no colour either.
    let dir = tempdir();
    let piped = H5doctor::new(&[
        "check",
        "--only",
        "locking",
        "--no-default-dirs",
        "--dir",
        dir.path().to_str().unwrap(),
    ])
    .run();
    assert!(!piped.stdout.contains('\x1b'), "{}", piped.stdout);
}
