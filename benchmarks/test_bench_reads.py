"""Reads over 1M records: arrays()/timestamps() built in C against per-record
iteration, and NumPy analysis over zero-copy views() spans (after flush +
compact) against the same analysis on a materialized array."""

import numpy as np
import pytest


def _check_arrays(ts, objs, sorted_ts, arrival_ts):
    assert np.array_equal(ts, sorted_ts)
    assert len(objs) == ts.size
    # each object is its record's arrival index: it must point back at its ts
    assert np.array_equal(arrival_ts[np.asarray(objs)], ts)


@pytest.mark.benchmark(group="read-all-1M")
def test_arrays_1m(benchmark, log_1m, sorted_1m, late_1m):
    ts, objs = benchmark(log_1m.arrays)
    _check_arrays(ts, objs, sorted_1m, late_1m)


@pytest.mark.benchmark(group="read-all-1M")
def test_iterator_to_numpy_1m(benchmark, log_1m, sorted_1m, late_1m):
    ts, objs = benchmark(lambda: log_1m.all().to_numpy())
    _check_arrays(ts, objs, sorted_1m, late_1m)


@pytest.mark.benchmark(group="read-all-1M")
def test_timestamps_1m(benchmark, log_1m, sorted_1m):
    ts = benchmark(log_1m.timestamps)
    assert np.array_equal(ts, sorted_1m)


@pytest.mark.benchmark(group="read-all-1M")
def test_baseline_per_record_iteration_1m(benchmark, log_1m, sorted_1m, late_1m):
    def per_record():
        ts, objs = [], []
        for t, o in log_1m:
            ts.append(t)
            objs.append(o)
        return ts, objs

    ts, objs = benchmark(per_record)
    _check_arrays(np.array(ts, dtype=np.int64), objs, sorted_1m, late_1m)


def _expected_analysis(sorted_ts):
    return int(sorted_ts.sum(dtype=np.int64)), int(np.diff(sorted_ts).max())


@pytest.mark.benchmark(group="analysis-1M")
def test_views_sum_and_max_gap_1m(benchmark, log_1m, sorted_1m):
    """Sum of timestamps and largest gap, span by span, with no copy."""

    def analyse():
        total = 0
        gap = 0
        prev_last = None
        for span in log_1m.views():
            a = span.timestamps
            total += int(a.sum(dtype=np.int64))
            if a.size > 1:
                gap = max(gap, int(np.diff(a).max()))
            if prev_last is not None:
                gap = max(gap, int(a[0]) - prev_last)  # L1 spans are in order
            prev_last = int(a[-1])
        return total, gap

    assert benchmark(analyse) == _expected_analysis(sorted_1m)


@pytest.mark.benchmark(group="analysis-1M")
def test_baseline_timestamps_then_numpy_1m(benchmark, log_1m, sorted_1m):
    def analyse():
        a = log_1m.timestamps()
        return int(a.sum(dtype=np.int64)), int(np.diff(a).max())

    assert benchmark(analyse) == _expected_analysis(sorted_1m)


@pytest.mark.benchmark(group="analysis-1M")
def test_baseline_iteration_then_numpy_1m(benchmark, log_1m, sorted_1m):
    def analyse():
        a = np.fromiter((t for t, _ in log_1m), dtype=np.int64, count=len(log_1m))
        return int(a.sum(dtype=np.int64)), int(np.diff(a).max())

    assert benchmark(analyse) == _expected_analysis(sorted_1m)
