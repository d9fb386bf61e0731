//! Invariant 4, nothing is lost: every file a probe creates is registered here and removed when its guard
//! drops, when h5doctor exits early, and on SIGINT/SIGTERM/SIGHUP (the handler also kills running probe
//! children). Probe files get unique names and are created with O_EXCL, so no user file is ever touched.
//!
//! A probe that makes several files from one name (the HDF5 family, split and multi drivers, the open-mode
//! checks) gets a [`ProbeStem`]: a unique stem whose files are named by [`stem_names`] and removed with it.
//! Removal goes by those names, never by listing the directory: a scratch directory may hold millions of
//! files, and listing it would take longer than every probe together.
//!
//! Probe children get SIGTERM when h5doctor dies (`probes::child::die_with_parent`) and remove their own
//! files on it. What survives even that (every process SIGKILLed at once, as Slurm does after KillWait) is
//! in the run's *pending record*: a small file in a node-local directory of the user's own
//! ([`record_dir`]: `$XDG_RUNTIME_DIR/h5doctor`, else `/var/tmp/h5doctor-UID`), named after the run's PID
//! and start time, listing every registered file and stem. A run deletes its record when it has removed
//! them; the next run that probes a directory ([`sweep_stale`], called by the directory probe) removes the
//! files listed there by records of runs whose PID is dead on this host, by name.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

static FILES: Mutex<Vec<PathBuf>> = Mutex::new(Vec::new());
static STEMS: Mutex<Vec<PathBuf>> = Mutex::new(Vec::new());
static CHILDREN: Mutex<Vec<i32>> = Mutex::new(Vec::new());
/// Registered files whose siblings (names that start with the file's own unique name) are ours too.
static WITH_SIBLINGS: Mutex<Vec<PathBuf>> = Mutex::new(Vec::new());
static COUNTER: AtomicU64 = AtomicU64::new(0);
/// Whether registrations go into a pending record (not in h5doctor-probe: h5doctor recorded its names).
static RECORDING: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(true);

/// Registrations of this process are not recorded: for h5doctor-probe, whose files h5doctor registered
/// and recorded before starting it, and which registers them only to remove them on SIGTERM.
pub fn without_record() {
    RECORDING.store(false, Ordering::Relaxed);
}

/// The prefix of every file h5doctor creates; a leftover (after SIGKILL) is recognisable by it.
pub const PREFIX: &str = ".h5doctor-probe-";

/// A name in `dir` that no other h5doctor run or file uses: prefix, pid, counter, nanoseconds.
pub fn unique_path(dir: &Path, ext: &str) -> PathBuf {
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    dir.join(format!("{PREFIX}{}-{n}-{nanos:08x}.{ext}", std::process::id()))
}

/// The stem of the drivers × modes matrix h5doctor-probe runs after creating `probe_file`: the probe file's
/// path without its extension (both binaries use this, so the matrix files are registered before they exist).
pub fn matrix_stem(probe_file: &Path) -> PathBuf {
    probe_file.with_extension("")
}

/// The names of the files of a matrix stem, as suffixes of the stem. h5doctor-probe names its files with
/// these and nothing else; cleanup removes exactly these.
pub mod stem_names {
    pub const SEC2: &str = "-sec2.h5";
    pub const STDIO: &str = "-stdio.h5";
    pub const CORE: &str = "-core.h5";
    /// The family driver's printf pattern; members are `-family-0.h5`, `-family-1.h5`, ... without gaps.
    pub const FAMILY: &str = "-family-%d.h5";
    /// The name given to the split driver; it adds `-m.h5` (metadata) and `-r.h5` (raw data).
    pub const SPLIT: &str = "-split";
    pub const SPLIT_META_EXT: &str = "-m.h5";
    pub const SPLIT_RAW_EXT: &str = "-r.h5";
    /// The name given to the multi driver; its default members add `-s.h5`, `-b.h5`, `-r.h5`, `-g.h5`,
    /// `-l.h5` and `-o.h5`.
    pub const MULTI: &str = "-multi";
    pub const MULTI_MEMBER_EXTS: [&str; 6] = ["-s.h5", "-b.h5", "-r.h5", "-g.h5", "-l.h5", "-o.h5"];
    /// The log driver's file, and the log it writes (named from the file: `.h5` -> `.log`).
    pub const LOG: &str = "-log.h5";
    pub const LOG_LOG: &str = "-log.log";
    /// The direct (O_DIRECT) driver's file.
    pub const DIRECT: &str = "-direct.h5";
    /// The splitter driver's read/write file and its write-only copy.
    pub const SPLITTER: &str = "-splitter.h5";
    pub const SPLITTER_WO: &str = "-splitter-wo.h5";
    /// The onion driver's original file; it adds `.onion` (the history) and, while open, `.onion.recovery`.
    pub const ONION: &str = "-onion.h5";
    pub const ONION_EXTS: [&str; 2] = [".onion", ".onion.recovery"];
    pub const MODE: &str = "-mode.h5";
    pub const MODE_MISSING: &str = "-mode-missing.h5";
    pub const MODE_APPEND: &str = "-mode-append.h5";

    /// Every fixed file name (family members aside), as suffixes of the stem.
    pub fn fixed() -> Vec<String> {
        let mut names: Vec<String> = [SEC2, STDIO, CORE, MODE, MODE_MISSING, MODE_APPEND].map(String::from).to_vec();
        names.extend([SPLIT_META_EXT, SPLIT_RAW_EXT].map(|e| format!("{SPLIT}{e}")));
        names.extend(MULTI_MEMBER_EXTS.map(|e| format!("{MULTI}{e}")));
        names.extend([LOG, LOG_LOG, DIRECT, SPLITTER, SPLITTER_WO, ONION].map(String::from));
        names.extend(ONION_EXTS.map(|e| format!("{ONION}{e}")));
        names
    }

    /// The suffix of family member `i`.
    pub fn family_member(i: usize) -> String {
        FAMILY.replace("%d", &i.to_string())
    }
}

/// A file of a stem: the stem's path with a suffix from [`stem_names`].
pub fn stem_file(stem: &Path, suffix: &str) -> PathBuf {
    let mut s = stem.as_os_str().to_owned();
    s.push(suffix);
    PathBuf::from(s)
}

/// Where this user's pending records live: node-local, owned by this user, mode 0700; `None` when no
/// such directory can be had (then nothing is recorded, and a SIGKILL may leave a probe file behind).
pub fn record_dir() -> Option<PathBuf> {
    use std::os::unix::fs::{DirBuilderExt, MetadataExt};
    // SAFETY: geteuid(2) has no preconditions.
    let uid = unsafe { libc::geteuid() };
    let runtime = std::env::var_os("XDG_RUNTIME_DIR").map(|d| PathBuf::from(d).join("h5doctor"));
    let var_tmp = PathBuf::from(format!("/var/tmp/h5doctor-{uid}"));
    for dir in runtime.into_iter().chain([var_tmp]) {
        let _ = std::fs::DirBuilder::new().mode(0o700).create(&dir);
        // Ours, a real directory (not a symlink someone planted), writable by no one else.
        if let Ok(m) = std::fs::symlink_metadata(&dir) {
            if m.is_dir() && m.uid() == uid && m.mode() & 0o077 == 0 {
                return Some(dir);
            }
        }
    }
    None
}

/// The start time of a running process (field 22 of /proc/PID/stat, in clock ticks since boot): with the
/// PID, it names one process, even after the PID is reused. `None` when no such process runs (a zombie,
/// killed but not yet reaped, does not run).
fn start_time(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) is in parentheses and may contain spaces: count from the last ')'.
    let mut fields = stat[stat.rfind(')')? + 1..].split_whitespace();
    let state = fields.next()?;
    if state == "Z" || state == "X" {
        return None;
    }
    fields.nth(18)?.parse().ok()
}

fn host_name() -> String {
    let mut buf = [0u8; 256];
    // SAFETY: gethostname writes at most buf.len() bytes into buf.
    if unsafe { libc::gethostname(buf.as_mut_ptr().cast(), buf.len()) } != 0 {
        return String::new();
    }
    let end = buf.iter().position(|&b| b == 0).unwrap_or(buf.len());
    String::from_utf8_lossy(&buf[..end]).into_owned()
}

/// A path as hex bytes: exact for any name, one token on a line.
fn hex(path: &Path) -> String {
    use std::os::unix::ffi::OsStrExt;
    path.as_os_str().as_bytes().iter().map(|b| format!("{b:02x}")).collect()
}

fn unhex(text: &str) -> Option<PathBuf> {
    use std::os::unix::ffi::OsStringExt;
    if text.len() % 2 != 0 {
        return None;
    }
    let bytes = (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(text.get(i..i + 2)?, 16).ok())
        .collect::<Option<Vec<u8>>>()?;
    Some(PathBuf::from(std::ffi::OsString::from_vec(bytes)))
}

/// A pending record: the run that wrote it and what it registered.
#[derive(Debug, Default, PartialEq)]
struct Record {
    host: String,
    pid: u32,
    start: u64,
    files: Vec<PathBuf>,
    stems: Vec<PathBuf>,
}

impl Record {
    fn render(&self) -> String {
        let mut out = format!(
            "h5doctor-pending 1\nhost {}\npid {} {}\n",
            hex(Path::new(&self.host)),
            self.pid,
            self.start
        );
        for f in &self.files {
            out.push_str(&format!("file {}\n", hex(f)));
        }
        for s in &self.stems {
            out.push_str(&format!("stem {}\n", hex(s)));
        }
        out
    }

    /// Parses a record; `None` for anything that is not one (never acted upon).
    fn parse(text: &str) -> Option<Record> {
        let mut lines = text.lines();
        if lines.next()? != "h5doctor-pending 1" {
            return None;
        }
        let host = unhex(lines.next()?.strip_prefix("host ")?)?.to_string_lossy().into_owned();
        let mut pid = lines.next()?.strip_prefix("pid ")?.split(' ');
        let mut record = Record {
            host,
            pid: pid.next()?.parse().ok()?,
            start: pid.next()?.parse().ok()?,
            ..Record::default()
        };
        for line in lines {
            let (kind, value) = line.split_once(' ')?;
            let path = unhex(value)?;
            // Only names h5doctor makes: an absolute path whose file name has the probe prefix.
            if !path.is_absolute() || !path.file_name()?.to_string_lossy().starts_with(PREFIX) {
                return None;
            }
            match kind {
                "file" => record.files.push(path),
                "stem" => record.stems.push(path),
                _ => return None,
            }
        }
        Some(record)
    }
}

/// This process's PID and start time, read once per process (a forked child reads its own).
static OWN_START: Mutex<Option<(u32, u64)>> = Mutex::new(None);

/// The start time of this process ([`start_time`] of its own PID), read from /proc once.
fn own_start_time() -> Option<u64> {
    let me = std::process::id();
    let mut known = OWN_START.lock().unwrap_or_else(|e| e.into_inner());
    match *known {
        Some((pid, start)) if pid == me => Some(start),
        _ => {
            let start = start_time(me)?;
            *known = Some((me, start));
            Some(start)
        }
    }
}

/// This run's record file, decided once.
static RECORD: std::sync::OnceLock<Option<(PathBuf, Record)>> = std::sync::OnceLock::new();

fn own_record() -> Option<&'static (PathBuf, Record)> {
    RECORD
        .get_or_init(|| {
            let pid = std::process::id();
            let start = own_start_time()?;
            let dir = record_dir()?;
            let record = Record {
                host: host_name(),
                pid,
                start,
                ..Record::default()
            };
            Some((dir.join(format!("{pid}-{start}.pending")), record))
        })
        .as_ref()
}

/// Rewrites this run's record with what is registered now (atomically: a new file renamed over the old
/// one), or removes it when nothing is.
fn write_record(files: &[PathBuf], stems: &[PathBuf]) {
    if !RECORDING.load(Ordering::Relaxed) {
        return;
    }
    if files.is_empty() && stems.is_empty() {
        // A run that never wrote its record has none to remove (`ldd`, a replay, a group with no probe
        // files): no record directory to make, no /proc read for its start time. Nor does one that has
        // removed it already (the exit's `remove_all` after the last guard's drop).
        if let Some(Some((path, _))) = RECORD.get() {
            if RECORD_ON_DISK.load(Ordering::Relaxed) && gone(std::fs::remove_file(path)) {
                RECORD_ON_DISK.store(false, Ordering::Relaxed);
            }
        }
        return;
    }
    let Some((path, base)) = own_record() else {
        return;
    };
    let record = Record {
        files: files.to_vec(),
        stems: stems.to_vec(),
        host: base.host.clone(),
        ..*base
    };
    match replace_record(path, &record) {
        Ok(()) => RECORD_ON_DISK.store(true, Ordering::Relaxed),
        Err(_) => tracing::debug!(record = %path.display(), "cannot write the pending record"),
    }
}

/// Whether this run's record may be on disk: set when it is written, cleared once it is removed. Read
/// and changed only under [`RECORD_WRITE`], like the record itself. No other run rewrites the record of
/// a run that is alive.
static RECORD_ON_DISK: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// Numbers the temporary files of record rewrites made by this process.
static REWRITES: AtomicU64 = AtomicU64::new(0);

/// Replaces the record at `path` atomically: a new file renamed over it. The new file's name is the
/// writer's own (`PID-START.WRITERPID-WRITERSTART-N.new`): a run rewrites its record while the sweeps of
/// other runs may rewrite it too, and two writers through one name could truncate each other's file just
/// as it is renamed, leaving an empty record that no sweep can read (its files would then stay forever).
fn replace_record(path: &Path, record: &Record) -> std::io::Result<()> {
    replace_record_dated(path, record, None)
}

/// [`replace_record`], with the new file's modification time set to `modified` when given.
fn replace_record_dated(path: &Path, record: &Record, modified: Option<std::time::SystemTime>) -> std::io::Result<()> {
    let me = std::process::id();
    let n = REWRITES.fetch_add(1, Ordering::Relaxed);
    let stem = path.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
    let tmp = path.with_file_name(format!("{stem}.{me}-{}-{n}.new", own_start_time().unwrap_or(0)));
    let write = || -> std::io::Result<()> {
        let mut file = std::fs::File::create(&tmp)?;
        std::io::Write::write_all(&mut file, record.render().as_bytes())?;
        if let Some(t) = modified {
            file.set_modified(t)?;
        }
        drop(file);
        std::fs::rename(&tmp, path)
    };
    let written = write();
    if written.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    written
}

/// The process that writes a temporary record file `RUN.WRITER-START-N.new` (or, as older releases named
/// it, `PID-START.new`, written by that run itself): its PID and start time.
fn temp_writer(name: &str) -> Option<(u32, u64)> {
    let stem = name.strip_suffix(".new")?;
    let writer = stem.split_once('.').map_or(stem, |(_, w)| w);
    let mut parts = writer.split('-');
    Some((parts.next()?.parse().ok()?, parts.next()?.parse().ok()?))
}

/// Held while the record is rewritten from the registry: the list read and the file written as one step.
/// Without it two threads (the Python interpreters are probed in parallel) could write their snapshots
/// out of order, or one remove the record just after the other registered a file, and a file that then
/// survives a SIGKILL would be listed nowhere.
static RECORD_WRITE: Mutex<()> = Mutex::new(());

/// Rewrites the record from what is registered now; returns only when it is on disk, so the file it
/// names cannot exist before its name is recorded.
fn record_now() {
    let _one = RECORD_WRITE.lock().unwrap_or_else(|e| e.into_inner());
    let files = FILES.lock().unwrap_or_else(|e| e.into_inner()).clone();
    let stems = STEMS.lock().unwrap_or_else(|e| e.into_inner()).clone();
    write_record(&files, &stems);
}

/// Whether the process that wrote a record still runs on this host (same PID, same start time).
fn alive(record: &Record) -> bool {
    // A run on another host (a shared /var/tmp) is never judged from here.
    record.host != host_name() || start_time(record.pid) == Some(record.start)
}

/// One sweep at a time in this process (the directory probe probes directories in parallel).
static SWEEP: Mutex<()> = Mutex::new(());

/// Removes, by name, the probe files that runs killed outright (their PID is dead on this host) left in
/// `dir` (canonical), as listed in their pending records; drops those entries from the records. Lists
/// only the record directory, never `dir`. Returns how many files and stems it removed.
pub fn sweep_stale(dir: &Path) -> usize {
    let Some(records) = record_dir() else {
        return 0;
    };
    let _one = SWEEP.lock().unwrap_or_else(|e| e.into_inner());
    let Ok(entries) = std::fs::read_dir(&records) else {
        return 0;
    };
    let mut removed = 0;
    for entry in entries.flatten() {
        let path = entry.path();
        if path.extension().is_some_and(|e| e == "new") {
            // A record being rewritten when its writer was killed: gone with the writer.
            let writer = path.file_name().and_then(|n| n.to_str()).and_then(temp_writer);
            if let Some((pid, start)) = writer.filter(|(pid, start)| start_time(*pid) != Some(*start)) {
                tracing::debug!(pid, start, "removing a half-written pending record");
                let _ = std::fs::remove_file(&path);
            }
            continue;
        }
        if path.extension().is_none_or(|e| e != "pending") {
            continue;
        }
        let Some(mut record) = std::fs::read_to_string(&path).ok().and_then(|t| Record::parse(&t)) else {
            continue;
        };
        if alive(&record) {
            continue;
        }
        let here = |p: &PathBuf| p.parent() == Some(dir);
        if !record.files.iter().chain(&record.stems).any(here) {
            // Nothing of it here: the record stays as it is (rewriting every dead run's record on every
            // run cost seconds when the disk was busy).
            continue;
        }
        for f in record.files.iter().filter(|p| here(p)) {
            if remove_if_ours(f, record.pid) == Removal::Removed {
                removed += 1;
            }
        }
        for s in record.stems.iter().filter(|p| here(p)) {
            remove_stem_if_ours(s, record.pid);
            removed += 1;
        }
        let listed = record.files.len() + record.stems.len();
        record.files.retain(|p| !here(p));
        record.stems.retain(|p| !here(p));
        // Rewritten only when this sweep removed something: a record of other directories is left as it is
        // (every run sweeps, and needless rewrites would only race with the sweeps that matter).
        if record.files.len() + record.stems.len() == listed {
            continue;
        }
        if record.files.is_empty() && record.stems.is_empty() {
            let _ = std::fs::remove_file(&path);
        } else {
            rewrite_keeping_age(&path, &record);
        }
    }
    removed
}

/// A dead run's record not rewritten by its run for this long is *abandoned*: its files are removed
/// wherever they are, not only when a run probes their directory again (a job's scratch directory may
/// never be probed again, and its record would stay forever). Younger records are left to the next run in
/// their directories, which is where a killed job usually runs again.
pub const ABANDONED_AFTER: std::time::Duration = std::time::Duration::from_secs(10 * 60);

/// A record this old is dropped even if some of its files could not be removed (their directory is on a
/// network file system, or unreachable): by then the files are the directory owner's to see, and keeping
/// the record would only make every run read it again. Also the bound for records of other hosts (a shared
/// record directory), whose runs cannot be judged from here, and for files that are not records at all.
pub const FORGOTTEN_AFTER: std::time::Duration = std::time::Duration::from_secs(7 * 24 * 3600);

/// What removing one listed name did.
#[derive(Debug, PartialEq, Eq)]
enum Removal {
    /// It was ours and is gone.
    Removed,
    /// Nothing to do: no such file, or a file that is not ours any more (another kind of file, another
    /// owner or another name now): the entry is done and the file, if any, left alone.
    Done,
    /// Its directory could not be examined (permission, I/O error): try again later.
    Unreachable,
}

/// Removes `path`, listed by the dead run `pid`, only if it still looks like that run's probe file: a
/// regular file (not a symlink or directory someone put there since), owned by this user, whose name
/// starts with the prefix and PID that run's [`unique_path`] gave it.
fn remove_if_ours(path: &Path, pid: u32) -> Removal {
    use std::os::unix::fs::MetadataExt;
    let ours_by_name = path
        .file_name()
        .is_some_and(|n| n.as_encoded_bytes().starts_with(format!("{PREFIX}{pid}-").as_bytes()));
    if !ours_by_name {
        return Removal::Done;
    }
    match std::fs::symlink_metadata(path) {
        // SAFETY: geteuid(2) has no preconditions.
        Ok(m) if m.file_type().is_file() && m.uid() == unsafe { libc::geteuid() } => match std::fs::remove_file(path) {
            Ok(()) => Removal::Removed,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Removal::Done,
            Err(_) => Removal::Unreachable,
        },
        Ok(_) => Removal::Done,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound || e.raw_os_error() == Some(libc::ENOTDIR) => Removal::Done,
        Err(_) => Removal::Unreachable,
    }
}

/// [`remove_if_ours`] for every file of a stem (family members until the first that is not there).
fn remove_stem_if_ours(stem: &Path, pid: u32) -> Removal {
    let mut outcome = Removal::Done;
    for suffix in stem_names::fixed() {
        if remove_if_ours(&stem_file(stem, &suffix), pid) == Removal::Unreachable {
            outcome = Removal::Unreachable;
        }
    }
    for i in 0..100_000 {
        match remove_if_ours(&stem_file(stem, &stem_names::family_member(i)), pid) {
            Removal::Removed => {}
            Removal::Done => break,
            Removal::Unreachable => {
                outcome = Removal::Unreachable;
                break;
            }
        }
    }
    outcome
}

/// Rewrites a record after a sweep removed some of its entries, keeping its modification time: the age
/// of a record is the time its run last wrote it, not the time a sweep last touched it.
fn rewrite_keeping_age(path: &Path, record: &Record) {
    let written = std::fs::metadata(path).and_then(|m| m.modified()).ok();
    let _ = replace_record_dated(path, record, written);
}

/// How long ago a file was last modified (zero for a time in the future).
fn age(meta: &std::fs::Metadata) -> std::time::Duration {
    meta.modified().ok().and_then(|t| t.elapsed().ok()).unwrap_or_default()
}

/// The janitor of the record directory, run once per run (by the directory probe): for every record of a
/// run that is dead on this host and [abandoned](ABANDONED_AFTER), removes its files by name wherever they
/// are, but only in directories that `node_local` says answer from this node (a dead network mount would
/// hang the call; those wait for a run in their directory, or for [`FORGOTTEN_AFTER`]), and only files
/// that still look like that run's ([`remove_if_ours`]). Records left with nothing are deleted; records
/// (and stray files) older than [`FORGOTTEN_AFTER`] are deleted whatever they still list. Lists only the
/// record directory, never a directory a record names. Returns how many files and stems it removed.
pub fn sweep_abandoned(node_local: impl Fn(&Path) -> bool) -> usize {
    let Some(records) = record_dir() else {
        return 0;
    };
    let Ok(entries) = std::fs::read_dir(&records) else {
        return 0;
    };
    let here = host_name();
    let mut removed = 0;
    for entry in entries.flatten() {
        let path = entry.path();
        let Ok(meta) = std::fs::symlink_metadata(&path) else {
            continue;
        };
        let old = age(&meta);
        if path.extension().is_none_or(|e| e != "pending") {
            // Half-written records of dead writers go in sweep_stale; anything else that stays a week is
            // not ours to keep (the directory is this user's, mode 0700).
            if old > FORGOTTEN_AFTER && meta.file_type().is_file() && path.extension().is_none_or(|e| e != "new") {
                let _ = std::fs::remove_file(&path);
            }
            continue;
        }
        let _one = SWEEP.lock().unwrap_or_else(|e| e.into_inner());
        let Some(mut record) = std::fs::read_to_string(&path).ok().and_then(|t| Record::parse(&t)) else {
            if old > FORGOTTEN_AFTER {
                tracing::debug!(record = %path.display(), "dropping an unreadable pending record a week old");
                let _ = std::fs::remove_file(&path);
            }
            continue;
        };
        if record.host != here {
            // Another host's run (a shared record directory): never judged from here, only forgotten.
            if old > FORGOTTEN_AFTER {
                let _ = std::fs::remove_file(&path);
            }
            continue;
        }
        if old < ABANDONED_AFTER || alive(&record) {
            continue;
        }
        let listed = record.files.len() + record.stems.len();
        let pid = record.pid;
        let mut swept = |p: &PathBuf, stem: bool| {
            let dir = p.parent().unwrap_or(Path::new("/"));
            if !node_local(dir) {
                return false;
            }
            let outcome = if stem {
                remove_stem_if_ours(p, pid)
            } else {
                remove_if_ours(p, pid)
            };
            if outcome == Removal::Removed || stem {
                removed += usize::from(outcome != Removal::Unreachable);
            }
            outcome != Removal::Unreachable
        };
        record.files.retain(|p| !swept(p, false));
        record.stems.retain(|p| !swept(p, true));
        let kept = record.files.len() + record.stems.len();
        if kept == 0 || old > FORGOTTEN_AFTER {
            if kept > 0 {
                tracing::debug!(record = %path.display(), kept, "forgetting a week-old pending record whose files cannot be reached");
            }
            let _ = std::fs::remove_file(&path);
        } else if kept < listed {
            rewrite_keeping_age(&path, &record);
        }
    }
    removed
}

/// Whether a removal leaves the name gone: removed, or not there.
fn gone(removal: std::io::Result<()>) -> bool {
    match removal {
        Ok(()) => true,
        Err(e) => e.kind() == std::io::ErrorKind::NotFound,
    }
}

/// Removes the stem's files by name; family members until the first one that is not there. Whether every
/// name is gone now.
fn remove_stem(stem: &Path) -> bool {
    let mut all_gone = true;
    for suffix in stem_names::fixed() {
        all_gone &= gone(std::fs::remove_file(stem_file(stem, &suffix)));
    }
    for i in 0..100_000 {
        if let Err(e) = std::fs::remove_file(stem_file(stem, &stem_names::family_member(i))) {
            all_gone &= e.kind() == std::io::ErrorKind::NotFound;
            break;
        }
    }
    all_gone
}

/// The probe files of one stem owned by this run: all removed when the guard drops.
#[derive(Debug)]
pub struct ProbeStem {
    stem: PathBuf,
}

impl ProbeStem {
    /// Registers a stem (unique, like [`matrix_stem`] of a [`unique_path`]) whose files this run (or its probe
    /// child) is about to create.
    pub fn register(stem: PathBuf) -> Self {
        STEMS.lock().unwrap_or_else(|e| e.into_inner()).push(stem.clone());
        record_now();
        Self { stem }
    }

    pub fn path(&self) -> &Path {
        &self.stem
    }

    /// Lets go of the stem without removing its files: the probe child that was given it removed every
    /// one of them itself and said so (the names are unique: nothing makes them again). Any other end of
    /// the child (killed, crashed, an older probe that does not say it) drops the guard instead, which
    /// removes them by name.
    pub fn removed_by_child(self) {
        let mut this = std::mem::ManuallyDrop::new(self);
        let stem = std::mem::take(&mut this.stem);
        STEMS.lock().unwrap_or_else(|e| e.into_inner()).retain(|p| p != &stem);
        forget_when_empty();
    }
}

/// Registers files and stems together: one record rewrite for all of them (each rewrite is a create and a
/// rename in the record directory, which a busy disk makes slow), not one per name.
pub fn register_files_and_stems(files: Vec<PathBuf>, stems: Vec<PathBuf>) -> (Vec<ProbeFile>, Vec<ProbeStem>) {
    if files.is_empty() && stems.is_empty() {
        return (Vec::new(), Vec::new());
    }
    FILES.lock().unwrap_or_else(|e| e.into_inner()).extend(files.iter().cloned());
    STEMS.lock().unwrap_or_else(|e| e.into_inner()).extend(stems.iter().cloned());
    record_now();
    (
        files.into_iter().map(|path| ProbeFile { path }).collect(),
        stems.into_iter().map(|stem| ProbeStem { stem }).collect(),
    )
}

impl Drop for ProbeStem {
    fn drop(&mut self) {
        remove_stem(&self.stem);
        STEMS.lock().unwrap_or_else(|e| e.into_inner()).retain(|p| p != &self.stem);
        forget_when_empty();
    }
}

/// A probe file owned by this run: removed (if it exists) when the guard drops.
#[derive(Debug)]
pub struct ProbeFile {
    path: PathBuf,
}

impl ProbeFile {
    /// Registers a path that this run (or its probe child) is about to create with O_EXCL.
    pub fn register(path: PathBuf) -> Self {
        FILES.lock().unwrap_or_else(|e| e.into_inner()).push(path.clone());
        record_now();
        Self { path }
    }

    /// Registers many paths at once (one record rewrite, not one per path: an MPI run may name thousands).
    pub fn register_all(paths: Vec<PathBuf>) -> Vec<Self> {
        if paths.is_empty() {
            return Vec::new();
        }
        FILES.lock().unwrap_or_else(|e| e.into_inner()).extend(paths.iter().cloned());
        record_now();
        paths.into_iter().map(|path| Self { path }).collect()
    }

    /// Like [`ProbeFile::register`], for a file that a library may give side files named after it: Open
    /// MPI's OMPIO makes `NAME-JOBID-PID.lock`, `NAME.data.RANK` and `NAME.metadata.RANK` next to the file
    /// it opens (its shared-file-pointer components) and removes them only at MPI_File_close, which a rank
    /// stuck in MPI never reaches. Every name in the directory that starts with this file's own (unique)
    /// name is removed with it, by the guard, at a signal and at the MPI probe's watchdog.
    pub fn register_with_siblings(path: PathBuf) -> Self {
        WITH_SIBLINGS.lock().unwrap_or_else(|e| e.into_inner()).push(path.clone());
        Self::register(path)
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Lets go of the file without removing it: the probe child that was given it removed it itself and
    /// said so, as for [`ProbeStem::removed_by_child`]. A file registered with its siblings (a library's
    /// side files, which the child cannot vouch for) is removed as the guard's drop removes it.
    pub fn removed_by_child(self) {
        if WITH_SIBLINGS.lock().unwrap_or_else(|e| e.into_inner()).contains(&self.path) {
            drop(self);
            return;
        }
        let mut this = std::mem::ManuallyDrop::new(self);
        let path = std::mem::take(&mut this.path);
        FILES.lock().unwrap_or_else(|e| e.into_inner()).retain(|p| p != &path);
        forget_when_empty();
    }
}

/// Removes the files next to `path` whose names start with its name (and are longer). The name is one of
/// [`unique_path`]'s, so nothing but this run's files can match.
fn remove_siblings(path: &Path) {
    let (Some(dir), Some(name)) = (path.parent(), path.file_name()) else {
        return;
    };
    let name = name.as_encoded_bytes();
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    for e in entries.flatten() {
        let other = e.file_name();
        let other = other.as_encoded_bytes();
        if other.len() > name.len() && other.starts_with(name) {
            let _ = std::fs::remove_file(e.path());
        }
    }
}

/// The files this process holds open next to `path` whose names extend its (unique) name, read from
/// /proc/self/fd (never by listing the directory): the side files a library keeps open while `path` is
/// open, under names it picks itself. Open MPI's OMPIO keeps `NAME-JOBID-PID.lock` open on every rank
/// from MPI_File_open to MPI_File_close, with a job id it derives from its launcher; reading the name
/// back here gets it right whatever the launcher. A descriptor closed meanwhile is skipped.
pub fn held_open_beside(path: &Path) -> Vec<PathBuf> {
    let (Some(dir), Some(name)) = (path.parent(), path.file_name()) else {
        return Vec::new();
    };
    let name = name.as_encoded_bytes();
    let Ok(fds) = std::fs::read_dir("/proc/self/fd") else {
        return Vec::new();
    };
    let mut found: Vec<PathBuf> = fds
        .flatten()
        .filter_map(|fd| std::fs::read_link(fd.path()).ok())
        .filter(|target| {
            target.parent() == Some(dir)
                && target
                    .file_name()
                    .is_some_and(|n| n.len() > name.len() && n.as_encoded_bytes().starts_with(name))
        })
        .collect();
    found.sort();
    found.dedup();
    found
}

impl Drop for ProbeFile {
    fn drop(&mut self) {
        let mut with_siblings = WITH_SIBLINGS.lock().unwrap_or_else(|e| e.into_inner());
        if with_siblings.contains(&self.path) {
            remove_siblings(&self.path);
            with_siblings.retain(|p| p != &self.path);
        }
        drop(with_siblings);
        let _ = std::fs::remove_file(&self.path);
        FILES.lock().unwrap_or_else(|e| e.into_inner()).retain(|p| p != &self.path);
        forget_when_empty();
    }
}

/// Removes this run's record once nothing is registered (entries of removed files may linger until then:
/// removing a file that is gone does nothing, and names are never reused).
fn forget_when_empty() {
    let _one = RECORD_WRITE.lock().unwrap_or_else(|e| e.into_inner());
    let empty = FILES.lock().unwrap_or_else(|e| e.into_inner()).is_empty() && STEMS.lock().unwrap_or_else(|e| e.into_inner()).is_empty();
    if empty {
        write_record(&[], &[]);
    }
}

/// Remembers a running child process so a signal can kill it.
pub fn register_child(pid: i32) {
    CHILDREN.lock().unwrap_or_else(|e| e.into_inner()).push(pid);
}

pub fn unregister_child(pid: i32) {
    CHILDREN.lock().unwrap_or_else(|e| e.into_inner()).retain(|p| *p != pid);
}

/// How long [`remove_all`] waits for killed children to end before it removes their files anyway (a
/// process stuck in the kernel on a dead mount may never end).
const KILLED_CHILDREN_GRACE: std::time::Duration = std::time::Duration::from_secs(2);

/// Whether a process of one of these process groups still runs (a zombie has ended: none of its threads
/// can be inside a system call any more).
fn any_group_runs(groups: &[i32]) -> bool {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return false;
    };
    entries
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        .filter_map(|pid| std::fs::read_to_string(format!("/proc/{pid}/stat")).ok())
        .any(|stat| {
            // After the command name: state, ppid, pgrp.
            let mut fields = stat[stat.rfind(')').map_or(0, |i| i + 1)..].split_whitespace();
            let state = fields.next().unwrap_or("X");
            let pgrp = fields.nth(1).and_then(|g| g.parse::<i32>().ok());
            state != "Z" && state != "X" && pgrp.is_some_and(|g| groups.contains(&g))
        })
}

/// Waits until no process of these process groups runs any more (they were just killed), at most
/// `grace`: only then may their probe files be removed by name, since a create in flight when the kill
/// arrived still completes. A process stuck in the kernel (a dead mount) is given up on at `grace`.
pub fn wait_until_ended(groups: &[i32], grace: std::time::Duration) {
    let deadline = std::time::Instant::now() + grace;
    while !groups.is_empty() && any_group_runs(groups) && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
}

/// Kills registered children (their whole process groups), waits until they have ended (so that no
/// create of theirs is still in flight), and removes registered files and stems.
pub fn remove_all() {
    let children: Vec<i32> = CHILDREN.lock().unwrap_or_else(|e| e.into_inner()).drain(..).collect();
    for pid in &children {
        // SAFETY: kill(2) with a negative pid signals a process group we created; no memory is touched.
        unsafe {
            libc::kill(-pid, libc::SIGKILL);
        }
    }
    // A child killed inside open(O_CREAT) still makes the file; removing its name before that returns
    // would leave the file behind.
    wait_until_ended(&children, KILLED_CHILDREN_GRACE);
    let _one = RECORD_WRITE.lock().unwrap_or_else(|e| e.into_inner());
    for path in WITH_SIBLINGS.lock().unwrap_or_else(|e| e.into_inner()).drain(..) {
        remove_siblings(&path);
    }
    for path in FILES.lock().unwrap_or_else(|e| e.into_inner()).drain(..) {
        let _ = std::fs::remove_file(path);
    }
    for stem in STEMS.lock().unwrap_or_else(|e| e.into_inner()).drain(..) {
        remove_stem(&stem);
    }
    write_record(&[], &[]);
}

/// Removes every registered file and stem by name, keeping them registered: for h5doctor-probe as it
/// finishes, so its files are gone before it exits (h5doctor may be killed the moment it has exited,
/// before removing them itself), while a signal that arrives meanwhile still finds every name. Whether
/// every name is gone now (removed, or never made): then the probe says so, and h5doctor lets go of the
/// names without removing them again ([`ProbeFile::removed_by_child`]).
pub fn remove_registered() -> bool {
    let files = FILES.lock().unwrap_or_else(|e| e.into_inner()).clone();
    let stems = STEMS.lock().unwrap_or_else(|e| e.into_inner()).clone();
    let mut all_gone = true;
    for path in files {
        all_gone &= gone(std::fs::remove_file(path));
    }
    for stem in stems {
        all_gone &= remove_stem(&stem);
    }
    all_gone
}

/// Installs the SIGINT/SIGTERM/SIGHUP handler: clean up, then exit with 128 + the signal number.
pub fn install_signal_handler() {
    install_handler(false);
}

/// The same for h5doctor-probe and the directory probe (`h5doctor probe-dirs`), which get SIGTERM when
/// h5doctor dies: a remover forked now deletes the files once every thread of the process has ended
/// ([`remove_after_exit`]), and the process `_exit`s at once, without the exit handlers of a library
/// (HDF5's) that the main thread may be inside of.
pub fn install_signal_handler_for_probe() {
    install_handler(true);
}

/// What a process has to do before a signal ends it, if anything ([`before_signal_exit`]).
static BEFORE_SIGNAL_EXIT: std::sync::OnceLock<fn()> = std::sync::OnceLock::new();

/// Sets what the signal handler does first, before it removes the files and exits: the MPI probe lets its
/// PMIx handshake with the launcher finish there (a rank that dies in it hangs Open MPI's mpirun). Set
/// once; a second call is ignored.
pub fn before_signal_exit(hook: fn()) {
    let _ = BEFORE_SIGNAL_EXIT.set(hook);
}

/// The exit status a signal asked for (128 + its number), once one arrived.
static SIGNALLED: std::sync::atomic::AtomicI32 = std::sync::atomic::AtomicI32::new(0);

/// `Some(128 + signal)` when a signal is ending this run: the caller exits with it instead of reporting
/// (the handler's cleanup kills the probe children, so the run may look finished a moment before it exits).
pub fn signalled() -> Option<i32> {
    Some(SIGNALLED.load(Ordering::SeqCst)).filter(|c| *c != 0)
}

/// How many family members the remover of [`remove_after_exit`] tries (h5doctor-probe writes about five).
const FAMILY_MEMBERS_AFTER_EXIT: usize = 64;

/// For h5doctor-probe (or the directory probe) ended by a signal: its main thread may be inside HDF5
/// creating the next matrix file (a lock-probe thread inside open), so removing files now could miss one
/// created a moment later. Instead a forked remover waits until the probe is gone (all its threads), then
/// removes every registered name, by name, and the process's pending record; the probe `_exit`s.
fn remove_after_exit() {
    use std::os::unix::ffi::OsStrExt;
    let mut paths: Vec<PathBuf> = FILES.lock().unwrap_or_else(|e| e.into_inner()).clone();
    for stem in STEMS.lock().unwrap_or_else(|e| e.into_inner()).iter() {
        paths.extend(stem_names::fixed().iter().map(|n| stem_file(stem, n)));
        paths.extend((0..FAMILY_MEMBERS_AFTER_EXIT).map(|i| stem_file(stem, &stem_names::family_member(i))));
    }
    // The record goes last, once the files it lists are gone (h5doctor-probe has none: h5doctor recorded).
    if RECORDING.load(Ordering::Relaxed) {
        paths.extend(RECORD.get().and_then(|r| r.as_ref()).map(|(path, _)| path.clone()));
    }
    // Built before fork: the remover only makes async-signal-safe calls.
    let names: Vec<std::ffi::CString> = paths
        .iter()
        .filter_map(|p| std::ffi::CString::new(p.as_os_str().as_bytes()).ok())
        .collect();
    // SAFETY: getpid/fork/getppid/usleep/unlink/_exit; the child touches only the prebuilt names.
    unsafe {
        let probe = libc::getpid();
        match libc::fork() {
            0 => {
                // Reparented once every thread of the probe has exited; at most a minute (a thread stuck in
                // the kernel on a dead mount keeps the probe from ending).
                let mut waited = 0;
                while libc::getppid() == probe && waited < 60_000 {
                    libc::usleep(1000);
                    waited += 1;
                }
                for name in &names {
                    libc::unlink(name.as_ptr());
                }
                libc::_exit(0);
            }
            -1 => remove_all(),
            _ => {}
        }
    }
}

fn install_handler(raw_exit: bool) {
    use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
    let Ok(mut signals) = signal_hook::iterator::Signals::new([SIGINT, SIGTERM, SIGHUP]) else {
        tracing::warn!("cannot install signal handlers; probe files are still removed on normal exit");
        return;
    };
    std::thread::spawn(move || {
        if let Some(sig) = signals.forever().next() {
            SIGNALLED.store(128 + sig, Ordering::SeqCst);
            if let Some(hook) = BEFORE_SIGNAL_EXIT.get() {
                hook();
            }
            if raw_exit {
                remove_after_exit();
                // SAFETY: _exit ends the process at once; nothing of ours needs flushing.
                unsafe { libc::_exit(128 + sig) };
            }
            remove_all();
            std::process::exit(128 + sig);
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The tests that register files share this process's registry and record: one at a time.
    static SERIAL: Mutex<()> = Mutex::new(());

    #[test]
    fn a_record_round_trips_and_only_names_probe_files() {
        let record = Record {
            host: "node\n01".into(),
            pid: 42,
            start: 7,
            files: vec![PathBuf::from("/d i r/.h5doctor-probe-1-0-0.h5")],
            stems: vec![PathBuf::from("/d/.h5doctor-probe-1-1-0")],
        };
        assert_eq!(Record::parse(&record.render()), Some(record));
        let foreign = "h5doctor-pending 1\nhost 6e\npid 1 1\nfile 2f6574632f706173737764\n"; // /etc/passwd
        assert_eq!(Record::parse(foreign), None);
        assert_eq!(Record::parse("garbage"), None);
    }

    #[test]
    fn side_files_held_open_are_found_by_their_descriptors() {
        let dir = tempfile::tempdir().unwrap();
        let dir = std::fs::canonicalize(dir.path()).unwrap();
        let h5 = unique_path(&dir, "h5");
        let side = |suffix: &str| PathBuf::from(format!("{}{suffix}", h5.display()));
        let lock = std::fs::File::create(side("-916606297-4240.lock")).unwrap();
        let data = std::fs::File::create(side(".data.0")).unwrap();
        // Not ours: the file itself, a name that does not extend it, a file closed again, one elsewhere.
        let itself = std::fs::File::create(&h5).unwrap();
        let other = std::fs::File::create(dir.join("results.h5")).unwrap();
        drop(std::fs::File::create(side(".metadata.0")).unwrap());
        let elsewhere = tempfile::tempdir().unwrap();
        let far = std::fs::File::create(elsewhere.path().join(h5.file_name().unwrap())).unwrap();
        assert_eq!(held_open_beside(&h5), vec![side("-916606297-4240.lock"), side(".data.0")]);
        drop((lock, data, itself, other, far));
        assert!(held_open_beside(&h5).is_empty());
    }

    #[test]
    fn temporary_record_files_name_their_writer() {
        assert_eq!(temp_writer("1131-1481056.4242-99-7.new"), Some((4242, 99)));
        // As older releases named them: the run itself wrote it.
        assert_eq!(temp_writer("1131-1481056.new"), Some((1131, 1481056)));
        assert_eq!(temp_writer("1131-1481056.pending"), None);
    }

    #[test]
    fn this_process_runs_and_its_start_time_is_stable() {
        let me = std::process::id();
        assert!(start_time(me).is_some());
        assert_eq!(start_time(me), start_time(me));
        assert_eq!(start_time(u32::MAX), None);
    }

    #[test]
    fn registrations_from_many_threads_all_reach_the_pending_record() {
        // The Python interpreters are probed in parallel: their registrations and drops interleave. The
        // record must list every file registered and not yet dropped, whatever the interleaving.
        let _one = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
        let dir = std::env::temp_dir().join(format!("h5doctor-record-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let Some((record_path, _)) = own_record() else {
            panic!("no pending-record directory: neither $XDG_RUNTIME_DIR/h5doctor nor /var/tmp/h5doctor-UID is usable");
        };
        for _round in 0..20 {
            let kept: Vec<ProbeFile> = std::thread::scope(|s| {
                let handles: Vec<_> = (0..8)
                    .map(|_| {
                        s.spawn(|| {
                            // A short-lived guard dropped while others register, and one that stays.
                            drop(ProbeFile::register(unique_path(&dir, "h5")));
                            ProbeFile::register(unique_path(&dir, "h5"))
                        })
                    })
                    .collect();
                handles.into_iter().map(|h| h.join().unwrap()).collect()
            });
            let text = std::fs::read_to_string(record_path).expect("a record while files are registered");
            let record = Record::parse(&text).expect("a well-formed record");
            for guard in &kept {
                assert!(
                    record.files.iter().any(|f| f == guard.path()),
                    "{} is registered but missing from the pending record",
                    guard.path().display()
                );
            }
            drop(kept);
            assert!(!record_path.exists(), "the record outlived the last registration");
        }
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_stem_removes_exactly_its_named_files() {
        let _one = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
        let dir = std::env::temp_dir().join(format!("h5doctor-stem-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let stem = matrix_stem(&unique_path(&dir, "h5"));
        let mut ours: Vec<String> = stem_names::fixed();
        ours.extend((0..3).map(stem_names::family_member));
        for suffix in &ours {
            std::fs::write(stem_file(&stem, suffix), b"x").unwrap();
        }
        let name = stem.file_name().unwrap().to_str().unwrap().to_string();
        let bystanders = [dir.join(format!("{name}x-not-ours.h5")), dir.join(format!("{name}-other.h5"))];
        for b in &bystanders {
            std::fs::write(b, b"keep").unwrap();
        }
        drop(ProbeStem::register(stem));
        let mut left: Vec<_> = std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().path()).collect();
        left.sort();
        let mut expected = bystanders.to_vec();
        expected.sort();
        assert_eq!(left, expected);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_stem_says_whether_every_name_of_it_is_gone() {
        // The probe's "removed_own_files" rests on this: true only when no name of the stem is left.
        let _one = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
        let dir = std::env::temp_dir().join(format!("h5doctor-stem-gone-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let stem = matrix_stem(&unique_path(&dir, "h5"));
        std::fs::write(stem_file(&stem, stem_names::SEC2), b"x").unwrap();
        std::fs::write(stem_file(&stem, &stem_names::family_member(0)), b"x").unwrap();
        assert!(remove_stem(&stem), "every name removed or never made");
        assert!(remove_stem(&stem), "nothing there any more");
        // A name that cannot be removed (a non-empty directory in its place).
        let stuck = stem_file(&stem, stem_names::MODE);
        std::fs::create_dir(&stuck).unwrap();
        std::fs::write(stuck.join("inside"), b"x").unwrap();
        assert!(!remove_stem(&stem), "{} is still there", stuck.display());
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_file_the_child_removed_is_let_go_without_another_unlink() {
        let _one = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
        let dir = std::env::temp_dir().join(format!("h5doctor-released-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let (files, stems) = register_files_and_stems(vec![unique_path(&dir, "h5")], vec![matrix_stem(&unique_path(&dir, "h5"))]);
        let (file, stem) = (files.into_iter().next().unwrap(), stems.into_iter().next().unwrap());
        // Made after the child said it removed everything: only a release that unlinks would remove them.
        let (file_path, stem_root) = (file.path().to_path_buf(), stem.path().to_path_buf());
        let stem_path = stem_file(&stem_root, stem_names::SEC2);
        std::fs::write(&file_path, b"x").unwrap();
        std::fs::write(&stem_path, b"x").unwrap();
        file.removed_by_child();
        stem.removed_by_child();
        assert!(file_path.exists() && stem_path.exists(), "released names were unlinked");
        assert!(!FILES.lock().unwrap().contains(&file_path), "a released file is still registered");
        assert!(!STEMS.lock().unwrap().contains(&stem_root), "a released stem is still registered");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
