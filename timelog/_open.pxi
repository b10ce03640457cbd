# _open.pxi (included by _core.pyx): an engine's lifecycle seen from a
# Timelog: validated settings -> tl_config_t -> tl_open (_log_open), reopen()
# with changed settings, and close().


def _ts_in_unit(x, unit):
    """_config's min_ts converter: x as an int in the time_unit named unit."""
    return _ts(x, _UNITS[unit])


def _normalize(dict kw):
    """Validates every knob (naming it in the message); returns clean values."""
    return _normalize_with(kw, _ts_in_unit)


cdef int _log_open(_TimelogState self, dict settings, object fail_alloc) except -1:
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
    _log_g(self).opened(log)
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


cdef object _Timelog_reopen(_TimelogState self, dict overrides):
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
    _log_open(self, _normalize(base), None)
    return self


cdef object _Timelog_close(_TimelogState self):
    cdef tl_log_t *log = self._log
    if log is NULL:
        return
    _log_unpin_reads(self)
    self._log = NULL
    self._fault = NULL
    # Closes this engine now, or when the last call running on it
    # returns (never one reopen() makes meanwhile): the _Gate protocol.
    _log_g(self).close(log)
