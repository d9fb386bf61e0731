#!/usr/bin/env bash
# h5doctor's one entry point for developers and CI, on Debian/Ubuntu.
#
#   scripts/dev.sh check [ARGS...]   install what is missing, build, run `h5doctor check ARGS` on this machine
#   scripts/dev.sh test              install what is missing, build, run the whole test suite
#   scripts/dev.sh build             install what is missing and build (release)
#   scripts/dev.sh bench             build, then run the benchmarks in bench/
#   scripts/dev.sh hdf5-matrix       build HDF5 1.14.5 (shared) and 2.2.0 (static) from the source in hdf5-metno-src
#                                    into ~/.cache/h5doctor-tests (once; CMake from PyPI) and a probe against each
#                                    into target/debug/probes (`test` does this and runs the locking, hdf5 and
#                                    file-doctor tests once more with each of those probes)
#   scripts/dev.sh lint              cargo fmt --check, clippy of the workspace and of the mpio probe build
#   scripts/dev.sh fuzz [CASES]      the parser property tests (tests/fuzz.rs) with CASES cases each
#                                    (default 100000; CI runs 256 in the normal suite), release mode
#   scripts/dev.sh install PREFIX    build (release) and install: PREFIX/bin (h5doctor, h5doctor-probe, and
#                                    h5doctor-probe-mpio when built), share/man/man1, bash/zsh/fish completions,
#                                    modulefiles/h5doctor/VERSION{,.lua} with PREFIX filled in. BIN_DIR=DIR
#                                    installs the binaries already built in DIR instead (no build).
#
# Idempotent: packages already installed are not installed again. Needs root or sudo for apt-get.
# HDF5_DIR selects the HDF5 that h5doctor-probe links (default: Debian's serial HDF5); it is always set
# explicitly because `pkg-config hdf5` silently points at the Open MPI flavour once that is installed.
set -euo pipefail
cd "$(dirname "$0")/.."

PACKAGES=(
  build-essential pkg-config libclang-dev
  libhdf5-dev libhdf5-openmpi-dev hdf5-tools
  zlib1g-dev              # the HDF5 matrix: HDF5 1.14.5 and 2.2.0 built from source with zlib, as sites build it
  patchelf util-linux time hyperfine bc libtree
  python3-h5py python3-numpy
  python3-fusepy fuse3
  # the Python group's tests: Debian's h5py serial + MPI builds, mpi4py, and venvs with PyPI wheels
  python3-h5py-mpi python3-mpi4py python3-venv python3-pip
  libhdf5-openmpi-103-1   # tests: a plugin linked to another libhdf5
  # mpio-test: Open MPI (the MPI probe's library), MPICH (a mismatching launcher), a one-node Slurm
  openmpi-bin mpich slurmctld slurmd slurm-client munge slurm-wlm-basic-plugins
  lmod                    # the modules group tests run real Lmod (not environment-modules: they conflict)
  tcl                     # tests: Environment Modules' modulecmd.tcl, unpacked from its .deb into ~/.cache/h5doctor-tests
  man-db groff-base bash-completion zsh fish   # man pages rendered with man -l, completions in real shells
  git                     # tests/pyenv.rs: a clone of the real pyenv (v2.6.30) into ~/.cache/h5doctor-tests
)

say() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }

as_root() {
  if [ "$(id -u)" = 0 ]; then "$@"; elif command -v sudo >/dev/null; then sudo "$@"; else
    echo "need root (or sudo) to run: $*" >&2; exit 1; fi
}

# apt-get, retried while another apt/dpkg holds the lock.
apt_retry() {
  local i
  for i in $(seq 1 60); do
    if as_root env DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=60 "$@"; then return 0; fi
    if ! as_root fuser /var/lib/dpkg/lock-frontend /var/lib/dpkg/lock /var/lib/apt/lists/lock >/dev/null 2>&1; then
      [ "$i" -ge 3 ] && return 1
    fi
    say "apt-get busy or failed (try $i), retrying in 5 s"; sleep 5
  done
  return 1
}

install_packages() {
  local missing=()
  for p in "${PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  if [ "${#missing[@]}" -gt 0 ]; then
    say "installing: ${missing[*]}"
    apt_retry update -q
    apt_retry install -y -q --no-install-recommends "${missing[@]}"
  fi
  if ! command -v cargo >/dev/null; then
    [ -x "$HOME/.cargo/bin/cargo" ] && export PATH="$HOME/.cargo/bin:$PATH"
  fi
  if ! command -v cargo >/dev/null; then
    say "no Rust toolchain found: install one with rustup (https://rustup.rs), rust >= 1.82"; exit 1
  fi
}

export HDF5_DIR="${HDF5_DIR:-/usr/lib/x86_64-linux-gnu/hdf5/serial}"
# The MPI probe (h5doctor-probe built with feature mpio) links the parallel HDF5 of this MPI.
HDF5_MPIO_DIR="${HDF5_MPIO_DIR:-/usr/lib/x86_64-linux-gnu/hdf5/openmpi}"

# Builds h5doctor-probe with feature mpio in its own target dir (the serial build is not overwritten) and
# installs it next to h5doctor as h5doctor-probe-mpio. $1: debug or release.
build_mpio() {
  local profile="$1" flag=()
  [ "$profile" = release ] && flag=(--release)
  say "building h5doctor-probe-mpio ($profile) with HDF5_DIR=$HDF5_MPIO_DIR"
  HDF5_DIR="$HDF5_MPIO_DIR" cargo build "${flag[@]}" -p h5doctor-probe --features mpio --target-dir target/mpio --locked 2>&1 \
    | grep -vE '^\s+(Compiling|Downloaded|Downloading)' >&2 || { echo "mpio build failed" >&2; exit 1; }
  mkdir -p "target/$profile"
  cp -f "target/mpio/$profile/h5doctor-probe" "target/$profile/h5doctor-probe-mpio.tmp"
  mv -f "target/$profile/h5doctor-probe-mpio.tmp" "target/$profile/h5doctor-probe-mpio"
}

# The HDF5 versions the tests run against besides Debian's, "VERSION LINKING" each (scripts/build-hdf5.sh).
HDF5_MATRIX=("1.14.5 shared" "2.2.0 static")

# Builds every HDF5 of the matrix (cached in ~/.cache/h5doctor-tests) and a probe against each into
# target/$1/probes (scripts/build-probe.sh names them h5doctor-probe-VERSION-serial[-static]).
build_hdf5_matrix() {
  local profile="$1" spec version linking prefix flags
  for spec in "${HDF5_MATRIX[@]}"; do
    read -r version linking <<<"$spec"
    prefix=$(scripts/build-hdf5.sh "$version" "$linking")
    flags=()
    [ "$linking" = static ] && flags+=(--static)
    [ "$profile" = release ] && flags+=(--release)
    scripts/build-probe.sh "${flags[@]}" "$prefix" >/dev/null
  done
}

build() {
  say "building with HDF5_DIR=$HDF5_DIR"
  cargo build --release --workspace --locked 2>&1 | grep -vE '^\s+(Compiling|Downloaded|Downloading)' >&2 || { echo "build failed" >&2; exit 1; }
  build_mpio release
}

# Installs h5doctor into the standard layout under $1 (see the header). Needs no root unless PREFIX does.
install_prefix() {
  local prefix="${1:-}"
  [ -n "$prefix" ] || { echo "usage: scripts/dev.sh install PREFIX" >&2; exit 2; }
  case "$prefix" in /*) ;; *) prefix="$PWD/$prefix" ;; esac
  local bin_dir="${BIN_DIR:-}"
  if [ -z "$bin_dir" ]; then
    say "building with HDF5_DIR=$HDF5_DIR"
    cargo build --release --workspace --locked 2>&1 | grep -vE '^\s+(Compiling|Downloaded|Downloading)' >&2 || { echo "build failed" >&2; exit 1; }
    bin_dir=target/release
  fi
  local exe
  for exe in h5doctor h5doctor-probe; do
    [ -x "$bin_dir/$exe" ] || { echo "$bin_dir/$exe is missing: build first (scripts/dev.sh build)" >&2; exit 1; }
  done
  local h5doctor="$bin_dir/h5doctor" version
  version=$("$h5doctor" --version | awk '{print $2}')
  say "installing h5doctor $version into $prefix"
  install -d "$prefix/bin" "$prefix/share/man/man1" "$prefix/share/bash-completion/completions" \
    "$prefix/share/zsh/site-functions" "$prefix/share/fish/vendor_completions.d" "$prefix/modulefiles/h5doctor"
  install -m755 "$bin_dir/h5doctor" "$bin_dir/h5doctor-probe" "$prefix/bin/"
  if [ -x "$bin_dir/h5doctor-probe-mpio" ]; then
    install -m755 "$bin_dir/h5doctor-probe-mpio" "$prefix/bin/"
  else
    say "no $bin_dir/h5doctor-probe-mpio (scripts/dev.sh build makes it): mpio-test will say how to get it"
  fi
  # Generated from the installed binary's own command-line definitions, so they match it exactly.
  "$prefix/bin/h5doctor" man --dir "$prefix/share/man/man1" >/dev/null
  "$prefix/bin/h5doctor" completions bash > "$prefix/share/bash-completion/completions/h5doctor"
  "$prefix/bin/h5doctor" completions zsh > "$prefix/share/zsh/site-functions/_h5doctor"
  "$prefix/bin/h5doctor" completions fish > "$prefix/share/fish/vendor_completions.d/h5doctor.fish"
  # The shipped modulefiles name /opt/h5doctor/0.1.0 as their prefix; the installed ones name PREFIX.
  local escaped=${prefix//\\/\\\\}; escaped=${escaped//&/\\&}; escaped=${escaped//|/\\|}
  local fill="s|/opt/h5doctor/0\.1\.0|@PREFIX@|g; s|0\.1\.0|$version|g; s|@PREFIX@|$escaped|g"
  sed "$fill" modulefiles/h5doctor/0.1.0.lua > "$prefix/modulefiles/h5doctor/$version.lua"
  sed "$fill" modulefiles/h5doctor/0.1.0 > "$prefix/modulefiles/h5doctor/$version"
  say "done: module use $prefix/modulefiles && module load h5doctor/$version"
}

cmd="${1:-}"; shift || true
case "$cmd" in
  check)
    install_packages; build
    exec target/release/h5doctor check "$@" ;;
  build)
    install_packages; build ;;
  test)
    install_packages
    say "building the workspace (debug) with HDF5_DIR=$HDF5_DIR"
    cargo build --workspace --locked
    build_mpio debug
    say "building the HDF5 matrix (${HDF5_MATRIX[*]}) and a probe against each"
    build_hdf5_matrix debug
    say "running the test suite"
    log=$(mktemp); trap 'rm -f "$log"' EXIT
    set +e; cargo test --workspace --locked --no-fail-fast 2>&1 | tee "$log"; rc=${PIPESTATUS[0]}; set -e
    # The same locking, drivers × modes and file-doctor tests with every other HDF5 (a test matrix: the
    # tests read H5DOCTOR_TEST_PROBE and hand it to h5doctor as its probe).
    for probe in target/debug/probes/h5doctor-probe-*; do
      say "locking, hdf5 and file-doctor tests with $(basename "$probe")"
      set +e
      H5DOCTOR_TEST_PROBE="$PWD/$probe" cargo test --locked --no-fail-fast --test locking --test hdf5_matrix --test file_doctor 2>&1 | tee -a "$log"
      prc=${PIPESTATUS[0]}; set -e
      [ "$prc" = 0 ] || rc=$prc
    done
    # One closing line with the totals of every test binary (cargo's own last line is a doc-test block).
    awk '/^test result:/ { for (i = 1; i <= NF; i++) { if ($(i+1) ~ /^passed/) p += $i; if ($(i+1) ~ /^failed/) f += $i } }
         END { printf "tests: %d passed, %d failed\n", p, f }' "$log"
    exit "$rc" ;;
  lint)
    cargo fmt --all --check
    cargo clippy --workspace --all-targets --locked -- -D warnings
    HDF5_DIR="$HDF5_MPIO_DIR" cargo clippy -p h5doctor-probe --features mpio --all-targets --target-dir target/mpio --locked -- -D warnings
    # The probe's code differs per HDF5 version (cfgs from its headers): clippy against each built one.
    for prefix in "${H5DOCTOR_TEST_CACHE:-$HOME/.cache/h5doctor-tests}"/hdf5-*-shared; do
      [ -f "$prefix/.complete" ] && HDF5_DIR="$prefix" cargo clippy -p h5doctor-probe --all-targets --target-dir target/mpio --locked -- -D warnings
    done ;;
  hdf5-matrix)
    install_packages
    build_hdf5_matrix debug ;;
  install)
    install_prefix "$@" ;;
  fuzz)
    install_packages
    say "fuzzing the parsers of untrusted input: ${1:-100000} cases per property"
    H5DOCTOR_FUZZ_CASES="${1:-100000}" cargo test --release --locked --test fuzz -- --nocapture ;;
  bench)
    install_packages; build
    for b in bench/*.sh; do say "$b"; bash "$b"; done ;;
  *)
    sed -n '2,22p' "$0" | sed 's/^# \{0,1\}//'; exit 2 ;;
esac
