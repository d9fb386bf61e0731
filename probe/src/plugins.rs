//! Plugins: list each plugin directory the way HDF5 does (files named `lib*` containing `.so`,
//! directories skipped) and load every plugin library to learn what it provides (H5PLget_plugin_type,
//! H5PLget_plugin_info: a filter's id and name, a VOL connector's or file driver's name). Each library is loaded in a forked child with a time limit, so a plugin whose
//! constructor crashes or hangs costs only its own entry, never the whole report.
//!
//! h5doctor runs `h5doctor-probe plugins DIR...` with HDF5_PLUGIN_PATH unset and passes that variable's
//! directories as arguments; the library's search path is then its compiled-in default, listed after them.
//! When HDF5_PLUGIN_PATH is unset it asks `create` for the same report instead (H5DOCTOR_PROBE_PLUGINS),
//! which saves a process.

use h5doctor::facts::values::PluginDirSource;
use h5doctor::facts::{PluginDirFacts, PluginLibrary, PluginLoad, PluginProbeReport};
use std::ffi::{c_char, c_int, c_void, CStr, CString};
use std::io::Read;
use std::os::fd::FromRawFd;
use std::path::Path;
use std::time::{Duration, Instant};

/// How long one plugin library may take to load.
const LOAD_LIMIT: Duration = Duration::from_secs(5);

/// HDF5's rule for a plugin file name (H5PL__find_plugin_in_path): `lib` prefix and `.so` (or `.dylib`).
pub fn looks_like_plugin(name: &str) -> bool {
    name.starts_with("lib") && (name.contains(".so") || name.contains(".dylib"))
}

fn describe_io_error(e: &std::io::Error) -> String {
    match e.raw_os_error() {
        Some(n) => format!("{} ({})", h5doctor::errno::describe(n), h5doctor::errno::name(n)),
        None => e.to_string(),
    }
}

/// Lists one directory: whether it exists and can be read, and its plugin files.
fn list_dir(path: &str, source: PluginDirSource) -> PluginDirFacts {
    let mut dir = PluginDirFacts {
        path: path.to_string(),
        source,
        ..PluginDirFacts::default()
    };
    match std::fs::metadata(path) {
        Ok(m) => {
            dir.exists = true;
            dir.is_dir = m.is_dir();
        }
        Err(e) => {
            dir.error = Some(describe_io_error(&e));
            return dir;
        }
    }
    if !dir.is_dir {
        dir.error = Some("not a directory".into());
        return dir;
    }
    let entries = match std::fs::read_dir(path) {
        Ok(entries) => entries,
        Err(e) => {
            dir.error = Some(describe_io_error(&e));
            return dir;
        }
    };
    dir.readable = true;
    let mut files: Vec<String> = entries
        .filter_map(Result::ok)
        .filter(|e| e.file_name().to_str().is_some_and(looks_like_plugin))
        .map(|e| e.path())
        .filter(|p| std::fs::metadata(p).is_ok_and(|m| !m.is_dir()))
        .map(|p| p.display().to_string())
        .collect();
    files.sort();
    dir.plugins = files
        .into_iter()
        .map(|file| PluginLibrary {
            load: Some(load_isolated(&file)),
            file,
            ..PluginLibrary::default()
        })
        .collect();
    dir
}

type GetType = unsafe extern "C" fn() -> c_int;
type GetInfo = unsafe extern "C" fn() -> *const c_void;

/// dlopen + the two entry points, in the current process. The filter class is read the way HDF5 does:
/// H5Z_class2_t starts with `int version` (1), an old H5Z_class1_t with the filter id. A VOL connector's
/// class (H5VL_class_t, HDF5 >= 1.12) and a driver plugin's (H5FD_class_t, HDF5 >= 1.14) both start
/// `{ unsigned version; int value; const char *name; ... }`: the name HDF5 compares with
/// HDF5_VOL_CONNECTOR's first word or HDF5_DRIVER (H5VL_check_plugin_load, H5FD_check_plugin_load).
fn load_here(file: &str) -> PluginLoad {
    let Ok(c) = CString::new(file) else {
        return PluginLoad {
            error: Some("file name contains a NUL byte".into()),
            ..PluginLoad::default()
        };
    };
    // SAFETY: dlopen/dlsym/dlerror with valid C strings; the plugin's entry points take no arguments and
    // return what the HDF5 plugin interface documents; the returned class is only read.
    unsafe {
        let handle = libc::dlopen(c.as_ptr(), libc::RTLD_LAZY);
        if handle.is_null() {
            let err = libc::dlerror();
            let msg = if err.is_null() {
                "dlopen failed".to_string()
            } else {
                CStr::from_ptr(err).to_string_lossy().into_owned()
            };
            return PluginLoad {
                error: Some(msg),
                ..PluginLoad::default()
            };
        }
        let get_type = libc::dlsym(handle, c"H5PLget_plugin_type".as_ptr());
        let get_info = libc::dlsym(handle, c"H5PLget_plugin_info".as_ptr());
        if get_type.is_null() || get_info.is_null() {
            return PluginLoad {
                error: Some("not an HDF5 plugin: no H5PLget_plugin_type/H5PLget_plugin_info".into()),
                ..PluginLoad::default()
            };
        }
        let get_type: GetType = std::mem::transmute(get_type);
        let get_info: GetInfo = std::mem::transmute(get_info);
        let plugin_type = get_type();
        let mut load = PluginLoad {
            ok: true,
            plugin_type: Some(plugin_type),
            ..PluginLoad::default()
        };
        if plugin_type == 0 {
            let info = get_info() as *const u8;
            if info.is_null() {
                load.ok = false;
                load.error = Some("H5PLget_plugin_info returned NULL".into());
                return load;
            }
            let first = *(info as *const c_int);
            let (id, name) = if first == 1 {
                // H5Z_class2_t { int version; H5Z_filter_t id; unsigned encoder_present, decoder_present; const char *name; ... }
                (*(info.add(4) as *const c_int), *(info.add(16) as *const *const c_char))
            } else {
                // H5Z_class1_t { H5Z_filter_t id; const char *name; ... }
                (first, *(info.add(8) as *const *const c_char))
            };
            load.filter_id = Some(id);
            if !name.is_null() {
                load.filter_name = Some(CStr::from_ptr(name).to_string_lossy().into_owned());
            }
        } else if plugin_type == 1 || plugin_type == 2 {
            let info = get_info() as *const u8;
            if info.is_null() {
                load.ok = false;
                load.error = Some("H5PLget_plugin_info returned NULL".into());
                return load;
            }
            load.class_version = Some(*(info as *const u32));
            let name = *(info.add(8) as *const *const c_char);
            if !name.is_null() {
                load.class_name = Some(CStr::from_ptr(name).to_string_lossy().into_owned());
            }
        }
        load
    }
}

/// Loads one plugin library in a forked child and reads its answer from a pipe.
fn load_isolated(file: &str) -> PluginLoad {
    let mut fds = [0 as c_int; 2];
    // SAFETY: pipe with a valid array; fork (in `create`, the signal thread, blocked on its pipe, is the
    // only other thread); the child only loads the plugin, writes one JSON document and _exits without
    // running atexit handlers.
    unsafe {
        if libc::pipe(fds.as_mut_ptr()) != 0 {
            return load_here(file);
        }
        let pid = libc::fork();
        if pid < 0 {
            libc::close(fds[0]);
            libc::close(fds[1]);
            return load_here(file);
        }
        if pid == 0 {
            // Run from `create` (H5DOCTOR_PROBE_PLUGINS), the parent has registered probe files and a
            // signal thread that removes them: a signal to this child alone must not reach that thread
            // (through the shared self-pipe) or remove the parent's files.
            for sig in [libc::SIGINT, libc::SIGTERM, libc::SIGHUP] {
                libc::signal(sig, libc::SIG_DFL);
            }
            libc::close(fds[0]);
            let text = serde_json::to_string(&load_here(file)).unwrap_or_default();
            let mut written = 0;
            while written < text.len() {
                let n = libc::write(fds[1], text.as_ptr().add(written).cast(), text.len() - written);
                if n <= 0 {
                    break;
                }
                written += n as usize;
            }
            libc::_exit(0);
        }
        libc::close(fds[1]);
        libc::fcntl(fds[0], libc::F_SETFL, libc::O_NONBLOCK);
        let mut pipe = std::fs::File::from_raw_fd(fds[0]);
        let mut out = Vec::new();
        let start = Instant::now();
        let mut status = 0;
        loop {
            let mut buf = [0u8; 4096];
            match pipe.read(&mut buf) {
                Ok(0) => {}
                Ok(n) => {
                    out.extend_from_slice(&buf[..n]);
                    continue;
                }
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
                Err(_) => {}
            }
            let done = libc::waitpid(pid, &mut status, libc::WNOHANG);
            if done == pid {
                let _ = pipe.read_to_end(&mut out);
                break;
            }
            if start.elapsed() > LOAD_LIMIT {
                libc::kill(pid, libc::SIGKILL);
                libc::waitpid(pid, &mut status, 0);
                return PluginLoad {
                    error: Some(format!("loading it did not finish within {} s", LOAD_LIMIT.as_secs())),
                    ..PluginLoad::default()
                };
            }
            std::thread::sleep(Duration::from_millis(1));
        }
        if libc::WIFSIGNALED(status) {
            return PluginLoad {
                error: Some(format!("loading it killed the process (signal {})", libc::WTERMSIG(status))),
                ..PluginLoad::default()
            };
        }
        serde_json::from_slice(&out).unwrap_or_else(|_| PluginLoad {
            error: Some(format!(
                "the loader child exited with status {} and no answer",
                libc::WEXITSTATUS(status)
            )),
            ..PluginLoad::default()
        })
    }
}

/// Lists and loads the given directories (from HDF5_PLUGIN_PATH) and the library's default ones.
pub fn probe(env_dirs: &[String]) -> PluginProbeReport {
    let default_dirs = if std::env::var_os("HDF5_PLUGIN_PATH").is_some() {
        Vec::new()
    } else {
        crate::library::plugin_search_path()
    };
    let mut dirs: Vec<PluginDirFacts> = env_dirs.iter().map(|d| list_dir(d, PluginDirSource::Env)).collect();
    for d in &default_dirs {
        if !env_dirs.iter().any(|e| Path::new(e) == Path::new(d)) {
            dirs.push(list_dir(d, PluginDirSource::Default));
        }
    }
    PluginProbeReport { default_dirs, dirs }
}

#[cfg(test)]
mod tests {
    use super::looks_like_plugin;

    #[test]
    fn plugin_names_follow_hdf5s_rule() {
        assert!(looks_like_plugin("libh5blosc.so"));
        assert!(looks_like_plugin("libh5zstd.so.1"));
        assert!(!looks_like_plugin("h5zstd.so"));
        assert!(!looks_like_plugin("libfoo.a"));
    }
}
