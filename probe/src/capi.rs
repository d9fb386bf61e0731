//! HDF5 calls that exist only from some version on, declared directly and compiled in only where the HDF5
//! the probe is built against has them (the cfgs come from build.rs, read from HDF5's own headers). The
//! probe links them like any other HDF5 function, so they work the same from a shared library and from a
//! static archive linked into the probe (where no run-time symbol look-up can find them).

#![allow(non_snake_case)]

use hdf5_sys::h5::{hbool_t, herr_t};
use hdf5_sys::h5i::hid_t;
use std::ffi::{c_char, c_int, c_uint, c_void};

/// The callback of H5Lvisit/H5Lvisit2: only the first field of the link info (its type, the same in
/// H5L_info1_t and H5L_info2_t) is read.
pub type LinkIterate = unsafe extern "C" fn(hid_t, *const c_char, *const c_void, *mut c_void) -> c_int;

extern "C" {
    #[cfg(hdf5_file_locking_api)]
    pub fn H5Pget_file_locking(fapl_id: hid_t, use_file_locking: *mut hbool_t, ignore_when_disabled: *mut hbool_t) -> herr_t;
    #[cfg(hdf5_file_locking_api)]
    pub fn H5Pset_file_locking(fapl_id: hid_t, use_file_locking: hbool_t, ignore_when_disabled: hbool_t) -> herr_t;
    #[cfg(hdf5_1_14)]
    pub fn H5FDis_driver_registered_by_name(driver_name: *const c_char) -> c_int;
    pub fn H5PLsize(num_paths: *mut c_uint) -> herr_t;
    pub fn H5PLget(index: c_uint, path_buf: *mut c_char, buf_size: usize) -> isize;
    #[cfg(hdf5_1_12)]
    pub fn H5Lvisit2(group: hid_t, idx_type: c_int, order: c_int, op: Option<LinkIterate>, op_data: *mut c_void) -> herr_t;
    #[cfg(not(hdf5_1_12))]
    pub fn H5Lvisit(group: hid_t, idx_type: c_int, order: c_int, op: Option<LinkIterate>, op_data: *mut c_void) -> herr_t;
    #[cfg(hdf5_have_direct)]
    pub fn H5Pset_fapl_direct(fapl_id: hid_t, alignment: usize, block_size: usize, cbuf_size: usize) -> herr_t;
}

/// H5Lvisit2 where the library has it (1.12+), else H5Lvisit.
///
/// # Safety
/// As H5Lvisit2: a valid group or file id, and a callback that treats `op_data` as what it is.
pub unsafe fn link_visit(group: hid_t, op: LinkIterate, op_data: *mut c_void) -> herr_t {
    // H5_INDEX_NAME = 0, H5_ITER_NATIVE = 2.
    #[cfg(hdf5_1_12)]
    return H5Lvisit2(group, 0, 2, Some(op), op_data);
    #[cfg(not(hdf5_1_12))]
    return H5Lvisit(group, 0, 2, Some(op), op_data);
}
