//! The command line (clap): `check`, `facts`, `rules`, `explain`.

use clap::{Args, Parser, Subcommand, ValueEnum};
use std::path::PathBuf;

const EXAMPLES: &str = "\
Examples:
  h5doctor check                          probe this node: cwd, $HOME, $TMPDIR, $SCRATCH, ...
  h5doctor check --dir /lus/scratch/run1  also probe the directory the job writes to
  h5doctor check run1/out.h5              examine a file a job left behind (stale flags, truncation,
                                          a lock someone holds, filters that are not available)
  h5doctor check --json | jq .summary     for scripts (exit 0 ok, 1 error findings, 2 h5doctor failed)
  h5doctor check --format ticket > t.md   a redacted report to attach to a support ticket
  h5doctor facts --json > node.json       gather facts on a compute node ...
  h5doctor check --facts node.json        ... and judge them at the support desk
  h5doctor explain lock-unsupported       what a finding means and how to fix it";

#[derive(Debug, Parser)]
#[command(name = "h5doctor", version, about = "Finds out why HDF5 I/O fails or will fail on this node, and what exactly to change.", after_help = EXAMPLES)]
pub struct Cli {
    /// More logging on stderr (-v probes, -vv commands run); RUST_LOG works too.
    #[arg(short, long, action = clap::ArgAction::Count, global = true)]
    pub verbose: u8,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Probe this node (or examine HDF5 files, or replay facts) and report findings with fixes.
    Check(CheckArgs),
    /// Gather and print the facts, without judging them.
    Facts(FactsArgs),
    /// List the rules in force (shipped and site rules).
    Rules(RulesArgs),
    /// Explain one rule: what it means, why it breaks, an example, its fixes.
    Explain {
        /// A slug (lock-unsupported) or an id (H5D101).
        rule: String,
        #[command(flatten)]
        rules: RulesSource,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    Human,
    Json,
    /// Markdown for a support ticket, with the user name and home directory redacted.
    Ticket,
}

/// Where probing happens and how long each risky probe may take.
#[derive(Debug, Args)]
pub struct ProbeArgs {
    /// HDF5 files to examine; without --dir the run is about these files only.
    #[arg(value_name = "FILE")]
    pub files: Vec<PathBuf>,
    /// A directory the job writes to; repeat for several.
    #[arg(long = "dir", value_name = "PATH")]
    pub dirs: Vec<PathBuf>,
    /// Probe only the --dir directories, not cwd, $HOME, $TMPDIR and the scratch variables.
    #[arg(long)]
    pub no_default_dirs: bool,
    /// Run only these probe groups (locking, hdf5, plugins, file); repeat for several.
    #[arg(long, value_name = "GROUP")]
    pub only: Vec<String>,
    /// Time limit in seconds for each risky probe (lock calls, the HDF5 probe).
    #[arg(long, value_name = "SECS", default_value_t = 20.0)]
    pub timeout: f64,
}

/// Extra rules dirs on top of $H5DOCTOR_RULES_PATH and /etc/h5doctor/rules.d.
#[derive(Debug, Args)]
pub struct RulesSource {
    /// A site rules directory (adds, replaces or silences rules); repeat for several.
    #[arg(long = "rules", value_name = "DIR")]
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
    /// Judge facts from a file written by `h5doctor facts --json` instead of probing.
    #[arg(long, value_name = "FILE", conflicts_with_all = ["dirs", "no_default_dirs", "only", "files"])]
    pub facts: Option<PathBuf>,
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
pub struct RulesArgs {
    #[command(flatten)]
    pub rules: RulesSource,
    /// Print the rules as JSON.
    #[arg(long)]
    pub json: bool,
}
