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
