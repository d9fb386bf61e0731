//! A static reader of Tcl modulefiles (`#%Module`): commands split into words the Tcl way (quotes,
//! braces, brackets, backslash-newline), `set` variables, `$var`/`${var}` substitution, `[file join ...]`,
//! `[module-info name|version]`; `$env(X)`, `[getenv X]` and `is-loaded` make the result conditional.

use super::Parsed;
use std::collections::HashMap;

/// Splits a script into commands, each a list of raw words (braced words keep their inner text).
fn commands(src: &str) -> Vec<Vec<(String, bool)>> {
    let chars: Vec<char> = src.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    let mut cmd: Vec<(String, bool)> = Vec::new();
    while i < chars.len() {
        let c = chars[i];
        if c == '\\' && chars.get(i + 1) == Some(&'\n') {
            i += 2;
        } else if c == ' ' || c == '\t' || c == '\r' {
            i += 1;
        } else if c == '\n' || c == ';' {
            if !cmd.is_empty() {
                out.push(std::mem::take(&mut cmd));
            }
            i += 1;
        } else if c == '#' && cmd.is_empty() {
            while i < chars.len() && chars[i] != '\n' {
                i += 1;
            }
        } else if c == '{' {
            let mut depth = 0;
            let start = i + 1;
            while i < chars.len() {
                match chars[i] {
                    '\\' => i += 1,
                    '{' => depth += 1,
                    '}' => {
                        depth -= 1;
                        if depth == 0 {
                            break;
                        }
                    }
                    _ => {}
                }
                i += 1;
            }
            cmd.push((chars[start..i.min(chars.len())].iter().collect(), true));
            i += 1;
        } else {
            // A bare or quoted word; brackets nest.
            let quoted = c == '"';
            if quoted {
                i += 1;
            }
            let mut w = String::new();
            let mut depth = 0;
            while i < chars.len() {
                let c = chars[i];
                if c == '\\' && i + 1 < chars.len() {
                    if chars[i + 1] == '\n' {
                        i += 2;
                        if !quoted && depth == 0 {
                            break;
                        }
                        continue;
                    }
                    w.push(c);
                    w.push(chars[i + 1]);
                    i += 2;
                    continue;
                }
                if c == '[' {
                    depth += 1;
                } else if c == ']' && depth > 0 {
                    depth -= 1;
                } else if depth == 0 && ((quoted && c == '"') || (!quoted && (c.is_whitespace() || c == ';'))) {
                    break;
                }
                w.push(c);
                i += 1;
            }
            if quoted {
                i += 1;
            }
            cmd.push((w, false));
        }
    }
    if !cmd.is_empty() {
        out.push(cmd);
    }
    out
}

struct Interp<'a> {
    vars: HashMap<String, String>,
    name: &'a str,
    version: Option<&'a str>,
    conditional: bool,
}

impl Interp<'_> {
    /// Substitutes `$var`, `${var}`, `$env(X)` and `[...]` in a word; `None` when something is unknown.
    fn subst(&mut self, w: &str) -> Option<String> {
        let chars: Vec<char> = w.chars().collect();
        let mut out = String::new();
        let mut i = 0;
        let mut known = true;
        while i < chars.len() {
            let c = chars[i];
            if c == '\\' && i + 1 < chars.len() {
                out.push(chars[i + 1]);
                i += 2;
            } else if c == '$' {
                i += 1;
                let name: String = if chars.get(i) == Some(&'{') {
                    let end = chars[i..].iter().position(|&c| c == '}').map_or(chars.len(), |p| i + p);
                    let n = chars[i + 1..end].iter().collect();
                    i = end + 1;
                    n
                } else {
                    let start = i;
                    while i < chars.len() && (chars[i].is_alphanumeric() || chars[i] == '_' || chars[i] == ':') {
                        i += 1;
                    }
                    chars[start..i].iter().collect()
                };
                if chars.get(i) == Some(&'(') {
                    // $env(X): the environment; read as unset.
                    i = chars[i..].iter().position(|&c| c == ')').map_or(chars.len(), |p| i + p + 1);
                    self.conditional = true;
                    known = false;
                } else if let Some(v) = self.vars.get(&name) {
                    out.push_str(v);
                } else {
                    // Unknown variables (and $ModulesCurrentModulefile) leave the value unknown.
                    known = false;
                }
            } else if c == '[' {
                let mut depth = 0;
                let start = i + 1;
                while i < chars.len() {
                    if chars[i] == '[' {
                        depth += 1;
                    } else if chars[i] == ']' {
                        depth -= 1;
                        if depth == 0 {
                            break;
                        }
                    }
                    i += 1;
                }
                let inner: String = chars[start..i.min(chars.len())].iter().collect();
                i += 1;
                match self.bracket(&inner) {
                    Some(v) => out.push_str(&v),
                    None => known = false,
                }
            } else {
                out.push(c);
                i += 1;
            }
        }
        known.then_some(out)
    }

    fn bracket(&mut self, inner: &str) -> Option<String> {
        let cmd = commands(inner).into_iter().next()?;
        let words: Vec<Option<String>> = cmd
            .iter()
            .map(|(w, braced)| if *braced { Some(w.clone()) } else { self.subst(w) })
            .collect();
        let w = |k: usize| words.get(k).cloned().flatten();
        match (w(0)?.as_str(), w(1).as_deref()) {
            ("file", Some("join")) => {
                let parts: Option<Vec<String>> = words[2..].iter().cloned().collect();
                Some(super::lua::path_join(&parts?))
            }
            ("module-info", Some("name")) => Some(match self.version {
                Some(v) => format!("{}/{v}", self.name),
                None => self.name.to_string(),
            }),
            ("module-info", Some("version")) => self.version.map(str::to_string),
            ("getenv", _) | ("is-loaded", _) | ("info", _) => {
                self.conditional = true;
                None
            }
            _ => None,
        }
    }
}

/// Reads a Tcl modulefile.
pub fn read(src: &str, name: &str, version: Option<&str>) -> Parsed {
    let mut it = Interp {
        vars: HashMap::new(),
        name,
        version,
        conditional: false,
    };
    let mut out = Parsed::default();
    run(&mut it, src, &mut out, 0);
    out.conditional |= it.conditional;
    out
}

fn run(it: &mut Interp, src: &str, out: &mut Parsed, depth: usize) {
    for cmd in commands(src) {
        let head = cmd[0].0.as_str();
        match head {
            "set" if cmd.len() >= 3 => {
                let v = if cmd[2].1 { Some(cmd[2].0.clone()) } else { it.subst(&cmd[2].0) };
                match v {
                    Some(v) => it.vars.insert(cmd[1].0.clone(), v),
                    None => it.vars.remove(&cmd[1].0),
                };
            }
            "proc" if cmd.len() >= 4 && cmd[1].0 == "ModulesHelp" => {
                // The help text: the `puts stderr "..."` lines of the body.
                let help: Vec<String> = commands(&cmd[3].0)
                    .into_iter()
                    .filter(|c| c[0].0 == "puts")
                    .filter_map(|c| c.last().map(|(w, _)| w.clone()))
                    .collect();
                if !help.is_empty() {
                    out.help = Some(help.join("\n"));
                }
            }
            "proc" => {}
            "if" | "elseif" | "else" | "foreach" | "switch" => {
                // Conditions are read as if true; the bodies (braced words after the first) are read.
                if cmd.len() > 1 && (cmd[1].0.contains("env(") || cmd[1].0.contains("is-loaded") || cmd[1].0.contains("module-info mode")) {
                    it.conditional = true;
                }
                if depth < 8 {
                    for (w, braced) in cmd.iter().skip(2) {
                        if *braced {
                            run(it, w, out, depth + 1);
                        }
                    }
                }
            }
            _ => {
                let mut args: Vec<Option<String>> = Vec::new();
                let mut k = 1;
                while k < cmd.len() {
                    let (w, braced) = &cmd[k];
                    // Options of path commands: -d X / --delim X / --duplicates.
                    if !braced && (w == "-d" || w == "--delim") {
                        k += 2;
                        continue;
                    }
                    if !braced && w.starts_with("--") {
                        k += 1;
                        continue;
                    }
                    args.push(if *braced { Some(w.clone()) } else { it.subst(w) });
                    k += 1;
                }
                out.call(head, &args);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_research_trees_tcl_forms() {
        let src = r#"#%Module1.0
proc ModulesHelp { } {
    puts stderr "HDF5 1.10.8, parallel (MPI-IO) build against Open MPI"
}
module-whatis "Name: hdf5-parallel"
module-whatis "Version: 1.10.8"
conflict hdf5
prereq   openmpi mpich
set root [file join /usr lib x86_64-linux-gnu hdf5 openmpi]
set triplet x86_64-linux-gnu
setenv         HDF5_DIR          $root
setenv         HDF5_MPI          ON
prepend-path   LD_LIBRARY_PATH   "$root/lib"
prepend-path   LIBRARY_PATH      ${root}/lib
prepend-path -d : PATH  /usr/lib/$triplet/bin \
     /opt/bin
family hdf5
if { [info exists env(SLURM_JOB_ID)] } {
    setenv H5PY_UNDER_SLURM $env(SLURM_JOB_ID)
}
if { ![is-loaded openmpi] } {
    module load openmpi
}
"#;
        let p = read(src, "hdf5-parallel", Some("1.10.8"));
        assert_eq!(p.help.as_deref(), Some("HDF5 1.10.8, parallel (MPI-IO) build against Open MPI"));
        assert_eq!(p.whatis, vec!["Name: hdf5-parallel", "Version: 1.10.8"]);
        assert_eq!(p.setenv["HDF5_DIR"], "/usr/lib/x86_64-linux-gnu/hdf5/openmpi");
        assert_eq!(p.paths["LD_LIBRARY_PATH"], vec!["/usr/lib/x86_64-linux-gnu/hdf5/openmpi/lib"]);
        assert_eq!(p.paths["PATH"], vec!["/usr/lib/x86_64-linux-gnu/bin", "/opt/bin"]);
        assert_eq!(p.conflicts, vec!["hdf5"]);
        assert_eq!(p.requires, vec!["openmpi", "mpich", "openmpi"]);
        assert_eq!(p.family.as_deref(), Some("hdf5"));
        assert!(p.conditional);
        // Cut anywhere, the reader never panics.
        for (i, _) in src.char_indices() {
            let _ = read(&src[..i], "n", None);
        }
        let _ = read("set a [file join ${b \\\n \"é", "n", None);
    }
}
