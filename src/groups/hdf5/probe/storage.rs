//! Storage probe: can a job write in a directory, and how much? statvfs(2) (the read-only flag, free
//! blocks and inodes as an unprivileged user sees them), the block and inode quotas the kernel reports for
//! the user, the group new files get and the directory's project (quotactl_fd(2)), and on Lustre the
//! directory's default layout from the LL_IOC_LOV_GETSTRIPE ioctl (the call `lfs getstripe -d` makes), and,
//! where `lfs` is installed, Lustre's own quotas (`lfs quota`) and each OST's space (`lfs df`).
//!
//! Like the lock probe it runs in the directory probe child (`probes::dirs`): statvfs on a dead network
//! mount can block forever. Nothing is written here; the plain create that proves writability is the
//! lock probe's probe file.

use crate::errno;
use crate::facts::values::{QuotaKind, QuotaSource};
use crate::facts::{LustreLayout, QuotaFacts, StorageFacts};
use std::ffi::CString;
use std::os::fd::AsRawFd;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::MetadataExt;
use std::path::Path;

/// statfs f_type of Lustre.
pub const LUSTRE_MAGIC: u64 = 0x0bd0_0bd0;

/// Free space, the read-only flag and quotas of a directory; `magic` is its statfs f_type, `mount_point`
/// where its file system is mounted (the Lustre root whose default layout a directory without one gets).
pub fn probe(dir: &Path, magic: Option<u64>, mount_point: Option<&Path>) -> StorageFacts {
    let mut facts = StorageFacts::default();
    match statvfs(dir) {
        Ok(s) => {
            let frsize = if s.f_frsize > 0 { s.f_frsize } else { s.f_bsize };
            facts.read_only = s.f_flag & libc::ST_RDONLY != 0;
            facts.bytes_total = Some(s.f_blocks.saturating_mul(frsize));
            facts.bytes_free = Some(s.f_bavail.saturating_mul(frsize));
            // A file system that does not count inodes (btrfs, some network file systems) reports 0 files.
            if s.f_files > 0 {
                facts.inodes_total = Some(s.f_files);
                facts.inodes_free = Some(s.f_favail);
            }
        }
        Err(e) => facts.reason = Some(format!("statvfs {}: {e}", dir.display())),
    }
    let (quotas, quota_note, asks) = quotas(dir);
    facts.quotas = quotas;
    facts.quota_note = quota_note;
    if magic == Some(LUSTRE_MAGIC) {
        facts.lustre = Some(lustre_layout(dir, mount_point));
        // Lustre keeps its quotas on the servers: `lfs quota` reports them, quotactl(2) does not.
        if facts.quotas.is_empty() {
            let from_lfs = crate::groups::hdf5::probe::lfs::quotas(dir, &asks, LFS_TIMEOUT);
            if !from_lfs.is_empty() {
                facts.quotas = from_lfs;
                facts.quota_note = None;
            }
        }
        facts.lustre_osts = crate::groups::hdf5::probe::lfs::osts(dir, LFS_TIMEOUT);
    }
    facts
}

/// How long one `lfs` command may take (it asks the Lustre servers).
const LFS_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

fn statvfs(dir: &Path) -> std::io::Result<libc::statvfs> {
    let c = CString::new(dir.as_os_str().as_bytes()).map_err(|_| std::io::Error::from_raw_os_error(libc::EINVAL))?;
    let mut buf: libc::statvfs = unsafe { std::mem::zeroed() };
    // SAFETY: a valid NUL-terminated path and a writable statvfs of the right size.
    if unsafe { libc::statvfs(c.as_ptr(), &mut buf) } == 0 {
        Ok(buf)
    } else {
        Err(std::io::Error::last_os_error())
    }
}

const USRQUOTA: libc::c_int = 0;
const GRPQUOTA: libc::c_int = 1;
const PRJQUOTA: libc::c_int = 2;

/// quotactl_fd(fd, QCMD(Q_GETQUOTA, kind), id): the kernel's quota record for one id.
fn get_quota(fd: i32, kind: libc::c_int, id: u32) -> Result<libc::dqblk, i32> {
    let mut q: libc::dqblk = unsafe { std::mem::zeroed() };
    let cmd = (libc::Q_GETQUOTA << 8) | (kind & 0xff);
    // SAFETY: quotactl_fd with Q_GETQUOTA writes one struct dqblk into `q`.
    let rc = unsafe { libc::syscall(libc::SYS_quotactl_fd, fd, cmd, id, &mut q as *mut libc::dqblk) };
    if rc == 0 {
        Ok(q)
    } else {
        Err(std::io::Error::last_os_error().raw_os_error().unwrap_or(-1))
    }
}

/// The project id of a directory (FS_IOC_FSGETXATTR), where the file system has projects.
fn project_id(fd: i32) -> Option<u32> {
    // struct fsxattr: xflags, extsize, nextents, projid, cowextsize (u32 each), pad[8].
    let mut buf = [0u8; 28];
    const FS_IOC_FSGETXATTR: libc::c_ulong = 0x801c_581f;
    // SAFETY: the ioctl writes one 28-byte struct fsxattr into buf.
    let rc = unsafe { libc::ioctl(fd, FS_IOC_FSGETXATTR as _, buf.as_mut_ptr()) };
    (rc == 0).then(|| u32::from_ne_bytes([buf[12], buf[13], buf[14], buf[15]]))
}

/// The user, group and project quotas that apply to a new file in `dir`, and a note when the kernel
/// reports none (quotas off, not supported, or no permission to ask).
fn quotas(dir: &Path) -> (Vec<QuotaFacts>, Option<String>, Vec<(QuotaKind, u32)>) {
    let Ok(handle) = std::fs::File::open(dir) else {
        return (
            Vec::new(),
            Some("the directory cannot be opened to ask for quotas".into()),
            Vec::new(),
        );
    };
    let fd = handle.as_raw_fd();
    // A new file belongs to the directory's group when the directory is setgid, else to the user's.
    let meta = handle.metadata().ok();
    let setgid = meta.as_ref().is_some_and(|m| m.mode() & libc::S_ISGID != 0);
    let gid = match (&meta, setgid) {
        (Some(m), true) => m.gid(),
        _ => unsafe { libc::getegid() },
    };
    let mut asks = vec![
        (QuotaKind::User, USRQUOTA, unsafe { libc::geteuid() }),
        (QuotaKind::Group, GRPQUOTA, gid),
    ];
    if let Some(p) = project_id(fd).filter(|&p| p != 0) {
        asks.push((QuotaKind::Project, PRJQUOTA, p));
    }
    let mut found = Vec::new();
    let mut errors = Vec::new();
    let subjects: Vec<(QuotaKind, u32)> = asks.iter().map(|(kind, _, id)| (*kind, *id)).collect();
    for (kind, code, id) in asks {
        match get_quota(fd, code, id) {
            Ok(q) => {
                let limited = q.dqb_bhardlimit | q.dqb_bsoftlimit | q.dqb_ihardlimit | q.dqb_isoftlimit != 0;
                if limited {
                    found.push(QuotaFacts {
                        kind,
                        id,
                        source: QuotaSource::Quotactl,
                        // dqb_*limit for blocks are in 1024-byte quota blocks; curspace is in bytes.
                        bytes_used: q.dqb_curspace,
                        bytes_soft: (q.dqb_bsoftlimit > 0).then(|| q.dqb_bsoftlimit.saturating_mul(1024)),
                        bytes_hard: (q.dqb_bhardlimit > 0).then(|| q.dqb_bhardlimit.saturating_mul(1024)),
                        inodes_used: q.dqb_curinodes,
                        inodes_soft: (q.dqb_isoftlimit > 0).then_some(q.dqb_isoftlimit),
                        inodes_hard: (q.dqb_ihardlimit > 0).then_some(q.dqb_ihardlimit),
                    });
                }
            }
            Err(e) => errors.push(format!("{kind}: {}", errno::name(e))),
        }
    }
    let note = (found.is_empty() && !errors.is_empty()).then(|| {
        format!(
            "the kernel reports no quota here ({}); ESRCH means quotas are off on this file system",
            errors.join(", ")
        )
    });
    (found, note, subjects)
}

/// LL_IOC_LOV_GETSTRIPE = _IOW('f', 155, long) (lustre/include/uapi/linux/lustre/lustre_user.h).
const LL_IOC_LOV_GETSTRIPE: libc::c_ulong = 0x4008_669b;
const LOV_USER_MAGIC_V1: u32 = 0x0bd1_0bd0;
const LOV_USER_MAGIC_V3: u32 = 0x0bd3_0bd0;
const LOV_USER_MAGIC_COMP_V1: u32 = 0x0bd6_0bd0;

/// The default layout new files in `dir` get: the directory's own, else the file system root's (what
/// `lfs getstripe -d` shows; a directory without a default layout answers ENODATA). `mount_point` is where
/// the file system that holds `dir` is mounted, as the mount table says.
fn lustre_layout(dir: &Path, mount_point: Option<&Path>) -> LustreLayout {
    let own = getstripe(dir);
    if own.errno != Some(libc::ENODATA) {
        return own;
    }
    match mount_point.filter(|r| *r != dir) {
        Some(r) => LustreLayout {
            inherited_from: Some(r.display().to_string()),
            ..getstripe(r)
        },
        None => own,
    }
}

/// One LL_IOC_LOV_GETSTRIPE on a directory, decoded from struct lov_user_md (v1/v3) or the first
/// component of a composite (PFL) layout.
fn getstripe(dir: &Path) -> LustreLayout {
    let mut layout = LustreLayout::default();
    let Ok(handle) = std::fs::File::open(dir) else {
        layout.errno = Some(libc::EACCES);
        return layout;
    };
    let mut buf = vec![0u8; 64 * 1024];
    // The caller sets the magic it understands; the kernel answers with the layout's own.
    buf[..4].copy_from_slice(&LOV_USER_MAGIC_V1.to_ne_bytes());
    // SAFETY: the ioctl writes at most the buffer (large enough for any default layout we read).
    let rc = unsafe { libc::ioctl(handle.as_raw_fd(), LL_IOC_LOV_GETSTRIPE as _, buf.as_mut_ptr()) };
    if rc != 0 {
        layout.errno = Some(std::io::Error::last_os_error().raw_os_error().unwrap_or(-1));
        return layout;
    }
    decode_lov_user_md(&buf, &mut layout);
    layout
}

fn u32_at(b: &[u8], at: usize) -> u32 {
    u32::from_ne_bytes(b[at..at + 4].try_into().expect("4 bytes"))
}

fn u16_at(b: &[u8], at: usize) -> u16 {
    u16::from_ne_bytes(b[at..at + 2].try_into().expect("2 bytes"))
}

/// struct lov_user_md_v1: magic u32, pattern u32, ost_id (16), stripe_size u32, stripe_count u16,
/// stripe_offset u16. A composite layout (lov_comp_md_v1) holds entries whose first one points at a v1/v3.
pub fn decode_lov_user_md(buf: &[u8], layout: &mut LustreLayout) {
    let magic = u32_at(buf, 0);
    let (at, composite) = match magic {
        LOV_USER_MAGIC_V1 | LOV_USER_MAGIC_V3 => (0usize, false),
        LOV_USER_MAGIC_COMP_V1 => {
            // lov_comp_md_v1: magic, size, layout_gen (u32 each), flags u16, entry_count u16, mirror_count
            // u16, padding (2 + 3*u64), then lov_comp_md_entry_v1[]: id u32, flags u32, extent (2*u64),
            // offset u32 (from the start of the layout), size u32, padding. Header 32 bytes.
            let entry = 32;
            let offset = u32_at(buf, entry + 24) as usize;
            if offset + 32 > buf.len() {
                layout.magic = Some(format!("{magic:#010x}"));
                return;
            }
            (offset, true)
        }
        _ => {
            layout.magic = Some(format!("{magic:#010x}"));
            return;
        }
    };
    layout.magic = Some(format!("{magic:#010x}"));
    layout.composite = composite;
    layout.stripe_size = Some(u32_at(buf, at + 24) as u64);
    let count = u16_at(buf, at + 28);
    // 0: the file system default; 0xffff (-1): every OST.
    layout.stripe_count = Some(if count == 0xffff { -1 } else { count as i64 });
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v1(count: u16, size: u32) -> Vec<u8> {
        let mut b = vec![0u8; 64];
        b[..4].copy_from_slice(&LOV_USER_MAGIC_V1.to_ne_bytes());
        b[24..28].copy_from_slice(&size.to_ne_bytes());
        b[28..30].copy_from_slice(&count.to_ne_bytes());
        b
    }

    #[test]
    fn a_plain_layout_gives_count_and_size() {
        let mut l = LustreLayout::default();
        decode_lov_user_md(&v1(1, 1 << 20), &mut l);
        assert_eq!((l.stripe_count, l.stripe_size, l.composite), (Some(1), Some(1 << 20), false));
        let mut all = LustreLayout::default();
        decode_lov_user_md(&v1(0xffff, 4 << 20), &mut all);
        assert_eq!(all.stripe_count, Some(-1));
    }

    #[test]
    fn a_composite_layout_gives_its_first_component() {
        let mut b = vec![0u8; 256];
        b[..4].copy_from_slice(&LOV_USER_MAGIC_COMP_V1.to_ne_bytes());
        b[32 + 24..32 + 28].copy_from_slice(&128u32.to_ne_bytes());
        b[128..192].copy_from_slice(&v1(1, 1 << 20));
        let mut l = LustreLayout::default();
        decode_lov_user_md(&b, &mut l);
        assert_eq!((l.stripe_count, l.composite), (Some(1), true));
    }

    #[test]
    fn statvfs_of_a_real_directory_has_space_and_no_quota_panic() {
        let f = probe(Path::new("/tmp"), None, None);
        assert!(f.bytes_total.unwrap() > 0, "{f:?}");
        assert!(f.lustre.is_none());
    }
}
