"""``python -m timelog``: a short demo on built-in generated data.

One million events at about 1 kHz (timestamps in milliseconds), 5% of them
arriving late, are generated with NumPy (fixed seed), bulk-loaded, queried,
trimmed by a delete and a retention cutoff, compacted, and analysed through
zero-copy page spans. Everything printed is computed, nothing is canned.
"""

import sys
import time

import numpy as np

from timelog import Timelog, __version__

N = 1_000_000
OOO_SHARE = 0.05
SEED = 20240601
T0 = 1_700_000_000_000  # 2023-11-14T22:13:20Z, in ms


def generate(n=N, seed=SEED):
    """Timestamps in arrival order: increasing, then 5% delayed by up to 5 s."""
    rng = np.random.default_rng(seed)
    ts = T0 + np.cumsum(rng.integers(0, 3, n, dtype=np.int64))  # ~1 event/ms
    late = rng.random(n) < OOO_SHARE
    ts[late] -= rng.integers(1, 5000, int(late.sum()), dtype=np.int64)
    return ts, int(late.sum())


class Clock:
    def __init__(self):
        self.rows = []

    def __call__(self, label, fn):
        t = time.perf_counter()
        out = fn()
        self.rows.append((label, time.perf_counter() - t))
        return out


def fmt_s(seconds):
    return "%8.1f ms" % (seconds * 1e3) if seconds < 10 else "%8.2f s " % seconds


def main(out=sys.stdout):
    def say(*a):
        print(*a, file=out)

    clock = Clock()
    ts, n_late = clock("generate (NumPy)", generate)
    events = list(range(N))  # payloads: any Python objects; ints keep it light
    say(
        "timelog %s demo: %d events, %d (%.0f%%) out of order, span %.1f min"
        % (__version__, N, n_late, 100 * n_late / N, (ts.max() - ts.min()) / 60_000)
    )

    log = Timelog.for_bulk_ingest(time_unit="ms")
    clock("bulk_append", lambda: log.bulk_append(ts, events))
    ingest = clock.rows[-1][1]
    say(
        "ingest   bulk_append: %s  (%.0f ns/event, %d records)"
        % (fmt_s(ingest).strip(), ingest * 1e9 / N, len(log))
    )

    say("queries  [t1, t2) half-open, counted by iterating the records:")
    for label, width in (("1 s", 1_000), ("1 min", 60_000), ("10 min", 600_000)):
        t1 = T0 + 5 * 60_000
        got = clock("range " + label, lambda: sum(1 for _ in log[t1 : t1 + width]))
        exact = log.count(t1, t1 + width)
        say(
            "  %-7s %8d records in %s  (count() agrees: %s)"
            % (label, got, fmt_s(clock.rows[-1][1]).strip(), got == exact)
        )

    d1, d2 = T0 + 10 * 60_000, T0 + 11 * 60_000
    before = len(log)
    clock("delete 1 min", lambda: log.delete(d1, d2))
    say(
        "delete   [+10 min, +11 min): %d records hidden, %d left in that range"
        % (before - len(log), log.count(d1, d2))
    )

    cut = T0 + 2 * 60_000
    before = len(log)
    clock("cutoff", lambda: log.cutoff(cut))
    say(
        "cutoff   < +2 min: %d records hidden; first timestamp now +%.1f s"
        % (before - len(log), (log.min_ts() - T0) / 1000)
    )

    clock("flush", log.flush)
    clock("compact", log.compact)

    def analyse():
        total, gaps, spans, prev_last, copies = 0, 0, 0, None, 0
        for span in log.views():
            a = span.timestamps  # zero-copy int64 view
            copies += a.flags.owndata
            spans += 1
            total += a.size
            gaps += int(a[-1] - a[0])  # = sum of np.diff(a)
            if prev_last is not None:
                gaps += int(a[0] - prev_last)  # L1 spans are ordered, disjoint
            prev_last = a[-1]
        return total, gaps / max(total - 1, 1), spans, copies

    total, mean_gap, n_spans, copies = clock("span analysis", analyse)
    say(
        "views    %d spans, %d timestamps, mean inter-arrival %.3f ms, arrays copied: %d"
        % (n_spans, total, mean_gap, copies)
    )

    st = log.stats()
    s, m = st["storage"], st["memory"]
    say(
        "stats    records %d | L0 segments %d, L1 segments %d, pages %d, tombstones %d"
        % (
            st["records"],
            s["segments_l0"],
            s["segments_l1"],
            s["pages_total"],
            s["tombstone_count"],
        )
    )
    say(
        "         engine %.1f MiB (%.1f bytes/record), peak %.1f MiB"
        % (
            m["engine_bytes"] / 2**20,
            m["engine_bytes"] / max(st["records"], 1),
            m["peak_bytes"] / 2**20,
        )
    )
    log._validate()
    clock("close", log.close)

    say("timings:")
    for label, seconds in clock.rows:
        say("  %-16s %s" % (label, fmt_s(seconds)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
