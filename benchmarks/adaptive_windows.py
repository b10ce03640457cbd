"""Records per L1 segment with adaptive windows on and off (issue 17 item 3).

The stream's density changes 100x midway: PHASE records one tick apart,
then PHASE records 100 ticks apart, ingested in order in CHUNK-record
batches with background maintenance (the worker flushes and compacts as it
goes), then flushed and compacted. Each configuration reports records per
L1 segment (min / median / max) over the whole log and per phase:

  fixed     window_size tuned to the first phase (TARGET ticks = TARGET
            records while dense): right at first, 100x too few per window
            once the stream thins out.
  default   the default 1-hour window (3,600,000 ms ticks): 3.6M ticks hold
            every dense record in one window, so segments are cut only by the
            64 MiB output size.
  adaptive  adaptive={"target_records": TARGET}: the width follows an EWMA of
            the density measured at each flush.

Segments are counted through views(): target_page_bytes is set so that one
page holds a whole segment, so each L1 span is one segment. Windows also cut
at existing segments' bounds, so a window's records may come in more than
one segment; the figures are per segment, what a range read touches.

Run: .venv/bin/python benchmarks/adaptive_windows.py [--phase N] [--target N]
"""

import argparse
import os
import statistics
import sys
import time

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from timelog import Timelog

MEMTABLE = 256 * 1024  # ~11k records: a flush (one density sample) every ~11k records


def stream(phase):
    dense = np.arange(phase, dtype=np.int64)
    sparse = dense[-1] + 100 + np.arange(phase, dtype=np.int64) * 100
    return np.concatenate([dense, sparse]), int(sparse[0])


def run(label, kw, ts, split, chunk):
    objs = [None] * chunk
    t0 = time.perf_counter()
    with Timelog(
        busy_policy="flush", target_page_bytes=1 << 30, memtable_max_bytes=MEMTABLE, **kw
    ) as log:
        for i in range(0, len(ts), chunk):
            part = ts[i : i + chunk]
            log.bulk_append(part, objs[: len(part)])
        log.flush()
        log.compact()
        log.validate()
        sizes, first = [], []
        for span in log.views():
            with span:
                if span.level != 2:
                    raise AssertionError("after compact() every span should be L1")
                sizes.append(len(span))
                first.append(span.start_ts)
        st = log.stats()
    secs = time.perf_counter() - t0
    dense = [n for n, f in zip(sizes, first) if f < split]
    sparse = [n for n, f in zip(sizes, first) if f >= split]

    def fmt(v):
        if not v:
            return "-"
        return "%d / %d / %d (n=%d)" % (min(v), statistics.median(v), max(v), len(v))

    print(
        "%-9s all %-32s dense %-32s sparse %-32s width %s, resizes %d, %.1fs"
        % (
            label,
            fmt(sizes),
            fmt(dense),
            fmt(sparse),
            format(st["adaptive"]["window_size"], ","),
            st["adaptive"]["resizes"],
            secs,
        )
    )
    return sizes, sparse


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--phase", type=int, default=1_000_000, help="records per phase")
    ap.add_argument("--target", type=int, default=10_000, help="target records per window")
    ap.add_argument("--chunk", type=int, default=50_000, help="records per bulk_append")
    a = ap.parse_args()
    ts, split = stream(a.phase)
    print(
        "%d records: %d at 1/tick then %d at 1/100 ticks; target %d records per window"
        % (len(ts), a.phase, a.phase, a.target)
    )
    print("records per L1 segment: min / median / max")
    run("fixed", {"window_size": a.target}, ts, split, a.chunk)
    run("default", {}, ts, split, a.chunk)
    sizes, sparse = run("adaptive", {"adaptive": {"target_records": a.target}}, ts, split, a.chunk)
    med = statistics.median(sizes)
    ok = (
        a.target / 2 <= med <= a.target * 2
        and a.target / 2 <= statistics.median(sparse) <= 2 * a.target
    )
    print(
        "adaptive median within 2x of target (whole log and sparse phase): %s"
        % ("yes" if ok else "NO")
    )


if __name__ == "__main__":
    main()
