"""Snapshots: iterators and views see the state at creation, and outlive close()."""

import gc
import time
import weakref

import numpy as np
import pytest

from timelog import Timelog


def make(n=100, **kw):
    log = Timelog(maintenance="disabled", **kw)
    log.extend((t, "v%d" % t) for t in range(n))
    return log


@pytest.mark.parametrize(
    "action", ["append", "delete", "delete_all", "flush", "compact", "everything"]
)
def test_iterator_sees_its_snapshot(action):
    log = make()
    expected = list(log[10:20])
    it = log[10:20]
    if action in ("append", "everything"):
        for t in range(10, 20):
            log[t] = "new"
    if action in ("delete", "everything"):
        del log[12:18]
    if action == "delete_all":
        del log[:]
    if action in ("flush", "everything"):
        log.flush()
    if action in ("compact", "everything"):
        log.flush()
        log.compact()
    assert list(it) == expected
    log.close()


def test_partially_consumed_iterator_keeps_snapshot():
    log = make(2000)
    it = log.all()
    first = it.next_batch(500)
    del log[:]
    log.flush()
    log.compact()
    rest = list(it)
    assert [t for t, _ in first + rest] == list(range(2000))
    assert len(log) == 0
    log.close()


def test_iterator_outlives_close():
    log = make()
    it = log.all()
    part = log[50:]
    log.close()
    assert log.closed
    assert [t for t, _ in it] == list(range(100))
    assert len(part) == 50
    assert [o for _, o in part][:2] == ["v50", "v51"]


def test_objects_stay_alive_while_an_iterator_pins_them():
    class Obj:
        pass

    log = Timelog(maintenance="disabled")
    objs = [Obj() for _ in range(10)]
    refs = [weakref.ref(o) for o in objs]
    log.extend(enumerate(objs))
    del objs
    it = log.all()
    del log[:]
    log.flush()
    log.compact()
    gc.collect()
    assert all(r() is not None for r in refs)  # the iterator's snapshot sees them
    got = [o for _, o in it]  # exhausting releases the pin
    assert [r() for r in refs] == got
    del got
    gc.collect()
    assert all(r() is None for r in refs)
    log.close()


def test_objects_released_when_last_pin_after_close_goes():
    class Obj:
        pass

    log = Timelog(maintenance="disabled")
    objs = [Obj() for _ in range(10)]
    refs = [weakref.ref(o) for o in objs]
    log.extend(enumerate(objs))
    del objs
    it = log.all()
    log.close()
    gc.collect()
    assert all(r() is not None for r in refs)
    it.close()
    gc.collect()
    assert all(r() is None for r in refs)


def test_view_sees_iterator_snapshot():
    log = make(50)
    log.flush()
    it = log[10:20]
    del log[:]
    log.flush()
    log.compact()
    spans = list(it.view())
    assert np.concatenate([s.timestamps for s in spans]).tolist() == list(range(10, 20))
    log.close()


def test_span_array_outlives_span_iterator_and_log():
    log = make(1000)
    log.flush()
    views = log.views()
    span = next(views)
    arr = span.timestamps
    expected = span.copy_timestamps()
    objs = span.objects()
    del span
    views.close()
    del views
    log.close()
    gc.collect()
    assert arr.tolist() == expected.tolist()
    assert objs[0] == "v%d" % arr[0]
    del objs
    gc.collect()
    assert int(arr.sum()) == int(expected.sum())


def test_span_array_outlives_everything_even_the_log_object():
    log = make(300)
    log.flush()
    arrays = [s.timestamps for s in log.views()]
    log.close()
    del log
    gc.collect()
    assert np.concatenate(arrays).tolist() == list(range(300))


def test_span_survives_later_writes_and_compaction():
    log = make(300)
    log.flush()
    spans = list(log.views())
    before = [s.copy_timestamps().tolist() for s in spans]
    objs_before = [s.objects().copy() for s in spans]
    del log[:]
    log.extend((t, "new") for t in range(300))
    log.flush()
    log.compact()
    assert [s.timestamps.tolist() for s in spans] == before
    assert [s.objects().copy() for s in spans] == objs_before
    log.close()


def test_views_do_not_see_later_flushes():
    log = make(10)
    log.flush()
    v = log.views()
    log.extend((t, "x") for t in range(100, 110))
    log.flush()
    total = sum(len(s) for s in v)
    assert total == 10
    log.close()


def test_snapshot_count_returns_to_zero():
    log = make(10)
    log.flush()
    it = log.all()
    v = log.views()
    spans = list(log.views())
    assert log.stats()["operational"]["snapshots"] >= 1
    it.close()
    v.close()
    for s in spans:
        s.close()
    del spans
    gc.collect()
    assert log.stats()["operational"]["snapshots"] == 0
    log.close()


def test_dropped_iterator_releases_pin_without_close():
    log = make(10)
    it = log.all()
    next(it)
    del it
    gc.collect()
    assert log.stats()["operational"]["snapshots"] == 0
    log.close()


def test_log_garbage_collected_while_iterating():
    it = make(20).all()  # the log object itself is only referenced by the iterator
    gc.collect()
    assert [t for t, _ in it] == list(range(20))


def test_reference_cycle_through_pin_holders_is_collected():
    # log -> (subclass __dict__) -> iterator -> snapshot -> log: all of it is
    # visible to the cycle collector, which must free it and close the engine.
    class Holder(Timelog):
        pass

    class Obj:
        pass

    log = Holder(maintenance="disabled")
    o = Obj()
    obj_ref = weakref.ref(o)
    log[1] = o
    del o
    log.it = log.all()
    log_ref = weakref.ref(log)
    del log
    gc.collect()
    assert log_ref() is None
    assert obj_ref() is None


# ---------------------------------------------------------------- the kept read pin
# Reads reuse the pin of the last read while nothing changed (see
# Timelog._read_snap); these pin down what that must never change.


class _Obj:
    pass


def test_reads_between_writes_always_see_the_latest_write():
    log = Timelog(maintenance="disabled")
    try:
        for i in range(200):
            assert log.count() == i
            assert log[i] == []
            log.append(i, i)
            assert log[i] == [i]
            assert log.count() == i + 1
            assert len(list(log[max(0, i - 3) : i + 1])) == min(i + 1, 4)
            if i % 50 == 49:
                del log[i - 10 : i - 5]
                assert log.count() == i + 1 - 5
                log.extend([(t, t) for t in range(i - 10, i - 5)])
                assert log.count() == i + 1
    finally:
        log.close()


def test_a_read_before_a_delete_does_not_keep_the_deleted_object_alive():
    log = Timelog(maintenance="disabled")
    obj = _Obj()
    ref = weakref.ref(obj)
    log.append(1, obj)
    log.append(2, "keep")
    del obj
    assert log[1] == [ref()]  # point read: pin kept
    assert log.count() == 2  # count: pin reused
    assert len(list(log[:])) == 2  # iterator on the same pin
    del log[1]
    log.compact()  # the delete dropped the kept pin first
    gc.collect()
    assert ref() is None
    assert log.stats()["operational"]["snapshots"] == 0
    log.close()


def test_close_after_reads_releases_everything_at_once():
    log = Timelog(maintenance="disabled")
    objs = [_Obj() for _ in range(10)]
    refs = [weakref.ref(o) for o in objs]
    log.extend(enumerate(objs))
    del objs
    assert log.count() == 10 and log[3] and log.at(4)
    log.close()  # no pin of the log's own survives close()
    gc.collect()
    assert all(r() is None for r in refs)


def test_kept_pin_is_not_reported_as_a_caller_snapshot():
    log = make()
    assert log.count() == 100 and log[5] == ["v5"]
    assert log.stats()["operational"]["snapshots"] == 0
    it = log[:]  # shares the kept state: one pinned state
    assert log.stats()["operational"]["snapshots"] == 1
    it.close()
    assert log.stats()["operational"]["snapshots"] == 0
    log.close()


def test_worker_publishes_are_picked_up_by_the_next_read():
    # The worker seals and flushes behind the reads' back: a read after it
    # sees the same records (from the new layers) and no stale pin lingers.
    log = Timelog(maintenance="background", memtable_max_bytes=384, maintenance_wakeup_ms=1)
    try:
        log.extend((t, t) for t in range(1000))
        assert log.count() == 1000
        for _ in range(200):
            st = log.stats()
            if st["storage"]["memruns"] == 0 and st["memtable"]["active_records"] < 16:
                break
            time.sleep(0.01)
        assert log.count() == 1000
        assert [t for t, _ in log[500:503]] == [500, 501, 502]
        assert log.stats()["operational"]["snapshots"] == 0
    finally:
        log.close()
