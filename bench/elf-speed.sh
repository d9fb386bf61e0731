#!/usr/bin/env bash
# Resolver speed, measured in one run with hyperfine (medians): the complete per-file JSON map of the
# whole corpus (bench/corpus.py) in one `h5doctor ldd --json` call, and the text form (`--flat`) of the
# same work, vs libtree one process per file (`libtree -p -vv`, the only complete per-file mode) vs `ldd`
# on all files at once; and one file, whole process, h5doctor vs libtree. Peak memory (max RSS, from
# /usr/bin/time) of the corpus calls. Prints every ratio with its goal (JSON map >= 20x the libtree
# loop, text >= 10x, >= 70x ldd, one file no slower than libtree). A benchmark, not a test: it never
# fails on a slow, noisy machine.
#
#   bench/elf-speed.sh                     RUNS=10 by default for the fast commands
#   BEFORE=/path/to/an/older/h5doctor bench/elf-speed.sh
#                                          adds the older build's one-file `ldd` to the same hyperfine run
#                                          as the one-file commands (its ratio to libtree, wall and CPU)
set -euo pipefail
cd "$(dirname "$0")/.."
export HDF5_DIR="${HDF5_DIR:-/usr/lib/x86_64-linux-gnu/hdf5/serial}"
H5DOCTOR="${H5DOCTOR:-target/release/h5doctor}"
RUNS="${RUNS:-10}"
[ -x "$H5DOCTOR" ] || cargo build --release -q -p h5doctor
for tool in hyperfine libtree ldd /usr/bin/time; do command -v "$tool" >/dev/null || { echo "needs $tool" >&2; exit 2; }; done
work="$(mktemp -d)"; trap 'rm -rf "$work"' EXIT
/usr/bin/python3 bench/corpus.py > "$work/corpus"
one="${ONE_FILE:-/usr/lib/x86_64-linux-gnu/libhdf5_openmpi.so.103}"
[ -e "$one" ] || one=/usr/lib/x86_64-linux-gnu/libhdf5_serial.so.103
n=$(wc -l < "$work/corpus")
echo "corpus: $n ELF shared objects; one file: $one"
# `|| true` inside the commands: a file in the corpus that would not start makes the tools exit non-zero.
hyperfine -N --style basic --warmup 2 --runs "$RUNS" --export-json "$work/fast.json" \
  -n h5doctor-json "bash -c 'xargs -d \"\\n\" -a $work/corpus $H5DOCTOR ldd --json >/dev/null || true'" \
  -n h5doctor-text "bash -c 'xargs -d \"\\n\" -a $work/corpus $H5DOCTOR ldd --flat >/dev/null || true'" \
  -n h5doctor-one "$H5DOCTOR ldd $one" \
  -n libtree-one "libtree -p -vv $one" \
  ${BEFORE:+-n before-one "$BEFORE ldd $one"} >&2
hyperfine -N --style basic --warmup 1 --runs 3 --export-json "$work/slow.json" \
  -n libtree-loop "bash -c 'while IFS= read -r f; do libtree -p -vv \"\$f\" >/dev/null 2>&1 || true; done < $work/corpus'" \
  -n ldd-all "bash -c 'xargs -d \"\\n\" -a $work/corpus ldd >/dev/null 2>&1 || true'" >&2
# Peak memory: one call over the whole corpus (xargs passes every file to one process), and one file.
peak() { /usr/bin/time -f %M -o "$work/rss" "$@" >"$work/out" 2>/dev/null || true; tail -n 1 "$work/rss"; }
# shellcheck disable=SC2046
rss_json=$(peak "$H5DOCTOR" ldd --json $(tr '\n' ' ' < "$work/corpus"))
json_bytes=$(wc -c < "$work/out")
json_files=$(/usr/bin/python3 -c 'import json,sys; print(len(json.load(open(sys.argv[1]))["files"]))' "$work/out")
# shellcheck disable=SC2046
rss_text=$(peak "$H5DOCTOR" ldd --flat $(tr '\n' ' ' < "$work/corpus"))
rss_one=$(peak "$H5DOCTOR" ldd "$one")
rss_before_one=0
[ -n "${BEFORE:-}" ] && rss_before_one=$(peak "$BEFORE" ldd "$one")
/usr/bin/python3 - "$work/fast.json" "$work/slow.json" "$rss_json" "$rss_text" "$rss_one" "$json_bytes" "$json_files" "$n" "$rss_before_one" <<'PY'
import json, sys
t, cpu = {}, {}
for f in sys.argv[1:3]:
    for r in json.load(open(f))["results"]:
        t[r["command"]] = r["median"]
        cpu[r["command"]] = r["user"] + r["system"]
rss_json, rss_text, rss_one, json_bytes, json_files, n, rss_before_one = (int(x) for x in sys.argv[3:10])
ms = lambda k: f"{1000 * t[k]:.1f} ms"
mib = lambda kib: f"{kib / 1024:.1f} MiB"
print(f"h5doctor, whole corpus, JSON map  : {ms('h5doctor-json')}  ({json_files} of {n} files, {json_bytes / 1e6:.1f} MB; peak RSS {mib(rss_json)})")
print(f"h5doctor, whole corpus, text      : {ms('h5doctor-text')}  (peak RSS {mib(rss_text)})")
print(f"libtree, one process per file     : {ms('libtree-loop')}")
print(f"ldd, all files at once            : {ms('ldd-all')}")
print(f"h5doctor, one file                : {ms('h5doctor-one')}  (peak RSS {mib(rss_one)})")
print(f"libtree, one file                 : {ms('libtree-one')}")
if "before-one" in t:
    print(f"BEFORE's h5doctor, one file       : {ms('before-one')}  (peak RSS {mib(rss_before_one)})")
rows = [
    ("JSON map vs libtree loop", t["libtree-loop"] / t["h5doctor-json"], 20),
    ("text vs libtree loop", t["libtree-loop"] / t["h5doctor-text"], 10),
    ("JSON map vs ldd", t["ldd-all"] / t["h5doctor-json"], 70),
    ("one file vs libtree", t["libtree-one"] / t["h5doctor-one"], 1),
]
if "before-one" in t:
    rows.append(("one file vs libtree, BEFORE", t["libtree-one"] / t["before-one"], 1))
for name, r, goal in rows:
    print(f"{name:<26}: {r:7.2f}x  (goal >= {goal}x)  {'ok' if r >= goal else 'BELOW GOAL'}")
# The fast and the slow commands are two hyperfine runs: on a shared machine the load may differ between
# them, which moves the wall-time ratios; CPU time (user + sys, means, children included) moves less.
print(f"CPU, JSON map vs libtree loop: {cpu['libtree-loop'] / cpu['h5doctor-json']:7.2f}x  "
      f"({1000 * cpu['h5doctor-json']:.0f} ms vs {1000 * cpu['libtree-loop']:.0f} ms; load {open('/proc/loadavg').read().split()[0]})")
for k in ("h5doctor-one", "before-one"):
    if k in cpu:
        print(f"CPU, one file vs libtree{' (BEFORE)' if k == 'before-one' else ''}: {cpu['libtree-one'] / cpu[k]:7.2f}x  "
              f"({1000 * cpu[k]:.2f} ms vs {1000 * cpu['libtree-one']:.2f} ms)")
PY
