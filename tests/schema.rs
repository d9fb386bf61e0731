//! The published JSON Schema: `h5doctor schema` prints docs/h5doctor.schema.json (that the file is what the
//! types generate is src/schema.rs's unit test, where schemars is available), and the real output of every
//! command that writes JSON (check, facts, ldd, rules, modules, summarize, mpio-test under a real mpirun, and
//! the facts attached to a ticket) validates against its document's schema with a real validator (the
//! jsonschema crate). A report with a wrong value does not.

mod common;
use common::*;
use serde_json::Value;
use std::path::Path;

const REGENERATE: &str = "H5DOCTOR_WRITE_SCHEMA=1 cargo test --lib schema::";

fn schema_of(command: Option<&str>) -> Value {
    let mut args = vec!["schema"];
    args.extend(command);
    let run = H5doctor::new(&args).run();
    assert_eq!(run.code, 0, "{}", run.stderr);
    serde_json::from_str(&run.stdout).expect("the schema is JSON")
}

/// Every error of `instance` against the schema of `command`'s document.
fn errors(command: &str, instance: &Value) -> Vec<String> {
    let schema = schema_of(Some(command));
    let validator = jsonschema::validator_for(&schema).unwrap_or_else(|e| panic!("{command}: not a valid schema: {e}"));
    validator
        .iter_errors(instance)
        .map(|e| format!("{} at {}", e, e.instance_path))
        .collect()
}

fn assert_valid(command: &str, instance: &Value) {
    let errs = errors(command, instance);
    assert!(errs.is_empty(), "{command} output does not match its schema:\n{}", errs.join("\n"));
}

fn json_of(run: &Run) -> Value {
    serde_json::from_str(&run.stdout).unwrap_or_else(|e| panic!("not JSON ({e}):\n{}\nstderr:\n{}", run.stdout, run.stderr))
}

#[test]
fn h5doctor_schema_prints_the_committed_schema() {
    let committed_path = Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/h5doctor.schema.json");
    let committed = std::fs::read_to_string(&committed_path).unwrap_or_default();
    let generated = H5doctor::new(&["schema"]).run().stdout;
    assert!(
        committed == generated,
        "`h5doctor schema` differs from docs/h5doctor.schema.json (the build embeds it; regenerated with\n    \
         {REGENERATE}\n): first differing line: {:?}",
        committed
            .lines()
            .zip(generated.lines())
            .find(|(a, b)| a != b)
            .or(Some(("<end of one file>", "")))
    );
    let all: Value = serde_json::from_str(&generated).unwrap();
    let titles: Vec<&str> = all["anyOf"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["title"].as_str().unwrap())
        .collect();
    for doc in ["check", "facts", "ldd", "rules", "modules", "summarize", "mpio-test"] {
        assert!(titles.contains(&doc), "{doc} in {titles:?}");
        assert_eq!(all["schema_versions"][doc], 1, "{doc}");
    }
    jsonschema::validator_for(&all).expect("the whole schema compiles");
}

/// A run with many kinds of facts: a directory whose locks fail (524), a file that is not HDF5, a program's
/// closure, a Python interpreter, the plugin path and the module environment.
fn rich_run(command: &str, dir: &Path, extra: &[&str]) -> Run {
    let notes = dir.join("notes.h5");
    std::fs::write(&notes, "not HDF5\n").unwrap();
    let work = dir.join("work");
    std::fs::create_dir_all(&work).unwrap();
    let mut args = vec![
        command,
        "--no-default-dirs",
        "--no-default-pythons",
        "--dir",
        work.to_str().unwrap(),
        "--binary",
        "/bin/ls",
        "--python",
        "/usr/bin/python3",
        notes.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    H5doctor::injected(Some(("--flock", 524)), &args)
        .env("HDF5_PLUGIN_PATH", dir.join("plugins"))
        .run()
}

#[test]
fn check_facts_and_the_ticket_facts_validate() {
    let dir = tempdir();
    let check = rich_run("check", dir.path(), &["--json"]);
    assert_eq!(check.code, 1, "{}", check.stderr);
    let report = json_of(&check);
    for slug in ["lock-unsupported", "file-not-hdf5"] {
        assert!(slugs(&report).iter().any(|s| s == slug), "{slug}: {:?}", slugs(&report));
    }
    assert_valid("check", &report);

    let facts = rich_run("facts", dir.path(), &["--json"]);
    assert_eq!(facts.code, 0, "{}", facts.stderr);
    let facts = json_of(&facts);
    assert!(
        !facts["python"]["interpreters"].as_array().unwrap().is_empty(),
        "a Python was diagnosed"
    );
    assert_valid("facts", &facts);

    let file = dir.path().join("node.json");
    std::fs::write(&file, facts.to_string()).unwrap();
    let ticket = H5doctor::new(&["check", "--facts", file.to_str().unwrap(), "--format", "ticket"]).run();
    let start = ticket.stdout.find("```json\n").unwrap() + 8;
    let end = start + ticket.stdout[start..].find("\n```").unwrap();
    assert_valid("facts", &serde_json::from_str(&ticket.stdout[start..end]).unwrap());

    // The validator is not vacuous: a severity h5doctor never writes and a missing summary are caught.
    let mut broken = report.clone();
    broken["findings"][0]["severity"] = "fatal".into();
    broken.as_object_mut().unwrap().remove("summary");
    let errs = errors("check", &broken);
    assert!(errs.iter().any(|e| e.contains("fatal")), "{errs:?}");
    assert!(errs.iter().any(|e| e.contains("summary")), "{errs:?}");
}

#[test]
fn ldd_rules_and_modules_output_validate() {
    let dir = tempdir();
    let text = dir.path().join("notes.txt");
    std::fs::write(&text, "not ELF\n").unwrap();
    let ldd = H5doctor::new(&["ldd", "--json", "/bin/ls"]).run();
    assert_eq!(ldd.code, 0, "{}", ldd.stderr);
    let one = json_of(&ldd);
    assert!(one["files"][0]["objects"].as_array().unwrap().len() > 1, "{one}");
    assert_valid("ldd", &one);
    let two = H5doctor::new(&["ldd", "--json", "/bin/ls", text.to_str().unwrap()]).run();
    assert_eq!(two.code, 1, "a file that is not ELF: {}", two.stderr);
    let two = json_of(&two);
    assert!(two["files"][1]["error"].is_string(), "{two}");
    assert_valid("ldd", &two);

    let site = dir.path().join("rules.d");
    std::fs::create_dir(&site).unwrap();
    std::fs::write(site.join("quiet.toml"), "silence = \"lock-local-only\"\nreason = \"site policy\"\n").unwrap();
    let rules = H5doctor::new(&["rules", "--json", "--rules", site.to_str().unwrap()]).run();
    assert_eq!(rules.code, 0, "{}", rules.stderr);
    let rules = json_of(&rules);
    assert_eq!(rules["silenced"][0]["rule"], "lock-local-only");
    assert_valid("rules", &rules);

    let tree = dir.path().join("modulefiles");
    std::fs::create_dir_all(tree.join("hdf5")).unwrap();
    std::fs::write(
        tree.join("hdf5/1.14.3.lua"),
        "whatis(\"HDF5 1.14.3\")\nfamily(\"hdf5\")\nprepend_path(\"LD_LIBRARY_PATH\", \"/opt/hdf5/1.14.3/lib\")\n",
    )
    .unwrap();
    let modules = H5doctor::new(&["modules", "--json"]).env("MODULEPATH", &tree).run();
    assert_eq!(modules.code, 0, "{}\n{}", modules.stdout, modules.stderr);
    let modules = json_of(&modules);
    assert_eq!(modules["modules"][0]["full_name"], "hdf5/1.14.3", "{modules:#}");
    assert_valid("modules", &modules);
}

#[test]
fn summarize_output_validates() {
    let dir = tempdir();
    let work = dir.path().join("work");
    std::fs::create_dir(&work).unwrap();
    let facts = H5doctor::injected(
        Some(("--flock", 524)),
        &[
            "facts",
            "--json",
            "--only",
            "locking",
            "--no-default-dirs",
            "--dir",
            work.to_str().unwrap(),
        ],
    )
    .run();
    assert_eq!(facts.code, 0, "{}", facts.stderr);
    let facts = json_of(&facts);
    let sweep = dir.path().join("sweep");
    std::fs::create_dir(&sweep).unwrap();
    for (host, kernel) in [("nid001", "6.1.0"), ("nid002", "6.1.0"), ("nid003", "5.14.0")] {
        let mut node = facts.clone();
        node["host"]["hostname"] = host.into();
        node["host"]["kernel"] = kernel.into();
        std::fs::write(sweep.join(format!("{host}.json")), node.to_string()).unwrap();
    }
    std::fs::write(sweep.join("broken.json"), "{ not json").unwrap();
    let run = H5doctor::new(&["summarize", "--json", sweep.to_str().unwrap()]).run();
    assert_eq!(run.code, 1, "lock errors on every node: {}\n{}", run.stdout, run.stderr);
    let summary = json_of(&run);
    assert_eq!(summary["summary"]["node_count"], 3, "{summary:#}");
    assert!(
        !summary["differences"].as_array().unwrap().is_empty(),
        "the kernels differ: {summary:#}"
    );
    assert!(!summary["skipped"].as_array().unwrap().is_empty(), "{summary:#}");
    assert_valid("summarize", &summary);
}

#[test]
fn mpio_test_output_under_mpirun_validates() {
    let dir = tempdir();
    let run = mpio_test(&mpirun("2"), None, dir.path(), "1", &[]);
    assert!(run.code == 0 || run.code == 1, "stdout:\n{}\nstderr:\n{}", run.stdout, run.stderr);
    let report = json_of(&run);
    assert_eq!(report["facts"]["mpi"]["passed"], true, "{report:#}");
    // Rank 0 of h5doctor-probe-mpio writes this report; it is built apart from the workspace.
    let errs = errors("mpio-test", &report);
    assert!(
        errs.is_empty(),
        "mpio-test output does not match its schema (an h5doctor-probe-mpio older than the sources writes an \
         older layout: rebuild it as scripts/dev.sh's build_mpio does):\n{}",
        errs.join("\n")
    );
}
