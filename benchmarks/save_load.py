"""Timelog.save()/load() (Parquet, Arrow IPC) against pickle (issue 18, item 4).

Builds a log of N flushed records (default 10M, in order, float payloads),
then times, each as the median of --runs runs after one warm-up:

- ``save parquet`` / ``load parquet``: ``log.save("x.parquet")`` /
  ``Timelog.load(...)`` (snappy-compressed Parquet, fsync'd, renamed);
- ``save arrow`` / ``load arrow``: the same as an Arrow IPC file
  (uncompressed; load memory-maps it);
- ``pickle.dumps`` / ``pickle.loads``: ``pickle.dumps(log, protocol=5)``
  (in memory: no file, no fsync) and back.

Then the same for a smaller log (--n-objects, default 1M) of object
payloads (dicts), which save pickles row by row.

Every load is checked (length, first and last record, a value), so a fast
wrong answer fails. Reports the median ms, the spread (max - min), the
file size, and each figure's ratio to pickle's.

Run: .venv/bin/python benchmarks/save_load.py [--n 10000000] [--n-objects 1000000] [--runs 3]
"""

import argparse
import os
import pickle
import sys
import tempfile

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from timing import median_ms

from timelog import Timelog


def _dispose(out):
    if isinstance(out, Timelog):
        out.close()


def _case(title, log, runs, folder):
    first = next(iter(log))
    last = list(log[log.max_ts() :])[-1]
    n = len(log)

    def check(back):
        assert len(back) == n, (len(back), n)
        assert next(iter(back)) == first
        assert list(back[back.max_ts() :])[-1] == last

    rows = []
    blob = pickle.dumps(log, protocol=5)
    base_dump = median_ms(lambda: pickle.dumps(log, protocol=5), runs)
    base_load = median_ms(lambda: pickle.loads(blob), runs, check, _dispose)
    rows.append(("pickle.dumps", base_dump, len(blob), base_dump[0]))
    rows.append(("pickle.loads", base_load, None, base_load[0]))
    blob = b""  # free it before the file cases
    for fmt, suffix in (("parquet", ".parquet"), ("arrow", ".arrow")):
        path = os.path.join(folder, "bench" + suffix)
        save = median_ms(lambda: log.save(path), runs)
        size = os.path.getsize(path)
        load = median_ms(lambda: Timelog.load(path), runs, check, _dispose)
        rows.append(("save " + fmt, save, size, base_dump[0]))
        rows.append(("load " + fmt, load, None, base_load[0]))
    print("\n%s (%d records, medians of %d runs)" % (title, n, runs))
    print("| operation | median ms | spread ms | ns/record | file MB | vs pickle |")
    print("| --- | --- | --- | --- | --- | --- |")
    for name, (med, spread), size, ref in rows:
        print(
            "| %s | %.0f | %.0f | %.0f | %s | %.2fx |"
            % (
                name,
                med,
                spread,
                med * 1e6 / n,
                "" if size is None else "%.0f" % (size / 1e6),
                med / ref,
            )
        )


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=10_000_000)
    ap.add_argument("--n-objects", type=int, default=1_000_000)
    ap.add_argument("--runs", type=int, default=3)
    args = ap.parse_args()

    with tempfile.TemporaryDirectory(dir=os.environ.get("BENCH_DIR")) as folder:
        log = Timelog(maintenance="disabled")
        ts = np.arange(args.n, dtype=np.int64) * 10
        log.bulk_append(ts, (ts * 0.5).tolist())
        log.flush()
        del ts
        _case("float payloads", log, args.runs, folder)
        log.close()

        log = Timelog(maintenance="disabled")
        k = args.n_objects
        log.bulk_append(
            np.arange(k, dtype=np.int64), [{"i": i, "tag": "x%d" % (i % 7)} for i in range(k)]
        )
        log.flush()
        _case("dict payloads (pickled column)", log, args.runs, folder)
        log.close()


if __name__ == "__main__":
    main()
