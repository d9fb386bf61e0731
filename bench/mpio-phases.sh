#!/usr/bin/env bash
# Where the time of each timed phase goes, in mpio-test and in the raw MPI-IO baseline (bench/mpiio_baseline.c)
# side by side: both run with bench/mpio_phases.c preloaded, which logs every MPI_Wtime call (each program
# reads the clock with it exactly at the start and the end of a timed phase), every pread/pwrite of >= 1 MiB
# and every fsync, with wall and thread-CPU time. For each rank and phase it splits the timed window into
#   pre   clock start -> first I/O call (HDF5's work before the data moves; collective set-up)
#   io    the data's system calls: the pread, or the pwrite and the fsync (wall, and CPU of the thread)
#   post  last I/O call -> clock stop (HDF5's work after, e.g. the view reset of a collective read)
# and prints the medians over RUNS runs of each program (interleaved, disk settled before each as in
# bench/mpio.sh), per mode, with the window of the slowest rank. What the two programs do inside a window is
# the same when `io` is the same; `pre` and `post` are what HDF5 adds; `io wall - io cpu` is time the rank
# waited (for a CPU, for the disk, for a lock).
#
#   [IOS="ompio romio321"] [RANKS="2 4"] bench/mpio-phases.sh [DIR] [MIB_PER_RANK] [RUNS]   default: /tmp 32 5
set -euo pipefail
cd "$(dirname "$0")/.."
dir="${1:-/tmp}"
mib="${2:-32}"
runs="${3:-5}"
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
[ -x target/release/h5doctor ] && [ -x target/release/h5doctor-probe-mpio ] || scripts/dev.sh build
mkdir -p target/bench
mpicc -O2 -o target/bench/mpiio_baseline bench/mpiio_baseline.c
cc -O2 -shared -fPIC -o target/bench/mpio_phases.so bench/mpio_phases.c -ldl
work="$(mktemp -d)"
trap 'rm -rf "$work" "$dir/.h5doctor-bench-phases-$$.dat"' EXIT
inflight="/sys/class/block/$(basename "$(readlink -f "$(findmnt -no SOURCE -T "$dir" 2>/dev/null || true)" 2>/dev/null || true)")/inflight"
settle() {
  [ "${SETTLE:-1}" = 1 ] || return 0
  sync
  [ -r "$inflight" ] || return 0
  local i
  for i in $(seq 60); do
    [ "$(awk '{print $1 + $2}' "$inflight")" = 0 ] && return 0
    sleep 0.05
  done
}
echo "start: load average $(cut -d' ' -f1-3 /proc/loadavg)" >&2
preload=(-x LD_PRELOAD="$PWD/target/bench/mpio_phases.so")
for io in ${IOS:-ompio romio321}; do
  for n in ${RANKS:-2 4}; do
    for r in $(seq "$runs"); do
      for what in $([ $((r % 2)) = 1 ] && echo "h5 raw" || echo "raw h5"); do
        settle
        log="$work/$io.$n.$r.$what"
        if [ "$what" = h5 ]; then
          mpirun --oversubscribe --mca io "$io" -n "$n" "${preload[@]}" target/release/h5doctor mpio-test \
            --dir "$dir" --mib-per-rank "$mib" --json >"$log.out" 2>"$log" || true
        else
          mpirun --oversubscribe --mca io "$io" -n "$n" "${preload[@]}" target/bench/mpiio_baseline \
            "$dir/.h5doctor-bench-phases-$$.dat" "$mib" >"$log.out" 2>"$log" || true
        fi
      done
    done
  done
done
echo "end:   load average $(cut -d' ' -f1-3 /proc/loadavg)" >&2
python3 - "$work" <<'PY'
import collections, glob, os, statistics as st, sys
def phases(path):
    """Per rank: the timed phases as (mode, kind, window, pre, io_wall, io_cpu, post)."""
    ev = collections.defaultdict(list)
    for line in open(path, errors="replace"):
        p = line.split()
        if len(p) < 4 or p[0] != "PHASE":
            continue
        if p[2] == "W":
            ev[p[1]].append((float(p[3]), "W", None))
        elif p[2] == "IO":
            ev[p[1]].append((float(p[6]), p[3], (int(p[4]), int(p[5]), float(p[7]), float(p[8]))))
    out = {}
    for pid, es in ev.items():
        es.sort(key=lambda e: e[0])
        ws = [t for t, k, _ in es if k == "W"]
        rows, written, seen_read = [], set(), set()
        for i, (t, kind, info) in enumerate(es):
            if kind == "pwrite":
                # the fsync that ends this write (the next one), and the clock around both
                sync = next(((t2, inf2) for t2, k2, inf2 in es[i + 1:] if k2 == "fsync"), None)
                start = max((w for w in ws if w <= t), default=None)
                if sync is None or start is None:
                    continue
                end = min((w for w in ws if w >= sync[0] + sync[1][2]), default=None)
                if end is None:
                    continue
                io_wall = sync[0] + sync[1][2] - t
                rows.append(("write", end - start, t - start, io_wall, info[3] + sync[1][3], end - (t + io_wall)))
                written.add(info[1])
            elif kind == "pread" and info[1] in written and info[1] not in seen_read:
                seen_read.add(info[1])
                start = max((w for w in ws if w <= t), default=None)
                end = min((w for w in ws if w >= t + info[2]), default=None)
                if start is None or end is None:
                    continue
                rows.append(("read", end - start, t - start, info[2], info[3], end - (t + info[2])))
        # first write/read: collective, second: independent
        modes = {"write": 0, "read": 0}
        named = []
        for kind, *vals in rows:
            named.append((("coll", "ind")[min(modes[kind], 1)], kind, *vals))
            modes[kind] += 1
        out[pid] = named
    return out
cells = collections.defaultdict(lambda: collections.defaultdict(list))
for path in sorted(glob.glob(os.path.join(sys.argv[1], "*.*.*.*"))):
    if path.endswith(".out"):
        continue
    io, n, r, what = os.path.basename(path).split(".")
    ranks = phases(path)
    keys = {(m, k) for rows in ranks.values() for m, k, *_ in rows}
    for m, k in keys:
        per = [next(v for v in rows if v[0] == m and v[1] == k) for rows in ranks.values() if any(v[0] == m and v[1] == k for v in rows)]
        slow = max(per, key=lambda v: v[2])
        cells[(io, n, m, k)][what].append(slow[2:])
print("medians over runs, ms, of the slowest rank's window: window = pre + io + post (io cpu: that rank's thread)")
print(f'{"io":<9}{"ranks":<6}{"phase":<11}{"what":<5}{"window":>9}{"pre":>8}{"io wall":>9}{"io cpu":>8}{"post":>8}{"runs":>6}')
for (io, n, m, k), by in sorted(cells.items()):
    for what in ("h5", "raw"):
        v = by.get(what, [])
        if not v:
            continue
        med = [st.median(x[j] for x in v) for j in range(5)]
        print(f'{io:<9}{n:<6}{m + " " + k:<11}{what:<5}' + "".join(f"{x:9.1f}" if j < 3 else f"{x:8.1f}" for j, x in enumerate(med)) + f"{len(v):6d}")
PY
