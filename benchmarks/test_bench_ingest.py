"""Bulk ingest of 1M records: bulk_append of a NumPy array (in order, and 5%
late so the engine sorts in C), against extend() of Python lists."""

import numpy as np
import pytest

from timelog import Timelog

ROUNDS = 5


def _bench_ingest(benchmark, ts, store):
    """Times store(fresh_log) only; every log is checked, then closed untimed."""
    logs = []

    def setup():
        lg = Timelog.for_bulk_ingest()
        logs.append(lg)
        return (lg,), {}

    try:
        benchmark.pedantic(store, setup=setup, rounds=ROUNDS, warmup_rounds=0)
        expected = np.sort(ts)
        for lg in logs:
            assert len(lg) == ts.size
        assert np.array_equal(logs[-1].timestamps(), expected)
        assert logs[-1].count(int(expected[1000]), int(expected[2000])) == int(
            np.searchsorted(expected, expected[2000]) - np.searchsorted(expected, expected[1000])
        )
    finally:
        for lg in logs:
            lg.close()


@pytest.mark.benchmark(group="ingest-1M")
def test_bulk_append_in_order_1m(benchmark, in_order_1m, objects_1m):
    _bench_ingest(benchmark, in_order_1m, lambda lg: lg.bulk_append(in_order_1m, objects_1m))


@pytest.mark.benchmark(group="ingest-1M")
def test_bulk_append_late5pct_1m(benchmark, late_1m, objects_1m):
    _bench_ingest(benchmark, late_1m, lambda lg: lg.bulk_append(late_1m, objects_1m))


@pytest.mark.benchmark(group="ingest-1M")
def test_baseline_extend_lists_late5pct_1m(benchmark, late_1m, objects_1m):
    ts_list = late_1m.tolist()
    _bench_ingest(benchmark, late_1m, lambda lg: lg.extend(ts_list, objects_1m))
