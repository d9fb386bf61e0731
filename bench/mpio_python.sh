#!/usr/bin/env bash
# `mpio-test --python` (mpi4py + h5py's mpio driver through /usr/bin/python3) next to h5doctor's own MPI
# probe (the Rust baseline), both measured in the same run under Open MPI's mpirun, alternating, ROUNDS
# times each; prints the medians and the ratio Python / probe per mode and direction, then the last
# Python run's human report with the probe's figures side by side (`--compare`).
#
#   bench/mpio_python.sh [DIR] [MIB_PER_RANK] [RANKS] [ROUNDS]      default: /tmp, 32, 2, 3
#
# H5DOCTOR=path picks the h5doctor binary (default target/release/h5doctor, built when missing; the
# probe h5doctor-probe-mpio must sit next to it). Bandwidth on a shared 2-core VM is noisy; reads are
# served from the page cache.
set -euo pipefail
cd "$(dirname "$0")/.."
dir="${1:-/tmp}"
mib="${2:-32}"
ranks="${3:-2}"
rounds="${4:-3}"
python=/usr/bin/python3
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
h5doctor="${H5DOCTOR:-target/release/h5doctor}"
if [ -z "${H5DOCTOR:-}" ] && { [ ! -x target/release/h5doctor ] || [ ! -x target/release/h5doctor-probe-mpio ]; }; then
  scripts/dev.sh build
fi
out="$(mktemp -d)"
trap 'rm -rf "$out"' EXIT

for ((i = 0; i < rounds; i++)); do
  mpirun --oversubscribe -n "$ranks" "$h5doctor" mpio-test --dir "$dir" --mib-per-rank "$mib" --json > "$out/probe-$i.json" || true
  mpirun --oversubscribe -n "$ranks" "$h5doctor" mpio-test --python "$python" --dir "$dir" --mib-per-rank "$mib" \
    --json > "$out/python-$i.json" || true
done

python3 - "$out" "$rounds" "$ranks" "$mib" <<'PY'
import json, statistics, sys
out, rounds, ranks, mib = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
def medians(kind):
    figs = {}
    for i in range(rounds):
        r = json.load(open(f"{out}/{kind}-{i}.json"))
        m = r["facts"]["mpi"]
        if not m.get("passed"):
            sys.exit(f"{kind} run {i} did not pass: {m.get('error') or m.get('reason')}")
        for x in m["results"]:
            for d in ("write", "read"):
                figs.setdefault((x["mode"], d), []).append(x[f"{d}_mib_s"])
    return {k: statistics.median(v) for k, v in figs.items()}
probe, py = medians("probe"), medians("python")
print(f"{ranks} ranks x {mib} MiB per dataset, median of {rounds} runs each (MiB/s)")
print(f"{'mode':<12} {'dir':<6} {'probe (Rust)':>13} {'--python':>10} {'python/probe':>13}")
for key in sorted(probe):
    print(f"{key[0]:<12} {key[1]:<6} {probe[key]:13.1f} {py[key]:10.1f} {py[key] / probe[key]:13.2f}")
PY

echo
last=$((rounds - 1))
mpirun --oversubscribe -n "$ranks" "$h5doctor" mpio-test --python "$python" --dir "$dir" --mib-per-rank "$mib" \
  --compare "$out/probe-$last.json" | sed -n '/✓ mpi\|! mpi\|✗ mpi/,/^$/p'
