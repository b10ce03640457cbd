# _ingest.pxi (included by _core.pyx): extend(): many records in ONE engine
# call, all or none; its scanners move exact (int, obj) input straight into
# an engine batch.

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


cdef int _log_extend_direct(_TimelogState self, object items, object tss, object objs, Py_ssize_t n, tl_ts_t *tsa, tl_handle_t *ha, Py_ssize_t *pi, size_t *pk) except -1:
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
    log = _log_wbegin(self)
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
        _log_wend(self, log)
    if not stored:
        _check(st)
    _log_after_write(self, st)
    return 1


@cython.boundscheck(True)
cdef object _Timelog_extend(_TimelogState self, object ts_or_iterable, object objects, object mostly_ordered, object insert_on_error):
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
    _log_require_open(self)
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
        if _log_extend_direct(self, items, tss, objs, n, tsa, ha, &i, &k):
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
                _log_guard(self, t)
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
        log = _log_wbegin(self)
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
        _log_wend(self, log)
    if st != TL_OK and st != TL_EBUSY:
        _decref_handles(ha, k)
        PyMem_Free(ha)
        _check(st)
        return
    PyMem_Free(ha)
    if skipped:
        self._extend_skipped += skipped
    _log_after_write(self, st)
