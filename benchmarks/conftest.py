"""Shared, module-scoped data and logs for the benchmarks (see data.py).

Logs are built with ``bulk_append`` of a NumPy array, then flushed and
compacted, so a benchmark measures the read path over settled L1 segments.
Building them is setup, not measured; each is built once per module.
"""

import data
import numpy as np
import pytest

from timelog import Timelog

N_1M = 1_000_000
N_10M = 10_000_000


def build_log(ts, objs):
    lg = Timelog.for_bulk_ingest()
    lg.bulk_append(ts, objs)
    lg.flush()
    lg.compact()
    assert len(lg) == ts.size
    return lg


@pytest.fixture(scope="module")
def in_order_1m():
    return data.in_order(N_1M)


@pytest.fixture(scope="module")
def late_1m():
    return data.late(N_1M)


@pytest.fixture(scope="module")
def objects_1m():
    return data.objects(N_1M)


@pytest.fixture(scope="module")
def log_1m(late_1m, objects_1m):
    """1M records from the 5%-late stream; objects are arrival indices."""
    lg = build_log(late_1m, objects_1m)
    yield lg
    lg.close()


@pytest.fixture(scope="module")
def sorted_1m(late_1m):
    return np.sort(late_1m)


@pytest.fixture(scope="module")
def log_10m():
    """10M records from the 5%-late stream (payload None: only counts matter)."""
    ts = data.late(N_10M)
    lg = build_log(ts, [None] * N_10M)
    yield lg, np.sort(ts)
    lg.close()
