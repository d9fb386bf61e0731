//! `h5doctor schema`: the JSON Schema (draft 2020-12) of every JSON document h5doctor writes, derived with
//! schemars from the very types the commands serialise ([`DOCUMENTS`]).
//!
//! `h5doctor schema` prints all documents in one schema (each document one branch of the root `anyOf`, the
//! types under `$defs`): docs/h5doctor.schema.json, compiled into the binary. `h5doctor schema check` prints
//! one document's schema alone, to validate that command's output with: its branch's `$ref` and the
//! definitions reachable from it, taken from the same file.
//!
//! schemars runs only in this module's unit tests (it is a dev-dependency, and every `JsonSchema` derive is
//! `#[cfg_attr(test, ...)]`): generating the schema at run time took schemars and the types' `JsonSchema`
//! code into the binary, 0.8 MB of h5doctor's 8.8 MB of machine code, which every command paid for in
//! start-up page faults. The tests generate the schema from the types and fail when the file is stale (a
//! field added to the facts, a finding or a report is then missing from it), and check that each command's
//! schema cut from the file is exactly what schemars generates for that document alone. Regenerate the
//! file with `H5DOCTOR_WRITE_SCHEMA=1 cargo test --lib schema::`.

use crate::elf::render::LDD_SCHEMA_VERSION;
use crate::error::Error;
use crate::facts::SCHEMA_VERSION;
use crate::findings::REPORT_SCHEMA_VERSION;
use crate::report::json::RULES_SCHEMA_VERSION;
use crate::report::modules::MODULES_SCHEMA_VERSION;
use serde_json::{json, Map, Value};

/// docs/h5doctor.schema.json: what `h5doctor schema` prints, generated from the types by the unit tests.
pub const PUBLISHED: &str = include_str!("../docs/h5doctor.schema.json");

/// One JSON document h5doctor writes.
pub struct Document {
    /// The subcommand that writes it, as `h5doctor schema NAME` takes it.
    pub command: &'static str,
    /// How to get it.
    pub how: &'static str,
    /// Its `schema_version`.
    pub version: u32,
    /// The schema of the type it serialises.
    #[cfg(test)]
    schema: fn(&mut schemars::generate::SchemaGenerator) -> schemars::Schema,
}

#[cfg(test)]
fn of<T: schemars::JsonSchema>(generator: &mut schemars::generate::SchemaGenerator) -> schemars::Schema {
    generator.subschema_for::<T>()
}

/// Every JSON document h5doctor writes. A subcommand with a `--json` flag that is missing here fails a test.
pub const DOCUMENTS: &[Document] = &[
    Document {
        command: "check",
        how: "h5doctor check --json (or --format json): findings, inconclusive probes and the facts",
        version: REPORT_SCHEMA_VERSION,
        #[cfg(test)]
        schema: of::<crate::report::json::Report<'static>>,
    },
    Document {
        command: "facts",
        how: "h5doctor facts --json: the facts, replayable with h5doctor check --facts FILE",
        version: SCHEMA_VERSION,
        #[cfg(test)]
        schema: of::<crate::facts::Facts>,
    },
    Document {
        command: "ldd",
        how: "h5doctor ldd --json: each file's closure with how every library was found",
        version: LDD_SCHEMA_VERSION,
        #[cfg(test)]
        schema: of::<crate::elf::render::LddDocument<'static>>,
    },
    Document {
        command: "rules",
        how: "h5doctor rules --json: the rules in force and the silenced ones",
        version: RULES_SCHEMA_VERSION,
        #[cfg(test)]
        schema: of::<crate::report::json::RulesDocument>,
    },
    Document {
        command: "modules",
        how: "h5doctor modules --json: the modules listed and what the index covers",
        version: MODULES_SCHEMA_VERSION,
        #[cfg(test)]
        schema: of::<crate::report::modules::ModulesDocument<'static>>,
    },
    Document {
        command: "summarize",
        how: "h5doctor summarize --json: many nodes' findings by node, and what differs between nodes",
        version: REPORT_SCHEMA_VERSION,
        #[cfg(test)]
        schema: of::<crate::report::summary::SummaryDocument<'static>>,
    },
    Document {
        command: "mpio-test",
        how: "h5doctor mpio-test --json: the report of an MPI-IO test (the check report, mpi facts)",
        version: REPORT_SCHEMA_VERSION,
        #[cfg(test)]
        schema: of::<crate::report::json::Report<'static>>,
    },
];

/// The names `h5doctor schema` takes.
pub fn document_names() -> Vec<&'static str> {
    DOCUMENTS.iter().map(|d| d.command).collect()
}

fn header(title: String, description: &str) -> Map<String, Value> {
    let mut root = Map::new();
    root.insert("$schema".into(), json!("https://json-schema.org/draft/2020-12/schema"));
    root.insert("title".into(), json!(title));
    root.insert("description".into(), json!(description));
    root.insert("h5doctor_version".into(), json!(env!("CARGO_PKG_VERSION")));
    root
}

/// The schema of the document `command` writes, standalone, cut from `published` (the schema of every
/// document): the header, the document's `$ref` and every definition reachable from its branch.
fn for_command_in(published: &str, command: &str) -> Result<Value, Error> {
    let d = DOCUMENTS.iter().find(|d| d.command == command).ok_or_else(|| {
        Error::msg(format!(
            "no JSON document for {command:?}; h5doctor writes: {}",
            document_names().join(", ")
        ))
    })?;
    let all: Value = serde_json::from_str(published).map_err(|e| Error::msg(format!("the published schema is not JSON: {e}")))?;
    let branch = all["anyOf"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|b| b["title"] == command)
        .ok_or_else(|| Error::msg(format!("the published schema has no branch titled {command:?}")))?;
    let mut root = header(format!("h5doctor {command}"), d.how);
    root.insert("schema_version".into(), json!(d.version));
    if let Some(r) = branch.get("$ref") {
        root.insert("$ref".into(), r.clone());
    }
    let defs = all["$defs"].as_object().cloned().unwrap_or_default();
    root.insert("$defs".into(), Value::Object(reachable(&defs, branch)));
    Ok(Value::Object(root))
}

/// The definitions of `defs` that `from` refers to (`"$ref": "#/$defs/NAME"`), directly or through other
/// definitions.
fn reachable(defs: &Map<String, Value>, from: &Value) -> Map<String, Value> {
    let mut out = Map::new();
    let mut todo = vec![from];
    while let Some(value) = todo.pop() {
        match value {
            Value::Object(map) => {
                for (key, v) in map {
                    let name = if key == "$ref" {
                        v.as_str().and_then(|r| r.strip_prefix("#/$defs/"))
                    } else {
                        None
                    };
                    match name.and_then(|n| defs.get_key_value(n)) {
                        Some((name, def)) if !out.contains_key(name) => {
                            out.insert(name.clone(), def.clone());
                            todo.push(def);
                        }
                        Some(_) => {}
                        None => todo.push(v),
                    }
                }
            }
            Value::Array(items) => todo.extend(items),
            _ => {}
        }
    }
    out
}

/// The schema of the document `command` writes, standalone.
pub fn for_command(command: &str) -> Result<Value, Error> {
    for_command_in(PUBLISHED, command)
}

/// `h5doctor schema [COMMAND]` as printed.
pub fn render(command: Option<&str>) -> Result<String, Error> {
    match command {
        Some(c) => Ok(serde_json::to_string_pretty(&for_command(c)?).expect("a schema serialises") + "\n"),
        None => Ok(PUBLISHED.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;
    use schemars::generate::{SchemaGenerator, SchemaSettings};

    const WRITE: &str = "H5DOCTOR_WRITE_SCHEMA";

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

    /// The schema of every document, generated from the types: one `anyOf` branch each, the types under
    /// `$defs`.
    fn generate_all() -> String {
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
        serde_json::to_string_pretty(&Value::Object(root)).unwrap() + "\n"
    }

    /// The schema of one document alone, generated from its type with a generator of its own.
    fn generate_one(d: &Document) -> String {
        let mut g = generator();
        let b = branch(&mut g, d);
        let mut root = header(format!("h5doctor {}", d.command), d.how);
        root.insert("schema_version".into(), json!(d.version));
        for (k, v) in b.as_object().into_iter().flatten().filter(|(k, _)| *k == "$ref") {
            root.insert(k.clone(), v.clone());
        }
        root.insert("$defs".into(), Value::Object(g.take_definitions(true)));
        serde_json::to_string_pretty(&Value::Object(root)).unwrap() + "\n"
    }

    #[test]
    fn the_published_schema_is_what_the_types_generate() {
        let generated = generate_all();
        if generated != PUBLISHED && std::env::var_os(WRITE).is_some() {
            let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/h5doctor.schema.json");
            std::fs::write(&path, &generated).unwrap();
            eprintln!("wrote {}", path.display());
            return;
        }
        assert!(
            generated == PUBLISHED,
            "docs/h5doctor.schema.json differs from what the types generate; regenerate it with\n    \
             {WRITE}=1 cargo test --lib schema::\nand commit it (first differing line: {:?})",
            PUBLISHED
                .lines()
                .zip(generated.lines())
                .find(|(a, b)| a != b)
                .or(Some(("<end of one file>", "")))
        );
    }

    #[test]
    fn each_documents_schema_cut_from_the_whole_is_the_one_generated_for_it_alone() {
        let all = generate_all();
        for d in DOCUMENTS {
            let cut = serde_json::to_string_pretty(&for_command_in(&all, d.command).unwrap()).unwrap() + "\n";
            let alone = generate_one(d);
            assert!(
                cut == alone,
                "{}: the schema cut from the whole differs from the generated one:\n{cut}\n---\n{alone}",
                d.command
            );
        }
    }

    #[test]
    fn a_definition_is_cut_with_the_definitions_it_refers_to_and_no_others() {
        let all = json!({
            "anyOf": [{"title": "check", "$ref": "#/$defs/A"}],
            "$defs": {
                "A": {"properties": {"b": {"$ref": "#/$defs/B"}, "c": {"items": {"$ref": "#/$defs/C"}}}},
                "B": {"anyOf": [{"$ref": "#/$defs/A"}, {"type": "null"}]},
                "C": {"type": "string"},
                "D": {"type": "integer"}
            }
        });
        let cut = for_command_in(&all.to_string(), "check").unwrap();
        assert_eq!(cut["$ref"], "#/$defs/A");
        let names: Vec<&String> = cut["$defs"].as_object().unwrap().keys().collect();
        assert_eq!(names, ["A", "B", "C"]);
    }

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
        let all: Value = serde_json::from_str(PUBLISHED).unwrap();
        let defs = all["$defs"].as_object().unwrap();
        for branch in all["anyOf"].as_array().unwrap() {
            let r = branch["$ref"].as_str().unwrap();
            assert!(defs.contains_key(r.trim_start_matches("#/$defs/")), "{r}");
        }
        let e = for_command("chek").unwrap_err().to_string();
        assert!(e.contains("no JSON document for \"chek\"") && e.contains("check, facts"), "{e}");
    }
}
