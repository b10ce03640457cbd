"""The one timing loop of the stand-alone benchmark scripts (arrow_export.py,
save_load.py): a checked warm-up, then the median of `runs` timed calls, each
after a gc.collect() so that one call's garbage is not charged to the next."""

import gc
import statistics
import time


def median_ms(fn, runs, check=None, dispose=None):
    """(median ms, spread ms) of `runs` calls of fn().

    The warm-up call's result goes to check(out) (a fast wrong answer fails
    the benchmark); every result goes to dispose(out) if given (say, to close
    a loaded log) and is dropped before the next call.
    """
    out = fn()
    if check is not None:
        check(out)
    if dispose is not None:
        dispose(out)
    del out
    times = []
    for _ in range(runs):
        gc.collect()
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
        if dispose is not None:
            dispose(out)
        del out
    return statistics.median(times) * 1e3, (max(times) - min(times)) * 1e3
