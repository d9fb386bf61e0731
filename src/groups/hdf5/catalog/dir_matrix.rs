//! Facts named `dir.hdf5_drivers_*`, `dir.hdf5_mode_*` and `dir.hdf5_matrix*`: the drivers × modes matrix
//! h5doctor-probe ran in each target directory (see `facts::MatrixFacts`).

use crate::facts::catalog::facts;
use crate::facts::catalog::non_empty;
use crate::facts::values::{DriverStep, FileDriver};
use crate::facts::ProbeStatus;
use crate::facts::{DirFacts, MatrixFacts};
use serde_json::json;

fn matrix(d: &DirFacts) -> Option<&MatrixFacts> {
    d.hdf5.matrix.as_ref()
}

facts! {
    Dir(f, d) {
        "dir.hdf5_driver_errors" ["driver errors"]
            "For each failed driver round trip: the driver, the step that failed and HDF5's innermost error line."
            => {
                let m = matrix(d)?;
                non_empty(
                    m.failed_drivers()
                        .map(|d| {
                            format!(
                                "{}: {} failed: {}",
                                d.driver,
                                d.failed_step.map_or("?", DriverStep::as_str),
                                d.error_leaf.as_deref().unwrap_or("no HDF5 error recorded")
                            )
                        })
                        .collect(),
                )
            };
        "dir.hdf5_driver_errnos" ["driver errnos"]
            "The errnos in HDF5's error stacks of the failed driver round trips (27 EFBIG, 28 ENOSPC, 122 EDQUOT, ...); unknown when there are none."
            => {
                let m = matrix(d)?;
                let mut errnos: Vec<i32> = m.failed_drivers().filter_map(|d| d.errno).collect();
                errnos.sort_unstable();
                errnos.dedup();
                (!errnos.is_empty()).then(|| json!(errnos))
            };
        "dir.hdf5_drivers_failed" ["drivers that fail"] in FileDriver
            "The drivers (sec2, stdio, core, family, split, multi, log, direct, splitter, onion: those this HDF5 has) whose create-write-close-reopen-read-compare round trip failed; a driver that cannot apply to the directory (direct where O_DIRECT is refused) is not counted; unknown when none failed."
            => non_empty(matrix(d)?.failed_drivers().map(|d| d.driver).collect());
        "dir.hdf5_drivers_ok" ["drivers that work"] in FileDriver
            "The drivers whose round trip succeeded in this directory."
            => {
                let m = matrix(d)?;
                Some(json!(m.drivers.iter().filter(|d| d.ok).map(|d| d.driver).collect::<Vec<_>>()))
            };
        "dir.hdf5_matrix" ["drivers and modes"] in ProbeStatus
            "How the drivers × modes probe ended here: ok, inconclusive or not-run (it runs only where H5Fcreate works)."
            => Some(json!(matrix(d).map_or("not-run", |m| m.status.as_str())));
        "dir.hdf5_matrix_ms" ["drivers and modes took (ms)"]
            "Time the probe spent on every driver and mode in this directory, in milliseconds."
            => {
                let m = matrix(d)?;
                Some(json!((m.elapsed_us as f64 / 100.0).round() / 10.0))
            };
        "dir.hdf5_mode_deviations" ["open modes that deviate"]
            "Each open-mode check (r, r+, w, w-/x, a on a missing or existing probe file) that did not behave as users rely on: what was expected and what happened; unknown when none deviated."
            => {
                let m = matrix(d)?;
                non_empty(
                    m.deviations()
                        .map(|d| {
                            let err = d.error_leaf.as_deref().map(|e| format!(" ({e})")).unwrap_or_default();
                            let article = if d.case.as_str().starts_with(['a', 'e', 'i', 'o', 'u']) { "an" } else { "a" };
                            format!("{} on {article} {}: expected: {}; observed: {}{err}", d.mode, d.case, d.expected, d.observed)
                        })
                        .collect(),
                )
            };
    }
}
