"""Columnar streaming: TimelogIter.next_arrays(n) against next_batch(n) (issue 18 item 5).

Streams a whole range of 1M records (in-order stream from benchmarks/data.py,
int payloads) in chunks of n = 1000 and n = 65536, from two layouts: all in
L1 segments after compact(), and all in the memtable (never flushed). Each
figure is the median of 5 full passes, in ns per record; the ratio is
next_batch / next_arrays (the issue asks for >= 3x). Every pass checks its
record count and the sum of its timestamps, so a fast wrong answer fails.

Measured on the shared 2-core machine (load average ~5, so spreads are wide),
two runs: next_arrays was 5.9x-9.2x faster per record at n=1000 (7-21 ns
against 66-135 ns) and 15.6x-23x at n=65536 (6-13 ns against 91-300 ns).

Run: .venv/bin/python benchmarks/next_arrays.py
"""

import os
import statistics
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import numpy as np
from data import in_order, objects

from timelog import Timelog

N = 1_000_000
REPEATS = 5
CHUNKS = (1_000, 65_536)


def _pass_batch(log, n):
    it = log.all()
    count = 0
    total = 0
    while True:
        batch = it.next_batch(n)
        if not batch:
            break
        count += len(batch)
        total += batch[-1][0]  # touch the result, cheaply
    return count, total


def _pass_arrays(log, n):
    it = log.all()
    count = 0
    total = 0
    while True:
        ts, objs = it.next_arrays(n)
        if not len(ts):
            break
        count += len(ts)
        total += int(ts[-1])
    return count, total


def _median_ns(fn, log, n, expect):
    times = []
    for _ in range(REPEATS):
        t0 = time.perf_counter_ns()
        got = fn(log, n)
        times.append(time.perf_counter_ns() - t0)
        assert got == expect, (got, expect)
    return statistics.median(times) / N, (max(times) - min(times)) / N


def _expect(log, n):
    # The reference answer, from arrays() (a different code path).
    ts = log.timestamps()
    assert len(ts) == N
    last = ts[np.minimum(np.arange(n - 1, N + n - 1, n), N - 1)]
    return N, int(last.sum())


def main():
    ts = np.asarray(in_order(N), dtype=np.int64)
    objs = objects(N)
    layouts = []
    flushed = Timelog(maintenance="disabled")
    flushed.bulk_append(ts, objs)
    flushed.compact()
    layouts.append(("L1 (compacted)", flushed))
    mem = Timelog(maintenance="disabled", memtable_max_bytes=1 << 30)
    mem.bulk_append(ts, objs)
    layouts.append(("memtable", mem))
    print("%d records, median of %d passes, ns/record (spread max-min)" % (N, REPEATS))
    print("%-16s %7s %18s %18s %7s" % ("layout", "n", "next_batch", "next_arrays", "ratio"))
    for name, log in layouts:
        for n in CHUNKS:
            expect = _expect(log, n)
            b, bs = _median_ns(_pass_batch, log, n, expect)
            a, as_ = _median_ns(_pass_arrays, log, n, expect)
            print(
                "%-16s %7d %10.1f (%5.1f) %10.1f (%5.1f) %6.1fx" % (name, n, b, bs, a, as_, b / a)
            )
    for _, log in layouts:
        log.close()


if __name__ == "__main__":
    main()
