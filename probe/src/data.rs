//! The test data the driver and mode checks write and read back: a one-dimensional dataset of native
//! ints with a recognisable pattern, so a read that returns zeros or another file's bytes is caught.

use crate::errors::Hdf5Error;
use crate::handles::{check, Hid};
use hdf5_sys::h5d::{H5Dclose, H5Dcreate2, H5Dopen2, H5Dread, H5Dwrite};
use hdf5_sys::h5g::{H5Gclose, H5Gcreate2};
use hdf5_sys::h5l::H5Lexists;
use hdf5_sys::h5p::H5P_DEFAULT;
use hdf5_sys::h5s::{H5Sclose, H5Screate_simple, H5S_ALL};
use hdf5_sys::h5t::H5T_NATIVE_INT;
use std::ffi::CStr;

/// The dataset every check writes.
pub const DATASET: &CStr = c"h5doctor-data";

/// `n` values that differ from file to file (`seed`) and from position to position.
pub fn pattern(n: usize, seed: i32) -> Vec<i32> {
    (0..n as i32).map(|i| i.wrapping_mul(7).wrapping_add(seed)).collect()
}

/// Creates `name` in `file` and writes `data` into it.
pub fn write(file: &Hid, name: &CStr, data: &[i32]) -> Result<(), Hdf5Error> {
    let dims = [data.len() as u64];
    // SAFETY: valid ids; `dims` has rank 1; the buffer holds dims[0] native ints.
    unsafe {
        let space = Hid::new(H5Screate_simple(1, dims.as_ptr(), std::ptr::null()), H5Sclose)?;
        let dset = Hid::new(
            H5Dcreate2(
                file.id(),
                name.as_ptr(),
                *H5T_NATIVE_INT,
                space.id(),
                H5P_DEFAULT,
                H5P_DEFAULT,
                H5P_DEFAULT,
            ),
            H5Dclose,
        )?;
        check(H5Dwrite(
            dset.id(),
            *H5T_NATIVE_INT,
            H5S_ALL,
            H5S_ALL,
            H5P_DEFAULT,
            data.as_ptr().cast(),
        ))?;
        dset.close()
    }
}

/// Reads `n` ints from `name` in `file`.
pub fn read(file: &Hid, name: &CStr, n: usize) -> Result<Vec<i32>, Hdf5Error> {
    let mut buf = vec![0i32; n];
    // SAFETY: valid ids; the buffer holds n native ints, the size the dataset was written with.
    unsafe {
        let dset = Hid::new(H5Dopen2(file.id(), name.as_ptr(), H5P_DEFAULT), H5Dclose)?;
        check(H5Dread(
            dset.id(),
            *H5T_NATIVE_INT,
            H5S_ALL,
            H5S_ALL,
            H5P_DEFAULT,
            buf.as_mut_ptr().cast(),
        ))?;
        dset.close()?;
    }
    Ok(buf)
}

/// Whether a link `name` exists in the root group of `file`.
pub fn exists(file: &Hid, name: &CStr) -> Result<bool, Hdf5Error> {
    // SAFETY: valid id and C string.
    let rc = unsafe { H5Lexists(file.id(), name.as_ptr(), H5P_DEFAULT) };
    if rc < 0 {
        Err(Hdf5Error::capture())
    } else {
        Ok(rc > 0)
    }
}

/// Creates an empty group `name` (a write that needs no data).
pub fn create_group(file: &Hid, name: &CStr) -> Result<(), Hdf5Error> {
    // SAFETY: valid id and C string, default property lists.
    unsafe {
        Hid::new(
            H5Gcreate2(file.id(), name.as_ptr(), H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT),
            H5Gclose,
        )?
        .close()
    }
}
