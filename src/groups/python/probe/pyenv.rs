//! pyenv shims resolved by reading files, as `pyenv exec` would resolve them, instead of running the shim
//! (a bash script that starts `pyenv`, which runs a dozen more bash processes: ~130 ms and more CPU than the
//! interpreter's own start).
//!
//! What pyenv 2.x does for `<root>/shims/python3 ARGS` (libexec/pyenv, pyenv-exec, pyenv-version-name,
//! pyenv-version-file, pyenv-version-file-read, pyenv-which):
//! 1. the version: `$PYENV_VERSION`, else the first `.python-version` found from `$PYENV_DIR` (default the
//!    working directory) up to `/`, then from the working directory, else `<root>/version`; each line's first
//!    word, comments and empty lines skipped, joined by `:`; empty means `system`;
//! 2. the program: the first version whose `<root>/versions/V/bin/python3` is executable, else `system`:
//!    `python3` on `$PATH` without `<root>/shims`;
//! 3. exec it with `PYENV_VERSION` exported and, for a version under the root, `<root>/versions/V/bin` put in
//!    front of `PATH` (after libexec/pyenv put its own libexec and the plugins' bin directories there).
//!
//! Only that path is modelled. Whatever else could change the answer makes the resolution give up and the
//! caller runs the shim as before: a shim that is not pyenv's template, `PYENV_DEBUG`, a shim outside
//! `<root>/shims`, an installation whose libexec is not under the root, a version that names no installed
//! directory (pyenv would match it as a prefix with `pyenv latest`), a version with `/` or `..`, and any
//! hook script for `exec`, `which` or `version-name` except the ones pyenv and pyenv-virtualenv ship that
//! act only for other commands (pip, conda, python-config) or when no executable was found.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// A shim resolved to the program `pyenv exec` would run and the environment it would run it with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resolved {
    /// The interpreter `pyenv exec` would exec.
    pub program: PathBuf,
    /// Variables as `pyenv exec` would set them for the interpreter (PATH, PYENV_*).
    pub env: Vec<(String, String)>,
    /// How it was found, for the facts: `pyenv 3.11.7 (set by /root/.pyenv/version)`.
    pub how: String,
}

/// Hook scripts known to leave `python*` alone when the program was found (`(hook, file name)`).
const HARMLESS_HOOKS: &[(&str, &str)] = &[
    // Acts only for pip/easy_install, or for arguments containing ` -m pip `.
    ("exec", "pip-rehash.bash"),
    // pyenv-virtualenv: each acts only when the program was not found (or is python-config, conda).
    ("which", "python-config.bash"),
    ("which", "system-site-packages.bash"),
    ("which", "conda.bash"),
];

/// The pyenv root named by a shim's text, when the text is exactly pyenv's shim template.
fn root_of_shim(text: &str) -> Option<PathBuf> {
    let root = text
        .lines()
        .find_map(|l| l.strip_prefix("export PYENV_ROOT=\"")?.strip_suffix('"'))?;
    let template = format!(
        "#!/usr/bin/env bash\nset -e\n[ -n \"$PYENV_DEBUG\" ] && set -x\n\nprogram=\"${{0##*/}}\"\n\n\
         export PYENV_ROOT=\"{root}\"\nSHIM_PATH=${{0%/*}}\nif [[ $SHIM_PATH != \"{root}/shims\" ]]; then\n  \
         export _PYENV_SHIM_PATH=\"$SHIM_PATH\"\nfi\nexec \"{root}/libexec/pyenv\" exec \"$program\" \"$@\"\n"
    );
    (text == template && !root.contains(['$', '`', '\\'])).then(|| PathBuf::from(root))
}

/// `pyenv-version-file`: the first `.python-version` from `dir` up to `/`.
fn local_version_file(dir: &Path) -> Option<PathBuf> {
    dir.ancestors().map(|d| d.join(".python-version")).find(|f| f.is_file())
}

/// `pyenv-version-file-read`: the first word of each line, comments and empty lines skipped, joined by `:`;
/// `None` for an empty file (pyenv then means `system`). A word with `/` or `..` is checked by pyenv against
/// the versions directory: not modelled (`Err`).
fn read_version_file(path: &Path) -> Result<Option<String>, ()> {
    let text = std::fs::read(path).map_err(|_| ())?;
    let text = String::from_utf8(text).map_err(|_| ())?;
    let mut words = Vec::new();
    for line in text.split('\n') {
        let Some(word) = line.split([' ', '\t', '\r']).find(|w| !w.is_empty()) else {
            continue;
        };
        if word.starts_with('#') {
            continue;
        }
        if word == ".." || word.contains('/') {
            return Err(());
        }
        words.push(word.to_string());
    }
    Ok((!words.is_empty()).then(|| words.join(":")))
}

/// bash's `$PWD` at start: the inherited `PWD` when it names the working directory, else the physical path.
fn logical_cwd(var: &dyn Fn(&str) -> Option<String>) -> Option<PathBuf> {
    use std::os::unix::fs::MetadataExt;
    let physical = std::env::current_dir().ok()?;
    let same = |a: &Path, b: &Path| match (std::fs::metadata(a), std::fs::metadata(b)) {
        (Ok(x), Ok(y)) => x.dev() == y.dev() && x.ino() == y.ino(),
        _ => false,
    };
    Some(match var("PWD").map(PathBuf::from) {
        Some(p) if p.is_absolute() && !p.components().any(|c| c.as_os_str() == "..") && same(&p, &physical) => p,
        _ => physical,
    })
}

/// `_PYENV_SHIM_PATHS_<PROGRAM>`'s name, as pyenv-exec spells it.
fn shim_paths_var(program: &str) -> String {
    let upper: String = program
        .chars()
        .map(|c| match c {
            'a'..='z' => c.to_ascii_uppercase(),
            '-' => '_',
            'A'..='Z' | '0'..='9' | '_' => c,
            _ => '_',
        })
        .collect();
    format!("_PYENV_SHIM_PATHS_{upper}")
}

fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

/// Directories pyenv reads hook scripts from, in its order.
fn hook_dirs(root: &Path, var: &dyn Fn(&str) -> Option<String>) -> Vec<PathBuf> {
    let mut dirs: Vec<PathBuf> = var("PYENV_HOOK_PATH")
        .unwrap_or_default()
        .split(':')
        .filter(|d| !d.is_empty())
        .map(PathBuf::from)
        .collect();
    dirs.push(root.join("pyenv.d"));
    for d in ["/usr/etc/pyenv.d", "/usr/local/etc/pyenv.d", "/etc/pyenv.d", "/usr/lib/pyenv/hooks"] {
        dirs.push(PathBuf::from(d));
    }
    dirs.extend(plugin_dirs(root, "etc/pyenv.d"));
    dirs
}

/// `<root>/plugins/*/<sub>` that exist, in glob (byte) order.
fn plugin_dirs(root: &Path, sub: &str) -> Vec<PathBuf> {
    let mut names: Vec<_> = std::fs::read_dir(root.join("plugins"))
        .map(|it| it.filter_map(|e| e.ok()).map(|e| e.file_name()).collect())
        .unwrap_or_default();
    names.retain(|n| !n.to_string_lossy().starts_with('.'));
    names.sort();
    names
        .into_iter()
        .map(|n| root.join("plugins").join(n).join(sub))
        .filter(|d| d.is_dir())
        .collect()
}

/// Whether every hook for `exec`, `which` and `version-name` is one known to leave an interpreter alone.
fn hooks_are_harmless(root: &Path, var: &dyn Fn(&str) -> Option<String>) -> bool {
    hook_dirs(root, var).iter().all(|dir| {
        ["exec", "which", "version-name"].iter().all(|hook| {
            let Ok(entries) = std::fs::read_dir(dir.join(hook)) else {
                return true;
            };
            entries.filter_map(|e| e.ok()).all(|e| {
                let name = e.file_name().to_string_lossy().into_owned();
                !name.ends_with(".bash") || HARMLESS_HOOKS.contains(&(*hook, name.as_str()))
            })
        })
    })
}

/// Resolves `shim` (a path as found on PATH) the way `pyenv exec` would, or `None` when that cannot be done
/// exactly by reading files. `var` reads the job's environment.
pub fn resolve(shim: &Path, var: &dyn Fn(&str) -> Option<String>) -> Option<Resolved> {
    let text = std::fs::read_to_string(shim).ok()?;
    let root = root_of_shim(&text)?;
    let program = shim.file_name()?.to_str()?.to_string();
    if shim.parent()? != root.join("shims") || var("PYENV_DEBUG").is_some_and(|v| !v.is_empty()) {
        return None;
    }
    // libexec/pyenv's install prefix (from its real path) must be the root: otherwise another tree's
    // plugins and hooks take part.
    // libexec/pyenv compares the two as strings: a root reached through a symlink adds a second set.
    let install = std::fs::canonicalize(root.join("libexec/pyenv")).ok()?;
    if install.parent()?.parent()? != root || !is_executable(&install) {
        return None;
    }
    // As root, the shim and pyenv must be ones h5doctor would have run: the job runs them, and a user who
    // can write them decides what the job gets.
    if crate::trust::running_as_root()
        && (crate::trust::trusted_for_root(shim).is_err() || crate::trust::trusted_for_root(&install).is_err())
    {
        return None;
    }
    if var(&shim_paths_var(&program)).is_some() || !hooks_are_harmless(&root, var) {
        return None;
    }
    let pwd = logical_cwd(var)?;
    let pyenv_dir = match var("PYENV_DIR").filter(|d| !d.is_empty()) {
        Some(d) if Path::new(&d).is_absolute() && Path::new(&d).is_dir() => PathBuf::from(d),
        Some(_) => return None,
        None => pwd.clone(),
    };
    let (requested, origin) = match var("PYENV_VERSION").filter(|v| !v.is_empty()) {
        Some(v) => (Some(v), "PYENV_VERSION".to_string()),
        None => {
            let file = local_version_file(&pyenv_dir)
                .or_else(|| (pyenv_dir != pwd).then(|| local_version_file(&pwd)).flatten())
                .unwrap_or_else(|| root.join("version"));
            let read = if std::fs::metadata(&file).is_ok_and(|m| m.len() > 0) {
                read_version_file(&file).ok()?
            } else {
                None
            };
            (read, file.display().to_string())
        }
    };
    // pyenv-version-name: each word an installed version (`python-` prefix dropped), or `system`.
    let mut versions = Vec::new();
    for word in requested.as_deref().unwrap_or("system").split(':').filter(|w| !w.is_empty()) {
        if word.contains('/') || word == ".." {
            return None;
        }
        let normalised = word.strip_prefix("python-").unwrap_or(word);
        if word == "system" || root.join("versions").join(word).is_dir() {
            versions.push(word.to_string());
        } else if root.join("versions").join(normalised).is_dir() {
            versions.push(normalised.to_string());
        } else {
            // `pyenv latest` prefix matching, or a version that is not installed: not modelled.
            return None;
        }
    }
    if versions.is_empty() {
        versions.push("system".into());
    }
    let exported_version = versions.join(":");
    // libexec/pyenv puts the plugins' bin directories, then its libexec, in front of PATH.
    let mut pyenv_path = var("PATH").unwrap_or_default();
    for bin in plugin_dirs(&root, "bin") {
        pyenv_path = format!("{}:{pyenv_path}", bin.display());
    }
    pyenv_path = format!("{}:{pyenv_path}", root.join("libexec").display());
    // pyenv-which: the first version with the program, then the system's.
    let mut found = None;
    for version in versions.iter().map(String::as_str).chain(["system"]) {
        let candidate = if version == "system" {
            let shims = root.join("shims");
            let home = var("HOME").unwrap_or_default();
            pyenv_path
                .replace('~', &home)
                .split(':')
                .filter(|d| Path::new(d) != shims)
                .map(|d| if d.is_empty() { pwd.clone() } else { PathBuf::from(d) })
                .map(|d| d.join(&program))
                .find(|p| is_executable(p))
        } else {
            Some(root.join("versions").join(version).join("bin").join(&program))
        };
        if let Some(p) = candidate.filter(|p| is_executable(p)) {
            found = Some((version, p));
            break;
        }
    }
    let (version, program_path) = found?;
    let path_var = if program_path.starts_with(&root) {
        format!("{}:{pyenv_path}", program_path.parent()?.display())
    } else {
        pyenv_path
    };
    let mut hook_path: Vec<String> = var("PYENV_HOOK_PATH").into_iter().filter(|p| !p.is_empty()).collect();
    hook_path.extend(hook_dirs(&root, &|_| None).iter().map(|d| d.display().to_string()));
    let env: BTreeMap<&str, String> = [
        ("PATH", path_var),
        ("PYENV_ROOT", root.display().to_string()),
        ("PYENV_DIR", pyenv_dir.display().to_string()),
        ("PYENV_HOOK_PATH", hook_path.join(":")),
        ("PYENV_VERSION", exported_version),
        ("_PYENV_INSTALL_PREFIX", root.display().to_string()),
    ]
    .into_iter()
    .collect();
    Some(Resolved {
        how: format!("pyenv {version} (set by {origin}): {}", program_path.display()),
        program: program_path,
        env: env.into_iter().map(|(k, v)| (k.to_string(), v)).collect(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn shim_text(root: &Path) -> String {
        let r = root.display();
        format!(
            "#!/usr/bin/env bash\nset -e\n[ -n \"$PYENV_DEBUG\" ] && set -x\n\nprogram=\"${{0##*/}}\"\n\n\
             export PYENV_ROOT=\"{r}\"\nSHIM_PATH=${{0%/*}}\nif [[ $SHIM_PATH != \"{r}/shims\" ]]; then\n  \
             export _PYENV_SHIM_PATH=\"$SHIM_PATH\"\nfi\nexec \"{r}/libexec/pyenv\" exec \"$program\" \"$@\"\n"
        )
    }

    fn executable(path: &Path) {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, "#!/bin/sh\n").unwrap();
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).unwrap();
    }

    #[test]
    fn the_template_is_recognised_and_anything_else_is_not() {
        let root = Path::new("/home/u/.pyenv");
        assert_eq!(root_of_shim(&shim_text(root)), Some(root.to_path_buf()));
        assert_eq!(root_of_shim(&shim_text(root).replace("set -e\n", "")), None);
        assert_eq!(root_of_shim("#!/bin/sh\nexec /usr/bin/python3 \"$@\"\n"), None);
    }

    #[test]
    fn version_files_read_like_pyenv() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join(".python-version");
        std::fs::write(&f, "# pinned\n\n 3.11.7 extra\r\n3.10.13\n").unwrap();
        assert_eq!(read_version_file(&f), Ok(Some("3.11.7:3.10.13".into())));
        std::fs::write(&f, "\n# nothing\n").unwrap();
        assert_eq!(read_version_file(&f), Ok(None));
        std::fs::write(&f, "../../evil\n").unwrap();
        assert_eq!(read_version_file(&f), Err(()));
    }

    #[test]
    fn a_shim_resolves_to_the_version_bin_and_unknown_hooks_give_up() {
        let dir = tempfile::tempdir().unwrap();
        let root = std::fs::canonicalize(dir.path()).unwrap().join("pyenv");
        executable(&root.join("libexec/pyenv"));
        executable(&root.join("versions/3.11.7/bin/python3"));
        let shim = root.join("shims/python3");
        std::fs::create_dir_all(shim.parent().unwrap()).unwrap();
        std::fs::write(&shim, shim_text(&root)).unwrap();
        std::fs::write(root.join("version"), "3.11.7\n").unwrap();
        let env = |k: &str| match k {
            "PATH" => Some(format!("{}:/usr/bin:/bin", root.join("shims").display())),
            "PYENV_DIR" => Some("/".into()),
            _ => None,
        };
        let got = resolve(&shim, &env).expect("resolved");
        assert_eq!(got.program, root.join("versions/3.11.7/bin/python3"));
        assert!(got.how.contains("set by") && got.how.contains("version"), "{}", got.how);
        let path = got.env.iter().find(|(k, _)| k == "PATH").unwrap().1.clone();
        assert!(
            path.starts_with(&format!("{}:", root.join("versions/3.11.7/bin").display())),
            "{path}"
        );
        // PYENV_VERSION wins over the file; `system` finds python3 on PATH without the shims.
        let system = |k: &str| match k {
            "PYENV_VERSION" => Some("system".into()),
            other => env(other),
        };
        let got = resolve(&shim, &system).expect("resolved");
        assert_eq!(got.program, PathBuf::from("/usr/bin/python3"));
        // A version pyenv would have to match as a prefix is left to pyenv.
        let prefix = |k: &str| match k {
            "PYENV_VERSION" => Some("3.11".into()),
            other => env(other),
        };
        assert_eq!(resolve(&shim, &prefix), None);
        // An unknown exec hook could change anything.
        executable(&root.join("pyenv.d/exec/site.bash"));
        assert_eq!(resolve(&shim, &env), None);
    }
}
