#!/usr/bin/env bash
# The drivers × modes matrix in one directory: wall time of the whole hdf5 group (goal: <= 50 ms).
#
#   bench/hdf5_matrix.sh [DIR...]     default: a fresh directory under $TMPDIR (or /tmp), and /dev/shm
#
# For each directory it measures, with the release build:
#   1. `h5doctor-probe matrix STEM`: one probe process, every driver and open mode (what the group adds);
#   2. the time the probe reports for the matrix itself (no process start), from `h5doctor check --json`;
#   3. `h5doctor check --only hdf5 --no-default-dirs --dir DIR`: the whole hdf5 group as a user runs it
#      (lock probe, library probe with H5Fcreate, the matrix run, judging and the report).
# Run it through `scripts/dev.sh bench`, which builds the release binaries first. Never in a timed test.
set -euo pipefail
cd "$(dirname "$0")/.."
probe=target/release/h5doctor-probe
doctor=target/release/h5doctor
[ -x "$probe" ] && [ -x "$doctor" ] || { echo "build first: scripts/dev.sh build" >&2; exit 1; }
command -v hyperfine >/dev/null || { echo "hyperfine is missing (scripts/dev.sh installs it)" >&2; exit 1; }

made=()
cleanup() { for d in "${made[@]}"; do rm -rf -- "$d"; done; }
trap cleanup EXIT
if [ "$#" -eq 0 ]; then
  for base in "${TMPDIR:-/tmp}" /dev/shm; do
    d=$(mktemp -d "$base/h5doctor-bench-XXXXXX"); made+=("$d"); set -- "$@" "$d"
  done
fi

for dir in "$@"; do
  fs=$(stat -f -c %T "$dir")
  echo "== $dir ($fs)"
  hyperfine --style basic --warmup 5 --runs 50 --prepare "rm -f '$dir'/.bench-*" \
    -n "probe matrix (process + all drivers and modes)" "$probe matrix '$dir/.bench'" \
    -n "h5doctor check --only hdf5 (the whole group)" "$doctor check --only hdf5 --no-default-dirs --dir '$dir'" \
    2>&1 | grep -E "^(Benchmark|  Time|  Range)"
  inside=$(for _ in $(seq 20); do
    "$doctor" check --json --only hdf5 --no-default-dirs --dir "$dir" |
      python3 -c 'import json,sys; print(json.load(sys.stdin)["facts"]["dirs"][0]["hdf5"]["matrix"]["elapsed_us"])'
  done | sort -n | awk '{a[NR]=$1} END {printf "median %.1f ms, min %.1f ms, max %.1f ms", a[int((NR+1)/2)]/1000, a[1]/1000, a[NR]/1000}')
  echo "  matrix inside the probe (20 runs): $inside"
done
