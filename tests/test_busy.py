"""Write-path backpressure: busy means the write WAS stored.

The second half runs the background worker: tiny bounds under every busy
policy, stopping and restarting the worker mid-ingest, and the release of
every payload (after flush + compact for deleted records, after close for
the rest) once the worker has compacted.
"""

import gc
import random
import threading
import time
import weakref

import numpy as np
import pytest

from timelog import Timelog, TimelogBusyError, TimelogError


def tiny(policy):
    # Manual maintenance, a memtable that seals every few records and room
    # for one sealed run: the second seal without a flush must report busy.
    return Timelog(
        maintenance="disabled", busy_policy=policy, memtable_max_bytes=1024, sealed_max_runs=1
    )


def test_busy_error_is_a_timelog_error():
    assert issubclass(TimelogBusyError, TimelogError)


def test_raise_policy_raises_and_keeps_the_record():
    log = tiny("raise")
    stored = 0
    with pytest.raises(TimelogBusyError, match="stored") as exc:
        for i in range(100_000):
            stored += 1
            log[i] = i
    assert "retry" in str(exc.value)
    assert len(log) == stored  # the record that raised is stored
    assert log[stored - 1] == [stored - 1]
    assert log.busy_events == 1
    assert log.stats()["operational"]["busy_events"] == 1
    log.flush()  # relieves the pressure
    log[10**6] = "after"
    assert len(log) == stored + 1
    log._validate()
    log.close()


def test_silent_policy_counts_and_stores_everything():
    log = tiny("silent")
    for i in range(5000):
        log[i] = i
    assert log.busy_events > 0
    assert len(log) == 5000
    assert [o for _, o in log] == list(range(5000))
    log._validate()
    log.close()


def test_flush_policy_flushes_and_stores_everything():
    log = tiny("flush")
    for i in range(5000):
        log.append(i, i)
    st = log.stats()
    assert log.busy_events > 0
    assert st["operational"]["flushes_total"] > 0
    assert st["storage"]["segments_l0"] + st["storage"]["segments_l1"] > 0
    assert len(log) == 5000
    log._validate()
    log.close()


def fill_until_busy(log):
    """Appends in the 'silent' sense until the engine is under pressure."""
    i = 0
    while log.busy_events == 0:
        try:
            log[i] = i
        except TimelogBusyError:
            pass
        i += 1
        assert i < 100_000
    return i


@pytest.mark.parametrize("write", ["extend", "bulk_append"])
def test_busy_batch_stored_entirely(write):
    log = tiny("raise")
    n0 = fill_until_busy(log)
    assert len(log) == n0
    batch_ts = list(range(10**6, 10**6 + 500))
    with pytest.raises(TimelogBusyError):
        if write == "extend":
            log.extend(zip(batch_ts, batch_ts))
        else:
            log.bulk_append(np.array(batch_ts, dtype=np.int64), batch_ts)
    assert len(log) == n0 + 500
    assert log.count(10**6, 10**6 + 500) == 500
    assert log.busy_events == 2
    log.close()


@pytest.mark.parametrize("write", ["append_now", "append_kw", "append_pos", "setitem"])
def test_every_append_form_reports_busy_and_keeps_the_record(write):
    log = tiny("raise")
    fill_until_busy(log)
    before = len(log)
    attempts = 0
    with pytest.raises(TimelogBusyError):
        for i in range(100_000):
            attempts += 1
            if write == "append_now":
                log.append(i)
            elif write == "append_kw":
                log.append(i, ts=i)
            elif write == "append_pos":
                log.append(i, i)
            else:
                log[i] = i
    assert len(log) == before + attempts
    assert log.busy_events == 2
    log.close()


def test_busy_events_property_matches_stats():
    log = tiny("silent")
    for i in range(3000):
        log[i] = i
    assert log.busy_events == log.stats()["operational"]["busy_events"] > 0
    log.close()


def test_background_streaming_never_loses_writes():
    with Timelog.for_streaming(memtable_max_bytes=4096) as log:
        for i in range(50_000):
            log[i] = i
        assert len(log) == 50_000
        log._validate()


# ---------------------------------------------------------------- background worker


class Payload:
    """A weak-referenceable payload that knows its timestamp."""

    __slots__ = ("__weakref__", "ts")

    def __init__(self, ts):
        self.ts = ts


def tiny_background(policy, **kw):
    # Seals every ~40 records, one sealed run allowed, compaction after every
    # flush, no waiting: the worker is behind almost all the time.
    return Timelog(
        maintenance="background",
        busy_policy=policy,
        memtable_max_bytes=1024,
        sealed_max_runs=1,
        max_delta_segments=1,
        sealed_wait_ms=0,
        maintenance_wakeup_ms=1,
        **kw,
    )


class Writer:
    """Writes through every API form, remembering each record it stored."""

    def __init__(self, log, seed):
        self.log = log
        self.rng = random.Random(seed)
        self.written = []  # (ts, obj): stored whether or not busy was reported
        self.raised = 0
        self.t = 0

    def _call(self, fn):
        try:
            fn()
        except TimelogBusyError:
            self.raised += 1

    def _ts(self):
        if self.rng.random() < 0.05:
            return self.t - self.rng.randint(1, 200)  # out of order
        self.t += 1
        return self.t

    def write(self, n):
        log, rng = self.log, self.rng
        while n > 0:
            r = rng.random()
            if r < 0.6:
                t = self._ts()
                o = Payload(t)
                self.written.append((t, o))
                self._call(lambda: log.append(t, o))
                n -= 1
            elif r < 0.7:
                t = self._ts()
                o = Payload(t)
                self.written.append((t, o))

                def setitem():
                    log[t] = o

                self._call(setitem)
                n -= 1
            elif r < 0.85:
                k = rng.randint(1, 200)
                ts = [self._ts() for _ in range(k)]
                objs = [Payload(t) for t in ts]
                self.written.extend(zip(ts, objs))
                self._call(lambda: log.bulk_append(np.array(ts, dtype=np.int64), objs))
                n -= k
            else:
                k = rng.randint(1, 50)
                pairs = [(t, Payload(t)) for t in (self._ts() for _ in range(k))]
                self.written.extend(pairs)
                self._call(lambda: log.extend(pairs))
                n -= k

    def check_contents(self):
        log = self.log
        assert len(log) == len(self.written)
        got = list(log)
        assert [t for t, _ in got] == sorted(t for t, _ in self.written)
        assert all(o.ts == t for t, o in got)
        # identity: every stored object comes back, once
        assert sorted(id(o) for _, o in got) == sorted(id(o) for _, o in self.written)


@pytest.mark.parametrize("policy", ["raise", "silent", "flush"])
def test_tiny_bounds_under_background_maintenance_keep_every_write(policy):
    log = tiny_background(policy)
    w = Writer(log, seed=3)
    w.write(8000)  # worker running, mostly behind
    log.stop_maintenance()  # no worker: busy past one sealed run, certainly
    assert not log.maintenance_running
    w.write(2000)
    log.start_maintenance()
    assert log.maintenance_running
    w.write(4000)
    w.check_contents()
    if policy == "raise":
        # every busy write raised, once, and was stored all the same
        assert w.raised > 0
        assert w.raised == log.busy_events
    else:
        assert w.raised == 0
        assert log.busy_events > 0
    if policy == "flush":
        assert log.stats()["operational"]["flushes_total"] > 0
    assert log.stats()["operational"]["busy_events"] == log.busy_events
    log._validate()
    log.close()


def poll(fn, timeout=20.0):
    """Waits for fn() to be true; bounded so a hang fails instead of stalling."""
    end = time.monotonic() + timeout
    while not fn():
        if time.monotonic() > end:
            return False
        time.sleep(0.002)
    return True


def test_stop_and_start_maintenance_mid_ingest_loses_nothing():
    log = Timelog(
        maintenance="background",
        busy_policy="silent",
        memtable_max_bytes=4096,
        max_delta_segments=2,
        sealed_max_runs=2,
        maintenance_wakeup_ms=1,
    )
    assert log.maintenance_running
    total = 0

    def chunk(i):
        nonlocal total
        ts = np.arange(i * 1000, (i + 1) * 1000, dtype=np.int64)
        ts[::20] -= 1500  # 5% late
        log.bulk_append(ts, ts.tolist())
        for j in range(50):
            log.append(int(ts[-1]) + 1 + j, -1)
        total += 1050

    for i in range(10):
        chunk(i)
    log.stop_maintenance()
    log.stop_maintenance()  # idempotent
    assert not log.maintenance_running
    before = log.stats()["operational"]
    for i in range(10, 20):
        chunk(i)
    time.sleep(0.03)
    st = log.stats()
    # nothing runs while stopped: the backlog only grows
    assert st["operational"]["flushes_total"] == before["flushes_total"]
    assert st["operational"]["compactions_total"] == before["compactions_total"]
    assert st["storage"]["memruns"] >= 10
    assert len(log) == total
    log.start_maintenance()
    log.start_maintenance()  # idempotent
    assert log.maintenance_running
    for i in range(20, 30):
        chunk(i)
    assert poll(lambda: log.stats()["storage"]["memruns"] == 0), log.stats()["storage"]
    assert log.stats()["operational"]["flushes_total"] > before["flushes_total"]
    assert len(log) == total
    arr, objs = log.arrays()
    assert arr.tolist() == sorted(arr.tolist())
    assert len(objs) == total
    assert sorted(o for o in objs if o != -1) == sorted(
        t
        for i in range(30)
        for t in (
            np.arange(i * 1000, (i + 1) * 1000) - np.where(np.arange(1000) % 20 == 0, 1500, 0)
        ).tolist()
    )
    log._validate()
    log.close()


def append_each(log, objs):
    # A function, so no loop variable keeps the last payload alive.
    for o in objs:
        log.append(o.ts, o)


def alive(refs):
    gc.collect()
    return sum(r() is not None for r in refs)


@pytest.mark.parametrize("wait_for_worker", [False, True])
def test_every_payload_released_after_close(wait_for_worker):
    log = Timelog(
        maintenance="background",
        busy_policy="silent",
        memtable_max_bytes=2048,
        max_delta_segments=2,
        maintenance_wakeup_ms=1,
        window_size=500,
    )
    objs = [Payload(t) for t in range(20000)]
    refs = [weakref.ref(o) for o in objs]
    for i in range(0, 20000, 1000):
        log.bulk_append(np.arange(i, i + 500, dtype=np.int64), objs[i : i + 500])
        append_each(log, objs[i + 500 : i + 1000])
        del log[i + 100 : i + 200]  # deleted: 100 of every 1000
    deleted = {t for i in range(0, 20000, 1000) for t in range(i + 100, i + 200)}
    if wait_for_worker:
        # the worker flushed and compacted on its own
        assert poll(lambda: log.stats()["operational"]["compactions_total"] > 0)
    log.flush()
    log.compact()
    # SPEC: after flush() + compact() no deleted record's object is referenced
    # by the engine; every visible one still is.
    del objs
    gc.collect()
    assert log.retired_queue_len == 0
    assert all((r() is None) == (i in deleted) for i, r in enumerate(refs))
    assert len(log) == 20000 - len(deleted)
    log.close()
    assert alive(refs) == 0


def test_payloads_outlive_close_only_while_an_iterator_pins_them():
    log = Timelog(
        maintenance="background",
        memtable_max_bytes=2048,
        max_delta_segments=2,
        maintenance_wakeup_ms=1,
        busy_policy="silent",
    )
    objs = [Payload(t) for t in range(5000)]
    refs = [weakref.ref(o) for o in objs]
    log.bulk_append(np.arange(2500, dtype=np.int64), objs[:2500])
    append_each(log, objs[2500:])
    poll(lambda: log.stats()["storage"]["memruns"] == 0)
    it = log[0:5000]
    del objs
    log.close()
    assert alive(refs) == 5000  # the iterator's pin defers the teardown
    got = list(it)
    assert [t for t, _ in got] == list(range(5000))
    assert all(o is r() for (_, o), r in zip(got, refs))
    del got, it
    assert alive(refs) == 0


@pytest.mark.parametrize("limit", [0, 10])
def test_drain_batch_limit_bounds_each_release(limit):
    log = Timelog(maintenance="disabled", drain_batch_limit=limit)
    objs = [Payload(t) for t in range(500)]
    refs = [weakref.ref(o) for o in objs]
    log.extend((o.ts, o) for o in objs)
    del objs
    log.flush()
    del log[:]
    log.compact()  # 500 handles retired, one drain
    want = 0 if limit == 0 else 490
    assert log.retired_queue_len == want
    assert alive(refs) == want
    log.flush()  # each call drains at most `limit`
    want = 0 if limit == 0 else 480
    assert log.retired_queue_len == want
    assert alive(refs) == want
    log.close()
    assert alive(refs) == 0


def test_append_waiting_on_backpressure_releases_the_gil():
    # L0 is far over its bound while the worker compacts 8M records, so each
    # sealing append waits (up to sealed_wait_ms) for it. Another Python
    # thread, sleeping 1 ms at a time, must keep running meanwhile: with the
    # GIL held during the wait its longest gap equals the wait. The wait
    # lasts as long as that compaction, which is shorter on an idle machine:
    # 8M interleaved records keep it well above the 50 ms the check needs.
    log = Timelog(
        maintenance="disabled",
        busy_policy="silent",
        memtable_max_bytes=1024,
        sealed_max_runs=1,
        max_delta_segments=1,
        sealed_wait_ms=400,
    )
    objs = [None] * 1_000_000
    for k in range(8):
        log.bulk_append(np.arange(k, 8_000_000, 8, dtype=np.int64), objs)
        log.flush()
    stop = threading.Event()
    gaps = []

    def ticker():
        last = time.perf_counter()
        while not stop.is_set():
            time.sleep(0.001)
            now = time.perf_counter()
            gaps.append(now - last)
            last = now

    th = threading.Thread(target=ticker)
    th.start()
    try:
        time.sleep(0.05)
        log.start_maintenance()
        longest, i = 0.0, 0
        deadline = time.perf_counter() + 10
        while longest < 0.1 and time.perf_counter() < deadline:
            t0 = time.perf_counter()
            log.append(9_000_000 + i, i)
            i += 1
            longest = max(longest, time.perf_counter() - t0)
    finally:
        stop.set()
        th.join()
    assert longest >= 0.05, "no append waited on backpressure (longest %.1f ms)" % (longest * 1e3)
    assert max(gaps) < longest / 2, (max(gaps), longest)
    assert len(log) == 8_000_000 + i
    log.close()
