//! A static reader of Tcl modulefiles (`#%Module`): commands split into words the Tcl way (quotes,
//! braces, brackets, backslash-newline), `set` variables, `$var`/`${var}` substitution, `[file join ...]`,
//! `[module-info name|version]`. `$env(X)`, `[getenv X]` and `[info exists env(X)]` read the environment
//! h5doctor runs in, as modulecmd.tcl and Lmod do (an `if` on `[info exists env(X)]` alone is decided by
//! it); `is-loaded` and `module-info mode` cannot be decided statically and make the result conditional.

use crate::groups::modules::probe::Parsed;
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
        } else if c != '\n' && c.is_whitespace() {
            // Any white space separates words, as in the word loop below (found by tests/fuzz.rs: a
            // U+2009 thin space ended a word without being consumed, and the reader looped for ever).
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
            let word_start = i;
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
            } else if i == word_start {
                // Never stand still: a character that ends a word without being one is skipped.
                i += 1;
                continue;
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
    env: &'a HashMap<String, String>,
    /// The environment variables read, in order.
    reads_env: Vec<String>,
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
                    // $env(X): the environment h5doctor runs in (unset is an error in Tcl: unknown here).
                    let end = chars[i..].iter().position(|&c| c == ')').map_or(chars.len(), |p| i + p);
                    let key: String = chars[(i + 1).min(end)..end].iter().collect();
                    i = (end + 1).min(chars.len());
                    if name == "env" {
                        match self.env.get(&key) {
                            Some(v) => out.push_str(v),
                            None => known = false,
                        }
                        self.reads_env.push(key);
                    } else {
                        known = false;
                    }
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
                Some(crate::groups::modules::probe::lua::path_join(&parts?))
            }
            ("module-info", Some("name")) => Some(match self.version {
                Some(v) => format!("{}/{v}", self.name),
                None => self.name.to_string(),
            }),
            ("module-info", Some("version")) => self.version.map(str::to_string),
            ("getenv", Some(var)) => {
                // Environment Modules' getenv: the value, else the default given, else "".
                self.reads_env.push(var.to_string());
                Some(self.env.get(var).cloned().or_else(|| w(2)).unwrap_or_default())
            }
            ("info", Some("exists")) => {
                let var = w(2)?;
                let key = var.strip_prefix("env(")?.strip_suffix(')')?;
                self.reads_env.push(key.to_string());
                Some(if self.env.contains_key(key) { "1" } else { "0" }.to_string())
            }
            ("is-loaded", _) | ("info", _) | ("module-info", Some("mode")) => {
                self.conditional = true;
                None
            }
            _ => None,
        }
    }
}

/// Reads a Tcl modulefile; `env` is the environment `$env(X)` and `getenv` read.
pub fn read(src: &str, name: &str, version: Option<&str>, env: &HashMap<String, String>) -> Parsed {
    let mut it = Interp {
        vars: HashMap::new(),
        name,
        version,
        conditional: false,
        env,
        reads_env: Vec::new(),
    };
    let mut out = Parsed::default();
    run(&mut it, src, &mut out, 0);
    out.conditional |= it.conditional;
    out.reads_env = it.reads_env;
    out
}

/// An `if` condition that only tests `[info exists env(X)]` (optionally negated with `!`): whether it
/// holds in this environment.
fn env_condition(cond: &str, it: &mut Interp) -> Option<bool> {
    let c = cond.trim();
    let (negate, c) = match c.strip_prefix('!') {
        Some(rest) => (true, rest.trim()),
        None => (false, c),
    };
    let inner = c.strip_prefix("[info exists env(")?.strip_suffix(")]")?;
    if inner.is_empty() || inner.contains(|ch: char| ch.is_whitespace() || "[]$".contains(ch)) {
        return None;
    }
    it.reads_env.push(inner.to_string());
    Some(it.env.contains_key(inner) != negate)
}

/// A condition that cannot be decided: every branch (the braced words after the first) is read, and
/// the module is marked conditional when the condition looks at the environment or the loaded modules.
fn read_all_branches(it: &mut Interp, cmd: &[(String, bool)], out: &mut Parsed, depth: usize) {
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
            "if" if cmd.len() >= 3 && !cmd.iter().any(|(w, b)| !b && w == "elseif") => {
                // `if {cond} {body} ?else {body}?`: decided when the condition is about the environment only.
                match env_condition(&cmd[1].0, it) {
                    Some(taken) => {
                        let body = if taken {
                            Some(&cmd[2])
                        } else if cmd.len() >= 5 && cmd[3].0 == "else" {
                            Some(&cmd[4])
                        } else {
                            None
                        };
                        if let Some((w, true)) = body {
                            if depth < 8 {
                                run(it, w, out, depth + 1);
                            }
                        }
                    }
                    None => read_all_branches(it, &cmd, out, depth),
                }
            }
            "if" | "elseif" | "else" | "foreach" | "switch" => read_all_branches(it, &cmd, out, depth),
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
                out.call(head, args);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unusual_white_space_separates_words_and_never_stalls_the_reader() {
        // Found by tests/fuzz.rs: this input made `commands` push empty words until memory ran out.
        let cmds = commands("_Mod\u{2009}d<\u{ffc4}%\\7");
        assert_eq!(cmds.len(), 1);
        assert_eq!(
            cmds[0].iter().map(|(w, _)| w.as_str()).collect::<Vec<_>>(),
            ["_Mod", "d<\u{ffc4}%\\7"]
        );
        assert_eq!(commands("setenv\u{a0}X 1\n").len(), 1);
    }

    #[test]
    fn env_is_read_from_the_environment_like_modulecmd() {
        let src = r#"#%Module1.0
set root [file join $env(SITE_ROOT) hdf5-3.1.0]
prepend-path LD_LIBRARY_PATH $root/lib
setenv HDF5_DIR [getenv SITE_ROOT /opt/site]
if { [info exists env(SITE_MPI)] } {
    module use /opt/mods/mpi
} else {
    module use --append /opt/mods/serial
}
"#;
        let p = read(src, "hdf5", Some("3.1.0"), &HashMap::new());
        assert!(
            p.paths.get("LD_LIBRARY_PATH").is_none_or(Vec::is_empty),
            "$env(SITE_ROOT) unset is an error in Tcl: unknown"
        );
        assert_eq!(p.setenv["HDF5_DIR"], "/opt/site");
        assert_eq!(p.modulepath, vec!["/opt/mods/serial"]);
        let env: HashMap<String, String> = [
            ("SITE_ROOT".to_string(), "/srv".to_string()),
            ("SITE_MPI".to_string(), "1".to_string()),
        ]
        .into();
        let p = read(src, "hdf5", Some("3.1.0"), &env);
        assert_eq!(p.paths["LD_LIBRARY_PATH"], vec!["/srv/hdf5-3.1.0/lib"]);
        assert_eq!(p.setenv["HDF5_DIR"], "/srv");
        assert_eq!(p.modulepath, vec!["/opt/mods/mpi"]);
        assert_eq!(p.reads_env, vec!["SITE_ROOT", "SITE_ROOT", "SITE_MPI"]);
        assert!(!p.conditional);
    }

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
        let p = read(src, "hdf5-parallel", Some("1.10.8"), &HashMap::new());
        assert_eq!(p.help.as_deref(), Some("HDF5 1.10.8, parallel (MPI-IO) build against Open MPI"));
        assert_eq!(p.whatis, vec!["Name: hdf5-parallel", "Version: 1.10.8"]);
        assert_eq!(p.setenv["HDF5_DIR"], "/usr/lib/x86_64-linux-gnu/hdf5/openmpi");
        assert_eq!(p.paths["LD_LIBRARY_PATH"], vec!["/usr/lib/x86_64-linux-gnu/hdf5/openmpi/lib"]);
        assert_eq!(p.paths["PATH"], vec!["/usr/lib/x86_64-linux-gnu/bin", "/opt/bin"]);
        assert_eq!(p.conflicts, vec!["hdf5"]);
        assert_eq!(p.requires, vec!["openmpi", "mpich", "openmpi"]);
        assert_eq!(p.family.as_deref(), Some("hdf5"));
        assert!(p.conditional, "is-loaded cannot be decided statically");
        assert!(!p.setenv.contains_key("H5PY_UNDER_SLURM"), "SLURM_JOB_ID is not set");
        let env: HashMap<String, String> = [("SLURM_JOB_ID".to_string(), "42".to_string())].into();
        assert_eq!(
            read(src, "hdf5-parallel", Some("1.10.8"), &env).setenv.get("H5PY_UNDER_SLURM"),
            None,
            "not a recorded variable"
        );
        // Cut anywhere, the reader never panics.
        for (i, _) in src.char_indices() {
            let _ = read(&src[..i], "n", None, &HashMap::new());
        }
        let _ = read("set a [file join ${b \\\n \"é", "n", None, &HashMap::new());
    }
}
