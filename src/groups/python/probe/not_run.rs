//! An interpreter h5doctor does not run as root (the trust gate refused it, or `--python` without
//! `--allow-exec-as-root`): what can be learned from the file without executing it — its real path,
//! owner and mode, whether it is an ELF program or a script (and its `#!` line), the ELF facts (machine,
//! program interpreter, needed libraries, RPATH/RUNPATH) and the Python version its name or libpython
//! suggests, and the h5py, NumPy and mpi4py versions its own site directories' install metadata names —
//! and which parts of the diagnosis were skipped, with the refusal as the reason.

use crate::facts::python::{InstalledPackage, NotRunInterpreter};
use crate::facts::values::InterpreterFileKind;
use std::io::Read;
use std::os::unix::fs::MetadataExt;
use std::path::Path;

/// What the diagnosis leaves out for an interpreter it does not run.
const SKIPPED: &str = "skipped asking it about itself (version, sys.path), the h5py/NumPy/mpi4py scan of its sys.path and the import probe";

/// `3.11` from `python3.11` or `libpython3.11.so.1.0`.
fn version_in(name: &str) -> Option<String> {
    let rest = name.strip_prefix("lib").unwrap_or(name).strip_prefix("python")?;
    let digits: String = rest.chars().take_while(|c| c.is_ascii_digit() || *c == '.').collect();
    let digits = digits.trim_end_matches('.');
    (digits.contains('.') && digits.split('.').all(|p| !p.is_empty())).then(|| digits.to_string())
}

/// The static view of `path`, refused with `reason`.
pub fn inspect(path: &Path, reason: &str) -> NotRunInterpreter {
    let real = std::fs::canonicalize(path).ok();
    let file = real.as_deref().unwrap_or(path);
    let meta = std::fs::metadata(file).ok();
    let mut facts = NotRunInterpreter {
        skipped: format!("{reason}; {SKIPPED}"),
        file: real.as_ref().map(|r| r.display().to_string()),
        owner_uid: meta.as_ref().map(|m| m.uid()),
        group_gid: meta.as_ref().map(|m| m.gid()),
        mode: meta.as_ref().map(|m| format!("{:04o}", m.mode() & 0o7777)),
        kind: InterpreterFileKind::Other,
        ..NotRunInterpreter::default()
    };
    let mut head = [0u8; 256];
    let n = std::fs::File::open(file).and_then(|mut f| f.read(&mut head)).unwrap_or(0);
    if let Some(line) = head[..n].strip_prefix(b"#!") {
        let line = &line[..line.iter().position(|&b| b == b'\n').unwrap_or(line.len())];
        facts.kind = InterpreterFileKind::Script;
        facts.shebang = Some(format!("#!{}", String::from_utf8_lossy(line).trim()));
    } else if head[..n].starts_with(b"\x7fELF") {
        facts.kind = InterpreterFileKind::Elf;
        if let Ok(elf) = crate::elf::ElfObject::read(file) {
            facts.elf_arch = Some(elf.arch.describe());
            facts.elf_interpreter = elf.interpreter.clone();
            facts.library_paths = elf.rpath.iter().chain(&elf.runpath).cloned().collect();
            facts.needed = elf.needed;
        }
    }
    let names = [path.file_name(), file.file_name()];
    facts.version_from_name = names
        .into_iter()
        .flatten()
        .filter_map(|n| version_in(&n.to_string_lossy()))
        .chain(facts.needed.iter().filter_map(|n| version_in(n)))
        .next();
    facts.packages_from_layout = installed_packages(path, real.as_deref(), facts.version_from_name.as_deref());
    facts
}

/// The packages whose versions the report wants, by their distribution names.
const WANTED: [&str; 3] = ["h5py", "numpy", "mpi4py"];

/// The site directories of the interpreter at `path` (as invoked) without running it: those of the prefix
/// it sits in (`PREFIX/bin/python3`: a venv's own, when `PREFIX/pyvenv.cfg` says so), then those of the
/// real file's prefix (for a venv only when it includes the system site packages). `lib/pythonX.Y` is the
/// named version's when the name tells it, else every `lib/python3*` there is.
fn site_dirs(path: &Path, real: Option<&Path>, version: Option<&str>) -> Vec<std::path::PathBuf> {
    let prefix_of = |p: &Path| p.parent().and_then(Path::parent).map(Path::to_path_buf);
    let mut prefixes = Vec::new();
    let invoked = prefix_of(path);
    let venv_cfg = invoked.as_ref().and_then(|p| std::fs::read_to_string(p.join("pyvenv.cfg")).ok());
    prefixes.extend(invoked.clone());
    let system_site = venv_cfg.as_deref().is_none_or(|cfg| {
        cfg.lines().any(|l| {
            let (key, value) = l.split_once('=').unwrap_or((l, ""));
            key.trim() == "include-system-site-packages" && value.trim().eq_ignore_ascii_case("true")
        })
    });
    if system_site {
        prefixes.extend(real.and_then(prefix_of).filter(|p| Some(p) != invoked.as_ref()));
    }
    let mut dirs = Vec::new();
    for prefix in prefixes {
        let lib = prefix.join("lib");
        let mut versions: Vec<String> = match version {
            Some(v) => vec![format!("python{v}")],
            None => std::fs::read_dir(&lib)
                .map(|entries| {
                    let mut names: Vec<String> = entries
                        .flatten()
                        .map(|e| e.file_name().to_string_lossy().into_owned())
                        .filter(|n| n.starts_with("python3."))
                        .collect();
                    names.sort();
                    names
                })
                .unwrap_or_default(),
        };
        // Debian's shared directory for every Python 3.
        versions.push("python3".into());
        for v in versions {
            dirs.push(lib.join(&v).join("site-packages"));
            dirs.push(lib.join(&v).join("dist-packages"));
        }
    }
    dirs
}

/// `("h5py", "3.10.0")` from `h5py-3.10.0.dist-info`, `numpy-1.24.2.egg-info` or
/// `h5py-3.10.0-py3.11.egg-info`, for the wanted packages only.
fn package_of(entry: &str) -> Option<(&'static str, String)> {
    let stem = entry.strip_suffix(".dist-info").or_else(|| entry.strip_suffix(".egg-info"))?;
    let (name, version) = stem.split_once('-')?;
    // Debian names its h5py builds `h5py._debian_h5py_serial` and `h5py._debian_h5py_mpi`.
    let wanted = WANTED
        .into_iter()
        .find(|w| name.eq_ignore_ascii_case(w) || name.strip_prefix(w).is_some_and(|rest| rest.starts_with("._debian_")))?;
    // An egg's name may carry the Python it was built for: `3.10.0-py3.11`.
    let version = version.split_once("-py").map_or(version, |(v, _)| v);
    (!version.is_empty() && version.starts_with(|c: char| c.is_ascii_digit())).then(|| (wanted, version.to_string()))
}

/// The wanted packages' versions, from the first site directory (in [`site_dirs`] order) that has each.
/// Only directory names are read: nothing of the interpreter's is run or imported.
fn installed_packages(path: &Path, real: Option<&Path>, version: Option<&str>) -> Vec<InstalledPackage> {
    let mut found: Vec<InstalledPackage> = Vec::new();
    for dir in site_dirs(path, real, version) {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        let mut here: Vec<InstalledPackage> = entries
            .flatten()
            .filter_map(|e| {
                let name = e.file_name().to_string_lossy().into_owned();
                let (package, version) = package_of(&name)?;
                Some(InstalledPackage {
                    name: package.into(),
                    version,
                    metadata: e.path().display().to_string(),
                })
            })
            .filter(|p| !found.iter().any(|f| f.name == p.name))
            .collect();
        here.sort_by(|a, b| a.metadata.cmp(&b.metadata));
        here.dedup_by(|a, b| a.name == b.name);
        found.extend(here);
    }
    found.sort_by_key(|p| WANTED.iter().position(|w| *w == p.name));
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn package_versions_come_from_metadata_names() {
        assert_eq!(package_of("h5py-3.10.0.dist-info"), Some(("h5py", "3.10.0".into())));
        assert_eq!(package_of("numpy-1.24.2.egg-info"), Some(("numpy", "1.24.2".into())));
        assert_eq!(package_of("h5py-3.10.0-py3.11.egg-info"), Some(("h5py", "3.10.0".into())));
        assert_eq!(package_of("mpi4py-4.1.2.dist-info"), Some(("mpi4py", "4.1.2".into())));
        assert_eq!(package_of("h5py"), None);
        assert_eq!(package_of("pip-23.0.1.dist-info"), None);
        assert_eq!(
            package_of("h5py._debian_h5py_serial-3.7.0.dist-info"),
            Some(("h5py", "3.7.0".into()))
        );
        assert_eq!(package_of("h5pyx-1.0.dist-info"), None);
    }

    #[test]
    fn versions_come_from_names_only_when_they_carry_one() {
        assert_eq!(version_in("python3.11").as_deref(), Some("3.11"));
        assert_eq!(version_in("libpython3.12.so.1.0").as_deref(), Some("3.12"));
        assert_eq!(version_in("python3"), None);
        assert_eq!(version_in("python"), None);
        assert_eq!(version_in("libc.so.6"), None);
    }

    #[test]
    fn a_system_interpreter_is_seen_without_running_it() {
        let facts = inspect(Path::new("/usr/bin/python3"), "not run as root: test");
        assert_eq!(facts.kind, InterpreterFileKind::Elf);
        assert_eq!(facts.owner_uid, Some(0));
        assert!(facts.elf_arch.as_deref().is_some_and(|a| a.starts_with("ELFCLASS")), "{facts:?}");
        assert!(facts.version_from_name.is_some(), "{facts:?}");
        assert!(
            facts.summary().starts_with("not run as root: test; skipped asking it"),
            "{}",
            facts.summary()
        );
    }
}
