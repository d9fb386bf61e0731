//! File probe (`h5doctor check FILE.h5 ...`): examines one HDF5 file a job left behind.
//!
//! First without HDF5, with plain read-only reads: the format signature, the superblock (version, status
//! flags, end-of-file address against the real size) and who holds a lock on the file or has it open on
//! this node. Then, where that makes sense, `h5doctor-probe inspect` opens it read-only (file locking off)
//! and lists the filters its datasets need and whether each is available. The file is never opened for
//! writing and never modified.

pub mod fix_rereads;
pub mod holders;
pub mod superblock;

use crate::errno;
use crate::error::Error;
use crate::facts::values::{FileFormat, VdsFoundBy};
use crate::facts::{FileFacts, ProbeStatus, VdsSource};
use crate::groups::hdf5::probe::{self as hdf5, ProbeAccess, ProbeCall};
use std::os::unix::fs::FileExt;
use std::path::Path;
use std::time::Duration;

/// The file group runs by default when files are given (`check FILE...`); in `probes::gather`'s sequence (it
/// reads the HDF5 probe's outcome, and its fixes are proven after the Python group).
pub const PROBE: crate::probes::GroupProbe = crate::probes::GroupProbe {
    by_default: |o| !o.files.is_empty(),
    run: crate::probes::Run::InSequence,
    reads: &[crate::groups::Group::Hdf5],
};

/// Checks a FILE argument up front: a missing path or a directory is a usage error, said plainly.
pub fn check_arg(path: &Path) -> Result<(), Error> {
    match std::fs::metadata(path) {
        Ok(m) if m.is_dir() => Err(Error::msg(format!(
            "{}: is a directory (`h5doctor check FILE` examines one HDF5 file; `--dir {}` probes a directory)",
            path.display(),
            path.display()
        ))),
        // A FIFO would block the read until someone writes to it; devices and sockets are no HDF5 files.
        Ok(m) if !m.is_file() => Err(Error::msg(format!(
            "{}: not a regular file (a FIFO, socket or device); `h5doctor check FILE` examines HDF5 files",
            path.display()
        ))),
        Ok(_) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Err(Error::msg(format!("{}: no such file", path.display()))),
        // Anything else (a directory we may not search, ...) is examined and reported as a finding.
        Err(_) => Ok(()),
    }
}

fn describe_io(e: &std::io::Error) -> String {
    match e.raw_os_error() {
        Some(n) => format!("{} ({})", errno::describe(n), errno::name(n)),
        None => e.to_string(),
    }
}

/// The plain-read part, in a thread that is abandoned after `timeout` (reads on a sick network mount can
/// hang): the file is then inconclusive, and not handed to HDF5 either.
pub fn examine_with_timeout(path: &Path, timeout: Duration) -> FileFacts {
    let (tx, rx) = std::sync::mpsc::channel();
    let owned = path.to_path_buf();
    std::thread::spawn(move || {
        let _ = tx.send(examine(&owned));
    });
    rx.recv_timeout(timeout).unwrap_or_else(|_| FileFacts {
        path: path.display().to_string(),
        format: FileFormat::NotRead,
        status: ProbeStatus::Inconclusive,
        reason: Some(format!(
            "reading {} did not return within {} s (a hung network mount?)",
            path.display(),
            timeout.as_secs_f64()
        )),
        ..FileFacts::default()
    })
}

/// The plain-read part: everything that needs no HDF5.
pub fn examine(path: &Path) -> FileFacts {
    let mut facts = FileFacts {
        path: path.display().to_string(),
        status: ProbeStatus::Ok,
        canonical: std::fs::canonicalize(path).ok(),
        format: FileFormat::NotRead,
        ..FileFacts::default()
    };
    let meta = match std::fs::metadata(path) {
        Ok(m) => m,
        Err(e) => {
            facts.read_error = Some(format!("cannot stat it: {}", describe_io(&e)));
            return facts;
        }
    };
    facts.size = Some(meta.len());
    facts.locks = holders::locks_on(&meta);
    facts.open_by = holders::openers_of(facts.canonical.as_deref().unwrap_or(path), &meta);
    let file = match std::fs::File::open(path) {
        Ok(f) => f,
        Err(e) => {
            facts.read_error = Some(describe_io(&e));
            return facts;
        }
    };
    if let Err(e) = read_structure(&file, meta.len(), &mut facts) {
        facts.read_error = Some(describe_io(&e));
    }
    facts
}

/// Signature, superblock and driver block, or a guess at what the file is instead.
fn read_structure(file: &std::fs::File, size: u64, facts: &mut FileFacts) -> std::io::Result<()> {
    let Some(offset) = superblock::find_signature(file, size)? else {
        let mut head = vec![0u8; size.min(4096) as usize];
        file.read_exact_at(&mut head, 0)?;
        facts.format = superblock::guess_format(&head);
        return Ok(());
    };
    facts.format = FileFormat::Hdf5;
    facts.signature_offset = Some(offset);
    let mut bytes = vec![0u8; (size - offset).min(superblock::SUPERBLOCK_BYTES as u64) as usize];
    file.read_exact_at(&mut bytes, offset)?;
    match superblock::parse(&bytes) {
        Ok(mut sb) => {
            if let Some(addr) = superblock::driver_info_address(&bytes, &sb) {
                sb.driver_id = superblock::driver_id(file, sb.base_address.saturating_add(addr));
            }
            facts.superblock = Some(sb);
        }
        Err(e) => facts.superblock_error = Some(e),
    }
    Ok(())
}

/// Whether HDF5 has anything to add: the file is readable and has an HDF5 signature.
fn worth_opening(f: &FileFacts) -> bool {
    f.status == ProbeStatus::Ok && f.read_error.is_none() && f.signature_offset.is_some()
}

/// HDF5_VDS_PREFIX as the job sees it, split at `:` (HDF5 splits the list the same way).
fn vds_prefix() -> Vec<String> {
    std::env::var("HDF5_VDS_PREFIX")
        .map(|v| v.split(':').filter(|p| !p.is_empty()).map(String::from).collect())
        .unwrap_or_default()
}

/// Every source file of the mappings, resolved the way HDF5 opens it (H5F_prefix_open_file): an absolute
/// name as stored, else (and for an absolute name that fails, its last component) each HDF5_VDS_PREFIX entry
/// (`${ORIGIN}` is the VDS file's directory), the VDS file's directory, then the working directory.
pub fn resolve_vds_sources(vds_file: &Path, mappings: &[crate::facts::VirtualMapping], prefixes: &[String]) -> Vec<VdsSource> {
    let origin = vds_file.parent().map(Path::to_path_buf).unwrap_or_default();
    let mut out: Vec<VdsSource> = Vec::new();
    for m in mappings.iter().filter(|m| m.source_file != ".") {
        let backs = match m.rows {
            Some((a, b)) if a == b => format!("{} row {a}", m.dataset),
            Some((a, b)) => format!("{} rows {a}-{b}", m.dataset),
            None => m.dataset.clone(),
        };
        if let Some(known) = out.iter_mut().find(|s| s.stored == m.source_file) {
            known.backs.push(backs);
            continue;
        }
        let stored = Path::new(&m.source_file);
        let mut candidates: Vec<(std::path::PathBuf, VdsFoundBy)> = Vec::new();
        let relative = if stored.is_absolute() {
            candidates.push((stored.to_path_buf(), VdsFoundBy::AsStored));
            stored.file_name().map(std::path::PathBuf::from).unwrap_or_default()
        } else {
            stored.to_path_buf()
        };
        for p in prefixes {
            let dir = p.replace("${ORIGIN}", &origin.display().to_string());
            candidates.push((Path::new(&dir).join(&relative), VdsFoundBy::Hdf5VdsPrefix));
        }
        candidates.push((origin.join(&relative), VdsFoundBy::VdsFileDirectory));
        candidates.push((relative.clone(), VdsFoundBy::WorkingDirectory));
        let mut source = VdsSource {
            stored: m.source_file.clone(),
            backs: vec![backs],
            ..VdsSource::default()
        };
        let mut unreadable = None;
        for (path, how) in candidates {
            source.tried.push(path.display().to_string());
            match std::fs::File::open(&path) {
                Ok(_) => {
                    source.resolved = Some(path.display().to_string());
                    source.found_by = Some(how);
                    break;
                }
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => unreadable = unreadable.or(Some(format!("{}: {}", path.display(), describe_io(&e)))),
            }
        }
        if source.resolved.is_none() {
            source.problem = Some(unreadable.unwrap_or_else(|| "missing".into()));
        }
        out.push(source);
    }
    out
}

/// The HDF5 part: one `inspect` run for every file worth opening.
pub fn inspect(files: &mut [FileFacts], access: &ProbeAccess, timeout: Duration) {
    let targets: Vec<usize> = (0..files.len()).filter(|&i| worth_opening(&files[i])).collect();
    for (i, f) in files.iter_mut().enumerate() {
        if !targets.contains(&i) {
            f.hdf5.reason = Some(if f.status == ProbeStatus::Ok {
                "not opened with HDF5: the plain reads already show what is wrong".into()
            } else {
                "not opened with HDF5: the plain reads did not finish".into()
            });
        }
    }
    if targets.is_empty() {
        return;
    }
    let fail_all = |files: &mut [FileFacts], status: ProbeStatus, reason: String| {
        for &i in &targets {
            files[i].hdf5.status = status;
            files[i].hdf5.reason = Some(reason.clone());
        }
    };
    let probe_path = match access {
        ProbeAccess::Ready(p) => p,
        ProbeAccess::Broken(status, reason) => return fail_all(files, *status, reason.clone()),
    };
    let paths: Vec<String> = targets.iter().map(|&i| files[i].path.clone()).collect();
    let mut call = ProbeCall::default();
    call.args.push("inspect".as_ref());
    call.args.extend(paths.iter().map(std::ffi::OsStr::new));
    call.set_env.push(("HDF5_USE_FILE_LOCKING", "FALSE"));
    match hdf5::run_probe(probe_path, &call, timeout) {
        Ok(report) if report.files.len() == targets.len() => {
            for (&i, r) in targets.iter().zip(report.files) {
                let h = &mut files[i].hdf5;
                h.status = ProbeStatus::Ok;
                h.open = Some(r.open);
                h.datasets = r.datasets;
                h.visit_error = r.visit_error;
                h.stopped_early = r.stopped_early;
                h.filters = r.filters;
                h.unreadable = r.unreadable;
                h.vds_sources = resolve_vds_sources(Path::new(&files[i].path), &r.virtual_mappings, &vds_prefix());
                files[i].hdf5.virtual_mappings = r.virtual_mappings;
            }
            // As root, HDF5 in the probe did not search the plugin directories a user could have written
            // (trust::confine_plugin_path): a filter it did not find may be there, so it is not called missing.
            let refused = crate::trust::refused_plugin_dirs_for(probe_path);
            if !refused.is_empty() {
                for &i in &targets {
                    let h = &mut files[i].hdf5;
                    let unfound: Vec<String> = h.missing_filters().map(|n| n.id.to_string()).collect();
                    if !unfound.is_empty() {
                        h.filters.retain(|n| n.available);
                        h.status = ProbeStatus::Inconclusive;
                        h.reason = Some(format!(
                            "filter(s) {} not found, and not looked for in {}",
                            unfound.join(", "),
                            refused.iter().map(|(dir, why)| format!("{dir} ({why})")).collect::<Vec<_>>().join(", ")
                        ));
                    }
                }
            }
        }
        Ok(_) => fail_all(
            files,
            ProbeStatus::Inconclusive,
            "h5doctor-probe answered for other files than asked; it may not match this h5doctor".into(),
        ),
        Err((status, reason)) => fail_all(files, status, reason),
    }
}
