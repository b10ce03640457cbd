"""Deletes are sequenced tombstones; every delete form; int64 extremes."""

import pytest

INT64_MIN = -(2**63)
INT64_MAX = 2**63 - 1


def test_quickstart_streaming_verbatim(capsys):
    from timelog import Timelog

    log = Timelog.for_streaming(time_unit="ms")
    # Auto-timestamp append
    log.append({"event": "boot"})
    # Operator-style explicit timestamp append
    log[1_700_000_000_000] = {"event": "tick"}
    # Half-open range query [t1, t2)
    rows = list(log[1_700_000_000_000:1_700_000_000_001])
    print(rows)
    log.close()  # deterministic cleanup; finalizer cleanup is best-effort
    assert capsys.readouterr().out == "[(1700000000000, {'event': 'tick'})]\n"


def test_quickstart_correctness_verbatim(capsys):
    from timelog import Timelog

    log = Timelog(time_unit="ms")
    log[10] = "A"
    del log[5:15]  # delete [5, 15)
    log[10] = "B"  # later insert at same ts
    print(log[10])  # ['B']
    print(list(log[0:20]))  # [(10, 'B')]
    log.close()  # optional explicit cleanup
    assert capsys.readouterr().out == "['B']\n[(10, 'B')]\n"


@pytest.mark.parametrize("between", [None, "flush", "compact", "flush_between"])
def test_insert_delete_insert_through_layers(log, between):
    log[10] = "A"
    if between == "flush_between":
        log.flush()
    del log[5:15]
    log[10] = "B"
    if between == "flush":
        log.flush()
    elif between == "compact":
        log.flush()
        log.compact()
    assert log[10] == ["B"]
    assert list(log[0:20]) == [(10, "B")]
    log.flush()
    log.compact()
    assert list(log[0:20]) == [(10, "B")]
    log._validate()


@pytest.fixture
def ten(log):
    log.extend((t, t) for t in range(10))
    return log


def ts_of(lg):
    return [t for t, _ in lg]


def test_delete_range(ten):
    ten.delete(3, 6)
    assert ts_of(ten) == [0, 1, 2, 6, 7, 8, 9]


def test_delete_empty_range_is_noop(ten):
    ten.delete(6, 3)
    ten.delete(4, 4)
    assert len(ten) == 10


def test_delete_point(ten):
    ten.delete(4)
    assert ts_of(ten) == [0, 1, 2, 3, 5, 6, 7, 8, 9]


def test_delete_with_none_bounds(ten):
    ten.delete(None, 2)
    assert ts_of(ten) == list(range(2, 10))
    ten.delete(8, None)
    assert ts_of(ten) == list(range(2, 8))
    ten.delete(None, None)
    assert len(ten) == 0


def test_cutoff(ten):
    ten.cutoff(7)
    assert ts_of(ten) == [7, 8, 9]


def test_del_point(ten):
    del ten[0]
    assert ts_of(ten) == list(range(1, 10))


def test_del_slices(ten):
    del ten[2:4]
    assert ts_of(ten) == [0, 1, 4, 5, 6, 7, 8, 9]
    del ten[:1]
    assert ts_of(ten) == [1, 4, 5, 6, 7, 8, 9]
    del ten[8:]
    assert ts_of(ten) == [1, 4, 5, 6, 7]
    del ten[:]
    assert len(ten) == 0
    assert list(ten) == []


def test_del_slice_step_rejected(ten):
    with pytest.raises(ValueError, match="step"):
        del ten[1:5:2]
    assert len(ten) == 10
    del ten[1:5:1]  # a step of 1 is the half-open range
    assert len(ten) == 6


def test_delete_hides_duplicates(log):
    for _ in range(5):
        log[3] = "x"
    log[4] = "y"
    log.delete(3)
    assert list(log) == [(4, "y")]


def test_del_open_end_reaches_int64_max(log):
    log.extend([(0, "a"), (INT64_MAX - 1, "b"), (INT64_MAX, "c")])
    del log[1:]
    assert list(log) == [(0, "a")]


def test_delete_at_int64_max(log):
    log.extend([(INT64_MAX, "a"), (INT64_MAX, "b"), (INT64_MAX - 1, "c")])
    log.delete(INT64_MAX)
    assert list(log) == [(INT64_MAX - 1, "c")]
    log.flush()
    log.compact()
    assert list(log) == [(INT64_MAX - 1, "c")]


def test_delete_at_int64_min(log):
    log.extend([(INT64_MIN, "a"), (INT64_MIN + 1, "b")])
    log.delete(INT64_MIN)
    assert list(log) == [(INT64_MIN + 1, "b")]
    del log[: INT64_MIN + 2]
    assert len(log) == 0


def test_cutoff_at_extremes(log):
    log.extend([(INT64_MIN, "a"), (0, "b"), (INT64_MAX, "c")])
    log.cutoff(INT64_MIN)
    assert len(log) == 3
    log.cutoff(INT64_MAX)
    assert list(log) == [(INT64_MAX, "c")]


def test_del_everything_at_extremes(log):
    log.extend([(INT64_MIN, "a"), (INT64_MAX, "c")])
    del log[:]
    assert len(log) == 0
    assert log.min_ts() is None
    log.flush()
    log.compact()
    assert len(log) == 0


def test_delete_range_full_int64(log):
    log.extend([(INT64_MIN, "a"), (INT64_MAX, "c")])
    log.delete(INT64_MIN, INT64_MAX)  # half-open: INT64_MAX survives
    assert list(log) == [(INT64_MAX, "c")]


def test_deletes_do_not_hide_later_writes(log):
    del log[:]
    log[5] = "after-all"
    log.cutoff(10)
    log[1] = "after-cutoff"
    log.delete(1)
    log[1] = "again"
    assert ts_of(log) == [1]
    assert log[1] == ["again"]


@pytest.mark.parametrize("layer", ["memtable", "l0", "l1"])
def test_delete_in_each_layer(log, layer):
    log.extend((t, t) for t in range(100))
    if layer in ("l0", "l1"):
        log.flush()
    if layer == "l1":
        log.compact()
    del log[10:90]
    assert ts_of(log) == list(range(10)) + list(range(90, 100))
    assert len(log) == 20
    log.flush()
    log.compact()
    assert ts_of(log) == list(range(10)) + list(range(90, 100))
    assert log.stats()["storage"]["physical_records"] == 20
    log._validate()


def test_delete_is_visible_to_neighbours(ten):
    del ten[:3]
    del ten[7:]
    assert ten.min_ts() == 3
    assert ten.max_ts() == 6
    assert ten.next_ts(6) is None
    assert ten.prev_ts(3) is None


def test_delete_range_takes_none_as_an_open_bound():
    from timelog import Timelog

    log = Timelog(maintenance="disabled")
    log.extend([(-(2**63), "min"), (1, "a"), (5, "b"), (9, "c"), (2**63 - 1, "max")])
    log.delete_range(None, 5)  # = cutoff(5)
    assert list(log) == [(5, "b"), (9, "c"), (2**63 - 1, "max")]
    log.delete_range(9, None)  # reaches 2**63-1 inclusive
    assert list(log) == [(5, "b")]
    log.delete_range(None, None)
    assert list(log) == []
    log.close()
