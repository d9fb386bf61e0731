//! The `libraries` rules end to end: real broken closures built here with the C compiler, judged by
//! `h5doctor check --only libraries --binary FILE`, each finding asserted as a user sees it (slug, fix
//! text, exit code), and where glibc's `ldd` can show the same breakage, compared with it.

mod common;
mod elf_fixtures;
use common::{evidence, finding, fix_texts, slugs, Run};
use elf_fixtures::*;
use serde_json::Value;
use std::path::Path;

/// `h5doctor check --only libraries --json --binary FILE` with exactly this loader environment.
fn check(binary: &Path, env: &[(&str, &str)]) -> (Run, Value) {
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_h5doctor"));
    cmd.args(["check", "--no-default-dirs", "--only", "libraries", "--json", "--binary"])
        .arg(binary);
    for var in ["LD_LIBRARY_PATH", "LD_PRELOAD", "H5DOCTOR_RULES_PATH", "HDF5_DIR", "NO_COLOR"] {
        cmd.env_remove(var);
    }
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().unwrap();
    let run = Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into(),
        stderr: String::from_utf8_lossy(&out.stderr).into(),
    };
    let json = run.json();
    (run, json)
}

#[test]
fn lib_not_found_names_the_library_where_it_looked_and_where_it_is() {
    let fx = Fx::new();
    fx.so(
        "prefix/lib/libhdf5.so.310",
        Some("libhdf5.so.310"),
        "int H5open(void){return 0;}\n",
        &[],
    );
    let lib = fx.path("prefix/lib");
    let app = fx.so(
        "app.so",
        None,
        "int H5open(void); int app(void){return H5open();}\n",
        &[&format!("-L{}", lib.display()), "-l:libhdf5.so.310"],
    );
    assert_eq!(ldd(&app, &[])["libhdf5.so.310"], None, "glibc's loader agrees it is missing");
    let prefix = fx.path("prefix");
    let (run, report) = check(&app, &[("HDF5_DIR", prefix.to_str().unwrap())]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert_eq!(slugs(&report), ["lib-not-found"]);
    let f = finding(&report, "lib-not-found");
    assert_eq!(f["id"], "H5D301");
    assert_eq!(f["title"], format!("{} cannot start: libhdf5.so.310 not found", app.display()));
    assert_eq!(
        evidence(f, "binary.missing_series"),
        &serde_json::json!(["libhdf5.so.310: HDF5 1.14.x"])
    );
    let looked = evidence(f, "binary.search_order").as_array().unwrap();
    assert_eq!(looked[0], "LD_LIBRARY_PATH: not set");
    assert_eq!(looked[1], "/etc/ld.so.cache: no entry");
    assert_eq!(looked.len(), 6, "{looked:#?}");
    let dir = lib.display().to_string();
    assert_eq!(fix_texts(f)[0], format!("export LD_LIBRARY_PATH={dir}:$LD_LIBRARY_PATH"));
    // Without the modules group there is no module index: no module line is guessed
    // (tests/module_fixes.rs has the module fixes, resolved against a real Lmod tree).
    assert!(f["fixes"].as_array().unwrap().iter().all(|x| x["kind"] != "module"), "{f:#}");
    // The fix works: with it, the loader (and h5doctor) find the library.
    let (code, _) = assert_agrees(&app, &[("LD_LIBRARY_PATH", &dir)]);
    assert_eq!(code, 0);
    let (run, report) = check(&app, &[("LD_LIBRARY_PATH", &dir)]);
    assert_eq!((run.code, slugs(&report).len()), (0, 0), "{}", run.stdout);
}

#[test]
fn lib_undefined_symbol_honours_symbol_versions() {
    let fx = Fx::new();
    let script = fx.version_script("h5.map", "H5_FAKE_1.0 { global: H5open; H5Pset_fapl_mpio; local: *; };\n");
    let parallel = "int H5open(void){return 0;} int H5Pset_fapl_mpio(void){return 1;}\n";
    fx.so("build/libhdf5_fake.so.1", Some("libhdf5_fake.so.1"), parallel, &[&script]);
    let build = fx.path("build");
    let app = fx.so(
        "app.so",
        None,
        "int H5open(void); int H5Pset_fapl_mpio(void); int app(void){return H5open() + H5Pset_fapl_mpio();}\n",
        &[
            &format!("-L{}", build.display()),
            "-l:libhdf5_fake.so.1",
            "-Wl,--enable-new-dtags,-rpath,$ORIGIN/run",
        ],
    );
    // At run time a serial build: same soname and version node, no MPI-IO driver.
    fx.so(
        "run/libhdf5_fake.so.1",
        Some("libhdf5_fake.so.1"),
        "int H5open(void){return 0;}\n",
        &[&script],
    );
    let ldd_r = std::process::Command::new("ldd").arg("-r").arg(&app).output().unwrap();
    let ldd_r = String::from_utf8_lossy(&ldd_r.stderr).to_string() + &String::from_utf8_lossy(&ldd_r.stdout);
    assert!(ldd_r.contains("undefined symbol: H5Pset_fapl_mpio, version H5_FAKE_1.0"), "{ldd_r}");
    let (run, report) = check(&app, &[]);
    assert_eq!(run.code, 1);
    assert_eq!(slugs(&report), ["lib-undefined-symbol"]);
    let f = finding(&report, "lib-undefined-symbol");
    assert_eq!(
        evidence(f, "binary.undefined_symbols"),
        &serde_json::json!([format!("H5Pset_fapl_mpio@H5_FAKE_1.0 (needed by {})", app.display())])
    );
    assert_eq!(
        fix_texts(f)[0],
        "HDF5_MPI=ON CC=mpicc pip install --no-binary=h5py --no-build-isolation h5py"
    );

    // The symbol exists, but under another version node: still undefined, and the version is missing.
    let old = fx.version_script("old.map", "H5_FAKE_0.9 { global: H5open; H5Pset_fapl_mpio; local: *; };\n");
    fx.so("run/libhdf5_fake.so.1", Some("libhdf5_fake.so.1"), parallel, &[&old]);
    let (run, report) = check(&app, &[]);
    assert_eq!(run.code, 1);
    let f = finding(&report, "lib-undefined-symbol");
    let missing = evidence(f, "binary.versions_missing_hdf5_mpi")[0].as_str().unwrap();
    assert!(missing.starts_with("H5_FAKE_1.0 (required by"), "{missing}");
    // With the right build back, nothing is found.
    fx.so("run/libhdf5_fake.so.1", Some("libhdf5_fake.so.1"), parallel, &[&script]);
    let (run, report) = check(&app, &[]);
    assert_eq!((run.code, slugs(&report).len()), (0, 0), "{}", run.stdout);
}

#[test]
fn ld_preload_of_a_second_libhdf5_is_a_duplicate_and_a_version_mismatch() {
    let fx = Fx::new();
    fx.fake_hdf5("h5py.libs/libhdf5-9e18f0c6.so.320.0.0", "libhdf5-9e18f0c6.so.320.0.0", "2.0.0", &[]);
    let module = fx.fake_hdf5("module/libhdf5_openmpi.so.103", "libhdf5_openmpi.so.103", "1.10.8", &[]);
    let libs = fx.path("h5py.libs");
    let ext = fx.so(
        "h5py/defs.so",
        None,
        "int H5open(void); int defs(void){return H5open();}\n",
        &[
            &format!("-L{}", libs.display()),
            "-l:libhdf5-9e18f0c6.so.320.0.0",
            "-Wl,--disable-new-dtags,-rpath,$ORIGIN/../h5py.libs",
        ],
    );
    let (run, report) = check(&ext, &[]);
    assert_eq!((run.code, slugs(&report).len()), (0, 0), "the wheel alone is fine: {}", run.stdout);
    let env = [("LD_PRELOAD", module.to_str().unwrap())];
    let truth = ldd(&ext, &env);
    assert!(
        truth.contains_key(module.to_str().unwrap()) && truth.contains_key("libhdf5-9e18f0c6.so.320.0.0"),
        "{truth:?}"
    );
    let (run, report) = check(&ext, &env);
    assert_eq!(run.code, 1);
    assert_eq!(slugs(&report), ["lib-duplicate-hdf5", "hdf5-version-mismatch"]);
    let dup = finding(&report, "lib-duplicate-hdf5");
    let libs = evidence(dup, "binary.hdf5_libraries").as_array().unwrap();
    assert_eq!(libs.len(), 2);
    assert_eq!(libs[0], format!("{} (HDF5 1.10.8, LD_PRELOAD)", module.display()));
    assert_eq!(fix_texts(dup)[0], "unset LD_PRELOAD");
    let mismatch = finding(&report, "hdf5-version-mismatch");
    assert_eq!(
        mismatch["title"],
        format!(
            "{} was built for HDF5 2.0.0 ({}/libhdf5-9e18f0c6.so.320.0.0) but runs with 1.10.8 ({})",
            ext.display(),
            fx.path("h5py/../h5py.libs").display(),
            module.display()
        )
    );
    assert_eq!(fix_texts(mismatch), ["unset LD_PRELOAD", "export HDF5_DISABLE_VERSION_CHECK=1"]);
    assert_eq!(mismatch["fixes"][1]["safety"], "unsafe");
}

#[test]
fn ld_library_path_before_runpath_gives_another_hdf5_release() {
    let fx = Fx::new();
    fx.fake_hdf5("hdf5-1.10.5/lib/libhdf5.so.103", "libhdf5.so.103", "1.10.5", &[]);
    fx.fake_hdf5("hdf5-1.10.8/lib/libhdf5.so.103", "libhdf5.so.103", "1.10.8", &[]);
    let built = fx.path("hdf5-1.10.5/lib");
    let app = fx.so(
        "app.so",
        None,
        "int H5open(void); int app(void){return H5open();}\n",
        &[
            &format!("-L{}", built.display()),
            "-l:libhdf5.so.103",
            &format!("-Wl,--enable-new-dtags,-rpath,{}", built.display()),
        ],
    );
    let (run, report) = check(&app, &[]);
    assert_eq!((run.code, slugs(&report).len()), (0, 0), "{}", run.stdout);
    let other = fx.path("hdf5-1.10.8/lib");
    let env = [("LD_LIBRARY_PATH", other.to_str().unwrap())];
    assert_eq!(
        ldd(&app, &env)["libhdf5.so.103"].as_deref(),
        Some(other.join("libhdf5.so.103").to_str().unwrap())
    );
    let (run, report) = check(&app, &env);
    assert_eq!(run.code, 1);
    assert_eq!(slugs(&report), ["hdf5-version-mismatch"]);
    let f = finding(&report, "hdf5-version-mismatch");
    let why = evidence(f, "binary.hdf5_mismatch")[0].as_str().unwrap();
    assert!(why.contains("built for 1.10.5 runs 1.10.8"), "{why}");
    assert!(why.contains("LD_LIBRARY_PATH found"), "{why}");
}

#[test]
fn two_mpi_families_in_one_closure_are_an_abi_mix() {
    let fx = Fx::new();
    fx.so(
        "mpich/libmpich.so.12",
        Some("libmpich.so.12"),
        "int MPI_Init(int *c, char ***v){return 0;} int MPIR_Err_return_comm(void){return 0;}\n",
        &[],
    );
    let mpich = fx.path("mpich");
    // Debian's parallel HDF5 links Open MPI's libmpi.so.40; this program also links MPICH.
    let app = fx.so(
        "app.so",
        None,
        "int H5open(void); int MPI_Init(int*, char***); int app(void){return H5open() + MPI_Init(0, 0);}\n",
        &[
            "/usr/lib/x86_64-linux-gnu/libhdf5_openmpi.so.103",
            &format!("-L{}", mpich.display()),
            "-l:libmpich.so.12",
            "-Wl,--enable-new-dtags,-rpath,$ORIGIN/mpich",
        ],
    );
    let truth = ldd(&app, &[]);
    assert!(
        truth.contains_key("libmpi.so.40") && truth.contains_key("libmpich.so.12"),
        "{truth:?}"
    );
    let (run, report) = check(&app, &[]);
    assert_eq!(run.code, 1, "{}", run.stdout);
    assert_eq!(slugs(&report), ["mpi-abi-mix"]);
    let f = finding(&report, "mpi-abi-mix");
    assert_eq!(f["title"], format!("{} loads two MPI libraries: mpich,openmpi", app.display()));
    // No loaded module brings the second MPI (its RPATH does): the plain advice; tests/module_fixes.rs has
    // the `module unload` line for a module that brings it.
    assert!(
        fix_texts(f)[0].starts_with("Use one MPI family for everything in the process"),
        "{:?}",
        fix_texts(f)
    );
}

#[test]
fn a_glibc_version_this_node_lacks_is_lib_glibc_too_old() {
    let fx = Fx::new();
    // Link against a stand-in libc.so.6 that defines GLIBC_2.99, as a newer distribution would.
    let script = fx.version_script("stub/libc.map", "GLIBC_2.99 { global: h5doctor_future_call; local: *; };\n");
    let stub = fx.so(
        "stub/libc.so.6",
        Some("libc.so.6"),
        "int h5doctor_future_call(void){return 0;}\n",
        &["-nostdlib", &script],
    );
    let app = fx.so(
        "app.so",
        None,
        "int h5doctor_future_call(void); int app(void){return h5doctor_future_call();}\n",
        &["-nostdlib", stub.to_str().unwrap()],
    );
    std::fs::remove_dir_all(fx.path("stub")).unwrap();
    let out = std::process::Command::new("ldd").arg(&app).output().unwrap();
    let text = String::from_utf8_lossy(&out.stderr).to_string() + &String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("version `GLIBC_2.99' not found"),
        "glibc's loader says so too: {text}"
    );
    let (run, report) = check(&app, &[]);
    assert_eq!(run.code, 1);
    assert_eq!(slugs(&report), ["lib-glibc-too-old"]);
    let f = finding(&report, "lib-glibc-too-old");
    let system = report["facts"]["libraries"]["glibc"].as_str().unwrap().to_string();
    assert!(system.starts_with("2."), "{system}");
    assert_eq!(
        f["title"],
        format!("{} needs a newer glibc than this node's {system}", app.display())
    );
    assert_eq!(evidence(f, "binary.glibc_required"), "2.99");
    assert_eq!(fix_texts(f)[0], format!("build the program on (or for) this node's glibc {system}"));
}

#[test]
fn a_healthy_binary_and_the_inventory() {
    let (run, report) = check(Path::new("/usr/lib/x86_64-linux-gnu/libhdf5_serial.so.103"), &[]);
    assert_eq!(run.code, 0, "{}", run.stdout);
    assert!(slugs(&report).is_empty());
    let inv = report["facts"]["libraries"]["inventory"].as_array().unwrap();
    let serial = inv
        .iter()
        .find(|l| l["soname"] == "libhdf5_serial.so.103")
        .expect("Debian's serial HDF5 is visible");
    assert_eq!(serial["hdf5_version"], "1.10.8");
    assert_eq!(serial["flavour"], "serial");
    assert_eq!(serial["parallel"], false);
    assert_eq!(serial["hdf5_series"], "HDF5 1.10.3-1.10.11");
    assert!(serial["visible_via"].as_array().unwrap().contains(&"ld.so.cache".into()));
    let b = &report["facts"]["libraries"]["binaries"][0];
    assert_eq!(b["hdf5_libraries"][0]["version"], "1.10.8");
    assert!(b["objects"].as_u64().unwrap() > 10);
}

#[test]
fn a_binary_that_is_not_elf_is_inconclusive_and_a_missing_one_a_usage_error() {
    let fx = Fx::new();
    let text = fx.path("script.sh");
    std::fs::write(&text, "#!/bin/sh\necho hi\n").unwrap();
    let (run, report) = check(&text, &[]);
    assert_eq!(run.code, 0);
    assert_eq!(report["inconclusive"][0]["group"], "libraries");
    assert!(
        report["inconclusive"][0]["reason"].as_str().unwrap().contains("not an ELF file"),
        "{report:#}"
    );
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_h5doctor"))
        .args(["check", "--binary", "/nonexistent/app"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        String::from_utf8_lossy(&out.stderr).trim(),
        "h5doctor: --binary /nonexistent/app: no such file"
    );
}
