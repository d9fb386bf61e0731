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
