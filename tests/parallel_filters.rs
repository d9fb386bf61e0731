//! mpiio-filters-independent, the static part: a parallel libhdf5 whose build settings say it cannot write
//! filtered datasets in parallel. The library is Debian's real Open MPI libhdf5, copied next to a
//! libhdf5_openmpi.settings that says `Parallel Filtered Dataset Writes: no` (what HDF5's configure writes
//! for an MPI without MPI_Mprobe), and made visible to the job through LD_LIBRARY_PATH.

mod common;
use common::*;

const DEBIAN_PARALLEL: &str = "/usr/lib/x86_64-linux-gnu/libhdf5_openmpi.so.103.3.1";
const DEBIAN_SETTINGS: &str = "/usr/lib/x86_64-linux-gnu/libhdf5_openmpi.settings";

fn check_libraries(ld_library_path: &std::path::Path) -> serde_json::Value {
    let run = H5doctor::new(&[
        "check",
        "--json",
        "--no-default-dirs",
        "--no-default-pythons",
        "--only",
        "libraries",
    ])
    .env("LD_LIBRARY_PATH", ld_library_path)
    .run();
    assert_eq!(run.code, 0, "a warning alone exits 0: {}", run.stdout);
    run.json()
}

#[test]
fn a_parallel_hdf5_built_without_filtered_writes_is_mpiio_filters_independent() {
    assert!(
        std::path::Path::new(DEBIAN_PARALLEL).is_file() && std::path::Path::new(DEBIAN_SETTINGS).is_file(),
        "needs Debian's libhdf5-openmpi-dev (scripts/dev.sh installs it)"
    );
    let dir = tempdir();
    std::fs::copy(DEBIAN_PARALLEL, dir.path().join("libhdf5_openmpi.so.103")).unwrap();
    let settings = std::fs::read_to_string(DEBIAN_SETTINGS).unwrap();
    assert!(settings.contains("Parallel Filtered Dataset Writes: yes"), "{settings}");
    std::fs::write(
        dir.path().join("libhdf5_openmpi.settings"),
        settings.replace("Parallel Filtered Dataset Writes: yes", "Parallel Filtered Dataset Writes: no"),
    )
    .unwrap();
    let report = check_libraries(dir.path());
    assert!(slugs(&report).contains(&"mpiio-filters-independent".to_string()), "{report:#}");
    let f = finding(&report, "mpiio-filters-independent");
    assert_eq!(f["severity"], "warning");
    let libs = evidence(f, "libraries.hdf5_no_parallel_filters").to_string();
    assert!(libs.contains("HDF5 1.10.8 parallel"), "{libs}");
    assert!(libs.contains("says 'Parallel Filtered Dataset Writes: no'"), "{libs}");
    assert!(!libs.contains(DEBIAN_PARALLEL), "Debian's own build says yes: {libs}");
    assert_eq!(fix_texts(f)[0], "with dset.collective: dset[sel] = data");
    assert_eq!(fix_texts(f).len(), 3, "the module and h5repack fixes too: {f:#}");
    assert_eq!(f["fixes"][0]["verified"], false, "no MPI-IO test ran: {f:#}");
}

#[test]
fn debian_parallel_hdf5_writes_filtered_datasets_in_parallel() {
    let empty = tempdir();
    let report = check_libraries(empty.path());
    assert!(!slugs(&report).contains(&"mpiio-filters-independent".to_string()), "{report:#}");
    let inventory = report["facts"]["libraries"]["inventory"].as_array().unwrap();
    let debian = inventory
        .iter()
        .find(|l| l["real_path"] == DEBIAN_PARALLEL)
        .expect("Debian's parallel libhdf5 in the inventory");
    assert_eq!(debian["parallel_filtered_writes"], true);
    // Found beside the library as the job sees it (/lib is /usr/lib on a merged-/usr system).
    assert!(
        debian["settings_file"].as_str().unwrap().ends_with("/libhdf5_openmpi.settings"),
        "{debian:#}"
    );
}
