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
//! A program that fails is not run: the caller records the [`UntrustedReason`] ("not run as root:
//! /home/u/venv/bin/python is writable by uid 1000") as the reason of an inconclusive result. A program the
//! admin named on the command line with `--allow-exec-as-root` is exempt from the file check (see
//! [`allow_exec_as_root`]); the environment check still applies.

use std::ffi::{OsStr, OsString};
use std::fmt;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::MetadataExt;
use std::path::{Component, Path, PathBuf};
use std::process::Command;
use std::sync::Mutex;

/// Why a file may not be executed (or evaluated) as root. Displays as "not run as root: PATH DETAIL".
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UntrustedReason {
    /// The program or file h5doctor wanted to run or evaluate.
    pub path: PathBuf,
    /// What makes it untrusted, e.g. "is writable by uid 1000".
    pub detail: String,
}

impl fmt::Display for UntrustedReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "not run as root: {} {}", self.path.display(), self.detail)
    }
}

impl std::error::Error for UntrustedReason {}

/// Whether this process runs with effective uid 0, the only case in which anything here refuses.
pub fn running_as_root() -> bool {
    // SAFETY: geteuid(2) has no preconditions and cannot fail.
    unsafe { libc::geteuid() == 0 }
}

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
    allowed.iter().any(|a| a == path) || std::fs::canonicalize(path).is_ok_and(|real| allowed.contains(&real))
}

/// How many symlinks one path may traverse (the kernel's own limit).
const MAX_SYMLINKS: usize = 40;

/// The write bits that matter: group and other, and the sticky bit of directories.
const GROUP_WRITE: u32 = 0o020;
const OTHER_WRITE: u32 = 0o002;
const STICKY: u32 = 0o1000;

/// Checks one component (already `lstat`ed): owner root, not writable by a group other than root's, not
/// writable by everyone (unless a sticky directory). Symlinks have no meaningful mode: only the owner.
fn check_component(component: &Path, meta: &std::fs::Metadata) -> Result<(), String> {
    let what = if component.as_os_str().is_empty() {
        Path::new("/")
    } else {
        component
    };
    let mode = meta.mode();
    if meta.uid() != 0 {
        return Err(format!("is writable by uid {}{}", meta.uid(), through(what, "owned by it")));
    }
    if meta.file_type().is_symlink() {
        return Ok(());
    }
    if mode & GROUP_WRITE != 0 && meta.gid() != 0 {
        return Err(format!("is writable by group {}{}", meta.gid(), through(what, "group-writable")));
    }
    if mode & OTHER_WRITE != 0 && !(meta.is_dir() && mode & STICKY != 0) {
        return Err(format!("is writable by every user{}", through(what, "world-writable")));
    }
    Ok(())
}

/// The marker "({what} is {how})" that names the component at fault; filled in by [`walk`] with the
/// component, and dropped when the component is the file itself.
fn through(component: &Path, how: &str) -> String {
    format!("\u{0}{}\u{0}{how}", component.display())
}

/// Turns a detail with a [`through`] marker into text: "is writable by uid 1000 (/home/u is owned by it)",
/// or without the parenthesis when the component at fault is the file itself.
fn finish(detail: String, file: &Path) -> String {
    let mut parts = detail.splitn(3, '\u{0}');
    let head = parts.next().unwrap_or_default().to_string();
    match (parts.next(), parts.next()) {
        (Some(component), Some(how)) if Path::new(component) != file => format!("{head} ({component} is {how})"),
        _ => head,
    }
}

/// Walks `path` from `/`, component by component, `lstat`ing and checking each, following symlinks (whose
/// targets are walked the same way). Returns the real file at the end.
fn walk(path: &Path) -> Result<PathBuf, String> {
    let absolute = if path.is_absolute() {
        path.to_path_buf()
    } else {
        std::env::current_dir()
            .map_err(|e| format!("cannot be located (no working directory: {e})"))?
            .join(path)
    };
    // Components still to walk, last first.
    let mut todo: Vec<OsString> = absolute
        .components()
        .rev()
        .filter_map(|c| match c {
            Component::Normal(n) => Some(n.to_os_string()),
            Component::ParentDir => Some(OsString::from("..")),
            _ => None,
        })
        .collect();
    let mut here = PathBuf::from("/");
    let root = std::fs::symlink_metadata("/").map_err(|e| format!("cannot be checked (/: {e})"))?;
    check_component(Path::new("/"), &root)?;
    let mut links = 0;
    while let Some(name) = todo.pop() {
        if name == ".." {
            here.pop();
            continue;
        }
        let next = here.join(&name);
        let meta = match std::fs::symlink_metadata(&next) {
            Ok(meta) => meta,
            // Nothing there to run, and only root can create it: every directory above passed.
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(next),
            Err(e) => return Err(format!("cannot be checked ({}: {e})", next.display())),
        };
        check_component(&next, &meta)?;
        if meta.file_type().is_symlink() {
            links += 1;
            if links > MAX_SYMLINKS {
                return Err(format!("cannot be checked (more than {MAX_SYMLINKS} symlinks)"));
            }
            let target = std::fs::read_link(&next).map_err(|e| format!("cannot be checked ({}: {e})", next.display()))?;
            if target.is_absolute() {
                here = PathBuf::from("/");
            }
            for c in target.components().rev() {
                match c {
                    Component::Normal(n) => todo.push(n.to_os_string()),
                    Component::ParentDir => todo.push(OsString::from("..")),
                    _ => {}
                }
            }
        } else {
            here = next;
        }
    }
    Ok(here)
}

/// Whether root may execute or evaluate the file at `path`: the file and every directory above it, after
/// symlinks, are owned by root and writable by no one else. A path that does not exist passes (running or
/// reading it fails on its own, and only root can create it where every directory above passed). Checks regardless of who runs h5doctor (the
/// modules group calls it before the site's module command runs or a modulefile is evaluated as root).
pub fn trusted_for_root(path: &Path) -> Result<(), UntrustedReason> {
    walk(path).map(|_| ()).map_err(|detail| UntrustedReason {
        path: path.to_path_buf(),
        detail: finish(detail, path),
    })
}

/// [`trusted_for_root`], but only when running as root; otherwise everything is trusted.
pub fn may_use(path: &Path) -> Result<(), UntrustedReason> {
    if running_as_root() {
        trusted_for_root(path)
    } else {
        Ok(())
    }
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
fn vet_program(cmd: &Command, program: &Path) -> Result<(), UntrustedReason> {
    let mut file = program.to_path_buf();
    for _ in 0..4 {
        if file == program && is_allowed(program) {
            // The admin vouched for this one; its interpreter line is still checked.
        } else {
            trusted_for_root(&file).map_err(|mut r| {
                if file != program {
                    r.detail = format!("(the interpreter of {}) {}", program.display(), r.detail);
                }
                r
            })?;
        }
        let Some((interpreter, first_arg)) = shebang(&file) else {
            return Ok(());
        };
        file = if interpreter.file_name() == Some(OsStr::new("env")) {
            trusted_for_root(&interpreter)?;
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
fn vet_search_path(cmd: &Command, program: &Path, var: &str, separator: u8) -> Result<(), UntrustedReason> {
    let Some(value) = child_var(cmd, var) else {
        return Ok(());
    };
    for entry in value.as_bytes().split(|b| *b == separator) {
        let entry = Path::new(OsStr::from_bytes(entry));
        if entry.as_os_str().is_empty() {
            continue;
        }
        // A directory that does not exist loads nothing, unless a user can create it: check the parent.
        let checked = if entry.exists() {
            entry
        } else {
            match entry.parent() {
                Some(p) if p.exists() => p,
                _ => continue,
            }
        };
        if let Err(r) = trusted_for_root(checked) {
            return Err(UntrustedReason {
                path: program.to_path_buf(),
                detail: format!("would load code from {var} entry {}, which {}", entry.display(), r.detail),
            });
        }
    }
    Ok(())
}

/// The one gate every execution goes through: when running as root, refuses a program (and the code its
/// environment makes it load) that a non-root user could have written. A no-op for other users.
pub fn vet_command(cmd: &Command) -> Result<(), UntrustedReason> {
    if !running_as_root() {
        return Ok(());
    }
    let given = Path::new(cmd.get_program());
    let program = if given.components().count() == 1 && !given.as_os_str().as_bytes().starts_with(b".") {
        on_child_path(cmd, given.as_os_str()).ok_or_else(|| UntrustedReason {
            path: given.to_path_buf(),
            detail: "is not on PATH".into(),
        })?
    } else {
        given.to_path_buf()
    };
    vet_program(cmd, &program)?;
    vet_search_path(cmd, &program, "LD_LIBRARY_PATH", b':')?;
    // LD_PRELOAD takes file names separated by spaces or colons.
    vet_search_path(cmd, &program, "LD_PRELOAD", b' ')?;
    if child_var(cmd, "LD_PRELOAD").is_some_and(|v| v.as_bytes().contains(&b':')) {
        vet_search_path(cmd, &program, "LD_PRELOAD", b':')?;
    }
    if is_python(&program) {
        for var in ["PYTHONPATH", "PYTHONHOME", "PYTHONUSERBASE"] {
            vet_search_path(cmd, &program, var, b':')?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_reason_names_the_component_at_fault() {
        let file = Path::new("/home/u/venv/bin/python");
        assert_eq!(
            finish(format!("is writable by uid 1000{}", through(file, "owned by it")), file),
            "is writable by uid 1000"
        );
        assert_eq!(
            finish(
                format!("is writable by uid 1000{}", through(Path::new("/home/u"), "owned by it")),
                file
            ),
            "is writable by uid 1000 (/home/u is owned by it)"
        );
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

    #[test]
    fn a_missing_file_under_trusted_directories_passes_and_fails_later() {
        assert_eq!(trusted_for_root(Path::new("/nonexistent/h5doctor-probe")), Ok(()));
    }

    #[test]
    fn system_programs_are_trusted() {
        // /usr/bin/env is root's on every Linux system h5doctor runs on.
        assert_eq!(trusted_for_root(Path::new("/usr/bin/env")), Ok(()));
    }
}
