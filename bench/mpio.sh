#!/usr/bin/env bash
# mpio-test bandwidth next to a raw MPI-IO baseline measured in the same run (no IOR in Debian 12):
# bench/mpiio_baseline.c does what mpio-test does without HDF5: the same bytes (one shared file, created
# empty, two regions of ranks*MIB_PER_RANK at 1 MiB and right after it, each rank its own contiguous
# block: the offsets mpio-test's datasets have since round 6), the same order (collective write, read;
# independent write, read) and the same boundaries (one open for both modes, the new file synced before any
# clock as mpio-test's H5Fflush after H5Dcreate2 does, MPI_File_sync inside the timed write as H5Fflush,
# the read buffer overwritten before the read's clock as mpio-test's NaN fill, barriers around each phase,
# the slowest rank counts). bench/mpio-phases.sh shows, per phase, what each program does inside the clock.
#
#   [IOS="ompio romio321"] [RANKS="2 4"] [MAX_RUNS=3*RUNS] bench/mpio.sh [DIR] [MIB_PER_RANK] [RUNS]
#                                                                               default: /tmp, 32, 9
#
# DIR on a tmpfs (/dev/shm) takes the disk out: writes and syncs then cost memory copies only, and what is
# left between mpio-test and raw is software (HDF5's and h5doctor's), not the shared virtual disk's noise.
#
# A third command runs in the same rounds: the baseline with the file pre-sized (MPI_File_set_size to the
# end of the second region + sync, before any clock), as HDF5's mpio driver leaves mpio-test's file after
# H5Dcreate2 (early allocation, which HDF5 1.10 forces for the mpio driver) and H5Fflush: rows "presized"
# and "h5/presized". A fourth: the baseline with its collective write and read made the way HDF5 1.10's
# mpio driver makes them (a file view with a derived filetype, *_at_all at 0, the view reset; under ROMIO
# that also takes the strided path, which locks the rank's extent around its pwrite): rows "viewed" and
# "h5/viewed", i.e. HDF5's own collective path in raw MPI-IO, next to the plain *_at_all of "raw".
#
# The baseline also reads the collective region a second time, after its independent read (so that up to
# then its phases are mpio-test's, in mpio-test's order), the way HDF5 1.10 reads raw data
# collectively (an MPI file view with a derived filetype, read_at_all at 0, the view reset): the line
# "raw coll-read via HDF5's file view" (view/raw, mpio-test/view) shows what of the collective read gap is
# that path's, i.e. HDF5's own, rather than h5doctor's.
#
# For each Open MPI io component (ompio, the default, and romio321) and 2 and 4 ranks: rounds of one run
# of each command, the order rotated every round (each command runs first, second, ... in turn); at least RUNS rounds, then more (up to MAX_RUNS) while any
# ratio mpio-test / raw of that cell has a 90 % interval straddling 0.8x. bench/mpio_stats.py prints the
# medians, each ratio of medians with its bootstrap interval over rounds and a verdict (">=0.8", "<0.8",
# "?"), the spread of every cell (lowest-highest run) and the count of cells on each side. Bandwidth on a
# shared 2-core VM is noisy; reads are served from the page cache (the data each run has just written),
# writes include the sync to the disk under DIR.
#
# Before every run the disk is settled (SETTLE=0 turns it off): `sync` (everybody's dirty pages go to disk
# now instead of during the next timed write; the journal commits the previous run's file deletion) and a
# wait, up to 3 s, until DIR's block device has no request in flight (the discards of that deleted file:
# the root file system here is mounted with `discard`, and ~130 MiB freed took ~0.25 s of the device).
# DROP_CACHES=1 also drops the clean page cache first (root only; every user's cache on the machine goes).
# PAUSE_MS=N then waits N ms more (default 4000; PAUSE_MS=0 runs the commands back to back, as before
# round 10). The memory each command's writes get depends on it: the
# previous command freed its 257 MiB file's page cache at its end, and a page-cache write into memory that
# was in use a moment ago costs ~15 ms of CPU per 32 MiB on this VM, into memory free for a while 40-80 ms
# (bench/pagecache-window.sh shows it without MPI and HDF5). A command whose independent write comes sooner
# after its start gets more of that fresh memory; after a pause of a few seconds (PAUSE_MS=4000) other
# processes have taken it and every command starts from the same state. That is the fair comparison, so it
# is the default: with PAUSE_MS=0 the ompio 4-rank independent write measured 0.70x and with 4000 1.07x back
# to back (bench/README.md, round 9), the difference being the baseline's memory, not its work.
set -euo pipefail
cd "$(dirname "$0")/.."
dir="${1:-/tmp}"
mib="${2:-32}"
runs="${3:-9}"
max_runs="${MAX_RUNS:-$((runs * 3))}"
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
[ -x target/release/h5doctor ] && [ -x target/release/h5doctor-probe-mpio ] || scripts/dev.sh build
mkdir -p target/bench
mpicc -O2 -o target/bench/mpiio_baseline bench/mpiio_baseline.c
out="$(mktemp)"
trap 'rm -f "$out" "$dir/.h5doctor-bench-mpiio-$$.dat"' EXIT

load() { echo "$(cut -d' ' -f1-3 /proc/loadavg), I/O pressure (some avg60) $(head -1 /proc/pressure/io 2>/dev/null | sed 's/.*avg60=\([^ ]*\).*/\1/') %"; }
# The block device under DIR (its in-flight counters), if it can be found.
inflight="/sys/class/block/$(basename "$(readlink -f "$(findmnt -no SOURCE -T "$dir" 2>/dev/null || true)" 2>/dev/null || true)")/inflight"
settle() {
  [ "${SETTLE:-1}" = 1 ] || return 0
  sync
  [ "${DROP_CACHES:-0}" = 1 ] && echo 1 > /proc/sys/vm/drop_caches
  local i
  for i in $(seq 60); do
    [ -r "$inflight" ] || break
    [ "$(awk '{print $1 + $2}' "$inflight")" = 0 ] && break
    sleep 0.05
  done
  [ "${PAUSE_MS:-4000}" = 0 ] || sleep "$(awk -v ms="${PAUSE_MS:-4000}" 'BEGIN { print ms / 1000 }')"
}
echo "CPU: $(nproc) x $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1)" >&2
echo "start: load average $(load); settle between runs: ${SETTLE:-1} (device counters: $inflight), drop caches: ${DROP_CACHES:-0}, pause: ${PAUSE_MS:-4000} ms" >&2
h5() {
  local json
  settle
  json="$(mpirun --oversubscribe --mca io "$1" -n "$2" target/release/h5doctor mpio-test --dir "$dir" --mib-per-rank "$mib" --json || true)"
  MPIO_JSON="$json" python3 - "$1" "$2" "$3" <<'PY' || echo "mpio-test run failed ($1, $2 ranks, round $3): not counted" >&2
import json, os, sys
r = json.loads(os.environ["MPIO_JSON"])
res = {x["mode"]: x for x in r["facts"]["mpi"]["results"]}
c, i = res["collective"], res["independent"]
flush = lambda x: x.get("flush_seconds", 0) / x["write_seconds"] if x["write_seconds"] else 0
print(*sys.argv[1:3], "h5", sys.argv[3], c["write_mib_s"], c["read_mib_s"], i["write_mib_s"], i["read_mib_s"],
      flush(c), flush(i))
PY
}
baseline() {
  local figures
  settle
  local mode=""
  case "$4" in presized) mode=presize ;; viewed) mode=view ;; esac
  figures="$(mpirun --oversubscribe --mca io "$1" -n "$2" target/bench/mpiio_baseline "$dir/.h5doctor-bench-mpiio-$$.dat" "$mib" $mode)" \
    && echo "$1 $2 $4 $3 $figures" || echo "baseline run failed ($1, $2 ranks, round $3): not counted" >&2
}
for io in ${IOS:-ompio romio321}; do
  for n in ${RANKS:-2 4}; do
    for r in $(seq "$max_runs"); do
      # One run of each per round, the order rotated every round (a busy disk or a load change hits each
      # command alike, and none always runs right after another's writes).
      commands=(h5 raw presized viewed)
      for k in 0 1 2 3; do
        what="${commands[$(((r + k) % 4))]}"
        if [ "$what" = h5 ]; then h5 "$io" "$n" "$r"; else baseline "$io" "$n" "$r" "$what"; fi
      done >>"$out"
      # After RUNS rounds, more only while a ratio of this cell straddles 0.8x.
      if [ "$r" -ge "$runs" ] && python3 bench/mpio_stats.py decided "$out" "$io" "$n"; then break; fi
    done
  done
done
echo "end:   load average $(load)" >&2
# ROWS=FILE keeps every run's figures (one line per run: io ranks what round coll-w coll-r ind-w ind-r ...).
[ -n "${ROWS:-}" ] && cp "$out" "$ROWS"
python3 bench/mpio_stats.py summary "$out"
