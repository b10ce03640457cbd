# _log.pxi (included by _core.pyx): class Timelog.

# no_gc_clear: the cycle collector breaks a cycle through a log by closing it
# (_Timelog_tp_clear below), which keeps its settings, so a finalizer that
# still reaches the log finds a plain closed log. Its own fields (settings,
# ints) never take part in a cycle.
@cython.no_gc_clear

cdef class Timelog:
    """An in-memory, time-indexed multimap: int64 timestamp -> Python objects.

    Records are ``(ts, obj)`` pairs; duplicate timestamps are kept, stored
    objects keep their identity, every range is half-open ``[t1, t2)`` and
    reads see a snapshot taken when they start.

    All arguments are keyword-only; a numeric knob of 0 means "engine
    default". Unknown or invalid values raise ``TypeError``/``ValueError``
    naming the parameter.

    Timestamps are ints in ``time_unit`` ("s", "ms", "us" or "ns" since the
    Unix epoch). Wherever a timestamp is taken (writes, deletes, slices,
    queries, ``count``/``arrays``/``histogram`` bounds, ``min_ts``), a
    ``datetime.datetime``, a ``numpy.datetime64`` or a ``pandas.Timestamp``
    is accepted too and converted into this log's unit with exact integer
    arithmetic (never through a float): naive datetimes are UTC, aware ones
    use their offset, and a value finer than the unit is floored to the tick
    that contains it. A ``datetime.date`` or a duration (``timedelta``,
    ``timedelta64``) raises TypeError, NaT raises ValueError, and a value
    outside int64 in this unit raises OverflowError.

    ``_fail_alloc`` is internal, not part of the API: fault injection for
    the test-suite (``tests/test_fault_injection.py``), which opens the
    engine on a counting allocator whose k-th allocation call fails (see
    ``_arm_alloc_failure``). It is not a setting: not echoed by ``stats()``,
    not pickled, not kept by ``reopen()``.

    >>> from timelog import Timelog
    >>> log = Timelog(maintenance="disabled")
    >>> log[10] = "a"
    >>> log.append(20, "b")
    >>> list(log[0:20])
    [(10, 'a')]
    >>> log.close()

    >>> import datetime, numpy as np
    >>> log = Timelog(time_unit="s", maintenance="disabled")
    >>> log[datetime.datetime(2024, 1, 1)] = "new year"        # naive = UTC
    >>> log.min_ts()
    1704067200
    >>> log[np.datetime64("2024-01-01T00:00:00.750")]          # floored to 1 s ticks
    ['new year']
    >>> log.close()
    """

    def __cinit__(self, *args, **kwargs):
        # A subclass may take any constructor arguments: none used here.
        self._log = NULL
        self._gatep = NULL
        gate = _Gate()
        _incref(<PyObject *> gate)
        self._gatep = <PyObject *> gate

    def __init__(self, *, time_unit="ms", maintenance="background",
                 busy_policy="raise", min_ts=None, mostly_ordered_default=True,
                 memtable_max_bytes=0, target_page_bytes=0, sealed_max_runs=0,
                 ooo_budget_bytes=0, sealed_wait_ms=0, drain_batch_limit=0,
                 maintenance_wakeup_ms=0, max_delta_segments=0, window_size=0,
                 window_origin=0, delete_debt_threshold=0.0, compaction=None,
                 adaptive=None, _fail_alloc=None, **deprecated):
        if self._log is not NULL:
            raise TimelogError("Timelog.__init__ called on an open log; "
                               "close() it and use reopen(...) instead")
        for name in deprecated:
            if name not in _FLAT_KNOBS:
                raise TypeError("Timelog() got an unexpected keyword argument %r" % (name,))
        settings = _normalize(_fold_flat(dict(
            deprecated, time_unit=time_unit, maintenance=maintenance, busy_policy=busy_policy,
            min_ts=min_ts, mostly_ordered_default=mostly_ordered_default,
            memtable_max_bytes=memtable_max_bytes, target_page_bytes=target_page_bytes,
            sealed_max_runs=sealed_max_runs, ooo_budget_bytes=ooo_budget_bytes,
            sealed_wait_ms=sealed_wait_ms, drain_batch_limit=drain_batch_limit,
            maintenance_wakeup_ms=maintenance_wakeup_ms,
            max_delta_segments=max_delta_segments, window_size=window_size,
            window_origin=window_origin, delete_debt_threshold=delete_debt_threshold,
            compaction=compaction, adaptive=adaptive)))
        self._open(settings, _fault_spec(_fail_alloc))

    cdef int _open(self, dict settings, object fail_alloc) except -1:
        cdef tl_config_t cfg
        cdef const char *why = NULL
        cdef tl_log_t *log = NULL
        cdef tl_status_t st
        cdef _tlpy_fault_t *fault = NULL
        tl_config_init(&cfg)
        cfg.time_unit = <tl_time_unit_t> <int> _UNITS[settings["time_unit"]]
        cfg.maintenance = <tl_maintenance_t> <int> _MAINT[settings["maintenance"]]
        cfg.memtable_max_bytes = settings["memtable_max_bytes"]
        cfg.target_page_bytes = settings["target_page_bytes"]
        cfg.sealed_max_runs = settings["sealed_max_runs"]
        cfg.ooo_budget_bytes = settings["ooo_budget_bytes"]
        cfg.sealed_wait_ms = settings["sealed_wait_ms"]
        cfg.maintenance_wakeup_ms = settings["maintenance_wakeup_ms"]
        cfg.drain_batch_limit = settings["drain_batch_limit"]
        cfg.max_delta_segments = settings["max_delta_segments"]
        cfg.window_size = settings["window_size"]
        cfg.window_origin = settings["window_origin"]
        cfg.delete_debt_threshold = settings["delete_debt_threshold"]
        comp = settings["compaction"]
        if comp is not None:
            cfg.compaction_target_bytes = comp["target_bytes"]
            cfg.compaction_max_inputs = comp["max_inputs"]
            cfg.compaction_max_windows = comp["max_windows"]
        ada = settings["adaptive"]
        if ada is not None:
            cfg.adaptive.target_records = ada["target_records"]
            cfg.adaptive.min_window = ada["min_window"]
            cfg.adaptive.max_window = ada["max_window"]
            cfg.adaptive.hysteresis_pct = ada["hysteresis_pct"]
            cfg.adaptive.window_quantum = ada["window_quantum"]
            cfg.adaptive.alpha = ada["alpha"]
            cfg.adaptive.warmup_flushes = ada["warmup_flushes"]
            cfg.adaptive.stale_flushes = ada["stale_flushes"]
            cfg.adaptive.failure_backoff_threshold = ada["failure_backoff_threshold"]
            cfg.adaptive.failure_backoff_pct = ada["failure_backoff_pct"]
        # _on_drop needs the GIL, which every caller of the draining calls holds
        # (see the module docstring); the engine type says nogil only because
        # its header cannot know that.
        cfg.on_drop = <tl_on_drop_fn> <void *> _on_drop
        cfg.on_drop_ctx = NULL

        st = tl_config_check(&cfg, &why)
        if st == TL_EINVAL:
            raise ValueError("invalid configuration: %s" % (
                why.decode("utf-8", "replace") if why is not NULL else "rejected by the engine"))
        _check(st)
        if fail_alloc is not None:
            # The context must outlive the engine, whose teardown may be
            # deferred to the last snapshot's release: it is kept on a list
            # freed only by __dealloc__, which runs after every pin holder
            # (they all reference this object) is gone.
            fault = _tlpy_fault_new(self._faults)
            if fault is NULL:
                raise MemoryError()
            self._faults = fault
            cfg.alloc.ctx = fault
            cfg.alloc.malloc_fn = _tlpy_fault_malloc
            cfg.alloc.realloc_fn = _tlpy_fault_realloc
            cfg.alloc.free_fn = _tlpy_fault_free
            _tlpy_fault_arm(fault, fail_alloc[0], fail_alloc[1])
        st = tl_open(&cfg, &log)
        _check(st)
        if settings["min_ts"] is not None:
            st = tl_delete_before(log, <int64_t> settings["min_ts"])
            if st != TL_OK and st != TL_EBUSY:
                tl_close(log)
                _check(st)
        if self._log is not NULL:
            # The Python code above (or the cycle collector it triggered) ran
            # a finalizer, or another thread ran, that reopened this log
            # first: keep that engine; overwriting it would leak it forever.
            tl_close(log)
            raise TimelogError("reopen(): the log was reopened meanwhile (by a "
                               "finalizer or another thread); it is open")

        self._log = log
        self._g().opened(log)
        self._fault = fault
        self._cfg = cfg
        self._settings = settings
        self._busy_policy = _BUSY[settings["busy_policy"]]
        self._busy_events = 0
        self._extend_skipped = 0
        self._min_ts = settings["min_ts"]
        self._has_min_ts = self._min_ts is not None
        self._min_ts_c = self._min_ts if self._has_min_ts else 0
        self._mostly_ordered_default = settings["mostly_ordered_default"]
        self._unit = cfg.time_unit
        # Every open engine is prepared for os.fork() (see _fork_before).
        _live_logs.add(self)
        return 0

    def __dealloc__(self):
        # C-only backstop: tl_close may run on_drop, which only Py_DECREFs
        # (the GIL is held here). Nothing can be in flight: every call that
        # brackets an engine holds a reference to self. Every snapshot pin
        # holds one too, so each engine is torn down here or before, and the
        # fault allocators (if any) are no longer used by anyone.
        self._unpin_reads()
        self._log = NULL
        if self._gatep is not NULL:
            (<_Gate> self._gatep).close_all()
            _decref(self._gatep)
            self._gatep = NULL
        _tlpy_fault_free_all(self._faults)
        self._faults = NULL
        self._fault = NULL

    # ------------------------------------------------------------ presets

    @classmethod
    def for_streaming(cls, **overrides):
        """Preset: background maintenance, ``busy_policy="flush"``.

        Keyword arguments override the preset.

        >>> log = Timelog.for_streaming(time_unit="us")
        >>> log.busy_policy, log.maintenance_mode, log.time_unit
        ('flush', 'background', 'us')
        >>> log.close()
        """
        kw = dict(_PRESETS["streaming"])
        kw.update(overrides)
        return cls(**kw)

    @classmethod
    def for_bulk_ingest(cls, **overrides):
        """Preset: maintenance disabled, ``busy_policy="flush"``, 16 MiB memtable.

        Suited to loading a large batch then querying; call ``compact()`` when
        loading is done. Keyword arguments override the preset.
        """
        kw = dict(_PRESETS["bulk_ingest"])
        kw.update(overrides)
        return cls(**kw)

    @classmethod
    def for_low_latency(cls, **overrides):
        """Preset: background maintenance, ``busy_policy="raise"``, 256 KiB memtable,
        ``sealed_wait_ms=0`` (never wait on backpressure). Overrides allowed."""
        kw = dict(_PRESETS["low_latency"])
        kw.update(overrides)
        return cls(**kw)

    def reopen(self, **overrides):
        """Opens a fresh, empty engine on a closed log; returns ``self``.

        Settings not given keep their previous values; ``busy_events`` and
        ``extend_skipped`` restart at 0. Raises TimelogError if the log is
        open (close it first: ``close()`` discards all data).

        A ``min_ts`` guard kept across a ``time_unit`` change is a point in
        time, so it is converted exactly into the new unit (a guard of
        2024-01-01 stays 2024-01-01). When it has no exact value in the new
        unit (a coarser unit and a guard that is not a whole number of it,
        or a finer unit that overflows int64) reopen refuses with a
        ValueError and the log stays closed with its settings unchanged:
        rounding would either admit records older than the guard or reject
        ones it admits, so pass ``min_ts`` explicitly with the new unit.
        Other integer settings (``window_size``, ``window_origin``) are
        layout knobs and keep their numbers.

        >>> log = Timelog(maintenance="disabled")
        >>> log.close()
        >>> log.reopen(time_unit="ns").time_unit
        'ns'
        >>> log.close()
        """
        if self._log is not NULL:
            raise TimelogError("reopen()/configure() need a closed log; call close() first")
        for name in overrides:
            if name not in _DEFAULTS and name not in _FLAT_KNOBS:
                raise TypeError("reopen() got an unexpected keyword argument %r" % (name,))
        base = dict(self._settings) if self._settings is not None else dict(_DEFAULTS)
        overrides = _fold_flat(dict(overrides), base)
        base.update(overrides)
        if (self._settings is not None and "min_ts" not in overrides
                and self._settings["min_ts"] is not None
                and overrides.get("time_unit", self._settings["time_unit"]) in _UNITS):
            base["min_ts"] = _point_to_unit(self._settings["min_ts"],
                                            self._settings["time_unit"],
                                            overrides.get("time_unit", self._settings["time_unit"]))
        self._open(_normalize(base), None)
        return self

    def configure(self, **overrides):
        """Alias of :meth:`reopen`: a fresh engine with changed settings."""
        return self.reopen(**overrides)

    # ------------------------------------------------------------ internals

    cdef int _require_open(self) except -1:
        if self._log is NULL:
            raise TimelogError(_CLOSED_MSG)
        return 0

    # Re-entrancy, close() and threads: the _Gate protocol (above). A
    # stored object's __del__ runs inside tl_drain_retired (through on_drop)
    # and may call anything on this log, close() included; another thread
    # may call close() while this one is in the engine with the GIL released.
    # So such calls bracket the engine they captured (_gate.enter/leave),
    # and writer calls that release the GIL hold the writer turn meanwhile.

    cdef _Gate _g(self):
        # A raw reference (see _gatep in _core.pxd): the cycle collector's
        # clear never takes it, so a finalizer run by a collection that
        # cleared this object still finds its gate.
        return <_Gate> self._gatep

    cdef tl_log_t *_wbegin(self) except NULL:
        """Starts a writer call that releases the GIL: takes the writer turn
        (waiting, GIL released, behind the calls queued before it) and
        brackets the engine; returns it, or raises if closed. _wend(log)."""
        cdef tl_log_t *log
        self._g().wacquire()
        # After the wait: a read meanwhile may have pinned again.
        self._unpin_reads()
        log = self._log
        if log is NULL:
            self._g().wrelease()
            raise TimelogError(_CLOSED_MSG)
        self._g().enter(log)
        return log

    cdef int _wend(self, tl_log_t *log) except -1:
        self._g().wrelease()
        # May tear the engine down (close() was called meanwhile): Python
        # code runs, after the turn is given back.
        self._g().leave(log)
        return 0

    cdef int _drain(self) except -1:
        """Releases the objects the engine retired (runs on_drop: Python code)."""
        cdef size_t n = 0
        cdef tl_status_t st = TL_OK
        cdef tl_log_t *log = self._log
        if log is NULL or tl_retired_len(log) == 0:
            return 0
        self._g().enter(log)
        try:
            st = tl_drain_retired(log, 0, &n)
        finally:
            self._g().leave(log)
        return _check(st)

    cdef int _after_write(self, tl_status_t st) except -1:
        """Drains retired handles, then applies the busy policy to TL_EBUSY.

        Called only with TL_OK or TL_EBUSY: the write is stored either way.
        """
        cdef tl_status_t fst = TL_OK
        cdef int steps
        cdef tl_log_t *log
        self._drain()
        if st == TL_OK:
            return 0
        self._busy_events += 1
        if self._busy_policy == _BUSY_RAISE:
            raise TimelogBusyError(_BUSY_MSG)
        if self._busy_policy == _BUSY_FLUSH:
            if self._log is NULL:
                return 0        # a __del__ run by the drain closed the log
            # Flush, then let this thread do the maintenance policy asks for
            # (a compaction when L0 is what holds writes back): the writer
            # helps the worker instead of waiting on it.
            log = self._wbegin()
            try:
                with nogil:
                    fst = tl_flush(log)
                    steps = 0
                    while fst == TL_OK and steps < 64:
                        fst = tl_maint_step(log)
                        steps += 1
            finally:
                self._wend(log)
            self._drain()
            if fst != TL_OK and fst != TL_EBUSY and fst != TL_EOF:
                # The write IS stored: say so (busy), never MemoryError,
                # which promises that nothing was.
                try:
                    _check(fst)
                except Exception as e:
                    raise TimelogBusyError(
                        "%s (busy_policy='flush' could not flush: %s)" % (_BUSY_MSG, e)) from e
        return 0

    cdef int _maint(self, int op, tl_status_t *out) except -1:
        """flush / compact / maint_step / stop_maintenance with the GIL
        released, then the drain of what it retired; *out gets the status."""
        cdef tl_status_t st
        cdef tl_log_t *log = self._wbegin()
        try:
            with nogil:
                if op == _M_FLUSH:
                    st = tl_flush(log)
                elif op == _M_COMPACT:
                    st = tl_compact(log)
                elif op == _M_STEP:
                    st = tl_maint_step(log)
                else:
                    st = tl_maint_stop(log)
            out[0] = st
        finally:
            self._wend(log)
        self._drain()
        return 0

    cdef int _guard(self, int64_t ts) except -1:
        if self._has_min_ts and ts < self._min_ts_c:
            raise ValueError("timestamp %d is below this log's min_ts guard (%d); "
                             "nothing was stored" % (ts, self._min_ts_c))
        return 0

    cdef bint _append_queue(self) except -1:
        """Before an append that keeps the GIL (no Python code runs from its
        check to the end of its engine call): when another thread holds or
        awaits the writer turn, waits for it (FIFO, GIL released) and returns
        True; the caller gives it back (_gate.wrelease()) after the engine
        call, before draining. False when the turn is free or this thread's."""
        if not self._g().busy() or self._g().mine():
            return False
        self._g().wacquire()
        self._unpin_reads()
        return True

    cdef int _append_one(self, int64_t ts, object obj) except -1:
        cdef tl_status_t st
        cdef PyObject *p = <PyObject *> obj
        cdef tl_log_t *log
        cdef bint queued = False
        if self._cfg.sealed_wait_ms > 0:
            # This append may wait up to sealed_wait_ms for the worker under
            # backpressure (tl_append -> seal -> wait): never with the GIL
            # held, or every other Python thread stalls with it. Logs that
            # cannot wait (the default, 0) keep the GIL-held fast path.
            log = self._wbegin()
            try:
                if self._has_min_ts:
                    self._guard(ts)
                _incref(p)
                with nogil:
                    st = tl_append(log, ts, <tl_handle_t> <size_t> p)
            finally:
                self._wend(log)
            if st != TL_OK and st != TL_EBUSY:
                _decref(p)
                return _check(st)
            return self._after_write(st)
        if self._rsnap is not NULL:
            self._unpin_reads()
        if self._g().busy():
            queued = self._append_queue()
        try:
            if self._log is NULL:
                raise TimelogError(_CLOSED_MSG)
            if self._has_min_ts:
                self._guard(ts)
            _incref(p)
            st = tl_append(self._log, ts, <tl_handle_t> <size_t> p)
        finally:
            if queued:
                self._g().wrelease()
        if st != TL_OK and st != TL_EBUSY:
            _decref(p)
            return _check(st)
        if st == TL_OK and tl_retired_len(self._log) == 0:
            return 0
        return self._after_write(st)

    cdef int _extend_direct(self, object items, object tss, object objs, Py_ssize_t n,
                            tl_ts_t *tsa, tl_handle_t *ha, Py_ssize_t *pi,
                            size_t *pk) except -1:
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
        log = self._wbegin()
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
            self._wend(log)
        if not stored:
            _check(st)
        self._after_write(st)
        return 1

    cdef int _append_batch(self, tl_ts_t *ts, tl_handle_t *h, size_t n) except -1:
        """Stores n records whose handles were already increfed, in one call.

        On failure (nothing stored) the references are given back here.
        """
        cdef tl_status_t st
        if n == 0:
            return 0
        cdef tl_log_t *log
        try:
            log = self._wbegin()
        except BaseException:
            _decref_handles(h, n)
            raise
        try:
            with nogil:
                st = tl_append_batch(log, ts, h, n)
        finally:
            self._wend(log)
        if st != TL_OK and st != TL_EBUSY:
            _decref_handles(h, n)
            return _check(st)
        return self._after_write(st)

    # ------------------------------------------------------------ read pins
    #
    # Pinning takes the publish lock and a dozen atomic reference counts; a
    # read-heavy session (a notebook slicing a loaded log) would pin the
    # same state over and over. So the last read's pin is kept (_rsnap) and
    # reused while tl_snapshot_current says nothing was written or published
    # since. Every writer call drops it before writing (a kept pin must never
    # make a write copy a buffer, or keep deleted objects alive), and so do
    # close() and validate(). A publish by the maintenance worker makes it
    # stale: the next read replaces it, so at most one superseded state
    # stays pinned until the log is used again.

    cdef tl_snapshot_t *_read_snap(self) except NULL:
        """The current read pin, borrowed: valid while the GIL is held and
        no Python code runs (a writer may drop it). Raises if closed."""
        cdef tl_snapshot_t *s = self._rsnap
        if s is not NULL:
            if tl_snapshot_current(self._log, s):
                return s
            self._unpin_reads()
            # Releasing it may let the engine give back objects only it kept.
            self._drain()
            # The drain ran finalizers: one that read this log took a read
            # pin of its own. Drop it (no drain: no Python code may run from
            # here to the return), or the assignment below would leak it.
            self._unpin_reads()
        self._require_open()
        _check(tl_snapshot_acquire(self._log, &s))
        self._rsnap = s
        return s

    cdef tl_snapshot_t *_read_pin(self) except NULL:
        """A pin of the current state owned by the caller (tl_snapshot_release
        it): the read pin plus one reference, for reads that release the GIL
        or outlive the call."""
        cdef tl_snapshot_t *s = self._read_snap()
        tl_snapshot_retain(s)
        return s

    cdef void _unpin_reads(self) noexcept:
        # The log is open whenever _rsnap is set (close() unpins first), so
        # this release never tears the engine down nor runs on_drop; what it
        # makes releasable is drained by the caller (every write drains).
        cdef tl_snapshot_t *s = self._rsnap
        if s is not NULL:
            self._rsnap = NULL
            tl_snapshot_release(s)

    cdef _Snapshot _snapshot(self):
        cdef _Snapshot snap
        cdef tl_status_t st
        snap = _Snapshot.__new__(_Snapshot)
        # After the allocation, which may run finalizers that close the log.
        snap._snap = self._read_pin()
        snap._owner = self
        return snap

    cdef TimelogIter _iter(self, int kind, int64_t t1, int64_t t2):
        # The engine iterator takes its own pin on the read pin, so no Python
        # snapshot object is made (view() makes one lazily). The iterator is
        # created first: that may run the cycle collector, which must find
        # no half-made engine state.
        cdef TimelogIter it = TimelogIter.__new__(TimelogIter)
        cdef tl_snapshot_t *snap
        cdef tl_status_t st
        # Borrowed: nothing runs Python code before the engine iterator
        # takes its own pin on it.
        snap = self._read_snap()
        if kind == _K_RANGE:
            st = tl_iter_range(snap, t1, t2, &it._it)
        elif kind == _K_SINCE:
            st = tl_iter_since(snap, t1, &it._it)
        elif kind == _K_UNTIL:
            st = tl_iter_until(snap, t2, &it._it)
        elif kind == _K_POINT:
            st = tl_iter_point(snap, t1, &it._it)
        else:
            st = tl_iter_all(snap, &it._it)
        if st != TL_OK:
            it._it = NULL
            _check(st)
        it._owner = self
        it._kind = kind
        it._t1 = t1
        it._t2 = t2
        return it

    # ------------------------------------------------------------ writes

    # The hottest call: a plain method descriptor (binding=False) is called
    # straight through vectorcall, without a bound-method object (~4 ns of
    # ~35 per call). Its signature is written by hand, with timelog-lib's
    # parameter names (code passes them as keywords); it shows
    # obj_or_none=None as the reference does, though an explicit None is a
    # stored object and only an absent argument means "no object" (the
    # sentinel cannot be spelled in a signature). Keywords cost nothing on
    # the positional path: Cython parses them only when some are passed.
    @cython.binding(False)
    @cython.embedsignature(False)
    def append(self, obj_or_ts, obj_or_none=_MISSING, *, ts=_MISSING):
        """append($self, /, obj_or_ts, obj_or_none=None, *, ts=None)
--

Stores one record. Amortized O(1).

        - ``append(obj)``: timestamp = the wall clock in ``time_unit`` (read in C;
          ``ts=None`` means the same);
        - ``append(obj, ts=t)``;
        - ``append(t, obj)``: two arguments are ``(ts, obj)``; a ``ts=``
          keyword given with them is ignored, not even validated (as in
          timelog-lib: ``append(5, "x", ts=9)`` stores at 5).

        The parameters are named ``obj_or_ts`` and ``obj_or_none`` (as in
        timelog-lib), and may be passed as keywords:
        ``append(obj_or_ts=5, obj_or_none="x")`` is ``append(5, "x")``.

        The object itself is stored (identity preserved). ``t`` is an int in
        ``time_unit``, or a datetime / numpy.datetime64 / pandas.Timestamp
        converted exactly into it (naive datetimes are UTC; see the class
        docstring). Raises TimelogBusyError (with ``busy_policy="raise"``)
        when the engine is under backpressure: the record WAS stored, do not
        retry.

        >>> log = Timelog(maintenance="disabled")
        >>> log.append(5, "x"); log.append("y", ts=5)
        >>> log[5]
        ['x', 'y']
        >>> import datetime
        >>> utc = datetime.timezone.utc
        >>> log.append(datetime.datetime(1970, 1, 1, 0, 0, 1, 500, tzinfo=utc), "z")
        >>> log.max_ts()   # 1.0005 s in a "ms" log
        1000
        >>> log.close()
        """
        cdef tl_status_t st
        cdef tl_ts_t now = 0
        cdef PyObject *p
        cdef tl_log_t *log
        cdef bint queued
        if obj_or_none is _MISSING:
            if ts is _MISSING or ts is None:
                self._unpin_reads()
                if self._cfg.sealed_wait_ms > 0:
                    # May wait on backpressure: not with the GIL (see
                    # _append_one), so it holds the writer turn meanwhile.
                    log = self._wbegin()
                    try:
                        if self._has_min_ts:
                            self._guard(_wall_clock(self._unit))
                        p = <PyObject *> obj_or_ts
                        _incref(p)
                        with nogil:
                            st = tl_append_now(log, <tl_handle_t> <size_t> p, &now)
                    finally:
                        self._wend(log)
                    if st != TL_OK and st != TL_EBUSY:
                        _decref(p)
                        _check(st)
                        return
                    self._after_write(st)
                    return
                queued = self._append_queue()
                try:
                    if self._log is NULL:
                        raise TimelogError(_CLOSED_MSG)
                    if self._has_min_ts:
                        self._guard(_wall_clock(self._unit))
                    p = <PyObject *> obj_or_ts
                    _incref(p)
                    st = tl_append_now(self._log, <tl_handle_t> <size_t> p, &now)
                finally:
                    if queued:
                        self._g().wrelease()
                if st != TL_OK and st != TL_EBUSY:
                    _decref(p)
                    _check(st)
                    return
                if st == TL_OK and tl_retired_len(self._log) == 0:
                    return
                self._after_write(st)
                return
            self._require_open()
            self._append_one(_ts(ts, self._unit), obj_or_ts)
            return
        # Closed before the timestamp's own errors; inline, not through
        # _require_open (a vtable call: ~1-2 ns on this path).
        if self._log is NULL:
            raise TimelogError(_CLOSED_MSG)
        # Two arguments: (ts, obj); a ts= keyword is ignored (timelog-lib's rule).
        self._append_one(_ts(obj_or_ts, self._unit), obj_or_none)

    def __setitem__(self, key, value):
        """``log[ts] = obj`` appends a record (it never replaces: multimap)."""
        self._require_open()
        if type(key) is slice:
            raise TypeError("slice assignment is not supported; use extend()")
        self._append_one(_ts(key, self._unit), value)

    # Bounds-checked: the loop below indexes the caller's own lists while
    # running the caller's code (__index__, datetime conversion), which may
    # shrink them: that must be an IndexError, never a read past the end.
    @cython.boundscheck(True)
    def extend(self, ts_or_iterable, objects=None, *, mostly_ordered=None,
               insert_on_error=True):
        """Stores many records with ONE engine call: all of them, or none.

        - ``extend(pairs)``: an iterable of ``(ts, obj)`` pairs;
        - ``extend(timestamps, objects)``: two iterables of the same length.

        An item that is not a pair, or two iterables of different lengths,
        raise ValueError and store nothing. A timestamp below ``min_ts``
        raises ValueError and stores nothing. With ``insert_on_error=True``
        (the default) records whose timestamp is invalid (TypeError or
        OverflowError from a bool/float/str/None or an out-of-range int) are
        skipped, counted in ``extend_skipped``, and a RuntimeWarning says how
        many (issued before anything is stored: where warnings are errors,
        e.g. ``python -W error``, the warning raises and nothing is stored);
        with ``insert_on_error=False`` the first invalid timestamp
        raises and nothing is stored. A NaT is an invalid timestamp too
        (skipped, or ValueError when strict). Timestamps may be datetimes,
        numpy.datetime64 or a datetime64 array, converted by ``time_unit``.
        ``mostly_ordered`` is a hint only (the engine detects sorted input
        itself); None means the log's ``mostly_ordered_default``, and results
        never depend on it.
        O(n) for sorted input, O(n log n) otherwise.

        >>> log = Timelog(maintenance="disabled")
        >>> log.extend([(3, "c"), (1, "a")])
        >>> log.extend([2, 4], ["b", "d"])
        >>> [obj for _, obj in log]
        ['a', 'b', 'c', 'd']
        >>> log.close()
        """
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
        self._require_open()
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
            if self._extend_direct(items, tss, objs, n, tsa, ha, &i, &k):
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
                    self._guard(t)
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
            log = self._wbegin()
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
            self._wend(log)
        if st != TL_OK and st != TL_EBUSY:
            _decref_handles(ha, k)
            PyMem_Free(ha)
            _check(st)
            return
        PyMem_Free(ha)
        if skipped:
            self._extend_skipped += skipped
        self._after_write(st)

    def bulk_append(self, timestamps, objects, *, mostly_ordered=None):
        """Stores ``len(objects)`` records from a timestamp buffer, in ONE engine call.

        ``timestamps`` is any 1-D buffer: a NumPy array of any stride
        (``arr[::2]``, ``arr[::-1]``, a column of a 2-D array), an
        ``array('q')``, a memoryview, or an object NumPy converts through
        ``__array__`` (a pandas Series or naive DatetimeIndex; a tz-aware
        one becomes an object array: ``tz_convert(None)`` it first). int64
        is read in place (a strided buffer is first gathered into a
        contiguous one, with the GIL released); other dtypes are converted
        when that is lossless and rejected with a TypeError naming the dtype
        otherwise:

        - int8/16/32 and uint8/16/32: always converted;
        - uint64: converted when every value is <= 2**63-1;
        - datetime64 of any unit: converted exactly into ``time_unit``
          (``datetime64[s]`` into a "ms" log is multiplied by 1000; a finer
          unit is floored), OverflowError when a value does not fit int64,
          ValueError for NaT;
        - float, bool, object, timedelta64, strings: TypeError.

        ``objects`` is a sequence with a length, as long as ``timestamps``
        (ValueError otherwise): a list or tuple (read in place), an object
        ndarray or object-dtype pandas Series (their objects, read through
        the array), or any other sequence such as a ``range``, a numeric
        array or Series (the items its iteration yields). Generators,
        iterators, sets, mappings and str/bytes raise TypeError: pass a list.
        The objects themselves are stored: the only per-record Python work
        is one reference count each. The engine call runs with the
        GIL released; already sorted input takes the in-order path and
        unsorted input is sorted in C. All records are stored or none (an
        error, including a timestamp below ``min_ts``, stores nothing;
        TimelogBusyError means all were stored). O(n) for sorted input,
        O(n log n) otherwise. ``mostly_ordered`` (None or a bool) is a hint
        accepted for compatibility, as in :meth:`extend`; it never changes
        the result.

        >>> import numpy as np
        >>> log = Timelog(maintenance="disabled")
        >>> log.bulk_append(np.array([2, 1, 3]), ["b", "a", "c"])
        >>> len(log), log.min_ts(), log.max_ts()
        (3, 1, 3)
        >>> log.bulk_append(np.array(["1970-01-01T00:00:01"], dtype="datetime64[s]"), ["d"])
        >>> log.max_ts()   # 1 s in this "ms" log
        1000
        >>> log.bulk_append(np.array([1.5]), ["e"])
        Traceback (most recent call last):
            ...
        TypeError: bulk_append(): timestamps of dtype float64 cannot be converted to int64 ...
        >>> log.close()
        """
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
        self._require_open()
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
        log = self._wbegin()
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
            self._wend(log)
        if bad >= 0:
            self._guard(bad_ts)
        if st != TL_OK and st != TL_EBUSY:
            _check(st)
        self._after_write(st)

    # ------------------------------------------------------------ deletes

    cdef int _delete(self, int kind, int64_t t1, int64_t t2) except -1:
        cdef tl_status_t st
        cdef tl_log_t *log = self._wbegin()
        # The GIL stays held: a delete touches no record, only one or two
        # paths of the tombstone tree (~0.1-0.7 us), less than releasing and
        # re-taking the GIL would cost.
        try:
            if kind == _K_RANGE:
                st = tl_delete_range(log, t1, t2)
            elif kind == _K_SINCE:
                st = tl_delete_since(log, t1)
            elif kind == _K_UNTIL:
                st = tl_delete_before(log, t2)
            elif kind == _K_POINT:
                st = tl_delete_ts(log, t1)
            else:
                st = tl_delete_all(log)
        finally:
            self._wend(log)
        if st != TL_OK and st != TL_EBUSY:
            return _check(st)
        return self._after_write(st)

    def delete(self, t1, t2=_MISSING):
        """Deletes ``[t1, t2)`` (two arguments) or every record at ``t1`` (one).

        A delete hides every record written before it; records written later
        are visible. ``t1 >= t2`` deletes nothing. ``None`` as a bound of the
        two-argument form means "open": ``delete(None, t2)`` = ``cutoff(t2)``,
        ``delete(t1, None)`` reaches ``2**63-1`` inclusive. No record is
        touched: the cost is O(log T) in the tombstone set's T intervals
        (one or two root-to-leaf paths of its tree are updated).

        >>> log = Timelog(maintenance="disabled")
        >>> log.extend([(1, "a"), (2, "b"), (3, "c")])
        >>> log.delete(2); log.delete(3, 10)
        >>> list(log)
        [(1, 'a')]
        >>> log.close()
        """
        cdef int64_t a = 0, b = 0
        cdef int kind
        self._require_open()
        if t2 is _MISSING:
            self._delete(_K_POINT, _ts(t1, self._unit), 0)
            return
        kind = _range_kind(t1, t2, self._unit, &a, &b)
        self._delete(kind, a, b)

    def cutoff(self, ts):
        """Deletes every record with timestamp ``< ts`` (retention). O(log T).

        >>> log = Timelog(maintenance="disabled")
        >>> log.extend([(1, "old"), (5, "new")])
        >>> log.cutoff(5)
        >>> list(log)
        [(5, 'new')]
        >>> log.close()
        """
        self._require_open()
        self._delete(_K_UNTIL, 0, _ts(ts, self._unit))

    def delete_range(self, t1, t2):
        """Deletes ``[t1, t2)``; the reference design's name for ``delete(t1, t2)``.

        ``None`` is an open bound, as in :meth:`delete`."""
        self._require_open()
        self.delete(t1, t2)

    def delete_before(self, ts):
        """Deletes every record ``< ts``; the reference design's name for ``cutoff(ts)``."""
        self._require_open()
        self._delete(_K_UNTIL, 0, _ts(ts, self._unit))

    def __delitem__(self, key):
        """``del log[ts]``, ``del log[t1:t2]``; None bounds are open.

        ``del log[:t2]`` = ``cutoff(t2)``, ``del log[t1:]`` reaches
        ``2**63-1`` inclusive, ``del log[:]`` deletes everything.
        """
        cdef int64_t a = 0, b = 0
        cdef int kind
        self._require_open()
        if type(key) is slice:
            _check_step(key)
            kind = _range_kind((<slice> key).start, (<slice> key).stop, self._unit, &a, &b)
            self._delete(kind, a, b)
            return
        self._delete(_K_POINT, _ts(key, self._unit), 0)

    # ------------------------------------------------------------ reads

    def __getitem__(self, key):
        """``log[t1:t2]`` (None bounds open) -> TimelogIter; ``log[ts]`` -> list.

        >>> log = Timelog(maintenance="disabled")
        >>> log.extend([(1, "a"), (1, "b"), (5, "c")])
        >>> log[1], list(log[2:]), list(log[:2])
        (['a', 'b'], [(5, 'c')], [(1, 'a'), (1, 'b')])
        >>> log.close()
        """
        cdef int64_t a = 0, b = 0
        cdef int kind
        self._require_open()
        if type(key) is slice:
            _check_step(key)
            kind = _range_kind((<slice> key).start, (<slice> key).stop, self._unit, &a, &b)
            return self._iter(kind, a, b)
        return self._at(_ts(key, self._unit))

    def at(self, ts):
        """The list of objects stored at exactly ``ts`` (empty if none). O(log n + k).

        >>> log = Timelog(maintenance="disabled")
        >>> log[7] = "x"
        >>> log.at(7), log.at(8)
        (['x'], [])
        >>> log.close()
        """
        self._require_open()
        return self._at(_ts(ts, self._unit))

    cdef list _at(self, int64_t t):
        # tl_point_in reads the kept read pin without allocating. The
        # handles are INCREFed in plain C straight after the read, before
        # anything that can run Python code (creating the list may run the
        # cycle collector, whose finalizers may delete, flush and drain), so
        # no drain can release a returned handle in between.
        cdef tl_handle_t hb[64]
        cdef tl_handle_t *buf = hb
        cdef size_t cap = 64, n = 0, i
        self._require_open()
        try:
            while True:
                _check(tl_point_in(self._read_snap(), t, buf, cap, &n))
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

    def range(self, t1, t2):
        """Iterator over ``[t1, t2)`` in timestamp order; ``t1 >= t2`` is empty.

        ``None`` is an open bound, as in ``log[t1:t2]``: ``range(None, t2)``
        is :meth:`until`, ``range(t1, None)`` is :meth:`since` (inclusive of
        ``2**63-1``). Snapshot-consistent: later writes are not seen.
        O(log n + k).
        """
        cdef int64_t a = 0, b = 0
        cdef int kind
        self._require_open()
        kind = _range_kind(t1, t2, self._unit, &a, &b)
        return self._iter(kind, a, b)

    def since(self, t1):
        """Iterator over ``[t1, 2**63-1]`` (inclusive of the int64 maximum)."""
        self._require_open()
        return self._iter(_K_SINCE, _ts(t1, self._unit), 0)

    def until(self, t2):
        """Iterator over ``[-2**63, t2)``."""
        self._require_open()
        return self._iter(_K_UNTIL, 0, _ts(t2, self._unit))

    def all(self):
        """Iterator over every record, in timestamp order."""
        return self._iter(_K_ALL, 0, 0)

    def point(self, ts):
        """Iterator over the records at exactly ``ts``."""
        self._require_open()
        return self._iter(_K_POINT, _ts(ts, self._unit), 0)

    def equal(self, ts):
        """Alias of :meth:`point`."""
        self._require_open()
        return self._iter(_K_POINT, _ts(ts, self._unit), 0)

    def __iter__(self):
        return self._iter(_K_ALL, 0, 0)

    # __len__ + __getitem__ would make reversed() treat the log as a
    # sequence and index it 0..len-1 (point lookups: a list of empty lists).
    def __reversed__(self):
        """Not supported: the read path runs forward only (TypeError)."""
        raise TypeError("reversed(log) is not supported: reads run forward only; "
                        "walk backwards with log.prev_ts(ts), or reverse a "
                        "bounded window: list(log[t1:t2])[::-1]")

    def __contains__(self, ts):
        """``ts in log``: whether any visible record has timestamp ``ts``."""
        cdef int64_t t
        cdef tl_snapshot_t *snap = NULL
        cdef tl_iter_t *it = NULL
        cdef tl_status_t st
        cdef tl_ts_t rts
        cdef tl_handle_t rh
        self._require_open()
        t = _ts(ts, self._unit)
        snap = self._read_pin()
        try:
            _check(tl_iter_point(snap, t, &it))
            st = tl_iter_next(it, &rts, &rh)
            _check(st)
            return st == TL_OK
        finally:
            tl_iter_close(it)
            tl_snapshot_release(snap)

    def __len__(self):
        """Exact number of visible records (tombstone-aware, never an estimate)."""
        cdef uint64_t n = 0
        cdef tl_snapshot_t *snap = NULL
        cdef tl_status_t st
        self._require_open()
        snap = self._read_pin()
        with nogil:
            st = tl_count_all(snap, &n)
        tl_snapshot_release(snap)
        _check(st)
        return n

    def count(self, t1=None, t2=None):
        """Exact number of visible records in ``[t1, t2)``, without a scan.

        None bounds are open: ``t1=None`` starts at ``-2**63``, ``t2=None``
        reaches ``2**63-1`` inclusive (so ``count()`` equals ``len(log)``).
        Tombstone-aware and never an estimate: binary searches per source,
        O(sources * (1 + tombstones in range) * log n), with the GIL released.
        Bounds may be datetimes (see :meth:`append`).

        >>> log = Timelog(maintenance="disabled")
        >>> log.extend([(1, "a"), (2, "b"), (2, "c"), (9, "d")])
        >>> del log[9]
        >>> log.count(), log.count(2), log.count(None, 2), log.count(2, 3)
        (3, 2, 1, 2)
        >>> log.close()
        """
        cdef uint64_t n = 0
        cdef tl_snapshot_t *snap = NULL
        cdef tl_status_t st
        cdef int64_t a = 0, b = 0
        cdef int kind
        self._require_open()
        kind = _range_kind(t1, t2, self._unit, &a, &b)
        snap = self._read_pin()
        with nogil:
            st = _count_kind(snap, kind, a, b, &n)
        tl_snapshot_release(snap)
        _check(st)
        return n

    # ------------------------------------------------------------ array-native reads

    def arrays(self, t1=None, t2=None):
        """``(timestamps, objects)`` of ``[t1, t2)``: an int64 ndarray and a list.

        The same records, in the same order, as ``list(log[t1:t2])``
        (timestamp order, tombstone-filtered, one snapshot), built in C: the
        exact count sizes the array, the engine fills its buffer with the GIL
        released, and the list costs one reference count per object. None
        bounds are open (``t2=None`` reaches ``2**63-1`` inclusive); bounds
        may be datetimes. O(log n + k).

        >>> log = Timelog(maintenance="disabled")
        >>> log.extend([(3, "c"), (1, "a"), (2, "b")])
        >>> ts, objs = log.arrays(2)
        >>> ts, objs
        (array([2, 3]), ['b', 'c'])
        >>> log.close()
        """
        cdef int64_t a = 0, b = 0
        cdef int kind
        self._require_open()
        kind = _range_kind(t1, t2, self._unit, &a, &b)
        return _read_range(self, kind, a, b, True)

    def to_numpy(self, t1=None, t2=None, *, dtype=None):
        """``(timestamps, values)`` of ``[t1, t2)``: two fresh contiguous 1-D arrays.

        ``timestamps`` is int64; ``values`` holds every record's object
        converted to ``dtype`` (float64 unless given: any scalar integer or
        float NumPy dtype, keyword-only; anything else is TypeError). The
        conversion is NumPy's: ``True``/``False`` -> 1/0, ``None`` -> NaN
        under float dtypes and TypeError under integer ones, strings are
        parsed, ints beyond 2**53 round under float64 (``dtype=np.int64``
        keeps them exact). Duplicate timestamps are all exported, in
        iteration order. A payload that cannot be converted raises its own
        exception (type unchanged) with the failing row and timestamp added
        as a PEP 678 note; nothing stored changes.

        Bounds are ``log[t1:t2]``'s: None is an open end (only ``t2=None``
        reaches a record at ``2**63-1``), reversed bounds give empty arrays,
        datetimes are accepted. One snapshot, read in chunks of 32768
        records: the engine fills each chunk with the GIL released (so other
        threads run during a long export) and the pin is released on every
        path, errors included. O(log n + k).

        >>> import numpy as np
        >>> log = Timelog(maintenance="disabled")
        >>> log.extend([(1, 0.5), (2, True), (2, None), (5, 7)])
        >>> ts, vals = log.to_numpy()
        >>> ts, vals
        (array([1, 2, 2, 5]), array([0.5, 1. , nan, 7. ]))
        >>> log.to_numpy(5, dtype=np.int64)
        (array([5]), array([7]))
        >>> log.close()
        """
        cdef int64_t a = 0, b = 0
        cdef int kind
        self._require_open()
        dt, mode = _export_dtype(dtype)
        kind = _range_kind(t1, t2, self._unit, &a, &b)
        return _export_numpy(self, kind, a, b, dt, mode)

    def to_dict(self, t1=None, t2=None):
        """``{ts: obj}`` of ``[t1, t2)``; a duplicate timestamp keeps its last record.

        "Last" is iteration order, as in ``list(log[t1:t2])``: records at one
        timestamp come in a deterministic but unspecified order (late writes
        and compaction may reorder them), so use :meth:`at` when several
        records share a timestamp and one of them must win. The objects are
        the stored ones (not copies); no NumPy object is made. Bounds and
        snapshot behaviour are those of :meth:`to_numpy`. O(log n + k).

        >>> log = Timelog(maintenance="disabled")
        >>> log.extend([(1, "a"), (3, "b"), (9, "c")])
        >>> log.to_dict(), log.to_dict(2, 9)
        ({1: 'a', 3: 'b', 9: 'c'}, {3: 'b'})
        >>> log.close()
        """
        cdef int64_t a = 0, b = 0
        cdef int kind
        self._require_open()
        kind = _range_kind(t1, t2, self._unit, &a, &b)
        return _export_dict(self, kind, a, b)

    def timestamps(self, t1=None, t2=None):
        """The timestamps of ``[t1, t2)`` as an int64 ndarray (no objects touched).

        Like ``arrays(t1, t2)[0]``, but the engine never reads the payloads.
        None bounds are open; bounds may be datetimes. O(log n + k), filled
        with the GIL released.

        >>> log = Timelog(maintenance="disabled")
        >>> log.extend([(5, "x"), (1, "y"), (5, "z")])
        >>> log.timestamps()
        array([1, 5, 5])
        >>> log.close()
        """
        cdef int64_t a = 0, b = 0
        cdef int kind
        self._require_open()
        kind = _range_kind(t1, t2, self._unit, &a, &b)
        return _read_range(self, kind, a, b, False)[0]

    def histogram(self, t1=None, t2=None, bins=10):
        """``(counts, edges)``: visible records per bucket over ``[t1, t2)``.

        Like ``numpy.histogram(log.timestamps(), bins, range=...)`` but with
        integer, half-open buckets: ``counts[i]`` is the exact number of
        visible records in ``[edges[i], edges[i+1])``. ``edges`` (int64,
        length ``bins + 1``) split ``[t1, t2)`` as evenly as integers allow:
        ``edges[i] = t1 + floor(i * (t2 - t1) / bins)``, so bucket widths
        differ by at most 1 (and some are empty when ``bins > t2 - t1``).

        ``t1=None`` means the smallest visible timestamp; ``t2=None`` means
        the largest one, inclusive (``t2 = max_ts() + 1``; when that
        would be ``2**63``, the last edge is ``2**63-1`` and the last bucket
        is closed). On an empty log a None bound takes the other bound's
        value (0 when both are None). ``t1 >= t2`` is an empty range: every
        edge is ``t1`` and every count 0. ``bins`` is a positive int.

        Each bucket costs binary searches per source, not a scan:
        O(bins * sources * log n), with the GIL released.

        >>> log = Timelog(maintenance="disabled")
        >>> log.extend((t, None) for t in [0, 1, 2, 2, 5, 9])
        >>> counts, edges = log.histogram(0, 10, bins=3)
        >>> counts, edges
        (array([4, 1, 1]), array([ 0,  3,  6, 10]))
        >>> log.histogram(bins=2)   # [min_ts, max_ts] = [0, 9]
        (array([4, 2]), array([ 0,  5, 10]))
        >>> log.close()
        """
        self._require_open()
        return _bucket_counts(self, t1, t2, bins, False)

    def counts(self, t1, t2, step):
        """Visible records per fixed-width bucket, as an int64 ndarray.

        ``out[i]`` counts ``[t1 + i*step, t1 + (i+1)*step)``; the last bucket
        is clipped at ``t2``, so there are ``ceil((t2 - t1) / step)``
        buckets (none when ``t1 >= t2``). None bounds mean the smallest /
        largest visible timestamp (the largest inclusive), as in
        :meth:`histogram`. ``step`` is a positive int in ``time_unit``.
        O(buckets * sources * log n), with the GIL released; exact and
        tombstone-aware.

        >>> log = Timelog(maintenance="disabled")
        >>> log.extend((t, None) for t in [0, 1, 2, 2, 5, 9])
        >>> log.counts(0, 10, 4)   # [0, 4), [4, 8), [8, 10)
        array([4, 1, 1])
        >>> log.close()
        """
        self._require_open()
        return _bucket_counts(self, t1, t2, step, True)[0]

    cdef object _neighbour(self, int which, int64_t t):
        cdef tl_snapshot_t *snap = NULL
        cdef tl_status_t st
        cdef tl_ts_t out = 0
        self._require_open()
        snap = self._read_pin()
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

    def min_ts(self):
        """Smallest visible timestamp, or None when empty."""
        return self._neighbour(0, 0)

    def max_ts(self):
        """Largest visible timestamp, or None when empty."""
        return self._neighbour(1, 0)

    def next_ts(self, ts):
        """Smallest visible timestamp ``> ts``, or None."""
        self._require_open()
        return self._neighbour(2, _ts(ts, self._unit))

    def prev_ts(self, ts):
        """Largest visible timestamp ``< ts``, or None."""
        self._require_open()
        return self._neighbour(3, _ts(ts, self._unit))

    # ------------------------------------------------------------ zero-copy views

    def views(self, t1=None, t2=None, *, kind="segment"):
        """Zero-copy page spans over ``[t1, t2)`` (None bounds open).

        Yields :class:`PageSpan` objects whose ``timestamps`` are read-only
        NumPy arrays over the engine's own page memory. Only flushed data
        (memruns and segments) appears: records still in the memtable are
        not exposed, so call ``flush()`` first. Records hidden by deletes are
        cut out of the spans. Spans pin their snapshot until released.
        ``kind`` must be ``"segment"`` (the only kind; accepted for
        compatibility with code written for the reference design).

        >>> log = Timelog(maintenance="disabled")
        >>> log.extend([(1, "a"), (2, "b"), (3, "c")]); log.flush()
        >>> [span.timestamps.tolist() for span in log.views(2)]
        [[2, 3]]
        >>> log.close()
        """
        cdef _Snapshot snap
        self._require_open()
        if kind != "segment":
            raise ValueError("views(): kind must be 'segment', got %r" % (kind,))
        snap = self._snapshot()
        if t1 is None and t2 is None:
            return _make_span_iter(snap, _K_ALL, 0, 0)
        if t1 is None:
            return _make_span_iter(snap, _K_RANGE, TL_TS_MIN, _ts(t2, self._unit))
        if t2 is None:
            return _make_span_iter(snap, _K_SINCE, _ts(t1, self._unit), 0)
        return _make_span_iter(snap, _K_RANGE, _ts(t1, self._unit), _ts(t2, self._unit))

    def page_spans(self, t1=None, t2=None, *, kind="segment"):
        """Alias of :meth:`views`."""
        self._require_open()
        return self.views(t1, t2, kind=kind)

    # ------------------------------------------------------------ maintenance

    def flush(self):
        """Seals the memtable and turns every memrun into an L0 segment.

        Publishes pending writes to zero-copy ``views()``; not durability.
        """
        cdef tl_status_t st = TL_OK
        self._maint(_M_FLUSH, &st)
        if st != TL_EBUSY:
            _check(st)

    def compact(self):
        """Full compaction into windowed L1 segments, dropping deleted records.

        Their objects are released (``flush()`` + ``compact()`` leaves no
        deleted record's object referenced by the engine).
        """
        cdef tl_status_t st = TL_OK
        self._maint(_M_COMPACT, &st)
        if st != TL_EBUSY:
            _check(st)

    def maint_step(self):
        """One unit of policy maintenance; True if work was done."""
        cdef tl_status_t st = TL_OK
        self._maint(_M_STEP, &st)
        _check(st)
        return st == TL_OK

    def start_maintenance(self):
        """Start the background maintenance worker (no-op if it runs).

        Works on a log opened with ``maintenance="disabled"`` too: from then
        on the worker flushes and compacts by policy.
        """
        cdef tl_status_t st
        self._g().wacquire()
        try:
            self._require_open()
            st = tl_maint_start(self._log)
        finally:
            self._g().wrelease()
        _check(st)

    def stop_maintenance(self):
        """Stop the background worker after its current unit of work.

        Nothing is lost. While stopped, writes report backpressure past the
        bounds as with ``maintenance="disabled"``; call ``flush()``/``compact()``
        or ``start_maintenance()``.
        """
        cdef tl_status_t st = TL_OK
        self._maint(_M_STOP, &st)
        _check(st)

    @property
    def maintenance_running(self):
        """True while the background maintenance worker thread runs.

        In a child made by ``os.fork()`` it is False until the child's first
        write that needs maintenance starts a new worker (the parent's thread
        is not copied by a fork).
        """
        return self._log is not NULL and tl_maint_running(self._log) != 0

    # ------------------------------------------------------------ introspection

    def stats(self):
        """A dict of counters, by section (see the module docs)."""
        cdef tl_stats_t s
        cdef tl_status_t st
        cdef tl_log_t *log = self._log
        cdef bint kept
        if log is NULL:
            raise TimelogError(_CLOSED_MSG)
        if self._rsnap is not NULL and not tl_snapshot_current(log, self._rsnap):
            # A superseded state would count in the memory figures: let it go.
            self._unpin_reads()
            self._drain()
            log = self._log
            if log is NULL:
                raise TimelogError(_CLOSED_MSG)
        self._g().enter(log)
        try:
            with nogil:
                st = tl_stats(log, &s)
        finally:
            self._g().leave(log)
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

    def _gate_state(self):
        """Internal, for tests: (writer turn held or awaited, its owner's
        thread ident or 0, calls bracketed on the open engine, [(engine,
        calls)] of engines close() detached while calls ran on them)."""
        return self._g()._state()

    def _validate(self):
        """Checks every engine invariant; raises TimelogError naming the broken one."""
        cdef tl_status_t st
        cdef const char *why = NULL
        cdef tl_log_t *log = self._wbegin()
        try:
            with nogil:
                st = tl_validate(log, &why)
        finally:
            self._wend(log)
        if st != TL_OK and st != TL_EINTERNAL:
            _check(st)          # e.g. MemoryError: nothing was checked
        if st != TL_OK:
            raise TimelogError("engine validation failed (%s): %s" % (
                tl_strerror(st).decode("utf-8", "replace"),
                why.decode("utf-8", "replace") if why is not NULL else "no reason given"))

    def validate(self):
        """Checks every engine invariant (see ``_validate``); for tests and debugging."""
        self._validate()

    # ------------------------------------------------------------ fault injection (internal)

    def _arm_alloc_failure(self, k, every=0):
        """Internal, for tests: the k-th engine allocation from now fails.

        Needs a log opened with ``Timelog(_fail_alloc=...)`` (TimelogError
        otherwise). ``k=0`` disarms; ``every > 0`` also fails each
        ``every``-th allocation after the k-th. Allocations made by the
        background worker count too. Not part of the public API.
        """
        self._require_open()
        spec = _fault_spec((k, every))
        self._require_open()
        if self._fault is NULL:
            raise TimelogError("_arm_alloc_failure() needs a log opened with "
                               "Timelog(_fail_alloc=...)")
        _tlpy_fault_arm(self._fault, spec[0], spec[1])

    @property
    def _alloc_calls(self):
        """Internal: engine allocation calls (malloc + realloc) seen by the
        fault-injecting allocator so far; None without ``_fail_alloc``."""
        if self._fault is NULL:
            return None
        return _tlpy_fault_calls(self._fault)

    @property
    def _alloc_failures_injected(self):
        """Internal: allocation calls the fault-injecting allocator failed."""
        if self._fault is NULL:
            return None
        return _tlpy_fault_injected(self._fault)

    @property
    def busy_events(self):
        """Writes that reported backpressure (each was stored)."""
        return self._busy_events

    @property
    def alloc_failures(self):
        """Allocations the engine could not satisfy so far (0 when closed)."""
        cdef tl_stats_t s
        if self._log is NULL or tl_stats(self._log, &s) != TL_OK:
            return 0
        return s.alloc_failures

    @property
    def min_ts_floor(self):
        """The ``min_ts`` guard (an int in ``time_unit``) or None.

        Not to be confused with :meth:`min_ts`, the smallest stored timestamp.
        """
        return self._min_ts

    @property
    def extend_skipped(self):
        """Records skipped by ``extend(..., insert_on_error=True)`` so far."""
        return self._extend_skipped

    @property
    def retired_queue_len(self):
        """Handles waiting to be released (0 when closed)."""
        if self._log is NULL:
            return 0
        return tl_retired_len(self._log)

    @property
    def closed(self):
        return self._log is NULL

    @property
    def time_unit(self):
        return _UNIT_NAMES[self._unit] if self._settings is not None else None

    @property
    def maintenance_mode(self):
        return self._settings["maintenance"] if self._settings is not None else None

    @property
    def busy_policy(self):
        return _BUSY_NAMES[self._busy_policy] if self._settings is not None else None

    # ------------------------------------------------------------ lifecycle

    def close(self):
        """Releases the engine and every stored object; idempotent.

        Iterators, spans and arrays created before still read their snapshot;
        the memory they pin is freed when the last of them goes. Any other
        call on a closed log raises TimelogError (use ``reopen()``).

        Safe from anywhere: called by a stored object's ``__del__`` while the
        log releases objects (during ``flush()``, ``compact()``, ...), or by
        another thread while a call runs in the engine, it closes the log at
        once for every caller and releases the engine as soon as that call
        returns.
        """
        cdef tl_log_t *log = self._log
        if log is NULL:
            return
        self._unpin_reads()
        self._log = NULL
        self._fault = NULL
        # Closes this engine now, or when the last call running on it
        # returns (never one reopen() makes meanwhile): the _Gate protocol.
        self._g().close(log)

    def __enter__(self):
        self._require_open()
        return self

    def __exit__(self, exc_type, exc, tb):
        self.close()
        return False

    def __sizeof__(self):
        cdef tl_stats_t s
        base = object.__sizeof__(self)
        if self._log is not NULL and tl_stats(self._log, &s) == TL_OK:
            return base + <Py_ssize_t> s.engine_bytes
        return base

    cdef dict _summary(self):
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

    def __repr__(self):
        """What is inside: records, time span (ISO timestamps, a duration), layers.

        >>> log = Timelog(time_unit="s", maintenance="disabled")
        >>> log.extend([(1_700_000_000, "a"), (1_700_001_008, "b")])
        >>> log
        <Timelog 2 records, 2023-11-14T22:13:20Z .. 2023-11-14T22:30:08Z (16.8 min), time_unit='s'; layers: memtable=2 memruns=0 L0=0 L1=0>
        >>> log.close(); log
        <Timelog closed, time_unit='s'>
        """
        name = type(self).__name__
        if self._log is NULL:
            return _repr_closed(name, None if self._settings is None else self.time_unit)
        return _repr_text(name, self._summary(), self.time_unit)

    def _repr_html_(self):
        """A small HTML table for Jupyter: size, time span and layers (all escaped)."""
        if self._log is NULL:
            return _repr_html(type(self).__name__, None, "", "", "")
        return _repr_html(type(self).__name__, self._summary(), self.time_unit,
                          self.maintenance_mode, self.busy_policy)

    # ------------------------------------------------------------ pandas, pickling

    def to_pandas(self, t1=None, t2=None):
        """The records of ``[t1, t2)`` as a pandas DataFrame (needs pandas).

        The index is a ``DatetimeIndex`` named ``"ts"``, converted from the
        int64 timestamps by ``time_unit`` (naive, UTC); the one column,
        ``"value"``, holds the stored objects themselves (dtype object, so
        identity is kept: ``df["value"].infer_objects()`` gives a numeric
        column when the payloads are numbers). Built from :meth:`arrays`
        (one snapshot; None bounds are open). A record at ``-2**63`` shows
        as NaT, the one int64 value NumPy reserves. Raises ImportError
        saying ``pip install pandas`` when pandas is missing. O(log n + k).

        >>> log = Timelog(time_unit="s", maintenance="disabled")
        >>> log.extend([(0, "a"), (60, "b")])
        >>> df = log.to_pandas()                       # doctest: +SKIP
        >>> df.index[1], df["value"].tolist()          # doctest: +SKIP
        (Timestamp('1970-01-01 00:01:00'), ['a', 'b'])
        >>> log.close()
        """
        # A closed log says so whether or not pandas is installed.
        self._require_open()
        try:
            # importlib, not an import statement: Cython's import fast path
            # would hand back a None left in sys.modules instead of raising.
            pd = _importlib.import_module("pandas")
        except ImportError:
            raise ImportError(
                "Timelog.to_pandas() needs pandas, which is not installed; "
                "install it with: pip install pandas") from None
        ts, objs = self.arrays(t1, t2)
        unit = self.time_unit
        index = pd.DatetimeIndex(ts.view("datetime64[%s]" % (unit,)), name="ts")
        values = _np.empty(len(objs), dtype=object)
        for i, obj in enumerate(objs):
            values[i] = obj
        return pd.DataFrame({"value": values}, index=index, copy=False)

    def __reduce__(self):
        """Pickling, ``copy.copy`` and ``copy.deepcopy``: settings plus every visible record.

        The copy is a new, independent log opened with the same settings
        (every constructor knob, including ``min_ts`` and the presets'
        values), holding the same visible records in the same order: the
        records are taken from one snapshot with :meth:`arrays`. Counters
        (``busy_events``, ``extend_skipped``) and the layout in layers are
        not kept. ``copy.deepcopy`` deep-copies the payloads; ``copy.copy``
        shares them. A closed log copies as a closed log with its settings.
        Iterators, spans and snapshots cannot be pickled.

        The log is rebuilt in two steps, as the protocols intend for
        containers: a constructor call opens the empty copy (which pickle and
        deepcopy then record in their memo), and ``__setstate__`` loads the
        records. So a log that stores itself (directly or through its
        payloads) copies without RecursionError, and the cycle points at the
        copy.

        >>> import pickle
        >>> log = Timelog(time_unit="us", maintenance="disabled")
        >>> log.extend([(1, "a"), (2, "b")])
        >>> clone = pickle.loads(pickle.dumps(log))
        >>> list(clone), clone.time_unit
        ([(1, 'a'), (2, 'b')], 'us')
        >>> clone.close(); log.close()
        """
        if self._settings is None:
            raise TypeError("cannot pickle a %s that was never opened"
                            % (type(self).__name__,))
        settings = dict(self._settings)
        for name in ("compaction", "adaptive"):
            if settings[name] is not None:
                settings[name] = dict(settings[name])
        attrs = getattr(self, "__dict__", None) or None
        if self._log is NULL:
            return (_rebuild_timelog, (type(self), settings),
                    (_STATE_TAG, attrs, None, None, True))
        ts, objs = self.arrays()
        return (_rebuild_timelog, (type(self), settings),
                (_STATE_TAG, attrs, ts, objs, False))

    def __setstate__(self, state):
        """Second step of unpickling / copying (see :meth:`__reduce__`).

        Loads the records into the freshly opened copy (through
        bulk_append: one engine call, already sorted so the order of equal
        timestamps is kept; a backpressure signal is answered with a flush,
        since the records are stored either way), sets a subclass's
        attributes and, for a copy of a closed log, closes it. A plain dict
        (a pickle from before this format) only sets the attributes.
        """
        if type(state) is dict:
            self.__dict__.update(state)
            return
        if not (type(state) is tuple and len(state) == 5 and state[0] == _STATE_TAG):
            raise TypeError("Timelog.__setstate__: unexpected state %r"
                            % (type(state).__name__,))
        _, attrs, ts, objs, closed = state
        if attrs:
            self.__dict__.update(attrs)
        if ts is not None and len(ts):
            try:
                self.bulk_append(ts, objs)
            except TimelogBusyError:
                self.flush()
            self._busy_events = 0
        if closed:
            self.close()
