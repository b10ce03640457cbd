# Included by _core.pyx (at its end): time-aware steps and columnar streaming.
#
# - _step_to_units: counts()/histogram()/windows() steps given as durations
#   (timedelta, timedelta64, "1min"), converted exactly by timelog/_steps.py.
# - _Windows: windows(t1, t2, every), tumbling windows over ONE snapshot; every
#   window is a plain TimelogIter opened on that snapshot's pin.
# - _iter_next_arrays: TimelogIter.next_arrays(n), the columnar next_batch().
# - _iter_iso/_iter_html/_span_*: ISO 8601 times in iterator and span reprs,
#   and their _repr_html_ tables (issue 18 item 6).
#
# Kept apart from the classes it serves so that those only gain one-line
# delegations; everything here uses their private fields under the same rules
# as their own methods (the busy flag, closing and draining at the end).

from timelog._steps import step_to_units as _py_step_to_units


cdef object _step_to_units(object step, int unit, str what):
    """A step as an int number of unit ticks; int-likes come back unchanged
    (the callers' own checks keep their messages), durations exactly or a
    ValueError naming both units."""
    if type(step) is int:
        return step
    return _py_step_to_units(step, _UNIT_NAMES[unit], what)


cdef bint _is_duration(object v):
    """True for a step that can only be a width, never a bin count."""
    return isinstance(v, (str, _dt.timedelta, _np.timedelta64)) or (
        not isinstance(v, (int, _np.integer)) and isinstance(getattr(v, "freqstr", None), str))


cdef tuple _histogram_step(_TimelogState log, object t1, object t2, object bins, object step):
    """histogram() with a bucket width (step=, or a duration as bins): the
    buckets, edges included, are those of counts(t1, t2, step)."""
    if step is not None and not (type(bins) is int and bins == 10):
        raise TypeError("histogram(): give bins or step, not both (got bins=%r, step=%r)"
                        % (bins, step))
    what = "histogram(): step"
    if step is None:
        step = bins
        what = "histogram(): bins"
    k = _positive_int(what, _step_to_units(step, log._unit, what))
    return _bucket_counts(log, t1, t2, k, True)


# ---------------------------------------------------------------- windows()

cdef TimelogIter _iter_on_pin(_Snapshot pin, int kind, int64_t t1, int64_t t2):
    """Timelog._iter(), on a given pin instead of the log's current state."""
    cdef TimelogIter it = TimelogIter.__new__(TimelogIter)
    cdef tl_status_t st
    # Read only now: that allocation may run the cycle collector, whose
    # finalizers may have closed the window iterator (releasing the pin).
    cdef tl_snapshot_t *snap = pin._snap
    if snap is NULL:
        raise TimelogError("windows(): the window iterator was closed")
    if kind == _K_SINCE:
        st = tl_iter_since(snap, t1, &it._it)
    else:
        st = tl_iter_range(snap, t1, t2, &it._it)
    if st != TL_OK:
        it._it = NULL
        _check(st)
    it._owner = pin._owner
    it._kind = kind
    it._t1 = t1
    it._t2 = t2
    return it


@cython.final
@cython.no_gc_clear
cdef class _Windows:
    """Iterator of ``(window_start, TimelogIter)`` made by :meth:`Timelog.windows`.

    Holds one snapshot pin until the last window is handed out (or
    ``close()``); each window's iterator pins the same state on its own.
    """
    cdef _Snapshot _snap        # None once exhausted or closed
    cdef object _next           # next window start (Python int)
    cdef object _hi             # end of the last window; may be 2**63
    cdef object _every

    def __init__(self, *args, **kwargs):
        raise TypeError("window iterators are created by Timelog.windows()")

    def __iter__(self):
        return self

    def __next__(self):
        cdef _Snapshot snap = self._snap
        cdef TimelogIter it
        if snap is None:
            raise StopIteration
        start = self._next
        if start >= self._hi:
            self.close()
            raise StopIteration
        end = start + self._every
        if end >= self._hi:
            end = self._hi
        if end > _I64_MAX:
            # The last window ends at 2**63-1 inclusive (t2=None reached a
            # record there): only a closed range can say so.
            it = _iter_on_pin(snap, _K_SINCE, start, 0)
        else:
            it = _iter_on_pin(snap, _K_RANGE, start, end)
        self._next = end
        if end >= self._hi:
            self.close()        # the window's iterator keeps its own pin
        return (start, it)

    def close(self):
        """Releases the snapshot pin (windows already returned keep theirs)."""
        cdef _Snapshot snap = self._snap
        if snap is not None:
            self._snap = None
            snap._release()

    @property
    def closed(self):
        return self._snap is None

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb):
        self.close()
        return False

    def __repr__(self):
        if self._snap is None:
            return "<timelog windows closed>"
        return "<timelog windows next=%d end=%d every=%d>" % (self._next, self._hi, self._every)

    def __reduce__(self):
        raise TypeError("window iterators cannot be pickled: they hold a snapshot pin "
                        "inside a live engine of this process")


cdef _Windows _windows(_TimelogState log, object t1, object t2, object every):
    """windows(): bounds resolved like counts() on the snapshot all windows read."""
    cdef int unit = log._unit
    cdef _Windows w
    cdef _Snapshot snap
    cdef tl_status_t st_min = TL_OK, st_max = TL_OK
    cdef tl_ts_t mn = 0, mx = 0
    _log_require_open(log)
    lo = None if t1 is None else int(_ts(t1, unit))
    hi = None if t2 is None else int(_ts(t2, unit))
    every = _positive_int("windows(): every",
                          _step_to_units(every, unit, "windows(): every"))
    w = _Windows.__new__(_Windows)
    snap = _log_snapshot(log)
    if lo is None or hi is None:
        with nogil:
            st_min = tl_min_ts(snap._snap, &mn)
            if st_min == TL_OK:
                st_max = tl_max_ts(snap._snap, &mx)
        try:
            _check(st_min)
            _check(st_max)
        except BaseException:
            snap._release()
            raise
        if st_min == TL_EOF:          # empty: the range collapses, as in counts()
            if lo is None:
                lo = 0 if hi is None else hi
            if hi is None:
                hi = lo
        else:
            if lo is None:
                lo = mn
            if hi is None:
                hi = int(mx) + 1      # max inclusive; may be 2**63
    w._snap = snap
    w._next = lo
    w._hi = hi
    w._every = every
    if lo >= hi:
        w.close()
    return w


# ---------------------------------------------------------------- next_arrays()

cdef tuple _iter_next_arrays(TimelogIter self, object n):
    if isinstance(n, (bool, _np.bool_)) or not PyIndex_Check(n):
        raise TypeError("next_arrays(n): n must be an int, got %s" % (type(n).__name__,))
    n = _operator.index(n)
    if n < 0:
        raise ValueError("next_arrays(n): n must be >= 0, got %d" % (n,))
    self._acquire()
    try:
        return _next_arrays(self, <Py_ssize_t> min(n, _PY_SSIZE_MAX))
    finally:
        self._release_busy()


cdef tuple _next_arrays(TimelogIter self, Py_ssize_t want):
    """next_batch()'s strategy, writing an int64 array and a list instead of tuples.

    Buffered records are copied first. A large request (>= _NOGIL_BATCH
    beyond the buffer) is sized by the exact remaining count and fetched
    straight into the array with the GIL released; a small one goes through
    the iterator's own buffer, as __next__ does. Handles are borrowed from
    the pinned snapshot until the list takes its references, and no Python
    code runs in between (the busy flag defers a concurrent close()).
    """
    cdef size_t avail = self._n - self._pos
    cdef size_t cap, got = 0, take = 0, fetched = 0
    cdef uint64_t rem = 0
    cdef tl_status_t st = TL_OK
    cdef cnp.npy_intp dims
    cdef cnp.ndarray arr
    cdef tl_ts_t *data
    cdef tl_handle_t *hb = NULL
    cdef bint direct = False
    if <size_t> want <= avail or self._it is NULL or self._eof:
        cap = min(<size_t> want, avail)
        dims = <cnp.npy_intp> cap
        arr = cnp.PyArray_EMPTY(1, &dims, cnp.NPY_INT64, 0)
        data = <tl_ts_t *> cnp.PyArray_DATA(arr)
        if cap > 0:
            memcpy(data, &self._tsbuf[self._pos], cap * sizeof(tl_ts_t))
        lst = _list_borrowed(&self._hbuf[self._pos], cap)
        self._pos += cap
    else:
        if <size_t> want - avail >= _NOGIL_BATCH:
            with nogil:
                st = tl_iter_remaining(self._it, &rem)
            _check(st)
            take = <size_t> min(rem, <uint64_t> (<size_t> want - avail))
            cap = avail + take
            direct = True
        else:
            cap = <size_t> want
        dims = <cnp.npy_intp> cap
        arr = cnp.PyArray_EMPTY(1, &dims, cnp.NPY_INT64, 0)
        data = <tl_ts_t *> cnp.PyArray_DATA(arr)
        hb = <tl_handle_t *> PyMem_Malloc((cap if cap > 0 else 1) * sizeof(tl_handle_t))
        if hb is NULL:
            raise MemoryError()
        try:
            if direct:
                if avail > 0:
                    memcpy(data, &self._tsbuf[self._pos], avail * sizeof(tl_ts_t))
                    memcpy(hb, &self._hbuf[self._pos], avail * sizeof(tl_handle_t))
                    self._pos = self._n
                if take > 0:
                    with nogil:
                        st = tl_iter_next_batch(self._it, data + avail, hb + avail, take,
                                                &fetched)
                    _check(st)
                if st == TL_EOF or take == rem or fetched < take:
                    self._eof = True
                got = avail + fetched
            else:
                while got < cap:
                    if self._pos < self._n:
                        take = min(self._n - self._pos, cap - got)
                        memcpy(data + got, &self._tsbuf[self._pos], take * sizeof(tl_ts_t))
                        memcpy(hb + got, &self._hbuf[self._pos], take * sizeof(tl_handle_t))
                        self._pos += take
                        got += take
                        continue
                    if self._it is NULL or self._eof:
                        break
                    self._refill()
                    if self._n == 0:
                        break
            lst = _list_borrowed(hb, got)
        finally:
            PyMem_Free(hb)
        if got < cap:
            arr = arr[:got].copy()      # only at the end of the range
    if self._it is not NULL and self._eof and self._pos >= self._n:
        self._close()
    return (arr, lst)


# ---------------------------------------------------------------- reprs (issue 18 item 6)

cdef object _owner_unit(_TimelogState owner):
    """The owner's time_unit name, or None (no owner: no ISO text)."""
    if owner is None:
        return None
    return _UNIT_NAMES.get(owner._unit)


cdef str _iter_iso(_TimelogState owner, int kind, int64_t t1, int64_t t2):
    """" = [ISO, ISO)": an iterator's range as UTC times, after its ticks."""
    unit = _owner_unit(owner)
    if unit is None or kind == _K_ALL:
        return ""
    if kind == _K_SINCE:
        return " = [%s, end]" % (_fmt_ts(t1, unit),)
    if kind == _K_UNTIL:
        return " = [start, %s)" % (_fmt_ts(t2, unit),)
    if kind == _K_POINT:
        return " = %s" % (_fmt_ts(t1, unit),)
    return " = [%s, %s)" % (_fmt_ts(t1, unit), _fmt_ts(t2, unit))


cdef str _html_table(str caption, list rows):
    esc = _html.escape
    body = "".join("<tr><th style=\"text-align:left\">%s</th><td style=\"text-align:left\">%s</td></tr>"
                   % (esc(k), esc(str(v))) for k, v in rows)
    return "<table class=\"timelog-repr\"><caption>%s</caption>%s</table>" % (
        esc(caption), body)


cdef str _tick_iso(object t, object unit):
    """"2 (1970-01-01T00:00:00.002Z)": a tick, then its UTC time when the unit is known."""
    return "%d (%s)" % (t, _fmt_ts(t, unit)) if unit else str(t)


cdef str _iter_html(TimelogIter it):
    """TimelogIter._repr_html_: the range (ticks and UTC times) and what is left."""
    cdef int kind = it._kind
    unit = _owner_unit(it._owner)
    if kind == _K_ALL:
        rows = [("range", "all")]
    elif kind == _K_POINT:
        rows = [("ts", _tick_iso(it._t1, unit))]
    else:
        rows = [("from", "start" if kind == _K_UNTIL else _tick_iso(it._t1, unit)),
                ("to", "end (inclusive)" if kind == _K_SINCE
                 else _tick_iso(it._t2, unit) + ", exclusive")]
    if unit:
        rows.append(("time_unit", unit))
    if it._it is NULL:
        rows.append(("state", "closed"))
    elif it._busy:
        rows.append(("state", "in use"))
    else:
        rows.append(("remaining", format(len(it), ",")))
    return _html_table("TimelogIter", rows)


cdef str _span_level(int level):
    """"1 (L0)": span.level's number, then the layer it names."""
    name = _LEVEL_NAMES.get(level)
    return "%d (%s)" % (level, name) if name is not None else str(level)


cdef str _span_ts(PageSpan span, tl_ts_t t):
    """A span timestamp in its repr: the tick, then its UTC time."""
    return _tick_iso(t, _owner_unit(span._snap._owner) if span._snap is not None else None)


cdef str _span_html(PageSpan span):
    """PageSpan._repr_html_: layer, length and first/last times."""
    rows = [("level", _span_level(span._level)), ("records", format(span._n, ","))]
    if span._snap is None:
        rows.append(("state", "closed"))
    else:
        rows += [("first_ts", _span_ts(span, span._ts[0])),
                 ("last_ts", _span_ts(span, span._ts[span._n - 1]))]
        unit = _owner_unit(span._snap._owner)
        if unit:
            rows.append(("time_unit", unit))
    return _html_table("PageSpan", rows)
