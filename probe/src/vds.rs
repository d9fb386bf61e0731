//! `vds-read FILE...`: reads one element of every mapping of each file's virtual datasets, as a job's read
//! makes HDF5 open their source files, then lists the files the process holds open while the virtual
//! datasets stay open (HDF5 keeps a source open until its virtual dataset is closed). A source HDF5 could
//! not open (missing, or no descriptor left under RLIMIT_NOFILE) gives no error, only fill values: the
//! open files are the proof of which sources it really read. h5doctor runs this with a fix applied (a
//! raised open-files limit, an HDF5_VDS_PREFIX) to verify the fix. The file is opened read-only, without
//! file locking.

use crate::errors::Hdf5Error;
use crate::handles::{c_path, open_read_only, Hid};
use h5doctor::facts::VdsReadReport;
use hdf5_sys::h5::hsize_t;
use hdf5_sys::h5d::{H5D_layout_t, H5Dclose, H5Dget_create_plist, H5Dget_space, H5Dget_type, H5Dopen2, H5Dread};
use hdf5_sys::h5p::{H5Pclose, H5Pget_layout, H5Pget_virtual_count, H5Pget_virtual_vspace, H5P_DEFAULT};
use hdf5_sys::h5s::{
    H5S_seloper_t, H5Sclose, H5Screate_simple, H5Sget_select_bounds, H5Sget_simple_extent_dims, H5Sget_simple_extent_ndims,
    H5Sselect_hyperslab,
};
use hdf5_sys::h5t::{H5Tclose, H5Tget_size};

/// Reads one element at the first corner of every mapping of the virtual dataset `name`; returns how many
/// reads were made, and HDF5's words for the ones that failed.
fn read_mappings(dset: &Hid, name: &str, errors: &mut Vec<String>) -> u64 {
    let mut reads = 0;
    // SAFETY: valid ids, closed by their guards; every buffer is sized as HDF5 is told.
    unsafe {
        let Ok(dcpl) = Hid::new(H5Dget_create_plist(dset.id()), H5Pclose) else {
            return 0;
        };
        if H5Pget_layout(dcpl.id()) != H5D_layout_t::H5D_VIRTUAL {
            return 0;
        }
        let mut count: usize = 0;
        if H5Pget_virtual_count(dcpl.id(), &mut count) < 0 {
            Hdf5Error::capture();
            return 0;
        }
        let (Ok(ftype), Ok(fspace)) = (
            Hid::new(H5Dget_type(dset.id()), H5Tclose),
            Hid::new(H5Dget_space(dset.id()), H5Sclose),
        ) else {
            return 0;
        };
        let ndims = H5Sget_simple_extent_ndims(fspace.id());
        if ndims <= 0 {
            return 0;
        }
        let n = ndims as usize;
        let mut extent = vec![0 as hsize_t; n];
        H5Sget_simple_extent_dims(fspace.id(), extent.as_mut_ptr(), std::ptr::null_mut());
        let mut buf = vec![0u8; H5Tget_size(ftype.id()).max(1)];
        let one = vec![1 as hsize_t; n];
        let Ok(mspace) = Hid::new(H5Screate_simple(1, one.as_ptr(), std::ptr::null()), H5Sclose) else {
            return 0;
        };
        for i in 0..count {
            let Ok(vspace) = Hid::new(H5Pget_virtual_vspace(dcpl.id(), i), H5Sclose) else {
                continue;
            };
            let (mut start, mut end) = (vec![0 as hsize_t; n], vec![0 as hsize_t; n]);
            if H5Sget_select_bounds(vspace.id(), start.as_mut_ptr(), end.as_mut_ptr()) < 0 {
                Hdf5Error::capture();
                continue;
            }
            // A mapping beyond the current extent (an unlimited one not yet filled) backs no data yet.
            if start.iter().zip(&extent).any(|(s, e)| s >= e) {
                continue;
            }
            let selected = H5Sselect_hyperslab(
                fspace.id(),
                H5S_seloper_t::H5S_SELECT_SET,
                start.as_ptr(),
                std::ptr::null(),
                one.as_ptr(),
                std::ptr::null(),
            );
            if selected < 0 {
                Hdf5Error::capture();
                continue;
            }
            reads += 1;
            if H5Dread(
                dset.id(),
                ftype.id(),
                mspace.id(),
                fspace.id(),
                H5P_DEFAULT,
                buf.as_mut_ptr().cast(),
            ) < 0
            {
                let e = Hdf5Error::capture();
                errors.push(format!("{name} mapping {i}: {}", e.leaf().unwrap_or(e.stack)));
            }
        }
    }
    reads
}

/// The regular files this process has open (readlink of /proc/self/fd/N: no descriptor needed, so it
/// works when none is left).
fn open_files() -> Vec<String> {
    let mut limit = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
    // SAFETY: getrlimit fills the struct it is given.
    let soft = if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) } == 0 {
        limit.rlim_cur.min(1 << 20)
    } else {
        1024
    };
    let mut out: Vec<String> = (0..soft)
        .filter_map(|fd| std::fs::read_link(format!("/proc/self/fd/{fd}")).ok())
        .filter(|p| p.is_absolute() && p.is_file())
        .map(|p| p.display().to_string())
        .collect();
    out.sort();
    out.dedup();
    out
}

/// Opens `file` read-only, reads every virtual dataset's mappings and reports the files then open.
pub fn read(file: &str, datasets: &[String]) -> VdsReadReport {
    let mut report = VdsReadReport {
        file: file.to_string(),
        ..VdsReadReport::default()
    };
    let handle = match open_read_only(file) {
        Ok(h) => h,
        Err(e) => {
            report.error = Some(e.leaf().unwrap_or(e.stack));
            return report;
        }
    };
    let mut open_dsets = Vec::new();
    for name in datasets {
        let Ok(cname) = c_path(name) else { continue };
        // SAFETY: valid file id and C string.
        match Hid::new(unsafe { H5Dopen2(handle.id(), cname.as_ptr(), H5P_DEFAULT) }, H5Dclose) {
            Ok(dset) => {
                report.mappings_read += read_mappings(&dset, name, &mut report.read_errors);
                open_dsets.push(dset);
            }
            Err(e) => report.read_errors.push(format!("{name}: {}", e.leaf().unwrap_or(e.stack))),
        }
    }
    report.open_files = open_files();
    drop(open_dsets);
    report
}
