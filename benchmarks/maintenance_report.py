"""Background maintenance under sustained ingest: read fan-out over time, and
the latency of single appends with and without the maintenance worker.

Run from the repository root (never part of ``make test``)::

    .venv/bin/python benchmarks/maintenance_report.py            # 10M / 1M / 1M
    .venv/bin/python benchmarks/maintenance_report.py --quick    # 1M / 200k / 200k
    .venv/bin/python benchmarks/maintenance_report.py --json out.json

1. Bulk ingest: ``--records`` records of the 5%-late stream (data.late) via
   ``bulk_append`` in chunks of ``--chunk`` under ``maintenance="background"``,
   sampling ``stats()`` as it goes: memruns, L0 and L1 segments, and the
   number of sources a typical query touches.
2. Per-record ingest: the first ``--append-records`` of the same stream, one
   ``append(ts, obj)`` each, sampled the same way.
3. Append latency: ``time.perf_counter_ns()`` around each of ``--latency-calls``
   ``append(ts, obj)`` calls (5%-late stream), p50/p99/p99.9/max, with the
   background worker versus ``maintenance="disabled"`` (whose
   ``busy_policy="flush"`` flushes inline whenever the engine reports busy).

"Sources a query touches" is measured, not modelled: the distinct immutable
sources (memruns, L0, L1 segments) with records in the query range are the
spans ``views(t1, t2)`` yields (one per source here: the workload has no
deletes to cut them), plus the memtable's parts, estimated from ``stats()``
as the in-order run plus at most 1 + log2(late records / 64) sorted late
parts (the memtable keeps its late runs binary-counter style). Three queries:
the most recent minute of data ("recent", with its immutable part
"imm:rec" and the memtable estimate "mt<=" shown apart), a minute in the
middle of what was ingested so far ("middle"), and the most recent hour
("hour": one L1 window at the default window_size, so a wide query).
"""

import argparse
import json
import math
import os
import sys
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
try:
    import timelog  # noqa: F401  (installed, or the repo root is on sys.path)
except ImportError:  # run as a script from a checkout: use the in-place build
    sys.path.insert(1, os.path.dirname(HERE))

import data  # noqa: E402  (benchmarks/data.py: fixed-seed streams)

from timelog import Timelog  # noqa: E402

MINUTE_MS = 60_000
HOUR_MS = 3_600_000
SMALL_MEMTABLE = 256 * 1024  # the for_low_latency() preset's memtable: many more seals


def memtable_parts(st):
    """Upper-bound estimate of the memtable parts a query merges (see module doc)."""
    mt = st["memtable"]
    active, ooo = mt["active_records"], mt["ooo_records"]
    parts = 1 if active - ooo > 0 else 0
    if ooo > 0:
        parts += 1 + int(math.log2(ooo / 64)) if ooo >= 64 else 1
    return parts


def sources_touched(log, t1, t2):
    """(total, per-level dict) of the sources a [t1, t2) query reads: the
    immutable ones measured through views(), the memtable parts estimated."""
    levels = {0: 0, 1: 0, 2: 0}
    it = log.views(t1, t2)
    for span in it:
        levels[span.level] += 1
        span.close()
    st = log.stats()
    mem = memtable_parts(st)
    return mem + sum(levels.values()), {
        "memtable_est": mem,
        "memruns": levels[0],
        "l0": levels[1],
        "l1": levels[2],
        "immutable": sum(levels.values()),
    }


def sample(log, t0, ts_done_min, ts_done_max, n_done):
    st = log.stats()
    recent, recent_lv = sources_touched(log, ts_done_max - MINUTE_MS, ts_done_max + 1)
    mid = (ts_done_min + ts_done_max) // 2
    middle, _ = sources_touched(log, mid, mid + MINUTE_MS)
    hour, hour_lv = sources_touched(log, ts_done_max - HOUR_MS, ts_done_max + 1)
    return {
        "t_s": round(time.perf_counter() - t0, 3),
        "records": n_done,
        "memtable_records": st["memtable"]["active_records"],
        "memruns": st["storage"]["memruns"],
        "l0": st["storage"]["segments_l0"],
        "l1": st["storage"]["segments_l1"],
        "sources_recent": recent,
        "sources_recent_by_level": recent_lv,
        "immutable_recent": recent_lv["immutable"],
        "memtable_parts_est": recent_lv["memtable_est"],
        "sources_middle": middle,
        "sources_hour": hour,
        "sources_hour_by_level": hour_lv,
        "busy_events": log.busy_events,
        "flushes": st["operational"]["flushes_total"],
        "compactions": st["operational"]["compactions_total"],
    }


def ingest_bulk(ts, chunk, samples, busy_policy="flush", **knobs):
    """bulk_append in chunks under background maintenance, sampling stats."""
    n = ts.size
    objs = list(range(chunk))
    out = []
    log = Timelog(maintenance="background", busy_policy=busy_policy, **knobs)
    every = max(1, (n // chunk) // samples)
    t0 = time.perf_counter()
    lo = hi = int(ts[0])
    append_s = 0.0
    for i, start in enumerate(range(0, n, chunk)):
        part = ts[start : start + chunk]
        a = time.perf_counter()
        log.bulk_append(part, objs[: part.size])
        append_s += time.perf_counter() - a
        lo, hi = min(lo, int(part.min())), max(hi, int(part.max()))
        if (i + 1) % every == 0 or start + chunk >= n:
            out.append(sample(log, t0, lo, hi, start + part.size))
    total_s = time.perf_counter() - t0
    assert len(log) == n, (len(log), n)
    result = {
        "records": n,
        "chunk": chunk,
        "busy_policy": busy_policy,
        "append_seconds": round(append_s, 3),
        "wall_seconds": round(total_s, 3),
        "records_per_s_appending": int(n / append_s),
        "samples": out,
    }
    # After the writer stops, the worker settles the backlog.
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        st = log.stats()["storage"]
        if (
            st["memruns"] == 0
            and st["segments_l0"] < log.stats()["config"]["max_delta_segments"] + 8
        ):
            break
        time.sleep(0.01)
    result["settled"] = sample(log, t0, lo, hi, n)
    log.close()
    return result


def ingest_append(ts, samples, busy_policy="flush", **knobs):
    """One append(ts, obj) per record under background maintenance, sampling stats."""
    n = ts.size
    log = Timelog(maintenance="background", busy_policy=busy_policy, **knobs)
    every = max(1, n // samples)
    tl = ts.tolist()
    app = log.append
    out = []
    t0 = time.perf_counter()
    lo = hi = tl[0]
    append_s = 0.0
    for start in range(0, n, every):
        part = tl[start : start + every]
        a = time.perf_counter()
        for t in part:
            app(t, t)
        append_s += time.perf_counter() - a
        lo, hi = min(lo, min(part)), max(hi, max(part))
        out.append(sample(log, t0, lo, hi, start + len(part)))
    assert len(log) == n
    log.close()
    return {
        "records": n,
        "busy_policy": busy_policy,
        "append_seconds": round(append_s, 3),
        "records_per_s": int(n / append_s),
        "samples": out,
    }


def append_latency(ts, maintenance, busy_policy, **knobs):
    """perf_counter_ns around every append(ts, obj) call."""
    n = ts.size
    log = Timelog(maintenance=maintenance, busy_policy=busy_policy, **knobs)
    tl = ts.tolist()
    lat = np.empty(n, dtype=np.int64)
    app = log.append
    pc = time.perf_counter_ns
    obj = object()
    t0 = time.perf_counter()
    for i in range(n):
        t = tl[i]
        a = pc()
        app(t, obj)
        lat[i] = pc() - a
    wall = time.perf_counter() - t0
    st = log.stats()
    assert len(log) == n
    fan = sources_touched(log, tl[-1] - MINUTE_MS, tl[-1] + 1)[0]
    log.close()
    q = np.percentile(lat, [50, 90, 99, 99.9])
    return {
        "maintenance": maintenance,
        "busy_policy": busy_policy,
        "calls": n,
        "memtable_max_bytes": knobs.get("memtable_max_bytes", 0),
        "p50_ns": int(q[0]),
        "p90_ns": int(q[1]),
        "p99_ns": int(q[2]),
        "p99_9_ns": int(q[3]),
        "max_ns": int(lat.max()),
        "mean_ns": int(lat.mean()),
        "over_1ms": int((lat > 1_000_000).sum()),
        "wall_seconds": round(wall, 3),
        "busy_events": st["operational"]["busy_events"],
        "final_memruns": st["storage"]["memruns"],
        "final_l0": st["storage"]["segments_l0"],
        "final_l1": st["storage"]["segments_l1"],
        "final_sources_recent": fan,
    }


def fmt_samples(title, res):
    lines = [
        title,
        "  %8s %11s %8s %5s %5s %5s %8s %8s %8s %8s %9s %6s"
        % (
            "t (s)",
            "records",
            "memtbl",
            "mrun",
            "L0",
            "L1",
            "imm:rec",
            "mt<=",
            "src:rec",
            "src:mid",
            "src:hour",
            "busy",
        ),
    ]
    rows = res["samples"] + ([res["settled"]] if "settled" in res else [])
    for i, s in enumerate(rows):
        tag = " (settled)" if "settled" in res and i == len(rows) - 1 else ""
        lines.append(
            "  %8.2f %11d %8d %5d %5d %5d %8d %8d %8d %8d %9d %6d%s"
            % (
                s["t_s"],
                s["records"],
                s["memtable_records"],
                s["memruns"],
                s["l0"],
                s["l1"],
                s["immutable_recent"],
                s["memtable_parts_est"],
                s["sources_recent"],
                s["sources_middle"],
                s["sources_hour"],
                s["busy_events"],
                tag,
            )
        )
    body = res["samples"]
    lines.append(
        "  max over the run: memruns %d, L0 %d, L1 %d, immutable sources (recent) %d, "
        "sources (recent) %d, sources (middle) %d, sources (last hour) %d"
        % (
            max(s["memruns"] for s in body),
            max(s["l0"] for s in body),
            max(s["l1"] for s in body),
            max(s["immutable_recent"] for s in body),
            max(s["sources_recent"] for s in body),
            max(s["sources_middle"] for s in body),
            max(s["sources_hour"] for s in body),
        )
    )
    return "\n".join(lines)


def fmt_latency(rows):
    lines = [
        "append latency (perf_counter_ns around each append(ts, obj); 5% late stream)",
        "  %-42s %8s %8s %8s %9s %10s %6s %6s %7s %7s"
        % ("config", "p50", "p90", "p99", "p99.9", "max", ">1ms", "busy", "L0 end", "L1 end"),
    ]
    for r in rows:
        mt = r["memtable_max_bytes"]
        lines.append(
            "  %-42s %6dns %6dns %6dns %7dns %8dns %6d %6d %7d %7d"
            % (
                "%s / busy=%s / memtable %s"
                % (r["maintenance"], r["busy_policy"], "%d KiB" % (mt // 1024) if mt else "4 MiB"),
                r["p50_ns"],
                r["p90_ns"],
                r["p99_ns"],
                r["p99_9_ns"],
                r["max_ns"],
                r["over_1ms"],
                r["busy_events"],
                r["final_l0"],
                r["final_l1"],
            )
        )
    return "\n".join(lines)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--records", type=int, default=10_000_000)
    ap.add_argument("--chunk", type=int, default=10_000)
    ap.add_argument("--append-records", type=int, default=1_000_000)
    ap.add_argument("--latency-calls", type=int, default=1_000_000)
    ap.add_argument("--samples", type=int, default=20)
    ap.add_argument(
        "--quick", action="store_true", help="1M bulk, 200k appends, 200k latency calls"
    )
    ap.add_argument("--json", help="also write every number to this file")
    args = ap.parse_args(argv)
    if args.quick:
        args.records, args.append_records, args.latency_calls = 1_000_000, 200_000, 200_000
    report = {"args": vars(args)}
    print(
        "timelog maintenance report (engine defaults unless stated; 5%% late stream, "
        "max lateness 60 s, mean gap %d ms)\n" % data.MEAN_GAP
    )

    ts = data.late(args.records)
    report["bulk_ingest"] = []
    for knobs in ({}, {"memtable_max_bytes": SMALL_MEMTABLE}):
        res = ingest_bulk(ts, args.chunk, args.samples, **knobs)
        res["knobs"] = knobs
        report["bulk_ingest"].append(res)
        print(
            fmt_samples(
                "bulk_append ingest: %d records in chunks of %d, background, busy=flush, "
                "%s: %.2f s appending (%d records/s)"
                % (
                    res["records"],
                    res["chunk"],
                    knobs or "defaults",
                    res["append_seconds"],
                    res["records_per_s_appending"],
                ),
                res,
            )
        )
        print()

    ts_a = ts[: args.append_records]
    res = ingest_append(ts_a, args.samples)
    report["append_ingest"] = res
    print(
        fmt_samples(
            "per-record append ingest: %d records, background, busy=flush: %.2f s "
            "(%d records/s)" % (res["records"], res["append_seconds"], res["records_per_s"]),
            res,
        )
    )
    print()

    ts_l = ts[: args.latency_calls]
    small = {"memtable_max_bytes": SMALL_MEMTABLE}
    rows = [
        append_latency(ts_l, "background", "flush"),
        append_latency(ts_l, "background", "silent"),
        append_latency(ts_l, "disabled", "flush"),
        append_latency(ts_l, "background", "flush", **small),
        append_latency(ts_l, "disabled", "flush", **small),
    ]
    report["latency"] = rows
    print(fmt_latency(rows))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(report, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
