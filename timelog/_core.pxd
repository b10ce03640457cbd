# cython: language_level=3
#
# timelog/_core.pxd: the engine's public API as Cython sees it, then the
# extension classes' fields.
#
# The extern block mirrors csrc/timelog.h in the same order and with the same
# section comments, so a diff of the two reads like a checklist.
# tests/test_pxd_sync.py fails when a public function of the header is missing
# here. Opaque engine structs never declare fields: the binding must not know
# their layout.

from cpython.ref cimport PyObject
from libc.stdint cimport int64_t, uint32_t, uint64_t


cdef extern from "timelog.h" nogil:

    # ------------------------------------------------------------ types

    ctypedef int64_t tl_ts_t        # a timestamp; every int64 value is valid
    ctypedef uint64_t tl_handle_t   # an opaque payload reference (a PyObject* here)
    ctypedef uint64_t tl_seq_t      # write/delete sequence number

    const int64_t TL_TS_MIN
    const int64_t TL_TS_MAX

    ctypedef struct tl_log_t:       # opaque: one engine instance
        pass
    ctypedef struct tl_snapshot_t:  # opaque: a consistent read view
        pass
    ctypedef struct tl_iter_t:      # opaque: a cursor over a snapshot
        pass
    ctypedef struct tl_span_iter_t:  # opaque: zero-copy spans of a snapshot
        pass

    ctypedef enum tl_status_t:
        TL_OK
        TL_EOF        # iterator exhausted / nothing found / no work: not an error
        TL_EBUSY      # backpressure; the write WAS accepted
        TL_ENOMEM     # an allocation failed; the engine state is unchanged
        TL_EINVAL     # invalid argument or configuration
        TL_ESTATE     # call not allowed in this state (e.g. log closed)
        TL_EINTERNAL  # an invariant broke: a bug in the engine

    # A static string, never freed.
    const char *tl_strerror(tl_status_t st)

    # ------------------------------------------------------------ config

    ctypedef struct tl_allocator_t:
        void *ctx
        void *(*malloc_fn)(void *ctx, size_t n)
        void *(*realloc_fn)(void *ctx, void *p, size_t old_n, size_t new_n)
        void (*free_fn)(void *ctx, void *p, size_t n)

    # Called once for every handle the engine stops referencing; only from
    # tl_drain_retired() and from teardown (tl_close / last snapshot release).
    ctypedef void (*tl_on_drop_fn)(void *ctx, tl_handle_t h)

    ctypedef enum tl_time_unit_t:
        TL_UNIT_S
        TL_UNIT_MS
        TL_UNIT_US
        TL_UNIT_NS

    ctypedef enum tl_maintenance_t:
        TL_MAINT_DISABLED
        TL_MAINT_BACKGROUND

    # Adaptive L1 window width; target_records == 0 keeps window_size.
    ctypedef struct tl_adaptive_config_t:
        uint64_t target_records
        tl_ts_t min_window
        tl_ts_t max_window
        double hysteresis_pct
        tl_ts_t window_quantum
        double alpha
        uint32_t warmup_flushes
        uint32_t stale_flushes
        uint32_t failure_backoff_threshold
        double failure_backoff_pct

    # Zero in a numeric field means "engine default".
    ctypedef struct tl_config_t:
        size_t size
        tl_time_unit_t time_unit
        tl_maintenance_t maintenance
        size_t memtable_max_bytes
        size_t target_page_bytes
        size_t sealed_max_runs
        size_t ooo_budget_bytes
        uint32_t sealed_wait_ms
        uint32_t maintenance_wakeup_ms
        size_t drain_batch_limit
        size_t max_delta_segments
        tl_ts_t window_size
        tl_ts_t window_origin
        double delete_debt_threshold
        size_t compaction_target_bytes
        size_t compaction_max_inputs
        size_t compaction_max_windows
        tl_allocator_t alloc
        tl_on_drop_fn on_drop
        void *on_drop_ctx
        tl_adaptive_config_t adaptive

    void tl_config_init(tl_config_t *cfg)

    # ------------------------------------------------------------ lifecycle

    tl_status_t tl_open(const tl_config_t *cfg, tl_log_t **out)
    tl_status_t tl_config_check(const tl_config_t *cfg, const char **why)
    # May run on_drop (teardown): call with the GIL held.
    void tl_close(tl_log_t *log)

    # ------------------------------------------------------------ writes

    tl_status_t tl_append(tl_log_t *log, tl_ts_t ts, tl_handle_t h)
    tl_status_t tl_append_now(tl_log_t *log, tl_handle_t h, tl_ts_t *ts_out)
    tl_status_t tl_append_batch(tl_log_t *log, const tl_ts_t *ts,
                                const tl_handle_t *h, size_t n)
    ctypedef struct tl_batch_t:
        pass
    tl_status_t tl_batch_open(tl_log_t *log, size_t n, tl_batch_t **out, tl_ts_t **ts,
                              tl_handle_t **h)
    tl_status_t tl_batch_commit(tl_log_t *log, tl_batch_t *b, size_t n_used)
    # On a batch that was never committed (no on_drop: the handles are the caller's).
    void tl_batch_abandon(tl_log_t *log, tl_batch_t *b)

    tl_status_t tl_delete_range(tl_log_t *log, tl_ts_t t1, tl_ts_t t2)
    tl_status_t tl_delete_since(tl_log_t *log, tl_ts_t t1)
    tl_status_t tl_delete_before(tl_log_t *log, tl_ts_t t2)
    tl_status_t tl_delete_ts(tl_log_t *log, tl_ts_t ts)
    tl_status_t tl_delete_all(tl_log_t *log)

    # ------------------------------------------------------------ maintenance

    tl_status_t tl_flush(tl_log_t *log)
    tl_status_t tl_compact(tl_log_t *log)
    tl_status_t tl_maint_step(tl_log_t *log)
    tl_status_t tl_maint_start(tl_log_t *log)
    tl_status_t tl_maint_stop(tl_log_t *log)
    int tl_maint_running(const tl_log_t *log)
    # Runs on_drop: call with the GIL held.
    tl_status_t tl_drain_retired(tl_log_t *log, size_t limit, size_t *n_out)
    size_t tl_retired_len(const tl_log_t *log)

    # ------------------------------------------------------------ ownership and fork

    # visit runs under the engine's locks: it must not call into the log.
    ctypedef int (*tl_visit_fn)(tl_handle_t h, void *ctx) noexcept
    int tl_visit_handles(tl_log_t *log, tl_visit_fn visit, void *ctx)
    # Per open log, around os.fork() (see Timelog's fork hooks).
    void tl_fork_prepare(tl_log_t *log)
    void tl_fork_parent(tl_log_t *log)
    void tl_fork_child(tl_log_t *log)

    # ------------------------------------------------------------ stats

    ctypedef struct tl_stats_t:
        uint64_t records
        uint64_t physical_records
        uint64_t memtable_records
        uint64_t memtable_ooo_records
        uint64_t memruns
        uint64_t memrun_records
        uint64_t l0_segments
        uint64_t l0_records
        uint64_t l1_segments
        uint64_t l1_records
        uint64_t pages
        uint64_t tombstones
        tl_ts_t min_ts
        tl_ts_t max_ts
        uint64_t seq
        uint64_t engine_bytes
        uint64_t peak_bytes
        uint64_t alloc_calls
        uint64_t alloc_failures
        uint64_t seals
        uint64_t flushes
        uint64_t compactions
        uint64_t busy_events
        uint64_t retired_len
        uint64_t dropped_handles
        uint64_t snapshots
        uint64_t covered_drops
        tl_ts_t window_width
        double adaptive_density
        uint64_t adaptive_samples
        uint64_t adaptive_resizes
        uint64_t adaptive_failures
        uint64_t compactions_bounded

    tl_status_t tl_stats(tl_log_t *log, tl_stats_t *out)
    tl_status_t tl_validate(tl_log_t *log, const char **why)

    # ------------------------------------------------------------ point reads

    tl_status_t tl_point(tl_log_t *log, tl_ts_t ts, tl_handle_t *out, size_t cap,
                         size_t *n_total)

    # ------------------------------------------------------------ snapshots

    tl_status_t tl_snapshot_acquire(tl_log_t *log, tl_snapshot_t **out)
    void tl_snapshot_retain(tl_snapshot_t *snap)
    # May run on_drop (last pin after close): call with the GIL held.
    void tl_snapshot_release(tl_snapshot_t *snap)
    int tl_snapshot_current(tl_log_t *log, const tl_snapshot_t *snap)
    tl_status_t tl_point_in(tl_snapshot_t *snap, tl_ts_t ts, tl_handle_t *out, size_t cap,
                            size_t *n_total)
    tl_seq_t tl_snapshot_seq(const tl_snapshot_t *snap)
    uint32_t tl_snapshot_pins(const tl_snapshot_t *snap)

    tl_status_t tl_count_range(tl_snapshot_t *snap, tl_ts_t t1, tl_ts_t t2, uint64_t *out)
    tl_status_t tl_count_since(tl_snapshot_t *snap, tl_ts_t t1, uint64_t *out)
    tl_status_t tl_count_all(tl_snapshot_t *snap, uint64_t *out)

    # out[i] counts [edges[i], edges[i+1]); edges non-decreasing (TL_EINVAL
    # otherwise); n_edges < 2 writes nothing.
    tl_status_t tl_count_buckets(tl_snapshot_t *snap, const tl_ts_t *edges,
                                 size_t n_edges, uint64_t *out)

    tl_status_t tl_min_ts(tl_snapshot_t *snap, tl_ts_t *out)
    tl_status_t tl_max_ts(tl_snapshot_t *snap, tl_ts_t *out)
    tl_status_t tl_next_ts(tl_snapshot_t *snap, tl_ts_t ts, tl_ts_t *out)
    tl_status_t tl_prev_ts(tl_snapshot_t *snap, tl_ts_t ts, tl_ts_t *out)

    # ------------------------------------------------------------ iterators

    tl_status_t tl_iter_range(tl_snapshot_t *snap, tl_ts_t t1, tl_ts_t t2, tl_iter_t **out)
    tl_status_t tl_iter_since(tl_snapshot_t *snap, tl_ts_t t1, tl_iter_t **out)
    tl_status_t tl_iter_until(tl_snapshot_t *snap, tl_ts_t t2, tl_iter_t **out)
    tl_status_t tl_iter_all(tl_snapshot_t *snap, tl_iter_t **out)
    tl_status_t tl_iter_point(tl_snapshot_t *snap, tl_ts_t ts, tl_iter_t **out)

    tl_status_t tl_iter_next(tl_iter_t *it, tl_ts_t *ts, tl_handle_t *h)
    tl_status_t tl_iter_next_batch(tl_iter_t *it, tl_ts_t *ts, tl_handle_t *h,
                                   size_t cap, size_t *n_out)
    tl_status_t tl_iter_remaining(tl_iter_t *it, uint64_t *out)

    # May run on_drop (its pin can be the last after close): GIL held.
    tl_status_t tl_iter_snapshot(tl_iter_t *it, tl_snapshot_t **out)
    void tl_iter_close(tl_iter_t *it)

    # ------------------------------------------------------------ zero-copy spans

    ctypedef struct tl_span_t:
        const tl_ts_t *ts
        const tl_handle_t *h
        size_t n
        int level

    tl_status_t tl_spans_range(tl_snapshot_t *snap, tl_ts_t t1, tl_ts_t t2,
                               tl_span_iter_t **out)
    tl_status_t tl_spans_since(tl_snapshot_t *snap, tl_ts_t t1, tl_span_iter_t **out)
    tl_status_t tl_spans_all(tl_snapshot_t *snap, tl_span_iter_t **out)
    tl_status_t tl_spans_next(tl_span_iter_t *it, tl_span_t *out)
    # May run on_drop (its pin can be the last after close): GIL held.
    void tl_spans_close(tl_span_iter_t *it)


# ---------------------------------------------------------------- extension classes
#
# Ownership: each class owns at most one C resource; pin holders reference
# their owner (TimelogIter / PageSpanIter / PageSpan -> _Snapshot -> Timelog)
# so no pin outlives the Python object that can drain its engine.

cdef enum:
    _ITER_BUF = 256      # records buffered per TimelogIter refill (long scans)
    _ITER_SMALL = 16     # records buffered inline (first refill)


# The fault-injecting allocator behind Timelog(_fail_alloc=...): a C struct
# defined in timelog/_fault_alloc.h (one per engine opened with it, freed with its Timelog).
cdef extern from *:
    ctypedef struct _tlpy_fault_t:
        pass

# The writer turn of a _Gate: a FIFO ticket lock (C struct defined in timelog/_turn.h).
cdef extern from *:
    ctypedef struct _tlpy_turn_t:
        pass


# The writer turn and engine lifetime of one Timelog (protocol in timelog/_gate.pxi).
cdef class _Gate:
    cdef _tlpy_turn_t *_turn
    cdef int _depth                  # nesting of the owner's turn (owner only)
    cdef tl_log_t *_log              # the OPEN engine, or NULL
    cdef Py_ssize_t _calls           # brackets (enter/leave) on _log
    cdef list _detached              # [[engine as int, calls]]: DETACHED engines

    cdef bint busy(self) noexcept
    cdef bint mine(self) noexcept
    cdef int wacquire(self) except -1
    cdef void wrelease(self) noexcept
    cdef void opened(self, tl_log_t *log) noexcept
    cdef void enter(self, tl_log_t *log) noexcept
    cdef int leave(self, tl_log_t *log) except -1
    cdef int close(self, tl_log_t *log) except -1

    @staticmethod
    cdef int _teardown(tl_log_t *log) except -1
    cdef void close_all(self) noexcept


# Timelog's fields live in its base class, _TimelogState (timelog/_log_state.pxi:
# state, lifecycle, maintenance, hand-off); Timelog (timelog/_log.pxi) adds the
# data API and no fields. Helpers take the base: _log_<name>(_TimelogState self).
cdef class _TimelogState:
    cdef tl_log_t *_log              # NULL when closed (or never opened)
    cdef tl_config_t _cfg            # the config the engine was opened with
    cdef dict _settings              # echo of every constructor knob (Python values)
    cdef int _busy_policy            # _BUSY_RAISE / _BUSY_SILENT / _BUSY_FLUSH
    cdef uint64_t _busy_events
    cdef uint64_t _extend_skipped
    cdef object _min_ts              # the min_ts guard: None or an int
    cdef bint _has_min_ts
    cdef int64_t _min_ts_c
    cdef bint _mostly_ordered_default
    cdef int _unit                   # a tl_time_unit_t value
    # The writer turn and the lifetime of each engine this object opened:
    # which calls run on which engine, so close() never frees one under them.
    # An owned reference to a _Gate held as a raw pointer (use _g()), so the
    # cycle collector's tp_clear cannot set it to None while the engine is
    # open or a finalizer still calls in; released by __dealloc__.
    cdef PyObject *_gatep
    cdef _tlpy_fault_t *_fault       # the current engine's fault allocator, or NULL
    cdef _tlpy_fault_t *_faults      # every fault allocator this object made (freed in dealloc)
    # The pin the last read took, reused by the next reads while nothing was
    # written or published (tl_snapshot_current); writers and close drop it.
    # A raw pin, not a _Snapshot: that would reference this object (a cycle).
    cdef tl_snapshot_t *_rsnap
    cdef object __weakref__

    # No cdef methods: the class's internals are module-level cdef
    # functions taking a _TimelogState, _log_<name>(_TimelogState self, ...),
    # each in the include file of its concern (timelog/_gate.pxi, _pin.pxi...).


cdef class Timelog(_TimelogState):
    pass


cdef class _Snapshot:
    cdef tl_snapshot_t *_snap        # NULL until a factory stores a checked result
    cdef _TimelogState _owner

    cdef int _release(self) except -1


cdef class TimelogIter:
    cdef tl_iter_t *_it              # NULL once closed; pins its own snapshot
    cdef _TimelogState _owner              # keeps the engine alive; drained after close
    cdef int _kind                   # _K_RANGE / _K_SINCE / _K_UNTIL / _K_ALL / _K_POINT
    cdef int64_t _t1
    cdef int64_t _t2
    cdef size_t _pos                 # next buffered record to yield
    cdef size_t _n                   # buffered records
    cdef bint _eof                   # the engine iterator is exhausted
    cdef bint _busy                  # a call runs with the GIL released on _it
    cdef bint _close_pending         # close() arrived while _busy
    cdef tl_ts_t *_tsbuf             # _ts_small, or _ITER_BUF records on the heap
    cdef tl_handle_t *_hbuf
    cdef size_t _cap                 # records _tsbuf/_hbuf hold
    cdef size_t _refills
    cdef tuple _last                 # the tuple __next__ returned last (reused when unshared)
    # A short range fits the inline buffers; only long scans pay for (and
    # reuse) a large heap buffer. Keeps creating an iterator cheap.
    cdef tl_ts_t _ts_small[_ITER_SMALL]
    cdef tl_handle_t _h_small[_ITER_SMALL]

    cdef int _refill(self) except -1
    cdef int _close(self) except -1
    cdef int _acquire(self) except -1
    cdef int _release_busy(self) except -1
    cdef list _next_batch(self, Py_ssize_t want)


cdef class PageSpanIter:
    cdef tl_span_iter_t *_it         # NULL once closed
    cdef _Snapshot _snap             # shared with every PageSpan it yields

    cdef int _close(self) except -1


cdef class PageSpan:
    cdef _Snapshot _snap             # the pin: None once closed
    cdef const tl_ts_t *_ts
    cdef const tl_handle_t *_h
    cdef size_t _n
    cdef int _level
    # Buffer protocol: live exports (close() refuses while > 0), and the
    # shape/stride the Py_buffer points at (they must outlive every export).
    cdef Py_ssize_t _exports
    cdef Py_ssize_t _buf_shape
    cdef Py_ssize_t _buf_stride

    cdef int _require(self) except -1


cdef class PageSpanObjectsView:
    cdef _Snapshot _snap             # keeps the handles' records alive
    cdef const tl_handle_t *_h
    cdef size_t _n
