//! Mounts probe: which file system holds a directory, from statfs(2) (f_type) and /proc/self/mountinfo
//! (type, mount point, source, the options that decide locking: flock, localflock, noflock, nolock,
//! local_lock=...).

use crate::facts::FsFacts;
use std::ffi::CString;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

/// One line of /proc/self/mountinfo.
#[derive(Debug, Clone, PartialEq)]
pub struct MountEntry {
    pub mount_point: String,
    pub fs_type: String,
    pub source: String,
    pub options: Vec<String>,
}

/// Undoes mountinfo's octal escapes (`\040` is a space).
fn unescape(field: &str) -> String {
    let bytes = field.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'\\' && i + 3 < bytes.len() && bytes[i + 1..i + 4].iter().all(|b| (b'0'..=b'7').contains(b)) {
            let v = (bytes[i + 1] - b'0') * 64 + (bytes[i + 2] - b'0') * 8 + (bytes[i + 3] - b'0');
            out.push(v);
            i += 4;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Parses mountinfo text; malformed lines are skipped.
pub fn parse_mountinfo(text: &str) -> Vec<MountEntry> {
    text.lines()
        .filter_map(|line| {
            let (pre, post) = line.split_once(" - ")?;
            let pre: Vec<&str> = pre.split(' ').collect();
            let post: Vec<&str> = post.split(' ').collect();
            if pre.len() < 6 || post.len() < 3 {
                return None;
            }
            let mut options: Vec<String> = pre[5].split(',').map(String::from).collect();
            for o in post[2].split(',') {
                if !options.iter().any(|x| x == o) {
                    options.push(o.to_string());
                }
            }
            Some(MountEntry {
                mount_point: unescape(pre[4]),
                fs_type: post[0].to_string(),
                source: unescape(post[1]),
                options,
            })
        })
        .collect()
}

/// The mount that holds `path` (canonical): the longest mount point that is a path prefix; the last
/// one listed wins among equals (it is mounted on top).
pub fn mount_for<'a>(mounts: &'a [MountEntry], path: &Path) -> Option<&'a MountEntry> {
    mounts
        .iter()
        .enumerate()
        .filter(|(_, m)| path.starts_with(&m.mount_point))
        .max_by_key(|(i, m)| (Path::new(&m.mount_point).components().count(), *i))
        .map(|(_, m)| m)
}

/// File system types whose calls answer from this node (a local disk or memory): a call on them cannot hang
/// on a server that went away. Anything else (NFS, Lustre, GPFS, CIFS, FUSE, an unknown type) may.
const NODE_LOCAL_TYPES: [&str; 12] = [
    "ext2", "ext3", "ext4", "xfs", "btrfs", "zfs", "f2fs", "jfs", "tmpfs", "ramfs", "overlay", "vfat",
];

/// Whether every call on `path` (canonical) answers from this node, by the mount table alone (nothing is
/// asked of the path itself, which may be on a dead mount): for the janitor that removes a dead run's
/// files in directories this run does not probe ([`crate::cleanup::sweep_abandoned`]).
pub fn is_node_local(mounts: &[MountEntry], path: &Path) -> bool {
    mount_for(mounts, path).is_some_and(|m| NODE_LOCAL_TYPES.contains(&m.fs_type.as_str()))
}

/// statfs(2) f_type of a path, as `0x...`.
pub fn fs_magic(path: &Path) -> Option<String> {
    let c = CString::new(path.as_os_str().as_bytes()).ok()?;
    let mut buf: libc::statfs = unsafe { std::mem::zeroed() };
    // SAFETY: c is a valid NUL-terminated path and buf a properly sized, writable statfs.
    let rc = unsafe { libc::statfs(c.as_ptr(), &mut buf) };
    (rc == 0).then(|| format!("{:#010x}", buf.f_type as u64))
}

/// This node's mount table, from /proc/self/mountinfo (empty when it cannot be read). A process that looks
/// at several directories reads it once and passes it to [`probe_in`].
pub fn table() -> Vec<MountEntry> {
    std::fs::read_to_string("/proc/self/mountinfo")
        .map(|t| parse_mountinfo(&t))
        .unwrap_or_default()
}

/// The file system facts of a directory, from a fresh read of the mount table.
pub fn probe(canonical: &Path) -> Option<FsFacts> {
    probe_in(&table(), canonical)
}

/// The file system facts of a directory, from the mount table `mounts` ([`table`]).
pub fn probe_in(mounts: &[MountEntry], canonical: &Path) -> Option<FsFacts> {
    let m = mount_for(mounts, canonical)?;
    Some(FsFacts {
        magic: fs_magic(canonical).unwrap_or_default(),
        fs_type: m.fs_type.clone(),
        mount_point: m.mount_point.clone(),
        source: m.source.clone(),
        options: m.options.clone(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_local_disks_and_memory_count_as_node_local() {
        let mounts = parse_mountinfo(
            "22 1 8:1 / / rw - ext4 /dev/sda1 rw\n\
             40 22 0:35 / /lus/scratch rw - lustre 10.0.0.1@o2ib:/scratch rw,flock\n\
             41 22 0:36 / /home rw - nfs4 server:/home rw\n\
             42 22 0:37 / /tmp rw - tmpfs tmpfs rw\n\
             43 41 0:38 / /home/u/fuse rw - fuse.sshfs u@h: rw\n",
        );
        assert!(is_node_local(&mounts, Path::new("/var/tmp/x")));
        assert!(is_node_local(&mounts, Path::new("/tmp")));
        assert!(!is_node_local(&mounts, Path::new("/lus/scratch/u")));
        assert!(!is_node_local(&mounts, Path::new("/home/u")));
        assert!(!is_node_local(&mounts, Path::new("/home/u/fuse/x")));
        assert!(!is_node_local(&[], Path::new("/")));
    }

    const SAMPLE: &str = "\
22 1 253:0 / / rw,relatime shared:1 - ext4 /dev/vda rw,errors=remount-ro
40 22 0:35 / /lus/scratch rw,nosuid - lustre 10.0.0.1@o2ib:/scratch rw,flock,lazystatfs
41 22 0:36 / /home/with\\040space rw - nfs4 server:/home rw,vers=4.2,local_lock=none
";

    #[test]
    fn longest_prefix_wins_and_options_merge() {
        let mounts = parse_mountinfo(SAMPLE);
        let m = mount_for(&mounts, Path::new("/lus/scratch/user/run1")).unwrap();
        assert_eq!(m.fs_type, "lustre");
        assert!(m.options.contains(&"flock".to_string()) && m.options.contains(&"nosuid".to_string()));
        assert_eq!(mount_for(&mounts, Path::new("/lus/scratchy")).unwrap().fs_type, "ext4");
    }

    #[test]
    fn octal_escapes_are_undone() {
        let mounts = parse_mountinfo(SAMPLE);
        assert_eq!(mount_for(&mounts, Path::new("/home/with space/u")).unwrap().fs_type, "nfs4");
    }
}
