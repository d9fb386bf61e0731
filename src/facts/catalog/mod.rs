//! The catalogue of fact names: the vocabulary rules are written in.
//!
//! Each name is documented, belongs to a scope (`global` facts exist once per node, `dir` facts once per
//! target directory, `plugin_dir` facts once per plugin directory, `file` facts once per examined file,
//! `binary` facts once per `--binary`, `python` facts once per Python interpreter) and reads its value
//! out of the typed [`Facts`]. A rule that names a fact missing from this catalogue
//! fails to load, so a typo in a site rule is an error with file and line, not a rule that silently never
//! matches. This module is the engine (the [`facts!`] declaration, [`Scope`], [`Item`], lookup and
//! suggestions); the facts themselves are declared in each group's home, one module per fact namespace
//! (`crate::groups::hdf5::catalog::dir_storage`, ...), except the node-wide `env.*` facts of no group
//! ([`env`]). A new namespace adds a module and a line to its group's `catalog::NAMESPACES`, which gives
//! its place in `h5doctor facts --list`; the groups' lists are gathered from the registration list
//! (`crate::groups::groups!`), so a new group needs no line here.

/// Declares a namespace's facts, each once: its name, a short label for evidence lines, an optional value
/// domain (`in SomeEnum`: the closed set of values, from the enum's serde spelling), its doc, and how to read
/// it. Facts are grouped in sections by scope; a section names the facts (`f`) and, for a scope other than
/// `Global`, the typed subject (`d` for a directory, `b` for a binary, ...). The read expression gives an
/// `Option` of anything serialisable, `None` meaning unknown:
///
/// ```text
/// facts! {
///     Dir(f, d) {
///         "dir.fs_type" ["file system"]
///             "The file system type from /proc/self/mountinfo (ext4, lustre, nfs4, ...)."
///             => d.filesystem.as_ref().map(|fs| &fs.fs_type);
///         "dir.lock_probe" ["lock probe"] in ProbeStatus
///             "How the lock probe ended in this directory: ok, inconclusive or not-run."
///             => Some(d.lock.status);
///     }
/// }
/// ```
///
/// It expands to the module's `pub static FACTS`, listed once in its group's `catalog::NAMESPACES`.
macro_rules! facts {
    ($($scope:ident $subject:tt { $($facts:tt)* })*) => {
        pub static FACTS: &[&[$crate::facts::catalog::FactDef]] = &[$(facts!(@section $scope $subject { $($facts)* })),*];
    };
    // A global section has no subject of its own: give it a placeholder one, so one arm builds every section.
    (@section Global($f:ident) { $($facts:tt)* }) => {
        facts!(@section Global($f, _node) { $($facts)* })
    };
    (@section $scope:ident($f:ident, $item:ident) {
        $($name:literal [$label:literal] $(in $values:ident)? $doc:literal => $read:expr;)*
    }) => {
        &[$($crate::facts::catalog::FactDef {
            name: $name,
            scope: $crate::facts::catalog::Scope::$scope,
            label: $label,
            doc: $doc,
            values: facts!(@values $($values)?),
            read: |#[allow(unused_variables)] $f, $item| {
                #[allow(unused_variables)]
                let $item = facts!(@item $scope, $item)?;
                $crate::facts::catalog::known($read)
            },
        }),*]
    };
    (@values) => { None };
    (@values $values:ident) => { Some(<$values as ::strum::VariantNames>::VARIANTS) };
    (@item Global, $it:ident) => { Some($it) };
    (@item Dir, $it:ident) => { $it.dir() };
    (@item PluginDir, $it:ident) => { $it.plugin_dir() };
    (@item File, $it:ident) => { $it.file() };
    (@item Binary, $it:ident) => { $it.binary() };
    (@item Interpreter, $it:ident) => { $it.interpreter() };
}

pub(crate) use facts;

mod env;

use super::libraries::BinaryFacts;
use super::python::InterpreterFacts;
use super::{DirFacts, Facts, FileFacts, PluginDirFacts};
use crate::groups;
use serde::Serialize;
use serde_json::Value;

/// What a rule is evaluated over: the node once, or each target directory, plugin directory, examined
/// file, checked binary or Python interpreter.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize, strum::IntoStaticStr)]
#[serde(rename_all = "kebab-case")]
#[strum(serialize_all = "kebab-case")]
pub enum Scope {
    Global,
    Dir,
    PluginDir,
    File,
    /// One checked binary (`check --binary`) and its shared-library closure.
    Binary,
    /// One Python interpreter.
    Interpreter,
}

impl Scope {
    /// Every scope, in report order.
    pub const ALL: [Scope; 6] = [
        Scope::Global,
        Scope::Dir,
        Scope::PluginDir,
        Scope::File,
        Scope::Binary,
        Scope::Interpreter,
    ];

    /// The spelling in rule files (`scope = "plugin-dir"`).
    pub fn as_str(self) -> &'static str {
        self.into()
    }

    /// What one subject of the scope is, in words ("is per directory").
    pub fn per(self) -> &'static str {
        match self {
            Scope::Global => "node",
            Scope::Dir => "directory",
            Scope::PluginDir => "plugin directory",
            Scope::File => "file",
            Scope::Binary => "checked binary",
            Scope::Interpreter => "Python interpreter",
        }
    }
}

/// The first part of a fact's name (`dir` in `dir.fs_type`): a closed set, so a new namespace does not
/// compile until [`FactNamespace::scope`] says whose facts it holds, and a fact named in a namespace missing
/// here fails the catalogue's unit test (`names_are_unique_namespaced_and_documented`) instead of silently
/// counting as global.
#[derive(Debug, Clone, Copy, PartialEq, Eq, strum::EnumString, strum::IntoStaticStr, strum::EnumIter)]
#[strum(serialize_all = "snake_case")]
pub enum FactNamespace {
    Env,
    Host,
    Login,
    Targets,
    Hdf5,
    Libraries,
    Mpi,
    Modules,
    Dir,
    PluginDir,
    File,
    Binary,
    Python,
}

impl FactNamespace {
    /// The namespace of a fact name, if it has a known one.
    pub fn of_fact(name: &str) -> Option<FactNamespace> {
        name.split_once('.')?.0.parse().ok()
    }

    /// The scope of the namespace's facts (`dir.*` facts are per directory, `env.*` global).
    pub fn scope(self) -> Scope {
        match self {
            Self::Env | Self::Host | Self::Login | Self::Targets | Self::Hdf5 | Self::Libraries | Self::Mpi | Self::Modules => {
                Scope::Global
            }
            Self::Dir => Scope::Dir,
            Self::PluginDir => Scope::PluginDir,
            Self::File => Scope::File,
            Self::Binary => Scope::Binary,
            Self::Python => Scope::Interpreter,
        }
    }
}

/// The thing a subject is about.
#[derive(Debug, Clone, Copy)]
pub enum Item<'a> {
    Node,
    Dir(&'a DirFacts),
    PluginDir(&'a PluginDirFacts),
    File(&'a FileFacts),
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

    pub fn plugin_dir(self) -> Option<&'a PluginDirFacts> {
        match self {
            Item::PluginDir(d) => Some(d),
            _ => None,
        }
    }

    pub fn file(self) -> Option<&'a FileFacts> {
        match self {
            Item::File(f) => Some(f),
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

    /// A heading for `h5doctor facts` (`[/scratch (--dir)]`); none for the node.
    pub fn heading(self) -> Option<String> {
        match self {
            Item::Node => None,
            Item::Dir(d) => Some(format!("[{} ({})]", d.path, d.origin)),
            Item::PluginDir(d) => Some(format!("[plugin dir {} ({})]", d.path, d.source)),
            Item::File(f) => Some(format!("[file {}]", f.path)),
            Item::Binary(b) => Some(format!("[{} ({})]", b.path, b.origin)),
            Item::Interpreter(i) => Some(format!("[python {}]", i.label())),
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
            Scope::PluginDir => facts
                .plugins
                .dirs
                .iter()
                .map(|d| Subject {
                    facts,
                    item: Item::PluginDir(d),
                })
                .collect(),
            Scope::File => facts
                .files
                .iter()
                .map(|f| Subject {
                    facts,
                    item: Item::File(f),
                })
                .collect(),
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
    /// The closed set of values the fact takes, as its enum spells them, when it has one. Rule loading
    /// rejects an `equals`, `not_equals`, `in` or `not_in` value outside it; `h5doctor facts --list` shows it.
    pub values: Option<&'static [&'static str]>,
    /// Reads the value; global facts ignore the item, scoped facts return `None` for other items.
    pub read: fn(&Facts, Item) -> Option<Value>,
}

impl std::fmt::Debug for FactDef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name)
    }
}

/// One fact namespace's table (a module's `FACTS`: a list of sections) and its place in the catalogue.
pub struct Namespace {
    /// Where its facts come in `h5doctor facts --list` (and in each subject's `h5doctor facts` lines):
    /// namespaces are listed by this number, smallest first. The numbers keep the list's historical order,
    /// in which the groups' namespaces interleave; each is unique (a unit test checks).
    pub listed_at: u16,
    pub facts: &'static [&'static [FactDef]],
}

/// The facts of no group (`env.*`), first in the list.
static ENV: Namespace = Namespace {
    listed_at: 0,
    facts: env::FACTS,
};

/// Every group's namespaces, from its home's `catalog::NAMESPACES`, in report order of the groups.
macro_rules! namespaces_of_each_group {
    ($($variant:ident => $home:ident,)+) => {
        static GROUP_NAMESPACES: &[&[Namespace]] = &[$(groups::$home::catalog::NAMESPACES),+];
    };
}
groups::for_each_group!(namespaces_of_each_group);

/// Every namespace, in list order.
fn namespaces() -> Vec<&'static Namespace> {
    let mut all: Vec<&'static Namespace> = std::iter::once(&ENV)
        .chain(GROUP_NAMESPACES.iter().flat_map(|n| n.iter()))
        .collect();
    all.sort_by_key(|n| n.listed_at);
    all
}

/// Every fact, in list order, gathered once.
static ALL: std::sync::LazyLock<Vec<&'static FactDef>> = std::sync::LazyLock::new(|| {
    namespaces()
        .into_iter()
        .flat_map(|n| n.facts.iter())
        .flat_map(|section| section.iter())
        .collect()
});

/// The closed set of values a fact takes, when it has one.
pub fn domain(name: &str) -> Option<&'static [&'static str]> {
    lookup(name)?.values
}

/// A read fact value as JSON: `None` stays unknown.
pub fn known<T: Serialize>(value: Option<T>) -> Option<Value> {
    value.map(|v| serde_json::to_value(v).expect("fact values serialise"))
}

/// A list fact: unknown when there is nothing in it, so `exists = true` means "there is at least one".
pub fn non_empty<T: Serialize>(items: Vec<T>) -> Option<Value> {
    (!items.is_empty()).then(|| serde_json::to_value(items).expect("fact values serialise"))
}

/// Every fact a rule may name.
pub fn all() -> impl Iterator<Item = &'static FactDef> {
    ALL.iter().copied()
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
    closest(name, all().map(|f| f.name))
}

/// The candidate closest to a misspelt word (at most 3 edits away).
pub fn closest(word: &str, candidates: impl Iterator<Item = &'static str>) -> Option<&'static str> {
    candidates
        .map(|c| (edit_distance(word, c), c))
        .filter(|(d, _)| *d <= 3)
        .min()
        .map(|(_, c)| c)
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
    fn scopes_are_spelled_alike_in_serde_and_strum() {
        let spelled: Vec<&str> = Scope::ALL.iter().map(|s| s.as_str()).collect();
        assert_eq!(spelled, ["global", "dir", "plugin-dir", "file", "binary", "interpreter"]);
        for s in Scope::ALL {
            assert_eq!(serde_json::to_value(s).unwrap(), serde_json::json!(s.as_str()));
        }
    }

    #[test]
    fn names_are_unique_namespaced_and_documented() {
        let mut seen = std::collections::HashSet::new();
        for f in all() {
            assert!(seen.insert(f.name), "duplicate fact {}", f.name);
            let ns = FactNamespace::of_fact(f.name).unwrap_or_else(|| panic!("{} is in no FactNamespace", f.name));
            assert_eq!(f.scope, ns.scope(), "{} has the wrong scope", f.name);
            assert!(!f.doc.is_empty() && !f.label.is_empty(), "{} needs a label and a doc", f.name);
        }
    }

    #[test]
    fn every_fact_namespace_names_facts_and_is_spelt_as_parsed() {
        use strum::IntoEnumIterator;
        for ns in FactNamespace::iter() {
            let spelt: &str = ns.into();
            assert_eq!(FactNamespace::of_fact(&format!("{spelt}.x")), Some(ns));
            assert!(
                all().any(|f| FactNamespace::of_fact(f.name) == Some(ns)),
                "namespace {spelt} names no fact"
            );
        }
        assert_eq!(FactNamespace::of_fact("plugin_dir.exists"), Some(FactNamespace::PluginDir));
        assert_eq!(FactNamespace::of_fact("nowhere.x"), None);
    }

    #[test]
    fn every_namespace_has_its_own_place_in_the_list() {
        let mut places: Vec<(u16, &str)> = namespaces()
            .iter()
            .map(|n| {
                (
                    n.listed_at,
                    n.facts.iter().flat_map(|s| s.iter()).next().map_or("(empty)", |f| f.name),
                )
            })
            .collect();
        let count = places.len();
        places.dedup_by_key(|(at, _)| *at);
        assert_eq!(places.len(), count, "two namespaces share a place in the list: {places:?}");
    }

    #[test]
    fn every_domain_is_non_empty() {
        for f in all() {
            assert!(f.values.is_none_or(|v| !v.is_empty()), "{} has an empty value domain", f.name);
        }
    }

    #[test]
    fn misspellings_get_suggestions() {
        assert_eq!(suggest("dir.flock_ernno"), Some("dir.flock_errno"));
        assert_eq!(suggest("completely.different"), None);
    }
}
