//! One replay fixture per rule, and golden facts files that must keep replaying.
//!
//! `tests/rules/<slug>.json` is a facts file (as `h5doctor facts --json` writes it, taken from a real run
//! where the setup can be built on a test machine) for which the rule `<slug>` fires, and no other rule
//! unless `CO_FIRING` says why. Each one is replayed through `h5doctor check --facts` and its human report
//! is compared with `tests/rules/<slug>.expected`. These runs need no HDF5, MPI, Lmod or wheels and take
//! milliseconds; the end-to-end tests prove the probes, these prove the rules and the rendering.
//!
//! After changing a rule's text or the human report on purpose, regenerate the expected files with
//! `H5DOCTOR_BLESS=1 cargo test --test rule_fixtures` and review the diff (docs/DEVELOPING.md).
//!
//! `tests/fixtures/golden-0.1.0/<name>.facts.json` are facts files written before the typed vocabulary
//! (commit d7e3918), with `<name>.report.json`, the report that release gave for them. They must replay to
//! the same findings (slug, severity, subject, evidence; titles and fix texts may be reworded), inconclusive
//! probes, summary and facts forever (new fact fields may be added).

mod common;

use common::H5doctor;
use serde_json::Value;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

/// Rules that cannot fire alone, with the rules that always fire with them and why.
/// lock-env-ignored: HDF5_USE_FILE_LOCKING=BEST_EFFORT on a file system without flock is both "locks
/// unsupported here" and "your setting does not help"; both findings are true.
const CO_FIRING: &[(&str, &[&str])] = &[
    ("lock-env-ignored", &["lock-unsupported"]),
    // The real venv of that setup holds the stand-in mpi4py only, so h5py is missing (an info).
    ("mpi4py-cannot-load", &["h5py-not-installed"]),
];

fn rules_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/rules")
}

fn blessing() -> bool {
    std::env::var_os("H5DOCTOR_BLESS").is_some_and(|v| !v.is_empty() && v != "0")
}

/// The slugs of the shipped rules (the rule files embedded in the binary).
fn shipped_slugs() -> BTreeSet<String> {
    let set = h5doctor::rules::RuleSet::builtin().expect("the shipped rules load");
    set.rules.iter().map(|r| r.slug.clone()).collect()
}

/// The fixtures, sorted: (slug, path of the facts file).
fn fixtures() -> Vec<(String, PathBuf)> {
    let mut out: Vec<(String, PathBuf)> = std::fs::read_dir(rules_dir())
        .expect("tests/rules exists")
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .map(|p| (p.file_stem().unwrap().to_str().unwrap().to_string(), p))
        .collect();
    out.sort();
    out
}

fn slugs(report: &Value) -> Vec<String> {
    report["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .map(|f| f["slug"].as_str().unwrap().to_string())
        .collect()
}

/// Rules that landed before this test and whose fixtures their own issue adds; the list only shrinks
/// (a rule listed here that has a fixture fails the test, so the entry gets removed).
const FIXTURE_PENDING: &[&str] = &[];

#[test]
fn every_shipped_rule_has_a_replay_fixture() {
    let have: BTreeSet<String> = fixtures().into_iter().map(|(slug, _)| slug).collect();
    let stale: Vec<&&str> = FIXTURE_PENDING.iter().filter(|s| have.contains(**s)).collect();
    assert!(stale.is_empty(), "remove {stale:?} from FIXTURE_PENDING: they have fixtures now");
    let missing: Vec<String> = shipped_slugs()
        .difference(&have)
        .filter(|s| !FIXTURE_PENDING.contains(&s.as_str()))
        .cloned()
        .collect();
    assert!(
        missing.is_empty(),
        "shipped rules without a replay fixture tests/rules/<slug>.json (a facts file for which the rule fires): {}",
        missing.join(", ")
    );
}

/// Checks one fixture; returns what is wrong with it.
fn check_fixture(slug: &str, facts: &Path, shipped: &BTreeSet<String>) -> Vec<String> {
    let mut problems = Vec::new();
    if !shipped.contains(slug) {
        return vec![format!("{slug}: no shipped rule has this slug (rules/<group>/{slug}.toml)")];
    }
    let facts_arg = facts.to_str().unwrap();
    let json = H5doctor::new(&["check", "--json", "--facts", facts_arg]).run();
    if json.code == 2 {
        return vec![format!("{slug}: h5doctor check --facts failed: {}", json.stderr)];
    }
    let report = json.json();
    let fired = slugs(&report);
    let allowed: &[&str] = CO_FIRING.iter().find(|(s, _)| *s == slug).map_or(&[], |(_, with)| with);
    if !fired.iter().any(|f| f == slug) {
        problems.push(format!("{slug}: the rule does not fire (fired: {fired:?})"));
    }
    let others: Vec<&String> = fired.iter().filter(|f| *f != slug && !allowed.contains(&f.as_str())).collect();
    if !others.is_empty() {
        problems.push(format!("{slug}: other rules fire too: {others:?} (a fixture shows one rule)"));
    }
    let human = H5doctor::new(&["check", "--facts", facts_arg]).run();
    if human.code != json.code {
        problems.push(format!(
            "{slug}: exit code {} for the human report, {} for the JSON one",
            human.code, json.code
        ));
    }
    let want_exit = format!("exit {}", human.code);
    if !human.stdout.trim_end().ends_with(&want_exit) {
        problems.push(format!("{slug}: the report does not end with {want_exit:?}"));
    }
    let expected_path = facts.with_extension("expected");
    if blessing() {
        std::fs::write(&expected_path, &human.stdout).unwrap();
        return problems;
    }
    match std::fs::read_to_string(&expected_path) {
        Err(_) => problems.push(format!(
            "{slug}: {} is missing; write it with H5DOCTOR_BLESS=1 cargo test --test rule_fixtures",
            expected_path.display()
        )),
        Ok(expected) if expected != human.stdout => problems.push(format!(
            "{slug}: the human report differs from {} (H5DOCTOR_BLESS=1 to accept):\n{}",
            expected_path.display(),
            line_diff(&expected, &human.stdout)
        )),
        Ok(_) => {}
    }
    problems
}

/// The lines that differ, `-` expected and `+` got.
fn line_diff(expected: &str, got: &str) -> String {
    let (e, g): (Vec<&str>, Vec<&str>) = (expected.lines().collect(), got.lines().collect());
    let mut out = String::new();
    for i in 0..e.len().max(g.len()) {
        let (a, b) = (e.get(i), g.get(i));
        if a != b {
            if let Some(a) = a {
                out.push_str(&format!("  -{a}\n"));
            }
            if let Some(b) = b {
                out.push_str(&format!("  +{b}\n"));
            }
        }
    }
    out
}

#[test]
fn every_fixture_fires_its_rule_and_renders_as_expected() {
    let shipped = shipped_slugs();
    let all = fixtures();
    assert!(!all.is_empty(), "no fixtures in tests/rules");
    let problems: Vec<String> = all.iter().flat_map(|(slug, path)| check_fixture(slug, path, &shipped)).collect();
    assert!(
        problems.is_empty(),
        "{} fixture problem(s):\n{}",
        problems.len(),
        problems.join("\n")
    );
}

/// Every key of `golden` is in `now` with an equal value (objects recursively; `now` may have more keys).
fn contains(now: &Value, golden: &Value, at: &str, out: &mut Vec<String>) {
    match (now, golden) {
        (Value::Object(n), Value::Object(g)) => {
            for (k, gv) in g {
                match n.get(k) {
                    Some(nv) => contains(nv, gv, &format!("{at}.{k}"), out),
                    None => out.push(format!("{at}.{k} is gone")),
                }
            }
        }
        (Value::Array(n), Value::Array(g)) if n.len() == g.len() => {
            for (i, (nv, gv)) in n.iter().zip(g).enumerate() {
                contains(nv, gv, &format!("{at}[{i}]"), out);
            }
        }
        _ if now == golden => {}
        _ => out.push(format!("{at}: was {golden}, now {now}")),
    }
}

/// What a report concluded, without its wording: per finding its id, slug, severity, group, scope and
/// evidence (fact and value).
fn verdicts(report: &Value) -> Vec<Value> {
    report["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .map(|f| {
            let evidence: Vec<Value> = f["evidence"]
                .as_array()
                .expect("evidence")
                .iter()
                .map(|e| serde_json::json!([e["fact"], e["value"]]))
                .collect();
            serde_json::json!({"id": f["id"], "slug": f["slug"], "severity": f["severity"], "group": f["group"],
                "scope": f["scope"], "evidence": evidence})
        })
        .collect()
}

#[test]
fn facts_files_from_before_the_typed_vocabulary_replay_to_the_same_report() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/golden-0.1.0");
    let mut names: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("tests/fixtures/golden-0.1.0 exists")
        .map(|e| e.unwrap().path())
        .filter(|p| p.to_str().unwrap().ends_with(".facts.json"))
        .collect();
    names.sort();
    assert!(names.len() >= 3, "golden facts files missing in {}", dir.display());
    let mut problems = Vec::new();
    for facts in names {
        let name = facts
            .file_name()
            .unwrap()
            .to_str()
            .unwrap()
            .trim_end_matches(".facts.json")
            .to_string();
        let golden: Value = serde_json::from_str(&std::fs::read_to_string(dir.join(format!("{name}.report.json"))).unwrap()).unwrap();
        let run = H5doctor::new(&["check", "--json", "--facts", facts.to_str().unwrap()]).run();
        let now = run.json();
        for key in ["schema_version", "summary", "inconclusive"] {
            if now[key] != golden[key] {
                problems.push(format!("{name}: `{key}` changed:\nwas {:#}\nnow {:#}", golden[key], now[key]));
            }
        }
        // The same findings about the same subjects on the same evidence; titles and fix texts may be
        // reworded by later releases.
        let (was, is) = (verdicts(&golden), verdicts(&now));
        if was != is {
            problems.push(format!("{name}: findings changed:\nwas {was:#?}\nnow {is:#?}"));
        }
        contains(&now["facts"], &golden["facts"], &format!("{name}: facts"), &mut problems);
        let original: Value = serde_json::from_str(&std::fs::read_to_string(&facts).unwrap()).unwrap();
        contains(&now["facts"], &original, &format!("{name}: facts file"), &mut problems);
        assert_eq!(
            run.code as u64,
            golden["summary"]["exit_code"].as_u64().unwrap(),
            "{name}: exit code"
        );
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

/// Every closed-set fact of every fixture and golden facts file (real runs) takes a value of its declared
/// set: a domain that misses a value the probes write would make a valid rule fail to load.
#[test]
fn real_facts_stay_inside_the_declared_value_domains() {
    use h5doctor::facts::catalog::{self, Scope, Subject};
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files: Vec<PathBuf> = fixtures().into_iter().map(|(_, p)| p).collect();
    for entry in std::fs::read_dir(root.join("tests/fixtures/golden-0.1.0")).unwrap() {
        let path = entry.unwrap().path();
        if path.to_str().unwrap().ends_with(".facts.json") {
            files.push(path);
        }
    }
    let mut problems = Vec::new();
    let mut checked = 0;
    for file in &files {
        let facts = h5doctor::facts::Facts::from_json_file(file).unwrap_or_else(|e| panic!("{e}"));
        for def in catalog::all() {
            let Some(domain) = catalog::domain(def.name) else { continue };
            let scopes = if def.scope == Scope::Global {
                vec![Scope::Global]
            } else {
                vec![def.scope]
            };
            for scope in scopes {
                for subject in Subject::all(&facts, scope) {
                    match (def.read)(&facts, subject.item) {
                        Some(Value::String(s)) if domain.contains(&s.as_str()) => checked += 1,
                        // A list fact with a closed set (`binary.mpi_families`): every element is in it.
                        Some(Value::Array(items)) if items.iter().all(|v| v.as_str().is_some_and(|s| domain.contains(&s))) => checked += 1,
                        None => {}
                        Some(other) => problems.push(format!("{}: {} = {other} is not one of {domain:?}", file.display(), def.name)),
                    }
                }
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
    assert!(checked > 100, "only {checked} closed-set values seen");
}
