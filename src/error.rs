//! h5doctor's own error: something went wrong in h5doctor itself (bad usage, an unreadable or invalid
//! rules or facts file), as opposed to a finding about the node. It maps to exit code 2.
//!
//! An error keeps its cause (an `io::Error`, a parse error) as its `source`, so the chain can be walked
//! (`main` prints it as `message: cause`), and several independent errors (every invalid rule file, not
//! only the first) can travel as one.

use std::fmt;

/// Exit code when h5doctor itself failed.
pub const EXIT_TOOL_ERROR: u8 = 2;

#[derive(Debug)]
pub struct Error {
    message: String,
    source: Option<Box<dyn std::error::Error + Send + Sync + 'static>>,
    /// Independent errors reported together (then `message` is their count).
    many: Vec<Error>,
}

impl Error {
    pub fn msg(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            source: None,
            many: Vec::new(),
        }
    }

    /// An error caused by `source` (shown after the message, `message: source`).
    pub fn with_source(message: impl Into<String>, source: impl std::error::Error + Send + Sync + 'static) -> Self {
        Self {
            message: message.into(),
            source: Some(Box::new(source)),
            many: Vec::new(),
        }
    }

    /// Several independent errors as one, one per line (a single error stays as it is).
    pub fn all(errors: Vec<Error>) -> Option<Self> {
        let mut flat: Vec<Error> = Vec::new();
        for e in errors {
            if e.many.is_empty() {
                flat.push(e);
            } else {
                flat.extend(e.many);
            }
        }
        match flat.len() {
            0 => None,
            1 => flat.pop(),
            n => Some(Self {
                message: format!("{n} errors:"),
                source: None,
                many: flat,
            }),
        }
    }

    /// The message followed by every cause: `cannot read rules dir /x: No such file or directory (os error 2)`.
    pub fn chain(&self) -> String {
        let mut out = self.message.clone();
        for e in &self.many {
            out.push_str(&format!("\n  {}", e.chain()));
        }
        let mut cause = self.source.as_deref().map(|s| s as &(dyn std::error::Error + 'static));
        while let Some(c) = cause {
            out.push_str(&format!(": {c}"));
            cause = c.source();
        }
        out
    }
}

impl fmt::Display for Error {
    /// The whole chain, so `{e}` says everything wherever the error is printed.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.chain())
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.source.as_deref().map(|s| s as &(dyn std::error::Error + 'static))
    }
}
