#!/usr/bin/env bash
# The Python group of `h5doctor check` against one `python -c 'import h5py'`, in the same run.
#
#   bench/python_group.sh [RUNS]        (scripts/dev.sh bench builds the release binary first)
#   BEFORE=/path/to/an/older/h5doctor bench/python_group.sh [RUNS]
#
# For each interpreter that has h5py (Debian's /usr/bin/python3, and the PyPI-wheel venv the tests cache
# in target/test-venvs/ when it exists), the two commands run alternately RUNS times (default 30), so
# that load from other processes hits both alike; the medians (wall, and CPU = user + sys of the process
# and the children it waited for) and their ratios are printed (goal <= 1.3), with the load average.
# BEFORE adds an older build's python group to the same alternation (a third command), with its ratios.
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

/usr/bin/python3 - "$RUNS" "$H5DOCTOR" "${BEFORE:-}" "$DIR" "${PYTHONS[@]}" <<'PY'
import os, statistics, subprocess, sys, time
runs, h5doctor, before, target, pythons = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5:]

def load():
    with open("/proc/loadavg") as f:
        return " ".join(f.read().split()[:3])

def timed(cmd):
    """Wall and CPU (user + sys of the process and the children it waited for) in ms."""
    t = time.perf_counter()
    p = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _, _, usage = os.wait4(p.pid, 0)
    return (time.perf_counter() - t) * 1000, (usage.ru_utime + usage.ru_stime) * 1000

def compare(label, commands):
    """commands: (name, argv) pairs, the first the baseline; run alternately, the order rotated."""
    for _ in range(3):
        for _, cmd in commands:
            timed(cmd)
    samples = {name: [] for name, _ in commands}
    start = load()
    for r in range(runs):
        k = r % len(commands)
        for name, cmd in commands[k:] + commands[:k]:
            samples[name].append(timed(cmd))
    print(f"{label}   (load {start} -> {load()})")
    med = {n: (statistics.median(w for w, _ in s), statistics.median(c for _, c in s)) for n, s in samples.items()}
    base = med[commands[0][0]]
    for name, _ in commands:
        w, c = med[name]
        line = f"  {name:<22} median {w:7.1f} ms   CPU {c:7.1f} ms"
        if name != commands[0][0]:
            line += f"   ratio {w / base[0]:5.2f}x wall, {c / base[1]:5.2f}x CPU   (goal <= 1.3)"
        print(line)

def group(binary):
    return [binary, "check", "--only", "python", "--no-default-dirs", "--dir", target]

def takes_root_flag(binary):
    """Older builds have no --allow-exec-as-root (they ran interpreters as root without it)."""
    help_text = subprocess.run([binary, "check", "--help"], capture_output=True, text=True).stdout
    return "--allow-exec-as-root" in help_text

builds = [("check (python)", h5doctor)] + ([("check (python, BEFORE)", before)] if before else [])
for py in pythons:
    compare(py, [("import h5py", [py, "-c", "import h5py"])] + [
        (name, group(b) + ["--no-default-pythons", "--python", py] + (["--allow-exec-as-root"] if takes_root_flag(b) else []))
        for name, b in builds])
compare("default discovery (every interpreter found here) vs /usr/bin/python3 -c 'import h5py'",
        [("import h5py", ["/usr/bin/python3", "-c", "import h5py"])] + [(name, group(b)) for name, b in builds])
PY
