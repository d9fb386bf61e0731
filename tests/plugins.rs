//! HDF5_PLUGIN_PATH and filter plugins with real plugin libraries compiled by the test: one linked against
//! the Open MPI flavour of libhdf5 while the probe uses the serial one (plugin-abi), one linked against the
//! library in use (fine), a file that is no library, a plugin whose constructor crashes, and directories
//! that do not exist.

mod common;
use common::plugin::PLUGIN_C;
use common::*;
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Command;

const SERIAL: &str = "/usr/lib/x86_64-linux-gnu/libhdf5_serial.so.103";
const OPENMPI: &str = "/usr/lib/x86_64-linux-gnu/libhdf5_openmpi.so.103";

/// Compiles the test plugin into `dir/name`, linked against `libhdf5` (a path), with extra cc flags.
fn build_plugin(dir: &Path, name: &str, libhdf5: &str, flags: &[&str]) -> PathBuf {
    let src = dir.join(format!("{name}.c"));
    std::fs::write(&src, PLUGIN_C).unwrap();
    let out = dir.join(name);
    let status = Command::new("cc")
        .args(["-shared", "-fPIC", "-o"])
        .arg(&out)
        .args(flags)
        .arg(&src)
        .args(["-Wl,--no-as-needed", libhdf5])
        .status()
        .expect("cc runs (build-essential is in scripts/dev.sh)");
    assert!(status.success(), "cc failed for {name}");
    std::fs::remove_file(src).unwrap();
    out
}

fn check_plugins(plugin_path: &str) -> Run {
    H5doctor::new(&["check", "--json", "--only", "plugins"])
        .env("HDF5_PLUGIN_PATH", plugin_path)
        .run()
}

fn dir_facts<'a>(report: &'a Value, path: &Path) -> &'a Value {
    report["facts"]["plugins"]["dirs"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["path"] == path.to_str().unwrap())
        .unwrap_or_else(|| panic!("{} not in {report:#}", path.display()))
}

#[test]
fn a_plugin_linked_against_another_libhdf5_is_plugin_abi() {
    let plugins = tempdir();
    build_plugin(plugins.path(), "libh5mpi_built.so", OPENMPI, &[]);
    let run = check_plugins(plugins.path().to_str().unwrap());
    assert_eq!(run.code, 1, "{}{}", run.stdout, run.stderr);
    let report = run.json();
    assert_eq!(slugs(&report), ["plugin-abi"], "{report:#}");
    let f = finding(&report, "plugin-abi");
    assert_eq!(f["id"], "H5D603");
    assert_eq!(
        f["title"],
        format!(
            "Plugins in {} are linked against another HDF5 library than the one in use (libhdf5_serial.so.103)",
            plugins.path().display()
        )
    );
    let foreign = f["evidence"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["fact"] == "plugin_dir.foreign_hdf5_plugins")
        .unwrap();
    assert_eq!(
        foreign["value"],
        serde_json::json!(["libh5mpi_built.so needs libhdf5_openmpi.so.103"])
    );
    assert_eq!(
        f["fixes"][0]["text"],
        "Rebuild the plugins against the HDF5 in use (/usr/lib/x86_64-linux-gnu/libhdf5_serial.so.103.3.1)"
    );
    // The probe child loaded it anyway (pulling in the second libhdf5) and read its filter.
    let lib = &dir_facts(&report, plugins.path())["plugins"][0];
    assert_eq!(lib["load"]["filter_id"], 257);
    assert_eq!(lib["load"]["filter_name"], "h5doctor test filter");
}

#[test]
fn a_plugin_linked_against_the_libhdf5_in_use_is_fine_and_listed_with_its_filter() {
    let plugins = tempdir();
    build_plugin(plugins.path(), "libh5serial_built.so", SERIAL, &[]);
    let run = check_plugins(plugins.path().to_str().unwrap());
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    let report = run.json();
    assert!(slugs(&report).is_empty(), "{report:#}");
    let d = dir_facts(&report, plugins.path());
    assert_eq!(d["searched"], true);
    assert_eq!(d["plugins"][0]["needs_hdf5"], serde_json::json!(["libhdf5_serial.so.103"]));
    let default = report["facts"]["plugins"]["dirs"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["source"] == "default")
        .expect("the library's default directory is listed too");
    assert_eq!(default["searched"], false, "HDF5 ignores its default while HDF5_PLUGIN_PATH is set");
    let human = H5doctor::new(&["check", "--only", "plugins"])
        .env("HDF5_PLUGIN_PATH", plugins.path())
        .run();
    assert!(
        human.stdout.contains(&format!(
            "✓ plugins   HDF5_PLUGIN_PATH: {} (1 plugin(s), filters 257)",
            plugins.path().display()
        )),
        "{}",
        human.stdout
    );
    assert!(
        human.stdout.contains("not searched while HDF5_PLUGIN_PATH is set"),
        "{}",
        human.stdout
    );
}

#[test]
fn libraries_that_do_not_load_are_a_warning_and_a_crashing_one_does_not_stop_the_report() {
    let plugins = tempdir();
    std::fs::write(plugins.path().join("libnot_elf.so"), "this is not a library\n").unwrap();
    build_plugin(plugins.path(), "libh5crash.so", SERIAL, &["-DCRASH"]);
    build_plugin(plugins.path(), "libh5ok.so", SERIAL, &[]);
    let run = check_plugins(plugins.path().to_str().unwrap());
    assert_eq!(run.code, 0, "a warning alone exits 0: {}{}", run.stdout, run.stderr);
    let report = run.json();
    assert_eq!(slugs(&report), ["plugin-load-failed"], "{report:#}");
    let f = finding(&report, "plugin-load-failed");
    assert_eq!(f["severity"], "warning");
    assert_eq!(f["fixes"][0]["text"], format!("ldd {}/lib*.so*", plugins.path().display()));
    let failures = f["evidence"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["fact"] == "plugin_dir.load_failures")
        .unwrap()["value"]
        .clone();
    let failures: Vec<&str> = failures.as_array().unwrap().iter().map(|v| v.as_str().unwrap()).collect();
    assert_eq!(failures.len(), 2, "{failures:?}");
    assert_eq!(failures[0], "libh5crash.so: loading it killed the process (signal 11)");
    assert!(failures[1].starts_with("libnot_elf.so: "), "{failures:?}");
    let ok = dir_facts(&report, plugins.path())["plugins"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["file"].as_str().unwrap().ends_with("libh5ok.so"))
        .unwrap()
        .clone();
    assert_eq!(ok["load"]["filter_id"], 257, "the plugin after the crash is still loaded: {ok}");
    let strict = H5doctor::new(&["check", "--json", "--only", "plugins", "--strict"])
        .env("HDF5_PLUGIN_PATH", plugins.path())
        .run();
    assert_eq!(strict.code, 1);
}

#[test]
fn hdf5_plugin_path_naming_only_a_missing_directory_is_plugin_dir_missing() {
    let dir = tempdir();
    let missing = dir.path().join("plugins-were-here");
    let run = check_plugins(missing.to_str().unwrap());
    assert_eq!(run.code, 1, "{}{}", run.stdout, run.stderr);
    let report = run.json();
    assert_eq!(slugs(&report), ["plugin-dir-missing"], "{report:#}");
    let f = finding(&report, "plugin-dir-missing");
    assert_eq!(f["id"], "H5D602");
    assert_eq!(
        f["title"],
        format!("HDF5_PLUGIN_PATH names {}, which does not exist", missing.display())
    );
    assert_eq!(f["fixes"].as_array().unwrap().len(), 1);
    assert_eq!(f["fixes"][0]["text"], "unset HDF5_PLUGIN_PATH");
    let human = H5doctor::new(&["check", "--only", "plugins"])
        .env("HDF5_PLUGIN_PATH", &missing)
        .run();
    assert_eq!(human.code, 1);
    assert!(human.stdout.contains("✗ error H5D602 plugin-dir-missing"), "{}", human.stdout);
    assert!(human.stdout.contains("fix (env): unset HDF5_PLUGIN_PATH"), "{}", human.stdout);
}

#[test]
fn a_file_in_hdf5_plugin_path_and_an_unreadable_directory_are_plugin_dir_missing_too() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempdir();
    let file = dir.path().join("plugins.txt");
    std::fs::write(&file, "not a directory").unwrap();
    let closed = dir.path().join("closed");
    std::fs::create_dir(&closed).unwrap();
    std::fs::set_permissions(&closed, std::fs::Permissions::from_mode(0o000)).unwrap();
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let value = format!("{}:{}", file.display(), closed.display());
    let run = H5doctor::as_nobody_if_root(&["check", "--json", "--only", "plugins"])
        .env("HDF5_PLUGIN_PATH", &value)
        .run();
    assert_eq!(run.code, 1, "{}{}", run.stdout, run.stderr);
    let report = run.json();
    let titles: Vec<&str> = report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["title"].as_str().unwrap())
        .collect();
    assert_eq!(
        titles,
        [
            format!("HDF5_PLUGIN_PATH names {}, which is not a directory", file.display()),
            format!(
                "HDF5_PLUGIN_PATH names {}, which cannot be read: Permission denied (EACCES)",
                closed.display()
            ),
        ]
    );
}

#[test]
fn a_probe_that_hung_in_the_hdf5_group_is_not_run_again_for_plugins() {
    use std::os::unix::fs::PermissionsExt;
    let tools = tempdir();
    let target = tempdir();
    let log = tools.path().join("calls.log");
    let script = tools.path().join("hanging-probe");
    std::fs::write(&script, format!("#!/bin/sh\necho \"$1\" >> '{}'\nexec sleep 60\n", log.display())).unwrap();
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    let run = check_dir(target.path(), None, &["--timeout", "1"])
        .env("H5DOCTOR_PROBE", &script)
        .env("HDF5_PLUGIN_PATH", target.path())
        .run();
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    assert_eq!(
        std::fs::read_to_string(&log).unwrap(),
        "create\n",
        "one run of the probe, one timeout"
    );
    let report = run.json();
    let reason = report["facts"]["plugins"]["reason"].as_str().unwrap();
    assert!(
        reason.starts_with("h5doctor-probe did not work in the hdf5 group: h5doctor-probe timed out after 1 s"),
        "{reason}"
    );
    assert_eq!(
        dir_facts(&report, target.path())["exists"],
        true,
        "the directory checks need no probe"
    );
    assert_no_leftovers(target.path());
}

/// With HDF5_PLUGIN_PATH unset the plugins probe would run in the HDF5 probe's own environment, so the HDF5
/// probe's `create` run gives the plugins report too (one HDF5 process start fewer per check); the report is
/// the one `h5doctor-probe plugins` gives. With it set, `plugins` still runs on its own (it must run with
/// the variable removed and its directories passed).
#[test]
fn without_hdf5_plugin_path_the_create_run_of_the_probe_gives_the_plugins_report() {
    use std::os::unix::fs::PermissionsExt;
    let real = probe_under_test().unwrap_or_else(|| bin("h5doctor-probe"));
    let tools = tempdir();
    let target = tempdir();
    let log = tools.path().join("calls.log");
    let script = tools.path().join("counting-probe");
    std::fs::write(
        &script,
        format!("#!/bin/sh\necho \"$1\" >> '{}'\nexec '{}' \"$@\"\n", log.display(), real.display()),
    )
    .unwrap();
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    let run = check_dir(target.path(), None, &["--only", "hdf5", "--only", "plugins"])
        .env("H5DOCTOR_PROBE", &script)
        .run();
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    assert_eq!(std::fs::read_to_string(&log).unwrap(), "create\n", "one probe run for both groups");
    let report = run.json();
    let plugins = &report["facts"]["plugins"];
    assert_eq!(plugins["status"], "ok", "{plugins:#}");
    assert_eq!(plugins["hdf5_library_path"], report["facts"]["hdf5"]["library"]["path"]);
    // What the probe's own `plugins` run reports, directory for directory.
    let direct = Command::new(&real).arg("plugins").output().unwrap();
    let direct: Value = serde_json::from_slice(&direct.stdout).unwrap();
    let listed = |dirs: &Value| -> Vec<(Value, Value, Value)> {
        dirs.as_array()
            .unwrap()
            .iter()
            .map(|d| (d["path"].clone(), d["source"].clone(), d["exists"].clone()))
            .collect()
    };
    assert_eq!(listed(&plugins["dirs"]), listed(&direct["plugins"]["dirs"]));
    assert!(!listed(&plugins["dirs"]).is_empty(), "the library's default directory is listed");
    assert!(plugins["dirs"].as_array().unwrap().iter().all(|d| d["searched"] == true));
    assert_no_leftovers(target.path());

    // HDF5_PLUGIN_PATH set: the plugins probe runs on its own, as before.
    std::fs::remove_file(&log).unwrap();
    let run = check_dir(target.path(), None, &["--only", "hdf5", "--only", "plugins"])
        .env("H5DOCTOR_PROBE", &script)
        .env("HDF5_PLUGIN_PATH", tools.path())
        .run();
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    assert_eq!(std::fs::read_to_string(&log).unwrap(), "create\nplugins\n");
    assert_eq!(dir_facts(&run.json(), tools.path())["searched"], true);
    assert_no_leftovers(target.path());
}
