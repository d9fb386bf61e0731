//! Which h5doctor-probe to run: the one built against the HDF5 the job will load. A site builds one probe
//! per HDF5 module (`scripts/build-probe.sh`), named `h5doctor-probe-<version>-<serial|parallel>[-static]`,
//! and keeps them beside h5doctor: in `probes/` next to the h5doctor binary, in `../libexec/h5doctor/`, or
//! next to h5doctor itself. h5doctor then reads which HDF5 the job will load and runs the probe named for
//! it, so the report speaks of the HDF5 the job really uses:
//!
//! 1. `H5DOCTOR_PROBE` set: that probe, always (the admin's explicit choice wins);
//! 2. the loaded HDF5 module (the last one loaded that provides an HDF5, from the `modules` group): the
//!    version and flavour of the libhdf5 its library directories hold, read with h5doctor's ELF reader,
//!    else its name and version; `static` when its directories hold only libhdf5.a;
//! 3. otherwise the first libhdf5 on LD_LIBRARY_PATH, read the same way;
//! 4. a named probe of that version and flavour (the same linking first), else the default unnamed
//!    h5doctor-probe beside h5doctor or on PATH, with the reason no named one fitted.
//!
//! Picking only chooses a path: the probe is run through `child::run`, so as root it is vetted like any
//! other program (`crate::trust`), and a probe a user could have written is not run.

use crate::elf::libraries::{classify, Kind};
use crate::facts::modules::{LoadedModule, ModulesFacts};
use crate::facts::values::{Capability, Linking, ProbeFlavour, ProbePickedBy};
use crate::facts::{ProbeChoice, WantedHdf5};
use std::path::{Path, PathBuf};

/// The unnamed probe's file name; named ones add `-<version>-<flavour>[-static]`.
const PROBE_NAME: &str = crate::groups::hdf5::probe::PROBE_NAME;

/// A probe named for one HDF5: `h5doctor-probe-1.14.5-serial-static`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NamedProbe {
    pub path: PathBuf,
    pub version: String,
    pub flavour: ProbeFlavour,
    pub static_link: bool,
}

impl NamedProbe {
    /// Reads a probe's file name; `None` for anything else (the MPI probe `h5doctor-probe-mpio` included).
    pub fn parse(path: &Path) -> Option<Self> {
        let name = path.file_name()?.to_str()?;
        let rest = name.strip_prefix(PROBE_NAME)?.strip_prefix('-')?;
        let (rest, static_link) = match rest.strip_suffix("-static") {
            Some(r) => (r, true),
            None => (rest, false),
        };
        let (version, flavour) = rest.rsplit_once('-')?;
        let numeric = version.split('.').count() >= 2 && version.chars().next().is_some_and(|c| c.is_ascii_digit());
        let flavour: ProbeFlavour = flavour.parse().ok()?;
        numeric.then(|| NamedProbe {
            path: path.to_path_buf(),
            version: version.to_string(),
            flavour,
            static_link,
        })
    }

    fn file_name(&self) -> String {
        self.path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default()
    }
}

/// The directories searched for named probes, beside the h5doctor binary `exe`.
pub fn probe_dirs(exe: &Path) -> Vec<PathBuf> {
    let Some(bin) = exe.parent() else { return Vec::new() };
    let mut dirs = vec![bin.join("probes")];
    if let Some(prefix) = bin.parent() {
        dirs.push(prefix.join("libexec/h5doctor"));
    }
    dirs.push(bin.to_path_buf());
    dirs
}

/// Every named probe in `dirs`, in the order of the directories, then by name.
pub fn named_probes(dirs: &[PathBuf]) -> Vec<NamedProbe> {
    let mut found = Vec::new();
    for dir in dirs {
        let Ok(entries) = std::fs::read_dir(dir) else { continue };
        let mut here: Vec<NamedProbe> = entries
            .filter_map(|e| e.ok().map(|e| e.path()))
            // The name first: a stat for every entry of a bin directory is thousands of stats.
            .filter_map(|p| NamedProbe::parse(&p))
            .filter(|probe| probe.path.is_file())
            .collect();
        here.sort_by(|a, b| a.path.cmp(&b.path));
        found.extend(here);
    }
    found
}

/// The version and flavour of a libhdf5 file, read with h5doctor's ELF reader.
fn read_libhdf5(path: &Path) -> Option<(String, ProbeFlavour)> {
    let cache = crate::elf::FileCache::new();
    let file = cache.file(&path.display().to_string()).ok()?;
    let symbols = file.symbols().ok()?;
    let version = symbols.hdf5_version.clone()?;
    let flavour = crate::elf::libraries::hdf5_flavour(&symbols);
    Some((version, ProbeFlavour::of(Some(flavour), false)))
}

/// The first libhdf5 (the C library, not `_hl` and the like) in a directory: `libhdf5.so` and the
/// flavoured names first, then versioned names.
fn libhdf5_in(dir: &Path) -> Option<PathBuf> {
    let plain = ["libhdf5.so", "libhdf5_serial.so", "libhdf5_openmpi.so", "libhdf5_mpich.so"]
        .iter()
        .map(|n| dir.join(n))
        .find(|p| p.is_file());
    plain.or_else(|| {
        let mut names: Vec<PathBuf> = std::fs::read_dir(dir)
            .ok()?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| {
                p.file_name()
                    .and_then(|n| n.to_str())
                    .is_some_and(|n| classify(n) == Some(Kind::Hdf5))
            })
            .collect();
        names.sort();
        names.into_iter().next()
    })
}

/// The HDF5 a loaded module provides: its libhdf5 as the module index read it, else the module's
/// version; `static` when its directories (library paths, $HDF5_DIR/lib, $HDF5_ROOT/lib) hold only
/// libhdf5.a.
fn wanted_from_module(module: &LoadedModule) -> Option<WantedHdf5> {
    let info = module.info.as_ref()?;
    let source = format!("module {}", module.full_name);
    if let Some(lib) = &info.hdf5 {
        return Some(WantedHdf5 {
            version: lib.version.clone()?,
            flavour: ProbeFlavour::of(lib.flavour, lib.parallel),
            linking: Some(Linking::Shared),
            source,
        });
    }
    let version = module.version.clone().or_else(|| info.version.clone())?;
    let mut dirs: Vec<PathBuf> = info.library_dirs().map(PathBuf::from).collect();
    for var in ["HDF5_DIR", "HDF5_ROOT"] {
        if let Some(root) = info.setenv.get(var) {
            dirs.push(Path::new(root).join("lib"));
        }
    }
    let has = |name: &str| dirs.iter().any(|d| d.join(name).is_file());
    let linking = if dirs.iter().any(|d| libhdf5_in(d).is_some()) {
        Some(Linking::Shared)
    } else if has("libhdf5.a") {
        Some(Linking::Static)
    } else {
        None
    };
    Some(WantedHdf5 {
        version,
        flavour: ProbeFlavour::of(None, info.provides(Capability::Hdf5Parallel)),
        linking,
        source,
    })
}

/// The first libhdf5 a job's loader finds on LD_LIBRARY_PATH (`ld_library_path`), read with the ELF reader.
fn wanted_from_ld_library_path(ld_library_path: Option<&str>) -> Option<WantedHdf5> {
    let lib = std::env::split_paths(ld_library_path?)
        .filter(|d| !d.as_os_str().is_empty())
        .find_map(|d| libhdf5_in(&d))?;
    let (version, flavour) = read_libhdf5(&lib)?;
    Some(WantedHdf5 {
        version,
        flavour,
        linking: Some(Linking::Shared),
        source: format!("LD_LIBRARY_PATH {}", lib.display()),
    })
}

/// The HDF5 the job will load: the last loaded module that provides an HDF5, else LD_LIBRARY_PATH.
pub fn wanted_hdf5(modules: Option<&ModulesFacts>, ld_library_path: Option<&str>) -> Option<(ProbePickedBy, WantedHdf5)> {
    let from_module = modules
        .and_then(|m| m.loaded_hdf5().last().copied())
        .and_then(wanted_from_module)
        .map(|w| (ProbePickedBy::Module, w));
    from_module.or_else(|| wanted_from_ld_library_path(ld_library_path).map(|w| (ProbePickedBy::Environment, w)))
}

/// The named probe for `wanted`: same version and flavour, the same linking first (shared when unknown).
pub fn matching<'a>(wanted: &WantedHdf5, probes: &'a [NamedProbe]) -> Option<&'a NamedProbe> {
    let want_static = wanted.linking == Some(Linking::Static);
    let fits: Vec<&NamedProbe> = probes
        .iter()
        .filter(|p| p.version == wanted.version && p.flavour == wanted.flavour)
        .collect();
    fits.iter().find(|p| p.static_link == want_static).or_else(|| fits.first()).copied()
}

/// `HDF5 1.14.5 serial, shared`.
fn describe(w: &WantedHdf5) -> String {
    match &w.linking {
        Some(l) => format!("HDF5 {} {}, {l}", w.version, w.flavour),
        None => format!("HDF5 {} {}", w.version, w.flavour),
    }
}

/// The program `name` beside the executable `exe`, then on PATH; `Err` lists the places looked at.
pub fn beside_or_on_path(name: &str, exe: Option<&Path>) -> Result<PathBuf, Vec<String>> {
    let mut looked = Vec::new();
    if let Some(dir) = exe.and_then(Path::parent) {
        let sibling = dir.join(name);
        if sibling.is_file() {
            return Ok(sibling);
        }
        looked.push(sibling.display().to_string());
    }
    which::which(name).map_err(|_| {
        looked.push("$PATH".into());
        looked
    })
}

/// The unnamed probe: beside h5doctor, then on PATH.
fn default_probe(exe: Option<&Path>) -> Result<PathBuf, String> {
    beside_or_on_path(PROBE_NAME, exe)
        .map_err(|looked| format!("{PROBE_NAME} not found (looked in {}; set H5DOCTOR_PROBE)", looked.join(", ")))
}

/// What decides the choice, read from the environment by [`choose`] and given explicitly in tests.
#[derive(Debug, Default)]
pub struct PickInput<'a> {
    pub explicit: Option<PathBuf>,
    pub exe: Option<PathBuf>,
    pub modules: Option<&'a ModulesFacts>,
    pub ld_library_path: Option<String>,
}

/// Picks the probe and records why; `Err` when there is none at all.
pub fn pick(input: &PickInput) -> Result<(PathBuf, ProbeChoice), String> {
    let wanted = wanted_hdf5(input.modules, input.ld_library_path.as_deref());
    let dirs = input.exe.as_deref().map(probe_dirs).unwrap_or_default();
    let probes = named_probes(&dirs);
    let named_probes: Vec<String> = probes.iter().map(NamedProbe::file_name).collect();
    if let Some(explicit) = &input.explicit {
        return Ok((
            explicit.clone(),
            ProbeChoice {
                by: ProbePickedBy::Explicit,
                why: "H5DOCTOR_PROBE is set".into(),
                wanted: wanted.map(|(_, w)| w),
                named_probes,
            },
        ));
    }
    if let Some((by, w)) = &wanted {
        if let Some(p) = matching(w, &probes) {
            let linking_note = match (w.linking, p.static_link) {
                (Some(Linking::Shared), true) => "; no shared-linked probe of that version, so the static one",
                (Some(Linking::Static), false) => "; no static probe of that version, so the shared one",
                _ => "",
            };
            return Ok((
                p.path.clone(),
                ProbeChoice {
                    by: *by,
                    why: format!("matches the {} ({}){linking_note}", w.source, describe(w)),
                    wanted: Some(w.clone()),
                    named_probes,
                },
            ));
        }
    }
    let path = default_probe(input.exe.as_deref())?;
    let where_ = if dirs.is_empty() {
        "beside h5doctor".to_string()
    } else {
        dirs.iter().map(|d| d.display().to_string()).collect::<Vec<_>>().join(", ")
    };
    let why = match &wanted {
        Some((_, w)) => format!(
            "the default probe: no probe named for the {} ({}) in {where_}{}",
            w.source,
            describe(w),
            if named_probes.is_empty() {
                String::new()
            } else {
                format!(" (found {})", named_probes.join(", "))
            }
        ),
        None => "the default probe: no HDF5 module loaded and no libhdf5 on LD_LIBRARY_PATH".into(),
    };
    Ok((
        path,
        ProbeChoice {
            by: ProbePickedBy::Default,
            why,
            wanted: wanted.map(|(_, w)| w),
            named_probes,
        },
    ))
}

/// [`pick`] with this process's environment: H5DOCTOR_PROBE, its own executable, LD_LIBRARY_PATH.
pub fn choose(modules: Option<&ModulesFacts>) -> Result<(PathBuf, ProbeChoice), String> {
    pick(&PickInput {
        explicit: std::env::var_os("H5DOCTOR_PROBE").filter(|p| !p.is_empty()).map(PathBuf::from),
        exe: std::env::current_exe().ok(),
        modules,
        ld_library_path: std::env::var("LD_LIBRARY_PATH").ok(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn probe_names_are_read_and_others_are_not() {
        let p = NamedProbe::parse(Path::new("/x/h5doctor-probe-1.14.5-serial")).unwrap();
        assert_eq!(
            (p.version.as_str(), p.flavour, p.static_link),
            ("1.14.5", ProbeFlavour::Serial, false)
        );
        let p = NamedProbe::parse(Path::new("/x/h5doctor-probe-2.2.0-parallel-static")).unwrap();
        assert_eq!(
            (p.version.as_str(), p.flavour, p.static_link),
            ("2.2.0", ProbeFlavour::Parallel, true)
        );
        for other in [
            "h5doctor-probe",
            "h5doctor-probe-mpio",
            "h5doctor-probe-x-serial",
            "h5doctor-probe-1.14.5-gpu",
        ] {
            assert_eq!(NamedProbe::parse(Path::new(other)), None, "{other}");
        }
    }

    #[test]
    fn the_same_linking_is_preferred_and_the_other_taken_when_alone() {
        let probe = |name: &str| NamedProbe::parse(Path::new(name)).unwrap();
        let both = [probe("h5doctor-probe-1.14.5-serial-static"), probe("h5doctor-probe-1.14.5-serial")];
        let want = |linking: Option<Linking>| WantedHdf5 {
            version: "1.14.5".into(),
            flavour: ProbeFlavour::Serial,
            linking,
            source: "module hdf5/1.14.5".into(),
        };
        assert!(!matching(&want(Some(Linking::Shared)), &both).unwrap().static_link);
        assert!(matching(&want(Some(Linking::Static)), &both).unwrap().static_link);
        assert!(!matching(&want(None), &both).unwrap().static_link);
        assert!(matching(&want(Some(Linking::Shared)), &both[..1]).unwrap().static_link);
        let parallel = WantedHdf5 {
            flavour: ProbeFlavour::Parallel,
            ..want(None)
        };
        assert_eq!(matching(&parallel, &both), None);
    }
}
