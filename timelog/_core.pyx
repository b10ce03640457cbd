# cython: language_level=3
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


# ---------------------------------------------------------------- fault injection
#
# Timelog(_fail_alloc=(k, every)) opens its engine on this allocator instead
# of libc's: the k-th allocation call counted from the last arming fails
# (returns NULL), and, when every > 0, each every-th call after it too. It is
# internal, for the test-suite (tests/test_fault_injection.py walks k over
# every allocation of a workload). One context per engine, owned by the
# Timelog that opened it (no global state); the counters are atomics because
# the background worker allocates too. Frees go to libc: a failed call
# allocated nothing.
cdef extern from *:
    """
    #include <stdatomic.h>
    #include <stdint.h>
    #include <stdlib.h>

    typedef struct _tlpy_fault_t {
        struct _tlpy_fault_t *next;     /* older contexts of the same Timelog */
        atomic_uint_fast64_t calls;     /* malloc_fn + realloc_fn calls so far */
        atomic_uint_fast64_t fail_at;   /* the call number that fails; 0 = disarmed */
        atomic_uint_fast64_t every;     /* then every n-th call after it; 0 = once */
        atomic_uint_fast64_t injected;  /* calls made to fail */
    } _tlpy_fault_t;

    static int _tlpy_fault_hit(_tlpy_fault_t *f) {
        uint_fast64_t c = atomic_fetch_add_explicit(&f->calls, 1, memory_order_relaxed) + 1;
        uint_fast64_t at = atomic_load_explicit(&f->fail_at, memory_order_relaxed);
        if (at == 0 || c < at) return 0;
        uint_fast64_t every = atomic_load_explicit(&f->every, memory_order_relaxed);
        if (c != at && (every == 0 || (c - at) % every != 0)) return 0;
        atomic_fetch_add_explicit(&f->injected, 1, memory_order_relaxed);
        return 1;
    }

    static void *_tlpy_fault_malloc(void *ctx, size_t n) {
        if (_tlpy_fault_hit((_tlpy_fault_t *)ctx)) return NULL;
        return malloc(n);
    }

    static void *_tlpy_fault_realloc(void *ctx, void *p, size_t old_n, size_t new_n) {
        (void)old_n;
        if (_tlpy_fault_hit((_tlpy_fault_t *)ctx)) return NULL;
        return realloc(p, new_n);
    }

    static void _tlpy_fault_free(void *ctx, void *p, size_t n) {
        (void)ctx;
        (void)n;
        free(p);
    }

    static _tlpy_fault_t *_tlpy_fault_new(_tlpy_fault_t *next) {
        _tlpy_fault_t *f = (_tlpy_fault_t *)calloc(1, sizeof *f);
        if (f == NULL) return NULL;
        f->next = next;
        atomic_init(&f->calls, 0);
        atomic_init(&f->fail_at, 0);
        atomic_init(&f->every, 0);
        atomic_init(&f->injected, 0);
        return f;
    }

    /* Arms f: the k-th call from now fails (k == 0 disarms), then every n-th. */
    static void _tlpy_fault_arm(_tlpy_fault_t *f, uint64_t k, uint64_t every) {
        atomic_store_explicit(&f->fail_at, 0, memory_order_relaxed);
        atomic_store_explicit(&f->every, every, memory_order_relaxed);
        if (k > 0) {
            uint_fast64_t now = atomic_load_explicit(&f->calls, memory_order_relaxed);
            atomic_store_explicit(&f->fail_at, now + k, memory_order_relaxed);
        }
    }

    static uint64_t _tlpy_fault_calls(_tlpy_fault_t *f) {
        return atomic_load_explicit(&f->calls, memory_order_relaxed);
    }

    static uint64_t _tlpy_fault_injected(_tlpy_fault_t *f) {
        return atomic_load_explicit(&f->injected, memory_order_relaxed);
    }

    static void _tlpy_fault_free_all(_tlpy_fault_t *f) {
        while (f != NULL) {
            _tlpy_fault_t *next = f->next;
            free(f);
            f = next;
        }
    }
    """
    void *_tlpy_fault_malloc(void *ctx, size_t n) nogil
    void *_tlpy_fault_realloc(void *ctx, void *p, size_t old_n, size_t new_n) nogil
    void _tlpy_fault_free(void *ctx, void *p, size_t n) nogil
    _tlpy_fault_t *_tlpy_fault_new(_tlpy_fault_t *next) nogil
    void _tlpy_fault_arm(_tlpy_fault_t *f, uint64_t k, uint64_t every) nogil
    uint64_t _tlpy_fault_calls(_tlpy_fault_t *f) nogil
    uint64_t _tlpy_fault_injected(_tlpy_fault_t *f) nogil
    void _tlpy_fault_free_all(_tlpy_fault_t *f) nogil


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


# ---------------------------------------------------------------- exceptions

class TimelogError(Exception):
    """Base class of timelog's own errors (engine state, closed log, engine bugs)."""


class TimelogBusyError(TimelogError):
    """Write-path backpressure. The write WAS accepted: do not retry it.

    Raised (with ``busy_policy="raise"``) when the engine has too many sealed
    memtables waiting to be flushed. Call ``flush()`` or ``maint_step()``, or
    use ``busy_policy="flush"`` / ``"silent"``.
    """


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


# ---------------------------------------------------------------- timestamps

_TS_HELP = ("timestamps are integers (int64) in the log's time_unit, or "
            "datetime.datetime / numpy.datetime64 / pandas.Timestamp values")

# Lengths of datetime64 units in attoseconds, so that every conversion between
# two fixed-length units is exact integer arithmetic (a ratio of two of these).
# "Y" and "M" are calendar units: they go through days first.
_DT64_AS = {
    "as": 1, "fs": 10**3, "ps": 10**6, "ns": 10**9, "us": 10**12, "ms": 10**15,
    "s": 10**18, "m": 60 * 10**18, "h": 3600 * 10**18, "D": 86400 * 10**18,
    "W": 7 * 86400 * 10**18,
}
_UNIT_AS = {TL_UNIT_S: 10**18, TL_UNIT_MS: 10**15, TL_UNIT_US: 10**12, TL_UNIT_NS: 10**9}
# Beyond this many years (or months) from 1970 no time_unit can hold the value,
# and the calendar conversion to days could itself overflow int64.
_CALENDAR_LIMIT = 10**15

_EPOCH_NAIVE = _dt.datetime(1970, 1, 1)
_EPOCH_UTC = _dt.datetime(1970, 1, 1, tzinfo=_dt.timezone.utc)


cdef int64_t _ts_from_int(object x) except? -1:
    cdef int overflow = 0
    cdef long long v = PyLong_AsLongLongAndOverflow(x, &overflow)
    if overflow != 0:
        raise OverflowError(
            "timestamp %d is outside the int64 range [-2**63, 2**63-1]" % x)
    return <int64_t> v


cdef int64_t _ts_converted(object v, object what, int unit) except? -1:
    """Range-checks v, a timestamp (Python int) converted from what."""
    if v < _I64_MIN or v > _I64_MAX:
        raise OverflowError(
            "%r is %d in time_unit=%r, outside the int64 range [-2**63, 2**63-1]"
            % (what, v, _UNIT_NAMES[unit]))
    return <int64_t> v


cdef int64_t _ts_datetime64(object x, int unit) except? -1:
    """numpy.datetime64 -> the log's unit, from its integer value and unit.

    Exact: v * len(src unit) // len(log unit) on Python ints (floor, so a
    finer value lands in the log-unit tick that contains it).
    """
    name, count = _np.datetime_data(x.dtype)
    if _np.isnat(x):
        raise ValueError("NaT (not-a-time) is not a timestamp")
    if name == "generic":
        raise TypeError("numpy.datetime64 without a unit is not a timestamp; "
                        "give it one, e.g. np.datetime64(v, 'ms')")
    v = int(x.astype(_np.int64))
    if name == "Y" or name == "M":
        if abs(v) * count > _CALENDAR_LIMIT:
            raise OverflowError("%r is outside the int64 range in time_unit=%r"
                                % (x, _UNIT_NAMES[unit]))
        v = int(x.astype("M8[D]").astype(_np.int64))
        name, count = "D", 1
    return _ts_converted(v * count * _DT64_AS[name] // _UNIT_AS[unit], x, unit)


cdef int64_t _ts_datetime(object x, int unit) except? -1:
    """datetime.datetime -> the log's unit; naive values are UTC.

    Exact: computed from the timedelta to the epoch (days, seconds,
    microseconds), never through a float timestamp(). Units coarser than a
    microsecond floor. A pandas.Timestamp (a datetime subclass that may carry
    nanoseconds) goes through its numpy.datetime64 value, which is UTC.
    """
    if type(x) is not _dt.datetime:
        asm8 = getattr(x, "asm8", None)
        if isinstance(asm8, _np.datetime64):
            return _ts_datetime64(asm8, unit)
    if x.utcoffset() is None:
        d = x - _EPOCH_NAIVE
    else:
        d = x - _EPOCH_UTC
    us = (d.days * 86400 + d.seconds) * 1000000 + d.microseconds
    if unit == TL_UNIT_S:
        v = us // 1000000
    elif unit == TL_UNIT_MS:
        v = us // 1000
    elif unit == TL_UNIT_US:
        v = us
    else:
        v = us * 1000
    return _ts_converted(v, x, unit)


cdef int64_t _ts_slow(object x, int unit) except? -1:
    if isinstance(x, (bool, _np.bool_)):
        raise TypeError("%s; got a bool (%r)" % (_TS_HELP, x))
    if isinstance(x, _dt.datetime):
        return _ts_datetime(x, unit)
    if isinstance(x, _np.datetime64):
        return _ts_datetime64(x, unit)
    if isinstance(x, _dt.date):
        raise TypeError("%s; got a datetime.date (%r): use a datetime.datetime, "
                        "e.g. datetime.datetime(d.year, d.month, d.day)" % (_TS_HELP, x))
    if isinstance(x, (_dt.timedelta, _np.timedelta64)):
        raise TypeError("%s; got a duration (%s, %r), not a point in time"
                        % (_TS_HELP, type(x).__name__, x))
    if PyIndex_Check(x):
        return _ts_from_int(_operator.index(x))
    raise TypeError("%s; got %s (%r)" % (_TS_HELP, type(x).__name__, x))


cdef inline int64_t _ts(object x, int unit) except? -1:
    """Converts a timestamp for a log of the given time_unit.

    The exact-int fast path comes first and does not look at the unit. Then:
    anything with __index__ (numpy integers); datetime.datetime (naive = UTC),
    pandas.Timestamp and numpy.datetime64, converted exactly into the unit.
    bool, float, str, None, date, timedelta -> TypeError; NaT -> ValueError;
    outside int64 -> OverflowError.
    """
    if type(x) is int:
        return _ts_from_int(x)
    return _ts_slow(x, unit)


# ---------------------------------------------------------------- timestamp arrays

cdef object _dt64_array_to_unit(object arr, int unit):
    """A datetime64 ndarray -> a new int64 ndarray in the log's unit (exact)."""
    name, count = _np.datetime_data(arr.dtype)
    if not arr.dtype.isnative:
        arr = arr.astype(arr.dtype.newbyteorder("="))
    v = arr.view(_np.int64)
    if v.size == 0:
        return _np.empty(0, dtype=_np.int64)
    nat = _np.flatnonzero(v == _I64_MIN)
    if nat.size:
        raise ValueError("bulk_append(): timestamps[%d] is NaT (not-a-time), which is "
                         "not a timestamp; nothing was stored" % (nat[0],))
    if name == "generic":
        raise TypeError("bulk_append(): datetime64 timestamps need a unit (got %s)"
                        % (arr.dtype,))
    if name == "Y" or name == "M":
        if max(abs(int(v.min())), abs(int(v.max()))) * count > _CALENDAR_LIMIT:
            raise OverflowError("bulk_append(): %s timestamps outside the int64 range "
                                "in time_unit=%r" % (arr.dtype, _UNIT_NAMES[unit]))
        v = arr.astype("M8[D]").view(_np.int64)
        name, count = "D", 1
    num = count * _DT64_AS[name]
    den = _UNIT_AS[unit]
    g = _math.gcd(num, den)
    num //= g
    den //= g
    if den == 1:
        # Coarser source unit: multiply, after checking the result fits.
        lo, hi = int(v.min()), int(v.max())
        if lo * num < _I64_MIN or hi * num > _I64_MAX:
            bad = lo if lo * num < _I64_MIN else hi
            raise OverflowError(
                "bulk_append(): %s value %d is %d in time_unit=%r, outside the int64 "
                "range [-2**63, 2**63-1]; nothing was stored"
                % (arr.dtype, bad, bad * num, _UNIT_NAMES[unit]))
        return v * _np.int64(num) if num != 1 else v
    if num == 1:
        # Finer source unit: floor division cannot overflow.
        return _np.floor_divide(v, _np.int64(den))
    # A unit with a multiplier that neither divides nor is divided by the log's
    # unit (e.g. datetime64[7ms] into seconds): rare, so exact Python ints.
    out = [x * num // den for x in v.tolist()]
    for x in out:
        if x < _I64_MIN or x > _I64_MAX:
            raise OverflowError("bulk_append(): %s value converts to %d in "
                                "time_unit=%r, outside the int64 range"
                                % (arr.dtype, x, _UNIT_NAMES[unit]))
    return _np.array(out, dtype=_np.int64)


cdef object _as_int64_timestamps(object x, int unit):
    """Any 1-D buffer of timestamps -> an object exposing a native int64 buffer.

    Returns x itself (no copy) when it already is one. Lossless integer
    dtypes are converted, datetime64 goes through the log's unit, and every
    other dtype raises TypeError naming it.
    """
    if isinstance(x, _np.ndarray):
        arr = x
    elif PyObject_CheckBuffer(x):
        # Through memoryview so that only the buffer protocol decides the
        # dtype (np.asarray(b"...") would make a 0-d bytes array instead).
        arr = _np.asarray(memoryview(x))     # a view of the buffer, not a copy
    elif hasattr(type(x), "__array__"):
        arr = _np.asarray(x)     # pandas Series / DatetimeIndex and the like
    else:
        raise TypeError("bulk_append(): timestamps must be a 1-D buffer of int64 "
                        "(a NumPy array, array('q'), memoryview, or an object with "
                        "__array__), got %s; use extend() for other iterables"
                        % (type(x).__name__,))
    if arr.ndim != 1:
        raise ValueError("bulk_append(): timestamps must be 1-D, got %d dimensions"
                         % (arr.ndim,))
    dt = arr.dtype
    kind = dt.kind
    if kind == "i":
        if dt.itemsize == 8 and dt.isnative:
            return arr
        return arr.astype(_np.int64)
    if kind == "u":
        if dt.itemsize < 8:
            return arr.astype(_np.int64)
        if arr.size and int(arr.max()) > _I64_MAX:
            raise TypeError("bulk_append(): timestamps of dtype %s hold values above "
                            "2**63-1 (max %d), which int64 cannot represent; "
                            "nothing was stored" % (dt, int(arr.max())))
        return arr.astype(_np.int64)
    if kind == "M":
        return _dt64_array_to_unit(arr, unit)
    raise TypeError("bulk_append(): timestamps of dtype %s cannot be converted to int64 "
                    "without loss; pass integers or datetime64 (nothing was stored)"
                    % (dt,))


cdef int64_t _wall_clock(int unit) noexcept:
    cdef int64_t sec = 0
    cdef int32_t nsec = 0
    tl_wall_clock(&sec, &nsec)  # cannot fail on a system clock after 1970
    if unit == TL_UNIT_S:
        return sec
    if unit == TL_UNIT_MS:
        return sec * 1000 + nsec // 1000000
    if unit == TL_UNIT_US:
        return sec * 1000000 + nsec // 1000
    return sec * 1000000000 + nsec


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
cdef extern from *:
    """
    #include <stdatomic.h>
    #include <stdint.h>
    #include <stdlib.h>
    #include "tl_sync.h"

    typedef struct _tlpy_turn_t {
        tl_mutex_t mu;
        tl_cond_t cv;
        uint64_t next;              /* tickets handed out (under mu) */
        uint64_t serving;           /* the ticket that holds the turn (under mu) */
        atomic_ulong owner;         /* thread ident holding the turn, 0 if none */
        atomic_uint_fast64_t queued;/* next - serving: holder + waiters */
    } _tlpy_turn_t;

    static int _tlpy_turn_init(_tlpy_turn_t *t) {
        t->next = t->serving = 0;
        atomic_init(&t->owner, 0);
        atomic_init(&t->queued, 0);
        if (!tl_mutex_init(&t->mu)) return 0;
        if (!tl_cond_init(&t->cv)) {
            tl_mutex_destroy(&t->mu);
            return 0;
        }
        return 1;
    }

    static void _tlpy_turn_destroy(_tlpy_turn_t *t) {
        tl_cond_destroy(&t->cv);
        tl_mutex_destroy(&t->mu);
    }

    /* Called without the GIL: blocks until this caller's ticket is served. */
    static void _tlpy_turn_take(_tlpy_turn_t *t, unsigned long me) {
        tl_mutex_lock(&t->mu);
        uint64_t mine = t->next++;
        atomic_store(&t->queued, t->next - t->serving);
        /* The timeout only bounds one wait; the loop re-checks the ticket. */
        while (t->serving != mine) tl_cond_wait_ms(&t->cv, &t->mu, 1000);
        atomic_store(&t->owner, me);
        tl_mutex_unlock(&t->mu);
    }

    /* Serves the next ticket; broadcast: the waiter holding it proceeds. */
    static void _tlpy_turn_give(_tlpy_turn_t *t) {
        tl_mutex_lock(&t->mu);
        atomic_store(&t->owner, 0);
        t->serving++;
        atomic_store(&t->queued, t->next - t->serving);
        tl_cond_broadcast(&t->cv);
        tl_mutex_unlock(&t->mu);
    }

    static unsigned long _tlpy_turn_owner(_tlpy_turn_t *t) { return atomic_load(&t->owner); }
    static int _tlpy_turn_busy(_tlpy_turn_t *t) { return atomic_load(&t->queued) != 0; }
    """
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


# ---------------------------------------------------------------- Timelog

# bulk_append()'s objects when not a list or tuple: a list of them, made once
# before anything is stored. An object array (a pandas object Series gives
# its own through __array__, without a copy) is read through the array, as
# tolist() keeps object identity there; other sequences by iteration (a
# Series' [i] is by label, not position). Things with no stable order or no
# length are refused rather than consumed.
def _bulk_objects(objects):
    if isinstance(objects, (str, bytes, bytearray, memoryview)):
        raise TypeError("bulk_append(): objects must be a sequence of objects, not %s "
                        "(that would store one character or byte each): pass a list"
                        % (type(objects).__name__,))
    kind = type(objects)
    sized = hasattr(kind, "__len__") and hasattr(kind, "__getitem__")
    if sized and isinstance(objects, _np.ndarray):
        sized = objects.ndim > 0         # a 0-d array has __len__ but no length
    if (not sized or hasattr(kind, "__next__")
            or isinstance(objects, (set, frozenset, dict, _abc.Mapping, _abc.Set))):
        raise TypeError("bulk_append(): objects must be a sequence with a length "
                        "(list, tuple, object array, range, Series), got %s: pass "
                        "a list, e.g. list(objects)" % (kind.__name__,))
    dt = getattr(objects, "dtype", None)
    if isinstance(dt, _np.dtype) and dt.kind == "O" and getattr(objects, "ndim", 0) == 1:
        arr = _np.asarray(objects)
        if arr.dtype.kind == "O" and arr.ndim == 1:
            return arr.tolist()
    return list(objects)


# no_gc_clear: the cycle collector breaks a cycle through a log by closing it
# (_Timelog_tp_clear below), which keeps its settings, so a finalizer that
# still reaches the log finds a plain closed log. Its own fields (settings,
# ints) never take part in a cycle.
@cython.no_gc_clear

cdef class Timelog:
    """An in-memory, time-indexed multimap: int64 timestamp -> Python objects.

    Records are ``(ts, obj)`` pairs; duplicate timestamps are kept, stored
    objects keep their identity, every range is half-open ``[t1, t2)`` and
    reads see a snapshot taken when they start.

    All arguments are keyword-only; a numeric knob of 0 means "engine
    default". Unknown or invalid values raise ``TypeError``/``ValueError``
    naming the parameter.

    Timestamps are ints in ``time_unit`` ("s", "ms", "us" or "ns" since the
    Unix epoch). Wherever a timestamp is taken (writes, deletes, slices,
    queries, ``count``/``arrays``/``histogram`` bounds, ``min_ts``), a
    ``datetime.datetime``, a ``numpy.datetime64`` or a ``pandas.Timestamp``
    is accepted too and converted into this log's unit with exact integer
    arithmetic (never through a float): naive datetimes are UTC, aware ones
    use their offset, and a value finer than the unit is floored to the tick
    that contains it. A ``datetime.date`` or a duration (``timedelta``,
    ``timedelta64``) raises TypeError, NaT raises ValueError, and a value
    outside int64 in this unit raises OverflowError.

    ``_fail_alloc`` is internal, not part of the API: fault injection for
    the test-suite (``tests/test_fault_injection.py``), which opens the
    engine on a counting allocator whose k-th allocation call fails (see
    ``_arm_alloc_failure``). It is not a setting: not echoed by ``stats()``,
    not pickled, not kept by ``reopen()``.

    >>> from timelog import Timelog
    >>> log = Timelog(maintenance="disabled")
    >>> log[10] = "a"
    >>> log.append(20, "b")
    >>> list(log[0:20])
    [(10, 'a')]
    >>> log.close()

    >>> import datetime, numpy as np
    >>> log = Timelog(time_unit="s", maintenance="disabled")
    >>> log[datetime.datetime(2024, 1, 1)] = "new year"        # naive = UTC
    >>> log.min_ts()
    1704067200
    >>> log[np.datetime64("2024-01-01T00:00:00.750")]          # floored to 1 s ticks
    ['new year']
    >>> log.close()
    """

    def __cinit__(self, *args, **kwargs):
        # A subclass may take any constructor arguments: none used here.
        self._log = NULL
        self._gatep = NULL
        gate = _Gate()
        _incref(<PyObject *> gate)
        self._gatep = <PyObject *> gate

    def __init__(self, *, time_unit="ms", maintenance="background",
                 busy_policy="raise", min_ts=None, mostly_ordered_default=True,
                 memtable_max_bytes=0, target_page_bytes=0, sealed_max_runs=0,
                 ooo_budget_bytes=0, sealed_wait_ms=0, drain_batch_limit=0,
                 maintenance_wakeup_ms=0, max_delta_segments=0, window_size=0,
                 window_origin=0, delete_debt_threshold=0.0, compaction=None,
                 adaptive=None, _fail_alloc=None, **deprecated):
        if self._log is not NULL:
            raise TimelogError("Timelog.__init__ called on an open log; "
                               "close() it and use reopen(...) instead")
        for name in deprecated:
            if name not in _FLAT_KNOBS:
                raise TypeError("Timelog() got an unexpected keyword argument %r" % (name,))
        settings = _normalize(_fold_flat(dict(
            deprecated, time_unit=time_unit, maintenance=maintenance, busy_policy=busy_policy,
            min_ts=min_ts, mostly_ordered_default=mostly_ordered_default,
            memtable_max_bytes=memtable_max_bytes, target_page_bytes=target_page_bytes,
            sealed_max_runs=sealed_max_runs, ooo_budget_bytes=ooo_budget_bytes,
            sealed_wait_ms=sealed_wait_ms, drain_batch_limit=drain_batch_limit,
            maintenance_wakeup_ms=maintenance_wakeup_ms,
            max_delta_segments=max_delta_segments, window_size=window_size,
            window_origin=window_origin, delete_debt_threshold=delete_debt_threshold,
            compaction=compaction, adaptive=adaptive)))
        self._open(settings, _fault_spec(_fail_alloc))

    cdef int _open(self, dict settings, object fail_alloc) except -1:
        cdef tl_config_t cfg
        cdef const char *why = NULL
        cdef tl_log_t *log = NULL
        cdef tl_status_t st
        cdef _tlpy_fault_t *fault = NULL
        tl_config_init(&cfg)
        cfg.time_unit = <tl_time_unit_t> <int> _UNITS[settings["time_unit"]]
        cfg.maintenance = <tl_maintenance_t> <int> _MAINT[settings["maintenance"]]
        cfg.memtable_max_bytes = settings["memtable_max_bytes"]
        cfg.target_page_bytes = settings["target_page_bytes"]
        cfg.sealed_max_runs = settings["sealed_max_runs"]
        cfg.ooo_budget_bytes = settings["ooo_budget_bytes"]
        cfg.sealed_wait_ms = settings["sealed_wait_ms"]
        cfg.maintenance_wakeup_ms = settings["maintenance_wakeup_ms"]
        cfg.drain_batch_limit = settings["drain_batch_limit"]
        cfg.max_delta_segments = settings["max_delta_segments"]
        cfg.window_size = settings["window_size"]
        cfg.window_origin = settings["window_origin"]
        cfg.delete_debt_threshold = settings["delete_debt_threshold"]
        comp = settings["compaction"]
        if comp is not None:
            cfg.compaction_target_bytes = comp["target_bytes"]
            cfg.compaction_max_inputs = comp["max_inputs"]
            cfg.compaction_max_windows = comp["max_windows"]
        ada = settings["adaptive"]
        if ada is not None:
            cfg.adaptive.target_records = ada["target_records"]
            cfg.adaptive.min_window = ada["min_window"]
            cfg.adaptive.max_window = ada["max_window"]
            cfg.adaptive.hysteresis_pct = ada["hysteresis_pct"]
            cfg.adaptive.window_quantum = ada["window_quantum"]
            cfg.adaptive.alpha = ada["alpha"]
            cfg.adaptive.warmup_flushes = ada["warmup_flushes"]
            cfg.adaptive.stale_flushes = ada["stale_flushes"]
            cfg.adaptive.failure_backoff_threshold = ada["failure_backoff_threshold"]
            cfg.adaptive.failure_backoff_pct = ada["failure_backoff_pct"]
        # _on_drop needs the GIL, which every caller of the draining calls holds
        # (see the module docstring); the engine type says nogil only because
        # its header cannot know that.
        cfg.on_drop = <tl_on_drop_fn> <void *> _on_drop
        cfg.on_drop_ctx = NULL

        st = tl_config_check(&cfg, &why)
        if st == TL_EINVAL:
            raise ValueError("invalid configuration: %s" % (
                why.decode("utf-8", "replace") if why is not NULL else "rejected by the engine"))
        _check(st)
        if fail_alloc is not None:
            # The context must outlive the engine, whose teardown may be
            # deferred to the last snapshot's release: it is kept on a list
            # freed only by __dealloc__, which runs after every pin holder
            # (they all reference this object) is gone.
            fault = _tlpy_fault_new(self._faults)
            if fault is NULL:
                raise MemoryError()
            self._faults = fault
            cfg.alloc.ctx = fault
            cfg.alloc.malloc_fn = _tlpy_fault_malloc
            cfg.alloc.realloc_fn = _tlpy_fault_realloc
            cfg.alloc.free_fn = _tlpy_fault_free
            _tlpy_fault_arm(fault, fail_alloc[0], fail_alloc[1])
        st = tl_open(&cfg, &log)
        _check(st)
        if settings["min_ts"] is not None:
            st = tl_delete_before(log, <int64_t> settings["min_ts"])
            if st != TL_OK and st != TL_EBUSY:
                tl_close(log)
                _check(st)
        if self._log is not NULL:
            # The Python code above (or the cycle collector it triggered) ran
            # a finalizer, or another thread ran, that reopened this log
            # first: keep that engine; overwriting it would leak it forever.
            tl_close(log)
            raise TimelogError("reopen(): the log was reopened meanwhile (by a "
                               "finalizer or another thread); it is open")

        self._log = log
        self._g().opened(log)
        self._fault = fault
        self._cfg = cfg
        self._settings = settings
        self._busy_policy = _BUSY[settings["busy_policy"]]
        self._busy_events = 0
        self._extend_skipped = 0
        self._min_ts = settings["min_ts"]
        self._has_min_ts = self._min_ts is not None
        self._min_ts_c = self._min_ts if self._has_min_ts else 0
        self._mostly_ordered_default = settings["mostly_ordered_default"]
        self._unit = cfg.time_unit
        # Every open engine is prepared for os.fork() (see _fork_before).
        _live_logs.add(self)
        return 0

    def __dealloc__(self):
        # C-only backstop: tl_close may run on_drop, which only Py_DECREFs
        # (the GIL is held here). Nothing can be in flight: every call that
        # brackets an engine holds a reference to self. Every snapshot pin
        # holds one too, so each engine is torn down here or before, and the
        # fault allocators (if any) are no longer used by anyone.
        self._unpin_reads()
        self._log = NULL
        if self._gatep is not NULL:
            (<_Gate> self._gatep).close_all()
            _decref(self._gatep)
            self._gatep = NULL
        _tlpy_fault_free_all(self._faults)
        self._faults = NULL
        self._fault = NULL

    # ------------------------------------------------------------ presets

    @classmethod
    def for_streaming(cls, **overrides):
        """Preset: background maintenance, ``busy_policy="flush"``.

        Keyword arguments override the preset.

        >>> log = Timelog.for_streaming(time_unit="us")
        >>> log.busy_policy, log.maintenance_mode, log.time_unit
        ('flush', 'background', 'us')
        >>> log.close()
        """
        kw = {"maintenance": "background", "busy_policy": "flush"}
        kw.update(overrides)
        return cls(**kw)

    @classmethod
    def for_bulk_ingest(cls, **overrides):
        """Preset: maintenance disabled, ``busy_policy="flush"``, 16 MiB memtable.

        Suited to loading a large batch then querying; call ``compact()`` when
        loading is done. Keyword arguments override the preset.
        """
        kw = {"maintenance": "disabled", "busy_policy": "flush",
              "memtable_max_bytes": 16 * 1024 * 1024}
        kw.update(overrides)
        return cls(**kw)

    @classmethod
    def for_low_latency(cls, **overrides):
        """Preset: background maintenance, ``busy_policy="raise"``, 256 KiB memtable,
        ``sealed_wait_ms=0`` (never wait on backpressure). Overrides allowed."""
        kw = {"maintenance": "background", "busy_policy": "raise",
              "memtable_max_bytes": 256 * 1024, "sealed_wait_ms": 0}
        kw.update(overrides)
        return cls(**kw)

    def reopen(self, **overrides):
        """Opens a fresh, empty engine on a closed log; returns ``self``.

        Settings not given keep their previous values; ``busy_events`` and
        ``extend_skipped`` restart at 0. Raises TimelogError if the log is
        open (close it first: ``close()`` discards all data).

        A ``min_ts`` guard kept across a ``time_unit`` change is a point in
        time, so it is converted exactly into the new unit (a guard of
        2024-01-01 stays 2024-01-01). When it has no exact value in the new
        unit (a coarser unit and a guard that is not a whole number of it,
        or a finer unit that overflows int64) reopen refuses with a
        ValueError and the log stays closed with its settings unchanged:
        rounding would either admit records older than the guard or reject
        ones it admits, so pass ``min_ts`` explicitly with the new unit.
        Other integer settings (``window_size``, ``window_origin``) are
        layout knobs and keep their numbers.

        >>> log = Timelog(maintenance="disabled")
        >>> log.close()
        >>> log.reopen(time_unit="ns").time_unit
        'ns'
        >>> log.close()
        """
        if self._log is not NULL:
            raise TimelogError("reopen()/configure() need a closed log; call close() first")
        for name in overrides:
            if name not in _DEFAULTS and name not in _FLAT_KNOBS:
                raise TypeError("reopen() got an unexpected keyword argument %r" % (name,))
        base = dict(self._settings) if self._settings is not None else dict(_DEFAULTS)
        overrides = _fold_flat(dict(overrides), base)
        base.update(overrides)
        if (self._settings is not None and "min_ts" not in overrides
                and self._settings["min_ts"] is not None
                and overrides.get("time_unit", self._settings["time_unit"]) in _UNITS):
            base["min_ts"] = _point_to_unit(self._settings["min_ts"],
                                            self._settings["time_unit"],
                                            overrides.get("time_unit", self._settings["time_unit"]))
        self._open(_normalize(base), None)
        return self

    def configure(self, **overrides):
        """Alias of :meth:`reopen`: a fresh engine with changed settings."""
        return self.reopen(**overrides)

    # ------------------------------------------------------------ internals

    cdef int _require_open(self) except -1:
        if self._log is NULL:
            raise TimelogError(_CLOSED_MSG)
        return 0

    # Re-entrancy, close() and threads: the _Gate protocol (above). A
    # stored object's __del__ runs inside tl_drain_retired (through on_drop)
    # and may call anything on this log, close() included; another thread
    # may call close() while this one is in the engine with the GIL released.
    # So such calls bracket the engine they captured (_gate.enter/leave),
    # and writer calls that release the GIL hold the writer turn meanwhile.

    cdef _Gate _g(self):
        # A raw reference (see _gatep in _core.pxd): the cycle collector's
        # clear never takes it, so a finalizer run by a collection that
        # cleared this object still finds its gate.
        return <_Gate> self._gatep

    cdef tl_log_t *_wbegin(self) except NULL:
        """Starts a writer call that releases the GIL: takes the writer turn
        (waiting, GIL released, behind the calls queued before it) and
        brackets the engine; returns it, or raises if closed. _wend(log)."""
        cdef tl_log_t *log
        self._g().wacquire()
        # After the wait: a read meanwhile may have pinned again.
        self._unpin_reads()
        log = self._log
        if log is NULL:
            self._g().wrelease()
            raise TimelogError(_CLOSED_MSG)
        self._g().enter(log)
        return log

    cdef int _wend(self, tl_log_t *log) except -1:
        self._g().wrelease()
        # May tear the engine down (close() was called meanwhile): Python
        # code runs, after the turn is given back.
        self._g().leave(log)
        return 0

    cdef int _drain(self) except -1:
        """Releases the objects the engine retired (runs on_drop: Python code)."""
        cdef size_t n = 0
        cdef tl_status_t st = TL_OK
        cdef tl_log_t *log = self._log
        if log is NULL or tl_retired_len(log) == 0:
            return 0
        self._g().enter(log)
        try:
            st = tl_drain_retired(log, 0, &n)
        finally:
            self._g().leave(log)
        return _check(st)

    cdef int _after_write(self, tl_status_t st) except -1:
        """Drains retired handles, then applies the busy policy to TL_EBUSY.

        Called only with TL_OK or TL_EBUSY: the write is stored either way.
        """
        cdef tl_status_t fst = TL_OK
        cdef int steps
        cdef tl_log_t *log
        self._drain()
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
            log = self._wbegin()
            try:
                with nogil:
                    fst = tl_flush(log)
                    steps = 0
                    while fst == TL_OK and steps < 64:
                        fst = tl_maint_step(log)
                        steps += 1
            finally:
                self._wend(log)
            self._drain()
            if fst != TL_OK and fst != TL_EBUSY and fst != TL_EOF:
                # The write IS stored: say so (busy), never MemoryError,
                # which promises that nothing was.
                try:
                    _check(fst)
                except Exception as e:
                    raise TimelogBusyError(
                        "%s (busy_policy='flush' could not flush: %s)" % (_BUSY_MSG, e)) from e
        return 0

    cdef int _maint(self, int op, tl_status_t *out) except -1:
        """flush / compact / maint_step / stop_maintenance with the GIL
        released, then the drain of what it retired; *out gets the status."""
        cdef tl_status_t st
        cdef tl_log_t *log = self._wbegin()
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
            self._wend(log)
        self._drain()
        return 0

    cdef int _guard(self, int64_t ts) except -1:
        if self._has_min_ts and ts < self._min_ts_c:
            raise ValueError("timestamp %d is below this log's min_ts guard (%d); "
                             "nothing was stored" % (ts, self._min_ts_c))
        return 0

    cdef bint _append_queue(self) except -1:
        """Before an append that keeps the GIL (no Python code runs from its
        check to the end of its engine call): when another thread holds or
        awaits the writer turn, waits for it (FIFO, GIL released) and returns
        True; the caller gives it back (_gate.wrelease()) after the engine
        call, before draining. False when the turn is free or this thread's."""
        if not self._g().busy() or self._g().mine():
            return False
        self._g().wacquire()
        self._unpin_reads()
        return True

    cdef int _append_one(self, int64_t ts, object obj) except -1:
        cdef tl_status_t st
        cdef PyObject *p = <PyObject *> obj
        cdef tl_log_t *log
        cdef bint queued = False
        if self._cfg.sealed_wait_ms > 0:
            # This append may wait up to sealed_wait_ms for the worker under
            # backpressure (tl_append -> seal -> wait): never with the GIL
            # held, or every other Python thread stalls with it. Logs that
            # cannot wait (the default, 0) keep the GIL-held fast path.
            log = self._wbegin()
            try:
                if self._has_min_ts:
                    self._guard(ts)
                _incref(p)
                with nogil:
                    st = tl_append(log, ts, <tl_handle_t> <size_t> p)
            finally:
                self._wend(log)
            if st != TL_OK and st != TL_EBUSY:
                _decref(p)
                return _check(st)
            return self._after_write(st)
        if self._rsnap is not NULL:
            self._unpin_reads()
        if self._g().busy():
            queued = self._append_queue()
        try:
            if self._log is NULL:
                raise TimelogError(_CLOSED_MSG)
            if self._has_min_ts:
                self._guard(ts)
            _incref(p)
            st = tl_append(self._log, ts, <tl_handle_t> <size_t> p)
        finally:
            if queued:
                self._g().wrelease()
        if st != TL_OK and st != TL_EBUSY:
            _decref(p)
            return _check(st)
        if st == TL_OK and tl_retired_len(self._log) == 0:
            return 0
        return self._after_write(st)

    cdef int _extend_direct(self, object items, object tss, object objs, Py_ssize_t n,
                            tl_ts_t *tsa, tl_handle_t *ha, Py_ssize_t *pi,
                            size_t *pk) except -1:
        """extend()'s fast path: while the input is exact (int, obj) tuples
        (or exact ints beside the objects), the records go straight into an
        engine batch, with no Python code running; all of them: stored here,
        returns 1. Otherwise returns 0 with nothing stored, the records taken
        so far (their references included) moved to tsa/ha, *pk of them, and
        *pi the first item the general path must look at.
        """
        cdef tl_log_t *log
        cdef tl_batch_t *batch = NULL
        cdef tl_ts_t *bts = NULL
        cdef tl_handle_t *bh = NULL
        cdef size_t k = 0
        cdef Py_ssize_t i = 0
        cdef tl_status_t st = TL_OK
        cdef bint stored = False
        log = self._wbegin()
        try:
            # _wbegin may have waited for another thread's writer with the
            # GIL released: the lists may have changed size meanwhile.
            if items is not None:
                if _seq_size(items) != n:
                    return 0
            elif _seq_size(tss) != n or _seq_size(objs) != n:
                return 0
            _check(tl_batch_open(log, <size_t> n, &batch, &bts, &bh))
            if items is not None:
                i = _pairs_fast(items, 0, n, bts, bh, &k, self._has_min_ts, self._min_ts_c)
            else:
                i = _columns_fast(tss, objs, 0, n, bts, bh, &k, self._has_min_ts,
                                  self._min_ts_c)
            if i < n:
                # Hand what was taken to the general path (references too).
                memcpy(tsa, bts, k * sizeof(tl_ts_t))
                memcpy(ha, bh, k * sizeof(tl_handle_t))
                pi[0] = i
                pk[0] = k
                tl_batch_abandon(log, batch)
                batch = NULL
                return 0
            with nogil:
                st = tl_batch_commit(log, batch, <size_t> n)
            if st == TL_OK or st == TL_EBUSY:
                batch = NULL   # stored: the references are the engine's
                stored = True
        finally:
            if batch is not NULL:
                # Nothing stored: give back the references taken (a failed
                # commit still holds all n, possibly reordered).
                _decref_handles(bh, k)
                tl_batch_abandon(log, batch)
            self._wend(log)
        if not stored:
            _check(st)
        self._after_write(st)
        return 1

    cdef int _append_batch(self, tl_ts_t *ts, tl_handle_t *h, size_t n) except -1:
        """Stores n records whose handles were already increfed, in one call.

        On failure (nothing stored) the references are given back here.
        """
        cdef tl_status_t st
        if n == 0:
            return 0
        cdef tl_log_t *log
        try:
            log = self._wbegin()
        except BaseException:
            _decref_handles(h, n)
            raise
        try:
            with nogil:
                st = tl_append_batch(log, ts, h, n)
        finally:
            self._wend(log)
        if st != TL_OK and st != TL_EBUSY:
            _decref_handles(h, n)
            return _check(st)
        return self._after_write(st)

    # ------------------------------------------------------------ read pins
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

    cdef tl_snapshot_t *_read_snap(self) except NULL:
        """The current read pin, borrowed: valid while the GIL is held and
        no Python code runs (a writer may drop it). Raises if closed."""
        cdef tl_snapshot_t *s = self._rsnap
        if s is not NULL:
            if tl_snapshot_current(self._log, s):
                return s
            self._unpin_reads()
            # Releasing it may let the engine give back objects only it kept.
            self._drain()
            # The drain ran finalizers: one that read this log took a read
            # pin of its own. Drop it (no drain: no Python code may run from
            # here to the return), or the assignment below would leak it.
            self._unpin_reads()
        self._require_open()
        _check(tl_snapshot_acquire(self._log, &s))
        self._rsnap = s
        return s

    cdef tl_snapshot_t *_read_pin(self) except NULL:
        """A pin of the current state owned by the caller (tl_snapshot_release
        it): the read pin plus one reference, for reads that release the GIL
        or outlive the call."""
        cdef tl_snapshot_t *s = self._read_snap()
        tl_snapshot_retain(s)
        return s

    cdef void _unpin_reads(self) noexcept:
        # The log is open whenever _rsnap is set (close() unpins first), so
        # this release never tears the engine down nor runs on_drop; what it
        # makes releasable is drained by the caller (every write drains).
        cdef tl_snapshot_t *s = self._rsnap
        if s is not NULL:
            self._rsnap = NULL
            tl_snapshot_release(s)

    cdef _Snapshot _snapshot(self):
        cdef _Snapshot snap
        cdef tl_status_t st
        snap = _Snapshot.__new__(_Snapshot)
        # After the allocation, which may run finalizers that close the log.
        snap._snap = self._read_pin()
        snap._owner = self
        return snap

    cdef TimelogIter _iter(self, int kind, int64_t t1, int64_t t2):
        # The engine iterator takes its own pin on the read pin, so no Python
        # snapshot object is made (view() makes one lazily). The iterator is
        # created first: that may run the cycle collector, which must find
        # no half-made engine state.
        cdef TimelogIter it = TimelogIter.__new__(TimelogIter)
        cdef tl_snapshot_t *snap
        cdef tl_status_t st
        # Borrowed: nothing runs Python code before the engine iterator
        # takes its own pin on it.
        snap = self._read_snap()
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

    # ------------------------------------------------------------ writes

    # The hottest call: a plain method descriptor (binding=False) is called
    # straight through vectorcall, without a bound-method object (~4 ns of
    # ~35 per call). Its signature is written by hand, with timelog-lib's
    # parameter names (code passes them as keywords); it shows
    # obj_or_none=None as the reference does, though an explicit None is a
    # stored object and only an absent argument means "no object" (the
    # sentinel cannot be spelled in a signature). Keywords cost nothing on
    # the positional path: Cython parses them only when some are passed.
    @cython.binding(False)
    @cython.embedsignature(False)
    def append(self, obj_or_ts, obj_or_none=_MISSING, *, ts=_MISSING):
        """append($self, /, obj_or_ts, obj_or_none=None, *, ts=None)
--

Stores one record. Amortized O(1).

        - ``append(obj)``: timestamp = the wall clock in ``time_unit`` (read in C;
          ``ts=None`` means the same);
        - ``append(obj, ts=t)``;
        - ``append(t, obj)``: two arguments are ``(ts, obj)``; a ``ts=``
          keyword given with them is ignored, not even validated (as in
          timelog-lib: ``append(5, "x", ts=9)`` stores at 5).

        The parameters are named ``obj_or_ts`` and ``obj_or_none`` (as in
        timelog-lib), and may be passed as keywords:
        ``append(obj_or_ts=5, obj_or_none="x")`` is ``append(5, "x")``.

        The object itself is stored (identity preserved). ``t`` is an int in
        ``time_unit``, or a datetime / numpy.datetime64 / pandas.Timestamp
        converted exactly into it (naive datetimes are UTC; see the class
        docstring). Raises TimelogBusyError (with ``busy_policy="raise"``)
        when the engine is under backpressure: the record WAS stored, do not
        retry.

        >>> log = Timelog(maintenance="disabled")
        >>> log.append(5, "x"); log.append("y", ts=5)
        >>> log[5]
        ['x', 'y']
        >>> import datetime
        >>> utc = datetime.timezone.utc
        >>> log.append(datetime.datetime(1970, 1, 1, 0, 0, 1, 500, tzinfo=utc), "z")
        >>> log.max_ts()   # 1.0005 s in a "ms" log
        1000
        >>> log.close()
        """
        cdef tl_status_t st
        cdef tl_ts_t now = 0
        cdef PyObject *p
        cdef tl_log_t *log
        cdef bint queued
        if obj_or_none is _MISSING:
            if ts is _MISSING or ts is None:
                self._unpin_reads()
                if self._cfg.sealed_wait_ms > 0:
                    # May wait on backpressure: not with the GIL (see
                    # _append_one), so it holds the writer turn meanwhile.
                    log = self._wbegin()
                    try:
                        if self._has_min_ts:
                            self._guard(_wall_clock(self._unit))
                        p = <PyObject *> obj_or_ts
                        _incref(p)
                        with nogil:
                            st = tl_append_now(log, <tl_handle_t> <size_t> p, &now)
                    finally:
                        self._wend(log)
                    if st != TL_OK and st != TL_EBUSY:
                        _decref(p)
                        _check(st)
                        return
                    self._after_write(st)
                    return
                queued = self._append_queue()
                try:
                    if self._log is NULL:
                        raise TimelogError(_CLOSED_MSG)
                    if self._has_min_ts:
                        self._guard(_wall_clock(self._unit))
                    p = <PyObject *> obj_or_ts
                    _incref(p)
                    st = tl_append_now(self._log, <tl_handle_t> <size_t> p, &now)
                finally:
                    if queued:
                        self._g().wrelease()
                if st != TL_OK and st != TL_EBUSY:
                    _decref(p)
                    _check(st)
                    return
                if st == TL_OK and tl_retired_len(self._log) == 0:
                    return
                self._after_write(st)
                return
            self._require_open()
            self._append_one(_ts(ts, self._unit), obj_or_ts)
            return
        # Closed before the timestamp's own errors; inline, not through
        # _require_open (a vtable call: ~1-2 ns on this path).
        if self._log is NULL:
            raise TimelogError(_CLOSED_MSG)
        # Two arguments: (ts, obj); a ts= keyword is ignored (timelog-lib's rule).
        self._append_one(_ts(obj_or_ts, self._unit), obj_or_none)

    def __setitem__(self, key, value):
        """``log[ts] = obj`` appends a record (it never replaces: multimap)."""
        self._require_open()
        if type(key) is slice:
            raise TypeError("slice assignment is not supported; use extend()")
        self._append_one(_ts(key, self._unit), value)

    # Bounds-checked: the loop below indexes the caller's own lists while
    # running the caller's code (__index__, datetime conversion), which may
    # shrink them: that must be an IndexError, never a read past the end.
    @cython.boundscheck(True)
    def extend(self, ts_or_iterable, objects=None, *, mostly_ordered=None,
               insert_on_error=True):
        """Stores many records with ONE engine call: all of them, or none.

        - ``extend(pairs)``: an iterable of ``(ts, obj)`` pairs;
        - ``extend(timestamps, objects)``: two iterables of the same length.

        An item that is not a pair, or two iterables of different lengths,
        raise ValueError and store nothing. A timestamp below ``min_ts``
        raises ValueError and stores nothing. With ``insert_on_error=True``
        (the default) records whose timestamp is invalid (TypeError or
        OverflowError from a bool/float/str/None or an out-of-range int) are
        skipped, counted in ``extend_skipped``, and a RuntimeWarning says how
        many (issued before anything is stored: where warnings are errors,
        e.g. ``python -W error``, the warning raises and nothing is stored);
        with ``insert_on_error=False`` the first invalid timestamp
        raises and nothing is stored. A NaT is an invalid timestamp too
        (skipped, or ValueError when strict). Timestamps may be datetimes,
        numpy.datetime64 or a datetime64 array, converted by ``time_unit``.
        ``mostly_ordered`` is a hint only (the engine detects sorted input
        itself); None means the log's ``mostly_ordered_default``, and results
        never depend on it.
        O(n) for sorted input, O(n log n) otherwise.

        >>> log = Timelog(maintenance="disabled")
        >>> log.extend([(3, "c"), (1, "a")])
        >>> log.extend([2, 4], ["b", "d"])
        >>> [obj for _, obj in log]
        ['a', 'b', 'c', 'd']
        >>> log.close()
        """
        cdef Py_ssize_t n, i
        cdef size_t k = 0
        cdef uint64_t skipped = 0
        cdef tl_ts_t *tsa = NULL
        cdef tl_handle_t *ha = NULL
        cdef int64_t t
        cdef PyObject *p
        cdef bint skip_bad
        cdef tl_status_t st
        cdef tl_log_t *log
        a = ts_or_iterable
        b = _MISSING if objects is None else objects
        self._require_open()
        if mostly_ordered is not None and not isinstance(mostly_ordered, bool):
            raise TypeError("mostly_ordered must be None or a bool, got %s"
                            % (type(mostly_ordered).__name__,))
        if not isinstance(insert_on_error, bool):
            raise TypeError("insert_on_error must be a bool, got %s"
                            % (type(insert_on_error).__name__,))
        skip_bad = insert_on_error

        if b is _MISSING:
            items = a if (type(a) is list or type(a) is tuple) else list(a)
            tss = None
            objs = None
        else:
            if isinstance(a, _np.ndarray):
                # tolist() would turn datetime64[ns] into ints in the array's
                # own unit: keep datetime64 scalars, converted one by one.
                a = list(a) if a.dtype.kind == "M" else a.tolist()
            tss = a if (type(a) is list or type(a) is tuple) else list(a)
            objs = b if (type(b) is list or type(b) is tuple) else list(b)
            if len(tss) != len(objs):
                raise ValueError("extend(timestamps, objects): length mismatch "
                                 "(%d timestamps, %d objects); nothing was stored"
                                 % (len(tss), len(objs)))
            items = None
        n = len(items) if items is not None else len(tss)
        if n == 0:
            return
        tsa = <tl_ts_t *> PyMem_Malloc(n * sizeof(tl_ts_t))
        ha = <tl_handle_t *> PyMem_Malloc(n * sizeof(tl_handle_t))
        try:
            if tsa is NULL or ha is NULL:
                raise MemoryError()
            i = 0
            if self._extend_direct(items, tss, objs, n, tsa, ha, &i, &k):
                PyMem_Free(tsa)
                PyMem_Free(ha)
                return
            while i < n:
                if items is not None:
                    i = _pairs_fast(items, i, n, tsa, ha, &k, self._has_min_ts,
                                    self._min_ts_c)
                else:
                    i = _columns_fast(tss, objs, i, n, tsa, ha, &k, self._has_min_ts,
                                      self._min_ts_c)
                if i >= n:
                    break
                if items is not None:
                    item = items[i]
                    if type(item) is tuple or type(item) is list:
                        if len(item) != 2:
                            raise ValueError(
                                "extend(): item %d has length %d, expected a "
                                "(ts, obj) pair; nothing was stored" % (i, len(item)))
                        tobj = item[0]
                        obj = item[1]
                    else:
                        tobj, obj = _pair(item, i)
                else:
                    tobj = tss[i]
                    obj = objs[i]
                i += 1
                try:
                    t = _ts(tobj, self._unit)
                except (TypeError, OverflowError, ValueError):
                    if not skip_bad:
                        raise
                    skipped += 1
                    continue
                if self._has_min_ts:
                    self._guard(t)
                p = <PyObject *> obj
                _incref(p)
                tsa[k] = t
                ha[k] = <tl_handle_t> <size_t> p
                k += 1
        except BaseException:
            _decref_handles(ha, k)
            PyMem_Free(tsa)
            PyMem_Free(ha)
            raise
        # The loop ran the items' own code (__index__, __len__, ...), which
        # may have closed the log: _wbegin() checks. The skip warning goes
        # out before anything is stored: when warnings are errors (-W error,
        # or a filter) it raises here and the whole batch is dropped, so the
        # call is all-or-nothing and a retry cannot duplicate records.
        try:
            if skipped:
                _warnings.warn(
                    "extend() skipped %d record(s) with invalid timestamps (%s); "
                    "pass insert_on_error=False to raise instead, or validate the "
                    "timestamps first" % (skipped, _TS_HELP),
                    # stacklevel=1: a compiled method has no frame of its
                    # own, so level 1 is already the caller's line.
                    RuntimeWarning, stacklevel=1)
            log = self._wbegin()
        except BaseException:
            _decref_handles(ha, k)
            PyMem_Free(tsa)
            PyMem_Free(ha)
            raise
        try:
            with nogil:
                st = tl_append_batch(log, tsa, ha, k) if k > 0 else TL_OK
        finally:
            PyMem_Free(tsa)
            tsa = NULL
            self._wend(log)
        if st != TL_OK and st != TL_EBUSY:
            _decref_handles(ha, k)
            PyMem_Free(ha)
            _check(st)
            return
        PyMem_Free(ha)
        if skipped:
            self._extend_skipped += skipped
        self._after_write(st)

    def bulk_append(self, timestamps, objects, *, mostly_ordered=None):
        """Stores ``len(objects)`` records from a timestamp buffer, in ONE engine call.

        ``timestamps`` is any 1-D buffer: a NumPy array of any stride
        (``arr[::2]``, ``arr[::-1]``, a column of a 2-D array), an
        ``array('q')``, a memoryview, or an object NumPy converts through
        ``__array__`` (a pandas Series or naive DatetimeIndex; a tz-aware
        one becomes an object array: ``tz_convert(None)`` it first). int64
        is read in place (a strided buffer is first gathered into a
        contiguous one, with the GIL released); other dtypes are converted
        when that is lossless and rejected with a TypeError naming the dtype
        otherwise:

        - int8/16/32 and uint8/16/32: always converted;
        - uint64: converted when every value is <= 2**63-1;
        - datetime64 of any unit: converted exactly into ``time_unit``
          (``datetime64[s]`` into a "ms" log is multiplied by 1000; a finer
          unit is floored), OverflowError when a value does not fit int64,
          ValueError for NaT;
        - float, bool, object, timedelta64, strings: TypeError.

        ``objects`` is a sequence with a length, as long as ``timestamps``
        (ValueError otherwise): a list or tuple (read in place), an object
        ndarray or object-dtype pandas Series (their objects, read through
        the array), or any other sequence such as a ``range``, a numeric
        array or Series (the items its iteration yields). Generators,
        iterators, sets, mappings and str/bytes raise TypeError: pass a list.
        The objects themselves are stored: the only per-record Python work
        is one reference count each. The engine call runs with the
        GIL released; already sorted input takes the in-order path and
        unsorted input is sorted in C. All records are stored or none (an
        error, including a timestamp below ``min_ts``, stores nothing;
        TimelogBusyError means all were stored). O(n) for sorted input,
        O(n log n) otherwise. ``mostly_ordered`` (None or a bool) is a hint
        accepted for compatibility, as in :meth:`extend`; it never changes
        the result.

        >>> import numpy as np
        >>> log = Timelog(maintenance="disabled")
        >>> log.bulk_append(np.array([2, 1, 3]), ["b", "a", "c"])
        >>> len(log), log.min_ts(), log.max_ts()
        (3, 1, 3)
        >>> log.bulk_append(np.array(["1970-01-01T00:00:01"], dtype="datetime64[s]"), ["d"])
        >>> log.max_ts()   # 1 s in this "ms" log
        1000
        >>> log.bulk_append(np.array([1.5]), ["e"])
        Traceback (most recent call last):
            ...
        TypeError: bulk_append(): timestamps of dtype float64 cannot be converted to int64 ...
        >>> log.close()
        """
        cdef const int64_t[:] mv
        cdef Py_ssize_t n, i, bad = -1
        cdef Py_ssize_t stride
        cdef const char *base
        cdef bint is_list
        cdef Py_ssize_t n_obj
        cdef PyObject *p
        cdef int64_t lo
        cdef tl_log_t *log
        cdef tl_batch_t *batch = NULL
        cdef int64_t bad_ts = 0
        cdef tl_ts_t *bts = NULL
        cdef tl_handle_t *bh = NULL
        cdef tl_status_t st = TL_OK
        self._require_open()
        if mostly_ordered is not None and not isinstance(mostly_ordered, bool):
            raise TypeError("mostly_ordered must be None or a bool, got %s"
                            % (type(mostly_ordered).__name__,))
        if not isinstance(objects, (list, tuple)):
            objects = _bulk_objects(objects)
        is_list = isinstance(objects, list)
        mv = _as_int64_timestamps(timestamps, self._unit)
        n = mv.shape[0]
        # The true size (a list subclass's __len__ may say anything), read
        # with the GIL held from here to the loop taking the references, so
        # no other thread can resize the list in between.
        n_obj = PyList_GET_SIZE(objects) if is_list else PyTuple_GET_SIZE(objects)
        if n_obj != n:
            raise ValueError("bulk_append(): length mismatch (%d timestamps, %d "
                             "objects); nothing was stored" % (n, n_obj))
        if n == 0:
            return
        # The records are written straight into an engine block (one copy of
        # the timestamps, none of the handles; a sorted batch that becomes a
        # memrun is never copied again). From the size check below to the
        # commit no Python code runs: the list cannot change under the loop
        # taking references.
        log = self._wbegin()
        try:
            # Waiting for another thread's writer call (_own) releases the
            # GIL: the list may have changed size meanwhile.
            n_obj = PyList_GET_SIZE(objects) if is_list else PyTuple_GET_SIZE(objects)
            if n_obj != n:
                raise ValueError("bulk_append(): the objects list changed size while "
                                 "waiting for another writer; nothing was stored")
            _check(tl_batch_open(log, <size_t> n, &batch, &bts, &bh))
            if is_list:
                for i in range(n):
                    p = PyList_GET_ITEM(objects, i)
                    _incref(p)
                    bh[i] = <tl_handle_t> <size_t> p
            else:
                for i in range(n):
                    p = PyTuple_GET_ITEM(objects, i)
                    _incref(p)
                    bh[i] = <tl_handle_t> <size_t> p
            stride = mv.strides[0]
            base = <const char *> &mv[0]
            with nogil:
                if stride == sizeof(tl_ts_t):
                    memcpy(bts, base, <size_t> n * sizeof(tl_ts_t))
                else:
                    for i in range(n):
                        bts[i] = (<const tl_ts_t *> (base + i * stride))[0]
                if self._has_min_ts:
                    lo = self._min_ts_c
                    for i in range(n):
                        if bts[i] < lo:
                            bad = i
                            bad_ts = bts[i]
                            break
            if bad < 0:
                with nogil:
                    st = tl_batch_commit(log, batch, <size_t> n)
                if st == TL_OK or st == TL_EBUSY:
                    batch = NULL   # stored: the references are the engine's
        finally:
            if batch is not NULL:
                # Nothing stored: give the references back (read from the
                # batch itself, never from the list another thread may have
                # changed meanwhile), then free it.
                _decref_handles(bh, <size_t> n)
                tl_batch_abandon(log, batch)
            self._wend(log)
        if bad >= 0:
            self._guard(bad_ts)
        if st != TL_OK and st != TL_EBUSY:
            _check(st)
        self._after_write(st)

    # ------------------------------------------------------------ deletes

    cdef int _delete(self, int kind, int64_t t1, int64_t t2) except -1:
        cdef tl_status_t st
        cdef tl_log_t *log = self._wbegin()
        # The GIL stays held: a delete touches no record, only one or two
        # paths of the tombstone tree (~0.1-0.7 us), less than releasing and
        # re-taking the GIL would cost.
        try:
            if kind == _K_RANGE:
                st = tl_delete_range(log, t1, t2)
            elif kind == _K_SINCE:
                st = tl_delete_since(log, t1)
            elif kind == _K_UNTIL:
                st = tl_delete_before(log, t2)
            elif kind == _K_POINT:
                st = tl_delete_ts(log, t1)
            else:
                st = tl_delete_all(log)
        finally:
            self._wend(log)
        if st != TL_OK and st != TL_EBUSY:
            return _check(st)
        return self._after_write(st)

    def delete(self, t1, t2=_MISSING):
        """Deletes ``[t1, t2)`` (two arguments) or every record at ``t1`` (one).

        A delete hides every record written before it; records written later
        are visible. ``t1 >= t2`` deletes nothing. ``None`` as a bound of the
        two-argument form means "open": ``delete(None, t2)`` = ``cutoff(t2)``,
        ``delete(t1, None)`` reaches ``2**63-1`` inclusive. No record is
        touched: the cost is O(log T) in the tombstone set's T intervals
        (one or two root-to-leaf paths of its tree are updated).

        >>> log = Timelog(maintenance="disabled")
        >>> log.extend([(1, "a"), (2, "b"), (3, "c")])
        >>> log.delete(2); log.delete(3, 10)
        >>> list(log)
        [(1, 'a')]
        >>> log.close()
        """
        cdef int64_t a = 0, b = 0
        cdef int kind
        self._require_open()
        if t2 is _MISSING:
            self._delete(_K_POINT, _ts(t1, self._unit), 0)
            return
        kind = _range_kind(t1, t2, self._unit, &a, &b)
        self._delete(kind, a, b)

    def cutoff(self, ts):
        """Deletes every record with timestamp ``< ts`` (retention). O(log T).

        >>> log = Timelog(maintenance="disabled")
        >>> log.extend([(1, "old"), (5, "new")])
        >>> log.cutoff(5)
        >>> list(log)
        [(5, 'new')]
        >>> log.close()
        """
        self._require_open()
        self._delete(_K_UNTIL, 0, _ts(ts, self._unit))

    def delete_range(self, t1, t2):
        """Deletes ``[t1, t2)``; the reference design's name for ``delete(t1, t2)``.

        ``None`` is an open bound, as in :meth:`delete`."""
        self._require_open()
        self.delete(t1, t2)

    def delete_before(self, ts):
        """Deletes every record ``< ts``; the reference design's name for ``cutoff(ts)``."""
        self._require_open()
        self._delete(_K_UNTIL, 0, _ts(ts, self._unit))

    def __delitem__(self, key):
        """``del log[ts]``, ``del log[t1:t2]``; None bounds are open.

        ``del log[:t2]`` = ``cutoff(t2)``, ``del log[t1:]`` reaches
        ``2**63-1`` inclusive, ``del log[:]`` deletes everything.
        """
        cdef int64_t a = 0, b = 0
        cdef int kind
        self._require_open()
        if type(key) is slice:
            _check_step(key)
            kind = _range_kind((<slice> key).start, (<slice> key).stop, self._unit, &a, &b)
            self._delete(kind, a, b)
            return
        self._delete(_K_POINT, _ts(key, self._unit), 0)

    # ------------------------------------------------------------ reads

    def __getitem__(self, key):
        """``log[t1:t2]`` (None bounds open) -> TimelogIter; ``log[ts]`` -> list.

        >>> log = Timelog(maintenance="disabled")
        >>> log.extend([(1, "a"), (1, "b"), (5, "c")])
        >>> log[1], list(log[2:]), list(log[:2])
        (['a', 'b'], [(5, 'c')], [(1, 'a'), (1, 'b')])
        >>> log.close()
        """
        cdef int64_t a = 0, b = 0
        cdef int kind
        self._require_open()
        if type(key) is slice:
            _check_step(key)
            kind = _range_kind((<slice> key).start, (<slice> key).stop, self._unit, &a, &b)
            return self._iter(kind, a, b)
        return self._at(_ts(key, self._unit))

    def at(self, ts):
        """The list of objects stored at exactly ``ts`` (empty if none). O(log n + k).

        >>> log = Timelog(maintenance="disabled")
        >>> log[7] = "x"
        >>> log.at(7), log.at(8)
        (['x'], [])
        >>> log.close()
        """
        self._require_open()
        return self._at(_ts(ts, self._unit))

    cdef list _at(self, int64_t t):
        # tl_point_in reads the kept read pin without allocating. The
        # handles are INCREFed in plain C straight after the read, before
        # anything that can run Python code (creating the list may run the
        # cycle collector, whose finalizers may delete, flush and drain), so
        # no drain can release a returned handle in between.
        cdef tl_handle_t hb[64]
        cdef tl_handle_t *buf = hb
        cdef size_t cap = 64, n = 0, i
        self._require_open()
        try:
            while True:
                _check(tl_point_in(self._read_snap(), t, buf, cap, &n))
                if n <= cap:
                    for i in range(n):
                        _incref(<PyObject *> <size_t> buf[i])
                    return _list_stealing(buf, n)
                # More duplicates than fit: read again into a big enough buffer.
                if buf is not hb:
                    PyMem_Free(buf)
                cap = n
                buf = <tl_handle_t *> PyMem_Malloc(cap * sizeof(tl_handle_t))
                if buf is NULL:
                    raise MemoryError()
        finally:
            if buf is not hb:
                PyMem_Free(buf)

    def range(self, t1, t2):
        """Iterator over ``[t1, t2)`` in timestamp order; ``t1 >= t2`` is empty.

        ``None`` is an open bound, as in ``log[t1:t2]``: ``range(None, t2)``
        is :meth:`until`, ``range(t1, None)`` is :meth:`since` (inclusive of
        ``2**63-1``). Snapshot-consistent: later writes are not seen.
        O(log n + k).
        """
        cdef int64_t a = 0, b = 0
        cdef int kind
        self._require_open()
        kind = _range_kind(t1, t2, self._unit, &a, &b)
        return self._iter(kind, a, b)

    def since(self, t1):
        """Iterator over ``[t1, 2**63-1]`` (inclusive of the int64 maximum)."""
        self._require_open()
        return self._iter(_K_SINCE, _ts(t1, self._unit), 0)

    def until(self, t2):
        """Iterator over ``[-2**63, t2)``."""
        self._require_open()
        return self._iter(_K_UNTIL, 0, _ts(t2, self._unit))

    def all(self):
        """Iterator over every record, in timestamp order."""
        return self._iter(_K_ALL, 0, 0)

    def point(self, ts):
        """Iterator over the records at exactly ``ts``."""
        self._require_open()
        return self._iter(_K_POINT, _ts(ts, self._unit), 0)

    def equal(self, ts):
        """Alias of :meth:`point`."""
        self._require_open()
        return self._iter(_K_POINT, _ts(ts, self._unit), 0)

    def __iter__(self):
        return self._iter(_K_ALL, 0, 0)

    # __len__ + __getitem__ would make reversed() treat the log as a
    # sequence and index it 0..len-1 (point lookups: a list of empty lists).
    def __reversed__(self):
        """Not supported: the read path runs forward only (TypeError)."""
        raise TypeError("reversed(log) is not supported: reads run forward only; "
                        "walk backwards with log.prev_ts(ts), or reverse a "
                        "bounded window: list(log[t1:t2])[::-1]")

    def __contains__(self, ts):
        """``ts in log``: whether any visible record has timestamp ``ts``."""
        cdef int64_t t
        cdef tl_snapshot_t *snap = NULL
        cdef tl_iter_t *it = NULL
        cdef tl_status_t st
        cdef tl_ts_t rts
        cdef tl_handle_t rh
        self._require_open()
        t = _ts(ts, self._unit)
        snap = self._read_pin()
        try:
            _check(tl_iter_point(snap, t, &it))
            st = tl_iter_next(it, &rts, &rh)
            _check(st)
            return st == TL_OK
        finally:
            tl_iter_close(it)
            tl_snapshot_release(snap)

    def __len__(self):
        """Exact number of visible records (tombstone-aware, never an estimate)."""
        cdef uint64_t n = 0
        cdef tl_snapshot_t *snap = NULL
        cdef tl_status_t st
        self._require_open()
        snap = self._read_pin()
        with nogil:
            st = tl_count_all(snap, &n)
        tl_snapshot_release(snap)
        _check(st)
        return n

    def count(self, t1=None, t2=None):
        """Exact number of visible records in ``[t1, t2)``, without a scan.

        None bounds are open: ``t1=None`` starts at ``-2**63``, ``t2=None``
        reaches ``2**63-1`` inclusive (so ``count()`` equals ``len(log)``).
        Tombstone-aware and never an estimate: binary searches per source,
        O(sources * (1 + tombstones in range) * log n), with the GIL released.
        Bounds may be datetimes (see :meth:`append`).

        >>> log = Timelog(maintenance="disabled")
        >>> log.extend([(1, "a"), (2, "b"), (2, "c"), (9, "d")])
        >>> del log[9]
        >>> log.count(), log.count(2), log.count(None, 2), log.count(2, 3)
        (3, 2, 1, 2)
        >>> log.close()
        """
        cdef uint64_t n = 0
        cdef tl_snapshot_t *snap = NULL
        cdef tl_status_t st
        cdef int64_t a = 0, b = 0
        cdef int kind
        self._require_open()
        kind = _range_kind(t1, t2, self._unit, &a, &b)
        snap = self._read_pin()
        with nogil:
            st = _count_kind(snap, kind, a, b, &n)
        tl_snapshot_release(snap)
        _check(st)
        return n

    # ------------------------------------------------------------ array-native reads

    def arrays(self, t1=None, t2=None):
        """``(timestamps, objects)`` of ``[t1, t2)``: an int64 ndarray and a list.

        The same records, in the same order, as ``list(log[t1:t2])``
        (timestamp order, tombstone-filtered, one snapshot), built in C: the
        exact count sizes the array, the engine fills its buffer with the GIL
        released, and the list costs one reference count per object. None
        bounds are open (``t2=None`` reaches ``2**63-1`` inclusive); bounds
        may be datetimes. O(log n + k).

        >>> log = Timelog(maintenance="disabled")
        >>> log.extend([(3, "c"), (1, "a"), (2, "b")])
        >>> ts, objs = log.arrays(2)
        >>> ts, objs
        (array([2, 3]), ['b', 'c'])
        >>> log.close()
        """
        cdef int64_t a = 0, b = 0
        cdef int kind
        self._require_open()
        kind = _range_kind(t1, t2, self._unit, &a, &b)
        return _read_range(self, kind, a, b, True)

    def to_numpy(self, t1=None, t2=None, *, dtype=None):
        """``(timestamps, values)`` of ``[t1, t2)``: two fresh contiguous 1-D arrays.

        ``timestamps`` is int64; ``values`` holds every record's object
        converted to ``dtype`` (float64 unless given: any scalar integer or
        float NumPy dtype, keyword-only; anything else is TypeError). The
        conversion is NumPy's: ``True``/``False`` -> 1/0, ``None`` -> NaN
        under float dtypes and TypeError under integer ones, strings are
        parsed, ints beyond 2**53 round under float64 (``dtype=np.int64``
        keeps them exact). Duplicate timestamps are all exported, in
        iteration order. A payload that cannot be converted raises its own
        exception (type unchanged) with the failing row and timestamp added
        as a PEP 678 note; nothing stored changes.

        Bounds are ``log[t1:t2]``'s: None is an open end (only ``t2=None``
        reaches a record at ``2**63-1``), reversed bounds give empty arrays,
        datetimes are accepted. One snapshot, read in chunks of 32768
        records: the engine fills each chunk with the GIL released (so other
        threads run during a long export) and the pin is released on every
        path, errors included. O(log n + k).

        >>> import numpy as np
        >>> log = Timelog(maintenance="disabled")
        >>> log.extend([(1, 0.5), (2, True), (2, None), (5, 7)])
        >>> ts, vals = log.to_numpy()
        >>> ts, vals
        (array([1, 2, 2, 5]), array([0.5, 1. , nan, 7. ]))
        >>> log.to_numpy(5, dtype=np.int64)
        (array([5]), array([7]))
        >>> log.close()
        """
        cdef int64_t a = 0, b = 0
        cdef int kind
        self._require_open()
        dt, mode = _export_dtype(dtype)
        kind = _range_kind(t1, t2, self._unit, &a, &b)
        return _export_numpy(self, kind, a, b, dt, mode)

    def to_dict(self, t1=None, t2=None):
        """``{ts: obj}`` of ``[t1, t2)``; a duplicate timestamp keeps its last record.

        "Last" is iteration order, as in ``list(log[t1:t2])``: records at one
        timestamp come in a deterministic but unspecified order (late writes
        and compaction may reorder them), so use :meth:`at` when several
        records share a timestamp and one of them must win. The objects are
        the stored ones (not copies); no NumPy object is made. Bounds and
        snapshot behaviour are those of :meth:`to_numpy`. O(log n + k).

        >>> log = Timelog(maintenance="disabled")
        >>> log.extend([(1, "a"), (3, "b"), (9, "c")])
        >>> log.to_dict(), log.to_dict(2, 9)
        ({1: 'a', 3: 'b', 9: 'c'}, {3: 'b'})
        >>> log.close()
        """
        cdef int64_t a = 0, b = 0
        cdef int kind
        self._require_open()
        kind = _range_kind(t1, t2, self._unit, &a, &b)
        return _export_dict(self, kind, a, b)

    def timestamps(self, t1=None, t2=None):
        """The timestamps of ``[t1, t2)`` as an int64 ndarray (no objects touched).

        Like ``arrays(t1, t2)[0]``, but the engine never reads the payloads.
        None bounds are open; bounds may be datetimes. O(log n + k), filled
        with the GIL released.

        >>> log = Timelog(maintenance="disabled")
        >>> log.extend([(5, "x"), (1, "y"), (5, "z")])
        >>> log.timestamps()
        array([1, 5, 5])
        >>> log.close()
        """
        cdef int64_t a = 0, b = 0
        cdef int kind
        self._require_open()
        kind = _range_kind(t1, t2, self._unit, &a, &b)
        return _read_range(self, kind, a, b, False)[0]

    def histogram(self, t1=None, t2=None, bins=10, *, step=None):
        """``(counts, edges)``: visible records per bucket over ``[t1, t2)``.

        Like ``numpy.histogram(log.timestamps(), bins, range=...)`` but with
        integer, half-open buckets: ``counts[i]`` is the exact number of
        visible records in ``[edges[i], edges[i+1])``. ``edges`` (int64,
        length ``bins + 1``) split ``[t1, t2)`` as evenly as integers allow:
        ``edges[i] = t1 + floor(i * (t2 - t1) / bins)``, so bucket widths
        differ by at most 1 (and some are empty when ``bins > t2 - t1``).

        ``t1=None`` means the smallest visible timestamp; ``t2=None`` means
        the largest one, inclusive (``t2 = max_ts() + 1``; when that
        would be ``2**63``, the last edge is ``2**63-1`` and the last bucket
        is closed). On an empty log a None bound takes the other bound's
        value (0 when both are None). ``t1 >= t2`` is an empty range: every
        edge is ``t1`` and every count 0. ``bins`` is a positive int.

        ``step=`` (keyword) asks for fixed-width buckets instead, those of
        :meth:`counts`: ``edges = [t1, t1 + step, ...]``, the last one
        clipped at ``t2``. ``step`` takes every form :meth:`counts` takes
        (an int in ``time_unit``, a ``timedelta``, a ``timedelta64``, a
        fixed frequency string); a duration passed as ``bins`` is read as
        ``step`` (``histogram(t1, t2, "1min")``). Give bins or step, not both.

        Each bucket costs binary searches per source, not a scan:
        O(bins * sources * log n), with the GIL released.

        >>> log = Timelog(maintenance="disabled")
        >>> log.extend((t, None) for t in [0, 1, 2, 2, 5, 9])
        >>> counts, edges = log.histogram(0, 10, bins=3)
        >>> counts, edges
        (array([4, 1, 1]), array([ 0,  3,  6, 10]))
        >>> log.histogram(bins=2)   # [min_ts, max_ts] = [0, 9]
        (array([4, 2]), array([ 0,  5, 10]))
        >>> log.histogram(0, 10, step=4)
        (array([4, 1, 1]), array([ 0,  4,  8, 10]))
        >>> log.close()
        """
        self._require_open()
        if step is not None or _is_duration(bins):
            return _histogram_step(self, t1, t2, bins, step)
        return _bucket_counts(self, t1, t2, bins, False)

    def counts(self, t1, t2, step):
        """Visible records per fixed-width bucket, as an int64 ndarray.

        ``out[i]`` counts ``[t1 + i*step, t1 + (i+1)*step)``; the last bucket
        is clipped at ``t2``, so there are ``ceil((t2 - t1) / step)``
        buckets (none when ``t1 >= t2``). None bounds mean the smallest /
        largest visible timestamp (the largest inclusive), as in
        :meth:`histogram`. ``step`` is a positive int in ``time_unit``, or a
        duration converted exactly into it: a ``datetime.timedelta`` (a
        ``pandas.Timedelta`` too), a ``numpy.timedelta64`` of any fixed unit,
        or a fixed-frequency pandas offset string (``"1min"``, ``"250ms"``,
        ``"2h"``, ``"1D"``, ``"1h30min"``; units ns, us, ms, s, min/T, h/H,
        D). A duration that is not a whole number of ``time_unit`` ticks is
        a ValueError naming both units, as is a calendar offset such as
        ``"1M"``, ``"1Y"`` or ``"W-MON"`` (not a fixed length); a bool is a
        TypeError, a step <= 0 a ValueError.
        O(buckets * sources * log n), with the GIL released; exact and
        tombstone-aware.

        >>> log = Timelog(maintenance="disabled")
        >>> log.extend((t, None) for t in [0, 1, 2, 2, 5, 9])
        >>> log.counts(0, 10, 4)   # [0, 4), [4, 8), [8, 10)
        array([4, 1, 1])
        >>> log.counts(0, 10, "4ms")   # the same, time_unit="ms"
        array([4, 1, 1])
        >>> log.close()
        """
        self._require_open()
        step = _step_to_units(step, self._unit, "counts(): step")
        return _bucket_counts(self, t1, t2, step, True)[0]

    def windows(self, t1, t2, every):
        """Tumbling windows over ``[t1, t2)``: yields ``(window_start, TimelogIter)``.

        The windows are the buckets of ``counts(t1, t2, every)``, aligned on
        ``t1``: ``[t1 + i*every, t1 + (i+1)*every)``, the last one clipped at
        ``t2``; ``window_start`` is an int in ``time_unit``. Bounds are
        ``log[t1:t2]``'s (ints or datetimes); None means the smallest /
        largest visible timestamp (the largest inclusive), as in
        :meth:`counts`. ``every`` takes every step form :meth:`counts`
        takes. Empty windows are yielded too (with an empty iterator), so
        the i-th window is always the i-th bucket; there are none when the
        range is empty.

        All windows read ONE snapshot, taken by this call: writes and
        deletes made while you iterate are seen by none of them, and the
        windows together are exactly ``log[t1:t2]`` at the call. The window
        iterator holds that snapshot until it is exhausted or closed
        (``close()``, ``with``); each window's iterator pins it on its own.
        O(log n) per window to open, O(1) per record.

        >>> log = Timelog(maintenance="disabled")
        >>> log.extend((t, str(t)) for t in [0, 1, 2, 5, 9])
        >>> [(start, list(w)) for start, w in log.windows(0, 10, 4)]
        [(0, [(0, '0'), (1, '1'), (2, '2')]), (4, [(5, '5')]), (8, [(9, '9')])]
        >>> log.close()
        """
        return _windows(self, t1, t2, every)

    cdef object _neighbour(self, int which, int64_t t):
        cdef tl_snapshot_t *snap = NULL
        cdef tl_status_t st
        cdef tl_ts_t out = 0
        self._require_open()
        snap = self._read_pin()
        with nogil:
            if which == 0:
                st = tl_min_ts(snap, &out)
            elif which == 1:
                st = tl_max_ts(snap, &out)
            elif which == 2:
                st = tl_next_ts(snap, t, &out)
            else:
                st = tl_prev_ts(snap, t, &out)
        tl_snapshot_release(snap)
        if st == TL_EOF:
            return None
        _check(st)
        return out

    def min_ts(self):
        """Smallest visible timestamp, or None when empty."""
        return self._neighbour(0, 0)

    def max_ts(self):
        """Largest visible timestamp, or None when empty."""
        return self._neighbour(1, 0)

    def next_ts(self, ts):
        """Smallest visible timestamp ``> ts``, or None."""
        self._require_open()
        return self._neighbour(2, _ts(ts, self._unit))

    def prev_ts(self, ts):
        """Largest visible timestamp ``< ts``, or None."""
        self._require_open()
        return self._neighbour(3, _ts(ts, self._unit))

    # ------------------------------------------------------------ zero-copy views

    def views(self, t1=None, t2=None, *, kind="segment"):
        """Zero-copy page spans over ``[t1, t2)`` (None bounds open).

        Yields :class:`PageSpan` objects whose ``timestamps`` are read-only
        NumPy arrays over the engine's own page memory. Only flushed data
        (memruns and segments) appears: records still in the memtable are
        not exposed, so call ``flush()`` first. Records hidden by deletes are
        cut out of the spans. Spans pin their snapshot until released.
        ``kind`` must be ``"segment"`` (the only kind; accepted for
        compatibility with code written for the reference design).

        >>> log = Timelog(maintenance="disabled")
        >>> log.extend([(1, "a"), (2, "b"), (3, "c")]); log.flush()
        >>> [span.timestamps.tolist() for span in log.views(2)]
        [[2, 3]]
        >>> log.close()
        """
        cdef _Snapshot snap
        self._require_open()
        if kind != "segment":
            raise ValueError("views(): kind must be 'segment', got %r" % (kind,))
        snap = self._snapshot()
        if t1 is None and t2 is None:
            return _make_span_iter(snap, _K_ALL, 0, 0)
        if t1 is None:
            return _make_span_iter(snap, _K_RANGE, TL_TS_MIN, _ts(t2, self._unit))
        if t2 is None:
            return _make_span_iter(snap, _K_SINCE, _ts(t1, self._unit), 0)
        return _make_span_iter(snap, _K_RANGE, _ts(t1, self._unit), _ts(t2, self._unit))

    def page_spans(self, t1=None, t2=None, *, kind="segment"):
        """Alias of :meth:`views`."""
        self._require_open()
        return self.views(t1, t2, kind=kind)

    # ------------------------------------------------------------ maintenance

    def flush(self):
        """Seals the memtable and turns every memrun into an L0 segment.

        Publishes pending writes to zero-copy ``views()``; not durability.
        """
        cdef tl_status_t st = TL_OK
        self._maint(_M_FLUSH, &st)
        if st != TL_EBUSY:
            _check(st)

    def compact(self):
        """Full compaction into windowed L1 segments, dropping deleted records.

        Their objects are released (``flush()`` + ``compact()`` leaves no
        deleted record's object referenced by the engine).
        """
        cdef tl_status_t st = TL_OK
        self._maint(_M_COMPACT, &st)
        if st != TL_EBUSY:
            _check(st)

    def maint_step(self):
        """One unit of policy maintenance; True if work was done."""
        cdef tl_status_t st = TL_OK
        self._maint(_M_STEP, &st)
        _check(st)
        return st == TL_OK

    def start_maintenance(self):
        """Start the background maintenance worker (no-op if it runs).

        Works on a log opened with ``maintenance="disabled"`` too: from then
        on the worker flushes and compacts by policy.
        """
        cdef tl_status_t st
        self._g().wacquire()
        try:
            self._require_open()
            st = tl_maint_start(self._log)
        finally:
            self._g().wrelease()
        _check(st)

    def stop_maintenance(self):
        """Stop the background worker after its current unit of work.

        Nothing is lost. While stopped, writes report backpressure past the
        bounds as with ``maintenance="disabled"``; call ``flush()``/``compact()``
        or ``start_maintenance()``.
        """
        cdef tl_status_t st = TL_OK
        self._maint(_M_STOP, &st)
        _check(st)

    @property
    def maintenance_running(self):
        """True while the background maintenance worker thread runs.

        In a child made by ``os.fork()`` it is False until the child's first
        write that needs maintenance starts a new worker (the parent's thread
        is not copied by a fork).
        """
        return self._log is not NULL and tl_maint_running(self._log) != 0

    # ------------------------------------------------------------ introspection

    def stats(self):
        """A dict of counters, by section (see the module docs)."""
        cdef tl_stats_t s
        cdef tl_status_t st
        cdef tl_log_t *log = self._log
        cdef bint kept
        if log is NULL:
            raise TimelogError(_CLOSED_MSG)
        if self._rsnap is not NULL and not tl_snapshot_current(log, self._rsnap):
            # A superseded state would count in the memory figures: let it go.
            self._unpin_reads()
            self._drain()
            log = self._log
            if log is NULL:
                raise TimelogError(_CLOSED_MSG)
        self._g().enter(log)
        try:
            with nogil:
                st = tl_stats(log, &s)
        finally:
            self._g().leave(log)
        _check(st)
        # The kept read pin is the log's own: not counted unless someone
        # else (an iterator, an array) pins the same state too.
        kept = (self._rsnap is not NULL and s.snapshots > 0
                and tl_snapshot_pins(self._rsnap) == 1)
        if kept:
            s.snapshots -= 1
        _check_stats(&s)
        empty = s.min_ts > s.max_ts
        cfg = dict(self._settings)
        if cfg["compaction"] is not None:
            cfg["compaction"] = dict(cfg["compaction"])
        if cfg["adaptive"] is not None:
            cfg["adaptive"] = dict(cfg["adaptive"])
        ada = cfg["adaptive"]
        return {
            "records": s.records,
            "storage": {
                "records_estimate": s.records,
                "physical_records": s.physical_records,
                "memruns": s.memruns,
                "memrun_records": s.memrun_records,
                "segments_l0": s.l0_segments,
                "segments_l1": s.l1_segments,
                "records_l0": s.l0_records,
                "records_l1": s.l1_records,
                "pages_total": s.pages,
                "tombstone_count": s.tombstones,
                "min_ts": None if empty else s.min_ts,
                "max_ts": None if empty else s.max_ts,
            },
            "memtable": {
                "active_records": s.memtable_records,
                "ooo_records": s.memtable_ooo_records,
                "sealed_runs": s.memruns,
            },
            "memory": {
                "engine_bytes": s.engine_bytes,
                "peak_bytes": s.peak_bytes,
                "alloc_calls": s.alloc_calls,
                "alloc_failures": s.alloc_failures,
            },
            "operational": {
                "seals_total": s.seals,
                "flushes_total": s.flushes,
                "compactions_total": s.compactions,
                "busy_events": self._busy_events,
                "extend_skipped": self._extend_skipped,
                "retired_queue_len": s.retired_len,
                "dropped_handles": s.dropped_handles,
                "snapshots": s.snapshots,
                "covered_drops_total": s.covered_drops,
            },
            "adaptive": {
                "enabled": ada is not None and ada["target_records"] > 0,
                "target_records": ada["target_records"] if ada is not None else 0,
                "window_size": s.window_width,
                "density": s.adaptive_density if s.adaptive_samples > 0 else None,
                "flushes_seen": s.adaptive_samples,
                "resizes": s.adaptive_resizes,
                "failures": s.adaptive_failures,
            },
            "config": cfg,
        }

    def _gate_state(self):
        """Internal, for tests: (writer turn held or awaited, its owner's
        thread ident or 0, calls bracketed on the open engine, [(engine,
        calls)] of engines close() detached while calls ran on them)."""
        return self._g()._state()

    def _validate(self):
        """Checks every engine invariant; raises TimelogError naming the broken one."""
        cdef tl_status_t st
        cdef const char *why = NULL
        cdef tl_log_t *log = self._wbegin()
        try:
            with nogil:
                st = tl_validate(log, &why)
        finally:
            self._wend(log)
        if st != TL_OK and st != TL_EINTERNAL:
            _check(st)          # e.g. MemoryError: nothing was checked
        if st != TL_OK:
            raise TimelogError("engine validation failed (%s): %s" % (
                tl_strerror(st).decode("utf-8", "replace"),
                why.decode("utf-8", "replace") if why is not NULL else "no reason given"))

    def validate(self):
        """Checks every engine invariant (see ``_validate``); for tests and debugging."""
        self._validate()

    # ------------------------------------------------------------ fault injection (internal)

    def _arm_alloc_failure(self, k, every=0):
        """Internal, for tests: the k-th engine allocation from now fails.

        Needs a log opened with ``Timelog(_fail_alloc=...)`` (TimelogError
        otherwise). ``k=0`` disarms; ``every > 0`` also fails each
        ``every``-th allocation after the k-th. Allocations made by the
        background worker count too. Not part of the public API.
        """
        self._require_open()
        spec = _fault_spec((k, every))
        self._require_open()
        if self._fault is NULL:
            raise TimelogError("_arm_alloc_failure() needs a log opened with "
                               "Timelog(_fail_alloc=...)")
        _tlpy_fault_arm(self._fault, spec[0], spec[1])

    @property
    def _alloc_calls(self):
        """Internal: engine allocation calls (malloc + realloc) seen by the
        fault-injecting allocator so far; None without ``_fail_alloc``."""
        if self._fault is NULL:
            return None
        return _tlpy_fault_calls(self._fault)

    @property
    def _alloc_failures_injected(self):
        """Internal: allocation calls the fault-injecting allocator failed."""
        if self._fault is NULL:
            return None
        return _tlpy_fault_injected(self._fault)

    @property
    def busy_events(self):
        """Writes that reported backpressure (each was stored)."""
        return self._busy_events

    @property
    def alloc_failures(self):
        """Allocations the engine could not satisfy so far (0 when closed)."""
        cdef tl_stats_t s
        if self._log is NULL or tl_stats(self._log, &s) != TL_OK:
            return 0
        return s.alloc_failures

    @property
    def min_ts_floor(self):
        """The ``min_ts`` guard (an int in ``time_unit``) or None.

        Not to be confused with :meth:`min_ts`, the smallest stored timestamp.
        """
        return self._min_ts

    @property
    def extend_skipped(self):
        """Records skipped by ``extend(..., insert_on_error=True)`` so far."""
        return self._extend_skipped

    @property
    def retired_queue_len(self):
        """Handles waiting to be released (0 when closed)."""
        if self._log is NULL:
            return 0
        return tl_retired_len(self._log)

    @property
    def closed(self):
        return self._log is NULL

    @property
    def time_unit(self):
        return _UNIT_NAMES[self._unit] if self._settings is not None else None

    @property
    def maintenance_mode(self):
        return self._settings["maintenance"] if self._settings is not None else None

    @property
    def busy_policy(self):
        return _BUSY_NAMES[self._busy_policy] if self._settings is not None else None

    # ------------------------------------------------------------ lifecycle

    def close(self):
        """Releases the engine and every stored object; idempotent.

        Iterators, spans and arrays created before still read their snapshot;
        the memory they pin is freed when the last of them goes. Any other
        call on a closed log raises TimelogError (use ``reopen()``).

        Safe from anywhere: called by a stored object's ``__del__`` while the
        log releases objects (during ``flush()``, ``compact()``, ...), or by
        another thread while a call runs in the engine, it closes the log at
        once for every caller and releases the engine as soon as that call
        returns.
        """
        cdef tl_log_t *log = self._log
        if log is NULL:
            return
        self._unpin_reads()
        self._log = NULL
        self._fault = NULL
        # Closes this engine now, or when the last call running on it
        # returns (never one reopen() makes meanwhile): the _Gate protocol.
        self._g().close(log)

    def __enter__(self):
        self._require_open()
        return self

    def __exit__(self, exc_type, exc, tb):
        self.close()
        return False

    def __sizeof__(self):
        cdef tl_stats_t s
        base = object.__sizeof__(self)
        if self._log is not NULL and tl_stats(self._log, &s) == TL_OK:
            return base + <Py_ssize_t> s.engine_bytes
        return base

    cdef dict _summary(self):
        """What repr() and _repr_html_() show, from ONE tl_stats() call.

        tl_stats reads counters and the visible bounds, never the records,
        so a repr costs the same on an empty log and on a billion records.
        """
        cdef tl_stats_t s
        cdef tl_status_t st
        if self._log is NULL:
            return None
        st = tl_stats(self._log, &s)
        _check(st)
        _check_stats(&s)
        out = {
            "records": s.records,
            "memtable": s.memtable_records,
            "memtable_ooo": s.memtable_ooo_records,
            "memruns": s.memruns,
            "l0": s.l0_segments,
            "l1": s.l1_segments,
            "tombstones": s.tombstones,
            "engine_bytes": s.engine_bytes,
            "first": None,
            "last": None,
        }
        if s.min_ts <= s.max_ts:
            out["first"] = s.min_ts
            out["last"] = s.max_ts
        return out

    def __repr__(self):
        """What is inside: records, time span (ISO timestamps, a duration), layers.

        >>> log = Timelog(time_unit="s", maintenance="disabled")
        >>> log.extend([(1_700_000_000, "a"), (1_700_001_008, "b")])
        >>> log
        <Timelog 2 records, 2023-11-14T22:13:20Z .. 2023-11-14T22:30:08Z (16.8 min), time_unit='s'; layers: memtable=2 memruns=0 L0=0 L1=0>
        >>> log.close(); log
        <Timelog closed, time_unit='s'>
        """
        name = type(self).__name__
        if self._log is NULL:
            if self._settings is None:
                return "<%s closed>" % (name,)
            return "<%s closed, time_unit=%r>" % (name, self.time_unit)
        d = self._summary()
        unit = self.time_unit
        if d["first"] is None:
            span = "empty"
        else:
            span = "%s record%s, %s .. %s (%s)" % (
                format(d["records"], ","), "" if d["records"] == 1 else "s",
                _fmt_ts(d["first"], unit), _fmt_ts(d["last"], unit),
                _fmt_duration(d["last"] - d["first"], unit))
        return "<%s %s, time_unit=%r; layers: memtable=%d memruns=%d L0=%d L1=%d>" % (
            name, span, unit, d["memtable"], d["memruns"], d["l0"], d["l1"])

    def _repr_html_(self):
        """A small HTML table for Jupyter: size, time span and layers (all escaped)."""
        esc = _html.escape
        name = type(self).__name__
        if self._log is NULL:
            return ("<table class=\"timelog-repr\"><caption>%s</caption>"
                    "<tr><th>state</th><td>closed</td></tr></table>" % (esc(name),))
        d = self._summary()
        unit = self.time_unit
        rows = [("records", format(d["records"], ","))]
        if d["first"] is not None:
            rows += [("first", _fmt_ts(d["first"], unit)),
                     ("last", _fmt_ts(d["last"], unit)),
                     ("span", _fmt_duration(d["last"] - d["first"], unit))]
        rows += [
            ("time_unit", unit),
            ("memtable", "%s records (%s out of order)" % (
                format(d["memtable"], ","), format(d["memtable_ooo"], ","))),
            ("memruns", str(d["memruns"])),
            ("L0 segments", str(d["l0"])),
            ("L1 segments", str(d["l1"])),
            ("tombstones", str(d["tombstones"])),
            ("engine memory", _fmt_bytes(d["engine_bytes"])),
            ("maintenance", self.maintenance_mode),
            ("busy_policy", self.busy_policy),
        ]
        body = "".join("<tr><th style=\"text-align:left\">%s</th><td style=\"text-align:left\">%s</td></tr>"
                       % (esc(k), esc(str(v))) for k, v in rows)
        return "<table class=\"timelog-repr\"><caption>%s</caption>%s</table>" % (
            esc(name), body)

    # ------------------------------------------------------------ pandas, pickling

    def to_pandas(self, t1=None, t2=None):
        """The records of ``[t1, t2)`` as a pandas DataFrame (needs pandas).

        The index is a ``DatetimeIndex`` named ``"ts"``, converted from the
        int64 timestamps by ``time_unit`` (naive, UTC); the one column,
        ``"value"``, holds the stored objects themselves (dtype object, so
        identity is kept: ``df["value"].infer_objects()`` gives a numeric
        column when the payloads are numbers). Built from :meth:`arrays`
        (one snapshot; None bounds are open). A record at ``-2**63`` shows
        as NaT, the one int64 value NumPy reserves. Raises ImportError
        saying ``pip install pandas`` when pandas is missing. O(log n + k).

        >>> log = Timelog(time_unit="s", maintenance="disabled")
        >>> log.extend([(0, "a"), (60, "b")])
        >>> df = log.to_pandas()                       # doctest: +SKIP
        >>> df.index[1], df["value"].tolist()          # doctest: +SKIP
        (Timestamp('1970-01-01 00:01:00'), ['a', 'b'])
        >>> log.close()
        """
        # A closed log says so whether or not pandas is installed.
        self._require_open()
        try:
            # importlib, not an import statement: Cython's import fast path
            # would hand back a None left in sys.modules instead of raising.
            pd = _importlib.import_module("pandas")
        except ImportError:
            raise ImportError(
                "Timelog.to_pandas() needs pandas, which is not installed; "
                "install it with: pip install pandas") from None
        ts, objs = self.arrays(t1, t2)
        unit = self.time_unit
        index = pd.DatetimeIndex(ts.view("datetime64[%s]" % (unit,)), name="ts")
        values = _np.empty(len(objs), dtype=object)
        for i, obj in enumerate(objs):
            values[i] = obj
        return pd.DataFrame({"value": values}, index=index, copy=False)

    def __reduce__(self):
        """Pickling, ``copy.copy`` and ``copy.deepcopy``: settings plus every visible record.

        The copy is a new, independent log opened with the same settings
        (every constructor knob, including ``min_ts`` and the presets'
        values), holding the same visible records in the same order: the
        records are taken from one snapshot with :meth:`arrays`. Counters
        (``busy_events``, ``extend_skipped``) and the layout in layers are
        not kept. ``copy.deepcopy`` deep-copies the payloads; ``copy.copy``
        shares them. A closed log copies as a closed log with its settings.
        Iterators, spans and snapshots cannot be pickled.

        The log is rebuilt in two steps, as the protocols intend for
        containers: a constructor call opens the empty copy (which pickle and
        deepcopy then record in their memo), and ``__setstate__`` loads the
        records. So a log that stores itself (directly or through its
        payloads) copies without RecursionError, and the cycle points at the
        copy.

        >>> import pickle
        >>> log = Timelog(time_unit="us", maintenance="disabled")
        >>> log.extend([(1, "a"), (2, "b")])
        >>> clone = pickle.loads(pickle.dumps(log))
        >>> list(clone), clone.time_unit
        ([(1, 'a'), (2, 'b')], 'us')
        >>> clone.close(); log.close()
        """
        if self._settings is None:
            raise TypeError("cannot pickle a %s that was never opened"
                            % (type(self).__name__,))
        settings = dict(self._settings)
        for name in ("compaction", "adaptive"):
            if settings[name] is not None:
                settings[name] = dict(settings[name])
        attrs = getattr(self, "__dict__", None) or None
        if self._log is NULL:
            return (_rebuild_timelog, (type(self), settings),
                    (_STATE_TAG, attrs, None, None, True))
        ts, objs = self.arrays()
        return (_rebuild_timelog, (type(self), settings),
                (_STATE_TAG, attrs, ts, objs, False))

    def __setstate__(self, state):
        """Second step of unpickling / copying (see :meth:`__reduce__`).

        Loads the records into the freshly opened copy (through
        bulk_append: one engine call, already sorted so the order of equal
        timestamps is kept; a backpressure signal is answered with a flush,
        since the records are stored either way), sets a subclass's
        attributes and, for a copy of a closed log, closes it. A plain dict
        (a pickle from before this format) only sets the attributes.
        """
        if type(state) is dict:
            self.__dict__.update(state)
            return
        if not (type(state) is tuple and len(state) == 5 and state[0] == _STATE_TAG):
            raise TypeError("Timelog.__setstate__: unexpected state %r"
                            % (type(state).__name__,))
        _, attrs, ts, objs, closed = state
        if attrs:
            self.__dict__.update(attrs)
        if ts is not None and len(ts):
            try:
                self.bulk_append(ts, objs)
            except TimelogBusyError:
                self.flush()
            self._busy_events = 0
        if closed:
            self.close()


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


cdef int _timelog_visit_engines(Timelog self, _visitproc visit, void *arg) noexcept:
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
    return _timelog_visit_engines(<Timelog> o, visit, arg)


cdef void _close_for_gc(Timelog log) noexcept:
    # Timelog.close, not log.close: the log's class may be garbage in the same
    # collection, its dict already cleared. An error (none is expected) goes
    # to sys.unraisablehook: a tp_clear cannot raise.
    Timelog.close(log)


cdef int _Timelog_tp_clear(PyObject *o) noexcept:
    _close_for_gc(<Timelog> o)
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

cdef extern from *:
    """
    /* fork() exists only on POSIX; on Windows there is nothing to prepare. */
    #if defined(_WIN32)
    static int _tlpy_atfork(void (*prepare)(void), void (*parent)(void), void (*child)(void)) {
        (void)prepare; (void)parent; (void)child;
        return 0;
    }
    #else
    #include <pthread.h>
    #define _tlpy_atfork pthread_atfork
    #endif
    """
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


cdef int _reset_gate_after_fork(Timelog log) except -1:
    """The writer gate in a fork child: a fresh, free turn (a writer call of
    a thread of the parent, which does not exist here, is forgotten)."""
    if log._gatep is not NULL:
        log._g()._reset_after_fork()
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
    cdef Timelog log
    cdef size_t cap = 0
    cdef Py_ssize_t i
    cdef list detached
    if _fork_engines is not NULL:
        _fork_release()         # a fork that never ran its after hooks
    logs = list(_live_logs)     # strong references: none is collected meanwhile
    for log in logs:
        cap += (1 if log._log is not NULL else 0) + \
            (len(log._g()._detached) if log._gatep is not NULL else 0)
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
            detached = log._g()._detached
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
    cdef Timelog log
    logs = _fork_logs
    _fork_release()
    for log in (logs or ()):
        _reset_gate_after_fork(log)


if hasattr(_os, "register_at_fork"):
    if _tlpy_atfork(_atfork_prepare, _atfork_parent, _atfork_child) != 0:
        raise MemoryError("timelog: pthread_atfork failed")
    _os.register_at_fork(before=_fork_before, after_in_parent=_fork_after_parent,
                         after_in_child=_fork_after_child)


# ---------------------------------------------------------------- repr and pickling helpers

_LEVEL_NAMES = {0: "memrun", 1: "L0", 2: "L1"}
_UNIT_NS = {"s": 10**9, "ms": 10**6, "us": 10**3, "ns": 1}
_ISO_TRIM = {"s": 0, "ms": 3, "us": 6, "ns": 9}


def _fmt_ts(ts, unit):
    """An int64 timestamp as ISO 8601 UTC text ("2024-01-01T00:00:00.000Z").

    Exact, via numpy.datetime64 in the log's own unit. -2**63 is NaT to
    NumPy, so it (and anything NumPy cannot print) is shown as an int.
    """
    if ts == _I64_MIN:
        return "%d (int64 min)" % (ts,)
    try:
        return str(_np.datetime64(int(ts), unit)) + "Z"
    except (ValueError, OverflowError):
        return "%d %s" % (ts, unit)


def _fmt_duration(d, unit):
    """A duration (an int in unit) in human units: "16.8 min", "250 ms", "3.2 days"."""
    ns = int(d) * _UNIT_NS[unit]
    sec = ns / 1e9
    if ns == 0:
        return "0 s"
    if ns < 1000:
        return "%d ns" % (ns,)
    if ns < 10**6:
        return "%.3g us" % (ns / 1e3,)
    if ns < 10**9:
        return "%.3g ms" % (ns / 1e6,)
    if sec < 60:
        return "%.3g s" % (sec,)
    if sec < 3600:
        return "%.3g min" % (sec / 60,)
    if sec < 86400:
        return "%.3g h" % (sec / 3600,)
    if sec < 86400 * 365.25:
        return "%.3g days" % (sec / 86400,)
    return "%.3g years" % (sec / (86400 * 365.25),)


def _fmt_bytes(n):
    for unit in ("B", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return ("%d %s" % (n, unit)) if unit == "B" else ("%.1f %s" % (n, unit))
        n /= 1024.0


# Marks the state tuple of Timelog.__reduce__ (so __setstate__ can tell it
# from a plain attribute dict).
_STATE_TAG = "timelog/1"


def _point_to_unit(v, old, new):
    """A point in time v (an int in unit old) as an int in unit new, exactly.

    ValueError (naming min_ts, both units and what to do) when there is no
    exact int64 value: a coarser unit and v not a whole number of it, or a
    finer unit that overflows.
    """
    a, b = _UNIT_NS[old], _UNIT_NS[new]
    if a == b:
        return v
    if a > b:
        w = v * (a // b)
        if w < _I64_MIN or w > _I64_MAX:
            raise ValueError(
                "reopen(time_unit=%r): min_ts=%d (%s) is %d in %r, outside the int64 "
                "range; nothing was changed (the log stays closed): pass min_ts "
                "explicitly" % (new, v, _fmt_ts(v, old), w, new))
        return w
    q, r = divmod(v, b // a)
    if r:
        raise ValueError(
            "reopen(time_unit=%r): min_ts=%d (%s) is not a whole number of %r "
            "units, so the guard has no exact value in the new unit; nothing was "
            "changed (the log stays closed): pass min_ts explicitly, e.g. "
            "min_ts=%d (rounded up, rejects the rest of that unit) or min_ts=%d "
            "(rounded down, admits it)" % (new, v, _fmt_ts(v, old), new, q + 1, q))
    return q


def _rebuild_timelog(cls, settings, ts=_MISSING, objs=None):
    """Unpickles a Timelog: opens an empty one with settings.

    The records follow through __setstate__, after pickle or deepcopy has
    memoized the new log (see Timelog.__reduce__). The four-argument form is
    the older format, which also loaded the records (ts None: closed).
    """
    cdef Timelog log = cls.__new__(cls)
    Timelog.__init__(log, **settings)
    if ts is _MISSING:
        return log
    if ts is not None and len(ts):
        try:
            log.bulk_append(ts, objs)
        except TimelogBusyError:
            log.flush()
        log._busy_events = 0
    if ts is None:
        log.close()
    return log


# ---------------------------------------------------------------- fault injection (internal)

cdef tuple _fault_spec(object spec):
    """Timelog(_fail_alloc=...) -> None or (k, every), validated.

    None: the engine uses libc's allocator. k (an int) or (k, every): the
    fault-injecting allocator, with the k-th allocation call failing (0 =
    none, only counting) and then every every-th call after it (0 = once).
    """
    if spec is None:
        return None
    if isinstance(spec, tuple):
        if len(spec) != 2:
            raise ValueError("_fail_alloc must be k or (k, every), got %r" % (spec,))
        k, every = spec
    else:
        k, every = spec, 0
    return (_int_knob("_fail_alloc k", k, 0, _I64_MAX),
            _int_knob("_fail_alloc every", every, 0, _I64_MAX))


# ---------------------------------------------------------------- helpers for extend / slices

cdef tuple _pair(object item, Py_ssize_t i):
    if isinstance(item, (str, bytes, bytearray, dict, set, frozenset)):
        raise ValueError("extend(): item %d is a %s, expected a (ts, obj) pair; "
                         "nothing was stored" % (i, type(item).__name__))
    try:
        n = len(item)
        if n == 2:
            return (item[0], item[1])
    except (TypeError, KeyError, IndexError):
        pass
    raise ValueError("extend(): item %d (%s) is not a (ts, obj) pair; nothing "
                     "was stored" % (i, type(item).__name__))


cdef Py_ssize_t _pairs_fast(object items, Py_ssize_t i, Py_ssize_t n, tl_ts_t *tsa,
                           tl_handle_t *ha, size_t *k, bint guard, int64_t min_ts) noexcept:
    """extend()'s fast path over an exact list or tuple of pairs, from item i.

    Takes items while each is an exact (int, obj) tuple whose int fits int64
    (and passes the min_ts guard): INCREFs the object and stores the pair.
    Returns the index of the first item it did not take, which the general
    path then handles (converting, skipping or raising exactly as before).
    Nothing here runs Python code (exact types, no __index__, no allocation),
    so the borrowed item pointers cannot change under it; the size is read
    afresh because general-path code between two calls may have shrunk the
    list, which the general path's bounds check then reports.
    """
    cdef PyObject **arr = _seq_items(items)
    cdef Py_ssize_t m = _seq_size(items)
    cdef PyObject *item
    cdef PyObject *tobj
    cdef PyObject *obj
    cdef long long v
    cdef int overflow = 0
    cdef size_t kk = k[0]
    if m > n:
        m = n
    while i < m:
        item = arr[i]
        if not _is_exact_tuple(item) or _tuple_size(item) != 2:
            break
        tobj = _tuple_get(item, 0)
        if not _is_exact_int(tobj):
            break
        v = _as_ll_overflow(tobj, &overflow)
        if overflow != 0 or (guard and v < min_ts):
            break
        obj = _tuple_get(item, 1)
        _incref(obj)
        tsa[kk] = v
        ha[kk] = <tl_handle_t> <size_t> obj
        kk += 1
        i += 1
    k[0] = kk
    return i


cdef Py_ssize_t _columns_fast(object tss, object objs, Py_ssize_t i, Py_ssize_t n,
                             tl_ts_t *tsa, tl_handle_t *ha, size_t *k, bint guard,
                             int64_t min_ts) noexcept:
    """_pairs_fast for extend(timestamps, objects): exact lists or tuples,
    taken while the timestamp is an exact int in int64 (and passes the guard)."""
    cdef PyObject **ta = _seq_items(tss)
    cdef PyObject **oa = _seq_items(objs)
    cdef Py_ssize_t m = _seq_size(tss)
    cdef PyObject *tobj
    cdef long long v
    cdef int overflow = 0
    cdef size_t kk = k[0]
    if _seq_size(objs) < m:
        m = _seq_size(objs)
    if m > n:
        m = n
    while i < m:
        tobj = ta[i]
        if not _is_exact_int(tobj):
            break
        v = _as_ll_overflow(tobj, &overflow)
        if overflow != 0 or (guard and v < min_ts):
            break
        _incref(oa[i])
        tsa[kk] = v
        ha[kk] = <tl_handle_t> <size_t> oa[i]
        kk += 1
        i += 1
    k[0] = kk
    return i


cdef inline int _check_step(slice key) except -1:
    # Any integer-like step equal to 1 (np.int64(1) included, via __index__)
    # is the plain slice; any other step, 1.0 and True included, is refused.
    step = key.step
    if step is None or (type(step) is int and step == 1):
        return 0
    if PyIndex_Check(step) and type(step) is not bool and _operator.index(step) == 1:
        return 0
    raise ValueError("slice step is not supported (got %r): timelog slices are "
                     "half-open time ranges [t1, t2)" % (step,))


cdef PageSpanIter _make_span_iter(_Snapshot snap, int kind, int64_t t1, int64_t t2):
    cdef PageSpanIter it = PageSpanIter.__new__(PageSpanIter)
    cdef tl_status_t st
    if snap._snap is NULL:
        raise TimelogError("snapshot released")
    if kind == _K_ALL:
        st = tl_spans_all(snap._snap, &it._it)
    elif kind == _K_SINCE:
        st = tl_spans_since(snap._snap, t1, &it._it)
    else:
        st = tl_spans_range(snap._snap, t1, t2, &it._it)
    if st != TL_OK:
        it._it = NULL
        _check(st)
    it._snap = snap
    return it


# ---------------------------------------------------------------- array-native reads

cdef int _range_kind(object t1, object t2, int unit, int64_t *a, int64_t *b) except -1:
    """Maps (t1, t2) with None as open bounds to an iterator kind and bounds."""
    if t1 is None and t2 is None:
        return _K_ALL
    if t1 is None:
        b[0] = _ts(t2, unit)
        return _K_UNTIL
    if t2 is None:
        a[0] = _ts(t1, unit)
        return _K_SINCE
    a[0] = _ts(t1, unit)
    b[0] = _ts(t2, unit)
    return _K_RANGE


cdef tl_status_t _count_kind(tl_snapshot_t *snap, int kind, int64_t a, int64_t b,
                             uint64_t *out) noexcept nogil:
    if kind == _K_ALL:
        return tl_count_all(snap, out)
    if kind == _K_SINCE:
        return tl_count_since(snap, a, out)
    if kind == _K_UNTIL:
        return tl_count_range(snap, TL_TS_MIN, b, out)
    return tl_count_range(snap, a, b, out)


cdef tl_status_t _iter_kind(tl_snapshot_t *snap, int kind, int64_t a, int64_t b,
                            tl_iter_t **out) noexcept nogil:
    if kind == _K_ALL:
        return tl_iter_all(snap, out)
    if kind == _K_SINCE:
        return tl_iter_since(snap, a, out)
    if kind == _K_UNTIL:
        return tl_iter_until(snap, b, out)
    return tl_iter_range(snap, a, b, out)


cdef tuple _fill_arrays(tl_iter_t *it, size_t n, const tl_ts_t *pre_ts,
                        const tl_handle_t *pre_h, size_t npre, bint with_objects):
    """(int64 ndarray, list or None) of npre buffered records, then n from it.

    n must be exactly what the iterator still holds (an exact count): the
    array is sized once and the engine writes straight into its buffer with
    the GIL released; handles go to a temporary C buffer and become the
    list with one Py_INCREF each. Handles stay valid because it is pinned.
    """
    cdef size_t total = npre + n
    cdef cnp.npy_intp dims = <cnp.npy_intp> total
    cdef cnp.ndarray arr = cnp.PyArray_EMPTY(1, &dims, cnp.NPY_INT64, 0)
    cdef tl_ts_t *data = <tl_ts_t *> cnp.PyArray_DATA(arr)
    cdef tl_handle_t *hb = NULL
    cdef tl_handle_t *hdst = NULL
    cdef size_t got = 0, i
    cdef tl_status_t st = TL_OK
    cdef PyObject *p
    if with_objects and total > 0:
        hb = <tl_handle_t *> PyMem_Malloc(total * sizeof(tl_handle_t))
        if hb is NULL:
            raise MemoryError()
    try:
        if npre > 0:
            memcpy(data, pre_ts, npre * sizeof(tl_ts_t))
            if hb is not NULL:
                memcpy(hb, pre_h, npre * sizeof(tl_handle_t))
        if n > 0:
            if hb is not NULL:
                hdst = hb + npre
            with nogil:
                st = tl_iter_next_batch(it, data + npre, hdst, n, &got)
            _check(st)
            if got != n:
                raise TimelogError("internal error: the engine yielded %d records "
                                   "where its exact count said %d" % (got, n))
        if not with_objects:
            return (arr, None)
        lst = PyList_New(<Py_ssize_t> total)
        for i in range(total):
            p = <PyObject *> <size_t> hb[i]
            _incref(p)
            PyList_SET_ITEM_ptr(lst, <Py_ssize_t> i, p)
        return (arr, lst)
    finally:
        PyMem_Free(hb)


cdef tuple _read_range(Timelog log, int kind, int64_t a, int64_t b, bint with_objects):
    """arrays()/timestamps(): exact count and iterator over one snapshot."""
    cdef tl_snapshot_t *snap = NULL
    cdef tl_iter_t *it = NULL
    cdef uint64_t n = 0
    cdef tl_status_t st
    log._require_open()
    snap = log._read_pin()
    with nogil:
        st = _count_kind(snap, kind, a, b, &n)
        if st == TL_OK:
            st = _iter_kind(snap, kind, a, b, &it)
    # The iterator holds its own pin; the log is open, so this is no teardown.
    tl_snapshot_release(snap)
    if st != TL_OK:
        tl_iter_close(it)
        _check(st)
    try:
        return _fill_arrays(it, <size_t> n, NULL, NULL, 0, with_objects)
    finally:
        tl_iter_close(it)


# ---------------------------------------------------------------- exports (to_numpy, to_dict)

cdef extern from *:
    """
    /* A dict sized for n keys up front (no rehash while it fills); the
     * presizing call is CPython-private, so newer versions fall back. */
    static PyObject *_tlpy_dict_presized(Py_ssize_t n) {
    #if PY_VERSION_HEX < 0x030D0000 && !defined(PYPY_VERSION)
        return _PyDict_NewPresized(n);
    #else
        (void)n;
        return PyDict_New();
    #endif
    }
    """
    dict _tlpy_dict_presized(Py_ssize_t n)


cdef extern from "Python.h":
    # Borrowed PyObject* in, no exception raised: failures are detected by
    # the caller (PyErr_Occurred) and redone through NumPy for its message.
    bint _is_exact_float "PyFloat_CheckExact"(PyObject *o) noexcept
    bint _is_float "PyFloat_Check"(PyObject *o) noexcept
    double _float_as_double "PyFloat_AS_DOUBLE"(PyObject *o) noexcept
    double _long_as_double "PyLong_AsDouble"(PyObject *o) noexcept
    PyObject *_py_true "Py_True"
    PyObject *_py_false "Py_False"
    PyObject *_py_none "Py_None"
    PyObject *_err_occurred "PyErr_Occurred"() noexcept
    void _err_clear "PyErr_Clear"() noexcept
    int _dict_set_item "PyDict_SetItem"(object d, object k, PyObject *v) except -1


cdef enum:
    # Records per chunk: the engine fills a chunk with the GIL released,
    # then the chunk is converted with it held. 32K records keep the
    # handle buffer (256 KiB) cache-resident and a chunk's GIL hold well
    # under the 5 ms switch interval, so a thread waiting for the GIL gets
    # it at the next chunk boundary.
    _EXPORT_CHUNK = 32768

cdef enum:
    _EX_F64 = 0       # native float64: converted in C
    _EX_I64 = 1       # native int64: converted in C
    _EX_NUMPY = 2     # any other int/float dtype: each chunk through NumPy

_EXPORT_CHUNK_SIZE = _EXPORT_CHUNK   # for tests and docs


cdef tuple _export_dtype(object dtype):
    """(numpy dtype, conversion mode) for to_numpy's dtype=; TypeError if not
    a scalar integer or float dtype."""
    if dtype is None:
        return (_np.dtype(_np.float64), _EX_F64)
    try:
        dt = _np.dtype(dtype)
    except (TypeError, ValueError) as e:
        raise TypeError("to_numpy(): dtype must be a scalar integer or float NumPy "
                        "dtype, got %r (%s)" % (dtype, e)) from None
    if dt.kind not in "iuf" or dt.shape != () or dt.fields is not None:
        raise TypeError("to_numpy(): dtype must be a scalar integer or float NumPy "
                        "dtype, got %r (dtype %s, kind %r)" % (dtype, dt, dt.kind))
    if dt.isnative and dt == _np.float64:
        return (dt, _EX_F64)
    if dt.isnative and dt == _np.int64:
        return (dt, _EX_I64)
    return (dt, _EX_NUMPY)


cdef tl_iter_t *_export_iter(Timelog log, int kind, int64_t a, int64_t b,
                             uint64_t *n) except NULL:
    """An iterator over [a, b) of one snapshot and its exact count; the
    iterator holds its own pin (the caller closes it)."""
    cdef tl_snapshot_t *snap
    cdef tl_iter_t *it = NULL
    cdef tl_status_t st
    log._require_open()
    snap = log._read_pin()
    with nogil:
        st = _count_kind(snap, kind, a, b, n)
        if st == TL_OK:
            st = _iter_kind(snap, kind, a, b, &it)
    # The log is open, so this release is no teardown (runs no Python code).
    tl_snapshot_release(snap)
    if st != TL_OK:
        tl_iter_close(it)
        _check(st)
    return it


cdef int _export_fill(tl_iter_t *it, tl_ts_t *ts, tl_handle_t *h, size_t want) except -1:
    """Fills want records (the exact count says they are there), GIL released."""
    cdef size_t got = 0
    cdef tl_status_t st
    with nogil:
        st = tl_iter_next_batch(it, ts, h, want, &got)
    _check(st)
    if got != want:
        raise TimelogError("internal error: the engine yielded %d records where its "
                           "exact count said %d" % (got, want))
    return 0


cdef int _note_row(object exc, size_t row, tl_ts_t ts, object dt) except -1:
    note = ("timelog.to_numpy(): could not convert the value of row %d (timestamp %d) "
            "to %s" % (row, ts, dt))
    if hasattr(exc, "add_note"):
        exc.add_note(note)
    else:                       # Python 3.10: PEP 678 by hand
        exc.__notes__ = list(getattr(exc, "__notes__", None) or ()) + [note]
    return 0


cdef int _convert_one(cnp.ndarray out, size_t row, object obj, tl_ts_t ts,
                      object dt) except -1:
    """out[row] = obj converted as numpy.array([obj], dtype=dt) would; an
    error keeps its type and gains a note naming the row."""
    try:
        v = _np.array(obj, dtype=dt)
        if v.ndim != 0:
            raise ValueError("setting an array element with a sequence: a %s of "
                             "shape %s is not a scalar" % (type(obj).__name__, v.shape))
        out[row] = v
    except Exception as e:
        _note_row(e, row, ts, dt)
        raise
    return 0


cdef int _convert_f64(cnp.ndarray out, size_t row0, const tl_handle_t *h,
                      const tl_ts_t *ts, size_t n) except -1:
    """float64 values of n handles into out[row0:]: floats (subclasses read
    their value, as NumPy does), exact ints, bools and None in C; anything
    else, and an int too large for a double, through NumPy."""
    cdef double *d = <double *> cnp.PyArray_DATA(out) + row0
    cdef size_t i
    cdef PyObject *p
    cdef double v
    for i in range(n):
        p = <PyObject *> <size_t> h[i]
        if _is_float(p):
            d[i] = _float_as_double(p)
        elif _is_exact_int(p):
            v = _long_as_double(p)
            if v == -1.0 and _err_occurred() is not NULL:
                _err_clear()
                _convert_one(out, row0 + i, <object> p, ts[i], out.dtype)
            else:
                d[i] = v
        elif p == _py_true:
            d[i] = 1.0
        elif p == _py_false:
            d[i] = 0.0
        elif p == _py_none:
            d[i] = NAN
        else:
            _convert_one(out, row0 + i, <object> p, ts[i], out.dtype)
    return 0


cdef int _convert_i64(cnp.ndarray out, size_t row0, const tl_handle_t *h,
                      const tl_ts_t *ts, size_t n) except -1:
    """int64 values of n handles into out[row0:]: exact ints that fit and
    bools in C, anything else (overflow included) through NumPy."""
    cdef int64_t *d = <int64_t *> cnp.PyArray_DATA(out) + row0
    cdef size_t i
    cdef PyObject *p
    cdef long long v
    cdef int overflow = 0
    for i in range(n):
        p = <PyObject *> <size_t> h[i]
        if _is_exact_int(p):
            v = _as_ll_overflow(p, &overflow)
            if overflow == 0 and not (v == -1 and _err_occurred() is not NULL):
                d[i] = v
                continue
            _err_clear()
        elif p == _py_true:
            d[i] = 1
            continue
        elif p == _py_false:
            d[i] = 0
            continue
        _convert_one(out, row0 + i, <object> p, ts[i], out.dtype)
    return 0


cdef int _convert_numpy(cnp.ndarray out, size_t row0, const tl_handle_t *h,
                        const tl_ts_t *ts, size_t n) except -1:
    """Any other dtype: the chunk as one list through numpy.array; if that
    fails, element by element, so the error names its row."""
    cdef size_t i
    lst = _list_borrowed(h, n)
    try:
        out[row0:row0 + n] = _np.array(lst, dtype=out.dtype)
    except Exception:
        for i in range(n):
            _convert_one(out, row0 + i, lst[i], ts[i], out.dtype)
        raise                   # every element converts alone: NumPy's own error
    return 0


cdef list _list_borrowed(const tl_handle_t *h, size_t n):
    """A new list of n handles' objects, each gaining a reference (the
    engine keeps its own)."""
    cdef size_t i
    cdef PyObject *p
    lst = PyList_New(<Py_ssize_t> n)
    for i in range(n):
        p = <PyObject *> <size_t> h[i]
        _incref(p)
        PyList_SET_ITEM_ptr(lst, <Py_ssize_t> i, p)
    return lst


cdef tuple _export_numpy(Timelog log, int kind, int64_t a, int64_t b, object dt, int mode):
    """to_numpy(): both arrays sized by the exact count, then filled chunk by
    chunk (timestamps straight into their array, handles into a buffer)."""
    cdef uint64_t n = 0
    cdef tl_iter_t *it = _export_iter(log, kind, a, b, &n)
    cdef tl_handle_t *hb = NULL
    cdef tl_ts_t *tsd
    cdef cnp.npy_intp dims
    cdef cnp.ndarray ts_arr, vals
    cdef size_t off = 0, want
    try:
        dims = <cnp.npy_intp> n
        ts_arr = cnp.PyArray_EMPTY(1, &dims, cnp.NPY_INT64, 0)
        vals = _np.empty(<Py_ssize_t> n, dtype=dt)
        tsd = <tl_ts_t *> cnp.PyArray_DATA(ts_arr)
        if n > 0:
            hb = <tl_handle_t *> PyMem_Malloc(
                <size_t> min(n, <uint64_t> _EXPORT_CHUNK) * sizeof(tl_handle_t))
            if hb is NULL:
                raise MemoryError()
        while off < n:
            want = <size_t> min(n - off, <uint64_t> _EXPORT_CHUNK)
            _export_fill(it, tsd + off, hb, want)
            if mode == _EX_F64:
                _convert_f64(vals, off, hb, tsd + off, want)
            elif mode == _EX_I64:
                _convert_i64(vals, off, hb, tsd + off, want)
            else:
                _convert_numpy(vals, off, hb, tsd + off, want)
            off += want
        return (ts_arr, vals)
    finally:
        PyMem_Free(hb)
        tl_iter_close(it)


cdef dict _export_dict(Timelog log, int kind, int64_t a, int64_t b):
    """to_dict(): records come in timestamp order, so a run of duplicates
    is contiguous and only its last record is inserted (a run cut by a
    chunk boundary is inserted twice, the later value winning)."""
    cdef uint64_t n = 0
    cdef tl_iter_t *it = _export_iter(log, kind, a, b, &n)
    cdef tl_handle_t *hb = NULL
    cdef tl_ts_t *tb = NULL
    cdef size_t off = 0, want, i, cap
    cdef dict d
    try:
        d = _tlpy_dict_presized(<Py_ssize_t> n)
        if n == 0:
            return d
        cap = <size_t> min(n, <uint64_t> _EXPORT_CHUNK)
        hb = <tl_handle_t *> PyMem_Malloc(cap * sizeof(tl_handle_t))
        tb = <tl_ts_t *> PyMem_Malloc(cap * sizeof(tl_ts_t))
        if hb is NULL or tb is NULL:
            raise MemoryError()
        while off < n:
            want = <size_t> min(n - off, <uint64_t> _EXPORT_CHUNK)
            _export_fill(it, tb, hb, want)
            for i in range(want):
                if i + 1 < want and tb[i + 1] == tb[i]:
                    continue
                _dict_set_item(d, tb[i], <PyObject *> <size_t> hb[i])
            off += want
        return d
    finally:
        PyMem_Free(hb)
        PyMem_Free(tb)
        tl_iter_close(it)


cdef object _positive_int(str what, object v):
    if isinstance(v, (bool, _np.bool_)):
        raise TypeError("%s must be a positive int, got a bool (%r)" % (what, v))
    if not PyIndex_Check(v):
        raise TypeError("%s must be a positive int, got %s (%r)"
                        % (what, type(v).__name__, v))
    v = _operator.index(v)
    if v <= 0:
        raise ValueError("%s must be a positive int, got %d" % (what, v))
    return int(v)


cdef void _fill_edges(int64_t *e, size_t nb, int64_t lo, uint64_t q, uint64_t r,
                      uint64_t d) noexcept nogil:
    """e[i] = lo + q*i + floor(r*i / d) for i < nb, with r < d.

    Never overflows: the offset is accumulated in uint64 (it stays below the
    range width, itself < 2**64 for every edge written) and the remainder
    r*i mod d is carried instead of multiplied.
    """
    cdef uint64_t base = 0, rem = 0
    cdef size_t i
    for i in range(nb):
        e[i] = <int64_t> (<uint64_t> lo + base)
        base += q
        rem += r
        if rem >= d:
            rem -= d
            base += 1


cdef tuple _bucket_counts(Timelog log, object t1, object t2, object k, bint by_step):
    """(counts, edges) for histogram() (k = bins) and counts() (k = step).

    Bounds are worked out on Python ints (t2 = max_ts + 1 may be 2**63),
    edges are written by _fill_edges, and tl_count_buckets counts every
    bucket on one snapshot with the GIL released.
    """
    cdef int unit = log._unit
    cdef tl_snapshot_t *snap = NULL
    cdef tl_status_t st = TL_OK, st_min = TL_OK, st_max = TL_OK
    cdef tl_ts_t mn = 0, mx = 0
    cdef cnp.ndarray edges, counts
    cdef int64_t *e
    cdef uint64_t *out
    cdef size_t nb_c
    cdef uint64_t q, r, d
    cdef bint closed_last
    cdef int64_t lo_c
    lo = None if t1 is None else int(_ts(t1, unit))
    hi = None if t2 is None else int(_ts(t2, unit))
    what = "counts(): step" if by_step else "histogram(): bins"
    k = _positive_int(what, k)
    log._require_open()
    snap = log._read_pin()
    try:
        if lo is None or hi is None:
            with nogil:
                st_min = tl_min_ts(snap, &mn)
                if st_min == TL_OK:
                    st_max = tl_max_ts(snap, &mx)
            _check(st_min)
            _check(st_max)
            if st_min == TL_EOF:          # empty: the range collapses
                if lo is None:
                    lo = 0 if hi is None else hi
                if hi is None:
                    hi = lo
            else:
                if lo is None:
                    lo = mn
                if hi is None:
                    hi = int(mx) + 1      # max inclusive; may be 2**63 (Python int)
        width = hi - lo if hi > lo else 0
        if by_step:
            nb = (width + k - 1) // k
            if nb > _SIZE_MAX // 16:
                raise ValueError("counts(): %d buckets of step %d are too many; use a "
                                 "larger step" % (nb, k))
            if nb >= 2:
                q, r, d = k, 0, 1
            else:
                q, r, d = 0, 0, 1
        else:
            nb = k
            if nb > _SIZE_MAX // 16:
                raise ValueError("histogram(): %d bins are too many" % (nb,))
            if nb >= 2:
                q, r, d = width // k, width % k, k
            else:
                q, r, d = 0, 0, 1
        nb_c = nb
        closed_last = width > 0 and hi > _I64_MAX
        edges = _np.empty(nb + 1, dtype=_np.int64)
        counts = _np.zeros(nb, dtype=_np.int64)
        e = <int64_t *> cnp.PyArray_DATA(edges)
        out = <uint64_t *> cnp.PyArray_DATA(counts)
        lo_c = lo
        e[nb_c] = lo_c if width == 0 else <int64_t> min(hi, _I64_MAX)
        with nogil:
            _fill_edges(e, nb_c, lo_c, q, r, d)
            if nb_c > 0 and closed_last:
                # The last bucket ends at 2**63-1 inclusive, which no
                # half-open int64 edge can express: count it separately.
                st = tl_count_buckets(snap, e, nb_c, out)
                if st == TL_OK:
                    st = tl_count_since(snap, e[nb_c - 1], &out[nb_c - 1])
            elif nb_c > 0:
                st = tl_count_buckets(snap, e, nb_c + 1, out)
        _check(st)
        return (counts, edges)
    finally:
        tl_snapshot_release(snap)


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


# ---------------------------------------------------------------- TimelogIter

@cython.final
@cython.no_gc_clear
@cython.freelist(8)
cdef class TimelogIter:
    """Iterator over ``(ts, obj)`` records of one snapshot, in timestamp order.

    Created by ``log[t1:t2]``, ``range()``, ``since()``, ``until()``,
    ``all()``, ``point()``. ``len(it)`` is the number of records not yet
    yielded. Closing (``close()``, ``with``, or reaching the end) releases the
    snapshot pin.

    >>> log = Timelog(maintenance="disabled")
    >>> log.extend([(1, "a"), (2, "b"), (3, "c")])
    >>> with log[1:3] as it:
    ...     print(len(it), next(it), len(it), it.next_batch(5))
    2 (1, 'a') 1 [(2, 'b')]
    >>> log.close()
    """

    def __cinit__(self):
        self._it = NULL
        self._pos = 0
        self._n = 0
        self._eof = False
        self._busy = False
        self._close_pending = False
        self._tsbuf = self._ts_small
        self._hbuf = self._h_small
        self._cap = _ITER_SMALL
        self._refills = 0

    def __init__(self, *args, **kwargs):
        raise TypeError("TimelogIter objects are created by Timelog methods "
                        "(log[t1:t2], range(), since(), ...)")

    def __dealloc__(self):
        if self._it is not NULL:
            tl_iter_close(self._it)   # may run on_drop: GIL held
            self._it = NULL
            if self._owner is not None:
                _drain_noexcept(self._owner)
        if self._tsbuf is not self._ts_small:
            PyMem_Free(self._tsbuf)
            PyMem_Free(self._hbuf)

    # An iterator is one cursor: a call that reaches the engine iterator
    # marks it busy, so a second thread (the GIL is released around long
    # engine calls) or a __del__ re-entering it gets a RuntimeError instead
    # of racing on the cursor; close() from there is deferred to the end of
    # the busy call.

    cdef int _acquire(self) except -1:
        if self._busy:
            raise RuntimeError("TimelogIter is already in use (by another thread, or "
                               "re-entered from a __del__): an iterator is a single "
                               "cursor; give each thread its own")
        self._busy = True
        return 0

    cdef int _release_busy(self) except -1:
        self._busy = False
        if self._close_pending:
            self._close_pending = False
            self._close()
        return 0

    cdef int _close(self) except -1:
        cdef tl_iter_t *it = self._it
        self._it = NULL
        self._pos = 0
        self._n = 0
        self._eof = True
        self._last = None   # a closed iterator keeps no payload alive
        if it is not NULL:
            tl_iter_close(it)
            # Releasing the pin may free handles only this snapshot kept.
            if self._owner is not None:
                self._owner._drain()
        return 0

    cdef int _refill(self) except -1:
        cdef size_t n = 0
        cdef tl_status_t st
        cdef tl_ts_t *tsb
        cdef tl_handle_t *hb
        if self._refills > 0 and self._tsbuf is self._ts_small:
            # A second refill means a long scan: switch to the large buffers
            # (if memory is short, keep going with the small ones).
            tsb = <tl_ts_t *> PyMem_Malloc(_ITER_BUF * sizeof(tl_ts_t))
            hb = <tl_handle_t *> PyMem_Malloc(_ITER_BUF * sizeof(tl_handle_t))
            if tsb is not NULL and hb is not NULL:
                self._tsbuf = tsb
                self._hbuf = hb
                self._cap = _ITER_BUF
            else:
                PyMem_Free(tsb)
                PyMem_Free(hb)
        st = tl_iter_next_batch(self._it, self._tsbuf, self._hbuf, self._cap, &n)
        _check(st)
        self._refills += 1
        self._pos = 0
        self._n = n
        if st == TL_EOF or n < self._cap:
            self._eof = True
        return 0

    def __iter__(self):
        return self

    def __next__(self):
        cdef size_t i
        cdef tl_ts_t t
        cdef PyObject *last
        cdef PyObject *old0
        cdef PyObject *old1
        cdef object ts_obj, obj
        if self._busy:
            self._acquire()         # raises: in use by another call
        if self._pos >= self._n:
            if self._it is NULL:
                raise StopIteration
            if self._eof:
                self._close()
                raise StopIteration
            self._refill()
            if self._n == 0:
                self._close()
                raise StopIteration
        i = self._pos
        self._pos = i + 1
        # Both halves are read (and the object's reference taken) before
        # building the tuple: that allocation may run the cycle collector,
        # whose finalizers may run other threads, which may refill or close
        # this iterator under us.
        t = self._tsbuf[i]
        obj = <object> <PyObject *> <size_t> self._hbuf[i]
        ts_obj = t
        last = <PyObject *> self._last
        if self._last is not None and _refcnt(last) == 1:
            # Nobody kept the previous tuple (the caller unpacked it): refill
            # it in place, as zip() does, instead of allocating a new one.
            # Dropping the old items runs no user code: the old payload is
            # still referenced by the pinned snapshot's records.
            old0 = _tuple_get(last, 0)
            old1 = _tuple_get(last, 1)
            _incref(<PyObject *> ts_obj)
            _incref(<PyObject *> obj)
            _tuple_set(last, 0, <PyObject *> ts_obj)
            _tuple_set(last, 1, <PyObject *> obj)
            _decref(old0)
            _decref(old1)
            if not PyObject_GC_IsTracked(last):
                PyObject_GC_Track(last)   # the collector may have untracked it
            item = self._last
        else:
            item = (ts_obj, obj)
            self._last = item
        if self._eof and self._pos >= self._n:
            self._close()   # the tuple holds its own reference to obj
        return item

    def __len__(self):
        """Records not yet yielded."""
        cdef uint64_t rem = 0
        cdef tl_status_t st
        if self._it is NULL:
            return 0
        self._acquire()
        try:
            if self._refills == 0:
                # Fetch the first records now: a short range is then known
                # exactly without counting (list(log[a:b]) asks len() first).
                self._refill()
            if self._eof:
                return self._n - self._pos
            with nogil:
                st = tl_iter_remaining(self._it, &rem)
            _check(st)
            return rem + (self._n - self._pos)
        finally:
            self._release_busy()

    def next_batch(self, n):
        """Up to ``n`` next records as a list of ``(ts, obj)`` (``[]`` at the end).

        Any ``n >= 0`` is fine: ``next_batch(2**100)`` returns what is left.
        """
        if isinstance(n, (bool, _np.bool_)) or not PyIndex_Check(n):
            raise TypeError("next_batch(n): n must be an int, got %s" % (type(n).__name__,))
        n = _operator.index(n)
        if n < 0:
            raise ValueError("next_batch(n): n must be >= 0, got %d" % (n,))
        self._acquire()
        try:
            return self._next_batch(<Py_ssize_t> min(n, _PY_SSIZE_MAX))
        finally:
            self._release_busy()

    def next_arrays(self, n):
        """Up to ``n`` next records as ``(int64 ndarray, list)``: columnar ``next_batch``.

        The same records as ``next_batch(n)``, without a tuple per record;
        at the end both are empty (never StopIteration). Any ``n >= 0``.

        >>> log = Timelog(maintenance="disabled")
        >>> log.extend([(1, "a"), (2, "b"), (3, "c")])
        >>> it = log.all()
        >>> it.next_arrays(2), it.next_arrays(2), it.next_arrays(2)
        ((array([1, 2]), ['a', 'b']), (array([3]), ['c']), (array([], dtype=int64), []))
        >>> log.close()
        """
        return _iter_next_arrays(self, n)

    cdef list _next_batch(self, Py_ssize_t want):
        cdef Py_ssize_t got = 0, take, j
        cdef tl_ts_t t
        cdef size_t fetched = 0
        cdef uint64_t rem = 0
        cdef bint takes_all
        cdef tl_ts_t *tsb = NULL
        cdef tl_handle_t *hb = NULL
        cdef tl_status_t st
        out = []
        while got < want:
            if self._pos < self._n:
                take = min(<Py_ssize_t> (self._n - self._pos), want - got)
                for j in range(take):
                    # both halves read before the tuple is built (see __next__)
                    t = self._tsbuf[self._pos + j]
                    obj = <object> <PyObject *> <size_t> self._hbuf[self._pos + j]
                    out.append((t, obj))
                self._pos += take
                got += take
                continue
            if self._it is NULL or self._eof:
                break
            if want - got >= _NOGIL_BATCH:
                # One large fetch straight into temporary arrays, GIL released,
                # sized by the exact count of what is left (never by n alone,
                # which may be far beyond memory).
                with nogil:
                    st = tl_iter_remaining(self._it, &rem)
                _check(st)
                takes_all = rem <= <uint64_t> (want - got)
                take = <Py_ssize_t> rem if takes_all else want - got
                if take == 0:
                    self._eof = True
                    break
                tsb = <tl_ts_t *> PyMem_Malloc(take * sizeof(tl_ts_t))
                hb = <tl_handle_t *> PyMem_Malloc(take * sizeof(tl_handle_t))
                try:
                    if tsb is NULL or hb is NULL:
                        raise MemoryError()
                    with nogil:
                        st = tl_iter_next_batch(self._it, tsb, hb, <size_t> take, &fetched)
                    _check(st)
                    for j in range(<Py_ssize_t> fetched):
                        t = tsb[j]
                        obj = <object> <PyObject *> <size_t> hb[j]
                        out.append((t, obj))
                    got += fetched
                    if st == TL_EOF or takes_all or <Py_ssize_t> fetched < take:
                        self._eof = True
                finally:
                    PyMem_Free(tsb)
                    PyMem_Free(hb)
                    tsb = NULL
                    hb = NULL
                continue
            self._refill()
            if self._n == 0:
                break
        if self._it is not NULL and self._eof and self._pos >= self._n:
            self._close()
        return out

    def to_numpy(self):
        """The records not yet yielded as ``(int64 ndarray, list)``; closes the iterator.

        Same records and order as ``list(it)``, built in C like
        :meth:`Timelog.arrays`: sized by the exact remaining count and filled
        with the GIL released. A closed or exhausted iterator gives empty
        results.

        >>> log = Timelog(maintenance="disabled")
        >>> log.extend([(1, "a"), (2, "b"), (3, "c")])
        >>> it = log[1:]
        >>> next(it)
        (1, 'a')
        >>> it.to_numpy()
        (array([2, 3]), ['b', 'c'])
        >>> it.closed
        True
        >>> log.close()
        """
        cdef uint64_t rem = 0
        cdef size_t npre
        cdef tl_status_t st
        if self._it is NULL:
            return (_np.empty(0, dtype=_np.int64), [])
        self._acquire()
        try:
            npre = self._n - self._pos
            if not self._eof:
                with nogil:
                    st = tl_iter_remaining(self._it, &rem)
                _check(st)
            try:
                return _fill_arrays(self._it, <size_t> rem, &self._tsbuf[self._pos],
                                    &self._hbuf[self._pos], npre, True)
            finally:
                self._close()     # even on an error: the cursor's position is lost
        finally:
            self._release_busy()

    def view(self):
        """Zero-copy :class:`PageSpanIter` over this iterator's range and snapshot.

        Covers the iterator's whole range (not only what is left), and only
        flushed data. Raises TimelogError once the iterator is closed.
        """
        cdef _Snapshot snap
        if self._it is NULL:
            raise TimelogError("iterator is closed")
        snap = _Snapshot.__new__(_Snapshot)
        # Checked again: that allocation may run the cycle collector, whose
        # finalizers may have closed this iterator.
        if self._it is NULL:
            raise TimelogError("iterator is closed")
        _check(tl_iter_snapshot(self._it, &snap._snap))
        snap._owner = self._owner
        if self._kind == _K_ALL:
            return _make_span_iter(snap, _K_ALL, 0, 0)
        if self._kind == _K_SINCE:
            return _make_span_iter(snap, _K_SINCE, self._t1, 0)
        if self._kind == _K_UNTIL:
            return _make_span_iter(snap, _K_RANGE, TL_TS_MIN, self._t2)
        if self._kind == _K_POINT:
            if self._t1 == TL_TS_MAX:
                return _make_span_iter(snap, _K_SINCE, self._t1, 0)
            return _make_span_iter(snap, _K_RANGE, self._t1, self._t1 + 1)
        return _make_span_iter(snap, _K_RANGE, self._t1, self._t2)

    def close(self):
        """Releases the snapshot pin now; idempotent.

        From another thread while a call on this iterator runs, the close
        happens when that call returns.
        """
        if self._busy:
            self._close_pending = True
            return
        self._close()

    @property
    def closed(self):
        return self._it is NULL

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb):
        self.close()
        return False

    def __repr__(self):
        """The range (ticks, then ISO 8601 UTC), the records not yet yielded
        (an exact count, O(sources log n)), closed.

        >>> log = Timelog(maintenance="disabled")
        >>> log.extend([(1, "a"), (2, "b"), (3, "c")])
        >>> it = log[1:3]; it
        <TimelogIter [1, 3) = [1970-01-01T00:00:00.001Z, 1970-01-01T00:00:00.003Z) remaining=2>
        >>> it.close(); it
        <TimelogIter [1, 3) = [1970-01-01T00:00:00.001Z, 1970-01-01T00:00:00.003Z) closed>
        >>> log.close()
        """
        if self._kind == _K_ALL:
            rng = "all"
        elif self._kind == _K_SINCE:
            rng = "[%d, 2**63-1]" % (self._t1,)
        elif self._kind == _K_UNTIL:
            rng = "[-2**63, %d)" % (self._t2,)
        elif self._kind == _K_POINT:
            rng = "ts == %d" % (self._t1,)
        else:
            rng = "[%d, %d)" % (self._t1, self._t2)
        rng += _iter_iso(self._owner, self._kind, self._t1, self._t2)
        if self._it is NULL:
            return "<TimelogIter %s closed>" % (rng,)
        if self._busy:
            return "<TimelogIter %s in use>" % (rng,)
        return "<TimelogIter %s remaining=%d>" % (rng, len(self))

    def _repr_html_(self):
        """The range (ticks and ISO 8601 UTC times) and the records left, as a table."""
        return _iter_html(self)

    def __reduce__(self):
        raise TypeError("TimelogIter objects cannot be pickled: an iterator is a cursor "
                        "over a snapshot pinned inside a live engine, which exists only "
                        "in this process; pickle list(it), it.to_numpy() or the log itself")


# ---------------------------------------------------------------- zero-copy spans

@cython.final
@cython.no_gc_clear
cdef class PageSpanIter:
    """Iterator of :class:`PageSpan` over one snapshot (flushed data only)."""

    def __cinit__(self):
        self._it = NULL

    def __init__(self, *args, **kwargs):
        raise TypeError("PageSpanIter objects are created by Timelog.views()")

    def __dealloc__(self):
        if self._it is not NULL:
            tl_spans_close(self._it)   # may run on_drop: GIL held
            self._it = NULL

    cdef int _close(self) except -1:
        cdef tl_span_iter_t *it = self._it
        self._it = NULL
        if it is not NULL:
            tl_spans_close(it)
        self._snap = None
        return 0

    def __iter__(self):
        return self

    def __next__(self):
        cdef tl_span_t sp
        cdef tl_status_t st
        cdef PageSpan span
        while True:
            if self._it is NULL:
                raise StopIteration
            st = tl_spans_next(self._it, &sp)
            if st == TL_EOF:
                self._close()
                raise StopIteration
            _check(st)
            if sp.n > 0:
                break
        # The pin is taken before the allocation below, which may run the
        # cycle collector, whose finalizers may close this iterator.
        snap = self._snap
        span = PageSpan.__new__(PageSpan)
        span._snap = snap
        span._ts = sp.ts
        span._h = sp.h
        span._n = sp.n
        span._level = sp.level
        return span

    def close(self):
        """Releases this iterator's pin (spans already yielded keep theirs)."""
        self._close()

    @property
    def closed(self):
        return self._it is NULL

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb):
        self._close()
        return False

    def __repr__(self):
        return "<PageSpanIter %s>" % ("closed" if self._it is NULL else "open",)

    def __reduce__(self):
        raise TypeError("PageSpanIter objects cannot be pickled: they walk engine page "
                        "memory pinned by a snapshot in this process; pickle "
                        "[span.copy_timestamps() for span in it] instead")


@cython.final
@cython.no_gc_clear
@cython.freelist(16)
cdef class PageSpan:
    """A run of visible records in the engine's immutable page memory, without copying.

    A span lies inside one immutable source (a memrun, or an L0/L1 segment,
    whose pages are one contiguous timestamp array with fence keys), clipped
    to the query range, with the records hidden by deletes cut out; so a
    span may cover several pages, and a page cut by a delete yields several
    spans. ``timestamps`` is a read-only int64 NumPy array over that memory
    (``flags.owndata`` and ``flags.writeable`` are False); the array keeps
    the snapshot pin alive through its ``base``, so it stays valid after the
    span, its iterator and even the log are closed (the engine frees the
    pages when the last pin goes). ``objects()`` reads the payloads lazily.
    ``len(span)``, ``with span:`` (``close()`` drops the span's own pin).
    The span covers ``[start_ts, end_ts)``; ``end_ts`` is ``last_ts + 1``, or
    None when ``last_ts`` is ``2**63-1`` (an open end, usable as a slice
    bound: ``log[span.start_ts:span.end_ts]``).

    >>> import numpy as np
    >>> log = Timelog(maintenance="disabled")
    >>> log.extend((t, "v%d" % t) for t in range(5)); log.flush()
    >>> span = next(log.views())
    >>> a = span.timestamps
    >>> a.flags.owndata, a.flags.writeable, np.shares_memory(a, span.timestamps)
    (False, False, True)
    >>> span.objects()[1:3]
    ['v1', 'v2']
    >>> span.close(); log.close()
    >>> a.tolist()        # still valid: the array holds its own pin
    [0, 1, 2, 3, 4]
    """

    def __init__(self, *args, **kwargs):
        raise TypeError("PageSpan objects are yielded by Timelog.views()")

    cdef int _require(self) except -1:
        if self._snap is None:
            raise TimelogError("page span is closed")
        return 0

    @property
    def timestamps(self):
        """Read-only int64 ndarray over the page (no copy); a new view per access."""
        cdef cnp.npy_intp dims
        cdef cnp.ndarray arr
        self._require()
        # The pin is taken first: creating the array may run the cycle
        # collector, whose finalizers may close this span meanwhile.
        snap = self._snap
        dims = <cnp.npy_intp> self._n
        arr = cnp.PyArray_SimpleNewFromData(1, &dims, cnp.NPY_INT64,
                                            <void *> <tl_ts_t *> self._ts)
        cnp.set_array_base(arr, snap)
        cnp.PyArray_CLEARFLAGS(arr, cnp.NPY_ARRAY_WRITEABLE)
        return arr

    @property
    def _address(self):
        """The C address of the span's first timestamp, inside the engine's page
        memory (for tests: ``timestamps`` must point exactly there)."""
        self._require()
        return <size_t> self._ts

    # Buffer protocol: memoryview(span), np.frombuffer(span, np.int64) and
    # np.asarray(span) read the span's timestamps in place, read-only, as
    # 1-D int64 ('q'). The export references this span (buf.obj), whose pin
    # keeps the pages alive; close() refuses while exports are counted, so
    # the pin cannot go from under a live view.
    def __getbuffer__(self, Py_buffer *buf, int flags):
        if self._snap is None:
            raise ValueError("cannot export a buffer from %r: the span is closed"
                             % (self,))
        if flags & PyBUF_WRITABLE:
            raise BufferError("PageSpan buffers are read-only: the timestamps live in "
                              "the engine's immutable pages (use copy_timestamps() for "
                              "a writable copy)")
        self._buf_shape = <Py_ssize_t> self._n
        self._buf_stride = <Py_ssize_t> sizeof(tl_ts_t)
        buf.buf = <void *> <tl_ts_t *> self._ts
        buf.obj = self
        buf.len = self._buf_shape * self._buf_stride
        buf.readonly = 1
        buf.itemsize = sizeof(tl_ts_t)
        buf.format = NULL
        if flags & PyBUF_FORMAT:
            buf.format = b"q"
        buf.ndim = 1
        buf.shape = NULL
        buf.strides = NULL
        if flags & PyBUF_ND:
            buf.shape = &self._buf_shape
        if (flags & PyBUF_STRIDES) == PyBUF_STRIDES:
            buf.strides = &self._buf_stride
        buf.suboffsets = NULL
        buf.internal = NULL
        self._exports += 1

    def __releasebuffer__(self, Py_buffer *buf):
        self._exports -= 1

    def copy_timestamps(self):
        """An owned, writable copy of ``timestamps``."""
        cdef cnp.npy_intp dims
        cdef cnp.ndarray arr
        self._require()
        dims = <cnp.npy_intp> self._n
        arr = cnp.PyArray_EMPTY(1, &dims, cnp.NPY_INT64, 0)
        if self._n:
            memcpy(cnp.PyArray_DATA(arr), self._ts, self._n * sizeof(tl_ts_t))
        return arr

    def objects(self):
        """A lazy, read-only sequence of this span's objects."""
        cdef PageSpanObjectsView v
        self._require()
        snap = self._snap       # first: the allocation below may run finalizers
        v = PageSpanObjectsView.__new__(PageSpanObjectsView)
        v._snap = snap
        v._h = self._h
        v._n = self._n
        return v

    def __len__(self):
        return self._n if self._snap is not None else 0

    @property
    def start_ts(self):
        """First timestamp of the span."""
        self._require()
        return self._ts[0]

    @property
    def last_ts(self):
        """Last timestamp of the span (inclusive)."""
        self._require()
        return self._ts[self._n - 1]

    @property
    def end_ts(self):
        """Exclusive end: ``last_ts + 1``, or None when ``last_ts == 2**63-1``."""
        self._require()
        if self._ts[self._n - 1] == TL_TS_MAX:
            return None
        return self._ts[self._n - 1] + 1

    @property
    def t1(self):
        """Alias of ``start_ts``: the span covers ``[t1, t2)``."""
        return self.start_ts

    @property
    def t2(self):
        """Alias of ``end_ts``."""
        return self.end_ts

    @property
    def level(self):
        """Where the page lives: 0 = memrun, 1 = L0 segment, 2 = L1 segment."""
        return self._level

    @property
    def closed(self):
        return self._snap is None

    def close(self):
        """Drops this span's pin (arrays already created keep their own).

        Raises BufferError while a buffer export (``memoryview(span)``,
        ``np.frombuffer(span, ...)``, ``np.asarray(span)``) is alive: the
        export reads the pinned pages through this span. Release those
        views, then close again.
        """
        if self._exports > 0:
            raise BufferError("PageSpan.close(): %d buffer export(s) of this span are "
                              "still alive (memoryview / np.frombuffer / np.asarray); "
                              "release them first" % (self._exports,))
        self._snap = None

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb):
        self.close()
        return False

    def __repr__(self):
        """Level (``span.level``, then the layer it names), length and
        first/last timestamp (inclusive), each also as ISO 8601 UTC.

        >>> log = Timelog(maintenance="disabled")
        >>> log.extend([(5, "a"), (9, "b")]); log.flush()
        >>> span = next(log.views()); span
        <PageSpan level=1 (L0) len=2 first_ts=5 (1970-01-01T00:00:00.005Z) last_ts=9 (1970-01-01T00:00:00.009Z)>
        >>> span.close(); span
        <PageSpan level=1 (L0) len=2 closed>
        >>> log.close()
        """
        level = _span_level(self._level)
        if self._snap is None:
            return "<PageSpan level=%s len=%d closed>" % (level, self._n)
        return "<PageSpan level=%s len=%d first_ts=%s last_ts=%s>" % (
            level, self._n, _span_ts(self, self._ts[0]), _span_ts(self, self._ts[self._n - 1]))

    def _repr_html_(self):
        """Level, length and first/last times (ISO 8601 UTC), as a table."""
        return _span_html(self)

    def __reduce__(self):
        raise TypeError("PageSpan objects cannot be pickled: a span points into engine "
                        "page memory pinned by a snapshot in this process; pickle "
                        "span.copy_timestamps() and span.objects().copy() instead")


@cython.final
@cython.no_gc_clear
cdef class PageSpanObjectsView:
    """Lazy read-only sequence of a span's objects (reads handles on access)."""

    def __init__(self, *args, **kwargs):
        raise TypeError("PageSpanObjectsView objects come from PageSpan.objects()")

    def __len__(self):
        return self._n

    def __getitem__(self, key):
        cdef Py_ssize_t i
        if isinstance(key, slice):
            return [<object> <PyObject *> <size_t> self._h[i]
                    for i in range(*key.indices(<Py_ssize_t> self._n))]
        if isinstance(key, bool) or not PyIndex_Check(key):
            raise TypeError("indices must be integers or slices, not %s"
                            % (type(key).__name__,))
        i = key
        if i < 0:
            i += <Py_ssize_t> self._n
        if i < 0 or i >= <Py_ssize_t> self._n:
            raise IndexError("PageSpanObjectsView index out of range")
        return <object> <PyObject *> <size_t> self._h[i]

    def __iter__(self):
        cdef Py_ssize_t i
        for i in range(<Py_ssize_t> self._n):
            yield <object> <PyObject *> <size_t> self._h[i]

    @property
    def closed(self):
        """Always False: the view holds its own snapshot pin, so it stays readable
        after its span is closed (the reference design's views raise then)."""
        return self._snap is None

    def copy(self):
        """The objects as a new list."""
        cdef Py_ssize_t i
        return [<object> <PyObject *> <size_t> self._h[i] for i in range(<Py_ssize_t> self._n)]

    def __repr__(self):
        return "<PageSpanObjectsView n=%d>" % (self._n,)

    def __reduce__(self):
        raise TypeError("PageSpanObjectsView objects cannot be pickled: the view reads "
                        "payloads through a snapshot pin in this process; pickle "
                        "view.copy() instead")


include "_steps.pxi"
