//! The driver round trips: for each file driver this HDF5 has (sec2, stdio, core with a backing store,
//! family with small members, split, multi), create a probe file, write a dataset, close, reopen it
//! read-only, read the dataset back and compare, timing each. A failure names the step and carries HDF5's
//! error stack.
//!
//! Every file is named from this run's stem with `cleanup::stem_names` (chosen by h5doctor, which removes
//! exactly those names afterwards) and created with H5F_ACC_EXCL, so no other file is ever touched.

use crate::data;
use crate::errors::Hdf5Error;
use crate::handles::{c_path, check, new_fapl, Hid};
use h5doctor::cleanup::{stem_file, stem_names};
use h5doctor::facts::DriverCheck;
use hdf5_sys::h5f::{H5Fclose, H5Fcreate, H5Fopen, H5F_ACC_EXCL, H5F_ACC_RDONLY};
use hdf5_sys::h5p::{
    H5Pset_fapl_core, H5Pset_fapl_family, H5Pset_fapl_multi, H5Pset_fapl_sec2, H5Pset_fapl_split, H5Pset_fapl_stdio, H5P_DEFAULT,
};
use std::ffi::CString;
use std::path::Path;
use std::time::Instant;

/// Ints in the dataset: 16 KiB, enough to span several family members.
const VALUES: usize = 4096;
/// Family member size: small, so one probe file becomes several members.
pub const FAMILY_MEMBER_BYTES: u64 = 4096;
/// Growth increment of the core driver's memory image.
const CORE_INCREMENT: usize = 64 * 1024;

/// Selects a driver on a fapl.
pub type Configure = fn(&Hid) -> Result<(), Hdf5Error>;

/// How a driver is selected on a fapl, and the name HDF5 is given for its file.
struct Driver {
    name: &'static str,
    configure: Configure,
    /// The name passed to H5Fcreate, from the stem.
    file_name: fn(&str) -> String,
}

fn sec2(fapl: &Hid) -> Result<(), Hdf5Error> {
    // SAFETY: a valid fapl.
    check(unsafe { H5Pset_fapl_sec2(fapl.id()) })
}

fn stdio(fapl: &Hid) -> Result<(), Hdf5Error> {
    // SAFETY: a valid fapl.
    check(unsafe { H5Pset_fapl_stdio(fapl.id()) })
}

fn core(fapl: &Hid) -> Result<(), Hdf5Error> {
    // SAFETY: a valid fapl; backing store on, so the image is written to the file at close.
    check(unsafe { H5Pset_fapl_core(fapl.id(), CORE_INCREMENT, 1) })
}

fn family(fapl: &Hid) -> Result<(), Hdf5Error> {
    // SAFETY: a valid fapl; members use the default (sec2) driver.
    check(unsafe { H5Pset_fapl_family(fapl.id(), FAMILY_MEMBER_BYTES, H5P_DEFAULT) })
}

fn split(fapl: &Hid) -> Result<(), Hdf5Error> {
    let meta = CString::new(stem_names::SPLIT_META_EXT).expect("no NUL");
    let raw = CString::new(stem_names::SPLIT_RAW_EXT).expect("no NUL");
    // SAFETY: a valid fapl and NUL-terminated extensions; both halves use the default driver.
    check(unsafe { H5Pset_fapl_split(fapl.id(), meta.as_ptr(), H5P_DEFAULT, raw.as_ptr(), H5P_DEFAULT) })
}

fn multi(fapl: &Hid) -> Result<(), Hdf5Error> {
    // SAFETY: NULL maps, fapls, names and addresses select the library defaults (one file per kind of
    // data, named `<name>-s.h5`, `-b.h5`, `-r.h5`, `-g.h5`, `-l.h5`, `-o.h5`); relax = true.
    check(unsafe { H5Pset_fapl_multi(fapl.id(), std::ptr::null(), std::ptr::null(), std::ptr::null(), std::ptr::null(), 1) })
}

/// The family driver formats its name with printf: a `%` in the directory must be doubled.
fn printf_escaped(s: &str) -> String {
    s.replace('%', "%%")
}

const DRIVERS: &[Driver] = &[
    Driver {
        name: "sec2",
        configure: sec2,
        file_name: |stem| format!("{stem}{}", stem_names::SEC2),
    },
    Driver {
        name: "stdio",
        configure: stdio,
        file_name: |stem| format!("{stem}{}", stem_names::STDIO),
    },
    Driver {
        name: "core",
        configure: core,
        file_name: |stem| format!("{stem}{}", stem_names::CORE),
    },
    Driver {
        name: "family",
        configure: family,
        file_name: |stem| format!("{}{}", printf_escaped(stem), stem_names::FAMILY),
    },
    Driver {
        name: "split",
        configure: split,
        file_name: |stem| format!("{stem}{}", stem_names::SPLIT),
    },
    Driver {
        name: "multi",
        configure: multi,
        file_name: |stem| format!("{stem}{}", stem_names::MULTI),
    },
];

/// A failed step and HDF5's account of it.
struct StepFailure {
    step: &'static str,
    error: Hdf5Error,
}

fn at(step: &'static str) -> impl Fn(Hdf5Error) -> StepFailure {
    move |error| StepFailure { step, error }
}

/// create, write, close, reopen read-only, read, compare.
fn round_trip(driver: &Driver, name: &str, seed: i32) -> Result<(), StepFailure> {
    let fapl = new_fapl().map_err(at("fapl"))?;
    (driver.configure)(&fapl).map_err(at("fapl"))?;
    let c_name = c_path(name).map_err(at("create"))?;
    let expected = data::pattern(VALUES, seed);
    // SAFETY: valid C string and property lists; ids are closed by their guards.
    let file = Hid::new(
        unsafe { H5Fcreate(c_name.as_ptr(), H5F_ACC_EXCL, H5P_DEFAULT, fapl.id()) },
        H5Fclose,
    )
    .map_err(at("create"))?;
    data::write(&file, data::DATASET, &expected).map_err(at("write"))?;
    file.close().map_err(at("close"))?;
    let file = Hid::new(unsafe { H5Fopen(c_name.as_ptr(), H5F_ACC_RDONLY, fapl.id()) }, H5Fclose).map_err(at("reopen"))?;
    let got = data::read(&file, data::DATASET, VALUES).map_err(at("read"))?;
    file.close().map_err(at("close after read"))?;
    if got != expected {
        let first = got.iter().zip(&expected).position(|(a, b)| a != b).unwrap_or(0);
        return Err(StepFailure {
            step: "compare",
            error: Hdf5Error {
                stack: format!(
                    "read back different data: value {first} is {} instead of {}",
                    got[first], expected[first]
                ),
            },
        });
    }
    Ok(())
}

/// How many files one driver's probe file became on disk (looked up by name, never by listing).
fn files_on_disk(stem: &Path, driver: &str) -> usize {
    let named = |suffixes: Vec<String>| suffixes.iter().filter(|s| stem_file(stem, s).exists()).count();
    match driver {
        "family" => (0..)
            .take_while(|&i| stem_file(stem, &stem_names::family_member(i)).exists())
            .count(),
        "split" => named(
            [stem_names::SPLIT_META_EXT, stem_names::SPLIT_RAW_EXT]
                .map(|e| format!("{}{e}", stem_names::SPLIT))
                .to_vec(),
        ),
        "multi" => named(stem_names::MULTI_MEMBER_EXTS.map(|e| format!("{}{e}", stem_names::MULTI)).to_vec()),
        "sec2" => named(vec![stem_names::SEC2.into()]),
        "stdio" => named(vec![stem_names::STDIO.into()]),
        "core" => named(vec![stem_names::CORE.into()]),
        _ => 0,
    }
}

/// The local-file drivers of the round trip and how each is selected on a fapl: the library module asks
/// HDF5 whether it has each one by selecting it on a fresh fapl.
pub fn local_drivers() -> impl Iterator<Item = (&'static str, Configure)> {
    DRIVERS.iter().map(|d| (d.name, d.configure))
}

/// Runs every driver this library has, in the directory of `stem`.
pub fn check_all(stem: &Path) -> Vec<DriverCheck> {
    let stem_str = stem.to_string_lossy();
    DRIVERS
        .iter()
        .enumerate()
        .filter(|(_, d)| crate::library::has_driver(d.name))
        .map(|(i, driver)| {
            let start = Instant::now();
            let outcome = round_trip(driver, &(driver.file_name)(&stem_str), 1000 + i as i32);
            let elapsed_us = start.elapsed().as_micros() as u64;
            let mut check = DriverCheck {
                driver: driver.name.to_string(),
                ok: outcome.is_ok(),
                files_on_disk: files_on_disk(stem, driver.name),
                elapsed_us,
                ..DriverCheck::default()
            };
            if let Err(f) = outcome {
                check.failed_step = Some(f.step.to_string());
                check.errno = f.error.errno();
                check.error_leaf = f.error.leaf().or_else(|| Some(f.error.stack.clone()));
                check.error_stack = f.error.stack();
            }
            check
        })
        .collect()
}
