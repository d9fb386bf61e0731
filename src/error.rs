//! h5doctor's own error: something went wrong in h5doctor itself (bad usage, an unreadable or invalid
//! rules or facts file), as opposed to a finding about the node. It maps to exit code 2.

use std::fmt;

/// Exit code when h5doctor itself failed.
pub const EXIT_TOOL_ERROR: u8 = 2;

#[derive(Debug)]
pub struct Error(String);

impl Error {
    pub fn msg(message: impl Into<String>) -> Self {
        Self(message.into())
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Error {}
