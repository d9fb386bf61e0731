//! What the storage probe (`probe/storage.rs`, run in the directory probe child) saw in a target
//! directory: space and inodes (statvfs), quotas (quotactl, `lfs quota`), the Lustre default layout and
//! OST usage, and what a plain create of a probe file answered. Judged by the hdf5 group's rules
//! (`catalog/dir_storage.rs`).

use crate::facts::values;
use crate::facts::SyscallResult;
use serde::{Deserialize, Serialize};

/// What the storage probe saw in a directory (statvfs, quotactl, LL_IOC_LOV_GETSTRIPE) and what a plain
/// create of a probe file answered.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
pub struct StorageFacts {
    /// statvfs f_flag has ST_RDONLY: the mount is read-only on this node.
    #[serde(default)]
    pub read_only: bool,
    /// open(O_CREAT|O_EXCL) of the lock probe's plain file: errno 0 is success, 30 EROFS, 13 EACCES, 28 ENOSPC.
    #[serde(default)]
    pub create: Option<SyscallResult>,
    /// Size of the file system, bytes (f_blocks * f_frsize).
    #[serde(default)]
    pub bytes_total: Option<u64>,
    /// Fact `dir.bytes_free` (documented once, in the facts catalogue: `h5doctor facts --list`).
    #[serde(default)]
    pub bytes_free: Option<u64>,
    /// Inodes of the file system; absent where the file system does not count them.
    #[serde(default)]
    pub inodes_total: Option<u64>,
    #[serde(default)]
    pub inodes_free: Option<u64>,
    /// `--expect-size`: how much the job means to write here, bytes.
    #[serde(default)]
    pub expect_bytes: Option<u64>,
    /// Block and inode quotas with a limit (user, group of new files, project), from quotactl or `lfs quota`.
    #[serde(default)]
    pub quotas: Vec<QuotaFacts>,
    /// Fact `dir.quota_note` (documented once, in the facts catalogue: `h5doctor facts --list`).
    #[serde(default)]
    pub quota_note: Option<String>,
    /// On Lustre: the default layout of files created here.
    #[serde(default)]
    pub lustre: Option<LustreLayout>,
    /// On Lustre with `lfs` installed: each OST's space (`lfs df`).
    #[serde(default)]
    pub lustre_osts: Vec<OstUsage>,
    /// Why statvfs failed, when it did.
    #[serde(default)]
    pub reason: Option<String>,
}

/// One quota record: usage and limits (None: no limit of that kind).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
pub struct QuotaFacts {
    /// `user`, `group` or `project`.
    pub kind: values::QuotaKind,
    pub id: u32,
    /// `quotactl` or `lfs quota`.
    pub source: values::QuotaSource,
    pub bytes_used: u64,
    pub bytes_soft: Option<u64>,
    pub bytes_hard: Option<u64>,
    pub inodes_used: u64,
    pub inodes_soft: Option<u64>,
    pub inodes_hard: Option<u64>,
}

/// One Lustre OST's space as `lfs df` reports it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
pub struct OstUsage {
    /// `testfs-OST0001`.
    pub name: String,
    pub bytes_total: u64,
    /// Available to users (the `Available` column).
    pub bytes_free: u64,
}

/// A Lustre default layout as LL_IOC_LOV_GETSTRIPE returns it for a directory.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
pub struct LustreLayout {
    /// The ioctl's errno when it failed (61 ENODATA: no default layout of its own).
    #[serde(default)]
    pub errno: Option<i32>,
    /// lmm_magic of the answer (`0x0bd10bd0` v1, `0x0bd30bd0` v3 with a pool, `0x0bd60bd0` composite/PFL).
    #[serde(default)]
    pub magic: Option<String>,
    /// A composite (progressive file layout) whose first component is described below.
    #[serde(default)]
    pub composite: bool,
    /// lmm_stripe_count: 0 the file system default, -1 every OST.
    #[serde(default)]
    pub stripe_count: Option<i64>,
    /// lmm_stripe_size, bytes.
    #[serde(default)]
    pub stripe_size: Option<u64>,
    /// The directory had no layout of its own; this one is the file system root's.
    #[serde(default)]
    pub inherited_from: Option<String>,
}
