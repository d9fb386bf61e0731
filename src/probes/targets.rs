//! Target directories: where the job will write. The current directory, $HOME, $TMPDIR, the scratch and
//! burst-buffer variables sites set ($SCRATCH, $PSCRATCH, $CSCRATCH, $DW_JOB_STRIPED, $DW_JOB_PRIVATE)
//! and every `--dir`, each once (by canonical path), remembering why it is a target.

use crate::Error;
use std::path::{Path, PathBuf};

/// Environment variables that name directories jobs write to.
const DIR_VARS: &[&str] = &[
    "HOME",
    "TMPDIR",
    "SCRATCH",
    "PSCRATCH",
    "CSCRATCH",
    "DW_JOB_STRIPED",
    "DW_JOB_PRIVATE",
];

/// A directory to probe.
#[derive(Debug, Clone)]
pub struct Target {
    pub path: PathBuf,
    pub origin: String,
    pub canonical: Option<PathBuf>,
}

/// Checks a user-given `--dir` up front: a missing path or a file is a usage error, said plainly.
pub fn check_explicit(path: &Path) -> Result<(), Error> {
    match std::fs::metadata(path) {
        Ok(m) if m.is_dir() => Ok(()),
        Ok(_) => Err(Error::msg(format!(
            "--dir {}: not a directory (h5doctor probes directories; give the directory that holds the file)",
            path.display()
        ))),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Err(Error::msg(format!("--dir {}: no such directory", path.display()))),
        Err(e) => Err(Error::msg(format!("--dir {}: {e}", path.display()))),
    }
}

/// The targets of this run, deduplicated by canonical path (origins are merged: `cwd, $HOME`).
pub fn collect(explicit: &[PathBuf], defaults: bool) -> Vec<Target> {
    let mut candidates: Vec<(PathBuf, String)> = Vec::new();
    if defaults {
        if let Ok(cwd) = std::env::current_dir() {
            candidates.push((cwd, "cwd".into()));
        }
        for var in DIR_VARS {
            if let Some(v) = std::env::var_os(var).filter(|v| !v.is_empty()) {
                candidates.push((PathBuf::from(v), format!("${var}")));
            }
        }
    }
    candidates.extend(explicit.iter().map(|p| (p.clone(), "--dir".to_string())));
    let mut targets: Vec<Target> = Vec::new();
    for (path, origin) in candidates {
        let canonical = std::fs::canonicalize(&path).ok();
        let same = targets.iter_mut().find(|t| match (&t.canonical, &canonical) {
            (Some(a), Some(b)) => a == b,
            _ => t.path == path,
        });
        match same {
            Some(t) => {
                if !t.origin.split(", ").any(|o| o == origin) {
                    t.origin = format!("{}, {origin}", t.origin);
                }
            }
            None => targets.push(Target { path, origin, canonical }),
        }
    }
    targets
}
