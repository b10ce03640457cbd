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


cdef object _Timelog_to_pandas(_TimelogState self, object t1, object t2, object tz):
    # A closed log says so whether or not pandas is installed.
    _log_require_open(self)
    try:
        # importlib, not an import statement: Cython's import fast path
        # would hand back a None left in sys.modules instead of raising.
        pd = _importlib.import_module("pandas")
    except ImportError:
        raise ImportError(
            "Timelog.to_pandas() needs pandas, which is not installed; "
            "install it with: pip install pandas") from None
    ts, objs = self.arrays(t1, t2)
    unit = self.time_unit
    index = pd.DatetimeIndex(ts.view("datetime64[%s]" % (unit,)), name="ts")
    if tz is not None:
        index = index.tz_localize("UTC").tz_convert(tz)
    values = _np.empty(len(objs), dtype=object)
    for i, obj in enumerate(objs):
        values[i] = obj
    return pd.DataFrame({"value": values}, index=index, copy=False)


cdef object _Timelog_reduce(_TimelogState self):
    if self._settings is None:
        raise TypeError("cannot pickle a %s that was never opened"
                        % (type(self).__name__,))
    settings = dict(self._settings)
    for name in ("compaction", "adaptive"):
        if settings[name] is not None:
            settings[name] = dict(settings[name])
    attrs = getattr(self, "__dict__", None) or None
    if self._log is NULL:
        return (_rebuild_timelog, (type(self), settings),
                (_STATE_TAG, attrs, None, None, True))
    ts, objs = self.arrays()
    return (_rebuild_timelog, (type(self), settings),
            (_STATE_TAG, attrs, ts, objs, False))


cdef object _Timelog_setstate(_TimelogState self, object state):
    if type(state) is dict:
        self.__dict__.update(state)
        return
    if not (type(state) is tuple and len(state) == 5 and state[0] == _STATE_TAG):
        raise TypeError("Timelog.__setstate__: unexpected state %r"
                        % (type(state).__name__,))
    _, attrs, ts, objs, closed = state
    if attrs:
        self.__dict__.update(attrs)
    if ts is not None and len(ts):
        try:
            self.bulk_append(ts, objs)
        except TimelogBusyError:
            self.flush()
        self._busy_events = 0
    if closed:
        self.close()


# ---------------------------------------------------------------- save/load helpers
# (timelog/_save_load.py: the settings a file records, bounds as ints)

def _log_settings(_TimelogState log):
    """A JSON-ready copy of the log's constructor settings (as reopen keeps them)."""
    _log_require_open(log)
    settings = dict(log._settings)
    for name in ("compaction", "adaptive"):
        if settings[name] is not None:
            settings[name] = dict(settings[name])
    return settings


def _ts_of(_TimelogState log, t):
    """A timestamp (int, datetime, datetime64...) as an int in the log's unit."""
    return _ts(t, log._unit)
