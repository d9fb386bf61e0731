//! Facts named `hdf5.*`: the HDF5 library as h5doctor-probe found it.

use super::{FactDef, Scope};
use crate::facts::libraries::MissingLib;
use crate::facts::Facts;
use serde_json::json;

/// The libraries h5doctor's resolver could not find for the probe binary.
fn probe_missing(f: &Facts) -> &[MissingLib] {
    f.hdf5.probe_loader.as_ref().map_or(&[], |b| b.missing.as_slice())
}

pub static FACTS: &[FactDef] = &[
    FactDef {
        name: "hdf5.library_path",
        scope: Scope::Global,
        label: "HDF5 library",
        doc: "The libhdf5 file h5doctor-probe loaded.",
        read: |f, _| {
            f.hdf5
                .library
                .as_ref()
                .and_then(|l| l.path.as_ref())
                .or(f.plugins.hdf5_library_path.as_ref())
                .map(|p| json!(p))
        },
    },
    FactDef {
        name: "hdf5.drivers",
        scope: Scope::Global,
        label: "file drivers",
        doc: "The file drivers the loaded libhdf5 has (sec2, stdio, core, family, split, multi, log, direct, mpio, ros3, ...).",
        read: |f, _| {
            f.hdf5.library.as_ref().map(|l| {
                json!(l
                    .drivers
                    .iter()
                    .filter(|d| d.available)
                    .map(|d| d.name.as_str())
                    .collect::<Vec<_>>())
            })
        },
    },
    FactDef {
        name: "hdf5.mpio_available",
        scope: Scope::Global,
        label: "mpio driver",
        doc: "Whether the loaded libhdf5 has the MPI-IO driver (a parallel build).",
        read: |f, _| {
            let lib = f.hdf5.library.as_ref()?;
            Some(json!(lib.drivers.iter().any(|d| d.name == "mpio" && d.available) || lib.parallel))
        },
    },
    FactDef {
        name: "hdf5.parallel",
        scope: Scope::Global,
        label: "parallel HDF5",
        doc: "Whether the loaded libhdf5 exports H5Pset_fapl_mpio.",
        read: |f, _| f.hdf5.library.as_ref().map(|l| json!(l.parallel)),
    },
    FactDef {
        name: "hdf5.probe",
        scope: Scope::Global,
        label: "HDF5 probe",
        doc: "How the HDF5 probe ended: ok, inconclusive, unavailable (h5doctor-probe could not start) or not-run.",
        read: |f, _| Some(json!(f.hdf5.status.as_str())),
    },
    FactDef {
        name: "hdf5.probe_reason",
        scope: Scope::Global,
        label: "HDF5 probe problem",
        doc: "Why the HDF5 probe is inconclusive or unavailable (the loader's message, a timeout, ...).",
        read: |f, _| f.hdf5.reason.as_ref().map(|r| json!(r)),
    },
    FactDef {
        name: "hdf5.probe_missing_found_elsewhere",
        scope: Scope::Global,
        label: "exists outside the search path",
        doc: "Files named like the probe's missing library in module, wheel or prefix directories the loader does not search.",
        read: |f, _| {
            let v: Vec<&String> = probe_missing(f).iter().flat_map(|m| &m.found_elsewhere).collect();
            (!v.is_empty()).then(|| json!(v))
        },
    },
    FactDef {
        name: "hdf5.probe_missing_found_elsewhere_dir",
        scope: Scope::Global,
        label: "directory that has it",
        doc: "The directory of the first file in hdf5.probe_missing_found_elsewhere (for LD_LIBRARY_PATH).",
        read: |f, _| {
            probe_missing(f)
                .iter()
                .flat_map(|m| m.found_elsewhere.first())
                .next()
                .and_then(|p| p.rsplit_once('/'))
                .map(|(d, _)| json!(d))
        },
    },
    FactDef {
        name: "hdf5.probe_loader_says",
        scope: Scope::Global,
        label: "the loader says",
        doc: "Why the loader refuses h5doctor-probe besides a missing library (interpreter, symbol versions, a noexec mount, an unreadable library), in its own words.",
        read: |f, _| {
            let v: Vec<String> = f
                .hdf5
                .probe_loader
                .as_ref()
                .map(|b| b.load_failures.iter().map(|l| format!("{} ({})", l.loader_says, l.explanation)).collect())
                .unwrap_or_default();
            (!v.is_empty()).then(|| json!(v))
        },
    },
    FactDef {
        name: "hdf5.probe_missing_library",
        scope: Scope::Global,
        label: "missing library",
        doc: "The shared libraries h5doctor-probe needs that the loader cannot find, by h5doctor's own resolver.",
        read: |f, _| {
            let v: Vec<String> = probe_missing(f)
                .iter()
                .map(|m| format!("{} (needed by {})", m.name, m.needed_by))
                .collect();
            (!v.is_empty()).then(|| json!(v))
        },
    },
    FactDef {
        name: "hdf5.probe_missing_series",
        scope: Scope::Global,
        label: "HDF5 series",
        doc: "The HDF5 release series the probe's missing libhdf5 soname belongs to.",
        read: |f, _| {
            let v: Vec<String> = probe_missing(f)
                .iter()
                .filter_map(|m| m.series.as_ref().map(|s| format!("{}: {s}", m.name)))
                .collect();
            (!v.is_empty()).then(|| json!(v))
        },
    },
    FactDef {
        name: "hdf5.probe_search_order",
        scope: Scope::Global,
        label: "looked in",
        doc: "Every place the loader looks for the probe's first missing library, in order, with the result of each.",
        read: |f, _| probe_missing(f).first().map(|m| json!(m.searched)),
    },
    FactDef {
        name: "hdf5.probe_path",
        scope: Scope::Global,
        label: "probe binary",
        doc: "The h5doctor-probe binary that was run.",
        read: |f, _| f.hdf5.probe_path.as_ref().map(|p| json!(p)),
    },
    FactDef {
        name: "hdf5.soname",
        scope: Scope::Global,
        label: "HDF5 soname",
        doc: "The DT_SONAME of the loaded libhdf5 (libhdf5_serial.so.103, libhdf5.so.310, ...); also known from the plugins group alone.",
        read: |f, _| f.hdf5.soname.as_ref().or(f.plugins.hdf5_soname.as_ref()).map(|s| json!(s)),
    },
    FactDef {
        name: "hdf5.threadsafe",
        scope: Scope::Global,
        label: "thread-safe HDF5",
        doc: "H5is_library_threadsafe of the loaded library.",
        read: |f, _| f.hdf5.library.as_ref().map(|l| json!(l.threadsafe)),
    },
    FactDef {
        name: "hdf5.version",
        scope: Scope::Global,
        label: "HDF5 version",
        doc: "H5get_libversion of the library h5doctor-probe loaded, as 1.10.8.",
        read: |f, _| f.hdf5.library.as_ref().map(|l| json!(l.version)),
    },
];
