# _pickle.pxi (included by _core.pyx): repr formatting and pickling
# helpers (Timelog.__reduce__ names _rebuild_timelog, so it stays in
# timelog._core).

# ---------------------------------------------------------------- repr and pickling helpers

_LEVEL_NAMES = {0: "memrun", 1: "L0", 2: "L1"}
_UNIT_NS = {"s": 10**9, "ms": 10**6, "us": 10**3, "ns": 1}
_ISO_TRIM = {"s": 0, "ms": 3, "us": 6, "ns": 9}


def _fmt_ts(ts, unit):
    """An int64 timestamp as ISO 8601 UTC text ("2024-01-01T00:00:00.000Z").

    Exact, via numpy.datetime64 in the log's own unit. -2**63 is NaT to
    NumPy, so it (and anything NumPy cannot print) is shown as an int.
    """
    if ts == _I64_MIN:
        return "%d (int64 min)" % (ts,)
    try:
        return str(_np.datetime64(int(ts), unit)) + "Z"
    except (ValueError, OverflowError):
        return "%d %s" % (ts, unit)


def _fmt_duration(d, unit):
    """A duration (an int in unit) in human units: "16.8 min", "250 ms", "3.2 days"."""
    ns = int(d) * _UNIT_NS[unit]
    sec = ns / 1e9
    if ns == 0:
        return "0 s"
    if ns < 1000:
        return "%d ns" % (ns,)
    if ns < 10**6:
        return "%.3g us" % (ns / 1e3,)
    if ns < 10**9:
        return "%.3g ms" % (ns / 1e6,)
    if sec < 60:
        return "%.3g s" % (sec,)
    if sec < 3600:
        return "%.3g min" % (sec / 60,)
    if sec < 86400:
        return "%.3g h" % (sec / 3600,)
    if sec < 86400 * 365.25:
        return "%.3g days" % (sec / 86400,)
    return "%.3g years" % (sec / (86400 * 365.25),)


def _fmt_bytes(n):
    for unit in ("B", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return ("%d %s" % (n, unit)) if unit == "B" else ("%.1f %s" % (n, unit))
        n /= 1024.0


# Marks the state tuple of Timelog.__reduce__ (so __setstate__ can tell it
# from a plain attribute dict).
_STATE_TAG = "timelog/1"


def _point_to_unit(v, old, new):
    """A point in time v (an int in unit old) as an int in unit new, exactly.

    ValueError (naming min_ts, both units and what to do) when there is no
    exact int64 value: a coarser unit and v not a whole number of it, or a
    finer unit that overflows.
    """
    a, b = _UNIT_NS[old], _UNIT_NS[new]
    if a == b:
        return v
    if a > b:
        w = v * (a // b)
        if w < _I64_MIN or w > _I64_MAX:
            raise ValueError(
                "reopen(time_unit=%r): min_ts=%d (%s) is %d in %r, outside the int64 "
                "range; nothing was changed (the log stays closed): pass min_ts "
                "explicitly" % (new, v, _fmt_ts(v, old), w, new))
        return w
    q, r = divmod(v, b // a)
    if r:
        raise ValueError(
            "reopen(time_unit=%r): min_ts=%d (%s) is not a whole number of %r "
            "units, so the guard has no exact value in the new unit; nothing was "
            "changed (the log stays closed): pass min_ts explicitly, e.g. "
            "min_ts=%d (rounded up, rejects the rest of that unit) or min_ts=%d "
            "(rounded down, admits it)" % (new, v, _fmt_ts(v, old), new, q + 1, q))
    return q


def _rebuild_timelog(cls, settings, ts=_MISSING, objs=None):
    """Unpickles a Timelog: opens an empty one with settings.

    The records follow through __setstate__, after pickle or deepcopy has
    memoized the new log (see Timelog.__reduce__). The four-argument form is
    the older format, which also loaded the records (ts None: closed).
    """
    cdef Timelog log = cls.__new__(cls)
    Timelog.__init__(log, **settings)
    if ts is _MISSING:
        return log
    if ts is not None and len(ts):
        try:
            log.bulk_append(ts, objs)
        except TimelogBusyError:
            log.flush()
        log._busy_events = 0
    if ts is None:
        log.close()
    return log
