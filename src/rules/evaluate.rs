//! Judging: runs every rule over every subject of its scope and keeps the evidence of each match.

use super::{Rule, RuleSet};
use crate::facts::catalog::{FactDef, Item, Subject};
use crate::facts::groups::spec;
use crate::facts::Facts;
use crate::findings::{Diagnosis, Evidence, Finding, FindingScope, FixOut, Inconclusive};
use crate::groups::Group;

/// What a finding about this item is about, for reports.
pub fn finding_scope(item: Item) -> FindingScope {
    match item {
        Item::Node => FindingScope::Node,
        Item::Dir(d) => FindingScope::Dir { path: d.path.clone() },
        Item::PluginDir(d) => FindingScope::PluginDir { path: d.path.clone() },
        Item::File(f) => FindingScope::File { path: f.path.clone() },
        Item::Binary(b) => FindingScope::Binary { path: b.path.clone() },
        Item::Interpreter(i) => FindingScope::Interpreter {
            path: i.path.clone(),
            origin: i.origin.clone(),
        },
    }
}

fn evidence(rule: &Rule, subject: &Subject) -> Vec<Evidence> {
    let mut facts: Vec<&'static FactDef> = rule.evidence.clone();
    rule.when.facts(&mut facts);
    let mut seen = std::collections::HashSet::new();
    facts
        .into_iter()
        .filter(|f| seen.insert(f.name))
        .filter_map(|f| {
            subject.get(f.name).map(|value| Evidence {
                fact: f.name.to_string(),
                label: f.label.to_string(),
                value,
            })
        })
        .collect()
}

/// The group a run judges the rule in: its own when that group ran, else the first of its `also_in` that did.
fn judged_in(rule: &Rule, facts: &Facts) -> Option<Group> {
    std::iter::once(rule.group)
        .chain(rule.also_in.iter().copied())
        .find(|g| facts.groups.contains(g))
}

fn finding(rule: &Rule, subject: &Subject, group: Group) -> Finding {
    let severity = match &rule.escalate {
        Some((sev, cond)) if cond.matches(subject) => (*sev).max(rule.severity),
        _ => rule.severity,
    };
    let fixes = rule
        .fixes
        .iter()
        .filter(|f| f.when.as_ref().is_none_or(|c| c.matches(subject)))
        .map(|f| FixOut {
            kind: f.kind,
            text: f.text_template.render(subject),
            safety: f.safety,
            unsafe_reason: f.unsafe_reason.clone(),
            note: f.note_template.as_ref().map(|n| n.render(subject)),
            verified: f.verified_by.as_ref().is_some_and(|c| c.matches(subject)),
            verification: None,
        })
        .collect();
    Finding {
        id: rule.id.clone(),
        slug: rule.slug.clone(),
        severity,
        group,
        title: rule.title_template.render(subject),
        scope: finding_scope(subject.item),
        evidence: evidence(rule, subject),
        fixes,
        explain: format!("h5doctor explain {}", rule.slug),
    }
}

/// The probes that gave no answer, from the facts: each group that ran says which of its probes did
/// not answer (`facts::groups::GroupSpec::unanswered`, in the group's home); the list keeps its order.
fn inconclusive(facts: &Facts) -> Vec<Inconclusive> {
    let mut cases: Vec<_> = Group::all()
        .filter(|g| facts.groups.contains(g))
        .flat_map(|group| {
            (spec(group).unanswered)(facts).into_iter().map(move |u| {
                let entry = Inconclusive {
                    group,
                    scope: finding_scope(u.item),
                    reason: u.reason,
                };
                (u.at, entry)
            })
        })
        .collect();
    // Stable: entries with the same place keep the order their group gave them.
    cases.sort_by_key(|(at, _)| *at);
    cases.into_iter().map(|(_, entry)| entry).collect()
}

/// Judges the facts with the rule set. The site's module pins (from the rules dirs) are put into the
/// facts first, so fixes that name a module name the one the site chose.
pub fn diagnose(rules: &RuleSet, facts: &Facts) -> Diagnosis {
    let pinned;
    let facts = if rules.module_pins.is_empty() {
        facts
    } else {
        let mut f = facts.clone();
        f.modules.site_pins.extend(rules.module_pins.clone());
        pinned = f;
        &pinned
    };
    let mut findings = Vec::new();
    for rule in &rules.rules {
        let Some(group) = judged_in(rule, facts) else {
            continue;
        };
        for subject in Subject::all(facts, rule.scope) {
            if rule.when.matches(&subject) {
                findings.push(finding(rule, &subject, group));
            }
        }
    }
    findings.sort_by(|a, b| b.severity.cmp(&a.severity).then_with(|| a.id.cmp(&b.id)));
    Diagnosis {
        findings,
        inconclusive: inconclusive(facts),
    }
}
