#!/usr/bin/env python3
"""Writes the seed corpus of tests/fuzz/fuzz_ops.c into tests/fuzz/corpus/.

Each seed is a small program in fuzz_ops.c's encoding (a config prefix, then
opcodes with their arguments) aimed at one corner: int64 extremes, window
edges, tiny memtables and pages, batches that take the direct-memrun path,
deletes that make seals and compactions drop records or whole segments,
snapshots and iterators held across maintenance, injected allocation
failures, the background worker, closing with snapshots pinned. libFuzzer
mutates from there; `make fuzz` merges what it finds back into the corpus.

Usage: python3 tests/fuzz/make_corpus.py [outdir]   (stdlib only)
Keep the opcodes and the argument layout in step with fuzz_ops.c.
"""

import hashlib
import os
import struct
import sys

# Opcodes (fuzz_ops.c enum, in order).
(
    APPEND,
    APPEND_RUN,
    BATCH,
    DEL_RANGE,
    DEL_SINCE,
    DEL_BEFORE,
    DEL_TS,
    DEL_ALL,
    FLUSH,
    COMPACT,
    MAINT_STEP,
    DRAIN,
    SNAP_ACQUIRE,
    SNAP_RELEASE,
    READ,
    COUNT,
    NEIGHBOURS,
    SPANS,
    ITER_OPEN,
    ITER_STEP,
    CHECK,
    INJECT,
    WORKER,
) = range(23)

# gen_ts extremes table indices (fuzz_ops.c gen_ts, bytes 160..175).
EXT = {
    "MIN": 0,
    "MIN+1": 1,
    "MIN+2": 2,
    "-2": 3,
    "-1": 4,
    "0": 5,
    "1": 6,
    "2": 7,
    "MAX-2": 8,
    "MAX-1": 9,
    "MAX": 10,
    "O": 11,
    "O-1": 12,
    "O+W": 13,
    "O+W-1": 14,
    "O-W": 15,
}

INT64_MIN, INT64_MAX = -(1 << 63), (1 << 63) - 1


def ts(v):
    """Encodes a timestamp argument."""
    if isinstance(v, str):
        return bytes([160 + EXT[v]])
    if -4 <= v <= 27:
        return bytes([v + 4])
    return bytes([224]) + struct.pack(">q", v)


def near(delta):
    """last_ts + delta, delta in [-24, 23]."""
    assert -24 <= delta <= 23
    return bytes([64 + delta + 24])


def existing(index, delta=0):
    """A visible record's timestamp (model index % n) plus delta in -1..1."""
    return bytes([112 + delta + 1, index & 255])


def config(
    maint="disabled",
    worker_toggles=False,
    close_pinned=False,
    open_sweep=False,
    unit=1,
    memtable=0,
    page=0,
    sealed_max_runs=0,
    max_delta=0,
    ooo=0,
    window=6,
    origin=0,
    debt=0,
    target=0,
    limits=0,
    wait=0,
):
    """The config prefix. memtable/page/window/origin are the selector
    bytes fuzz_ops.c decodes (memtable 0 -> 384 bytes, 255 -> default;
    page 0 -> 16 bytes, 255 -> default; window 6 -> 100; origin 0 -> 0)."""
    b0 = (
        (3 if maint == "background" else 0)
        | (4 if worker_toggles else 0)
        | (8 if close_pinned else 0)
        | (unit << 4)
        | (64 if open_sweep else 0)
    )
    out = bytes([b0, memtable, page, (max_delta << 3) | sealed_max_runs, ooo])
    out += window if isinstance(window, bytes) else bytes([window])
    out += origin if isinstance(origin, bytes) else bytes([origin])
    out += bytes([debt, target, limits, wait])
    return out


def op(code, *args):
    out = bytes([code])
    for a in args:
        out += a if isinstance(a, bytes) else bytes([a])
    return out


def batch(n, sorted_=False, reverse=False, seed=None, mode=0, base=0, stamps=None):
    """append_batch: explicit stamps, or n generated from seed (mode 0:
    base+[0,8), 1: base+-500, 2: any int64, 3: base+i)."""
    flags = (8 if sorted_ or reverse else 0) | (16 if reverse else 0)
    if stamps is not None:
        return op(BATCH, len(stamps), flags, *[ts(v) for v in stamps])
    flags |= 1 | (mode << 1)
    return op(BATCH, n, flags, struct.pack(">H", seed or 1), ts(base))


def read(kind, t1=0, t2=0, held=None, batch_cap=None, handles=True):
    """kind: 0 range, 1 since, 2 until, 3 all, 4 point. held: snapshot slot."""
    how = (kind << 3) | ((4 | held) if held is not None else 0)
    if batch_cap is not None:
        how |= 128 | (64 if handles else 0) | batch_cap
    return op(READ, how, ts(t1), ts(t2))


def count(t1, t2, edges=(), held=None, sort_edges=True):
    how = ((4 | held) if held is not None else 0) | (8 if sort_edges else 0)
    return op(COUNT, how, ts(t1), ts(t2), len(edges), *[ts(e) for e in edges])


def neighbours(t, held=None):
    return op(NEIGHBOURS, (4 | held) if held is not None else 0, ts(t))


def spans(kind, t1=0, t2=0, flush_first=True, held=None):
    """kind: 0 range, 1 since, 2 all."""
    how = (kind << 5) | (16 if flush_first else 0) | ((4 | held) if held is not None else 0)
    return op(SPANS, how, ts(t1), ts(t2))


def iter_open(slot, kind, t1=0, t2=0, held=None):
    how = (kind << 3) | ((4 | held) if held is not None else 0)
    return op(ITER_OPEN, slot, how, ts(t1), ts(t2))


def run(n, start):
    return op(APPEND_RUN, n, ts(start))


CHECKS = op(CHECK) + read(3) + count(0, 20, edges=(0, 5, 10, "MAX")) + neighbours(10)


def seeds():
    s = {}
    small = config(memtable=0, page=0, max_delta=2)

    s["empty_default"] = config(memtable=255, page=255)
    s["open_sweep"] = config(open_sweep=True) + run(5, 0) + CHECKS
    s["open_sweep_background"] = config(maint="background", open_sweep=True) + run(5, 0) + CHECKS
    s["inject_every"] = (
        small
        + run(47, 0)
        + op(DEL_RANGE, ts(3), ts(30))
        + op(INJECT, 200)
        + op(COMPACT)
        + op(INJECT, 201)
        + batch(64, seed=4, mode=1)
        + op(INJECT, 202)
        + op(FLUSH)
        + CHECKS
    )
    s["appends_small_domain"] = (
        small + b"".join(op(APPEND, ts(v)) for v in [5, 3, 3, 9, 0, -4, 27, 3, 12]) + CHECKS
    )
    s["in_order_run_seals"] = small + run(47, 0) + run(47, 20) + CHECKS + op(FLUSH) + CHECKS
    s["out_of_order_budget"] = (
        config(memtable=10, page=1, ooo=2)
        + b"".join(op(APPEND, ts(v)) for v in [20, 19, 18, 17, 16, 15, 14, 13, 12, 11, 10])
        + CHECKS
    )
    s["int64_extremes"] = (
        small
        + b"".join(op(APPEND, ts(v)) for v in ["MIN", "MAX", "MIN+1", "MAX-1", "0", "MAX", "MIN"])
        + read(1, "MAX")
        + read(2, 0, "MIN+1")
        + read(4, "MAX")
        + read(0, "MIN", "MAX")
        + neighbours("MAX")
        + neighbours("MIN")
        + count("MIN", "MAX", edges=("MIN", 0, "MAX"))
        + op(COMPACT)
        + CHECKS
        + op(DEL_TS, ts("MAX"))
        + op(DEL_BEFORE, ts("MIN+1"))
        + CHECKS
        + op(DEL_SINCE, ts("MAX-1"))
        + CHECKS
        + op(COMPACT)
        + CHECKS
    )
    s["delete_since_max_and_before_min"] = (
        small
        + run(10, "MAX-2")
        + run(10, "MIN")
        + op(DEL_SINCE, ts("MAX"))
        + op(DEL_BEFORE, ts("MIN"))
        + CHECKS
        + op(FLUSH)
        + op(DEL_RANGE, ts("MIN"), ts("MAX"))
        + CHECKS
        + op(COMPACT)
        + CHECKS
    )
    s["batch_sorted_direct"] = (
        small
        + batch(64, sorted_=True, seed=7, mode=1, base=10)
        + batch(64, seed=8, mode=0, base=5)
        + CHECKS
        + op(MAINT_STEP) * 4
        + CHECKS
    )
    s["batch_reverse_and_dups"] = (
        small
        + batch(40, reverse=True, seed=3, mode=3, base=0)
        + batch(33, stamps=[3] * 33)
        + op(FLUSH)
        + CHECKS
        + op(COMPACT)
        + CHECKS
    )
    s["batch_full_range"] = (
        config(memtable=20, page=3, window=1)
        + batch(64, seed=11, mode=2)
        + batch(64, seed=12, mode=2)
        + op(COMPACT)
        + CHECKS
        + op(DEL_RANGE, ts("MIN"), ts(0))
        + op(COMPACT)
        + CHECKS
    )
    s["batch_empty_and_small"] = (
        small + batch(0, stamps=[]) + batch(1, stamps=[5]) + batch(3, stamps=[5, 1, 3]) + CHECKS
    )
    s["seal_drops_deleted"] = (
        small + run(40, 0) + op(DEL_RANGE, ts(5), ts(20)) + op(FLUSH) + op(DRAIN, 0) + CHECKS
    )
    s["compaction_drops_whole_segments"] = (
        config(memtable=0, page=0, max_delta=1, window=6)
        + run(47, 0)
        + op(FLUSH)
        + run(47, 200)
        + op(FLUSH)
        + op(COMPACT)
        + op(DEL_RANGE, ts(0), ts(100))
        + op(COMPACT)
        + op(DRAIN, 0)
        + CHECKS
    )
    s["snapshot_across_compaction"] = (
        small
        + run(30, 0)
        + op(SNAP_ACQUIRE, 0)
        + op(DEL_ALL)
        + run(5, 3)
        + op(COMPACT)
        + op(DRAIN, 0)
        + read(3, held=0)
        + count(0, 20, held=0)
        + neighbours(5, held=0)
        + op(SNAP_RELEASE, 0)
        + op(DRAIN, 0)
        + CHECKS
    )
    s["snapshots_four_slots"] = (
        small
        + b"".join(
            run(10, 2 * i) + op(SNAP_ACQUIRE, i) + op(DEL_TS, ts(2 * i)) + op(FLUSH)
            for i in range(4)
        )
        + op(COMPACT)
        + b"".join(read(3, held=i) for i in range(4))
        + op(SNAP_RELEASE, 2)
        + op(DRAIN, 1)
        + CHECKS
    )
    s["iterators_held"] = (
        small
        + run(40, 0)
        + iter_open(0, 3)
        + iter_open(1, 0, 5, 25)
        + op(ITER_STEP, 0, 10)
        + op(DEL_RANGE, ts(0), ts(30))
        + op(COMPACT)
        + op(ITER_STEP, 0, 32)
        + op(ITER_STEP, 1, 32)
        + op(ITER_STEP, 0, 32)
        + CHECKS
    )
    s["iterators_batches"] = (
        small
        + run(47, 0)
        + op(FLUSH)
        + run(20, 10)
        + read(0, 0, 27, batch_cap=1)
        + read(3, batch_cap=3, handles=False)
        + read(1, 10, batch_cap=2)
        + read(4, 12, batch_cap=0)
    )
    s["spans_after_flush"] = (
        small
        + run(47, 0)
        + op(DEL_RANGE, ts(10), ts(20))
        + spans(0, 0, 27)
        + spans(1, 5)
        + spans(2)
        + run(5, 0)
        + spans(2, flush_first=False)
    )
    s["spans_with_tombstones_over_segments"] = (
        small
        + run(47, 0)
        + op(FLUSH)
        + op(DEL_RANGE, ts(3), ts(9))
        + op(DEL_TS, ts(15))
        + spans(2, flush_first=False)
        + spans(0, 0, 27, flush_first=True)
        + op(COMPACT)
        + spans(2)
    )
    s["count_buckets_unsorted"] = (
        small
        + run(30, 0)
        + count(0, 27, edges=(20, 5, 10), sort_edges=False)
        + count(0, 27, edges=(0, 0, 0, 27, 27))
        + count(5, 3, edges=(1,))
    )
    s["delete_debt_maint"] = (
        config(memtable=0, page=0, max_delta=3, debt=140)
        + run(47, 0)
        + op(COMPACT)
        + op(DEL_RANGE, ts(0), ts(20))
        + op(MAINT_STEP) * 3
        + op(DRAIN, 0)
        + CHECKS
    )
    s["maint_step_policy"] = (
        config(memtable=0, page=0, max_delta=1, limits=0b0101)
        + run(40, 0)
        + op(MAINT_STEP) * 2
        + run(40, 5)
        + op(MAINT_STEP) * 4
        + CHECKS
    )
    s["sealed_max_runs_busy"] = (
        config(memtable=0, sealed_max_runs=1) + run(47, 0) * 4 + CHECKS + op(FLUSH) + CHECKS
    )
    s["drain_limits"] = (
        config(memtable=0, limits=0b110000)
        + run(40, 0)
        + op(DEL_ALL)
        + op(FLUSH)
        + op(DRAIN, 1)
        + op(DRAIN, 2)
        + op(DRAIN, 0)
        + CHECKS
    )
    s["window_size_one_origin_min"] = (
        config(window=1, origin=5)
        + run(20, "MIN")
        + run(20, "MAX-2")
        + run(10, -2)
        + op(COMPACT)
        + CHECKS
    )
    s["window_int64_max"] = (
        config(window=11, origin=7)
        + run(10, "MIN")
        + run(10, "MAX-2")
        + run(10, "O-1")
        + op(COMPACT)
        + CHECKS
        + op(DEL_RANGE, ts("O-1"), ts("O+W"))
        + op(COMPACT)
        + CHECKS
    )
    s["window_edges"] = (
        config(window=3, origin=4)
        + b"".join(op(APPEND, ts(e)) for e in ["O", "O-1", "O+W", "O+W-1", "O-W", "O", "O+W"])
        + op(COMPACT)
        + read(0, "O-1", "O+W")
        + op(DEL_RANGE, ts("O"), ts("O+W"))
        + op(COMPACT)
        + CHECKS
    )
    s["window_random_origin"] = (
        config(
            window=bytes([13]) + struct.pack(">Q", 12345678901),
            origin=bytes([9]) + struct.pack(">Q", 2**63 + 17),
        )
        + batch(64, seed=99, mode=2)
        + op(COMPACT)
        + CHECKS
    )
    s["compaction_target_small"] = (
        config(memtable=0, page=0, target=65, window=8)
        + run(47, 0)
        + run(47, 1000)
        + op(COMPACT)
        + CHECKS
        + op(DEL_RANGE, ts(0), ts(30))
        + op(COMPACT)
        + CHECKS
    )
    s["inject_append"] = (
        small
        + run(10, 0)
        + op(INJECT, 0)
        + op(APPEND, ts(3))
        + op(INJECT, 1)
        + op(APPEND, ts(1))
        + CHECKS
    )
    s["inject_batch"] = (
        small
        + run(10, 0)
        + op(INJECT, 0)
        + batch(64, seed=5, mode=1, base=3)
        + op(INJECT, 2)
        + batch(20, seed=6)
        + op(INJECT, 0)
        + batch(5, stamps=[4, 2, 9, 1, 0])
        + CHECKS
    )
    # A seal that drops more than 64 records grows its dropped-handle list
    # twice; failing each allocation in turn (k = 1..6) reaches the second
    # growth, whose failure must not leak the first array.
    s["inject_seal_with_many_dropped"] = (
        config(memtable=255)
        + run(47, 0) * 3
        + op(DEL_ALL)
        + b"".join(op(INJECT, k - 1) + op(FLUSH) for k in range(1, 7))
        + CHECKS
        + op(FLUSH)
        + CHECKS
    )
    s["inject_compact"] = (
        small
        + run(47, 0)
        + op(FLUSH)
        + op(DEL_RANGE, ts(5), ts(15))
        + op(INJECT, 4)
        + op(COMPACT)
        + op(INJECT, 9)
        + op(COMPACT)
        + CHECKS
    )
    s["inject_delete"] = (
        small
        + run(20, 0)
        + op(INJECT, 0)
        + op(DEL_RANGE, ts(2), ts(5))
        + op(DEL_TS, ts(7))
        + op(INJECT, 0)
        + op(DEL_ALL)
        + CHECKS
    )
    s["inject_snapshot_and_reads"] = (
        small
        + run(20, 0)
        + op(INJECT, 0)
        + op(SNAP_ACQUIRE, 0)
        + op(INJECT, 1)
        + read(3)
        + op(INJECT, 0)
        + iter_open(0, 3)
        + op(INJECT, 1)
        + spans(2, flush_first=False)
        + CHECKS
    )
    s["inject_maint_step"] = (
        config(memtable=0, max_delta=1)
        + run(47, 0)
        + op(INJECT, 2)
        + op(MAINT_STEP)
        + op(INJECT, 5)
        + op(MAINT_STEP)
        + op(MAINT_STEP)
        + CHECKS
    )
    s["background_worker"] = (
        config(maint="background", memtable=0, page=0, max_delta=2)
        + run(47, 0) * 3
        + CHECKS
        + op(DEL_RANGE, ts(3), ts(9))
        + run(47, 10)
        + CHECKS
        + op(COMPACT)
        + CHECKS
    )
    s["background_debt_and_snapshots"] = (
        config(maint="background", memtable=0, max_delta=1, debt=200, wait=3)
        + run(40, 0)
        + op(SNAP_ACQUIRE, 1)
        + op(DEL_RANGE, ts(0), ts(25))
        + run(40, 5)
        + read(3, held=1)
        + op(SNAP_RELEASE, 1)
        + op(DRAIN, 0)
        + CHECKS
    )
    s["worker_start_stop"] = (
        config(worker_toggles=True, memtable=0)
        + op(WORKER)
        + run(47, 0)
        + CHECKS
        + op(WORKER)
        + run(47, 3)
        + op(WORKER)
        + op(WORKER)
        + CHECKS
    )
    s["close_with_snapshot_pinned"] = (
        config(close_pinned=True, memtable=0)
        + run(30, 0)
        + op(SNAP_ACQUIRE, 0)
        + op(DEL_RANGE, ts(0), ts(10))
        + op(COMPACT)
        + op(SNAP_ACQUIRE, 2)
        + run(5, 3)
    )
    s["close_pinned_background"] = (
        config(maint="background", close_pinned=True, memtable=0)
        + run(40, 0)
        + op(SNAP_ACQUIRE, 3)
        + op(DEL_ALL)
        + run(4, 1)
    )
    s["near_duplicates"] = (
        small
        + op(APPEND, ts(10))
        + b"".join(op(APPEND, near(d)) for d in [0, 0, -1, 1, -3, 0, 2, 0, -24, 23])
        + op(DEL_TS, existing(3))
        + read(4, 10)
        + op(FLUSH)
        + op(DEL_RANGE, existing(0), existing(5, 1))
        + CHECKS
    )
    s["existing_bounds"] = (
        small
        + run(40, 0)
        + op(FLUSH)
        + read(0, 0, 0)
        + op(READ, 0, existing(4, -1), existing(9, 1))
        + neighbours(0)
        + op(NEIGHBOURS, 0, existing(20))
        + op(DEL_SINCE, existing(30))
        + CHECKS
    )
    s["time_unit_ns_default_window"] = (
        config(unit=3, memtable=0, window=0) + run(20, "MAX-2") + run(20, 0) + op(COMPACT) + CHECKS
    )
    s["long_mixed"] = (
        small
        + b"".join(
            run(40, 3 * i)
            + op(DEL_RANGE, ts(i), ts(i + 6))
            + (op(FLUSH) if i % 2 else op(MAINT_STEP))
            + (op(SNAP_ACQUIRE, i % 4) if i % 3 == 0 else op(DRAIN, 0))
            for i in range(8)
        )
        + op(COMPACT)
        + CHECKS
    )
    return s


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "corpus")
    os.makedirs(out, exist_ok=True)
    for name, data in sorted(seeds().items()):
        # Named by content (libFuzzer's convention) with a readable prefix.
        digest = hashlib.sha1(data).hexdigest()[:12]
        with open(os.path.join(out, f"seed-{name}-{digest}"), "wb") as fh:
            fh.write(data)
    print(f"wrote {len(seeds())} seeds to {out}")


if __name__ == "__main__":
    main()
