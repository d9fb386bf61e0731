//! What a library is, from its name and its symbols: an HDF5 library (the core one or a component
//! such as `_hl`, `_cpp`, `_fortran`), an MPI library and its ABI family, a libpython; the HDF5 release
//! series a soname number belongs to; the flavour of a libhdf5 (serial or parallel, and Debian's
//! `HDF5_SERIAL_*` / `HDF5_OPENMPI_*` / `HDF5_MPICH_*` symbol version nodes); and the Debian package
//! that ships a well-known soname.
//!
//! Sources: shared/research/failure-catalog.md sections 0.3 (HDF5 sonames) and 0.6 (MPI sonames).

use super::symbols::SymbolInfo;

/// The kind of a library h5doctor keeps an inventory of: `hdf5`, `hdf5-component`, `mpi`, `python`.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    serde::Serialize,
    serde::Deserialize,
    strum::IntoStaticStr,
    strum::VariantNames,
    strum::EnumString,
    strum::EnumIter,
)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
#[serde(rename_all = "kebab-case")]
#[strum(serialize_all = "kebab-case")]
#[cfg_attr(test, schemars(rename = "LibraryKind"))]
pub enum Kind {
    /// The HDF5 C library itself (exports H5open).
    Hdf5,
    /// Another HDF5 library: high-level, C++, Fortran, tools.
    Hdf5Component,
    Mpi,
    Python,
}

impl Kind {
    /// The spelling in facts and reports (`hdf5-component`, ...).
    pub fn as_str(self) -> &'static str {
        self.into()
    }
}

/// The stem of a library file name: `libhdf5_serial.so.103.3.1` -> `hdf5_serial`.
pub fn stem(file_name: &str) -> Option<&str> {
    let base = file_name.rsplit('/').next()?;
    let rest = base.strip_prefix("lib")?;
    let end = rest.find(".so")?;
    // `.so` must end the name or be followed by a version.
    let after = &rest[end + 3..];
    (after.is_empty() || after.starts_with('.')).then_some(&rest[..end])
}

/// Classifies a file by its name (or soname).
pub fn classify(file_name: &str) -> Option<Kind> {
    let s = stem(file_name)?;
    if let Some(rest) = s.strip_prefix("hdf5") {
        let component = ["hl", "cpp", "fortran", "tools", "java"].iter().any(|c| rest.contains(c));
        return Some(if component { Kind::Hdf5Component } else { Kind::Hdf5 });
    }
    if s == "mpi" || s == "mpich" || s.starts_with("mpi_") || s.starts_with("mpich") || s.starts_with("mpi-") {
        return Some(Kind::Mpi);
    }
    if s.starts_with("python") {
        return Some(Kind::Python);
    }
    None
}

/// The first number after `.so.`: `libhdf5.so.310.5.1` -> 310.
pub fn soname_major(name: &str) -> Option<u32> {
    let at = name.find(".so.")?;
    name[at + 4..].split('.').next()?.parse().ok()
}

/// The HDF5 release series of a libhdf5 soname number (libtool interface numbers of vanilla builds).
pub fn hdf5_series(soname: &str) -> Option<&'static str> {
    Some(match soname_major(soname)? {
        8..=10 => "HDF5 1.8.x",
        100 => "HDF5 1.10.0-1.10.1",
        101 => "HDF5 1.10.2",
        103 => "HDF5 1.10.3-1.10.11",
        200 => "HDF5 1.12.x",
        310 => "HDF5 1.14.x",
        320 => "HDF5 2.x",
        _ => return None,
    })
}

/// The symbols [`mpi_family`] asks an MPI library about (for [`SymbolInfo::parse_exports_of`]).
pub const MPI_FAMILY_SYMBOLS: &[&str] = &["ompi_mpi_comm_world", "ompi_mpi_comm_self"];

/// The MPI-IO driver's entry point: a libhdf5 that exports it is a parallel build.
pub const MPIO_DRIVER_SYMBOL: &str = "H5Pset_fapl_mpio";

/// An MPI ABI family.
pub fn mpi_family(soname: &str, symbols: Option<&SymbolInfo>) -> &'static str {
    let stem = stem(soname).unwrap_or("");
    if symbols.is_some_and(|s| MPI_FAMILY_SYMBOLS.iter().any(|n| s.exports(n))) {
        return "openmpi";
    }
    match (stem, soname_major(soname)) {
        ("mpi", Some(40 | 20)) => "openmpi",
        ("mpi", Some(12)) | ("mpich", _) => "mpich",
        (s, _) if s.starts_with("mpi_") && !is_mpi_binding(s) => "cray-mpich",
        _ => "unknown",
    }
}

/// Open MPI's and MPICH's language-binding libraries (not the MPI library itself).
fn is_mpi_binding(stem: &str) -> bool {
    ["cxx", "mpifh", "usempi", "java", "fort", "f90", "f77", "cpp"]
        .iter()
        .any(|b| stem.contains(b))
}

/// Whether a library is the MPI library proper (exports MPI_Init), not a binding.
pub fn is_core_mpi(soname: &str, symbols: Option<&SymbolInfo>) -> bool {
    match symbols {
        Some(s) => s.exports("MPI_Init"),
        None => classify(soname) == Some(Kind::Mpi) && !stem(soname).is_some_and(is_mpi_binding),
    }
}

/// The flavour of a libhdf5 (`libraries.hdf5`, a module's HDF5): `serial`, `openmpi` or `mpich` (Debian's
/// `HDF5_SERIAL_*`, `HDF5_OPENMPI_*`, `HDF5_MPICH_*` symbol version nodes), else `parallel` (Debian's
/// `HDF5_MPI_*` nodes, or any build that exports the MPI-IO driver) or `serial`.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    serde::Serialize,
    serde::Deserialize,
    strum::IntoStaticStr,
    strum::VariantNames,
    strum::EnumString,
    strum::EnumIter,
    strum::Display,
)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
#[serde(rename_all = "kebab-case")]
#[strum(serialize_all = "kebab-case")]
pub enum Hdf5Flavour {
    Serial,
    Openmpi,
    Mpich,
    Parallel,
}

impl Hdf5Flavour {
    /// The spelling in facts and reports (`openmpi`, ...).
    pub fn as_str(self) -> &'static str {
        self.into()
    }

    /// Whether it is a build with MPI-IO (every flavour but `serial`).
    pub fn is_parallel(self) -> bool {
        self != Self::Serial
    }
}

/// The flavour of a libhdf5: Debian's symbol version nodes name it; otherwise the MPI-IO driver does.
pub fn hdf5_flavour(symbols: &SymbolInfo) -> Hdf5Flavour {
    let node = |p: &str| symbols.version_nodes.iter().any(|n| n.starts_with(p));
    if node("HDF5_SERIAL_") {
        Hdf5Flavour::Serial
    } else if node("HDF5_OPENMPI_") {
        Hdf5Flavour::Openmpi
    } else if node("HDF5_MPICH_") {
        Hdf5Flavour::Mpich
    } else if node("HDF5_MPI_") || symbols.exports(MPIO_DRIVER_SYMBOL) {
        // Debian's parallel builds (Open MPI and MPICH alike) use HDF5_MPI_* nodes.
        Hdf5Flavour::Parallel
    } else {
        Hdf5Flavour::Serial
    }
}

/// `3.11` from `libpython3.11.so.1.0`.
pub fn python_version(file_name: &str) -> Option<String> {
    let s = stem(file_name)?.strip_prefix("python")?;
    let v: String = s.chars().take_while(|c| c.is_ascii_digit() || *c == '.').collect();
    (!v.is_empty()).then_some(v)
}

/// The Debian 12 package that ships a well-known soname, for "install this" hints.
pub fn debian_package(soname: &str) -> Option<&'static str> {
    Some(match soname {
        "libhdf5_serial.so.103" => "libhdf5-103-1",
        "libhdf5_serial_hl.so.100" => "libhdf5-hl-100",
        "libhdf5_openmpi.so.103" => "libhdf5-openmpi-103-1",
        "libhdf5_openmpi_hl.so.100" => "libhdf5-openmpi-hl-100",
        "libhdf5_mpich.so.103" => "libhdf5-mpich-103-1",
        "libhdf5_mpich_hl.so.100" => "libhdf5-mpich-hl-100",
        "libmpi.so.40" => "libopenmpi3",
        "libmpich.so.12" => "libmpich12",
        "libpython3.11.so.1.0" => "libpython3.11",
        "libsz.so.2" => "libsz2",
        "libaec.so.0" => "libaec0",
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use strum::IntoEnumIterator;

    #[test]
    fn serde_and_strum_spell_each_kind_alike() {
        let names: Vec<&str> = Kind::iter().map(Kind::as_str).collect();
        assert_eq!(names, ["hdf5", "hdf5-component", "mpi", "python"]);
        for k in Kind::iter() {
            assert_eq!(serde_json::to_value(k).unwrap(), serde_json::json!(k.as_str()));
            assert_eq!(serde_json::from_value::<Kind>(serde_json::json!(k.as_str())).unwrap(), k);
        }
    }

    /// The flavours facts files hold (`libraries.inventory[].flavour`, a module's `hdf5.flavour`), spelled
    /// once; any other value is refused when a facts file is read.
    #[test]
    fn hdf5_flavours_are_spelled_once_and_closed() {
        let names: Vec<&str> = Hdf5Flavour::iter().map(Hdf5Flavour::as_str).collect();
        assert_eq!(names, ["serial", "openmpi", "mpich", "parallel"]);
        assert_eq!(<Hdf5Flavour as strum::VariantNames>::VARIANTS, names.as_slice());
        for f in Hdf5Flavour::iter() {
            assert_eq!(serde_json::to_value(f).unwrap(), serde_json::json!(f.as_str()));
            assert_eq!(f.to_string(), f.as_str());
            assert_eq!(f.as_str().parse::<Hdf5Flavour>(), Ok(f));
            assert_eq!(f.is_parallel(), f != Hdf5Flavour::Serial);
        }
        let err = serde_json::from_str::<Option<Hdf5Flavour>>("\"open-mpi\"").unwrap_err();
        assert!(err.to_string().contains("unknown variant `open-mpi`"), "{err}");
        assert_eq!(serde_json::from_str::<Option<Hdf5Flavour>>("null").unwrap(), None);
        assert!("Serial".parse::<Hdf5Flavour>().is_err());
    }

    #[test]
    fn names_classify() {
        assert_eq!(classify("libhdf5_serial.so.103"), Some(Kind::Hdf5));
        assert_eq!(classify("/x/h5py.libs/libhdf5-9e18f0c6.so.320.0.0"), Some(Kind::Hdf5));
        assert_eq!(classify("libhdf5_parallel_gnu_123.so.200"), Some(Kind::Hdf5));
        assert_eq!(classify("libhdf5_serial_hl.so.100"), Some(Kind::Hdf5Component));
        assert_eq!(classify("libhdf5hl_fortran.so.100"), Some(Kind::Hdf5Component));
        assert_eq!(classify("libmpi.so.40"), Some(Kind::Mpi));
        assert_eq!(classify("libmpich.so.12"), Some(Kind::Mpi));
        assert_eq!(classify("libpython3.11.so.1.0"), Some(Kind::Python));
        assert_eq!(classify("libhdf5.a"), None);
        assert_eq!(classify("libz.so.1"), None);
    }

    #[test]
    fn sonames_map_to_series_and_families() {
        assert_eq!(hdf5_series("libhdf5_serial.so.103"), Some("HDF5 1.10.3-1.10.11"));
        assert_eq!(hdf5_series("libhdf5-9e18f0c6.so.320.0.0"), Some("HDF5 2.x"));
        assert_eq!(hdf5_series("libhdf5.so.310"), Some("HDF5 1.14.x"));
        assert_eq!(hdf5_series("libhdf5.so"), None);
        assert_eq!(mpi_family("libmpi.so.40", None), "openmpi");
        assert_eq!(mpi_family("libmpi.so.12", None), "mpich");
        assert_eq!(mpi_family("libmpich.so.12", None), "mpich");
        assert_eq!(mpi_family("libmpi_gnu_123.so.12", None), "cray-mpich");
        assert!(!is_core_mpi("libmpi_cxx.so.40", None));
        assert_eq!(python_version("libpython3.11.so.1.0").as_deref(), Some("3.11"));
    }
}
