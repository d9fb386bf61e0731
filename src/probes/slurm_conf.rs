//! Where a job's TMPDIR comes from, read from Slurm's own configuration: a `TaskProlog` (its
//! `export TMPDIR=...` lines set the variable for every task), `job_container/tmpfs` (a private /tmp per
//! job on every node) or, when neither, the job's environment. `mpio-test` names it when the test
//! directory is node-local and under TMPDIR: that is the usual way a multi-node job ends up writing one
//! "shared" file into a different directory on every node.
//!
//! Also the MPI plugins this Slurm has ([`mpi_plugins`], what `srun --mpi=list` shows), read from its
//! plugin directory without running anything, so that a PMI fix names a plugin that exists here.

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

/// The MPI plugins this Slurm has, as `srun --mpi=list` names them (`none`, `pmi2`, `pmix`, `pmix_v4`, ...),
/// sorted: the `mpi_NAME.so` files of its plugin directories. Those are slurm.conf's `PluginDir` (a
/// colon-separated list) or, unset, the directory of the `libslurmfull.so` that the `srun` on PATH loads:
/// Slurm installs its plugins beside it (`${libdir}/slurm`; Debian's /usr/lib/x86_64-linux-gnu/slurm-wlm).
/// Nothing is run (srun itself needs a reachable controller even for `--mpi=list`). None when no plugin
/// directory holds an MPI plugin.
pub fn mpi_plugins(conf_path: &Path) -> Option<Vec<String>> {
    let conf = std::fs::read_to_string(conf_path).unwrap_or_default();
    let dirs: Vec<PathBuf> = match setting(&conf, "PluginDir") {
        Some(list) => list.split(':').filter(|d| !d.is_empty()).map(PathBuf::from).collect(),
        None => libslurmfull_dir().into_iter().collect(),
    };
    let mut plugins: Vec<String> = dirs
        .iter()
        .filter_map(|d| std::fs::read_dir(d).ok())
        .flatten()
        .flatten()
        .filter_map(|e| {
            let name = e.file_name().into_string().ok()?;
            Some(name.strip_prefix("mpi_")?.strip_suffix(".so")?.to_string())
        })
        .collect();
    plugins.sort();
    plugins.dedup();
    (!plugins.is_empty()).then_some(plugins)
}

/// [`mpi_plugins`] of the Slurm in `$SLURM_CONF` when `launcher` (fact `mpi.launcher`) is srun; None otherwise.
pub fn mpi_plugins_under(launcher: &str) -> Option<Vec<String>> {
    launcher.starts_with("srun").then(|| mpi_plugins(&conf_path())).flatten()
}

/// The directory of the libslurmfull.so that `srun` on PATH loads, as the loader would find it.
fn libslurmfull_dir() -> Option<PathBuf> {
    use crate::elf::{resolve, FileCache, LoaderConfig};
    let srun = which::which("srun").ok()?;
    let resolution = resolve(&srun.to_string_lossy(), &LoaderConfig::from_env(), &FileCache::without_versions());
    let lib = resolution
        .objects
        .iter()
        .map(|n| Path::new(&n.path))
        .find(|p| p.file_name().is_some_and(|f| f.to_string_lossy().starts_with("libslurmfull")))?;
    lib.parent().map(Path::to_path_buf)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mpi_plugins_are_read_from_plugin_dir_or_beside_srun_libslurmfull() {
        let dir = std::env::temp_dir().join(format!("h5doctor-slurmplugins-{}", std::process::id()));
        let (a, b) = (dir.join("a"), dir.join("b"));
        std::fs::create_dir_all(&a).unwrap();
        std::fs::create_dir_all(&b).unwrap();
        for (d, f) in [
            (&a, "mpi_pmi2.so"),
            (&a, "mpi_none.so"),
            (&a, "select_cons_tres.so"),
            (&b, "mpi_pmi2.so"),
        ] {
            std::fs::write(d.join(f), b"").unwrap();
        }
        let conf = dir.join("slurm.conf");
        std::fs::write(
            &conf,
            format!("ClusterName=x\n PluginDir = {}:{} # two\n", a.display(), b.display()),
        )
        .unwrap();
        assert_eq!(mpi_plugins(&conf), Some(vec!["none".to_string(), "pmi2".to_string()]));
        std::fs::write(&conf, format!("PluginDir={}\n", dir.join("none-here").display())).unwrap();
        assert_eq!(mpi_plugins(&conf), None);
        // No PluginDir: beside the libslurmfull.so of srun (Debian's slurm-client here).
        std::fs::write(&conf, "ClusterName=x\n").unwrap();
        if Path::new("/usr/lib/x86_64-linux-gnu/slurm-wlm/mpi_pmix.so").exists() && which::which("srun").is_ok() {
            let found = mpi_plugins(&conf).expect("Debian's Slurm MPI plugins");
            assert!(found.iter().any(|p| p == "pmix") && found.iter().any(|p| p == "pmi2"), "{found:?}");
        }
        std::fs::remove_dir_all(&dir).unwrap();
    }

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
