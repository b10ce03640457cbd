# _stats.pxi (included by _core.pyx): introspection: stats(), the one
# tl_stats() summary behind repr(), and validate().


cdef object _Timelog_stats(_TimelogState self):
    cdef tl_stats_t s
    cdef tl_status_t st
    cdef tl_log_t *log = self._log
    cdef bint kept
    if log is NULL:
        raise TimelogError(_CLOSED_MSG)
    if self._rsnap is not NULL and not tl_snapshot_current(log, self._rsnap):
        # A superseded state would count in the memory figures: let it go.
        _log_unpin_reads(self)
        _log_drain(self)
        log = self._log
        if log is NULL:
            raise TimelogError(_CLOSED_MSG)
    _log_g(self).enter(log)
    try:
        with nogil:
            st = tl_stats(log, &s)
    finally:
        _log_g(self).leave(log)
    _check(st)
    # The kept read pin is the log's own: not counted unless someone
    # else (an iterator, an array) pins the same state too.
    kept = (self._rsnap is not NULL and s.snapshots > 0
            and tl_snapshot_pins(self._rsnap) == 1)
    if kept:
        s.snapshots -= 1
    _check_stats(&s)
    empty = s.min_ts > s.max_ts
    cfg = dict(self._settings)
    if cfg["compaction"] is not None:
        cfg["compaction"] = dict(cfg["compaction"])
    if cfg["adaptive"] is not None:
        cfg["adaptive"] = dict(cfg["adaptive"])
    ada = cfg["adaptive"]
    return {
        "records": s.records,
        "storage": {
            "records_estimate": s.records,
            "physical_records": s.physical_records,
            "memruns": s.memruns,
            "memrun_records": s.memrun_records,
            "segments_l0": s.l0_segments,
            "segments_l1": s.l1_segments,
            "records_l0": s.l0_records,
            "records_l1": s.l1_records,
            "pages_total": s.pages,
            "tombstone_count": s.tombstones,
            "min_ts": None if empty else s.min_ts,
            "max_ts": None if empty else s.max_ts,
        },
        "memtable": {
            "active_records": s.memtable_records,
            "ooo_records": s.memtable_ooo_records,
            "sealed_runs": s.memruns,
        },
        "memory": {
            "engine_bytes": s.engine_bytes,
            "peak_bytes": s.peak_bytes,
            "alloc_calls": s.alloc_calls,
            "alloc_failures": s.alloc_failures,
        },
        "operational": {
            "seals_total": s.seals,
            "flushes_total": s.flushes,
            "compactions_total": s.compactions,
            "busy_events": self._busy_events,
            "extend_skipped": self._extend_skipped,
            "retired_queue_len": s.retired_len,
            "dropped_handles": s.dropped_handles,
            "snapshots": s.snapshots,
            "covered_drops_total": s.covered_drops,
            "compactions_bounded_total": s.compactions_bounded,
        },
        "adaptive": {
            "enabled": ada is not None and ada["target_records"] > 0,
            "target_records": ada["target_records"] if ada is not None else 0,
            "window_size": s.window_width,
            "density": s.adaptive_density if s.adaptive_samples > 0 else None,
            "flushes_seen": s.adaptive_samples,
            "resizes": s.adaptive_resizes,
            "failures": s.adaptive_failures,
        },
        "config": cfg,
    }


cdef object _Timelog_validate(_TimelogState self):
    cdef tl_status_t st
    cdef const char *why = NULL
    cdef tl_log_t *log = _log_wbegin(self)
    try:
        with nogil:
            st = tl_validate(log, &why)
    finally:
        _log_wend(self, log)
    if st != TL_OK and st != TL_EINTERNAL:
        _check(st)          # e.g. MemoryError: nothing was checked
    if st != TL_OK:
        raise TimelogError("engine validation failed (%s): %s" % (
            tl_strerror(st).decode("utf-8", "replace"),
            why.decode("utf-8", "replace") if why is not NULL else "no reason given"))


cdef dict _log_summary(_TimelogState self):
    """What repr() and _repr_html_() show, from ONE tl_stats() call.

    tl_stats reads counters and the visible bounds, never the records,
    so a repr costs the same on an empty log and on a billion records.
    """
    cdef tl_stats_t s
    cdef tl_status_t st
    if self._log is NULL:
        return None
    st = tl_stats(self._log, &s)
    _check(st)
    _check_stats(&s)
    out = {
        "records": s.records,
        "memtable": s.memtable_records,
        "memtable_ooo": s.memtable_ooo_records,
        "memruns": s.memruns,
        "l0": s.l0_segments,
        "l1": s.l1_segments,
        "tombstones": s.tombstones,
        "engine_bytes": s.engine_bytes,
        "first": None,
        "last": None,
    }
    if s.min_ts <= s.max_ts:
        out["first"] = s.min_ts
        out["last"] = s.max_ts
    return out
