"""Every append form, ``log[ts] = obj``, identity, int64 extremes."""

import time

import numpy as np
import pytest

from timelog import Timelog

INT64_MIN = -(2**63)
INT64_MAX = 2**63 - 1


def test_append_ts_obj(log):
    log.append(10, "a")
    assert list(log) == [(10, "a")]


def test_append_obj_with_ts_keyword(log):
    log.append("a", ts=10)
    assert list(log) == [(10, "a")]


def test_setitem(log):
    log[10] = "a"
    log[10] = "b"  # a multimap: never replaces
    assert sorted(log[10]) == ["a", "b"]
    assert len(log) == 2


def test_append_returns_none(log):
    assert log.append(1, "x") is None
    assert log.append("x", ts=2) is None
    assert log.append("x") is None


@pytest.mark.parametrize(
    "unit,ns_per_unit", [("s", 10**9), ("ms", 10**6), ("us", 10**3), ("ns", 1)]
)
def test_append_obj_uses_wall_clock_in_time_unit(unit, ns_per_unit):
    with Timelog(time_unit=unit, maintenance="disabled") as log:
        before = time.time_ns() // ns_per_unit
        log.append("now")
        after = time.time_ns() // ns_per_unit
        ((ts, obj),) = list(log)
        assert obj == "now"
        assert before <= ts <= after


def test_append_single_positional_is_the_object_even_if_int(log):
    log.append(12345)
    ((ts, obj),) = list(log)
    assert obj == 12345
    assert ts > 1_600_000_000_000  # wall clock in ms, not 12345


def test_append_none_object(log):
    log.append(5, None)
    log[6] = None
    assert list(log) == [(5, None), (6, None)]


def test_two_arguments_ignore_a_ts_keyword(log):
    # timelog-lib's rule: with (ts, obj) given, ts= is ignored, not even
    # validated.
    log.append(5, "x", ts=9)
    log.append(6, "y", ts="not a timestamp")
    log.append(7, obj_or_none="z", ts=2**100)
    assert list(log) == [(5, "x"), (6, "y"), (7, "z")]


def test_signature_has_the_reference_parameter_names():
    import inspect

    sig = inspect.signature(Timelog.append)
    params = sig.parameters
    assert list(params) == ["self", "obj_or_ts", "obj_or_none", "ts"]
    assert params["obj_or_ts"].kind is inspect.Parameter.POSITIONAL_OR_KEYWORD
    assert params["obj_or_ts"].default is inspect.Parameter.empty
    assert params["obj_or_none"].kind is inspect.Parameter.POSITIONAL_OR_KEYWORD
    assert params["obj_or_none"].default is None
    assert params["ts"].kind is inspect.Parameter.KEYWORD_ONLY
    assert params["ts"].default is None
    sig.bind(Timelog, obj_or_ts="x")
    sig.bind(Timelog, 1, obj_or_none="x", ts=3)
    with pytest.raises(TypeError):
        sig.bind(Timelog, obj_or_none="x")
    bound = inspect.signature(Timelog(maintenance="disabled").append)
    assert list(bound.parameters) == ["obj_or_ts", "obj_or_none", "ts"]


def test_keyword_forms_match_the_positional_ones():
    log = Timelog(maintenance="disabled", time_unit="ms")
    before = time.time_ns() // 10**6
    log.append(obj_or_ts="now")  # append(obj)
    after = time.time_ns() // 10**6
    log.append(obj_or_ts="kw-ts", ts=7)  # append(obj, ts=7)
    log.append(obj_or_ts=5, obj_or_none="both")  # append(5, obj)
    log.append(6, obj_or_none="mixed", ts=10)  # ts= ignored
    log.append(obj_or_ts="none-ts", ts=None)  # ts=None: now
    assert log[7] == ["kw-ts"] and log[5] == ["both"] and log[6] == ["mixed"]
    assert log[10] == []
    stamped = {o: t for t, o in log}
    assert before <= stamped["now"] <= after + 1000
    assert stamped["none-ts"] >= stamped["now"]
    log.close()


def test_explicit_none_is_a_stored_object(log):
    # Only an ABSENT second argument means "no object": None is stored.
    log.append(3, None)
    log.append(obj_or_ts=4, obj_or_none=None)
    assert list(log) == [(3, None), (4, None)]


def test_keyword_mistakes_store_nothing(log):
    with pytest.raises(TypeError, match="multiple values"):
        log.append(1, obj_or_ts=2)
    with pytest.raises(TypeError, match="unexpected keyword"):
        log.append(1, "x", obj=3)
    with pytest.raises(TypeError):
        log.append(obj_or_none="x")
    with pytest.raises(TypeError):
        log.append(obj_or_ts="x", ts="nonsense")
    assert len(log) == 0


def test_reversed_is_refused_with_a_pointer_to_prev_ts(log):
    log.append(1, "a")
    log.append(2, "b")
    with pytest.raises(TypeError, match=r"prev_ts") as info:
        reversed(log)
    assert "forward" in str(info.value)
    # what it points to works
    assert log.prev_ts(3) == 2 and log.prev_ts(2) == 1 and log.prev_ts(1) is None
    assert list(log[0:3])[::-1] == [(2, "b"), (1, "a")]


def test_identity_preserved(log):
    objs = [object(), [], {"k": 1}, "s", 3.5]
    for i, o in enumerate(objs):
        log.append(i, o)
    got = [o for _, o in log]
    assert all(a is b for a, b in zip(got, objs))
    assert log[2][0] is objs[2]


def test_identity_preserved_through_flush_and_compact(log):
    objs = [object() for _ in range(100)]
    for i, o in enumerate(objs):
        log[i] = o
    log.flush()
    log.compact()
    got = [o for _, o in log]
    assert len(got) == 100 and all(a is b for a, b in zip(got, objs))


def test_same_object_many_times(log):
    o = object()
    for i in range(5):
        log[i % 2] = o
    assert len(log) == 5
    assert all(x is o for _, x in log)


@pytest.mark.parametrize("ts", [INT64_MIN, INT64_MIN + 1, -1, 0, 1, INT64_MAX - 1, INT64_MAX])
def test_int64_extremes(log, ts):
    log.append(ts, "x")
    log[ts] = "y"
    log.append("z", ts=ts)
    assert sorted(log[ts]) == ["x", "y", "z"]
    assert log.min_ts() == ts and log.max_ts() == ts
    log.flush()
    log.compact()
    assert sorted(log[ts]) == ["x", "y", "z"]
    log._validate()


def test_extremes_together_sorted(log):
    for ts in [INT64_MAX, 0, INT64_MIN, 5, INT64_MAX, INT64_MIN]:
        log[ts] = ts
    expected = [INT64_MIN, INT64_MIN, 0, 5, INT64_MAX, INT64_MAX]
    assert [t for t, _ in log] == expected
    log.flush()
    assert [t for t, _ in log] == expected
    log.compact()
    assert [t for t, _ in log] == expected
    log._validate()


def test_numpy_and_index_timestamps_accepted(log):
    class Idx:
        def __index__(self):
            return 42

    log[np.int64(1)] = "a"
    log.append(np.int32(2), "b")
    log.append("c", ts=np.uint8(3))
    log[Idx()] = "d"
    assert [t for t, _ in log] == [1, 2, 3, 42]
    assert all(type(t) is int for t, _ in log)


def test_out_of_order_appends_read_sorted(log):
    import random

    rng = random.Random(7)
    ts = [rng.randrange(-1000, 1000) for _ in range(2000)]
    for i, t in enumerate(ts):
        log.append(t, i)
    got = list(log)
    assert [t for t, _ in got] == sorted(ts)
    assert sorted(o for _, o in got) == list(range(2000))


def test_append_many_crosses_seals(small_log):
    for i in range(5000):
        small_log[i] = i
    assert len(small_log) == 5000
    assert small_log.stats()["operational"]["seals_total"] > 0
    assert [o for _, o in small_log] == list(range(5000))
    small_log._validate()


def test_background_append(bglog):
    for i in range(20000):
        bglog[i] = i
    assert len(bglog) == 20000
    assert [o for _, o in bglog.range(100, 105)] == [100, 101, 102, 103, 104]
    bglog._validate()
