//! Titles, fix texts and notes with `{fact.name}` placeholders, compiled once when the rule loads: the
//! text is split into literal parts and resolved facts, so rendering a finding neither parses nor looks a
//! name up.

use super::condition::{resolve_fact, ConditionError};
use crate::facts::catalog::{display_value, FactDef, Scope, Subject};

/// One piece of a template.
#[derive(Debug, Clone)]
enum Part {
    Literal(String),
    /// Replaced by the subject's value (`?` when unknown; a fix that needs a fact should have a `when`
    /// that it exists).
    Fact(&'static FactDef),
}

/// A compiled template.
#[derive(Debug, Clone)]
pub struct Template {
    parts: Vec<Part>,
}

impl Template {
    /// Compiles `text`, checking that every placeholder names a fact visible from `scope`; errors are at
    /// `offset`, where `text` is in its rule file.
    pub fn compile(text: &str, offset: usize, scope: Scope) -> Result<Self, ConditionError> {
        let mut parts = Vec::new();
        let mut rest = text;
        while let Some(open) = rest.find('{') {
            let Some(close) = rest[open..].find('}') else {
                return Err(ConditionError {
                    offset,
                    message: "unclosed `{` in a title, fix text or note".into(),
                });
            };
            if open > 0 {
                parts.push(Part::Literal(rest[..open].to_string()));
            }
            parts.push(Part::Fact(resolve_fact(&rest[open + 1..open + close], offset, scope)?));
            rest = &rest[open + close + 1..];
        }
        if !rest.is_empty() {
            parts.push(Part::Literal(rest.to_string()));
        }
        Ok(Self { parts })
    }

    /// The text for one subject.
    pub fn render(&self, subject: &Subject) -> String {
        self.parts
            .iter()
            .map(|part| match part {
                Part::Literal(s) => s.clone(),
                Part::Fact(fact) => (fact.read)(subject.facts, subject.item).map_or_else(|| "?".to_string(), |v| display_value(&v)),
            })
            .collect()
    }
}
