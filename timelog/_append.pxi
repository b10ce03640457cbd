# _append.pxi (included by _core.pyx): the one-record write path,
# Timelog.append() and log[ts] = obj: the hottest call of the binding, kept
# free of Python code between its check and its engine call (see _gate.pxi
# for why that lets it skip the writer turn).


cdef inline int _log_guard(_TimelogState self, int64_t ts) except -1:
    if self._has_min_ts and ts < self._min_ts_c:
        raise ValueError("timestamp %d is below this log's min_ts guard (%d); "
                         "nothing was stored" % (ts, self._min_ts_c))
    return 0


cdef bint _log_append_queue(_TimelogState self) except -1:
    """Before an append that keeps the GIL (no Python code runs from its
    check to the end of its engine call): when another thread holds or
    awaits the writer turn, waits for it (FIFO, GIL released) and returns
    True; the caller gives it back (_gate.wrelease()) after the engine
    call, before draining. False when the turn is free or this thread's."""
    if not _log_g(self).busy() or _log_g(self).mine():
        return False
    _log_g(self).wacquire()
    _log_unpin_reads(self)
    return True


cdef inline int _log_append_one(_TimelogState self, int64_t ts, object obj) except -1:
    cdef tl_status_t st
    cdef PyObject *p = <PyObject *> obj
    cdef tl_log_t *log
    cdef bint queued = False
    if self._cfg.sealed_wait_ms > 0:
        # This append may wait up to sealed_wait_ms for the worker under
        # backpressure (tl_append -> seal -> wait): never with the GIL
        # held, or every other Python thread stalls with it. Logs that
        # cannot wait (the default, 0) keep the GIL-held fast path.
        log = _log_wbegin(self)
        try:
            if self._has_min_ts:
                _log_guard(self, ts)
            _incref(p)
            with nogil:
                st = tl_append(log, ts, <tl_handle_t> <size_t> p)
        finally:
            _log_wend(self, log)
        if st != TL_OK and st != TL_EBUSY:
            _decref(p)
            return _check(st)
        return _log_after_write(self, st)
    if self._rsnap is not NULL:
        _log_unpin_reads(self)
    if _log_g(self).busy():
        queued = _log_append_queue(self)
    try:
        if self._log is NULL:
            raise TimelogError(_CLOSED_MSG)
        if self._has_min_ts:
            _log_guard(self, ts)
        _incref(p)
        st = tl_append(self._log, ts, <tl_handle_t> <size_t> p)
    finally:
        if queued:
            _log_g(self).wrelease()
    if st != TL_OK and st != TL_EBUSY:
        _decref(p)
        return _check(st)
    if st == TL_OK and tl_retired_len(self._log) == 0:
        return 0
    return _log_after_write(self, st)


cdef inline int _Timelog_append(_TimelogState self, object obj_or_ts, object obj_or_none, object ts) except -1:
    cdef tl_status_t st
    cdef tl_ts_t now = 0
    cdef PyObject *p
    cdef tl_log_t *log
    cdef bint queued
    if obj_or_none is _MISSING:
        if ts is _MISSING or ts is None:
            _log_unpin_reads(self)
            if self._cfg.sealed_wait_ms > 0:
                # May wait on backpressure: not with the GIL (see
                # _append_one), so it holds the writer turn meanwhile.
                log = _log_wbegin(self)
                try:
                    if self._has_min_ts:
                        _log_guard(self, _wall_clock(self._unit))
                    p = <PyObject *> obj_or_ts
                    _incref(p)
                    with nogil:
                        st = tl_append_now(log, <tl_handle_t> <size_t> p, &now)
                finally:
                    _log_wend(self, log)
                if st != TL_OK and st != TL_EBUSY:
                    _decref(p)
                    _check(st)
                    return 0
                _log_after_write(self, st)
                return 0
            queued = _log_append_queue(self)
            try:
                if self._log is NULL:
                    raise TimelogError(_CLOSED_MSG)
                if self._has_min_ts:
                    _log_guard(self, _wall_clock(self._unit))
                p = <PyObject *> obj_or_ts
                _incref(p)
                st = tl_append_now(self._log, <tl_handle_t> <size_t> p, &now)
            finally:
                if queued:
                    _log_g(self).wrelease()
            if st != TL_OK and st != TL_EBUSY:
                _decref(p)
                _check(st)
                return 0
            if st == TL_OK and tl_retired_len(self._log) == 0:
                return 0
            _log_after_write(self, st)
            return 0
        _log_require_open(self)
        _log_append_one(self, _ts(ts, self._unit), obj_or_ts)
        return 0
    # Closed before the timestamp's own errors; inline, not through
    # _require_open (a vtable call: ~1-2 ns on this path).
    if self._log is NULL:
        raise TimelogError(_CLOSED_MSG)
    # Two arguments: (ts, obj); a ts= keyword is ignored (timelog-lib's rule).
    _log_append_one(self, _ts(obj_or_ts, self._unit), obj_or_none)
    return 0
