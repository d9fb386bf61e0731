//! A module fix checked on the spot: the site's own module command (Lmod's `$LMOD_CMD bash ...`, or
//! Environment Modules' `modulecmd.tcl bash ...` from `$MODULES_CMD`) runs the fix's line in a child
//! bash, bounded by the timeout, and the environment it produces is returned, so that the caller can
//! re-run the failing probe in it. The caller's environment is never changed; nothing but the module
//! command (and the bash that evaluates its output, as `module` does) runs; the line is split into
//! words and quoted, never handed to a shell as text. As root, the module command and the modulefiles
//! the line loads must be trusted ([`crate::trust`]) or nothing runs.
//!
//! Each `module` invocation of a line (`module load gcc/12 openmpi/4.1 && module swap hdf5 phdf5`) runs in
//! a bash of its own, started with the environment the one before produced: a modulefile sets
//! LD_PRELOAD, LD_LIBRARY_PATH, PATH or the module command's own variable, and the next invocation's
//! module command (an interpreter, `lua` or `tclsh`, started by the dynamic loader; Lmod runs
//! programs by name, such as `groups` and `id -u` for a modulefile's `userInGroups`, found on PATH) would
//! run with them.
//! So each is vetted in the environment it gets, as every program h5doctor starts is
//! ([`crate::trust::vet_command`]), before it runs; inside one bash that check could not come between them.
//! Within one invocation nothing can be vetted between a modulefile and Lmod: Lmod's own call by name
//! (`stty size`, for the terminal width) is kept from happening by giving it the width.

use crate::facts::modules::ModulesFacts;
use crate::probes::child;
use crate::trust;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

/// The environment a module line produced, and which tool made it.
#[derive(Debug)]
pub struct ModuleRun {
    pub env: HashMap<String, String>,
    /// `Lmod (/usr/share/lmod/lmod/libexec/lmod)` or `Environment Modules (.../modulecmd.tcl)`.
    pub tool: String,
}

/// The `module` invocations of a line (`module load a b && module swap c d`), as words. Only module
/// names and options are accepted, so the words can be quoted safely.
pub fn parse_line(line: &str) -> Result<Vec<Vec<String>>, String> {
    let mut parts = Vec::new();
    for part in line.split("&&") {
        let words: Vec<String> = part.split_whitespace().map(str::to_string).collect();
        if words.first().map(String::as_str) != Some("module") || words.len() < 2 {
            return Err(format!("not a module command: {:?}", part.trim()));
        }
        if !matches!(
            words[1].as_str(),
            "load" | "add" | "unload" | "rm" | "swap" | "switch" | "use" | "purge"
        ) {
            return Err(format!("module {} is not a sub-command h5doctor runs", words[1]));
        }
        if let Some(bad) = words[2..]
            .iter()
            .find(|w| !w.chars().all(|c| c.is_ascii_alphanumeric() || "._+-/@%:=,~".contains(c)))
        {
            return Err(format!("module name {bad:?} has characters h5doctor does not pass to a shell"));
        }
        parts.push(words[1..].to_vec());
    }
    Ok(parts)
}

/// The module command's error, in one line: from the first line that says "error" (Lmod: "Lmod has
/// detected the following error: ...", modulecmd: "ERROR: ..."), else the last lines; at most 300 chars.
fn error_message(stderr: &str) -> String {
    let lines: Vec<&str> = stderr.lines().map(str::trim).filter(|l| !l.is_empty()).collect();
    let from = lines
        .iter()
        .position(|l| l.to_ascii_lowercase().contains("error"))
        .unwrap_or(lines.len().saturating_sub(3));
    let text = lines[from..].join(" ");
    match text.char_indices().nth(300) {
        Some((i, _)) => format!("{}...", &text[..i]),
        None => text,
    }
}

/// `'word'` for bash.
fn quote(w: &str) -> String {
    format!("'{}'", w.replace('\'', "'\\''"))
}

/// The site's module command from the environment: the shell function body that evaluates its output,
/// the programs it runs, and its name.
fn module_command(env: &HashMap<String, String>) -> Result<(String, Vec<PathBuf>, String), String> {
    if let Some(cmd) = env.get("LMOD_CMD").filter(|c| !c.is_empty()) {
        return Ok((
            "eval \"$(\"$LMOD_CMD\" bash \"$@\")\"".into(),
            vec![PathBuf::from(cmd)],
            format!("Lmod ({cmd})"),
        ));
    }
    if let Some(cmd) = env.get("MODULES_CMD").filter(|c| !c.is_empty()) {
        // modulecmd.tcl is a Tcl script: run it with the tclsh on its #! line (or /usr/bin/tclsh).
        let tclsh = std::fs::read_to_string(cmd)
            .ok()
            .and_then(|t| t.lines().next().and_then(|l| l.strip_prefix("#!")).map(|l| l.trim().to_string()))
            .filter(|l| l.rsplit('/').next().is_some_and(|b| b.starts_with("tclsh")) && Path::new(l).is_file())
            .unwrap_or_else(|| "/usr/bin/tclsh".into());
        return Ok((
            format!("eval \"$({} \"$MODULES_CMD\" bash \"$@\")\"", quote(&tclsh)),
            vec![PathBuf::from(&tclsh), PathBuf::from(cmd)],
            format!("Environment Modules ({cmd})"),
        ));
    }
    Err("no module command in this environment (LMOD_CMD and MODULES_CMD are unset)".into())
}

/// As root, the module command, started with `env` (its file, its interpreter, the libraries the loader
/// would map with env's LD_LIBRARY_PATH and LD_PRELOAD, the directories of env's PATH, where it finds the
/// programs it runs by name), and every modulefile `words` names must be
/// trusted (owner and write bits along the path); otherwise nothing runs. The one place this is decided
/// for module commands.
fn vet_for_root(programs: &[PathBuf], env: &HashMap<String, String>, modules: &ModulesFacts, words: &[String]) -> Result<(), String> {
    for p in programs {
        trust::may_use(p).map_err(|e| e.to_string())?;
        let mut cmd = Command::new(p);
        cmd.env_clear().envs(env);
        trust::vet_command(&cmd).map_err(|e| e.to_string())?;
    }
    // The module command runs programs by name (Lmod: `groups`, `id -u`, `uname -a`), found on env's PATH.
    if let Some(program) = programs.last() {
        for entry in env.get("PATH").map(String::as_str).unwrap_or_default().split(':').filter(|e| !e.is_empty()) {
            trust::may_use(Path::new(entry)).map_err(|e| {
                format!(
                    "not run as root: {} runs programs found on PATH, and its entry {} {}",
                    program.display(),
                    entry,
                    e.detail
                )
            })?;
        }
    }
    for word in words.iter().skip(1) {
        for m in modules.index.modules.iter().filter(|m| m.full_name == *word || m.name == *word) {
            trust::may_use(Path::new(&m.file)).map_err(|e| e.to_string())?;
        }
    }
    Ok(())
}

/// Runs `line` with the site's module command, each invocation in a child bash started with the
/// environment the one before left (the first with `env`), and returns the environment the last leaves;
/// an error says why not (no module command, untrusted as root in the environment it would get, the
/// command failed with its message, or the timeout).
pub fn environment_after(
    modules: &ModulesFacts,
    line: &str,
    env: &HashMap<String, String>,
    timeout: Duration,
) -> Result<ModuleRun, String> {
    let parts = parse_line(line)?;
    let mut run = ModuleRun {
        env: env.clone(),
        tool: String::new(),
    };
    for (i, words) in parts.iter().enumerate() {
        let done = parts[..i].iter().map(|w| format!("module {}", w.join(" "))).collect::<Vec<_>>().join(" && ");
        let (body, programs, tool) = module_command(&run.env)?;
        vet_for_root(&programs, &run.env, modules, words).map_err(|why| {
            if done.is_empty() {
                why
            } else {
                format!("`module {}` after `{done}`: {why}", words.join(" "))
            }
        })?;
        run = ModuleRun {
            env: invocation(line, &body, &tool, words, &run.env, timeout)?,
            tool,
        };
    }
    Ok(run)
}

/// Lmod's variable for the terminal width it would otherwise ask `stty` and `tput` for.
const TERM_WIDTH: &str = "LMOD_TERM_WIDTH";

/// One `module WORDS` in a child bash started with `env`: the environment it leaves.
fn invocation(
    line: &str,
    body: &str,
    tool: &str,
    words: &[String],
    env: &HashMap<String, String>,
    timeout: Duration,
) -> Result<HashMap<String, String>, String> {
    let quoted: Vec<String> = words.iter().map(|w| quote(w)).collect();
    let mut script = format!("module() {{ {body}; }}\nmodule {}", quoted.join(" "));
    // The environment after the line, NUL-separated, with bash builtins only.
    script.push_str(" && for __h5d_v in $(compgen -e); do printf '%s=%s\\0' \"$__h5d_v\" \"${!__h5d_v}\"; done\n");
    let mut cmd = Command::new("/bin/bash");
    cmd.args(["--noprofile", "--norc", "-c", &script]);
    cmd.env_clear()
        .envs(env.iter().filter(|(k, _)| !matches!(k.as_str(), "BASH_ENV" | "ENV")));
    // Lmod asks `stty size` (then `tput cols`) for the terminal's width, by name, after the modulefiles
    // ran and in the PATH they left: a width of its own keeps it from running a program a modulefile's
    // PATH entry holds inside this one invocation, where no vetting can come in between.
    let width_set_here = !env.contains_key(TERM_WIDTH);
    if width_set_here {
        cmd.env(TERM_WIDTH, "80");
    }
    let out = child::run(cmd, timeout).map_err(|e| e.reason(Path::new("/bin/bash")))?;
    match out.status {
        Some(s) if s.success() => {}
        _ => {
            let tail = error_message(&out.stderr);
            return Err(format!(
                "`{line}` with {tool} {}{}",
                out.describe_end(timeout),
                if tail.is_empty() {
                    String::new()
                } else {
                    format!(": {}", tail.replace('\n', " "))
                }
            ));
        }
    }
    Ok(out
        .stdout
        .split('\0')
        .filter_map(|kv| kv.split_once('='))
        .filter(|(k, _)| !(k.starts_with("__h5d_") || width_set_here && *k == TERM_WIDTH))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_module_commands_with_plain_names_are_run() {
        assert_eq!(
            parse_line("module load gcc/12 openmpi/4.1 && module swap hdf5 phdf5/1.14.3").unwrap(),
            vec![vec!["load", "gcc/12", "openmpi/4.1"], vec!["swap", "hdf5", "phdf5/1.14.3"]]
        );
        assert!(parse_line("module load a;rm -rf ~").is_err());
        assert!(parse_line("module load $(id)").is_err());
        assert!(parse_line("export X=1").is_err());
        assert!(parse_line("module").is_err());
        assert_eq!(quote("it's"), "'it'\\''s'");
    }
}
