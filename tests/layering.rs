//! The data flows one way: probes -> facts -> rules -> findings -> report, under the commands. This
//! test reads every `crate::` path in `src/` (imports and inline paths, comments left out) and fails when
//! a module reaches into a stage it must never import, or back up to the crate root (`lib.rs`, the
//! dispatcher). It needs nothing but the sources, so it runs in milliseconds.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

/// For each module (the first path component under `src/`), the modules it must never import.
/// `root` is the crate root itself (`crate::Error`, `crate::run`): only `lib.rs` and `main.rs` use it.
/// `commands`, `mpio` and `man` (pages and completions) are the top layer (the subcommands); `cli` parses arguments.
fn never(module: &str) -> &'static [&'static str] {
    const STAGES_AND_TOP: &[&str] = &[
        "elf", "probes", "facts", "rules", "findings", "report", "commands", "mpio", "cli", "root",
    ];
    match module {
        // The shared vocabulary and utilities: below every stage.
        "groups" | "error" | "errno" | "known_filters" | "cleanup" | "ownership" | "hostlist" => STAGES_AND_TOP,
        // The gate of what runs as root reads ELF files (libraries, RUNPATHs); the ELF reader, in turn,
        // asks only `ownership` about the loader it runs.
        "trust" => &["probes", "facts", "rules", "findings", "report", "commands", "mpio", "cli", "root"],
        "elf" => &[
            "trust", "probes", "facts", "rules", "findings", "report", "commands", "mpio", "cli", "root",
        ],
        "facts" => &["probes", "rules", "findings", "report", "commands", "mpio", "cli", "root"],
        "probes" => &["rules", "findings", "report", "commands", "mpio", "cli", "root"],
        "rules" => &["probes", "report", "commands", "mpio", "cli", "root"],
        "findings" => &["probes", "facts", "rules", "report", "commands", "mpio", "cli", "root"],
        "report" => &["probes", "rules", "commands", "mpio", "cli", "root"],
        "cli" => STAGES_AND_TOP,
        "commands" | "mpio" | "man" | "schema" => &["root"],
        other => panic!("src/{other}: a new top-level module; say in tests/layering.rs what it must not import"),
    }
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The code of a file without its `//` comments (doc comments name modules in prose).
fn code_of(text: &str) -> String {
    text.lines()
        .map(|l| match l.find("//") {
            Some(i) if !l[..i].contains('"') => &l[..i],
            _ => l,
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// The first component of every `crate::` path in `code`, expanding `crate::{a, b::c}`.
fn crate_paths(code: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let mut rest = code;
    while let Some(i) = rest.find("crate::") {
        let after = &rest[i + "crate::".len()..];
        if let Some(group) = after.strip_prefix('{') {
            let end = group.find('}').unwrap_or(group.len());
            for item in group[..end].split(',') {
                let first = item.trim().split("::").next().unwrap_or("").trim();
                if !first.is_empty() {
                    out.insert(first.to_string());
                }
            }
        } else {
            let name: String = after.chars().take_while(|c| c.is_alphanumeric() || *c == '_').collect();
            out.insert(name);
        }
        rest = after;
    }
    out
}

fn modules(src: &Path) -> BTreeSet<String> {
    std::fs::read_dir(src)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter_map(|p| {
            let name = p.file_stem()?.to_str()?.to_string();
            (p.is_dir() || p.extension().is_some_and(|e| e == "rs")).then_some(name)
        })
        .filter(|n| n != "lib" && n != "main")
        .collect()
}

#[test]
fn no_module_imports_a_stage_above_it_or_the_dispatcher() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let known = modules(&src);
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    let mut violations = Vec::new();
    for file in files {
        let rel = file.strip_prefix(&src).unwrap();
        let module = rel
            .components()
            .next()
            .unwrap()
            .as_os_str()
            .to_str()
            .unwrap()
            .trim_end_matches(".rs");
        if module == "lib" || module == "main" {
            continue;
        }
        let forbidden = never(module);
        for target in crate_paths(&code_of(&std::fs::read_to_string(&file).unwrap())) {
            let layer = if known.contains(&target) { target.as_str() } else { "root" };
            if layer != module && forbidden.contains(&layer) {
                violations.push(format!("src/{} uses crate::{target} ({layer})", rel.display()));
            }
        }
    }
    assert!(violations.is_empty(), "imports against the data flow:\n{}", violations.join("\n"));
}

/// The probe binaries gather facts; they never call the command layer or the renderers.
/// The one exception left: `h5doctor-probe-mpio` judges and renders the facts its rank 0 gathered
/// (`commands::report_mpio`) because `mpio-test` execs it; issue 10 turns the probe into a child that
/// prints facts JSON, and then this list becomes empty.
#[test]
fn the_probe_crate_does_not_call_the_command_layer() {
    const KNOWN_EXCEPTIONS: &[&str] = &["mpio.rs: h5doctor::commands::report_mpio"];
    let probe = Path::new(env!("CARGO_MANIFEST_DIR")).join("probe/src");
    let mut files = Vec::new();
    rust_files(&probe, &mut files);
    let mut found = Vec::new();
    for file in files {
        let code = code_of(&std::fs::read_to_string(&file).unwrap());
        for stage in ["commands", "report", "rules", "run("] {
            let needle = format!("h5doctor::{stage}");
            for (i, _) in code.match_indices(&needle) {
                let path: String = code[i..]
                    .chars()
                    .take_while(|c| c.is_alphanumeric() || *c == '_' || *c == ':')
                    .collect();
                found.push(format!("{}: {path}", file.file_name().unwrap().to_str().unwrap()));
            }
        }
    }
    found.sort();
    found.dedup();
    assert_eq!(found, KNOWN_EXCEPTIONS, "probe/ reaches into the command layer");
}

#[test]
fn the_scanner_sees_grouped_and_inline_paths() {
    let code = code_of("use crate::{facts::Facts, rules};\n// crate::report\nlet x = crate::probes::host::probe();");
    let paths: Vec<String> = crate_paths(&code).into_iter().collect();
    assert_eq!(paths, ["facts", "probes", "rules"]);
}
