//! The ticket report with short user names (mpi, h5, py) that are also parts of h5doctor's own words:
//! only the home and scratch directories and the user name as a name (a path component, the `user` field)
//! are replaced; everything else in the text and in the attached facts is byte-for-byte what `--no-redact`
//! prints; and the attached facts replay at the desk to exactly the findings of the original facts.
//!
//! The facts come from a real run on this node: the lock calls fail with errno 524 through the seccomp
//! injector (so every directory has a finding naming its path), and a file that is not HDF5 is examined.

mod common;
use common::*;
use serde_json::Value;
use std::path::Path;

/// A node layout with the user name in the home, the scratch and one more directory.
struct Layout {
    _root: tempfile::TempDir,
    home: String,
    scratch: String,
    work: String,
    tmp: String,
}

impl Layout {
    fn new(user: &str) -> Self {
        let root = tempdir();
        let r = root.path().to_str().unwrap().to_string();
        let layout = Layout {
            home: format!("{r}/home/{user}"),
            scratch: format!("{r}/scratch/{user}"),
            work: format!("{r}/work/{user}/run"),
            tmp: format!("{r}/tmp"),
            _root: root,
        };
        for d in [&layout.home, &layout.scratch, &layout.work, &layout.tmp] {
            std::fs::create_dir_all(d).unwrap();
        }
        std::fs::create_dir_all(format!("{}/run1", layout.home)).unwrap();
        layout
    }

    /// What the redaction must turn a string of the original into (test-side, from the known layout).
    fn expected(&self, user: &str, s: &str) -> String {
        let work_redacted = self.work.replace(&format!("/{user}/"), "/<user>/");
        let mut out = s
            .replace(&self.work, &work_redacted)
            .replace(&self.scratch, "$SCRATCH")
            .replace(&self.home, "~");
        // Any other path with the user name as a whole component (say /etc/alternatives/mpi).
        for end in ["/", "\"", "`", ":", " ", ")", ","] {
            out = out.replace(&format!("/{user}{end}"), &format!("/<user>{end}"));
        }
        if out.ends_with(&format!("/{user}")) {
            out = format!("{}/<user>", &out[..out.len() - user.len() - 1]);
        }
        out
    }
}

fn write(dir: &Path, name: &str, text: &str) -> std::path::PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p
}

/// The facts JSON block attached to a ticket.
fn attached_facts(ticket: &str) -> String {
    let start = ticket.find("```json\n").expect("the ticket attaches facts") + "```json\n".len();
    let end = start + ticket[start..].find("\n```").unwrap();
    ticket[start..end].to_string()
}

/// Every string of `redacted` is `expected(original)`, the `user` field is `<user>`, nothing else differs.
fn assert_redacted_as_expected(layout: &Layout, user: &str, field: &str, original: &Value, redacted: &Value) {
    match (original, redacted) {
        (Value::String(o), Value::String(r)) => {
            let want = if field == "user" && o == user {
                "<user>".to_string()
            } else {
                layout.expected(user, o)
            };
            assert_eq!(r, &want, "field {field}: {o:?}");
        }
        (Value::Array(o), Value::Array(r)) => {
            assert_eq!(o.len(), r.len(), "field {field}");
            for (a, b) in o.iter().zip(r) {
                assert_redacted_as_expected(layout, user, field, a, b);
            }
        }
        (Value::Object(o), Value::Object(r)) => {
            assert_eq!(o.len(), r.len(), "field {field}");
            for (k, a) in o {
                let key = layout.expected(user, k);
                let b = r.get(&key).unwrap_or_else(|| panic!("no key {key:?} in the redacted facts"));
                assert_redacted_as_expected(layout, user, k, a, b);
            }
        }
        (o, r) => assert_eq!(o, r, "field {field}"),
    }
}

fn check_facts(file: &Path, extra: &[&str]) -> Run {
    let mut args = vec!["check", "--facts", file.to_str().unwrap()];
    args.extend_from_slice(extra);
    H5doctor::new(&args).run()
}

fn redaction_keeps_words_and_replays_for(user: &str) {
    let layout = Layout::new(user);
    let not_hdf5 = write(
        Path::new(&format!("{}/run1", layout.home)),
        "notes.h5",
        &format!("{user} wrote this with mpio and h5py, not HDF5\n"),
    );
    let mut facts_run = H5doctor::injected(
        Some(("--flock", 524)),
        &[
            "facts",
            "--json",
            "--no-default-pythons",
            "--dir",
            &layout.work,
            "--dir",
            &layout.home,
            "--dir",
            &layout.scratch,
            not_hdf5.to_str().unwrap(),
        ],
    )
    .env("USER", user)
    .env("HOME", &layout.home)
    .env("SCRATCH", &layout.scratch)
    .env("TMPDIR", &layout.tmp)
    .env("HDF5_PLUGIN_PATH", format!("{}/plugins", layout.home));
    facts_run.command().current_dir(format!("{}/run1", layout.home));
    let facts_run = facts_run.run();
    assert_eq!(facts_run.code, 0, "{}", facts_run.stderr);
    let store = tempdir();
    let original_file = write(store.path(), "node.json", &facts_run.stdout);
    let original: Value = serde_json::from_str(&facts_run.stdout).unwrap();
    assert_eq!(original["host"]["user"], user);

    let ticket = check_facts(&original_file, &["--format", "ticket"]);
    let plain = check_facts(&original_file, &["--format", "ticket", "--no-redact"]);
    assert_eq!(ticket.code, 1, "lock and file errors: {}", ticket.stderr);
    assert_eq!(plain.code, 1);

    // The text: the raw paths are gone, and the ticket is exactly the unredacted one with the
    // placeholders in, so no word that merely contains the user name (mpio, h5py, h5doctor) changed.
    for raw in [&layout.home, &layout.scratch, &layout.work] {
        assert!(!ticket.stdout.contains(raw.as_str()), "{raw} in\n{}", ticket.stdout);
        assert!(plain.stdout.contains(raw.as_str()), "--no-redact keeps {raw}");
    }
    assert!(ticket.stdout.contains("~/run1/notes.h5"), "{}", ticket.stdout);
    assert!(ticket.stdout.contains("$SCRATCH"), "{}", ticket.stdout);
    assert!(ticket.stdout.contains("/work/<user>/run"), "{}", ticket.stdout);
    let marker = "- redacted: `~`, `$SCRATCH`, `<user>` (home, scratch, user name)\n";
    assert!(ticket.stdout.contains(marker), "{}", ticket.stdout);
    let want = layout
        .expected(user, &plain.stdout)
        .replace(&format!("\"user\": \"{user}\""), "\"user\": \"<user>\"");
    let got = ticket.stdout.replacen(marker, "", 1);
    if got != want {
        let line = got.lines().zip(want.lines()).find(|(a, b)| a != b);
        panic!("the ticket differs from the unredacted one by more than the placeholders: {line:?}");
    }

    // The attached facts: only the placeholders differ, and they replay to the same findings.
    let attached = attached_facts(&ticket.stdout);
    let redacted: Value = serde_json::from_str(&attached).expect("the attached facts are JSON");
    assert_redacted_as_expected(&layout, user, "", &original, &redacted);
    let redacted_file = write(store.path(), "ticket-facts.json", &attached);
    let at_node = check_facts(&original_file, &["--json"]);
    let at_desk = check_facts(&redacted_file, &["--json"]);
    assert_eq!(at_desk.code, at_node.code, "{}", at_desk.stderr);
    let (at_node, at_desk) = (at_node.json(), at_desk.json());
    let node_slugs = slugs(&at_node);
    for slug in ["lock-unsupported", "file-not-hdf5"] {
        assert!(node_slugs.iter().any(|s| s == slug), "{slug} in {node_slugs:?}");
    }
    assert_eq!(slugs(&at_desk), node_slugs);
    for key in ["findings", "inconclusive", "summary"] {
        let expected: Value = serde_json::from_str(&layout.expected(user, &at_node[key].to_string())).unwrap();
        assert_eq!(at_desk[key], expected, "{key} replayed from the ticket's facts");
    }
}

#[test]
fn user_mpi() {
    redaction_keeps_words_and_replays_for("mpi");
}

#[test]
fn user_h5() {
    redaction_keeps_words_and_replays_for("h5");
}

#[test]
fn user_py() {
    redaction_keeps_words_and_replays_for("py");
}
