# _bulk.pxi (included by _core.pyx): Timelog.bulk_append(): columns of
# timestamps (any int64-convertible buffer) and objects, stored in one call.


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
    if _is_arrow_column(objects):
        # A pyarrow array's items are pyarrow scalars: store the Python
        # values instead (nulls are None), as from_arrow does.
        return _importlib.import_module("timelog._arrow_in").objects_column(objects)
    dt = getattr(objects, "dtype", None)
    if isinstance(dt, _np.dtype) and dt.kind == "O" and getattr(objects, "ndim", 0) == 1:
        arr = _np.asarray(objects)
        if arr.dtype.kind == "O" and arr.ndim == 1:
            return arr.tolist()
    return list(objects)


cdef object _Timelog_bulk_append(_TimelogState self, object timestamps, object objects, object mostly_ordered):
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
    _log_require_open(self)
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
    log = _log_wbegin(self)
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
        _log_wend(self, log)
    if bad >= 0:
        _log_guard(self, bad_ts)
    if st != TL_OK and st != TL_EBUSY:
        _check(st)
    _log_after_write(self, st)
