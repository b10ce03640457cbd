"""Re-entrancy: stored objects whose finalizers call back into the log.

A record's object is released when the engine drops the record: at a seal
that applies a delete (flush), at a compaction, when the last snapshot that
could still see it goes, at close(). The release runs the object's __del__,
which may do anything: write to the log, read it, delete, flush, compact,
close it, reopen it, raise. None of that may crash, deadlock, lose a record
or break an invariant. Exceptions from __del__ go to sys.unraisablehook, as
everywhere in Python; calls on a closed log raise TimelogError there.

Also here: iterators, spans and arrays that outlive their log, and an
iterator shared by two threads.
"""

import gc
import sys
import threading

import numpy as np
import pytest

from timelog import Timelog, TimelogError

TIMEOUT = 30


@pytest.fixture
def unraisable(monkeypatch):
    """Collects what sys.unraisablehook receives (exceptions from __del__)."""
    seen = []
    monkeypatch.setattr(sys, "unraisablehook", lambda u: seen.append(u.exc_value))
    yield seen
    gc.collect()


def run_bounded(fn, *args):
    """Runs fn in a thread: a deadlock fails the test instead of hanging it."""
    box = {}

    def target():
        try:
            box["value"] = fn(*args)
        except BaseException as e:  # re-raised in the test's thread
            box["error"] = e

    th = threading.Thread(target=target, daemon=True)
    th.start()
    th.join(TIMEOUT)
    assert not th.is_alive(), "deadlock: %s did not return within %d s" % (fn, TIMEOUT)
    if "error" in box:
        raise box["error"]
    return box.get("value")


class Hook:
    """A payload whose __del__ runs action(log)."""

    def __init__(self, log, action):
        self.log = log
        self.action = action

    def __del__(self):
        self.action(self.log)


# What a finalizer does to the log. Each leaves a mark in the log (a record
# at 10_000 + n) when it writes, so the test can check nothing was lost.
ACTIONS = {
    "append": lambda lg: lg.append(10_000, "from __del__"),
    "setitem": lambda lg: lg.__setitem__(10_001, "from __del__"),
    "extend": lambda lg: lg.extend([(10_002, "from __del__"), (10_003, "from __del__")]),
    "bulk_append": lambda lg: lg.bulk_append(np.array([10_004], dtype=np.int64), ["from __del__"]),
    "delete": lambda lg: lg.delete(500, 600),
    "cutoff": lambda lg: lg.cutoff(-1000),
    "flush": lambda lg: lg.flush(),
    "compact": lambda lg: lg.compact(),
    "maint_step": lambda lg: lg.maint_step(),
    "read": lambda lg: (
        list(lg),
        len(lg),
        lg.count(),
        lg[5],
        lg.arrays(),
        lg.timestamps(),
        lg.histogram(bins=3),
        lg.min_ts(),
        5 in lg,
        lg.stats(),
    ),
    "views": lambda lg: [s.timestamps.sum() for s in lg.views()],
    "iterate": lambda lg: lg.all().next_batch(10_000),
    "validate": lambda lg: lg._validate(),
    "close": lambda lg: lg.close(),
    "close_reopen": lambda lg: (lg.close(), lg.reopen(), lg.append(10_005, "reopened")),
}


# When the log drops records (and so runs the finalizers).
def drop_at_flush(log, n):
    # Deleted while in the memtable: the seal applies the delete, the flush
    # releases them.
    del log[0:n]
    log.flush()


def drop_at_compact(log, n):
    log.flush()
    del log[0:n]
    log.compact()


def drop_at_snapshot_release(log, n):
    log.flush()
    it = log.all()  # pins the records
    del log[0:n]
    log.compact()  # retired, but still pinned by it
    it.close()  # the pin goes: the drain runs the finalizers


def drop_at_close(log, n):
    log.close()


def drop_at_dealloc(log, n):
    # The Timelog object itself is collected with records in it.
    pass


WHEN = {
    "flush": drop_at_flush,
    "compact": drop_at_compact,
    "snapshot_release": drop_at_snapshot_release,
    "close": drop_at_close,
}


def populate(log, action, n=20):
    for i in range(n):
        log.append(i, Hook(log, ACTIONS[action]))
    for i in range(n, 2 * n):
        log.append(i, "plain%d" % i)


@pytest.mark.parametrize("when", sorted(WHEN))
@pytest.mark.parametrize("action", sorted(ACTIONS))
@pytest.mark.parametrize("maintenance", ["disabled", "background"])
def test_finalizer_calls_back_into_the_log(unraisable, maintenance, action, when):
    log = Timelog(maintenance=maintenance, memtable_max_bytes=2048)
    populate(log, action)
    run_bounded(WHEN[when], log, 20)
    gc.collect()
    # Only "the log is closed" may have been reported from a finalizer.
    for e in unraisable:
        assert isinstance(e, TimelogError) and "closed" in str(e), repr(e)
    if log.closed:
        # close() ran (by the test or by a finalizer): a later call is an
        # ordinary TimelogError, and reopen() gives a working log.
        with pytest.raises(TimelogError, match="closed"):
            log.append(1, "x")
        log.reopen()
        log.append(1, "x")
        assert list(log) == [(1, "x")]
        log.close()
        return
    log._validate()
    # The plain records are all there; so is what the finalizers wrote.
    plain = [(t, o) for t, o in log if isinstance(o, str) and o.startswith("plain")]
    if action == "close_reopen":
        # a finalizer closed the log and opened a fresh one, then wrote to it
        assert 10_005 in log
    elif action not in ("delete", "cutoff"):
        assert [t for t, _ in plain] == list(range(20, 40))
    if action in ("append", "setitem", "extend", "bulk_append"):
        assert any(t >= 10_000 for t in log.timestamps())
    assert len(log) == len(list(log))
    log.flush()
    log.compact()
    log._validate()
    log.close()
    gc.collect()


@pytest.mark.parametrize("action", sorted(ACTIONS))
def test_finalizer_runs_when_the_log_object_is_collected(unraisable, action):
    log = Timelog(maintenance="disabled")
    populate(log, action)
    del log
    gc.collect()
    for e in unraisable:
        assert isinstance(e, TimelogError) and "closed" in str(e), repr(e)


def test_records_written_from_a_finalizer_are_kept(unraisable):
    log = Timelog(maintenance="disabled", memtable_max_bytes=1024)
    n = 50
    written = []

    def write(lg):
        written.append(len(written))
        lg.append(100_000 + len(written), "late")

    for i in range(n):
        log.append(i, Hook(log, write))
    del log[:]
    log.flush()
    log.compact()
    assert len(written) == n
    assert log.count(100_000) == n
    assert len(log) == n
    log._validate()
    log.close()
    assert unraisable == []


def test_finalizer_that_closes_the_log_mid_drain_releases_everything(unraisable):
    import weakref

    class Obj:
        pass

    log = Timelog(maintenance="disabled")
    others = [Obj() for _ in range(100)]
    refs = [weakref.ref(o) for o in others]
    log.extend((i, o) for i, o in enumerate(others))
    del others
    for i in range(10):
        log.append(1000 + i, Hook(log, lambda lg: lg.close()))
    del log[1000:]
    log.flush()  # the first finalizer closes the log mid-drain
    assert log.closed
    gc.collect()
    assert all(r() is None for r in refs)
    assert unraisable == []


def test_finalizer_that_raises_is_reported_and_the_log_continues(unraisable):
    class Boom:
        def __del__(self):
            raise RuntimeError("boom from __del__")

    log = Timelog(maintenance="disabled")  # everything stays in the memtable
    for i in range(30):
        log.append(i, Boom())
        log.append(i, "keep%d" % i)
    del log[0:10]
    log.flush()  # the seal drops 10 records: their objects go here
    assert len(unraisable) == 10
    assert all(isinstance(e, RuntimeError) and str(e) == "boom from __del__" for e in unraisable)
    del log[10:20]
    log.compact()  # 10 more
    assert len(unraisable) == 20
    log._validate()
    assert [t for t, _ in log] == sorted(list(range(20, 30)) * 2)
    log.append(99, "still works")
    assert log[99] == ["still works"]
    log.close()  # the last 10
    assert len(unraisable) == 30


def test_finalizer_that_raises_during_a_batch_failure_is_reported():
    # extend() gives its references back when a batch fails; an object that
    # only the batch held is then released there, and its __del__ error must
    # not replace the batch's own exception.
    seen = []
    old = sys.unraisablehook
    sys.unraisablehook = lambda u: seen.append(u.exc_value)
    try:

        class Boom:
            def __del__(self):
                raise RuntimeError("boom in a failed batch")

        log = Timelog(maintenance="disabled")
        with pytest.raises(TypeError):
            log.extend(((t, Boom()) for t in [1, 2, 1.5]), insert_on_error=False)
        gc.collect()
        assert len(log) == 0
        assert [str(e) for e in seen if str(e) == "boom in a failed batch"] == [
            "boom in a failed batch"
        ] * 3
        log.close()
    finally:
        sys.unraisablehook = old


def test_finalizer_in_background_mode_closing_during_worker_activity(unraisable):
    for _ in range(5):
        log = Timelog(
            maintenance="background",
            memtable_max_bytes=1024,
            maintenance_wakeup_ms=1,
            busy_policy="silent",
        )
        try:
            for i in range(2000):
                log.append(i, Hook(log, lambda lg: lg.close()) if i % 100 == 0 else i)
                if i % 500 == 0:
                    del log[0:i]
        except TimelogError as e:
            # a write's drain released a deleted Hook, which closed the log
            assert "closed" in str(e) and log.closed

        def maintain():
            try:
                log.flush()
                log.compact()
            except TimelogError as e:  # a finalizer closed it meanwhile
                assert "closed" in str(e)

        run_bounded(maintain)
        gc.collect()
        log.close()
        for e in unraisable:
            assert isinstance(e, TimelogError), repr(e)


def test_index_that_closes_the_log_during_a_write(unraisable):
    class Closing:
        def __init__(self, log):
            self.log = log

        def __index__(self):
            self.log.close()
            return 5

    for call in [
        lambda lg: lg.append(Closing(lg), "x"),
        lambda lg: lg.extend([(1, "a"), (Closing(lg), "b")]),
        lambda lg: lg.extend([1, Closing(lg)], ["a", "b"]),
        lambda lg: lg.delete(Closing(lg), 10),
        lambda lg: lg.count(Closing(lg), 10),
        lambda lg: lg.histogram(0, 10, bins=Closing(lg)),
        lambda lg: lg.range(0, Closing(lg)),
        lambda lg: lg.views(0, Closing(lg)),
    ]:
        log = Timelog(maintenance="disabled")
        log.append(1, "kept")
        try:
            r = call(log)
        except TimelogError as e:
            assert "closed" in str(e)
        else:
            # A read that had already pinned its snapshot may still answer.
            if hasattr(r, "__iter__") and not isinstance(r, tuple):
                list(r)
        assert log.closed


# ---------------------------------------------------------------- outliving the log


def test_iterators_spans_and_arrays_outlive_their_log():
    log = Timelog(maintenance="disabled")
    objs = [object() for _ in range(1000)]
    log.extend(enumerate(objs))
    log.flush()
    it1 = log.all()
    it2 = log[100:200]
    it3 = log.since(900)
    next(it1)
    spans = log.views()
    span = next(log.views())
    arr = span.timestamps
    view = span.objects()
    ts, got = log.arrays()
    log.close()
    # Each keeps reading its snapshot.
    assert len(it1) == 999 and next(it1) == (1, objs[1])
    assert it2.to_numpy()[1] == objs[100:200]
    assert it3.next_batch(2**40) == list(zip(range(900, 1000), objs[900:]))
    assert it1.view() is not None
    assert sum(len(s) for s in spans) == 1000
    assert arr.tolist() == list(range(len(arr)))
    assert view[0] is objs[0]
    assert ts.tolist() == list(range(1000)) and got == objs
    del log
    gc.collect()
    assert list(it1)[-1] == (999, objs[999])
    assert arr[-1] == len(arr) - 1
    del it1, it2, it3, spans, span, view
    gc.collect()
    assert arr[0] == 0  # the array's base is the last pin


def test_reopened_log_and_old_iterators():
    log = Timelog(maintenance="disabled")
    log.extend((i, i) for i in range(10))
    it = log.all()
    log.close()
    log.reopen()
    log.append(100, "new")
    assert [t for t, _ in it] == list(range(10))
    assert list(log) == [(100, "new")]
    log.close()


# ---------------------------------------------------------------- one iterator, two threads


@pytest.mark.parametrize("how", ["next", "next_batch", "mixed"])
def test_iterator_shared_by_two_threads_does_not_crash(how):
    log = Timelog(maintenance="disabled")
    n = 200_000
    log.bulk_append(np.arange(n, dtype=np.int64), list(range(n)))
    log.flush()
    it = log.all()
    got = [[], []]
    conflicts = [0]

    def worker(i):
        mine = got[i]
        while True:
            try:
                if how == "next" or (how == "mixed" and i == 0):
                    try:
                        mine.append(next(it))
                    except StopIteration:
                        return
                else:
                    batch = it.next_batch(5000)
                    if not batch:
                        return
                    mine.extend(batch)
                    len(it)
            except RuntimeError as e:
                assert "already in use" in str(e)
                conflicts[0] += 1

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(2)]
    for th in threads:
        th.start()
    for th in threads:
        th.join(TIMEOUT)
        assert not th.is_alive()
    records = got[0] + got[1]
    # every record exactly once between the two threads
    assert sorted(t for t, _ in records) == list(range(n))
    assert all(t == o for t, o in records)
    log.close()


def test_iterator_closed_by_another_thread_while_fetching():
    log = Timelog(maintenance="disabled")
    n = 300_000
    log.bulk_append(np.arange(n, dtype=np.int64), list(range(n)))
    for _ in range(20):
        it = log.all()
        out = []

        def fetch():
            try:
                out.extend(it.next_batch(n))
            except RuntimeError:
                pass

        th = threading.Thread(target=fetch)
        th.start()
        it.close()  # during the fetch: deferred to its end
        th.join(TIMEOUT)
        assert not th.is_alive()
        assert it.closed
        assert [t for t, _ in out] == list(range(len(out)))
    log.close()


def test_log_closed_by_another_thread_during_writes_and_maintenance():
    # Not a supported pattern (close() is a lifecycle call, serialized with
    # writes by the caller), but it must not crash: a call already in the
    # engine finishes, then the engine is released.
    for _ in range(10):
        log = Timelog(maintenance="disabled", memtable_max_bytes=4096)
        stop = threading.Event()
        errors = []

        def writer():
            i = 0
            while not stop.is_set():
                i += 1
                try:
                    log.bulk_append(np.arange(i, i + 500, dtype=np.int64), [i] * 500)
                    log.flush()
                    if i % 5 == 0:
                        log.compact()
                except TimelogError as e:
                    errors.append(e)
                    return

        th = threading.Thread(target=writer)
        th.start()
        import time

        time.sleep(0.02)
        log.close()
        stop.set()
        th.join(TIMEOUT)
        assert not th.is_alive()
        assert log.closed
        assert all("closed" in str(e) for e in errors)


# ---------------------------------------------------------------- inputs changed by the caller's own code


def test_extend_input_shrunk_by_index_during_the_call():
    # The caller's __index__ empties the very list extend() is reading: an
    # IndexError (never a read past the end), nothing stored, no reference kept.
    import weakref

    class O:
        pass

    log = Timelog(maintenance="disabled")
    kept = O()
    ref = weakref.ref(kept)
    pairs = []

    class Shrink:
        def __index__(self):
            pairs.clear()
            return 1

    pairs.extend([(0, kept), (Shrink(), "a")] + [(i, "x") for i in range(1000)])
    with pytest.raises(IndexError):
        log.extend(pairs)
    tss = [0, None] + list(range(1000))
    objs = [kept] * 1002

    class Shrink2:
        def __index__(self):
            del tss[:], objs[:]
            return 1

    tss[1] = Shrink2()
    with pytest.raises(IndexError):
        log.extend(tss, objs)
    assert len(log) == 0
    del kept, pairs, objs
    gc.collect()
    assert ref() is None
    log.close()


def test_bulk_append_objects_list_that_lies_about_its_length():
    class Liar(list):
        def __len__(self):
            return 1000

    log = Timelog(maintenance="disabled")
    with pytest.raises(ValueError, match="length mismatch"):
        log.bulk_append(np.arange(1000, dtype=np.int64), Liar(["a"]))
    log.bulk_append(np.arange(2, dtype=np.int64), Liar(["a", "b"]))  # its real size
    assert list(log) == [(0, "a"), (1, "b")]
    log.close()


def test_bulk_append_array_conversion_that_mutates_the_objects():
    objs = ["a", "b", "c"]

    class Arr:
        def __array__(self, *a, **k):
            objs.append("d")  # now 4 objects for 3 timestamps
            return np.array([1, 2, 3], dtype=np.int64)

    log = Timelog(maintenance="disabled")
    with pytest.raises(ValueError, match="length mismatch"):
        log.bulk_append(Arr(), objs)
    assert len(log) == 0
    log.close()


# ---------------------------------------------------------------- the cycle collector inside a read


class _Cycle:
    """Cyclic garbage whose finalizer runs action(): the cycle collector may
    run it at any allocation, e.g. while an iterator builds a (ts, obj) tuple."""

    def __init__(self, action):
        self.me = self
        self.action = action

    def __del__(self):
        self.action()


@pytest.mark.parametrize("what", ["close", "next", "next_batch", "len"])
def test_cycle_collector_finalizer_touching_the_iterator_inside_next(unraisable, what):
    class Payload:
        def __init__(self, t):
            self.t = t

    log = Timelog(maintenance="disabled")
    n = 600
    log.extend((t, Payload(t)) for t in range(n))  # the engine holds the only references
    log.flush()
    it = log.all()
    del log[:]
    log.compact()  # retired: only the iterator's snapshot keeps them alive
    stolen = []

    def action():
        if what == "close":
            it.close()  # releases the pin: the objects go at once
        elif what == "next":
            stolen.append(next(it, None))
        elif what == "next_batch":
            stolen.extend(it.next_batch(3))
        else:
            len(it)

    got = []
    old = gc.get_threshold()
    gc.set_threshold(1)  # collect at (nearly) every container allocation
    try:
        while True:
            _Cycle(action)
            try:
                rec = next(it)  # kept: its tuple never goes back to the free list,
            except StopIteration:  # so the next one is a fresh (collectable) allocation
                break
            got.append(rec)
            assert rec[1].t == rec[0]  # the pair belongs together, and is alive
    finally:
        gc.set_threshold(*old)
    gc.collect()
    stolen = [r for r in stolen if r is not None]
    assert all(o.t == t for t, o in stolen)
    if what != "close":
        assert sorted(t for t, _ in got + stolen) == list(range(n))
    for e in unraisable:
        assert isinstance(e, RuntimeError) and "in use" in str(e), repr(e)
    log.close()
