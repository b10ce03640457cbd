"""Shared fixtures for the Python test suite.

Most tests use ``maintenance="disabled"`` so that layer transitions happen
only when a test asks for them (flush, compact, maint_step) and results do
not depend on the background worker's timing.
"""

import pytest

from timelog import Timelog

INT64_MIN = -(2**63)
INT64_MAX = 2**63 - 1


@pytest.fixture
def log():
    """A log with manual maintenance, closed after the test."""
    lg = Timelog(maintenance="disabled")
    yield lg
    lg.close()


@pytest.fixture
def bglog():
    """A log with the background maintenance worker running."""
    lg = Timelog(maintenance="background")
    yield lg
    lg.close()


@pytest.fixture
def small_log():
    """Manual maintenance with a tiny memtable, so seals happen quickly."""
    lg = Timelog(
        maintenance="disabled", memtable_max_bytes=4096, target_page_bytes=1024, sealed_max_runs=64
    )
    yield lg
    lg.close()


def contents(lg):
    """Every visible record as a list of (ts, obj), in engine order."""
    return list(lg)


def assert_sorted(records):
    ts = [t for t, _ in records]
    assert ts == sorted(ts), "records are not in non-decreasing timestamp order"
