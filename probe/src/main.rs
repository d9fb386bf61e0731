//! h5doctor-probe: the only h5doctor binary that links HDF5. h5doctor runs it as a child process with a
//! timeout and reads one JSON document from its stdout, so a broken or missing HDF5 can never take
//! h5doctor down with it.
//!
//! ```text
//! h5doctor-probe version           the library facts only
//! h5doctor-probe create FILE...    plus H5Fcreate(FILE, H5F_ACC_EXCL) of each file, closed at once;
//!                                  then, on a second line, for each file created, every driver and
//!                                  open mode on files named <FILE without .h5>-... (cleanup::matrix_stem);
//!                                  with H5DOCTOR_PROBE_PLUGINS set, the `plugins` report (no DIR) comes
//!                                  as a line of its own between the two
//! h5doctor-probe matrix STEM...    plus every driver and open mode on files named STEM-..., per STEM
//! h5doctor-probe plugins DIR...    plus the plugin directories (these, then the library's default) and
//!                                  what each plugin library provides, each loaded in a forked child
//! h5doctor-probe inspect FILE...   plus each existing file opened read-only: the filters it needs
//! h5doctor-probe vds-read FILE DATASET...
//!                                  plus one element of every mapping of these virtual datasets read,
//!                                  and the files HDF5 then holds open (its sources)
//! h5doctor-probe sample FILE earliest|latest
//!                                  plus a new small HDF5 file written with that lower format bound
//! h5doctor-probe-mpio mpio-test [--dir DIR] [--mib-per-rank N] [--timeout SECS] [--json]
//!                                  the MPI-IO test on every rank (built with feature `mpio`; see mpio.rs)
//! ```
//!
//! The answer is JSON on stdout, one document per line (`create` prints two: the creates at once, the
//! matrices when they are done); the probe then exits with `_exit`, skipping HDF5's own
//! shutdown (which can crash on a file whose writes failed).
//!
//! The probe creates only the files it is given (create) or files named after the stems it is given
//! (matrix), always with O_EXCL, and truncates only a probe file it created itself in the same run.
//! h5doctor owns the names (registered and recorded before the probe starts); the probe removes them
//! before it exits and on SIGTERM/SIGINT/SIGHUP, which it gets when h5doctor dies (even by SIGKILL:
//! PR_SET_PDEATHSIG), so nothing is left behind whenever h5doctor is killed. Once every name is gone the
//! probe says so on a last line, `{"removed_own_files":true}`; h5doctor removes the names itself when a
//! run ends without that line (the probe killed at its timeout, crashed, or older).

mod capi;
mod data;
mod drivers;
mod errors;
mod handles;
mod inspect;
mod library;
#[cfg(feature = "mpio")]
mod lifeline;
mod modes;
#[cfg(feature = "mpio")]
mod mpio;
mod plugins;
#[cfg(feature = "mpio")]
mod pmix;
mod vds;

use h5doctor::cleanup;
use h5doctor::facts::{DriverAvailability, Hdf5ProbeReport, MatrixReport};
use std::io::Write;
use std::path::Path;
use std::time::Instant;

const USAGE: &str =
    "usage: h5doctor-probe version | create FILE... | matrix STEM... | plugins [DIR...] | inspect FILE... | vds-read FILE DATASET...\n       | sample FILE earliest|latest";

/// Runs the drivers × modes matrix for one stem, refusing when a file of the stem already exists (every
/// create is O_EXCL anyway; this only gives a clearer answer). `drivers` is the library report's driver list
/// (each asked of the library once, by `library::describe_keeping`, which kept the fapls it selected them on
/// in `selected`): the round trips run the local drivers it has.
fn matrix(stem: &str, drivers: &[DriverAvailability], selected: &drivers::Selections) -> MatrixReport {
    let start = Instant::now();
    let path = Path::new(stem);
    let mut report = MatrixReport {
        stem: stem.to_string(),
        ..MatrixReport::default()
    };
    let mut names = cleanup::stem_names::fixed();
    names.push(cleanup::stem_names::family_member(0));
    let taken = names.iter().map(|n| cleanup::stem_file(path, n)).find(|p| p.exists());
    if let Some(existing) = taken {
        report.refused = Some(format!("{} already exists; the probe only creates new files", existing.display()));
        return report;
    }
    report.drivers = drivers::check_all(path, drivers, selected);
    report.modes = modes::check_all(path);
    report.elapsed_us = start.elapsed().as_micros() as u64;
    report
}

/// Every H5Fopen/H5Fcreate allocates (and zeroes) a metadata cache of about 1 MiB, freed again at close,
/// some 50 times in a `create` or `matrix` run. With glibc's defaults the first of them is mmapped and
/// unmapped, and each later one can grow and trim the heap again, faulting its pages in afresh; a 4 MiB
/// top pad lets the heap grow once and keep the room, so the same pages serve every open (about 130 page
/// faults fewer per run; pages never touched are not resident, so the peak RSS does not change).
fn keep_heap_for_file_opens() {
    // SAFETY: mallopt only changes how glibc's malloc grows and trims its heap.
    unsafe { libc::mallopt(libc::M_TOP_PAD, 4 << 20) };
}

/// Writes one answer line and flushes it, so h5doctor has it even if a later part hangs and is killed.
fn emit(report: &Hdf5ProbeReport) -> std::io::Result<()> {
    let text = serde_json::to_string(report).expect("report serialises");
    let mut out = std::io::stdout().lock();
    writeln!(out, "{text}")?;
    out.flush()
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let rest = args.get(1..).unwrap_or_default();
    // Files and stems of this run, removed when the probe is done or a signal ends it (h5doctor died): the
    // guards are never dropped, since the probe leaves with _exit.
    let mut guards = (Vec::new(), Vec::new());
    if matches!(args.first().map(String::as_str), Some("create") | Some("matrix")) {
        keep_heap_for_file_opens();
        cleanup::without_record();
        // Only names h5doctor makes: never a user's file, whatever the arguments.
        for name in rest.iter().filter(|n| {
            Path::new(n)
                .file_name()
                .is_some_and(|f| f.to_string_lossy().starts_with(cleanup::PREFIX))
        }) {
            let stem = if args[0] == "create" {
                guards.0.push(cleanup::ProbeFile::register(name.into()));
                cleanup::matrix_stem(Path::new(name))
            } else {
                name.into()
            };
            guards.1.push(cleanup::ProbeStem::register(stem));
        }
        cleanup::install_signal_handler_for_probe();
    }
    let gives_own_files = !guards.0.is_empty() || !guards.1.is_empty();
    let _keep = std::mem::ManuallyDrop::new(guards);
    let mut report = Hdf5ProbeReport::default();
    let mut later: Option<Hdf5ProbeReport> = None;
    // The fapls the library description selected each local driver on, for the matrices' round trips.
    let mut selected = drivers::Selections::default();
    match args.first().map(String::as_str) {
        Some("version") if rest.is_empty() => report.library = library::describe(),
        #[cfg(feature = "mpio")]
        Some("mpio-test") => mpio::main(rest),
        #[cfg(not(feature = "mpio"))]
        Some("mpio-test") => {
            eprintln!("this h5doctor-probe was built without the MPI-IO test (cargo feature `mpio`); use h5doctor-probe-mpio");
            std::process::exit(2);
        }
        Some("create") if !rest.is_empty() => {
            report.library = library::describe_keeping(&mut selected);
            report.creates = rest.iter().map(|f| library::create(f)).collect();
            // Written at once: the matrices below take longer and may hang on a sick file system.
            if emit(&report).is_err() {
                // Nobody reads the answer (h5doctor is gone): leave nothing behind.
                cleanup::remove_registered();
                // SAFETY: _exit ends the process at once.
                unsafe { libc::_exit(3) }
            }
            // The plugins report too, when h5doctor asks for it here instead of starting `plugins` (same
            // environment: h5doctor asks only when HDF5_PLUGIN_PATH is unset); before the matrices, so a
            // matrix that hangs does not take it down.
            if std::env::var_os(h5doctor::facts::PLUGINS_WITH_CREATE_ENV).is_some() {
                let plugins = Hdf5ProbeReport {
                    plugins: Some(plugins::probe(&[])),
                    ..Hdf5ProbeReport::default()
                };
                if emit(&plugins).is_err() {
                    cleanup::remove_registered();
                    // SAFETY: _exit ends the process at once.
                    unsafe { libc::_exit(3) }
                }
            }
            let stems: Vec<String> = report
                .creates
                .iter()
                .filter(|c| c.ok)
                .map(|c| cleanup::matrix_stem(Path::new(&c.file)).display().to_string())
                .collect();
            later = Some(Hdf5ProbeReport {
                matrices: stems.iter().map(|s| matrix(s, &report.library.drivers, &selected)).collect(),
                ..Hdf5ProbeReport::default()
            });
        }
        Some("matrix") if !rest.is_empty() => {
            report.library = library::describe_keeping(&mut selected);
            report.matrices = rest.iter().map(|s| matrix(s, &report.library.drivers, &selected)).collect();
        }
        Some("sample") if rest.len() == 2 => {
            report.library = library::describe();
            report.creates = vec![library::sample(&rest[0], &rest[1])];
        }
        Some("plugins") => {
            report.library = library::describe();
            report.plugins = Some(plugins::probe(rest));
        }
        Some("inspect") if !rest.is_empty() => {
            report.library = library::describe();
            report.files = rest.iter().map(|f| inspect::inspect(f)).collect();
        }
        Some("vds-read") if !rest.is_empty() => {
            report.library = library::describe();
            report.vds_reads = vec![vds::read(&rest[0], &rest[1..])];
        }
        _ => {
            eprintln!("{USAGE}");
            std::process::exit(2);
        }
    }
    let written = match later {
        Some(more) => emit(&more),
        None => emit(&report),
    };
    // The answer is out and the files have served: the probe removes them before it exits, since h5doctor
    // may be SIGKILLed the moment the probe has exited (a Slurm job end). A signal arriving meanwhile still
    // finds every name registered (the forked remover deletes them again once this process has ended).
    // When every name is gone the probe says so, on a last line of its own, and h5doctor does not remove
    // them again; without that line (the probe was killed or crashed first) h5doctor removes them.
    let own_files_gone = cleanup::remove_registered();
    let written = match written {
        Ok(()) if gives_own_files && own_files_gone => emit(&Hdf5ProbeReport {
            removed_own_files: true,
            ..Hdf5ProbeReport::default()
        }),
        other => other,
    };
    // Leave without HDF5's atexit shutdown: after a failed write or close (a full disk, a file-size limit)
    // the library may still hold that file and crash while flushing it at exit; the answer is complete.
    // SAFETY: _exit ends the process at once; stdout was flushed by emit.
    unsafe { libc::_exit(if written.is_ok() { 0 } else { 3 }) }
}
