//! Facts named `file.*` about what a file needs from its reader: the format versions (superblock, and the
//! object-header messages HDF5 could not decode), the source files of its virtual datasets (resolved the way
//! HDF5 does), and the open-files limit those sources need (`host.open_files_*`).

use crate::facts::catalog::facts;
use crate::facts::catalog::non_empty;
use crate::facts::values::{LimitKind, Outcome};
use crate::facts::{Facts, FileFacts, ProbeStatus, VdsReread};
use serde_json::json;

/// Descriptors MPI_Init adds to a process: measured with Open MPI 4.1.4 (Debian 12, mpi4py 3.1.4) under
/// mpirun at 1, 2 and 4 ranks on one node, 3 descriptors before and 17 after (a shared-memory segment,
/// pipes, sockets, event fds). MPICH was not measured; a launcher with remote peers adds sockets.
pub const MPI_INIT_DESCRIPTORS: u64 = 14;

/// The descriptors a process started in the job has taken before it opens its first file, when h5doctor
/// did not record them (facts written before `host.open_at_start`): stdin, stdout, stderr.
const STDIO: u64 = 3;

/// What reading a virtual dataset of `sources` source files at once needs, descriptor by descriptor. HDF5
/// holds each source open while the virtual dataset is open and keeps no descriptor of its own besides the
/// files (HDF5 1.10.8 and 2.0.0 measured: stdio + the VDS file + one per source, nothing else); Python and
/// h5py keep none either. So: the sources, the VDS file, what the process holds at start below the soft
/// limit (a descriptor numbered above it takes no slot), and MPI_Init's when the job runs several ranks.
/// With only stdio inherited and 30 sources, h5py reads every row at `ulimit -Sn 34` and loses one at 33.
#[derive(Debug, Clone, PartialEq)]
pub struct DescriptorBudget {
    pub sources: u64,
    /// Descriptors open at start below the soft limit, as recorded (`None`: not recorded, stdio assumed).
    pub held: Option<Vec<u32>>,
    /// MPI_Init's descriptors, when the job runs several ranks.
    pub mpi: u64,
}

impl DescriptorBudget {
    /// The budget for `sources` source files under these facts' limit, inherited descriptors and ranks.
    pub fn of(f: &Facts, sources: u64) -> Self {
        let soft = f.host.open_files_limit.map_or(u64::MAX, |(soft, _)| soft);
        let held = f
            .host
            .open_at_start
            .as_ref()
            .map(|fds| fds.iter().copied().filter(|&fd| u64::from(fd) < soft).collect());
        let ranks = ["SLURM_NTASKS", "OMPI_COMM_WORLD_SIZE", "PMI_SIZE"]
            .iter()
            .filter_map(|v| f.env.vars.get(*v)?.trim().parse::<u64>().ok())
            .max()
            .unwrap_or(1);
        Self {
            sources,
            held,
            mpi: if ranks > 1 { MPI_INIT_DESCRIPTORS } else { 0 },
        }
    }

    fn held_count(&self) -> u64 {
        self.held.as_ref().map_or(STDIO, |h| h.len() as u64)
    }

    /// Descriptors needed in all.
    pub fn total(&self) -> u64 {
        self.sources + 1 + self.held_count() + self.mpi
    }

    /// `30 source files + 1 (the VDS file) + 3 open at start (0,1,2) = 34`.
    pub fn describe(&self) -> String {
        let held = match &self.held {
            Some(fds) => {
                let list: Vec<String> = fds.iter().map(u32::to_string).collect();
                format!("{} open at start below the limit ({})", fds.len(), list.join(","))
            }
            None => format!("{STDIO} for stdin, stdout and stderr (not recorded in these facts)"),
        };
        let mpi = if self.mpi > 0 {
            format!(" + {} for MPI_Init (measured with Open MPI 4.1)", self.mpi)
        } else {
            String::new()
        };
        format!("{} source files + 1 (the VDS file) + {held}{mpi} = {}", self.sources, self.total())
    }
}

fn version_tuple(v: &str) -> Option<(u64, u64, u64)> {
    let mut p = v
        .split(|c: char| !c.is_ascii_digit())
        .filter(|s| !s.is_empty())
        .map(|s| s.parse().ok());
    Some((p.next()??, p.next()??, p.next().flatten().unwrap_or(0)))
}

/// HDF5's words for a format feature it does not know (H5Ocache.c, H5Odtype.c, H5Fsuper_cache.c, H5Olayout.c).
const TOO_NEW_WORDS: [&str; 6] = [
    "bad version number",
    "bad object header version",
    "bad superblock version",
    "unknown datatype class",
    "unsupported message",
    "unknown message",
];

/// Where this node's HDF5 meets a format it cannot read: the superblock version it reads as newer than
/// itself, or the objects whose headers it could not decode.
fn too_new(f: &Facts, file: &FileFacts) -> Vec<String> {
    let mut out = Vec::new();
    let reader = f.hdf5.library.as_ref().and_then(|l| version_tuple(&l.version));
    if let (Some(sb), Some(reader)) = (&file.superblock, reader) {
        let needs = match sb.version {
            2 => Some((1, 8, 0)),
            3 => Some((1, 10, 0)),
            v if v > 3 => Some((2, 0, 0)),
            _ => None,
        };
        if let Some(needs) = needs.filter(|n| reader < *n) {
            out.push(format!("superblock version {} (needs HDF5 >= {}.{})", sb.version, needs.0, needs.1));
        }
    }
    let open_error = file.hdf5.open.as_ref().filter(|o| !o.ok).and_then(|o| o.error_leaf.clone());
    if let Some(e) = open_error.filter(|e| TOO_NEW_WORDS.iter().any(|w| e.contains(w))) {
        out.push(format!("the file: {}", innermost_call(&e)));
    }
    for u in file
        .hdf5
        .unreadable
        .iter()
        .filter(|u| TOO_NEW_WORDS.iter().any(|w| u.error_leaf.contains(w)))
    {
        out.push(format!("{}: {}", u.path, innermost_call(&u.error_leaf)));
    }
    out
}

/// `#012: ../src/H5Odtype.c line 123 in H5O_dtype_decode_helper(): bad version number ...` ->
/// `H5O_dtype_decode_helper(): bad version number ...`.
fn innermost_call(leaf: &str) -> String {
    leaf.split_once(" in ").map_or(leaf, |(_, rest)| rest).trim().to_string()
}

/// HDF5 releases on this node newer than the probe's, and where they are (h5py's bundled HDF5s).
fn newer_readers(f: &Facts) -> Vec<String> {
    let native = f.hdf5.library.as_ref().and_then(|l| version_tuple(&l.version));
    let mut out = Vec::new();
    for i in f.python.interpreters.iter().filter(|i| i.import.status == ProbeStatus::Ok) {
        let Some(v) = i.import.hdf5_version.as_deref() else { continue };
        if native.is_none_or(|n| version_tuple(v).is_some_and(|t| t > n)) {
            out.push(format!(
                "HDF5 {v} of h5py {} in {}",
                i.import.h5py_version.as_deref().unwrap_or("?"),
                i.path
            ));
        }
    }
    out
}

/// `ok` when the re-read with the fix opened every source, `failed` otherwise.
fn reread_outcome(r: &VdsReread) -> Outcome {
    if r.complete() {
        Outcome::Ok
    } else {
        Outcome::Failed
    }
}

fn distinct_sources(file: &FileFacts) -> u64 {
    file.hdf5.vds_sources.len() as u64
}

/// The descriptors reading the largest virtual dataset of the examined files needs.
fn descriptors_needed(f: &Facts) -> Option<DescriptorBudget> {
    let most = f.files.iter().map(distinct_sources).max().filter(|&n| n > 0)?;
    Some(DescriptorBudget::of(f, most))
}

facts! {
    File(f, file) {
        "file.format_too_new" ["newer than this HDF5"]
            "Where the file needs a newer HDF5 than this node's (h5doctor-probe's): a superblock version it does not \
            read, or objects whose header messages (datatype, layout, ...) it cannot decode, with HDF5's words (a list)."
            => non_empty(too_new(f, file));
        "file.unreadable_objects" ["objects HDF5 cannot open"]
            "Objects of the file HDF5 could not open, with its innermost error line (a list)."
            => non_empty(
                file
                    .hdf5
                    .unreadable
                    .iter()
                    .map(|u| format!("{}: {}", u.path, innermost_call(&u.error_leaf)))
                    .collect(),
            );
        "file.newer_readers" ["newer HDF5 on this node"]
            "HDF5 releases on this node newer than h5doctor-probe's, and where they are (the HDF5 bundled with each \
            examined Python's h5py) (a list)."
            => non_empty(newer_readers(f));
        "file.newest_reader_python" ["Python with the newest HDF5"]
            "The interpreter whose h5py bundles the newest HDF5 release on this node, newer than h5doctor-probe's."
            => {
                let native = f.hdf5.library.as_ref().and_then(|l| version_tuple(&l.version));
                f.python
                    .interpreters
                    .iter()
                    .filter(|i| i.import.status == ProbeStatus::Ok)
                    .filter_map(|i| Some((version_tuple(i.import.hdf5_version.as_deref()?)?, i)))
                    .filter(|(v, _)| native.is_none_or(|n| *v > n))
                    .max_by_key(|(v, _)| *v)
                    .map(|(_, i)| json!(i.path))
            };
        "file.vds_source_files" ["VDS source files"]
            "How many distinct source files the file's virtual datasets read (`.`, the file itself, not counted)."
            => {
                let n = distinct_sources(file);
                (n > 0).then(|| json!(n))
            };
        "file.vds_sources_missing" ["VDS sources not found"]
            "Source files of the virtual datasets that HDF5 would not find or could not read, each with the rows it \
            backs and every place looked in, in HDF5's order (a list)."
            => {
                non_empty(
                    file
                        .hdf5
                        .vds_sources
                        .iter()
                        .filter_map(|s| {
                            let problem = s.problem.as_ref()?;
                            Some(format!(
                                "{} ({problem}; backs {}; looked in: {})",
                                s.stored,
                                s.backs.join(", "),
                                s.tried.join(", ")
                            ))
                        })
                        .collect(),
                )
            };
        "file.vds_example_missing" ["a missing VDS source"]
            "The stored name of the first VDS source file HDF5 would not find (for fix texts)."
            => file.hdf5.vds_sources.iter().find(|s| s.problem.is_some()).map(|s| &s.stored);
        "file.vds_sources_found_in" ["missing sources are in"]
            "A directory under the file's own (three levels down) that holds every VDS source HDF5 would not find, \
            by file name: the HDF5_VDS_PREFIX to set."
            => file.hdf5.vds_sources_found_in.as_ref();
        "file.vds_prefix_read" ["read with that HDF5_VDS_PREFIX"] in Outcome
            "ok when h5doctor-probe, reading the virtual datasets again with HDF5_VDS_PREFIX set to \
            file.vds_sources_found_in, had HDF5 open every source file; failed otherwise."
            => file.hdf5.vds_prefix_reread.as_ref().map(reread_outcome);
        "file.vds_prefix_reread" ["re-read with the prefix"]
            "How many source files HDF5 opened when h5doctor-probe read the virtual datasets again with that HDF5_VDS_PREFIX."
            => file.hdf5.vds_prefix_reread.as_ref().map(VdsReread::describe);
        "file.newer_reader_read" ["read with the newer HDF5"] in Outcome
            "ok when the objects this node's HDF5 could not read opened with the newest HDF5 on this node (the h5py of \
            file.newest_reader_python); failed otherwise; unknown when there is no newer HDF5 to try."
            => file.hdf5.newer_reader_check.as_ref().map(|c| if c.ok { Outcome::Ok } else { Outcome::Failed });
        "file.newer_reader_check" ["re-read with"]
            "What opening the file's unreadable objects with the newest HDF5 on this node gave."
            => file.hdf5.newer_reader_check.as_ref().map(|c| {
                let how = format!("h5py with HDF5 {} ({}) opening {}", c.hdf5_version, c.python, c.objects.join(", "));
                match &c.error {
                    None => format!("{how}: ok"),
                    Some(e) => format!("{how}: {e}"),
                }
            });
    }

    Global(f) {
        "host.open_files_soft" ["open-files limit (soft)"]
            "RLIMIT_NOFILE soft limit the job inherits (`ulimit -Sn`)."
            => f.host.open_files_limit.map(|(soft, _)| json!(soft));
        "host.open_files_hard" ["open-files limit (hard)"]
            "RLIMIT_NOFILE hard limit (`ulimit -Hn`): how far a job may raise its soft limit itself."
            => f.host.open_files_limit.map(|(_, hard)| json!(hard));
        "host.open_files_needed" ["descriptors needed"]
            "Descriptors needed to read the largest virtual dataset of the examined files: its distinct source files, \
            the VDS file, the descriptors a process started here holds at start below the soft limit (h5doctor's own \
            at its start; stdio when not recorded), and 14 for MPI_Init when the job runs several ranks."
            => descriptors_needed(f).map(|b| b.total());
        "host.open_files_budget" ["descriptors counted"]
            "host.open_files_needed term by term (`30 source files + 1 (the VDS file) + 3 open at start below the \
            limit (0,1,2) = 34`)."
            => descriptors_needed(f).map(|b| b.describe());
        "host.open_files_short" ["open-files limit too low"] in LimitKind
            "The soft open-files limit is below host.open_files_needed: HDF5 silently returns fill values for the \
            sources it cannot open. `soft` when the hard limit allows enough (the job can raise it), `hard` when not."
            => {
                let (soft, hard) = f.host.open_files_limit?;
                let need = descriptors_needed(f)?.total();
                (soft < need).then(|| json!(if hard >= need { LimitKind::Soft } else { LimitKind::Hard }))
            };
        "host.open_files_rereads" ["re-read by h5doctor"]
            "The largest examined virtual dataset read by h5doctor-probe as the job is now and under \
            `ulimit -n $(ulimit -Hn)`: how many of its source files HDF5 really opened each time (a list)."
            => non_empty(f.host.open_files_rereads.iter().map(VdsReread::describe).collect());
        "host.open_files_raised_read" ["read under the raised limit"] in Outcome
            "ok when h5doctor-probe, reading the largest examined virtual dataset under `ulimit -n $(ulimit -Hn)`, had \
            HDF5 open every source file; failed otherwise."
            => f.host
                .open_files_rereads
                .iter()
                .find(|r| r.applied == crate::facts::RAISE_OPEN_FILES)
                .map(reread_outcome);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_descriptor_budget_counts_what_is_held_below_the_limit_and_mpi() {
        let mut f = Facts::new();
        f.host.open_files_limit = Some((100, 4096));
        // Not recorded (facts of an older h5doctor): stdio.
        let b = DescriptorBudget::of(&f, 30);
        assert_eq!(b.total(), 34);
        assert_eq!(
            b.describe(),
            "30 source files + 1 (the VDS file) + 3 for stdin, stdout and stderr (not recorded in these facts) = 34"
        );
        // A descriptor numbered above the soft limit takes no slot under it.
        f.host.open_at_start = Some(vec![0, 1, 2, 10, 255]);
        let b = DescriptorBudget::of(&f, 30);
        assert_eq!(b.total(), 35);
        assert_eq!(
            b.describe(),
            "30 source files + 1 (the VDS file) + 4 open at start below the limit (0,1,2,10) = 35"
        );
        // Several ranks: MPI_Init's descriptors too; one rank is not an MPI job.
        f.env.vars.insert("SLURM_NTASKS".into(), "1".into());
        assert_eq!(DescriptorBudget::of(&f, 30).total(), 35);
        f.env.vars.insert("SLURM_NTASKS".into(), "4".into());
        let b = DescriptorBudget::of(&f, 30);
        assert_eq!(b.total(), 35 + MPI_INIT_DESCRIPTORS);
        assert!(
            b.describe().ends_with("+ 14 for MPI_Init (measured with Open MPI 4.1) = 49"),
            "{}",
            b.describe()
        );
    }

    #[test]
    fn versions_compare_and_calls_are_trimmed() {
        assert!(version_tuple("2.0.0").unwrap() > version_tuple("1.10.8").unwrap());
        assert_eq!(version_tuple("1.14.3-2"), Some((1, 14, 3)));
        assert_eq!(
            innermost_call("#012: ../../../src/H5Odtype.c line 1089 in H5O_dtype_decode_helper(): bad version number for datatype message"),
            "H5O_dtype_decode_helper(): bad version number for datatype message"
        );
    }
}
