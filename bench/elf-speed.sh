#!/usr/bin/env bash
# Resolver speed, measured in one run with hyperfine (medians): the whole corpus (bench/corpus.py) in
# one `h5doctor ldd` call vs libtree one process per file (`libtree -p -vv`, the only complete
# per-file mode) vs `ldd` on all files at once; and one file, whole process, h5doctor vs libtree.
# Prints the three ratios with the goals (>= 10x the libtree loop, >= 70x ldd, one file no slower
# than libtree). A benchmark, not a test: it never fails on a slow, noisy machine.
#
#   bench/elf-speed.sh                     RUNS=5 by default for the fast commands
set -euo pipefail
cd "$(dirname "$0")/.."
export HDF5_DIR="${HDF5_DIR:-/usr/lib/x86_64-linux-gnu/hdf5/serial}"
H5DOCTOR="${H5DOCTOR:-target/release/h5doctor}"
RUNS="${RUNS:-10}"
[ -x "$H5DOCTOR" ] || cargo build --release -q -p h5doctor
for tool in hyperfine libtree ldd; do command -v "$tool" >/dev/null || { echo "needs $tool" >&2; exit 2; }; done
work="$(mktemp -d)"; trap 'rm -rf "$work"' EXIT
/usr/bin/python3 bench/corpus.py > "$work/corpus"
one="${ONE_FILE:-/usr/lib/x86_64-linux-gnu/libhdf5_openmpi.so.103}"
[ -e "$one" ] || one=/usr/lib/x86_64-linux-gnu/libhdf5_serial.so.103
n=$(wc -l < "$work/corpus")
echo "corpus: $n ELF shared objects; one file: $one"
# `|| true` inside the commands: a missing library somewhere in the corpus makes the tools exit non-zero.
hyperfine -N --style basic --warmup 2 --runs "$RUNS" --export-json "$work/fast.json" \
  -n h5doctor-corpus "bash -c 'xargs -d \"\\n\" -a $work/corpus $H5DOCTOR ldd --flat >/dev/null || true'" \
  -n h5doctor-one "$H5DOCTOR ldd $one" \
  -n libtree-one "libtree -p -vv $one" >&2
hyperfine -N --style basic --warmup 1 --runs 3 --export-json "$work/slow.json" \
  -n libtree-loop "bash -c 'while IFS= read -r f; do libtree -p -vv \"\$f\" >/dev/null 2>&1 || true; done < $work/corpus'" \
  -n ldd-all "bash -c 'xargs -d \"\\n\" -a $work/corpus ldd >/dev/null 2>&1 || true'" >&2
/usr/bin/python3 - "$work/fast.json" "$work/slow.json" <<'PY'
import json, sys
t = {}
for f in sys.argv[1:]:
    for r in json.load(open(f))["results"]:
        t[r["command"]] = r["median"]
ms = lambda k: f"{1000 * t[k]:.1f} ms"
print(f"h5doctor, whole corpus, one call : {ms('h5doctor-corpus')}")
print(f"libtree, one process per file     : {ms('libtree-loop')}")
print(f"ldd, all files at once            : {ms('ldd-all')}")
print(f"h5doctor, one file                : {ms('h5doctor-one')}")
print(f"libtree, one file                 : {ms('libtree-one')}")
r1 = t["libtree-loop"] / t["h5doctor-corpus"]
r2 = t["ldd-all"] / t["h5doctor-corpus"]
r3 = t["libtree-one"] / t["h5doctor-one"]
print(f"ratio vs libtree loop : {r1:6.1f}x  (goal >= 10x)  {'ok' if r1 >= 10 else 'BELOW GOAL'}")
print(f"ratio vs ldd          : {r2:6.1f}x  (goal >= 70x)  {'ok' if r2 >= 70 else 'BELOW GOAL'}")
print(f"one file vs libtree   : {r3:6.2f}x  (goal >= 1x)   {'ok' if r3 >= 1 else 'BELOW GOAL'}")
PY
