//! `h5doctor rules` (the rules in force, as a table) and `h5doctor explain` (one rule's documentation).
//! Both render views the command layer builds from the loaded rules ([`RulesDocument`], [`RuleDoc`]), so
//! the report stage never reads the rule engine's types.

use super::json::RulesDocument;
use crate::findings::{FixKind, Safety, Severity};
use crate::groups::Group;
use std::fmt::Write as _;

/// One rule as `h5doctor explain` shows it.
pub struct RuleDoc<'a> {
    pub id: &'a str,
    pub slug: &'a str,
    pub severity: Severity,
    pub group: Group,
    pub title: &'a str,
    /// What it means, why it breaks, an example, known problems (empty ones are left out).
    pub what: &'a str,
    pub why: &'a str,
    pub example: &'a str,
    pub known_problems: &'a str,
    pub fixes: Vec<FixDoc<'a>>,
    pub references: &'a [String],
    /// Where the rule was loaded from.
    pub source: &'a str,
}

/// One fix of a rule, as written in its file.
pub struct FixDoc<'a> {
    pub kind: FixKind,
    pub text: &'a str,
    pub safety: Safety,
    pub unsafe_reason: Option<&'a str>,
    pub note: Option<&'a str>,
}

/// `h5doctor rules`: one line per rule in force, then one per silence with its reason.
pub fn table(doc: &RulesDocument) -> String {
    let mut out = String::new();
    for r in &doc.rules {
        let _ = writeln!(
            out,
            "{:<8} {:<24} {:<8} {:<9} {}",
            r.id,
            r.slug,
            r.severity.as_str(),
            r.group.as_str(),
            r.title
        );
    }
    for s in &doc.silenced {
        let _ = writeln!(out, "silenced {:<22} {} ({})", s.rule, s.reason, s.source);
    }
    out
}

/// `h5doctor explain`: the rule's heading, its explanation sections, fixes, references and source.
pub fn explain(r: &RuleDoc) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{} {} ({}, group {})\n{}\n",
        r.id,
        r.slug,
        r.severity.as_str(),
        r.group,
        r.title
    );
    let sections = [
        ("What it means", r.what),
        ("Why it breaks", r.why),
        ("Example", r.example),
        ("Known problems", r.known_problems),
    ];
    for (heading, body) in sections.iter().filter(|(_, b)| !b.trim().is_empty()) {
        let _ = writeln!(out, "## {heading}\n{}\n", body.trim_end());
    }
    let _ = writeln!(out, "## Fixes");
    for f in &r.fixes {
        let safety = match (f.safety, f.unsafe_reason) {
            (Safety::Unsafe, Some(reason)) => format!(" — UNSAFE: {reason}"),
            _ => String::new(),
        };
        let _ = writeln!(out, "- ({}) {}{safety}", f.kind.as_str(), f.text);
        if let Some(n) = f.note {
            let _ = writeln!(out, "    {n}");
        }
    }
    if !r.references.is_empty() {
        let _ = writeln!(out, "\n## References");
        for reference in r.references {
            let _ = writeln!(out, "- {reference}");
        }
    }
    let _ = writeln!(out, "\nsource: {}", r.source);
    out
}
