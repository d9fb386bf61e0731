#!/usr/bin/env bash
# Benchmark: `h5doctor check` on this machine against the baseline a user would otherwise run,
# `/usr/bin/python3 -c "import h5py; h5py.File(p, 'w').close()"`, measured in the same run with hyperfine.
# Goal (issue 2, the locking and hdf5 groups): <= 0.3x the baseline; peak RSS <= 20 MiB.
# The full default check is measured too, against one `import h5py` of the slowest interpreter it finds
# (issue 13: goal <= 1.5x); bench/python_group.sh measures the python group's own goal.
# Needs: a release build (scripts/dev.sh build), hyperfine, GNU time, Debian's python3-h5py.
set -euo pipefail
cd "$(dirname "$0")/.."
bin=target/release/h5doctor
[ -x "$bin" ] || { echo "build first: scripts/dev.sh build" >&2; exit 1; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT INT TERM
cd "$work"
json="$work/hyperfine.json"
hyperfine --warmup 3 --runs "${RUNS:-30}" -N --export-json "$json" \
  -n "h5doctor check --only locking --only hdf5" "$OLDPWD/$bin check --only locking --only hdf5" \
  -n "h5doctor check" "$OLDPWD/$bin check" \
  -n "python3 import h5py + create" "/usr/bin/python3 -c \"import h5py; h5py.File('$work/baseline.h5', 'w').close()\"" >&2
python3 - "$json" <<'PY'
import json, sys
r = {x["command"]: x for x in json.load(open(sys.argv[1]))["results"]}
s, c, b = r["h5doctor check --only locking --only hdf5"], r["h5doctor check"], r["python3 import h5py + create"]
print(f"python3 import h5py      {b['mean']*1e3:8.1f} ms ± {b['stddev']*1e3:.1f}   (baseline)")
print(f"check locking+hdf5       {s['mean']*1e3:8.1f} ms ± {s['stddev']*1e3:.1f}   ratio {s['mean']/b['mean']:.2f}x (goal <= 0.30x)")
print(f"check, all groups        {c['mean']*1e3:8.1f} ms ± {c['stddev']*1e3:.1f}   ratio {c['mean']/b['mean']:.2f}x (includes h5py imports)")
PY
# Issue 13: the default run (every group, every interpreter it finds) against one `import h5py` of the
# slowest interpreter it finds that has h5py, measured in the same run (goal <= 1.5x).
mapfile -t pythons < <("$OLDPWD/$bin" facts --json --only python --no-default-dirs --no-python-import 2>/dev/null |
  python3 -c 'import json,sys; [print(i.get("executable") or i["path"]) for i in json.load(sys.stdin)["python"]["interpreters"] if i.get("h5py")]' | sort -u)
if [ "${#pythons[@]}" -gt 0 ]; then
  args=()
  for py in "${pythons[@]}"; do args+=(-n "import h5py ($py)" "$py -c 'import h5py'"); done
  json2="$work/hyperfine-default.json"
  # BEFORE=/path/to/an/older/h5doctor adds that build's default run to the same hyperfine run.
  before=()
  [ -n "${BEFORE:-}" ] && before=(-n "h5doctor check (before: $BEFORE)" "$BEFORE check")
  hyperfine --warmup 3 --runs "${RUNS:-30}" -N --export-json "$json2" \
    -n "h5doctor check (default)" "$OLDPWD/$bin check" "${before[@]}" "${args[@]}" >&2
  python3 - "$json2" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))["results"]
check = next(x for x in r if x["command"] == "h5doctor check (default)")
imports = [x for x in r if x["command"].startswith("import h5py")]
for x in r:
    if x["command"].startswith("h5doctor check (before"):
        print(f"{x['command']:<40} {x['median']*1e3:8.1f} ms (median)")
slowest = max(imports, key=lambda x: x["mean"])
for x in imports:
    print(f"{x['command']:<40} {x['mean']*1e3:8.1f} ms")
print(f"check, default run       {check['mean']*1e3:8.1f} ms   ratio {check['mean']/slowest['mean']:.2f}x of the slowest import h5py (goal <= 1.5x)")
PY
else
  echo "no interpreter with h5py found: the default-run ratio is not measured" >&2
fi
rss_kib=$(/usr/bin/time -f '%M' "$OLDPWD/$bin" check --only locking --only hdf5 2>&1 >/dev/null | tail -1)
printf 'peak RSS h5doctor check  %8.1f MiB   (locking+hdf5; goal <= 20 MiB; probes run as separate processes)\n' "$(echo "$rss_kib / 1024" | bc -l)"
all_kib=$(/usr/bin/time -f '%M' "$OLDPWD/$bin" check 2>&1 >/dev/null | tail -1)
printf 'peak RSS, all groups     %8.1f MiB\n' "$(echo "$all_kib / 1024" | bc -l)"
probe_rss=$(/usr/bin/time -f '%M' "$OLDPWD/target/release/h5doctor-probe" create "$work/p.h5" 2>&1 >/dev/null | tail -1)
printf 'peak RSS h5doctor-probe  %8.1f MiB\n' "$(echo "$probe_rss / 1024" | bc -l)"
