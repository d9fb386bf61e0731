//! Facts about parallel writes of filtered (compressed) datasets: which parallel libhdf5 builds cannot do
//! them (their `libhdf5.settings` say `Parallel Filtered Dataset Writes: no`, or the release predates
//! 1.10.2, where the feature appeared), and HDF5's refusal text in an MPI-IO test.

use crate::facts::catalog::facts;
use crate::facts::libraries::LibraryInfo;
use crate::facts::values::{FilteredWrite, IndependentFilteredWrite};
use crate::facts::Facts;
use serde_json::{json, Value};

fn before_1_10_2(version: &str) -> bool {
    let mut p = version
        .split(|c: char| !c.is_ascii_digit())
        .filter(|s| !s.is_empty())
        .map(|s| s.parse::<u64>().unwrap_or(0));
    let v = (p.next().unwrap_or(0), p.next().unwrap_or(0), p.next().unwrap_or(0));
    v < (1, 10, 2)
}

/// Why a library of the inventory is a parallel libhdf5 that cannot write filtered datasets in parallel
/// (`None` when it is not one, or can).
pub fn lacks_filtered_writes(l: &LibraryInfo) -> Option<String> {
    if l.kind != crate::elf::libraries::Kind::Hdf5 || l.parallel != Some(true) {
        return None;
    }
    match (l.parallel_filtered_writes, l.hdf5_version.as_deref()) {
        (_, Some(v)) if before_1_10_2(v) => Some(format!("HDF5 {v} predates parallel filtered writes (1.10.2)")),
        (Some(false), _) => Some(format!(
            "{} says 'Parallel Filtered Dataset Writes: no'",
            l.settings_file.as_deref().unwrap_or("its libhdf5.settings")
        )),
        _ => None,
    }
}

/// Whether an HDF5 release has parallel filtered writes at all (1.10.2 and later).
pub fn release_has_parallel_filters(version: &str) -> bool {
    !before_1_10_2(version)
}

/// Each parallel libhdf5 of the inventory without parallel filtered writes, with the reason.
fn without_filtered_writes(f: &Facts) -> Vec<String> {
    f.libraries
        .inventory
        .iter()
        .filter_map(|l| Some(format!("{}: {}", l.summary(), lacks_filtered_writes(l)?)))
        .collect()
}

/// HDF5's words when a filtered dataset is written independently in parallel (H5Dmpio.c).
pub const INDEPENDENT_FILTERED_TEXT: &str = "Can't perform independent write with filters in pipeline";

facts! {
    Global(f) {
        "libraries.hdf5_no_parallel_filters" ["parallel HDF5 without filtered writes"]
            "Parallel libhdf5 builds a job can see that cannot write filtered (compressed) datasets in parallel: \
            'Parallel Filtered Dataset Writes: no' in their libhdf5.settings, or a release before 1.10.2 (a list)."
            => {
                let libs = without_filtered_writes(f);
                (!libs.is_empty()).then(|| json!(libs))
            };
        "mpi.filters_independent_error" ["HDF5 refused an independent filtered write"]
            "The MPI-IO test's HDF5 error when it says \"Can't perform independent write with filters in pipeline\": \
            the test's independent write of a deflate-filtered dataset (mpi.filtered_independent), or a failed step."
            => {
                let m = &f.mpi;
                [m.filtered_independent_error.as_deref(), m.error.as_deref(), m.error_stack.as_deref()]
                    .into_iter()
                    .flatten()
                    .find(|t| t.contains(INDEPENDENT_FILTERED_TEXT))
                    .map(|t| -> Value { json!(t.lines().find(|l| l.contains(INDEPENDENT_FILTERED_TEXT)).unwrap_or(t).trim()) })
            };
        "mpi.filtered_write" ["collective filtered write"] in FilteredWrite
            "The MPI-IO test's deflate-filtered chunked dataset written collectively by every rank \
            (H5FD_MPIO_COLLECTIVE): ok, failed, or not-available (this HDF5 has no deflate)."
            => f.mpi.filtered_write.as_ref();
        "mpi.filtered_independent" ["independent filtered write"] in IndependentFilteredWrite
            "After the collective one, the same filtered dataset written independently by every rank \
            (H5FD_MPIO_INDEPENDENT): ok, or refused."
            => f.mpi.filtered_independent.as_ref();
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn releases_before_1_10_2_have_no_parallel_filters() {
        assert!(super::before_1_10_2("1.10.1"));
        assert!(super::before_1_10_2("1.8.21"));
        assert!(!super::before_1_10_2("1.10.2"));
        assert!(!super::before_1_10_2("2.0.0"));
    }
}
