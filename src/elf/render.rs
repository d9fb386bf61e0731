//! Output of `h5doctor ldd`: a libtree-style tree where every library says how it was found and a
//! missing one lists every place looked, ldd's flat `name => path` list, or JSON ([`LddDocument`], whose
//! JSON Schema `h5doctor schema ldd` prints).

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
    let mut prefix = String::new();
    for (k, (name, result, preload)) in top.into_iter().enumerate() {
        edge(&mut out, res, name, result, preload, &mut prefix, k + 1 == n, &mut shown);
    }
    out
}

/// One need and, where its object first appears, the object's needs below it. `prefix` is the tree's
/// indentation at this depth; it is extended for the children and restored before returning.
#[allow(clippy::too_many_arguments)]
fn edge(
    out: &mut String,
    res: &Resolution,
    name: &str,
    result: &EdgeResult,
    preload: bool,
    prefix: &mut String,
    last: bool,
    shown: &mut [bool],
) {
    let branch = if last { "└── " } else { "├── " };
    let depth = prefix.len();
    let pre = if preload { "preload " } else { "" };
    out.push_str(prefix);
    out.push_str(branch);
    out.push_str(pre);
    out.push_str(name);
    // The continuation of this branch for the lines below it.
    prefix.push_str(if last { "    " } else { "│   " });
    match result {
        EdgeResult::Loaded { object } | EdgeResult::Reused { object } => {
            let node = &res.objects[*object];
            let seen = shown[*object];
            if node.path != name {
                out.push_str(" => ");
                out.push_str(&node.path);
            }
            out.push_str(" [");
            node.how.write_tag(out);
            if let Some(h) = &node.hwcaps {
                out.push_str(", glibc-hwcaps/");
                out.push_str(h);
            }
            if let Some(h) = &node.hwcap_subdir {
                out.push_str(", hwcap subdirectory ");
                out.push_str(h);
            }
            out.push_str(if seen { "] (see above)\n" } else { "]\n" });
            if !seen {
                shown[*object] = true;
                if !node.errors.is_empty() {
                    errors(out, &format!("{prefix}    "), &node.errors);
                }
                let n = node.needs.len();
                for (k, e) in node.needs.iter().enumerate() {
                    edge(out, res, &e.name, &e.result, false, prefix, k + 1 == n, shown);
                }
            }
        }
        EdgeResult::Missing { searched } => {
            out.push_str(" not found\n");
            search_list(out, prefix, searched);
        }
        EdgeResult::Failed { error, searched, .. } => {
            let _ = writeln!(out, " cannot be loaded: {error}");
            search_list(out, prefix, searched);
        }
    }
    prefix.truncate(depth);
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

/// The layout version of `ldd --json`.
pub const LDD_SCHEMA_VERSION: u32 = 1;

/// `h5doctor ldd --json`: one entry per file given. [`json`] writes exactly this layout (a single file
/// pretty-printed through this type, many files compact and in parallel); `h5doctor schema ldd` is its
/// JSON Schema.
#[derive(Debug, Serialize)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
pub struct LddDocument<'a> {
    /// The layout version of this document.
    #[cfg_attr(test, schemars(extend("const" = LDD_SCHEMA_VERSION)))]
    pub schema_version: u32,
    pub files: Vec<LddFile<'a>>,
}

/// One file of `h5doctor ldd --json`, serialised straight from the resolution (no intermediate
/// JSON tree).
#[derive(Debug, Serialize)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
pub struct LddFile<'a> {
    /// The path as given.
    pub path: &'a str,
    /// Why the file itself could not be read; then `objects` is empty.
    pub error: Option<&'a str>,
    /// Index 0 is the file, then load order.
    pub objects: &'a [Node],
    /// Preloaded names and what became of them.
    pub preloads: &'a [Edge],
    /// Every unresolved need, first occurrence of each name, with every place looked.
    pub missing: Vec<MissingLibrary>,
    /// Whether the program would start: read, nothing missing, no loader error.
    pub starts: bool,
    /// The fatal loader errors, each on the object it concerns.
    pub errors: Vec<ObjectError<'a>>,
    /// ldd's flat view: each library name and the path it resolves to (`null`: not found).
    pub libraries: Vec<LibraryLine>,
}

/// A loader error and the object it is on.
#[derive(Debug, Serialize)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
pub struct ObjectError<'a> {
    pub object: &'a str,
    pub error: &'a LoadError,
}

/// One line of ldd's flat list.
#[derive(Debug, Serialize)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
pub struct LibraryLine {
    pub name: String,
    pub path: Option<String>,
}

impl<'a> LddFile<'a> {
    fn of(r: &'a Resolution) -> Self {
        let missing = r.missing();
        let errors: Vec<ObjectError<'a>> = r.load_errors().map(|(n, e)| ObjectError { object: &n.path, error: e }).collect();
        LddFile {
            path: &r.root,
            error: r.error.as_deref(),
            objects: &r.objects,
            preloads: &r.preloads,
            starts: r.error.is_none() && missing.is_empty() && errors.is_empty(),
            libraries: r.ldd_view().into_iter().map(|(name, path)| LibraryLine { name, path }).collect(),
            missing,
            errors,
        }
    }
}

/// The JSON document of `h5doctor ldd --json`: per file, the objects with provenance, the missing
/// libraries with their search lists, the loader's fatal errors, and ldd's `libraries` map. One file
/// reads best pretty-printed; many files are for scripts: compact, each file serialised on its own
/// thread straight into bytes (the same layout as [`LddDocument`]).
pub fn json(results: &[Resolution]) -> String {
    if results.len() == 1 {
        return json_one(&results[0]);
    }
    use rayon::prelude::*;
    let parts: Vec<Vec<u8>> = results.par_iter().map(json_part).collect();
    json_of_parts(&parts)
}

/// The JSON document of one resolution (pretty-printed).
pub fn json_one(res: &Resolution) -> String {
    let doc = LddDocument {
        schema_version: LDD_SCHEMA_VERSION,
        files: vec![LddFile::of(res)],
    };
    serde_json::to_string_pretty(&doc).expect("resolution serialises") + "\n"
}

/// One file's entry of the `files` array, compact: rendered as soon as the file is resolved, so that only
/// these bytes stay in memory (see [`json_of_parts`]).
pub fn json_part(res: &Resolution) -> Vec<u8> {
    serde_json::to_vec(&LddFile::of(res)).expect("resolution serialises")
}

/// The document around entries made by [`json_part`], in their order.
pub fn json_of_parts(parts: &[Vec<u8>]) -> String {
    let mut out = Vec::with_capacity(parts.iter().map(Vec::len).sum::<usize>() + parts.len() + 40);
    out.extend_from_slice(format!("{{\"schema_version\":{LDD_SCHEMA_VERSION},\"files\":[").as_bytes());
    for (i, part) in parts.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        out.extend_from_slice(part);
    }
    out.extend_from_slice(b"]}\n");
    String::from_utf8(out).expect("serde_json writes UTF-8")
}
