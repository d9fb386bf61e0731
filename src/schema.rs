//! `h5doctor schema`: the JSON Schema (draft 2020-12) of every JSON document h5doctor writes, derived with
//! schemars from the very types the commands serialise ([`DOCUMENTS`]), so a field added to the facts, a
//! finding or a report is in the schema the moment it is in the output.
//!
//! `h5doctor schema` prints all documents in one schema (each document one branch of the root `anyOf`, the
//! types under `$defs`); docs/h5doctor.schema.json is that output, and a test fails when it is stale.
//! `h5doctor schema check` prints one document's schema alone, to validate that command's output with.

use crate::elf::render::{LddDocument, LDD_SCHEMA_VERSION};
use crate::error::Error;
use crate::facts::{Facts, SCHEMA_VERSION};
use crate::findings::REPORT_SCHEMA_VERSION;
use crate::report::json::{Report, RulesDocument, RULES_SCHEMA_VERSION};
use crate::report::modules::{ModulesDocument, MODULES_SCHEMA_VERSION};
use crate::report::summary::SummaryDocument;
use schemars::generate::{SchemaGenerator, SchemaSettings};
use schemars::{JsonSchema, Schema};
use serde_json::{json, Map, Value};

/// One JSON document h5doctor writes.
pub struct Document {
    /// The subcommand that writes it, as `h5doctor schema NAME` takes it.
    pub command: &'static str,
    /// How to get it.
    pub how: &'static str,
    /// Its `schema_version`.
    pub version: u32,
    schema: fn(&mut SchemaGenerator) -> Schema,
}

fn of<T: JsonSchema>(generator: &mut SchemaGenerator) -> Schema {
    generator.subschema_for::<T>()
}

/// Every JSON document h5doctor writes. A subcommand with a `--json` flag that is missing here fails a test.
pub const DOCUMENTS: &[Document] = &[
    Document {
        command: "check",
        how: "h5doctor check --json (or --format json): findings, inconclusive probes and the facts",
        version: REPORT_SCHEMA_VERSION,
        schema: of::<Report<'static>>,
    },
    Document {
        command: "facts",
        how: "h5doctor facts --json: the facts, replayable with h5doctor check --facts FILE",
        version: SCHEMA_VERSION,
        schema: of::<Facts>,
    },
    Document {
        command: "ldd",
        how: "h5doctor ldd --json: each file's closure with how every library was found",
        version: LDD_SCHEMA_VERSION,
        schema: of::<LddDocument<'static>>,
    },
    Document {
        command: "rules",
        how: "h5doctor rules --json: the rules in force and the silenced ones",
        version: RULES_SCHEMA_VERSION,
        schema: of::<RulesDocument>,
    },
    Document {
        command: "modules",
        how: "h5doctor modules --json: the modules listed and what the index covers",
        version: MODULES_SCHEMA_VERSION,
        schema: of::<ModulesDocument<'static>>,
    },
    Document {
        command: "summarize",
        how: "h5doctor summarize --json: many nodes' findings by node, and what differs between nodes",
        version: REPORT_SCHEMA_VERSION,
        schema: of::<SummaryDocument<'static>>,
    },
    Document {
        command: "mpio-test",
        how: "h5doctor mpio-test --json: the report of an MPI-IO test (the check report, mpi facts)",
        version: REPORT_SCHEMA_VERSION,
        schema: of::<Report<'static>>,
    },
];

/// The names `h5doctor schema` takes.
pub fn document_names() -> Vec<&'static str> {
    DOCUMENTS.iter().map(|d| d.command).collect()
}

fn generator() -> SchemaGenerator {
    SchemaSettings::draft2020_12().for_serialize().into_generator()
}

/// The reference to one document's type, with what the document is.
fn branch(generator: &mut SchemaGenerator, d: &Document) -> Value {
    let reference = (d.schema)(generator);
    let mut out = Map::new();
    out.insert("title".into(), json!(d.command));
    out.insert("description".into(), json!(d.how));
    if let Some(r) = reference.get("$ref") {
        out.insert("$ref".into(), r.clone());
    } else {
        out.extend(reference.as_object().cloned().unwrap_or_default());
    }
    Value::Object(out)
}

fn header(title: String, description: &str) -> Map<String, Value> {
    let mut root = Map::new();
    root.insert("$schema".into(), json!("https://json-schema.org/draft/2020-12/schema"));
    root.insert("title".into(), json!(title));
    root.insert("description".into(), json!(description));
    root.insert("h5doctor_version".into(), json!(env!("CARGO_PKG_VERSION")));
    root
}

/// The schema of every document: one `anyOf` branch each, the types under `$defs`.
pub fn all() -> Value {
    let mut g = generator();
    let branches: Vec<Value> = DOCUMENTS.iter().map(|d| branch(&mut g, d)).collect();
    let mut root = header(
        format!("h5doctor {} JSON documents", env!("CARGO_PKG_VERSION")),
        "Every JSON document h5doctor writes, one anyOf branch each (its title is the subcommand); \
         `h5doctor schema COMMAND` prints one alone. Generated from h5doctor's types by `h5doctor schema`.",
    );
    let versions: Map<String, Value> = DOCUMENTS.iter().map(|d| (d.command.to_string(), json!(d.version))).collect();
    root.insert("schema_versions".into(), Value::Object(versions));
    root.insert("anyOf".into(), Value::Array(branches));
    root.insert("$defs".into(), Value::Object(g.take_definitions(true)));
    Value::Object(root)
}

/// The schema of the document `command` writes, standalone.
pub fn for_command(command: &str) -> Result<Value, Error> {
    let d = DOCUMENTS.iter().find(|d| d.command == command).ok_or_else(|| {
        Error::msg(format!(
            "no JSON document for {command:?}; h5doctor writes: {}",
            document_names().join(", ")
        ))
    })?;
    let mut g = generator();
    let b = branch(&mut g, d);
    let mut root = header(format!("h5doctor {command}"), d.how);
    root.insert("schema_version".into(), json!(d.version));
    for (k, v) in b.as_object().into_iter().flatten().filter(|(k, _)| *k == "$ref") {
        root.insert(k.clone(), v.clone());
    }
    root.insert("$defs".into(), Value::Object(g.take_definitions(true)));
    Ok(Value::Object(root))
}

/// `h5doctor schema [COMMAND]` as printed.
pub fn render(command: Option<&str>) -> Result<String, Error> {
    let schema = match command {
        Some(c) => for_command(c)?,
        None => all(),
    };
    Ok(serde_json::to_string_pretty(&schema).expect("a schema serialises") + "\n")
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn every_subcommand_that_writes_json_has_its_schema() {
        let cli = crate::cli::Cli::command();
        for sub in cli.get_subcommands().filter(|s| !s.is_hide_set()) {
            if sub.get_arguments().any(|a| a.get_id() == "json") {
                assert!(
                    DOCUMENTS.iter().any(|d| d.command == sub.get_name()),
                    "`h5doctor {} --json` writes a document: add its type to schema::DOCUMENTS",
                    sub.get_name()
                );
            }
        }
    }

    #[test]
    fn each_document_refers_to_a_definition() {
        let all = all();
        let defs = all["$defs"].as_object().unwrap();
        for branch in all["anyOf"].as_array().unwrap() {
            let r = branch["$ref"].as_str().unwrap();
            assert!(defs.contains_key(r.trim_start_matches("#/$defs/")), "{r}");
        }
        let e = for_command("chek").unwrap_err().to_string();
        assert!(e.contains("no JSON document for \"chek\"") && e.contains("check, facts"), "{e}");
    }
}
