//! Where a reinstall or a rebuild can go, looked up only when a finding needs it, so that its fix names
//! real paths instead of placeholders:
//!
//! - the parallel HDF5 installations of the node in the distributions' usual places (Debian's
//!   `/usr/lib/<triplet>/hdf5/{openmpi,mpich}`, Fedora/RHEL's `/usr/lib64/{openmpi,mpich}`), each with the
//!   MPI compiler wrapper of its MPI, for h5py-no-mpi's rebuild line;
//! - a writable directory on a file system mounted with exec (`$HOME`, else `/var/tmp`), for a new venv
//!   when h5py's or mpi4py's extensions lie on a noexec mount (h5py-cannot-load, mpi4py-cannot-load).
//!
//! Reading headers and mount flags only; nothing is run or written.

use crate::facts::python::{ExecDir, ParallelHdf5Install};
use crate::facts::values::ModuleMpiFamily;
use crate::groups::hdf5::probe::installs::read_pubconf;
use std::path::Path;

/// One candidate prefix: a parallel HDF5 when its header says so and its library is there.
fn install(dir: &Path, include_dir: &Path, lib_dir: &Path, family: ModuleMpiFamily, mpicc: &Path) -> Option<ParallelHdf5Install> {
    let (version, parallel) = read_pubconf(include_dir)?;
    if !parallel || !lib_dir.join("libhdf5.so").exists() {
        return None;
    }
    Some(ParallelHdf5Install {
        dir: dir.display().to_string(),
        include_dir: include_dir.display().to_string(),
        lib_dir: lib_dir.display().to_string(),
        version,
        mpi_family: family,
        mpicc: mpicc.is_file().then(|| mpicc.display().to_string()),
    })
}

/// The parallel HDF5 installations in the usual places of Debian/Ubuntu and Fedora/RHEL, Open MPI's first.
/// `root` is `/` (tests point it elsewhere).
pub fn parallel_hdf5_installs(root: &Path) -> Vec<ParallelHdf5Install> {
    let mut out = Vec::new();
    let families = [("openmpi", ModuleMpiFamily::Openmpi), ("mpich", ModuleMpiFamily::Mpich)];
    // Debian: /usr/lib/<triplet>/hdf5/<flavour>/{include,lib}, the wrapper /usr/bin/mpicc.<flavour>.
    let mut triplets: Vec<_> = std::fs::read_dir(root.join("usr/lib"))
        .into_iter()
        .flatten()
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .filter(|p| p.file_name().is_some_and(|n| n.to_string_lossy().contains("-linux-")))
        .collect();
    triplets.sort();
    for (name, family) in families {
        for t in &triplets {
            let dir = t.join("hdf5").join(name);
            let mpicc = root.join(format!("usr/bin/mpicc.{name}"));
            out.extend(install(&dir, &dir.join("include"), &dir.join("lib"), family, &mpicc));
        }
        // Fedora/RHEL: /usr/lib64/<mpi>/lib/libhdf5.so, headers in /usr/include/<mpi>-<arch>.
        let dir = root.join("usr/lib64").join(name);
        let include = root.join(format!("usr/include/{name}-{}", std::env::consts::ARCH));
        out.extend(install(&dir, &include, &dir.join("lib"), family, &dir.join("bin/mpicc")));
    }
    out
}

/// Whether this process may write in `dir` (access(2) with W_OK|X_OK: as the user, not as the owner bits say).
fn writable(dir: &Path) -> bool {
    rustix::fs::access(dir, rustix::fs::Access::WRITE_OK | rustix::fs::Access::EXEC_OK).is_ok()
}

/// Whether the file system holding `dir` is mounted noexec (statvfs's ST_NOEXEC); `None` when it cannot be asked.
fn noexec(dir: &Path) -> Option<bool> {
    let st = rustix::fs::statvfs(dir).ok()?;
    Some(st.f_flag.contains(rustix::fs::StatVfsMountFlags::NOEXEC))
}

/// The first of `candidates` that is a directory this user can write in, on a file system mounted with exec.
pub fn exec_dir<'a>(candidates: impl IntoIterator<Item = &'a Path>) -> Option<ExecDir> {
    candidates.into_iter().find_map(|dir| {
        let real = std::fs::canonicalize(dir).ok()?;
        if !real.is_dir() || !writable(&real) || noexec(&real)? {
            return None;
        }
        let (mount_point, options) = crate::elf::resolve::mount_of(&real.display().to_string()).unzip();
        Some(ExecDir {
            path: dir.display().to_string(),
            mount_point,
            mount_options: options,
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_parallel_hdf5_is_found_by_its_header_and_library_and_a_serial_one_is_not() {
        let root = std::env::temp_dir().join(format!("h5d-rebuild-{}", std::process::id()));
        let deb = root.join("usr/lib/x86_64-linux-gnu/hdf5");
        for (flavour, parallel) in [("openmpi", true), ("serial", false), ("mpich", false)] {
            std::fs::create_dir_all(deb.join(flavour).join("include")).unwrap();
            std::fs::create_dir_all(deb.join(flavour).join("lib")).unwrap();
            let define = if parallel { "#define H5_HAVE_PARALLEL 1\n" } else { "/* #undef H5_HAVE_PARALLEL */\n" };
            std::fs::write(deb.join(flavour).join("include/H5pubconf.h"), format!("{define}#define H5_VERSION \"1.10.8\"\n")).unwrap();
            std::fs::write(deb.join(flavour).join("lib/libhdf5.so"), b"").unwrap();
        }
        std::fs::create_dir_all(root.join("usr/bin")).unwrap();
        std::fs::write(root.join("usr/bin/mpicc.openmpi"), b"").unwrap();
        let found = parallel_hdf5_installs(&root);
        std::fs::remove_dir_all(&root).unwrap();
        assert_eq!(found.len(), 1, "{found:?}");
        let one = &found[0];
        assert_eq!(one.dir, deb.join("openmpi").display().to_string());
        assert_eq!(one.version.as_deref(), Some("1.10.8"));
        assert_eq!(one.mpi_family, ModuleMpiFamily::Openmpi);
        assert_eq!(one.mpicc, Some(root.join("usr/bin/mpicc.openmpi").display().to_string()));
    }
}
