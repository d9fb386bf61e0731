//! Symbolic names for the errno values that matter to file locking and HDF5 I/O.

/// The symbolic name of an errno (`ENOTSUPP` for 524, which libc has no name for), or `E<n>`.
pub fn name(errno: i32) -> String {
    let known = match errno {
        0 => "OK",
        1 => "EPERM",
        2 => "ENOENT",
        4 => "EINTR",
        5 => "EIO",
        9 => "EBADF",
        11 => "EAGAIN",
        13 => "EACCES",
        16 => "EBUSY",
        17 => "EEXIST",
        20 => "ENOTDIR",
        21 => "EISDIR",
        22 => "EINVAL",
        28 => "ENOSPC",
        30 => "EROFS",
        37 => "ENOLCK",
        38 => "ENOSYS",
        95 => "EOPNOTSUPP",
        110 => "ETIMEDOUT",
        116 => "ESTALE",
        122 => "EDQUOT",
        524 => "ENOTSUPP",
        _ => return format!("E{errno}"),
    };
    known.to_string()
}

/// What the C library says about an errno, with `ENOTSUPP` spelled out (glibc prints "Unknown error 524").
pub fn describe(errno: i32) -> String {
    if errno == 524 {
        return "operation not supported by this file system (kernel ENOTSUPP; glibc prints 'Unknown error 524')".into();
    }
    std::io::Error::from_raw_os_error(errno)
        .to_string()
        .replace(&format!(" (os error {errno})"), "")
}
