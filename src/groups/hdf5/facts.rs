//! The `hdf5` group's home: the HDF5 library as h5doctor-probe found it, what HDF5 does in each target
//! directory (create, and the drivers × modes matrix of `matrix.rs`), the probe's wire format, the
//! group's report line and when it is inconclusive.

use crate::facts::catalog::Item;
use crate::facts::groups::{GroupSpec, ListPosition, Section, Unanswered};
use crate::facts::values::FileDriver;
use crate::facts::{
    libraries, DriverAvailability, Facts, FileProbeReport, MatrixFacts, MatrixReport, PluginProbeReport, ProbeStatus, VdsReadReport,
};
use crate::groups::Group;
use serde::{Deserialize, Serialize};

/// The HDF5 library as `h5doctor-probe` found it.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
pub struct Hdf5Facts {
    pub status: ProbeStatus,
    /// Why the probe is inconclusive or unavailable (timeout, loader message, ...).
    pub reason: Option<String>,
    /// Fact `hdf5.probe_path` (documented once, in the facts catalogue: `h5doctor facts --list`).
    pub probe_path: Option<String>,
    pub library: Option<Hdf5Library>,
    /// When the probe is unavailable: its shared-library closure as h5doctor's resolver sees it
    /// (which library is missing and every place it was looked for).
    #[serde(default)]
    pub probe_loader: Option<libraries::BinaryFacts>,
    /// The DT_SONAME of the loaded libhdf5 (read by h5doctor from the library file).
    #[serde(default)]
    pub soname: Option<String>,
    /// The signal that killed the probe, when one did (11 SIGSEGV, 6 SIGABRT).
    #[serde(default)]
    pub signal: Option<i32>,
    /// The probe run again with HDF5's plugin variables unset, when it failed while one was set.
    #[serde(default)]
    pub without_plugin_env: Option<PluginEnvRetry>,
    /// Which probe binary h5doctor picked and why (absent in facts from before it picked one).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub probe_choice: Option<ProbeChoice>,
    /// When the probe is unavailable: the HDF5 installations on this node a probe can be built against
    /// (what `HDF5_DIR=... cargo build -p h5doctor-probe` names), and every place looked at. Absent when
    /// the probe started, and in facts from before h5doctor looked.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub install_search: Option<Hdf5InstallSearch>,
    /// When HDF5_VOL_CONNECTOR or HDF5_DRIVER is set: the plugins they ask for and where h5doctor looked
    /// for a plugin library providing each (so a fix can name the directory for HDF5_PLUGIN_PATH). Absent
    /// when neither is set, when the probe could not run even without them, and in facts from before
    /// h5doctor looked.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub plugin_env_search: Option<PluginEnvSearch>,
}

/// The plugins HDF5's plugin variables ask for, and the directories h5doctor looked in for them.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
pub struct PluginEnvSearch {
    /// Each connector or driver that a plugin must provide, in variable order: HDF5_VOL_CONNECTOR's first
    /// word unless `native` or `pass_through`, HDF5_DRIVER unless a driver HDF5 ships (`sec2`, `ros3`,
    /// ...). Empty when the variables name only what HDF5 has built in.
    pub wanted: Vec<WantedPlugin>,
    /// Each plugin library found that provides a wanted name, in the order looked at.
    pub found: Vec<FoundPlugin>,
    /// Every directory looked in, in order, with why and what it held (`/opt/vol/lib (LD_LIBRARY_PATH
    /// /opt/vol/lib holds a libhdf5): no such directory`).
    pub looked_in: Vec<String>,
}

/// A plugin that HDF5_VOL_CONNECTOR or HDF5_DRIVER asks for.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
pub struct WantedPlugin {
    /// `HDF5_VOL_CONNECTOR` (a VOL connector, plugin type 1) or `HDF5_DRIVER` (a file driver, type 2).
    pub var: String,
    /// The name HDF5 looks for: the plugin class's `name`.
    pub name: String,
}

/// A plugin library that provides a wanted connector or driver.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
pub struct FoundPlugin {
    /// The directory to put on HDF5_PLUGIN_PATH.
    pub dir: String,
    pub file: String,
    /// The variable whose name it provides.
    pub var: String,
    pub name: String,
    /// Its class struct's version (a VOL connector loads only into an HDF5 whose H5VL_VERSION equals it).
    pub class_version: Option<u32>,
    /// The libhdf5 it links (DT_NEEDED): the HDF5 it was built for.
    pub needs_hdf5: Vec<String>,
    /// HDF5 searches this directory already (an HDF5_PLUGIN_PATH entry, or while that is unset the default
    /// directory of the probe's HDF5): pointing HDF5_PLUGIN_PATH at it changes nothing.
    pub already_searched: bool,
}

impl FoundPlugin {
    /// `/opt/vol/lib/libvol.so provides VOL connector async (class version 3; links libhdf5.so.310)`.
    pub fn describe(&self) -> String {
        self.describe_as(&self.file)
    }

    /// [`Self::describe`] with the file shown as `file`.
    pub fn describe_as(&self, file: &str) -> String {
        let what = if self.var == "HDF5_VOL_CONNECTOR" { "VOL connector" } else { "file driver" };
        let mut details: Vec<String> = Vec::new();
        if let Some(v) = self.class_version {
            details.push(format!("class version {v}"));
        }
        if !self.needs_hdf5.is_empty() {
            details.push(format!("links {}", self.needs_hdf5.join(", ")));
        }
        let details = if details.is_empty() {
            String::new()
        } else {
            format!(" ({})", details.join("; "))
        };
        format!("{file} provides {what} {}{details}", self.name)
    }
}

/// The HDF5 installations h5doctor found on this node, looked for only when h5doctor-probe cannot start.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
pub struct Hdf5InstallSearch {
    /// Each prefix that has `include/H5pubconf.h` and `lib/libhdf5.so`, in the order looked at (the
    /// environment's first: the missing library's own directory, `$HDF5_DIR`/`$HDF5_ROOT`/`$HDF5_HOME`,
    /// LD_LIBRARY_PATH; then the loader's cache and HDF5's default prefix).
    pub installs: Vec<Hdf5Install>,
    /// Every prefix looked at, in order, with how it was found and what it has or lacks
    /// (`/usr/local/hdf5 (HDF5's default prefix): no include/H5pubconf.h`).
    pub looked_in: Vec<String>,
}

/// One HDF5 installation prefix, as a build reads it (the layout `HDF5_DIR` must have).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
pub struct Hdf5Install {
    /// The prefix, as found (`/usr/lib/x86_64-linux-gnu/hdf5/serial`, `/opt/hdf5/1.14.5`).
    pub dir: String,
    /// The directory of its `libhdf5.so` (`DIR/lib`, or `DIR/lib64`).
    pub lib_dir: String,
    /// `H5_VERSION` of its `H5pubconf.h`.
    pub version: Option<String>,
    /// Its `H5pubconf.h` says `H5_HAVE_PARALLEL 1`.
    pub parallel: bool,
    /// Where h5doctor learnt of it.
    pub found_by: crate::facts::values::Hdf5InstallFoundBy,
    /// The same in words (`$HDF5_ROOT`, `LD_LIBRARY_PATH /opt/hdf5/lib`, `ld.so.cache: a libhdf5 in
    /// /usr/lib/x86_64-linux-gnu`).
    pub how: String,
    /// Its library directory holds the library h5doctor-probe cannot find (the same HDF5 it was built for).
    #[serde(default)]
    pub has_missing_library: bool,
}

/// How h5doctor picked the h5doctor-probe it ran: one probe per HDF5 module, named
/// `h5doctor-probe-<version>-<serial|parallel>[-static]`, matched against the HDF5 the job will load.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
pub struct ProbeChoice {
    /// `H5DOCTOR_PROBE` (set explicitly: it always wins), `module` (a probe named for the loaded HDF5
    /// module's library), `environment` (named for the libhdf5 LD_LIBRARY_PATH resolves), or `default`
    /// (the unnamed h5doctor-probe beside h5doctor or on PATH).
    pub by: crate::facts::values::ProbePickedBy,
    /// The HDF5 the job will load, as h5doctor read it, when it could tell.
    #[serde(default)]
    pub wanted: Option<WantedHdf5>,
    /// Why this probe, in words (`matches the module hdf5/1.14.5 (HDF5 1.14.5 serial, shared)`).
    pub why: String,
    /// The named probes found beside h5doctor (file names), whichever was picked.
    #[serde(default)]
    pub named_probes: Vec<String>,
}

/// The HDF5 a job will load: from the loaded HDF5 module (its libhdf5, read with h5doctor's ELF reader,
/// else its name) or from the first libhdf5 on LD_LIBRARY_PATH.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
pub struct WantedHdf5 {
    pub version: String,
    /// `serial` or `parallel`, as the probe names say it.
    pub flavour: crate::facts::values::ProbeFlavour,
    /// `shared` (a libhdf5.so is there) or `static` (only libhdf5.a); unknown when neither was seen.
    #[serde(default)]
    pub linking: Option<crate::facts::values::Linking>,
    /// Where it was read: `module hdf5/1.14.5`, `LD_LIBRARY_PATH /opt/hdf5/lib/libhdf5.so.310`.
    pub source: String,
}

/// The variables that make HDF5 load a VOL connector or a file driver by name at initialisation.
pub const HDF5_PLUGIN_ENV: [&str; 3] = ["HDF5_VOL_CONNECTOR", "HDF5_DRIVER", "HDF5_DRIVER_CONFIG"];

/// A failed HDF5 or h5py probe run again with HDF5_VOL_CONNECTOR, HDF5_DRIVER and HDF5_DRIVER_CONFIG unset:
/// it proves (or disproves) that one of them is the cause before h5doctor says `unset`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
pub struct PluginEnvRetry {
    /// The variables removed for the re-run.
    pub unset: Vec<String>,
    /// The re-run worked (the library initialised; for h5py, the import and every create too).
    pub ok: bool,
    /// How the re-run failed, when it did.
    #[serde(default)]
    pub detail: Option<String>,
}

/// What the HDF5 library reports about itself (the probe's `library` object).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
pub struct Hdf5Library {
    /// H5get_libversion, as "1.10.8".
    pub version: String,
    /// The file the library was loaded from (dladdr of H5open); absent when it is linked statically.
    pub path: Option<String>,
    /// Fact `hdf5.linking` (documented once, in the facts catalogue: `h5doctor facts --list`); absent in facts from
    /// h5doctor < 0.2, which knew only shared libraries.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub linking: Option<crate::facts::values::Linking>,
    /// For a static link: the program HDF5 is linked into (the probe).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub linked_into: Option<String>,
    /// Exports H5Pset_fapl_mpio: a parallel build.
    pub parallel: bool,
    pub threadsafe: bool,
    /// H5Pget_file_locking on a default fapl (1.10.7+), as (use_file_locking, ignore_when_disabled).
    pub default_locking: Option<(bool, bool)>,
    /// The HDF5_USE_FILE_LOCKING value the probe process saw.
    pub env_use_file_locking: Option<String>,
    /// How this HDF5 version reads HDF5_USE_FILE_LOCKING and what it makes of the value seen.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub locking_env: Option<LockingEnv>,
    /// File drivers and whether this library has them (mpio only in a parallel build).
    #[serde(default)]
    pub drivers: Vec<DriverAvailability>,
    /// The plugin search path the library uses (H5PLget), with the environment the probe saw.
    #[serde(default)]
    pub plugin_search_path: Vec<String>,
}

impl Hdf5Library {
    /// Where the library is, as a user reads it: its file, or `statically linked into PROGRAM`.
    pub fn location(&self) -> Option<String> {
        match (&self.path, &self.linked_into) {
            (Some(p), _) => Some(p.clone()),
            (None, Some(program)) => Some(format!("statically linked into {program}")),
            (None, None) => None,
        }
    }
}

/// How one HDF5 version reads HDF5_USE_FILE_LOCKING (from its source: H5Fint.c, H5FD*.c), and what it
/// makes of the value the probe saw.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
pub struct LockingEnv {
    /// The values this version recognises, exactly as spelled (the comparison is case-sensitive).
    pub accepted: Vec<String>,
    /// What the value seen does (the values are documented on the enum).
    pub effect: crate::facts::values::LockingEffect,
    /// When the library reads it, where the source says: `library-initialisation` (a change after the
    /// first HDF5 call has no effect) or `every-open`.
    #[serde(default)]
    pub read_at: Option<crate::facts::values::LockingEnvReadAt>,
}

/// One HDF5 file creation (or, for `inspect`, open) attempt by the probe.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
pub struct Hdf5Create {
    pub file: String,
    pub ok: bool,
    /// The errno HDF5 reported in its error stack (`errno = N`), if any.
    pub errno: Option<i32>,
    /// The innermost (most specific) line of the HDF5 error stack.
    pub error_leaf: Option<String>,
    /// The whole HDF5 error stack as HDF5 prints it.
    pub error_stack: Option<String>,
}

/// Set (to `1`) in the environment of `h5doctor-probe create` when h5doctor also wants the plugins report
/// and HDF5_PLUGIN_PATH is unset (so the `plugins` probe would see the same environment): the probe then
/// prints the plugins report as its second line, before the matrices, and no separate `plugins` probe
/// runs (one HDF5 process start fewer per check). A probe that ignores it answers without that line, and
/// h5doctor then runs `plugins` as before.
pub const PLUGINS_WITH_CREATE_ENV: &str = "H5DOCTOR_PROBE_PLUGINS";

/// The JSON that `h5doctor-probe` prints on stdout, one document per line: the wire format between the two
/// binaries. A probe that finishes part of its work early prints that part as a line of its own.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
pub struct Hdf5ProbeReport {
    /// Set in the first line of an answer; later lines may leave it out.
    #[serde(default)]
    pub library: Hdf5Library,
    #[serde(default)]
    pub creates: Vec<Hdf5Create>,
    /// `matrix STEM...`: the drivers × modes matrix, one per stem.
    #[serde(default)]
    pub matrices: Vec<MatrixReport>,
    /// `plugins DIR...`: plugin directories listed and their plugins loaded.
    #[serde(default)]
    pub plugins: Option<PluginProbeReport>,
    /// `inspect FILE...`: each file opened read-only, with the filters its datasets need.
    #[serde(default)]
    pub files: Vec<FileProbeReport>,
    /// `vds-read FILE DATASET...`: the virtual datasets read, and the files HDF5 then held open.
    #[serde(default)]
    pub vds_reads: Vec<VdsReadReport>,
    /// Alone on the last line of a `create` or `matrix` run: the probe has removed every file it was
    /// given and every file of their stems itself, so h5doctor lets go of those names without removing
    /// them again. A probe that does not say it (killed, crashed, older) has its files removed by h5doctor.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub removed_own_files: bool,
}

/// What HDF5 itself does in the directory.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
pub struct DirHdf5Facts {
    pub status: ProbeStatus,
    pub reason: Option<String>,
    /// H5Fcreate with the default file access property list.
    pub create: Option<Hdf5Create>,
    /// The same create in a fresh process with HDF5_USE_FILE_LOCKING=FALSE, run only when `create`
    /// failed on a lock errno: it proves (or disproves) the fix before h5doctor shows it.
    pub create_without_locking: Option<Hdf5Create>,
    /// Every driver and open mode tried on probe files; run only where `create` worked.
    #[serde(default)]
    pub matrix: Option<MatrixFacts>,
}

/// The hdf5 group: its report line and its unanswered probes (per directory, and the probe itself).
pub const SPEC: GroupSpec = GroupSpec {
    group: Group::Hdf5,
    summary,
    unanswered,
};

/// `HDF5 1.10.8 serial from /usr/lib/...; H5Fcreate works in every probed directory (2)` and the matrix.
fn summary(facts: &Facts) -> String {
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
            s.push_str(&probe_choice_text(facts));
            s
        }
        (status, _) => format!(
            "{}: {}",
            status.as_str(),
            facts.hdf5.reason.as_deref().unwrap_or("no reason recorded")
        ),
    }
}

/// Which probe ran and why, when h5doctor picked it for the job's HDF5 or was told which to run; nothing
/// when no HDF5 was known and the default probe ran (as before h5doctor picked probes).
fn probe_choice_text(facts: &Facts) -> String {
    let Some(choice) = &facts.hdf5.probe_choice else {
        return String::new();
    };
    if choice.by == crate::facts::values::ProbePickedBy::Default && choice.wanted.is_none() {
        return String::new();
    }
    let name = facts
        .hdf5
        .probe_path
        .as_deref()
        .and_then(|p| std::path::Path::new(p).file_name())
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    format!("; probe {name}: {}", choice.why)
}

/// The drivers × modes part of the hdf5 line.
fn matrix_text(facts: &Facts, lib: &crate::facts::Hdf5Library) -> String {
    let matrices: Vec<_> = facts.dirs.iter().filter_map(|d| d.hdf5.matrix.as_ref()).collect();
    let mpio = if lib.drivers.iter().any(|d| d.name == FileDriver::Mpio && d.available) || lib.parallel {
        "mpio available"
    } else {
        "mpio not in this build"
    };
    let done: Vec<_> = matrices.iter().filter(|m| m.status == ProbeStatus::Ok).collect();
    if done.is_empty() {
        return format!("; {mpio}");
    }
    let drivers: Vec<&str> = done[0]
        .drivers
        .iter()
        .filter(|d| d.not_applicable.is_none())
        .map(|d| d.driver.as_str())
        .collect();
    let not_applicable: Vec<String> = done[0]
        .drivers
        .iter()
        .filter_map(|d| Some(format!("{} not run: {}", d.driver, d.not_applicable.as_ref()?)))
        .collect();
    let not_applicable = if not_applicable.is_empty() {
        String::new()
    } else {
        format!(" ({})", not_applicable.join("; "))
    };
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
        "; drivers {}{not_applicable} and open modes r r+ w w-/x a: {verdict} ({slowest_ms:.1} ms per directory); {mpio}",
        drivers.join(" ")
    )
}

/// Per directory, an H5Fcreate (when the library itself answered) and a drivers × modes matrix that timed
/// out; then the HDF5 probe itself.
fn unanswered(facts: &Facts) -> Vec<Unanswered<'_>> {
    let mut out = Vec::new();
    for (n, dir) in facts.dirs.iter().enumerate() {
        if dir.hdf5.status == ProbeStatus::Inconclusive && facts.hdf5.status == ProbeStatus::Ok {
            out.push(Unanswered::new(
                ListPosition::item(Section::Dirs, n, 1),
                Item::Dir(dir),
                dir.hdf5.reason.clone().unwrap_or_default(),
            ));
        }
        if let Some(m) = dir.hdf5.matrix.as_ref().filter(|m| m.status == ProbeStatus::Inconclusive) {
            out.push(Unanswered::new(
                ListPosition::item(Section::Dirs, n, 2),
                Item::Dir(dir),
                m.reason.clone().unwrap_or_default(),
            ));
        }
    }
    if facts.hdf5.status == ProbeStatus::Inconclusive {
        out.push(Unanswered::new(
            ListPosition::node(Section::Hdf5Probe),
            Item::Node,
            facts.hdf5.reason.clone().unwrap_or_else(|| "no reason recorded".into()),
        ));
    }
    out
}
