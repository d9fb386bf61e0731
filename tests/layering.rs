//! The data flows one way: probes -> facts -> rules -> findings -> report, under the commands. This
//! test reads every `crate::` path in `src/` (imports and inline paths, comments left out; paths through a
//! name a `use` bound followed to what it stands for; `groups::$home::…` in a `for_each_group!` callback read
//! as every group's home) and fails when a module reaches into a stage it must never import, or back up to
//! the crate root (`lib.rs`, the dispatcher). It needs nothing but the sources, so it runs in milliseconds.

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
        // The shared vocabulary and utilities: below every stage. (`groups` is `src/groups/mod.rs`; the
        // group homes under it are the probes and facts stages, see `layer_of`.)
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

/// Every module path `code` names, made absolute (without the leading `crate`): `crate::` paths, `super::`
/// and `self::` paths resolved from `module` (the module path of the file), and bare paths through a child
/// module the file declares (`mod probe;` … `probe::gather()`). Braces are expanded one level
/// (`crate::{a, b::c}`). Code after `#[cfg(test)]` is taken to be in the file's `mod tests`.
fn module_paths(code: &str, module: &[String]) -> BTreeSet<Vec<String>> {
    let (body, tests) = match code.find("#[cfg(test)]") {
        Some(i) => (&code[..i], &code[i..]),
        None => (code, ""),
    };
    let mut in_tests = module.to_vec();
    in_tests.push("tests".to_string());
    let mut out = BTreeSet::new();
    for (text, here) in [(body, module.to_vec()), (tests, in_tests)] {
        let children = declared_children(text);
        let aliases = use_aliases(text, &here);
        let mut i = 0;
        while i < text.len() {
            let rest = &text[i..];
            let word: String = rest.chars().take_while(|c| c.is_alphanumeric() || *c == '_').collect();
            if word.is_empty() {
                i += rest.chars().next().unwrap().len_utf8();
                continue;
            }
            let boundary = !text[..i].ends_with(|c: char| c.is_alphanumeric() || c == '_' || c == ':');
            if boundary && rest[word.len()..].starts_with("::") {
                // Where the path starts: the crate root, this module, a parent (one level per `super`), or
                // a child module this file declares.
                let mut base = match word.as_str() {
                    "crate" => Some(Vec::new()),
                    "self" | "super" => Some(here.clone()),
                    name if children.contains(name) => Some([here.clone(), vec![name.to_string()]].concat()),
                    name => aliases.get(name).cloned(),
                };
                let mut tail = if word == "super" { rest } else { &rest[word.len() + 2..] };
                while let (Some(b), Some(t)) = (base.as_mut(), tail.strip_prefix("super::")) {
                    b.pop();
                    tail = t;
                }
                if let Some(base) = base {
                    for item in path_items(tail) {
                        out.insert([base.clone(), item].concat());
                    }
                }
                i += rest.len() - tail.len();
                continue;
            }
            i += word.len();
        }
    }
    out
}

/// The names a file's `use` declarations of crate paths bind, each with the absolute path it stands for:
/// `use crate::groups;` binds `groups`, `use crate::groups::hdf5::probe as hdf5;` binds `hdf5`, `use
/// crate::groups::file::probe::{self as file, fix_rereads};` binds `file` and `fix_rereads`. A later
/// `groups::$home::probe::PROBE` is then read as `crate::groups::$home::probe::PROBE`.
fn use_aliases(code: &str, module: &[String]) -> std::collections::BTreeMap<String, Vec<String>> {
    let mut out = std::collections::BTreeMap::new();
    let mut statement: Option<String> = None;
    for line in code.lines() {
        let trimmed = line.trim();
        if statement.is_none() {
            let after = ["use ", "pub use ", "pub(crate) use ", "pub(super) use "]
                .iter()
                .find_map(|p| trimmed.strip_prefix(p));
            statement = after.map(str::to_string);
        } else if let Some(s) = statement.as_mut() {
            s.push(' ');
            s.push_str(trimmed);
        }
        let Some(s) = statement.as_ref().filter(|s| s.contains(';')) else {
            continue;
        };
        let tree = s[..s.find(';').unwrap()].trim().to_string();
        statement = None;
        let (mut base, mut tail) = if let Some(t) = tree.strip_prefix("crate::") {
            (Vec::new(), t)
        } else if let Some(t) = tree.strip_prefix("self::") {
            (module.to_vec(), t)
        } else if tree.starts_with("super::") {
            (module.to_vec(), tree.as_str())
        } else {
            continue;
        };
        while let Some(t) = tail.strip_prefix("super::") {
            base.pop();
            tail = t;
        }
        // `X as Y` becomes the segment pair `X::__as__Y`, so the path reader keeps the new name.
        let marked = tail.replace(" as ", "::__as__");
        for item in path_items(&marked) {
            if item.is_empty() {
                // `use super::*;` binds no name of its own.
                continue;
            }
            let mut path = [base.clone(), item].concat();
            let renamed = path.last().and_then(|l| l.strip_prefix("__as__")).map(str::to_string);
            if renamed.is_some() {
                path.pop();
            }
            if path.last().is_some_and(|l| l == "self") {
                path.pop();
            }
            if let Some(name) = renamed.or_else(|| path.last().cloned()) {
                if name != "*" && !path.is_empty() {
                    out.insert(name, path);
                }
            }
        }
    }
    out
}

/// The modules a file declares as its children (`mod x;`, `pub mod x;`, `pub(crate) mod x;`).
fn declared_children(code: &str) -> BTreeSet<String> {
    code.lines()
        .filter_map(|l| {
            let (prefix, name) = l.trim().strip_suffix(';')?.rsplit_once("mod ")?;
            let prefix = prefix.trim();
            (prefix.is_empty() || prefix.starts_with("pub")).then(|| name.trim().to_string())
        })
        .collect()
}

/// The paths of a use tree after a `crate::`/`super::`/`self::`: `a::b::C` gives one path,
/// `a::{b, c::{d, e}}` three (nested braces expanded).
fn path_items(after: &str) -> Vec<Vec<String>> {
    let mut prefix = Vec::new();
    let mut rest = after.trim_start();
    loop {
        if let Some(inner) = rest.strip_prefix('{') {
            // The matching brace, then each top-level item of the group.
            let (mut depth, mut end) = (0usize, inner.len());
            for (i, c) in inner.char_indices() {
                match c {
                    '{' => depth += 1,
                    '}' if depth == 0 => {
                        end = i;
                        break;
                    }
                    '}' => depth -= 1,
                    _ => {}
                }
            }
            let mut items = Vec::new();
            let (mut depth, mut from) = (0usize, 0);
            let group = &inner[..end];
            for (i, c) in group.char_indices().chain([(group.len(), ',')]) {
                match c {
                    '{' => depth += 1,
                    '}' => depth = depth.saturating_sub(1),
                    ',' if depth == 0 => {
                        for item in path_items(&group[from..i]) {
                            items.push([prefix.clone(), item].concat());
                        }
                        from = i + 1;
                    }
                    _ => {}
                }
            }
            return items.into_iter().filter(|p| !p.is_empty()).collect();
        }
        // A segment is a name, or a macro's metavariable (`$home` in a `for_each_group!` callback), kept
        // with its `$` so that `layer_of` reads it as any group's home.
        let sigil = if rest.starts_with('$') { "$" } else { "" };
        let name: String = rest[sigil.len()..]
            .chars()
            .take_while(|c| c.is_alphanumeric() || *c == '_')
            .collect();
        if name.is_empty() {
            break;
        }
        let segment = format!("{sigil}{name}");
        prefix.push(segment.clone());
        match rest[segment.len()..].trim_start().strip_prefix("::") {
            Some(more) => rest = more.trim_start(),
            None => break,
        }
    }
    vec![prefix]
}

/// The first component of every `crate::` path in `code`.
fn crate_paths(code: &str) -> BTreeSet<String> {
    module_paths(code, &[]).into_iter().filter_map(|p| p.first().cloned()).collect()
}

/// The stage a module path belongs to: its top-level module, except inside a group's home
/// (`groups/<group>/`), which holds two stages: its probe (`groups/<group>/probe…`) is the probes stage and
/// the rest of the folder (facts, summary, inconclusive cases, catalogue block) the facts stage. `groups`
/// itself (the `Group` vocabulary, `src/groups/mod.rs`) stays below every stage. A path outside the
/// crate's modules is the crate root (`root`).
fn layer_of(path: &[String], known: &BTreeSet<String>, group_homes: &BTreeSet<String>) -> String {
    match path {
        [first, ..] if !known.contains(first) => "root".to_string(),
        [first, home, rest @ ..] if first == "groups" && (group_homes.contains(home) || home.starts_with('$')) => {
            if rest.first().is_some_and(|p| p == "probe") {
                "probes"
            } else {
                "facts"
            }
            .to_string()
        }
        [first, ..] => first.clone(),
        [] => "root".to_string(),
    }
}

/// The module path of a file under `src/` (`groups/hdf5/probe/pick.rs` → groups::hdf5::probe::pick).
fn module_of(rel: &Path) -> Vec<String> {
    let mut parts: Vec<String> = rel.components().map(|c| c.as_os_str().to_str().unwrap().to_string()).collect();
    let file = parts.pop().unwrap();
    let stem = file.trim_end_matches(".rs");
    if stem != "mod" {
        parts.push(stem.to_string());
    }
    parts
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

/// The groups' homes: the folders under `src/groups/`.
fn group_homes(src: &Path) -> BTreeSet<String> {
    std::fs::read_dir(src.join("groups"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_dir())
        .map(|p| p.file_name().unwrap().to_str().unwrap().to_string())
        .collect()
}

#[test]
fn no_module_imports_a_stage_above_it_or_the_dispatcher() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let (known, homes) = (modules(&src), group_homes(&src));
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    let mut violations = Vec::new();
    for file in files {
        let rel = file.strip_prefix(&src).unwrap();
        let module = module_of(rel);
        if module == ["lib"] || module == ["main"] {
            continue;
        }
        let layer = layer_of(&module, &known, &homes);
        let forbidden = never(&layer);
        for target in module_paths(&code_of(&std::fs::read_to_string(&file).unwrap()), &module) {
            let target_layer = layer_of(&target, &known, &homes);
            if target_layer != layer && forbidden.contains(&target_layer.as_str()) {
                violations.push(format!(
                    "src/{} ({layer}) uses crate::{} ({target_layer})",
                    rel.display(),
                    target.join("::")
                ));
            }
        }
    }
    assert!(violations.is_empty(), "imports against the data flow:\n{}", violations.join("\n"));
}

/// A group's home holds two stages; the check sees a back-arrow between them however it is spelled.
#[test]
fn a_group_homes_facts_never_reach_its_probe() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let (known, homes) = (modules(&src), group_homes(&src));
    let path = |p: &[&str]| -> Vec<String> { p.iter().map(|s| s.to_string()).collect() };
    let facts_file = path(&["groups", "hdf5", "facts"]);
    let home_root = path(&["groups", "hdf5"]);
    let probe_file = path(&["groups", "hdf5", "probe", "pick"]);
    assert_eq!(layer_of(&facts_file, &known, &homes), "facts");
    assert_eq!(layer_of(&home_root, &known, &homes), "facts");
    assert_eq!(layer_of(&probe_file, &known, &homes), "probes");
    assert_eq!(layer_of(&path(&["groups", "Group"]), &known, &homes), "groups");
    let layers = |code: &str, module: &[String]| -> Vec<String> {
        module_paths(&code_of(code), module)
            .iter()
            .map(|p| layer_of(p, &known, &homes))
            .collect()
    };
    // Spelled from the crate root, from the parent, from a sibling group, and bare through a child module.
    assert_eq!(layers("use crate::groups::hdf5::probe::ProbeAccess;", &facts_file), ["probes"]);
    assert_eq!(layers("use super::probe::ProbeAccess;", &facts_file), ["probes"]);
    assert_eq!(
        layers("let x = super::super::python::probe::discover::x();", &facts_file),
        ["probes"]
    );
    assert_eq!(layers("pub mod probe;\npub fn f() { probe::gather(); }", &home_root), ["probes"]);
    assert_eq!(
        layers("use crate::groups::{hdf5::probe, Group};", &facts_file),
        ["groups", "probes"]
    );
    // Inside a `for_each_group!` callback, `$home` stands for every group's home: its probe is the probes
    // stage, whether the path is spelled from the crate root or through a `use` of `groups`.
    let callback = |body: &str| format!("macro_rules! each {{ ($($variant:ident => $home:ident,)+) => {{ {body} }}; }}");
    assert_eq!(
        layers(&callback("$(crate::groups::$home::probe::PROBE,)+"), &facts_file),
        ["probes"]
    );
    assert_eq!(
        layers(
            &format!("use crate::groups;\n{}", callback("&[$(groups::$home::probe::PROBE),+]")),
            &facts_file
        ),
        ["groups", "probes"]
    );
    assert_eq!(layers(&callback("$(crate::groups::$home::facts::SPEC,)+"), &facts_file), ["facts"]);
    // A name a `use` binds, renamed or not, is followed to the path it stands for.
    let renamed = module_paths("use crate::groups::hdf5::probe as pick;\nfn f() { pick::run(); }", &facts_file);
    assert!(renamed.contains(&path(&["groups", "hdf5", "probe", "run"])), "{renamed:?}");
    let grouped = module_paths(
        "use crate::groups::{file::probe::{self as file}, Group};\nfn f() { file::gather(); }",
        &facts_file,
    );
    assert!(grouped.contains(&path(&["groups", "file", "probe", "gather"])), "{grouped:?}");
    // The probe may read its facts; the facts stage may never read a probe.
    assert_eq!(layers("use super::super::facts::Hdf5Facts;", &probe_file), ["facts"]);
    assert!(never("facts").contains(&"probes") && !never("probes").contains(&"facts"));
}

/// Each stage builds its per-group table by expanding a callback macro with `for_each_group!` (src/groups/mod.rs),
/// whose paths reach into every group's home (`crate::groups::$home::probe::PROBE`). The check above reads
/// those paths in the file of the callback, as the stage of that file: so the callback must be expanded
/// where it is defined (not handed to another stage's file), and the scanner must see its paths.
#[test]
fn every_for_each_group_callback_is_read_in_the_stage_that_expands_it() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let (known, homes) = (modules(&src), group_homes(&src));
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    let mut expansions = Vec::new();
    for file in files {
        let rel = file.strip_prefix(&src).unwrap();
        if rel == Path::new("groups/mod.rs") {
            continue;
        }
        let code = code_of(&std::fs::read_to_string(&file).unwrap());
        for (i, _) in code.match_indices("for_each_group!(") {
            let callback: String = code[i + "for_each_group!(".len()..]
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_')
                .collect();
            assert!(
                code.contains(&format!("macro_rules! {callback}")),
                "src/{}: expands `{callback}`, which it does not define: its paths would be checked in another stage",
                rel.display()
            );
            let module = module_of(rel);
            let reached: Vec<String> = module_paths(&code, &module)
                .into_iter()
                .filter(|p| p.len() >= 3 && p[0] == "groups" && p[1].starts_with('$'))
                .map(|p| format!("{} ({})", p.join("::"), layer_of(&p, &known, &homes)))
                .collect();
            assert!(
                !reached.is_empty(),
                "src/{}: the scanner sees no `groups::$home::…` path in `{callback}`",
                rel.display()
            );
            expansions.push(format!(
                "src/{} ({}): {}",
                rel.display(),
                layer_of(&module, &known, &homes),
                reached.join(", ")
            ));
        }
    }
    expansions.sort();
    assert_eq!(
        expansions,
        [
            "src/facts/catalog/mod.rs (facts): groups::$home::catalog::NAMESPACES (facts)",
            "src/facts/groups.rs (facts): groups::$home::facts::SPEC (facts)",
            "src/probes/mod.rs (probes): groups::$home::probe::PROBE (probes)",
        ]
    );
}

/// The probe binaries gather facts; they never call the command layer (`commands`, `mpio`, `run`), the
/// judge or the renderers. The MPI probe hands its facts to h5doctor (`h5doctor check --facts`) to be judged.
#[test]
fn the_probe_crate_does_not_call_the_command_layer() {
    const KNOWN_EXCEPTIONS: &[&str] = &[];
    let probe = Path::new(env!("CARGO_MANIFEST_DIR")).join("probe/src");
    let mut files = Vec::new();
    rust_files(&probe, &mut files);
    let mut found = Vec::new();
    for file in files {
        let code = code_of(&std::fs::read_to_string(&file).unwrap());
        for stage in ["commands", "mpio", "report", "rules", "run("] {
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

/// Adding a group is its folder plus one line in the registration list (`groups!` in src/groups/mod.rs); the
/// compiler then asks the folder for its parts (`facts::SPEC`, `catalog::NAMESPACES`, `probe::PROBE`). A folder
/// under src/groups/ that is not registered is never compiled, so nothing else would notice it: this does.
#[test]
fn every_group_folder_is_a_registered_group_and_every_group_has_its_folder() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let folders: BTreeSet<String> = group_homes(&src);
    let registered: BTreeSet<String> = h5doctor::groups::Group::all().map(|g| g.as_str().replace('-', "_")).collect();
    assert_eq!(
        folders, registered,
        "src/groups/ folders (left) and the groups registered in src/groups/mod.rs's `groups!` list (right) differ"
    );
    // Each home has the three parts, as files or folders (the compiler checks what they declare).
    for home in &folders {
        for part in ["facts", "probe"] {
            let dir = src.join("groups").join(home);
            assert!(
                dir.join(format!("{part}.rs")).is_file() || dir.join(part).join("mod.rs").is_file(),
                "src/groups/{home} has no {part}.rs or {part}/mod.rs"
            );
        }
        let home_mod = std::fs::read_to_string(src.join("groups").join(home).join("mod.rs")).unwrap();
        assert!(
            home_mod.contains("pub static NAMESPACES"),
            "src/groups/{home}/mod.rs declares no catalogue block (`pub static NAMESPACES` in its `catalog`)"
        );
    }
}

/// "Probes gather, rules judge; facts replay": the code that judges (each group's `catalog/` and
/// `facts/`/`facts.rs`, the facts core `src/facts/`, the rules engine `src/rules/`) never reads the file
/// system, runs a command or reads the environment, so `check --facts` on another machine judges exactly
/// what the node recorded. What a rule needs from the node (a directory resolved, a file present) is
/// recorded by a probe. Code in `#[cfg(test)]` is left out.
#[test]
fn the_judging_code_reads_no_file_system_command_or_environment() {
    // (file, why it may): reading rule files and rules dirs, and a facts file, is loading input, not judging.
    const ALLOWED: &[(&str, &str)] = &[
        (
            "rules/load.rs",
            "loads rule files from the rules dirs (H5DOCTOR_RULES_PATH, /etc/h5doctor/rules.d, --rules)",
        ),
        ("facts/mod.rs", "reads the facts file given to `check --facts`"),
    ];
    const FORBIDDEN: &[&str] = &[
        "std::fs",
        "fs::",
        "std::process",
        "Command::",
        "env::var",
        "env::current_dir",
        "canonicalize",
        "read_dir",
        "read_link",
        ".is_file()",
        ".is_dir()",
        ".exists()",
        "metadata(",
        "File::open",
    ];
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    let judging = |rel: &str| {
        let parts: Vec<&str> = rel.split('/').collect();
        match parts.as_slice() {
            ["rules", ..] | ["facts", ..] => true,
            ["groups", _, "facts.rs"] => true,
            ["groups", _, dir, ..] => *dir == "catalog" || *dir == "facts",
            _ => false,
        }
    };
    let mut checked = 0;
    let mut offences = Vec::new();
    for file in &files {
        let rel = file.strip_prefix(&src).unwrap().to_str().unwrap().to_string();
        if !judging(&rel) || ALLOWED.iter().any(|(a, _)| *a == rel) {
            continue;
        }
        checked += 1;
        let code = code_of(&std::fs::read_to_string(file).unwrap());
        let body = code.find("#[cfg(test)]").map_or(code.as_str(), |i| &code[..i]);
        for (n, line) in body.lines().enumerate() {
            for word in FORBIDDEN {
                if line.contains(word) {
                    offences.push(format!("src/{rel}:{}: `{word}`: {}", n + 1, line.trim()));
                }
            }
        }
    }
    assert!(checked > 20, "only {checked} judging files found: did the layout move?");
    assert!(
        offences.is_empty(),
        "the judging code reads the node (record it in a probe instead):\n{}",
        offences.join("\n")
    );
}
