# _log_state.pxi (included by _core.pyx): class _TimelogState, the base of
# Timelog (_log.pxi). It owns what a log *is* rather than what it stores: the
# engine handle and the fields declared in _core.pxd, construction and the
# presets, reopen/close, maintenance calls, stats and diagnostics, repr, and
# the hand-off of a whole log to other libraries (pandas, Arrow, pickle).
# Timelog adds the data API (writes, deletes, reads, exports) as
# thin methods over the module-level functions of the other .pxi files.
# The split is along that line because a Cython class body cannot include
# another file; every module-level helper takes a _TimelogState.

# no_gc_clear: the cycle collector breaks a cycle through a log by closing it
# (_Timelog_tp_clear in _gc.pxi), which keeps its settings, so a finalizer
# that still reaches the log finds a plain closed log. Its own fields
# (settings, ints) never take part in a cycle.
@cython.no_gc_clear
cdef class _TimelogState:
    """The state and lifecycle half of :class:`Timelog` (its base class).

    Not used on its own: construct a :class:`Timelog`.
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
        _log_open(self, settings, _fault_spec(_fail_alloc))

    def __dealloc__(self):
        # C-only backstop: tl_close may run on_drop, which only Py_DECREFs
        # (the GIL is held here). Nothing can be in flight: every call that
        # brackets an engine holds a reference to self. Every snapshot pin
        # holds one too, so each engine is torn down here or before, and the
        # fault allocators (if any) are no longer used by anyone.
        _log_unpin_reads(self)
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

    @classmethod
    def from_arrow(cls, data, ts="ts", value="value", *, time_unit=None, unpickle=None,
                   **settings):
        """A new log holding every row of Arrow ``data`` (docs/arrow.md, "Arrow in").

        ``data``: a pyarrow Table or RecordBatch, or anything with
        ``__arrow_c_stream__`` / ``__arrow_c_array__`` (a Polars or pandas
        DataFrame, a DuckDB result, ``log.arrow()``); needs pyarrow.
        ``ts`` names the timestamp column: an Arrow timestamp of any unit (a
        time zone is allowed; the instants are UTC) or integers in
        ``time_unit``; a null is a ValueError naming the row. ``value``
        names the payload column, or is a list of columns (each payload a
        dict ``{column: value}``) or None (every payload None). Nulls become
        None. ``time_unit`` defaults to the timestamp column's unit ("ms"
        for integers); a finer column is floored into a coarser unit, a
        coarser one multiplied exactly (OverflowError if it does not fit).
        A column that ``payload="pickle"`` exported holds pickles: pass
        ``unpickle=True`` to restore the objects (only for data you trust)
        or ``unpickle=False`` to keep the bytes. Other keywords are
        constructor settings. Everything is converted first and stored in
        one ``bulk_append``: bad input raises and builds no log.

        >>> import pyarrow as pa                                 # doctest: +SKIP
        >>> t = pa.table({"ts": pa.array([60, 0], pa.timestamp("s")),
        ...               "value": ["b", "a"]})                  # doctest: +SKIP
        >>> log = Timelog.from_arrow(t, maintenance="disabled")  # doctest: +SKIP
        >>> list(log), log.time_unit                             # doctest: +SKIP
        ([(0, 'a'), (60, 'b')], 's')
        """
        return _importlib.import_module("timelog._arrow_in").from_arrow(
            cls, data, ts, value, time_unit, unpickle, settings)

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
        return _Timelog_reopen(self, overrides)

    def configure(self, **overrides):
        """Alias of :meth:`reopen`: a fresh engine with changed settings."""
        return self.reopen(**overrides)

    # ------------------------------------------------------------ maintenance

    def flush(self):
        """Seals the memtable and turns every memrun into an L0 segment.

        Publishes pending writes to zero-copy ``views()``; not durability.
        """
        cdef tl_status_t st = TL_OK
        _log_maint(self, _M_FLUSH, &st)
        if st != TL_EBUSY:
            _check(st)

    def compact(self):
        """Full compaction into windowed L1 segments, dropping deleted records.

        Their objects are released (``flush()`` + ``compact()`` leaves no
        deleted record's object referenced by the engine).
        """
        cdef tl_status_t st = TL_OK
        _log_maint(self, _M_COMPACT, &st)
        if st != TL_EBUSY:
            _check(st)

    def maint_step(self):
        """One unit of policy maintenance; True if work was done."""
        cdef tl_status_t st = TL_OK
        _log_maint(self, _M_STEP, &st)
        _check(st)
        return st == TL_OK

    def start_maintenance(self):
        """Start the background maintenance worker (no-op if it runs).

        Works on a log opened with ``maintenance="disabled"`` too: from then
        on the worker flushes and compacts by policy.
        """
        return _Timelog_start_maintenance(self)

    def stop_maintenance(self):
        """Stop the background worker after its current unit of work.

        Nothing is lost. While stopped, writes report backpressure past the
        bounds as with ``maintenance="disabled"``; call ``flush()``/``compact()``
        or ``start_maintenance()``.
        """
        cdef tl_status_t st = TL_OK
        _log_maint(self, _M_STOP, &st)
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
        return _Timelog_stats(self)

    def _gate_state(self):
        """Internal, for tests: (writer turn held or awaited, its owner's
        thread ident or 0, calls bracketed on the open engine, [(engine,
        calls)] of engines close() detached while calls ran on them)."""
        return _log_g(self)._state()

    def _validate(self):
        """Checks every engine invariant; raises TimelogError naming the broken one."""
        return _Timelog_validate(self)

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
        _log_require_open(self)
        spec = _fault_spec((k, every))
        _log_require_open(self)
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
        return _Timelog_close(self)

    def __enter__(self):
        _log_require_open(self)
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
        return _repr_text(name, _log_summary(self), self.time_unit)

    def _repr_html_(self):
        """Small HTML tables for Jupyter: size, time span and layers, then the
        first and last 3 records (ISO times, payload reprs cut to one line;
        the whole log when it has at most 6). All escaped; no scan (see
        _preview.pxi)."""
        if self._log is NULL:
            return _repr_html(type(self).__name__, None, "", "", "")
        summary = _log_summary(self)
        # The records are read (and pinned by their references) before any
        # payload __repr__ runs: one that closes or writes to this log sees
        # a finished read.
        preview = _log_preview(self)
        return _repr_html(type(self).__name__, summary, self.time_unit,
                          self.maintenance_mode, self.busy_policy, preview)

    # ------------------------------------------------------------ pandas

    def to_pandas(self, t1=None, t2=None, *, tz=None):
        """The records of ``[t1, t2)`` as a pandas DataFrame (needs pandas).

        The index is a ``DatetimeIndex`` named ``"ts"``, converted from the
        int64 timestamps by ``time_unit`` (naive, UTC; ``tz="UTC"`` or any
        other zone name or tzinfo makes it tz-aware, shown in that zone:
        the instants are the same); the one column,
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
        >>> log.to_pandas(tz="UTC").index[1]           # doctest: +SKIP
        Timestamp('1970-01-01 00:01:00+0000', tz='UTC')
        >>> log.close()
        """
        return _Timelog_to_pandas(self, t1, t2, tz)

    # ------------------------------------------------------------ Arrow (docs/arrow.md)

    def __arrow_c_stream__(self, requested_schema=None):
        """The whole log as an Arrow PyCapsule stream (docs/arrow.md): ``ts``, ``value``."""
        return _arrow_stream_of_log(self, requested_schema)

    def arrow(self, t1=None, t2=None, *, payload="auto"):
        """``[t1, t2)`` as an object with ``__arrow_c_stream__`` (docs/arrow.md).

        ``payload``: ``"auto"``, ``"columns"``, ``"pickle"`` or ``None``
        (timestamps only; needs no pyarrow).

        >>> import polars as pl                              # doctest: +SKIP
        >>> pl.DataFrame(log.arrow(payload=None))            # doctest: +SKIP
        """
        return _arrow_range(self, t1, t2, payload)

    def to_arrow(self, t1=None, t2=None, *, payload="auto"):
        """The records of ``[t1, t2)`` as a pyarrow.Table (needs pyarrow; docs/arrow.md).

        Columns ``ts`` (``timestamp[time_unit, tz=UTC]``, zero-copy over
        flushed pages) and ``value`` (see ``payload`` in :meth:`arrow`).
        One snapshot; None bounds are open. O(log n + k).

        >>> log = Timelog(time_unit="s", maintenance="disabled")
        >>> log.extend([(0, 1.5), (60, None)])
        >>> log.to_arrow().column("value").to_pylist()    # doctest: +SKIP
        [1.5, None]
        >>> log.close()
        """
        return _arrow_frame("to_arrow", self, t1, t2, payload=payload)

    def to_polars(self, t1=None, t2=None, *, payload="auto"):
        """The records of ``[t1, t2)`` as a polars.DataFrame (needs polars; docs/arrow.md).

        Read through the Arrow stream of :meth:`arrow`: a ``ts`` column of
        ``Datetime(time_unit, "UTC")`` and the payload columns. O(log n + k).

        >>> log = Timelog(maintenance="disabled")
        >>> log.extend([(0, "a"), (5, "b")])
        >>> log.to_polars()["value"].to_list()             # doctest: +SKIP
        ['a', 'b']
        >>> log.close()
        """
        return _arrow_frame("to_polars", self, t1, t2, payload=payload)

    # ------------------------------------------------------------ files (docs/arrow.md)

    def save(self, path, t1=None, t2=None, *, format=None, payload="auto"):
        """Writes ``[t1, t2)`` to a Parquet or Arrow IPC file (needs pyarrow).

        The format follows the suffix: ``.parquet``/``.pq`` (Parquet),
        ``.arrow``/``.feather``/``.ipc`` (Arrow IPC file), or ``format=``
        ("parquet" or "arrow"). Columns ``ts`` (``timestamp[time_unit,
        tz=UTC]``) and ``value``, in iteration order (duplicates kept), from
        one snapshot; ``time_unit`` and the settings go into the schema
        metadata, so :meth:`load` rebuilds the same log and any other tool
        reads the table. ``payload="auto"`` writes an Arrow column when the
        payloads are all one of int, float, bool, str or bytes (or None),
        and pickles otherwise, so the round trip is exact; ``"pickle"``
        always pickles; ``None`` saves timestamps only. The file is written
        beside ``path`` and renamed over it: a failed save leaves an
        existing file untouched. O(n).

        >>> log = Timelog(time_unit="s", maintenance="disabled")
        >>> log.extend([(60, "b"), (0, "a"), (60, "c")])
        >>> log.save("/tmp/events.parquet")                   # doctest: +SKIP
        >>> list(Timelog.load("/tmp/events.parquet")) == list(log)  # doctest: +SKIP
        True
        >>> log.close()
        """
        # A closed log says so whether or not pyarrow is installed.
        _log_require_open(self)
        _importlib.import_module("timelog._save_load").save(self, path, t1, t2, format, payload)

    @classmethod
    def load(cls, path, *, format=None, unpickle=True, **overrides):
        """A new log holding what :meth:`save` wrote to ``path``.

        Settings come from the file; keyword arguments override them (as in
        :meth:`reopen`). The format follows the suffix, as in :meth:`save`.
        A file that ``save`` did not write (no ``timelog`` schema metadata:
        use :meth:`from_arrow` for any table), a damaged or truncated file,
        or one whose metadata disagrees with its contents raises ValueError
        naming the path, and builds no log. Pickled payloads are unpickled,
        which runs code: load only files you trust, as with pickle
        (``unpickle=False`` keeps the bytes). One ``bulk_append``. O(n).
        """
        return _importlib.import_module("timelog._save_load").load(
            cls, path, format, unpickle, overrides)

    # ------------------------------------------------------------ pickling

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
        return _Timelog_reduce(self)

    def __setstate__(self, state):
        """Second step of unpickling / copying (see :meth:`__reduce__`).

        Loads the records into the freshly opened copy (through
        bulk_append: one engine call, already sorted so the order of equal
        timestamps is kept; a backpressure signal is answered with a flush,
        since the records are stored either way), sets a subclass's
        attributes and, for a copy of a closed log, closes it. A plain dict
        (a pickle from before this format) only sets the attributes.
        """
        return _Timelog_setstate(self, state)
