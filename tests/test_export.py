"""The export API: to_numpy() and to_dict().

Checked against what the rest of the API already answers (list(log[t1:t2]),
arrays()) and against NumPy's own conversion (numpy.array(objs, dtype)):
bounds, duplicates, deletes across layers, dtypes, conversion errors with
their PEP 678 note, snapshot isolation, pins released on every path, and
the GIL released between chunks (observed from another thread).
"""

import datetime
import gc
import random
import sys
import threading
import time
from decimal import Decimal
from fractions import Fraction

import numpy as np
import pytest

from timelog import Timelog, TimelogError
from timelog._core import _EXPORT_CHUNK_SIZE as CHUNK

INT64_MIN = -(2**63)
INT64_MAX = 2**63 - 1


def pinned(lg):
    return lg.stats()["operational"]["snapshots"]


def notes(exc):
    return getattr(exc, "__notes__", [])


def expected_numpy(lg, t1, t2, dtype=np.float64):
    recs = list(lg[t1:t2])
    ts = np.array([t for t, _ in recs], dtype=np.int64)
    vals = np.array([o for _, o in recs], dtype=dtype)
    return ts, vals


def layered_log(n=3000, seed=7):
    """Records spread over L1, L0, a memrun and the memtable, with duplicate
    timestamps, the int64 extremes and range deletes."""
    rng = random.Random(seed)
    lg = Timelog(
        maintenance="disabled", memtable_max_bytes=8192, target_page_bytes=1024, sealed_max_runs=64
    )
    k = 0

    def batch(m):
        nonlocal k
        for _ in range(m):
            lg.append(rng.randrange(-500, 500), float(k))
            k += 1

    batch(n // 3)
    lg.flush()
    lg.compact()
    batch(n // 3)
    lg.delete(-50, 20)
    lg.flush()
    batch(n // 3)
    lg.delete(100, 130)
    lg.extend([(INT64_MIN, -1.5), (INT64_MAX, 2.5), (INT64_MAX, 3.5), (0, 4.5)])
    return lg


# ---------------------------------------------------------------- shape of the results


def test_to_numpy_returns_fresh_contiguous_int64_and_float64(log):
    log.extend([(3, 1), (1, 2.5), (2, 7)])
    ts, vals = log.to_numpy()
    assert ts.dtype == np.int64 and vals.dtype == np.float64
    assert ts.ndim == vals.ndim == 1
    for a in (ts, vals):
        assert a.flags.c_contiguous and a.flags.owndata and a.flags.writeable
    assert ts.tolist() == [1, 2, 3]
    assert vals.tolist() == [2.5, 7.0, 1.0]
    ts[0] = 99  # fresh: writing to it changes nothing stored
    assert log.to_numpy()[0].tolist() == [1, 2, 3]


def test_empty_log_and_empty_range_give_empty_arrays(log):
    ts, vals = log.to_numpy()
    assert ts.shape == vals.shape == (0,)
    assert ts.dtype == np.int64 and vals.dtype == np.float64
    assert log.to_dict() == {}
    log.extend([(5, 1.0)])
    ts, vals = log.to_numpy(6, 9, dtype=np.int32)
    assert ts.shape == (0,) and vals.dtype == np.int32
    assert log.to_dict(6, 9) == {}


def test_dtype_is_keyword_only(log):
    log.append(1, 1)
    with pytest.raises(TypeError):
        log.to_numpy(None, None, np.int64)


# ---------------------------------------------------------------- bounds

BOUNDS = [
    (None, None),
    (None, 0),
    (0, None),
    (-100, 100),
    (100, -100),
    (7, 7),
    (INT64_MIN, INT64_MAX),
    (INT64_MAX, None),
    (None, INT64_MAX),
    (INT64_MIN, None),
    (None, INT64_MIN),
    (INT64_MIN, INT64_MIN + 1),
    (-600, 600),
    (119, 131),
]


@pytest.mark.parametrize("t1,t2", BOUNDS)
def test_bounds_match_slicing_across_layers(t1, t2):
    lg = layered_log()
    try:
        ts, vals = lg.to_numpy(t1, t2)
        ets, evals = expected_numpy(lg, t1, t2)
        np.testing.assert_array_equal(ts, ets)
        np.testing.assert_array_equal(vals, evals)
        recs = list(lg[t1:t2])
        assert lg.to_dict(t1, t2) == dict(recs)
        lg._validate()
    finally:
        lg.close()


def test_record_at_int64_max_only_with_an_open_end(log):
    log.extend([(INT64_MAX, 1.0), (INT64_MAX - 1, 2.0)])
    assert log.to_numpy(0)[0].tolist() == [INT64_MAX - 1, INT64_MAX]
    assert log.to_numpy(0, INT64_MAX)[0].tolist() == [INT64_MAX - 1]
    assert log.to_dict(INT64_MAX) == {INT64_MAX: 1.0}
    assert log.to_dict(0, INT64_MAX) == {INT64_MAX - 1: 2.0}


def test_reversed_bounds_are_empty_not_an_error(log):
    log.extend([(t, t) for t in range(10)])
    assert log.to_numpy(8, 2)[0].size == 0
    assert log.to_dict(8, 2) == {}


def test_datetime_bounds():
    lg = Timelog(time_unit="s", maintenance="disabled")
    try:
        base = datetime.datetime(2024, 1, 1)
        for i in range(5):
            lg.append(base + datetime.timedelta(seconds=i), i)
        t1 = base + datetime.timedelta(seconds=1)
        t2 = np.datetime64("2024-01-01T00:00:03")
        ts, vals = lg.to_numpy(t1, t2)
        assert vals.tolist() == [1.0, 2.0]
        assert sorted(lg.to_dict(t1, t2).values()) == [1, 2]
    finally:
        lg.close()


@pytest.mark.parametrize(
    "bad,exc",
    [
        ("1", TypeError),
        (1.5, TypeError),
        (True, TypeError),
        (2**63, OverflowError),
        (-(2**63) - 1, OverflowError),
    ],
)
def test_bad_bounds_raise_like_slicing(log, bad, exc):
    log.append(1, 1)
    with pytest.raises(exc):
        log[bad:None]
    with pytest.raises(exc):
        log.to_numpy(bad)
    with pytest.raises(exc):
        log.to_numpy(None, bad)
    with pytest.raises(exc):
        log.to_dict(bad)
    assert list(log) == [(1, 1)]


def test_closed_log_raises(log):
    log.append(1, 1)
    log.close()
    with pytest.raises(TimelogError, match="closed"):
        log.to_numpy()
    with pytest.raises(TimelogError, match="closed"):
        log.to_numpy(dtype="no such dtype")  # the closed log is reported first
    with pytest.raises(TimelogError, match="closed"):
        log.to_dict()


# ---------------------------------------------------------------- conversion

MIXED = [
    0,
    1,
    -7,
    2**40,
    2.5,
    -0.0,
    True,
    False,
    np.float32(1.25),
    np.int16(-3),
    Decimal("4.5"),
    Fraction(3, 4),
    "6.25",
    np.float64(8.5),
    np.array(9.0),
]


@pytest.mark.parametrize("dtype", [None, np.float64, np.float32, ">f8", "<f4", np.longdouble])
def test_float_conversion_follows_numpy(log, dtype):
    payloads = MIXED + [None, float("inf"), float("nan"), 2**53 + 1, 10**30]
    log.extend(list(enumerate(payloads)))
    ts, vals = log.to_numpy(dtype=dtype)
    want = np.array(payloads, dtype=np.float64 if dtype is None else dtype)
    assert vals.dtype == want.dtype
    np.testing.assert_array_equal(vals, want)
    assert ts.tolist() == list(range(len(payloads)))


@pytest.mark.parametrize(
    "dtype", [np.int64, np.int32, np.int8, np.uint64, np.uint8, ">i8", "int16"]
)
def test_integer_conversion_follows_numpy(log, dtype):
    payloads = [0, 1, 100, True, False, np.int16(7), 2.0, "12", np.uint8(3), 127]
    log.extend(list(enumerate(payloads)))
    ts, vals = log.to_numpy(dtype=dtype)
    want = np.array(payloads, dtype=dtype)
    assert vals.dtype == want.dtype
    np.testing.assert_array_equal(vals, want)


def test_bool_and_none_under_float(log):
    log.extend([(1, True), (2, False), (3, None)])
    vals = log.to_numpy()[1]
    assert vals[0] == 1.0 and vals[1] == 0.0 and np.isnan(vals[2])


def test_big_ints_exact_under_int64_and_rounded_under_float64(log):
    big = [2**53 + 1, 2**62 + 3, -(2**63), 2**63 - 1]
    log.extend(list(enumerate(big)))
    assert log.to_numpy(dtype=np.int64)[1].tolist() == big
    assert log.to_numpy()[1].tolist() == [float(b) for b in big]


def test_uint64_keeps_values_above_int64(log):
    log.extend([(1, 2**64 - 1), (2, 2**63)])
    assert log.to_numpy(dtype=np.uint64)[1].tolist() == [2**64 - 1, 2**63]


@pytest.mark.parametrize(
    "dtype",
    [
        bool,
        np.bool_,
        complex,
        np.complex64,
        object,
        str,
        "U3",
        "S2",
        "M8[s]",
        "m8[ms]",
        [("a", "f8")],
        "(2,)f8",
        "not a dtype",
        3,
        np.ndarray,
        Decimal,
    ],
)
def test_non_numeric_dtypes_are_type_errors(log, dtype):
    log.append(1, 1)
    with pytest.raises(TypeError, match="dtype"):
        log.to_numpy(dtype=dtype)


def test_dtype_objects_and_type_codes_are_accepted(log):
    log.append(1, 3)
    for d in (np.dtype("f4"), "float64", "i4", np.uint16, float, int):
        assert log.to_numpy(dtype=d)[1].dtype == np.dtype(d)


# ---------------------------------------------------------------- conversion errors


class Boom(Exception):
    pass


class BadFloat:
    def __float__(self):
        raise Boom("no float for you")

    def __int__(self):
        raise Boom("no int either")


@pytest.mark.parametrize(
    "payload,dtype,exc",
    [
        (None, np.int64, TypeError),
        (None, np.int32, TypeError),
        ("abc", None, ValueError),
        ("abc", np.int64, ValueError),
        (object(), None, TypeError),
        ([1, 2], None, ValueError),
        ((1.0,), np.float32, ValueError),
        (2**64, np.int64, OverflowError),
        (10**400, None, OverflowError),
        (-1, np.uint8, OverflowError),
        (300, np.int8, OverflowError),
        (1 + 2j, None, TypeError),
        (BadFloat(), None, Boom),
        (BadFloat(), np.float32, Boom),
    ],
)
def test_conversion_error_keeps_its_type_and_names_the_row(log, payload, dtype, exc):
    log.extend([(t, float(t)) for t in range(5)])
    log.append(3, payload)  # row 4: after the other record at 3
    before = pinned(log)
    with pytest.raises(exc) as info:
        log.to_numpy(dtype=dtype)
    assert any("row 4" in n and "timestamp 3" in n for n in notes(info.value)), notes(info.value)
    assert pinned(log) == before
    assert len(log) == 6 and log.at(3)[1] is payload  # nothing lost


def test_first_failing_row_is_reported_past_the_first_chunk(log):
    n = CHUNK * 2 + 100
    log.bulk_append(np.arange(n, dtype=np.int64), [float(i) for i in range(n)])
    bad = CHUNK + 17
    log.append(bad, "not a number")
    log.append(bad + 5, None)
    with pytest.raises(ValueError) as info:
        log.to_numpy()
    # the inserted duplicate at ts=bad comes after the stored one: row bad+1
    assert any("row %d " % (bad + 1) in n for n in notes(info.value))
    with pytest.raises(ValueError) as info:
        log.to_numpy(dtype=np.float32)
    assert any("row %d " % (bad + 1) in n for n in notes(info.value))


def test_pins_released_on_every_path(log):
    log.extend([(t, t) for t in range(100)])
    log.flush()
    log.extend([(t, t) for t in range(100, 120)])
    base = pinned(log)
    log.to_numpy()
    log.to_numpy(10, 50, dtype=np.int8)
    log.to_dict()
    log.to_dict(5)
    assert pinned(log) == base
    log.append(200, "x")
    for dtype in (None, np.int64, np.float32):
        with pytest.raises(ValueError):
            log.to_numpy(dtype=dtype)
        assert pinned(log) == base
    with pytest.raises(TypeError):
        log.to_numpy(dtype=complex)
    with pytest.raises(TypeError):
        log.to_numpy("x")
    assert pinned(log) == base
    # a pin that is leaked would also keep the engine's view of deleted data
    del log[:]
    assert pinned(log) == base
    assert log.to_dict() == {}


# ---------------------------------------------------------------- to_dict


def test_to_dict_last_record_wins_like_dict_of_pairs(small_log):
    lg = small_log
    rng = random.Random(3)
    for i in range(4000):
        lg.append(rng.randrange(0, 300), i)
        if i % 997 == 0:
            lg.flush()
    lg.delete(40, 60)
    d = lg.to_dict()
    assert d == dict(lg[:])
    assert list(d) == sorted(d)  # timestamp order
    for t1, t2 in [(10, 100), (None, 50), (250, None), (60, 40)]:
        assert lg.to_dict(t1, t2) == dict(lg[t1:t2])


def test_to_dict_duplicates_straddling_a_chunk_boundary(log):
    n = CHUNK - 3
    ts = np.concatenate(
        [
            np.arange(n, dtype=np.int64),
            np.full(10, n, dtype=np.int64),
            np.arange(n + 1, n + 50, dtype=np.int64),
        ]
    )
    objs = ["o%d" % i for i in range(ts.size)]
    log.bulk_append(ts, objs)
    d = log.to_dict()
    assert d == dict(log[:])
    assert len(d) == n + 50
    assert d[n] == log.at(n)[-1]


def test_to_dict_returns_the_stored_objects_with_plain_int_keys(log):
    objs = [object() for _ in range(5)]
    log.extend(list(zip([10, 20, 30, 40, 50], objs)))
    refs = [sys.getrefcount(o) for o in objs]
    d = log.to_dict()
    assert type(d) is dict
    assert all(type(k) is int for k in d)
    assert all(d[t] is o for t, o in zip([10, 20, 30, 40, 50], objs))
    assert [sys.getrefcount(o) for o in objs] == [r + 1 for r in refs]
    del d
    gc.collect()
    assert [sys.getrefcount(o) for o in objs] == refs  # no reference leaked


def test_to_numpy_does_not_leak_payload_references(log):
    objs = [Decimal(i) / 4 for i in range(50)]
    log.extend(list(enumerate(objs)))
    refs = [sys.getrefcount(o) for o in objs]
    for dtype in (None, np.float32, np.int64):
        log.to_numpy(dtype=dtype)
    log.append(99, "bad")
    with pytest.raises(ValueError):
        log.to_numpy(dtype=np.float32)
    assert [sys.getrefcount(o) for o in objs] == refs


# ---------------------------------------------------------------- large exports


def test_large_export_matches_arrays(bglog):
    n = 3 * CHUNK + 1234
    rng = np.random.default_rng(5)
    ts = rng.integers(0, n // 2, n)
    objs = rng.integers(-(10**9), 10**9, n).tolist()
    bglog.bulk_append(ts, objs)
    bglog.delete(1000, 2000)
    ats, aobjs = bglog.arrays()
    ts2, vals = bglog.to_numpy(dtype=np.int64)
    np.testing.assert_array_equal(ts2, ats)
    np.testing.assert_array_equal(vals, np.array(aobjs, dtype=np.int64))
    ts3, fvals = bglog.to_numpy()
    np.testing.assert_array_equal(ts3, ats)
    np.testing.assert_array_equal(fvals, np.array(aobjs, dtype=np.float64))
    assert bglog.to_dict() == dict(zip(ats.tolist(), aobjs))


# ---------------------------------------------------------------- isolation and re-entrancy


class Meddler:
    """A payload whose conversion writes to, deletes from or closes the log."""

    def __init__(self, lg, action, value):
        self.lg, self.action, self.value = lg, action, value

    def __float__(self):
        if self.action == "write":
            self.lg.extend([(t, 1.0) for t in range(1000, 1100)])
        elif self.action == "delete":
            del self.lg[:]
            self.lg.flush()
            self.lg.compact()
        elif self.action == "close":
            self.lg.close()
        return self.value


@pytest.mark.parametrize("action", ["write", "delete", "close"])
def test_export_reads_one_snapshot_while_a_payload_changes_the_log(action):
    lg = Timelog(maintenance="disabled")
    try:
        n = CHUNK + 500
        lg.bulk_append(np.arange(n, dtype=np.int64), [float(i) for i in range(n)])
        lg.flush()
        m = Meddler(lg, action, -1.0)
        lg.append(10, m)  # in the first chunk
        row = [o for _, o in lg[:]].index(m)
        ts, vals = lg.to_numpy()
        assert ts.size == n + 1
        assert vals[row] == -1.0
        assert vals[-1] == n - 1
        assert np.array_equal(ts, np.sort(np.concatenate([np.arange(n), [10]])))
        if action == "close":
            assert lg.closed
        elif action == "delete":
            assert len(lg) == 0
        else:
            assert len(lg) == n + 101
    finally:
        lg.close()


def test_to_dict_snapshot_is_taken_before_it_returns(log):
    log.extend([(t, t) for t in range(10)])
    d = log.to_dict()
    log.append(5, "late")
    del log[0:3]
    assert d == {t: t for t in range(10)}


# ---------------------------------------------------------------- the GIL


@pytest.mark.parametrize("how", ["float64", "int64", "float64-decimal", "float32-decimal", "dict"])
def test_long_export_lets_other_threads_run(how):
    """A thread spinning on the GIL must get it during the export, and in
    its second half (an export that released the GIL only while the engine
    filled one big buffer, then converted everything while holding it, lets
    the thread run only near the start and at the very end: checked by
    building with _EXPORT_CHUNK raised to 2**30)."""
    # Decimal payloads convert in C (no bytecode, so no GIL hand-over of
    # the eval loop) but slowly, so the conversion dominates the export:
    # these cases fail when the export holds the GIL for all of it.
    slow = how.endswith("decimal")
    n = (8 if slow else 48) * CHUNK
    lg = Timelog.for_bulk_ingest()
    old = sys.getswitchinterval()
    try:
        lg.bulk_append(
            np.arange(n, dtype=np.int64), [Decimal(i) for i in range(n)] if slow else list(range(n))
        )
        export = {
            "float64": lambda: lg.to_numpy(),
            "int64": lambda: lg.to_numpy(dtype=np.int64),
            "float64-decimal": lambda: lg.to_numpy(),
            "float32-decimal": lambda: lg.to_numpy(dtype=np.float32),
            "dict": lambda: lg.to_dict(),
        }[how]
        export()  # warm-up: page faults, caches
        sys.setswitchinterval(0.001)
        seen = []
        stop = threading.Event()

        def spin():
            while not stop.is_set():
                seen.append(time.perf_counter())

        th = threading.Thread(target=spin)
        th.start()
        try:
            while not seen:
                time.sleep(0.001)
            t0 = time.perf_counter()
            out = export()
            t1 = time.perf_counter()
        finally:
            stop.set()
            th.join(10)
        assert len(out[0] if how != "dict" else out) == n
        during = [s for s in seen if t0 < s < t1]
        assert during, "the other thread never ran during a %.0f ms export" % ((t1 - t0) * 1e3)
        # The window ends before the export does: on its way out the call
        # returns to the eval loop, which hands the GIL over anyway.
        lo, hi = t0 + (t1 - t0) * 0.5, t0 + (t1 - t0) * 0.9
        assert any(lo < s < hi for s in during), (
            "the other thread never ran in the second half of a %.0f ms export" % ((t1 - t0) * 1e3)
        )
    finally:
        sys.setswitchinterval(old)
        lg.close()
