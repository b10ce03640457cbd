"""Re-entrancy storm: random finalizer and __index__ callbacks that read,
write, delete, compact, close and reopen the log, while a reader thread and
a writer thread use it too.

Pass criteria: no crash (under the ASan-built extension: no sanitizer
report), no deadlock (every thread finishes), only the documented errors
(TimelogError for a closed log or backpressure, RuntimeError for an
iterator used by two calls at once), and at the end every stored object is
released: nothing leaked, nothing released twice (a double release would
make a live-count negative or crash).

Duration: TIMELOG_STORM_SECONDS (default 4; `make test-asan` runs 30, and
TIMELOG_STRESS=1 makes the default 60).
"""

import gc
import os
import random
import threading
import time

import numpy as np

from timelog import Timelog, TimelogError

SECONDS = float(
    os.environ.get(
        "TIMELOG_STORM_SECONDS", "60" if os.environ.get("TIMELOG_STRESS") == "1" else "4"
    )
)
EXPECTED = (TimelogError, RuntimeError)


class Storm:
    def __init__(self, seed):
        self.rng = random.Random(seed)
        # Guards the counters and the pools; re-entrant: a finalizer may run
        # (and count) at any allocation made while it is held.
        self.lock = threading.RLock()
        self.live = 0
        self.made = 0
        self.iters = []  # iterators shared by every thread
        self.spans = []
        self.log = Timelog(maintenance="disabled", memtable_max_bytes=8192, busy_policy="silent")
        self.depth = threading.local()
        self.ops = 0
        self.quiet = False  # set at the end: finalizers only count

    # -- payloads and timestamps that call back

    def payload(self):
        with self.lock:
            self.live += 1
            self.made += 1
        return Chaos(self)

    def ts(self):
        t = self.rng.randrange(0, 5000)
        return EvilTs(self, t) if self.rng.random() < 0.05 else t

    # -- one random action on the log; any thread, any nesting

    def act(self, nested):
        d = getattr(self.depth, "n", 0)
        if d >= 3:
            return
        self.depth.n = d + 1
        rng = self.rng
        log = self.log
        self.ops += 1
        try:
            k = rng.randrange(22 if nested else 20)
            if k == 0:
                log.append(self.ts(), self.payload())
            elif k == 1:
                log.extend([(self.ts(), self.payload()) for _ in range(rng.randrange(1, 20))])
            elif k == 2:
                n = rng.randrange(1, 300)
                ts = np.sort(np.array([rng.randrange(0, 5000) for _ in range(n)], np.int64))
                log.bulk_append(ts, [self.payload() for _ in range(n)])
            elif k == 3:
                log.delete(rng.randrange(0, 5000))
            elif k == 4:
                a = rng.randrange(0, 5000)
                log.delete(a, a + rng.randrange(1, 500))
            elif k == 5:
                log.flush()
            elif k == 6:
                log.compact()
            elif k == 7:
                log.maint_step()
            elif k == 8:
                len(log)
                log.count(0, 2500)
            elif k == 9:
                a = rng.randrange(0, 5000)
                for i, rec in enumerate(log.range(a, a + 300)):
                    if i > 50:
                        break
            elif k == 10:
                it = log.all()
                with self.lock:
                    self.iters.append(it)
                    if len(self.iters) > 8:
                        self.iters.pop(0)
            elif k == 11:
                with self.lock:
                    it = rng.choice(self.iters) if self.iters else None
                if it is not None:
                    it.next_batch(rng.randrange(0, 40))
            elif k == 12:
                with self.lock:
                    it = rng.choice(self.iters) if self.iters else None
                if it is not None:
                    if rng.random() < 0.5:
                        it.close()
                    else:
                        for sp in it.view():
                            sp.timestamps
                            break
            elif k == 13:
                log.at(rng.randrange(0, 5000))
                rng.randrange(0, 5000) in log
            elif k == 14:
                for span in log.page_spans(0, 5000):
                    span.timestamps
                    with self.lock:
                        self.spans.append(span)
                        if len(self.spans) > 8:
                            self.spans.pop(0)
                    break
            elif k == 15:
                with self.lock:
                    span = rng.choice(self.spans) if self.spans else None
                if span is not None:
                    if rng.random() < 0.5:
                        span.close()
                    else:
                        list(span.objects())[:3]
            elif k == 16:
                log.arrays(0, 2500)
            elif k == 17:
                log.stats()
            elif k == 18:
                log.min_ts()
                log.next_ts(rng.randrange(0, 5000))
            elif k == 19:
                log.timestamps(rng.randrange(0, 2500), 5000)
            elif k == 20:
                log.close()
            else:
                if log.closed:
                    log.reopen()
        except EXPECTED:
            pass
        finally:
            self.depth.n = d

    def dropped(self):
        with self.lock:
            self.live -= 1
            assert self.live >= 0, "an object was released twice"


class Chaos:
    __slots__ = ("storm",)

    def __init__(self, storm):
        self.storm = storm

    def __del__(self):
        s = self.storm
        try:
            if not s.quiet and s.rng.random() < 0.4:
                s.act(nested=True)
        except BaseException as e:  # a finalizer must not raise (warnings are errors)
            s.errors.append(e)
        finally:
            s.dropped()


class EvilTs:
    """A timestamp whose __index__ calls back into the log."""

    def __init__(self, storm, t):
        self.storm, self.t = storm, t

    def __index__(self):
        try:
            if not self.storm.quiet:
                self.storm.act(nested=True)
        except BaseException as e:
            self.storm.errors.append(e)
        return self.t


def test_reentry_storm():
    storm = Storm(seed=int(os.environ.get("TIMELOG_STORM_SEED", "12345")))
    storm.errors = []
    stop = time.monotonic() + SECONDS
    failures = []
    old = gc.get_threshold()
    gc.set_threshold(50, 5, 5)  # collections (and finalizers) at allocations

    def loop(role):
        try:
            while time.monotonic() < stop:
                if role == "reader":
                    k = storm.rng.randrange(4)
                    try:
                        if k == 0:
                            list(storm.log.range(0, 5000))
                        elif k == 1:
                            storm.log.arrays()
                        elif k == 2:
                            for s in storm.log.page_spans():
                                list(s.objects())
                        else:
                            len(storm.log)
                    except EXPECTED:
                        pass
                else:
                    storm.act(nested=False)
                    if role == "main" and storm.rng.random() < 0.01:
                        try:
                            storm.log.close()
                            storm.log.reopen()
                        except EXPECTED:
                            pass
        except BaseException as e:
            failures.append((role, e))

    threads = [threading.Thread(target=loop, args=(r,)) for r in ("reader", "writer")]
    for t in threads:
        t.start()
    try:
        loop("main")
    finally:
        for t in threads:
            t.join(120)
        gc.set_threshold(*old)
    assert not any(t.is_alive() for t in threads), "a storm thread is stuck (deadlock?)"
    assert not failures, failures
    assert not storm.errors, storm.errors[:5]
    # Release everything: pools first (they pin snapshots), then the log.
    storm.quiet = True
    with storm.lock:
        storm.iters.clear()
        storm.spans.clear()
    storm.log.close()
    gc.collect()
    storm.log.close()
    gc.collect()
    print(
        "storm: %.0f s, %d actions, %d objects stored, %d still alive"
        % (SECONDS, storm.ops, storm.made, storm.live)
    )
    assert storm.made > 0
    assert storm.live == 0, "%d stored objects were never released" % storm.live
