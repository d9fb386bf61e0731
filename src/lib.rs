//! h5doctor: finds out why HDF5 I/O fails or will fail on an HPC node, and what exactly to change.
//!
//! The pipeline, one module per stage:
//!
//! ```text
//! probes (gather)  ->  facts (typed, replayable)  ->  rules (TOML data, judge)  ->  findings  ->  report (render)
//! ```
//!
//! This crate never links HDF5 or MPI; everything that must is in the `h5doctor-probe` binary, run as a
//! child process with a timeout (see `groups::hdf5::probe`).

pub mod cleanup;
pub mod cli;
pub mod commands;
pub mod elf;
pub mod errno;
mod error;
pub mod facts;
pub mod findings;
pub mod groups;
pub mod hostlist;
pub mod known_filters;
pub mod man;
pub mod mpio;
pub mod ownership;
pub mod probes;
pub mod report;
pub mod rules;
pub mod schema;
pub mod trust;

pub use error::{Error, EXIT_TOOL_ERROR};

use cli::{Cli, Command};
pub use commands::Output;

/// Runs a parsed command line; returns the exit code and what to print on stdout.
pub fn run(cli: Cli) -> Result<(u8, Output), Error> {
    match cli.command {
        Command::Check(args) => commands::check(args),
        other => run_text(other).map(|(code, text)| (code, Output::Text(text))),
    }
}

/// The commands whose output is made in memory.
fn run_text(command: Command) -> Result<(u8, String), Error> {
    match command {
        Command::Check(args) => commands::check(args).map(|(code, output)| {
            let mut text = Vec::new();
            output.write_to(&mut text).expect("writing to memory does not fail");
            (code, String::from_utf8_lossy(&text).into_owned())
        }),
        Command::Facts(args) => commands::facts_cmd(args),
        Command::Rules(args) => commands::rules_cmd(args),
        Command::Explain { rule, rules } => commands::explain(&rule, &commands::load_rules(&rules)?),
        Command::ProbeDirs { paths } => probes::dirs::serve(&paths),
        Command::Ldd(args) => commands::ldd_cmd(args),
        Command::Modules(args) => commands::modules_cmd(args),
        Command::Summarize(args) => commands::summarize(args),
        Command::MpioTest(args) => mpio::run(args),
        Command::Completions { shell } => Ok((0, man::completions(shell))),
        Command::Man(args) => Ok((0, man::run(&args)?)),
        Command::Schema { command } => Ok((0, schema::render(command.as_deref())?)),
    }
}
