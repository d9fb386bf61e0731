//! The loader's configuration as glibc's ld.so sees it on this node: LD_LIBRARY_PATH, LD_PRELOAD and
//! /etc/ld.so.preload, /etc/ld.so.cache, the default (trusted) directories, the values of the dynamic
//! string tokens `$ORIGIN`, `$LIB` and `$PLATFORM`, and the glibc-hwcaps subdirectories this CPU
//! activates. Built once per run from the environment; tests build their own.

use super::ldcache::LdCache;
use serde::{Deserialize, Serialize};
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
    /// The loader's own view of this node (`$PLATFORM`, glibc-hwcaps, legacy hwcap subdirectories):
    /// asked on first use, since running it costs a process and most resolutions never need it; set
    /// from a facts file to resolve as that node did.
    pub node: OnceLock<NodeLoader>,
    /// The loader to ask.
    pub rtld: String,
    /// The first components of the legacy hwcap subdirectories this loader may search, known without
    /// asking it (`tls`, AT_PLATFORM, `haswell`, `x86_64`, ...): a directory holding none of them needs
    /// no answer.
    legacy_candidates: Vec<String>,
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

/// The glibc-hwcaps subdirectories x86-64 CPUs activate, best first (glibc >= 2.33), from the CPU's
/// features: what the loader computes, for when it cannot be asked.
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

/// The kernel's AT_PLATFORM (`x86_64`), which glibc takes as `$PLATFORM` unless it knows better.
fn at_platform() -> String {
    // SAFETY: getauxval is always safe to call; AT_PLATFORM points at a static NUL-terminated string.
    let p = unsafe { libc::getauxval(libc::AT_PLATFORM) };
    if p == 0 {
        return std::env::consts::ARCH.into();
    }
    unsafe { std::ffi::CStr::from_ptr(p as *const libc::c_char) }
        .to_string_lossy()
        .into_owned()
}

/// The dynamic loader of a node as it describes itself: what `$PLATFORM` expands to, which
/// glibc-hwcaps subdirectories it searches, which legacy hwcap subdirectories (glibc <= 2.36 searches
/// them in every directory after glibc-hwcaps: `tls/x86_64`, `x86_64`, ...) and its default directories.
/// Recorded in the facts (`libraries.loader`) so that a replayed facts file resolves as that node did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
pub struct NodeLoader {
    /// Where the values come from: `ld.so --help` (the loader itself), or `computed` (AT_PLATFORM and
    /// the CPU's features, as glibc 2.36 would) when the loader cannot be asked, with the reason.
    pub source: String,
    /// The loader asked (`/lib64/ld-linux-x86-64.so.2`).
    pub rtld: String,
    /// `$PLATFORM` (glibc's `dl_platform`: AT_PLATFORM, or on Intel CPUs `haswell`/`xeon_phi`).
    pub platform: String,
    /// Active glibc-hwcaps subdirectories, most preferred first.
    pub hwcaps: Vec<String>,
    /// The legacy hwcap names searched, in glibc's order of `_dl_important_hwcaps` (the hwcap bits,
    /// the platform, `tls`).
    pub legacy_names: Vec<String>,
    /// The legacy hwcap subdirectories every search directory is tried with, in order, after the
    /// glibc-hwcaps ones and before the directory itself.
    pub legacy_subdirs: Vec<String>,
}

/// Every combination of the legacy hwcap names, in the order `_dl_important_hwcaps` builds them (the
/// last name outermost, most specific first), without the empty one and without repeats:
/// `[sse2, i686, tls]` gives `tls/i686/sse2, tls/i686, tls/sse2, tls, i686/sse2, i686, sse2`.
pub fn legacy_combinations(names: &[String]) -> Vec<String> {
    let n = names.len().min(16);
    let mut out: Vec<String> = Vec::new();
    for mask in (1..(1u32 << n)).rev() {
        let parts: Vec<&str> = (0..n).rev().filter(|i| mask & (1 << i) != 0).map(|i| names[i].as_str()).collect();
        let dir = parts.join("/");
        if !out.contains(&dir) {
            out.push(dir);
        }
    }
    out
}

impl NodeLoader {
    /// Asks the loader (`RTLD --help` in the C locale); computes the values as glibc does where that
    /// is impossible (no such loader, glibc < 2.33, not trusted to run as root).
    pub fn detect(rtld: &str) -> Self {
        match Self::ask(rtld) {
            Ok(node) => node,
            Err(why) => Self::computed(rtld, &why),
        }
    }

    fn ask(rtld: &str) -> Result<Self, String> {
        let mut cmd = std::process::Command::new(rtld);
        cmd.arg("--help").env_clear().env("LC_ALL", "C");
        // GLIBC_TUNABLES changes what the loader selects; the job has the same.
        if let Some(t) = std::env::var_os("GLIBC_TUNABLES") {
            cmd.env("GLIBC_TUNABLES", t);
        }
        // The environment is cleared (GLIBC_TUNABLES aside) and the loader is a static ELF file: whether root
        // may run it is whether a user could have written it.
        crate::ownership::may_use(Path::new(rtld)).map_err(|e| e.to_string())?;
        let out = cmd.output().map_err(|e| format!("{rtld} --help: {e}"))?;
        let text = String::from_utf8_lossy(&out.stdout);
        if !out.status.success() || !text.contains("glibc-hwcaps") {
            return Err(format!("{rtld} --help does not list glibc-hwcaps (glibc < 2.33)"));
        }
        Ok(Self::parse_help(rtld, &text))
    }

    /// Reads the sections of `ld.so --help` about glibc-hwcaps and legacy hwcap subdirectories.
    pub fn parse_help(rtld: &str, text: &str) -> Self {
        let mut node = NodeLoader {
            source: "ld.so --help".into(),
            rtld: rtld.into(),
            platform: String::new(),
            ..Self::default()
        };
        let mut section = "";
        // The hwcap bits are printed highest first; the loader combines them lowest first.
        let mut bits: Vec<String> = Vec::new();
        for line in text.lines() {
            if !line.starts_with("  ") {
                section = if line.starts_with("Subdirectories of glibc-hwcaps") {
                    "hwcaps"
                } else if line.starts_with("Legacy HWCAP subdirectories") {
                    "legacy"
                } else {
                    ""
                };
                continue;
            }
            let item = line.trim();
            let (name, notes) = item.split_once(' ').unwrap_or((item, ""));
            let searched = notes.contains("searched");
            match section {
                "hwcaps" if searched => node.hwcaps.push(name.to_string()),
                "legacy" if notes.contains("AT_PLATFORM") => node.platform = name.to_string(),
                "legacy" if name == "tls" => {}
                "legacy" if searched => bits.push(name.to_string()),
                _ => {}
            }
        }
        if node.platform.is_empty() {
            node.platform = at_platform();
        }
        bits.reverse();
        if text.contains("Legacy HWCAP subdirectories") {
            node.legacy_names = bits;
            node.legacy_names.push(node.platform.clone());
            node.legacy_names.push("tls".into());
        }
        node.legacy_subdirs = legacy_combinations(&node.legacy_names);
        node
    }

    /// glibc 2.36's own computation on x86-64 (`init_cpu_features`, `_dl_important_hwcaps`), for when
    /// the loader cannot be asked: `$PLATFORM` is AT_PLATFORM except `haswell`/`xeon_phi` on Intel
    /// CPUs; the legacy names are `x86_64` (and `avx512_1` on Intel with AVX-512), the platform, `tls`.
    pub fn computed(rtld: &str, why: &str) -> Self {
        let mut platform = at_platform();
        let mut legacy_names = Vec::new();
        #[cfg(target_arch = "x86_64")]
        {
            use std::arch::is_x86_feature_detected as has;
            // cpuid leaf 0 (the vendor string) exists on every x86-64 CPU.
            let v = std::arch::x86_64::__cpuid(0);
            let intel = [v.ebx, v.edx, v.ecx].iter().flat_map(|r| r.to_le_bytes()).eq(*b"GenuineIntel");
            let haswell = has!("avx2") && has!("fma") && has!("bmi1") && has!("bmi2") && has!("lzcnt") && has!("movbe") && has!("popcnt");
            let avx512_1 = intel && has!("avx512cd") && has!("avx512bw") && has!("avx512dq") && has!("avx512vl");
            if intel && haswell {
                platform = "haswell".into();
            }
            legacy_names.push("x86_64".to_string());
            if avx512_1 {
                legacy_names.push("avx512_1".into());
            }
        }
        let legacy = glibc_version().is_none_or(|v| super::symbols::compare_versions(&v, "2.37").is_lt());
        if legacy {
            legacy_names.push(platform.clone());
            legacy_names.push("tls".into());
        } else {
            legacy_names.clear();
        }
        NodeLoader {
            source: format!("computed ({why})"),
            rtld: rtld.into(),
            platform,
            hwcaps: x86_64_hwcaps(),
            legacy_subdirs: legacy_combinations(&legacy_names),
            legacy_names,
        }
    }
}

/// The release of the glibc this process runs with (the node's).
fn glibc_version() -> Option<String> {
    // SAFETY: gnu_get_libc_version returns a static NUL-terminated string.
    let p = unsafe { libc::gnu_get_libc_version() };
    (!p.is_null()).then(|| unsafe { std::ffi::CStr::from_ptr(p) }.to_string_lossy().into_owned())
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
            node: OnceLock::new(),
            rtld: super::object::Arch {
                is_64: true,
                little_endian: true,
                machine: host,
            }
            .default_interpreter()
            .unwrap_or("/lib64/ld-linux-x86-64.so.2")
            .into(),
            legacy_candidates: {
                let mut c: Vec<String> = ["tls", "x86_64", "avx512_1", "haswell", "xeon_phi"].map(String::from).to_vec();
                let p = at_platform();
                if !c.contains(&p) {
                    c.push(p);
                }
                c
            },
            cwd: std::env::current_dir().unwrap_or_else(|_| PathBuf::from("/")),
        }
    }

    /// The loader's view of this node (asked once).
    pub fn node(&self) -> &NodeLoader {
        self.node.get_or_init(|| NodeLoader::detect(&self.rtld))
    }

    /// Resolves as the node described by `node` does (a replayed facts file).
    pub fn with_node(mut self, node: NodeLoader) -> Self {
        self.legacy_candidates = node
            .legacy_subdirs
            .iter()
            .filter_map(|d| d.split('/').next())
            .map(String::from)
            .collect();
        self.legacy_candidates.dedup();
        self.node = OnceLock::from(node);
        self
    }

    /// The active glibc-hwcaps subdirectories, best first.
    pub fn hwcaps(&self) -> &[String] {
        &self.node().hwcaps
    }

    /// The value of `$PLATFORM`.
    pub fn platform(&self) -> &str {
        &self.node().platform
    }

    /// The legacy hwcap subdirectories of `dir` (ending in `/`) to try, in the loader's order; asks
    /// the loader only when `dir` holds a directory of a name it may search.
    pub fn legacy_subdirs(&self, dir: &str, exists: &dyn Fn(&str) -> bool) -> Vec<&str> {
        if !self.legacy_candidates.iter().any(|c| exists(&format!("{dir}{c}"))) {
            return Vec::new();
        }
        self.node()
            .legacy_subdirs
            .iter()
            .map(String::as_str)
            .filter(|sub| exists(&format!("{dir}{sub}")))
            .collect()
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
        let mut c = LoaderConfig::with_vars(None, None).with_node(NodeLoader {
            platform: "haswell".into(),
            ..NodeLoader::default()
        });
        c.lib = "lib/x86_64-linux-gnu".into();
        c
    }

    #[test]
    fn glibc_s_own_computation_matches_what_this_loader_says() {
        let asked = NodeLoader::detect("/lib64/ld-linux-x86-64.so.2");
        assert_eq!(asked.source, "ld.so --help", "{asked:?}");
        let computed = NodeLoader::computed("/lib64/ld-linux-x86-64.so.2", "test");
        assert_eq!(computed.platform, asked.platform);
        assert_eq!(computed.hwcaps, asked.hwcaps);
        assert_eq!(computed.legacy_subdirs, asked.legacy_subdirs);
    }

    #[test]
    fn legacy_subdirectories_in_glibc_order() {
        let names = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(
            legacy_combinations(&names(&["sse2", "i686", "tls"])),
            ["tls/i686/sse2", "tls/i686", "tls/sse2", "tls", "i686/sse2", "i686", "sse2"]
        );
        let help = "Subdirectories of glibc-hwcaps directories, in priority order:\n  x86-64-v4\n  x86-64-v3 (supported, searched)\n  x86-64-v2 (supported, searched)\n\nLegacy HWCAP subdirectories under library search path directories:\n  x86_64 (AT_PLATFORM; supported, searched)\n  tls (supported, searched)\n  avx512_1\n  x86_64 (supported, searched)\n";
        let node = NodeLoader::parse_help("/lib64/ld-linux-x86-64.so.2", help);
        assert_eq!(node.hwcaps, ["x86-64-v3", "x86-64-v2"]);
        assert_eq!(node.platform, "x86_64");
        assert_eq!(node.legacy_names, ["x86_64", "x86_64", "tls"]);
        assert_eq!(
            node.legacy_subdirs,
            ["tls/x86_64/x86_64", "tls/x86_64", "tls", "x86_64/x86_64", "x86_64"]
        );
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
