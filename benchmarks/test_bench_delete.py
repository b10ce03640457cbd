"""Per-delete cost on a tombstone set of 1k / 50k / 400k non-mergeable
intervals (issue 20 item 3): the SPEC promises O(log T), so the three groups'
medians should stay within ~2x of each other (ignoring cache effects at
400k). benchmarks/delete_scaling.py prints the same figures as a table."""

import itertools
import random

import pytest

from timelog import Timelog


@pytest.fixture(scope="module", params=[1_000, 50_000, 400_000], ids=lambda n: "%dk" % (n // 1000))
def tomb_log(request):
    n = request.param
    log = Timelog(maintenance="disabled")
    for i in range(n):
        log.delete(4 * i)
    assert log.stats()["storage"]["tombstone_count"] == n
    yield log, n
    log.close()


@pytest.mark.benchmark(group="delete-point")
def test_point_delete(benchmark, tomb_log):
    log, n = tomb_log
    rng = random.Random(1)
    pos = itertools.cycle([4 * rng.randrange(n) + 2 for _ in range(100_000)])
    benchmark(lambda: log.delete(next(pos)))
    assert log.stats()["storage"]["tombstone_count"] > n


@pytest.mark.benchmark(group="delete-range")
def test_small_range_delete(benchmark, tomb_log):
    log, n = tomb_log
    rng = random.Random(2)
    pos = itertools.cycle([4 * rng.randrange(n) + 1 for _ in range(100_000)])

    def one():
        a = next(pos)
        log.delete(a, a + 2)

    benchmark(one)
    assert log.stats()["storage"]["tombstone_count"] > n
