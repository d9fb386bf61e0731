//! The catalogue of fact names: the vocabulary rules are written in.
//!
//! Each name is documented, belongs to a scope (`global` facts exist once per node, `dir` facts once per
//! target directory, `binary` facts once per `--binary`, `interpreter` facts once per Python interpreter)
//! and reads its value out of the typed [`Facts`]. A rule that names a fact missing
//! from this catalogue fails to load, so a typo in a site rule is an error with file and line, not a rule
//! that silently never matches. One module per fact namespace (`env.*`, `hdf5.*`, `dir.*`); a new
//! namespace adds a module and a line to [`TABLES`].

mod binary;
mod dir;
mod dir_h5py;
mod env;
mod hdf5;
mod libraries;
mod mpi;
mod python;

use super::libraries::BinaryFacts;
use super::python::InterpreterFacts;
use super::{DirFacts, Facts};
use crate::findings::FindingScope;
use serde::Serialize;
use serde_json::Value;

/// What a rule is evaluated over: the node once, each target directory, or each Python interpreter.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Scope {
    Global,
    Dir,
    /// One checked binary (`check --binary`) and its shared-library closure.
    Binary,
    /// One Python interpreter.
    Interpreter,
}

impl Scope {
    /// The fact namespace of a scoped fact (`dir.*`, `binary.*`, `python.*`); global facts use any other.
    pub fn namespace(self) -> Option<&'static str> {
        match self {
            Scope::Global => None,
            Scope::Dir => Some("dir"),
            Scope::Binary => Some("binary"),
            Scope::Interpreter => Some("python"),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Scope::Global => "global",
            Scope::Dir => "dir",
            Scope::Binary => "binary",
            Scope::Interpreter => "interpreter",
        }
    }
}

/// The thing a subject is about.
#[derive(Debug, Clone, Copy)]
pub enum Item<'a> {
    Node,
    Dir(&'a DirFacts),
    Binary(&'a BinaryFacts),
    Interpreter(&'a InterpreterFacts),
}

impl<'a> Item<'a> {
    pub fn dir(self) -> Option<&'a DirFacts> {
        match self {
            Item::Dir(d) => Some(d),
            _ => None,
        }
    }

    pub fn binary(self) -> Option<&'a BinaryFacts> {
        match self {
            Item::Binary(b) => Some(b),
            _ => None,
        }
    }

    pub fn interpreter(self) -> Option<&'a InterpreterFacts> {
        match self {
            Item::Interpreter(i) => Some(i),
            _ => None,
        }
    }

    /// What a finding about this item is about, for reports.
    pub fn finding_scope(self) -> FindingScope {
        match self {
            Item::Node => FindingScope::Node,
            Item::Dir(d) => FindingScope::Dir { path: d.path.clone() },
            Item::Binary(b) => FindingScope::Binary { path: b.path.clone() },
            Item::Interpreter(i) => FindingScope::Interpreter {
                path: i.path.clone(),
                origin: i.origin.clone(),
            },
        }
    }
}

/// One thing a rule is evaluated against: the node, or one of its directories.
#[derive(Debug, Clone, Copy)]
pub struct Subject<'a> {
    pub facts: &'a Facts,
    pub item: Item<'a>,
}

impl<'a> Subject<'a> {
    /// Every subject of a scope in these facts.
    pub fn all(facts: &'a Facts, scope: Scope) -> Vec<Subject<'a>> {
        match scope {
            Scope::Global => vec![Subject { facts, item: Item::Node }],
            Scope::Dir => facts.dirs.iter().map(|d| Subject { facts, item: Item::Dir(d) }).collect(),
            Scope::Binary => facts
                .libraries
                .binaries
                .iter()
                .map(|b| Subject {
                    facts,
                    item: Item::Binary(b),
                })
                .collect(),
            Scope::Interpreter => facts
                .python
                .interpreters
                .iter()
                .map(|i| Subject {
                    facts,
                    item: Item::Interpreter(i),
                })
                .collect(),
        }
    }

    /// The value of a fact for this subject; `None` when it is unknown (not probed, or not applicable).
    pub fn get(&self, name: &str) -> Option<Value> {
        let def = lookup(name)?;
        (def.read)(self.facts, self.item)
    }
}

/// The definition of one fact name.
pub struct FactDef {
    pub name: &'static str,
    pub scope: Scope,
    /// A short label for evidence lines ("file system", "flock errno").
    pub label: &'static str,
    pub doc: &'static str,
    /// Reads the value; global facts ignore the item, scoped facts return `None` for other items.
    pub read: fn(&Facts, Item) -> Option<Value>,
}

impl std::fmt::Debug for FactDef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name)
    }
}

/// Every fact table, one per namespace.
static TABLES: &[&[FactDef]] = &[
    env::FACTS,
    hdf5::FACTS,
    libraries::FACTS,
    dir::FACTS,
    dir_h5py::FACTS,
    binary::FACTS,
    python::FACTS,
    mpi::FACTS,
];

/// Every fact a rule may name.
pub fn all() -> impl Iterator<Item = &'static FactDef> {
    TABLES.iter().flat_map(|t| t.iter())
}

/// The definition of a fact name, if it exists.
pub fn lookup(name: &str) -> Option<&'static FactDef> {
    all().find(|f| f.name == name)
}

/// Levenshtein distance between two short strings.
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut prev = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let cur = row[j + 1];
            row[j + 1] = (prev + usize::from(ca != *cb)).min(row[j] + 1).min(cur + 1);
            prev = cur;
        }
    }
    row[b.len()]
}

/// The known fact name closest to a misspelt one, for "did you mean" hints.
pub fn suggest(name: &str) -> Option<&'static str> {
    all()
        .map(|f| (edit_distance(name, f.name), f.name))
        .filter(|(d, _)| *d <= 3)
        .min()
        .map(|(_, n)| n)
}

/// Renders a fact value for a person: strings bare, lists comma-separated.
pub fn display_value(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Array(items) => items.iter().map(display_value).collect::<Vec<_>>().join(","),
        Value::Null => "-".into(),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_namespaced_and_documented() {
        let mut seen = std::collections::HashSet::new();
        for f in all() {
            assert!(seen.insert(f.name), "duplicate fact {}", f.name);
            let ns = f.name.split('.').next().unwrap();
            let scoped = [Scope::Dir, Scope::Binary, Scope::Interpreter]
                .into_iter()
                .find(|s| s.namespace() == Some(ns));
            assert_eq!(scoped.unwrap_or(Scope::Global), f.scope, "{} has the wrong scope", f.name);
            assert!(!f.doc.is_empty() && !f.label.is_empty(), "{} needs a label and a doc", f.name);
        }
    }

    #[test]
    fn misspellings_get_suggestions() {
        assert_eq!(suggest("dir.flock_ernno"), Some("dir.flock_errno"));
        assert_eq!(suggest("completely.different"), None);
    }
}
