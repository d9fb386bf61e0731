//! Judging: runs every rule over every subject of its scope and keeps the evidence of each match.

use super::{Rule, RuleSet};
use crate::facts::catalog::{FactDef, Item, Subject};
use crate::facts::{Facts, ProbeStatus};
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

/// The probes that gave no answer, from the facts.
fn inconclusive(facts: &Facts) -> Vec<Inconclusive> {
    let mut out = Vec::new();
    let ran = |g: Group| facts.groups.contains(&g);
    let unanswered = |s: ProbeStatus| matches!(s, ProbeStatus::Inconclusive | ProbeStatus::Unavailable);
    for dir in &facts.dirs {
        let scope = FindingScope::Dir { path: dir.path.clone() };
        if ran(Group::Locking) && dir.lock.status == ProbeStatus::Inconclusive {
            out.push(Inconclusive {
                group: Group::Locking,
                scope: scope.clone(),
                reason: dir.lock.reason.clone().unwrap_or_default(),
            });
        }
        if ran(Group::Hdf5) && dir.hdf5.status == ProbeStatus::Inconclusive && facts.hdf5.status == ProbeStatus::Ok {
            out.push(Inconclusive {
                group: Group::Hdf5,
                scope: scope.clone(),
                reason: dir.hdf5.reason.clone().unwrap_or_default(),
            });
        }
        if let Some(m) = dir
            .hdf5
            .matrix
            .as_ref()
            .filter(|m| ran(Group::Hdf5) && m.status == ProbeStatus::Inconclusive)
        {
            out.push(Inconclusive {
                group: Group::Hdf5,
                scope,
                reason: m.reason.clone().unwrap_or_default(),
            });
        }
    }
    if ran(Group::Libraries) {
        for b in facts.libraries.binaries.iter().filter(|b| b.error.is_some()) {
            out.push(Inconclusive {
                group: Group::Libraries,
                scope: FindingScope::Binary { path: b.path.clone() },
                reason: b.error.clone().unwrap_or_default(),
            });
        }
    }
    if ran(Group::Hdf5) && facts.hdf5.status == ProbeStatus::Inconclusive {
        out.push(Inconclusive {
            group: Group::Hdf5,
            scope: FindingScope::Node,
            reason: facts.hdf5.reason.clone().unwrap_or_else(|| "no reason recorded".into()),
        });
    }
    // An unavailable probe is already the probe-unavailable finding when the hdf5 group ran.
    let probe_finding = ran(Group::Hdf5) && facts.hdf5.status == ProbeStatus::Unavailable;
    let p = &facts.plugins;
    if ran(Group::Plugins) && unanswered(p.status) && !(p.status == ProbeStatus::Unavailable && probe_finding) {
        out.push(Inconclusive {
            group: Group::Plugins,
            scope: FindingScope::Node,
            reason: format!(
                "plugin libraries not loaded: {}",
                p.reason.as_deref().unwrap_or("no reason recorded")
            ),
        });
    }
    for f in facts.files.iter().filter(|_| ran(Group::File)) {
        if f.status == ProbeStatus::Inconclusive {
            out.push(Inconclusive {
                group: Group::File,
                scope: FindingScope::File { path: f.path.clone() },
                reason: f.reason.clone().unwrap_or_default(),
            });
            continue;
        }
        if unanswered(f.hdf5.status) && !(f.hdf5.status == ProbeStatus::Unavailable && probe_finding) {
            out.push(Inconclusive {
                group: Group::File,
                scope: FindingScope::File { path: f.path.clone() },
                reason: format!("not opened with HDF5: {}", f.hdf5.reason.as_deref().unwrap_or("no reason recorded")),
            });
        }
    }
    if ran(Group::Python) {
        out.extend(python_inconclusive(facts));
    }
    // An MPI_Init failure with a known text is a finding (mpi-pmi-failure), not an inconclusive test.
    if ran(Group::Mpi) && facts.mpi.status != ProbeStatus::Ok && facts.mpi.init_error.is_none() {
        out.push(Inconclusive {
            group: Group::Mpi,
            scope: FindingScope::Node,
            reason: facts.mpi.reason.clone().unwrap_or_else(|| "no reason recorded".into()),
        });
    }
    if ran(Group::Modules) && facts.modules.status == ProbeStatus::Inconclusive {
        out.push(Inconclusive {
            group: Group::Modules,
            scope: FindingScope::Node,
            reason: facts.modules.reason.clone().unwrap_or_else(|| "no reason recorded".into()),
        });
    }
    out
}

/// Interpreters that could not be asked about themselves, and imports that timed out or crashed.
fn python_inconclusive(facts: &Facts) -> Vec<Inconclusive> {
    let mut out = Vec::new();
    for i in &facts.python.interpreters {
        let scope = FindingScope::Interpreter {
            path: i.path.clone(),
            origin: i.origin.clone(),
        };
        // An interpreter not run as root: the refusal, what was skipped, and what the file alone tells.
        let own_reason = match &i.not_run {
            Some(not_run) => Some(not_run.summary()),
            None => i.reason.clone(),
        };
        let reasons = [
            (i.status == ProbeStatus::Inconclusive).then_some(own_reason),
            // An import not run for the interpreter's own reason (not run as root, say) is said once; an import
            // killed by a signal is a finding (h5py-import-failed, or the plugin variable that causes it).
            (i.import.status == ProbeStatus::Inconclusive
                && i.import.signal.is_none()
                && !(i.status == ProbeStatus::Inconclusive && i.import.reason == i.reason))
                .then(|| i.import.reason.clone()),
            i.import
                .always_use_mpi
                .as_ref()
                .filter(|r| r.status == ProbeStatus::Inconclusive)
                .map(|r| r.reason.clone()),
        ];
        for reason in reasons.into_iter().flatten() {
            out.push(Inconclusive {
                group: Group::Python,
                scope: scope.clone(),
                reason: reason.unwrap_or_else(|| "no reason recorded".into()),
            });
        }
    }
    out
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
