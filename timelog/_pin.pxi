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
                self._owner._drain()
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


cdef void _drain_noexcept(Timelog log) noexcept:
    """Timelog._drain() for a destructor: nothing can be raised from there
    (Cython reports an exception, which the engine never causes here, through
    sys.unraisablehook)."""
    log._drain()
