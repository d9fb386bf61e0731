//! Small safe helpers over the HDF5 C API: identifiers closed when dropped, C strings, property lists.

use crate::errors::Hdf5Error;
use hdf5_sys::h5::herr_t;
use hdf5_sys::h5f::{H5Fclose, H5Fopen, H5F_ACC_RDONLY};
use hdf5_sys::h5i::hid_t;
use hdf5_sys::h5p::{H5Pclose, H5Pcreate, H5P_CLS_FILE_ACCESS};
use std::ffi::CString;

/// An HDF5 identifier that is closed (with the right H5*close) when dropped.
pub struct Hid {
    id: hid_t,
    close: unsafe extern "C" fn(hid_t) -> herr_t,
}

impl Hid {
    /// Wraps the result of an HDF5 call; a negative id is the call's failure, with HDF5's error stack.
    pub fn new(id: hid_t, close: unsafe extern "C" fn(hid_t) -> herr_t) -> Result<Self, Hdf5Error> {
        if id < 0 {
            Err(Hdf5Error::capture())
        } else {
            Ok(Self { id, close })
        }
    }

    pub fn id(&self) -> hid_t {
        self.id
    }

    /// Closes now and reports the outcome (a file's close is where buffered data reaches the disk).
    pub fn close(self) -> Result<(), Hdf5Error> {
        let me = std::mem::ManuallyDrop::new(self);
        // SAFETY: the id is valid and closed exactly once (Drop does not run).
        if unsafe { (me.close)(me.id) } < 0 {
            Err(Hdf5Error::capture())
        } else {
            Ok(())
        }
    }
}

impl Drop for Hid {
    fn drop(&mut self) {
        // SAFETY: the id is valid; a failure while unwinding an earlier failure is not interesting.
        unsafe { (self.close)(self.id) };
    }
}

/// A herr_t result as Ok or the error stack.
pub fn check(rc: herr_t) -> Result<(), Hdf5Error> {
    if rc < 0 {
        Err(Hdf5Error::capture())
    } else {
        Ok(())
    }
}

/// A path as a C string; a NUL byte inside is an error HDF5 never sees.
pub fn c_path(path: &str) -> Result<CString, Hdf5Error> {
    CString::new(path).map_err(|_| Hdf5Error {
        stack: format!("file name {path:?} contains a NUL byte"),
    })
}

/// A fresh file access property list.
pub fn new_fapl() -> Result<Hid, Hdf5Error> {
    // SAFETY: H5open has run (library::describe), so the class id is valid.
    Hid::new(unsafe { H5Pcreate(*H5P_CLS_FILE_ACCESS) }, H5Pclose)
}

/// Switches file locking off on a fapl (HDF5 >= 1.10.7 / 1.12.1); false when this HDF5 cannot.
pub fn disable_locking(fapl: &Hid) -> bool {
    #[cfg(hdf5_file_locking_api)]
    // SAFETY: a valid fapl.
    return unsafe { crate::capi::H5Pset_file_locking(fapl.id(), 0, 1) } >= 0;
    #[cfg(not(hdf5_file_locking_api))]
    {
        let _ = fapl;
        false
    }
}

/// Opens an existing file read-only with locking off (where this HDF5 can), as the file doctor reads it.
pub fn open_read_only(file: &str) -> Result<Hid, Hdf5Error> {
    let name = c_path(file)?;
    let fapl = new_fapl()?;
    disable_locking(&fapl);
    // SAFETY: valid C string and fapl; read-only.
    Hid::new(unsafe { H5Fopen(name.as_ptr(), H5F_ACC_RDONLY, fapl.id()) }, H5Fclose)
}
