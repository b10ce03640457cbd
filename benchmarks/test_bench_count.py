"""count() over random ranges at 1M and 10M records: binary searches per
source, no scan, so the cost should barely move from 1M to 10M. Baseline:
np.searchsorted on an already sorted array of the same timestamps."""

import data
import numpy as np
import pytest

N_RANGES = 1000


def _count_all(lg, ranges):
    count = lg.count
    return [count(t1, t2) for t1, t2 in ranges]


@pytest.mark.benchmark(group="count-1000-ranges")
def test_count_1m(benchmark, log_1m, sorted_1m):
    ranges = data.random_ranges(sorted_1m, N_RANGES)
    got = benchmark(_count_all, log_1m, ranges)
    assert got == data.expected_counts(sorted_1m, ranges)


@pytest.mark.benchmark(group="count-1000-ranges")
def test_count_10m(benchmark, log_10m):
    lg, sorted_10m = log_10m
    ranges = data.random_ranges(sorted_10m, N_RANGES)
    got = benchmark(_count_all, lg, ranges)
    assert got == data.expected_counts(sorted_10m, ranges)


@pytest.mark.benchmark(group="count-1000-ranges")
def test_count_10m_with_tombstones(benchmark, log_10m):
    """The same ranges after deletes that are still tombstones (not compacted)."""
    lg, sorted_10m = log_10m
    ranges = data.random_ranges(sorted_10m, N_RANGES)
    expected = data.expected_counts(sorted_10m, ranges)
    # Runs last in this module: it adds deletes to the shared log.
    rng = np.random.default_rng(data.SEED)
    keep = np.ones(sorted_10m.size, dtype=bool)
    for _ in range(50):
        a = int(rng.integers(int(sorted_10m[0]), int(sorted_10m[-1])))
        b = a + int(rng.integers(1, 100_000))
        lg.delete(a, b)
        keep &= ~((sorted_10m >= a) & (sorted_10m < b))
    visible = sorted_10m[keep]
    got = benchmark(_count_all, lg, ranges)
    assert got == data.expected_counts(visible, ranges)
    assert got != expected


@pytest.mark.benchmark(group="count-1000-ranges")
def test_baseline_searchsorted_10m(benchmark, log_10m):
    _, sorted_10m = log_10m
    ranges = data.random_ranges(sorted_10m, N_RANGES)

    def count_all():
        ss = sorted_10m.searchsorted
        return [int(ss(t2) - ss(t1)) for t1, t2 in ranges]

    assert benchmark(count_all) == data.expected_counts(sorted_10m, ranges)
