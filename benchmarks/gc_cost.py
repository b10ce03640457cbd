"""Cost of a full ``gc.collect()`` when a Timelog stores many objects.

A Timelog takes part in cyclic GC: its tp_traverse visits every object its
engine holds (so cycles through payloads are collected), which makes a full
collection walk those references the way it walks a list's. This script
measures that walk against a plain ``list`` holding the same objects, and
what ``gc.freeze()`` saves.

Run from the repository root (never part of ``make test``)::

    .venv/bin/python benchmarks/gc_cost.py              # 10M objects
    .venv/bin/python benchmarks/gc_cost.py --n 1000000  # quicker

Each case runs in a fresh interpreter (``--case``), so one's heap does not
inflate the other's collections:

- ``list``: the objects in a list (the baseline).
- ``log``: the same number of objects stored in a log only (the list that
  made them is dropped): 90% bulk-appended, flushed and compacted into L1
  segments, 10% appended after that and left unflushed (memruns and the
  memtable), so every layer is traversed.
- ``log-frozen``: the ``log`` case after ``gc.freeze()``: the collector then
  skips everything that existed at the freeze, payloads and log included.

Payloads are distinct small GC-tracked objects (instances of a ``__slots__``
class), so the collector traverses the objects themselves in every case; the
difference between cases is the container's traversal. Each figure is the
median of ``--repeat`` full collections (``gc.collect()``), in ms.
"""

import argparse
import gc
import json
import os
import statistics
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


class P:
    __slots__ = ("i",)

    def __init__(self, i):
        self.i = i


def collect_ms(repeat):
    out = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        gc.collect()
        out.append((time.perf_counter() - t0) * 1e3)
    return statistics.median(out), min(out), max(out)


def run_case(case, n, repeat):
    import numpy as np

    gc.disable()  # only the timed collections run
    objs = [P(i) for i in range(n)]
    holder = None
    if case == "list":
        holder = objs
    else:
        from timelog import Timelog

        log = Timelog(maintenance="disabled", busy_policy="silent")
        k = n * 9 // 10
        log.bulk_append(np.arange(k, dtype=np.int64), objs[:k])
        log.flush()
        log.compact()
        # The rest: one large batch (a memrun once it is at least half a
        # memtable, as at 10M) and 20,000 single appends (the memtable).
        m = max(k, n - 20_000)
        log.bulk_append(np.arange(k, m, dtype=np.int64), objs[k:m])
        for i in range(m, n):
            log.append(i, objs[i])
        assert len(log) == n
        holder = log
    del objs
    gc.collect()
    if case == "log-frozen":
        gc.freeze()
    med, lo, hi = collect_ms(repeat)
    if case != "list":
        st = holder.stats()
        layers = {k: st["storage"][k] for k in ("records_l1", "memrun_records")}
        layers["memtable"] = st["memtable"]["active_records"]
    else:
        layers = {}
    return {
        "case": case,
        "n": n,
        "median_ms": med,
        "min_ms": lo,
        "max_ms": hi,
        "tracked_objects": len(gc.get_objects()) if n <= 2_000_000 else None,
        "layers": layers,
    }


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=10_000_000)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--case", choices=["list", "log", "log-frozen"])
    ap.add_argument("--json", help="write the results here")
    args = ap.parse_args()
    if args.case:
        print(json.dumps(run_case(args.case, args.n, args.repeat)))
        return
    env = dict(os.environ, PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""))
    results = []
    for case in ("list", "log", "log-frozen"):
        r = subprocess.run(
            [
                sys.executable,
                __file__,
                "--case",
                case,
                "--n",
                str(args.n),
                "--repeat",
                str(args.repeat),
            ],
            check=True,
            capture_output=True,
            text=True,
            env=env,
        )
        results.append(json.loads(r.stdout.strip().splitlines()[-1]))
    base = results[0]["median_ms"]
    print("full gc.collect() with %d stored objects (median of %d, ms)" % (args.n, args.repeat))
    for r in results:
        print(
            "  %-10s %9.1f ms  (min %.1f, max %.1f)  %.2fx list  %s"
            % (
                r["case"],
                r["median_ms"],
                r["min_ms"],
                r["max_ms"],
                r["median_ms"] / base,
                r["layers"] or "",
            )
        )
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=1)


if __name__ == "__main__":
    main()
