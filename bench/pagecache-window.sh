#!/usr/bin/env bash
# Why bench/mpio.sh's independent write moves with what ran just before it, shown without MPI and without
# HDF5: bench/pagecache_window.c makes the independent-write window of both MPI programs (RANKS writers, one
# MIB MiB pwrite each at its block of one shared file, then fsync; ext4 serialises the writers on the inode
# lock, so the window is the sum of their pwrites plus the sync), right after the page cache of another file
# of the same size is freed (as bench/mpio.sh's previous command frees its file), in two ways, same rounds,
# order rotated:
#   soon  the window starts SOON_MS after that free
#   late  the window starts LATE_MS after it
# and prints per way the median window and pwrite CPU (all writers), and the ratio late/soon of the
# window's bandwidth with its 90 % bootstrap interval (bench/mpio_stats.py). A pwrite into memory that was in
# use a moment ago costs ~15 ms of CPU per 32 MiB on this VM; into memory free for a while, 40-80 ms (likely
# the host faulting the pages in again: the VM reports free pages to it; not proven). In bench/mpio.sh the memory a command's writes get
# is the page cache the previous command freed when it deleted its 257 MiB file, for as long as no one else
# has taken it; a command whose independent write comes later after its start finds less of it.
#
#   bench/pagecache-window.sh [DIR] [MIB] [RANKS] [RUNS] [SOON_MS] [LATE_MS]   default: /tmp 32 4 15 200 4000
set -euo pipefail
cd "$(dirname "$0")/.."
dir="${1:-/tmp}"
mib="${2:-32}"
ranks="${3:-4}"
runs="${4:-15}"
soon="${5:-200}"
late="${6:-4000}"
mkdir -p target/bench
cc -O2 -o target/bench/pagecache_window bench/pagecache_window.c
out="$(mktemp)"
file="$dir/.h5doctor-bench-pagecache-$$.dat"
trap 'rm -f "$out" "$file" "$file.freed"' EXIT
load() { cut -d' ' -f1-3 /proc/loadavg; }
echo "CPU: $(nproc) x $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1)" >&2
echo "start: load average $(load); $ranks writers x $mib MiB in $dir, $soon ms (soon) or $late ms (late) after freeing as much page cache" >&2
for r in $(seq "$runs"); do
  for way in $([ $((r % 2)) = 1 ] && echo "soon late" || echo "late soon"); do
    sync
    # One row per run in bench/mpio_stats.py's format: io ranks what round, then MiB/s, window ms, pwrite CPU.
    pause=$soon; [ "$way" = late ] && pause=$late
    target/bench/pagecache_window "$file" "$mib" "$ranks" "$pause" |
      awk -v way="$way" -v r="$r" -v ranks="$ranks" -v mib="$mib" \
        '{ printf "pagecache %s %s %s %.1f %s %s\n", ranks, way, r, ranks * mib / ($1 / 1000), $1, $2 }' >>"$out"
  done
done
echo "end:   load average $(load)" >&2
python3 - "$out" <<'PY'
import statistics, sys
sys.path.insert(0, "bench")
import mpio_stats
runs = {}
for line in open(sys.argv[1]):
    io, ranks, way, rnd, *vals = line.split()
    runs.setdefault(way, {})[int(rnd)] = [float(v) for v in vals]
for way in ("soon", "late"):
    med = [statistics.median(v[k] for v in runs[way].values()) for k in range(3)]
    print(f"{way:<5} window {med[1]:7.1f} ms ({med[0]:6.1f} MiB/s), pwrite CPU of all writers {med[2]:6.1f} ms, {len(runs[way])} runs")
r = mpio_stats.ratio_with_interval(runs["late"], runs["soon"], 0)
print(f"late / soon bandwidth: {r[0]:.2f} [{r[1]:.2f}-{r[2]:.2f}] (90 % bootstrap over {r[3]} rounds)")
PY
