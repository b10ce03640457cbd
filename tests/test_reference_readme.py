"""The reference design's README, run on timelog: code written for it runs unchanged.

Both quickstarts are executed verbatim (the text between the README's code
fences, comments included; the copy in shared/seeds lost its line breaks,
which are restored at the statement boundaries) and their printed output is
compared; then every
name of the README's "API Snapshot" and of SPEC section 2 is exercised with
the README's own semantics (half-open ranges, sequenced deletes, busy means
accepted, close discards, flush publishes to views).
"""

import contextlib
import datetime
import io
import pickle

import numpy as np
import pytest

import timelog
from timelog import (
    PageSpan,
    PageSpanIter,
    PageSpanObjectsView,
    Timelog,
    TimelogBusyError,
    TimelogError,
    TimelogIter,
)

QUICKSTART_STREAMING = """\
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
"""

QUICKSTART_SEMANTICS = """\
from timelog import Timelog

log = Timelog(time_unit="ms")
log[10] = "A"
del log[5:15]        # delete [5, 15)
log[10] = "B"        # later insert at same ts

print(log[10])       # ['B']
print(list(log[0:20]))  # [(10, 'B')]

log.close()  # optional explicit cleanup
"""


def run_verbatim(source):
    out = io.StringIO()
    namespace = {"__name__": "__readme__"}
    with contextlib.redirect_stdout(out):
        exec(compile(source, "<README>", "exec"), namespace)
    return out.getvalue(), namespace


def test_quickstart_streaming_verbatim():
    stdout, ns = run_verbatim(QUICKSTART_STREAMING)
    assert stdout == "[(1700000000000, {'event': 'tick'})]\n"
    assert ns["log"].closed


def test_quickstart_correctness_semantics_verbatim():
    stdout, ns = run_verbatim(QUICKSTART_SEMANTICS)
    assert stdout == "['B']\n[(10, 'B')]\n"
    assert ns["log"].closed


def test_distribution_and_import_names():
    # The reference ships as "timelog-lib"; that name is its own on PyPI, so
    # this distribution is "timelog" (docs/api.md, differences). The import
    # namespace is the same.
    assert timelog.Timelog is Timelog
    import pathlib

    try:
        import tomllib  # Python 3.11+
    except ImportError:  # 3.10: the same parser as tomli, which pytest needs there
        import tomli as tomllib
    pyproject = pathlib.Path(__file__).resolve().parent.parent / "pyproject.toml"
    if pyproject.is_file():
        meta = tomllib.loads(pyproject.read_text())["project"]
        assert meta["name"] == "timelog"
        assert meta["dynamic"] == ["version"]  # one version source: __init__.py
        assert meta["license"] == "MIT"


# ---------------------------------------------------------------- constructors


def test_constructors_and_presets_with_overrides():
    presets = {
        Timelog.for_streaming: ("background", "flush"),
        Timelog.for_bulk_ingest: ("disabled", "flush"),
        Timelog.for_low_latency: ("background", "raise"),
    }
    for make, (maint, busy) in presets.items():
        log = make()
        assert (log.maintenance_mode, log.busy_policy) == (maint, busy)
        assert log.stats()["config"]["maintenance"] == maint
        log.close()
        log = make(time_unit="us", busy_policy="silent")
        assert (log.time_unit, log.busy_policy) == ("us", "silent")
        log.close()
    assert Timelog.for_bulk_ingest().stats()["config"]["memtable_max_bytes"] == 16 * 1024 * 1024
    low = Timelog.for_low_latency()
    assert low.stats()["config"]["memtable_max_bytes"] == 256 * 1024
    assert low.stats()["config"]["sealed_wait_ms"] == 0
    low.close()


def test_every_constructor_knob_with_zero_meaning_default():
    log = Timelog(
        time_unit="ms",
        maintenance="disabled",
        busy_policy="raise",
        min_ts=None,
        mostly_ordered_default=True,
        memtable_max_bytes=0,
        target_page_bytes=0,
        sealed_max_runs=0,
        ooo_budget_bytes=0,
        sealed_wait_ms=0,
        drain_batch_limit=0,
        maintenance_wakeup_ms=0,
        max_delta_segments=0,
        window_size=0,
        window_origin=0,
        delete_debt_threshold=0.0,
        compaction={"target_bytes": 0, "max_inputs": 0, "max_windows": 0},
    )
    log[1] = "x"
    assert log[1] == ["x"]
    log.close()
    with pytest.raises(ValueError, match="time_unit"):
        Timelog(time_unit="minutes")
    with pytest.raises(TypeError, match="memtable_max_bytes"):
        Timelog(memtable_max_bytes="big")
    with pytest.raises(TypeError, match="unexpected"):
        Timelog(no_such_knob=1)


# ---------------------------------------------------------------- writes


def test_append_forms():
    log = Timelog(maintenance="disabled", time_unit="ms")
    before = datetime.datetime.now(datetime.timezone.utc).timestamp() * 1000
    log.append({"event": "boot"})  # append(obj): wall clock, in C
    after = datetime.datetime.now(datetime.timezone.utc).timestamp() * 1000
    ((ts, obj),) = list(log)
    assert before - 1 <= ts <= after + 1 and obj == {"event": "boot"}
    log.append("kw", ts=5)  # append(obj, ts=...)
    log.append(6, "pos")  # append(ts, obj)
    log[7] = "item"  # log[ts] = obj
    assert list(log[5:8]) == [(5, "kw"), (6, "pos"), (7, "item")]
    log.close()


def test_min_ts_guard_rejects_older_writes():
    log = Timelog(maintenance="disabled", min_ts=100)
    assert log.min_ts_floor == 100
    with pytest.raises(ValueError, match="min_ts"):
        log.append(99, "old")
    with pytest.raises(ValueError, match="min_ts"):
        log[50] = "old"
    with pytest.raises(ValueError):
        log.extend([(100, "ok"), (1, "old")])  # the whole batch aborts
    with pytest.raises(ValueError):
        log.bulk_append(np.array([100, 1]), ["ok", "old"])
    assert len(log) == 0
    log[100] = "ok"
    assert log[100] == ["ok"]
    log.close()


def test_extend_insert_on_error_semantics():
    log = Timelog(maintenance="disabled")
    # insert_on_error=True (default): skip invalid timestamps, count them, warn.
    with pytest.warns(RuntimeWarning, match="skipped 2"):
        log.extend([(1, "a"), ("bad", "x"), (2, "b"), (True, "y")])
    assert list(log) == [(1, "a"), (2, "b")] and log.extend_skipped == 2
    assert log.stats()["operational"]["extend_skipped"] == 2
    # insert_on_error=False: validate everything before inserting anything.
    with pytest.raises(TypeError):
        log.extend([(3, "c"), ("bad", "x")], insert_on_error=False)
    assert len(log) == 2
    log.extend([(4, "d"), (3, "c")], mostly_ordered=False, insert_on_error=False)
    log.extend([5, 6], ["e", "f"])  # extend(timestamps, objects)
    assert [t for t, _ in log] == [1, 2, 3, 4, 5, 6]
    log.close()


def test_mostly_ordered_default_is_only_a_hint():
    for default in (True, False):
        log = Timelog(maintenance="disabled", mostly_ordered_default=default)
        assert log.stats()["config"]["mostly_ordered_default"] is default
        log.extend([(3, "c"), (1, "a"), (2, "b")])
        log.extend([(0, "z")], mostly_ordered=None)
        assert [t for t, _ in log] == [0, 1, 2, 3]
        log.close()


def test_bulk_append_buffers():
    import array

    log = Timelog(maintenance="disabled")
    log.bulk_append(np.array([3, 1, 2], dtype=np.int64), ["c", "a", "b"])
    log.bulk_append(array.array("q", [4, 5]), ("d", "e"))
    log.bulk_append(memoryview(array.array("q", [6])), ["f"], mostly_ordered=True)
    assert [o for _, o in log] == ["a", "b", "c", "d", "e", "f"]
    with pytest.raises(ValueError):
        log.bulk_append(np.array([1, 2]), ["only one"])
    log.close()


def test_deletes():
    log = Timelog(maintenance="disabled")
    log.extend((t, t) for t in range(10))
    log.delete(2, 4)  # [2, 4)
    log.delete(5)  # every record at 5
    log.cutoff(1)  # everything < 1
    del log[8]
    del log[9:]
    assert [t for t, _ in log] == [1, 4, 6, 7]
    del log[:]
    assert len(log) == 0
    log.close()


def test_int64_extremes_and_open_ranges():
    lo, hi = -(2**63), 2**63 - 1
    log = Timelog(maintenance="disabled")
    log[lo] = "min"
    log[hi] = "max"
    assert list(log[0:]) == [(hi, "max")]
    assert list(log[:0]) == [(lo, "min")]
    log.delete(hi)
    assert list(log[:]) == [(lo, "min")]
    log.close()


# ---------------------------------------------------------------- reads


def test_reads_and_named_iterators():
    log = Timelog(maintenance="disabled")
    log.extend([(1, "a"), (2, "b"), (2, "c"), (5, "d")])
    assert list(log[1:5]) == [(1, "a"), (2, "b"), (2, "c")]
    assert list(log[2:]) == [(2, "b"), (2, "c"), (5, "d")]
    assert list(log[:2]) == [(1, "a")]
    assert len(list(log[:])) == 4
    assert log[2] == ["b", "c"] == log.at(2)
    assert list(log.range(1, 2)) == [(1, "a")]
    assert list(log.since(5)) == [(5, "d")]
    assert list(log.until(2)) == [(1, "a")]
    assert len(list(log.all())) == 4
    assert list(log.point(2)) == list(log.equal(2)) == [(2, "b"), (2, "c")]
    assert list(log[5:1]) == []  # t1 >= t2 is empty
    assert (log.min_ts(), log.max_ts(), log.next_ts(2), log.prev_ts(2)) == (1, 5, 5, 1)
    with pytest.raises(ValueError):
        log[1:5:2]
    log.close()


def test_iterator_helpers():
    log = Timelog(maintenance="disabled")
    log.extend((t, t) for t in range(10))
    log.flush()
    it = log[0:10]
    assert isinstance(it, TimelogIter)
    assert len(it) == 10
    next(it)
    assert len(it) == 9
    assert it.next_batch(3) == [(1, 1), (2, 2), (3, 3)]
    spans = it.view()
    assert isinstance(spans, PageSpanIter)
    assert sum(len(s) for s in spans) == 10
    with log[0:3] as it2:
        assert next(it2) == (0, 0)
    assert it2.closed
    it.close()
    assert it.closed
    log.close()


# ---------------------------------------------------------------- introspection and views


def test_stats_and_counters():
    log = Timelog(maintenance="disabled")
    log.extend((t, t) for t in range(100))
    stats = log.stats()
    for key in ("records", "storage", "memtable", "memory", "operational", "config"):
        assert key in stats
    assert stats["records"] == len(log) == 100
    assert stats["storage"]["min_ts"] == 0 and stats["storage"]["max_ts"] == 99
    assert log.busy_events == 0 and log.extend_skipped == 0
    assert log.retired_queue_len >= 0
    log.close()


def test_views_page_spans_and_objects():
    log = Timelog(maintenance="disabled")
    log.extend((t, "v%d" % t) for t in range(10))
    assert list(log.views()) == []  # only flushed data is viewed
    log.flush()  # flush publishes to views
    for make in (log.views, log.page_spans):
        with make(2, 6) as spans:
            span = next(spans)
            assert isinstance(span, PageSpan)
            ts = span.timestamps
            assert ts.tolist() == [2, 3, 4, 5]
            assert not ts.flags.writeable  # read-only, zero-copy
            objs = span.objects()
            assert isinstance(objs, PageSpanObjectsView)
            assert list(objs) == ["v2", "v3", "v4", "v5"]
            assert (span.start_ts, span.last_ts, span.end_ts) == (2, 5, 6)
            span.close()
    log.close()


# ---------------------------------------------------------------- lifecycle, errors, backpressure


def test_lifecycle_close_discards_and_reopen():
    with Timelog(maintenance="disabled") as log:
        log[1] = "x"
    assert log.closed
    with pytest.raises(TimelogError):
        log[1]
    log.reopen(time_unit="s")  # a fresh, empty engine
    assert not log.closed and len(log) == 0 and log.time_unit == "s"
    log.close()
    log.configure(busy_policy="silent")
    assert log.busy_policy == "silent" and log.time_unit == "s"
    log.close()


def test_busy_means_the_write_was_accepted():
    log = Timelog(
        maintenance="disabled", busy_policy="raise", memtable_max_bytes=4096, sealed_max_runs=1
    )
    stored = 0
    busy = 0
    for i in range(5000):
        try:
            log.append(i, i)
        except TimelogBusyError:
            busy += 1  # do not retry: it was stored
        stored += 1
    assert busy > 0 and log.busy_events == busy
    assert len(log) == stored
    assert issubclass(TimelogBusyError, TimelogError)
    log.close()


def test_bad_input_errors():
    log = Timelog(maintenance="disabled")
    for bad in (True, 1.5, "1"):
        with pytest.raises(TypeError):
            log[bad] = "x"
    with pytest.raises(OverflowError):
        log[2**63] = "x"
    with pytest.raises(ValueError):
        log.extend([1, 2], ["one"])
    assert len(log) == 0
    log.close()


# ---------------------------------------------------------------- beyond the reference


def test_beyond_numpy_datetime_pickle_repr():
    log = Timelog(time_unit="s", maintenance="disabled")
    log[datetime.datetime(2024, 1, 1)] = "new year"
    log[np.datetime64("2024-01-01T00:00:10")] = "ten"
    ts, objs = log.arrays()
    assert ts.dtype == np.int64 and objs == ["new year", "ten"]
    assert log.count(ts[0], ts[1] + 1) == 2
    assert log.timestamps().tolist() == ts.tolist()
    it = log.all()
    assert it.to_numpy()[1] == objs
    assert "2024-01-01T00:00:00Z" in repr(log)
    assert "<table" in log._repr_html_()
    clone = pickle.loads(pickle.dumps(log))
    assert list(clone) == list(log) and clone.time_unit == "s"
    clone.close()
    log.close()


def test_spec_section_2_names_exist():
    names = """for_streaming for_bulk_ingest for_low_latency append extend bulk_append
        delete cutoff range since until all point equal at min_ts max_ts next_ts prev_ts
        arrays count timestamps histogram counts views page_spans flush compact maint_step
        stats busy_events extend_skipped retired_queue_len closed time_unit close
        reopen configure to_pandas _repr_html_ __enter__ __exit__ __getitem__
        __setitem__ __delitem__ __len__ __iter__ __reduce__""".split()
    missing = [n for n in names if not hasattr(Timelog, n)]
    assert not missing
    for n in ("__len__", "next_batch", "view", "close", "to_numpy", "__enter__"):
        assert hasattr(TimelogIter, n)
