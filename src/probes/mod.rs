//! Probes gather facts and never print or judge. Each group's probe lives in the group's home
//! (`crate::groups::<group>::probe`); this folder holds what several groups share (the probe child's
//! plumbing, the target directories and the per-directory child, host and environment facts) and decides
//! which run (the groups selected with `--only`; with FILE arguments and no `--dir`, the run is about the files:
//! no default directories, no locking group) and puts their facts together.

pub mod child;
pub mod dirs;
pub mod env;
pub mod host;
pub mod slurm_conf;
pub mod targets;

use crate::error::Error;
use crate::facts::Facts;
use crate::groups::file::probe::{self as file, fix_rereads};
use crate::groups::hdf5::probe as hdf5;
use crate::groups::modules::probe as modules;
use crate::groups::plugins::probe as plugins;
use crate::groups::python::probe as python;
use crate::groups::Group;
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
    pub only: Vec<Group>,
    /// `--binary` arguments: files whose shared-library closure the `libraries` group checks.
    pub binaries: Vec<PathBuf>,
    /// Time limit of each risky probe.
    pub timeout: Duration,
    /// `--python` interpreters.
    pub pythons: Vec<PathBuf>,
    /// Also the interpreters a job would find by default (python3/python on PATH, $VIRTUAL_ENV, ...).
    pub default_pythons: bool,
    /// Prove the Python stack with a sandboxed import (off: static diagnosis only).
    pub python_import: bool,
    /// As root, run the `--python` interpreters even though a user could have written them.
    pub allow_exec_as_root: bool,
    /// HDF5 files to examine (`check FILE...`).
    pub files: Vec<PathBuf>,
    /// `--expect-size`: bytes the job means to write in each target directory.
    pub expect_bytes: Option<u64>,
}

/// What `gather` needs of a group's probe, given by the group's home (`groups::<home>::probe::PROBE`).
#[derive(Clone, Copy)]
pub struct GroupProbe {
    /// Whether the group runs when `--only` does not name groups. A run with FILE arguments and no `--dir`
    /// is about the files: a group that is not about them runs then only when asked to (`--python`, ...).
    pub by_default: fn(&ProbeOptions) -> bool,
    pub run: Run,
    /// The other groups whose outcome this group's probe reads when they run beside it (the file and plugins
    /// groups use the HDF5 probe the hdf5 group picked): a re-run that proves one of its fixes runs them too.
    pub reads: &'static [Group],
}

/// How `gather` runs a group's probe.
#[derive(Clone, Copy)]
pub enum Run {
    /// In `gather`'s own sequence, which says why: the group needs another group's outcome or feeds one.
    InSequence,
    /// On a thread of its own, beside the others: it needs no other group. The probe returns how its facts
    /// are put in place, which `gather` does once every probe has ended.
    Alone(fn(&ProbeOptions) -> PlaceFacts),
    /// Never by `check`; `--only` naming the group is refused with this text (what to run instead).
    Elsewhere(&'static str),
}

/// Puts a group's facts in their place in the node's facts.
pub type PlaceFacts = Box<dyn FnOnce(&mut Facts) + Send>;

/// Each group's probe, from its home: an exhaustive `match` built from the registration list
/// (`crate::groups::groups!`), so every group's home must have its `probe::PROBE`.
macro_rules! probe_of_each_group {
    ($($variant:ident => $home:ident,)+) => {
        fn probe_of(group: Group) -> GroupProbe {
            match group {
                $(Group::$variant => crate::groups::$home::probe::PROBE,)+
            }
        }
    };
}
crate::groups::for_each_group!(probe_of_each_group);

/// The other groups whose outcome `group`'s probe reads when they run beside it ([`GroupProbe::reads`]).
pub fn reads(group: Group) -> &'static [Group] {
    probe_of(group).reads
}

impl ProbeOptions {
    /// Whether a group runs: named by `--only`, or (no `--only`) when its home says it runs by default.
    fn wants(&self, group: Group) -> bool {
        if !self.only.is_empty() {
            return self.only.contains(&group);
        }
        (probe_of(group).by_default)(self)
    }

    /// The groups a run gathers (and judges), in their order.
    pub fn groups(&self) -> Vec<Group> {
        Group::all().filter(|g| self.wants(*g)).collect()
    }

    /// Probe cwd, $HOME, ...: asked for, and not a run about files only.
    fn probes_default_dirs(&self) -> bool {
        self.default_dirs && self.files.is_empty()
    }
}

/// A group's result: already there, or from a thread still running.
enum Pending<'scope, T> {
    Done(T),
    Running(std::thread::ScopedJoinHandle<'scope, T>),
}

impl<T> Pending<'_, T> {
    /// The result, once the thread has ended (its panic goes on in this thread).
    fn join(self) -> T {
        match self {
            Pending::Done(out) => out,
            Pending::Running(handle) => handle.join().unwrap_or_else(|p| std::panic::resume_unwind(p)),
        }
    }
}

/// Checks a `--binary` up front: a missing path or a directory is a usage error. A file that is not
/// ELF is not: that is reported for the file (inconclusive), like any other unreadable input.
fn check_binary_arg(path: &std::path::Path) -> Result<(), Error> {
    match std::fs::metadata(path) {
        Ok(m) if m.is_file() => Ok(()),
        Ok(_) => Err(Error::msg(format!("--binary {}: not a file", path.display()))),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Err(Error::msg(format!("--binary {}: no such file", path.display()))),
        Err(e) => Err(Error::msg(format!("--binary {}: {e}", path.display()))),
    }
}

/// Gives waiting imports an empty target list unless they already got theirs (first set wins).
struct ReleaseOnDrop<'a>(&'a python::import_probe::LaterTargets);

impl Drop for ReleaseOnDrop<'_> {
    fn drop(&mut self) {
        self.0.set(Vec::new());
    }
}

/// Runs the selected probes and returns the node's facts.
pub fn gather(opts: &ProbeOptions) -> Result<Facts, Error> {
    gather_meanwhile(opts, || ()).map(|(facts, ())| facts)
}

/// [`gather`], with `meanwhile` run on this thread while the directory probe's child runs (this thread
/// only waits for it then), after this thread's own work there; or in sequence when there is no directory
/// probe. For work of the caller that needs no facts (`check` reads the shipped rules there): no thread
/// of its own to start.
pub fn gather_meanwhile<T>(opts: &ProbeOptions, meanwhile: impl FnOnce() -> T) -> Result<(Facts, T), Error> {
    for &group in &opts.only {
        if let Run::Elsewhere(instead) = probe_of(group).run {
            return Err(Error::msg(format!("--only {group}: {instead}")));
        }
    }
    for b in &opts.binaries {
        check_binary_arg(b)?;
    }
    let pythons = opts
        .pythons
        .iter()
        .map(|p| python::discover::check_explicit(p))
        .collect::<Result<Vec<_>, _>>()?;
    for f in &opts.files {
        file::check_arg(f)?;
    }
    let mut facts = Facts::new();
    facts.groups = opts.groups();

    // The groups are independent of each other but for three orderings kept here: the HDF5 probe creates
    // files only where the lock probe passed, the plugins and file groups read the HDF5 probe's outcome,
    // and the Python imports create files only where the lock probe passed. So the Python group (the
    // slowest: interpreters start and import h5py) starts first and hears its create targets later, the
    // groups that run alone (`Run::Alone`: libraries) and the modules group run in threads of their own,
    // and the directory, HDF5 and plugin probes in this one; the HDF5 probe waits for the modules group
    // when a module is loaded (a loaded HDF5 module picks the probe: hdf5::probe::pick); each probe keeps
    // its own timeout.
    let python_opts = opts.wants(Group::Python).then_some(python::PythonOptions {
        pythons,
        default_pythons: opts.default_pythons,
        import: opts.python_import,
        allow_exec_as_root: opts.allow_exec_as_root,
        timeout: opts.timeout,
    });
    let create_targets = python::import_probe::LaterTargets::default();
    let timed = |name: &'static str, start: std::time::Instant| {
        tracing::info!(group = name, elapsed_ms = start.elapsed().as_millis() as u64, "group done");
    };
    // What the caller's `meanwhile` returned (set once it has run).
    let mut callers: Option<T> = None;
    std::thread::scope(|s| -> Result<(), Error> {
        // Whatever happens below (an error, a panic), the imports waiting for their targets get them.
        let _release = ReleaseOnDrop(&create_targets);
        // Started before the directory probe: the interpreters are asked and import h5py meanwhile, and
        // hear where they may create files once the lock probes have said so.
        let python = python_opts.map(|python_opts| {
            let create_targets = &create_targets;
            s.spawn(move || {
                let start = std::time::Instant::now();
                let out = python::probe(&python_opts, create_targets);
                timed("python", start);
                out
            })
        });
        let alone: Vec<_> = Group::all()
            .filter(|g| opts.wants(*g))
            .filter_map(|group| match probe_of(group).run {
                Run::Alone(run) => Some(s.spawn(move || {
                    let start = std::time::Instant::now();
                    let place = run(opts);
                    timed(group.as_str(), start);
                    place
                })),
                Run::InSequence | Run::Elsewhere(_) => None,
            })
            .collect();
        // The HDF5 probe is picked for the loaded HDF5 module: with a module loaded, the modules group ends
        // before it starts.
        let run_modules = || {
            opts.wants(Group::Modules).then(|| {
                let start = std::time::Instant::now();
                let out = modules::probe(opts.timeout);
                timed("modules", start);
                out
            })
        };
        // On this thread when nothing else runs on it (`--only modules`): a thread of its own would only
        // add its start and a malloc arena of its own, grown a page (one mprotect) at a time.
        let this_thread_idle = !Group::all().any(|g| g != Group::Modules && opts.wants(g) && matches!(probe_of(g).run, Run::InSequence));
        let modules = if !opts.wants(Group::Modules) {
            // Not asked for: no thread to start and end.
            Pending::Done(None)
        } else if this_thread_idle {
            Pending::Done(run_modules())
        } else {
            Pending::Running(s.spawn(run_modules))
        };
        // The pick waits for the modules group only when a module is loaded at all (no loaded module, no
        // loaded HDF5 module: the same pick, made at once).
        let pick_by_modules = opts.wants(Group::Modules) && modules::any_loaded();
        // What this thread does while the directory probe runs (or at once, when there is none): the host
        // and environment facts, and a pick that does not wait for the modules group, whose probe is then
        // vetted for execution as root (its library closure resolved and walked: trust::vet_ahead) here,
        // instead of after the directory probe, on the way to the HDF5 probe's start. The directory probe
        // starts first: its child is the longest step before the HDF5 probe can start.
        let meanwhile = || {
            let host = host::probe();
            let env = env::probe();
            let early_pick = (opts.wants(Group::Hdf5) && !pick_by_modules).then(|| hdf5::pick::choose(None));
            if let Some(Ok((probe, _))) = &early_pick {
                crate::trust::vet_ahead(probe);
            }
            (host, env, early_pick, meanwhile())
        };
        let (early_pick, dirs_child) = if opts.wants(Group::Locking) || opts.wants(Group::Hdf5) || opts.wants(Group::Python) {
            let targets = targets::collect(&opts.dirs, opts.probes_default_dirs());
            tracing::info!(count = targets.len(), "probing target directories");
            let (dirs, (host, env, early_pick, done), answered) =
                dirs::probe_meanwhile(&targets, opts.timeout, opts.expect_bytes, meanwhile)?;
            (facts.dirs, facts.host, facts.env, callers) = (dirs, host, env, Some(done));
            (early_pick, Some(answered))
        } else {
            let (host, env, early_pick, done) = meanwhile();
            (facts.host, facts.env, callers) = (host, env, Some(done));
            (early_pick, None)
        };
        create_targets.set(python::create_targets(&facts.dirs));
        let mut modules = Some(modules);
        if pick_by_modules {
            if let Some(m) = modules.take().and_then(Pending::join) {
                facts.modules = m;
            }
        }
        // The plugins report comes from the HDF5 probe's own run when the environment is the one the
        // plugins probe would have (HDF5_PLUGIN_PATH unset): one HDF5 process start fewer.
        let mut plugins_given = None;
        if opts.wants(Group::Hdf5) {
            let start = std::time::Instant::now();
            let modules = pick_by_modules.then_some(&facts.modules);
            let plugins_too = opts.wants(Group::Plugins) && std::env::var_os("HDF5_PLUGIN_PATH").is_none();
            let picked = early_pick.unwrap_or_else(|| hdf5::pick::choose(modules));
            (facts.hdf5, plugins_given) = hdf5::probe_with_plugins(&mut facts.dirs, picked, opts.timeout, plugins_too);
            tracing::info!(
                status = facts.hdf5.status.as_str(),
                elapsed_ms = start.elapsed().as_millis() as u64,
                "HDF5 probe done"
            );
        }
        let access = hdf5::ProbeAccess::after(opts.wants(Group::Hdf5).then_some(&facts.hdf5));
        if opts.wants(Group::Plugins) {
            let start = std::time::Instant::now();
            facts.plugins = plugins::probe_given(&access, opts.timeout, plugins_given);
            timed("plugins", start);
        }
        if opts.wants(Group::File) {
            facts.files = opts.files.iter().map(|f| file::examine_with_timeout(f, opts.timeout)).collect();
            file::inspect(&mut facts.files, &access, opts.timeout);
            // Fixes proven by re-reading with them applied.
            facts.host.open_files_rereads = fix_rereads::open_files(&facts, &access, opts.timeout);
            fix_rereads::vds_prefix(&mut facts.files, &access, opts.timeout);
        }
        if let Some(m) = modules.and_then(Pending::join) {
            facts.modules = m;
        }
        for handle in alone {
            let place = handle.join().unwrap_or_else(|p| std::panic::resume_unwind(p));
            place(&mut facts);
        }
        if let Some(handle) = python {
            facts.python = handle.join().unwrap_or_else(|p| std::panic::resume_unwind(p));
        }
        // The directory probe ended long ago; it is reaped only now, so that the HDF5 probe did not wait for
        // its record janitor.
        if let Some(answered) = dirs_child {
            answered.reap();
        }
        Ok(())
    })?;
    if opts.wants(Group::Modules) && opts.wants(Group::Libraries) {
        // lib-version-missing's fix: which module's copy of a library defines the versions a binary lacks
        // (after both groups).
        modules::read_library_versions(&mut facts.modules, &facts.libraries);
    }
    if opts.wants(Group::File) {
        // file-format-too-new's fix: the newest HDF5 an examined interpreter's h5py bundles (after the
        // Python group).
        let native = facts.hdf5.library.as_ref().map(|l| l.version.clone());
        fix_rereads::newer_reader(&mut facts.files, &facts.python, native.as_deref(), opts.timeout);
    }
    let done = callers.expect("gather ran the caller's work");
    Ok((facts, done))
}
