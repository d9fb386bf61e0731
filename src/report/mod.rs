//! Renderers: they format a diagnosis and never decide anything. `human` prints ✓ ! ✗ for people,
//! `json` a versioned document for scripts, `ticket` Markdown to paste into a support request; `facts`,
//! `rules` and `summary` render `h5doctor facts`, `rules`/`explain` and `summarize`.

pub mod facts;
pub mod human;
pub mod json;
pub mod modules;
pub mod redact;
pub mod rules;
pub mod summary;
pub mod ticket;

use crate::facts::catalog::display_value;
use crate::facts::Facts;
use crate::findings::{Diagnosis, Severity};
use crate::groups::Group;

/// The mark of one group line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mark {
    Ok,
    Warning,
    Error,
    Inconclusive,
}

impl Mark {
    pub fn symbol(self) -> &'static str {
        match self {
            Self::Ok => "✓",
            Self::Warning => "!",
            Self::Error => "✗",
            Self::Inconclusive => "?",
        }
    }
}

/// One line per probe group: its mark and a one-line account of what was seen.
pub struct GroupLine {
    pub group: Group,
    pub mark: Mark,
    pub text: String,
}

/// The group lines of a diagnosis, in the order of [`Group`].
pub fn group_lines(facts: &Facts, diagnosis: &Diagnosis) -> Vec<GroupLine> {
    Group::all()
        .filter(|g| facts.groups.contains(g))
        .map(|group| {
            let worst = diagnosis.findings.iter().filter(|f| f.group == group).map(|f| f.severity).max();
            let inconclusive = diagnosis.inconclusive.iter().any(|i| i.group == group);
            let mark = match worst {
                Some(Severity::Error) => Mark::Error,
                Some(Severity::Warning) => Mark::Warning,
                _ if inconclusive => Mark::Inconclusive,
                _ => Mark::Ok,
            };
            GroupLine {
                group,
                mark,
                text: (crate::facts::groups::spec(group).summary)(facts),
            }
        })
        .collect()
}

/// `3 errors, 1 warning, 0 info, 1 inconclusive`.
pub fn summary_counts(d: &Diagnosis) -> String {
    let plural = |n: usize, one: &str, many: &str| format!("{n} {}", if n == 1 { one } else { many });
    format!(
        "{}, {}, {} info, {} inconclusive",
        plural(d.count(Severity::Error), "error", "errors"),
        plural(d.count(Severity::Warning), "warning", "warnings"),
        d.count(Severity::Info),
        d.inconclusive.len()
    )
}

/// A value for evidence lines, shortened to one line: the last non-empty line of a multi-line text (a
/// Python traceback ends with its exception).
pub fn evidence_value(v: &serde_json::Value) -> String {
    display_value(v)
        .lines()
        .rev()
        .find(|l| !l.trim().is_empty())
        .unwrap_or("")
        .trim()
        .to_string()
}
