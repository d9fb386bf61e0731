#!/usr/bin/env bash
# mpio-test bandwidth next to a raw MPI-IO baseline measured in the same run (no IOR in Debian 12):
# bench/mpiio_baseline.c does the same pattern without HDF5 (one shared file, each rank its own
# contiguous block, collective then independent, sync after the write, slowest rank counts).
#
#   bench/mpio.sh [DIR] [MIB_PER_RANK]      default: /tmp, 32
#
# For each Open MPI io component (ompio, the default, and romio321) and 2 and 4 ranks: one run of each.
# Bandwidth on a shared 2-core VM is noisy; reads are served from the page cache (caches not dropped).
set -euo pipefail
cd "$(dirname "$0")/.."
dir="${1:-/tmp}"
mib="${2:-32}"
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
[ -x target/release/h5doctor ] && [ -x target/release/h5doctor-probe-mpio ] || scripts/dev.sh build
mkdir -p target/bench
mpicc -O2 -o target/bench/mpiio_baseline bench/mpiio_baseline.c

printf '%-9s %-5s %-22s %10s %10s %10s %10s\n' io ranks what coll-write coll-read ind-write ind-read
for io in ompio romio321; do
  for n in 2 4; do
    json="$(mpirun --oversubscribe --mca io "$io" -n "$n" target/release/h5doctor mpio-test --dir "$dir" --mib-per-rank "$mib" --json || true)"
    MPIO_JSON="$json" python3 - "$io" "$n" <<'PY'
import json, os, sys
io, n = sys.argv[1], sys.argv[2]
r = json.loads(os.environ["MPIO_JSON"])
res = {x["mode"]: x for x in r["facts"]["mpi"]["results"]}
c, i = res["collective"], res["independent"]
slugs = ", ".join(f["slug"] for f in r["findings"])
print(f'{io:<9} {n:<5} {"h5doctor mpio-test":<22} {c["write_mib_s"]:10.1f} {c["read_mib_s"]:10.1f} '
      f'{i["write_mib_s"]:10.1f} {i["read_mib_s"]:10.1f}' + (f"   [{slugs}]" if slugs else ""))
PY
    read -r cw cr iw ir < <(mpirun --oversubscribe --mca io "$io" -n "$n" target/bench/mpiio_baseline "$dir/.h5doctor-bench-mpiio-$$.dat" "$mib")
    printf '%-9s %-5s %-22s %10s %10s %10s %10s\n' "$io" "$n" "raw MPI-IO (baseline)" "$cw" "$cr" "$iw" "$ir"
  done
done
