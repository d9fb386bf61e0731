//! What the loaded HDF5 library is (version, file, flavour, thread-safety, locking defaults, drivers,
//! plugin search path) and what it does when asked to create a file, with the complete error stack as
//! HDF5 prints it.

use crate::errors::Hdf5Error;
use crate::handles::{c_path, symbol};
use h5doctor::facts::{DriverAvailability, Hdf5Create, Hdf5Library};
use hdf5_sys::h5::{H5get_libversion, H5is_library_threadsafe, H5open};
use hdf5_sys::h5e::{H5Eset_auto2, H5E_DEFAULT};
use hdf5_sys::h5f::{H5Fclose, H5Fcreate, H5F_ACC_EXCL};
use hdf5_sys::h5i::hid_t;
use hdf5_sys::h5p::{H5Pclose, H5Pcreate, H5P_CLS_FILE_ACCESS, H5P_DEFAULT};
use std::ffi::{c_char, c_uint, c_void, CStr};

/// The file a symbol was loaded from.
fn object_of(addr: *const c_void) -> Option<String> {
    let mut info: libc::Dl_info = unsafe { std::mem::zeroed() };
    // SAFETY: dladdr fills `info` for an address inside a loaded object.
    if unsafe { libc::dladdr(addr, &mut info) } == 0 || info.dli_fname.is_null() {
        return None;
    }
    let name = unsafe { CStr::from_ptr(info.dli_fname) }.to_string_lossy().into_owned();
    Some(std::fs::canonicalize(&name).map(|p| p.display().to_string()).unwrap_or(name))
}

type GetFileLocking = unsafe extern "C" fn(hid_t, *mut u8, *mut u8) -> i32;

fn default_locking() -> Option<(bool, bool)> {
    let f = symbol(c"H5Pget_file_locking")?;
    // SAFETY: H5Pget_file_locking(hid_t, hbool_t*, hbool_t*) -> herr_t, present since 1.10.7/1.12.1.
    unsafe {
        let get: GetFileLocking = std::mem::transmute(f);
        let fapl = H5Pcreate(*H5P_CLS_FILE_ACCESS);
        let (mut use_locks, mut ignore) = (0u8, 0u8);
        let rc = get(fapl, &mut use_locks, &mut ignore);
        H5Pclose(fapl);
        (rc >= 0).then_some((use_locks != 0, ignore != 0))
    }
}

/// File drivers by the function that selects them; optional ones exist only in some builds.
const DRIVERS: &[(&str, &CStr)] = &[
    ("sec2", c"H5Pset_fapl_sec2"),
    ("stdio", c"H5Pset_fapl_stdio"),
    ("core", c"H5Pset_fapl_core"),
    ("family", c"H5Pset_fapl_family"),
    ("split", c"H5Pset_fapl_split"),
    ("multi", c"H5Pset_fapl_multi"),
    ("log", c"H5Pset_fapl_log"),
    ("direct", c"H5Pset_fapl_direct"),
    ("mpio", c"H5Pset_fapl_mpio"),
    ("ros3", c"H5Pset_fapl_ros3"),
    ("hdfs", c"H5Pset_fapl_hdfs"),
    ("subfiling", c"H5Pset_fapl_subfiling"),
];

fn drivers() -> Vec<DriverAvailability> {
    DRIVERS
        .iter()
        .map(|(name, sym)| DriverAvailability {
            name: name.to_string(),
            available: symbol(sym).is_some(),
        })
        .collect()
}

type PlSize = unsafe extern "C" fn(*mut c_uint) -> i32;
type PlGet = unsafe extern "C" fn(c_uint, *mut c_char, usize) -> isize;

/// The plugin search path as the library holds it (H5PLsize/H5PLget, HDF5 >= 1.10.1).
pub fn plugin_search_path() -> Vec<String> {
    let (Some(size), Some(get)) = (symbol(c"H5PLsize"), symbol(c"H5PLget")) else {
        return Vec::new();
    };
    // SAFETY: the documented signatures; H5PLget with a NULL buffer returns the length.
    unsafe {
        let size: PlSize = std::mem::transmute(size);
        let get: PlGet = std::mem::transmute(get);
        let mut n: c_uint = 0;
        if size(&mut n) < 0 {
            Hdf5Error::capture();
            return Vec::new();
        }
        (0..n)
            .filter_map(|i| {
                let len = get(i, std::ptr::null_mut(), 0);
                if len < 0 {
                    Hdf5Error::capture();
                    return None;
                }
                let mut buf = vec![0u8; len as usize + 1];
                (get(i, buf.as_mut_ptr().cast(), buf.len()) >= 0).then(|| String::from_utf8_lossy(&buf[..len as usize]).into_owned())
            })
            .collect()
    }
}

/// Initialises HDF5 (with automatic error printing off) and describes it.
pub fn describe() -> Hdf5Library {
    let (mut major, mut minor, mut release) = (0, 0, 0);
    let mut threadsafe = 0;
    // SAFETY: plain HDF5 calls with valid out-pointers; H5open first so the global ids are set.
    unsafe {
        H5open();
        H5Eset_auto2(H5E_DEFAULT, None, std::ptr::null_mut());
        H5get_libversion(&mut major, &mut minor, &mut release);
        H5is_library_threadsafe(&mut threadsafe);
    }
    Hdf5Library {
        version: format!("{major}.{minor}.{release}"),
        path: object_of(H5open as *const c_void),
        parallel: symbol(c"H5Pset_fapl_mpio").is_some(),
        threadsafe: threadsafe != 0,
        default_locking: default_locking(),
        env_use_file_locking: std::env::var("HDF5_USE_FILE_LOCKING").ok(),
        drivers: drivers(),
        plugin_search_path: plugin_search_path(),
    }
}

/// H5Fcreate(file, H5F_ACC_EXCL) with default property lists, closed at once. A failed close is a failed
/// create: HDF5 writes the superblock when it flushes at close, so a full disk or an exhausted quota often
/// shows only there (`Can't decrement id ref count (... errno = 122 ...)` in h5py).
pub fn create(file: &str) -> Hdf5Create {
    let c = match c_path(file) {
        Ok(c) => c,
        Err(e) => {
            return Hdf5Create {
                file: file.into(),
                ok: false,
                error_leaf: Some(e.stack),
                ..Default::default()
            }
        }
    };
    // SAFETY: valid C string and default property lists; the id is closed when valid.
    let id = unsafe { H5Fcreate(c.as_ptr(), H5F_ACC_EXCL, H5P_DEFAULT, H5P_DEFAULT) };
    if id >= 0 {
        if unsafe { H5Fclose(id) } < 0 {
            return attempt_failed(file, Hdf5Error::capture());
        }
        return Hdf5Create {
            file: file.into(),
            ok: true,
            ..Default::default()
        };
    }
    attempt_failed(file, Hdf5Error::capture())
}

/// An attempt that failed, with HDF5's error stack as evidence.
pub fn attempt_failed(file: &str, e: Hdf5Error) -> Hdf5Create {
    Hdf5Create {
        file: file.into(),
        ok: false,
        errno: e.errno(),
        error_leaf: e.leaf().or_else(|| (!e.stack.is_empty()).then(|| e.stack.clone())),
        error_stack: e.stack(),
    }
}
