//! Who may write a path: the ownership half of "safe as root" (issue 16), used by [`crate::trust`]'s gate
//! and by the ELF reader (which asks the node's loader about itself). A path is trusted for root when the
//! file and every directory above it, after symlinks followed component by component (the symlinks
//! themselves and every directory on the way to their target are checked too), are owned by root and
//! writable by no one else: not group-writable (unless the group is root's), not world-writable (a
//! world-writable directory with the sticky bit, such as /tmp, passes, because the entries below it are
//! checked for their own owner; a name missing below it does not, since any user may create it), as
//! sshd's StrictModes checks.

use std::collections::HashMap;
use std::ffi::OsString;
use std::fmt;
use std::os::unix::fs::MetadataExt;
use std::path::{Component, Path, PathBuf};

/// Why a file may not be executed (or evaluated) as root. Displays as "not run as root: PATH DETAIL".
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UntrustedReason {
    /// The program or file h5doctor wanted to run or evaluate.
    pub path: PathBuf,
    /// What makes it untrusted, e.g. "is writable by uid 1000".
    pub detail: String,
}

impl fmt::Display for UntrustedReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "not run as root: {} {}", self.path.display(), self.detail)
    }
}

impl std::error::Error for UntrustedReason {}

/// Whether this process runs with effective uid 0, the only case in which anything here refuses.
pub fn running_as_root() -> bool {
    // SAFETY: geteuid(2) has no preconditions and cannot fail.
    unsafe { libc::geteuid() == 0 }
}

/// How many symlinks one path may traverse (the kernel's own limit).
const MAX_SYMLINKS: usize = 40;

/// The write bits that matter: group and other, and the sticky bit of directories.
const GROUP_WRITE: u32 = 0o020;
const OTHER_WRITE: u32 = 0o002;
const STICKY: u32 = 0o1000;

/// Checks one component (already `lstat`ed): owner root, not writable by a group other than root's, not
/// writable by everyone (unless a sticky directory). Symlinks have no meaningful mode: only the owner.
fn check_component(component: &Path, meta: &std::fs::Metadata) -> Result<(), String> {
    let what = if component.as_os_str().is_empty() {
        Path::new("/")
    } else {
        component
    };
    let mode = meta.mode();
    if meta.uid() != 0 {
        return Err(format!("is writable by uid {}{}", meta.uid(), through(what, "owned by it")));
    }
    if meta.file_type().is_symlink() {
        return Ok(());
    }
    if mode & GROUP_WRITE != 0 && meta.gid() != 0 {
        return Err(format!("is writable by group {}{}", meta.gid(), through(what, "group-writable")));
    }
    if mode & OTHER_WRITE != 0 && !(meta.is_dir() && mode & STICKY != 0) {
        return Err(format!("is writable by every user{}", through(what, "world-writable")));
    }
    Ok(())
}

/// The marker "({what} is {how})" that names the component at fault; filled in by [`walk`] with the
/// component, and dropped when the component is the file itself.
fn through(component: &Path, how: &str) -> String {
    format!("\u{0}{}\u{0}{how}", component.display())
}

/// Turns a detail with a [`through`] marker into text: "is writable by uid 1000 (/home/u is owned by it)",
/// or without the parenthesis when the component at fault is the file itself.
fn finish(detail: String, file: &Path) -> String {
    let mut parts = detail.splitn(3, '\u{0}');
    let head = parts.next().unwrap_or_default().to_string();
    match (parts.next(), parts.next()) {
        (Some(component), Some(how)) if Path::new(component) != file => format!("{head} ({component} is {how})"),
        _ => head,
    }
}

/// What one component was when [`walk`] found it passing, remembered by [`Vetting`].
#[derive(Debug, Clone)]
enum Passed {
    /// A directory, with its mode (a name missing below it is judged by it).
    Entry { mode: u32 },
    /// A root-owned symlink and its target.
    Symlink(PathBuf),
}

/// The components one vetting has already found passing, by path: a memo of [`walk`]'s `lstat`, check
/// and `readlink` of each directory and symlink, so that the ~50 libraries of one program's closure, which sit in a
/// handful of directories, do not each walk `/`, `/usr`, `/usr/lib`, `/usr/lib/x86_64-linux-gnu` (and
/// `/lib`'s symlink) again.
///
/// What a remembered pass means. The key is the exact path [`walk`] `lstat`s: a directory already walked
/// (symlink-free, every component of it passed) joined with one name. A remembered entry stands for that
/// one component only, never for what lies below it: every name below is still looked up and checked, so
/// a group-writable subdirectory of a trusted directory fails as it does without the memo. Failures are
/// never remembered (each walk that meets one looks again, and a verdict ends at its first failure
/// anyway), nor are missing names.
///
/// Why reusing a pass does not widen the time-of-check-to-time-of-use window. A component passes only when
/// it and every directory above it are owned by root and writable by no one else (a sticky world-writable
/// directory passes, but its entries cannot be renamed or removed by anyone but their owner, root, or the
/// directory's). So once it passed, no non-root user can make it fail: changing its owner or mode, or
/// replacing it, needs root. Re-checking it a millisecond later catches only what root itself changed in
/// between. A `Vetting` lives for one verdict (one [`crate::trust::vet_command`]: the program, its
/// interpreters, its library closure, its search paths), never longer, so even root's own changes are seen
/// by the next verdict exactly as before; within one verdict the first library's walk already came before
/// the last one's, and the program starts after both.
#[derive(Debug, Default)]
pub struct Vetting {
    /// By the path's bytes (hashing a `Path` parses its components again).
    passed: HashMap<OsString, Passed>,
}

impl Vetting {
    /// [`trusted_for_root`], remembering the components that pass for the later checks of this vetting.
    pub fn trusted_for_root(&mut self, path: &Path) -> Result<(), UntrustedReason> {
        walk(path, Some(self)).map(|_| ()).map_err(|detail| UntrustedReason {
            path: path.to_path_buf(),
            detail: finish(detail, path),
        })
    }
}

/// Walks `path` from `/`, component by component, `lstat`ing and checking each, following symlinks (whose
/// targets are walked the same way). Returns the real file at the end. With a [`Vetting`], components it
/// already saw pass are not looked at again, and those that pass now are added to it.
fn walk(path: &Path, mut memo: Option<&mut Vetting>) -> Result<PathBuf, String> {
    let absolute = if path.is_absolute() {
        path.to_path_buf()
    } else {
        std::env::current_dir()
            .map_err(|e| format!("cannot be located (no working directory: {e})"))?
            .join(path)
    };
    // Components still to walk, last first.
    let mut todo: Vec<OsString> = absolute
        .components()
        .rev()
        .filter_map(|c| match c {
            Component::Normal(n) => Some(n.to_os_string()),
            Component::ParentDir => Some(OsString::from("..")),
            _ => None,
        })
        .collect();
    let mut here = PathBuf::from("/");
    let remembered = |memo: &Option<&mut Vetting>, path: &Path| memo.as_ref().and_then(|m| m.passed.get(path.as_os_str()).cloned());
    if remembered(&memo, &here).is_none() {
        let root = std::fs::symlink_metadata("/").map_err(|e| format!("cannot be checked (/: {e})"))?;
        check_component(Path::new("/"), &root)?;
        if let Some(m) = memo.as_mut() {
            m.passed.insert(here.clone().into_os_string(), Passed::Entry { mode: root.mode() });
        }
    }
    let mut links = 0;
    while let Some(name) = todo.pop() {
        if name == ".." {
            here.pop();
            continue;
        }
        let next = here.join(&name);
        // How the component passed: as a symlink (with its target, or None when it is still to be read)
        // or as anything else, which the walk enters. Remembered, or looked at now.
        let symlink: Option<Option<PathBuf>> = match remembered(&memo, &next) {
            Some(Passed::Symlink(target)) => Some(Some(target)),
            Some(Passed::Entry { .. }) => None,
            None => {
                let meta = match std::fs::symlink_metadata(&next) {
                    Ok(meta) => meta,
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                        // Nothing there yet. Every directory above passed, so only root may create it, unless
                        // the directory is a sticky world-writable one (/tmp), where any user may.
                        let parent_mode = match remembered(&memo, &here) {
                            Some(Passed::Entry { mode }) => mode,
                            _ => std::fs::symlink_metadata(&here)
                                .map_err(|e| format!("cannot be checked ({}: {e})", here.display()))?
                                .mode(),
                        };
                        if parent_mode & OTHER_WRITE != 0 {
                            return Err(format!(
                                "does not exist, and any user may create it{}",
                                through(&here, "world-writable")
                            ));
                        }
                        return Ok(next);
                    }
                    Err(e) => return Err(format!("cannot be checked ({}: {e})", next.display())),
                };
                check_component(&next, &meta)?;
                if meta.file_type().is_symlink() {
                    Some(None)
                } else {
                    // Directories only: a library's own file is walked once (remembering it costs more).
                    if let Some(m) = memo.as_mut().filter(|_| meta.is_dir()) {
                        m.passed.insert(next.clone().into_os_string(), Passed::Entry { mode: meta.mode() });
                    }
                    None
                }
            }
        };
        let Some(known_target) = symlink else {
            here = next;
            continue;
        };
        links += 1;
        if links > MAX_SYMLINKS {
            return Err(format!("cannot be checked (more than {MAX_SYMLINKS} symlinks)"));
        }
        let target = match known_target {
            Some(target) => target,
            None => {
                let target = std::fs::read_link(&next).map_err(|e| format!("cannot be checked ({}: {e})", next.display()))?;
                if let Some(m) = memo.as_mut() {
                    m.passed.insert(next.clone().into_os_string(), Passed::Symlink(target.clone()));
                }
                target
            }
        };
        if target.is_absolute() {
            here = PathBuf::from("/");
        }
        for c in target.components().rev() {
            match c {
                Component::Normal(n) => todo.push(n.to_os_string()),
                Component::ParentDir => todo.push(OsString::from("..")),
                _ => {}
            }
        }
    }
    Ok(here)
}

/// Whether root may execute or evaluate the file at `path`: the file and every directory above it, after
/// symlinks, are owned by root and writable by no one else. A path that does not exist passes (running or
/// reading it fails on its own, and only root can create it where every directory above passed). Checks regardless of who runs h5doctor (the
/// modules group calls it before the site's module command runs or a modulefile is evaluated as root).
pub fn trusted_for_root(path: &Path) -> Result<(), UntrustedReason> {
    walk(path, None).map(|_| ()).map_err(|detail| UntrustedReason {
        path: path.to_path_buf(),
        detail: finish(detail, path),
    })
}

/// [`trusted_for_root`], but only when running as root; otherwise everything is trusted.
pub fn may_use(path: &Path) -> Result<(), UntrustedReason> {
    if running_as_root() {
        trusted_for_root(path)
    } else {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_reason_names_the_component_at_fault() {
        let file = Path::new("/home/u/venv/bin/python");
        assert_eq!(
            finish(format!("is writable by uid 1000{}", through(file, "owned by it")), file),
            "is writable by uid 1000"
        );
        assert_eq!(
            finish(
                format!("is writable by uid 1000{}", through(Path::new("/home/u"), "owned by it")),
                file
            ),
            "is writable by uid 1000 (/home/u is owned by it)"
        );
    }

    #[test]
    fn a_missing_file_under_trusted_directories_passes_and_fails_later() {
        assert_eq!(trusted_for_root(Path::new("/nonexistent/h5doctor-probe")), Ok(()));
    }

    #[test]
    fn a_missing_name_in_a_sticky_world_writable_directory_is_not_trusted() {
        // Any user may create /tmp/NAME: a search path entry there is as good as a user's own directory.
        let name = format!("/tmp/h5doctor-missing-{}/lib", std::process::id());
        let reason = trusted_for_root(Path::new(&name)).unwrap_err();
        assert_eq!(reason.detail, "does not exist, and any user may create it (/tmp is world-writable)");
    }

    /// A tree under a fresh root-owned directory: `lib` (0755) with `libA.so`, `lib/gw` group-writable by
    /// gid 65534 with `libB.so`, `lib/to-gw` a symlink to `gw`, `lib/libB.so` a symlink to `gw/libB.so`,
    /// and `lib/ok` (0755) with `libC.so`.
    fn library_tree() -> (tempfile::TempDir, PathBuf) {
        use std::os::unix::fs::{chown, PermissionsExt};
        let tmp = tempfile::tempdir().unwrap();
        let lib = tmp.path().join("lib");
        for (dir, mode) in [
            (tmp.path().to_path_buf(), 0o755),
            (lib.clone(), 0o755),
            (lib.join("gw"), 0o775),
            (lib.join("ok"), 0o755),
        ] {
            std::fs::create_dir_all(&dir).unwrap();
            std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(mode)).unwrap();
        }
        chown(lib.join("gw"), Some(0), Some(65534)).unwrap();
        for file in ["libA.so", "gw/libB.so", "ok/libC.so"] {
            std::fs::write(lib.join(file), "").unwrap();
            std::fs::set_permissions(lib.join(file), std::fs::Permissions::from_mode(0o644)).unwrap();
        }
        std::os::unix::fs::symlink("gw", lib.join("to-gw")).unwrap();
        std::os::unix::fs::symlink("gw/libB.so", lib.join("libB.so")).unwrap();
        (tmp, lib)
    }

    #[test]
    fn one_vetting_judges_every_path_as_a_walk_of_its_own_does() {
        // Needs root to chown (CI runs as root); the components below /tmp are root's.
        assert!(running_as_root(), "this test builds root-owned trees: run it as root (CI does)");
        let (_tmp, lib) = library_tree();
        let gw = lib.join("gw");
        let paths = [
            lib.join("libA.so"),
            gw.join("libB.so"),
            lib.join("to-gw/libB.so"),
            lib.join("libB.so"),
            lib.join("ok/libC.so"),
            lib.join("ok/../gw/libB.so"),
            lib.join("gw/missing.so"),
            lib.join("missing/libD.so"),
            lib.join("libA.so/not-a-directory"),
        ];
        // What the user sees for the unsafe library, with and without a trusted sibling walked first.
        let refused = format!("is writable by group 65534 ({} is group-writable)", gw.display());
        let mut vetting = Vetting::default();
        assert_eq!(vetting.trusted_for_root(&lib.join("libA.so")), Ok(()));
        assert_eq!(vetting.trusted_for_root(&lib.join("ok/libC.so")), Ok(()));
        assert_eq!(vetting.trusted_for_root(&gw.join("libB.so")).unwrap_err().detail, refused);
        assert_eq!(vetting.trusted_for_root(&lib.join("to-gw/libB.so")).unwrap_err().detail, refused);
        // In lib/ beside libA.so, which passed: the symlink is root's, what it leads to is not.
        assert_eq!(vetting.trusted_for_root(&lib.join("libB.so")).unwrap_err().detail, refused);
        // Every order of the paths through one vetting gives each the verdict of its own walk.
        for start in 0..paths.len() {
            let mut vetting = Vetting::default();
            for path in paths.iter().cycle().skip(start).take(2 * paths.len()) {
                assert_eq!(vetting.trusted_for_root(path), trusted_for_root(path), "{}", path.display());
            }
        }
    }

    #[test]
    fn system_programs_are_trusted() {
        // /usr/bin/env is root's on every Linux system h5doctor runs on.
        assert_eq!(trusted_for_root(Path::new("/usr/bin/env")), Ok(()));
    }
}
