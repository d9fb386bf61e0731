//! The symbol side of an ELF object, read only when a rule needs it: dynamic symbols defined and
//! undefined with their GNU symbol versions, the version nodes an object defines (verdef) and the
//! versions it needs from each library (verneed, e.g. `libc.so.6: GLIBC_2.34`), and the
//! `HDF5 library version: X.Y.Z` string every libhdf5 embeds.
//!
//! Everything is located through the dynamic section (DT_SYMTAB, DT_GNU_HASH/DT_HASH, DT_VERSYM,
//! DT_VERDEF, DT_VERNEED), as ld.so does, so stripped section headers do not matter. All offsets and
//! counts are bounds-checked; a malformed table is an error, never a panic or an endless loop.

use super::object::{dynamic_entries, guarded, layout, str_at, vm_to_offset, Layout};
use goblin::elf::dynamic::{Dyn, DT_GNU_HASH, DT_HASH, DT_SYMTAB, DT_VERDEF, DT_VERDEFNUM, DT_VERNEED, DT_VERNEEDNUM, DT_VERSYM};
use goblin::elf::sym::{Sym, STB_GLOBAL, STB_WEAK, STT_FILE, STT_SECTION};
use scroll::Pread;
use std::collections::HashMap;

/// A dynamic symbol an object exports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DefinedSymbol {
    pub name: String,
    /// Its version node (`HDF5_SERIAL_1.10.7`), if the object versions its symbols.
    pub version: Option<String>,
    /// A non-default version (`name@VER`, not `name@@VER`): only references asking for it bind to it.
    pub hidden: bool,
}

/// A dynamic symbol an object needs from elsewhere.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UndefinedSymbol {
    pub name: String,
    /// The version it asks for and the library that should provide it (from verneed).
    pub version: Option<String>,
    pub version_file: Option<String>,
    /// Weak references may stay undefined without an error.
    pub weak: bool,
}

pub use super::object::VersionNeed;

/// Symbols, versions and embedded version string of one object.
#[derive(Debug, Clone, Default)]
pub struct SymbolInfo {
    pub defined: Vec<DefinedSymbol>,
    pub undefined: Vec<UndefinedSymbol>,
    /// Version nodes the object defines, without the base entry (its own soname).
    pub version_nodes: Vec<String>,
    pub version_needs: Vec<VersionNeed>,
    /// The object has a DT_VERSYM table (versions its symbols).
    pub versioned: bool,
    /// `X.Y.Z` from the embedded `HDF5 library version: X.Y.Z` string.
    pub hdf5_version: Option<String>,
    by_name: HashMap<String, Vec<usize>>,
}

/// How much of an object [`SymbolInfo::parse_unguarded`] reads.
#[derive(Clone, Copy)]
enum Want<'n> {
    /// Version definitions and needs only.
    Versions,
    /// Every dynamic symbol and the embedded HDF5 version.
    All,
    /// The definitions of these names only, and the embedded HDF5 version if asked.
    Exports { names: &'n [&'n str], hdf5_version: bool },
}

/// The marker every libhdf5 embeds (H5_VERS_INFO).
const HDF5_MARKER: &[u8] = b"HDF5 library version: ";

/// Reads `X.Y.Z[-sub]` after the marker, if the file holds one; an occurrence that is not followed by
/// a version (the `%d.%d.%d%s%s` format string of the same message) is skipped.
pub fn embedded_hdf5_version(bytes: &[u8]) -> Option<String> {
    memchr::memmem::find_iter(bytes, HDF5_MARKER).find_map(|at| {
        let at = at + HDF5_MARKER.len();
        let tail = &bytes[at..bytes.len().min(at + 32)];
        let v: String = tail
            .iter()
            .take_while(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_'))
            .map(|&b| b as char)
            .collect();
        (v.chars().next().is_some_and(|c| c.is_ascii_digit())).then_some(v)
    })
}

/// `vna_flags` of a version an object may do without.
const VER_FLG_WEAK: u16 = 0x2;

/// Most entries any version table may have; real ones have a few dozen.
const MAX_VERSION_ENTRIES: usize = 65536;
/// Most dynamic symbols read (libraries with over a million exports do not exist).
const MAX_SYMBOLS: usize = 4_000_000;

struct Reader<'a> {
    bytes: &'a [u8],
    l: Layout,
    dyns: Vec<Dyn>,
    strtab: (usize, usize),
}

impl<'a> Reader<'a> {
    fn tag(&self, tag: u64) -> Option<u64> {
        self.dyns.iter().find(|d| d.d_tag == tag).map(|d| d.d_val)
    }

    fn offset_of(&self, tag: u64) -> Result<Option<usize>, String> {
        match self.tag(tag) {
            None | Some(0) => Ok(None),
            Some(addr) => vm_to_offset(&self.l.phdrs, addr)
                .and_then(|o| usize::try_from(o).ok())
                .filter(|o| *o < self.bytes.len())
                .map(Some)
                .ok_or_else(|| format!("dynamic tag {tag:#x} points outside the file")),
        }
    }

    fn string(&self, index: u64) -> Option<&'a str> {
        str_at(self.bytes, self.strtab.0, self.strtab.1, index)
    }

    fn u32_at(&self, off: usize) -> Result<u32, String> {
        self.bytes
            .pread_with::<u32>(off, self.l.ctx.le)
            .map_err(|_| format!("table entry at {off:#x} is past the end of the file"))
    }

    fn u16_at(&self, off: usize) -> Result<u16, String> {
        self.bytes
            .pread_with::<u16>(off, self.l.ctx.le)
            .map_err(|_| format!("table entry at {off:#x} is past the end of the file"))
    }

    /// The number of dynamic symbols, from the GNU hash table or the SysV one.
    fn symbol_count(&self) -> Result<usize, String> {
        if let Some(off) = self.offset_of(DT_GNU_HASH)? {
            let nbuckets = self.u32_at(off)? as usize;
            let symoffset = self.u32_at(off + 4)? as usize;
            let bloom_size = self.u32_at(off + 8)? as usize;
            let word = if self.l.ctx.is_big() { 8 } else { 4 };
            let buckets = bloom_size
                .checked_mul(word)
                .and_then(|b| b.checked_add(off + 16))
                .ok_or("GNU hash table too large")?;
            if nbuckets > self.bytes.len() / 4 {
                return Err("GNU hash table has more buckets than the file has bytes".into());
            }
            let mut max = 0usize;
            for i in 0..nbuckets {
                max = max.max(self.u32_at(buckets + 4 * i)? as usize);
            }
            if max < symoffset {
                return Ok(symoffset);
            }
            let chains = buckets + 4 * nbuckets;
            let mut idx = max;
            loop {
                let entry = self.u32_at(chains + 4 * (idx - symoffset))?;
                if entry & 1 == 1 {
                    break;
                }
                idx += 1;
                if idx > MAX_SYMBOLS {
                    return Err("GNU hash chain does not end".into());
                }
            }
            return Ok(idx + 1);
        }
        if let Some(off) = self.offset_of(DT_HASH)? {
            return Ok(self.u32_at(off + 4)? as usize);
        }
        Ok(0)
    }

    /// (index -> version name) for the version definitions, and the node names.
    fn verdefs(&self) -> Result<(HashMap<u16, String>, Vec<String>), String> {
        let mut names = HashMap::new();
        let mut nodes = Vec::new();
        let Some(mut off) = self.offset_of(DT_VERDEF)? else {
            return Ok((names, nodes));
        };
        let count = (self.tag(DT_VERDEFNUM).unwrap_or(0) as usize).min(MAX_VERSION_ENTRIES);
        for _ in 0..count {
            let flags = self.u16_at(off + 2)?;
            let ndx = self.u16_at(off + 4)?;
            let aux = self.u32_at(off + 12)? as usize;
            let next = self.u32_at(off + 16)? as usize;
            let name_index = self.u32_at(off.checked_add(aux).ok_or("verdef overflow")?)?;
            if let Some(name) = self.string(name_index as u64) {
                names.insert(ndx, name.to_string());
                if flags & 1 == 0 {
                    nodes.push(name.to_string());
                }
            }
            if next == 0 {
                break;
            }
            off = off.checked_add(next).ok_or("verdef overflow")?;
        }
        Ok((names, nodes))
    }

    /// (index -> (version, file)) for the version needs, and the needs per file.
    #[allow(clippy::type_complexity)]
    fn verneeds(&self) -> Result<(HashMap<u16, (String, String)>, Vec<VersionNeed>), String> {
        let mut by_index = HashMap::new();
        let mut needs = Vec::new();
        let Some(mut off) = self.offset_of(DT_VERNEED)? else {
            return Ok((by_index, needs));
        };
        let count = (self.tag(DT_VERNEEDNUM).unwrap_or(0) as usize).min(MAX_VERSION_ENTRIES);
        for _ in 0..count {
            let cnt = (self.u16_at(off + 2)? as usize).min(MAX_VERSION_ENTRIES);
            let file = self.string(self.u32_at(off + 4)? as u64).unwrap_or("?").to_string();
            let aux = self.u32_at(off + 8)? as usize;
            let next = self.u32_at(off + 12)? as usize;
            let mut need = VersionNeed {
                file: file.clone(),
                versions: Vec::new(),
                weak: Vec::new(),
            };
            let mut a = off.checked_add(aux).ok_or("verneed overflow")?;
            for _ in 0..cnt {
                let flags = self.u16_at(a + 4)?;
                let other = self.u16_at(a + 6)?;
                let name = self.string(self.u32_at(a + 8)? as u64).unwrap_or("?").to_string();
                let anext = self.u32_at(a + 12)? as usize;
                by_index.insert(other & 0x7fff, (name.clone(), file.clone()));
                if flags & VER_FLG_WEAK != 0 {
                    need.weak.push(name.clone());
                }
                need.versions.push(name);
                if anext == 0 {
                    break;
                }
                a = a.checked_add(anext).ok_or("vernaux overflow")?;
            }
            needs.push(need);
            if next == 0 {
                break;
            }
            off = off.checked_add(next).ok_or("verneed overflow")?;
        }
        Ok((by_index, needs))
    }
}

impl SymbolInfo {
    /// Reads symbols and versions from an object's bytes.
    pub fn parse(bytes: &[u8]) -> Result<Self, String> {
        guarded("symbol", || Self::parse_unguarded(bytes, Want::All))
    }

    /// Reads only the version definitions and needs (cheap: no symbol table, no string search).
    pub fn parse_versions(bytes: &[u8]) -> Result<Self, String> {
        guarded("version", || Self::parse_unguarded(bytes, Want::Versions))
    }

    /// The versions, and of the symbols only the definitions of `names` (so [`Self::exports`] answers for
    /// those names alone); the embedded HDF5 version only when `hdf5_version`. For questions about a few
    /// names of a large library (libmpich is 41 MB): no table of every symbol, no search of every byte.
    pub fn parse_exports_of(bytes: &[u8], names: &[&str], hdf5_version: bool) -> Result<Self, String> {
        guarded("symbol", || Self::parse_unguarded(bytes, Want::Exports { names, hdf5_version }))
    }

    fn parse_unguarded(bytes: &[u8], want: Want) -> Result<Self, String> {
        let (with_symbols, only, search_version) = match want {
            Want::Versions => (false, None, false),
            Want::All => (true, None, true),
            Want::Exports { names, hdf5_version } => (true, Some(names), hdf5_version),
        };
        let l = layout(bytes)?;
        let Some((dyns, strtab)) = dynamic_entries(bytes, &l)? else {
            return Ok(Self {
                hdf5_version: if search_version { embedded_hdf5_version(bytes) } else { None },
                ..Self::default()
            });
        };
        let r = Reader {
            bytes,
            l,
            dyns,
            strtab: strtab.unwrap_or((0, 0)),
        };
        let (def_names, version_nodes) = r.verdefs()?;
        let (need_names, version_needs) = r.verneeds()?;
        let versym = r.offset_of(DT_VERSYM)?;
        let mut info = SymbolInfo {
            version_nodes,
            version_needs,
            versioned: versym.is_some(),
            hdf5_version: if search_version { embedded_hdf5_version(bytes) } else { None },
            ..Self::default()
        };
        if !with_symbols {
            return Ok(info);
        }
        let Some(symtab) = r.offset_of(DT_SYMTAB)? else {
            return Ok(info);
        };
        let count = r.symbol_count()?;
        let entsize = if r.l.ctx.is_big() { 24 } else { 16 };
        if count
            .checked_mul(entsize)
            .and_then(|n| n.checked_add(symtab))
            .is_none_or(|end| end > bytes.len())
        {
            return Err(format!("{count} dynamic symbols do not fit in the file"));
        }
        for i in 1..count {
            let sym: Sym = bytes
                .pread_with(symtab + i * entsize, r.l.ctx)
                .map_err(|e| format!("dynamic symbol {i}: {e}"))?;
            let bind = sym.st_bind();
            if bind != STB_GLOBAL && bind != STB_WEAK && bind != goblin::elf::sym::STB_GNU_UNIQUE {
                continue;
            }
            if matches!(sym.st_type(), STT_SECTION | STT_FILE) {
                continue;
            }
            let Some(name) = r.string(sym.st_name as u64).filter(|n| !n.is_empty()) else {
                continue;
            };
            if let Some(only) = only {
                // Only the definitions of the names asked about.
                if sym.st_shndx == 0 || !only.contains(&name) {
                    continue;
                }
            }
            let vs = match versym {
                Some(off) => r.u16_at(off + 2 * i).ok(),
                None => None,
            };
            let index = vs.map(|v| v & 0x7fff);
            if sym.st_shndx == 0 {
                let (version, version_file) = match index.and_then(|x| need_names.get(&x)) {
                    Some((v, f)) => (Some(v.clone()), Some(f.clone())),
                    None => (None, None),
                };
                info.undefined.push(UndefinedSymbol {
                    name: name.to_string(),
                    version,
                    version_file,
                    weak: bind == STB_WEAK,
                });
            } else {
                if index == Some(0) {
                    continue; // a local version: not exported
                }
                let version = index.filter(|x| *x >= 2).and_then(|x| def_names.get(&x)).cloned();
                let pos = info.defined.len();
                info.by_name.entry(name.to_string()).or_default().push(pos);
                info.defined.push(DefinedSymbol {
                    name: name.to_string(),
                    version,
                    hidden: vs.is_some_and(|v| v & 0x8000 != 0),
                });
            }
        }
        Ok(info)
    }

    /// The definitions of a name (several when it has several versions).
    pub fn definitions(&self, name: &str) -> impl Iterator<Item = &DefinedSymbol> {
        self.by_name.get(name).into_iter().flatten().map(|&i| &self.defined[i])
    }

    /// Whether this object satisfies a reference the way ld.so's `check_match` does: a versioned
    /// reference binds to the definition of that version (or to an unversioned object's symbol); an
    /// unversioned reference binds to any non-hidden definition.
    pub fn satisfies(&self, name: &str, version: Option<&str>) -> bool {
        self.definitions(name).any(|d| match version {
            Some(v) => !self.versioned || d.version.as_deref() == Some(v) || (d.version.is_none() && !d.hidden),
            None => !d.hidden,
        })
    }

    /// Whether the object exports a symbol under any version.
    pub fn exports(&self, name: &str) -> bool {
        self.definitions(name).next().is_some()
    }

    /// The highest `GLIBC_2.x` version node this object defines (for libc.so.6: the glibc release).
    pub fn max_glibc_node(&self) -> Option<String> {
        max_glibc(self.version_nodes.iter().map(String::as_str))
    }
}

/// The highest `GLIBC_x.y[.z]` in a list of version names, as `x.y[.z]`.
pub fn max_glibc<'a>(names: impl Iterator<Item = &'a str>) -> Option<String> {
    names
        .filter_map(|n| n.strip_prefix("GLIBC_"))
        .filter(|v| v.chars().next().is_some_and(|c| c.is_ascii_digit()))
        .max_by(|a, b| compare_versions(a, b))
        .map(str::to_string)
}

/// Compares dotted version strings numerically (`2.9 < 2.10`).
pub fn compare_versions(a: &str, b: &str) -> std::cmp::Ordering {
    let parts = |s: &str| -> Vec<u64> { s.split(['.', '-']).map(|p| p.parse().unwrap_or(0)).collect() };
    parts(a).cmp(&parts(b))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn libc_versions_and_symbols() {
        let bytes = std::fs::read("/lib/x86_64-linux-gnu/libc.so.6").unwrap();
        let info = SymbolInfo::parse(&bytes).unwrap();
        assert!(info.satisfies("malloc", Some("GLIBC_2.2.5")));
        assert!(info.satisfies("malloc", None));
        assert!(!info.satisfies("malloc", Some("GLIBC_9.99")));
        assert!(!info.exports("H5open"));
        let max = info.max_glibc_node().unwrap();
        assert!(compare_versions(&max, "2.28") == std::cmp::Ordering::Greater, "{max}");
    }

    #[test]
    fn embedded_version_skips_the_format_string() {
        let data = b"x\0HDF5 library version: %d.%d.%d%s%s\0y\0HDF5 library version: 1.10.8\0";
        assert_eq!(embedded_hdf5_version(data).as_deref(), Some("1.10.8"));
        assert_eq!(embedded_hdf5_version(b"HDF5 library version: %d\0"), None);
    }

    #[test]
    fn debian_libhdf5_has_its_version_string_and_symbol_nodes() {
        let path = "/usr/lib/x86_64-linux-gnu/libhdf5_serial.so.103";
        let bytes = std::fs::read(path).unwrap();
        let info = SymbolInfo::parse(&bytes).unwrap();
        assert!(
            info.hdf5_version.as_deref().unwrap().starts_with("1.10."),
            "{:?}",
            info.hdf5_version
        );
        assert!(info.exports("H5open"));
        assert!(!info.exports("H5Pset_fapl_mpio"), "the serial flavour has no MPI-IO driver");
        assert!(
            info.version_nodes.iter().any(|n| n.starts_with("HDF5_SERIAL_")),
            "{:?}",
            info.version_nodes
        );
        assert!(info.version_needs.iter().any(|n| n.file == "libc.so.6"));
    }

    #[test]
    fn a_parse_for_a_few_names_answers_as_the_full_parse_does_for_them() {
        for path in [
            "/usr/lib/x86_64-linux-gnu/libhdf5_serial.so.103",
            "/usr/lib/x86_64-linux-gnu/libhdf5_openmpi.so.103",
            "/usr/lib/x86_64-linux-gnu/libmpi.so.40",
            "/usr/lib/x86_64-linux-gnu/libmpich.so.12",
        ] {
            let bytes =
                std::fs::read(path).unwrap_or_else(|e| panic!("{path}: {e} (install libhdf5-dev, libhdf5-openmpi-dev, libmpich-dev)"));
            let full = SymbolInfo::parse(&bytes).unwrap();
            let names = ["H5Pset_fapl_mpio", "ompi_mpi_comm_world", "MPI_Init", "H5open"];
            let some = SymbolInfo::parse_exports_of(&bytes, &names, true).unwrap();
            for n in names {
                assert_eq!(some.exports(n), full.exports(n), "{path}: {n}");
            }
            assert!(!some.exports("malloc") && some.undefined.is_empty(), "{path}: only the names asked");
            assert_eq!(some.hdf5_version, full.hdf5_version, "{path}");
            assert_eq!(some.version_nodes, full.version_nodes, "{path}");
            assert_eq!(SymbolInfo::parse_exports_of(&bytes, &names, false).unwrap().hdf5_version, None);
        }
    }

    #[test]
    fn version_ordering_is_numeric() {
        assert_eq!(compare_versions("2.9", "2.10"), std::cmp::Ordering::Less);
        assert_eq!(
            max_glibc(["GLIBC_2.2.5", "GLIBC_2.34", "GLIBC_PRIVATE", "GLIBC_2.4"].into_iter()).as_deref(),
            Some("2.34")
        );
    }
}
