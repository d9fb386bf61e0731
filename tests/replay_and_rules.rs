//! Facts replay (gather on a node, judge at the desk), rule loading and validation with file and line,
//! site rules that add, replace and silence, and the commands that show rules.

mod common;
use common::*;
use std::path::Path;

fn write(dir: &Path, name: &str, text: &str) -> std::path::PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p
}

/// `h5doctor facts --json` for one directory (no default dirs or interpreters), optionally injected.
fn facts_of(dir: &Path, inject: Option<(&str, i32)>) -> Run {
    H5doctor::injected(
        inject,
        &[
            "facts",
            "--json",
            "--no-default-dirs",
            "--no-default-pythons",
            "--dir",
            dir.to_str().unwrap(),
        ],
    )
    .run()
}

#[test]
fn facts_replay_gives_the_same_findings() {
    let dir = tempdir();
    let facts = facts_of(dir.path(), Some(("--flock", 524)));
    assert_eq!(facts.code, 0, "{}", facts.stderr);
    let store = tempdir();
    let file = write(store.path(), "node.json", &facts.stdout);
    let live = check_dir(dir.path(), Some(("--flock", 524)), &[]).run();
    let replay = H5doctor::new(&["check", "--json", "--facts", file.to_str().unwrap()]).run();
    assert_eq!(replay.code, live.code);
    let (live, replay) = (live.json(), replay.json());
    assert_eq!(replay["findings"], live["findings"]);
    assert_eq!(slugs(&replay), ["lock-unsupported"]);
}

#[test]
fn malformed_facts_json_names_file_and_line() {
    let store = tempdir();
    let file = write(
        store.path(),
        "node.json",
        "{\n  \"schema_version\": 1,\n  \"h5doctor_version\": 7\n}\n",
    );
    let run = H5doctor::new(&["check", "--facts", file.to_str().unwrap()]).run();
    assert_eq!(run.code, 2);
    assert!(run.stderr.contains(&format!("{}:3:", file.display())), "{}", run.stderr);
    let missing = H5doctor::new(&["check", "--facts", "/nonexistent/node.json"]).run();
    assert_eq!(missing.code, 2);
    assert!(
        missing.stderr.contains("cannot read facts file /nonexistent/node.json"),
        "{}",
        missing.stderr
    );
}

/// A closed-set fact (an enum field) holding a value this release does not know, in a facts file and in
/// a JSON report: a clear error with the file, line and column and the values it takes, never a panic.
#[test]
fn an_unknown_closed_set_value_names_file_line_and_the_known_values() {
    let store = tempdir();
    for golden in ["mpio-ompio-4ranks.facts.json", "mpio-ompio-4ranks.report.json"] {
        let text = std::fs::read_to_string(format!("tests/fixtures/golden-0.1.0/{golden}")).unwrap();
        let line = 1 + text.lines().position(|l| l.contains("\"io_component\": \"ompio\"")).unwrap();
        let file = write(
            store.path(),
            golden,
            &text.replacen("\"io_component\": \"ompio\"", "\"io_component\": \"lamio\"", 1),
        );
        let run = H5doctor::new(&["check", "--facts", file.to_str().unwrap()]).run();
        assert_eq!(run.code, 2, "{}", run.stderr);
        assert!(run.stderr.contains(&format!("{}:{line}:", file.display())), "{}", run.stderr);
        assert!(
            run.stderr.contains("unknown variant `lamio`, expected `romio` or `ompio`"),
            "{}",
            run.stderr
        );
        assert!(!run.stderr.contains("panicked"), "{}", run.stderr);
    }
}

const GOOD_RULE: &str = r#"id = "SITE001"
slug = "site-home-is-nfs"
group = "locking"
scope = "dir"
severity = "warning"
title = "{dir.path} is on {dir.fs_type}"
[when]
all = [{ fact = "dir.flock_errno", equals = 0 }]
[explain]
what = "w"
why = "y"
example = "e"
[[fix]]
kind = "admin"
text = "write to /scratch instead"
safety = "safe"
"#;

/// Every group inconclusive at once: the report's `inconclusive` list keeps the order it had when the cases
/// lived in one function of the judge (per directory locking then HDF5, then binaries, the HDF5 probe,
/// plugins, files, interpreters, MPI, modules), now that each group's home lists its own. The facts are
/// composed from rule fixtures with every probe set to inconclusive (no real run times out in every group at
/// once); the expected lists were written by main at 7cf2f1a, before the move.
#[test]
fn the_inconclusive_list_keeps_its_order_when_every_group_is_inconclusive() {
    for case in ["hdf5-ok", "hdf5-inconclusive"] {
        let dir = Path::new("tests/fixtures/inconclusive-order");
        let facts = dir.join(format!("{case}.facts.json"));
        let run = H5doctor::new(&["check", "--json", "--facts", facts.to_str().unwrap()]).run();
        assert!(run.code == 0 || run.code == 1, "{case}: {}", run.stderr);
        let expected: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(dir.join(format!("{case}.inconclusive.json"))).unwrap()).unwrap();
        let report = run.json();
        assert_eq!(report["inconclusive"], expected, "{case}");
        // The interleaving that a loop over groups in Group order would lose.
        let groups: Vec<&str> = report["inconclusive"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| i["group"].as_str().unwrap())
            .collect();
        let dirs_then_rest: &[&str] = if case == "hdf5-ok" {
            &[
                "locking",
                "hdf5",
                "hdf5",
                "locking",
                "hdf5",
                "hdf5",
                "libraries",
                "libraries",
                "plugins",
            ]
        } else {
            &["locking", "hdf5", "locking", "hdf5", "libraries", "libraries", "hdf5", "plugins"]
        };
        assert_eq!(&groups[..dirs_then_rest.len()], dirs_then_rest, "{case}");
    }
}

#[test]
fn a_site_rule_adds_a_finding() {
    let rules = tempdir();
    write(rules.path(), "site.toml", GOOD_RULE);
    let dir = tempdir();
    let run = check_dir(dir.path(), None, &[]).env("H5DOCTOR_RULES_PATH", rules.path()).run();
    let report = run.json();
    assert_eq!(slugs(&report), ["site-home-is-nfs"]);
    assert_eq!(
        finding(&report, "site-home-is-nfs")["fixes"][0]["text"],
        "write to /scratch instead"
    );
    assert_eq!(run.code, 0);
}

#[test]
fn an_unknown_fact_is_an_error_with_file_and_line() {
    let rules = tempdir();
    let file = write(rules.path(), "bad.toml", &GOOD_RULE.replace("dir.flock_errno", "dir.flock_ernno"));
    let run = H5doctor::new(&["rules", "--rules", rules.path().to_str().unwrap()]).run();
    assert_eq!(run.code, 2);
    assert!(run.stderr.contains(&format!("{}:8:", file.display())), "{}", run.stderr);
    assert!(
        run.stderr
            .contains("unknown fact `dir.flock_ernno` (did you mean `dir.flock_errno`?"),
        "{}",
        run.stderr
    );
}

#[test]
fn malformed_toml_bad_severity_and_unknown_keys_name_file_and_line() {
    let rules = tempdir();
    let cases = [
        (
            GOOD_RULE.replace("severity = \"warning\"", "severity = \"fatal\""),
            5,
            "unknown variant `fatal`",
        ),
        (GOOD_RULE.replace("[explain]", "[explain\n"), 9, ""),
        (
            GOOD_RULE.replace("safety = \"safe\"", "safety = \"safe\"\nsafty = 1"),
            17,
            "unknown field `safty`",
        ),
        (
            GOOD_RULE.replace("safety = \"safe\"", "safety = \"unsafe\""),
            13,
            "an unsafe fix needs `unsafe_reason`",
        ),
        (GOOD_RULE.replace("{dir.fs_type}", "{dir.fstype}"), 6, "unknown fact `dir.fstype`"),
        (GOOD_RULE.replace("scope = \"dir\"", "scope = \"global\""), 6, "is per directory"),
    ];
    for (text, line, message) in cases {
        let file = write(rules.path(), "bad.toml", &text);
        let run = H5doctor::new(&["rules", "--rules", rules.path().to_str().unwrap()]).run();
        assert_eq!(run.code, 2, "{text}");
        assert!(
            run.stderr.contains(&format!("{}:{line}:", file.display())),
            "expected line {line}: {}",
            run.stderr
        );
        assert!(run.stderr.contains(message), "expected {message:?}: {}", run.stderr);
        assert!(!run.stderr.contains("panicked"));
    }
}

#[test]
fn duplicate_ids_and_slugs_are_errors() {
    let rules = tempdir();
    write(rules.path(), "a.toml", GOOD_RULE);
    write(rules.path(), "b.toml", GOOD_RULE);
    let run = H5doctor::new(&["rules", "--rules", rules.path().to_str().unwrap()]).run();
    assert_eq!(run.code, 2);
    assert!(run.stderr.contains("duplicate rule id SITE001"), "{}", run.stderr);
    std::fs::remove_file(rules.path().join("b.toml")).unwrap();
    write(rules.path(), "b.toml", &GOOD_RULE.replace("SITE001", "SITE002"));
    let run = H5doctor::new(&["rules", "--rules", rules.path().to_str().unwrap()]).run();
    assert_eq!(run.code, 2);
    assert!(run.stderr.contains("duplicate slug site-home-is-nfs"), "{}", run.stderr);
}

#[test]
fn a_site_rule_overrides_a_shipped_one_but_keeps_its_slug() {
    let rules = tempdir();
    let text = GOOD_RULE
        .replace("SITE001", "H5D101")
        .replace("site-home-is-nfs", "lock-unsupported");
    write(rules.path(), "override.toml", &text);
    let run = H5doctor::new(&["rules", "--json", "--rules", rules.path().to_str().unwrap()]).run();
    assert_eq!(run.code, 0, "{}", run.stderr);
    let doc = run.json();
    let r = doc["rules"].as_array().unwrap().iter().find(|r| r["id"] == "H5D101").unwrap();
    assert_eq!(r["severity"], "warning");
    assert!(r["source"].as_str().unwrap().ends_with("override.toml"));
    write(rules.path(), "override.toml", &text.replace("lock-unsupported", "renamed"));
    let run = H5doctor::new(&["rules", "--rules", rules.path().to_str().unwrap()]).run();
    assert_eq!(run.code, 2);
    assert!(run.stderr.contains("slugs never change"), "{}", run.stderr);
}

#[test]
fn a_silence_needs_a_reason_and_removes_the_finding() {
    let rules = tempdir();
    write(rules.path(), "quiet.toml", "silence = \"lock-unsupported\"\nreason = \"\"\n");
    let run = H5doctor::new(&["rules", "--rules", rules.path().to_str().unwrap()]).run();
    assert_eq!(run.code, 2);
    assert!(run.stderr.contains("a silence needs a non-empty `reason`"), "{}", run.stderr);
    write(
        rules.path(),
        "quiet.toml",
        "silence = \"lock-unsupported\"\nreason = \"our DVS mounts set HDF5_USE_FILE_LOCKING in the module\"\n",
    );
    let dir = tempdir();
    let run = check_dir(dir.path(), Some(("--flock", 524)), &["--rules", rules.path().to_str().unwrap()]).run();
    assert_eq!(run.code, 0);
    assert!(slugs(&run.json()).is_empty());
    let listing = H5doctor::new(&["rules", "--rules", rules.path().to_str().unwrap()]).run();
    assert!(listing.stdout.contains("silenced lock-unsupported"), "{}", listing.stdout);
    assert!(listing.stdout.contains("our DVS mounts"), "{}", listing.stdout);
}

#[test]
fn rules_lists_every_catalog_slug_of_this_release_and_explain_shows_sections() {
    let run = H5doctor::new(&["rules"]).run();
    assert_eq!(run.code, 0);
    for slug in [
        "lock-unsupported",
        "lock-disabled",
        "lock-nfs-nolck",
        "lock-env-ignored",
        "lock-local-only",
        "probe-unavailable",
    ] {
        assert!(run.stdout.contains(slug), "{slug} missing from:\n{}", run.stdout);
    }
    let explain = H5doctor::new(&["explain", "H5D101"]).run();
    assert_eq!(explain.code, 0);
    for heading in [
        "## What it means",
        "## Why it breaks",
        "## Example",
        "## Fixes",
        "export HDF5_USE_FILE_LOCKING=FALSE",
    ] {
        assert!(explain.stdout.contains(heading), "{heading}:\n{}", explain.stdout);
    }
    let unknown = H5doctor::new(&["explain", "no-such-rule"]).run();
    assert_eq!(unknown.code, 2);
    assert!(unknown.stderr.contains("no rule with slug or id \"no-such-rule\""));
}

#[test]
fn the_ticket_format_redacts_the_user_and_home() {
    let home = tempdir();
    let work = home.path().join("projects/alice");
    std::fs::create_dir_all(&work).unwrap();
    let args = [
        "check",
        "--format",
        "ticket",
        "--no-default-dirs",
        "--no-default-pythons",
        "--dir",
        work.to_str().unwrap(),
    ];
    let run = H5doctor::injected(Some(("--flock", 524)), &args)
        .env("HOME", home.path())
        .env("USER", "alice")
        .run();
    assert_eq!(run.code, 1);
    assert!(run.stdout.starts_with("## h5doctor report"), "{}", run.stdout);
    assert!(run.stdout.contains("`lock-unsupported`"));
    assert!(run.stdout.contains("~/projects/<user>"), "{}", run.stdout);
    assert!(!run.stdout.contains("alice"), "{}", run.stdout);
    assert!(!run.stdout.contains(home.path().to_str().unwrap()));
    // --no-redact: a site's internal ticket keeps both.
    let mut internal = args.to_vec();
    internal.push("--no-redact");
    let kept = H5doctor::injected(Some(("--flock", 524)), &internal)
        .env("HOME", home.path())
        .env("USER", "alice")
        .run();
    assert_eq!(kept.code, 1);
    assert!(kept.stdout.contains(work.to_str().unwrap()), "{}", kept.stdout);
    assert!(kept.stdout.contains("\"user\": \"alice\""), "{}", kept.stdout);
    assert!(
        !kept.stdout.contains("<user>") && !kept.stdout.contains("- redacted:"),
        "{}",
        kept.stdout
    );
    assert_no_leftovers(&work);
}

/// No NFS or Lustre client runs here, so this test takes real facts from this node and replays them with
/// the directory's mount replaced by a recorded NFS `nolock` mount (the way a support desk replays them).
#[test]
fn an_nfs_nolock_mount_is_lock_local_only() {
    let dir = tempdir();
    let live = facts_of(dir.path(), None);
    let mut facts: serde_json::Value = serde_json::from_str(&live.stdout).unwrap();
    facts["dirs"][0]["filesystem"] = serde_json::json!({
        "magic": "0x00006969", "fs_type": "nfs", "mount_point": "/home", "source": "filer:/export/home",
        "options": ["rw", "relatime", "vers=3", "nolock", "local_lock=all"]
    });
    let store = tempdir();
    let file = write(store.path(), "node.json", &facts.to_string());
    let run = H5doctor::new(&["check", "--json", "--facts", file.to_str().unwrap()]).run();
    assert_eq!(run.code, 0, "a warning alone exits 0");
    let report = run.json();
    assert_eq!(slugs(&report), ["lock-local-only"]);
    let f = finding(&report, "lock-local-only");
    assert_eq!(f["severity"], "warning");
    assert!(f["title"].as_str().unwrap().contains("nfs"), "{f:#}");
    assert!(f["fixes"][0]["text"]
        .as_str()
        .unwrap()
        .starts_with("Write each HDF5 file from one node only"));
    let strict = H5doctor::new(&["check", "--strict", "--facts", file.to_str().unwrap()]).run();
    assert_eq!(strict.code, 1);
    // The same node with `local_lock=none` (coherent NFS locks) is fine.
    facts["dirs"][0]["filesystem"]["options"] = serde_json::json!(["rw", "vers=4.2", "local_lock=none"]);
    write(store.path(), "node.json", &facts.to_string());
    let fine = H5doctor::new(&["check", "--json", "--facts", file.to_str().unwrap()]).run();
    assert!(slugs(&fine.json()).is_empty());
}

#[test]
fn probe_unavailable_without_an_hdf5_installation_says_where_it_looked_and_older_facts_keep_the_old_line() {
    // The replay fixture (a real run: Debian's serial and Open MPI HDF5 found by the loader's cache), with
    // what this node would have shown had neither been installed: no installation, the same places looked at.
    let fixture: serde_json::Value = serde_json::from_str(&std::fs::read_to_string("tests/rules/probe-unavailable.json").unwrap()).unwrap();
    let mut none_found = fixture.clone();
    none_found["hdf5"]["install_search"]["installs"] = serde_json::json!([]);
    let looked: Vec<String> = fixture["hdf5"]["install_search"]["looked_in"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l.as_str().unwrap().to_string())
        .collect();
    let report = replay_facts(&none_found).json();
    let f = finding(&report, "probe-unavailable");
    let fixes = f["fixes"].as_array().unwrap();
    assert!(fixes.iter().all(|x| x["kind"] != "rebuild"), "{f:#}");
    let admin = fixes.iter().find(|x| x["kind"] == "admin").unwrap_or_else(|| panic!("{f:#}"));
    assert_eq!(
        admin["text"],
        "Ask the administrators for an HDF5 installation (include/H5pubconf.h and lib/libhdf5.so) to build h5doctor-probe \
         against, or for the h5doctor-probe built for this system"
    );
    assert_eq!(
        admin["note"],
        format!("No HDF5 installation was found on this node; looked in: {}.", looked.join("; "))
    );
    // Facts from before h5doctor looked (no install_search) cannot name one: the old line, unchanged.
    let mut older = fixture.clone();
    older["hdf5"].as_object_mut().unwrap().remove("install_search");
    let report = replay_facts(&older).json();
    let f = finding(&report, "probe-unavailable");
    assert_eq!(
        fix_texts(f).last().unwrap(),
        "HDF5_DIR=/path/to/hdf5 cargo build --release -p h5doctor-probe"
    );
}

#[test]
fn hdf5_env_plugin_unavailable_names_the_directory_found_keeps_hdf5_plugin_path_and_older_facts_keep_the_old_line() {
    // The replay fixture (HDF5_VOL_CONNECTOR=no_such_vol with the h5py 3.16 wheel) is from before h5doctor
    // looked for the plugin: the old line, unchanged.
    let fixture: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string("tests/rules/hdf5-env-plugin-unavailable.json").unwrap()).unwrap();
    assert!(fixture["hdf5"].get("plugin_env_search").is_none());
    let fixes = |facts: &serde_json::Value| {
        let report = replay_facts(facts).json();
        fix_texts(finding(&report, "hdf5-env-plugin-unavailable"))
    };
    assert!(fixes(&fixture).contains(&"export HDF5_PLUGIN_PATH=/path/to/the/connector/lib".to_string()));

    // Found in a directory HDF5 does not search: that directory first, then HDF5_PLUGIN_PATH's own entries
    // (a filter plugin directory stays on the path).
    let found = |dir: &str, already_searched: bool| {
        serde_json::json!({
            "dir": dir, "file": format!("{dir}/libno_such_vol.so"), "var": "HDF5_VOL_CONNECTOR", "name": "no_such_vol",
            "class_version": 3, "needs_hdf5": ["libhdf5.so.310"], "already_searched": already_searched
        })
    };
    let mut facts = fixture.clone();
    facts["env"]["vars"]["HDF5_PLUGIN_PATH"] = serde_json::json!("/site/filters");
    facts["hdf5"]["plugin_env_search"] = serde_json::json!({
        "wanted": [{"var": "HDF5_VOL_CONNECTOR", "name": "no_such_vol"}],
        "found": [found("/site/filters", true), found("/opt/vol/lib/plugin", false)],
        "looked_in": ["/site/filters (HDF5_PLUGIN_PATH, searched by HDF5 already): libno_such_vol.so provides VOL connector no_such_vol", "/opt/vol/lib/plugin ($HDF5_DIR/lib/plugin): libno_such_vol.so provides VOL connector no_such_vol"],
    });
    let texts = fixes(&facts);
    assert!(
        texts.contains(&"export HDF5_PLUGIN_PATH=/opt/vol/lib/plugin:/site/filters".to_string()),
        "{texts:#?}"
    );
    assert!(
        !texts
            .iter()
            .any(|t| t.contains("/path/to") || t.starts_with("Ask the administrators")),
        "{texts:#?}"
    );

    // Found only where HDF5 searches already (built for another HDF5): no line that changes nothing; the
    // admin line says where h5doctor looked.
    facts["hdf5"]["plugin_env_search"]["found"] = serde_json::json!([found("/site/filters", true)]);
    let report = replay_facts(&facts).json();
    let f = finding(&report, "hdf5-env-plugin-unavailable");
    assert!(!fix_texts(f).iter().any(|t| t.starts_with("export HDF5_PLUGIN_PATH")), "{f:#}");
    let admin = f["fixes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|x| x["kind"] == "admin")
        .unwrap_or_else(|| panic!("{f:#}"));
    assert_eq!(
        admin["text"],
        "Ask the administrators for the VOL connector no_such_vol (HDF5_VOL_CONNECTOR) plugin built for the HDF5 your job uses, \
         and the directory to put on HDF5_PLUGIN_PATH"
    );
    assert!(
        admin["note"]
            .as_str()
            .unwrap()
            .contains("looked in: /site/filters (HDF5_PLUGIN_PATH, searched by HDF5 already)"),
        "{admin:#}"
    );
}

#[test]
fn a_pmi_fix_names_this_slurms_mpi_plugins_and_asks_for_a_missing_one() {
    // The replay fixture (a real run: Open MPI under `srun --mpi=none`), as a Slurm with PMIx records it, as
    // one built without PMIx would, and as facts from before the plugins were read.
    let fixture: serde_json::Value = serde_json::from_str(&std::fs::read_to_string("tests/rules/mpi-pmi-failure.json").unwrap()).unwrap();
    let replay = |plugins: Option<&[&str]>| {
        let mut facts = fixture.clone();
        let mpi = facts["mpi"].as_object_mut().unwrap();
        match plugins {
            Some(p) => mpi.insert("srun_mpi_plugins".into(), serde_json::json!(p)),
            None => mpi.remove("srun_mpi_plugins"),
        };
        let report = replay_facts(&facts).json();
        finding(&report, "mpi-pmi-failure").clone()
    };
    let with_pmix = replay(Some(&["cray_shasta", "none", "pmi2", "pmix", "pmix_v4"]));
    assert_eq!(
        with_pmix["fixes"][0]["text"],
        "srun --mpi=pmix ...   (or export SLURM_MPI_TYPE=pmix in the job script)"
    );
    assert_eq!(
        with_pmix["fixes"][0]["note"],
        "This Slurm's MPI plugins: cray_shasta,none,pmi2,pmix,pmix_v4. Sites often set MpiDefault=pmix in slurm.conf."
    );
    let without = replay(Some(&["none", "pmi2"]));
    let texts = fix_texts(&without);
    assert!(!texts.iter().any(|t| t.starts_with("srun --mpi=pmix")), "{without:#}");
    assert_eq!(
        texts[0],
        "Ask the administrators for Slurm's pmix MPI plugin (this Slurm's MPI plugins: none,pmi2)"
    );
    assert_eq!(without["fixes"][0]["kind"], "admin");
    assert!(texts[1].starts_with("mpirun -n N"), "{without:#}");
    let older = replay(None);
    assert_eq!(
        older["fixes"][0]["note"],
        "`srun --mpi=list` shows the plugins this Slurm has; sites often set MpiDefault=pmix in slurm.conf."
    );
}
