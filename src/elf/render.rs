//! Output of `h5doctor ldd`: a libtree-style tree where every library says how it was found and a
//! missing one lists every place looked, ldd's flat `name => path` list, or JSON.

use super::resolve::{Edge, EdgeResult, LoadError, MissingLibrary, Node, Resolution};
use serde::Serialize;
use std::fmt::Write as _;

/// The tree of one resolution. Each object's dependencies are expanded where it first appears.
pub fn tree(res: &Resolution) -> String {
    let mut out = String::new();
    if let Some(e) = &res.error {
        let _ = writeln!(out, "{}: error: {e}", res.root);
        return out;
    }
    let root = &res.objects[0];
    let interp = res
        .interpreter
        .map(|i| format!(" (loader {})", res.objects[i].path))
        .unwrap_or_default();
    let _ = writeln!(out, "{}{interp}", res.root);
    errors(&mut out, "    ", &root.errors);
    if !root.file.elf.dynamic {
        let _ = writeln!(out, "    not a dynamic executable (no PT_DYNAMIC)");
        return out;
    }
    let mut shown = vec![false; res.objects.len()];
    shown[0] = true;
    let mut top: Vec<(&str, &EdgeResult, bool)> = res.preloads.iter().map(|e| (e.name.as_str(), &e.result, true)).collect();
    top.extend(root.needs.iter().map(|e| (e.name.as_str(), &e.result, false)));
    let n = top.len();
    for (k, (name, result, preload)) in top.into_iter().enumerate() {
        edge(&mut out, res, name, result, preload, "", k + 1 == n, &mut shown);
    }
    out
}

#[allow(clippy::too_many_arguments)]
fn edge(out: &mut String, res: &Resolution, name: &str, result: &EdgeResult, preload: bool, prefix: &str, last: bool, shown: &mut [bool]) {
    let branch = if last { "└── " } else { "├── " };
    let cont = format!("{prefix}{}", if last { "    " } else { "│   " });
    let pre = if preload { "preload " } else { "" };
    match result {
        EdgeResult::Loaded { object } | EdgeResult::Reused { object } => {
            let node = &res.objects[*object];
            let mut tag = node.how.tag();
            if let Some(h) = &node.hwcaps {
                tag.push_str(&format!(", glibc-hwcaps/{h}"));
            }
            if let Some(h) = &node.hwcap_subdir {
                tag.push_str(&format!(", hwcap subdirectory {h}"));
            }
            let seen = shown[*object];
            let path = if node.path == name {
                String::new()
            } else {
                format!(" => {}", node.path)
            };
            let _ = writeln!(
                out,
                "{prefix}{branch}{pre}{name}{path} [{tag}]{}",
                if seen { " (see above)" } else { "" }
            );
            if !seen {
                shown[*object] = true;
                errors(out, &format!("{cont}    "), &node.errors);
                let n = node.needs.len();
                for (k, e) in node.needs.iter().enumerate() {
                    edge(out, res, &e.name, &e.result, false, &cont, k + 1 == n, shown);
                }
            }
        }
        EdgeResult::Missing { searched } => {
            let _ = writeln!(out, "{prefix}{branch}{pre}{name} not found");
            search_list(out, &cont, searched);
        }
        EdgeResult::Failed { error, searched, .. } => {
            let _ = writeln!(out, "{prefix}{branch}{pre}{name} cannot be loaded: {error}");
            search_list(out, &cont, searched);
        }
    }
}

/// The fatal loader errors of an object, each with the loader's own words.
fn errors(out: &mut String, prefix: &str, errors: &[super::resolve::LoadError]) {
    for e in errors {
        let _ = writeln!(out, "{prefix}✗ {}: {}", e.kind.as_str(), e.explanation);
        let _ = writeln!(out, "{prefix}  the loader says: {}", e.loader_says);
    }
}

fn search_list(out: &mut String, prefix: &str, searched: &[super::resolve::Attempt]) {
    let _ = writeln!(out, "{prefix}    paths considered, in this order:");
    for (i, a) in searched.iter().enumerate() {
        let _ = writeln!(out, "{prefix}      {}. {}", i + 1, a.line());
    }
}

/// ldd's list: `name => path`, `name => not found`.
pub fn flat(res: &Resolution) -> String {
    let mut out = format!("{}:\n", res.root);
    if let Some(e) = &res.error {
        let _ = writeln!(out, "\terror: {e}");
        return out;
    }
    for (_, e) in res.load_errors() {
        let _ = writeln!(out, "\terror: {}", e.loader_says);
    }
    let view = res.ldd_view();
    if view.is_empty() {
        out.push_str("\tno dependencies\n");
    }
    for (name, path) in view {
        match path {
            Some(p) => {
                let _ = writeln!(out, "\t{name} => {p}");
            }
            None => {
                let _ = writeln!(out, "\t{name} => not found");
            }
        }
    }
    out
}

/// One file of `h5doctor ldd --json`, serialised straight from the resolution (no intermediate
/// JSON tree).
#[derive(Serialize)]
struct FileDoc<'a> {
    path: &'a str,
    error: Option<&'a str>,
    objects: &'a [Node],
    preloads: &'a [Edge],
    missing: Vec<MissingLibrary>,
    starts: bool,
    errors: Vec<ErrorDoc<'a>>,
    libraries: Vec<LibraryDoc>,
}

#[derive(Serialize)]
struct ErrorDoc<'a> {
    object: &'a str,
    error: &'a LoadError,
}

#[derive(Serialize)]
struct LibraryDoc {
    name: String,
    path: Option<String>,
}

impl<'a> FileDoc<'a> {
    fn of(r: &'a Resolution) -> Self {
        let missing = r.missing();
        let errors: Vec<ErrorDoc<'a>> = r.load_errors().map(|(n, e)| ErrorDoc { object: &n.path, error: e }).collect();
        FileDoc {
            path: &r.root,
            error: r.error.as_deref(),
            objects: &r.objects,
            preloads: &r.preloads,
            starts: r.error.is_none() && missing.is_empty() && errors.is_empty(),
            libraries: r.ldd_view().into_iter().map(|(name, path)| LibraryDoc { name, path }).collect(),
            missing,
            errors,
        }
    }
}

/// The JSON document of `h5doctor ldd --json`: per file, the objects with provenance, the missing
/// libraries with their search lists, the loader's fatal errors, and ldd's `libraries` map. One file
/// reads best pretty-printed; many files are for scripts: compact, each file serialised on its own
/// thread straight into bytes.
pub fn json(results: &[Resolution]) -> String {
    use rayon::prelude::*;
    if results.len() == 1 {
        let doc = serde_json::json!({ "files": [FileDoc::of(&results[0])] });
        return serde_json::to_string_pretty(&doc).expect("resolution serialises") + "\n";
    }
    let parts: Vec<Vec<u8>> = results
        .par_iter()
        .map(|r| serde_json::to_vec(&FileDoc::of(r)).expect("resolution serialises"))
        .collect();
    let mut out = Vec::with_capacity(parts.iter().map(Vec::len).sum::<usize>() + parts.len() + 16);
    out.extend_from_slice(b"{\"files\":[");
    for (i, part) in parts.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        out.extend_from_slice(part);
    }
    out.extend_from_slice(b"]}\n");
    String::from_utf8(out).expect("serde_json writes UTF-8")
}
