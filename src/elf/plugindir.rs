//! The compiled-in default plugin search path of an HDF5 library, read from the file without loading it.
//!
//! When HDF5_PLUGIN_PATH is unset, HDF5 searches `H5_DEFAULT_PLUGINDIR` (configure's
//! `--with-default-plugindir`, CMake's `H5_DEFAULT_PLUGINDIR`; H5PL__init_path_table copies it), so the value
//! is a string literal in the library's `.rodata`: `/usr/local/hdf5/lib/plugin` upstream,
//! `/usr/lib/x86_64-linux-gnu/hdf5/serial/plugins` in Debian's serial build (`.../openmpi/plugins` in its
//! Open MPI one), `/usr/local/lib/plugin:/usr/local/hdf5/lib/plugin` in h5py 3.16's wheel (HDF5 2.0). It
//! is recognised as a string of absolute directories separated by `:`, without white space, the last
//! component of each ending in `plugin` or `plugins` (source file names such as `.../H5PLplugin_cache.c`,
//! which HDF5's error stack embeds, do not). An object is taken to hold HDF5 when its `.rodata` holds the
//! `HDF5 library version: X.Y.Z` string every libhdf5 embeds.

use super::object::{map_file, section_data};
use super::symbols::embedded_hdf5_version;
use std::path::Path;

/// The default plugin directories of the HDF5 in `file`, in HDF5's order: `Ok(None)` when the file holds no
/// HDF5 (or is no ELF file), an error when it does but no default path was found in it (or it could not be read).
pub fn default_plugin_dirs(file: &Path) -> Result<Option<Vec<String>>, String> {
    let opened = std::fs::File::open(file).map_err(|e| format!("{}: {e}", file.display()))?;
    let bytes = map_file(&opened).map_err(|e| format!("{}: {e}", file.display()))?;
    if !bytes.starts_with(b"\x7fELF") {
        // A script: what it runs is its own business (as for every program root may run).
        return Ok(None);
    }
    let rodata = section_data(&bytes, &[".rodata"]).map_err(|e| format!("{}: {e}", file.display()))?;
    if embedded_hdf5_version(&rodata).is_none() {
        return Ok(None);
    }
    let dirs = plugin_dirs_in(&rodata);
    if dirs.is_empty() {
        return Err(format!("no default plugin directory found in {}", file.display()));
    }
    Ok(Some(dirs))
}

/// Every directory of every string in `rodata` that looks like a default plugin path (see the module doc),
/// in order, without repeats. Every such string holds `plugin` (its last entry ends with it), so only the
/// NUL-terminated strings around its occurrences are looked at, not every string of `.rodata`.
pub fn plugin_dirs_in(rodata: &[u8]) -> Vec<String> {
    let mut dirs: Vec<String> = Vec::new();
    let mut seen_up_to = 0;
    for at in memchr::memmem::find_iter(rodata, b"plugin") {
        if at < seen_up_to {
            continue;
        }
        let start = memchr::memrchr(0, &rodata[..at]).map_or(0, |nul| nul + 1);
        let end = memchr::memchr(0, &rodata[at..]).map_or(rodata.len(), |nul| at + nul);
        seen_up_to = end;
        for e in default_path_entries(&rodata[start..end]) {
            if !dirs.iter().any(|d| d == e) {
                dirs.push(e.to_string());
            }
        }
    }
    dirs
}

/// The entries of `s` when it is a default plugin path: absolute directories separated by `:`, printable,
/// without white space, the last component of each ending in `plugin` or `plugins`; none otherwise.
fn default_path_entries(s: &[u8]) -> Vec<&str> {
    if s.first() != Some(&b'/') || s.iter().any(|b| b.is_ascii_whitespace() || !b.is_ascii_graphic()) {
        return Vec::new();
    }
    let Ok(text) = std::str::from_utf8(s) else { return Vec::new() };
    let entries: Vec<&str> = text.split(':').filter(|e| !e.is_empty()).collect();
    let plugin_dir = |e: &&str| {
        let last = e.trim_end_matches('/').rsplit('/').next().unwrap_or_default();
        e.starts_with('/') && (last.ends_with("plugin") || last.ends_with("plugins"))
    };
    if entries.iter().all(plugin_dir) {
        entries
    } else {
        Vec::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_paths_are_told_from_source_names_and_other_strings() {
        let rodata = b"x\0../../../src/H5PLplugin_cache.c\0/usr/lib/x86_64-linux-gnu/hdf5/serial/plugins\0\
                       /tmp/hdf5-2.0.0/src/H5PLplugin_cache.c\0/usr/local/lib/plugin:/usr/local/hdf5/lib/plugin\0\
                       /usr/share/hdf5 plugin\0HDF5_PLUGIN_PATH\0/usr/local/hdf5/lib/plugin\0";
        assert_eq!(
            plugin_dirs_in(rodata),
            [
                "/usr/lib/x86_64-linux-gnu/hdf5/serial/plugins",
                "/usr/local/lib/plugin",
                "/usr/local/hdf5/lib/plugin"
            ]
        );
        assert!(plugin_dirs_in(b"/usr/lib/x86_64-linux-gnu/libhdf5_serial.so.103\0").is_empty());
    }

    /// The plain reading of the module doc: every NUL-terminated string of `.rodata`, one by one.
    fn every_string(rodata: &[u8]) -> Vec<String> {
        let mut dirs: Vec<String> = Vec::new();
        for s in rodata.split(|b| *b == 0) {
            for e in default_path_entries(s) {
                if !dirs.iter().any(|d| d == e) {
                    dirs.push(e.to_string());
                }
            }
        }
        dirs
    }

    #[test]
    fn looking_only_around_plugin_finds_what_reading_every_string_finds() {
        let edges: [&[u8]; 4] = [
            b"/a/plugins",
            b"/a/plugin\0/b/plugins:/c/plugin\0",
            b"\0/x/pluginplugin:/y/plugins\0/z/plugin s\0plugin\0/q/plugin",
            b"/a/b/H5PLplugin_cache.c\0:/m/plugin:\0//plugin/\0",
        ];
        for rodata in edges {
            assert_eq!(plugin_dirs_in(rodata), every_string(rodata), "{}", String::from_utf8_lossy(rodata));
        }
        let mut libraries = 0;
        for lib in [
            "/usr/lib/x86_64-linux-gnu/libhdf5_serial.so.103",
            "/usr/lib/x86_64-linux-gnu/libhdf5_openmpi.so.103",
        ] {
            let Ok(bytes) = std::fs::read(lib) else { continue };
            let rodata = section_data(&bytes, &[".rodata"]).unwrap();
            let found = plugin_dirs_in(&rodata);
            assert!(!found.is_empty(), "{lib}");
            assert_eq!(found, every_string(&rodata), "{lib}");
            libraries += 1;
        }
        assert!(libraries > 0 || !Path::new("/usr/lib/x86_64-linux-gnu").exists());
    }

    #[test]
    fn debians_serial_libhdf5_names_its_own_plugins_directory() {
        let lib = Path::new("/usr/lib/x86_64-linux-gnu/libhdf5_serial.so.103");
        if !lib.exists() {
            return;
        }
        assert_eq!(
            default_plugin_dirs(lib).unwrap(),
            Some(vec!["/usr/lib/x86_64-linux-gnu/hdf5/serial/plugins".to_string()])
        );
        assert_eq!(default_plugin_dirs(Path::new("/bin/sh")).unwrap(), None);
        assert_eq!(default_plugin_dirs(Path::new("/usr/bin/ldd")).unwrap(), None, "a script");
    }
}
