//! `h5doctor mpio-test`: proves parallel HDF5 over MPI-IO works on this file system with this launcher.
//!
//! h5doctor links neither HDF5 nor MPI, so the test itself is `h5doctor-probe-mpio` (the probe built with
//! the cargo feature `mpio` against a parallel HDF5). This module finds it, checks with h5doctor's own
//! ELF resolver that it can start (a missing libmpi or libhdf5 is a clear message and exit 2, not a
//! loader error per rank), and exec()s it, so the launcher's PMI environment reaches MPI_Init unchanged
//! and `srun h5doctor mpio-test` just works. The probe's rank 0 hands the facts it gathered back to this
//! h5doctor (`$H5DOCTOR_EXE check --facts`), which judges them with the rules in force.
//!
//! One case is not exec'd: under srun without the PMIx plugin, Open MPI's MPI_Init aborts the task
//! ("OMPI was not built with SLURM's PMI support"). There the probe runs as a child with its stderr
//! read, so a PMI failure becomes the finding `mpi-pmi-failure` with the library's own text as evidence.

mod pmi_socket;
pub mod python;

// The gathering helpers h5doctor-probe-mpio shares with this command live in the mpi group's home.
pub use crate::groups::mpi::probe::{env_map, facts_of_run, launcher_rank, ompi_jobid, ompi_jobid_of_namespace};

use crate::cli::MpioArgs;
use crate::error::Error;
use crate::facts::mpi::{launcher_of, MpiFacts, IO_VARS, LAUNCHER_VARS};
use crate::facts::values::MpiFamily;
use crate::facts::ProbeStatus;
use std::collections::BTreeMap;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// The MPI probe's name, installed next to h5doctor.
pub const PROBE_MPIO_NAME: &str = "h5doctor-probe-mpio";

/// Texts MPI libraries print when MPI_Init cannot talk to the launcher's PMI (research: Slurm matrix).
pub const PMI_FAILURE_TEXTS: &[&str] = &[
    "OMPI was not built with SLURM's PMI support",
    "PMI2_Init failed",
    "PMI_Init failed",
    "PMIx_Init failed",
    "Runtime environment uses unsupported PMI version",
];

/// Exit code of a tool failure.
const TOOL: u8 = crate::error::EXIT_TOOL_ERROR;

const INSTALL_HINT: &str = "h5doctor-probe-mpio is h5doctor's MPI-IO test, built against a parallel HDF5:\n  \
HDF5_DIR=/usr/lib/x86_64-linux-gnu/hdf5/openmpi cargo build --release -p h5doctor-probe --features mpio --target-dir target/mpio\n  \
cp target/mpio/release/h5doctor-probe $(dirname $(command -v h5doctor))/h5doctor-probe-mpio\n\
(scripts/dev.sh build does both), or set H5DOCTOR_PROBE_MPIO to its path. On a cluster: load the\n\
h5doctor module built for the MPI and parallel HDF5 modules your job uses.";

/// `$H5DOCTOR_PROBE_MPIO`, next to this executable, then PATH; the error lists where it looked.
pub fn locate() -> Result<PathBuf, String> {
    if let Some(p) = std::env::var_os("H5DOCTOR_PROBE_MPIO") {
        let p = PathBuf::from(p);
        return if p.is_file() {
            Ok(p)
        } else {
            Err(format!("H5DOCTOR_PROBE_MPIO={}: no such file", p.display()))
        };
    }
    let exe = std::env::current_exe().ok();
    crate::groups::hdf5::probe::pick::beside_or_on_path(PROBE_MPIO_NAME, exe.as_deref())
        .map_err(|looked| format!("{PROBE_MPIO_NAME} not found (looked in {})", looked.join(", ")))
}

/// Under srun, a PMI plugin other than PMIx: Open MPI cannot start, MPICH may start as singletons.
fn srun_without_pmix(env: &BTreeMap<String, String>) -> bool {
    let srun = (env.contains_key("SLURM_STEP_ID") || env.contains_key("SLURM_PROCID")) && !env.contains_key("OMPI_COMM_WORLD_SIZE");
    srun && !env.get("SLURM_MPI_TYPE").is_some_and(|t| t.starts_with("pmix"))
}

/// Runs `h5doctor mpio-test`. Returns only when the probe was not exec'd.
pub fn run(args: MpioArgs) -> Result<(u8, String), Error> {
    if !args.dir.is_dir() {
        return Err(Error::msg(format!("--dir {}: not a directory", args.dir.display())));
    }
    if let Some(interpreter) = &args.python {
        return python::run(&args, interpreter);
    }
    let probe = match locate() {
        Ok(p) => p,
        Err(e) => {
            eprintln!("h5doctor mpio-test: {e}\n\n{INSTALL_HINT}");
            return Ok((TOOL, String::new()));
        }
    };
    // Its libraries first: a missing libmpi or libhdf5 would otherwise be one loader error per rank.
    let closure = crate::groups::libraries::probe::check_one(&probe, PROBE_MPIO_NAME);
    if let Some(e) = &closure.error {
        eprintln!(
            "h5doctor mpio-test: {} is not a usable program: {e}\n\n{INSTALL_HINT}",
            probe.display()
        );
        return Ok((TOOL, String::new()));
    }
    if !closure.missing.is_empty() {
        let mut msg = format!("h5doctor mpio-test: {} cannot start: the loader cannot find", probe.display());
        for m in &closure.missing {
            msg.push_str(&format!("\n  {} (needed by {})", m.name, m.needed_by));
            if let Some(elsewhere) = m.found_elsewhere.first() {
                msg.push_str(&format!(" — there is one at {elsewhere}"));
            }
        }
        msg.push_str(&format!(
            "\nLoad the MPI and parallel HDF5 it was built with (module load ...), or add their lib directory to \
             LD_LIBRARY_PATH; `h5doctor ldd {}` shows every place looked.",
            probe.display()
        ));
        eprintln!("{msg}");
        return Ok((TOOL, String::new()));
    }
    let launcher_env = env_map(LAUNCHER_VARS);
    // The resolver's family names (openmpi, mpich, cray-mpich, unknown) are MpiFamily's spellings.
    let family = closure.mpi_libraries.iter().find_map(|l| l.family);
    let mut cmd = Command::new(&probe);
    cmd.arg("mpio-test").args(args.to_probe_args());
    // The probe gathers; this h5doctor judges what it gathered (the probe runs `h5doctor check --facts`).
    if let Ok(exe) = std::env::current_exe() {
        cmd.env("H5DOCTOR_EXE", exe);
    }
    if let Err(reason) = crate::trust::vet_command(&cmd) {
        eprintln!("h5doctor mpio-test: {reason}; install it root-owned (and every directory above it) to run the test as root");
        return Ok((TOOL, String::new()));
    }
    crate::trust::confine_plugin_path(&mut cmd);
    if !srun_without_pmix(&launcher_env) {
        let e = cmd.exec(); // only returns on failure
        eprintln!("h5doctor mpio-test: cannot run {}: {e}\n\n{INSTALL_HINT}", probe.display());
        return Ok((TOOL, String::new()));
    }
    run_watched(cmd, &probe, launcher_env, family, &args)
}

/// Runs the probe as a child (srun without PMIx) and turns a PMI failure of MPI_Init into facts.
fn run_watched(
    mut cmd: Command,
    probe: &Path,
    launcher_env: BTreeMap<String, String>,
    family: Option<MpiFamily>,
    args: &MpioArgs,
) -> Result<(u8, String), Error> {
    cmd.stdin(Stdio::inherit()).stdout(Stdio::inherit()).stderr(Stdio::piped());
    crate::probes::child::die_with_parent(&mut cmd);
    let mut child = cmd
        .spawn()
        .map_err(|e| Error::msg(format!("cannot run {}: {e}", probe.display())))?;
    crate::cleanup::register_child(child.id() as i32);
    let mut stderr = String::new();
    if let Some(mut pipe) = child.stderr.take() {
        use std::io::Read;
        let mut buf = Vec::new();
        let _ = pipe.read_to_end(&mut buf);
        stderr = String::from_utf8_lossy(&buf).into_owned();
    }
    let status = child
        .wait()
        .map_err(|e| Error::msg(format!("waiting for {}: {e}", probe.display())))?;
    crate::cleanup::unregister_child(child.id() as i32);
    let code = status.code().unwrap_or(TOOL as i32);
    let pmi_text = PMI_FAILURE_TEXTS.iter().find(|t| stderr.contains(**t));
    let Some(_) = pmi_text.filter(|_| code != 0) else {
        eprint!("{stderr}");
        return Ok((u8::try_from(code).unwrap_or(TOOL), String::new()));
    };
    let init_error = init_error_excerpt(&stderr, pmi_text.unwrap_or(&""));
    let (launcher, launcher_size) = launcher_of(&launcher_env);
    let facts = facts_of_run(MpiFacts {
        status: ProbeStatus::Inconclusive,
        reason: Some(format!("MPI_Init failed under {launcher}")),
        probe_path: Some(probe.display().to_string()),
        launcher_env,
        io_env: env_map(IO_VARS),
        srun_mpi_plugins: crate::probes::slurm_conf::mpi_plugins_under(&launcher),
        launcher: Some(launcher),
        launcher_size,
        family,
        dir: std::fs::canonicalize(&args.dir).ok().map(|d| d.display().to_string()),
        mib_per_rank: args.mib_per_rank,
        init_error: Some(init_error),
        ..MpiFacts::default()
    });
    let (code, text) = crate::commands::report_mpio(&facts, args.json)?;
    // One report per job: the task srun numbered 0 prints it.
    let first = facts.mpi.launcher_env.get("SLURM_PROCID").is_none_or(|r| r == "0");
    Ok((code, if first { text } else { String::new() }))
}

/// The paragraph of the library's message that holds `needle`, on one line (Open MPI wraps its text
/// over several lines between banner lines of dashes).
pub(crate) fn init_error_excerpt(stderr: &str, needle: &str) -> String {
    let mut paragraph: Vec<&str> = Vec::new();
    for line in stderr.lines().map(str::trim) {
        if line.is_empty() || line.starts_with("---") {
            if paragraph.join(" ").contains(needle) {
                break;
            }
            paragraph.clear();
        } else {
            paragraph.push(line);
        }
    }
    let text = paragraph.join(" ");
    if text.contains(needle) {
        text
    } else {
        needle.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn srun_without_pmix_is_recognised() {
        let env =
            |pairs: &[(&str, &str)]| -> BTreeMap<String, String> { pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect() };
        assert!(srun_without_pmix(&env(&[("SLURM_PROCID", "0"), ("SLURM_STEP_ID", "0")])));
        assert!(srun_without_pmix(&env(&[("SLURM_PROCID", "0"), ("SLURM_MPI_TYPE", "pmi2")])));
        assert!(!srun_without_pmix(&env(&[("SLURM_PROCID", "0"), ("SLURM_MPI_TYPE", "pmix_v4")])));
        // mpirun inside an allocation: Open MPI's own launcher, not srun's PMI.
        assert!(!srun_without_pmix(&env(&[("SLURM_PROCID", "0"), ("OMPI_COMM_WORLD_SIZE", "4")])));
        assert!(!srun_without_pmix(&env(&[])));
    }

    #[test]
    fn the_probe_parses_what_h5doctor_passes_on_and_rejects_what_h5doctor_rejects() {
        let args = MpioArgs {
            dir: PathBuf::from("/scratch/run 1"),
            mib_per_rank: 3,
            timeout: 2.5,
            json: true,
            python: None,
            compare: None,
            allow_exec_as_root: false,
            before_mpi_init: false,
        };
        let back = MpioArgs::parse_probe_args(&args.to_probe_args()).unwrap();
        assert_eq!((back.dir, back.mib_per_rank, back.timeout, back.json), (args.dir, 3, 2.5, true));
        let defaults = MpioArgs::parse_probe_args(&[]).unwrap();
        assert_eq!(
            (defaults.dir, defaults.mib_per_rank, defaults.timeout),
            (PathBuf::from("."), 8, 120.0)
        );
        let bad = |a: &[&str]| MpioArgs::parse_probe_args(&a.iter().map(|s| s.to_string()).collect::<Vec<_>>()).unwrap_err();
        assert!(
            bad(&["--mib-per-rank", "0"]).contains("--mib-per-rank"),
            "{}",
            bad(&["--mib-per-rank", "0"])
        );
        assert!(bad(&["--timeout", "0"]).contains("positive number of seconds"));
        assert!(bad(&["--bogus"]).contains("--bogus"));
    }

    #[test]
    fn the_pmi_paragraph_is_kept_on_one_line() {
        let stderr = "[vm:1] OPAL ERROR: Unreachable in file ext3x_client.c at line 112\n----------\nThe application appears to have been direct launched using \"srun\",\nbut OMPI was not built with SLURM's PMI support and therefore cannot\nexecute. There are several options:\n\nVersions earlier than 16.05\n---------\n";
        assert_eq!(
            init_error_excerpt(stderr, "OMPI was not built with SLURM's PMI support"),
            "The application appears to have been direct launched using \"srun\", but OMPI was not built with SLURM's PMI support and therefore cannot execute. There are several options:"
        );
    }
}
