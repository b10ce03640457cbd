# _ingest.pxi (included by _core.pyx): the write paths that take many
# records: bulk_append()'s object list and extend()'s scanners, which move
# exact (int, obj) input straight into an engine batch.

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
