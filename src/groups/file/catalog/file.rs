//! Facts named `file.*`: one set per HDF5 file given to `h5doctor check FILE` (plain reads of its
//! superblock, the locks and openers on this node, and what HDF5 says when it opens the file read-only).

use crate::facts::catalog::facts;
use crate::facts::catalog::non_empty;
use crate::facts::values::FileFormat;
use crate::facts::values::LockAccess;
use crate::facts::FileFacts;
use crate::known_filters;
use serde_json::json;

/// A path as it can be pasted into a shell. The placeholders of a redacted ticket's facts (`~/...`,
/// `$SCRATCH/...`) stay unquoted in front, so the fix a support desk replays reads as the user's would.
pub fn shell_quote(path: &str) -> String {
    // The placeholder and the slash after it: a quoted slash would stop the shell's tilde expansion.
    let placeholder_len = if path == "~" {
        1
    } else if path.starts_with("~/") {
        2
    } else if let Some(var) = path.strip_prefix('$') {
        let name_len = var.find(|c: char| !(c.is_ascii_uppercase() || c == '_')).unwrap_or(var.len());
        match &var[name_len..] {
            _ if name_len == 0 => 0,
            "" => 1 + name_len,
            rest if rest.starts_with('/') => 2 + name_len,
            _ => 0,
        }
    } else {
        0
    };
    let (head, rest) = path.split_at(placeholder_len);
    if head.is_empty() {
        return quote_words(rest);
    }
    if rest.is_empty() {
        return head.to_string();
    }
    format!("{head}{}", quote_words(rest))
}

fn quote_words(path: &str) -> String {
    let plain = !path.is_empty() && path.chars().all(|c| c.is_ascii_alphanumeric() || "_./+-=:,@%".contains(c));
    if plain {
        path.to_string()
    } else {
        format!("'{}'", path.replace('\'', r"'\''"))
    }
}

/// HDF5 refuses to open the file for anything: superblock version 3 with bit 0 (write) or 2 (SWMR write).
fn write_flag_set(f: &FileFacts) -> Option<bool> {
    let sb = f.superblock.as_ref()?;
    Some(sb.version >= 3 && sb.status_flags & 0b101 != 0)
}

/// Whether the file is shorter than it must be, when that can be told: an empty file, a file that ends
/// inside its superblock, or fewer bytes than the end-of-file address. Family and multi member files
/// (a driver information block names the driver) are not judged.
fn truncation(f: &FileFacts) -> Option<(bool, String)> {
    let size = f.size?;
    if f.format == FileFormat::Empty {
        return Some((
            true,
            "the file is empty (0 bytes): nothing reached the disk after it was created".into(),
        ));
    }
    if let Some(e) = &f.superblock_error {
        if e.contains("ends inside") {
            return Some((true, format!("only {size} bytes: {e}")));
        }
    }
    let sb = f.superblock.as_ref()?;
    if sb.driver_id.is_some() {
        return None;
    }
    let eof = sb.eof_address?;
    if size < eof {
        Some((true, format!("{size} of {eof} bytes: the last {} bytes are missing", eof - size)))
    } else {
        Some((false, format!("{size} bytes, end-of-file address {eof}")))
    }
}

fn in_use_here(f: &FileFacts) -> bool {
    !f.locks.is_empty() || !f.open_by.is_empty()
}

fn who(pid: i32, command: &Option<String>) -> String {
    match command {
        Some(c) => format!("PID {pid} ({c})"),
        None if pid > 0 => format!("PID {pid}"),
        None => "an open file description (OFD lock, no PID)".into(),
    }
}

facts! {
    File(f, file) {
        "file.eof_address" ["end-of-file address"]
            "The end-of-file address stored in the superblock: the size the file must at least have."
            => file.superblock.as_ref()?.eof_address;
        "file.filters" ["filters used"]
            "Every filter the file's datasets use, with its id and what provides it."
            => {
                let f = file;
                (f.hdf5.open.as_ref()?.ok).then(|| {
                    json!(f
                        .hdf5
                        .filters
                        .iter()
                        .map(|n| known_filters::describe(n.id, &n.name))
                        .collect::<Vec<_>>())
                })
            };
        "file.filter_errors" ["HDF5 on the missing filters"]
            "HDF5's innermost error line for each filter it cannot find (can't open directory: ..., ...)."
            => non_empty(
                file
                    .hdf5
                    .missing_filters()
                    .filter_map(|n| n.unavailable_reason.as_ref().map(|r| format!("filter {}: {r}", n.id)))
                    .collect(),
            );
        "file.format" ["format"] in FileFormat
            "What the bytes are: hdf5 (signature found), empty, netcdf3, git-lfs-pointer, html, damaged-hdf5-signature, zeros, text or unknown; not-read when the file cannot be read."
            => Some(&file.format);
        "file.hdf5_errno" ["HDF5 errno"]
            "The errno in HDF5's error stack when its read-only open failed."
            => file.hdf5.open.as_ref()?.errno;
        "file.hdf5_error" ["HDF5 says"]
            "The innermost line of HDF5's error stack when its read-only open, or reading the file's objects, failed."
            => {
                let h = &file.hdf5;
                h.open.as_ref()?.error_leaf.as_ref().or(h.visit_error.as_ref()).map(|e| json!(e))
            };
        "file.hdf5_failed_at" ["HDF5 fails"]
            "Where HDF5 (in h5doctor-probe, read-only) fails on the file: opening it, or reading its objects; unknown when it does not."
            => {
                let h = &file.hdf5;
                match h.open.as_ref()? {
                    o if !o.ok => Some(json!("opening it")),
                    _ => h.visit_error.as_ref().map(|_| json!("reading its objects")),
                }
            };
        "file.hdf5_open" ["HDF5 read-only open"]
            "Whether h5doctor-probe could open the file read-only: ok or failed; unknown when it was not tried."
            => file.hdf5.open.as_ref().map(|o| json!(crate::facts::values::Outcome::of(o.ok)));
        "file.in_use_here" ["in use on this node"]
            "Whether a process on this node holds a lock on the file or has it open."
            => Some(json!(in_use_here(file)));
        "file.in_use_by_command" ["in use by"]
            "The command of file.in_use_by_pid."
            => {
                let f = file;
                match f.locks.iter().find(|l| l.pid > 0) {
                    Some(l) => l.command.as_ref().map(|c| json!(c)),
                    None => f.open_by.first()?.command.as_ref().map(|c| json!(c)),
                }
            };
        "file.in_use_by_pid" ["in use by PID"]
            "The process on this node that holds the file: the first lock holder, else the first process that has it open."
            => {
                let f = file;
                match f.locks.iter().find(|l| l.pid > 0) {
                    Some(l) => Some(json!(l.pid)),
                    None => f.open_by.first().map(|p| json!(p.pid)),
                }
            };
        "file.lock_access" ["lock"] in LockAccess
            "The first lock on the file: WRITE (a writer; every other open fails) or READ (a reader; writers fail)."
            => file.locks.first().map(|l| &l.access);
        "file.lock_holder_command" ["holder command"]
            "The command (/proc/PID/comm) of the process holding the first lock on the file."
            => file.locks.first()?.command.as_ref();
        "file.lock_holder_pid" ["holder PID"]
            "The PID holding the first lock on the file, from /proc/locks (this node only)."
            => file.locks.first().filter(|l| l.pid > 0).map(|l| &l.pid);
        "file.lock_holders" ["locks"]
            "Every lock on the file right now: who, which kind (FLOCK is HDF5's) and READ or WRITE."
            => non_empty(
                file
                    .locks
                    .iter()
                    .map(|l| format!("{} holds a {} {} lock", who(l.pid, &l.command), l.lock_type, l.access))
                    .collect(),
            );
        "file.missing_filter_ids" ["missing filter ids"]
            "Ids of the filters the datasets need that this HDF5 cannot apply; unknown when none are missing."
            => {
                let ids: Vec<i32> = file.hdf5.missing_filters().map(|n| n.id).collect();
                (!ids.is_empty()).then(|| json!(ids))
            };
        "file.missing_filters" ["missing filters"]
            "The filters the datasets need that this HDF5 cannot apply (with the user's HDF5_PLUGIN_PATH), each with a known provider and a dataset that needs it."
            => non_empty(
                file
                    .hdf5
                    .missing_filters()
                    .map(|n| {
                        format!(
                            "{}, needed by {} dataset(s) such as {}",
                            known_filters::describe(n.id, &n.name),
                            n.datasets,
                            n.example_dataset
                        )
                    })
                    .collect(),
            );
        "file.open_by" ["open in"]
            "Processes on this node that have the file open (as far as /proc/PID/fd may be read)."
            => non_empty(file.open_by.iter().map(|p| who(p.pid, &p.command)).collect());
        "file.path" ["file"]
            "The file as given."
            => Some(&file.path);
        "file.read_error" ["read error"]
            "Why h5doctor cannot read the file (Permission denied (EACCES), ...); unknown when it can."
            => file.read_error.as_ref();
        "file.shell_path" ["file (for the shell)"]
            "The file's path quoted for pasting into a shell."
            => Some(json!(shell_quote(&file.path)));
        "file.signature_offset" ["HDF5 signature at"]
            "The byte offset of the HDF5 signature (0, or 512, 1024, ... after a user block)."
            => file.signature_offset;
        "file.size" ["size"]
            "The file's size in bytes."
            => file.size;
        "file.status_flags" ["superblock status flags"]
            "The superblock's file consistency flags (bit 0 open for write, bit 2 open for SWMR write)."
            => file.superblock.as_ref().map(|s| &s.status_flags);
        "file.superblock_version" ["superblock version"]
            "0 or 1 (the default format), 2, or 3 (libver latest / SWMR; the only one whose status flags HDF5 checks)."
            => file.superblock.as_ref().map(|s| &s.version);
        "file.truncated" ["truncated"]
            "Whether the file is shorter than its superblock's end-of-file address (or empty, or cut inside the superblock); unknown when that cannot be told."
            => truncation(file).map(|(t, _)| json!(t));
        "file.truncation" ["size on disk"]
            "The file's size against what the superblock says it must be, in words."
            => truncation(file).map(|(_, text)| json!(text));
        "file.write_flag_set" ["open-for-write flag"]
            "Superblock version 3 with the write or SWMR-write flag set: HDF5 refuses to open the file until the flag is cleared."
            => write_flag_set(file);
    }
}

#[cfg(test)]
mod tests {
    use super::shell_quote;

    #[test]
    fn paths_are_quoted_only_when_needed() {
        assert_eq!(shell_quote("/scratch/run1/out.h5"), "/scratch/run1/out.h5");
        assert_eq!(shell_quote("/data/my run.h5"), "'/data/my run.h5'");
        assert_eq!(shell_quote("/data/it's.h5"), r"'/data/it'\''s.h5'");
        assert_eq!(shell_quote("~/run1/out.h5"), "~/run1/out.h5");
        assert_eq!(shell_quote("~/my run.h5"), "~/'my run.h5'");
        assert_eq!(shell_quote("$SCRATCH/run1/out.h5"), "$SCRATCH/run1/out.h5");
        assert_eq!(shell_quote("$HOME2x"), "'$HOME2x'");
    }
}
