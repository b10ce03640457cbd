"""Retention soak: a stream that appends, keeps a window by deleting, and
checks that what the engine holds stays bounded (issue 15).

Each mode runs the same loop for a while: ``bulk_append`` a batch of fresh
payloads at the next timestamps, then delete what fell out of the window
(``cutoff``, a ``delete`` of the old range, single-point ``delete``s, or a mix
of the three), with reader threads on or off and with background maintenance
or ``maintenance="disabled"`` plus explicit ``maint_step()`` calls. Payloads
count themselves (created / finalized), so "live" is exactly the number of
payload objects still referenced, by the engine (the driver keeps none
between batches). Every ``sample_s`` the driver records live payloads,
engine bytes (``stats()``), process RSS and the tombstone count.

Run ``make soak`` (``SOAK_SECONDS`` per whole run, default 240) or
``python tests/soak_driver.py --seconds 600``. ``tests/test_soak.py`` runs a
short version and fails if held payloads exceed the bound or grow.
"""

import argparse
import itertools
import os
import sys
import threading
import time
from dataclasses import dataclass, field

import numpy as np

if __name__ == "__main__":  # run from a checkout: the in-place build
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from timelog import Timelog, TimelogBusyError

try:  # optional: the readers also export Arrow tables when it is there
    import pyarrow as _pa
except ImportError:
    _pa = None

SHAPES = ("cutoff", "range", "point", "mixed")

# Payload accounting. itertools.count's next() is atomic under the GIL, so
# finalizers run by a drain on a reader thread cannot lose an update (a plain
# `live += 1` could).
_created = itertools.count()
_freed = itertools.count()


def _peek(counter):
    # repr is "count(N)" (its pickling support, __reduce__, is deprecated
    # since 3.12 and gone in 3.14).
    return int(repr(counter)[len("count(") : -1])


def live_payloads():
    return _peek(_created) - _peek(_freed)


class Payload:
    __slots__ = ("__weakref__",)

    def __init__(self):
        next(_created)

    def __del__(self):
        next(_freed)


def rss_bytes():
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except OSError:  # not Linux: RSS is reported as 0
        return 0


@dataclass
class Mode:
    shape: str
    readers: bool
    maintenance: str  # "background" or "disabled" (explicit maint_step calls)

    @property
    def name(self):
        return f"{self.shape}/{'readers' if self.readers else 'no-readers'}/{self.maintenance}"


def all_modes():
    return [
        Mode(s, r, m) for m in ("background", "disabled") for r in (False, True) for s in SHAPES
    ]


@dataclass
class Sample:
    t: float
    live: int
    engine_bytes: int
    rss: int
    tombstones: int


@dataclass
class Result:
    mode: Mode
    window: int
    batch: int
    memtable_records: int
    samples: list = field(default_factory=list)
    live_after_close: int = -1
    batches: int = 0
    busy: int = 0
    reads: int = 0

    @property
    def bound(self):
        """Payloads the engine may hold: 2x the window, one memtable, one
        batch in flight, and a constant (one batch more: deletes trail the
        append by one batch)."""
        return 2 * self.window + self.memtable_records + 2 * self.batch + 10_000

    def steady(self, warmup_frac=0.25):
        """Samples after warm-up (the first warmup_frac of the run)."""
        if not self.samples:
            return []
        t_end = self.samples[-1].t
        return [s for s in self.samples if s.t >= warmup_frac * t_end]


def _median(xs):
    xs = sorted(xs)
    return xs[len(xs) // 2] if xs else 0


def slope(samples, attr):
    """Least-squares slope of attr per second over samples (0 if < 2)."""
    if len(samples) < 2:
        return 0.0
    t = np.array([s.t for s in samples], dtype=float)
    y = np.array([getattr(s, attr) for s in samples], dtype=float)
    if np.ptp(t) == 0:
        return 0.0
    return float(np.polyfit(t, y, 1)[0])


def early_late(samples, attr):
    """Medians of attr over the first and the last third of samples: robust
    to the sawtooth of seals and compactions, unlike two single points."""
    k = max(1, len(samples) // 3)
    return _median([getattr(s, attr) for s in samples[:k]]), _median(
        [getattr(s, attr) for s in samples[-k:]]
    )


def _reader(log, now, stop, counter):
    """Short reads of the live window: counts, small slices, iteration,
    chunked arrays, and (with pyarrow) an Arrow table of the timestamps,
    whose zero-copy buffers hold a snapshot pin until the table is dropped."""
    i = 0
    while not stop.is_set():
        t = now[0]
        try:
            kind = i % 5
            if kind == 0:
                log.count(max(0, t - 50_000), t)
            elif kind == 1:
                for _ in log.range(max(0, t - 1000), t):
                    pass
            elif kind == 2:
                log[max(0, t - 200) : t]
            elif kind == 3:
                with log.range(max(0, t - 2000), t) as it:
                    while len(it.next_arrays(512)[0]):
                        pass
            elif _pa is not None:
                _pa.table(log.arrow(max(0, t - 2000), t, payload=None)).num_rows
        except Exception:
            if stop.is_set():
                return
            raise
        counter[0] += 1
        i += 1
        time.sleep(0.0005)


def run_mode(
    mode,
    seconds,
    *,
    window=200_000,
    batch=20_000,
    sample_s=0.25,
    config=None,
    reader_threads=2,
    out=None,
):
    """Runs one mode for `seconds`; returns a Result with the samples.

    Payload counts are relative to the start of the mode, so a leak in one
    mode does not count against the next. Two reader threads by default:
    with two, a drain on one reader thread can let the other pin meanwhile,
    which once leaked a pin (test_soak.py keeps the deterministic form).
    """
    base = live_payloads()
    cfg = dict(config or {})
    cfg.setdefault("busy_policy", "raise")
    cfg["maintenance"] = mode.maintenance
    log = Timelog(**cfg)
    mt_bytes = cfg.get("memtable_max_bytes") or (4 << 20)
    res = Result(mode, window, batch, mt_bytes // 24)
    now = [0]
    stop = threading.Event()
    reads = [0]
    threads = []
    if mode.readers:
        threads = [
            threading.Thread(target=_reader, args=(log, now, stop, reads), daemon=True)
            for _ in range(reader_threads)
        ]
        for th in threads:
            th.start()
    t = 0
    k = 0
    t0 = time.monotonic()
    next_sample = t0
    try:
        while True:
            el = time.monotonic() - t0
            if el >= seconds:
                break
            ts = np.arange(t, t + batch, dtype=np.int64)
            objs = [Payload() for _ in range(batch)]
            try:
                log.bulk_append(ts, objs)
            except TimelogBusyError:  # stored; backpressure is the engine's signal
                res.busy += 1
            del objs
            t += batch
            now[0] = t
            old_lo, old_hi = max(0, t - window - batch), max(0, t - window)
            shape = mode.shape if mode.shape != "mixed" else SHAPES[k % 3]
            if shape == "cutoff":
                log.cutoff(t - window)
            elif shape == "range":
                if old_hi > old_lo:
                    log.delete(old_lo, old_hi)
            else:
                for x in range(old_lo, old_hi):
                    log.delete(x)
            if mode.maintenance == "disabled":
                for _ in range(64):  # the policy, one unit at a time
                    try:
                        if not log.maint_step():
                            break
                    except TimelogBusyError:
                        res.busy += 1
            k += 1
            if time.monotonic() >= next_sample:
                st = log.stats()
                res.samples.append(
                    Sample(
                        time.monotonic() - t0,
                        live_payloads() - base,
                        st["memory"]["engine_bytes"],
                        rss_bytes(),
                        st["storage"]["tombstone_count"],
                    )
                )
                next_sample += sample_s
        res.batches = k
    finally:
        stop.set()
        for th in threads:
            th.join(5)
        log.close()
    res.reads = reads[0]
    res.live_after_close = live_payloads() - base
    if out is not None:
        report(res, out)
    return res


def report(res, out):
    s = res.steady()
    first, last = (s[0], s[-1]) if s else (None, None)

    def fmt(attr, scale=1, unit=""):
        if not s:
            return "-"
        e, l = early_late(s, attr)
        return (
            f"{getattr(first, attr) / scale:,.1f}{unit} -> {getattr(last, attr) / scale:,.1f}{unit}"
            f" (median early {e / scale:,.1f}, late {l / scale:,.1f}, slope "
            f"{slope(s, attr) / scale:+,.2f}{unit}/s)"
        )

    print(
        f"== {res.mode.name}: {res.batches} batches of {res.batch}, window {res.window}, "
        f"busy {res.busy}, reads {res.reads}",
        file=out,
    )
    print(
        f"   live payloads: {fmt('live')}  max {max((x.live for x in s), default=0):,} "
        f"bound {res.bound:,}",
        file=out,
    )
    print(f"   engine bytes : {fmt('engine_bytes', 1 << 20, ' MiB')}", file=out)
    print(f"   rss          : {fmt('rss', 1 << 20, ' MiB')}", file=out)
    print(
        f"   tombstones   : {fmt('tombstones')}  max {max((x.tombstones for x in s), default=0):,}",
        file=out,
    )
    print(f"   live after close: {res.live_after_close}", file=out, flush=True)


def check(res):
    """The soak's pass criteria; returns a list of failures (empty: pass)."""
    bad = []
    s = res.steady()
    name = res.mode.name
    if len(s) < 4:
        return [f"{name}: only {len(s)} samples after warm-up"]
    peak = max(x.live for x in s)
    if peak > res.bound:
        bad.append(f"{name}: {peak:,} payloads held, bound {res.bound:,}")
    e, l = early_late(s, "live")
    # Growth across the run: the late median may not exceed the early one by
    # more than a quarter, two batches and half a memtable: the memtable's
    # fill-and-seal sawtooth, whose period a short run's thirds may not
    # average out. The leak of issue 15 grew by millions a second.
    if l > 1.25 * e + 2 * res.batch + res.memtable_records // 2:
        bad.append(f"{name}: payloads grew from a median {e:,} to {l:,}")
    e, l = early_late(s, "engine_bytes")
    if l > 1.5 * e + (8 << 20):
        bad.append(f"{name}: engine bytes grew from a median {e:,} to {l:,}")
    tomb_bound = 2 * res.window + res.memtable_records + 2 * res.batch + 1000
    tpeak = max(x.tombstones for x in s)
    if tpeak > tomb_bound:
        bad.append(f"{name}: {tpeak:,} tombstones, bound {tomb_bound:,}")
    if res.live_after_close != 0:
        bad.append(f"{name}: {res.live_after_close:,} payloads still referenced after close()")
    return bad


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument(
        "--seconds",
        type=float,
        default=float(os.environ.get("SOAK_SECONDS", "240")),
        help="whole run, split evenly across the modes (default: $SOAK_SECONDS or 240)",
    )
    ap.add_argument("--window", type=int, default=200_000)
    ap.add_argument("--batch", type=int, default=20_000)
    ap.add_argument("--only", default="", help="substring of the mode names to run")
    ap.add_argument(
        "--reader-threads",
        type=int,
        default=2,
        help="reader threads in the readers modes (default 2)",
    )
    args = ap.parse_args(argv)
    modes = [m for m in all_modes() if args.only in m.name]
    per = args.seconds / len(modes)
    print(
        f"soak: {len(modes)} modes x {per:.1f} s, window {args.window}, batch {args.batch}, "
        f"default config, {args.reader_threads} reader thread(s) in the readers modes",
        flush=True,
    )
    failures = []
    for m in modes:
        res = run_mode(
            m,
            per,
            window=args.window,
            batch=args.batch,
            reader_threads=args.reader_threads,
            out=sys.stdout,
        )
        failures += check(res)
    for f in failures:
        print("FAIL", f)
    print("soak: PASS" if not failures else f"soak: {len(failures)} failures", flush=True)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
