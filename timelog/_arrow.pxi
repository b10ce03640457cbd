# timelog/_arrow.pxi: the Arrow PyCapsule stream export (issue 18, item 1).
# Included at the end of _core.pyx (it uses _Snapshot, TimelogIter, _check, ...).
#
# ``log.__arrow_c_stream__``, ``it.__arrow_c_stream__`` and
# ``log.arrow(...).__arrow_c_stream__`` hand out an ArrowArrayStream of
# record batches ``struct<ts: timestamp[unit, tz=UTC], value...>``.
#
# Layout of one export. Everything is decided while __arrow_c_stream__ runs
# (GIL held, one snapshot): the range is cut into chunks, and each chunk is
# either
# - a zero-copy span: a run of records in one immutable source (memrun, L0 or
#   L1 segment) that no other source and no memtable record reaches into
#   (the exact count over its interval equals its length), so the
#   concatenation of the chunks is exactly the merged iteration order; its
#   ts buffer points into the page memory, kept alive by the snapshot pin; or
# - a copied gap: everything between two such spans (memtable records,
#   overlapping L0 segments, ties across sources) read through the engine's
#   merge iterator with the GIL released, at most _ARROW_CHUNK records a
#   chunk.
# Payloads of all chunks go through pyarrow once (one inferred type for the
# whole stream), then the result is sliced per chunk; the slices are moved
# into the stream. So get_next/get_schema never run Python code and never
# need the GIL, which matters: Polars and DuckDB call them from their own
# threads, possibly while the calling thread holds the GIL and waits.
#
# Lifetime: the snapshot pin (a _Snapshot, which also drains the log's
# retired queue when released) is shared by the stream and by every ts
# child it exported, through an atomic count in C (tlpy_keep_t). The last
# one to go takes the GIL (PyGILState_Ensure: Arrow release callbacks may run
# on any thread, without it) and drops the _Snapshot. At interpreter
# shutdown the reference is left to process exit instead: taking the GIL
# there can hang or crash a foreign thread. Every block a release callback
# frees is PyMem_Raw memory, which needs no GIL.

from cpython.mem cimport PyMem_Realloc

cdef extern from "_arrow_stream.h":
    ctypedef struct tlpy_stream_t:
        pass
    struct ArrowSchema:
        pass
    struct ArrowArray:
        pass
    tlpy_stream_t *tlpy_stream_new(const char *ts_format) noexcept
    void tlpy_stream_free(tlpy_stream_t *s) noexcept
    int tlpy_stream_add(tlpy_stream_t *s, int64_t n, const int64_t *ts, int64_t *own) noexcept
    void tlpy_stream_skip(tlpy_stream_t *s, int64_t k) noexcept
    int64_t tlpy_stream_len(const tlpy_stream_t *s, int64_t i) noexcept
    int64_t tlpy_stream_nchunks(const tlpy_stream_t *s) noexcept
    const int64_t *tlpy_stream_ts(const tlpy_stream_t *s, int64_t i) noexcept
    int tlpy_stream_has_zero_copy(const tlpy_stream_t *s) noexcept
    int tlpy_stream_set_nvals(tlpy_stream_t *s, int64_t k) noexcept
    int tlpy_stream_set_val_schema(tlpy_stream_t *s, int64_t k, const ArrowSchema *src,
                                   const char *name) noexcept
    void tlpy_stream_move_val(tlpy_stream_t *s, int64_t i, int64_t k, ArrowArray *src) noexcept
    int tlpy_stream_set_keep(tlpy_stream_t *s, object obj) except -1
    object tlpy_stream_capsule(tlpy_stream_t *s)
    const ArrowSchema *tlpy_schema_of(object cap) except NULL
    ArrowArray *tlpy_array_of(object cap) except NULL
    int64_t tlpy_array_len(const ArrowArray *a) noexcept


cdef enum:
    _ARROW_CHUNK = 1 << 20   # records per copied chunk (memtable, overlaps)

_ARROW_TS_FORMATS = {TL_UNIT_S: b"tss:UTC", TL_UNIT_MS: b"tsm:UTC",
                     TL_UNIT_US: b"tsu:UTC", TL_UNIT_NS: b"tsn:UTC"}


cdef tl_status_t _count_closed(tl_snapshot_t *snap, int64_t x, int64_t y,
                               uint64_t *out) noexcept nogil:
    """Visible records in the closed interval [x, y] (y may be 2**63-1)."""
    if y == TL_TS_MAX:
        return tl_count_since(snap, x, out)
    return tl_count_range(snap, x, y + 1, out)


@cython.final
cdef class _Handles:
    """The handles of an export's rows, in order. Borrowed: valid while the
    export's snapshot is pinned (payloads are converted before it returns)."""
    cdef tl_handle_t *h
    cdef size_t n
    cdef size_t cap

    def __dealloc__(self):
        PyMem_Free(self.h)

    cdef tl_handle_t *reserve(self, size_t k) except NULL:
        """Room for k more handles at the end; returns where they go."""
        cdef size_t cap = self.cap
        cdef tl_handle_t *p
        if self.n + k > cap:
            cap = max(self.n + k, 2 * cap, <size_t> 1024)
            p = <tl_handle_t *> PyMem_Realloc(self.h, cap * sizeof(tl_handle_t))
            if p is NULL:
                raise MemoryError()
            self.h = p
            self.cap = cap
        return self.h + self.n


cdef int _arrow_copy_iter(tlpy_stream_t *s, tl_iter_t *it, uint64_t n, _Handles hs) except -1:
    """Copies n records of it into chunks of at most _ARROW_CHUNK, the
    timestamps into buffers the stream owns and the handles onto hs (unless
    None), both filled by the engine with the GIL released."""
    cdef tl_handle_t *hdst = NULL
    cdef int64_t *own
    cdef size_t want, got = 0
    cdef tl_status_t st
    while n > 0:
        want = <size_t> min(n, <uint64_t> _ARROW_CHUNK)
        if hs is not None:
            hdst = hs.reserve(want)
        own = <int64_t *> PyMem_RawMalloc(want * sizeof(int64_t))
        if own is NULL:
            raise MemoryError()
        with nogil:
            st = tl_iter_next_batch(it, own, hdst, want, &got)
        if (st != TL_OK and st != TL_EOF) or got == 0:
            PyMem_RawFree(own)
            _check(st)
            raise TimelogError("internal error: the engine yielded fewer records "
                               "than its exact count")
        if tlpy_stream_add(s, <int64_t> got, own, own) != 0:
            raise MemoryError()
        if hs is not None:
            hs.n += got
        n -= got
    return 0


cdef int _arrow_copy_gap(tlpy_stream_t *s, tl_snapshot_t *snap, int64_t x, int64_t y,
                         _Handles hs) except -1:
    """Copies the closed interval [x, y] through the merge iterator."""
    cdef uint64_t n = 0
    cdef tl_iter_t *it = NULL
    cdef tl_status_t st
    with nogil:
        st = _count_closed(snap, x, y, &n)
        if st == TL_OK and n > 0:
            if y == TL_TS_MAX:
                st = tl_iter_since(snap, x, &it)
            else:
                st = tl_iter_range(snap, x, y + 1, &it)
    if st != TL_OK:
        tl_iter_close(it)
        _check(st)
    if n == 0:
        return 0
    try:
        return _arrow_copy_iter(s, it, n, hs)
    finally:
        # The caller's snapshot pins the same state, so closing drops nothing.
        tl_iter_close(it)


cdef int _arrow_plan(tlpy_stream_t *s, tl_snapshot_t *snap, int64_t lo, int64_t hi,
                     _Handles hs) except -1:
    """Cuts [lo, hi] (closed) into zero-copy spans and copied gaps, in order."""
    cdef tl_span_iter_t *sit = NULL
    cdef tl_span_t sp
    cdef tl_status_t st
    cdef uint64_t c = 0
    cdef int64_t cursor = lo, first, last
    cdef size_t n
    cdef bint done = False
    if hi == TL_TS_MAX:
        st = tl_spans_since(snap, lo, &sit)
    else:
        st = tl_spans_range(snap, lo, hi + 1, &sit)
    _check(st)
    spans = []
    try:
        while True:
            st = tl_spans_next(sit, &sp)
            if st == TL_EOF:
                break
            _check(st)
            if sp.n > 0:
                spans.append((sp.ts[0], sp.ts[sp.n - 1], <size_t> sp.ts, <size_t> sp.h, sp.n))
    finally:
        tl_spans_close(sit)
    # Sources come in manifest order; time order is what the stream needs.
    spans.sort()
    for first, last, tsa, ha, n in spans:
        if done or first < cursor:
            continue
        _check(_count_closed(snap, first, last, &c))
        if c != n:
            continue      # another source reaches into it: left to a copied gap
        if first > cursor:
            _arrow_copy_gap(s, snap, cursor, first - 1, hs)
        if tlpy_stream_add(s, <int64_t> n, <const int64_t *> <size_t> tsa, NULL) != 0:
            raise MemoryError()
        if hs is not None:
            memcpy(hs.reserve(n), <const tl_handle_t *> <size_t> ha, n * sizeof(tl_handle_t))
            hs.n += n
        if last == TL_TS_MAX:
            done = True
        else:
            cursor = last + 1
    if not done:
        _arrow_copy_gap(s, snap, cursor, hi, hs)
    return 0


cdef object _arrow_fast_numbers(const tl_handle_t *h, size_t n):
    """A float64 (int64) ndarray of the n objects when every one is an exact float
    (an exact int within int64): the type pyarrow would infer, read here in
    C at a few ns a record instead of through pyarrow's per-object
    inference. None otherwise (the general path decides)."""
    cdef size_t i
    cdef PyObject *o
    cdef double *d
    cdef int64_t *v
    cdef int overflow = 0
    cdef cnp.npy_intp dims = n
    cdef cnp.ndarray arr
    if n == 0:
        return None
    if _is_exact_float(<PyObject *> <size_t> h[0]):
        arr = cnp.PyArray_EMPTY(1, &dims, cnp.NPY_FLOAT64, 0)
        d = <double *> cnp.PyArray_DATA(arr)
        for i in range(n):
            o = <PyObject *> <size_t> h[i]
            if not _is_exact_float(o):
                return None
            d[i] = _float_as_double(o)
        return arr
    if _is_exact_int(<PyObject *> <size_t> h[0]):
        arr = cnp.PyArray_EMPTY(1, &dims, cnp.NPY_INT64, 0)
        v = <int64_t *> cnp.PyArray_DATA(arr)
        for i in range(n):
            o = <PyObject *> <size_t> h[i]
            if not _is_exact_int(o):
                return None
            v[i] = _as_ll_overflow(o, &overflow)
            if overflow:
                return None
        return arr
    return None


cdef int _arrow_payloads(tlpy_stream_t *s, object mode, const tl_handle_t *h,
                         size_t n) except -1:
    """Converts every payload through pyarrow at once (one type for the whole
    stream) and moves one slice per chunk into the stream."""
    cdef int64_t i, nch, k, off, m
    cdef ArrowArray *src
    payload_mod = _importlib.import_module("timelog._arrow_payload")
    fast = _arrow_fast_numbers(h, n) if mode == "auto" else None
    try:
        if fast is not None:
            columns = [("value", payload_mod.require_pyarrow().array(fast))]
        else:
            columns = payload_mod.convert(_list_borrowed(h, n), mode)
    except payload_mod.PayloadRowError as e:
        raise e.error(_arrow_row_ts(s, e.row)) from None
    if tlpy_stream_set_nvals(s, len(columns)) != 0:
        raise MemoryError()
    nch = tlpy_stream_nchunks(s)
    for k, (name, arr) in enumerate(columns):
        if mode == "pickle":
            # Marked, so that from_arrow/load know the column holds pickles.
            schema_cap = payload_mod.pickle_field(arr.type).__arrow_c_schema__()
        else:
            schema_cap, _ = arr.slice(0, 0).__arrow_c_array__()
        if tlpy_stream_set_val_schema(s, k, tlpy_schema_of(schema_cap),
                                      (<str> name).encode("utf-8")) != 0:
            raise MemoryError()
        off = 0
        for i in range(nch):
            m = tlpy_stream_len(s, i)
            _, array_cap = arr.slice(off, m).__arrow_c_array__()
            src = tlpy_array_of(array_cap)
            if tlpy_array_len(src) != m:
                raise TimelogError("internal error: a payload slice has the wrong length")
            tlpy_stream_move_val(s, i, k, src)
            off += m
    return 0


cdef object _arrow_row_ts(tlpy_stream_t *s, int64_t row):
    """The timestamp of export row ``row`` (for error messages)."""
    cdef int64_t i, n
    for i in range(tlpy_stream_nchunks(s)):
        n = tlpy_stream_len(s, i)
        if row < n:
            return tlpy_stream_ts(s, i)[row]
        row -= n
    return None


cdef object _arrow_finish(tlpy_stream_t *s, object mode, _Handles hs, size_t skip,
                          _Snapshot keep):
    """Payloads (of hs's handles but the first skip), the pin, then the
    capsule (which owns s from here)."""
    try:
        if mode is not None:
            if hs is None or hs.n == 0:
                _arrow_payloads(s, mode, NULL, 0)
            else:
                _arrow_payloads(s, mode, hs.h + skip, hs.n - skip)
        if keep is not None and tlpy_stream_has_zero_copy(s):
            tlpy_stream_set_keep(s, keep)
    except BaseException:
        tlpy_stream_free(s)
        raise
    return tlpy_stream_capsule(s)


cdef tlpy_stream_t *_arrow_new(int unit) except NULL:
    cdef tlpy_stream_t *s = tlpy_stream_new(<bytes> _ARROW_TS_FORMATS[unit])
    if s is NULL:
        raise MemoryError()
    return s


cdef object _arrow_mode(object payload):
    return _importlib.import_module("timelog._arrow_payload").check_mode(payload)


cdef bint _arrow_bounds(int kind, int64_t a, int64_t b, int64_t *lo, int64_t *hi) noexcept:
    """The closed interval [lo, hi] of range (kind, a, b); True when empty."""
    lo[0] = TL_TS_MIN
    hi[0] = TL_TS_MAX
    if kind == _K_SINCE:
        lo[0] = a
    elif kind == _K_UNTIL:
        if b == TL_TS_MIN:
            return True
        hi[0] = b - 1
    elif kind == _K_RANGE:
        if a >= b:
            return True
        lo[0] = a
        hi[0] = b - 1
    elif kind == _K_POINT:
        lo[0] = a
        hi[0] = a
    return False


cdef object _arrow_export_snap(_Snapshot snap, int unit, int kind, int64_t a, int64_t b,
                               object mode, uint64_t skip=0):
    """The stream of range (kind, a, b) of a pinned snapshot, less its first
    ``skip`` records (what an iterator already yielded)."""
    cdef tlpy_stream_t *s
    cdef int64_t lo = 0, hi = 0
    hs = _Handles() if mode is not None else None
    s = _arrow_new(unit)
    try:
        if not _arrow_bounds(kind, a, b, &lo, &hi):
            _arrow_plan(s, snap._snap, lo, hi, hs)
        if skip > 0:
            tlpy_stream_skip(s, <int64_t> skip)
    except BaseException:
        tlpy_stream_free(s)
        raise
    return _arrow_finish(s, mode, hs, skip, snap)


def _arrow_stream(Timelog log, t1, t2, payload, requested_schema=None):
    """``log.arrow(t1, t2, payload=...).__arrow_c_stream__()``: a capsule.

    requested_schema is accepted and ignored: the PyCapsule interface makes
    it best-effort, and the consumer checks the schema it gets.
    """
    cdef int64_t a = 0, b = 0
    cdef int kind
    mode = _arrow_mode(payload)
    _log_require_open(log)
    kind = _range_kind(t1, t2, log._unit, &a, &b)
    return _arrow_export_snap(_log_snapshot(log), log._unit, kind, a, b, mode)


def _arrow_stream_of_log(Timelog log, requested_schema=None):
    """``log.__arrow_c_stream__()``: the whole log, payloads inferred."""
    return _arrow_stream(log, None, None, "auto", requested_schema)


def _arrow_stream_of_iter(TimelogIter it, requested_schema=None):
    """``it.__arrow_c_stream__()``: the records the iterator has not yielded.

    Reads the iterator's snapshot, zero-copy where the pages allow, and
    leaves the iterator where it is: consumers such as DuckDB call
    ``__arrow_c_stream__`` more than once (schema, then scan), and each call
    must see the same records. A closed or exhausted iterator exports none.
    """
    cdef _Snapshot snap
    cdef uint64_t rem = 0, total = 0
    cdef tl_status_t st
    cdef int64_t lo = 0, hi = 0
    cdef bint empty
    mode = _arrow_mode("auto")
    unit = it._owner._unit if it._owner is not None else TL_UNIT_MS
    if it._it is NULL:
        return _arrow_finish(_arrow_new(unit), mode, None, 0, None)
    it._acquire()
    try:
        snap = _Snapshot.__new__(_Snapshot)
        # Checked after the allocation: it may run finalizers that close it.
        if it._it is NULL:
            raise TimelogError("iterator is closed")
        _check(tl_iter_snapshot(it._it, &snap._snap))
        snap._owner = it._owner
        empty = _arrow_bounds(it._kind, it._t1, it._t2, &lo, &hi)
        if not it._eof:
            with nogil:
                st = tl_iter_remaining(it._it, &rem)
            _check(st)
        rem += it._n - it._pos
        if not empty:
            _check(_count_closed(snap._snap, lo, hi, &total))
    finally:
        it._release_busy()
    return _arrow_export_snap(snap, unit, it._kind, it._t1, it._t2, mode, total - rem)


def _arrow_range(Timelog log, t1, t2, payload):
    """``log.arrow(...)``: a reusable exporter object (timelog._frames)."""
    _log_require_open(log)
    return _importlib.import_module("timelog._frames").ArrowRange(log, t1, t2, payload)


def _arrow_frame(str what, Timelog log, *args, **kwargs):
    """``log.to_arrow/to_polars(...)``: see timelog._frames."""
    # A closed log says so whether or not pyarrow / Polars is installed.
    _log_require_open(log)
    return getattr(_importlib.import_module("timelog._frames"), what)(log, *args, **kwargs)
