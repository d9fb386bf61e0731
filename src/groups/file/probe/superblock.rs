//! The HDF5 format signature and superblock, read with plain file reads (no HDF5 library), following the
//! HDF5 File Format Specification, section II.A:
//!
//! - The signature `\x89HDF\r\n\x1a\n` is searched at byte 0, then 512, 1024, 2048, ... (doubling).
//! - Superblock versions 0 and 1: after the signature, 8 one-byte version/size fields, the group B-tree
//!   K values (2 + 2 bytes), the 4-byte file consistency flags (byte 20), in version 1 another 4 bytes,
//!   then four addresses of "size of offsets" bytes: base, free space, end of file, driver info block.
//! - Versions 2 and 3: version (byte 8), size of offsets (9), size of lengths (10), the 1-byte file
//!   consistency flags (11), then the base, superblock extension, end-of-file and root group addresses.
//!
//! The flags are defined (bit 0 open for write, bit 2 open for SWMR write) and checked by HDF5 only in
//! version 3; HDF 1.10 also writes them into version 0 superblocks but ignores them there. The end-of-file
//! address is absolute (HDF5 compares it with the file size: `truncated file: eof = ..., stored_eof = ...`).
//! Addresses are little-endian; all bits set means undefined.

use crate::facts::values::FileFormat;
use crate::facts::Superblock;
use std::fs::File;
use std::os::unix::fs::FileExt;

/// The 8-byte HDF5 format signature.
pub const SIGNATURE: [u8; 8] = [0x89, b'H', b'D', b'F', b'\r', b'\n', 0x1a, b'\n'];

/// Bytes read from the signature on: enough for every superblock version with 8-byte offsets.
pub const SUPERBLOCK_BYTES: usize = 128;

/// The offsets HDF5 looks for the signature at, for a file of `size` bytes.
pub fn signature_offsets(size: u64) -> impl Iterator<Item = u64> {
    std::iter::once(0)
        .chain((9..64).map(|p| 1u64 << p))
        .take_while(move |off| off.saturating_add(SIGNATURE.len() as u64) <= size)
}

/// Where the signature is, if anywhere.
pub fn find_signature(file: &File, size: u64) -> std::io::Result<Option<u64>> {
    let mut buf = [0u8; 8];
    for off in signature_offsets(size) {
        file.read_exact_at(&mut buf, off)?;
        if buf == SIGNATURE {
            return Ok(Some(off));
        }
    }
    Ok(None)
}

fn address(bytes: &[u8]) -> Option<u64> {
    if bytes.iter().all(|b| *b == 0xff) {
        return None;
    }
    Some(bytes.iter().rev().fold(0u64, |acc, b| (acc << 8) | u64::from(*b)))
}

/// Decodes the superblock from the bytes that start at the signature. `Err` says why it cannot be read
/// (the file ends inside it, an unknown version, impossible field sizes).
pub fn parse(bytes: &[u8]) -> Result<Superblock, String> {
    let short = |need: usize| format!("the file ends inside the superblock ({} of {need} bytes present)", bytes.len());
    if bytes.len() < 12 {
        return Err(short(12));
    }
    let version = bytes[8];
    // Versions 0 and 1 keep the field sizes at bytes 13 and 14 (found by tests/fuzz.rs: a 12-byte file
    // with version 0 read past its end).
    if version < 2 && bytes.len() < 15 {
        return Err(short(15));
    }
    let (sizeof_offsets, sizeof_lengths, flags_at, addrs_at) = match version {
        0 | 1 => (bytes[13], bytes[14], 20, if version == 0 { 24 } else { 28 }),
        2 | 3 => (bytes[9], bytes[10], 11, 12),
        v => return Err(format!("superblock version {v} is not one h5doctor knows (0 to 3)")),
    };
    if ![2u8, 4, 8].contains(&sizeof_offsets) || ![2u8, 4, 8, 16].contains(&sizeof_lengths) {
        return Err(format!(
            "impossible field sizes in the superblock (offsets {sizeof_offsets}, lengths {sizeof_lengths} bytes)"
        ));
    }
    let o = sizeof_offsets as usize;
    let need = addrs_at + 4 * o;
    if bytes.len() < need {
        return Err(short(need));
    }
    let status_flags = if version < 2 {
        u32::from_le_bytes(bytes[flags_at..flags_at + 4].try_into().expect("4 bytes"))
    } else {
        u32::from(bytes[flags_at])
    };
    let addr = |i: usize| address(&bytes[addrs_at + i * o..addrs_at + (i + 1) * o]);
    Ok(Superblock {
        version,
        sizeof_offsets,
        sizeof_lengths,
        status_flags,
        base_address: addr(0).unwrap_or(0),
        eof_address: addr(2),
        driver_id: None,
    })
}

/// For superblock versions 0 and 1: the driver information block's address (relative to the base).
pub fn driver_info_address(bytes: &[u8], sb: &Superblock) -> Option<u64> {
    if sb.version > 1 {
        return None;
    }
    let o = sb.sizeof_offsets as usize;
    let at = if sb.version == 0 { 24 } else { 28 } + 3 * o;
    bytes.get(at..at + o).and_then(address)
}

/// The 8-character driver id of a driver information block (`NCSAfami`, `NCSAmult`), read at `offset`.
pub fn driver_id(file: &File, offset: u64) -> Option<String> {
    let mut block = [0u8; 16];
    file.read_exact_at(&mut block, offset).ok()?;
    let id = &block[8..16];
    id.iter()
        .all(|b| b.is_ascii_graphic())
        .then(|| String::from_utf8_lossy(id).into_owned())
}

/// What a file without an HDF5 signature looks like, from its first bytes.
pub fn guess_format(head: &[u8]) -> FileFormat {
    let trimmed = head.trim_ascii_start();
    let lower: Vec<u8> = trimmed.iter().take(16).map(u8::to_ascii_lowercase).collect();
    if head.is_empty() {
        FileFormat::Empty
    } else if head.starts_with(b"CDF\x01") || head.starts_with(b"CDF\x02") || head.starts_with(b"CDF\x05") {
        FileFormat::Netcdf3
    } else if head.starts_with(b"version https://git-lfs") {
        FileFormat::GitLfsPointer
    } else if lower.starts_with(b"<!doctype html") || lower.starts_with(b"<html") || lower.starts_with(b"<?xml") {
        FileFormat::Html
    } else if head.starts_with(b"\x89HDF") {
        FileFormat::DamagedHdf5Signature
    } else if head.iter().all(|b| *b == 0) {
        FileFormat::Zeros
    } else if head.iter().all(|b| b.is_ascii_graphic() || b.is_ascii_whitespace()) {
        FileFormat::Text
    } else {
        FileFormat::Unknown
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_version_0_superblock_cut_before_its_field_sizes_is_an_error() {
        // Found by tests/fuzz.rs: 12 to 14 bytes of a version 0 superblock read past the end.
        for len in 12..15 {
            let mut bytes = b"\x89HDF\r\n\x1a\n".to_vec();
            bytes.resize(len, 0);
            assert!(parse(&bytes).unwrap_err().contains("ends inside the superblock"));
        }
    }

    /// The first 48 bytes of a real file written by h5py 3.7 / HDF5 1.10.8 with libver='earliest' and
    /// killed before closing (flags 1 = open for write; 1.10 writes them even into version 0).
    const V0: &[u8] = b"\x89HDF\r\n\x1a\n\x00\x00\x00\x00\x00\x08\x08\x00\x04\x00\x10\x00\x01\x00\x00\x00\
\x00\x00\x00\x00\x00\x00\x00\x00\xff\xff\xff\xff\xff\xff\xff\xff\x40\x27\x00\x00\x00\x00\x00\x00\
\xff\xff\xff\xff\xff\xff\xff\xff";

    /// The same with libver='latest': superblock version 3, flags byte 1.
    const V3: &[u8] = b"\x89HDF\r\n\x1a\n\x03\x08\x08\x01\x00\x00\x00\x00\x00\x00\x00\x00\
\xff\xff\xff\xff\xff\xff\xff\xff\x40\x27\x00\x00\x00\x00\x00\x00\x30\x00\x00\x00\x00\x00\x00\x00\
\x09\x16\x54\xee";

    #[test]
    fn version_0_fields() {
        let sb = parse(V0).unwrap();
        assert_eq!((sb.version, sb.sizeof_offsets, sb.sizeof_lengths), (0, 8, 8));
        assert_eq!(sb.status_flags, 1);
        assert_eq!(sb.base_address, 0);
        assert_eq!(sb.eof_address, Some(10048));
        assert_eq!(driver_info_address(V0, &sb), None);
    }

    #[test]
    fn version_3_fields() {
        let sb = parse(V3).unwrap();
        assert_eq!((sb.version, sb.sizeof_offsets, sb.status_flags), (3, 8, 1));
        assert_eq!(sb.eof_address, Some(10048));
    }

    #[test]
    fn short_and_strange_superblocks_are_errors() {
        assert!(parse(&V3[..20]).unwrap_err().contains("ends inside the superblock"));
        let mut odd = V3.to_vec();
        odd[8] = 7;
        assert!(parse(&odd).unwrap_err().contains("version 7"));
        odd[8] = 3;
        odd[9] = 3;
        assert!(parse(&odd).unwrap_err().contains("impossible field sizes"));
    }

    #[test]
    fn signature_offsets_double_from_512() {
        let offs: Vec<u64> = signature_offsets(5000).collect();
        assert_eq!(offs, vec![0, 512, 1024, 2048, 4096]);
        assert_eq!(signature_offsets(7).count(), 0);
    }

    #[test]
    fn formats_are_guessed_from_the_first_bytes() {
        assert_eq!(guess_format(b"").as_str(), "empty");
        assert_eq!(guess_format(b"CDF\x01\x00\x00").as_str(), "netcdf3");
        assert_eq!(
            guess_format(b"version https://git-lfs.github.com/spec/v1\n").as_str(),
            "git-lfs-pointer"
        );
        assert_eq!(guess_format(b"  <!DOCTYPE HTML><html>").as_str(), "html");
        assert_eq!(guess_format(b"\x89HDF\n\x1a\n").as_str(), "damaged-hdf5-signature");
        assert_eq!(guess_format(&[0u8; 64]).as_str(), "zeros");
        assert_eq!(guess_format(b"hello, world\n").as_str(), "text");
        assert_eq!(guess_format(b"\x01\x02\xfe").as_str(), "unknown");
    }
}
