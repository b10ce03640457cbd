/*
 * timelog.h: the public API of the timelog engine.
 *
 * An in-memory, time-indexed multimap from signed 64-bit timestamps to opaque
 * 64-bit handles. Writes land in a mutable memtable, are sealed into immutable
 * sorted memruns, flushed into L0 segments and compacted into non-overlapping,
 * time-windowed L1 segments. Reads work on snapshots.
 *
 * Conventions:
 * - Every fallible call returns tl_status_t and writes its result through a
 *   trailing out pointer, which is set to NULL/0 on failure.
 * - Destructors return void and accept NULL.
 * - Ranges are half-open [t1, t2); t1 >= t2 is an empty range, never an error.
 *   Calls named *_since reach INT64_MAX inclusive; *_until start at INT64_MIN.
 * - Threads: one writer (appends, deletes, flush, compact, maint_step, close
 *   are serialized by the caller); snapshots, iterators and their reads may
 *   run in any thread concurrently with the writer.
 * - The engine never calls back into its caller except through on_drop, which
 *   it invokes only from tl_drain_retired() and from the final teardown (the
 *   thread that calls tl_close() or releases the last snapshot).
 */
#ifndef TIMELOG_H
#define TIMELOG_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__) || defined(__clang__)
#define TL_NODISCARD __attribute__((warn_unused_result))
#else
#define TL_NODISCARD
#endif

/* ---------------------------------------------------------------- types */

typedef int64_t tl_ts_t;      /* a timestamp; every int64 value is valid */
typedef uint64_t tl_handle_t; /* an opaque payload reference */
typedef uint64_t tl_seq_t;    /* write/delete sequence number */

#define TL_TS_MIN INT64_MIN
#define TL_TS_MAX INT64_MAX

typedef struct tl_log tl_log_t;             /* opaque: one engine instance */
typedef struct tl_snapshot tl_snapshot_t;   /* opaque: a consistent read view */
typedef struct tl_iter tl_iter_t;           /* opaque: a cursor over a snapshot */
typedef struct tl_span_iter tl_span_iter_t; /* opaque: zero-copy spans of a snapshot */

typedef enum tl_status {
    TL_OK = 0,
    TL_EOF,      /* iterator exhausted / nothing found / no work: not an error */
    TL_EBUSY,    /* backpressure; the write WAS accepted */
    TL_ENOMEM,   /* an allocation failed; the engine state is unchanged */
    TL_EINVAL,   /* invalid argument or configuration */
    TL_ESTATE,   /* call not allowed in this state (e.g. log closed) */
    TL_EINTERNAL /* an invariant broke: a bug in the engine */
} tl_status_t;

/* A static string, never freed. Unknown codes get a generic message. */
const char *tl_strerror(tl_status_t st);

/* ---------------------------------------------------------------- config */

/* Allocator hooks. All zero = libc. Sizes are always passed to realloc and
 * free so a counting allocator needs no header. realloc_fn may be NULL
 * (the engine then allocates, copies and frees). */
typedef struct tl_allocator {
    void *ctx;
    void *(*malloc_fn)(void *ctx, size_t n);
    void *(*realloc_fn)(void *ctx, void *p, size_t old_n, size_t new_n);
    void (*free_fn)(void *ctx, void *p, size_t n);
} tl_allocator_t;

/* Called once for every handle the engine stops referencing (a record was
 * physically dropped, or the log was torn down). See the threading note at
 * the top for which threads may run it. */
typedef void (*tl_on_drop_fn)(void *ctx, tl_handle_t h);

typedef enum tl_time_unit {
    TL_UNIT_S = 0,
    TL_UNIT_MS = 1,
    TL_UNIT_US = 2,
    TL_UNIT_NS = 3
} tl_time_unit_t;

typedef enum tl_maintenance {
    TL_MAINT_DISABLED = 0,  /* only explicit flush/compact/maint_step */
    TL_MAINT_BACKGROUND = 1 /* the engine keeps fan-out bounded by itself */
} tl_maintenance_t;

/* Adaptive L1 window sizing (see tl_adaptive.h). target_records == 0 keeps
 * the fixed window_size. Widths are in time_unit ticks. */
typedef struct tl_adaptive_config {
    uint64_t target_records;            /* records one L1 window should hold (0 = off) */
    tl_ts_t min_window;                 /* narrowest width (0 = window_quantum) */
    tl_ts_t max_window;                 /* widest width (0 = no bound) */
    double hysteresis_pct;              /* keep the width unless the candidate differs by
                                  * more than this percentage (0 = none) */
    tl_ts_t window_quantum;             /* widths are multiples of this (0 = 1) */
    double alpha;                       /* EWMA weight of a new density sample (0 = 0.2) */
    uint32_t warmup_flushes;            /* density samples before the first resize (0 = 1) */
    uint32_t stale_flushes;             /* flushes in a row without a sample that discard
                                  * the estimate and restart warmup (0 = never) */
    uint32_t failure_backoff_threshold; /* failed compactions in a row before the
                                         * width shrinks (0 = never) */
    double failure_backoff_pct;         /* shrink per failure past the threshold, percent */
} tl_adaptive_config_t;

/* Zero in a numeric field means "engine default" (documented per field).
 * New fields are only ever appended (size tells an older caller's struct
 * apart). */
typedef struct tl_config {
    size_t size;              /* sizeof(tl_config_t); set by tl_config_init */
    tl_time_unit_t time_unit; /* unit of tl_append_now and default windows */
    tl_maintenance_t maintenance;
    size_t memtable_max_bytes;      /* seal the memtable past this (default 4 MiB) */
    size_t target_page_bytes;       /* page size for fence keys (default 64 KiB) */
    size_t sealed_max_runs;         /* memruns awaiting flush before EBUSY (default 4) */
    size_t ooo_budget_bytes;        /* out-of-order bytes before an early seal (default 1 MiB) */
    uint32_t sealed_wait_ms;        /* backpressure wait before EBUSY (background only) */
    uint32_t maintenance_wakeup_ms; /* worker wake interval (default 10) */
    size_t drain_batch_limit;       /* handles per tl_drain_retired call (0 = all) */
    size_t max_delta_segments;      /* L0 segments before compaction (default 8) */
    tl_ts_t window_size;            /* L1 window width (default 1 hour in time_unit) */
    tl_ts_t window_origin;          /* L1 window alignment (default 0) */
    double delete_debt_threshold;   /* share of hidden records that triggers compaction
                                  * (0 = default 0.5; 1 = in effect only the drops of
                                  * wholly hidden sources, which always run) */
    size_t compaction_target_bytes; /* max bytes of one L1 output segment (default 64 MiB) */
    size_t compaction_max_inputs;   /* max L0 inputs per policy compaction (0 = all) */
    size_t compaction_max_windows;  /* max L1 windows one policy compaction writes (0 = all):
                                     * oldest data first; an L0 segment wider than this
                                     * is compacted alone; tl_compact ignores it */
    tl_allocator_t alloc;           /* zeroed = libc */
    tl_on_drop_fn on_drop;          /* may be NULL */
    void *on_drop_ctx;
    tl_adaptive_config_t adaptive; /* zeroed = fixed window_size */
} tl_config_t;

/* Fills defaults (all knobs 0 = engine default, ms, background). */
void tl_config_init(tl_config_t *cfg);

/* ---------------------------------------------------------------- lifecycle */

/* Opens an engine. Copies cfg. Returns TL_EINVAL naming no field: use
 * tl_config_check for a message. */
TL_NODISCARD tl_status_t tl_open(const tl_config_t *cfg, tl_log_t **out);

/* Checks a config without opening. On TL_EINVAL, *why (if not NULL) names the
 * offending field with a static string. */
TL_NODISCARD tl_status_t tl_config_check(const tl_config_t *cfg, const char **why);

/* Closes the log: stops the maintenance worker and releases the caller's
 * handle. Memory and handles are released now if no snapshot is pinned;
 * otherwise when the last snapshot is released (on_drop then runs in that
 * thread), and until then calls on log return TL_ESTATE (snapshots keep
 * reading). Once nothing pins it the pointer is gone: do not use it after
 * tl_close unless you hold a snapshot. Accepts NULL; cannot fail. */
void tl_close(tl_log_t *log);

/* ---------------------------------------------------------------- writes */
/* All writes return TL_ESTATE after close, TL_ENOMEM with nothing stored, or
 * TL_EBUSY with the write stored (backpressure). The engine holds the handle
 * until the record is physically dropped or the log torn down. */

TL_NODISCARD tl_status_t tl_append(tl_log_t *log, tl_ts_t ts, tl_handle_t h);

/* Appends with the wall clock (CLOCK_REALTIME) in the log's time unit. */
TL_NODISCARD tl_status_t tl_append_now(tl_log_t *log, tl_handle_t h, tl_ts_t *ts_out);

/* Appends n records atomically: all or none on TL_ENOMEM. Sorted input is
 * detected; unsorted input is sorted here. The arrays are not retained. */
TL_NODISCARD tl_status_t tl_append_batch(tl_log_t *log, const tl_ts_t *ts, const tl_handle_t *h,
                                         size_t n);

/* The same, filled in place: tl_batch_open reserves room for n records in
 * engine memory and returns the two arrays to write (no copy of the caller's
 * data into a staging buffer, and a sorted batch that becomes a memrun is
 * never copied at all). tl_batch_commit stores the first n_used records
 * atomically, exactly as tl_append_batch would, and frees the batch when it
 * returns TL_OK or TL_EBUSY; on any other status nothing is stored and the
 * batch is still the caller's, holding the same records (possibly already
 * sorted): read the handles back if needed, then tl_batch_abandon it. A batch belongs to the writer
 * that opened it: commit or abandon it before tl_close. */
typedef struct tl_batch tl_batch_t;
TL_NODISCARD tl_status_t tl_batch_open(tl_log_t *log, size_t n, tl_batch_t **out, tl_ts_t **ts,
                                       tl_handle_t **h);
TL_NODISCARD tl_status_t tl_batch_commit(tl_log_t *log, tl_batch_t *b, size_t n_used);
void tl_batch_abandon(tl_log_t *log, tl_batch_t *b); /* accepts NULL */

/* Logical deletes (sequenced tombstones): they hide every record written
 * before them, never one written after. */
TL_NODISCARD tl_status_t tl_delete_range(tl_log_t *log, tl_ts_t t1, tl_ts_t t2); /* [t1, t2) */
TL_NODISCARD tl_status_t tl_delete_since(tl_log_t *log, tl_ts_t t1);             /* [t1, MAX] */
TL_NODISCARD tl_status_t tl_delete_before(tl_log_t *log, tl_ts_t t2);            /* [MIN, t2) */
TL_NODISCARD tl_status_t tl_delete_ts(tl_log_t *log, tl_ts_t ts);                /* [ts, ts] */
TL_NODISCARD tl_status_t tl_delete_all(tl_log_t *log);                           /* [MIN, MAX] */

/* ---------------------------------------------------------------- maintenance */

/* Seals the memtable and turns every memrun into an L0 segment. Publishes
 * pending writes to zero-copy views; not durability. */
TL_NODISCARD tl_status_t tl_flush(tl_log_t *log);

/* Full compaction: flushes memruns, merges all L0 segments and every L1
 * segment they overlap or that carries delete debt into windowed L1 segments,
 * dropping deleted records (their handles are retired). */
TL_NODISCARD tl_status_t tl_compact(tl_log_t *log);

/* One unit of policy-driven maintenance (seal, flush one memrun, or a policy
 * compaction). TL_OK if work was done, TL_EOF if there was nothing to do. */
TL_NODISCARD tl_status_t tl_maint_step(tl_log_t *log);

/* Starts / stops the maintenance worker thread (tl_open starts it in
 * TL_MAINT_BACKGROUND mode; tl_close stops it). Stopping waits for the unit
 * of work in progress and loses nothing; while stopped, writes report
 * TL_EBUSY past the bounds like TL_MAINT_DISABLED. TL_ESTATE after close;
 * TL_ENOMEM if the thread cannot be created. */
TL_NODISCARD tl_status_t tl_maint_start(tl_log_t *log);
TL_NODISCARD tl_status_t tl_maint_stop(tl_log_t *log);
/* Whether the worker thread runs. Only meaningful on the writer's thread. */
int tl_maint_running(const tl_log_t *log);

/* Calls on_drop for retired handles that no snapshot can still see, at most
 * limit of them (0 = cfg.drain_batch_limit, itself 0 = all). Safe to re-enter
 * from on_drop. *n_out (may be NULL) receives the count. Works after close
 * (until teardown). */
TL_NODISCARD tl_status_t tl_drain_retired(tl_log_t *log, size_t limit, size_t *n_out);

/* Handles waiting in the retired queue (including ones still pinned). */
size_t tl_retired_len(const tl_log_t *log);

/* ---------------------------------------------------------------- ownership and fork */

/* Calls visit(h, ctx) once for every handle the instance holds a reference
 * to: the live and frozen memtables, memruns, L0 and L1 segments of the
 * current manifest, and the retired queue (handles still pinned by a
 * snapshot are there, never counted twice). Stops at the first non-zero
 * result and returns it; returns 0 once all were visited. Made for a cycle
 * collector (CPython's tp_traverse): it takes the publish lock, then the
 * queue's lock, never maint_mu, so it never waits for a flush or compaction;
 * a handle in transit (popped by a drain before its on_drop runs, or dropped
 * by a publish and not yet queued) is not visited, which can only make the
 * collector see it as referenced from outside. visit must not call into this
 * log. Works on a closed log until its teardown (the caller must know it is
 * not torn down, e.g. by holding a snapshot). */
typedef int (*tl_visit_fn)(tl_handle_t h, void *ctx);
int tl_visit_handles(tl_log_t *log, tl_visit_fn visit, void *ctx);

/* fork() support, per instance (the engine has no process-wide state: the
 * caller calls these for every open log, e.g. from pthread_atfork or
 * Python's os.register_at_fork). prepare takes the instance's locks in their
 * documented order (maint_mu, the publish lock, the retired queue's lock),
 * waiting for a unit of maintenance in progress, so that no thread holds one
 * across the fork; parent releases them. child re-initialises every lock and
 * condition variable and marks the worker stopped (its thread does not exist
 * in the child); if it ran at the fork, a new worker starts at the child's
 * first write that seals (or delete that weighs delete debt), and
 * tl_maint_start/tl_maint_stop decide as usual. Records, snapshots and the
 * retired queue are inherited as they were; pins held by threads of the
 * parent are never released in the child (their memory stays). Call each
 * exactly once per fork, on a log that is open or closed but pinned. Take
 * the locks inside fork() (a pthread_atfork prepare handler): a caller that
 * takes them earlier and then waits for something another thread holds
 * while that thread blocks on these locks (CPython's GIL) deadlocks. */
void tl_fork_prepare(tl_log_t *log);
void tl_fork_parent(tl_log_t *log);
void tl_fork_child(tl_log_t *log);

/* ---------------------------------------------------------------- stats */

typedef struct tl_stats {
    uint64_t records;          /* exact visible records */
    uint64_t physical_records; /* stored, including hidden-not-yet-dropped */
    uint64_t memtable_records; /* in the memtable (in-order + out-of-order) */
    uint64_t memtable_ooo_records;
    uint64_t memruns; /* sealed runs awaiting flush */
    uint64_t memrun_records;
    uint64_t l0_segments, l0_records;
    uint64_t l1_segments, l1_records;
    uint64_t pages;         /* pages across all segments */
    uint64_t tombstones;    /* intervals in the tombstone set */
    tl_ts_t min_ts, max_ts; /* visible bounds; min > max when empty */
    uint64_t seq;           /* last sequence number issued */
    uint64_t engine_bytes;  /* bytes live in the accounted allocator */
    uint64_t peak_bytes;
    uint64_t alloc_calls, alloc_failures;
    uint64_t seals, flushes, compactions, busy_events;
    uint64_t retired_len;         /* handles waiting to be released */
    uint64_t dropped_handles;     /* handles released so far */
    uint64_t snapshots;           /* snapshots currently pinned */
    uint64_t covered_drops;       /* sources dropped whole because deletes hid them all */
    tl_ts_t window_width;         /* width new L1 windows get now */
    double adaptive_density;      /* EWMA records per tick (0 = no estimate yet) */
    uint64_t adaptive_samples;    /* density samples in the estimate */
    uint64_t adaptive_resizes;    /* times the width changed */
    uint64_t adaptive_failures;   /* compactions failed in a row */
    uint64_t compactions_bounded; /* policy compactions compaction_max_windows cut short */
} tl_stats_t;

TL_NODISCARD tl_status_t tl_stats(tl_log_t *log, tl_stats_t *out);

/* Checks every invariant: sort order and fence keys of every source, L1
 * non-overlap and windows, tombstone set shape, reference counts, and the
 * allocator's totals. On failure returns TL_EINTERNAL and *why names it. */
TL_NODISCARD tl_status_t tl_validate(tl_log_t *log, const char **why);

/* ---------------------------------------------------------------- point reads */

/* The visible handles at exactly ts, read on a short internal pin (no
 * allocation unless more than 32 memtable parts, memruns and L0 segments
 * pile up, then TL_ENOMEM is possible): copies the first cap into out (in the
 * order an iterator over ts would yield them) and sets *n_total to how many
 * there are; call again with a larger buffer when *n_total > cap.
 * TL_ESTATE after close. */
TL_NODISCARD tl_status_t tl_point(tl_log_t *log, tl_ts_t ts, tl_handle_t *out, size_t cap,
                                  size_t *n_total);

/* ---------------------------------------------------------------- snapshots */

/* Pins the current state: immutable sources, a view of the memtable, the
 * tombstones and the sequence. Returns TL_ESTATE after close. */
TL_NODISCARD tl_status_t tl_snapshot_acquire(tl_log_t *log, tl_snapshot_t **out);
void tl_snapshot_retain(tl_snapshot_t *snap);  /* one more pin, released the same way */
void tl_snapshot_release(tl_snapshot_t *snap); /* accepts NULL */

/* True when a snapshot taken now would pin exactly what snap pins: no write,
 * delete or publish (seal, flush, compaction) happened since it was taken.
 * A reader that keeps a snapshot may then read it again instead of pinning
 * anew. Lock-free: two atomic loads. False after close or for another log's
 * snapshot. */
int tl_snapshot_current(tl_log_t *log, const tl_snapshot_t *snap); /* 1 or 0 */

/* tl_point on an already pinned snapshot (no pin of its own). */
TL_NODISCARD tl_status_t tl_point_in(tl_snapshot_t *snap, tl_ts_t ts, tl_handle_t *out, size_t cap,
                                     size_t *n_total);
tl_seq_t tl_snapshot_seq(const tl_snapshot_t *snap);
uint32_t tl_snapshot_pins(const tl_snapshot_t *snap); /* live pins on it (diagnostics) */

/* Exact visible counts, tombstone-aware, by binary search per source. */
TL_NODISCARD tl_status_t tl_count_range(tl_snapshot_t *snap, tl_ts_t t1, tl_ts_t t2, uint64_t *out);
TL_NODISCARD tl_status_t tl_count_since(tl_snapshot_t *snap, tl_ts_t t1, uint64_t *out);
TL_NODISCARD tl_status_t tl_count_all(tl_snapshot_t *snap, uint64_t *out);

/* Per-bucket visible counts: out[i] counts [edges[i], edges[i+1]) for
 * i < n_edges - 1 (the last bucket ends at edges[n-1] exclusive). edges must
 * be non-decreasing (TL_EINVAL otherwise); n_edges < 2 writes nothing. Each
 * bucket costs binary searches per source, not a scan of its records. */
TL_NODISCARD tl_status_t tl_count_buckets(tl_snapshot_t *snap, const tl_ts_t *edges, size_t n_edges,
                                          uint64_t *out);

/* Visible timestamp neighbours. TL_EOF (and *out untouched) when none. */
TL_NODISCARD tl_status_t tl_min_ts(tl_snapshot_t *snap, tl_ts_t *out);
TL_NODISCARD tl_status_t tl_max_ts(tl_snapshot_t *snap, tl_ts_t *out);
TL_NODISCARD tl_status_t tl_next_ts(tl_snapshot_t *snap, tl_ts_t ts,
                                    tl_ts_t *out); /* smallest > ts */
TL_NODISCARD tl_status_t tl_prev_ts(tl_snapshot_t *snap, tl_ts_t ts,
                                    tl_ts_t *out); /* largest < ts */

/* ---------------------------------------------------------------- iterators */

/* An iterator holds its own pin on the snapshot: the caller may release the
 * snapshot right after opening it. Records come in non-decreasing timestamp
 * order, tombstone-filtered. */
TL_NODISCARD tl_status_t tl_iter_range(tl_snapshot_t *snap, tl_ts_t t1, tl_ts_t t2,
                                       tl_iter_t **out);
TL_NODISCARD tl_status_t tl_iter_since(tl_snapshot_t *snap, tl_ts_t t1, tl_iter_t **out);
TL_NODISCARD tl_status_t tl_iter_until(tl_snapshot_t *snap, tl_ts_t t2, tl_iter_t **out);
TL_NODISCARD tl_status_t tl_iter_all(tl_snapshot_t *snap, tl_iter_t **out);
TL_NODISCARD tl_status_t tl_iter_point(tl_snapshot_t *snap, tl_ts_t ts, tl_iter_t **out);

/* TL_OK with one record, or TL_EOF when exhausted. */
TL_NODISCARD tl_status_t tl_iter_next(tl_iter_t *it, tl_ts_t *ts, tl_handle_t *h);

/* Fills up to cap records into the caller's arrays (h may be NULL to skip
 * handles). *n_out < cap only when the iterator is exhausted. */
TL_NODISCARD tl_status_t tl_iter_next_batch(tl_iter_t *it, tl_ts_t *ts, tl_handle_t *h, size_t cap,
                                            size_t *n_out);

/* Records not yet returned (exact, tombstone-aware). */
TL_NODISCARD tl_status_t tl_iter_remaining(tl_iter_t *it, uint64_t *out);

/* Another pin on the snapshot the iterator reads (for zero-copy views of the
 * same state); release it with tl_snapshot_release. Cannot fail. */
TL_NODISCARD tl_status_t tl_iter_snapshot(tl_iter_t *it, tl_snapshot_t **out);

void tl_iter_close(tl_iter_t *it); /* accepts NULL */

/* ---------------------------------------------------------------- zero-copy spans */

/* A span is a run of records inside one immutable source (memrun or
 * segment), clipped to the query range, with the records hidden by
 * tombstones cut out. Pointers stay valid while the snapshot is pinned; the
 * span iterator holds its own pin. The memtable is never exposed: flush first. */
typedef struct tl_span {
    const tl_ts_t *ts;    /* sorted, n entries; never written by anyone */
    const tl_handle_t *h; /* n entries */
    size_t n;
    int level; /* 0 = memrun, 1 = L0, 2 = L1 */
} tl_span_t;

TL_NODISCARD tl_status_t tl_spans_range(tl_snapshot_t *snap, tl_ts_t t1, tl_ts_t t2,
                                        tl_span_iter_t **out);
TL_NODISCARD tl_status_t tl_spans_since(tl_snapshot_t *snap, tl_ts_t t1, tl_span_iter_t **out);
TL_NODISCARD tl_status_t tl_spans_all(tl_snapshot_t *snap, tl_span_iter_t **out);
/* TL_OK with a span, or TL_EOF. */
TL_NODISCARD tl_status_t tl_spans_next(tl_span_iter_t *it, tl_span_t *out);
void tl_spans_close(tl_span_iter_t *it); /* accepts NULL */

#ifdef __cplusplus
}
#endif
#endif /* TIMELOG_H */
