#!/usr/bin/env bash
# Builds HDF5's C library with zlib, as sites build it (nothing else: no tools, tests, examples, high-level
# library, Fortran, C++, Java, szip) from the source carried by the crates.io crate hdf5-metno-src, shared or static, and installs it
# into ~/.cache/h5doctor-tests/hdf5-VERSION-LINKING (or $H5DOCTOR_TEST_CACHE/...). The test suite's HDF5
# matrix (scripts/dev.sh hdf5-matrix) uses it; a site can use it to try h5doctor against a version it does
# not have yet.
#
#   scripts/build-hdf5.sh VERSION shared|static     VERSION: 1.14.5 (hdf5-metno-src 0.9.4) or 2.2.0 (0.10.4)
#
# Prints the install prefix on stdout. Idempotent: an existing install is reused. CMake >= 3.26 (HDF5 2.x
# needs it; Debian 12 has 3.25) comes from PyPI into a venv in the same cache. The build tree is deleted
# after the install; the static install also gets bin/libhdf5.so, made from the archive, which only
# hdf5-metno-sys' build script loads (it checks the library's version against the headers).
set -euo pipefail

version="${1:-}"; linking="${2:-}"
case "$version" in
  1.14.5) crate_version=0.9.4 ;;
  2.2.0) crate_version=0.10.4 ;;
  *) echo "usage: $0 1.14.5|2.2.0 shared|static" >&2; exit 2 ;;
esac
case "$linking" in shared|static) ;; *) echo "usage: $0 1.14.5|2.2.0 shared|static" >&2; exit 2 ;; esac

cache="${H5DOCTOR_TEST_CACHE:-$HOME/.cache/h5doctor-tests}"
prefix="$cache/hdf5-$version-$linking"
say() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }
mkdir -p "$cache"
exec 9>"$prefix.lock"
flock 9
# The build recipe: an install made by an older recipe is rebuilt. The static build also has the direct
# driver (O_DIRECT; HDF5_ENABLE_DIRECT_VFD), so the drivers × modes matrix runs it (recipe 4); the shared
# build is left as it was, so probes already linked against it keep working.
recipe=3
direct=()
if [ "$linking" = static ]; then
  recipe=4
  direct=(-DHDF5_ENABLE_DIRECT_VFD=ON)
fi
if [ "$(cat "$prefix/.complete" 2>/dev/null)" = "$recipe" ]; then echo "$prefix"; exit 0; fi

# CMake from PyPI (a venv of its own, shared by every build).
cmake="$cache/cmake-venv/bin/cmake"
if ! "$cmake" --version >/dev/null 2>&1; then
  say "installing CMake >= 3.26 from PyPI into $cache/cmake-venv"
  rm -rf "$cache/cmake-venv"
  python3 -m venv "$cache/cmake-venv"
  "$cache/cmake-venv/bin/pip" install -q "cmake>=3.26,<5"
fi

# The HDF5 source, as cargo downloads the crate (into ~/.cargo/registry; nothing is compiled by cargo).
fetch="$cache/fetch-hdf5-metno-src-$crate_version"
mkdir -p "$fetch/src"
cat > "$fetch/Cargo.toml" <<TOML
[package]
name = "fetch-hdf5-src"
version = "0.0.0"
edition = "2021"
[dependencies]
hdf5-metno-src = "=$crate_version"
[workspace]
TOML
: > "$fetch/src/lib.rs"
src=$(cd "$fetch" && cargo metadata --format-version 1 --quiet \
  | python3 -c 'import json,sys,os; m=json.load(sys.stdin); print(next(os.path.dirname(p["manifest_path"]) for p in m["packages"] if p["name"]=="hdf5-metno-src"))')/ext/hdf5
[ -f "$src/CMakeLists.txt" ] || { echo "no HDF5 source at $src" >&2; exit 1; }

if [ "$linking" = shared ]; then
  libs=(-DBUILD_SHARED_LIBS=ON -DBUILD_STATIC_LIBS=OFF -DONLY_SHARED_LIBS=ON)
else
  libs=(-DBUILD_SHARED_LIBS=OFF -DBUILD_STATIC_LIBS=ON)
fi
build=$(mktemp -d "$cache/hdf5-$version-$linking.build.XXXXXX")
trap 'rm -rf "$build" "$prefix.tmp"' EXIT
rm -rf "$prefix.tmp"
say "building HDF5 $version ($linking) from hdf5-metno-src $crate_version with $("$cmake" --version | head -1)"
start=$(date +%s)
# Configured for the final prefix (HDF5 compiles its default plugin directory in), installed next to it
# first and moved into place when complete.
"$cmake" -S "$src" -B "$build" -DCMAKE_BUILD_TYPE=Release -DCMAKE_INSTALL_PREFIX="$prefix" \
  -DCMAKE_INSTALL_LIBDIR=lib -DHDF5_NO_PACKAGES=ON "${libs[@]}" \
  -DBUILD_TESTING=OFF -DHDF5_BUILD_TOOLS=OFF -DHDF5_BUILD_UTILS=OFF -DHDF5_BUILD_EXAMPLES=OFF \
  -DHDF5_BUILD_HL_LIB=OFF -DHDF5_BUILD_FORTRAN=OFF -DHDF5_BUILD_CPP_LIB=OFF -DHDF5_BUILD_JAVA=OFF \
  -DHDF5_BUILD_DOC=OFF -DHDF5_ENABLE_PARALLEL=OFF -DHDF5_ENABLE_THREADSAFE=OFF \
  -DHDF5_ENABLE_Z_LIB_SUPPORT=ON -DHDF5_ENABLE_ZLIB_SUPPORT=ON -DHDF5_ENABLE_SZIP_SUPPORT=OFF "${direct[@]}" \
  >"$build/configure.log" 2>&1 || { tail -40 "$build/configure.log" >&2; exit 1; }
/usr/bin/time -f 'compile: %e s wall, %U s user, %S s sys' -o "$build/time.log" \
  "$cmake" --build "$build" -j "${H5DOCTOR_BUILD_JOBS:-2}" >"$build/build.log" 2>&1 || { tail -40 "$build/build.log" >&2; exit 1; }
"$cmake" --install "$build" --prefix "$prefix.tmp" >"$build/install.log" 2>&1 || { tail -40 "$build/install.log" >&2; exit 1; }
rm -rf "$prefix.tmp/share" "$prefix.tmp/cmake" "$prefix.tmp/lib/cmake" "$prefix.tmp/lib/pkgconfig" "$prefix.tmp/bin/h5cc"
if [ "$linking" = static ]; then
  mkdir -p "$prefix.tmp/bin"
  cc -shared -o "$prefix.tmp/bin/libhdf5.so" -Wl,--whole-archive "$prefix.tmp/lib/libhdf5.a" -Wl,--no-whole-archive -lz -lm -ldl -lpthread
fi
{ echo "configure+compile+install: $(( $(date +%s) - start )) s wall"; cat "$build/time.log"; } > "$prefix.tmp/.build-time"
echo "$recipe" > "$prefix.tmp/.complete"
rm -rf "$prefix"
mv "$prefix.tmp" "$prefix"
say "HDF5 $version ($linking) installed in $prefix ($(tr '\n' ';' < "$prefix/.build-time"))"
echo "$prefix"
