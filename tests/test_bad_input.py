"""Bad input raises the documented built-in errors and leaves the log unchanged."""

import datetime

import numpy as np
import pytest

from timelog import Timelog, TimelogError

# datetime.datetime and numpy.datetime64 are valid timestamps (test_datetime.py);
# a date, a time of day or a duration is not.
BAD_TYPES = [True, False, 1.0, 1.5, "1", b"1", None, [1], (1,), 1j,
             np.float64(1.0), np.bool_(True), datetime.date(2024, 1, 1),
             datetime.timedelta(seconds=1), np.timedelta64(1, "ms"), datetime.time(1)]
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
NONE_IS_OPEN = {"delete_range_lo", "delete_range_hi", "delitem_slice", "slice",
                "slice_hi", "views", "count", "count_hi", "arrays", "timestamps",
                "histogram", "histogram_hi", "counts", "counts_hi"}
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


@pytest.mark.parametrize("step", [2, -1, 0, "x", 1.0])
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
    with pytest.raises(TypeError):
        seeded.append(1, "x", ts=1)
    assert unchanged(seeded)


CLOSED_CALLS = {
    "append": lambda lg: lg.append(1, "x"),
    "append_now": lambda lg: lg.append("x"),
    "append_kw": lambda lg: lg.append("x", ts=1),
    "setitem": lambda lg: lg.__setitem__(1, "x"),
    "extend": lambda lg: lg.extend([(1, "x")]),
    "bulk_append": lambda lg: lg.bulk_append(np.array([1], dtype=np.int64), ["x"]),
    "delete": lambda lg: lg.delete(1),
    "delete_range": lambda lg: lg.delete(1, 2),
    "cutoff": lambda lg: lg.cutoff(1),
    "delitem": lambda lg: lg.__delitem__(slice(None)),
    "getitem": lambda lg: lg[1],
    "slice": lambda lg: lg[1:2],
    "range": lambda lg: lg.range(1, 2),
    "since": lambda lg: lg.since(1),
    "until": lambda lg: lg.until(1),
    "all": lambda lg: lg.all(),
    "iter": lambda lg: iter(lg),
    "point": lambda lg: lg.point(1),
    "len": lambda lg: len(lg),
    "contains": lambda lg: 1 in lg,
    "count": lambda lg: lg.count(),
    "arrays": lambda lg: lg.arrays(),
    "timestamps": lambda lg: lg.timestamps(0, 10),
    "histogram": lambda lg: lg.histogram(0, 10, bins=2),
    "counts": lambda lg: lg.counts(0, 10, 5),
    "min_ts": lambda lg: lg.min_ts(),
    "max_ts": lambda lg: lg.max_ts(),
    "next_ts": lambda lg: lg.next_ts(1),
    "prev_ts": lambda lg: lg.prev_ts(1),
    "views": lambda lg: lg.views(),
    "flush": lambda lg: lg.flush(),
    "compact": lambda lg: lg.compact(),
    "maint_step": lambda lg: lg.maint_step(),
    "stats": lambda lg: lg.stats(),
    "validate": lambda lg: lg._validate(),
    "enter": lambda lg: lg.__enter__(),
}


@pytest.mark.parametrize("call", sorted(CLOSED_CALLS))
def test_closed_log_raises_timelog_error(call):
    log = Timelog(maintenance="disabled")
    log.close()
    with pytest.raises(TimelogError, match="closed"):
        CLOSED_CALLS[call](log)


def test_closed_log_still_answers_lifecycle_questions():
    log = Timelog(maintenance="disabled")
    log.close()
    log.close()
    assert log.closed
    assert log.retired_queue_len == 0
    assert log.busy_events == 0 and log.extend_skipped == 0
    assert log.time_unit == "ms"
    assert repr(log).startswith("<Timelog closed")


def test_none_bounds_are_open_not_errors(seeded):
    assert [t for t, _ in seeded[None:3]] == [1, 2]
    assert [t for t, _ in seeded[2:None]] == [2, 3]
    seeded.delete(None, 2)
    assert [t for t, _ in seeded] == [2, 3]
    seeded.delete(3, None)
    assert [t for t, _ in seeded] == [2]
