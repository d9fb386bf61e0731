#!/usr/bin/env bash
# Benchmark: `h5doctor check` on this machine against the baseline a user would otherwise run,
# `/usr/bin/python3 -c "import h5py; h5py.File(p, 'w').close()"`, measured in the same run.
# Goal (issue 2, the locking and hdf5 groups): <= 0.3x the baseline; peak RSS <= 20 MiB.
# The full default check is measured too, against one `import h5py` of the slowest interpreter it finds
# (issue 13: goal <= 1.5x); bench/python_group.sh measures the python group's own goal.
#
#   RUNS=N BEFORE=/path/to/an/older/h5doctor bench/check-vs-h5py.sh
#
# Every command runs interleaved with the others (bench/interleaved.py: one run of each per round, the
# order rotated), so all see the same load; every figure is a median (wall, and CPU = user + sys of the
# process and its children); the load average and I/O pressure are printed before and after each part.
# BEFORE adds an older build to the same rounds (its h5doctor-probe must sit beside it): its spine check
# (locking+hdf5) and its default check, each with its ratio to the same baseline; and the peak RSS of both
# spine checks, sampled alternately (RSS_RUNS times each, default 5; median and range).
# Needs: a release build (scripts/dev.sh build), GNU time, Debian's python3-h5py.
set -euo pipefail
cd "$(dirname "$0")/.."
bin=$PWD/target/release/h5doctor
runner=$PWD/bench/interleaved.py
[ -x "$bin" ] || { echo "build first: scripts/dev.sh build" >&2; exit 1; }
runs=${RUNS:-20}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT INT TERM
cd "$work"

echo "== locking+hdf5 and all groups vs import h5py + create ($runs rounds)" >&2
spine=("check --only locking --only hdf5=$bin check --only locking --only hdf5")
[ -n "${BEFORE:-}" ] && spine+=("check --only locking --only hdf5 (before)=$BEFORE check --only locking --only hdf5")
# Run as root (this machine's tests and prologs do), h5doctor also vets every program it starts and what that
# program loads (src/trust.rs); a user's check does not. When the bench runs as root, the same spine check
# runs as uid 65534 too, in a working directory and a HOME of its own (two directories, as root's), through
# setpriv and env (two execs more than the root run, in both builds' user figures).
if [ "$(id -u)" = 0 ] && command -v setpriv >/dev/null; then
  chmod 755 "$work"; install -d -o 65534 -g 65534 "$work/user" "$work/userhome"
  as_user="setpriv --reuid 65534 --regid 65534 --clear-groups env -C $work/user HOME=$work/userhome"
  spine+=("check --only locking --only hdf5 (uid 65534)=$as_user $bin check --only locking --only hdf5")
  [ -n "${BEFORE:-}" ] && spine+=("check --only locking --only hdf5 (uid 65534, before)=$as_user $BEFORE check --only locking --only hdf5")
fi
python3 "$runner" "$runs" "$work/spine.json" \
  "${spine[@]}" \
  "check (all groups)=$bin check" \
  "python3 import h5py + create=/usr/bin/python3 -c \"import h5py; h5py.File('$work/baseline.h5', 'w').close()\""
python3 - "$work/spine.json" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
b, s, c = r["python3 import h5py + create"], r["check --only locking --only hdf5"], r["check (all groups)"]
print(f"python3 import h5py      {b['wall']*1e3:8.1f} ms (CPU {b['cpu']*1e3:.1f})   (baseline)")
if "check --only locking --only hdf5 (before)" in r:
    o = r["check --only locking --only hdf5 (before)"]
    print(f"check locking+hdf5, BEFORE {o['wall']*1e3:6.1f} ms (CPU {o['cpu']*1e3:.1f})   ratio {o['wall']/b['wall']:.2f}x wall, {o['cpu']/b['cpu']:.2f}x CPU (goal <= 0.30x)")
print(f"check locking+hdf5       {s['wall']*1e3:8.1f} ms (CPU {s['cpu']*1e3:.1f})   ratio {s['wall']/b['wall']:.2f}x wall, {s['cpu']/b['cpu']:.2f}x CPU (goal <= 0.30x)")
for who in ("uid 65534, before", "uid 65534"):
    if f"check --only locking --only hdf5 ({who})" in r:
        u = r[f"check --only locking --only hdf5 ({who})"]
        print(f"check locking+hdf5 ({who}) {u['wall']*1e3:6.1f} ms (CPU {u['cpu']*1e3:.1f})   ratio {u['wall']/b['wall']:.2f}x wall, {u['cpu']/b['cpu']:.2f}x CPU (no root vetting)")
print(f"check, all groups        {c['wall']*1e3:8.1f} ms (CPU {c['cpu']*1e3:.1f})   ratio {c['wall']/b['wall']:.2f}x (includes h5py imports)")
PY

# Issue 13: the default run (every group, every interpreter it finds) against one `import h5py` of the
# slowest interpreter it finds that has h5py, measured in the same rounds (goal <= 1.5x).
mapfile -t pythons < <("$bin" facts --json --only python --no-default-dirs --no-python-import 2>/dev/null |
  python3 -c 'import json,sys; [print(i.get("executable") or i["path"]) for i in json.load(sys.stdin)["python"]["interpreters"] if i.get("h5py")]' | sort -u)
if [ "${#pythons[@]}" -gt 0 ]; then
  args=("h5doctor check (default)=$bin check")
  [ -n "${BEFORE:-}" ] && args+=("h5doctor check (before)=$BEFORE check")
  for py in "${pythons[@]}"; do args+=("import h5py ($py)=$py -c 'import h5py'"); done
  echo "== the default check vs import h5py ($runs rounds)" >&2
  python3 "$runner" "$runs" "$work/default.json" "${args[@]}"
  python3 - "$work/default.json" "${BEFORE:-}" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
imports = {k: v for k, v in r.items() if k.startswith("import h5py")}
name, slowest = max(imports.items(), key=lambda kv: kv[1]["wall"])
for k, v in imports.items():
    print(f"{k:<40} {v['wall']*1e3:8.1f} ms   CPU {v['cpu']*1e3:6.1f} ms")
for k in ("h5doctor check (before)", "h5doctor check (default)"):
    if k in r:
        v = r[k]
        print(f"{k:<40} {v['wall']*1e3:8.1f} ms   CPU {v['cpu']*1e3:6.1f} ms   ratio {v['wall']/slowest['wall']:.2f}x wall, "
              f"{v['cpu']/slowest['cpu']:.2f}x CPU of the slowest import h5py (goal <= 1.5x)")
print("(all medians of the same interleaved rounds)")
PY
else
  echo "no interpreter with h5py found: the default-run ratio is not measured" >&2
fi
# Peak RSS (GNU time's maximum resident set of the process and the children it waited for) of the spine
# check, RSS_RUNS samples, alternating with BEFORE's when it is given; median and range.
peak_kib() { /usr/bin/time -f '%M' "$@" 2>&1 >/dev/null | tail -1; }
rss_new=() rss_old=()
for _ in $(seq "${RSS_RUNS:-5}"); do
  rss_new+=("$(peak_kib "$bin" check --only locking --only hdf5)")
  [ -n "${BEFORE:-}" ] && rss_old+=("$(peak_kib "$BEFORE" check --only locking --only hdf5)")
done
rss_line() { printf '%s\n' "${@:2}" | python3 -c 'import statistics,sys; k=[int(x) for x in sys.stdin]; print(f"{sys.argv[1]:<24} {statistics.median(k)/1024:8.1f} MiB   (median of {len(k)}, range {min(k)/1024:.1f}-{max(k)/1024:.1f}; locking+hdf5; goal <= 20 MiB; probes run as separate processes)")' "$1"; }
[ -n "${BEFORE:-}" ] && rss_line "peak RSS check, BEFORE" "${rss_old[@]}"
rss_line "peak RSS h5doctor check" "${rss_new[@]}"
all_kib=$(/usr/bin/time -f '%M' "$bin" check 2>&1 >/dev/null | tail -1)
printf 'peak RSS, all groups     %8.1f MiB\n' "$(echo "$all_kib / 1024" | bc -l)"
probe_rss=$(/usr/bin/time -f '%M' "$(dirname "$bin")/h5doctor-probe" create "$work/p.h5" 2>&1 >/dev/null | tail -1)
printf 'peak RSS h5doctor-probe  %8.1f MiB\n' "$(echo "$probe_rss / 1024" | bc -l)"
