"""Range queries: half-open slices, named iterators, iterator protocol."""

import random

import pytest

from timelog import Timelog, TimelogError, TimelogIter

INT64_MIN = -(2**63)
INT64_MAX = 2**63 - 1


@pytest.fixture
def filled(log):
    log.extend([(t, "v%d" % t) for t in (1, 2, 2, 3, 5, 8, 13)])
    return log


def ts_of(it):
    return [t for t, _ in it]


def test_half_open(filled):
    assert ts_of(filled[2:5]) == [2, 2, 3]
    assert ts_of(filled.range(2, 5)) == [2, 2, 3]
    assert ts_of(filled[2:6]) == [2, 2, 3, 5]
    assert ts_of(filled[5:5]) == []


def test_reversed_range_is_empty_not_error(filled):
    assert ts_of(filled[10:2]) == []
    assert ts_of(filled.range(10, 2)) == []
    assert len(filled.range(10, 2)) == 0


def test_slices_with_none(filled):
    assert ts_of(filled[5:]) == [5, 8, 13]
    assert ts_of(filled[:3]) == [1, 2, 2]
    assert ts_of(filled[:]) == [1, 2, 2, 3, 5, 8, 13]
    assert ts_of(filled[None:None]) == [1, 2, 2, 3, 5, 8, 13]
    assert ts_of(filled[5:None:1]) == [5, 8, 13]


def test_named_iterators(filled):
    assert ts_of(filled.since(5)) == [5, 8, 13]
    assert ts_of(filled.until(3)) == [1, 2, 2]
    assert ts_of(filled.all()) == [1, 2, 2, 3, 5, 8, 13]
    assert ts_of(filled.point(2)) == [2, 2]
    assert ts_of(filled.equal(2)) == [2, 2]
    assert ts_of(filled.point(4)) == []
    assert ts_of(iter(filled)) == [1, 2, 2, 3, 5, 8, 13]
    for it in (filled.since(0), filled.until(9), filled.all(), filled.point(1), filled[1:2]):
        assert isinstance(it, TimelogIter)


def test_getitem_point_and_at(filled):
    assert sorted(filled[2]) == ["v2", "v2"]
    assert filled.at(13) == ["v13"]
    assert filled[4] == []
    assert isinstance(filled[4], list)


def test_open_ranges_reach_int64_extremes(log):
    log.extend([(INT64_MIN, "min"), (0, "zero"), (INT64_MAX, "max")])
    assert ts_of(log[0:]) == [0, INT64_MAX]
    assert ts_of(log.since(INT64_MAX)) == [INT64_MAX]
    assert ts_of(log[INT64_MAX:]) == [INT64_MAX]
    assert ts_of(log[:INT64_MAX]) == [INT64_MIN, 0]
    assert ts_of(log.until(INT64_MIN)) == []
    assert ts_of(log[INT64_MIN : INT64_MIN + 1]) == [INT64_MIN]
    assert ts_of(log.range(INT64_MIN, INT64_MAX)) == [INT64_MIN, 0]
    assert log[INT64_MAX] == ["max"]


def test_multimap_duplicates(log):
    objs = [object() for _ in range(300)]
    for o in objs:
        log[7] = o
    got = log[7]
    assert len(got) == 300
    assert {id(o) for o in got} == {id(o) for o in objs}
    assert len(log.point(7)) == 300


def test_out_of_order_ingest_returns_sorted(log):
    rng = random.Random(3)
    data = [(rng.randrange(10_000), i) for i in range(5000)]
    for t, i in data:
        log.append(t, i)
    for lo, hi in [(0, 10_000), (100, 200), (9_990, 20_000), (5_000, 5_001)]:
        got = list(log[lo:hi])
        assert ts_of(got) == sorted(t for t, _ in data if lo <= t < hi)
        assert sorted(got) == sorted((t, i) for t, i in data if lo <= t < hi)


def test_reads_across_layers(log):
    # memtable + L0 + L1 all at once
    log.extend([(t, "l1") for t in range(0, 100, 3)])
    log.flush()
    log.compact()
    log.extend([(t, "l0") for t in range(1, 100, 3)])
    log.flush()
    log.extend([(t, "mem") for t in range(2, 100, 3)])
    st = log.stats()
    assert st["storage"]["segments_l1"] >= 1
    assert st["storage"]["segments_l0"] >= 1
    assert st["memtable"]["active_records"] > 0
    assert ts_of(log[10:20]) == list(range(10, 20))
    assert len(log) == 100


def test_len_counts_remaining(filled):
    it = filled[:]
    assert len(it) == 7
    next(it)
    assert len(it) == 6
    it.next_batch(3)
    assert len(it) == 3
    list(it)
    assert len(it) == 0


def test_len_over_a_large_range(log):
    log.extend((i, i) for i in range(3000))
    it = log[100:2900]
    assert len(it) == 2800
    for _ in range(1000):
        next(it)
    assert len(it) == 1800


def test_next_batch(filled):
    it = filled[:]
    assert it.next_batch(2) == [(1, "v1"), (2, "v2")]
    assert ts_of(it.next_batch(3)) == [2, 3, 5]
    assert it.next_batch(0) == []
    assert ts_of(it.next_batch(100)) == [8, 13]
    assert it.next_batch(5) == []
    assert it.closed


def test_next_batch_large(log):
    n = 50_000
    log.extend((i, i) for i in range(n))
    it = log.all()
    first = it.next_batch(10)
    big = it.next_batch(30_000)
    rest = it.next_batch(10**9)
    assert [o for _, o in first + big + rest] == list(range(n))
    assert it.closed


def test_next_batch_validates(filled):
    it = filled[:]
    with pytest.raises(ValueError):
        it.next_batch(-1)
    with pytest.raises(TypeError):
        it.next_batch(2.0)
    with pytest.raises(TypeError):
        it.next_batch(True)


def test_iterator_is_its_own_iterator(filled):
    it = filled[:]
    assert iter(it) is it
    assert next(it) == (1, "v1")
    assert ts_of(it) == [2, 2, 3, 5, 8, 13]
    with pytest.raises(StopIteration):
        next(it)


def test_auto_close_at_exhaustion(filled):
    it = filled[1:3]
    assert not it.closed
    list(it)
    assert it.closed
    assert filled.stats()["operational"]["snapshots"] == 0


def test_iterator_with_block_and_close(filled):
    with filled[:] as it:
        assert next(it) == (1, "v1")
        assert filled.stats()["operational"]["snapshots"] >= 1
    assert it.closed
    assert list(it) == []
    assert len(it) == 0
    assert filled.stats()["operational"]["snapshots"] == 0
    it.close()  # idempotent
    it2 = filled[:]
    it2.close()
    assert it2.closed and list(it2) == []


def test_iterators_cannot_be_built_directly():
    with pytest.raises(TypeError):
        TimelogIter()


def test_many_concurrent_iterators(filled):
    its = [filled[:] for _ in range(50)]
    assert all(ts_of(it) == [1, 2, 2, 3, 5, 8, 13] for it in its)


def test_neighbours(filled):
    assert filled.min_ts() == 1
    assert filled.max_ts() == 13
    assert filled.next_ts(2) == 3
    assert filled.next_ts(0) == 1
    assert filled.next_ts(13) is None
    assert filled.prev_ts(2) == 1
    assert filled.prev_ts(1) is None
    assert filled.prev_ts(100) == 13


def test_neighbours_empty(log):
    assert log.min_ts() is None and log.max_ts() is None
    assert log.next_ts(0) is None and log.prev_ts(0) is None


def test_neighbours_at_extremes(log):
    log.extend([(INT64_MIN, 1), (INT64_MAX, 2)])
    assert log.next_ts(INT64_MAX) is None
    assert log.prev_ts(INT64_MIN) is None
    assert log.next_ts(INT64_MIN) == INT64_MAX
    assert log.prev_ts(INT64_MAX) == INT64_MIN


def test_contains(filled):
    assert 2 in filled
    assert 4 not in filled
    del filled[2]
    assert 2 not in filled


def test_len_and_count(filled):
    assert len(filled) == 7
    assert filled.count() == 7
    assert filled.count(2, 5) == 3
    assert filled.count(5) == 3
    assert filled.count(None, 3) == 3
    assert filled.count(9, 1) == 0


def test_reads_after_flush_and_compact_match(filled):
    before = list(filled)
    filled.flush()
    assert list(filled) == before
    filled.compact()
    assert list(filled) == before


def test_closed_iterator_view_raises(filled):
    it = filled[:]
    it.close()
    with pytest.raises(TimelogError):
        it.view()


def test_range_takes_none_as_an_open_bound():
    log = Timelog(maintenance="disabled")
    log.extend([(-(2**63), "min"), (1, "a"), (5, "b"), (2**63 - 1, "max")])
    assert list(log.range(None, 5)) == list(log.until(5)) == [(-(2**63), "min"), (1, "a")]
    assert list(log.range(5, None)) == list(log.since(5)) == [(5, "b"), (2**63 - 1, "max")]
    assert list(log.range(None, None)) == list(log)
    assert list(log.range(None, 5)) == list(log[:5])
    log.close()
