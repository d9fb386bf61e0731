//! What the loaded HDF5 library is (version, file or static link, flavour, thread-safety, locking defaults
//! and how it reads HDF5_USE_FILE_LOCKING, drivers, plugin search path), each asked of HDF5 itself, and
//! what it does when asked to create a file, with the complete error stack as HDF5 prints it.

use crate::capi::{H5PLget, H5PLsize};
use crate::drivers::Selections;
use crate::errors::Hdf5Error;
use crate::handles::{c_path, new_fapl, Hid};
use h5doctor::facts::values::{FileDriver, Linking, LockingEffect, LockingEnvReadAt};
use h5doctor::facts::{DriverAvailability, Hdf5Create, Hdf5Library, LockingEnv};
use hdf5_sys::h5::{hbool_t, H5get_libversion, H5is_library_threadsafe, H5open};
use hdf5_sys::h5e::{H5Eset_auto2, H5E_DEFAULT};
use hdf5_sys::h5f::{H5Fclose, H5Fcreate, H5F_ACC_EXCL};
use hdf5_sys::h5p::H5P_DEFAULT;
use std::ffi::{c_uint, c_void, CStr};

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

/// H5Pget_file_locking on a default fapl (1.10.7+ / 1.12.1+), as (use_file_locking, ignore_when_disabled).
fn default_locking() -> Option<(bool, bool)> {
    #[cfg(hdf5_file_locking_api)]
    {
        let fapl = new_fapl().ok()?;
        let (mut use_locks, mut ignore) = (0 as hbool_t, 0 as hbool_t);
        // SAFETY: a valid fapl and out-pointers of the library's hbool_t.
        let rc = unsafe { crate::capi::H5Pget_file_locking(fapl.id(), &mut use_locks, &mut ignore) };
        (rc >= 0).then_some((use_locks != 0, ignore != 0))
    }
    #[cfg(not(hdf5_file_locking_api))]
    None
}

/// How this version reads HDF5_USE_FILE_LOCKING, and what the value seen does. Each line is from HDF5's
/// own source at the release tag (git history of HDFGroup/hdf5, read in a fork that carries the tags):
/// - 1.10.0 and 1.10.0-patch1 (tags hdf5-1_10_0, hdf5-1_10_0-patch1, src/H5Fint.c): the variable is not
///   read at all; H5F_open always takes the lock (H5FD_lock), so setting it changes nothing.
/// - 1.10.1-1.10.6 and 1.12.0 (tags hdf5-1_10_1 ... hdf5-1_10_6, hdf5-1_12_0, src/H5Fint.c H5F_open):
///   `HDgetenv` on every H5F_open, and only `FALSE` (strcmp, case-sensitive) disables locking.
/// - 1.10.7+, 1.12.1+ (tags hdf5-1_10_7, hdf5-1_10_8, hdf5-1_12_1: src/H5Fint.c
///   H5F__parse_file_lock_env_var, called from H5F__init_package; src/H5FDsec2.c H5FD__init_package),
///   1.14.5 and 2.2.0 (their sources; 2.x in H5FD__init_package too): read once, when the library
///   initialises. `FALSE`/`0` disable locking, `TRUE`/`1` use locks and make a file system without locks
///   an error, `BEST_EFFORT` uses locks but ignores a file system without them; anything else (`false`,
///   `no`) is not recognised and the library default applies.
fn locking_env(version: (u32, u32, u32), value: Option<&str>) -> LockingEnv {
    let extended = ((1, 10, 7)..(1, 12, 0)).contains(&version) || version >= (1, 12, 1);
    let reads_it = version > (1, 10, 0);
    let accepted: &[&str] = match version {
        _ if !reads_it => &[],
        _ if extended => &["FALSE", "0", "TRUE", "1", "BEST_EFFORT"],
        _ => &["FALSE"],
    };
    let effect = match value {
        _ if version < (1, 10, 0) => LockingEffect::NoLockingInThisVersion,
        None => LockingEffect::Unset,
        Some(_) if !reads_it => LockingEffect::NotReadByThisVersion,
        Some(v) if !accepted.contains(&v) => LockingEffect::NotRecognised,
        Some("FALSE" | "0") => LockingEffect::DisablesLocking,
        Some("TRUE" | "1") => LockingEffect::EnforcesLocking,
        Some(_) => LockingEffect::BestEffort,
    };
    let read_at = match version {
        _ if !reads_it => None,
        _ if extended => Some(LockingEnvReadAt::LibraryInitialisation),
        _ => Some(LockingEnvReadAt::EveryOpen),
    };
    LockingEnv {
        accepted: accepted.iter().map(|s| s.to_string()).collect(),
        effect,
        read_at,
    }
}

/// One way of asking HDF5 whether it has a driver: select it on a fresh fapl (kept in `kept` for the round
/// trips when it worked).
fn select_on_fresh_fapl(name: FileDriver, configure: crate::drivers::Configure, kept: &mut Selections) -> DriverAvailability {
    // Selecting a driver creates no file; the name only shapes the side files' names.
    let outcome = new_fapl().and_then(|fapl| configure(&fapl, "h5doctor-driver-check.h5").map(|()| fapl));
    let setter = format!("H5Pset_fapl_{name}");
    #[cfg_attr(not(hdf5_1_14), allow(unused_mut))]
    let mut how = match &outcome {
        Ok(_) => format!("{setter} succeeded on a fresh fapl"),
        Err(e) => format!("{setter} failed: {}", e.leaf().unwrap_or_else(|| e.stack.trim().to_string())),
    };
    #[cfg(hdf5_1_14)]
    if outcome.is_ok() {
        // split is the multi driver with two members.
        let registered_as = if name == FileDriver::Split { FileDriver::Multi } else { name };
        let c = std::ffi::CString::new(registered_as.as_str()).expect("no NUL");
        // SAFETY: a NUL-terminated driver name.
        let registered = unsafe { crate::capi::H5FDis_driver_registered_by_name(c.as_ptr()) };
        how.push_str(&format!(
            "; H5FDis_driver_registered_by_name(\"{registered_as}\") = {}",
            registered > 0
        ));
    }
    let available = outcome.is_ok();
    if let Ok(fapl) = outcome {
        kept.keep(name, fapl);
    }
    DriverAvailability {
        name,
        available,
        how: Some(how),
    }
}

/// A driver this build either has or not, by HDF5's configuration header (H5pubconf.h, read at build time).
fn configured(name: FileDriver, built_with: bool, macro_: &str) -> DriverAvailability {
    DriverAvailability {
        name,
        available: built_with,
        how: Some(if built_with {
            format!("built with it: {macro_} is set in H5pubconf.h")
        } else {
            format!("built without it: {macro_} is not set in H5pubconf.h")
        }),
    }
}

/// A driver this version does not have: it came with a later one (the probe is compiled against this
/// version's headers, which do not declare it).
#[allow(dead_code)]
fn not_in_version(name: FileDriver, since: &str) -> DriverAvailability {
    DriverAvailability {
        name,
        available: false,
        how: Some(format!("not in this version: HDF5 has it from {since}")),
    }
}

/// Every file driver HDF5 knows of, and whether this library has it, asked of the library itself; the
/// fapls the local drivers were selected on go into `kept`.
fn drivers(kept: &mut Selections) -> Vec<DriverAvailability> {
    let mut all: Vec<DriverAvailability> = crate::drivers::local_drivers()
        .map(|(name, configure)| select_on_fresh_fapl(name, configure, kept))
        .collect();
    // log, direct (when built with it), splitter and onion are local drivers of the round trip where the
    // library has them, asked above like the others; where the version or the build lacks them, say why.
    #[cfg(not(hdf5_have_direct))]
    all.push(configured(FileDriver::Direct, false, "H5_HAVE_DIRECT"));
    all.push(configured(FileDriver::Mpio, cfg!(hdf5_have_parallel), "H5_HAVE_PARALLEL"));
    #[cfg(not(hdf5_splitter))]
    all.push(not_in_version(FileDriver::Splitter, "1.10.7 (1.12.1 on the 1.12 branch)"));
    #[cfg(not(hdf5_1_14))]
    all.push(not_in_version(FileDriver::Onion, "1.14.0"));
    all.push(configured(FileDriver::Ros3, cfg!(hdf5_have_ros3), "H5_HAVE_ROS3_VFD"));
    all.push(configured(FileDriver::Hdfs, cfg!(hdf5_have_hdfs), "H5_HAVE_LIBHDFS"));
    all.push(configured(FileDriver::Mirror, cfg!(hdf5_have_mirror), "H5_HAVE_MIRROR_VFD"));
    all.push(configured(
        FileDriver::Subfiling,
        cfg!(hdf5_have_subfiling),
        "H5_HAVE_SUBFILING_VFD",
    ));
    all
}

/// The plugin search path as the library holds it (H5PLsize/H5PLget, HDF5 >= 1.10.1).
pub fn plugin_search_path() -> Vec<String> {
    // SAFETY: the documented signatures; H5PLget with a NULL buffer returns the length.
    unsafe {
        let mut n: c_uint = 0;
        if H5PLsize(&mut n) < 0 {
            Hdf5Error::capture();
            return Vec::new();
        }
        (0..n)
            .filter_map(|i| {
                let len = H5PLget(i, std::ptr::null_mut(), 0);
                if len < 0 {
                    Hdf5Error::capture();
                    return None;
                }
                let mut buf = vec![0u8; len as usize + 1];
                (H5PLget(i, buf.as_mut_ptr().cast(), buf.len()) >= 0).then(|| String::from_utf8_lossy(&buf[..len as usize]).into_owned())
            })
            .collect()
    }
}

/// Where HDF5 lives: the shared library H5open was loaded from, or the probe itself when HDF5 is linked
/// into it statically (dladdr then names the executable).
fn location() -> (Option<String>, Linking, Option<String>) {
    let found = object_of(H5open as *const c_void);
    let me = std::env::current_exe().ok().and_then(|p| std::fs::canonicalize(p).ok());
    match (found, me) {
        (Some(f), Some(me)) if std::path::Path::new(&f) == me => (None, Linking::Static, Some(f)),
        (found, _) => (found, Linking::Shared, None),
    }
}

/// Initialises HDF5 (with automatic error printing off) and describes it.
pub fn describe() -> Hdf5Library {
    describe_keeping(&mut Selections::default())
}

/// [`describe`], keeping in `kept` the fapls the local drivers were selected on, for the drivers × modes
/// matrix of this run ([`Selections`]).
pub fn describe_keeping(kept: &mut Selections) -> Hdf5Library {
    let (mut major, mut minor, mut release) = (0, 0, 0);
    let mut threadsafe: hbool_t = 0;
    // SAFETY: plain HDF5 calls with valid out-pointers; H5open first so the global ids are set.
    unsafe {
        H5open();
        H5Eset_auto2(H5E_DEFAULT, None, std::ptr::null_mut());
        H5get_libversion(&mut major, &mut minor, &mut release);
        H5is_library_threadsafe(&mut threadsafe);
    }
    let env = std::env::var("HDF5_USE_FILE_LOCKING").ok();
    let (path, linking, linked_into) = location();
    Hdf5Library {
        version: format!("{major}.{minor}.{release}"),
        path,
        linking: Some(linking),
        linked_into,
        parallel: cfg!(hdf5_have_parallel),
        threadsafe: threadsafe != 0,
        default_locking: default_locking(),
        locking_env: Some(locking_env((major, minor, release), env.as_deref())),
        env_use_file_locking: env,
        drivers: drivers(kept),
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

/// `sample FILE earliest|latest`: a small HDF5 file (one dataset) written with the given lower bound of
/// the file-format versions (`latest`: the newest format this library writes), created with
/// H5F_ACC_EXCL so no existing file is touched. Support staff and the version-matrix tests use it to see
/// whether another HDF5 reads what this one writes.
pub fn sample(file: &str, low: &str) -> Hdf5Create {
    use hdf5_sys::h5f::{H5F_libver_t, H5F_LIBVER_LATEST};
    let low = match low {
        "earliest" => H5F_libver_t::H5F_LIBVER_EARLIEST,
        "latest" => H5F_LIBVER_LATEST,
        other => {
            return Hdf5Create {
                file: file.into(),
                ok: false,
                error_leaf: Some(format!("unknown format bound {other:?} (earliest or latest)")),
                ..Default::default()
            }
        }
    };
    let written = c_path(file).and_then(|name| {
        let fapl = new_fapl()?;
        // SAFETY: a valid fapl and two bounds of the library's own enum.
        crate::handles::check(unsafe { hdf5_sys::h5p::H5Pset_libver_bounds(fapl.id(), low, H5F_LIBVER_LATEST) })?;
        // SAFETY: a valid name and property lists.
        let f = Hid::new(unsafe { H5Fcreate(name.as_ptr(), H5F_ACC_EXCL, H5P_DEFAULT, fapl.id()) }, H5Fclose)?;
        crate::data::write(&f, crate::data::DATASET, &crate::data::pattern(1000, 17))?;
        f.close()
    });
    match written {
        Ok(()) => Hdf5Create {
            file: file.into(),
            ok: true,
            ..Default::default()
        },
        Err(e) => attempt_failed(file, e),
    }
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

#[cfg(test)]
mod tests {
    use super::{locking_env, LockingEnvReadAt};

    #[test]
    fn each_version_reads_hdf5_use_file_locking_by_its_own_rules() {
        // 1.10.8 (Debian), 1.14.5, 2.2.0: the extended set; lower-case is not recognised.
        for v in [(1, 10, 8), (1, 12, 1), (1, 14, 5), (2, 2, 0)] {
            assert_eq!(locking_env(v, Some("FALSE")).effect.as_str(), "disables-locking", "{v:?}");
            assert_eq!(locking_env(v, Some("0")).effect.as_str(), "disables-locking", "{v:?}");
            assert_eq!(locking_env(v, Some("TRUE")).effect.as_str(), "enforces-locking", "{v:?}");
            assert_eq!(locking_env(v, Some("BEST_EFFORT")).effect.as_str(), "best-effort", "{v:?}");
            assert_eq!(locking_env(v, Some("false")).effect.as_str(), "not-recognised", "{v:?}");
            assert_eq!(locking_env(v, None).effect.as_str(), "unset", "{v:?}");
        }
        // Before 1.10.7 and in 1.12.0 only FALSE existed.
        // Tags hdf5-1_10_1 ... hdf5-1_10_6 and hdf5-1_12_0: H5F_open reads it on every open, FALSE only.
        for v in [(1, 10, 1), (1, 10, 6), (1, 12, 0)] {
            assert_eq!(locking_env(v, Some("FALSE")).effect.as_str(), "disables-locking", "{v:?}");
            assert_eq!(locking_env(v, Some("0")).effect.as_str(), "not-recognised", "{v:?}");
            assert_eq!(locking_env(v, Some("BEST_EFFORT")).effect.as_str(), "not-recognised", "{v:?}");
            assert_eq!(
                locking_env(v, None).read_at.map(LockingEnvReadAt::as_str),
                Some("every-open"),
                "{v:?}"
            );
        }
        // Tag hdf5-1_10_0 (and -patch1): not read; the lock is always taken.
        assert_eq!(locking_env((1, 10, 0), Some("FALSE")).effect.as_str(), "not-read-by-this-version");
        assert_eq!(locking_env((1, 10, 0), Some("FALSE")).accepted, Vec::<String>::new());
        assert_eq!(locking_env((1, 10, 0), None).read_at, None);
        assert_eq!(locking_env((1, 8, 22), Some("FALSE")).effect.as_str(), "no-locking-in-this-version");
        for v in [(1, 10, 7), (1, 10, 8), (1, 12, 1), (1, 14, 5), (2, 2, 0)] {
            assert_eq!(
                locking_env(v, None).read_at.map(LockingEnvReadAt::as_str),
                Some("library-initialisation"),
                "{v:?}"
            );
        }
    }
}
