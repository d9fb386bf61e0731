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

/// H5FD_splitter_vfd_config_t (H5FDsplitter.h, the same in 1.10.7+, 1.12.1+, 1.14 and 2.x; hbool_t is C's
/// bool in all of them). hdf5-sys declares it with private fields, so the probe has its own.
#[cfg(hdf5_splitter)]
#[repr(C)]
pub struct SplitterConfig {
    pub magic: i32,
    pub version: c_uint,
    pub rw_fapl_id: hid_t,
    pub wo_fapl_id: hid_t,
    pub wo_path: [c_char; SPLITTER_PATH_MAX + 1],
    pub log_file_path: [c_char; SPLITTER_PATH_MAX + 1],
    pub ignore_wo_errs: bool,
}

/// H5FD_SPLITTER_PATH_MAX, H5FD_SPLITTER_MAGIC, H5FD_CURR_SPLITTER_VFD_CONFIG_VERSION.
#[cfg(hdf5_splitter)]
pub const SPLITTER_PATH_MAX: usize = 4096;
#[cfg(hdf5_splitter)]
pub const SPLITTER_MAGIC: i32 = 0x2B91_6880;
#[cfg(hdf5_splitter)]
pub const SPLITTER_CONFIG_VERSION: c_uint = 1;

/// H5FD_onion_fapl_info_t (H5FDonion.h, 1.14 and 2.x).
#[cfg(hdf5_1_14)]
#[repr(C)]
pub struct OnionFaplInfo {
    pub version: u8,
    pub backing_fapl_id: hid_t,
    pub page_size: u32,
    /// H5FD_onion_target_file_constant_t: H5FD_ONION_STORE_TARGET_ONION = 0 is its only value.
    pub store_target: c_int,
    pub revision_num: u64,
    pub force_write_open: u8,
    pub creation_flags: u8,
    pub comment: [c_char; 256],
}

/// H5FD_ONION_FAPL_INFO_VERSION_CURR and H5FD_ONION_FAPL_INFO_REVISION_ID_LATEST.
#[cfg(hdf5_1_14)]
pub const ONION_FAPL_INFO_VERSION: u8 = 1;
#[cfg(hdf5_1_14)]
pub const ONION_REVISION_LATEST: u64 = u64::MAX;

extern "C" {
    #[cfg(hdf5_splitter)]
    #[link_name = "H5Pset_fapl_splitter"]
    pub fn set_fapl_splitter(fapl_id: hid_t, config: *mut SplitterConfig) -> herr_t;
    #[cfg(hdf5_1_14)]
    pub fn H5Pset_fapl_onion(fapl_id: hid_t, info: *const OnionFaplInfo) -> herr_t;
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
