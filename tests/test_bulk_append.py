"""bulk_append(): the typed fast path over int64 buffers."""

import array
import sys

import numpy as np
import pytest

from timelog import Timelog

INT64_MAX = 2**63 - 1


def test_numpy_contiguous(log):
    ts = np.array([3, 1, 2], dtype=np.int64)
    log.bulk_append(ts, ["c", "a", "b"])
    assert list(log) == [(1, "a"), (2, "b"), (3, "c")]


def test_numpy_strided(log):
    base = np.arange(20, dtype=np.int64)
    view = base[::2]
    assert not view.flags.c_contiguous
    log.bulk_append(view, list(range(10)))
    assert [t for t, _ in log] == list(range(0, 20, 2))
    assert [o for _, o in log] == list(range(10))


def test_numpy_negative_stride(log):
    ts = np.arange(5, dtype=np.int64)[::-1]
    log.bulk_append(ts, ("e", "d", "c", "b", "a"))
    assert list(log) == [(0, "a"), (1, "b"), (2, "c"), (3, "d"), (4, "e")]


def test_numpy_readonly(log):
    ts = np.array([1, 2], dtype=np.int64)
    ts.setflags(write=False)
    log.bulk_append(ts, ["a", "b"])
    assert len(log) == 2


def test_array_q(log):
    log.bulk_append(array.array("q", [5, 6, 7]), ["x", "y", "z"])
    assert list(log) == [(5, "x"), (6, "y"), (7, "z")]


def test_memoryview(log):
    raw = array.array("q", [9, 8]).tobytes()
    log.bulk_append(memoryview(raw).cast("q"), ("b", "a"))
    assert list(log) == [(8, "a"), (9, "b")]


def test_tuple_objects(log):
    log.bulk_append(np.array([1], dtype=np.int64), ("only",))
    assert log[1] == ["only"]


def test_empty(log):
    log.bulk_append(np.array([], dtype=np.int64), [])
    assert len(log) == 0


def test_extremes(log):
    ts = np.array([INT64_MAX, -(2**63), 0], dtype=np.int64)
    log.bulk_append(ts, ["max", "min", "zero"])
    assert list(log) == [(-(2**63), "min"), (0, "zero"), (INT64_MAX, "max")]


def test_identity_and_one_reference_per_record(log):
    obj = object()
    before = sys.getrefcount(obj)
    log.bulk_append(np.zeros(3, dtype=np.int64), [obj, obj, obj])
    assert sys.getrefcount(obj) == before + 3
    assert all(o is obj for o in log[0])


def test_large_batch(log):
    n = 200_000
    ts = np.arange(n, dtype=np.int64)
    log.bulk_append(ts, list(range(n)))
    assert len(log) == n
    assert log.min_ts() == 0 and log.max_ts() == n - 1
    assert [o for _, o in log.range(1000, 1003)] == [1000, 1001, 1002]


def test_length_mismatch_stores_nothing(log):
    log[0] = "keep"
    with pytest.raises(ValueError, match="length mismatch"):
        log.bulk_append(np.array([1, 2, 3], dtype=np.int64), ["a", "b"])
    with pytest.raises(ValueError, match="length mismatch"):
        log.bulk_append(np.array([1], dtype=np.int64), ("a", "b"))
    assert list(log) == [(0, "keep")]


@pytest.mark.parametrize("objects", [iter(["a", "b"]), {"a": 1, "b": 2}, "ab",
                                     np.array(["a", "b"], dtype=object), None])
def test_objects_must_be_list_or_tuple(log, objects):
    with pytest.raises(TypeError, match="list or tuple"):
        log.bulk_append(np.array([1, 2], dtype=np.int64), objects)
    assert len(log) == 0


@pytest.mark.parametrize("timestamps", [
    np.array([1, 2], dtype=np.int32),
    np.array([1, 2], dtype=np.uint64),
    np.array([1.0, 2.0]),
    array.array("d", [1.0, 2.0]),
])
def test_wrong_buffer_dtype(log, timestamps):
    with pytest.raises((TypeError, ValueError)):
        log.bulk_append(timestamps, ["a", "b"])
    assert len(log) == 0


@pytest.mark.parametrize("timestamps", [[1, 2], (1, 2), None, "12"])
def test_not_a_buffer(log, timestamps):
    with pytest.raises(TypeError):
        log.bulk_append(timestamps, ["a", "b"])
    assert len(log) == 0


def test_two_dimensional_buffer_rejected(log):
    with pytest.raises((TypeError, ValueError)):
        log.bulk_append(np.zeros((2, 2), dtype=np.int64), ["a", "b"])
    assert len(log) == 0


def test_min_ts_guard_stores_nothing():
    with Timelog(min_ts=0, maintenance="disabled") as log:
        obj = object()
        before = sys.getrefcount(obj)
        with pytest.raises(ValueError, match="min_ts"):
            log.bulk_append(np.array([5, -1, 6], dtype=np.int64), [obj, obj, obj])
        assert len(log) == 0
        assert sys.getrefcount(obj) == before


def test_bulk_then_append_and_delete(log):
    log.bulk_append(np.arange(10, dtype=np.int64), list(range(10)))
    log[3] = "late"
    del log[0:3]
    assert [t for t, _ in log] == [3, 3, 4, 5, 6, 7, 8, 9]
