//! Reading one ELF file's dynamic-linking header: class, machine, type, PT_INTERP, and the dynamic
//! section's SONAME, DT_NEEDED, DT_RPATH, DT_RUNPATH and DT_FLAGS_1. This is all the resolver needs, so
//! it is the fast path: the header, the program headers and the dynamic string table are read, nothing
//! else (symbols and versions are in [`super::symbols`], read only on demand).
//!
//! Files are memory-mapped, never executed. Any malformed input (truncated, garbage, offsets pointing
//! outside the file) gives an [`ElfError`] for that file, never a panic: every offset is bounds-checked,
//! and goblin is called behind `catch_unwind` as a second line of defence.

use goblin::container::{Container, Ctx, Endian};
use goblin::elf::dynamic::{Dyn, DF_1_NODEFLIB, DT_FLAGS_1, DT_NEEDED, DT_NULL, DT_RPATH, DT_RUNPATH, DT_SONAME, DT_STRSZ, DT_STRTAB};
use goblin::elf::header::{Header, ET_DYN, ET_EXEC};
use goblin::elf::program_header::{ProgramHeader, PF_X, PT_DYNAMIC, PT_INTERP, PT_LOAD};
use std::borrow::Cow;
use std::fmt;
use std::fs::File;
use std::path::{Path, PathBuf};

/// Why a file could not be read as an ELF object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ElfError {
    pub path: PathBuf,
    pub message: String,
}

impl fmt::Display for ElfError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.path.display(), self.message)
    }
}

impl std::error::Error for ElfError {}

/// ELF class and machine: two objects can be loaded into one process only if both match.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Arch {
    pub is_64: bool,
    pub little_endian: bool,
    pub machine: u16,
}

impl Arch {
    /// `ELFCLASS64 x86-64`, for messages.
    pub fn describe(self) -> String {
        format!(
            "ELFCLASS{} {}",
            if self.is_64 { 64 } else { 32 },
            goblin::elf::header::machine_to_str(self.machine)
        )
    }

    /// The glibc dynamic loader of this architecture, used when an object has no PT_INTERP.
    pub fn default_interpreter(self) -> Option<&'static str> {
        use goblin::elf::header::{EM_386, EM_AARCH64, EM_PPC64, EM_RISCV, EM_S390, EM_X86_64};
        Some(match (self.machine, self.is_64) {
            (EM_X86_64, true) => "/lib64/ld-linux-x86-64.so.2",
            (EM_X86_64, false) => "/libx32/ld-linux-x32.so.2",
            (EM_386, false) => "/lib/ld-linux.so.2",
            (EM_AARCH64, true) => "/lib/ld-linux-aarch64.so.1",
            (EM_PPC64, true) if self.little_endian => "/lib64/ld64.so.2",
            (EM_PPC64, true) => "/lib64/ld64.so.1",
            (EM_S390, true) => "/lib/ld64.so.1",
            (EM_RISCV, true) => "/lib/ld-linux-riscv64-lp64d.so.1",
            _ => return None,
        })
    }
}

/// The dynamic-linking view of one ELF file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ElfObject {
    pub arch: Arch,
    /// ET_DYN (shared object or PIE) or ET_EXEC.
    pub e_type: u16,
    /// PT_INTERP: the program interpreter an executable asks for.
    pub interpreter: Option<String>,
    pub soname: Option<String>,
    /// DT_NEEDED entries, in order.
    pub needed: Vec<String>,
    /// DT_RPATH entries, each colon-separated list kept whole (as in the file).
    pub rpath: Vec<String>,
    pub runpath: Vec<String>,
    /// DT_FLAGS_1 has DF_1_NODEFLIB: ld.so.cache and the default directories are not searched.
    pub nodeflib: bool,
    /// The object has a PT_DYNAMIC segment (is dynamically linked).
    pub dynamic: bool,
    /// A PT_LOAD segment is executable (PF_X): mapping it fails on a `noexec` mount.
    pub exec_segment: bool,
    /// The version nodes it defines (DT_VERDEF, base entry excluded); `None` without DT_VERDEF.
    pub version_defs: Option<Vec<String>>,
    /// The versions it needs of each library (DT_VERNEED).
    pub version_needs: Vec<VersionNeed>,
}

/// Versions needed from one library (one verneed entry).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VersionNeed {
    pub file: String,
    pub versions: Vec<String>,
    /// The versions marked VER_FLG_WEAK: ld.so only warns when the library lacks one of them.
    pub weak: Vec<String>,
}

impl ElfObject {
    /// Whether ld.so accepts this object for a version an object needs of it (`match_symbol`): it
    /// defines that version, or has no version definitions at all.
    pub fn defines_version(&self, version: &str) -> bool {
        self.version_defs.as_ref().is_none_or(|defs| defs.iter().any(|d| d == version))
    }
}

/// The version tables with their string indices, before the strings are read.
struct RawVersions {
    /// (name index, is the base entry) per verdef; `None` without DT_VERDEF.
    defs: Option<Vec<(u64, bool)>>,
    /// (file index, [(name index, weak)]) per verneed entry.
    needs: Vec<(u64, Vec<(u64, bool)>)>,
}

/// The first read of a version table.
const VERSION_TABLE_READ: usize = 2048;

/// Most entries a version table may have; real ones have a few dozen.
const MAX_VERSION_ENTRIES: usize = 4096;

impl RawVersions {
    fn read<S: Source + ?Sized>(src: &S, l: &Layout, dyns: &[Dyn]) -> Result<Self, String> {
        // Version tables are small (libc's verdef: about 1 KiB): a first read of 2 KiB nearly always
        // holds a whole table; a longer one is read again with 64 KiB, which bounds a malformed chain.
        match Self::read_with(src, l, dyns, VERSION_TABLE_READ) {
            Ok(v) => Ok(v),
            Err(_) => Self::read_with(src, l, dyns, 64 * 1024),
        }
    }

    fn read_with<S: Source + ?Sized>(src: &S, l: &Layout, dyns: &[Dyn], len: usize) -> Result<Self, String> {
        use goblin::elf::dynamic::{DT_VERDEF, DT_VERDEFNUM, DT_VERNEED, DT_VERNEEDNUM};
        use scroll::Pread;
        let find = |tag: u64| dyns.iter().find(|d| d.d_tag == tag).map(|d| d.d_val);
        let le = l.ctx.le;
        let table = |tag: u64| -> Result<Option<Cow<'_, [u8]>>, String> {
            let Some(addr) = find(tag).filter(|a| *a != 0) else {
                return Ok(None);
            };
            let off = vm_to_offset(&l.phdrs, addr).ok_or("version table outside every PT_LOAD segment")?;
            src.read_at(off, len).map(Some)
        };
        let u16_at =
            |b: &[u8], at: usize| -> Result<u16, String> { b.pread_with::<u16>(at, le).map_err(|_| "version table truncated".to_string()) };
        let u32_at =
            |b: &[u8], at: usize| -> Result<u32, String> { b.pread_with::<u32>(at, le).map_err(|_| "version table truncated".to_string()) };
        let mut out = RawVersions {
            defs: None,
            needs: Vec::new(),
        };
        if let Some(b) = table(DT_VERDEF)? {
            let mut defs = Vec::new();
            let mut at = 0usize;
            for _ in 0..(find(DT_VERDEFNUM).unwrap_or(0) as usize).min(MAX_VERSION_ENTRIES) {
                let flags = u16_at(&b, at + 2)?;
                let aux = u32_at(&b, at + 12)? as usize;
                let next = u32_at(&b, at + 16)? as usize;
                defs.push((
                    u64::from(u32_at(&b, at.checked_add(aux).ok_or("verdef overflow")?)?),
                    flags & 1 != 0,
                ));
                if next == 0 {
                    break;
                }
                at = at.checked_add(next).ok_or("verdef overflow")?;
            }
            out.defs = Some(defs);
        }
        if let Some(b) = table(DT_VERNEED)? {
            let mut at = 0usize;
            let mut total = 0usize;
            for _ in 0..(find(DT_VERNEEDNUM).unwrap_or(0) as usize).min(MAX_VERSION_ENTRIES) {
                let cnt = (u16_at(&b, at + 2)? as usize).min(MAX_VERSION_ENTRIES);
                let file = u64::from(u32_at(&b, at + 4)?);
                let aux = u32_at(&b, at + 8)? as usize;
                let next = u32_at(&b, at + 12)? as usize;
                let mut names = Vec::new();
                let mut a = at.checked_add(aux).ok_or("verneed overflow")?;
                for _ in 0..cnt {
                    let flags = u16_at(&b, a + 4)?;
                    total += 1;
                    if total > MAX_VERSION_ENTRIES {
                        return Err("more version needs than any real object has".into());
                    }
                    names.push((u64::from(u32_at(&b, a + 8)?), flags & 0x2 != 0));
                    let anext = u32_at(&b, a + 12)? as usize;
                    if anext == 0 {
                        break;
                    }
                    a = a.checked_add(anext).ok_or("vernaux overflow")?;
                }
                out.needs.push((file, names));
                if next == 0 {
                    break;
                }
                at = at.checked_add(next).ok_or("verneed overflow")?;
            }
        }
        Ok(out)
    }

    fn string_indices(&self) -> Vec<u64> {
        let mut v: Vec<u64> = self.defs.iter().flatten().map(|(i, _)| *i).collect();
        for (file, names) in &self.needs {
            v.push(*file);
            v.extend(names.iter().map(|(i, _)| *i));
        }
        v
    }

    /// Fills the object's version fields from the strings read for [`Self::string_indices`], which come
    /// in that order: each is taken where it belongs, without a lookup or a copy.
    fn resolve(self, names: impl Iterator<Item = Option<String>>, obj: &mut ElfObject) {
        let mut names = names.map(|n| n.unwrap_or_else(|| "?".into()));
        let mut next = || names.next().unwrap_or_else(|| "?".into());
        obj.version_defs = self.defs.map(|defs| {
            defs.into_iter()
                .filter_map(|(_, base)| {
                    let name = next();
                    (!base).then_some(name)
                })
                .collect()
        });
        obj.version_needs = self
            .needs
            .into_iter()
            .map(|(_, vs)| {
                let file = next();
                let versions: Vec<String> = vs.iter().map(|_| next()).collect();
                let weak = vs
                    .iter()
                    .zip(&versions)
                    .filter(|((_, weak), _)| *weak)
                    .map(|(_, v)| v.clone())
                    .collect();
                VersionNeed { file, versions, weak }
            })
            .collect();
    }
}

/// Longest string read from a string table: a DT_NEEDED longer than a page is garbage.
const MAX_STR: usize = 4096;

/// Maps a virtual address to a file offset through the PT_LOAD segments, as goblin and ld.so do.
pub(crate) fn vm_to_offset(phdrs: &[ProgramHeader], addr: u64) -> Option<u64> {
    phdrs
        .iter()
        .filter(|p| p.p_type == PT_LOAD)
        .find(|p| addr >= p.p_vaddr && addr - p.p_vaddr < p.p_filesz)
        .map(|p| p.p_offset.checked_add(addr - p.p_vaddr))?
}

/// The NUL-terminated string at `table + index`, bounded by the table's size.
pub(crate) fn str_at(bytes: &[u8], table: usize, size: usize, index: u64) -> Option<&str> {
    let index = usize::try_from(index).ok()?;
    if index >= size {
        return None;
    }
    let start = table.checked_add(index)?;
    let end = table.checked_add(size)?.min(bytes.len()).min(start.checked_add(MAX_STR)?);
    let slice = bytes.get(start..end)?;
    let len = memchr::memchr(0, slice)?;
    std::str::from_utf8(&slice[..len]).ok()
}

/// Where an ELF parser reads bytes from: a whole file in memory, or an open file read piecewise with
/// pread (the resolver's fast path: a header, the program headers, PT_DYNAMIC and a few strings).
pub(crate) trait Source {
    fn size(&self) -> u64;
    /// `len` bytes at `off`, fewer only where the file ends; an error when `off` is past the end.
    fn read_at(&self, off: u64, len: usize) -> Result<Cow<'_, [u8]>, String>;
}

impl Source for [u8] {
    fn size(&self) -> u64 {
        self.len() as u64
    }

    fn read_at(&self, off: u64, len: usize) -> Result<Cow<'_, [u8]>, String> {
        let off = usize::try_from(off).map_err(|_| "offset out of range")?;
        if off > self.len() {
            return Err(format!("offset {off:#x} is past the end of the file"));
        }
        Ok(Cow::Borrowed(&self[off..off.saturating_add(len).min(self.len())]))
    }
}

/// An open file read with pread.
pub(crate) struct FileSource<'a> {
    pub file: &'a File,
    pub size: u64,
}

impl Source for FileSource<'_> {
    fn size(&self) -> u64 {
        self.size
    }

    fn read_at(&self, off: u64, len: usize) -> Result<Cow<'_, [u8]>, String> {
        if off > self.size {
            return Err(format!("offset {off:#x} is past the end of the file"));
        }
        let len = len.min((self.size - off) as usize);
        // Read into the vector's spare capacity: no zeroing of bytes that are overwritten at once.
        let mut buf: Vec<u8> = Vec::with_capacity(len);
        while buf.len() < len {
            let got = buf.len();
            match rustix::io::pread(self.file, rustix::buffer::spare_capacity(&mut buf), off + got as u64) {
                Ok(0) => break,
                Ok(_) => {}
                Err(rustix::io::Errno::INTR) => {}
                Err(e) => return Err(format!("read error at offset {off:#x}: {}", std::io::Error::from(e))),
            }
        }
        buf.truncate(len);
        Ok(Cow::Owned(buf))
    }
}

/// Spans of a file read ahead in one read each (ranges less than [`MERGE_GAP`] apart share one), with
/// reads inside a span served from memory and any other passed on to the file.
struct Prefetched<'a, S: Source + ?Sized> {
    src: &'a S,
    spans: Vec<(u64, Cow<'a, [u8]>)>,
}

/// Ranges closer than this are read as one: copying a few KiB more costs less than another read.
const MERGE_GAP: u64 = 8 * 1024;

impl<'a, S: Source + ?Sized> Prefetched<'a, S> {
    /// Reads `ranges` (offset, length) ahead, except those already held; a range that cannot be read is
    /// left to the later read, which reports the error.
    fn prefetch(&mut self, mut ranges: Vec<(u64, u64)>) {
        let src = self.src;
        let size = src.size();
        ranges.retain(|&(off, len)| {
            let end = off.saturating_add(len).min(size);
            off < size && len > 0 && !self.spans.iter().any(|(s, b)| off >= *s && end <= s + b.len() as u64)
        });
        ranges.sort_unstable();
        let mut merged: Vec<(u64, u64)> = Vec::with_capacity(ranges.len());
        for (off, len) in ranges {
            let end = off.saturating_add(len).min(size);
            match merged.last_mut() {
                Some((_, last_end)) if off <= last_end.saturating_add(MERGE_GAP) => *last_end = (*last_end).max(end),
                _ => merged.push((off, end)),
            }
        }
        let read = merged
            .into_iter()
            .filter_map(|(off, end)| Some((off, src.read_at(off, usize::try_from(end - off).ok()?).ok()?)));
        self.spans.extend(read);
    }
}

impl<S: Source + ?Sized> Source for Prefetched<'_, S> {
    fn size(&self) -> u64 {
        self.src.size()
    }

    fn read_at(&self, off: u64, len: usize) -> Result<Cow<'_, [u8]>, String> {
        let size = self.src.size();
        for (start, bytes) in &self.spans {
            let span_end = start + bytes.len() as u64;
            let want_end = off.saturating_add(len as u64).min(size);
            // Served from the span only when it holds every byte the file would give.
            if off >= *start && off <= span_end && want_end <= span_end {
                let at = (off - start) as usize;
                return Ok(Cow::Borrowed(&bytes[at..(want_end - start) as usize]));
            }
        }
        self.src.read_at(off, len)
    }
}

/// Header and program headers, the part every reader needs.
pub(crate) struct Layout {
    pub header: Header,
    pub ctx: Ctx,
    pub phdrs: Vec<ProgramHeader>,
}

/// The first read: enough for the ELF header and, nearly always, the program headers.
const HEAD: usize = 4096;

pub(crate) fn layout<S: Source + ?Sized>(src: &S) -> Result<Layout, String> {
    layout_with_head(src, &src.read_at(0, HEAD)?)
}

/// [`layout`] from the file's first bytes, already read.
fn layout_with_head<S: Source + ?Sized>(src: &S, head: &[u8]) -> Result<Layout, String> {
    if head.len() < 4 || &head[..4] != b"\x7fELF" {
        return Err("not an ELF file (no \\x7fELF magic)".into());
    }
    let min = if head.get(4) == Some(&2) { 64 } else { 52 };
    if head.len() < min {
        return Err(format!("file too short ({} bytes) for an ELF header", head.len()));
    }
    let header = goblin::elf::Elf::parse_header(head).map_err(|e| format!("invalid ELF header: {e}"))?;
    let container = if header.e_ident[4] == 2 {
        Container::Big
    } else {
        Container::Little
    };
    let endian = Endian::from(header.e_ident[5] != 2);
    let ctx = Ctx::new(container, endian);
    let phnum = header.e_phnum as usize;
    let phsize = ProgramHeader::size(ctx);
    let span = phnum.checked_mul(phsize).ok_or("too many program headers")?;
    let end = header.e_phoff.checked_add(span as u64);
    if phnum > 0 && end.is_none_or(|end| end > src.size()) {
        return Err(format!(
            "program headers ({phnum} at offset {:#x}) extend past the end of the file",
            header.e_phoff
        ));
    }
    let phdrs = if phnum == 0 {
        Vec::new()
    } else {
        let table = match end {
            Some(end) if end as usize <= head.len() => Cow::Borrowed(&head[header.e_phoff as usize..end as usize]),
            _ => src.read_at(header.e_phoff, span)?,
        };
        ProgramHeader::parse(&table, 0, phnum, ctx).map_err(|e| format!("invalid program headers: {e}"))?
    };
    Ok(Layout { header, ctx, phdrs })
}

/// The dynamic entries of PT_DYNAMIC, up to DT_NULL, and the dynamic string table's (offset, size).
#[allow(clippy::type_complexity)]
pub(crate) fn dynamic_entries<S: Source + ?Sized>(src: &S, l: &Layout) -> Result<Option<(Vec<Dyn>, Option<(usize, usize)>)>, String> {
    use scroll::Pread;
    let Some(ph) = l.phdrs.iter().find(|p| p.p_type == PT_DYNAMIC) else {
        return Ok(None);
    };
    let size = usize::try_from(ph.p_filesz).map_err(|_| "PT_DYNAMIC size out of range")?;
    if ph.p_offset.checked_add(ph.p_filesz).is_none_or(|e| e > src.size()) {
        return Err("PT_DYNAMIC extends past the end of the file".into());
    }
    let seg = src.read_at(ph.p_offset, size)?;
    let entsize = if l.ctx.is_big() { 16 } else { 8 };
    let mut dyns = Vec::with_capacity(size / entsize);
    let mut at = 0usize;
    while at + entsize <= seg.len() {
        let d: Dyn = seg.gread_with(&mut at, l.ctx).map_err(|e| format!("invalid dynamic entry: {e}"))?;
        if d.d_tag == DT_NULL {
            break;
        }
        dyns.push(d);
    }
    let find = |tag: u64| dyns.iter().find(|d| d.d_tag == tag).map(|d| d.d_val);
    let file_size = usize::try_from(src.size()).unwrap_or(usize::MAX);
    let strtab = match (find(DT_STRTAB), find(DT_STRSZ)) {
        (Some(addr), Some(size)) => {
            let off = vm_to_offset(&l.phdrs, addr).ok_or("DT_STRTAB is outside every PT_LOAD segment")?;
            let off = usize::try_from(off).map_err(|_| "DT_STRTAB out of range")?;
            let size = usize::try_from(size).map_err(|_| "DT_STRSZ out of range")?;
            if off >= file_size {
                return Err("DT_STRTAB points past the end of the file".into());
            }
            Some((off, size.min(file_size - off)))
        }
        _ => None,
    };
    Ok(Some((dyns, strtab)))
}

/// How far a read of strings extends past the last string's start.
const STRING_TAIL: usize = 256;

/// Reads the strings at `indices` of a string table with few, small reads: indices close together
/// (gaps under 8 KiB) share one read, which extends a little past the last of them; a string that runs
/// past its read is read on its own (up to [`MAX_STR`]).
fn read_strings<S: Source + ?Sized>(src: &S, table: (usize, usize), indices: &[u64]) -> Vec<Option<String>> {
    const GAP: usize = 8 * 1024;
    const TAIL: usize = STRING_TAIL;
    let (off, size) = table;
    let mut sorted: Vec<usize> = indices.iter().map(|&i| i as usize).filter(|&i| i < size).collect();
    sorted.sort_unstable();
    sorted.dedup();
    // (start, bytes) of each read.
    let mut windows: Vec<(usize, Option<Cow<'_, [u8]>>)> = Vec::new();
    let mut at = 0;
    while at < sorted.len() {
        let lo = sorted[at];
        let mut hi = lo;
        while at < sorted.len() && sorted[at] - hi <= GAP {
            hi = sorted[at];
            at += 1;
        }
        let end = hi.saturating_add(TAIL).min(size);
        windows.push((lo, src.read_at((off + lo) as u64, end - lo).ok()));
    }
    indices
        .iter()
        .map(|&i| {
            let i = usize::try_from(i).ok().filter(|&i| i < size)?;
            let (lo, bytes) = windows.iter().rev().find(|(lo, _)| *lo <= i)?;
            let w = bytes.as_deref()?;
            match str_at(w, 0, w.len(), (i - lo) as u64) {
                Some(s) => Some(s.to_string()),
                None => {
                    // Longer than the read: read it alone.
                    let chunk = src.read_at((off + i) as u64, MAX_STR.min(size - i)).ok()?;
                    str_at(&chunk, 0, chunk.len(), 0).map(str::to_string)
                }
            }
        })
        .collect()
}

/// A read-only view of a file's bytes: memory-mapped, or read when mapping is impossible (an empty
/// file, a pipe).
pub enum Bytes {
    Mapped(memmap2::Mmap),
    Owned(Vec<u8>),
}

impl std::ops::Deref for Bytes {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        match self {
            Bytes::Mapped(m) => m,
            Bytes::Owned(v) => v,
        }
    }
}

/// Maps an open file read-only.
pub fn map_file(file: &File) -> std::io::Result<Bytes> {
    map_file_len(file, file.metadata()?.len())
}

/// Maps an open file whose length is already known (saves an fstat).
pub fn map_file_len(file: &File, len: u64) -> std::io::Result<Bytes> {
    if len == 0 {
        return Ok(Bytes::Owned(Vec::new()));
    }
    // SAFETY: the mapping is read-only and private; a file truncated under us would raise SIGBUS, the
    // same risk every ELF tool (and ld.so itself) takes.
    match unsafe { memmap2::MmapOptions::new().map(file) } {
        Ok(m) => Ok(Bytes::Mapped(m)),
        Err(_) => {
            use std::io::Read;
            let mut v = Vec::with_capacity(len.min(1 << 30) as usize);
            let mut f = file;
            f.read_to_end(&mut v)?;
            Ok(Bytes::Owned(v))
        }
    }
}

/// The contents of the named sections, in section-header order, each followed by a NUL (so that a
/// string cannot run from one into the next); empty when the file has no section headers or none of
/// those sections. For string searches over `.rodata` and `.data` (the loader never reads sections).
pub fn section_data(bytes: &[u8], names: &[&str]) -> Result<Vec<u8>, String> {
    guarded("section", || {
        use goblin::elf::section_header::{SectionHeader, SHT_NOBITS};
        let l = layout(bytes)?;
        let h = &l.header;
        let count = h.e_shnum as usize;
        if count == 0 || h.e_shoff == 0 {
            return Ok(Vec::new());
        }
        let off = usize::try_from(h.e_shoff).map_err(|_| "section headers out of range")?;
        let span = count.checked_mul(SectionHeader::size(l.ctx)).ok_or("too many section headers")?;
        if off.checked_add(span).is_none_or(|end| end > bytes.len()) {
            return Err(format!(
                "section headers ({count} at offset {off:#x}) extend past the end of the file"
            ));
        }
        let shdrs = SectionHeader::parse(bytes, off, count, l.ctx).map_err(|e| format!("invalid section headers: {e}"))?;
        let content = |sh: &SectionHeader| -> Option<&[u8]> {
            let start = usize::try_from(sh.sh_offset).ok()?;
            bytes.get(start..start.checked_add(usize::try_from(sh.sh_size).ok()?)?)
        };
        let names_table = shdrs.get(h.e_shstrndx as usize).and_then(&content).unwrap_or_default();
        let mut out = Vec::new();
        for sh in shdrs.iter().filter(|sh| sh.sh_type != SHT_NOBITS) {
            let named = str_at(names_table, 0, names_table.len(), sh.sh_name as u64).is_some_and(|n| names.contains(&n));
            if let Some(section) = content(sh).filter(|_| named) {
                out.extend_from_slice(section);
                out.push(0);
            }
        }
        Ok(out)
    })
}

/// Runs a parser over untrusted bytes, turning any panic into an error message.
pub(crate) fn guarded<T>(what: &str, f: impl FnOnce() -> Result<T, String>) -> Result<T, String> {
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)) {
        Ok(r) => r,
        Err(_) => Err(format!("malformed ELF ({what} parser failed)")),
    }
}

impl ElfObject {
    /// Parses the dynamic-linking header out of a file's bytes.
    pub fn parse(bytes: &[u8]) -> Result<Self, String> {
        guarded("header", || Self::parse_from(bytes, true))
    }

    /// Parses the dynamic-linking header of an open file of `size` bytes, reading only what it needs.
    pub fn parse_file(file: &File, size: u64) -> Result<Self, String> {
        guarded("header", || Self::parse_from(&FileSource { file, size }, true))
    }

    /// [`Self::parse_file`] without the symbol version tables (`version_defs` and `version_needs` stay
    /// empty): for a reader that wants only which files the loader maps, which no version decides.
    pub fn parse_file_without_versions(file: &File, size: u64) -> Result<Self, String> {
        guarded("header", || Self::parse_from(&FileSource { file, size }, false))
    }

    fn parse_from<S: Source + ?Sized>(src: &S, versions: bool) -> Result<Self, String> {
        // The first read serves the header, the program headers and, in a program, PT_INTERP.
        let head = src.read_at(0, HEAD)?;
        let l = layout_with_head(src, &head)?;
        let src = &mut Prefetched {
            src,
            spans: vec![(0, head)],
        };
        let h = &l.header;
        let arch = Arch {
            is_64: l.ctx.is_big(),
            little_endian: l.ctx.is_little_endian(),
            machine: h.e_machine,
        };
        let mut obj = ElfObject {
            arch,
            e_type: h.e_type,
            interpreter: None,
            soname: None,
            needed: Vec::new(),
            rpath: Vec::new(),
            runpath: Vec::new(),
            nodeflib: false,
            dynamic: false,
            exec_segment: l.phdrs.iter().any(|p| p.p_type == PT_LOAD && p.p_flags & PF_X != 0),
            version_defs: None,
            version_needs: Vec::new(),
        };
        if let Some(ph) = l.phdrs.iter().find(|p| p.p_type == PT_INTERP) {
            let size = usize::try_from(ph.p_filesz).map_err(|_| "PT_INTERP size out of range")?;
            let bytes = src.read_at(ph.p_offset, size.min(MAX_STR))?;
            obj.interpreter = str_at(&bytes, 0, bytes.len(), 0).map(str::to_string);
        }
        let Some((dyns, strtab)) = dynamic_entries(&*src, &l)? else {
            return Ok(obj);
        };
        obj.dynamic = true;
        let wanted: Vec<&Dyn> = dyns
            .iter()
            .filter(|d| matches!(d.d_tag, DT_NEEDED | DT_SONAME | DT_RPATH | DT_RUNPATH))
            .collect();
        // The version tables and the names lie close together in the first PT_LOAD segment: read what
        // is near in one go (the version names, in the same string table, nearly always fall inside).
        if let Some((table, size)) = strtab {
            use goblin::elf::dynamic::{DT_VERDEF, DT_VERNEED};
            let mut ranges: Vec<(u64, u64)> = wanted
                .iter()
                .filter(|d| d.d_val < size as u64)
                .map(|d| (table as u64 + d.d_val, (STRING_TAIL as u64).min(size as u64 - d.d_val)))
                .collect();
            for tag in [DT_VERDEF, DT_VERNEED].into_iter().filter(|_| versions) {
                let addr = dyns.iter().find(|d| d.d_tag == tag).map(|d| d.d_val).filter(|a| *a != 0);
                if let Some(off) = addr.and_then(|a| vm_to_offset(&l.phdrs, a)) {
                    ranges.push((off, VERSION_TABLE_READ as u64));
                }
            }
            src.prefetch(ranges);
        }
        let src = &*src;
        // The version tables name their strings in the same table: one read for all of them. A
        // malformed version table only means no version check for this object.
        let raw_versions = strtab.filter(|_| versions).and_then(|_| RawVersions::read(src, &l, &dyns).ok());
        let version_indices = raw_versions.as_ref().map_or_else(Vec::new, RawVersions::string_indices);
        if !wanted.is_empty() || !version_indices.is_empty() {
            let table = strtab.ok_or("dynamic entries name strings but there is no DT_STRTAB")?;
            let mut indices: Vec<u64> = wanted.iter().map(|d| d.d_val).collect();
            indices.extend(&version_indices);
            let mut strings = read_strings(src, table, &indices).into_iter();
            for (d, s) in wanted.iter().zip(strings.by_ref()) {
                let s = s.ok_or_else(|| format!("dynamic string at index {} is outside DT_STRTAB or not valid UTF-8", d.d_val))?;
                match d.d_tag {
                    DT_NEEDED => obj.needed.push(s),
                    DT_SONAME => obj.soname = Some(s),
                    DT_RPATH => obj.rpath.push(s),
                    _ => obj.runpath.push(s),
                }
            }
            if let Some(raw) = raw_versions {
                raw.resolve(strings, &mut obj);
            }
        }
        obj.nodeflib = dyns.iter().any(|d| d.d_tag == DT_FLAGS_1 && d.d_val & DF_1_NODEFLIB != 0);
        Ok(obj)
    }

    /// Reads and parses a file.
    pub fn read(path: &Path) -> Result<Self, ElfError> {
        let err = |message: String| ElfError {
            path: path.to_path_buf(),
            message,
        };
        let file = File::open(path).map_err(|e| err(e.to_string()))?;
        let size = file.metadata().map_err(|e| err(e.to_string()))?.len();
        Self::parse_file(&file, size).map_err(err)
    }

    /// Whether ld.so can load this as a shared object (ET_DYN; ET_EXEC only as the main program).
    pub fn is_loadable_type(&self) -> bool {
        self.e_type == ET_DYN || self.e_type == ET_EXEC
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_libc_dynamic_header() {
        let libc = ElfObject::read(Path::new("/lib/x86_64-linux-gnu/libc.so.6")).unwrap();
        assert_eq!(libc.soname.as_deref(), Some("libc.so.6"));
        assert!(libc.needed.iter().any(|n| n.starts_with("ld-linux")), "{:?}", libc.needed);
        assert!(libc.arch.is_64);
        let bytes = std::fs::read("/lib/x86_64-linux-gnu/libc.so.6").unwrap();
        let rodata = section_data(&bytes, &[".rodata"]).unwrap();
        assert!(memchr::memmem::find(&rodata, b"GNU C Library").is_some());
        assert!(rodata.len() < bytes.len() / 2, "only the named section");
    }

    #[test]
    fn version_tables_read_with_the_header_match_the_full_symbol_reader() {
        for path in [
            "/lib/x86_64-linux-gnu/libc.so.6",
            "/usr/lib/x86_64-linux-gnu/libhdf5_serial.so.103",
            "/lib/x86_64-linux-gnu/libz.so.1",
        ] {
            let fast = ElfObject::read(Path::new(path)).unwrap();
            let full = crate::elf::symbols::SymbolInfo::parse_versions(&std::fs::read(path).unwrap()).unwrap();
            assert_eq!(fast.version_defs.clone().unwrap_or_default(), full.version_nodes, "{path}");
            assert_eq!(fast.version_needs, full.version_needs, "{path}");
            assert!(fast.defines_version("GLIBC_2.2.5") == (path.contains("libc.so") || fast.version_defs.is_none()));
        }
    }

    #[test]
    fn without_versions_the_dynamic_header_is_the_same_and_no_version_is_read() {
        for path in ["/lib/x86_64-linux-gnu/libc.so.6", "/usr/lib/x86_64-linux-gnu/libhdf5_serial.so.103"] {
            let file = File::open(path).unwrap();
            let size = file.metadata().unwrap().len();
            let full = ElfObject::parse_file(&file, size).unwrap();
            let lean = ElfObject::parse_file_without_versions(&file, size).unwrap();
            assert!(
                !full.version_needs.is_empty() && full.version_defs.is_some(),
                "{path} has version tables"
            );
            assert!(lean.version_needs.is_empty() && lean.version_defs.is_none(), "{path}");
            assert_eq!(
                (
                    &lean.needed,
                    &lean.soname,
                    &lean.rpath,
                    &lean.runpath,
                    &lean.interpreter,
                    lean.nodeflib,
                    lean.dynamic
                ),
                (
                    &full.needed,
                    &full.soname,
                    &full.rpath,
                    &full.runpath,
                    &full.interpreter,
                    full.nodeflib,
                    full.dynamic
                ),
                "{path}"
            );
        }
    }

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        assert!(ElfObject::parse(b"").unwrap_err().contains("not an ELF file"));
        assert!(ElfObject::parse(b"\x7fELF\x02\x01").unwrap_err().contains("too short"));
        let mut bogus = vec![0u8; 64];
        bogus[..4].copy_from_slice(b"\x7fELF");
        bogus[4] = 2;
        bogus[5] = 1;
        let empty = ElfObject::parse(&bogus).expect("a bare header with no program headers is a valid, static object");
        assert!(!empty.dynamic && empty.needed.is_empty());
        assert_eq!(section_data(&bogus, &[".rodata"]).unwrap(), Vec::<u8>::new(), "no section headers");
    }
}
