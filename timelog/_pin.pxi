# _pin.pxi (included by _core.pyx): _Snapshot, the pin every exported
# reader (iterators, spans, NumPy views) holds on its log's state.

# ---------------------------------------------------------------- snapshot pin

@cython.final
@cython.no_gc_clear
@cython.freelist(8)
cdef class _Snapshot:
    """Owns one engine snapshot pin; the base of every zero-copy array."""

    def __cinit__(self):
        self._snap = NULL

    cdef int _release(self) except -1:
        cdef tl_snapshot_t *snap = self._snap
        if snap is not NULL:
            self._snap = NULL
            tl_snapshot_release(snap)
            if self._owner is not None:
                _log_drain(self._owner)
        return 0

    def __dealloc__(self):
        cdef tl_snapshot_t *snap = self._snap
        if snap is not NULL:
            self._snap = NULL
            tl_snapshot_release(snap)   # may run on_drop: GIL held
            if self._owner is not None:
                _drain_noexcept(self._owner)

    def __reduce__(self):
        raise TypeError("snapshot pins cannot be pickled: a pin keeps engine memory of "
                        "this process alive and means nothing elsewhere")


cdef void _drain_noexcept(_TimelogState log) noexcept:
    """Timelog._drain() for a destructor: nothing can be raised from there
    (Cython reports an exception, which the engine never causes here, through
    sys.unraisablehook)."""
    _log_drain(log)


# ---------------------------------------------------------------- read pins
#
# Pinning takes the publish lock and a dozen atomic reference counts; a
# read-heavy session (a notebook slicing a loaded log) would pin the
# same state over and over. So the last read's pin is kept (_rsnap) and
# reused while tl_snapshot_current says nothing was written or published
# since. Every writer call drops it before writing (a kept pin must never
# make a write copy a buffer, or keep deleted objects alive), and so do
# close() and validate(). A publish by the maintenance worker makes it
# stale: the next read replaces it, so at most one superseded state
# stays pinned until the log is used again.

cdef inline tl_snapshot_t *_log_read_snap(_TimelogState self) except NULL:
    """The current read pin, borrowed: valid while the GIL is held and
    no Python code runs (a writer may drop it). Raises if closed."""
    cdef tl_snapshot_t *s = self._rsnap
    if s is not NULL:
        if tl_snapshot_current(self._log, s):
            return s
        _log_unpin_reads(self)
        # Releasing it may let the engine give back objects only it kept.
        _log_drain(self)
        # The drain ran finalizers: one that read this log took a read
        # pin of its own. Drop it (no drain: no Python code may run from
        # here to the return), or the assignment below would leak it.
        _log_unpin_reads(self)
    _log_require_open(self)
    _check(tl_snapshot_acquire(self._log, &s))
    self._rsnap = s
    return s


cdef inline tl_snapshot_t *_log_read_pin(_TimelogState self) except NULL:
    """A pin of the current state owned by the caller (tl_snapshot_release
    it): the read pin plus one reference, for reads that release the GIL
    or outlive the call."""
    cdef tl_snapshot_t *s = _log_read_snap(self)
    tl_snapshot_retain(s)
    return s


cdef inline void _log_unpin_reads(_TimelogState self) noexcept:
    # The log is open whenever _rsnap is set (close() unpins first), so
    # this release never tears the engine down nor runs on_drop; what it
    # makes releasable is drained by the caller (every write drains).
    cdef tl_snapshot_t *s = self._rsnap
    if s is not NULL:
        self._rsnap = NULL
        tl_snapshot_release(s)


cdef _Snapshot _log_snapshot(_TimelogState self):
    cdef _Snapshot snap
    cdef tl_status_t st
    snap = _Snapshot.__new__(_Snapshot)
    # After the allocation, which may run finalizers that close the log.
    snap._snap = _log_read_pin(self)
    snap._owner = self
    return snap


cdef inline TimelogIter _log_iter(_TimelogState self, int kind, int64_t t1, int64_t t2):
    # The engine iterator takes its own pin on the read pin, so no Python
    # snapshot object is made (view() makes one lazily). The iterator is
    # created first: that may run the cycle collector, which must find
    # no half-made engine state.
    cdef TimelogIter it = TimelogIter.__new__(TimelogIter)
    cdef tl_snapshot_t *snap
    cdef tl_status_t st
    # Borrowed: nothing runs Python code before the engine iterator
    # takes its own pin on it.
    snap = _log_read_snap(self)
    if kind == _K_RANGE:
        st = tl_iter_range(snap, t1, t2, &it._it)
    elif kind == _K_SINCE:
        st = tl_iter_since(snap, t1, &it._it)
    elif kind == _K_UNTIL:
        st = tl_iter_until(snap, t2, &it._it)
    elif kind == _K_POINT:
        st = tl_iter_point(snap, t1, &it._it)
    else:
        st = tl_iter_all(snap, &it._it)
    if st != TL_OK:
        it._it = NULL
        _check(st)
    it._owner = self
    it._kind = kind
    it._t1 = t1
    it._t2 = t2
    return it
