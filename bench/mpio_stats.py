#!/usr/bin/env python3
"""Statistics of bench/mpio.sh: medians, ratios with a confidence interval, and a verdict against 0.8x.

Input: the rows bench/mpio.sh collects, one per run:
    IO RANKS WHAT ROUND COLL_WRITE COLL_READ IND_WRITE IND_READ EXTRA...
(WHAT: h5 = mpio-test, raw = bench/mpiio_baseline.c, presized = the same with the file pre-sized as HDF5
leaves it, viewed = the same with the collective transfers made through a file view as HDF5 makes them;
ROUND: the round of that cell the run belongs to, one run of each command per round; EXTRA: for h5 the
H5Fflush share of the collective and independent write, for raw the collective read through HDF5's
file-view path.)

The ratio of a cell is median(mpio-test) / median(baseline) over the cell's rounds. Its 90 % interval is a
bootstrap over rounds (rounds drawn with replacement, the runs of one round kept together, since commands
run seconds apart share the disk's state; fixed seed, so the same rows always give the same interval).
The verdict: ">=0.8" when the whole interval is at or above 0.8, "<0.8" when it is below, "?" when it
straddles 0.8 (the runs so far do not say which side the cell is on; more rounds may).

    mpio_stats.py summary ROWS      the table bench/mpio.sh prints
    mpio_stats.py decided ROWS IO RANKS
                                    exit 0 when every ratio of that cell against the raw baseline has a
                                    verdict, 1 while one is "?" (bench/mpio.sh then adds a round)
"""
import random
import statistics
import sys

GOAL = 0.8
COLUMNS = ["coll-write", "coll-read", "ind-write", "ind-read"]
BOOTSTRAP = 2000


def load(path):
    """{(io, ranks): {what: {round: [values...]}}} from the rows file."""
    cells = {}
    for line in open(path):
        parts = line.split()
        if len(parts) < 8:
            continue
        io, ranks, what, rnd = parts[:4]
        cells.setdefault((io, ranks), {}).setdefault(what, {})[int(rnd)] = [float(x) for x in parts[4:]]
    return cells


def ratio_with_interval(top, bottom, column):
    """median(top) / median(bottom) over the rounds both have, its 90 % bootstrap interval, and the rounds."""
    rounds = sorted(set(top) & set(bottom))
    if not rounds:
        return None
    pairs = [(top[r][column], bottom[r][column]) for r in rounds]

    def ratio(sample):
        below = statistics.median(b for _, b in sample)
        return statistics.median(t for t, _ in sample) / below if below else float("inf")

    rng = random.Random(column * 7919 + len(pairs))
    draws = sorted(ratio([rng.choice(pairs) for _ in pairs]) for _ in range(BOOTSTRAP))
    return ratio(pairs), draws[int(0.05 * BOOTSTRAP)], draws[int(0.95 * BOOTSTRAP) - 1], len(pairs)


def verdict(low, high):
    if low >= GOAL:
        return ">=0.8"
    if high < GOAL:
        return "<0.8"
    return "?"


def decided(cells, io, ranks):
    runs = cells.get((io, ranks), {})
    if "h5" not in runs or "raw" not in runs:
        return False
    for column in range(len(COLUMNS)):
        r = ratio_with_interval(runs["h5"], runs["raw"], column)
        if r is None or verdict(r[1], r[2]) == "?":
            return False
    return True


def summary(cells):
    med = lambda runs, k: statistics.median(v[k] for v in runs.values())
    span = lambda runs, k: f"{min(v[k] for v in runs.values()):.0f}-{max(v[k] for v in runs.values()):.0f}"
    print("MiB/s, medians over each cell's rounds (one run of each command per round, order rotated);")
    print("ratio = median(mpio-test) / median(baseline) [90 % bootstrap interval over rounds] verdict vs 0.8x;")
    print("raw = bench/mpiio_baseline.c, presized = the same with the file pre-sized as HDF5's mpio driver leaves it,")
    print("viewed = the same with its collective write and read through a file view as HDF5's mpio driver makes them")
    head = f'{"io":<9} {"ranks":<5} {"what":<12}'
    print(head + "".join(f"{c:>24}" for c in COLUMNS))
    tally = {">=0.8": 0, "<0.8": 0, "?": 0}
    for (io, ranks), runs in cells.items():
        lead = lambda label: f"{io:<9} {ranks:<5} {label:<12}"
        for what, label in (("h5", "mpio-test"), ("raw", "raw"), ("presized", "presized"), ("viewed", "viewed")):
            if what in runs:
                print(lead(label) + "".join(f"{med(runs[what], k):24.1f}" for k in range(4)) + f"   ({len(runs[what])} runs)")
        for base, label in (("raw", "h5/raw"), ("presized", "h5/presized"), ("viewed", "h5/viewed")):
            if "h5" not in runs or base not in runs:
                continue
            cols = []
            for k in range(4):
                r = ratio_with_interval(runs["h5"], runs[base], k)
                v = verdict(r[1], r[2])
                if base == "raw":
                    tally[v] += 1
                cols.append(f"{r[0]:.2f} [{r[1]:.2f}-{r[2]:.2f}] {v:<5}")
            print(lead(label) + "".join(f"{c:>24}" for c in cols))
        for what, label in (("h5", "h5 spread"), ("raw", "raw spread")):
            if what in runs:
                print(lead(label) + "".join(f"{span(runs[what], k):>24}" for k in range(4)))
        if "h5" in runs and "raw" in runs:
            h5 = runs["h5"]
            flush = [med(h5, k) for k in (4, 5)] if all(len(v) >= 6 for v in h5.values()) else None
            raw = runs["raw"]
            view = med(raw, 4) if all(len(v) >= 5 for v in raw.values()) else None
            extra = []
            if flush:
                extra.append(f"H5Fflush share of the write c/i {flush[0]:.2f}/{flush[1]:.2f}")
            if view:
                extra.append(
                    f"raw coll-read via HDF5's file view {view:.1f} MiB/s: view/raw {view / med(raw, 1):.2f}, "
                    f"mpio-test/view {med(h5, 1) / view:.2f}"
                )
            if extra:
                print(lead("") + "; ".join(extra))
    print(
        f"mpio-test / raw, {sum(tally.values())} cells: {tally['>=0.8']} >= 0.8x, {tally['<0.8']} < 0.8x, "
        f"{tally['?']} undecided (interval straddles 0.8x)"
    )


def main(argv):
    if len(argv) == 3 and argv[1] == "summary":
        summary(load(argv[2]))
        return 0
    if len(argv) == 5 and argv[1] == "decided":
        return 0 if decided(load(argv[2]), argv[3], argv[4]) else 1
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
