//! Fixes of the file group proven by re-running the failing read with the fix applied, as the locking fix
//! is proven by a create without locking:
//!
//! - fd-limit-low: the virtual dataset with the most source files is read by h5doctor-probe as the job is
//!   now, then under `ulimit -n $(ulimit -Hn)` (the fix, run by /bin/sh before the probe); the files HDF5
//!   holds open after each read count the sources it really read (a source it cannot open gives no error,
//!   only fill values).
//! - vds-source-missing: a directory near the file holding every missing source (by file name) is looked
//!   for under the file's own directory; the virtual datasets are read again with HDF5_VDS_PREFIX set to it.
//! - file-format-too-new: the objects this node's HDF5 could not read are opened with the newest HDF5 on the
//!   node, the one an examined interpreter's h5py bundles (the fix names that interpreter). Without one,
//!   the fix stays unverified.

use crate::facts::python::PythonFacts;
use crate::facts::{Facts, FileFacts, NewerReaderCheck, ProbeStatus, VdsReread, RAISE_OPEN_FILES};
use crate::groups::file::catalog::file_format::DescriptorBudget;
use crate::groups::hdf5::probe::{self as hdf5, ProbeAccess, ProbeCall};
use crate::probes::child;
use std::collections::VecDeque;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

/// Directories looked at, at most, when searching for moved VDS sources.
const SEARCH_DIRS: usize = 2000;

/// The distinct virtual datasets of a file, in order.
fn virtual_datasets(file: &FileFacts) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for m in &file.hdf5.virtual_mappings {
        if !out.contains(&m.dataset) {
            out.push(m.dataset.clone());
        }
    }
    out
}

/// Reads the file's virtual datasets in h5doctor-probe with `applied` in force: a shell line run before the
/// probe, or variables set for it. `applied` is what the user would type.
fn reread(probe: &Path, file: &FileFacts, applied: &str, shell: Option<&str>, set_env: &[(&str, &str)], timeout: Duration) -> VdsReread {
    let datasets = virtual_datasets(file);
    let mut out = VdsReread {
        file: file.path.clone(),
        applied: applied.to_string(),
        sources: file.hdf5.vds_sources.len() as u64,
        ..VdsReread::default()
    };
    let mut call = ProbeCall::default();
    call.args.push("vds-read".as_ref());
    call.args.push(file.path.as_ref());
    call.args.extend(datasets.iter().map(std::ffi::OsStr::new));
    call.set_env.push(("HDF5_USE_FILE_LOCKING", "FALSE"));
    call.set_env.extend_from_slice(set_env);
    call.shell_prefix = shell;
    match hdf5::run_probe(probe, &call, timeout) {
        Ok(report) => match report.vds_reads.into_iter().next() {
            Some(r) if r.error.is_none() => {
                let own = file.canonical.clone().unwrap_or_else(|| PathBuf::from(&file.path));
                let others = r.open_files.iter().filter(|p| Path::new(p) != own).count() as u64;
                out.opened = others.min(out.sources);
            }
            Some(r) => out.error = r.error,
            None => out.error = Some("h5doctor-probe answered without a vds-read report; it may not match this h5doctor".into()),
        },
        Err((_, reason)) => out.error = Some(reason),
    }
    out
}

/// fd-limit-low: when the soft open-files limit is below what the largest examined virtual dataset needs
/// and the hard limit is enough, that dataset read now and under the raised limit.
pub fn open_files(facts: &Facts, access: &ProbeAccess, timeout: Duration) -> Vec<VdsReread> {
    let files = &facts.files;
    let (Some((soft, hard)), ProbeAccess::Ready(probe)) = (facts.host.open_files_limit, access) else {
        return Vec::new();
    };
    let Some(file) = files
        .iter()
        .filter(|f| f.hdf5.status == ProbeStatus::Ok)
        .max_by_key(|f| f.hdf5.vds_sources.len())
        .filter(|f| !f.hdf5.vds_sources.is_empty())
    else {
        return Vec::new();
    };
    let need = DescriptorBudget::of(facts, file.hdf5.vds_sources.len() as u64).total();
    if soft >= need || hard < need {
        return Vec::new();
    }
    vec![
        reread(probe, file, "nothing (the limit as it is)", None, &[], timeout),
        reread(probe, file, RAISE_OPEN_FILES, Some(RAISE_OPEN_FILES), &[], timeout),
    ]
}

/// The names HDF5 would look for under an HDF5_VDS_PREFIX entry: the stored name when relative, else its
/// last component.
fn prefix_name(stored: &str) -> PathBuf {
    let p = Path::new(stored);
    if p.is_absolute() {
        p.file_name().map(PathBuf::from).unwrap_or_default()
    } else {
        p.to_path_buf()
    }
}

/// The first directory, breadth-first under the file's own directory (three levels down, at most
/// [`SEARCH_DIRS`] directories), holding every one of `names`. Only that tree: a sibling directory may
/// hold another data set's files of the same names.
fn find_sources_dir(vds_file: &Path, names: &[PathBuf]) -> Option<PathBuf> {
    let origin = vds_file.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    let mut queue: VecDeque<(PathBuf, u32)> = VecDeque::from([(origin.to_path_buf(), 0)]);
    let mut seen = 0;
    while let Some((dir, depth)) = queue.pop_front() {
        seen += 1;
        if seen > SEARCH_DIRS {
            return None;
        }
        if names.iter().all(|n| dir.join(n).is_file()) {
            return Some(std::fs::canonicalize(&dir).unwrap_or(dir));
        }
        if depth < 3 {
            let mut subs: Vec<PathBuf> = std::fs::read_dir(&dir)
                .into_iter()
                .flatten()
                .filter_map(|e| e.ok())
                .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
                .map(|e| e.path())
                .collect();
            subs.sort();
            queue.extend(subs.into_iter().map(|s| (s, depth + 1)));
        }
    }
    None
}

/// vds-source-missing: where the missing sources are now, and the read with HDF5_VDS_PREFIX set there.
pub fn vds_prefix(files: &mut [FileFacts], access: &ProbeAccess, timeout: Duration) {
    for file in files.iter_mut() {
        let missing: Vec<PathBuf> = file
            .hdf5
            .vds_sources
            .iter()
            .filter(|s| s.problem.is_some())
            .map(|s| prefix_name(&s.stored))
            .collect();
        if missing.is_empty() {
            continue;
        }
        let Some(dir) = find_sources_dir(Path::new(&file.path), &missing) else {
            continue;
        };
        let dir = dir.display().to_string();
        file.hdf5.vds_sources_found_in = Some(dir.clone());
        if let ProbeAccess::Ready(probe) = access {
            let applied = format!("export HDF5_VDS_PREFIX={dir}");
            file.hdf5.vds_prefix_reread = Some(reread(probe, file, &applied, None, &[("HDF5_VDS_PREFIX", &dir)], timeout));
        }
    }
}

/// Opens the file and each named object with h5py, reading each dataset's datatype; prints `ok`.
const OPEN_OBJECTS: &str = r#"
import sys, h5py
f = h5py.File(sys.argv[1], 'r')
for name in sys.argv[2:]:
    obj = f[name]
    getattr(obj, 'dtype', None)
print('ok')
"#;

/// The version tuple of `1.14.3-2`.
fn version_key(v: &str) -> Vec<u64> {
    v.split(|c: char| !c.is_ascii_digit())
        .filter(|s| !s.is_empty())
        .filter_map(|s| s.parse().ok())
        .collect()
}

/// file-format-too-new: the objects this node's HDF5 could not read opened with the newest h5py-bundled HDF5
/// of the examined interpreters, when it is newer than this node's.
pub fn newer_reader(files: &mut [FileFacts], python: &PythonFacts, native: Option<&str>, timeout: Duration) {
    let native = native.map(version_key);
    let newest = python
        .interpreters
        .iter()
        .filter(|i| i.import.status == ProbeStatus::Ok)
        .filter_map(|i| Some((version_key(i.import.hdf5_version.as_deref()?), i)))
        .filter(|(v, _)| native.as_ref().is_none_or(|n| v > n))
        .max_by(|a, b| a.0.cmp(&b.0));
    let Some((_, interp)) = newest else { return };
    for file in files.iter_mut() {
        // What this node's HDF5 could not read: objects of the file, or the file itself.
        let open_failed = file.hdf5.open.as_ref().is_some_and(|o| !o.ok);
        let objects: Vec<String> = file.hdf5.unreadable.iter().map(|u| u.path.clone()).collect();
        if objects.is_empty() && !open_failed {
            continue;
        }
        let mut cmd = Command::new(&interp.path);
        cmd.arg("-c").arg(OPEN_OBJECTS).arg(&file.path).args(&objects);
        cmd.env("PYTHONDONTWRITEBYTECODE", "1").env("HDF5_USE_FILE_LOCKING", "FALSE");
        if crate::trust::running_as_root() {
            cmd.current_dir("/");
        }
        let mut check = NewerReaderCheck {
            python: interp.path.clone(),
            hdf5_version: interp.import.hdf5_version.clone().unwrap_or_default(),
            objects: if objects.is_empty() { vec!["/".into()] } else { objects.clone() },
            ..NewerReaderCheck::default()
        };
        match child::run(cmd, timeout) {
            Ok(out) if out.status.is_some_and(|s| s.success()) && out.stdout.trim_end().ends_with("ok") => check.ok = true,
            Ok(out) => {
                check.error = Some(
                    out.stderr
                        .lines()
                        .rev()
                        .find(|l| !l.trim().is_empty())
                        .map(str::to_string)
                        .unwrap_or_else(|| out.describe_end(timeout)),
                )
            }
            Err(e) => check.error = Some(e.reason(Path::new(&interp.path))),
        }
        file.hdf5.newer_reader_check = Some(check);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefix_names_follow_hdf5() {
        assert_eq!(prefix_name("/old/place/s1.h5"), PathBuf::from("s1.h5"));
        assert_eq!(prefix_name("sub/s1.h5"), PathBuf::from("sub/s1.h5"));
        assert!(version_key("2.0.0") > version_key("1.10.8"));
        assert!(version_key("1.14.3-2") > version_key("1.14.3"));
    }

    #[test]
    fn moved_sources_are_found_below_the_vds_file() {
        let dir = tempfile::tempdir().unwrap();
        let vds = dir.path().join("data/vds.h5");
        std::fs::create_dir_all(dir.path().join("data/a/moved")).unwrap();
        std::fs::write(&vds, b"x").unwrap();
        std::fs::write(dir.path().join("data/a/moved/s0.h5"), b"x").unwrap();
        std::fs::write(dir.path().join("data/a/moved/s1.h5"), b"x").unwrap();
        std::fs::write(dir.path().join("data/a/s0.h5"), b"x").unwrap();
        // A sibling of the VDS file's directory is not searched.
        std::fs::create_dir_all(dir.path().join("other")).unwrap();
        std::fs::write(dir.path().join("other/s2.h5"), b"x").unwrap();
        assert_eq!(find_sources_dir(&vds, &[PathBuf::from("s2.h5")]), None);
        let names = [PathBuf::from("s0.h5"), PathBuf::from("s1.h5")];
        assert_eq!(
            find_sources_dir(&vds, &names),
            Some(std::fs::canonicalize(dir.path().join("data/a/moved")).unwrap())
        );
        assert_eq!(find_sources_dir(&vds, &[PathBuf::from("nowhere.h5")]), None);
    }
}
