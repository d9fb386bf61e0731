#!/usr/bin/env bash
# `h5doctor summarize` over a 10,000-node sweep, next to two baselines measured in the same run: reading
# the same files (cat, the I/O floor) and parsing them with Python's json module (what a hand-written
# diff script would at least do).
#
#   bench/summarize.sh [NODES]      default 10000; targets: <= 2 s wall, <= 200 MiB peak RSS
#
# The sweep is made from real facts files of this machine (`h5doctor facts --json` in three shapes: every
# group; locking and hdf5 on /tmp; every group but Python with the worktree as --dir), each copied with
# its own host name nid00001..; one node in 500 gets another kernel string, so the differences section
# has work to do. H5DOCTOR=path benchmarks another build (default target/release/h5doctor).
set -euo pipefail
cd "$(dirname "$0")/.."
nodes="${1:-10000}"
h5doctor="${H5DOCTOR:-target/release/h5doctor}"
[ -x "$h5doctor" ] || scripts/dev.sh build
work="$(mktemp -d "${TMPDIR:-/tmp}/h5doctor-bench-summarize.XXXXXX")"
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/facts"
"$h5doctor" facts --json > "$work/a.json"
"$h5doctor" facts --json --no-default-dirs --dir /tmp --only locking --only hdf5 > "$work/b.json"
"$h5doctor" facts --json --dir "$PWD" --no-default-pythons > "$work/c.json"
python3 - "$work" "$nodes" <<'PY'
import json, sys
work, nodes = sys.argv[1], int(sys.argv[2])
shapes = [json.load(open(f"{work}/{s}.json")) for s in "abc"]
for i in range(1, nodes + 1):
    facts = shapes[i % 3]
    facts["host"]["hostname"] = f"nid{i:05d}"
    kernel = facts["host"]["kernel"]
    if i % 500 == 0:
        facts["host"]["kernel"] = kernel + "-odd"
    with open(f"{work}/facts/nid{i:05d}.json", "w") as f:
        json.dump(facts, f, indent=2)
    facts["host"]["kernel"] = kernel
PY
bytes=$(du -sb "$work/facts" | cut -f1)
echo "sweep: $nodes facts files, $((bytes / 1024 / 1024)) MiB (sizes $(wc -c < "$work/a.json"), $(wc -c < "$work/b.json"), $(wc -c < "$work/c.json") bytes)"
sync; cat "$work"/facts/*.json > /dev/null   # warm the page cache for every contender alike

measure() {  # label, command...: prints wall seconds and peak RSS MiB
  local label="$1"; shift
  /usr/bin/time -f "%e %M" -o "$work/time" "$@" > "$work/out" 2>&1 || true
  read -r wall kib < "$work/time"
  printf '%-34s %8.2f s %8.1f MiB\n' "$label" "$wall" "$(echo "$kib / 1024" | bc -l)"
  echo "$wall" > "$work/wall-$label"
}
printf '%-34s %10s %12s\n' what wall "peak RSS"
measure cat sh -c "cat $work/facts/*.json > /dev/null"
measure python-json python3 -c "import json,glob; [json.load(open(p)) for p in glob.glob('$work/facts/*.json')]"
measure "h5doctor summarize" "$h5doctor" summarize "$work/facts"
head -4 "$work/out" | sed 's/^/    | /'
grep -A3 '^differs' "$work/out" | sed 's/^/    | /' || true
s=$(cat "$work/wall-h5doctor summarize"); c=$(cat "$work/wall-cat"); p=$(cat "$work/wall-python-json")
echo "ratio summarize / cat: $(echo "$s / ($c + 0.001)" | bc -l | cut -c1-5)   summarize / python json.load: $(echo "$s / ($p + 0.001)" | bc -l | cut -c1-5)"
