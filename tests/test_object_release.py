"""Stored objects: exactly one reference per record, released when dropped."""

import copy
import gc
import pickle
import sys
import weakref

import numpy as np
import pytest

from timelog import Timelog


class Obj:
    pass


def weak_batch(n):
    objs = [Obj() for _ in range(n)]
    return objs, [weakref.ref(o) for o in objs]


def alive(refs):
    gc.collect()
    return sum(r() is not None for r in refs)


@pytest.mark.parametrize(
    "form", ["append", "append_kw", "setitem", "extend_pairs", "extend_lists", "bulk"]
)
def test_one_reference_per_record(log, form):
    o = Obj()
    before = sys.getrefcount(o)
    if form == "append":
        log.append(1, o)
        log.append(2, o)
    elif form == "append_kw":
        log.append(o, ts=1)
        log.append(o, ts=2)
    elif form == "setitem":
        log[1] = o
        log[2] = o
    elif form == "extend_pairs":
        log.extend([(1, o), (2, o)])
    elif form == "extend_lists":
        log.extend([1, 2], [o, o])
    else:
        log.bulk_append(np.array([1, 2], dtype=np.int64), [o, o])
    assert sys.getrefcount(o) == before + 2
    # reads hand out new references that go away with the result
    list(log)
    log[1]
    log.flush()
    log.compact()
    list(log.views())
    gc.collect()
    assert sys.getrefcount(o) == before + 2
    log.close()
    assert sys.getrefcount(o) == before


def test_wall_clock_append_holds_one_reference(log):
    o = Obj()
    before = sys.getrefcount(o)
    log.append(o)
    assert sys.getrefcount(o) == before + 1
    log.close()
    assert sys.getrefcount(o) == before


def test_released_after_delete_flush_compact(log):
    objs, refs = weak_batch(100)
    log.extend(enumerate(objs))
    del objs
    log.flush()
    del log[:50]
    log.flush()
    log.compact()
    assert alive(refs) == 50
    assert all(refs[i]() is None for i in range(50))
    assert log.retired_queue_len == 0


def test_deleted_in_memtable_released_at_next_flush(log):
    objs, refs = weak_batch(10)
    log.extend(enumerate(objs))
    del objs
    del log[:]
    assert len(log) == 0
    log.flush()  # the seal applies the tombstone: released here at the latest
    assert alive(refs) == 0


def test_released_on_close(log):
    objs, refs = weak_batch(100)
    log.extend(enumerate(objs))
    log.flush()
    log.extend((i, o) for i, o in enumerate(objs))
    del objs
    assert alive(refs) == 100
    log.close()
    assert alive(refs) == 0


def test_released_on_garbage_collection_of_the_log():
    log = Timelog(maintenance="disabled")
    objs, refs = weak_batch(10)
    log.extend(enumerate(objs))
    del objs, log
    assert alive(refs) == 0


def test_background_mode_releases_after_compact(bglog):
    objs, refs = weak_batch(1000)
    bglog.extend(enumerate(objs))
    del objs
    del bglog[:]
    bglog.flush()
    bglog.compact()
    assert alive(refs) == 0


def test_overwritten_by_later_delete_all_then_compact(log):
    keep, keep_refs = weak_batch(5)
    gone, gone_refs = weak_batch(5)
    log.extend((i, o) for i, o in enumerate(gone))
    del log[:]
    log.extend((i, o) for i, o in enumerate(keep))
    del gone, keep
    log.flush()
    log.compact()
    assert alive(gone_refs) == 0
    assert alive(keep_refs) == 5
    assert len(log) == 5


def test_refcount_of_span_objects_and_iterators(log):
    o = Obj()
    log[1] = o
    log.flush()
    base = sys.getrefcount(o)
    span = next(log.views())
    view = span.objects()
    assert sys.getrefcount(o) == base  # lazy: no reference taken until read
    x = view[0]
    assert x is o
    assert sys.getrefcount(o) == base + 1
    del x, view, span
    it = log.all()
    assert sys.getrefcount(o) == base
    rec = next(it)
    assert sys.getrefcount(o) == base + 1
    del rec, it
    gc.collect()
    assert sys.getrefcount(o) == base


def test_failed_writes_take_no_reference():
    log = Timelog(maintenance="disabled", min_ts=0)
    o = Obj()
    before = sys.getrefcount(o)
    with pytest.raises(ValueError):
        log[-1] = o
    with pytest.raises(TypeError):
        log[1.0] = o
    with pytest.raises(ValueError):
        log.bulk_append(np.array([1, -1], dtype=np.int64), [o, o])
    with pytest.raises(ValueError):
        log.extend([(1, o), (-1, o)])
    assert sys.getrefcount(o) == before
    log.close()
    with pytest.raises(Exception):
        log[1] = o
    assert sys.getrefcount(o) == before


def test_object_whose_finalizer_writes_to_the_log(log):
    # on_drop may run arbitrary __del__ code; the engine must tolerate re-entry.
    class Writer:
        def __del__(self):
            log[999] = "from __del__"

    log[1] = Writer()
    del log[1]
    log.flush()
    log.compact()
    gc.collect()
    assert log[999] == ["from __del__"]


# ---------------------------------------------------------------- every write form, every release path


class WObj:
    __slots__ = ("__weakref__",)


def _store_every_way(log, objs):
    """Stores objs (a list of 60) through every write form; returns them."""
    log.append(0, objs[0])
    log.append(objs[1], ts=1)
    log[2] = objs[2]
    log.extend([(3 + i, o) for i, o in enumerate(objs[3:20])])
    log.extend(list(range(20, 30)), objs[20:30])
    log.extend(((30 + i, o) for i, o in enumerate(objs[30:35])))
    log.extend([(35, objs[35]), (36, objs[36])], insert_on_error=False)
    log.bulk_append(np.arange(37, 50, dtype=np.int64), objs[37:50])
    log.bulk_append(np.arange(59, 49, -1, dtype=np.int64)[::-1].copy()[::-1], tuple(objs[50:60]))


@pytest.mark.parametrize("maintenance", ["disabled", "background"])
def test_every_stored_object_released_after_close(maintenance):
    log = Timelog(maintenance=maintenance, memtable_max_bytes=1024)
    objs = [WObj() for _ in range(60)]
    refs = [weakref.ref(o) for o in objs]
    _store_every_way(log, objs)
    assert len(log) == 60
    del objs
    log.flush()
    assert alive(refs) == 60
    log.close()
    assert alive(refs) == 0


@pytest.mark.parametrize("maintenance", ["disabled", "background"])
def test_every_deleted_object_released_after_delete_flush_compact(maintenance):
    log = Timelog(maintenance=maintenance, memtable_max_bytes=1024)
    objs = [WObj() for _ in range(60)]
    refs = [weakref.ref(o) for o in objs]
    _store_every_way(log, objs)
    del objs
    del log[10:40]
    log.delete(5)
    log.cutoff(2)
    log.flush()
    log.compact()
    gone = [0, 1, 5] + list(range(10, 40))
    assert [i for i, r in enumerate(refs) if r() is None] == gone
    assert log.retired_queue_len == 0
    del log[:]
    log.flush()
    log.compact()
    assert alive(refs) == 0
    assert len(log) == 0
    log.close()


def test_objects_seen_by_spans_and_iterators_released_when_they_go():
    log = Timelog(maintenance="disabled", memtable_max_bytes=1024)
    objs = [WObj() for _ in range(500)]
    refs = [weakref.ref(o) for o in objs]
    log.bulk_append(np.arange(500, dtype=np.int64), objs)
    del objs
    log.flush()
    it = log.all()
    half = it.next_batch(250)
    spans = list(log.views())
    arr = spans[0].timestamps
    view = spans[0].objects()
    first = view[0]
    del log[:]
    log.flush()
    log.compact()
    # still pinned by the iterator, the spans, the array and the view
    assert alive(refs) == 500
    assert it.next_batch(1000)[-1][0] == 499
    del half, first
    it.close()
    del spans
    assert alive(refs) == 500  # the array and the view still pin them
    del view
    assert alive(refs) == 500  # the array alone (its base is the pin)
    del arr
    assert alive(refs) == 0  # the last pin went: released right there
    log.close()


def test_objects_seen_by_pins_that_outlive_the_log_are_released_with_the_last_pin():
    log = Timelog(maintenance="disabled")
    objs = [WObj() for _ in range(100)]
    refs = [weakref.ref(o) for o in objs]
    log.extend(enumerate(objs))
    del objs
    log.flush()
    it = log.since(50)
    arr = next(log.views()).timestamps
    log.close()
    assert alive(refs) == 100
    assert len(list(it)) == 50
    assert alive(refs) == 100  # the array still pins the whole snapshot
    del arr
    assert alive(refs) == 0


def test_refcounts_return_to_baseline_after_a_workload():
    # Sentinels go through every write form, every read (which hands out new
    # references that must all be given back), deletes, maintenance, spans,
    # iterators, a failed batch, pickling; after close() each sentinel's
    # reference count is back where it started.
    sentinels = [WObj() for _ in range(8)]
    sentinels += ["a str sentinel %d" % i for i in range(4)]
    sentinels += [(1, 2, object()) for _ in range(4)]
    base = [sys.getrefcount(s) for s in sentinels]
    log = Timelog(maintenance="disabled", memtable_max_bytes=1024, min_ts=-100)
    for rnd in range(3):
        for i, s in enumerate(sentinels):
            log.append(i, s)
            log[i + 100] = s
            log.append(s, ts=i + 200)
        log.extend([(i + 300, s) for i, s in enumerate(sentinels)])
        log.extend(list(range(400, 400 + len(sentinels))), sentinels)
        log.bulk_append(np.arange(500, 500 + len(sentinels), dtype=np.int64), sentinels)
        log.bulk_append(np.arange(600, 600 + len(sentinels), dtype=np.int64), tuple(sentinels))
        with pytest.raises(ValueError):  # below min_ts: nothing kept
            log.extend([(1, sentinels[0]), (-1000, sentinels[1])])
        with pytest.raises(ValueError):
            log.bulk_append(np.array([1, -1000], dtype=np.int64), sentinels[:2])
        with pytest.raises(TypeError):
            log.extend([(1, sentinels[0]), (1.5, sentinels[1])], insert_on_error=False)
        with pytest.warns(RuntimeWarning):
            log.extend([(1, sentinels[0]), (1.5, sentinels[1])])
        list(log)
        log[3]
        log.at(100)
        log.arrays()
        log.all().to_numpy()
        log.all().next_batch(10**6)
        it = log.all()
        next(it)
        del it
        for span in log.views():
            span.objects().copy()
            list(span.objects())
        del span  # a span pins its snapshot (and so the records)
        copy.copy(log).close()
        pickle.loads(pickle.dumps(log)).close()
        del log[100:200]
        log.flush()
        log.compact()
        log.maint_step()
    del s  # the loop variable
    gc.collect()
    assert [sys.getrefcount(s) for s in sentinels] != base  # still stored
    log.close()
    gc.collect()
    assert [sys.getrefcount(s) for s in sentinels] == base
