//! The loader's configuration as glibc's ld.so sees it on this node: LD_LIBRARY_PATH, LD_PRELOAD and
//! /etc/ld.so.preload, /etc/ld.so.cache, the default (trusted) directories, the values of the dynamic
//! string tokens `$ORIGIN`, `$LIB` and `$PLATFORM`, and the glibc-hwcaps subdirectories this CPU
//! activates. Built once per run from the environment; tests build their own.

use super::ldcache::LdCache;
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

/// Everything besides the objects themselves that decides where ld.so finds a library.
#[derive(Debug, Clone)]
pub struct LoaderConfig {
    /// LD_LIBRARY_PATH as set (`None` when unset).
    pub ld_library_path: Option<String>,
    /// LD_PRELOAD as set.
    pub ld_preload: Option<String>,
    /// The contents of /etc/ld.so.preload, if the file exists.
    pub preload_file: Option<String>,
    /// The parsed /etc/ld.so.cache, or why it could not be read.
    pub cache: Result<Arc<LdCache>, String>,
    pub cache_path: PathBuf,
    /// The default directories, each ending in `/` (`path.system_dirs` of `ld.so --list-diagnostics`).
    pub system_dirs: Vec<String>,
    /// Value of `$LIB`.
    pub lib: String,
    /// Value of `$PLATFORM` (computed on first use: it needs the CPU's features).
    pub platform: OnceLock<String>,
    /// Active glibc-hwcaps subdirectories, most preferred first (`x86-64-v3`, `x86-64-v2`); computed
    /// on first use, since asking the CPU is slow in a VM and most systems have no such directory.
    pub hwcaps: OnceLock<Vec<String>>,
    /// The working directory, for relative paths and empty LD_LIBRARY_PATH elements.
    pub cwd: PathBuf,
}

/// The multiarch triplet of a Debian-style system for a machine, if this system uses one.
fn multiarch(machine: u16) -> Option<&'static str> {
    use goblin::elf::header::{EM_386, EM_AARCH64, EM_PPC64, EM_X86_64};
    let triplet = match machine {
        EM_X86_64 => "x86_64-linux-gnu",
        EM_AARCH64 => "aarch64-linux-gnu",
        EM_386 => "i386-linux-gnu",
        EM_PPC64 => "powerpc64le-linux-gnu",
        _ => return None,
    };
    Path::new("/lib").join(triplet).is_dir().then_some(triplet)
}

/// The glibc-hwcaps subdirectories x86-64 CPUs activate, best first (glibc >= 2.33).
fn x86_64_hwcaps() -> Vec<String> {
    #[cfg(target_arch = "x86_64")]
    {
        use std::arch::is_x86_feature_detected as has;
        let v2 = has!("sse3") && has!("ssse3") && has!("sse4.1") && has!("sse4.2") && has!("popcnt") && has!("cmpxchg16b");
        let v3 = v2
            && has!("avx")
            && has!("avx2")
            && has!("bmi1")
            && has!("bmi2")
            && has!("f16c")
            && has!("fma")
            && has!("lzcnt")
            && has!("movbe");
        let v4 = v3 && has!("avx512f") && has!("avx512bw") && has!("avx512cd") && has!("avx512dq") && has!("avx512vl");
        let mut out = Vec::new();
        for (on, name) in [(v4, "x86-64-v4"), (v3, "x86-64-v3"), (v2, "x86-64-v2")] {
            if on {
                out.push(name.to_string());
            }
        }
        out
    }
    #[cfg(not(target_arch = "x86_64"))]
    Vec::new()
}

/// `$PLATFORM`: glibc on x86-64 says `haswell` on CPUs with AVX2 and friends, else the kernel's
/// AT_PLATFORM.
fn platform(hwcaps: &[String]) -> String {
    if hwcaps.iter().any(|h| h == "x86-64-v3" || h == "x86-64-v4") {
        return "haswell".into();
    }
    // SAFETY: getauxval is always safe to call; AT_PLATFORM points at a static NUL-terminated string.
    let p = unsafe { libc::getauxval(libc::AT_PLATFORM) };
    if p == 0 {
        return std::env::consts::ARCH.into();
    }
    unsafe { std::ffi::CStr::from_ptr(p as *const libc::c_char) }
        .to_string_lossy()
        .into_owned()
}

impl LoaderConfig {
    /// The configuration this process's environment gives, for objects of the host's architecture.
    pub fn from_env() -> Self {
        let var = |k: &str| std::env::var_os(k).map(|v| v.to_string_lossy().into_owned());
        Self::with_vars(var("LD_LIBRARY_PATH"), var("LD_PRELOAD"))
    }

    /// The system's configuration with explicit LD_LIBRARY_PATH and LD_PRELOAD values.
    pub fn with_vars(ld_library_path: Option<String>, ld_preload: Option<String>) -> Self {
        let cache_path = PathBuf::from("/etc/ld.so.cache");
        let host = goblin::elf::header::EM_X86_64;
        let (system_dirs, lib) = match multiarch(host) {
            Some(t) => (
                vec![format!("/lib/{t}/"), format!("/usr/lib/{t}/"), "/lib/".into(), "/usr/lib/".into()],
                format!("lib/{t}"),
            ),
            None => (vec!["/lib64/".into(), "/usr/lib64/".into()], "lib64".into()),
        };
        LoaderConfig {
            ld_library_path,
            ld_preload,
            preload_file: std::fs::read_to_string("/etc/ld.so.preload").ok(),
            cache: LdCache::read(&cache_path).map(Arc::new),
            cache_path,
            system_dirs,
            lib,
            platform: OnceLock::new(),
            hwcaps: OnceLock::new(),
            cwd: std::env::current_dir().unwrap_or_else(|_| PathBuf::from("/")),
        }
    }

    /// The active glibc-hwcaps subdirectories, best first.
    pub fn hwcaps(&self) -> &[String] {
        self.hwcaps.get_or_init(x86_64_hwcaps)
    }

    /// The value of `$PLATFORM`.
    pub fn platform(&self) -> &str {
        self.platform.get_or_init(|| platform(self.hwcaps()))
    }

    /// Preloaded names in order: LD_PRELOAD (split on spaces and colons), then /etc/ld.so.preload.
    pub fn preloads(&self) -> Vec<(String, &'static str)> {
        let mut out = Vec::new();
        if let Some(v) = &self.ld_preload {
            out.extend(v.split([' ', ':']).filter(|s| !s.is_empty()).map(|s| (s.to_string(), "LD_PRELOAD")));
        }
        if let Some(v) = &self.preload_file {
            out.extend(
                v.split([' ', '\t', '\n', ':'])
                    .filter(|s| !s.is_empty())
                    .map(|s| (s.to_string(), "/etc/ld.so.preload")),
            );
        }
        out
    }

    /// Expands `$ORIGIN`, `$LIB`, `$PLATFORM` (also in braces) the way ld.so's `_dl_dst_substitute`
    /// does. `None` when the string needs an origin that is unknown: ld.so then drops the element.
    pub fn expand(&self, s: &str, origin: Option<&str>) -> Option<String> {
        if !s.contains('$') {
            return Some(s.to_string());
        }
        let mut out = String::with_capacity(s.len() + 32);
        let mut rest = s;
        while let Some(pos) = rest.find('$') {
            out.push_str(&rest[..pos]);
            let after = &rest[pos + 1..];
            let mut matched = None;
            for (token, value) in [
                ("ORIGIN", origin),
                ("PLATFORM", Some(self.platform())),
                ("LIB", Some(self.lib.as_str())),
            ] {
                if let Some(t) = after
                    .strip_prefix('{')
                    .and_then(|a| a.strip_prefix(token))
                    .and_then(|a| a.strip_prefix('}'))
                {
                    matched = Some((value, after.len() - t.len()));
                    break;
                }
                if let Some(t) = after.strip_prefix(token) {
                    let next = t.chars().next();
                    if !next.is_some_and(|c| c.is_ascii_alphanumeric() || c == '_') {
                        matched = Some((value, token.len()));
                        break;
                    }
                }
            }
            match matched {
                Some((Some(value), used)) => {
                    out.push_str(value);
                    rest = &after[used..];
                }
                Some((None, _)) => return None,
                None => {
                    out.push('$');
                    rest = after;
                }
            }
        }
        out.push_str(rest);
        Some(out)
    }

    /// Splits a search list (`:` and `;` separated) into directories ending in `/`, with tokens
    /// expanded; an empty element is the working directory (`""`), as in ld.so's `fillin_rpath`.
    /// Repeated directories are kept once. Returns (template, expanded dir) pairs.
    pub fn split_dirs(&self, list: &str, origin: Option<&str>) -> Vec<(String, String)> {
        let mut out: Vec<(String, String)> = Vec::new();
        for element in list.split([':', ';']) {
            let dir = if element.is_empty() {
                String::new()
            } else {
                let Some(mut d) = self.expand(element, origin) else {
                    continue;
                };
                while d.len() > 1 && d.ends_with('/') {
                    d.pop();
                }
                if !d.ends_with('/') {
                    d.push('/');
                }
                d
            };
            if !out.iter().any(|(_, seen)| *seen == dir) {
                out.push((element.to_string(), dir));
            }
        }
        out
    }

    /// The directory a path lies in, made absolute against the working directory (an object's
    /// `$ORIGIN`: ld.so takes the name it opened, without resolving symlinks).
    pub fn origin_of(&self, path: &str) -> Option<String> {
        let abs = if path.starts_with('/') {
            PathBuf::from(path)
        } else {
            self.cwd.join(path)
        };
        let parent = abs.parent()?.to_string_lossy().into_owned();
        Some(if parent.is_empty() { "/".into() } else { parent })
    }

    /// Whether a path starts with one of the default directories (ld.so's NODEFLIB test on cache hits).
    pub fn in_system_dir(&self, path: &str) -> bool {
        self.system_dirs.iter().any(|d| path.starts_with(d.as_str()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg() -> LoaderConfig {
        let mut c = LoaderConfig::with_vars(None, None);
        c.platform = OnceLock::from("haswell".to_string());
        c.lib = "lib/x86_64-linux-gnu".into();
        c
    }

    #[test]
    fn tokens_expand_like_ld_so() {
        let c = cfg();
        assert_eq!(c.expand("$ORIGIN/../lib", Some("/opt/app/bin")).unwrap(), "/opt/app/bin/../lib");
        assert_eq!(c.expand("${ORIGIN}/x", Some("/o")).unwrap(), "/o/x");
        assert_eq!(c.expand("/usr/$LIB/$PLATFORM", None).unwrap(), "/usr/lib/x86_64-linux-gnu/haswell");
        assert_eq!(c.expand("/a/$ORIGINAL", Some("/o")).unwrap(), "/a/$ORIGINAL", "not a token");
        assert_eq!(c.expand("$ORIGIN/x", None), None, "no origin: the element is dropped");
    }

    #[test]
    fn search_lists_split_dedupe_and_keep_empty_as_cwd() {
        let c = cfg();
        let dirs: Vec<String> = c.split_dirs("/a//:/b;/a:", None).into_iter().map(|(_, d)| d).collect();
        assert_eq!(dirs, ["/a/", "/b/", ""]);
    }
}
