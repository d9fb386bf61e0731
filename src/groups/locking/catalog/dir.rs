//! Facts named `dir.*`: one set per target directory (file system, raw lock calls, HDF5 create).

use crate::facts::catalog::facts;
use crate::facts::values::Outcome;
use crate::facts::ProbeStatus;
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

facts! {
    Dir(f, d) {
        "dir.fcntl_errno" ["fcntl(F_SETLK) errno"]
            "errno of a whole-file fcntl(F_SETLK) write lock on a probe file (0 = success); ROMIO locks this way."
            => syscall_errno(&d.lock.fcntl_setlk);
        "dir.flock_errno" ["flock errno"]
            "errno of flock(LOCK_EX|LOCK_NB) on a fresh probe file (0 = success): what HDF5 does on create."
            => syscall_errno(&d.lock.flock_exclusive);
        "dir.flock_errno_name" ["flock error"]
            "The symbolic name of dir.flock_errno (ENOTSUPP, EOPNOTSUPP, ENOSYS, ENOLCK, ...)."
            => syscall_name(&d.lock.flock_exclusive);
        "dir.flock_shared_errno" ["flock(LOCK_SH) errno"]
            "errno of flock(LOCK_SH|LOCK_NB): what HDF5 does on a read-only open."
            => syscall_errno(&d.lock.flock_shared);
        "dir.fs_type" ["file system"]
            "The file system type from /proc/self/mountinfo (ext4, lustre, nfs4, gpfs, dvs, ...)."
            => d.filesystem.as_ref().map(|fs| &fs.fs_type);
        "dir.hdf5_create" ["HDF5 create"] in Outcome
            "Whether H5Fcreate of a probe file with the default fapl succeeded: ok or failed."
            => create_outcome(&d.hdf5.create);
        "dir.hdf5_create_errno" ["HDF5 errno"]
            "The errno in HDF5's error stack when dir.hdf5_create failed."
            => d.hdf5.create.as_ref().and_then(|c| c.errno);
        "dir.hdf5_create_without_locking" ["HDF5 create with HDF5_USE_FILE_LOCKING=FALSE"] in Outcome
            "The same H5Fcreate re-run in a fresh process with HDF5_USE_FILE_LOCKING=FALSE: ok or failed. \
            Only run when dir.hdf5_create failed on a lock errno."
            => create_outcome(&d.hdf5.create_without_locking);
        "dir.hdf5_error" ["HDF5 error"]
            "The innermost line of HDF5's error stack when dir.hdf5_create failed."
            => d.hdf5.create.as_ref().and_then(|c| c.error_leaf.as_ref());
        "dir.lock_probe" ["lock probe"] in ProbeStatus
            "How the lock probe ended in this directory: ok, inconclusive or not-run."
            => Some(&d.lock.status.as_str());
        "dir.mount_options" ["mount options"]
            "Mount and super options of the file system (a list: flock, localflock, nolock, local_lock=all, ...)."
            => d.filesystem.as_ref().map(|fs| &fs.options);
        "dir.mount_point" ["mount point"]
            "Where the file system holding the directory is mounted."
            => d.filesystem.as_ref().map(|fs| &fs.mount_point);
        "dir.ofd_errno" ["fcntl(F_OFD_SETLK) errno"]
            "errno of a whole-file open-file-description lock (0 = success)."
            => syscall_errno(&d.lock.fcntl_ofd_setlk);
        "dir.path" ["directory"]
            "The target directory as given."
            => Some(&d.path);
    }
}
