"""Concurrent snapshot readers against a writer and the background worker.

One writer thread appends strictly increasing timestamps (one at a time,
``bulk_append`` and ``extend`` batches), deletes ranges and cutoffs, and
calls ``flush()``/``compact()`` now and then, while four reader threads read
slices, ``arrays()``, ``count()``, ``len()`` and zero-copy ``views()`` and the
background worker seals, flushes and compacts.

Every payload is its own timestamp, and every timestamp is written once, so
the visible set after the writer's k-th operation is computable: all
timestamps written so far minus those a delete removed when it ran (a delete
never hides a later write). The writer publishes ``started`` before issuing
an operation and ``done`` after it returns; a read whose snapshot was taken
between reading ``done`` and ``started`` must equal the state after some k in
that bracket, exactly (order, contents, count), however long it is consumed
after. Spans must be a subset of that state and their arrays must not change
while held, across later compactions.
"""

import bisect
import os
import random
import sys
import threading
import time

import numpy as np
import pytest

from timelog import Timelog, TimelogBusyError

# `make stress` (TIMELOG_STRESS=1) runs it for TIMELOG_STRESS_SECONDS instead.
STRESS = os.environ.get("TIMELOG_STRESS", "") not in ("", "0")
DURATION_S = float(os.environ.get("TIMELOG_STRESS_SECONDS", "30")) if STRESS else 2.0
MAX_OPS = 200_000 if not STRESS else 10**9
MIN_OPS = 2_000  # run at least this many, however the threads are scheduled
READERS = 4


class History:
    """The writer's published operation log.

    ``ops[i]`` is ``("a", t0, k)`` (timestamps t0 .. t0+k-1) or ``("d", x, y)``
    (removes the visible timestamps in [x, y) that exist when it runs);
    ``n_after[i]`` is how many timestamps were written after op i, and
    ``del_at`` lists the indexes of the deletes. List appends and int stores
    are atomic under the GIL, and a reader only looks at indexes below a
    ``started`` it read.
    """

    def __init__(self):
        self.ops = []
        self.n_after = []
        self.del_at = []
        self.started = 0
        self.done = 0

    def n_at(self, k):
        return self.n_after[k - 1] if k > 0 else 0


class Expected:
    """The visible timestamps inside [a, b) after the writer's first k ops.

    Timestamps 0 .. n-1 were written; a delete at op i removed what existed
    then, [x, min(y, n_at(i))). Removal is idempotent, so the order of the
    deletes does not matter, and one issued when fewer than ``lo`` timestamps
    existed cannot reach the window: the scan stops there.
    """

    def __init__(self, hist, k, a, b):
        self.hist, self.lo, self.b, self.k = hist, max(a, 0), b, k
        self.n = hist.n_at(k)
        self.removed = []
        self.dirty = False
        j = bisect.bisect_left(hist.del_at, k)
        while j > 0:
            j -= 1
            i = hist.del_at[j]
            n_then = hist.n_at(i)
            if n_then <= self.lo:
                break
            op = hist.ops[i]
            self._remove(op[1], min(op[2], n_then))

    def _remove(self, x, y):
        x, y = max(x, self.lo), min(y, self.b)
        if x < y:
            self.removed.append((x, y))
            self.dirty = True

    def _merged(self):
        if self.dirty:
            out = []
            for x, y in sorted(self.removed):
                if out and x <= out[-1][1]:
                    if y > out[-1][1]:
                        out[-1] = (out[-1][0], y)
                else:
                    out.append((x, y))
            self.removed, self.dirty = out, False
        return self.removed

    def step(self):
        """Applies op k: the state becomes k + 1."""
        op = self.hist.ops[self.k]
        if op[0] == "a":
            self.n = self.hist.n_after[self.k]
        else:
            self._remove(op[1], min(op[2], self.hist.n_at(self.k)))
        self.k += 1

    @property
    def count(self):
        top = min(self.b, self.n)
        if top <= self.lo:
            return 0
        gone = sum(max(0, min(y, top) - x) for x, y in self._merged() if x < top)
        return top - self.lo - gone

    def timestamps(self):
        top = min(self.b, self.n)
        out, t = [], self.lo
        for x, y in self._merged():
            if x >= top:
                break
            out.extend(range(t, x))
            t = y
        if t < top:
            out.extend(range(t, top))
        return out

    def contains(self, t):
        if not (self.lo <= t < min(self.b, self.n)):
            return False
        return not any(x <= t < y for x, y in self._merged())


def match_state(hist, lo, hi, a, b, got_ts):
    """The k in [lo, hi] whose visible set in [a, b) is exactly got_ts, or None."""
    e = Expected(hist, lo, a, b)
    n = len(got_ts)
    while True:
        if e.count == n and e.timestamps() == got_ts:
            return e.k
        if e.k >= hi:
            return None
        e.step()


def match_count(hist, lo, hi, a, b, count):
    e = Expected(hist, lo, a, b)
    while True:
        if e.count == count:
            return e.k
        if e.k >= hi:
            return None
        e.step()


def writer(log, hist, stop, errors, stats, seed):
    rng = random.Random(seed)
    nxt = 0
    deadline = time.monotonic() + DURATION_S
    try:
        for op_no in range(MAX_OPS):
            if stop.is_set() or (
                op_no >= MIN_OPS and op_no % 64 == 0 and time.monotonic() > deadline
            ):
                break
            r = rng.random()
            if r < 0.70:
                op, k = ("a", nxt, 1), 1
            elif r < 0.80:
                k = rng.randint(1, 400)
                op = ("a", nxt, k)
            elif r < 0.84:
                k = rng.randint(1, 50)
                op = ("a", nxt, k)
            elif r < 0.97:
                x = max(0, nxt - rng.randint(0, 3000))
                # The range may reach past the newest timestamp: later writes
                # there stay visible (deletes only hide earlier writes).
                op, k = ("d", x, x + rng.randint(1, 300)), 0
            else:
                op, k = ("d", -(2**63), max(0, nxt - 6000)), 0
            hist.ops.append(op)
            hist.n_after.append(nxt + k)
            if op[0] == "d":
                hist.del_at.append(len(hist.ops) - 1)
            hist.started += 1
            try:
                if op[0] == "a" and k == 1:
                    log.append(nxt, nxt)
                elif op[0] == "a" and r < 0.80:
                    ts = np.arange(nxt, nxt + k, dtype=np.int64)
                    log.bulk_append(ts, list(range(nxt, nxt + k)))
                elif op[0] == "a":
                    log.extend([(t, t) for t in range(nxt, nxt + k)])
                elif op[1] == -(2**63):
                    log.cutoff(op[2])
                else:
                    del log[op[1] : op[2]]
            except TimelogBusyError:
                stats["busy"] += 1  # stored anyway
            nxt += k
            hist.done += 1
            if op_no % 997 == 996:
                log.flush()
            if op_no % 4001 == 4000:
                log.compact()
        stats["ops"] = hist.done
    except BaseException as exc:  # reported by the test thread
        errors.append(("writer", repr(exc)))
    finally:
        stop.set()


def pick_range(rng, hist):
    n = hist.n_at(hist.done)
    a = rng.randint(max(0, n - 12000), max(0, n) + 50)
    return a, a + rng.choice([1, 10, 100, 700, 2500])


def reader(log, hist, stop, errors, stats, seed):
    rng = random.Random(seed)
    held = []  # (span arrays kept across later writes, their values then)
    try:
        first = True
        while first or not stop.is_set():  # at least one round each
            first = False
            a, b = pick_range(rng, hist)
            kind = rng.random()
            lo = hist.done
            if kind < 0.35:
                it = log[a:b]
                hi = hist.started
                if rng.random() < 0.3:
                    time.sleep(0.001)  # consumed while the writer moves on
                recs = list(it)
                ts = [t for t, _ in recs]
                if any(o != t for t, o in recs):
                    raise AssertionError("slice [%d, %d): payload differs from its ts" % (a, b))
                if match_state(hist, lo, hi, a, b, ts) is None:
                    raise AssertionError(
                        "slice [%d, %d) = %d records matches no writer state in ops [%d, %d]"
                        % (a, b, len(ts), lo, hi)
                    )
                stats["slices"] += 1
            elif kind < 0.55:
                arr, objs = log.arrays(a, b)
                hi = hist.started
                ts = arr.tolist()
                if objs != ts:
                    raise AssertionError("arrays(%d, %d): objects differ from timestamps" % (a, b))
                if match_state(hist, lo, hi, a, b, ts) is None:
                    raise AssertionError(
                        "arrays(%d, %d) = %d records matches no writer state in ops [%d, %d]"
                        % (a, b, len(ts), lo, hi)
                    )
                stats["arrays"] += 1
            elif kind < 0.75:
                c = log.count(a, b)
                hi = hist.started
                if match_count(hist, lo, hi, a, b, c) is None:
                    raise AssertionError(
                        "count(%d, %d) = %d matches no writer state in ops [%d, %d]"
                        % (a, b, c, lo, hi)
                    )
                stats["counts"] += 1
            elif kind < 0.80:
                n = len(log)
                hi = hist.started
                if match_count(hist, lo, hi, 0, 2**62, n) is None:
                    raise AssertionError(
                        "len(log) = %d matches no writer state in ops [%d, %d]" % (n, lo, hi)
                    )
                stats["lens"] += 1
            else:
                spans = log.views(a, b)
                hi = hist.started
                # Only ops[:lo] are certainly applied, ops[:hi] at most.
                certain = Expected(hist, lo, a, b)
                seen = set()
                for span in spans:
                    arr = span.timestamps
                    vals = arr.tolist()
                    if vals != sorted(vals) or (vals and (vals[0] < a or vals[-1] >= b)):
                        raise AssertionError("span outside [%d, %d) or unsorted" % (a, b))
                    if list(span.objects()) != vals:
                        raise AssertionError("span objects differ from its timestamps")
                    for t in vals:
                        if t in seen:
                            raise AssertionError("timestamp %d in two spans" % t)
                        seen.add(t)
                        # visible at some state in the bracket: written by
                        # ops[:hi] and not removed by a delete in ops[:lo]
                        if t >= hist.n_at(hi) or not (certain.contains(t) or t >= certain.n):
                            raise AssertionError(
                                "span shows %d, hidden or unwritten in ops [%d, %d]" % (t, lo, hi)
                            )
                    if rng.random() < 0.05 and len(held) < 8:
                        held.append((arr, list(vals)))
                stats["spans"] += 1
                if held and rng.random() < 0.1:
                    arr, vals = held.pop(0)
                    if arr.tolist() != vals:
                        raise AssertionError("a held span array changed under a later compaction")
                    stats["held"] += 1
        for arr, vals in held:
            if arr.tolist() != vals:
                raise AssertionError("a held span array changed under a later compaction")
            stats["held"] += 1
    except BaseException as exc:
        errors.append(("reader", repr(exc)))
        stop.set()


@pytest.fixture
def fine_switching():
    """Switch threads often, so readers interleave with single writes."""
    old = sys.getswitchinterval()
    sys.setswitchinterval(0.0005)
    yield
    sys.setswitchinterval(old)


@pytest.mark.parametrize("policy", ["silent", "raise"])
def test_readers_see_exact_snapshots_under_background_maintenance(fine_switching, policy):
    log = Timelog(
        maintenance="background",
        busy_policy=policy,
        memtable_max_bytes=16 * 1024,
        target_page_bytes=1024,
        sealed_max_runs=2,
        max_delta_segments=3,
        maintenance_wakeup_ms=1,
        window_size=2000,
    )
    hist = History()
    stop = threading.Event()
    errors = []
    stats = dict.fromkeys(("busy", "ops", "slices", "arrays", "counts", "lens", "spans", "held"), 0)
    threads = [
        threading.Thread(target=reader, args=(log, hist, stop, errors, stats, 100 + i))
        for i in range(READERS)
    ]
    for th in threads:
        th.start()
    w = threading.Thread(target=writer, args=(log, hist, stop, errors, stats, 7))
    w.start()
    w.join(timeout=120)
    stop.set()
    for th in threads:
        th.join(timeout=120)
    assert not w.is_alive() and not any(th.is_alive() for th in threads), "a thread hung"
    assert not errors, errors
    assert stats["ops"] >= MIN_OPS, stats
    checks = sum(stats[k] for k in ("slices", "arrays", "counts", "lens", "spans"))
    assert checks >= READERS, stats

    # Final state: exact, and the worker left a valid engine behind.
    k = hist.done
    n = hist.n_at(k)
    final = Expected(hist, k, 0, n)
    assert len(log) == final.count
    arr, objs = log.arrays()
    assert arr.tolist() == final.timestamps() == objs
    st = log.stats()
    assert st["records"] == final.count
    if policy == "raise":
        assert log.busy_events == stats["busy"]
    log._validate()
    log.close()


def test_writers_in_several_threads_are_serialized():
    # The engine has one writer; Python code uses threads freely. Several
    # threads appending, batching, deleting and running maintenance on one
    # log at once must not crash or lose anything: the binding serializes
    # the writer calls (a call that releases the GIL owns the log meanwhile).
    for maintenance in ("disabled", "background"):
        log = Timelog(
            maintenance=maintenance,
            memtable_max_bytes=4096,
            busy_policy="silent",
            sealed_max_runs=8,
        )
        n_batches, n_single = 100, 20_000

        def batches():
            for i in range(n_batches):
                ts = np.arange(i * 100, i * 100 + 100, dtype=np.int64)[::-1].copy()
                log.bulk_append(ts, [("b", i)] * 100)
                log.extend([(1_000_000 + i, "e")])

        def singles():
            for i in range(n_single):
                log.append(-1 - i, "s")

        def deletes():
            for i in range(300):
                log.delete(10**12 + i)  # never hits a record
                if i % 50 == 0:
                    log.flush()
                    log.compact()
                    log.maint_step()
                    log._validate()

        def reader():
            for _ in range(200):
                list(log[0:500])
                log.count()
                log.arrays(-100, 100)

        threads = [threading.Thread(target=f) for f in (batches, singles, deletes, reader)]
        for th in threads:
            th.start()
        for th in threads:
            th.join(60)
            assert not th.is_alive()
        log.flush()
        log.compact()
        log._validate()
        assert len(log) == n_batches * 101 + n_single
        assert log.count(None, 0) == n_single
        log.close()
