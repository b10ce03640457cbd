"""Workloads for the benchmarks: fixed seeds, so every run measures the same data.

Streams are int64 NumPy arrays in *arrival* order (what a writer would pass
to ``bulk_append``), in milliseconds from a fixed origin:

- ``in_order(n)``: non-decreasing timestamps (random gaps, duplicates kept);
- ``late(n, frac=0.05)``: the same stream with ``frac`` of the records
  arriving late, i.e. carrying a timestamp up to ``max_lateness`` earlier
  than their neighbours, so the arrival order is 5% out of order.

``random_ranges`` draws query ranges over a stream's span with log-uniform
widths, and ``expected_counts`` answers them by binary search on the sorted
timestamps: the reference every count benchmark must match.
"""

import numpy as np

SEED = 20240601
ORIGIN = 1_700_000_000_000  # ms, 2023-11-14
MEAN_GAP = 10  # ms between consecutive records on average


def in_order(n, seed=SEED):
    rng = np.random.default_rng(seed)
    gaps = rng.integers(0, 2 * MEAN_GAP + 1, n, dtype=np.int64)
    return ORIGIN + np.cumsum(gaps)


def late(n, frac=0.05, max_lateness=60_000, seed=SEED):
    rng = np.random.default_rng(seed + 1)
    ts = in_order(n, seed)
    k = int(n * frac)
    idx = rng.choice(n, k, replace=False)
    ts[idx] -= rng.integers(1, max_lateness, k, dtype=np.int64)
    return ts


def objects(n):
    """Distinct payloads: the arrival index of each record."""
    return list(range(n))


def random_ranges(ts_sorted, k, seed=SEED):
    """k (t1, t2) pairs inside the stream's span, widths from 1 ms to the whole span."""
    rng = np.random.default_rng(seed + 2)
    lo, hi = int(ts_sorted[0]), int(ts_sorted[-1]) + 1
    span = hi - lo
    widths = np.exp(rng.uniform(0, np.log(span), k)).astype(np.int64)
    starts = lo + (rng.random(k) * (span - widths)).astype(np.int64)
    return [(int(a), int(a + w)) for a, w in zip(starts, widths)]


def expected_counts(ts_sorted, ranges):
    t1 = np.array([a for a, _ in ranges], dtype=np.int64)
    t2 = np.array([b for _, b in ranges], dtype=np.int64)
    return (
        np.searchsorted(ts_sorted, t2, "left") - np.searchsorted(ts_sorted, t1, "left")
    ).tolist()
