# cython: language_level=3
# cython: boundscheck=False
# cython: wraparound=False
# cython: cdivision=True
# cython: embedsignature=True
# cython: embedsignature.format=clinic
# cython: freethreading_compatible = False
# cython: subinterpreters_compatible = no
# Platform stance (docs/platforms.md; tests/test_subinterpreters.py):
# - free-threaded CPython (3.13t/3.14t): the module declares that it needs the
#   GIL, so importing it re-enables the GIL with a RuntimeWarning; the
#   binding's locking assumes the GIL (its brackets and writer ownership).
# - subinterpreters: not supported; timelog/__init__.py refuses the import in
#   any interpreter but the main one with an ImportError (module state lives
#   in C globals, and NumPy does not support subinterpreters).
"""timelog._core: the CPython binding of the timelog engine.

Ownership model
---------------
- A stored record holds exactly one strong reference to its Python object:
  the binding ``Py_INCREF``s the object when it hands the ``PyObject*`` to the
  engine as an opaque 64-bit handle, and the engine gives the handle back
  through ``on_drop`` exactly once, when the record is physically dropped
  (compaction, a seal that applies a tombstone, teardown).
- ``on_drop`` runs only inside ``tl_drain_retired``, ``tl_close``,
  ``tl_iter_close``, ``tl_spans_close`` and ``tl_snapshot_release``, and this
  module calls those only with the GIL held, never inside ``with nogil``.
- Each extension class owns one C resource. Pin holders (``TimelogIter``,
  ``PageSpanIter``, ``PageSpan``, ``PageSpanObjectsView`` and NumPy arrays
  over page memory) reference a ``_Snapshot``, which references its
  ``Timelog``; all of them are ``no_gc_clear`` so ``__dealloc__`` still sees
  what it must release.
- Releasing an object runs its ``__del__``, which may call back into the log
  (even ``close()``); so may the caller's own ``__index__``/``__array__`` and
  the cycle collector at any allocation. Hence: a handle is INCREFed (or its
  pin held) before anything that can run Python code; a call that uses the
  engine without the GIL, or drains, brackets the engine it captured, and
  ``close()`` inside a bracket only detaches that engine, closed by the last
  bracket on it to leave; writer calls are serialized across threads by a
  FIFO writer turn (``_Gate``, whose comment block states the whole
  protocol); an iterator is one cursor (``_acquire``).
"""

cimport cython
from cpython.ref cimport PyObject
from cpython.mem cimport PyMem_Malloc, PyMem_Free, PyMem_RawMalloc, PyMem_RawFree
from cpython.buffer cimport PyBUF_WRITABLE, PyBUF_FORMAT, PyBUF_ND, PyBUF_STRIDES
from libc.stdint cimport int32_t, int64_t, uint64_t
from libc.math cimport NAN
from libc.string cimport memcpy
# The engine's platform layer (csrc/tl_sync.h), not POSIX calls: the same
# module builds with MSVC on Windows (docs/platforms.md).
cdef extern from "tl_sync.h" nogil:
    bint tl_wall_clock(int64_t *sec, int32_t *nsec)
from cpython.pythread cimport PyThread_get_thread_ident

cimport numpy as cnp

import datetime as _dt
import html as _html
import importlib as _importlib
import math as _math
import operator as _operator
import warnings as _warnings
import collections.abc as _abc

import numpy as _np

# Settings (defaults, presets, validation) and repr/HTML formatting are pure
# Python, checked by mypy: timelog/_config.py and timelog/_format.py.
from timelog._config import (
    PRESETS as _PRESETS, _DEFAULTS, _FLAT_KNOBS, _I64_MIN, _I64_MAX, _SIZE_MAX,
    _fold_flat, _int_knob, _point_to_unit, _normalize as _normalize_with)
from timelog._format import (
    _LEVEL_NAMES, _fmt_ts, _repr_closed, _repr_html, _repr_text)

cnp.import_array()


cdef extern from "Python.h":
    # Raw reference counting on PyObject* (the handles are stored PyObject*).
    void _incref "Py_INCREF"(PyObject *o)
    void _decref "Py_DECREF"(PyObject *o)
    Py_ssize_t _refcnt "Py_REFCNT"(PyObject *o)
    PyObject *_tuple_get "PyTuple_GET_ITEM"(PyObject *t, Py_ssize_t i)
    void _tuple_set "PyTuple_SET_ITEM"(PyObject *t, Py_ssize_t i, PyObject *v)
    int PyObject_GC_IsTracked(PyObject *o)
    void PyObject_GC_Track(void *o)
    long long PyLong_AsLongLongAndOverflow(object o, int *overflow) except? -1
    bint PyIndex_Check(object o)
    bint PyObject_CheckBuffer(object o)
    object PyList_New(Py_ssize_t n)
    # Steals the reference: the caller Py_INCREFs first.
    void PyList_SET_ITEM_ptr "PyList_SET_ITEM"(object o, Py_ssize_t i, PyObject *v)
    PyObject *PyList_GET_ITEM(object o, Py_ssize_t i)
    Py_ssize_t PyList_GET_SIZE(object o)
    Py_ssize_t PyTuple_GET_SIZE(object o)
    PyObject *PyTuple_GET_ITEM(object o, Py_ssize_t i)
    PyObject **_seq_items "PySequence_Fast_ITEMS"(object o)
    Py_ssize_t _seq_size "PySequence_Fast_GET_SIZE"(object o)
    bint _is_exact_tuple "PyTuple_CheckExact"(PyObject *o)
    size_t PyLong_AsSize_t_ptr "PyLong_AsSize_t"(PyObject *o)
    bint _is_exact_int "PyLong_CheckExact"(PyObject *o)
    Py_ssize_t _tuple_size "PyTuple_GET_SIZE"(PyObject *o)
    long long _as_ll_overflow "PyLong_AsLongLongAndOverflow"(PyObject *o, int *overflow)


# ---------------------------------------------------------------- module constants

cdef enum:
    _BUSY_RAISE = 0
    _BUSY_SILENT = 1
    _BUSY_FLUSH = 2

cdef enum:
    _K_RANGE = 0
    _K_SINCE = 1
    _K_UNTIL = 2
    _K_ALL = 3
    _K_POINT = 4

cdef enum:
    _M_FLUSH = 0
    _M_COMPACT = 1
    _M_STEP = 2
    _M_STOP = 3

_PY_SSIZE_MAX = 2**63 - 1

cdef enum:
    _NOGIL_BATCH = 4096   # fetch this many records or more with the GIL released

# The engine enum of each str knob value (timelog/_config.py validates them).
_UNITS = {"s": TL_UNIT_S, "ms": TL_UNIT_MS, "us": TL_UNIT_US, "ns": TL_UNIT_NS}
_UNIT_NAMES = {v: k for k, v in _UNITS.items()}
_MAINT = {"background": TL_MAINT_BACKGROUND, "disabled": TL_MAINT_DISABLED}
_BUSY = {"raise": _BUSY_RAISE, "silent": _BUSY_SILENT, "flush": _BUSY_FLUSH}
_BUSY_NAMES = {v: k for k, v in _BUSY.items()}
_BUSY_MSG = ("timelog is busy (write backpressure): the write WAS stored, do not "
             "retry it; call flush() or maint_step(), or construct the log with "
             "busy_policy='flush' or 'silent'")
_CLOSED_MSG = "timelog is closed"


cdef class _Missing:
    """Sentinel type for 'argument not given' (None is a valid object to store)."""
    def __repr__(self):
        return "<missing>"

cdef _Missing _MISSING = _Missing()


# ---------------------------------------------------------------- the pieces, one concern each

include "_status.pxi"
include "_timeconv.pxi"
include "_gate.pxi"
include "_fault.pxi"
include "_open.pxi"
include "_append.pxi"
include "_ingest.pxi"
include "_bulk.pxi"
include "_delete.pxi"
include "_pin.pxi"
include "_reads.pxi"
include "_export.pxi"
include "_iter.pxi"
include "_spans.pxi"
include "_stats.pxi"
include "_preview.pxi"
include "_pickle.pxi"
include "_log_state.pxi"
include "_log.pxi"
include "_gc.pxi"
include "_fork.pxi"
include "_steps.pxi"
include "_arrow.pxi"
