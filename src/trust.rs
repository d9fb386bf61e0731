//! Safe as root: when h5doctor runs with effective uid 0 (a Slurm prolog, a node health check, `sudo`), it
//! executes nothing that a non-root user could have written. Every program, interpreter, shim, probe binary,
//! module command and modulefile h5doctor would run or evaluate goes through [`vet_command`] (programs) or
//! [`trusted_for_root`] (any file it evaluates), which check, like sshd's StrictModes, the owner and write
//! bits of the file and of every directory above it, following symlinks component by component (the
//! symlinks themselves and every directory on the way to their target are checked too).
//!
//! A path is trusted when every component is owned by root and writable by nobody else: not group-writable
//! (unless the group is root's), not world-writable (a world-writable directory with the sticky bit, such
//! as /tmp, passes, because the entries below it are checked for their own owner). For a script the
//! interpreter on its `#!` line is checked the same way (and the program `env` looks up on PATH); for every
//! program the directories in `LD_PRELOAD` and `LD_LIBRARY_PATH`, and for a Python interpreter those in
//! `PYTHONPATH`, `PYTHONHOME` and `PYTHONUSERBASE`, because the program would load code from there.
//!
//! What a program loads is checked as well, because root would run that code too: for an ELF program (or
//! the ELF interpreter of a script) every library of its start-up closure, as h5doctor's resolver finds
//! them (`crate::elf`), and every directory of every object's RPATH and RUNPATH (`$ORIGIN` expanded); for
//! a Python interpreter its site directories (the prefix's, a venv's, and the user site unless `-s`, `-I`
//! or PYTHONNOUSERSITE turns it off), every `.pth` file in them and every directory a `.pth` file adds.
//!
//! One verdict (one [`vet_command`]) walks each path component once: the components that passed are
//! remembered for the rest of that verdict ([`Vetting`]; why that neither hides an unsafe component nor
//! widens the window between check and use is in its doc), so the ~50 libraries of a program's closure do
//! not each walk `/usr/lib/x86_64-linux-gnu` and its parents again.
//!
//! The library half of a verdict is kept longer: for the rest of the run, per program file and loader
//! variables (`LIBRARY_VERDICTS`), because h5doctor starts the same probe many times (and vets it ahead on
//! another thread, [`vet_ahead`]) and each start would resolve the same closure again; the closure itself
//! is resolved once and read by both verdicts that need it ([`startup_closure`]). That is sound by
//! [`Vetting`]'s argument, applied to everything a kept verdict read:
//! - A kept pass stands on paths that all passed: the program file (which every verdict checks again
//!   before it reaches the closure), every object of the closure, and every directory of every RPATH and
//!   RUNPATH (a missing one only when no one but root can create it). Once passed, no non-root user can
//!   change, replace or add to any of them, so none can change which files the loader maps, or make one
//!   of them fail.
//! - The rest of the loader's input is in the key or is root's own. LD_LIBRARY_PATH and LD_PRELOAD are the
//!   key, and every verdict checks their directories afresh. /etc/ld.so.cache, /etc/ld.so.preload and the
//!   default directories are root's; no verdict checks them, kept or not (a library found through them is
//!   checked like any other). The working directory, which an empty or relative RPATH element names, is
//!   h5doctor's own, which it never changes (its children inherit it or start in `/`).
//! - A kept failure can only refuse again; it never lets an untrusted program run.
//!
//! What the longer life gives up, compared with a [`Vetting`] (one verdict): a change that root itself
//! makes to a kept closure while h5doctor runs (a library handed to a user, a directory made
//! group-writable) is seen by the next run, not by the next start in this one.
//!
//! HDF5 in a child dlopens (runs) the filter, VOL and VFD plugins of the HDF5_PLUGIN_PATH directories or,
//! when that is unset, of the directories compiled into the library: as root, those another user could
//! have written are kept out of the child's search ([`confine_plugin_path`]).
//!
//! A program that fails is not run: the caller records the [`UntrustedReason`] ("not run as root:
//! /home/u/venv/bin/python is writable by uid 1000") as the reason of an inconclusive result. A program the
//! admin named on the command line with `--allow-exec-as-root` is exempt from the file check (see
//! [`allow_exec_as_root`]); the environment check still applies.

use std::ffi::{OsStr, OsString};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, Mutex};

use crate::elf::{LoaderConfig, Resolution};

mod plugin_defaults;

pub use crate::ownership::{may_use, running_as_root, trusted_for_root, UntrustedReason, Vetting};
pub use plugin_defaults::DefaultPluginDirs;

/// Programs named on the command line that the admin allowed to run as root (`--allow-exec-as-root`).
static ALLOWED: Mutex<Vec<PathBuf>> = Mutex::new(Vec::new());

/// Allows `path` (as given, and its real file) to be executed as root although it is not trusted.
pub fn allow_exec_as_root(path: &Path) {
    let mut allowed = ALLOWED.lock().unwrap_or_else(|e| e.into_inner());
    allowed.push(path.to_path_buf());
    if let Ok(real) = std::fs::canonicalize(path) {
        allowed.push(real);
    }
}

fn is_allowed(path: &Path) -> bool {
    let allowed = ALLOWED.lock().unwrap_or_else(|e| e.into_inner());
    if allowed.is_empty() {
        // Nothing allowed (the usual case): no need to resolve the path (a readlink per component).
        return false;
    }
    allowed.iter().any(|a| a == path) || std::fs::canonicalize(path).is_ok_and(|real| allowed.contains(&real))
}

/// The interpreter line of a script: the interpreter and its first argument (`#!/usr/bin/env bash`).
fn shebang(path: &Path) -> Option<(PathBuf, Option<OsString>)> {
    use std::io::Read;
    let mut head = [0u8; 256];
    let mut file = std::fs::File::open(path).ok()?;
    let n = file.read(&mut head).ok()?;
    let line = head[..n].strip_prefix(b"#!")?;
    let line = &line[..line.iter().position(|&b| b == b'\n').unwrap_or(line.len())];
    let mut words = line
        .split(|b| *b == b' ' || *b == b'\t')
        .filter(|w| !w.is_empty())
        .map(|w| OsStr::from_bytes(w).to_os_string());
    let interpreter = PathBuf::from(words.next()?);
    Some((interpreter, words.next()))
}

/// The value `cmd` gives variable `name` in its child: its own setting, or this process's.
fn child_var(cmd: &Command, name: &str) -> Option<OsString> {
    match cmd.get_envs().find(|(k, _)| *k == OsStr::new(name)) {
        Some((_, value)) => value.map(OsStr::to_os_string),
        None => std::env::var_os(name),
    }
}

/// Finds `name` on the child's PATH, as `execvp` and `env` do.
fn on_child_path(cmd: &Command, name: &OsStr) -> Option<PathBuf> {
    let path = child_var(cmd, "PATH")?;
    std::env::split_paths(&path).map(|d| d.join(name)).find(|p| p.is_file())
}

/// Whether a program is a Python interpreter (or a shim or wrapper named like one).
fn is_python(program: &Path) -> bool {
    let named = |p: &Path| p.file_name().is_some_and(|n| n.as_bytes().starts_with(b"python"));
    named(program) || std::fs::canonicalize(program).is_ok_and(|real| named(&real))
}

/// Checks the file of a program and, for a script, its interpreter line (following `env NAME` on the
/// child's PATH), up to a few levels of scripts.
fn vet_program(cmd: &Command, program: &Path, vetting: &mut Vetting) -> Result<(), UntrustedReason> {
    let mut file = program.to_path_buf();
    for _ in 0..4 {
        if file == program && is_allowed(program) {
            // The admin vouched for this one; its interpreter line is still checked.
        } else {
            vetting.trusted_for_root(&file).map_err(|mut r| {
                if file != program {
                    r.detail = format!("(the interpreter of {}) {}", program.display(), r.detail);
                }
                r
            })?;
        }
        let Some((interpreter, first_arg)) = shebang(&file) else {
            // Not a script: an ELF file, whose libraries and library paths root would load too.
            if !(file == program && is_allowed(program)) {
                vet_libraries(cmd, program, &file, vetting)?;
            }
            return Ok(());
        };
        file = if interpreter.file_name() == Some(OsStr::new("env")) {
            vetting.trusted_for_root(&interpreter)?;
            let Some(name) = first_arg.filter(|a| !a.as_bytes().starts_with(b"-")) else {
                return Ok(());
            };
            match on_child_path(cmd, &name) {
                Some(found) => found,
                None => {
                    return Err(UntrustedReason {
                        path: program.to_path_buf(),
                        detail: format!("names {} on its #! line, which is not on PATH", name.to_string_lossy()),
                    })
                }
            }
        } else {
            interpreter
        };
    }
    Ok(())
}

/// Checks the directories a variable makes the program load code from.
fn vet_search_path(cmd: &Command, program: &Path, var: &str, separator: u8, vetting: &mut Vetting) -> Result<(), UntrustedReason> {
    let Some(value) = child_var(cmd, var) else {
        return Ok(());
    };
    for entry in value.as_bytes().split(|b| *b == separator) {
        let entry = Path::new(OsStr::from_bytes(entry));
        if entry.as_os_str().is_empty() {
            continue;
        }
        // A directory that does not exist loads nothing, unless a user can create it: the walk says which.
        if let Err(r) = vetting.trusted_for_root(entry) {
            return Err(UntrustedReason {
                path: program.to_path_buf(),
                detail: format!("would load code from {var} entry {}, which {}", entry.display(), r.detail),
            });
        }
    }
    Ok(())
}

/// Why a plugin directory may not be searched by HDF5 as root: it, or a plugin library in it, could have
/// been written by another user (loading a library runs its constructor). `None` when it may (always, when
/// not root). A directory that does not exist passes only when nobody but root could create it.
pub fn plugin_dir_refusal(dir: &str) -> Option<String> {
    may_use(Path::new(dir)).err().map(|r| r.to_string()).or_else(|| {
        std::fs::read_dir(dir)
            .into_iter()
            .flatten()
            .filter_map(Result::ok)
            .filter(|e| e.file_name().to_string_lossy().starts_with("lib") && e.file_name().to_string_lossy().contains(".so"))
            .find_map(|e| may_use(&e.path()).err().map(|r| r.to_string()))
    })
}

/// The directories of an HDF5_PLUGIN_PATH value, in order (empty entries are skipped, as HDF5 does).
pub fn split_plugin_path(value: &str) -> Vec<String> {
    value.split(':').filter(|d| !d.is_empty()).map(str::to_string).collect()
}

/// As root, the HDF5_PLUGIN_PATH directories ([`split_plugin_path`]) that HDF5 must not search, each with
/// [`plugin_dir_refusal`]'s reason; empty when not root.
pub fn refused_plugin_dirs(plugin_path: &OsStr) -> Vec<(String, String)> {
    if !running_as_root() {
        return Vec::new();
    }
    split_plugin_path(&String::from_utf8_lossy(plugin_path.as_bytes()))
        .into_iter()
        .filter_map(|d| plugin_dir_refusal(&d).map(|why| (d, why)))
        .collect()
}

/// As root, the plugin directories HDF5 in `program` started with h5doctor's own environment does not
/// search ([`confine_plugin_path`]), with the reasons: HDF5_PLUGIN_PATH's ([`refused_plugin_dirs`]), or
/// when it is unset the library's default ones ([`default_plugin_dirs`]).
pub fn refused_plugin_dirs_for(program: &Path) -> Vec<(String, String)> {
    match std::env::var_os("HDF5_PLUGIN_PATH") {
        Some(v) => refused_plugin_dirs(&v),
        None => default_plugin_dirs(&Command::new(program)).refused,
    }
}

/// As root, the compiled-in default plugin directories of the HDF5 `cmd`'s program would load
/// ([`plugin_defaults`]), split by [`plugin_dir_refusal`]; empty for other users and for a program
/// without HDF5 or not found.
pub fn default_plugin_dirs(cmd: &Command) -> DefaultPluginDirs {
    if !running_as_root() {
        return DefaultPluginDirs::default();
    }
    program_of(cmd).map(|p| plugin_defaults::split(cmd, &p)).unwrap_or_default()
}

/// As root, for a child whose HDF5_PLUGIN_PATH is unset: when one of the default plugin directories of
/// its HDF5 ([`default_plugin_dirs`]) could have been written by another user, HDF5_PLUGIN_PATH is set to
/// those that pass (HDF5 then searches only these), and with none left, to nothing, with
/// HDF5_PLUGIN_PRELOAD="::" as well (h5doctor-probe's `plugins` lists the default directories only while
/// the variable is unset). A no-op when every default directory passes.
fn confine_default_plugin_dirs(cmd: &mut Command) {
    let dirs = default_plugin_dirs(cmd);
    if dirs.refused.is_empty() {
        return;
    }
    cmd.env("HDF5_PLUGIN_PATH", dirs.kept.join(":"));
    if dirs.kept.is_empty() {
        cmd.env("HDF5_PLUGIN_PRELOAD", "::");
    }
}

/// The program `cmd` runs: the path given, or a bare name found on the child's PATH.
fn program_of(cmd: &Command) -> Result<PathBuf, UntrustedReason> {
    let given = Path::new(cmd.get_program());
    if given.components().count() == 1 && !given.as_os_str().as_bytes().starts_with(b".") {
        on_child_path(cmd, given.as_os_str()).ok_or_else(|| UntrustedReason {
            path: given.to_path_buf(),
            detail: "is not on PATH".into(),
        })
    } else {
        Ok(given.to_path_buf())
    }
}

/// As root, keeps HDF5 in the child from loading (running) a filter, VOL or VFD plugin that another user
/// could have written: HDF5 dlopens every `lib*.so` of an HDF5_PLUGIN_PATH directory on demand, when a
/// dataset needs a filter it does not have (a read, H5Zfilter_avail) or a connector is named. The child's
/// HDF5_PLUGIN_PATH keeps only the directories that pass [`plugin_dir_refusal`]; when none does,
/// HDF5_PLUGIN_PRELOAD="::" (HDF5's documented switch) turns plugin loading off, the default directory
/// included. Unset, the same holds for the library's compiled-in default directories
/// ([`confine_default_plugin_dirs`]). A no-op for other users and when every directory passes. The groups
/// that read datasets say which directories were skipped and why ([`refused_plugin_dirs_for`]).
pub fn confine_plugin_path(cmd: &mut Command) {
    let Some(value) = child_var(cmd, "HDF5_PLUGIN_PATH") else {
        return confine_default_plugin_dirs(cmd);
    };
    let refused = refused_plugin_dirs(&value);
    if refused.is_empty() {
        return;
    }
    let kept: Vec<String> = split_plugin_path(&String::from_utf8_lossy(value.as_bytes()))
        .into_iter()
        .filter(|d| !refused.iter().any(|(r, _)| r == d))
        .collect();
    if kept.is_empty() {
        cmd.env_remove("HDF5_PLUGIN_PATH").env("HDF5_PLUGIN_PRELOAD", "::");
    } else {
        cmd.env("HDF5_PLUGIN_PATH", kept.join(":"));
    }
}

/// The one gate every execution goes through: when running as root, refuses a program (and the code its
/// environment makes it load) that a non-root user could have written. A no-op for other users.
pub fn vet_command(cmd: &Command) -> Result<(), UntrustedReason> {
    if !running_as_root() {
        return Ok(());
    }
    let program = program_of(cmd)?;
    // One vetting for the whole verdict: a component that passed is not looked at again (ownership::Vetting).
    let mut vetting = Vetting::default();
    vet_program(cmd, &program, &mut vetting)?;
    vet_search_path(cmd, &program, "LD_LIBRARY_PATH", b':', &mut vetting)?;
    // LD_PRELOAD takes file names separated by spaces or colons.
    vet_search_path(cmd, &program, "LD_PRELOAD", b' ', &mut vetting)?;
    if child_var(cmd, "LD_PRELOAD").is_some_and(|v| v.as_bytes().contains(&b':')) {
        vet_search_path(cmd, &program, "LD_PRELOAD", b':', &mut vetting)?;
    }
    if is_python(&program) {
        for var in ["PYTHONPATH", "PYTHONHOME", "PYTHONUSERBASE"] {
            vet_search_path(cmd, &program, var, b':', &mut vetting)?;
        }
        if !is_allowed(&program) {
            vet_python_site(cmd, &program, &mut vetting)?;
        }
    }
    Ok(())
}

/// [`vet_command`] for `program` started with h5doctor's own environment, the verdict dropped: what costs
/// (the resolver's walk of the library closure, [`vet_libraries`]) is kept for the real start, whose
/// loader variables are the same unless its command sets them, so a caller can pay it on another thread
/// while it waits for something else. The real start is vetted again as every start is, all but the
/// library closure's verdict, which it finds kept (why that is sound: the module doc).
pub fn vet_ahead(program: &Path) {
    let _ = vet_command(&Command::new(program));
}

/// What a result kept for the run depends on besides root's own files: an ELF file (or h5py module), and
/// the LD_LIBRARY_PATH and LD_PRELOAD it is loaded with.
type LoaderKey = (PathBuf, Option<String>, Option<String>);

/// `table`'s value for `key`: the one kept, or `compute`'s, kept from now on for the run. The table is not
/// locked while `compute` runs (two threads asking at once may both compute; they find the same).
fn kept<V: Clone>(table: &Mutex<Vec<(LoaderKey, V)>>, key: LoaderKey, compute: impl FnOnce(&LoaderKey) -> V) -> V {
    let known = table
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .iter()
        .find(|(k, _)| *k == key)
        .map(|(_, v)| v.clone());
    known.unwrap_or_else(|| {
        let value = compute(&key);
        table.lock().unwrap_or_else(|e| e.into_inner()).push((key, value.clone()));
        value
    })
}

/// What [`vet_libraries`] found for a program file and loader environment, kept for the run (the resolver
/// reads a dozen files; h5doctor starts the same programs many times). Why a kept verdict is as good as a
/// new one, and what it does not see, is in the module doc.
static LIBRARY_VERDICTS: Mutex<Vec<(LoaderKey, Result<(), String>)>> = Mutex::new(Vec::new());

/// Checks what the dynamic loader would load for the ELF `file` (the program, or the interpreter of the
/// script `program`) in the child's environment: every object of the start-up closure must be trusted,
/// and so must every directory its RPATH or RUNPATH names, since the loader searches them (a library
/// planted there later would load as root).
fn vet_libraries(cmd: &Command, program: &Path, file: &Path, vetting: &mut Vetting) -> Result<(), UntrustedReason> {
    let var = |name: &str| child_var(cmd, name).map(|v| v.to_string_lossy().into_owned());
    let key = (file.to_path_buf(), var("LD_LIBRARY_PATH"), var("LD_PRELOAD"));
    let verdict = kept(&LIBRARY_VERDICTS, key, |(_, ld_library_path, ld_preload)| {
        library_verdict(file, ld_library_path.clone(), ld_preload.clone(), vetting)
    });
    verdict.map_err(|detail| UntrustedReason {
        path: program.to_path_buf(),
        detail,
    })
}

/// Start-up closures resolved, per (ELF file, LD_LIBRARY_PATH, LD_PRELOAD), for the run.
static CLOSURES: Mutex<Vec<(LoaderKey, Arc<Resolution>)>> = Mutex::new(Vec::new());

/// The start-up closure of the ELF `file` as the loader would map it with these variables, resolved once
/// per run for the two verdicts that read it: the library verdict ([`vet_libraries`]) and the default plugin
/// directories of its HDF5 ([`plugin_defaults`]). It reads which files the loader maps and from where, which
/// no symbol version decides, so no version tables are read. Kept for the run like those verdicts (why that
/// is sound: the module doc).
fn startup_closure(file: &Path, ld_library_path: Option<String>, ld_preload: Option<String>) -> Arc<Resolution> {
    use crate::elf::{resolve, FileCache};
    kept(
        &CLOSURES,
        (file.to_path_buf(), ld_library_path, ld_preload),
        |(file, ld_library_path, ld_preload)| {
            let cfg = LoaderConfig::with_vars(ld_library_path.clone(), ld_preload.clone());
            Arc::new(resolve(&file.to_string_lossy(), &cfg, &FileCache::without_versions()))
        },
    )
}

fn library_verdict(file: &Path, ld_library_path: Option<String>, ld_preload: Option<String>, vetting: &mut Vetting) -> Result<(), String> {
    let cfg = LoaderConfig::with_vars(ld_library_path.clone(), ld_preload.clone());
    let resolution = startup_closure(file, ld_library_path, ld_preload);
    for node in &resolution.objects {
        let object = Path::new(&node.path);
        if object != file {
            vetting
                .trusted_for_root(object)
                .map_err(|r| format!("would load {}, which {}", node.path, r.detail))?;
        }
        let elf = &node.file.elf;
        let origin = cfg.origin_of(&node.path);
        for (tag, lists) in [("RPATH", &elf.rpath), ("RUNPATH", &elf.runpath)] {
            for list in lists {
                for (template, dir) in cfg.split_dirs(list, origin.as_deref()) {
                    // An empty element is the working directory.
                    let dir = match dir.trim_end_matches('/') {
                        "" if dir.is_empty() => cfg.cwd.clone(),
                        "" => PathBuf::from("/"),
                        trimmed => PathBuf::from(trimmed),
                    };
                    if let Err(r) = vetting.trusted_for_root(&dir) {
                        let expanded = if Path::new(&template) == dir {
                            String::new()
                        } else {
                            format!(" ({})", dir.display())
                        };
                        return Err(format!(
                            "would load libraries from the {tag} entry {template}{expanded} of {}, which {}",
                            node.path, r.detail
                        ));
                    }
                }
            }
        }
    }
    Ok(())
}

/// Whether the Python started by `cmd` skips the user site: `-s` or `-I` among its leading options, or
/// PYTHONNOUSERSITE set.
fn user_site_disabled(cmd: &Command) -> bool {
    if child_var(cmd, "PYTHONNOUSERSITE").is_some_and(|v| !v.is_empty()) {
        return true;
    }
    cmd.get_args()
        .map(OsStr::as_bytes)
        .take_while(|a| a.starts_with(b"-") && !a.starts_with(b"--") && *a != b"-c" && *a != b"-m")
        .any(|a| a[1..].iter().any(|c| *c == b's' || *c == b'I'))
}

/// The `site-packages` and `dist-packages` directories under `prefix` (lib, lib64 and local/lib, each
/// `python*`), as CPython's `site` (and Debian's patch of it) adds them.
fn site_dirs(prefix: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for lib in ["lib", "lib64", "local/lib"] {
        let Ok(entries) = std::fs::read_dir(prefix.join(lib)) else {
            continue;
        };
        let mut versions: Vec<PathBuf> = entries
            .flatten()
            .filter(|e| e.file_name().as_bytes().starts_with(b"python"))
            .map(|e| e.path())
            .collect();
        versions.sort();
        for v in versions {
            out.extend(
                ["site-packages", "dist-packages"]
                    .map(|s| v.join(s))
                    .into_iter()
                    .filter(|d| d.is_dir()),
            );
        }
    }
    out
}

/// The site directories the interpreter `program` processes at start-up, found without running it: its
/// installation's (from the real file, `<prefix>/bin/python`), a venv's (pyvenv.cfg next to `bin/` of
/// the path as named) and, unless turned off, the user site under PYTHONUSERBASE or `$HOME/.local`
/// (returned as the base, which need not exist).
fn python_site_dirs(cmd: &Command, program: &Path) -> (Vec<PathBuf>, Option<PathBuf>) {
    let mut prefixes: Vec<PathBuf> = Vec::new();
    if let Some(venv) = program.parent().and_then(Path::parent).filter(|p| p.join("pyvenv.cfg").is_file()) {
        prefixes.push(venv.to_path_buf());
    }
    if let Some(prefix) = std::fs::canonicalize(program)
        .ok()
        .as_deref()
        .and_then(Path::parent)
        .and_then(Path::parent)
    {
        prefixes.push(prefix.to_path_buf());
    }
    prefixes.dedup();
    let mut dirs: Vec<PathBuf> = prefixes.iter().flat_map(|p| site_dirs(p)).collect();
    let user_base = (!user_site_disabled(cmd))
        .then(|| {
            child_var(cmd, "PYTHONUSERBASE")
                .filter(|v| !v.is_empty())
                .map(PathBuf::from)
                .or_else(|| {
                    child_var(cmd, "HOME")
                        .filter(|h| !h.is_empty())
                        .map(|h| PathBuf::from(h).join(".local"))
                })
        })
        .flatten();
    if let Some(base) = &user_base {
        dirs.extend(site_dirs(base));
    }
    dirs.dedup();
    (dirs, user_base)
}

/// Checks the site directories of a Python interpreter, the `.pth` files in them (`site` runs their
/// `import` lines) and the directories those add to `sys.path`.
fn vet_python_site(cmd: &Command, program: &Path, vetting: &mut Vetting) -> Result<(), UntrustedReason> {
    let refuse = |detail: String| UntrustedReason {
        path: program.to_path_buf(),
        detail,
    };
    let (dirs, user_base) = python_site_dirs(cmd, program);
    if let Some(base) = &user_base {
        // Missing, it is still the place a user could fill (a HOME that is a user's own).
        vetting.trusted_for_root(base).map_err(|r| {
            refuse(format!(
                "would load code from the user site under {}, which {}",
                base.display(),
                r.detail
            ))
        })?;
    }
    for dir in dirs {
        vetting.trusted_for_root(&dir).map_err(|r| {
            refuse(format!(
                "would load code from its site directory {}, which {}",
                dir.display(),
                r.detail
            ))
        })?;
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        let mut pth: Vec<PathBuf> = entries
            .flatten()
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|e| e == "pth"))
            .collect();
        pth.sort();
        for file in pth {
            vetting
                .trusted_for_root(&file)
                .map_err(|r| refuse(format!("would run the .pth file {}, which {}", file.display(), r.detail)))?;
            let Ok(text) = std::fs::read(&file) else {
                continue;
            };
            for line in text.split(|b| *b == b'\n') {
                let line = line.trim_ascii_end();
                if line.is_empty() || line.starts_with(b"#") || line.starts_with(b"import ") || line.starts_with(b"import\t") {
                    continue;
                }
                let added = dir.join(OsStr::from_bytes(line));
                vetting.trusted_for_root(&added).map_err(|r| {
                    refuse(format!(
                        "would add {} to sys.path (named by {}), which {}",
                        added.display(),
                        file.display(),
                        r.detail
                    ))
                })?;
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plugin_path_splits_like_hdf5() {
        assert_eq!(split_plugin_path("/a::/b:"), vec!["/a".to_string(), "/b".to_string()]);
        assert!(split_plugin_path("").is_empty());
    }

    #[test]
    fn a_shebang_gives_interpreter_and_first_argument() {
        let dir = tempfile::tempdir().unwrap();
        let script = dir.path().join("s");
        std::fs::write(&script, "#!/usr/bin/env  bash -e\necho\n").unwrap();
        assert_eq!(
            shebang(&script),
            Some((PathBuf::from("/usr/bin/env"), Some(OsString::from("bash"))))
        );
        std::fs::write(&script, "\x7fELF").unwrap();
        assert_eq!(shebang(&script), None);
    }
}
