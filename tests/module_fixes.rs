//! Module fixes end to end with REAL Lmod (Debian `lmod`): for each finding whose cure is "load the other
//! module", an environment with the problem is made with Lmod's own `module`, h5doctor names the module
//! line, the test runs exactly that line with the real module command, h5doctor runs again, and the
//! finding is gone. The libraries are real ELF files built here with the C compiler (tests/elf_fixtures),
//! so what a module "provides" is what h5doctor read from the directories the module adds.

mod common;
mod elf_fixtures;

use common::{finding, slugs};
use elf_fixtures::Fx;
use serde_json::Value;
use std::path::Path;
use std::process::Command;

const LMOD_INIT: &str = "/usr/share/lmod/lmod/init/bash";

fn require_lmod() {
    assert!(
        Path::new(LMOD_INIT).is_file(),
        "Lmod is not installed ({LMOD_INIT}); `apt-get install lmod` (scripts/dev.sh installs it)"
    );
}

fn write_tree(root: &Path, files: &[(&str, String)]) {
    for (rel, text) in files {
        let p = root.join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, text).unwrap();
    }
}

/// The site's module system a test runs: Lmod, or Environment Modules' modulecmd.tcl.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Tool {
    Lmod,
    EnvModules,
}

/// Debian's environment-modules, unpacked (never installed: it conflicts with lmod as a package) into
/// ~/.cache/h5doctor-tests/environment-modules-<version>/root on first use; its modulecmd.tcl.
fn envmodules_cmd() -> std::path::PathBuf {
    let cache = Path::new(&std::env::var("HOME").expect("HOME is set")).join(".cache/h5doctor-tests");
    let root = cache.join("environment-modules-5.2.0/root");
    let cmd = root.join("usr/lib/x86_64-linux-gnu/modulecmd.tcl");
    if !cmd.is_file() {
        let tmp = common::tempdir();
        let got = Command::new("apt-get")
            .args(["download", "environment-modules=5.2.0-1"])
            .current_dir(tmp.path())
            .output()
            .expect("apt-get runs");
        assert!(
            got.status.success(),
            "cannot download Debian's environment-modules 5.2.0-1 (apt-get download environment-modules): {}",
            String::from_utf8_lossy(&got.stderr)
        );
        let deb = tmp.path().join("environment-modules_5.2.0-1_amd64.deb");
        let staging = cache.join(format!("environment-modules-5.2.0.{}", std::process::id()));
        let x = Command::new("dpkg-deb")
            .arg("-x")
            .arg(&deb)
            .arg(staging.join("root"))
            .status()
            .unwrap();
        assert!(x.success(), "dpkg-deb -x {} failed", deb.display());
        std::fs::create_dir_all(cache.join("environment-modules-5.2.0")).unwrap();
        // Another test may have unpacked it meanwhile: either copy is complete.
        let _ = std::fs::rename(staging.join("root"), &root);
        let _ = std::fs::remove_dir_all(&staging);
    }
    assert!(Path::new("/usr/bin/tclsh8.6").is_file(), "tclsh is missing: apt-get install tcl");
    cmd
}

/// Runs `script` in a clean bash with Lmod initialised and MODULEPATH set; `$H5DOCTOR` is the binary
/// under test. Returns (exit code, stdout, stderr).
fn lmod(modulepath: &str, script: &str) -> (i32, String, String) {
    shell(Tool::Lmod, modulepath, script)
}

/// Runs `script` in a clean bash where `module` is the given tool's, as its init script defines it.
fn shell(tool: Tool, modulepath: &str, script: &str) -> (i32, String, String) {
    let home = common::tempdir();
    let init = match tool {
        Tool::Lmod => format!("source {LMOD_INIT}\nexport LMOD_IGNORE_CACHE=1"),
        Tool::EnvModules => {
            let cmd = envmodules_cmd();
            let home = cmd.ancestors().nth(3).unwrap().join("share/modules");
            format!(
                "export MODULES_CMD={}\nexport MODULESHOME={}\nmodule() {{ eval \"$(/usr/bin/tclsh8.6 \"$MODULES_CMD\" bash \"$@\")\"; }}",
                cmd.display(),
                home.display()
            )
        }
    };
    let full = format!("{init}\nexport MODULEPATH={modulepath}\n{script}");
    let out = Command::new("bash")
        .args(["--noprofile", "--norc", "-c", &full])
        .env_clear()
        .env("PATH", "/usr/bin:/bin")
        .env("HOME", home.path())
        .env("H5DOCTOR", env!("CARGO_BIN_EXE_h5doctor"))
        .output()
        .expect("bash runs");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into(),
        String::from_utf8_lossy(&out.stderr).into(),
    )
}

/// `setup` (module loads, exports) then `h5doctor check --json ARGS`: the report and the exit code.
fn check(modulepath: &str, setup: &str, args: &str) -> (Value, i32) {
    check_with(Tool::Lmod, modulepath, setup, args)
}

fn check_with(tool: Tool, modulepath: &str, setup: &str, args: &str) -> (Value, i32) {
    let (code, stdout, stderr) = shell(
        tool,
        modulepath,
        &format!("{setup}\n\"$H5DOCTOR\" check --no-default-dirs --no-default-pythons --json {args}"),
    );
    let report: Value = serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("not JSON ({e}): {stdout}\nstderr: {stderr}"));
    (report, code)
}

/// The text and note of the finding's fix of kind `module`.
fn module_fix(report: &Value, slug: &str) -> (String, String) {
    let f = finding(report, slug);
    let fix = f["fixes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|x| x["kind"] == "module")
        .unwrap_or_else(|| panic!("{slug} has no module fix: {f:#}"));
    (
        fix["text"].as_str().unwrap().to_string(),
        fix["note"].as_str().unwrap_or_default().to_string(),
    )
}

/// The whole loop: h5doctor names `expected_line` for `slug`; the test runs exactly that line with
/// Lmod after `setup`; h5doctor again: the finding is gone. Returns the report after the fix.
fn fix_clears(modulepath: &str, setup: &str, args: &str, slug: &str, expected_line: &str) -> Value {
    fix_clears_with(Tool::Lmod, modulepath, setup, args, slug, expected_line)
}

fn fix_clears_with(tool: Tool, modulepath: &str, setup: &str, args: &str, slug: &str, expected_line: &str) -> Value {
    let tool_name = match tool {
        Tool::Lmod => "Lmod (",
        Tool::EnvModules => "Environment Modules (",
    };
    let (report, _) = check_with(tool, modulepath, setup, args);
    let (line, _) = module_fix(&report, slug);
    assert_eq!(line, expected_line, "{report:#}");
    // h5doctor verified it on the spot: Lmod ran the line in a child, the probe re-ran in its environment.
    let fix = finding(&report, slug)["fixes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|x| x["kind"] == "module")
        .unwrap()
        .clone();
    assert_eq!(fix["verified"], true, "{fix:#}");
    assert!(
        fix["verification"]
            .as_str()
            .unwrap()
            .starts_with(&format!("verified here: after `{line}` with {tool_name}")),
        "{fix:#}"
    );
    let (code, _, stderr) = shell(tool, modulepath, &format!("{setup}\n{line} || exit 9"));
    assert_eq!(code, 0, "the module line fails with the real {tool:?}: {stderr}");
    let (after, _) = check_with(tool, modulepath, &format!("{setup}\n{line} || exit 9"), args);
    assert!(
        !slugs(&after).contains(&slug.to_string()),
        "{slug} still there after `{line}`: {after:#}"
    );
    after
}

/// A Lmod module that adds `lib` below `$SITE_ROOT` (or the default) to LD_LIBRARY_PATH.
fn site_module(subdir: &str, extra: &str) -> String {
    format!(
        "-- -*- lua -*-\nwhatis(\"HDF5 of the site\")\n{extra}\nlocal root = pathJoin(os.getenv(\"SITE_ROOT\") or \"/opt/site\", \"{subdir}\")\nprepend_path(\"LD_LIBRARY_PATH\", pathJoin(root, \"lib\"))\nsetenv(\"HDF5_DIR\", root)\n"
    )
}

#[test]
fn lib_not_found_names_the_default_module_that_holds_the_soname_read_with_os_getenv() {
    require_lmod();
    let fx = Fx::new();
    fx.fake_hdf5("site/hdf5-3.1.0/lib/libhdf5_site.so.310", "libhdf5_site.so.310", "1.14.3", &[]);
    fx.fake_hdf5("site/hdf5-3.0.9/lib/libhdf5_site.so.310", "libhdf5_site.so.310", "1.14.1", &[]);
    let lib = fx.path("site/hdf5-3.1.0/lib");
    let app = fx.so(
        "bin/simulate.so",
        None,
        "int H5open(void); int simulate(void){return H5open();}\n",
        &[&format!("-L{}", lib.display()), "-l:libhdf5_site.so.310"],
    );
    let tree = common::tempdir();
    write_tree(
        tree.path(),
        &[
            ("site-hdf5/3.1.0.lua", site_module("hdf5-3.1.0", "")),
            ("site-hdf5/3.0.9.lua", site_module("hdf5-3.0.9", "")),
            ("tools/1.0.lua", "whatis(\"unrelated\")\n".to_string()),
        ],
    );
    let mp = tree.path().to_str().unwrap();
    let site_root = format!("export SITE_ROOT={}", fx.path("site").display());
    let args = format!("--only libraries --only modules --binary {}", app.display());

    // SITE_ROOT set: Lmod (and h5doctor) use it, so both versions hold the soname; the highest is the default.
    let (report, code) = check(mp, &site_root, &args);
    assert_eq!(code, 1);
    let (line, note) = module_fix(&report, "lib-not-found");
    assert_eq!(line, "module load site-hdf5/3.1.0");
    assert!(
        note.starts_with(&format!(
            "site-hdf5/3.1.0 adds {}/site/hdf5-3.1.0/lib, which holds libhdf5_site.so.310 (the default version). Also: site-hdf5/3.0.9",
            fx.path("").display().to_string().trim_end_matches('/')
        )),
        "{note}"
    );
    fix_clears(mp, &site_root, &args, "lib-not-found", "module load site-hdf5/3.1.0");

    // A marked default comes first, as Lmod picks it for `module load site-hdf5`.
    std::fs::write(
        tree.path().join("site-hdf5/.modulerc.lua"),
        "module_version(\"site-hdf5/3.0.9\", \"default\")\n",
    )
    .unwrap();
    let (_, listed, _) = lmod(mp, "module load site-hdf5 && module --terse list 2>&1");
    assert!(listed.contains("site-hdf5/3.0.9"), "Lmod's default: {listed}");
    fix_clears(mp, &site_root, &args, "lib-not-found", "module load site-hdf5/3.0.9");

    // A module whose load fails, and one whose load hangs: named, but not verified, with the reason;
    // the run stays bounded by --timeout.
    write_tree(
        tree.path(),
        &[(
            "site-hdf5/3.0.9.lua",
            site_module("hdf5-3.0.9", "LmodError(\"site-hdf5/3.0.9 is withdrawn\")"),
        )],
    );
    let (report, _) = check(mp, &site_root, &args);
    let f = finding(&report, "lib-not-found");
    let fix = f["fixes"].as_array().unwrap().iter().find(|x| x["kind"] == "module").unwrap();
    assert_eq!(fix["text"], "module load site-hdf5/3.0.9");
    assert_eq!(fix["verified"], false);
    let why = fix["verification"].as_str().unwrap();
    assert!(why.starts_with("not verified: `module load site-hdf5/3.0.9` with Lmod ("), "{why}");
    assert!(
        why.contains("exited with status 1") && why.contains("site-hdf5/3.0.9 is withdrawn"),
        "{why}"
    );
    write_tree(
        tree.path(),
        &[("site-hdf5/3.0.9.lua", site_module("hdf5-3.0.9", "while true do end"))],
    );
    let started = std::time::Instant::now();
    let (report, _) = check(mp, &site_root, &format!("{args} --timeout 3"));
    assert!(started.elapsed() < std::time::Duration::from_secs(30), "bounded by --timeout");
    let f = finding(&report, "lib-not-found");
    let fix = f["fixes"].as_array().unwrap().iter().find(|x| x["kind"] == "module").unwrap();
    assert_eq!(fix["verified"], false);
    assert!(
        fix["verification"].as_str().unwrap().contains("timed out after 3 s and was killed"),
        "{fix:#}"
    );
    write_tree(tree.path(), &[("site-hdf5/3.0.9.lua", site_module("hdf5-3.0.9", ""))]);

    // A site pin wins over the default.
    let site = common::tempdir();
    std::fs::write(site.path().join("pins.toml"), "[modules]\nhdf5-serial = \"site-hdf5/3.1.0\"\n").unwrap();
    let (report, _) = check(mp, &site_root, &format!("{args} --rules {}", site.path().display()));
    assert_eq!(module_fix(&report, "lib-not-found").0, "module load site-hdf5/3.1.0");

    // SITE_ROOT unset: the modules point at /opt/site, which has no such library: said plainly.
    let (report, _) = check(mp, "", &args);
    let f = finding(&report, "lib-not-found");
    let admin = f["fixes"].as_array().unwrap().iter().find(|x| x["kind"] == "admin").unwrap();
    assert_eq!(
        admin["text"],
        "Ask the administrators for a module that provides libhdf5_site.so.310"
    );
    assert_eq!(
        admin["note"],
        "No module on MODULEPATH provides it (3 modules in 1 trees of MODULEPATH; hierarchy levels included)."
    );
    assert!(f["fixes"].as_array().unwrap().iter().all(|x| x["kind"] != "module"), "{f:#}");
}

/// A Core/Compiler/MPI hierarchy as Spack and EasyBuild generate it (Lmod): gcc/12 opens the Compiler
/// level, openmpi/4.1 there opens the MPI level, where the parallel HDF5 lives.
fn hierarchy(fx: &Fx, tree: &Path) {
    fx.fake_hdf5(
        "opt/phdf5/lib/libhdf5_par.so.310",
        "libhdf5_par.so.310",
        "1.14.3",
        &["H5Pset_fapl_mpio"],
    );
    fx.fake_hdf5("opt/hdf5/lib/libhdf5_ser.so.103", "libhdf5_ser.so.103", "1.10.8", &[]);
    let t = tree.display();
    let opt = fx.path("opt");
    let o = opt.display();
    write_tree(
        tree,
        &[
            // Spack style: a literal path.
            (
                "Core/gcc/12.lua",
                format!("family(\"compiler\")\nprepend_path(\"MODULEPATH\", \"{t}/Compiler/gcc/12\")\n"),
            ),
            (
                "Core/hdf5/1.10.8.lua",
                format!("family(\"hdf5\")\nprepend_path(\"LD_LIBRARY_PATH\", \"{o}/hdf5/lib\")\n"),
            ),
            // EasyBuild style: the root from the environment, a level that does not exist, a level that loops.
            (
                "Compiler/gcc/12/openmpi/4.1.lua",
                "family(\"mpi\")\nlocal mroot = os.getenv(\"MODULEPATH_ROOT\")\nprepend_path(\"MODULEPATH\", pathJoin(mroot, \"MPI/gcc/12/openmpi/4.1\"))\n".to_string(),
            ),
            (
                "Compiler/gcc/12/broken/1.0.lua",
                format!("prepend_path(\"MODULEPATH\", \"{t}/nowhere\")\n"),
            ),
            (
                "MPI/gcc/12/openmpi/4.1/phdf5/1.14.3.lua",
                format!("family(\"hdf5\")\nprepend_path(\"LD_LIBRARY_PATH\", \"{o}/phdf5/lib\")\n"),
            ),
            (
                "MPI/gcc/12/openmpi/4.1/loop/1.0",
                format!("#%Module1.0\nmodule use {t}/Compiler/gcc/12\n"),
            ),
        ],
    );
}

#[test]
fn a_module_behind_a_compiler_and_an_mpi_is_named_with_the_whole_line_in_order() {
    require_lmod();
    let fx = Fx::new();
    let tree = common::tempdir();
    hierarchy(&fx, tree.path());
    let lib = fx.path("opt/phdf5/lib");
    let app = fx.so(
        "bin/solver.so",
        None,
        "int H5Pset_fapl_mpio(void); int solve(void){return H5Pset_fapl_mpio();}\n",
        &[&format!("-L{}", lib.display()), "-l:libhdf5_par.so.310"],
    );
    let core = tree.path().join("Core");
    let mp = core.to_str().unwrap();
    let setup = format!("export MODULEPATH_ROOT={}", tree.path().display());
    let args = format!("--only libraries --only modules --binary {}", app.display());
    fix_clears(mp, &setup, &args, "lib-not-found", "module load gcc/12 openmpi/4.1 phdf5/1.14.3");

    // With a serial HDF5 of the same family loaded, the line swaps it out after opening the levels.
    let loaded = format!("{setup}\nmodule load hdf5 || exit 9");
    fix_clears(
        mp,
        &loaded,
        &args,
        "lib-not-found",
        "module load gcc/12 openmpi/4.1 && module swap hdf5 phdf5/1.14.3",
    );

    // `h5doctor modules --provides SONAME`: which module gives me this library, and how to load it.
    let (code, out, stderr) = lmod(mp, &format!("{setup}\n\"$H5DOCTOR\" modules --provides libhdf5_par.so.310"));
    assert_eq!(code, 0, "{out}{stderr}");
    assert!(out.starts_with("phdf5/1.14.3 (default)\n"), "{out}");
    assert!(out.contains("\n    load first:  gcc/12 openmpi/4.1\n"), "{out}");
    assert!(
        out.contains("\n    provides:    HDF5 1.14.3 parallel, MPI (read from libhdf5_par.so.310)\n"),
        "{out}"
    );
    assert!(out.contains("\n    libraries:   libhdf5_par.so.310\n"), "{out}");
    assert!(
        out.contains("\n    load with:   module load gcc/12 openmpi/4.1 phdf5/1.14.3\n"),
        "{out}"
    );
    assert!(out.contains("1 of 6 modules (3 trees, hierarchy levels included)"), "{out}");
    assert!(out.contains("leads back to itself"), "problems are shown: {out}");
    let (code, out, _) = lmod(mp, &format!("{setup}\n\"$H5DOCTOR\" modules --provides libnothing.so.1"));
    assert_eq!(code, 1);
    assert!(
        out.starts_with("No module on MODULEPATH provides libnothing.so.1 (6 modules in 3 trees, hierarchy levels included). Ask the administrators for one.\n"),
        "{out}"
    );
    let (code, out, _) = lmod(mp, &format!("{setup}\n\"$H5DOCTOR\" modules hdf5 --provides hdf5-parallel --json"));
    assert_eq!(code, 0);
    let listed: Value = serde_json::from_str(&out).unwrap();
    let names: Vec<&str> = listed["modules"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["full_name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["phdf5/1.14.3"]);
    assert_eq!(listed["modules"][0]["line"], "module load gcc/12 openmpi/4.1 phdf5/1.14.3");
    assert_eq!(listed["system"], "lmod");

    // The index: the module's place in the hierarchy, the level that loops and the one that does not exist.
    let (code, facts, stderr) = lmod(mp, &format!("{setup}\n\"$H5DOCTOR\" facts --only modules --json"));
    assert_eq!(code, 0, "{stderr}");
    let facts: Value = serde_json::from_str(&facts).unwrap();
    let index = &facts["modules"]["index"];
    let phdf5 = index["modules"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["name"] == "phdf5")
        .expect("the MPI level is indexed");
    assert_eq!(phdf5["via"], serde_json::json!(["gcc/12", "openmpi/4.1"]));
    assert_eq!(phdf5["capabilities"], serde_json::json!(["hdf5-parallel"]));
    let problems: Vec<&str> = index["problems"].as_array().unwrap().iter().map(|p| p.as_str().unwrap()).collect();
    let t = tree.path().display();
    assert!(
        problems.contains(&format!("{t}/Compiler/gcc/12/broken/1.0.lua:1: MODULEPATH level {t}/nowhere does not exist").as_str()),
        "{problems:#?}"
    );
    assert!(
        problems.contains(
            &format!(
                "{t}/MPI/gcc/12/openmpi/4.1/loop/1.0:2: MODULEPATH level {t}/Compiler/gcc/12 leads back to itself (through gcc/12 -> openmpi/4.1 -> loop/1.0); not followed"
            )
            .as_str()
        ),
        "{problems:#?}"
    );
}

#[test]
fn undefined_mpio_symbols_swap_the_serial_hdf5_for_the_parallel_one_tcl_tree() {
    require_lmod();
    let fx = Fx::new();
    fx.fake_hdf5("serial/lib/libhdf5.so.310", "libhdf5.so.310", "1.14.3", &[]);
    fx.fake_hdf5("mpi/lib/libhdf5.so.310", "libhdf5.so.310", "1.14.3", &["H5Pset_fapl_mpio"]);
    let app = fx.so(
        "bin/par.so",
        None,
        "int H5Pset_fapl_mpio(void); int par(void){return H5Pset_fapl_mpio();}\n",
        &[&format!("-L{}", fx.path("mpi/lib").display()), "-l:libhdf5.so.310"],
    );
    let tree = common::tempdir();
    let (s, m) = (fx.path("serial"), fx.path("mpi"));
    write_tree(
        tree.path(),
        &[
            (
                "hdf5/1.14.3",
                format!(
                    "#%Module1.0\nconflict hdf5-mpi\nset root {}\nprepend-path LD_LIBRARY_PATH $root/lib\n",
                    s.display()
                ),
            ),
            (
                "hdf5-mpi/1.14.3",
                format!(
                    "#%Module1.0\nconflict hdf5\nset root [file join {} lib]\nprepend-path LD_LIBRARY_PATH $root\n",
                    m.display()
                ),
            ),
        ],
    );
    let mp = tree.path().to_str().unwrap();
    let args = format!("--only libraries --only modules --binary {}", app.display());
    let setup = "module load hdf5 || exit 9";
    let (report, _) = check(mp, setup, &args);
    assert_eq!(slugs(&report), vec!["lib-undefined-symbol"], "{report:#}");
    let (_, note) = module_fix(&report, "lib-undefined-symbol");
    assert!(note.starts_with("hdf5-mpi/1.14.3 holds HDF5 1.14.3 (parallel, MPI)"), "{note}");
    fix_clears(mp, setup, &args, "lib-undefined-symbol", "module swap hdf5 hdf5-mpi/1.14.3");
}

#[test]
fn a_runtime_release_mismatch_swaps_to_the_release_the_program_was_built_for() {
    require_lmod();
    let fx = Fx::new();
    fx.fake_hdf5("v3/lib/libhdf5.so.310", "libhdf5.so.310", "1.14.3", &[]);
    fx.fake_hdf5("v1/lib/libhdf5.so.310", "libhdf5.so.310", "1.14.1", &[]);
    let built = fx.path("v3/lib");
    let app = fx.so(
        "bin/app.so",
        None,
        "int H5open(void); int app(void){return H5open();}\n",
        &[
            &format!("-L{}", built.display()),
            "-l:libhdf5.so.310",
            &format!("-Wl,--enable-new-dtags,-rpath,{}", built.display()),
        ],
    );
    let tree = common::tempdir();
    let lua = |dir: &Path| format!("family(\"hdf5\")\nprepend_path(\"LD_LIBRARY_PATH\", \"{}/lib\")\n", dir.display());
    write_tree(
        tree.path(),
        &[
            ("hdf5/1.14.1.lua", lua(&fx.path("v1"))),
            ("hdf5/1.14.3.lua", lua(&fx.path("v3"))),
            ("hdf5/.modulerc.lua", "module_version(\"hdf5/1.14.1\", \"default\")\n".to_string()),
        ],
    );
    let mp = tree.path().to_str().unwrap();
    let args = format!("--only libraries --only modules --binary {}", app.display());
    let setup = "module load hdf5 || exit 9";
    let (report, _) = check(mp, setup, &args);
    assert!(slugs(&report).contains(&"hdf5-version-mismatch".to_string()), "{report:#}");
    fix_clears(mp, setup, &args, "hdf5-version-mismatch", "module swap hdf5 hdf5/1.14.3");
}

#[test]
fn a_profiler_module_that_brings_a_second_libhdf5_is_the_one_to_unload() {
    require_lmod();
    let fx = Fx::new();
    fx.fake_hdf5("hdf5/lib/libhdf5.so.310", "libhdf5.so.310", "1.14.3", &[]);
    fx.fake_hdf5("darshan/lib/libhdf5_serial.so.103", "libhdf5_serial.so.103", "1.10.8", &[]);
    let dlib = fx.path("darshan/lib");
    fx.so(
        "darshan/lib/libdarshan.so",
        Some("libdarshan.so"),
        "int H5open(void); int darshan(void){return H5open();}\n",
        &[&format!("-L{}", dlib.display()), "-l:libhdf5_serial.so.103"],
    );
    let app = fx.so(
        "bin/app.so",
        None,
        "int H5open(void); int app(void){return H5open();}\n",
        &[&format!("-L{}", fx.path("hdf5/lib").display()), "-l:libhdf5.so.310"],
    );
    let tree = common::tempdir();
    write_tree(
        tree.path(),
        &[
            (
                "hdf5/1.14.3.lua",
                format!("prepend_path(\"LD_LIBRARY_PATH\", \"{}\")\n", fx.path("hdf5/lib").display()),
            ),
            (
                "darshan/3.4.lua",
                format!(
                    "prepend_path(\"LD_LIBRARY_PATH\", \"{d}\")\nprepend_path(\"LD_PRELOAD\", \"{d}/libdarshan.so\")\n",
                    d = dlib.display()
                ),
            ),
        ],
    );
    let mp = tree.path().to_str().unwrap();
    let args = format!("--only libraries --only modules --binary {}", app.display());
    let setup = "module load hdf5 darshan || exit 9";
    let (report, _) = check(mp, setup, &args);
    assert!(slugs(&report).contains(&"lib-duplicate-hdf5".to_string()), "{report:#}");
    let after = fix_clears(mp, setup, &args, "lib-duplicate-hdf5", "module unload darshan");
    assert_eq!(slugs(&after), Vec::<String>::new(), "{after:#}");
}

#[test]
fn two_hdf5_modules_the_named_unload_clears_module_hdf5_twice() {
    require_lmod();
    let tree = common::tempdir();
    write_tree(
        tree.path(),
        &[
            (
                "openmpi/4.1.4",
                "#%Module1.0\nprepend-path LD_LIBRARY_PATH /usr/lib/x86_64-linux-gnu/openmpi/lib\n".to_string(),
            ),
            (
                "hdf5/1.10.8",
                "#%Module1.0\nprepend-path LD_LIBRARY_PATH /usr/lib/x86_64-linux-gnu/hdf5/serial/lib\n".to_string(),
            ),
            (
                "phdf5/1.10.8",
                "#%Module1.0\nprepend-path LD_LIBRARY_PATH /usr/lib/x86_64-linux-gnu/hdf5/openmpi/lib\n".to_string(),
            ),
        ],
    );
    let mp = tree.path().to_str().unwrap();
    fix_clears(
        mp,
        "module load openmpi phdf5 hdf5 || exit 9",
        "--only modules",
        "module-hdf5-twice",
        "module unload hdf5/1.10.8",
    );
}

/// A Tcl module of the site for Environment Modules: its root from `$env(SITE_ROOT)`.
fn site_module_tcl(subdir: &str) -> String {
    format!(
        "#%Module1.0\nmodule-whatis \"HDF5 of the site\"\nset root [file join $env(SITE_ROOT) {subdir}]\nprepend-path LD_LIBRARY_PATH $root/lib\n"
    )
}

#[test]
fn environment_modules_defaults_env_and_loaded_state_with_the_real_modulecmd() {
    let fx = Fx::new();
    fx.fake_hdf5("site/hdf5-3.1.0/lib/libhdf5_site.so.310", "libhdf5_site.so.310", "1.14.3", &[]);
    fx.fake_hdf5("site/hdf5-3.0.9/lib/libhdf5_site.so.310", "libhdf5_site.so.310", "1.14.1", &[]);
    let app = fx.so(
        "bin/simulate.so",
        None,
        "int H5open(void); int simulate(void){return H5open();}\n",
        &[&format!("-L{}", fx.path("site/hdf5-3.1.0/lib").display()), "-l:libhdf5_site.so.310"],
    );
    let tree = common::tempdir();
    write_tree(
        tree.path(),
        &[
            ("site-hdf5/3.1.0", site_module_tcl("hdf5-3.1.0")),
            ("site-hdf5/3.0.9", site_module_tcl("hdf5-3.0.9")),
            (
                "site-hdf5/.modulerc",
                "#%Module1.0\nmodule-version site-hdf5/3.0.9 default\n".to_string(),
            ),
            // Environment Modules ignores Lua files, and so does the index under it.
            ("lua-only/1.0.lua", "whatis(\"Lmod only\")\n".to_string()),
            (
                "openmpi/4.1.4",
                "#%Module1.0\nfamily mpi\nprepend-path LD_LIBRARY_PATH /usr/lib/x86_64-linux-gnu/openmpi/lib\n".to_string(),
            ),
            (
                "hdf5/1.10.8",
                "#%Module1.0\nprepend-path LD_LIBRARY_PATH /usr/lib/x86_64-linux-gnu/hdf5/serial/lib\n".to_string(),
            ),
            (
                "phdf5/1.10.8",
                "#%Module1.0\nprepend-path LD_LIBRARY_PATH /usr/lib/x86_64-linux-gnu/hdf5/openmpi/lib\n".to_string(),
            ),
            ("phdf5/.version", "#%Module1.0\nset ModulesVersion \"1.10.8\"\n".to_string()),
        ],
    );
    let mp = tree.path().to_str().unwrap();
    let em = Tool::EnvModules;
    let site_root = format!("export SITE_ROOT={}", fx.path("site").display());
    // The real modulecmd picks the .modulerc default, and h5doctor names the same version first.
    let (code, listed, stderr) = shell(em, mp, &format!("{site_root}\nmodule load site-hdf5 && module list -t 2>&1"));
    assert_eq!(code, 0, "{stderr}");
    assert!(listed.contains("site-hdf5/3.0.9"), "modulecmd's default: {listed}");
    let args = format!("--only libraries --only modules --binary {}", app.display());
    fix_clears_with(em, mp, &site_root, &args, "lib-not-found", "module load site-hdf5/3.0.9");

    // Loaded state as Environment Modules exports it (LOADEDMODULES, _LMFILES_, MODULES_FAMILY_*).
    let setup = "module load openmpi phdf5 hdf5 || exit 9";
    let (code, facts, stderr) = shell(em, mp, &format!("{setup}\n\"$H5DOCTOR\" facts --only modules --json"));
    assert_eq!(code, 0, "{stderr}");
    let facts: Value = serde_json::from_str(&facts).unwrap();
    let m = &facts["modules"];
    assert_eq!(m["system"], "environment-modules");
    assert_eq!(m["loaded_source"], "LOADEDMODULES");
    assert_eq!(m["families"]["mpi"], "openmpi");
    let loaded: Vec<&str> = m["loaded"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["full_name"].as_str().unwrap())
        .collect();
    assert_eq!(loaded, ["openmpi/4.1.4", "phdf5/1.10.8", "hdf5/1.10.8"]);
    let phdf5 = m["index"]["modules"]
        .as_array()
        .unwrap()
        .iter()
        .find(|x| x["name"] == "phdf5")
        .unwrap();
    assert_eq!(
        (phdf5["default"].clone(), phdf5["default_by"].clone()),
        (Value::Bool(true), ".version".into())
    );
    assert!(
        m["index"]["modules"].as_array().unwrap().iter().all(|x| x["name"] != "lua-only"),
        "{m:#}"
    );
    fix_clears_with(em, mp, setup, "--only modules", "module-hdf5-twice", "module unload hdf5/1.10.8");
}

#[test]
fn environment_modules_swaps_a_conflicting_serial_hdf5_for_the_parallel_one() {
    let fx = Fx::new();
    fx.fake_hdf5("serial/lib/libhdf5.so.310", "libhdf5.so.310", "1.14.3", &[]);
    fx.fake_hdf5("mpi/lib/libhdf5.so.310", "libhdf5.so.310", "1.14.3", &["H5Pset_fapl_mpio"]);
    let app = fx.so(
        "bin/par.so",
        None,
        "int H5Pset_fapl_mpio(void); int par(void){return H5Pset_fapl_mpio();}\n",
        &[&format!("-L{}", fx.path("mpi/lib").display()), "-l:libhdf5.so.310"],
    );
    let tree = common::tempdir();
    let tcl = |dir: &Path, other: &str| {
        format!(
            "#%Module1.0\nconflict {other}\nprepend-path LD_LIBRARY_PATH {}/lib\n",
            dir.display()
        )
    };
    write_tree(
        tree.path(),
        &[
            ("hdf5/1.14.3", tcl(&fx.path("serial"), "hdf5-mpi")),
            ("hdf5-mpi/1.14.3", tcl(&fx.path("mpi"), "hdf5")),
        ],
    );
    let mp = tree.path().to_str().unwrap();
    let args = format!("--only libraries --only modules --binary {}", app.display());
    fix_clears_with(
        Tool::EnvModules,
        mp,
        "module load hdf5 || exit 9",
        &args,
        "lib-undefined-symbol",
        "module swap hdf5 hdf5-mpi/1.14.3",
    );
}
