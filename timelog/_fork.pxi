# _fork.pxi (included by _core.pyx): os.fork() support: every live engine
# is locked across fork() and re-initialised in the child.

# ---------------------------------------------------------------- fork
#
# A forked child has only the forking thread: every engine's worker thread is
# gone, and a lock held by any other thread at the fork would stay locked
# forever (the child hung at exit closing its log). So every engine still
# owned by a live Timelog (open, or detached by close() and awaiting its
# in-flight call) goes through tl_fork_prepare (its locks taken in order,
# waiting for a maintenance unit in progress), then tl_fork_parent in the
# parent (released) or tl_fork_child in the child (re-initialised, worker
# forgotten). In the child the inherited log reads and writes as before; a
# background log starts a new worker at its first write that needs
# maintenance. The writer gate is reset in the child too
# (_reset_gate_after_fork): an owner thread that does not exist there would
# stall every writer.
#
# Two layers, because the locks must be held only inside fork() itself:
# - os.register_at_fork hooks (Python, GIL held) choose the engines before the
#   fork and pin each one with a snapshot, so none is torn down meanwhile, and
#   after it release those pins and reset the gates;
# - pthread_atfork handlers (C, run inside fork()) take and release the
#   locks. Between the Python hook and fork() CPython may release the GIL
#   (waiting for its import lock, or in other modules' hooks); another thread
#   could then block on an engine lock while holding the GIL, so the locks
#   cannot be taken in the Python hook. Inside fork() the forking thread holds
#   the GIL and runs no Python code, and whoever holds an engine lock without
#   the GIL (the worker, a call that released the GIL) lets go of it without
#   needing the GIL.
# The chosen engines live in module-level C variables (per module, like the
# type slots above); the handlers are registered once, at import.
#
# Engines closed by close() but still pinned by iterators are not prepared:
# their worker is already stopped, and the binding takes their locks only
# with the GIL held, which the forking thread holds.

import weakref as _weakref
import os as _os

cdef extern from "_atfork.h":
    int _tlpy_atfork(void (*prepare)() noexcept nogil, void (*parent)() noexcept nogil,
                     void (*child)() noexcept nogil) nogil

_live_logs = _weakref.WeakSet()     # every Timelog that opened an engine
_fork_logs = None                   # the logs chosen for the fork in progress
cdef tl_log_t **_fork_engines = NULL     # chosen engines, each pinned by ...
cdef tl_snapshot_t **_fork_pins = NULL   # ... this snapshot (released after)
cdef size_t _fork_n = 0
cdef bint _fork_locked = False      # the atfork prepare handler took the locks


cdef void _atfork_prepare() noexcept nogil:
    global _fork_locked
    cdef size_t i
    for i in range(_fork_n):
        tl_fork_prepare(_fork_engines[i])
    _fork_locked = _fork_n > 0


cdef void _atfork_parent() noexcept nogil:
    global _fork_locked
    cdef size_t i
    if _fork_locked:
        for i in range(_fork_n):
            tl_fork_parent(_fork_engines[i])
    _fork_locked = False


cdef void _atfork_child() noexcept nogil:
    global _fork_locked
    cdef size_t i
    if _fork_locked:
        for i in range(_fork_n):
            tl_fork_child(_fork_engines[i])
    _fork_locked = False


cdef int _reset_gate_after_fork(_TimelogState log) except -1:
    """The writer gate in a fork child: a fresh, free turn (a writer call of
    a thread of the parent, which does not exist here, is forgotten)."""
    if log._gatep is not NULL:
        _log_g(log)._reset_after_fork()
    return 0


cdef int _fork_pin(tl_log_t *engine) noexcept:
    """Pins engine for the fork and adds it to the chosen set (a closed one,
    whose worker is stopped, is skipped: its pin fails)."""
    global _fork_n
    cdef tl_snapshot_t *snap = NULL
    if tl_snapshot_acquire(engine, &snap) != TL_OK:
        return 0
    _fork_engines[_fork_n] = engine
    _fork_pins[_fork_n] = snap
    _fork_n += 1
    return 0


def _fork_before():
    global _fork_logs, _fork_engines, _fork_pins, _fork_n
    cdef _TimelogState log
    cdef size_t cap = 0
    cdef Py_ssize_t i
    cdef list detached
    if _fork_engines is not NULL:
        _fork_release()         # a fork that never ran its after hooks
    logs = list(_live_logs)     # strong references: none is collected meanwhile
    for log in logs:
        cap += (1 if log._log is not NULL else 0) + \
            (len(_log_g(log)._detached) if log._gatep is not NULL else 0)
    if cap == 0:
        return
    _fork_engines = <tl_log_t **> PyMem_Malloc(cap * sizeof(tl_log_t *))
    _fork_pins = <tl_snapshot_t **> PyMem_Malloc(cap * sizeof(tl_snapshot_t *))
    if _fork_engines is NULL or _fork_pins is NULL:
        PyMem_Free(_fork_engines)
        PyMem_Free(_fork_pins)
        _fork_engines = NULL
        _fork_pins = NULL
        raise MemoryError()
    _fork_n = 0
    # No Python object is made from here to the last pin: a finalizer run by
    # the collector could close an engine whose pointer was already read.
    for log in logs:
        if log._log is not NULL and _fork_n < cap:
            _fork_pin(log._log)
        if log._gatep is not NULL:
            detached = _log_g(log)._detached
            for i in range(PyList_GET_SIZE(detached)):
                if _fork_n < cap:
                    _fork_pin(_detached_engine(detached, i))
    _fork_logs = logs


cdef int _fork_release() except -1:
    """Drops the fork's pins (may release objects: on_drop, GIL held)."""
    global _fork_logs, _fork_engines, _fork_pins, _fork_n
    cdef tl_snapshot_t **pins = _fork_pins
    cdef size_t i, n = _fork_n
    PyMem_Free(_fork_engines)
    _fork_engines = NULL
    _fork_pins = NULL
    _fork_n = 0
    _fork_logs = None
    for i in range(n):
        tl_snapshot_release(pins[i])
    PyMem_Free(pins)
    return 0


def _fork_after_parent():
    _fork_release()


def _fork_after_child():
    cdef _TimelogState log
    logs = _fork_logs
    _fork_release()
    for log in (logs or ()):
        _reset_gate_after_fork(log)


if hasattr(_os, "register_at_fork"):
    if _tlpy_atfork(_atfork_prepare, _atfork_parent, _atfork_child) != 0:
        raise MemoryError("timelog: pthread_atfork failed")
    _os.register_at_fork(before=_fork_before, after_in_parent=_fork_after_parent,
                         after_in_child=_fork_after_child)
