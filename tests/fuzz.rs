//! Fuzzing that stays (issue 16): property tests (proptest, stable Rust) of every parser that reads
//! untrusted input — rule TOML, facts JSON (judged and rendered too), ELF headers, dynamic sections and
//! symbol versions, ld.so.cache, HDF5 superblocks, Lua and Tcl modulefiles, Lmod's module table, and the
//! Slurm hostlists that `summarize` makes of the host names in facts files (compressed, then expanded
//! again: the same names). Each input is a real seed (the shipped rules, the rule fixtures, system
//! libraries, the repo's modulefiles) mutated, or plain arbitrary bytes. Each property: an error that says where (the file, and line and
//! column where the format has lines), never a panic (not even one a parser catches itself), never a hang
//! (every case under `CASE_LIMIT`).
//!
//! Bounded for CI: `H5DOCTOR_FUZZ_CASES` cases per property (default 256; all of them together well under a
//! minute). `scripts/dev.sh fuzz` runs many more in release mode. A failure prints the minimal input and
//! proptest's seed to replay it.

use h5doctor::elf::ldcache::LdCache;
use h5doctor::elf::symbols::SymbolInfo;
use h5doctor::elf::ElfObject;
use h5doctor::facts::Facts;
use h5doctor::groups::file::probe::superblock;
use h5doctor::groups::modules::probe::{lua, tcl, verify};
use h5doctor::rules::{check_site_file, RuleSet};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// The longest one case may take (debug build, a loaded CI machine): anything slower is a hang.
const CASE_LIMIT: Duration = Duration::from_secs(5);

fn cases() -> u32 {
    std::env::var("H5DOCTOR_FUZZ_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(256)
}

fn runner() -> TestRunner {
    TestRunner::new(Config {
        cases: cases(),
        failure_persistence: None,
        ..Config::default()
    })
}

fn repo(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(rel)
}

fn files_under(dir: &Path, ext: &str, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
        let path = entry.unwrap().path();
        if path.is_dir() {
            files_under(&path, ext, out);
        } else if path.extension().is_some_and(|e| e == ext) {
            out.push(path);
        }
    }
    out.sort();
}

/// One edit of a text.
#[derive(Debug, Clone)]
enum Edit {
    Delete(usize, usize),
    Insert(usize, String),
    DuplicateLine(usize),
    SwapLines(usize, usize),
    Truncate(usize),
}

/// Fragments that matter to the parsers, inserted at random places.
const TOKENS: &[&str] = &[
    "\"",
    "'",
    "[",
    "]",
    "{",
    "}",
    "[[",
    "]]",
    "=",
    ",",
    ":",
    "\n",
    "\\",
    "\\u{0}",
    "#",
    "--",
    "$",
    "${",
    "$env(",
    "null",
    "true",
    "-1",
    "1e309",
    "18446744073709551616",
    "-9223372036854775809",
    "0.0",
    "NaN",
    "\u{feff}",
    "é",
    "\u{10ffff}",
    "when",
    "fix",
    "severity",
    "==",
    "!=",
    " and ",
    " or ",
    "not ",
    "{{",
    "}}",
    "{{path}}",
    "prepend_path(",
    "setenv(",
    "load(",
    "module load",
    "family(",
    "conflict",
    "if {",
    "os.getenv(",
    "[[fix]]",
];

fn edit_strategy() -> impl Strategy<Value = Edit> {
    let any_pos = any::<usize>();
    prop_oneof![
        (any_pos, 1usize..64).prop_map(|(p, n)| Edit::Delete(p, n)),
        (any_pos, prop::sample::select(TOKENS)).prop_map(|(p, t)| Edit::Insert(p, t.to_string())),
        (any_pos, "\\PC{0,12}").prop_map(|(p, s)| Edit::Insert(p, s)),
        any_pos.prop_map(Edit::DuplicateLine),
        (any_pos, any_pos).prop_map(|(a, b)| Edit::SwapLines(a, b)),
        any_pos.prop_map(Edit::Truncate),
    ]
}

/// Applies edits to a text, on character boundaries (the input stays UTF-8, as a text file read as such).
fn apply(text: &str, edits: &[Edit]) -> String {
    let mut chars: Vec<char> = text.chars().collect();
    for e in edits {
        let n = chars.len().max(1);
        match e {
            Edit::Delete(p, len) => {
                let start = p % n;
                let end = (start + len).min(chars.len());
                if start < end {
                    chars.drain(start..end);
                }
            }
            Edit::Insert(p, s) => {
                let at = p % (chars.len() + 1);
                chars.splice(at..at, s.chars());
            }
            Edit::Truncate(p) => chars.truncate(p % n),
            Edit::DuplicateLine(i) | Edit::SwapLines(i, _) => {
                let s: String = chars.iter().collect();
                let mut lines: Vec<&str> = s.split('\n').collect();
                let a = i % lines.len();
                match e {
                    Edit::DuplicateLine(_) => lines.insert(a, lines[a]),
                    Edit::SwapLines(_, j) => {
                        let b = j % lines.len();
                        lines.swap(a, b);
                    }
                    _ => unreachable!(),
                }
                chars = lines.join("\n").chars().collect();
            }
        }
    }
    chars.into_iter().collect()
}

fn timed<T>(what: &str, f: impl FnOnce() -> T) -> T {
    let start = Instant::now();
    let out = f();
    let took = start.elapsed();
    assert!(took < CASE_LIMIT, "{what} took {took:?} on one input (a hang?)");
    out
}

/// Whether an error names the file, with `:LINE:COL` right after it where the parser knows the place
/// (a duplicate id or slug across files names both files instead).
fn located_in(message: &str, path: &Path) -> bool {
    let path = path.display().to_string();
    match message.find(&path) {
        Some(at) => {
            let rest = &message[at + path.len()..];
            let numbered = |s: &str| s.split(':').nth(1).is_some_and(|n| n.parse::<u32>().is_ok());
            numbered(rest) || rest.starts_with(": duplicate") || rest.starts_with(": rule ")
        }
        None => false,
    }
}

#[test]
fn rule_toml_mutations_are_located_errors_or_rules() {
    let mut seeds = Vec::new();
    files_under(&repo("rules"), "toml", &mut seeds);
    assert!(!seeds.is_empty(), "no shipped rules found under rules/");
    let texts: Vec<String> = seeds.iter().map(|p| std::fs::read_to_string(p).unwrap()).collect();
    let file = Path::new("/etc/h5doctor/rules.d/site-rule.toml");
    let strategy = (0..texts.len(), prop::collection::vec(edit_strategy(), 1..6));
    runner()
        .run(&strategy, |(seed, edits)| {
            let text = apply(&texts[seed], &edits);
            if let Err(e) = timed("parsing a site rule", || check_site_file(&file.display().to_string(), &text)) {
                let msg = e.to_string();
                prop_assert!(located_in(&msg, file), "error without file:line:col: {msg}\n--- input:\n{text}");
            }
            Ok(())
        })
        .unwrap();
    // Through the whole loader too (a site rule replacing or duplicating a shipped one), a few cases.
    let dir = tempfile::tempdir().unwrap();
    let on_disk = dir.path().join("site-rule.toml");
    let mut few = TestRunner::new(Config {
        cases: (cases() / 16).max(4),
        failure_persistence: None,
        ..Config::default()
    });
    few.run(&strategy, |(seed, edits)| {
        std::fs::write(&on_disk, apply(&texts[seed], &edits)).unwrap();
        if let Err(e) = timed("RuleSet::load", || RuleSet::load(&[dir.path().to_path_buf()])) {
            let msg = e.to_string();
            prop_assert!(located_in(&msg, &on_disk), "error without the file: {msg}");
        }
        Ok(())
    })
    .unwrap();
}

/// Judges and renders facts the way `check --facts` does: untrusted facts flow into rules and reports.
fn judge_and_render(facts: &Facts, rules: &RuleSet) {
    let d = h5doctor::rules::evaluate::diagnose(rules, facts);
    let code = d.exit_code(false);
    let _ = h5doctor::report::human::render(facts, &d, code, h5doctor::report::human::Style { color: false });
    let _ = h5doctor::report::json::render(facts, &d, code);
    let _ = h5doctor::report::ticket::render(facts, &d, code, true);
}

#[test]
fn facts_json_mutations_are_located_errors_or_judged_facts() {
    let mut seeds = Vec::new();
    files_under(&repo("tests/rules"), "json", &mut seeds);
    assert!(!seeds.is_empty(), "no facts fixtures under tests/rules/");
    let texts: Vec<String> = seeds.iter().map(|p| std::fs::read_to_string(p).unwrap()).collect();
    let rules = RuleSet::builtin().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("facts.json");
    let strategy = (0..texts.len(), prop::collection::vec(edit_strategy(), 1..6));
    let mut judged = 0u32;
    runner()
        .run(&strategy, |(seed, edits)| {
            let text = apply(&texts[seed], &edits);
            std::fs::write(&file, &text).unwrap();
            match timed("Facts::from_json_file", || Facts::from_json_file(&file)) {
                Ok(facts) => {
                    timed("judging and rendering", || judge_and_render(&facts, &rules));
                }
                Err(e) => {
                    let msg = e.to_string();
                    let line_col = msg
                        .strip_prefix(&format!("{}:", file.display()))
                        .and_then(|rest| rest.split(':').next())
                        .is_some_and(|line| line.parse::<u32>().is_ok());
                    prop_assert!(line_col, "error without file:line:col: {msg}");
                }
            }
            Ok(())
        })
        .unwrap();
    // The unmutated seeds must judge too (a mutation that keeps the JSON valid is common).
    for seed in &seeds {
        judge_and_render(&Facts::from_json_file(seed).unwrap(), &rules);
        judged += 1;
    }
    assert_eq!(judged as usize, seeds.len());
}

/// Mutates bytes: overwrite (mostly in the first 4 KiB, where the headers are), extreme values, truncation.
fn byte_edit_strategy() -> impl Strategy<Value = (Vec<(usize, u8, bool)>, Option<usize>)> {
    (
        prop::collection::vec((any::<usize>(), any::<u8>(), any::<bool>()), 1..24),
        prop::option::weighted(0.2, any::<usize>()),
    )
}

fn apply_bytes(seed: &[u8], (writes, cut): &(Vec<(usize, u8, bool)>, Option<usize>)) -> Vec<u8> {
    let mut b = seed.to_vec();
    for (pos, value, in_header) in writes {
        let span = if *in_header { b.len().min(4096) } else { b.len() };
        if span == 0 {
            break;
        }
        let at = pos % span;
        b[at] = match value % 4 {
            0 => 0xff,
            1 => 0,
            _ => *value,
        };
    }
    if let Some(c) = cut {
        b.truncate(c % (b.len() + 1));
    }
    b
}

fn no_caught_panic(r: &Result<impl Sized, String>) -> Result<(), TestCaseError> {
    if let Err(e) = r {
        prop_assert!(!e.contains("parser failed"), "a parser panicked (caught inside h5doctor): {e}");
        prop_assert!(!e.is_empty(), "an error without a message");
    }
    Ok(())
}

fn elf_seeds() -> Vec<Vec<u8>> {
    let candidates = [
        "/bin/true",
        "/usr/lib/x86_64-linux-gnu/libz.so.1",
        "/usr/lib/x86_64-linux-gnu/libm.so.6",
    ];
    let seeds: Vec<Vec<u8>> = candidates.iter().filter_map(|p| std::fs::read(p).ok()).collect();
    assert!(
        !seeds.is_empty(),
        "no ELF seeds (/bin/true, libz, libm): install coreutils and zlib1g"
    );
    seeds
}

#[test]
fn elf_mutations_are_errors_never_panics() {
    let seeds = elf_seeds();
    let strategy = (0..seeds.len(), byte_edit_strategy());
    runner()
        .run(&strategy, |(seed, edits)| {
            let bytes = apply_bytes(&seeds[seed], &edits);
            timed("ELF parsing", || -> Result<(), TestCaseError> {
                no_caught_panic(&ElfObject::parse(&bytes))?;
                no_caught_panic(&SymbolInfo::parse(&bytes))?;
                no_caught_panic(&SymbolInfo::parse_versions(&bytes))?;
                Ok(())
            })
        })
        .unwrap();
    // Arbitrary bytes behind a valid ELF magic.
    runner()
        .run(&prop::collection::vec(any::<u8>(), 0..2048), |tail| {
            let mut bytes = b"\x7fELF\x02\x01\x01\x00".to_vec();
            bytes.extend(tail);
            timed("ELF parsing", || -> Result<(), TestCaseError> {
                no_caught_panic(&ElfObject::parse(&bytes))?;
                no_caught_panic(&SymbolInfo::parse(&bytes))?;
                Ok(())
            })
        })
        .unwrap();
}

#[test]
fn ld_so_cache_mutations_are_errors_or_caches() {
    let seed = std::fs::read("/etc/ld.so.cache").expect("/etc/ld.so.cache is missing: run ldconfig");
    runner()
        .run(&byte_edit_strategy(), |edits| {
            let bytes = apply_bytes(&seed, &edits);
            let r = timed("LdCache::parse", || LdCache::parse(&bytes));
            no_caught_panic(&r)
        })
        .unwrap();
}

/// A version 0 and a version 2 superblock, as HDF5 1.8 and 1.10+ write them (offsets and lengths 8 bytes).
fn superblock_seeds() -> Vec<Vec<u8>> {
    let sig = b"\x89HDF\r\n\x1a\n";
    let mut v0 = sig.to_vec();
    v0.extend([0, 0, 0, 0, 0, 8, 8, 0, 4, 0, 16, 0, 0, 0, 0, 0]);
    for addr in [0u64, u64::MAX, 2048, u64::MAX] {
        v0.extend(addr.to_le_bytes());
    }
    v0.extend([0u8; 40]); // root group symbol table entry
    let mut v2 = sig.to_vec();
    v2.extend([2, 8, 8, 0]);
    for addr in [0u64, u64::MAX, 2048, 48] {
        v2.extend(addr.to_le_bytes());
    }
    v2.extend([0u8; 4]); // checksum
    vec![v0, v2]
}

#[test]
fn superblock_mutations_are_errors_or_superblocks() {
    let seeds = superblock_seeds();
    for s in &seeds {
        superblock::parse(s).expect("the seed superblocks parse");
    }
    let strategy = prop_oneof![
        (0..seeds.len(), byte_edit_strategy()).prop_map(move |(i, e)| apply_bytes(&seeds[i], &e)),
        prop::collection::vec(any::<u8>(), 0..128),
    ];
    runner()
        .run(&strategy, |bytes| {
            timed("superblock::parse", || match superblock::parse(&bytes) {
                Ok(sb) => {
                    let _ = superblock::driver_info_address(&bytes, &sb);
                    Ok(())
                }
                Err(e) => {
                    prop_assert!(!e.is_empty());
                    Ok(())
                }
            })?;
            let _ = superblock::guess_format(&bytes);
            Ok(())
        })
        .unwrap();
}

/// With `H5DOCTOR_FUZZ_LAST=FILE`, writes each input there before parsing it: when a parser runs out of
/// memory (an abort, which proptest cannot shrink), the file holds the input and the parser that did it.
fn note_input(parser: &str, text: &str) {
    if let Some(path) = std::env::var_os("H5DOCTOR_FUZZ_LAST") {
        let _ = std::fs::write(path, format!("{parser}\n{text}"));
    }
}

#[test]
fn modulefile_mutations_never_panic_or_hang() {
    let lua_seed = std::fs::read_to_string(repo("modulefiles/h5doctor/0.1.0.lua")).unwrap();
    let tcl_seed = std::fs::read_to_string(repo("modulefiles/h5doctor/0.1.0")).unwrap();
    // A site's HDF5 modulefile in both languages, with the constructs the parsers read.
    let lua_hdf5 = r#"help([[HDF5 1.14.3 (parallel)]])
whatis("Name: hdf5")
family("hdf5")
conflict("hdf5-serial")
depends_on("openmpi/4.1")
local root = "/opt/hdf5/1.14.3"
if os.getenv("LMOD_SYSTEM_NAME") == "x" then setenv("HDF5_USE_FILE_LOCKING", "FALSE") end
prepend_path("PATH", pathJoin(root, "bin"))
prepend_path("LD_LIBRARY_PATH", root .. "/lib")
prepend_path("MODULEPATH", "/opt/modules/hdf5")
setenv("HDF5_DIR", root)
"#;
    let tcl_hdf5 = "#%Module1.0\nmodule-whatis \"hdf5 1.14\"\nconflict hdf5-serial\nprereq openmpi\nset root /opt/hdf5/1.14.3\nif { [info exists env(X)] } { setenv HDF5_USE_FILE_LOCKING FALSE }\nprepend-path PATH $root/bin\nprepend-path LD_LIBRARY_PATH \"${root}/lib\"\nmodule use /opt/modules/hdf5\nsetenv HDF5_DIR $root\n";
    let table = "_ModuleTable_ = {\n  MTversion = 3,\n  mT = { hdf5 = { fn = \"/opt/m/hdf5/1.14.lua\", fullName = \"hdf5/1.14\", loadOrder = 1, status = \"active\", }, },\n  mpathA = { \"/opt/m\", },\n}\n";
    let seeds = [lua_seed, tcl_seed, lua_hdf5.to_string(), tcl_hdf5.to_string(), table.to_string()];
    let env: HashMap<String, String> = [("HOME", "/home/u"), ("X", "1")]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let strategy = (0..seeds.len(), prop::collection::vec(edit_strategy(), 1..8));
    runner()
        .run(&strategy, |(seed, edits)| {
            let text = apply(&seeds[seed], &edits);
            timed("modulefile parsing", || {
                note_input("lua::read", &text);
                let _ = lua::read(&text, "hdf5", Some("1.14.3"), &env);
                note_input("tcl::read", &text);
                let _ = tcl::read(&text, "hdf5", Some("1.14.3"), &env);
                note_input("lua::parse_table", &text);
                let _ = lua::parse_table(&text);
                for line in text.lines().take(50) {
                    let _ = verify::parse_line(line);
                }
            });
            Ok(())
        })
        .unwrap();
}

/// Expands a Slurm hostlist (`nid[001-003,007],login1`) the way `scontrol show hostnames` does, for the
/// round trip below: commas split items outside brackets, `a-b` inside brackets keeps `a`'s width.
fn expand_hostlist(list: &str) -> Vec<String> {
    let mut items = Vec::new();
    let (mut depth, mut start) = (0, 0);
    for (i, c) in list.char_indices() {
        match c {
            '[' => depth += 1,
            ']' => depth -= 1,
            ',' if depth == 0 => {
                items.push(&list[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    items.push(&list[start..]);
    let mut names = Vec::new();
    for item in items.into_iter().filter(|i| !i.is_empty()) {
        let Some(open) = item.find('[') else {
            names.push(item.to_string());
            continue;
        };
        let (prefix, ranges) = (&item[..open], item[open + 1..].trim_end_matches(']'));
        for range in ranges.split(',') {
            let (lo, hi) = range.split_once('-').unwrap_or((range, range));
            let width = lo.len();
            let (lo, hi): (u64, u64) = (lo.parse().unwrap(), hi.parse().unwrap());
            for n in lo..=hi {
                names.push(format!("{prefix}{n:0width$}"));
            }
        }
    }
    names
}

#[test]
fn hostlists_round_trip_through_compression() {
    // Host names as facts files from a sweep carry them (untrusted: any node can write its own), with
    // shared prefixes, zero padding of mixed widths and names without numbers.
    let name = proptest::string::string_regex("(nid|cn|gpu|a-b|x)(0{0,2}[0-9]{1,3})?").unwrap();
    let names = proptest::collection::vec(name, 0..40);
    runner()
        .run(&names, |names| {
            let list = timed("hostlist", || h5doctor::hostlist::compress(&names));
            let mut expanded = expand_hostlist(&list);
            let mut want = names.clone();
            expanded.sort();
            want.sort();
            want.dedup();
            prop_assert_eq!(&expanded, &want, "compressed to {}", list);
            Ok(())
        })
        .unwrap();
}
