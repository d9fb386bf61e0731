//! Facts named `dir.*` about storage: whether a job can write in a target directory and how much (the
//! read-only flag, a plain create's errno, free blocks and inodes, quotas, `--expect-size`), the errnos of
//! every write failure seen there (plain, HDF5, h5py), and the Lustre default layout.

use crate::facts::catalog::facts;
use crate::facts::catalog::non_empty;
use crate::facts::values::QuotaKind;
use crate::facts::{DirFacts, Facts, ProbeStatus, QuotaFacts, StorageFacts};
use serde_json::json;

/// Below this many free bytes a file system is full for any job that writes data.
pub const FULL_BYTES: u64 = 1 << 20;

fn storage(d: &DirFacts) -> Option<&StorageFacts> {
    d.storage.as_ref()
}

/// 1536 -> "1.5 KiB".
pub fn human_bytes(n: u64) -> String {
    const UNITS: [&str; 6] = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"];
    let mut v = n as f64;
    let mut unit = 0;
    while v >= 1024.0 && unit + 1 < UNITS.len() {
        v /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{n} B")
    } else {
        format!("{v:.1} {}", UNITS[unit])
    }
}

/// The errno in an HDF5 or h5py message (`errno = 122`, `[Errno 28]`).
fn errno_in_text(text: &str) -> Option<i32> {
    let digits = |s: &str| s.chars().take_while(char::is_ascii_digit).collect::<String>().parse().ok();
    if let Some(at) = text.rfind("errno = ") {
        return digits(&text[at + 8..]);
    }
    text.find("[Errno ").and_then(|at| digits(&text[at + 7..]))
}

/// Every errno a write here failed with: the plain create, HDF5's create, each h5py create.
fn write_errnos(f: &Facts, d: &DirFacts) -> Vec<i32> {
    let mut out = Vec::new();
    if let Some(c) = storage(d).and_then(|s| s.create.as_ref()).filter(|c| c.errno != 0) {
        out.push(c.errno);
    }
    if let Some(c) = d.hdf5.create.as_ref().filter(|c| !c.ok) {
        out.extend(
            c.errno
                .or_else(|| c.error_stack.as_deref().and_then(errno_in_text))
                .or_else(|| c.error_leaf.as_deref().and_then(errno_in_text)),
        );
    }
    for i in f.python.interpreters.iter().filter(|i| i.import.status == ProbeStatus::Ok) {
        for c in i.import.creates.iter().filter(|c| c.dir == d.path && !c.ok) {
            out.extend(c.errno.or_else(|| c.error.as_deref().and_then(errno_in_text)));
        }
    }
    out.dedup();
    out
}

/// Why the file system has no room: `blocks`, `inodes`, or `expected-size` (less than `--expect-size`).
fn space_short(s: &StorageFacts) -> Option<&'static str> {
    let free = s.bytes_free?;
    if free < FULL_BYTES {
        return Some("blocks");
    }
    if s.inodes_free == Some(0) {
        return Some("inodes");
    }
    if s.expect_bytes.is_some_and(|want| free < want) {
        return Some("expected-size");
    }
    None
}

/// A quota record that leaves no room: at or over a limit, or with less room than `--expect-size`.
fn quota_shortfall(q: &QuotaFacts, expect: Option<u64>) -> Option<String> {
    let who = format!("{} quota of {} {}", q.kind, q.kind, q.id);
    let bytes_limit = [q.bytes_soft, q.bytes_hard].into_iter().flatten().min();
    let inodes_limit = [q.inodes_soft, q.inodes_hard].into_iter().flatten().min();
    if let Some(l) = bytes_limit {
        let room = l.saturating_sub(q.bytes_used);
        if room == 0 {
            return Some(format!("{who}: {} used of {}", human_bytes(q.bytes_used), human_bytes(l)));
        }
        if let Some(want) = expect.filter(|&w| room < w) {
            return Some(format!(
                "{who}: {} left, the job expects to write {}",
                human_bytes(room),
                human_bytes(want)
            ));
        }
    }
    if let Some(l) = inodes_limit.filter(|&l| q.inodes_used >= l) {
        return Some(format!("{who}: {} files used of {l}", q.inodes_used));
    }
    None
}

fn quota_text(q: &QuotaFacts) -> String {
    let limit = |soft: Option<u64>, hard: Option<u64>, show: &dyn Fn(u64) -> String| match (soft, hard) {
        (Some(s), Some(h)) => format!("soft {}, hard {}", show(s), show(h)),
        (Some(s), None) => format!("soft {}", show(s)),
        (None, Some(h)) => format!("hard {}", show(h)),
        (None, None) => "no limit".into(),
    };
    format!(
        "{} {} ({}): {} used ({}), {} files ({})",
        q.kind,
        q.id,
        q.source,
        human_bytes(q.bytes_used),
        limit(q.bytes_soft, q.bytes_hard, &|b| human_bytes(b)),
        q.inodes_used,
        limit(q.inodes_soft, q.inodes_hard, &|n| n.to_string())
    )
}

facts! {
    Dir(f, d) {
        "dir.read_only" ["read-only"]
            "The directory is on a read-only mount here: statvfs reports ST_RDONLY, or creating a file failed with EROFS (30)."
            => {
                let s = storage(d)?;
                Some(json!(s.read_only || write_errnos(f, d).contains(&libc::EROFS)))
            };
        "dir.create_errno" ["plain create errno"]
            "errno of open(O_CREAT|O_EXCL) of a plain probe file here (0 = created): 30 EROFS, 13 EACCES, 28 ENOSPC, 122 EDQUOT."
            => storage(d)?.create.as_ref().map(|c| &c.errno);
        "dir.create_errno_name" ["plain create error"]
            "The symbolic name of dir.create_errno (OK, EROFS, EACCES, ENOSPC, EDQUOT, ...)."
            => storage(d)?.create.as_ref().map(|c| &c.errno_name);
        "dir.write_errnos" ["write errnos"]
            "Every errno a write here failed with: the plain create, HDF5's H5Fcreate (including its close, where \
            HDF5 flushes the superblock), and each h5py create (a list; unknown when every write worked)."
            => {
                let errnos = write_errnos(f, d);
                (!errnos.is_empty()).then(|| json!(errnos))
            };
        "dir.bytes_free" ["free bytes"]
            "Bytes an unprivileged user may still write on the directory's file system (statvfs f_bavail * f_frsize)."
            => storage(d)?.bytes_free;
        "dir.inodes_free" ["free inodes"]
            "Files that may still be created on the file system (statvfs f_favail); unknown where it does not count inodes."
            => storage(d)?.inodes_free;
        "dir.space" ["space"]
            "Free space and inodes in words (\"12.0 KiB free of 64.0 KiB, 3 of 100 inodes free\")."
            => {
                let s = storage(d)?;
                let mut text = format!(
                    "{} free of {}",
                    human_bytes(s.bytes_free?),
                    human_bytes(s.bytes_total.unwrap_or_default())
                );
                if let (Some(free), Some(total)) = (s.inodes_free, s.inodes_total) {
                    text.push_str(&format!(", {free} of {total} inodes free"));
                }
                Some(json!(text))
            };
        "dir.space_short" ["space short"]
            "Why the file system has no room: blocks (under 1 MiB free), inodes (none free), or expected-size \
            (less free than --expect-size); unknown when there is room."
            => storage(d).and_then(space_short);
        "dir.expect_size" ["expected size"]
            "--expect-size: what the job means to write here, in words."
            => storage(d)?.expect_bytes.map(|b| json!(human_bytes(b)));
        "dir.lustre_full_osts" ["full Lustre OSTs"]
            "On Lustre with `lfs` installed: the OSTs of this directory's file system with less than 1 MiB available \
            (`lfs df`); a file striped onto one gets ENOSPC while the file system has room (a list)."
            => non_empty(
                storage(d)?
                    .lustre_osts
                    .iter()
                    .filter(|o| o.bytes_free < 1 << 20)
                    .map(|o| format!("{} ({} free of {})", o.name, human_bytes(o.bytes_free), human_bytes(o.bytes_total)))
                    .collect(),
            );
        "dir.quotas" ["quotas"]
            "The block and inode quotas with a limit that apply to new files here (user, the group new files get, \
            the directory's project), from quotactl or `lfs quota` (a list)."
            => non_empty(storage(d)?.quotas.iter().map(quota_text).collect());
        "dir.quota_exhausted" ["exhausted quota"]
            "Each quota here that leaves no room: at or over its block or inode limit, or with less room than \
            --expect-size (a list)."
            => {
                let s = storage(d)?;
                non_empty(s.quotas.iter().filter_map(|q| quota_shortfall(q, s.expect_bytes)).collect())
            };
        "dir.quota_exhausted_kinds" ["exhausted quota kinds"] in QuotaKind
            "The kinds of the quotas in dir.quota_exhausted: user, group, project (a list)."
            => {
                let s = storage(d)?;
                let mut kinds: Vec<QuotaKind> = s
                    .quotas
                    .iter()
                    .filter(|q| quota_shortfall(q, s.expect_bytes).is_some())
                    .map(|q| q.kind)
                    .collect();
                kinds.dedup();
                non_empty(kinds)
            };
        "dir.quota_note" ["quota"]
            "Why no quota is known here (quotas off, not supported)."
            => storage(d)?.quota_note.as_ref();
        "dir.lustre_stripe_count" ["Lustre stripe count"]
            "On Lustre: the stripe count new files here get by default (LL_IOC_LOV_GETSTRIPE on the directory, else \
            the file system root): 1 puts a whole file on one OST, -1 stripes over every OST."
            => storage(d)?.lustre.as_ref()?.stripe_count;
        "dir.lustre_stripe_size" ["Lustre stripe size"]
            "On Lustre: the default stripe size of new files here, bytes."
            => storage(d)?.lustre.as_ref()?.stripe_size;
        "dir.lustre_layout" ["Lustre default layout"]
            "On Lustre: the default layout in words (stripe count and size, composite, where it comes from)."
            => {
                let l = storage(d)?.lustre.as_ref()?;
                if let Some(e) = l.errno {
                    return Some(json!(format!("LL_IOC_LOV_GETSTRIPE failed: {}", crate::errno::name(e))));
                }
                let mut text = format!(
                    "stripe count {}, stripe size {}",
                    l.stripe_count?,
                    l.stripe_size.map_or("?".into(), human_bytes)
                );
                if l.composite {
                    text.push_str(" (first component of a progressive file layout)");
                }
                if let Some(from) = &l.inherited_from {
                    text.push_str(&format!(", the file system default from {from}"));
                }
                Some(json!(text))
            };
        "dir.lustre_stripe_suggestion" ["suggested stripe count"]
            "On Lustre: a stripe count for one shared file of --expect-size (NERSC's classes: 8 up to 10 GiB, 24 up to \
            100 GiB, 72 above; 8 when the size is not given)."
            => {
                let s = storage(d)?;
                s.lustre.as_ref()?;
                let gib = s.expect_bytes.unwrap_or(0) >> 30;
                Some(json!(match gib {
                    0..=10 => 8,
                    11..=100 => 24,
                    _ => 72,
                }))
            };
    }

    Global(f) {
        "targets.writable_dir" ["a writable target directory"]
            "The first probed target directory where HDF5's H5Fcreate worked, no write failed, and the file system and \
            its quotas have room: a place h5doctor proved a job can write HDF5 files on this node."
            => f.dirs
                .iter()
                .find(|d| {
                    d.hdf5.create.as_ref().is_some_and(|c| c.ok)
                        && storage(d).is_some_and(|s| {
                            !s.read_only
                                && space_short(s).is_none()
                                && s.quotas.iter().all(|q| quota_shortfall(q, s.expect_bytes).is_none())
                        })
                        && write_errnos(f, d).is_empty()
                })
                .map(|d| &d.path);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errnos_come_from_hdf5_and_h5py_texts() {
        assert_eq!(
            errno_in_text("file write failed: time = x, errno = 122, error message = 'Disk quota exceeded'"),
            Some(122)
        );
        assert_eq!(
            errno_in_text("OSError: [Errno 30] Unable to synchronously create file (...)"),
            Some(30)
        );
        assert_eq!(errno_in_text("no number here"), None);
        // HDF5 1.10 and >= 1.14/2.x word the same failure differently; both carry the errno.
        let v1_10 = "OSError: Unable to create file (unable to open file: name = '/ro/x.h5', errno = 30, error message = 'Read-only file system', flags = 13, o_flags = 242)";
        let v2_0 = "OSError: [Errno 30] Unable to synchronously create file (unable to open file: name = '/ro/x.h5', errno = 30, error message = 'Read-only file system', flags = 13, o_flags = 242)";
        assert_eq!(errno_in_text(v1_10), Some(30));
        assert_eq!(errno_in_text(v2_0), Some(30));
        let at_close = "RuntimeError: Can't decrement id ref count (file write failed: time = Tue Dec  1 10:00:00 2026\n, filename = '/tmp/q.h5', file descriptor = 3, errno = 122, error message = 'Disk quota exceeded', buf = 0x1, total write size = 96, bytes this sub-write = 96, bytes actually written = 18446744073709551615, offset = 0)";
        assert_eq!(errno_in_text(at_close), Some(122));
    }

    #[test]
    fn a_quota_at_its_limit_or_below_the_expected_size_leaves_no_room() {
        let q = QuotaFacts {
            kind: QuotaKind::User,
            id: 1000,
            source: crate::facts::values::QuotaSource::Quotactl,
            bytes_used: 1 << 30,
            bytes_soft: None,
            bytes_hard: Some(1 << 30),
            inodes_used: 0,
            inodes_soft: None,
            inodes_hard: None,
        };
        assert!(quota_shortfall(&q, None).unwrap().contains("1.0 GiB used of 1.0 GiB"));
        let roomy = QuotaFacts {
            bytes_used: 0,
            ..q.clone()
        };
        assert_eq!(quota_shortfall(&roomy, None), None);
        assert!(quota_shortfall(&roomy, Some(2 << 30))
            .unwrap()
            .contains("the job expects to write 2.0 GiB"));
    }
}
