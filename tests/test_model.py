"""The engine against tests/model.py: seeded random operations + a Hypothesis
state machine, validating engine invariants (``log._validate()``) as they go."""

import random

import numpy as np
import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from model import INT64_MAX, INT64_MIN, Model, same_records
from timelog import Timelog

EDGES = [INT64_MIN, INT64_MIN + 1, -1, 0, 1, INT64_MAX - 1, INT64_MAX]


class Payload:
    """A distinct object per record, so identity checks mean something."""
    __slots__ = ("n",)

    def __init__(self, n):
        self.n = n

    def __repr__(self):
        return "P%d" % self.n


def rand_ts(rng):
    r = rng.random()
    if r < 0.05:
        return rng.choice(EDGES)
    if r < 0.1:
        return rng.randrange(INT64_MIN, INT64_MAX)
    return rng.randrange(-50, 300)


def check_reads(log, model, rng):
    a = rand_ts(rng)
    b = rand_ts(rng) if rng.random() < 0.3 else a + rng.randrange(0, 100)
    b = min(b, INT64_MAX)
    assert same_records(list(log[a:b]), model.range(a, b))
    assert same_records(list(log.since(a)), model.since(a))
    assert same_records(list(log.until(b)), model.until(b))
    assert same_records(list(log.point(a)), model.point(a))
    assert len(log.range(a, b)) == len(model.range(a, b))
    assert log.count(a, b) == len(model.range(a, b))
    assert (a in log) == bool(model.point(a))
    assert log.next_ts(a) == model.next_ts(a)
    assert log.prev_ts(a) == model.prev_ts(a)


def run_random(seed, steps, **config):
    rng = random.Random(seed)
    log = Timelog(maintenance="disabled", **config)
    model = Model()
    counter = 0

    def new():
        nonlocal counter
        counter += 1
        return Payload(counter)

    try:
        for step in range(steps):
            op = rng.random()
            if op < 0.25:
                t, o = rand_ts(rng), new()
                form = rng.randrange(3)
                if form == 0:
                    log.append(t, o)
                elif form == 1:
                    log.append(o, ts=t)
                else:
                    log[t] = o
                model.append(t, o)
            elif op < 0.35:
                pairs = [(rand_ts(rng), new()) for _ in range(rng.randrange(0, 40))]
                if rng.random() < 0.5:
                    log.extend(pairs)
                else:
                    log.extend([t for t, _ in pairs], [o for _, o in pairs])
                model.extend(pairs)
            elif op < 0.42:
                pairs = [(rand_ts(rng), new()) for _ in range(rng.randrange(1, 200))]
                ts = np.array([t for t, _ in pairs], dtype=np.int64)
                if rng.random() < 0.3:
                    ts = np.repeat(ts, 2)[::2]  # strided
                log.bulk_append(ts, [o for _, o in pairs])
                model.extend(pairs)
            elif op < 0.50:
                a = rand_ts(rng)
                b = min(a + rng.randrange(-5, 60), INT64_MAX) if rng.random() < 0.8 else rand_ts(rng)
                if rng.random() < 0.5:
                    log.delete(a, b)
                else:
                    del log[a:b]
                model.delete_range(a, b)
            elif op < 0.53:
                t = rand_ts(rng)
                if rng.random() < 0.5:
                    log.delete(t)
                else:
                    del log[t]
                model.delete_ts(t)
            elif op < 0.55:
                t = rand_ts(rng)
                if rng.random() < 0.5:
                    log.cutoff(t)
                else:
                    del log[:t]
                model.delete_before(t)
            elif op < 0.57:
                t = rand_ts(rng)
                del log[t:]
                model.delete_since(t)
            elif op < 0.575:
                del log[:]
                model.delete_all()
            elif op < 0.65:
                log.flush()
            elif op < 0.69:
                log.compact()
            elif op < 0.75:
                log.maint_step()
            else:
                check_reads(log, model, rng)
            if step % 25 == 0:
                log._validate()
                assert len(log) == len(model)
                assert log.min_ts() == model.min_ts()
                assert log.max_ts() == model.max_ts()
        assert same_records(list(log), model.visible())
        log._validate()
        log.flush()
        log.compact()
        assert same_records(list(log), model.visible())
        spans = list(log.views())
        from_spans = [(int(t), o) for s in spans for t, o in zip(s.timestamps, s.objects())]
        from_spans.sort(key=lambda r: r[0])
        assert same_records(from_spans, model.visible())
        log._validate()
    finally:
        log.close()


@pytest.mark.parametrize("seed", range(6))
def test_random_small_memtable(seed):
    run_random(seed, 800, memtable_max_bytes=2048, target_page_bytes=512,
               sealed_max_runs=1000, max_delta_segments=3, window_size=64)


@pytest.mark.parametrize("seed", range(3))
def test_random_default_config(seed):
    run_random(100 + seed, 600)


def test_random_min_ts_guard():
    rng = random.Random(5)
    log = Timelog(maintenance="disabled", min_ts=0, memtable_max_bytes=2048)
    model = Model(min_ts=0)
    try:
        for i in range(500):
            t = rng.randrange(-100, 100)
            o = Payload(i)
            if t < 0:
                with pytest.raises(ValueError):
                    log[t] = o
            else:
                log[t] = o
                model.append(t, o)
            if i % 50 == 0:
                log.flush()
        assert same_records(list(log), model.visible())
        log._validate()
    finally:
        log.close()


# ---------------------------------------------------------------- Hypothesis

timestamps = st.one_of(st.integers(-20, 120), st.sampled_from(EDGES))


class TimelogMachine(RuleBasedStateMachine):
    def __init__(self):
        super().__init__()
        self.log = Timelog(maintenance="disabled", memtable_max_bytes=1024,
                           target_page_bytes=256, sealed_max_runs=1000,
                           max_delta_segments=2, window_size=32)
        self.model = Model()
        self.n = 0

    def _obj(self):
        self.n += 1
        return Payload(self.n)

    @rule(t=timestamps)
    def append(self, t):
        o = self._obj()
        self.log[t] = o
        self.model.append(t, o)

    @rule(ts=st.lists(timestamps, max_size=30))
    def extend(self, ts):
        pairs = [(t, self._obj()) for t in ts]
        self.log.extend(pairs)
        self.model.extend(pairs)

    @rule(ts=st.lists(timestamps, max_size=30))
    def bulk(self, ts):
        pairs = [(t, self._obj()) for t in ts]
        self.log.bulk_append(np.array(ts, dtype=np.int64), [o for _, o in pairs])
        self.model.extend(pairs)

    @rule(a=timestamps, b=timestamps)
    def delete_range(self, a, b):
        self.log.delete(a, b)
        self.model.delete_range(a, b)

    @rule(t=timestamps)
    def delete_ts(self, t):
        del self.log[t]
        self.model.delete_ts(t)

    @rule(t=timestamps)
    def cutoff(self, t):
        self.log.cutoff(t)
        self.model.delete_before(t)

    @rule(t=timestamps)
    def delete_since(self, t):
        del self.log[t:]
        self.model.delete_since(t)

    @rule()
    def flush(self):
        self.log.flush()

    @rule()
    def compact(self):
        self.log.compact()

    @rule()
    def maint_step(self):
        self.log.maint_step()

    @rule(a=timestamps, b=timestamps)
    def read_range(self, a, b):
        assert same_records(list(self.log[a:b]), self.model.range(a, b))
        assert self.log.count(a, b) == len(self.model.range(a, b))

    @rule(t=timestamps)
    def read_point(self, t):
        assert same_records([(t, o) for o in self.log[t]], self.model.point(t))
        assert self.log.next_ts(t) == self.model.next_ts(t)
        assert self.log.prev_ts(t) == self.model.prev_ts(t)

    @precondition(lambda self: self.n > 0)
    @rule()
    def read_spans_after_flush(self):
        self.log.flush()
        got = [(int(t), o) for s in self.log.views() for t, o in zip(s.timestamps, s.objects())]
        got.sort(key=lambda r: r[0])
        assert same_records(got, self.model.visible())

    @invariant()
    def valid_and_same_size(self):
        self.log._validate()
        assert len(self.log) == len(self.model)

    def teardown(self):
        assert same_records(list(self.log), self.model.visible())
        self.log.close()


TimelogMachine.TestCase.settings = settings(max_examples=60, stateful_step_count=40,
                                           deadline=None, derandomize=True,
                                           database=None)
test_state_machine = TimelogMachine.TestCase
