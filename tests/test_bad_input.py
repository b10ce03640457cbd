"""Bad input raises the documented built-in errors and leaves the log unchanged."""

import array
import copy
import datetime
import decimal
import fractions

import numpy as np
import pytest

from timelog import Timelog

# datetime.datetime and numpy.datetime64 are valid timestamps (test_datetime.py);
# a date, a time of day or a duration is not.
BAD_TYPES = [
    True,
    False,
    1.0,
    1.5,
    "1",
    b"1",
    None,
    [1],
    (1,),
    1j,
    np.float64(1.0),
    np.bool_(True),
    datetime.date(2024, 1, 1),
    datetime.timedelta(seconds=1),
    np.timedelta64(1, "ms"),
    datetime.time(1),
]
OUT_OF_RANGE = [2**63, -(2**63) - 1, 2**100, -(2**70)]


@pytest.fixture
def seeded(log):
    log.extend([(1, "a"), (2, "b"), (3, "c")])
    return log


def unchanged(lg):
    return list(lg) == [(1, "a"), (2, "b"), (3, "c")] and len(lg) == 3


WRITES = {
    "append_ts_obj": lambda lg, t: lg.append(t, "x"),
    "append_kw": lambda lg, t: lg.append("x", ts=t),
    "setitem": lambda lg, t: lg.__setitem__(t, "x"),
    "extend_strict": lambda lg, t: lg.extend([(5, "ok"), (t, "x")], insert_on_error=False),
    "extend_lists_strict": lambda lg, t: lg.extend([5, t], ["ok", "x"], insert_on_error=False),
    "delete_point": lambda lg, t: lg.delete(t),
    "delete_range_lo": lambda lg, t: lg.delete(t, 10),
    "delete_range_hi": lambda lg, t: lg.delete(0, t),
    "cutoff": lambda lg, t: lg.cutoff(t),
    "delitem": lambda lg, t: lg.__delitem__(t),
    "delitem_slice": lambda lg, t: lg.__delitem__(slice(t, 10)),
}

READS = {
    "getitem": lambda lg, t: lg[t],
    "at": lambda lg, t: lg.at(t),
    "slice": lambda lg, t: lg[t:10],
    "slice_hi": lambda lg, t: lg[0:t],
    "range": lambda lg, t: lg.range(t, 10),
    "range_hi": lambda lg, t: lg.range(0, t),
    "since": lambda lg, t: lg.since(t),
    "until": lambda lg, t: lg.until(t),
    "point": lambda lg, t: lg.point(t),
    "equal": lambda lg, t: lg.equal(t),
    "next_ts": lambda lg, t: lg.next_ts(t),
    "prev_ts": lambda lg, t: lg.prev_ts(t),
    "contains": lambda lg, t: t in lg,
    "views": lambda lg, t: lg.views(t, 10),
    "count": lambda lg, t: lg.count(t, 10),
    "count_hi": lambda lg, t: lg.count(0, t),
    "arrays": lambda lg, t: lg.arrays(t, 10),
    "timestamps": lambda lg, t: lg.timestamps(0, t),
    "histogram": lambda lg, t: lg.histogram(t, 10, bins=2),
    "histogram_hi": lambda lg, t: lg.histogram(0, t, bins=2),
    "counts": lambda lg, t: lg.counts(t, 10, 1),
    "counts_hi": lambda lg, t: lg.counts(0, t, 1),
}


# None is an open bound where a call takes two bounds (a slice, delete(t1, t2),
# views(), count(), arrays(), histogram(), ...); everywhere else it is a bad
# timestamp.
NONE_IS_OPEN = {
    "delete_range_lo",
    "delete_range_hi",
    "delitem_slice",
    "slice",
    "slice_hi",
    "range",
    "range_hi",
    "views",
    "count",
    "count_hi",
    "arrays",
    "timestamps",
    "histogram",
    "histogram_hi",
    "counts",
    "counts_hi",
}
# append(obj, ts=None) takes the wall clock, as in the reference design
# (tests/test_append.py checks it).
NONE_IS_AUTO = {"append_kw"}


@pytest.mark.parametrize("op", sorted(WRITES))
@pytest.mark.parametrize("bad", BAD_TYPES, ids=repr)
def test_write_bad_type(seeded, op, bad):
    if bad is None and (op in NONE_IS_OPEN or op in NONE_IS_AUTO):
        return
    with pytest.raises(TypeError):
        WRITES[op](seeded, bad)
    assert unchanged(seeded)


@pytest.mark.parametrize("op", sorted(WRITES))
@pytest.mark.parametrize("bad", OUT_OF_RANGE)
def test_write_out_of_range(seeded, op, bad):
    with pytest.raises(OverflowError, match="int64"):
        WRITES[op](seeded, bad)
    assert unchanged(seeded)


@pytest.mark.parametrize("op", sorted(READS))
@pytest.mark.parametrize("bad", BAD_TYPES, ids=repr)
def test_read_bad_type(seeded, op, bad):
    if bad is None and op in NONE_IS_OPEN:
        return
    with pytest.raises(TypeError):
        READS[op](seeded, bad)
    assert unchanged(seeded)


@pytest.mark.parametrize("op", sorted(READS))
@pytest.mark.parametrize("bad", OUT_OF_RANGE)
def test_read_out_of_range(seeded, op, bad):
    with pytest.raises(OverflowError):
        READS[op](seeded, bad)
    assert unchanged(seeded)


def test_type_error_message_explains_timestamps(seeded):
    with pytest.raises(TypeError, match="integers .*time_unit"):
        seeded[1.5] = "x"
    with pytest.raises(TypeError, match="use a datetime.datetime"):
        seeded[datetime.date(2024, 1, 1)] = "x"
    with pytest.raises(TypeError, match="duration"):
        seeded[datetime.timedelta(days=1)] = "x"
    with pytest.raises(OverflowError, match=r"2\*\*63"):
        seeded[2**63] = "x"


@pytest.mark.parametrize("step", [2, -1, 0, "x", 1.0, True, np.int64(2), np.int32(0)], ids=repr)
def test_slice_step_rejected(seeded, step):
    with pytest.raises(ValueError, match="step"):
        seeded[0:10:step]
    with pytest.raises(ValueError, match="step"):
        del seeded[0:10:step]
    assert unchanged(seeded)


def test_slice_assignment_rejected(seeded):
    with pytest.raises(TypeError):
        seeded[0:10] = "x"
    assert unchanged(seeded)


def test_length_mismatch(seeded):
    with pytest.raises(ValueError):
        seeded.extend([1, 2], ["x"])
    with pytest.raises(ValueError):
        seeded.bulk_append(np.array([1, 2], dtype=np.int64), ["x"])
    assert unchanged(seeded)


def test_bad_extend_structure(seeded):
    with pytest.raises(ValueError):
        seeded.extend([(1, "x"), (2,)])
    with pytest.raises(TypeError):
        seeded.extend(5)  # not iterable
    assert unchanged(seeded)


def test_append_arity(seeded):
    with pytest.raises(TypeError):
        seeded.append()
    with pytest.raises(TypeError):
        seeded.append(1, 2, 3)
    with pytest.raises(TypeError, match="positional argument"):
        seeded.append(obj_or_none="x")
    with pytest.raises(TypeError, match="multiple values"):
        seeded.append(1, obj_or_ts="x")
    with pytest.raises(TypeError, match="bogus"):
        seeded.append(1, "x", bogus=1)
    assert unchanged(seeded)


def test_none_bounds_are_open_not_errors(seeded):
    assert [t for t, _ in seeded[None:3]] == [1, 2]
    assert [t for t, _ in seeded[2:None]] == [2, 3]
    seeded.delete(None, 2)
    assert [t for t, _ in seeded] == [2, 3]
    seeded.delete(3, None)
    assert [t for t, _ in seeded] == [2]


# ---------------------------------------------------------------- more bad timestamps

# Floats are never timestamps, not even NaN/inf or integral ones; neither are
# Decimal and Fraction (no __index__), nor a timedelta (with a unit: NumPy 2.5
# deprecates unitless NaT).
NON_INTEGERS = [
    float("nan"),
    float("inf"),
    float("-inf"),
    np.float64("nan"),
    np.float32(3.0),
    decimal.Decimal(1),
    fractions.Fraction(1, 1),
    np.timedelta64("NaT", "s"),
    np.array([1]),
    object(),
]


@pytest.mark.parametrize("op", sorted(WRITES))
@pytest.mark.parametrize("bad", NON_INTEGERS, ids=repr)
def test_write_non_integer(seeded, op, bad):
    with pytest.raises(TypeError):
        WRITES[op](seeded, bad)
    assert unchanged(seeded)


@pytest.mark.parametrize("op", sorted(READS))
@pytest.mark.parametrize("bad", NON_INTEGERS, ids=repr)
def test_read_non_integer(seeded, op, bad):
    with pytest.raises(TypeError):
        READS[op](seeded, bad)
    assert unchanged(seeded)


class IndexError_(Exception):
    """Raised by BadIndex.__index__: must reach the caller unchanged."""


class BadIndex:
    def __init__(self):
        self.exc = IndexError_("from __index__")

    def __index__(self):
        raise self.exc


class NotAnInt:
    def __index__(self):
        return "5"  # __index__ returning a non-int


@pytest.mark.parametrize("op", sorted(WRITES) + sorted(READS))
def test_index_raising_propagates_unchanged(seeded, op):
    bad = BadIndex()
    call = WRITES.get(op) or READS[op]
    with pytest.raises(IndexError_) as info:
        call(seeded, bad)
    assert info.value is bad.exc
    assert unchanged(seeded)
    with pytest.raises(TypeError):
        call(seeded, NotAnInt())
    assert unchanged(seeded)


def test_index_raising_in_extend(seeded):
    bad = BadIndex()
    # Not a TypeError/OverflowError/ValueError: never "an invalid timestamp to
    # skip", it propagates and nothing is stored, insert_on_error or not.
    for flag in (True, False):
        with pytest.raises(IndexError_):
            seeded.extend([(7, "a"), (bad, "b")], insert_on_error=flag)
        with pytest.raises(IndexError_):
            seeded.extend([7, bad], ["a", "b"], insert_on_error=flag)
    assert unchanged(seeded) and seeded.extend_skipped == 0
    # An __index__ that returns a non-int is a TypeError: skipped by default.
    with pytest.warns(RuntimeWarning, match="skipped 1"):
        seeded.extend([(7, "a"), (NotAnInt(), "b")])
    assert seeded[7] == ["a"] and seeded.extend_skipped == 1


def test_index_raising_in_sizes_and_config():
    bad = BadIndex()
    log = Timelog(maintenance="disabled")
    log.extend((t, t) for t in range(10))
    it = log.all()
    for call in [
        lambda: it.next_batch(bad),
        lambda: log.histogram(0, 10, bins=bad),
        lambda: log.counts(0, 10, bad),
        lambda: Timelog(memtable_max_bytes=bad),
        lambda: Timelog(min_ts=bad),
        lambda: log.views(0, bad),
        lambda: log.delete(bad, None),
    ]:
        with pytest.raises(IndexError_):
            call()
    assert len(it) == 10 and len(log) == 10
    log.close()


# ---------------------------------------------------------------- sizes


def test_next_batch_sizes(log):
    log.extend((t, t) for t in range(100))
    it = log.all()
    with pytest.raises(ValueError, match=">= 0"):
        it.next_batch(-1)
    for bad in [1.5, True, None, "3", np.float64(2)]:
        with pytest.raises(TypeError):
            it.next_batch(bad)
    assert it.next_batch(0) == []
    assert it.next_batch(np.int8(3)) == [(0, 0), (1, 1), (2, 2)]
    assert len(it) == 97
    # far beyond memory: sized by what is left, not by n
    assert it.next_batch(2**62) == [(t, t) for t in range(3, 100)]
    assert it.closed and it.next_batch(2**100) == []
    big = log.all()
    assert len(big.next_batch(2**100)) == 100


def test_next_batch_huge_on_a_large_iterator(log):
    n = 10_000  # above the size of one buffered refill
    log.bulk_append(np.arange(n, dtype=np.int64), list(range(n)))
    it = log.all()
    next(it)
    assert [t for t, _ in it.next_batch(2**63 - 1)] == list(range(1, n))
    assert it.closed


@pytest.mark.parametrize("bins", [0, -1, -(2**70)])
def test_histogram_bins_not_positive(seeded, bins):
    with pytest.raises(ValueError, match="bins must be a positive int"):
        seeded.histogram(0, 10, bins=bins)


@pytest.mark.parametrize("bins", [1.5, True, None, "3", [3]])
def test_histogram_bins_wrong_type(seeded, bins):
    with pytest.raises(TypeError, match="bins"):
        seeded.histogram(0, 10, bins=bins)


def test_histogram_bins_beyond_memory(seeded):
    with pytest.raises(ValueError, match="too many"):
        seeded.histogram(0, 10, bins=2**70)
    with pytest.raises((ValueError, MemoryError)):
        seeded.histogram(0, 10, bins=2**50)
    assert seeded.histogram(0, 10, bins=np.int16(2))[0].tolist() == [3, 0]


@pytest.mark.parametrize("step", [0, -5, -(2**70)])
def test_counts_step_not_positive(seeded, step):
    with pytest.raises(ValueError, match="step must be a positive int"):
        seeded.counts(0, 10, step)


def test_counts_step_extremes(seeded):
    assert seeded.counts(0, 10, 2**70).tolist() == [3]  # one bucket
    assert seeded.counts(10, 0, 1).tolist() == []  # empty range
    with pytest.raises(ValueError, match="too many"):
        seeded.counts(-(2**63), 2**63 - 1, 1)  # 2**64 buckets
    with pytest.raises(TypeError):
        seeded.counts(0, 10, 1.0)
    assert unchanged(seeded)


BAD_CONFIG = [
    ("memtable_max_bytes", 2**70, ValueError),
    ("memtable_max_bytes", -1, ValueError),
    ("target_page_bytes", 2**64, ValueError),
    ("sealed_max_runs", -(2**70), ValueError),
    ("sealed_wait_ms", 2**32, ValueError),
    ("maintenance_wakeup_ms", -1, ValueError),
    ("window_size", -1, ValueError),
    ("window_size", 2**63, ValueError),
    ("window_origin", 2**63, ValueError),
    ("drain_batch_limit", 2**70, ValueError),
    ("delete_debt_threshold", float("nan"), ValueError),
    ("delete_debt_threshold", float("inf"), ValueError),
    ("delete_debt_threshold", -0.1, ValueError),
    ("delete_debt_threshold", 1.5, ValueError),
    ("delete_debt_threshold", "0.5", TypeError),
    ("delete_debt_threshold", True, TypeError),
    ("memtable_max_bytes", 1.5, TypeError),
    ("memtable_max_bytes", float("nan"), TypeError),
    ("memtable_max_bytes", "1", TypeError),
    ("memtable_max_bytes", None, TypeError),
    ("memtable_max_bytes", True, TypeError),
    ("compaction", {"target_bytes": -1}, ValueError),
    ("compaction", {"target_bytes": 2**70}, ValueError),
    ("compaction", {"nope": 1}, ValueError),
    ("compaction", [1], TypeError),
    ("compaction", {"max_inputs": 1.5}, TypeError),
    ("time_unit", "min", ValueError),
    ("time_unit", None, TypeError),
    ("maintenance", "sometimes", ValueError),
    ("busy_policy", 1, TypeError),
    ("min_ts", 2**63, ValueError),
    ("min_ts", 1.5, TypeError),
    ("mostly_ordered_default", 1, TypeError),
]


@pytest.mark.parametrize("name,value,exc", BAD_CONFIG, ids=lambda v: repr(v)[:30])
def test_bad_config_names_the_parameter(name, value, exc):
    with pytest.raises(exc, match=name.split("[")[0]):
        Timelog(**{name: value})
    # reopen() validates the same way and leaves the log closed
    log = Timelog(maintenance="disabled")
    log.close()
    with pytest.raises(exc):
        log.reopen(**{name: value})
    assert log.closed


# ---------------------------------------------------------------- timestamp buffers

GOOD_BUFFERS = {
    "strided": lambda: np.arange(6, dtype=np.int64)[::2],
    "reversed": lambda: np.arange(3, dtype=np.int64)[::-1],
    "fortran_column": lambda: np.asfortranarray(np.arange(6, dtype=np.int64).reshape(3, 2))[:, 0],
    "c_column": lambda: np.arange(6, dtype=np.int64).reshape(3, 2)[:, 1],
    "big_endian": lambda: np.array([1, 2, 3], dtype=">i8"),
    "read_only": lambda: _read_only(np.array([1, 2, 3], dtype=np.int64)),
    "int8": lambda: np.array([1, 2, 3], dtype=np.int8),
    "uint64_small": lambda: np.array([1, 2, 3], dtype=np.uint64),
    "array_q": lambda: array.array("q", [1, 2, 3]),
    "array_i": lambda: array.array("i", [1, 2, 3]),
    "memoryview_strided": lambda: memoryview(array.array("q", [1, 0, 2, 0, 3, 0]))[::2],
    "bytes": lambda: b"\x01\x02\x03",
}


def _read_only(a):
    a.setflags(write=False)
    return a


@pytest.mark.parametrize("kind", sorted(GOOD_BUFFERS))
def test_bulk_append_accepts_any_integer_buffer(log, kind):
    buf = GOOD_BUFFERS[kind]()
    objs = ["a", "b", "c"]
    log.bulk_append(buf, objs)
    want = sorted(zip([int(x) for x in np.asarray(memoryview(buf))], objs))
    assert sorted(log) == want


BAD_BUFFERS = {
    "float64": (lambda: np.array([1.0, 2.0, 3.0]), TypeError),
    "float_nan": (lambda: np.array([np.nan, 1.0, 2.0]), TypeError),
    "float32": (lambda: np.array([1, 2, 3], dtype=np.float32), TypeError),
    "bool": (lambda: np.array([True, False, True]), TypeError),
    "object": (lambda: np.array([1, 2, 3], dtype=object), TypeError),
    "complex": (lambda: np.array([1, 2, 3], dtype=complex), TypeError),
    "str": (lambda: np.array(["1", "2", "3"]), TypeError),
    "timedelta": (lambda: np.array([1, 2, 3], dtype="m8[s]"), TypeError),
    "uint64_big": (lambda: np.array([1, 2, 2**63], dtype=np.uint64), TypeError),
    "array_d": (lambda: array.array("d", [1, 2, 3]), TypeError),
    "2d": (lambda: np.zeros((3, 1), dtype=np.int64), ValueError),
    "0d": (lambda: np.int64(5), ValueError),  # a scalar's buffer is 0-d
    "0d_array": (lambda: np.array(5, dtype=np.int64), ValueError),
    "nat": (lambda: np.array(["NaT", "2024-01-01", "2024-01-02"], dtype="M8[s]"), ValueError),
    "list": (lambda: [1, 2, 3], TypeError),
    "none": (lambda: None, TypeError),
    "generator": (lambda: (t for t in [1, 2, 3]), TypeError),
    "length_mismatch": (lambda: np.array([1, 2], dtype=np.int64), ValueError),
    "dt64_overflow": (lambda: np.array([2**62, 0, 0], dtype="M8[s]"), OverflowError),
}


@pytest.mark.parametrize("kind", sorted(BAD_BUFFERS))
def test_bulk_append_rejects_bad_buffers(seeded, kind):
    make, exc = BAD_BUFFERS[kind]
    with pytest.raises(exc):
        seeded.bulk_append(make(), ["a", "b", "c"])
    assert unchanged(seeded)


# Anything without a stable order and a length (or text, which would store
# one character each) is refused, with the remedy in the message.
@pytest.mark.parametrize(
    "make",
    [
        lambda: iter(["a"]),
        lambda: (o for o in ["a"]),
        lambda: {"a": 1},
        lambda: {"a"},
        lambda: frozenset(["a"]),
        lambda: {"a": 1}.keys(),
        lambda: "a",
        lambda: b"a",
        lambda: bytearray(b"a"),
        lambda: memoryview(b"a"),
        lambda: None,
        lambda: 1,
        lambda: map(str, [1]),
        lambda: np.array("a", dtype=object),
    ],
    ids=lambda make: type(make()).__name__,
)
def test_bulk_append_objects_must_be_a_sequence(seeded, make):
    objects = make()
    with pytest.raises(TypeError, match="pass a list"):
        seeded.bulk_append(np.array([1], dtype=np.int64), objects)
    assert unchanged(seeded)


def test_bulk_append_array_conversion_error_propagates(seeded):
    class Arr:
        def __array__(self, *a, **k):
            raise IndexError_("from __array__")

    with pytest.raises(IndexError_):
        seeded.bulk_append(Arr(), ["a"])
    assert unchanged(seeded)


def test_bulk_append_empty_is_a_no_op(seeded):
    seeded.bulk_append(np.array([], dtype=np.int64), [])
    seeded.bulk_append(np.array([], dtype=np.float64).astype(np.int64), ())
    assert unchanged(seeded)


# ---------------------------------------------------------------- payloads the engine never inspects


class Touchy:
    """A payload that fails loudly if anyone compares, hashes, orders or
    tests it: the engine and the binding treat payloads as opaque."""

    def __eq__(self, other):
        raise AssertionError("__eq__ called on a payload")

    __ne__ = __lt__ = __le__ = __gt__ = __ge__ = __eq__

    def __hash__(self):
        raise AssertionError("__hash__ called on a payload")

    def __bool__(self):
        raise AssertionError("__bool__ called on a payload")

    def __len__(self):
        raise AssertionError("__len__ called on a payload")

    def __index__(self):
        raise AssertionError("__index__ called on a payload")

    def __array__(self, *a, **k):
        raise AssertionError("__array__ called on a payload")


def test_payload_methods_are_never_called():
    log = Timelog(
        maintenance="disabled", memtable_max_bytes=1024, target_page_bytes=256, window_size=10
    )
    objs = [Touchy() for _ in range(300)]
    log.append(1, objs[0])
    log.append(objs[1], ts=2)
    log[3] = objs[2]
    log.extend([(t, o) for t, o in zip(range(4, 51), objs[3:50])])  # ts t -> objs[t - 1]
    log.extend(list(range(50, 100)), objs[50:100])
    log.extend(tuple(range(100, 150)), tuple(objs[100:150]))
    log.bulk_append(np.arange(150, 300, dtype=np.int64)[::-1].copy(), objs[150:300])
    log.append(objs[0])  # wall clock
    del log[10:20]
    log.cutoff(5)
    log.flush()
    log.compact()
    got = list(log)
    assert len(got) == len(log) == 300 - 10 - 4 + 1  # 300 stored + the wall clock one
    assert got[0][1] is objs[4]
    assert log[30][0] is objs[29] and log.at(30)[0] is objs[29]
    ts, o = log.arrays(0, 100)
    assert o[0] is objs[4]
    it = log.all()
    it.next_batch(5)
    assert it.to_numpy()[1][0] is objs[19]
    for span in log.views():
        list(span.objects())
        span.objects()[0:2]
        span.objects().copy()
    log.histogram(bins=4)
    log.count(0, 100)
    assert 30 in log
    repr(log)
    log._repr_html_()
    clone = copy.copy(log)
    assert [o for _, o in clone][0] is objs[4]
    clone.close()
    log.to_pandas(0, 10)
    log.close()


@pytest.mark.parametrize("cls", ["TimelogIter", "PageSpan", "PageSpanIter", "PageSpanObjectsView"])
def test_internal_types_cannot_be_constructed(cls):
    import timelog

    with pytest.raises(TypeError):
        getattr(timelog, cls)()


@pytest.mark.parametrize("step", [1, np.int64(1), np.uint8(1), np.int32(1)], ids=repr)
def test_integer_like_step_of_one_is_a_plain_slice(seeded, step):
    assert list(seeded[1:3:step]) == [(1, "a"), (2, "b")]
    assert list(seeded[2::step]) == [(2, "b"), (3, "c")]
    del seeded[1:2:step]
    assert list(seeded) == [(2, "b"), (3, "c")]
