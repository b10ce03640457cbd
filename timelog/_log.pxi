# _log.pxi (included by _core.pyx): class Timelog, the public class: the data
# API (writes, deletes, reads, array reads, zero-copy views) as thin methods
# over the module-level functions of the other .pxi files. The state,
# lifecycle, maintenance and hand-off (pandas, Arrow, pickle) half is its
# base class, _TimelogState (_log_state.pxi).

# no_gc_clear: see _TimelogState; Timelog declares no fields of its own.
@cython.no_gc_clear
cdef class Timelog(_TimelogState):
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
        _Timelog_append(self, obj_or_ts, obj_or_none, ts)

    def __setitem__(self, key, value):
        """``log[ts] = obj`` appends a record (it never replaces: multimap)."""
        _log_require_open(self)
        if type(key) is slice:
            raise TypeError("slice assignment is not supported; use extend()")
        _log_append_one(self, _ts(key, self._unit), value)

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
        return _Timelog_extend(self, ts_or_iterable, objects, mostly_ordered, insert_on_error)

    def bulk_append(self, timestamps, objects, *, mostly_ordered=None):
        """Stores ``len(objects)`` records from a timestamp buffer, in ONE engine call.

        ``timestamps`` is any 1-D buffer: a NumPy array of any stride
        (``arr[::2]``, ``arr[::-1]``, a column of a 2-D array), an
        ``array('q')``, a memoryview, or an object NumPy converts through
        ``__array__`` (a pandas Series or DatetimeIndex; a tz-aware one
        gives its UTC instants), or an Arrow column (a pyarrow array, a
        Polars Series: ``__arrow_c_array__``/``__arrow_c_stream__``) of
        timestamps or integers, where a null is a ValueError naming the row
        (docs/arrow.md). int64
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
        array or Series (the items its iteration yields), or an Arrow
        column (its Python values, nulls as None). Generators,
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
        return _Timelog_bulk_append(self, timestamps, objects, mostly_ordered)

    # ------------------------------------------------------------ deletes

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
        return _Timelog_delete(self, t1, t2)

    def cutoff(self, ts):
        """Deletes every record with timestamp ``< ts`` (retention). O(log T).

        >>> log = Timelog(maintenance="disabled")
        >>> log.extend([(1, "old"), (5, "new")])
        >>> log.cutoff(5)
        >>> list(log)
        [(5, 'new')]
        >>> log.close()
        """
        return _Timelog_cutoff(self, ts)

    def delete_range(self, t1, t2):
        """Deletes ``[t1, t2)``; the reference design's name for ``delete(t1, t2)``.

        ``None`` is an open bound, as in :meth:`delete`."""
        _log_require_open(self)
        self.delete(t1, t2)

    def delete_before(self, ts):
        """Deletes every record ``< ts``; the reference design's name for ``cutoff(ts)``."""
        _log_require_open(self)
        _log_delete(self, _K_UNTIL, 0, _ts(ts, self._unit))

    def __delitem__(self, key):
        """``del log[ts]``, ``del log[t1:t2]``; None bounds are open.

        ``del log[:t2]`` = ``cutoff(t2)``, ``del log[t1:]`` reaches
        ``2**63-1`` inclusive, ``del log[:]`` deletes everything.
        """
        _Timelog_delitem(self, key)

    # ------------------------------------------------------------ reads

    def __getitem__(self, key):
        """``log[t1:t2]`` (None bounds open) -> TimelogIter; ``log[ts]`` -> list.

        >>> log = Timelog(maintenance="disabled")
        >>> log.extend([(1, "a"), (1, "b"), (5, "c")])
        >>> log[1], list(log[2:]), list(log[:2])
        (['a', 'b'], [(5, 'c')], [(1, 'a'), (1, 'b')])
        >>> log.close()
        """
        return _Timelog_getitem(self, key)

    def at(self, ts):
        """The list of objects stored at exactly ``ts`` (empty if none). O(log n + k).

        >>> log = Timelog(maintenance="disabled")
        >>> log[7] = "x"
        >>> log.at(7), log.at(8)
        (['x'], [])
        >>> log.close()
        """
        _log_require_open(self)
        return _log_at(self, _ts(ts, self._unit))

    def range(self, t1, t2):
        """Iterator over ``[t1, t2)`` in timestamp order; ``t1 >= t2`` is empty.

        ``None`` is an open bound, as in ``log[t1:t2]``: ``range(None, t2)``
        is :meth:`until`, ``range(t1, None)`` is :meth:`since` (inclusive of
        ``2**63-1``). Snapshot-consistent: later writes are not seen.
        O(log n + k).
        """
        cdef int64_t a = 0, b = 0
        cdef int kind
        _log_require_open(self)
        kind = _range_kind(t1, t2, self._unit, &a, &b)
        return _log_iter(self, kind, a, b)

    def since(self, t1):
        """Iterator over ``[t1, 2**63-1]`` (inclusive of the int64 maximum)."""
        _log_require_open(self)
        return _log_iter(self, _K_SINCE, _ts(t1, self._unit), 0)

    def until(self, t2):
        """Iterator over ``[-2**63, t2)``."""
        _log_require_open(self)
        return _log_iter(self, _K_UNTIL, 0, _ts(t2, self._unit))

    def all(self):
        """Iterator over every record, in timestamp order."""
        return _log_iter(self, _K_ALL, 0, 0)

    def point(self, ts):
        """Iterator over the records at exactly ``ts``."""
        _log_require_open(self)
        return _log_iter(self, _K_POINT, _ts(ts, self._unit), 0)

    def equal(self, ts):
        """Alias of :meth:`point`."""
        _log_require_open(self)
        return _log_iter(self, _K_POINT, _ts(ts, self._unit), 0)

    def __iter__(self):
        return _log_iter(self, _K_ALL, 0, 0)

    # __len__ + __getitem__ would make reversed() treat the log as a
    # sequence and index it 0..len-1 (point lookups: a list of empty lists).
    def __reversed__(self):
        """Not supported: the read path runs forward only (TypeError)."""
        raise TypeError("reversed(log) is not supported: reads run forward only; "
                        "walk backwards with log.prev_ts(ts), or reverse a "
                        "bounded window: list(log[t1:t2])[::-1]")

    def __contains__(self, ts):
        """``ts in log``: whether any visible record has timestamp ``ts``."""
        return _Timelog_contains(self, ts)

    def __len__(self):
        """Exact number of visible records (tombstone-aware, never an estimate)."""
        cdef uint64_t n = 0
        cdef tl_snapshot_t *snap = NULL
        cdef tl_status_t st
        _log_require_open(self)
        snap = _log_read_pin(self)
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
        return _Timelog_count(self, t1, t2)

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
        return _Timelog_arrays(self, t1, t2)

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
        return _Timelog_to_numpy(self, t1, t2, dtype)

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
        return _Timelog_to_dict(self, t1, t2)

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
        return _Timelog_timestamps(self, t1, t2)

    def histogram(self, t1=None, t2=None, bins=10, *, step=None):
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
        ``step=`` (keyword) gives the fixed-width buckets of :meth:`counts`
        instead, in any step form it takes; a duration passed as ``bins``
        is read as ``step``. Give bins or step, not both.

        Each bucket costs binary searches per source, not a scan:
        O(bins * sources * log n), with the GIL released.

        >>> log = Timelog(maintenance="disabled")
        >>> log.extend((t, None) for t in [0, 1, 2, 2, 5, 9])
        >>> counts, edges = log.histogram(0, 10, bins=3)
        >>> counts, edges
        (array([4, 1, 1]), array([ 0,  3,  6, 10]))
        >>> log.histogram(bins=2)   # [min_ts, max_ts] = [0, 9]
        (array([4, 2]), array([ 0,  5, 10]))
        >>> log.histogram(0, 10, step=4)
        (array([4, 1, 1]), array([ 0,  4,  8, 10]))
        >>> log.close()
        """
        return _Timelog_histogram(self, t1, t2, bins, step)

    def counts(self, t1, t2, step):
        """Visible records per fixed-width bucket, as an int64 ndarray.

        ``out[i]`` counts ``[t1 + i*step, t1 + (i+1)*step)``; the last bucket
        is clipped at ``t2``, so there are ``ceil((t2 - t1) / step)``
        buckets (none when ``t1 >= t2``). None bounds mean the smallest /
        largest visible timestamp (the largest inclusive), as in
        :meth:`histogram`. ``step`` is a positive int in ``time_unit``, or a
        duration converted exactly into it: ``datetime.timedelta`` (and
        ``pandas.Timedelta``), ``numpy.timedelta64``, or a fixed-frequency
        offset string (``"1min"``, ``"250ms"``, ``"1h30min"``). A duration
        that is not a whole number of ticks, or a calendar offset (``"1M"``),
        is a ValueError; a bool a TypeError (docs/api.md, "Steps").
        O(buckets * sources * log n), with the GIL released; exact and
        tombstone-aware.

        >>> log = Timelog(maintenance="disabled")
        >>> log.extend((t, None) for t in [0, 1, 2, 2, 5, 9])
        >>> log.counts(0, 10, 4)   # [0, 4), [4, 8), [8, 10)
        array([4, 1, 1])
        >>> log.counts(0, 10, "4ms")   # the same, time_unit="ms"
        array([4, 1, 1])
        >>> log.close()
        """
        return _Timelog_counts(self, t1, t2, step)

    def windows(self, t1, t2, every):
        """Tumbling windows over ``[t1, t2)``: yields ``(window_start, TimelogIter)``.

        The windows are the buckets of ``counts(t1, t2, every)`` (aligned on
        ``t1``, the last clipped at ``t2``, empty ones included); starts are
        ints in ``time_unit``. All windows read ONE snapshot taken by this
        call, so together they are exactly ``log[t1:t2]`` at the call.

        >>> log = Timelog(maintenance="disabled")
        >>> log.extend((t, str(t)) for t in [0, 1, 2, 5, 9])
        >>> [(start, list(w)) for start, w in log.windows(0, 10, 4)]
        [(0, [(0, '0'), (1, '1'), (2, '2')]), (4, [(5, '5')]), (8, [(9, '9')])]
        >>> log.close()
        """
        return _windows(self, t1, t2, every)

    def min_ts(self):
        """Smallest visible timestamp, or None when empty."""
        return _log_neighbour(self, 0, 0)

    def max_ts(self):
        """Largest visible timestamp, or None when empty."""
        return _log_neighbour(self, 1, 0)

    def next_ts(self, ts):
        """Smallest visible timestamp ``> ts``, or None."""
        _log_require_open(self)
        return _log_neighbour(self, 2, _ts(ts, self._unit))

    def prev_ts(self, ts):
        """Largest visible timestamp ``< ts``, or None."""
        _log_require_open(self)
        return _log_neighbour(self, 3, _ts(ts, self._unit))

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
        return _Timelog_views(self, t1, t2, kind)

    def page_spans(self, t1=None, t2=None, *, kind="segment"):
        """Alias of :meth:`views`."""
        _log_require_open(self)
        return self.views(t1, t2, kind=kind)
