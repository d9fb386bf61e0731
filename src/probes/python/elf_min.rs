//! The minimum of ELF the Python probe needs, kept in one place so the shared ELF resolver (`src/elf/`)
//! can replace it wholesale: DT_NEEDED, DT_RPATH/DT_RUNPATH and DT_SONAME of a shared object, a loader
//! emulation that is good enough for h5py's extension modules (RPATH with `$ORIGIN`, LD_LIBRARY_PATH,
//! RUNPATH, the ld.so.conf directories, the default directories), and the strings in `.rodata`/`.data`
//! (`HDF5 library version: X.Y.Z`, `Parallel HDF5: yes`, NumPy's module names and C-API messages).
//!
//! Deliberately not done here (the shared resolver does it properly): /etc/ld.so.cache, the RPATH of the
//! loading executable, `$LIB`/`$PLATFORM`, hwcaps subdirectories, symbol versions.

use std::path::{Path, PathBuf};

/// The dynamic section of one ELF file, and its read-only data.
#[derive(Debug, Default)]
pub struct ElfFile {
    pub soname: Option<String>,
    pub needed: Vec<String>,
    pub rpath: Vec<String>,
    pub runpath: Vec<String>,
    /// 64-bit (`true`) or 32-bit.
    pub is_64: bool,
    /// The bytes of `.rodata` and `.data`, where the strings are (the whole file when it has no section headers).
    pub data: Vec<u8>,
}

/// Reads an ELF shared object; the error says which file and why.
pub fn read(path: &Path) -> Result<ElfFile, String> {
    let bytes = std::fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let elf = goblin::elf::Elf::parse(&bytes).map_err(|e| format!("{}: not a readable ELF file: {e}", path.display()))?;
    let split = |s: &str| -> Vec<String> { s.split(':').filter(|p| !p.is_empty()).map(str::to_string).collect() };
    // HDF5's build settings (`Parallel HDF5: no`) live in a non-const array, so in .data, not .rodata.
    let mut data = Vec::new();
    for sh in elf.section_headers.iter() {
        if !matches!(elf.shdr_strtab.get_at(sh.sh_name), Some(".rodata" | ".data")) {
            continue;
        }
        let start = usize::try_from(sh.sh_offset).unwrap_or(usize::MAX);
        let end = usize::try_from(sh.sh_size).ok().and_then(|n| start.checked_add(n));
        if let Some(section) = end.and_then(|end| bytes.get(start..end)) {
            data.extend_from_slice(section);
            data.push(0);
        }
    }
    Ok(ElfFile {
        soname: elf.soname.map(str::to_string),
        needed: elf.libraries.iter().map(|s| s.to_string()).collect(),
        rpath: elf.rpaths.iter().flat_map(|s| split(s)).collect(),
        runpath: elf.runpaths.iter().flat_map(|s| split(s)).collect(),
        is_64: elf.is_64,
        data: if data.is_empty() { bytes } else { data },
    })
}

/// Where one library was found, or where it was looked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Resolution {
    Found { path: PathBuf, how: &'static str },
    Missing { looked_in: Vec<String> },
}

/// The search directories that do not depend on the requesting object.
#[derive(Debug, Clone, Default)]
pub struct SearchPath {
    pub ld_library_path: Vec<PathBuf>,
    /// The directories of /etc/ld.so.conf (and its includes), in order.
    pub ld_so_conf: Vec<PathBuf>,
    pub defaults: Vec<PathBuf>,
}

impl SearchPath {
    /// LD_LIBRARY_PATH from `env`, the ld.so.conf directories of this system, the default directories.
    pub fn new(ld_library_path: Option<&str>) -> Self {
        let mut conf = Vec::new();
        read_ld_so_conf(Path::new("/etc/ld.so.conf"), &mut conf, 0);
        Self {
            ld_library_path: ld_library_path
                .unwrap_or("")
                .split([':', ';'])
                .filter(|p| !p.is_empty())
                .map(PathBuf::from)
                .collect(),
            ld_so_conf: conf,
            defaults: ["/lib64", "/usr/lib64", "/lib", "/usr/lib"].iter().map(PathBuf::from).collect(),
        }
    }
}

/// Matches a file name against a pattern with at most one `*` (what ld.so.conf includes use).
fn glob_one(pattern: &str, name: &str) -> bool {
    match pattern.split_once('*') {
        Some((pre, post)) => name.len() >= pre.len() + post.len() && name.starts_with(pre) && name.ends_with(post),
        None => pattern == name,
    }
}

fn read_ld_so_conf(file: &Path, out: &mut Vec<PathBuf>, depth: u32) {
    let Ok(text) = std::fs::read_to_string(file) else { return };
    for line in text.lines() {
        let line = line.split('#').next().unwrap_or("").trim();
        if let Some(pattern) = line.strip_prefix("include").filter(|p| p.starts_with([' ', '\t'])) {
            if depth > 4 {
                continue;
            }
            for pattern in pattern.split_whitespace() {
                let pattern = Path::new("/etc").join(pattern);
                let (Some(dir), Some(name)) = (pattern.parent(), pattern.file_name().and_then(|n| n.to_str())) else {
                    continue;
                };
                let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
                    .map(|rd| {
                        rd.filter_map(|e| e.ok())
                            .filter(|e| e.file_name().to_str().is_some_and(|n| glob_one(name, n)))
                            .map(|e| e.path())
                            .collect()
                    })
                    .unwrap_or_default();
                files.sort();
                for f in files {
                    read_ld_so_conf(&f, out, depth + 1);
                }
            }
        } else if line.starts_with('/') {
            let dir = PathBuf::from(line);
            if !out.contains(&dir) {
                out.push(dir);
            }
        }
    }
}

/// Expands `$ORIGIN` / `${ORIGIN}` against the directory of the requesting object.
fn expand_origin(entry: &str, origin: &Path) -> PathBuf {
    let o = origin.to_string_lossy();
    PathBuf::from(entry.replace("${ORIGIN}", &o).replace("$ORIGIN", &o))
}

/// Whether `path` is an ELF file of the wanted class (a 32-bit library in a searched directory is skipped,
/// as the loader does).
fn usable(path: &Path, want_64: bool) -> bool {
    use std::io::Read;
    let mut head = [0u8; 5];
    std::fs::File::open(path)
        .and_then(|mut f| f.read_exact(&mut head))
        .is_ok_and(|_| &head[..4] == b"\x7fELF" && (head[4] == 2) == want_64)
}

/// Resolves `needed` for the object at `requester` the way ld.so would (minus the cache).
pub fn resolve(needed: &str, requester: &Path, req: &ElfFile, search: &SearchPath) -> Resolution {
    if needed.contains('/') {
        let p = PathBuf::from(needed);
        return if p.is_file() {
            Resolution::Found { path: p, how: "path" }
        } else {
            Resolution::Missing {
                looked_in: vec![needed.to_string()],
            }
        };
    }
    let real = std::fs::canonicalize(requester).unwrap_or_else(|_| requester.to_path_buf());
    let origin = real.parent().unwrap_or(Path::new("/")).to_path_buf();
    let mut order: Vec<(PathBuf, &'static str)> = Vec::new();
    if req.runpath.is_empty() {
        order.extend(req.rpath.iter().map(|r| (expand_origin(r, &origin), "rpath")));
    }
    order.extend(search.ld_library_path.iter().map(|d| (d.clone(), "LD_LIBRARY_PATH")));
    order.extend(req.runpath.iter().map(|r| (expand_origin(r, &origin), "runpath")));
    order.extend(search.ld_so_conf.iter().map(|d| (d.clone(), "ld.so.conf")));
    order.extend(search.defaults.iter().map(|d| (d.clone(), "default dirs")));
    let mut looked_in = Vec::new();
    for (dir, how) in order {
        let candidate = dir.join(needed);
        if usable(&candidate, req.is_64) {
            return Resolution::Found { path: candidate, how };
        }
        let shown = dir.display().to_string();
        if !looked_in.contains(&shown) {
            looked_in.push(shown);
        }
    }
    Resolution::Missing { looked_in }
}

/// The offset of `needle` in `hay`.
pub fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    let (&first, _) = needle.split_first()?;
    let mut from = 0;
    while let Some(p) = hay.get(from..)?.iter().position(|&b| b == first) {
        let at = from + p;
        if hay[at..].starts_with(needle) {
            return Some(at);
        }
        from = at + 1;
    }
    None
}

/// Whether `needle` occurs in `hay`.
pub fn contains(hay: &[u8], needle: &str) -> bool {
    find(hay, needle.as_bytes()).is_some()
}

/// The printable text following each occurrence of `prefix`, up to a NUL or a newline.
pub fn texts_after(hay: &[u8], prefix: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut from = 0;
    while let Some(p) = hay.get(from..).and_then(|h| find(h, prefix.as_bytes())) {
        let start = from + p + prefix.len();
        let end = hay[start..]
            .iter()
            .position(|&b| b == 0 || b == b'\n')
            .map_or(hay.len(), |e| start + e);
        out.push(String::from_utf8_lossy(&hay[start..end]).into_owned());
        from = start;
    }
    out
}

/// The NUL-terminated strings of `hay` that satisfy `keep`.
pub fn strings_where(hay: &[u8], keep: impl Fn(&str) -> bool) -> Vec<String> {
    hay.split(|&b| b == 0)
        .filter_map(|s| std::str::from_utf8(s).ok())
        .filter(|s| keep(s))
        .map(str::to_string)
        .collect()
}

/// `HDF5 library version: X.Y.Z` embedded in every libhdf5 (the format string next to it is skipped).
pub fn hdf5_version(data: &[u8]) -> Option<String> {
    texts_after(data, "HDF5 library version: ")
        .into_iter()
        .map(|t| {
            t.chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '.' || *c == '-')
                .collect::<String>()
        })
        .find(|v| v.starts_with(|c: char| c.is_ascii_digit()))
}

/// `Parallel HDF5: yes|no` (autotools) or `ON|OFF` (CMake) from the embedded build settings.
pub fn hdf5_parallel(data: &[u8]) -> Option<bool> {
    texts_after(data, "Parallel HDF5: ")
        .into_iter()
        .find_map(|t| match t.trim().to_ascii_lowercase().as_str() {
            "yes" | "on" => Some(true),
            "no" | "off" => Some(false),
            _ => None,
        })
}

/// Whether a DT_NEEDED name is an MPI library (Open MPI, MPICH and its ABI family, Cray MPICH).
pub fn is_mpi_library(name: &str) -> bool {
    name.starts_with("libmpi.so") || name.starts_with("libmpich") || name.starts_with("libmpi_") || name.starts_with("libmpi-")
}

/// Whether a DT_NEEDED name is the main HDF5 library (not the high-level one): `libhdf5.so.310`,
/// `libhdf5_serial.so.103`, `libhdf5_openmpi.so.103`, `libhdf5-9e18f0c6.so.320.0.0`, Cray's
/// `libhdf5_parallel_gnu_123.so.200`.
pub fn is_hdf5_library(name: &str) -> bool {
    let Some(rest) = name.strip_prefix("libhdf5") else { return false };
    let stem = rest.split(".so").next().unwrap_or(rest);
    rest.contains(".so") && !stem.starts_with("_hl") && !stem.contains("_hl") && !stem.starts_with("_cpp") && !stem.starts_with("_fortran")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hdf5_names_are_told_from_the_high_level_and_language_libraries() {
        for yes in [
            "libhdf5.so.310",
            "libhdf5_serial.so.103",
            "libhdf5_openmpi.so.103",
            "libhdf5-9e18f0c6.so.320.0.0",
        ] {
            assert!(is_hdf5_library(yes), "{yes}");
        }
        for no in [
            "libhdf5_hl.so.310",
            "libhdf5_serial_hl.so.100",
            "libhdf5_hl-69da89c9.so.320.0.0",
            "libhdf5_cpp.so.103",
            "libz.so.1",
        ] {
            assert!(!is_hdf5_library(no), "{no}");
        }
    }

    #[test]
    fn embedded_version_skips_the_format_string() {
        let data = b"x\0HDF5 library version: %d.%d.%d%s%s\0y\0HDF5 library version: 1.10.8\0                   Parallel HDF5: no\0";
        assert_eq!(hdf5_version(data).as_deref(), Some("1.10.8"));
        assert_eq!(hdf5_parallel(data), Some(false));
        assert_eq!(hdf5_parallel(b"Parallel HDF5: ON\n"), Some(true));
    }

    #[test]
    fn origin_expands_and_single_star_globs_match() {
        assert_eq!(
            expand_origin("$ORIGIN/../h5py.libs", Path::new("/v/h5py")),
            PathBuf::from("/v/h5py/../h5py.libs")
        );
        assert!(glob_one("*.conf", "x86_64-linux-gnu.conf"));
        assert!(!glob_one("*.conf", "README"));
    }

    #[test]
    fn mpi_library_names() {
        assert!(is_mpi_library("libmpi.so.40") && is_mpi_library("libmpich.so.12") && is_mpi_library("libmpi_gnu_123.so.12"));
        assert!(!is_mpi_library("libmpfr.so.6") && !is_mpi_library("libm.so.6"));
    }
}
