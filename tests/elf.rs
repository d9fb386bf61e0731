//! h5doctor's ELF resolver against glibc's own loader on real shared objects built here: DT_NEEDED,
//! RPATH (and its inheritance), RUNPATH, $ORIGIN, LD_LIBRARY_PATH, a missing dependency, LD_PRELOAD.
//! Each case compares `h5doctor ldd` with `ldd`, and checks the provenance h5doctor reports.

mod elf_fixtures;
use elf_fixtures::*;

const LEAF: &str = "int leaf(void) { return 1; }\n";

#[test]
fn needed_rpath_runpath_and_origin_match_ldd_with_provenance() {
    let fx = Fx::new();
    fx.so("lib/libleaf.so", Some("libleaf.so"), LEAF, &[]);
    // libmid finds libleaf through its own RUNPATH $ORIGIN.
    let lib = fx.path("lib");
    let lib = lib.to_str().unwrap();
    fx.so(
        "lib/libmid.so",
        Some("libmid.so"),
        "int leaf(void); int mid(void) { return leaf(); }\n",
        &[&format!("-L{lib}"), "-lleaf", "-Wl,--enable-new-dtags,-rpath,$ORIGIN"],
    );
    // The program finds libmid through its RPATH $ORIGIN/lib.
    let app = fx.so(
        "app.so",
        None,
        "int mid(void); int app(void) { return mid(); }\n",
        &[&format!("-L{lib}"), "-lmid", "-Wl,--disable-new-dtags,-rpath,$ORIGIN/lib"],
    );
    let (code, json) = assert_agrees(&app, &[]);
    assert_eq!(code, 0);
    let mid = object(&json, "libmid.so");
    assert_eq!(mid["how"]["kind"], "rpath");
    assert_eq!(mid["how"]["depth"], 0);
    assert_eq!(mid["entry"], "$ORIGIN/lib");
    let leaf = object(&json, "libleaf.so");
    assert_eq!(leaf["how"]["kind"], "runpath", "{leaf:#}");
    assert!(leaf["how"]["of"].as_str().unwrap().ends_with("/lib/libmid.so"));
    assert!(leaf["path"].as_str().unwrap().ends_with("/lib/libleaf.so"));
}

#[test]
fn rpath_is_inherited_by_dependencies_unless_they_have_runpath() {
    let fx = Fx::new();
    fx.so("deps/libleaf.so", Some("libleaf.so"), LEAF, &[]);
    let deps = fx.path("deps");
    let deps = deps.to_str().unwrap();
    // No search path of its own: finds libleaf through the program's RPATH ("rpath of 1 up").
    fx.so(
        "deps/libplain.so",
        Some("libplain.so"),
        "int leaf(void); int f(void){return leaf();}\n",
        &[&format!("-L{deps}"), "-lleaf"],
    );
    // A RUNPATH that does not hold libleaf switches the inherited RPATH off: libleaf is not found.
    fx.so(
        "deps/librun.so",
        Some("librun.so"),
        "int leaf(void); int g(void){return leaf();}\n",
        &[
            &format!("-L{deps}"),
            "-lleaf",
            "-Wl,--enable-new-dtags,-rpath,/nonexistent/h5doctor",
        ],
    );
    let rpath = format!("-Wl,--disable-new-dtags,-rpath,{deps}");
    let inherits = fx.so(
        "inherits.so",
        None,
        "int f(void); int h(void){return f();}\n",
        &[&format!("-L{deps}"), "-lplain", &rpath],
    );
    let (code, json) = assert_agrees(&inherits, &[]);
    assert_eq!(code, 0);
    let leaf = object(&json, "libleaf.so");
    assert_eq!(leaf["how"]["kind"], "rpath");
    assert_eq!(leaf["how"]["depth"], 1, "found through the RPATH of the object one up: {leaf:#}");
    assert!(leaf["how"]["of"].as_str().unwrap().ends_with("inherits.so"));

    let blocked = fx.so(
        "blocked.so",
        None,
        "int g(void); int h(void){return g();}\n",
        &[&format!("-L{deps}"), "-lrun", &rpath],
    );
    let (code, json) = assert_agrees(&blocked, &[]);
    assert_eq!(code, 1, "a missing library is exit 1");
    let missing = &json["missing"][0];
    assert_eq!(missing["name"], "libleaf.so");
    let sources: Vec<&str> = missing["searched"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["source"].as_str().unwrap())
        .collect();
    assert_eq!(sources[0], "DT_RPATH", "{missing:#}");
    assert!(missing["searched"][0]["result"]
        .as_str()
        .unwrap()
        .contains("has DT_RUNPATH, which disables DT_RPATH"));
}

#[test]
fn search_order_rpath_then_ld_library_path_then_runpath() {
    let fx = Fx::new();
    fx.so("a/libleaf.so", Some("libleaf.so"), LEAF, &[]);
    fx.so("b/libleaf.so", Some("libleaf.so"), LEAF, &[]);
    let (a, b) = (fx.path("a"), fx.path("b"));
    let (a, b) = (a.to_str().unwrap(), b.to_str().unwrap());
    let with_rpath = fx.so(
        "rp.so",
        None,
        "int leaf(void); int x(void){return leaf();}\n",
        &[&format!("-L{a}"), "-lleaf", &format!("-Wl,--disable-new-dtags,-rpath,{a}")],
    );
    let with_runpath = fx.so(
        "rn.so",
        None,
        "int leaf(void); int y(void){return leaf();}\n",
        &[&format!("-L{a}"), "-lleaf", &format!("-Wl,--enable-new-dtags,-rpath,{a}")],
    );
    let env = [("LD_LIBRARY_PATH", b)];
    let (_, json) = assert_agrees(&with_rpath, &env);
    assert_eq!(object(&json, "libleaf.so")["how"]["kind"], "rpath", "RPATH beats LD_LIBRARY_PATH");
    let (_, json) = assert_agrees(&with_runpath, &env);
    let leaf = object(&json, "libleaf.so");
    assert_eq!(leaf["how"]["kind"], "ld-library-path", "LD_LIBRARY_PATH beats RUNPATH");
    assert!(leaf["path"].as_str().unwrap().starts_with(b));
    let (_, json) = assert_agrees(&with_runpath, &[]);
    assert_eq!(object(&json, "libleaf.so")["how"]["kind"], "runpath");
}

#[test]
fn a_missing_dependency_lists_every_place_looked_in_order() {
    let fx = Fx::new();
    fx.so("stub/libnope_h5doctor.so.1", Some("libnope_h5doctor.so.1"), LEAF, &[]);
    let stub = fx.path("stub");
    let app = fx.so(
        "bin/app.so",
        None,
        "int leaf(void); int main2(void){return leaf();}\n",
        &[
            &format!("-L{}", stub.display()),
            "-l:libnope_h5doctor.so.1",
            "-Wl,--enable-new-dtags,-rpath,$ORIGIN/../lib",
        ],
    );
    std::fs::remove_dir_all(&stub).unwrap();
    let (code, json) = assert_agrees(&app, &[]);
    assert_eq!(code, 1);
    let m = &json["missing"][0];
    assert_eq!(m["name"], "libnope_h5doctor.so.1");
    let lines: Vec<String> = m["searched"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| {
            format!(
                "{} | {} | {}",
                a["path"].as_str().unwrap_or("-"),
                a["source"].as_str().unwrap(),
                a["result"].as_str().unwrap()
            )
        })
        .collect();
    let origin = fx.path("bin");
    assert_eq!(lines[0], "- | LD_LIBRARY_PATH | not set");
    assert_eq!(
        lines[1],
        format!(
            "{}/../lib/libnope_h5doctor.so.1 | DT_RUNPATH of {} | not found",
            origin.display(),
            app.display()
        )
    );
    assert_eq!(lines[2], "- | /etc/ld.so.cache | no entry");
    assert!(
        lines[3].starts_with("/lib/x86_64-linux-gnu/libnope_h5doctor.so.1 | default directory | not found"),
        "{lines:#?}"
    );
    assert_eq!(lines.len(), 7, "four default directories: {lines:#?}");

    // The human tree says the same.
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_h5doctor"))
        .args(["ldd"])
        .arg(&app)
        .env_remove("LD_LIBRARY_PATH")
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("libnope_h5doctor.so.1 not found"), "{text}");
    assert!(text.contains("paths considered, in this order:"), "{text}");
    assert!(text.contains("1. LD_LIBRARY_PATH: not set"), "{text}");
}

#[test]
fn ld_preload_of_a_second_libhdf5_is_in_the_closure_like_ldd_says() {
    let fx = Fx::new();
    fx.fake_hdf5("wheel/libhdf5-abc12345.so.320", "libhdf5-abc12345.so.320", "2.0.0", &[]);
    let pre = fx.fake_hdf5("module/libhdf5_openmpi_fake.so.103", "libhdf5_openmpi_fake.so.103", "1.10.8", &[]);
    let wheel = fx.path("wheel");
    let ext = fx.so(
        "ext.so",
        None,
        "int H5open(void); int ext(void){return H5open();}\n",
        &[
            &format!("-L{}", wheel.display()),
            "-l:libhdf5-abc12345.so.320",
            "-Wl,--disable-new-dtags,-rpath,$ORIGIN/wheel",
        ],
    );
    let env = [("LD_PRELOAD", pre.to_str().unwrap())];
    let (code, json) = assert_agrees(&ext, &env);
    assert_eq!(code, 0);
    assert_eq!(json["preloads"][0]["result"], "loaded");
    let p = object(&json, pre.to_str().unwrap());
    assert_eq!(p["how"]["kind"], "preload");
    assert_eq!(p["how"]["from"], "LD_PRELOAD");
    assert_eq!(object(&json, "libhdf5-abc12345.so.320")["how"]["kind"], "rpath");
}

#[test]
fn flat_output_and_many_files_in_one_call() {
    let libz = "/lib/x86_64-linux-gnu/libz.so.1";
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_h5doctor"))
        .args(["ldd", "--flat", libz, "/lib/x86_64-linux-gnu/libm.so.6", "/nonexistent/libx.so"])
        .env_remove("LD_LIBRARY_PATH")
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("/lib/x86_64-linux-gnu/libz.so.1:\n\tld-linux-x86-64.so.2 => /lib64/ld-linux-x86-64.so.2\n\tlibc.so.6 => /lib/x86_64-linux-gnu/libc.so.6\n"), "{text}");
    assert!(
        text.contains("/nonexistent/libx.so:\n\terror: /nonexistent/libx.so: no such file"),
        "{text}"
    );
    assert_eq!(out.status.code(), Some(1), "a file that cannot be read makes the run exit 1");
}

/// What glibc's loader on this node says about itself: `ld.so --list-diagnostics` as key -> value.
fn loader_diagnostics() -> std::collections::BTreeMap<String, String> {
    let out = std::process::Command::new("/lib64/ld-linux-x86-64.so.2")
        .arg("--list-diagnostics")
        .output()
        .expect("the loader runs");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.to_string(), v.trim_matches('"').to_string()))
        .collect()
}

#[test]
fn platform_in_runpath_expands_to_what_the_loader_says_on_this_cpu() {
    let fx = Fx::new();
    let diag = loader_diagnostics();
    let platform = diag["dl_platform"].clone();
    // One copy per $PLATFORM glibc may give on x86-64 (AMD and Intel), plus this node's.
    for p in ["x86_64", "haswell", "xeon_phi", platform.as_str()] {
        fx.so(&format!("plat/{p}/libplat.so"), Some("libplat.so"), LEAF, &[]);
    }
    let plat = fx.path("plat/x86_64");
    let app = fx.so(
        "app.so",
        None,
        "int leaf(void); int app(void){return leaf();}\n",
        &[
            &format!("-L{}", plat.display()),
            "-lplat",
            "-Wl,--enable-new-dtags,-rpath,$ORIGIN/plat/$PLATFORM",
        ],
    );
    let (code, json) = assert_agrees(&app, &[]);
    assert_eq!(code, 0);
    let lib = object(&json, "libplat.so");
    assert_eq!(lib["entry"], "$ORIGIN/plat/$PLATFORM");
    assert_eq!(
        lib["path"],
        fx.path(&format!("plat/{platform}/libplat.so")).to_str().unwrap(),
        "$PLATFORM is the loader's dl_platform ({platform}), not a guess from the CPU's features"
    );
}

#[test]
fn a_library_only_in_a_legacy_hwcap_subdirectory_is_found_where_the_loader_finds_it() {
    let fx = Fx::new();
    fx.so("build/libleg.so", Some("libleg.so"), LEAF, &[]);
    let build = fx.path("build");
    let app = fx.so(
        "app.so",
        None,
        "int leaf(void); int app(void){return leaf();}\n",
        &[
            &format!("-L{}", build.display()),
            "-lleg",
            "-Wl,--enable-new-dtags,-rpath,$ORIGIN/lib",
        ],
    );
    // Only in lib/x86_64/ (glibc 2.36 searches <dir>/x86_64/ and <dir>/tls/ after glibc-hwcaps).
    fx.so("lib/x86_64/libleg.so", Some("libleg.so"), LEAF, &[]);
    let (code, json) = assert_agrees(&app, &[]);
    assert_eq!(code, 0, "{json:#}");
    let lib = object(&json, "libleg.so");
    assert_eq!(lib["hwcap_subdir"], "x86_64");
    // A copy in the directory itself and one in tls/: the loader takes tls/ first.
    fx.so("lib/libleg.so", Some("libleg.so"), LEAF, &[]);
    fx.so("lib/tls/libleg.so", Some("libleg.so"), LEAF, &[]);
    let (_, json) = assert_agrees(&app, &[]);
    assert_eq!(object(&json, "libleg.so")["hwcap_subdir"], "tls");
    fx.so("lib/tls/x86_64/libleg.so", Some("libleg.so"), LEAF, &[]);
    let (_, json) = assert_agrees(&app, &[]);
    assert_eq!(object(&json, "libleg.so")["hwcap_subdir"], "tls/x86_64");

    // Missing everywhere: h5doctor tries, in order, exactly the files the loader tries in the
    // directories that exist (LD_DEBUG=libs prints every attempt).
    let missing = fx.so(
        "missing.so",
        None,
        "int leaf(void); int m(void){return leaf();}\n",
        &[
            &format!("-L{}", build.display()),
            "-l:libleg.so",
            "-Wl,--enable-new-dtags,-rpath,$ORIGIN/lib",
        ],
    );
    std::fs::rename(fx.path("lib"), fx.path("lib-away")).unwrap();
    std::fs::create_dir_all(fx.path("lib/tls/x86_64")).unwrap();
    std::fs::create_dir_all(fx.path("lib/x86_64")).unwrap();
    let debug = std::process::Command::new("/lib64/ld-linux-x86-64.so.2")
        .arg("--list")
        .arg(&missing)
        .env("LD_DEBUG", "libs")
        .env_remove("LD_LIBRARY_PATH")
        .output()
        .unwrap();
    let lib_dir = fx.path("lib");
    let tried: Vec<String> = String::from_utf8_lossy(&debug.stderr)
        .lines()
        .filter_map(|l| l.split_once("trying file=").map(|(_, f)| f.to_string()))
        .filter(|f| f.starts_with(lib_dir.to_str().unwrap()) && std::path::Path::new(f).parent().unwrap().is_dir())
        .collect();
    assert!(tried.len() >= 4, "{tried:?}");
    let (code, json) = h5ldd(&missing, &[]);
    assert_eq!(code, 1);
    let ours: Vec<String> = json["missing"][0]["searched"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|a| a["path"].as_str())
        .filter(|p| p.starts_with(lib_dir.to_str().unwrap()))
        .map(String::from)
        .collect();
    let mut theirs = tried.clone();
    theirs.dedup();
    assert_eq!(ours, theirs, "h5doctor vs LD_DEBUG=libs");
}

#[test]
fn a_replayed_facts_file_resolves_with_the_loader_of_the_node_that_wrote_it() {
    let fx = Fx::new();
    for p in ["x86_64", "haswell"] {
        fx.so(&format!("plat/{p}/libplat.so"), Some("libplat.so"), LEAF, &[]);
    }
    let leg = "int leg(void) { return 2; }\n";
    fx.so("lib/libleg.so", Some("libleg.so"), leg, &[]);
    fx.so("lib/x86_64/libleg.so", Some("libleg.so"), leg, &[]);
    let (plat, lib) = (fx.path("plat/x86_64"), fx.path("lib"));
    let app = fx.so(
        "app.so",
        None,
        "int leaf(void); int leg(void); int app(void){return leaf() + leg();}\n",
        &[
            &format!("-L{}", plat.display()),
            "-l:libplat.so",
            &format!("-L{}", lib.display()),
            "-l:libleg.so",
            "-Wl,--enable-new-dtags,-rpath,$ORIGIN/plat/$PLATFORM:$ORIGIN/lib",
        ],
    );
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_h5doctor"))
        .args(["facts", "--json", "--only", "libraries", "--no-default-dirs"])
        .env_remove("LD_LIBRARY_PATH")
        .output()
        .unwrap();
    let mut facts: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let loader = &facts["libraries"]["loader"];
    let diag = loader_diagnostics();
    assert_eq!(loader["platform"], diag["dl_platform"]);
    let active: Vec<&str> = diag["dl_hwcaps_subdirs"].split(':').collect();
    let mask = u32::from_str_radix(diag["dl_hwcaps_subdirs_active"].trim_start_matches("0x"), 16).unwrap();
    let expected: Vec<&str> = active
        .iter()
        .enumerate()
        .filter(|(i, _)| mask & (1 << i) != 0)
        .map(|(_, d)| *d)
        .collect();
    assert_eq!(loader["hwcaps"], serde_json::json!(expected));
    let replay = |facts: &serde_json::Value| {
        let path = fx.path("node.json");
        std::fs::write(&path, facts.to_string()).unwrap();
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_h5doctor"))
            .args(["ldd", "--json", "--facts"])
            .arg(&path)
            .arg(&app)
            .env_remove("LD_LIBRARY_PATH")
            .output()
            .unwrap();
        let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        libraries(&doc["files"][0])
    };
    // This node's own facts: the same as glibc's ldd here.
    let here = replay(&facts);
    assert_eq!(here, ldd(&app, &[]));
    if loader["legacy_subdirs"].as_array().is_some_and(|l| !l.is_empty()) {
        assert_eq!(
            here["libleg.so"].as_deref(),
            Some(lib.join("x86_64/libleg.so").to_str().unwrap()),
            "glibc <= 2.36"
        );
    }
    // An Intel node with AVX2 and glibc 2.37 (no legacy subdirectories): as that node resolves.
    facts["libraries"]["loader"]["platform"] = "haswell".into();
    facts["libraries"]["loader"]["legacy_subdirs"] = serde_json::json!([]);
    let there = replay(&facts);
    assert_eq!(
        there["libplat.so"].as_deref(),
        Some(fx.path("plat/haswell/libplat.so").to_str().unwrap())
    );
    assert_eq!(there["libleg.so"].as_deref(), Some(lib.join("libleg.so").to_str().unwrap()));
}
