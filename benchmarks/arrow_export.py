"""Arrow export of a flushed log against arrays() and to_numpy() (issue 18).

Builds a log of N flushed records (default 10M, in order, float payloads),
then times, each as the median of 5 runs after one warm-up:

- ``arrow ts only``:   ``log.to_arrow(payload=None)``: the stream is zero-copy
                       over the pages, so this is independent of N but for
                       the chunk count (one per page span);
- ``arrow + floats``:  ``log.to_arrow()``: the payloads go through pyarrow's
                       inference into one float64 column;
- ``arrays()``:        ``(int64 ndarray, list)`` copied out of the pages;
- ``to_numpy()``:      ``(int64 ndarray, float64 ndarray)``;
- ``arrow ts polars``: ``pl.DataFrame(log.arrow(payload=None))`` (if Polars).

Each result is checked (row count, first and last timestamp, a value) so a
fast wrong answer fails. Reports ms and ns per record.

Run: .venv/bin/python benchmarks/arrow_export.py [--n 10000000] [--runs 5]
"""

import argparse
import gc
import os
import statistics
import sys
import time

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from timelog import Timelog


def _median_ms(fn, runs, check):
    out = fn()  # warm-up, and the correctness check
    check(out)
    del out
    times = []
    for _ in range(runs):
        gc.collect()
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
        del out
    return statistics.median(times) * 1e3, (max(times) - min(times)) * 1e3


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=10_000_000)
    ap.add_argument("--runs", type=int, default=5)
    args = ap.parse_args()
    n = args.n
    import pyarrow as pa

    log = Timelog(maintenance="disabled")
    ts = np.arange(n, dtype=np.int64) * 10
    log.bulk_append(ts, (ts * 0.5).tolist())
    log.flush()
    layers = log.stats()["storage"]
    print(
        "N=%d flushed records: L0=%d L1=%d segments, %d pages"
        % (n, layers["segments_l0"], layers["segments_l1"], layers["pages_total"])
    )
    last = int(ts[-1])
    del ts

    def check_arrow(table, with_values):
        assert table.num_rows == n
        col = table.column("ts")
        assert col[0].value == 0 and col[n - 1].value == last
        if with_values:
            assert table.column("value")[n - 1].as_py() == last * 0.5

    def check_arrays(out):
        a, objs = out
        assert len(a) == n == len(objs) and a[-1] == last and objs[-1] == last * 0.5

    cases = [
        ("arrow ts only", lambda: log.to_arrow(payload=None), lambda t: check_arrow(t, False)),
        ("arrow + floats", lambda: log.to_arrow(), lambda t: check_arrow(t, True)),
        ("arrays()", lambda: log.arrays(), check_arrays),
        ("to_numpy()", lambda: log.to_numpy(), check_arrays),
    ]
    try:
        import polars as pl
    except ImportError:
        pl = None
    if pl is not None:
        cases.append(
            (
                "arrow ts polars",
                lambda: pl.DataFrame(log.arrow(payload=None)),
                lambda df: (df.height == n) or (_ for _ in ()).throw(AssertionError),
            )
        )
    chunks = log.to_arrow(payload=None).column("ts").num_chunks
    print("arrow chunks: %d (pyarrow %s)" % (chunks, pa.__version__))
    print("%-18s %10s %10s %12s" % ("case", "median ms", "spread ms", "ns/record"))
    for name, fn, check in cases:
        ms, spread = _median_ms(fn, args.runs, check)
        print("%-18s %10.1f %10.1f %12.2f" % (name, ms, spread, ms * 1e6 / n))
    log.close()


if __name__ == "__main__":
    main()
