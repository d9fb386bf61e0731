//! Reading `/etc/ld.so.cache`, the binary file `ldconfig` writes and ld.so consults after the search
//! paths: format `glibc-ld.so.cache1.1` (optionally behind the old `ld.so-1.7.0` table), with its
//! extension section naming the glibc-hwcaps subdirectories (glibc >= 2.33).
//!
//! A lookup follows glibc's `search_cache`: only entries whose flags match this architecture count;
//! an entry for an active glibc-hwcaps subdirectory wins by priority (x86-64-v4 over v3 over v2), else
//! the first plain entry. A malformed cache is an error, and the resolver then says so in its search
//! list instead of guessing.

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

/// The cache file, kept as bytes and searched the way ld.so searches it (binary search over entries
/// sorted by `_dl_cache_libcmp`, in descending order); nothing is decoded until it is looked up.
#[derive(Debug, Clone, Default)]
pub struct LdCache {
    /// The bytes from the new-format header on (all offsets are relative to it).
    body: Vec<u8>,
    pub len: usize,
    hwcaps: Vec<String>,
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

fn cstr_bytes(b: &[u8], off: usize) -> Option<&[u8]> {
    let tail = b.get(off..)?;
    let len = memchr::memchr(0, tail)?;
    Some(&tail[..len])
}

/// glibc's `_dl_cache_libcmp`: like strcmp, but runs of digits compare as numbers.
pub fn libcmp(a: &[u8], b: &[u8]) -> std::cmp::Ordering {
    use std::cmp::Ordering;
    let (mut i, mut j) = (0, 0);
    loop {
        let (c1, c2) = (a.get(i).copied(), b.get(j).copied());
        match (c1, c2) {
            (None, None) => return Ordering::Equal,
            (None, Some(_)) => return Ordering::Less,
            (Some(_), None) => return Ordering::Greater,
            (Some(x), Some(y)) if x.is_ascii_digit() && y.is_ascii_digit() => {
                let mut v1: u64 = 0;
                while let Some(d) = a.get(i).filter(|d| d.is_ascii_digit()) {
                    v1 = v1.saturating_mul(10).saturating_add(u64::from(d - b'0'));
                    i += 1;
                }
                let mut v2: u64 = 0;
                while let Some(d) = b.get(j).filter(|d| d.is_ascii_digit()) {
                    v2 = v2.saturating_mul(10).saturating_add(u64::from(d - b'0'));
                    j += 1;
                }
                if v1 != v2 {
                    return v1.cmp(&v2);
                }
            }
            (Some(x), Some(_)) if x.is_ascii_digit() => return Ordering::Greater,
            (Some(_), Some(y)) if y.is_ascii_digit() => return Ordering::Less,
            (Some(x), Some(y)) if x != y => return x.cmp(&y),
            _ => {
                i += 1;
                j += 1;
            }
        }
    }
}

const HEADER: usize = 48;
const ENTRY: usize = 24;

impl LdCache {
    /// Reads a cache file.
    pub fn read(path: &std::path::Path) -> Result<Self, String> {
        let bytes = std::fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        Self::parse(&bytes).map_err(|e| format!("{}: {e}", path.display()))
    }

    /// Checks the header of a cache file and keeps its bytes.
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
        let nlibs = u32_at(body, 20)? as usize;
        let ext_offset = u32_at(body, 32)? as usize;
        if nlibs > body.len().saturating_sub(HEADER) / ENTRY {
            return Err(format!("{nlibs} entries do not fit in the file"));
        }
        let hwcaps = if ext_offset != 0 {
            Self::hwcaps_names(body, ext_offset)?
        } else {
            Vec::new()
        };
        Ok(LdCache {
            body: body.to_vec(),
            len: nlibs,
            hwcaps,
        })
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
                    let name = cstr_bytes(body, u32_at(body, off + 4 * i)? as usize).ok_or("bad hwcaps name")?;
                    names.push(String::from_utf8_lossy(name).into_owned());
                }
            }
        }
        Ok(names)
    }

    fn key(&self, i: usize) -> Option<&[u8]> {
        cstr_bytes(&self.body, u32_at(&self.body, HEADER + i * ENTRY + 4).ok()? as usize)
    }

    /// Decodes entry `i`.
    pub fn entry(&self, i: usize) -> Option<CacheEntry> {
        let e = HEADER + i * ENTRY;
        let flags = u32_at(&self.body, e).ok()? as i32;
        let value = cstr_bytes(&self.body, u32_at(&self.body, e + 8).ok()? as usize)?;
        let hwcap = u64_at(&self.body, e + 16).ok()?;
        let (hwcaps, legacy_hwcap) = if hwcap & HWCAP_EXTENSION != 0 {
            let idx = (hwcap & 0xffff_ffff) as usize;
            (Some(self.hwcaps.get(idx).cloned().unwrap_or_else(|| format!("#{idx}"))), 0)
        } else {
            (None, hwcap)
        };
        Some(CacheEntry {
            flags,
            path: String::from_utf8_lossy(value).into_owned(),
            hwcaps,
            legacy_hwcap,
        })
    }

    /// The entries for `name`, found by glibc's binary search.
    fn entries_for(&self, name: &str) -> Vec<CacheEntry> {
        let name = name.as_bytes();
        let (mut left, mut right) = (0isize, self.len as isize - 1);
        while left <= right {
            let middle = (left + right) / 2;
            let Some(key) = self.key(middle as usize) else {
                return Vec::new();
            };
            match libcmp(name, key) {
                std::cmp::Ordering::Equal => {
                    let mut first = middle as usize;
                    while first > 0 && self.key(first - 1).is_some_and(|k| libcmp(name, k).is_eq()) {
                        first -= 1;
                    }
                    return (first..self.len)
                        .take_while(|&i| self.key(i).is_some_and(|k| libcmp(name, k).is_eq()))
                        .filter_map(|i| self.entry(i))
                        .collect();
                }
                // The cache is sorted in descending order.
                std::cmp::Ordering::Less => left = middle + 1,
                std::cmp::Ordering::Greater => right = middle - 1,
            }
        }
        Vec::new()
    }

    /// The entry ld.so would take from the cache for `name`, given the flags of the requesting
    /// architecture and the active glibc-hwcaps subdirectories (best first).
    /// `active_hwcaps` is asked only when an entry is for a glibc-hwcaps subdirectory.
    pub fn lookup<'h>(&self, name: &str, flags: i32, active_hwcaps: &dyn Fn() -> &'h [String]) -> Option<CacheEntry> {
        let mut best: Option<(usize, CacheEntry)> = None;
        let mut plain = None;
        for e in self.entries_for(name).into_iter().filter(|e| e.flags == flags) {
            match &e.hwcaps {
                Some(dir) => {
                    if let Some(prio) = active_hwcaps().iter().position(|a| a == dir) {
                        if best.as_ref().is_none_or(|(p, _)| prio < *p) {
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

    /// Every (soname, entry) of the cache, in file order.
    pub fn iter(&self) -> impl Iterator<Item = (String, CacheEntry)> + '_ {
        (0..self.len).filter_map(|i| Some((String::from_utf8_lossy(self.key(i)?).into_owned(), self.entry(i)?)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_system_cache_knows_libc() {
        let cache = LdCache::read(std::path::Path::new("/etc/ld.so.cache")).unwrap();
        let flags = expected_flags(goblin::elf::header::EM_X86_64, true).unwrap();
        let libc = cache.lookup("libc.so.6", flags, &|| &[]).expect("libc.so.6 is in the cache");
        assert!(libc.path.ends_with("/libc.so.6"), "{libc:?}");
        assert!(cache.lookup("libc.so.6", 0x0003, &|| &[]).is_none(), "32-bit flags do not match");
        assert!(cache.lookup("libdoes-not-exist.so.9", flags, &|| &[]).is_none());
        // Every entry is found again by the binary search: the file is sorted the way ld.so expects.
        for (name, _) in cache.iter() {
            assert!(!cache.entries_for(&name).is_empty(), "{name} not found by binary search");
        }
    }

    #[test]
    fn libcmp_compares_digit_runs_as_numbers() {
        use std::cmp::Ordering::*;
        assert_eq!(libcmp(b"libfoo.so.10", b"libfoo.so.9"), Greater);
        assert_eq!(libcmp(b"libc.so.6", b"libc.so.6"), Equal);
        assert_eq!(libcmp(b"liba.so", b"libb.so"), Less);
        assert_eq!(libcmp(b"lib1", b"liba"), Greater, "a digit sorts after a letter");
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
