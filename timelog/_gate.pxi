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
