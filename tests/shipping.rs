//! `h5doctor completions` and `h5doctor man`, used the way a user does: the bash script sourced into a real
//! bash and asked to complete, the fish script asked with fish's own `complete -C`, the zsh script found by
//! zsh's compinit, and every man page rendered by man-db (`man -l`) without a groff warning.

mod common;
use common::*;
use std::process::Command;

/// Writes `text` to `dir/name` and returns the path.
fn write(dir: &std::path::Path, name: &str, text: &str) -> std::path::PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

/// Runs a shell script and returns its stdout; fails with what to install when the shell is missing.
fn shell(program: &str, args: &[&str], script: &str) -> String {
    let out = Command::new(program)
        .args(args)
        .arg(script)
        .env("HOME", tempdir().path())
        .output()
        .unwrap_or_else(|e| panic!("{program} is needed for this test (apt-get install {program}; scripts/dev.sh installs it): {e}"));
    assert!(
        out.status.success(),
        "{program} failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn completion_script(shell_name: &str) -> String {
    let run = H5doctor::new(&["completions", shell_name]).run();
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(!run.stdout.is_empty());
    run.stdout
}

/// What bash offers for the words typed so far (the last one being completed), through the function
/// that the sourced script registered with `complete -F`.
const BASH_COMPLETE: &str = r#"
fn=$(complete -p h5doctor | sed -E 's/.*-F ([^ ]+).*/\1/')
comp() {
  COMP_WORDS=("$@"); COMP_CWORD=$((${#COMP_WORDS[@]} - 1)); COMP_LINE="$*"; COMP_POINT=${#COMP_LINE}
  COMPREPLY=()
  "$fn" h5doctor "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD-1]}"
  printf '%s\n' "${COMPREPLY[@]}" | sort
}
"#;

#[test]
fn bash_completes_subcommands_formats_and_shells() {
    let dir = tempdir();
    let script = write(dir.path(), "h5doctor.bash", &completion_script("bash"));
    let test = format!(
        "source {}\n{BASH_COMPLETE}\necho '# ch'; comp h5doctor ch\necho '# format'; comp h5doctor check --format ''\n\
         echo '# m'; comp h5doctor m\necho '# shells'; comp h5doctor completions ''",
        script.display()
    );
    let out = shell("bash", &["--noprofile", "--norc", "-c"], &test);
    let section = |name: &str| -> Vec<String> {
        out.split(&format!("# {name}\n"))
            .nth(1)
            .unwrap_or_else(|| panic!("no {name} in {out}"))
            .lines()
            .take_while(|l| !l.starts_with('#'))
            .map(String::from)
            .collect()
    };
    assert_eq!(section("ch"), ["check"], "{out}");
    assert_eq!(section("format"), ["human", "json", "ticket"], "{out}");
    assert_eq!(section("m"), ["man", "modules", "mpio-test"], "{out}");
    let shells = section("shells");
    for s in ["bash", "elvish", "fish", "powershell", "zsh"] {
        assert!(shells.iter().any(|x| x == s), "{s} in {shells:?}");
    }
    assert!(!out.contains("probe-dirs"), "the hidden internal subcommand is not offered: {out}");
}

#[test]
fn fish_completes_subcommands_with_their_descriptions() {
    let dir = tempdir();
    let script = write(dir.path(), "h5doctor.fish", &completion_script("fish"));
    let out = shell(
        "fish",
        &["--no-config", "-c"],
        &format!(
            "source {}; complete -C 'h5doctor ch'; echo '#'; complete -C 'h5doctor ldd --'",
            script.display()
        ),
    );
    let (sub, ldd) = out.split_once("#\n").unwrap();
    assert_eq!(
        sub.trim(),
        "check\tProbe this node (or examine HDF5 files, or replay facts) and report findings with fixes"
    );
    for flag in ["--json", "--flat", "--help"] {
        assert!(ldd.lines().any(|l| l.starts_with(flag)), "{flag} in {ldd}");
    }
}

#[test]
fn zsh_compinit_picks_up_the_completion_function() {
    let dir = tempdir();
    write(dir.path(), "_h5doctor", &completion_script("zsh"));
    let out = shell(
        "zsh",
        &["-f", "-c"],
        &format!(
            "fpath=({} $fpath); autoload -Uz compinit; compinit -u -D; print -r -- \"$_comps[h5doctor]\"",
            dir.path().display()
        ),
    );
    assert_eq!(out.trim(), "_h5doctor");
}

#[test]
fn elvish_and_powershell_scripts_name_every_subcommand() {
    for shell_name in ["elvish", "powershell"] {
        let script = completion_script(shell_name);
        for sub in [
            "check",
            "facts",
            "rules",
            "explain",
            "ldd",
            "modules",
            "mpio-test",
            "completions",
            "man",
        ] {
            assert!(script.contains(sub), "{shell_name} script lacks {sub}");
        }
    }
    let bad = H5doctor::new(&["completions", "tcsh"]).run();
    assert_eq!(bad.code, 2);
    assert!(bad.stderr.contains("invalid value 'tcsh'"), "{}", bad.stderr);
}

/// `man -l FILE` as a user reads it (80 columns, plain text), with groff's warnings on.
fn man_render(page: &std::path::Path) -> String {
    let out = Command::new("man")
        .args(["--warnings", "-l"])
        .arg(page)
        .env("MANWIDTH", "80")
        .env("MAN_KEEP_FORMATTING", "0")
        .env("PAGER", "cat")
        .output()
        .expect("man (man-db) is needed for this test: apt-get install man-db; scripts/dev.sh installs it");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success() && stderr.trim().is_empty(), "{}: {stderr}", page.display());
    // man writes bold as overstrikes when its output is not a terminal; `col -b` style cleanup.
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let mut plain = String::new();
    for c in text.chars() {
        if c == '\u{8}' {
            plain.pop();
        } else {
            plain.push(c);
        }
    }
    plain
}

#[test]
fn every_man_page_renders_with_its_exit_status_and_the_rule_slugs() {
    let dir = tempdir();
    let run = H5doctor::new(&["man", "--dir", dir.path().to_str().unwrap()]).run();
    assert_eq!(run.code, 0, "{}", run.stderr);
    let mut names: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(
        names,
        [
            "h5doctor-check.1",
            "h5doctor-completions.1",
            "h5doctor-explain.1",
            "h5doctor-facts.1",
            "h5doctor-ldd.1",
            "h5doctor-man.1",
            "h5doctor-modules.1",
            "h5doctor-mpio-test.1",
            "h5doctor-rules.1",
            "h5doctor-schema.1",
            "h5doctor-summarize.1",
            "h5doctor.1"
        ]
    );
    let slugs: Vec<String> = H5doctor::new(&["rules"])
        .run()
        .stdout
        .lines()
        .map(|l| l.split_whitespace().nth(1).unwrap().to_string())
        .collect();
    assert!(slugs.len() > 20, "{slugs:?}");
    for name in &names {
        let text = man_render(&dir.path().join(name));
        let title = name.trim_end_matches(".1").to_uppercase();
        assert!(text.starts_with(&format!("{title}(1)")), "{name}:\n{text}");
        assert!(text.contains("EXIT STATUS"), "{name}:\n{text}");
        assert!(text.contains(&format!("h5doctor {}", env!("CARGO_PKG_VERSION"))), "{name}");
        if ["h5doctor.1", "h5doctor-check.1", "h5doctor-explain.1"].contains(&name.as_str()) {
            for slug in &slugs {
                assert!(text.contains(slug.as_str()), "{name} lacks the rule {slug}");
            }
        }
    }
    // Words as a reader sees them: justification pads lines with extra spaces.
    let check = man_render(&dir.path().join("h5doctor-check.1"))
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ");
    assert!(check.contains("--no-redact"), "{check}");
    assert!(check.contains("At least one error finding; with --strict"), "{check}");
    // The single page on stdout is the same page.
    let stdout = H5doctor::new(&["man", "check"]).run();
    assert_eq!(stdout.stdout, std::fs::read_to_string(dir.path().join("h5doctor-check.1")).unwrap());
    let unknown = H5doctor::new(&["man", "chek"]).run();
    assert_eq!(unknown.code, 2);
    assert!(unknown.stderr.contains("no subcommand \"chek\""), "{}", unknown.stderr);
}
