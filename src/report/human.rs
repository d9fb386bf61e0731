//! The human report: a header, one ✓ ! ✗ ? line per group, each finding with its evidence and fixes,
//! and a summary. Colour only on a terminal, never with NO_COLOR set.

use super::{evidence_value, group_lines, summary_counts, Mark};
use crate::facts::Facts;
use crate::findings::Diagnosis;
use crate::findings::{Safety, Severity};
use std::fmt::Write as _;

/// ANSI styling that is a no-op when colour is off.
#[derive(Clone, Copy)]
pub struct Style {
    pub color: bool,
}

impl Style {
    /// Colour when `stdout` is a terminal and NO_COLOR is unset or empty.
    pub fn detect() -> Self {
        use std::io::IsTerminal;
        let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
        Self {
            color: std::io::stdout().is_terminal() && !no_color,
        }
    }

    fn paint(&self, code: &str, s: &str) -> String {
        if self.color {
            format!("\x1b[{code}m{s}\x1b[0m")
        } else {
            s.to_string()
        }
    }

    fn mark(&self, m: Mark) -> String {
        let code = match m {
            Mark::Ok => "32",
            Mark::Warning => "33",
            Mark::Error => "31;1",
            Mark::Inconclusive => "36",
        };
        self.paint(code, m.symbol())
    }

    fn bold(&self, s: &str) -> String {
        self.paint("1", s)
    }

    fn dim(&self, s: &str) -> String {
        self.paint("2", s)
    }
}

fn severity_mark(s: Severity) -> Mark {
    match s {
        Severity::Error => Mark::Error,
        Severity::Warning => Mark::Warning,
        Severity::Info => Mark::Ok,
    }
}

/// Renders the whole report.
pub fn render(facts: &Facts, d: &Diagnosis, exit_code: u8, style: Style) -> String {
    let mut out = String::new();
    let h = &facts.host;
    let _ = writeln!(
        out,
        "{} {} · {} · {} · kernel {}",
        style.bold("h5doctor"),
        facts.h5doctor_version,
        h.hostname,
        h.os,
        h.kernel
    );
    out.push('\n');
    for line in group_lines(facts, d) {
        let _ = writeln!(out, "{} {:<9} {}", style.mark(line.mark), line.group.as_str(), line.text);
    }
    for f in &d.findings {
        out.push('\n');
        let _ = writeln!(
            out,
            "{} {} {} {}: {}",
            style.mark(severity_mark(f.severity)),
            f.severity.as_str(),
            style.bold(&f.id),
            style.bold(&f.slug),
            f.title
        );
        let width = f.evidence.iter().map(|e| e.label.chars().count()).max().unwrap_or(0);
        for e in &f.evidence {
            match &e.value {
                // A long list (every place the loader looked, two libhdf5 paths) reads best one item a line.
                serde_json::Value::Array(items) if items.len() > 1 && evidence_value(&e.value).len() > 100 => {
                    let _ = writeln!(out, "    {}:", e.label);
                    for item in items {
                        let _ = writeln!(out, "      - {}", evidence_value(item));
                    }
                }
                v => {
                    let _ = writeln!(out, "    {:<width$}  {}", e.label, evidence_value(v));
                }
            }
        }
        for fix in &f.fixes {
            let mut tags = vec![format!("{:?}", fix.kind).to_lowercase()];
            if fix.verified {
                tags.push("verified here".into());
            }
            if fix.safety == Safety::Unsafe {
                tags.push("UNSAFE".into());
            }
            let _ = writeln!(out, "    fix ({}): {}", tags.join(", "), style.bold(&fix.text));
            if let Some(reason) = &fix.unsafe_reason {
                let _ = writeln!(out, "        unsafe: {reason}");
            }
            if let Some(note) = &fix.note {
                let _ = writeln!(out, "        {}", style.dim(note));
            }
            if let Some(v) = fix.verification.as_ref().filter(|_| !fix.verified) {
                let _ = writeln!(out, "        {}", style.dim(v));
            }
        }
        let _ = writeln!(out, "    {}", style.dim(&format!("more: {}", f.explain)));
    }
    if !d.inconclusive.is_empty() {
        out.push('\n');
        for i in &d.inconclusive {
            let target = i.scope.path().map(|p| format!(" {p}")).unwrap_or_default();
            let _ = writeln!(
                out,
                "{} {}{}: inconclusive — {}",
                style.mark(Mark::Inconclusive),
                i.group.as_str(),
                target,
                i.reason
            );
        }
    }
    let _ = writeln!(out, "\n{} — exit {exit_code}", summary_counts(d));
    out
}
