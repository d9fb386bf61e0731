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

/// The command for `python`; as root it starts in `/` (`-c` puts the working directory first on sys.path:
/// as root, never import from a user's directory), so a relative path given on the command line
/// (`--python venv/bin/python`) is made absolute first: it names a file from h5doctor's own directory.
pub fn interpreter_command(python: &Path) -> Command {
    if !crate::trust::running_as_root() {
        return Command::new(python);
    }
    let mut cmd = Command::new(std::path::absolute(python).unwrap_or_else(|_| python.to_path_buf()));
    cmd.current_dir("/");
    cmd
}

fn run_once(python: &Path, env: &[(String, String)], flags: &[&str], timeout: Duration) -> Result<QueryResult, String> {
    let mut cmd = interpreter_command(python);
    cmd.args(flags).arg("-c").arg(SCRIPT);
    cmd.envs(env.iter().map(|(k, v)| (k, v)));
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

#[cfg(test)]
mod tests {
    use super::*;

    /// As root the interpreter starts in `/`: a relative `--python` path must still name the file it names
    /// from h5doctor's working directory (it was "not found" when started from `/`).
    #[test]
    fn a_relative_interpreter_path_is_queried_from_h5doctors_directory() {
        let dir = std::path::PathBuf::from(format!("target/tmp/query-relative-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("a directory under target/tmp");
        let link = dir.join("python3");
        std::os::unix::fs::symlink("/usr/bin/python3", &link).expect("a symlink to /usr/bin/python3");
        let answer = job_view(&link, &[], Duration::from_secs(60));
        std::fs::remove_dir_all(&dir).expect("the test directory removed");
        let answer = answer.expect("the interpreter named by a relative path answers");
        assert!(answer.version.as_deref().is_some_and(|v| v.starts_with('3')), "{answer:?}");
    }
}
