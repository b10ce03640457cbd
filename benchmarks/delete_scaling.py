"""Per-delete cost against the size of the tombstone set (issue 20 item 3).

The SPEC promises O(log T) deletes. This builds logs holding 1k, 50k and 400k
non-mergeable tombstone intervals (point deletes at 4*i, each with its own
sequence, never touching), then times more deletes at random positions inside
that span: point deletes at 4*r+2 and small range deletes [4*r+1, 4*r+3).
Each figure is the median over batches of the per-delete time.

With --reads it also times reads on a log of 400k records interleaved with
400k tombstone intervals: a 10k-record range read, a point read, and a full
timestamps() pass (medians), so a change to the tombstone set can be checked
for read regressions.

Run: .venv/bin/python benchmarks/delete_scaling.py [--reads]
"""

import argparse
import os
import random
import statistics
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from timelog import Timelog

SIZES = (1_000, 50_000, 400_000)
BATCH = 2_000
BATCHES = 7


def _log_with_intervals(n):
    log = Timelog(maintenance="disabled")
    for i in range(n):
        log.delete(4 * i)
    assert log.stats()["storage"]["tombstone_count"] == n, log.stats()["storage"]["tombstone_count"]
    return log


def _per_delete(log, n, kind, rng):
    meds = []
    for _ in range(BATCHES):
        rs = [rng.randrange(n) for _ in range(BATCH)]
        if kind == "point":
            t0 = time.perf_counter()
            for r in rs:
                log.delete(4 * r + 2)
            dt = time.perf_counter() - t0
        else:
            t0 = time.perf_counter()
            for r in rs:
                log.delete(4 * r + 1, 4 * r + 3)
            dt = time.perf_counter() - t0
        meds.append(dt / BATCH)
    return statistics.median(meds)


def deletes():
    rng = random.Random(20)
    print("per-delete cost (median of %d batches of %d), microseconds" % (BATCHES, BATCH))
    base = {}
    for n in SIZES:
        row = []
        for kind in ("point", "range"):
            log = _log_with_intervals(n)
            t0 = time.perf_counter()
            us = _per_delete(log, n, kind, rng) * 1e6
            row.append(us)
            log.close()
        base.setdefault("point", row[0])
        base.setdefault("range", row[1])
        print(
            "  %7d intervals: point %.3f us (x%.2f)   range %.3f us (x%.2f)"
            % (n, row[0], row[0] / base["point"], row[1], row[1] / base["range"])
        )
    # Building the sets is itself n deletes: report the build rate at 400k too.
    t0 = time.perf_counter()
    log = _log_with_intervals(SIZES[-1])
    dt = time.perf_counter() - t0
    log.close()
    print(
        "  building %d intervals: %.2f s (%.3f us/delete)" % (SIZES[-1], dt, dt / SIZES[-1] * 1e6)
    )


def _median_time(fn, reps):
    out = []
    for _ in range(reps):
        t0 = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t0)
    return statistics.median(out)


def reads():
    n = 400_000
    log = Timelog(maintenance="disabled")
    log.extend((4 * i + 3, i) for i in range(n))
    for i in range(n):
        log.delete(4 * i)
    log.flush()
    assert log.stats()["storage"]["tombstone_count"] == n
    rng = random.Random(7)
    starts = [4 * rng.randrange(n - 10_000) for _ in range(50)]
    it = iter(starts)

    def range_read():
        a = next(it)
        k = sum(1 for _ in log.range(a, a + 40_000))
        assert k == 10_000, k

    pts = [4 * rng.randrange(n) + 3 for _ in range(20_000)]

    def point_reads():
        for p in pts:
            list(log.point(p))

    print("reads with %d records and %d tombstone intervals (medians)" % (n, n))
    print("  range read of 10k records: %.3f ms" % (_median_time(range_read, 50) * 1e3))
    print("  point read: %.3f us" % (_median_time(point_reads, 7) / len(pts) * 1e6))
    print("  timestamps() of all: %.3f ms" % (_median_time(log.timestamps, 9) * 1e3))
    log.close()


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--reads", action="store_true", help="also time reads at 400k intervals")
    ap.add_argument("--only-reads", action="store_true")
    a = ap.parse_args()
    if not a.only_reads:
        deletes()
    if a.reads or a.only_reads:
        reads()
