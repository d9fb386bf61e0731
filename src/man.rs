//! Manual pages and shell completions, generated from the clap definitions in [`crate::cli`], so the
//! pages, the completions and `--help` can never disagree.
//!
//! `h5doctor man` is h5doctor(1); `h5doctor man check` is h5doctor-check(1); `h5doctor man --dir DIR`
//! writes them all. On top of what clap_mangen renders from the definitions, each page says its exit
//! status ([`EXIT_STATUS`]), and the pages of h5doctor, `check` and `explain` list the shipped rules by
//! slug. `h5doctor completions SHELL` is clap_complete's script for that shell.

use crate::cli::{Cli, ManArgs};
use crate::error::Error;
use crate::rules::RuleSet;
use clap::CommandFactory;
use roff::{bold, italic, roman, Roff};
use std::path::{Path, PathBuf};

/// The exit status of each subcommand, in the words of its man page: (subcommand, [(code, meaning)]).
/// The top-level page (`""`) states the convention; a subcommand missing here fails a test.
pub const EXIT_STATUS: &[(&str, &[(u8, &str)])] = &[
    (
        "",
        &[
            (
                0,
                "No error findings (check, mpio-test); every library resolved (ldd); otherwise success.",
            ),
            (
                1,
                "Error findings (with --strict also warnings); for ldd, a missing library or a file that is not ELF.",
            ),
            (
                2,
                "h5doctor itself failed: a bad command line, an unreadable facts file, an invalid rule file, a probe that could not run.",
            ),
        ],
    ),
    (
        "check",
        &[
            (0, "No error findings (the report may still hold warnings and info)."),
            (1, "At least one error finding; with --strict, also at least one warning."),
            (
                2,
                "h5doctor itself failed (bad command line, unreadable --facts file, invalid site rule).",
            ),
        ],
    ),
    (
        "facts",
        &[(0, "The facts were gathered and printed."), (2, "h5doctor itself failed.")],
    ),
    (
        "rules",
        &[
            (0, "The rules were loaded and listed."),
            (2, "A rule file is invalid (the message names file, line and column)."),
        ],
    ),
    (
        "explain",
        &[
            (0, "The rule was explained."),
            (2, "No rule has that slug or id, or a rule file is invalid."),
        ],
    ),
    (
        "ldd",
        &[
            (
                0,
                "Every file would start: every library, version and interpreter is found and usable.",
            ),
            (
                1,
                "A file would not start: a library or its program interpreter missing, a symbol version not met, \
                 code on a noexec mount, a library this user cannot read; or a file is not ELF (each file's \
                 problem is in the output).",
            ),
            (2, "Bad command line."),
        ],
    ),
    (
        "modules",
        &[
            (0, "At least one module is listed."),
            (
                1,
                "No module matches the query or --provides (like grep), said in a plain sentence.",
            ),
            (2, "h5doctor itself failed (bad command line)."),
        ],
    ),
    (
        "summarize",
        &[
            (0, "No node has an error finding."),
            (1, "At least one node has an error finding; with --strict, also a warning."),
            (
                2,
                "No facts file could be used (each is named with the reason), or h5doctor itself failed.",
            ),
        ],
    ),
    (
        "mpio-test",
        &[
            (0, "Parallel HDF5 over MPI-IO worked and no rule found an error."),
            (
                1,
                "Error findings (for example the MPI-IO test failed on this file system, or the launcher's PMI does not match).",
            ),
            (
                2,
                "The test could not run: no usable h5doctor-probe-mpio, a bad --dir, the test timed out, or the --python interpreter cannot be found or is not run as root (--allow-exec-as-root). With --python, an interpreter that timed out is reported as inconclusive (exit 0), one killed by a signal as a failed test (exit 1).",
            ),
        ],
    ),
    ("completions", &[(0, "The script was printed."), (2, "Unknown shell.")]),
    (
        "man",
        &[
            (0, "The page was printed or written."),
            (2, "Unknown subcommand, or DIR cannot be written."),
        ],
    ),
    (
        "schema",
        &[(0, "The schema was printed."), (2, "No JSON document for that command.")],
    ),
];

/// The pages whose readers look rules up: they carry the RULES section.
const PAGES_WITH_RULES: &[&str] = &["", "check", "explain"];

/// The clap command, built (subcommands named `h5doctor-check` ...) and without clap's `help`
/// subcommand, which is not a page.
fn built_command() -> clap::Command {
    let mut cmd = Cli::command().disable_help_subcommand(true);
    cmd.build();
    cmd
}

/// The visible subcommands, in the order of `h5doctor --help`.
pub fn subcommand_names() -> Vec<String> {
    built_command()
        .get_subcommands()
        .filter(|s| !s.is_hide_set())
        .map(|s| s.get_name().to_string())
        .collect()
}

/// The roff source of h5doctor(1) (`subcommand` None) or of h5doctor-SUBCOMMAND(1).
pub fn page(subcommand: Option<&str>) -> Result<String, Error> {
    let root = built_command();
    let (cmd, key) = match subcommand {
        None => (root.clone(), ""),
        Some(name) => {
            let sub = root
                .get_subcommands()
                .find(|s| s.get_name() == name && !s.is_hide_set())
                .ok_or_else(|| {
                    Error::msg(format!(
                        "no subcommand {name:?}; the pages are h5doctor and h5doctor-{{{}}}",
                        subcommand_names().join(",")
                    ))
                })?;
            (sub.clone(), name)
        }
    };
    render(&root, cmd, key)
}

/// `h5doctor man`: one page on standard output, or (`--dir`) every page written into a directory, the files
/// written listed one per line.
pub fn run(args: &ManArgs) -> Result<String, Error> {
    match &args.dir {
        Some(dir) => Ok(write_all(dir)?.iter().map(|p| format!("{}\n", p.display())).collect()),
        None => page(args.subcommand.as_deref()),
    }
}

/// Writes every page into `dir` (created if missing); returns the files written.
pub fn write_all(dir: &Path) -> Result<Vec<PathBuf>, Error> {
    std::fs::create_dir_all(dir).map_err(|e| Error::msg(format!("cannot create {}: {e}", dir.display())))?;
    let mut written = Vec::new();
    let names: Vec<Option<String>> = std::iter::once(None).chain(subcommand_names().into_iter().map(Some)).collect();
    for name in names {
        let file = dir.join(match &name {
            None => "h5doctor.1".to_string(),
            Some(n) => format!("h5doctor-{n}.1"),
        });
        let text = page(name.as_deref())?;
        std::fs::write(&file, text).map_err(|e| Error::msg(format!("cannot write {}: {e}", file.display())))?;
        written.push(file);
    }
    Ok(written)
}

/// The completion script for `shell`.
pub fn completions(shell: clap_complete::Shell) -> String {
    let mut cmd = Cli::command();
    let mut out = Vec::new();
    clap_complete::generate(shell, &mut cmd, "h5doctor", &mut out);
    String::from_utf8(out).expect("clap_complete writes UTF-8")
}

fn render(root: &clap::Command, cmd: clap::Command, key: &str) -> Result<String, Error> {
    let title = cmd.get_display_name().unwrap_or_else(|| cmd.get_name()).to_uppercase();
    let man = clap_mangen::Man::new(cmd.clone())
        .title(title)
        .source(format!("h5doctor {}", env!("CARGO_PKG_VERSION")))
        .manual("h5doctor manual");
    let mut out: Vec<u8> = Vec::new();
    let io = |e: std::io::Error| Error::msg(format!("cannot render the man page: {e}"));
    man.render_title(&mut out).map_err(io)?;
    man.render_name_section(&mut out).map_err(io)?;
    man.render_synopsis_section(&mut out).map_err(io)?;
    man.render_description_section(&mut out).map_err(io)?;
    if cmd.get_arguments().any(|a| !a.is_hide_set()) {
        man.render_options_section(&mut out).map_err(io)?;
    }
    if cmd.get_subcommands().any(|s| !s.is_hide_set()) {
        man.render_subcommands_section(&mut out).map_err(io)?;
    }
    let mut extra = Roff::new();
    if let Some(after) = cmd.get_after_long_help().or(cmd.get_after_help()) {
        examples_section(&mut extra, &after.to_string());
    }
    exit_status_section(&mut extra, key)?;
    if key.is_empty() {
        environment_section(&mut extra);
    }
    if PAGES_WITH_RULES.contains(&key) {
        rules_section(&mut extra)?;
    }
    see_also_section(&mut extra, root, key);
    // Subcommands have no clap version of their own; every page names the h5doctor it documents.
    extra.control("SH", ["VERSION"]);
    extra.text([roman(format!("h5doctor {}", env!("CARGO_PKG_VERSION")))]);
    extra.to_writer(&mut out).map_err(io)?;
    Ok(once_preamble(&String::from_utf8(out).expect("roff is UTF-8")))
}

/// Each section rendered apart starts with roff's two-line apostrophe preamble; keep the first only.
fn once_preamble(page: &str) -> String {
    let mut seen = std::collections::HashSet::new();
    let mut out = String::with_capacity(page.len());
    for line in page.lines() {
        let preamble = line.starts_with(".ie \\n(.g .ds Aq") || line.starts_with(".el .ds Aq");
        if !preamble || seen.insert(line) {
            out.push_str(line);
            out.push('\n');
        }
    }
    out
}

/// The `after_help` text (a column-aligned example list) as a no-fill EXAMPLES section.
fn examples_section(roff: &mut Roff, text: &str) {
    roff.control("SH", ["EXAMPLES"]);
    roff.control("nf", []);
    for line in text.lines().filter(|l| l.trim_end() != "Examples:") {
        roff.text([roman(line)]);
    }
    roff.control("fi", []);
}

fn exit_status_section(roff: &mut Roff, key: &str) -> Result<(), Error> {
    let codes = EXIT_STATUS
        .iter()
        .find(|(name, _)| *name == key)
        .map(|(_, codes)| *codes)
        .ok_or_else(|| Error::msg(format!("no exit status documented for h5doctor {key}")))?;
    roff.control("SH", ["EXIT STATUS"]);
    for (code, meaning) in codes {
        roff.control("TP", []).text([bold(code.to_string())]).text([roman(*meaning)]);
    }
    Ok(())
}

fn environment_section(roff: &mut Roff) {
    roff.control("SH", ["ENVIRONMENT"]);
    let vars: &[(&str, &str)] = &[
        (
            "H5DOCTOR_RULES_PATH",
            "Colon-separated site rules directories, read before /etc/h5doctor/rules.d and --rules.",
        ),
        ("H5DOCTOR_PROBE", "The h5doctor-probe program (default: next to h5doctor)."),
        (
            "H5DOCTOR_PROBE_MPIO",
            "The h5doctor-probe-mpio program of mpio-test (default: next to h5doctor).",
        ),
        ("RUST_LOG", "Logging filter on stderr, like -v."),
        ("NO_COLOR", "No colour in the human report."),
    ];
    for (name, meaning) in vars {
        roff.control("TP", []).text([bold(*name)]).text([roman(*meaning)]);
    }
    roff.control("SH", ["FILES"]);
    roff.control("TP", []).text([italic("/etc/h5doctor/rules.d")]).text([roman(
        "Site rules: TOML files that add, replace or silence rules (see h5doctor-rules(1)).",
    )]);
}

fn rules_section(roff: &mut Roff) -> Result<(), Error> {
    let set = RuleSet::builtin()?;
    roff.control("SH", ["RULES"]);
    roff.text([roman(
        "The shipped rules, by slug. `h5doctor explain SLUG` prints what a finding means and how to fix it; \
         `h5doctor rules` also lists the site rules in force.",
    )]);
    for r in &set.rules {
        roff.control("TP", []).text([
            bold(r.slug.clone()),
            roman(format!(" ({}, {}, group {})", r.id, r.severity.as_str(), r.group)),
        ]);
        roff.text([roman(r.title.clone())]);
    }
    Ok(())
}

fn see_also_section(roff: &mut Roff, root: &clap::Command, key: &str) {
    let mut pages: Vec<String> = Vec::new();
    if !key.is_empty() {
        pages.push("h5doctor(1)".into());
    }
    for sub in root.get_subcommands().filter(|s| !s.is_hide_set() && s.get_name() != key) {
        pages.push(format!("h5doctor-{}(1)", sub.get_name()));
    }
    roff.control("SH", ["SEE ALSO"]);
    let mut inlines = Vec::new();
    for (i, p) in pages.iter().enumerate() {
        if i > 0 {
            inlines.push(roman(", "));
        }
        inlines.push(bold(p.clone()));
    }
    roff.text(inlines);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_page_has_its_exit_status() {
        for name in std::iter::once(String::new()).chain(subcommand_names()) {
            assert!(
                EXIT_STATUS.iter().any(|(n, _)| *n == name),
                "add the exit status of `h5doctor {name}` to man::EXIT_STATUS"
            );
        }
    }

    #[test]
    fn an_unknown_subcommand_is_a_clear_error() {
        let e = page(Some("chek")).unwrap_err().to_string();
        assert!(e.contains("no subcommand \"chek\"") && e.contains("check"), "{e}");
    }
}
