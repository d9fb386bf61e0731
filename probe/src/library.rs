//! What the loaded HDF5 library is (version, file, flavour, thread-safety, locking defaults) and what it
//! does when asked to create a file, with the complete error stack as HDF5 prints it.

use h5doctor::facts::{Hdf5Create, Hdf5Library};
use hdf5_sys::h5::{H5get_libversion, H5is_library_threadsafe, H5open};
use hdf5_sys::h5e::{H5Eprint2, H5Eset_auto2, H5E_DEFAULT};
use hdf5_sys::h5f::{H5Fclose, H5Fcreate, H5F_ACC_EXCL};
use hdf5_sys::h5i::hid_t;
use hdf5_sys::h5p::{H5Pclose, H5Pcreate, H5P_CLS_FILE_ACCESS, H5P_DEFAULT};
use std::ffi::{c_char, c_void, CStr, CString};

/// Looks a symbol up in the loaded libraries (functions newer than the oldest HDF5 we support).
fn symbol(name: &CStr) -> Option<*mut c_void> {
    // SAFETY: dlsym with RTLD_DEFAULT and a NUL-terminated name only reads the loader's tables.
    let p = unsafe { libc::dlsym(libc::RTLD_DEFAULT, name.as_ptr()) };
    (!p.is_null()).then_some(p)
}

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
    }
}

/// The current HDF5 error stack, printed by HDF5 itself into memory.
pub fn error_stack() -> String {
    let mut buf: *mut c_char = std::ptr::null_mut();
    let mut len: libc::size_t = 0;
    // SAFETY: open_memstream gives a FILE* that writes into a malloc'd buffer we free after fclose.
    unsafe {
        let stream = libc::open_memstream(&mut buf, &mut len);
        if stream.is_null() {
            return String::new();
        }
        H5Eprint2(H5E_DEFAULT, stream.cast());
        libc::fclose(stream);
        let text = String::from_utf8_lossy(std::slice::from_raw_parts(buf as *const u8, len)).into_owned();
        libc::free(buf.cast());
        text
    }
}

/// The innermost frame of an error stack (`#003: ... unable to lock file, errno = 524, ...`).
fn leaf(stack: &str) -> Option<String> {
    stack
        .lines()
        .rfind(|l| l.trim_start().starts_with('#'))
        .map(|l| l.trim().to_string())
}

/// The `errno = N` HDF5 puts into system-call failures.
fn errno_in(stack: &str) -> Option<i32> {
    let at = stack.rfind("errno = ")?;
    stack[at + 8..]
        .chars()
        .take_while(char::is_ascii_digit)
        .collect::<String>()
        .parse()
        .ok()
}

/// H5Fcreate(file, H5F_ACC_EXCL) with default property lists, closed at once.
pub fn create(file: &str) -> Hdf5Create {
    let Ok(c) = CString::new(file) else {
        return Hdf5Create {
            file: file.into(),
            ok: false,
            error_leaf: Some("file name contains a NUL byte".into()),
            ..Default::default()
        };
    };
    // SAFETY: valid C string and default property lists; the id is closed when valid.
    let id = unsafe { H5Fcreate(c.as_ptr(), H5F_ACC_EXCL, H5P_DEFAULT, H5P_DEFAULT) };
    if id >= 0 {
        unsafe { H5Fclose(id) };
        return Hdf5Create {
            file: file.into(),
            ok: true,
            ..Default::default()
        };
    }
    let stack = error_stack();
    Hdf5Create {
        file: file.into(),
        ok: false,
        errno: errno_in(&stack),
        error_leaf: leaf(&stack),
        error_stack: Some(stack),
    }
}
