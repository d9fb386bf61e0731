//! Facts about one HDF5 file given to `h5doctor check FILE`: what plain reads show (signature, superblock,
//! status flags, end-of-file address against the real size), who holds a lock on it or has it open on this
//! node, and what HDF5 says when h5doctor-probe opens it read-only (the filters its datasets need).

use crate::facts::catalog::Item;
use crate::facts::groups::{probe_unavailable_is_a_finding, unanswered_status, GroupSpec, ListPosition, Section, Unanswered};
use crate::facts::values::FileFormat;
use crate::facts::values::{LockAccess, LockType};
use crate::facts::Facts;
use crate::facts::{Hdf5Create, ProbeStatus};
use crate::groups::Group;
use serde::{Deserialize, Serialize};
use std::path::PathBuf;

/// Everything known about one examined file.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
pub struct FileFacts {
    /// Fact `file.path` (documented once, in the facts catalogue: `h5doctor facts --list`).
    pub path: String,
    /// How the plain reads ended: ok, or inconclusive when they did not return in time (a hung mount).
    #[serde(default)]
    pub status: ProbeStatus,
    pub reason: Option<String>,
    pub canonical: Option<PathBuf>,
    pub size: Option<u64>,
    /// Fact `file.read_error` (documented once, in the facts catalogue: `h5doctor facts --list`).
    pub read_error: Option<String>,
    /// What the bytes are (see [`FileFormat`](super::values::FileFormat); fact `file.format`).
    pub format: crate::facts::values::FileFormat,
    /// Fact `file.signature_offset` (documented once, in the facts catalogue: `h5doctor facts --list`).
    pub signature_offset: Option<u64>,
    pub superblock: Option<Superblock>,
    /// Why the superblock after the signature could not be decoded.
    pub superblock_error: Option<String>,
    /// Locks on the file right now, from /proc/locks (this node only).
    #[serde(default)]
    pub locks: Vec<LockHolder>,
    /// Fact `file.open_by` (documented once, in the facts catalogue: `h5doctor facts --list`).
    #[serde(default)]
    pub open_by: Vec<ProcessRef>,
    #[serde(default)]
    pub hdf5: FileHdf5Facts,
}

/// The superblock fields h5doctor reads (HDF5 file format specification, section II.A).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
pub struct Superblock {
    pub version: u8,
    pub sizeof_offsets: u8,
    pub sizeof_lengths: u8,
    /// Fact `file.status_flags` (documented once, in the facts catalogue: `h5doctor facts --list`). HDF5 checks them
    /// only in superblock version 3 (1.10 writes them into version 0 files too, and ignores them there).
    pub status_flags: u32,
    pub base_address: u64,
    /// End-of-file address (absolute, as HDF5 compares it with the file size); None when undefined.
    pub eof_address: Option<u64>,
    /// The driver id of a driver information block (`NCSAfami`, `NCSAmult`), superblock versions 0 and 1.
    pub driver_id: Option<String>,
}

/// One lock on the file, as /proc/locks shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
pub struct LockHolder {
    pub pid: i32,
    /// /proc/PID/comm of the holder, when readable.
    pub command: Option<String>,
    /// FLOCK (what HDF5 takes), POSIX, OFDLCK, ... (see [`LockType`]).
    pub lock_type: LockType,
    /// READ (a reader: writers are refused) or WRITE (a writer: everyone is refused).
    pub access: LockAccess,
}

/// A process that has the file open.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
pub struct ProcessRef {
    pub pid: i32,
    pub command: Option<String>,
}

/// What HDF5 (in h5doctor-probe) says about the file.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
pub struct FileHdf5Facts {
    pub status: ProbeStatus,
    pub reason: Option<String>,
    /// H5Fopen read-only (file locking off, so h5doctor neither waits for nor blocks the user's jobs).
    pub open: Option<Hdf5Create>,
    /// Datasets visited.
    pub datasets: u64,
    /// HDF5's innermost error line when reading the file's objects failed (a bad checksum, a damaged
    /// object header, ...).
    pub visit_error: Option<String>,
    /// The visit stopped at its limit of datasets; the filters of the rest are not known.
    #[serde(default)]
    pub stopped_early: bool,
    #[serde(default)]
    pub filters: Vec<FilterNeed>,
    /// Objects HDF5 could not open during the visit (a datatype or layout this HDF5 does not know, say).
    #[serde(default)]
    pub unreadable: Vec<UnreadableObject>,
    /// The mappings of the file's virtual datasets, as stored.
    #[serde(default)]
    pub virtual_mappings: Vec<VirtualMapping>,
    /// Each source file of those mappings, resolved the way HDF5 does and stat'ed by h5doctor.
    #[serde(default)]
    pub vds_sources: Vec<VdsSource>,
    /// A directory under the file's own that holds every source HDF5 would not find (by file name), for
    /// HDF5_VDS_PREFIX.
    #[serde(default)]
    pub vds_sources_found_in: Option<String>,
    /// Fact `file.vds_prefix_reread` (documented once, in the facts catalogue: `h5doctor facts --list`): the fix, proven.
    #[serde(default)]
    pub vds_prefix_reread: Option<VdsReread>,
    /// Fact `file.newer_reader_check` (documented once, in the facts catalogue: `h5doctor facts --list`); only when this
    /// node's HDF5 cannot read the file.
    #[serde(default)]
    pub newer_reader_check: Option<NewerReaderCheck>,
}

/// The objects this node's HDF5 could not read, opened again by an interpreter whose h5py bundles a newer
/// HDF5 (the fix `file-format-too-new` names).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
pub struct NewerReaderCheck {
    /// The interpreter.
    pub python: String,
    /// Its h5py's HDF5 release.
    pub hdf5_version: String,
    /// The objects opened (`/` for the file itself).
    pub objects: Vec<String>,
    /// Every object opened and its datatype read.
    pub ok: bool,
    /// The exception's last line, or why the interpreter was not run.
    pub error: Option<String>,
}

/// An object the visit could not open, with HDF5's innermost error line.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
pub struct UnreadableObject {
    pub path: String,
    pub error_leaf: String,
}

/// One mapping of a virtual dataset (H5Pget_virtual_*).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
pub struct VirtualMapping {
    /// The virtual dataset.
    pub dataset: String,
    /// The source file name as stored (`.` is the virtual dataset's own file).
    pub source_file: String,
    pub source_dataset: String,
    /// The first and last index, along the first dimension, of the virtual dataset this mapping fills.
    pub rows: Option<(u64, u64)>,
}

/// A source file of the virtual datasets, resolved in HDF5's order: the name as stored when absolute,
/// each HDF5_VDS_PREFIX entry, the virtual dataset's file's directory, then the name relative to the
/// working directory (the prefix a program sets with H5Pset_virtual_prefix is not visible to h5doctor).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
pub struct VdsSource {
    /// The name as stored in the mappings.
    pub stored: String,
    /// The file HDF5 would open, when one of the candidates exists and can be read.
    pub resolved: Option<String>,
    /// How it was found (`as stored`, `HDF5_VDS_PREFIX`, `the VDS file's directory`, `the working directory`).
    pub found_by: Option<crate::facts::values::VdsFoundBy>,
    /// Every path tried, in order.
    pub tried: Vec<String>,
    /// `missing`, or why an existing candidate cannot be read (`Permission denied (EACCES)`).
    pub problem: Option<String>,
    /// What the source backs: `/vds rows 3-3`, one per mapping.
    pub backs: Vec<String>,
}

impl FileHdf5Facts {
    /// The filters the datasets need that this HDF5 cannot apply.
    pub fn missing_filters(&self) -> impl Iterator<Item = &FilterNeed> {
        self.filters.iter().filter(|n| !n.available)
    }
}

/// A filter the file's datasets need.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
pub struct FilterNeed {
    pub id: i32,
    /// The name stored in the file's filter pipeline (may be empty).
    pub name: String,
    /// How many datasets use it, and one of them.
    pub datasets: u64,
    pub example_dataset: String,
    /// H5Zfilter_avail in the probe, with the user's HDF5_PLUGIN_PATH: the filter is built in, registered or
    /// loadable as a plugin.
    pub available: bool,
    /// Every use of it is marked optional (H5Z_FLAG_OPTIONAL): HDF5 skips it when missing on write.
    pub optional: bool,
    /// The innermost line of HDF5's error stack when it is not available (`can't open directory: ...`).
    pub unavailable_reason: Option<String>,
}

/// The probe's answer for one file of `h5doctor-probe inspect FILE...`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
pub struct FileProbeReport {
    pub file: String,
    pub open: Hdf5Create,
    pub datasets: u64,
    pub visit_error: Option<String>,
    #[serde(default)]
    pub stopped_early: bool,
    pub filters: Vec<FilterNeed>,
    #[serde(default)]
    pub unreadable: Vec<UnreadableObject>,
    #[serde(default)]
    pub virtual_mappings: Vec<VirtualMapping>,
}

/// The probe's answer to `h5doctor-probe vds-read FILE DATASET...`: one element of every mapping of the
/// virtual datasets read, then the files the process held open (HDF5 keeps each source it could open
/// open while its virtual dataset is; a source it could not open only gives fill values).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
pub struct VdsReadReport {
    pub file: String,
    /// Why the file could not be opened.
    pub error: Option<String>,
    /// Reads made (one per mapping inside the dataset's current extent).
    #[serde(default)]
    pub mappings_read: u64,
    /// Reads or opens that failed, with HDF5's innermost error line.
    #[serde(default)]
    pub read_errors: Vec<String>,
    /// Regular files open in the probe after the reads (the VDS file itself included).
    #[serde(default)]
    pub open_files: Vec<String>,
}

/// The fix fd-limit-low offers, exactly as the user types it (and as h5doctor runs it before a re-read).
pub const RAISE_OPEN_FILES: &str = "ulimit -n $(ulimit -Hn)";

/// A virtual dataset read again by h5doctor-probe with a fix applied (a raised open-files limit, an
/// HDF5_VDS_PREFIX), to verify that fix: how many of its source files HDF5 then really opened.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
pub struct VdsReread {
    /// The file read.
    pub file: String,
    /// What was applied, as the user would type it (`ulimit -n $(ulimit -Hn)`, `export HDF5_VDS_PREFIX=...`;
    /// `nothing` for the run as the job is now).
    pub applied: String,
    /// Distinct source files its virtual datasets read.
    pub sources: u64,
    /// Of them, the files HDF5 held open after the reads.
    pub opened: u64,
    /// Why the re-read gave no answer (the probe failed, timed out, ...).
    pub error: Option<String>,
}

impl VdsReread {
    /// Every source opened: the fix works.
    pub fn complete(&self) -> bool {
        self.error.is_none() && self.sources > 0 && self.opened >= self.sources
    }

    /// `complete`, `incomplete` or `failed` (the facts' words).
    pub fn outcome(&self) -> &'static str {
        match (&self.error, self.complete()) {
            (Some(_), _) => "failed",
            (None, true) => "complete",
            (None, false) => "incomplete",
        }
    }

    /// `30 of 30 source files opened (ulimit -n $(ulimit -Hn))`, or why there is no answer.
    pub fn describe(&self) -> String {
        match &self.error {
            Some(e) => format!("{}: no answer ({e})", self.applied),
            None => format!(
                "{} of {} source files opened by HDF5 with `{}`",
                self.opened, self.sources, self.applied
            ),
        }
    }
}

/// The file group: its report line and the files it could not examine.
pub const SPEC: GroupSpec = GroupSpec {
    group: Group::File,
    summary,
    unanswered,
};

/// The file line: one account per examined file.
fn summary(facts: &Facts) -> String {
    if facts.files.is_empty() {
        return "no files".into();
    }
    facts
        .files
        .iter()
        .map(|f| {
            let what = match (&f.read_error, &f.superblock) {
                (Some(e), _) => format!("unreadable: {e}"),
                (None, Some(sb)) => {
                    let mut s = format!("HDF5, superblock v{}, {} bytes", sb.version, f.size.unwrap_or(0));
                    match &f.hdf5.open {
                        Some(o) if o.ok && f.hdf5.visit_error.is_some() => s.push_str(", HDF5 fails reading its objects"),
                        Some(o) if o.ok => {
                            let more = if f.hdf5.stopped_early { " (stopped there)" } else { "" };
                            s.push_str(&format!(", {} datasets{more}", f.hdf5.datasets));
                            if !f.hdf5.filters.is_empty() {
                                let ids: Vec<String> = f.hdf5.filters.iter().map(|n| n.id.to_string()).collect();
                                s.push_str(&format!(", filters {}", ids.join(" ")));
                            }
                        }
                        Some(_) => s.push_str(", HDF5 cannot open it"),
                        None => {}
                    }
                    s
                }
                (None, None) if f.format == FileFormat::Hdf5 => "HDF5 signature, unreadable superblock".into(),
                (None, None) if f.format == FileFormat::NotRead => "not read: inconclusive, see below".into(),
                (None, None) => format!("not HDF5 ({})", f.format.as_str()),
            };
            format!("{} ({what})", f.path)
        })
        .collect::<Vec<_>>()
        .join("; ")
}

/// A file whose probe timed out, or that HDF5 could not be asked to open (unless the HDF5 probe's
/// absence already is a finding).
fn unanswered(facts: &Facts) -> Vec<Unanswered<'_>> {
    let mut out = Vec::new();
    for (n, f) in facts.files.iter().enumerate() {
        let at = ListPosition::item(Section::Files, n, 0);
        if f.status == ProbeStatus::Inconclusive {
            out.push(Unanswered::new(at, Item::File(f), f.reason.clone().unwrap_or_default()));
        } else if unanswered_status(f.hdf5.status) && !(f.hdf5.status == ProbeStatus::Unavailable && probe_unavailable_is_a_finding(facts))
        {
            let why = f.hdf5.reason.as_deref().unwrap_or("no reason recorded");
            // Opened, but part of the answer is missing (as root, plugin directories a user could write).
            let reason = match &f.hdf5.open {
                Some(open) if open.ok => format!("opened with HDF5, but {why}"),
                _ => format!("not opened with HDF5: {why}"),
            };
            out.push(Unanswered::new(at, Item::File(f), reason));
        }
    }
    out
}
