//! Finding a package the way `import` would, without importing it: the first `sys.path` entry holding
//! `<name>/__init__.py` wins. Each entry is classified (the interpreter's own, PYTHONPATH, the user site,
//! the working directory) by comparing the job's `sys.path` with the isolated one, and an entry that is
//! another Python environment's site directory is named. Versions come from dist-info / egg-info
//! metadata or the package's own version file.

use crate::facts::python::PackageLocation;
use crate::facts::values::{EntrySource, VersionFrom};
use std::path::{Path, PathBuf};

/// The job's `sys.path` with what is needed to classify each entry.
#[derive(Debug, Clone, Default)]
pub struct PathView {
    /// (as written on `sys.path`, resolved directory).
    pub entries: Vec<(String, PathBuf)>,
    /// Canonical entries of the isolated (`-I`) path.
    pub isolated: Vec<PathBuf>,
    /// Canonical PYTHONPATH entries of the job's environment.
    pub pythonpath: Vec<PathBuf>,
    /// The user site, when it is enabled for the job.
    pub user_site: Option<PathBuf>,
    /// The interpreter's own prefix (canonical).
    pub prefix: Option<PathBuf>,
}

fn canon(p: &Path) -> PathBuf {
    std::fs::canonicalize(p).unwrap_or_else(|_| p.to_path_buf())
}

impl PathView {
    /// Builds the view; `''` on `sys.path` is the working directory.
    pub fn new(sys_path: &[String], isolated: &[String], pythonpath: Option<&str>, user_site: Option<&str>, prefix: Option<&str>) -> Self {
        let cwd = std::env::current_dir().unwrap_or_else(|_| PathBuf::from("."));
        let resolve = |s: &str| if s.is_empty() { cwd.clone() } else { canon(Path::new(s)) };
        Self {
            entries: sys_path.iter().map(|s| (s.clone(), resolve(s))).collect(),
            isolated: isolated.iter().filter(|s| !s.is_empty()).map(|s| canon(Path::new(s))).collect(),
            pythonpath: pythonpath
                .unwrap_or("")
                .split(':')
                .filter(|s| !s.is_empty())
                .map(|s| canon(Path::new(s)))
                .collect(),
            user_site: user_site.map(|s| canon(Path::new(s))),
            prefix: prefix.map(|s| canon(Path::new(s))),
        }
    }

    /// Why an entry is on the job's path.
    fn source_of(&self, written: &str, resolved: &Path) -> EntrySource {
        if written.is_empty() {
            EntrySource::Cwd
        } else if self.isolated.iter().any(|p| p == resolved) {
            EntrySource::Interpreter
        } else if self.user_site.as_deref() == Some(resolved) {
            EntrySource::UserSite
        } else if self.pythonpath.iter().any(|p| p == resolved) {
            EntrySource::Pythonpath
        } else {
            EntrySource::Added
        }
    }

    /// Where `import <name>` would find the package, with the copies it shadows.
    pub fn locate(&self, name: &str) -> Option<PackageLocation> {
        let mut hits = self
            .entries
            .iter()
            .filter(|(_, dir)| dir.join(name).join("__init__.py").is_file())
            .map(|(written, dir)| (written, dir));
        let (written, entry) = hits.next()?;
        let mut shadows: Vec<String> = Vec::new();
        for (_, other) in hits {
            let shown = other.join(name).display().to_string();
            if other != entry && !shadows.contains(&shown) {
                shadows.push(shown);
            }
        }
        Some(PackageLocation {
            dir: entry.join(name).display().to_string(),
            entry: entry.display().to_string(),
            entry_source: self.source_of(written, entry),
            foreign_env: foreign_env(entry, self.prefix.as_deref()),
            shadows,
            version: None,
            version_from: None,
        })
    }
}

/// Whether `prefix` is the root of a Python installation or environment.
fn is_python_env(prefix: &Path) -> bool {
    if prefix.join("pyvenv.cfg").is_file() || prefix.join("conda-meta").is_dir() {
        return true;
    }
    std::fs::read_dir(prefix.join("bin")).is_ok_and(|rd| {
        rd.filter_map(|e| e.ok()).any(|e| {
            let n = e.file_name();
            let n = n.to_string_lossy();
            n == "python" || (n.starts_with("python") && n[6..].chars().all(|c| c.is_ascii_digit() || c == '.'))
        })
    })
}

/// The prefix of the Python environment whose site directory `entry` is, when that is not `own_prefix`:
/// `<P>/lib/pythonX.Y/site-packages`, `<P>/lib/python3/dist-packages`, `<P>/local/lib/pythonX.Y/dist-packages`.
pub fn foreign_env(entry: &Path, own_prefix: Option<&Path>) -> Option<String> {
    let leaf = entry.file_name()?.to_str()?;
    if leaf != "site-packages" && leaf != "dist-packages" {
        return None;
    }
    let pydir = entry.parent()?;
    if !pydir.file_name()?.to_str()?.starts_with("python") {
        return None;
    }
    let libdir = pydir.parent()?;
    if !matches!(libdir.file_name()?.to_str()?, "lib" | "lib64") {
        return None;
    }
    let mut prefix = libdir.parent()?.to_path_buf();
    if prefix.file_name().is_some_and(|n| n == "local") && !is_python_env(&prefix) {
        prefix = prefix.parent()?.to_path_buf();
    }
    if !is_python_env(&prefix) || own_prefix.is_some_and(|own| canon(&prefix) == own) {
        return None;
    }
    Some(prefix.display().to_string())
}

/// Normalises a distribution name the way packaging does (PEP 503): lower case, runs of `-_.` as `-`.
fn normalise(name: &str) -> String {
    let mut out = String::new();
    for c in name.chars() {
        let c = c.to_ascii_lowercase();
        if matches!(c, '-' | '_' | '.') {
            if !out.ends_with('-') {
                out.push('-');
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// The `Version:` header of a METADATA or PKG-INFO file.
fn metadata_version(file: &Path) -> Option<String> {
    let text = std::fs::read_to_string(file).ok()?;
    text.lines()
        .take_while(|l| !l.is_empty())
        .find_map(|l| l.strip_prefix("Version:"))
        .map(|v| v.trim().to_string())
}

/// The version of distribution `dist` installed in `entry`, from its `.dist-info` or `.egg-info`.
pub fn dist_version(entry: &Path, dist: &str) -> Option<(String, VersionFrom)> {
    let want = normalise(dist);
    let mut found: Vec<(String, VersionFrom)> = Vec::new();
    for e in std::fs::read_dir(entry).ok()?.filter_map(|e| e.ok()) {
        let name = e.file_name().to_string_lossy().into_owned();
        let (stem, kind, meta) = if let Some(s) = name.strip_suffix(".dist-info") {
            (s.to_string(), VersionFrom::DistInfo, "METADATA")
        } else if let Some(s) = name.strip_suffix(".egg-info") {
            (s.to_string(), VersionFrom::EggInfo, "PKG-INFO")
        } else {
            continue;
        };
        let Some((dist_name, rest)) = stem.split_once('-') else { continue };
        if normalise(dist_name) != want {
            continue;
        }
        let path = e.path();
        let meta_file = if path.is_dir() { path.join(meta) } else { path.clone() };
        let version = metadata_version(&meta_file).unwrap_or_else(|| rest.split('-').next().unwrap_or(rest).to_string());
        found.push((version, kind));
    }
    found.sort();
    found.pop()
}

/// The first string literal assigned on a line starting with `key` (`version = "2.4.6"`, `__version__ = '3.1.4'`,
/// `"version": "1.24.2"`).
pub fn assigned_string(text: &str, keys: &[&str]) -> Option<String> {
    text.lines().find_map(|line| {
        let line = line.trim_start();
        let rest = keys.iter().find_map(|k| line.strip_prefix(k))?;
        let rest = rest.trim_start().strip_prefix(['=', ':'])?.trim_start();
        let quote = rest.chars().next().filter(|c| *c == '"' || *c == '\'')?;
        let body = &rest[1..];
        let end = body.find(quote)?;
        Some(body[..end].to_string())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn assigned_strings_are_read_from_version_files() {
        assert_eq!(
            assigned_string("x = 1\nversion = \"2.4.6\"\n", &["version"]).as_deref(),
            Some("2.4.6")
        );
        assert_eq!(
            assigned_string("__version__ = '3.1.4'\n", &["__version__"]).as_deref(),
            Some("3.1.4")
        );
        assert_eq!(
            assigned_string("version_json = '''\n{\n \"version\": \"1.24.2\"\n}'''", &["\"version\""]).as_deref(),
            Some("1.24.2")
        );
        assert_eq!(assigned_string("version_tuple = (1, 2)\n", &["version"]), None);
    }

    #[test]
    fn distribution_names_normalise() {
        assert_eq!(normalise("Foo_Bar.baz"), "foo-bar-baz");
        assert_eq!(normalise("h5py._debian_h5py_serial"), "h5py-debian-h5py-serial");
    }

    #[test]
    fn a_venv_site_dir_is_a_foreign_env_and_a_plain_dir_is_not() {
        let dir = tempfile::tempdir().unwrap();
        let venv = dir.path().join("venv");
        let site = venv.join("lib/python3.11/site-packages");
        std::fs::create_dir_all(&site).unwrap();
        std::fs::write(venv.join("pyvenv.cfg"), "").unwrap();
        assert_eq!(foreign_env(&site, None).as_deref(), Some(venv.to_str().unwrap()));
        assert_eq!(foreign_env(&site, Some(&canon(&venv))), None, "its own site dir is not foreign");
        let spack = dir.path().join("py-h5py/lib/python3.11/site-packages");
        std::fs::create_dir_all(&spack).unwrap();
        assert_eq!(
            foreign_env(&spack, None),
            None,
            "a package prefix without an interpreter is not an environment"
        );
    }
}
