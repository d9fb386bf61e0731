//! One spec per probe group, next to the facts it reads: the one-line summary the report prints after the
//! group's mark (`✓ locking   /scratch (lustre, flock ok)`). [`spec`] is an exhaustive `match` on
//! [`Group`], so a new group does not compile until it says how it is summed up.

use super::values::{FileFormat, PluginDirSource};
use super::{Facts, ProbeStatus};
use crate::groups::Group;

/// What h5doctor knows about one probe group beyond its facts.
#[derive(Debug, Clone, Copy)]
pub struct GroupSpec {
    pub group: Group,
    /// A one-line account of what the group saw (no judgement: the marks and findings come from the rules).
    pub summary: fn(&Facts) -> String,
}

/// The spec of a group.
pub fn spec(group: Group) -> GroupSpec {
    let summary = match group {
        Group::Locking => locking_text,
        Group::Hdf5 => hdf5_text,
        Group::Plugins => plugins_text,
        Group::File => files_text,
        Group::Libraries => libraries_text,
        Group::Python => python_text,
        Group::Mpi => mpi_text,
        Group::Modules => modules_text,
    };
    GroupSpec { group, summary }
}

/// `/scratch (lustre, flock ok); /home (nfs4, flock ENOLCK)`.
fn locking_text(facts: &Facts) -> String {
    let dirs: Vec<String> = facts
        .dirs
        .iter()
        .map(|d| {
            let fs = d.filesystem.as_ref().map_or("?".to_string(), |f| f.fs_type.clone());
            let lock = match (&d.lock.status, &d.lock.flock_exclusive) {
                (ProbeStatus::Ok, Some(r)) if r.errno == 0 => "flock ok".to_string(),
                (ProbeStatus::Ok, Some(r)) => format!("flock {}", r.errno_name),
                _ => "not tested".to_string(),
            };
            format!("{} ({fs}, {lock})", d.path)
        })
        .collect();
    if dirs.is_empty() {
        "no directories".into()
    } else {
        dirs.join("; ")
    }
}

/// `HDF5 1.10.8 serial from /usr/lib/...; H5Fcreate works in every probed directory (2)` and the matrix.
fn hdf5_text(facts: &Facts) -> String {
    match (&facts.hdf5.status, &facts.hdf5.library) {
        (ProbeStatus::Ok, Some(lib)) => {
            let mut s = format!("HDF5 {} {}", lib.version, if lib.parallel { "parallel" } else { "serial" });
            if lib.threadsafe {
                s.push_str(", thread-safe");
            }
            match (&lib.path, lib.location()) {
                (Some(p), _) => s.push_str(&format!(" from {p}")),
                (None, Some(static_link)) => s.push_str(&format!(", {static_link}")),
                (None, None) => {}
            }
            let tried = facts.dirs.iter().filter(|d| d.hdf5.create.is_some()).count();
            let failed = facts.dirs.iter().filter_map(|d| d.hdf5.create.as_ref()).filter(|c| !c.ok).count();
            match failed {
                _ if tried == 0 && facts.dirs.is_empty() => {}
                _ if tried == 0 => s.push_str("; no writable directory to try H5Fcreate in"),
                0 => s.push_str(&format!("; H5Fcreate works in every probed directory ({tried})")),
                n => s.push_str(&format!("; H5Fcreate fails in {n} of {tried} directories (findings below)")),
            }
            s.push_str(&matrix_text(facts, lib));
            s
        }
        (status, _) => format!(
            "{}: {}",
            status.as_str(),
            facts.hdf5.reason.as_deref().unwrap_or("no reason recorded")
        ),
    }
}

/// `loaded: openmpi/4.1.4, hdf5-parallel/1.10.8; index: 5 modules in 1 tree`.
fn modules_text(facts: &Facts) -> String {
    let m = &facts.modules;
    match m.system.as_str() {
        "" => return "not probed".into(),
        "none" => return "no module system in this environment (no Lmod or Environment Modules variables)".into(),
        _ => {}
    }
    let loaded = if m.loaded.is_empty() {
        "none".to_string()
    } else {
        m.loaded.iter().map(|l| l.full_name.as_str()).collect::<Vec<_>>().join(", ")
    };
    let trees = m.index.trees.len();
    let mut s = format!(
        "{}{}: loaded: {loaded}; index: {} module{} in {trees} tree{}",
        m.system,
        m.lmod_version.as_ref().map_or(String::new(), |v| format!(" {v}")),
        m.index.modules.len(),
        if m.index.modules.len() == 1 { "" } else { "s" },
        if trees == 1 { "" } else { "s" },
    );
    if let Some(why) = &m.index.truncated {
        s.push_str(&format!(" (incomplete: {why})"));
    }
    s
}

/// `HDF5 1.10.8 serial, 1.10.8 openmpi; MPI openmpi; Python 3.11; glibc 2.36; 1 binary checked`.
fn libraries_text(facts: &Facts) -> String {
    let l = &facts.libraries;
    let mut hdf5: Vec<String> = l
        .inventory
        .iter()
        .filter(|i| i.kind == "hdf5")
        .map(|i| {
            format!(
                "{} {}",
                i.hdf5_version.as_deref().unwrap_or("?"),
                i.flavour.as_deref().unwrap_or("")
            )
            .trim_end()
            .to_string()
        })
        .collect();
    hdf5.dedup();
    let mut mpi: Vec<String> = l
        .inventory
        .iter()
        .filter(|i| i.kind == "mpi")
        .filter_map(|i| i.mpi_family.clone())
        .collect();
    mpi.sort();
    mpi.dedup();
    mpi.retain(|f| f != "unknown");
    let python: Vec<String> = l.inventory.iter().filter_map(|i| i.python_version.clone()).collect();
    let none = |v: &[String]| if v.is_empty() { "none".to_string() } else { v.join(", ") };
    let mut s = format!("HDF5 {}; MPI {}; Python {}", none(&hdf5), none(&mpi), none(&python));
    if let Some(g) = &l.glibc {
        s.push_str(&format!("; glibc {g}"));
    }
    match l.binaries.len() {
        0 => {}
        1 => s.push_str(&format!("; {} ({} objects) checked", l.binaries[0].path, l.binaries[0].objects)),
        n => s.push_str(&format!("; {n} binaries checked")),
    }
    s
}

/// One clause per interpreter: what it is, what h5py and NumPy it has, whether the import worked.
fn python_text(facts: &Facts) -> String {
    let py = &facts.python;
    if py.interpreters.is_empty() {
        return py.reason.clone().unwrap_or_else(|| "no Python interpreter".into());
    }
    let clauses: Vec<String> = py
        .interpreters
        .iter()
        .map(|i| {
            let mut s = format!("{} (Python {})", i.path, i.version.as_deref().unwrap_or(i.status.as_str()));
            match &i.h5py {
                Some(h) => {
                    s.push_str(&format!(": h5py {} [{}", h.location.version.as_deref().unwrap_or("?"), h.layout));
                    if let Some(build) = &h.debian_selects {
                        s.push_str(&format!(" {build}"));
                    }
                    s.push(']');
                    if let Some(lib) = &h.libhdf5 {
                        let whose = if h.hdf5_bundled == Some(true) { "bundled" } else { "system" };
                        s.push_str(&format!(", HDF5 {} {whose}", lib.hdf5_version.as_deref().unwrap_or("?")));
                    }
                }
                None if i.status == ProbeStatus::Ok => s.push_str(": no h5py"),
                None => {}
            }
            if let Some(n) = &i.numpy {
                s.push_str(&format!(", numpy {}", n.location.version.as_deref().unwrap_or("?")));
            }
            match (i.import.status, i.import.ok) {
                (ProbeStatus::Ok, Some(true)) => s.push_str(", import ok"),
                (ProbeStatus::Ok, _) => s.push_str(", import FAILS"),
                (ProbeStatus::Inconclusive, _) if i.import.signal.is_some() => {
                    s.push_str(&format!(", import CRASHES (signal {})", i.import.signal.unwrap_or_default()))
                }
                (ProbeStatus::Inconclusive, _) => s.push_str(", import inconclusive"),
                _ => {}
            }
            s
        })
        .collect();
    clauses.join("; ")
}

/// The drivers × modes part of the hdf5 line.
fn matrix_text(facts: &Facts, lib: &crate::facts::Hdf5Library) -> String {
    let matrices: Vec<_> = facts.dirs.iter().filter_map(|d| d.hdf5.matrix.as_ref()).collect();
    let mpio = if lib.drivers.iter().any(|d| d.name == "mpio" && d.available) || lib.parallel {
        "mpio available"
    } else {
        "mpio not in this build"
    };
    let done: Vec<_> = matrices.iter().filter(|m| m.status == ProbeStatus::Ok).collect();
    if done.is_empty() {
        return format!("; {mpio}");
    }
    let drivers: Vec<&str> = done[0].drivers.iter().map(|d| d.driver.as_str()).collect();
    if drivers.is_empty() {
        return format!("; no file driver could be tested (this HDF5 reported none); {mpio}");
    }
    let bad = done
        .iter()
        .filter(|m| m.failed_drivers().next().is_some() || m.deviations().next().is_some())
        .count();
    let slowest_ms = done.iter().map(|m| m.elapsed_us).max().unwrap_or(0) as f64 / 1000.0;
    let verdict = match bad {
        0 => format!("all pass in {} directories", done.len()),
        n => format!("deviate in {n} of {} directories (findings below)", done.len()),
    };
    format!(
        "; drivers {} and open modes r r+ w w-/x a: {verdict} ({slowest_ms:.1} ms per directory); {mpio}",
        drivers.join(" ")
    )
}

/// The plugins line: where HDF5 looks for filter plugins and what it finds.
fn plugins_text(facts: &Facts) -> String {
    let p = &facts.plugins;
    let state = |d: &crate::facts::PluginDirFacts| {
        if !d.exists {
            return format!("{} (does not exist)", d.path);
        }
        if !d.readable {
            return format!("{} (unreadable: {})", d.path, d.error.as_deref().unwrap_or("?"));
        }
        let ids: Vec<String> = d
            .plugins
            .iter()
            .filter_map(|l| l.load.as_ref()?.filter_id.map(|i| i.to_string()))
            .collect();
        match (d.plugins.len(), ids.is_empty()) {
            (0, _) => format!("{} (no plugins)", d.path),
            (n, true) => format!("{} ({n} plugin(s))", d.path),
            (n, false) => format!("{} ({n} plugin(s), filters {})", d.path, ids.join(" ")),
        }
    };
    let env: Vec<String> = p.dirs.iter().filter(|d| d.source == PluginDirSource::Env).map(state).collect();
    let mut parts = vec![match &p.hdf5_plugin_path {
        Some(_) if env.is_empty() => "HDF5_PLUGIN_PATH is set but names no directory".to_string(),
        Some(_) => format!("HDF5_PLUGIN_PATH: {}", env.join(", ")),
        None => "HDF5_PLUGIN_PATH unset".to_string(),
    }];
    for d in p.dirs.iter().filter(|d| d.source != PluginDirSource::Env) {
        let searched = if d.searched {
            ""
        } else {
            ", not searched while HDF5_PLUGIN_PATH is set"
        };
        parts.push(format!("default {}{searched}", state(d)));
    }
    if p.status != ProbeStatus::Ok {
        parts.push(format!("plugins not loaded: {}", p.reason.as_deref().unwrap_or(p.status.as_str())));
    }
    parts.join("; ")
}

/// The file line: one account per examined file.
fn files_text(facts: &Facts) -> String {
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

/// `Open MPI v4.1.4, 4 ranks (mpirun (Open MPI)), ompio on ext4 /tmp/x: collective write 280.1 MiB/s, ...`,
/// and for `mpio-test --python` the interpreter's side: what it imported, how it ended, its reruns.
fn mpi_text(facts: &Facts) -> String {
    let m = &facts.mpi;
    let Some(py) = &m.python else { return mpi_test_text(m) };
    let mut s = format!(
        "through {}: h5py {}{}, mpi4py {}\n            ",
        py.interpreter,
        py.h5py_version.as_deref().unwrap_or("?"),
        py.h5py_module.as_deref().map(|m| format!(" ({m})")).unwrap_or_default(),
        py.mpi4py_version.as_deref().unwrap_or("?")
    );
    match &py.failed_step {
        Some(step) => s.push_str(&format!(
            "stopped before MPI_Init at `{step}`: {} (findings below)",
            py.error.as_deref().unwrap_or("?")
        )),
        None => s.push_str(&mpi_test_text(m)),
    }
    if let Some(end) = &py.end {
        s.push_str(&format!("\n            the interpreter {end}"));
        if let Some(tail) = &py.output_tail {
            for line in tail.lines() {
                s.push_str(&format!("\n              | {line}"));
            }
        }
    }
    for (label, run) in [
        ("with H5PY_ALWAYS_USE_MPI=1", &py.always_use_mpi),
        ("h5doctor-probe-mpio (--compare)", &py.probe),
    ] {
        let Some(run) = run else { continue };
        let verdict = match run.passed {
            Some(true) => "passed".to_string(),
            Some(false) => "FAILED".to_string(),
            None => format!("did not run: {}", run.error.as_deref().unwrap_or("?")),
        };
        s.push_str(&format!("\n            {label}: {verdict}"));
        for r in &run.results {
            let mine = m.result(&r.mode);
            let ratio = |this: f64, other: Option<f64>| match other {
                Some(o) if label.starts_with("h5doctor") && this > 0.0 && o > 0.0 => format!(" (Python {:.2}x)", o / this),
                _ => String::new(),
            };
            s.push_str(&format!(
                "\n            {:<11} write {:>8.1} MiB/s{}  read {:>8.1} MiB/s{}",
                r.mode,
                r.write_mib_s,
                ratio(r.write_mib_s, mine.map(|x| x.write_mib_s)),
                r.read_mib_s,
                ratio(r.read_mib_s, mine.map(|x| x.read_mib_s))
            ));
        }
    }
    s
}

/// The MPI-IO test's own line: library, ranks, layer, file system and bandwidth.
fn mpi_test_text(m: &crate::facts::mpi::MpiFacts) -> String {
    if m.init_error.is_some() {
        return format!(
            "MPI_Init fails under {} ({} library, {} tasks; findings below)",
            m.launcher.as_deref().unwrap_or("the launcher"),
            m.family.map_or("unknown", |f| f.as_str()),
            m.launcher_size.map_or("?".to_string(), |n| n.to_string())
        );
    }
    if m.status != ProbeStatus::Ok {
        return format!("{}: {}", m.status.as_str(), m.reason.as_deref().unwrap_or("no reason recorded"));
    }
    let library = m.library.as_deref().unwrap_or("MPI ?");
    let library = library.split(',').next().unwrap_or(library);
    let mut s = format!(
        "{library}, {} rank{} ({}), HDF5 {}",
        m.size.unwrap_or(0),
        if m.size == Some(1) { "" } else { "s" },
        m.launcher.as_deref().unwrap_or("?"),
        m.hdf5_version.as_deref().unwrap_or("?")
    );
    if let Some(io) = &m.io_component {
        s.push_str(&format!(", {io}"));
    }
    if let (Some(dir), Some(fs)) = (&m.dir, &m.fs_type) {
        s.push_str(&format!(" on {fs} {dir}"));
    }
    s.push_str(&nodes_text(m));
    for r in &m.results {
        s.push_str(&format!(
            "\n            {:<11} write {:>8.1} MiB/s  read {:>8.1} MiB/s  ({} MiB){}",
            r.mode,
            r.write_mib_s,
            r.read_mib_s,
            r.bytes >> 20,
            if r.verified { "  verified" } else { "  NOT verified" }
        ));
        // What of the write is H5Fflush (dirty metadata + MPI_File_sync), when the probe measured it.
        if let Some(flush) = r.flush_seconds.filter(|_| r.write_seconds > 0.0) {
            s.push_str(&format!(
                "\n            {:<11} write = H5Dwrite {:.3} s + H5Fflush {:.3} s",
                "",
                (r.write_seconds - flush).max(0.0),
                flush
            ));
        }
    }
    match m.passed {
        Some(true) if m.verified_across_nodes == Some(true) => {
            s.push_str("\n            every rank read a slab written on another node back as written")
        }
        Some(true) => s.push_str("\n            every rank read its neighbour's slab back as written"),
        Some(false) => s.push_str("\n            the test FAILED (findings below)"),
        None => {}
    }
    s
}

/// The nodes of a multi-node run: `on 3 nodes nid[001-003], 1 rank each`, the nodes that cannot see the
/// directory rank 0 wrote in, and the nodes where a lock failed.
fn nodes_text(m: &crate::facts::mpi::MpiFacts) -> String {
    use crate::hostlist::compress;
    if m.nodes.is_empty() {
        return String::new();
    }
    let hosts: Vec<&str> = m.nodes.iter().map(|n| n.host.as_str()).collect();
    let counts: Vec<usize> = m.nodes.iter().map(|n| n.ranks.len()).collect();
    let per_node = if counts.iter().all(|c| *c == counts[0]) {
        format!("{} rank{} each", counts[0], if counts[0] == 1 { "" } else { "s" })
    } else {
        m.nodes
            .iter()
            .map(|n| format!("{} {}", n.host, n.ranks.len()))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let mut s = format!(
        "\n            on {} node{} {} ({per_node})",
        m.nodes.len(),
        if m.nodes.len() == 1 { "" } else { "s" },
        compress(&hosts)
    );
    let unseen: Vec<&str> = m.nodes.iter().filter(|n| !n.sees_marker).map(|n| n.host.as_str()).collect();
    if !unseen.is_empty() {
        s.push_str(&format!(
            "\n            NOT SHARED: {} cannot see the file rank 0 made on {}; no MPI-IO was attempted (findings below)",
            compress(&unseen),
            hosts[0]
        ));
    }
    type Errno = fn(&crate::facts::mpi::MpiNode) -> Option<i32>;
    let locks: [(&str, Errno); 2] = [("flock", |n| n.flock_errno), ("fcntl lock", |n| n.fcntl_errno)];
    for (label, errno) in locks {
        let failed: Vec<String> = m
            .nodes
            .iter()
            .filter_map(|n| {
                errno(n)
                    .filter(|e| *e != 0)
                    .map(|e| format!("{} ({})", n.host, crate::errno::name(e)))
            })
            .collect();
        if !failed.is_empty() {
            s.push_str(&format!("\n            {label} fails on {}", failed.join(", ")));
        }
    }
    s
}
