#!/usr/bin/env bash
# The module index of `h5doctor check --only modules` against Lmod's `module --terse spider` without a
# cache (LMOD_IGNORE_CACHE=1), in the same run, on generated trees of 2,000 modulefiles shaped like the
# research's spider benchmark (shared/research/feasibility-slurm-modules.md §2): 200 packages x 10
# versions, each with help, whatis x3, setenv and 3 prepend_path, 10 % with depends_on/prereq; and a
# 3-level Core/Compiler/MPI hierarchy of 2,000 Lua files (10 compilers, 5 MPIs each, Spack-style
# prepend_path("MODULEPATH", ...)) that both tools must follow level by level.
#
#   bench/modules.sh [RUNS]      (scripts/dev.sh bench builds the release binary first; needs lmod)
#   BEFORE=/path/to/an/older/h5doctor bench/modules.sh [RUNS]   (that build too, in the same run)
#   KINDS="lua hierarchy" bench/modules.sh                       (only those trees; default all three)
#
# Commands alternate RUNS times (default 10; Tcl spider takes seconds, so the Tcl tree gets RUNS/3+1);
# medians and the ratio spider / h5doctor are printed, wall and CPU (user+sys of the child), and the
# load average at the start and end of each tree. A benchmark, never a test.
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS="${1:-10}"
H5DOCTOR="${H5DOCTOR:-target/release/h5doctor}"
LMOD_CMD=/usr/share/lmod/lmod/libexec/lmod
[ -x "$H5DOCTOR" ] || { echo "build first: cargo build --release (or scripts/dev.sh bench)" >&2; exit 2; }
[ -x "$LMOD_CMD" ] || { echo "Lmod is not installed (apt-get install lmod)" >&2; exit 2; }
DIR="$(mktemp -d)"; trap 'rm -rf "$DIR"' EXIT

/usr/bin/python3 - "$RUNS" "$H5DOCTOR" "$LMOD_CMD" "$DIR" "${BEFORE:-}" "${KINDS:-lua tcl hierarchy}" <<'PY'
import json, os, resource, statistics, subprocess, sys, time
runs, h5doctor, lmod, base, before = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5]
kinds = sys.argv[6].split()

def gen(root, tcl):
    for p in range(200):
        for v in range(10):
            name, ver = f"pkg{p:04d}", f"{v}.{p % 7}.{v * 3}"
            d = os.path.join(root, name); os.makedirs(d, exist_ok=True)
            dep = (p * 10 + v) % 10 == 0 and p > 0
            prefix = f"/opt/site/{name}/{ver}"
            if tcl:
                text = (f'#%Module1.0\nproc ModulesHelp {{ }} {{\n    puts stderr "{name} {ver}"\n}}\n'
                        f'module-whatis "Name: {name}"\nmodule-whatis "Version: {ver}"\nmodule-whatis "Category: lib"\n'
                        f'set root {prefix}\nsetenv {name.upper()}_DIR $root\n'
                        f'prepend-path PATH $root/bin\nprepend-path LD_LIBRARY_PATH $root/lib\nprepend-path MANPATH $root/share/man\n'
                        + (f'prereq pkg{p-1:04d}\n' if dep else ''))
                open(os.path.join(d, ver), "w").write(text)
            else:
                text = (f'help([[{name} {ver}]])\nwhatis("Name: {name}")\nwhatis("Version: {ver}")\nwhatis("Category: lib")\n'
                        f'local root = "{prefix}"\nsetenv("{name.upper()}_DIR", root)\n'
                        f'prepend_path("PATH", pathJoin(root, "bin"))\nprepend_path("LD_LIBRARY_PATH", pathJoin(root, "lib"))\n'
                        f'prepend_path("MANPATH", pathJoin(root, "share/man"))\n'
                        + (f'depends_on("pkg{p-1:04d}")\n' if dep else ''))
                open(os.path.join(d, ver + ".lua"), "w").write(text)

def gen_hier(root):
    """Core: 10 compilers + 90 packages; each compiler level: 5 MPIs + 45 packages; each of the 50 MPI
    levels: 28 packages. 100 + 500 + 1400 = 2,000 files."""
    def write(d, name, ver, extra=""):
        prefix = f"/opt/site/{name}/{ver}"
        os.makedirs(os.path.join(d, name), exist_ok=True)
        open(os.path.join(d, name, ver + ".lua"), "w").write(
            f'help([[{name} {ver}]])\nwhatis("Name: {name}")\nwhatis("Version: {ver}")\n'
            f'local root = "{prefix}"\nsetenv("{name.upper().replace("-", "_")}_DIR", root)\n'
            f'prepend_path("PATH", pathJoin(root, "bin"))\nprepend_path("LD_LIBRARY_PATH", pathJoin(root, "lib"))\n{extra}')
    core = os.path.join(root, "Core")
    for c in range(10):
        comp = os.path.join(root, "Compiler", "gcc", f"{c+4}.1")
        write(core, "gcc", f"{c+4}.1", f'family("compiler")\nprepend_path("MODULEPATH", "{comp}")\n')
        for m in range(5):
            mpi = os.path.join(root, "MPI", "gcc", f"{c+4}.1", "openmpi", f"4.{m}")
            write(comp, "openmpi", f"4.{m}", f'family("mpi")\nprepend_path("MODULEPATH", "{mpi}")\n')
            for k in range(28):
                write(mpi, f"plib{k:02d}", "1.0")
        for k in range(45):
            write(comp, f"clib{k:02d}", "1.0")
    for k in range(90):
        write(core, f"core{k:02d}", "1.0")
    return core

def env_for(tree):
    return {"PATH": "/usr/bin:/bin", "HOME": base, "MODULEPATH": tree, "LMOD_CMD": lmod,
            "LMOD_IGNORE_CACHE": "1", "LMOD_VERSION": "8.6.19"}

def cpu():
    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    return ru.ru_utime + ru.ru_stime

def timed(cmd, env):
    """Wall time and CPU time (user + sys of the child): on a shared, loaded machine the CPU time is the
    steadier measure of the work each tool does."""
    t, c = time.perf_counter(), cpu()
    r = subprocess.run(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, check=False)
    timed.cpu = cpu() - c
    return time.perf_counter() - t, r

for kind in kinds:
    tree = os.path.join(base, kind)
    if kind == "hierarchy":
        tree = gen_hier(tree)
    else:
        gen(tree, kind == "tcl")
    env = env_for(tree)
    n = runs if kind != "tcl" else runs // 3 + 1
    args = ["check", "--only", "modules", "--no-default-dirs", "--no-default-pythons", "--json"]
    tools = [("h5doctor", [h5doctor] + args)]
    if before:
        tools.append(("before", [before] + args))
    tools.append(("spider", [lmod, "bash", "--terse", "spider"]))
    for _, cmd in tools:
        _, r = timed(cmd, env)
    facts = json.loads(subprocess.run([h5doctor, "facts", "--only", "modules", "--json"], env=env,
                                      stdout=subprocess.PIPE, check=True).stdout)["modules"]["index"]
    spider_lines = len([l for l in r.stderr.decode().splitlines() if "/" in l])
    load0 = os.getloadavg()[0]
    wall = {name: [] for name, _ in tools}
    cpus = {name: [] for name, _ in tools}
    for _ in range(n):
        for name, cmd in tools:
            wall[name].append(timed(cmd, env)[0]); cpus[name].append(timed.cpu)
    med = {name: (statistics.median(wall[name]), statistics.median(cpus[name])) for name, _ in tools}
    levels = len(facts["trees"])
    print(f"{kind}: 2000 modulefiles; h5doctor indexed {len(facts['modules'])} modules in {levels} trees in "
          f"{facts['elapsed_ms']} ms (its own clock), spider printed {spider_lines} lines; {n} runs each; "
          f"load average {load0:.1f} -> {os.getloadavg()[0]:.1f}")
    ms, cs = med["spider"]
    print(f"  module --terse spider (no cache): median {ms*1000:8.1f} ms wall, {cs*1000:7.1f} ms CPU")
    for name, _ in tools[:-1]:
        mh, ch = med[name]
        label = "h5doctor check --only modules" if name == "h5doctor" else f"before ({before})"
        print(f"  {label}: median {mh*1000:8.1f} ms wall, {ch*1000:7.1f} ms CPU; "
              f"spider / it: {ms/mh:.1f}x wall, {cs/max(ch, 1e-4):.1f}x CPU")
PY
