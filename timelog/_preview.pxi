# _preview.pxi (included by _core.pyx): the first and last records a log's
# _repr_html_ shows beneath its summary (issue 18 item 6). Formatting is in
# timelog/_format.py; this file only reads the records.
#
# Cost: a repr must stay cheap on any log, so nothing here scans. All reads
# go to ONE pinned snapshot (head, tail and the count between them agree
# even if a writer or the maintenance worker runs meanwhile):
#   - the exact count, tl_count_all: binary searches per source;
#   - the head, the first records of tl_iter_all;
#   - the tail: walk back from max_ts with tl_prev_ts until at least k
#     records lie at or after t (tl_count_since), then read since(t),
#     skipping the c - k records that come first. Those skipped records all
#     share the timestamp t (fewer than k lie after t), so the skip costs
#     only the duplicates of one timestamp; it reads timestamps only (no
#     handles, no Python objects) with the GIL released.
# There is no reverse iterator in the engine, and iterating since(t) keeps
# the snapshot's own order among equal timestamps, so the tail is exactly
# the last k records list(log) would give and never overlaps the head.

cdef enum:
    # Records previewed at each end; a log of at most 2 * _PREVIEW_K
    # records is shown whole.
    _PREVIEW_K = 3
    # Timestamps read per engine call while skipping tail duplicates.
    _PREVIEW_SKIP = 512


cdef list _preview_records(tl_ts_t *ts, tl_handle_t *h, size_t n):
    """(ts, obj) pairs from a batch; the pinned snapshot keeps each handle alive."""
    cdef size_t i
    return [(ts[i], <object> <PyObject *> <size_t> h[i]) for i in range(n)]


cdef tl_status_t _preview_skip(tl_iter_t *it, uint64_t n) noexcept nogil:
    """Advances it by n records, reading timestamps only."""
    cdef tl_ts_t buf[_PREVIEW_SKIP]
    cdef size_t got = 0, want
    cdef tl_status_t st = TL_OK
    while n > 0:
        want = <size_t> n if n < _PREVIEW_SKIP else _PREVIEW_SKIP
        st = tl_iter_next_batch(it, buf, NULL, want, &got)
        if st != TL_OK and st != TL_EOF:
            return st
        if got < want:
            return TL_OK     # exhausted: cannot happen within one snapshot
        n -= got
    return TL_OK


cdef object _log_preview(_TimelogState self):
    """``(total, head, tail)`` for ``_repr_html_``, or None when closed.

    ``head`` holds the first records as ``(ts, obj)``; ``tail`` the last
    ones, empty when ``head`` is already the whole log (at most
    ``2 * _PREVIEW_K`` records); ``total - len(head) - len(tail)`` records
    lie between them. O(sources log n + duplicates of the tail's first
    timestamp), never a scan.
    """
    cdef tl_snapshot_t *snap
    cdef tl_iter_t *it = NULL
    cdef tl_status_t st
    cdef uint64_t total = 0, c = 0
    cdef tl_ts_t t = 0, p = 0
    cdef size_t got = 0, want
    cdef tl_ts_t tsb[2 * _PREVIEW_K]
    cdef tl_handle_t hb[2 * _PREVIEW_K]
    if self._log is NULL:
        return None
    snap = _log_read_pin(self)
    try:
        with nogil:
            st = tl_count_all(snap, &total)
        _check(st)
        if total == 0:
            return (0, [], [])
        want = <size_t> total if total <= 2 * _PREVIEW_K else _PREVIEW_K
        _check(tl_iter_all(snap, &it))
        try:
            st = tl_iter_next_batch(it, tsb, hb, want, &got)
            if st != TL_EOF:
                _check(st)
        finally:
            tl_iter_close(it)   # our own pin keeps every record alive
            it = NULL
        head = _preview_records(tsb, hb, got)
        if total <= 2 * _PREVIEW_K:
            return (total, head, [])
        # The tail's first timestamp t: the largest with count_since(t) >= k.
        with nogil:
            st = tl_max_ts(snap, &t)
            if st == TL_OK:
                st = tl_count_since(snap, t, &c)
            while st == TL_OK and c < _PREVIEW_K:
                st = tl_prev_ts(snap, t, &p)   # exists: total > 2k > c
                if st == TL_OK:
                    t = p
                    st = tl_count_since(snap, t, &c)
        _check(st)
        _check(tl_iter_since(snap, t, &it))
        try:
            with nogil:
                st = _preview_skip(it, c - _PREVIEW_K)
                if st == TL_OK:
                    st = tl_iter_next_batch(it, tsb, hb, _PREVIEW_K, &got)
            if st != TL_EOF:
                _check(st)
        finally:
            tl_iter_close(it)
        return (total, head, _preview_records(tsb, hb, got))
    finally:
        tl_snapshot_release(snap)
