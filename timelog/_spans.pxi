# _spans.pxi (included by _core.pyx): zero-copy page spans: PageSpanIter,
# PageSpan (buffer protocol, NumPy views) and PageSpanObjectsView.

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


cdef object _Timelog_views(_TimelogState self, object t1, object t2, object kind):
    cdef _Snapshot snap
    _log_require_open(self)
    if kind != "segment":
        raise ValueError("views(): kind must be 'segment', got %r" % (kind,))
    snap = _log_snapshot(self)
    if t1 is None and t2 is None:
        return _make_span_iter(snap, _K_ALL, 0, 0)
    if t1 is None:
        return _make_span_iter(snap, _K_RANGE, TL_TS_MIN, _ts(t2, self._unit))
    if t2 is None:
        return _make_span_iter(snap, _K_SINCE, _ts(t1, self._unit), 0)
    return _make_span_iter(snap, _K_RANGE, _ts(t1, self._unit), _ts(t2, self._unit))
