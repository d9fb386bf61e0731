//! Facts about whether a target directory is on the file system the job expects on this node: missing
//! here, or (with the login node's facts attached by `summarize --login` / `check --login`) mounted
//! differently from the login node — the "not mounted on compute nodes" failure (OLCF Frontier's $HOME
//! read-only on compute nodes, centres whose file systems are not mounted on each other's machines).
//!
//! Mounts are compared by mount point, file-system type and source (the device or server export), the
//! columns /proc/self/mountinfo gives on both machines. Device numbers are not compared: a network file
//! system gets an anonymous device number per machine, so the same export differs between nodes.

use crate::facts::catalog::facts;
use crate::facts::{batch_job, DirFacts, Facts, FsFacts, LoginDir};
use serde_json::json;
use std::path::Path;

/// `/p (tmpfs login-project)`.
fn fs_words(fs: &FsFacts) -> String {
    format!("{} ({} {})", fs.mount_point, fs.fs_type, fs.source)
}

/// The login node's entry for this directory, when it has the directory on a file system.
fn login_view<'a>(f: &'a Facts, d: &DirFacts) -> Option<(&'a str, &'a LoginDir, &'a FsFacts)> {
    let login = f.login.as_ref()?;
    let dir = login.dir_for(d)?;
    Some((login.host.as_str(), dir, dir.filesystem.as_ref()?))
}

/// Where a missing directory's path stops here, in words (`the nearest existing directory, /p, is on
/// / (overlay overlay)`).
fn stops_at(d: &DirFacts) -> String {
    let Some(m) = &d.missing else { return String::new() };
    match (&m.existing_ancestor, &m.ancestor_filesystem) {
        (Some(a), Some(fs)) => format!("the nearest existing directory, {a}, is on {}", fs_words(fs)),
        (Some(a), None) => format!("the nearest existing directory is {a}"),
        _ => String::new(),
    }
}

/// Why the directory is not where the job expects it on this node, in words; none when it is (or when
/// nothing tells: no login view and not missing inside a job).
fn not_mounted_here(f: &Facts, d: &DirFacts) -> Option<String> {
    if let Some((host, _, there)) = login_view(f, d) {
        let login = format!("on the login node {host} it is on {}", fs_words(there));
        if d.missing.is_some() {
            return Some(format!(
                "{login}; here it does not exist ({}): {} is not mounted on this node",
                stops_at(d),
                there.mount_point
            ));
        }
        let here = d.filesystem.as_ref()?;
        if here.mount_point != there.mount_point {
            if Path::new(&here.mount_point).starts_with(&there.mount_point) {
                return Some(format!(
                    "{login}; here another file system is mounted over it at {}",
                    fs_words(here)
                ));
            }
            return Some(format!(
                "{login}; here {} is not mounted and the path lands on {}: what the job writes there stays on this node, \
                 not on the login node's file system",
                there.mount_point,
                fs_words(here)
            ));
        }
        if here.fs_type != there.fs_type || here.source != there.source {
            return Some(format!(
                "{login}; here {} is another file system ({} {})",
                here.mount_point, here.fs_type, here.source
            ));
        }
        return None;
    }
    // Without the login node's view: a directory a job was told to use that is missing on its node.
    if f.login.as_ref().is_some_and(|l| l.dir_for(d).is_some()) {
        // The login node has no such directory either: the job may create it.
        return None;
    }
    let job = batch_job(&f.env.vars)?;
    d.missing.as_ref()?;
    let stops = stops_at(d);
    Some(format!(
        "it does not exist on this node, inside {job}{}: its file system is probably not mounted on the compute nodes",
        if stops.is_empty() { String::new() } else { format!(" ({stops})") }
    ))
}

/// The directory's file system here agrees with the login node's (mount point, type, source) and a
/// file could be created in it here (the plain create, and HDF5's when it ran), on a writable mount.
fn same_as_login_and_writable(f: &Facts, d: &DirFacts) -> bool {
    let (Some((_, _, there)), Some(here)) = (login_view(f, d), d.filesystem.as_ref()) else {
        return false;
    };
    let same = here.mount_point == there.mount_point && here.fs_type == there.fs_type && here.source == there.source;
    let created = d
        .storage
        .as_ref()
        .is_some_and(|s| !s.read_only && s.create.as_ref().is_some_and(|c| c.errno == 0));
    let hdf5_ok = d.hdf5.create.as_ref().is_none_or(|c| c.ok);
    same && created && hdf5_ok
}

facts! {
    Global(f) {
        "env.batch_job" ["batch job"]
            "The batch job h5doctor ran in (`Slurm job 42`, from SLURM_JOB_ID, PBS_JOBID, LSB_JOBID or FLUX_JOB_ID); \
            unknown outside a job."
            => batch_job(&f.env.vars);
        "login.host" ["login node"]
            "The login node whose facts were attached (summarize --login / check --login); unknown without them."
            => f.login.as_ref().map(|l| &l.host);
        "targets.same_as_login_dir" ["a target on the login node's file system"]
            "The first target directory that is on the same file system here as on the login node (mount point, type, \
            source) and where h5doctor created a file on this node: a place the job can write and the login node sees. \
            Unknown without the login node's facts."
            => f.dirs.iter().find(|d| same_as_login_and_writable(f, d)).map(|d| &d.path);
    }

    Dir(f, d) {
        "dir.missing" ["missing here"]
            "The directory does not exist on this node: how stat failed and where its path stops (the nearest existing \
            directory and its file system)."
            => d.missing.as_ref().map(|m| {
                let stops = stops_at(d);
                json!(if stops.is_empty() { m.errno_name.clone() } else { format!("{}; {stops}", m.errno_name) })
            });
        "dir.login_filesystem" ["on the login node"]
            "Where the directory is on the login node: mount point, type and source (from the facts given to \
            summarize --login / check --login); unknown without them or where it does not exist there."
            => login_view(f, d).map(|(host, _, fs)| json!(format!("{} on {host}", fs_words(fs))));
        "dir.login_mount_point" ["login node's mount point"]
            "The mount point of the directory's file system on the login node."
            => login_view(f, d).map(|(_, _, fs)| json!(fs.mount_point));
        "dir.not_mounted_here" ["not mounted here"]
            "Why the directory is not on the file system the job expects on this node: with the login node's facts, \
            missing here or on another mount (mount point, type or source differ); without them, missing here inside a \
            batch job. Unknown when it is where the job expects."
            => not_mounted_here(f, d);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::facts::{LoginFacts, MissingDir, StorageFacts, SyscallResult};

    fn fs(mount_point: &str, fs_type: &str, source: &str) -> FsFacts {
        FsFacts {
            magic: String::new(),
            fs_type: fs_type.into(),
            mount_point: mount_point.into(),
            source: source.into(),
            options: vec!["rw".into()],
        }
    }

    fn dir(path: &str, filesystem: Option<FsFacts>) -> DirFacts {
        DirFacts {
            path: path.into(),
            origin: "--dir".into(),
            filesystem,
            storage: Some(StorageFacts {
                create: Some(SyscallResult {
                    errno: 0,
                    errno_name: "OK".into(),
                }),
                ..StorageFacts::default()
            }),
            ..DirFacts::default()
        }
    }

    fn with_login(dirs: Vec<DirFacts>, login: &[(&str, Option<FsFacts>)]) -> Facts {
        let mut f = Facts::new();
        f.dirs = dirs;
        f.login = Some(LoginFacts {
            host: "login1".into(),
            source: "login.json".into(),
            dirs: login
                .iter()
                .map(|(p, fs)| LoginDir {
                    path: p.to_string(),
                    canonical: None,
                    filesystem: fs.clone(),
                    writable: Some(true),
                })
                .collect(),
        });
        f
    }

    #[test]
    fn each_way_a_login_mount_can_be_absent_here_is_told_apart() {
        let lustre = fs("/lus/orion", "lustre", "10.0.0.1@o2ib:/orion");
        // The mount point is absent here: the path lands on the root file system.
        let f = with_login(
            vec![dir("/lus/orion/u", Some(fs("/", "ext4", "/dev/vda")))],
            &[("/lus/orion/u", Some(lustre.clone()))],
        );
        let why = not_mounted_here(&f, &f.dirs[0]).unwrap();
        assert!(
            why.contains("on the login node login1 it is on /lus/orion (lustre 10.0.0.1@o2ib:/orion)"),
            "{why}"
        );
        assert!(
            why.contains("here /lus/orion is not mounted and the path lands on / (ext4 /dev/vda)"),
            "{why}"
        );
        // Missing here.
        let mut missing = dir("/lus/orion/u", None);
        missing.missing = Some(MissingDir {
            errno_name: "ENOENT".into(),
            existing_ancestor: Some("/lus".into()),
            ancestor_filesystem: Some(fs("/", "ext4", "/dev/vda")),
        });
        let f = with_login(vec![missing], &[("/lus/orion/u", Some(lustre.clone()))]);
        let why = not_mounted_here(&f, &f.dirs[0]).unwrap();
        assert!(
            why.contains("here it does not exist (the nearest existing directory, /lus, is on / (ext4 /dev/vda))"),
            "{why}"
        );
        // The same mount point, another file system (node-local scratch where the login node has NFS).
        let f = with_login(
            vec![dir("/scratch/u", Some(fs("/scratch", "xfs", "/dev/nvme0n1")))],
            &[("/scratch/u", Some(fs("/scratch", "nfs4", "srv:/scratch")))],
        );
        assert!(not_mounted_here(&f, &f.dirs[0])
            .unwrap()
            .contains("here /scratch is another file system (xfs /dev/nvme0n1)"));
        // Another file system mounted over it here.
        let f = with_login(
            vec![dir("/home/u", Some(fs("/home/u", "autofs", "auto.home")))],
            &[("/home/u", Some(fs("/home", "nfs4", "srv:/home")))],
        );
        assert!(not_mounted_here(&f, &f.dirs[0])
            .unwrap()
            .contains("another file system is mounted over it at /home/u"));
        // The same file system: nothing to say, and it is the place to write instead.
        let f = with_login(
            vec![
                dir("/lus/orion/u", Some(fs("/", "ext4", "/dev/vda"))),
                dir("/lus/frontier/u", Some(fs("/lus/frontier", "lustre", "o2ib:/frontier"))),
            ],
            &[
                ("/lus/orion/u", Some(lustre)),
                ("/lus/frontier/u", Some(fs("/lus/frontier", "lustre", "o2ib:/frontier"))),
            ],
        );
        assert_eq!(not_mounted_here(&f, &f.dirs[1]), None);
        let target = Facts::new();
        assert!(!same_as_login_and_writable(&target, &f.dirs[1]));
        assert!(same_as_login_and_writable(&f, &f.dirs[1]));
        assert!(!same_as_login_and_writable(&f, &f.dirs[0]));
    }

    #[test]
    fn a_missing_directory_counts_only_inside_a_job_and_when_the_login_node_has_it() {
        let mut missing = dir("/lus/orion/u", None);
        missing.missing = Some(MissingDir {
            errno_name: "ENOENT".into(),
            existing_ancestor: Some("/lus".into()),
            ancestor_filesystem: None,
        });
        let mut f = Facts::new();
        f.dirs = vec![missing.clone()];
        assert_eq!(
            not_mounted_here(&f, &f.dirs[0]),
            None,
            "outside a job a missing directory is not this finding"
        );
        f.env.vars.insert("SLURM_JOB_ID".into(), "42".into());
        let why = not_mounted_here(&f, &f.dirs[0]).unwrap();
        assert!(
            why.starts_with("it does not exist on this node, inside Slurm job 42 (the nearest existing directory is /lus)"),
            "{why}"
        );
        // The login node has no such directory either: the job may create it.
        let mut f = with_login(vec![missing], &[("/lus/orion/u", None)]);
        f.env.vars.insert("SLURM_JOB_ID".into(), "42".into());
        assert_eq!(not_mounted_here(&f, &f.dirs[0]), None);
    }
}
