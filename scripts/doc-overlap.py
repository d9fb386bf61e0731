#!/usr/bin/env python3
# Measures where a fact's meaning is written twice: usage `scripts/doc-overlap.py [ROOT] [-v]`.
# The catalogue entry is the one home of a fact's meaning (src/facts/mod.rs); a field read as it is says
# only "Fact `ns.name` (documented once, ...)". Prints the overlapping pairs with -v.
# Field/catalogue doc overlap: for each catalogue fact "ns.name" (doc D) and each struct field `name`
# in src/facts + src/groups (its /// doc F), Jaccard of word sets >= 0.35 counts as an overlapping pair,
# unless the field belongs to another struct than the fact's (NAME_COLLISIONS, each with its reason).
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
# Same-named fields of other structs, which no fact reads as they are: not a fact's doc written twice, so
# not counted (fact, struct of the field).
NAME_COLLISIONS = {
    ("binary.error", "LibraryInfo"),  # an inventory library that could not be read (binary.error: BinaryFacts)
    ("binary.error", "VdsReadReport"),  # a VDS source file that could not be opened
    ("mpi.error_stack", "Hdf5Create"),  # a directory's H5Fcreate (mpi.error_stack: MpiFacts)
    ("hdf5.probe_path", "MpiFacts"),  # the MPI probe binary; no fact reads it
    ("dir.read_only", "MpiNode"),  # one node's view in mpio-test; no fact reads it
    ("dir.fcntl_errno", "MpiNode"),  # read grouped by node by mpi.fcntl_failed_nodes, whose doc differs
    ("file.path", "LoginDir"),  # the login node's directory (file.path: FileFacts)
}
fields = []
for f in files:
    if "/catalog/" in f:
        continue
    lines = open(f).read().split("\n")
    doc = []
    struct = None
    for i, l in enumerate(lines):
        t = l.strip()
        m = re.match(r"pub struct (\w+)", t)
        if m:
            struct = m.group(1)
        if t.startswith("///"):
            doc.append(t[3:].strip())
        elif t.startswith("#["):
            continue
        else:
            m = re.match(r"pub (\w+):", t)
            if m and doc:
                fields.append((f, i + 1, m.group(1), " ".join(doc), struct))
            doc = []
pairs = []
collisions = 0
for name, last, d in facts:
    for f, line, fname, fd, struct in fields:
        if fname == last and (name, struct) in NAME_COLLISIONS:
            collisions += 1
        elif fname == last:
            a, b = words(d), words(fd)
            j = len(a & b) / max(1, len(a | b))
            if j >= 0.35 and "documented once" not in fd:
                pairs.append((round(j, 2), name, f, line, fd, d, sorted(b - a)))
pairs.sort(reverse=True)
print(len(facts), "facts parsed,", len(pairs), "overlapping pairs;", collisions, "same-named fields of other structs left out")
if "-v" in sys.argv:
    for p in pairs:
        print(p[0], p[1], f"{p[2]}:{p[3]}", "| extra field words:", p[6])
