//! h5doctor's entry point: parse the command line, run, print, exit (0 fine, 1 error findings,
//! 2 h5doctor itself failed). Everything else is in the library.

use std::io::Write;
use std::process::ExitCode;

fn init_tracing(verbose: u8) {
    let default = match verbose {
        0 => "warn",
        1 => "h5doctor=info",
        _ => "h5doctor=debug",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(false)
        .init();
}

/// A line on stderr; never panics (eprintln! does when stderr is closed or full).
fn say(line: &str) {
    let _ = writeln!(std::io::stderr(), "{line}");
}

/// The directories of `h5doctor probe-dirs DIR...` as h5doctor starts it for its directory probe (the
/// subcommand and paths only, no logging asked for); `None` for any other command line, which clap parses.
/// That child needs neither clap's model of every subcommand, nor logging (its stderr is /dev/null), nor
/// the descriptors it inherited (host facts are the parent's): building them was a third of its work.
fn probe_dirs_as_started() -> Option<Vec<std::path::PathBuf>> {
    use std::os::unix::ffi::OsStrExt;
    let mut args = std::env::args_os().skip(1);
    if args.next()?.as_bytes() != h5doctor::probes::dirs::SUBCOMMAND.as_bytes() || std::env::var_os("RUST_LOG").is_some() {
        return None;
    }
    let paths: Vec<std::path::PathBuf> = args.map(Into::into).collect();
    // Anything clap could read as an option goes to clap, as it always did.
    let plain = paths.iter().all(|p| !p.as_os_str().as_bytes().starts_with(b"-"));
    plain.then_some(paths)
}

fn main() -> ExitCode {
    if let Some(paths) = probe_dirs_as_started() {
        // As below for `probe-dirs`, without what it does not use.
        h5doctor::cleanup::install_signal_handler_for_probe();
        let result = h5doctor::probes::dirs::serve(&paths);
        h5doctor::cleanup::remove_all();
        if let Some(code) = h5doctor::cleanup::signalled() {
            std::process::exit(code);
        }
        return match result {
            Ok((code, _)) => ExitCode::from(code),
            Err(e) => {
                say(&format!("h5doctor: {e}"));
                ExitCode::from(h5doctor::EXIT_TOOL_ERROR)
            }
        };
    }
    // Parsing the command line opens no descriptor.
    let cli = match h5doctor::cli::Cli::parse_args() {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return ExitCode::from(if e.use_stderr() { h5doctor::EXIT_TOOL_ERROR } else { 0 });
        }
    };
    // `ldd` only reads files: it needs no signal handling (no probe files, no children), logging only
    // when asked for, and no facts about the host (the descriptors it inherited). Each costs more at
    // start-up than resolving a small program.
    let reads_only = matches!(cli.command, h5doctor::cli::Command::Ldd(_));
    if !reads_only {
        // Before anything opens a descriptor: what this process inherited counts against RLIMIT_NOFILE.
        h5doctor::probes::host::note_open_at_start();
    }
    if !reads_only || cli.verbose > 0 || std::env::var_os("RUST_LOG").is_some() {
        init_tracing(cli.verbose);
    }
    if matches!(cli.command, h5doctor::cli::Command::ProbeDirs { .. }) {
        // The directory probe's threads may be inside open(O_CREAT) of a lock file when h5doctor dies:
        // its files are removed once every thread has ended, as h5doctor-probe's are.
        h5doctor::cleanup::install_signal_handler_for_probe();
    } else if !reads_only {
        h5doctor::cleanup::install_signal_handler();
    }
    let result = h5doctor::run(cli);
    h5doctor::cleanup::remove_all();
    if let Some(code) = h5doctor::cleanup::signalled() {
        // A signal ended the run while it finished: its status, not a report made of killed probes.
        std::process::exit(code);
    }
    match result {
        Ok((code, output)) => {
            let mut stdout = std::io::BufWriter::with_capacity(64 * 1024, std::io::stdout().lock());
            match output.write_to(&mut stdout).and_then(|_| stdout.flush()) {
                Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => {
                    say(&format!("h5doctor: cannot write the report: {e}"));
                    ExitCode::from(h5doctor::EXIT_TOOL_ERROR)
                }
                _ => ExitCode::from(code),
            }
        }
        Err(e) => {
            say(&format!("h5doctor: {e}"));
            ExitCode::from(h5doctor::EXIT_TOOL_ERROR)
        }
    }
}
