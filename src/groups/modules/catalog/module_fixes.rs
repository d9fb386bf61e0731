//! Module fixes as facts: for a finding whose cure is "load the other module", the exact `module` line of
//! THIS site (resolved against the module index, hierarchy levels and prerequisites first, a conflicting
//! loaded module swapped out; a site pin wins) and a `*_why` sentence naming the module's evidence and the
//! alternatives. Each fact is unknown when no module on MODULEPATH fits, so a rule can offer the line
//! when it exists and say plainly that none exists otherwise (`modules.index_summary`).

use crate::facts::catalog::facts;
use crate::facts::libraries::{BinaryFacts, Hdf5Mismatch};
use crate::facts::modules::resolve::{merge_lines, Hdf5Need, Resolution};
use crate::facts::modules::{version_key, ModulesFacts};
use crate::facts::python::InterpreterFacts;
use crate::facts::values::{Capability, NumpyAbi, PythonStep};
use crate::facts::modules::ModuleInfo;
use crate::facts::values::Hdf5InstallFoundBy;
use crate::facts::{Facts, Hdf5Install, ProbeStatus};
use crate::groups::libraries::catalog::parallel_filters::{lacks_filtered_writes, release_has_parallel_filters};
use serde_json::{json, Value};

/// The module facts when a module system was probed and its index holds something.
fn index(f: &Facts) -> Option<&ModulesFacts> {
    let m = &f.modules;
    (m.status != ProbeStatus::NotRun && m.system.is_present() && !m.index.modules.is_empty()).then_some(m)
}

fn line(r: Option<Resolution>) -> Option<Value> {
    r.map(|r| json!(r.line))
}

fn why(r: Option<Resolution>) -> Option<Value> {
    r.map(|r| json!(r.why))
}

/// `1.10.8`, `(1, 10, 8)`, `1.10.8-patch1` -> `1.10.8`.
fn release(v: &str) -> Option<String> {
    let nums: Vec<&str> = v.split(|c: char| !c.is_ascii_digit()).filter(|p| !p.is_empty()).take(3).collect();
    (nums.len() >= 2).then(|| nums.join("."))
}

/// Several needs of one finding met together (a binary missing two libraries, or lacking versions of
/// two): for each need in order, the module `pick` names, unless a module picked for an earlier need meets
/// it as well (`meets`, by the module's name/version); one line that loads them all (see
/// [`merge_lines`]), and the sentences joined. The positions of the needs no module meets come back
/// apart, so the rule can say what to ask the administrators for. `None` when no need is met.
fn cover<N>(needs: &[N], pick: impl Fn(&N) -> Option<Resolution>, meets: impl Fn(&str, &N) -> bool) -> (Option<Resolution>, Vec<usize>) {
    let mut picked: Vec<Resolution> = Vec::new();
    let mut unmet: Vec<usize> = Vec::new();
    for (at, need) in needs.iter().enumerate() {
        if picked.iter().any(|r| meets(&r.module, need)) {
            continue;
        }
        match pick(need) {
            Some(r) => picked.push(r),
            None => unmet.push(at),
        }
    }
    let resolution = match picked.len() {
        0 => None,
        1 => picked.pop(),
        _ => Some(Resolution {
            line: merge_lines(picked.iter().map(|r| r.line.as_str())),
            module: picked.iter().map(|r| r.module.as_str()).collect::<Vec<_>>().join(" "),
            why: picked.iter().map(|r| r.why.as_str()).collect::<Vec<_>>().join("; and "),
        }),
    };
    (resolution, unmet)
}

/// The missing libraries of a binary, each once, in the order the loader met them.
fn missing_sonames(b: &BinaryFacts) -> Vec<&str> {
    let mut names: Vec<&str> = Vec::new();
    for miss in &b.missing {
        if !names.contains(&miss.name.as_str()) {
            names.push(&miss.name);
        }
    }
    names
}

/// Whether the module `full_name` of the index holds a file named `soname` in its library directories.
fn module_holds(m: &ModulesFacts, full_name: &str, soname: &str) -> bool {
    m.index
        .modules
        .iter()
        .any(|x| x.full_name == full_name && x.libraries.iter().any(|l| l == soname))
}

/// The modules that provide the missing libraries of a binary: for each, the module of the index that
/// holds it, unless a module named for an earlier one holds it too; one line for all of them.
fn missing_modules<'b>(f: &Facts, b: &'b BinaryFacts) -> Option<(Option<Resolution>, Vec<&'b str>)> {
    let m = index(f)?;
    let names = missing_sonames(b);
    let (r, unmet) = cover(&names, |n| m.resolve_soname(n), |module, n| module_holds(m, module, n));
    Some((r, unmet.into_iter().map(|at| names[at]).collect()))
}

/// The module line that provides the missing libraries of a binary (all those a module holds).
fn missing_module(f: &Facts, b: &BinaryFacts) -> Option<Resolution> {
    let (r, unmet) = missing_modules(f, b)?;
    let mut r = r?;
    if !unmet.is_empty() {
        r.why.push_str(&format!(
            "; no module on MODULEPATH holds {} (see the fix below)",
            unmet.join(", ")
        ));
    }
    Some(r)
}

/// The missing libraries of a binary that no module holds, when a module line provides the others.
fn missing_without_module(f: &Facts, b: &BinaryFacts) -> Option<Value> {
    let (r, unmet) = missing_modules(f, b)?;
    (r.is_some() && !unmet.is_empty()).then(|| json!(unmet.join(", ")))
}

/// The HDF5 module a binary needs: the release it was built for (a mismatch), or one exporting the
/// undefined H5* symbols (parallel for `*_mpio`) with the soname it links.
fn hdf5_module(f: &Facts, b: &BinaryFacts) -> Option<Resolution> {
    let m = index(f)?;
    if let Some(mm) = b.hdf5_mismatch.first() {
        if let Some(unload) = shadowing_module(f, b, mm) {
            return Some(unload);
        }
        return m
            .resolve_hdf5(&Hdf5Need {
                version: release(&mm.built_for),
                ..Hdf5Need::default()
            })
            .map(|mut r| {
                r.why.push_str(": the release the program was built for");
                r
            });
    }
    let h5: Vec<_> = b.undefined.iter().filter(|u| u.symbol.starts_with("H5")).collect();
    if h5.is_empty() {
        return None;
    }
    m.resolve_hdf5(&Hdf5Need {
        parallel: h5.iter().any(|u| u.symbol.contains("mpio") || u.symbol.contains("_mpi")),
        soname: b.hdf5_libraries.first().map(|l| l.name.clone()),
        ..Hdf5Need::default()
    })
}

/// `module unload NAME` when the mismatch comes from a loaded module rather than from a missing release:
/// a library of a loaded module that is not an HDF5 module (a profiler such as Darshan, carrying its own
/// libhdf5) was built for another HDF5 than the one the program runs with; or a loaded module already
/// provides the release the binary was built for and another loaded module's libhdf5 comes first. Loading
/// an HDF5 module would change nothing there (it is loaded), unloading the other module does.
fn shadowing_module(f: &Facts, b: &BinaryFacts, mm: &Hdf5Mismatch) -> Option<Resolution> {
    let m = &f.modules;
    let built = release(&mm.built_for)?;
    let runtime_owner = m.loaded_owner_of(&mm.runtime_path, b);
    let unload = |owner: &crate::facts::modules::LoadedModule, why: String| {
        let u = m.unload(owner);
        Resolution {
            line: u.line,
            module: u.module,
            why: format!("{why}{}", u.pulled_in),
        }
    };
    let is_hdf5_module = |name: &str| name.to_ascii_lowercase().contains("hdf5");
    if let Some(importer) = m.loaded_owner_of(&mm.importer, b).filter(|o| !is_hdf5_module(&o.name)) {
        if let Some(runs) = runtime_owner.filter(|r| r.full_name != importer.full_name) {
            let file = mm.importer.rsplit('/').next().unwrap_or(&mm.importer);
            return Some(unload(
                importer,
                format!(
                    "{} is not an HDF5 module but brings {file}, built for HDF5 {built}, while the program runs with HDF5 {} of {}",
                    importer.full_name, mm.runtime, runs.full_name
                ),
            ));
        }
    }
    let provider = m.loaded.iter().find(|l| {
        l.info
            .as_ref()
            .and_then(|i| i.hdf5.as_ref())
            .and_then(|h| h.version.as_deref())
            .and_then(release)
            .is_some_and(|v| v == built)
    })?;
    let owner = runtime_owner.filter(|o| o.full_name != provider.full_name)?;
    Some(unload(
        owner,
        format!(
            "{} is loaded and provides HDF5 {built}, but the libhdf5 of {} (HDF5 {}) comes first",
            provider.full_name, owner.full_name, mm.runtime
        ),
    ))
}

/// `module unload NAME` for the loaded module that brings a second libhdf5 into the closure: of the
/// loaded modules whose library directories hold one, an HDF5 module (by name) is kept before one that
/// merely carries a libhdf5 (an I/O profiler, a bundle), then the one whose library comes first; the
/// next one is unloaded.
fn hdf5_unload(f: &Facts, b: &BinaryFacts) -> Option<Value> {
    let m = &f.modules;
    if m.status == ProbeStatus::NotRun || m.loaded.is_empty() {
        return None;
    }
    let mut owners: Vec<(bool, usize, &crate::facts::modules::LoadedModule)> = Vec::new();
    for (pos, lib) in b.hdf5_libraries.iter().enumerate() {
        if let Some(owner) = m.loaded_owner_of(&lib.path, b) {
            if !owners.iter().any(|(_, _, o)| o.full_name == owner.full_name) {
                let by_name = owner.name.to_ascii_lowercase().contains("hdf5");
                owners.push((by_name, pos, owner));
            }
        }
    }
    owners.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
    if b.hdf5_libraries.len() < 2 {
        return None;
    }
    // One owner only: it brings the second library when the first comes from elsewhere.
    let unload = match owners.as_slice() {
        [] => return None,
        [(_, pos, only)] => (*pos > 0).then_some(*only)?,
        [_, (_, _, second), ..] => *second,
    };
    Some(json!(m.unload(unload).line))
}

/// One library lacking symbol versions a binary needs (lib-version-missing; not glibc's, not HDF5's or
/// MPI's): the first missing entry of it, every version the binary lacks of it, and the modules holding
/// another copy of it: not the module (or directory) the lacking copy was found in, compared as the
/// probes recorded both resolved.
struct VersionNeed<'a> {
    miss: &'a crate::facts::libraries::MissingVersion,
    versions: Vec<&'a str>,
    others: Vec<&'a crate::facts::modules::ModuleInfo>,
}

impl VersionNeed<'_> {
    /// Whether the module's copy of the library was read (its version table) or none of the others' was
    /// (facts recorded before the tables were read: any other copy, which the verification then proves or
    /// not), and it defines every version the binary lacks of it.
    fn fits(&self, x: &crate::facts::modules::ModuleInfo) -> bool {
        let read = self.others.iter().any(|o| o.library_versions.contains_key(&self.miss.file));
        match x.library_versions.get(&self.miss.file) {
            Some(copy) => copy.defines_all(self.versions.iter().copied()),
            None => !read,
        }
    }

    /// `libfoo.so.1 (FOO_2.0)`.
    fn words(&self) -> String {
        format!("{} ({})", self.miss.file, self.versions.join(", "))
    }
}

/// The libraries (each once, in the order the loader met them) lacking versions a binary needs.
fn version_needs<'a>(f: &'a Facts, b: &'a BinaryFacts) -> Option<Vec<VersionNeed<'a>>> {
    let m = index(f)?;
    let other = |v: &crate::facts::libraries::MissingVersion| !v.version.starts_with("GLIBC_") && !v.in_hdf5_or_mpi();
    let mut needs: Vec<VersionNeed<'a>> = Vec::new();
    for miss in b.missing_versions.iter().filter(|v| other(v)) {
        if needs.iter().any(|n| n.miss.file == miss.file) {
            continue;
        }
        let mut versions: Vec<&str> = Vec::new();
        for v in b.missing_versions.iter().filter(|v| other(v) && v.file == miss.file) {
            if !versions.contains(&v.version.as_str()) {
                versions.push(&v.version);
            }
        }
        let Some(lacking_dir) = miss.file_path.rsplit_once('/').map(|(d, _)| d.trim_end_matches('/').to_string()) else {
            continue;
        };
        // Both sides as the probes recorded them resolved on the node (a replay reads no file system).
        let lacking_resolved = b.resolved_dir_of(&miss.file_path);
        let others: Vec<&crate::facts::modules::ModuleInfo> = m
            .index
            .modules
            .iter()
            .filter(|x| x.libraries.contains(&miss.file))
            .filter(|x| {
                !x.library_dirs()
                    .any(|d| d.trim_end_matches('/') == lacking_dir || x.resolved_dir(d) == lacking_resolved)
            })
            .collect();
        needs.push(VersionNeed { miss, versions, others });
    }
    (!needs.is_empty()).then_some(needs)
}

/// The module line for the libraries lacking symbol versions the program needs (lib-version-missing):
/// for each library, a module whose library directories hold another copy of it that defines every
/// version the program lacks of it, as the modules probe read each copy's version table
/// (`ModuleInfo::library_versions`); a module whose copies fit more of the libraries first (one module for
/// all when there is one), then the default. Several libraries give one line loading the modules of all
/// of them (the finding is gone only when every library is). Also the needs no module meets.
fn version_modules<'a>(f: &'a Facts, b: &'a BinaryFacts) -> Option<(Option<Resolution>, Vec<VersionNeed<'a>>)> {
    let m = index(f)?;
    let needs = version_needs(f, b)?;
    let fits_count = |x: &crate::facts::modules::ModuleInfo| -> u8 {
        needs
            .iter()
            .filter(|n| n.others.iter().any(|o| o.full_name == x.full_name) && n.fits(x))
            .count()
            .try_into()
            .unwrap_or(u8::MAX)
    };
    let pick = |n: &VersionNeed| -> Option<Resolution> {
        let fitting: Vec<&crate::facts::modules::ModuleInfo> = n.others.iter().copied().filter(|x| n.fits(x)).collect();
        let mut r = m.choose_preferring(fitting, fits_count, |x| {
            let dir = match x.library_versions.get(&n.miss.file) {
                Some(copy) => copy.path.rsplit_once('/').map_or(copy.path.clone(), |(d, _)| d.to_string()),
                None => x.library_dirs().next().cloned().unwrap_or_default(),
            };
            format!("adds {dir}, which holds another {}", n.miss.file)
        })?;
        r.why = format!(
            "{} lacks {} (needed by {}); {}",
            n.miss.file_path,
            n.versions.join(", "),
            n.miss.required_by,
            r.why
        );
        Some(r)
    };
    let meets = |module: &str, n: &VersionNeed| n.others.iter().any(|o| o.full_name == module && n.fits(o));
    let (r, unmet) = cover(&needs, pick, meets);
    let unmet: Vec<VersionNeed<'a>> = needs
        .into_iter()
        .enumerate()
        .filter(|(at, _)| unmet.contains(at))
        .map(|(_, n)| n)
        .collect();
    Some((r, unmet))
}

/// The module line for the libraries lacking versions (see [`version_modules`]); when a library is left
/// that no module's copy fixes, the sentence says so.
fn version_module(f: &Facts, b: &BinaryFacts) -> Option<Resolution> {
    let (r, unmet) = version_modules(f, b)?;
    let mut r = r?;
    if !unmet.is_empty() {
        let words: Vec<String> = unmet.iter().map(VersionNeed::words).collect();
        r.why.push_str(&format!(
            "; no module on MODULEPATH holds a copy of {} that defines {} (see the fix below)",
            words.join(", "),
            if unmet.len() == 1 { "it" } else { "them" }
        ));
    }
    Some(r)
}

/// The libraries lacking versions that no module's copy fixes, when a module line fixes the others:
/// `libbar.so.2 (BAR_2.0)`.
fn version_libraries_without_module(f: &Facts, b: &BinaryFacts) -> Option<Value> {
    let (r, unmet) = version_modules(f, b)?;
    (r.is_some() && !unmet.is_empty()).then(|| json!(unmet.iter().map(VersionNeed::words).collect::<Vec<_>>().join(", ")))
}

/// The modules holding another copy of a library that lacks a version, none of which defines every
/// version the program lacks of it (their version tables read), when no module line fixes any of them:
/// `foo/1.0 (…/libfoo.so.1 defines FOO_1.0) holds libfoo.so.1 without FOO_2.0`, per library.
fn version_modules_lacking(f: &Facts, b: &BinaryFacts) -> Option<Value> {
    let (r, unmet) = version_modules(f, b)?;
    if r.is_some() {
        return None;
    }
    let sentences: Vec<String> = unmet
        .iter()
        .filter_map(|n| {
            let lacking: Vec<String> = n
                .others
                .iter()
                .filter_map(|x| {
                    let copy = x.library_versions.get(&n.miss.file)?;
                    let defines = match &copy.defines {
                        Some(d) if d.is_empty() => "defines no version".to_string(),
                        Some(d) => format!("defines only {}", d.join(", ")),
                        None => return None,
                    };
                    Some(format!("{} ({} {defines})", x.full_name, copy.path))
                })
                .collect();
            (!lacking.is_empty()).then(|| {
                format!(
                    "{} hold{} {} without {}",
                    lacking.join(", "),
                    if lacking.len() == 1 { "s" } else { "" },
                    n.miss.file,
                    n.versions.join(", ")
                )
            })
        })
        .collect();
    (!sentences.is_empty()).then(|| json!(sentences.join("; ")))
}

/// `module unload NAME` for the loaded module that brings a second MPI library into one process
/// (mpi-abi-mix): the MPI libraries of the closure in order, each with the loaded module whose library
/// directories hold it; the first library's MPI is the one the program runs with, and the module of the
/// first library of another family is unloaded (through the module that pulled it in, when it was
/// loaded automatically).
fn mpi_unload(f: &Facts, b: &BinaryFacts) -> Option<Resolution> {
    let m = &f.modules;
    if m.status == ProbeStatus::NotRun || m.loaded.is_empty() {
        return None;
    }
    let first = b.mpi_libraries.first()?;
    let other = b.mpi_libraries.iter().find(|l| l.family != first.family)?;
    let owner = m.loaded_owner_of(&other.path, b)?;
    if m.loaded_owner_of(&first.path, b).is_some_and(|o| o.full_name == owner.full_name) {
        return None;
    }
    let family = |l: &crate::facts::libraries::ClosureLib| l.family.map_or("an unknown MPI".to_string(), |f| f.to_string());
    let u = m.unload(owner);
    Some(Resolution {
        why: format!(
            "{} brings {} ({}) into the process, which runs with {} ({}){}",
            owner.full_name,
            other.path,
            family(other),
            first.path,
            family(first),
            u.pulled_in
        ),
        line: u.line,
        module: u.module,
    })
}

/// The parallel HDF5 module that can write filtered datasets in parallel (mpiio-filters-independent with
/// a library that cannot): a module whose libhdf5 is parallel and of release 1.10.2 or later, not one whose
/// directories hold a library that cannot (the verification on the spot re-reads its settings).
fn parallel_filters_module(f: &Facts) -> Option<Resolution> {
    let m = index(f)?;
    let lacking: Vec<(&crate::facts::libraries::LibraryInfo, String)> = f
        .libraries
        .inventory
        .iter()
        .filter_map(|l| Some((l, lacks_filtered_writes(l)?)))
        .collect();
    let (first, reason) = lacking.first()?;
    let dir_of = |p: &str| p.rsplit_once('/').map(|(d, _)| d.trim_end_matches('/').to_string());
    let lacking_dirs: Vec<String> = lacking
        .iter()
        .flat_map(|(l, _)| [dir_of(&l.path), dir_of(&l.real_path)])
        .flatten()
        .collect();
    let fitting: Vec<&crate::facts::modules::ModuleInfo> = m
        .index
        .modules
        .iter()
        .filter(|x| x.provides(Capability::Hdf5Parallel))
        .filter(|x| {
            x.hdf5
                .as_ref()
                .and_then(|h| h.version.as_deref())
                .is_some_and(release_has_parallel_filters)
        })
        .filter(|x| {
            !x.library_dirs()
                .any(|d| lacking_dirs.contains(&d.trim_end_matches('/').to_string()))
        })
        .collect();
    let mut r = m.choose_among(fitting, |x| {
        format!(
            "holds HDF5 {} (parallel), a release with parallel filtered writes",
            x.hdf5.as_ref().and_then(|h| h.version.as_deref()).unwrap_or("?")
        )
    })?;
    r.why = format!("{}: {reason}; {}", first.summary(), r.why);
    Some(r)
}

/// The HDF5 module of the newest release on this site, newer than the HDF5 h5doctor-probe loaded here
/// (file-format-too-new: a reader needs at least the writer's release, which the file does not name).
/// Loading it makes h5doctor run the probe named for that HDF5 when the site keeps one, which is how the
/// verification on the spot re-reads the file with it.
fn newer_hdf5_module(f: &Facts) -> Option<Resolution> {
    let m = index(f)?;
    let here = f.hdf5.library.as_ref().map(|l| version_key(&l.version))?;
    let release = module_hdf5_release;
    let newer: Vec<&crate::facts::modules::ModuleInfo> = m
        .index
        .modules
        .iter()
        .filter(|x| release(x).is_some_and(|v| version_key(&v) > here))
        .collect();
    let newest = newer.iter().filter_map(|x| release(x)).max_by_key(|v| version_key(v))?;
    let others: Vec<String> = newer
        .iter()
        .filter(|x| release(x).as_deref() != Some(newest.as_str()))
        .map(|x| x.full_name.clone())
        .collect();
    let fitting: Vec<&crate::facts::modules::ModuleInfo> = newer
        .into_iter()
        .filter(|x| release(x).as_deref() == Some(newest.as_str()))
        .collect();
    let mut r = m.choose_among(fitting, |x| {
        let by_name = if x.hdf5.is_none() { " (by its name and version)" } else { "" };
        format!(
            "holds HDF5 {}{by_name}, the newest release on MODULEPATH",
            release(x).unwrap_or_default()
        )
    })?;
    if !others.is_empty() {
        r.why.push_str(&format!("; also newer than this node's: {}", others.join(", ")));
    }
    Some(r)
}

/// The module that provides mpi4py to the interpreter an MPI-IO test ran through (`mpio-test --python`)
/// when it could not import it: for that interpreter's Python series and the MPI of its h5py (the MPI
/// libraries h5py's extensions mapped, else the loaded MPI module's family).
fn mpi4py_module(f: &Facts) -> Option<Resolution> {
    let m = index(f)?;
    let py = f.mpi.python.as_ref()?;
    if py.mpi4py_version.is_some() || py.failed_step != Some(PythonStep::ImportMpi4py) {
        return None;
    }
    let python = py
        .python_version
        .clone()
        .or_else(|| f.python.interpreters.first().and_then(|i| i.version.clone()));
    let family = py
        .h5py_mpi_libraries
        .iter()
        .map(|p| crate::elf::libraries::mpi_family(p.rsplit('/').next().unwrap_or(p), None))
        .find(|fam| *fam != "unknown")
        .and_then(|fam| fam.parse().ok())
        .or_else(|| m.loaded_mpi_family());
    let mut r = m.resolve_mpi4py(python.as_deref(), family)?;
    let mut words: Vec<String> = Vec::new();
    words.extend(python.as_deref().map(|p| format!("Python {p}")));
    words.extend(family.map(|fam| format!("its h5py on {fam}")));
    let words = if words.is_empty() {
        String::new()
    } else {
        format!(" ({})", words.join(", "))
    };
    r.why = format!("{}{words} has no mpi4py; {}", py.interpreter, r.why);
    Some(r)
}

/// The release an HDF5 module holds: what its libhdf5 says, else (an HDF5 module whose directories hold no
/// shared libhdf5: a static-only build, a prefix not on this node) its version.
fn module_hdf5_release(x: &crate::facts::modules::ModuleInfo) -> Option<String> {
    match &x.hdf5 {
        Some(h) => h.version.clone(),
        None if x.provides_hdf5() && x.hdf5_evidence == Some(crate::facts::values::Hdf5Evidence::Name) => {
            x.version.as_deref().and_then(release)
        }
        None => None,
    }
}

/// The HDF5 module of a release that reads every HDF5 plugin variable set (HDF5_VOL_CONNECTOR from 1.12,
/// HDF5_DRIVER and HDF5_DRIVER_CONFIG from 1.14) when an HDF5 here is too old to read one
/// (hdf5-env-plugin-unavailable): with it loaded, the job's programs built against it use the connector or
/// driver instead of silently running without. The verification on the spot re-runs the HDF5 probe named
/// for that module's HDF5.
fn plugin_reader_module(f: &Facts) -> Option<Resolution> {
    use crate::groups::hdf5::catalog::hdf5_env::{first_reader, ignored_by, major_minor};
    let m = index(f)?;
    let set = f.env.hdf5_plugin_vars();
    if ignored_by(f).is_empty() {
        return None;
    }
    let need = set.iter().map(|v| first_reader(v)).max()?;
    let fitting: Vec<&crate::facts::modules::ModuleInfo> = m
        .index
        .modules
        .iter()
        .filter(|x| module_hdf5_release(x).as_deref().and_then(major_minor).is_some_and(|v| v >= need))
        .collect();
    let vars = set.join(" and ");
    m.choose_among(fitting, |x| {
        format!(
            "holds HDF5 {}, which reads {vars} (HDF5 {}.{} and later do)",
            module_hdf5_release(x).unwrap_or_default(),
            need.0,
            need.1
        )
    })
}

/// The Cray PE's parallel HDF5 for a loaded serial `cray-hdf5` in an MPI environment
/// (cray-hdf5-serial-vs-parallel): `cray-hdf5-parallel` of the loaded cray-hdf5's version, else its
/// default, swapped in (both are of family `hdf5`); with both loaded, `module unload` of the serial one.
fn cray_hdf5_parallel_module(f: &Facts) -> Option<Resolution> {
    let m = index(f)?;
    let serial = m.loaded.iter().rev().find(|l| l.name == "cray-hdf5")?;
    if let Some(parallel) = m.loaded.iter().find(|l| l.name == "cray-hdf5-parallel") {
        let u = m.unload(serial);
        return Some(Resolution {
            line: u.line,
            module: u.module,
            why: format!(
                "{} and {} are both loaded; without the serial one, {} is the HDF5 of this environment{}",
                serial.full_name, parallel.full_name, parallel.full_name, u.pulled_in
            ),
        });
    }
    m.resolve_hdf5_companion("cray-hdf5-parallel", serial, Capability::Hdf5Parallel)
}

/// The MPI family a parallel HDF5 or h5py must be built with here: the one the launcher starts (Open MPI's
/// mpirun, srun's PMIx or PMI-2 plugin, hydra), else the loaded MPI module's.
fn wanted_mpi_family(f: &Facts, m: &ModulesFacts) -> Option<crate::facts::values::ModuleMpiFamily> {
    use crate::facts::values::{LauncherMpiFamily, ModuleMpiFamily};
    match crate::groups::python::catalog::python::launcher_family(&f.python.env) {
        Some(LauncherMpiFamily::Openmpi) => Some(ModuleMpiFamily::Openmpi),
        Some(LauncherMpiFamily::Mpich) => Some(ModuleMpiFamily::Mpich),
        Some(LauncherMpiFamily::None) | None => m.loaded_mpi_family(),
    }
}

/// The parallel HDF5 module to swap the loaded serial HDF5 module for in an MPI environment
/// (module-hdf5-serial-with-mpi): built with the MPI family of this environment, the serial one's release
/// first; hierarchy levels and prerequisites first in the line.
fn hdf5_parallel_swap(f: &Facts) -> Option<Resolution> {
    let m = index(f)?;
    let serial = *m.loaded_with(Capability::Hdf5Serial).first()?;
    m.resolve_parallel_hdf5_for(serial, wanted_mpi_family(f, m))
}

/// The module line that provides the libraries h5doctor-probe cannot find (all those a module holds; one
/// module for several when it holds them).
fn probe_missing_module(f: &Facts) -> Option<Resolution> {
    let m = index(f)?;
    let missing = f.hdf5.probe_loader.as_ref()?;
    let names = missing_sonames(missing);
    cover(&names, |n| m.resolve_soname(n), |module, n| module_holds(m, module, n)).0
}

/// The command that rebuilds h5doctor-probe against the HDF5 in `dir`.
fn probe_build(dir: &str) -> String {
    format!("HDF5_DIR={dir} cargo build --release -p h5doctor-probe")
}

/// Why the rebuild names this installation of the node, and whether the rebuilt probe will find its library.
fn install_why(i: &Hdf5Install, all: &[Hdf5Install]) -> String {
    let mut why = format!(
        "{} has HDF5 {}{} (include/H5pubconf.h, {}/libhdf5.so), found by {}",
        i.dir,
        i.version.as_deref().unwrap_or("of unknown version"),
        if i.parallel { ", parallel" } else { "" },
        i.lib_dir,
        i.how
    );
    if i.has_missing_library {
        why.push_str("; its library directory holds the library the probe misses");
    }
    why.push_str(match i.found_by {
        Hdf5InstallFoundBy::LdSoCache => "; the loader finds its library, so the rebuilt probe starts as it is",
        Hdf5InstallFoundBy::LdLibraryPath => "; its library directory is on LD_LIBRARY_PATH, so keep it there when h5doctor runs",
        _ => "; put its library directory on LD_LIBRARY_PATH when h5doctor runs the rebuilt probe",
    });
    let others: Vec<&str> = all.iter().filter(|o| o.dir != i.dir).map(|o| o.dir.as_str()).collect();
    if !others.is_empty() {
        why.push_str(&format!(". Also here: {}", others.join(", ")));
    }
    why
}

/// The prefix an HDF5 module sets (`setenv HDF5_DIR`, `HDF5_ROOT` or `HDF5_HOME` in its modulefile).
fn module_hdf5_prefix(m: &ModuleInfo) -> Option<&str> {
    ["HDF5_DIR", "HDF5_ROOT", "HDF5_HOME"]
        .iter()
        .find_map(|v| m.setenv.get(*v))
        .map(String::as_str)
        .filter(|d| d.starts_with('/'))
}

/// The line that rebuilds h5doctor-probe against a real HDF5, when the probe cannot start
/// (probe-unavailable): an installation this job's environment names (the missing library's own prefix,
/// `$HDF5_DIR`, LD_LIBRARY_PATH), else an HDF5 module of this site that sets its prefix (loaded first in the
/// same line, serial first, then the default), else an installation of the node (the loader's cache,
/// `/usr/local/hdf5`). `None` when there is none, or in facts from before h5doctor looked.
fn probe_rebuild(f: &Facts) -> Option<Resolution> {
    let search = f.hdf5.install_search.as_ref()?;
    let mut installs: Vec<&Hdf5Install> = search.installs.iter().collect();
    installs.sort_by_key(|i| (!i.found_by.from_environment(), !i.has_missing_library));
    let node = |i: &Hdf5Install| Resolution {
        line: probe_build(&i.dir),
        module: String::new(),
        why: install_why(i, &search.installs),
    };
    if let Some(i) = installs.first().filter(|i| i.found_by.from_environment()) {
        return Some(node(i));
    }
    let from_module = index(f).and_then(|m| {
        let candidates: Vec<&ModuleInfo> = m.index.modules.iter().filter(|c| c.provides_hdf5() && module_hdf5_prefix(c).is_some()).collect();
        let r = m.choose_preferring(
            candidates,
            |c| u8::from(c.provides(Capability::Hdf5Serial)),
            |c| format!("sets HDF5_DIR {} in its modulefile", module_hdf5_prefix(c).unwrap_or_default()),
        )?;
        let chosen = m.index.modules.iter().find(|c| c.full_name == r.module)?;
        let dir = module_hdf5_prefix(chosen)?;
        Some(Resolution {
            line: format!("{} && {}", r.line, probe_build(dir)),
            why: format!("{}; keep it loaded when h5doctor runs the rebuilt probe", r.why),
            module: r.module,
        })
    });
    from_module.or_else(|| installs.first().map(|i| node(i)))
}

/// The libraries the plugins of a plugin directory need and the loader cannot find, each once: from the
/// probe's dlopen errors and h5doctor's own resolver (`libz.so.1: cannot open shared object file ...`).
fn plugin_missing_sonames(d: &crate::facts::PluginDirFacts) -> Vec<String> {
    let mut names: Vec<String> = Vec::new();
    let texts = d
        .plugins
        .iter()
        .flat_map(|p| p.load.iter().filter(|l| !l.ok).filter_map(|l| l.error.as_deref()).chain(p.loader_refuses.iter().map(String::as_str)));
    for text in texts {
        let Some((before, _)) = text.split_once(": cannot open shared object file") else {
            continue;
        };
        let word = before.rsplit([' ', '/']).next().unwrap_or(before);
        if word.contains(".so") && !names.iter().any(|n| n == word) {
            names.push(word.to_string());
        }
    }
    names
}

/// The module line that provides the libraries the plugins of a plugin directory cannot find (all those a
/// module holds; one module for several when it holds them).
fn plugin_missing_module(f: &Facts, d: &crate::facts::PluginDirFacts) -> Option<Resolution> {
    let m = index(f)?;
    let names = plugin_missing_sonames(d);
    let mut r = cover(&names, |n| m.resolve_soname(n), |module, n| module_holds(m, module, n)).0?;
    r.why = format!("The plugins need {}, which the loader cannot find; {}", names.join(", "), r.why);
    Some(r)
}

/// The parallel h5py module for this interpreter: its extensions built for the interpreter's Python series
/// and the MPI family the launcher starts (Open MPI's mpirun, srun's PMIx or PMI-2 plugin, hydra), else
/// the loaded MPI module's.
fn h5py_parallel(f: &Facts, i: &InterpreterFacts) -> Option<Resolution> {
    let m = index(f)?;
    m.resolve_h5py_parallel(i.version.as_deref(), wanted_mpi_family(f, m))
}

/// The Python (or h5py) module that holds this interpreter's h5py, else a Python module of its version.
fn h5py_python(f: &Facts, i: &InterpreterFacts) -> Option<Resolution> {
    let location = i.h5py.as_ref().map(|h| h.location.dir.clone());
    index(f)?.resolve_python_for(location.as_deref(), None)
}

/// Whether an h5py built as described runs with NumPy `version`: a NumPy-1 build on a NumPy 1.x no older
/// than the release it was built against (older ones have smaller structs and C-API); a NumPy-2 build on
/// NumPy down to the oldest release its C-API check names (NumPy 2 when that is not known); a build of
/// unknown ABI on the series it was built against, no older than that release.
fn h5py_runs_with(abi: Option<&NumpyAbi>, built: Option<&str>, oldest: Option<&str>, version: &str) -> bool {
    let at_least = |v: &str, min: &str| version_key(v) >= version_key(min);
    let major = |v: &str| v.split('.').next().and_then(|m| m.parse::<u64>().ok());
    match abi {
        Some(NumpyAbi::V1) => major(version) == Some(1) && built.is_none_or(|b| at_least(version, b)),
        Some(NumpyAbi::V2) => match oldest {
            Some(o) => at_least(version, o),
            None => major(version).is_some_and(|m| m >= 2),
        },
        None => built.is_some_and(|b| major(b) == major(version) && at_least(version, b)),
    }
}

/// `built for NumPy 1.x`, `built against NumPy 1.21.6`, `built for NumPy 2 (runs on NumPy >= 1.19)`.
fn h5py_build_words(abi: Option<&NumpyAbi>, built: Option<&str>, oldest: Option<&str>) -> String {
    match (abi, built, oldest) {
        (Some(NumpyAbi::V2), _, Some(o)) => format!("built for NumPy 2, runs on NumPy >= {o}"),
        (_, Some(b), _) => format!("built against NumPy {b}"),
        (Some(NumpyAbi::V1), None, _) => "built for NumPy 1.x".into(),
        _ => "built for NumPy 2".into(),
    }
}

/// The module fix when the NumPy this interpreter imports is not one its h5py can run with (an h5py built
/// for NumPy 1.x meeting NumPy 2, numpy-2-abi; a struct-size mismatch, numpy-abi-dtype-size; a C-API too
/// old, numpy-capi-version), in this order of preference:
/// 1. the h5py module built for the NumPy that is imported: a version of the loaded module that puts this
///    h5py on PYTHONPATH (`module swap`), or, when h5py is not a module's, a module holding such an h5py
///    (`module load`), as the index read its extensions;
/// 2. the loaded module whose PYTHONPATH directory holds that NumPy (and not h5py), swapped for a version
///    of it whose NumPy this h5py runs with;
/// 3. that module unloaded, so the interpreter's own NumPy is imported again (through the module that
///    pulled it in when it was loaded automatically);
/// 4. when no loaded module put that NumPy there: a NumPy module whose NumPy this h5py runs with, loaded.
fn numpy_module(f: &Facts, i: &InterpreterFacts) -> Option<Resolution> {
    let m = &f.modules;
    if m.status == ProbeStatus::NotRun || !m.system.is_present() {
        return None;
    }
    let numpy = i.numpy.as_ref()?;
    let numpy_version = numpy.location.version.clone().or_else(|| i.import.numpy_version.clone());
    let h5py = i.h5py.as_ref();
    let h5py_dir = h5py.map(|h| h.location.dir.clone());
    let under = |path: &str, dir: &String| {
        let dir = dir.trim_end_matches('/');
        !dir.is_empty() && dir != "/usr" && (path == dir || path.starts_with(&format!("{dir}/")))
    };
    let pythonpath = |l: &crate::facts::modules::LoadedModule| -> Vec<String> {
        l.info
            .as_ref()
            .and_then(|info| info.paths.get("PYTHONPATH"))
            .cloned()
            .unwrap_or_default()
    };
    if let Some(r) = numpy_version.as_deref().and_then(|v| h5py_module_for(f, i, v)) {
        return Some(r);
    }
    let carrier = m.loaded.iter().rev().find(|l| {
        let dirs = pythonpath(l);
        dirs.iter().any(|d| under(&numpy.location.dir, d)) && !h5py_dir.as_ref().is_some_and(|h| dirs.iter().any(|d| under(h, d)))
    });
    let Some(carrier) = carrier else {
        return numpy_module_to_load(f, i, numpy_version.as_deref()?);
    };
    let carries = format!(
        "{} puts NumPy {} on PYTHONPATH ({})",
        carrier.full_name,
        numpy_version.as_deref().unwrap_or("?"),
        numpy.location.entry
    );
    let unload = m.unload(carrier);
    let abi = h5py.and_then(|h| h.numpy_abi.as_ref());
    let built = h5py.and_then(|h| h.numpy_built.as_deref());
    if unload.module == carrier.full_name && (abi.is_some() || built.is_some()) {
        // A version of the same module with a NumPy this h5py runs with, as the index read it from its
        // PYTHONPATH.
        let fitting: Vec<&crate::facts::modules::ModuleInfo> = m
            .index
            .modules
            .iter()
            .filter(|x| x.name == carrier.name && x.full_name != carrier.full_name)
            .filter(|x| x.python_packages.get("numpy").is_some_and(|v| h5py_runs_with(abi, built, None, v)))
            .collect();
        let words = if abi == Some(&NumpyAbi::V1) && numpy_version.as_deref().is_some_and(|v| !v.starts_with("1.")) {
            "built for NumPy 1.x".to_string()
        } else {
            h5py_build_words(abi, built, None)
        };
        if let Some(mut r) = m.choose_among(fitting, |x| {
            format!(
                "holds NumPy {}, which h5py ({words}) runs with",
                x.python_packages.get("numpy").map_or("?", String::as_str)
            )
        }) {
            r.why = format!("{carries}; {}", r.why);
            return Some(r);
        }
    }
    Some(Resolution {
        why: format!(
            "{carries}, which this h5py cannot run with; without it the interpreter's own NumPy is imported{}",
            unload.pulled_in
        ),
        line: unload.line,
        module: unload.module,
    })
}

/// `module unload NAME` for the loaded module that puts a polluting entry on PYTHONPATH
/// (python-path-pollution): of the packages imported from outside the interpreter through PYTHONPATH (h5py,
/// then NumPy, then mpi4py), the first whose entry a loaded module's modulefile adds to PYTHONPATH (the
/// last loaded such module), unloaded by name or through the module that pulled it in.
fn pythonpath_module(f: &Facts, i: &InterpreterFacts) -> Option<Resolution> {
    use crate::groups::python::catalog::python::{is_polluting, locations};
    let m = &f.modules;
    if m.status == ProbeStatus::NotRun || m.loaded.is_empty() {
        return None;
    }
    let polluting: Vec<(&str, &crate::facts::python::PackageLocation)> = locations(i)
        .into_iter()
        .filter(|(_, loc)| loc.entry_source == crate::facts::values::EntrySource::Pythonpath && is_polluting(i, loc))
        .collect();
    let (carrier, entry) = polluting.iter().find_map(|(_, loc)| {
        // The entry as the probe resolved it, each module directory as the modules probe did.
        let entry = loc.entry.trim_end_matches('/');
        let carrier = m.loaded.iter().rev().find(|l| {
            l.info.as_ref().is_some_and(|info| {
                info.paths
                    .get("PYTHONPATH")
                    .is_some_and(|dirs| dirs.iter().any(|d| info.resolved_dir(d) == entry))
            })
        })?;
        Some((carrier, loc.entry.clone()))
    })?;
    let packages: Vec<String> = polluting
        .iter()
        .filter(|(_, loc)| loc.entry == entry)
        .map(|(name, loc)| format!("{name} {}", loc.version.as_deref().unwrap_or("?")))
        .collect();
    let packages = match packages.split_last() {
        Some((last, rest)) if !rest.is_empty() => format!("{} and {last}", rest.join(", ")),
        _ => packages.join(""),
    };
    let u = m.unload(carrier);
    Some(Resolution {
        why: format!(
            "{} puts {entry} on PYTHONPATH, from which this interpreter would import {packages} instead of its own environment's; without it that entry is gone{}",
            carrier.full_name,
            u.pulled_in
        ),
        line: u.line,
        module: u.module,
    })
}

/// When no loaded module put the NumPy there (a venv's, the user site's, PYTHONPATH set by hand): a NumPy
/// module of this site whose NumPy this h5py runs with (and that holds no h5py of its own), loaded so that
/// its PYTHONPATH directory comes first (see [`numpy_module`], step 4).
fn numpy_module_to_load(f: &Facts, i: &InterpreterFacts, numpy_version: &str) -> Option<Resolution> {
    let m = index(f)?;
    let h5py = i.h5py.as_ref()?;
    let (abi, built) = (h5py.numpy_abi.as_ref(), h5py.numpy_built.as_deref());
    if abi.is_none() && built.is_none() {
        return None;
    }
    let fitting: Vec<&crate::facts::modules::ModuleInfo> = m
        .index
        .modules
        .iter()
        .filter(|x| !x.python_packages.contains_key("h5py"))
        .filter(|x| x.python_packages.get("numpy").is_some_and(|v| h5py_runs_with(abi, built, None, v)))
        .collect();
    let words = if abi == Some(&NumpyAbi::V1) && !numpy_version.starts_with("1.") {
        "built for NumPy 1.x".to_string()
    } else {
        h5py_build_words(abi, built, None)
    };
    let mut r = m.choose_among(fitting, |x| {
        format!(
            "holds NumPy {}, which h5py ({words}) runs with",
            x.python_packages.get("numpy").map_or("?", String::as_str)
        )
    })?;
    let numpy = i.numpy.as_ref()?;
    r.why = format!(
        "this interpreter imports NumPy {numpy_version} from {} (no module put it there), which h5py {} cannot run with; {}; loaded, its PYTHONPATH directory comes first",
        numpy.location.entry,
        h5py.location.version.as_deref().unwrap_or("?"),
        r.why
    );
    Some(r)
}

/// The h5py module built for NumPy `numpy_version` (see [`numpy_module`], step 1).
fn h5py_module_for(f: &Facts, i: &InterpreterFacts, numpy_version: &str) -> Option<Resolution> {
    let m = index(f)?;
    let h5py = i.h5py.as_ref()?;
    let dir = h5py.location.dir.trim_end_matches('/');
    let holds_this_h5py = |l: &crate::facts::modules::LoadedModule| {
        l.info.as_ref().and_then(|info| info.paths.get("PYTHONPATH")).is_some_and(|dirs| {
            dirs.iter().any(|d| {
                let d = d.trim_end_matches('/');
                !d.is_empty() && d != "/usr" && (dir == d || dir.starts_with(&format!("{d}/")))
            })
        })
    };
    let carrier = m.loaded.iter().rev().find(|l| holds_this_h5py(l));
    let fitting: Vec<&crate::facts::modules::ModuleInfo> = m
        .index
        .modules
        .iter()
        .filter(|x| match carrier {
            Some(c) => x.name == c.name && x.full_name != c.full_name,
            None => true,
        })
        .filter(|x| {
            x.python_packages.contains_key("h5py")
                && x.h5py_numpy
                    .as_ref()
                    .is_some_and(|b| h5py_runs_with(b.abi.as_ref(), b.built.as_deref(), b.oldest.as_deref(), numpy_version))
        })
        .collect();
    let mut r = m.choose_among(fitting, |x| {
        let b = x.h5py_numpy.clone().unwrap_or_default();
        format!(
            "holds h5py {} ({}), which runs with NumPy {numpy_version}",
            x.python_packages.get("h5py").map_or("?", String::as_str),
            h5py_build_words(b.abi.as_ref(), b.built.as_deref(), b.oldest.as_deref())
        )
    })?;
    let this = format!(
        "h5py {} ({})",
        h5py.location.version.as_deref().unwrap_or("?"),
        h5py_build_words(h5py.numpy_abi.as_ref(), h5py.numpy_built.as_deref(), None)
    );
    r.why = match carrier {
        Some(c) => format!(
            "{} puts {this} on PYTHONPATH, which cannot run with NumPy {numpy_version}; {}",
            c.full_name, r.why
        ),
        None => format!("this interpreter's {this} cannot run with NumPy {numpy_version}; {}", r.why),
    };
    Some(r)
}

/// The HDF5 module of the release h5py was built against.
fn h5py_hdf5(f: &Facts, i: &InterpreterFacts) -> Option<Resolution> {
    let built = i.import.hdf5_built.as_deref().and_then(release)?;
    index(f)?.resolve_hdf5(&Hdf5Need {
        version: Some(built),
        ..Hdf5Need::default()
    })
}

/// Module names of compiler suites, for modules that do not declare `family("compiler")`.
const COMPILER_NAMES: &[&str] = &[
    "gcc", "gcc-native", "gnu", "intel", "intel-oneapi-compilers", "oneapi", "nvhpc", "pgi", "aocc", "llvm", "clang",
    "cce",
];

/// A compiler module of this site to rebuild a program with (lib-interpreter-missing): a loaded one (its
/// name, nothing to load), else the one `module load` picks (family `compiler` or a compiler suite's name;
/// the default, visible without loading others first, GCC, then the highest version), with its line.
fn compiler_module(f: &Facts) -> Option<Resolution> {
    let m = index(f)?;
    let is_compiler = |x: &crate::facts::modules::ModuleInfo| {
        x.family.as_deref() == Some("compiler") || COMPILER_NAMES.contains(&x.name.as_str())
    };
    if let Some(loaded) = m.loaded.iter().find(|l| l.info.as_ref().is_some_and(is_compiler)) {
        return Some(Resolution {
            line: format!("module load {}", loaded.full_name),
            module: loaded.full_name.clone(),
            why: format!("{} is loaded: its compiler builds for this node", loaded.full_name),
        });
    }
    // GCC first among suites: what a program's own build most likely used, and what every site has.
    let rank = |x: &crate::facts::modules::ModuleInfo| {
        (x.default, x.via.is_empty(), x.name.starts_with("gcc"), version_key(x.version.as_deref().unwrap_or("")))
    };
    let pick = m.index.modules.iter().filter(|x| is_compiler(x)).max_by(|a, b| rank(a).cmp(&rank(b)))?;
    let others: Vec<&str> = m
        .index
        .modules
        .iter()
        .filter(|x| is_compiler(x) && x.full_name != pick.full_name)
        .map(|x| x.full_name.as_str())
        .collect();
    let mut why = format!("{} is a compiler module of this site", pick.full_name);
    if pick.default {
        why.push_str(" (the default version)");
    }
    if !others.is_empty() {
        why.push_str(&format!("; also: {}", others.join(", ")));
    }
    Some(Resolution {
        line: m.load_line(pick)?,
        module: pick.full_name.clone(),
        why,
    })
}

facts! {
    Binary(f, b) {
        "binary.compiler_module" ["compiler module"]
            "The `module` line of a compiler module of this site to rebuild the binary with: a loaded one, else \
            family `compiler` or a compiler suite's name (gcc, intel, nvhpc, aocc, llvm, cce, ...), the default first."
            => line(compiler_module(f));
        "binary.compiler_module_why" ["why that compiler"]
            "Which compiler module, and the others of this site."
            => why(compiler_module(f));
        "binary.missing_module" ["module that provides it"]
            "The `module` line of this site that provides the binary's missing library (a module whose library \
            directories hold that soname; the default version first), with what must be loaded before it."
            => line(missing_module(f, b));
        "binary.missing_module_why" ["why that module"]
            "Which directory of the module holds the missing soname, and the other modules that do."
            => why(missing_module(f, b));
        "binary.hdf5_module" ["HDF5 module it needs"]
            "The `module` line of this site for the HDF5 the binary needs: the release it was built for (a \
            mismatch), or a build that exports its undefined H5* symbols (parallel for *_mpio) with its soname."
            => line(hdf5_module(f, b));
        "binary.hdf5_module_why" ["why that HDF5 module"]
            "The HDF5 release and build the module's library has, and the other modules that fit."
            => why(hdf5_module(f, b));
        "binary.version_module" ["module with that library version"]
            "The `module` line of this site whose library directories hold another copy of the library that \
            lacks a symbol version the binary needs (not the copy found now); verified on the spot."
            => line(version_module(f, b));
        "binary.version_module_why" ["why that module"]
            "Which copy lacks the version, and which directory of the module holds another one."
            => why(version_module(f, b));
        "binary.version_libraries_without_module" ["libraries no module fixes"]
            "When the module line fixes some of the libraries lacking versions the binary needs but not all: \
            the others, each with the versions it lacks, for which no module on MODULEPATH holds a fitting copy."
            => version_libraries_without_module(f, b);
        "binary.missing_without_module" ["missing libraries no module holds"]
            "When the module line provides some of the binary's missing libraries but not all: the others, \
            which no module on MODULEPATH holds."
            => missing_without_module(f, b);
        "binary.version_modules_lacking" ["modules whose copy lacks it too"]
            "When no module's copy of the library defines every version the binary lacks of it: the modules \
            that hold another copy, each with what its version table defines."
            => version_modules_lacking(f, b);
        "binary.mpi_unload_module" ["module bringing the second MPI"]
            "`module unload NAME` for the loaded module whose library directories hold the MPI library of \
            another family than the first one in the closure (the one the program runs with)."
            => line(mpi_unload(f, b));
        "binary.mpi_unload_module_why" ["why that module"]
            "Which MPI library the module brings, and which one the program runs with."
            => why(mpi_unload(f, b));
        "binary.hdf5_unload_module" ["module to unload"]
            "`module unload NAME` for the loaded module whose libhdf5 is the second one in the closure (not \
            the one the program was built with)."
            => hdf5_unload(f, b);
    }

    Global(f) {
        "hdf5.newer_module" ["newer HDF5 module"]
            "The `module` line of this site's HDF5 module of the newest release, newer than the HDF5 \
            h5doctor-probe loaded (for a file written by a newer HDF5)."
            => line(newer_hdf5_module(f));
        "hdf5.newer_module_why" ["why that HDF5 module"]
            "The release the module holds, and the other modules newer than this node's HDF5."
            => why(newer_hdf5_module(f));
        "libraries.hdf5_parallel_filters_module" ["parallel HDF5 module with filtered writes"]
            "The `module` line of this site for a parallel HDF5 that writes filtered datasets in parallel \
            (release 1.10.2 or later, not a module holding a library that cannot), when a library the job sees \
            cannot."
            => line(parallel_filters_module(f));
        "libraries.hdf5_parallel_filters_module_why" ["why that HDF5 module"]
            "Which library cannot write filtered datasets in parallel, and what the module holds."
            => why(parallel_filters_module(f));
        "mpi.mpi4py_module" ["module that provides mpi4py"]
            "The `module` line of this site that provides mpi4py to the interpreter of `mpio-test --python` \
            when it could not import it: built for its Python series and the MPI of its h5py (hierarchy levels \
            and prerequisites first, the default version first; site pin `mpi4py`)."
            => line(mpi4py_module(f));
        "mpi.mpi4py_module_why" ["why that mpi4py module"]
            "What the mpi4py module holds and was built for, and the other modules that fit."
            => why(mpi4py_module(f));
        "hdf5.plugin_reader_module" ["HDF5 module that reads them"]
            "The `module` line of this site's HDF5 module of a release that reads every HDF5 plugin variable set \
            (HDF5_VOL_CONNECTOR from 1.12, HDF5_DRIVER from 1.14), when an HDF5 here is too old to read one."
            => line(plugin_reader_module(f));
        "hdf5.plugin_reader_module_why" ["why that HDF5 module"]
            "The release the module holds, and the other modules that fit."
            => why(plugin_reader_module(f));
        "modules.hdf5_parallel_swap" ["parallel HDF5 module to swap in"]
            "The `module` line of this site that swaps the loaded serial HDF5 module for a parallel HDF5 module \
            built with this environment's MPI family (the launcher's, else the loaded MPI's): the serial one's \
            release first, site pin `hdf5-parallel`; hierarchy levels and prerequisites first."
            => line(hdf5_parallel_swap(f));
        "modules.hdf5_parallel_swap_why" ["why that HDF5 module"]
            "What the parallel HDF5 module holds, and the other modules that fit."
            => why(hdf5_parallel_swap(f));
        "modules.cray_hdf5_parallel_module" ["Cray parallel HDF5 module"]
            "The `module` line of this site that replaces a loaded serial `cray-hdf5` with the Cray PE's \
            `cray-hdf5-parallel` (the loaded cray-hdf5's version first, else the default; site pin \
            `hdf5-parallel`), or unloads cray-hdf5 when both are loaded."
            => line(cray_hdf5_parallel_module(f));
        "modules.cray_hdf5_parallel_module_why" ["why that HDF5 module"]
            "What the cray-hdf5-parallel module holds, and the other versions."
            => why(cray_hdf5_parallel_module(f));
        "hdf5.probe_missing_module" ["module that provides it"]
            "The `module` line of this site that provides the library h5doctor-probe cannot find."
            => line(probe_missing_module(f));
        "hdf5.probe_missing_module_why" ["why that module"]
            "Which directory of the module holds the probe's missing soname, and the other modules that do."
            => why(probe_missing_module(f));
        "hdf5.probe_rebuild" ["rebuild the probe with"]
            "The line that rebuilds h5doctor-probe against a real HDF5 of this node (`HDF5_DIR=DIR cargo build \
            --release -p h5doctor-probe`): an installation the job's environment names (the missing library's \
            prefix, $HDF5_DIR/$HDF5_ROOT/$HDF5_HOME, LD_LIBRARY_PATH), else an HDF5 module of this site that sets \
            its prefix (`module load ... && HDF5_DIR=...`), else an installation of the node (hdf5.installs). \
            Known only when the probe cannot start and an HDF5 was found."
            => line(probe_rebuild(f));
        "hdf5.probe_rebuild_why" ["why that HDF5"]
            "What the installation named by hdf5.probe_rebuild has, how it was found, whether the rebuilt probe \
            will find its library, and the other installations here."
            => why(probe_rebuild(f));
    }

    PluginDir(f, d) {
        "plugin_dir.missing_library_module" ["module with the library they miss"]
            "The `module` line of this site that provides the libraries the directory's plugins need and the \
            loader cannot find (the probe's dlopen errors, h5doctor's resolver): modules whose library \
            directories hold those sonames, the default version first."
            => line(plugin_missing_module(f, d));
        "plugin_dir.missing_library_module_why" ["why that module"]
            "Which directory of the module holds the missing library, and the other modules that do."
            => why(plugin_missing_module(f, d));
    }

    Interpreter(f, i) {
        "python.h5py_parallel_module" ["parallel h5py module"]
            "The `module` line of this site that loads h5py built with MPI and everything it needs, in load \
            order: its extensions built for this interpreter's Python series and the MPI the launcher starts \
            (else the loaded MPI's); site pin `h5py-parallel`, else the index; the default version first."
            => line(h5py_parallel(f, i));
        "python.h5py_parallel_module_why" ["why that h5py module"]
            "What the parallel h5py module needs, and the other modules that provide one."
            => why(h5py_parallel(f, i));
        "python.h5py_python_module" ["Python module h5py is for"]
            "The `module` line of the Python (or h5py) module whose prefix holds this interpreter's h5py."
            => line(h5py_python(f, i));
        "python.h5py_python_module_why" ["why that Python module"]
            "Which directory of the module holds h5py, and the other modules that fit."
            => why(h5py_python(f, i));
        "python.numpy_module" ["module to change for NumPy"]
            "The `module` line that ends the mismatch between h5py and the NumPy it imports: the h5py module \
            built for that NumPy (`module swap` of the loaded h5py module, or `module load`), else `module \
            swap` of the loaded module whose PYTHONPATH holds that NumPy for a version of it whose NumPy this \
            h5py runs with, else `module unload` of it (or of the module that loaded it automatically)."
            => line(numpy_module(f, i));
        "python.numpy_module_why" ["why that module"]
            "Which loaded module puts that NumPy on PYTHONPATH, and what the line changes."
            => why(numpy_module(f, i));
        "python.pythonpath_module" ["module that sets that PYTHONPATH"]
            "`module unload NAME` for the loaded module whose modulefile puts the polluting PYTHONPATH entry in \
            place (python.polluting_packages), read from the loaded modules (_ModuleTable_ or \
            LOADEDMODULES/_LMFILES_) and what each adds to PYTHONPATH; through the module that loaded it \
            automatically, when it was."
            => line(pythonpath_module(f, i));
        "python.pythonpath_module_why" ["why that module"]
            "Which loaded module adds which entry, and what would be imported from it."
            => why(pythonpath_module(f, i));
        "python.h5py_hdf5_module" ["HDF5 module h5py was built for"]
            "The `module` line of the HDF5 module of the release h5py was built against (same release \
            first, then the same series)."
            => line(h5py_hdf5(f, i));
        "python.h5py_hdf5_module_why" ["why that HDF5 module"]
            "The HDF5 release and build the module's library has, and the other modules that fit."
            => why(h5py_hdf5(f, i));
    }

    Global(f) {
        "modules.index_summary" ["module index"]
            "What the module index covers, in words: modules, trees (hierarchy levels included) and the \
            module system; unknown without a module system."
            => {
                let m = &f.modules;
                if m.status == ProbeStatus::NotRun || !m.system.is_present() {
                    return None;
                }
                let levels = m.index.modules.iter().filter(|x| !x.via.is_empty()).count();
                let mut s = format!("{} modules in {} trees of MODULEPATH", m.index.modules.len(), m.index.trees.len());
                if levels > 0 {
                    s.push_str(&format!(", {levels} of them in hierarchy levels"));
                }
                Some(json!(s))
            };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn which_numpy_an_h5py_build_runs_with() {
        let v1 = Some(&NumpyAbi::V1);
        let v2 = Some(&NumpyAbi::V2);
        // Built against NumPy 1.21.6: NumPy 1.x no older than that.
        assert!(h5py_runs_with(v1, Some("1.21.6"), None, "1.21.6") && h5py_runs_with(v1, Some("1.21.6"), None, "1.26.4"));
        assert!(!h5py_runs_with(v1, Some("1.21.6"), None, "1.19.5") && !h5py_runs_with(v1, Some("1.21.6"), None, "2.0.2"));
        assert!(h5py_runs_with(v1, None, None, "1.24.2") && !h5py_runs_with(v1, None, None, "2.4.6"));
        // Built for NumPy 2: down to the oldest its C-API check names, else NumPy 2 only.
        assert!(h5py_runs_with(v2, Some("2.0.0rc1"), Some("1.16"), "1.19.5"));
        assert!(!h5py_runs_with(v2, Some("2.0.0rc1"), Some("1.23"), "1.19.5"));
        assert!(h5py_runs_with(v2, None, None, "2.0.2") && !h5py_runs_with(v2, None, None, "1.26.4"));
        // Unknown ABI: the series it was built against, no older.
        assert!(h5py_runs_with(None, Some("1.21.6"), None, "1.22.0") && !h5py_runs_with(None, Some("1.21.6"), None, "2.0.0"));
        assert!(!h5py_runs_with(None, None, None, "1.22.0"));
    }
}
