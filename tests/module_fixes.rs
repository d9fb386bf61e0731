//! Module fixes end to end with REAL Lmod (Debian `lmod`): for each finding whose cure is "load the other
//! module", an environment with the problem is made with Lmod's own `module`, h5doctor names the module
//! line, the test runs exactly that line with the real module command, h5doctor runs again, and the
//! finding is gone. The libraries are real ELF files built here with the C compiler (tests/elf_fixtures),
//! so what a module "provides" is what h5doctor read from the directories the module adds.

mod common;
mod elf_fixtures;
mod python_envs;

use common::modules::{lmod, require_lmod, shell, write_tree, Tool};
use common::{finding, slugs};
use elf_fixtures::Fx;
use python_envs::{venv, Deps, DEBIAN_PYTHON};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Command;

/// The fix a finding offers when no module fits: no fix of kind `module`, and one of kind `admin` (its text
/// and note are for the caller to check).
fn admin_fix_instead_of_a_module(f: &Value) -> &Value {
    let fixes = f["fixes"].as_array().unwrap();
    assert!(fixes.iter().all(|x| x["kind"] != "module"), "{f:#}");
    fixes
        .iter()
        .find(|x| x["kind"] == "admin")
        .unwrap_or_else(|| panic!("no admin fix: {f:#}"))
}

/// `setup` (module loads, exports) then `h5doctor check --json ARGS`: the report and the exit code.
fn check(modulepath: &str, setup: &str, args: &str) -> (Value, i32) {
    check_with(Tool::Lmod, modulepath, setup, args)
}

fn check_with(tool: Tool, modulepath: &str, setup: &str, args: &str) -> (Value, i32) {
    // --timeout 60 unless the test sets its own: under CI load (the whole suite at load ~15) an
    // interpreter's `import numpy, h5py` took more than the default 20 s once, and the finding under test
    // became inconclusive.
    let timeout = if args.contains("--timeout") { "" } else { "--timeout 60" };
    let (code, stdout, stderr) = shell(
        tool,
        modulepath,
        &format!("{setup}\n\"$H5DOCTOR\" check --no-default-dirs --no-default-pythons {timeout} --json {args}"),
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
    let admin = admin_fix_instead_of_a_module(f);
    assert_eq!(
        admin["text"],
        "Ask the administrators for a module that provides libhdf5_site.so.310"
    );
    assert_eq!(
        admin["note"],
        "No module on MODULEPATH provides it (3 modules in 1 trees of MODULEPATH; hierarchy levels included)."
    );
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

/// A serial and a parallel HDF5 1.14.3 of one soname (`serial/lib`, `mpi/lib`, the parallel one exporting
/// H5Pset_fapl_mpio), and a program that calls H5Pset_fapl_mpio: built against the parallel library, it
/// has an undefined symbol when the serial one comes first.
fn serial_and_parallel_hdf5() -> (Fx, std::path::PathBuf) {
    let fx = Fx::new();
    fx.fake_hdf5("serial/lib/libhdf5.so.310", "libhdf5.so.310", "1.14.3", &[]);
    fx.fake_hdf5("mpi/lib/libhdf5.so.310", "libhdf5.so.310", "1.14.3", &["H5Pset_fapl_mpio"]);
    let app = fx.so(
        "bin/par.so",
        None,
        "int H5Pset_fapl_mpio(void); int par(void){return H5Pset_fapl_mpio();}\n",
        &[&format!("-L{}", fx.path("mpi/lib").display()), "-l:libhdf5.so.310"],
    );
    (fx, app)
}

#[test]
fn undefined_mpio_symbols_swap_the_serial_hdf5_for_the_parallel_one_tcl_tree() {
    require_lmod();
    let (fx, app) = serial_and_parallel_hdf5();
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
    // Every finding of the case names the profiler, never the HDF5 module the program was built with,
    // and none asks the administrators for the HDF5 that is loaded already. Each one's line is verified
    // on the spot by h5doctor, then run with the real Lmod, and after it every finding is gone.
    for slug in ["module-hdf5-twice", "hdf5-version-mismatch", "lib-duplicate-hdf5"] {
        let f = finding(&report, slug);
        assert!(f["fixes"].as_array().unwrap().iter().all(|x| x["kind"] != "admin"), "{f:#}");
        let after = fix_clears(mp, setup, &args, slug, "module unload darshan");
        assert_eq!(slugs(&after), Vec::<String>::new(), "{slug}: {after:#}");
    }
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
    assert_eq!(m["loaded_source"], "LOADEDMODULES+__MODULES_*");
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
    let (fx, app) = serial_and_parallel_hdf5();
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

/// Environment Modules records, per loaded module, what it conflicts with (its family included), its
/// alternative names and tags (`__MODULES_LMCONFLICT`, `__MODULES_LMALTNAME`, `__MODULES_LMTAG`). Here the
/// loaded serial HDF5 takes its family from a site snippet it `source`s, which a static reader does not
/// follow: only modulecmd's record says that it excludes the parallel HDF5 (`family hdf5`), so the fix
/// must be a swap: a plain `module load hdf5-mpi/1.14.3` is refused by the real modulecmd.
#[test]
fn environment_modules_records_of_the_loaded_modules_turn_a_load_into_the_swap_modulecmd_needs() {
    let (fx, app) = serial_and_parallel_hdf5();
    let snippets = common::tempdir();
    let snippet = snippets.path().join("hdf5-family.tcl");
    std::fs::write(&snippet, "family hdf5\n").unwrap();
    let tree = common::tempdir();
    write_tree(
        tree.path(),
        &[
            (
                "hdf5-serial/1.14.3",
                format!(
                    "#%Module1.0\nsource {}\nprepend-path LD_LIBRARY_PATH {}/lib\n",
                    snippet.display(),
                    fx.path("serial").display()
                ),
            ),
            (
                "hdf5-mpi/1.14.3",
                format!(
                    "#%Module1.0\nfamily hdf5\nprepend-path LD_LIBRARY_PATH {}/lib\n",
                    fx.path("mpi").display()
                ),
            ),
        ],
    );
    let mp = tree.path().to_str().unwrap();
    let em = Tool::EnvModules;
    let setup = "module load hdf5-serial || exit 9";
    // The real modulecmd refuses the plain load: the loaded module's family conflicts.
    let (code, _, stderr) = shell(em, mp, &format!("{setup}\nmodule load hdf5-mpi/1.14.3 || exit 7"));
    assert_eq!(code, 7, "modulecmd loads hdf5-mpi next to hdf5-serial: {stderr}");
    assert!(stderr.contains("conflict"), "{stderr}");

    let (code, facts, stderr) = shell(em, mp, &format!("{setup}\n\"$H5DOCTOR\" facts --only modules --json"));
    assert_eq!(code, 0, "{stderr}");
    let facts: Value = serde_json::from_str(&facts).unwrap();
    let m = &facts["modules"];
    assert_eq!(m["loaded_source"], "LOADEDMODULES+__MODULES_*");
    let serial = &m["loaded"][0];
    assert_eq!(serial["full_name"], "hdf5-serial/1.14.3");
    assert_eq!(serial["conflicts"], serde_json::json!(["hdf5"]), "{serial:#}");
    assert!(
        serial["alt_names"].as_array().unwrap().iter().any(|a| a == "hdf5"),
        "the family is an alias of the loaded module: {serial:#}"
    );
    assert!(
        serial["info"]["family"].is_null(),
        "the static reader does not follow `source`, so the record is what knows: {serial:#}"
    );

    let args = format!("--only libraries --only modules --binary {}", app.display());
    fix_clears_with(
        em,
        mp,
        setup,
        &args,
        "lib-undefined-symbol",
        "module swap hdf5-serial hdf5-mpi/1.14.3",
    );
}

/// A real copy of h5doctor-probe in `dir` whose libhdf5 dependency is renamed to `soname`; returns it and
/// the soname it needed before.
fn probe_needing(dir: &Path, soname: &str) -> (PathBuf, String) {
    let probe = dir.join("h5doctor-probe");
    std::fs::copy(common::bin("h5doctor-probe"), &probe).unwrap();
    let needed = Command::new("patchelf")
        .arg("--print-needed")
        .arg(&probe)
        .output()
        .expect("patchelf is installed");
    let hdf5 = String::from_utf8_lossy(&needed.stdout)
        .lines()
        .find(|l| l.starts_with("libhdf5"))
        .expect("the probe links libhdf5")
        .to_string();
    let ok = Command::new("patchelf")
        .args(["--replace-needed", &hdf5, soname])
        .arg(&probe)
        .status()
        .unwrap();
    assert!(ok.success());
    (probe, hdf5)
}

#[test]
fn probe_unavailable_names_the_module_that_holds_the_probes_libhdf5() {
    require_lmod();
    // A real copy of h5doctor-probe whose libhdf5 is renamed to a soname only a module's directory holds.
    let tools = common::tempdir();
    let (probe, hdf5) = probe_needing(tools.path(), "libhdf5_hidden.so.103");
    let prefix = tools.path().join("hdf5-hidden");
    std::fs::create_dir_all(prefix.join("lib")).unwrap();
    let real = std::fs::canonicalize(format!("/usr/lib/x86_64-linux-gnu/{hdf5}")).unwrap();
    std::fs::copy(real, prefix.join("lib/libhdf5_hidden.so.103")).unwrap();
    let tree = common::tempdir();
    write_tree(
        tree.path(),
        &[(
            "hdf5-hidden/1.10.8.lua",
            format!(
                "family(\"hdf5\")\nprepend_path(\"LD_LIBRARY_PATH\", \"{}/lib\")\n",
                prefix.display()
            ),
        )],
    );
    let target = common::tempdir();
    let mp = tree.path().to_str().unwrap();
    let setup = format!("export H5DOCTOR_PROBE={}", probe.display());
    let args = format!("--only hdf5 --only modules --dir {}", target.path().display());
    fix_clears(mp, &setup, &args, "probe-unavailable", "module load hdf5-hidden/1.10.8");
}

#[test]
fn probe_unavailable_rebuilds_the_probe_against_the_prefix_an_hdf5_module_sets_and_that_module_builds() {
    require_lmod();
    // No module holds the soname the probe needs, but an HDF5 module of the site sets HDF5_DIR to an
    // installed HDF5 (headers and library): the rebuild line loads it and builds against its prefix.
    let tools = common::tempdir();
    let (probe, hdf5) = probe_needing(tools.path(), "libhdf5_gone.so.999");
    let prefix = tools.path().join("hdf5-1.10.8");
    std::fs::create_dir_all(prefix.join("lib")).unwrap();
    std::os::unix::fs::symlink("/usr/include/hdf5/serial", prefix.join("include")).unwrap();
    let real = std::fs::canonicalize(format!("/usr/lib/x86_64-linux-gnu/{hdf5}")).unwrap();
    std::fs::copy(real, prefix.join("lib").join(&hdf5)).unwrap();
    std::os::unix::fs::symlink(&hdf5, prefix.join("lib/libhdf5.so")).unwrap();
    let tree = common::tempdir();
    let dir = prefix.display().to_string();
    write_tree(
        tree.path(),
        &[(
            "hdf5/1.10.8.lua",
            format!("family(\"hdf5\")\nsetenv(\"HDF5_DIR\", \"{dir}\")\nprepend_path(\"LD_LIBRARY_PATH\", \"{dir}/lib\")\n"),
        )],
    );
    let target = common::tempdir();
    let mp = tree.path().to_str().unwrap();
    let setup = format!("export H5DOCTOR_PROBE={}", probe.display());
    let args = format!("--only hdf5 --only modules --dir {}", target.path().display());
    let (report, code) = check(mp, &setup, &args);
    assert_eq!(code, 1, "{report:#}");
    let f = finding(&report, "probe-unavailable");
    let fix = f["fixes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|x| x["kind"] == "rebuild")
        .unwrap_or_else(|| panic!("no rebuild fix: {f:#}"));
    let line = format!("module load hdf5/1.10.8 && HDF5_DIR={dir} cargo build --release -p h5doctor-probe");
    assert_eq!(fix["text"], line.as_str(), "{f:#}");
    assert_eq!(fix["verified"], false);
    assert_eq!(
        fix["note"],
        format!(
            "Rebuild the probe against the HDF5 your jobs use: hdf5/1.10.8 sets HDF5_DIR {dir} in its modulefile (the default version); \
             keep it loaded when h5doctor runs the rebuilt probe."
        )
    );
    // The module half of the line with the real Lmod, then a build the way hdf5-sys does it with that
    // HDF5_DIR (-I $HDF5_DIR/include, -L $HDF5_DIR/lib -lhdf5), run in the module's environment.
    let program = tools.path().join("hdf5_dir_check");
    let source = tools.path().join("hdf5_dir_check.c");
    std::fs::write(
        &source,
        "#include <hdf5.h>\n#include <stdio.h>\nint main(void) { unsigned a, b, c; H5get_libversion(&a, &b, &c); printf(\"%u.%u.%u\\n\", a, b, c); return 0; }\n",
    )
    .unwrap();
    let module_half = line.split(" && HDF5_DIR=").next().unwrap();
    let (code, stdout, stderr) = lmod(
        mp,
        &format!(
            "{module_half} || exit 9\ncc -I\"$HDF5_DIR/include\" {} -L\"$HDF5_DIR/lib\" -lhdf5 -o {} || exit 8\n{}",
            source.display(),
            program.display(),
            program.display()
        ),
    );
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(stdout.trim(), "1.10.8");
}

/// The Lua tree of shared/research/feasibility-slurm-modules.md §2 (Debian's Open MPI, parallel HDF5,
/// Python and the MPI build of h5py as modules).
fn debian_stack() -> Vec<(&'static str, String)> {
    vec![
        (
            "openmpi/4.1.4.lua",
            "family(\"mpi\")\nlocal base = \"/usr/lib/x86_64-linux-gnu/openmpi\"\nprepend_path(\"LD_LIBRARY_PATH\", pathJoin(base, \"lib\"))\n".into(),
        ),
        (
            "hdf5-parallel/1.10.8.lua",
            "family(\"hdf5\")\nprereq(\"openmpi\")\nlocal root = pathJoin(\"/usr/lib/x86_64-linux-gnu/hdf5\", \"openmpi\")\nsetenv(\"HDF5_DIR\", root)\nprepend_path(\"LD_LIBRARY_PATH\", pathJoin(root, \"lib\"))\n".into(),
        ),
        (
            "python/3.11.2.lua",
            "family(\"python\")\nprepend_path(\"PATH\", \"/usr/bin\")\npushenv(\"PYTHONNOUSERSITE\", \"1\")\n".into(),
        ),
        (
            "h5py-parallel/3.7.0.lua",
            "help([[h5py 3.7.0 MPI build (Debian python3-h5py-mpi)]])\ndepends_on(\"python/3.11.2\")\ndepends_on(\"openmpi\")\ndepends_on(\"hdf5-parallel/1.10.8\")\nappend_path(\"PYTHONPATH\", \"/usr/lib/python3/dist-packages\")\nsetenv(\"H5PY_ALWAYS_USE_MPI\", \"1\")\n".into(),
        ),
    ]
}

#[test]
fn h5py_no_mpi_names_the_parallel_h5py_module_with_everything_it_needs_in_order() {
    require_lmod();
    assert!(
        Path::new("/usr/lib/python3/dist-packages/h5py/_debian_h5py_mpi").is_dir(),
        "Debian's MPI build of h5py is missing: apt-get install python3-h5py-mpi"
    );
    let tree = common::tempdir();
    write_tree(tree.path(), &debian_stack());
    let mp = tree.path().to_str().unwrap();
    // A Slurm job of 2 tasks, outside a step: Debian's shim picks its serial build.
    let setup = "export SLURM_JOB_ID=1 SLURM_NTASKS=2";
    let args = "--only python --only modules --python /usr/bin/python3 --allow-exec-as-root";
    let (report, _) = check(mp, setup, args);
    let (_, note) = module_fix(&report, "h5py-no-mpi");
    assert!(
        note.starts_with("h5py-parallel/3.7.0 provides h5py built with MPI, needing python/3.11.2, openmpi, hdf5-parallel/1.10.8"),
        "{note}"
    );
    fix_clears(
        mp,
        setup,
        args,
        "h5py-no-mpi",
        "module load python/3.11.2 openmpi/4.1.4 hdf5-parallel/1.10.8 h5py-parallel/3.7.0",
    );
}

/// The site of the Python-matching h5py-no-mpi test, below `root`, for Lmod (Lua) or modulecmd.tcl (Tcl):
/// Core has `python/3.11.2` and `openmpi/4.1.4`, which opens the hierarchy level `mpi/openmpi/4.1.4` holding
/// `hdf5-parallel/1.10.8` (Debian's Open MPI HDF5) and two parallel h5py modules that both need python and
/// hdf5-parallel: `h5py-parallel/3.7.0` puts Debian's dist-packages (python3-h5py-mpi: extensions
/// `*.cpython-311-*.so` linking Open MPI's `libmpi.so.40`) on PYTHONPATH, and `h5py-parallel/3.11.0`, the
/// highest and so the default, a `lib/python3.12/site-packages` prefix whose h5py extensions are built for
/// Python 3.12 (a layout made here: Debian's MPI extensions copied under cpython-312 names, which this
/// Python 3.11 could not import). Returns MODULEPATH (the Core tree).
fn h5py_parallel_site(root: &Path, tool: Tool) -> String {
    let debian_mpi = Path::new("/usr/lib/python3/dist-packages/h5py/_debian_h5py_mpi");
    assert!(
        debian_mpi.is_dir(),
        "Debian's MPI build of h5py is missing: apt-get install python3-h5py-mpi"
    );
    let site312 = root.join("py312/lib/python3.12/site-packages");
    std::fs::create_dir_all(site312.join("h5py")).unwrap();
    std::fs::create_dir_all(site312.join("h5py-3.11.0.dist-info")).unwrap();
    std::fs::write(site312.join("h5py/__init__.py"), "").unwrap();
    for ext in ["h5p", "defs"] {
        std::fs::copy(
            debian_mpi.join(format!("{ext}.cpython-311-x86_64-linux-gnu.so")),
            site312.join(format!("h5py/{ext}.cpython-312-x86_64-linux-gnu.so")),
        )
        .unwrap();
    }
    let r = root.display();
    let level = format!("{r}/tree/mpi/openmpi/4.1.4");
    let (site312, dist) = (site312.display().to_string(), "/usr/lib/python3/dist-packages");
    let files: Vec<(String, String)> = match tool {
        Tool::Lmod => vec![
            (
                "core/python/3.11.2.lua".into(),
                "family(\"python\")\nprepend_path(\"PATH\", \"/usr/bin\")\npushenv(\"PYTHONNOUSERSITE\", \"1\")\n".into(),
            ),
            (
                "core/openmpi/4.1.4.lua".into(),
                format!("family(\"mpi\")\nprepend_path(\"LD_LIBRARY_PATH\", \"/usr/lib/x86_64-linux-gnu/openmpi/lib\")\nprepend_path(\"MODULEPATH\", \"{level}\")\n"),
            ),
            (
                "mpi/openmpi/4.1.4/hdf5-parallel/1.10.8.lua".into(),
                "family(\"hdf5\")\nlocal root = \"/usr/lib/x86_64-linux-gnu/hdf5/openmpi\"\nsetenv(\"HDF5_DIR\", root)\nprepend_path(\"LD_LIBRARY_PATH\", pathJoin(root, \"lib\"))\n".into(),
            ),
            (
                "mpi/openmpi/4.1.4/h5py-parallel/3.7.0.lua".into(),
                format!("help([[h5py 3.7.0 MPI build (Debian python3-h5py-mpi)]])\ndepends_on(\"python/3.11.2\")\ndepends_on(\"hdf5-parallel/1.10.8\")\nappend_path(\"PYTHONPATH\", \"{dist}\")\nsetenv(\"H5PY_ALWAYS_USE_MPI\", \"1\")\n"),
            ),
            (
                "mpi/openmpi/4.1.4/h5py-parallel/3.11.0.lua".into(),
                format!("help([[h5py 3.11.0 MPI build for Python 3.12]])\ndepends_on(\"python/3.11.2\")\ndepends_on(\"hdf5-parallel/1.10.8\")\nprepend_path(\"PYTHONPATH\", \"{site312}\")\n"),
            ),
        ],
        Tool::EnvModules => vec![
            (
                "core/python/3.11.2".into(),
                "#%Module1.0\nfamily python\nprepend-path PATH /usr/bin\nsetenv PYTHONNOUSERSITE 1\n".into(),
            ),
            (
                "core/openmpi/4.1.4".into(),
                format!("#%Module1.0\nfamily mpi\nprepend-path LD_LIBRARY_PATH /usr/lib/x86_64-linux-gnu/openmpi/lib\nmodule use {level}\n"),
            ),
            (
                "mpi/openmpi/4.1.4/hdf5-parallel/1.10.8".into(),
                "#%Module1.0\nfamily hdf5\nset root /usr/lib/x86_64-linux-gnu/hdf5/openmpi\nsetenv HDF5_DIR $root\nprepend-path LD_LIBRARY_PATH $root/lib\n".into(),
            ),
            (
                "mpi/openmpi/4.1.4/h5py-parallel/3.7.0".into(),
                format!("#%Module1.0\nmodule-whatis \"h5py 3.7.0 MPI build (Debian python3-h5py-mpi)\"\nprereq python/3.11.2\nprereq hdf5-parallel/1.10.8\nappend-path PYTHONPATH {dist}\nsetenv H5PY_ALWAYS_USE_MPI 1\n"),
            ),
            (
                "mpi/openmpi/4.1.4/h5py-parallel/3.11.0".into(),
                format!("#%Module1.0\nmodule-whatis \"h5py 3.11.0 MPI build for Python 3.12\"\nprereq python/3.11.2\nprereq hdf5-parallel/1.10.8\nprepend-path PYTHONPATH {site312}\n"),
            ),
        ],
    };
    let files: Vec<(&str, String)> = files.iter().map(|(p, t)| (p.as_str(), t.clone())).collect();
    write_tree(&root.join("tree"), &files);
    format!("{r}/tree/core")
}

/// h5py-no-mpi with real Lmod and real modulecmd.tcl, where the default parallel h5py module is built for
/// another Python: in a Slurm job of 2 tasks Debian's Python 3.11 imports its serial h5py. h5doctor names
/// the parallel h5py module whose extensions were built for Python 3.11 (and Open MPI), behind its
/// hierarchy level and after what it needs, in load order, and says why the default h5py-parallel/3.11.0
/// (Python 3.12) is not it; verified on the spot; the test runs exactly that line with the real tool, runs
/// h5doctor again, and the finding is gone.
#[test]
fn h5py_no_mpi_passes_over_the_default_parallel_h5py_built_for_another_python() {
    require_lmod();
    let setup = "export SLURM_JOB_ID=1 SLURM_NTASKS=2";
    let args = format!("--only python --only modules --python {DEBIAN_PYTHON} --allow-exec-as-root");
    let line = "module load openmpi/4.1.4 python/3.11.2 hdf5-parallel/1.10.8 h5py-parallel/3.7.0";
    for tool in [Tool::Lmod, Tool::EnvModules] {
        let site = common::tempdir();
        let mp = h5py_parallel_site(site.path(), tool);
        let (report, code) = check_with(tool, &mp, setup, &args);
        assert_eq!(code, 1, "{tool:?}: {report:#}");
        let f = finding(&report, "h5py-no-mpi");
        assert_eq!(f["severity"], "error", "{tool:?}: {f:#}");
        let (text, note) = module_fix(&report, "h5py-no-mpi");
        assert_eq!(text, line, "{tool:?}: {f:#}");
        assert_eq!(
            note,
            "h5py-parallel/3.7.0 provides h5py built with MPI, needing python/3.11.2, hdf5-parallel/1.10.8 (its extensions \
             built for Python 3.11 and libmpi.so.40 (openmpi)); it is visible after `module load openmpi/4.1.4`; not for \
             Python 3.11.2: h5py-parallel/3.11.0 (built for Python 3.12).",
            "{tool:?}"
        );
        let after = fix_clears_with(tool, &mp, setup, &args, "h5py-no-mpi", line);
        assert_eq!(after["summary"]["errors"], 0, "{tool:?}: {after:#}");
        let (_, code) = check_with(tool, &mp, &format!("{setup}\n{line} || exit 9"), &args);
        assert_eq!(code, 0, "{tool:?}: {after:#}");
        // The default module is the Python 3.12 one: what a plain `module load h5py-parallel` would pick.
        let (_, out, err) = shell(
            tool,
            &mp,
            "module load openmpi/4.1.4 && module load python/3.11.2 hdf5-parallel h5py-parallel && echo \"$PYTHONPATH\"",
        );
        assert!(out.contains("python3.12/site-packages"), "{tool:?}: {out}{err}");
    }
}

/// Lmod modulefiles named and laid out the way the Cray PE names them (there is no Cray PE here; these
/// imitate Cray's), in its three levels: Core holds `PrgEnv-gnu/8.5.0`, which loads the compiler
/// `gcc-native/12.3` and then `cray-mpich`, as Cray's PrgEnv modules load their default set; the compiler
/// (family `compiler`) opens the compiler level `compiler/gnu/8.0`, which holds `cray-mpich/8.1.27` (family
/// `mpi`; Open MPI's libraries stand in for cray-mpich's) and the serial `cray-hdf5/1.10.8.0` and
/// `cray-hdf5/1.12.2.9`, as Cray's compiler level holds cray-hdf5; cray-mpich opens the MPI level
/// `mpi/gnu/8.0/ofi/1.0/cray-mpich/8.0`, which holds `cray-hdf5-parallel/1.10.8.0` and
/// `cray-hdf5-parallel/1.14.3.1` (the highest, so the default). Both HDF5 modules have Cray's
/// `family("hdf5")` and a `conflict` on the other, set CRAY_HDF5_PREFIX / CRAY_HDF5_PARALLEL_PREFIX and
/// HDF5_DIR, and add their lib to CRAY_LD_LIBRARY_PATH; the 1.10.8.0 ones point at Debian's serial and Open
/// MPI HDF5 1.10.8, the others at Cray PE prefixes that do not exist here. (Cray puts cray-mpich in a
/// compiler-and-network level opened by craype-network-ofi; one level fewer here.) Without
/// `with_parallel` the MPI level holds no cray-hdf5-parallel. Returns MODULEPATH (Core).
fn cray_pe_site(root: &Path, with_parallel: bool) -> String {
    let r = root.display();
    let compiler_level = format!("{r}/compiler/gnu/8.0");
    let mpi_level = format!("{r}/mpi/gnu/8.0/ofi/1.0/cray-mpich/8.0");
    let hdf5 = |name: &str, other: &str, prefix_var: &str, dir_var: &str, root: &str| {
        format!(
            "-- Cray PE style {name}\nfamily(\"hdf5\")\nconflict(\"{other}\")\nlocal PE_DIR = \"{root}\"\nsetenv(\"{dir_var}\", PE_DIR)\nsetenv(\"{prefix_var}\", PE_DIR)\nsetenv(\"HDF5_DIR\", PE_DIR)\nprepend_path(\"CRAY_LD_LIBRARY_PATH\", pathJoin(PE_DIR, \"lib\"))\nprepend_path(\"PE_PKGCONFIG_LIBS\", \"hdf5_hl:hdf5\")\n"
        )
    };
    let serial = |root: &str| hdf5("cray-hdf5", "cray-hdf5-parallel", "CRAY_HDF5_PREFIX", "CRAY_HDF5_DIR", root);
    let parallel = |root: &str| {
        hdf5(
            "cray-hdf5-parallel",
            "cray-hdf5",
            "CRAY_HDF5_PARALLEL_PREFIX",
            "CRAY_HDF5_PARALLEL_DIR",
            root,
        )
    };
    let mut files: Vec<(String, String)> = vec![
        (
            "core/PrgEnv-gnu/8.5.0.lua".into(),
            "-- Cray PE style PrgEnv-gnu\nfamily(\"PrgEnv\")\nsetenv(\"PE_ENV\", \"GNU\")\nload(\"gcc-native\")\nload(\"cray-mpich\")\n".into(),
        ),
        (
            "core/gcc-native/12.3.lua".into(),
            format!("family(\"compiler\")\nprepend_path(\"MODULEPATH\", \"{compiler_level}\")\n"),
        ),
        (
            "compiler/gnu/8.0/cray-mpich/8.1.27.lua".into(),
            format!("family(\"mpi\")\nsetenv(\"CRAY_MPICH_DIR\", \"/usr/lib/x86_64-linux-gnu/openmpi\")\nprepend_path(\"CRAY_LD_LIBRARY_PATH\", \"/usr/lib/x86_64-linux-gnu/openmpi/lib\")\nprepend_path(\"MODULEPATH\", \"{mpi_level}\")\n"),
        ),
        ("compiler/gnu/8.0/cray-hdf5/1.10.8.0.lua".into(), serial("/usr/lib/x86_64-linux-gnu/hdf5/serial")),
        ("compiler/gnu/8.0/cray-hdf5/1.12.2.9.lua".into(), serial("/opt/cray/pe/hdf5/1.12.2.9/gnu/9.1")),
    ];
    if with_parallel {
        let rel = "mpi/gnu/8.0/ofi/1.0/cray-mpich/8.0/cray-hdf5-parallel";
        files.push((format!("{rel}/1.10.8.0.lua"), parallel("/usr/lib/x86_64-linux-gnu/hdf5/openmpi")));
        files.push((
            format!("{rel}/1.14.3.1.lua"),
            parallel("/opt/cray/pe/hdf5-parallel/1.14.3.1/gnu/12.3"),
        ));
    }
    let files: Vec<(&str, String)> = files.iter().map(|(p, t)| (p.as_str(), t.clone())).collect();
    write_tree(root, &files);
    format!("{r}/core")
}

/// cray-hdf5-serial-vs-parallel with real Lmod and Cray-PE-style modulefiles (see [`cray_pe_site`]; they
/// imitate Cray's, there is no Cray PE here): with PrgEnv-gnu (which loads the compiler and cray-mpich,
/// opening both levels) and cray-hdf5/1.10.8.0 from the compiler level loaded, h5doctor
/// looks the parallel module up in the index and names `module swap cray-hdf5 cray-hdf5-parallel/1.10.8.0`
/// (the loaded cray-hdf5's version, not the default 1.14.3.1), verified on the spot; the test runs that
/// line and the finding is gone. With cray-hdf5/1.12.2.9 (no parallel module of that version) the default
/// is named; with no cray-hdf5-parallel on MODULEPATH, what to ask the admins.
#[test]
fn cray_hdf5_with_mpich_swaps_to_the_cray_hdf5_parallel_module_of_its_version() {
    require_lmod();
    let args = "--only modules";
    let site = common::tempdir();
    let mp = cray_pe_site(site.path(), true);
    let setup = "module load PrgEnv-gnu cray-hdf5/1.10.8.0 || exit 9";
    let (report, code) = check(&mp, setup, args);
    assert_eq!(code, 0, "a warning: {report:#}");
    let f = finding(&report, "cray-hdf5-serial-vs-parallel");
    assert_eq!(f["severity"], "warning", "{f:#}");
    let (_, note) = module_fix(&report, "cray-hdf5-serial-vs-parallel");
    assert_eq!(
        note,
        "cray-hdf5-parallel/1.10.8.0 holds HDF5 1.10.8 (parallel, openmpi), the version of the loaded cray-hdf5. Also: \
         cray-hdf5-parallel/1.14.3.1. Then rebuild (or reinstall h5py) against $CRAY_HDF5_PARALLEL_PREFIX if it was built with cray-hdf5 loaded."
    );
    let line = "module swap cray-hdf5 cray-hdf5-parallel/1.10.8.0";
    let after = fix_clears(&mp, setup, args, "cray-hdf5-serial-vs-parallel", line);
    assert_eq!(after["summary"]["errors"], 0, "{after:#}");
    let (_, stdout, _) = shell(Tool::Lmod, &mp, &format!("{setup}\n{line} || exit 9\necho \"$HDF5_DIR\""));
    assert_eq!(
        stdout.trim(),
        "/usr/lib/x86_64-linux-gnu/hdf5/openmpi",
        "Debian's Open MPI HDF5 after the swap"
    );

    // No cray-hdf5-parallel of the loaded version: the default one.
    let setup = "module load PrgEnv-gnu cray-hdf5/1.12.2.9 || exit 9";
    let (report, _) = check(&mp, setup, args);
    let (_, note) = module_fix(&report, "cray-hdf5-serial-vs-parallel");
    assert!(
        note.starts_with("cray-hdf5-parallel/1.14.3.1 is an HDF5 module (parallel by its name) (the default version)"),
        "{note}"
    );
    fix_clears(
        &mp,
        setup,
        args,
        "cray-hdf5-serial-vs-parallel",
        "module swap cray-hdf5 cray-hdf5-parallel/1.14.3.1",
    );

    // None on MODULEPATH: no module line, what to ask the admins.
    let site = common::tempdir();
    let mp = cray_pe_site(site.path(), false);
    let (report, _) = check(&mp, "module load PrgEnv-gnu cray-hdf5/1.10.8.0 || exit 9", args);
    let admin = admin_fix_instead_of_a_module(finding(&report, "cray-hdf5-serial-vs-parallel"));
    assert_eq!(
        admin["text"],
        "Ask the administrators for the Cray PE's cray-hdf5-parallel module (HDF5 built with cray-mpich, MPI-IO)"
    );
    assert_eq!(
        admin["note"],
        "No cray-hdf5-parallel module is on MODULEPATH (5 modules in 2 trees of MODULEPATH; hierarchy levels included)."
    );
}

/// A site's own h5py and two HDF5 releases of one soname, made once from real PyPI wheels into
/// ~/.cache/h5doctor-tests/site-h5py-3.10.0-hdf5-1.14.2-1.14.6: `hdf5-1.14.2/lib` holds the HDF5 1.14.2 that
/// the h5py 3.10.0 wheel bundles, `hdf5-1.14.6/lib` the HDF5 1.14.6 of the h5py 3.14.0 wheel, each under its
/// upstream soname `libhdf5.so.310` again (auditwheel had renamed them `libhdf5-<hash>.so.310.x.y`), and
/// `py/site-packages/h5py` is the 3.10.0 wheel's h5py (compiled against 1.14.2) with its extensions
/// needing `libhdf5.so.310` and no RPATH, as a site build against an `hdf5` module finds its library
/// through LD_LIBRARY_PATH. Run against 1.14.6, the real h5py warns that it runs against another HDF5.
fn site_h5py_stack() -> std::path::PathBuf {
    // One build per process at a time: the staging directory below is named by the process.
    static BUILDING: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let _one_build_at_a_time = BUILDING.lock().unwrap_or_else(|e| e.into_inner());
    let cache = Path::new(&std::env::var("HOME").expect("HOME is set")).join(".cache/h5doctor-tests");
    let root = cache.join("site-h5py-3.10.0-hdf5-1.14.2-1.14.6");
    if root.join(".ready").is_file() {
        return root;
    }
    let staging = cache.join(format!("site-h5py-3.10.0-hdf5-1.14.2-1.14.6.{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&staging);
    let run = |cmd: &mut Command, what: &str| {
        let out = cmd.output().unwrap_or_else(|e| panic!("{what}: cannot run: {e}"));
        assert!(
            out.status.success(),
            "{what} failed (needs python3-pip, patchelf and PyPI): {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let wheels = staging.join("wheels");
    for (h5py, hdf5) in [("3.10.0", "1.14.2"), ("3.14.0", "1.14.6")] {
        run(
            Command::new("/usr/bin/python3")
                .args(["-m", "pip", "download", "-q", "--no-deps", "--only-binary=:all:", "-d"])
                .arg(&wheels)
                .arg(format!("h5py=={h5py}"))
                .env("PIP_DISABLE_PIP_VERSION_CHECK", "1"),
            &format!("pip download h5py=={h5py}"),
        );
        let wheel = std::fs::read_dir(&wheels)
            .unwrap()
            .map(|e| e.unwrap().path())
            .find(|p| p.file_name().unwrap().to_string_lossy().starts_with(&format!("h5py-{h5py}-")))
            .unwrap();
        let unpacked = staging.join(format!("h5py-{h5py}"));
        run(
            Command::new("/usr/bin/python3")
                .args(["-m", "zipfile", "-e"])
                .arg(&wheel)
                .arg(&unpacked),
            "unzip the wheel",
        );
        let lib = staging.join(format!("hdf5-{hdf5}/lib"));
        std::fs::create_dir_all(&lib).unwrap();
        let mut renamed = Vec::new();
        for e in std::fs::read_dir(unpacked.join("h5py.libs")).unwrap() {
            let from = e.unwrap().path();
            let name = from.file_name().unwrap().to_string_lossy().into_owned();
            let upstream = if name.starts_with("libhdf5_hl-") {
                "libhdf5_hl.so.310".to_string()
            } else if name.starts_with("libhdf5-") {
                "libhdf5.so.310".to_string()
            } else {
                name.clone()
            };
            std::fs::copy(&from, lib.join(&upstream)).unwrap();
            if upstream != name {
                renamed.push((name, upstream));
            }
        }
        let mut undo: Vec<String> = Vec::new();
        for (hashed, upstream) in &renamed {
            undo.extend(["--replace-needed".into(), hashed.clone(), upstream.clone()]);
        }
        for (_, upstream) in &renamed {
            run(
                Command::new("patchelf")
                    .arg("--set-soname")
                    .arg(upstream)
                    .args(&undo)
                    .arg(lib.join(upstream)),
                "patchelf (apt-get install patchelf)",
            );
        }
        if h5py == "3.10.0" {
            let pkg = staging.join("py/site-packages");
            std::fs::create_dir_all(&pkg).unwrap();
            std::fs::rename(unpacked.join("h5py"), pkg.join("h5py")).unwrap();
            for e in std::fs::read_dir(pkg.join("h5py")).unwrap() {
                let so = e.unwrap().path();
                if so.extension().is_some_and(|x| x == "so") {
                    run(Command::new("patchelf").arg("--remove-rpath").args(&undo).arg(&so), "patchelf");
                }
            }
        }
        std::fs::remove_dir_all(&unpacked).unwrap();
    }
    std::fs::remove_dir_all(&wheels).unwrap();
    std::fs::write(staging.join(".ready"), "").unwrap();
    // Another test may have made it meanwhile: either copy is complete.
    if std::fs::rename(&staging, &root).is_err() {
        let _ = std::fs::remove_dir_all(&staging);
    }
    root
}

/// The site's modules for [`site_h5py_stack`], in Lmod's Lua or in Tcl: two `hdf5` versions (1.14.6 the
/// newest, so the default) and `py-h5py/3.10.0`, built against hdf5/1.14.2.
fn site_h5py_modules(stack: &Path, tool: Tool) -> Vec<(&'static str, String)> {
    let lib = |v: &str| stack.join(format!("hdf5-{v}/lib")).display().to_string();
    let site = stack.join("py/site-packages").display().to_string();
    match tool {
        Tool::Lmod => vec![
            (
                "hdf5/1.14.2.lua",
                format!("family(\"hdf5\")\nprepend_path(\"LD_LIBRARY_PATH\", \"{}\")\n", lib("1.14.2")),
            ),
            (
                "hdf5/1.14.6.lua",
                format!("family(\"hdf5\")\nprepend_path(\"LD_LIBRARY_PATH\", \"{}\")\n", lib("1.14.6")),
            ),
            (
                "py-h5py/3.10.0.lua",
                format!("help([[h5py 3.10.0, built here against hdf5/1.14.2]])\nprepend_path(\"PYTHONPATH\", \"{site}\")\n"),
            ),
        ],
        Tool::EnvModules => vec![
            (
                "hdf5/1.14.2",
                format!("#%Module1.0\nfamily hdf5\nprepend-path LD_LIBRARY_PATH {}\n", lib("1.14.2")),
            ),
            (
                "hdf5/1.14.6",
                format!("#%Module1.0\nfamily hdf5\nprepend-path LD_LIBRARY_PATH {}\n", lib("1.14.6")),
            ),
            (
                "py-h5py/3.10.0",
                format!("#%Module1.0\nmodule-whatis \"h5py 3.10.0, built here against hdf5/1.14.2\"\nprepend-path PYTHONPATH {site}\n"),
            ),
        ],
    }
}

/// h5py-hdf5-mismatch, end to end with Lmod and with modulecmd.tcl: the site's h5py (built against
/// hdf5/1.14.2) imported with the default hdf5/1.14.6 loaded warns that it runs against another HDF5;
/// h5doctor names the swap to the release h5py was built against, and after it the import is clean.
#[test]
fn h5py_running_against_another_hdf5_swaps_to_the_module_of_the_release_it_was_built_for() {
    let stack = site_h5py_stack();
    let args = "--only python --only modules --python /usr/bin/python3 --allow-exec-as-root";
    for tool in [Tool::Lmod, Tool::EnvModules] {
        let tree = common::tempdir();
        write_tree(tree.path(), &site_h5py_modules(&stack, tool));
        let mp = tree.path().to_str().unwrap();
        let setup = "module load hdf5 py-h5py || exit 9";
        let (report, code) = check_with(tool, mp, setup, args);
        assert_eq!(code, 1, "{tool:?}: {report:#}");
        let f = finding(&report, "h5py-hdf5-mismatch");
        let warned = "h5py is running against HDF5 1.14.6 when it was built against 1.14.2";
        assert!(
            f.to_string().contains(warned),
            "{tool:?}: h5py's own warning is the evidence: {f:#}"
        );
        let (_, note) = module_fix(&report, "h5py-hdf5-mismatch");
        assert!(note.starts_with("hdf5/1.14.2 "), "{tool:?}: {note}");
        let after = fix_clears_with(tool, mp, setup, args, "h5py-hdf5-mismatch", "module swap hdf5 hdf5/1.14.2");
        // PYTHONPATH set by the h5py module stays a warning of its own (python-path-pollution).
        assert_eq!(after["summary"]["errors"], 0, "{tool:?}: {after:#}");
    }
}

/// The site's NumPy modules for the numpy tests, in Lua or Tcl: `py-numpy/2.4.6` (the default, the highest)
/// puts the real NumPy 2.4.6 wheel on PYTHONPATH; `py-numpy/1.24.2` (when `with_numpy1`) puts Debian's
/// dist-packages, with its NumPy 1.24.2, there; `py-stack/1.0` requires `py-numpy/2.4.6`, so loading it
/// loads that one automatically (Lmod's `depends_on`, modulecmd's `prereq` with automated handling).
fn numpy_modules(tool: Tool, numpy2: &Path, with_numpy1: bool) -> Vec<(&'static str, String)> {
    let (n2, n1) = (numpy2.display().to_string(), "/usr/lib/python3/dist-packages");
    let mut files = match tool {
        Tool::Lmod => vec![
            ("py-numpy/2.4.6.lua", format!("prepend_path(\"PYTHONPATH\", \"{n2}\")\n")),
            ("py-numpy/1.24.2.lua", format!("prepend_path(\"PYTHONPATH\", \"{n1}\")\n")),
            ("py-stack/1.0.lua", "depends_on(\"py-numpy/2.4.6\")\n".to_string()),
        ],
        Tool::EnvModules => vec![
            ("py-numpy/2.4.6", format!("#%Module1.0\nprepend-path PYTHONPATH {n2}\n")),
            ("py-numpy/1.24.2", format!("#%Module1.0\nprepend-path PYTHONPATH {n1}\n")),
            ("py-stack/1.0", "#%Module1.0\nprereq py-numpy/2.4.6\n".to_string()),
        ],
    };
    if !with_numpy1 {
        files.retain(|(path, _)| !path.starts_with("py-numpy/1.24.2"));
    }
    files
}

/// numpy-2-abi end to end with Lmod and with modulecmd.tcl: Debian's h5py 3.7.0 (compiled for NumPy 1.x)
/// and a site module that puts the real NumPy 2.4.6 on PYTHONPATH: `import h5py` fails for real with
/// "numpy.dtype size changed". h5doctor names the module line (swap to the module's NumPy 1 version when
/// the index has one, else unload it; for a NumPy module loaded automatically, unload the module the user
/// loaded that pulled it in), verifies it on the spot, the test runs that line with the real tool, and
/// the finding is gone.
#[test]
fn numpy_2_put_on_pythonpath_by_a_module_is_swapped_or_unloaded_for_a_numpy_1_h5py() {
    require_lmod();
    assert!(
        Path::new("/usr/lib/python3/dist-packages/numpy-1.24.2.egg-info").exists(),
        "Debian's python3-numpy 1.24.2 and python3-h5py 3.7.0 are needed: apt-get install python3-h5py"
    );
    let numpy2 = venv("numpy-2.4.6-only", &["numpy==2.4.6"], Deps::Exact).site_packages();
    let args = format!("--only python --only modules --python {DEBIAN_PYTHON} --allow-exec-as-root");
    for tool in [Tool::Lmod, Tool::EnvModules] {
        // Only the NumPy 2 version exists: the module is unloaded, and Debian's own NumPy comes back.
        let tree = common::tempdir();
        write_tree(tree.path(), &numpy_modules(tool, &numpy2, false));
        let mp = tree.path().to_str().unwrap();
        let setup = "module load py-numpy || exit 9";
        let (report, code) = check_with(tool, mp, setup, &args);
        assert_eq!(code, 1, "{tool:?}: {report:#}");
        let f = finding(&report, "numpy-2-abi");
        assert!(
            f.to_string().contains("numpy.dtype size changed"),
            "{tool:?}: the real import error is the evidence: {f:#}"
        );
        let (_, note) = module_fix(&report, "numpy-2-abi");
        assert_eq!(
            note,
            format!(
                "py-numpy/2.4.6 puts NumPy 2.4.6 on PYTHONPATH ({}), which this h5py cannot run with; without it the interpreter's own NumPy is imported.",
                numpy2.display()
            ),
            "{tool:?}"
        );
        fix_clears_with(tool, mp, setup, &args, "numpy-2-abi", "module unload py-numpy");

        // The site also has a NumPy 1 version of the module: swapped to it.
        let tree = common::tempdir();
        write_tree(tree.path(), &numpy_modules(tool, &numpy2, true));
        let mp = tree.path().to_str().unwrap();
        let (report, _) = check_with(tool, mp, setup, &args);
        let (_, note) = module_fix(&report, "numpy-2-abi");
        assert!(
            note.ends_with("; py-numpy/1.24.2 holds NumPy 1.24.2, which h5py (built for NumPy 1.x) runs with."),
            "{tool:?}: {note}"
        );
        fix_clears_with(tool, mp, setup, &args, "numpy-2-abi", "module swap py-numpy py-numpy/1.24.2");

        // NumPy 2 loaded automatically by the stack the user loaded: the stack is what to unload (unloading
        // the requirement alone leaves py-stack loaded without it under Lmod, and unloads py-stack too
        // under Environment Modules).
        let setup = "module load py-stack || exit 9";
        let (report, _) = check_with(tool, mp, setup, &args);
        let (_, note) = module_fix(&report, "numpy-2-abi");
        assert!(
            note.ends_with("; it was loaded automatically by py-stack/1.0, so unloading py-stack takes it away too."),
            "{tool:?}: {note}"
        );
        fix_clears_with(tool, mp, setup, &args, "numpy-2-abi", "module unload py-stack");
    }
}

/// `h5doctor modules` shows the NumPy and h5py a module's PYTHONPATH holds, read from their real
/// distribution metadata: PyPI's h5py 3.10.0 with NumPy 2.4.6 (a venv's site-packages), NumPy 2.4.6 alone,
/// and Debian's dist-packages (a Tcl modulefile: NumPy 1.24.2's egg-info, h5py 3.7.0 under the names
/// Debian gives its builds, and mpi4py 3.1.4 with the Python and MPI its extension was built for); a
/// PYTHONPATH holding none shows none. Human output and --json.
#[test]
fn modules_shows_the_numpy_and_h5py_each_modules_pythonpath_holds_human_and_json() {
    require_lmod();
    let debian = Path::new("/usr/lib/python3/dist-packages");
    assert!(
        debian.join("numpy-1.24.2.egg-info").exists() && debian.join("h5py._debian_h5py_serial-3.7.0.dist-info").exists(),
        "Debian's python3-numpy 1.24.2 and python3-h5py 3.7.0 are needed: apt-get install python3-h5py"
    );
    let stack = venv("h5py-3.10-numpy-2.4", &["h5py==3.10.0", "numpy==2.4.6"], Deps::Exact).site_packages();
    let numpy2 = venv("numpy-2.4.6-only", &["numpy==2.4.6"], Deps::Exact).site_packages();
    let tree = common::tempdir();
    let (s, n) = (stack.display(), numpy2.display());
    write_tree(
        tree.path(),
        &[
            ("py-h5py/3.10.0.lua", format!("prepend_path(\"PYTHONPATH\", \"{s}\")\n")),
            ("py-numpy/2.4.6.lua", format!("prepend_path(\"PYTHONPATH\", \"{n}\")\n")),
            (
                "py-debian/12",
                format!("#%Module1.0\nprepend-path PYTHONPATH {}\n", debian.display()),
            ),
            (
                "py-empty/1.0.lua",
                format!("prepend_path(\"PYTHONPATH\", \"{}\")\n", tree.path().display()),
            ),
        ],
    );
    let mp = tree.path().to_str().unwrap();
    let (code, out, stderr) = lmod(mp, "\"$H5DOCTOR\" modules py-");
    assert_eq!(code, 0, "{out}{stderr}");
    let block = |name: &str| -> String {
        let start = out
            .find(&format!("{name} (default)\n"))
            .unwrap_or_else(|| panic!("{name} is listed: {out}"));
        let end = out[start + 1..].find("\npy-").map_or(out.len(), |e| start + 1 + e + 1);
        out[start..end].to_string()
    };
    let h5py = block("py-h5py/3.10.0");
    assert!(
        h5py.contains("\n    provides:    h5py without MPI; h5py 3.10.0 (on its PYTHONPATH, built for NumPy 1.x, against 1.23.2); numpy 2.4.6 (on its PYTHONPATH)\n"),
        "{h5py}"
    );
    assert!(h5py.contains(&format!("\n    PYTHONPATH:  {s}\n")), "{h5py}");
    let numpy = block("py-numpy/2.4.6");
    assert!(numpy.contains("\n    provides:    numpy 2.4.6 (on its PYTHONPATH)\n"), "{numpy}");
    let debian_block = block("py-debian/12");
    assert!(
        debian_block.contains("\n    provides:    h5py 3.7.0 (on its PYTHONPATH); mpi4py 3.1.4 (on its PYTHONPATH, built for Python 3.11 and libmpi.so.40 (openmpi)); numpy 1.24.2 (on its PYTHONPATH)\n"),
        "{debian_block}"
    );
    let empty = block("py-empty/1.0");
    assert!(!empty.contains("provides:"), "nothing on that PYTHONPATH: {empty}");

    let (code, out, stderr) = lmod(mp, "\"$H5DOCTOR\" modules py- --json");
    assert_eq!(code, 0, "{stderr}");
    let listed: Value = serde_json::from_str(&out).unwrap();
    let module = |name: &str| -> Value {
        listed["modules"]
            .as_array()
            .unwrap()
            .iter()
            .find(|m| m["full_name"] == name)
            .cloned()
            .unwrap_or_else(|| panic!("{name}: {listed:#}"))
    };
    let h5py = module("py-h5py/3.10.0");
    assert_eq!(
        h5py["python_packages"],
        serde_json::json!({"h5py": "3.10.0", "numpy": "2.4.6"}),
        "{h5py:#}"
    );
    assert_eq!(
        h5py["provides_text"],
        serde_json::json!([
            "h5py without MPI",
            "h5py 3.10.0 (on its PYTHONPATH, built for NumPy 1.x, against 1.23.2)",
            "numpy 2.4.6 (on its PYTHONPATH)"
        ])
    );
    // What the wheel's extensions were built for, read from their strings (Debian's builds live in
    // sub-packages, so its h5py has no such record).
    assert_eq!(h5py["h5py_numpy"], serde_json::json!({"abi": "1.x", "built": "1.23.2"}), "{h5py:#}");
    assert!(module("py-debian/12").get("h5py_numpy").is_none());
    assert_eq!(module("py-numpy/2.4.6")["python_packages"], serde_json::json!({"numpy": "2.4.6"}));
    assert_eq!(
        module("py-debian/12")["python_packages"],
        serde_json::json!({"h5py": "3.7.0", "mpi4py": "3.1.4", "numpy": "1.24.2"})
    );
    // Debian's mpi4py (python3-mpi4py): what its MPI extension was built for, read from its name and links.
    assert_eq!(
        module("py-debian/12")["mpi4py"],
        serde_json::json!({"python": "3.11", "mpi_library": "libmpi.so.40", "mpi_family": "openmpi"})
    );
    assert!(module("py-h5py/3.10.0").get("mpi4py").is_none());
    let empty = module("py-empty/1.0");
    assert!(empty.get("python_packages").is_none(), "left out when empty: {empty:#}");
    assert_eq!(empty["provides_text"], serde_json::json!([]));
}

/// Spack- and EasyBuild-style generated modulefiles (Lua and Tcl, flat and behind a compiler level),
/// modelled on what `spack module lmod refresh` / `spack module tcl refresh` and EasyBuild 4 write.
fn generated_tree(root: &Path) -> Vec<(&'static str, String)> {
    let r = root.display();
    vec![
        (
            "Core/gcc/12.2.0.lua",
            format!(
                "-- -*- lua -*-\n-- Module file created by spack (https://github.com/spack/spack) on 2024-01-01\n--\n-- gcc@12.2.0%gcc@12.2.0 arch=linux-debian12-x86_64/abcdefg\n--\n\nwhatis([[Name : gcc]])\nwhatis([[Version : 12.2.0]])\nfamily(\"compiler\")\n\n-- MODULEPATH modifications\nprepend_path(\"MODULEPATH\", \"{r}/gcc/12.2.0\")\n\n-- Services provided by the package\nprepend_path(\"PATH\", \"/opt/spack/gcc-12.2.0-abcdefg/bin\", \":\")\nprepend_path(\"LD_LIBRARY_PATH\", \"/opt/spack/gcc-12.2.0-abcdefg/lib64\", \":\")\nsetenv(\"CC\", \"/opt/spack/gcc-12.2.0-abcdefg/bin/gcc\")\n"
            ),
        ),
        (
            "gcc/12.2.0/hdf5/1.14.3.lua",
            "-- -*- lua -*-\n-- Module file created by spack\nwhatis([[Name : hdf5]])\nhelp([[Name   : hdf5]])\ndepends_on(\"zlib-ng/2.1.4\")\nprepend_path(\"PATH\", \"/opt/spack/hdf5-1.14.3-xyz/bin\", \":\")\nprepend_path(\"LD_LIBRARY_PATH\", \"/opt/spack/hdf5-1.14.3-xyz/lib\", \":\")\nprepend_path(\"CMAKE_PREFIX_PATH\", \"/opt/spack/hdf5-1.14.3-xyz/.\", \":\")\nsetenv(\"HDF5_ROOT\", \"/opt/spack/hdf5-1.14.3-xyz\")\n".into(),
        ),
        (
            "gcc/12.2.0/zlib-ng/2.1.4.lua",
            "-- Module file created by spack\nprepend_path(\"LD_LIBRARY_PATH\", \"/opt/spack/zlib-ng-2.1.4-q/lib\", \":\")\n".into(),
        ),
        (
            "Core/HDF5/1.14.0-gompi-2023a.lua",
            "help([==[\n\nDescription\n===========\nHDF5 is a data model, library, and file format.\n]==])\n\nwhatis([==[Description: HDF5 is a data model]==])\n\nlocal root = \"/apps/software/HDF5/1.14.0-gompi-2023a\"\n\nconflict(\"HDF5\")\n\nif not ( isloaded(\"OpenMPI/4.1.5-GCC-12.3.0\") ) then\n    load(\"OpenMPI/4.1.5-GCC-12.3.0\")\nend\n\nprepend_path(\"CPATH\", pathJoin(root, \"include\"))\nprepend_path(\"LD_LIBRARY_PATH\", pathJoin(root, \"lib\"))\nprepend_path(\"LIBRARY_PATH\", pathJoin(root, \"lib\"))\nprepend_path(\"PATH\", pathJoin(root, \"bin\"))\nsetenv(\"EBROOTHDF5\", root)\nsetenv(\"EBVERSIONHDF5\", \"1.14.0\")\n\nsetenv(\"HDF5_DIR\", \"/apps/software/HDF5/1.14.0-gompi-2023a\")\n-- Built with EasyBuild version 4.8.0\n".into(),
        ),
        (
            "Core/OpenMPI/4.1.5-GCC-12.3.0.lua",
            "local root = \"/apps/software/OpenMPI/4.1.5-GCC-12.3.0\"\nconflict(\"OpenMPI\")\nprepend_path(\"LD_LIBRARY_PATH\", pathJoin(root, \"lib\"))\nprepend_path(\"PATH\", pathJoin(root, \"bin\"))\n-- Built with EasyBuild version 4.8.0\n".into(),
        ),
        (
            "Core/netcdf/4.9.2",
            "#%Module1.0\n## Module file created by spack (https://github.com/spack/spack) on 2024-01-01\n##\nproc ModulesHelp { } {\n    puts stderr \"Name   : netcdf-c\"\n}\nmodule-whatis {NetCDF}\nconflict netcdf\nprepend-path --delim \":\" PATH \"/opt/spack/netcdf-c-4.9.2-n/bin\"\nprepend-path --delim \":\" LD_LIBRARY_PATH \"/opt/spack/netcdf-c-4.9.2-n/lib\"\nsetenv NETCDF_C_ROOT \"/opt/spack/netcdf-c-4.9.2-n\"\n".into(),
        ),
        (
            "Core/py-site/1.0",
            "#%Module1.0\nset prefix [file join $env(SITE_ROOT) py-site 1.0]\nprepend-path PYTHONPATH $prefix/lib/python3.11/site-packages\nappend-path PATH ${prefix}/bin\nif { [info exists env(SITE_DEBUG)] } {\n    prepend-path PATH $prefix/debug/bin\n}\n".into(),
        ),
    ]
}

/// The path changes `module show` prints: Lmod's `prepend_path("VAR","dir"[,":"])` lines, or
/// modulecmd's `prepend-path VAR dir` lines, as VAR -> dirs.
fn shown_paths(show: &str) -> std::collections::BTreeMap<String, Vec<String>> {
    let mut out: std::collections::BTreeMap<String, Vec<String>> = Default::default();
    for line in show.lines().map(str::trim) {
        let (var, dir) = if let Some(rest) = line.strip_prefix("prepend_path(\"").or_else(|| line.strip_prefix("append_path(\"")) {
            let mut it = rest.split('"');
            let var = it.next().unwrap_or_default();
            let dir = it.nth(1).unwrap_or_default();
            (var.to_string(), dir.to_string())
        } else if let Some(rest) = line.strip_prefix("prepend-path").or_else(|| line.strip_prefix("append-path")) {
            let mut words: Vec<&str> = Vec::new();
            let mut it = rest.split_whitespace();
            while let Some(w) = it.next() {
                match w {
                    "--delim" | "-d" => {
                        it.next();
                    }
                    w if w.starts_with("--") => {}
                    w => words.push(w),
                }
            }
            match words.as_slice() {
                [var, dir, ..] => (var.to_string(), dir.to_string()),
                _ => continue,
            }
        } else {
            continue;
        };
        if ["LD_LIBRARY_PATH", "PATH", "PYTHONPATH", "LIBRARY_PATH", "MODULEPATH"].contains(&var.as_str()) {
            out.entry(var).or_default().push(dir);
        }
    }
    out
}

#[test]
fn computed_paths_equal_what_the_real_module_show_prints_lmod_and_modulecmd() {
    require_lmod();
    let tree = common::tempdir();
    let files = generated_tree(tree.path());
    write_tree(tree.path(), &files);
    let core = tree.path().join("Core");
    let mp = core.to_str().unwrap();
    for (tool, site_debug) in [(Tool::Lmod, false), (Tool::Lmod, true), (Tool::EnvModules, true)] {
        let mut setup = "export SITE_ROOT=/srv/site".to_string();
        if site_debug {
            setup.push_str(" SITE_DEBUG=1");
        }
        let (code, facts, stderr) = shell(tool, mp, &format!("{setup}\n\"$H5DOCTOR\" facts --only modules --json"));
        assert_eq!(code, 0, "{stderr}");
        let facts: Value = serde_json::from_str(&facts).unwrap();
        let modules = facts["modules"]["index"]["modules"].as_array().unwrap().clone();
        let expected = if tool == Tool::EnvModules { 2 } else { 7 };
        assert_eq!(modules.len(), expected, "{tool:?}: {modules:#?}");
        for m in &modules {
            let full = m["full_name"].as_str().unwrap();
            let via: Vec<&str> = m["via"].as_array().unwrap().iter().map(|v| v.as_str().unwrap()).collect();
            let load = if via.is_empty() {
                String::new()
            } else {
                format!("module load {} && ", via.join(" "))
            };
            let (code, _, show) = shell(tool, mp, &format!("{setup}\n{load}module show {full}"));
            assert_eq!(code, 0, "{tool:?} module show {full}: {show}");
            let mut ours: std::collections::BTreeMap<String, Vec<String>> = serde_json::from_value(m["paths"].clone()).unwrap();
            let opened: Vec<String> = serde_json::from_value(m["modulepath"].clone()).unwrap();
            if !opened.is_empty() {
                ours.insert("MODULEPATH".into(), opened);
            }
            ours.retain(|_, v| !v.is_empty());
            assert_eq!(ours, shown_paths(&show), "{tool:?} {full}: h5doctor vs module show:\n{show}");
        }
    }
}

/// A CPython 3.9: pyenv's (`$PYENV_ROOT` or ~/.pyenv, `versions/3.9.*`), else `python3.9` on PATH. NumPy
/// 1.19 (the last release whose ndarray is 80 bytes) has no wheels for Debian's Python 3.11, so the
/// struct-size failure between NumPy 1.x releases needs a 3.9.
fn python39() -> std::path::PathBuf {
    let home = std::env::var_os("HOME").expect("HOME is set");
    let root = std::env::var_os("PYENV_ROOT")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| Path::new(&home).join(".pyenv"));
    let mut found: Vec<std::path::PathBuf> = std::fs::read_dir(root.join("versions"))
        .into_iter()
        .flatten()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().starts_with("3.9."))
        .map(|e| e.path().join("bin/python3.9"))
        .filter(|p| p.is_file())
        .collect();
    found.sort();
    if let Some(p) = found.pop() {
        return p;
    }
    let on_path = std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).map(|d| d.join("python3.9")).find(|p| p.is_file()))
        .unwrap_or_default();
    on_path.unwrap_or_else(|| {
        panic!(
            "this test needs a CPython 3.9 (NumPy 1.19 has no wheels for Python 3.11): `pyenv install 3.9` \
             (into $PYENV_ROOT or ~/.pyenv), or a python3.9 on PATH"
        )
    })
}

/// The NumPy/h5py stack of a Python 3.9 site, made once into
/// ~/.cache/h5doctor-tests/py3.9-h5py-3.10.0-built-numpy-1.21.6 from real PyPI packages:
/// - `h5py-3.10.0/`: h5py 3.10.0 built HERE from its PyPI sdist (Cython 0.29.37, Debian's serial HDF5
///   1.10.8) against NumPy 1.21.6, as a site builds it with `--no-build-isolation` against the NumPy it
///   has; NumPy >= 1.20 headers make `ndarray` 88 bytes, so under NumPy 1.19 (80 bytes) the real import
///   fails with "numpy.ndarray size changed, may indicate binary incompatibility. Expected 88 from C
///   header, got 80 from PyObject";
/// - `h5py-3.11.0/`: the real h5py 3.11.0 cp39 wheel (built with NumPy 2 headers: runs on NumPy 1.x too);
/// - `numpy-1.19.5/`, `numpy-1.21.6/`, `numpy-2.0.2/`: the real NumPy wheels.
fn py39_numpy_stack() -> (std::path::PathBuf, std::path::PathBuf) {
    // Two tests of this binary need the stack; their staging directory is named by the process, so the
    // second must wait for the first's build instead of removing its half-built staging directory (a
    // cold cache failed with "numpy/arrayobject.h: No such file or directory" that way).
    static BUILDING: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let _one_build_at_a_time = BUILDING.lock().unwrap_or_else(|e| e.into_inner());
    let python = python39();
    let cache = Path::new(&std::env::var("HOME").expect("HOME is set")).join(".cache/h5doctor-tests");
    let root = cache.join("py3.9-h5py-3.10.0-built-numpy-1.21.6");
    if root.join(".ready").is_file() {
        return (python, root);
    }
    let staging = cache.join(format!("py3.9-h5py-3.10.0-built-numpy-1.21.6.{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&staging);
    std::fs::create_dir_all(&staging).unwrap();
    let run = |cmd: &mut Command, what: &str| {
        let out = cmd
            .env("PIP_DISABLE_PIP_VERSION_CHECK", "1")
            .output()
            .unwrap_or_else(|e| panic!("{what}: cannot run: {e}"));
        assert!(
            out.status.success(),
            "{what} failed (needs PyPI, a C compiler and Debian's libhdf5-dev): {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    };
    let build = staging.join("build-venv");
    run(Command::new(&python).args(["-m", "venv"]).arg(&build), "python3.9 -m venv");
    let pip = build.join("bin/pip");
    run(
        Command::new(&pip).args([
            "install",
            "-q",
            "--only-binary=:all:",
            "numpy==1.21.6",
            "Cython==0.29.37",
            "setuptools==69.5.1",
            "wheel==0.43.0",
            "pkgconfig==1.5.5",
        ]),
        "pip install the build requirements",
    );
    let wheels = staging.join("wheels");
    run(
        Command::new(&pip)
            .args(["wheel", "-q", "--no-deps", "--no-build-isolation", "--no-binary", "h5py", "-w"])
            .arg(&wheels)
            .arg("h5py==3.10.0")
            .env("HDF5_DIR", "/usr/lib/x86_64-linux-gnu/hdf5/serial"),
        "build h5py 3.10.0 from its sdist against NumPy 1.21.6",
    );
    let built = std::fs::read_dir(&wheels)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.file_name().unwrap().to_string_lossy().starts_with("h5py-3.10.0-"))
        .expect("the built h5py wheel");
    let install = |what: &str, dir: &str| {
        run(
            Command::new(&pip)
                .args(["install", "-q", "--no-deps", "--target"])
                .arg(staging.join(dir))
                .arg(what),
            &format!("pip install --target {dir} {what}"),
        );
    };
    install(built.to_str().unwrap(), "h5py-3.10.0");
    for (what, dir) in [
        ("h5py==3.11.0", "h5py-3.11.0"),
        ("numpy==1.19.5", "numpy-1.19.5"),
        ("numpy==1.21.6", "numpy-1.21.6"),
        ("numpy==2.0.2", "numpy-2.0.2"),
    ] {
        install(what, dir);
    }
    std::fs::remove_dir_all(&build).unwrap();
    std::fs::remove_dir_all(&wheels).unwrap();
    std::fs::write(staging.join(".ready"), "").unwrap();
    if std::fs::rename(&staging, &root).is_err() {
        let _ = std::fs::remove_dir_all(&staging);
    }
    (python, root)
}

/// The Python 3.9 site's modules for [`py39_numpy_stack`], in Lua or Tcl: `py-numpy/1.19.5`, `/1.21.6`,
/// `/2.0.2` and `py-h5py/3.10.0` (built against NumPy 1.21.6), plus `py-h5py/3.11.0` (built for NumPy 2)
/// when `with_h5py_311`.
fn py39_modules(tool: Tool, stack: &Path, with_h5py_311: bool) -> Vec<(String, String)> {
    let mut files = Vec::new();
    let mut entries = vec![
        ("py-numpy", "1.19.5", "numpy-1.19.5"),
        ("py-numpy", "1.21.6", "numpy-1.21.6"),
        ("py-numpy", "2.0.2", "numpy-2.0.2"),
        ("py-h5py", "3.10.0", "h5py-3.10.0"),
    ];
    if with_h5py_311 {
        entries.push(("py-h5py", "3.11.0", "h5py-3.11.0"));
    }
    for (name, version, dir) in entries {
        let dir = stack.join(dir).display().to_string();
        files.push(match tool {
            Tool::Lmod => (
                format!("{name}/{version}.lua"),
                format!("prepend_path(\"PYTHONPATH\", \"{dir}\")\n"),
            ),
            Tool::EnvModules => (format!("{name}/{version}"), format!("#%Module1.0\nprepend-path PYTHONPATH {dir}\n")),
        });
    }
    files
}

/// numpy-abi-dtype-size end to end with Lmod and with modulecmd.tcl, from a real failure: h5py 3.10.0
/// built from its sdist against NumPy 1.21.6, imported with NumPy 1.19.5 (`module load py-numpy/1.19.5
/// py-h5py/3.10.0`), fails for real with "numpy.ndarray size changed, may indicate binary
/// incompatibility. Expected 88 from C header, got 80 from PyObject". h5py was built for NumPy 1.x and
/// NumPy is 1.x, so this is not numpy-2-abi. h5doctor names the swap to the NumPy module whose NumPy this
/// h5py runs with (not older than the release it was built against), verifies it on the spot, the test
/// runs the line with the real tool, and the finding is gone. With an h5py module built for NumPy 2 on the
/// site (h5py 3.11.0, which runs on NumPy 1.19), the h5py module is swapped instead, keeping the NumPy the
/// user loaded. And with NumPy 2.0.2 loaded, the same h5py module is the cure for numpy-2-abi.
#[test]
fn numpy_struct_size_mismatch_swaps_to_the_numpy_or_h5py_module_built_for_each_other() {
    require_lmod();
    let (python, stack) = py39_numpy_stack();
    let args = format!("--only python --only modules --python {} --allow-exec-as-root", python.display());
    for tool in [Tool::Lmod, Tool::EnvModules] {
        let tree = common::tempdir();
        let files = py39_modules(tool, &stack, false);
        let files: Vec<(&str, String)> = files.iter().map(|(p, t)| (p.as_str(), t.clone())).collect();
        write_tree(tree.path(), &files);
        let mp = tree.path().to_str().unwrap();
        let setup = "module load py-numpy/1.19.5 py-h5py/3.10.0 || exit 9";
        let (report, code) = check_with(tool, mp, setup, &args);
        assert_eq!(code, 1, "{tool:?}: {report:#}");
        assert!(!slugs(&report).contains(&"numpy-2-abi".to_string()), "{tool:?}: {report:#}");
        let f = finding(&report, "numpy-abi-dtype-size");
        assert!(
            f.to_string().contains(
                "numpy.ndarray size changed, may indicate binary incompatibility. Expected 88 from C header, got 80 from PyObject"
            ),
            "{tool:?}: the real import error is the evidence: {f:#}"
        );
        let (_, note) = module_fix(&report, "numpy-abi-dtype-size");
        assert_eq!(
            note,
            format!(
                "py-numpy/1.19.5 puts NumPy 1.19.5 on PYTHONPATH ({}); py-numpy/1.21.6 holds NumPy 1.21.6, which h5py (built against NumPy 1.21.6) runs with.",
                stack.join("numpy-1.19.5").display()
            ),
            "{tool:?}"
        );
        // The same cause read statically (NumPy 1.19's C-API 0xd is older than the 0xe of the NumPy h5py
        // was built against): numpy-capi-version names the same line, verified the same way.
        let capi = finding(&report, "numpy-capi-version");
        let fix = capi["fixes"].as_array().unwrap().iter().find(|x| x["kind"] == "module").unwrap();
        assert_eq!(
            (fix["text"].as_str(), fix["verified"].as_bool()),
            (Some("module swap py-numpy py-numpy/1.21.6"), Some(true)),
            "{tool:?}: {capi:#}"
        );
        let after = fix_clears_with(
            tool,
            mp,
            setup,
            &args,
            "numpy-abi-dtype-size",
            "module swap py-numpy py-numpy/1.21.6",
        );
        assert_eq!(after["summary"]["errors"], 0, "{tool:?}: {after:#}");

        // The site also has h5py 3.11.0, built for NumPy 2 (it runs on NumPy >= 1.19): that h5py module
        // is preferred, and the NumPy the user loaded stays.
        let tree = common::tempdir();
        let files = py39_modules(tool, &stack, true);
        let files: Vec<(&str, String)> = files.iter().map(|(p, t)| (p.as_str(), t.clone())).collect();
        write_tree(tree.path(), &files);
        let mp = tree.path().to_str().unwrap();
        let (report, _) = check_with(tool, mp, setup, &args);
        let (_, note) = module_fix(&report, "numpy-abi-dtype-size");
        assert_eq!(
            note,
            "py-h5py/3.10.0 puts h5py 3.10.0 (built against NumPy 1.21.6) on PYTHONPATH, which cannot run with NumPy 1.19.5; py-h5py/3.11.0 holds h5py 3.11.0 (built for NumPy 2, runs on NumPy >= 1.16), which runs with NumPy 1.19.5 (the default version).",
            "{tool:?}"
        );
        // `h5doctor modules` shows what each h5py module was built for, as the index read it.
        let (code, out, stderr) = shell(tool, mp, "\"$H5DOCTOR\" modules py-h5py");
        assert_eq!(code, 0, "{tool:?}: {stderr}");
        assert!(
            out.contains("h5py 3.11.0 (on its PYTHONPATH, built for NumPy 2.x, against 2.0.0rc1, runs on NumPy >= 1.16)")
                && out.contains("h5py 3.10.0 (on its PYTHONPATH, built for NumPy 1.x, against 1.21.6)"),
            "{tool:?}: {out}"
        );
        let after = fix_clears_with(tool, mp, setup, &args, "numpy-abi-dtype-size", "module swap py-h5py py-h5py/3.11.0");
        assert_eq!(after["summary"]["errors"], 0, "{tool:?}: {after:#}");

        // NumPy 2.0.2 with the h5py built against NumPy 1.21.6: numpy-2-abi, cured by the same h5py module.
        let setup = "module load py-numpy/2.0.2 py-h5py/3.10.0 || exit 9";
        let (report, _) = check_with(tool, mp, setup, &args);
        assert!(
            finding(&report, "numpy-2-abi").to_string().contains("numpy.dtype size changed"),
            "{tool:?}: {report:#}"
        );
        let after = fix_clears_with(tool, mp, setup, &args, "numpy-2-abi", "module swap py-h5py py-h5py/3.11.0");
        assert_eq!(after["summary"]["errors"], 0, "{tool:?}: {after:#}");
    }
}

/// lib-version-missing end to end with Lmod: a site library in two builds of one soname (`libsitefoo.so.1`),
/// the newer one defining `foo@SITEFOO_2.0`, and a program linked against the newer one. With `sitefoo/1.0`
/// loaded the loader finds the old build, which lacks the version; h5doctor names the module whose
/// directory holds another build, verifies it on the spot, the test runs the line, and the finding is
/// gone. Without such a module it says plainly that none exists and what to ask the administrators.
#[test]
fn a_library_lacking_a_symbol_version_swaps_to_the_module_with_the_other_build() {
    require_lmod();
    let fx = Fx::new();
    std::fs::create_dir_all(fx.path("maps")).unwrap();
    std::fs::write(fx.path("maps/v1.map"), "SITEFOO_1.0 { global: foo; local: *; };\n").unwrap();
    std::fs::write(fx.path("maps/v2.map"), "SITEFOO_2.0 { global: foo; local: *; };\n").unwrap();
    let v1 = format!("-Wl,--version-script={}", fx.path("maps/v1.map").display());
    let v2 = format!("-Wl,--version-script={}", fx.path("maps/v2.map").display());
    fx.so(
        "old/lib/libsitefoo.so.1",
        Some("libsitefoo.so.1"),
        "int foo(void){return 1;}\n",
        &[&v1],
    );
    fx.so(
        "new/lib/libsitefoo.so.1",
        Some("libsitefoo.so.1"),
        "int foo(void){return 2;}\n",
        &[&v2],
    );
    let app = fx.so(
        "bin/app.so",
        None,
        "int foo(void); int app(void){return foo();}\n",
        &[&format!("-L{}", fx.path("new/lib").display()), "-l:libsitefoo.so.1"],
    );
    let module = |dir: &str| format!("prepend_path(\"LD_LIBRARY_PATH\", \"{}\")\n", fx.path(dir).display());
    let tree = common::tempdir();
    write_tree(
        tree.path(),
        &[("sitefoo/1.0.lua", module("old/lib")), ("sitefoo/2.0.lua", module("new/lib"))],
    );
    let mp = tree.path().to_str().unwrap();
    let args = format!("--only libraries --only modules --binary {}", app.display());
    let setup = "module load sitefoo/1.0 || exit 9";
    let (report, code) = check(mp, setup, &args);
    assert_eq!(code, 1, "{report:#}");
    let (_, note) = module_fix(&report, "lib-version-missing");
    assert_eq!(
        note,
        format!(
            "{old}/libsitefoo.so.1 lacks SITEFOO_2.0 (needed by {app}); sitefoo/2.0 adds {new}, which holds another libsitefoo.so.1 (the default version). Load it in the job script, before the program starts.",
            old = fx.path("old/lib").display(),
            new = fx.path("new/lib").display(),
            app = app.display()
        )
    );
    let after = fix_clears(mp, setup, &args, "lib-version-missing", "module swap sitefoo sitefoo/2.0");
    assert_eq!(after["summary"]["errors"], 0, "{after:#}");

    // Only the old build is a module: said plainly, with what to ask for.
    let tree = common::tempdir();
    write_tree(tree.path(), &[("sitefoo/1.0.lua", module("old/lib"))]);
    let mp = tree.path().to_str().unwrap();
    let (report, _) = check(mp, setup, &args);
    let f = finding(&report, "lib-version-missing");
    let admin = admin_fix_instead_of_a_module(f);
    assert_eq!(
        admin["text"],
        "Ask the administrators for a module with the build of that library the program was linked with"
    );
    assert!(
        admin["note"].as_str().unwrap().starts_with(
            "No other module on MODULEPATH holds that library (1 modules in 1 trees of MODULEPATH; hierarchy levels included)."
        ),
        "{admin:#}"
    );
}

/// lib-interpreter-missing with real Lmod: a program whose PT_INTERP does not exist on this node (a copy of
/// /bin/true with its interpreter set to a missing loader by patchelf). The rebuild fix names this site's
/// compiler module, `module load gcc/12.2.0` (the default GCC; the others named), where it said "with the
/// compiler of a module here". The test runs that line with real Lmod, rebuilds a program in that
/// environment, and h5doctor finds nothing wrong with the rebuilt one. Not verified on the spot (a rebuild).
#[test]
fn a_program_whose_loader_is_missing_names_the_compiler_module_to_rebuild_with() {
    require_lmod();
    let fx = Fx::new();
    std::fs::create_dir_all(fx.path("bin")).unwrap();
    let app = fx.path("bin/app");
    std::fs::copy("/bin/true", &app).unwrap();
    let patched = Command::new("patchelf")
        .args(["--set-interpreter", "/lib/ld-h5doctor-missing.so.2"])
        .arg(&app)
        .status()
        .expect("patchelf is installed");
    assert!(patched.success());
    let tree = common::tempdir();
    let gcc = "family(\"compiler\")\nprepend_path(\"PATH\", \"/usr/bin\")\n";
    write_tree(
        tree.path(),
        &[
            ("gcc/11.3.0.lua", gcc),
            ("gcc/12.2.0.lua", gcc),
            ("intel/2023.1.lua", "family(\"compiler\")\n"),
        ],
    );
    let mp = tree.path().to_str().unwrap();
    let args = format!("--only libraries --only modules --binary {}", app.display());
    let (report, code) = check(mp, "true", &args);
    assert_eq!(code, 1, "{report:#}");
    assert_eq!(slugs(&report), ["lib-interpreter-missing"], "{report:#}");
    let f = finding(&report, "lib-interpreter-missing");
    let rebuild = &f["fixes"][0];
    assert_eq!(rebuild["kind"], "rebuild");
    assert_eq!(
        rebuild["text"],
        "module load gcc/12.2.0   # then rebuild the program on this node with that compiler"
    );
    assert_eq!(
        rebuild["note"],
        "gcc/12.2.0 is a compiler module of this site (the default version); also: gcc/11.3.0, intel/2023.1. Or take the build made for this system."
    );
    assert_eq!(rebuild["verified"], false);
    // The line, run: Lmod loads it, the program rebuilt in that environment starts, and h5doctor agrees.
    std::fs::write(fx.path("bin/app.c"), "int main(void){return 0;}\n").unwrap();
    let rebuilt = fx.path("bin/app2");
    let script = format!(
        "module load gcc/12.2.0 || exit 9\ncc -o {out} {src} || exit 8\n{out} || exit 7\n\"$H5DOCTOR\" check --no-default-dirs --no-default-pythons --json --only libraries --binary {out}",
        out = rebuilt.display(),
        src = fx.path("bin/app.c").display()
    );
    let (code, stdout, stderr) = lmod(mp, &script);
    assert_eq!(code, 0, "{stdout}{stderr}");
    let after: Value = serde_json::from_str(&stdout).unwrap();
    assert!(slugs(&after).is_empty(), "{after:#}");
}

/// The versioned-library setup of the lib-version-missing tests, built here with `cc` and version scripts: for
/// each `LIB` of `libs`, an old build `old-LIB/lib/libLIB.so.1` defining `LIB_1.0` and a new one
/// `new-LIB/lib/libLIB.so.1` defining `LIB_1.0` and `LIB_2.0`, the old one copied to `vendor/lib`; and the
/// program `bin/app`, linked with the new builds (it needs every `LIB_2.0`), whose RUNPATH finds the vendor's
/// old copies, so that the real loader refuses to start it. Returns the program.
fn versioned_libraries_and_a_program(fx: &Fx, libs: &[&str]) -> PathBuf {
    std::fs::create_dir_all(fx.path("vendor/lib")).unwrap();
    for lib in libs {
        let up = lib.to_uppercase();
        let v1 = fx.version_script(&format!("maps/{lib}1.map"), &format!("{up}_1.0 {{ global: {lib}; local: *; }};\n"));
        let v2 = fx.version_script(
            &format!("maps/{lib}2.map"),
            &format!("{up}_1.0 {{ global: {lib}; local: *; }};\n{up}_2.0 {{ global: {lib}2; }} {up}_1.0;\n"),
        );
        let soname = format!("lib{lib}.so.1");
        let old = format!("old-{lib}/lib/{soname}");
        fx.so(&old, Some(&soname), &format!("int {lib}(void){{return 1;}}\n"), &[&v1]);
        fx.so(
            &format!("new-{lib}/lib/{soname}"),
            Some(&soname),
            &format!("int {lib}(void){{return 1;}}\nint {lib}2(void){{return 2;}}\n"),
            &[&v2],
        );
        std::fs::copy(fx.path(&old), fx.path(&format!("vendor/lib/{soname}"))).unwrap();
    }
    let app = fx.path("bin/app");
    std::fs::create_dir_all(fx.path("bin")).unwrap();
    let calls: Vec<String> = libs.iter().map(|l| format!("{l}2()")).collect();
    let decls: String = libs.iter().map(|l| format!("int {l}2(void);\n")).collect();
    let main = format!(
        "{decls}int main(void){{return {} == {} ? 0 : 3;}}\n",
        calls.join(" + "),
        2 * libs.len()
    );
    std::fs::write(fx.path("bin/app.c"), main).unwrap();
    let mut cc = Command::new("cc");
    cc.arg("-o").arg(&app).arg(fx.path("bin/app.c"));
    for lib in libs {
        cc.arg(format!("-L{}", fx.path(&format!("new-{lib}/lib")).display()));
        cc.arg(format!("-l:lib{lib}.so.1"));
    }
    let cc = cc
        .arg(format!("-Wl,--enable-new-dtags,-rpath,{}", fx.path("vendor/lib").display()))
        .output()
        .expect("cc runs");
    assert!(cc.status.success(), "cc: {}", String::from_utf8_lossy(&cc.stderr));
    app
}

/// lib-version-missing picks by the versions each copy defines, not by the library's name, with real Lmod
/// and real modulecmd.tcl. Two builds of `libfoo.so.1` made here with `cc` and version scripts: the old one
/// defines `FOO_1.0`, the new one `FOO_1.0` and `FOO_2.0`; the program (an executable) was linked with the
/// new one, and its RUNPATH finds a vendor copy of the old one: the real loader refuses to start it
/// (`version 'FOO_2.0' not found`). The site has `foo/1.0` (the old build, marked default) and `foo/2.0`
/// (the new one): both hold a `libfoo.so.1`, and the default would be picked by name. h5doctor reads both
/// copies' version tables and names `module load foo/2.0`, verified on the spot; the test runs that line with
/// the real tool, the program starts, and h5doctor's exit code goes from 1 to 0. With only `foo/1.0` it
/// says that module's copy lacks the version too, and what to ask the administrators for.
#[test]
fn a_library_version_only_one_modules_copy_defines_loads_that_module_not_the_default() {
    require_lmod();
    let fx = Fx::new();
    let app = versioned_libraries_and_a_program(&fx, &["foo"]);
    let args = format!("--only libraries --only modules --binary {}", app.display());
    for tool in [Tool::Lmod, Tool::EnvModules] {
        let tree = common::tempdir();
        let files: Vec<(&str, String)> = match tool {
            Tool::Lmod => vec![
                (
                    "foo/1.0.lua",
                    format!("prepend_path(\"LD_LIBRARY_PATH\", \"{}\")\n", fx.path("old-foo/lib").display()),
                ),
                (
                    "foo/2.0.lua",
                    format!("prepend_path(\"LD_LIBRARY_PATH\", \"{}\")\n", fx.path("new-foo/lib").display()),
                ),
                ("foo/.modulerc.lua", "module_version(\"foo/1.0\", \"default\")\n".into()),
            ],
            Tool::EnvModules => vec![
                (
                    "foo/1.0",
                    format!("#%Module1.0\nprepend-path LD_LIBRARY_PATH {}\n", fx.path("old-foo/lib").display()),
                ),
                (
                    "foo/2.0",
                    format!("#%Module1.0\nprepend-path LD_LIBRARY_PATH {}\n", fx.path("new-foo/lib").display()),
                ),
                ("foo/.version", "#%Module1.0\nset ModulesVersion \"1.0\"\n".into()),
            ],
        };
        write_tree(tree.path(), &files);
        let mp = tree.path().to_str().unwrap();
        // The real loader refuses the program; the real tool's default is the old build.
        let (code, _, stderr) = shell(tool, mp, &format!("{} || exit 7", app.display()));
        assert_eq!(code, 7, "{tool:?}: the program starts before the fix: {stderr}");
        assert!(stderr.contains("version `FOO_2.0' not found"), "{tool:?}: {stderr}");
        let (code, _, stderr) = shell(tool, mp, &format!("module load foo || exit 9\n{} || exit 7", app.display()));
        assert_eq!(code, 7, "{tool:?}: the default foo/1.0 must not cure it: {stderr}");

        let (report, code) = check_with(tool, mp, "", &args);
        assert_eq!(code, 1, "{tool:?}: {report:#}");
        assert_eq!(slugs(&report), ["lib-version-missing"], "{tool:?}: {report:#}");
        let (_, note) = module_fix(&report, "lib-version-missing");
        assert_eq!(
            note,
            format!(
                "{vendor}/libfoo.so.1 lacks FOO_2.0 (needed by {app}); foo/2.0 adds {new}, which holds another libfoo.so.1. Load it in the job script, before the program starts.",
                vendor = fx.path("vendor/lib").display(),
                new = fx.path("new-foo/lib").display(),
                app = app.display()
            ),
            "{tool:?}"
        );
        let after = fix_clears_with(tool, mp, "", &args, "lib-version-missing", "module load foo/2.0");
        assert_eq!(after["summary"]["errors"], 0, "{tool:?}: {after:#}");
        let (_, code) = check_with(tool, mp, "module load foo/2.0 || exit 9", &args);
        assert_eq!(code, 0, "{tool:?}: exit code after the fix");
        let (code, _, stderr) = shell(tool, mp, &format!("module load foo/2.0 || exit 9\n{}", app.display()));
        assert_eq!(code, 0, "{tool:?}: the program starts after the fix: {stderr}");
    }

    // Only the old build is a module: its copy was read and lacks the version; said plainly.
    let tree = common::tempdir();
    write_tree(
        tree.path(),
        &[(
            "foo/1.0.lua",
            format!("prepend_path(\"LD_LIBRARY_PATH\", \"{}\")\n", fx.path("old-foo/lib").display()),
        )],
    );
    let (report, _) = check(tree.path().to_str().unwrap(), "", &args);
    let admin = admin_fix_instead_of_a_module(finding(&report, "lib-version-missing"));
    assert_eq!(
        admin["text"],
        "Ask the administrators for a module with the build of that library the program was linked with"
    );
    assert_eq!(
        admin["note"],
        format!(
            "foo/1.0 ({}/libfoo.so.1 defines only FOO_1.0) holds libfoo.so.1 without FOO_2.0 (1 modules in 1 trees of MODULEPATH; hierarchy levels included): no module on MODULEPATH holds a build that defines the versions the program needs. Or put that library's directory first in LD_LIBRARY_PATH; the evidence names the file found instead.",
            fx.path("old-foo/lib").display()
        ),
        "{admin:#}"
    );
}

/// lib-version-missing for a program that lacks symbol versions of two libraries, with real Lmod and real
/// modulecmd.tcl. Two libraries built here with `cc` and version scripts, each in an old build (`FOO_1.0`,
/// `BAR_1.0`) and a new one (also `FOO_2.0`, `BAR_2.0`); the program was linked with both new builds and
/// its RUNPATH finds a vendor directory holding both old ones: the real loader refuses to start it. The
/// site has `foo/1.0` and `bar/1.0` (the old builds, marked default) and `foo/2.0` and `bar/2.0`. One line
/// must fix both (the finding is one, about the program): h5doctor names `module load foo/2.0 bar/2.0`,
/// verified on the spot; the test runs that line with the real tool, h5doctor's exit code goes from 1 to 0
/// and the program starts. A site module holding both new builds is one module for both. With no module
/// holding a new libbar: the line for libfoo, unverified (the finding stays), and what to ask the
/// administrators for about libbar.
#[test]
fn a_program_lacking_versions_of_two_libraries_gets_one_line_loading_both_modules() {
    require_lmod();
    let fx = Fx::new();
    let app = versioned_libraries_and_a_program(&fx, &["foo", "bar"]);
    // A site module's directory holding both new builds.
    std::fs::create_dir_all(fx.path("both/lib")).unwrap();
    for lib in ["foo", "bar"] {
        std::fs::copy(
            fx.path(&format!("new-{lib}/lib/lib{lib}.so.1")),
            fx.path(&format!("both/lib/lib{lib}.so.1")),
        )
        .unwrap();
    }
    let args = format!("--only libraries --only modules --binary {}", app.display());
    let lua = |dir: &str| format!("prepend_path(\"LD_LIBRARY_PATH\", \"{}\")\n", fx.path(dir).display());
    let tcl = |dir: &str| format!("#%Module1.0\nprepend-path LD_LIBRARY_PATH {}\n", fx.path(dir).display());
    let site = |tool: Tool, libs: &[&str]| -> Vec<(String, String)> {
        let mut files = Vec::new();
        for lib in libs {
            match tool {
                Tool::Lmod => {
                    files.push((format!("{lib}/1.0.lua"), lua(&format!("old-{lib}/lib"))));
                    files.push((format!("{lib}/2.0.lua"), lua(&format!("new-{lib}/lib"))));
                    files.push((
                        format!("{lib}/.modulerc.lua"),
                        format!("module_version(\"{lib}/1.0\", \"default\")\n"),
                    ));
                }
                Tool::EnvModules => {
                    files.push((format!("{lib}/1.0"), tcl(&format!("old-{lib}/lib"))));
                    files.push((format!("{lib}/2.0"), tcl(&format!("new-{lib}/lib"))));
                    files.push((format!("{lib}/.version"), "#%Module1.0\nset ModulesVersion \"1.0\"\n".into()));
                }
            }
        }
        files
    };
    let write = |root: &Path, files: &[(String, String)]| {
        let files: Vec<(&str, String)> = files.iter().map(|(p, t)| (p.as_str(), t.clone())).collect();
        write_tree(root, &files);
    };
    let line = "module load foo/2.0 bar/2.0";
    for tool in [Tool::Lmod, Tool::EnvModules] {
        let tree = common::tempdir();
        write(tree.path(), &site(tool, &["foo", "bar"]));
        let mp = tree.path().to_str().unwrap();
        // The real loader refuses the program; the real tool's defaults are the old builds.
        let (code, _, stderr) = shell(tool, mp, &format!("module load foo bar || exit 9\n{} || exit 7", app.display()));
        assert_eq!(code, 7, "{tool:?}: the defaults must not cure it: {stderr}");
        assert!(stderr.contains("version `FOO_2.0' not found"), "{tool:?}: {stderr}");

        let (report, code) = check_with(tool, mp, "", &args);
        assert_eq!(code, 1, "{tool:?}: {report:#}");
        assert_eq!(slugs(&report), ["lib-version-missing"], "{tool:?}: {report:#}");
        let (_, note) = module_fix(&report, "lib-version-missing");
        assert_eq!(
            note,
            format!(
                "{vendor}/libfoo.so.1 lacks FOO_2.0 (needed by {app}); foo/2.0 adds {newfoo}, which holds another libfoo.so.1; and \
                 {vendor}/libbar.so.1 lacks BAR_2.0 (needed by {app}); bar/2.0 adds {newbar}, which holds another libbar.so.1. \
                 Load it in the job script, before the program starts.",
                vendor = fx.path("vendor/lib").display(),
                newfoo = fx.path("new-foo/lib").display(),
                newbar = fx.path("new-bar/lib").display(),
                app = app.display()
            ),
            "{tool:?}"
        );
        let after = fix_clears_with(tool, mp, "", &args, "lib-version-missing", line);
        assert_eq!(after["summary"]["errors"], 0, "{tool:?}: {after:#}");
        let (code, _, stderr) = shell(tool, mp, &format!("{line} || exit 9\n{}", app.display()));
        assert_eq!(code, 0, "{tool:?}: the program starts after the fix: {stderr}");

        // Only libfoo has a fitting module: its line (the finding stays, so not verified), and what to ask
        // the administrators for about libbar.
        let tree = common::tempdir();
        let mut files = site(tool, &["foo"]);
        match tool {
            Tool::Lmod => files.push(("bar/1.0.lua".into(), lua("old-bar/lib"))),
            Tool::EnvModules => files.push(("bar/1.0".into(), tcl("old-bar/lib"))),
        }
        write(tree.path(), &files);
        let mp = tree.path().to_str().unwrap();
        let (report, code) = check_with(tool, mp, "", &args);
        assert_eq!(code, 1, "{tool:?}: {report:#}");
        let f = finding(&report, "lib-version-missing");
        let fixes = f["fixes"].as_array().unwrap();
        let module = fixes.iter().find(|x| x["kind"] == "module").unwrap_or_else(|| panic!("{f:#}"));
        assert_eq!(module["text"], "module load foo/2.0", "{tool:?}: {f:#}");
        assert_eq!(module["verified"], false, "{tool:?}: {f:#}");
        assert!(
            module["note"]
                .as_str()
                .unwrap()
                .contains("; no module on MODULEPATH holds a copy of libbar.so.1 (BAR_2.0) that defines it (see the fix below)."),
            "{tool:?}: {module:#}"
        );
        let admin = fixes.iter().find(|x| x["kind"] == "admin").unwrap_or_else(|| panic!("{f:#}"));
        assert_eq!(
            admin["text"], "Ask the administrators for a module with the build of libbar.so.1 (BAR_2.0) the program was linked with",
            "{tool:?}"
        );
    }

    // One site module holding both new builds: one module for both, not two.
    let tree = common::tempdir();
    let mut files = site(Tool::Lmod, &["foo", "bar"]);
    files.push(("stack/2.0.lua".into(), lua("both/lib")));
    write(tree.path(), &files);
    let mp = tree.path().to_str().unwrap();
    let after = fix_clears(mp, "", &args, "lib-version-missing", "module load stack/2.0");
    assert_eq!(after["summary"]["errors"], 0, "{after:#}");
}

/// lib-not-found for a program missing two libraries that two modules hold, with real Lmod: one line loads
/// both (`module load sitea/1.0 siteb/1.0`, was: the first one only, which left the finding in place),
/// verified on the spot; the test runs it, h5doctor again, the finding is gone. With only `sitea` a module:
/// its line, unverified, and what to ask the administrators for (libsiteb.so.1).
#[test]
fn a_program_missing_two_libraries_of_two_modules_gets_one_line_loading_both() {
    require_lmod();
    let fx = Fx::new();
    fx.so("a/lib/libsitea.so.1", Some("libsitea.so.1"), "int sitea(void){return 1;}\n", &[]);
    fx.so("b/lib/libsiteb.so.1", Some("libsiteb.so.1"), "int siteb(void){return 1;}\n", &[]);
    let app = fx.so(
        "bin/app.so",
        None,
        "int sitea(void); int siteb(void); int app(void){return sitea() + siteb();}\n",
        &[
            &format!("-L{}", fx.path("a/lib").display()),
            &format!("-L{}", fx.path("b/lib").display()),
            "-l:libsitea.so.1",
            "-l:libsiteb.so.1",
        ],
    );
    let module = |dir: &str| format!("prepend_path(\"LD_LIBRARY_PATH\", \"{}\")\n", fx.path(dir).display());
    let args = format!("--only libraries --only modules --binary {}", app.display());
    let tree = common::tempdir();
    write_tree(
        tree.path(),
        &[("sitea/1.0.lua", module("a/lib")), ("siteb/1.0.lua", module("b/lib"))],
    );
    let mp = tree.path().to_str().unwrap();
    let after = fix_clears(mp, "", &args, "lib-not-found", "module load sitea/1.0 siteb/1.0");
    assert_eq!(after["summary"]["errors"], 0, "{after:#}");

    let tree = common::tempdir();
    write_tree(tree.path(), &[("sitea/1.0.lua", module("a/lib"))]);
    let (report, _) = check(tree.path().to_str().unwrap(), "", &args);
    let f = finding(&report, "lib-not-found");
    let fixes = f["fixes"].as_array().unwrap();
    let line = fixes.iter().find(|x| x["kind"] == "module").unwrap_or_else(|| panic!("{f:#}"));
    assert_eq!(line["text"], "module load sitea/1.0", "{f:#}");
    assert_eq!(line["verified"], false, "{f:#}");
    let admin = fixes.iter().find(|x| x["kind"] == "admin").unwrap_or_else(|| panic!("{f:#}"));
    assert_eq!(
        admin["text"], "Ask the administrators for a module that provides libsiteb.so.1",
        "{f:#}"
    );
}

/// plugin-load-failed when a filter plugin needs a library the loader cannot find, with real Lmod and real
/// modulecmd.tcl: a plugin built here (a minimal filter, linked against Debian's serial libhdf5 and a site
/// library `libsitez.so.1`), in the directory HDF5_PLUGIN_PATH names; `libsitez.so.1` lives in a directory
/// only the module `sitez/1.0` adds to LD_LIBRARY_PATH. h5doctor-probe's dlopen fails; h5doctor names
/// `module load sitez/1.0` (was: "load the module that provides it"), verified on the spot; the test runs
/// the line with the real tool, h5doctor again, and the plugin loads.
#[test]
fn a_plugin_missing_a_library_names_the_module_that_holds_it() {
    require_lmod();
    let fx = Fx::new();
    fx.so("z/lib/libsitez.so.1", Some("libsitez.so.1"), "int sitez(void){return 1;}\n", &[]);
    std::fs::create_dir_all(fx.path("plugins")).unwrap();
    std::fs::write(fx.path("plugin.c"), common::plugin::PLUGIN_C).unwrap();
    let cc = Command::new("cc")
        .args(["-DEXTRA_LIBRARY=sitez", "-shared", "-fPIC", "-o"])
        .arg(fx.path("plugins/libh5sitez.so"))
        .arg(fx.path("plugin.c"))
        .arg(format!("-L{}", fx.path("z/lib").display()))
        .args([
            "-Wl,--no-as-needed",
            "-l:libsitez.so.1",
            "/usr/lib/x86_64-linux-gnu/libhdf5_serial.so.103",
        ])
        .output()
        .expect("cc runs");
    assert!(cc.status.success(), "cc: {}", String::from_utf8_lossy(&cc.stderr));
    let setup = format!("export HDF5_PLUGIN_PATH={}", fx.path("plugins").display());
    let args = "--only plugins --only modules";
    for tool in [Tool::Lmod, Tool::EnvModules] {
        let tree = common::tempdir();
        let dir = fx.path("z/lib");
        let files: Vec<(&str, String)> = match tool {
            Tool::Lmod => vec![(
                "sitez/1.0.lua",
                format!("prepend_path(\"LD_LIBRARY_PATH\", \"{}\")\n", dir.display()),
            )],
            Tool::EnvModules => vec![(
                "sitez/1.0",
                format!("#%Module1.0\nprepend-path LD_LIBRARY_PATH {}\n", dir.display()),
            )],
        };
        write_tree(tree.path(), &files);
        let mp = tree.path().to_str().unwrap();
        let (report, _) = check_with(tool, mp, &setup, args);
        assert_eq!(slugs(&report), ["plugin-load-failed"], "{tool:?}: {report:#}");
        let (_, note) = module_fix(&report, "plugin-load-failed");
        assert_eq!(
            note,
            format!(
                "The plugins need libsitez.so.1, which the loader cannot find; sitez/1.0 adds {}, which holds libsitez.so.1 (the default version). Load it in the job script, before the program starts.",
                dir.display()
            ),
            "{tool:?}"
        );
        let after = fix_clears_with(tool, mp, &setup, args, "plugin-load-failed", "module load sitez/1.0");
        assert_eq!(after["summary"]["warnings"], 0, "{tool:?}: {after:#}");
        let loaded = after["facts"]["plugins"]["dirs"][0]["plugins"][0]["load"]["ok"].clone();
        assert_eq!(loaded, true, "{tool:?}: the plugin loads after the fix: {after:#}");
    }
}

/// mpi-abi-mix end to end with Lmod: the program links Open MPI's `libmpi.so.40` (module `openmpi/4.1`),
/// and a profiler module built with MPICH preloads its library, which brings `libmpich.so.12`: two MPIs in
/// one process. h5doctor names `module unload` of the profiler (not of the MPI the program runs with),
/// verifies it on the spot, the test runs it, and the finding is gone.
#[test]
fn a_preloaded_profiler_built_with_another_mpi_is_the_module_to_unload() {
    require_lmod();
    let fx = Fx::new();
    let mpi = "int MPI_Init(int *c, char ***v){return 0;}\n";
    fx.so(
        "ompi/lib/libmpi.so.40",
        Some("libmpi.so.40"),
        &format!("{mpi}int ompi_mpi_comm_world;\n"),
        &[],
    );
    fx.so("mpich/lib/libmpich.so.12", Some("libmpich.so.12"), mpi, &[]);
    fx.so(
        "prof/lib/libmpiprof.so",
        Some("libmpiprof.so"),
        "int MPI_Init(int *c, char ***v); int prof(void){return MPI_Init(0,0);}\n",
        &[&format!("-L{}", fx.path("mpich/lib").display()), "-l:libmpich.so.12"],
    );
    let app = fx.so(
        "bin/app.so",
        None,
        "int MPI_Init(int *c, char ***v); int app(void){return MPI_Init(0,0);}\n",
        &[&format!("-L{}", fx.path("ompi/lib").display()), "-l:libmpi.so.40"],
    );
    let tree = common::tempdir();
    write_tree(
        tree.path(),
        &[
            (
                "openmpi/4.1.lua",
                format!("family(\"mpi\")\nprepend_path(\"LD_LIBRARY_PATH\", \"{}\")\n", fx.path("ompi/lib").display()),
            ),
            (
                "mpiprof/2.0.lua",
                format!(
                    "prepend_path(\"LD_LIBRARY_PATH\", \"{p}\")\nprepend_path(\"LD_LIBRARY_PATH\", \"{m}\")\nprepend_path(\"LD_PRELOAD\", \"{p}/libmpiprof.so\")\n",
                    p = fx.path("prof/lib").display(),
                    m = fx.path("mpich/lib").display()
                ),
            ),
        ],
    );
    let mp = tree.path().to_str().unwrap();
    let args = format!("--only libraries --only modules --binary {}", app.display());
    let setup = "module load openmpi mpiprof || exit 9";
    let (report, code) = check(mp, setup, &args);
    assert_eq!(code, 1, "{report:#}");
    let (_, note) = module_fix(&report, "mpi-abi-mix");
    assert_eq!(
        note,
        format!(
            "mpiprof/2.0 brings {}/libmpich.so.12 (mpich) into the process, which runs with {}/libmpi.so.40 (openmpi).",
            fx.path("mpich/lib").display(),
            fx.path("ompi/lib").display()
        )
    );
    let after = fix_clears(mp, setup, &args, "mpi-abi-mix", "module unload mpiprof");
    assert_eq!(after["summary"]["errors"], 0, "{after:#}");
}

/// mpiio-filters-independent end to end with Lmod: `phdf5/1.10.1` puts a parallel libhdf5 of release 1.10.1
/// (before parallel filtered writes, 1.10.2) on LD_LIBRARY_PATH; the site also has `phdf5/1.14.3`. h5doctor
/// names the swap to the parallel HDF5 that can write filtered datasets in parallel, verifies it on the
/// spot, the test runs it, and the finding is gone. Without such a module it says so, and what to ask for.
#[test]
fn a_parallel_hdf5_without_filtered_writes_swaps_to_the_module_of_a_release_with_them() {
    require_lmod();
    let fx = Fx::new();
    fx.fake_hdf5("old/lib/libhdf5.so.101", "libhdf5.so.101", "1.10.1", &["H5Pset_fapl_mpio"]);
    fx.fake_hdf5("new/lib/libhdf5.so.310", "libhdf5.so.310", "1.14.3", &["H5Pset_fapl_mpio"]);
    let module = |dir: &str| {
        format!(
            "family(\"hdf5\")\nprepend_path(\"LD_LIBRARY_PATH\", \"{}\")\n",
            fx.path(dir).display()
        )
    };
    let tree = common::tempdir();
    write_tree(
        tree.path(),
        &[("phdf5/1.10.1.lua", module("old/lib")), ("phdf5/1.14.3.lua", module("new/lib"))],
    );
    let mp = tree.path().to_str().unwrap();
    let args = "--only libraries --only modules";
    let setup = "module load phdf5/1.10.1 || exit 9";
    let (report, _) = check(mp, setup, args);
    let (_, note) = module_fix(&report, "mpiio-filters-independent");
    assert_eq!(
        note,
        format!(
            "libhdf5.so.101 HDF5 1.10.1 parallel {}/libhdf5.so.101 (LD_LIBRARY_PATH): HDF5 1.10.1 predates parallel filtered writes (1.10.2); phdf5/1.14.3 holds HDF5 1.14.3 (parallel), a release with parallel filtered writes (the default version). `h5pcc -showconfig | grep 'Parallel Filtered'` (or libhdf5.settings) must say yes.",
            fx.path("old/lib").display()
        )
    );
    fix_clears(mp, setup, args, "mpiio-filters-independent", "module swap phdf5 phdf5/1.14.3");

    // Only the old release is a module: said plainly.
    let tree = common::tempdir();
    write_tree(tree.path(), &[("phdf5/1.10.1.lua", module("old/lib"))]);
    let mp = tree.path().to_str().unwrap();
    let (report, _) = check(mp, setup, args);
    let f = finding(&report, "mpiio-filters-independent");
    let admin = admin_fix_instead_of_a_module(f);
    assert_eq!(
        admin["note"],
        "No module on MODULEPATH provides one (1 modules in 1 trees of MODULEPATH; hierarchy levels included)."
    );
}

/// file-format-too-new end to end with Lmod and real HDF5 builds: a dataset of HDF5 2.0's complex type,
/// written by the real h5py 3.16 wheel, cannot be read by Debian's HDF5 1.10.8 (the default probe). The
/// site has hdf5/1.10.8 (Debian's), hdf5/1.14.5 and hdf5/2.2.0 (the builds of `scripts/dev.sh hdf5-matrix`,
/// with a probe named for each beside h5doctor). h5doctor names the module of the newest release; h5doctor
/// verifies it on the spot (with the module loaded it runs the probe named for HDF5 2.2.0, which reads the
/// file); the test runs the line with the real Lmod, and the finding is gone.
#[test]
fn a_file_from_a_newer_hdf5_names_the_module_of_the_newest_release() {
    require_lmod();
    common::matrix_probe("h5doctor-probe-2.2.0-serial-static");
    let cache = Path::new(&std::env::var("HOME").unwrap()).join(".cache/h5doctor-tests");
    let (shared, static_) = (cache.join("hdf5-1.14.5-shared"), cache.join("hdf5-2.2.0-static"));
    for install in [&shared, &static_] {
        assert!(
            install.join("lib/libhdf5.settings").is_file(),
            "{} is missing: run `scripts/dev.sh hdf5-matrix`",
            install.display()
        );
    }
    let writer = venv("pypi-h5py-3.16", &["h5py==3.16.0", "numpy==2.4.6"], Deps::Resolve);
    let dir = common::tempdir();
    let file = dir.path().join("complex.h5");
    let out = Command::new(writer.python())
        .arg("-c")
        .arg(
            "import sys, h5py, numpy\n\
             with h5py.File(sys.argv[1], 'w') as f:\n\
             \x20   f['plain'] = numpy.arange(4)\n\
             \x20   h5py.h5d.create(f.id, b'z', h5py.h5t.COMPLEX_IEEE_F64LE, h5py.h5s.create_simple((4,)))\n",
        )
        .arg(&file)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let module = |prefix: &Path, lib_var: &str| {
        format!(
            "family(\"hdf5\")\nsetenv(\"HDF5_DIR\", \"{p}\")\nprepend_path(\"{lib_var}\", \"{p}/lib\")\n",
            p = prefix.display()
        )
    };
    let tree = common::tempdir();
    write_tree(
        tree.path(),
        &[
            (
                "hdf5/1.10.8.lua",
                module(Path::new("/usr/lib/x86_64-linux-gnu/hdf5/serial"), "LD_LIBRARY_PATH"),
            ),
            ("hdf5/1.14.5.lua", module(&shared, "LD_LIBRARY_PATH")),
            ("hdf5/2.2.0.lua", module(&static_, "LIBRARY_PATH")),
        ],
    );
    let mp = tree.path().to_str().unwrap();
    let args = format!("--only file --only hdf5 --only modules {}", file.display());
    let (report, code) = check(mp, "", &args);
    assert_eq!(code, 1, "{report:#}");
    let (_, note) = module_fix(&report, "file-format-too-new");
    assert!(
        note.starts_with("hdf5/2.2.0 holds HDF5 2.2.0 (by its name and version), the newest release on MODULEPATH (the default version); also newer than this node's: hdf5/1.14.5."),
        "{note}"
    );
    let after = fix_clears(mp, "", &args, "file-format-too-new", "module load hdf5/2.2.0");
    assert_eq!(after["facts"]["hdf5"]["library"]["version"], "2.2.0", "{after:#}");

    // Only Debian's 1.10.8 as a module: said plainly.
    let tree = common::tempdir();
    write_tree(
        tree.path(),
        &[(
            "hdf5/1.10.8.lua",
            module(Path::new("/usr/lib/x86_64-linux-gnu/hdf5/serial"), "LD_LIBRARY_PATH"),
        )],
    );
    let (report, _) = check(tree.path().to_str().unwrap(), "", &args);
    let f = finding(&report, "file-format-too-new");
    let admin = admin_fix_instead_of_a_module(f);
    assert_eq!(
        admin["text"],
        "Ask the administrators for an HDF5 module at least as new as the writer's"
    );
    assert_eq!(
        admin["note"],
        "No module on MODULEPATH has an HDF5 newer than this node's (1.10.8; 1 modules in 1 trees of MODULEPATH; hierarchy levels included)."
    );
}

/// The site of the mpi4py test, below `root`, for Lmod (Lua) or modulecmd.tcl (Tcl): Core has `openmpi/4.1.4`,
/// which opens the hierarchy level `mpi/openmpi/4.1.4`, and `py-h5py-mpi/3.7.0`, whose PYTHONPATH holds
/// Debian's h5py (its MPI build) and NumPy but no mpi4py. The level holds `py-mpi4py/3.1.4` (Debian's
/// mpi4py: `MPI.cpython-311-*.so` linking Open MPI's `libmpi.so.40`) and `py-mpi4py/4.0.0`, the highest and
/// so the default, whose extension is built for Python 3.12 (the same library renamed): this interpreter
/// could not import it, so the fix must not name it. The package directories are symbolic links to
/// Debian's own (python3-h5py-mpi, python3-mpi4py), so nothing is built or downloaded.
fn mpi4py_site(root: &Path, tool: Tool) -> String {
    let dist = Path::new("/usr/lib/python3/dist-packages");
    for (dir, names) in [
        (
            "h5py-mpi",
            &["h5py", "h5py._debian_h5py_mpi-3.7.0.dist-info", "numpy", "numpy-1.24.2.egg-info"][..],
        ),
        ("mpi4py-3.1.4", &["mpi4py", "mpi4py-3.1.4.egg-info"][..]),
    ] {
        let site = root.join(dir);
        std::fs::create_dir_all(&site).unwrap();
        for name in names {
            assert!(
                dist.join(name).exists(),
                "{} is missing: apt-get install python3-h5py-mpi python3-mpi4py",
                dist.join(name).display()
            );
            std::os::unix::fs::symlink(dist.join(name), site.join(name)).unwrap();
        }
    }
    let py312 = root.join("mpi4py-4.0.0/mpi4py");
    std::fs::create_dir_all(&py312).unwrap();
    std::fs::create_dir_all(root.join("mpi4py-4.0.0/mpi4py-4.0.0.dist-info")).unwrap();
    std::fs::write(py312.join("__init__.py"), "__version__ = '4.0.0'\n").unwrap();
    std::fs::copy(
        dist.join("mpi4py/MPI.cpython-311-x86_64-linux-gnu.so"),
        py312.join("MPI.cpython-312-x86_64-linux-gnu.so"),
    )
    .unwrap();
    let r = root.display();
    let level = format!("{r}/tree/mpi/openmpi/4.1.4");
    let files: Vec<(String, String)> = match tool {
        Tool::Lmod => vec![
            (
                "core/openmpi/4.1.4.lua".into(),
                format!("family(\"mpi\")\nprepend_path(\"LD_LIBRARY_PATH\", \"/usr/lib/x86_64-linux-gnu/openmpi/lib\")\nprepend_path(\"MODULEPATH\", \"{level}\")\n"),
            ),
            (
                "core/py-h5py-mpi/3.7.0.lua".into(),
                format!("help([[h5py 3.7.0 built with MPI; mpi4py is a module of its own]])\nprepend_path(\"PYTHONPATH\", \"{r}/h5py-mpi\")\nsetenv(\"H5PY_ALWAYS_USE_MPI\", \"1\")\n"),
            ),
            (
                "mpi/openmpi/4.1.4/py-mpi4py/3.1.4.lua".into(),
                format!("prepend_path(\"PYTHONPATH\", \"{r}/mpi4py-3.1.4\")\n"),
            ),
            (
                "mpi/openmpi/4.1.4/py-mpi4py/4.0.0.lua".into(),
                format!("prepend_path(\"PYTHONPATH\", \"{r}/mpi4py-4.0.0\")\n"),
            ),
        ],
        Tool::EnvModules => vec![
            (
                "core/openmpi/4.1.4".into(),
                format!("#%Module1.0\nfamily mpi\nprepend-path LD_LIBRARY_PATH /usr/lib/x86_64-linux-gnu/openmpi/lib\nmodule use {level}\n"),
            ),
            (
                "core/py-h5py-mpi/3.7.0".into(),
                format!("#%Module1.0\nmodule-whatis \"h5py 3.7.0 built with MPI; mpi4py is a module of its own\"\nprepend-path PYTHONPATH {r}/h5py-mpi\nsetenv H5PY_ALWAYS_USE_MPI 1\n"),
            ),
            (
                "mpi/openmpi/4.1.4/py-mpi4py/3.1.4".into(),
                format!("#%Module1.0\nprepend-path PYTHONPATH {r}/mpi4py-3.1.4\n"),
            ),
            (
                "mpi/openmpi/4.1.4/py-mpi4py/4.0.0".into(),
                format!("#%Module1.0\nprepend-path PYTHONPATH {r}/mpi4py-4.0.0\n"),
            ),
        ],
    };
    let files: Vec<(&str, String)> = files.iter().map(|(p, t)| (p.as_str(), t.clone())).collect();
    write_tree(&root.join("tree"), &files);
    format!("{r}/tree/core")
}

/// `setup`, then `mpirun -n 2 h5doctor mpio-test --python PYTHON --json` with the tool's `module`: the
/// report and the exit code.
fn mpio_python_with(tool: Tool, modulepath: &str, setup: &str, python: &Path, dir: &Path) -> (Value, i32) {
    let (code, stdout, stderr) = shell(
        tool,
        modulepath,
        &format!(
            "export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1\n{setup}\ntimeout -k 5 150 mpirun --oversubscribe -n 2 \"$H5DOCTOR\" mpio-test --python {} --dir {} --mib-per-rank 1 --timeout 60 --json",
            python.display(),
            dir.display()
        ),
    );
    let report: Value = serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("not JSON ({e}): {stdout}\nstderr: {stderr}"));
    (report, code)
}

/// mpi4py-not-installed from a real parallel h5py run (`mpirun -n 2 h5doctor mpio-test --python`), with real
/// Lmod and real modulecmd.tcl: the interpreter (a venv of Debian's Python without its site packages) gets a
/// parallel h5py from a module but no mpi4py. h5doctor names the mpi4py module built for this Python and
/// h5py's MPI, behind its hierarchy level (`module load openmpi/4.1.4 py-mpi4py/3.1.4`; the default
/// py-mpi4py/4.0.0 is for Python 3.12 and is left out), verifies it on the spot by re-running the test's
/// imports in the environment the module command produced, the test runs exactly that line, and the
/// MPI-IO test then passes with 0 errors.
#[test]
fn mpi4py_missing_under_mpirun_names_the_mpi4py_module_for_this_python_and_mpi_behind_its_level() {
    let venv_dir = common::tempdir();
    let made = Command::new(DEBIAN_PYTHON)
        .args(["-m", "venv", "--without-pip"])
        .arg(venv_dir.path().join("venv"))
        .output()
        .unwrap();
    assert!(made.status.success(), "python3 -m venv: {}", String::from_utf8_lossy(&made.stderr));
    let python = venv_dir.path().join("venv/bin/python");
    for tool in [Tool::Lmod, Tool::EnvModules] {
        let site = common::tempdir();
        let mp = mpi4py_site(site.path(), tool);
        let dir = common::tempdir();
        let setup = "module load py-h5py-mpi/3.7.0 || exit 9";
        let (report, code) = mpio_python_with(tool, &mp, setup, &python, dir.path());
        assert_eq!(code, 1, "{tool:?}: {report:#}");
        assert_eq!(
            report["facts"]["mpi"]["python"]["h5py_mpi"], true,
            "{tool:?}: h5py is the MPI build"
        );
        let f = finding(&report, "mpi4py-not-installed");
        let fix = f["fixes"][0].clone();
        assert_eq!(fix["kind"], "module", "{tool:?}: {f:#}");
        let line = "module load openmpi/4.1.4 py-mpi4py/3.1.4";
        assert_eq!(fix["text"], line, "{tool:?}: {f:#}");
        assert_eq!(
            fix["note"].as_str().unwrap(),
            format!(
                "{} (Python 3.11.2, its h5py on openmpi) has no mpi4py; py-mpi4py/3.1.4 holds mpi4py 3.1.4, built for Python 3.11 and libmpi.so.40 (openmpi); it is visible after `module load openmpi/4.1.4`. Load it in the job script, before the launcher starts the ranks.",
                python.display()
            ),
            "{tool:?}"
        );
        let tool_name = match tool {
            Tool::Lmod => "Lmod (",
            Tool::EnvModules => "Environment Modules (",
        };
        assert_eq!(fix["verified"], true, "{tool:?}: {fix:#}");
        assert!(
            fix["verification"]
                .as_str()
                .unwrap()
                .starts_with(&format!("verified here: after `{line}` with {tool_name}")),
            "{tool:?}: {fix:#}"
        );
        common::assert_no_leftovers(dir.path());
        // The line, run with the real tool, then the test again: it passes.
        let (code, _, stderr) = shell(tool, &mp, &format!("{setup}\n{line} || exit 9"));
        assert_eq!(code, 0, "{tool:?}: the module line fails with the real tool: {stderr}");
        let (after, code) = mpio_python_with(tool, &mp, &format!("{setup}\n{line} || exit 9"), &python, dir.path());
        assert!(!slugs(&after).contains(&"mpi4py-not-installed".to_string()), "{tool:?}: {after:#}");
        assert_eq!(after["facts"]["mpi"]["passed"], true, "{tool:?}: {after:#}");
        assert_eq!(after["summary"]["errors"], 0, "{tool:?}: {after:#}");
        assert_eq!(code, 0, "{tool:?}: {after:#}");
        common::assert_no_leftovers(dir.path());
    }
}

/// python-path-pollution with real Lmod and real modulecmd.tcl: `py-site/1.0` puts Debian's dist-packages
/// on PYTHONPATH, so a venv with the PyPI h5py 3.16 and NumPy 2.4.6 would import Debian's h5py and NumPy
/// instead. h5doctor names the loaded module that adds that entry (`module unload py-site`, read from the
/// loaded modules and what each adds to PYTHONPATH), verifies it on the spot, the test runs that line, and
/// the warning is gone. Under Lmod, `py-stack/1.0` loads py-site automatically (`depends_on`): the line
/// then unloads py-stack, which takes py-site with it.
#[test]
fn python_path_pollution_names_the_loaded_module_that_puts_the_entry_on_pythonpath() {
    let env = venv("pypi-h5py-3.16", &["h5py==3.16.0", "numpy==2.4.6"], Deps::Resolve);
    let args = format!(
        "--only python --only modules --python {} --allow-exec-as-root",
        env.python().display()
    );
    let dist = "/usr/lib/python3/dist-packages";
    for tool in [Tool::Lmod, Tool::EnvModules] {
        let tree = common::tempdir();
        let files: Vec<(&str, String)> = match tool {
            Tool::Lmod => vec![
                ("py-site/1.0.lua", format!("prepend_path(\"PYTHONPATH\", \"{dist}\")\n")),
                ("py-stack/1.0.lua", "depends_on(\"py-site/1.0\")\n".into()),
                (
                    "python/3.11.2.lua",
                    "family(\"python\")\nprepend_path(\"PATH\", \"/usr/bin\")\n".into(),
                ),
            ],
            Tool::EnvModules => vec![
                ("py-site/1.0", format!("#%Module1.0\nprepend-path PYTHONPATH {dist}\n")),
                ("python/3.11.2", "#%Module1.0\nfamily python\nprepend-path PATH /usr/bin\n".into()),
            ],
        };
        write_tree(tree.path(), &files);
        let mp = tree.path().to_str().unwrap();
        let setup = "module load python/3.11.2 py-site/1.0 || exit 9";
        let (report, code) = check_with(tool, mp, setup, &args);
        assert_eq!(code, 0, "{tool:?}: a warning alone: {report:#}");
        assert_eq!(slugs(&report), ["python-path-pollution"], "{tool:?}: {report:#}");
        let (_, note) = module_fix(&report, "python-path-pollution");
        assert!(
            note.starts_with(&format!(
                "py-site/1.0 puts {dist} on PYTHONPATH, from which this interpreter would import h5py 3.7.0, numpy 1.24.2 and mpi4py 3.1.4 instead of its own environment's; without it that entry is gone. Leave it out"
            )),
            "{tool:?}: {note}"
        );
        let after = fix_clears_with(tool, mp, setup, &args, "python-path-pollution", "module unload py-site");
        assert_eq!(after["summary"]["warnings"], 0, "{tool:?}: {after:#}");
    }
    let tree = common::tempdir();
    write_tree(
        tree.path(),
        &[
            ("py-site/1.0.lua", format!("prepend_path(\"PYTHONPATH\", \"{dist}\")\n")),
            ("py-stack/1.0.lua", "depends_on(\"py-site/1.0\")\n".into()),
        ],
    );
    let mp = tree.path().to_str().unwrap();
    let after = fix_clears(
        mp,
        "module load py-stack || exit 9",
        &args,
        "python-path-pollution",
        "module unload py-stack",
    );
    assert_eq!(after["summary"]["warnings"], 0, "{after:#}");
}

/// Facts replay (probes gather, rules judge): a site's software tree reached through a symbolic link
/// (`apps -> real`, as `/apps -> /gpfs/apps` on many clusters). `py-site/1.0` adds `apps/site-packages` to
/// PYTHONPATH; the import probe records the entry as the kernel resolves it (`real/site-packages`). With
/// real Lmod, `h5doctor facts --json` records the module's directory resolved too, and the live check names
/// `module unload py-site`. Then the whole tree is removed, and `check --facts` of the recorded facts,
/// where neither spelling exists any more, still names that module with the same note: the rules compare
/// what the probes recorded, they read no file system. (Before, the rule resolved the module's directory
/// itself, which on replay left `apps/site-packages` as written and found no module.)
#[test]
fn python_path_pollution_through_a_symlinked_tree_is_named_in_a_replay_where_the_tree_is_gone() {
    require_lmod();
    let env = venv("pypi-h5py-3.16", &["h5py==3.16.0", "numpy==2.4.6"], Deps::Resolve);
    let dist = Path::new("/usr/lib/python3/dist-packages");
    let root = common::tempdir();
    let real = root.path().join("real/site-packages");
    std::fs::create_dir_all(&real).unwrap();
    // Debian's h5py and NumPy (and their metadata), as a site tree would hold its own.
    let mut linked = 0;
    for e in std::fs::read_dir(dist).unwrap() {
        let name = e.unwrap().file_name().into_string().unwrap();
        if name == "h5py" || name == "numpy" || name.starts_with("h5py.") || name.starts_with("numpy-") {
            std::os::unix::fs::symlink(dist.join(&name), real.join(&name)).unwrap();
            linked += 1;
        }
    }
    assert!(
        linked >= 3,
        "Debian's python3-h5py and python3-numpy are needed (apt-get install python3-h5py python3-numpy)"
    );
    std::os::unix::fs::symlink(root.path().join("real"), root.path().join("apps")).unwrap();
    let spelled = root.path().join("apps/site-packages").display().to_string();
    let resolved = std::fs::canonicalize(&real).unwrap().display().to_string();
    let tree = common::tempdir();
    write_tree(
        tree.path(),
        &[("py-site/1.0.lua", format!("prepend_path(\"PYTHONPATH\", \"{spelled}\")\n"))],
    );
    let mp = tree.path().to_str().unwrap();
    let setup = "module load py-site/1.0 || exit 9";
    let args = format!(
        "--only python --only modules --python {} --allow-exec-as-root",
        env.python().display()
    );
    let (code, stdout, stderr) = shell(
        Tool::Lmod,
        mp,
        &format!("{setup}\n\"$H5DOCTOR\" facts --no-default-dirs --no-default-pythons --json {args}"),
    );
    assert_eq!(code, 0, "{stderr}");
    let facts: Value = serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("not JSON ({e}): {stdout}\n{stderr}"));
    // What the probes recorded: the module's directory as written and as resolved, the entry resolved.
    let loaded = &facts["modules"]["loaded"][0];
    assert_eq!(loaded["full_name"], "py-site/1.0", "{loaded:#}");
    assert_eq!(loaded["info"]["resolved_dirs"][&spelled], resolved.as_str(), "{loaded:#}");
    let h5py = &facts["python"]["interpreters"][0]["h5py"]["location"];
    assert_eq!(h5py["entry"], resolved.as_str(), "{h5py:#}");
    let expected_note = format!(
        "py-site/1.0 puts {resolved} on PYTHONPATH, from which this interpreter would import h5py 3.7.0 and numpy 1.24.2 instead of its own environment's; without it that entry is gone. Leave it out"
    );
    let (live, _) = check(mp, setup, &args);
    let (line, note) = module_fix(&live, "python-path-pollution");
    assert_eq!(line, "module unload py-site", "{live:#}");
    assert!(note.starts_with(&expected_note), "{note}");

    // Replayed where the tree is gone: neither spelling of the directory exists.
    let kept = common::tempdir();
    let facts_file = kept.path().join("node.json");
    std::fs::write(&facts_file, &stdout).unwrap();
    root.close().unwrap();
    assert!(!Path::new(&spelled).exists() && !Path::new(&resolved).exists());
    let replay = common::H5doctor::new(&["check", "--json", "--facts", facts_file.to_str().unwrap()]).run();
    let report: Value = serde_json::from_str(&replay.stdout).unwrap_or_else(|e| panic!("not JSON ({e}): {replay:?}"));
    assert_eq!(replay.code, 0, "a warning alone: {report:#}");
    let (line, note) = module_fix(&report, "python-path-pollution");
    assert_eq!(line, "module unload py-site", "{report:#}");
    assert!(note.starts_with(&expected_note), "{note}");
}

/// hdf5-env-plugin-unavailable with real Lmod and real modulecmd.tcl: HDF5_VOL_CONNECTOR (Lmod) or HDF5_DRIVER
/// (modulecmd) set while `hdf5/1.10.8` (Debian's HDF5, too old to read either) is loaded: the job's
/// programs would silently run without the connector. h5doctor names the HDF5 module of a release that
/// reads the variable (`module swap hdf5 hdf5/1.14.5`: the dev.sh hdf5-matrix build with its named probe),
/// verifies it on the spot (the probe named for that HDF5 re-runs with the variable set: `native` and
/// `sec2` are built into HDF5 1.14), the test runs that line, and the finding is gone. With only
/// hdf5/1.10.8 on MODULEPATH the fix says plainly what to ask the administrators for.
#[test]
fn an_hdf5_too_old_for_the_plugin_variable_swaps_to_the_module_of_a_release_that_reads_it() {
    require_lmod();
    common::matrix_probe("h5doctor-probe-1.14.5-serial");
    let shared = Path::new(&std::env::var("HOME").unwrap()).join(".cache/h5doctor-tests/hdf5-1.14.5-shared");
    assert!(
        shared.join("lib/libhdf5.settings").is_file(),
        "{} is missing: run `scripts/dev.sh hdf5-matrix`",
        shared.display()
    );
    let debian = Path::new("/usr/lib/x86_64-linux-gnu/hdf5/serial");
    let module = |tool: Tool, prefix: &Path| match tool {
        Tool::Lmod => format!(
            "family(\"hdf5\")\nsetenv(\"HDF5_DIR\", \"{p}\")\nprepend_path(\"LD_LIBRARY_PATH\", \"{p}/lib\")\n",
            p = prefix.display()
        ),
        Tool::EnvModules => format!(
            "#%Module1.0\nfamily hdf5\nsetenv HDF5_DIR {p}\nprepend-path LD_LIBRARY_PATH {p}/lib\n",
            p = prefix.display()
        ),
    };
    let name = |tool: Tool, v: &str| match tool {
        Tool::Lmod => format!("hdf5/{v}.lua"),
        Tool::EnvModules => format!("hdf5/{v}"),
    };
    let dir = common::tempdir();
    let args = format!("--only hdf5 --only modules --dir {}", dir.path().display());
    for (tool, var, text) in [
        (Tool::Lmod, "HDF5_VOL_CONNECTOR", "native"),
        (Tool::EnvModules, "HDF5_DRIVER", "sec2"),
    ] {
        let tree = common::tempdir();
        let (old, new) = (name(tool, "1.10.8"), name(tool, "1.14.5"));
        write_tree(
            tree.path(),
            &[(old.as_str(), module(tool, debian)), (new.as_str(), module(tool, &shared))],
        );
        let mp = tree.path().to_str().unwrap();
        let setup = format!("export {var}={text}\nmodule load hdf5/1.10.8 || exit 9");
        let (report, code) = check_with(tool, mp, &setup, &args);
        assert_eq!(code, 0, "{tool:?}: a warning alone: {report:#}");
        assert_eq!(slugs(&report), ["hdf5-env-plugin-unavailable"], "{tool:?}: {report:#}");
        let (_, note) = module_fix(&report, "hdf5-env-plugin-unavailable");
        let since = if var == "HDF5_VOL_CONNECTOR" { "1.12" } else { "1.14" };
        assert!(
            note.starts_with(&format!(
                "hdf5/1.14.5 holds HDF5 1.14.5, which reads {var} (HDF5 {since} and later do) (the default version). "
            )),
            "{tool:?}: {note}"
        );
        let after = fix_clears_with(
            tool,
            mp,
            &setup,
            &args,
            "hdf5-env-plugin-unavailable",
            "module swap hdf5 hdf5/1.14.5",
        );
        assert_eq!(after["facts"]["hdf5"]["library"]["version"], "1.14.5", "{tool:?}: {after:#}");
        assert_eq!(after["summary"]["warnings"], 0, "{tool:?}: {after:#}");
    }
    // Only Debian's 1.10.8 as a module: said plainly.
    let tree = common::tempdir();
    write_tree(tree.path(), &[("hdf5/1.10.8.lua", module(Tool::Lmod, debian))]);
    let (report, _) = check(
        tree.path().to_str().unwrap(),
        "export HDF5_VOL_CONNECTOR=native\nmodule load hdf5/1.10.8 || exit 9",
        &args,
    );
    let f = finding(&report, "hdf5-env-plugin-unavailable");
    let admin = admin_fix_instead_of_a_module(f);
    assert_eq!(
        admin["text"],
        "Ask the administrators for an HDF5 module >= 1.12 (VOL) or >= 1.14 (driver plugins), with the connector built for it"
    );
    assert!(
        admin["note"].as_str().unwrap().starts_with(
            "No module on MODULEPATH has an HDF5 that reads the variable (1 modules in 1 trees of MODULEPATH; hierarchy levels included)."
        ),
        "{admin:#}"
    );
}

/// numpy-capi-version and numpy-abi-dtype-size when no module put the NumPy there (PYTHONPATH set by hand to
/// the real NumPy 1.19.5 and the h5py 3.10.0 built here against NumPy 1.21.6), with real Lmod and real
/// modulecmd.tcl: the site's `py-numpy/1.21.6` holds a NumPy this h5py runs with (2.0.2 it does not: a
/// NumPy-1 build), so both findings name `module load py-numpy/1.21.6`, verified on the spot; the test runs
/// that line and neither finding is left.
#[test]
fn a_numpy_too_old_that_no_module_put_there_loads_the_numpy_module_h5py_runs_with() {
    require_lmod();
    let (python, stack) = py39_numpy_stack();
    let args = format!("--only python --only modules --python {} --allow-exec-as-root", python.display());
    let setup = format!(
        "export PYTHONPATH={}:{}",
        stack.join("numpy-1.19.5").display(),
        stack.join("h5py-3.10.0").display()
    );
    for tool in [Tool::Lmod, Tool::EnvModules] {
        let tree = common::tempdir();
        let files = py39_modules(tool, &stack, false);
        let files: Vec<(&str, String)> = files.iter().map(|(p, t)| (p.as_str(), t.clone())).collect();
        write_tree(tree.path(), &files);
        let mp = tree.path().to_str().unwrap();
        let (report, code) = check_with(tool, mp, &setup, &args);
        assert_eq!(code, 1, "{tool:?}: {report:#}");
        let (_, note) = module_fix(&report, "numpy-capi-version");
        assert_eq!(
            note,
            format!(
                "this interpreter imports NumPy 1.19.5 from {} (no module put it there), which h5py 3.10.0 cannot run with; py-numpy/1.21.6 holds NumPy 1.21.6, which h5py (built against NumPy 1.21.6) runs with; loaded, its PYTHONPATH directory comes first.",
                stack.join("numpy-1.19.5").display()
            ),
            "{tool:?}"
        );
        let dtype = finding(&report, "numpy-abi-dtype-size");
        let fix = dtype["fixes"].as_array().unwrap().iter().find(|x| x["kind"] == "module").unwrap();
        assert_eq!(
            (fix["text"].as_str(), fix["verified"].as_bool()),
            (Some("module load py-numpy/1.21.6"), Some(true)),
            "{tool:?}: {dtype:#}"
        );
        let after = fix_clears_with(tool, mp, &setup, &args, "numpy-capi-version", "module load py-numpy/1.21.6");
        assert!(!slugs(&after).contains(&"numpy-abi-dtype-size".to_string()), "{tool:?}: {after:#}");
        assert_eq!(after["summary"]["errors"], 0, "{tool:?}: {after:#}");
    }
}

/// numpy-2-abi when no module put NumPy 2 there, with real Lmod and real modulecmd.tcl: PYTHONPATH set by
/// hand to the real NumPy 2.4.6 wheel (a venv's site-packages, cached in target/test-venvs), and Debian's
/// h5py 3.7.0, compiled for NumPy 1.x, imported by Debian's Python: `import h5py` fails for real with
/// "numpy.dtype size changed". The site has `py-numpy/2.4.6` (the highest, so the default; NumPy 2, which
/// this h5py cannot run with) and `py-numpy/1.24.2`, whose PYTHONPATH directory holds only Debian's NumPy
/// 1.24.2 (symbolic links, no h5py of its own). h5doctor names `module load py-numpy/1.24.2`, verifies it
/// on the spot, the test runs exactly that line with the real tool, and the finding is gone (exit 1, then 0
/// errors).
#[test]
fn numpy_2_that_no_module_put_there_loads_the_numpy_1_module_h5py_runs_with() {
    require_lmod();
    let dist = Path::new("/usr/lib/python3/dist-packages");
    assert!(
        dist.join("numpy-1.24.2.egg-info").exists() && dist.join("h5py/_debian_h5py_serial").is_dir(),
        "Debian's python3-numpy 1.24.2 and python3-h5py 3.7.0 are needed: apt-get install python3-h5py"
    );
    let numpy2 = venv("numpy-2.4.6-only", &["numpy==2.4.6"], Deps::Exact).site_packages();
    let site = common::tempdir();
    let numpy1 = site.path().join("numpy-1.24.2");
    std::fs::create_dir_all(&numpy1).unwrap();
    for name in ["numpy", "numpy-1.24.2.egg-info"] {
        std::os::unix::fs::symlink(dist.join(name), numpy1.join(name)).unwrap();
    }
    let args = format!("--only python --only modules --python {DEBIAN_PYTHON} --allow-exec-as-root");
    let setup = format!("export PYTHONPATH={}", numpy2.display());
    let (n1, n2) = (numpy1.display(), numpy2.display());
    for tool in [Tool::Lmod, Tool::EnvModules] {
        let tree = common::tempdir();
        let files = match tool {
            Tool::Lmod => vec![
                ("py-numpy/2.4.6.lua", format!("prepend_path(\"PYTHONPATH\", \"{n2}\")\n")),
                ("py-numpy/1.24.2.lua", format!("prepend_path(\"PYTHONPATH\", \"{n1}\")\n")),
            ],
            Tool::EnvModules => vec![
                ("py-numpy/2.4.6", format!("#%Module1.0\nprepend-path PYTHONPATH {n2}\n")),
                ("py-numpy/1.24.2", format!("#%Module1.0\nprepend-path PYTHONPATH {n1}\n")),
            ],
        };
        write_tree(tree.path(), &files);
        let mp = tree.path().to_str().unwrap();
        let (report, code) = check_with(tool, mp, &setup, &args);
        assert_eq!(code, 1, "{tool:?}: {report:#}");
        let f = finding(&report, "numpy-2-abi");
        assert!(
            f.to_string().contains("numpy.dtype size changed"),
            "{tool:?}: the real import error is the evidence: {f:#}"
        );
        let (_, note) = module_fix(&report, "numpy-2-abi");
        assert_eq!(
            note,
            format!(
                "this interpreter imports NumPy 2.4.6 from {n2} (no module put it there), which h5py 3.7.0 cannot run with; \
                 py-numpy/1.24.2 holds NumPy 1.24.2, which h5py (built for NumPy 1.x) runs with; loaded, its PYTHONPATH \
                 directory comes first."
            ),
            "{tool:?}"
        );
        let after = fix_clears_with(tool, mp, &setup, &args, "numpy-2-abi", "module load py-numpy/1.24.2");
        assert_eq!(after["summary"]["errors"], 0, "{tool:?}: {after:#}");
        let (_, code) = check_with(tool, mp, &format!("{setup}\nmodule load py-numpy/1.24.2 || exit 9"), &args);
        assert_eq!(code, 0, "{tool:?}: {after:#}");
    }
}

/// A shared library in `dir` whose constructor appends the name of the process loading it
/// (`/proc/self/comm`) to `marker`: loading it runs it.
fn comm_marker_library(dir: &Path, marker: &Path) -> PathBuf {
    let lib = dir.join("libpreloaded.so");
    let src = dir.join("preloaded.c");
    std::fs::write(
        &src,
        format!(
            "#include <stdio.h>\n__attribute__((constructor)) static void ran(void) {{ char comm[64] = \"?\"; \
             FILE *c = fopen(\"/proc/self/comm\", \"r\"); if (c) {{ if (!fgets(comm, sizeof comm, c)) comm[0] = 0; fclose(c); }} \
             FILE *f = fopen(\"{}\", \"a\"); if (f) {{ fputs(comm, f); fclose(f); }} }}\n",
            marker.display()
        ),
    )
    .unwrap();
    let built = Command::new("cc")
        .args(["-shared", "-fPIC", "-o"])
        .arg(&lib)
        .arg(&src)
        .output()
        .unwrap();
    assert!(built.status.success(), "cc: {}", String::from_utf8_lossy(&built.stderr));
    std::fs::remove_file(&src).unwrap();
    lib
}

/// What a root-owned modulefile of the test hierarchy puts into the environment, for
/// [`module_fix_verified_as_root`]: a line of Lua, and the name of the process that loads or runs the
/// planted code when it gets to run.
struct Planted {
    lua: String,
    ran_by: &'static str,
}

/// Safe as root: a module fix line of two invocations (`module load gcc/12 openmpi/4.1 && module swap hdf5
/// phdf5/1.14.3`) is verified one invocation at a time, each vetted in the environment the one before left.
/// The (root-owned) openmpi modulefile adds `planted(dir)` to the environment, `dir` holding code that
/// appends the name of the process running it to a marker: Lmod running the line as root runs it, and
/// with `dir` root's h5doctor verifies the line (the controls); with `dir` a user's, nothing runs it as
/// root, and the fix stays unverified with `reason(dir)`. Before, both invocations ran in one bash and the
/// second one ran the user's code.
fn module_fix_verified_as_root(planted: impl Fn(&Path, &Path) -> Planted, reason: impl Fn(&Path) -> String) {
    assert!(
        unsafe { libc::geteuid() } == 0,
        "this test checks what h5doctor does as root: run it as root (CI does)"
    );
    require_lmod();
    let fx = Fx::new();
    let tree = common::tempdir();
    hierarchy(&fx, tree.path());
    let scratch = common::tempdir();
    let (user_dir, marker) = (scratch.path().join("user"), scratch.path().join("marker"));
    std::fs::create_dir(&user_dir).unwrap();
    let Planted { lua, ran_by } = planted(&user_dir, &marker);
    write_tree(
        tree.path(),
        &[(
            "Compiler/gcc/12/openmpi/4.1.lua",
            format!(
                "family(\"mpi\")\nlocal mroot = os.getenv(\"MODULEPATH_ROOT\")\nprepend_path(\"MODULEPATH\", pathJoin(mroot, \"MPI/gcc/12/openmpi/4.1\"))\n{lua}\n"
            ),
        )],
    );
    let lib = fx.path("opt/phdf5/lib");
    let app = fx.so(
        "bin/solver.so",
        None,
        "int H5Pset_fapl_mpio(void); int solve(void){return H5Pset_fapl_mpio();}\n",
        &[&format!("-L{}", lib.display()), "-l:libhdf5_par.so.310"],
    );
    let core = tree.path().join("Core");
    let mp = core.to_str().unwrap();
    let setup = format!("export MODULEPATH_ROOT={}\nmodule load hdf5 || exit 9", tree.path().display());
    let args = format!("--only libraries --only modules --binary {}", app.display());
    let line = "module load gcc/12 openmpi/4.1 && module swap hdf5 phdf5/1.14.3";
    let verified_fix = || {
        let _ = std::fs::remove_file(&marker);
        let (report, _) = check(mp, &setup, &args);
        let f = finding(&report, "lib-not-found");
        let fix = f["fixes"]
            .as_array()
            .unwrap()
            .iter()
            .find(|x| x["kind"] == "module")
            .unwrap()
            .clone();
        assert_eq!(fix["text"], line, "{f:#}");
        fix
    };

    // Controls, the directory root's: Lmod itself, running the line as root, runs the planted code; and
    // h5doctor verifies the line.
    let (code, _, stderr) = shell(Tool::Lmod, mp, &format!("{setup}\n{line}"));
    assert_eq!(code, 0, "{stderr}");
    let ran = std::fs::read_to_string(&marker).unwrap_or_default();
    assert!(
        ran.lines().any(|l| l == ran_by),
        "the control's planted code was not run by {ran_by}: {ran:?}"
    );
    assert_eq!(verified_fix()["verified"], true);

    // The directory a user's: the second invocation is not started, nothing runs the planted code.
    std::os::unix::fs::chown(&user_dir, Some(65534), Some(65534)).unwrap();
    let fix = verified_fix();
    assert!(
        !marker.exists(),
        "the user's code was run as root by: {} ({fix:#})",
        std::fs::read_to_string(&marker).unwrap_or_default()
    );
    assert_eq!(fix["verified"], false, "{fix:#}");
    assert_eq!(
        fix["verification"],
        format!(
            "not verified: `module swap hdf5 phdf5/1.14.3` after `module load gcc/12 openmpi/4.1`: {}",
            reason(&user_dir)
        ),
        "{fix:#}"
    );
}

/// A profiler-style module puts a library of its directory on LD_PRELOAD: Lmod's `lmod` (run by lua)
/// would preload it.
#[test]
fn a_module_putting_a_users_library_on_ld_preload_stops_the_verification_before_the_next_module_command_runs() {
    module_fix_verified_as_root(
        |dir, marker| Planted {
            lua: format!("prepend_path(\"LD_PRELOAD\", \"{}\")", comm_marker_library(dir, marker).display()),
            ran_by: "lmod",
        },
        |dir| {
            format!(
                "not run as root: /usr/share/lmod/lmod/libexec/lmod would load {}/libpreloaded.so, which is writable by uid \
                 65534 ({} is owned by it)",
                dir.display(),
                dir.display()
            )
        },
    );
}

/// A module prepends its `bin` to PATH, as nearly every module does: Lmod runs `sh -c "stty size"`, which
/// finds the directory's `stty` first, right after that modulefile (in the same invocation) and in the
/// next. h5doctor gives Lmod the terminal width, and does not start the next invocation.
#[test]
fn a_module_putting_a_users_directory_on_path_stops_the_verification_before_lmod_runs_its_stty() {
    module_fix_verified_as_root(
        |dir, marker| {
            let stty = dir.join("stty");
            std::fs::write(
                &stty,
                format!("#!/bin/sh\necho stty >> '{}'\nexec /usr/bin/stty \"$@\"\n", marker.display()),
            )
            .unwrap();
            std::fs::set_permissions(&stty, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
            Planted {
                lua: format!("prepend_path(\"PATH\", \"{}\")", dir.display()),
                ran_by: "stty",
            }
        },
        |dir| {
            format!(
                "not run as root: /usr/share/lmod/lmod/libexec/lmod runs programs found on PATH, and its entry {} is writable by \
                 uid 65534",
                dir.display()
            )
        },
    );
}
