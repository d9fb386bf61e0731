//! The JSON documents h5doctor writes, as types: the report of `check --json` and `mpio-test --json` (the
//! findings, the inconclusive probes and the facts) and the rule list of `rules --json`. Their JSON Schema
//! (`h5doctor schema`, docs/h5doctor.schema.json) is derived from these types, so the schema and the
//! output cannot drift apart.

use crate::facts::Facts;
use crate::findings::{Diagnosis, Finding, Inconclusive, Severity, REPORT_SCHEMA_VERSION};
use crate::groups::Group;
use serde::Serialize;

/// The layout version of `rules --json`.
pub const RULES_SCHEMA_VERSION: u32 = 1;

/// The report of `h5doctor check --json` (and `mpio-test --json`): replayable with `check --facts FILE`.
#[derive(Debug, Serialize)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
pub struct Report<'a> {
    /// The layout version of this document; a field that changes meaning or disappears bumps it.
    #[cfg_attr(test, schemars(extend("const" = REPORT_SCHEMA_VERSION)))]
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
#[derive(Debug, Serialize)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
pub struct Summary {
    pub errors: usize,
    pub warnings: usize,
    pub info: usize,
    pub inconclusive: usize,
    /// 0 no error findings, 1 error findings (or warnings with --strict), 2 h5doctor itself failed.
    pub exit_code: u8,
}

pub fn render(facts: &Facts, d: &Diagnosis, exit_code: u8) -> String {
    // Sized for the module index (about 1 KiB a module), which is most of a big report.
    let mut out = Vec::with_capacity(64 * 1024 + facts.modules.index.modules.len() * 1024);
    write(&mut out, facts, d, exit_code).expect("writing to memory does not fail");
    String::from_utf8(out).expect("serde_json writes UTF-8")
}

/// The report, as `render` makes it, written to `out` as it is serialised.
pub fn write<W: std::io::Write + ?Sized>(out: &mut W, facts: &Facts, d: &Diagnosis, exit_code: u8) -> std::io::Result<()> {
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
    // Buffered here, in a writer of a known type: the serialiser's many small writes are then inlined
    // copies into the buffer, not calls through `out` (a `dyn Write` when streamed to stdout).
    use std::io::Write as _;
    let mut buffered = std::io::BufWriter::with_capacity(64 * 1024, out);
    let mut ser = serde_json::Serializer::with_formatter(&mut buffered, Pretty::default());
    doc.serialize(&mut ser)?;
    buffered.write_all(b"\n")?;
    buffered.flush()
}

/// `value` as pretty JSON with a final newline, byte for byte what `serde_json::to_string_pretty` writes
/// (two-space indent), into one buffer of `capacity` bytes to start with.
pub fn pretty<T: Serialize + ?Sized>(value: &T, capacity: usize) -> String {
    let mut out = Vec::with_capacity(capacity);
    let mut ser = serde_json::Serializer::with_formatter(&mut out, Pretty::default());
    value.serialize(&mut ser).expect("h5doctor's documents serialise");
    out.push(b'\n');
    String::from_utf8(out).expect("serde_json writes UTF-8")
}

/// serde_json's `PrettyFormatter` with a two-space indent, except that a line break and its indent are
/// one write instead of one per level: a module index is tens of thousands of lines six levels deep, and
/// those tiny writes were a good part of the report's time.
#[derive(Default)]
struct Pretty {
    depth: usize,
    has_value: bool,
}

impl Pretty {
    /// `,\n` (or `\n` when `first`) and the indent of the current depth, in one write.
    fn new_line<W: ?Sized + std::io::Write>(&self, w: &mut W, first: bool) -> std::io::Result<()> {
        const SPACES: &[u8; 130] = b",\n                                                                                                                                ";
        let start = usize::from(first);
        match SPACES.get(..2 + 2 * self.depth) {
            Some(line) => w.write_all(&line[start..]),
            None => {
                w.write_all(&SPACES[start..2])?;
                (0..self.depth).try_for_each(|_| w.write_all(b"  "))
            }
        }
    }

    fn close<W: ?Sized + std::io::Write>(&mut self, w: &mut W, bracket: &[u8]) -> std::io::Result<()> {
        self.depth -= 1;
        if self.has_value {
            self.new_line(w, true)?;
        }
        w.write_all(bracket)
    }
}

impl serde_json::ser::Formatter for Pretty {
    fn begin_array<W: ?Sized + std::io::Write>(&mut self, w: &mut W) -> std::io::Result<()> {
        self.depth += 1;
        self.has_value = false;
        w.write_all(b"[")
    }

    fn end_array<W: ?Sized + std::io::Write>(&mut self, w: &mut W) -> std::io::Result<()> {
        self.close(w, b"]")
    }

    fn begin_array_value<W: ?Sized + std::io::Write>(&mut self, w: &mut W, first: bool) -> std::io::Result<()> {
        self.new_line(w, first)
    }

    fn end_array_value<W: ?Sized + std::io::Write>(&mut self, _w: &mut W) -> std::io::Result<()> {
        self.has_value = true;
        Ok(())
    }

    fn begin_object<W: ?Sized + std::io::Write>(&mut self, w: &mut W) -> std::io::Result<()> {
        self.depth += 1;
        self.has_value = false;
        w.write_all(b"{")
    }

    fn end_object<W: ?Sized + std::io::Write>(&mut self, w: &mut W) -> std::io::Result<()> {
        self.close(w, b"}")
    }

    fn begin_object_key<W: ?Sized + std::io::Write>(&mut self, w: &mut W, first: bool) -> std::io::Result<()> {
        self.new_line(w, first)
    }

    fn begin_object_value<W: ?Sized + std::io::Write>(&mut self, w: &mut W) -> std::io::Result<()> {
        w.write_all(b": ")
    }

    fn end_object_value<W: ?Sized + std::io::Write>(&mut self, _w: &mut W) -> std::io::Result<()> {
        self.has_value = true;
        Ok(())
    }
}

/// `h5doctor rules --json`: the rules in force and the silenced ones.
#[derive(Debug, Serialize)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
pub struct RulesDocument {
    /// The layout version of this document.
    #[cfg_attr(test, schemars(extend("const" = RULES_SCHEMA_VERSION)))]
    pub schema_version: u32,
    pub rules: Vec<RuleEntry>,
    pub silenced: Vec<SilencedRule>,
}

/// One rule in force.
#[derive(Debug, Serialize)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
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
#[derive(Debug, Serialize)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pretty_writes_what_serde_json_writes() {
        let deep = (0..70).fold(
            serde_json::json!("leaf"),
            |v, i| serde_json::json!({ format!("k{i}"): [v, {}, []] }),
        );
        for value in [
            serde_json::json!({"a": [1, {"b": null, "c": []}, {}], "d": "x\"y\n", "e": {"f": [[]]}}),
            serde_json::json!([]),
            serde_json::json!("s"),
            deep,
        ] {
            assert_eq!(pretty(&value, 0), serde_json::to_string_pretty(&value).unwrap() + "\n");
        }
    }
}
