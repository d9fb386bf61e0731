//! Facts named `dir.*`: one set per target directory (file system, raw lock calls, HDF5 create).

use super::{FactDef, Scope};
use crate::facts::{Hdf5Create, SyscallResult};
use serde_json::{json, Value};

fn syscall_errno(r: &Option<SyscallResult>) -> Option<Value> {
    r.as_ref().map(|r| json!(r.errno))
}

fn syscall_name(r: &Option<SyscallResult>) -> Option<Value> {
    r.as_ref().map(|r| json!(r.errno_name))
}

fn create_outcome(c: &Option<Hdf5Create>) -> Option<Value> {
    c.as_ref().map(|c| json!(crate::facts::values::Outcome::of(c.ok)))
}

pub static FACTS: &[FactDef] = &[
    FactDef {
        name: "dir.fcntl_errno",
        scope: Scope::Dir,
        label: "fcntl(F_SETLK) errno",
        doc: "errno of a whole-file fcntl(F_SETLK) write lock on a probe file (0 = success); ROMIO locks this way.",
        read: |_, it| it.dir().and_then(|d| syscall_errno(&d.lock.fcntl_setlk)),
    },
    FactDef {
        name: "dir.flock_errno",
        scope: Scope::Dir,
        label: "flock errno",
        doc: "errno of flock(LOCK_EX|LOCK_NB) on a fresh probe file (0 = success): what HDF5 does on create.",
        read: |_, it| it.dir().and_then(|d| syscall_errno(&d.lock.flock_exclusive)),
    },
    FactDef {
        name: "dir.flock_errno_name",
        scope: Scope::Dir,
        label: "flock error",
        doc: "The symbolic name of dir.flock_errno (ENOTSUPP, EOPNOTSUPP, ENOSYS, ENOLCK, ...).",
        read: |_, it| it.dir().and_then(|d| syscall_name(&d.lock.flock_exclusive)),
    },
    FactDef {
        name: "dir.flock_shared_errno",
        scope: Scope::Dir,
        label: "flock(LOCK_SH) errno",
        doc: "errno of flock(LOCK_SH|LOCK_NB): what HDF5 does on a read-only open.",
        read: |_, it| it.dir().and_then(|d| syscall_errno(&d.lock.flock_shared)),
    },
    FactDef {
        name: "dir.fs_type",
        scope: Scope::Dir,
        label: "file system",
        doc: "The file system type from /proc/self/mountinfo (ext4, lustre, nfs4, gpfs, dvs, ...).",
        read: |_, it| it.dir().and_then(|d| d.filesystem.as_ref()).map(|fs| json!(fs.fs_type)),
    },
    FactDef {
        name: "dir.hdf5_create",
        scope: Scope::Dir,
        label: "HDF5 create",
        doc: "Whether H5Fcreate of a probe file with the default fapl succeeded: ok or failed.",
        read: |_, it| it.dir().and_then(|d| create_outcome(&d.hdf5.create)),
    },
    FactDef {
        name: "dir.hdf5_create_errno",
        scope: Scope::Dir,
        label: "HDF5 errno",
        doc: "The errno in HDF5's error stack when dir.hdf5_create failed.",
        read: |_, it| {
            it.dir()
                .and_then(|d| d.hdf5.create.as_ref())
                .and_then(|c| c.errno)
                .map(|e| json!(e))
        },
    },
    FactDef {
        name: "dir.hdf5_create_without_locking",
        scope: Scope::Dir,
        label: "HDF5 create with HDF5_USE_FILE_LOCKING=FALSE",
        doc: "The same H5Fcreate re-run in a fresh process with HDF5_USE_FILE_LOCKING=FALSE: ok or failed. \
              Only run when dir.hdf5_create failed on a lock errno.",
        read: |_, it| it.dir().and_then(|d| create_outcome(&d.hdf5.create_without_locking)),
    },
    FactDef {
        name: "dir.hdf5_error",
        scope: Scope::Dir,
        label: "HDF5 error",
        doc: "The innermost line of HDF5's error stack when dir.hdf5_create failed.",
        read: |_, it| {
            it.dir()
                .and_then(|d| d.hdf5.create.as_ref())
                .and_then(|c| c.error_leaf.as_ref())
                .map(|e| json!(e))
        },
    },
    FactDef {
        name: "dir.lock_probe",
        scope: Scope::Dir,
        label: "lock probe",
        doc: "How the lock probe ended in this directory: ok, inconclusive or not-run.",
        read: |_, it| it.dir().map(|d| json!(d.lock.status.as_str())),
    },
    FactDef {
        name: "dir.mount_options",
        scope: Scope::Dir,
        label: "mount options",
        doc: "Mount and super options of the file system (a list: flock, localflock, nolock, local_lock=all, ...).",
        read: |_, it| it.dir().and_then(|d| d.filesystem.as_ref()).map(|fs| json!(fs.options)),
    },
    FactDef {
        name: "dir.mount_point",
        scope: Scope::Dir,
        label: "mount point",
        doc: "Where the file system holding the directory is mounted.",
        read: |_, it| it.dir().and_then(|d| d.filesystem.as_ref()).map(|fs| json!(fs.mount_point)),
    },
    FactDef {
        name: "dir.ofd_errno",
        scope: Scope::Dir,
        label: "fcntl(F_OFD_SETLK) errno",
        doc: "errno of a whole-file open-file-description lock (0 = success).",
        read: |_, it| it.dir().and_then(|d| syscall_errno(&d.lock.fcntl_ofd_setlk)),
    },
    FactDef {
        name: "dir.path",
        scope: Scope::Dir,
        label: "directory",
        doc: "The target directory as given.",
        read: |_, it| it.dir().map(|d| json!(d.path)),
    },
];
