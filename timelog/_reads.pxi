# _reads.pxi (included by _core.pyx): array-native reads: bounds (None ->
# a range kind), counts, arrays of a range, histogram and fixed-step counts.

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


cdef tuple _read_range(_TimelogState log, int kind, int64_t a, int64_t b, bint with_objects):
    """arrays()/timestamps(): exact count and iterator over one snapshot."""
    cdef tl_snapshot_t *snap = NULL
    cdef tl_iter_t *it = NULL
    cdef uint64_t n = 0
    cdef tl_status_t st
    _log_require_open(log)
    snap = _log_read_pin(log)
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


cdef tuple _bucket_counts(_TimelogState log, object t1, object t2, object k, bint by_step):
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
    _log_require_open(log)
    snap = _log_read_pin(log)
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


cdef inline object _Timelog_getitem(_TimelogState self, object key):
    cdef int64_t a = 0, b = 0
    cdef int kind
    _log_require_open(self)
    if type(key) is slice:
        _check_step(key)
        kind = _range_kind((<slice> key).start, (<slice> key).stop, self._unit, &a, &b)
        return _log_iter(self, kind, a, b)
    return _log_at(self, _ts(key, self._unit))


cdef inline list _log_at(_TimelogState self, int64_t t):
    # tl_point_in reads the kept read pin without allocating. The
    # handles are INCREFed in plain C straight after the read, before
    # anything that can run Python code (creating the list may run the
    # cycle collector, whose finalizers may delete, flush and drain), so
    # no drain can release a returned handle in between.
    cdef tl_handle_t hb[64]
    cdef tl_handle_t *buf = hb
    cdef size_t cap = 64, n = 0, i
    _log_require_open(self)
    try:
        while True:
            _check(tl_point_in(_log_read_snap(self), t, buf, cap, &n))
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


cdef object _Timelog_contains(_TimelogState self, object ts):
    cdef int64_t t
    cdef tl_snapshot_t *snap = NULL
    cdef tl_iter_t *it = NULL
    cdef tl_status_t st
    cdef tl_ts_t rts
    cdef tl_handle_t rh
    _log_require_open(self)
    t = _ts(ts, self._unit)
    snap = _log_read_pin(self)
    try:
        _check(tl_iter_point(snap, t, &it))
        st = tl_iter_next(it, &rts, &rh)
        _check(st)
        return st == TL_OK
    finally:
        tl_iter_close(it)
        tl_snapshot_release(snap)


cdef inline object _Timelog_count(_TimelogState self, object t1, object t2):
    cdef uint64_t n = 0
    cdef tl_snapshot_t *snap = NULL
    cdef tl_status_t st
    cdef int64_t a = 0, b = 0
    cdef int kind
    _log_require_open(self)
    kind = _range_kind(t1, t2, self._unit, &a, &b)
    snap = _log_read_pin(self)
    with nogil:
        st = _count_kind(snap, kind, a, b, &n)
    tl_snapshot_release(snap)
    _check(st)
    return n


cdef object _Timelog_arrays(_TimelogState self, object t1, object t2):
    cdef int64_t a = 0, b = 0
    cdef int kind
    _log_require_open(self)
    kind = _range_kind(t1, t2, self._unit, &a, &b)
    return _read_range(self, kind, a, b, True)


cdef object _Timelog_timestamps(_TimelogState self, object t1, object t2):
    cdef int64_t a = 0, b = 0
    cdef int kind
    _log_require_open(self)
    kind = _range_kind(t1, t2, self._unit, &a, &b)
    return _read_range(self, kind, a, b, False)[0]


cdef object _Timelog_histogram(_TimelogState self, object t1, object t2, object bins, object step):
    _log_require_open(self)
    if step is not None or _is_duration(bins):
        return _histogram_step(self, t1, t2, bins, step)
    return _bucket_counts(self, t1, t2, bins, False)


cdef object _Timelog_counts(_TimelogState self, object t1, object t2, object step):
    _log_require_open(self)
    step = _step_to_units(step, self._unit, "counts(): step")
    return _bucket_counts(self, t1, t2, step, True)[0]


cdef object _log_neighbour(_TimelogState self, int which, int64_t t):
    cdef tl_snapshot_t *snap = NULL
    cdef tl_status_t st
    cdef tl_ts_t out = 0
    _log_require_open(self)
    snap = _log_read_pin(self)
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
