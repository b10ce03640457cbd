# _status.pxi (included by _core.pyx): timelog's exceptions, the one
# translation of an engine status into a Python exception, and the
# reference-count bookkeeping of stored handles (on_drop, handle lists).

# ---------------------------------------------------------------- exceptions

class TimelogError(Exception):
    """Base class of timelog's own errors (engine state, closed log, engine bugs)."""


class TimelogBusyError(TimelogError):
    """Write-path backpressure. The write WAS accepted: do not retry it.

    Raised (with ``busy_policy="raise"``) when the engine has too many sealed
    memtables waiting to be flushed. Call ``flush()`` or ``maint_step()``, or
    use ``busy_policy="flush"`` / ``"silent"``.
    """


# ---------------------------------------------------------------- status translation

cdef int _raise_status(tl_status_t st) except -1:
    cdef const char *s = tl_strerror(st)
    msg = s.decode("utf-8", "replace") if s is not NULL else "unknown status %d" % <int>st
    if st == TL_EBUSY:
        raise TimelogBusyError(_BUSY_MSG)
    if st == TL_ENOMEM:
        raise MemoryError(msg)
    if st == TL_EINVAL:
        raise ValueError(msg)
    if st == TL_ESTATE:
        raise TimelogError(msg)
    raise TimelogError(msg)


cdef inline int _check(tl_status_t st) except -1:
    """The one status translator: TL_OK/TL_EOF -> 0, anything else raises.

    TL_EBUSY -> TimelogBusyError (the write was kept), TL_ENOMEM -> MemoryError,
    TL_EINVAL -> ValueError, others -> TimelogError(tl_strerror(st)).
    """
    if st == TL_OK or st == TL_EOF:
        return 0
    return _raise_status(st)


# ---------------------------------------------------------------- on_drop

cdef void _on_drop(void *ctx, tl_handle_t h) noexcept:
    # Runs only from tl_drain_retired / tl_close / the last pin's release, all
    # of which this module calls with the GIL held. The reference dropped is
    # the one taken when the record was stored.
    _decref(<PyObject *> <size_t> h)


cdef inline void _decref_handles(const tl_handle_t *h, size_t n) noexcept:
    cdef size_t i
    for i in range(n):
        _decref(<PyObject *> <size_t> h[i])


cdef list _list_stealing(const tl_handle_t *h, size_t n):
    """A list of n objects whose references the caller already took; the
    list takes them over (and they are given back if it cannot be made)."""
    cdef size_t i
    try:
        lst = PyList_New(<Py_ssize_t> n)
    except BaseException:
        _decref_handles(h, n)
        raise
    for i in range(n):
        PyList_SET_ITEM_ptr(lst, <Py_ssize_t> i, <PyObject *> <size_t> h[i])
    return lst


cdef int _check_stats(const tl_stats_t *s) except -1:
    """Refuses a tl_stats() answer that cannot be true.

    tl_stats() reports TL_OK even when an allocation inside it failed: the
    visible bounds then read as "empty" and physical_records as 0 while
    records > 0 (an engine bug, reported). Better a MemoryError than a
    stats() or a repr() that says a full log is empty.
    """
    if s.records > 0 and (s.min_ts > s.max_ts or s.physical_records < s.records):
        raise MemoryError("out of memory (tl_stats could not compute every field)")
    return 0
