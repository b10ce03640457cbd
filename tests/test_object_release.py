"""Stored objects: exactly one reference per record, released when dropped."""

import gc
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


@pytest.mark.parametrize("form", ["append", "append_kw", "setitem", "extend_pairs",
                                  "extend_lists", "bulk"])
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
