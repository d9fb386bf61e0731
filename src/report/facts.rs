//! `h5doctor facts`: the catalogue of fact names (`--list`) and one node's facts as `name = value` lines,
//! grouped by subject.

use crate::facts::catalog::{self, Scope, Subject};
use crate::facts::Facts;
use std::fmt::Write as _;

/// `--list`: every fact a rule may name, with its scope and meaning, and the values it takes when they are a
/// closed set (what a rule's `equals`, `not_equals`, `in` and `not_in` may name).
pub fn list() -> String {
    let mut out = String::new();
    for f in catalog::all() {
        let _ = write!(out, "{:<36} {:<11} {}", f.name, f.scope.as_str(), f.doc);
        if let Some(values) = f.values {
            let _ = write!(out, " Values: {}.", values.join(", "));
        }
        out.push('\n');
    }
    out
}

/// The known facts of every subject, under a heading per directory, file, binary or interpreter.
pub fn human(facts: &Facts) -> String {
    let mut out = String::new();
    for scope in Scope::ALL {
        for subject in Subject::all(facts, scope) {
            if let Some(heading) = subject.item.heading() {
                let _ = writeln!(out, "{heading}");
            }
            for def in catalog::all().filter(|f| f.scope == scope) {
                if let Some(v) = (def.read)(facts, subject.item) {
                    let _ = writeln!(out, "{} = {}", def.name, catalog::display_value(&v));
                }
            }
        }
    }
    out
}
