//! The commands: each `h5doctor` subcommand (except `mpio-test`, in `crate::mpio`) wired from its
//! arguments through the stages (probes, facts, rules, report) to an exit code and the text to print.
//! This is the top layer: it may import every stage, and no stage imports it.

use crate::cli::{CheckArgs, FactsArgs, Format, LddArgs, ModulesArgs, ProbeArgs, RulesArgs, RulesSource, SummarizeArgs};
use crate::error::Error;
use crate::facts::{self, Facts};
use crate::findings::{Diagnosis, Finding, FixKind};
use crate::rules::{self, RuleSet};
use crate::{elf, probes, report};
use std::time::Duration;

fn probe_options(a: &ProbeArgs) -> Result<probes::ProbeOptions, Error> {
    if !(a.timeout.is_finite() && a.timeout > 0.0) {
        return Err(Error::msg(format!("--timeout {}: must be a positive number of seconds", a.timeout)));
    }
    Ok(probes::ProbeOptions {
        dirs: a.dirs.clone(),
        default_dirs: !a.no_default_dirs,
        only: a.only.clone(),
        binaries: a.binaries.clone(),
        timeout: Duration::from_secs_f64(a.timeout),
        pythons: a.pythons.clone(),
        default_pythons: !a.no_default_pythons,
        python_import: !a.no_python_import,
        allow_exec_as_root: a.allow_exec_as_root,
        files: a.files.clone(),
        expect_bytes: a.expect_size,
    })
}

/// Writes a document to stdout (or wherever it is given) as it is serialised.
pub type WriteOut = Box<dyn FnOnce(&mut dyn std::io::Write) -> std::io::Result<()>>;

/// What a command prints on stdout.
pub enum Output {
    /// Text made in memory.
    Text(String),
    /// A document written out as it is serialised: a report holding a big module index is megabytes,
    /// and building it in memory first cost about as much again as writing it.
    Stream(WriteOut),
}

impl Output {
    /// Writes all of it to `out`.
    pub fn write_to(self, out: &mut dyn std::io::Write) -> std::io::Result<()> {
        match self {
            Output::Text(text) => out.write_all(text.as_bytes()),
            Output::Stream(write) => write(out),
        }
    }
}

pub fn load_rules(src: &RulesSource) -> Result<RuleSet, Error> {
    let mut dirs = rules::default_site_dirs();
    dirs.extend(src.rules_dirs.iter().cloned());
    RuleSet::load(&dirs)
}

/// `h5doctor ldd`: exit 0 when every file would start, 1 when one would not: a library missing, a
/// missing or unusable program interpreter, a symbol version not met, an object on a `noexec` mount or
/// unreadable, or a file that cannot be read as ELF (each file's problem is in the output).
pub fn ldd_cmd(args: LddArgs) -> Result<(u8, String), Error> {
    let mut cfg = elf::LoaderConfig::from_env();
    if let Some(path) = &args.facts {
        let facts = Facts::from_json_file(path)?;
        let node = facts.libraries.loader.ok_or_else(|| {
            Error::msg(format!(
                "{}: no libraries.loader in these facts (written by an older h5doctor, or without the libraries group)",
                path.display()
            ))
        })?;
        cfg = cfg.with_node(node);
    }
    let cache = elf::FileCache::new();
    let paths: Vec<String> = args.files.iter().map(|p| p.to_string_lossy().into_owned()).collect();
    if args.json && paths.len() > 1 {
        // Each file rendered as soon as it is resolved: its closure is dropped at once.
        let parts = elf::resolve_each(&paths, &cfg, &cache, |r| (r.starts(), elf::render::json_part(&r)));
        let failed = parts.iter().any(|(starts, _)| !starts);
        let parts: Vec<Vec<u8>> = parts.into_iter().map(|(_, part)| part).collect();
        return Ok((u8::from(failed), elf::render::json_of_parts(&parts)));
    }
    let results = elf::resolve_all(&paths, &cfg, &cache);
    let failed = results.iter().any(|r| !r.starts());
    let text = if args.json {
        elf::render::json(&results)
    } else {
        let render = if args.flat { elf::render::flat } else { elf::render::tree };
        results
            .iter()
            .map(render)
            .collect::<Vec<_>>()
            .join(if args.flat { "" } else { "\n" })
    };
    // The process ends once the text is printed: freeing every parsed object and closure one
    // allocation at a time would cost more than resolving a small program.
    std::mem::forget(results);
    std::mem::forget(cache);
    Ok((u8::from(failed), text))
}

/// The arguments of `h5doctor facts --json` that re-run the probes of one finding's group (with the modules
/// group and the groups whose outcome its probe reads: the hdf5 group that picks the probe, for the file and
/// plugins groups) over the same subjects (binaries, interpreters, directories) as the original run.
fn rerun_args(probe: &ProbeArgs, finding: &Finding) -> Vec<String> {
    let mut a: Vec<String> = vec!["facts".into(), "--json".into(), "--only".into(), finding.group.as_str().into()];
    if finding.group != crate::groups::Group::Modules {
        a.extend(["--only".into(), "modules".into()]);
    }
    // The file and plugins groups run the probe the hdf5 group picked (for a loaded HDF5 module, the
    // probe named for it): without that group they would re-run with the default probe.
    for read in probes::reads(finding.group) {
        a.extend(["--only".into(), read.as_str().into()]);
    }
    a.extend(["--timeout".into(), probe.timeout.to_string()]);
    if probe.no_default_dirs {
        a.push("--no-default-dirs".into());
    }
    for d in &probe.dirs {
        a.extend(["--dir".into(), d.display().to_string()]);
    }
    for b in &probe.binaries {
        a.extend(["--binary".into(), b.display().to_string()]);
    }
    for p in &probe.pythons {
        a.extend(["--python".into(), p.display().to_string()]);
    }
    for f in &probe.files {
        a.push(f.display().to_string());
    }
    for (on, flag) in [
        (probe.no_default_pythons, "--no-default-pythons"),
        (probe.no_python_import, "--no-python-import"),
        (probe.allow_exec_as_root, "--allow-exec-as-root"),
    ] {
        if on {
            a.push(flag.into());
        }
    }
    a
}

/// Whether the re-run still has the finding: the same slug about the same thing (for an interpreter,
/// any interpreter: a module can put another Python first on PATH).
fn still_there(after: &Diagnosis, finding: &Finding) -> bool {
    after.findings.iter().any(|f| {
        f.slug == finding.slug && (f.scope == finding.scope || matches!(finding.scope, crate::findings::FindingScope::Interpreter { .. }))
    })
}

/// Verifies every fix of kind `module` that is a concrete `module` line: the site's module command runs
/// the line in a child (the caller's environment is untouched), the finding's probes re-run as
/// `h5doctor facts` in the environment it produced, and the fix is "verified here" only when the
/// finding is gone. A line that cannot be run, or that fails, stays unverified with the reason.
fn verify_module_fixes(probe: &ProbeArgs, rules: &RuleSet, facts: &Facts, diagnosis: &mut Diagnosis) -> Result<(), Error> {
    let timeout = Duration::from_secs_f64(probe.timeout);
    let me = std::env::current_exe().map_err(|e| Error::msg(format!("cannot find h5doctor's own executable: {e}")))?;
    let rerun = |finding: &Finding, env: &std::collections::HashMap<String, String>| -> Result<Facts, String> {
        let mut cmd = std::process::Command::new(&me);
        cmd.args(rerun_args(probe, finding)).env_clear().envs(env);
        match probes::child::run(cmd, timeout + Duration::from_secs(5)) {
            Err(e) => Err(e.reason(&me)),
            Ok(out) if out.status.is_some_and(|s| s.success()) => {
                serde_json::from_str::<Facts>(&out.stdout).map_err(|e| format!("the re-run's facts are not readable: {e}"))
            }
            Ok(out) => Err(format!("the re-run {}: {}", out.describe_end(timeout), out.stderr_tail(2))),
        }
    };
    verify_module_fixes_with(rules, facts, diagnosis, timeout, &rerun);
    Ok(())
}

/// How the failing probes run again in a given environment (the one a module line produced): their facts,
/// or why there are none.
pub type EnvRerun<'a> = dyn Fn(&std::collections::HashMap<String, String>) -> Result<Facts, String> + 'a;

/// How a finding's probes run again in a given environment: its facts, or why there are none.
pub type Rerun<'a> = dyn Fn(&Finding, &std::collections::HashMap<String, String>) -> Result<Facts, String> + 'a;

/// The loop of [`verify_module_fixes`] with the re-run given: each distinct module line runs once with the
/// site's module command, `rerun` gathers the finding's facts in the environment it produced, and the
/// rules judge them; the fix is verified only when the finding is gone.
fn verify_module_fixes_with(rules: &RuleSet, facts: &Facts, diagnosis: &mut Diagnosis, timeout: Duration, rerun: &Rerun) {
    let env: std::collections::HashMap<String, String> = std::env::vars().collect();
    let mut runs: std::collections::HashMap<String, Result<crate::groups::modules::probe::verify::ModuleRun, String>> =
        std::collections::HashMap::new();
    for finding in &mut diagnosis.findings {
        let snapshot = finding.clone();
        for fix in finding
            .fixes
            .iter_mut()
            .filter(|f| f.kind == FixKind::Module && f.text.starts_with("module "))
        {
            let run = runs
                .entry(fix.text.clone())
                .or_insert_with(|| crate::groups::modules::probe::verify::environment_after(&facts.modules, &fix.text, &env, timeout));
            let run = match run {
                Ok(r) => r,
                Err(why) => {
                    fix.verification = Some(format!("not verified: {why}"));
                    continue;
                }
            };
            fix.verification = Some(match rerun(&snapshot, &run.env) {
                Err(why) => format!("not verified: {why}"),
                Ok(after) => {
                    let judged = rules::evaluate::diagnose(rules, &after);
                    if still_there(&judged, &snapshot) {
                        format!("not verified: after `{}` with {} the finding is still there", fix.text, run.tool)
                    } else {
                        fix.verified = true;
                        format!("verified here: after `{}` with {} the finding is gone", fix.text, run.tool)
                    }
                }
            });
        }
    }
}

/// `h5doctor modules`: the module index of this environment, filtered by a query and what the modules
/// provide. Exit 0 when some module is listed, 1 when none matches (like grep).
pub fn modules_cmd(args: ModulesArgs) -> Result<(u8, String), Error> {
    if !(args.timeout.is_finite() && args.timeout > 0.0) {
        return Err(Error::msg(format!(
            "--timeout {}: must be a positive number of seconds",
            args.timeout
        )));
    }
    let rules = load_rules(&args.rules)?;
    let mut facts = crate::groups::modules::probe::probe(Duration::from_secs_f64(args.timeout));
    facts.site_pins.extend(rules.module_pins.clone());
    let listing = facts.select(args.query.as_deref(), args.provides.as_deref());
    let code = u8::from(listing.modules.is_empty());
    let text = if args.json {
        report::modules::json(&facts, &listing)
    } else {
        report::modules::human(&facts, &listing)
    };
    Ok((code, text))
}

/// Judges the `mpi` facts of an MPI-IO test (gathered by h5doctor-probe-mpio's rank 0) with the rules in
/// force and renders them like `check` does: the human report, or the JSON report with `json`.
pub fn report_mpio(facts: &Facts, json: bool) -> Result<(u8, String), Error> {
    let rules = load_rules(&RulesSource { rules_dirs: Vec::new() })?;
    let diagnosis = rules::evaluate::diagnose(&rules, facts);
    render_mpio(facts, &diagnosis, json)
}

/// [`report_mpio`] for `mpio-test --python`, whose module fixes are verified on the spot: `rerun` runs the
/// test's imports again in the environment each module line produced (there is no second MPI_Init under
/// the same launcher slot, so the re-run stops before it), and a fix is verified when the finding is gone.
pub fn report_mpio_verified(facts: &Facts, json: bool, timeout: Duration, rerun: &EnvRerun) -> Result<(u8, String), Error> {
    let rules = load_rules(&RulesSource { rules_dirs: Vec::new() })?;
    let mut diagnosis = rules::evaluate::diagnose(&rules, facts);
    verify_module_fixes_with(&rules, facts, &mut diagnosis, timeout, &|_, env| rerun(env));
    render_mpio(facts, &diagnosis, json)
}

fn render_mpio(facts: &Facts, diagnosis: &Diagnosis, json: bool) -> Result<(u8, String), Error> {
    let code = diagnosis.exit_code(false);
    let text = if json {
        report::json::render(facts, diagnosis, code)
    } else {
        // No colour: launchers hand ranks a pseudo-terminal even when the job's output goes to a file.
        report::human::render(facts, diagnosis, code, report::human::Style { color: false })
    };
    Ok((code, text))
}

pub fn check(args: CheckArgs) -> Result<(u8, Output), Error> {
    // Site rules (--rules, H5DOCTOR_RULES_PATH, /etc/h5doctor/rules.d) are read before anything runs, so
    // that a mistake in one is reported at once. Without them only the built-in rules load, which cannot
    // fail on a user's input: those the run's groups judge are read while the probes run, by this thread
    // while it waits for the directory probe (the interpreters, the slowest part of a check, start a few
    // milliseconds sooner; no thread of their own to start).
    let site_dirs = {
        let mut dirs = rules::default_site_dirs();
        dirs.extend(args.rules.rules_dirs.iter().cloned());
        dirs
    };
    let (rules, login, mut facts) = if site_dirs.is_empty() && args.facts.is_none() {
        let login = args.login.as_deref().map(login_facts).transpose()?;
        let options = probe_options(&args.probe)?;
        // Only the shipped rules that the groups of this run can judge: the rest never match.
        let groups = options.groups();
        let (facts, rules) = probes::gather_meanwhile(&options, || RuleSet::builtin_for(&groups))?;
        (rules?, login, facts)
    } else {
        let rules = RuleSet::load(&site_dirs)?;
        let login = args.login.as_deref().map(login_facts).transpose()?;
        let facts = match &args.facts {
            Some(path) => Facts::from_json_file(path)?,
            None => probes::gather(&probe_options(&args.probe)?)?,
        };
        (rules, login, facts)
    };
    if login.is_some() {
        facts.login = login;
    }
    let mut diagnosis = rules::evaluate::diagnose(&rules, &facts);
    if args.facts.is_none() && !args.no_verify {
        verify_module_fixes(&args.probe, &rules, &facts, &mut diagnosis)?;
    }
    let code = diagnosis.exit_code(args.strict);
    let format = if args.json { Format::Json } else { args.format };
    let text = match format {
        Format::Human => report::human::render(&facts, &diagnosis, code, report::human::Style::detect()),
        Format::Ticket => report::ticket::render(&facts, &diagnosis, code, !args.no_redact),
        Format::Json => {
            // Written straight to stdout as it is serialised (no copy of a megabytes-long report).
            let write = move |out: &mut dyn std::io::Write| {
                let written = report::json::write(out, &facts, &diagnosis, code);
                // As below: the memory goes back with the process.
                std::mem::forget((facts, diagnosis, rules));
                written
            };
            return Ok((code, Output::Stream(Box::new(write))));
        }
    };
    // The process ends once the report is printed: freeing every fact (a module index is thousands of
    // small allocations) would only cost time, so the memory goes back with the process.
    std::mem::forget((facts, diagnosis, rules));
    Ok((code, Output::Text(text)))
}

pub fn facts_cmd(args: FactsArgs) -> Result<(u8, String), Error> {
    if args.list {
        return Ok((0, report::facts::list()));
    }
    let facts = probes::gather(&probe_options(&args.probe)?)?;
    if args.json {
        return Ok((
            0,
            report::json::pretty(&facts, 64 * 1024 + facts.modules.index.modules.len() * 1024),
        ));
    }
    Ok((0, report::facts::human(&facts)))
}

pub fn rules_cmd(args: RulesArgs) -> Result<(u8, String), Error> {
    let set = load_rules(&args.rules)?;
    let doc = rules_document(&set);
    Ok((0, if args.json { doc.render() } else { report::rules::table(&doc) }))
}

/// The rules in force and the silenced ones, as `h5doctor rules` shows them.
fn rules_document(set: &RuleSet) -> report::json::RulesDocument {
    use report::json::{RuleEntry, RulesDocument, SilencedRule};
    let rules = set
        .rules
        .iter()
        .map(|r| RuleEntry {
            id: r.id.clone(),
            slug: r.slug.clone(),
            severity: r.severity,
            group: r.group,
            title: r.title.clone(),
            source: r.source.clone(),
        })
        .collect();
    let silenced = set
        .silenced
        .iter()
        .map(|s| SilencedRule {
            rule: s.silence.clone(),
            reason: s.reason.clone(),
            source: s.source.clone(),
        })
        .collect();
    RulesDocument::new(rules, silenced)
}

pub fn explain(key: &str, set: &RuleSet) -> Result<(u8, String), Error> {
    let r = set
        .find(key)
        .ok_or_else(|| Error::msg(format!("no rule with slug or id {key:?}; `h5doctor rules` lists them")))?;
    let doc = report::rules::RuleDoc {
        id: &r.id,
        slug: &r.slug,
        severity: r.severity,
        group: r.group,
        title: &r.title,
        what: &r.explain.what,
        why: &r.explain.why,
        example: &r.explain.example,
        known_problems: &r.explain.known_problems,
        fixes: r
            .fixes
            .iter()
            .map(|f| report::rules::FixDoc {
                kind: f.kind,
                text: &f.text,
                safety: f.safety,
                unsafe_reason: f.unsafe_reason.as_deref(),
                note: f.note.as_deref(),
            })
            .collect(),
        references: &r.references,
        source: &r.source,
    };
    Ok((0, report::rules::explain(&doc)))
}

/// The login node's view of the target directories, from its facts file (`--login FILE`).
fn login_facts(path: &std::path::Path) -> Result<facts::LoginFacts, Error> {
    let login = Facts::from_json_file(path).map_err(|e| Error::msg(format!("--login: {e}")))?;
    if login.dirs.is_empty() {
        return Err(Error::msg(format!(
            "--login {}: these facts hold no target directories (run `h5doctor facts --json --dir DIR` on the login node)",
            path.display()
        )));
    }
    Ok(facts::LoginFacts::of(&login, &path.display().to_string()))
}

/// The facts files named on the command line: files as given, directories as their `*.json` files (sorted);
/// a missing path or a directory without any is skipped with the reason.
fn summarize_inputs(inputs: &[std::path::PathBuf]) -> (Vec<std::path::PathBuf>, Vec<report::summary::Skipped>) {
    use report::summary::Skipped;
    let (mut files, mut skipped) = (Vec::new(), Vec::new());
    for input in inputs {
        let skip = |reason: String| Skipped {
            file: input.display().to_string(),
            reason,
        };
        match std::fs::metadata(input) {
            Ok(m) if m.is_dir() => match std::fs::read_dir(input) {
                Ok(entries) => {
                    let mut found: Vec<_> = entries
                        .filter_map(|e| e.ok().map(|e| e.path()))
                        .filter(|p| p.extension().is_some_and(|e| e == "json"))
                        .collect();
                    if found.is_empty() {
                        skipped.push(skip("a directory without *.json facts files".into()));
                    }
                    found.sort();
                    files.extend(found);
                }
                Err(e) => skipped.push(skip(format!("unreadable directory: {e}"))),
            },
            Ok(_) => files.push(input.clone()),
            Err(e) => skipped.push(skip(format!("missing: {e}"))),
        }
    }
    (files, skipped)
}

/// One node's facts file, judged: its summary, or why it is skipped (unreadable, empty, truncated,
/// invalid, from a newer schema).
fn summarize_one(
    path: &std::path::Path,
    rules: &RuleSet,
    login: Option<&facts::LoginFacts>,
    strict: bool,
) -> Result<report::summary::NodeSummary, report::summary::Skipped> {
    let file = path.display().to_string();
    let skip = |reason: String| report::summary::Skipped {
        file: file.clone(),
        reason,
    };
    let text = std::fs::read_to_string(path).map_err(|e| skip(format!("unreadable: {e}")))?;
    if text.trim().is_empty() {
        return Err(skip(
            "empty: h5doctor wrote nothing on that node (did it start? see the job's error output)".into(),
        ));
    }
    let mut facts = if text.contains("\"findings\"") {
        // A JSON report (check --json, mpio-test --json): its facts.
        Facts::from_json_file(path).map_err(|e| skip(e.to_string()))?
    } else {
        serde_json::from_str::<Facts>(&text).map_err(|e| {
            if e.is_eof() {
                skip(format!(
                    "truncated: the JSON ends at line {} column {} (the node's run was cut short?)",
                    e.line(),
                    e.column()
                ))
            } else {
                skip(format!("line {} column {}: not h5doctor facts: {e}", e.line(), e.column()))
            }
        })?
    };
    if facts.schema_version > facts::SCHEMA_VERSION {
        return Err(skip(format!(
            "schema_version {} is newer than this h5doctor understands ({}); summarize with a newer h5doctor",
            facts.schema_version,
            facts::SCHEMA_VERSION
        )));
    }
    let host = if facts.host.hostname.is_empty() {
        path.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default()
    } else {
        facts.host.hostname.clone()
    };
    if let Some(login) = login {
        facts.login = Some(login.clone());
    }
    let diagnosis = rules::evaluate::diagnose(rules, &facts);
    Ok(report::summary::NodeSummary::of(host, file, &facts, &diagnosis, strict))
}

/// `h5doctor summarize DIR|FILE...`: every node's facts judged with the rules in force, shown by node.
/// Files are read and judged in parallel and dropped after, so memory stays flat with the node count.
pub fn summarize(args: SummarizeArgs) -> Result<(u8, String), Error> {
    use rayon::prelude::*;
    let rules = load_rules(&args.rules)?;
    let login = args.login.as_deref().map(login_facts).transpose()?;
    let (mut files, mut skipped) = summarize_inputs(&args.inputs);
    if let Some(path) = &args.login {
        // The login node's own file is the reference, not a node, also when it sits among the nodes' files.
        let same = |p: &std::path::PathBuf| match (std::fs::canonicalize(p), std::fs::canonicalize(path)) {
            (Ok(a), Ok(b)) => a == b,
            _ => p == path,
        };
        files.retain(|p| !same(p));
    }
    let results: Vec<_> = files
        .par_iter()
        .map(|p| summarize_one(p, &rules, login.as_ref(), args.strict))
        .collect();
    let mut nodes: Vec<report::summary::NodeSummary> = Vec::new();
    let mut seen: std::collections::HashMap<String, String> = std::collections::HashMap::new();
    for result in results {
        match result {
            Ok(node) => match seen.get(&node.host) {
                Some(first) => skipped.push(report::summary::Skipped {
                    reason: format!("a second facts file for host {} (the first is {first}); skipped", node.host),
                    file: node.file,
                }),
                None => {
                    seen.insert(node.host.clone(), node.file.clone());
                    nodes.push(node);
                }
            },
            Err(s) => skipped.push(s),
        }
    }
    if nodes.is_empty() {
        let why: Vec<String> = skipped.iter().map(|s| format!("  {}: {}", s.file, s.reason)).collect();
        return Err(Error::msg(format!("no usable facts files:\n{}", why.join("\n"))));
    }
    nodes.sort_by(|a, b| crate::hostlist::natural_cmp(&a.host, &b.host));
    let summary = report::summary::ClusterSummary {
        nodes,
        skipped,
        login: login.map(|l| format!("{} ({})", l.host, l.source)),
    };
    let text = if args.json {
        report::summary::json(&summary)
    } else {
        report::summary::human(&summary)
    };
    Ok((summary.exit_code(), text))
}
