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


@pytest.mark.parametrize(
    "objects",
    [
        iter(["a", "b"]),
        (o for o in "ab"),
        {"a": 1, "b": 2},
        {"a", "b"},
        frozenset("ab"),
        {"a": 1, "b": 2}.values(),
        "ab",
        b"ab",
        None,
    ],
    ids=lambda o: type(o).__name__,
)
def test_objects_must_be_a_sized_sequence(log, objects):
    with pytest.raises(TypeError, match="pass a list"):
        log.bulk_append(np.array([1, 2], dtype=np.int64), objects)
    assert len(log) == 0


class _Seq:
    """A plain user sequence: __len__ + __getitem__, nothing else."""

    def __init__(self, items):
        self._items = list(items)

    def __len__(self):
        return len(self._items)

    def __getitem__(self, i):
        return self._items[i]


def test_object_ndarray_stores_its_objects(log):
    objs = [object(), [], {"k": 1}]
    arr = np.empty(3, dtype=object)
    arr[:] = objs
    log.bulk_append(np.array([3, 1, 2], dtype=np.int64), arr)
    assert [o for _, o in log] == [objs[1], objs[2], objs[0]]
    assert all(a is b for a, b in zip([o for _, o in log], [objs[1], objs[2], objs[0]]))
    # strided object arrays too
    log.bulk_append(np.array([10, 11], dtype=np.int64), arr[::2])
    assert log[10][0] is objs[0] and log[11][0] is objs[2]


@pytest.mark.parametrize(
    "make,expected",
    [
        (lambda: range(100, 103), [100, 101, 102]),
        (lambda: _Seq(["a", "b", "c"]), ["a", "b", "c"]),
        (lambda: np.array([1.5, 2.5, 3.5]), [1.5, 2.5, 3.5]),
        (lambda: np.array(["x", "y", "z"]), ["x", "y", "z"]),
    ],
    ids=["range", "user-sequence", "float-array", "str-array"],
)
def test_other_sequences_store_their_items(log, make, expected):
    log.bulk_append(np.array([1, 2, 3], dtype=np.int64), make())
    assert [o for _, o in log] == expected


def test_pandas_series_is_read_by_position_not_label(log):
    pd = pytest.importorskip("pandas")
    objs = [object(), object(), object()]
    # labels that are not 0..n-1: series[i] would be a label lookup
    s = pd.Series(objs, index=[30, 10, 20], dtype=object)
    log.bulk_append(np.array([1, 2, 3], dtype=np.int64), s)
    got = [o for _, o in log]
    assert all(a is b for a, b in zip(got, objs)) and len(got) == 3
    nums = pd.Series([7, 8], index=["a", "b"])
    log.bulk_append(np.array([4, 5], dtype=np.int64), nums)
    assert log[4] == [7] and log[5] == [8]


def test_sequence_length_mismatch_stores_nothing(log):
    with pytest.raises(ValueError, match="length mismatch"):
        log.bulk_append(np.array([1, 2], dtype=np.int64), range(3))
    assert len(log) == 0


@pytest.mark.parametrize(
    "timestamps,dtype",
    [
        (np.array([1.0, 2.0]), "float64"),
        (array.array("d", [1.0, 2.0]), "float64"),
        (np.array([True, False]), "bool"),
    ],
)
def test_wrong_buffer_dtype(log, timestamps, dtype):
    with pytest.raises(TypeError, match=dtype):
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


# ---------------------------------------------------------------- dtype rules

LOSSLESS = [np.int8, np.int16, np.int32, np.uint8, np.uint16, np.uint32]


def snapshot_of(lg):
    return list(lg), len(lg)


@pytest.mark.parametrize("dtype", LOSSLESS, ids=lambda d: np.dtype(d).name)
def test_small_integer_dtypes_are_converted(log, dtype):
    info = np.iinfo(dtype)
    values = np.array([info.max, info.min, 0, 1, info.max], dtype=dtype)
    log.bulk_append(values, ["a", "b", "c", "d", "e"])
    assert log.timestamps().tolist() == sorted(int(v) for v in values)
    assert log[int(info.max)] == ["a", "e"]


@pytest.mark.parametrize("dtype", LOSSLESS, ids=lambda d: np.dtype(d).name)
def test_small_integer_dtypes_strided(log, dtype):
    base = np.arange(40, dtype=dtype).reshape(20, 2)
    log.bulk_append(base[::-2, 1], list(range(10)))
    assert log.timestamps().tolist() == sorted(base[::-2, 1].astype(int).tolist())


def test_uint64_within_int64_is_converted(log):
    ts = np.array([INT64_MAX, 0, 5], dtype=np.uint64)
    log.bulk_append(ts, ["max", "zero", "five"])
    assert list(log) == [(0, "zero"), (5, "five"), (INT64_MAX, "max")]


def test_uint64_above_int64_is_a_type_error_naming_uint64(log):
    log[1] = "keep"
    before = snapshot_of(log)
    obj = object()
    refs = sys.getrefcount(obj)
    ts = np.array([1, 2**63, 3], dtype=np.uint64)
    with pytest.raises(TypeError, match="uint64"):
        log.bulk_append(ts, [obj, obj, obj])
    with pytest.raises(TypeError, match="uint64"):
        log.bulk_append(np.array([2**64 - 1], dtype=np.uint64), [obj])
    assert snapshot_of(log) == before
    assert sys.getrefcount(obj) == refs


def test_empty_uint64_is_fine(log):
    log.bulk_append(np.array([], dtype=np.uint64), [])
    assert len(log) == 0


@pytest.mark.parametrize(
    "arr,name",
    [
        (np.array([1.0, 2.0], dtype=np.float64), "float64"),
        (np.array([1.0, 2.0], dtype=np.float32), "float32"),
        (np.array([1.0, 2.0], dtype=np.float16), "float16"),
        (np.array([True, False]), "bool"),
        (np.array([1, 2], dtype=object), "object"),
        (np.array([1 + 0j, 2 + 0j]), "complex128"),
        (np.array([1, 2], dtype="m8[ms]"), "timedelta64"),
        (np.array(["1", "2"]), "<U1"),
        (array.array("f", [1.0, 2.0]), "float32"),
    ],
    ids=lambda x: x if isinstance(x, str) else None,
)
def test_lossy_or_non_integer_dtypes_are_type_errors_naming_the_dtype(log, arr, name):
    log[0] = "keep"
    before = snapshot_of(log)
    with pytest.raises(TypeError, match=name):
        log.bulk_append(arr, ["a", "b"])
    assert snapshot_of(log) == before


def test_non_native_byte_order(log):
    log.bulk_append(np.array([3, 1, 2], dtype=">i8"), ["c", "a", "b"])
    log.bulk_append(np.array([7], dtype=">u4"), ["g"])
    assert list(log) == [(1, "a"), (2, "b"), (3, "c"), (7, "g")]


def test_zero_dimensional_rejected(log):
    with pytest.raises(ValueError, match="1-D"):
        log.bulk_append(np.array(5, dtype=np.int64), ["a"])
    assert len(log) == 0


# ---------------------------------------------------------------- strides and buffers


def test_column_of_a_2d_array(log):
    table = np.arange(30, dtype=np.int64).reshape(10, 3)
    col = table[:, 1]
    assert col.strides == (24,)
    log.bulk_append(col, [str(v) for v in col])
    assert log.timestamps().tolist() == col.tolist()
    assert [o for _, o in log] == [str(v) for v in col]


def test_column_of_a_fortran_array_is_contiguous(log):
    table = np.asfortranarray(np.arange(30, dtype=np.int64).reshape(10, 3))
    log.bulk_append(table[:, 2], list(range(10)))
    assert log.timestamps().tolist() == table[:, 2].tolist()


def test_row_reversed_and_step(log):
    base = np.arange(100, dtype=np.int64) * 3
    view = base[90:5:-7]
    log.bulk_append(view, list(view.tolist()))
    assert list(log) == sorted((int(v), int(v)) for v in view)


def test_strided_memoryview(log):
    base = np.arange(12, dtype=np.int64)
    mv = memoryview(base)[::3]
    log.bulk_append(mv, ["a", "b", "c", "d"])
    assert log.timestamps().tolist() == [0, 3, 6, 9]


def test_array_of_other_integer_typecodes(log):
    log.bulk_append(array.array("i", [3, -1]), ["x", "y"])
    log.bulk_append(array.array("Q", [2**63 - 1]), ["z"])
    log.bulk_append(array.array("l", [5]), ["w"])
    assert list(log) == [(-1, "y"), (3, "x"), (5, "w"), (INT64_MAX, "z")]


def test_the_input_buffer_is_not_modified(log):
    ts = np.array([5, 3, 9, 1], dtype=np.int64)
    keep = ts.copy()
    log.bulk_append(ts, list("abcd"))
    assert np.array_equal(ts, keep)
    assert log.timestamps().tolist() == [1, 3, 5, 9]


def test_bytes_buffers_are_uint8(log):
    log.bulk_append(bytearray(b"\x01\x02"), ["a", "b"])
    assert list(log) == [(1, "a"), (2, "b")]


# ---------------------------------------------------------------- length mismatch


@pytest.mark.parametrize(
    "ts",
    [
        np.array([1, 2, 3], dtype=np.int64),
        np.arange(6, dtype=np.int64)[::2],
        np.array([1, 2, 3], dtype=np.int32),
        np.array(["2024-01-01", "2024-01-02", "2024-01-03"], dtype="M8[D]"),
    ],
    ids=["int64", "strided", "int32", "datetime64"],
)
def test_length_mismatch_leaves_the_log_unchanged(log, ts):
    log.extend([(0, "keep"), (10, "also")])
    log.flush()
    log[5] = "memtable"
    before = snapshot_of(log)
    obj = object()
    refs = sys.getrefcount(obj)
    for objects in ([obj, obj], [obj] * 4, (), (obj,) * 2):
        with pytest.raises(ValueError, match="length mismatch"):
            log.bulk_append(ts, objects)
    del objects
    assert snapshot_of(log) == before
    assert sys.getrefcount(obj) == refs


# ---------------------------------------------------------------- sorted and unsorted input


@pytest.mark.parametrize("n", [10, 5000, 300_000])
@pytest.mark.parametrize("order", ["sorted", "reversed", "shuffled", "late5pct"])
def test_any_order_ends_sorted(n, order):
    rng = np.random.default_rng(n)
    ts = np.sort(rng.integers(-(10**12), 10**12, n))
    if order == "reversed":
        ts = ts[::-1]
    elif order == "shuffled":
        ts = rng.permutation(ts)
    elif order == "late5pct":
        ts = ts.copy()
        late = rng.choice(n, max(1, n // 20), replace=False)
        ts[late] -= rng.integers(0, 10**9, late.size)
    with Timelog(maintenance="disabled") as lg:
        objs = list(range(n))
        lg.bulk_append(ts, objs)
        got_ts, got_objs = lg.arrays()
        assert np.array_equal(got_ts, np.sort(ts))
        # every object is at its own timestamp
        assert np.array_equal(ts[np.array(got_objs)], got_ts)
        lg._validate()


def test_bulk_append_releases_the_gil():
    # A thread spinning in Python makes progress while a large unsorted
    # batch is sorted and stored: the engine call runs without the GIL.
    import threading
    import time

    n = 2_000_000
    ts = np.random.default_rng(0).permutation(n).astype(np.int64)
    objs = [None] * n
    ticks = []
    stop = threading.Event()

    def spin():
        while not stop.is_set():
            ticks.append(time.perf_counter())
            time.sleep(0.0005)

    with Timelog(maintenance="disabled") as lg:
        th = threading.Thread(target=spin)
        th.start()
        try:
            time.sleep(0.01)
            t0 = time.perf_counter()
            lg.bulk_append(ts, objs)
            t1 = time.perf_counter()
        finally:
            stop.set()
            th.join()
        assert len(lg) == n
    during = [t for t in ticks if t0 < t < t1]
    # Without the GIL released the spinner could not run at all in between.
    if t1 - t0 > 0.05:
        assert len(during) >= 3, (t1 - t0, len(during))


# ---------------------------------------------------------------- datetime64 input


@pytest.mark.parametrize(
    "unit,expected",
    [
        ("s", [1704067200, 1704067201]),
        ("ms", [1704067200000, 1704067201000]),
        ("us", [1704067200000000, 1704067201000000]),
        ("ns", [1704067200000000000, 1704067201000000000]),
    ],
)
def test_datetime64_seconds_into_each_unit(unit, expected):
    ts = np.array(["2024-01-01T00:00:01", "2024-01-01T00:00:00"], dtype="M8[s]")
    with Timelog(time_unit=unit, maintenance="disabled") as lg:
        lg.bulk_append(ts, ["b", "a"])
        assert list(lg) == [(expected[0], "a"), (expected[1], "b")]


def test_datetime64_nat_is_a_value_error(log):
    log[0] = "keep"
    ts = np.array(["2024-01-01", "NaT"], dtype="M8[ms]")
    with pytest.raises(ValueError, match="NaT"):
        log.bulk_append(ts, ["a", "b"])
    assert list(log) == [(0, "keep")]


def test_datetime64_overflow_is_an_overflow_error():
    ts = np.array(["2300-01-01"], dtype="M8[D]")  # beyond 2262 in ns
    with Timelog(time_unit="ns", maintenance="disabled") as lg:
        with pytest.raises(OverflowError, match="int64"):
            lg.bulk_append(ts, ["x"])
        assert len(lg) == 0
        lg.bulk_append(np.array(["2262-01-01"], dtype="M8[D]"), ["ok"])
        assert len(lg) == 1


def test_datetime64_respects_min_ts_guard():
    with Timelog(time_unit="s", min_ts=np.datetime64("2024-01-01"), maintenance="disabled") as lg:
        with pytest.raises(ValueError, match="min_ts"):
            lg.bulk_append(
                np.array(["2023-12-31T23:59:59", "2024-06-01"], dtype="M8[s]"), ["old", "new"]
            )
        assert len(lg) == 0


def test_objects_with_array_protocol(log):
    class Column:
        def __array__(self, dtype=None, copy=None):
            return np.array([4, 2], dtype=np.int32)

    log.bulk_append(Column(), ["four", "two"])
    assert list(log) == [(2, "two"), (4, "four")]
