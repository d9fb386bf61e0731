//! Real ELF fixtures for the loader tests, built at test time with the C compiler: tiny shared objects
//! with chosen DT_NEEDED, RPATH, RUNPATH, sonames and symbol versions; and `ldd` (glibc's loader, the
//! ground truth) to compare h5doctor's answer with.
#![allow(dead_code)]

use serde_json::Value;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

/// A directory of fixtures, removed at the end of the test.
pub struct Fx {
    pub dir: tempfile::TempDir,
}

impl Fx {
    pub fn new() -> Self {
        Fx {
            dir: tempfile::Builder::new().prefix("h5doctor-elf-").tempdir().unwrap(),
        }
    }

    pub fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    /// Compiles C source into the shared object `rel` (directories created), with extra cc arguments
    /// (`-Wl,-rpath,...`, libraries to link). A version script can be given as `(name, text)`.
    pub fn so(&self, rel: &str, soname: Option<&str>, src: &str, args: &[&str]) -> PathBuf {
        let out = self.path(rel);
        std::fs::create_dir_all(out.parent().unwrap()).unwrap();
        let c = out.with_extension("fixture.c");
        std::fs::write(&c, src).unwrap();
        let mut cmd = Command::new("cc");
        cmd.args(["-shared", "-fPIC", "-O0", "-o"]).arg(&out).arg(&c);
        if let Some(s) = soname {
            cmd.arg(format!("-Wl,-soname,{s}"));
        }
        cmd.args(args);
        let o = cmd.output().expect("cc runs");
        assert!(o.status.success(), "cc failed for {rel}: {}", String::from_utf8_lossy(&o.stderr));
        std::fs::remove_file(&c).unwrap();
        out
    }

    /// Writes a linker version script and returns the `-Wl,--version-script=` argument.
    pub fn version_script(&self, rel: &str, text: &str) -> String {
        let p = self.path(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(&p, text).unwrap();
        format!("-Wl,--version-script={}", p.display())
    }

    /// A fake libhdf5: exports H5open (and `extra` functions) and embeds the version string.
    pub fn fake_hdf5(&self, rel: &str, soname: &str, version: &str, extra: &[&str]) -> PathBuf {
        let mut src =
            format!("const char h5_vers_info[] = \"HDF5 library version: {version}\";\nint H5open(void) {{ return h5_vers_info[0]; }}\n");
        for f in extra {
            src.push_str(&format!("int {f}(void) {{ return 0; }}\n"));
        }
        self.so(rel, Some(soname), &src, &[])
    }
}

/// What glibc's loader says: `ldd FILE` as name -> realpath (None: not found), vdso dropped, the
/// loader's own line keyed by its file name.
pub fn ldd(file: &Path, env: &[(&str, &str)]) -> BTreeMap<String, Option<String>> {
    let mut cmd = Command::new("ldd");
    cmd.arg(file).env_remove("LD_LIBRARY_PATH").env_remove("LD_PRELOAD");
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().expect("ldd runs");
    let text = String::from_utf8_lossy(&out.stdout);
    let mut map = BTreeMap::new();
    for line in text.lines().map(str::trim) {
        let without_addr = line.rsplit_once(" (0x").map_or(line, |(l, _)| l);
        if let Some((name, path)) = without_addr.split_once(" => ") {
            let path = (path != "not found").then(|| real(path));
            map.insert(name.to_string(), path);
        } else if without_addr.starts_with('/') {
            // A bare path: the dynamic loader (keyed by its soname-like file name), or an object
            // loaded by path (a preload), keyed by that path.
            let base = without_addr.rsplit('/').next().unwrap().to_string();
            let name = if base.starts_with("ld-") { base } else { without_addr.to_string() };
            map.insert(name, Some(real(without_addr)));
        }
    }
    map.remove("linux-vdso.so.1");
    map
}

fn real(p: &str) -> String {
    std::fs::canonicalize(p).map_or_else(|_| p.to_string(), |p| p.display().to_string())
}

/// `h5doctor ldd --json FILE` under an environment: (exit code, the file's JSON object).
pub fn h5ldd(file: &Path, env: &[(&str, &str)]) -> (i32, Value) {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_h5doctor"));
    cmd.args(["ldd", "--json"])
        .arg(file)
        .env_remove("LD_LIBRARY_PATH")
        .env_remove("LD_PRELOAD");
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().expect("h5doctor runs");
    let doc: Value =
        serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&out.stderr)));
    (out.status.code().unwrap_or(-1), doc["files"][0].clone())
}

/// The `libraries` list of h5doctor's JSON as name -> realpath.
pub fn libraries(file: &Value) -> BTreeMap<String, Option<String>> {
    file["libraries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| (l["name"].as_str().unwrap().to_string(), l["path"].as_str().map(real)))
        .collect()
}

/// The object of h5doctor's JSON loaded under `name`.
pub fn object<'a>(file: &'a Value, name: &str) -> &'a Value {
    file["objects"]
        .as_array()
        .unwrap()
        .iter()
        .find(|o| o["name"] == name)
        .unwrap_or_else(|| panic!("no object {name} in {file:#}"))
}

/// Asserts h5doctor and ldd agree on the file under the environment, and returns h5doctor's view.
pub fn assert_agrees(file: &Path, env: &[(&str, &str)]) -> (i32, Value) {
    let (code, json) = h5ldd(file, env);
    assert_eq!(
        libraries(&json),
        ldd(file, env),
        "h5doctor vs ldd for {} with {env:?}",
        file.display()
    );
    (code, json)
}
