//! `h5doctor summarize`: many nodes' findings in one view. Each node's facts are judged on their own (by
//! the command); this module keeps what the view needs from each node ([`NodeSummary`]: its findings and
//! the aspects that tell nodes apart) and renders the cluster: every finding with the nodes it appears on
//! as a Slurm hostlist, the nodes without findings, the files skipped and why, and what differs between
//! nodes (HDF5 library, file system and mount options of each directory, kernel, loaded modules) — the
//! "one bad node" view — and each finding's fixes with the nodes where h5doctor verified them. With
//! `--login FILE` the header names the login node the directories were compared with. It does not
//! depend on which probe groups exist.

use crate::facts::Facts;
use crate::findings::{Diagnosis, Severity, REPORT_SCHEMA_VERSION};
use crate::hostlist::compress;
use serde::Serialize;
use std::collections::BTreeMap;
use std::fmt::Write as _;

/// One finding of one node, as the summary shows it.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
pub struct NodeFinding {
    pub id: String,
    pub slug: String,
    pub severity: Severity,
    pub title: String,
    /// The fixes offered on this node, as it would show them.
    pub fixes: Vec<NodeFix>,
}

/// One fix of one node's finding.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
pub struct NodeFix {
    pub text: String,
    /// Proven on that node.
    pub verified: bool,
}

/// What the summary keeps of one node's facts and findings (the facts themselves are dropped).
#[derive(Debug, Clone)]
pub struct NodeSummary {
    pub host: String,
    pub file: String,
    pub findings: Vec<NodeFinding>,
    /// (aspect, value): `kernel`, `HDF5 library`, `file system of /scratch`, `loaded modules`.
    pub aspects: Vec<(String, String)>,
    pub exit_code: u8,
}

/// A file that was named but not used, and why.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
pub struct Skipped {
    pub file: String,
    pub reason: String,
}

/// The whole sweep.
#[derive(Debug, Default)]
pub struct ClusterSummary {
    pub nodes: Vec<NodeSummary>,
    pub skipped: Vec<Skipped>,
    /// The login node whose facts the directories were compared with (`login1 (login.json)`).
    pub login: Option<String>,
}

/// The aspects of a node that tell it apart from others.
fn aspects(facts: &Facts) -> Vec<(String, String)> {
    let mut out = vec![
        ("kernel".to_string(), facts.host.kernel.clone()),
        ("operating system".to_string(), facts.host.os.clone()),
    ];
    if let Some(lib) = &facts.hdf5.library {
        let path = lib.location().map(|p| format!(" ({p})")).unwrap_or_default();
        out.push(("HDF5 library".into(), format!("{}{path}", lib.version)));
    }
    for dir in &facts.dirs {
        if let Some(fs) = &dir.filesystem {
            out.push((
                format!("file system of {}", dir.path),
                format!("{} {} ({})", fs.fs_type, fs.source, fs.options.join(",")),
            ));
        }
    }
    if !facts.modules.loaded.is_empty() {
        let names: Vec<&str> = facts.modules.loaded.iter().map(|m| m.full_name.as_str()).collect();
        out.push(("loaded modules".into(), names.join(" ")));
    }
    out.push(("h5doctor version".into(), facts.h5doctor_version.clone()));
    out
}

impl NodeSummary {
    /// Keeps of one node what the summary shows.
    pub fn of(host: String, file: String, facts: &Facts, diagnosis: &Diagnosis, strict: bool) -> Self {
        Self {
            host,
            file,
            findings: diagnosis
                .findings
                .iter()
                .map(|f| NodeFinding {
                    id: f.id.clone(),
                    slug: f.slug.clone(),
                    severity: f.severity,
                    title: f.title.clone(),
                    fixes: f
                        .fixes
                        .iter()
                        .map(|x| NodeFix {
                            text: x.text.clone(),
                            verified: x.verified,
                        })
                        .collect(),
                })
                .collect(),
            aspects: aspects(facts),
            exit_code: diagnosis.exit_code(strict),
        }
    }
}

/// One finding across nodes: the nodes it appears on and its distinct titles.
struct Grouped<'a> {
    id: &'a str,
    slug: &'a str,
    severity: Severity,
    hosts: Vec<&'a str>,
    titles: Vec<&'a str>,
    /// Each distinct fix text with the nodes where it was verified.
    fixes: Vec<(&'a str, Vec<&'a str>)>,
}

/// One aspect whose value differs between nodes: each value with its nodes.
struct Difference<'a> {
    aspect: &'a str,
    values: Vec<(&'a str, Vec<&'a str>)>,
}

impl ClusterSummary {
    /// 0 when no node has an error finding, 1 when one has (or a warning with `strict`, through each
    /// node's own code), 2 when no facts file could be used at all.
    pub fn exit_code(&self) -> u8 {
        if self.nodes.is_empty() {
            return crate::error::EXIT_TOOL_ERROR;
        }
        self.nodes.iter().map(|n| n.exit_code).max().unwrap_or(0)
    }

    fn grouped(&self) -> Vec<Grouped<'_>> {
        let mut groups: BTreeMap<(std::cmp::Reverse<Severity>, &str), Grouped> = BTreeMap::new();
        for node in &self.nodes {
            for f in &node.findings {
                let g = groups.entry((std::cmp::Reverse(f.severity), &f.slug)).or_insert_with(|| Grouped {
                    id: &f.id,
                    slug: &f.slug,
                    severity: f.severity,
                    hosts: Vec::new(),
                    titles: Vec::new(),
                    fixes: Vec::new(),
                });
                if g.hosts.last() != Some(&node.host.as_str()) {
                    g.hosts.push(&node.host);
                }
                if !g.titles.contains(&f.title.as_str()) {
                    g.titles.push(&f.title);
                }
                for fix in &f.fixes {
                    let pos = match g.fixes.iter().position(|(t, _)| *t == fix.text) {
                        Some(p) => p,
                        None => {
                            g.fixes.push((&fix.text, Vec::new()));
                            g.fixes.len() - 1
                        }
                    };
                    let verified = &mut g.fixes[pos].1;
                    if fix.verified && verified.last() != Some(&node.host.as_str()) {
                        verified.push(&node.host);
                    }
                }
            }
        }
        groups.into_values().collect()
    }

    fn clean_hosts(&self) -> Vec<&str> {
        self.nodes
            .iter()
            .filter(|n| n.findings.is_empty())
            .map(|n| n.host.as_str())
            .collect()
    }

    fn differences(&self) -> Vec<Difference<'_>> {
        let mut by_aspect: Vec<(&str, BTreeMap<&str, Vec<&str>>)> = Vec::new();
        for node in &self.nodes {
            for (aspect, value) in &node.aspects {
                let pos = match by_aspect.iter().position(|(a, _)| a == aspect) {
                    Some(p) => p,
                    None => {
                        by_aspect.push((aspect, BTreeMap::new()));
                        by_aspect.len() - 1
                    }
                };
                by_aspect[pos].1.entry(value).or_default().push(&node.host);
            }
        }
        by_aspect
            .into_iter()
            .filter_map(|(aspect, values)| {
                let mut values: Vec<(&str, Vec<&str>)> = values.into_iter().collect();
                let covered: usize = values.iter().map(|(_, h)| h.len()).sum();
                let missing: Vec<&str> = self
                    .nodes
                    .iter()
                    .map(|n| n.host.as_str())
                    .filter(|h| !values.iter().any(|(_, hosts)| hosts.contains(h)))
                    .collect();
                if covered < self.nodes.len() && !missing.is_empty() {
                    values.push(("(not recorded)", missing));
                }
                (values.len() > 1).then(|| {
                    // The most common value first: the odd nodes stand out after it.
                    values.sort_by(|a, b| b.1.len().cmp(&a.1.len()).then(a.0.cmp(b.0)));
                    Difference { aspect, values }
                })
            })
            .collect()
    }

    fn count(&self, severity: Severity) -> usize {
        self.nodes
            .iter()
            .map(|n| n.findings.iter().filter(|f| f.severity == severity).count())
            .sum()
    }

    fn all_hosts(&self) -> Vec<&str> {
        self.nodes.iter().map(|n| n.host.as_str()).collect()
    }
}

fn icon(s: Severity) -> &'static str {
    match s {
        Severity::Error => "✗",
        Severity::Warning => "!",
        Severity::Info => "i",
    }
}

/// The human summary.
pub fn human(s: &ClusterSummary) -> String {
    let mut out = String::new();
    let hosts = s.all_hosts();
    let _ = writeln!(
        out,
        "h5doctor summarize · {} node{} {}{}{}\n",
        hosts.len(),
        if hosts.len() == 1 { "" } else { "s" },
        compress(&hosts),
        match s.skipped.len() {
            0 => String::new(),
            n => format!(" · {n} file{} skipped", if n == 1 { "" } else { "s" }),
        },
        s.login
            .as_ref()
            .map(|l| format!(" · compared with login node {l}"))
            .unwrap_or_default()
    );
    for g in s.grouped() {
        let _ = writeln!(
            out,
            "{} {} {} {} on {} ({} of {})",
            icon(g.severity),
            g.severity.as_str(),
            g.id,
            g.slug,
            compress(&g.hosts),
            g.hosts.len(),
            hosts.len()
        );
        for title in g.titles.iter().take(3) {
            let _ = writeln!(out, "    {title}");
        }
        if g.titles.len() > 3 {
            let _ = writeln!(out, "    ... and {} more titles (--json has each node's)", g.titles.len() - 3);
        }
        for (text, verified) in g.fixes.iter().take(3) {
            let proof = if verified.is_empty() {
                String::new()
            } else {
                format!("   (verified on {})", compress(verified))
            };
            let _ = writeln!(out, "    fix: {text}{proof}");
        }
        if g.fixes.len() > 3 {
            let _ = writeln!(out, "    ... and {} more fixes (--json has each node's)", g.fixes.len() - 3);
        }
    }
    let clean = s.clean_hosts();
    if !clean.is_empty() {
        let _ = writeln!(out, "✓ no findings on {} ({} of {})", compress(&clean), clean.len(), hosts.len());
    }
    let differences = s.differences();
    if !differences.is_empty() {
        let _ = writeln!(out, "\ndiffers between nodes:");
        for d in &differences {
            let _ = writeln!(out, "    {}", d.aspect);
            for (value, hosts) in &d.values {
                let _ = writeln!(out, "        {:<24} {value}", compress(hosts));
            }
        }
    }
    if !s.skipped.is_empty() {
        let _ = writeln!(out, "\nskipped:");
        for k in &s.skipped {
            let _ = writeln!(out, "    {}: {}", k.file, k.reason);
        }
    }
    let plural = |n: usize, one: &str, many: &str| format!("{n} {}", if n == 1 { one } else { many });
    let _ = writeln!(
        out,
        "\n{}, {}, {} info on {} — exit {}",
        plural(s.count(Severity::Error), "error", "errors"),
        plural(s.count(Severity::Warning), "warning", "warnings"),
        s.count(Severity::Info),
        plural(hosts.len(), "node", "nodes"),
        s.exit_code()
    );
    out
}

/// `h5doctor summarize --json`: many nodes' findings (`schema_version` as the report's).
#[derive(Debug, Serialize)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
pub struct SummaryDocument<'a> {
    /// The layout version of this document (the report's).
    #[cfg_attr(test, schemars(extend("const" = REPORT_SCHEMA_VERSION)))]
    pub schema_version: u32,
    pub h5doctor_version: &'a str,
    pub summary: ClusterCounts,
    /// The login node the target directories were compared with (`summarize --login`): host (file).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub login: Option<&'a str>,
    /// Each finding with the nodes it appears on.
    pub findings: Vec<ClusterFinding<'a>>,
    /// The nodes without findings, as a Slurm hostlist.
    pub nodes_without_findings: String,
    /// The aspects whose value differs between nodes.
    pub differences: Vec<ClusterDifference<'a>>,
    /// Files named but not used, and why.
    pub skipped: &'a [Skipped],
    pub nodes: Vec<ClusterNode<'a>>,
}

/// The counts of a summary.
#[derive(Debug, Serialize)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
pub struct ClusterCounts {
    /// Every node, as a Slurm hostlist (`nid[001-064]`).
    pub nodes: String,
    pub node_count: usize,
    pub errors: usize,
    pub warnings: usize,
    pub info: usize,
    pub skipped: usize,
    pub exit_code: u8,
}

/// One finding across nodes.
#[derive(Debug, Serialize)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
pub struct ClusterFinding<'a> {
    pub id: &'a str,
    pub slug: &'a str,
    pub severity: Severity,
    /// The nodes it appears on, as a Slurm hostlist.
    pub nodes: String,
    pub node_count: usize,
    /// Its distinct titles.
    pub titles: &'a [&'a str],
    /// Its distinct fixes, each with the nodes where h5doctor verified it.
    pub fixes: Vec<ClusterFix<'a>>,
}

/// One fix of a finding across nodes.
#[derive(Debug, Serialize)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
pub struct ClusterFix<'a> {
    pub text: &'a str,
    /// The nodes where it was verified, as a Slurm hostlist (empty: nowhere).
    pub verified_on: String,
}

/// One aspect whose value differs between nodes.
#[derive(Debug, Serialize)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
pub struct ClusterDifference<'a> {
    pub aspect: &'a str,
    pub values: Vec<AspectValue<'a>>,
}

/// One value of an aspect and the nodes that have it.
#[derive(Debug, Serialize)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
pub struct AspectValue<'a> {
    pub value: &'a str,
    pub nodes: String,
}

/// One node's findings.
#[derive(Debug, Serialize)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
pub struct ClusterNode<'a> {
    pub host: &'a str,
    pub file: &'a str,
    pub exit_code: u8,
    pub findings: &'a [NodeFinding],
}

/// The JSON summary ([`SummaryDocument`]).
pub fn json(s: &ClusterSummary) -> String {
    let grouped = s.grouped();
    let differences = s.differences();
    let doc = SummaryDocument {
        schema_version: REPORT_SCHEMA_VERSION,
        h5doctor_version: env!("CARGO_PKG_VERSION"),
        summary: ClusterCounts {
            nodes: compress(&s.all_hosts()),
            node_count: s.nodes.len(),
            errors: s.count(Severity::Error),
            warnings: s.count(Severity::Warning),
            info: s.count(Severity::Info),
            skipped: s.skipped.len(),
            exit_code: s.exit_code(),
        },
        login: s.login.as_deref(),
        findings: grouped
            .iter()
            .map(|g| ClusterFinding {
                id: g.id,
                slug: g.slug,
                severity: g.severity,
                nodes: compress(&g.hosts),
                node_count: g.hosts.len(),
                titles: &g.titles,
                fixes: g
                    .fixes
                    .iter()
                    .map(|(text, verified)| ClusterFix {
                        text,
                        verified_on: compress(verified),
                    })
                    .collect(),
            })
            .collect(),
        nodes_without_findings: compress(&s.clean_hosts()),
        differences: differences
            .iter()
            .map(|d| ClusterDifference {
                aspect: d.aspect,
                values: d
                    .values
                    .iter()
                    .map(|(v, h)| AspectValue {
                        value: v,
                        nodes: compress(h),
                    })
                    .collect(),
            })
            .collect(),
        skipped: &s.skipped,
        nodes: s
            .nodes
            .iter()
            .map(|n| ClusterNode {
                host: &n.host,
                file: &n.file,
                exit_code: n.exit_code,
                findings: &n.findings,
            })
            .collect(),
    };
    serde_json::to_string_pretty(&doc).expect("summary serialises") + "\n"
}

#[cfg(test)]
mod tests {
    use super::*;

    fn node(host: &str, findings: &[(&str, Severity)], kernel: &str) -> NodeSummary {
        NodeSummary {
            host: host.into(),
            file: format!("facts/{host}.json"),
            findings: findings
                .iter()
                .map(|(slug, severity)| NodeFinding {
                    id: "H5D000".into(),
                    slug: slug.to_string(),
                    severity: *severity,
                    title: format!("{slug} on {host}"),
                    fixes: vec![NodeFix {
                        text: format!("fix {slug}"),
                        verified: host != "nid004",
                    }],
                })
                .collect(),
            aspects: vec![("kernel".into(), kernel.into())],
            exit_code: u8::from(findings.iter().any(|(_, s)| *s == Severity::Error)),
        }
    }

    #[test]
    fn findings_are_grouped_by_node_and_the_odd_node_stands_out() {
        let s = ClusterSummary {
            nodes: vec![
                node("nid001", &[], "6.1"),
                node("nid002", &[("output-fs-readonly", Severity::Error)], "6.1"),
                node("nid003", &[("lock-local-only", Severity::Warning)], "6.5"),
                node("nid004", &[("lock-local-only", Severity::Warning)], "6.1"),
            ],
            skipped: vec![Skipped {
                file: "facts/nid005.json".into(),
                reason: "empty".into(),
            }],
            login: None,
        };
        assert_eq!(s.exit_code(), 1);
        let text = human(&s);
        assert!(
            text.starts_with("h5doctor summarize · 4 nodes nid[001-004] · 1 file skipped\n"),
            "{text}"
        );
        assert!(
            text.contains("✗ error H5D000 output-fs-readonly on nid002 (1 of 4)\n    output-fs-readonly on nid002\n"),
            "{text}"
        );
        assert!(text.contains("! warning H5D000 lock-local-only on nid[003-004] (2 of 4)"), "{text}");
        assert!(text.contains("    fix: fix lock-local-only   (verified on nid003)\n"), "{text}");
        assert!(text.contains("✓ no findings on nid001 (1 of 4)"), "{text}");
        assert!(
            text.contains("    kernel\n        nid[001-002,004]         6.1\n        nid003                   6.5\n"),
            "{text}"
        );
        assert!(text.contains("skipped:\n    facts/nid005.json: empty\n"), "{text}");
        assert!(text.ends_with("1 error, 2 warnings, 0 info on 4 nodes — exit 1\n"), "{text}");
        let doc: serde_json::Value = serde_json::from_str(&json(&s)).unwrap();
        assert_eq!(doc["findings"][0]["slug"], "output-fs-readonly");
        assert_eq!(doc["findings"][1]["nodes"], "nid[003-004]");
        assert_eq!(doc["findings"][1]["fixes"][0]["verified_on"], "nid003");
        assert_eq!(doc["differences"][0]["values"][1]["nodes"], "nid003");
        assert_eq!(ClusterSummary::default().exit_code(), crate::error::EXIT_TOOL_ERROR);
    }
}
