#!/usr/bin/env python3
"""Lists the ELF corpus of the ELF benchmarks, one path per line: every ELF shared object (e_type
ET_DYN) stored as a regular file (symlinks are not followed) under /usr/lib/x86_64-linux-gnu,
recursively, and every *.so* under /usr/lib/python3/dist-packages (shared/research/perf-anchors.md §1)."""
import os
import sys

ROOTS = sys.argv[1:] or ["/usr/lib/x86_64-linux-gnu", "/usr/lib/python3/dist-packages"]


def is_et_dyn(path):
    try:
        with open(path, "rb") as f:
            head = f.read(18)
    except OSError:
        return False
    if len(head) < 18 or head[:4] != b"\x7fELF":
        return False
    order = "little" if head[5] == 1 else "big"
    return int.from_bytes(head[16:18], order) == 3


for root in ROOTS:
    python_tree = "dist-packages" in root or "site-packages" in root
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames.sort()
        for name in sorted(filenames):
            if python_tree and ".so" not in name:
                continue
            path = os.path.join(dirpath, name)
            if os.path.islink(path) or not os.path.isfile(path):
                continue
            if is_et_dyn(path):
                print(path)
