# _export.pxi (included by _core.pyx): to_numpy() and to_dict(): a range
# exported in chunks, the engine filling each with the GIL released.

# ---------------------------------------------------------------- exports (to_numpy, to_dict)

cdef extern from "_dict_presized.h":
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


cdef tl_iter_t *_export_iter(_TimelogState log, int kind, int64_t a, int64_t b,
                             uint64_t *n) except NULL:
    """An iterator over [a, b) of one snapshot and its exact count; the
    iterator holds its own pin (the caller closes it)."""
    cdef tl_snapshot_t *snap
    cdef tl_iter_t *it = NULL
    cdef tl_status_t st
    _log_require_open(log)
    snap = _log_read_pin(log)
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


cdef tuple _export_numpy(_TimelogState log, int kind, int64_t a, int64_t b, object dt, int mode):
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


cdef dict _export_dict(_TimelogState log, int kind, int64_t a, int64_t b):
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


cdef object _Timelog_to_numpy(_TimelogState self, object t1, object t2, object dtype):
    cdef int64_t a = 0, b = 0
    cdef int kind
    _log_require_open(self)
    dt, mode = _export_dtype(dtype)
    kind = _range_kind(t1, t2, self._unit, &a, &b)
    return _export_numpy(self, kind, a, b, dt, mode)


cdef object _Timelog_to_dict(_TimelogState self, object t1, object t2):
    cdef int64_t a = 0, b = 0
    cdef int kind
    _log_require_open(self)
    kind = _range_kind(t1, t2, self._unit, &a, &b)
    return _export_dict(self, kind, a, b)
