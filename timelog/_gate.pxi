# _gate.pxi (included by _core.pyx): _Gate, the writer turn and the engine
# lifetime of one Timelog, with its whole protocol in the comment below.

# ---------------------------------------------------------------- the gate
#
# _Gate: the writer turn and the engine lifetime of one Timelog, as one
# small state machine (self-contained: it is meant to move to its own file).
#
# Writer turn. The engine serializes nothing for its writer (appends,
# deletes, flush, compact, maint_step, start/stop, validate); Python callers
# use threads freely. The turn is a FIFO ticket lock on the engine's platform
# mutex and condition (tl_sync.h: POSIX or Win32), taken WITHOUT the GIL:
#   - wacquire(): a thread that already holds the turn (a __del__ or
#     __index__ re-entering on the owning thread) nests (depth + 1);
#     otherwise it takes the next ticket and waits, GIL released, until the
#     ticket is served, then re-takes the GIL. Tickets are served in order,
#     so a waiting writer is next whatever the holder does: no writer waits
#     behind more than the calls queued before it (no starvation).
#   - wrelease(): the last level serves the next ticket (hand-off).
#   - A call that keeps the GIL from its check to the end of its engine work
#     (append, which runs no Python code in between) may skip the turn when
#     busy() is false (nobody holds or waits for it): any thread that gets
#     the turn meanwhile must re-take the GIL before it touches the engine,
#     so it cannot overlap. Else it takes the turn like everyone.
#   - Nothing ever waits for the turn while holding the GIL, and the holder
#     never needs anything but the GIL to finish: no deadlock.
#   - Readers and drains never take the turn: snapshots are safe against a
#     concurrent writer, and drains pop under the engine's lock.
#
# Engine lifetime. Every call that uses the engine pointer with the GIL
# released, or drains (running __del__, i.e. any Python code, which may call
# close()), brackets itself with enter(log) / leave(log), for the engine it
# captured. Per engine, GIL-protected:
#     OPEN(calls)  --close()-->  calls == 0: CLOSED (drained, tl_close'd now)
#                               calls > 0:  DETACHED(calls)
#     DETACHED(calls) --leave()--> calls - 1 == 0: CLOSED
# close() detaches only the engine it was called for (the log reads closed
# at once); reopen() opens a NEW engine in state OPEN(0); a DETACHED engine
# is closed by the last bracket on IT to leave, never while one runs, and
# never one opened later. Teardown runs with the engine out of every list:
# a __del__ run by it may close or reopen the log freely.
#
# After fork, the child has only the forking thread: _reset_after_fork()
# makes a fresh, free turn (tickets of threads that do not exist there would
# block it forever). Brackets held by those threads are not known; their
# engines stay DETACHED (leaked, never freed under a call).
cdef extern from "_turn.h":
    ctypedef struct _tlpy_turn_t:
        pass
    int _tlpy_turn_init(_tlpy_turn_t *t) nogil
    void _tlpy_turn_destroy(_tlpy_turn_t *t) nogil
    void _tlpy_turn_take(_tlpy_turn_t *t, unsigned long me) nogil
    void _tlpy_turn_give(_tlpy_turn_t *t) nogil
    unsigned long _tlpy_turn_owner(_tlpy_turn_t *t) nogil
    int _tlpy_turn_busy(_tlpy_turn_t *t) nogil


@cython.final
cdef class _Gate:
    """The writer turn and engine lifetime of one Timelog (protocol above)."""

    def __cinit__(self):
        self._turn = <_tlpy_turn_t *> PyMem_RawMalloc(sizeof(_tlpy_turn_t))
        if self._turn is NULL:
            raise MemoryError()
        if not _tlpy_turn_init(self._turn):
            PyMem_RawFree(self._turn)
            self._turn = NULL
            raise MemoryError()
        self._depth = 0
        self._log = NULL
        self._calls = 0
        self._detached = []

    def __dealloc__(self):
        # Only the owning Timelog's __dealloc__ reaches here, after closing
        # every engine; nobody holds or waits for the turn (they all hold a
        # reference to the Timelog).
        if self._turn is not NULL:
            _tlpy_turn_destroy(self._turn)
            PyMem_RawFree(self._turn)
            self._turn = NULL

    cdef inline bint busy(self) noexcept:
        return _tlpy_turn_busy(self._turn) != 0

    cdef int wacquire(self) except -1:
        cdef unsigned long me = PyThread_get_thread_ident()
        if _tlpy_turn_owner(self._turn) == me:
            self._depth += 1
            return 0
        with nogil:
            _tlpy_turn_take(self._turn, me)
        self._depth = 1
        return 0

    cdef inline bint mine(self) noexcept:
        return _tlpy_turn_owner(self._turn) == PyThread_get_thread_ident()

    cdef void wrelease(self) noexcept:
        self._depth -= 1
        if self._depth == 0:
            _tlpy_turn_give(self._turn)

    cdef void opened(self, tl_log_t *log) noexcept:
        # Only on a closed log (the previous engine, if any, is CLOSED or
        # DETACHED and tracked in _detached).
        self._log = log
        self._calls = 0

    cdef void enter(self, tl_log_t *log) noexcept:
        cdef list d
        if log == self._log:
            self._calls += 1
            return
        for d in self._detached:
            if <size_t> d[0] == <size_t> log:
                d[1] += 1
                return

    cdef int leave(self, tl_log_t *log) except -1:
        cdef list d
        cdef Py_ssize_t i
        if log == self._log:
            self._calls -= 1
            return 0
        for i in range(len(self._detached)):
            d = self._detached[i]
            if <size_t> d[0] == <size_t> log:
                d[1] -= 1
                if d[1] == 0:
                    del self._detached[i]
                    _Gate._teardown(log)
                return 0
        return 0

    cdef int close(self, tl_log_t *log) except -1:
        """close() of the OPEN engine `log`: detaches it, closes it now if no
        call runs on it, else leaves that to the last one."""
        if log != self._log:
            return 0
        self._log = NULL
        if self._calls > 0:
            self._detached.append([<size_t> log, self._calls])
            self._calls = 0
            return 0
        _Gate._teardown(log)
        return 0

    @staticmethod
    cdef int _teardown(tl_log_t *log) except -1:
        # Drained first, so objects the engine retired go now even when an
        # iterator keeps the engine alive. No list holds the engine any more:
        # a __del__ run here cannot reach it (it may close or reopen the log).
        cdef size_t n = 0
        cdef tl_status_t st
        try:
            if tl_retired_len(log) > 0:
                # TL_OK for an engine (its only failure is a NULL one).
                st = tl_drain_retired(log, 0, &n)
        finally:
            tl_close(log)
        return 0

    cdef void close_all(self) noexcept:
        # The Timelog's __dealloc__: no call can be running (each holds a
        # reference to the Timelog), so every engine is closed now.
        cdef list d
        cdef tl_log_t *log = self._log
        self._log = NULL
        if log is not NULL:
            tl_close(log)
        if self._detached:
            for d in self._detached:
                tl_close(<tl_log_t *> <size_t> d[0])
            self._detached = []

    def _reset_after_fork(self):
        """In a child after fork(): a fresh, free writer turn (the threads
        that held or awaited it do not exist in the child). Call it from the
        child before anything else uses the log."""
        if _tlpy_turn_init(self._turn) == 0:
            raise MemoryError()
        self._depth = 0

    def _state(self):
        """(turn busy, owner ident, calls on the open engine, detached
        engines): for tests."""
        return (self.busy(), _tlpy_turn_owner(self._turn), self._calls,
                [(d[0], d[1]) for d in self._detached])


cdef inline int _log_require_open(_TimelogState self) except -1:
    if self._log is NULL:
        raise TimelogError(_CLOSED_MSG)
    return 0


# ---------------------------------------------------------------- Timelog's side
#
# Re-entrancy, close() and threads: the _Gate protocol (above). A
# stored object's __del__ runs inside tl_drain_retired (through on_drop)
# and may call anything on this log, close() included; another thread
# may call close() while this one is in the engine with the GIL released.
# So such calls bracket the engine they captured (_gate.enter/leave),
# and writer calls that release the GIL hold the writer turn meanwhile.

cdef inline _Gate _log_g(_TimelogState self):
    # A raw reference (see _gatep in _core.pxd): the cycle collector's
    # clear never takes it, so a finalizer run by a collection that
    # cleared this object still finds its gate.
    return <_Gate> self._gatep


cdef tl_log_t *_log_wbegin(_TimelogState self) except NULL:
    """Starts a writer call that releases the GIL: takes the writer turn
    (waiting, GIL released, behind the calls queued before it) and
    brackets the engine; returns it, or raises if closed. _wend(log)."""
    cdef tl_log_t *log
    _log_g(self).wacquire()
    # After the wait: a read meanwhile may have pinned again.
    _log_unpin_reads(self)
    log = self._log
    if log is NULL:
        _log_g(self).wrelease()
        raise TimelogError(_CLOSED_MSG)
    _log_g(self).enter(log)
    return log


cdef inline int _log_wend(_TimelogState self, tl_log_t *log) except -1:
    _log_g(self).wrelease()
    # May tear the engine down (close() was called meanwhile): Python
    # code runs, after the turn is given back.
    _log_g(self).leave(log)
    return 0


cdef int _log_drain(_TimelogState self) except -1:
    """Releases the objects the engine retired (runs on_drop: Python code)."""
    cdef size_t n = 0
    cdef tl_status_t st = TL_OK
    cdef tl_log_t *log = self._log
    if log is NULL or tl_retired_len(log) == 0:
        return 0
    _log_g(self).enter(log)
    try:
        st = tl_drain_retired(log, 0, &n)
    finally:
        _log_g(self).leave(log)
    return _check(st)


cdef int _log_after_write(_TimelogState self, tl_status_t st) except -1:
    """Drains retired handles, then applies the busy policy to TL_EBUSY.

    Called only with TL_OK or TL_EBUSY: the write is stored either way.
    """
    cdef tl_status_t fst = TL_OK
    cdef int steps
    cdef tl_log_t *log
    _log_drain(self)
    if st == TL_OK:
        return 0
    self._busy_events += 1
    if self._busy_policy == _BUSY_RAISE:
        raise TimelogBusyError(_BUSY_MSG)
    if self._busy_policy == _BUSY_FLUSH:
        if self._log is NULL:
            return 0        # a __del__ run by the drain closed the log
        # Flush, then let this thread do the maintenance policy asks for
        # (a compaction when L0 is what holds writes back): the writer
        # helps the worker instead of waiting on it.
        log = _log_wbegin(self)
        try:
            with nogil:
                fst = tl_flush(log)
                steps = 0
                while fst == TL_OK and steps < 64:
                    fst = tl_maint_step(log)
                    steps += 1
        finally:
            _log_wend(self, log)
        _log_drain(self)
        if fst != TL_OK and fst != TL_EBUSY and fst != TL_EOF:
            # The write IS stored: say so (busy), never MemoryError,
            # which promises that nothing was.
            try:
                _check(fst)
            except Exception as e:
                raise TimelogBusyError(
                    "%s (busy_policy='flush' could not flush: %s)" % (_BUSY_MSG, e)) from e
    return 0


cdef int _log_maint(_TimelogState self, int op, tl_status_t *out) except -1:
    """flush / compact / maint_step / stop_maintenance with the GIL
    released, then the drain of what it retired; *out gets the status."""
    cdef tl_status_t st
    cdef tl_log_t *log = _log_wbegin(self)
    try:
        with nogil:
            if op == _M_FLUSH:
                st = tl_flush(log)
            elif op == _M_COMPACT:
                st = tl_compact(log)
            elif op == _M_STEP:
                st = tl_maint_step(log)
            else:
                st = tl_maint_stop(log)
        out[0] = st
    finally:
        _log_wend(self, log)
    _log_drain(self)
    return 0


cdef object _Timelog_start_maintenance(_TimelogState self):
    cdef tl_status_t st
    _log_g(self).wacquire()
    try:
        _log_require_open(self)
        st = tl_maint_start(self._log)
    finally:
        _log_g(self).wrelease()
    _check(st)
