#!/usr/bin/env python3
# Measures where a fact's meaning is written twice: usage `scripts/doc-overlap.py [ROOT] [-v]`.
# The catalogue entry is the one home of a fact's meaning (src/facts/mod.rs); a field read as it is says
# only "Fact `ns.name` (documented once, ...)". Prints the overlapping pairs with -v.
# Field/catalogue doc overlap: for each catalogue fact "ns.name" (doc D) and each struct field `name`
# in src/facts + src/groups (its /// doc F), Jaccard of word sets >= 0.35 counts as an overlapping pair.
import re, glob, sys
root = sys.argv[1] if len(sys.argv) > 1 else "."
files = glob.glob(root + "/src/facts/**/*.rs", recursive=True) + glob.glob(root + "/src/groups/**/*.rs", recursive=True)
words = lambda t: set(w for w in re.findall(r"[a-z0-9_]+", t.lower()) if len(w) > 2)
facts = []
for f in files:
    s = open(f).read()
    for m in re.finditer(r'"([a-z_0-9]+)\.([A-Za-z_0-9]+)" \[[^\]]*\](?: in \w+)?\s*\n((?:\s*"(?:[^"\\]|\\.)*"\s*\n)+)\s*=>', s):
        doc = " ".join(re.findall(r'"((?:[^"\\]|\\.)*)"', m.group(3)))
        facts.append((m.group(1) + "." + m.group(2), m.group(2), doc))
fields = []
for f in files:
    if "/catalog/" in f:
        continue
    lines = open(f).read().split("\n")
    doc = []
    for i, l in enumerate(lines):
        t = l.strip()
        if t.startswith("///"):
            doc.append(t[3:].strip())
        elif t.startswith("#["):
            continue
        else:
            m = re.match(r"pub (\w+):", t)
            if m and doc:
                fields.append((f, i + 1, m.group(1), " ".join(doc)))
            doc = []
pairs = []
for name, last, d in facts:
    for f, line, fname, fd in fields:
        if fname == last:
            a, b = words(d), words(fd)
            j = len(a & b) / max(1, len(a | b))
            if j >= 0.35 and "documented once" not in fd:
                pairs.append((round(j, 2), name, f, line, fd, d, sorted(b - a)))
pairs.sort(reverse=True)
print(len(facts), "facts parsed,", len(pairs), "overlapping pairs")
if "-v" in sys.argv:
    for p in pairs:
        print(p[0], p[1], f"{p[2]}:{p[3]}", "| extra field words:", p[6])
