//! Where a job's TMPDIR comes from, read from Slurm's own configuration: a `TaskProlog` (its
//! `export TMPDIR=...` lines set the variable for every task), `job_container/tmpfs` (a private /tmp per
//! job on every node) or, when neither, the job's environment. `mpio-test` names it when the test
//! directory is node-local and under TMPDIR: that is the usual way a multi-node job ends up writing one
//! "shared" file into a different directory on every node.

use std::path::{Path, PathBuf};

/// slurm.conf: `$SLURM_CONF`, else `/etc/slurm/slurm.conf`.
pub fn conf_path() -> PathBuf {
    std::env::var_os("SLURM_CONF")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/etc/slurm/slurm.conf"))
}

/// The value of `Key=value` in slurm.conf text (keys are case-insensitive; comments dropped).
fn setting(conf: &str, key: &str) -> Option<String> {
    conf.lines().map(|l| l.split('#').next().unwrap_or("").trim()).find_map(|l| {
        let (k, v) = l.split_once('=')?;
        k.trim().eq_ignore_ascii_case(key).then(|| v.trim().to_string())
    })
}

/// The first line of `script` that sets TMPDIR (`echo "export TMPDIR=..."`, `TMPDIR=...`), numbered.
fn line_setting_tmpdir(script: &str) -> Option<(usize, String)> {
    script
        .lines()
        .enumerate()
        .find(|(_, l)| !l.trim_start().starts_with('#') && l.contains("TMPDIR="))
        .map(|(i, l)| (i + 1, l.trim().to_string()))
}

/// Why `dir` is where it is, when it lies under `tmpdir` (or under /tmp with a per-job /tmp): the
/// TaskProlog line that sets TMPDIR, job_container/tmpfs, or the job's environment. None when `dir` is
/// not under either.
pub fn tmpdir_origin(dir: &Path, tmpdir: Option<&str>, conf_path: &Path) -> Option<String> {
    let conf = std::fs::read_to_string(conf_path).unwrap_or_default();
    let under_tmpdir = tmpdir.filter(|t| !t.is_empty()).filter(|t| {
        let t = std::fs::canonicalize(t).unwrap_or_else(|_| PathBuf::from(t));
        dir.starts_with(t)
    });
    if let Some(tmpdir) = under_tmpdir {
        if let Some(prolog) = setting(&conf, "TaskProlog") {
            let script = std::fs::read_to_string(&prolog).unwrap_or_default();
            if let Some((line, text)) = line_setting_tmpdir(&script) {
                return Some(format!(
                    "TMPDIR={tmpdir} is set per task by the Slurm TaskProlog {prolog} (line {line}: `{text}`, named in {})",
                    conf_path.display()
                ));
            }
        }
        return Some(format!(
            "TMPDIR={tmpdir} comes from the job's environment (no TaskProlog in {} sets it: the job script, a module or the login shell)",
            conf_path.display()
        ));
    }
    let container = setting(&conf, "JobContainerType").filter(|t| t.contains("tmpfs"));
    if let Some(container) = container.filter(|_| dir.starts_with("/tmp")) {
        return Some(format!(
            "/tmp is private to each job on each node (JobContainerType={container} in {})",
            conf_path.display()
        ));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_task_prolog_that_exports_tmpdir_is_named_with_its_line() {
        let dir = std::env::temp_dir().join(format!("h5doctor-slurmconf-{}", std::process::id()));
        std::fs::create_dir_all(dir.join("job7")).unwrap();
        let prolog = dir.join("taskprolog.sh");
        std::fs::write(
            &prolog,
            "#!/bin/sh\n# node-local scratch\nmkdir -p /tmp/job$SLURM_JOB_ID\necho \"export TMPDIR=/tmp/job$SLURM_JOB_ID\"\n",
        )
        .unwrap();
        let conf = dir.join("slurm.conf");
        std::fs::write(&conf, format!("ClusterName=x\ntaskprolog = {} # per task\n", prolog.display())).unwrap();
        let job = dir.join("job7");
        let origin = tmpdir_origin(&job, job.to_str(), &conf).unwrap();
        assert!(
            origin.contains(&format!(
                "Slurm TaskProlog {} (line 4: `echo \"export TMPDIR=/tmp/job$SLURM_JOB_ID\"`",
                prolog.display()
            )),
            "{origin}"
        );
        // Not under TMPDIR: nothing to say.
        assert_eq!(tmpdir_origin(&dir, job.to_str(), &conf), None);
        // No TaskProlog: the job's environment.
        std::fs::write(&conf, "ClusterName=x\n").unwrap();
        assert!(tmpdir_origin(&job, job.to_str(), &conf)
            .unwrap()
            .contains("comes from the job's environment"));
        std::fs::write(&conf, "JobContainerType=job_container/tmpfs\n").unwrap();
        assert!(tmpdir_origin(Path::new("/tmp/x"), None, &conf)
            .unwrap()
            .contains("JobContainerType=job_container/tmpfs"));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
