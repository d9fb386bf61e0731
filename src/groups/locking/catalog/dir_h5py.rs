//! Facts named `dir.h5py_*`: what h5py itself did in each target directory, gathered by the Python
//! group's import probe (one create per interpreter with a working h5py). They let the locking rules
//! show h5py's view of a lock failure next to the native probe's, and verify `locking=False`.

use crate::facts::catalog::facts;
use crate::facts::python::H5pyCreate;
use crate::facts::values::Outcome;
use crate::facts::{DirFacts, Facts, ProbeStatus};
use serde_json::{json, Value};

/// Every h5py create in `dir`, with the interpreter that made it.
fn creates<'a>(f: &'a Facts, dir: &DirFacts) -> Vec<(String, &'a H5pyCreate)> {
    f.python
        .interpreters
        .iter()
        .filter(|i| i.import.status == ProbeStatus::Ok)
        .flat_map(|i| i.import.creates.iter().filter(|c| c.dir == dir.path).map(move |c| (i.label(), c)))
        .collect()
}

/// The first failed create in `dir`.
fn first_failure<'a>(f: &'a Facts, dir: &DirFacts) -> Option<(String, &'a H5pyCreate)> {
    creates(f, dir).into_iter().find(|(_, c)| !c.ok)
}

fn outcome(all_ok: bool) -> Value {
    json!(crate::facts::values::Outcome::of(all_ok))
}

facts! {
    Dir(f, d) {
        "dir.h5py_create" ["h5py create"]
            "Whether h5py.File(probe, 'w-') succeeded here with every interpreter whose h5py imports: ok or failed."
            => {
                let all = creates(f, d);
                (!all.is_empty()).then(|| outcome(all.iter().all(|(_, c)| c.ok)))
            };
        "dir.h5py_create_errno" ["h5py errno"]
            "OSError.errno of the first failed h5py create here."
            => first_failure(f, d).and_then(|(_, c)| c.errno);
        "dir.h5py_create_without_locking" ["h5py create with locking=False"] in Outcome
            "The failed h5py creates retried with h5py.File(..., locking=False) (h5py >= 3.5): ok when every retry \
            worked. Only run when the create failed on a lock error."
            => {
                let retries: Vec<bool> = creates(f, d)
                    .iter()
                    .filter_map(|(_, c)| c.without_locking.as_ref().map(|r| r.ok))
                    .collect();
                (!retries.is_empty()).then(|| outcome(retries.iter().all(|ok| *ok)))
            };
        "dir.h5py_error" ["h5py error"]
            "The exception of the first failed h5py create here (OSError: [Errno 524] Unable to create file ...)."
            => first_failure(f, d).and_then(|(_, c)| c.error.clone());
        "dir.h5py_interpreter" ["h5py tried with"]
            "The interpreters whose h5py tried to create a file here."
            => {
                let mut names: Vec<String> = creates(f, d).into_iter().map(|(n, _)| n).collect();
                names.dedup();
                (!names.is_empty()).then(|| json!(names))
            };
    }
}
