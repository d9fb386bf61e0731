//! Loading and validating rule files: the embedded rule set, then site rules dirs on top.
//!
//! Site rule files are parsed from TOML with every value's span, so that each error names the file, line
//! and column. The shipped rules are embedded as JSON that build.rs made from their TOML (see
//! `rules::raw`); both go through the same validation into the same [`Rule`]s.

use super::condition::{resolve_fact, Condition, ConditionError};
use super::raw::{BuiltJson, Origin, Placed, RawCondition, RawRule, TomlFile};
use super::template::Template;
use super::{Fix, Rule};
use crate::error::Error;
use crate::facts::catalog::{closest, FactDef, Scope};
use crate::facts::values::Capability;
use crate::findings::Safety;
use crate::groups::Group;
use serde::Deserialize;
use std::path::{Path, PathBuf};
use strum::VariantNames;
use toml::Spanned;

// `EMBEDDED_RULES`: (path under rules/, the file's data as JSON) for every shipped rule file, in path
// order; in unit tests also `SHIPPED_RULES_TOML`: (path under rules/, the TOML file itself).
include!(concat!(env!("OUT_DIR"), "/embedded_rules.rs"));

/// A site file that switches a shipped rule off.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Silence {
    /// The id or slug of the rule to silence.
    pub silence: String,
    /// Why; shown by `h5doctor rules`.
    pub reason: String,
    #[serde(skip)]
    pub source: String,
}

/// The rules in force: shipped ones with site rules on top, minus the silenced ones.
#[derive(Debug, Default)]
pub struct RuleSet {
    pub rules: Vec<Rule>,
    pub silenced: Vec<Silence>,
    /// capability -> module name, pinned by site files (`[modules] hdf5-parallel = "hdf5/1.14.3-openmpi"`);
    /// fix texts that name a module use these before the module index.
    pub module_pins: std::collections::BTreeMap<Capability, String>,
}

/// A site file that pins capabilities to modules of this site.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPins {
    modules: std::collections::BTreeMap<Spanned<String>, Spanned<String>>,
}

/// Whether a file's text is a module pin file (a `[modules]` table and no rule).
fn is_pins(text: &str) -> bool {
    text.parse::<toml::Table>()
        .is_ok_and(|t| t.contains_key("modules") && !t.contains_key("id"))
}

/// Parses and validates a pin file: known capabilities, module names without blanks.
fn parse_pins(source: &str, text: &str) -> Result<Vec<(Capability, String)>, Error> {
    let raw: RawPins = toml::from_str(text).map_err(|e| {
        let offset = e.span().map_or(0, |s| s.start);
        located(source, text, offset, e.message().trim())
    })?;
    let mut out = Vec::new();
    for (name, module) in raw.modules {
        let Ok(cap) = name.get_ref().parse::<Capability>() else {
            let known = Capability::VARIANTS.join(", ");
            let near = closest(name.get_ref(), Capability::VARIANTS.iter().copied())
                .map_or(String::new(), |near| format!("did you mean {near:?}? "));
            return Err(located(
                source,
                text,
                name.span().start,
                format!("unknown capability {:?} ({near}known: {known})", name.get_ref()),
            ));
        };
        let m = module.get_ref().trim();
        if m.is_empty() || m.chars().any(|c| c.is_whitespace() || c == '\'' || c == '"' || c == ';') {
            return Err(located(
                source,
                text,
                module.span().start,
                format!(
                    "bad module name {:?}: one module name/version, like \"hdf5/1.14.3-openmpi\"",
                    module.get_ref()
                ),
            ));
        }
        out.push((cap, m.to_string()));
    }
    Ok(out)
}

/// `line:column` (1-based) of a byte offset.
fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let col = before.rfind('\n').map_or(before.len(), |nl| before.len() - nl - 1) + 1;
    (line, col)
}

fn located(source: &str, text: &str, offset: usize, message: impl std::fmt::Display) -> Error {
    let (line, col) = line_col(text, offset);
    Error::msg(format!("{source}:{line}:{col}: {message}"))
}

fn compile_cond<O: Origin>(source: &str, text: &str, raw: &O::At<RawCondition<O>>, scope: Scope) -> Result<Condition, Error> {
    Condition::compile::<O>(raw, scope).map_err(|ConditionError { offset, message }| located(source, text, offset, message))
}

/// Compiles a template (a title, fix text or note) written at `offset`, with its errors located in the
/// rule file.
fn compile_template(source: &str, text: &str, template: &str, offset: usize, scope: Scope) -> Result<Template, Error> {
    Template::compile(template, offset, scope).map_err(|e| located(source, text, e.offset, e.message))
}

fn is_slug(s: &str) -> bool {
    !s.is_empty() && s.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
}

/// Parses and validates one rule file's TOML text.
fn parse_rule(source: &str, text: &str, shipped: bool) -> Result<Rule, Error> {
    let raw: RawRule<TomlFile> = toml::from_str(text).map_err(|e| {
        let offset = e.span().map_or(0, |s| s.start);
        located(source, text, offset, e.message().trim())
    })?;
    validate(source, text, raw, shipped)
}

/// Reads and validates a shipped rule from the JSON build.rs made of `source` (its TOML file, which the
/// unit tests check gives the same rule; errors here name no line: the JSON keeps none).
fn shipped_rule(source: &str, json: &str) -> Result<Rule, Error> {
    let raw: RawRule<BuiltJson> =
        serde_json::from_str(json).map_err(|e| Error::msg(format!("{source}: the shipped rule, as built into h5doctor: {e}")))?;
    validate(source, "", raw, true)
}

/// Validates a raw rule read from `text` (its errors located there, in file order).
fn validate<O: Origin>(source: &str, text: &str, raw: RawRule<O>, shipped: bool) -> Result<Rule, Error> {
    let scope = raw.scope;
    // Every problem of the file is reported, in file order, not only the first.
    let mut errors: Vec<Error> = Vec::new();
    let at = |offset: usize, message: String| located(source, text, offset, message);
    let id = raw.id.get_ref();
    if !(id.len() >= 4 && id.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')) {
        errors.push(at(raw.id.offset(), format!("bad id {id:?}: use letters and digits, like H5D101")));
    }
    if !is_slug(raw.slug.get_ref()) {
        errors.push(at(
            raw.slug.offset(),
            format!("bad slug {:?}: use lower-case kebab-case", raw.slug.get_ref()),
        ));
    }
    let group: Option<Group> = raw.group.get_ref().parse().ok();
    if group.is_none() {
        errors.push(at(
            raw.group.offset(),
            format!("unknown group {:?} (known: {})", raw.group.get_ref(), Group::known()),
        ));
    }
    let mut also_in: Vec<Group> = Vec::new();
    for g in &raw.also_in {
        match g.get_ref().parse::<Group>() {
            Ok(parsed) if Some(parsed) != group && !also_in.contains(&parsed) => also_in.push(parsed),
            Ok(_) => errors.push(at(g.offset(), format!("also_in: group {:?} is named twice", g.get_ref()))),
            Err(_) => errors.push(at(
                g.offset(),
                format!("also_in: unknown group {:?} (known: {})", g.get_ref(), Group::known()),
            )),
        }
    }
    let mut keep = |result: Result<(), Error>| {
        if let Err(e) = result {
            errors.push(e);
        }
    };
    let title = compile_template(source, text, raw.title.get_ref(), raw.title.offset(), scope);
    let when = compile_cond::<O>(source, text, &raw.when, scope);
    let escalate = raw
        .escalate
        .as_ref()
        .map(|e| compile_cond::<O>(source, text, &e.when, scope).map(|c| (e.severity, c)))
        .transpose();
    let evidence: Vec<Result<&'static FactDef, Error>> = raw
        .evidence
        .iter()
        .map(|name| resolve_fact(name.get_ref(), name.offset(), scope).map_err(|e| located(source, text, e.offset, e.message)))
        .collect();
    if raw.explain.what.trim().is_empty() || raw.explain.why.trim().is_empty() || raw.explain.example.trim().is_empty() {
        keep(Err(located(
            source,
            text,
            raw.id.offset(),
            "[explain] needs non-empty `what`, `why` and `example`",
        )));
    }
    if raw.fixes.is_empty() {
        keep(Err(located(source, text, raw.id.offset(), "a rule needs at least one [[fix]]")));
    }
    let mut fixes = Vec::new();
    for fix in &raw.fixes {
        let f = fix.get_ref();
        let text_template = compile_template(source, text, &f.text, fix.offset(), scope);
        let note_template = f
            .note
            .as_ref()
            .map(|n| compile_template(source, text, n, fix.offset(), scope))
            .transpose();
        if f.safety == Safety::Unsafe && f.unsafe_reason.as_deref().is_none_or(|r| r.trim().is_empty()) {
            keep(Err(located(source, text, fix.offset(), "an unsafe fix needs `unsafe_reason`")));
        }
        let verified_by = f
            .verified_by
            .as_ref()
            .map(|c| compile_cond::<O>(source, text, c, scope))
            .transpose();
        let fix_when = f.when.as_ref().map(|c| compile_cond::<O>(source, text, c, scope)).transpose();
        match (text_template, note_template, verified_by, fix_when) {
            (Ok(text_template), Ok(note_template), Ok(verified_by), Ok(when)) => fixes.push(Fix {
                kind: f.kind,
                text: f.text.clone(),
                safety: f.safety,
                unsafe_reason: f.unsafe_reason.clone(),
                note: f.note.clone(),
                text_template,
                note_template,
                verified_by,
                when,
            }),
            (text_template, note_template, verified_by, when) => {
                keep(text_template.map(|_| ()));
                keep(note_template.map(|_| ()));
                keep(verified_by.map(|_| ()));
                keep(when.map(|_| ()));
            }
        }
    }
    let (title_template, when, escalate) = match (title, when, escalate) {
        (Ok(title), Ok(when), Ok(escalate)) => (Some(title), Some(when), escalate),
        (title, when, escalate) => {
            keep(title.map(|_| ()));
            keep(when.map(|_| ()));
            keep(escalate.map(|_| ()));
            (None, None, None)
        }
    };
    let mut facts = Vec::new();
    for fact in evidence {
        match fact {
            Ok(f) => facts.push(f),
            Err(e) => keep(Err(e)),
        }
    }
    // Errors in the order they appear in the file.
    errors.sort_by_key(|e| position(&e.to_string()));
    if let Some(e) = Error::all(errors) {
        return Err(e);
    }
    let (Some(group), Some(when), Some(title_template)) = (group, when, title_template) else {
        unreachable!("an invalid group, condition or title is an error above");
    };
    Ok(Rule {
        id: raw.id.into_inner(),
        slug: raw.slug.into_inner(),
        group,
        also_in,
        scope,
        severity: raw.severity,
        title: raw.title.into_inner(),
        title_template,
        when,
        escalate,
        evidence: facts,
        explain: raw.explain,
        fixes,
        references: raw.references,
        source: source.to_string(),
        shipped,
    })
}

/// `(line, column)` of a `file:line:col: message` error, for sorting a file's errors.
fn position(message: &str) -> (usize, usize) {
    let mut parts = message.splitn(4, ':').skip(1);
    let line = parts.next().and_then(|l| l.parse().ok()).unwrap_or(0);
    let col = parts.next().and_then(|c| c.parse().ok()).unwrap_or(0);
    (line, col)
}

/// Whether a file's text is a silence rather than a rule.
fn is_silence(text: &str) -> bool {
    text.parse::<toml::Table>().is_ok_and(|t| t.contains_key("silence"))
}

fn parse_silence(source: &str, text: &str) -> Result<Silence, Error> {
    let mut s: Silence = toml::from_str(text).map_err(|e| {
        let offset = e.span().map_or(0, |s| s.start);
        located(source, text, offset, e.message().trim())
    })?;
    if s.reason.trim().is_empty() {
        return Err(Error::msg(format!("{source}:1:1: a silence needs a non-empty `reason`")));
    }
    s.source = source.to_string();
    Ok(s)
}

fn toml_files(dir: &Path, out: &mut Vec<PathBuf>) -> Result<(), Error> {
    let entries = std::fs::read_dir(dir).map_err(|e| Error::with_source(format!("cannot read rules dir {}", dir.display()), e))?;
    let mut paths: Vec<PathBuf> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
    paths.sort();
    for path in paths {
        if path.is_dir() {
            toml_files(&path, out)?;
        } else if path.extension().is_some_and(|e| e == "toml") {
            out.push(path);
        }
    }
    Ok(())
}

/// Site rules dirs: `$H5DOCTOR_RULES_PATH` (colon-separated) and `/etc/h5doctor/rules.d` when it exists.
pub fn default_site_dirs() -> Vec<PathBuf> {
    let mut dirs: Vec<PathBuf> = std::env::var_os("H5DOCTOR_RULES_PATH")
        .map(|v| std::env::split_paths(&v).filter(|p| !p.as_os_str().is_empty()).collect())
        .unwrap_or_default();
    let etc = PathBuf::from("/etc/h5doctor/rules.d");
    if etc.is_dir() {
        dirs.push(etc);
    }
    dirs
}

/// What one site rules file holds.
enum SiteFile {
    Rule(Box<Rule>),
    Silence(Silence),
    Pins(Vec<(Capability, String)>),
}

fn parse_site_file(source: &str, text: &str) -> Result<SiteFile, Error> {
    if is_silence(text) {
        parse_silence(source, text).map(SiteFile::Silence)
    } else if is_pins(text) {
        parse_pins(source, text).map(SiteFile::Pins)
    } else {
        parse_rule(source, text, false).map(|r| SiteFile::Rule(Box::new(r)))
    }
}

/// Checks one site rules file's text on its own (a rule, a silence or module pins), as [`RuleSet::load`]
/// would read it, without the shipped rules it may replace or silence: the error names `source`, line and
/// column. For tests of the parser (tests/fuzz.rs) and editors of site rules.
pub fn check_site_file(source: &str, text: &str) -> Result<(), Error> {
    parse_site_file(source, text).map(|_| ())
}

impl RuleSet {
    /// The shipped rules only.
    pub fn builtin() -> Result<Self, Error> {
        let mut set = RuleSet::default();
        let mut errors = Vec::new();
        for (rel, json) in EMBEDDED_RULES {
            if let Err(e) = shipped_rule(&format!("rules/{rel}"), json).and_then(|rule| set.add(rule)) {
                errors.push(e);
            }
        }
        match Error::all(errors) {
            Some(e) => Err(e),
            None => Ok(set),
        }
    }

    /// The shipped rules a run of `groups` can judge (their own group or one of their `also_in` among
    /// them), the same rules in the same order as [`RuleSet::builtin`] keeps of them: the other rules
    /// never match in such a run (`evaluate::diagnose` judges a rule only where its group ran), so they
    /// are not read (reading every shipped rule was a tenth of `check --only modules`' instructions when
    /// they were parsed from TOML). A shipped rule's group is the directory it is in (a test holds every
    /// file to that), and the few that name `also_in` are always read.
    pub fn builtin_for(groups: &[Group]) -> Result<Self, Error> {
        let mut set = RuleSet::default();
        let mut errors = Vec::new();
        for (rel, json) in EMBEDDED_RULES {
            let dir = rel.split_once('/').map_or("", |(dir, _)| dir);
            if !groups.iter().any(|g| g.as_str() == dir) && !json.contains("also_in") {
                continue;
            }
            let judged = |rule: &Rule| std::iter::once(&rule.group).chain(&rule.also_in).any(|g| groups.contains(g));
            match shipped_rule(&format!("rules/{rel}"), json) {
                Ok(rule) if !judged(&rule) => {}
                parsed => {
                    if let Err(e) = parsed.and_then(|rule| set.add(rule)) {
                        errors.push(e);
                    }
                }
            }
        }
        set.rules.sort_by(|a, b| a.id.cmp(&b.id));
        match Error::all(errors) {
            Some(e) => Err(e),
            None => Ok(set),
        }
    }

    /// The shipped rules plus the rules and silences of `site_dirs`, in order. Every invalid file is
    /// reported, not only the first.
    pub fn load(site_dirs: &[PathBuf]) -> Result<Self, Error> {
        let mut set = Self::builtin()?;
        let mut silences = Vec::new();
        let mut errors = Vec::new();
        for dir in site_dirs {
            if !dir.is_dir() {
                errors.push(Error::msg(format!(
                    "rules dir {} does not exist or is not a directory",
                    dir.display()
                )));
                continue;
            }
            let mut files = Vec::new();
            if let Err(e) = toml_files(dir, &mut files) {
                errors.push(e);
                continue;
            }
            for file in files {
                let source = file.display().to_string();
                let text = match std::fs::read_to_string(&file) {
                    Ok(text) => text,
                    Err(e) => {
                        errors.push(Error::with_source(format!("cannot read rule file {source}"), e));
                        continue;
                    }
                };
                let added = parse_site_file(&source, &text).and_then(|parsed| match parsed {
                    SiteFile::Silence(s) => {
                        silences.push(s);
                        Ok(())
                    }
                    SiteFile::Pins(pins) => {
                        set.module_pins.extend(pins);
                        Ok(())
                    }
                    SiteFile::Rule(rule) => set.add(*rule),
                });
                if let Err(e) = added {
                    errors.push(e);
                }
            }
        }
        if let Some(e) = Error::all(errors) {
            return Err(e);
        }
        for silence in silences {
            let before = set.rules.len();
            set.rules.retain(|r| r.id != silence.silence && r.slug != silence.silence);
            if set.rules.len() == before {
                return Err(Error::msg(format!(
                    "{}:1:1: silence names no known rule {:?}",
                    silence.source, silence.silence
                )));
            }
            set.silenced.push(silence);
        }
        set.rules.sort_by(|a, b| a.id.cmp(&b.id));
        Ok(set)
    }

    /// Adds a rule. A site rule with a shipped rule's id replaces it (keeping its slug); any other
    /// repeated id or slug is an error.
    fn add(&mut self, rule: Rule) -> Result<(), Error> {
        if let Some(pos) = self.rules.iter().position(|r| r.id == rule.id) {
            let existing = &self.rules[pos];
            if rule.shipped || !existing.shipped {
                return Err(Error::msg(format!(
                    "{}: duplicate rule id {} (also in {})",
                    rule.source, rule.id, existing.source
                )));
            }
            if existing.slug != rule.slug {
                return Err(Error::msg(format!(
                    "{}: rule {} overrides {} but changes its slug from {} to {}; slugs never change",
                    rule.source, rule.id, existing.source, existing.slug, rule.slug
                )));
            }
            self.rules[pos] = rule;
            return Ok(());
        }
        if let Some(existing) = self.rules.iter().find(|r| r.slug == rule.slug) {
            return Err(Error::msg(format!(
                "{}: duplicate slug {} (also used by {} in {})",
                rule.source, rule.slug, existing.id, existing.source
            )));
        }
        self.rules.push(rule);
        Ok(())
    }

    /// A rule by id or slug.
    pub fn find(&self, key: &str) -> Option<&Rule> {
        self.rules.iter().find(|r| r.id.eq_ignore_ascii_case(key) || r.slug == key)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shipped_rules_load() {
        let set = RuleSet::builtin().expect("shipped rules are valid");
        assert!(set.find("lock-unsupported").is_some());
    }

    /// Every shipped rule file is valid, checked as a site rule file is (from its TOML, so an error names
    /// the file, line and column), and the JSON build.rs embedded for it gives the same rule, field for
    /// field (the `Debug` form shows every field, compiled conditions and templates included).
    #[test]
    fn each_shipped_rule_read_from_its_embedded_json_is_the_rule_its_toml_file_gives() {
        assert_eq!(
            SHIPPED_RULES_TOML.iter().map(|(rel, _)| rel).collect::<Vec<_>>(),
            EMBEDDED_RULES.iter().map(|(rel, _)| rel).collect::<Vec<_>>(),
            "one embedded JSON per rule file, in the same order"
        );
        let mut invalid = Vec::new();
        for ((rel, toml), (_, json)) in SHIPPED_RULES_TOML.iter().zip(EMBEDDED_RULES) {
            let source = format!("rules/{rel}");
            match (parse_rule(&source, toml, true), shipped_rule(&source, json)) {
                (Ok(from_toml), Ok(from_json)) => {
                    assert_eq!(format!("{from_json:#?}"), format!("{from_toml:#?}"), "{source}")
                }
                (Err(e), _) => invalid.push(e.to_string()),
                (Ok(_), Err(e)) => panic!("{source} is valid TOML but its embedded JSON is not read back: {e}"),
            }
        }
        assert!(invalid.is_empty(), "invalid shipped rules:\n{}", invalid.join("\n"));
    }

    #[test]
    fn a_shipped_rules_group_is_its_directory() {
        // `builtin_for` selects shipped rules by their directory before reading them.
        for (rel, json) in EMBEDDED_RULES {
            let rule = shipped_rule(rel, json).expect("shipped rules are valid");
            assert_eq!(Some(rule.group.as_str()), rel.split_once('/').map(|(dir, _)| dir), "rules/{rel}");
        }
    }

    #[test]
    fn the_rules_for_some_groups_are_the_shipped_rules_judged_in_them() {
        let all = RuleSet::load(&[]).expect("shipped rules are valid");
        let mut runs: Vec<Vec<Group>> = Group::all().map(|g| vec![g]).collect();
        runs.push(Group::all().collect());
        runs.push(vec![Group::Mpi, Group::Modules]);
        runs.push(Vec::new());
        for groups in runs {
            let judged: Vec<&str> = all
                .rules
                .iter()
                .filter(|r| std::iter::once(&r.group).chain(&r.also_in).any(|g| groups.contains(g)))
                .map(|r| r.id.as_str())
                .collect();
            let some = RuleSet::builtin_for(&groups).expect("shipped rules are valid");
            let ids: Vec<&str> = some.rules.iter().map(|r| r.id.as_str()).collect();
            assert_eq!(ids, judged, "{groups:?}");
        }
        // Not vacuous: a modules run parses the modules rules and not the others.
        let modules = RuleSet::builtin_for(&[Group::Modules]).unwrap();
        assert!(modules.find("module-hdf5-twice").is_some());
        assert!(modules.find("lock-unsupported").is_none());
    }

    #[test]
    fn module_pins_are_validated_with_file_and_line() {
        let ok = parse_pins("site.toml", "[modules]\nhdf5-parallel = \"hdf5/1.14.3-openmpi\"\n").unwrap();
        assert_eq!(ok, vec![(Capability::Hdf5Parallel, "hdf5/1.14.3-openmpi".to_string())]);
        let e = parse_pins("site.toml", "[modules]\n\nhdf5-paralel = \"x/1\"\n")
            .unwrap_err()
            .to_string();
        assert!(
            e.starts_with("site.toml:3:1: unknown capability \"hdf5-paralel\" (did you mean \"hdf5-parallel\"? known: hdf5-serial, hdf5-parallel, mpi, python, h5py, h5py-parallel, mpi4py)"),
            "{e}"
        );
        let e = parse_pins("site.toml", "[modules]\nmpi = \"openmpi; rm -rf\"\n")
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("site.toml:2:7: bad module name"), "{e}");
        let e = parse_pins("site.toml", "[modules]\nmpi = 3\n").unwrap_err().to_string();
        assert!(e.starts_with("site.toml:2:7:"), "{e}");
    }

    #[test]
    fn line_col_counts_from_one() {
        assert_eq!(line_col("a\nbc\n", 3), (2, 2));
        assert_eq!(line_col("abc", 0), (1, 1));
    }
}
