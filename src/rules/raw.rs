//! Rule files as written, before validation: the serde shapes of a rule, its conditions and its fixes.
//!
//! They are generic over where their values come from ([`Origin`]). A rule file read at run time (a site
//! rules dir) is parsed from TOML with each value's byte span ([`TomlFile`]), so that every error names
//! the file, line and column. The shipped rules are JSON that build.rs made from `rules/**/*.toml` key for
//! key ([`BuiltJson`], without spans): reading that JSON costs a fraction of parsing the TOML, which was
//! half of the instructions of a `check`. Whether the shipped rules are valid is a test, not a run: the
//! unit tests of `rules::load` parse the same TOML files with spans (an invalid one fails there with its
//! file and line) and require that both readings give the same rules.

use crate::facts::catalog::Scope;
use crate::findings::{FixKind, Safety, Severity};
use serde::de::DeserializeOwned;
use serde::Deserialize;

use super::Explain;

/// Where a raw rule's values come from, and so whether they know their place in a file.
pub trait Origin {
    /// A value of type `T` as this origin gives it.
    type At<T: DeserializeOwned>: Placed<T> + DeserializeOwned;
}

/// A value that may know its byte offset in its rule file.
pub trait Placed<T> {
    fn get_ref(&self) -> &T;
    fn into_inner(self) -> T;
    /// The byte offset of the value in its rule file (0 when the origin keeps none).
    fn offset(&self) -> usize;
}

impl<T> Placed<T> for toml::Spanned<T> {
    fn get_ref(&self) -> &T {
        toml::Spanned::get_ref(self)
    }
    fn into_inner(self) -> T {
        toml::Spanned::into_inner(self)
    }
    fn offset(&self) -> usize {
        self.span().start
    }
}

/// A value without a place: the shipped rules' JSON has none (their TOML was validated by the tests).
#[derive(Debug, Deserialize)]
#[serde(transparent)]
pub struct Unplaced<T>(T);

impl<T> Placed<T> for Unplaced<T> {
    fn get_ref(&self) -> &T {
        &self.0
    }
    fn into_inner(self) -> T {
        self.0
    }
    fn offset(&self) -> usize {
        0
    }
}

/// A rule file read from TOML: every value keeps its span, for `file:line:column` errors.
pub enum TomlFile {}

impl Origin for TomlFile {
    type At<T: DeserializeOwned> = toml::Spanned<T>;
}

/// A shipped rule, from the JSON build.rs made of its TOML file.
pub enum BuiltJson {}

impl Origin for BuiltJson {
    type At<T: DeserializeOwned> = Unplaced<T>;
}

/// A rule file as written.
#[derive(Deserialize)]
#[serde(deny_unknown_fields, bound = "")]
pub struct RawRule<O: Origin> {
    pub id: O::At<String>,
    pub slug: O::At<String>,
    pub group: O::At<String>,
    #[serde(default)]
    pub also_in: Vec<O::At<String>>,
    pub scope: Scope,
    pub severity: Severity,
    pub title: O::At<String>,
    pub when: O::At<RawCondition<O>>,
    pub escalate: Option<RawEscalate<O>>,
    #[serde(default)]
    pub evidence: Vec<O::At<String>>,
    pub explain: Explain,
    #[serde(default, rename = "fix")]
    pub fixes: Vec<O::At<RawFix<O>>>,
    #[serde(default)]
    pub references: Vec<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, bound = "")]
pub struct RawEscalate<O: Origin> {
    pub severity: Severity,
    pub when: O::At<RawCondition<O>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, bound = "")]
pub struct RawFix<O: Origin> {
    pub kind: FixKind,
    pub text: String,
    pub safety: Safety,
    pub unsafe_reason: Option<String>,
    pub note: Option<String>,
    pub verified_by: Option<O::At<RawCondition<O>>>,
    pub when: Option<O::At<RawCondition<O>>>,
}

/// A condition as written, before validation.
#[derive(Deserialize)]
#[serde(deny_unknown_fields, bound = "")]
pub struct RawCondition<O: Origin> {
    #[serde(default)]
    pub all: Vec<O::At<RawCondition<O>>>,
    #[serde(default)]
    pub any: Vec<O::At<RawCondition<O>>>,
    pub not: Option<Box<O::At<RawCondition<O>>>>,
    pub fact: Option<O::At<String>>,
    pub equals: Option<O::At<toml::Value>>,
    pub not_equals: Option<O::At<toml::Value>>,
    #[serde(rename = "in")]
    pub one_of: Option<Vec<O::At<toml::Value>>>,
    pub not_in: Option<Vec<O::At<toml::Value>>>,
    pub exists: Option<bool>,
    pub contains: Option<O::At<toml::Value>>,
    pub version: Option<String>,
    pub at_least: Option<f64>,
}
