//! h5doctor-probe: the only h5doctor binary that links HDF5. h5doctor runs it as a child process with a
//! timeout and reads one JSON document from its stdout, so a broken or missing HDF5 can never take
//! h5doctor down with it.
//!
//! ```text
//! h5doctor-probe version           the library facts only
//! h5doctor-probe create FILE...    plus H5Fcreate(FILE, H5F_ACC_EXCL) of each file, closed at once
//! h5doctor-probe-mpio mpio-test [--dir DIR] [--mib-per-rank N] [--timeout SECS] [--json]
//!                                  the MPI-IO test on every rank (built with feature `mpio`; see mpio.rs)
//! ```
//!
//! The probe creates only the files it is given (with O_EXCL, so never an existing file) and never
//! removes anything: h5doctor owns the names and removes them, even when the probe is killed.

mod library;
#[cfg(feature = "mpio")]
mod mpio;

use h5doctor::facts::Hdf5ProbeReport;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let report = match args.first().map(String::as_str) {
        Some("version") if args.len() == 1 => Hdf5ProbeReport {
            library: library::describe(),
            creates: Vec::new(),
        },
        #[cfg(feature = "mpio")]
        Some("mpio-test") => mpio::main(&args[1..]),
        #[cfg(not(feature = "mpio"))]
        Some("mpio-test") => {
            eprintln!("this h5doctor-probe was built without the MPI-IO test (cargo feature `mpio`); use h5doctor-probe-mpio");
            std::process::exit(2);
        }
        Some("create") if args.len() > 1 => {
            let library = library::describe();
            let creates = args[1..].iter().map(|f| library::create(f)).collect();
            Hdf5ProbeReport { library, creates }
        }
        _ => {
            eprintln!("usage: h5doctor-probe version | create FILE...");
            std::process::exit(2);
        }
    };
    println!("{}", serde_json::to_string(&report).expect("report serialises"));
}
