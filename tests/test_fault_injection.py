"""Allocation failures: every engine allocation of a mixed workload fails in turn.

``Timelog(_fail_alloc=(k, every))`` (internal, for tests) opens the engine on a
counting allocator owned by that log: the k-th allocation call counted from
the last arming returns NULL, and with ``every > 0`` each every-th call after
it too; ``log._arm_alloc_failure(k, every)`` re-arms it, ``log._alloc_calls``
counts the calls.

The walk: with ``maintenance="disabled"`` the workload below makes the same
allocation calls on every run, so a dry run counts them (N) and then, for each
k in 1..N, a fresh log runs the workload with the k-th call failing. The step
that hits it must raise MemoryError and nothing else (no TimelogError, no
crash), leave the log valid and holding exactly what it held before the call
(no partial batch, no lost record), and, once disarmed, the same step and the
rest of the workload must succeed and end equal to the model. After close()
every payload must be released (a failed write keeps no reference).
"""

import gc
import os
import random
import threading
import time
import weakref

import numpy as np
import pytest
from model import Model, same_records

from timelog import Timelog, TimelogError

CFG = dict(
    maintenance="disabled",
    memtable_max_bytes=1024,
    target_page_bytes=256,
    sealed_max_runs=1000,
    max_delta_segments=2,
    window_size=16,
)
# Tiny memtables and no flush for a while: dozens of sealed runs, so the read
# paths that gather many sources (more than fit on the stack) allocate too.
MANY_SOURCES = dict(memtable_max_bytes=384, sealed_max_runs=100_000)


class P:
    __slots__ = ("__weakref__", "n")

    def __init__(self, n):
        self.n = n

    def __repr__(self):
        return "P%d" % self.n


class Run:
    """One log + model + the objects and pins the workload holds."""

    def __init__(self, fail_alloc=0, **cfg):
        self.log = Timelog(_fail_alloc=fail_alloc, **{**CFG, **cfg})
        self.model = Model()
        self.refs = []
        self.n = 0
        self.held = {}  # name -> (iterator or spans, expected)

    def obj(self):
        self.n += 1
        o = P(self.n)
        self.refs.append(weakref.ref(o))
        return o


# Each step is (name, fn): fn(run) does the call and returns a function that
# applies its effect to the model, run only when the call succeeded. Reads
# check their result against the model inside fn.


def _append(t, form):
    def fn(r):
        o = r.obj()
        if form == 0:
            r.log.append(t, o)
        elif form == 1:
            r.log.append(o, ts=t)
        else:
            r.log[t] = o
        return lambda: r.model.append(t, o)

    return fn


def _extend(ts, lists):
    def fn(r):
        pairs = [(t, r.obj()) for t in ts]
        if lists:
            r.log.extend([t for t, _ in pairs], [o for _, o in pairs])
        else:
            r.log.extend(pairs)
        return lambda: r.model.extend(pairs)

    return fn


def _bulk(ts, strided):
    def fn(r):
        pairs = [(t, r.obj()) for t in ts]
        arr = np.array(ts, dtype=np.int64)
        if strided:
            arr = np.repeat(arr, 2)[::2]
        r.log.bulk_append(arr, [o for _, o in pairs])
        return lambda: r.model.extend(pairs)

    return fn


def _delete(kind, a, b):
    def fn(r):
        if kind == "range":
            r.log.delete(a, b)
            return lambda: r.model.delete_range(a, b)
        if kind == "point":
            del r.log[a]
            return lambda: r.model.delete_ts(a)
        if kind == "cutoff":
            r.log.cutoff(a)
            return lambda: r.model.delete_before(a)
        del r.log[a:]
        return lambda: r.model.delete_since(a)

    return fn


def _maint(which):
    def fn(r):
        getattr(r.log, which)()
        return None

    return fn


def _open_iter(name, a, b):
    def fn(r):
        it = r.log[a:b]
        r.held[name] = (it, r.model.range(a, b))
        return None

    return fn


def _finish_iter(name, how):
    def fn(r):
        if name not in r.held:
            return None
        it, want = r.held[name]
        if how == "list":
            got = list(it)
        elif how == "to_numpy":
            ts, objs = it.to_numpy()
            got = list(zip(ts.tolist(), objs))
        else:
            got = it.next_batch(10**6)
        assert same_records(got, want)
        del r.held[name]
        return None

    return fn


def _open_spans(name):
    def fn(r):
        spans = list(r.log.views())
        r.held[name] = ([(s, s.timestamps.tolist(), s.objects().copy()) for s in spans], None)
        return None

    return fn


def _check_spans(name):
    def fn(r):
        if name not in r.held:
            return None
        for s, ts, objs in r.held.pop(name)[0]:
            assert s.timestamps.tolist() == ts
            assert all(x is y for x, y in zip(s.objects(), objs))
        return None

    return fn


def _reads(a, b):
    def fn(r):
        log, m = r.log, r.model
        assert same_records([(a, o) for o in log[a]], m.point(a))
        assert log.count(a, b) == len(m.range(a, b))
        assert len(log) == len(m)
        ts, objs = log.arrays(a, b)
        assert same_records(list(zip(ts.tolist(), objs)), m.range(a, b))
        assert log.timestamps(a, b).tolist() == [t for t, _ in m.range(a, b)]
        assert log.min_ts() == m.min_ts() and log.next_ts(a) == m.next_ts(a)
        assert log.prev_ts(b) == m.prev_ts(b)
        counts, _ = log.histogram(a, b, bins=3)
        assert int(counts.sum()) == len(m.range(a, b))
        assert int(log.counts(a, b, 4).sum()) == len(m.range(a, b))
        assert (a in log) == bool(m.point(a))
        it = log.since(a)
        assert len(it) == len(m.since(a))
        it.close()
        s = log.stats()
        # never a wrong answer: either MemoryError or the truth
        assert s["records"] == len(m)
        assert s["storage"]["min_ts"] == m.min_ts() and s["storage"]["max_ts"] == m.max_ts()
        assert s["storage"]["physical_records"] >= s["records"]
        assert ("empty" in repr(log)) == (len(m) == 0)
        return None

    return fn


def workload(seed=7, n=70, flush_share=0.08, prefix_runs=0):
    rng = random.Random(seed)

    def ts():
        return rng.randrange(-5, 60)

    steps = []
    # prefix_runs batches first, each its own sealed run, then reads over
    # all of them at once (more sources than a read keeps on the stack)
    for _ in range(prefix_runs):
        steps.append(("bulk_append", _bulk([ts() for _ in range(8)], False)))
    if prefix_runs:
        steps.append(("reads", _reads(0, 40)))
        steps.append(("reads", _reads(-5, 60)))
    for i in range(n):
        x = rng.random()
        if x < 0.22:
            steps.append(("append", _append(ts(), rng.randrange(3))))
        elif x < 0.32:
            steps.append(
                ("extend", _extend([ts() for _ in range(rng.randrange(1, 25))], rng.random() < 0.5))
            )
        elif x < 0.44:
            steps.append(
                (
                    "bulk_append",
                    _bulk([ts() for _ in range(rng.randrange(1, 80))], rng.random() < 0.3),
                )
            )
        elif x < 0.54:
            a = ts()
            kind = rng.choice(["range", "range", "point", "cutoff", "since"])
            steps.append(("delete", _delete(kind, a, a + rng.randrange(0, 12))))
        elif x < 0.54 + flush_share:
            steps.append(("flush", _maint("flush")))
        elif x < 0.62:
            steps.append(("append", _append(ts(), rng.randrange(3))))
        elif x < 0.67:
            steps.append(("compact", _maint("compact")))
        elif x < 0.72:
            steps.append(("maint_step", _maint("maint_step")))
        elif x < 0.80:
            a = ts()
            name = "it%d" % i
            steps.append(("open_iter", _open_iter(name, a, a + rng.randrange(0, 40))))
            later = rng.choice(["list", "to_numpy", "next_batch"])
            steps.append(("write_between", _append(ts(), 0)))
            steps.append(("finish_iter", _finish_iter(name, later)))
        elif x < 0.86:
            name = "sp%d" % i
            steps.append(("views", _open_spans(name)))
            steps.append(("write_between", _bulk([ts() for _ in range(30)], False)))
            steps.append(("compact", _maint("compact")))
            steps.append(("check_spans", _check_spans(name)))
        else:
            a = ts()
            steps.append(("reads", _reads(a, a + rng.randrange(1, 30))))
    return steps


def run_walk(k, steps, cfg=None):
    """Runs steps with allocation k failing.

    Returns the names of the steps that failed (MemoryError) and the run.
    """
    r = Run(**(cfg or {}))
    failed = []
    r.start = r.log._alloc_calls  # the walk counts from here, as arming does
    r.allocating = set()  # kinds of step that allocated at all
    r.log._arm_alloc_failure(k)
    for name, fn in steps:
        tries = 0
        while True:
            before = r.model.visible()
            calls = r.log._alloc_calls
            try:
                commit = fn(r)
            except MemoryError:
                tries += 1
                assert tries == 1, "step %s failed again once disarmed" % name
                failed.append(name)
                r.log._arm_alloc_failure(0)
                # intact: valid, and exactly what it held before the call
                r.log._validate()
                assert same_records(list(r.log), before), (
                    "k=%d: %s changed the log before raising MemoryError" % (k, name)
                )
                continue  # the same step again
            if commit is not None:
                commit()
            if r.log._alloc_calls != calls:
                r.allocating.add(name)
            break
    r.log._arm_alloc_failure(0)
    return failed, r


def finish(r):
    """The run ends equal to the model, valid, and releases every payload."""
    r.log._validate()
    assert same_records(list(r.log), r.model.visible())
    r.log.flush()
    r.log.compact()
    r.log._validate()
    assert same_records(list(r.log), r.model.visible())
    r.held.clear()
    r.model = None
    r.log.close()
    gc.collect(0)  # payloads form no cycles; a full collection is O(heap)
    alive = [w() for w in r.refs if w() is not None]
    assert not alive, "payloads still referenced after close(): %r" % (alive[:5],)


def count_allocations(steps, cfg=None):
    """Allocations the workload makes, and the kinds of step that make any."""
    failed, r = run_walk(0, steps, cfg)
    assert failed == []
    n = r.log._alloc_calls - r.start
    allocating = set(r.allocating)
    finish(r)
    return n, allocating


# `make stress` (TIMELOG_STRESS=1) walks more workloads.
STRESS = os.environ.get("TIMELOG_STRESS", "") not in ("", "0")
WALK = [(seed, "default") for seed in (range(7, 37) if STRESS else [7, 8, 9])] + [
    (seed, "many_sources") for seed in (range(40, 50) if STRESS else [40])
]
WALK_CFG = {"default": None, "many_sources": MANY_SOURCES}


@pytest.mark.parametrize("seed,cfg", WALK)
def test_every_allocation_of_the_workload_fails_in_turn(seed, cfg):
    if cfg == "many_sources":
        steps = workload(seed, n=20, flush_share=0.02, prefix_runs=36)
    else:
        steps = workload(seed)
    cfg = WALK_CFG[cfg]
    n, allocating = count_allocations(steps, cfg)
    assert n > 200  # the workload reaches the engine's allocations
    by_step = {}
    absorbed = 0
    for k in range(1, n + 1):
        failed, r = run_walk(k, steps, cfg)
        if failed:
            assert len(failed) == 1
            by_step[failed[0]] = by_step.get(failed[0], 0) + 1
        else:
            # The engine absorbed the failure (e.g. a seal that waits for the
            # next write, or an optional buffer): no error, no harm.
            assert r.log._alloc_failures_injected == 1
            absorbed += 1
        finish(r)
    # shown by `pytest -rP`
    print(
        "allocation points walked: %d (failing step: %r; absorbed by the engine: %d)"
        % (n, by_step, absorbed)
    )
    # every kind of call that allocates met at least one failing allocation
    # (an append into a run with room, or into the reused spare run, makes
    # none, and a short workload may hold no other kind of append)
    kinds = (
        "append",
        "extend",
        "bulk_append",
        "delete",
        "compact",
        "open_iter",
        "views",
        "reads",
    ) + (("flush",) if cfg is None else ())
    for name in (k for k in kinds if k in allocating):
        assert by_step.get(name), "no allocation failure landed in %s: %r" % (name, by_step)
    # and the walk still covers the write paths at all
    assert {"append", "bulk_append"} & allocating


@pytest.mark.parametrize("seed", [11, 12])
def test_each_step_fails_at_each_of_its_allocations_in_one_run(seed):
    # One log lives through every failure: each step is run with its 1st
    # allocation failing, then (same log, state as it was) its 2nd, ... until
    # it succeeds. Failures accumulate in one engine, so any state a failed
    # call left half-changed would surface in a later step.
    steps = workload(seed=seed, n=50)
    r = Run()
    failures = 0
    for name, fn in steps:
        k = 1
        while True:
            before = r.model.visible()
            r.log._arm_alloc_failure(k)
            try:
                commit = fn(r)
            except MemoryError:
                r.log._arm_alloc_failure(0)
                failures += 1
                r.log._validate()
                assert same_records(list(r.log), before), (
                    "%s changed the log before raising MemoryError" % (name,)
                )
                k += 1
                assert k < 500
                continue
            r.log._arm_alloc_failure(0)
            if commit is not None:
                commit()
            break
    assert failures > 100
    print("allocation failures injected in one run: %d" % failures)  # pytest -rP
    del before, commit  # they reference payloads
    finish(r)


def test_open_fails_cleanly_at_every_allocation():
    probe = Timelog(_fail_alloc=0, **CFG)
    n = probe._alloc_calls
    probe.close()
    assert n > 0
    for k in range(1, n + 1):
        with pytest.raises(MemoryError):
            Timelog(_fail_alloc=k, **CFG)
    # min_ts inserts a tombstone while opening: its allocation too
    probe = Timelog(_fail_alloc=0, min_ts=0, **CFG)
    m = probe._alloc_calls
    probe.close()
    for k in range(1, m + 1):
        with pytest.raises(MemoryError):
            Timelog(_fail_alloc=k, min_ts=0, **CFG)
    print("open: %d allocation points, with min_ts: %d" % (n, m))  # pytest -rP


def test_disarmed_allocator_changes_nothing():
    steps = workload(seed=3, n=40)
    failed, r = run_walk(0, steps)
    assert failed == [] and r.log._alloc_failures_injected == 0
    assert r.log.stats()["memory"]["alloc_failures"] == 0
    finish(r)


def test_engine_counts_the_injected_failures():
    log = Timelog(_fail_alloc=0, **CFG)
    log._arm_alloc_failure(1)
    with pytest.raises(MemoryError):
        log.bulk_append(np.arange(100, dtype=np.int64), list(range(100)))
    assert log._alloc_failures_injected == 1
    assert log.alloc_failures == 1
    assert log.stats()["memory"]["alloc_failures"] == 1
    assert len(log) == 0
    log.bulk_append(np.arange(100, dtype=np.int64), list(range(100)))
    assert len(log) == 100
    log.close()


def test_fault_injection_api_is_checked():
    with pytest.raises(TypeError):
        Timelog(_fail_alloc="1")
    with pytest.raises(ValueError):
        Timelog(_fail_alloc=-1)
    with pytest.raises(ValueError):
        Timelog(_fail_alloc=(1, 2, 3))
    with pytest.raises(TypeError):
        Timelog(_fail_alloc=(1, 1.5))
    log = Timelog(maintenance="disabled")
    assert log._alloc_calls is None and log._alloc_failures_injected is None
    with pytest.raises(TimelogError, match="_fail_alloc"):
        log._arm_alloc_failure(1)
    log.close()
    log = Timelog(maintenance="disabled", _fail_alloc=0)
    with pytest.raises(ValueError):
        log._arm_alloc_failure(-1)
    log.close()
    with pytest.raises(TimelogError, match="closed"):
        log._arm_alloc_failure(1)
    # fault injection is not a setting: it is not echoed, pickled or reopened
    log.reopen()
    assert log._alloc_calls is None
    assert "_fail_alloc" not in log.stats()["config"]
    log.close()


def test_background_worker_allocations_fail_too():
    # The worker allocates (seals, flushes, compactions) concurrently with the
    # writer: every 5th call fails, wherever it lands. Writes that fail raise
    # MemoryError and store nothing; the worker retries later; nothing is
    # lost and nothing crashes.
    log = Timelog(
        maintenance="background",
        busy_policy="silent",
        memtable_max_bytes=1024,
        target_page_bytes=256,
        max_delta_segments=2,
        window_size=64,
        maintenance_wakeup_ms=1,
        _fail_alloc=(3, 5),
    )
    stored = []
    errors = 0
    stop = threading.Event()

    def reader():
        while not stop.is_set():
            try:
                list(log[0:50])
                log.count()
            except MemoryError:
                pass

    th = threading.Thread(target=reader)
    th.start()
    try:
        deadline = time.monotonic() + 1.0
        i = 0
        while time.monotonic() < deadline or i < 2000:
            i += 1
            try:
                if i % 10 == 0:
                    ts = np.arange(i, i + 20, dtype=np.int64) % 700
                    objs = [(i, j) for j in range(20)]
                    log.bulk_append(ts, objs)
                    stored.extend(zip(ts.tolist(), objs))
                else:
                    o = (i,)
                    log.append(i % 700, o)
                    stored.append((i % 700, o))
            except MemoryError:
                errors += 1
    finally:
        stop.set()
        th.join()
    log._arm_alloc_failure(0)
    assert log._alloc_failures_injected > 0 and errors > 0
    log.flush()
    log.compact()
    log._validate()
    assert same_records(list(log), sorted(stored, key=lambda r: r[0]))
    log.close()
