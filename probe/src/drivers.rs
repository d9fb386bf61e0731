//! The driver round trips: for each local file driver this HDF5 has (sec2, stdio, core with a backing
//! store, family with small members, split, multi, log with its log file, direct when built with it,
//! splitter with a write-only copy (1.10.7+/1.12.1+), onion (1.14+)), create a probe file, write a dataset,
//! close, reopen it read-only, read the dataset back and compare, timing each. A failure names the step and
//! carries HDF5's error stack. The direct driver needs O_DIRECT, which some file systems refuse (tmpfs
//! before Linux 6.6, some FUSE and network file systems): there it is recorded as not applicable instead of
//! run.
//!
//! Every file is named from this run's stem with `cleanup::stem_names` (chosen by h5doctor, which removes
//! exactly those names afterwards) and created with H5F_ACC_EXCL, so no other file is ever touched.

use crate::data;
use crate::errors::Hdf5Error;
use crate::handles::{c_path, check, new_fapl, Hid};
use h5doctor::cleanup::{stem_file, stem_names};
use h5doctor::facts::values::{DriverStep, FileDriver};
use h5doctor::facts::{DriverAvailability, DriverCheck};
use hdf5_sys::h5f::{H5Fclose, H5Fcreate, H5Fopen, H5F_ACC_EXCL, H5F_ACC_RDONLY};
use hdf5_sys::h5p::{
    H5Pset_fapl_core, H5Pset_fapl_family, H5Pset_fapl_log, H5Pset_fapl_multi, H5Pset_fapl_sec2, H5Pset_fapl_split, H5Pset_fapl_stdio,
    H5P_DEFAULT,
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

/// Selects a driver on a fapl for a file of that name (the log and splitter drivers name their side
/// files after it; selecting a driver creates no file).
pub type Configure = fn(&Hid, &str) -> Result<(), Hdf5Error>;

/// How a driver is selected on a fapl, and the name HDF5 is given for its file.
struct Driver {
    name: FileDriver,
    configure: Configure,
    /// The name passed to H5Fcreate, from the stem.
    file_name: fn(&str) -> String,
    /// Whether the selection names files after the HDF5 file (the log driver's log, the splitter's
    /// write-only copy), so each directory needs a fapl of its own.
    per_file: bool,
}

/// The fapls `library::describe` selected the local drivers on (once per run, to ask HDF5 whether it has
/// them), kept for this run's round trips where the selection does not depend on the file's name: every
/// driver but log and splitter gets the same settings in every directory, so its fapl is set up once per
/// run instead of once more per directory (H5Pset_fapl_multi alone is ~0.3 M instructions). HDF5 copies
/// a fapl into each file it opens, so one fapl serves any number of creates and opens.
#[derive(Default)]
pub struct Selections(Vec<(FileDriver, Hid)>);

impl Selections {
    /// Keeps `fapl`, on which `name` was selected successfully, unless that driver's selection is per file.
    pub fn keep(&mut self, name: FileDriver, fapl: Hid) {
        if DRIVERS.iter().any(|d| d.name == name && !d.per_file) {
            self.0.push((name, fapl));
        }
    }

    fn get(&self, name: FileDriver) -> Option<&Hid> {
        self.0.iter().find(|(n, _)| *n == name).map(|(_, fapl)| fapl)
    }
}

fn sec2(fapl: &Hid, _file: &str) -> Result<(), Hdf5Error> {
    // SAFETY: a valid fapl.
    check(unsafe { H5Pset_fapl_sec2(fapl.id()) })
}

fn stdio(fapl: &Hid, _file: &str) -> Result<(), Hdf5Error> {
    // SAFETY: a valid fapl.
    check(unsafe { H5Pset_fapl_stdio(fapl.id()) })
}

fn core(fapl: &Hid, _file: &str) -> Result<(), Hdf5Error> {
    // SAFETY: a valid fapl; backing store on, so the image is written to the file at close.
    check(unsafe { H5Pset_fapl_core(fapl.id(), CORE_INCREMENT, 1) })
}

fn family(fapl: &Hid, _file: &str) -> Result<(), Hdf5Error> {
    // SAFETY: a valid fapl; members use the default (sec2) driver.
    check(unsafe { H5Pset_fapl_family(fapl.id(), FAMILY_MEMBER_BYTES, H5P_DEFAULT) })
}

fn split(fapl: &Hid, _file: &str) -> Result<(), Hdf5Error> {
    let meta = CString::new(stem_names::SPLIT_META_EXT).expect("no NUL");
    let raw = CString::new(stem_names::SPLIT_RAW_EXT).expect("no NUL");
    // SAFETY: a valid fapl and NUL-terminated extensions; both halves use the default driver.
    check(unsafe { H5Pset_fapl_split(fapl.id(), meta.as_ptr(), H5P_DEFAULT, raw.as_ptr(), H5P_DEFAULT) })
}

fn multi(fapl: &Hid, _file: &str) -> Result<(), Hdf5Error> {
    // SAFETY: NULL maps, fapls, names and addresses select the library defaults (one file per kind of
    // data, named `<name>-s.h5`, `-b.h5`, `-r.h5`, `-g.h5`, `-l.h5`, `-o.h5`); relax = true.
    check(unsafe { H5Pset_fapl_multi(fapl.id(), std::ptr::null(), std::ptr::null(), std::ptr::null(), std::ptr::null(), 1) })
}

/// H5FD_LOG_LOC_WRITE: the log driver records where each write goes.
const LOG_LOC_WRITE: std::ffi::c_ulonglong = 0x4;

/// The log file of a log-driver file: `-log.h5` -> `-log.log`.
fn log_file_of(file: &str) -> String {
    format!("{}{}", file.strip_suffix(stem_names::LOG).unwrap_or(file), stem_names::LOG_LOG)
}

fn log(fapl: &Hid, file: &str) -> Result<(), Hdf5Error> {
    let log_file = c_path(&log_file_of(file))?;
    // SAFETY: a valid fapl and a NUL-terminated log file name (HDF5 copies it); the log file is opened
    // only when the HDF5 file is.
    check(unsafe { H5Pset_fapl_log(fapl.id(), log_file.as_ptr(), LOG_LOC_WRITE as _, 0) })
}

#[cfg(hdf5_have_direct)]
fn direct(fapl: &Hid, _file: &str) -> Result<(), Hdf5Error> {
    // SAFETY: a valid fapl; 4 KiB alignment and block size, a 16 MiB copy buffer.
    check(unsafe { crate::capi::H5Pset_fapl_direct(fapl.id(), 4096, 4096, 16 << 20) })
}

/// The write-only copy of a splitter-driver file: `-splitter.h5` -> `-splitter-wo.h5`.
#[cfg(hdf5_splitter)]
fn splitter_copy_of(file: &str) -> String {
    format!(
        "{}{}",
        file.strip_suffix(stem_names::SPLITTER).unwrap_or(file),
        stem_names::SPLITTER_WO
    )
}

#[cfg(hdf5_splitter)]
fn splitter(fapl: &Hid, file: &str) -> Result<(), Hdf5Error> {
    use crate::capi::{SplitterConfig, SPLITTER_CONFIG_VERSION, SPLITTER_MAGIC, SPLITTER_PATH_MAX};
    let copy = splitter_copy_of(file);
    if copy.len() > SPLITTER_PATH_MAX {
        return Err(Hdf5Error {
            stack: format!("{copy}: longer than the splitter driver's {SPLITTER_PATH_MAX} bytes"),
        });
    }
    let mut config = SplitterConfig {
        magic: SPLITTER_MAGIC,
        version: SPLITTER_CONFIG_VERSION,
        rw_fapl_id: H5P_DEFAULT,
        wo_fapl_id: H5P_DEFAULT,
        wo_path: [0; SPLITTER_PATH_MAX + 1],
        log_file_path: [0; SPLITTER_PATH_MAX + 1],
        ignore_wo_errs: false,
    };
    for (to, from) in config.wo_path.iter_mut().zip(copy.bytes()) {
        *to = from as std::ffi::c_char;
    }
    // SAFETY: a valid fapl and a config of H5FDsplitter.h's layout (HDF5 copies it); both channels use the
    // default driver, no log file (an empty path), errors on the write-only copy are not ignored.
    check(unsafe { crate::capi::set_fapl_splitter(fapl.id(), &mut config) })
}

#[cfg(hdf5_1_14)]
fn onion(fapl: &Hid, _file: &str) -> Result<(), Hdf5Error> {
    use crate::capi::{OnionFaplInfo, ONION_FAPL_INFO_VERSION, ONION_REVISION_LATEST};
    let info = OnionFaplInfo {
        version: ONION_FAPL_INFO_VERSION,
        backing_fapl_id: H5P_DEFAULT,
        page_size: 4096,
        store_target: 0,
        revision_num: ONION_REVISION_LATEST,
        force_write_open: 0,
        creation_flags: 0,
        comment: [0; 256],
    };
    // SAFETY: a valid fapl and an info of H5FDonion.h's layout (HDF5 copies it); the backing files use the
    // default driver (sec2), the history is kept in `<file>.onion`.
    check(unsafe { crate::capi::H5Pset_fapl_onion(fapl.id(), &info) })
}

/// The family driver formats its name with printf: a `%` in the directory must be doubled.
fn printf_escaped(s: &str) -> String {
    s.replace('%', "%%")
}

const DRIVERS: &[Driver] = &[
    Driver {
        name: FileDriver::Sec2,
        configure: sec2,
        file_name: |stem| format!("{stem}{}", stem_names::SEC2),
        per_file: false,
    },
    Driver {
        name: FileDriver::Stdio,
        configure: stdio,
        file_name: |stem| format!("{stem}{}", stem_names::STDIO),
        per_file: false,
    },
    Driver {
        name: FileDriver::Core,
        configure: core,
        file_name: |stem| format!("{stem}{}", stem_names::CORE),
        per_file: false,
    },
    Driver {
        name: FileDriver::Family,
        configure: family,
        file_name: |stem| format!("{}{}", printf_escaped(stem), stem_names::FAMILY),
        per_file: false,
    },
    Driver {
        name: FileDriver::Split,
        configure: split,
        file_name: |stem| format!("{stem}{}", stem_names::SPLIT),
        per_file: false,
    },
    Driver {
        name: FileDriver::Multi,
        configure: multi,
        file_name: |stem| format!("{stem}{}", stem_names::MULTI),
        per_file: false,
    },
    Driver {
        name: FileDriver::Log,
        configure: log,
        file_name: |stem| format!("{stem}{}", stem_names::LOG),
        per_file: true,
    },
    #[cfg(hdf5_have_direct)]
    Driver {
        name: FileDriver::Direct,
        configure: direct,
        file_name: |stem| format!("{stem}{}", stem_names::DIRECT),
        per_file: false,
    },
    #[cfg(hdf5_splitter)]
    Driver {
        name: FileDriver::Splitter,
        configure: splitter,
        file_name: |stem| format!("{stem}{}", stem_names::SPLITTER),
        per_file: true,
    },
    #[cfg(hdf5_1_14)]
    Driver {
        name: FileDriver::Onion,
        configure: onion,
        file_name: |stem| format!("{stem}{}", stem_names::ONION),
        per_file: false,
    },
];

/// A failed step and HDF5's account of it.
struct StepFailure {
    step: DriverStep,
    error: Hdf5Error,
}

fn at(step: DriverStep) -> impl Fn(Hdf5Error) -> StepFailure {
    move |error| StepFailure { step, error }
}

/// create, write, close, reopen read-only, read, compare; on `selected` (the run's fapl with this driver
/// selected, see [`Selections`]) or, without one, on a fresh fapl selected for this file.
fn round_trip(driver: &Driver, name: &str, seed: i32, selected: Option<&Hid>) -> Result<(), StepFailure> {
    let fresh;
    let fapl = match selected {
        Some(fapl) => fapl,
        None => {
            fresh = new_fapl().map_err(at(DriverStep::Fapl))?;
            (driver.configure)(&fresh, name).map_err(at(DriverStep::Fapl))?;
            &fresh
        }
    };
    let c_name = c_path(name).map_err(at(DriverStep::Create))?;
    let expected = data::pattern(VALUES, seed);
    // SAFETY: valid C string and property lists; ids are closed by their guards.
    let file = Hid::new(
        unsafe { H5Fcreate(c_name.as_ptr(), H5F_ACC_EXCL, H5P_DEFAULT, fapl.id()) },
        H5Fclose,
    )
    .map_err(at(DriverStep::Create))?;
    data::write(&file, data::DATASET, &expected).map_err(at(DriverStep::Write))?;
    file.close().map_err(at(DriverStep::Close))?;
    let file = Hid::new(unsafe { H5Fopen(c_name.as_ptr(), H5F_ACC_RDONLY, fapl.id()) }, H5Fclose).map_err(at(DriverStep::Reopen))?;
    let got = data::read(&file, data::DATASET, VALUES).map_err(at(DriverStep::Read))?;
    file.close().map_err(at(DriverStep::CloseAfterRead))?;
    if got != expected {
        let first = got.iter().zip(&expected).position(|(a, b)| a != b).unwrap_or(0);
        return Err(StepFailure {
            step: DriverStep::Compare,
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
fn files_on_disk(stem: &Path, driver: FileDriver) -> usize {
    let named = |suffixes: Vec<String>| suffixes.iter().filter(|s| stem_file(stem, s).exists()).count();
    match driver {
        FileDriver::Family => (0..)
            .take_while(|&i| stem_file(stem, &stem_names::family_member(i)).exists())
            .count(),
        FileDriver::Split => named(
            [stem_names::SPLIT_META_EXT, stem_names::SPLIT_RAW_EXT]
                .map(|e| format!("{}{e}", stem_names::SPLIT))
                .to_vec(),
        ),
        FileDriver::Multi => named(stem_names::MULTI_MEMBER_EXTS.map(|e| format!("{}{e}", stem_names::MULTI)).to_vec()),
        FileDriver::Log => named(vec![stem_names::LOG.into(), stem_names::LOG_LOG.into()]),
        FileDriver::Direct => named(vec![stem_names::DIRECT.into()]),
        FileDriver::Splitter => named(vec![stem_names::SPLITTER.into(), stem_names::SPLITTER_WO.into()]),
        FileDriver::Onion => named(
            std::iter::once(stem_names::ONION.to_string())
                .chain(stem_names::ONION_EXTS.map(|e| format!("{}{e}", stem_names::ONION)))
                .collect(),
        ),
        FileDriver::Sec2 => named(vec![stem_names::SEC2.into()]),
        FileDriver::Stdio => named(vec![stem_names::STDIO.into()]),
        FileDriver::Core => named(vec![stem_names::CORE.into()]),
        // Not local-file drivers: the round trip does not run them.
        FileDriver::Mpio | FileDriver::Ros3 | FileDriver::Hdfs | FileDriver::Mirror | FileDriver::Subfiling => 0,
    }
}

/// The log driver opens its log file with fopen(.., "w") (O_CREAT|O_TRUNC) and, in HDF5 1.10.8, does not
/// check the result: where that open fails it crashes (SIGSEGV, seen on storage that refuses O_TRUNC). So
/// the log file is opened the same way first (a new name, then truncated), and a refusal is the log
/// driver's failure, without running it. The file is removed again either way, so the log driver's first
/// fopen("w") creates it, as it would alone: had it found this empty file and truncated it, ext4 (its
/// auto_da_alloc) would start writing the log out at fclose, and the round trip's reopen, whose fopen("w")
/// truncates the log again, would wait for that write and free its blocks, which on a file system mounted
/// with `discard` and without a journal is a synchronous discard (measured: 1–3 ms per directory).
fn log_file_refused(log_file: &Path) -> Option<DriverCheck> {
    let opened = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(log_file)
        .and_then(|_| std::fs::OpenOptions::new().write(true).truncate(true).open(log_file));
    // The name is this run's (matrix refuses a stem whose files exist), so whatever was created is ours.
    let _ = std::fs::remove_file(log_file);
    let e = opened.err()?;
    Some(DriverCheck {
        driver: FileDriver::Log,
        ok: false,
        failed_step: Some(DriverStep::LogFile),
        errno: e.raw_os_error(),
        error_leaf: Some(format!(
            "the log driver's log file {} cannot be opened as fopen(\"w\") opens it: {e} (not run: HDF5's log driver \
             does not check that open and crashes)",
            log_file.display()
        )),
        ..DriverCheck::default()
    })
}

/// Why the file system of `file` cannot take the direct driver, if it cannot: it refuses O_DIRECT
/// (EINVAL; tmpfs before Linux 6.6). Tried with the direct driver's own file name (new, O_EXCL), removed again.
fn refuses_o_direct(file: &Path) -> Option<String> {
    use std::os::unix::fs::OpenOptionsExt;
    let opened = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create_new(true)
        .custom_flags(libc::O_DIRECT)
        .open(file);
    let refused = match &opened {
        Ok(_) => None,
        Err(e) if e.raw_os_error() == Some(libc::EINVAL) => {
            Some("this file system refuses O_DIRECT (EINVAL; tmpfs before Linux 6.6 does): it runs only where direct I/O works".to_string())
        }
        Err(e) => Some(format!("O_DIRECT open of a test file failed: {e}")),
    };
    // The name is this run's (matrix refuses a stem whose files exist), so whatever was created is ours.
    drop(opened);
    let _ = std::fs::remove_file(file);
    refused
}

/// The local-file drivers of the round trip and how each is selected on a fapl: the library module asks
/// HDF5 whether it has each one by selecting it on a fresh fapl.
pub fn local_drivers() -> impl Iterator<Item = (FileDriver, Configure)> {
    DRIVERS.iter().map(|d| (d.name, d.configure))
}

/// Runs every driver this library has, in the directory of `stem`: those `available` says it has (the
/// library report's list, each driver selected on a fresh fapl once per run by `library::describe`, which
/// kept those fapls in `selected`).
pub fn check_all(stem: &Path, available: &[DriverAvailability], selected: &Selections) -> Vec<DriverCheck> {
    let stem_str = stem.to_string_lossy();
    let has = |name: FileDriver| available.iter().any(|d| d.name == name && d.available);
    DRIVERS
        .iter()
        .enumerate()
        .filter(|(_, d)| has(d.name))
        .map(|(i, driver)| {
            if driver.name == FileDriver::Log {
                if let Some(check) = log_file_refused(&stem_file(stem, stem_names::LOG_LOG)) {
                    return check;
                }
            }
            if driver.name == FileDriver::Direct {
                if let Some(why) = refuses_o_direct(&stem_file(stem, stem_names::DIRECT)) {
                    return DriverCheck {
                        driver: driver.name,
                        not_applicable: Some(why),
                        ..DriverCheck::default()
                    };
                }
            }
            let start = Instant::now();
            let outcome = round_trip(driver, &(driver.file_name)(&stem_str), 1000 + i as i32, selected.get(driver.name));
            let elapsed_us = start.elapsed().as_micros() as u64;
            let mut check = DriverCheck {
                driver: driver.name,
                ok: outcome.is_ok(),
                files_on_disk: files_on_disk(stem, driver.name),
                elapsed_us,
                ..DriverCheck::default()
            };
            if let Err(f) = outcome {
                check.failed_step = Some(f.step);
                check.errno = f.error.errno();
                check.error_leaf = f.error.leaf().or_else(|| Some(f.error.stack.clone()));
                check.error_stack = f.error.stack();
            }
            check
        })
        .collect()
}
