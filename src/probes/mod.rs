//! Probes gather facts and never print or judge. Each lives in its own module; this one decides which
//! run (the groups selected with `--only`; with FILE arguments and no `--dir`, the run is about the files:
//! no default directories, no locking group) and puts their facts together.

pub mod child;
pub mod env;
pub mod file;
pub mod hdf5;
pub mod holders;
pub mod host;
pub mod lock;
pub mod mounts;
pub mod plugins;
pub mod superblock;
pub mod targets;

use crate::facts::{DirFacts, Facts, ProbeStatus};
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
    /// HDF5 files to examine (`check FILE...`).
    pub files: Vec<PathBuf>,
}

impl ProbeOptions {
    fn wants(&self, group: &str) -> bool {
        if !self.only.is_empty() {
            return self.only.iter().any(|g| g == group);
        }
        match group {
            // The file group needs files; with files and no --dir, the run is about the files alone.
            "file" => !self.files.is_empty(),
            "locking" => self.files.is_empty() || !self.dirs.is_empty(),
            _ => true,
        }
    }

    /// Probe cwd, $HOME, ...: asked for, and not a run about files only.
    fn probes_default_dirs(&self) -> bool {
        self.default_dirs && self.files.is_empty()
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
    for d in &opts.dirs {
        targets::check_explicit(d)?;
    }
    for f in &opts.files {
        file::check_arg(f)?;
    }
    let mut facts = Facts::new();
    facts.host = host::probe();
    facts.env = env::probe();
    facts.groups = GROUPS.iter().map(|(g, _)| g.to_string()).filter(|g| opts.wants(g)).collect();

    let targets = targets::collect(&opts.dirs, opts.probes_default_dirs());
    let needs_dirs = opts.wants("locking") || opts.wants("hdf5");
    for t in targets.iter().filter(|_| needs_dirs) {
        let mut dir = DirFacts {
            path: t.path.display().to_string(),
            origin: t.origin.clone(),
            canonical: t.canonical.clone(),
            ..DirFacts::default()
        };
        match &t.canonical {
            Some(c) if c.is_dir() => {
                dir.filesystem = mounts::probe(c);
                let _span = tracing::debug_span!("lock", dir = %c.display()).entered();
                dir.lock = lock::probe(c, opts.timeout);
                tracing::debug!(status = ?dir.lock.status, "lock probe done");
            }
            _ => {
                dir.lock.status = ProbeStatus::Inconclusive;
                dir.lock.reason = Some(format!("{} ({}) does not exist or is not a directory", t.path.display(), t.origin));
            }
        }
        facts.dirs.push(dir);
    }
    if opts.wants("hdf5") {
        facts.hdf5 = hdf5::probe(&mut facts.dirs, opts.timeout);
    }
    let access = hdf5::ProbeAccess::after(opts.wants("hdf5").then_some(&facts.hdf5));
    if opts.wants("plugins") {
        facts.plugins = plugins::probe(&access, opts.timeout);
    }
    if opts.wants("file") {
        facts.files = opts.files.iter().map(|f| file::examine_with_timeout(f, opts.timeout)).collect();
        file::inspect(&mut facts.files, &access, opts.timeout);
    }
    Ok(facts)
}
