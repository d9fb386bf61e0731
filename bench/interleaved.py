#!/usr/bin/env python3
"""Runs commands interleaved (one run of each per round, the order rotated every round) and prints, per
command, the median wall time and the median CPU time (user + sys of the process and the children it
waited for, from wait4), with the range, and the load average before and after. Interleaving puts every
command under the same load (on a shared machine the load changes within seconds); medians everywhere.

usage: interleaved.py RUNS JSON_OUT NAME=COMMAND [NAME=COMMAND ...]   (COMMAND runs through /bin/sh -c)
"""
import json
import os
import statistics
import subprocess
import sys
import time


def load():
    with open("/proc/loadavg") as f:
        one, five, fifteen = f.read().split()[:3]
    try:
        with open("/proc/pressure/io") as f:
            io = f.readline().split()[2].split("=")[1]  # some avg60
    except OSError:
        io = "?"
    return f"load average {one} {five} {fifteen}, I/O pressure (some avg60) {io} %"


def run_once(cmd):
    t = time.perf_counter()
    p = subprocess.Popen(["/bin/sh", "-c", "exec " + cmd], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _, status, usage = os.wait4(p.pid, 0)
    wall = time.perf_counter() - t
    p.returncode = os.waitstatus_to_exitcode(status)
    if p.returncode not in (0, 1):
        sys.exit(f"{cmd!r} exited with {p.returncode}")
    return wall, usage.ru_utime + usage.ru_stime


def main():
    runs, out = int(sys.argv[1]), sys.argv[2]
    commands = [a.split("=", 1) for a in sys.argv[3:]]
    print(f"start: {load()}", file=sys.stderr)
    for _, cmd in commands:  # warm-up: page cache, .pyc files
        for _ in range(2):
            run_once(cmd)
    samples = {name: [] for name, _ in commands}
    for r in range(runs):
        k = r % len(commands)
        for name, cmd in commands[k:] + commands[:k]:
            samples[name].append(run_once(cmd))
    print(f"end:   {load()}", file=sys.stderr)
    result = {}
    for name, s in samples.items():
        wall = [w for w, _ in s]
        cpu = [c for _, c in s]
        result[name] = {
            "wall": statistics.median(wall),
            "cpu": statistics.median(cpu),
            "wall_min": min(wall),
            "wall_max": max(wall),
            "runs": len(s),
        }
    with open(out, "w") as f:
        json.dump(result, f)
    for name, r in result.items():
        print(
            f"  {name:<44} wall {r['wall'] * 1e3:7.1f} ms (range {r['wall_min'] * 1e3:.0f}-{r['wall_max'] * 1e3:.0f})"
            f"   CPU {r['cpu'] * 1e3:6.1f} ms   (medians of {r['runs']})",
            file=sys.stderr,
        )


if __name__ == "__main__":
    main()
