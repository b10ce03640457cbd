"""Array-native reads: arrays(), timestamps(), it.to_numpy(), count(),
histogram() and counts(), checked against brute-force NumPy on random data
with deletes, duplicates and the int64 extremes."""

import gc
import sys

import numpy as np
import pytest

from timelog import Timelog, TimelogError

INT64_MIN = -(2**63)
INT64_MAX = 2**63 - 1


# ---------------------------------------------------------------- a NumPy reference


class NpModel:
    """Visible timestamps of a sequence of batch writes and range deletes.

    One batch is one sequence number; a tombstone [lo, hi] (inclusive)
    hides the records of earlier batches inside it.
    """

    def __init__(self):
        self.ts = []
        self.seq = []
        self.objs = []
        self.tombs = []
        self.s = 0

    def bulk(self, ts, objs):
        self.s += 1
        self.ts.extend(int(t) for t in ts)
        self.seq.extend([self.s] * len(objs))
        self.objs.extend(objs)

    def delete(self, lo, hi_incl):
        self.s += 1
        if lo <= hi_incl:
            self.tombs.append((lo, hi_incl, self.s))

    def visible(self):
        ts = np.array(self.ts, dtype=np.int64)
        seq = np.array(self.seq, dtype=np.int64)
        keep = np.ones(ts.size, dtype=bool)
        for lo, hi, s in self.tombs:
            keep &= ~((ts >= lo) & (ts <= hi) & (seq < s))
        idx = np.flatnonzero(keep)
        order = np.argsort(ts[idx], kind="stable")
        idx = idx[order]
        return ts[idx], [self.objs[i] for i in idx]


def in_range(vts, t1, t2):
    lo = INT64_MIN if t1 is None else t1
    mask = vts >= lo
    if t2 is not None:
        mask &= vts < t2
    return mask


def brute_edges_histogram(vts, t1, t2, bins):
    """Independent (Python-int) version of the documented edge rule."""
    closed_last = False
    if vts.size:
        lo = int(vts.min()) if t1 is None else t1
        hi = int(vts.max()) + 1 if t2 is None else t2
    else:
        lo = t1 if t1 is not None else (t2 if t2 is not None else 0)
        hi = t2 if t2 is not None else lo
    if hi <= lo:
        return [lo] * (bins + 1), False
    edges = [lo + (i * (hi - lo)) // bins for i in range(bins + 1)]
    if edges[-1] > INT64_MAX:
        edges[-1] = INT64_MAX
        closed_last = True
    return edges, closed_last


def brute_counts(vts, edges, closed_last):
    e = np.array(edges, dtype=np.int64)
    left = np.searchsorted(vts, e[:-1], side="left")
    right = np.searchsorted(vts, e[1:], side="left")
    if closed_last and len(edges) > 1:
        right[-1] = vts.size
    return (right - left).astype(np.int64)


def random_log(seed, n_batches=8, batch=600, spread=2000, layers=True):
    """A log and its model: random batches (duplicates and extremes included),
    random range deletes, and data spread over every layer."""
    rng = np.random.default_rng(seed)
    lg = Timelog(
        maintenance="disabled",
        memtable_max_bytes=8192,
        target_page_bytes=1024,
        sealed_max_runs=1000,
    )
    model = NpModel()
    for b in range(n_batches):
        ts = rng.integers(-spread, spread, batch)
        if b % 3 == 0:
            ts[:4] = [INT64_MIN, INT64_MAX, INT64_MIN + 1, INT64_MAX - 1]
        objs = ["s%d-b%d-%d" % (seed, b, i) for i in range(batch)]
        lg.bulk_append(ts, objs)
        model.bulk(ts, objs)
        for _ in range(2):
            lo = int(rng.integers(-spread, spread))
            hi = lo + int(rng.integers(0, spread // 4))
            lg.delete(lo, hi)
            model.delete(lo, hi - 1)
        if b == 2:
            lg.delete(INT64_MAX)
            model.delete(INT64_MAX, INT64_MAX)
        if layers and b in (1, 4, 6):
            lg.flush()
        if layers and b == 5:
            lg.compact()
    # A few records left in the memtable, and a delete that reaches them.
    ts = rng.integers(-spread, spread, 40)
    objs = ["s%d-tail-%d" % (seed, i) for i in range(ts.size)]
    lg.extend(zip(ts.tolist(), objs))
    model.bulk(ts, objs)
    lo = int(rng.integers(-spread, spread))
    lg.delete(lo, lo + 300)
    model.delete(lo, lo + 299)
    return lg, model, rng


SEEDS = [0, 1, 2, 3, 4]


def random_bounds(rng, spread):
    pool = [None, INT64_MIN, INT64_MAX, 0, -spread, spread]
    out = []
    for _ in range(12):
        t1 = (
            pool[rng.integers(len(pool))]
            if rng.random() < 0.3
            else int(rng.integers(-spread - 10, spread + 10))
        )
        t2 = (
            pool[rng.integers(len(pool))]
            if rng.random() < 0.3
            else int(rng.integers(-spread - 10, spread + 10))
        )
        out.append((t1, t2))
    return out + [(None, None), (5, 5), (10, -10)]


# ---------------------------------------------------------------- arrays / timestamps


def test_arrays_basic(log):
    log.extend([(3, "c"), (1, "a"), (2, "b"), (2, "b2")])
    ts, objs = log.arrays()
    assert ts.dtype == np.int64 and ts.flags.owndata and ts.flags.writeable
    assert ts.tolist() == [1, 2, 2, 3]
    assert isinstance(objs, list)
    assert list(zip(ts.tolist(), objs)) == list(log)
    assert log.timestamps().tolist() == [1, 2, 2, 3]
    assert log.arrays(2, 3)[0].tolist() == [2, 2]
    assert log.timestamps(None, 2).tolist() == [1]
    assert log.timestamps(3).tolist() == [3]


def test_arrays_empty(log):
    ts, objs = log.arrays()
    assert ts.dtype == np.int64 and ts.size == 0 and objs == []
    assert log.timestamps().size == 0
    log[5] = "x"
    assert log.arrays(6, 9)[0].size == 0
    assert log.arrays(9, 6)[1] == []


def test_arrays_preserve_identity_and_count_references(log):
    objs = [object() for _ in range(100)]
    log.extend(enumerate(objs))
    before = [sys.getrefcount(o) for o in objs]
    ts, got = log.arrays()
    assert all(a is b for a, b in zip(got, objs))
    assert [sys.getrefcount(o) for o in objs] == [b + 1 for b in before]
    del got
    gc.collect()
    assert [sys.getrefcount(o) for o in objs] == before


def test_arrays_reach_int64_max_inclusive(log):
    log.extend([(INT64_MIN, "lo"), (INT64_MAX, "hi")])
    assert log.arrays()[1] == ["lo", "hi"]
    assert log.arrays(0)[1] == ["hi"]
    assert log.arrays(0, INT64_MAX)[1] == []
    assert log.timestamps(None, INT64_MAX).tolist() == [INT64_MIN]


def test_arrays_are_a_snapshot(log):
    log.extend((t, t) for t in range(10))
    ts, objs = log.arrays()
    del log[:]
    log.compact()
    assert ts.tolist() == list(range(10)) and objs == list(range(10))


def test_arrays_on_closed_log(log):
    log.close()
    with pytest.raises(TimelogError, match="closed"):
        log.arrays()
    with pytest.raises(TimelogError, match="closed"):
        log.timestamps()


@pytest.mark.parametrize("seed", SEEDS)
def test_arrays_match_model_and_iteration(seed):
    lg, model, rng = random_log(seed)
    try:
        vts, vobjs = model.visible()
        for t1, t2 in random_bounds(rng, 2000):
            mask = in_range(vts, t1, t2)
            ts, objs = lg.arrays(t1, t2)
            assert np.array_equal(ts, vts[mask]), (t1, t2)
            assert sorted(zip(ts.tolist(), objs)) == sorted(
                zip(vts[mask].tolist(), [o for o, m in zip(vobjs, mask) if m])
            )
            # same order as iteration over the same state
            it = lg[t1:t2]
            assert list(zip(ts.tolist(), objs)) == list(it)
            assert np.array_equal(lg.timestamps(t1, t2), ts)
    finally:
        lg.close()


# ---------------------------------------------------------------- it.to_numpy()


def test_to_numpy_whole_iterator(log):
    log.extend((t, "o%d" % t) for t in range(1000))
    it = log[100:900]
    ts, objs = it.to_numpy()
    assert ts.tolist() == list(range(100, 900))
    assert objs == ["o%d" % t for t in range(100, 900)]
    assert it.closed and len(it) == 0 and list(it) == []
    ts2, objs2 = it.to_numpy()
    assert ts2.size == 0 and objs2 == []


@pytest.mark.parametrize("consumed", [0, 1, 255, 256, 257, 700, 999, 1000])
def test_to_numpy_after_partial_consumption(log, consumed):
    log.extend((t, t) for t in range(1000))
    log.flush()
    log.extend((t, t) for t in range(1000, 1500))  # memtable too
    it = log.all()
    head = [next(it) for _ in range(consumed)]
    ts, objs = it.to_numpy()
    assert [t for t, _ in head] + ts.tolist() == list(range(1500))
    assert objs == list(range(consumed, 1500))


def test_to_numpy_after_next_batch(log):
    log.extend((t, t) for t in range(10_000))
    it = log.all()
    first = it.next_batch(5000)
    ts, objs = it.to_numpy()
    assert len(first) + ts.size == 10_000 and ts[0] == 5000


def test_to_numpy_snapshot_consistent(log):
    log.extend((t, t) for t in range(100))
    it = log.all()
    next(it)
    del log[:]
    log.extend((t, -t) for t in range(100))
    log.compact()
    ts, objs = it.to_numpy()
    assert ts.tolist() == list(range(1, 100)) and objs == list(range(1, 100))


def test_to_numpy_closed_iterator(log):
    log.extend([(1, "a")])
    it = log.all()
    it.close()
    ts, objs = it.to_numpy()
    assert ts.dtype == np.int64 and ts.size == 0 and objs == []


@pytest.mark.parametrize("seed", SEEDS[:3])
def test_to_numpy_matches_model(seed):
    lg, model, rng = random_log(seed)
    try:
        vts, _ = model.visible()
        for t1, t2 in random_bounds(rng, 2000):
            mask = in_range(vts, t1, t2)
            assert np.array_equal(lg[t1:t2].to_numpy()[0], vts[mask])
    finally:
        lg.close()


# ---------------------------------------------------------------- count


@pytest.mark.parametrize("seed", SEEDS)
def test_count_matches_model(seed):
    lg, model, rng = random_log(seed)
    try:
        vts, _ = model.visible()
        assert lg.count() == len(lg) == vts.size
        for t1, t2 in random_bounds(rng, 2000):
            assert lg.count(t1, t2) == int(in_range(vts, t1, t2).sum()), (t1, t2)
    finally:
        lg.close()


def test_count_extremes(log):
    log.extend([(INT64_MIN, 1), (INT64_MIN, 2), (0, 3), (INT64_MAX, 4), (INT64_MAX, 5)])
    assert log.count() == 5
    assert log.count(INT64_MAX) == 2
    assert log.count(None, INT64_MAX) == 3
    assert log.count(INT64_MIN, INT64_MIN + 1) == 2
    log.delete(INT64_MAX)
    assert log.count(0) == 1


# ---------------------------------------------------------------- histogram


def test_histogram_doc_example(log):
    log.extend((t, None) for t in [0, 1, 2, 2, 5, 9])
    counts, edges = log.histogram(0, 10, bins=3)
    assert counts.tolist() == [4, 1, 1]
    assert edges.tolist() == [0, 3, 6, 10]
    assert counts.dtype == np.int64 and edges.dtype == np.int64
    counts, edges = log.histogram(bins=2)
    assert edges.tolist() == [0, 5, 10] and counts.tolist() == [4, 2]


def test_histogram_widths_differ_by_at_most_one(log):
    for width in [1, 7, 10, 99, 100, 101, 12345]:
        for bins in [1, 2, 3, 7, 10, 64]:
            _, edges = log.histogram(-width // 2, -width // 2 + width, bins=bins)
            w = np.diff(edges)
            assert edges[0] == -width // 2 and edges[-1] == -width // 2 + width
            assert w.min() >= 0 and w.max() - w.min() <= 1
            assert w.sum() == width


def test_histogram_more_bins_than_width(log):
    log.extend([(0, "a"), (1, "b"), (2, "c")])
    counts, edges = log.histogram(0, 3, bins=6)
    assert edges.tolist() == [0, 0, 1, 1, 2, 2, 3]
    assert counts.tolist() == [0, 1, 0, 1, 0, 1]


def test_histogram_empty_range_and_empty_log(log):
    counts, edges = log.histogram(bins=4)
    assert counts.tolist() == [0] * 4 and edges.tolist() == [0] * 5
    counts, edges = log.histogram(7, None, bins=2)
    assert counts.tolist() == [0, 0] and edges.tolist() == [7, 7, 7]
    counts, edges = log.histogram(None, -3, bins=2)
    assert edges.tolist() == [-3, -3, -3]
    log[5] = "x"
    counts, edges = log.histogram(10, 3, bins=3)  # t1 >= t2: empty, no error
    assert counts.tolist() == [0, 0, 0] and edges.tolist() == [10] * 4
    counts, edges = log.histogram(6, None, bins=2)  # max_ts + 1 = 6 <= t1
    assert counts.tolist() == [0, 0]


def test_histogram_none_bounds_are_min_and_max_inclusive(log):
    log.extend([(10, "a"), (15, "b"), (19, "c")])
    counts, edges = log.histogram(bins=2)
    assert edges.tolist() == [10, 15, 20]
    assert counts.tolist() == [1, 2]
    counts, edges = log.histogram(None, 19, bins=1)
    assert edges.tolist() == [10, 19] and counts.tolist() == [2]


def test_histogram_full_int64_range(log):
    log.extend([(INT64_MIN, 1), (-1, 2), (0, 3), (INT64_MAX - 1, 4), (INT64_MAX, 5)])
    counts, edges = log.histogram(bins=2)
    # [min, max] spans 2**64 values: the last edge is 2**63-1 and that
    # bucket is closed, so the record at 2**63-1 is counted.
    assert edges.tolist() == [INT64_MIN, 0, INT64_MAX]
    assert counts.tolist() == [2, 3]
    counts, edges = log.histogram(bins=1)
    assert edges.tolist() == [INT64_MIN, INT64_MAX] and counts.tolist() == [5]
    counts, edges = log.histogram(bins=3)
    assert counts.sum() == 5 and edges[0] == INT64_MIN and edges[-1] == INT64_MAX
    counts, edges = log.histogram(INT64_MIN, INT64_MAX, bins=2)  # explicit: half-open
    assert edges.tolist() == [INT64_MIN, -1, INT64_MAX]  # width 2**64 - 1, odd
    assert counts.tolist() == [1, 3]


@pytest.mark.parametrize("seed", SEEDS)
def test_histogram_matches_model(seed):
    lg, model, rng = random_log(seed)
    try:
        vts, _ = model.visible()
        for t1, t2 in random_bounds(rng, 2000):
            for bins in [1, 2, 3, 10, 37]:
                counts, edges = lg.histogram(t1, t2, bins=bins)
                exp_edges, closed = brute_edges_histogram(vts, t1, t2, bins)
                assert edges.tolist() == exp_edges, (t1, t2, bins)
                assert counts.tolist() == brute_counts(vts, exp_edges, closed).tolist(), (
                    t1,
                    t2,
                    bins,
                )
                if t1 is not None and t2 is not None and t1 < t2:
                    assert counts.sum() == lg.count(t1, t2)
                    ref, _ = np.histogram(
                        vts[in_range(vts, t1, t2)], bins=np.array(exp_edges, dtype=np.float64)
                    )
                    if (np.diff(exp_edges) > 0).all() and abs(t1) < 2**52 and abs(t2) < 2**52:
                        # numpy's last bucket is closed; the range excludes t2
                        assert counts.tolist() == ref.tolist()
    finally:
        lg.close()


def test_histogram_with_datetime_bounds():
    import datetime

    with Timelog(time_unit="s", maintenance="disabled") as lg:
        day = datetime.datetime(2024, 1, 1)
        lg.extend((day + datetime.timedelta(hours=h), h) for h in range(48))
        counts, edges = lg.histogram(day, day + datetime.timedelta(days=2), bins=2)
        assert counts.tolist() == [24, 24]
        assert edges.tolist() == [1704067200, 1704067200 + 86400, 1704067200 + 2 * 86400]
        hourly = lg.counts(day, day + datetime.timedelta(days=1), 3600)
        assert hourly.tolist() == [1] * 24


# ---------------------------------------------------------------- counts


def test_counts_doc_example(log):
    log.extend((t, None) for t in [0, 1, 2, 2, 5, 9])
    out = log.counts(0, 10, 4)
    assert out.dtype == np.int64 and out.tolist() == [4, 1, 1]
    assert log.counts(0, 10, 100).tolist() == [6]
    assert log.counts(0, 10, 1).tolist() == [1, 1, 2, 0, 0, 1, 0, 0, 0, 1]
    assert log.counts(None, None, 5).tolist() == [4, 2]  # [0, 10)
    assert log.counts(0, 0, 3).tolist() == []
    assert log.counts(5, 0, 3).tolist() == []


def test_counts_empty_log(log):
    assert log.counts(None, None, 5).size == 0
    assert log.counts(0, 10, 5).tolist() == [0, 0]


def test_counts_full_int64_range(log):
    log.extend([(INT64_MIN, 1), (0, 2), (INT64_MAX, 3), (INT64_MAX, 4)])
    assert log.counts(None, None, 2**63).tolist() == [1, 3]
    assert log.counts(None, None, 2**64).tolist() == [4]
    assert log.counts(None, None, 2**64 - 1).tolist() == [2, 2]
    assert log.counts(None, None, 2**70).tolist() == [4]
    assert log.counts(INT64_MAX - 3, None, 2).tolist() == [0, 2]
    assert log.counts(INT64_MIN, INT64_MAX, 2**62).tolist() == [1, 0, 1, 0]


@pytest.mark.parametrize("seed", SEEDS)
def test_counts_match_model(seed):
    lg, model, rng = random_log(seed)
    try:
        vts, _ = model.visible()
        for t1, t2 in random_bounds(rng, 2000):
            for step in [1, 3, 97, 1000, 2**62, 2**64]:
                if vts.size:
                    lo = int(vts.min()) if t1 is None else t1
                    hi = int(vts.max()) + 1 if t2 is None else t2
                else:
                    lo = t1 if t1 is not None else (t2 if t2 is not None else 0)
                    hi = t2 if t2 is not None else lo
                nb = max(0, -(-(hi - lo) // step))
                if nb > 5000:
                    continue
                edges = [lo + i * step for i in range(nb)] + [hi]
                closed = hi > INT64_MAX
                if closed:
                    edges[-1] = INT64_MAX
                exp = brute_counts(vts, edges, closed) if nb else np.zeros(0, np.int64)
                got = lg.counts(t1, t2, step)
                assert got.tolist() == exp.tolist(), (t1, t2, step)
    finally:
        lg.close()


# ---------------------------------------------------------------- argument checks


@pytest.mark.parametrize("bad", [True, False, np.bool_(True), 1.0, 2.5, "3", None, [2]], ids=repr)
def test_bins_and_step_must_be_ints(log, bad):
    with pytest.raises(TypeError, match="bins"):
        log.histogram(0, 10, bins=bad)
    with pytest.raises(TypeError, match="step"):
        log.counts(0, 10, bad)


@pytest.mark.parametrize("bad", [0, -1, -(2**70)])
def test_bins_and_step_must_be_positive(log, bad):
    with pytest.raises(ValueError, match="bins must be a positive int"):
        log.histogram(0, 10, bins=bad)
    with pytest.raises(ValueError, match="step must be a positive int"):
        log.counts(0, 10, bad)


def test_numpy_ints_accepted_for_bins_and_step(log):
    log.extend([(1, "a"), (6, "b")])
    assert log.histogram(0, 10, bins=np.int32(2))[0].tolist() == [1, 1]
    assert log.counts(0, 10, np.uint8(5)).tolist() == [1, 1]


def test_too_many_buckets_is_a_clear_error(log):
    log.extend([(INT64_MIN, "a"), (INT64_MAX, "b")])
    with pytest.raises(ValueError, match="too many"):
        log.counts(None, None, 1)
    with pytest.raises(ValueError, match="too many"):
        log.histogram(bins=2**62)


# ---------------------------------------------------------------- the GIL


def test_array_reads_release_the_gil():
    """A Python thread makes progress while a large read fills its array."""
    import threading
    import time

    n = 3_000_000
    with Timelog(maintenance="disabled") as lg:
        lg.bulk_append(np.arange(n, dtype=np.int64), [None] * n)
        for _ in range(3):  # several overlapping L0 segments: a real merge
            lg.bulk_append(np.arange(0, n, 3, dtype=np.int64), [None] * len(range(0, n, 3)))
            lg.flush()
        ticks = []
        stop = threading.Event()

        def spin():
            while not stop.is_set():
                ticks.append(time.perf_counter())
                time.sleep(0.0002)

        th = threading.Thread(target=spin)
        th.start()
        try:
            time.sleep(0.01)
            t0 = time.perf_counter()
            ts = lg.timestamps()
            t1 = time.perf_counter()
        finally:
            stop.set()
            th.join()
        assert ts.size == n + 3 * len(range(0, n, 3))
    if t1 - t0 > 0.02:
        assert len([t for t in ticks if t0 < t < t1]) >= 2, t1 - t0
