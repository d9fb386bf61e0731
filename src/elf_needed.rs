//! The one place h5doctor reads ELF files, kept minimal on purpose: the DT_SONAME and DT_NEEDED entries of
//! a shared library (which libhdf5 a filter plugin was linked against, and the soname of the libhdf5 in
//! use). A full loader-aware resolver can replace this module without touching its callers.

use std::path::Path;

/// What a shared library's dynamic section says about itself and its dependencies.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DynamicInfo {
    pub soname: Option<String>,
    pub needed: Vec<String>,
}

/// Reads the dynamic section of an ELF file.
pub fn read(path: &Path) -> Result<DynamicInfo, String> {
    let bytes = std::fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let elf = goblin::elf::Elf::parse(&bytes).map_err(|e| format!("{} is not a readable ELF file: {e}", path.display()))?;
    Ok(DynamicInfo {
        soname: elf.soname.map(str::to_string),
        needed: elf.libraries.iter().map(|s| s.to_string()).collect(),
    })
}

/// Whether a soname is the main HDF5 C library (libhdf5.so.N, libhdf5_serial.so.N, libhdf5_openmpi.so.N,
/// a wheel's libhdf5-<hash>.so.N, Cray's libhdf5_parallel_gnu.so.N), not a companion (hl, cpp, fortran).
pub fn is_libhdf5(soname: &str) -> bool {
    let Some(rest) = soname.strip_prefix("libhdf5") else {
        return false;
    };
    let Some((flavour, _)) = rest.split_once(".so") else {
        return false;
    };
    !["hl", "cpp", "fortran", "java", "tools"].iter().any(|c| flavour.contains(c))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recognises_the_main_hdf5_library_only() {
        for yes in [
            "libhdf5.so.310",
            "libhdf5_serial.so.103",
            "libhdf5_openmpi.so.103",
            "libhdf5-5ab8e1d2.so.310.4.0",
        ] {
            assert!(is_libhdf5(yes), "{yes}");
        }
        for no in [
            "libhdf5_hl.so.100",
            "libhdf5_serial_hl.so.100",
            "libhdf5_cpp.so.103",
            "libhdf5_fortran.so.102",
            "libz.so.1",
        ] {
            assert!(!is_libhdf5(no), "{no}");
        }
    }

    #[test]
    fn reads_the_needs_of_a_real_executable_and_rejects_other_files() {
        let me = std::env::current_exe().unwrap();
        let info = read(&me).unwrap();
        assert!(info.needed.iter().any(|n| n.starts_with("libc.so")), "{info:?}");
        let err = read(Path::new("/proc/self/status")).unwrap_err();
        assert!(err.contains("not a readable ELF file"), "{err}");
    }
}
