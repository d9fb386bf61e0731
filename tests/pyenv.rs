//! h5doctor resolves pyenv shims by reading pyenv's files instead of running them
//! (src/groups/python/probe/pyenv.rs). These tests hold that resolution against the real pyenv: a pinned pyenv
//! release cached in ~/.cache/h5doctor-tests/pyenv-VERSION, else the pyenv installed on this machine
//! (PYENV_ROOT or ~/.pyenv; CI machines have one, and reach no GitHub), else a git clone of the release (the
//! test FAILS with what to do when none is there), its `libexec` and `pyenv.d` copied into a fresh root, no
//! Python built: each "version" is a prefix whose bin/python3 is a real interpreter (Debian's python3, a
//! venv of it), and the shims are made by the real `pyenv rehash`. For each way of choosing a version
//! (global file, PYENV_VERSION, a `.python-version` in a parent directory, a version list, `system`), the
//! interpreter h5doctor reports for the `python3` shim must be the one `pyenv which python3` names, found
//! without running the shim (`resolved_by` set), and must be the interpreter the shim really runs.

mod common;

use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Command;

/// The pyenv release the tests run against.
const PYENV_TAG: &str = "v2.6.30";
const PYENV_GIT: &str = "https://github.com/pyenv/pyenv.git";

/// A real pyenv's source tree: the cached clone of `PYENV_TAG`, else this machine's installed pyenv (only
/// read: its `libexec` and `pyenv.d` are copied), else a fresh clone.
fn pyenv_clone() -> PathBuf {
    let home = std::env::var_os("HOME").expect("HOME");
    let cache = Path::new(&home).join(format!(".cache/h5doctor-tests/pyenv-{}", PYENV_TAG.trim_start_matches('v')));
    if cache.join("libexec/pyenv").is_file() {
        return cache;
    }
    let installed = std::env::var_os("PYENV_ROOT")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(&home).join(".pyenv"));
    if installed.join("libexec/pyenv").is_file() && installed.join("pyenv.d").is_dir() {
        eprintln!("pyenv: no cached {PYENV_TAG}; using the pyenv installed in {}", installed.display());
        return installed;
    }
    let url = std::env::var("H5DOCTOR_TEST_PYENV_GIT").unwrap_or_else(|_| PYENV_GIT.into());
    std::fs::create_dir_all(cache.parent().unwrap()).unwrap();
    let partial = cache.with_extension(format!("partial-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&partial);
    let out = Command::new("git")
        .args(["clone", "--quiet", "--depth", "1", "--branch", PYENV_TAG])
        .arg(&url)
        .arg(&partial)
        .output();
    let failed = match &out {
        Err(e) => Some(format!("cannot run git: {e} (Debian: apt-get install git)")),
        Ok(o) if !o.status.success() => Some(String::from_utf8_lossy(&o.stderr).trim().to_string()),
        Ok(_) => None,
    };
    if let Some(why) = failed {
        let _ = std::fs::remove_dir_all(&partial);
        panic!(
            "cannot clone pyenv {PYENV_TAG} from {url} into {}: {why}\nThis test needs an installed pyenv \
             (PYENV_ROOT or ~/.pyenv), network access to GitHub, or H5DOCTOR_TEST_PYENV_GIT naming a pyenv git repository that has the tag {PYENV_TAG}.",
            cache.display()
        );
    }
    // Another test process may have finished first: either copy is the same release.
    if std::fs::rename(&partial, &cache).is_err() {
        let _ = std::fs::remove_dir_all(&partial);
    }
    assert!(cache.join("libexec/pyenv").is_file(), "{} holds no libexec/pyenv", cache.display());
    cache
}

fn copy_tree(from: &Path, to: &Path) {
    let status = Command::new("cp").arg("-R").arg(from).arg(to).status().expect("cp");
    assert!(status.success(), "cp -R {} {}", from.display(), to.display());
}

/// A pyenv root with two versions and the shims `pyenv rehash` makes for them.
struct PyenvRoot {
    _dir: tempfile::TempDir,
    root: PathBuf,
    /// Where the tests run (a directory below `root`'s parent, for `.python-version` files above it).
    work: PathBuf,
}

impl PyenvRoot {
    fn new() -> Self {
        let clone = pyenv_clone();
        let dir = common::tempdir();
        let root = dir.path().join("pyenv");
        std::fs::create_dir_all(root.join("versions")).unwrap();
        copy_tree(&clone.join("libexec"), &root.join("libexec"));
        copy_tree(&clone.join("pyenv.d"), &root.join("pyenv.d"));
        // Version "debian": a prefix whose interpreters are Debian's python3.
        let debian = root.join("versions/debian/bin");
        std::fs::create_dir_all(&debian).unwrap();
        for name in ["python3", "python"] {
            std::os::unix::fs::symlink("/usr/bin/python3", debian.join(name)).unwrap();
        }
        // Version "venv": a venv of it (a symlinked version directory, as pyenv-virtualenv makes them).
        let venv = dir.path().join("venv");
        let made = Command::new("/usr/bin/python3")
            .args(["-m", "venv", "--without-pip"])
            .arg(&venv)
            .status()
            .expect("python3 -m venv");
        assert!(
            made.success(),
            "python3 -m venv --without-pip failed (Debian: apt-get install python3-venv)"
        );
        std::os::unix::fs::symlink(&venv, root.join("versions/venv")).unwrap();
        let work = dir.path().join("project/sub");
        std::fs::create_dir_all(&work).unwrap();
        let this = Self { _dir: dir, root, work };
        let rehash = this.pyenv(&[]).arg("rehash").output().expect("pyenv rehash");
        assert!(rehash.status.success(), "pyenv rehash: {}", String::from_utf8_lossy(&rehash.stderr));
        assert!(this.shim().is_file(), "pyenv rehash made no python3 shim");
        this
    }

    fn shim(&self) -> PathBuf {
        self.root.join("shims/python3")
    }

    /// The environment of a user of this root: PYENV_ROOT, the shims first on PATH, nothing else chosen.
    fn env(&self, cmd: &mut Command, vars: &[(&str, &str)]) {
        cmd.current_dir(&self.work)
            .env("PYENV_ROOT", &self.root)
            .env("PATH", format!("{}:/usr/bin:/bin", self.root.join("shims").display()));
        for var in [
            "PYENV_VERSION",
            "PYENV_DIR",
            "PYENV_DEBUG",
            "PYENV_HOOK_PATH",
            "VIRTUAL_ENV",
            "CONDA_PREFIX",
            "PYTHONPATH",
            "PYTHONHOME",
        ] {
            cmd.env_remove(var);
        }
        for (k, v) in vars {
            cmd.env(k, v);
        }
    }

    fn pyenv(&self, vars: &[(&str, &str)]) -> Command {
        let mut cmd = Command::new(self.root.join("libexec/pyenv"));
        self.env(&mut cmd, vars);
        cmd
    }

    /// What the real pyenv answers, and what the shim really runs.
    fn truth(&self, vars: &[(&str, &str)]) -> (String, String) {
        let which = self.pyenv(vars).args(["which", "python3"]).output().expect("pyenv which");
        assert!(
            which.status.success(),
            "pyenv which python3: {}",
            String::from_utf8_lossy(&which.stderr)
        );
        let mut run = Command::new(self.shim());
        self.env(&mut run, vars);
        let ran = run.args(["-c", "import sys; print(sys.executable)"]).output().expect("the shim");
        assert!(ran.status.success(), "the python3 shim: {}", String::from_utf8_lossy(&ran.stderr));
        let line = |b: &[u8]| String::from_utf8_lossy(b).trim().to_string();
        (line(&which.stdout), line(&ran.stdout))
    }

    /// h5doctor's facts of the `python3` shim.
    fn diagnosed(&self, vars: &[(&str, &str)]) -> Value {
        let mut cmd = Command::new(common::bin("h5doctor"));
        self.env(&mut cmd, vars);
        let out = cmd
            .args(["facts", "--json", "--only", "python", "--no-python-import", "--no-default-dirs"])
            .output()
            .expect("h5doctor");
        assert!(out.status.success(), "h5doctor facts: {}", String::from_utf8_lossy(&out.stderr));
        let facts: Value = serde_json::from_slice(&out.stdout).expect("facts JSON");
        let shim = self.shim().display().to_string();
        facts["python"]["interpreters"]
            .as_array()
            .unwrap()
            .iter()
            .find(|i| i["path"] == shim.as_str())
            .cloned()
            .unwrap_or_else(|| panic!("the python3 shim was not diagnosed: {facts:#}"))
    }

    /// h5doctor's static resolution names what `pyenv which` names, and the interpreter it reports is the
    /// one the shim runs.
    fn assert_agrees(&self, vars: &[(&str, &str)], expected: &str) {
        let (which, executable) = self.truth(vars);
        assert_eq!(which, expected, "pyenv itself ({vars:?})");
        let facts = self.diagnosed(vars);
        let how = facts["resolved_by"]
            .as_str()
            .unwrap_or_else(|| panic!("not resolved statically ({vars:?}): {facts:#}"));
        assert!(
            how.ends_with(&format!(": {which}")),
            "h5doctor: {how}\npyenv which python3: {which}\n({vars:?})"
        );
        assert_eq!(facts["executable"], executable.as_str(), "({vars:?}) {facts:#}");
        assert_eq!(facts["status"], "ok", "{facts:#}");
    }
}

#[test]
fn shims_resolve_as_the_real_pyenv_resolves_them() {
    let env = PyenvRoot::new();
    let version = |v: &str| format!("{}/versions/{v}/bin/python3", env.root.display());
    std::fs::write(env.root.join("version"), "debian\n").unwrap();
    env.assert_agrees(&[], &version("debian"));
    env.assert_agrees(&[("PYENV_VERSION", "venv")], &version("venv"));
    // A version list: the first version that has the program.
    env.assert_agrees(&[("PYENV_VERSION", "venv:debian")], &version("venv"));
    // A .python-version above the working directory wins over the global file, with comments skipped.
    std::fs::write(env.work.parent().unwrap().join(".python-version"), "# project\nvenv\n").unwrap();
    env.assert_agrees(&[], &version("venv"));
    // PYENV_VERSION wins over both.
    env.assert_agrees(&[("PYENV_VERSION", "debian")], &version("debian"));
    // `system`: python3 on PATH after the shims.
    std::fs::write(env.work.parent().unwrap().join(".python-version"), "system\n").unwrap();
    env.assert_agrees(&[], "/usr/bin/python3");
}
