//! Every HDF5 a site runs, each as a real library: Debian's 1.10.8 (shared, the default probe), 1.14.5
//! (shared) and 2.2.0 (static, linked into the probe) — the last two built from the source in
//! hdf5-metno-src by `scripts/dev.sh hdf5-matrix`. Each probe reports its library as HDF5 itself answers
//! (version, linking, drivers, locking defaults, how it reads HDF5_USE_FILE_LOCKING), and files written by
//! each version are read by the file doctor of every other. (The locking, drivers × modes and file-doctor
//! tests run once per probe as well: scripts/dev.sh sets H5DOCTOR_TEST_PROBE for them.)

mod common;
use common::*;
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Command;

/// (HDF5 version, linking, probe) for Debian's HDF5 and every HDF5 of the matrix.
fn probes() -> Vec<(String, &'static str, PathBuf)> {
    let mut all = vec![("1.10.8".to_string(), "shared", bin("h5doctor-probe"))];
    for (version, name) in HDF5_MATRIX {
        let linking = if name.ends_with("-static") { "static" } else { "shared" };
        all.push((version.to_string(), linking, matrix_probe(name)));
    }
    all
}

fn probe_version(probe: &Path, locking_env: Option<&str>) -> Value {
    let mut cmd = Command::new(probe);
    cmd.arg("version").env_remove("HDF5_USE_FILE_LOCKING");
    if let Some(v) = locking_env {
        cmd.env("HDF5_USE_FILE_LOCKING", v);
    }
    let out = cmd.output().expect("the probe runs");
    assert!(
        out.status.success(),
        "{}: {}",
        probe.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice::<Value>(&out.stdout).expect("JSON")["library"].clone()
}

#[test]
fn each_probe_reports_its_hdf5_as_the_library_itself_answers() {
    // On the target dir's disk: the direct driver needs a file system that takes O_DIRECT (tmpfs does not).
    let dir = tempfile::Builder::new()
        .prefix("h5doctor-test-")
        .tempdir_in(env!("CARGO_TARGET_TMPDIR"))
        .unwrap();
    for (version, linking, probe) in probes() {
        let run = check_dir(dir.path(), None, &[]).env("H5DOCTOR_PROBE", &probe).run();
        assert_eq!(run.code, 0, "{version}: {}", run.stdout);
        let report = run.json();
        let lib = &report["facts"]["hdf5"]["library"];
        assert_eq!(lib["version"], version.as_str());
        assert_eq!(lib["linking"], linking, "{version}");
        if linking == "static" {
            assert!(lib["path"].is_null(), "{version}: {lib:#}");
            assert_eq!(lib["linked_into"], probe.canonicalize().unwrap().to_str().unwrap(), "{version}");
        } else {
            assert!(lib["path"].as_str().unwrap().contains("libhdf5"), "{version}: {lib:#}");
        }
        let drivers = lib["drivers"].as_array().unwrap();
        for name in round_trip_drivers(&version) {
            let d = drivers
                .iter()
                .find(|d| d["name"] == name)
                .unwrap_or_else(|| panic!("{version}: no {name}"));
            assert_eq!(d["available"], true, "{version}: {d}");
            assert!(
                d["how"].as_str().unwrap().starts_with(&format!("H5Pset_fapl_{name} succeeded")),
                "{d}"
            );
            if version != "1.10.8" {
                assert!(d["how"].as_str().unwrap().contains("H5FDis_driver_registered_by_name"), "{d}");
            }
        }
        if version == "1.10.8" {
            let onion = drivers.iter().find(|d| d["name"] == "onion").unwrap();
            assert_eq!(onion["available"], false, "{onion}");
            assert_eq!(onion["how"], "not in this version: HDF5 has it from 1.14.0");
        }
        let mpio = drivers.iter().find(|d| d["name"] == "mpio").unwrap();
        assert_eq!(mpio["available"], false, "serial builds: {mpio}");
        assert_eq!(lib["default_locking"], serde_json::json!([true, true]), "{version}");
        // The drivers × modes matrix ran every local driver of the round trip, and all passed.
        let m = &report["facts"]["dirs"][0]["hdf5"]["matrix"];
        let tested: Vec<&str> = m["drivers"]
            .as_array()
            .unwrap()
            .iter()
            .map(|d| d["driver"].as_str().unwrap())
            .collect();
        assert_eq!(tested, round_trip_drivers(&version), "{version}");
        assert!(m["drivers"].as_array().unwrap().iter().all(|d| d["ok"] == true), "{version}: {m:#}");
        // Each driver's files, side files included, were on disk after its round trip (and are gone now).
        let files = |name: &str| m["drivers"].as_array().unwrap().iter().find(|d| d["driver"] == name).unwrap()["files_on_disk"].clone();
        assert_eq!(files("log"), 2, "{version}: the file and its log");
        assert_eq!(files("splitter"), 2, "{version}: the file and its write-only copy");
        if version != "1.10.8" {
            assert_eq!(files("onion"), 2, "{version}: the file and its .onion history");
        }

        // What the user reads.
        let human = H5doctor::new(&[
            "check",
            "--no-default-dirs",
            "--no-default-pythons",
            "--dir",
            dir.path().to_str().unwrap(),
        ])
        .env("H5DOCTOR_PROBE", &probe)
        .run();
        let line = human
            .stdout
            .lines()
            .find(|l| l.contains("✓ hdf5"))
            .unwrap_or_else(|| panic!("{}", human.stdout));
        assert!(line.contains(&format!("HDF5 {version} serial")), "{line}");
        if linking == "static" {
            assert!(
                line.contains(&format!("statically linked into {}", probe.canonicalize().unwrap().display())),
                "{line}"
            );
        }
        assert!(
            line.contains(&format!(
                "drivers {} and open modes r r+ w w-/x a: all pass",
                round_trip_drivers(&version).join(" ")
            )),
            "{line}"
        );
    }
    assert_no_leftovers(dir.path());
}

#[test]
fn each_version_reads_hdf5_use_file_locking_by_its_own_rules() {
    for (version, _, probe) in probes() {
        let extended = ["FALSE", "0", "TRUE", "1", "BEST_EFFORT"];
        for (value, effect) in [
            (None, "unset"),
            (Some("FALSE"), "disables-locking"),
            (Some("false"), "not-recognised"),
            (Some("BEST_EFFORT"), "best-effort"),
            (Some("TRUE"), "enforces-locking"),
        ] {
            let lib = probe_version(&probe, value);
            assert_eq!(lib["locking_env"]["accepted"], serde_json::json!(extended), "{version}");
            assert_eq!(lib["locking_env"]["effect"], effect, "{version} {value:?}");
            assert_eq!(lib["env_use_file_locking"], serde_json::json!(value), "{version}");
        }
        let read_at = &probe_version(&probe, None)["locking_env"]["read_at"];
        // 1.10.8 (tag hdf5-1_10_8), 1.14.5 and 2.2.0 read it once, in H5F__init_package.
        assert_eq!(read_at, "library-initialisation", "{version}");
    }
}

/// What h5doctor's file doctor says about one file when run with one probe.
fn read_with(file: &Path, probe: &Path) -> (i32, Value) {
    let run = H5doctor::new(&["check", "--json", file.to_str().unwrap()])
        .env("H5DOCTOR_PROBE", probe)
        .run();
    (run.code, run.json())
}

#[test]
fn files_written_by_each_version_are_read_by_the_file_doctor_of_every_other() {
    let dir = tempdir();
    let all = probes();
    for (writer_version, _, writer) in &all {
        for (bound, superblock) in [("earliest", 0), ("latest", 3)] {
            let file = dir.path().join(format!("written-by-{writer_version}-{bound}.h5"));
            let out = Command::new(writer)
                .args(["sample", file.to_str().unwrap(), bound])
                .output()
                .unwrap();
            let answer: Value = serde_json::from_slice(&out.stdout).expect("JSON");
            assert_eq!(answer["creates"][0]["ok"], true, "{writer_version} {bound}: {answer:#}");
            let before = FileSnapshot::take(&file);
            for (reader_version, _, reader) in &all {
                let (code, report) = read_with(&file, reader);
                let facts = &report["facts"]["files"][0];
                let what = format!("{writer_version} {bound} read by {reader_version}");
                assert_eq!(facts["format"], "hdf5", "{what}");
                assert_eq!(facts["superblock"]["version"], superblock, "{what}: {facts:#}");
                assert_eq!(facts["hdf5"]["open"]["ok"], true, "{what}: {facts:#}");
                assert_eq!(facts["hdf5"]["datasets"], 1, "{what}");
                assert_eq!(report["facts"]["hdf5"]["library"]["version"], reader_version.as_str(), "{what}");
                assert_eq!(slugs(&report), Vec::<String>::new(), "{what}");
                assert_eq!(code, 0, "{what}");
                before.assert_unchanged(&file);
            }
        }
    }
}

/// An Lmod tree whose hdf5 modules point at the installs of the matrix: 1.10.8 (Debian's serial HDF5),
/// 1.14.5 (shared) and 2.2.0 (static only, as Cray's wrappers link: the module sets HDF5_DIR and
/// LIBRARY_PATH, no LD_LIBRARY_PATH).
fn hdf5_module_tree(root: &Path) {
    let cache = Path::new(&std::env::var("HOME").unwrap()).join(".cache/h5doctor-tests");
    let shared = cache.join("hdf5-1.14.5-shared");
    let static_ = cache.join("hdf5-2.2.0-static");
    for install in [&shared, &static_] {
        assert!(
            install.join("lib/libhdf5.settings").is_file(),
            "{} is missing: run `scripts/dev.sh hdf5-matrix`",
            install.display()
        );
    }
    let module = |prefix: &Path, lib_var: &str| {
        format!(
            "-- -*- lua -*-\nwhatis(\"HDF5 library\")\nfamily(\"hdf5\")\nsetenv(\"HDF5_DIR\", \"{p}\")\nprepend_path(\"{lib_var}\", \"{p}/lib\")\n",
            p = prefix.display()
        )
    };
    modules::write_tree(
        root,
        &[
            (
                "hdf5/1.10.8.lua",
                module(Path::new("/usr/lib/x86_64-linux-gnu/hdf5/serial"), "LD_LIBRARY_PATH"),
            ),
            ("hdf5/1.14.5.lua", module(&shared, "LD_LIBRARY_PATH")),
            ("hdf5/2.2.0.lua", module(&static_, "LIBRARY_PATH")),
        ],
    );
}

/// `check --only modules --only hdf5` in a clean bash with Lmod, after `setup` (a `module load`).
fn check_after(tree: &Path, dir: &Path, setup: &str, human: bool) -> String {
    let format = if human { "" } else { "--json" };
    let (code, stdout, stderr) = modules::lmod(
        tree.to_str().unwrap(),
        &format!(
            "{setup}\n\"$H5DOCTOR\" check {format} --no-default-dirs --no-default-pythons --only modules --only hdf5 --dir {}",
            dir.display()
        ),
    );
    assert_eq!(code, 0, "{setup}: {stdout}\n{stderr}");
    stdout
}

#[test]
fn loading_an_hdf5_module_makes_check_run_the_probe_named_for_that_hdf5() {
    modules::require_lmod();
    let tree = tempdir();
    hdf5_module_tree(tree.path());
    let dir = tempdir();
    let probes_dir = bin("h5doctor").parent().unwrap().join("probes");
    let cases = [
        // (module, version the report must give, probe picked, by)
        ("hdf5/1.14.5", "1.14.5", matrix_probe("h5doctor-probe-1.14.5-serial"), "module"),
        ("hdf5/2.2.0", "2.2.0", matrix_probe("h5doctor-probe-2.2.0-serial-static"), "module"),
        // No probe is named for 1.10.8: the default one, which is built against Debian's 1.10.8.
        ("hdf5/1.10.8", "1.10.8", bin("h5doctor-probe"), "default"),
    ];
    for (module, version, probe, by) in cases {
        let report: Value =
            serde_json::from_str(&check_after(tree.path(), dir.path(), &format!("module load {module}"), false)).expect("JSON report");
        let hdf5 = &report["facts"]["hdf5"];
        assert_eq!(hdf5["library"]["version"], version, "{module}: {hdf5:#}");
        assert_eq!(hdf5["probe_path"], probe.to_str().unwrap(), "{module}");
        let choice = &hdf5["probe_choice"];
        assert_eq!(choice["by"], by, "{module}: {choice:#}");
        assert_eq!(choice["wanted"]["version"], version, "{module}: {choice:#}");
        assert_eq!(choice["wanted"]["source"], format!("module {module}"), "{module}: {choice:#}");
        let human = check_after(tree.path(), dir.path(), &format!("module load {module}"), true);
        let line = human.lines().find(|l| l.contains("✓ hdf5")).unwrap_or_else(|| panic!("{human}"));
        assert!(line.contains(&format!("HDF5 {version} serial")), "{line}");
        let expected_why = match module {
            "hdf5/1.14.5" => {
                "; probe h5doctor-probe-1.14.5-serial: matches the module hdf5/1.14.5 (HDF5 1.14.5 serial, shared)".to_string()
            }
            "hdf5/2.2.0" => {
                "; probe h5doctor-probe-2.2.0-serial-static: matches the module hdf5/2.2.0 (HDF5 2.2.0 serial, static)".to_string()
            }
            _ => format!(
                "; probe h5doctor-probe: the default probe: no probe named for the module hdf5/1.10.8 (HDF5 1.10.8 serial, shared) in {}",
                probes_dir.display()
            ),
        };
        assert!(line.contains(&expected_why), "{module}: {line}");
    }

    // H5DOCTOR_PROBE still wins over the loaded module.
    let explicit = bin("h5doctor-probe");
    let report: Value = serde_json::from_str(&check_after(
        tree.path(),
        dir.path(),
        &format!("module load hdf5/1.14.5\nexport H5DOCTOR_PROBE={}", explicit.display()),
        false,
    ))
    .unwrap();
    let hdf5 = &report["facts"]["hdf5"];
    assert_eq!(hdf5["probe_choice"]["by"], "H5DOCTOR_PROBE", "{hdf5:#}");
    assert_eq!(hdf5["probe_choice"]["wanted"]["version"], "1.14.5", "{hdf5:#}");
    assert_eq!(hdf5["library"]["version"], "1.10.8", "{hdf5:#}");

    // No module, but LD_LIBRARY_PATH resolves HDF5 1.14.5: the probe named for it.
    let lib = Path::new(&std::env::var("HOME").unwrap()).join(".cache/h5doctor-tests/hdf5-1.14.5-shared/lib");
    let report: Value = serde_json::from_str(&check_after(
        tree.path(),
        dir.path(),
        &format!("export LD_LIBRARY_PATH={}", lib.display()),
        false,
    ))
    .unwrap();
    let hdf5 = &report["facts"]["hdf5"];
    assert_eq!(hdf5["probe_choice"]["by"], "environment", "{hdf5:#}");
    assert_eq!(
        hdf5["probe_choice"]["wanted"]["source"],
        format!("LD_LIBRARY_PATH {}", lib.join("libhdf5.so").display()),
        "{hdf5:#}"
    );
    assert_eq!(hdf5["library"]["version"], "1.14.5", "{hdf5:#}");
    assert_no_leftovers(dir.path());
}

/// The direct driver (in the 2.2.0 build of the matrix) runs its round trip where O_DIRECT works (the
/// target dir's disk), and where the file system refuses O_DIRECT (EINVAL, injected the way tmpfs before
/// Linux 6.6 answers) it is not run and says why, without a finding.
#[test]
fn the_direct_driver_runs_where_o_direct_works_and_is_not_applicable_where_it_is_refused() {
    let probe = matrix_probe("h5doctor-probe-2.2.0-serial-static");
    let dir = tempfile::Builder::new()
        .prefix("h5doctor-test-")
        .tempdir_in(env!("CARGO_TARGET_TMPDIR"))
        .unwrap();
    let direct_of = |report: &Value| {
        report["facts"]["dirs"][0]["hdf5"]["matrix"]["drivers"]
            .as_array()
            .unwrap()
            .iter()
            .find(|d| d["driver"] == "direct")
            .cloned()
            .unwrap_or_else(|| panic!("no direct driver in {report:#}"))
    };
    let run = check_dir(dir.path(), None, &["--only", "hdf5"]).env("H5DOCTOR_PROBE", &probe).run();
    assert_eq!(run.code, 0, "{}", run.stdout);
    let direct = direct_of(&run.json());
    assert_eq!(direct["ok"], true, "{direct:#}");
    assert_eq!(direct["files_on_disk"], 1, "{direct:#}");
    assert!(direct["not_applicable"].is_null(), "{direct:#}");

    let refused = check_dir(dir.path(), Some(("--open-direct", libc::EINVAL)), &["--only", "hdf5"])
        .env("H5DOCTOR_PROBE", &probe)
        .run();
    assert_eq!(refused.code, 0, "{}", refused.stdout);
    let report = refused.json();
    assert!(slugs(&report).is_empty(), "{report:#}");
    let direct = direct_of(&report);
    assert_eq!(direct["ok"], false, "{direct:#}");
    assert_eq!(
        direct["not_applicable"],
        "this file system refuses O_DIRECT (EINVAL; tmpfs before Linux 6.6 does): it runs only where direct I/O works"
    );
    let human = H5doctor::injected(
        Some(("--open-direct", libc::EINVAL)),
        &[
            "check",
            "--no-default-dirs",
            "--no-default-pythons",
            "--only",
            "hdf5",
            "--dir",
            dir.path().to_str().unwrap(),
        ],
    )
    .env("H5DOCTOR_PROBE", &probe)
    .run();
    assert!(
        human
            .stdout
            .contains("drivers sec2 stdio core family split multi log splitter onion (direct not run: this file system refuses O_DIRECT"),
        "{}",
        human.stdout
    );
    assert_no_leftovers(dir.path());
}
