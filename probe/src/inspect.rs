//! One existing HDF5 file, opened read-only: which filters its datasets need, and whether this HDF5 can
//! apply each (H5Zfilter_avail, which also searches the plugin path the way a read would).
//!
//! The file is never opened for writing. File locking is off for this open (h5doctor also sets
//! HDF5_USE_FILE_LOCKING=FALSE for this run), so the probe neither waits for a job holding the file nor
//! makes a job that opens it meanwhile fail.

use crate::errors::Hdf5Error;
use crate::handles::{open_read_only, Hid};
use crate::library::attempt_failed;
use h5doctor::facts::{FileProbeReport, FilterNeed, Hdf5Create, UnreadableObject, VirtualMapping};
use hdf5_sys::h5::hsize_t;
use hdf5_sys::h5d::H5D_layout_t;
use hdf5_sys::h5d::H5Dget_create_plist;
use hdf5_sys::h5i::{hid_t, H5I_type_t, H5Iget_type};
use hdf5_sys::h5o::{H5Oclose, H5Oopen};
use hdf5_sys::h5p::{
    H5Pclose, H5Pget_filter2, H5Pget_layout, H5Pget_nfilters, H5Pget_virtual_count, H5Pget_virtual_dsetname, H5Pget_virtual_filename,
    H5Pget_virtual_vspace, H5P_DEFAULT,
};
use hdf5_sys::h5s::{H5Sclose, H5Sget_select_bounds, H5Sget_simple_extent_ndims};
use hdf5_sys::h5z::{H5Zfilter_avail, H5Z_FLAG_OPTIONAL};
use std::collections::BTreeMap;
use std::ffi::{c_char, c_int, c_uint, c_void, CStr};

/// Datasets visited at most; a file with more is reported as such (the filters seen so far still count).
const MAX_DATASETS: u64 = 200_000;

/// Unreadable objects and virtual mappings recorded at most (the first ones tell the story).
const MAX_RECORDED: usize = 10_000;

/// What the visit has collected so far.
#[derive(Default)]
struct Visit {
    datasets: u64,
    filters: BTreeMap<i32, FilterNeed>,
    error: Option<String>,
    stopped_early: bool,
    unreadable: Vec<UnreadableObject>,
    mappings: Vec<VirtualMapping>,
}

/// A name HDF5 copies into a buffer: asked for its length first.
unsafe fn virtual_name(dcpl: hid_t, index: usize, get: unsafe extern "C" fn(hid_t, usize, *mut c_char, usize) -> isize) -> String {
    let len = get(dcpl, index, std::ptr::null_mut(), 0);
    if len < 0 {
        Hdf5Error::capture();
        return String::new();
    }
    let mut buf = vec![0 as c_char; len as usize + 1];
    get(dcpl, index, buf.as_mut_ptr(), buf.len());
    CStr::from_ptr(buf.as_ptr()).to_string_lossy().into_owned()
}

/// The mappings of a virtual dataset: source file and dataset, and the rows (first dimension) they fill.
fn record_virtual(dcpl: hid_t, name: &str, visit: &mut Visit) {
    // SAFETY: a valid dataset creation property list; ids returned are closed by their guards.
    unsafe {
        if H5Pget_layout(dcpl) != H5D_layout_t::H5D_VIRTUAL {
            return;
        }
        let mut count: usize = 0;
        if H5Pget_virtual_count(dcpl, &mut count) < 0 {
            Hdf5Error::capture();
            return;
        }
        for i in 0..count {
            if visit.mappings.len() >= MAX_RECORDED {
                break;
            }
            let rows = Hid::new(H5Pget_virtual_vspace(dcpl, i), H5Sclose).ok().and_then(|space| {
                let n = H5Sget_simple_extent_ndims(space.id());
                if n <= 0 {
                    return None;
                }
                let (mut start, mut end) = (vec![0 as hsize_t; n as usize], vec![0 as hsize_t; n as usize]);
                (H5Sget_select_bounds(space.id(), start.as_mut_ptr(), end.as_mut_ptr()) >= 0).then(|| (start[0], end[0]))
            });
            visit.mappings.push(VirtualMapping {
                dataset: name.to_string(),
                source_file: virtual_name(dcpl, i, H5Pget_virtual_filename),
                source_dataset: virtual_name(dcpl, i, H5Pget_virtual_dsetname),
                rows,
            });
        }
    }
}

/// H5L_TYPE_HARD; the link type is the first field of H5L_info_t in every HDF5 release.
const LINK_HARD: c_int = 0;

fn record_filters(dset: hid_t, name: &str, visit: &mut Visit) {
    // SAFETY: a valid dataset id; the property list is closed by its guard; buffers are sized as passed.
    unsafe {
        let Ok(dcpl) = Hid::new(H5Dget_create_plist(dset), H5Pclose) else {
            return;
        };
        let n = H5Pget_nfilters(dcpl.id());
        for i in 0..n.max(0) as c_uint {
            let mut flags: c_uint = 0;
            let mut nelmts: usize = 0;
            let mut fname = [0 as c_char; 256];
            let mut config: c_uint = 0;
            let id = H5Pget_filter2(
                dcpl.id(),
                i,
                &mut flags,
                &mut nelmts,
                std::ptr::null_mut(),
                fname.len(),
                fname.as_mut_ptr(),
                &mut config,
            );
            if id < 0 {
                Hdf5Error::capture();
                continue;
            }
            let optional = flags & H5Z_FLAG_OPTIONAL != 0;
            let entry = visit.filters.entry(id).or_insert_with(|| FilterNeed {
                id,
                name: CStr::from_ptr(fname.as_ptr()).to_string_lossy().into_owned(),
                example_dataset: name.to_string(),
                optional: true,
                ..FilterNeed::default()
            });
            entry.datasets += 1;
            entry.optional &= optional;
        }
        record_virtual(dcpl.id(), name, visit);
    }
}

unsafe extern "C" fn visit_link(group: hid_t, name: *const c_char, info: *const c_void, data: *mut c_void) -> c_int {
    let visit = &mut *(data as *mut Visit);
    if info.is_null() || *(info as *const c_int) != LINK_HARD {
        return 0;
    }
    if visit.datasets >= MAX_DATASETS {
        visit.stopped_early = true;
        return 1;
    }
    let obj = match Hid::new(H5Oopen(group, name, H5P_DEFAULT), H5Oclose) {
        Ok(obj) => obj,
        Err(e) => {
            // An object this HDF5 cannot open: a datatype class, layout or header version it does not know.
            if visit.unreadable.len() < MAX_RECORDED {
                visit.unreadable.push(UnreadableObject {
                    path: format!("/{}", CStr::from_ptr(name).to_string_lossy()),
                    error_leaf: e.leaf().unwrap_or(e.stack),
                });
            }
            return 0;
        }
    };
    if H5Iget_type(obj.id()) == H5I_type_t::H5I_DATASET {
        visit.datasets += 1;
        let name = CStr::from_ptr(name).to_string_lossy().into_owned();
        record_filters(obj.id(), &format!("/{name}"), visit);
    }
    0
}

fn visit_all(file: &Hid, visit: &mut Visit) {
    // SAFETY: H5Lvisit(2)(file, H5_INDEX_NAME, H5_ITER_NATIVE, callback, data); the callback only reads the
    // link type and uses `data` as the Visit it was given.
    unsafe {
        if crate::capi::link_visit(file.id(), visit_link, visit as *mut Visit as *mut c_void) < 0 {
            let e = Hdf5Error::capture();
            visit.error = Some(e.leaf().unwrap_or(e.stack));
        }
    }
}

/// Opens one file read-only and lists the filters its datasets need.
pub fn inspect(file: &str) -> FileProbeReport {
    let mut report = FileProbeReport {
        file: file.to_string(),
        ..FileProbeReport::default()
    };
    let handle = match open_read_only(file) {
        Ok(h) => h,
        Err(e) => {
            report.open = attempt_failed(file, e);
            return report;
        }
    };
    report.open = Hdf5Create {
        file: file.to_string(),
        ok: true,
        ..Hdf5Create::default()
    };
    let mut visit = Visit::default();
    visit_all(&handle, &mut visit);
    drop(handle);
    for need in visit.filters.values_mut() {
        // SAFETY: H5Zfilter_avail takes any filter id.
        let avail = unsafe { H5Zfilter_avail(need.id) };
        need.available = avail > 0;
        if avail <= 0 {
            let e = Hdf5Error::capture();
            need.unavailable_reason = e.leaf();
        }
    }
    report.datasets = visit.datasets;
    report.visit_error = visit.error;
    report.stopped_early = visit.stopped_early;
    report.filters = visit.filters.into_values().collect();
    report.unreadable = visit.unreadable;
    report.virtual_mappings = visit.mappings;
    report
}
