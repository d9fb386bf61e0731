#!/usr/bin/env bash
# The Python group of `h5doctor check` against one `python -c 'import h5py'`, in the same run.
#
#   bench/python_group.sh [RUNS]        (scripts/dev.sh bench builds the release binary first)
#
# For each interpreter that has h5py (Debian's /usr/bin/python3, and the PyPI-wheel venv the tests cache
# in target/test-venvs/ when it exists), the two commands run alternately RUNS times (default 30), so
# that load from other processes hits both alike; the medians and their ratio are printed (goal <= 1.3).
# `check` diagnoses exactly that interpreter: its query (job view and -I), the static scan of h5py, NumPy
# and mpi4py, and the sandboxed import with an h5py file creation in one directory.
# The default discovery (every interpreter on this machine) is measured too, for information.
# A benchmark, never a test: nothing here fails on a slow machine.
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS="${1:-30}"
H5DOCTOR="${H5DOCTOR:-target/release/h5doctor}"
[ -x "$H5DOCTOR" ] || { echo "build first: cargo build --release (or scripts/dev.sh bench)" >&2; exit 2; }
DIR="$(mktemp -d)"; trap 'rm -rf "$DIR"' EXIT

PYTHONS=(/usr/bin/python3)
VENV=target/test-venvs/pypi-h5py-3.16/bin/python
[ -x "$VENV" ] && PYTHONS+=("$VENV")

/usr/bin/python3 - "$RUNS" "$H5DOCTOR" "$DIR" "${PYTHONS[@]}" <<'PY'
import statistics, subprocess, sys, time
runs, h5doctor, target, pythons = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4:]

def timed(cmd):
    t = time.perf_counter()
    subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)
    return (time.perf_counter() - t) * 1000

def compare(label, a, b):
    for _ in range(3):
        timed(a), timed(b)
    ta, tb = [], []
    for _ in range(runs):
        ta.append(timed(a))
        tb.append(timed(b))
    ma, mb = statistics.median(ta), statistics.median(tb)
    print(f"{label}\n  import h5py        median {ma:7.1f} ms\n  check (python)     median {mb:7.1f} ms\n  ratio              {mb / ma:7.2f}x   (goal <= 1.3)")

group = [h5doctor, "check", "--only", "python", "--no-default-dirs", "--dir", target]
for py in pythons:
    compare(py, [py, "-c", "import h5py"], group + ["--no-default-pythons", "--python", py, "--allow-exec-as-root"])
compare("default discovery (every interpreter found here) vs /usr/bin/python3 -c 'import h5py'",
        ["/usr/bin/python3", "-c", "import h5py"], group)
PY
