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
from libc.stdint cimport int32_t, int64_t, uint32_t, uint64_t
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
import numbers as _numbers
import operator as _operator
import warnings as _warnings
import collections.abc as _abc

import numpy as _np

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

_UNITS = {"s": TL_UNIT_S, "ms": TL_UNIT_MS, "us": TL_UNIT_US, "ns": TL_UNIT_NS}
_UNIT_NAMES = {v: k for k, v in _UNITS.items()}
_MAINT = {"background": TL_MAINT_BACKGROUND, "disabled": TL_MAINT_DISABLED}
_BUSY = {"raise": _BUSY_RAISE, "silent": _BUSY_SILENT, "flush": _BUSY_FLUSH}
_BUSY_NAMES = {v: k for k, v in _BUSY.items()}
_COMPACTION_KEYS = ("target_bytes", "max_inputs", "max_windows")
# adaptive={...}: key -> (kind, lo, hi, default). A missing key takes the
# default; settings echo the complete dict. Floats must be finite.
_ADAPTIVE_SPEC = {
    "target_records": ("int", 0, 2**64 - 1, 0),
    "min_window": ("int", 0, 2**63 - 1, 0),
    "max_window": ("int", 0, 2**63 - 1, 0),
    "hysteresis_pct": ("float", 0.0, 100.0, 10.0),
    "window_quantum": ("int", 0, 2**63 - 1, 0),
    "alpha": ("float", 0.0, 1.0, 0.2),
    "warmup_flushes": ("int", 0, 2**32 - 1, 2),
    "stale_flushes": ("int", 0, 2**32 - 1, 0),
    "failure_backoff_threshold": ("int", 0, 2**32 - 1, 0),
    "failure_backoff_pct": ("float", 0.0, 100.0, 50.0),
}
_ADAPTIVE_KEYS = tuple(_ADAPTIVE_SPEC)
# The deprecated flat spellings: adaptive_<key>=v is adaptive={<key>: v},
# compaction_<key>=v is compaction={<key>: v}.
_FLAT_KNOBS = dict(
    [("adaptive_" + k, ("adaptive", k)) for k in _ADAPTIVE_KEYS]
    + [("compaction_" + k, ("compaction", k)) for k in _COMPACTION_KEYS])

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

# ---------------------------------------------------------------- configuration

_DEFAULTS = {
    "time_unit": "ms",
    "maintenance": "background",
    "busy_policy": "raise",
    "min_ts": None,
    "mostly_ordered_default": True,
    "memtable_max_bytes": 0,
    "target_page_bytes": 0,
    "sealed_max_runs": 0,
    "ooo_budget_bytes": 0,
    "sealed_wait_ms": 0,
    "drain_batch_limit": 0,
    "maintenance_wakeup_ms": 0,
    "max_delta_segments": 0,
    "window_size": 0,
    "window_origin": 0,
    "delete_debt_threshold": 0.0,
    "compaction": None,
    "adaptive": None,
}

_SIZE_MAX = 2**63 - 1
_U32_MAX = 2**32 - 1
_I64_MIN = -2**63
_I64_MAX = 2**63 - 1


def _int_knob(name, value, lo, hi):
    if isinstance(value, (bool, _np.bool_)):
        raise TypeError("%s must be an int, got a bool (%r)" % (name, value))
    if not PyIndex_Check(value):
        raise TypeError("%s must be an int, got %s (%r)"
                        % (name, type(value).__name__, value))
    value = _operator.index(value)
    if value < lo:
        if lo == 0:
            raise ValueError("%s must be >= 0 (0 means the engine default), got %d"
                             % (name, value))
        raise ValueError("%s must be >= %d, got %d" % (name, lo, value))
    if value > hi:
        raise ValueError("%s must be <= %d, got %d" % (name, hi, value))
    return int(value)


def _choice_knob(name, value, choices):
    if not isinstance(value, str):
        raise TypeError("%s must be a str, one of %s; got %s (%r)"
                        % (name, ", ".join(map(repr, choices)), type(value).__name__, value))
    if value not in choices:
        raise ValueError("%s must be one of %s; got %r"
                         % (name, ", ".join(map(repr, choices)), value))
    return value


def _float_knob(name, value, lo, hi, lo_open=False, hi_open=False):
    if isinstance(value, (bool, _np.bool_)) or not isinstance(value, _numbers.Real):
        raise TypeError("%s must be a real number, got %s (%r)"
                        % (name, type(value).__name__, value))
    value = float(value)
    if not _math.isfinite(value):
        raise ValueError("%s must be a finite number, got %r" % (name, value))
    if value < lo or value > hi or (lo_open and value == lo) or (hi_open and value == hi):
        raise ValueError("%s must be in %s%r, %r%s, got %r"
                         % (name, "(" if lo_open else "[", lo, hi,
                            ")" if hi_open else "]", value))
    return value


def _check_dict_keys(name, value, keys):
    """A knob given as a dict: str keys among `keys` (TypeError/ValueError)."""
    if not isinstance(value, dict):
        raise TypeError("%s must be a dict with keys %s, got %s"
                        % (name, ", ".join(map(repr, keys)), type(value).__name__))
    for key in value:
        if not isinstance(key, str):
            raise TypeError("%s: keys must be str (one of %s), got %s (%r)"
                            % (name, ", ".join(map(repr, keys)), type(key).__name__, key))
        if key not in keys:
            raise ValueError("%s: unknown key %r (expected %s)"
                             % (name, key, ", ".join(map(repr, keys))))


def _adaptive_knob(value):
    if value is None:
        return None
    _check_dict_keys("adaptive", value, _ADAPTIVE_KEYS)
    out = {}
    for key, (kind, lo, hi, default) in _ADAPTIVE_SPEC.items():
        v = value.get(key, default)
        label = "adaptive[%r]" % (key,)
        if kind == "int":
            out[key] = _int_knob(label, v, lo, hi)
        elif key == "alpha":
            out[key] = _float_knob(label, v, lo, hi, lo_open=True)
        elif key == "failure_backoff_pct":
            out[key] = _float_knob(label, v, lo, hi, hi_open=True)
        else:
            out[key] = _float_knob(label, v, lo, hi)
    if out["min_window"] and out["max_window"] and out["min_window"] > out["max_window"]:
        raise ValueError("adaptive: min_window (%d) must not exceed max_window (%d)"
                         % (out["min_window"], out["max_window"]))
    return out


def _fold_flat(dict kw, dict base=None):
    """Rewrites the deprecated flat spellings in kw into the dict knobs.

    adaptive_alpha=0.3 becomes adaptive={"alpha": 0.3} (merged with an
    adaptive dict given in the same call, else with base's, as reopen keeps
    settings not given); each one warns. Giving one knob both ways is a
    TypeError, like a keyword given twice.
    """
    flat = [name for name in kw if name in _FLAT_KNOBS]
    for name in flat:
        group, key = _FLAT_KNOBS[name]
        # stacklevel 1: compiled frames are invisible, so the innermost
        # Python frame is the caller's (the warning names their line).
        _warnings.warn("%s=... is deprecated; pass %s={%r: ...} instead"
                       % (name, group, key), DeprecationWarning, stacklevel=1)
        given = kw.get(group)
        if group in kw and isinstance(given, dict) and key in given:
            raise TypeError("%s given twice: as %s=%r and as %s[%r]=%r; pass only %s={%r: ...}"
                            % (key, name, kw[name], group, key, given[key], group, key))
        if group in kw:
            nested = given
        else:
            nested = base.get(group) if base is not None else None
        if nested is not None and not isinstance(nested, dict):
            continue  # _normalize names the bad dict knob
        merged = dict(nested) if nested is not None else {}
        merged[key] = kw.pop(name)
        kw[group] = merged
    return kw


def _normalize(dict kw):
    """Validates every knob (naming it in the message); returns clean values."""
    out = {}
    for name, value in kw.items():
        if name not in _DEFAULTS:
            raise TypeError("unexpected keyword argument %r" % (name,))
    for name, default in _DEFAULTS.items():
        value = kw.get(name, default)
        if name == "time_unit":
            value = _choice_knob(name, value, tuple(_UNITS))
        elif name == "maintenance":
            value = _choice_knob(name, value, tuple(_MAINT))
        elif name == "busy_policy":
            value = _choice_knob(name, value, tuple(_BUSY))
        elif name == "min_ts":
            if value is not None:
                try:
                    value = int(_ts(value, _UNITS[out["time_unit"]]))
                except OverflowError:
                    raise ValueError("min_ts must be within the int64 range "
                                     "[-2**63, 2**63-1], got %r" % (value,)) from None
                except TypeError as e:
                    raise TypeError("min_ts: %s" % (e,)) from None
        elif name == "mostly_ordered_default":
            if not isinstance(value, bool):
                raise TypeError("mostly_ordered_default must be a bool, got %s (%r)"
                                % (type(value).__name__, value))
        elif name in ("sealed_wait_ms", "maintenance_wakeup_ms"):
            value = _int_knob(name, value, 0, _U32_MAX)
        elif name == "window_size":
            value = _int_knob(name, value, 0, _I64_MAX)
        elif name == "window_origin":
            value = _int_knob(name, value, _I64_MIN, _I64_MAX)
        elif name == "delete_debt_threshold":
            if isinstance(value, (bool, _np.bool_)) or not isinstance(value, _numbers.Real):
                raise TypeError("delete_debt_threshold must be a real number in "
                                "[0, 1], got %s (%r)" % (type(value).__name__, value))
            value = float(value)
            if _math.isnan(value) or not (0.0 <= value <= 1.0):
                raise ValueError("delete_debt_threshold must be in [0, 1], got %r"
                                 % (value,))
        elif name == "compaction":
            if value is not None:
                _check_dict_keys("compaction", value, _COMPACTION_KEYS)
                value = {key: _int_knob("compaction[%r]" % (key,), value.get(key, 0),
                                        0, _SIZE_MAX)
                         for key in _COMPACTION_KEYS}
        elif name == "adaptive":
            value = _adaptive_knob(value)
        else:
            value = _int_knob(name, value, 0, _SIZE_MAX)
        out[name] = value
    return out


include "_gate.pxi"
include "_fault.pxi"
include "_ingest.pxi"
include "_log.pxi"
include "_gc.pxi"
include "_fork.pxi"
include "_pickle.pxi"
include "_reads.pxi"
include "_export.pxi"
include "_pin.pxi"
include "_iter.pxi"
include "_spans.pxi"
