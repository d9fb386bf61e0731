//! Module fixes resolved against the module index of this site: which module provides a missing
//! library, an HDF5 of a given release or build, a parallel h5py or a Python, and the exact `module`
//! line that gets it into the environment from the modules loaded now — prerequisites and hierarchy
//! levels first, in order (`module load gcc/12 openmpi/4.1 hdf5/1.14.3`), a conflicting loaded module
//! swapped out (`module swap hdf5 hdf5-parallel/1.10.8`).
//!
//! When several modules fit, the site's pin wins, then the default version (`.version`, `.modulerc`, a
//! `default` link, else the highest), and the others are named as alternatives.

use crate::facts::modules::{version_key, LoadedModule, ModuleInfo, ModulesFacts};
use crate::facts::values::{Capability, ModuleMpiFamily};

/// A module fix, resolved: the line to type and why this module.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resolution {
    /// `module load openmpi/4.1.4 hdf5-parallel/1.10.8`, `module swap hdf5 hdf5-parallel/1.10.8`.
    pub line: String,
    /// The module chosen (name/version).
    pub module: String,
    /// One sentence: what the module has that is needed, and the alternatives.
    pub why: String,
}

/// What an HDF5 module must have.
#[derive(Debug, Clone, Default)]
pub struct Hdf5Need {
    /// The HDF5 release wanted (`1.10.8`): a module with exactly it is preferred, then the same series.
    pub version: Option<String>,
    /// Must export the MPI-IO API.
    pub parallel: bool,
    /// A soname its library directories must hold (`libhdf5.so.310`).
    pub soname: Option<String>,
}

/// The modules `h5doctor modules QUERY --provides X` lists.
#[derive(Debug)]
pub struct Listing<'a> {
    pub query: Option<String>,
    pub provides: Option<String>,
    /// Each module with the line that loads it from the modules loaded now (`None`: loaded already).
    pub modules: Vec<(&'a ModuleInfo, Option<String>)>,
}

/// `1.14.3` -> `1.14`: the release series.
fn series(v: &str) -> String {
    v.split('.').take(2).collect::<Vec<_>>().join(".")
}

/// Whether an extension built for the Python series `has_python` and linking an MPI of `has_family`
/// can serve a Python `want_python` in a launch of `want_family`: `None` when either is known on both
/// sides and differs (MPICH and Cray MPICH share one ABI), else how much is known to fit (2 for the
/// Python, 1 for the MPI), for ranking.
fn build_fits(
    want_python: Option<&str>,
    want_family: Option<ModuleMpiFamily>,
    has_python: Option<&str>,
    has_family: Option<ModuleMpiFamily>,
) -> Option<u8> {
    let known = |f: Option<ModuleMpiFamily>| f.filter(|f| *f != ModuleMpiFamily::Unknown);
    let abi = |f: ModuleMpiFamily| match f {
        ModuleMpiFamily::CrayMpich => ModuleMpiFamily::Mpich,
        other => other,
    };
    let py = match (want_python, has_python) {
        (Some(want), Some(has)) if series(want) != series(has) => return None,
        (Some(_), Some(_)) => 1,
        _ => 0,
    };
    let mpi = match (known(want_family), known(has_family)) {
        (Some(want), Some(has)) if abi(want) != abi(has) => return None,
        (Some(_), Some(_)) => 1,
        _ => 0,
    };
    Some(py * 2 + mpi)
}

impl ModulesFacts {
    /// The modules whose name/version contains `query` (case-insensitive) and that provide `provides`: a
    /// capability, else a library file name (exact, or as a prefix when no file matches exactly).
    /// Defaults first within a name, modules visible now before hierarchy levels.
    pub fn select(&self, query: Option<&str>, provides: Option<&str>) -> Listing<'_> {
        let q = query.map(str::to_ascii_lowercase);
        let named = |m: &&ModuleInfo| q.as_ref().is_none_or(|q| m.full_name.to_ascii_lowercase().contains(q.as_str()));
        let cap = provides.and_then(|p| p.parse::<Capability>().ok());
        let exact = |m: &ModuleInfo, p: &str| m.libraries.iter().any(|l| l == p);
        let any_exact = provides.is_some_and(|p| cap.is_none() && self.index.modules.iter().any(|m| exact(m, p)));
        let gives = |m: &&ModuleInfo| match provides {
            None => true,
            Some(_) if cap.is_some() => cap.is_some_and(|c| m.provides(c)),
            Some(p) if any_exact => exact(m, p),
            Some(p) => m.libraries.iter().any(|l| l.starts_with(p)),
        };
        let mut modules: Vec<&ModuleInfo> = self.index.modules.iter().filter(named).filter(gives).collect();
        modules.sort_by(|a, b| {
            (a.via.len(), &a.name)
                .cmp(&(b.via.len(), &b.name))
                .then_with(|| b.default.cmp(&a.default))
                .then_with(|| version_key(b.version.as_deref().unwrap_or("")).cmp(&version_key(a.version.as_deref().unwrap_or(""))))
        });
        Listing {
            query: query.map(str::to_string),
            provides: provides.map(str::to_string),
            modules: modules.into_iter().map(|m| (m, self.load_line(m))).collect(),
        }
    }

    fn loaded_named(&self, name: &str) -> Option<&LoadedModule> {
        self.loaded
            .iter()
            .find(|l| l.name == name || l.full_name == name || l.alt_names.iter().any(|a| a == name))
    }

    /// A module named `spec` (`openmpi` or `openmpi/4.1.4`) as `module load` would pick it: the exact
    /// name/version, else the default of that name; among the modules visible with `via` loaded.
    fn pick(&self, spec: &str, via: &[String]) -> Option<&ModuleInfo> {
        let reachable = |m: &&ModuleInfo| via.starts_with(&m.via);
        let mods = self.index.modules.iter().filter(reachable);
        if let Some(m) = mods.clone().find(|m| m.full_name == spec) {
            return Some(m);
        }
        mods.filter(|m| m.name == spec)
            .max_by_key(|m| (m.default, m.via.len(), version_key(m.version.as_deref().unwrap_or(""))))
    }

    /// Whether a loaded module excludes `target` (same name, same Lmod family, a `conflict` either way:
    /// in the loaded module's file, or as Environment Modules recorded it at load, which also holds what a
    /// static reader cannot see (a `source`d snippet, a file changed since); a family is recorded as a
    /// conflict on its name).
    fn excludes(loaded: &LoadedModule, target: &ModuleInfo) -> bool {
        if loaded.full_name == target.full_name {
            return false;
        }
        let info = loaded.info.as_ref();
        let names_target = |c: &String| *c == target.name || *c == target.full_name || target.family.as_ref() == Some(c);
        loaded.name == target.name
            || (target.family.is_some() && info.and_then(|i| i.family.as_ref()) == target.family.as_ref())
            || target
                .conflicts
                .iter()
                .any(|c| *c == loaded.name || *c == loaded.full_name || loaded.alt_names.contains(c))
            || info.is_some_and(|i| i.conflicts.iter().any(|c| *c == target.name || *c == target.full_name))
            || loaded.conflicts.iter().any(names_target)
    }

    /// The `module` line that makes `target` loaded, from the modules loaded now: hierarchy levels
    /// (`via`) and prerequisites first, in order, then the module (swapped for a loaded one it
    /// excludes). `None` when it is loaded already.
    pub fn load_line(&self, target: &ModuleInfo) -> Option<String> {
        if self.loaded.iter().any(|l| l.full_name == target.full_name) {
            return None;
        }
        let mut swaps: Vec<(String, String)> = Vec::new();
        let mut loads: Vec<String> = Vec::new();
        for level in &target.via {
            if self.loaded.iter().any(|l| l.full_name == *level) {
                continue;
            }
            let name = level.rsplit_once('/').map_or(level.as_str(), |(n, _)| n);
            match self.loaded.iter().find(|l| l.name == name) {
                Some(l) => swaps.push((l.name.clone(), level.clone())),
                None => loads.push(level.clone()),
            }
        }
        for req in &target.requires {
            let wanted = self.pick(req, &target.via);
            let satisfied = self.loaded_named(req).is_some()
                || wanted.is_some_and(|w| self.loaded.iter().any(|l| l.full_name == w.full_name))
                || loads
                    .iter()
                    .chain(swaps.iter().map(|(_, b)| b))
                    .any(|l| l == req || l.rsplit_once('/').is_some_and(|(n, _)| n == req));
            if satisfied {
                continue;
            }
            loads.push(wanted.map_or_else(|| req.clone(), |w| w.full_name.clone()));
        }
        let mut parts = Vec::new();
        for (a, b) in &swaps {
            parts.push(format!("module swap {a} {b}"));
        }
        match self.loaded.iter().find(|l| Self::excludes(l, target)) {
            Some(l) => {
                if !loads.is_empty() {
                    parts.push(format!("module load {}", loads.join(" ")));
                }
                parts.push(format!("module swap {} {}", l.name, target.full_name));
            }
            None => {
                loads.push(target.full_name.clone());
                parts.push(format!("module load {}", loads.join(" ")));
            }
        }
        Some(parts.join(" && "))
    }

    /// Orders candidates: the pinned one (for `cap`), then those `preferred`, then the default, then
    /// those visible now, then the highest version; the first one's line, and the others named.
    fn choose(
        &self,
        mut candidates: Vec<&ModuleInfo>,
        cap: Option<Capability>,
        preferred: impl Fn(&ModuleInfo) -> u8,
        has: impl Fn(&ModuleInfo) -> String,
    ) -> Option<Resolution> {
        let pin = cap.and_then(|c| self.site_pins.get(&c));
        if let Some(pin) = pin {
            // The site's choice: its line from the index when it is there, else as pinned.
            let pinned = self
                .index
                .modules
                .iter()
                .find(|m| m.full_name == *pin)
                .or_else(|| self.index.modules.iter().find(|m| m.name == *pin && m.default));
            let line = match pinned {
                Some(m) => self.load_line(m)?,
                None => format!("module load {pin}"),
            };
            return Some(Resolution {
                line,
                module: pin.clone(),
                why: format!("{pin} is this site's choice for {} (a pin in its rules dir)", cap.map_or("", Capability::as_str)),
            });
        }
        candidates.sort_by(|a, b| {
            let key = |m: &ModuleInfo| {
                (
                    preferred(m),
                    m.default,
                    m.via.is_empty(),
                    version_key(m.version.as_deref().unwrap_or("")),
                )
            };
            key(b).cmp(&key(a)).then_with(|| a.full_name.cmp(&b.full_name))
        });
        candidates.dedup_by(|a, b| a.full_name == b.full_name && a.via == b.via);
        // A candidate loaded already is no fix: the first one that is not.
        let at = candidates.iter().position(|m| self.load_line(m).is_some())?;
        let first = candidates.remove(at);
        candidates.insert(0, first);
        let line = self.load_line(first)?;
        let mut why = format!("{} {}", first.full_name, has(first));
        if first.default {
            why.push_str(" (the default version)");
        }
        if !first.via.is_empty() {
            why.push_str(&format!("; it is visible after `module load {}`", first.via.join(" ")));
        }
        let others: Vec<String> = candidates[1..]
            .iter()
            .filter(|m| self.load_line(m).is_some())
            .take(5)
            .map(|m| {
                if m.via.is_empty() {
                    m.full_name.clone()
                } else {
                    format!("{} (after {})", m.full_name, m.via.join(" "))
                }
            })
            .collect();
        if !others.is_empty() {
            let more = candidates[1..].iter().filter(|m| self.load_line(m).is_some()).count() - others.len();
            why.push_str(&format!(". Also: {}", others.join(", ")));
            if more > 0 {
                why.push_str(&format!(" and {more} more"));
            }
        }
        Some(Resolution {
            line,
            module: first.full_name.clone(),
            why,
        })
    }

    /// The best of `candidates` (the default, then those visible now, then the highest version) with its
    /// line from the modules loaded now, the others named; `has` says what the module has that is needed.
    pub fn choose_among(&self, candidates: Vec<&ModuleInfo>, has: impl Fn(&ModuleInfo) -> String) -> Option<Resolution> {
        self.choose(candidates, None, |_| 0, has)
    }

    /// [`Self::choose_among`] with those ranking higher in `preferred` first (before the default).
    pub fn choose_preferring(
        &self,
        candidates: Vec<&ModuleInfo>,
        preferred: impl Fn(&ModuleInfo) -> u8,
        has: impl Fn(&ModuleInfo) -> String,
    ) -> Option<Resolution> {
        self.choose(candidates, None, preferred, has)
    }

    /// The module whose library directories hold a file named `soname`.
    pub fn resolve_soname(&self, soname: &str) -> Option<Resolution> {
        let candidates: Vec<&ModuleInfo> = self
            .index
            .modules
            .iter()
            .filter(|m| m.libraries.iter().any(|l| l == soname))
            .collect();
        let mpi = self.loaded_mpi_family();
        let cap = candidates.iter().find_map(|m| {
            m.provides(Capability::Hdf5Parallel)
                .then_some(Capability::Hdf5Parallel)
                .or(m.provides(Capability::Hdf5Serial).then_some(Capability::Hdf5Serial))
        });
        // A pin applies when the pinned module is one of the modules that hold the library.
        let cap = cap.filter(|c| {
            self.site_pins
                .get(c)
                .is_some_and(|p| candidates.iter().any(|m| m.full_name == *p || m.name == *p))
        });
        self.choose(
            candidates,
            cap,
            |m| u8::from(mpi.is_some() && m.hdf5.as_ref().and_then(|h| h.mpi_family.as_ref()) == mpi.as_ref()),
            |m| {
                let dir = m.library_dirs().next().cloned().unwrap_or_else(|| "its library directory".into());
                format!("adds {dir}, which holds {soname}")
            },
        )
    }

    /// The HDF5 module that has what `need` asks for: the exact release first, then the same series.
    pub fn resolve_hdf5(&self, need: &Hdf5Need) -> Option<Resolution> {
        let candidates: Vec<&ModuleInfo> = self
            .index
            .modules
            .iter()
            .filter(|m| m.provides_hdf5())
            .filter(|m| !need.parallel || m.provides(Capability::Hdf5Parallel))
            .filter(|m| need.soname.as_ref().is_none_or(|s| m.libraries.contains(s)))
            .collect();
        let release = |m: &ModuleInfo| m.hdf5.as_ref().and_then(|h| h.version.clone()).or_else(|| m.version.clone());
        let wanted = need.version.clone();
        if let Some(v) = &wanted {
            // A release asked for: only modules of that series can help.
            let same_series: Vec<&ModuleInfo> = candidates
                .iter()
                .copied()
                .filter(|m| release(m).is_some_and(|r| series(&r) == series(v)))
                .collect();
            let mpi = self.loaded_mpi_family();
            return self.choose(
                same_series,
                None,
                |m| {
                    u8::from(release(m).as_deref() == Some(v.as_str())) * 2
                        + u8::from(mpi.is_some() && m.hdf5.as_ref().and_then(|h| h.mpi_family.as_ref()) == mpi.as_ref())
                },
                describe_hdf5,
            );
        }
        let cap = Capability::hdf5(need.parallel);
        let pin = self.site_pins.contains_key(&cap).then_some(cap);
        let mpi = self.loaded_mpi_family();
        self.choose(
            candidates,
            pin,
            |m| u8::from(mpi.is_some() && m.hdf5.as_ref().and_then(|h| h.mpi_family.as_ref()) == mpi.as_ref()),
            describe_hdf5,
        )
    }

    /// The module that provides a capability, with everything it needs.
    pub fn resolve_capability(&self, cap: Capability) -> Option<Resolution> {
        let candidates: Vec<&ModuleInfo> = self.index.modules.iter().filter(|m| m.provides(cap)).collect();
        let mpi = self.loaded_mpi_family();
        self.choose(
            candidates,
            Some(cap),
            |m| {
                u8::from(
                    mpi.is_some()
                        && (m.mpi_family.as_ref() == mpi.as_ref() || m.hdf5.as_ref().and_then(|h| h.mpi_family.as_ref()) == mpi.as_ref()),
                )
            },
            |m| format!("provides {}", capability_words(cap, m)),
        )
    }

    /// The module that provides mpi4py for a Python of the `python` series (`3.11`) and an MPI of `family`:
    /// an mpi4py built for another Python or linked with another MPI family is left out (it could not be
    /// imported, or would mix two MPIs in one process); one whose build is not known comes after those
    /// known to fit. A site pin `mpi4py` wins.
    pub fn resolve_mpi4py(&self, python: Option<&str>, family: Option<ModuleMpiFamily>) -> Option<Resolution> {
        let fits = |m: &ModuleInfo| {
            let b = m.mpi4py.as_ref();
            build_fits(python, family, b.and_then(|b| b.python.as_deref()), b.and_then(|b| b.mpi_family))
        };
        let candidates: Vec<&ModuleInfo> = self
            .index
            .modules
            .iter()
            .filter(|m| m.provides(Capability::Mpi4py) && fits(m).is_some())
            .collect();
        self.choose(
            candidates,
            Some(Capability::Mpi4py),
            |m| fits(m).unwrap_or(0),
            |m| {
                let mut s = format!("holds mpi4py {}", m.python_packages.get("mpi4py").map_or("", String::as_str))
                    .trim_end()
                    .to_string();
                let b = m.mpi4py.clone().unwrap_or_default();
                let mut built: Vec<String> = Vec::new();
                built.extend(b.python.map(|p| format!("Python {p}")));
                built.extend(b.mpi_library.map(|l| match b.mpi_family {
                    Some(f) => format!("{l} ({f})"),
                    None => l,
                }));
                if !built.is_empty() {
                    s.push_str(&format!(", built for {}", built.join(" and ")));
                }
                s
            },
        )
    }

    /// The module that provides h5py built with MPI for a Python of the `python` series (`3.11`) and an MPI
    /// of `family` (the one the launcher starts, else the loaded MPI module's): an h5py whose extensions
    /// were built for another Python, or link another MPI family, is left out (this interpreter could not
    /// import it, or it would mix two MPIs in one process); one whose build is not known comes after those
    /// known to fit. A site pin `h5py-parallel` wins.
    pub fn resolve_h5py_parallel(&self, python: Option<&str>, family: Option<ModuleMpiFamily>) -> Option<Resolution> {
        let fits = |m: &ModuleInfo| {
            let b = m.h5py_build.as_ref();
            build_fits(python, family, b.and_then(|b| b.python.as_deref()), b.and_then(|b| b.mpi_family))
        };
        let candidates: Vec<&ModuleInfo> = self
            .index
            .modules
            .iter()
            .filter(|m| m.provides(Capability::H5pyParallel) && fits(m).is_some())
            .collect();
        // The parallel h5py modules passed over, with their build: the reason the default may not be named.
        let left_out: Vec<String> = self
            .index
            .modules
            .iter()
            .filter(|m| m.provides(Capability::H5pyParallel) && fits(m).is_none())
            .take(5)
            .map(|m| {
                let b = m.h5py_build.clone().unwrap_or_default();
                let mut built: Vec<String> = Vec::new();
                built.extend(
                    b.python
                        .filter(|p| python.is_some_and(|w| series(w) != series(p)))
                        .map(|p| format!("Python {p}")),
                );
                built.extend(
                    b.mpi_family
                        .filter(|f| family.is_some_and(|w| Some(w) != Some(*f)))
                        .map(|f| f.to_string()),
                );
                format!("{} (built for {})", m.full_name, built.join(" and "))
            })
            .collect();
        let mut r = self.choose(
            candidates,
            Some(Capability::H5pyParallel),
            |m| fits(m).unwrap_or(0),
            |m| {
                let mut s = format!("provides {}", capability_words(Capability::H5pyParallel, m));
                let b = m.h5py_build.clone().unwrap_or_default();
                let mut built: Vec<String> = Vec::new();
                built.extend(b.python.map(|p| format!("Python {p}")));
                built.extend(match (b.mpi_library, b.mpi_family) {
                    (Some(l), Some(f)) => Some(format!("{l} ({f})")),
                    (Some(l), None) => Some(l),
                    (None, Some(f)) => Some(f.to_string()),
                    (None, None) => None,
                });
                if !built.is_empty() {
                    s.push_str(&format!(" (its extensions built for {})", built.join(" and ")));
                }
                s
            },
        )?;
        if !left_out.is_empty() && !self.site_pins.contains_key(&Capability::H5pyParallel) {
            let wanted: Vec<String> = python
                .map(|p| format!("Python {p}"))
                .into_iter()
                .chain(family.filter(|f| *f != ModuleMpiFamily::Unknown).map(|f| f.to_string()))
                .collect();
            r.why
                .push_str(&format!("; not for {}: {}", wanted.join(" and "), left_out.join(", ")));
        }
        Some(r)
    }

    /// The HDF5 module called `name` that stands in for the loaded HDF5 module `like` (the Cray PE's
    /// `cray-hdf5-parallel` for `cray-hdf5`): of `like`'s version first, else the default, then the
    /// highest; a site pin for `cap` (`hdf5-parallel`) wins. Its line swaps `like` out when they exclude
    /// each other (one family, a `conflict`).
    pub fn resolve_hdf5_companion(&self, name: &str, like: &LoadedModule, cap: Capability) -> Option<Resolution> {
        let candidates: Vec<&ModuleInfo> = self.index.modules.iter().filter(|m| m.name == name).collect();
        let same_version = |m: &ModuleInfo| like.version.is_some() && m.version == like.version;
        self.choose(
            candidates,
            Some(cap),
            |m| u8::from(same_version(m)),
            |m| {
                let mut s = describe_hdf5(m);
                if same_version(m) {
                    s.push_str(&format!(", the version of the loaded {}", like.name));
                }
                s
            },
        )
    }

    /// The parallel HDF5 module to put in the place of the loaded serial HDF5 module `serial` in an MPI
    /// environment of `family` (the launcher's, else the loaded MPI module's): a parallel HDF5 linked with
    /// another MPI family is left out (it would bring a second MPI into the job); the same release as the
    /// serial one first, then one known to fit the MPI; a site pin `hdf5-parallel` wins. The line swaps
    /// `serial` out (after the hierarchy levels and prerequisites the module needs), whether or not the two
    /// exclude each other.
    pub fn resolve_parallel_hdf5_for(&self, serial: &LoadedModule, family: Option<ModuleMpiFamily>) -> Option<Resolution> {
        let release = serial
            .info
            .as_ref()
            .and_then(|i| i.hdf5.as_ref())
            .and_then(|h| h.version.clone())
            .or_else(|| serial.version.clone());
        let fits = |m: &ModuleInfo| build_fits(None, family, None, m.hdf5.as_ref().and_then(|h| h.mpi_family).or(m.mpi_family));
        let same_release =
            |m: &ModuleInfo| release.is_some() && m.hdf5.as_ref().and_then(|h| h.version.clone()).or_else(|| m.version.clone()) == release;
        // A fitting parallel HDF5 loaded as well: the serial one is what to take away.
        let loaded_parallel = self
            .loaded
            .iter()
            .find(|l| l.info.as_ref().is_some_and(|i| i.provides(Capability::Hdf5Parallel) && fits(i).is_some()));
        if let (Some(p), false) = (loaded_parallel, self.site_pins.contains_key(&Capability::Hdf5Parallel)) {
            let u = self.unload(serial);
            return Some(Resolution {
                line: u.line,
                module: u.module,
                why: format!(
                    "{} is loaded as well and {}; without {} it is the HDF5 of this environment{}",
                    p.full_name,
                    p.info.as_ref().map(describe_hdf5).unwrap_or_default(),
                    serial.full_name,
                    u.pulled_in
                ),
            });
        }
        let candidates: Vec<&ModuleInfo> = self
            .index
            .modules
            .iter()
            .filter(|m| m.provides(Capability::Hdf5Parallel) && fits(m).is_some())
            .collect();
        let mut r = self.choose(
            candidates,
            Some(Capability::Hdf5Parallel),
            |m| u8::from(same_release(m)) * 2 + fits(m).unwrap_or(0),
            describe_hdf5,
        )?;
        let target = self
            .index
            .modules
            .iter()
            .find(|m| m.full_name == r.module)
            .or_else(|| self.index.modules.iter().find(|m| m.name == r.module && m.default));
        r.line = match target {
            Some(t) => self.swap_line(serial, t)?,
            None => format!("module swap {} {}", serial.name, r.module),
        };
        Some(r)
    }

    /// The line that puts `target` in the place of the loaded module `out`: [`Self::load_line`] when it swaps
    /// `out` already (one family, a conflict, the same name), else its loads with `module swap OUT TARGET`
    /// for the module itself.
    fn swap_line(&self, out: &LoadedModule, target: &ModuleInfo) -> Option<String> {
        let line = self.load_line(target)?;
        if line.contains(&format!("module swap {} ", out.name)) {
            return Some(line);
        }
        let swap = format!("module swap {} {}", out.name, target.full_name);
        let head = line.strip_suffix(&format!(" {}", target.full_name))?;
        Some(match head.strip_suffix("module load") {
            Some("") => swap,
            Some(before) => format!("{before}{swap}"),
            None => format!("{head} && {swap}"),
        })
    }

    /// A Python module whose prefix holds `path` (an h5py or numpy location), else the one of `version`.
    pub fn resolve_python_for(&self, path: Option<&str>, version: Option<&str>) -> Option<Resolution> {
        let prefix_of = |m: &ModuleInfo| -> Vec<String> {
            let mut p: Vec<String> = m
                .paths
                .get("PATH")
                .into_iter()
                .flatten()
                .map(|d| d.strip_suffix("/bin").unwrap_or(d).to_string())
                .collect();
            p.extend(m.paths.get("PYTHONPATH").into_iter().flatten().cloned());
            p
        };
        let holds =
            |m: &ModuleInfo| path.is_some_and(|p| prefix_of(m).iter().any(|d| d != "/usr" && d != "/" && p.starts_with(d.as_str())));
        let candidates: Vec<&ModuleInfo> = self
            .index
            .modules
            .iter()
            .filter(|m| m.provides(Capability::Python) || m.provides(Capability::H5py))
            .filter(|m| {
                holds(m) || version.is_some_and(|v| m.provides(Capability::Python) && m.version.as_deref().is_some_and(|mv| series(mv) == series(v)))
            })
            .collect();
        self.choose(
            candidates,
            None,
            |m| u8::from(holds(m)),
            |m| match path.filter(|_| holds(m)) {
                Some(p) => format!("holds {p}"),
                None => format!("is Python {}", m.version.as_deref().unwrap_or("?")),
            },
        )
    }

    /// The loaded module whose library directories hold `path` (a library of the closure `b`): the same
    /// directory as written, or as the probes recorded both resolved on the node (symbolic links
    /// followed; a replay reads no file system).
    pub fn loaded_owner_of(&self, path: &str, b: &crate::facts::libraries::BinaryFacts) -> Option<&LoadedModule> {
        let dir = path.rsplit_once('/').map(|(d, _)| d.trim_end_matches('/'))?;
        let resolved = b.resolved_dir_of(path);
        self.loaded.iter().rev().find(|l| {
            l.info.as_ref().is_some_and(|i| {
                i.library_dirs()
                    .any(|d| d.trim_end_matches('/') == dir || i.resolved_dir(d) == resolved)
            })
        })
    }
}

/// One line that does what each of `lines` does, in order (the lines of several modules a finding needs
/// together): consecutive `module load` commands become one, a word already loaded or swapped in by an
/// earlier command is left out (a hierarchy level two modules share), and a command left without words
/// is dropped. `module load a/1 && module load gcc/12 b/2` -> `module load a/1 gcc/12 b/2`.
pub fn merge_lines<'a>(lines: impl IntoIterator<Item = &'a str>) -> String {
    let mut commands: Vec<(String, Vec<String>)> = Vec::new();
    let mut brought: Vec<String> = Vec::new();
    for line in lines {
        for command in line.split("&&") {
            let mut words = command.split_whitespace();
            let (Some("module"), Some(verb)) = (words.next(), words.next()) else {
                continue;
            };
            let words: Vec<String> = words.map(str::to_string).collect();
            if verb == "load" {
                let new: Vec<String> = words.into_iter().filter(|w| !brought.contains(w)).collect();
                if new.is_empty() {
                    continue;
                }
                brought.extend(new.iter().cloned());
                match commands.last_mut() {
                    Some((last, words)) if last == "load" => words.extend(new),
                    _ => commands.push((verb.to_string(), new)),
                }
            } else {
                if commands.iter().any(|(v, w)| v == verb && *w == words) {
                    continue;
                }
                if verb == "swap" {
                    brought.extend(words.last().cloned());
                }
                commands.push((verb.to_string(), words));
            }
        }
    }
    commands
        .iter()
        .map(|(verb, words)| format!("module {verb} {}", words.join(" ")))
        .collect::<Vec<_>>()
        .join(" && ")
}

/// `module unload NAME` for a loaded module that carries a problem, from [`ModulesFacts::unload`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unload {
    /// `module unload NAME`.
    pub line: String,
    /// The module the line unloads (name/version): the carrier, or the module that pulled it in.
    pub module: String,
    /// When the carrier was loaded automatically: `; it was loaded automatically by X, so unloading X
    /// takes it away too` (empty otherwise), to append to the fix's sentence.
    pub pulled_in: String,
}

impl ModulesFacts {
    /// The loaded module that pulled `dep` in as a requirement: one whose recorded prerequisites
    /// (Environment Modules' `__MODULES_LMPREREQ`) or whose modulefile's `depends_on`/`prereq`/`load`
    /// name it (by name, name/version or an alternative name). The last loaded such module.
    pub fn pulled_in_by(&self, dep: &LoadedModule) -> Option<&LoadedModule> {
        let names = |r: &str| r == dep.name || r == dep.full_name || dep.alt_names.iter().any(|a| a == r);
        self.loaded.iter().rev().filter(|l| l.full_name != dep.full_name).find(|l| {
            l.prereqs.iter().any(|p| p.split('|').any(names)) || l.info.as_ref().is_some_and(|i| i.requires.iter().any(|r| names(r)))
        })
    }

    /// How to unload a loaded module that carries a problem. A module the user loaded is unloaded by
    /// name. One loaded automatically as another module's requirement (the `auto-loaded` tag:
    /// Environment Modules' `__MODULES_LMTAG`, Lmod's `stackDepth` > 0) is unloaded through the module
    /// the user loaded that pulled it in (followed upwards while that one was auto-loaded too): both
    /// tools then unload the requirement with it, whereas unloading the requirement alone leaves its
    /// parent loaded without it under Lmod ("dependent module(s) are not currently loaded") and takes
    /// the parent away too under Environment Modules ("Unloading dependent").
    pub fn unload(&self, carrier: &LoadedModule) -> Unload {
        let auto = |m: &LoadedModule| m.tags.iter().any(|t| t == "auto-loaded");
        let mut top = carrier;
        let mut steps = 0;
        while auto(top) && steps < self.loaded.len() {
            match self.pulled_in_by(top) {
                Some(parent) => top = parent,
                None => break,
            }
            steps += 1;
        }
        let pulled_in = if top.full_name == carrier.full_name {
            String::new()
        } else {
            format!(
                "; it was loaded automatically by {}, so unloading {} takes it away too",
                top.full_name, top.name
            )
        };
        Unload {
            line: format!("module unload {}", top.name),
            module: top.full_name.clone(),
            pulled_in,
        }
    }
}

/// `holds HDF5 1.10.8 (parallel, openmpi)` for an HDF5 module.
fn describe_hdf5(m: &ModuleInfo) -> String {
    match &m.hdf5 {
        Some(h) => {
            let kind = if h.parallel {
                format!("parallel, {}", h.mpi_family.map_or("MPI", |f| f.as_str()))
            } else {
                "serial".to_string()
            };
            format!("holds HDF5 {} ({kind})", h.version.as_deref().unwrap_or("?"))
        }
        None => format!(
            "is an HDF5 module ({} by its name)",
            if m.provides(Capability::Hdf5Parallel) { "parallel" } else { "serial" }
        ),
    }
}

fn capability_words(cap: Capability, m: &ModuleInfo) -> String {
    let base = cap.words().to_string();
    if m.requires.is_empty() {
        base
    } else {
        format!("{base}, needing {}", m.requires.join(", "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::facts::modules::{LoadedModule, ModuleHdf5};

    fn hdf5_module(full: &str, release: &str, parallel: bool) -> ModuleInfo {
        let (name, version) = full.split_once('/').unwrap();
        ModuleInfo {
            full_name: full.into(),
            name: name.into(),
            version: Some(version.into()),
            family: Some("hdf5".into()),
            capabilities: vec![Capability::hdf5(parallel)],
            hdf5: Some(ModuleHdf5 {
                version: Some(release.into()),
                parallel,
                ..ModuleHdf5::default()
            }),
            ..ModuleInfo::default()
        }
    }

    fn loaded(info: &ModuleInfo) -> LoadedModule {
        LoadedModule {
            full_name: info.full_name.clone(),
            name: info.name.clone(),
            version: info.version.clone(),
            file: None,
            info: Some(info.clone()),
            ..LoadedModule::default()
        }
    }

    #[test]
    fn a_serial_hdf5_is_swapped_for_a_parallel_one_of_this_mpi_behind_its_level() {
        let parallel = |full: &str, release: &str, family: ModuleMpiFamily| {
            let mut m = hdf5_module(full, release, true);
            m.family = None;
            m.hdf5.as_mut().unwrap().mpi_family = Some(family);
            m
        };
        let serial = hdf5_module("hdf5/1.10.8", "1.10.8", false);
        let mut behind_level = parallel("phdf5/1.10.8", "1.10.8", ModuleMpiFamily::Openmpi);
        behind_level.via = vec!["openmpi/4.1.4".into()];
        behind_level.requires = vec!["zlib".into()];
        let mut f = ModulesFacts::default();
        f.index.modules = vec![
            serial.clone(),
            parallel("phdf5/1.14.3-mpich", "1.14.3", ModuleMpiFamily::Mpich),
            parallel("phdf5/1.14.3", "1.14.3", ModuleMpiFamily::Openmpi),
            behind_level,
        ];
        f.loaded = vec![loaded(&serial), loaded(&f.index.modules[2])];
        // A fitting parallel HDF5 loaded too: unload the serial one.
        let r = f.resolve_parallel_hdf5_for(&f.loaded[0], Some(ModuleMpiFamily::Openmpi)).unwrap();
        assert_eq!(r.line, "module unload hdf5");
        assert_eq!(
            r.why,
            "phdf5/1.14.3 is loaded as well and holds HDF5 1.14.3 (parallel, openmpi); without hdf5/1.10.8 it is the HDF5 of this environment"
        );
        f.loaded.pop();
        // Open MPI: the MPICH build is left out; the serial one's release first, behind its level, swapped in
        // although no family or conflict ties the two.
        let r = f.resolve_parallel_hdf5_for(&f.loaded[0], Some(ModuleMpiFamily::Openmpi)).unwrap();
        assert_eq!(r.line, "module load openmpi/4.1.4 zlib && module swap hdf5 phdf5/1.10.8");
        assert!(!r.why.contains("mpich"), "{}", r.why);
        // MPICH: only the MPICH build.
        let r = f.resolve_parallel_hdf5_for(&f.loaded[0], Some(ModuleMpiFamily::Mpich)).unwrap();
        assert_eq!(r.line, "module swap hdf5 phdf5/1.14.3-mpich");
        // A family that no parallel HDF5 here is built with: none.
        assert_eq!(f.resolve_parallel_hdf5_for(&f.loaded[0], Some(ModuleMpiFamily::Mpt)), None);
        // A pin wins, in the index or not.
        f.site_pins.insert(Capability::Hdf5Parallel, "phdf5/1.14.3".into());
        assert_eq!(
            f.resolve_parallel_hdf5_for(&f.loaded[0], Some(ModuleMpiFamily::Openmpi))
                .unwrap()
                .line,
            "module swap hdf5 phdf5/1.14.3"
        );
        f.site_pins.insert(Capability::Hdf5Parallel, "site-hdf5/2.0".into());
        assert_eq!(
            f.resolve_parallel_hdf5_for(&f.loaded[0], None).unwrap().line,
            "module swap hdf5 site-hdf5/2.0"
        );
    }

    #[test]
    fn the_release_asked_for_comes_first_then_its_series_and_a_loaded_one_is_swapped() {
        let serial = hdf5_module("hdf5/1.10.8", "1.10.8", false);
        let mut f = ModulesFacts::default();
        f.index.modules = vec![
            serial.clone(),
            hdf5_module("hdf5/1.14.3", "1.14.3", false),
            hdf5_module("hdf5/1.14.1", "1.14.1", false),
            hdf5_module("hdf5/2.0.0", "2.0.0", false),
        ];
        f.loaded = vec![loaded(&serial)];
        let want = |v: &str| Hdf5Need {
            version: Some(v.into()),
            ..Hdf5Need::default()
        };
        let r = f.resolve_hdf5(&want("1.14.1")).unwrap();
        assert_eq!(r.line, "module swap hdf5 hdf5/1.14.1");
        assert_eq!(r.why, "hdf5/1.14.1 holds HDF5 1.14.1 (serial). Also: hdf5/1.14.3");
        // No exact release: the same series; another series never.
        assert_eq!(f.resolve_hdf5(&want("1.14.5")).unwrap().module, "hdf5/1.14.3");
        assert_eq!(f.resolve_hdf5(&want("1.12.2")), None);
        // The one loaded already is no fix.
        assert_eq!(f.resolve_hdf5(&want("1.10.8")), None);
    }

    #[test]
    fn levels_and_prerequisites_come_first_in_order_and_a_pin_wins() {
        let mut phdf5 = hdf5_module("phdf5/1.14.3", "1.14.3", true);
        phdf5.via = vec!["gcc/12".into(), "openmpi/4.1".into()];
        phdf5.requires = vec!["zlib".into()];
        let mut zlib = ModuleInfo {
            full_name: "zlib/1.3".into(),
            name: "zlib".into(),
            version: Some("1.3".into()),
            default: true,
            ..ModuleInfo::default()
        };
        zlib.via = vec!["gcc/12".into()];
        let mut f = ModulesFacts::default();
        f.index.modules = vec![phdf5, zlib];
        let r = f.resolve_capability(Capability::Hdf5Parallel).unwrap();
        assert_eq!(r.line, "module load gcc/12 openmpi/4.1 zlib/1.3 phdf5/1.14.3");
        assert!(
            r.why.ends_with("; it is visible after `module load gcc/12 openmpi/4.1`"),
            "{}",
            r.why
        );
        f.site_pins.insert(Capability::Hdf5Parallel, "cray-hdf5-parallel".into());
        let r = f.resolve_capability(Capability::Hdf5Parallel).unwrap();
        assert_eq!(r.line, "module load cray-hdf5-parallel");
    }

    #[test]
    fn an_auto_loaded_carrier_is_unloaded_through_the_module_that_pulled_it_in() {
        let numpy = ModuleInfo {
            full_name: "py-numpy/2.4.6".into(),
            name: "py-numpy".into(),
            ..ModuleInfo::default()
        };
        let stack = ModuleInfo {
            full_name: "py-stack/1.0".into(),
            name: "py-stack".into(),
            requires: vec!["py-numpy/2.4.6".into()],
            ..ModuleInfo::default()
        };
        let mut f = ModulesFacts {
            loaded: vec![loaded(&numpy), loaded(&stack)],
            ..ModulesFacts::default()
        };
        // Loaded by the user: unloaded by its own name.
        assert_eq!(f.unload(&f.loaded[0]).line, "module unload py-numpy");
        assert_eq!(f.unload(&f.loaded[0]).pulled_in, "");
        // Auto-loaded by py-stack's depends_on: py-stack is the one to unload, and the sentence says why.
        f.loaded[0].tags = vec!["auto-loaded".into()];
        let u = f.unload(&f.loaded[0]);
        assert_eq!(u.line, "module unload py-stack");
        assert_eq!(u.module, "py-stack/1.0");
        assert_eq!(
            u.pulled_in,
            "; it was loaded automatically by py-stack/1.0, so unloading py-stack takes it away too"
        );
        // Environment Modules' record of prerequisites names the parent when the file does not.
        f.loaded[1].info.as_mut().unwrap().requires.clear();
        assert_eq!(f.unload(&f.loaded[0]).line, "module unload py-numpy");
        f.loaded[1].prereqs = vec!["py-numpy".into()];
        assert_eq!(f.unload(&f.loaded[0]).line, "module unload py-stack");
    }

    #[test]
    fn mpi4py_for_another_python_or_mpi_is_left_out_and_a_pin_wins() {
        use crate::facts::modules::ExtensionBuild;
        let mpi4py = |full: &str, python: Option<&str>, family: Option<ModuleMpiFamily>| {
            let (name, version) = full.split_once('/').unwrap();
            let mut m = ModuleInfo {
                full_name: full.into(),
                name: name.into(),
                version: Some(version.into()),
                capabilities: vec![Capability::Mpi4py],
                mpi4py: Some(ExtensionBuild {
                    python: python.map(str::to_string),
                    mpi_library: None,
                    mpi_family: family,
                }),
                ..ModuleInfo::default()
            };
            m.python_packages.insert("mpi4py".into(), version.split('-').next().unwrap().into());
            m
        };
        let mut f = ModulesFacts::default();
        f.index.modules = vec![
            mpi4py("py-mpi4py/4.0.0-mpich", Some("3.11"), Some(ModuleMpiFamily::Mpich)),
            mpi4py("py-mpi4py/3.1.6", Some("3.12"), Some(ModuleMpiFamily::Openmpi)),
            mpi4py("py-mpi4py/3.1.4", Some("3.11"), Some(ModuleMpiFamily::Openmpi)),
            mpi4py("py-mpi4py/3.1.5", None, None),
        ];
        let r = f.resolve_mpi4py(Some("3.11.2"), Some(ModuleMpiFamily::Openmpi)).unwrap();
        assert_eq!(r.line, "module load py-mpi4py/3.1.4");
        assert_eq!(
            r.why,
            "py-mpi4py/3.1.4 holds mpi4py 3.1.4, built for Python 3.11. Also: py-mpi4py/3.1.5"
        );
        // MPICH's build for an MPICH h5py; nothing for a Python no module was built for but the unknown one.
        assert_eq!(
            f.resolve_mpi4py(Some("3.11"), Some(ModuleMpiFamily::Mpich)).unwrap().module,
            "py-mpi4py/4.0.0-mpich"
        );
        assert_eq!(
            f.resolve_mpi4py(Some("3.10.4"), Some(ModuleMpiFamily::Openmpi)).unwrap().module,
            "py-mpi4py/3.1.5"
        );
        f.index.modules.pop();
        assert_eq!(f.resolve_mpi4py(Some("3.10.4"), Some(ModuleMpiFamily::Openmpi)), None);
        f.site_pins.insert(Capability::Mpi4py, "py-mpi4py/3.1.6".into());
        assert_eq!(f.resolve_mpi4py(Some("3.11"), None).unwrap().line, "module load py-mpi4py/3.1.6");
    }

    #[test]
    fn a_parallel_h5py_for_another_python_or_mpi_is_passed_over_and_a_pin_wins() {
        use crate::facts::modules::ExtensionBuild;
        let h5py = |full: &str, default: bool, python: Option<&str>, family: Option<ModuleMpiFamily>| {
            let (name, version) = full.split_once('/').unwrap();
            ModuleInfo {
                full_name: full.into(),
                name: name.into(),
                version: Some(version.into()),
                default,
                capabilities: vec![Capability::H5py, Capability::H5pyParallel],
                h5py_build: Some(ExtensionBuild {
                    python: python.map(str::to_string),
                    mpi_library: None,
                    mpi_family: family,
                }),
                ..ModuleInfo::default()
            }
        };
        let mut f = ModulesFacts::default();
        f.index.modules = vec![
            h5py("h5py-parallel/3.11.0", true, Some("3.12"), Some(ModuleMpiFamily::Openmpi)),
            h5py("h5py-parallel/3.10.0-mpich", false, Some("3.11"), Some(ModuleMpiFamily::Mpich)),
            h5py("h5py-parallel/3.7.0", false, Some("3.11"), Some(ModuleMpiFamily::Openmpi)),
            h5py("h5py-parallel/3.8.0", false, None, None),
        ];
        // The default is for Python 3.12: passed over, and said so.
        let r = f.resolve_h5py_parallel(Some("3.11.2"), Some(ModuleMpiFamily::Openmpi)).unwrap();
        assert_eq!(r.line, "module load h5py-parallel/3.7.0");
        assert_eq!(
            r.why,
            "h5py-parallel/3.7.0 provides h5py built with MPI (its extensions built for Python 3.11 and openmpi). \
             Also: h5py-parallel/3.8.0; not for Python 3.11.2 and openmpi: h5py-parallel/3.11.0 (built for Python 3.12), \
             h5py-parallel/3.10.0-mpich (built for mpich)"
        );
        // No MPI known: the Python alone decides, those known to fit first; Cray MPICH is MPICH's ABI.
        assert_eq!(
            f.resolve_h5py_parallel(Some("3.11"), None).unwrap().module,
            "h5py-parallel/3.10.0-mpich"
        );
        assert_eq!(
            f.resolve_h5py_parallel(Some("3.11"), Some(ModuleMpiFamily::CrayMpich))
                .unwrap()
                .module,
            "h5py-parallel/3.10.0-mpich"
        );
        assert_eq!(
            f.resolve_h5py_parallel(Some("3.12.1"), None).unwrap().module,
            "h5py-parallel/3.11.0"
        );
        // Only the unknown build for a Python no module was built for; none once it is gone.
        assert_eq!(f.resolve_h5py_parallel(Some("3.10.4"), None).unwrap().module, "h5py-parallel/3.8.0");
        f.index.modules.pop();
        assert_eq!(f.resolve_h5py_parallel(Some("3.10.4"), None), None);
        f.site_pins.insert(Capability::H5pyParallel, "h5py-parallel/3.11.0".into());
        let pinned = f.resolve_h5py_parallel(Some("3.11"), None).unwrap();
        assert_eq!(pinned.line, "module load h5py-parallel/3.11.0");
        assert!(!pinned.why.contains("not for"), "{}", pinned.why);
    }

    #[test]
    fn the_lines_of_several_modules_merge_into_one_in_order() {
        assert_eq!(
            merge_lines(["module load foo/2.0", "module load bar/2.0"]),
            "module load foo/2.0 bar/2.0"
        );
        assert_eq!(
            merge_lines(["module swap foo foo/2.0", "module load gcc/12 bar/2.0", "module load gcc/12 baz/1"]),
            "module swap foo foo/2.0 && module load gcc/12 bar/2.0 baz/1"
        );
        assert_eq!(
            merge_lines(["module load openmpi/4.1 && module swap hdf5 phdf5/1.10", "module load openmpi/4.1 zlib/1"]),
            "module load openmpi/4.1 && module swap hdf5 phdf5/1.10 && module load zlib/1"
        );
        assert_eq!(merge_lines(["module load a/1", "module load a/1"]), "module load a/1");
    }

    #[test]
    fn the_python_module_whose_prefix_holds_h5py() {
        let mut py = ModuleInfo {
            full_name: "python/3.11.7".into(),
            name: "python".into(),
            version: Some("3.11.7".into()),
            capabilities: vec![Capability::Python],
            ..ModuleInfo::default()
        };
        py.paths.insert("PATH".into(), vec!["/apps/python/3.11.7/bin".into()]);
        let mut other = py.clone();
        other.full_name = "python/3.12.1".into();
        other.version = Some("3.12.1".into());
        other.paths.insert("PATH".into(), vec!["/apps/python/3.12.1/bin".into()]);
        let mut f = ModulesFacts::default();
        f.index.modules = vec![other, py];
        let r = f
            .resolve_python_for(Some("/apps/python/3.11.7/lib/python3.11/site-packages/h5py"), None)
            .unwrap();
        assert_eq!(r.line, "module load python/3.11.7");
        assert_eq!(r.why, "python/3.11.7 holds /apps/python/3.11.7/lib/python3.11/site-packages/h5py");
        assert_eq!(f.resolve_python_for(Some("/home/u/venv/lib/h5py"), None), None);
    }
}
