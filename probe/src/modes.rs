//! The open-mode semantics users rely on, checked on probe files with the default driver, in the order
//! h5py maps its modes to HDF5 calls:
//!
//! ```text
//! r      H5Fopen(RDONLY)   missing file: fails (and creates nothing); existing: opens, reads, refuses writes
//! r+     H5Fopen(RDWR)     missing file: fails (and creates nothing); existing: opens, writes persist
//! w-, x  H5Fcreate(EXCL)   missing file: creates it; existing file: fails and leaves it intact
//! a      H5Fopen(RDWR), else H5Fcreate(EXCL)   existing: opens with the data kept; missing: creates it
//! w      H5Fcreate(TRUNC)  existing file: truncates it (the earlier contents are gone)
//! ```
//!
//! Every file is named from the stem with `cleanup::stem_names`; `w` truncates only the probe file this run
//! created (with O_EXCL) a moment earlier, and is skipped when that create failed.
//!
//! Each H5Fopen/H5Fcreate that succeeds costs HDF5 a fresh metadata cache (about 1 MB cleared), so a check
//! whose call is the one the check before it has just made takes that open instead of repeating it: `r`
//! takes `w-/x`'s read-only open of the existing file, `a` takes `r+`'s read-write reopen. A handle is
//! handed on only when it is exactly the call the next check makes; otherwise that check opens the file
//! itself, as it would alone.

use crate::data;
use crate::errors::Hdf5Error;
use crate::handles::{c_path, Hid};
use h5doctor::cleanup::{stem_file, stem_names};
use h5doctor::facts::values::{ModeCase, OpenMode};
use h5doctor::facts::ModeCheck;
use hdf5_sys::h5f::{H5Fclose, H5Fcreate, H5Fopen, H5F_ACC_EXCL, H5F_ACC_RDONLY, H5F_ACC_RDWR, H5F_ACC_TRUNC};
use hdf5_sys::h5p::H5P_DEFAULT;
use std::ffi::{CStr, CString};
use std::path::Path;
use std::time::Instant;

const VALUES: usize = 256;
const SEED: i32 = 77;
/// The group `r+` writes and `w` must make disappear.
const RPLUS_GROUP: &CStr = c"written-by-r+";
/// The group `r` tries (and must fail) to write.
const R_GROUP: &CStr = c"written-by-r";

/// What one check saw: Ok(observation) when the expectation held, Err(observation, HDF5 error) when not.
type Outcome = Result<String, (String, Option<Hdf5Error>)>;

fn open(name: &CString, flags: u32) -> Result<Hid, Hdf5Error> {
    // SAFETY: valid C string and default property lists.
    Hid::new(unsafe { H5Fopen(name.as_ptr(), flags, H5P_DEFAULT) }, H5Fclose)
}

fn create(name: &CString, flags: u32) -> Result<Hid, Hdf5Error> {
    // SAFETY: valid C string and default property lists.
    Hid::new(unsafe { H5Fcreate(name.as_ptr(), flags, H5P_DEFAULT, H5P_DEFAULT) }, H5Fclose)
}

fn leaf_or(e: &Hdf5Error) -> String {
    e.leaf().unwrap_or_else(|| e.stack.trim().to_string())
}

/// An open of a missing file must fail and must not create it.
fn open_missing_fails(path: &Path, name: &CString, flags: u32) -> Outcome {
    match open(name, flags) {
        Ok(f) => {
            drop(f);
            Err(("opened a file that does not exist".into(), None))
        }
        Err(e) if path.exists() => Err(("failed, but left a file behind".into(), Some(e))),
        Err(e) => Ok(format!("failed as expected: {}", leaf_or(&e))),
    }
}

/// `w-`/`x` on a missing file: creates it; the base data is written for the later checks.
fn exclusive_creates(name: &CString) -> Outcome {
    let f = create(name, H5F_ACC_EXCL).map_err(|e| ("could not create the file".to_string(), Some(e)))?;
    data::write(&f, data::DATASET, &data::pattern(VALUES, SEED)).map_err(|e| ("created it, but writing failed".to_string(), Some(e)))?;
    f.close().map_err(|e| ("created it, but closing failed".to_string(), Some(e)))?;
    Ok("created it".into())
}

/// The base data is still there, unchanged.
fn data_intact(f: &Hid) -> Result<(), (String, Option<Hdf5Error>)> {
    match data::read(f, data::DATASET, VALUES) {
        Ok(v) if v == data::pattern(VALUES, SEED) => Ok(()),
        Ok(_) => Err(("the earlier data changed".into(), None)),
        Err(e) => Err(("the earlier data cannot be read".into(), Some(e))),
    }
}

/// `w-`/`x` on an existing file: fails and leaves the file as it was. The read-only open that shows the
/// file intact is the `r` check's open too: it is handed on in `read_only` (kept open) when it succeeded.
fn exclusive_refuses(name: &CString, read_only: &mut Option<Hid>) -> Outcome {
    let refusal = match create(name, H5F_ACC_EXCL) {
        Ok(f) => {
            drop(f);
            return Err(("created over an existing file".into(), None));
        }
        Err(e) => leaf_or(&e),
    };
    let f = open(name, H5F_ACC_RDONLY).map_err(|e| ("failed, and the file no longer opens".to_string(), Some(e)))?;
    data_intact(&f)?;
    *read_only = Some(f);
    Ok(format!("failed as expected and left the file intact: {refusal}"))
}

/// `r` on an existing file: opens, reads the data, refuses a write. `opened` is the H5Fopen(RDONLY) of
/// this file that the check before made (w-/x on an existing file), still open: the same call as this
/// check's open, so it is not made twice (one metadata cache and superblock read fewer); without it, this
/// check opens the file itself.
fn read_only_opens(name: &CString, opened: Option<Hid>) -> Outcome {
    let f = match opened {
        Some(f) => f,
        None => open(name, H5F_ACC_RDONLY).map_err(|e| ("could not open it".to_string(), Some(e)))?,
    };
    data_intact(&f)?;
    match data::create_group(&f, R_GROUP) {
        Ok(()) => Err(("opened read-only, yet a write succeeded".into(), None)),
        Err(_) => Ok("opened it, read the data, and a write was refused".into()),
    }
}

/// `r+` on an existing file: opens, a write persists after close and reopen. The reopen is H5Fopen(RDWR)
/// of the unchanged existing file, the `a` check's own call: when it succeeds it is handed on in
/// `read_write` (kept open), so `a` does not open the file again. Where that read-write reopen fails, this
/// check reopens read-only as it always did and decides on that (and `a` then makes its own open, which
/// shows its own failure).
fn read_write_opens(name: &CString, read_write: &mut Option<Hid>) -> Outcome {
    let f = open(name, H5F_ACC_RDWR).map_err(|e| ("could not open it".to_string(), Some(e)))?;
    data_intact(&f)?;
    data::create_group(&f, RPLUS_GROUP).map_err(|e| ("opened it, but a write failed".to_string(), Some(e)))?;
    f.close().map_err(|e| ("wrote, but closing failed".to_string(), Some(e)))?;
    let (f, writable) = match open(name, H5F_ACC_RDWR) {
        Ok(f) => (f, true),
        Err(_) => (
            open(name, H5F_ACC_RDONLY).map_err(|e| ("wrote, but the file no longer opens".to_string(), Some(e)))?,
            false,
        ),
    };
    let seen = match data::exists(&f, RPLUS_GROUP) {
        Ok(true) => Ok("opened it; the write is there after reopening".into()),
        Ok(false) => Err(("the write is missing after reopening".into(), None)),
        Err(e) => Err(("cannot look for the write after reopening".into(), Some(e))),
    };
    if writable {
        *read_write = Some(f);
    }
    seen
}

/// `a` on an existing file: h5py opens it read-write; nothing is lost. `opened` is `r+`'s H5Fopen(RDWR)
/// reopen of this file, still open (the same call on the same file, so it is not made twice); without it,
/// this check opens the file itself.
fn append_opens(name: &CString, opened: Option<Hid>) -> Outcome {
    let f = match opened {
        Some(f) => f,
        None => open(name, H5F_ACC_RDWR).map_err(|e| ("could not open it".to_string(), Some(e)))?,
    };
    data_intact(&f)?;
    Ok("opened it with the data kept".into())
}

/// `a` on a missing file: the read-write open fails, then an exclusive create makes it.
fn append_creates(path: &Path, name: &CString) -> Outcome {
    if let Ok(f) = open(name, H5F_ACC_RDWR) {
        drop(f);
        return Err(("a read-write open of a missing file succeeded".into(), None));
    }
    let f = create(name, H5F_ACC_EXCL).map_err(|e| ("could not create it".to_string(), Some(e)))?;
    f.close().map_err(|e| ("created it, but closing failed".to_string(), Some(e)))?;
    if path.is_file() {
        Ok("created it".into())
    } else {
        Err(("reported success but no file exists".into(), None))
    }
}

/// `w` on an existing file: truncates it.
fn truncate_empties(name: &CString) -> Outcome {
    let f = create(name, H5F_ACC_TRUNC).map_err(|e| ("could not re-create it".to_string(), Some(e)))?;
    f.close().map_err(|e| ("re-created it, but closing failed".to_string(), Some(e)))?;
    let f = open(name, H5F_ACC_RDONLY).map_err(|e| ("re-created it, but it no longer opens".to_string(), Some(e)))?;
    let kept = [data::DATASET, RPLUS_GROUP]
        .iter()
        .map(|n| data::exists(&f, n))
        .collect::<Result<Vec<bool>, _>>()
        .map_err(|e| ("cannot look into the re-created file".to_string(), Some(e)))?;
    if kept.iter().any(|k| *k) {
        Err(("the earlier contents survived: the file was not truncated".into(), None))
    } else {
        Ok("truncated it: the earlier contents are gone".into())
    }
}

/// Runs one check and records what it saw.
fn record(mode: OpenMode, case: ModeCase, expected: &str, check: impl FnOnce() -> Outcome) -> ModeCheck {
    let start = Instant::now();
    let outcome = check();
    let mut m = ModeCheck {
        mode,
        case,
        expected: expected.into(),
        elapsed_us: start.elapsed().as_micros() as u64,
        ..ModeCheck::default()
    };
    match outcome {
        Ok(observed) => {
            m.ok = true;
            m.observed = observed;
        }
        Err((observed, error)) => {
            m.observed = observed;
            if let Some(e) = error {
                m.errno = e.errno();
                m.error_leaf = Some(leaf_or(&e));
            }
        }
    }
    m
}

/// Runs every mode check in the directory of `stem`. When the first file cannot be created, the checks
/// on an existing file are not run (that failure is the finding).
pub fn check_all(stem: &Path) -> Vec<ModeCheck> {
    let name = |suffix: &str| stem_file(stem, suffix).to_string_lossy().into_owned();
    let base_path = name(stem_names::MODE);
    let missing_path = name(stem_names::MODE_MISSING);
    let append_path = name(stem_names::MODE_APPEND);
    let (Ok(base), Ok(missing), Ok(append)) = (c_path(&base_path), c_path(&missing_path), c_path(&append_path)) else {
        return Vec::new();
    };
    let (missing_p, append_p) = (Path::new(&missing_path), Path::new(&append_path));
    let missing_fails = "fails and creates nothing";
    let mut out = vec![
        record(OpenMode::Read, ModeCase::MissingFile, missing_fails, || {
            open_missing_fails(missing_p, &missing, H5F_ACC_RDONLY)
        }),
        record(OpenMode::ReadWrite, ModeCase::MissingFile, missing_fails, || {
            open_missing_fails(missing_p, &missing, H5F_ACC_RDWR)
        }),
        record(OpenMode::Exclusive, ModeCase::MissingFile, "creates the file", || {
            exclusive_creates(&base)
        }),
    ];
    if out[2].ok {
        let mut read_only = None;
        out.push(record(
            OpenMode::Exclusive,
            ModeCase::ExistingFile,
            "fails and leaves the file intact",
            || exclusive_refuses(&base, &mut read_only),
        ));
        out.push(record(
            OpenMode::Read,
            ModeCase::ExistingFile,
            "opens, reads the data, refuses writes",
            || read_only_opens(&base, read_only),
        ));
        let mut read_write = None;
        out.push(record(OpenMode::ReadWrite, ModeCase::ExistingFile, "opens; writes persist", || {
            read_write_opens(&base, &mut read_write)
        }));
        out.push(record(
            OpenMode::Append,
            ModeCase::ExistingFile,
            "opens it with the data kept",
            || append_opens(&base, read_write),
        ));
    }
    out.push(record(OpenMode::Append, ModeCase::MissingFile, "creates the file", || {
        append_creates(append_p, &append)
    }));
    if out[2].ok {
        out.push(record(OpenMode::Truncate, ModeCase::ExistingFile, "truncates it", || {
            truncate_empties(&base)
        }));
    }
    out
}
