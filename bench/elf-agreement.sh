#!/usr/bin/env bash
# Does h5doctor's resolver agree with glibc's loader? For every file of the corpus (bench/corpus.py:
# ELF shared objects under /usr/lib/x86_64-linux-gnu and *.so under /usr/lib/python3/dist-packages),
# compares the soname -> path set of `h5doctor ldd --json` (one call for the whole corpus) with what
# `ldd FILE` prints (one call per file), after realpath(). Prints the agreement percentage and every
# disagreement. Exit 0 at 100 %, 1 otherwise.
#
#   bench/elf-agreement.sh [DIR...]        default: the two corpus directories
#   H5DOCTOR=path/to/h5doctor              default: target/release/h5doctor (built if missing)
set -euo pipefail
cd "$(dirname "$0")/.."
export HDF5_DIR="${HDF5_DIR:-/usr/lib/x86_64-linux-gnu/hdf5/serial}"
H5DOCTOR="${H5DOCTOR:-target/release/h5doctor}"
[ -x "$H5DOCTOR" ] || cargo build --release -q -p h5doctor
work="$(mktemp -d)"; trap 'rm -rf "$work"' EXIT
/usr/bin/python3 bench/corpus.py "$@" > "$work/corpus"
# h5doctor exits 1 when a library is missing somewhere in the corpus; that is data, not a failure.
rc=0; xargs -d '\n' -a "$work/corpus" "$H5DOCTOR" ldd --json > "$work/h5doctor.json" || rc=$?
[ "$rc" -eq 0 ] || [ "$rc" -eq 123 ] || { echo "h5doctor ldd failed (xargs status $rc)" >&2; exit 2; }
/usr/bin/python3 - "$work/corpus" "$work/h5doctor.json" <<'PY'
import concurrent.futures, json, os, re, subprocess, sys

corpus = open(sys.argv[1]).read().split("\n")[:-1]
mine = {}
for doc in open(sys.argv[2]).read().splitlines():
    for f in json.loads(doc)["files"]:
        mine[f["path"]] = f

def real(p):
    return None if p is None else os.path.realpath(p)

def ldd(path):
    out = subprocess.run(["ldd", path], capture_output=True, text=True).stdout
    deps = {}
    for line in out.splitlines():
        line = line.strip()
        m = re.match(r"^(\S+) => not found$", line)
        if m:
            deps[m.group(1)] = None
            continue
        m = re.match(r"^(\S+) => (\S+) \(0x[0-9a-f]+\)$", line)
        if m:
            deps[m.group(1)] = real(m.group(2))
            continue
        m = re.match(r"^(/\S+) \(0x[0-9a-f]+\)$", line)
        if m:  # the dynamic loader (by its file name), or an object loaded by path (a preload)
            base = os.path.basename(m.group(1))
            deps[base if base.startswith("ld-") else m.group(1)] = real(m.group(1))
    deps.pop("linux-vdso.so.1", None)
    return path, deps

with concurrent.futures.ThreadPoolExecutor(max_workers=os.cpu_count() or 2) as pool:
    truth = dict(pool.map(ldd, corpus))

agree, bad = 0, []
for path in corpus:
    f = mine.get(path)
    got = {} if f is None or f.get("error") else {l["name"]: real(l["path"]) for l in f["libraries"]}
    want = truth[path]
    if got == want:
        agree += 1
    else:
        diff = sorted(set(got.items()) ^ set(want.items()), key=str)
        bad.append((path, [(k, want.get(k, "-"), got.get(k, "-")) for k in sorted({k for k, _ in diff})], f and f.get("error")))

for path, rows, err in bad:
    print(f"DISAGREE {path}" + (f" (h5doctor error: {err})" if err else ""))
    for name, want, got in rows:
        print(f"    {name}: ldd {want} | h5doctor {got}")
entries = sum(len(v) for v in truth.values())
print(f"corpus: {len(corpus)} ELF shared objects, {entries} ldd entries")
print(f"agreement: {agree}/{len(corpus)} = {100.0 * agree / max(1, len(corpus)):.2f} %")
sys.exit(0 if agree == len(corpus) else 1)
PY
