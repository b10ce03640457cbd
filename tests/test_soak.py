"""Bounded memory under retention (issue 15): the short soak.

Every mode of tests/soak_driver.py (cutoff, range deletes, point deletes, a
mix; readers on and off; background maintenance, or maintenance="disabled"
with explicit maint_step() calls) runs the retention loop for a moment with
the default configuration and must hold: payloads referenced by the engine
within 2x the window + one memtable + the batches in flight + a constant, no
growth between the early and the late part of the run (medians), engine
bytes flat, the tombstone set bounded, and nothing referenced after close().
`make soak` runs the same modes for minutes and prints the figures.
"""

import time

import numpy as np
import pytest
import soak_driver as sd

from timelog import Timelog

SECONDS_PER_MODE = 1.6  # 16 modes: about 26 s in all


@pytest.mark.parametrize("mode", sd.all_modes(), ids=lambda m: m.name)
def test_retention_stays_bounded(mode):
    res = sd.run_mode(mode, SECONDS_PER_MODE, sample_s=0.1)
    bad = sd.check(res)
    assert not bad, "\n".join(bad)


def test_check_catches_a_leak():
    """The pass criteria are not vacuous: a run whose held payloads climb
    (what issue 15 measured) fails them."""
    res = sd.Result(sd.Mode("cutoff", False, "background"), 200_000, 20_000, 174_762)
    for i in range(20):
        res.samples.append(sd.Sample(0.1 * i, 220_000 + 60_000 * i, 8 << 20, 0, 1))
    res.live_after_close = 0
    bad = sd.check(res)
    assert any("grew" in b for b in bad) and any("bound" in b for b in bad), bad
    res.samples = [sd.Sample(0.1 * i, 220_000, 8 << 20, 0, 1) for i in range(20)]
    assert sd.check(res) == []
    res.live_after_close = 5
    assert any("after close()" in b for b in sd.check(res))


class _ReadingPayload(sd.Payload):
    """A payload whose finalizer reads the log (any Python code there lets
    another reader thread in; a read is the deterministic form of it)."""

    __slots__ = ("log",)

    def __del__(self):
        log = self.log
        if log is not None and not log.closed:
            log.count(0, 1 << 40)
        super().__del__()


def test_read_during_a_reads_drain_leaves_nothing_after_close():
    base = sd.live_payloads()
    # A batch past half a memtable becomes a memrun the worker drops whole
    # once the cutoff hides it; that publish makes the read pin stale.
    log = Timelog(memtable_max_bytes=4096)

    def retire(lo, hi, cut):
        objs = [_ReadingPayload() for _ in range(hi - lo)]
        for o in objs:
            o.log = log
        log.bulk_append(np.arange(lo, hi, dtype=np.int64), objs)
        del objs
        log.cutoff(cut)
        log.count(0, 1 << 40)  # the read pin, kept
        deadline = time.monotonic() + 5
        while log.retired_queue_len == 0 and time.monotonic() < deadline:
            time.sleep(0.001)  # the worker drops the hidden segment meanwhile
        assert log.retired_queue_len > 0
        log.count(0, 1 << 40)  # stale pin: drain -> a finalizer reads -> pins

    retire(0, 1000, 1000)
    retire(1000, 2000, 2000)  # retired behind a leaked pin, if one leaked
    log.close()
    left = sd.live_payloads() - base
    assert left == 0, f"{left} payloads still referenced after close()"
