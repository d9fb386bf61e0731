//! h5doctor's own ELF reader and dynamic-loader emulation: what `ldd` tells, without running the
//! program, and with the reasons.
//!
//! - [`object`] — the dynamic-linking header of one file (NEEDED, SONAME, RPATH, RUNPATH, NODEFLIB).
//! - [`symbols`] — dynamic symbols with their versions, verdef/verneed, the embedded HDF5 version.
//! - [`ldcache`] — `/etc/ld.so.cache`.
//! - [`search`] — the loader's configuration (environment, default dirs, tokens, glibc-hwcaps).
//! - [`resolve`] — glibc's ld.so search order, object by object, with provenance and search lists.
//! - [`render`] — the `h5doctor ldd` output (a libtree-style tree, JSON, or ldd's flat list).
//! - [`libraries`] — what a library is (HDF5, MPI, Python), its release, flavour and ABI family.
//! - [`plugindir`] — the default plugin directories compiled into an HDF5 library.
//!
//! Nothing here executes the files it inspects, and bad input is an error for that file.

pub mod ldcache;
pub mod libraries;
pub mod object;
pub mod plugindir;
pub mod render;
pub mod resolve;
pub mod search;
pub mod symbols;

pub use object::{ElfError, ElfObject};
pub use resolve::{resolve, resolve_all, resolve_dlopen, resolve_each, FileCache, How, Resolution};
pub use search::LoaderConfig;
