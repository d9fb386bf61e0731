//! HDF5's error stack, captured as text: automatic printing is off (see `library::describe`), so after a
//! failed call the probe asks HDF5 to print the stack into memory (open_memstream + H5Eprint2), keeps it
//! as evidence and clears it.

use hdf5_sys::h5e::{H5Eclear2, H5Eprint2, H5E_DEFAULT};
use std::ffi::c_char;

/// The error stack of the last failed HDF5 call, as HDF5 prints it.
#[derive(Debug, Clone, Default)]
pub struct Hdf5Error {
    pub stack: String,
}

impl Hdf5Error {
    /// Takes the current error stack (and clears it, so the next failure starts afresh).
    pub fn capture() -> Self {
        let stack = print_stack();
        // SAFETY: clearing the default error stack has no preconditions.
        unsafe { H5Eclear2(H5E_DEFAULT) };
        Self { stack }
    }

    /// The innermost frame (`#003: ... unable to lock file, errno = 524, ...`).
    pub fn leaf(&self) -> Option<String> {
        leaf(&self.stack)
    }

    /// The `errno = N` HDF5 puts into system-call failures.
    pub fn errno(&self) -> Option<i32> {
        errno_in(&self.stack)
    }

    /// The stack when there is one.
    pub fn stack(&self) -> Option<String> {
        (!self.stack.trim().is_empty()).then(|| self.stack.clone())
    }
}

fn print_stack() -> String {
    let mut buf: *mut c_char = std::ptr::null_mut();
    let mut len: libc::size_t = 0;
    // SAFETY: open_memstream gives a FILE* that writes into a malloc'd buffer we free after fclose.
    unsafe {
        let stream = libc::open_memstream(&mut buf, &mut len);
        if stream.is_null() {
            return String::new();
        }
        H5Eprint2(H5E_DEFAULT, stream.cast());
        libc::fclose(stream);
        let text = String::from_utf8_lossy(std::slice::from_raw_parts(buf as *const u8, len)).into_owned();
        libc::free(buf.cast());
        text
    }
}

/// The innermost frame of an error stack, with its continuation lines (HDF5 puts a ctime() with its
/// newline inside some messages: `time = Tue Nov 24 02:48:24 2026\n, addr = 2048, ..., errno = 27`).
pub fn leaf(stack: &str) -> Option<String> {
    let lines: Vec<&str> = stack.lines().collect();
    let at = lines.iter().rposition(|l| l.trim_start().starts_with('#'))?;
    let mut text = lines[at].trim().to_string();
    for l in &lines[at + 1..] {
        let t = l.trim_start();
        if t.starts_with("major:") || t.starts_with("minor:") || t.starts_with('#') {
            break;
        }
        text.push_str(l.trim_end());
    }
    Some(text)
}

/// The `errno = N` of an error stack.
pub fn errno_in(stack: &str) -> Option<i32> {
    let at = stack.rfind("errno = ")?;
    stack[at + 8..]
        .chars()
        .take_while(char::is_ascii_digit)
        .collect::<String>()
        .parse()
        .ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    const STACK: &str = "HDF5-DIAG: Error detected in HDF5 (1.10.8) thread 1:\n  #000: H5F.c line 350 in H5Fcreate(): unable to create file\n    major: File accessibility\n  #003: H5FDsec2.c line 1002 in H5FD__sec2_lock(): unable to lock file, errno = 524, error message = 'Unknown error 524'\n    major: Virtual File Layer\n";

    #[test]
    fn a_leaf_keeps_its_continuation_line() {
        let stack = "  #012: H5FDsec2.c line 864 in H5FD__sec2_write(): file write failed: time = Tue Nov 24 02:48:24 2026\n, addr = 2048, size = 8192, errno = 27, error message = 'File too large'\n    major: Low-level I/O\n";
        assert_eq!(
            leaf(stack).unwrap(),
            "#012: H5FDsec2.c line 864 in H5FD__sec2_write(): file write failed: time = Tue Nov 24 02:48:24 2026, addr = 2048, size = 8192, errno = 27, error message = 'File too large'"
        );
    }

    #[test]
    fn leaf_and_errno_come_from_the_innermost_frame() {
        assert!(leaf(STACK).unwrap().starts_with("#003: H5FDsec2.c"));
        assert_eq!(errno_in(STACK), Some(524));
        assert_eq!(errno_in("no errno here"), None);
    }
}
