"""A tiny pure-Python reference model of a Timelog.

Records are ``(ts, seq, obj)``; every write and every delete takes the next
sequence number; a tombstone ``[lo, hi]`` (inclusive, so the int64 maximum is
representable) with sequence ``s`` hides a record when it covers the record's
timestamp and ``s`` is greater than the record's sequence. That is the whole
visibility rule (deletes are ordered against writes, docs/api.md), with none
of the engine's layers.

It is deliberately slow and obvious: O(records x tombstones) per read.
"""

INT64_MIN = -(2**63)
INT64_MAX = 2**63 - 1


class Model:
    def __init__(self, min_ts=None):
        self.records = []  # (ts, seq, obj)
        self.tombstones = []  # (lo, hi, seq), inclusive bounds
        self.seq = 0
        self._cache = None  # visible() until the next write
        if min_ts is not None:
            self.delete_before(min_ts)

    # ------------------------------------------------------------ writes

    def _next(self):
        self._cache = None
        self.seq += 1
        return self.seq

    def append(self, ts, obj):
        assert INT64_MIN <= ts <= INT64_MAX
        self.records.append((ts, self._next(), obj))

    def extend(self, pairs):
        # One batch is one write: all of its records take sequence numbers
        # before any later delete.
        for ts, obj in pairs:
            self.append(ts, obj)

    def _tomb(self, lo, hi):
        seq = self._next()
        if lo <= hi:
            self.tombstones.append((lo, hi, seq))

    def delete_range(self, t1, t2):
        """Half-open [t1, t2); empty when t1 >= t2."""
        self._tomb(t1, t2 - 1)

    def delete_since(self, t1):
        self._tomb(t1, INT64_MAX)

    def delete_before(self, t2):
        self._tomb(INT64_MIN, t2 - 1)

    def delete_ts(self, ts):
        self._tomb(ts, ts)

    def delete_all(self):
        self._tomb(INT64_MIN, INT64_MAX)

    # ------------------------------------------------------------ reads

    def _visible(self, ts, seq):
        for lo, hi, s in self.tombstones:
            if lo <= ts <= hi and s > seq:
                return False
        return True

    def visible(self):
        """Visible records as (ts, obj), sorted by ts then insertion order."""
        if self._cache is None:
            out = [(ts, seq, obj) for ts, seq, obj in self.records if self._visible(ts, seq)]
            out.sort(key=lambda r: (r[0], r[1]))
            self._cache = [(ts, obj) for ts, _, obj in out]
        return list(self._cache)

    def range(self, t1, t2):
        return [(t, o) for t, o in self.visible() if t1 <= t < t2]

    def since(self, t1):
        return [(t, o) for t, o in self.visible() if t >= t1]

    def until(self, t2):
        return [(t, o) for t, o in self.visible() if t < t2]

    def point(self, ts):
        return [(t, o) for t, o in self.visible() if t == ts]

    def __len__(self):
        return len(self.visible())

    def min_ts(self):
        v = self.visible()
        return v[0][0] if v else None

    def max_ts(self):
        v = self.visible()
        return v[-1][0] if v else None

    def next_ts(self, ts):
        later = [t for t, _ in self.visible() if t > ts]
        return min(later) if later else None

    def prev_ts(self, ts):
        earlier = [t for t, _ in self.visible() if t < ts]
        return max(earlier) if earlier else None

    def live_objects(self):
        """Objects a correct engine may still reference after compaction."""
        return [o for _, o in self.visible()]


def same_records(engine_records, model_records):
    """Engine output equals the model's, allowing any order among equal timestamps.

    Also checks the engine's output is in non-decreasing timestamp order.
    Objects are compared by identity.
    """
    ts = [t for t, _ in engine_records]
    if ts != sorted(ts):
        return False
    key = lambda r: (r[0], id(r[1]))
    a = sorted(((t, o) for t, o in engine_records), key=key)
    b = sorted(((t, o) for t, o in model_records), key=key)
    return len(a) == len(b) and all(x[0] == y[0] and x[1] is y[1] for x, y in zip(a, b))
