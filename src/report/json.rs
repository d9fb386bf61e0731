//! The JSON report: a versioned document with the findings, the inconclusive probes and the facts.

use crate::facts::Facts;
use crate::findings::Severity;
use crate::findings::{Diagnosis, REPORT_SCHEMA_VERSION};
use serde_json::json;

pub fn render(facts: &Facts, d: &Diagnosis, exit_code: u8) -> String {
    let doc = json!({
        "schema_version": REPORT_SCHEMA_VERSION,
        "h5doctor_version": env!("CARGO_PKG_VERSION"),
        "summary": {
            "errors": d.count(Severity::Error),
            "warnings": d.count(Severity::Warning),
            "info": d.count(Severity::Info),
            "inconclusive": d.inconclusive.len(),
            "exit_code": exit_code,
        },
        "findings": d.findings,
        "inconclusive": d.inconclusive,
        "facts": facts,
    });
    serde_json::to_string_pretty(&doc).expect("report serialises") + "\n"
}
