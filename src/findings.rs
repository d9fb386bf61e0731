//! Findings: what the rules concluded, each with the evidence that made it true and the fixes for it.
//! This is what renderers format and what `--json` consumers read. It is the lowest judging layer: the
//! rules build findings, the renderers read them, and this module imports neither.

use crate::groups::Group;
use serde::{Deserialize, Serialize};

/// The JSON report's layout version. Bump it when a field changes meaning or disappears.
pub const REPORT_SCHEMA_VERSION: u32 = 1;

/// How bad a finding is. `error` stops the job from working, `warning` makes it fragile or slow,
/// `info` is context.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, strum::IntoStaticStr)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
#[serde(rename_all = "lowercase")]
#[strum(serialize_all = "lowercase")]
pub enum Severity {
    Info,
    Warning,
    Error,
}

impl Severity {
    /// The spelling in rule files and reports (`error`).
    pub fn as_str(self) -> &'static str {
        self.into()
    }
}

/// What kind of change a fix asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, strum::IntoStaticStr)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
#[serde(rename_all = "lowercase")]
#[strum(serialize_all = "lowercase")]
pub enum FixKind {
    /// Set or change an environment variable.
    Env,
    /// Change the program's HDF5/h5py calls.
    Api,
    /// Load, swap or unload a module.
    Module,
    /// Run a shell command.
    Shell,
    /// Rebuild or reinstall software.
    Rebuild,
    /// Ask the system administrators.
    Admin,
}

impl FixKind {
    /// The spelling in rule files and reports (`env`).
    pub fn as_str(self) -> &'static str {
        self.into()
    }
}

/// Whether applying a fix can lose data.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, strum::IntoStaticStr)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
#[serde(rename_all = "lowercase")]
#[strum(serialize_all = "lowercase")]
pub enum Safety {
    Safe,
    Unsafe,
}

/// One problem (or piece of context) found on the node.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
pub struct Finding {
    pub id: String,
    pub slug: String,
    pub severity: Severity,
    pub group: Group,
    pub title: String,
    /// What the finding is about: the node, a directory, a plugin directory, a file, a checked binary or
    /// a Python interpreter.
    pub scope: FindingScope,
    pub evidence: Vec<Evidence>,
    pub fixes: Vec<FixOut>,
    /// `h5doctor explain <slug>` shows the full explanation.
    pub explain: String,
}

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum FindingScope {
    Node,
    Dir {
        path: String,
    },
    /// A directory HDF5 searches for filter plugins.
    #[serde(rename = "plugin-dir")]
    PluginDir {
        path: String,
    },
    /// An HDF5 file given to `check FILE`.
    File {
        path: String,
    },
    /// A checked binary (`check --binary`).
    Binary {
        path: String,
    },
    /// A Python interpreter: the path it was found as and why it was diagnosed.
    Interpreter {
        path: String,
        origin: String,
    },
}

impl FindingScope {
    /// The path the finding is about, if it is about one.
    pub fn path(&self) -> Option<&str> {
        match self {
            FindingScope::Node => None,
            FindingScope::Dir { path }
            | FindingScope::PluginDir { path }
            | FindingScope::File { path }
            | FindingScope::Binary { path }
            | FindingScope::Interpreter { path, .. } => Some(path),
        }
    }
}

/// One fact that supports a finding.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
pub struct Evidence {
    pub fact: String,
    pub label: String,
    pub value: serde_json::Value,
}

/// A fix as offered for this finding.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
pub struct FixOut {
    pub kind: FixKind,
    pub text: String,
    pub safety: Safety,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unsafe_reason: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    /// Proven on this node: h5doctor re-ran the failing operation with the fix applied and it worked.
    pub verified: bool,
    /// How a module fix was checked here: the site's module command ran the line in a child and the
    /// failing probe was re-run in the environment it produced (or why that could not be done).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub verification: Option<String>,
}

/// A probe that could not give an answer; never counted as an error.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
pub struct Inconclusive {
    pub group: Group,
    pub scope: FindingScope,
    pub reason: String,
}

/// Findings and inconclusive probes, ordered for display (errors first).
#[derive(Debug, Clone, Default, Serialize)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
pub struct Diagnosis {
    pub findings: Vec<Finding>,
    pub inconclusive: Vec<Inconclusive>,
}

impl Diagnosis {
    pub fn count(&self, severity: Severity) -> usize {
        self.findings.iter().filter(|f| f.severity == severity).count()
    }

    /// The exit code: 0 no error findings, 1 error findings (or warnings with `strict`).
    pub fn exit_code(&self, strict: bool) -> u8 {
        let failing = self.count(Severity::Error) + if strict { self.count(Severity::Warning) } else { 0 };
        u8::from(failing > 0)
    }
}
