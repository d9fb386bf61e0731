//! Ticket redaction that knows paths and names, so it hides who ran h5doctor without rewriting anything
//! else: with `USER=mpi`, "mpio not in this build", `libmpi.so` and the group `mpi` stay as they are.
//!
//! - The home directory becomes `~` and each scratch directory (`$SCRATCH`, `$PSCRATCH`, `$CSCRATCH`,
//!   `$DW_JOB_STRIPED`, `$DW_JOB_PRIVATE`) its variable's name, wherever it starts a path; the longest
//!   match wins, so the same path always gets the same placeholder.
//! - The user name becomes `<user>` only where it stands as a name: a whole path component
//!   (`/tmp/mpi/run` → `/tmp/<user>/run`) or the value of a `user` or `owner` field.
//! - Only absolute paths are rewritten (a token that starts with `/` at a word start); module names such as
//!   `mpi/openmpi` and every other word are left alone.
//!
//! Because the mapping is the same for every string and keeps path components apart, the redacted facts
//! replay to the same findings (`tests/ticket_redaction.rs` proves it for the user names mpi, h5 and py).

use crate::facts::Facts;
use serde_json::Value;

/// The placeholder of the user name.
pub const USER_PLACEHOLDER: &str = "<user>";

/// The variables whose directories are scratch space, as `probes::targets` names their origins.
const SCRATCH_VARS: &[&str] = &["SCRATCH", "PSCRATCH", "CSCRATCH", "DW_JOB_STRIPED", "DW_JOB_PRIVATE"];

/// Field names whose value is a user name.
const USER_FIELDS: &[&str] = &["user", "owner", "user_name", "owner_name", "username", "USER", "LOGNAME"];

/// Characters that end a path token (and, before a `/`, start one).
fn is_delimiter(c: char) -> bool {
    c.is_whitespace()
        || matches!(
            c,
            '"' | '\'' | '`' | '=' | ':' | ',' | ';' | '(' | ')' | '[' | ']' | '{' | '}' | '<' | '>' | '|'
        )
}

/// What to hide in one report, derived from its facts.
#[derive(Debug, Clone, Default)]
pub struct Redactor {
    /// The user name, when there is one worth hiding (not empty, not root).
    user: Option<String>,
    /// (directory, placeholder), longest directory first.
    prefixes: Vec<(String, String)>,
}

impl Redactor {
    /// A redactor that changes nothing (`--no-redact`).
    pub fn off() -> Self {
        Self::default()
    }

    /// The user, home and scratch directories of these facts.
    pub fn for_facts(facts: &Facts) -> Self {
        let user = Some(facts.host.user.clone()).filter(|u| !u.is_empty() && u != "root" && !u.contains('/'));
        let mut prefixes: Vec<(String, String)> = Vec::new();
        let mut add = |dir: &str, placeholder: String| {
            let dir = dir.trim_end_matches('/');
            if dir.len() > 1 && dir.starts_with('/') && !prefixes.iter().any(|(d, _)| d == dir) {
                prefixes.push((dir.to_string(), placeholder));
            }
        };
        add(&facts.host.home, "~".into());
        for d in &facts.dirs {
            if d.origin.split(", ").any(|o| o == "$HOME") {
                add(&d.path, "~".into());
            }
            for var in SCRATCH_VARS {
                if d.origin.split(", ").any(|o| o.strip_prefix('$') == Some(var)) {
                    add(&d.path, format!("${var}"));
                }
            }
        }
        for var in SCRATCH_VARS {
            if let Some(v) = facts.env.vars.get(*var) {
                add(v, format!("${var}"));
            }
        }
        prefixes.sort_by_key(|(dir, _)| std::cmp::Reverse(dir.len()));
        Self { user, prefixes }
    }

    /// Whether this redactor changes anything.
    pub fn is_active(&self) -> bool {
        self.user.is_some() || !self.prefixes.is_empty()
    }

    /// What it replaces, for the ticket's header: `~` = home, `$SCRATCH`, `<user>`.
    pub fn placeholders(&self) -> Vec<&str> {
        let mut out: Vec<&str> = Vec::new();
        let order = std::iter::once("~".to_string()).chain(SCRATCH_VARS.iter().map(|v| format!("${v}")));
        for placeholder in order {
            if let Some((_, p)) = self.prefixes.iter().find(|(_, p)| *p == placeholder) {
                out.push(p);
            }
        }
        if self.user.is_some() {
            out.push(USER_PLACEHOLDER);
        }
        out
    }

    /// One absolute path (a token without delimiters).
    fn path(&self, token: &str) -> String {
        // A sentence's full stop is not part of the path.
        let body = token.trim_end_matches('.');
        let tail = &token[body.len()..];
        let (mut out, rest) = match self
            .prefixes
            .iter()
            .find(|(dir, _)| body == dir || body.strip_prefix(dir.as_str()).is_some_and(|r| r.starts_with('/')))
        {
            Some((dir, placeholder)) => (placeholder.clone(), &body[dir.len()..]),
            None => (String::new(), body),
        };
        match &self.user {
            Some(user) => {
                let components: Vec<&str> = rest.split('/').map(|c| if c == user { USER_PLACEHOLDER } else { c }).collect();
                out.push_str(&components.join("/"));
            }
            None => out.push_str(rest),
        }
        out.push_str(tail);
        out
    }

    /// Free text: every absolute path in it redacted, every other word kept.
    pub fn text(&self, text: &str) -> String {
        if !self.is_active() {
            return text.to_string();
        }
        let mut out = String::with_capacity(text.len());
        let mut rest = text;
        let mut at_word_start = true;
        while let Some(c) = rest.chars().next() {
            if c == '/' && at_word_start {
                let end = rest.find(is_delimiter).unwrap_or(rest.len());
                out.push_str(&self.path(&rest[..end]));
                rest = &rest[end..];
                at_word_start = false;
                continue;
            }
            out.push(c);
            at_word_start = is_delimiter(c);
            rest = &rest[c.len_utf8()..];
        }
        out
    }

    /// A JSON value (facts, evidence): every string and map key as [`Self::text`], and the value of a
    /// `user` or `owner` field that is the user name as `<user>`.
    pub fn value(&self, value: &Value) -> Value {
        self.value_in_field(None, value)
    }

    /// A JSON value that is the field `field` of its parent (an evidence fact such as `host.user`).
    pub fn value_in_field(&self, field: Option<&str>, value: &Value) -> Value {
        match value {
            Value::String(s) => {
                let is_user_field = field.is_some_and(|f| USER_FIELDS.contains(&f));
                match &self.user {
                    Some(user) if is_user_field && s == user => Value::String(USER_PLACEHOLDER.into()),
                    _ => Value::String(self.text(s)),
                }
            }
            Value::Array(items) => Value::Array(items.iter().map(|v| self.value_in_field(field, v)).collect()),
            Value::Object(map) => Value::Object(map.iter().map(|(k, v)| (self.text(k), self.value_in_field(Some(k), v))).collect()),
            other => other.clone(),
        }
    }

    /// The facts as JSON, redacted.
    pub fn facts(&self, facts: &Facts) -> Value {
        self.value(&serde_json::to_value(facts).expect("facts serialise"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn redactor(user: &str, home: &str, scratch: &str) -> Redactor {
        let mut facts = Facts::new();
        facts.host.user = user.into();
        facts.host.home = home.into();
        facts.env.vars.insert("SCRATCH".into(), scratch.into());
        Redactor::for_facts(&facts)
    }

    #[test]
    fn a_short_user_name_is_replaced_only_where_it_is_a_name() {
        let r = redactor("mpi", "/home/mpi", "/lus/scratch/mpi");
        assert_eq!(r.text("mpio not in this build"), "mpio not in this build");
        assert_eq!(
            r.text("group mpi: libmpi.so.40 (mpi/openmpi-x86_64)"),
            "group mpi: libmpi.so.40 (mpi/openmpi-x86_64)"
        );
        assert_eq!(r.text("/tmp/mpi/run1 and /tmp/mpio/x"), "/tmp/<user>/run1 and /tmp/mpio/x");
        assert_eq!(r.text("in /home/mpi/run1/out.h5."), "in ~/run1/out.h5.");
        assert_eq!(r.text("`/home/mpi`"), "`~`");
        assert_eq!(
            r.text("/home/mpio/x"),
            "/home/mpio/x",
            "only the home directory itself, not a name that starts alike"
        );
        assert_eq!(r.text("PATH=/home/mpi/bin:/lus/scratch/mpi/bin"), "PATH=~/bin:$SCRATCH/bin");
        assert_eq!(r.text("a/mpi/b"), "a/mpi/b", "relative paths and module names are words");
    }

    #[test]
    fn user_fields_and_map_keys_are_redacted_other_values_kept() {
        let r = redactor("py", "/u/py", "/scratch/py");
        let v = serde_json::json!({"user": "py", "owner": "py", "name": "py", "groups": ["py"], "/u/py/x": 1, "where": "/scratch/py/job"});
        let out = r.value(&v);
        assert_eq!(
            out,
            serde_json::json!({"user": "<user>", "owner": "<user>", "name": "py", "groups": ["py"], "~/x": 1, "where": "$SCRATCH/job"})
        );
    }

    #[test]
    fn the_longest_directory_wins_and_root_or_nobody_changes_nothing() {
        let r = redactor("h5", "/home/h5", "/home/h5/scratch");
        assert_eq!(r.text("/home/h5/scratch/a /home/h5/b"), "$SCRATCH/a ~/b");
        let none = redactor("", "", "");
        assert!(!none.is_active());
        assert_eq!(Redactor::off().text("/home/h5"), "/home/h5");
    }
}
