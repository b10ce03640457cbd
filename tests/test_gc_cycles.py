"""Cyclic garbage collection: a log reports the objects its engine holds.

A stored record holds a strong reference to its object, so a payload that
refers back to its log (directly, or through an iterator, span or view)
makes a cycle. Timelog's tp_traverse visits every handle the engine owns
(memtables, memruns, L0/L1 segments, the retired queue), exactly once each,
and tp_clear closes the log: such cycles are collected and a collected log's
worker thread is gone. gc.get_referents() calls tp_traverse, so the tests
compare what it reports with what the engine stores.
"""

import collections
import copy
import gc
import os
import random
import threading
import time
import weakref

import pytest

from timelog import Timelog


class Node:
    """A payload that can point back at a log (or anything)."""


def os_threads():
    return len(os.listdir("/proc/self/task"))


def visited(log):
    """Multiset of Node ids the log's tp_traverse reports."""
    return collections.Counter(id(o) for o in gc.get_referents(log) if type(o) is Node)


def ids(objs):
    return collections.Counter(id(o) for o in objs)


def wait_threads(target, timeout=5.0):
    deadline = time.monotonic() + timeout
    while os_threads() > target and time.monotonic() < deadline:
        time.sleep(0.01)
    return os_threads()


# ---------------------------------------------------------------- exact traversal


def test_traverse_visits_each_stored_handle_once_in_every_layer():
    log = Timelog(
        maintenance="disabled", memtable_max_bytes=4096, sealed_max_runs=64, busy_policy="silent"
    )
    try:
        shared = Node()
        stored = []
        for i in range(300):  # seals into memruns on the way
            o = shared if i % 7 == 0 else Node()
            log.append(i, o)
            stored.append(o)
        assert visited(log) == ids(stored)
        log.flush()  # memruns -> L0
        for i in range(300, 340):
            o = Node()
            log.append(i - 200, o)  # late records: out-of-order runs
            stored.append(o)
        assert visited(log) == ids(stored)
        log.compact()  # L0 -> L1
        assert log.stats()["storage"]["segments_l1"] > 0
        assert visited(log) == ids(stored)
        # A delete hides records; they are still stored (and visited) until
        # compaction drops them.
        log.delete(0, 50)
        assert visited(log) == ids(stored)
        # With a reader pinning the old state, compaction moves the dropped
        # handles to the retired queue, which still owns them.
        it = log[0:1000]
        log.compact()
        assert log.retired_queue_len > 0
        assert visited(log) == ids(stored)
        it.close()
        log.append(10**6, Node())  # any write drains the queue
        assert log.retired_queue_len == 0
        kept = [o for i, o in enumerate(stored) if not (0 <= (i if i < 300 else i - 200) < 50)]
        assert visited(log) == ids(kept) + ids(log[10**6])
    finally:
        log.close()
    assert visited(log) == collections.Counter()


def test_traverse_under_background_worker_never_overcounts():
    # While the worker seals, flushes and compacts, a traversal may miss a
    # handle in transit but must never report one more often than it is stored.
    log = Timelog(memtable_max_bytes=4096, max_delta_segments=2, busy_policy="flush")
    try:
        objs = [Node() for _ in range(50)]
        mult = collections.Counter()
        rng = random.Random(7)
        for step in range(4000):
            o = objs[rng.randrange(len(objs))]
            log.append(rng.randrange(10**6), o)
            mult[id(o)] += 1
            if step % 97 == 0:
                seen = visited(log)
                assert all(seen[k] <= mult[k] for k in seen), "a handle was visited twice"
    finally:
        log.close()


def test_traverse_exact_when_quiescent_after_background_work():
    log = Timelog(memtable_max_bytes=4096, max_delta_segments=2, busy_policy="flush")
    try:
        stored = []
        for i in range(3000):
            o = Node()
            log.append(i, o)
            stored.append(o)
        log.flush()
        log.compact()
        assert visited(log) == ids(stored)
    finally:
        log.close()


# ---------------------------------------------------------------- cycles are collected


def _cycle(log, layer):
    n = Node()
    n.log = log
    log.append(5, n)
    for i in range(200):
        log.append(i, Node())
    if layer in ("L0", "L1"):
        log.flush()
    if layer == "L1":
        log.compact()
    return n


@pytest.mark.parametrize("layer", ["memtable", "L0", "L1"])
@pytest.mark.parametrize("maintenance", ["disabled", "background"])
def test_payload_to_log_cycle_is_collected(layer, maintenance):
    log = Timelog(maintenance=maintenance, memtable_max_bytes=4096, busy_policy="flush")
    n = _cycle(log, layer)
    wl, wn = weakref.ref(log), weakref.ref(n)
    del log, n
    gc.collect()
    assert wl() is None and wn() is None


def test_cycle_through_retired_queue_is_collected():
    log = Timelog(maintenance="disabled")
    n = Node()
    n.log = log
    log.append(1, n)
    log.append(2, Node())
    log.flush()
    it = log[0:10]  # pins: the compaction's drops wait in the queue
    log.delete(1)
    log.compact()
    assert log.retired_queue_len == 1
    n.it = it  # the retired payload now also holds the pin
    wl, wn = weakref.ref(log), weakref.ref(n)
    del log, n, it
    gc.collect()
    assert wl() is None and wn() is None


# A NumPy array over page memory (span.timestamps) is not in this list: NumPy
# arrays do not take part in cyclic GC (their base is invisible to the
# collector), so a cycle through one is not collectable (docs/api.md).
@pytest.mark.parametrize("holder", ["iter", "span", "span_iter", "objects_view"])
def test_cycle_through_pin_holders_is_collected(holder):
    log = Timelog(maintenance="disabled")
    n = Node()
    log.append(1, n)
    log.append(2, Node())
    log.flush()
    if holder == "iter":
        n.ref = log[0:10]
    elif holder == "span_iter":
        n.ref = log.views()
    elif holder == "span":
        n.ref = next(iter(log.views()))
    else:
        n.ref = next(iter(log.views())).objects
    wl, wn = weakref.ref(log), weakref.ref(n)
    del log, n
    gc.collect()
    assert wl() is None and wn() is None


def test_collected_logs_stop_their_worker_threads():
    base = os_threads()
    refs = []
    for _ in range(30):
        log = Timelog()  # background worker
        n = Node()
        n.log = log
        log.append(1, n)
        refs.append(weakref.ref(log))
        del log, n
    gc.collect()
    assert all(r() is None for r in refs)
    assert wait_threads(base) <= base


def test_subclass_self_cycle_is_collected_and_closed():
    class MyLog(Timelog):
        pass

    base = os_threads()
    log = MyLog()
    log.me = log
    log.append(1, Node())
    w = weakref.ref(log)
    del log
    gc.collect()
    assert w() is None
    assert wait_threads(base) <= base


def test_externally_referenced_payloads_survive_collection():
    # The collector must not free what is still referenced from outside, nor
    # a live log's payloads, however cycles run between them.
    log = Timelog(maintenance="disabled", memtable_max_bytes=4096, busy_policy="silent")
    outside = []
    for i in range(500):
        n = Node()
        n.log = log
        n.i = i
        log.append(i, n)
        if i % 3 == 0:
            outside.append(n)
        if i == 200:
            log.flush()
        if i == 400:
            log.compact()
    del n
    gc.collect()
    assert not log.closed
    got = [n.i for _, n in log]
    assert got == list(range(500))
    assert all(o.log is log for o in outside)
    log.close()


def test_payload_finalizer_in_a_collected_cycle_reads_the_log():
    # Finalizers run before any tp_clear (PEP 442): the log is still open and
    # readable then; the collector closes it afterwards, and the log's own
    # settings are kept (no_gc_clear), so nothing reads freed state.
    seen = []

    class Reader(Node):
        def __del__(self):
            seen.append((self.log.closed, self.log.time_unit, len(self.log)))

    log = Timelog(maintenance="disabled", time_unit="us")
    r = Reader()
    r.log = log
    log.append(1, r)
    wl = weakref.ref(log)
    del log, r
    gc.collect()
    assert seen == [(False, "us", 1)]
    assert wl() is None


def test_gc_during_background_ingest_is_safe():
    # The collector traverses the log while the worker publishes and another
    # thread writes with the GIL released (bulk_append).
    import numpy as np

    log = Timelog(memtable_max_bytes=8192, max_delta_segments=2, busy_policy="flush")
    stop = threading.Event()
    errors = []

    def writer():
        try:
            base = 0
            while not stop.is_set():
                ts = np.arange(base, base + 2000, dtype=np.int64)
                log.bulk_append(ts, [Node() for _ in range(2000)])
                base += 2000
        except Exception as e:  # pragma: no cover - reported below
            errors.append(e)

    t = threading.Thread(target=writer)
    t.start()
    try:
        deadline = time.monotonic() + 2.0
        while time.monotonic() < deadline:
            gc.collect()
    finally:
        stop.set()
        t.join()
    assert not errors
    n = len(log)
    assert n > 0 and sum(1 for _ in log) == n
    log.close()


# ---------------------------------------------------------------- deepcopy


def test_deepcopy_keeps_cycle_pointing_at_the_copy():
    log = Timelog(maintenance="disabled", time_unit="us")
    n = Node()
    n.log = log
    log.append(1, n)
    log.append(2, "plain")
    clone = copy.deepcopy(log)
    try:
        m = clone[1][0]
        assert m is not n and m.log is clone
        assert list(clone)[1] == (2, "plain")
        assert clone.time_unit == "us"
        # The copy's cycle is collectable too.
        wc = weakref.ref(clone)
        del clone, m
        gc.collect()
        assert wc() is None
    finally:
        log.close()


def test_deepcopy_of_subclass_state_shares_memo():
    class MyLog(Timelog):
        pass

    log = MyLog(maintenance="disabled")
    log.tag = {"owner": log}
    n = Node()
    n.log = log
    log.append(1, n)
    clone = copy.deepcopy(log)
    assert type(clone) is MyLog
    assert clone.tag["owner"] is clone
    assert clone[1][0].log is clone
    clone.close()
    log.close()


def test_deepcopy_of_closed_log():
    log = Timelog(maintenance="disabled", time_unit="s")
    log.close()
    clone = copy.deepcopy(log)
    assert clone.closed and clone.time_unit == "s"


def test_subclass_payload_cycle_is_traversed_and_collected():
    # A Python subclass's own traverse (its __dict__) chains to Timelog's,
    # which reports the payloads.
    class MyLog(Timelog):
        pass

    log = MyLog(maintenance="disabled")
    n = Node()
    n.log = log
    log.append(1, n)
    assert visited(log) == ids([n])
    wl = weakref.ref(log)
    del log, n
    gc.collect()
    assert wl() is None
