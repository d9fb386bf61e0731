#!/usr/bin/env bash
# Builds h5doctor-probe against one HDF5 installation and names it after that HDF5, so a site can keep one
# probe per HDF5 module next to h5doctor (and the test suite one per HDF5 of its matrix).
#
#   scripts/build-probe.sh [--static] [--release] [--out DIR] [--target-dir DIR] PREFIX
#
# PREFIX is the HDF5 installation (the directory with include/ and lib/; a module usually sets HDF5_DIR or
# HDF5_ROOT to it). Shared (default): the probe links PREFIX/lib/libhdf5.so and records PREFIX/lib as its
# RUNPATH. --static: PREFIX/lib/libhdf5.a is linked into the probe (no libhdf5 needed at run time; what
# Cray's compiler wrappers do by default). The probe is written to DIR (default target/<profile>/probes) as
#   h5doctor-probe-<version>-<serial|parallel>[-static]        e.g. h5doctor-probe-1.14.5-serial
# and its path printed on stdout. The build uses its own target dir (default target/mpio, shared with the
# MPI probe), so the default probe in target/<profile> is not overwritten.
set -euo pipefail
cd "$(dirname "$0")/.."

linking=shared profile=debug out="" target_dir=target/mpio prefix=""
while [ $# -gt 0 ]; do
  case "$1" in
    --static) linking=static ;;
    --release) profile=release ;;
    --out) out="$2"; shift ;;
    --target-dir) target_dir="$2"; shift ;;
    -*) echo "unknown option $1" >&2; exit 2 ;;
    *) prefix="$1" ;;
  esac
  shift
done
[ -n "$prefix" ] || { sed -n '2,14p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2; }
prefix=$(cd "$prefix" && pwd -P)
[ -f "$prefix/include/H5public.h" ] || { echo "$prefix/include/H5public.h not found: not an HDF5 installation" >&2; exit 1; }
out="${out:-target/$profile/probes}"

macro() { awk -v m="$1" '$1 == "#define" && $2 == m { print $3; exit }' "$prefix/include/$2"; }
version="$(macro H5_VERS_MAJOR H5public.h).$(macro H5_VERS_MINOR H5public.h).$(macro H5_VERS_RELEASE H5public.h)"
flavour=serial
[ "$(macro H5_HAVE_PARALLEL H5pubconf.h)" = 1 ] && flavour=parallel
name="h5doctor-probe-$version-$flavour"

hdf5_dir="$prefix"
if [ "$linking" = static ]; then
  name="$name-static"
  [ -f "$prefix/lib/libhdf5.a" ] || { echo "$prefix/lib/libhdf5.a not found: this HDF5 has no static library" >&2; exit 1; }
  # hdf5-metno-sys links `-lhdf5` from HDF5_DIR/lib and, at build time only, loads a libhdf5.so from
  # HDF5_DIR/lib or HDF5_DIR/bin to compare its version with the headers. A view of the installation with
  # only the archive in lib/ makes the linker take the archive; bin/ holds the shared library for that check
  # (the installation's own, or one made from the archive).
  hdf5_dir="$PWD/$target_dir/hdf5-views/hdf5-$version-$flavour-static"
  mkdir -p "$hdf5_dir/lib" "$hdf5_dir/bin"
  ln -sfn "$prefix/include" "$hdf5_dir/include"
  ln -sf "$prefix/lib/libhdf5.a" "$hdf5_dir/lib/libhdf5.a"
  [ -f "$prefix/lib/libhdf5.settings" ] && ln -sf "$prefix/lib/libhdf5.settings" "$hdf5_dir/lib/libhdf5.settings"
  if [ -f "$prefix/lib/libhdf5.so" ]; then
    ln -sf "$prefix/lib/libhdf5.so" "$hdf5_dir/bin/libhdf5.so"
  elif [ -f "$prefix/bin/libhdf5.so" ]; then
    ln -sf "$prefix/bin/libhdf5.so" "$hdf5_dir/bin/libhdf5.so"
  elif [ ! -f "$hdf5_dir/bin/libhdf5.so" ]; then
    cc -shared -o "$hdf5_dir/bin/libhdf5.so" -Wl,--whole-archive "$prefix/lib/libhdf5.a" -Wl,--no-whole-archive \
      $(awk -F: '/Extra libraries/ { gsub(";", " ", $2); print $2 }' "$prefix/lib/libhdf5.settings" 2>/dev/null) -lm -ldl -lpthread
  fi
fi

flag=()
[ "$profile" = release ] && flag=(--release)
printf '\033[1m==> %s\033[0m\n' "building $name against $prefix ($linking)" >&2
HDF5_DIR="$hdf5_dir" cargo build "${flag[@]}" -p h5doctor-probe --target-dir "$target_dir" --locked 2>&1 \
  | grep -vE '^\s+(Compiling|Downloaded|Downloading)' >&2 || { echo "probe build against $prefix failed" >&2; exit 1; }
mkdir -p "$out"
cp -f "$target_dir/$profile/h5doctor-probe" "$out/$name.tmp"
mv -f "$out/$name.tmp" "$out/$name"
echo "$out/$name"
