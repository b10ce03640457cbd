# _gc.pxi (included by _core.pyx): Timelog's cycle-collection slots
# (tp_traverse visits the stored objects; tp_clear closes the log).

# ---------------------------------------------------------------- cycle collection
#
# A stored record holds a strong reference to its object, so a payload that
# refers back to its log (directly, or through an iterator or span, which
# reference the log) makes a cycle. The collector sees it only if the log
# reports the references its engine holds: Timelog's tp_traverse adds, to
# what Cython generates for its fields, one visit per handle the engine owns
# (tl_visit_handles: memtables, memruns, segments, retired queue) for the open
# engine and for any engine detached by close() but not yet closed. Each
# reference has exactly one owner: pin holders (_Snapshot, iterators, spans,
# views) visit only their own fields (Cython's traverse), never the records
# they read, which their log owns. Missing a reference (a handle popped by a
# drain whose on_drop has not run yet) only makes an object look referenced
# from outside; counting one twice would let the collector free a live
# object, so nothing else visits handles.
#
# tp_clear closes the log (stopping its worker thread, releasing its objects,
# or at the last pin's release if iterators still read it): that breaks the
# cycle, and a collected log leaves no thread behind.
#
# Known gap: a log closed explicitly while iterators or spans still pin it
# keeps its objects until the last pin goes, and nothing visits them in the
# meantime, so a cycle through such a pin is not collected until then.

cdef extern from "Python.h" nogil:
    # nogil only so the engine's visitor type (declared nogil) may call it;
    # the collector runs it with the GIL held.
    ctypedef int (*_visitproc "visitproc")(PyObject *o, void *arg) noexcept

cdef extern from "Python.h":
    ctypedef int (*_traverseproc "traverseproc")(PyObject *o, _visitproc visit,
                                                 void *arg) noexcept
    ctypedef int (*_inquiry "inquiry")(PyObject *o) noexcept
    ctypedef struct _TypeSlots "PyTypeObject":
        _traverseproc tp_traverse
        _inquiry tp_clear


ctypedef struct _visit_args_t:
    _visitproc visit
    void *arg


cdef int _visit_handle(tl_handle_t h, void *ctx) noexcept nogil:
    cdef _visit_args_t *a = <_visit_args_t *> ctx
    return a.visit(<PyObject *> <size_t> h, a.arg)


# The traverse and clear Cython generated for Timelog, called first (set once
# at import; per module, like any type slot).
cdef _traverseproc _timelog_base_traverse = NULL
cdef _inquiry _timelog_base_clear = NULL


cdef int _timelog_visit_engines(_TimelogState self, _visitproc visit, void *arg) noexcept:
    cdef _visit_args_t a
    cdef int rc
    cdef Py_ssize_t i
    cdef list detached
    a.visit = visit
    a.arg = arg
    if self._log is not NULL:
        rc = tl_visit_handles(self._log, _visit_handle, &a)
        if rc:
            return rc
    # Detached engines wait for their in-flight calls to finish; they still
    # own their objects. Read without allocating (a traverse must not).
    if self._gatep is NULL:
        return 0
    detached = (<_Gate> self._gatep)._detached
    if detached is not None:
        for i in range(PyList_GET_SIZE(detached)):
            rc = tl_visit_handles(_detached_engine(detached, i), _visit_handle, &a)
            if rc:
                return rc
    return 0


cdef inline tl_log_t *_detached_engine(list detached, Py_ssize_t i) noexcept:
    # The engine of _Gate._detached[i] ([engine as int, calls]), read without
    # allocating or raising.
    return <tl_log_t *> <size_t> PyLong_AsSize_t_ptr(
        PyList_GET_ITEM(<list> PyList_GET_ITEM(detached, i), 0))


cdef int _Timelog_tp_traverse(PyObject *o, _visitproc visit, void *arg) noexcept:
    cdef int rc = 0
    if _timelog_base_traverse is not NULL:
        rc = _timelog_base_traverse(o, visit, arg)
        if rc:
            return rc
    return _timelog_visit_engines(<_TimelogState> o, visit, arg)


cdef void _close_for_gc(_TimelogState log) noexcept:
    # Timelog.close, not log.close: the log's class may be garbage in the same
    # collection, its dict already cleared. An error (none is expected) goes
    # to sys.unraisablehook: a tp_clear cannot raise.
    Timelog.close(log)


cdef int _Timelog_tp_clear(PyObject *o) noexcept:
    _close_for_gc(<_TimelogState> o)
    if _timelog_base_clear is not NULL:
        return _timelog_base_clear(o)
    return 0


cdef int _install_gc_slots() except -1:
    global _timelog_base_traverse, _timelog_base_clear
    cdef _TypeSlots *t = <_TypeSlots *> <PyObject *> Timelog
    if not (Timelog.__flags__ & (1 << 14)):       # Py_TPFLAGS_HAVE_GC
        raise SystemError("timelog: Timelog is not a GC type; cannot traverse payloads")
    _timelog_base_traverse = t.tp_traverse
    _timelog_base_clear = t.tp_clear
    t.tp_traverse = _Timelog_tp_traverse
    t.tp_clear = _Timelog_tp_clear
    return 0


_install_gc_slots()
