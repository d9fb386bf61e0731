#!/usr/bin/env bash
# mpio-test start-up across three emulated nodes (testsupport/slurm.sh up PREFIX 3: slurmd -N nid001..3,
# each in its own UTS and mount namespace), next to `srun -N 3 /bin/true` in the same run: what does
# h5doctor add on top of the launcher itself?
#
#   bench/mpio_cluster.sh [RUNS]      default 5 runs of each; H5DOCTOR=path for another build
#
# Rows: srun /bin/true (the launcher alone), srun --mpi=pmix /bin/true (plus the PMIx plugin), mpio-test
# on node-local /tmp (MPI_Init, the marker check, the report: it stops before MPI-IO), mpio-test on a
# shared directory with 1 MiB per rank (the whole test). Medians of RUNS; mpi.init_seconds (rank 0's
# exec-to-MPI_Init) from the JSON report.
set -euo pipefail
cd "$(dirname "$0")/.."
runs="${1:-5}"
h5doctor="${H5DOCTOR:-$PWD/target/release/h5doctor}"
[ -x "$h5doctor" ] && [ -x "$(dirname "$h5doctor")/h5doctor-probe-mpio" ] || scripts/dev.sh build
mkdir -p target/bench
prefix="$(mktemp -d "$PWD/target/bench/cluster.XXXXXX")"
shared="$(mktemp -d "$PWD/target/bench/shared.XXXXXX")"
trap 'testsupport/slurm.sh down "$prefix"; rm -rf "$prefix" "$shared"' EXIT
eval "$(testsupport/slurm.sh up "$prefix" 3)"
export SLURM_CONF

median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
time_runs() {  # label, command...
  local label="$1"; shift
  local t
  for _ in $(seq 1 "$runs"); do
    t0=$(date +%s.%N); "$@" > "$prefix/out" 2> "$prefix/err" || true; t1=$(date +%s.%N)
    echo "$t1 - $t0" | bc -l
  done | median > "$prefix/median"
  t=$(cat "$prefix/median")
  printf '%-44s %8.3f s\n' "$label" "$t"
  echo "$t" > "$prefix/t-${label%% *}"
}
printf '%-44s %10s\n' "what (3 nodes, 1 task each)" "median"
time_runs "true srun -N 3 /bin/true" srun -N 3 --ntasks-per-node=1 /bin/true
time_runs "pmix srun -N 3 --mpi=pmix /bin/true" srun -N 3 --ntasks-per-node=1 --mpi=pmix /bin/true
time_runs "local mpio-test --dir /tmp (stops at the marker)" srun -N 3 --ntasks-per-node=1 --mpi=pmix "$h5doctor" mpio-test --dir /tmp --mib-per-rank 1 --json
init_local=$(python3 -c "import json,sys; print(json.load(open('$prefix/out'))['facts']['mpi']['init_seconds'])" 2>/dev/null || echo '?')
time_runs "shared mpio-test --dir SHARED, 1 MiB per rank" srun -N 3 --ntasks-per-node=1 --mpi=pmix "$h5doctor" mpio-test --dir "$shared" --mib-per-rank 1 --json
init_shared=$(python3 -c "import json,sys; print(json.load(open('$prefix/out'))['facts']['mpi']['init_seconds'])" 2>/dev/null || echo '?')
t=$(cat "$prefix/t-true"); l=$(cat "$prefix/t-local"); s=$(cat "$prefix/t-shared")
echo "rank 0 exec-to-MPI_Init: ${init_local} s (local run), ${init_shared} s (shared run)"
echo "ratio mpio-test (marker stop) / srun /bin/true: $(echo "$l / $t" | bc -l | cut -c1-5)"
echo "ratio mpio-test (whole test)  / srun /bin/true: $(echo "$s / $t" | bc -l | cut -c1-5)"
