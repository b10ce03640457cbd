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
- ``arrow ts polars``: ``pl.DataFrame(log.arrow(payload=None))`` (if Polars);
- ``ref to_numpy()``:  the reference design's ``to_numpy()`` on the same
                       records, in a child process of its venv (the one
                       ``benchmarks/compare.py`` builds under
                       build/peers/timelog-lib, since it imports as
                       ``timelog`` too); skipped, saying so, when that venv
                       is absent (``--setup-ref`` builds it).

Each result is checked (row count, first and last timestamp, a value) so a
fast wrong answer fails. Reports ms and ns per record.

Run: .venv/bin/python benchmarks/arrow_export.py [--n 10000000] [--runs 5] [--setup-ref]
"""

import argparse
import os
import subprocess
import sys

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from timing import median_ms

from timelog import Timelog

HERE = os.path.dirname(os.path.abspath(__file__))

# Run by the reference's interpreter: the same records (timestamps 0, 10, ...
# with float payloads ts * 0.5), flushed and compacted as compare.py settles
# it, then the median of `runs` to_numpy() calls after a checked warm-up.
_REF_CHILD = """
import gc, statistics, sys, time
import numpy as np
import timelog
n, runs = int(sys.argv[1]), int(sys.argv[2])
log = timelog.Timelog.for_bulk_ingest()
ts = np.arange(n, dtype=np.int64) * 10
log.bulk_append(ts, (ts * 0.5).tolist())
log.flush()
log.compact()
while log.maint_step():
    pass
a, v = log.to_numpy()
assert len(a) == n and a[-1] == ts[-1] and v[-1] == ts[-1] * 0.5
del a, v
times = []
for _ in range(runs):
    gc.collect()
    t0 = time.perf_counter()
    out = log.to_numpy()
    times.append(time.perf_counter() - t0)
    del out
print(statistics.median(times) * 1e3, (max(times) - min(times)) * 1e3)
"""


def _reference_to_numpy(n, runs):
    """(median ms, spread ms) of the reference's to_numpy(), or None."""
    sys.path.insert(0, HERE)
    import compare  # its venv location and builder

    py = os.path.join(compare.REF_VENV, "bin", "python")
    if not os.path.exists(py):
        print("ref to_numpy(): skipped, no reference venv at %s (--setup-ref)" % compare.REF_VENV)
        return None
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    out = subprocess.run(
        [py, "-c", _REF_CHILD, str(n), str(runs)],
        check=True,
        capture_output=True,
        text=True,
        env=env,
        cwd="/",
    )
    ms, spread = (float(x) for x in out.stdout.split())
    return ms, spread


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=10_000_000)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument(
        "--setup-ref",
        action="store_true",
        help="build the reference's venv first (benchmarks/compare.py's setup_ref)",
    )
    args = ap.parse_args()
    if args.setup_ref:
        sys.path.insert(0, HERE)
        import compare

        compare.setup_ref()
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
        ms, spread = median_ms(fn, args.runs, check)
        print("%-18s %10.1f %10.1f %12.2f" % (name, ms, spread, ms * 1e6 / n))
    log.close()
    ref = _reference_to_numpy(n, args.runs)
    if ref is not None:
        ms, spread = ref
        print("%-18s %10.1f %10.1f %12.2f" % ("ref to_numpy()", ms, spread, ms * 1e6 / n))


if __name__ == "__main__":
    main()
