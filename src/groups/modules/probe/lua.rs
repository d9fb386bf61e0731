//! A static reader of Lmod Lua modulefiles (and of Lmod's `_ModuleTable_`): a tokenizer, the module
//! functions h5doctor cares about, and a tiny evaluator for `local` variables, string concatenation,
//! `pathJoin`, `os.getenv(...) or "default"` and `myModuleName()`/`myModuleVersion()`. Nothing is run.
//!
//! `os.getenv` reads the environment h5doctor runs in, as Lmod does; an `if` whose condition is only
//! `os.getenv(...)` (or `not os.getenv(...)`) is decided by it. Conditions on `mode()`, `isloaded` and
//! the like cannot be decided statically: their blocks are read as if taken and the module is marked
//! conditional.

use crate::groups::modules::probe::Parsed;
use serde_json::{Map, Value};
use std::borrow::Cow;
use std::collections::HashMap;

/// A token, borrowing from the source (a quoted string with escapes is the only one copied): a big
/// index tokenizes thousands of files, and a copy per token was most of the tokenizer's time.
#[derive(Debug, Clone, PartialEq)]
pub enum Tok<'a> {
    Ident(&'a str),
    Str(Cow<'a, str>),
    Num(&'a str),
    Punct(&'static str),
}

/// Splits Lua source into tokens; comments are dropped, long strings and brackets handled.
pub fn tokenize(src: &str) -> Vec<Tok<'_>> {
    let b = src.as_bytes();
    let mut i = 0;
    // About one token per four bytes of a modulefile: one allocation instead of a doubling series.
    let mut out = Vec::with_capacity(src.len() / 4);
    // `[[...]]`, `[==[...]==]`: returns (content, end index) when a long bracket starts at `i`.
    let long = |i: usize| -> Option<(&str, usize)> {
        if b.get(i) != Some(&b'[') {
            return None;
        }
        let mut j = i + 1;
        while b.get(j) == Some(&b'=') {
            j += 1;
        }
        if b.get(j) != Some(&b'[') {
            return None;
        }
        let level = j - i - 1;
        // `]]` (the common case, `help([[...]])`) without building it.
        let close: Cow<'_, str> = if level == 0 {
            Cow::Borrowed("]]")
        } else {
            Cow::Owned(format!("]{}]", "=".repeat(level)))
        };
        let start = j + 1;
        let end = src[start..].find(close.as_ref()).map_or(b.len(), |p| start + p);
        Some((&src[start..end], (end + close.len()).min(b.len())))
    };
    while i < b.len() {
        let c = b[i];
        if c.is_ascii_whitespace() || c == b';' {
            i += 1;
        } else if c == b'-' && b.get(i + 1) == Some(&b'-') {
            if let Some((_, end)) = long(i + 2) {
                i = end;
            } else {
                i = src[i..].find('\n').map_or(b.len(), |p| i + p);
            }
        } else if c == b'"' || c == b'\'' {
            // Runs between escapes are copied whole: the quote, backslash and newline are ASCII, so a
            // byte scan never stops inside a UTF-8 character.
            let mut s: Option<String> = None;
            let mut j = i + 1;
            let mut run = j;
            // Jumps to the next quote, newline or backslash (memchr), not byte by byte.
            loop {
                let Some(at) = memchr::memchr3(c, b'\n', b'\\', &b[j..]) else {
                    j = b.len();
                    break;
                };
                j += at;
                if b[j] != b'\\' {
                    break;
                }
                if j + 1 < b.len() {
                    let s = s.get_or_insert_with(String::new);
                    s.push_str(&src[run..j]);
                    j += 1;
                    let ch = src[j..].chars().next().unwrap_or(' ');
                    s.push(match ch {
                        'n' => '\n',
                        't' => '\t',
                        other => other,
                    });
                    j += ch.len_utf8();
                    run = j;
                    continue;
                }
                j += 1;
            }
            out.push(Tok::Str(match s {
                Some(mut s) => {
                    s.push_str(&src[run..j]);
                    Cow::Owned(s)
                }
                None => Cow::Borrowed(&src[run..j]),
            }));
            i = j + 1;
        } else if let Some((s, end)) = if c == b'[' { long(i) } else { None } {
            // (Asked only at a `[`: most tokens are not long strings.)
            out.push(Tok::Str(Cow::Borrowed(s)));
            i = end;
        } else if c.is_ascii_alphabetic() || c == b'_' {
            let mut j = i;
            while j < b.len() && (b[j].is_ascii_alphanumeric() || b[j] == b'_' || (b[j] == b'.' && b.get(j + 1) != Some(&b'.'))) {
                j += 1;
            }
            out.push(Tok::Ident(&src[i..j]));
            i = j;
        } else if c.is_ascii_digit() {
            let mut j = i;
            while j < b.len() && (b[j].is_ascii_alphanumeric() || b[j] == b'.') {
                j += 1;
            }
            out.push(Tok::Num(&src[i..j]));
            i = j;
        } else {
            let two = src.get(i..i + 2).unwrap_or("");
            let p: &'static str = match two {
                ".." => "..",
                "==" => "==",
                "~=" => "~=",
                _ => match c {
                    b'(' => "(",
                    b')' => ")",
                    b'{' => "{",
                    b'}' => "}",
                    b'[' => "[",
                    b']' => "]",
                    b',' => ",",
                    b'=' => "=",
                    _ => "?",
                },
            };
            i += if p.len() == 2 {
                2
            } else {
                src[i..].chars().next().map_or(1, char::len_utf8)
            };
            out.push(Tok::Punct(p));
        }
    }
    out
}

/// Reads a Lua modulefile; `env` is the environment `os.getenv` reads.
pub fn read(src: &str, name: &str, version: Option<&str>, env: &HashMap<String, String>) -> Parsed {
    let toks = tokenize(src);
    let mut p = Eval {
        toks: &toks,
        pos: 0,
        vars: Vec::new(),
        name,
        version,
        conditional: false,
        env,
        reads_env: Vec::new(),
    };
    let mut out = Parsed::default();
    // Open blocks: `Some(true)` for an `if` whose taken branch is known (its other branches are skipped).
    let mut blocks: Vec<Option<bool>> = Vec::new();
    while p.pos < toks.len() {
        match &toks[p.pos] {
            Tok::Ident("local") => {
                p.pos += 1;
                if let (Some(Tok::Ident(var)), Some(Tok::Punct("="))) = (toks.get(p.pos), toks.get(p.pos + 1)) {
                    p.pos += 2;
                    p.assign(var);
                }
            }
            Tok::Ident(var) if toks.get(p.pos + 1) == Some(&Tok::Punct("=")) && !var.contains('.') => {
                p.pos += 2;
                p.assign(var);
            }
            Tok::Ident(kw) if *kw == "if" || (*kw == "elseif" && blocks.last() != Some(&Some(true))) => {
                if *kw == "if" {
                    blocks.push(None);
                }
                match p.decide() {
                    Some(false) => {
                        if p.skip_branch() {
                            blocks.pop();
                        }
                    }
                    Some(true) => {
                        if let Some(b) = blocks.last_mut() {
                            *b = Some(true);
                        }
                        p.pos += 1;
                    }
                    None => {
                        p.conditional_block();
                        p.pos += 1;
                    }
                }
            }
            Tok::Ident("else" | "elseif") if blocks.last() == Some(&Some(true)) => {
                // The branch taken is known and was read: the rest of this `if` is not.
                p.skip_to_end();
                blocks.pop();
            }
            Tok::Ident("function" | "do") => {
                blocks.push(None);
                p.pos += 1;
            }
            Tok::Ident("end") => {
                blocks.pop();
                p.pos += 1;
            }
            Tok::Ident(f) if matches!(toks.get(p.pos + 1), Some(Tok::Punct("(" | "{")) | Some(Tok::Str(_))) => {
                let f: &str = f;
                p.pos += 1;
                let args = p.call_args();
                out.call(f, args);
            }
            _ => p.pos += 1,
        }
    }
    out.conditional |= p.conditional;
    out.reads_env = p.reads_env;
    out
}

/// Values borrow from the modulefile's tokens, the environment or the module's name where they can: a
/// literal passed to a module function is copied only when the result keeps it.
type Val<'a> = Cow<'a, str>;

struct Eval<'a> {
    toks: &'a [Tok<'a>],
    pos: usize,
    /// The variables assigned so far (a modulefile has a handful: a list, not a hash map).
    vars: Vec<(&'a str, Val<'a>)>,
    name: &'a str,
    version: Option<&'a str>,
    conditional: bool,
    env: &'a HashMap<String, String>,
    /// The variables `os.getenv` read, in order.
    reads_env: Vec<String>,
}

impl<'a> Eval<'a> {
    fn peek(&self) -> Option<&Tok<'a>> {
        self.toks.get(self.pos)
    }

    /// At `if`/`elseif`: when the condition is only `os.getenv("X")` (parenthesised or negated with
    /// `not`), whether it holds in this environment; `None` when it cannot be decided statically.
    fn decide(&mut self) -> Option<bool> {
        let mut j = self.pos + 1;
        let mut negate = false;
        let mut parens = 0;
        loop {
            match self.toks.get(j) {
                Some(Tok::Punct("(")) => parens += 1,
                Some(Tok::Ident("not")) => negate = !negate,
                _ => break,
            }
            j += 1;
        }
        let (Some(Tok::Ident(f)), Some(Tok::Punct("(")), Some(Tok::Str(var)), Some(Tok::Punct(")"))) =
            (self.toks.get(j), self.toks.get(j + 1), self.toks.get(j + 2), self.toks.get(j + 3))
        else {
            return None;
        };
        if *f != "os.getenv" {
            return None;
        }
        j += 4;
        for _ in 0..parens {
            if self.toks.get(j) != Some(&Tok::Punct(")")) {
                return None;
            }
            j += 1;
        }
        if !matches!(self.toks.get(j), Some(Tok::Ident("then"))) {
            return None;
        }
        self.reads_env.push(var.to_string());
        self.pos = j;
        Some(self.env.contains_key(var.as_ref()) != negate)
    }

    /// `var = expr`: the value, or forgotten when it cannot be computed.
    fn assign(&mut self, var: &'a str) {
        let value = self.expr();
        let at = self.vars.iter().position(|(k, _)| *k == var);
        match (value, at) {
            (Some(v), Some(at)) => self.vars[at].1 = v,
            (Some(v), None) => self.vars.push((var, v)),
            (None, Some(at)) => {
                self.vars.swap_remove(at);
            }
            (None, None) => {}
        }
    }

    /// Skips to the `end` that closes the current block (consumed).
    fn skip_to_end(&mut self) {
        let mut depth = 0usize;
        self.pos += 1;
        while let Some(t) = self.toks.get(self.pos) {
            self.pos += 1;
            if let Tok::Ident(k) = t {
                match *k {
                    "if" | "function" | "do" => depth += 1,
                    "end" if depth == 0 => return,
                    "end" => depth -= 1,
                    _ => {}
                }
            }
        }
    }

    /// Skips a branch whose condition is false: to its `elseif`, past its `else`, or past its `end`
    /// (blocks opened by `if`, `function`, `do` nest). True when the whole `if` ended.
    fn skip_branch(&mut self) -> bool {
        let mut depth = 0usize;
        self.pos += 1;
        while let Some(t) = self.toks.get(self.pos) {
            if let Tok::Ident(k) = t {
                match *k {
                    "if" | "function" | "do" => depth += 1,
                    "end" if depth == 0 => {
                        self.pos += 1;
                        return true;
                    }
                    "end" => depth -= 1,
                    "else" if depth == 0 => {
                        self.pos += 1;
                        return false;
                    }
                    // The next branch is judged on its own.
                    "elseif" if depth == 0 => return false,
                    _ => {}
                }
            }
            self.pos += 1;
        }
        true
    }

    /// `if` conditions that look at the environment make the file's result conditional.
    fn conditional_block(&mut self) {
        let mut j = self.pos;
        while let Some(t) = self.toks.get(j) {
            match t {
                Tok::Ident("then") => break,
                Tok::Ident("mode" | "isloaded" | "isAvail" | "isPending" | "is_spider") => self.conditional = true,
                _ => {}
            }
            j += 1;
        }
    }

    /// Arguments of a call at `(`, `{` or a bare string; positional values (None when not computable).
    fn call_args(&mut self) -> Vec<Option<Val<'a>>> {
        let toks = self.toks;
        match toks.get(self.pos) {
            Some(Tok::Str(s)) => {
                self.pos += 1;
                vec![Some(Cow::Borrowed(s.as_ref()))]
            }
            Some(Tok::Punct(open @ ("(" | "{"))) => {
                let close = if *open == "(" { ")" } else { "}" };
                self.pos += 1;
                let mut args = Vec::new();
                loop {
                    match self.peek() {
                        None => break,
                        Some(Tok::Punct(p)) if *p == close => {
                            self.pos += 1;
                            break;
                        }
                        Some(Tok::Punct(",")) => self.pos += 1,
                        // `delim=";"`, `priority=100` in the table form: skip the key, drop the value.
                        Some(Tok::Ident(_)) if self.toks.get(self.pos + 1) == Some(&Tok::Punct("=")) => {
                            self.pos += 2;
                            let _ = self.expr();
                        }
                        _ => {
                            let before = self.pos;
                            args.push(self.expr());
                            if self.pos == before {
                                self.pos += 1;
                            }
                        }
                    }
                }
                args
            }
            _ => Vec::new(),
        }
    }

    /// expr := term (`..` term)* (`or` expr)?
    fn expr(&mut self) -> Option<Val<'a>> {
        let mut acc = self.term();
        while self.peek() == Some(&Tok::Punct("..")) {
            self.pos += 1;
            let t = self.term();
            acc = match (acc, t) {
                (Some(a), Some(b)) => Some(Cow::Owned(a.into_owned() + &b)),
                _ => None,
            };
        }
        if matches!(self.peek(), Some(Tok::Ident("or"))) {
            self.pos += 1;
            let alt = self.expr();
            return acc.or(alt);
        }
        acc
    }

    fn term(&mut self) -> Option<Val<'a>> {
        let toks = self.toks;
        let t = toks.get(self.pos)?;
        self.pos += 1;
        match t {
            Tok::Str(s) => Some(Cow::Borrowed(s.as_ref())),
            Tok::Num(s) => Some(Cow::Borrowed(s)),
            Tok::Punct("(") => {
                let v = self.expr();
                if self.peek() == Some(&Tok::Punct(")")) {
                    self.pos += 1;
                }
                v
            }
            Tok::Ident(id) if matches!(self.peek(), Some(Tok::Punct("(")) | Some(Tok::Str(_))) => {
                let args = self.call_args();
                match *id {
                    "pathJoin" => {
                        let parts: Option<Vec<Val<'a>>> = args.into_iter().collect();
                        parts.map(|p| Cow::Owned(path_join(&p)))
                    }
                    "os.getenv" => {
                        // The environment h5doctor runs in, as Lmod reads it; unset is nil.
                        let var = args.into_iter().next().flatten()?;
                        let value = self.env.get(var.as_ref()).map(|v| Cow::Borrowed(v.as_str()));
                        self.reads_env.push(var.into_owned());
                        value
                    }
                    "myModuleName" => Some(Cow::Borrowed(self.name)),
                    "myModuleVersion" => self.version.map(Cow::Borrowed),
                    "myModuleFullName" | "myModuleUsrName" => Some(match self.version {
                        Some(v) => Cow::Owned(format!("{}/{v}", self.name)),
                        None => Cow::Borrowed(self.name),
                    }),
                    _ => None,
                }
            }
            Tok::Ident(id) => self.vars.iter().rev().find(|(k, _)| k == id).map(|(_, v)| v.clone()),
            _ => None,
        }
    }
}

/// Lmod's pathJoin: joins with `/`, squeezing doubled slashes.
pub fn path_join<S: AsRef<str>>(parts: &[S]) -> String {
    let mut out = String::with_capacity(parts.iter().map(|p| p.as_ref().len() + 1).sum());
    for (i, part) in parts.iter().map(AsRef::as_ref).filter(|p| !p.is_empty()).enumerate() {
        // The `/` between parts, then the part, each `/` that would follow another one dropped: the
        // runs between slashes are copied whole.
        let mut rest = part;
        if i > 0 && !out.ends_with('/') {
            out.push('/');
        }
        while let Some(at) = rest.find('/') {
            out.push_str(&rest[..at]);
            if !out.ends_with('/') {
                out.push('/');
            }
            rest = &rest[at + 1..];
        }
        out.push_str(rest);
    }
    out
}

/// Parses a Lua table constructor (Lmod's `_ModuleTable_ = {...}`) into JSON: keyed fields become an
/// object, positional ones `"1"`, `"2"`, ...
pub fn parse_table(src: &str) -> Option<Value> {
    let toks = tokenize(src);
    let start = toks.iter().position(|t| *t == Tok::Punct("{"))?;
    let mut pos = start;
    table(&toks, &mut pos)
}

fn table(toks: &[Tok<'_>], pos: &mut usize) -> Option<Value> {
    if toks.get(*pos) != Some(&Tok::Punct("{")) {
        return None;
    }
    *pos += 1;
    let mut map = Map::new();
    let mut n = 0;
    loop {
        match toks.get(*pos)? {
            Tok::Punct("}") => {
                *pos += 1;
                return Some(Value::Object(map));
            }
            Tok::Punct(",") => *pos += 1,
            Tok::Punct("[") => {
                // ["key"] = value
                let key = match toks.get(*pos + 1)? {
                    Tok::Str(s) => s.to_string(),
                    Tok::Num(s) | Tok::Ident(s) => s.to_string(),
                    _ => return None,
                };
                *pos += 4; // [ key ] =
                let v = value(toks, pos)?;
                map.insert(key, v);
            }
            Tok::Ident(k) if toks.get(*pos + 1) == Some(&Tok::Punct("=")) => {
                let key = k.to_string();
                *pos += 2;
                let v = value(toks, pos)?;
                map.insert(key, v);
            }
            _ => {
                n += 1;
                let v = value(toks, pos)?;
                map.insert(n.to_string(), v);
            }
        }
    }
}

fn value(toks: &[Tok<'_>], pos: &mut usize) -> Option<Value> {
    match toks.get(*pos)? {
        Tok::Punct("{") => table(toks, pos),
        Tok::Str(s) => {
            *pos += 1;
            Some(Value::String(s.to_string()))
        }
        Tok::Num(s) => {
            *pos += 1;
            Some(
                s.parse::<f64>()
                    .ok()
                    .and_then(|f| serde_json::Number::from_f64(f).map(Value::Number))
                    .unwrap_or(Value::Null),
            )
        }
        Tok::Ident(s) => {
            *pos += 1;
            Some(match *s {
                "true" => Value::Bool(true),
                "false" => Value::Bool(false),
                _ => Value::Null,
            })
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn path_join_squeezes_slashes_as_lmod_does() {
        let join = |parts: &[&str]| path_join(&parts.iter().map(|p| p.to_string()).collect::<Vec<_>>());
        assert_eq!(join(&["/opt/", "/hdf5", "", "lib/"]), "/opt/hdf5/lib/");
        assert_eq!(join(&["", "a", "b"]), "a/b");
        assert_eq!(join(&["//x//", "y"]), "/x/y");
        assert_eq!(join(&["é", "ü/"]), "é/ü/");
        assert_eq!(join(&[]), "");
    }

    #[test]
    fn evaluates_locals_pathjoin_and_concatenation() {
        let src = r#"-- -*- lua -*-
help([[HDF5 1.10.8, parallel
build]])
whatis("Name: hdf5-parallel")
family("hdf5")
local version = myModuleVersion()          -- "1.10.8"
local root = pathJoin("/usr/lib/x86_64-linux-gnu/hdf5", "openmpi")
setenv("HDF5_DIR", root)
setenv("HDF5_VARIANT", version)
prepend_path("LD_LIBRARY_PATH", pathJoin(root, "lib"))
prepend_path{"PATH", root .. "/bin", delim=":", priority=100}
local site = pathJoin(os.getenv("H5_SITE") or "/opt/site", "x")
prepend_path("PYTHONPATH", site)
depends_on("python/3.11.2")
prereq("openmpi")
conflict("hdf5")
"#;
        let none = HashMap::new();
        let p = read(src, "hdf5-parallel", Some("1.10.8"), &none);
        assert_eq!(p.help.as_deref(), Some("HDF5 1.10.8, parallel\nbuild"));
        assert_eq!(p.family.as_deref(), Some("hdf5"));
        assert_eq!(p.setenv["HDF5_DIR"], "/usr/lib/x86_64-linux-gnu/hdf5/openmpi");
        assert_eq!(p.setenv["HDF5_VARIANT"], "1.10.8");
        assert_eq!(p.paths["LD_LIBRARY_PATH"], vec!["/usr/lib/x86_64-linux-gnu/hdf5/openmpi/lib"]);
        assert_eq!(p.paths["PATH"], vec!["/usr/lib/x86_64-linux-gnu/hdf5/openmpi/bin"]);
        assert_eq!(p.paths["PYTHONPATH"], vec!["/opt/site/x"]);
        assert_eq!(p.reads_env, vec!["H5_SITE"]);
        assert!(!p.conditional, "os.getenv is read from the environment, not a condition");
        // With the variable set, Lmod uses it, and so does the reader.
        let env: HashMap<String, String> = [("H5_SITE".to_string(), "/srv/site".to_string())].into();
        assert_eq!(
            read(src, "hdf5-parallel", Some("1.10.8"), &env).paths["PYTHONPATH"],
            vec!["/srv/site/x"]
        );
        assert_eq!(p.requires, vec!["python/3.11.2", "openmpi"]);
        assert_eq!(p.conflicts, vec!["hdf5"]);
    }

    #[test]
    fn odd_input_never_panics() {
        let samples = [
            "help([[unterminated",
            "\"\\é\"",
            "local = = (",
            "prepend_path{",
            "x = [==[ a ]=]",
            "é\\ü",
            "pathJoin(",
            "--[[",
            "setenv(\"HDF5_DIR\" .. )",
            "{[\"a\"",
            "'\\",
        ];
        for s in samples {
            let _ = read(s, "n", None, &HashMap::new());
            let _ = parse_table(s);
            let _ = super::super::tcl::read(s, "n", None, &HashMap::new());
        }
        // Every prefix of a real file, cut anywhere (on char boundaries).
        let real = "local r = pathJoin(\"/a\", \"é\")\nsetenv(\"HDF5_DIR\", r .. \"/x\")\nhelp([==[ü]==])\n";
        for (i, _) in real.char_indices() {
            let _ = read(&real[..i], "n", Some("1"), &HashMap::new());
            let _ = parse_table(&real[..i]);
            let _ = super::super::tcl::read(&real[..i], "n", None, &HashMap::new());
        }
    }

    #[test]
    fn if_on_os_getenv_is_decided_by_the_environment_and_mode_stays_conditional() {
        let src = r#"
if (os.getenv("SLURM_JOB_ID")) then
  setenv("HDF5_VARIANT", "slurm")
elseif os.getenv("PBS_JOBID") then
  setenv("HDF5_VARIANT", "pbs")
else
  setenv("HDF5_VARIANT", "none")
end
if not os.getenv("SITE") then prepend_path("PATH", "/fallback/bin") end
root = os.getenv("SITE") or "/opt"
prepend_path("MODULEPATH", pathJoin(root, "Compiler/gcc/12"))
"#;
        let env =
            |pairs: &[(&str, &str)]| -> HashMap<String, String> { pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect() };
        let p = read(src, "gcc", Some("12"), &env(&[]));
        assert_eq!(p.setenv["HDF5_VARIANT"], "none");
        assert_eq!(p.paths["PATH"], vec!["/fallback/bin"]);
        assert_eq!(p.modulepath, vec!["/opt/Compiler/gcc/12"]);
        assert!(!p.conditional);
        let p = read(src, "gcc", Some("12"), &env(&[("PBS_JOBID", "1"), ("SITE", "/s")]));
        assert_eq!(p.setenv["HDF5_VARIANT"], "pbs");
        assert!(!p.paths.contains_key("PATH"));
        assert_eq!(p.modulepath, vec!["/s/Compiler/gcc/12"]);
        let p = read(src, "gcc", Some("12"), &env(&[("SLURM_JOB_ID", "7"), ("PBS_JOBID", "1")]));
        assert_eq!(p.setenv["HDF5_VARIANT"], "slurm");
        let p = read("if mode() == \"load\" then setenv(\"HDF5_DIR\", \"/x\") end", "n", None, &env(&[]));
        assert!(p.conditional);
        assert_eq!(p.setenv["HDF5_DIR"], "/x");
    }

    #[test]
    fn parses_module_tables() {
        let t = r#"_ModuleTable_ = { MTversion = 3, family = { hdf5 = "hdf5-parallel", }, mT = { ["hdf5-parallel"] = { fn = "/m/hdf5-parallel/1.10.8.lua", fullName = "hdf5-parallel/1.10.8", loadOrder = 2, status = "active", }, }, mpathA = { "/m", }, }"#;
        let v = parse_table(t).unwrap();
        assert_eq!(v["mT"]["hdf5-parallel"]["fullName"], "hdf5-parallel/1.10.8");
        assert_eq!(v["mT"]["hdf5-parallel"]["loadOrder"], 2.0);
        assert_eq!(v["mpathA"]["1"], "/m");
    }
}
