//! Build script: embeds every `rules/**/*.toml` into the binary, so h5doctor carries its rule set with it
//! and runs on a node where nothing but the one file was copied.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

fn collect(dir: &Path, out: &mut Vec<PathBuf>) {
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", dir.display()))
        .map(|e| e.expect("readable dir entry").path())
        .collect();
    entries.sort();
    for path in entries {
        if path.is_dir() {
            collect(&path, out);
        } else if path.extension().is_some_and(|e| e == "toml") {
            out.push(path);
        }
    }
}

fn main() {
    let root = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").unwrap());
    let rules_dir = root.join("rules");
    println!("cargo:rerun-if-changed={}", rules_dir.display());
    let mut files = Vec::new();
    collect(&rules_dir, &mut files);
    let mut code =
        String::from("/// Shipped rule files: (path relative to rules/, contents).\npub static EMBEDDED_RULES: &[(&str, &str)] = &[\n");
    for file in &files {
        println!("cargo:rerun-if-changed={}", file.display());
        let rel = file.strip_prefix(&rules_dir).unwrap().to_string_lossy().replace('\\', "/");
        writeln!(code, "    ({rel:?}, include_str!({:?})),", file.display().to_string()).unwrap();
    }
    code.push_str("];\n");
    let out = PathBuf::from(std::env::var("OUT_DIR").unwrap()).join("embedded_rules.rs");
    std::fs::write(out, code).unwrap();
}
