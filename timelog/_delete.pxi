# _delete.pxi (included by _core.pyx): deletes (sequenced range
# tombstones): delete(), cutoff(), del log[...].


cdef int _log_delete(_TimelogState self, int kind, int64_t t1, int64_t t2) except -1:
    cdef tl_status_t st
    cdef tl_log_t *log = _log_wbegin(self)
    # The GIL stays held: a delete touches no record, only one or two
    # paths of the tombstone tree (~0.1-0.7 us), less than releasing and
    # re-taking the GIL would cost.
    try:
        if kind == _K_RANGE:
            st = tl_delete_range(log, t1, t2)
        elif kind == _K_SINCE:
            st = tl_delete_since(log, t1)
        elif kind == _K_UNTIL:
            st = tl_delete_before(log, t2)
        elif kind == _K_POINT:
            st = tl_delete_ts(log, t1)
        else:
            st = tl_delete_all(log)
    finally:
        _log_wend(self, log)
    if st != TL_OK and st != TL_EBUSY:
        return _check(st)
    return _log_after_write(self, st)


cdef object _Timelog_delete(_TimelogState self, object t1, object t2):
    cdef int64_t a = 0, b = 0
    cdef int kind
    _log_require_open(self)
    if t2 is _MISSING:
        _log_delete(self, _K_POINT, _ts(t1, self._unit), 0)
        return
    kind = _range_kind(t1, t2, self._unit, &a, &b)
    _log_delete(self, kind, a, b)


cdef object _Timelog_cutoff(_TimelogState self, object ts):
    _log_require_open(self)
    _log_delete(self, _K_UNTIL, 0, _ts(ts, self._unit))


cdef int _Timelog_delitem(_TimelogState self, object key) except -1:
    cdef int64_t a = 0, b = 0
    cdef int kind
    _log_require_open(self)
    if type(key) is slice:
        _check_step(key)
        kind = _range_kind((<slice> key).start, (<slice> key).stop, self._unit, &a, &b)
        _log_delete(self, kind, a, b)
        return 0
    _log_delete(self, _K_POINT, _ts(key, self._unit), 0)
    return 0
