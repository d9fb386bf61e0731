//! Asks one interpreter about itself: version, ABI tag, prefixes, `sys.path` and site directories. The
//! script (`scripts/query.py`) imports only modules every Python loads at startup anyway, never h5py or
//! NumPy, and runs in a child with a timeout: once in the job's environment, once isolated (`-I`). The
//! job-view answer usually comes from the import probe's child instead, which runs this script first
//! ([`SCRIPT`], answer marked [`MARK`]): one interpreter start for both.

use crate::probes::child;
use serde::Deserialize;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

/// The query script; the import probe runs it before its own script.
pub const SCRIPT: &str = include_str!("scripts/query.py");
/// The prefix of the stdout line carrying the answer.
pub const MARK: &str = "H5DOCTOR-QUERY ";

/// What the interpreter said about itself.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct QueryResult {
    pub executable: Option<String>,
    pub version: Option<String>,
    pub soabi: Option<String>,
    pub ext_suffix: Option<String>,
    pub prefix: Option<String>,
    pub base_prefix: Option<String>,
    #[serde(default)]
    pub path: Vec<String>,
    #[serde(default)]
    pub site_packages: Vec<String>,
    pub user_site: Option<String>,
    #[serde(default)]
    pub user_site_enabled: bool,
}

fn run_once(python: &Path, env: &[(String, String)], flags: &[&str], timeout: Duration) -> Result<QueryResult, String> {
    let mut cmd = Command::new(python);
    cmd.args(flags).arg("-c").arg(SCRIPT);
    cmd.envs(env.iter().map(|(k, v)| (k, v)));
    if crate::trust::running_as_root() {
        // `-c` puts the working directory first on sys.path: as root, never import from a user's directory.
        cmd.current_dir("/");
    }
    tracing::debug!(?cmd, "querying interpreter");
    let out = child::run(cmd, timeout).map_err(|e| e.reason(python))?;
    if !out.status.is_some_and(|s| s.success()) {
        return Err(no_answer(python, &out, timeout));
    }
    let line = out.stdout.lines().rev().find_map(|l| l.strip_prefix(MARK)).unwrap_or("");
    parse(python, line)
}

/// The answer (the rest of the [`MARK`] line) of `python`.
pub fn parse(python: &Path, line: &str) -> Result<QueryResult, String> {
    serde_json::from_str(line).map_err(|e| format!("{} did not answer the interpreter query ({e})", python.display()))
}

/// Why `python` gave no answer, from the child that should have printed it: as [`job_view`] words it.
pub fn no_answer(python: &Path, out: &child::ChildOutput, timeout: Duration) -> String {
    let tail = out.stderr_tail(2);
    format!(
        "{} {}{}",
        python.display(),
        out.describe_end(timeout),
        if tail.is_empty() { String::new() } else { format!(": {tail}") }
    )
}

/// The job's view: the interpreter run as the job would run it (`env`: what a resolved shim would set).
pub fn job_view(python: &Path, env: &[(String, String)], timeout: Duration) -> Result<QueryResult, String> {
    run_once(python, env, &[], timeout)
}

/// The isolated view (`-I`: no PYTHON* variables, no user site, no working directory); Python 2 knows no
/// `-I`, so `-E -s` stands in for it there.
pub fn isolated_view(python: &Path, env: &[(String, String)], timeout: Duration) -> Result<QueryResult, String> {
    run_once(python, env, &["-I"], timeout).or_else(|first| run_once(python, env, &["-E", "-s"], timeout).map_err(|_| first))
}
