//! Probes gather facts and never print or judge. Each lives in its own module; this one decides which
//! run (the groups selected with `--only`) and puts their facts together.

pub mod child;
pub mod dirs;
pub mod env;
pub mod hdf5;
pub mod host;
pub mod lock;
pub mod mounts;
pub mod targets;

use crate::facts::Facts;
use crate::rules::GROUPS;
use crate::Error;
use std::path::PathBuf;
use std::time::Duration;

/// What to probe and how patiently.
#[derive(Debug, Clone)]
pub struct ProbeOptions {
    /// `--dir` arguments.
    pub dirs: Vec<PathBuf>,
    /// Also probe cwd, $HOME, $TMPDIR and the scratch variables.
    pub default_dirs: bool,
    /// Groups to run; empty means all.
    pub only: Vec<String>,
    /// Time limit of each risky probe.
    pub timeout: Duration,
}

impl ProbeOptions {
    fn wants(&self, group: &str) -> bool {
        self.only.is_empty() || self.only.iter().any(|g| g == group)
    }
}

/// Validates `--only` names against the known groups.
pub fn check_groups(only: &[String]) -> Result<(), Error> {
    for g in only {
        if !GROUPS.iter().any(|(name, _)| name == g) {
            let known: Vec<_> = GROUPS.iter().map(|(n, _)| *n).collect();
            return Err(Error::msg(format!("--only {g}: unknown group (known: {})", known.join(", "))));
        }
    }
    Ok(())
}

/// Runs the selected probes and returns the node's facts.
pub fn gather(opts: &ProbeOptions) -> Result<Facts, Error> {
    check_groups(&opts.only)?;
    let mut facts = Facts::new();
    facts.host = host::probe();
    facts.env = env::probe();
    facts.groups = GROUPS.iter().map(|(g, _)| g.to_string()).filter(|g| opts.wants(g)).collect();

    if opts.wants("locking") || opts.wants("hdf5") {
        let targets = targets::collect(&opts.dirs, opts.default_dirs);
        tracing::info!(count = targets.len(), "probing target directories");
        facts.dirs = dirs::probe(&targets, opts.timeout)?;
    }
    if opts.wants("hdf5") {
        let start = std::time::Instant::now();
        facts.hdf5 = hdf5::probe(&mut facts.dirs, opts.timeout);
        tracing::info!(
            status = facts.hdf5.status.as_str(),
            elapsed_ms = start.elapsed().as_millis() as u64,
            "HDF5 probe done"
        );
    }
    Ok(facts)
}
