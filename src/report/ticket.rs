//! The ticket report: Markdown to paste into a support request. The user name, the home directory and the
//! scratch directories are redacted the path-aware way of [`super::redact`] (`--no-redact` keeps them, for a
//! site's internal tickets); the node name stays because support needs it. The facts go along, redacted the
//! same way, so the desk can replay them with `h5doctor check --facts` and get the same findings.

use super::redact::Redactor;
use super::{evidence_value, group_lines, summary_counts};
use crate::facts::Facts;
use crate::findings::Diagnosis;
use std::fmt::Write as _;

pub fn render(facts: &Facts, d: &Diagnosis, exit_code: u8, redact: bool) -> String {
    let r = if redact { Redactor::for_facts(facts) } else { Redactor::off() };
    let mut out = String::new();
    let h = &facts.host;
    let _ = writeln!(out, "## h5doctor report\n");
    let _ = writeln!(out, "- node: `{}` ({}, kernel {})", h.hostname, h.os, h.kernel);
    let _ = writeln!(
        out,
        "- h5doctor {}, exit {exit_code}: {}",
        facts.h5doctor_version,
        summary_counts(d)
    );
    if r.is_active() {
        let _ = writeln!(
            out,
            "- redacted: {} (home, scratch, user name)",
            r.placeholders().iter().map(|p| format!("`{p}`")).collect::<Vec<_>>().join(", ")
        );
    }
    let _ = writeln!(out, "\n| | group | state |\n|---|---|---|");
    for line in group_lines(facts, d) {
        let _ = writeln!(
            out,
            "| {} | {} | {} |",
            line.mark.symbol(),
            line.group.as_str(),
            r.text(&line.text).replace('|', "\\|")
        );
    }
    for f in &d.findings {
        let _ = writeln!(out, "\n### {} `{}` {}: {}\n", f.severity.as_str(), f.slug, f.id, r.text(&f.title));
        for e in &f.evidence {
            let field = e.fact.rsplit('.').next();
            let _ = writeln!(out, "- {}: `{}`", e.label, evidence_value(&r.value_in_field(field, &e.value)));
        }
        for fix in &f.fixes {
            let _ = writeln!(
                out,
                "- fix{}: `{}`",
                if fix.verified { " (verified on the node)" } else { "" },
                r.text(&fix.text)
            );
        }
    }
    for i in &d.inconclusive {
        let _ = writeln!(out, "\n- inconclusive ({}): {}", i.group.as_str(), r.text(&i.reason));
    }
    let facts_json = serde_json::to_string_pretty(&r.facts(facts)).expect("facts serialise");
    let _ = writeln!(
        out,
        "\n<details><summary>facts (replay with <code>h5doctor check --facts FILE</code>)</summary>\n\n```json\n{facts_json}\n```\n</details>"
    );
    out
}
