//! Target directories: where the job will write. The current directory, $HOME, $TMPDIR, the scratch and
//! burst-buffer variables sites set ($SCRATCH, $PSCRATCH, $CSCRATCH, $DW_JOB_STRIPED, $DW_JOB_PRIVATE)
//! and every `--dir`. Only names are collected here: touching the directories (which can hang on a dead
//! mount) is left to the directory probe child (`probes::dirs`).

use std::path::PathBuf;

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
    /// Why it is a target: `cwd`, `$HOME`, `--dir`, ...
    pub origin: String,
    /// Given with `--dir`: a missing path is a usage error rather than an inconclusive result.
    pub explicit: bool,
}

/// The targets of this run, in order, without repeating a path spelt the same way.
pub fn collect(explicit: &[PathBuf], defaults: bool) -> Vec<Target> {
    let mut targets: Vec<Target> = Vec::new();
    let mut add = |path: PathBuf, origin: String, explicit: bool| match targets.iter_mut().find(|t| t.path == path) {
        Some(t) => {
            t.explicit |= explicit;
            if !t.origin.split(", ").any(|o| o == origin) {
                t.origin = format!("{}, {origin}", t.origin);
            }
        }
        None => targets.push(Target { path, origin, explicit }),
    };
    if defaults {
        if let Ok(cwd) = std::env::current_dir() {
            add(cwd, "cwd".into(), false);
        }
        for var in DIR_VARS {
            if let Some(v) = std::env::var_os(var).filter(|v| !v.is_empty()) {
                add(PathBuf::from(v), format!("${var}"), false);
            }
        }
    }
    for p in explicit {
        add(p.clone(), "--dir".into(), true);
    }
    targets
}
