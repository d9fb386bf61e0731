//! The command line (clap): `check`, `facts`, `rules`, `explain`, `ldd`, `mpio-test`, and the shipping
//! helpers `completions` and `man`, which are generated from these same definitions (see `crate::man`), and
//! `schema` (see `crate::schema`).

use clap::{Args, Parser, Subcommand, ValueEnum};
use std::path::PathBuf;

const EXAMPLES: &str = "\
Examples:
  h5doctor check                          probe this node: cwd, $HOME, $TMPDIR, $SCRATCH, ...
  h5doctor check --dir /lus/scratch/run1  also probe the directory the job writes to
  h5doctor check --python ~/venv/bin/python   also diagnose the interpreter the job runs
  h5doctor check run1/out.h5              examine a file a job left behind (stale flags, truncation,
                                          a lock someone holds, filters that are not available)
  h5doctor check --json | jq .summary     for scripts (exit 0 ok, 1 error findings, 2 h5doctor failed)
  h5doctor check --format ticket > t.md   a redacted report to attach to a support ticket
  h5doctor facts --json > node.json       gather facts on a compute node ...
  h5doctor check --facts node.json        ... and judge them at the support desk
  srun -N 64 --ntasks-per-node=1 --output=facts/%N.json h5doctor facts --json
  h5doctor summarize facts/               findings by node (nid[001-064]), what differs between nodes
  h5doctor summarize facts/ --login login.json   ... and the directories the nodes do not mount as the login node does
  h5doctor explain lock-unsupported       what a finding means and how to fix it
  h5doctor ldd ./app                      which libraries ./app loads, how each is found, what is missing
  h5doctor check --binary ./app           also judge ./app's libraries (missing, duplicate HDF5, MPI mix)
  srun -n 4 --mpi=pmix h5doctor mpio-test --dir $SCRATCH   parallel HDF5 over MPI-IO in a job, with bandwidth
  mpirun -n 4 h5doctor mpio-test --python ~/venv/bin/python   the same through mpi4py and h5py's mpio driver";

#[derive(Debug, Parser)]
#[command(name = "h5doctor", version, about = "Finds out why HDF5 I/O fails or will fail on this node, and what exactly to change.", after_help = EXAMPLES)]
pub struct Cli {
    /// More logging on stderr (-v probes, -vv commands run); RUST_LOG works too.
    #[arg(short, long, action = clap::ArgAction::Count, global = true)]
    pub verbose: u8,
    #[command(subcommand)]
    pub command: Command,
}

impl Cli {
    /// This process's command line. `h5doctor ldd ...` is parsed first with `ldd`'s own definitions
    /// only (building every command's arguments costs more than resolving a small program); whatever
    /// that parser does not take as it is (help, an error, any other command) goes through the full
    /// parser, so what is parsed, printed and exited with is the same.
    pub fn parse_args() -> Result<Self, clap::Error> {
        Self::parse_from_args(std::env::args_os().collect())
    }

    /// [`Self::parse_args`] of the given arguments (the program's name first).
    pub fn parse_from_args(args: Vec<std::ffi::OsString>) -> Result<Self, clap::Error> {
        match Self::parse_ldd(&args) {
            Some(cli) => Ok(cli),
            None => Self::try_parse_from(args),
        }
    }

    /// `ldd`'s parser: the global `--verbose` and [`LddArgs`], nothing else.
    fn parse_ldd(args: &[std::ffi::OsString]) -> Option<Self> {
        if args.get(1)? != "ldd" {
            return None;
        }
        let verbose = clap::Arg::new("verbose")
            .short('v')
            .long("verbose")
            .action(clap::ArgAction::Count)
            .global(true);
        let cmd = clap::Command::new("h5doctor")
            .arg(verbose)
            .subcommand(LddArgs::augment_args(clap::Command::new("ldd")));
        let matches = cmd.try_get_matches_from(args).ok()?;
        <Self as clap::FromArgMatches>::from_arg_matches(&matches).ok()
    }
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Probe this node (or examine HDF5 files, or replay facts) and report findings with fixes.
    Check(CheckArgs),
    /// Gather and print the facts, without judging them.
    Facts(FactsArgs),
    /// List the rules in force (shipped and site rules).
    Rules(RulesArgs),
    /// Internal: probe directories in a child process (see probes::dirs).
    #[command(name = "probe-dirs", hide = true)]
    ProbeDirs { paths: Vec<PathBuf> },
    /// Explain one rule: what it means, why it breaks, an example, its fixes.
    Explain {
        /// A slug (lock-unsupported) or an id (H5D101).
        rule: String,
        #[command(flatten)]
        rules: RulesSource,
    },
    /// Show the shared libraries of ELF files as glibc's ld.so resolves them, without running them:
    /// how each is found, and for a missing one every place looked.
    Ldd(LddArgs),
    /// The module index as users see it: every module on MODULEPATH (hierarchy levels included) with
    /// its default marker, file, what it provides, the paths it adds, the modules to load first and
    /// the line that loads it. `--provides libhdf5.so.310` answers "which module gives me this library".
    Modules(ModulesArgs),
    /// Many nodes' facts in one view: each finding with the nodes it appears on (a Slurm hostlist), the
    /// nodes without findings, what differs between nodes, files that could not be read. Gather with
    /// `srun -N N --ntasks-per-node=1 --output=facts/%N.json h5doctor facts --json`.
    Summarize(SummarizeArgs),
    /// Inside a job (`srun h5doctor mpio-test`, `mpirun -n 4 h5doctor mpio-test`): prove that parallel
    /// HDF5 over MPI-IO works on this file system with this launcher, and report its bandwidth.
    #[command(name = "mpio-test")]
    MpioTest(MpioArgs),
    /// Print a shell completion script (bash, zsh, fish, elvish, powershell).
    ///
    /// bash: `h5doctor completions bash > ~/.local/share/bash-completion/completions/h5doctor`;
    /// zsh: into a directory on $fpath as `_h5doctor`; fish: `~/.config/fish/completions/h5doctor.fish`.
    /// `scripts/dev.sh install PREFIX` installs all of them.
    Completions {
        /// The shell to complete in.
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Print the manual page of h5doctor (roff, read it with `man -l -`), or of one subcommand.
    Man(ManArgs),
    /// Print the JSON Schema of the JSON documents h5doctor writes (all, or one command's).
    Schema {
        /// The command whose document to describe (check, facts, ldd, rules, modules, mpio-test); none:
        /// every document in one schema (docs/h5doctor.schema.json).
        #[arg(value_name = "COMMAND")]
        command: Option<String>,
    },
}

#[derive(Debug, Args)]
pub struct ManArgs {
    /// The subcommand whose page to print (`check` prints h5doctor-check(1)); none: h5doctor(1).
    #[arg(value_name = "SUBCOMMAND")]
    pub subcommand: Option<String>,
    /// Write every page (h5doctor.1 and h5doctor-SUBCOMMAND.1) into DIR instead of printing one.
    #[arg(long, value_name = "DIR", value_hint = clap::ValueHint::DirPath, conflicts_with = "subcommand")]
    pub dir: Option<PathBuf>,
}

/// The arguments of `h5doctor mpio-test`, which the MPI probe takes unchanged: the one definition both
/// binaries parse (`h5doctor mpio-test ARGS` execs `h5doctor-probe-mpio mpio-test ARGS`).
#[derive(Debug, Clone, Args)]
pub struct MpioArgs {
    /// The directory to test (one shared file, removed at the end).
    #[arg(long, value_name = "DIR", default_value = ".", value_hint = clap::ValueHint::DirPath)]
    pub dir: PathBuf,
    /// MiB each rank writes per dataset (two datasets: collective and independent).
    #[arg(long, value_name = "N", default_value_t = 8, value_parser = clap::value_parser!(u64).range(1..=65536))]
    pub mib_per_rank: u64,
    /// Seconds before a stuck test is ended on every rank (exit 2) instead of hanging the job.
    #[arg(long, value_name = "SECS", default_value_t = 120.0, value_parser = positive_seconds)]
    pub timeout: f64,
    /// Print the JSON report (replayable: `h5doctor check --facts FILE` judges it again).
    #[arg(long)]
    pub json: bool,
    /// Run the test through this Python interpreter, as a parallel h5py program runs (mpi4py's
    /// COMM_WORLD, h5py.File(..., driver='mpio')), instead of h5doctor's own MPI probe. Without a value:
    /// python3 on PATH.
    #[arg(long, value_name = "PYTHON", num_args = 0..=1, default_missing_value = "python3")]
    pub python: Option<PathBuf>,
    /// With --python: the JSON report of `h5doctor mpio-test --json` (the probe's test) from the same job,
    /// shown side by side with the Python test.
    #[arg(long, value_name = "FILE", requires = "python")]
    pub compare: Option<PathBuf>,
    /// As root, run the --python interpreter although a non-root user could have written it (without
    /// this it runs as root only when h5doctor trusts it: owned by root, nothing above it writable).
    #[arg(long, requires = "python")]
    pub allow_exec_as_root: bool,
    /// With --python: stop after the imports, before MPI_Init, and verify no module fix. How h5doctor
    /// re-runs the failing imports in the environment a module fix produces (verification on the spot).
    #[arg(long, requires = "python", hide = true)]
    pub before_mpi_init: bool,
}

fn positive_seconds(text: &str) -> Result<f64, String> {
    match text.parse::<f64>() {
        Ok(v) if v.is_finite() && v > 0.0 => Ok(v),
        _ => Err(format!("{text}: must be a positive number of seconds")),
    }
}

/// The probe's command line: `mpio-test` and [`MpioArgs`].
#[derive(Debug, Parser)]
#[command(name = "h5doctor-probe-mpio mpio-test", no_binary_name = true)]
struct ProbeCommandLine {
    #[command(flatten)]
    args: MpioArgs,
}

impl MpioArgs {
    /// The probe's arguments after `mpio-test`, as h5doctor passes them on.
    pub fn to_probe_args(&self) -> Vec<String> {
        let mut v = vec![
            "--dir".to_string(),
            self.dir.display().to_string(),
            "--mib-per-rank".into(),
            self.mib_per_rank.to_string(),
            "--timeout".into(),
            self.timeout.to_string(),
        ];
        if self.json {
            v.push("--json".into());
        }
        v
    }

    /// Parses the probe's arguments after `mpio-test` (what [`MpioArgs::to_probe_args`] wrote, or a user).
    pub fn parse_probe_args(args: &[String]) -> Result<MpioArgs, String> {
        ProbeCommandLine::try_parse_from(args)
            .map(|c| c.args)
            .map_err(|e| e.to_string().trim_end().to_string())
    }
}

#[derive(Debug, Args)]
pub struct SummarizeArgs {
    /// Facts files (`h5doctor facts --json`, or JSON reports) and directories of them (every *.json).
    #[arg(required = true, value_name = "DIR|FILE")]
    pub inputs: Vec<PathBuf>,
    /// The login node's facts (`h5doctor facts --json --dir DIR` run on the login node with the same
    /// --dir): every node's target directories are compared with where the login node mounts them
    /// (dir-not-on-compute-nodes). This file is not counted as a node, also when it is in DIR.
    #[arg(long, value_name = "FILE", value_hint = clap::ValueHint::FilePath)]
    pub login: Option<PathBuf>,
    #[command(flatten)]
    pub rules: RulesSource,
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
    /// Count warnings as errors for the exit code.
    #[arg(long)]
    pub strict: bool,
}

#[derive(Debug, Args)]
pub struct LddArgs {
    /// Programs, shared libraries or Python extension modules.
    #[arg(required = true, value_name = "FILE", value_hint = clap::ValueHint::FilePath)]
    pub files: Vec<PathBuf>,
    /// Print JSON: objects with provenance, missing libraries with their search lists.
    #[arg(long, conflicts_with = "flat")]
    pub json: bool,
    /// Print ldd's flat `name => path` list instead of a tree.
    #[arg(long)]
    pub flat: bool,
    /// Resolve with the loader of the node that wrote this facts file (`h5doctor facts --json`): its
    /// `$PLATFORM`, glibc-hwcaps levels and legacy hwcap subdirectories instead of this CPU's.
    #[arg(long, value_name = "FACTS.json")]
    pub facts: Option<PathBuf>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    Human,
    Json,
    /// Markdown for a support ticket, with the user name, home and scratch directories redacted
    /// (`--no-redact` keeps them, for a site's internal tickets).
    Ticket,
}

/// Where probing happens and how long each risky probe may take.
#[derive(Debug, Args)]
pub struct ProbeArgs {
    /// HDF5 files to examine; without --dir the run is about these files only.
    #[arg(value_name = "FILE", value_hint = clap::ValueHint::FilePath)]
    pub files: Vec<PathBuf>,
    /// A directory the job writes to; repeat for several.
    #[arg(long = "dir", value_name = "PATH", value_hint = clap::ValueHint::DirPath)]
    pub dirs: Vec<PathBuf>,
    /// Probe only the --dir directories, not cwd, $HOME, $TMPDIR and the scratch variables.
    #[arg(long)]
    pub no_default_dirs: bool,
    /// Run only these probe groups; repeat for several.
    #[arg(long, value_name = "GROUP", value_enum)]
    pub only: Vec<crate::groups::Group>,
    /// A program, library or extension module whose shared libraries the job loads; its closure is
    /// checked (missing libraries, undefined symbols, two HDF5s, an MPI mix); repeat for several.
    #[arg(long = "binary", value_name = "FILE", value_hint = clap::ValueHint::FilePath)]
    pub binaries: Vec<PathBuf>,
    /// Time limit in seconds for each risky probe (lock calls, the HDF5 probe, a Python import).
    #[arg(long, value_name = "SECS", default_value_t = 20.0)]
    pub timeout: f64,
    /// A Python interpreter the job runs (a path or a command name); repeat for several.
    #[arg(long = "python", value_name = "PATH", value_hint = clap::ValueHint::CommandName)]
    pub pythons: Vec<PathBuf>,
    /// Diagnose only the --python interpreters, not python3/python on PATH, $VIRTUAL_ENV, $CONDA_PREFIX
    /// and /usr/bin/python3.
    #[arg(long)]
    pub no_default_pythons: bool,
    /// Diagnose the Python stack from files only: no interpreter imports NumPy or h5py.
    #[arg(long)]
    pub no_python_import: bool,
    /// How much the job will write in each target directory (bytes, or with a suffix: 500M, 20G, 2T);
    /// compared with the free space and the quota there.
    #[arg(long, value_name = "SIZE", value_parser = parse_size)]
    pub expect_size: Option<u64>,
    /// As root, run the --python interpreters (and the --binary programs) although a non-root user could
    /// have written them; without it they are only inspected from their files, never run as root.
    #[arg(long)]
    pub allow_exec_as_root: bool,
}

/// A size as people write it: `1048576`, `512K`, `500M`, `20G`, `2T` (powers of 1024; an optional `B`
/// or `iB` after the suffix).
pub fn parse_size(text: &str) -> Result<u64, String> {
    let t = text.trim();
    let upper = t.to_ascii_uppercase();
    let body = upper.trim_end_matches("IB").trim_end_matches('B');
    let (digits, shift) = match body.chars().last() {
        Some('K') => (&body[..body.len() - 1], 10),
        Some('M') => (&body[..body.len() - 1], 20),
        Some('G') => (&body[..body.len() - 1], 30),
        Some('T') => (&body[..body.len() - 1], 40),
        Some('P') => (&body[..body.len() - 1], 50),
        _ => (body, 0),
    };
    let value: f64 = digits
        .trim()
        .parse()
        .map_err(|_| format!("{text:?} is not a size (examples: 1048576, 500M, 20G, 2T)"))?;
    if !(value.is_finite() && value >= 0.0) {
        return Err(format!("{text:?} is not a size (examples: 1048576, 500M, 20G, 2T)"));
    }
    Ok((value * (1u64 << shift) as f64) as u64)
}

/// Extra rules dirs on top of $H5DOCTOR_RULES_PATH and /etc/h5doctor/rules.d.
#[derive(Debug, Args)]
pub struct RulesSource {
    /// A site rules directory (adds, replaces or silences rules); repeat for several.
    #[arg(long = "rules", value_name = "DIR", value_hint = clap::ValueHint::DirPath)]
    pub rules_dirs: Vec<PathBuf>,
}

#[derive(Debug, Args)]
pub struct CheckArgs {
    #[command(flatten)]
    pub probe: ProbeArgs,
    #[command(flatten)]
    pub rules: RulesSource,
    /// Same as --format json.
    #[arg(long, conflicts_with = "format")]
    pub json: bool,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Human)]
    pub format: Format,
    /// Count warnings as errors for the exit code.
    #[arg(long)]
    pub strict: bool,
    /// With --format ticket: keep the user name, home and scratch paths (for a site's internal tickets).
    #[arg(long)]
    pub no_redact: bool,
    /// Do not verify module fixes (by running the site's module command in a child and re-running the
    /// failing probe in the environment it produces).
    #[arg(long)]
    pub no_verify: bool,
    /// Judge facts from a file written by `h5doctor facts --json` instead of probing.
    #[arg(long, value_name = "FILE", value_hint = clap::ValueHint::FilePath, conflicts_with_all = ["dirs", "no_default_dirs", "only", "files", "binaries", "pythons", "no_default_pythons", "no_python_import", "expect_size", "allow_exec_as_root"])]
    pub facts: Option<PathBuf>,
    /// The login node's facts (`h5doctor facts --json --dir DIR` run there): compare where each target
    /// directory is mounted here with where it is mounted there (dir-not-on-compute-nodes).
    #[arg(long, value_name = "FILE", value_hint = clap::ValueHint::FilePath)]
    pub login: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct FactsArgs {
    #[command(flatten)]
    pub probe: ProbeArgs,
    /// Print the facts as JSON (the replayable form).
    #[arg(long)]
    pub json: bool,
    /// List the fact names rules can use, with their meaning, instead of probing.
    #[arg(long)]
    pub list: bool,
}

#[derive(Debug, Args)]
pub struct ModulesArgs {
    /// Show only modules whose name/version contains this (case-insensitive).
    pub query: Option<String>,
    /// Show only modules that provide this: a library file name (`libhdf5.so.310`, or a prefix such as
    /// `libhdf5_openmpi`) or a capability (hdf5-serial, hdf5-parallel, mpi, python, h5py, h5py-parallel, mpi4py).
    #[arg(long, value_name = "SONAME|CAPABILITY")]
    pub provides: Option<String>,
    /// Print the modules as JSON.
    #[arg(long)]
    pub json: bool,
    /// Seconds the index scan may take at most.
    #[arg(long, value_name = "SECS", default_value_t = 5.0)]
    pub timeout: f64,
    /// Site rules dirs whose `[modules]` pins apply (also $H5DOCTOR_RULES_PATH, /etc/h5doctor/rules.d).
    #[command(flatten)]
    pub rules: RulesSource,
}

#[derive(Debug, Args)]
pub struct RulesArgs {
    #[command(flatten)]
    pub rules: RulesSource,
    /// Print the rules as JSON.
    #[arg(long)]
    pub json: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `ldd`'s own parser gives what the full parser gives, and leaves to it what it does not accept.
    #[test]
    fn ldd_s_parser_agrees_with_the_full_parser() {
        let argv = |a: &[&str]| -> Vec<std::ffi::OsString> { a.iter().map(Into::into).collect() };
        for accepted in [
            &["h5doctor", "ldd", "a"][..],
            &["h5doctor", "ldd", "-v", "a", "b"],
            &["h5doctor", "ldd", "a", "-vv"],
            &["h5doctor", "ldd", "--json", "a"],
            &["h5doctor", "ldd", "--flat", "--facts", "node.json", "a"],
            &["h5doctor", "ldd", "--verbose", "--", "-x"],
        ] {
            let fast = Cli::parse_ldd(&argv(accepted)).unwrap_or_else(|| panic!("{accepted:?} not taken"));
            let full = Cli::try_parse_from(argv(accepted)).unwrap();
            assert_eq!(format!("{fast:?}"), format!("{full:?}"), "{accepted:?}");
        }
        for left in [
            &["h5doctor", "ldd"][..],
            &["h5doctor", "ldd", "--help"],
            &["h5doctor", "ldd", "--json", "--flat", "a"],
            &["h5doctor", "ldd", "--version", "a"],
            &["h5doctor", "ldd", "--no-such-option", "a"],
            &["h5doctor", "-v", "ldd", "a"],
            &["h5doctor", "check"],
        ] {
            assert!(Cli::parse_ldd(&argv(left)).is_none(), "{left:?}");
        }
        let help = Cli::parse_from_args(argv(&["h5doctor", "ldd", "--help"])).unwrap_err();
        assert_eq!(help.kind(), clap::error::ErrorKind::DisplayHelp);
        assert!(help.to_string().contains("Show the shared libraries"), "{help}");
    }
}
