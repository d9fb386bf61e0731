//! The JSON documents h5doctor writes, as types: the report of `check --json` and `mpio-test --json` (the
//! findings, the inconclusive probes and the facts) and the rule list of `rules --json`. Their JSON Schema
//! (`h5doctor schema`, docs/h5doctor.schema.json) is derived from these types, so the schema and the
//! output cannot drift apart.

use crate::facts::Facts;
use crate::findings::{Diagnosis, Finding, Inconclusive, Severity, REPORT_SCHEMA_VERSION};
use crate::groups::Group;
use schemars::JsonSchema;
use serde::Serialize;

/// The layout version of `rules --json`.
pub const RULES_SCHEMA_VERSION: u32 = 1;

/// The report of `h5doctor check --json` (and `mpio-test --json`): replayable with `check --facts FILE`.
#[derive(Debug, Serialize, JsonSchema)]
pub struct Report<'a> {
    /// The layout version of this document; a field that changes meaning or disappears bumps it.
    #[schemars(extend("const" = REPORT_SCHEMA_VERSION))]
    pub schema_version: u32,
    /// The h5doctor that wrote the report.
    pub h5doctor_version: &'a str,
    pub summary: Summary,
    /// Errors first, then warnings, then info.
    pub findings: &'a [Finding],
    /// Probes that could not give an answer; never counted as errors.
    pub inconclusive: &'a [Inconclusive],
    /// The facts the findings were judged from.
    pub facts: &'a Facts,
}

/// The counts of a report and its exit code.
#[derive(Debug, Serialize, JsonSchema)]
pub struct Summary {
    pub errors: usize,
    pub warnings: usize,
    pub info: usize,
    pub inconclusive: usize,
    /// 0 no error findings, 1 error findings (or warnings with --strict), 2 h5doctor itself failed.
    pub exit_code: u8,
}

pub fn render(facts: &Facts, d: &Diagnosis, exit_code: u8) -> String {
    let doc = Report {
        schema_version: REPORT_SCHEMA_VERSION,
        h5doctor_version: env!("CARGO_PKG_VERSION"),
        summary: Summary {
            errors: d.count(Severity::Error),
            warnings: d.count(Severity::Warning),
            info: d.count(Severity::Info),
            inconclusive: d.inconclusive.len(),
            exit_code,
        },
        findings: &d.findings,
        inconclusive: &d.inconclusive,
        facts,
    };
    serde_json::to_string_pretty(&doc).expect("report serialises") + "\n"
}

/// `h5doctor rules --json`: the rules in force and the silenced ones.
#[derive(Debug, Serialize, JsonSchema)]
pub struct RulesDocument {
    /// The layout version of this document.
    #[schemars(extend("const" = RULES_SCHEMA_VERSION))]
    pub schema_version: u32,
    pub rules: Vec<RuleEntry>,
    pub silenced: Vec<SilencedRule>,
}

/// One rule in force.
#[derive(Debug, Serialize, JsonSchema)]
pub struct RuleEntry {
    pub id: String,
    pub slug: String,
    pub severity: Severity,
    pub group: Group,
    /// The title with its `{fact}` placeholders.
    pub title: String,
    /// `builtin:<group>/<slug>.toml` or the site rule file.
    pub source: String,
}

/// A rule a site silenced, with its reason.
#[derive(Debug, Serialize, JsonSchema)]
pub struct SilencedRule {
    /// The slug or id silenced.
    pub rule: String,
    pub reason: String,
    pub source: String,
}

impl RulesDocument {
    pub fn new(rules: Vec<RuleEntry>, silenced: Vec<SilencedRule>) -> Self {
        Self {
            schema_version: RULES_SCHEMA_VERSION,
            rules,
            silenced,
        }
    }

    pub fn render(&self) -> String {
        serde_json::to_string_pretty(self).expect("rules serialise") + "\n"
    }
}
