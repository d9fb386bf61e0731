//! Facts named `hdf5.*`: the HDF5 library as h5doctor-probe found it.

use crate::facts::catalog::{facts, non_empty};
use crate::facts::libraries::MissingLib;
use crate::facts::values::{FileDriver, Linking, LockingEffect};
use crate::facts::Facts;
use crate::facts::ProbeStatus;
use serde_json::json;

/// The libraries h5doctor's resolver could not find for the probe binary.
fn probe_missing(f: &Facts) -> &[MissingLib] {
    f.hdf5.probe_loader.as_ref().map_or(&[], |b| b.missing.as_slice())
}

facts! {
    Global(f) {
        "hdf5.library_path" ["HDF5 library"]
            "The libhdf5 file h5doctor-probe loaded."
            => f.hdf5.library.as_ref().and_then(|l| l.path.as_ref()).or(f.plugins.hdf5_library_path.as_ref());
        "hdf5.installs" ["HDF5 installed"]
            "The HDF5 installations of this node h5doctor-probe can be rebuilt against (a prefix with \
            include/H5pubconf.h and lib/libhdf5.so, as HDF5_DIR must be), each with its release and where it \
            was found: the missing library's directory, $HDF5_DIR/$HDF5_ROOT/$HDF5_HOME, LD_LIBRARY_PATH, the \
            loader's cache (and Debian's hdf5/<flavour> prefixes beside it), /usr/local/hdf5. Looked for only \
            when the probe cannot start."
            => {
                let found = &f.hdf5.install_search.as_ref()?.installs;
                non_empty(found.iter().map(|i| format!(
                    "{} (HDF5 {}{}; {})",
                    i.dir,
                    i.version.as_deref().unwrap_or("of unknown version"),
                    if i.parallel { ", parallel" } else { "" },
                    i.how
                )).collect())
            };
        "hdf5.install_search" ["looked for HDF5 in"]
            "Every prefix looked at for an HDF5 installation to rebuild h5doctor-probe against, in order, with how \
            it was found and what it has or lacks. Looked for only when the probe cannot start."
            => f.hdf5.install_search.as_ref().and_then(|s| non_empty(s.looked_in.clone()));
        "hdf5.install_search_summary" ["looked for HDF5 in"]
            "hdf5.install_search as one sentence, for a fix's note: the places joined with `; `."
            => f.hdf5.install_search.as_ref().filter(|s| !s.looked_in.is_empty()).map(|s| json!(s.looked_in.join("; ")));
        "hdf5.linking" ["HDF5 linking"] in Linking
            "How h5doctor-probe has HDF5: `shared` (a libhdf5 loaded at run time) or `static` (linked into the probe)."
            => f.hdf5.library.as_ref().and_then(|l| l.linking.as_ref());
        "hdf5.locking_env_effect" ["HDF5_USE_FILE_LOCKING read as"] in LockingEffect
            "What this HDF5 version makes of the HDF5_USE_FILE_LOCKING value the probe saw: unset, disables-locking, enforces-locking, best-effort, not-recognised, not-read-by-this-version (1.10.0: always locks), no-locking-in-this-version."
            => f.hdf5.library.as_ref().and_then(|l| l.locking_env.as_ref()).map(|e| &e.effect);
        "hdf5.drivers" ["file drivers"] in FileDriver
            "The file drivers the loaded libhdf5 has (sec2, stdio, core, family, split, multi, log, direct, mpio, ros3, ...)."
            => f.hdf5.library.as_ref().map(|l| {
                json!(l
                    .drivers
                    .iter()
                    .filter(|d| d.available)
                    .map(|d| d.name)
                    .collect::<Vec<_>>())
            });
        "hdf5.mpio_available" ["mpio driver"]
            "Whether the loaded libhdf5 has the MPI-IO driver (a parallel build)."
            => {
                let lib = f.hdf5.library.as_ref()?;
                Some(json!(lib.drivers.iter().any(|d| d.name == FileDriver::Mpio && d.available) || lib.parallel))
            };
        "hdf5.parallel" ["parallel HDF5"]
            "Whether the loaded libhdf5 is a parallel build (H5_HAVE_PARALLEL in its configuration header)."
            => f.hdf5.library.as_ref().map(|l| &l.parallel);
        "hdf5.probe" ["HDF5 probe"] in ProbeStatus
            "How the HDF5 probe ended: ok, inconclusive, unavailable (h5doctor-probe could not start) or not-run."
            => Some(&f.hdf5.status.as_str());
        "hdf5.probe_reason" ["HDF5 probe problem"]
            "Why the HDF5 probe is inconclusive or unavailable (the loader's message, a timeout, ...)."
            => f.hdf5.reason.as_ref();
        "hdf5.probe_missing_found_elsewhere" ["exists outside the search path"]
            "Files named like the probe's missing library in module, wheel or prefix directories the loader does not search."
            => {
                let v: Vec<&String> = probe_missing(f).iter().flat_map(|m| &m.found_elsewhere).collect();
                (!v.is_empty()).then(|| json!(v))
            };
        "hdf5.probe_missing_found_elsewhere_dir" ["directory that has it"]
            "The directory of the first file in hdf5.probe_missing_found_elsewhere (for LD_LIBRARY_PATH)."
            => probe_missing(f)
                .iter()
                .flat_map(|m| m.found_elsewhere.first())
                .next()
                .and_then(|p| p.rsplit_once('/'))
                .map(|(d, _)| json!(d));
        "hdf5.probe_loader_says" ["the loader says"]
            "Why the loader refuses h5doctor-probe besides a missing library (interpreter, symbol versions, a noexec mount, an unreadable library), in its own words."
            => {
                let v: Vec<String> = f
                    .hdf5
                    .probe_loader
                    .as_ref()
                    .map(|b| b.load_failures.iter().map(|l| format!("{} ({})", l.loader_says, l.explanation)).collect())
                    .unwrap_or_default();
                (!v.is_empty()).then(|| json!(v))
            };
        "hdf5.probe_missing_library" ["missing library"]
            "The shared libraries h5doctor-probe needs that the loader cannot find, by h5doctor's own resolver."
            => {
                let v: Vec<String> = probe_missing(f)
                    .iter()
                    .map(|m| format!("{} (needed by {})", m.name, m.needed_by))
                    .collect();
                (!v.is_empty()).then(|| json!(v))
            };
        "hdf5.probe_missing_series" ["HDF5 series"]
            "The HDF5 release series the probe's missing libhdf5 soname belongs to."
            => {
                let v: Vec<String> = probe_missing(f)
                    .iter()
                    .filter_map(|m| m.series.as_ref().map(|s| format!("{}: {s}", m.name)))
                    .collect();
                (!v.is_empty()).then(|| json!(v))
            };
        "hdf5.probe_search_order" ["looked in"]
            "Every place the loader looks for the probe's first missing library, in order, with the result of each."
            => probe_missing(f).first().map(|m| &m.searched);
        "hdf5.probe_path" ["probe binary"]
            "The h5doctor-probe binary that was run."
            => f.hdf5.probe_path.as_ref();
        "hdf5.soname" ["HDF5 soname"]
            "The DT_SONAME of the loaded libhdf5 (libhdf5_serial.so.103, libhdf5.so.310, ...); also known from the plugins group alone."
            => f.hdf5.soname.as_ref().or(f.plugins.hdf5_soname.as_ref());
        "hdf5.threadsafe" ["thread-safe HDF5"]
            "H5is_library_threadsafe of the loaded library."
            => f.hdf5.library.as_ref().map(|l| &l.threadsafe);
        "hdf5.version" ["HDF5 version"]
            "H5get_libversion of the library h5doctor-probe loaded, as 1.10.8."
            => f.hdf5.library.as_ref().map(|l| &l.version);
    }
}
