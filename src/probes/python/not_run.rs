//! An interpreter h5doctor does not run as root (the trust gate refused it, or `--python` without
//! `--allow-exec-as-root`): what can be learned from the file without executing it — its real path,
//! owner and mode, whether it is an ELF program or a script (and its `#!` line), the ELF facts (machine,
//! program interpreter, needed libraries, RPATH/RUNPATH) and the Python version its name or libpython
//! suggests — and which parts of the diagnosis were skipped, with the refusal as the reason.

use crate::facts::python::NotRunInterpreter;
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
        kind: "other".into(),
        ..NotRunInterpreter::default()
    };
    let mut head = [0u8; 256];
    let n = std::fs::File::open(file).and_then(|mut f| f.read(&mut head)).unwrap_or(0);
    if let Some(line) = head[..n].strip_prefix(b"#!") {
        let line = &line[..line.iter().position(|&b| b == b'\n').unwrap_or(line.len())];
        facts.kind = "script".into();
        facts.shebang = Some(format!("#!{}", String::from_utf8_lossy(line).trim()));
    } else if head[..n].starts_with(b"\x7fELF") {
        facts.kind = "elf".into();
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
    facts
}

#[cfg(test)]
mod tests {
    use super::*;

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
        assert_eq!(facts.kind, "elf");
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
