//! The typed vocabulary as a site-rule author meets it: a value outside a fact's closed set is an error
//! with file:line:col and a "did you mean" (instead of a rule that never fires, or always fires under
//! `not_equals`), every invalid rule file is reported at once, and errors keep their cause.

mod common;

use common::{tempdir, H5doctor, Run};
use std::path::Path;

const RULE: &str = r#"id = "SITE001"
slug = "site-create"
group = "hdf5"
scope = "dir"
severity = "warning"
title = "{dir.path}"
[when]
all = [{ fact = "dir.hdf5_create", equals = "failed" }]
[explain]
what = "w"
why = "y"
example = "e"
[[fix]]
kind = "admin"
text = "t"
safety = "safe"
"#;

fn rules_with(files: &[(&str, String)]) -> (tempfile::TempDir, Run) {
    let dir = tempdir();
    for (name, text) in files {
        std::fs::write(dir.path().join(name), text).unwrap();
    }
    let run = H5doctor::new(&["rules", "--rules", dir.path().to_str().unwrap()]).run();
    (dir, run)
}

fn at(dir: &Path, name: &str, line: usize, col: usize) -> String {
    format!("{}:{line}:{col}:", dir.join(name).display())
}

#[test]
fn a_value_outside_a_facts_closed_set_is_an_error_with_a_suggestion() {
    let (dir, run) = rules_with(&[("bad.toml", RULE.replace("equals = \"failed\"", "equals = \"faild\""))]);
    assert_eq!(run.code, 2, "{}", run.stdout);
    assert!(run.stderr.contains(&at(dir.path(), "bad.toml", 8, 45)), "{}", run.stderr);
    assert!(
        run.stderr
            .contains("`dir.hdf5_create` is never \"faild\" (did you mean \"failed\"? its values are: ok, failed)"),
        "{}",
        run.stderr
    );
}

/// The closed sets that were text fields before round 3 (h5py layout, Python environment kind, quota kind,
/// MPI family of a binary's libraries), rounds 4 and 5 (locking effect, module MPI family and system, HDF5
/// linking, the MPI-IO test's filtered writes): a value outside them is refused, under `contains` too.
#[test]
fn the_newer_closed_sets_refuse_values_they_never_take() {
    let interpreter = |when: &str| {
        RULE.replace("{ fact = \"dir.hdf5_create\", equals = \"failed\" }", when)
            .replace("scope = \"dir\"", "scope = \"interpreter\"")
            .replace("group = \"hdf5\"", "group = \"python\"")
            .replace("{dir.path}", "{python.interpreter}")
    };
    let cases = [
        (
            "layout.toml",
            interpreter("{ fact = \"python.h5py_layout\", equals = \"wheels\" }"),
            8,
            48,
            "`python.h5py_layout` is never \"wheels\" (did you mean \"wheel\"? its values are: wheel, debian, conda, source)",
        ),
        (
            "kind.toml",
            interpreter("{ fact = \"python.kind\", not_equals = \"virtualenv\" }"),
            8,
            45,
            "`python.kind` is never \"virtualenv\"",
        ),
        (
            "quota.toml",
            RULE.replace(
                "{ fact = \"dir.hdf5_create\", equals = \"failed\" }",
                "{ fact = \"dir.quota_exhausted_kinds\", contains = \"grup\" }",
            ),
            8,
            57,
            "`dir.quota_exhausted_kinds` never contains \"grup\" (did you mean \"group\"? its values are: user, group, project)",
        ),
        (
            "effect.toml",
            RULE.replace(
                "{ fact = \"dir.hdf5_create\", equals = \"failed\" }",
                "{ fact = \"hdf5.locking_env_effect\", equals = \"best_effort\" }",
            ),
            8,
            53,
            "`hdf5.locking_env_effect` is never \"best_effort\" (did you mean \"best-effort\"? its values are: unset, disables-locking, enforces-locking, best-effort, not-recognised, not-read-by-this-version, no-locking-in-this-version)",
        ),
        (
            "module_mpi.toml",
            RULE.replace(
                "{ fact = \"dir.hdf5_create\", equals = \"failed\" }",
                "{ fact = \"modules.loaded_mpi_family\", equals = \"open-mpi\" }",
            ),
            8,
            55,
            "`modules.loaded_mpi_family` is never \"open-mpi\" (did you mean \"openmpi\"? its values are: openmpi, mpich, cray-mpich, hpcx, mpt, unknown)",
        ),
        (
            "launcher_mpi.toml",
            interpreter("{ fact = \"python.launcher_mpi_family\", equals = \"open-mpi\" }"),
            8,
            56,
            "`python.launcher_mpi_family` is never \"open-mpi\" (did you mean \"openmpi\"? its values are: openmpi, mpich, none)",
        ),
        (
            "h5py_mpi.toml",
            interpreter("{ fact = \"python.h5py_mpi_family\", equals = \"cray_mpich\" }"),
            8,
            52,
            "`python.h5py_mpi_family` is never \"cray_mpich\" (did you mean \"cray-mpich\"? its values are: openmpi, mpich, cray-mpich, unknown)",
        ),
        (
            "module_system.toml",
            RULE.replace(
                "{ fact = \"dir.hdf5_create\", equals = \"failed\" }",
                "{ fact = \"modules.system\", equals = \"environment_modules\" }",
            ),
            8,
            44,
            // The value facts hold before the probe runs ("") is not among the values.
            "`modules.system` is never \"environment_modules\" (did you mean \"environment-modules\"? its values are: lmod, environment-modules, unknown, none)",
        ),
        (
            "linking.toml",
            RULE.replace(
                "{ fact = \"dir.hdf5_create\", equals = \"failed\" }",
                "{ fact = \"hdf5.linking\", equals = \"shard\" }",
            ),
            8,
            42,
            "`hdf5.linking` is never \"shard\" (did you mean \"shared\"? its values are: shared, static)",
        ),
        (
            "filtered_write.toml",
            RULE.replace(
                "{ fact = \"dir.hdf5_create\", equals = \"failed\" }",
                "{ fact = \"mpi.filtered_write\", not_equals = \"not_available\" }",
            ),
            8,
            52,
            "`mpi.filtered_write` is never \"not_available\" (did you mean \"not-available\"? its values are: ok, failed, not-available)",
        ),
        (
            "filtered_independent.toml",
            RULE.replace(
                "{ fact = \"dir.hdf5_create\", equals = \"failed\" }",
                "{ fact = \"mpi.filtered_independent\", in = [\"ok\", \"refuse\"] }",
            ),
            8,
            57,
            "`mpi.filtered_independent` is never \"refuse\" (did you mean \"refused\"? its values are: ok, refused)",
        ),
        (
            "polluted_by.toml",
            interpreter("{ fact = \"python.polluted_by\", contains = \"user_site\" }"),
            8,
            50,
            "`python.polluted_by` never contains \"user_site\" (did you mean \"user-site\"? its values are: interpreter, PYTHONPATH, user-site, cwd, added)",
        ),
    ];
    for (name, text, line, col, message) in cases {
        let (dir, run) = rules_with(&[(name, text)]);
        assert_eq!(run.code, 2, "{name}: {}", run.stdout);
        assert!(run.stderr.contains(&at(dir.path(), name, line, col)), "{name}: {}", run.stderr);
        assert!(run.stderr.contains(message), "{name}: {}", run.stderr);
    }
    // Values of the sets load, and `contains` on a text fact with a closed set takes a part of a value.
    let good = [
        interpreter("{ fact = \"python.h5py_layout\", equals = \"debian\" }"),
        RULE.replace(
            "{ fact = \"dir.hdf5_create\", equals = \"failed\" }",
            "{ fact = \"dir.quota_exhausted_kinds\", contains = \"project\" }",
        ),
        RULE.replace(
            "{ fact = \"dir.hdf5_create\", equals = \"failed\" }",
            "{ fact = \"hdf5.locking_env_effect\", equals = \"not-recognised\" }",
        ),
        RULE.replace(
            "{ fact = \"dir.hdf5_create\", equals = \"failed\" }",
            "{ fact = \"modules.loaded_mpi_family\", in = [\"hpcx\", \"mpt\"] }",
        ),
        RULE.replace(
            "{ fact = \"dir.hdf5_create\", equals = \"failed\" }",
            "{ fact = \"modules.system\", not_equals = \"none\" }",
        ),
        RULE.replace(
            "{ fact = \"dir.hdf5_create\", equals = \"failed\" }",
            "{ fact = \"hdf5.linking\", equals = \"static\" }",
        ),
        RULE.replace(
            "{ fact = \"dir.hdf5_create\", equals = \"failed\" }",
            "{ fact = \"mpi.filtered_write\", in = [\"failed\", \"not-available\"] }",
        ),
        RULE.replace(
            "{ fact = \"dir.hdf5_create\", equals = \"failed\" }",
            "{ fact = \"mpi.filtered_independent\", equals = \"refused\" }",
        ),
        interpreter("{ fact = \"python.polluted_by\", contains = \"PYTHONPATH\" }"),
    ];
    for text in good {
        let (_dir, run) = rules_with(&[("good.toml", text)]);
        assert_eq!(run.code, 0, "{}", run.stderr);
    }
}

#[test]
fn a_typo_under_not_equals_and_in_is_caught_too() {
    let not_equals = RULE.replace(
        "{ fact = \"dir.hdf5_create\", equals = \"failed\" }",
        "{ fact = \"env.hdf5_locking_mode\", not_equals = \"disable\" }",
    );
    let (dir, run) = rules_with(&[("ne.toml", not_equals)]);
    assert_eq!(run.code, 2);
    assert!(run.stderr.contains(&at(dir.path(), "ne.toml", 8, 55)), "{}", run.stderr);
    assert!(run.stderr.contains("did you mean \"disabled\"?"), "{}", run.stderr);
    let one_of = RULE
        .replace(
            "{ fact = \"dir.hdf5_create\", equals = \"failed\" }",
            "{ fact = \"file.format\", in = [\"text\", \"netcdf\"] }",
        )
        .replace("scope = \"dir\"", "scope = \"file\"")
        .replace("{dir.path}", "{file.path}");
    let (_dir, run) = rules_with(&[("in.toml", one_of)]);
    assert_eq!(run.code, 2);
    assert!(
        run.stderr.contains("`file.format` is never \"netcdf\" (did you mean \"netcdf3\"?"),
        "{}",
        run.stderr
    );
    // A value in the set loads, and an open fact (a file system type) takes any value.
    let good = RULE.replace(
        "{ fact = \"dir.hdf5_create\", equals = \"failed\" }",
        "{ fact = \"dir.fs_type\", equals = \"beegfs\" }",
    );
    let (_dir, run) = rules_with(&[
        ("good.toml", good),
        (
            "good2.toml",
            RULE.replace("SITE001", "SITE002").replace("site-create", "site-create-2"),
        ),
    ]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(run.stdout.contains("site-create-2"), "{}", run.stdout);
}

#[test]
fn every_invalid_rule_file_and_every_error_in_a_file_is_reported() {
    let two_errors = RULE
        .replace("group = \"hdf5\"", "group = \"hdf\"")
        .replace("equals = \"failed\"", "equals = \"faild\"");
    let unknown_fact = RULE
        .replace("SITE001", "SITE002")
        .replace("site-create", "site-other")
        .replace("dir.hdf5_create", "dir.hdf5_creat");
    let (dir, run) = rules_with(&[("a.toml", two_errors), ("b.toml", unknown_fact)]);
    assert_eq!(run.code, 2);
    assert!(run.stderr.contains("3 errors:"), "{}", run.stderr);
    let a_group = run.stderr.find(&at(dir.path(), "a.toml", 3, 9)).expect(&run.stderr);
    let a_value = run.stderr.find(&at(dir.path(), "a.toml", 8, 45)).expect(&run.stderr);
    let b_fact = run.stderr.find(&at(dir.path(), "b.toml", 8, 17)).expect(&run.stderr);
    assert!(a_group < a_value && a_value < b_fact, "in file order: {}", run.stderr);
    assert!(run.stderr.contains("unknown group \"hdf\""), "{}", run.stderr);
    assert!(run.stderr.contains("did you mean `dir.hdf5_create`?"), "{}", run.stderr);
}

#[test]
fn errors_keep_their_cause() {
    let run = H5doctor::new(&["check", "--facts", "/nonexistent/node.json"]).run();
    assert_eq!(run.code, 2);
    assert!(
        run.stderr
            .contains("cannot read facts file /nonexistent/node.json: No such file or directory"),
        "{}",
        run.stderr
    );
}

/// A module pin names a capability (round 7 made the capabilities an enum): a misspelt one is refused at
/// its key's file:line:col with a "did you mean", and a pin with a known capability loads beside a rule.
#[test]
fn a_module_pin_with_a_misspelt_capability_is_refused_with_a_suggestion() {
    let pins = "# this site's parallel HDF5\n[modules]\nmpi = \"openmpi/4.1.4\"\nhdf5_parallel = \"hdf5/1.14.3-openmpi\"\n";
    let (dir, run) = rules_with(&[("pins.toml", pins.to_string())]);
    assert_eq!(run.code, 2, "{}", run.stdout);
    assert!(run.stderr.contains(&at(dir.path(), "pins.toml", 4, 1)), "{}", run.stderr);
    assert!(
        run.stderr.contains(
            "unknown capability \"hdf5_parallel\" (did you mean \"hdf5-parallel\"? known: hdf5-serial, hdf5-parallel, mpi, python, h5py, h5py-parallel, mpi4py)"
        ),
        "{}",
        run.stderr
    );
    let (_dir, run) = rules_with(&[
        ("pins.toml", pins.replace("hdf5_parallel", "hdf5-parallel")),
        ("rule.toml", RULE.to_string()),
    ]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(run.stdout.contains("site-create"), "{}", run.stdout);
}

/// The closed sets made enums in round 7 that a rule can compare: Debian's h5py build (`python.h5py_build`,
/// serial or mpi) refuses a value it never takes, at its file:line:col with a "did you mean", and loads a
/// value it takes.
#[test]
fn the_debian_h5py_build_refuses_a_misspelt_build() {
    let rule = |when: &str| {
        RULE.replace("{ fact = \"dir.hdf5_create\", equals = \"failed\" }", when)
            .replace("scope = \"dir\"", "scope = \"interpreter\"")
            .replace("group = \"hdf5\"", "group = \"python\"")
            .replace("{dir.path}", "{python.interpreter}")
    };
    let text = rule("{ fact = \"python.h5py_build\", equals = \"mpio\" }");
    let col = text.lines().nth(7).unwrap().find("\"mpio\"").unwrap() + 1;
    let (dir, run) = rules_with(&[("build.toml", text)]);
    assert_eq!(run.code, 2, "{}", run.stdout);
    assert!(run.stderr.contains(&at(dir.path(), "build.toml", 8, col)), "{}", run.stderr);
    assert!(
        run.stderr
            .contains("`python.h5py_build` is never \"mpio\" (did you mean \"mpi\"? its values are: serial, mpi)"),
        "{}",
        run.stderr
    );
    let (_dir, run) = rules_with(&[("build.toml", rule("{ fact = \"python.h5py_build\", equals = \"mpi\" }"))]);
    assert_eq!(run.code, 0, "{}", run.stderr);
}

/// The closed sets of round 8: the file drivers (the probe's driver tables: `hdf5.drivers`, and the list
/// facts `dir.hdf5_drivers_failed`/`_ok` under `contains`) and the step that stopped `mpio-test --python`
/// (`mpi.python_failed_step`). On main before round 8 each of these rules loaded and never fired.
#[test]
fn the_file_drivers_and_the_python_steps_refuse_values_they_never_take() {
    let drivers = "sec2, stdio, core, family, split, multi, log, direct, splitter, onion, mpio, ros3, hdfs, mirror, subfiling";
    let cases = [
        (
            "{ fact = \"dir.hdf5_drivers_failed\", contains = \"sec_2\" }",
            "\"sec_2\"",
            format!("`dir.hdf5_drivers_failed` never contains \"sec_2\" (did you mean \"sec2\"? its values are: {drivers})"),
        ),
        (
            "{ fact = \"dir.hdf5_drivers_ok\", contains = \"stido\" }",
            "\"stido\"",
            format!("`dir.hdf5_drivers_ok` never contains \"stido\" (did you mean \"stdio\"? its values are: {drivers})"),
        ),
        (
            "{ fact = \"hdf5.drivers\", contains = \"mpi-io\" }",
            "\"mpi-io\"",
            format!("`hdf5.drivers` never contains \"mpi-io\" (did you mean \"mpio\"? its values are: {drivers})"),
        ),
        (
            "{ fact = \"mpi.python_failed_step\", equals = \"import mpi4pi\" }",
            "\"import mpi4pi\"",
            "`mpi.python_failed_step` is never \"import mpi4pi\" (did you mean \"import mpi4py\"? its values are: import numpy, \
             import h5py, import mpi4py, from mpi4py import MPI, h5py.File(driver='mpio'), MPI_Init)"
                .to_string(),
        ),
    ];
    for (when, value, message) in &cases {
        let text = RULE.replace("{ fact = \"dir.hdf5_create\", equals = \"failed\" }", when);
        let col = text.lines().nth(7).unwrap().find(value).unwrap() + 1;
        let (dir, run) = rules_with(&[("bad.toml", text)]);
        assert_eq!(run.code, 2, "{when}: {}", run.stdout);
        assert!(run.stderr.contains(&at(dir.path(), "bad.toml", 8, col)), "{when}: {}", run.stderr);
        assert!(run.stderr.contains(message.as_str()), "{when}: {}", run.stderr);
    }
    // The values the facts take still load.
    for when in [
        "{ fact = \"dir.hdf5_drivers_failed\", contains = \"sec2\" }",
        "{ fact = \"hdf5.drivers\", contains = \"mpio\" }",
        "{ fact = \"mpi.python_failed_step\", in = [\"import mpi4py\", \"h5py.File(driver='mpio')\"] }",
    ] {
        let (_dir, run) = rules_with(&[(
            "good.toml",
            RULE.replace("{ fact = \"dir.hdf5_create\", equals = \"failed\" }", when),
        )]);
        assert_eq!(run.code, 0, "{when}: {}", run.stderr);
    }
}

/// A rule author learns a closed set before writing the rule: `h5doctor facts --list` shows each fact's
/// values beside its meaning, spelt as rules name them, and none for a fact without a closed set.
#[test]
fn facts_list_shows_the_values_a_rule_may_name() {
    let run = H5doctor::new(&["facts", "--list"]).run();
    assert_eq!(run.code, 0, "{}", run.stderr);
    let line = |name: &str| {
        run.stdout
            .lines()
            .find(|l| l.split_whitespace().next() == Some(name))
            .unwrap_or_else(|| panic!("no line for {name} in:\n{}", run.stdout))
            .to_string()
    };
    assert!(
        line("dir.hdf5_create").ends_with(" Values: ok, failed."),
        "{}",
        line("dir.hdf5_create")
    );
    assert!(
        line("python.h5py_build").ends_with(" Values: serial, mpi."),
        "{}",
        line("python.h5py_build")
    );
    assert!(!line("dir.path").contains("Values:"), "{}", line("dir.path"));
}
