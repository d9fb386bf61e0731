//! NumPy as found on disk: its version (metadata or its version file) and its C-API feature version, read
//! from the `NPY_API_VERSION` of its installed `_numpyconfig.h` or else from the release table below.

use crate::facts::python::{NumpyStatic, PackageLocation};
use crate::facts::values::VersionFrom;
use crate::groups::python::probe::site_scan::{assigned_string, dist_version};
use std::path::Path;

/// A NumPy release as (major, minor).
type Release = (u32, u32);

/// NumPy C-API feature versions by release range (numpyconfig.h `NPY_x_y_API_VERSION`): first, last, version.
const CAPI_BY_RELEASE: &[(Release, Release, u32)] = &[
    ((1, 7), (1, 7), 0x7),
    ((1, 8), (1, 8), 0x8),
    ((1, 9), (1, 9), 0x9),
    ((1, 10), (1, 12), 0xa),
    ((1, 13), (1, 13), 0xb),
    ((1, 14), (1, 15), 0xc),
    ((1, 16), (1, 19), 0xd),
    ((1, 20), (1, 21), 0xe),
    ((1, 22), (1, 22), 0xf),
    ((1, 23), (1, 24), 0x10),
    ((1, 25), (1, 26), 0x11),
    ((2, 0), (2, 0), 0x12),
    ((2, 1), (2, 2), 0x13),
    ((2, 3), (2, 3), 0x14),
    ((2, 4), (2, 4), 0x15),
    ((2, 5), (2, 5), 0x16),
];

/// `(major, minor)` of a version string such as `1.24.2`, `2.0.0rc1` or `1.16`.
pub fn major_minor(version: &str) -> Option<(u32, u32)> {
    let mut parts = version.split('.');
    let major = parts.next()?.parse().ok()?;
    let minor: String = parts.next()?.chars().take_while(char::is_ascii_digit).collect();
    Some((major, minor.parse().ok()?))
}

/// The C-API feature version of a NumPy release; `None` for releases this table does not know.
pub fn capi_of_release(version: &str) -> Option<u32> {
    let mm = major_minor(version)?;
    CAPI_BY_RELEASE
        .iter()
        .find(|(lo, hi, _)| *lo <= mm && mm <= *hi)
        .map(|(_, _, capi)| *capi)
}

/// `NPY_API_VERSION` from an installed `_numpyconfig.h`.
fn header_capi(pkg: &Path) -> Option<(u32, String)> {
    ["_core/include/numpy/_numpyconfig.h", "core/include/numpy/_numpyconfig.h"]
        .iter()
        .find_map(|rel| {
            let text = std::fs::read_to_string(pkg.join(rel)).ok()?;
            let value = text.lines().find_map(|l| l.trim().strip_prefix("#define NPY_API_VERSION"))?;
            let hex = value.trim().trim_start_matches("0x").trim_start_matches("0X");
            u32::from_str_radix(hex, 16)
                .ok()
                .map(|v| (v, format!("NPY_API_VERSION in numpy/{rel}")))
        })
}

/// Reads NumPy's facts at `location`.
pub fn scan(mut location: PackageLocation) -> NumpyStatic {
    let pkg = Path::new(&location.dir).to_path_buf();
    let from_meta = dist_version(Path::new(&location.entry), "numpy");
    let from_file = || {
        let v = std::fs::read_to_string(pkg.join("version.py"))
            .ok()
            .and_then(|t| assigned_string(&t, &["version", "__version__"]))
            .or_else(|| {
                std::fs::read_to_string(pkg.join("_version.py"))
                    .ok()
                    .and_then(|t| assigned_string(&t, &["\"version\""]))
            })?;
        Some((v, VersionFrom::VersionPy))
    };
    if let Some((v, from)) = from_meta.or_else(from_file) {
        location.version = Some(v);
        location.version_from = Some(from);
    }
    let (capi, capi_from) = match header_capi(&pkg) {
        Some((v, from)) => (Some(v), Some(from)),
        None => match location.version.as_deref().and_then(capi_of_release) {
            Some(v) => (Some(v), Some("the C-API table for its release".to_string())),
            None => (None, None),
        },
    };
    NumpyStatic { location, capi, capi_from }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn capi_table_matches_numpyconfig() {
        assert_eq!(capi_of_release("1.24.2"), Some(0x10));
        assert_eq!(capi_of_release("1.16"), Some(0xd));
        assert_eq!(capi_of_release("1.20"), Some(0xe));
        assert_eq!(capi_of_release("2.0.0rc1"), Some(0x12));
        assert_eq!(capi_of_release("2.4.6"), Some(0x15));
        assert_eq!(capi_of_release("9.9"), None);
    }
}
