//! Real Python environments for the Python group's tests: venvs of Debian's /usr/bin/python3 with real
//! PyPI wheels, built on first use and cached under `target/test-venvs/` (wheels under
//! `target/test-wheels/`), so a second run costs nothing. A lock file per venv keeps tests running in
//! parallel (or two `cargo test` runs) from building the same venv twice; a stamp file written last marks
//! a venv complete, so an interrupted build is redone.
#![allow(dead_code)]

use std::io::Write;
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};
use std::process::Command;

/// Debian's interpreter, with python3-h5py, python3-numpy and python3-mpi4py (scripts/dev.sh installs them).
pub const DEBIAN_PYTHON: &str = "/usr/bin/python3";

/// A built venv.
pub struct Venv {
    pub root: PathBuf,
}

impl Venv {
    pub fn python(&self) -> PathBuf {
        self.root.join("bin/python")
    }

    /// Its site-packages directory (`lib/python3.X/site-packages`).
    pub fn site_packages(&self) -> PathBuf {
        let lib = self.root.join("lib");
        let pydir = std::fs::read_dir(&lib)
            .unwrap_or_else(|e| panic!("{}: {e}", lib.display()))
            .filter_map(|e| e.ok())
            .find(|e| e.file_name().to_string_lossy().starts_with("python"))
            .unwrap_or_else(|| panic!("no python* directory in {}", lib.display()));
        pydir.path().join("site-packages")
    }
}

/// How pip treats dependencies.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Deps {
    /// Install what the packages need.
    Resolve,
    /// Install exactly the packages named (to build a deliberately broken combination).
    Exact,
}

/// `target/`, found from the h5doctor binary the tests run (`target/debug/h5doctor`).
pub fn target_dir() -> PathBuf {
    let exe = PathBuf::from(env!("CARGO_BIN_EXE_h5doctor"));
    exe.parent()
        .and_then(Path::parent)
        .expect("target/<profile>/h5doctor")
        .to_path_buf()
}

fn run(cmd: &mut Command, what: &str) -> Result<(), String> {
    let out = cmd.output().map_err(|e| format!("{what}: cannot run: {e}"))?;
    if out.status.success() {
        return Ok(());
    }
    Err(format!(
        "{what} failed ({}):\n{}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    ))
}

fn pip(python: &Path) -> Command {
    let mut c = Command::new(python);
    c.args(["-m", "pip"])
        .env("PIP_DISABLE_PIP_VERSION_CHECK", "1")
        .env("PIP_NO_INPUT", "1");
    for var in ["PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV", "PIP_REQUIRE_VIRTUALENV"] {
        c.env_remove(var);
    }
    c
}

/// An exclusive flock on `path` (created if missing), held until the file is dropped.
fn lock(path: &Path) -> std::fs::File {
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    // SAFETY: flock on a descriptor we own; the lock goes with the descriptor.
    assert_eq!(
        unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX) },
        0,
        "cannot lock {}",
        path.display()
    );
    file
}

/// Installs `packages` into the venv from the wheel cache, downloading them from PyPI into it first when
/// they are not there yet. One pip at a time works on the cache, so no wheel is read half-written.
fn install(python: &Path, packages: &[&str], deps: Deps) -> Result<(), String> {
    let wheels = target_dir().join("test-wheels");
    std::fs::create_dir_all(&wheels).map_err(|e| format!("{}: {e}", wheels.display()))?;
    let _cache = lock(&target_dir().join("test-wheels.lock"));
    let offline = |c: &mut Command| {
        c.args(["install", "-q", "--no-index", "--only-binary=:all:", "--find-links"])
            .arg(&wheels);
        if deps == Deps::Exact {
            c.arg("--no-deps");
        }
        c.args(packages);
    };
    let mut first = pip(python);
    offline(&mut first);
    if run(&mut first, "pip install from target/test-wheels").is_ok() {
        return Ok(());
    }
    let mut download = pip(python);
    download.args(["download", "-q", "--only-binary=:all:", "-d"]).arg(&wheels);
    if deps == Deps::Exact {
        download.arg("--no-deps");
    }
    download.args(packages);
    run(&mut download, &format!("pip download {}", packages.join(" ")))?;
    let mut second = pip(python);
    offline(&mut second);
    run(&mut second, &format!("pip install {}", packages.join(" ")))
}

/// The venv `name` with exactly `packages` (built from /usr/bin/python3 on first use, then cached).
pub fn venv(name: &str, packages: &[&str], deps: Deps) -> Venv {
    build(name, packages, deps, &[])
}

/// An empty venv that sees Debian's packages (`--system-site-packages`), and so also the user site.
pub fn venv_with_system_site(name: &str) -> Venv {
    build(name, &[], Deps::Resolve, &["--system-site-packages"])
}

/// A venv of Debian's Python that sees its packages (`--system-site-packages`: python3-h5py-mpi) with
/// `packages` from PyPI on top, cached outside the clone in `~/.cache/h5doctor-tests/<name>` (the name
/// carries the versions), built there when missing.
pub fn cached_system_site_venv(name: &str, packages: &[&str]) -> Venv {
    let home = std::env::var_os("HOME").map_or_else(|| PathBuf::from("/tmp"), PathBuf::from);
    build_in(
        &home.join(".cache/h5doctor-tests"),
        name,
        packages,
        Deps::Resolve,
        &["--system-site-packages"],
    )
}

fn build(name: &str, packages: &[&str], deps: Deps, venv_flags: &[&str]) -> Venv {
    build_in(&target_dir().join("test-venvs"), name, packages, deps, venv_flags)
}

fn build_in(base: &Path, name: &str, packages: &[&str], deps: Deps, venv_flags: &[&str]) -> Venv {
    std::fs::create_dir_all(base).unwrap_or_else(|e| panic!("{}: {e}", base.display()));
    let root = base.join(name);
    let stamp = root.join(".h5doctor-test-ready");
    let flags: String = venv_flags.iter().map(|f| format!(" {f}")).collect();
    let spec = format!(
        "base={DEBIAN_PYTHON} packages={} deps={}{flags}\n",
        packages.join(" "),
        deps == Deps::Resolve
    );
    let _building = lock(&base.join(format!("{name}.lock")));
    if std::fs::read_to_string(&stamp).is_ok_and(|s| s == spec) {
        return Venv { root };
    }
    let _ = std::fs::remove_dir_all(&root);
    let mut make = Command::new(DEBIAN_PYTHON);
    make.args(["-m", "venv"]).args(venv_flags);
    if packages.is_empty() {
        make.arg("--without-pip");
    }
    make.arg(&root);
    if let Err(e) = run(&mut make, "python3 -m venv").and_then(|_| {
        if packages.is_empty() {
            Ok(())
        } else {
            install(&root.join("bin/python"), packages, deps)
        }
    }) {
        panic!("cannot build the test venv {name} (needs python3-venv and PyPI): {e}");
    }
    let mut f = std::fs::File::create(&stamp).unwrap();
    f.write_all(spec.as_bytes()).unwrap();
    Venv { root }
}
