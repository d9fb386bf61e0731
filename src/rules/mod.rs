//! Rules: data files that turn facts into findings.
//!
//! One TOML file per rule (see `rules/README.md` for the format). The shipped rules are embedded in the
//! binary; site rules dirs (`$H5DOCTOR_RULES_PATH`, `/etc/h5doctor/rules.d`) add rules, replace shipped
//! ones (same id) or silence them (`silence = "slug"` with a mandatory `reason`). Loading validates every
//! file completely and reports errors as `file:line:column: message`.

pub mod condition;
pub mod evaluate;
mod load;
mod raw;
pub mod template;

pub use load::{check_site_file, default_site_dirs, RuleSet, Silence};

use crate::facts::catalog::{FactDef, Scope};
use crate::findings::{FixKind, Safety, Severity};
use crate::groups::Group;
use condition::Condition;
use serde::{Deserialize, Serialize};

/// The explanation sections shown by `h5doctor explain` (ruff's what / why / example / known problems).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Explain {
    pub what: String,
    pub why: String,
    pub example: String,
    #[serde(default)]
    pub known_problems: String,
}

/// One fix of a rule.
#[derive(Debug, Clone)]
pub struct Fix {
    pub kind: FixKind,
    /// The exact text to type, as written (with `{fact.name}` placeholders).
    pub text: String,
    pub safety: Safety,
    /// Why the fix is unsafe; required when `safety = "unsafe"`.
    pub unsafe_reason: Option<String>,
    /// A caveat or where the fix applies ("h5py >= 3.5").
    pub note: Option<String>,
    /// `text` and `note` compiled, for rendering.
    pub text_template: template::Template,
    pub note_template: Option<template::Template>,
    /// A condition on the subject's facts that proves the fix works here (a re-run that succeeded).
    pub verified_by: Option<Condition>,
    /// The fix is offered only where this holds.
    pub when: Option<Condition>,
}

/// A validated rule.
#[derive(Debug, Clone)]
pub struct Rule {
    pub id: String,
    pub slug: String,
    /// The probe group the rule belongs to.
    pub group: Group,
    /// Other groups whose runs also judge it (its `when` reads their facts too): `mpi` for a rule that
    /// `check`'s libraries group and `mpio-test` can both prove.
    pub also_in: Vec<Group>,
    pub scope: Scope,
    pub severity: Severity,
    /// A one-line title; `{fact.name}` placeholders are replaced with the subject's values.
    pub title: String,
    /// `title` compiled, for rendering.
    pub title_template: template::Template,
    pub when: Condition,
    /// A stricter severity where a further condition holds (e.g. HDF5 actually failed).
    pub escalate: Option<(Severity, Condition)>,
    /// Facts shown as evidence, in order (the facts of `when` follow).
    pub evidence: Vec<&'static FactDef>,
    pub explain: Explain,
    pub fixes: Vec<Fix>,
    pub references: Vec<String>,
    /// Where the rule was loaded from (`builtin:locking/lock-unsupported.toml` or a path).
    pub source: String,
    /// Shipped with h5doctor (embedded), as opposed to a site rule.
    pub shipped: bool,
}
