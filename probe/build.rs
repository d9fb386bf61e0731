//! Tells the probe's code what the HDF5 it is compiled against has, from hdf5-metno-sys' build metadata
//! (the header version) and HDF5's own configuration header (H5pubconf.h): which API calls exist in this
//! version and which optional drivers this build was configured with. The probe then calls HDF5 directly
//! (no symbol look-up at run time), so it works the same linked shared or statically.
//!
//! It also warns when HDF5_DIR is unset for a shared build: hdf5-sys then falls back to `pkg-config hdf5`,
//! which on Debian follows an alternative that points at the Open MPI flavour once libhdf5-openmpi-dev is
//! installed, so the probe would silently link a different HDF5 than the one meant.

use std::path::PathBuf;

/// An HDF5 version as (major, minor, micro).
type Version = (u32, u32, u32);

/// The file-locking API and the splitter driver: 1.10.7+ on the 1.10 branch, 1.12.1+ after it.
fn locking_era(v: Version) -> bool {
    ((1, 10, 7)..(1, 12, 0)).contains(&v) || v >= (1, 12, 1)
}

/// Whether a cfg holds for a header version.
type VersionTest = fn(Version) -> bool;

/// cfg name, and whether it holds given the header version.
const VERSION_CFGS: &[(&str, VersionTest)] = &[
    // H5Pset_file_locking / H5Pget_file_locking: 1.10.7+ on the 1.10 branch, 1.12.1+ after it.
    ("hdf5_file_locking_api", locking_era),
    // H5FDis_driver_registered_by_name, the onion driver, H5Pset_driver_by_name: 1.14.0+.
    ("hdf5_1_14", |v| v >= (1, 14, 0)),
    // The splitter driver: 1.10.7+ / 1.12.1+ (as the file-locking calls).
    ("hdf5_splitter", locking_era),
    // H5Lvisit2 (H5Lvisit became a macro): 1.12.0+.
    ("hdf5_1_12", |v| v >= (1, 12, 0)),
    ("hdf5_2", |v| v >= (2, 0, 0)),
];

/// cfg name and the H5pubconf.h macro that must be defined to 1.
const CONFIG_CFGS: &[(&str, &str)] = &[
    ("hdf5_have_direct", "H5_HAVE_DIRECT"),
    ("hdf5_have_parallel", "H5_HAVE_PARALLEL"),
    ("hdf5_have_ros3", "H5_HAVE_ROS3_VFD"),
    ("hdf5_have_hdfs", "H5_HAVE_LIBHDFS"),
    ("hdf5_have_mirror", "H5_HAVE_MIRROR_VFD"),
    ("hdf5_have_subfiling", "H5_HAVE_SUBFILING_VFD"),
];

fn main() {
    println!("cargo::rerun-if-changed=build.rs");
    println!("cargo::rerun-if-env-changed=HDF5_DIR");
    // hdf5-sys' `static` feature builds HDF5 itself and names its install root; only then is no HDF5_DIR right.
    if std::env::var_os("HDF5_DIR").is_none() && std::env::var_os("DEP_HDF5_ROOT").is_none() {
        println!(
            "cargo::warning=HDF5_DIR is not set: h5doctor-probe links whatever `pkg-config hdf5` finds. \
             Set it explicitly, e.g. HDF5_DIR=/usr/lib/x86_64-linux-gnu/hdf5/serial"
        );
    }
    for name in VERSION_CFGS.iter().map(|(n, _)| n).chain(CONFIG_CFGS.iter().map(|(n, _)| n)) {
        println!("cargo::rustc-check-cfg=cfg({name})");
    }
    let include = PathBuf::from(std::env::var("DEP_HDF5_INCLUDE").expect("hdf5-metno-sys gives its include directory"));
    let public = std::fs::read_to_string(include.join("H5public.h")).expect("H5public.h in the HDF5 include directory");
    let number = |macro_: &str| -> u32 {
        public
            .lines()
            .find_map(|l| l.strip_prefix("#define ").and_then(|r| r.strip_prefix(macro_)).map(str::trim))
            .and_then(|v| v.split_whitespace().next())
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| panic!("{macro_} in {}", include.join("H5public.h").display()))
    };
    let version = (number("H5_VERS_MAJOR"), number("H5_VERS_MINOR"), number("H5_VERS_RELEASE"));
    for (name, holds) in VERSION_CFGS {
        if holds(version) {
            println!("cargo::rustc-cfg={name}");
        }
    }
    let conf = std::fs::read_to_string(include.join("H5pubconf.h")).unwrap_or_default();
    for (name, macro_) in CONFIG_CFGS {
        let defined = conf.lines().any(|l| {
            let mut w = l.split_whitespace();
            w.next() == Some("#define") && w.next() == Some(macro_) && w.next() == Some("1")
        });
        if defined {
            println!("cargo::rustc-cfg={name}");
        }
    }
    // A shared HDF5 outside the system directories (a module, a prefix of its own): the probe records where
    // it was built against (RUNPATH), so it finds that library without LD_LIBRARY_PATH, as a job would
    // after `module load`. H5DOCTOR_PROBE_RPATH=0 leaves it out.
    println!("cargo::rerun-if-env-changed=H5DOCTOR_PROBE_RPATH");
    let lib = include.parent().map(|root| root.join("lib"));
    if let Some(lib) = lib.filter(|l| l.join("libhdf5.so").exists() && !l.starts_with("/usr/lib") && !l.starts_with("/lib")) {
        if std::env::var("H5DOCTOR_PROBE_RPATH").as_deref() != Ok("0") && std::env::var_os("DEP_HDF5_ROOT").is_none() {
            println!("cargo::rustc-link-arg-bins=-Wl,-rpath,{}", lib.display());
        }
    }
    // A static archive (scripts/build-probe.sh --static): what it needs besides itself (zlib, libm, libdl),
    // as HDF5 recorded it in lib/libhdf5.settings ("Extra libraries: -lm;-ldl;/usr/lib/.../libz.so").
    if let Some(lib) = include.parent().map(|root| root.join("lib")) {
        if lib.join("libhdf5.a").exists() && !lib.join("libhdf5.so").exists() {
            let settings = std::fs::read_to_string(lib.join("libhdf5.settings")).unwrap_or_default();
            let extra = settings
                .lines()
                .find_map(|l| l.trim().strip_prefix("Extra libraries:"))
                .unwrap_or_default()
                .to_string();
            // As link arguments, which come after the archive on the linker's command line.
            for item in extra.split([';', ' ']).map(str::trim).filter(|i| !i.is_empty()) {
                if item.starts_with("-l") || item.starts_with('/') {
                    println!("cargo::rustc-link-arg-bins={item}");
                } else if !item.starts_with('-') {
                    // CMake names a system library by its bare name (`z`, `m`).
                    println!("cargo::rustc-link-arg-bins=-l{item}");
                }
            }
        }
    }
    println!("cargo::rerun-if-changed={}", include.join("H5pubconf.h").display());
    println!("cargo::rerun-if-changed={}", include.join("H5public.h").display());
}
