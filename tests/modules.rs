//! The `modules` group against REAL Lmod (Debian package `lmod`): each test writes a modulefile tree
//! (Lua and Tcl, modelled on the verbatim trees of shared/research/feasibility-slurm-modules.md §2),
//! loads modules with Lmod's own `module` in a clean bash, and runs h5doctor in that environment, so
//! what h5doctor reads (_ModuleTable_, LOADEDMODULES, _LMFILES_, LMOD_FAMILY_*, CRAY_LD_LIBRARY_PATH) is
//! what Lmod made. The `cray-*` modulefiles only mimic Cray PE names and variables (no Cray here).

mod common;

use common::modules::{lmod, require_lmod, write_tree};
use common::{finding, fix_texts, slugs};
use serde_json::Value;

const LUA: &[(&str, &str)] = &[
    (
        "openmpi/4.1.4.lua",
        r#"-- -*- lua -*-
help([[Open MPI 4.1.4 (Debian openmpi-bin / libopenmpi-dev)]])
whatis("Name: openmpi")
whatis("Version: 4.1.4")
whatis("Category: mpi")
family("mpi")
local base = "/usr/lib/x86_64-linux-gnu/openmpi"
setenv("MPI_HOME", base)
prepend_path("LD_LIBRARY_PATH", pathJoin(base, "lib"))
prepend_path("CPATH", pathJoin(base, "include"))
setenv("SLURM_MPI_TYPE", "pmix")
"#,
    ),
    (
        "hdf5/1.10.8.lua",
        r#"-- -*- lua -*-
help([[HDF5 1.10.8, serial build (Debian libhdf5-dev)]])
whatis("Name: hdf5")
whatis("Version: 1.10.8")
family("hdf5")
conflict("hdf5-parallel")
local root = "/usr/lib/x86_64-linux-gnu/hdf5/serial"
setenv("HDF5_DIR", root)
setenv("HDF5_ROOT", root)
prepend_path("LD_LIBRARY_PATH", pathJoin(root, "lib"))
prepend_path("CPATH", pathJoin(root, "include"))
"#,
    ),
    (
        "hdf5-parallel/1.10.8.lua",
        r#"-- -*- lua -*-
help([[HDF5 1.10.8, parallel (MPI-IO) build against Open MPI (Debian libhdf5-openmpi-dev)]])
whatis("Name: hdf5-parallel")
whatis("Version: 1.10.8")
family("hdf5")
conflict("hdf5")
prereq("openmpi")
local version = myModuleVersion()
local root = pathJoin("/usr/lib/x86_64-linux-gnu/hdf5", "openmpi")
setenv("HDF5_DIR", root)
setenv("HDF5_ROOT", root)
setenv("HDF5_VERSION", version)
prepend_path("LD_LIBRARY_PATH", pathJoin(root, "lib"))
setenv("HDF5_MPI", "ON")
"#,
    ),
    (
        "python/3.11.2.lua",
        r#"-- -*- lua -*-
help([[Debian system Python 3.11.2 (/usr/bin/python3)]])
whatis("Name: python")
family("python")
prepend_path("PATH", "/usr/bin")
pushenv("PYTHONNOUSERSITE", "1")
"#,
    ),
    (
        "h5py-parallel/3.7.0.lua",
        r#"-- -*- lua -*-
help([[h5py 3.7.0 MPI build (Debian python3-h5py-mpi), needs openmpi + hdf5-parallel]])
whatis("Name: h5py-parallel")
depends_on("python/3.11.2")
depends_on("openmpi")
depends_on("hdf5-parallel/1.10.8")
append_path("PYTHONPATH", pathJoin("/usr/lib/python3/dist-packages"))
setenv("H5PY_ALWAYS_USE_MPI", "1")
if (os.getenv("SLURM_JOB_ID")) then
  setenv("H5PY_UNDER_SLURM", os.getenv("SLURM_JOB_ID"))
end
"#,
    ),
];

const TCL: &[(&str, &str)] = &[
    (
        "openmpi/4.1.4",
        r#"#%Module1.0
## Open MPI 4.1.4 (Debian)
proc ModulesHelp { } {
    puts stderr "Open MPI 4.1.4 (Debian openmpi-bin / libopenmpi-dev)"
}
module-whatis "Name: openmpi"
family mpi
set base /usr/lib/x86_64-linux-gnu/openmpi
setenv         MPI_HOME          $base
prepend-path   LD_LIBRARY_PATH   $base/lib
prepend-path   CPATH             [file join $base include]
"#,
    ),
    ("hdf5/.version", "#%Module1.0\nset ModulesVersion \"1.10.8\"\n"),
    (
        "hdf5/1.10.8",
        r#"#%Module1.0
proc ModulesHelp { } {
    puts stderr "HDF5 1.10.8, serial build (Debian libhdf5-dev)"
}
module-whatis "Name: hdf5"
conflict hdf5-parallel
set triplet  x86_64-linux-gnu
set root     /usr/lib/$triplet/hdf5/serial
setenv         HDF5_DIR          $root
prepend-path   LD_LIBRARY_PATH   $root/lib
prepend-path   CPATH             $root/include
"#,
    ),
    (
        "hdf5-parallel/1.10.8",
        r#"#%Module1.0
proc ModulesHelp { } {
    puts stderr "HDF5 1.10.8, parallel (MPI-IO) build against Open MPI"
}
module-whatis "Name: hdf5-parallel"
conflict hdf5
prereq   openmpi
set root [file join /usr lib x86_64-linux-gnu hdf5 openmpi]
setenv         HDF5_DIR          $root
setenv         HDF5_MPI          ON
prepend-path   LD_LIBRARY_PATH   "$root/lib"
prepend-path   LIBRARY_PATH      ${root}/lib
"#,
    ),
    (
        "python/3.11.2",
        "#%Module1.0\nmodule-whatis \"Name: python\"\nprepend-path PATH /usr/bin\nsetenv PYTHONNOUSERSITE 1\n",
    ),
];

/// Two HDF5 modules that do not exclude each other (no family, no conflict), as on older sites.
const LEGACY: &[(&str, &str)] = &[
    (
        "openmpi/4.1.4",
        "#%Module1.0\nprepend-path LD_LIBRARY_PATH /usr/lib/x86_64-linux-gnu/openmpi/lib\n",
    ),
    (
        "hdf5/1.10.8",
        "#%Module1.0\nprepend-path LD_LIBRARY_PATH /usr/lib/x86_64-linux-gnu/hdf5/serial/lib\n",
    ),
    (
        "phdf5/1.10.8",
        "#%Module1.0\nset root /usr/lib/x86_64-linux-gnu/hdf5/openmpi\nsetenv HDF5_DIR $root\nprepend-path LD_LIBRARY_PATH $root/lib\n",
    ),
];

/// Names and variables mimic the Cray PE (the prefixes do not exist here).
const CRAY: &[(&str, &str)] = &[
    (
        "cray-mpich/8.1.27.lua",
        r#"family("mpi")
setenv("CRAY_MPICH_DIR", "/opt/cray/pe/mpich/8.1.27/ofi/gnu/9.1")
prepend_path("CRAY_LD_LIBRARY_PATH", "/opt/cray/pe/mpich/8.1.27/ofi/gnu/9.1/lib")
"#,
    ),
    (
        "cray-hdf5/1.12.2.9.lua",
        r#"family("hdf5")
whatis("HDF5 serial")
local root = "/opt/cray/pe/hdf5/1.12.2.9/gnu/9.1"
setenv("CRAY_HDF5_PREFIX", root)
prepend_path("CRAY_LD_LIBRARY_PATH", pathJoin(root, "lib"))
"#,
    ),
    (
        "cray-hdf5-parallel/1.12.2.9.lua",
        r#"family("hdf5")
local root = "/opt/cray/pe/hdf5-parallel/1.12.2.9/gnu/9.1"
setenv("CRAY_HDF5_PARALLEL_PREFIX", root)
prepend_path("CRAY_LD_LIBRARY_PATH", pathJoin(root, "lib"))
"#,
    ),
];

/// `module load ...; h5doctor check --only modules --json`; the report and h5doctor's exit code.
fn check_after(modulepath: &str, setup: &str, extra: &str) -> (Value, i32) {
    let (code, stdout, stderr) = lmod(
        modulepath,
        &format!("{setup}\n\"$H5DOCTOR\" check --only modules --no-default-dirs --no-default-pythons --json {extra}"),
    );
    let report: Value = serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("not JSON ({e}): {stdout}\nstderr: {stderr}"));
    (report, code)
}

#[test]
fn lua_tree_serial_hdf5_with_openmpi_names_this_sites_parallel_module() {
    require_lmod();
    let tree = common::tempdir();
    write_tree(tree.path(), LUA);
    let mp = tree.path().to_str().unwrap();
    let (report, code) = check_after(mp, "module load openmpi hdf5 || exit 9", "");
    assert_eq!(slugs(&report), vec!["module-hdf5-serial-with-mpi"], "{report:#}");
    let f = finding(&report, "module-hdf5-serial-with-mpi");
    assert_eq!(f["severity"], "warning");
    assert_eq!(fix_texts(f), vec!["module swap hdf5 hdf5-parallel/1.10.8"]);
    assert_eq!(f["fixes"][0]["kind"], "module");
    assert_eq!(code, 0, "a warning alone exits 0");

    // The fix, applied with real Lmod, clears the finding; --strict made the warning fail before.
    let (_, strict) = check_after(mp, "module load openmpi hdf5 || exit 9", "--strict");
    assert_eq!(strict, 1);
    let (report, code) = check_after(
        mp,
        "module load openmpi hdf5 || exit 9\nmodule swap hdf5 hdf5-parallel/1.10.8 || exit 9",
        "--strict",
    );
    assert_eq!(slugs(&report), Vec::<String>::new(), "{report:#}");
    assert_eq!(code, 0);

    // No MPI module, but a parallel launch (srun -n 4 sets SLURM_NTASKS): the same finding and fix.
    // hdf5-parallel has `prereq("openmpi")`: the line loads it first (a bare swap is refused by Lmod).
    let setup = "module load hdf5 || exit 9\nexport SLURM_NTASKS=4";
    let (report, _) = check_after(mp, setup, "");
    let f = finding(&report, "module-hdf5-serial-with-mpi");
    assert!(f["title"].as_str().unwrap().ends_with("(SLURM_NTASKS=4)"), "{report:#}");
    let line = "module load openmpi/4.1.4 && module swap hdf5 hdf5-parallel/1.10.8";
    assert_eq!(fix_texts(f), vec![line]);
    let (report, code) = check_after(mp, &format!("{setup}\n{line} || exit 9"), "--strict");
    assert_eq!((slugs(&report), code), (Vec::<String>::new(), 0), "{report:#}");
    let (report, _) = check_after(mp, "module load hdf5 || exit 9\nexport SLURM_NTASKS=1", "");
    assert_eq!(slugs(&report), Vec::<String>::new(), "{report:#}");

    // Facts gathered in the Lmod environment, judged elsewhere: the same finding; a site pin applies there.
    let facts_file = tree.path().join("node.json");
    let (code, _, stderr) = lmod(
        mp,
        &format!(
            "module load openmpi hdf5 || exit 9\n\"$H5DOCTOR\" facts --only modules --json > {}",
            facts_file.display()
        ),
    );
    assert_eq!(code, 0, "{stderr}");
    let replay = common::H5doctor::new(&["check", "--json", "--facts", facts_file.to_str().unwrap()]).run();
    let report = replay.json();
    assert_eq!(slugs(&report), vec!["module-hdf5-serial-with-mpi"]);
    assert_eq!(
        fix_texts(finding(&report, "module-hdf5-serial-with-mpi")),
        vec!["module swap hdf5 hdf5-parallel/1.10.8"]
    );
    let site = common::tempdir();
    std::fs::write(
        site.path().join("pins.toml"),
        "[modules]\nhdf5-parallel = \"hdf5/1.14.3-openmpi\"\n",
    )
    .unwrap();
    let replay = common::H5doctor::new(&[
        "check",
        "--json",
        "--facts",
        facts_file.to_str().unwrap(),
        "--rules",
        site.path().to_str().unwrap(),
    ])
    .run();
    assert_eq!(
        fix_texts(finding(&replay.json(), "module-hdf5-serial-with-mpi")),
        vec!["module swap hdf5 hdf5/1.14.3-openmpi"]
    );
}

#[test]
fn h5py_parallel_stack_is_clean_and_the_group_line_lists_lmods_modules() {
    require_lmod();
    let tree = common::tempdir();
    write_tree(tree.path(), LUA);
    let mp = tree.path().to_str().unwrap();
    let (code, stdout, stderr) = lmod(
        mp,
        "module load h5py-parallel || exit 9\n\"$H5DOCTOR\" check --only modules --no-default-dirs --no-default-pythons",
    );
    assert_eq!(code, 0, "{stdout}\n{stderr}");
    let line = stdout.lines().find(|l| l.contains("modules")).unwrap_or_default().to_string();
    assert!(
        line.contains("✓ modules")
            && line.contains("loaded: python/3.11.2, openmpi/4.1.4, hdf5-parallel/1.10.8, h5py-parallel/3.7.0; index: 5 modules in 1 tree"),
        "{stdout}"
    );
    // The facts: Lmod's _ModuleTable_ read, families, and capabilities from the real libhdf5 files.
    let (_, facts, _) = lmod(mp, "module load h5py-parallel || exit 9\n\"$H5DOCTOR\" facts --only modules --json");
    let facts: Value = serde_json::from_str(&facts).unwrap();
    let m = &facts["modules"];
    assert_eq!(m["system"], "lmod");
    assert_eq!(m["loaded_source"], "_ModuleTable_");
    assert_eq!(m["families"]["hdf5"], "hdf5-parallel");
    assert_eq!(m["families"]["mpi"], "openmpi");
    let by_name = |n: &str| {
        m["index"]["modules"]
            .as_array()
            .unwrap()
            .iter()
            .find(|x| x["name"] == n)
            .unwrap()
            .clone()
    };
    let par = by_name("hdf5-parallel");
    assert_eq!(par["capabilities"], serde_json::json!(["hdf5-parallel"]));
    assert_eq!(par["hdf5_evidence"], "elf");
    assert_eq!(par["hdf5"]["parallel"], true);
    assert_eq!(par["hdf5"]["version"], "1.10.8");
    assert_eq!(par["hdf5"]["mpi_family"], "openmpi");
    assert_eq!(by_name("hdf5")["hdf5"]["parallel"], false);
    assert_eq!(by_name("openmpi")["mpi_family"], "openmpi");
    assert_eq!(by_name("python")["capabilities"], serde_json::json!(["python"]));
    // Its PYTHONPATH entry is Debian's dist-packages, which holds python3-mpi4py's mpi4py too.
    assert_eq!(
        by_name("h5py-parallel")["capabilities"],
        serde_json::json!(["h5py", "h5py-parallel", "mpi4py"])
    );
    // `if (os.getenv("SLURM_JOB_ID"))` is decided by the environment, as Lmod does: not conditional.
    assert_eq!(by_name("h5py-parallel")["conditional"], false);
    assert_eq!(by_name("h5py-parallel")["reads_env"], serde_json::json!(["SLURM_JOB_ID"]));
}

#[test]
fn tcl_tree_under_lmod_gives_the_same_diagnosis_and_a_site_pin_wins() {
    require_lmod();
    let tree = common::tempdir();
    write_tree(tree.path(), TCL);
    let mp = tree.path().to_str().unwrap();
    // `hdf5` resolves through hdf5/.version; Tcl files go through Lmod's tcl2lua.
    let (report, code) = check_after(mp, "module load openmpi hdf5 || exit 9", "");
    let f = finding(&report, "module-hdf5-serial-with-mpi");
    assert_eq!(fix_texts(f), vec!["module swap hdf5 hdf5-parallel/1.10.8"], "{report:#}");
    assert_eq!(code, 0);

    // A site pins the capability to its own module name.
    let site = common::tempdir();
    std::fs::write(
        site.path().join("modules.toml"),
        "[modules]\nhdf5-parallel = \"hdf5/1.14.3-openmpi\"\n",
    )
    .unwrap();
    let (report, _) = check_after(
        mp,
        "module load openmpi hdf5 || exit 9",
        &format!("--rules {}", site.path().display()),
    );
    let f = finding(&report, "module-hdf5-serial-with-mpi");
    assert_eq!(fix_texts(f), vec!["module swap hdf5 hdf5/1.14.3-openmpi"]);

    // A bad pin is a load error with file and line.
    std::fs::write(site.path().join("modules.toml"), "[modules]\nhdf5-paralel = \"x/1\"\n").unwrap();
    let (code, _, stderr) = lmod(mp, &format!("\"$H5DOCTOR\" check --only modules --rules {}", site.path().display()));
    assert_eq!(code, 2);
    assert!(stderr.contains("modules.toml:2:1: unknown capability \"hdf5-paralel\""), "{stderr}");
}

#[test]
fn two_hdf5_modules_loaded_keep_the_parallel_one() {
    require_lmod();
    let tree = common::tempdir();
    write_tree(tree.path(), LEGACY);
    let mp = tree.path().to_str().unwrap();
    let (report, code) = check_after(mp, "module load openmpi phdf5 hdf5 || exit 9", "");
    let f = finding(&report, "module-hdf5-twice");
    assert_eq!(f["severity"], "error");
    assert_eq!(fix_texts(f), vec!["module unload hdf5/1.10.8"], "{report:#}");
    // The serial one was loaded last, in a parallel environment with a parallel HDF5 loaded: an error too.
    let g = finding(&report, "module-hdf5-serial-with-mpi");
    assert_eq!(g["severity"], "error");
    // phdf5, built with the loaded Open MPI, is loaded already: the serial one is what to take away.
    assert_eq!(fix_texts(g), vec!["module unload hdf5"]);
    assert_eq!(code, 1);
    // Without MPI, keep the one loaded last.
    let (report, _) = check_after(mp, "module load phdf5 hdf5 || exit 9", "");
    assert_eq!(fix_texts(finding(&report, "module-hdf5-twice")), vec!["module unload phdf5/1.10.8"]);
}

#[test]
fn cray_names_serial_hdf5_with_mpich_and_cray_ld_library_path() {
    require_lmod();
    let tree = common::tempdir();
    write_tree(tree.path(), CRAY);
    let mp = tree.path().to_str().unwrap();
    let (report, code) = check_after(mp, "module load cray-mpich cray-hdf5 || exit 9", "");
    assert_eq!(slugs(&report), vec!["cray-hdf5-serial-vs-parallel", "cray-ldpath"], "{report:#}");
    let f = finding(&report, "cray-hdf5-serial-vs-parallel");
    assert_eq!(f["severity"], "warning");
    // Looked up in the index: the parallel module of the loaded cray-hdf5's version (tests/module_fixes.rs
    // runs it with Cray-PE-style modules pointing at real libraries).
    assert_eq!(fix_texts(f), vec!["module swap cray-hdf5 cray-hdf5-parallel/1.12.2.9"]);
    assert_eq!(
        fix_texts(finding(&report, "cray-ldpath")),
        vec!["export LD_LIBRARY_PATH=$CRAY_LD_LIBRARY_PATH:$LD_LIBRARY_PATH"]
    );
    assert_eq!(code, 0);
    // Both fixes applied with real Lmod and bash: nothing left.
    let (report, code) = check_after(
        mp,
        "module load cray-mpich cray-hdf5 || exit 9\nmodule swap cray-hdf5 cray-hdf5-parallel/1.12.2.9 || exit 9\nexport LD_LIBRARY_PATH=$CRAY_LD_LIBRARY_PATH:$LD_LIBRARY_PATH",
        "--strict",
    );
    assert_eq!(slugs(&report), Vec::<String>::new(), "{report:#}");
    assert_eq!(code, 0);
}

#[test]
fn no_module_system_says_so_and_a_truncated_index_is_inconclusive() {
    let run = common::H5doctor::new(&["check", "--only", "modules", "--no-default-dirs", "--no-default-pythons"]);
    let mut run = run;
    for v in [
        "LMOD_CMD",
        "LMOD_VERSION",
        "_ModuleTable_Sz_",
        "MODULESHOME",
        "MODULES_CMD",
        "LOADEDMODULES",
        "MODULEPATH",
    ] {
        run = run.env_remove(v);
    }
    let out = run.run();
    assert_eq!(out.code, 0);
    assert!(
        out.stdout.contains("✓ modules   no module system in this environment"),
        "{}",
        out.stdout
    );

    require_lmod();
    let tree = common::tempdir();
    write_tree(tree.path(), LUA);
    let (report, code) = check_after(
        tree.path().to_str().unwrap(),
        "module load openmpi || exit 9\nexport H5DOCTOR_MODULES_MAX_FILES=3",
        "",
    );
    let inc = report["inconclusive"].as_array().unwrap();
    assert_eq!(inc.len(), 1, "{report:#}");
    assert_eq!(inc[0]["group"], "modules");
    assert!(inc[0]["reason"].as_str().unwrap().contains("more than 3 files"), "{report:#}");
    assert_eq!(code, 0);
}
