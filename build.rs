//! Build script: embeds every shipped rule file `rules/**/*.toml` into the binary, so h5doctor carries its
//! rule set with it and runs on a node where nothing but the one file was copied.
//!
//! Each file is embedded as JSON of the same data, key for key (tables, arrays, strings, numbers,
//! booleans): h5doctor reads that at every run for a fraction of what parsing the TOML cost (see
//! `src/rules/raw.rs`). A file that is not valid TOML fails the build here, with its path, line and
//! column. Whether each rule is a valid rule (known facts and groups, placeholders, fixes) is checked by
//! the unit tests of `src/rules/load.rs`, which parse the TOML files themselves (embedded for the tests
//! only, as `SHIPPED_RULES_TOML`) and require the same rules from both.

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
    let out_dir = PathBuf::from(std::env::var("OUT_DIR").unwrap());
    let rules_dir = root.join("rules");
    println!("cargo:rerun-if-changed={}", rules_dir.display());
    let mut files = Vec::new();
    collect(&rules_dir, &mut files);
    let mut json_list = String::from(
        "/// Shipped rule files: (path relative to rules/, the file's data as JSON).\npub static EMBEDDED_RULES: &[(&str, &str)] = &[\n",
    );
    let mut toml_list = String::from(
        "/// Shipped rule files: (path relative to rules/, the TOML file), for the tests.\n#[cfg(test)]\npub static SHIPPED_RULES_TOML: &[(&str, &str)] = &[\n",
    );
    for file in &files {
        println!("cargo:rerun-if-changed={}", file.display());
        let rel = file.strip_prefix(&rules_dir).unwrap().to_string_lossy().replace('\\', "/");
        let text = std::fs::read_to_string(file).unwrap_or_else(|e| panic!("cannot read rules/{rel}: {e}"));
        let data: toml::Table = toml::from_str(&text).unwrap_or_else(|e| panic!("rules/{rel} is not valid TOML: {e}"));
        let json_file = out_dir.join("rules").join(format!("{rel}.json"));
        std::fs::create_dir_all(json_file.parent().unwrap()).unwrap();
        std::fs::write(&json_file, serde_json::to_string(&data).unwrap()).unwrap();
        writeln!(json_list, "    ({rel:?}, include_str!({:?})),", json_file.display().to_string()).unwrap();
        writeln!(toml_list, "    ({rel:?}, include_str!({:?})),", file.display().to_string()).unwrap();
    }
    json_list.push_str("];\n");
    toml_list.push_str("];\n");
    std::fs::write(out_dir.join("embedded_rules.rs"), json_list + &toml_list).unwrap();
}
