//! Reading `/etc/ld.so.cache`, the binary file `ldconfig` writes and ld.so consults after the search
//! paths: format `glibc-ld.so.cache1.1` (optionally behind the old `ld.so-1.7.0` table), with its
//! extension section naming the glibc-hwcaps subdirectories (glibc >= 2.33).
//!
//! A lookup follows glibc's `search_cache`: only entries whose flags match this architecture count;
//! an entry for an active glibc-hwcaps subdirectory wins by priority (x86-64-v4 over v3 over v2), else
//! the first plain entry. A malformed cache is an error, and the resolver then says so in its search
//! list instead of guessing.

use std::collections::HashMap;

const NEW_MAGIC: &[u8] = b"glibc-ld.so.cache1.1";
const OLD_MAGIC: &[u8] = b"ld.so-1.7.0";
const EXTENSION_MAGIC: u32 = 0xeaa4_2174;
const EXTENSION_TAG_HWCAPS: u32 = 2;
/// Bit 62 of an entry's hwcap: the low 32 bits index the glibc-hwcaps subdirectory names.
const HWCAP_EXTENSION: u64 = 1 << 62;

/// `FLAG_ELF_LIBC6 | FLAG_X8664_LIB64` and friends: what `_dl_cache_check_flags` accepts.
pub fn expected_flags(machine: u16, is_64: bool) -> Option<i32> {
    use goblin::elf::header::{EM_386, EM_AARCH64, EM_PPC64, EM_RISCV, EM_S390, EM_X86_64};
    const LIBC6: i32 = 0x0003;
    Some(match (machine, is_64) {
        (EM_X86_64, true) => LIBC6 | 0x0300,
        (EM_X86_64, false) => LIBC6 | 0x0800,
        (EM_386, false) => LIBC6,
        (EM_AARCH64, true) => LIBC6 | 0x0a00,
        (EM_PPC64, true) => LIBC6 | 0x0500,
        (EM_S390, true) => LIBC6 | 0x0400,
        (EM_RISCV, true) => LIBC6 | 0x1000,
        _ => return None,
    })
}

/// One library entry of the cache.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CacheEntry {
    pub flags: i32,
    pub path: String,
    /// The glibc-hwcaps subdirectory this entry is for (`x86-64-v3`), if any.
    pub hwcaps: Option<String>,
    /// A legacy hwcap mask (pre-2.33 `tls`/`haswell` subdirectories); such entries are not used.
    pub legacy_hwcap: u64,
}

/// The parsed cache: soname -> entries in file order.
#[derive(Debug, Clone, Default)]
pub struct LdCache {
    entries: HashMap<String, Vec<CacheEntry>>,
    pub generator: Option<String>,
    pub len: usize,
}

fn u32_at(b: &[u8], off: usize) -> Result<u32, String> {
    b.get(off..off.checked_add(4).ok_or("offset overflow")?)
        .map(|s| u32::from_le_bytes(s.try_into().expect("4 bytes")))
        .ok_or_else(|| format!("truncated at offset {off:#x}"))
}

fn u64_at(b: &[u8], off: usize) -> Result<u64, String> {
    b.get(off..off.checked_add(8).ok_or("offset overflow")?)
        .map(|s| u64::from_le_bytes(s.try_into().expect("8 bytes")))
        .ok_or_else(|| format!("truncated at offset {off:#x}"))
}

fn cstr(b: &[u8], off: usize) -> Result<String, String> {
    let tail = b.get(off..).ok_or_else(|| format!("string offset {off:#x} past the end"))?;
    let len = memchr::memchr(0, tail).ok_or("unterminated string")?;
    Ok(String::from_utf8_lossy(&tail[..len]).into_owned())
}

impl LdCache {
    /// Reads a cache file.
    pub fn read(path: &std::path::Path) -> Result<Self, String> {
        let bytes = std::fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        Self::parse(&bytes).map_err(|e| format!("{}: {e}", path.display()))
    }

    /// Parses the bytes of a cache file.
    pub fn parse(bytes: &[u8]) -> Result<Self, String> {
        let mut start = 0usize;
        if bytes.starts_with(OLD_MAGIC) {
            // The old format: magic (12 bytes with the NUL), nlibs, then 12-byte entries; the new
            // table follows, aligned to 8 bytes.
            let n = u32_at(bytes, 12)? as usize;
            start = n.checked_mul(12).and_then(|x| x.checked_add(16)).ok_or("old table too large")?;
            start = (start + 7) & !7;
        }
        let body = bytes.get(start..).ok_or("truncated after the old table")?;
        if !body.starts_with(NEW_MAGIC) {
            return Err("not a glibc-ld.so.cache1.1 file".into());
        }
        // Offsets in the new format are relative to the new header.
        let nlibs = u32_at(body, 20)? as usize;
        let ext_offset = u32_at(body, 32)? as usize;
        const HEADER: usize = 48;
        const ENTRY: usize = 24;
        if nlibs > body.len() / ENTRY {
            return Err(format!("{nlibs} entries do not fit in the file"));
        }
        let hwcaps = if ext_offset != 0 { Self::hwcaps_names(body, ext_offset)? } else { Vec::new() };
        let mut cache = LdCache {
            len: nlibs,
            ..Self::default()
        };
        for i in 0..nlibs {
            let e = HEADER + i * ENTRY;
            let flags = u32_at(body, e)? as i32;
            let key = cstr(body, u32_at(body, e + 4)? as usize)?;
            let value = cstr(body, u32_at(body, e + 8)? as usize)?;
            let hwcap = u64_at(body, e + 16)?;
            let (hwcaps_dir, legacy) = if hwcap & HWCAP_EXTENSION != 0 {
                let idx = (hwcap & 0xffff_ffff) as usize;
                (Some(hwcaps.get(idx).cloned().unwrap_or_else(|| format!("#{idx}"))), 0)
            } else {
                (None, hwcap)
            };
            cache.entries.entry(key).or_default().push(CacheEntry {
                flags,
                path: value,
                hwcaps: hwcaps_dir,
                legacy_hwcap: legacy,
            });
        }
        Ok(cache)
    }

    fn hwcaps_names(body: &[u8], ext: usize) -> Result<Vec<String>, String> {
        if u32_at(body, ext)? != EXTENSION_MAGIC {
            return Err("bad extension magic".into());
        }
        let count = (u32_at(body, ext + 4)? as usize).min(64);
        let mut names = Vec::new();
        for s in 0..count {
            let at = ext + 8 + s * 16;
            let tag = u32_at(body, at)?;
            let off = u32_at(body, at + 8)? as usize;
            let size = u32_at(body, at + 12)? as usize;
            if tag == EXTENSION_TAG_HWCAPS {
                for i in 0..(size / 4).min(1024) {
                    names.push(cstr(body, u32_at(body, off + 4 * i)? as usize)?);
                }
            }
        }
        Ok(names)
    }

    /// The path ld.so would take from the cache for `name`, given the flags of the requesting
    /// architecture and the active glibc-hwcaps subdirectories (best first).
    pub fn lookup(&self, name: &str, flags: i32, active_hwcaps: &[String]) -> Option<&CacheEntry> {
        let candidates = self.entries.get(name)?.iter().filter(|e| e.flags == flags);
        let mut best: Option<(usize, &CacheEntry)> = None;
        let mut plain = None;
        for e in candidates {
            match &e.hwcaps {
                Some(dir) => {
                    if let Some(prio) = active_hwcaps.iter().position(|a| a == dir) {
                        if best.is_none_or(|(p, _)| prio < p) {
                            best = Some((prio, e));
                        }
                    }
                }
                None if e.legacy_hwcap == 0 && plain.is_none() => plain = Some(e),
                None => {}
            }
        }
        best.map(|(_, e)| e).or(plain)
    }

    /// Every soname in the cache, with its entries.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &[CacheEntry])> {
        self.entries.iter().map(|(k, v)| (k.as_str(), v.as_slice()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_system_cache_knows_libc() {
        let cache = LdCache::read(std::path::Path::new("/etc/ld.so.cache")).unwrap();
        let flags = expected_flags(goblin::elf::header::EM_X86_64, true).unwrap();
        let libc = cache.lookup("libc.so.6", flags, &[]).expect("libc.so.6 is in the cache");
        assert!(libc.path.ends_with("/libc.so.6"), "{libc:?}");
        assert!(cache.lookup("libc.so.6", 0x0003, &[]).is_none(), "32-bit flags do not match");
        assert!(cache.lookup("libdoes-not-exist.so.9", flags, &[]).is_none());
    }

    #[test]
    fn garbage_and_truncation_are_errors() {
        assert!(LdCache::parse(b"").is_err());
        assert!(LdCache::parse(b"glibc-ld.so.cache1.1").is_err());
        let real = std::fs::read("/etc/ld.so.cache").unwrap();
        for cut in [21, 47, 49, 100, real.len() / 2] {
            let _ = LdCache::parse(&real[..cut.min(real.len())]); // must not panic
        }
        let mut huge = real.clone();
        huge[20..24].copy_from_slice(&u32::MAX.to_le_bytes());
        assert!(LdCache::parse(&huge).unwrap_err().contains("do not fit"));
    }
}
