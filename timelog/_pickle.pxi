# _pickle.pxi (included by _core.pyx): pickling helpers
# (Timelog.__reduce__ names _rebuild_timelog, so it stays in timelog._core).

# ---------------------------------------------------------------- pickling helpers

# Marks the state tuple of Timelog.__reduce__ (so __setstate__ can tell it
# from a plain attribute dict).
_STATE_TAG = "timelog/1"


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
