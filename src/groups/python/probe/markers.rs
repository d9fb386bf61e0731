//! What h5py's extension modules record about the NumPy and Cython they were built with, read from their
//! string data (`.rodata` and `.data`, through `crate::elf::object::section_data`): NumPy's module name
//! (`numpy._core._multiarray_umath` for NumPy 2, `numpy.core._multiarray_umath` before), the C-API check
//! message with the oldest NumPy the build runs on, the NumPy release it was built against and Cython's
//! `_cython_X_Y_Z` marker. Nothing here is ELF or loader logic; that is `crate::elf`'s.

use crate::elf::object::{map_file, section_data};
use crate::facts::modules::H5pyNumpyBuild;
use crate::facts::python::H5pyStatic;
use crate::facts::values::NumpyAbi;
use crate::groups::python::probe::numpy_static::capi_of_release;
use memchr::memmem;
use std::path::Path;

/// The prefix of the NumPy C-API check message in extensions built with NumPy >= 1.25 headers.
pub const CAPI_MESSAGE: &str = "module was compiled against NumPy C-API version 0x%x (NumPy ";

/// The string data of an extension module: its `.rodata` and `.data` sections (the whole file when it
/// has no section headers).
pub fn string_data(path: &Path) -> Result<Vec<u8>, String> {
    let file = std::fs::File::open(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let bytes = map_file(&file).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    // Strings in non-const arrays (Cython's module tables) are in .data, not .rodata.
    let data = section_data(&bytes, &[".rodata", ".data"]).map_err(|e| format!("{}: {e}", path.display()))?;
    Ok(if data.is_empty() { bytes.to_vec() } else { data })
}

/// Whether `needle` occurs in `hay`.
fn contains(hay: &[u8], needle: &str) -> bool {
    memmem::find(hay, needle.as_bytes()).is_some()
}

/// The printable text following each occurrence of `prefix`, up to a NUL or a newline.
fn texts_after<'a>(hay: &'a [u8], prefix: &'a str) -> impl Iterator<Item = String> + 'a {
    memmem::find_iter(hay, prefix.as_bytes()).map(move |at| {
        let start = at + prefix.len();
        let end = memchr::memchr2(0, b'\n', &hay[start..]).map_or(hay.len(), |e| start + e);
        String::from_utf8_lossy(&hay[start..end]).into_owned()
    })
}

/// The NUL-terminated strings of `hay` that satisfy `keep`.
fn strings_where<'a>(hay: &'a [u8], keep: impl Fn(&str) -> bool + 'a) -> impl Iterator<Item = &'a str> + 'a {
    hay.split(|&b| b == 0)
        .filter_map(|s| std::str::from_utf8(s).ok())
        .filter(move |s| keep(s))
}

/// A version-looking string (`1.23.2`, `2.0.0rc1`).
fn looks_like_version(s: &str) -> bool {
    let core: String = s.chars().take_while(|c| c.is_ascii_digit() || *c == '.').collect();
    let rest = &s[core.len()..];
    core.split('.').count() == 3
        && core.split('.').all(|p| !p.is_empty())
        && (rest.is_empty() || (rest.len() <= 5 && rest.chars().all(|c| c.is_ascii_alphanumeric())))
}

/// The NumPy ABI, C-API requirement and build release recorded in the extensions' strings (`texts` holds
/// each key module's name and string data; the build release is a string of the `h5` module only).
pub fn numpy_abi(texts: &[(&str, Vec<u8>)], out: &mut H5pyStatic) {
    let any = |needle: &str| texts.iter().any(|(_, t)| contains(t, needle));
    out.numpy_abi = if any("numpy._core._multiarray_umath") {
        Some(NumpyAbi::V2)
    } else if any("numpy.core._multiarray_umath") {
        Some(NumpyAbi::V1)
    } else {
        None
    };
    out.cython = texts.iter().find_map(|(_, t)| {
        strings_where(t, |s| {
            s.starts_with("_cython_") && s[8..].chars().all(|c| c.is_ascii_digit() || c == '_')
        })
        .next()
        .map(|s| s[8..].replace('_', "."))
    });
    let cython = out.cython.clone();
    out.numpy_built = texts.iter().filter(|(name, _)| *name == "h5").find_map(|(_, t)| {
        strings_where(t, |s| {
            looks_like_version(s) && Some(s) != cython.as_deref() && (s.starts_with("1.") || s.starts_with("2."))
        })
        .next()
        .map(str::to_string)
    });
    let target = oldest_numpy(texts);
    (out.numpy_capi_required, out.numpy_capi_from) = match (target, &out.numpy_built) {
        (Some(t), _) => (
            capi_of_release(&t),
            Some(format!("the extensions' C-API check (built to run on NumPy >= {t})")),
        ),
        (None, Some(built)) => (capi_of_release(built), Some(format!("the NumPy it was built against ({built})"))),
        (None, None) => (None, None),
    };
}

/// The oldest NumPy a build runs on, from the C-API check message of extensions built with NumPy >= 1.25
/// headers (`... (NumPy 1.19)`).
fn oldest_numpy(texts: &[(&str, Vec<u8>)]) -> Option<String> {
    texts
        .iter()
        .find_map(|(_, t)| texts_after(t, CAPI_MESSAGE).find_map(|rest| rest.split(')').next().map(str::to_string)))
}

/// What the h5py package in `h5py_dir` (a directory named `h5py`, e.g. on a module's PYTHONPATH) was built
/// for, read from the string data of its key extension modules (`defs`, `h5`, `_conv`, `h5t`, `_errors`,
/// whatever their suffix): the NumPy ABI, the NumPy release it was built against and the oldest NumPy it
/// runs on. `None` when none of those extensions is readable.
pub fn h5py_numpy_build(h5py_dir: &Path, key_modules: &[&'static str]) -> Option<H5pyNumpyBuild> {
    let mut texts: Vec<(&str, Vec<u8>)> = Vec::new();
    let entries = std::fs::read_dir(h5py_dir).ok()?;
    let mut files: Vec<(String, std::path::PathBuf)> = entries
        .filter_map(|e| e.ok())
        .map(|e| (e.file_name().to_string_lossy().into_owned(), e.path()))
        .filter(|(name, _)| name.ends_with(".so"))
        .collect();
    files.sort();
    for key in key_modules {
        let found = files.iter().find(|(name, _)| name.split('.').next() == Some(*key));
        if let Some(data) = found.and_then(|(_, path)| string_data(path).ok()) {
            texts.push((key, data));
        }
    }
    if texts.is_empty() {
        return None;
    }
    let mut out = H5pyStatic::default();
    numpy_abi(&texts, &mut out);
    Some(H5pyNumpyBuild {
        abi: out.numpy_abi,
        built: out.numpy_built,
        oldest: oldest_numpy(&texts),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn version_strings() {
        assert!(looks_like_version("1.23.2") && looks_like_version("2.0.0rc1"));
        assert!(!looks_like_version("1.23") && !looks_like_version("1.2.3 and more"));
    }

    #[test]
    fn texts_after_every_occurrence() {
        let hay = b"a: 1\0b\0a: 2\nc";
        assert_eq!(texts_after(hay, "a: ").collect::<Vec<_>>(), ["1", "2"]);
    }

    #[test]
    fn numpy_abi_from_extension_strings() {
        let mut out = H5pyStatic::default();
        numpy_abi(
            &[(
                "h5",
                b"\0_cython_0_29_36\0numpy.core._multiarray_umath\x000.29.36\x001.23.2\0".to_vec(),
            )],
            &mut out,
        );
        assert_eq!(out.numpy_abi, Some(NumpyAbi::V1));
        assert_eq!(out.cython.as_deref(), Some("0.29.36"));
        assert_eq!(out.numpy_built.as_deref(), Some("1.23.2"));
        assert_eq!(out.numpy_capi_required, Some(0x10));
        let mut out = H5pyStatic::default();
        let msg = format!("\0numpy._core._multiarray_umath\0{CAPI_MESSAGE}1.20) but the running NumPy has C-API version 0x%x.\0");
        numpy_abi(&[("_conv", msg.into_bytes())], &mut out);
        assert_eq!(out.numpy_abi, Some(NumpyAbi::V2));
        assert_eq!(out.numpy_capi_required, Some(0xe));
    }
}
