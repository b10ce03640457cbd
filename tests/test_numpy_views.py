"""Zero-copy page spans: read-only NumPy arrays over the engine's own memory."""

import gc

import numpy as np
import pytest

from timelog import PageSpan, PageSpanIter, PageSpanObjectsView, TimelogError

INT64_MAX = 2**63 - 1


@pytest.fixture
def flushed(log):
    log.extend((t, "v%d" % t) for t in range(0, 2000, 2))
    log.flush()
    return log


def all_spans(lg, *args):
    return list(lg.views(*args))


def test_types(flushed):
    v = flushed.views()
    assert isinstance(v, PageSpanIter)
    span = next(v)
    assert isinstance(span, PageSpan)
    assert isinstance(span.objects(), PageSpanObjectsView)
    assert isinstance(span.timestamps, np.ndarray)
    assert span.timestamps.dtype == np.int64
    assert span.timestamps.ndim == 1


def test_zero_copy_and_read_only(flushed):
    span = all_spans(flushed)[0]
    a = span.timestamps
    assert not a.flags.owndata
    assert not a.flags.writeable
    with pytest.raises(ValueError):
        a[0] = 123
    with pytest.raises(ValueError):
        a.setflags(write=True)
    # the base is a pin holder, never the mutable Timelog
    assert a.base is not None
    assert a.base is not flushed


def test_two_arrays_share_memory(flushed):
    span = all_spans(flushed)[0]
    a, b = span.timestamps, span.timestamps
    assert np.shares_memory(a, b)
    assert a.__array_interface__["data"][0] == b.__array_interface__["data"][0]
    c = span.copy_timestamps()
    assert c.flags.owndata and c.flags.writeable
    assert not np.shares_memory(a, c)
    assert c.tolist() == a.tolist()


def test_content_equals_logical_content(flushed):
    spans = all_spans(flushed)
    ts = np.sort(np.concatenate([s.timestamps for s in spans]))
    assert ts.tolist() == [t for t, _ in flushed]
    pairs = sorted((int(t), o) for s in spans for t, o in zip(s.timestamps, s.objects()))
    assert pairs == list(flushed)
    assert sum(len(s) for s in spans) == len(flushed)


def test_content_after_compaction_is_sorted_and_disjoint(flushed):
    flushed.compact()
    spans = all_spans(flushed)
    ts = np.concatenate([s.timestamps for s in spans])
    assert ts.tolist() == list(range(0, 2000, 2))
    for a, b in zip(spans, spans[1:]):
        assert a.last_ts < b.start_ts


def test_spans_respect_range(flushed):
    for t1, t2 in [(100, 200), (101, 199), (None, 10), (1990, None), (500, 500), (600, 100)]:
        spans = all_spans(flushed, t1, t2)
        ts = sorted(int(t) for s in spans for t in s.timestamps)
        lo = -(2**63) if t1 is None else t1
        hi = 2**63 if t2 is None else t2
        assert ts == [t for t in range(0, 2000, 2) if lo <= t < hi]


def test_page_spans_alias(flushed):
    a = [s.timestamps.tolist() for s in flushed.page_spans(10, 20)]
    b = [s.timestamps.tolist() for s in flushed.views(10, 20)]
    assert a == b and a


def test_memtable_not_exposed(log):
    log.extend((t, t) for t in range(10))
    assert all_spans(log) == []
    log.flush()
    assert sum(len(s) for s in all_spans(log)) == 10


def test_deleted_records_cut_out(flushed):
    del flushed[100:200]
    flushed.delete(500)
    ts = sorted(int(t) for s in all_spans(flushed) for t in s.timestamps)
    assert ts == [t for t, _ in flushed]
    assert 150 not in ts and 500 not in ts


def test_span_properties(log):
    log.extend([(5, "a"), (6, "b"), (9, "c")])
    log.flush()
    (span,) = all_spans(log)
    assert len(span) == 3
    assert span.start_ts == 5 and span.t1 == 5
    assert span.last_ts == 9
    assert span.end_ts == 10 and span.t2 == 10
    assert span.level in (0, 1, 2)
    assert "PageSpan" in repr(span)


def test_end_ts_at_int64_max_is_none(log):
    log.extend([(INT64_MAX - 1, "a"), (INT64_MAX, "b")])
    log.flush()
    (span,) = all_spans(log)
    assert span.last_ts == INT64_MAX
    assert span.end_ts is None
    assert [t for t, _ in log[span.start_ts : span.end_ts]] == [INT64_MAX - 1, INT64_MAX]


def test_objects_view(log):
    objs = [object() for _ in range(5)]
    log.extend(enumerate(objs))
    log.flush()
    (span,) = all_spans(log)
    ov = span.objects()
    assert len(ov) == 5
    assert ov[0] is objs[0] and ov[4] is objs[4]
    assert ov[-1] is objs[4] and ov[-5] is objs[0]
    with pytest.raises(IndexError):
        ov[5]
    with pytest.raises(IndexError):
        ov[-6]
    with pytest.raises(TypeError):
        ov["0"]
    assert all(a is b for a, b in zip(ov, objs))
    assert all(a is b for a, b in zip(ov.copy(), objs))
    assert isinstance(ov.copy(), list)
    assert [o is objs[i] for i, o in zip(range(1, 4), ov[1:4])] == [True] * 3


def test_span_close_and_with(flushed):
    span = all_spans(flushed)[0]
    arr = span.timestamps
    with span as s:
        assert s is span
    assert span.closed
    with pytest.raises(TimelogError):
        span.timestamps
    with pytest.raises(TimelogError):
        span.objects()
    assert len(span) == 0
    assert arr.size > 0 and int(arr[0]) == 0  # arrays keep their own pin


def test_span_iterator_close_and_with(flushed):
    with flushed.views() as v:
        next(v)
    assert v.closed
    assert list(v) == []


def test_iterator_view(log):
    log.extend((t, t) for t in range(100))
    log.flush()
    it = log[10:20]
    ts = np.concatenate([s.timestamps for s in it.view()])
    assert ts.tolist() == list(range(10, 20))
    assert [t for t, _ in it] == list(range(10, 20))
    for make, expected in [
        (lambda: log.since(95), range(95, 100)),
        (lambda: log.until(3), range(3)),
        (lambda: log.point(50), [50]),
        (lambda: log.all(), range(100)),
    ]:
        it = make()
        got = sorted(int(t) for s in it.view() for t in s.timestamps)
        assert got == list(expected)
        it.close()


def test_array_survives_gc_of_everything_else(log):
    log.extend((t, t) for t in range(500))
    log.flush()
    arr = next(log.views()).timestamps
    gc.collect()
    first = arr.tolist()
    del log[:]
    log.flush()
    log.compact()
    gc.collect()
    assert arr.tolist() == first


def test_numpy_analysis_without_copy(log):
    rng = np.random.default_rng(1)
    ts = np.sort(rng.integers(0, 10**9, 10_000))
    log.bulk_append(ts, list(range(ts.size)))
    log.flush()
    log.compact()
    total = 0
    mx = None
    for span in log.views():
        a = span.timestamps
        total += a.size
        m = int(a.max())
        mx = m if mx is None else max(mx, m)
    assert total == ts.size
    assert mx == int(ts.max())


# ---------------------------------------------------------------- zero copy, proven


def test_array_points_at_the_engine_page(flushed):
    for span in flushed.views():
        a, b = span.timestamps, span.timestamps
        # Both arrays alias the engine's memory at exactly the span's address.
        assert a.__array_interface__["data"][0] == span._address
        assert b.__array_interface__["data"][0] == span._address
        assert np.shares_memory(a, b)
        assert not a.flags.owndata and not a.flags.writeable
        assert a.flags.c_contiguous and a.strides == (8,)
        assert a.dtype == np.dtype(np.int64)


def test_every_views_call_sees_the_same_page_memory(flushed):
    # A copy would live at a new address per call; page memory does not move.
    first = [s._address for s in flushed.views()]
    again = [s._address for s in flushed.views()]
    assert first == again
    it = flushed.all()
    assert [s._address for s in it.view()] == first
    it.close()


def test_address_of_a_clipped_span_is_inside_the_page(log):
    log.extend((t, t) for t in range(100))
    log.flush()
    (whole,) = log.views()
    (part,) = log.views(10, 20)
    assert part._address == whole._address + 10 * 8
    assert np.shares_memory(whole.timestamps, part.timestamps)
    assert part.timestamps.tolist() == list(range(10, 20))


def test_address_of_closed_span_raises(flushed):
    span = next(flushed.views())
    span.close()
    with pytest.raises(TimelogError, match="closed"):
        span._address


def test_array_survives_span_iterator_and_log_close_then_gc(log):
    objs = ["o%d" % t for t in range(300)]
    log.extend(zip(range(300), objs))
    log.flush()
    it = log.views()
    span = next(it)
    arr = span.timestamps
    ov = span.objects()
    addr = span._address
    span.close()
    it.close()
    log.close()
    del span, it, log
    gc.collect()
    assert arr.__array_interface__["data"][0] == addr
    assert arr.tolist() == list(range(300))
    assert int(arr.sum()) == sum(range(300))
    assert ov[299] == "o299" and len(ov) == 300
    del ov
    gc.collect()
    assert arr[-1] == 299


def test_array_base_is_a_pin_holder_not_the_span(flushed):
    span = next(flushed.views())
    arr = span.timestamps
    del span
    gc.collect()
    assert arr.base is not None
    assert type(arr.base).__name__ == "_Snapshot"
    assert arr.tolist()[:3] == [0, 2, 4]


def test_with_span_then_array_still_valid(flushed):
    with next(flushed.views()) as span:
        arr = span.timestamps
    assert span.closed and len(span) == 0
    assert arr.tolist() == list(range(0, 2000, 2))


def _span_pairs(lg, *args):
    out = []
    for s in lg.views(*args):
        ts = s.timestamps
        assert np.all(ts[:-1] <= ts[1:]), "a span is sorted"
        assert len(s) == ts.size == len(s.objects())
        assert s.t1 == int(ts[0]) and s.last_ts == int(ts[-1])
        out.extend(zip(ts.tolist(), s.objects()))
    return sorted(out, key=lambda p: (p[0], p[1]))


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_span_content_equals_logical_content_without_tombstones(seed):
    from timelog import Timelog

    rng = np.random.default_rng(seed)
    lg = Timelog(
        maintenance="disabled", memtable_max_bytes=4096, target_page_bytes=1024, sealed_max_runs=64
    )
    try:
        expected = []
        for batch in range(6):
            ts = rng.integers(-500, 500, 700)
            ts[:3] = [-(2**63), 2**63 - 1, 0]
            objs = ["b%d-%d" % (batch, i) for i in range(ts.size)]
            lg.bulk_append(ts, objs)
            expected.extend(zip(ts.tolist(), objs))
            lg.flush()  # overlapping L0 segments, each several pages
        expected.sort()
        assert _span_pairs(lg) == expected
        assert sorted(lg) == expected
        for t1, t2 in [(-100, 100), (None, 0), (0, None), (-(2**63), 2**63 - 1)]:
            lo = -(2**63) if t1 is None else t1
            assert _span_pairs(lg, t1, t2) == [
                p for p in expected if lo <= p[0] and (t2 is None or p[0] < t2)
            ]
        lg.compact()
        assert _span_pairs(lg) == expected
        spans = list(lg.views())
        assert all(s.level == 2 for s in spans)
    finally:
        lg.close()


def test_spans_are_snapshot_consistent_across_later_deletes(log):
    log.extend((t, t) for t in range(50))
    log.flush()
    it = log.views()
    del log[:]
    log.flush()
    log.compact()
    assert sum(len(s) for s in it) == 50
    assert list(log.views()) == []
