//! The ticket report: Markdown to paste into a support request. The user's name and home directory are
//! redacted (`<user>`, `~`); the node name stays because support needs it. The facts go along so the
//! desk can replay them with `h5doctor check --facts`.

use super::{evidence_value, group_lines, summary_counts};
use crate::facts::Facts;
use crate::findings::Diagnosis;
use std::fmt::Write as _;

/// Replaces the home directory and user name in `text`.
pub fn redact(text: &str, facts: &Facts) -> String {
    let mut s = text.to_string();
    let home = facts.host.home.trim_end_matches('/');
    if home.len() > 1 {
        s = s.replace(home, "~");
    }
    let user = &facts.host.user;
    if user.len() > 1 && user != "root" {
        s = s.replace(user.as_str(), "<user>");
    }
    s
}

pub fn render(facts: &Facts, d: &Diagnosis, exit_code: u8) -> String {
    let mut out = String::new();
    let h = &facts.host;
    let _ = writeln!(out, "## h5doctor report\n");
    let _ = writeln!(out, "- node: `{}` ({}, kernel {})", h.hostname, h.os, h.kernel);
    let _ = writeln!(
        out,
        "- h5doctor {}, exit {exit_code}: {}\n",
        facts.h5doctor_version,
        summary_counts(d)
    );
    let _ = writeln!(out, "| | group | state |\n|---|---|---|");
    for line in group_lines(facts, d) {
        let _ = writeln!(
            out,
            "| {} | {} | {} |",
            line.mark.symbol(),
            line.group.as_str(),
            line.text.replace('|', "\\|")
        );
    }
    for f in &d.findings {
        let _ = writeln!(out, "\n### {} `{}` {}: {}\n", f.severity.as_str(), f.slug, f.id, f.title);
        for e in &f.evidence {
            let _ = writeln!(out, "- {}: `{}`", e.label, evidence_value(&e.value));
        }
        for fix in &f.fixes {
            let _ = writeln!(
                out,
                "- fix{}: `{}`",
                if fix.verified { " (verified on the node)" } else { "" },
                fix.text
            );
        }
    }
    for i in &d.inconclusive {
        let _ = writeln!(out, "\n- inconclusive ({}): {}", i.group.as_str(), i.reason);
    }
    let facts_json = serde_json::to_string_pretty(facts).expect("facts serialise");
    let _ = writeln!(
        out,
        "\n<details><summary>facts (replay with <code>h5doctor check --facts FILE</code>)</summary>\n\n```json\n{facts_json}\n```\n</details>"
    );
    redact(&out, facts)
}
