//! Facts named `dir.hdf5_drivers_*`, `dir.hdf5_mode_*` and `dir.hdf5_matrix*`: the drivers × modes matrix
//! h5doctor-probe ran in each target directory (see `facts::MatrixFacts`).

use super::{FactDef, Scope};
use crate::facts::{DirFacts, MatrixFacts};
use serde_json::{json, Value};

fn matrix(d: &DirFacts) -> Option<&MatrixFacts> {
    d.hdf5.matrix.as_ref()
}

/// A list fact that is unknown when empty, so `exists = true` means "there is at least one".
fn non_empty(items: Vec<String>) -> Option<Value> {
    (!items.is_empty()).then(|| json!(items))
}

pub static FACTS: &[FactDef] = &[
    FactDef {
        name: "dir.hdf5_driver_errors",
        scope: Scope::Dir,
        label: "driver errors",
        doc: "For each failed driver round trip: the driver, the step that failed and HDF5's innermost error line.",
        read: |_, it| {
            let m = matrix(it.dir()?)?;
            non_empty(
                m.failed_drivers()
                    .map(|d| {
                        format!(
                            "{}: {} failed: {}",
                            d.driver,
                            d.failed_step.as_deref().unwrap_or("?"),
                            d.error_leaf.as_deref().unwrap_or("no HDF5 error recorded")
                        )
                    })
                    .collect(),
            )
        },
    },
    FactDef {
        name: "dir.hdf5_driver_errnos",
        scope: Scope::Dir,
        label: "driver errnos",
        doc: "The errnos in HDF5's error stacks of the failed driver round trips (27 EFBIG, 28 ENOSPC, 122 EDQUOT, ...); unknown when there are none.",
        read: |_, it| {
            let m = matrix(it.dir()?)?;
            let mut errnos: Vec<i32> = m.failed_drivers().filter_map(|d| d.errno).collect();
            errnos.sort_unstable();
            errnos.dedup();
            (!errnos.is_empty()).then(|| json!(errnos))
        },
    },
    FactDef {
        name: "dir.hdf5_drivers_failed",
        scope: Scope::Dir,
        label: "drivers that fail",
        doc: "The drivers (sec2, stdio, core, family, split, multi) whose create-write-close-reopen-read-compare round trip failed; unknown when none failed.",
        read: |_, it| non_empty(matrix(it.dir()?)?.failed_drivers().map(|d| d.driver.clone()).collect()),
    },
    FactDef {
        name: "dir.hdf5_drivers_ok",
        scope: Scope::Dir,
        label: "drivers that work",
        doc: "The drivers whose round trip succeeded in this directory.",
        read: |_, it| {
            let m = matrix(it.dir()?)?;
            Some(json!(m.drivers.iter().filter(|d| d.ok).map(|d| d.driver.as_str()).collect::<Vec<_>>()))
        },
    },
    FactDef {
        name: "dir.hdf5_matrix",
        scope: Scope::Dir,
        label: "drivers and modes",
        doc: "How the drivers × modes probe ended here: ok, inconclusive or not-run (it runs only where H5Fcreate works).",
        read: |_, it| Some(json!(matrix(it.dir()?).map_or("not-run", |m| m.status.as_str()))),
    },
    FactDef {
        name: "dir.hdf5_matrix_ms",
        scope: Scope::Dir,
        label: "drivers and modes took (ms)",
        doc: "Time the probe spent on every driver and mode in this directory, in milliseconds.",
        read: |_, it| {
            let m = matrix(it.dir()?)?;
            Some(json!((m.elapsed_us as f64 / 100.0).round() / 10.0))
        },
    },
    FactDef {
        name: "dir.hdf5_mode_deviations",
        scope: Scope::Dir,
        label: "open modes that deviate",
        doc: "Each open-mode check (r, r+, w, w-/x, a on a missing or existing probe file) that did not behave as users rely on: what was expected and what happened; unknown when none deviated.",
        read: |_, it| {
            let m = matrix(it.dir()?)?;
            non_empty(
                m.deviations()
                    .map(|d| {
                        let err = d.error_leaf.as_deref().map(|e| format!(" ({e})")).unwrap_or_default();
                        let article = if d.case.starts_with(['a', 'e', 'i', 'o', 'u']) { "an" } else { "a" };
                        format!("{} on {article} {}: expected: {}; observed: {}{err}", d.mode, d.case, d.expected, d.observed)
                    })
                    .collect(),
            )
        },
    },
];
