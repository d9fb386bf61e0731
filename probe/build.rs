//! Build script: warns when HDF5_DIR is unset. hdf5-sys then falls back to `pkg-config hdf5`, which on
//! Debian follows an alternative that points at the Open MPI flavour once libhdf5-openmpi-dev is
//! installed, so the probe would silently link a different HDF5 than the one meant.

fn main() {
    println!("cargo:rerun-if-env-changed=HDF5_DIR");
    if std::env::var_os("HDF5_DIR").is_none() {
        println!(
            "cargo:warning=HDF5_DIR is not set: h5doctor-probe links whatever `pkg-config hdf5` finds. \
             Set it explicitly, e.g. HDF5_DIR=/usr/lib/x86_64-linux-gnu/hdf5/serial"
        );
    }
}
