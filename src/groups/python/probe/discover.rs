//! Which interpreters to diagnose: every `--python`, then `python3` and `python` on PATH, `$VIRTUAL_ENV`,
//! `$CONDA_PREFIX` and `/usr/bin/python3`. Each is kept once; two names of the same interpreter (a venv's
//! `python` and `python3`) merge their origins. A venv's `bin/python` is a symlink to its base interpreter,
//! so identity is the real file *and* the venv around the name, never the real file alone.
//!
//! A pyenv shim is resolved by reading pyenv's files (`pyenv`): its identity is then the interpreter it
//! would run, so `python` and `python3` shims of one version are one candidate and no shim is executed.
//! A shim that cannot be resolved exactly stays a script, which the probe runs to ask.

use crate::error::Error;
use crate::groups::python::probe::pyenv::{self, Resolved};
use std::path::{Path, PathBuf};

/// An interpreter to diagnose and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Candidate {
    pub path: PathBuf,
    pub origin: String,
    /// What a shim would run, resolved without running it (`None`: run `path` itself).
    pub resolved: Option<Resolved>,
}

impl Candidate {
    /// The program to start for this candidate.
    pub fn program(&self) -> &Path {
        self.resolved.as_ref().map_or(&self.path, |r| &r.program)
    }

    /// Variables to set for it (those a shim would have set).
    pub fn env(&self) -> &[(String, String)] {
        self.resolved.as_ref().map_or(&[], |r| &r.env)
    }
}

/// Checks a `--python` argument up front and turns a bare command name into a path.
pub fn check_explicit(arg: &Path) -> Result<PathBuf, Error> {
    let is_name = arg.components().count() == 1 && !arg.to_string_lossy().starts_with('.');
    if is_name {
        return which::which(arg).map_err(|_| Error::msg(format!("--python {}: not found on PATH", arg.display())));
    }
    match std::fs::metadata(arg) {
        Ok(m) if m.is_file() => Ok(arg.to_path_buf()),
        Ok(_) => Err(Error::msg(format!(
            "--python {}: not a file (give the interpreter, such as {}/bin/python)",
            arg.display(),
            arg.display()
        ))),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Err(Error::msg(format!("--python {}: no such file", arg.display()))),
        Err(e) => Err(Error::msg(format!("--python {}: {e}", arg.display()))),
    }
}

/// The venv a name lives in (`<venv>/bin/python` with `<venv>/pyvenv.cfg`), before symlinks are followed.
fn venv_of(path: &Path) -> Option<PathBuf> {
    let root = path.parent()?.parent()?;
    root.join("pyvenv.cfg").is_file().then(|| root.to_path_buf())
}

/// The identity of an interpreter name: its real file and its venv (of the program a shim resolves to).
fn identity(c: &Candidate) -> (PathBuf, Option<PathBuf>) {
    let path = c.program();
    let real = std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf());
    (real, venv_of(path))
}

/// The default candidates, from the job's environment (`var` reads a variable).
fn defaults(var: &dyn Fn(&str) -> Option<String>) -> Vec<Candidate> {
    let mut out = Vec::new();
    for name in ["python3", "python"] {
        let found = var("PATH").and_then(|p| which::which_in(name, Some(p), std::env::current_dir().ok()?).ok());
        if let Some(path) = found {
            out.push(Candidate {
                resolved: pyenv::resolve(&path, var),
                path,
                origin: format!("{name} on PATH"),
            });
        }
    }
    for (var_name, sub) in [("VIRTUAL_ENV", "bin/python"), ("CONDA_PREFIX", "bin/python")] {
        if let Some(prefix) = var(var_name).filter(|v| !v.is_empty()) {
            let path = Path::new(&prefix).join(sub);
            if path.is_file() {
                out.push(Candidate {
                    path,
                    origin: format!("${var_name}"),
                    resolved: None,
                });
            }
        }
    }
    let system = PathBuf::from("/usr/bin/python3");
    if system.is_file() {
        out.push(Candidate {
            path: system,
            origin: "/usr/bin/python3".into(),
            resolved: None,
        });
    }
    out
}

/// The interpreters of this run, each once, in order: `--python` ones first.
pub fn candidates(explicit: &[PathBuf], with_defaults: bool, var: &dyn Fn(&str) -> Option<String>) -> Vec<Candidate> {
    let mut all: Vec<Candidate> = explicit
        .iter()
        .map(|p| Candidate {
            path: p.clone(),
            origin: "--python".into(),
            resolved: pyenv::resolve(p, var),
        })
        .collect();
    if with_defaults {
        all.extend(defaults(var));
    }
    let mut out: Vec<(Candidate, (PathBuf, Option<PathBuf>))> = Vec::new();
    for c in all {
        let id = identity(&c);
        match out.iter_mut().find(|(_, other)| *other == id) {
            Some((kept, _)) => {
                if !kept.origin.split(", ").any(|o| o == c.origin) {
                    kept.origin = format!("{}, {}", kept.origin, c.origin);
                }
            }
            None => out.push((c, id)),
        }
    }
    out.into_iter().map(|(c, _)| c).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_venv_python_is_not_its_base_interpreter() {
        let dir = tempfile::tempdir().unwrap();
        let venv = dir.path().join("v");
        std::fs::create_dir_all(venv.join("bin")).unwrap();
        std::fs::write(venv.join("pyvenv.cfg"), "home = /usr/bin\n").unwrap();
        let base = dir.path().join("python3.11");
        std::fs::write(&base, "").unwrap();
        std::os::unix::fs::symlink(&base, venv.join("bin/python")).unwrap();
        std::os::unix::fs::symlink(&base, venv.join("bin/python3")).unwrap();
        let got = candidates(&[venv.join("bin/python"), base.clone(), venv.join("bin/python3")], false, &|_| None);
        assert_eq!(got.len(), 2, "{got:?}");
        assert_eq!(got[0].path, venv.join("bin/python"));
        assert_eq!(got[1].path, base);
    }
}
