//! The PMIx client the MPI library already loaded and initialised, for the few keys mpio-test shares
//! outside MPI: that a rank has left MPI_Init ([`crate::mpio`]) and where rank 0's lifeline listens
//! ([`crate::lifeline`]); and, for the watchdog, whether this process is still in its PMIx handshake
//! ([`wait_for_handshake`]). Nothing is loaded here (dlopen RTLD_NOLOAD): without PMIx (MPICH under hydra
//! or PMI-2, a singleton) there is no [`Session`].
//!
//! The standard's signatures, and the layouts as PMIx 4.2.2's headers give them (pmix_proc_t 260 bytes;
//! pmix_value_t 32, its data at 8; pmix_info_t 552, its flags at 512 and its value at 520; PMIX_BOOL 1,
//! PMIX_STRING 3, PMIX_UINT32 14, PMIX_GLOBAL 3, PMIX_ERR_NOT_FOUND -46), unchanged since PMIx 2.

use std::ffi::{c_char, c_void, CStr, CString};
use std::time::Duration;

const SUCCESS: i32 = 0;
const ERR_NOT_FOUND: i32 = -46;
const GLOBAL: u8 = 3;
const BOOL: u16 = 1;
const STRING: u16 = 3;
const UINT32: u16 = 14;

#[repr(C)]
struct Proc {
    nspace: [c_char; 256],
    rank: u32,
}

#[repr(C)]
struct Value {
    kind: u16,
    data: [u64; 3],
}

#[repr(C)]
struct Info {
    key: [c_char; 512],
    flags: u32,
    value: Value,
}

type Initialized = unsafe extern "C" fn() -> bool;
type Put = unsafe extern "C" fn(u8, *const c_char, *mut Value) -> i32;
type Commit = unsafe extern "C" fn() -> i32;
type Get = unsafe extern "C" fn(*const Proc, *const c_char, *const Info, usize, *mut *mut Value) -> i32;

/// PMIx_Put, PMIx_Commit and PMIx_Get of the loaded, initialised PMIx client, and this job's namespace.
pub struct Session {
    put: Put,
    commit: Commit,
    get: Get,
    nspace: String,
}

/// What a key read from another rank gave.
pub enum Got<T> {
    Value(T),
    /// Not put (yet): that rank has not got there.
    NotFound,
}

/// How long a rank's end waits at most for its PMIx handshake ([`wait_for_handshake`]): it
/// takes milliseconds; a server that has not answered by then will not.
pub const HANDSHAKE_GRACE: Duration = Duration::from_secs(10);

/// Waits until this process's PMIx client is no longer in the middle of its handshake with the launcher's
/// PMIx server, at most `grace`; returns how long it waited, `None` when the grace ran out. For the
/// watchdog and the signal handler, which must not end a rank there: mpirun (Open MPI 4.1.4, PMIx 4.2.2)
/// sending its handshake reply to a rank that died logs "PMIX ERROR: UNREACHABLE in
/// ptl_base_connection_hdlr.c at line 388" and later deadlocks in PMIx_server_finalize (gdb: its main
/// thread waits on a PMIx mutex for good; 2 of 20 runs with `--timeout 0.05`), or, when the reply comes
/// later, dies of SIGPIPE.
///
/// PMIx_Init holds PMIx's global lock from its start through the handshake and the first request for the
/// job's data, and PMIx_Initialized takes that lock (PMIx 4.2.2; a release whose PMIx_Initialized takes
/// no lock answers as soon as PMIx_Init has begun, and this wait is then shorter than the handshake): once
/// it answers true from here, the handshake is over (done or failed). MPI_Init loads the PMIx client (an
/// MCA component linking libpmix) before it calls PMIx_Init, so until the library is loaded this waits
/// for it. Without `PMIX_NAMESPACE` no PMIx server launched this process: nothing to wait for.
pub fn wait_for_handshake(grace: Duration) -> Option<Duration> {
    if std::env::var_os("PMIX_NAMESPACE").is_none() {
        return Some(Duration::ZERO);
    }
    let waiting = std::time::Instant::now();
    let (done, over) = std::sync::mpsc::channel();
    // On a thread of its own: PMIx_Initialized blocks while PMIx_Init holds the lock, maybe for good.
    std::thread::spawn(move || loop {
        // SAFETY: dlopen with RTLD_NOLOAD returns only an already loaded library; PMIx_Initialized takes
        // no arguments in every PMIx release.
        let initialized = unsafe {
            loaded_client().and_then(|handle| {
                let symbol = libc::dlsym(handle, c"PMIx_Initialized".as_ptr());
                (!symbol.is_null()).then(|| std::mem::transmute::<*mut c_void, Initialized>(symbol)())
            })
        };
        if initialized == Some(true) {
            let _ = done.send(());
            return;
        }
        std::thread::sleep(Duration::from_millis(10));
    });
    over.recv_timeout(grace).ok().map(|()| waiting.elapsed())
}

/// The PMIx client library, when this process has loaded it.
fn loaded_client() -> Option<*mut c_void> {
    // SAFETY: dlopen with RTLD_NOLOAD only returns an already loaded library.
    [c"libpmix.so.2", c"libpmix.so"]
        .iter()
        .map(|name| unsafe { libc::dlopen(name.as_ptr(), libc::RTLD_NOW | libc::RTLD_NOLOAD) })
        .find(|h| !h.is_null())
}

impl Session {
    /// The client the MPI library loaded and initialised, in the namespace PMIX_NAMESPACE names; `None`
    /// when the library runs without PMIx.
    pub fn of_this_process() -> Option<Self> {
        let nspace = std::env::var("PMIX_NAMESPACE").ok()?;
        // SAFETY: dlopen with RTLD_NOLOAD only returns an already loaded library; each symbol is cast to
        // its signature in every PMIx release.
        unsafe {
            let handle = loaded_client()?;
            let symbol = |name: &CStr| Some(libc::dlsym(handle, name.as_ptr())).filter(|p| !p.is_null());
            let initialized = std::mem::transmute::<*mut c_void, Initialized>(symbol(c"PMIx_Initialized")?);
            if !initialized() {
                return None;
            }
            Some(Self {
                put: std::mem::transmute::<*mut c_void, Put>(symbol(c"PMIx_Put")?),
                commit: std::mem::transmute::<*mut c_void, Commit>(symbol(c"PMIx_Commit")?),
                get: std::mem::transmute::<*mut c_void, Get>(symbol(c"PMIx_Get")?),
                nspace,
            })
        }
    }

    /// This job's PMIx namespace.
    pub fn nspace(&self) -> &str {
        &self.nspace
    }

    /// Puts `key` = 1 (global scope) and commits it.
    pub fn put_flag(&self, key: &CStr) -> Result<(), String> {
        let mut value = Value {
            kind: UINT32,
            data: [1, 0, 0],
        };
        self.put_and_commit(key, &mut value)
    }

    /// Puts `key` = `text` (global scope) and commits it.
    pub fn put_text(&self, key: &CStr, text: &str) -> Result<(), String> {
        let text = CString::new(text).map_err(|_| "a NUL in a PMIx value".to_string())?;
        let mut value = Value {
            kind: STRING,
            data: [text.as_ptr() as u64, 0, 0],
        };
        // PMIx_Put copies the string before it returns.
        self.put_and_commit(key, &mut value)
    }

    fn put_and_commit(&self, key: &CStr, value: &mut Value) -> Result<(), String> {
        // SAFETY: a NUL-terminated key and a valid value, copied by PMIx_Put.
        let rc = unsafe { (self.put)(GLOBAL, key.as_ptr(), value) };
        if rc != SUCCESS {
            return Err(format!("PMIx_Put: PMIx status {rc}"));
        }
        // SAFETY: no arguments.
        match unsafe { (self.commit)() } {
            SUCCESS => Ok(()),
            rc => Err(format!("PMIx_Commit: PMIx status {rc}")),
        }
    }

    /// Whether `rank` has put `key`, asking its node again (PMIX_GET_REFRESH_CACHE) rather than answering
    /// from what this node already holds of it.
    pub fn has(&self, rank: u32, key: &CStr) -> Result<Got<()>, String> {
        Ok(match self.get_fresh(rank, key, |_| ())? {
            Got::Value(()) => Got::Value(()),
            Got::NotFound => Got::NotFound,
        })
    }

    /// The text `rank` put under `key` (refreshed as in [`Session::has`]); `None` inside when it is not a
    /// string.
    pub fn text(&self, rank: u32, key: &CStr) -> Result<Got<Option<String>>, String> {
        self.get_fresh(rank, key, |value| {
            // SAFETY: a PMIX_STRING value holds a NUL-terminated string PMIx allocated, freed below.
            (value.kind == STRING && value.data[0] != 0).then(|| unsafe {
                let text = value.data[0] as *mut c_char;
                let owned = CStr::from_ptr(text).to_string_lossy().into_owned();
                libc::free(text.cast());
                owned
            })
        })
    }

    fn get_fresh<T>(&self, rank: u32, key: &CStr, read: impl FnOnce(&Value) -> T) -> Result<Got<T>, String> {
        let mut proc = Proc { nspace: [0; 256], rank };
        for (dst, src) in proc.nspace.iter_mut().take(255).zip(self.nspace.bytes()) {
            *dst = src as c_char;
        }
        let mut info = Info {
            key: [0; 512],
            flags: 0,
            value: Value {
                kind: BOOL,
                data: [1, 0, 0],
            },
        };
        for (dst, src) in info.key.iter_mut().zip(c"pmix.get.refresh".to_bytes()) {
            *dst = *src as c_char;
        }
        let mut value: *mut Value = std::ptr::null_mut();
        // SAFETY: valid proc, key and info; the returned value PMIx allocated with malloc is read once and
        // released with free (a string inside it by `read`).
        unsafe {
            let rc = (self.get)(&proc, key.as_ptr(), &info, 1, &mut value);
            let got = (!value.is_null()).then(|| read(&*value));
            if !value.is_null() {
                libc::free(value.cast());
            }
            match (rc, got) {
                (SUCCESS, Some(got)) => Ok(Got::Value(got)),
                (SUCCESS, None) => Err("PMIx_Get: no value".into()),
                (ERR_NOT_FOUND, _) => Ok(Got::NotFound),
                (rc, _) => Err(format!("PMIx_Get of rank {rank}'s {}: PMIx status {rc}", key.to_string_lossy())),
            }
        }
    }
}
