# _iter.pxi (included by _core.pyx): TimelogIter, the cursor over a range.

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
                _log_drain(self._owner)
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

    def __arrow_c_stream__(self, requested_schema=None):
        """The records not yet yielded as an Arrow PyCapsule stream (the iterator stays put)."""
        return _arrow_stream_of_iter(self, requested_schema)

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
